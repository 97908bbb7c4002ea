/*
 * Strict parsers for the scalar syntaxes cmhook accepts: whole numbers,
 * durations (`500ms`, `30s`, `15m`, `24h`, `2d` or plain seconds), sizes
 * (`512k`, `4m`, `1g` or plain bytes) and timestamps as Adobe writes them.
 * No atoi: every function rejects empty input, signs, trailing garbage and
 * overflow, and leaves the out-parameter untouched on error.
 */
#ifndef CMH_PARSE_H
#define CMH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

CMH_MUST_CHECK enum cmh_err cmh_parse_u64(const char *s, uint64_t *ret);
CMH_MUST_CHECK enum cmh_err cmh_parse_duration_ms(const char *s, uint64_t *ret_ms);
CMH_MUST_CHECK enum cmh_err cmh_parse_size(const char *s, uint64_t *ret_bytes);
/* on/off, true/false, yes/no, 1/0 (case-insensitive). */
CMH_MUST_CHECK enum cmh_err cmh_parse_bool(const char *s, bool *ret);

/*
 * ISO 8601 / RFC 3339 date-time to milliseconds since the epoch (UTC):
 * `2019-05-23T13:49:47.688+0000`, `2021-08-23T08:37:41.846Z`,
 * `2018-03-06T15:19:03-08`, `...+05:30`. Fraction optional, any digits.
 */
CMH_MUST_CHECK enum cmh_err cmh_parse_time_ms(const char *s, int64_t *ret_ms);

/* Format epoch milliseconds as RFC 3339 UTC with second precision ("...Z"). */
void cmh_format_time(int64_t ms, char out[32]);

/* "1h 42m", "3m 05s", "12s": a duration for people. */
void cmh_format_duration(int64_t ms, char out[32]);

#endif
