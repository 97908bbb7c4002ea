/*
 * `cmhook check` against fake IMS and Cloud Manager API: the report on
 * success, which step it names on failure, and the headers of the API call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

static void expect_header(const struct fake_request *q, const char *name, const char *want)
{
	const char *v = fake_header(q, name);

	if (!v || strcmp(v, want) != 0)
		fail_msg("header %s: got %s, want %s", name, v ? v : "(absent)", want);
}

static void test_check_reports_both_programs(void **state)
{
	struct fx_world *w = *state;
	const struct fake_request *q;
	char *bearer, *tok;

	fx_routes(w);
	fx_run(w, "check", NULL);
	fx_expect_exit(w, 0);
	if (!fx_contains(w->r.out, w->r.out_len, FX_PROGRAM1_NAME) ||
	    !fx_contains(w->r.out, w->r.out_len, FX_PROGRAM2_NAME) ||
	    !fx_contains_ci(w->r.out, w->r.out_len, "2 program")) {
		run_result_dump(&w->r, "check");
		fail_msg("stdout does not report 2 programs by name");
	}
	assert_int_equal(fake_count(w->ims, NULL, NULL), 1);
	assert_int_equal(fake_count(w->api, "GET", FX_PROGRAMS_PATH), 1);
	q = fake_request_nth(w->api, "GET", FX_PROGRAMS_PATH, 0);
	tok = fx_ims_token(&w->tokens, 1);
	bearer = tmp_xasprintf("Bearer %s", tok);
	expect_header(q, "Authorization", bearer);
	expect_header(q, "x-api-key", FX_CLIENT_ID);
	expect_header(q, "x-gw-ims-org-id", FX_ORG);
	expect_header(q, "Accept", "application/json");
	free(bearer);
	free(tok);
}

static void test_check_names_the_token_step_when_ims_fails(void **state)
{
	struct fx_world *w = *state;

	fake_push_json(w->ims, "POST", FX_IMS_PATH, 401,
		       "{\"error\":\"invalid_client\",\"error_description\":\"invalid client_secret parameter\"}");
	fx_cmapi_install(w->api);
	fx_run(w, "check", NULL);
	fx_expect_exit(w, 1);
	fx_expect_output(w, "token");
	fx_expect_output(w, "invalid_client");
	assert_int_equal(fake_count(w->api, NULL, NULL), 0);
}

static void test_check_names_the_api_step_when_api_forbids(void **state)
{
	struct fx_world *w = *state;

	fx_ims_install(&w->tokens, w->ims);
	fake_push_json(w->api, "GET", FX_PROGRAMS_PATH, 403,
		       "{\"error_code\":\"403003\",\"message\":\"Api Key is invalid\"}");
	fx_run(w, "check", NULL);
	fx_expect_exit(w, 1);
	fx_expect_output(w, "api");
	fx_expect_output(w, "403");
	assert_int_equal(fake_count(w->ims, NULL, NULL), 1);
	assert_int_equal(fake_count(w->api, NULL, NULL), 1);
}

static void test_check_without_organization_is_a_config_error(void **state)
{
	struct fx_world *w = *state;

	fx_routes(w);
	run_env_unset(&w->env, "ORGANIZATION_ID");
	fx_run(w, "check", NULL);
	fx_expect_exit(w, 2);
	/* check reports the failing step as its result, so stdout counts. */
	fx_expect_output(w, "ORGANIZATION_ID");
	assert_int_equal(fake_count(w->api, NULL, NULL), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_check_reports_both_programs),
		T(test_check_names_the_token_step_when_ims_fails),
		T(test_check_names_the_api_step_when_api_forbids),
		T(test_check_without_organization_is_a_config_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
