/*
 * An "ended" event that overtakes the API: the execution still shows
 * RUNNING when the event is processed. cmhook must not report it as is but
 * look again later (cloudmanager-api.md §12 "Timing"); the re-read sees the
 * end and the message carries the real outcome. The re-read waits
 * SETTLE_DELAY, shortened here to keep the test fast.
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

#define SETTLE_DELAY "700ms"
/* The settle delay plus a generous margin for a loaded machine. */
#define SETTLE_WAIT_MS 30000u

static void test_delivery_ended_but_running_is_retried(void **state)
{
	struct dfx *d = *state;
	char *path = dfx_execution_path("2000401");
	char id[37];
	json_t *row, *msg;

	dfx_add_execution(d, "2000401", "RUNNING");
	dfx_add_execution(d, "2000401", "FINISHED");
	run_env_set(&d->s->w->env, "SETTLE_DELAY", SETTLE_DELAY);
	dfx_start(d);
	dfx_post_event(d, DFX_ENDED, "2000401", NULL, NULL, id);

	/* First look: still running -> back to pending, nothing sent. */
	if (!fake_wait_requests(d->s->w->api, "GET", path, 1, DFX_WAIT_MS))
		fail_msg("the execution was never read");
	row = dfx_wait_status(d, id, "pending", DFX_WAIT_MS);
	/* pending is also the state before the first attempt: wait for the attempt's end. */
	for (long until = dfx_now_ms() + (long)DFX_WAIT_MS;
	     json_integer_value(json_object_get(row, "attempts")) < 1 && dfx_now_ms() < until;) {
		json_decref(row);
		row = dfx_wait_status(d, id, "pending", DFX_WAIT_MS);
	}
	assert_int_equal(json_integer_value(json_object_get(row, "attempts")), 1);
	if (!strstr(dfx_row_str(row, "last_error"), "RUNNING"))
		fail_msg("last_error \"%s\" does not say the execution is still running",
			 dfx_row_str(row, "last_error"));
	json_decref(row);
	/* Nothing was sent for the first look: at the end Slack has exactly one
	 * message, and it carries the settled outcome (checked below). Counting
	 * here instead would race with the re-read on a slow (valgrind) run. */

	/* Second look: finished -> delivered with the real outcome. */
	row = dfx_wait_status(d, id, "done", SETTLE_WAIT_MS);
	json_decref(row);
	assert_int_equal(fake_count(d->s->w->api, "GET", path), 2);
	assert_int_equal(dfx_sink_count(&d->slack), 1);
	msg = dfx_sink_json(&d->slack, id, 0);
	assert_non_null(msg);
	dfx_expect_has(msg, "FINISHED", "settled message");
	dfx_expect_has(msg, "1h 42m", "settled message");
	json_decref(msg);
	free(path);
	dfx_stop(d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, dfx_setup, dfx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_delivery_ended_but_running_is_retried),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
