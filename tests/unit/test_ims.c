/* Unit tests for ims.c: the pure answer parser and freshness rule, and the
 * cache (memory, token file, single flight, retries) against a scripted fake
 * IMS (fake_server.h) on 127.0.0.1 with an injectable clock. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounds.h"
#include "config.h"
#include "fake_server.h"
#include "fixtures.h"
#include "http_client.h"
#include "ims.h"
#include "log.h"

/* ---- helpers -------------------------------------------------------------- */

#define T0 1700000000000LL
#define TOK1 "{\"access_token\":\"tok-ONE\",\"token_type\":\"bearer\",\"expires_in\":86399}"
#define SECRET "p8e-S3CRET-value&="

struct fake_clock {
	int64_t now;
};

static int64_t fake_now(void *ud)
{
	return __atomic_load_n(&((struct fake_clock *)ud)->now, __ATOMIC_SEQ_CST);
}

static void cfg_init(struct cmh_config *cfg, const char *ims_url, const char *data_dir,
	const char *secret)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->client_id = (char *)"0123456789abcdef";
	cfg->grant_type = (char *)"client_credentials";
	cfg->scopes = (char *)"openid,AdobeID,read_organizations";
	cfg->ims_url = (char *)ims_url;
	cfg->data_dir = (char *)(data_dir ? data_dir : "");
	cfg->http_timeout_ms = 5000;
	assert_int_equal(cmh_secret_set(&cfg->client_secret, secret, strlen(secret)), CMH_OK);
}

struct env {
	struct fake_server *f;
	struct fake_clock clock;
	struct cmh_config cfg;
	struct cmh_ims *ims;
};

/* Start the fake IMS (without routes) and a client for it. */
static void env_start(struct env *e, const char *data_dir)
{
	e->f = fake_start();
	assert_non_null(e->f);
	e->clock.now = T0;
	cfg_init(&e->cfg, fake_url(e->f), data_dir, SECRET);
	assert_int_equal(cmh_ims_new(&e->cfg, fake_now, &e->clock, &e->ims), CMH_OK);
	cmh_ims_set_backoff(e->ims, 1, 4);
}

static void env_stop(struct env *e)
{
	cmh_ims_free(e->ims);
	cmh_secret_clear(&e->cfg.client_secret);
	fake_stop(e->f);
}

static enum cmh_err get_token(struct cmh_ims *ims, bool force, char *out, size_t cap,
	struct cmh_buf *msg)
{
	char *tok = NULL;
	enum cmh_err err = cmh_ims_get(ims, force, &tok, msg);

	if (!err) {
		snprintf(out, cap, "%s", tok);
		cmh_token_string_free(tok);
	}
	return err;
}

/* Script the fake IMS: the next answers are tokens tok1, then tok2 (when not NULL). */
static void push_tokens(struct env *e, const char *tok1, unsigned delay_ms, const char *tok2)
{
	fx_ims_push_token(e->f, tok1, delay_ms);
	if (tok2)
		fx_ims_push_token(e->f, tok2, 0);
}

/* Script one JSON answer of the fake IMS. */
static void push_answer(struct env *e, unsigned status, const char *body, const char *headers)
{
	const struct fake_response r = { .status = status, .body = body, .headers = headers };

	fake_push(e->f, "POST", FX_IMS_PATH, &r);
}

/* Requests the fake IMS received. */
static size_t requests(struct env *e)
{
	return fake_count(e->f, NULL, NULL);
}

/* ---- parser and freshness ------------------------------------------------ */

static void test_ims_parse_ok(void **state)
{
	static const struct {
		const char *body;
		int64_t expires_in;
	} cases[] = {
		{ TOK1, 86399 },
		{ "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":1}", 1 },
		{ "{\"access_token\":\"a\",\"token_type\":\"BEARER\",\"expires_in\":\"86399\"}", 86399 },
		{ "{\"expires_in\":5,\"token_type\":\"bearer\",\"access_token\":\"x.y.z\",\"extra\":[1]}", 5 },
	};
	struct cmh_token t;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&t, 0, sizeof(t));
		assert_int_equal(cmh_ims_parse_response(200, cases[i].body, strlen(cases[i].body),
							T0, &t, NULL), CMH_OK);
		assert_non_null(t.access_token);
		assert_int_equal(t.expires_in_s, cases[i].expires_in);
		assert_int_equal(t.obtained_at_ms, T0);
		assert_int_equal(t.expires_at_ms, T0 + cases[i].expires_in * 1000);
		assert_string_equal(t.token_type, "bearer");
		cmh_token_release(&t);
		assert_null(t.access_token);
	}
}

static void test_ims_parse_bad_success(void **state)
{
	static const struct {
		const char *body;
		const char *msg;
	} cases[] = {
		{ "", "IMS answer is not JSON" },
		{ "<html>oops</html>", "IMS answer is not JSON" },
		{ "{\"access_token\":\"a\"", "IMS answer is not JSON" },
		{ "[1,2]", "IMS answer is not a JSON object" },
		{ "\"tok\"", "IMS answer is not a JSON object" },
		{ "{\"token_type\":\"bearer\",\"expires_in\":5}", "IMS answer is missing \"access_token\"" },
		{ "{\"access_token\":\"\",\"token_type\":\"bearer\",\"expires_in\":5}", "\"access_token\"" },
		{ "{\"access_token\":7,\"token_type\":\"bearer\",\"expires_in\":5}", "\"access_token\"" },
		{ "{\"access_token\":\"a b\",\"token_type\":\"bearer\",\"expires_in\":5}", "\"access_token\"" },
		{ "{\"access_token\":\"a\\r\\nX: y\",\"token_type\":\"bearer\",\"expires_in\":5}", "\"access_token\"" },
		{ "{\"access_token\":\"a\",\"expires_in\":5}", "\"token_type\"" },
		{ "{\"access_token\":\"a\",\"token_type\":\"mac\",\"expires_in\":5}", "\"token_type\"" },
		{ "{\"access_token\":\"a\",\"token_type\":\"bearer\"}", "IMS answer is missing \"expires_in\"" },
		{ "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":0}", "\"expires_in\"" },
		{ "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":-5}", "\"expires_in\"" },
		{ "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":1.5}", "\"expires_in\"" },
		{ "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":\"\"}", "\"expires_in\"" },
		{ "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":\"-5\"}", "\"expires_in\"" },
		{ "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":\"5s\"}", "\"expires_in\"" },
		{ "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":99999999999999}", "\"expires_in\"" },
		{ "{\"access_token\":\"a\",\"access_token\":\"b\",\"token_type\":\"bearer\",\"expires_in\":5}", "not JSON" },
	};
	struct cmh_token t = { 0 };
	struct cmh_buf msg;

	(void)state;
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cmh_buf_reset(&msg);
		if (cmh_ims_parse_response(200, cases[i].body, strlen(cases[i].body), T0, &t,
					   &msg) != CMH_ERR_PARSE)
			fail_msg("case %zu accepted", i);
		if (!strstr(msg.data, cases[i].msg))
			fail_msg("case %zu: message %s", i, msg.data);
		assert_null(t.access_token);
	}
	/* Oversized token */
	{
		size_t n = CMH_TOKEN_MAX_LEN + 1;
		char *body = malloc(n + 100);

		assert_non_null(body);
		memcpy(body, "{\"access_token\":\"", 17);
		memset(body + 17, 'a', n);
		snprintf(body + 17 + n, 83, "\",\"token_type\":\"bearer\",\"expires_in\":5}");
		assert_int_equal(cmh_ims_parse_response(200, body, strlen(body), T0, &t, NULL),
				 CMH_ERR_PARSE);
		free(body);
	}
	assert_int_equal(cmh_ims_parse_response(200, NULL, 0, T0, &t, NULL), CMH_ERR_PARSE);
	cmh_buf_release(&msg);
}

static void test_ims_parse_errors(void **state)
{
	static const struct {
		long status;
		const char *body;
		enum cmh_err err;
		const char *msg;
	} cases[] = {
		{ 401, "{\"error\":\"invalid_client\",\"error_description\":\"invalid client_secret parameter\"}",
		  CMH_ERR_AUTH, "IMS answered 401 invalid_client: invalid client_secret parameter" },
		{ 400, "{\"error\":\"invalid_client\",\"error_description\":\"unknown client\"}",
		  CMH_ERR_AUTH, "IMS answered 400 invalid_client: unknown client" },
		{ 400, "{\"error\":\"invalid_scope\",\"error_description\":\"bad scope\"}",
		  CMH_ERR_REJECTED, "IMS answered 400 invalid_scope: bad scope" },
		{ 400, "{\"error\":\"invalid_request\"}", CMH_ERR_REJECTED,
		  "IMS answered 400 invalid_request" },
		{ 403, "", CMH_ERR_AUTH, "IMS answered 403" },
		{ 500, "{\"error\":\"internal_error\",\"error_description\":\"Please try again later\"}",
		  CMH_ERR_UPSTREAM, "IMS answered 500 internal_error: Please try again later" },
		{ 503, "<html>down</html>", CMH_ERR_UPSTREAM, "IMS answered 503" },
		{ 429, "{}", CMH_ERR_UPSTREAM, "IMS answered 429" },
		{ 302, "", CMH_ERR_REJECTED, "IMS answered 302" },
		{ 404, "[]", CMH_ERR_NOT_FOUND, "IMS answered 404" },
		{ 400, "{\"error\":\"x\\\"y\",\"error_description\":\"line1\\nline2\\u001b[31m \\\\ end\"}",
		  CMH_ERR_REJECTED, "IMS answered 400 x\\\"y: line1\\x0aline2\\x1b[31m \\\\ end" },
	};
	struct cmh_token t = { 0 };
	struct cmh_buf msg;

	(void)state;
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum cmh_err err = cmh_ims_parse_response(cases[i].status, cases[i].body,
							  strlen(cases[i].body), T0, &t, &msg);

		if (err != cases[i].err)
			fail_msg("case %zu: err %d", i, err);
		assert_string_equal(msg.data, cases[i].msg);
		assert_null(t.access_token);
	}
	/* A very long description is cut, never overflows. */
	{
		char body[4096];
		char desc[3000];

		memset(desc, 'd', sizeof(desc) - 1);
		desc[sizeof(desc) - 1] = '\0';
		snprintf(body, sizeof(body), "{\"error\":\"e\",\"error_description\":\"%s\"}", desc);
		assert_int_equal(cmh_ims_parse_response(400, body, strlen(body), T0, &t, &msg),
				 CMH_ERR_REJECTED);
		assert_true(msg.len < 400);
		assert_non_null(strstr(msg.data, "..."));
	}
	cmh_buf_release(&msg);
}

static void test_ims_freshness(void **state)
{
	struct cmh_token t = { .access_token = (char *)"x", .expires_in_s = 86399,
			       .obtained_at_ms = T0, .expires_at_ms = T0 + 86399000LL };

	(void)state;
	/* lifetime 86399 s: margin = 10 % = 8640 s (rounded up) */
	assert_true(cmh_token_is_fresh(&t, T0));
	assert_true(cmh_token_is_fresh(&t, t.expires_at_ms - 8640000 - 1));
	assert_false(cmh_token_is_fresh(&t, t.expires_at_ms - 8640000));
	assert_false(cmh_token_is_fresh(&t, t.expires_at_ms));
	assert_false(cmh_token_is_fresh(&t, t.expires_at_ms + 1));
	/* lifetime 1200 s: margin is the 600 s floor */
	t.expires_in_s = 1200;
	t.expires_at_ms = T0 + 1200000;
	assert_true(cmh_token_is_fresh(&t, T0 + 600000 - 1));
	assert_false(cmh_token_is_fresh(&t, T0 + 600000));
	/* lifetime below the margin: never fresh */
	t.expires_in_s = 300;
	t.expires_at_ms = T0 + 300000;
	assert_false(cmh_token_is_fresh(&t, T0));
	/* no token */
	t.access_token = NULL;
	assert_false(cmh_token_is_fresh(&t, T0 - 1000));
	assert_false(cmh_token_is_fresh(NULL, T0));
}

/* ---- the cache against a fake IMS ---------------------------------------- */

/* A header of req, "" when absent (so that assert_string_equal reports it). */
static const char *hdr(const struct fake_request *req, const char *name)
{
	const char *v = fake_header(req, name);

	return v ? v : "";
}

static void test_ims_request_and_memory_cache(void **state)
{
	struct env e;
	const struct fake_request *req;
	char tok[64];

	(void)state;
	env_start(&e, NULL);
	push_tokens(&e, "tok-ONE", 0, "tok-TWO");
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-ONE");
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-ONE");
	assert_int_equal(requests(&e), 1);
	assert_int_equal(cmh_ims_requests(e.ims), 1);
	/* What IMS received (ims-oauth.md §1) */
	req = fake_request_last(e.f, NULL, NULL);
	assert_non_null(req);
	assert_string_equal(req->method, "POST");
	assert_string_equal(req->path, "/ims/token/v3");
	assert_string_equal(hdr(req, "Content-Type"), "application/x-www-form-urlencoded");
	assert_string_equal(hdr(req, "Accept"), "application/json");
	assert_string_equal(req->body, "grant_type=client_credentials&client_id=0123456789abcdef"
			    "&client_secret=p8e-S3CRET-value%26%3D"
			    "&scope=openid%2CAdobeID%2Cread_organizations");
	/* Just before the margin: still cached; at the margin: refreshed. */
	e.clock.now = T0 + 86399000LL - 8640000 - 1;
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_int_equal(requests(&e), 1);
	__atomic_store_n(&e.clock.now, T0 + 86399000LL - 8640000, __ATOMIC_SEQ_CST);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-TWO");
	assert_int_equal(requests(&e), 2);
	/* force_refresh asks again even though the token is fresh */
	assert_int_equal(get_token(e.ims, true, tok, sizeof(tok), NULL), CMH_OK);
	assert_int_equal(requests(&e), 3);
	env_stop(&e);
}

struct racer {
	struct cmh_ims *ims;
	enum cmh_err err;
	char tok[64];
};

static void *race(void *arg)
{
	struct racer *r = arg;

	r->err = get_token(r->ims, false, r->tok, sizeof(r->tok), NULL);
	return NULL;
}

static void test_ims_single_flight(void **state)
{
	struct env e;
	struct racer r[8];
	pthread_t th[8];

	(void)state;
	/* The slow answer makes sure the other threads arrive while it is in flight. */
	env_start(&e, NULL);
	push_tokens(&e, "tok-ONE", 300, "tok-TWO");
	for (int i = 0; i < 8; i++) {
		r[i] = (struct racer){ .ims = e.ims };
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].err, CMH_OK);
		assert_string_equal(r[i].tok, "tok-ONE");
	}
	assert_int_equal(requests(&e), 1);
	assert_int_equal(cmh_ims_requests(e.ims), 1);
	env_stop(&e);
}

static void test_ims_retries_transient(void **state)
{
	struct env e;
	struct cmh_buf msg;
	char tok[64];

	(void)state;
	env_start(&e, NULL);
	push_answer(&e, 503, "{\"error\":\"internal_error\"}", NULL);
	push_tokens(&e, "tok-ONE", 0, NULL);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), &msg), CMH_OK);
	assert_string_equal(tok, "tok-ONE");
	assert_int_equal(requests(&e), 2);
	cmh_buf_release(&msg);
	env_stop(&e);
}

static void test_ims_gives_up_after_max_attempts(void **state)
{
	struct env e;
	struct cmh_buf msg;
	char tok[64];

	(void)state;
	env_start(&e, NULL);
	push_answer(&e, 500, "{\"error\":\"internal_error\",\"error_description\":\"later\"}", NULL);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), &msg), CMH_ERR_UPSTREAM);
	assert_string_equal(msg.data, "IMS answered 500 internal_error: later");
	assert_int_equal(requests(&e), CMH_IMS_MAX_ATTEMPTS);
	cmh_buf_release(&msg);
	env_stop(&e);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_ims_honours_retry_after(void **state)
{
	struct env e;
	char tok[64];
	int64_t t0;

	(void)state;
	env_start(&e, NULL);
	push_answer(&e, 429, "{}", "Retry-After: 1");
	push_tokens(&e, "tok-ONE", 0, NULL);
	t0 = mono_ms();
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	/* backoff is 1 ms in tests, so only Retry-After explains the wait */
	assert_true(mono_ms() - t0 >= 990);
	assert_int_equal(requests(&e), 2);
	env_stop(&e);
}

static void test_ims_auth_error_not_retried(void **state)
{
	struct env e;
	struct cmh_buf msg;
	char tok[64];

	(void)state;
	env_start(&e, NULL);
	push_answer(&e, 401, "{\"error\":\"invalid_client\",\"error_description\":"
		    "\"invalid client_secret parameter\"}", NULL);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), &msg), CMH_ERR_AUTH);
	assert_string_equal(msg.data, "IMS answered 401 invalid_client: invalid client_secret parameter");
	assert_int_equal(requests(&e), 1);
	assert_null(strstr(msg.data, SECRET));
	/* 400 invalid_scope: also permanent, not retried */
	cmh_buf_release(&msg);
	env_stop(&e);
}

static void test_ims_timeout_message(void **state)
{
	struct env e;
	struct cmh_buf msg, want;
	char tok[64];

	(void)state;
	env_start(&e, NULL);
	push_tokens(&e, "tok-ONE", 1200, NULL);
	e.cfg.http_timeout_ms = 150;
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	cmh_buf_init(&want, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), &msg), CMH_ERR_TIMEOUT);
	assert_int_equal(cmh_buf_addf(&want, "IMS request timed out after 150ms (%s)", fake_url(e.f)),
			 CMH_OK);
	assert_string_equal(msg.data, want.data);
	assert_int_equal(cmh_ims_requests(e.ims), CMH_IMS_MAX_ATTEMPTS);
	cmh_buf_release(&msg);
	cmh_buf_release(&want);
	env_stop(&e);
}

static void test_ims_network_error(void **state)
{
	struct cmh_config cfg;
	struct cmh_ims *ims;
	struct cmh_buf msg;
	char tok[64];
	char url[64];
	uint16_t port;
	int fd = fake_refusing_port(&port);

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	cfg_init(&cfg, url, NULL, SECRET);
	assert_int_equal(cmh_ims_new(&cfg, NULL, NULL, &ims), CMH_OK);
	cmh_ims_set_backoff(ims, 1, 2);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(get_token(ims, false, tok, sizeof(tok), &msg), CMH_ERR_NETWORK);
	assert_true(strncmp(msg.data, "IMS request to http://127.0.0.1:", 32) == 0);
	assert_int_equal(cmh_ims_requests(ims), CMH_IMS_MAX_ATTEMPTS);
	cmh_buf_release(&msg);
	cmh_ims_free(ims);
	cmh_secret_clear(&cfg.client_secret);
	close(fd);
}

static void test_ims_invalidate(void **state)
{
	struct env e;
	char tok[64];

	(void)state;
	env_start(&e, NULL);
	push_tokens(&e, "tok-ONE", 0, "tok-TWO");
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	/* A token that is no longer current is ignored. */
	cmh_ims_invalidate(e.ims, "tok-OLD");
	cmh_ims_invalidate(e.ims, NULL);
	cmh_ims_invalidate(NULL, "tok-ONE");
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-ONE");
	assert_int_equal(requests(&e), 1);
	cmh_ims_invalidate(e.ims, "tok-ONE");
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-TWO");
	assert_int_equal(requests(&e), 2);
	env_stop(&e);
}

/* ---- the token file -------------------------------------------------------- */

struct tmpdir {
	char root[64];
	char data[96];
	char file[128];
};

static void tmpdir_make(struct tmpdir *t)
{
	snprintf(t->root, sizeof(t->root), "/tmp/cmh-test-ims-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->data, sizeof(t->data), "%s/data", t->root);
	snprintf(t->file, sizeof(t->file), "%s/token.json", t->data);
}

static void tmpdir_remove(struct tmpdir *t)
{
	(void)unlink(t->file);
	(void)rmdir(t->data);
	assert_int_equal(rmdir(t->root), 0);
}

static void test_ims_token_file(void **state)
{
	struct tmpdir d;
	struct env e;
	struct cmh_config cfg2;
	struct cmh_ims *ims2;
	struct stat st;
	char tok[64];

	(void)state;
	tmpdir_make(&d);
	env_start(&e, d.data);
	push_tokens(&e, "tok-ONE", 0, "tok-TWO");
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_int_equal(stat(d.data, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(d.file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	/* A second client (a later CLI run) reuses the file: no request. */
	cfg_init(&cfg2, fake_url(e.f), d.data, SECRET);
	assert_int_equal(cmh_ims_new(&cfg2, fake_now, &e.clock, &ims2), CMH_OK);
	assert_int_equal(get_token(ims2, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-ONE");
	assert_int_equal(cmh_ims_requests(ims2), 0);
	assert_int_equal(requests(&e), 1);
	cmh_ims_free(ims2);

	/* ... but not once the clock says it is stale. */
	assert_int_equal(cmh_ims_new(&cfg2, fake_now, &e.clock, &ims2), CMH_OK);
	e.clock.now = T0 + 86399000LL;
	assert_int_equal(get_token(ims2, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-TWO");
	assert_int_equal(cmh_ims_requests(ims2), 1);
	cmh_ims_free(ims2);
	cmh_secret_clear(&cfg2.client_secret);
	env_stop(&e);
	tmpdir_remove(&d);
}

static void test_ims_token_file_rejected(void **state)
{
	struct tmpdir d;
	struct env e;
	struct cmh_config cfg2;
	struct cmh_ims *ims2;
	char tok[64];
	int fd;

	(void)state;
	tmpdir_make(&d);
	env_start(&e, d.data);
	push_tokens(&e, "tok-ONE", 0, "tok-TWO");
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);

	/* Rotated secret: the file's token is not reused. */
	cfg_init(&cfg2, fake_url(e.f), d.data, "another-secret");
	assert_int_equal(cmh_ims_new(&cfg2, fake_now, &e.clock, &ims2), CMH_OK);
	assert_int_equal(get_token(ims2, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-TWO");
	assert_int_equal(cmh_ims_requests(ims2), 1);
	cmh_ims_free(ims2);
	cmh_secret_clear(&cfg2.client_secret);

	/* Other scopes: not reused either. */
	cfg_init(&cfg2, fake_url(e.f), d.data, SECRET);
	cfg2.scopes = (char *)"openid";
	assert_int_equal(cmh_ims_new(&cfg2, fake_now, &e.clock, &ims2), CMH_OK);
	assert_int_equal(get_token(ims2, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_int_equal(cmh_ims_requests(ims2), 1);
	cmh_ims_free(ims2);

	/* A corrupt file is ignored. */
	fd = open(d.file, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"key\":", 7), 7);
	close(fd);
	cfg2.scopes = e.cfg.scopes;
	assert_int_equal(cmh_ims_new(&cfg2, fake_now, &e.clock, &ims2), CMH_OK);
	assert_int_equal(get_token(ims2, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_int_equal(cmh_ims_requests(ims2), 1);
	/* An invalidated token is dropped from the file too. */
	cmh_ims_invalidate(ims2, tok);
	assert_int_not_equal(access(d.file, F_OK), 0);
	cmh_ims_free(ims2);
	cmh_secret_clear(&cfg2.client_secret);
	env_stop(&e);
	tmpdir_remove(&d);
}

/* ---- logs never carry the secret or the token ------------------------------ */

static void test_ims_logs_no_secrets(void **state)
{
	struct env e;
	char tok[64];
	char path[] = "/tmp/cmh-test-ims-log-XXXXXX";
	char logbuf[16384];
	ssize_t n;
	int fd, saved;

	(void)state;
	env_start(&e, NULL);
	push_answer(&e, 503, "{\"error\":\"x\"}", NULL);
	push_tokens(&e, "tok-ONE", 0, NULL);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	cmh_log_set_level(CMH_LOG_DEBUG);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	cmh_ims_invalidate(e.ims, tok);
	cmh_log_set_level(CMH_LOG_INFO);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, logbuf, sizeof(logbuf) - 1);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	logbuf[n] = '\0';
	assert_non_null(strstr(logbuf, "token obtained"));
	assert_non_null(strstr(logbuf, "token_fp="));
	assert_non_null(strstr(logbuf, "expires_in=86399"));
	assert_non_null(strstr(logbuf, "will retry"));
	assert_null(strstr(logbuf, "S3CRET"));
	assert_null(strstr(logbuf, "tok-ONE"));
	assert_null(strstr(logbuf, "client_secret"));
	env_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ims_parse_ok),
		cmocka_unit_test(test_ims_parse_bad_success),
		cmocka_unit_test(test_ims_parse_errors),
		cmocka_unit_test(test_ims_freshness),
		cmocka_unit_test(test_ims_request_and_memory_cache),
		cmocka_unit_test(test_ims_single_flight),
		cmocka_unit_test(test_ims_retries_transient),
		cmocka_unit_test(test_ims_gives_up_after_max_attempts),
		cmocka_unit_test(test_ims_honours_retry_after),
		cmocka_unit_test(test_ims_auth_error_not_retried),
		cmocka_unit_test(test_ims_timeout_message),
		cmocka_unit_test(test_ims_network_error),
		cmocka_unit_test(test_ims_invalidate),
		cmocka_unit_test(test_ims_token_file),
		cmocka_unit_test(test_ims_token_file_rejected),
		cmocka_unit_test(test_ims_logs_no_secrets),
	};

	return cmocka_run_group_tests(tests, fx_http_setup, fx_http_teardown);
}
