/*
 * Unit tests for config.c. Most go through cmh_config_from_lookup() with a
 * lookup that consults an "environment" table before a "file" table; a few
 * run cmh_config_load() for real in a temp directory (dotenv file, setenv,
 * permission warning captured from stderr).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounds.h"
#include "config.h"
#include "dotenv.h"

#define SECRET "p8e-Sup3rS3cretValue"

/* ---- a lookup over two tables: env first, then file ---------------------- */

struct kv {
	const char *key;
	const char *value;
};

struct tables {
	const struct kv *env;   /* terminated by { NULL } */
	const struct kv *file;
};

static const char *find_kv(const struct kv *t, const char *key)
{
	for (; t && t->key; t++)
		if (strcmp(t->key, key) == 0)
			return t->value;
	return NULL;
}

static const char *two_tables(const char *key, void *ud)
{
	const struct tables *t = ud;
	const char *v = find_kv(t->env, key);

	return v ? v : find_kv(t->file, key);
}

static enum cmh_err load_tables(struct cmh_config *cfg, const struct kv *env,
				const struct kv *file, struct cmh_buf *err)
{
	struct tables t = { env, file };

	return cmh_config_from_lookup(cfg, two_tables, &t, "test", err);
}

/* A dotenv text parsed into a kv list the way config keeps it (last wins). */
struct parsed {
	struct kv kv[32];
	char *owned[64];
	size_t n, n_owned;
};

static int parsed_put(const char *key, const char *value, unsigned line, void *ud)
{
	struct parsed *p = ud;
	char *k = strdup(key), *v = strdup(value);

	assert_non_null(k);
	assert_non_null(v);
	p->owned[p->n_owned++] = k;
	p->owned[p->n_owned++] = v;
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->kv[i].key, key) == 0) {
			p->kv[i].value = v;
			return 0;
		}
	}
	p->kv[p->n].key = k;
	p->kv[p->n++].value = v;
	return 0;
}

static void parse_text(struct parsed *p, const char *text)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(cmh_dotenv_parse(text, strlen(text), "t.env", parsed_put, p, NULL),
			 CMH_OK);
}

static void parsed_free(struct parsed *p)
{
	for (size_t i = 0; i < p->n_owned; i++)
		free(p->owned[i]);
}

/* ---- defaults and the tutorial's files ----------------------------------- */

static void test_config_defaults(void **state)
{
	struct cmh_config cfg;
	struct cmh_buf err;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(load_tables(&cfg, NULL, NULL, &err), CMH_OK);
	assert_string_equal(cfg.client_id, "");
	assert_false(cmh_secret_is_set(&cfg.client_secret));
	assert_string_equal(cfg.grant_type, "client_credentials");
	assert_string_equal(cfg.scopes, "");
	assert_string_equal(cfg.organization_id, "");
	assert_string_equal(cfg.api_key, "");
	assert_string_equal(cfg.listen_address, "0.0.0.0");
	assert_int_equal(cfg.port, 4000);
	assert_string_equal(cfg.webhook_path, "/webhook");
	assert_string_equal(cfg.slack_webhook, "");
	assert_string_equal(cfg.teams_webhook, "");
	assert_int_equal(cfg.teams_format, CMH_TEAMS_AUTO);
	assert_string_equal(cfg.notify_webhook, "");
	assert_int_equal(cfg.notify_events,
			 CMH_KIND_BIT_STARTED | CMH_KIND_BIT_WAITING | CMH_KIND_BIT_ENDED);
	assert_string_equal(cfg.ims_url, "https://ims-na1.adobelogin.com");
	assert_string_equal(cfg.cloudmanager_api_url, "https://cloudmanager.adobe.io");
	assert_string_equal(cfg.events_key_url, "https://static.adobeioevents.com");
	assert_true(cfg.signature_verify);
	assert_string_equal(cfg.data_dir, "./data");
	assert_int_equal(cfg.log_level, CMH_LOG_INFO);
	assert_int_equal(cfg.max_body, 4 * 1024 * 1024);
	assert_int_equal(cfg.retry_initial_ms, 10000);
	assert_int_equal(cfg.retry_max_delay_ms, 15 * 60 * 1000);
	assert_int_equal(cfg.retry_max_age_ms, 24 * 3600 * 1000);
	assert_int_equal(cfg.http_timeout_ms, 15000);
	assert_null(cfg.env_file);
	/* Loading needs no credentials (`events`), but a token does. */
	assert_int_equal(cmh_config_require(&cfg, 0, &err), CMH_OK);
	assert_int_equal(cmh_config_require(&cfg, CMH_NEED_TOKEN, &err), CMH_ERR_CONFIG);
	assert_string_equal(err.data,
			    "CLIENT_ID is not set (looked in the environment; no .env file was read)");
	cmh_config_release(&cfg);
	cmh_config_release(&cfg);   /* safe on a released struct */
	cmh_buf_release(&err);
}

/* ims-oauth.md §7, the tutorial docs' listing, filled in. */
static const char tutorial_docs_env[] =
	"PORT=4000\n"
	"ORGANIZATION_ID=1234567890ABCDEF12345678@AdobeOrg\n"
	"CLIENT_ID=0123456789abcdef0123456789abcdef\n"
	"CLIENT_SECRET=" SECRET "\n"
	"GRANT_TYPE=client_credentials\n"
	"SCOPES=openid,AdobeID,read_organizations,additional_info.projectedProductContext,"
	"read_pc.dma_aem_ams\n";

/* ims-oauth.md §7, the repository's .env.template, filled in. */
static const char tutorial_template_env[] =
	"PORT=4000\n"
	"ORGANIZATION_ID=1234567890ABCDEF12345678@AdobeOrg\n"
	"API_KEY=0123456789abcdef0123456789abcdef\n"
	"CLIENT_SECRET=" SECRET "\n"
	"GRANT_TYPE=client_credentials\n"
	"SCOPE=openid,AdobeID,read_organizations\n"
	"SLACK_WEBHOOK=https://hooks.slack.com/services/T000/B000/XXXXXXXX\n";

static void test_config_tutorial_docs_env(void **state)
{
	struct cmh_config cfg;
	struct cmh_buf err;
	struct parsed p;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	parse_text(&p, tutorial_docs_env);
	assert_int_equal(load_tables(&cfg, NULL, p.kv, &err), CMH_OK);
	assert_int_equal(cfg.port, 4000);
	assert_string_equal(cfg.organization_id, "1234567890ABCDEF12345678@AdobeOrg");
	assert_string_equal(cfg.client_id, "0123456789abcdef0123456789abcdef");
	assert_string_equal(cfg.api_key, "0123456789abcdef0123456789abcdef");
	assert_string_equal(cfg.client_secret.data, SECRET);
	assert_string_equal(cfg.grant_type, "client_credentials");
	assert_string_equal(cfg.scopes, "openid,AdobeID,read_organizations,"
			    "additional_info.projectedProductContext,read_pc.dma_aem_ams");
	assert_int_equal(cmh_config_require(&cfg, CMH_NEED_TOKEN | CMH_NEED_API, &err), CMH_OK);
	cmh_config_release(&cfg);
	parsed_free(&p);
	cmh_buf_release(&err);
}

static void test_config_tutorial_template_env(void **state)
{
	struct cmh_config cfg;
	struct cmh_buf err;
	struct parsed p;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	parse_text(&p, tutorial_template_env);
	assert_int_equal(load_tables(&cfg, NULL, p.kv, &err), CMH_OK);
	assert_int_equal(cfg.port, 4000);
	assert_string_equal(cfg.organization_id, "1234567890ABCDEF12345678@AdobeOrg");
	assert_string_equal(cfg.client_id, "0123456789abcdef0123456789abcdef");
	assert_string_equal(cfg.api_key, "0123456789abcdef0123456789abcdef");
	assert_string_equal(cfg.client_secret.data, SECRET);
	assert_string_equal(cfg.scopes, "openid,AdobeID,read_organizations");
	assert_string_equal(cfg.slack_webhook, "https://hooks.slack.com/services/T000/B000/XXXXXXXX");
	assert_int_equal(cmh_config_require(&cfg, CMH_NEED_API, &err), CMH_OK);
	cmh_config_release(&cfg);
	parsed_free(&p);

	/* The template as shipped: blanks everywhere but PORT and GRANT_TYPE. */
	parse_text(&p, "PORT=4000\nORGANIZATION_ID=\nAPI_KEY=\nCLIENT_SECRET=\n"
		       "GRANT_TYPE=client_credentials\nSCOPE=\nSLACK_WEBHOOK=\n");
	assert_int_equal(load_tables(&cfg, NULL, p.kv, &err), CMH_OK);
	assert_string_equal(cfg.slack_webhook, "");
	assert_int_equal(cmh_config_require(&cfg, CMH_NEED_TOKEN, &err), CMH_ERR_CONFIG);
	assert_non_null(strstr(err.data, "CLIENT_ID is not set"));
	cmh_config_release(&cfg);
	parsed_free(&p);
	cmh_buf_release(&err);
}

/* ---- precedence and aliases --------------------------------------------- */

static void test_config_environment_wins(void **state)
{
	static const struct kv env[] = {
		{ "PORT", "5000" }, { "SCOPES", "env-scope" }, { "LOG_LEVEL", "debug" }, { NULL },
	};
	static const struct kv file[] = {
		{ "PORT", "4000" }, { "SCOPES", "file-scope" }, { "CLIENT_ID", "file-id" },
		{ "UNKNOWN_KEY", "ignored" }, { "lowercase", "ignored" }, { NULL },
	};
	struct cmh_config cfg;

	assert_int_equal(load_tables(&cfg, env, file, NULL), CMH_OK);
	assert_int_equal(cfg.port, 5000);
	assert_string_equal(cfg.scopes, "env-scope");
	assert_string_equal(cfg.client_id, "file-id");
	assert_int_equal(cfg.log_level, CMH_LOG_DEBUG);
	cmh_config_release(&cfg);
}

struct alias_case {
	struct kv file[4];
	const char *client_id, *api_key, *scopes;
};

static const struct alias_case alias_cases[] = {
	{ { { "SCOPE", "s1" }, { NULL } }, "", "", "s1" },
	{ { { "SCOPE", "s1" }, { "SCOPES", "s2" }, { NULL } }, "", "", "s2" },
	{ { { "SCOPE", "s1" }, { "SCOPES", "" }, { NULL } }, "", "", "s1" },
	{ { { "API_KEY", "k" }, { NULL } }, "k", "k", "" },
	{ { { "CLIENT_ID", "c" }, { NULL } }, "c", "c", "" },
	{ { { "CLIENT_ID", "c" }, { "API_KEY", "k" }, { NULL } }, "c", "k", "" },
	{ { { "CLIENT_ID", "" }, { "API_KEY", "k" }, { NULL } }, "k", "k", "" },
};

static void test_config_aliases(void **state)
{
	for (size_t i = 0; i < sizeof(alias_cases) / sizeof(alias_cases[0]); i++) {
		const struct alias_case *tc = &alias_cases[i];
		struct cmh_config cfg;

		assert_int_equal(load_tables(&cfg, NULL, tc->file, NULL), CMH_OK);
		assert_string_equal(cfg.client_id, tc->client_id);
		assert_string_equal(cfg.api_key, tc->api_key);
		assert_string_equal(cfg.scopes, tc->scopes);
		cmh_config_release(&cfg);
	}
}

/* ---- valid and invalid values ------------------------------------------ */

struct value_case {
	const char *key;
	const char *value;
	const char *want_err;   /* NULL: must load */
};

static const struct value_case invalid_cases[] = {
	{ "PORT", "abc", "PORT: expected a port number 0-65535 (0: any free port), got \"abc\" (from test)" },
	{ "PORT", "65536", "PORT: expected a port number 0-65535 (0: any free port), got \"65536\" (from test)" },
	{ "PORT", "-1", "PORT: expected a port number 0-65535 (0: any free port), got \"-1\" (from test)" },
	{ "PORT", "80 ", "PORT: expected a port number 0-65535 (0: any free port), got \"80 \" (from test)" },
	{ "PORT", "99999999999999999999999",
	  "PORT: expected a port number 0-65535 (0: any free port), got \"99999999999999999999999\" (from test)" },
	{ "RETRY_INITIAL", "10x", "RETRY_INITIAL: expected a duration such as 500ms, 30s, 15m or "
	  "24h, above 0 and at most 1d, got \"10x\" (from test)" },
	{ "RETRY_INITIAL", "0", "RETRY_INITIAL: expected a duration such as 500ms, 30s, 15m or "
	  "24h, above 0 and at most 1d, got \"0\" (from test)" },
	{ "RETRY_MAX_DELAY", "1.5s", "RETRY_MAX_DELAY: expected a duration such as 500ms, 30s, "
	  "15m or 24h, above 0 and at most 1d, got \"1.5s\" (from test)" },
	{ "RETRY_MAX_AGE", "-1h", "RETRY_MAX_AGE: expected a duration such as 500ms, 30s, 15m or "
	  "24h, above 0 and at most 365d, got \"-1h\" (from test)" },
	{ "HTTP_TIMEOUT", "2h", "HTTP_TIMEOUT: expected a duration such as 500ms, 30s, 15m or "
	  "24h, above 0 and at most 1h, got \"2h\" (from test)" },
	{ "MAX_BODY", "4q", "MAX_BODY: expected a size such as 512k or 4m, above 0 and at most "
	  "64m, got \"4q\" (from test)" },
	{ "MAX_BODY", "0", "MAX_BODY: expected a size such as 512k or 4m, above 0 and at most "
	  "64m, got \"0\" (from test)" },
	{ "MAX_BODY", "65m", "MAX_BODY: expected a size such as 512k or 4m, above 0 and at most "
	  "64m, got \"65m\" (from test)" },
	{ "SIGNATURE_VERIFY", "maybe",
	  "SIGNATURE_VERIFY: expected on or off, got \"maybe\" (from test)" },
	{ "TEAMS_FORMAT", "html", "TEAMS_FORMAT: expected auto, messagecard or adaptivecard, "
	  "got \"html\" (from test)" },
	{ "LOG_LEVEL", "verbose",
	  "LOG_LEVEL: expected error, warn, info or debug, got \"verbose\" (from test)" },
	{ "NOTIFY_EVENTS", "started,bogus", "NOTIFY_EVENTS: unknown event kind \"bogus\" "
	  "(expected started, ended, step-started, waiting, step-ended or all) (from test)" },
	{ "NOTIFY_EVENTS", "started,,ended", "NOTIFY_EVENTS: empty item in the list "
	  "\"started,,ended\" (expected started, ended, step-started, waiting, step-ended or all) "
	  "(from test)" },
	{ "NOTIFY_EVENTS", "started,", "NOTIFY_EVENTS: empty item in the list \"started,\" "
	  "(expected started, ended, step-started, waiting, step-ended or all) (from test)" },
	{ "NOTIFY_EVENTS", "step started", "NOTIFY_EVENTS: unknown event kind \"step started\" "
	  "(expected started, ended, step-started, waiting, step-ended or all) (from test)" },
	{ "IMS_URL", "ftp://ims.example",
	  "IMS_URL: expected an absolute http:// or https:// URL, got \"ftp://ims.example\" "
	  "(from test)" },
	{ "IMS_URL", "ims-na1.adobelogin.com", "IMS_URL: expected an absolute http:// or "
	  "https:// URL, got \"ims-na1.adobelogin.com\" (from test)" },
	{ "CLOUDMANAGER_API_URL", "https://user:pw@cm.example", "CLOUDMANAGER_API_URL: expected "
	  "an absolute http:// or https:// URL, got \"https://user:pw@cm.example\" (from test)" },
	{ "EVENTS_KEY_URL", "https://keys.example/?x=1", "EVENTS_KEY_URL: expected a base URL "
	  "without a query, got \"https://keys.example/?x=1\" (from test)" },
	{ "WEBHOOK_PATH", "webhook",
	  "WEBHOOK_PATH: expected a path starting with /, got \"webhook\" (from test)" },
	{ "LISTEN_ADDRESS", "0.0.0.0\nX: y", "LISTEN_ADDRESS: expected text without control "
	  "characters, got \"0.0.0.0\\x0aX: y\" (from test)" },
	{ "ORGANIZATION_ID", "org\r\nX-Evil: 1", "ORGANIZATION_ID: expected text without control "
	  "characters, got \"org\\x0d\\x0aX-Evil: 1\" (from test)" },
	{ "GRANT_TYPE", "authorization_code", "GRANT_TYPE: expected client_credentials, the only "
	  "supported grant (OAuth Server-to-Server credentials), got \"authorization_code\" "
	  "(from test)" },
	{ "GRANT_TYPE", "jwt", "GRANT_TYPE: expected client_credentials, the only supported grant "
	  "(OAuth Server-to-Server credentials), got \"jwt\" (from test)" },
	/* Channel URLs are secrets: the message must not show them. */
	{ "SLACK_WEBHOOK", "hooks.slack.com/services/T0/B0/" SECRET, "SLACK_WEBHOOK: expected an "
	  "absolute http:// or https:// URL (the value is secret and not shown) (from test)" },
	{ "TEAMS_WEBHOOK", "mailto:" SECRET, "TEAMS_WEBHOOK: expected an absolute http:// or "
	  "https:// URL (the value is secret and not shown) (from test)" },
	{ "NOTIFY_WEBHOOK", "https://" SECRET "@x.example/", "NOTIFY_WEBHOOK: expected an "
	  "absolute http:// or https:// URL (the value is secret and not shown) (from test)" },
};

static void test_config_rejects_invalid_values(void **state)
{
	for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
		const struct value_case *tc = &invalid_cases[i];
		const struct kv file[] = { { tc->key, tc->value }, { NULL } };
		struct cmh_config cfg;
		struct cmh_buf err;
		enum cmh_err rc;

		cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
		rc = load_tables(&cfg, NULL, file, &err);
		if (rc != CMH_ERR_CONFIG || strcmp(err.data, tc->want_err) != 0)
			fail_msg("%s=%s: rc=%d\n got: %s\nwant: %s", tc->key, tc->value, rc,
				 err.data, tc->want_err);
		assert_null(strstr(err.data, SECRET));
		/* On error the struct is released. */
		assert_null(cfg.client_id);
		assert_null(cfg.data_dir);
		cmh_buf_release(&err);
	}
}

struct good_case {
	const char *key;
	const char *value;
	size_t offset;
	int kind;            /* 's' string, 'u' uint64, 'p' port, 'b' bool, 'e' enum/unsigned */
	const char *want_s;
	uint64_t want_u;
};

#define F(field) offsetof(struct cmh_config, field)

static const struct good_case good_cases[] = {
	{ "PORT", "1", F(port), 'p', NULL, 1 },
	{ "PORT", "65535", F(port), 'p', NULL, 65535 },
	{ "PORT", "", F(port), 'p', NULL, 4000 },   /* empty: the default */
	{ "RETRY_INITIAL", "500ms", F(retry_initial_ms), 'u', NULL, 500 },
	{ "RETRY_INITIAL", "30", F(retry_initial_ms), 'u', NULL, 30000 },
	{ "RETRY_MAX_AGE", "2d", F(retry_max_age_ms), 'u', NULL, 2 * 86400000ULL },
	{ "HTTP_TIMEOUT", "1h", F(http_timeout_ms), 'u', NULL, 3600000 },
	{ "HTTP_TIMEOUT", "1ms", F(http_timeout_ms), 'u', NULL, 1 },
	{ "SETTLE_DELAY", "700ms", F(settle_delay_ms), 'u', NULL, 700 },
	{ "SETTLE_DELAY", "", F(settle_delay_ms), 'u', NULL, 15000 },
	{ "JOURNAL_RETENTION", "", F(journal_retention_ms), 'u', NULL, 30 * 86400000ULL },
	{ "JOURNAL_RETENTION", "7d", F(journal_retention_ms), 'u', NULL, 7 * 86400000ULL },
	{ "MAX_BODY", "512k", F(max_body), 'u', NULL, 512 * 1024 },
	{ "MAX_BODY", "64m", F(max_body), 'u', NULL, 64 * 1024 * 1024 },
	{ "MAX_BODY", "1", F(max_body), 'u', NULL, 1 },
	{ "SIGNATURE_VERIFY", "off", F(signature_verify), 'b', NULL, 0 },
	{ "SIGNATURE_VERIFY", "ON", F(signature_verify), 'b', NULL, 1 },
	{ "PACE_CHANNELS", "off", F(pace_channels), 'b', NULL, 0 },
	{ "PACE_CHANNELS", "", F(pace_channels), 'b', NULL, 1 },
	{ "TEAMS_FORMAT", "messagecard", F(teams_format), 'e', NULL, CMH_TEAMS_MESSAGECARD },
	{ "TEAMS_FORMAT", "AdaptiveCard", F(teams_format), 'e', NULL, CMH_TEAMS_ADAPTIVECARD },
	{ "LOG_LEVEL", "warn", F(log_level), 'e', NULL, CMH_LOG_WARN },
	{ "LOG_LEVEL", "ERROR", F(log_level), 'e', NULL, CMH_LOG_ERROR },
	{ "NOTIFY_EVENTS", "all", F(notify_events), 'e', NULL, CMH_KIND_BIT_ALL },
	{ "NOTIFY_EVENTS", "ended", F(notify_events), 'e', NULL, CMH_KIND_BIT_ENDED },
	{ "NOTIFY_EVENTS", " step-started , step-ended ", F(notify_events), 'e', NULL,
	  CMH_KIND_BIT_STEP_STARTED | CMH_KIND_BIT_STEP_ENDED },
	{ "NOTIFY_EVENTS", "started,all", F(notify_events), 'e', NULL, CMH_KIND_BIT_ALL },
	{ "IMS_URL", "http://127.0.0.1:8080/", F(ims_url), 's', "http://127.0.0.1:8080", 0 },
	{ "IMS_URL", "https://ims.example/base//", F(ims_url), 's', "https://ims.example/base", 0 },
	{ "CLOUDMANAGER_API_URL", "https://cm.example", F(cloudmanager_api_url), 's',
	  "https://cm.example", 0 },
	{ "EVENTS_KEY_URL", "http://localhost:1/", F(events_key_url), 's', "http://localhost:1",
	  0 },
	/* Channel URLs are used as written: a trailing slash or a query may matter. */
	{ "SLACK_WEBHOOK", "https://hooks.slack.com/services/T/B/X/", F(slack_webhook), 's',
	  "https://hooks.slack.com/services/T/B/X/", 0 },
	{ "TEAMS_WEBHOOK", "https://prod.westus.logic.azure.com/workflows/1/triggers/manual/paths/"
	  "invoke?api-version=2016-06-01&sig=abc", F(teams_webhook), 's',
	  "https://prod.westus.logic.azure.com/workflows/1/triggers/manual/paths/"
	  "invoke?api-version=2016-06-01&sig=abc", 0 },
	{ "NOTIFY_WEBHOOK", "http://127.0.0.1:9/hook", F(notify_webhook), 's',
	  "http://127.0.0.1:9/hook", 0 },
	{ "WEBHOOK_PATH", "/adobe/events", F(webhook_path), 's', "/adobe/events", 0 },
	{ "LISTEN_ADDRESS", "::1", F(listen_address), 's', "::1", 0 },
	{ "DATA_DIR", "/var/lib/cmhook", F(data_dir), 's', "/var/lib/cmhook", 0 },
	{ "GRANT_TYPE", "", F(grant_type), 's', "client_credentials", 0 },
};

static void check_good_case(const struct good_case *tc, const struct cmh_config *cfg)
{
	const char *base = (const char *)cfg + tc->offset;

	switch (tc->kind) {
	case 's':
		assert_string_equal(*(char *const *)(const void *)base, tc->want_s);
		break;
	case 'u':
		assert_int_equal(*(const uint64_t *)(const void *)base, tc->want_u);
		break;
	case 'p':
		assert_int_equal(*(const uint16_t *)(const void *)base, tc->want_u);
		break;
	case 'b':
		assert_int_equal(*(const bool *)(const void *)base, tc->want_u);
		break;
	default:
		assert_int_equal(*(const unsigned *)(const void *)base, tc->want_u);
	}
}

static void test_config_accepts_valid_values(void **state)
{
	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good_case *tc = &good_cases[i];
		const struct kv file[] = { { tc->key, tc->value }, { NULL } };
		struct cmh_config cfg;
		struct cmh_buf err;

		cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
		if (load_tables(&cfg, NULL, file, &err) != CMH_OK)
			fail_msg("%s=%s: %s", tc->key, tc->value, err.data);
		check_good_case(tc, &cfg);
		cmh_config_release(&cfg);
		cmh_buf_release(&err);
	}
}

static void test_config_retry_delays_consistent(void **state)
{
	static const struct kv bad[] = {
		{ "RETRY_INITIAL", "10s" }, { "RETRY_MAX_DELAY", "5s" }, { NULL },
	};
	static const struct kv equal[] = {
		{ "RETRY_INITIAL", "5s" }, { "RETRY_MAX_DELAY", "5000ms" }, { NULL },
	};
	struct cmh_config cfg;
	struct cmh_buf err;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(load_tables(&cfg, NULL, bad, &err), CMH_ERR_CONFIG);
	assert_string_equal(err.data,
			    "RETRY_MAX_DELAY: must not be shorter than RETRY_INITIAL (from test)");
	assert_int_equal(load_tables(&cfg, NULL, equal, &err), CMH_OK);
	cmh_config_release(&cfg);
	cmh_buf_release(&err);
}

/* ---- secrets ------------------------------------------------------------ */

static void test_config_secret_sources(void **state)
{
	char dir[] = "/tmp/cmh_test_config.XXXXXX", path[64];
	struct cmh_config cfg;
	struct cmh_buf err;
	FILE *fp;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(SECRET "\n", fp);
	assert_int_equal(fclose(fp), 0);

	{
		const struct kv file[] = { { "CLIENT_SECRET_FILE", path }, { NULL } };
		assert_int_equal(load_tables(&cfg, NULL, file, &err), CMH_OK);
		assert_string_equal(cfg.client_secret.data, SECRET);
		cmh_config_release(&cfg);
	}
	{
		const struct kv env[] = { { "CLIENT_SECRET_FILE", path }, { NULL } };
		const struct kv file[] = { { "CLIENT_SECRET", SECRET }, { NULL } };
		assert_int_equal(load_tables(&cfg, env, file, &err), CMH_ERR_CONFIG);
		assert_string_equal(err.data, "CLIENT_SECRET_FILE: CLIENT_SECRET and "
				    "CLIENT_SECRET_FILE are both set; keep only one of them (from test)");
	}
	{
		/* An empty CLIENT_SECRET is unset, so the file is no conflict. */
		const struct kv file[] = { { "CLIENT_SECRET", "" }, { "CLIENT_SECRET_FILE", path },
					   { NULL } };
		assert_int_equal(load_tables(&cfg, NULL, file, &err), CMH_OK);
		assert_string_equal(cfg.client_secret.data, SECRET);
		cmh_config_release(&cfg);
	}
	{
		const struct kv file[] = { { "CLIENT_SECRET_FILE", "/nonexistent/secret" }, { NULL } };
		assert_int_equal(load_tables(&cfg, NULL, file, &err), CMH_ERR_CONFIG);
		assert_string_equal(err.data, "CLIENT_SECRET_FILE: /nonexistent/secret: No such file "
				    "or directory (from test)");
	}
	{
		const struct kv file[] = { { "CLIENT_SECRET_FILE", dir }, { NULL } };
		assert_int_equal(load_tables(&cfg, NULL, file, &err), CMH_ERR_CONFIG);
		assert_null(strstr(err.data, SECRET));
	}
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	cmh_buf_release(&err);
}

/* ---- requirements --------------------------------------------------------- */

struct require_case {
	struct kv file[5];
	unsigned need;
	const char *missing;   /* NULL: satisfied */
};

static const struct require_case require_cases[] = {
	{ { { NULL } }, 0, NULL },
	{ { { "CLIENT_SECRET", SECRET }, { "SCOPES", "s" }, { NULL } }, CMH_NEED_TOKEN,
	  "CLIENT_ID" },
	{ { { "CLIENT_ID", "c" }, { "SCOPES", "s" }, { NULL } }, CMH_NEED_TOKEN, "CLIENT_SECRET" },
	{ { { "CLIENT_ID", "c" }, { "CLIENT_SECRET", SECRET }, { NULL } }, CMH_NEED_TOKEN,
	  "SCOPES" },
	{ { { "CLIENT_ID", "c" }, { "CLIENT_SECRET", SECRET }, { "SCOPES", "s" }, { NULL } },
	  CMH_NEED_TOKEN, NULL },
	{ { { "CLIENT_ID", "c" }, { "CLIENT_SECRET", SECRET }, { "SCOPES", "s" }, { NULL } },
	  CMH_NEED_API, "ORGANIZATION_ID" },
	{ { { "ORGANIZATION_ID", "o" }, { NULL } }, CMH_NEED_API, "CLIENT_ID" },
	{ { { "CLIENT_ID", "c" }, { "CLIENT_SECRET", SECRET }, { "SCOPE", "s" },
	    { "ORGANIZATION_ID", "o" }, { NULL } }, CMH_NEED_TOKEN | CMH_NEED_API, NULL },
};

static void test_config_require(void **state)
{
	for (size_t i = 0; i < sizeof(require_cases) / sizeof(require_cases[0]); i++) {
		const struct require_case *tc = &require_cases[i];
		struct cmh_config cfg;
		struct cmh_buf err, want;

		cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
		cmh_buf_init(&want, CMH_BUF_MAX_ERRMSG);
		assert_int_equal(load_tables(&cfg, NULL, tc->file, &err), CMH_OK);
		if (!tc->missing) {
			assert_int_equal(cmh_config_require(&cfg, tc->need, &err), CMH_OK);
		} else {
			assert_int_equal(cmh_config_require(&cfg, tc->need, &err), CMH_ERR_CONFIG);
			assert_int_equal(cmh_buf_addf(&want, "%s is not set (looked in the "
				"environment; no .env file was read)", tc->missing), CMH_OK);
			assert_string_equal(err.data, want.data);
		}
		cmh_config_release(&cfg);
		cmh_buf_release(&err);
		cmh_buf_release(&want);
	}
}

/* ---- docs ---------------------------------------------------------------- */

static void test_config_docs_cover_interface_table(void **state)
{
	static const char *const keys[] = {
		"CLIENT_ID", "CLIENT_SECRET", "CLIENT_SECRET_FILE", "GRANT_TYPE", "SCOPES",
		"ORGANIZATION_ID", "API_KEY", "PORT", "LISTEN_ADDRESS", "WEBHOOK_PATH",
		"SLACK_WEBHOOK", "TEAMS_WEBHOOK", "TEAMS_FORMAT", "NOTIFY_WEBHOOK", "NOTIFY_EVENTS",
		"IMS_URL", "CLOUDMANAGER_API_URL", "EVENTS_KEY_URL", "SIGNATURE_VERIFY", "DATA_DIR",
		"LOG_LEVEL", "MAX_BODY", "RETRY_INITIAL", "RETRY_MAX_DELAY", "RETRY_MAX_AGE",
		"HTTP_TIMEOUT", "SETTLE_DELAY", "PACE_CHANNELS", "JOURNAL_RETENTION",
	};
	size_t n = 0;
	const struct cmh_config_key_doc *docs = cmh_config_docs(&n);

	assert_int_equal(n, sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(docs[i].key, keys[i]);
		assert_non_null(docs[i].default_text);
		assert_true(strlen(docs[i].meaning) > 5);
	}
	assert_string_equal(docs[7].default_text, "4000");
	assert_string_equal(docs[7].meaning, "webhook listen port");
	assert_string_equal(docs[11].default_text, "");
	assert_string_equal(docs[6].default_text, "CLIENT_ID");
	assert_string_equal(docs[25].default_text, "15s");
	assert_string_equal(docs[25].meaning, "total time allowed for one upstream HTTP request");
	assert_string_equal(docs[27].default_text, "on");
	assert_ptr_equal(cmh_config_docs(NULL), docs);
}

/* ---- cmh_config_load: files, the environment, warnings -------------------- */

struct load_fixture {
	char dir[64];
	char cwd[4096];
};

static void clear_environment(void)
{
	size_t n;
	const struct cmh_config_key_doc *docs = cmh_config_docs(&n);

	for (size_t i = 0; i < n; i++)
		unsetenv(docs[i].key);
	unsetenv("SCOPE");
	unsetenv("CREDENTIALS_DIRECTORY");
}

static int load_setup(void **state)
{
	struct load_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cmh_test_config.XXXXXX");
	if (!mkdtemp(f->dir) || !getcwd(f->cwd, sizeof(f->cwd)) || chdir(f->dir) != 0)
		return -1;
	clear_environment();
	cmh_log_set_level(CMH_LOG_INFO);
	*state = f;
	return 0;
}

static int load_teardown(void **state)
{
	struct load_fixture *f = *state;

	unlink(".env");
	unlink("other.env");
	unlink("big.env");
	(void)!chdir(f->cwd);
	rmdir(f->dir);
	clear_environment();
	free(f);
	return 0;
}

static void write_file_mode(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* Run cmh_config_load with stderr redirected into a temp file; return what was logged. */
static enum cmh_err load_capturing(struct cmh_config *cfg, const char *env_file,
				   const char *data_dir, struct cmh_buf *err, char *log, size_t size)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	enum cmh_err rc;
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	rc = cmh_config_load(cfg, env_file, data_dir, err);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(log, 1, size - 1, tmp);
	log[n] = '\0';
	fclose(tmp);
	return rc;
}

static void test_config_load_dotenv_and_environment(void **state)
{
	struct cmh_config cfg;
	struct cmh_buf err;
	char log[4096];

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	write_file_mode(".env", tutorial_template_env, strlen(tutorial_template_env), 0600);
	assert_int_equal(setenv("PORT", "4100", 1), 0);
	assert_int_equal(setenv("SCOPES", "env-scopes", 1), 0);
	assert_int_equal(load_capturing(&cfg, NULL, NULL, &err, log, sizeof(log)), CMH_OK);
	assert_string_equal(log, "");   /* mode 0600: no warning */
	assert_int_equal(cfg.port, 4100);
	assert_string_equal(cfg.scopes, "env-scopes");
	assert_string_equal(cfg.client_id, "0123456789abcdef0123456789abcdef");
	assert_string_equal(cfg.client_secret.data, SECRET);
	assert_string_equal(cfg.env_file, "./.env");
	assert_string_equal(cfg.data_dir, "./data");
	assert_int_equal(cmh_config_require(&cfg, CMH_NEED_API, &err), CMH_OK);
	cmh_config_release(&cfg);

	/* Messages say where a bad value came from. */
	assert_int_equal(setenv("PORT", "abc", 1), 0);
	assert_int_equal(cmh_config_load(&cfg, NULL, NULL, &err), CMH_ERR_CONFIG);
	assert_string_equal(err.data,
			    "PORT: expected a port number 0-65535 (0: any free port), got \"abc\" (from the environment)");
	unsetenv("PORT");
	write_file_mode(".env", "PORT=abc\n", 9, 0600);
	assert_int_equal(cmh_config_load(&cfg, NULL, NULL, &err), CMH_ERR_CONFIG);
	assert_string_equal(err.data, "PORT: expected a port number 0-65535 (0: any free port), got \"abc\" (from ./.env)");

	/* Duplicates: the last one wins; --data-dir overrides DATA_DIR. */
	write_file_mode(".env", "DATA_DIR=/a\nPORT=1\nPORT=2\n", 26, 0600);
	assert_int_equal(cmh_config_load(&cfg, NULL, "/override", &err), CMH_OK);
	assert_int_equal(cfg.port, 2);
	assert_string_equal(cfg.data_dir, "/override");
	assert_int_equal(cmh_config_require(&cfg, CMH_NEED_TOKEN, &err), CMH_ERR_CONFIG);
	assert_string_equal(err.data, "CLIENT_ID is not set (looked in ./.env and the environment)");
	cmh_config_release(&cfg);
	cmh_buf_release(&err);
}

static void test_config_load_files(void **state)
{
	struct cmh_config cfg;
	struct cmh_buf err;
	size_t big_len = CMH_MAX_DOTENV_FILE + 1;
	char *big = malloc(big_len);

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	/* No ./.env: fine, defaults and the environment. */
	assert_int_equal(setenv("CLIENT_ID", "env-id", 1), 0);
	assert_int_equal(cmh_config_load(&cfg, NULL, NULL, &err), CMH_OK);
	assert_null(cfg.env_file);
	assert_string_equal(cfg.client_id, "env-id");
	cmh_config_release(&cfg);

	/* A named file must exist; it is read instead of ./.env. */
	assert_int_equal(cmh_config_load(&cfg, "missing.env", NULL, &err), CMH_ERR_CONFIG);
	assert_string_equal(err.data, "missing.env: No such file or directory");
	write_file_mode(".env", "PORT=1111\n", 10, 0600);
	write_file_mode("other.env", "PORT=2222\n", 10, 0600);
	assert_int_equal(cmh_config_load(&cfg, "other.env", NULL, &err), CMH_OK);
	assert_int_equal(cfg.port, 2222);
	assert_string_equal(cfg.env_file, "other.env");
	cmh_config_release(&cfg);
	assert_int_equal(cmh_config_load(&cfg, ".", NULL, &err), CMH_ERR_CONFIG);
	assert_string_equal(err.data, ".: Is a directory");

	/* Syntax errors carry file:line, never the value. */
	write_file_mode(".env", "PORT=1\nCLIENT_SECRET=\"" SECRET "\n", 23 + strlen(SECRET),
			0600);
	assert_int_equal(cmh_config_load(&cfg, NULL, NULL, &err), CMH_ERR_CONFIG);
	assert_string_equal(err.data, "./.env:2: unterminated double-quoted value");

	/* Size cap: exactly at the limit loads, one byte more does not. */
	assert_non_null(big);
	memset(big, '#', big_len);
	big[big_len - 2] = '\n';
	write_file_mode("big.env", big, big_len - 1, 0600);
	assert_int_equal(cmh_config_load(&cfg, "big.env", NULL, &err), CMH_OK);
	cmh_config_release(&cfg);
	write_file_mode("big.env", big, big_len, 0600);
	assert_int_equal(cmh_config_load(&cfg, "big.env", NULL, &err), CMH_ERR_CONFIG);
	assert_string_equal(err.data, "big.env: larger than 1048576 bytes");
	free(big);
	cmh_buf_release(&err);
}

static void test_config_load_permission_warning(void **state)
{
	struct cmh_config cfg;
	struct cmh_buf err;
	char log[4096];

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	write_file_mode(".env", tutorial_docs_env, strlen(tutorial_docs_env), 0644);
	assert_int_equal(load_capturing(&cfg, NULL, NULL, &err, log, sizeof(log)), CMH_OK);
	cmh_config_release(&cfg);
	assert_non_null(strstr(log, "level=warn mod=config"));
	assert_non_null(strstr(log, "chmod 600"));
	assert_non_null(strstr(log, "file=./.env"));
	assert_non_null(strstr(log, "mode=0644"));
	assert_null(strstr(log, SECRET));
	assert_int_equal(strchr(log, '\n') - log + 1, (ptrdiff_t)strlen(log));   /* one line */

	/* Group-readable only counts too. */
	write_file_mode(".env", tutorial_docs_env, strlen(tutorial_docs_env), 0640);
	assert_int_equal(load_capturing(&cfg, NULL, NULL, &err, log, sizeof(log)), CMH_OK);
	cmh_config_release(&cfg);
	assert_non_null(strstr(log, "chmod 600"));

	/* No secret in the file: nothing to warn about. */
	write_file_mode(".env", "PORT=4000\n", 10, 0644);
	assert_int_equal(setenv("CLIENT_SECRET", SECRET, 1), 0);
	assert_int_equal(load_capturing(&cfg, NULL, NULL, &err, log, sizeof(log)), CMH_OK);
	cmh_config_release(&cfg);
	assert_string_equal(log, "");
	cmh_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_tutorial_docs_env),
		cmocka_unit_test(test_config_tutorial_template_env),
		cmocka_unit_test(test_config_environment_wins),
		cmocka_unit_test(test_config_aliases),
		cmocka_unit_test(test_config_rejects_invalid_values),
		cmocka_unit_test(test_config_accepts_valid_values),
		cmocka_unit_test(test_config_retry_delays_consistent),
		cmocka_unit_test(test_config_secret_sources),
		cmocka_unit_test(test_config_require),
		cmocka_unit_test(test_config_docs_cover_interface_table),
		cmocka_unit_test_setup_teardown(test_config_load_dotenv_and_environment,
						load_setup, load_teardown),
		cmocka_unit_test_setup_teardown(test_config_load_files, load_setup, load_teardown),
		cmocka_unit_test_setup_teardown(test_config_load_permission_warning, load_setup,
						load_teardown),
	};

	clear_environment();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
