/*
 * The retry policy for deliveries and enrichment (reference/notification-
 * targets.md §5): exponential backoff with deterministic jitter, a cap, the
 * channel's Retry-After as a floor, and a maximum age after which an event is
 * given up. Pure functions over integers: no clock, no state, thread-safe.
 */
#ifndef CMH_RETRY_H
#define CMH_RETRY_H

#include <stdbool.h>
#include <stdint.h>

/* Jitter: the delay is scaled by a factor in [1 - x, 1 + x], x = 20 %. */
#define CMH_RETRY_JITTER_PERMILLE 200
/* A Retry-After beyond this is treated as this (a day: RETRY_MAX_AGE's default). */
#define CMH_RETRY_AFTER_CEILING_MS (24LL * 3600 * 1000)

/*
 * When to try again after attempts_done failed attempts (0 counts as 1):
 * now_ms + d, where d = initial_ms * 2^(attempts_done - 1), capped at
 * max_delay_ms, scaled by a jitter factor derived from (jitter_seed,
 * attempts_done) and then capped at max_delay_ms again; never less than
 * retry_after_ms (-1: none; honoured up to CMH_RETRY_AFTER_CEILING_MS even
 * above max_delay_ms). Negative inputs count as 0. Saturates instead of
 * overflowing, whatever attempts_done is.
 */
int64_t cmh_retry_next_at(int64_t now_ms, unsigned attempts_done, int64_t initial_ms,
	int64_t max_delay_ms, int64_t retry_after_ms, uint32_t jitter_seed);

/*
 * True when an event received at received_at_ms is too old to try again at
 * now_ms: now - received >= max_age_ms. max_age_ms <= 0 means no retries at
 * all (give up at once). A clock that went backwards is not "too old".
 */
bool cmh_retry_give_up(int64_t received_at_ms, int64_t now_ms, int64_t max_age_ms);

#endif
