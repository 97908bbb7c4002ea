/*
 * The checked-in test data under tests/data/, found through CMH_SOURCE_DIR
 * (set by the build), so a test reads the same files wherever it runs from.
 * Thread-safe.
 */
#ifndef CMH_TEST_TESTDATA_H
#define CMH_TEST_TESTDATA_H

#include <stddef.h>

/*
 * tests/data/<rel> as a new NUL-terminated string (free() it), its length in
 * *ret_len when not NULL. Fails the current cmocka test when it cannot be read.
 */
char *testdata_read(const char *rel, size_t *ret_len);

#endif
