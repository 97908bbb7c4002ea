/* Unit tests for cmapi.c against fake IMS and Cloud Manager servers
 * (fake_server.h) on 127.0.0.1: headers sent, the origin rule (a refused URL costs no request to
 * anyone), no redirects, and the single token refresh on 401. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmapi.h"
#include "config.h"
#include "fake_server.h"
#include "fixtures.h"
#include "http_client.h"
#include "ims.h"

/* ---- helpers -------------------------------------------------------------- */

struct env {
	struct fake_server *ims_srv;
	struct fake_server *cm;
	struct cmh_config cfg;
	struct cmh_ims *ims;
	struct cmh_http_response resp;
	struct cmh_buf msg;
};

/* Start both fakes (without routes) and an IMS client for them. */
static void env_start(struct env *e)
{
	e->ims_srv = fake_start();
	e->cm = fake_start();
	assert_non_null(e->ims_srv);
	assert_non_null(e->cm);
	memset(&e->cfg, 0, sizeof(e->cfg));
	e->cfg.client_id = (char *)"cid";
	e->cfg.api_key = (char *)"the-api-key";
	e->cfg.organization_id = (char *)"ORG@AdobeOrg";
	e->cfg.grant_type = (char *)"client_credentials";
	e->cfg.scopes = (char *)"openid";
	e->cfg.ims_url = (char *)fake_url(e->ims_srv);
	e->cfg.cloudmanager_api_url = (char *)fake_url(e->cm);
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
	fake_stop(e->cm);
	fake_stop(e->ims_srv);
}

static enum cmh_err call(struct env *e, const char *method, const char *target, const char *body)
{
	return cmh_cmapi_call(&e->cfg, e->ims, method, target, body, body ? strlen(body) : 0,
			      &e->resp, &e->msg);
}

/* The last request f received; fails the test when there was none. */
static const struct fake_request *last(struct fake_server *f)
{
	const struct fake_request *req = fake_request_last(f, NULL, NULL);

	assert_non_null(req);
	return req;
}

/* A header of the last request to f, "" when absent. */
static const char *hdr(struct fake_server *f, const char *name)
{
	const char *v = fake_header(last(f), name);

	return v ? v : "";
}

/* ---- tests ---------------------------------------------------------------- */

static void test_cmapi_sends_headers(void **state)
{
	struct env e;
	const struct fake_response ok = {
		.status = 200, .body = "{\"id\":\"1\"}", .headers = "x-request-id: rq-1",
	};
	char abs[128];

	(void)state;
	env_start(&e);
	fx_ims_push_token(e.ims_srv, "tok-ONE", 0);
	fake_push(e.cm, "GET", "/api/program/1", &ok);
	fake_push(e.cm, "PATCH", "/api/program/1/pipeline/2", &ok);
	fake_push(e.cm, "GET", "/api/programs", &ok);
	assert_int_equal(call(&e, NULL, "/api/program/1?x=1", NULL), CMH_OK);
	assert_int_equal(e.resp.status, 200);
	assert_string_equal(e.resp.body.data, "{\"id\":\"1\"}");
	assert_string_equal(e.resp.request_id, "rq-1");
	assert_string_equal(last(e.cm)->method, "GET");
	assert_string_equal(last(e.cm)->path, "/api/program/1");
	assert_string_equal(hdr(e.cm, "Authorization"), "Bearer tok-ONE");
	assert_string_equal(hdr(e.cm, "x-api-key"), "the-api-key");
	assert_string_equal(hdr(e.cm, "x-gw-ims-org-id"), "ORG@AdobeOrg");
	assert_string_equal(hdr(e.cm, "Accept"), "application/json");
	assert_string_equal(hdr(e.cm, "Content-Type"), "");
	/* Same-origin absolute URL, with a body: Content-Type added, token reused. */
	snprintf(abs, sizeof(abs), "%s/api/program/1/pipeline/2", fake_url(e.cm));
	assert_int_equal(call(&e, "PATCH", abs, "{\"a\":1}"), CMH_OK);
	assert_string_equal(last(e.cm)->method, "PATCH");
	assert_string_equal(hdr(e.cm, "Content-Type"), "application/json");
	assert_string_equal(last(e.cm)->body, "{\"a\":1}");
	assert_int_equal(fake_count(e.cm, NULL, NULL), 2);
	assert_int_equal(fake_count(e.ims_srv, NULL, NULL), 1);
	/* api_key falls back to client_id */
	e.cfg.api_key = (char *)"";
	assert_int_equal(call(&e, NULL, "/api/programs", NULL), CMH_OK);
	assert_string_equal(hdr(e.cm, "x-api-key"), "cid");
	env_stop(&e);
}

static void test_cmapi_foreign_origin_refused(void **state)
{
	struct env e;
	struct fake_server *foreign;
	char refs[6][160];

	(void)state;
	env_start(&e);
	foreign = fake_start();
	assert_non_null(foreign);
	/* Every route would answer, so only the counts below can tell a refusal. */
	fx_ims_push_token(e.ims_srv, "tok-ONE", 0);
	fake_push_json(e.cm, "GET", "/api/program/1", 200, "{}");
	fake_push_json(e.cm, "GET", "/api", 200, "{}");
	fake_push_json(foreign, "GET", "/api/program/1", 200, "{}");
	fake_push_json(foreign, "GET", "/api", 200, "{}");
	snprintf(refs[0], sizeof(refs[0]), "%s/api/program/1", fake_url(foreign));
	snprintf(refs[1], sizeof(refs[1]), "//127.0.0.1:%u/api/program/1", fake_port(foreign));
	snprintf(refs[2], sizeof(refs[2]), "http://127.0.0.1:%u@127.0.0.1:%u/api", fake_port(e.cm),
		 fake_port(foreign));
	snprintf(refs[3], sizeof(refs[3]), "127.0.0.1:%u/api", fake_port(foreign));
	snprintf(refs[4], sizeof(refs[4]), "https://127.0.0.1:%u/api", fake_port(e.cm));
	snprintf(refs[5], sizeof(refs[5]), "api/program/1");
	for (size_t i = 0; i < 6; i++) {
		if (call(&e, NULL, refs[i], NULL) != CMH_ERR_FORBIDDEN)
			fail_msg("case %zu (%s) not refused", i, refs[i]);
		assert_true(e.msg.len > 0);
	}
	assert_int_equal(call(&e, NULL, NULL, NULL), CMH_ERR_FORBIDDEN);
	assert_int_equal(fake_count(foreign, NULL, NULL), 0);
	assert_int_equal(fake_count(e.cm, NULL, NULL), 0);
	assert_int_equal(fake_count(e.ims_srv, NULL, NULL), 0);
	assert_int_equal(cmh_ims_requests(e.ims), 0);
	/* A broken base is a configuration error, also before any request. */
	e.cfg.cloudmanager_api_url = (char *)"not a url";
	assert_int_equal(call(&e, NULL, "/api/programs", NULL), CMH_ERR_CONFIG);
	assert_int_equal(fake_count(e.ims_srv, NULL, NULL), 0);
	fake_stop(foreign);
	env_stop(&e);
}

static void test_cmapi_redirect_not_followed(void **state)
{
	struct env e;
	struct fake_server *foreign = fake_start();
	struct fake_response moved = { .status = 302, .body = "" };
	char loc[128];

	(void)state;
	assert_non_null(foreign);
	fake_push_json(foreign, "GET", "/steal", 200, "{}");
	snprintf(loc, sizeof(loc), "Location: %s/steal", fake_url(foreign));
	moved.headers = loc;
	env_start(&e);
	fx_ims_push_token(e.ims_srv, "tok-ONE", 0);
	fake_push(e.cm, "GET", "/api/program/1", &moved);
	assert_int_equal(call(&e, NULL, "/api/program/1", NULL), CMH_OK);
	assert_int_equal(e.resp.status, 302);
	assert_int_equal(fake_count(e.cm, NULL, NULL), 1);
	env_stop(&e);
	assert_int_equal(fake_count(foreign, NULL, NULL), 0);
	fake_stop(foreign);
}

static void test_cmapi_401_refreshes_once(void **state)
{
	struct env e;

	(void)state;
	env_start(&e);
	fx_ims_push_token(e.ims_srv, "tok-ONE", 0);
	fx_ims_push_token(e.ims_srv, "tok-TWO", 0);
	fake_push_json(e.cm, "GET", "/api/program/1", 401,
		       "{\"error_code\":\"401013\",\"message\":\"Oauth token is not valid\"}");
	fake_push_json(e.cm, "GET", "/api/program/1", 200, "{\"ok\":1}");
	assert_int_equal(call(&e, NULL, "/api/program/1", NULL), CMH_OK);
	assert_int_equal(e.resp.status, 200);
	assert_string_equal(e.resp.body.data, "{\"ok\":1}");
	assert_string_equal(hdr(e.cm, "Authorization"), "Bearer tok-TWO");
	assert_int_equal(fake_count(e.ims_srv, NULL, NULL), 2);
	assert_int_equal(fake_count(e.cm, NULL, NULL), 2);
	/* The new token is kept for later calls. */
	assert_int_equal(call(&e, NULL, "/api/program/1", NULL), CMH_OK);
	assert_int_equal(fake_count(e.ims_srv, NULL, NULL), 2);
	env_stop(&e);
}

static void test_cmapi_second_401_returned(void **state)
{
	struct env e;

	(void)state;
	env_start(&e);
	fx_ims_push_token(e.ims_srv, "tok-ONE", 0);
	fx_ims_push_token(e.ims_srv, "tok-TWO", 0);
	fake_push_json(e.cm, "GET", "/api/program/1", 401, "{\"message\":\"no\"}");
	assert_int_equal(call(&e, NULL, "/api/program/1", NULL), CMH_OK);
	assert_int_equal(e.resp.status, 401);
	assert_int_equal(fake_count(e.ims_srv, NULL, NULL), 2);
	assert_int_equal(fake_count(e.cm, NULL, NULL), 2);
	env_stop(&e);
}

static void test_cmapi_token_failure(void **state)
{
	struct env e;

	(void)state;
	env_start(&e);
	fake_push_json(e.ims_srv, "POST", FX_IMS_PATH, 401,
		       "{\"error\":\"invalid_client\",\"error_description\":\"bad\"}");
	fake_push_json(e.cm, "GET", "/api/program/1", 200, "{}");
	assert_int_equal(call(&e, NULL, "/api/program/1", NULL), CMH_ERR_AUTH);
	assert_string_equal(e.msg.data, "IMS answered 401 invalid_client: bad");
	assert_int_equal(fake_count(e.cm, NULL, NULL), 0);
	env_stop(&e);
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

	return cmocka_run_group_tests(tests, fx_http_setup, fx_http_teardown);
}
