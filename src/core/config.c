/*
 * cmhook's settings. One table (`settings[]`) lists every .env key with its
 * type, bounds, default, requirement and meaning; parsing, defaults,
 * validation, the missing-setting check and cmh_config_docs() are all driven
 * by it. The dotenv syntax belongs to dotenv.c and secret handling to
 * secret.c; this module owns which keys exist, what they may hold and where
 * their values come from (the environment wins over the dotenv file).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dotenv.h"
#include "bounds.h"
#include "parse.h"
#include "url.h"

enum type {
	T_STRING,      /* text without control characters */
	T_URL_PATH,    /* an absolute path: "/webhook" */
	T_URL,         /* absolute http(s) URL, kept exactly (channel webhooks) */
	T_BASE_URL,    /* absolute http(s) URL without query; trailing slashes removed */
	T_PORT,
	T_DURATION,    /* milliseconds, within [min, max] */
	T_SIZE,        /* bytes, within [min, max] */
	T_BOOL,
	T_TEAMS_FORMAT,
	T_LOG_LEVEL,
	T_KINDS,       /* NOTIFY_EVENTS */
	T_SECRET,      /* CLIENT_SECRET */
	T_SECRET_FILE, /* CLIENT_SECRET_FILE: loads the same struct cmh_secret */
};

/* The value is never shown in messages (secrets and channel URLs, DESIGN invariant 3). */
#define F_SECRET 1u

struct setting {
	const char *key;
	const char *alias;        /* read when key is unset or empty */
	enum type type;
	size_t offset;            /* of the field in struct cmh_config */
	const char *def;          /* default value, NULL for none */
	const char *def_key;      /* default: the value of this (earlier) key */
	uint64_t min, max;        /* bounds for T_DURATION and T_SIZE */
	unsigned need;            /* enum cmh_config_need bits that require it */
	unsigned flags;
	const char *doc_default;  /* docs' default text when it is not def */
	const char *meaning;
};

#define OFF(field) offsetof(struct cmh_config, field)
#define DAY_MS (24ULL * 3600 * 1000)

/* The meanings are INTERFACE.md's table, verbatim. Order matters where a row
 * refers to an earlier one (def_key, CLIENT_SECRET before CLIENT_SECRET_FILE). */
static const struct setting settings[] = {
	{ "CLIENT_ID", "API_KEY", T_STRING, OFF(client_id), NULL, NULL, 0, 0, CMH_NEED_TOKEN, 0,
	  "required (`API_KEY` stands in when absent: the tutorial's template names the client id so)",
	  "OAuth Server-to-Server client id; also the `x-api-key` default and the expected "
	  "recipient client id of incoming events" },
	{ "CLIENT_SECRET", NULL, T_SECRET, OFF(client_secret), NULL, NULL, 0, 0, CMH_NEED_TOKEN,
	  F_SECRET, "required unless `CLIENT_SECRET_FILE`", "client secret" },
	{ "CLIENT_SECRET_FILE", NULL, T_SECRET_FILE, OFF(client_secret), NULL, NULL, 0, 0, 0, 0,
	  NULL, "file holding the client secret (systemd credentials, secret mounts)" },
	{ "GRANT_TYPE", NULL, T_STRING, OFF(grant_type), "client_credentials", NULL, 0, 0, 0, 0,
	  NULL, "the only supported grant" },
	{ "SCOPES", "SCOPE", T_STRING, OFF(scopes), NULL, NULL, 0, 0, CMH_NEED_TOKEN, 0,
	  "required", "comma-separated scopes, as shown in the Developer Console; `SCOPE` is "
	  "accepted as an alias (the tutorial's template spells it so)" },
	{ "ORGANIZATION_ID", NULL, T_STRING, OFF(organization_id), NULL, NULL, 0, 0, CMH_NEED_API,
	  0, "required for API calls", "IMS org id, sent as `x-gw-ims-org-id`" },
	{ "API_KEY", NULL, T_STRING, OFF(api_key), NULL, "CLIENT_ID", 0, 0, 0, 0,
	  "CLIENT_ID", "sent as `x-api-key` (the tutorial's template names it)" },
	{ "PORT", NULL, T_PORT, OFF(port), "4000", NULL, 0, 65535, 0, 0,
	  NULL, "webhook listen port" },
	{ "LISTEN_ADDRESS", NULL, T_STRING, OFF(listen_address), "0.0.0.0", NULL, 0, 0, 0, 0,
	  NULL, "webhook listen address" },
	{ "WEBHOOK_PATH", NULL, T_URL_PATH, OFF(webhook_path), "/webhook", NULL, 0, 0, 0, 0,
	  NULL, "path serving both the challenge GET and event POSTs" },
	{ "SLACK_WEBHOOK", NULL, T_URL, OFF(slack_webhook), NULL, NULL, 0, 0, 0, F_SECRET,
	  NULL, "Slack incoming-webhook URL" },
	{ "TEAMS_WEBHOOK", NULL, T_URL, OFF(teams_webhook), NULL, NULL, 0, 0, 0, F_SECRET,
	  NULL, "Microsoft Teams webhook URL: legacy connector or Workflows" },
	{ "TEAMS_FORMAT", NULL, T_TEAMS_FORMAT, OFF(teams_format), "auto", NULL, 0, 0, 0, 0,
	  NULL, "`auto`, `messagecard` (legacy connector) or `adaptivecard` (Workflows)" },
	{ "NOTIFY_WEBHOOK", NULL, T_URL, OFF(notify_webhook), NULL, NULL, 0, 0, 0, F_SECRET,
	  NULL, "generic JSON webhook URL (payload: the documented message object)" },
	{ "NOTIFY_EVENTS", NULL, T_KINDS, OFF(notify_events), "started,waiting,ended", NULL, 0, 0,
	  0, 0, NULL, "which kinds notify: `started`, `ended` (pipeline execution), "
	  "`step-started`, `waiting`, `step-ended`, or `all`" },
	{ "IMS_URL", NULL, T_BASE_URL, OFF(ims_url), "https://ims-na1.adobelogin.com", NULL, 0, 0,
	  0, 0, NULL, "IMS base; the token endpoint is `IMS_URL` + `/ims/token/v3`" },
	{ "CLOUDMANAGER_API_URL", NULL, T_BASE_URL, OFF(cloudmanager_api_url),
	  "https://cloudmanager.adobe.io", NULL, 0, 0, 0, 0,
	  NULL, "API base; the only origin that ever receives the access token" },
	{ "EVENTS_KEY_URL", NULL, T_BASE_URL, OFF(events_key_url),
	  "https://static.adobeioevents.com", NULL, 0, 0, 0, 0,
	  NULL, "the only origin public signing keys are fetched from" },
	{ "SIGNATURE_VERIFY", NULL, T_BOOL, OFF(signature_verify), "on", NULL, 0, 0, 0, 0,
	  NULL, "`off` is for local experiments only and is warned about at start-up" },
	{ "DATA_DIR", NULL, T_STRING, OFF(data_dir), "./data", NULL, 0, 0, 0, 0,
	  NULL, "journal database and token cache (created `0700`)" },
	{ "LOG_LEVEL", NULL, T_LOG_LEVEL, OFF(log_level), "info", NULL, 0, 0, 0, 0,
	  NULL, "`error`, `warn`, `info`, `debug`" },
	{ "MAX_BODY", NULL, T_SIZE, OFF(max_body), "4m", NULL, 1, CMH_MAX_BODY_SETTING, 0, 0,
	  NULL, "largest accepted webhook body (Adobe batches are up to 2 MB)" },
	{ "RETRY_INITIAL", NULL, T_DURATION, OFF(retry_initial_ms), "10s", NULL, 1, DAY_MS, 0, 0,
	  NULL, "first delay before retrying a failed delivery or enrichment" },
	{ "RETRY_MAX_DELAY", NULL, T_DURATION, OFF(retry_max_delay_ms), "15m", NULL, 1, DAY_MS,
	  0, 0, NULL, "cap on the retry delay" },
	{ "RETRY_MAX_AGE", NULL, T_DURATION, OFF(retry_max_age_ms), "24h", NULL, 1, 365 * DAY_MS,
	  0, 0, NULL, "after this an event is given up and marked `failed`" },
	{ "HTTP_TIMEOUT", NULL, T_DURATION, OFF(http_timeout_ms), "15s", NULL, 1, 3600 * 1000, 0,
	  0, NULL, "total time allowed for one upstream HTTP request" },
	{ "SETTLE_DELAY", NULL, T_DURATION, OFF(settle_delay_ms), "15s", NULL, 1, 3600 * 1000, 0,
	  0, NULL, "when an ended event finds the execution still running in the API, read it "
	  "again after this delay (up to 3 times) before reporting what the API says" },
	{ "PACE_CHANNELS", NULL, T_BOOL, OFF(pace_channels), "on", NULL, 0, 0, 0, 0,
	  NULL, "keep each channel to its service's published rate (Slack 1/s with bursts of 5, "
	  "Teams 4/s, legacy Teams connectors also 100/h); `off` for receivers of your own" },
	{ "JOURNAL_RETENTION", NULL, T_DURATION, OFF(journal_retention_ms), "30d", NULL, 3600 * 1000,
	  3650 * DAY_MS, 0, 0, NULL, "finished events (`done`, `failed`, `ignored`) older than this "
	  "are deleted from the journal, hourly; pending ones are always kept" },
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

/* Where values come from: a lookup plus, for messages, which source a key came from. */
struct source {
	cmh_config_lookup_fn lookup;
	void *ud;
	const char *(*origin)(const char *key, void *ud);   /* NULL: use `where` */
	const char *where;
	struct cmh_buf *errmsg;
};

/* ---- messages ---------------------------------------------------------- */

static const char *origin_of(const struct source *src, const char *key)
{
	return src->origin ? src->origin(key, src->ud) : src->where;
}

/* One line "KEY: what (from SOURCE)"; always CMH_ERR_CONFIG. */
__attribute__((format(printf, 3, 4)))
static enum cmh_err fail(const struct source *src, const char *key, const char *fmt, ...)
{
	char what[CMH_BUF_MAX_ERRMSG];
	const char *from = origin_of(src, key);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (from && from[0])
		cmh_errf(src->errmsg, "%s: %s (from %s)", key, what, from);
	else
		cmh_errf(src->errmsg, "%s: %s", key, what);
	return CMH_ERR_CONFIG;
}

/* v[0..n) in double quotes, escaped and cut by cmh_qn() (which quotes only when needed). */
static const char *show(char *out, size_t size, const char *v, size_t n)
{
	const char *q = cmh_qn(v, n);

	if (q[0] == '"')
		return q;
	snprintf(out, size, "\"%s\"", q);
	return out;
}

/* "expected ..., got \"value\""; secrets are not shown at all. */
static enum cmh_err fail_value(const struct source *src, const struct setting *st,
			       const char *key, const char *value, const char *expected)
{
	char tmp[256];

	if (st->flags & F_SECRET)
		return fail(src, key, "expected %s (the value is secret and not shown)", expected);
	return fail(src, key, "expected %s, got %s", expected,
		    show(tmp, sizeof(tmp), value, strlen(value)));
}

/* ---- field access -------------------------------------------------------- */

#define FIELD(cfg, st, type) ((type *)(void *)((char *)(cfg) + (st)->offset))
#define CFIELD(cfg, st, type) ((const type *)(const void *)((const char *)(cfg) + (st)->offset))

static bool is_string_type(enum type t)
{
	return t == T_STRING || t == T_URL_PATH || t == T_URL || t == T_BASE_URL;
}

static enum cmh_err set_string(struct cmh_config *cfg, const struct setting *st, const char *v)
{
	char **field = FIELD(cfg, st, char *);
	char *copy = strdup(v);

	if (!copy)
		return CMH_ERR_NOMEM;
	free(*field);
	*field = copy;
	return CMH_OK;
}

static bool has_control(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* ---- one parser per type ----------------------------------------------- */

/* Values go into HTTP headers and file names: a control character is a mistake or an attack. */
static enum cmh_err parse_string(struct cmh_config *cfg, const struct setting *st,
				 const char *key, const char *v, const struct source *src)
{
	if (has_control(v))
		return fail_value(src, st, key, v, "text without control characters");
	if (st->type == T_URL_PATH && v[0] != '/')
		return fail_value(src, st, key, v, "a path starting with /");
	return set_string(cfg, st, v);
}

static enum cmh_err parse_url(struct cmh_config *cfg, const struct setting *st,
			      const char *key, const char *v, const struct source *src)
{
	struct cmh_buf origin, copy;
	enum cmh_err err;
	size_t n = strlen(v);

	cmh_buf_init(&origin, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&copy, n);
	err = cmh_url_origin(v, &origin);
	if (err == CMH_ERR_NOMEM)
		goto out;
	if (err || has_control(v)) {
		err = fail_value(src, st, key, v, "an absolute http:// or https:// URL");
		goto out;
	}
	if (st->type == T_BASE_URL) {
		if (strchr(v, '?')) {
			err = fail_value(src, st, key, v, "a base URL without a query");
			goto out;
		}
		/* Paths are appended to base URLs: "https://h/" + "/api" must not give "//api". */
		while (n > 1 && v[n - 1] == '/')
			n--;
	}
	err = cmh_buf_add(&copy, v, n);
	if (!err)
		err = set_string(cfg, st, copy.data);
out:
	cmh_buf_release(&origin);
	cmh_buf_wipe(&copy);
	return err;
}

static enum cmh_err parse_port(struct cmh_config *cfg, const struct setting *st,
			       const char *key, const char *v, const struct source *src)
{
	uint64_t n;

	if (cmh_parse_u64(v, &n) || n < st->min || n > st->max)
		return fail_value(src, st, key, v, "a port number 0-65535 (0: any free port)");
	*FIELD(cfg, st, uint16_t) = (uint16_t)n;
	return CMH_OK;
}

/* A bound in its largest exact unit ("24h", "64m"), for messages. */
static void format_bound(uint64_t v, bool is_time, char out[32])
{
	static const struct { uint64_t factor; const char *unit; } time_units[] = {
		{ DAY_MS, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" },
	}, size_units[] = {
		{ 1ULL << 30, "g" }, { 1ULL << 20, "m" }, { 1ULL << 10, "k" }, { 1, "" },
	};
	const __typeof__(time_units[0]) *u = is_time ? time_units : size_units;

	while (v % u->factor)
		u++;
	snprintf(out, 32, "%llu%s", (unsigned long long)(v / u->factor), u->unit);
}

static enum cmh_err parse_amount(struct cmh_config *cfg, const struct setting *st,
				 const char *key, const char *v, const struct source *src)
{
	bool is_time = st->type == T_DURATION;
	char hi[32], expected[128];
	uint64_t n;
	enum cmh_err err;

	err = is_time ? cmh_parse_duration_ms(v, &n) : cmh_parse_size(v, &n);
	if (!err && n >= st->min && n <= st->max) {
		*FIELD(cfg, st, uint64_t) = n;
		return CMH_OK;
	}
	format_bound(st->max, is_time, hi);
	snprintf(expected, sizeof(expected), is_time ?
		 "a duration such as 500ms, 30s, 15m or 24h, above 0 and at most %s" :
		 "a size such as 512k or 4m, above 0 and at most %s", hi);
	return fail_value(src, st, key, v, expected);
}

static enum cmh_err parse_bool(struct cmh_config *cfg, const struct setting *st,
			       const char *key, const char *v, const struct source *src)
{
	if (cmh_parse_bool(v, FIELD(cfg, st, bool)))
		return fail_value(src, st, key, v, "on or off");
	return CMH_OK;
}

static enum cmh_err parse_teams_format(struct cmh_config *cfg, const struct setting *st,
				       const char *key, const char *v, const struct source *src)
{
	static const char *const names[] = { "auto", "messagecard", "adaptivecard" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(v, names[i]) == 0) {
			*FIELD(cfg, st, enum cmh_teams_format) = (enum cmh_teams_format)i;
			return CMH_OK;
		}
	}
	return fail_value(src, st, key, v, "auto, messagecard or adaptivecard");
}

static enum cmh_err parse_log_level(struct cmh_config *cfg, const struct setting *st,
				    const char *key, const char *v, const struct source *src)
{
	if (cmh_log_parse_level(v, FIELD(cfg, st, enum cmh_log_level)))
		return fail_value(src, st, key, v, "error, warn, info or debug");
	return CMH_OK;
}

static const struct {
	const char *name;
	unsigned bit;
} kind_names[] = {
	{ "started", CMH_KIND_BIT_STARTED },
	{ "ended", CMH_KIND_BIT_ENDED },
	{ "step-started", CMH_KIND_BIT_STEP_STARTED },
	{ "waiting", CMH_KIND_BIT_WAITING },
	{ "step-ended", CMH_KIND_BIT_STEP_ENDED },
	{ "all", CMH_KIND_BIT_ALL },
};

static unsigned kind_bit(const char *word, size_t n)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strlen(kind_names[i].name) == n && strncasecmp(word, kind_names[i].name, n) == 0)
			return kind_names[i].bit;
	return 0;
}

/* "started, waiting,ended": blanks around words allowed, empty words are not. */
static enum cmh_err parse_kinds(struct cmh_config *cfg, const struct setting *st,
				const char *key, const char *v, const struct source *src)
{
	static const char expected[] = "started, ended, step-started, waiting, step-ended or all";
	unsigned bits = 0;
	const char *p = v;
	char tmp[256];

	for (;;) {
		const char *word, *end;
		size_t n;
		unsigned bit;

		while (*p == ' ' || *p == '\t')
			p++;
		word = p;
		end = strchr(p, ',');
		p = end ? end + 1 : word + strlen(word);
		if (!end)
			end = p;
		while (end > word && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		n = (size_t)(end - word);
		bit = kind_bit(word, n);
		if (n == 0)
			return fail(src, key, "empty item in the list %s (expected %s)",
				    show(tmp, sizeof(tmp), v, strlen(v)), expected);
		if (!bit)
			return fail(src, key, "unknown event kind %s (expected %s)",
				    show(tmp, sizeof(tmp), word, n), expected);
		bits |= bit;
		if (!*p && p[-1] != ',')
			break;
	}
	*FIELD(cfg, st, unsigned) = bits;
	return CMH_OK;
}

static enum cmh_err parse_secret(struct cmh_config *cfg, const struct setting *st,
				 const char *key, const char *v, const struct source *src)
{
	return cmh_secret_set(FIELD(cfg, st, struct cmh_secret), v, strlen(v));
}

/* CLIENT_SECRET_FILE, after CLIENT_SECRET: setting both is ambiguous, so an error. */
static enum cmh_err parse_secret_file(struct cmh_config *cfg, const struct setting *st,
				      const char *key, const char *v, const struct source *src)
{
	struct cmh_secret *secret = FIELD(cfg, st, struct cmh_secret);
	struct cmh_buf why;
	enum cmh_err err;

	if (cmh_secret_is_set(secret))
		return fail(src, key, "CLIENT_SECRET and CLIENT_SECRET_FILE are both set; "
			    "keep only one of them");
	cmh_buf_init(&why, CMH_BUF_MAX_ERRMSG);
	err = cmh_secret_load_file(secret, v, &why);
	if (err && err != CMH_ERR_NOMEM)
		err = fail(src, key, "%s", why.data);
	cmh_buf_release(&why);
	return err;
}

typedef enum cmh_err (*parse_fn)(struct cmh_config *cfg, const struct setting *st,
				 const char *key, const char *v, const struct source *src);

static const parse_fn parsers[] = {
	[T_STRING] = parse_string,
	[T_URL_PATH] = parse_string,
	[T_URL] = parse_url,
	[T_BASE_URL] = parse_url,
	[T_PORT] = parse_port,
	[T_DURATION] = parse_amount,
	[T_SIZE] = parse_amount,
	[T_BOOL] = parse_bool,
	[T_TEAMS_FORMAT] = parse_teams_format,
	[T_LOG_LEVEL] = parse_log_level,
	[T_KINDS] = parse_kinds,
	[T_SECRET] = parse_secret,
	[T_SECRET_FILE] = parse_secret_file,
};

/* ---- building a config --------------------------------------------------- */

static const struct setting *find_setting(const char *key)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strcmp(settings[i].key, key) == 0)
			return &settings[i];
	return NULL;
}

/* The value for st, from its key or its alias; empty counts as unset. */
static const char *resolve(const struct setting *st, const struct source *src,
			   const char **ret_key)
{
	const char *v = src->lookup(st->key, src->ud);

	*ret_key = st->key;
	if ((!v || !v[0]) && st->alias) {
		const char *a = src->lookup(st->alias, src->ud);
		if (a && a[0]) {
			*ret_key = st->alias;
			v = a;
		}
	}
	return v && v[0] ? v : NULL;
}

static enum cmh_err apply_setting(struct cmh_config *cfg, const struct setting *st,
				  const struct source *src)
{
	const char *key, *v = resolve(st, src, &key);

	if (!v && st->def_key)
		v = *FIELD(cfg, find_setting(st->def_key), char *);
	if (!v)
		v = st->def;
	if (v)
		return parsers[st->type](cfg, st, key, v, src);
	/* Unset without a default: strings become "", the secret stays unset. */
	if (is_string_type(st->type))
		return set_string(cfg, st, "");
	return CMH_OK;
}

/* Rules that involve a fixed value or more than one key. */
static enum cmh_err check_consistency(const struct cmh_config *cfg, const struct source *src)
{
	if (strcmp(cfg->grant_type, "client_credentials") != 0)
		return fail_value(src, find_setting("GRANT_TYPE"), "GRANT_TYPE", cfg->grant_type,
				  "client_credentials, the only supported grant "
				  "(OAuth Server-to-Server credentials)");
	if (cfg->retry_max_delay_ms < cfg->retry_initial_ms)
		return fail(src, "RETRY_MAX_DELAY", "must not be shorter than RETRY_INITIAL");
	return CMH_OK;
}

static enum cmh_err build(struct cmh_config *cfg, const struct source *src)
{
	enum cmh_err err = CMH_OK;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_SETTINGS && !err; i++)
		err = apply_setting(cfg, &settings[i], src);
	if (!err)
		err = check_consistency(cfg, src);
	if (err == CMH_ERR_NOMEM)
		cmh_errf(src->errmsg, "out of memory while loading the configuration");
	if (err)
		cmh_config_release(cfg);
	return err;
}

enum cmh_err cmh_config_from_lookup(struct cmh_config *cfg, cmh_config_lookup_fn lookup,
				    void *ud, const char *where, struct cmh_buf *errmsg)
{
	struct source src = { lookup, ud, NULL, where, errmsg };

	return build(cfg, &src);
}

void cmh_config_release(struct cmh_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *st = &settings[i];
		if (is_string_type(st->type)) {
			char **field = FIELD(cfg, st, char *);
			/* Channel URLs carry their credential in the path. */
			if (*field && (st->flags & F_SECRET))
				explicit_bzero(*field, strlen(*field));
			free(*field);
			*field = NULL;
		}
	}
	cmh_secret_clear(&cfg->client_secret);
	free(cfg->env_file);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- the dotenv file and the environment ------------------------------- */

struct dotenv_entry {
	char *key;
	char *value;
};

struct dotenv_table {
	struct dotenv_entry *v;
	size_t n, cap;
	const char *path;
};

static void table_release(struct dotenv_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		explicit_bzero(t->v[i].value, strlen(t->v[i].value));
		free(t->v[i].value);
		free(t->v[i].key);
	}
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

static struct dotenv_entry *table_find(const struct dotenv_table *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].key, key) == 0)
			return &t->v[i];
	return NULL;
}

/* dotenv callback: a later duplicate replaces the earlier value (last wins). */
static int table_put(const char *key, const char *value, unsigned line, void *ud)
{
	struct dotenv_table *t = ud;
	struct dotenv_entry *e = table_find(t, key);
	char *copy = strdup(value);

	if (!copy)
		return -1;
	if (e) {
		explicit_bzero(e->value, strlen(e->value));
		free(e->value);
		e->value = copy;
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		struct dotenv_entry *v = reallocarray(t->v, cap, sizeof(*v));
		if (!v)
			goto nomem;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n].key = strdup(key);
	if (!t->v[t->n].key)
		goto nomem;
	t->v[t->n++].value = copy;
	return 0;
nomem:
	explicit_bzero(copy, strlen(copy));
	free(copy);
	return -1;
}

static const char *env_lookup(const char *key, void *ud)
{
	const struct dotenv_table *t = ud;
	const char *v = getenv(key);
	const struct dotenv_entry *e;

	if (v)
		return v;
	e = table_find(t, key);
	return e ? e->value : NULL;
}

static const char *env_origin(const char *key, void *ud)
{
	const struct dotenv_table *t = ud;

	if (getenv(key))
		return "the environment";
	return table_find(t, key) ? t->path : NULL;
}

/* Read fd whole, at most CMH_MAX_DOTENV_FILE bytes; the chunk buffer is wiped (secrets). */
static enum cmh_err read_capped(int fd, const char *path, struct cmh_buf *out,
				struct cmh_buf *errmsg)
{
	char chunk[4096];
	enum cmh_err err = CMH_OK;

	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cmh_errf(errmsg, "%s: %s", path, strerror(errno));
			err = CMH_ERR_CONFIG;
			break;
		}
		if (r == 0)
			break;
		err = cmh_buf_add(out, chunk, (size_t)r);
		if (err == CMH_ERR_TOO_LARGE) {
			cmh_errf(errmsg, "%s: larger than %d bytes", path, CMH_MAX_DOTENV_FILE);
			err = CMH_ERR_CONFIG;
		}
		if (err)
			break;
	}
	explicit_bzero(chunk, sizeof(chunk));
	return err;
}

/* The secret in a file others can read is a leak waiting to happen; say so. */
static void warn_if_exposed(const struct dotenv_table *t, const struct stat *st)
{
	const struct dotenv_entry *e = table_find(t, "CLIENT_SECRET");

	if (!e || !e->value[0] || !(st->st_mode & 077))
		return;
	cmh_log(CMH_LOG_WARN, "config",
		"the dotenv file holds CLIENT_SECRET and is readable by group or others; "
		"run chmod 600 on it", "file=%s mode=%04o", cmh_q(t->path),
		(unsigned)(st->st_mode & 07777));
}

/*
 * Read and parse path into t. *ret_found is false when path is the implicit
 * ./.env and does not exist, which is not an error.
 */
static enum cmh_err load_dotenv(struct dotenv_table *t, bool named, bool *ret_found,
				struct cmh_buf *errmsg)
{
	struct cmh_buf text;
	struct stat st;
	enum cmh_err err;
	int fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	*ret_found = false;
	if (fd < 0 && errno == ENOENT && !named)
		return CMH_OK;
	if (fd < 0 || fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		int e = fd < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : errno;
		cmh_errf(errmsg, "%s: %s", t->path, strerror(e));
		if (fd >= 0)
			close(fd);
		return CMH_ERR_CONFIG;
	}
	*ret_found = true;
	cmh_buf_init(&text, CMH_MAX_DOTENV_FILE);
	err = read_capped(fd, t->path, &text, errmsg);
	close(fd);
	if (!err)
		err = cmh_dotenv_parse(text.data, text.len, t->path, table_put, t, errmsg);
	if (err == CMH_ERR_PARSE)
		err = CMH_ERR_CONFIG;
	else if (err == CMH_ERR_INTERNAL)
		err = CMH_ERR_NOMEM;   /* table_put fails only for memory */
	if (!err)
		warn_if_exposed(t, &st);
	cmh_buf_wipe(&text);
	return err;
}

enum cmh_err cmh_config_load(struct cmh_config *cfg, const char *env_file,
			     const char *data_dir_override, struct cmh_buf *errmsg)
{
	struct dotenv_table t = { .path = env_file ? env_file : "./.env" };
	struct source src = { env_lookup, &t, env_origin, NULL, errmsg };
	bool found;
	enum cmh_err err;

	memset(cfg, 0, sizeof(*cfg));
	err = load_dotenv(&t, env_file != NULL, &found, errmsg);
	if (!err)
		err = build(cfg, &src);
	if (!err && found && !(cfg->env_file = strdup(t.path)))
		err = CMH_ERR_NOMEM;
	if (!err && data_dir_override && data_dir_override[0]) {
		free(cfg->data_dir);
		if (!(cfg->data_dir = strdup(data_dir_override)))
			err = CMH_ERR_NOMEM;
	}
	if (err == CMH_ERR_NOMEM)
		cmh_errf(errmsg, "out of memory while loading the configuration");
	if (err)
		cmh_config_release(cfg);
	table_release(&t);
	return err;
}

/* ---- requirements and docs ----------------------------------------------- */

static bool is_present(const struct cmh_config *cfg, const struct setting *st)
{
	const char *s;

	if (st->type == T_SECRET)
		return cmh_secret_is_set(CFIELD(cfg, st, struct cmh_secret));
	s = *CFIELD(cfg, st, char *);
	return s && s[0];
}

enum cmh_err cmh_config_require(const struct cmh_config *cfg, unsigned need,
				struct cmh_buf *errmsg)
{
	/* Getting an API answer needs a token too. */
	if (need & CMH_NEED_API)
		need |= CMH_NEED_TOKEN;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *st = &settings[i];
		if (!(st->need & need) || is_present(cfg, st))
			continue;
		if (cfg->env_file)
			cmh_errf(errmsg, "%s is not set (looked in %s and the environment)", st->key,
				 cfg->env_file);
		else
			cmh_errf(errmsg, "%s is not set (looked in the environment; no .env file "
				 "was read)", st->key);
		return CMH_ERR_CONFIG;
	}
	return CMH_OK;
}

static struct cmh_config_key_doc docs[N_SETTINGS];
static pthread_once_t docs_once = PTHREAD_ONCE_INIT;

static void fill_docs(void)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *st = &settings[i];
		docs[i].key = st->key;
		docs[i].default_text = st->doc_default ? st->doc_default : st->def ? st->def : "";
		docs[i].default_is_value = st->def || st->def_key;
		docs[i].meaning = st->meaning;
	}
}

const struct cmh_config_key_doc *cmh_config_docs(size_t *ret_count)
{
	(void)pthread_once(&docs_once, fill_docs);
	if (ret_count)
		*ret_count = N_SETTINGS;
	return docs;
}

/* ---- dump --------------------------------------------------------------- */

static void format_ms(uint64_t ms, char *out, size_t size)
{
	if (ms && ms % 3600000 == 0)
		snprintf(out, size, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms && ms % 60000 == 0)
		snprintf(out, size, "%llum", (unsigned long long)(ms / 60000));
	else if (ms && ms % 1000 == 0)
		snprintf(out, size, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(out, size, "%llums", (unsigned long long)ms);
}

static void format_size(uint64_t b, char *out, size_t size)
{
	if (b && b % (1024 * 1024) == 0)
		snprintf(out, size, "%llum", (unsigned long long)(b / (1024 * 1024)));
	else if (b && b % 1024 == 0)
		snprintf(out, size, "%lluk", (unsigned long long)(b / 1024));
	else
		snprintf(out, size, "%llu", (unsigned long long)b);
}

static void format_kinds(unsigned bits, char *out, size_t size)
{
	static const char *const names[] = { "started", "ended", "step-started", "waiting",
					     "step-ended" };
	size_t n = 0;

	out[0] = '\0';
	if (bits == CMH_KIND_BIT_ALL) {
		snprintf(out, size, "all");
		return;
	}
	for (unsigned i = 0; i < 5; i++)
		if (bits & (1u << i))
			n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%s%s",
					      n ? "," : "", names[i]);
}

/* The effective value of one setting as text; secrets are never shown. */
static void format_setting(const struct cmh_config *cfg, const struct setting *st, char *out,
			   size_t size)
{
	static const char *const teams[] = { "auto", "messagecard", "adaptivecard" };
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	const char *s;

	switch (st->type) {
	case T_SECRET:
	case T_SECRET_FILE:
		snprintf(out, size, "%s", cmh_secret_is_set(CFIELD(cfg, st, struct cmh_secret)) ?
			 "<redacted>" : "");
		return;
	case T_PORT:
		snprintf(out, size, "%u", *CFIELD(cfg, st, uint16_t));
		return;
	case T_DURATION:
		format_ms(*CFIELD(cfg, st, uint64_t), out, size);
		return;
	case T_SIZE:
		format_size(*CFIELD(cfg, st, uint64_t), out, size);
		return;
	case T_BOOL:
		snprintf(out, size, "%s", *CFIELD(cfg, st, bool) ? "on" : "off");
		return;
	case T_TEAMS_FORMAT:
		snprintf(out, size, "%s", teams[*CFIELD(cfg, st, enum cmh_teams_format) % 3]);
		return;
	case T_LOG_LEVEL:
		snprintf(out, size, "%s", levels[*CFIELD(cfg, st, enum cmh_log_level) & 3]);
		return;
	case T_KINDS:
		format_kinds(*CFIELD(cfg, st, unsigned), out, size);
		return;
	default:
		s = *CFIELD(cfg, st, char *);
		snprintf(out, size, "%s", !s ? "" : (st->flags & F_SECRET) && *s ? "<redacted>" : s);
		return;
	}
}

void cmh_config_dump(const struct cmh_config *cfg, cmh_config_dump_fn fn, void *ud)
{
	char value[1024];

	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *st = &settings[i];

		/* CLIENT_SECRET_FILE shares CLIENT_SECRET's field: show it once. */
		if (st->type == T_SECRET_FILE)
			continue;
		format_setting(cfg, st, value, sizeof(value));
		fn(st->key, value, ud);
	}
}
