/* Token bucket arithmetic; see ratelimit.h. */
#include "ratelimit.h"

void cmh_ratelimit_init(struct cmh_ratelimit *rl, int64_t interval_ms, int64_t burst,
			int64_t now_ms)
{
	rl->interval_ms = interval_ms > 0 ? interval_ms : 0;
	rl->burst = burst > 0 ? burst : 1;
	rl->tokens_ms = rl->burst * rl->interval_ms;  /* start full */
	rl->last_ms = now_ms;
}

int64_t cmh_ratelimit_wait(struct cmh_ratelimit *rl, int64_t now_ms)
{
	int64_t cap = rl->burst * rl->interval_ms;

	if (!rl->interval_ms)
		return 0;
	if (now_ms > rl->last_ms) {
		/* Refill; a clock that went backwards refills nothing. */
		int64_t gained = now_ms - rl->last_ms;
		rl->tokens_ms = gained >= cap - rl->tokens_ms ? cap : rl->tokens_ms + gained;
		rl->last_ms = now_ms;
	}
	return rl->tokens_ms >= rl->interval_ms ? 0 : rl->interval_ms - rl->tokens_ms;
}

int64_t cmh_ratelimit_take(struct cmh_ratelimit *rl, int64_t now_ms)
{
	int64_t wait = cmh_ratelimit_wait(rl, now_ms);

	if (!wait && rl->interval_ms)
		rl->tokens_ms -= rl->interval_ms;
	return wait;
}
