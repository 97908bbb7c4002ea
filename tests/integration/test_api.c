/*
 * `cmhook api`: authenticated calls to the configured Cloud Manager origin
 * only (cloudmanager-api.md §3.1): relative paths and absolute URLs of that
 * origin work, foreign origins and redirects to them never receive a
 * request, -X/-d are honoured, and a 401 costs exactly one new token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

/* stdout is the body, optionally followed by one newline. */
static void expect_body_out(struct fx_world *w, const char *body)
{
	size_t n = strlen(body);

	if (w->r.out_len >= n && memcmp(w->r.out, body, n) == 0 &&
	    (w->r.out_len == n || (w->r.out_len == n + 1 && w->r.out[n] == '\n')))
		return;
	run_result_dump(&w->r, "api output");
	fail_msg("stdout is not the response body");
}

static void expect_bearer(struct fx_world *w, const struct fake_request *q, unsigned n)
{
	char *tok = fx_ims_token(&w->tokens, n);
	char *want = tmp_xasprintf("Bearer %s", tok);
	const char *got = fake_header(q, "Authorization");

	if (!got || strcmp(got, want) != 0)
		fail_msg("Authorization is not the bearer token #%u", n);
	free(want);
	free(tok);
}

static void test_api_prints_the_body(void **state)
{
	struct fx_world *w = *state;
	const struct fake_request *q;

	fx_routes(w);
	fx_run(w, "api", FX_PROGRAMS_PATH, NULL);
	fx_expect_exit(w, 0);
	expect_body_out(w, fx_programs_json);
	q = fake_request_nth(w->api, "GET", FX_PROGRAMS_PATH, 0);
	assert_non_null(q);
	expect_bearer(w, q, 1);
	assert_string_equal(fake_header(q, "x-api-key"), FX_CLIENT_ID);
	assert_string_equal(fake_header(q, "x-gw-ims-org-id"), FX_ORG);
}

static void test_api_accepts_absolute_url_of_the_configured_origin(void **state)
{
	struct fx_world *w = *state;
	char *url = tmp_xasprintf("%s%s", fake_url(w->api), FX_PROGRAMS_PATH);

	fx_routes(w);
	fx_run(w, "api", url, NULL);
	free(url);
	fx_expect_exit(w, 0);
	expect_body_out(w, fx_programs_json);
	assert_int_equal(fake_count(w->api, "GET", FX_PROGRAMS_PATH), 1);
}

/*
 * Run `api URL` where URL's host is a second fake; it must see nothing. With
 * userinfo, URL starts with the configured origin's text followed by '@'.
 */
static void refuse_foreign(struct fx_world *w, bool userinfo)
{
	struct fake_server *foreign = fake_start();
	char *url;

	assert_non_null(foreign);
	fx_routes(w);
	fx_cmapi_install(foreign);
	if (userinfo)
		url = tmp_xasprintf("http://127.0.0.1:%u@127.0.0.1:%u/api/programs",
				    (unsigned)fake_port(w->api), (unsigned)fake_port(foreign));
	else
		url = tmp_xasprintf("%s/api/programs", fake_url(foreign));
	fx_run(w, "api", url, NULL);
	free(url);
	/* Assert after stopping, so a failure does not leak the server. */
	{
		size_t seen = fake_count(foreign, NULL, NULL);
		int code = w->r.exit_code;

		fake_stop(foreign);
		if (code != 1 && code != 2)
			run_result_dump(&w->r, "foreign origin");
		assert_int_equal(seen, 0);
		assert_true(code == 1 || code == 2);
	}
	assert_int_equal(fake_count(w->api, NULL, NULL), 0);
}

static void test_api_refuses_a_foreign_origin(void **state)
{
	/* Same host, other port: a different origin. */
	refuse_foreign(*state, false);
}

static void test_api_refuses_userinfo_trick(void **state)
{
	/* Starts with the configured origin's text, but the host is after the '@'. */
	refuse_foreign(*state, true);
}

static void test_api_does_not_follow_a_redirect_to_a_foreign_origin(void **state)
{
	struct fx_world *w = *state;
	struct fake_server *foreign = fake_start();
	struct fake_response moved = { .status = 302 };
	char *loc;
	size_t seen;

	assert_non_null(foreign);
	fx_cmapi_install(foreign);
	loc = tmp_xasprintf("Location: %s/api/programs", fake_url(foreign));
	moved.headers = loc;
	fake_push(w->api, "GET", "/api/moved", &moved);
	free(loc);
	fx_routes(w);
	fx_run(w, "api", "/api/moved", NULL);
	seen = fake_count(foreign, NULL, NULL);
	fake_stop(foreign);
	print_message("api on a 302 to a foreign origin: exit %d\n", w->r.exit_code);
	assert_int_equal(seen, 0);
	assert_int_equal(fake_count(w->api, "GET", "/api/moved"), 1);
}

static void test_api_post_sends_the_body(void **state)
{
	static const char path[] = "/api/program/22734/pipeline/48201733/execution";
	struct fx_world *w = *state;
	const struct fake_request *q;
	const char *ct;

	fx_routes(w);
	fake_push_json(w->api, "PUT", path, 201, "{\"id\":\"1\"}");
	fake_push_json(w->api, "POST", path, 201, "{\"id\":\"2\"}");
	fx_run(w, "api", "-X", "POST", "-d", "{\"a\":1}", path, NULL);
	fx_expect_exit(w, 0);
	expect_body_out(w, "{\"id\":\"2\"}");
	assert_int_equal(fake_count(w->api, NULL, NULL), 1);
	q = fake_request_nth(w->api, "POST", path, 0);
	assert_non_null(q);
	assert_string_equal(q->body, "{\"a\":1}");
	expect_bearer(w, q, 1);
	/* Write operations require a JSON content type (cloudmanager-api.md §1). */
	ct = fake_header(q, "Content-Type");
	assert_non_null(ct);
	assert_true(fx_media_type_is(ct, "application/json"));
}

static void test_api_renews_the_token_once_after_401(void **state)
{
	struct fx_world *w = *state;

	fake_push_json(w->api, "GET", FX_PROGRAMS_PATH, 401,
		       "{\"error_code\":\"401013\",\"message\":\"Oauth token is not valid\"}");
	fx_routes(w);
	fx_run(w, "api", FX_PROGRAMS_PATH, NULL);
	fx_expect_exit(w, 0);
	expect_body_out(w, fx_programs_json);
	assert_int_equal(fake_count(w->ims, NULL, NULL), 2);
	assert_int_equal(fake_count(w->api, NULL, NULL), 2);
	expect_bearer(w, fake_request_nth(w->api, NULL, NULL, 0), 1);
	expect_bearer(w, fake_request_nth(w->api, NULL, NULL, 1), 2);
}

static void test_api_gives_up_after_a_second_401(void **state)
{
	struct fx_world *w = *state;

	fx_ims_install(&w->tokens, w->ims);
	fake_push_json(w->api, "GET", FX_PROGRAMS_PATH, 401,
		       "{\"error_code\":\"401013\",\"message\":\"Oauth token is not valid\"}");
	fx_run(w, "api", FX_PROGRAMS_PATH, NULL);
	fx_expect_exit(w, 1);
	assert_int_equal(fake_count(w->ims, NULL, NULL), 2);
	assert_int_equal(fake_count(w->api, NULL, NULL), 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_api_prints_the_body),
		T(test_api_accepts_absolute_url_of_the_configured_origin),
		T(test_api_refuses_a_foreign_origin),
		T(test_api_refuses_userinfo_trick),
		T(test_api_does_not_follow_a_redirect_to_a_foreign_origin),
		T(test_api_post_sends_the_body),
		T(test_api_renews_the_token_once_after_401),
		T(test_api_gives_up_after_a_second_401),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
