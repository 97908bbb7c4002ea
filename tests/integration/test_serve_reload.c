/*
 * SIGHUP: serve re-reads its settings and restarts in the same process when
 * they are valid (a rotated secret, a changed .env), keeping every journaled
 * event; invalid settings are refused and the running daemon goes on.
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

#include "client.h"
#include "serve.h"
#include "tmp.h"

/* The port of the last msg=listening line after offset, 0 if none yet. */
static unsigned last_port(struct sv *s, size_t offset)
{
	char *log = sv_log(s);
	char *line = NULL, *p, *port;
	unsigned v = 0;

	for (p = log + offset; (p = strstr(p, "msg=listening")) != NULL; p++)
		line = p;
	if (line && (port = strstr(line, " port=")) != NULL && strchr(port, '\n'))
		v = (unsigned)strtoul(port + 6, NULL, 10);
	free(log);
	return v;
}

static void test_serve_sighup_restarts_with_new_settings(void **state)
{
	struct sv *s = *state;
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	struct http_reply r;
	char url[128];
	size_t mark;
	unsigned port = 0;
	pid_t pid;

	sv_start(s);
	pid = run_bg_pid(s->bg);
	assert_int_equal(sv_post_status(s, body, strlen(body)), 200);

	/* A setting that only the .env holds: the webhook moves to /hook2. */
	assert_true(tmp_write(s->w->dir, ".env", "WEBHOOK_PATH=/hook2\n", 20, 0600));
	mark = sv_log_size(s);
	assert_true(run_bg_signal(s->bg, SIGHUP));
	sv_expect_log_since(s, mark, "msg=\"restarting to apply new settings\"", 10000);
	sv_expect_log_since(s, mark, "msg=listening", 10000);
	for (int i = 0; i < 100 && !(port = last_port(s, mark)); i++)
		(void)run_bg_wait(s->bg, 20, NULL);
	assert_true(port > 0);
	/* Same process, new settings, and the journal kept its event. */
	assert_int_equal(run_bg_pid(s->bg), pid);
	assert_false(run_bg_wait(s->bg, 0, NULL));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook2?challenge=moved", port);
	assert_true(http_get(url, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "moved");
	http_reply_release(&r);
	s->port = (uint16_t)port;
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%u", port);
	json_t *rows = sv_events(s, NULL);
	assert_non_null(sv_event_find(rows, "6f1d9a52-3c41-4b8e-9a0e-2d7c5b1e8f43"));
	json_decref(rows);
	assert_int_equal(sv_stop(s, SIGTERM, SV_STOP_TIMEOUT_MS), 0);
	free(body);
}

static void test_serve_sighup_refuses_invalid_settings(void **state)
{
	struct sv *s = *state;
	struct http_reply r;
	char url[128];
	size_t mark;

	sv_start(s);
	assert_true(tmp_write(s->w->dir, ".env", "MAX_BODY=lots\n", 14, 0600));
	mark = sv_log_size(s);
	assert_true(run_bg_signal(s->bg, SIGHUP));
	sv_expect_log_since(s, mark, "new settings refused", 10000);
	/* Still the same daemon on the same port. */
	snprintf(url, sizeof(url), "%s/healthz", s->base);
	assert_true(http_get(url, NULL, &r));
	assert_int_equal(r.status, 200);
	http_reply_release(&r);
	assert_int_equal(sv_stop(s, SIGTERM, SV_STOP_TIMEOUT_MS), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, sv_setup, sv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_serve_sighup_restarts_with_new_settings),
		T(test_serve_sighup_refuses_invalid_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
