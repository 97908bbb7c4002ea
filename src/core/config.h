/*
 * cmhook's settings: one table row per .env key (config.c), parsed from a
 * dotenv file and the process environment (the environment wins), validated,
 * and stored in struct cmh_config. Loading is split in two so that the parse
 * and validation are pure and unit-testable:
 *
 *   cmh_config_from_lookup()  builds a config from a key->value lookup function
 *   cmh_config_load()         the I/O around it: reads ./.env or --env FILE,
 *                             the environment, CLIENT_SECRET_FILE
 *
 * Secrets (CLIENT_SECRET) are kept in struct cmh_secret and never appear in
 * errors or dumps. Thread-safety: a loaded config is read-only and may be
 * shared by all threads.
 */
#ifndef CMH_CONFIG_H
#define CMH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "secret.h"

enum cmh_teams_format {
	CMH_TEAMS_AUTO = 0,
	CMH_TEAMS_MESSAGECARD,
	CMH_TEAMS_ADAPTIVECARD,
};

/* Bit set of event kinds for NOTIFY_EVENTS. */
enum cmh_kind_bits {
	CMH_KIND_BIT_STARTED = 1 << 0,       /* pipeline execution started */
	CMH_KIND_BIT_ENDED = 1 << 1,         /* pipeline execution ended */
	CMH_KIND_BIT_STEP_STARTED = 1 << 2,
	CMH_KIND_BIT_WAITING = 1 << 3,       /* step waiting */
	CMH_KIND_BIT_STEP_ENDED = 1 << 4,
	CMH_KIND_BIT_ALL = 0x1f,
};

struct cmh_config {
	/* Credentials and identity. Strings are heap-owned, never NULL once loaded
	 * ("" when unset and optional). */
	char *client_id;
	struct cmh_secret client_secret;
	char *grant_type;
	char *scopes;
	char *organization_id;     /* "" when unset: required only for API calls */
	char *api_key;             /* defaults to client_id */

	/* Receiver */
	char *listen_address;
	uint16_t port;
	char *webhook_path;

	/* Channels (URLs are secrets: never log them) */
	char *slack_webhook;
	char *teams_webhook;
	enum cmh_teams_format teams_format;
	char *notify_webhook;
	unsigned notify_events;    /* enum cmh_kind_bits */

	/* Upstreams: base URLs without a trailing slash */
	char *ims_url;
	char *cloudmanager_api_url;
	char *events_key_url;
	bool signature_verify;

	/* Local state and limits */
	char *data_dir;
	enum cmh_log_level log_level;
	uint64_t max_body;
	uint64_t retry_initial_ms;
	uint64_t retry_max_delay_ms;
	uint64_t retry_max_age_ms;
	uint64_t http_timeout_ms;    /* HTTP_TIMEOUT: total time of one upstream request */
	uint64_t settle_delay_ms;    /* SETTLE_DELAY: re-read of an ended-but-running execution */
	bool pace_channels;          /* PACE_CHANNELS: keep to the services' published rates */
	uint64_t journal_retention_ms; /* JOURNAL_RETENTION: finished events kept this long */

	/* Where values came from, for messages: the dotenv path or NULL. */
	char *env_file;
};

/* Which settings a command needs; cmh_config_require() checks them. */
enum cmh_config_need {
	CMH_NEED_TOKEN = 1 << 0,   /* CLIENT_ID, CLIENT_SECRET, SCOPES */
	CMH_NEED_API = 1 << 1,     /* ... plus ORGANIZATION_ID */
};

/* Return the value for key, or NULL when it is not set. */
typedef const char *(*cmh_config_lookup_fn)(const char *key, void *ud);

/*
 * Build *cfg from lookup (pure: no file or environment access, except that a
 * CLIENT_SECRET_FILE value is read through cmh_secret_load_file()). On error
 * returns CMH_ERR_CONFIG with one line in errmsg naming the key, e.g.
 * "PORT: expected a port number 1-65535, got \"abc\"" — never a secret value.
 * `where` names where values were looked for, for messages ("./.env and the
 * environment"). On error *cfg is released.
 */
CMH_MUST_CHECK enum cmh_err cmh_config_from_lookup(struct cmh_config *cfg,
	cmh_config_lookup_fn lookup, void *ud, const char *where, struct cmh_buf *errmsg);

/*
 * Load from env_file (NULL: ./.env if it exists) and the environment.
 * A named env_file that is missing is an error. data_dir_override (NULL: none)
 * replaces DATA_DIR (the --data-dir option). Logs a warning when the dotenv
 * file holds a secret and is readable by group or others.
 */
CMH_MUST_CHECK enum cmh_err cmh_config_load(struct cmh_config *cfg, const char *env_file,
	const char *data_dir_override, struct cmh_buf *errmsg);

/*
 * Check that the settings `need` (enum cmh_config_need bits) requires are
 * present; errmsg says which key is missing and where it was looked for.
 */
CMH_MUST_CHECK enum cmh_err cmh_config_require(const struct cmh_config *cfg, unsigned need,
	struct cmh_buf *errmsg);

/* Free everything; wipes the secret. Safe on a zeroed or released struct. */
void cmh_config_release(struct cmh_config *cfg);

/*
 * The effective settings, one call per key in table order, for `cmhook
 * config`: secrets and channel URLs appear as "<redacted>" when set.
 */
typedef void (*cmh_config_dump_fn)(const char *key, const char *value, void *ud);
void cmh_config_dump(const struct cmh_config *cfg, cmh_config_dump_fn fn, void *ud);

/* One row per key of the table, for `--help`, docs and the README check. */
struct cmh_config_key_doc {
	const char *key;
	const char *default_text;   /* as shown to users, "" for none */
	bool default_is_value;      /* default_text is a value (code), not prose */
	const char *meaning;
};
const struct cmh_config_key_doc *cmh_config_docs(size_t *ret_count);

#endif
