/*
 * `cmhook token` against a fake IMS: the form it posts, the token cache,
 * retries on transient failures, refusal to hammer IMS on 4xx, timeouts,
 * malformed answers, missing settings, and Adobe's tutorial .env files.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

/* Fail unless field `name` occurs exactly once in the form body and decodes to want. */
static void expect_form(const struct fake_request *q, const char *name, const char *want)
{
	int count = -1;
	char *v = fake_form_value(q->body, q->body_len, name, &count);

	if (!v || count != 1 || strcmp(v, want) != 0) {
		fprintf(stderr, "form body: %s\n", q->body);
		fail_msg("form field %s: got %s (%d times), want %s", name, v ? v : "(malformed or absent)",
			 count, want);
	}
	free(v);
}

/* stdout must be exactly the nth token and a newline. */
static void expect_token_out(struct fx_world *w, unsigned n)
{
	char *want = fx_ims_token(&w->tokens, n);
	char *line = tmp_xasprintf("%s\n", want);

	if (w->r.out_len != strlen(line) || strcmp(w->r.out, line) != 0) {
		run_result_dump(&w->r, "token output");
		fail_msg("stdout is not exactly token #%u and a newline", n);
	}
	free(line);
	free(want);
}

static void test_token_posts_encoded_form_and_prints_only_the_token(void **state)
{
	struct fx_world *w = *state;
	static const char scopes[] = "openid,AdobeID,x&y=z+%25 \xc3\xa9";
	const struct fake_request *q;
	const char *ct;

	run_env_set(&w->env, "SCOPES", scopes);
	fx_routes(w);
	fx_run(w, "token", NULL);
	fx_expect_exit(w, 0);
	expect_token_out(w, 1);
	assert_int_equal(fake_count(w->ims, NULL, NULL), 1);
	q = fake_request_nth(w->ims, "POST", FX_IMS_PATH, 0);
	assert_non_null(q);
	/* Credentials travel in the body, never in the query (ims-oauth.md §1). */
	assert_string_equal(q->query, "");
	ct = fake_header(q, "Content-Type");
	assert_non_null(ct);
	assert_true(fx_media_type_is(ct, "application/x-www-form-urlencoded"));
	expect_form(q, "grant_type", "client_credentials");
	expect_form(q, "client_id", FX_CLIENT_ID);
	expect_form(q, "client_secret", FX_SECRET);
	expect_form(q, "scope", scopes);
	assert_int_equal(fake_count(w->api, NULL, NULL), 0);
}

/* nftw has no user pointer: the search state of files_holding(). */
static const char *scan_needle;
static int scan_found, scan_bad_mode;

static int scan_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t len = 0;
	char *data;

	if (type != FTW_F)
		return 0;
	data = tmp_read(path, &len);
	if (data && fx_contains(data, len, scan_needle)) {
		scan_found++;
		if ((st->st_mode & 07777) != 0600) {
			fprintf(stderr, "%s holds the token with mode %o\n", path,
				(unsigned)(st->st_mode & 07777));
			scan_bad_mode++;
		}
	}
	free(data);
	return 0;
}

static void test_token_is_cached_until_refresh(void **state)
{
	struct fx_world *w = *state;
	char *tok1;

	fx_routes(w);
	for (int i = 0; i < 5; i++) {
		fx_run(w, "token", NULL);
		fx_expect_exit(w, 0);
		expect_token_out(w, 1);
	}
	assert_int_equal(fake_count(w->ims, "POST", FX_IMS_PATH), 1);
	/* The cache lives in DATA_DIR (0700), in files only the owner can read. */
	assert_int_equal(tmp_mode(w->data_dir), 0700);
	tok1 = fx_ims_token(&w->tokens, 1);
	scan_needle = tok1;
	scan_found = scan_bad_mode = 0;
	assert_int_equal(nftw(w->data_dir, scan_one, 8, FTW_PHYS), 0);
	free(tok1);
	assert_true(scan_found >= 1);
	assert_int_equal(scan_bad_mode, 0);

	fx_run(w, "token", "--refresh", NULL);
	fx_expect_exit(w, 0);
	expect_token_out(w, 2);
	assert_int_equal(fake_count(w->ims, "POST", FX_IMS_PATH), 2);
	/* The refreshed token replaces the cached one. */
	fx_run(w, "token", NULL);
	fx_expect_exit(w, 0);
	expect_token_out(w, 2);
	assert_int_equal(fake_count(w->ims, "POST", FX_IMS_PATH), 2);
}

static void wrong_secret(struct fx_world *w, unsigned status)
{
	fake_push_json(w->ims, "POST", FX_IMS_PATH, status,
		       "{\"error\":\"invalid_client\",\"error_description\":\"invalid client_secret parameter\"}");
	fx_run(w, "token", NULL);
	fx_expect_exit(w, 1);
	fx_expect_stderr(w, "invalid_client");
	fx_expect_stderr(w, "invalid client_secret parameter");
	assert_int_equal(w->r.out_len, 0);
	/* A 4xx is a configuration error: asking again cannot help (ims-oauth.md §3). */
	assert_int_equal(fake_count(w->ims, NULL, NULL), 1);
}

static void test_token_wrong_secret_401_is_not_retried(void **state)
{
	wrong_secret(*state, 401);
}

static void test_token_wrong_secret_400_is_not_retried(void **state)
{
	wrong_secret(*state, 400);
}

static void test_token_retries_after_503(void **state)
{
	struct fx_world *w = *state;

	fake_push_json(w->ims, "POST", FX_IMS_PATH, 503,
		       "{\"error\":\"internal_error\",\"error_description\":\"Please try again later\"}");
	fx_routes(w);
	fx_run(w, "token", NULL);
	fx_expect_exit(w, 0);
	expect_token_out(w, 1);
	assert_int_equal(fake_count(w->ims, NULL, NULL), 2);
}

static void test_token_honours_retry_after_on_429(void **state)
{
	struct fx_world *w = *state;
	struct fake_response busy = {
		.status = 429,
		.headers = "Retry-After: 1\nContent-Type: application/json",
		.body = "{\"error\":\"too_many_requests\"}",
	};
	const struct fake_request *a, *b;

	fake_push(w->ims, "POST", FX_IMS_PATH, &busy);
	fx_routes(w);
	fx_run(w, "token", NULL);
	fx_expect_exit(w, 0);
	expect_token_out(w, 1);
	assert_int_equal(fake_count(w->ims, NULL, NULL), 2);
	a = fake_request_nth(w->ims, NULL, NULL, 0);
	b = fake_request_nth(w->ims, NULL, NULL, 1);
	/* Retry-After: 1 means not before one second; allow for clock granularity. */
	if (b->at_ms - a->at_ms < 900)
		fail_msg("retried after %ld ms despite Retry-After: 1", b->at_ms - a->at_ms);
}

static void test_token_times_out_when_ims_never_answers(void **state)
{
	struct fx_world *w = *state;
	struct fake_response hang = { .hang = true };

	fake_push(w->ims, "POST", FX_IMS_PATH, &hang);
	run_env_set(&w->env, "HTTP_TIMEOUT", "2s");
	fx_run_env(w, &w->env, 60000, "token", NULL);
	print_message("token against a silent IMS: exit %d after %ld ms, %zu requests\n",
		      w->r.exit_code, w->r.elapsed_ms, fake_count(w->ims, NULL, NULL));
	fx_expect_exit(w, 1);
	if (!fx_contains_ci(w->r.err, w->r.err_len, "timeout") &&
	    !fx_contains_ci(w->r.err, w->r.err_len, "timed out")) {
		run_result_dump(&w->r, "timeout");
		fail_msg("stderr does not mention a timeout");
	}
	assert_int_equal(w->r.out_len, 0);
	/* Each attempt is bounded by HTTP_TIMEOUT; retries must stay bounded too. */
	assert_true(fake_count(w->ims, NULL, NULL) >= 1);
	if (w->r.elapsed_ms > 20000)
		fail_msg("took %ld ms with HTTP_TIMEOUT=2s", w->r.elapsed_ms);
}

static void bad_answer(struct fx_world *w, const char *body, const char *mention)
{
	fake_push_json(w->ims, "POST", FX_IMS_PATH, 200, body);
	fx_run(w, "token", NULL);
	fx_expect_exit(w, 1);
	fx_expect_stderr(w, mention);
	assert_int_equal(w->r.out_len, 0);
}

static void test_token_rejects_malformed_json(void **state)
{
	bad_answer(*state, "{\"access_token\":\"abc\",\"token_type\":\"bearer\",", "json");
}

static void test_token_rejects_answer_without_access_token(void **state)
{
	bad_answer(*state, "{\"token_type\":\"bearer\",\"expires_in\":86399}", "access_token");
}

static void test_token_rejects_answer_without_expires_in(void **state)
{
	bad_answer(*state, "{\"access_token\":\"abc\",\"token_type\":\"bearer\"}", "expires_in");
}

static void missing_setting(struct fx_world *w, const char *key, const char *mention)
{
	fx_routes(w);
	run_env_unset(&w->env, key);
	fx_run(w, "token", NULL);
	fx_expect_exit(w, 2);
	fx_expect_stderr(w, mention);
	assert_int_equal(w->r.out_len, 0);
	assert_int_equal(fake_count(w->ims, NULL, NULL), 0);
}

static void test_token_missing_client_id_is_a_config_error(void **state)
{
	missing_setting(*state, "CLIENT_ID", "CLIENT_ID");
}

static void test_token_missing_scopes_is_a_config_error(void **state)
{
	missing_setting(*state, "SCOPES", "SCOPES");
}

static void test_token_missing_secret_is_a_config_error(void **state)
{
	missing_setting(*state, "CLIENT_SECRET", "CLIENT_SECRET");
}

/* Run `token` with only the .env in the working directory plus the fake URLs in the environment. */
static void tutorial_env(struct fx_world *w, const char *id_key, const char *scope_key)
{
	static const char id[] = "4f3e2d1c0b0a99887766554433221100";
	static const char secret[] = "p8e-Zx9QwErTyUiOp_AsDfGhJkL1234567890";
	struct run_env env;
	const struct fake_request *q;

	fx_routes(w);
	assert_true(tmp_write_env(w->dir, ".env",
				  "PORT", "4000",
				  "ORGANIZATION_ID", FX_ORG,
				  id_key, id,
				  "CLIENT_SECRET", secret,
				  "GRANT_TYPE", "client_credentials",
				  scope_key, FX_SCOPES,
				  "SLACK_WEBHOOK", "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
				  NULL));
	run_env_init(&env);
	run_env_set(&env, "IMS_URL", fake_url(w->ims));
	run_env_set(&env, "CLOUDMANAGER_API_URL", fake_url(w->api));
	run_env_set(&env, "DATA_DIR", w->data_dir);
	fx_run_env(w, &env, FX_RUN_TIMEOUT_MS, "token", NULL);
	run_env_release(&env);
	fx_expect_exit(w, 0);
	expect_token_out(w, 1);
	q = fake_request_nth(w->ims, "POST", FX_IMS_PATH, 0);
	assert_non_null(q);
	expect_form(q, "client_id", id);
	expect_form(q, "client_secret", secret);
	expect_form(q, "scope", FX_SCOPES);
	expect_form(q, "grant_type", "client_credentials");
}

static void test_token_works_with_tutorial_docs_env(void **state)
{
	tutorial_env(*state, "CLIENT_ID", "SCOPES");
}

static void test_token_works_with_tutorial_template_env(void **state)
{
	tutorial_env(*state, "API_KEY", "SCOPE");
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_token_posts_encoded_form_and_prints_only_the_token),
		T(test_token_is_cached_until_refresh),
		T(test_token_wrong_secret_401_is_not_retried),
		T(test_token_wrong_secret_400_is_not_retried),
		T(test_token_retries_after_503),
		T(test_token_honours_retry_after_on_429),
		T(test_token_times_out_when_ims_never_answers),
		T(test_token_rejects_malformed_json),
		T(test_token_rejects_answer_without_access_token),
		T(test_token_rejects_answer_without_expires_in),
		T(test_token_missing_client_id_is_a_config_error),
		T(test_token_missing_scopes_is_a_config_error),
		T(test_token_missing_secret_is_a_config_error),
		T(test_token_works_with_tutorial_docs_env),
		T(test_token_works_with_tutorial_template_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
