/*
 * The delivery fixtures of delivery_fx.h: scriptable channel sinks, the fake
 * Cloud Manager API's program, pipeline, executions and step states, Cloud
 * Manager event bodies pointing at that API, and bounded waits on event
 * states as `cmhook events --json` reports them. Process control, signing
 * and the journal listing itself are serve.h's.
 */
#include "delivery_fx.h"

#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#ifndef CMH_SOURCE_DIR
#error "CMH_SOURCE_DIR must name the source tree"
#endif

#define REL "http://ns.adobe.com/adobecloud/rel/"
#define NS "https://ns.adobe.com/experience/cloudmanager/"
#define CREATED_AT "2025-06-12T09:15:08.412+0000"

long dfx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- sinks ------------------------------------------------------------------ */

/* Take one scripted failure, if any is left. */
static bool take_failure(struct dfx_sink *k)
{
	int left = __atomic_load_n(&k->fail_left, __ATOMIC_SEQ_CST);

	for (;;) {
		if (!__atomic_load_n(&k->fail_status, __ATOMIC_SEQ_CST) || left == 0)
			return false;
		if (left < 0)
			return true;
		if (__atomic_compare_exchange_n(&k->fail_left, &left, left - 1, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return true;
	}
}

static void sink_handler(const struct fake_request *req, struct fake_response *resp, void *ud)
{
	struct dfx_sink *k = ud;

	if (take_failure(k)) {
		resp->status = __atomic_load_n(&k->fail_status, __ATOMIC_SEQ_CST);
		resp->body = __atomic_load_n(&k->fail_body, __ATOMIC_SEQ_CST);
		resp->headers = __atomic_load_n(&k->fail_headers, __ATOMIC_SEQ_CST);
	} else {
		resp->status = __atomic_load_n(&k->ok_status, __ATOMIC_SEQ_CST);
		resp->body = __atomic_load_n(&k->ok_body, __ATOMIC_SEQ_CST);
		resp->headers = "Content-Type: text/plain; charset=utf-8";
	}
	if (!resp->headers)
		resp->headers = "Content-Type: text/plain; charset=utf-8";
	resp->delay_ms = __atomic_load_n(&k->delay_ms, __ATOMIC_SEQ_CST);
	if (req->seq < DFX_SINK_MAX)
		__atomic_store_n(&k->answered[req->seq], resp->status, __ATOMIC_SEQ_CST);
}

static bool sink_start(struct dfx_sink *k, const char *path, const char *query,
		       unsigned ok_status, const char *ok_body)
{
	struct fake_response r = { .handler = sink_handler, .ud = k };

	memset(k, 0, sizeof(*k));
	k->f = fake_start();
	if (!k->f)
		return false;
	k->path = path;
	k->url = query ? tmp_xasprintf("%s%s?%s", fake_url(k->f), path, query)
		       : tmp_xasprintf("%s%s", fake_url(k->f), path);
	dfx_sink_ok(k, ok_status, ok_body);
	fake_push(k->f, "POST", path, &r);
	return true;
}

static void sink_stop(struct dfx_sink *k)
{
	fake_stop(k->f);
	k->f = NULL;
	free(k->url);
	k->url = NULL;
}

void dfx_sink_ok(struct dfx_sink *k, unsigned status, const char *body)
{
	__atomic_store_n(&k->ok_body, body, __ATOMIC_SEQ_CST);
	__atomic_store_n(&k->ok_status, status, __ATOMIC_SEQ_CST);
}

void dfx_sink_fail(struct dfx_sink *k, int n, unsigned status, const char *body,
		   const char *headers)
{
	__atomic_store_n(&k->fail_left, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&k->fail_body, body, __ATOMIC_SEQ_CST);
	__atomic_store_n(&k->fail_headers, headers, __ATOMIC_SEQ_CST);
	__atomic_store_n(&k->fail_status, status, __ATOMIC_SEQ_CST);
	__atomic_store_n(&k->fail_left, n, __ATOMIC_SEQ_CST);
}

void dfx_sink_delay(struct dfx_sink *k, unsigned ms)
{
	__atomic_store_n(&k->delay_ms, ms, __ATOMIC_SEQ_CST);
}

size_t dfx_sink_count(struct dfx_sink *k)
{
	return fake_count(k->f, "POST", k->path);
}

const struct fake_request *dfx_sink_request(struct dfx_sink *k, const char *needle, size_t nth)
{
	const struct fake_request *req;

	for (size_t i = 0; (req = fake_request_nth(k->f, "POST", k->path, i)) != NULL; i++) {
		if (fx_contains(req->body, req->body_len, needle) && nth-- == 0)
			return req;
	}
	return NULL;
}

size_t dfx_sink_count_with(struct dfx_sink *k, const char *needle)
{
	size_t n = 0;

	while (dfx_sink_request(k, needle, n))
		n++;
	return n;
}

json_t *dfx_sink_json(struct dfx_sink *k, const char *needle, size_t nth)
{
	const struct fake_request *req = dfx_sink_request(k, needle, nth);
	json_error_t jerr;
	json_t *j;

	if (!req)
		return NULL;
	j = json_loadb(req->body, req->body_len, 0, &jerr);
	if (!j)
		fail_msg("%s got a body that is not JSON (%s): %.300s", k->path, jerr.text,
			 req->body);
	return j;
}

unsigned dfx_sink_answer(struct dfx_sink *k, const struct fake_request *req)
{
	return req->seq < DFX_SINK_MAX ? __atomic_load_n(&k->answered[req->seq], __ATOMIC_SEQ_CST)
				       : 0;
}

/* ---- the world ---------------------------------------------------------------- */

static char *data_file(const char *name)
{
	char *path = tmp_xasprintf("%s/tests/data/cm-integration/%s", CMH_SOURCE_DIR, name);
	char *text = tmp_read(path, NULL);

	if (!text)
		fprintf(stderr, "cannot read %s\n", path);
	free(path);
	return text;
}

static bool serve_resources(struct fake_server *api)
{
	char *program = data_file("program.json");
	char *pipeline = data_file("pipeline.json");
	bool ok = program && pipeline;

	if (ok) {
		fake_push_json(api, "GET", DFX_PROGRAM_PATH, 200, program);
		fake_push_json(api, "GET", DFX_PIPELINE_PATH, 200, pipeline);
	}
	free(program);
	free(pipeline);
	return ok;
}

int dfx_setup(void **state)
{
	struct dfx *d = tmp_xmalloc(sizeof(*d));
	struct run_env *env;

	memset(d, 0, sizeof(*d));
	*state = d;
	if (sv_setup((void **)&d->s) != 0) {
		d->s = NULL;
		(void)dfx_teardown(state);
		return -1;
	}
	if (!sink_start(&d->slack, DFX_SLACK_PATH, NULL, 200, "ok") ||
	    !sink_start(&d->teams, DFX_TEAMS_PATH, DFX_TEAMS_QUERY, 202, "") ||
	    !sink_start(&d->hook, DFX_HOOK_PATH, NULL, 200, "{}") ||
	    !serve_resources(d->s->w->api)) {
		(void)dfx_teardown(state);
		return -1;
	}
	env = &d->s->w->env;
	run_env_set(env, "SIGNATURE_VERIFY", "off");
	run_env_set(env, "NOTIFY_EVENTS", "all");
	run_env_set(env, "RETRY_INITIAL", "200ms");
	run_env_set(env, "RETRY_MAX_DELAY", "1s");
	run_env_set(env, "HTTP_TIMEOUT", "10s");
	run_env_set(env, "LOG_LEVEL", "debug");
	run_env_set(env, "SLACK_WEBHOOK", d->slack.url);
	return 0;
}

int dfx_teardown(void **state)
{
	struct dfx *d = *state;

	if (!d)
		return 0;
	/* serve goes first (sv_teardown kills it), so no request is left waiting on a sink. */
	if (d->s)
		(void)sv_teardown((void **)&d->s);
	sink_stop(&d->slack);
	sink_stop(&d->teams);
	sink_stop(&d->hook);
	free(d);
	*state = NULL;
	return 0;
}

void dfx_use_teams(struct dfx *d, const char *format)
{
	run_env_set(&d->s->w->env, "TEAMS_WEBHOOK", d->teams.url);
	run_env_set(&d->s->w->env, "TEAMS_FORMAT", format);
}

void dfx_use_hook(struct dfx *d)
{
	run_env_set(&d->s->w->env, "NOTIFY_WEBHOOK", d->hook.url);
}

void dfx_no_slack(struct dfx *d)
{
	run_env_unset(&d->s->w->env, "SLACK_WEBHOOK");
}

void dfx_start(struct dfx *d)
{
	sv_start(d->s);
}

void dfx_stop(struct dfx *d)
{
	int code = sv_stop(d->s, SIGTERM, SV_STOP_TIMEOUT_MS);
	char *log = sv_log(d->s);
	bool report = strstr(log, "Sanitizer") || strstr(log, "runtime error:");

	free(log);
	if (code != 0 || report) {
		sv_dump_log(d->s, "stop");
		fail_msg("serve exited %d after SIGTERM%s", code,
			 report ? " with a sanitizer report" : "");
	}
}

/* ---- the fake Cloud Manager API -------------------------------------------------- */

char *dfx_execution_path(const char *exec_id)
{
	return tmp_xasprintf("%s/execution/%s", DFX_PIPELINE_PATH, exec_id);
}

char *dfx_step_path(const char *exec_id, const char *phase, const char *step)
{
	return tmp_xasprintf("%s/execution/%s/phase/%s/step/%s", DFX_PIPELINE_PATH, exec_id,
			     phase, step);
}

static json_t *hal(const char *href)
{
	return json_pack("{s:s, s:b}", "href", href, "templated", 0);
}

/* finishedAt of a terminal execution (created at CREATED_AT), or NULL. */
static const char *finished_at(const char *status)
{
	if (strcmp(status, "FINISHED") == 0)
		return "2025-06-12T10:57:08.412+0000";   /* + 1h 42m 00s */
	if (strcmp(status, "FAILED") == 0)
		return "2025-06-12T09:27:53.020+0000";   /* + 12m 44.608s */
	if (strcmp(status, "CANCELLED") == 0)
		return "2025-06-12T09:41:38.912+0000";   /* + 26m 30.5s */
	return NULL;
}

long long dfx_duration_ms(const char *status)
{
	if (strcmp(status, "FINISHED") == 0)
		return 6120000;
	if (strcmp(status, "FAILED") == 0)
		return 764608;
	if (strcmp(status, "CANCELLED") == 0)
		return 1590500;
	return -1;
}

static json_t *embedded_step(const char *exec_path, const char *id, const char *step,
			     const char *phase, const char *action, const char *status,
			     const char *env_type, const char *started, const char *finished)
{
	char *self = tmp_xasprintf("%s/phase/%s/step/%s", exec_path, phase, step);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:o}}", "id", id, "stepId", step,
			      "phaseId", phase, "action", action, "status", status, "_links",
			      "self", hal(self));

	if (env_type) {
		char *env = tmp_xasprintf("acme-main-%s", env_type);

		(void)json_object_set_new(o, "environment", json_string(env));
		(void)json_object_set_new(o, "environmentType", json_string(env_type));
		free(env);
	}
	if (started)
		(void)json_object_set_new(o, "startedAt", json_string(started));
	if (finished)
		(void)json_object_set_new(o, "finishedAt", json_string(finished));
	free(self);
	return o;
}

/* Step statuses of the build and stage-deploy steps for an execution status. */
static void step_statuses(const char *status, const char **build, const char **deploy)
{
	*build = "FINISHED";
	*deploy = "FINISHED";
	if (strcmp(status, "RUNNING") == 0) {
		*build = "RUNNING";
		*deploy = "NOT_STARTED";
	} else if (strcmp(status, "FAILED") == 0) {
		*build = "FAILED";
		*deploy = "NOT_STARTED";
	} else if (strcmp(status, "CANCELLED") == 0) {
		*deploy = "CANCELLED";
	}
}

char *dfx_execution_json(const char *exec_id, const char *status)
{
	char *path = dfx_execution_path(exec_id);
	const char *fin = finished_at(status);
	const char *build, *deploy;
	json_t *steps, *o;
	char *text;

	step_statuses(status, &build, &deploy);
	steps = json_pack("[o, o, o]",
		embedded_step(path, "31994415", "11033499", "2401118", "validate", "FINISHED",
			      NULL, "2025-06-12T09:15:12.100+0000", "2025-06-12T09:15:15.873+0000"),
		embedded_step(path, "31994416", "11033500", "2401119", "build", build, NULL,
			      "2025-06-12T09:15:17.954+0000",
			      strcmp(build, "RUNNING") ? "2025-06-12T09:27:52.800+0000" : NULL),
		embedded_step(path, "31994417", "11033501", "2401120", "deploy", deploy, "stage",
			      strcmp(deploy, "NOT_STARTED") ? "2025-06-12T09:28:02.311+0000" : NULL,
			      fin && strcmp(status, "FAILED") ? fin : NULL));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
		      " s:{s:o}, s:{s:o, s:o, s:o}}",
		"id", exec_id, "programId", DFX_PROGRAM, "pipelineId", DFX_PIPELINE,
		"artifactsVersion", "2025.612.91508.0001190642",
		"user", "8A2B3C4D5E6F7A8B9C0D1E2F@AdobeID", "status", status, "trigger", "MANUAL",
		"pipelineExecutionMode", "NORMAL", "pipelineType", "CI_CD",
		"createdAt", CREATED_AT, "updatedAt", fin ? fin : "2025-06-12T09:21:44.027+0000",
		"_embedded", "stepStates", steps,
		"_links", REL "program", hal(DFX_PROGRAM_PATH), REL "pipeline", hal(DFX_PIPELINE_PATH),
		"self", hal(path));
	if (!o)
		abort();
	if (fin)
		(void)json_object_set_new(o, "finishedAt", json_string(fin));
	text = json_dumps(o, JSON_INDENT(2));
	if (!text)
		abort();
	json_decref(o);
	free(path);
	return text;
}

void dfx_add_execution_answer(struct dfx *d, const char *exec_id, unsigned code, const char *body)
{
	char *path = dfx_execution_path(exec_id);

	fake_push_json(d->s->w->api, "GET", path, code, body);
	free(path);
}

void dfx_add_execution(struct dfx *d, const char *exec_id, const char *status)
{
	char *body = dfx_execution_json(exec_id, status);

	dfx_add_execution_answer(d, exec_id, 200, body);
	free(body);
}

static bool is_terminal(const char *status)
{
	return strcmp(status, "FINISHED") == 0 || strcmp(status, "FAILED") == 0 ||
	       strcmp(status, "CANCELLED") == 0 || strcmp(status, "ERROR") == 0 ||
	       strcmp(status, "ROLLED_BACK") == 0;
}

void dfx_add_step(struct dfx *d, const char *exec_id, const char *phase, const char *step,
		  const char *action, const char *status, const char *env_type)
{
	char *exec = dfx_execution_path(exec_id);
	char *self = dfx_step_path(exec_id, phase, step);
	json_t *links = json_pack("{s:o, s:o, s:o, s:o}", REL "execution", hal(exec),
				  REL "pipeline", hal(DFX_PIPELINE_PATH), REL "program",
				  hal(DFX_PROGRAM_PATH), "self", hal(self));
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", "31994420", "stepId", step,
			      "phaseId", phase, "action", action, "status", status,
			      "startedAt", "2025-06-12T09:52:40.100+0000");
	char *text;

	if (!links || !o)
		abort();
	if (strcmp(status, "WAITING") == 0) {
		/* A waiting step offers its decisions (cloudmanager-events.md §5). */
		char *adv = tmp_xasprintf("%s/advance", self);
		char *cancel = tmp_xasprintf("%s/cancel", self);

		(void)json_object_set_new(links, REL "pipeline/advance", hal(adv));
		(void)json_object_set_new(links, REL "pipeline/cancel", hal(cancel));
		free(adv);
		free(cancel);
	}
	if (is_terminal(status))
		(void)json_object_set_new(o, "finishedAt",
					  json_string("2025-06-12T09:53:10.600+0000"));
	if (env_type) {
		char *env = tmp_xasprintf("acme-main-%s", env_type);

		(void)json_object_set_new(o, "environment", json_string(env));
		(void)json_object_set_new(o, "environmentId", json_string("130513"));
		(void)json_object_set_new(o, "environmentType", json_string(env_type));
		free(env);
	}
	(void)json_object_set_new(o, "_links", links);
	text = json_dumps(o, JSON_INDENT(2));
	if (!text)
		abort();
	fake_push_json(d->s->w->api, "GET", self, 200, text);
	free(text);
	json_decref(o);
	free(self);
	free(exec);
}

/* ---- events ------------------------------------------------------------------------ */

static const struct {
	const char *name, *type, *object_type, *published;
} kinds[] = {
	[DFX_STARTED] = { "started", NS "event/started", NS "pipeline-execution",
			  "2025-06-12T09:15:08.913Z" },
	[DFX_STEP_STARTED] = { "step-started", NS "event/started", NS "execution-step-state",
			       "2025-06-12T09:15:18.002Z" },
	[DFX_WAITING] = { "waiting", NS "event/waiting", NS "execution-step-state",
			  "2025-06-12T09:52:40.318Z" },
	[DFX_STEP_ENDED] = { "step-ended", NS "event/ended", NS "execution-step-state",
			     "2025-06-12T09:41:38.441Z" },
	[DFX_ENDED] = { "ended", NS "event/ended", NS "pipeline-execution",
			"2025-06-12T10:58:02.775Z" },
};

const char *dfx_kind_name(enum dfx_kind k)
{
	return kinds[k].name;
}

char *dfx_event_url(enum dfx_kind k, const char *object_url, char ret_id[37])
{
	char id[37], urn_id[37], *urn, *text;
	json_t *o;

	tmp_uuid(id);
	tmp_uuid(urn_id);
	urn = tmp_xasprintf("urn:oeid:cloudmanager:%s", urn_id);
	o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}}}",
		"event_id", id, "recipient_client_id", FX_CLIENT_ID, "event",
		"@id", urn, "@type", kinds[k].type,
		"xdmEventEnvelope:objectType", kinds[k].object_type,
		"activitystreams:published", kinds[k].published,
		"activitystreams:to", "@type", "xdmImsOrg", "xdmImsOrg:id", FX_ORG,
		"activitystreams:object", "@id", object_url, "@type", kinds[k].object_type);
	if (!o)
		abort();
	text = json_dumps(o, JSON_COMPACT);
	if (!text)
		abort();
	json_decref(o);
	free(urn);
	if (ret_id)
		memcpy(ret_id, id, sizeof(id));
	return text;
}

char *dfx_event(struct dfx *d, enum dfx_kind k, const char *exec_id, const char *phase,
		const char *step, char ret_id[37])
{
	char *path = phase ? dfx_step_path(exec_id, phase, step) : dfx_execution_path(exec_id);
	char *url = tmp_xasprintf("%s%s", fake_url(d->s->w->api), path);
	char *body = dfx_event_url(k, url, ret_id);

	free(url);
	free(path);
	return body;
}

void dfx_post(struct dfx *d, const char *body)
{
	long status = sv_post_status(d->s, body, strlen(body));

	if (status != 200) {
		sv_dump_log(d->s, "post");
		fail_msg("serve answered %ld to an event, want 200", status);
	}
}

void dfx_post_event(struct dfx *d, enum dfx_kind k, const char *exec_id, const char *phase,
		    const char *step, char ret_id[37])
{
	char *body = dfx_event(d, k, exec_id, phase, step, ret_id);

	dfx_post(d, body);
	free(body);
}

/* ---- the journal ----------------------------------------------------------------------- */

const char *dfx_row_str(json_t *row, const char *key)
{
	const char *v = json_string_value(json_object_get(row, key));

	return v ? v : "";
}

static bool all_have(json_t *rows, char (*ids)[37], size_t n, const char *status)
{
	for (size_t i = 0; i < n; i++) {
		json_t *row = sv_event_find(rows, ids[i]);

		if (!row || strcmp(dfx_row_str(row, "status"), status) != 0)
			return false;
	}
	return true;
}

static void dump_rows(json_t *rows)
{
	char *text = json_dumps(rows, JSON_INDENT(1));

	fprintf(stderr, "---- events --json ----\n%s\n---- end ----\n", text ? text : "?");
	free(text);
}

json_t *dfx_wait_statuses(struct dfx *d, char (*ids)[37], size_t n, const char *status,
			  unsigned timeout_ms)
{
	long until = dfx_now_ms() + (long)timeout_ms;

	for (;;) {
		json_t *rows = sv_events(d->s, NULL);

		if (all_have(rows, ids, n, status))
			return rows;
		if (dfx_now_ms() >= until) {
			sv_dump_log(d->s, "events did not reach their state");
			dump_rows(rows);
			json_decref(rows);
			fail_msg("%zu event(s) not all \"%s\" within %u ms", n, status, timeout_ms);
		}
		json_decref(rows);
		/* The journal has nothing to wait on from outside: poll, boundedly. */
		(void)poll(NULL, 0, 50);
	}
}

json_t *dfx_wait_status(struct dfx *d, const char *id, const char *status, unsigned timeout_ms)
{
	char ids[1][37];
	json_t *rows, *row;

	memcpy(ids[0], id, 37);
	rows = dfx_wait_statuses(d, ids, 1, status, timeout_ms);
	row = json_incref(sv_event_find(rows, id));
	json_decref(rows);
	return row;
}

/* ---- payload checks ------------------------------------------------------------------ */

static char *payload_text(json_t *j)
{
	/* JSON_ENSURE_ASCII off and no escaping of '/': the text a person would read. */
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!text)
		fail_msg("cannot serialise a payload");
	return text;
}

static void expect_text(json_t *j, const char *needle, const char *what, bool ci, bool want)
{
	char *text = payload_text(j);
	size_t len = strlen(text);
	bool has = ci ? fx_contains_ci(text, len, needle) : fx_contains(text, len, needle);

	if (has != want) {
		fprintf(stderr, "---- payload (%s) ----\n%s\n---- end ----\n", what, text);
		free(text);
		fail_msg("%s: the payload %s \"%s\"", what, want ? "lacks" : "contains", needle);
	}
	free(text);
}

void dfx_expect_has(json_t *j, const char *needle, const char *what)
{
	expect_text(j, needle, what, false, true);
}

void dfx_expect_has_ci(json_t *j, const char *needle, const char *what)
{
	expect_text(j, needle, what, true, true);
}

void dfx_expect_lacks(json_t *j, const char *needle, const char *what)
{
	expect_text(j, needle, what, false, false);
}

const char *dfx_json_str(json_t *j, ...)
{
	const char *key;
	va_list ap;

	va_start(ap, j);
	while (j && (key = va_arg(ap, const char *)) != NULL)
		j = json_object_get(j, key);
	va_end(ap);
	return json_string_value(j);
}
