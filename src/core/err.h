/*
 * Error vocabulary of cmhook: every fallible function returns enum cmh_err
 * (CMH_OK == 0). The code says what kind of failure it was, and therefore
 * whether retrying can help; the human-readable detail travels separately in
 * an optional struct cmh_buf *errmsg that the caller may print or drop.
 */
#ifndef CMH_ERR_H
#define CMH_ERR_H

#include <stdbool.h>

#define CMH_MUST_CHECK __attribute__((warn_unused_result))

enum cmh_err {
	CMH_OK = 0,
	CMH_ERR_NOMEM,          /* allocation failed */
	CMH_ERR_USAGE,          /* bad command-line usage */
	CMH_ERR_CONFIG,         /* missing or invalid setting */
	CMH_ERR_IO,             /* local file or database I/O */
	CMH_ERR_PARSE,          /* malformed input (JSON, dotenv, number, ...) */
	CMH_ERR_TOO_LARGE,      /* input over a named limit */
	CMH_ERR_NETWORK,        /* connect/DNS/TLS/reset: transient */
	CMH_ERR_TIMEOUT,        /* an upstream did not answer in time: transient */
	CMH_ERR_UPSTREAM,       /* upstream 5xx or 429: transient */
	CMH_ERR_REJECTED,       /* upstream 4xx other than auth: permanent */
	CMH_ERR_AUTH,           /* credentials refused (401, invalid_client): permanent */
	CMH_ERR_FORBIDDEN,      /* a request we refuse to make (foreign origin, ...) */
	CMH_ERR_SIGNATURE,      /* webhook signature missing or invalid */
	CMH_ERR_RECIPIENT,      /* webhook addressed to another client id */
	CMH_ERR_NOT_FOUND,      /* no such object */
	CMH_ERR_UNAVAILABLE,    /* we cannot serve now (journal, shutdown): transient */
	CMH_ERR_INTERNAL,       /* a bug or an unexpected library failure */
};

/* Static text for an error code; never NULL. */
const char *cmh_strerror(enum cmh_err err);

/* True for failures that may succeed if the same thing is tried again later. */
bool cmh_err_is_transient(enum cmh_err err);

/* The process exit code for a command that failed with err (INTERFACE.md: 1 runtime, 2 usage/config). */
int cmh_err_exit_code(enum cmh_err err);

/* Abort on a broken invariant: a bug, never an input error. */
#define CMH_BUG(msg) cmh_bug(__FILE__, __LINE__, (msg))
_Noreturn void cmh_bug(const char *file, int line, const char *msg);

#endif
