/* Unit tests for http_client.c against a scripted libmicrohttpd server on
 * 127.0.0.1: status mapping, Retry-After, form encoding, header capture, no
 * redirects, the response cap, timeouts and secret-free error messages. */
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

#include "bounds.h"
#include "http_client.h"

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

/* ---- tests ---------------------------------------------------------------- */

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
	struct fake f;
	struct cmh_http_response resp;
	struct cmh_buf url;

	(void)state;
	FAKE_START(&f, { 200, "{\"ok\":true}", "x-request-id", "req-42", 0, false });
	cmh_http_response_init(&resp);
	cmh_buf_init(&url, 256);
	assert_int_equal(cmh_buf_addf(&url, "%s/api/x?q=1", f.base), CMH_OK);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = url.data },
					  &resp, NULL), CMH_OK);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.data, "{\"ok\":true}");
	assert_string_equal(resp.content_type, "application/json");
	assert_string_equal(resp.request_id, "req-42");
	assert_int_equal(resp.retry_after_ms, -1);
	assert_string_equal(f.method, "GET");
	assert_string_equal(f.url, "/api/x");
	assert_int_equal(fake_count(&f), 1);
	cmh_http_response_release(&resp);
	cmh_buf_release(&url);
	fake_stop(&f);
}

static void test_http_client_post_and_error_status(void **state)
{
	const struct cmh_http_header hdrs[] = {
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "Authorization", "Bearer abc" },
	};
	struct fake f;
	struct cmh_http_response resp;

	(void)state;
	FAKE_START(&f, { 503, "{\"error\":\"busy\"}", "Retry-After", "7", 0, false });
	cmh_http_response_init(&resp);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){
		.method = "POST", .url = f.base, .headers = hdrs, .n_headers = 2,
		.body = "a=1&b=2", .body_len = 7 }, &resp, NULL), CMH_OK);
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.retry_after_ms, 7000);
	assert_string_equal(f.method, "POST");
	assert_string_equal(f.body, "a=1&b=2");
	assert_string_equal(f.ctype, "application/x-www-form-urlencoded");
	assert_string_equal(f.auth, "Bearer abc");
	/* The same response struct is reusable: fields are reset per request. */
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){
		.method = "PUT", .url = f.base, .body = "{}", .body_len = 2 }, &resp, NULL), CMH_OK);
	assert_string_equal(f.method, "PUT");
	assert_string_equal(f.body, "{}");
	cmh_http_response_release(&resp);
	fake_stop(&f);
}

static void test_http_client_no_redirect(void **state)
{
	struct fake target, redir;
	struct cmh_http_response resp;
	char loc[128];

	(void)state;
	FAKE_START(&target, { 200, "secret place", NULL, NULL, 0, false });
	snprintf(loc, sizeof(loc), "%s/stolen", target.base);
	{
		const struct fake_reply r[] = { { 302, "", "Location", loc, 0, false } };

		fake_start(&redir, r, 1);
		cmh_http_response_init(&resp);
		assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = redir.base },
						  &resp, NULL), CMH_OK);
		assert_int_equal(resp.status, 302);
		assert_int_equal(fake_count(&redir), 1);
		fake_stop(&redir);
	}
	assert_int_equal(fake_count(&target), 0);
	cmh_http_response_release(&resp);
	fake_stop(&target);
}

static char big_body[5001];

static void test_http_client_response_cap(void **state)
{
	struct fake f;
	struct cmh_http_response resp;
	struct cmh_buf msg;
	static const struct fake_reply r[] = {
		{ 200, big_body, NULL, NULL, 0, false },
		{ 200, big_body, NULL, NULL, 0, true },
		{ 200, big_body, NULL, NULL, 0, true },
	};

	(void)state;
	memset(big_body, 'x', sizeof(big_body) - 1);
	fake_start(&f, r, 3);
	cmh_http_response_init(&resp);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	/* Content-Length over the cap */
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = f.base,
		.max_response = 4999 }, &resp, &msg), CMH_ERR_TOO_LARGE);
	assert_non_null(strstr(msg.data, "larger than 4999"));
	/* chunked, enforced by the write callback */
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = f.base,
		.max_response = 4999 }, &resp, &msg), CMH_ERR_TOO_LARGE);
	assert_true(resp.body.len <= 4999);
	/* exactly at the cap is fine */
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = f.base,
		.max_response = 5000 }, &resp, &msg), CMH_OK);
	assert_int_equal(resp.body.len, 5000);
	cmh_http_response_release(&resp);
	cmh_buf_release(&msg);
	fake_stop(&f);
}

static void test_http_client_timeout(void **state)
{
	struct fake f;
	struct cmh_http_response resp;
	struct cmh_buf msg, url;
	int64_t t0;

	(void)state;
	FAKE_START(&f, { 200, "late", NULL, NULL, 1500, false });
	cmh_http_response_init(&resp);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	cmh_buf_init(&url, 256);
	assert_int_equal(cmh_buf_addf(&url, "%s/services/T0/B0/SECRETPATH?sig=SECRETQ", f.base),
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
	fake_stop(&f);
}

static unsigned short closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void test_http_client_network_errors(void **state)
{
	struct cmh_http_response resp;
	struct cmh_buf msg;
	char url[128];

	(void)state;
	cmh_http_response_init(&resp);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook/SECRETPATH?token=SECRETQ", closed_port());
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
}

static void test_http_client_header_injection(void **state)
{
	const struct cmh_http_header bad_value[] = { { "X-A", "v\r\nHost: evil" } };
	const struct cmh_http_header bad_name[] = { { "X-A: b", "v" } };
	const struct cmh_http_header no_name[] = { { "", "v" } };
	struct fake f;
	struct cmh_http_response resp;

	(void)state;
	FAKE_START(&f, { 200, "", NULL, NULL, 0, false });
	cmh_http_response_init(&resp);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = f.base,
		.headers = bad_value, .n_headers = 1 }, &resp, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = f.base,
		.headers = bad_name, .n_headers = 1 }, &resp, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_http_perform(&(struct cmh_http_request){ .url = f.base,
		.headers = no_name, .n_headers = 1 }, &resp, NULL), CMH_ERR_PARSE);
	assert_int_equal(fake_count(&f), 0);
	cmh_http_response_release(&resp);
	fake_stop(&f);
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

	return cmocka_run_group_tests(tests, setup, teardown);
}
