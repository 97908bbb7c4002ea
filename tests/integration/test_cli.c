/*
 * The command line surface of cmhook (INTERFACE.md "Command line"): --help,
 * --version, per-command --help, and exit code 2 for usage errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

static void test_cli_version(void **state)
{
	struct fx_world *w = *state;

	fx_run(w, "--version", NULL);
	fx_expect_exit(w, 0);
	assert_true(fx_contains(w->r.out, w->r.out_len, CMH_VERSION));
}

static void test_cli_help_lists_the_commands(void **state)
{
	struct fx_world *w = *state;
	static const char *const cmds[] = { "token", "check", "api" };

	fx_run(w, "--help", NULL);
	fx_expect_exit(w, 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!fx_contains(w->r.out, w->r.out_len, cmds[i])) {
			run_result_dump(&w->r, "--help");
			fail_msg("--help does not list %s", cmds[i]);
		}
}

static void test_cli_command_help_makes_no_request(void **state)
{
	struct fx_world *w = *state;

	fx_routes(w);
	fx_run(w, "token", "--help", NULL);
	fx_expect_exit(w, 0);
	assert_true(fx_contains(w->r.out, w->r.out_len, "--refresh"));
	assert_int_equal(fake_count(w->ims, NULL, NULL), 0);
}

static void test_cli_unknown_command_is_a_usage_error(void **state)
{
	struct fx_world *w = *state;

	fx_run(w, "nosuchcmd", NULL);
	fx_expect_exit(w, 2);
	fx_expect_stderr(w, "nosuchcmd");
	assert_int_equal(w->r.out_len, 0);
}

static void test_cli_unknown_option_is_a_usage_error(void **state)
{
	struct fx_world *w = *state;

	fx_routes(w);
	fx_run(w, "token", "--bogus", NULL);
	fx_expect_exit(w, 2);
	fx_expect_stderr(w, "--bogus");
	assert_int_equal(w->r.out_len, 0);
	assert_int_equal(fake_count(w->ims, NULL, NULL), 0);
}

static void test_cli_missing_env_file_is_a_config_error(void **state)
{
	struct fx_world *w = *state;

	fx_routes(w);
	fx_run(w, "--env", "/nonexistent/cmhook.env", "token", NULL);
	fx_expect_exit(w, 2);
	fx_expect_stderr(w, "/nonexistent/cmhook.env");
	assert_int_equal(w->r.out_len, 0);
	assert_int_equal(fake_count(w->ims, NULL, NULL), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_cli_version),
		T(test_cli_help_lists_the_commands),
		T(test_cli_command_help_makes_no_request),
		T(test_cli_unknown_command_is_a_usage_error),
		T(test_cli_unknown_option_is_a_usage_error),
		T(test_cli_missing_env_file_is_a_config_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
