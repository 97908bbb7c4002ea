/* Unit tests for retry.c: the backoff schedule with a fixed seed (monotone
 * until the cap, cap respected, jitter within ±20 %, deterministic), the
 * Retry-After floor, saturation at huge inputs, and the give-up age. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "retry.h"

#define NOW 1749719708000LL
#define INITIAL 10000LL          /* RETRY_INITIAL default: 10 s */
#define MAX_DELAY 900000LL       /* RETRY_MAX_DELAY default: 15 min */
#define SEED 0xC0FFEEu

static int64_t delay(unsigned attempt, uint32_t seed)
{
	return cmh_retry_next_at(NOW, attempt, INITIAL, MAX_DELAY, -1, seed) - NOW;
}

static void test_retry_schedule_within_jitter_and_cap(void **state)
{
	(void)state;
	for (uint32_t seed = 0; seed < 200; seed++) {
		int64_t base = INITIAL;

		for (unsigned n = 1; n <= 40; n++) {
			int64_t d = delay(n, seed);
			int64_t lo = base - base / 5, hi = base + base / 5;

			if (hi > MAX_DELAY)
				hi = MAX_DELAY;
			assert_in_range(d, lo, hi);
			base = base * 2 > MAX_DELAY ? MAX_DELAY : base * 2;
		}
	}
}

static void test_retry_monotone_until_cap(void **state)
{
	int64_t prev = 0;

	(void)state;
	/* 10 s doubling reaches 15 min between attempts 7 (640 s) and 8. */
	for (unsigned n = 1; n <= 7; n++) {
		int64_t d = delay(n, SEED);

		assert_true(d > prev);
		prev = d;
	}
	for (unsigned n = 8; n <= 30; n++)
		assert_in_range(delay(n, SEED), MAX_DELAY - MAX_DELAY / 5, MAX_DELAY);
}

static void test_retry_deterministic_and_spread(void **state)
{
	int64_t lo = INT64_MAX, hi = 0;

	(void)state;
	assert_int_equal(delay(3, SEED), delay(3, SEED));
	/* Attempt 0 counts as the first. */
	assert_int_equal(delay(0, SEED) >= INITIAL - INITIAL / 5, 1);
	for (uint32_t seed = 0; seed < 1000; seed++) {
		int64_t d = delay(1, seed);

		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	/* Jitter exists and uses most of its ±20 % band. */
	assert_true(lo < INITIAL - INITIAL / 10);
	assert_true(hi > INITIAL + INITIAL / 10);
}

static void test_retry_after_wins(void **state)
{
	(void)state;
	/* Longer than the backoff: exactly Retry-After, even above the cap. */
	assert_int_equal(cmh_retry_next_at(NOW, 1, INITIAL, MAX_DELAY, 120000, SEED),
			 NOW + 120000);
	assert_int_equal(cmh_retry_next_at(NOW, 1, INITIAL, MAX_DELAY, 3600000, SEED),
			 NOW + 3600000);
	/* Shorter than the backoff: the backoff stands. */
	assert_int_equal(cmh_retry_next_at(NOW, 5, INITIAL, MAX_DELAY, 1000, SEED),
			 cmh_retry_next_at(NOW, 5, INITIAL, MAX_DELAY, -1, SEED));
	assert_int_equal(cmh_retry_next_at(NOW, 5, INITIAL, MAX_DELAY, 0, SEED),
			 cmh_retry_next_at(NOW, 5, INITIAL, MAX_DELAY, -1, SEED));
	/* An absurd Retry-After is held to the ceiling. */
	assert_int_equal(cmh_retry_next_at(NOW, 1, INITIAL, MAX_DELAY, INT64_MAX, SEED),
			 NOW + CMH_RETRY_AFTER_CEILING_MS);
}

static void test_retry_no_overflow(void **state)
{
	(void)state;
	assert_in_range(cmh_retry_next_at(NOW, 1000, INITIAL, MAX_DELAY, -1, SEED) - NOW,
			MAX_DELAY - MAX_DELAY / 5, MAX_DELAY);
	assert_in_range(cmh_retry_next_at(NOW, UINT_MAX, INITIAL, MAX_DELAY, -1, SEED) - NOW,
			MAX_DELAY - MAX_DELAY / 5, MAX_DELAY);
	assert_in_range(cmh_retry_next_at(NOW, 63, 1, INT64_MAX, -1, SEED) - NOW,
			0, INT64_MAX - NOW);
	/* Cap and initial at the top of the range: saturates, never wraps. */
	assert_true(cmh_retry_next_at(NOW, 1000, INT64_MAX, INT64_MAX, -1, SEED) >= NOW);
	assert_int_equal(cmh_retry_next_at(INT64_MAX - 5, 1000, INITIAL, MAX_DELAY, -1, SEED),
			 INT64_MAX);
	assert_int_equal(cmh_retry_next_at(INT64_MAX, 1, INITIAL, MAX_DELAY,
					   CMH_RETRY_AFTER_CEILING_MS, SEED), INT64_MAX);
	for (unsigned n = 60; n < 70; n++)
		assert_in_range(cmh_retry_next_at(0, n, 3, INT64_MAX / 2, -1, SEED), 0,
				INT64_MAX / 2);
}

static void test_retry_degenerate_inputs(void **state)
{
	(void)state;
	/* Cap below the initial delay: the cap wins. */
	assert_in_range(cmh_retry_next_at(NOW, 1, 60000, 1000, -1, SEED) - NOW, 800, 1000);
	/* Zero and negative delays: now (no time travel). */
	assert_int_equal(cmh_retry_next_at(NOW, 3, 0, MAX_DELAY, -1, SEED), NOW);
	assert_int_equal(cmh_retry_next_at(NOW, 3, -5, -5, -1, SEED), NOW);
	assert_int_equal(cmh_retry_next_at(NOW, 3, INITIAL, 0, -1, SEED), NOW);
	assert_int_equal(cmh_retry_next_at(NOW, 3, INITIAL, 0, 500, SEED), NOW + 500);
}

static void test_retry_give_up(void **state)
{
	const int64_t day = 24LL * 3600 * 1000;

	(void)state;
	assert_false(cmh_retry_give_up(NOW, NOW, day));
	assert_false(cmh_retry_give_up(NOW, NOW + day - 1, day));
	assert_true(cmh_retry_give_up(NOW, NOW + day, day));
	assert_true(cmh_retry_give_up(NOW, NOW + day + 1, day));
	/* The clock went backwards: not old. */
	assert_false(cmh_retry_give_up(NOW, NOW - 1000, day));
	/* No age allowed at all. */
	assert_true(cmh_retry_give_up(NOW, NOW, 0));
	assert_true(cmh_retry_give_up(NOW, NOW, -1));
	/* Extremes do not overflow. */
	assert_true(cmh_retry_give_up(INT64_MIN, INT64_MAX, day));
	assert_false(cmh_retry_give_up(INT64_MAX, INT64_MIN, day));
	assert_false(cmh_retry_give_up(0, INT64_MAX - 1, INT64_MAX));
	assert_true(cmh_retry_give_up(-1, INT64_MAX - 1, INT64_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_schedule_within_jitter_and_cap),
		cmocka_unit_test(test_retry_monotone_until_cap),
		cmocka_unit_test(test_retry_deterministic_and_spread),
		cmocka_unit_test(test_retry_after_wins),
		cmocka_unit_test(test_retry_no_overflow),
		cmocka_unit_test(test_retry_degenerate_inputs),
		cmocka_unit_test(test_retry_give_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
