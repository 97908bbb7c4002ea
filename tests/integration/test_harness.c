/*
 * Tests of the integration-test harness itself (fake server, process runner,
 * temp files), so that a broken harness cannot make the cmhook tests pass or
 * fail for the wrong reason. Uses libcurl as the client and /bin/sh as the
 * process under test.
 */
#include <curl/curl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fixtures.h"

struct reply {
	long status;
	CURLcode rc;
	char body[4096];
	size_t len;
	char location[256];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = size * n;

	if (len > sizeof(r->body) - 1 - r->len)
		len = sizeof(r->body) - 1 - r->len;
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return size * n;
}

/* One request to the fake; body NULL for no body. */
static void http(struct reply *r, const char *method, const char *url, const char *body,
		 const char *header, long timeout_ms)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
	char *loc = NULL;

	assert_non_null(c);
	memset(r, 0, sizeof(*r));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
		(void)snprintf(r->location, sizeof(r->location), "%s", loc);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_harness_fake_queue_repeats_last(void **state)
{
	struct fx_world *w = *state;
	struct fake_response redirect = {
		.status = 302, .headers = "Location: http://example.invalid/x\nX-Test: yes",
	};
	char *url = tmp_xasprintf("%s/r?a=1&b=%%20", fake_url(w->api));
	struct reply r;

	fake_push_json(w->api, "GET", "/r", 503, "{\"n\":1}");
	fake_push(w->api, "GET", "/r", &redirect);
	fake_push_json(w->api, "GET", "/r", 200, "{\"n\":3}");
	http(&r, "GET", url, NULL, "X-Custom: v1", 5000);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "{\"n\":1}");
	http(&r, "GET", url, NULL, NULL, 5000);
	assert_int_equal(r.status, 302);
	assert_string_equal(r.location, "http://example.invalid/x");
	for (int i = 0; i < 2; i++) {
		http(&r, "GET", url, NULL, NULL, 5000);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "{\"n\":3}");
	}
	/* Unknown route and other method: 404, still recorded. */
	http(&r, "POST", url, "x", NULL, 5000);
	assert_int_equal(r.status, 404);
	assert_int_equal(fake_count(w->api, "GET", "/r"), 4);
	assert_int_equal(fake_count(w->api, "POST", "/r"), 1);
	assert_int_equal(fake_count(w->api, NULL, NULL), 5);
	{
		const struct fake_request *q = fake_request_nth(w->api, "GET", "/r", 0);

		assert_non_null(q);
		assert_string_equal(q->path, "/r");
		assert_string_equal(q->query, "a=1&b=%20");
		assert_string_equal(fake_header(q, "x-custom"), "v1");
		assert_null(fake_header(q, "X-Absent"));
		assert_null(fake_request_nth(w->api, "GET", "/r", 4));
	}
	free(url);
}

static void test_harness_fake_records_body_and_handler(void **state)
{
	struct fx_world *w = *state;
	char *url = tmp_xasprintf("%s" FX_IMS_PATH, fake_url(w->ims));
	const struct fake_request *q;
	char *tok;
	struct reply r;

	fx_routes(w);
	http(&r, "POST", url, "grant_type=client_credentials&scope=a%2Cb+c", NULL, 5000);
	assert_int_equal(r.status, 200);
	tok = fx_ims_token(&w->tokens, 1);
	assert_non_null(strstr(r.body, tok));
	free(tok);
	http(&r, "POST", url, "x=1", NULL, 5000);
	tok = fx_ims_token(&w->tokens, 2);
	assert_non_null(strstr(r.body, tok));
	free(tok);
	assert_int_equal(fx_ims_issued(&w->tokens), 2);
	q = fake_request_nth(w->ims, "POST", FX_IMS_PATH, 0);
	assert_non_null(q);
	assert_string_equal(q->body, "grant_type=client_credentials&scope=a%2Cb+c");
	free(url);
}

static void test_harness_fake_hang_delay_drop_and_stop(void **state)
{
	struct fx_world *w = *state;
	struct fake_response hang = { .hang = true };
	struct fake_response delay = { .status = 204, .delay_ms = 300 };
	struct fake_response drop = { .drop = true };
	char *base = tmp_xstrdup(fake_url(w->api));
	char *u_hang = tmp_xasprintf("%s/hang", base), *u_delay = tmp_xasprintf("%s/delay", base);
	char *u_drop = tmp_xasprintf("%s/drop", base);
	struct reply r;
	long t0;

	fake_push(w->api, "GET", "/hang", &hang);
	fake_push(w->api, "GET", "/delay", &delay);
	fake_push(w->api, "GET", "/drop", &drop);
	t0 = mono_ms();
	http(&r, "GET", u_delay, NULL, NULL, 5000);
	assert_int_equal(r.status, 204);
	assert_true(mono_ms() - t0 >= 290);
	http(&r, "GET", u_drop, NULL, NULL, 5000);
	assert_int_not_equal(r.rc, CURLE_OK);
	http(&r, "GET", u_hang, NULL, NULL, 300);
	assert_int_equal(r.rc, CURLE_OPERATION_TIMEDOUT);
	assert_true(fake_wait_requests(w->api, "GET", "/hang", 1, 1000));
	assert_false(fake_wait_requests(w->api, "GET", "/hang", 2, 100));
	/* The held connection must not keep stop from returning. */
	t0 = mono_ms();
	fake_stop(w->api);
	w->api = NULL;
	assert_true(mono_ms() - t0 < 2000);
	free(base);
	free(u_hang);
	free(u_delay);
	free(u_drop);
}

static void test_harness_form_decoder_is_strict(void **state)
{
	static const struct {
		const char *body, *name, *want; int count;
	} cases[] = {
		{ "a=1&b=x%26y%3Dz%2B%25+%C3%A9", "b", "x&y=z+% \xc3\xa9", 1 },
		{ "a=1&a=2", "a", "1", 2 },
		{ "a=1", "b", NULL, 0 },
		{ "", "a", NULL, 0 },
		{ "a=%", "a", NULL, 0 },
		{ "a=%4", "a", NULL, 0 },
		{ "a=%zz", "a", NULL, 0 },
		{ "a=x y", "a", NULL, 0 },        /* raw space */
		{ "a=x=y", "a", NULL, 0 },        /* raw '=' in a value */
		{ "a=\xc3\xa9", "a", NULL, 0 },   /* raw UTF-8 */
		{ "a=1&b", "a", NULL, 0 },        /* field without '=' */
		{ "a=", "a", "", 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int count = -1;
		char *v = fake_form_value(cases[i].body, strlen(cases[i].body), cases[i].name, &count);

		if (cases[i].want)
			assert_string_equal(v, cases[i].want);
		else
			assert_null(v);
		assert_int_equal(count, cases[i].count);
		free(v);
	}
}

static void test_harness_run_captures_and_isolates(void **state)
{
	struct fx_world *w = *state;
	struct run_env env;
	struct run_result r;
	const char *args[] = {
		"-c", "echo \"out $HOME $FOO ${CLIENT_SECRET:-none}\"; pwd; echo err >&2; exit 3", NULL,
	};

	setenv("CLIENT_SECRET", "inherited", 1);
	run_env_init(&env);
	run_env_set(&env, "FOO", "bar");
	run_env_set(&env, "FOO", "baz");
	assert_true(run_exec(&r, "/bin/sh", w->dir, &env, args, 5000));
	unsetenv("CLIENT_SECRET");
	assert_false(r.timed_out);
	assert_int_equal(r.exit_code, 3);
	{
		char *want = tmp_xasprintf("out %s baz none\n%s\n", w->dir, w->dir);

		assert_string_equal(r.out, want);
		free(want);
	}
	assert_string_equal(r.err, "err\n");
	run_result_release(&r);
	run_env_release(&env);
}

static void test_harness_run_kills_on_timeout(void **state)
{
	struct fx_world *w = *state;
	struct run_result r;
	const char *args[] = { "-c", "echo started; exec sleep 30", NULL };

	assert_true(run_exec(&r, "/bin/sh", w->dir, NULL, args, 300));
	assert_true(r.timed_out);
	assert_int_equal(r.term_signal, SIGKILL);
	assert_true(r.elapsed_ms < 3000);
	assert_string_equal(r.out, "started\n");
	run_result_release(&r);
}

static void test_harness_background_process(void **state)
{
	struct fx_world *w = *state;
	const char *args[] = {
		"-c", "trap 'echo got-term >&2; exit 7' TERM; echo ready >&2; "
		      "while :; do sleep 0.05; done", NULL,
	};
	struct run_bg *bg = run_bg_exec("/bin/sh", w->dir, "bg", NULL, args);
	int code = -2;

	assert_non_null(bg);
	assert_true(run_bg_wait_stderr(bg, "ready", 5000));
	assert_false(run_bg_wait_stderr(bg, "never-printed", 100));
	assert_false(run_bg_wait(bg, 50, &code));
	assert_true(run_bg_signal(bg, SIGTERM));
	assert_true(run_bg_wait(bg, 5000, &code));
	assert_int_equal(code, 7);
	{
		char *err = run_bg_stderr(bg);

		assert_string_equal(err, "ready\ngot-term\n");
		free(err);
	}
	run_bg_free(bg);
}

static void test_harness_tmp_files(void **state)
{
	struct fx_world *w = *state;
	char *p = tmp_path(w->dir, ".env");
	char *text;

	assert_true(tmp_write_env(w->dir, ".env", "A", "1", "B", "x y", NULL));
	assert_int_equal(tmp_mode(p), 0600);
	text = tmp_read(p, NULL);
	assert_string_equal(text, "A=1\nB=x y\n");
	free(text);
	assert_true(tmp_write(w->dir, ".env", "", 0, 0644));
	assert_int_equal(tmp_mode(p), 0644);
	free(p);
	assert_int_equal(tmp_mode("/nonexistent/cmhook"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_harness_fake_queue_repeats_last, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_harness_fake_records_body_and_handler, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_harness_fake_hang_delay_drop_and_stop, fx_setup, fx_teardown),
		cmocka_unit_test(test_harness_form_decoder_is_strict),
		cmocka_unit_test_setup_teardown(test_harness_run_captures_and_isolates, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_harness_run_kills_on_timeout, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_harness_background_process, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_harness_tmp_files, fx_setup, fx_teardown),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	curl_global_cleanup();
	return rc;
}
