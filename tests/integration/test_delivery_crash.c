/*
 * `cmhook serve` killed with SIGKILL while deliveries are in flight, then
 * restarted on the same journal: every event still ends `done` and reaches
 * Slack, and only the deliveries that were in flight at the kill may repeat
 * (DESIGN invariants 1 and 4; "processing rows return to pending").
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "delivery_fx.h"

#define NEV 20
#define KILL_AFTER 5

static bool row_done(json_t *rows, const char *id)
{
	json_t *row = sv_event_find(rows, id);

	return row && strcmp(dfx_row_str(row, "status"), "done") == 0;
}

static void test_delivery_sigkill_midway_then_restart(void **state)
{
	struct dfx *d = *state;
	char ids[NEV][37], execs[NEV][16];
	bool done_at_kill[NEV];
	size_t in_flight = 0, n_done_at_kill = 0, total;
	json_t *rows;

	/* Slow answers, so that several deliveries are on the wire at any moment. */
	dfx_sink_delay(&d->slack, 300);
	for (size_t i = 0; i < NEV; i++) {
		(void)snprintf(execs[i], sizeof(execs[i]), "%zu", 2000300 + i);
		dfx_add_execution(d, execs[i], "RUNNING");
	}
	dfx_start(d);
	for (size_t i = 0; i < NEV; i++)
		dfx_post_event(d, DFX_STARTED, execs[i], NULL, NULL, ids[i]);
	if (!fake_wait_requests(d->slack.f, "POST", DFX_SLACK_PATH, KILL_AFTER, DFX_WAIT_MS)) {
		sv_dump_log(d->s, "no deliveries");
		fail_msg("Slack saw %zu requests, want %d before the kill", dfx_sink_count(&d->slack),
			 KILL_AFTER);
	}
	sv_kill(d->s);

	/* The journal as the dead process left it, and what was on the wire for unfinished events. */
	rows = sv_events(d->s, NULL);
	for (size_t i = 0; i < NEV; i++) {
		assert_non_null(sv_event_find(rows, ids[i]));   /* acknowledged = journaled */
		done_at_kill[i] = row_done(rows, ids[i]);
		n_done_at_kill += done_at_kill[i];
		if (!done_at_kill[i])
			in_flight += dfx_sink_count_with(&d->slack, ids[i]);
	}
	json_decref(rows);
	if (n_done_at_kill == NEV)
		fail_msg("every event was done before the kill: the test proves nothing");

	dfx_sink_delay(&d->slack, 0);
	dfx_start(d);
	/* Slack is paced at about 1/s after a burst of 5: the rest takes ~15 s. */
	rows = dfx_wait_statuses(d, ids, NEV, "done", 3 * DFX_WAIT_MS);
	json_decref(rows);
	if (in_flight)
		sv_expect_log(d->s, "put back to pending", 1000);

	total = dfx_sink_count(&d->slack);
	for (size_t i = 0; i < NEV; i++) {
		size_t n = dfx_sink_count_with(&d->slack, ids[i]);

		if (n == 0)
			fail_msg("event %zu never reached Slack", i);
		/* Done before the kill means delivered and recorded: never sent again. */
		if (done_at_kill[i] && n != 1)
			fail_msg("event %zu was done before the kill but Slack got it %zu times", i, n);
	}
	if (total > NEV + in_flight)
		fail_msg("Slack got %zu requests for %d events; at most %zu were in flight at the "
			 "kill", total, NEV, in_flight);
	print_message("done at kill: %zu, in flight: %zu, Slack requests: %zu\n", n_done_at_kill,
		      in_flight, total);
	dfx_stop(d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, dfx_setup, dfx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_delivery_sigkill_midway_then_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
