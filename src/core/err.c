/*
 * The error codes' text and classification. Adapters map their library's
 * codes onto these; callers decide retry-or-give-up with cmh_err_is_transient().
 */
#include "err.h"

#include <stdio.h>
#include <stdlib.h>

const char *cmh_strerror(enum cmh_err err)
{
	switch (err) {
	case CMH_OK: return "success";
	case CMH_ERR_NOMEM: return "out of memory";
	case CMH_ERR_USAGE: return "usage error";
	case CMH_ERR_CONFIG: return "configuration error";
	case CMH_ERR_IO: return "I/O error";
	case CMH_ERR_PARSE: return "malformed input";
	case CMH_ERR_TOO_LARGE: return "input too large";
	case CMH_ERR_NETWORK: return "network error";
	case CMH_ERR_TIMEOUT: return "timed out";
	case CMH_ERR_UPSTREAM: return "upstream unavailable";
	case CMH_ERR_REJECTED: return "request rejected";
	case CMH_ERR_AUTH: return "authentication failed";
	case CMH_ERR_FORBIDDEN: return "request refused";
	case CMH_ERR_SIGNATURE: return "invalid signature";
	case CMH_ERR_RECIPIENT: return "wrong recipient";
	case CMH_ERR_NOT_FOUND: return "not found";
	case CMH_ERR_UNAVAILABLE: return "temporarily unavailable";
	case CMH_ERR_INTERNAL: return "internal error";
	}
	return "unknown error";
}

bool cmh_err_is_transient(enum cmh_err err)
{
	switch (err) {
	case CMH_ERR_NETWORK:
	case CMH_ERR_TIMEOUT:
	case CMH_ERR_UPSTREAM:
	case CMH_ERR_UNAVAILABLE:
	case CMH_ERR_NOMEM:
		return true;
	default:
		return false;
	}
}

int cmh_err_exit_code(enum cmh_err err)
{
	switch (err) {
	case CMH_OK: return 0;
	case CMH_ERR_USAGE:
	case CMH_ERR_CONFIG: return 2;
	default: return 1;
	}
}

_Noreturn void cmh_bug(const char *file, int line, const char *msg)
{
	fprintf(stderr, "level=error mod=bug msg=\"BUG at %s:%d: %s\"\n", file, line, msg);
	abort();
}
