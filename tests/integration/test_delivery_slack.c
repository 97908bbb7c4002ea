/*
 * `cmhook serve` end to end into Slack: the tutorial's flow (a signed
 * "execution started" becomes a Block Kit message naming program and
 * pipeline), all five kinds with NOTIFY_EVENTS=all and the default filter,
 * execution outcomes with failed step and duration, an unmistakable waiting
 * approval step, the Cloud Manager deep link, 50 executions costing one
 * token and one program/pipeline fetch, and Slack's pacing
 * (reference/notification-targets.md §1, cloudmanager-api.md §12-13,
 * cloudmanager-events.md §3).
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

/* The one Slack message carrying needle; fails unless there is exactly one. */
static json_t *slack_one(struct dfx *d, const char *needle)
{
	size_t n = dfx_sink_count_with(&d->slack, needle);

	if (n != 1) {
		sv_dump_log(d->s, "slack messages");
		fail_msg("Slack got %zu messages carrying \"%s\", want exactly 1", n, needle);
	}
	return dfx_sink_json(&d->slack, needle, 0);
}

/* Block Kit basics: a non-empty `text` fallback and a non-empty `blocks` array with a header. */
static void expect_block_kit(json_t *msg, const char *what)
{
	json_t *blocks = json_object_get(msg, "blocks");
	const char *text = dfx_json_str(msg, "text", NULL);
	bool header = false;
	size_t i;
	json_t *b;

	if (!text || !*text)
		fail_msg("%s: no `text` fallback (Slack shows it in notifications)", what);
	if (!json_is_array(blocks) || json_array_size(blocks) == 0 || json_array_size(blocks) > 50)
		fail_msg("%s: `blocks` must be a non-empty array of at most 50 blocks", what);
	json_array_foreach(blocks, i, b) {
		const char *type = dfx_json_str(b, "type", NULL);

		if (!type)
			fail_msg("%s: block %zu has no type", what, i);
		header |= strcmp(type, "header") == 0;
	}
	if (!header)
		fail_msg("%s: no header block", what);
}

/* The deep link of execution exec_id appears in the message. */
static void expect_deep_link(json_t *msg, const char *exec_id, const char *what)
{
	char *link = tmp_xasprintf("%s%s", DFX_DEEP_LINK_PREFIX, exec_id);

	dfx_expect_has(msg, link, what);
	free(link);
}

/* Every request to the API carried the token and the Adobe headers; none went to Slack. */
static void expect_api_headers(struct dfx *d)
{
	struct fx_world *w = d->s->w;
	char *token = fx_ims_token(&w->tokens, 1);
	char *bearer = tmp_xasprintf("Bearer %s", token);
	const struct fake_request *req;
	size_t i;

	assert_true(fake_count(w->api, "GET", NULL) >= 3);
	for (i = 0; (req = fake_request_nth(w->api, "GET", NULL, i)) != NULL; i++) {
		const char *auth = fake_header(req, "Authorization");
		const char *key = fake_header(req, "x-api-key");
		const char *org = fake_header(req, "x-gw-ims-org-id");

		if (!auth || strcmp(auth, bearer) || !key || strcmp(key, FX_CLIENT_ID) || !org ||
		    strcmp(org, FX_ORG))
			fail_msg("API request %s lacks the token or the Adobe headers", req->path);
	}
	for (i = 0; (req = fake_request_nth(d->slack.f, NULL, NULL, i)) != NULL; i++) {
		if (fake_header(req, "Authorization") || fake_header(req, "x-api-key"))
			fail_msg("a credential header went to Slack");
		if (fx_contains(req->body, req->body_len, token))
			fail_msg("the access token went to Slack");
	}
	free(bearer);
	free(token);
}

/* ---- the tutorial's flow ---------------------------------------------------------- */

static void test_delivery_started_reaches_slack_signed(void **state)
{
	struct dfx *d = *state;
	char id[37];
	json_t *row, *msg;
	const struct fake_request *req;

	/* As the tutorial runs it: signatures checked, the default event filter. */
	run_env_unset(&d->s->w->env, "SIGNATURE_VERIFY");
	run_env_unset(&d->s->w->env, "NOTIFY_EVENTS");
	dfx_add_execution(d, "2000001", "RUNNING");
	dfx_start(d);
	dfx_post_event(d, DFX_STARTED, "2000001", NULL, NULL, id);

	row = dfx_wait_status(d, id, "done", DFX_WAIT_MS);
	assert_string_equal(dfx_row_str(row, "kind"), "started");
	json_decref(row);
	assert_int_equal(dfx_sink_count(&d->slack), 1);
	req = dfx_sink_request(&d->slack, id, 0);
	assert_non_null(req);
	assert_true(fx_media_type_is(fake_header(req, "Content-Type"), "application/json"));

	msg = slack_one(d, id);
	expect_block_kit(msg, "started");
	/* The fallback text alone must name both: it is what the notification shows. */
	{
		json_t *text = json_object_get(msg, "text");

		dfx_expect_has(text, DFX_PROGRAM_NAME, "text");
		dfx_expect_has(text, DFX_PIPELINE_NAME, "text");
		dfx_expect_has_ci(text, "started", "text");
	}
	dfx_expect_has(json_object_get(msg, "blocks"), DFX_PROGRAM_NAME, "blocks");
	dfx_expect_has(json_object_get(msg, "blocks"), DFX_PIPELINE_NAME, "blocks");
	expect_deep_link(msg, "2000001", "started");
	json_decref(msg);

	assert_int_equal(fake_count(d->s->w->ims, "POST", FX_IMS_PATH), 1);
	expect_api_headers(d);
	dfx_stop(d);
}

/* ---- the five kinds ------------------------------------------------------------------- */

struct kind_case {
	enum dfx_kind kind;
	const char *phase, *step;   /* step kinds */
	const char *must[3];        /* case-insensitive texts the message must carry */
};

static const struct kind_case five[] = {
	{ DFX_STARTED, NULL, NULL, { "started", NULL } },
	{ DFX_STEP_STARTED, "2401119", "11033500", { "started", "Build", NULL } },
	{ DFX_WAITING, "2401121", "11033504", { "waiting", "approval", NULL } },
	{ DFX_STEP_ENDED, "2401120", "11033501", { "Deploy", "stage", NULL } },
	{ DFX_ENDED, NULL, NULL, { "FINISHED", "1h 42m", NULL } },
};

/* The execution is read once per event (the step events through their link): the
 * first `running` reads see it running, the last one (the end) sees it finished. */
static void serve_five_resources(struct dfx *d, const char *exec, int running)
{
	for (int i = 0; i < running; i++)
		dfx_add_execution(d, exec, "RUNNING");
	dfx_add_execution(d, exec, "FINISHED");
	dfx_add_step(d, exec, "2401119", "11033500", "build", "RUNNING", NULL);
	dfx_add_step(d, exec, "2401121", "11033504", "approval", "WAITING", "prod");
	dfx_add_step(d, exec, "2401120", "11033501", "deploy", "FINISHED", "stage");
}

static void test_delivery_five_kinds_all(void **state)
{
	struct dfx *d = *state;
	char ids[5][37];
	json_t *rows;

	serve_five_resources(d, "2000002", 4);
	dfx_start(d);
	for (size_t i = 0; i < 5; i++)
		dfx_post_event(d, five[i].kind, "2000002", five[i].phase, five[i].step, ids[i]);
	rows = dfx_wait_statuses(d, ids, 5, "done", DFX_WAIT_MS);
	for (size_t i = 0; i < 5; i++) {
		json_t *row = sv_event_find(rows, ids[i]), *msg;
		char what[64];

		assert_string_equal(dfx_row_str(row, "kind"), dfx_kind_name(five[i].kind));
		(void)snprintf(what, sizeof(what), "%s message", dfx_kind_name(five[i].kind));
		msg = slack_one(d, ids[i]);
		expect_block_kit(msg, what);
		dfx_expect_has(msg, DFX_PROGRAM_NAME, what);
		dfx_expect_has(msg, DFX_PIPELINE_NAME, what);
		for (size_t k = 0; five[i].must[k]; k++)
			dfx_expect_has_ci(msg, five[i].must[k], what);
		expect_deep_link(msg, "2000002", what);
		json_decref(msg);
	}
	json_decref(rows);
	assert_int_equal(dfx_sink_count(&d->slack), 5);
	dfx_stop(d);
}

/* NOTIFY_EVENTS defaults to started,waiting,ended: step starts and ends are journaled as ignored. */
static void test_delivery_default_kinds(void **state)
{
	struct dfx *d = *state;
	char ids[5][37], wanted[3][37];
	size_t nw = 0;
	json_t *rows;

	run_env_unset(&d->s->w->env, "NOTIFY_EVENTS");
	serve_five_resources(d, "2000003", 2);   /* started, waiting */
	dfx_start(d);
	for (size_t i = 0; i < 5; i++) {
		dfx_post_event(d, five[i].kind, "2000003", five[i].phase, five[i].step, ids[i]);
		if (five[i].kind != DFX_STEP_STARTED && five[i].kind != DFX_STEP_ENDED)
			memcpy(wanted[nw++], ids[i], 37);
	}
	rows = dfx_wait_statuses(d, wanted, nw, "done", DFX_WAIT_MS);
	for (size_t i = 0; i < 5; i++) {
		bool ignored = five[i].kind == DFX_STEP_STARTED || five[i].kind == DFX_STEP_ENDED;

		assert_string_equal(dfx_row_str(sv_event_find(rows, ids[i]), "status"),
				    ignored ? "ignored" : "done");
		assert_int_equal(dfx_sink_count_with(&d->slack, ids[i]), ignored ? 0 : 1);
	}
	json_decref(rows);
	assert_int_equal(dfx_sink_count(&d->slack), 3);
	/* Nobody wanted them, so their step states were never fetched. */
	{
		char *p1 = dfx_step_path("2000003", "2401119", "11033500");
		char *p2 = dfx_step_path("2000003", "2401120", "11033501");

		assert_int_equal(fake_count(d->s->w->api, "GET", p1), 0);
		assert_int_equal(fake_count(d->s->w->api, "GET", p2), 0);
		free(p1);
		free(p2);
	}
	dfx_stop(d);
}

/* ---- outcomes ------------------------------------------------------------------------- */

struct outcome_case {
	const char *exec, *status;
	const char *outcome;      /* generic webhook `outcome` */
	const char *duration;     /* as shown in Slack */
	const char *failed_step;  /* Slack must name it; NULL: no failed step */
};

static const struct outcome_case outcomes[] = {
	{ "2000011", "FINISHED", "succeeded", "1h 42m", NULL },
	{ "2000012", "FAILED", "failed", "12m 44s", "Build" },
	{ "2000013", "CANCELLED", "cancelled", "26m 30s", NULL },
};

static void expect_outcome_webhook(struct dfx *d, const struct outcome_case *c, const char *id)
{
	json_t *hook = dfx_sink_json(&d->hook, id, 0);
	json_t *dur, *failed;

	assert_non_null(hook);
	assert_string_equal(dfx_json_str(hook, "outcome", NULL), c->outcome);
	assert_string_equal(dfx_json_str(hook, "execution", "status", NULL), c->status);
	dur = json_object_get(json_object_get(hook, "execution"), "duration_ms");
	if (!json_is_integer(dur) || json_integer_value(dur) != dfx_duration_ms(c->status))
		fail_msg("%s: execution.duration_ms is not %lld", c->status,
			 dfx_duration_ms(c->status));
	failed = json_object_get(hook, "failed_step");
	if (c->failed_step) {
		assert_string_equal(dfx_json_str(failed, "action", NULL), "build");
		assert_string_equal(dfx_json_str(failed, "status", NULL), "FAILED");
	} else if (!json_is_null(failed)) {
		fail_msg("%s: failed_step must be null", c->status);
	}
	json_decref(hook);
}

static void test_delivery_outcomes_and_duration(void **state)
{
	struct dfx *d = *state;
	char ids[3][37];
	json_t *rows;

	dfx_use_hook(d);
	for (size_t i = 0; i < 3; i++)
		dfx_add_execution(d, outcomes[i].exec, outcomes[i].status);
	dfx_start(d);
	for (size_t i = 0; i < 3; i++)
		dfx_post_event(d, DFX_ENDED, outcomes[i].exec, NULL, NULL, ids[i]);
	rows = dfx_wait_statuses(d, ids, 3, "done", DFX_WAIT_MS);
	json_decref(rows);
	for (size_t i = 0; i < 3; i++) {
		const struct outcome_case *c = &outcomes[i];
		json_t *msg = slack_one(d, ids[i]);

		expect_block_kit(msg, c->status);
		dfx_expect_has(msg, c->status, c->status);
		dfx_expect_has(msg, c->duration, c->status);
		dfx_expect_has_ci(msg, "Duration", c->status);
		if (c->failed_step) {
			dfx_expect_has_ci(msg, "Failed step", c->status);
			dfx_expect_has(msg, c->failed_step, c->status);
		} else {
			dfx_expect_lacks(msg, "Failed step", c->status);
		}
		/* The fallback text must tell a failure apart without opening the message. */
		if (strcmp(c->status, "FAILED") == 0)
			dfx_expect_has_ci(json_object_get(msg, "text"), "fail", "FAILED text");
		expect_deep_link(msg, c->exec, c->status);
		json_decref(msg);
		expect_outcome_webhook(d, c, ids[i]);
	}
	dfx_stop(d);
}

/* ---- a waiting approval step ---------------------------------------------------------- */

static void test_delivery_waiting_approval_unmistakable(void **state)
{
	struct dfx *d = *state;
	char id[37];
	json_t *row, *msg, *hook;

	dfx_use_hook(d);
	dfx_add_execution(d, "2000021", "RUNNING");
	dfx_add_step(d, "2000021", "2401121", "11033504", "approval", "WAITING", "prod");
	dfx_start(d);
	dfx_post_event(d, DFX_WAITING, "2000021", "2401121", "11033504", id);
	row = dfx_wait_status(d, id, "done", DFX_WAIT_MS);
	assert_string_equal(dfx_row_str(row, "kind"), "waiting");
	json_decref(row);

	msg = slack_one(d, id);
	expect_block_kit(msg, "waiting");
	/* The notification line itself says that someone must act. */
	dfx_expect_has_ci(json_object_get(msg, "text"), "waiting", "waiting text");
	dfx_expect_has_ci(json_object_get(msg, "text"), "approval", "waiting text");
	dfx_expect_has_ci(json_object_get(msg, "blocks"), "action needed", "waiting blocks");
	expect_deep_link(msg, "2000021", "waiting");
	json_decref(msg);

	hook = dfx_sink_json(&d->hook, id, 0);
	assert_non_null(hook);
	assert_true(json_is_true(json_object_get(hook, "needs_action")));
	dfx_expect_has_ci(json_object_get(hook, "waiting_reason"), "approval", "waiting_reason");
	assert_string_equal(dfx_json_str(hook, "step", "action", NULL), "approval");
	assert_string_equal(dfx_json_str(hook, "step", "status", NULL), "WAITING");
	json_decref(hook);
	dfx_stop(d);
}

/* ---- 50 executions: one token, program and pipeline fetched once ------------------------ */

#define FIFTY 50

/*
 * The generic webhook carries the messages here: Slack is paced at one
 * message a second (its documented rate limit), which would make this a
 * 50-second test of pacing rather than of the API traffic.
 */
static void test_delivery_fifty_executions_one_token(void **state)
{
	struct dfx *d = *state;
	char ids[FIFTY][37], execs[FIFTY][16];
	char *bodies[FIFTY];
	struct sv_job jobs[FIFTY];
	json_t *rows;

	dfx_no_slack(d);
	dfx_use_hook(d);
	for (size_t i = 0; i < FIFTY; i++) {
		(void)snprintf(execs[i], sizeof(execs[i]), "%zu", 2100000 + i);
		dfx_add_execution(d, execs[i], "RUNNING");
	}
	dfx_start(d);
	for (size_t i = 0; i < FIFTY; i++) {
		bodies[i] = dfx_event(d, DFX_STARTED, execs[i], NULL, NULL, ids[i]);
		jobs[i] = (struct sv_job){ .body = bodies[i], .len = strlen(bodies[i]) };
	}
	/* Concurrent deliveries, so the workers race for the token and the cache. */
	sv_post_parallel(d->s, jobs, FIFTY, 4);
	for (size_t i = 0; i < FIFTY; i++) {
		assert_int_equal(jobs[i].status, 200);
		free(bodies[i]);
	}
	rows = dfx_wait_statuses(d, ids, FIFTY, "done", 3 * DFX_WAIT_MS);
	json_decref(rows);

	assert_int_equal(dfx_sink_count(&d->hook), FIFTY);
	for (size_t i = 0; i < FIFTY; i++) {
		char *path = dfx_execution_path(execs[i]);

		assert_int_equal(dfx_sink_count_with(&d->hook, ids[i]), 1);
		assert_int_equal(fake_count(d->s->w->api, "GET", path), 1);
		free(path);
	}
	if (fake_count(d->s->w->ims, "POST", FX_IMS_PATH) != 1 ||
	    fake_count(d->s->w->api, "GET", DFX_PROGRAM_PATH) != 1 ||
	    fake_count(d->s->w->api, "GET", DFX_PIPELINE_PATH) != 1)
		fail_msg("50 executions cost %zu token requests, %zu program and %zu pipeline "
			 "fetches; want 1 each", fake_count(d->s->w->ims, "POST", FX_IMS_PATH),
			 fake_count(d->s->w->api, "GET", DFX_PROGRAM_PATH),
			 fake_count(d->s->w->api, "GET", DFX_PIPELINE_PATH));
	dfx_stop(d);
}

/* Slack is paced (about 1/s after a burst of 5): a backlog arrives spaced out, complete. */
#define NPACED 8

static void test_delivery_slack_paced(void **state)
{
	struct dfx *d = *state;
	char ids[NPACED][37], execs[NPACED][16];
	const struct fake_request *first, *last;
	json_t *rows;

	for (size_t i = 0; i < NPACED; i++) {
		(void)snprintf(execs[i], sizeof(execs[i]), "%zu", 2000030 + i);
		dfx_add_execution(d, execs[i], "RUNNING");
	}
	dfx_start(d);
	for (size_t i = 0; i < NPACED; i++)
		dfx_post_event(d, DFX_STARTED, execs[i], NULL, NULL, ids[i]);
	rows = dfx_wait_statuses(d, ids, NPACED, "done", DFX_WAIT_MS);
	json_decref(rows);
	assert_int_equal(dfx_sink_count(&d->slack), NPACED);
	first = fake_request_nth(d->slack.f, "POST", DFX_SLACK_PATH, 0);
	last = fake_request_nth(d->slack.f, "POST", DFX_SLACK_PATH, NPACED - 1);
	/* Three beyond the burst of five need at least about three seconds (10 % tolerance). */
	if (last->at_ms - first->at_ms < 2700)
		fail_msg("%d Slack messages within %ld ms: not paced to about 1/s", NPACED,
			 last->at_ms - first->at_ms);
	dfx_stop(d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, dfx_setup, dfx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_delivery_started_reaches_slack_signed),
		T(test_delivery_five_kinds_all),
		T(test_delivery_default_kinds),
		T(test_delivery_outcomes_and_duration),
		T(test_delivery_waiting_approval_unmistakable),
		T(test_delivery_fifty_executions_one_token),
		T(test_delivery_slack_paced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
