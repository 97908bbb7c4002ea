/*
 * The kinds of Cloud Manager event cmhook knows (reference/cloudmanager-events.md
 * §1), their user-facing names (INTERFACE.md: NOTIFY_EVENTS, `events --json`)
 * and the classification of an event from its (@type, objectType) pair.
 * Pure and thread-safe.
 */
#ifndef CMH_EVENT_H
#define CMH_EVENT_H

#include <stdbool.h>

#include "err.h"

/* The order matches enum cmh_kind_bits in config.h: bit (1 << kind). */
enum cmh_event_kind {
	CMH_KIND_STARTED = 0,   /* pipeline execution started */
	CMH_KIND_ENDED,         /* pipeline execution ended */
	CMH_KIND_STEP_STARTED,
	CMH_KIND_WAITING,       /* step waiting (there is no execution waiting) */
	CMH_KIND_STEP_ENDED,
	CMH_KIND_OTHER,         /* another provider or an unknown pair: ignored */
};

#define CMH_EVENT_NS "https://ns.adobe.com/experience/cloudmanager/"
#define CMH_EVENT_TYPE_STARTED  CMH_EVENT_NS "event/started"
#define CMH_EVENT_TYPE_ENDED    CMH_EVENT_NS "event/ended"
#define CMH_EVENT_TYPE_WAITING  CMH_EVENT_NS "event/waiting"
#define CMH_EVENT_OBJ_EXECUTION CMH_EVENT_NS "pipeline-execution"
#define CMH_EVENT_OBJ_STEP      CMH_EVENT_NS "execution-step-state"

/* "started", "ended", "step-started", "waiting", "step-ended", "other";
 * "other" for out-of-range values too. Static strings. */
const char *cmh_event_kind_name(enum cmh_event_kind kind);

/* The inverse of cmh_event_kind_name() (exact, case-sensitive). NULL or an
 * unknown name: CMH_ERR_PARSE, *ret_kind untouched. */
CMH_MUST_CHECK enum cmh_err cmh_event_kind_parse(const char *name, enum cmh_event_kind *ret_kind);

/* Classify by the event's "@type" and "xdmEventEnvelope:objectType" (exact
 * string comparison). Any other pair, or a NULL, gives CMH_KIND_OTHER. */
enum cmh_event_kind cmh_event_classify(const char *type, const char *object_type);

/* True for the three step kinds (object URL points to a step state). */
bool cmh_event_kind_is_step(enum cmh_event_kind kind);

/* The NOTIFY_EVENTS bit of kind (enum cmh_kind_bits), 0 for OTHER. */
unsigned cmh_event_kind_bit(enum cmh_event_kind kind);

#endif
