/*
 * Temporary directories and files for integration tests. A test makes one
 * directory with tmp_dir_new(), writes its .env and other files into it,
 * uses it as the working directory and HOME of the binary under test, and
 * removes it (recursively) with tmp_dir_free() in its teardown.
 *
 * All functions abort the test process on allocation failure (tests have no
 * better answer); file errors are reported as false/NULL so the caller can
 * assert with a message. Not thread-safe only in the sense that two threads
 * must not write the same file; otherwise reentrant.
 */
#ifndef CMH_TEST_TMP_H
#define CMH_TEST_TMP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A new empty directory (mode 0700) under $TMPDIR or /tmp; caller frees with tmp_dir_free(). */
char *tmp_dir_new(void);

/* Remove dir and everything below it (without following symlinks), then free(dir). NULL is fine. */
void tmp_dir_free(char *dir);

/* "dir/name" as a new string; free() it. */
char *tmp_path(const char *dir, const char *name);

/*
 * Write len bytes (len == (size_t)-1: strlen(data)) to dir/name, created or
 * truncated, and set its mode exactly to `mode` (independent of umask).
 */
bool tmp_write(const char *dir, const char *name, const char *data, size_t len, mode_t mode);

/*
 * Write a dotenv file dir/name (mode 0600) from a NULL-terminated list of
 * key, value pairs: tmp_write_env(dir, ".env", "CLIENT_ID", "abc", NULL).
 * Values are written verbatim (KEY=value), as Adobe's tutorial files are.
 */
bool tmp_write_env(const char *dir, const char *name, ...) __attribute__((sentinel));

/*
 * Read a whole file (at most 64 MiB) into a new NUL-terminated string; sets
 * *ret_len when not NULL. NULL when it cannot be read.
 */
char *tmp_read(const char *path, size_t *ret_len);

/* The mode bits (& 07777) of path, or -1 when it does not exist. */
int tmp_mode(const char *path);

/* A random version-4 UUID, lowercase, NUL-terminated (event ids, key paths). */
void tmp_uuid(char out[37]);

/* malloc/strdup/asprintf that abort on failure. */
void *tmp_xmalloc(size_t n);
char *tmp_xstrdup(const char *s);
char *tmp_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
