/*
 * Secrets never leak (STYLE "Logging"): every command, succeeding and
 * failing, runs with LOG_LEVEL=debug, and its complete stderr and stdout
 * (except `token`'s own result) are searched for the client secret (raw and
 * as encoded on the wire) and for the access tokens the fake IMS issued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

struct leak_check {
	struct fx_world *w;
	struct fake_server *bad;   /* IMS answering 401, API answering 403/401 */
	char *needles[8];
	size_t n;
	unsigned runs;
};

static void add_needle(struct leak_check *lc, char *needle)
{
	assert_true(lc->n < sizeof(lc->needles) / sizeof(lc->needles[0]));
	lc->needles[lc->n++] = needle;
}

static void scan(struct leak_check *lc, const char *what, bool stdout_is_the_token)
{
	const struct run_result *r = &lc->w->r;

	lc->runs++;
	for (size_t i = 0; i < lc->n; i++) {
		bool in_err = fx_contains(r->err, r->err_len, lc->needles[i]);
		bool in_out = !stdout_is_the_token && fx_contains(r->out, r->out_len, lc->needles[i]);

		if (in_err || in_out) {
			run_result_dump(r, what);
			fail_msg("%s: secret #%zu leaked on %s", what, i, in_err ? "stderr" : "stdout");
		}
	}
}

/* The client_secret field exactly as it went over the wire (percent-encoded). */
static char *wire_secret(struct fake_server *ims)
{
	const struct fake_request *q = fake_request_nth(ims, "POST", FX_IMS_PATH, 0);
	const char *p, *end;

	assert_non_null(q);
	p = strstr(q->body, "client_secret=");
	assert_non_null(p);
	p += strlen("client_secret=");
	end = strchr(p, '&');
	return strndup(p, end ? (size_t)(end - p) : strlen(p));
}

static int setup(void **state)
{
	struct leak_check *lc = tmp_xmalloc(sizeof(*lc));

	memset(lc, 0, sizeof(*lc));
	*state = lc;
	lc->w = fx_world_new();
	lc->bad = fake_start();
	if (!lc->w || !lc->bad)
		return -1;
	fx_routes(lc->w);
	fake_push_json(lc->bad, "POST", FX_IMS_PATH, 401,
		       "{\"error\":\"invalid_client\",\"error_description\":\"invalid client_secret parameter\"}");
	fake_push_json(lc->bad, "GET", FX_PROGRAMS_PATH, 403,
		       "{\"error_code\":\"403003\",\"message\":\"Api Key is invalid\"}");
	fake_push_json(lc->bad, "GET", "/api/program/1", 401,
		       "{\"error_code\":\"401013\",\"message\":\"Oauth token is not valid\"}");
	run_env_set(&lc->w->env, "LOG_LEVEL", "debug");
	return 0;
}

static int teardown(void **state)
{
	struct leak_check *lc = *state;

	fx_world_free(lc->w);
	fake_stop(lc->bad);
	for (size_t i = 0; i < lc->n; i++)
		free(lc->needles[i]);
	free(lc);
	return 0;
}

static void test_secrets_never_appear_in_output(void **state)
{
	struct leak_check *lc = *state;
	struct fx_world *w = lc->w;
	struct run_env env;
	char *foreign;

	fx_run(w, "token", NULL);
	fx_expect_exit(w, 0);
	/* Now the wire form of the secret and the token's random part are known. */
	add_needle(lc, tmp_xstrdup(FX_SECRET));
	add_needle(lc, wire_secret(w->ims));
	add_needle(lc, tmp_xstrdup(w->tokens.prefix + strlen("eyJhbGciOiJSUzI1NiJ9.")));
	scan(lc, "token", true);
	fx_run(w, "--help", NULL);
	fx_expect_exit(w, 0);
	scan(lc, "--help", false);
	fx_run(w, "token", "--help", NULL);
	fx_expect_exit(w, 0);
	scan(lc, "token --help", false);
	fx_run(w, "token", "--refresh", NULL);
	fx_expect_exit(w, 0);
	scan(lc, "token --refresh", true);
	fx_run(w, "check", NULL);
	fx_expect_exit(w, 0);
	scan(lc, "check", false);
	fx_run(w, "api", FX_PROGRAMS_PATH, NULL);
	fx_expect_exit(w, 0);
	scan(lc, "api", false);
	fx_run(w, "api", "-X", "POST", "-d", "{}", "/api/nothing", NULL);
	scan(lc, "api POST to a 404", false);
	foreign = tmp_xasprintf("%s/api/programs", fake_url(lc->bad));
	fx_run(w, "api", foreign, NULL);
	free(foreign);
	scan(lc, "api to a foreign origin", false);

	/* Failing upstreams, with a fresh token cache so that IMS is asked. */
	run_env_copy(&env, &w->env);
	run_env_setf(&env, "DATA_DIR", "%s/data-bad", w->dir);
	run_env_set(&env, "IMS_URL", fake_url(lc->bad));
	fx_run_env(w, &env, FX_RUN_TIMEOUT_MS, "token", NULL);
	fx_expect_exit(w, 1);
	scan(lc, "token with a 401 from IMS", false);
	fx_run_env(w, &env, FX_RUN_TIMEOUT_MS, "check", NULL);
	fx_expect_exit(w, 1);
	scan(lc, "check with a 401 from IMS", false);
	run_env_set(&env, "IMS_URL", fake_url(w->ims));
	run_env_set(&env, "CLOUDMANAGER_API_URL", fake_url(lc->bad));
	fx_run_env(w, &env, FX_RUN_TIMEOUT_MS, "check", NULL);
	fx_expect_exit(w, 1);
	scan(lc, "check with a 403 from the API", false);
	fx_run_env(w, &env, FX_RUN_TIMEOUT_MS, "api", "/api/program/1", NULL);
	fx_expect_exit(w, 1);
	scan(lc, "api with 401 twice", false);
	run_env_unset(&env, "SCOPES");
	fx_run_env(w, &env, FX_RUN_TIMEOUT_MS, "token", NULL);
	fx_expect_exit(w, 2);
	scan(lc, "token without SCOPES", false);
	run_env_release(&env);
	/* Make sure the failing variants really reached the fakes. */
	assert_true(fake_count(lc->bad, "POST", FX_IMS_PATH) >= 1);
	assert_int_equal(fake_count(lc->bad, "GET", "/api/program/1"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_secrets_never_appear_in_output, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
