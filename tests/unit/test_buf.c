/*
 * Unit tests for buf.c: the strbuf invariants (never NULL, always
 * NUL-terminated), the hard maximum (all-or-nothing appends), detach,
 * release, wipe and cmh_errf().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_buf_init_is_empty_string(void **state)
{
	struct cmh_buf b;

	cmh_buf_init(&b, 16);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	cmh_buf_reset(&b);
	assert_string_equal(b.data, "");
	cmh_buf_release(&b);
	cmh_buf_release(&b);
	assert_string_equal(b.data, "");
	assert_int_equal(b.max, 16);
}

static void test_buf_appenders(void **state)
{
	struct cmh_buf b;

	cmh_buf_init(&b, 1024);
	assert_int_equal(cmh_buf_add(&b, "ab", 2), CMH_OK);
	assert_int_equal(cmh_buf_adds(&b, "cd"), CMH_OK);
	assert_int_equal(cmh_buf_addch(&b, 'e'), CMH_OK);
	assert_int_equal(cmh_buf_addf(&b, "%d-%s", 42, "x"), CMH_OK);
	assert_int_equal(cmh_buf_add(&b, NULL, 0), CMH_OK);
	assert_int_equal(cmh_buf_adds(&b, ""), CMH_OK);
	assert_int_equal(cmh_buf_addf(&b, "%s", ""), CMH_OK);
	assert_string_equal(b.data, "abcde42-x");
	assert_int_equal(b.len, 9);
	cmh_buf_reset(&b);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(cmh_buf_adds(&b, "again"), CMH_OK);
	assert_string_equal(b.data, "again");
	cmh_buf_release(&b);
}

static void test_buf_binary_data(void **state)
{
	struct cmh_buf b;

	cmh_buf_init(&b, 64);
	assert_int_equal(cmh_buf_add(&b, "a\0b", 3), CMH_OK);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);   /* plus the terminating NUL */
	cmh_buf_release(&b);
}

static void test_buf_max_is_all_or_nothing(void **state)
{
	struct cmh_buf b;

	cmh_buf_init(&b, 8);
	assert_int_equal(cmh_buf_adds(&b, "12345678"), CMH_OK);   /* exactly max */
	assert_int_equal(cmh_buf_addch(&b, '9'), CMH_ERR_TOO_LARGE);
	assert_int_equal(cmh_buf_add(&b, "", 0), CMH_OK);
	assert_string_equal(b.data, "12345678");
	cmh_buf_reset(&b);
	assert_int_equal(cmh_buf_adds(&b, "1234"), CMH_OK);
	assert_int_equal(cmh_buf_adds(&b, "56789"), CMH_ERR_TOO_LARGE);
	assert_int_equal(cmh_buf_addf(&b, "%s", "56789"), CMH_ERR_TOO_LARGE);
	assert_string_equal(b.data, "1234");
	assert_int_equal(b.len, 4);
	/* Sizes near SIZE_MAX must not wrap around. */
	assert_int_equal(cmh_buf_add(&b, "x", SIZE_MAX), CMH_ERR_TOO_LARGE);
	assert_int_equal(cmh_buf_add(&b, "x", SIZE_MAX - 2), CMH_ERR_TOO_LARGE);
	assert_string_equal(b.data, "1234");
	cmh_buf_release(&b);

	cmh_buf_init(&b, 0);
	assert_int_equal(cmh_buf_add(&b, "", 0), CMH_OK);
	assert_int_equal(cmh_buf_addch(&b, 'x'), CMH_ERR_TOO_LARGE);
	assert_string_equal(b.data, "");
	cmh_buf_release(&b);
}

static void test_buf_grows(void **state)
{
	struct cmh_buf b;
	size_t n = 100000;

	cmh_buf_init(&b, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cmh_buf_addch(&b, (char)('a' + i % 26)), CMH_OK);
	assert_int_equal(b.len, n);
	assert_int_equal(strlen(b.data), n);
	for (size_t i = 0; i < n; i += 997)
		assert_int_equal(b.data[i], 'a' + (int)(i % 26));
	assert_true(b.cap <= n + 1);
	assert_int_equal(cmh_buf_addch(&b, 'x'), CMH_ERR_TOO_LARGE);
	cmh_buf_release(&b);
}

static void test_buf_detach(void **state)
{
	struct cmh_buf b;
	size_t len = 99;
	char *p;

	cmh_buf_init(&b, 64);
	p = cmh_buf_detach(&b, &len);   /* empty: still a heap string */
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	assert_int_equal(cmh_buf_adds(&b, "hello"), CMH_OK);
	p = cmh_buf_detach(&b, &len);
	assert_string_equal(p, "hello");
	assert_int_equal(len, 5);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 64);
	assert_int_equal(cmh_buf_adds(&b, "next"), CMH_OK);   /* usable after detach */
	assert_string_equal(b.data, "next");
	assert_string_equal(p, "hello");
	free(p);
	p = cmh_buf_detach(&b, NULL);
	assert_string_equal(p, "next");
	free(p);
	cmh_buf_release(&b);
}

static void test_buf_wipe(void **state)
{
	struct cmh_buf b;

	cmh_buf_init(&b, 64);
	cmh_buf_wipe(&b);   /* on the shared empty string: nothing to free */
	assert_int_equal(cmh_buf_adds(&b, "secret"), CMH_OK);
	cmh_buf_wipe(&b);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 64);
	cmh_buf_release(&b);
}

static void test_buf_errf(void **state)
{
	struct cmh_buf b, small;
	char *longer = malloc(3000);

	cmh_errf(NULL, "ignored %d", 1);   /* NULL: no-op */
	cmh_buf_init(&b, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(cmh_buf_adds(&b, "old content"), CMH_OK);
	cmh_errf(&b, "%s: %d", "key", 7);
	assert_string_equal(b.data, "key: 7");   /* replaces */

	cmh_buf_init(&small, 5);
	cmh_errf(&small, "%s", "truncated silently");
	assert_string_equal(small.data, "trunc");
	cmh_buf_release(&small);

	assert_non_null(longer);
	memset(longer, 'x', 2999);
	longer[2999] = '\0';
	cmh_errf(&b, "%s", longer);
	assert_true(b.len > 0 && b.len <= CMH_BUF_MAX_ERRMSG);
	assert_int_equal(strlen(b.data), b.len);
	free(longer);
	cmh_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_init_is_empty_string),
		cmocka_unit_test(test_buf_appenders),
		cmocka_unit_test(test_buf_binary_data),
		cmocka_unit_test(test_buf_max_is_all_or_nothing),
		cmocka_unit_test(test_buf_grows),
		cmocka_unit_test(test_buf_detach),
		cmocka_unit_test(test_buf_wipe),
		cmocka_unit_test(test_buf_errf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
