/*
 * Unit tests for parse.c: one table per syntax, valid and invalid inputs,
 * boundaries and overflow; every failing parse must leave the out-parameter
 * untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"

#define UNTOUCHED 0x5a5a5a5a5a5a5a5aULL

struct u64_case {
	const char *in;
	int ok;
	uint64_t want;
};

typedef enum cmh_err (*u64_parser)(const char *s, uint64_t *ret);

static void run_u64_table(const char *what, u64_parser fn, const struct u64_case *cases,
			  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = UNTOUCHED;
		enum cmh_err rc = fn(cases[i].in, &v);

		if (cases[i].ok && (rc != CMH_OK || v != cases[i].want))
			fail_msg("%s(\"%s\"): rc=%d v=%llu want %llu", what,
				 cases[i].in ? cases[i].in : "NULL", rc, (unsigned long long)v,
				 (unsigned long long)cases[i].want);
		if (!cases[i].ok && (rc != CMH_ERR_PARSE || v != UNTOUCHED))
			fail_msg("%s(\"%s\"): accepted or touched (rc=%d v=%llu)", what,
				 cases[i].in ? cases[i].in : "NULL", rc, (unsigned long long)v);
	}
}

static void test_parse_u64(void **state)
{
	static const struct u64_case cases[] = {
		{ "0", 1, 0 }, { "7", 1, 7 }, { "007", 1, 7 }, { "4000", 1, 4000 },
		{ "18446744073709551615", 1, UINT64_MAX },
		{ "18446744073709551616", 0, 0 }, { "99999999999999999999", 0, 0 },
		{ "", 0, 0 }, { NULL, 0, 0 }, { "-1", 0, 0 }, { "+1", 0, 0 }, { " 1", 0, 0 },
		{ "1 ", 0, 0 }, { "1a", 0, 0 }, { "0x10", 0, 0 }, { "1.0", 0, 0 }, { "1e3", 0, 0 },
	};
	run_u64_table("u64", cmh_parse_u64, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_parse_duration(void **state)
{
	static const struct u64_case cases[] = {
		{ "500ms", 1, 500 }, { "30s", 1, 30000 }, { "15m", 1, 900000 },
		{ "24h", 1, 86400000 }, { "2d", 1, 172800000 }, { "30", 1, 30000 },
		{ "0", 1, 0 }, { "1min", 1, 60000 }, { "10S", 1, 10000 }, { "5MS", 1, 5 },
		{ "18446744073709551615ms", 1, UINT64_MAX },
		{ "18446744073709551615s", 0, 0 }, { "18446744073709551615", 0, 0 },
		{ "213503982334602d", 0, 0 },
		{ "", 0, 0 }, { NULL, 0, 0 }, { "s", 0, 0 }, { "ms", 0, 0 }, { "1.5s", 0, 0 },
		{ "-1s", 0, 0 }, { "1 s", 0, 0 }, { " 1s", 0, 0 }, { "1s ", 0, 0 }, { "1x", 0, 0 },
		{ "1sec", 0, 0 }, { "1h30m", 0, 0 }, { "1w", 0, 0 },
	};
	run_u64_table("duration", cmh_parse_duration_ms, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_parse_size(void **state)
{
	static const struct u64_case cases[] = {
		{ "0", 1, 0 }, { "100", 1, 100 }, { "1b", 1, 1 }, { "512k", 1, 524288 },
		{ "4m", 1, 4194304 }, { "4M", 1, 4194304 }, { "4mb", 1, 4194304 },
		{ "4MiB", 1, 4194304 }, { "1g", 1, 1073741824 }, { "2KB", 1, 2048 },
		{ "18446744073709551615", 1, UINT64_MAX },
		{ "18014398509481984k", 0, 0 }, { "17179869184g", 0, 0 },
		{ "", 0, 0 }, { NULL, 0, 0 }, { "k", 0, 0 }, { "1t", 0, 0 }, { "1.5m", 0, 0 },
		{ "-1", 0, 0 }, { "4 m", 0, 0 }, { "4m ", 0, 0 }, { "4mm", 0, 0 },
	};
	run_u64_table("size", cmh_parse_size, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_parse_bool(void **state)
{
	static const struct {
		const char *in;
		int want;   /* 1 true, 0 false, -1 error */
	} cases[] = {
		{ "on", 1 }, { "ON", 1 }, { "true", 1 }, { "Yes", 1 }, { "1", 1 },
		{ "off", 0 }, { "OFF", 0 }, { "false", 0 }, { "no", 0 }, { "0", 0 },
		{ "", -1 }, { NULL, -1 }, { "2", -1 }, { "o", -1 }, { "onn", -1 }, { " on", -1 },
		{ "enabled", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Start from the opposite of the expected value (false for errors). */
		bool v = cases[i].want == 0;
		enum cmh_err rc = cmh_parse_bool(cases[i].in, &v);

		if (cases[i].want < 0) {
			assert_int_equal(rc, CMH_ERR_PARSE);
			assert_false(v);   /* untouched */
		} else {
			assert_int_equal(rc, CMH_OK);
			assert_int_equal(v, cases[i].want);
		}
	}
}

static void test_parse_time(void **state)
{
	static const struct {
		const char *in;
		int ok;
		int64_t want;
	} cases[] = {
		/* The shapes Adobe writes (ims-oauth.md / events reference). */
		{ "2019-05-23T13:49:47.688+0000", 1, 1558619387688LL },
		{ "2021-08-23T08:37:41.846Z", 1, 1629707861846LL },
		{ "2018-03-06T15:19:03-08", 1, 1520378343000LL },
		{ "2020-02-29T12:00:00+05:30", 1, 1582957800000LL },
		{ "2020-02-29T12:00:00+0530", 1, 1582957800000LL },
		{ "2021-08-23t08:37:41.846z", 1, 1629707861846LL },
		{ "2021-08-23 08:37:41.846Z", 1, 1629707861846LL },
		{ "2021-08-23T08:37:41.8Z", 1, 1629707861800LL },
		{ "2021-08-23T08:37:41.846999Z", 1, 1629707861846LL },
		{ "1970-01-01T00:00:00Z", 1, 0 },
		{ "1969-12-31T23:59:59Z", 1, -1000 },
		{ "", 0, 0 }, { NULL, 0, 0 },
		{ "2021-08-23T08:37:41", 0, 0 },          /* no zone */
		{ "2021-08-23T08:37:41.Z", 0, 0 },
		{ "2021-08-23", 0, 0 },
		{ "2021-8-23T08:37:41Z", 0, 0 },
		{ "2021-13-01T00:00:00Z", 0, 0 },
		{ "2021-00-01T00:00:00Z", 0, 0 },
		{ "2021-01-32T00:00:00Z", 0, 0 },
		{ "2021-01-00T00:00:00Z", 0, 0 },
		{ "2021-02-29T00:00:00Z", 0, 0 },          /* not a leap year */
		{ "2021-04-31T00:00:00Z", 0, 0 },
		{ "2021-01-01T24:00:00Z", 0, 0 },
		{ "2021-01-01T00:60:00Z", 0, 0 },
		{ "2021-01-01T00:00:00+24", 0, 0 },
		{ "2021-01-01T00:00:00+05:3", 0, 0 },
		{ "2021-01-01T00:00:00+05:60", 0, 0 },
		{ "2021-01-01T00:00:00Zjunk", 0, 0 },
		{ "2021-01-01X00:00:00Z", 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t v = 42;
		enum cmh_err rc = cmh_parse_time_ms(cases[i].in, &v);

		if (cases[i].ok && (rc != CMH_OK || v != cases[i].want))
			fail_msg("time(\"%s\"): rc=%d v=%lld want %lld", cases[i].in, rc,
				 (long long)v, (long long)cases[i].want);
		if (!cases[i].ok && (rc != CMH_ERR_PARSE || v != 42))
			fail_msg("time(\"%s\"): accepted (v=%lld)", cases[i].in ? cases[i].in : "NULL",
				 (long long)v);
	}
}

static void test_parse_format_time(void **state)
{
	char out[32];
	int64_t back;

	cmh_format_time(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	cmh_format_time(1629707861846LL, out);
	assert_string_equal(out, "2021-08-23T08:37:41Z");
	assert_int_equal(cmh_parse_time_ms(out, &back), CMH_OK);
	assert_int_equal(back, 1629707861000LL);
}

static void test_parse_format_duration(void **state)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ 0, "0s" }, { 999, "0s" }, { 12000, "12s" }, { 59999, "59s" }, { 60000, "1m 00s" },
		{ 185000, "3m 05s" }, { 3600000, "1h 00m" }, { 6120000, "1h 42m" },
		{ 100LL * 3600000, "100h 00m" }, { -5000, "0s" },
	};
	char out[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cmh_format_duration(cases[i].ms, out);
		assert_string_equal(out, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_format_time),
		cmocka_unit_test(test_parse_format_duration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
