/*
 * Metrics registry. The label sets are closed (known status codes, the six
 * event kinds, the reject reasons) so memory is fixed and nothing a client
 * sends can create a new series.
 */
#include "metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const unsigned tracked_status[] = { 200, 400, 401, 404, 405, 413, 500, 503 };
#define N_STATUS (sizeof(tracked_status) / sizeof(tracked_status[0]))

static const char *const kind_names[] = { "started", "ended", "step-started", "waiting",
					  "step-ended", "other" };
#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

static const char *const reject_names[CMH_REJECT_REASON_COUNT] = {
	"signature", "recipient", "key_unavailable", "malformed", "unsupported", "too_large",
	"journal",
};

static const char *const channel_names[] = { "slack", "teams", "webhook", "other" };
#define N_CHANNELS (sizeof(channel_names) / sizeof(channel_names[0]))
static const char *const result_names[] = { "done", "retry", "failed" };
#define N_RESULTS (sizeof(result_names) / sizeof(result_names[0]))

/* Acknowledgement latency buckets, in microseconds (upper bounds). */
static const uint64_t ack_bounds_us[] = { 250, 500, 1000, 2000, 5000, 10000, 25000, 50000,
					  100000, 250000, 1000000, 5000000 };
#define N_BUCKETS (sizeof(ack_bounds_us) / sizeof(ack_bounds_us[0]))

struct cmh_metrics {
	atomic_uint_fast64_t requests[N_STATUS + 1];   /* last slot: any other status */
	atomic_uint_fast64_t events[N_KINDS];
	atomic_uint_fast64_t duplicates;
	atomic_uint_fast64_t rejects[CMH_REJECT_REASON_COUNT];
	atomic_uint_fast64_t ack_buckets[N_BUCKETS + 1];
	atomic_uint_fast64_t deliveries[N_CHANNELS][N_RESULTS];
	atomic_uint_fast64_t ack_count;
	atomic_uint_fast64_t ack_sum_us;
};

enum cmh_err cmh_metrics_new(struct cmh_metrics **ret)
{
	struct cmh_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return CMH_ERR_NOMEM;
	*ret = m;
	return CMH_OK;
}

void cmh_metrics_free(struct cmh_metrics *m)
{
	free(m);
}

void cmh_metrics_count_request(struct cmh_metrics *m, unsigned status)
{
	size_t i;

	for (i = 0; i < N_STATUS && tracked_status[i] != status; i++)
		;
	atomic_fetch_add(&m->requests[i], 1);
}

void cmh_metrics_count_event(struct cmh_metrics *m, const char *kind_name)
{
	for (size_t i = 0; i < N_KINDS; i++) {
		if (strcmp(kind_names[i], kind_name) == 0) {
			atomic_fetch_add(&m->events[i], 1);
			return;
		}
	}
	atomic_fetch_add(&m->events[N_KINDS - 1], 1);
}

void cmh_metrics_count_duplicate(struct cmh_metrics *m)
{
	atomic_fetch_add(&m->duplicates, 1);
}

void cmh_metrics_count_reject(struct cmh_metrics *m, enum cmh_reject_reason reason)
{
	if ((unsigned)reason < CMH_REJECT_REASON_COUNT)
		atomic_fetch_add(&m->rejects[reason], 1);
}

static size_t index_of(const char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n - 1 && strcmp(names[i], name) != 0; i++)
		;
	return i;
}

void cmh_metrics_count_delivery(struct cmh_metrics *m, const char *channel, const char *result)
{
	size_t c = index_of(channel_names, N_CHANNELS, channel);
	size_t r = index_of(result_names, N_RESULTS, result);

	if (strcmp(result_names[r], result) == 0)
		atomic_fetch_add(&m->deliveries[c][r], 1);
}

void cmh_metrics_observe_ack(struct cmh_metrics *m, uint64_t micros)
{
	size_t i;

	for (i = 0; i < N_BUCKETS && micros > ack_bounds_us[i]; i++)
		;
	atomic_fetch_add(&m->ack_buckets[i], 1);
	atomic_fetch_add(&m->ack_count, 1);
	atomic_fetch_add(&m->ack_sum_us, micros);
}

#define ADDF(...) do { err = cmh_buf_addf(out, __VA_ARGS__); if (err) return err; } while (0)

static enum cmh_err render_counters(struct cmh_metrics *m, struct cmh_buf *out)
{
	enum cmh_err err;

	ADDF("# HELP cmhook_http_requests_total Webhook endpoint answers by HTTP status.\n"
	     "# TYPE cmhook_http_requests_total counter\n");
	for (size_t i = 0; i < N_STATUS; i++)
		ADDF("cmhook_http_requests_total{status=\"%u\"} %llu\n", tracked_status[i],
		     (unsigned long long)atomic_load(&m->requests[i]));
	ADDF("cmhook_http_requests_total{status=\"other\"} %llu\n",
	     (unsigned long long)atomic_load(&m->requests[N_STATUS]));
	ADDF("# HELP cmhook_events_total Authentic events journaled, by kind.\n"
	     "# TYPE cmhook_events_total counter\n");
	for (size_t i = 0; i < N_KINDS; i++)
		ADDF("cmhook_events_total{kind=\"%s\"} %llu\n", kind_names[i],
		     (unsigned long long)atomic_load(&m->events[i]));
	ADDF("# HELP cmhook_events_duplicate_total Redelivered events acknowledged without a new entry.\n"
	     "# TYPE cmhook_events_duplicate_total counter\n"
	     "cmhook_events_duplicate_total %llu\n",
	     (unsigned long long)atomic_load(&m->duplicates));
	ADDF("# HELP cmhook_rejected_total Webhook deliveries refused, by reason.\n"
	     "# TYPE cmhook_rejected_total counter\n");
	for (size_t i = 0; i < CMH_REJECT_REASON_COUNT; i++)
		ADDF("cmhook_rejected_total{reason=\"%s\"} %llu\n", reject_names[i],
		     (unsigned long long)atomic_load(&m->rejects[i]));
	ADDF("# HELP cmhook_deliveries_total Delivery attempts to channels, by result.\n"
	     "# TYPE cmhook_deliveries_total counter\n");
	for (size_t c = 0; c < N_CHANNELS; c++)
		for (size_t r = 0; r < N_RESULTS; r++)
			ADDF("cmhook_deliveries_total{channel=\"%s\",result=\"%s\"} %llu\n",
			     channel_names[c], result_names[r],
			     (unsigned long long)atomic_load(&m->deliveries[c][r]));
	return CMH_OK;
}

static enum cmh_err render_histogram(struct cmh_metrics *m, struct cmh_buf *out)
{
	uint64_t cumulative = 0;
	enum cmh_err err;

	ADDF("# HELP cmhook_ack_latency_seconds Time from a complete request body to its answer.\n"
	     "# TYPE cmhook_ack_latency_seconds histogram\n");
	for (size_t i = 0; i <= N_BUCKETS; i++) {
		cumulative += atomic_load(&m->ack_buckets[i]);
		if (i < N_BUCKETS)
			ADDF("cmhook_ack_latency_seconds_bucket{le=\"%g\"} %llu\n",
			     (double)ack_bounds_us[i] / 1e6, (unsigned long long)cumulative);
		else
			ADDF("cmhook_ack_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
			     (unsigned long long)cumulative);
	}
	ADDF("cmhook_ack_latency_seconds_sum %.6f\ncmhook_ack_latency_seconds_count %llu\n",
	     (double)atomic_load(&m->ack_sum_us) / 1e6,
	     (unsigned long long)atomic_load(&m->ack_count));
	return CMH_OK;
}

static enum cmh_err render_sample(const struct cmh_metrics_sample *s, struct cmh_buf *out)
{
	enum cmh_err err;

	ADDF("# HELP cmhook_journal_events Journaled events by status.\n"
	     "# TYPE cmhook_journal_events gauge\n");
	for (unsigned i = 0; i < s->n_status && i < 8; i++)
		ADDF("cmhook_journal_events{status=\"%s\"} %llu\n", s->status_names[i],
		     (unsigned long long)s->backlog[i]);
	ADDF("# HELP cmhook_journal_commits_total Journal transactions committed (group commits).\n"
	     "# TYPE cmhook_journal_commits_total counter\ncmhook_journal_commits_total %llu\n",
	     (unsigned long long)s->journal_commits);
	ADDF("# HELP cmhook_key_cache_hits_total Signature key lookups answered from the cache.\n"
	     "# TYPE cmhook_key_cache_hits_total counter\ncmhook_key_cache_hits_total %llu\n",
	     (unsigned long long)s->key_cache_hits);
	ADDF("# HELP cmhook_key_fetches_total Public key fetches from EVENTS_KEY_URL.\n"
	     "# TYPE cmhook_key_fetches_total counter\ncmhook_key_fetches_total %llu\n",
	     (unsigned long long)s->key_fetches);
	ADDF("# HELP cmhook_key_fetch_failures_total Public key fetches that failed.\n"
	     "# TYPE cmhook_key_fetch_failures_total counter\ncmhook_key_fetch_failures_total %llu\n",
	     (unsigned long long)s->key_fetch_failures);
	ADDF("# HELP cmhook_ims_token_requests_total Token requests sent to IMS.\n"
	     "# TYPE cmhook_ims_token_requests_total counter\ncmhook_ims_token_requests_total %llu\n",
	     (unsigned long long)s->token_requests);
	ADDF("# HELP cmhook_uptime_seconds Seconds since start.\n"
	     "# TYPE cmhook_uptime_seconds gauge\ncmhook_uptime_seconds %llu\n",
	     (unsigned long long)s->uptime_s);
	return CMH_OK;
}

enum cmh_err cmh_metrics_render(struct cmh_metrics *m, const struct cmh_metrics_sample *sample,
				struct cmh_buf *out)
{
	enum cmh_err err = render_counters(m, out);

	if (!err)
		err = render_histogram(m, out);
	if (!err && sample)
		err = render_sample(sample, out);
	return err;
}
