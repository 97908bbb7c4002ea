/*
 * The libmicrohttpd adapter: answers given at once and later from another
 * thread (suspend/resume), the body cap with and without Content-Length,
 * the server-wide budget of buffered body bytes, quiesce and drain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "client.h"
#include "http_server.h"

struct later {
	struct cmh_http_exchange *x;
	pthread_t thread;
};

/* Answer from another thread, as the journal's committer does. */
static void *answer_later(void *arg)
{
	struct later *l = arg;
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	cmh_http_exchange_respond(l->x, 200, "text/plain", "later", 5, 0);
	return NULL;
}

static void handler(struct cmh_http_exchange *x, void *ud)
{
	struct later *l = ud;
	size_t len;
	const char *body = cmh_http_exchange_body(x, &len);
	char text[64];

	if (cmh_http_exchange_too_large(x)) {
		cmh_http_exchange_respond(x, 413, "text/plain", "big", 3, 0);
	} else if (strcmp(cmh_http_exchange_path(x), "/later") == 0) {
		l->x = x;
		assert_int_equal(pthread_create(&l->thread, NULL, answer_later, l), 0);
	} else {
		snprintf(text, sizeof(text), "%s %zu %s", cmh_http_exchange_method(x), len,
			 len ? body : "-");
		cmh_http_exchange_respond(x, 200, "text/plain", text, strlen(text), 7);
	}
}

struct fixture {
	struct cmh_http_server *s;
	struct later later;
	char base[64];
};

static struct fixture *start(size_t max_body, size_t max_buffered)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cmh_http_server_config cfg = {
		.address = "127.0.0.1", .port = 0, .max_body = max_body,
		.max_buffered = max_buffered, .max_connections = 16, .idle_timeout_s = 5,
		.threads = 2, .handler = handler,
	};

	assert_non_null(f);
	cfg.handler_ud = &f->later;
	assert_int_equal(cmh_http_server_start(&cfg, &f->s, NULL), CMH_OK);
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", cmh_http_server_port(f->s));
	return f;
}

static void stop(struct fixture *f)
{
	cmh_http_server_quiesce(f->s);
	assert_true(cmh_http_server_drain(f->s, 5000));
	cmh_http_server_stop(f->s);
	free(f);
}

static void test_http_server_answers_now_and_later(void **state)
{
	struct fixture *f = start(1024, 0);
	struct http_reply r;
	char url[96];

	(void)state;
	snprintf(url, sizeof(url), "%s/now", f->base);
	assert_true(http_post(url, NULL, "hello", 5, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "POST 5 hello");
	assert_string_equal(http_reply_header(&r, "Retry-After"), "7");
	http_reply_release(&r);

	snprintf(url, sizeof(url), "%s/later", f->base);
	assert_true(http_get(url, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "later");
	http_reply_release(&r);
	assert_int_equal(pthread_join(f->later.thread, NULL), 0);
	stop(f);
}

static void test_http_server_body_cap(void **state)
{
	struct fixture *f = start(100, 0);
	char *big = malloc(5000);
	struct http_reply r;
	char url[96];

	(void)state;
	memset(big, 'x', 5000);
	snprintf(url, sizeof(url), "%s/now", f->base);
	/* Exactly at the cap: accepted. */
	assert_true(http_post(url, NULL, big, 100, &r));
	assert_int_equal(r.status, 200);
	http_reply_release(&r);
	/* Declared over the cap: refused before the body is read. */
	assert_true(http_post(url, NULL, big, 101, &r));
	assert_int_equal(r.status, 413);
	http_reply_release(&r);
	/* Chunked, so only counting can tell: 413 too. */
	assert_true(http_do(&(struct http_req){ .url = url, .body = big, .body_len = 5000,
						 .chunked = true }, &r));
	assert_int_equal(r.status, 413);
	http_reply_release(&r);
	free(big);
	stop(f);
}

static void test_http_server_buffer_budget(void **state)
{
	/* Each body may be 64 KiB but all connections together only 16 KiB:
	 * a chunked body beyond the budget gets its connection closed. */
	struct fixture *f = start(64 * 1024, 16 * 1024);
	char *big = malloc(40 * 1024);
	struct http_reply r;
	char url[96];

	(void)state;
	memset(big, 'y', 40 * 1024);
	snprintf(url, sizeof(url), "%s/now", f->base);
	assert_false(http_do(&(struct http_req){ .url = url, .body = big, .body_len = 40 * 1024,
						  .chunked = true }, &r));
	http_reply_release(&r);
	/* The budget is given back: a small request works afterwards. */
	assert_true(http_post(url, NULL, "ok", 2, &r));
	assert_int_equal(r.status, 200);
	http_reply_release(&r);
	free(big);
	stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_server_answers_now_and_later),
		cmocka_unit_test(test_http_server_body_cap),
		cmocka_unit_test(test_http_server_buffer_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
