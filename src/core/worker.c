/*
 * Worker threads: claim -> enrich -> deliver per channel -> finish. The
 * journal holds all state (event status, per-channel delivery rows), so a
 * crash at any point only repeats work that was in flight, and a restart
 * resumes where the journal says. Retry timing comes from retry.c, message
 * content from enrich.c, channel specifics from notify*.c.
 */
#include "worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "enrich.h"
#include "ims.h"
#include "journal.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "parse.h"
#include "ratelimit.h"
#include "retry.h"

/* The services' published rates (notification-targets.md): Slack about one
 * message per second with short bursts; Teams 4 per second, and legacy
 * connectors also 100 per hour. A message needs a token from both buckets. */
struct cmh_worker_pacing {
	pthread_mutex_t lock;
	struct cmh_ratelimit limits[CMH_NOTIFY_MAX_CHANNELS];
	struct cmh_ratelimit hourly[CMH_NOTIFY_MAX_CHANNELS];
};

struct cmh_workers {
	struct cmh_worker_deps deps;
	struct cmh_worker_pacing pacing;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	uint64_t generation;      /* bumped by every kick */
	bool stopping;
	pthread_t *threads;
	unsigned n_threads;
};

/* What the channels' outcomes add up to for the event. */
struct outcome {
	size_t pending, failed, done;
	int64_t next_at;          /* earliest retry of a pending channel */
	char reason[400];         /* the most relevant error for `events` */
};

static uint32_t seed_of(const char *a, const char *b)
{
	uint32_t h = 2166136261u; /* FNV-1a: spreads retries of different events apart */

	for (const char *p = a; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (const char *p = b; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

/* Attempts at recording an outcome; the waits add up to about 3 s (the
 * journal's own busy timeout comes on top of each). */
#define RECORD_ATTEMPTS 6

static void record_pause(int attempt)
{
	long ms = 100L << attempt; /* 0.1, 0.2, 0.4, 0.8, 1.6 s */
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Record the event's outcome. A write that fails (the lock held by a CLI
 * `replay`, a full disk for a moment) is tried again: an event left in
 * processing would hold back its execution's later events until a restart.
 */
static void finish(const struct cmh_worker_deps *d, const char *event_id,
		   enum cmh_journal_status to, int64_t next_at, const char *reason)
{
	enum cmh_err e = CMH_OK;

	for (int attempt = 0; attempt < RECORD_ATTEMPTS; attempt++) {
		e = cmh_journal_finish(d->journal, event_id, to, next_at, reason);
		if ((e != CMH_ERR_UNAVAILABLE && e != CMH_ERR_IO) || attempt == RECORD_ATTEMPTS - 1)
			break;
		record_pause(attempt);
	}
	if (e)
		cmh_log(CMH_LOG_ERROR, "worker", "cannot record the event's state; it is retried "
			"after a restart", "event_id=%s err=%s", cmh_q(event_id),
			cmh_q(cmh_strerror(e)));
}

/* The same for one channel's outcome: left pending, it would be sent again. */
static void record_delivery(const struct cmh_worker_deps *d, const char *event_id,
			    const char *channel, enum cmh_journal_status to, int64_t next_at,
			    const char *reason)
{
	enum cmh_err e = CMH_OK;

	for (int attempt = 0; attempt < RECORD_ATTEMPTS; attempt++) {
		e = cmh_journal_delivery_finish(d->journal, event_id, channel, to, next_at, reason);
		if ((e != CMH_ERR_UNAVAILABLE && e != CMH_ERR_IO) || attempt == RECORD_ATTEMPTS - 1)
			break;
		record_pause(attempt);
	}
	if (e)
		cmh_log(CMH_LOG_ERROR, "worker", "cannot record the delivery", "event_id=%s "
			"channel=%s err=%s", cmh_q(event_id), channel, cmh_q(cmh_strerror(e)));
}

static void retry_at(struct outcome *o, int64_t at)
{
	o->pending++;
	if (!o->next_at || at < o->next_at)
		o->next_at = at;
}

static void note_reason(struct outcome *o, const char *channel, const char *reason)
{
	snprintf(o->reason, sizeof(o->reason), "%s: %s", channel, reason);
}

static void pacing_init(struct cmh_worker_pacing *p, const struct cmh_worker_deps *d)
{
	int64_t now = cmh_clock_realtime_ms(NULL);

	pthread_mutex_init(&p->lock, NULL);
	for (size_t i = 0; i < d->n_channels; i++) {
		cmh_ratelimit_init(&p->hourly[i], 0, 1, now);
		if (!d->cfg->pace_channels) {
			cmh_ratelimit_init(&p->limits[i], 0, 1, now);
			continue;
		}
		if (d->channels[i].kind == CMH_CHANNEL_TEAMS_MESSAGECARD)
			cmh_ratelimit_init(&p->hourly[i], 36000, 100, now);
		switch (d->channels[i].kind) {
		case CMH_CHANNEL_SLACK:
			cmh_ratelimit_init(&p->limits[i], 1000, 5, now);
			break;
		case CMH_CHANNEL_TEAMS_MESSAGECARD:
		case CMH_CHANNEL_TEAMS_ADAPTIVECARD:
			cmh_ratelimit_init(&p->limits[i], 250, 4, now);
			break;
		default:
			cmh_ratelimit_init(&p->limits[i], 0, 1, now);
			break;
		}
	}
}

/* Wait (in this worker thread) until channel i may be sent to. */
static void pace(struct cmh_worker_pacing *p, size_t i)
{
	int64_t wait_ms;

	if (!p)
		return;
	for (;;) {
		int64_t now = cmh_clock_realtime_ms(NULL), hourly_ms;

		pthread_mutex_lock(&p->lock);
		wait_ms = cmh_ratelimit_wait(&p->limits[i], now);
		hourly_ms = cmh_ratelimit_wait(&p->hourly[i], now);
		if (hourly_ms > wait_ms)
			wait_ms = hourly_ms;
		if (!wait_ms) {
			(void)cmh_ratelimit_take(&p->limits[i], now);
			(void)cmh_ratelimit_take(&p->hourly[i], now);
		}
		pthread_mutex_unlock(&p->lock);
		if (!wait_ms)
			return;
		struct timespec ts = { wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static void deliver_one(const struct cmh_worker_deps *d, size_t ch_index,
			const struct cmh_journal_event *ev, const struct cmh_message *m,
			int64_t now, struct outcome *o)
{
	const struct cmh_channel *ch = &d->channels[ch_index];
	const char *name = cmh_notify_channel_name(ch->kind);
	struct cmh_journal_delivery del;
	struct cmh_notify_verdict v;
	enum cmh_journal_status to;
	int64_t next_at = 0;

	if (cmh_journal_delivery_get(d->journal, ev->event_id, name, now, &del)) {
		retry_at(o, now + CMH_WORKER_IDLE_MS * 60);
		note_reason(o, name, "journal unavailable");
		return;
	}
	if (del.status == CMH_JOURNAL_DONE) {
		o->done++;
		return;
	}
	if (del.status == CMH_JOURNAL_FAILED) {
		o->failed++;
		return;
	}
	if (del.next_attempt_at_ms > now) {
		retry_at(o, del.next_attempt_at_ms);
		return;
	}
	pace(d->pacing, ch_index);
	cmh_notify_send(ch->kind, ch->url, m, (long)d->cfg->http_timeout_ms, &v);
	if (d->metrics)
		cmh_metrics_count_delivery(d->metrics, name, cmh_notify_result_name(v.result));
	switch (v.result) {
	case CMH_NOTIFY_DONE:
		to = CMH_JOURNAL_DONE;
		o->done++;
		cmh_log(CMH_LOG_INFO, "worker", "delivered", "event_id=%s channel=%s status=%ld",
			cmh_q(ev->event_id), name, v.status);
		break;
	case CMH_NOTIFY_RETRY:
		to = CMH_JOURNAL_PENDING;
		/* Count from the answer, not from before the (paced, maybe slow)
		 * request: Retry-After is relative to the response. */
		now = cmh_clock_realtime_ms(NULL);
		next_at = cmh_retry_next_at(now, del.attempts + 1, (int64_t)d->cfg->retry_initial_ms,
					    (int64_t)d->cfg->retry_max_delay_ms, v.retry_after_ms,
					    seed_of(ev->event_id, name));
		retry_at(o, next_at);
		note_reason(o, name, v.reason);
		cmh_log(CMH_LOG_WARN, "worker", "delivery failed, will retry", "event_id=%s "
			"channel=%s attempt=%u reason=%s retry_in_s=%lld", cmh_q(ev->event_id), name,
			del.attempts + 1, cmh_q(v.reason), (long long)((next_at - now) / 1000));
		break;
	default:
		to = CMH_JOURNAL_FAILED;
		o->failed++;
		note_reason(o, name, v.reason);
		cmh_log(CMH_LOG_ERROR, "worker", "delivery failed permanently", "event_id=%s "
			"channel=%s reason=%s", cmh_q(ev->event_id), name, cmh_q(v.reason));
		break;
	}
	record_delivery(d, ev->event_id, name, to, next_at,
			to == CMH_JOURNAL_DONE ? NULL : v.reason);
}

static void deliver_all(const struct cmh_worker_deps *d, const struct cmh_journal_event *ev,
			const struct cmh_message *m, int64_t now)
{
	struct outcome o = { 0 };

	for (size_t i = 0; i < d->n_channels; i++)
		deliver_one(d, i, ev, m, now, &o);
	if (o.pending)
		finish(d, ev->event_id, CMH_JOURNAL_PENDING, o.next_at, o.reason);
	else if (o.failed)
		finish(d, ev->event_id, CMH_JOURNAL_FAILED, 0, o.reason);
	else
		finish(d, ev->event_id, CMH_JOURNAL_DONE, 0, NULL);
}

/* Enrichment failed: retry later, or give up for good. */
static void enrichment_failed(const struct cmh_worker_deps *d, const struct cmh_journal_event *ev,
			      enum cmh_err e, const char *why, int64_t now)
{
	int64_t next_at;

	if (e == CMH_ERR_UNAVAILABLE) {
		/* The API does not show the end yet: look again shortly. */
		finish(d, ev->event_id, CMH_JOURNAL_PENDING, now + (int64_t)d->cfg->settle_delay_ms, why);
		return;
	}
	if (cmh_err_is_transient(e)) {
		next_at = cmh_retry_next_at(now, ev->attempts + 1, (int64_t)d->cfg->retry_initial_ms,
					    (int64_t)d->cfg->retry_max_delay_ms, -1,
					    seed_of(ev->event_id, "enrich"));
		cmh_log(CMH_LOG_WARN, "worker", "enrichment failed, will retry", "event_id=%s "
			"reason=%s retry_in_s=%lld", cmh_q(ev->event_id), cmh_q(why),
			(long long)((next_at - now) / 1000));
		finish(d, ev->event_id, CMH_JOURNAL_PENDING, next_at, why);
		return;
	}
	cmh_log(CMH_LOG_ERROR, "worker", "enrichment failed permanently", "event_id=%s reason=%s",
		cmh_q(ev->event_id), cmh_q(why));
	finish(d, ev->event_id, CMH_JOURNAL_FAILED, 0, why);
}

void cmh_worker_process(const struct cmh_worker_deps *d, const struct cmh_journal_event *ev,
			int64_t now)
{
	struct cmh_message m = { 0 };
	enum cmh_event_kind kind;
	struct cmh_buf why;
	int64_t published = -1;
	char reason[600];
	enum cmh_err e;

	if (cmh_event_kind_parse(ev->kind, &kind) || kind == CMH_KIND_OTHER) {
		finish(d, ev->event_id, CMH_JOURNAL_IGNORED, 0, NULL);
		return;
	}
	if (cmh_retry_give_up(ev->received_at_ms, now, (int64_t)d->cfg->retry_max_age_ms)) {
		snprintf(reason, sizeof(reason), "gave up after RETRY_MAX_AGE; last error: %s",
			 ev->last_error ? ev->last_error : "none");
		cmh_log(CMH_LOG_ERROR, "worker", "event given up", "event_id=%s reason=%s",
			cmh_q(ev->event_id), cmh_q(reason));
		finish(d, ev->event_id, CMH_JOURNAL_FAILED, 0, reason);
		return;
	}
	if (ev->published && cmh_parse_time_ms(ev->published, &published))
		published = -1;
	cmh_buf_init(&why, CMH_BUF_MAX_ERRMSG);
	e = cmh_enrich(d->enricher, kind, ev->event_id, ev->object_url, published,
		       ev->attempts + 1 >= CMH_WORKER_SETTLE_ATTEMPTS, &m, &why);
	if (e)
		enrichment_failed(d, ev, e, why.len ? why.data : cmh_strerror(e), now);
	else
		deliver_all(d, ev, &m, now);
	cmh_message_release(&m);
	cmh_buf_release(&why);
}

static bool wait_for_work(struct cmh_workers *w, uint64_t seen_generation)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CMH_WORKER_IDLE_MS / 1000;
	pthread_mutex_lock(&w->lock);
	while (!w->stopping && w->generation == seen_generation) {
		if (pthread_cond_timedwait(&w->cv, &w->lock, &until))
			break; /* timed out: look at the journal for retries that became due */
	}
	stop = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return !stop;
}

static void *worker_main(void *arg)
{
	struct cmh_workers *w = arg;

	for (;;) {
		struct cmh_journal_event *ev = NULL;
		size_t n = 0;
		uint64_t gen;
		enum cmh_err e;

		pthread_mutex_lock(&w->lock);
		gen = w->generation;
		if (w->stopping) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		pthread_mutex_unlock(&w->lock);
		e = cmh_journal_claim(w->deps.journal, cmh_clock_realtime_ms(NULL), 1, &ev, &n);
		if (e)
			cmh_log(CMH_LOG_WARN, "worker", "cannot claim work", "err=%s",
				cmh_q(cmh_strerror(e)));
		if (!e && n) {
			cmh_worker_process(&w->deps, &ev[0], cmh_clock_realtime_ms(NULL));
			cmh_journal_events_free(ev, n);
			continue;
		}
		if (!wait_for_work(w, gen))
			break;
	}
	return NULL;
}

void cmh_workers_kick(struct cmh_workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->generation++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
}

enum cmh_err cmh_workers_start(const struct cmh_worker_deps *deps, struct cmh_workers **ret)
{
	struct cmh_workers *w = calloc(1, sizeof(*w));
	unsigned n = deps->threads ? deps->threads : CMH_WORKER_THREADS;

	if (!w)
		return CMH_ERR_NOMEM;
	w->deps = *deps;
	pacing_init(&w->pacing, deps);
	w->deps.pacing = &w->pacing;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->threads = calloc(n, sizeof(*w->threads));
	if (!w->threads) {
		cmh_workers_stop(w);
		return CMH_ERR_NOMEM;
	}
	for (; w->n_threads < n; w->n_threads++) {
		if (pthread_create(&w->threads[w->n_threads], NULL, worker_main, w)) {
			cmh_workers_stop(w);
			return CMH_ERR_INTERNAL;
		}
	}
	*ret = w;
	return CMH_OK;
}

void cmh_workers_stop(struct cmh_workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	free(w->threads);
	pthread_mutex_destroy(&w->pacing.lock);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
