/*
 * Cloud Manager resource parsing with jansson. Every accessor tolerates
 * missing or mistyped fields: Adobe adds fields and enum values over time,
 * and a notifier must degrade to "unknown" rather than fail.
 */
#include "resource.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROGRAMS 10000

static char *dup_string_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return strdup(json_is_string(v) ? json_string_value(v) : "");
}

enum cmh_err cmh_resource_parse_program_list(const char *body, size_t len,
					     struct cmh_program_list *ret, struct cmh_buf *errmsg)
{
	struct cmh_program_list l = { 0 };
	json_error_t jerr;
	json_t *root, *arr, *item, *total;
	enum cmh_err err = CMH_OK;
	size_t i;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		cmh_errf(errmsg, "program list is not a JSON object");
		err = CMH_ERR_PARSE;
		goto out;
	}
	arr = json_object_get(json_object_get(root, "_embedded"), "programs");
	if (arr && !json_is_array(arr)) {
		cmh_errf(errmsg, "program list: _embedded.programs is not an array");
		err = CMH_ERR_PARSE;
		goto out;
	}
	l.items = calloc(json_array_size(arr) + 1, sizeof(*l.items));
	if (!l.items) {
		err = CMH_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(arr, i, item) {
		if (l.n == MAX_PROGRAMS)
			break;
		if (!json_is_object(item))
			continue;
		l.items[l.n].id = dup_string_field(item, "id");
		l.items[l.n].name = dup_string_field(item, "name");
		if (!l.items[l.n].id || !l.items[l.n].name) {
			l.n++;
			err = CMH_ERR_NOMEM;
			goto out;
		}
		l.n++;
	}
	total = json_object_get(root, "_totalNumberOfItems");
	l.total = json_is_integer(total) ? (long)json_integer_value(total) : (long)l.n;
out:
	json_decref(root);
	if (err)
		cmh_program_list_release(&l);
	else
		*ret = l;
	return err;
}

void cmh_program_list_release(struct cmh_program_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].id);
		free(l->items[i].name);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}
