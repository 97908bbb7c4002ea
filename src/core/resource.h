/*
 * Cloud Manager API resources (HAL JSON) mapped to structs: pure parsing,
 * no I/O. Unknown fields are ignored and unknown enum values carried through
 * as text (cloudmanager-api.md §10).
 */
#ifndef CMH_RESOURCE_H
#define CMH_RESOURCE_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct cmh_program_summary {
	char *id;
	char *name;
};

struct cmh_program_list {
	struct cmh_program_summary *items;
	size_t n;
	long total;   /* _totalNumberOfItems, or n when absent */
};

/*
 * Parse a program list (`GET /api/programs`): `_embedded.programs[]` with
 * string `id` and `name` (a missing name becomes ""). An absent `_embedded`
 * is an empty list; anything that is not a JSON object is CMH_ERR_PARSE.
 * At most 10000 entries are kept.
 */
CMH_MUST_CHECK enum cmh_err cmh_resource_parse_program_list(const char *body, size_t len,
	struct cmh_program_list *ret, struct cmh_buf *errmsg);
void cmh_program_list_release(struct cmh_program_list *l);

#endif
