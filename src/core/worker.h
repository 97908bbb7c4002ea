/*
 * The workers inside `serve`: they take due events from the journal, enrich
 * them through the Cloud Manager API and deliver the message to every
 * configured channel, recording per-channel state so that one failing
 * channel neither blocks nor repeats the others (DESIGN invariant 4).
 * Events of one execution are handled in arrival order (the journal's claim
 * guarantees it); different executions proceed in parallel on the worker
 * threads.
 *
 * Thread-safety: cmh_workers_kick() from any thread; start/stop by the owner.
 */
#ifndef CMH_WORKER_H
#define CMH_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "notify.h"

struct cmh_config;
struct cmh_enricher;
struct cmh_journal;
struct cmh_journal_event;
struct cmh_metrics;
struct cmh_workers;
struct cmh_worker_pacing;

#define CMH_WORKER_THREADS 4
/* An "ended" event whose execution still shows as running is re-read after
 * SETTLE_DELAY, until its CMH_WORKER_SETTLE_ATTEMPTS-th attempt reports it as is. */
#define CMH_WORKER_SETTLE_ATTEMPTS 4
/* Longest sleep between looks at the journal when nothing wakes us. */
#define CMH_WORKER_IDLE_MS 1000

struct cmh_worker_deps {
	const struct cmh_config *cfg;
	struct cmh_journal *journal;
	struct cmh_enricher *enricher;
	struct cmh_metrics *metrics;                /* may be NULL */
	struct cmh_channel channels[CMH_NOTIFY_MAX_CHANNELS];
	size_t n_channels;
	unsigned threads;                           /* 0: CMH_WORKER_THREADS */
	/* Per-channel rate limits, shared by the threads; set by
	 * cmh_workers_start(). NULL: no pacing. */
	struct cmh_worker_pacing *pacing;
};

CMH_MUST_CHECK enum cmh_err cmh_workers_start(const struct cmh_worker_deps *deps,
	struct cmh_workers **ret);
/* Wake a sleeping worker: new work was journaled. NULL allowed. */
void cmh_workers_kick(struct cmh_workers *w);
/* Finish the events being processed, then stop the threads and free. NULL allowed. */
void cmh_workers_stop(struct cmh_workers *w);

/*
 * Process one claimed event at now_ms: enrich, deliver to each channel that
 * still needs it, and finish it in the journal (done, failed, or pending
 * again at the earliest retry time). Exposed for tests.
 */
void cmh_worker_process(const struct cmh_worker_deps *deps, const struct cmh_journal_event *ev,
	int64_t now_ms);

#endif
