/*
 * Logging: one logfmt line per event on stderr, written with a single
 * write(2) so lines from different threads never interleave:
 *
 *   ts=2026-12-04T20:50:00.123Z level=warn mod=ims msg="token request failed" status=503
 *
 * cmh_log() checks the level before formatting anything. Values that come
 * from outside (IMS error text, header values, URLs' paths) must go through
 * cmh_q(), which quotes, escapes control characters and truncates. Secrets,
 * tokens, Authorization headers and webhook URLs are never logged; log a
 * cmh_fingerprint() of them when correlation is needed.
 */
#ifndef CMH_LOG_H
#define CMH_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

enum cmh_log_level {
	CMH_LOG_ERROR = 0,
	CMH_LOG_WARN,
	CMH_LOG_INFO,
	CMH_LOG_DEBUG,
};

void cmh_log_set_level(enum cmh_log_level level);
bool cmh_log_enabled(enum cmh_log_level level);

/* Parse "error", "warn", "info", "debug" (case-insensitive; "warning" too). */
CMH_MUST_CHECK enum cmh_err cmh_log_parse_level(const char *s, enum cmh_log_level *ret_level);

/*
 * Log msg (quoted for you) followed by kvfmt, a printf format producing
 * further `key=value` pairs separated by spaces ("" for none).
 */
#define cmh_log(level, mod, msg, ...) \
	do { \
		if (cmh_log_enabled(level)) \
			cmh_log_emit((level), (mod), (msg), __VA_ARGS__); \
	} while (0)

void cmh_log_emit(enum cmh_log_level level, const char *mod, const char *msg,
		  const char *kvfmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * A logfmt-safe rendering of an untrusted string: quoted when needed,
 * backslash and quote escaped, control and non-ASCII bytes as \xNN, at most
 * 160 bytes of input. The result lives in a per-thread ring of 8 slots: valid
 * until the same thread has called cmh_q() eight more times. NULL gives "-".
 */
const char *cmh_q(const char *s);
/* Same for a byte range that is not NUL-terminated. */
const char *cmh_qn(const char *s, size_t n);

#endif
