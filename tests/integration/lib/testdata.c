/*
 * Reading tests/data/ files for testdata.h: one path rule, one failure
 * rule (fail the cmocka test, naming the file), so tests do not each carry
 * their own file reader.
 */
#include "testdata.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>

#include <cmocka.h>

#include "tmp.h"

#ifndef CMH_SOURCE_DIR
#error "CMH_SOURCE_DIR must name the source tree"
#endif

char *testdata_read(const char *rel, size_t *ret_len)
{
	char *path = tmp_xasprintf("%s/tests/data/%s", CMH_SOURCE_DIR, rel);
	char *data = tmp_read(path, ret_len);

	if (!data)
		fail_msg("cannot read %s", path);
	free(path);
	return data;
}
