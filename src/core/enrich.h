/*
 * Enrichment: from a journaled event (kind + object URL) to a filled struct
 * cmh_message, by reading the Cloud Manager API (cloudmanager-api.md §12).
 *
 * Requests go only to CLOUDMANAGER_API_URL's origin (DESIGN invariant 3):
 * the object URL must pass cmh_webhook_object_url_ok() before anything is
 * sent, HAL hrefs are resolved against the configured base and a link to
 * another origin is refused, and missing links are derived from the ids of
 * the validated object URL.
 *
 * Program and pipeline resources change rarely and are cached by URL
 * (CMH_ENRICH_CACHE_TTL_MS, at most CMH_ENRICH_CACHE_MAX_ENTRIES), so once
 * warm an execution event costs one API request and a step event two (the
 * step state and its execution).
 *
 * Thread-safety: one enricher may be shared by all worker threads; the cache
 * and the counters are protected by a mutex, and no lock is held during a
 * request.
 */
#ifndef CMH_ENRICH_H
#define CMH_ENRICH_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "event.h"
#include "ims.h"

struct cmh_config;
struct cmh_message;
struct cmh_enricher;

#define CMH_ENRICH_CACHE_TTL_MS      (10 * 60 * 1000LL)
#define CMH_ENRICH_CACHE_MAX_ENTRIES 256
/* Larger program/pipeline bodies are used but not cached. */
#define CMH_ENRICH_CACHE_MAX_BODY    (64 * 1024)

/*
 * cfg and ims must outlive the enricher. clock (NULL: real time) drives only
 * the cache TTL. Returns CMH_ERR_NOMEM or CMH_ERR_INTERNAL (mutex) on failure.
 */
CMH_MUST_CHECK enum cmh_err cmh_enricher_new(const struct cmh_config *cfg, struct cmh_ims *ims,
	cmh_clock_fn clock, void *clock_ud, struct cmh_enricher **ret);
/* NULL is fine. No call may be running. */
void cmh_enricher_free(struct cmh_enricher *e);

/*
 * Fill *ret for one event. kind must be one of the five Cloud Manager kinds;
 * event_id (not NULL) and published_ms (-1: unknown) are copied into the
 * message. settle says that waiting longer is no longer an option (the last
 * attempt): an "ended" event whose execution or step is not yet terminal
 * then gives outcome CMH_OUTCOME_UNKNOWN instead of CMH_ERR_UNAVAILABLE.
 *
 * On success the caller owns *ret (cmh_message_release()). On error *ret is
 * untouched and errmsg (may be NULL) says why:
 *   CMH_ERR_FORBIDDEN    object_url fails cmh_webhook_object_url_ok() ("untrusted
 *                        origin"; nothing was requested, not even a token), or
 *                        a HAL link points to another origin
 *   CMH_ERR_NOT_FOUND    404, e.g. "execution not found (404)"
 *   CMH_ERR_AUTH         401 after cmapi's token refresh, or 403 (with a hint)
 *   CMH_ERR_PARSE        a 2xx body that is not a JSON object (permanent)
 *   CMH_ERR_UNAVAILABLE  "ended" but still running, settle == false (transient)
 *   CMH_ERR_UPSTREAM, CMH_ERR_NETWORK, CMH_ERR_TIMEOUT, ...: as cmh_cmapi_call()
 *                        and cmh_http_status_err() classify them (429/5xx: transient)
 *   CMH_ERR_USAGE        kind is CMH_KIND_OTHER or out of range, event_id NULL
 */
CMH_MUST_CHECK enum cmh_err cmh_enrich(struct cmh_enricher *e, enum cmh_event_kind kind,
	const char *event_id, const char *object_url, int64_t published_ms, bool settle,
	struct cmh_message *ret, struct cmh_buf *errmsg);

struct cmh_enrich_stats {
	uint64_t api_requests;   /* cmh_cmapi_call()s made (a 401 retry inside counts once) */
	uint64_t cache_hits;     /* program/pipeline resources served from the cache */
	uint64_t cache_misses;   /* ... that had to be fetched */
};

/* A consistent snapshot of the counters. Thread-safe. */
void cmh_enricher_stats(struct cmh_enricher *e, struct cmh_enrich_stats *ret);

/* Drop every cached resource (SIGHUP, tests). Thread-safe. */
void cmh_enricher_clear_cache(struct cmh_enricher *e);

#endif
