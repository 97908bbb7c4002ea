/* Unit tests for url.c: origins, redaction and the resolve policy that keeps
 * the bearer token on CLOUDMANAGER_API_URL's origin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "url.h"

static void test_url_origin_table(void **state)
{
	static const struct {
		const char *url;
		const char *origin;   /* NULL: CMH_ERR_PARSE */
	} cases[] = {
		{ "https://cloudmanager.adobe.io", "https://cloudmanager.adobe.io:443" },
		{ "https://cloudmanager.adobe.io/api/x?y=1", "https://cloudmanager.adobe.io:443" },
		{ "HTTPS://CloudManager.Adobe.IO:443/", "https://cloudmanager.adobe.io:443" },
		{ "http://127.0.0.1:8080/x", "http://127.0.0.1:8080" },
		{ "http://example.com", "http://example.com:80" },
		{ "http://[::1]:9/", "http://[::1]:9" },
		{ "https://a.b:0/", NULL },
		{ "https://a.b:99999/", NULL },
		{ "https://user@a.b/", NULL },
		{ "https://user:pw@a.b/", NULL },
		{ "https://a.b@evil.c/", NULL },
		{ "https://a.b?@evil.c/", "https://a.b:443" },
		/* Teams connector URLs carry <group>@<tenant> in the path. */
		{ "https://outlook.office.com/webhook/g-1@t-2/IncomingWebhook/abc/def",
		  "https://outlook.office.com:443" },
		{ "https://a.b/#frag", NULL },
		{ "https://a.b/x y", NULL },
		{ "https://a.b/\\x", NULL },
		{ "ftp://a.b/", NULL },
		{ "file:///etc/passwd", NULL },
		{ "javascript:alert(1)", NULL },
		{ "/api/x", NULL },
		{ "//a.b/x", NULL },
		{ "a.b", NULL },
		{ "", NULL },
		{ "https://a.b/\xc3\xa9", NULL },
	};
	struct cmh_buf out;

	(void)state;
	cmh_buf_init(&out, CMH_BUF_MAX_SMALL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum cmh_err err = cmh_url_origin(cases[i].url, &out);

		if (cases[i].origin) {
			assert_int_equal(err, CMH_OK);
			assert_string_equal(out.data, cases[i].origin);
		} else if (err != CMH_ERR_PARSE) {
			fail_msg("case %zu (%s): expected PARSE, got %d", i, cases[i].url, err);
		}
	}
	assert_int_equal(cmh_url_origin(NULL, &out), CMH_ERR_PARSE);
	cmh_buf_release(&out);
}

static void test_url_same_origin(void **state)
{
	(void)state;
	assert_true(cmh_url_same_origin("https://a.b", "https://A.B:443/x?q"));
	assert_true(cmh_url_same_origin("http://a.b/", "http://a.b:80"));
	assert_false(cmh_url_same_origin("https://a.b", "http://a.b"));
	assert_false(cmh_url_same_origin("https://a.b", "https://a.b:8443"));
	assert_false(cmh_url_same_origin("https://a.b", "https://a.b."));
	assert_false(cmh_url_same_origin("https://a.b", "https://x@a.b"));
	assert_false(cmh_url_same_origin("https://a.b", "not a url"));
	assert_false(cmh_url_same_origin("", ""));
}

#define BASE "https://cloudmanager.adobe.io"

static void test_url_resolve_accepts(void **state)
{
	static const struct {
		const char *ref;
		const char *want;
	} cases[] = {
		{ "/api/program/1", BASE "/api/program/1" },
		{ "/api/program/1/pipeline/2/executions?start=0&limit=5",
		  BASE "/api/program/1/pipeline/2/executions?start=0&limit=5" },
		{ "/api/a/../b", BASE "/api/b" },
		{ "/", BASE "/" },
		{ BASE "/api/program/1", BASE "/api/program/1" },
		{ BASE ":443/api/x?y=z", BASE ":443/api/x?y=z" },
		{ "HTTPS://CLOUDMANAGER.ADOBE.IO/api/x", "HTTPS://CLOUDMANAGER.ADOBE.IO/api/x" },
		{ "/%2F%2Fevil.example/x", BASE "/%2F%2Fevil.example/x" },
	};
	struct cmh_buf out, msg;

	(void)state;
	cmh_buf_init(&out, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum cmh_err err = cmh_url_resolve(BASE, cases[i].ref, &out, &msg);

		if (err != CMH_OK)
			fail_msg("case %zu (%s): %d %s", i, cases[i].ref, err, msg.data);
		assert_true(cmh_url_same_origin(out.data, BASE));
		if (strcasecmp(out.data, cases[i].want) != 0)
			fail_msg("case %zu: got %s want %s", i, out.data, cases[i].want);
	}
	/* A base with a path: path-absolute refs replace it. */
	assert_int_equal(cmh_url_resolve(BASE "/base/", "/api/x", &out, &msg), CMH_OK);
	assert_string_equal(out.data, BASE "/api/x");
	cmh_buf_release(&out);
	cmh_buf_release(&msg);
}

static void test_url_resolve_refuses_hostile(void **state)
{
	static const char *const refs[] = {
		"//evil.example/x",
		"///evil.example/x",
		"evil.example/x",
		"api/program/1",
		"./api",
		"../api",
		"?q=1",
		"#frag",
		"https://evil.example",
		"https://evil.example/api/program/1",
		"https://cloudmanager.adobe.io@evil.example/",
		"https://cloudmanager.adobe.io:443@evil.example/",
		"https://user:pw@cloudmanager.adobe.io/api",
		"https://cloudmanager.adobe.io%2F@evil.example/",
		"https://cloudmanager.adobe.io.evil.example/api",
		"https://cloudmanager.adobe.io./api",
		"http://cloudmanager.adobe.io/api",
		"https://cloudmanager.adobe.io:8443/api",
		"https://cloudmanager.adobe.io/api#frag",
		"/api/x#frag",
		"/api/@evil",
		"https:/evil.example/x",
		"https:evil.example",
		"/\\evil.example/x",
		"\\\\evil.example\\x",
		"https://cloudmanager.adobe.io\\@evil.example/",
		" /api/x",
		"/api/x y",
		"/api/\r\nHost: evil",
		"/api/\t",
		"/api/\xc3\xa9",
		"javascript:alert(1)",
		"file:///etc/passwd",
		"ftp://cloudmanager.adobe.io/api",
		"data:text/plain,hi",
		"",
	};
	struct cmh_buf out, msg;

	(void)state;
	cmh_buf_init(&out, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		enum cmh_err err = cmh_url_resolve(BASE, refs[i], &out, &msg);

		if (err != CMH_ERR_FORBIDDEN)
			fail_msg("case %zu (%s): expected FORBIDDEN, got %d (%s)", i, refs[i], err,
				 out.data);
		assert_true(msg.len > 0);
	}
	assert_int_equal(cmh_url_resolve(BASE, NULL, &out, NULL), CMH_ERR_FORBIDDEN);
	/* An oversized reference is refused, not truncated. */
	{
		char big[CMH_BUF_MAX_SMALL * 4];

		memset(big, 'a', sizeof(big) - 1);
		big[0] = '/';
		big[sizeof(big) - 1] = '\0';
		assert_int_not_equal(cmh_url_resolve(BASE, big, &out, NULL), CMH_OK);
	}
	cmh_buf_release(&out);
	cmh_buf_release(&msg);
}

static void test_url_resolve_bad_base(void **state)
{
	struct cmh_buf out;

	(void)state;
	cmh_buf_init(&out, CMH_BUF_MAX_SMALL);
	assert_int_equal(cmh_url_resolve("", "/api", &out, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_url_resolve(NULL, "/api", &out, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_url_resolve("ftp://a.b", "/api", &out, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_url_resolve("https://u@a.b", "/api", &out, NULL), CMH_ERR_PARSE);
	cmh_buf_release(&out);
}

static void test_url_redact(void **state)
{
	static const struct {
		const char *url;
		const char *want;
	} cases[] = {
		{ "https://hooks.example/services/T1?token=s3cret", "https://hooks.example/services/T1" },
		{ "https://user:pw@a.b/x?y#z", "https://a.b/x" },
		{ "http://a.b:8080/", "http://a.b:8080/" },
		{ "not a url ?secret", "<invalid URL>" },
		{ "", "<invalid URL>" },
	};
	struct cmh_buf out;

	(void)state;
	cmh_buf_init(&out, CMH_BUF_MAX_SMALL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cmh_url_redact(cases[i].url, &out);
		assert_string_equal(out.data, cases[i].want);
	}
	cmh_url_redact(NULL, &out);
	assert_string_equal(out.data, "<invalid URL>");
	cmh_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_origin_table),
		cmocka_unit_test(test_url_same_origin),
		cmocka_unit_test(test_url_resolve_accepts),
		cmocka_unit_test(test_url_resolve_refuses_hostile),
		cmocka_unit_test(test_url_resolve_bad_base),
		cmocka_unit_test(test_url_redact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
