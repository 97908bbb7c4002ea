/*
 * `cmhook serve` in operation: an unreachable signing-key host (503 with
 * Retry-After, then recovery), one key fetch per key under concurrency, the
 * health/readiness/metrics endpoints, durability of acknowledged events
 * across SIGKILL, the `events` and `replay` commands against a journal,
 * orderly shutdown on SIGTERM/SIGINT, and SIGNATURE_VERIFY=off.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve.h"

#define ID_31 "6f1d9a52-3c41-4b8e-9a0e-2d7c5b1e8f43"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void set_key_status(struct sv *s, int status)
{
	__atomic_store_n(&s->key_status, status, __ATOMIC_SEQ_CST);
}

static void set_key_delay(struct sv *s, unsigned ms)
{
	__atomic_store_n(&s->key_delay_ms, ms, __ATOMIC_SEQ_CST);
}

static void expect_retry_after(const struct http_reply *r)
{
	const char *v = http_reply_header(r, "Retry-After");
	char *end;
	long n;

	if (!v)
		fail_msg("503 without a Retry-After header");
	n = strtol(v, &end, 10);
	if (end == v || *end || n <= 0 || n > 3600)
		fail_msg("Retry-After is not a sensible number of seconds: \"%s\"", v);
}

static size_t journal_size(struct sv *s)
{
	json_t *rows = sv_events(s, NULL);
	size_t n = json_array_size(rows);

	json_decref(rows);
	return n;
}

/* A 127.0.0.1 port nobody listens on (bound, then released: a reuse race is very unlikely). */
static uint16_t closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	(void)close(fd);
	return ntohs(sa.sin_port);
}

/* ---- 6. the signing-key host ----------------------------------------------------- */

static void test_serve_key_host_503_then_back(void **state)
{
	struct sv *s = *state;
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	struct http_reply r;

	set_key_status(s, 503);
	sv_start(s);
	sv_post(s, body, strlen(body), NULL, &r);
	if (!r.ok || r.status != 503) {
		sv_dump_log(s, "key host 503");
		fail_msg("key host answering 503: got %ld, want 503 (Adobe retries 5xx)", r.status);
	}
	expect_retry_after(&r);
	http_reply_release(&r);
	assert_true(fake_count(s->keyhost, NULL, NULL) >= 1);
	assert_int_equal(journal_size(s), 0);

	/* The key host is back: Adobe's retry of the same delivery succeeds (failures not cached). */
	set_key_status(s, 0);
	assert_int_equal(sv_post_status(s, body, strlen(body)), 200);
	{
		json_t *rows = sv_events(s, NULL);

		assert_non_null(sv_event_find(rows, ID_31));
		json_decref(rows);
	}
	free(body);
}

static void test_serve_key_host_unreachable_is_503(void **state)
{
	struct sv *s = *state;
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	struct http_reply r;

	run_env_setf(&s->w->env, "EVENTS_KEY_URL", "http://127.0.0.1:%u", closed_port());
	sv_start(s);
	sv_post(s, body, strlen(body), NULL, &r);
	if (!r.ok || r.status != 503) {
		sv_dump_log(s, "key host down");
		fail_msg("key host refusing connections: got %ld, want 503", r.status);
	}
	expect_retry_after(&r);
	http_reply_release(&r);
	assert_int_equal(journal_size(s), 0);
	free(body);
}

static void test_serve_key_host_hanging_is_503_within_adobes_timeout(void **state)
{
	struct sv *s = *state;
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	struct http_reply r;
	long t0, elapsed;

	/* Longer than any sane key-fetch timeout; Adobe gives up after 10 s. */
	set_key_delay(s, 15000);
	sv_start(s);
	t0 = now_ms();
	sv_post(s, body, strlen(body), NULL, &r);
	elapsed = now_ms() - t0;
	if (!r.ok || r.status != 503)
		fail_msg("hanging key host: got %ld (%s), want 503", r.status, r.error);
	if (elapsed >= 10000)
		fail_msg("the 503 took %ld ms; Adobe counts 10 s as a failed delivery", elapsed);
	expect_retry_after(&r);
	http_reply_release(&r);
	assert_int_equal(journal_size(s), 0);
	free(body);
}

static void test_serve_cold_cache_fetches_each_key_once(void **state)
{
	struct sv *s = *state;
	enum { N = 20 };
	struct sv_job jobs[N];
	char *bodies[N];
	char ids[N][37];
	size_t c1, c2;
	json_t *rows;

	for (size_t i = 0; i < N; i++) {
		tmp_uuid(ids[i]);
		bodies[i] = sv_event("cm-3.1-started.json", ids[i], NULL);
		jobs[i] = (struct sv_job){ .body = bodies[i], .len = strlen(bodies[i]) };
	}
	/* A slow key host keeps the first fetch in flight while the other 19 arrive. */
	set_key_delay(s, 600);
	sv_start(s);
	sv_post_parallel(s, jobs, N, N);
	for (size_t i = 0; i < N; i++)
		if (jobs[i].status != 200) {
			sv_dump_log(s, "concurrent deliveries");
			fail_msg("delivery %zu: status %ld, want 200", i, jobs[i].status);
		}
	c1 = fake_count(s->keyhost, "GET", sign_key_path(s->k1));
	c2 = fake_count(s->keyhost, "GET", sign_key_path(s->k2));
	if (c1 > 1 || c2 > 1 || c1 + c2 == 0)
		fail_msg("key fetches: %zu for key 1, %zu for key 2; want exactly one per key used",
			 c1, c2);
	assert_int_equal(fake_count(s->keyhost, NULL, NULL), c1 + c2);
	/* A warm cache: more deliveries, no more fetches. */
	set_key_delay(s, 0);
	sv_post_parallel(s, jobs, 5, 5);
	assert_int_equal(fake_count(s->keyhost, NULL, NULL), c1 + c2);
	rows = sv_events(s, NULL);
	assert_int_equal(json_array_size(rows), N);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(sv_event_count(rows, ids[i]), 1);
	json_decref(rows);
	for (size_t i = 0; i < N; i++)
		free(bodies[i]);
}

/* ---- 8. health, readiness, metrics, routing ---------------------------------------- */

static long get_status(struct sv *s, const char *path)
{
	struct http_reply r;
	long st;

	sv_get(s, path, NULL, &r);
	st = r.ok ? r.status : 0;
	http_reply_release(&r);
	return st;
}

static void test_serve_health_and_routing(void **state)
{
	struct sv *s = *state;
	struct http_req put = { .method = "PUT", .body = "{}", .body_len = 2 };
	struct http_reply r;
	char *url;

	sv_start(s);
	assert_int_equal(get_status(s, "/healthz"), 200);
	assert_int_equal(get_status(s, "/readyz"), 200);
	assert_int_equal(get_status(s, "/nosuchpath"), 404);
	assert_int_equal(get_status(s, "/webhookx"), 404);
	assert_int_equal(get_status(s, "/"), 404);
	url = tmp_xasprintf("%s/webhook", s->base);
	put.url = url;
	(void)http_do(&put, &r);
	assert_true(r.ok);
	assert_int_equal(r.status, 405);
	http_reply_release(&r);
	put.method = "DELETE";
	put.body = NULL;
	put.body_len = 0;
	(void)http_do(&put, &r);
	assert_int_equal(r.status, 405);
	http_reply_release(&r);
	free(url);
}

static double metric(struct sv *s, const char *text, const char *series)
{
	double v = sv_metric(text, series);

	if (v < 0) {
		fprintf(stderr, "---- /metrics ----\n%s---- end ----\n", text);
		fail_msg("/metrics has no sample %s", series);
	}
	return v;
}

static void test_serve_metrics_count_what_happened(void **state)
{
	struct sv *s = *state;
	char *good = sv_event("cm-3.1-started.json", NULL, NULL);
	char id[37];
	char *forged, *good2;
	struct sv_post_opts unsigned_o = { .unsigned_body = true };
	struct sv_post_opts tamper = { .signed_body = good };
	struct sv_post_opts bad = { .sig1 = "AAAA", .sig2 = "AAAA" };
	struct http_reply r;
	const char *text;

	tmp_uuid(id);
	forged = sv_event("cm-3.1-started.json", id, NULL);
	good2 = sv_event("cm-3.1-started.json", NULL, NULL);
	tamper.signed_len = strlen(good);
	sv_start(s);
	/* Three signature failures, one event, one duplicate of it. */
	sv_post(s, good, strlen(good), &unsigned_o, &r);
	assert_int_equal(r.status, 401);
	http_reply_release(&r);
	sv_post(s, forged, strlen(forged), &tamper, &r);
	assert_int_equal(r.status, 401);
	http_reply_release(&r);
	sv_post(s, good, strlen(good), &bad, &r);
	assert_int_equal(r.status, 401);
	http_reply_release(&r);
	assert_int_equal(sv_post_status(s, good, strlen(good)), 200);
	assert_int_equal(sv_post_status(s, good2, strlen(good2)), 200);

	sv_get(s, "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(fx_media_type_is(http_reply_header(&r, "Content-Type"), "text/plain"));
	text = r.body;
	assert_true(metric(s, text, "cmhook_rejected_total{reason=\"signature\"}") == 3);
	assert_true(metric(s, text, "cmhook_http_requests_total{status=\"401\"}") == 3);
	assert_true(metric(s, text, "cmhook_http_requests_total{status=\"200\"}") >= 2);
	assert_true(metric(s, text, "cmhook_events_total{kind=\"started\"}") == 1);
	assert_true(metric(s, text, "cmhook_journal_events{status=\"pending\"}") == 1);
	assert_true(metric(s, text, "cmhook_ack_latency_seconds_bucket{le=\"+Inf\"}") >= 2);
	assert_true(metric(s, text, "cmhook_ack_latency_seconds_count") >= 2);
	/* Key cache: the fetches it reports are the ones the key host saw; the second event hit. */
	assert_true(metric(s, text, "cmhook_key_fetches_total") ==
		    (double)fake_count(s->keyhost, NULL, NULL));
	assert_true(metric(s, text, "cmhook_key_fetches_total") >= 1);
	assert_true(metric(s, text, "cmhook_key_cache_hits_total") >= 1);
	assert_true(metric(s, text, "cmhook_key_fetch_failures_total") == 0);
	/* Prometheus text: every sample line belongs to a declared family. */
	assert_true(fx_contains(text, r.body_len, "# TYPE cmhook_rejected_total counter"));
	http_reply_release(&r);
	free(good);
	free(good2);
	free(forged);
}

/* ---- 9. durability ---------------------------------------------------------------- */

static void test_serve_acknowledged_events_survive_sigkill(void **state)
{
	struct sv *s = *state;
	enum { N = 200 };
	struct sv_job *jobs = tmp_xmalloc(N * sizeof(*jobs));
	char (*ids)[37] = tmp_xmalloc(N * sizeof(*ids));
	char **bodies = tmp_xmalloc(N * sizeof(*bodies));
	size_t acked = 0, missing = 0;
	json_t *rows;

	for (size_t i = 0; i < N; i++) {
		tmp_uuid(ids[i]);
		bodies[i] = sv_event("cm-3.1-started.json", ids[i], NULL);
		jobs[i] = (struct sv_job){ .body = bodies[i], .len = strlen(bodies[i]) };
	}
	sv_start(s);
	sv_post_parallel(s, jobs, N, 4);
	/* Immediately after the last answer: no graceful anything. */
	sv_kill(s);
	for (size_t i = 0; i < N; i++) {
		if (jobs[i].status == 200)
			acked++;
		else if (jobs[i].status != 503)
			fail_msg("delivery %zu: status %ld, want 200 (or 503 if overloaded)", i,
				 jobs[i].status);
	}
	if (acked < N)
		fprintf(stderr, "note: %zu of %d deliveries were acknowledged\n", acked, (int)N);
	assert_true(acked > 0);

	sv_start(s);
	rows = sv_events(s, NULL);
	for (size_t i = 0; i < N; i++) {
		if (jobs[i].status == 200 && sv_event_count(rows, ids[i]) != 1) {
			fprintf(stderr, "acknowledged event %s is not in the journal once\n", ids[i]);
			missing++;
		}
	}
	if (missing)
		fail_msg("%zu of %zu acknowledged events lost or duplicated after SIGKILL", missing,
			 acked);
	/* Nothing that was not sent, at most what was sent. */
	assert_true(json_array_size(rows) <= N);
	assert_true(json_array_size(rows) >= acked);
	assert_int_equal(sv_stop(s, SIGTERM, SV_STOP_TIMEOUT_MS), 0);
	json_decref(rows);
	for (size_t i = 0; i < N; i++)
		free(bodies[i]);
	free(bodies);
	free(ids);
	free(jobs);
}

/* ---- 10. events and replay ---------------------------------------------------------- */

static void test_events_without_journal_lists_nothing(void **state)
{
	struct sv *s = *state;

	fx_run(s->w, "events", "--json", NULL);
	fx_expect_exit(s->w, 0);
	assert_int_equal(s->w->r.out_len, 0);
	fx_run(s->w, "events", NULL);
	fx_expect_exit(s->w, 0);
	fx_run(s->w, "events", "--status", "bogus", NULL);
	fx_expect_exit(s->w, 2);
	fx_expect_stderr(s->w, "bogus");
	fx_run(s->w, "events", "--limit", "0", NULL);
	fx_expect_exit(s->w, 2);
	fx_run(s->w, "events", "--limit", "abc", NULL);
	fx_expect_exit(s->w, 2);
}

static void test_replay_on_a_journaled_event(void **state)
{
	struct sv *s = *state;
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	json_t *rows, *o;

	sv_start(s);
	assert_int_equal(sv_post_status(s, body, strlen(body)), 200);
	/* While serve runs: another process on the same journal. */
	fx_run(s->w, "replay", ID_31, NULL);
	fx_expect_exit(s->w, 0);
	fx_run(s->w, "replay", "nosuch", NULL);
	fx_expect_exit(s->w, 1);
	fx_expect_stderr(s->w, "nosuch");
	fx_run(s->w, "replay", NULL);
	fx_expect_exit(s->w, 2);
	rows = sv_events(s, NULL);
	o = sv_event_find(rows, ID_31);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "pending");
	json_decref(rows);
	rows = sv_events(s, "--status", "pending", NULL);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	rows = sv_events(s, "--status", "done", NULL);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	free(body);
}

/* ---- 11. signals ---------------------------------------------------------------------- */

static void stop_and_restart(struct sv *s, int sig)
{
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	char id[37];
	char *second;
	long t0;
	int code;
	json_t *rows;

	tmp_uuid(id);
	second = sv_event("cm-3.1-started.json", id, NULL);
	sv_start(s);
	assert_int_equal(sv_post_status(s, body, strlen(body)), 200);
	t0 = now_ms();
	code = sv_stop(s, sig, 5000);
	if (code != 0) {
		sv_dump_log(s, "exit code");
		fail_msg("serve exited with %d after signal %d, want 0", code, sig);
	}
	fprintf(stderr, "note: serve stopped %ld ms after signal %d\n", now_ms() - t0, sig);
	sv_expect_log(s, "msg=stopped", 0);
	/* The port is free again and the journal opens again. */
	sv_start(s);
	assert_int_equal(sv_post_status(s, second, strlen(second)), 200);
	rows = sv_events(s, NULL);
	assert_non_null(sv_event_find(rows, ID_31));
	assert_non_null(sv_event_find(rows, id));
	json_decref(rows);
	assert_int_equal(sv_stop(s, SIGTERM, SV_STOP_TIMEOUT_MS), 0);
	free(body);
	free(second);
}

static void test_serve_sigterm_stops_cleanly_and_restarts(void **state)
{
	stop_and_restart(*state, SIGTERM);
}

static void test_serve_sigint_stops_cleanly(void **state)
{
	stop_and_restart(*state, SIGINT);
}

struct inflight {
	struct sv *s;
	const char *body;
	struct http_reply r;
};

static void *post_thread(void *ud)
{
	struct inflight *f = ud;

	sv_post(f->s, f->body, strlen(f->body), NULL, &f->r);
	return NULL;
}

static void test_serve_sigterm_answers_the_request_in_flight(void **state)
{
	struct sv *s = *state;
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	struct inflight f = { .s = s, .body = body };
	pthread_t t;
	bool fetching;
	int code;

	/* The delivery waits for its signing key while serve is told to stop. */
	set_key_delay(s, 1500);
	sv_start(s);
	assert_int_equal(pthread_create(&t, NULL, post_thread, &f), 0);
	fetching = fake_wait_requests(s->keyhost, "GET", NULL, 1, 10000);
	(void)run_bg_signal(s->bg, SIGTERM);
	/* Join before any assertion: the thread writes into this stack frame. */
	(void)pthread_join(t, NULL);
	if (!fetching) {
		http_reply_release(&f.r);
		free(body);
		fail_msg("the delivery never asked the key host for its key");
	}
	if (!f.r.ok || (f.r.status != 200 && f.r.status != 503)) {
		sv_dump_log(s, "in-flight request");
		fail_msg("the request in flight got %s%ld (%s), want an answer 200 or 503",
			 f.r.ok ? "" : "no answer ", f.r.status, f.r.error);
	}
	if (f.r.status == 503)
		expect_retry_after(&f.r);
	code = sv_stop(s, SIGTERM, SV_STOP_TIMEOUT_MS);
	assert_int_equal(code, 0);
	sv_expect_log(s, "msg=stopped", 0);
	/* Acknowledged means journaled. */
	if (f.r.status == 200) {
		json_t *rows = sv_events(s, NULL);

		assert_non_null(sv_event_find(rows, ID_31));
		json_decref(rows);
	}
	http_reply_release(&f.r);
	free(body);
}

/* ---- 12. SIGNATURE_VERIFY=off ---------------------------------------------------------- */

static void test_serve_signature_verify_off_warns_and_accepts_unsigned(void **state)
{
	struct sv *s = *state;
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	struct sv_post_opts none = { .unsigned_body = true };
	struct http_reply r;
	char *log, *line;
	json_t *rows;

	run_env_set(&s->w->env, "SIGNATURE_VERIFY", "off");
	sv_start(s);
	log = sv_log(s);
	/* One warning line naming the setting, before or with the listening line. */
	line = strstr(log, "SIGNATURE_VERIFY");
	while (line && line > log && line[-1] != '\n')
		line--;
	if (!line || !strstr(line, "level=") || strncmp(strstr(line, "level="), "level=warn", 10)) {
		sv_dump_log(s, "SIGNATURE_VERIFY=off");
		fail_msg("no level=warn line naming SIGNATURE_VERIFY at start-up");
	}
	free(log);
	sv_post(s, body, strlen(body), &none, &r);
	assert_int_equal(r.status, 200);
	http_reply_release(&r);
	rows = sv_events(s, NULL);
	assert_non_null(sv_event_find(rows, ID_31));
	json_decref(rows);
	assert_int_equal(fake_count(s->keyhost, NULL, NULL), 0);
	free(body);
}

static void test_serve_signature_verify_on_by_default_logs_no_warning(void **state)
{
	struct sv *s = *state;
	char *log;

	sv_start(s);
	log = sv_log(s);
	if (fx_contains(log, strlen(log), "SIGNATURE_VERIFY")) {
		sv_dump_log(s, "default start-up");
		fail_msg("a default start-up warns about SIGNATURE_VERIFY");
	}
	free(log);
}

#define T(f) cmocka_unit_test_setup_teardown(f, sv_setup, sv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_serve_key_host_503_then_back),
		T(test_serve_key_host_unreachable_is_503),
		T(test_serve_key_host_hanging_is_503_within_adobes_timeout),
		T(test_serve_cold_cache_fetches_each_key_once),
		T(test_serve_health_and_routing),
		T(test_serve_metrics_count_what_happened),
		T(test_serve_acknowledged_events_survive_sigkill),
		T(test_events_without_journal_lists_nothing),
		T(test_replay_on_a_journaled_event),
		T(test_serve_sigterm_stops_cleanly_and_restarts),
		T(test_serve_sigint_stops_cleanly),
		T(test_serve_sigterm_answers_the_request_in_flight),
		T(test_serve_signature_verify_off_warns_and_accepts_unsigned),
		T(test_serve_signature_verify_on_by_default_logs_no_warning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
