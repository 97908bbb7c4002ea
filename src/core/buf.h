/*
 * struct cmh_buf: a growable byte buffer with a hard maximum fixed at init
 * (curl's dynbuf) and git strbuf's invariants:
 *  - after cmh_buf_init() `data` is never NULL and always NUL-terminated;
 *  - `len` excludes the terminating NUL; the bytes may contain NULs;
 *  - appending past `max` fails with CMH_ERR_TOO_LARGE and leaves the buffer
 *    unchanged, so callers can report "too large" instead of growing forever;
 *  - cmh_buf_detach() hands the bytes to the caller (free() them) and leaves
 *    the buffer empty but initialised; cmh_buf_release() frees and re-inits.
 * Not thread-safe; one owner at a time.
 */
#ifndef CMH_BUF_H
#define CMH_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct cmh_buf {
	char *data;
	size_t len;
	size_t cap;  /* allocated bytes, 0 while data points at the shared empty string */
	size_t max;  /* largest len allowed */
};

/* Common caps (bytes). */
#define CMH_BUF_MAX_SMALL  ((size_t)4096)
#define CMH_BUF_MAX_ERRMSG ((size_t)1024)

void cmh_buf_init(struct cmh_buf *b, size_t max);
void cmh_buf_release(struct cmh_buf *b);
/* Like release, but overwrites the bytes first: for buffers that held a secret. */
void cmh_buf_wipe(struct cmh_buf *b);
void cmh_buf_reset(struct cmh_buf *b);
char *cmh_buf_detach(struct cmh_buf *b, size_t *ret_len);

CMH_MUST_CHECK enum cmh_err cmh_buf_add(struct cmh_buf *b, const void *p, size_t n);
CMH_MUST_CHECK enum cmh_err cmh_buf_adds(struct cmh_buf *b, const char *s);
CMH_MUST_CHECK enum cmh_err cmh_buf_addch(struct cmh_buf *b, char c);
CMH_MUST_CHECK enum cmh_err cmh_buf_addf(struct cmh_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
CMH_MUST_CHECK enum cmh_err cmh_buf_vaddf(struct cmh_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/*
 * Replace the content with a formatted message, truncating silently at max.
 * Meant for `errmsg` out-parameters: NULL b is allowed and does nothing, so
 * callees need not check whether the caller wants the detail.
 */
void cmh_errf(struct cmh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
