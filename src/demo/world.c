/*
 * The demo's fictional Cloud Manager: one program, two pipelines, one run of
 * each, the script of events those runs produce, and the HAL JSON Cloud
 * Manager would answer for each resource at any moment of a run (shapes and
 * ids after reference/cloudmanager-api.md §11). State is a virtual clock per
 * run; statuses and timestamps are derived from it, so what the API says
 * always agrees with the event being delivered. Nothing here does I/O.
 */
#include "demo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "resource.h"

#define PROGRAM_ID   "22734"
#define PROGRAM_NAME "Acme Corp Main Site"
#define TENANT       "acmecorp"
#define PATH_MAX_LEN 256

struct step_def {
	const char *action;
	const char *phase_id, *step_id, *state_id;
	const char *environment, *env_id, *env_type;   /* deploy and approval steps */
	const char *repository, *branch;               /* build steps */
	int start_s;                /* -1: does not start in this run */
	int end_s;
	const char *final_status;
	bool waits;                 /* WAITING (for a human) between start and end */
};

struct phase_def {
	const char *name, *type, *env_id, *env_type, *branch;
};

struct run_def {
	const char *pipeline_id, *pipeline_name, *execution_id, *artifacts, *user, *trigger;
	int created_s;              /* after the world's base time */
	int end_s;                  /* after created */
	const char *final_status;
	const struct step_def *steps;
	size_t n_steps;
	const struct phase_def *phases;
	size_t n_phases;
};

static const struct step_def run0_steps[] = {
	{ "validate", "2401118", "11033499", "31994415", NULL, NULL, NULL, NULL, NULL,
	  4, 8, "FINISHED", false },
	{ "build", "2401119", "11033500", "31994416", NULL, NULL, NULL, "acme-main", "main",
	  10, 612, "FINISHED", false },
	{ "codeQuality", "2401119", "11033502", "31994418", NULL, NULL, NULL, "acme-main", "main",
	  615, 790, "FINISHED", false },
	{ "deploy", "2401120", "11033501", "31994417", "acme-main-stage", "130512", "stage",
	  NULL, NULL, 800, 1850, "FINISHED", false },
	{ "approval", "2401121", "11033504", "31994420", "acme-main-prod", "130513", "prod",
	  NULL, NULL, 1860, 2460, "FINISHED", true },
	{ "deploy", "2401121", "11033505", "31994421", "acme-main-prod", "130513", "prod",
	  NULL, NULL, 2470, 3530, "FINISHED", false },
};

static const struct phase_def run0_phases[] = {
	{ "VALIDATE", "VALIDATE", NULL, NULL, NULL },
	{ "BUILD_1", "BUILD", NULL, NULL, "main" },
	{ "DEPLOY_STAGE", "DEPLOY", "130512", "stage", NULL },
	{ "DEPLOY_PROD", "DEPLOY", "130513", "prod", NULL },
};

static const struct step_def run1_steps[] = {
	{ "validate", "2401130", "11033520", "31994480", NULL, NULL, NULL, NULL, NULL,
	  3, 6, "FINISHED", false },
	{ "build", "2401131", "11033521", "31994481", NULL, NULL, NULL, "acme-main", "develop",
	  9, 262, "FAILED", false },
	{ "deploy", "2401132", "11033522", "31994482", "acme-main-dev", "130510", "dev",
	  NULL, NULL, -1, -1, NULL, false },
};

static const struct phase_def run1_phases[] = {
	{ "VALIDATE", "VALIDATE", NULL, NULL, NULL },
	{ "BUILD_1", "BUILD", NULL, NULL, "develop" },
	{ "DEPLOY_DEV", "DEPLOY", "130510", "dev", NULL },
};

#define N_RUNS 2
static const struct run_def runs[N_RUNS] = {
	{ "48201733", "Production Full Stack", "1190642", "2025.612.91508.0001190642",
	  "8A2B3C4D5E6F7A8B9C0D1E2F@AdobeID", "MANUAL", 0, 3535, "FINISHED",
	  run0_steps, sizeof(run0_steps) / sizeof(run0_steps[0]),
	  run0_phases, sizeof(run0_phases) / sizeof(run0_phases[0]) },
	{ "48201760", "Dev Deploy", "1190655", "2025.612.103512.0001190655",
	  NULL, "ON_COMMIT", 3775, 265, "FAILED",
	  run1_steps, sizeof(run1_steps) / sizeof(run1_steps[0]),
	  run1_phases, sizeof(run1_phases) / sizeof(run1_phases[0]) },
};

/* As Adobe delivers them: codeQuality and approval never send "started"
 * (cloudmanager-events.md §5). */
static const struct cmh_demo_beat beats[] = {
	{ 0, CMH_KIND_STARTED, -1, 1, "execution started" },
	{ 0, CMH_KIND_STEP_STARTED, 0, 4, "validation started" },
	{ 0, CMH_KIND_STEP_ENDED, 0, 8, "validation ended" },
	{ 0, CMH_KIND_STEP_STARTED, 1, 10, "build started" },
	{ 0, CMH_KIND_STEP_ENDED, 1, 612, "build ended" },
	{ 0, CMH_KIND_STEP_ENDED, 2, 790, "code quality ended" },
	{ 0, CMH_KIND_STEP_STARTED, 3, 800, "stage deployment started" },
	{ 0, CMH_KIND_STEP_ENDED, 3, 1850, "stage deployment ended" },
	{ 0, CMH_KIND_WAITING, 4, 1860, "approval waiting" },
	{ 0, CMH_KIND_STEP_STARTED, 5, 2470, "production deployment started" },
	{ 0, CMH_KIND_STEP_ENDED, 5, 3530, "production deployment ended" },
	{ 0, CMH_KIND_ENDED, -1, 3535, "execution ended (FINISHED)" },
	{ 1, CMH_KIND_STARTED, -1, 1, "execution started" },
	{ 1, CMH_KIND_STEP_STARTED, 1, 9, "build started" },
	{ 1, CMH_KIND_STEP_ENDED, 1, 262, "build ended (FAILED)" },
	{ 1, CMH_KIND_ENDED, -1, 265, "execution ended (FAILED)" },
};

struct cmh_demo_world {
	pthread_mutex_t mu;
	int64_t base_ms;
	int at_s[N_RUNS];           /* each run's virtual clock, seconds after its creation */
};

const struct cmh_demo_beat *cmh_demo_beats(size_t *ret_n)
{
	*ret_n = sizeof(beats) / sizeof(beats[0]);
	return beats;
}

const char *cmh_demo_run_name(unsigned run)
{
	return run < N_RUNS ? runs[run].pipeline_name : "?";
}

enum cmh_err cmh_demo_world_new(int64_t now_ms, struct cmh_demo_world **ret)
{
	struct cmh_demo_world *w = calloc(1, sizeof(*w));
	int64_t span_ms = (int64_t)(runs[1].created_s + runs[1].end_s + 150) * 1000;

	if (!w)
		return CMH_ERR_NOMEM;
	if (pthread_mutex_init(&w->mu, NULL)) {
		free(w);
		return CMH_ERR_INTERNAL;
	}
	/* The last run ended a couple of minutes ago; odd milliseconds look real. */
	w->base_ms = (now_ms - span_ms) / 60000 * 60000 + 8412;
	*ret = w;
	return CMH_OK;
}

void cmh_demo_world_free(struct cmh_demo_world *w)
{
	if (!w)
		return;
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void cmh_demo_world_advance(struct cmh_demo_world *w, const struct cmh_demo_beat *beat)
{
	pthread_mutex_lock(&w->mu);
	w->at_s[beat->run] = beat->at_s;
	pthread_mutex_unlock(&w->mu);
}

static int clock_of(struct cmh_demo_world *w, unsigned run)
{
	int t;

	pthread_mutex_lock(&w->mu);
	t = w->at_s[run];
	pthread_mutex_unlock(&w->mu);
	return t;
}

/* ---- time ---------------------------------------------------------------- */

static int64_t run_ms(const struct cmh_demo_world *w, unsigned run, int s)
{
	return w->base_ms + ((int64_t)runs[run].created_s + s) * 1000;
}

/* The API's format: 2025-06-12T09:15:08.412+0000 (cloudmanager-api.md §10). */
static json_t *api_time(int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char when[64];

	if (!gmtime_r(&secs, &tm))
		return json_null();
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(when);
}

/* The events' format: 2021-08-23T08:37:41.846Z. */
static json_t *event_time(int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char when[64];

	if (!gmtime_r(&secs, &tm))
		return json_null();
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(when);
}

/* ---- statuses at a moment ------------------------------------------------ */

static const char *step_status(const struct step_def *s, int t)
{
	if (s->start_s < 0 || t < s->start_s)
		return "NOT_STARTED";
	if (t < s->end_s)
		return s->waits ? "WAITING" : "RUNNING";
	return s->final_status;
}

static bool run_ended(unsigned run, int t)
{
	return t >= runs[run].end_s;
}

/* ---- JSON ------------------------------------------------------------------ */

/* obj[key] = val unless val is NULL (a failed allocation is noticed by the
 * caller's final check through *ok). */
static void put(json_t *obj, const char *key, json_t *val, bool *ok)
{
	if (!val || json_object_set_new(obj, key, val))
		*ok = false;
}

static void put_str(json_t *obj, const char *key, const char *s, bool *ok)
{
	if (s)
		put(obj, key, json_string(s), ok);
}

static void put_link(json_t *links, const char *rel, const char *href, bool *ok)
{
	put(links, rel, json_pack("{s:s, s:b}", "href", href, "templated", 0), ok);
}

static void path_program(char *out, size_t n)
{
	snprintf(out, n, "/api/program/%s", PROGRAM_ID);
}

static void path_pipeline(unsigned run, char *out, size_t n)
{
	snprintf(out, n, "/api/program/%s/pipeline/%s", PROGRAM_ID, runs[run].pipeline_id);
}

static void path_execution(unsigned run, char *out, size_t n)
{
	snprintf(out, n, "/api/program/%s/pipeline/%s/execution/%s", PROGRAM_ID,
		 runs[run].pipeline_id, runs[run].execution_id);
}

static void path_step(unsigned run, size_t i, char *out, size_t n)
{
	snprintf(out, n, "/api/program/%s/pipeline/%s/execution/%s/phase/%s/step/%s", PROGRAM_ID,
		 runs[run].pipeline_id, runs[run].execution_id, runs[run].steps[i].phase_id,
		 runs[run].steps[i].step_id);
}

static json_t *step_links(unsigned run, size_t i, const char *status, bool full)
{
	char self[PATH_MAX_LEN], p[PATH_MAX_LEN + 16];
	json_t *l = json_object();
	bool ok = l != NULL;

	if (!ok)
		return NULL;
	path_step(run, i, self, sizeof(self));
	if (full) {
		path_execution(run, p, sizeof(p));
		put_link(l, CMH_REL_EXECUTION, p, &ok);
		path_pipeline(run, p, sizeof(p));
		put_link(l, CMH_REL_PIPELINE, p, &ok);
		path_program(p, sizeof(p));
		put_link(l, CMH_REL_PROGRAM, p, &ok);
	}
	if (strcmp(status, "NOT_STARTED") != 0) {
		snprintf(p, sizeof(p), "%s/logs", self);
		put_link(l, CMH_REL "pipeline/logs", p, &ok);
	}
	/* While a step waits for a decision it can be advanced (§5). */
	if (strcmp(status, "WAITING") == 0) {
		snprintf(p, sizeof(p), "%s/advance", self);
		put_link(l, CMH_REL "pipeline/advance", p, &ok);
	}
	if (strcmp(status, "WAITING") == 0 || strcmp(status, "RUNNING") == 0) {
		snprintf(p, sizeof(p), "%s/cancel", self);
		put_link(l, CMH_REL "pipeline/cancel", p, &ok);
	}
	put_link(l, "self", self, &ok);
	if (!ok) {
		json_decref(l);
		return NULL;
	}
	return l;
}

/* A step state; `full` is the representation fetched by its own URL, the
 * other the reduced one embedded in an execution (cloudmanager-api.md §4). */
static json_t *step_json(const struct cmh_demo_world *w, unsigned run, size_t i, int t, bool full)
{
	const struct step_def *s = &runs[run].steps[i];
	const char *status = step_status(s, t);
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!ok)
		return NULL;
	put_str(o, "id", s->state_id, &ok);
	put_str(o, "stepId", s->step_id, &ok);
	put_str(o, "phaseId", s->phase_id, &ok);
	put_str(o, "action", s->action, &ok);
	put_str(o, "repository", s->repository, &ok);
	put_str(o, "branch", s->branch, &ok);
	put_str(o, "environment", s->environment, &ok);
	put_str(o, "environmentId", s->env_id, &ok);
	put_str(o, "environmentType", s->env_type, &ok);
	put_str(o, "status", status, &ok);
	if (s->start_s >= 0 && t >= s->start_s)
		put(o, "startedAt", api_time(run_ms(w, run, s->start_s) + 137), &ok);
	if (s->start_s >= 0 && t >= s->end_s)
		put(o, "finishedAt", api_time(run_ms(w, run, s->end_s) + 512), &ok);
	put(o, "_links", step_links(run, i, status, full), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *execution_json(const struct cmh_demo_world *w, unsigned run, int t)
{
	const struct run_def *r = &runs[run];
	char p[PATH_MAX_LEN];
	json_t *o = json_object(), *steps = json_array(), *links = json_object();
	bool ok = o && steps && links;

	for (size_t i = 0; ok && i < r->n_steps; i++)
		ok = json_array_append_new(steps, step_json(w, run, i, t, false)) == 0;
	path_program(p, sizeof(p));
	if (ok)
		put_link(links, CMH_REL_PROGRAM, p, &ok);
	path_pipeline(run, p, sizeof(p));
	if (ok)
		put_link(links, CMH_REL_PIPELINE, p, &ok);
	path_execution(run, p, sizeof(p));
	if (ok)
		put_link(links, "self", p, &ok);
	if (!ok) {
		json_decref(o);
		json_decref(steps);
		json_decref(links);
		return NULL;
	}
	put_str(o, "id", r->execution_id, &ok);
	put_str(o, "programId", PROGRAM_ID, &ok);
	put_str(o, "pipelineId", r->pipeline_id, &ok);
	put_str(o, "artifactsVersion", r->artifacts, &ok);
	put_str(o, "user", r->user, &ok);
	put_str(o, "status", run_ended(run, t) ? r->final_status : "RUNNING", &ok);
	put_str(o, "trigger", r->trigger, &ok);
	put_str(o, "pipelineExecutionMode", "NORMAL", &ok);
	put_str(o, "pipelineType", "CI_CD", &ok);
	put(o, "createdAt", api_time(run_ms(w, run, 0)), &ok);
	put(o, "updatedAt", api_time(run_ms(w, run, t)), &ok);
	if (run_ended(run, t))
		put(o, "finishedAt", api_time(run_ms(w, run, r->end_s) + 20), &ok);
	put(o, "_embedded", json_pack("{s:o}", "stepStates", steps), &ok);
	put(o, "_links", links, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *phases_json(const struct run_def *r)
{
	json_t *a = json_array();
	bool ok = a != NULL;

	for (size_t i = 0; ok && i < r->n_phases; i++) {
		const struct phase_def *ph = &r->phases[i];
		json_t *o = json_pack("{s:s, s:s}", "name", ph->name, "type", ph->type);

		ok = o != NULL;
		if (ok && ph->branch) {
			put_str(o, "repositoryId", "40981", &ok);
			put_str(o, "branch", ph->branch, &ok);
		}
		if (ok && ph->env_id) {
			put_str(o, "environmentId", ph->env_id, &ok);
			put_str(o, "environmentType", ph->env_type, &ok);
		}
		if (ok)
			ok = json_array_append_new(a, o) == 0;
		else
			json_decref(o);
	}
	if (!ok) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *pipeline_json(const struct cmh_demo_world *w, unsigned run, int t)
{
	const struct run_def *r = &runs[run];
	char prog[PATH_MAX_LEN], self[PATH_MAX_LEN], ex[PATH_MAX_LEN + 32], exs[PATH_MAX_LEN + 32];

	path_program(prog, sizeof(prog));
	path_pipeline(run, self, sizeof(self));
	snprintf(ex, sizeof(ex), "%s/execution", self);
	snprintf(exs, sizeof(exs), "%s/executions", self);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:{"
			 "s:{s:s, s:b}, s:{s:s, s:b}, s:{s:s, s:b}, s:{s:s, s:b}}}",
		"id", r->pipeline_id, "programId", PROGRAM_ID, "name", r->pipeline_name,
		"trigger", r->trigger, "status", run_ended(run, t) ? "IDLE" : "BUSY",
		"type", "CI_CD", "createdAt", api_time(w->base_ms - 86400000LL * 400),
		"updatedAt", api_time(run_ms(w, run, t)),
		"lastStartedAt", api_time(run_ms(w, run, 0)),
		"phases", phases_json(r),
		"_links",
		CMH_REL_PROGRAM, "href", prog, "templated", 0,
		CMH_REL_EXECUTION, "href", ex, "templated", 0,
		CMH_REL "executions", "href", exs, "templated", 0,
		"self", "href", self, "templated", 0);
}

static json_t *program_json(const struct cmh_demo_world *w)
{
	char self[PATH_MAX_LEN], pipes[PATH_MAX_LEN + 16];

	path_program(self, sizeof(self));
	snprintf(pipes, sizeof(pipes), "%s/pipelines", self);
	return json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:o, s:{s:{s:s, s:b}, s:{s:s, s:b}}}",
		"id", PROGRAM_ID, "name", PROGRAM_NAME, "enabled", 1, "tenantId", TENANT,
		"imsOrgId", CMH_DEMO_ORG, "status", "ready", "type", "aem_cloud_service",
		"createdAt", api_time(w->base_ms - 86400000LL * 480),
		"_links",
		CMH_REL "pipelines", "href", pipes, "templated", 0,
		"self", "href", self, "templated", 0);
}

static json_t *program_list_json(void)
{
	char self[PATH_MAX_LEN];

	path_program(self, sizeof(self));
	return json_pack("{s:i, s:{s:[{s:s, s:s, s:b, s:{s:{s:s}}}]}, s:{s:{s:s}}}",
		"_totalNumberOfItems", 1, "_embedded", "programs", "id", PROGRAM_ID,
		"name", PROGRAM_NAME, "enabled", 1, "_links", "self", "href", self,
		"_links", "self", "href", "/api/programs");
}

/* The resource at path, or NULL with *found false. */
static json_t *resource(struct cmh_demo_world *w, const char *path, bool *found)
{
	char p[PATH_MAX_LEN];

	*found = true;
	if (strcmp(path, "/api/programs") == 0)
		return program_list_json();
	path_program(p, sizeof(p));
	if (strcmp(path, p) == 0)
		return program_json(w);
	for (unsigned run = 0; run < N_RUNS; run++) {
		int t = clock_of(w, run);

		path_pipeline(run, p, sizeof(p));
		if (strcmp(path, p) == 0)
			return pipeline_json(w, run, t);
		path_execution(run, p, sizeof(p));
		if (strcmp(path, p) == 0)
			return execution_json(w, run, t);
		for (size_t i = 0; i < runs[run].n_steps; i++) {
			path_step(run, i, p, sizeof(p));
			if (strcmp(path, p) == 0)
				return step_json(w, run, i, t, true);
		}
	}
	*found = false;
	return NULL;
}

enum cmh_err cmh_demo_world_get(struct cmh_demo_world *w, const char *path, char **ret_body,
	size_t *ret_len)
{
	bool found;
	json_t *j = resource(w, path, &found);
	char *s;

	if (!found)
		return CMH_ERR_NOT_FOUND;
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return CMH_ERR_NOMEM;
	*ret_body = s;
	*ret_len = strlen(s);
	return CMH_OK;
}

/* ---- events ---------------------------------------------------------------- */

static enum cmh_err object_of(const struct cmh_demo_beat *b, const char *api_base,
	struct cmh_buf *url, const char **ret_type, const char **ret_verb)
{
	char p[PATH_MAX_LEN];

	if (cmh_event_kind_is_step(b->kind))
		path_step(b->run, (size_t)b->step, p, sizeof(p));
	else
		path_execution(b->run, p, sizeof(p));
	*ret_type = cmh_event_kind_is_step(b->kind) ? CMH_EVENT_OBJ_STEP : CMH_EVENT_OBJ_EXECUTION;
	*ret_verb = b->kind == CMH_KIND_WAITING ? CMH_EVENT_TYPE_WAITING :
		    (b->kind == CMH_KIND_STARTED || b->kind == CMH_KIND_STEP_STARTED) ?
		    CMH_EVENT_TYPE_STARTED : CMH_EVENT_TYPE_ENDED;
	cmh_buf_reset(url);
	return cmh_buf_addf(url, "%s%s", api_base, p);
}

enum cmh_err cmh_demo_world_event(struct cmh_demo_world *w, const struct cmh_demo_beat *beat,
	const char *api_base, const char *event_id, const char *urn_uuid, struct cmh_buf *out)
{
	const char *type, *verb;
	struct cmh_buf url, urn;
	json_t *ev = NULL, *root = NULL;
	char *s = NULL;
	enum cmh_err err;
	bool ok = true;

	cmh_buf_init(&url, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&urn, CMH_BUF_MAX_SMALL);
	err = object_of(beat, api_base, &url, &type, &verb);
	if (!err)
		err = cmh_buf_addf(&urn, "urn:oeid:cloudmanager:%s", urn_uuid);
	if (err)
		goto out;
	ev = json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:s}, s:{s:s, s:s}}",
		"@id", urn.data, "@type", verb, "xdmEventEnvelope:objectType", type,
		"activitystreams:published", event_time(run_ms(w, beat->run, beat->at_s) + 401),
		"activitystreams:to", "@type", "xdmImsOrg", "xdmImsOrg:id", CMH_DEMO_ORG,
		"activitystreams:object", "@id", url.data, "@type", type);
	/* Only the start event declares the actor (cloudmanager-events.md §2). */
	if (ev && beat->kind == CMH_KIND_STARTED && runs[beat->run].user)
		put(ev, "activitystreams:actor", json_pack("{s:s, s:s}", "@type", "xdmImsUser",
			"xdmImsUser:id", runs[beat->run].user), &ok);
	root = ev && ok ? json_pack("{s:s, s:s, s:O}", "event_id", event_id,
				    "recipient_client_id", CMH_DEMO_CLIENT_ID, "event", ev) : NULL;
	s = root ? json_dumps(root, JSON_COMPACT) : NULL;
	if (!s) {
		err = CMH_ERR_NOMEM;
		goto out;
	}
	cmh_buf_reset(out);
	err = cmh_buf_adds(out, s);
out:
	free(s);
	json_decref(root);
	json_decref(ev);
	cmh_buf_release(&url);
	cmh_buf_release(&urn);
	return err;
}
