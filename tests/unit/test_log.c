/*
 * Unit tests for log.c: cmh_q()/cmh_qn() escaping, quoting, truncation and
 * the ring of result slots; level parsing and the level filter; the shape of
 * an emitted line (captured by pointing stderr at a temp file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static void test_log_q_escaping(void **state)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{ "abc", "abc" },
		{ "", "\"\"" },
		{ "a b", "\"a b\"" },
		{ "a=b", "\"a=b\"" },
		{ "a\"b", "\"a\\\"b\"" },
		{ "a\\b", "\"a\\\\b\"" },
		{ "line\nnext", "\"line\\x0anext\"" },
		{ "cr\r", "\"cr\\x0d\"" },
		{ "tab\t", "\"tab\\x09\"" },
		{ "del\x7f", "\"del\\x7f\"" },
		{ "caf\xc3\xa9", "\"caf\\xc3\\xa9\"" },
		{ "ts=1 level=error msg=forged", "\"ts=1 level=error msg=forged\"" },
		{ "/api/program/1", "/api/program/1" },
	};

	assert_string_equal(cmh_q(NULL), "-");
	assert_string_equal(cmh_qn(NULL, 5), "-");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(cmh_q(cases[i].in), cases[i].want);
}

static void test_log_qn_range(void **state)
{
	assert_string_equal(cmh_qn("abcdef", 3), "abc");
	assert_string_equal(cmh_qn("a\0b", 3), "\"a\\x00b\"");
	assert_string_equal(cmh_qn("x", 0), "\"\"");
}

static void test_log_q_truncates(void **state)
{
	char in[400], want[400];

	memset(in, 'a', 160);
	in[160] = '\0';
	assert_string_equal(cmh_q(in), in);   /* exactly 160: whole */

	memset(in, 'a', 300);
	in[300] = '\0';
	memset(want, 'a', 160);
	memcpy(want + 160, "...", 4);
	assert_string_equal(cmh_q(in), want);

	/* Worst case: every byte escaped to four, still cut at 160 input bytes. */
	memset(in, '\n', 300);
	in[300] = '\0';
	assert_int_equal(strlen(cmh_q(in)), 1 + 160 * 4 + 3 + 1);

	/* A space after the cut still makes the value quoted. */
	memset(in, 'a', 300);
	in[250] = ' ';
	assert_true(cmh_q(in)[0] == '"');
}

static void test_log_q_ring_of_eight(void **state)
{
	const char *r[8];
	char name[8][8];

	for (int i = 0; i < 8; i++) {
		snprintf(name[i], sizeof(name[i]), "v%d", i);
		r[i] = cmh_q(name[i]);
	}
	/* All eight results are valid at once, e.g. in one log call. */
	for (int i = 0; i < 8; i++)
		assert_string_equal(r[i], name[i]);
}

static void test_log_parse_level(void **state)
{
	static const struct {
		const char *in;
		int want;   /* -1: error */
	} cases[] = {
		{ "error", CMH_LOG_ERROR }, { "warn", CMH_LOG_WARN }, { "WARNING", CMH_LOG_WARN },
		{ "Info", CMH_LOG_INFO }, { "debug", CMH_LOG_DEBUG }, { "", -1 }, { "verbose", -1 },
		{ "info ", -1 }, { "err", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum cmh_log_level lvl = (enum cmh_log_level)99;
		enum cmh_err rc = cmh_log_parse_level(cases[i].in, &lvl);

		if (cases[i].want < 0) {
			assert_int_equal(rc, CMH_ERR_CONFIG);
			assert_int_equal(lvl, 99);
		} else {
			assert_int_equal(rc, CMH_OK);
			assert_int_equal(lvl, cases[i].want);
		}
	}
}

/* Run fn with stderr going to a temp file; return what it wrote (caller frees). */
static char *capture_stderr(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *out = calloc(1, 8192);
	size_t n;

	assert_non_null(tmp);
	assert_non_null(out);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, 8191, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static int evaluations;

static const char *counted(const char *s)
{
	evaluations++;
	return s;
}

static void log_at_all_levels(void)
{
	cmh_log(CMH_LOG_DEBUG, "t", "debug line", "k=%s", counted("d"));
	cmh_log(CMH_LOG_INFO, "t", "info line", "k=%s", counted("i"));
	cmh_log(CMH_LOG_WARN, "t", "warn line", "k=%s", counted("w"));
	cmh_log(CMH_LOG_ERROR, "t", "error line", "k=%s", counted("e"));
}

static void test_log_level_filter(void **state)
{
	char *out;

	cmh_log_set_level(CMH_LOG_WARN);
	assert_false(cmh_log_enabled(CMH_LOG_DEBUG));
	assert_false(cmh_log_enabled(CMH_LOG_INFO));
	assert_true(cmh_log_enabled(CMH_LOG_WARN));
	assert_true(cmh_log_enabled(CMH_LOG_ERROR));
	evaluations = 0;
	out = capture_stderr(log_at_all_levels);
	assert_int_equal(evaluations, 2);   /* disabled levels do not even format */
	assert_null(strstr(out, "debug line"));
	assert_null(strstr(out, "info line"));
	assert_non_null(strstr(out, "level=warn mod=t msg=\"warn line\" k=w\n"));
	assert_non_null(strstr(out, "level=error mod=t msg=\"error line\" k=e\n"));
	free(out);

	cmh_log_set_level(CMH_LOG_DEBUG);
	evaluations = 0;
	out = capture_stderr(log_at_all_levels);
	assert_int_equal(evaluations, 4);
	assert_non_null(strstr(out, "level=debug mod=t msg=\"debug line\" k=d\n"));
	free(out);

	cmh_log_set_level(CMH_LOG_ERROR);
	out = capture_stderr(log_at_all_levels);
	assert_null(strstr(out, "warn line"));
	assert_non_null(strstr(out, "error line"));
	free(out);
	cmh_log_set_level(CMH_LOG_INFO);
}

static void log_one_line(void)
{
	cmh_log(CMH_LOG_INFO, "ims", "token", "k=%d", 1);
}

static void log_very_long(void)
{
	static char big[5000];

	memset(big, 'z', sizeof(big) - 1);
	cmh_log(CMH_LOG_INFO, "t", "long", "v=%s", big);
}

static void test_log_line_shape(void **state)
{
	char *out;
	size_t n;

	cmh_log_set_level(CMH_LOG_INFO);
	out = capture_stderr(log_one_line);
	/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ level=info mod=ims msg=token k=1\n */
	assert_int_equal(strncmp(out, "ts=", 3), 0);
	assert_int_equal(out[13], 'T');
	assert_int_equal(out[26], 'Z');
	assert_string_equal(out + 27, " level=info mod=ims msg=token k=1\n");
	free(out);

	out = capture_stderr(log_very_long);
	n = strlen(out);
	assert_true(n <= 2048);
	assert_int_equal(out[n - 1], '\n');
	assert_ptr_equal(strchr(out, '\n'), out + n - 1);   /* cut, never split */
	assert_non_null(strstr(out, "msg=long v=zzz"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_q_escaping),
		cmocka_unit_test(test_log_qn_range),
		cmocka_unit_test(test_log_q_truncates),
		cmocka_unit_test(test_log_q_ring_of_eight),
		cmocka_unit_test(test_log_parse_level),
		cmocka_unit_test(test_log_level_filter),
		cmocka_unit_test(test_log_line_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
