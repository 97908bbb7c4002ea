/* Token bucket: bursts up to the bucket size, then one per interval. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ratelimit.h"

static void test_ratelimit_burst_then_interval(void **state)
{
	struct cmh_ratelimit rl;

	(void)state;
	cmh_ratelimit_init(&rl, 1000, 3, 0);
	assert_int_equal(cmh_ratelimit_take(&rl, 0), 0);
	assert_int_equal(cmh_ratelimit_take(&rl, 0), 0);
	assert_int_equal(cmh_ratelimit_take(&rl, 0), 0);
	assert_int_equal(cmh_ratelimit_take(&rl, 0), 1000);
	assert_int_equal(cmh_ratelimit_take(&rl, 400), 600);
	assert_int_equal(cmh_ratelimit_take(&rl, 1000), 0);
	assert_int_equal(cmh_ratelimit_take(&rl, 1000), 1000);
	/* A long pause refills no more than the bucket. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(cmh_ratelimit_take(&rl, 100000), 0);
	assert_int_equal(cmh_ratelimit_take(&rl, 100000), 1000);
}

static void test_ratelimit_unlimited_and_clock_backwards(void **state)
{
	struct cmh_ratelimit rl;

	(void)state;
	cmh_ratelimit_init(&rl, 0, 1, 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(cmh_ratelimit_take(&rl, 0), 0);
	cmh_ratelimit_init(&rl, 250, 1, 5000);
	assert_int_equal(cmh_ratelimit_take(&rl, 5000), 0);
	assert_int_equal(cmh_ratelimit_take(&rl, 4000), 250);
	assert_int_equal(cmh_ratelimit_take(&rl, 5250), 0);
}

static void test_ratelimit_wait_takes_nothing(void **state)
{
	struct cmh_ratelimit rl;

	(void)state;
	cmh_ratelimit_init(&rl, 36000, 2, 0);
	assert_int_equal(cmh_ratelimit_wait(&rl, 0), 0);
	assert_int_equal(cmh_ratelimit_wait(&rl, 0), 0);
	assert_int_equal(cmh_ratelimit_take(&rl, 0), 0);
	assert_int_equal(cmh_ratelimit_take(&rl, 0), 0);
	assert_int_equal(cmh_ratelimit_wait(&rl, 0), 36000);
	assert_int_equal(cmh_ratelimit_wait(&rl, 35999), 1);
	assert_int_equal(cmh_ratelimit_take(&rl, 36000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratelimit_burst_then_interval),
		cmocka_unit_test(test_ratelimit_unlimited_and_clock_backwards),
		cmocka_unit_test(test_ratelimit_wait_takes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
