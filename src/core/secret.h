/*
 * A secret value (client secret, access token): heap bytes that are wiped
 * with explicit_bzero() before they are freed and never copied into general
 * buffers. Loaded from a string (the .env / environment, for tutorial
 * compatibility) or from a file (CLIENT_SECRET_FILE, systemd credentials).
 */
#ifndef CMH_SECRET_H
#define CMH_SECRET_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "hash.h"

struct cmh_secret {
	char *data;   /* NUL-terminated, NULL when unset */
	size_t len;
};

CMH_MUST_CHECK enum cmh_err cmh_secret_set(struct cmh_secret *s, const char *value, size_t len);
/*
 * Read a secret from path (at most CMH_MAX_SECRET_FILE bytes); one trailing
 * newline (LF or CRLF) is removed. A relative path that does not exist is
 * also looked up in $CREDENTIALS_DIRECTORY (systemd LoadCredential=).
 * errmsg names the path and the reason, never the content.
 */
CMH_MUST_CHECK enum cmh_err cmh_secret_load_file(struct cmh_secret *s, const char *path,
	struct cmh_buf *errmsg);
void cmh_secret_clear(struct cmh_secret *s);
static inline int cmh_secret_is_set(const struct cmh_secret *s) { return s->data && s->len; }
/* Fingerprint for logs: first 12 hex chars of SHA-256, or "-" when unset. */
void cmh_secret_fingerprint(const struct cmh_secret *s, char out[CMH_FINGERPRINT_LEN + 1]);

#endif
