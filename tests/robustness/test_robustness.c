/*
 * The robustness suite behind `make robustness` (scripts/robustness.sh builds
 * it against the test harness library): `cmhook serve` with signature
 * verification on and a Slack channel, under
 *  - repeated SIGKILL at random moments during a parallel burst of signed
 *    events: after a final restart every acknowledged event is journaled and
 *    delivered, and an event reaches Slack more than once only if it was in
 *    flight at a kill;
 *  - a channel that is down for a while (ROBUST_DOWN_S, 20 s in short form)
 *    and then back: nothing is lost;
 *  - hundreds of idle and slow-loris connections: authentic deliveries are
 *    still acknowledged quickly;
 *  - garbage, truncated, deeply nested and oversized bodies: the documented
 *    statuses, and the daemon's memory stays bounded.
 * ROBUST_MODE=short (CI) or full; ROBUST_SEED fixes the random kill moments.
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

#include "delivery_fx.h"

#define MAX_EVENTS 2000
#define SLOW_CONNS 300

static bool full_mode(void)
{
	const char *m = getenv("ROBUST_MODE");

	return m && strcmp(m, "full") == 0;
}

static unsigned env_u(const char *name, unsigned def)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

static void msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

/* Signature verification on (dfx turns it off), a key host that serves the keys. */
static int setup(void **state)
{
	struct dfx *d;

	if (dfx_setup(state))
		return -1;
	d = *state;
	run_env_set(&d->s->w->env, "SIGNATURE_VERIFY", "on");
	run_env_set(&d->s->w->env, "LOG_LEVEL", "info");
	/* A burst of hundreds of events: Slack's 1/s pacing would only slow the test. */
	run_env_set(&d->s->w->env, "PACE_CHANNELS", "off");
	return 0;
}


/* ---- SIGKILL during a burst -------------------------------------------- */

struct burst {
	struct dfx *d;
	char (*ids)[37];
	char **bodies;
	long *status;          /* 200 = acknowledged */
	size_t n;
	size_t next;           /* shared work index */
	int stop;
	pthread_mutex_t lock;
};

static void *poster(void *arg)
{
	struct burst *b = arg;

	for (;;) {
		struct http_reply rep;
		size_t i;

		pthread_mutex_lock(&b->lock);
		i = b->stop ? b->n : b->next++;
		pthread_mutex_unlock(&b->lock);
		if (i >= b->n)
			return NULL;
		sv_post(b->d->s, b->bodies[i], strlen(b->bodies[i]), NULL, &rep);
		b->status[i] = rep.ok ? rep.status : 0;
		http_reply_release(&rep);
		if (!b->status[i]) {      /* the daemon is dead: stop this round */
			pthread_mutex_lock(&b->lock);
			b->stop = 1;
			pthread_mutex_unlock(&b->lock);
		}
	}
}

static void test_sigkill_during_burst(void **state)
{
	struct dfx *d = *state;
	unsigned rounds = full_mode() ? 10 : 4, seed = env_u("ROBUST_SEED", (unsigned)time(NULL));
	size_t per_round = full_mode() ? 150 : 60, n = rounds * per_round, acked = 0, dups = 0;
	static char ids[MAX_EVENTS][37], execs[MAX_EVENTS][16];
	static char *bodies[MAX_EVENTS];
	static long status[MAX_EVENTS];
	char (*acked_ids)[37];
	json_t *rows;

	print_message("sigkill: seed %u, %u rounds of %zu events\n", seed, rounds, per_round);
	srand(seed);
	for (size_t i = 0; i < n; i++) {
		(void)snprintf(execs[i], sizeof(execs[i]), "%zu", 4000000 + i);
		dfx_add_execution(d, execs[i], "RUNNING");
		bodies[i] = dfx_event(d, DFX_STARTED, execs[i], NULL, NULL, ids[i]);
	}
	for (unsigned r = 0; r < rounds; r++) {
		struct burst b = { .d = d, .ids = ids + r * per_round, .bodies = bodies + r * per_round,
				   .status = status + r * per_round, .n = per_round };
		pthread_t t[4];

		pthread_mutex_init(&b.lock, NULL);
		dfx_start(d);
		for (int k = 0; k < 4; k++)
			assert_int_equal(pthread_create(&t[k], NULL, poster, &b), 0);
		msleep(100 + (unsigned)(rand() % 1400));
		sv_kill(d->s);
		for (int k = 0; k < 4; k++)
			pthread_join(t[k], NULL);
		pthread_mutex_destroy(&b.lock);
	}
	/* Restart once more and let everything acknowledged drain to Slack. */
	acked_ids = calloc(n, sizeof(*acked_ids));
	assert_non_null(acked_ids);
	for (size_t i = 0; i < n; i++)
		if (status[i] == 200)
			memcpy(acked_ids[acked++], ids[i], 37);
	{
		size_t other = 0, none = 0;

		for (size_t i = 0; i < n; i++)
			other += status[i] && status[i] != 200, none += !status[i];
		print_message("sigkill: %zu of %zu events acknowledged before the kills, %zu other "
			      "answers, %zu unanswered or not sent\n", acked, n, other, none);
	}
	assert_true(acked > 0);
	dfx_start(d);
	rows = dfx_wait_statuses(d, acked_ids, acked, "done", 120000);
	json_decref(rows);
	for (size_t i = 0; i < n; i++) {
		size_t seen = dfx_sink_count_with(&d->slack, execs[i]);

		if (status[i] == 200 && seen == 0)
			fail_msg("acknowledged event %s never reached Slack", ids[i]);
		if (seen > 1)
			dups++;
	}
	print_message("sigkill: %zu events reached Slack more than once (in flight at a kill; "
		      "bounded by 4 posters x %u kills + the deliveries in flight)\n", dups, rounds);
	free(acked_ids);
	for (size_t i = 0; i < n; i++)
		free(bodies[i]);
}

/* ---- channel down, then back ------------------------------------------- */

static void test_channel_down_then_back(void **state)
{
	struct dfx *d = *state;
	unsigned down_s = env_u("ROBUST_DOWN_S", full_mode() ? 180 : 20);
	size_t n = 0;
	static char ids[200][37], execs[200][16];
	long t0;
	json_t *rows;

	dfx_sink_fail(&d->slack, -1, 503, "{\"error\":\"down\"}", NULL);
	dfx_start(d);
	t0 = dfx_now_ms();
	while (dfx_now_ms() - t0 < (long)down_s * 1000 && n < 200) {
		(void)snprintf(execs[n], sizeof(execs[n]), "%zu", 5000000 + n);
		dfx_add_execution(d, execs[n], "RUNNING");
		dfx_post_event(d, DFX_STARTED, execs[n], NULL, NULL, ids[n]);
		n++;
		msleep(down_s * 1000 / 40);
	}
	print_message("channel down %u s, %zu events posted, %zu attempts refused\n", down_s, n,
		      dfx_sink_count(&d->slack));
	assert_true(dfx_sink_count(&d->slack) > 0);
	dfx_sink_fail(&d->slack, 0, 0, NULL, NULL);
	rows = dfx_wait_statuses(d, ids, n, "done", 120000);
	json_decref(rows);
	for (size_t i = 0; i < n; i++)
		if (dfx_sink_count_with(&d->slack, execs[i]) == 0)
			fail_msg("event %s was lost", ids[i]);
	sv_stop(d->s, SIGTERM, SV_STOP_TIMEOUT_MS);
}

/* ---- idle and slow connections ----------------------------------------- */

static int open_conn(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void test_slow_and_idle_connections(void **state)
{
	struct dfx *d = *state;
	static int fds[SLOW_CONNS];
	long worst = 0;
	size_t open = 0;

	dfx_add_execution(d, "6000000", "RUNNING");
	dfx_start(d);
	for (size_t i = 0; i < SLOW_CONNS; i++) {
		fds[i] = open_conn(d->s->port);
		if (fds[i] < 0)
			continue;
		open++;
		/* Every other one starts a request and never finishes it (slow loris). */
		if (i % 2 && write(fds[i], "POST /webhook HTTP/1.1\r\nHost: x\r\n", 33) != 33)
			fail_msg("write");
	}
	print_message("slow: %zu connections held open\n", open);
	for (int k = 0; k < 20; k++) {
		char id[37], *body = dfx_event(d, DFX_STARTED, "6000000", NULL, NULL, id);
		long t = dfx_now_ms();
		struct http_reply rep;

		sv_post(d->s, body, strlen(body), NULL, &rep);
		t = dfx_now_ms() - t;
		if (rep.status != 200) {
			sv_dump_log(d->s, "slow connections");
			fail_msg("authentic delivery answered %ld while connections are held", rep.status);
		}
		worst = t > worst ? t : worst;
		http_reply_release(&rep);
		free(body);
		/* Trickle one more header byte on the slow ones. */
		for (size_t i = 1; i < SLOW_CONNS; i += 2)
			if (fds[i] >= 0)
				(void)!write(fds[i], "X", 1);
	}
	print_message("slow: worst acknowledgement %ld ms\n", worst);
	assert_true(worst < 2000); /* generous: a loaded 2-core machine; typical is a few ms */
	for (size_t i = 0; i < SLOW_CONNS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	sv_stop(d->s, SIGTERM, SV_STOP_TIMEOUT_MS);
}

/* ---- hostile bodies ----------------------------------------------------- */

static long post_signed(struct dfx *d, const char *body, size_t len)
{
	struct http_reply rep;
	long st;

	sv_post(d->s, body, len, NULL, &rep);
	st = rep.ok ? rep.status : 0;
	http_reply_release(&rep);
	return st;
}

static char *repeat(const char *unit, size_t times, const char *tail)
{
	size_t ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(ul * times + tl + 1);

	assert_non_null(s);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * ul, unit, ul);
	memcpy(s + ul * times, tail, tl + 1);
	return s;
}

static void test_hostile_bodies(void **state)
{
	struct dfx *d = *state;
	struct sv_post_opts unsigned_opts = { .unsigned_body = true };
	struct http_reply rep;
	char id[37], *good, *nested, *wide, *huge, *garbage;
	long base, hwm;
	size_t big = 4 * 1024 * 1024;
	unsigned rounds = full_mode() ? 20 : 5;

	dfx_add_execution(d, "7000000", "RUNNING");
	dfx_start(d);
	good = dfx_event(d, DFX_STARTED, "7000000", NULL, NULL, id);
	assert_int_equal(post_signed(d, good, strlen(good)), 200);
	base = run_proc_kib(run_bg_pid(d->s->bg), "VmRSS:");

	nested = repeat("[", 200000, "");
	wide = repeat("{\"a\":1},", 100000, "{}");
	wide[0] = '[';  /* "[\"a\":1}..." is malformed on purpose; fine either way */
	huge = repeat("x", big + 1, "");
	garbage = malloc(65536);
	assert_non_null(garbage);
	srand(7);
	for (size_t i = 0; i < 65536; i++)
		garbage[i] = (char)(rand() & 0xff);

	for (unsigned r = 0; r < rounds; r++) {
		assert_int_equal(post_signed(d, nested, strlen(nested)), 400);
		assert_int_equal(post_signed(d, wide, strlen(wide)), 400);
		assert_int_equal(post_signed(d, garbage, 65536), 400);
		assert_int_equal(post_signed(d, good, strlen(good) / 2), 400);  /* truncated */
		assert_int_equal(post_signed(d, "", 0), 400);
		sv_post(d->s, garbage, 65536, &unsigned_opts, &rep);
		assert_int_equal(rep.status, 401);
		http_reply_release(&rep);
		sv_post(d->s, huge, big + 1, &unsigned_opts, &rep);
		/* 413, or the connection closed while we were still sending. */
		assert_true(!rep.ok || rep.status == 413);
		http_reply_release(&rep);
	}
	assert_int_equal(post_signed(d, good, strlen(good)), 200);
	hwm = run_proc_kib(run_bg_pid(d->s->bg), "VmHWM:");
	print_message("hostile: RSS %ld KiB before, peak %ld KiB after %u rounds, now %ld KiB\n",
		      base, hwm, rounds, run_proc_kib(run_bg_pid(d->s->bg), "VmRSS:"));
	/* Bounded: a few MAX_BODY (4 MiB) buffers in flight at most, no growth per round. */
	assert_true(hwm < 96 * 1024);
	sv_stop(d->s, SIGTERM, SV_STOP_TIMEOUT_MS);
	free(good);
	free(nested);
	free(wide);
	free(huge);
	free(garbage);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, dfx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_hostile_bodies),
		T(test_slow_and_idle_connections),
		T(test_sigkill_during_burst),
		T(test_channel_down_then_back),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("ROBUST_ONLY"))
		cmocka_set_test_filter(getenv("ROBUST_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
