/*
 * The IMS OAuth Server-to-Server token client and its cache.
 *
 * One struct cmh_ims per process holds the current token. cmh_ims_get()
 * returns it while it is fresh; the first caller that finds it stale (or
 * missing) requests a new one and concurrent callers wait for that single
 * request (single flight: mutex + condition variable, the network call made
 * without the lock held). A token is stale once now >= expires_at - margin,
 * margin = max(600 s, 10 % of its lifetime) (ims-oauth.md §4), where
 * expires_at = request start + expires_in.
 *
 * The token is also cached in DATA_DIR/token.json (mode 0600, write to temp,
 * fsync, rename) keyed by a hash of (IMS_URL, CLIENT_ID, SCOPES, the secret), so
 * repeated CLI runs and restarts reuse it.
 *
 * Transient failures (network, timeout, 5xx, 429 with Retry-After) are
 * retried up to CMH_IMS_MAX_ATTEMPTS with bounded exponential backoff; 4xx
 * answers are reported at once with IMS's `error` and `error_description`
 * (never the secret) and are not retried.
 */
#ifndef CMH_IMS_H
#define CMH_IMS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct cmh_config;
struct cmh_ims;

/* A clock in milliseconds since the epoch; injectable for tests. */
typedef int64_t (*cmh_clock_fn)(void *ud);
int64_t cmh_clock_realtime_ms(void *ud);

/* A parsed token answer. */
struct cmh_token {
	char *access_token;    /* heap, wiped on release */
	char token_type[32];
	int64_t expires_in_s;
	int64_t obtained_at_ms;   /* request start */
	int64_t expires_at_ms;
};

void cmh_token_release(struct cmh_token *t);

/*
 * Parse IMS's JSON answer for HTTP status `status` (pure). On a 2xx status requires a
 * non-empty string access_token, token_type "bearer" (case-insensitive) and
 * expires_in > 0 (number, or a string of digits). On an error status returns
 * CMH_ERR_AUTH (400/401 invalid_client, 401, 403), CMH_ERR_REJECTED (other
 * 4xx), CMH_ERR_UPSTREAM (5xx, 429), with "IMS answered <status> <error>:
 * <error_description>" in errmsg (values escaped and truncated).
 */
CMH_MUST_CHECK enum cmh_err cmh_ims_parse_response(long status, const char *body, size_t len,
	int64_t request_start_ms, struct cmh_token *ret, struct cmh_buf *errmsg);

/* Is t usable at now_ms (pure)? False once within the refresh margin. */
bool cmh_token_is_fresh(const struct cmh_token *t, int64_t now_ms);

/* cfg must outlive the client. clock may be NULL (real time). */
CMH_MUST_CHECK enum cmh_err cmh_ims_new(const struct cmh_config *cfg, cmh_clock_fn clock,
	void *clock_ud, struct cmh_ims **ret);
void cmh_ims_free(struct cmh_ims *ims);

/* Backoff between retried token requests: initial_ms doubling up to max_ms
 * (defaults CMH_IMS_BACKOFF_INITIAL_MS / CMH_IMS_BACKOFF_MAX_MS). For tests;
 * call before the client is shared between threads. */
void cmh_ims_set_backoff(struct cmh_ims *ims, long initial_ms, long max_ms);

/*
 * Copy a fresh access token into *ret_token (a heap string the caller must
 * free with cmh_token_string_free()). force_refresh asks IMS for a new one
 * even if the cached token is fresh. Thread-safe.
 */
CMH_MUST_CHECK enum cmh_err cmh_ims_get(struct cmh_ims *ims, bool force_refresh,
	char **ret_token, struct cmh_buf *errmsg);
void cmh_token_string_free(char *token);

/*
 * Drop the cached token if it is still `token` (what a caller got a 401
 * with), so the next cmh_ims_get() fetches a new one; a token that another
 * thread already replaced is left alone.
 */
void cmh_ims_invalidate(struct cmh_ims *ims, const char *token);

/* Number of token requests sent to IMS so far (metrics, tests). */
uint64_t cmh_ims_requests(const struct cmh_ims *ims);

#endif
