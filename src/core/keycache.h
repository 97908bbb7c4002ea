/*
 * Cache of Adobe I/O Events public signing keys, keyed by the key path from
 * x-adobe-public-key{1,2}-path (reference/io-events-webhook.md §6.2 step 3).
 * An entry lives at most the configured TTL (Adobe: no more than 24 h), only
 * successfully parsed RSA keys are cached, the number of entries is capped
 * (oldest evicted), and concurrent requests for one missing key cause ONE
 * fetch: the others wait for its result (single flight).
 *
 * The fetch and the clock are injected so that the cache is unit-testable;
 * cmh_keycache_fetch_http() is the production fetch. The URL handed to the
 * fetch is always the configured base (EVENTS_KEY_URL) + a path that passed
 * cmh_sig_key_path_valid(), never anything else.
 *
 * Thread-safety: after cmh_keycache_new() every function except
 * cmh_keycache_free() may be called from any thread concurrently. The fetch
 * callback runs without the cache lock held, on the requesting thread.
 */
#ifndef CMH_KEYCACHE_H
#define CMH_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct cmh_keycache;
struct cmh_sig_key;

/*
 * Fetch url into pem (initialised by the caller with a CMH_MAX_KEY_RESPONSE
 * cap). Return CMH_OK only for a 200 response. Transient failures (network,
 * timeout, 5xx, 429) must be returned as transient codes
 * (cmh_err_is_transient()), because the receiver then answers 503 and Adobe
 * retries instead of dropping the event.
 */
typedef enum cmh_err (*cmh_keycache_fetch_fn)(const char *url, struct cmh_buf *pem,
	struct cmh_buf *errmsg, void *ud);

/* Milliseconds on a monotonic clock. */
typedef int64_t (*cmh_keycache_clock_fn)(void *ud);

struct cmh_keycache_opts {
	const char *base_url;            /* EVENTS_KEY_URL, e.g. https://static.adobeioevents.com */
	cmh_keycache_fetch_fn fetch;     /* NULL: cmh_keycache_fetch_http */
	void *fetch_ud;
	cmh_keycache_clock_fn clock;     /* NULL: CLOCK_MONOTONIC */
	void *clock_ud;
	int64_t ttl_ms;                  /* 0: CMH_KEYCACHE_TTL_MS; capped at that */
	size_t max_entries;              /* 0: CMH_KEYCACHE_MAX_ENTRIES */
};

struct cmh_keycache_stats {
	uint64_t hits;            /* lookups answered from the cache */
	uint64_t fetches;         /* fetches started */
	uint64_t fetch_failures;  /* fetches that failed or returned an unusable key */
	uint64_t waits;           /* lookups that waited for another thread's fetch */
	uint64_t entries;         /* keys cached right now */
};

/* Create a cache; opts is copied (base_url too). CMH_ERR_CONFIG for a
 * missing/empty base_url, CMH_ERR_NOMEM. */
CMH_MUST_CHECK enum cmh_err cmh_keycache_new(const struct cmh_keycache_opts *opts,
	struct cmh_keycache **ret);

/* Free the cache. No other thread may use it any more. NULL is a no-op. */
void cmh_keycache_free(struct cmh_keycache *kc);

/*
 * The key for path: from the cache, or fetched (or waited for, when another
 * thread is fetching it) and parsed. On success *ret_key holds a reference
 * the caller releases with cmh_sig_key_free(). Errors (*ret_key untouched):
 *  - CMH_ERR_SIGNATURE: path fails cmh_sig_key_path_valid(), or the key
 *    server's answer was a definite no (404, other 4xx, not an RSA PEM key):
 *    the delivery cannot be authentic -> 401;
 *  - a transient code (NETWORK, TIMEOUT, UPSTREAM, NOMEM): the key could not
 *    be obtained now -> 503 so that Adobe retries.
 * Failures are not cached; the next request tries again.
 */
CMH_MUST_CHECK enum cmh_err cmh_keycache_get(struct cmh_keycache *kc, const char *path,
	struct cmh_sig_key **ret_key, struct cmh_buf *errmsg);

/*
 * The whole signature step for one delivery: Adobe's rule that the body is
 * authentic when signature 1 verifies with key 1 or signature 2 with key 2.
 * All four header values must be present and non-empty (else
 * CMH_ERR_SIGNATURE). A pair whose key path is invalid simply does not
 * verify; key 2 is only fetched when pair 1 did not verify. Returns CMH_OK
 * (authentic), CMH_ERR_SIGNATURE (401), or a transient code when neither pair
 * verified and a key could not be fetched (503).
 */
CMH_MUST_CHECK enum cmh_err cmh_keycache_authenticate(struct cmh_keycache *kc,
	const void *body, size_t len,
	const char *sig1, const char *key1_path,
	const char *sig2, const char *key2_path,
	struct cmh_buf *errmsg);

/*
 * The same decision as cmh_keycache_authenticate() from cached keys only, for
 * callers that must not block on the network (an HTTP server thread): never
 * fetches. Returns CMH_ERR_NOT_FOUND when no pair verified and a key that
 * could decide it is not cached (valid path, not in the cache or stale); the
 * caller then runs cmh_keycache_authenticate() where blocking is fine.
 * Otherwise CMH_OK or CMH_ERR_SIGNATURE as above (or NOMEM/INTERNAL).
 */
CMH_MUST_CHECK enum cmh_err cmh_keycache_authenticate_cached(struct cmh_keycache *kc,
	const void *body, size_t len,
	const char *sig1, const char *key1_path,
	const char *sig2, const char *key2_path,
	struct cmh_buf *errmsg);

/* A consistent snapshot of the counters. */
void cmh_keycache_get_stats(struct cmh_keycache *kc, struct cmh_keycache_stats *ret);

/*
 * The production fetch: GET url through cmh_http_perform() with
 * CMH_KEY_FETCH_TIMEOUT_MS, response cap CMH_MAX_KEY_RESPONSE. 200 -> CMH_OK;
 * 5xx/408/429 -> CMH_ERR_UPSTREAM; other statuses -> CMH_ERR_NOT_FOUND,
 * CMH_ERR_AUTH or CMH_ERR_REJECTED; transport failures as cmh_http_perform()
 * reports them (NETWORK, TIMEOUT). ud is unused.
 */
CMH_MUST_CHECK enum cmh_err cmh_keycache_fetch_http(const char *url, struct cmh_buf *pem,
	struct cmh_buf *errmsg, void *ud);

#endif
