/*
 * Cloud Manager API resources (HAL JSON) mapped to structs: pure parsing,
 * no I/O. Unknown fields are ignored and unknown enum values carried through
 * as text (cloudmanager-api.md §10).
 *
 * Tolerance rules shared by the single-resource parsers below: the body must
 * be a JSON object (else CMH_ERR_PARSE); a field that is missing, empty or
 * has the wrong JSON type becomes NULL (strings) or -1 (timestamps, also
 * when unparseable); timestamps are
 * read with cmh_parse_time_ms(). Strings are untrusted text from the API:
 * each is cut to CMH_RESOURCE_MAX_TEXT bytes on a UTF-8 boundary and control
 * characters are replaced by spaces, so they can go into messages as they are.
 * On error *ret is left untouched; on success the caller owns it and frees
 * it with the matching _release() (which accepts NULL and zeroed structs).
 * All functions are reentrant.
 */
#ifndef CMH_RESOURCE_H
#define CMH_RESOURCE_H

#include <stddef.h>
#include <stdint.h>

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

/* Link relations are full URIs under this prefix (note http, not https). */
#define CMH_REL "http://ns.adobe.com/adobecloud/rel/"
#define CMH_REL_PROGRAM   CMH_REL "program"
#define CMH_REL_PIPELINE  CMH_REL "pipeline"
#define CMH_REL_EXECUTION CMH_REL "execution"

/* Longest text field kept (bytes, before the NUL). */
#define CMH_RESOURCE_MAX_TEXT 256
/* Longest link href accepted; longer ones are an error, never truncated. */
#define CMH_RESOURCE_MAX_HREF 2048
/* Step states kept from one execution's _embedded.stepStates. */
#define CMH_RESOURCE_MAX_STEPS 256

/* Program (§5). */
struct cmh_program {
	char *id;
	char *name;
	char *tenant_id;     /* the @<tenant> of UI deep links */
};

/* Pipeline (§6). buildTarget is not in the public spec: NULL when absent. */
struct cmh_pipeline {
	char *id;
	char *name;
	char *type;          /* CI_CD, CODE_GENERATOR, ... (open string) */
	char *trigger;       /* ON_COMMIT, MANUAL */
	char *build_target;
	/* The distinct environmentType values of the DEPLOY phases, in phase
	 * order, joined by ", " ("stage, prod"); NULL when there are none. */
	char *deploy_targets;
};

/* PipelineExecutionStepState (§8). */
struct cmh_step_state {
	char *action;            /* raw, e.g. "codeQuality" */
	char *status;            /* raw, e.g. "WAITING" */
	char *environment;
	char *environment_type;
	int64_t started_ms;
	int64_t finished_ms;
	char *input_json;        /* details.input as compact JSON, NULL when absent */
};

/* PipelineExecution (§7). */
struct cmh_execution {
	char *id;
	char *program_id;
	char *pipeline_id;
	char *status;            /* raw: RUNNING, FINISHED, FAILED, ... */
	char *trigger;
	char *user;              /* NULL when absent or empty (automatic runs) */
	int64_t created_ms;
	int64_t finished_ms;
	struct cmh_step_state *steps;   /* _embedded.stepStates in order; non-objects skipped */
	size_t n_steps;                 /* at most CMH_RESOURCE_MAX_STEPS */
};

CMH_MUST_CHECK enum cmh_err cmh_resource_parse_program(const char *body, size_t len,
	struct cmh_program *ret, struct cmh_buf *errmsg);
void cmh_program_release(struct cmh_program *p);

CMH_MUST_CHECK enum cmh_err cmh_resource_parse_pipeline(const char *body, size_t len,
	struct cmh_pipeline *ret, struct cmh_buf *errmsg);
void cmh_pipeline_release(struct cmh_pipeline *p);

CMH_MUST_CHECK enum cmh_err cmh_resource_parse_execution(const char *body, size_t len,
	struct cmh_execution *ret, struct cmh_buf *errmsg);
void cmh_execution_release(struct cmh_execution *x);

CMH_MUST_CHECK enum cmh_err cmh_resource_parse_step_state(const char *body, size_t len,
	struct cmh_step_state *ret, struct cmh_buf *errmsg);
void cmh_step_state_release(struct cmh_step_state *s);

/*
 * The href of `_links[rel]` in a resource body (§3): the value may be a link
 * object or an array of link objects (the first one counts). On success
 * *ret_href is a new string (free() it); it is returned as written, not
 * resolved: pass it to cmh_url_resolve() with the configured API base.
 * Errors: CMH_ERR_NOT_FOUND when the body has no such rel (or no _links,
 * or an empty array); CMH_ERR_PARSE when the body is not a JSON object, the
 * link is not an object, is templated:true, or has no non-empty string href;
 * CMH_ERR_TOO_LARGE when the href is longer than CMH_RESOURCE_MAX_HREF.
 */
CMH_MUST_CHECK enum cmh_err cmh_resource_link(const char *body, size_t len, const char *rel,
	char **ret_href, struct cmh_buf *errmsg);

#endif
