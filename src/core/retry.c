/*
 * Backoff arithmetic for retries: exponential growth, a cap, ±20 % jitter
 * drawn deterministically from a seed (so tests and replays see the same
 * schedule, while different events still spread out), Retry-After as a
 * floor, and the give-up age. The worker owns clocks and persistence.
 */
#include "retry.h"

/* splitmix64's finaliser: a good spread from a seed and the attempt number. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int64_t non_negative(int64_t v)
{
	return v < 0 ? 0 : v;
}

/* initial * 2^(attempt - 1), capped at max, without overflow. */
static int64_t base_delay(unsigned attempt, int64_t initial, int64_t max)
{
	unsigned shift = attempt > 0 ? attempt - 1 : 0;

	if (initial >= max)
		return max;
	/* initial < max <= INT64_MAX, so initial < 2^63 and the test is exact. */
	if (shift >= 63 || initial > (max >> shift))
		return max;
	return initial << shift;
}

/* d scaled by a factor in [1 - J, 1 + J] (J in permille). d * permille
 * could overflow, so the product is split into thousands and the rest. */
static int64_t jitter(int64_t d, unsigned attempt, uint32_t seed)
{
	uint64_t r = mix(((uint64_t)seed << 32) | attempt);
	int64_t permille = (int64_t)(r % (2 * CMH_RETRY_JITTER_PERMILLE + 1)) -
			   CMH_RETRY_JITTER_PERMILLE;
	int64_t delta = (d / 1000) * permille + (d % 1000) * permille / 1000;

	/* |delta| <= d / 5: only a d near INT64_MAX can overflow; saturate. */
	if (delta > 0 && d > INT64_MAX - delta)
		return INT64_MAX;
	return d + delta;
}

int64_t cmh_retry_next_at(int64_t now_ms, unsigned attempts_done, int64_t initial_ms,
	int64_t max_delay_ms, int64_t retry_after_ms, uint32_t jitter_seed)
{
	int64_t max = non_negative(max_delay_ms);
	int64_t d = jitter(base_delay(attempts_done, non_negative(initial_ms), max),
			   attempts_done, jitter_seed);

	if (d > max)
		d = max;
	if (retry_after_ms > CMH_RETRY_AFTER_CEILING_MS)
		retry_after_ms = CMH_RETRY_AFTER_CEILING_MS;
	if (retry_after_ms > d)
		d = retry_after_ms;
	if (now_ms > 0 && d > INT64_MAX - now_ms)
		return INT64_MAX;
	return now_ms + d;
}

bool cmh_retry_give_up(int64_t received_at_ms, int64_t now_ms, int64_t max_age_ms)
{
	if (max_age_ms <= 0)
		return true;
	if (now_ms < received_at_ms)
		return false;
	/* Both may be anything: compare without forming an overflowing sum. */
	if (received_at_ms < 0 && now_ms > INT64_MAX + received_at_ms)
		return true;
	return now_ms - received_at_ms >= max_age_ms;
}
