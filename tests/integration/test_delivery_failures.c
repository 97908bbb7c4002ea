/*
 * `cmhook serve` when things go wrong between the journal and the channels:
 * object URLs and HAL links that point elsewhere (nothing, not even a token
 * request, may leave for them: DESIGN invariant 3), permanent channel
 * errors and `cmhook replay`, API 404 and 503, Slack 503s and 429 with
 * Retry-After, and the order of one execution's messages while earlier ones
 * are retried (DESIGN "Order").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "delivery_fx.h"

static void expect_error_has(json_t *row, const char *needle)
{
	const char *err = dfx_row_str(row, "last_error");

	if (!strstr(err, needle))
		fail_msg("event %s: last_error \"%s\" does not contain \"%s\"",
			 dfx_row_str(row, "event_id"), err, needle);
}

/* ---- forged object URLs ------------------------------------------------------------------ */

#define NFORGED 7

static void test_delivery_forged_object_url_untrusted(void **state)
{
	struct dfx *d = *state;
	struct fake_server *forged = fake_start();
	const char *api = fake_url(d->s->w->api);
	const char *exec = "/api/program/22734/pipeline/48201733/execution/2000201";
	char *urls[NFORGED];
	char ids[NFORGED][37];
	json_t *rows;

	assert_non_null(forged);
	fake_push_json(forged, "GET", exec, 200, "{}");
	/* Another port, another host, tricks on the right base, and paths off the pattern. */
	urls[0] = tmp_xasprintf("%s%s", fake_url(forged), exec);
	urls[1] = tmp_xasprintf("http://127.0.0.2:%u%s", fake_port(d->s->w->api), exec);
	urls[2] = tmp_xasprintf("%s@127.0.0.1:%u%s", api, fake_port(forged), exec);
	urls[3] = tmp_xasprintf("%s/api/programs", api);
	urls[4] = tmp_xasprintf("%s%s/../../../../../ims/token/v3", api, exec);
	urls[5] = tmp_xasprintf("%s%s?redirect=%s", api, exec, fake_url(forged));
	urls[6] = tmp_xasprintf("%s/api/program/22734/pipeline/48201733/execution/abc", api);
	dfx_start(d);
	for (size_t i = 0; i < NFORGED; i++) {
		char *body = dfx_event_url(DFX_STARTED, urls[i], ids[i]);

		dfx_post(d, body);
		free(body);
	}
	rows = dfx_wait_statuses(d, ids, NFORGED, "failed", DFX_WAIT_MS);
	for (size_t i = 0; i < NFORGED; i++) {
		json_t *row = sv_event_find(rows, ids[i]);

		expect_error_has(row, "untrusted origin");
		assert_int_equal(json_integer_value(json_object_get(row, "attempts")), 1);
		free(urls[i]);
	}
	json_decref(rows);
	/* Nothing left for any of them: not the forged host, not even a token or API request. */
	assert_int_equal(fake_count(forged, NULL, NULL), 0);
	assert_int_equal(fake_count(d->s->w->ims, NULL, NULL), 0);
	assert_int_equal(fake_count(d->s->w->api, NULL, NULL), 0);
	assert_int_equal(dfx_sink_count(&d->slack), 0);
	fake_stop(forged);
	dfx_stop(d);
}

/* A HAL link of a genuine resource pointing to another origin is not followed either. */
static void test_delivery_forged_hal_link_refused(void **state)
{
	struct dfx *d = *state;
	struct fake_server *forged = fake_start();
	char *body = dfx_execution_json("2000211", "RUNNING");
	char *evil = tmp_xasprintf("%s/api/program/22734", fake_url(forged));
	char *patched, *at;
	char id[37];
	json_t *row;

	assert_non_null(forged);
	fake_push_json(forged, "GET", "/api/program/22734", 200, "{\"name\":\"forged\"}");
	/* Replace the program link's href (the first "/api/program/22734" value after its rel). */
	at = strstr(body, "\"http://ns.adobe.com/adobecloud/rel/program\"");
	assert_non_null(at);
	at = strstr(at, "\"/api/program/22734\"");
	assert_non_null(at);
	patched = tmp_xasprintf("%.*s\"%s\"%s", (int)(at - body), body, evil,
				at + strlen("\"/api/program/22734\""));
	dfx_add_execution_answer(d, "2000211", 200, patched);
	dfx_start(d);
	dfx_post_event(d, DFX_STARTED, "2000211", NULL, NULL, id);
	row = dfx_wait_status(d, id, "failed", DFX_WAIT_MS);
	expect_error_has(row, "program");
	expect_error_has(row, "origin");
	json_decref(row);
	assert_int_equal(fake_count(forged, NULL, NULL), 0);
	assert_int_equal(dfx_sink_count(&d->slack), 0);
	free(patched);
	free(evil);
	free(body);
	fake_stop(forged);
	dfx_stop(d);
}

/* ---- a permanent Slack error, then replay --------------------------------------------------- */

static void test_delivery_slack_400_then_replay(void **state)
{
	struct dfx *d = *state;
	const struct fake_request *req;
	char id[37];
	json_t *row;

	dfx_sink_fail(&d->slack, -1, 400, "invalid_payload", "Content-Type: text/plain");
	dfx_add_execution(d, "2000221", "RUNNING");
	dfx_start(d);
	dfx_post_event(d, DFX_STARTED, "2000221", NULL, NULL, id);
	row = dfx_wait_status(d, id, "failed", DFX_WAIT_MS);
	expect_error_has(row, "invalid_payload");
	expect_error_has(row, "400");
	/* `events --json` shows the state per channel. */
	json_t *dl = json_array_get(json_object_get(row, "deliveries"), 0);
	assert_string_equal(json_string_value(json_object_get(dl, "channel")), "slack");
	assert_string_equal(json_string_value(json_object_get(dl, "status")), "failed");
	assert_int_equal(json_integer_value(json_object_get(dl, "attempts")), 1);
	assert_non_null(strstr(json_string_value(json_object_get(dl, "last_error")), "400"));
	if (strstr(dfx_row_str(row, "last_error"), DFX_SLACK_PATH))
		fail_msg("last_error holds the Slack URL");
	json_decref(row);
	/* Permanent: not retried. */
	assert_int_equal(dfx_sink_count(&d->slack), 1);

	dfx_sink_fail(&d->slack, 0, 0, NULL, NULL);
	fx_run(d->s->w, "replay", id, NULL);
	fx_expect_exit(d->s->w, 0);
	row = dfx_wait_status(d, id, "done", DFX_WAIT_MS);
	json_decref(row);
	/* Exactly one more request, and it was the one that succeeded. */
	assert_int_equal(dfx_sink_count(&d->slack), 2);
	req = dfx_sink_request(&d->slack, id, 1);
	assert_non_null(req);
	assert_int_equal(dfx_sink_answer(&d->slack, req), 200);
	dfx_stop(d);
}

/* ---- the API: 404 is permanent, 503 is retried ----------------------------------------------- */

static void test_delivery_api_404_fails(void **state)
{
	struct dfx *d = *state;
	char *path = dfx_execution_path("2000231");
	char id[37];
	json_t *row;

	dfx_add_execution_answer(d, "2000231", 404,
		"{\"type\":\"http://ns.adobe.com/adobecloud/problem/not-found\","
		"\"title\":\"Not Found\",\"status\":404}");
	dfx_start(d);
	dfx_post_event(d, DFX_ENDED, "2000231", NULL, NULL, id);
	row = dfx_wait_status(d, id, "failed", DFX_WAIT_MS);
	expect_error_has(row, "404");
	expect_error_has(row, "execution");
	json_decref(row);
	assert_int_equal(fake_count(d->s->w->api, "GET", path), 1);
	assert_int_equal(dfx_sink_count(&d->slack), 0);
	free(path);
	dfx_stop(d);
}

static void test_delivery_api_503_retried(void **state)
{
	struct dfx *d = *state;
	char *path = dfx_execution_path("2000241");
	char id[37];
	json_t *row;

	dfx_add_execution_answer(d, "2000241", 503, "{\"error_code\":\"503000\"}");
	dfx_add_execution(d, "2000241", "RUNNING");
	dfx_start(d);
	dfx_post_event(d, DFX_STARTED, "2000241", NULL, NULL, id);
	row = dfx_wait_status(d, id, "done", DFX_WAIT_MS);
	assert_int_equal(json_integer_value(json_object_get(row, "attempts")), 2);
	json_decref(row);
	assert_int_equal(fake_count(d->s->w->api, "GET", path), 2);
	assert_int_equal(dfx_sink_count(&d->slack), 1);
	free(path);
	dfx_stop(d);
}

/* ---- Slack 503s: everything arrives, one execution's messages in order ------------------------- */

#define NORDER 5
#define NOTHER 2
#define SLACK_FAILS 4

static void test_delivery_slack_503_then_ok_in_order(void **state)
{
	struct dfx *d = *state;
	static const struct { enum dfx_kind k; const char *phase, *step; } seq[NORDER] = {
		{ DFX_STARTED, NULL, NULL },
		{ DFX_STEP_STARTED, "2401119", "11033500" },
		{ DFX_STEP_ENDED, "2401119", "11033500" },
		{ DFX_WAITING, "2401121", "11033504" },
		{ DFX_ENDED, NULL, NULL },
	};
	char ids[NORDER + NOTHER][37];
	long prev_ok_seq = -1;
	json_t *rows;

	dfx_sink_fail(&d->slack, SLACK_FAILS, 503, "rollup_error", NULL);
	/*
	 * A retried delivery enriches the event again, so the resources must not
	 * depend on how often they are read: the execution has already failed, its
	 * build step too (a "started" message about a run that has since ended is
	 * still a started message).
	 */
	dfx_add_execution(d, "2000251", "FAILED");
	dfx_add_execution(d, "2000252", "RUNNING");
	dfx_add_execution(d, "2000253", "RUNNING");
	dfx_add_step(d, "2000251", "2401119", "11033500", "build", "FAILED", NULL);
	dfx_add_step(d, "2000251", "2401121", "11033504", "approval", "WAITING", "prod");
	dfx_start(d);
	for (size_t i = 0; i < NORDER; i++)
		dfx_post_event(d, seq[i].k, "2000251", seq[i].phase, seq[i].step, ids[i]);
	dfx_post_event(d, DFX_STARTED, "2000252", NULL, NULL, ids[NORDER]);
	dfx_post_event(d, DFX_STARTED, "2000253", NULL, NULL, ids[NORDER + 1]);
	rows = dfx_wait_statuses(d, ids, NORDER + NOTHER, "done", DFX_WAIT_MS);
	json_decref(rows);

	/* Every event reached Slack successfully exactly once. */
	assert_int_equal(dfx_sink_count(&d->slack), NORDER + NOTHER + SLACK_FAILS);
	for (size_t i = 0; i < NORDER + NOTHER; i++) {
		const struct fake_request *req;
		size_t n_ok = 0;

		for (size_t k = 0; (req = dfx_sink_request(&d->slack, ids[i], k)) != NULL; k++)
			n_ok += dfx_sink_answer(&d->slack, req) == 200;
		assert_int_equal(n_ok, 1);
	}
	/*
	 * Execution 2000251 in the order sent: no attempt for an event before the
	 * previous event of the execution was delivered.
	 */
	for (size_t i = 0; i < NORDER; i++) {
		const struct fake_request *req;
		long ok_seq = -1;

		for (size_t k = 0; (req = dfx_sink_request(&d->slack, ids[i], k)) != NULL; k++) {
			if ((long)req->seq < prev_ok_seq)
				fail_msg("event %zu (%s) of the execution was sent before event %zu "
					 "was delivered", i, dfx_kind_name(seq[i].k), i - 1);
			if (dfx_sink_answer(&d->slack, req) == 200)
				ok_seq = (long)req->seq;
		}
		assert_true(ok_seq > prev_ok_seq);
		prev_ok_seq = ok_seq;
	}
	dfx_stop(d);
}

/* Slack 429 with Retry-After: 1 -> the next attempt waits at least that long. */
static void test_delivery_slack_429_retry_after(void **state)
{
	struct dfx *d = *state;
	const struct fake_request *first, *second;
	char id[37];
	json_t *row;

	dfx_sink_fail(&d->slack, 1, 429, "{\"ok\":false,\"error\":\"rate_limited\"}",
		      "Retry-After: 1\nContent-Type: application/json");
	dfx_add_execution(d, "2000261", "RUNNING");
	dfx_start(d);
	dfx_post_event(d, DFX_STARTED, "2000261", NULL, NULL, id);
	row = dfx_wait_status(d, id, "done", DFX_WAIT_MS);
	json_decref(row);
	assert_int_equal(dfx_sink_count(&d->slack), 2);
	first = dfx_sink_request(&d->slack, id, 0);
	second = dfx_sink_request(&d->slack, id, 1);
	assert_non_null(first);
	assert_non_null(second);
	/* RETRY_INITIAL is 200ms: only Retry-After explains a second or more (less 50 ms slack). */
	if (second->at_ms - first->at_ms < 950)
		fail_msg("retried %ld ms after a 429 with Retry-After: 1", second->at_ms - first->at_ms);
	dfx_stop(d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, dfx_setup, dfx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_delivery_forged_object_url_untrusted),
		T(test_delivery_forged_hal_link_refused),
		T(test_delivery_slack_400_then_replay),
		T(test_delivery_api_404_fails),
		T(test_delivery_api_503_retried),
		T(test_delivery_slack_503_then_ok_in_order),
		T(test_delivery_slack_429_retry_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
