/* Unit tests for http_client.c against the scripted fake server of
 * fake_server.h on 127.0.0.1: status mapping, Retry-After, form encoding,
 * header capture, no redirects, the response cap, timeouts and secret-free
 * error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounds.h"
#include "fake_server.h"
#include "fixtures.h"
#include "http_client.h"

/* ---- tests ---------------------------------------------------------------- */

/* A started fake server; fails the test when it cannot start. */
static struct fake_server *fake(void)
{
	struct fake_server *f = fake_start();

	assert_non_null(f);
	return f;
}

/* The last request f received; fails the test when there was none. */
static const struct fake_request *last(struct fake_server *f)
{
	const struct fake_request *req = fake_request_last(f, NULL, NULL);

	assert_non_null(req);
	return req;
}

/* A header of req, "" when absent (so that assert_string_equal reports it). */
static const char *hdr(const struct fake_request *req, const char *name)
{
	const char *v = fake_header(req, name);

	return v ? v : "";
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_http_client_status_err(void **state)
{
	static const struct {
		long status;
		enum cmh_err err;
	} cases[] = {
		{ 200, CMH_OK }, { 204, CMH_OK }, { 299, CMH_OK }, { 0, CMH_ERR_REJECTED },
		{ 100, CMH_ERR_REJECTED }, { 302, CMH_ERR_REJECTED }, { 400, CMH_ERR_REJECTED },
		{ 401, CMH_ERR_AUTH }, { 403, CMH_ERR_AUTH }, { 404, CMH_ERR_NOT_FOUND },
		{ 408, CMH_ERR_UPSTREAM }, { 409, CMH_ERR_REJECTED }, { 429, CMH_ERR_UPSTREAM },
		{ 500, CMH_ERR_UPSTREAM }, { 503, CMH_ERR_UPSTREAM }, { 599, CMH_ERR_UPSTREAM },
		{ 600, CMH_ERR_REJECTED },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cmh_http_status_err(cases[i].status) != cases[i].err)
			fail_msg("status %ld", cases[i].status);
	}
}

static void test_http_client_retry_after(void **state)
{
	const int64_t date_ms = 1445412480000LL;   /* Wed, 21 Oct 2015 07:28:00 GMT */

	(void)state;
	assert_int_equal(cmh_http_parse_retry_after("120", 0), 120000);
	assert_int_equal(cmh_http_parse_retry_after(" 5 ", 0), 5000);
	assert_int_equal(cmh_http_parse_retry_after("0", 0), 0);
	assert_int_equal(cmh_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
						     date_ms - 10000), 10000);
	assert_int_equal(cmh_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
						     date_ms + 10000), 0);
	assert_int_equal(cmh_http_parse_retry_after("", 0), -1);
	assert_int_equal(cmh_http_parse_retry_after("   ", 0), -1);
	assert_int_equal(cmh_http_parse_retry_after(NULL, 0), -1);
	assert_int_equal(cmh_http_parse_retry_after("-5", 0), -1);
	assert_int_equal(cmh_http_parse_retry_after("1.5", 0), -1);
	assert_int_equal(cmh_http_parse_retry_after("5s", 0), -1);
	assert_int_equal(cmh_http_parse_retry_after("abc", 0), -1);
	assert_int_equal(cmh_http_parse_retry_after("99999999999999999999", 0), -1);
	assert_int_equal(cmh_http_parse_retry_after(
		"Wed, 21 Oct 2015 07:28:00 GMT and a lot of trailing text that is too long", 0), -1);
}

static void test_http_client_form_encode(void **state)
{
	const struct cmh_http_header pairs[] = {
		{ "grant_type", "client_credentials" },
		{ "scope", "openid,AdobeID" },
		{ "client_secret", "a b&c=d+\xc3\xa9/~-._" },
		{ "empty", "" },
	};
	struct cmh_buf out;

	(void)state;
	cmh_buf_init(&out, CMH_BUF_MAX_SMALL);
	assert_int_equal(cmh_http_form_encode(pairs, 4, &out), CMH_OK);
	assert_string_equal(out.data, "grant_type=client_credentials&scope=openid%2CAdobeID"
			    "&client_secret=a%20b%26c%3Dd%2B%C3%A9%2F~-._&empty=");
	cmh_buf_reset(&out);
	assert_int_equal(cmh_http_form_encode(pairs, 0, &out), CMH_OK);
	assert_string_equal(out.data, "");
	cmh_buf_release(&out);
	cmh_buf_init(&out, 10);
	assert_int_equal(cmh_http_form_encode(pairs, 1, &out), CMH_ERR_TOO_LARGE);
	cmh_buf_wipe(&out);
}

static void test_http_client_get_captures_headers(void **state)
{
	struct fake_server *f = fake();
	const struct fake_response reply = {
		.status = 200, .body = "{\"ok\":true}", .headers = "x-request-id: req-42",
	};
	struct cmh_http_response resp;
	struct cmh_buf url;

	(void)state;
	fake_push(f, "GET", "/api/x", &reply);
	cmh_http_response_init(&resp);
	cmh_buf_init(&url, 256);
	assert_int_equal(cmh_buf_addf(&url, "%s/api/x?q=1", fake_url(f)), CMH_OK);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = url.data },
					  &resp, NULL), CMH_OK);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.data, "{\"ok\":true}");
	assert_string_equal(resp.content_type, "application/json");
	assert_string_equal(resp.request_id, "req-42");
	assert_int_equal(resp.retry_after_ms, -1);
	assert_string_equal(last(f)->method, "GET");
	assert_string_equal(last(f)->path, "/api/x");
	assert_int_equal(fake_count(f, NULL, NULL), 1);
	cmh_http_response_release(&resp);
	cmh_buf_release(&url);
	fake_stop(f);
}

static void test_http_client_post_and_error_status(void **state)
{
	const struct cmh_http_header hdrs[] = {
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "Authorization", "Bearer abc" },
	};
	struct fake_server *f = fake();
	const struct fake_response busy = {
		.status = 503, .body = "{\"error\":\"busy\"}", .headers = "Retry-After: 7",
	};
	struct cmh_http_response resp;

	(void)state;
	fake_push(f, "POST", "/", &busy);
	fake_push(f, "PUT", "/", &busy);
	cmh_http_response_init(&resp);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){
		.method = "POST", .url = fake_url(f), .headers = hdrs, .n_headers = 2,
		.body = "a=1&b=2", .body_len = 7 }, &resp, NULL), CMH_OK);
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.retry_after_ms, 7000);
	assert_string_equal(last(f)->method, "POST");
	assert_string_equal(last(f)->body, "a=1&b=2");
	assert_string_equal(hdr(last(f), "Content-Type"), "application/x-www-form-urlencoded");
	assert_string_equal(hdr(last(f), "Authorization"), "Bearer abc");
	/* The same response struct is reusable: fields are reset per request. */
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){
		.method = "PUT", .url = fake_url(f), .body = "{}", .body_len = 2 }, &resp, NULL), CMH_OK);
	assert_string_equal(last(f)->method, "PUT");
	assert_string_equal(last(f)->body, "{}");
	cmh_http_response_release(&resp);
	fake_stop(f);
}

static void test_http_client_no_redirect(void **state)
{
	struct fake_server *target = fake(), *redir = fake();
	struct fake_response moved = { .status = 302, .body = "" };
	struct cmh_http_response resp;
	char loc[128];

	(void)state;
	fake_push_json(target, "GET", "/stolen", 200, "secret place");
	snprintf(loc, sizeof(loc), "Location: %s/stolen", fake_url(target));
	moved.headers = loc;
	fake_push(redir, "GET", "/", &moved);
	cmh_http_response_init(&resp);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = fake_url(redir) },
					  &resp, NULL), CMH_OK);
	assert_int_equal(resp.status, 302);
	assert_int_equal(fake_count(redir, NULL, NULL), 1);
	fake_stop(redir);
	assert_int_equal(fake_count(target, NULL, NULL), 0);
	cmh_http_response_release(&resp);
	fake_stop(target);
}

static char big_body[5001];

static void test_http_client_response_cap(void **state)
{
	struct fake_server *f = fake();
	struct fake_response r = { .status = 200, .body = big_body };
	struct cmh_http_response resp;
	struct cmh_buf msg;

	(void)state;
	memset(big_body, 'x', sizeof(big_body) - 1);
	fake_push(f, "GET", "/", &r);
	r.chunked = true;
	fake_push(f, "GET", "/", &r);
	cmh_http_response_init(&resp);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	/* Content-Length over the cap */
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = fake_url(f),
		.max_response = 4999 }, &resp, &msg), CMH_ERR_TOO_LARGE);
	assert_non_null(strstr(msg.data, "larger than 4999"));
	/* chunked, enforced by the write callback */
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = fake_url(f),
		.max_response = 4999 }, &resp, &msg), CMH_ERR_TOO_LARGE);
	assert_true(resp.body.len <= 4999);
	/* exactly at the cap is fine */
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = fake_url(f),
		.max_response = 5000 }, &resp, &msg), CMH_OK);
	assert_int_equal(resp.body.len, 5000);
	cmh_http_response_release(&resp);
	cmh_buf_release(&msg);
	fake_stop(f);
}

static void test_http_client_timeout(void **state)
{
	struct fake_server *f = fake();
	const struct fake_response late = { .status = 200, .body = "late", .delay_ms = 1500 };
	struct cmh_http_response resp;
	struct cmh_buf msg, url;
	int64_t t0;

	(void)state;
	fake_push(f, "GET", "/services/T0/B0/SECRETPATH", &late);
	cmh_http_response_init(&resp);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	cmh_buf_init(&url, 256);
	assert_int_equal(cmh_buf_addf(&url, "%s/services/T0/B0/SECRETPATH?sig=SECRETQ", fake_url(f)),
			 CMH_OK);
	t0 = mono_ms();
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = url.data,
		.timeout_ms = 200 }, &resp, &msg), CMH_ERR_TIMEOUT);
	assert_true(mono_ms() - t0 < 1400);
	assert_int_equal(resp.status, 0);
	assert_non_null(strstr(msg.data, "request to http://127.0.0.1:"));
	assert_null(strstr(msg.data, "SECRET"));
	cmh_http_response_release(&resp);
	cmh_buf_release(&msg);
	cmh_buf_release(&url);
	fake_stop(f);
}

static void test_http_client_network_errors(void **state)
{
	struct cmh_http_response resp;
	struct cmh_buf msg;
	char url[128];
	uint16_t port;
	int fd = fake_refusing_port(&port);

	(void)state;
	cmh_http_response_init(&resp);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook/SECRETPATH?token=SECRETQ", port);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = url }, &resp, &msg),
			 CMH_ERR_NETWORK);
	assert_non_null(strstr(msg.data, "request to http://127.0.0.1:"));
	assert_non_null(strstr(msg.data, " failed: "));
	assert_null(strstr(msg.data, "SECRET"));
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = "ftp://127.0.0.1/x" },
					  &resp, &msg), CMH_ERR_PARSE);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = NULL }, &resp, &msg),
			 CMH_ERR_PARSE);
	cmh_http_response_release(&resp);
	cmh_buf_release(&msg);
	close(fd);
}

static void test_http_client_header_injection(void **state)
{
	const struct cmh_http_header bad_value[] = { { "X-A", "v\r\nHost: evil" } };
	const struct cmh_http_header bad_name[] = { { "X-A: b", "v" } };
	const struct cmh_http_header no_name[] = { { "", "v" } };
	struct fake_server *f = fake();
	struct cmh_http_response resp;

	(void)state;
	fake_push_json(f, "GET", "/", 200, "");
	cmh_http_response_init(&resp);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = fake_url(f),
		.headers = bad_value, .n_headers = 1 }, &resp, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = fake_url(f),
		.headers = bad_name, .n_headers = 1 }, &resp, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = fake_url(f),
		.headers = no_name, .n_headers = 1 }, &resp, NULL), CMH_ERR_PARSE);
	assert_int_equal(fake_count(f, NULL, NULL), 0);
	cmh_http_response_release(&resp);
	fake_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_client_status_err),
		cmocka_unit_test(test_http_client_retry_after),
		cmocka_unit_test(test_http_client_form_encode),
		cmocka_unit_test(test_http_client_get_captures_headers),
		cmocka_unit_test(test_http_client_post_and_error_status),
		cmocka_unit_test(test_http_client_no_redirect),
		cmocka_unit_test(test_http_client_response_cap),
		cmocka_unit_test(test_http_client_timeout),
		cmocka_unit_test(test_http_client_network_errors),
		cmocka_unit_test(test_http_client_header_injection),
	};

	return cmocka_run_group_tests(tests, fx_http_setup, fx_http_teardown);
}
