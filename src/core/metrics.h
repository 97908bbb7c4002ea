/*
 * Process-wide counters for /metrics, rendered in the Prometheus text format.
 * Counters are lock-free atomics so that request threads can count without
 * contention; gauges that live elsewhere (journal backlog, key cache) are
 * passed in at render time.
 */
#ifndef CMH_METRICS_H
#define CMH_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "err.h"

enum cmh_reject_reason {
	CMH_REJECT_SIGNATURE = 0,   /* missing or invalid signature */
	CMH_REJECT_RECIPIENT,       /* wrong or missing recipient client id */
	CMH_REJECT_KEY_UNAVAILABLE, /* public key could not be fetched (503) */
	CMH_REJECT_MALFORMED,       /* not JSON / not an event envelope (400) */
	CMH_REJECT_UNSUPPORTED,     /* CloudEvents, content-encoding, ... (400) */
	CMH_REJECT_TOO_LARGE,       /* over MAX_BODY (413) */
	CMH_REJECT_JOURNAL,         /* journal could not commit (503) */
	CMH_REJECT_REASON_COUNT
};

struct cmh_metrics;

CMH_MUST_CHECK enum cmh_err cmh_metrics_new(struct cmh_metrics **ret);
void cmh_metrics_free(struct cmh_metrics *m);

void cmh_metrics_count_request(struct cmh_metrics *m, unsigned status);
/* kind_name: "started", "ended", ..., "other". */
void cmh_metrics_count_event(struct cmh_metrics *m, const char *kind_name);
void cmh_metrics_count_duplicate(struct cmh_metrics *m);
void cmh_metrics_count_reject(struct cmh_metrics *m, enum cmh_reject_reason reason);
/* A delivery attempt: channel "slack", "teams", "webhook"; result "done",
 * "retry", "failed". Other names are counted under "other". */
void cmh_metrics_count_delivery(struct cmh_metrics *m, const char *channel, const char *result);
/* Time from the end of the request body to the acknowledgement, microseconds. */
void cmh_metrics_observe_ack(struct cmh_metrics *m, uint64_t micros);

/* Things owned by other modules, sampled when /metrics is scraped. */
struct cmh_metrics_sample {
	uint64_t backlog[8];          /* journal rows per status, index per status_names */
	const char *const *status_names;
	unsigned n_status;
	uint64_t key_cache_hits, key_fetches, key_fetch_failures;
	uint64_t token_requests;
	uint64_t journal_commits;
	uint64_t uptime_s;
};

CMH_MUST_CHECK enum cmh_err cmh_metrics_render(struct cmh_metrics *m,
	const struct cmh_metrics_sample *sample, struct cmh_buf *out);

#endif
