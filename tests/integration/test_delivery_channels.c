/*
 * `cmhook serve` delivering to the other channels: Teams Workflows (Adaptive
 * Card envelope, 202), the legacy Teams connector (MessageCard, 200 "1",
 * and its 200-with-an-error-text answer), the generic webhook (documented
 * JSON, Idempotency-Key), and per-channel delivery state: one channel failing
 * neither blocks nor repeats another (reference/notification-targets.md
 * §2-§5, DESIGN invariant 4). Channel URLs are secrets and never logged.
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

/* Neither the Slack path nor the Teams signature may appear in serve's log. */
static void expect_urls_not_logged(struct dfx *d)
{
	char *log = sv_log(d->s);

	if (strstr(log, DFX_SLACK_PATH) || strstr(log, "S3CRETsig") ||
	    strstr(log, DFX_TEAMS_PATH) || strstr(log, DFX_HOOK_PATH)) {
		sv_dump_log(d->s, "channel URL in the log");
		fail_msg("serve logged a channel URL (a bearer secret)");
	}
	free(log);
}

/* ---- Teams Workflows ------------------------------------------------------------------ */

static void test_delivery_teams_workflows_adaptive_card(void **state)
{
	struct dfx *d = *state;
	const struct fake_request *req;
	json_t *row, *msg, *att, *card;
	char id[37];

	dfx_no_slack(d);
	dfx_use_teams(d, "adaptivecard");
	dfx_add_execution(d, "2000101", "RUNNING");
	dfx_start(d);
	dfx_post_event(d, DFX_STARTED, "2000101", NULL, NULL, id);
	row = dfx_wait_status(d, id, "done", DFX_WAIT_MS);
	json_decref(row);

	assert_int_equal(dfx_sink_count(&d->teams), 1);
	req = fake_request_nth(d->teams.f, "POST", DFX_TEAMS_PATH, 0);
	assert_true(fx_media_type_is(fake_header(req, "Content-Type"), "application/json"));
	/* The query (with its sig credential) is part of the URL and must reach the flow. */
	assert_string_equal(req->query, DFX_TEAMS_QUERY);
	msg = dfx_sink_json(&d->teams, "AdaptiveCard", 0);
	assert_non_null(msg);
	assert_string_equal(dfx_json_str(msg, "type", NULL), "message");
	att = json_array_get(json_object_get(msg, "attachments"), 0);
	assert_non_null(att);
	assert_string_equal(dfx_json_str(att, "contentType", NULL),
			    "application/vnd.microsoft.card.adaptive");
	card = json_object_get(att, "content");
	assert_true(json_is_object(card));   /* an object, not a string */
	assert_string_equal(dfx_json_str(card, "type", NULL), "AdaptiveCard");
	assert_non_null(dfx_json_str(card, "version", NULL));
	assert_true(json_is_array(json_object_get(card, "body")));
	dfx_expect_has(card, DFX_PROGRAM_NAME, "card");
	dfx_expect_has(card, DFX_PIPELINE_NAME, "card");
	dfx_expect_has(card, DFX_DEEP_LINK_PREFIX "2000101", "card");
	/* Action.Submit is not supported by incoming webhooks. */
	dfx_expect_lacks(card, "Action.Submit", "card");
	json_decref(msg);
	expect_urls_not_logged(d);
	dfx_stop(d);
}

/* ---- Teams legacy connector --------------------------------------------------------------- */

#define TEAMS_200_ERROR "Webhook message delivery failed with error: Microsoft Teams endpoint " \
	"returned HTTP error 400 with ContextId MS-CV=AbCdEf.0"

static void test_delivery_teams_legacy_message_card(void **state)
{
	struct dfx *d = *state;
	char ok_id[37], bad_id[37];
	json_t *row, *msg;

	dfx_no_slack(d);
	dfx_use_teams(d, "messagecard");
	dfx_sink_ok(&d->teams, 200, "1");
	/* The first answer is a 200 whose text says it failed: 200 alone is not success. */
	dfx_sink_fail(&d->teams, 1, 200, TEAMS_200_ERROR, "Content-Type: text/plain");
	dfx_add_execution(d, "2000111", "RUNNING");
	dfx_add_execution(d, "2000112", "RUNNING");
	dfx_start(d);
	dfx_post_event(d, DFX_STARTED, "2000111", NULL, NULL, bad_id);
	row = dfx_wait_status(d, bad_id, "failed", DFX_WAIT_MS);
	if (!strstr(dfx_row_str(row, "last_error"), "HTTP error 400"))
		fail_msg("last_error \"%s\" does not quote the connector's answer",
			 dfx_row_str(row, "last_error"));
	json_decref(row);

	dfx_post_event(d, DFX_STARTED, "2000112", NULL, NULL, ok_id);
	row = dfx_wait_status(d, ok_id, "done", DFX_WAIT_MS);
	json_decref(row);
	assert_int_equal(dfx_sink_count(&d->teams), 2);

	msg = dfx_sink_json(&d->teams, "execution/2000112", 0);
	assert_non_null(msg);
	assert_string_equal(dfx_json_str(msg, "@type", NULL), "MessageCard");
	assert_non_null(dfx_json_str(msg, "@context", NULL));
	/* One of summary/text is required, else 400 "Summary or Text is required." */
	if (!dfx_json_str(msg, "summary", NULL) && !dfx_json_str(msg, "text", NULL))
		fail_msg("MessageCard without summary or text");
	dfx_expect_has(msg, DFX_PROGRAM_NAME, "MessageCard");
	dfx_expect_has(msg, DFX_PIPELINE_NAME, "MessageCard");
	dfx_expect_has(msg, DFX_DEEP_LINK_PREFIX "2000112", "MessageCard");
	json_decref(msg);
	expect_urls_not_logged(d);
	dfx_stop(d);
}

/* ---- generic webhook ------------------------------------------------------------------------ */

static void test_delivery_generic_webhook_schema(void **state)
{
	struct dfx *d = *state;
	const struct fake_request *req;
	const char *ua;
	char id[37];
	json_t *row, *msg;

	dfx_no_slack(d);
	dfx_use_hook(d);
	dfx_add_execution(d, "2000121", "FINISHED");
	dfx_start(d);
	dfx_post_event(d, DFX_ENDED, "2000121", NULL, NULL, id);
	row = dfx_wait_status(d, id, "done", DFX_WAIT_MS);
	json_decref(row);

	assert_int_equal(dfx_sink_count(&d->hook), 1);
	req = dfx_sink_request(&d->hook, id, 0);
	assert_non_null(req);
	assert_true(fx_media_type_is(fake_header(req, "Content-Type"), "application/json"));
	assert_non_null(fake_header(req, "Idempotency-Key"));
	assert_string_equal(fake_header(req, "Idempotency-Key"), id);
	ua = fake_header(req, "User-Agent");
	assert_true(ua && strncmp(ua, "cmhook/", 7) == 0);

	msg = dfx_sink_json(&d->hook, id, 0);
	assert_string_equal(dfx_json_str(msg, "schema", NULL), "cmhook.notification/1");
	assert_string_equal(dfx_json_str(msg, "event_id", NULL), id);
	assert_string_equal(dfx_json_str(msg, "kind", NULL), "ended");
	assert_non_null(dfx_json_str(msg, "headline", NULL));
	assert_string_equal(dfx_json_str(msg, "published", NULL), "2025-06-12T10:58:02Z");
	assert_string_equal(dfx_json_str(msg, "program", "id", NULL), DFX_PROGRAM);
	assert_string_equal(dfx_json_str(msg, "program", "name", NULL), DFX_PROGRAM_NAME);
	assert_string_equal(dfx_json_str(msg, "pipeline", "id", NULL), DFX_PIPELINE);
	assert_string_equal(dfx_json_str(msg, "pipeline", "name", NULL), DFX_PIPELINE_NAME);
	assert_string_equal(dfx_json_str(msg, "execution", "id", NULL), "2000121");
	assert_string_equal(dfx_json_str(msg, "execution", "status", NULL), "FINISHED");
	assert_string_equal(dfx_json_str(msg, "execution", "trigger", NULL), "MANUAL");
	assert_string_equal(dfx_json_str(msg, "outcome", NULL), "succeeded");
	assert_string_equal(dfx_json_str(msg, "link", NULL), DFX_DEEP_LINK_PREFIX "2000121");
	/* Every documented key is present, null when unknown. */
	{
		static const char *const keys[] = { "schema", "event_id", "kind", "headline",
			"published", "program", "pipeline", "execution", "outcome", "step",
			"needs_action", "waiting_reason", "failed_step", "link" };

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!json_object_get(msg, keys[i]))
				fail_msg("the generic webhook payload lacks \"%s\"", keys[i]);
	}
	assert_true(json_is_null(json_object_get(msg, "step")));
	assert_true(json_is_false(json_object_get(msg, "needs_action")));
	json_decref(msg);
	expect_urls_not_logged(d);
	dfx_stop(d);
}

/* ---- one channel failing ---------------------------------------------------------------------- */

#define NCH 3

static void test_delivery_failing_channel_does_not_repeat_others(void **state)
{
	struct dfx *d = *state;
	static const char *const execs[NCH] = { "2000131", "2000132", "2000133" };
	char ids[NCH][37];
	json_t *rows;

	dfx_use_teams(d, "adaptivecard");
	dfx_sink_fail(&d->slack, -1, 503, "rollup_error", NULL);
	for (size_t i = 0; i < NCH; i++)
		dfx_add_execution(d, execs[i], "RUNNING");
	dfx_start(d);
	for (size_t i = 0; i < NCH; i++)
		dfx_post_event(d, DFX_STARTED, execs[i], NULL, NULL, ids[i]);

	/* Let Slack be tried three times per event (RETRY_INITIAL=200ms, paced at 1/s). */
	if (!fake_wait_requests(d->slack.f, "POST", DFX_SLACK_PATH, 3 * NCH, DFX_WAIT_MS)) {
		sv_dump_log(d->s, "slack retries");
		fail_msg("Slack saw %zu requests, want at least %d", dfx_sink_count(&d->slack),
			 3 * NCH);
	}
	assert_int_equal(dfx_sink_count(&d->teams), NCH);
	rows = sv_events(d->s, NULL);
	for (size_t i = 0; i < NCH; i++) {
		json_t *row = sv_event_find(rows, ids[i]);
		const char *err = dfx_row_str(row, "last_error");

		assert_string_not_equal(dfx_row_str(row, "status"), "done");
		assert_string_not_equal(dfx_row_str(row, "status"), "failed");
		if (!strstr(err, "slack") || !strstr(err, "503"))
			fail_msg("last_error \"%s\" does not name the failing channel and status", err);
		if (strstr(err, DFX_SLACK_PATH))
			fail_msg("last_error holds the Slack URL");
	}
	json_decref(rows);

	/* Slack recovers: every event completes, and Teams still got each message once. */
	dfx_sink_fail(&d->slack, 0, 0, NULL, NULL);
	rows = dfx_wait_statuses(d, ids, NCH, "done", DFX_WAIT_MS);
	json_decref(rows);
	assert_int_equal(dfx_sink_count(&d->teams), NCH);
	for (size_t i = 0; i < NCH; i++) {
		char *needle = tmp_xasprintf("execution/%s", execs[i]);
		const struct fake_request *req;
		size_t n_ok = 0;

		assert_int_equal(dfx_sink_count_with(&d->teams, needle), 1);
		for (size_t k = 0; (req = dfx_sink_request(&d->slack, ids[i], k)) != NULL; k++)
			n_ok += dfx_sink_answer(&d->slack, req) == 200;
		assert_int_equal(n_ok, 1);
		free(needle);
	}
	expect_urls_not_logged(d);
	dfx_stop(d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, dfx_setup, dfx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_delivery_teams_workflows_adaptive_card),
		T(test_delivery_teams_legacy_message_card),
		T(test_delivery_generic_webhook_schema),
		T(test_delivery_failing_channel_does_not_repeat_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
