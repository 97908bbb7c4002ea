/*
 * A token bucket per channel URL, so cmhook stays within the chat services'
 * published rates (Slack about 1 message/s with short bursts, Teams
 * connectors 4/s) instead of earning 429s. Pure arithmetic on an injected
 * clock; the caller supplies locking and the waiting.
 */
#ifndef CMH_RATELIMIT_H
#define CMH_RATELIMIT_H

#include <stdint.h>

struct cmh_ratelimit {
	int64_t interval_ms;   /* one token per interval; 0 = unlimited */
	int64_t burst;         /* bucket size in tokens */
	int64_t tokens_ms;     /* current fill, in milliseconds of interval (avoids floats) */
	int64_t last_ms;       /* when tokens_ms was last brought up to date */
};

void cmh_ratelimit_init(struct cmh_ratelimit *rl, int64_t interval_ms, int64_t burst,
	int64_t now_ms);
/* Take a token if there is one (returns 0), else return how many ms until there is one. */
int64_t cmh_ratelimit_take(struct cmh_ratelimit *rl, int64_t now_ms);
/* How many ms until a token is there (0: now), taking nothing. */
int64_t cmh_ratelimit_wait(struct cmh_ratelimit *rl, int64_t now_ms);

#endif
