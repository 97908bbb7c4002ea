/*
 * Unit tests for dotenv.c: table-driven. Each case is input bytes and either
 * the assignments the parser reports ("KEY@line=value;" in order) or the exact
 * error message. Values are never allowed in error messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dotenv.h"

struct collect {
	struct cmh_buf out;
	int stop_after;   /* stop (return 1) after this many calls; 0: never */
	int calls;
};

static int collect_fn(const char *key, const char *value, unsigned line, void *ud)
{
	struct collect *c = ud;

	assert_int_equal(cmh_buf_addf(&c->out, "%s@%u=%s;", key, line, value), CMH_OK);
	c->calls++;
	return c->stop_after && c->calls >= c->stop_after;
}

struct ok_case {
	const char *name;
	const char *text;
	const char *want;
};

static const struct ok_case ok_cases[] = {
	{ "empty input", "", "" },
	{ "one line", "A=1\n", "A@1=1;" },
	{ "final line without newline", "A=1\nB=2", "A@1=1;B@2=2;" },
	{ "CRLF", "A=1\r\nB=two words\r\n", "A@1=1;B@2=two words;" },
	{ "BOM", "\xef\xbb\xbf" "A=1\n", "A@1=1;" },
	{ "only a BOM", "\xef\xbb\xbf", "" },
	{ "export prefix", "export A=1\nexport\tB = 2\n", "A@1=1;B@2=2;" },
	{ "export as a key", "export=1\n", "export@1=1;" },
	{ "exported key starting with export", "exportX=1\n", "exportX@1=1;" },
	{ "empty value", "KEY=\nOTHER=\r\n", "KEY@1=;OTHER@2=;" },
	{ "spaces around =", "A = 1 \nB\t=\t2\t\n  C=3\n", "A@1=1;B@2=2;C@3=3;" },
	{ "duplicates reported in order", "A=1\nA=2\n", "A@1=1;A@2=2;" },
	{ "value containing =", "A=b=c==\n", "A@1=b=c==;" },
	{ "hash without preceding blank is a value", "A=a#b\nB=#ff0000\n", "A@1=a#b;B@2=#ff0000;" },
	{ "hash after a blank comments", "A=a #b\nB= #only comment\n", "A@1=a;B@2=;" },
	{ "comment lines", "# comment\n  # indented\nA=1\n#B=2", "A@3=1;" },
	{ "blank and whitespace-only lines", "\n   \t \n\r\nA=1\n\n", "A@4=1;" },
	{ "trailing blanks trimmed, inner kept", "A=hello   world \t\n", "A@1=hello   world;" },
	{ "dollar is literal", "A=$HOME\nB=\"${X}\\$Y\"\n", "A@1=$HOME;B@2=${X}$Y;" },
	{ "key characters", "a.b-c_1=x\n_=y\n", "a.b-c_1@1=x;_@2=y;" },
	{ "double quotes keep blanks and hashes", "A=\"  x # y  \"\n", "A@1=  x # y  ;" },
	{ "empty double quotes", "A=\"\"\n", "A@1=;" },
	{ "double-quoted escapes", "A=\"n\\nt\\tr\\rb\\\\q\\\"d\\$\"\n",
	  "A@1=n\nt\tr\rb\\q\"d$;" },
	{ "unknown escape kept", "A=\"C:\\path\\x\"\n", "A@1=C:\\path\\x;" },
	{ "multi-line double quotes", "A=\"l1\nl2\n\"\nB=3\n", "A@1=l1\nl2\n;B@4=3;" },
	{ "multi-line double quotes with CRLF", "A=\"l1\r\nl2\"\r\nB=3\r\n", "A@1=l1\nl2;B@3=3;" },
	{ "escaped newline counts lines", "A=\"x\\\ny\"\nB=1\n", "A@1=x\\\ny;B@3=1;" },
	{ "comment after closing quote", "A=\"x\" # c\nB='y'#c\nC=\"z\"  \n", "A@1=x;B@2=y;C@3=z;" },
	{ "single quotes are literal", "A='x\\ny $Z \"#\" '\n", "A@1=x\\ny $Z \"#\" ;" },
	{ "empty single quotes", "A=''\n", "A@1=;" },
	{ "quote inside unquoted value", "A=it's\nB=a\"b\n", "A@1=it's;B@2=a\"b;" },
	{ "lone CR is data, trailing CR trimmed", "A=x\ry\r", "A@1=x\ry;" },
};

static void test_dotenv_accepts_valid_input(void **state)
{
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *tc = &ok_cases[i];
		struct collect c = { .stop_after = 0 };
		struct cmh_buf err;
		enum cmh_err rc;

		cmh_buf_init(&c.out, 1 << 16);
		cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
		rc = cmh_dotenv_parse(tc->text, strlen(tc->text), "t.env", collect_fn, &c, &err);
		if (rc != CMH_OK || strcmp(c.out.data, tc->want) != 0)
			fail_msg("case \"%s\": rc=%d err=\"%s\" got \"%s\" want \"%s\"", tc->name,
				 rc, err.data, c.out.data, tc->want);
		cmh_buf_release(&c.out);
		cmh_buf_release(&err);
	}
}

struct bad_case {
	const char *name;
	const char *text;
	size_t len;           /* 0: strlen(text) */
	const char *want_err;
	const char *want_before; /* assignments reported before the error */
};

static const struct bad_case bad_cases[] = {
	{ "unterminated double quote", "A=1\nB=\"secretvalue\nC=3\n", 0,
	  "t.env:2: unterminated double-quoted value", "A@1=1;" },
	{ "unterminated at end", "A=\"secretvalue\\", 0,
	  "t.env:1: unterminated double-quoted value", "" },
	{ "unterminated single quote", "A='secretvalue\nB='x'\n", 0,
	  "t.env:1: unterminated single-quoted value", "" },
	{ "text after closing quote", "\nA=\"x\" secretvalue\n", 0,
	  "t.env:2: unexpected text after the closing quote", "" },
	{ "text after closing single quote", "A='x'y\n", 0,
	  "t.env:1: unexpected text after the closing quote", "" },
	{ "key starting with a digit", "1A=x\n", 0,
	  "t.env:1: invalid key (expected a name of letters, digits and _ . -)", "" },
	{ "missing key", "=secretvalue\n", 0,
	  "t.env:1: invalid key (expected a name of letters, digits and _ . -)", "" },
	{ "bad character in key", "FO$O=1\n", 0,
	  "t.env:1: invalid key (expected a name of letters, digits and _ . -)", "" },
	{ "key without =", "A=1\nFOO\n", 0, "t.env:2: missing '=' after the key", "A@1=1;" },
	{ "key without = at end", "FOO", 0, "t.env:1: missing '=' after the key", "" },
	{ "key then comment", "FOO # x\n", 0, "t.env:1: missing '=' after the key", "" },
	{ "two words", "FOO BAR=1\n", 0, "t.env:1: missing '=' after the key", "" },
	{ "export without assignment", "export FOO\n", 0, "t.env:1: missing '=' after the key", "" },
	{ "line after a multi-line value", "A=\"a\nb\"\nC D\n", 0,
	  "t.env:3: missing '=' after the key", "A@1=a\nb;" },
	{ "NUL byte in value", "A=1\nB=x\0y\n", 10, "t.env:2: NUL byte", "" },
	{ "NUL byte on its own line", "A=1\n\n\0", 7, "t.env:3: NUL byte", "" },
};

static void test_dotenv_rejects_malformed_input(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *tc = &bad_cases[i];
		size_t len = tc->len ? tc->len : strlen(tc->text);
		struct collect c = { .stop_after = 0 };
		struct cmh_buf err;
		enum cmh_err rc;

		cmh_buf_init(&c.out, 1 << 16);
		cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
		rc = cmh_dotenv_parse(tc->text, len, "t.env", collect_fn, &c, &err);
		if (rc != CMH_ERR_PARSE || strcmp(err.data, tc->want_err) != 0 ||
		    strcmp(c.out.data, tc->want_before) != 0)
			fail_msg("case \"%s\": rc=%d err=\"%s\" want \"%s\"; got \"%s\" before",
				 tc->name, rc, err.data, tc->want_err, c.out.data);
		assert_null(strstr(err.data, "secretvalue"));
		cmh_buf_release(&c.out);
		cmh_buf_release(&err);
	}
}

static void test_dotenv_callback_can_stop(void **state)
{
	static const char text[] = "A=1\nB=2\nC=3\n";
	struct collect c = { .stop_after = 2 };
	enum cmh_err rc;

	cmh_buf_init(&c.out, 1024);
	rc = cmh_dotenv_parse(text, strlen(text), "t.env", collect_fn, &c, NULL);
	assert_int_equal(rc, CMH_ERR_INTERNAL);
	assert_string_equal(c.out.data, "A@1=1;B@2=2;");
	cmh_buf_release(&c.out);
}

static void test_dotenv_null_errmsg_and_filename(void **state)
{
	struct collect c = { .stop_after = 0 };
	struct cmh_buf err;

	cmh_buf_init(&c.out, 1024);
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(cmh_dotenv_parse("A", 1, "x", collect_fn, &c, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_dotenv_parse("A", 1, NULL, collect_fn, &c, &err), CMH_ERR_PARSE);
	assert_string_equal(err.data, "-:1: missing '=' after the key");
	cmh_buf_release(&c.out);
	cmh_buf_release(&err);
}

/* Input need not be NUL-terminated: a length that stops inside a value. */
static void test_dotenv_respects_length(void **state)
{
	static const char text[] = "A=12345\nB=6";
	struct collect c = { .stop_after = 0 };

	cmh_buf_init(&c.out, 1024);
	assert_int_equal(cmh_dotenv_parse(text, 4, "t.env", collect_fn, &c, NULL), CMH_OK);
	assert_string_equal(c.out.data, "A@1=12;");
	cmh_buf_release(&c.out);
}

static void test_dotenv_large_value(void **state)
{
	size_t n = 200000;
	char *text = malloc(n + 8);
	struct collect c = { .stop_after = 0 };

	assert_non_null(text);
	memcpy(text, "BIG=\"", 5);
	for (size_t i = 0; i < n; i++)
		text[5 + i] = (char)('a' + (char)(i % 26));
	memcpy(text + 5 + n, "\"\n", 2);
	cmh_buf_init(&c.out, n + 64);
	assert_int_equal(cmh_dotenv_parse(text, n + 7, "t.env", collect_fn, &c, NULL), CMH_OK);
	assert_int_equal(c.out.len, strlen("BIG@1=;") + n);
	assert_memory_equal(c.out.data + 6, text + 5, n);
	cmh_buf_release(&c.out);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dotenv_accepts_valid_input),
		cmocka_unit_test(test_dotenv_rejects_malformed_input),
		cmocka_unit_test(test_dotenv_callback_can_stop),
		cmocka_unit_test(test_dotenv_null_errmsg_and_filename),
		cmocka_unit_test(test_dotenv_respects_length),
		cmocka_unit_test(test_dotenv_large_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
