/* Unit tests for cmapi.c against fake IMS and Cloud Manager servers on
 * 127.0.0.1: headers sent, the origin rule (a refused URL costs no request to
 * anyone), no redirects, and the single token refresh on 401. */
#include <arpa/inet.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "cmapi.h"
#include "config.h"
#include "http_client.h"
#include "ims.h"

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

#define TOK1 "{\"access_token\":\"tok-ONE\",\"token_type\":\"bearer\",\"expires_in\":86399}"
#define TOK2 "{\"access_token\":\"tok-TWO\",\"token_type\":\"bearer\",\"expires_in\":86399}"

struct env {
	struct fake ims_srv;
	struct fake cm;
	struct cmh_config cfg;
	struct cmh_ims *ims;
	struct cmh_http_response resp;
	struct cmh_buf msg;
};

static void env_start(struct env *e)
{
	memset(&e->cfg, 0, sizeof(e->cfg));
	e->cfg.client_id = (char *)"cid";
	e->cfg.api_key = (char *)"the-api-key";
	e->cfg.organization_id = (char *)"ORG@AdobeOrg";
	e->cfg.grant_type = (char *)"client_credentials";
	e->cfg.scopes = (char *)"openid";
	e->cfg.ims_url = e->ims_srv.base;
	e->cfg.cloudmanager_api_url = e->cm.base;
	e->cfg.data_dir = (char *)"";
	e->cfg.http_timeout_ms = 5000;
	assert_int_equal(cmh_secret_set(&e->cfg.client_secret, "s3cret", 6), CMH_OK);
	assert_int_equal(cmh_ims_new(&e->cfg, NULL, NULL, &e->ims), CMH_OK);
	cmh_ims_set_backoff(e->ims, 1, 2);
	cmh_http_response_init(&e->resp);
	cmh_buf_init(&e->msg, CMH_BUF_MAX_ERRMSG);
}

static void env_stop(struct env *e)
{
	cmh_buf_release(&e->msg);
	cmh_http_response_release(&e->resp);
	cmh_ims_free(e->ims);
	cmh_secret_clear(&e->cfg.client_secret);
	fake_stop(&e->cm);
	fake_stop(&e->ims_srv);
}

static enum cmh_err call(struct env *e, const char *method, const char *target, const char *body)
{
	return cmh_cmapi_call(&e->cfg, e->ims, method, target, body, body ? strlen(body) : 0,
			      &e->resp, &e->msg);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_cmapi_sends_headers(void **state)
{
	struct env e;
	char abs[128];

	(void)state;
	FAKE_START(&e.ims_srv, { 200, TOK1, NULL, NULL, 0, false });
	FAKE_START(&e.cm, { 200, "{\"id\":\"1\"}", "x-request-id", "rq-1", 0, false });
	env_start(&e);
	assert_int_equal(call(&e, NULL, "/api/program/1?x=1", NULL), CMH_OK);
	assert_int_equal(e.resp.status, 200);
	assert_string_equal(e.resp.body.data, "{\"id\":\"1\"}");
	assert_string_equal(e.resp.request_id, "rq-1");
	assert_string_equal(e.cm.method, "GET");
	assert_string_equal(e.cm.url, "/api/program/1");
	assert_string_equal(e.cm.auth, "Bearer tok-ONE");
	assert_string_equal(e.cm.apikey, "the-api-key");
	assert_string_equal(e.cm.org, "ORG@AdobeOrg");
	assert_string_equal(e.cm.accept, "application/json");
	assert_string_equal(e.cm.ctype, "");
	/* Same-origin absolute URL, with a body: Content-Type added, token reused. */
	snprintf(abs, sizeof(abs), "%s/api/program/1/pipeline/2", e.cm.base);
	assert_int_equal(call(&e, "PATCH", abs, "{\"a\":1}"), CMH_OK);
	assert_string_equal(e.cm.method, "PATCH");
	assert_string_equal(e.cm.ctype, "application/json");
	assert_string_equal(e.cm.body, "{\"a\":1}");
	assert_int_equal(fake_count(&e.cm), 2);
	assert_int_equal(fake_count(&e.ims_srv), 1);
	/* api_key falls back to client_id */
	e.cfg.api_key = (char *)"";
	assert_int_equal(call(&e, NULL, "/api/programs", NULL), CMH_OK);
	assert_string_equal(e.cm.apikey, "cid");
	env_stop(&e);
}

static void test_cmapi_foreign_origin_refused(void **state)
{
	struct env e;
	struct fake foreign;
	char refs[6][160];

	(void)state;
	FAKE_START(&e.ims_srv, { 200, TOK1, NULL, NULL, 0, false });
	FAKE_START(&e.cm, { 200, "{}", NULL, NULL, 0, false });
	FAKE_START(&foreign, { 200, "{}", NULL, NULL, 0, false });
	env_start(&e);
	snprintf(refs[0], sizeof(refs[0]), "%s/api/program/1", foreign.base);
	snprintf(refs[1], sizeof(refs[1]), "//127.0.0.1:%u/api/program/1", foreign.port);
	snprintf(refs[2], sizeof(refs[2]), "http://127.0.0.1:%u@127.0.0.1:%u/api", e.cm.port,
		 foreign.port);
	snprintf(refs[3], sizeof(refs[3]), "127.0.0.1:%u/api", foreign.port);
	snprintf(refs[4], sizeof(refs[4]), "https://127.0.0.1:%u/api", e.cm.port);
	snprintf(refs[5], sizeof(refs[5]), "api/program/1");
	for (size_t i = 0; i < 6; i++) {
		if (call(&e, NULL, refs[i], NULL) != CMH_ERR_FORBIDDEN)
			fail_msg("case %zu (%s) not refused", i, refs[i]);
		assert_true(e.msg.len > 0);
	}
	assert_int_equal(call(&e, NULL, NULL, NULL), CMH_ERR_FORBIDDEN);
	assert_int_equal(fake_count(&foreign), 0);
	assert_int_equal(fake_count(&e.cm), 0);
	assert_int_equal(fake_count(&e.ims_srv), 0);
	assert_int_equal(cmh_ims_requests(e.ims), 0);
	/* A broken base is a configuration error, also before any request. */
	e.cfg.cloudmanager_api_url = (char *)"not a url";
	assert_int_equal(call(&e, NULL, "/api/programs", NULL), CMH_ERR_CONFIG);
	assert_int_equal(fake_count(&e.ims_srv), 0);
	fake_stop(&foreign);
	env_stop(&e);
}

static void test_cmapi_redirect_not_followed(void **state)
{
	struct env e;
	struct fake foreign;
	char loc[128];

	(void)state;
	FAKE_START(&foreign, { 200, "{}", NULL, NULL, 0, false });
	snprintf(loc, sizeof(loc), "%s/steal", foreign.base);
	{
		const struct fake_reply r[] = { { 302, "", "Location", loc, 0, false } };

		FAKE_START(&e.ims_srv, { 200, TOK1, NULL, NULL, 0, false });
		fake_start(&e.cm, r, 1);
		env_start(&e);
		assert_int_equal(call(&e, NULL, "/api/program/1", NULL), CMH_OK);
		assert_int_equal(e.resp.status, 302);
		assert_int_equal(fake_count(&e.cm), 1);
		env_stop(&e);
	}
	assert_int_equal(fake_count(&foreign), 0);
	fake_stop(&foreign);
}

static void test_cmapi_401_refreshes_once(void **state)
{
	struct env e;

	(void)state;
	FAKE_START(&e.ims_srv, { 200, TOK1, NULL, NULL, 0, false }, { 200, TOK2, NULL, NULL, 0, false });
	FAKE_START(&e.cm, { 401, "{\"error_code\":\"401013\",\"message\":\"Oauth token is not valid\"}",
			    NULL, NULL, 0, false }, { 200, "{\"ok\":1}", NULL, NULL, 0, false });
	env_start(&e);
	assert_int_equal(call(&e, NULL, "/api/program/1", NULL), CMH_OK);
	assert_int_equal(e.resp.status, 200);
	assert_string_equal(e.resp.body.data, "{\"ok\":1}");
	assert_string_equal(e.cm.auth, "Bearer tok-TWO");
	assert_int_equal(fake_count(&e.ims_srv), 2);
	assert_int_equal(fake_count(&e.cm), 2);
	/* The new token is kept for later calls. */
	assert_int_equal(call(&e, NULL, "/api/program/1", NULL), CMH_OK);
	assert_int_equal(fake_count(&e.ims_srv), 2);
	env_stop(&e);
}

static void test_cmapi_second_401_returned(void **state)
{
	struct env e;

	(void)state;
	FAKE_START(&e.ims_srv, { 200, TOK1, NULL, NULL, 0, false }, { 200, TOK2, NULL, NULL, 0, false });
	FAKE_START(&e.cm, { 401, "{\"message\":\"no\"}", NULL, NULL, 0, false });
	env_start(&e);
	assert_int_equal(call(&e, NULL, "/api/program/1", NULL), CMH_OK);
	assert_int_equal(e.resp.status, 401);
	assert_int_equal(fake_count(&e.ims_srv), 2);
	assert_int_equal(fake_count(&e.cm), 2);
	env_stop(&e);
}

static void test_cmapi_token_failure(void **state)
{
	struct env e;

	(void)state;
	FAKE_START(&e.ims_srv, { 401, "{\"error\":\"invalid_client\",\"error_description\":\"bad\"}",
				 NULL, NULL, 0, false });
	FAKE_START(&e.cm, { 200, "{}", NULL, NULL, 0, false });
	env_start(&e);
	assert_int_equal(call(&e, NULL, "/api/program/1", NULL), CMH_ERR_AUTH);
	assert_string_equal(e.msg.data, "IMS answered 401 invalid_client: bad");
	assert_int_equal(fake_count(&e.cm), 0);
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
		cmocka_unit_test(test_cmapi_sends_headers),
		cmocka_unit_test(test_cmapi_foreign_origin_refused),
		cmocka_unit_test(test_cmapi_redirect_not_followed),
		cmocka_unit_test(test_cmapi_401_refreshes_once),
		cmocka_unit_test(test_cmapi_second_401_returned),
		cmocka_unit_test(test_cmapi_token_failure),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
