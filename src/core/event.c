/*
 * Event kinds: the table from cloudmanager-events.md §1 mapping (@type,
 * objectType) to the five Cloud Manager kinds, and their user-facing names.
 * Parsing the envelope that carries these fields is webhook.c's job.
 */
#include "event.h"

#include <stddef.h>
#include <string.h>

#include "config.h"

/* NOTIFY_EVENTS bits are 1 << kind; keep the two enums in step. */
_Static_assert(CMH_KIND_BIT_STARTED == 1 << CMH_KIND_STARTED, "kind bits");
_Static_assert(CMH_KIND_BIT_ENDED == 1 << CMH_KIND_ENDED, "kind bits");
_Static_assert(CMH_KIND_BIT_STEP_STARTED == 1 << CMH_KIND_STEP_STARTED, "kind bits");
_Static_assert(CMH_KIND_BIT_WAITING == 1 << CMH_KIND_WAITING, "kind bits");
_Static_assert(CMH_KIND_BIT_STEP_ENDED == 1 << CMH_KIND_STEP_ENDED, "kind bits");

static const char *const kind_names[] = {
	[CMH_KIND_STARTED] = "started",
	[CMH_KIND_ENDED] = "ended",
	[CMH_KIND_STEP_STARTED] = "step-started",
	[CMH_KIND_WAITING] = "waiting",
	[CMH_KIND_STEP_ENDED] = "step-ended",
	[CMH_KIND_OTHER] = "other",
};

static const struct {
	const char *type;
	const char *object_type;
	enum cmh_event_kind kind;
} kind_table[] = {
	{ CMH_EVENT_TYPE_STARTED, CMH_EVENT_OBJ_EXECUTION, CMH_KIND_STARTED },
	{ CMH_EVENT_TYPE_STARTED, CMH_EVENT_OBJ_STEP, CMH_KIND_STEP_STARTED },
	{ CMH_EVENT_TYPE_WAITING, CMH_EVENT_OBJ_STEP, CMH_KIND_WAITING },
	{ CMH_EVENT_TYPE_ENDED, CMH_EVENT_OBJ_STEP, CMH_KIND_STEP_ENDED },
	{ CMH_EVENT_TYPE_ENDED, CMH_EVENT_OBJ_EXECUTION, CMH_KIND_ENDED },
};

#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))
#define N_PAIRS (sizeof(kind_table) / sizeof(kind_table[0]))

const char *cmh_event_kind_name(enum cmh_event_kind kind)
{
	if ((unsigned)kind >= N_KINDS)
		return kind_names[CMH_KIND_OTHER];
	return kind_names[kind];
}

enum cmh_err cmh_event_kind_parse(const char *name, enum cmh_event_kind *ret_kind)
{
	size_t i;

	if (!name)
		return CMH_ERR_PARSE;
	for (i = 0; i < N_KINDS; i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*ret_kind = (enum cmh_event_kind)i;
			return CMH_OK;
		}
	}
	return CMH_ERR_PARSE;
}

enum cmh_event_kind cmh_event_classify(const char *type, const char *object_type)
{
	size_t i;

	if (!type || !object_type)
		return CMH_KIND_OTHER;
	for (i = 0; i < N_PAIRS; i++) {
		if (strcmp(type, kind_table[i].type) == 0 &&
		    strcmp(object_type, kind_table[i].object_type) == 0)
			return kind_table[i].kind;
	}
	return CMH_KIND_OTHER;
}

bool cmh_event_kind_is_step(enum cmh_event_kind kind)
{
	return kind == CMH_KIND_STEP_STARTED || kind == CMH_KIND_WAITING ||
	       kind == CMH_KIND_STEP_ENDED;
}

unsigned cmh_event_kind_bit(enum cmh_event_kind kind)
{
	if ((unsigned)kind >= CMH_KIND_OTHER)
		return 0;
	return 1u << kind;
}
