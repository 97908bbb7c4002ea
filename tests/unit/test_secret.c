/*
 * Unit tests for secret.c: setting and clearing, fingerprints, and loading
 * from files (newline stripping, size cap, empty and NUL-containing files,
 * $CREDENTIALS_DIRECTORY). Files live in a fresh temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounds.h"
#include "secret.h"

struct fixture {
	char dir[64];
	char cwd[4096];
};

static char *path_in(const struct fixture *f, const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	return path;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cmh_test_secret.XXXXXX");
	if (!mkdtemp(f->dir) || !getcwd(f->cwd, sizeof(f->cwd)))
		return -1;
	unsetenv("CREDENTIALS_DIRECTORY");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { "s", "crlf", "plain", "two", "empty", "nl", "nul",
		"max", "over", "cred" };

	(void)!chdir(f->cwd);
	unsetenv("CREDENTIALS_DIRECTORY");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path_in(f, names[i]));
	rmdir(path_in(f, "sub"));
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_secret_set_and_clear(void **state)
{
	struct cmh_secret s = { 0 };

	assert_false(cmh_secret_is_set(&s));
	cmh_secret_clear(&s);
	cmh_secret_clear(NULL);
	assert_int_equal(cmh_secret_set(&s, "abcdef", 3), CMH_OK);
	assert_true(cmh_secret_is_set(&s));
	assert_int_equal(s.len, 3);
	assert_string_equal(s.data, "abc");
	assert_int_equal(cmh_secret_set(&s, "xyz", 3), CMH_OK);   /* replaces */
	assert_string_equal(s.data, "xyz");
	assert_int_equal(cmh_secret_set(&s, "", 0), CMH_OK);
	assert_false(cmh_secret_is_set(&s));
	cmh_secret_clear(&s);
	assert_null(s.data);
	assert_int_equal(s.len, 0);
	cmh_secret_clear(&s);
}

static void test_secret_fingerprint(void **state)
{
	struct cmh_secret s = { 0 };
	char fp[CMH_FINGERPRINT_LEN + 1], want[CMH_FINGERPRINT_LEN + 1];

	cmh_secret_fingerprint(&s, fp);
	assert_string_equal(fp, "-");
	assert_int_equal(cmh_secret_set(&s, "hunter2", 7), CMH_OK);
	cmh_secret_fingerprint(&s, fp);
	cmh_fingerprint("hunter2", 7, want);
	assert_string_equal(fp, want);
	assert_int_equal(strlen(fp), CMH_FINGERPRINT_LEN);
	assert_null(strstr(fp, "hunter2"));
	cmh_secret_clear(&s);
}

struct file_case {
	const char *name;
	const char *content;
	size_t len;
	const char *want;   /* NULL: error */
	enum cmh_err want_err;
	const char *want_reason;
};

static const struct file_case file_cases[] = {
	{ "s", "s3cr3t\n", 7, "s3cr3t", CMH_OK, NULL },
	{ "crlf", "s3cr3t\r\n", 8, "s3cr3t", CMH_OK, NULL },
	{ "plain", "s3cr3t", 6, "s3cr3t", CMH_OK, NULL },
	{ "two", "s3cr3t\n\n", 8, "s3cr3t\n", CMH_OK, NULL },
	{ "empty", "", 0, NULL, CMH_ERR_PARSE, "is empty" },
	{ "nl", "\n", 1, NULL, CMH_ERR_PARSE, "is empty" },
	{ "nul", "s3cr3t\0tail", 11, NULL, CMH_ERR_PARSE, "contains a NUL byte" },
};

static void test_secret_load_file_contents(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
		const struct file_case *tc = &file_cases[i];
		struct cmh_secret s = { 0 };
		struct cmh_buf err, want_msg;
		char *path = path_in(f, tc->name);
		enum cmh_err rc;

		write_file(path, tc->content, tc->len);
		cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
		cmh_buf_init(&want_msg, CMH_BUF_MAX_ERRMSG);
		rc = cmh_secret_load_file(&s, path, &err);
		if (tc->want) {
			assert_int_equal(rc, CMH_OK);
			assert_string_equal(s.data, tc->want);
			assert_int_equal(s.len, strlen(tc->want));
		} else {
			assert_int_equal(rc, tc->want_err);
			assert_false(cmh_secret_is_set(&s));
			assert_int_equal(cmh_buf_addf(&want_msg, "%s: %s", path, tc->want_reason),
					 CMH_OK);
			assert_string_equal(err.data, want_msg.data);
			assert_null(strstr(err.data, "s3cr3t"));
		}
		cmh_secret_clear(&s);
		cmh_buf_release(&err);
		cmh_buf_release(&want_msg);
	}
}

static void test_secret_load_file_size_cap(void **state)
{
	struct fixture *f = *state;
	size_t n = CMH_MAX_SECRET_FILE + 1;
	char *big = malloc(n);
	struct cmh_secret s = { 0 };
	struct cmh_buf err;

	assert_non_null(big);
	memset(big, 'k', n);
	write_file(path_in(f, "max"), big, n - 1);
	write_file(path_in(f, "over"), big, n);
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(cmh_secret_load_file(&s, path_in(f, "max"), &err), CMH_OK);
	assert_int_equal(s.len, CMH_MAX_SECRET_FILE);
	assert_int_equal(cmh_secret_load_file(&s, path_in(f, "over"), &err), CMH_ERR_TOO_LARGE);
	assert_non_null(strstr(err.data, "larger than 65536 bytes"));
	/* A failed load leaves the previous value alone. */
	assert_int_equal(s.len, CMH_MAX_SECRET_FILE);
	cmh_secret_clear(&s);
	cmh_buf_release(&err);
	free(big);
}

static void test_secret_load_file_errors(void **state)
{
	struct fixture *f = *state;
	struct cmh_secret s = { 0 };
	struct cmh_buf err, want;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	cmh_buf_init(&want, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(cmh_secret_load_file(&s, path_in(f, "missing"), &err), CMH_ERR_IO);
	assert_int_equal(cmh_buf_addf(&want, "%s/missing: No such file or directory", f->dir),
			 CMH_OK);
	assert_string_equal(err.data, want.data);
	assert_int_equal(cmh_secret_load_file(&s, f->dir, &err), CMH_ERR_IO);
	assert_non_null(strstr(err.data, "Is a directory"));
	assert_int_equal(cmh_secret_load_file(&s, "", &err), CMH_ERR_IO);
	assert_int_equal(cmh_secret_load_file(&s, path_in(f, "missing"), NULL), CMH_ERR_IO);
	assert_false(cmh_secret_is_set(&s));
	cmh_buf_release(&err);
	cmh_buf_release(&want);
}

static void test_secret_credentials_directory(void **state)
{
	struct fixture *f = *state;
	struct cmh_secret s = { 0 };
	struct cmh_buf err;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	write_file(path_in(f, "cred"), "from-creds\n", 11);
	assert_int_equal(mkdir(path_in(f, "sub"), 0700), 0);
	assert_int_equal(chdir(path_in(f, "sub")), 0);

	/* Without the variable a relative name is only looked up in the cwd. */
	assert_int_equal(cmh_secret_load_file(&s, "cred", &err), CMH_ERR_IO);
	assert_string_equal(err.data, "cred: No such file or directory");

	assert_int_equal(setenv("CREDENTIALS_DIRECTORY", f->dir, 1), 0);
	assert_int_equal(cmh_secret_load_file(&s, "cred", &err), CMH_OK);
	assert_string_equal(s.data, "from-creds");
	/* Absolute paths are never redirected. */
	assert_int_equal(cmh_secret_load_file(&s, "/nonexistent/cred", &err), CMH_ERR_IO);
	assert_int_equal(cmh_secret_load_file(&s, "nope", &err), CMH_ERR_IO);
	assert_string_equal(err.data, "nope: No such file or directory");

	/* A file in the cwd takes precedence over the credentials directory. */
	assert_int_equal(chdir(f->dir), 0);
	write_file(path_in(f, "s"), "local\n", 6);
	assert_int_equal(setenv("CREDENTIALS_DIRECTORY", path_in(f, "sub"), 1), 0);
	assert_int_equal(cmh_secret_load_file(&s, "s", &err), CMH_OK);
	assert_string_equal(s.data, "local");

	cmh_secret_clear(&s);
	cmh_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_set_and_clear),
		cmocka_unit_test(test_secret_fingerprint),
		cmocka_unit_test_setup_teardown(test_secret_load_file_contents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_load_file_size_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_load_file_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_credentials_directory, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
