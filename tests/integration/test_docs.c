/*
 * The README's configuration table is the program's own table: it must be
 * exactly what `cmhook config --keys` prints, so documentation and code
 * cannot drift apart. Also checks that `--help` lists every command the
 * README documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "run.h"
#include "tmp.h"

#define BEGIN_MARK "<!-- config-table:begin"
#define END_MARK "<!-- config-table:end -->"

static char *readme_table(void)
{
	char *readme = tmp_read(CMH_SOURCE_DIR "/README.md", NULL);
	char *begin, *end;

	assert_non_null(readme);
	begin = strstr(readme, BEGIN_MARK);
	assert_non_null(begin);
	begin = strchr(begin, '\n');
	assert_non_null(begin);
	begin++;
	end = strstr(begin, END_MARK);
	assert_non_null(end);
	*end = '\0';
	memmove(readme, begin, strlen(begin) + 1);
	return readme;
}

static void test_docs_readme_config_table_matches_program(void **state)
{
	struct run_result r;
	struct run_env env;
	char *dir = tmp_dir_new();
	char *table = readme_table();

	(void)state;
	run_env_init(&env);
	assert_true(run_cmdl(&r, dir, &env, 10000, "config", "--keys", NULL));
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(table, r.out);
	run_result_release(&r);
	run_env_release(&env);
	free(table);
	tmp_dir_free(dir);
}

static void test_docs_help_lists_every_command(void **state)
{
	static const char *const commands[] = { "serve", "token", "check", "api", "events",
						"replay", "config", "demo" };
	char *readme = tmp_read(CMH_SOURCE_DIR "/README.md", NULL);
	struct run_result r;
	struct run_env env;
	char *dir = tmp_dir_new();
	char needle[64];

	(void)state;
	run_env_init(&env);
	assert_true(run_cmdl(&r, dir, &env, 10000, "--help", NULL));
	assert_int_equal(r.exit_code, 0);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		snprintf(needle, sizeof(needle), "  %s ", commands[i]);
		assert_non_null(strstr(r.out, needle));
		snprintf(needle, sizeof(needle), "| `%s", commands[i]);
		assert_non_null(strstr(readme, needle));
	}
	run_result_release(&r);
	run_env_release(&env);
	free(readme);
	tmp_dir_free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docs_readme_config_table_matches_program),
		cmocka_unit_test(test_docs_help_lists_every_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
