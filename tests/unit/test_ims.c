/* Unit tests for ims.c: the pure answer parser and freshness rule, and the
 * cache (memory, token file, single flight, retries) against a scripted fake
 * IMS on 127.0.0.1 with an injectable clock. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "bounds.h"
#include "config.h"
#include "http_client.h"
#include "ims.h"
#include "log.h"

/* ---- a tiny scripted HTTP server on 127.0.0.1:0 (libmicrohttpd) ---------- */

struct fake_reply {
	unsigned status;
	const char *body;
	const char *hname;     /* optional extra response header */
	const char *hvalue;
	unsigned delay_ms;     /* before answering */
	bool chunked;          /* no Content-Length */
};

struct fake {
	struct MHD_Daemon *d;
	unsigned short port;
	char base[64];                     /* "http://127.0.0.1:<port>" */
	pthread_mutex_t mu;
	const struct fake_reply *replies;  /* the last one repeats */
	size_t n_replies;
	unsigned count;
	char method[16], url[512], auth[512], ctype[128], apikey[128], org[128], accept[128];
	char body[8192];
};

struct fake_conn {
	char body[8192];
	size_t len;
};

static void fake_hdr(struct MHD_Connection *c, const char *name, char *dst, size_t cap)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

	snprintf(dst, cap, "%s", v ? v : "");
}

static ssize_t fake_chunk(void *cls, uint64_t pos, char *buf, size_t max)
{
	const char *body = cls;
	size_t len = strlen(body);

	if (pos >= len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > len - pos)
		max = len - pos;
	memcpy(buf, body + pos, max);
	return (ssize_t)max;
}

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
	const char *method, const char *version, const char *upload, size_t *upload_size,
	void **con_cls)
{
	struct fake *f = cls;
	struct fake_conn *fc = *con_cls;
	const struct fake_reply *r;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)version;
	if (!fc) {
		fc = calloc(1, sizeof(*fc));
		*con_cls = fc;
		return fc ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		if (n > sizeof(fc->body) - 1 - fc->len)
			n = sizeof(fc->body) - 1 - fc->len;
		memcpy(fc->body + fc->len, upload, n);
		fc->len += n;
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&f->mu);
	r = &f->replies[f->count < f->n_replies ? f->count : f->n_replies - 1];
	f->count++;
	snprintf(f->method, sizeof(f->method), "%s", method);
	snprintf(f->url, sizeof(f->url), "%s", url);
	fake_hdr(c, "Authorization", f->auth, sizeof(f->auth));
	fake_hdr(c, "Content-Type", f->ctype, sizeof(f->ctype));
	fake_hdr(c, "x-api-key", f->apikey, sizeof(f->apikey));
	fake_hdr(c, "x-gw-ims-org-id", f->org, sizeof(f->org));
	fake_hdr(c, "Accept", f->accept, sizeof(f->accept));
	memcpy(f->body, fc->body, fc->len + 1);
	pthread_mutex_unlock(&f->mu);
	if (r->delay_ms) {
		struct timespec ts = { r->delay_ms / 1000, (long)(r->delay_ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
	if (r->chunked)
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, fake_chunk,
							 (void *)r->body, NULL);
	else
		resp = MHD_create_response_from_buffer(strlen(r->body), (void *)r->body,
						       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (r->hname)
		MHD_add_response_header(resp, r->hname, r->hvalue);
	ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void fake_completed(void *cls, struct MHD_Connection *c, void **con_cls,
	enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static void fake_start(struct fake *f, const struct fake_reply *replies, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	const union MHD_DaemonInfo *info;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->replies = replies;
	f->n_replies = n;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
				0, NULL, NULL, fake_handler, f,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_NOTIFY_COMPLETED, fake_completed, f,
				MHD_OPTION_END);
	assert_non_null(f->d);
	info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	f->port = info->port;
	assert_true(f->port > 0);
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", f->port);
}

static unsigned fake_count(struct fake *f)
{
	unsigned n;

	pthread_mutex_lock(&f->mu);
	n = f->count;
	pthread_mutex_unlock(&f->mu);
	return n;
}

static void fake_stop(struct fake *f)
{
	MHD_stop_daemon(f->d);
	pthread_mutex_destroy(&f->mu);
}

#define FAKE_START(f, ...) do { \
		static const struct fake_reply r_[] = { __VA_ARGS__ }; \
		fake_start((f), r_, sizeof(r_) / sizeof(r_[0])); \
	} while (0)

/* ---- helpers -------------------------------------------------------------- */

#define T0 1700000000000LL
#define TOK1 "{\"access_token\":\"tok-ONE\",\"token_type\":\"bearer\",\"expires_in\":86399}"
#define TOK2 "{\"access_token\":\"tok-TWO\",\"token_type\":\"bearer\",\"expires_in\":86399}"
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
	struct fake f;
	struct fake_clock clock;
	struct cmh_config cfg;
	struct cmh_ims *ims;
};

static void env_start(struct env *e, const char *data_dir)
{
	e->clock.now = T0;
	cfg_init(&e->cfg, e->f.base, data_dir, SECRET);
	assert_int_equal(cmh_ims_new(&e->cfg, fake_now, &e->clock, &e->ims), CMH_OK);
	cmh_ims_set_backoff(e->ims, 1, 4);
}

static void env_stop(struct env *e)
{
	cmh_ims_free(e->ims);
	cmh_secret_clear(&e->cfg.client_secret);
	fake_stop(&e->f);
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

static void test_ims_request_and_memory_cache(void **state)
{
	struct env e;
	char tok[64];

	(void)state;
	FAKE_START(&e.f, { 200, TOK1, NULL, NULL, 0, false }, { 200, TOK2, NULL, NULL, 0, false });
	env_start(&e, NULL);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-ONE");
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-ONE");
	assert_int_equal(fake_count(&e.f), 1);
	assert_int_equal(cmh_ims_requests(e.ims), 1);
	/* What IMS received (ims-oauth.md §1) */
	assert_string_equal(e.f.method, "POST");
	assert_string_equal(e.f.url, "/ims/token/v3");
	assert_string_equal(e.f.ctype, "application/x-www-form-urlencoded");
	assert_string_equal(e.f.accept, "application/json");
	assert_string_equal(e.f.body, "grant_type=client_credentials&client_id=0123456789abcdef"
			    "&client_secret=p8e-S3CRET-value%26%3D"
			    "&scope=openid%2CAdobeID%2Cread_organizations");
	/* Just before the margin: still cached; at the margin: refreshed. */
	e.clock.now = T0 + 86399000LL - 8640000 - 1;
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_int_equal(fake_count(&e.f), 1);
	__atomic_store_n(&e.clock.now, T0 + 86399000LL - 8640000, __ATOMIC_SEQ_CST);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-TWO");
	assert_int_equal(fake_count(&e.f), 2);
	/* force_refresh asks again even though the token is fresh */
	assert_int_equal(get_token(e.ims, true, tok, sizeof(tok), NULL), CMH_OK);
	assert_int_equal(fake_count(&e.f), 3);
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
	FAKE_START(&e.f, { 200, TOK1, NULL, NULL, 300, false }, { 200, TOK2, NULL, NULL, 0, false });
	env_start(&e, NULL);
	for (int i = 0; i < 8; i++) {
		r[i] = (struct racer){ .ims = e.ims };
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].err, CMH_OK);
		assert_string_equal(r[i].tok, "tok-ONE");
	}
	assert_int_equal(fake_count(&e.f), 1);
	assert_int_equal(cmh_ims_requests(e.ims), 1);
	env_stop(&e);
}

static void test_ims_retries_transient(void **state)
{
	struct env e;
	struct cmh_buf msg;
	char tok[64];

	(void)state;
	FAKE_START(&e.f, { 503, "{\"error\":\"internal_error\"}", NULL, NULL, 0, false },
		   { 200, TOK1, NULL, NULL, 0, false });
	env_start(&e, NULL);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), &msg), CMH_OK);
	assert_string_equal(tok, "tok-ONE");
	assert_int_equal(fake_count(&e.f), 2);
	cmh_buf_release(&msg);
	env_stop(&e);
}

static void test_ims_gives_up_after_max_attempts(void **state)
{
	struct env e;
	struct cmh_buf msg;
	char tok[64];

	(void)state;
	FAKE_START(&e.f, { 500, "{\"error\":\"internal_error\",\"error_description\":\"later\"}",
			   NULL, NULL, 0, false });
	env_start(&e, NULL);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), &msg), CMH_ERR_UPSTREAM);
	assert_string_equal(msg.data, "IMS answered 500 internal_error: later");
	assert_int_equal(fake_count(&e.f), CMH_IMS_MAX_ATTEMPTS);
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
	FAKE_START(&e.f, { 429, "{}", "Retry-After", "1", 0, false },
		   { 200, TOK1, NULL, NULL, 0, false });
	env_start(&e, NULL);
	t0 = mono_ms();
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	/* backoff is 1 ms in tests, so only Retry-After explains the wait */
	assert_true(mono_ms() - t0 >= 990);
	assert_int_equal(fake_count(&e.f), 2);
	env_stop(&e);
}

static void test_ims_auth_error_not_retried(void **state)
{
	struct env e;
	struct cmh_buf msg;
	char tok[64];

	(void)state;
	FAKE_START(&e.f, { 401, "{\"error\":\"invalid_client\",\"error_description\":"
			   "\"invalid client_secret parameter\"}", NULL, NULL, 0, false });
	env_start(&e, NULL);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), &msg), CMH_ERR_AUTH);
	assert_string_equal(msg.data, "IMS answered 401 invalid_client: invalid client_secret parameter");
	assert_int_equal(fake_count(&e.f), 1);
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
	FAKE_START(&e.f, { 200, TOK1, NULL, NULL, 1200, false });
	env_start(&e, NULL);
	e.cfg.http_timeout_ms = 150;
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	cmh_buf_init(&want, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), &msg), CMH_ERR_TIMEOUT);
	assert_int_equal(cmh_buf_addf(&want, "IMS request timed out after 150ms (%s)", e.f.base),
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
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char url[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
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
}

static void test_ims_invalidate(void **state)
{
	struct env e;
	char tok[64];

	(void)state;
	FAKE_START(&e.f, { 200, TOK1, NULL, NULL, 0, false }, { 200, TOK2, NULL, NULL, 0, false });
	env_start(&e, NULL);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	/* A token that is no longer current is ignored. */
	cmh_ims_invalidate(e.ims, "tok-OLD");
	cmh_ims_invalidate(e.ims, NULL);
	cmh_ims_invalidate(NULL, "tok-ONE");
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-ONE");
	assert_int_equal(fake_count(&e.f), 1);
	cmh_ims_invalidate(e.ims, "tok-ONE");
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-TWO");
	assert_int_equal(fake_count(&e.f), 2);
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
	FAKE_START(&e.f, { 200, TOK1, NULL, NULL, 0, false }, { 200, TOK2, NULL, NULL, 0, false });
	env_start(&e, d.data);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_int_equal(stat(d.data, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(d.file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	/* A second client (a later CLI run) reuses the file: no request. */
	cfg_init(&cfg2, e.f.base, d.data, SECRET);
	assert_int_equal(cmh_ims_new(&cfg2, fake_now, &e.clock, &ims2), CMH_OK);
	assert_int_equal(get_token(ims2, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-ONE");
	assert_int_equal(cmh_ims_requests(ims2), 0);
	assert_int_equal(fake_count(&e.f), 1);
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
	FAKE_START(&e.f, { 200, TOK1, NULL, NULL, 0, false }, { 200, TOK2, NULL, NULL, 0, false });
	env_start(&e, d.data);
	assert_int_equal(get_token(e.ims, false, tok, sizeof(tok), NULL), CMH_OK);

	/* Rotated secret: the file's token is not reused. */
	cfg_init(&cfg2, e.f.base, d.data, "another-secret");
	assert_int_equal(cmh_ims_new(&cfg2, fake_now, &e.clock, &ims2), CMH_OK);
	assert_int_equal(get_token(ims2, false, tok, sizeof(tok), NULL), CMH_OK);
	assert_string_equal(tok, "tok-TWO");
	assert_int_equal(cmh_ims_requests(ims2), 1);
	cmh_ims_free(ims2);
	cmh_secret_clear(&cfg2.client_secret);

	/* Other scopes: not reused either. */
	cfg_init(&cfg2, e.f.base, d.data, SECRET);
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
	FAKE_START(&e.f, { 503, "{\"error\":\"x\"}", NULL, NULL, 0, false },
		   { 200, TOK1, NULL, NULL, 0, false });
	env_start(&e, NULL);
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

static int setup(void **state)
{
	(void)state;
	return cmh_http_global_init() == CMH_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	cmh_http_global_cleanup();
	return 0;
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

	return cmocka_run_group_tests(tests, setup, teardown);
}
