/* Unit tests for enrich.c against a fake Cloud Manager API and a fake IMS
 * (tests/integration/lib/fake_server.h) on 127.0.0.1: the five kinds, the
 * outcome and status mapping, the origin rules (forged object URLs and
 * foreign HAL links cost no request at all), the program/pipeline cache and
 * the "ended but still running" settle logic. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "enrich.h"
#include "fake_server.h"
#include "fixtures.h"
#include "ims.h"
#include "log.h"
#include "message.h"
#include "resource.h"
#include "tmp.h"

#define R CMH_REL
#define P_PATH "/api/program/22734"
#define PL_PATH P_PATH "/pipeline/48201733"
#define EX_PATH PL_PATH "/execution/1190642"
#define STEP_END_PATH EX_PATH "/phase/2401120/step/11033501"
#define WAIT_PATH EX_PATH "/phase/2401121/step/11033504"
#define STEP_RUN_PATH EX_PATH "/phase/2401119/step/11033500"

#define T_CREATED   1749719708412LL
#define T_FINISHED  1749725881512LL
#define LINK_TAIL "cloud-manager/pipelineexecution.html/program/22734/pipeline/48201733/execution/1190642"

struct env {
	struct fake_server *api, *ims_srv, *foreign;
	struct fx_ims tokens;
	struct cmh_config cfg;
	struct cmh_ims *ims;
	struct cmh_enricher *e;
	int64_t now_ms;            /* the enricher's clock; atomic access */
	struct cmh_buf msg;
	char *url;                 /* last object URL built by obj_url() */
};

static int64_t fake_clock(void *ud)
{
	struct env *v = ud;

	return __atomic_load_n(&v->now_ms, __ATOMIC_SEQ_CST);
}

static char *fixture(const char *name)
{
	char *path = tmp_xasprintf("%s/tests/data/cm/%s", CMH_SOURCE_DIR, name);
	char *data = tmp_read(path, NULL);

	if (!data)
		fail_msg("cannot read %s", path);
	free(path);
	return data;
}

static void serve_fixture(struct env *v, const char *path, const char *name)
{
	char *body = fixture(name);

	fake_push_json(v->api, "GET", path, 200, body);
	free(body);
}

/* The standard program and pipeline (§11.2, §11.3). */
static void serve_program_pipeline(struct env *v)
{
	serve_fixture(v, P_PATH, "program-11.2.json");
	serve_fixture(v, PL_PATH, "pipeline-11.3.json");
}

static int setup(void **state)
{
	struct env *v = calloc(1, sizeof(*v));

	if (!v)
		return -1;
	v->api = fake_start();
	v->ims_srv = fake_start();
	v->foreign = fake_start();
	if (!v->api || !v->ims_srv || !v->foreign)
		return -1;
	fx_ims_init(&v->tokens);
	fx_ims_install(&v->tokens, v->ims_srv);
	v->cfg.client_id = (char *)FX_CLIENT_ID;
	v->cfg.api_key = (char *)"";
	v->cfg.organization_id = (char *)FX_ORG;
	v->cfg.grant_type = (char *)"client_credentials";
	v->cfg.scopes = (char *)FX_SCOPES;
	v->cfg.ims_url = (char *)fake_url(v->ims_srv);
	v->cfg.cloudmanager_api_url = (char *)fake_url(v->api);
	v->cfg.data_dir = (char *)"";
	v->cfg.http_timeout_ms = 10000;
	if (cmh_secret_set(&v->cfg.client_secret, "s3cret", 6) != CMH_OK)
		return -1;
	if (cmh_ims_new(&v->cfg, NULL, NULL, &v->ims) != CMH_OK)
		return -1;
	cmh_ims_set_backoff(v->ims, 1, 2);
	v->now_ms = 1750000000000LL;
	if (cmh_enricher_new(&v->cfg, v->ims, fake_clock, v, &v->e) != CMH_OK)
		return -1;
	cmh_buf_init(&v->msg, CMH_BUF_MAX_ERRMSG);
	*state = v;
	return 0;
}

static int teardown(void **state)
{
	struct env *v = *state;

	cmh_enricher_free(v->e);
	cmh_ims_free(v->ims);
	cmh_secret_clear(&v->cfg.client_secret);
	fake_stop(v->api);
	fake_stop(v->ims_srv);
	fake_stop(v->foreign);
	cmh_buf_release(&v->msg);
	free(v->url);
	free(v);
	return 0;
}

static const char *obj_url(struct env *v, const char *path)
{
	free(v->url);
	v->url = tmp_xasprintf("%s%s", fake_url(v->api), path);
	return v->url;
}

static enum cmh_err enrich(struct env *v, enum cmh_event_kind kind, const char *path, bool settle,
			   struct cmh_message *m)
{
	cmh_buf_reset(&v->msg);
	return cmh_enrich(v->e, kind, "evt-1", obj_url(v, path), 1749719708913LL, settle, m,
			  &v->msg);
}

static void expect_ok(struct env *v, enum cmh_event_kind kind, const char *path, bool settle,
		      struct cmh_message *m)
{
	enum cmh_err err = enrich(v, kind, path, settle, m);

	if (err)
		fail_msg("enrich %s: %s: %s", path, cmh_strerror(err), v->msg.data);
}

static void assert_common(const struct cmh_message *m)
{
	assert_string_equal(m->event_id, "evt-1");
	assert_int_equal(m->published_ms, 1749719708913LL);
	assert_string_equal(m->program_id, "22734");
	assert_string_equal(m->program_name, "Acme Corp Main Site");
	assert_string_equal(m->pipeline_id, "48201733");
	assert_string_equal(m->pipeline_name, "Production Full Stack");
	assert_string_equal(m->pipeline_type, "CI_CD");
	assert_string_equal(m->pipeline_target, "stage, prod");
	assert_string_equal(m->execution_id, "1190642");
	assert_string_equal(m->link, "https://experience.adobe.com/#/@acmecorp/" LINK_TAIL);
	assert_int_equal(m->started_ms, T_CREATED);
}

static void assert_stats(struct env *v, uint64_t requests, uint64_t hits)
{
	struct cmh_enrich_stats s;

	cmh_enricher_stats(v->e, &s);
	assert_int_equal(s.api_requests, requests);
	assert_int_equal(s.cache_hits, hits);
}

/* ---- the five kinds ------------------------------------------------------- */

static void test_enrich_execution_started(void **state)
{
	struct env *v = *state;
	struct cmh_message m;
	const struct fake_request *rq;
	char *auth;

	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	serve_program_pipeline(v);
	expect_ok(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	assert_common(&m);
	assert_int_equal(m.kind, CMH_KIND_STARTED);
	assert_string_equal(m.execution_status, "RUNNING");
	assert_string_equal(m.trigger, "MANUAL");
	assert_string_equal(m.started_by, "8A2B3C4D5E6F7A8B9C0D1E2F@AdobeID");
	assert_int_equal(m.finished_ms, -1);
	assert_int_equal(m.duration_ms, -1);
	assert_int_equal(m.outcome, CMH_OUTCOME_NONE);
	assert_false(m.has_step);
	assert_false(m.has_failed_step);
	assert_false(m.needs_action);
	assert_null(m.waiting_reason);
	cmh_message_release(&m);

	/* One request per resource, all with the token, one token in all. */
	assert_int_equal(fake_count(v->api, "GET", EX_PATH), 1);
	assert_int_equal(fake_count(v->api, "GET", P_PATH), 1);
	assert_int_equal(fake_count(v->api, "GET", PL_PATH), 1);
	assert_int_equal(fake_count(v->api, NULL, NULL), 3);
	assert_int_equal(fx_ims_issued(&v->tokens), 1);
	auth = tmp_xasprintf("Bearer %s.1", v->tokens.prefix);
	for (size_t i = 0; i < 3; i++) {
		rq = fake_request_nth(v->api, NULL, NULL, i);
		assert_non_null(rq);
		assert_string_equal(fake_header(rq, "Authorization"), auth);
		assert_string_equal(fake_header(rq, "x-gw-ims-org-id"), FX_ORG);
	}
	free(auth);
	assert_stats(v, 3, 0);
}

static void test_enrich_execution_ended_finished(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	serve_fixture(v, EX_PATH, "execution-finished.json");
	serve_program_pipeline(v);
	expect_ok(v, CMH_KIND_ENDED, EX_PATH, false, &m);
	assert_common(&m);
	assert_string_equal(m.execution_status, "FINISHED");
	assert_int_equal(m.outcome, CMH_OUTCOME_SUCCEEDED);
	assert_int_equal(m.finished_ms, T_FINISHED);
	assert_int_equal(m.duration_ms, T_FINISHED - T_CREATED);
	assert_false(m.has_failed_step);
	assert_false(m.has_step);
	cmh_message_release(&m);
}

static void test_enrich_execution_ended_failed(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	serve_fixture(v, EX_PATH, "execution-failed.json");
	serve_program_pipeline(v);
	expect_ok(v, CMH_KIND_ENDED, EX_PATH, false, &m);
	assert_common(&m);
	assert_string_equal(m.execution_status, "FAILED");
	assert_int_equal(m.outcome, CMH_OUTCOME_FAILED);
	assert_int_equal(m.duration_ms, 1749720473020LL - T_CREATED);
	assert_true(m.has_failed_step);
	assert_string_equal(m.failed_step.action, "build");
	assert_string_equal(m.failed_step.label, cmh_step_action_label("build"));
	assert_string_equal(m.failed_step.status, "FAILED");
	assert_int_equal(m.failed_step.started_ms, 1749719717954LL);
	assert_int_equal(m.failed_step.finished_ms, 1749720472900LL);
	cmh_message_release(&m);
}

static void test_enrich_execution_ended_error_status(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	fake_push_json(v->api, "GET", EX_PATH, 200,
		       "{\"status\":\"ERROR\",\"createdAt\":\"2025-06-12T09:15:08.412+0000\","
		       "\"finishedAt\":\"2025-06-12T09:15:07.000+0000\",\"_embedded\":{\"stepStates\":["
		       "{\"action\":\"validate\",\"status\":\"FINISHED\"},"
		       "{\"action\":\"securityTest\",\"status\":\"ERROR\"},"
		       "{\"action\":\"deploy\",\"status\":\"FAILED\"}]}}");
	serve_program_pipeline(v);
	expect_ok(v, CMH_KIND_ENDED, EX_PATH, false, &m);
	assert_int_equal(m.outcome, CMH_OUTCOME_FAILED);
	assert_int_equal(m.duration_ms, -1);   /* finished before created: no duration */
	assert_true(m.has_failed_step);
	assert_string_equal(m.failed_step.action, "securityTest");   /* the first one */
	assert_null(m.started_by);
	assert_string_equal(m.trigger, "MANUAL");   /* the execution has none: the pipeline's */
	cmh_message_release(&m);
}

static void test_enrich_execution_ended_cancelled(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	serve_fixture(v, EX_PATH, "execution-cancelled.json");
	serve_program_pipeline(v);
	expect_ok(v, CMH_KIND_ENDED, EX_PATH, false, &m);
	assert_common(&m);
	assert_int_equal(m.outcome, CMH_OUTCOME_CANCELLED);
	assert_string_equal(m.execution_status, "CANCELLED");
	assert_string_equal(m.trigger, "ON_COMMIT");
	assert_null(m.started_by);   /* "user": "" for automatic runs */
	assert_int_equal(m.duration_ms, 1749720008412LL - T_CREATED);
	assert_false(m.has_failed_step);
	cmh_message_release(&m);
}

static void test_enrich_step_ended(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	serve_fixture(v, STEP_END_PATH, "stepstate-11.5-finished.json");
	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	serve_program_pipeline(v);
	expect_ok(v, CMH_KIND_STEP_ENDED, STEP_END_PATH, false, &m);
	assert_common(&m);
	assert_int_equal(m.kind, CMH_KIND_STEP_ENDED);
	assert_string_equal(m.execution_status, "RUNNING");
	assert_true(m.has_step);
	assert_string_equal(m.step.action, "deploy");
	assert_string_equal(m.step.label, cmh_step_action_label("deploy"));
	assert_string_equal(m.step.status, "FINISHED");
	assert_string_equal(m.step.environment, "acme-main-stage");
	assert_string_equal(m.step.environment_type, "stage");
	assert_int_equal(m.step.started_ms, 1749720242311LL);
	assert_int_equal(m.step.finished_ms, 1749721297980LL);
	assert_int_equal(m.duration_ms, 1749721297980LL - 1749720242311LL);
	assert_int_equal(m.outcome, CMH_OUTCOME_SUCCEEDED);
	assert_false(m.needs_action);
	cmh_message_release(&m);
	/* Step state, its execution, program, pipeline. */
	assert_int_equal(fake_count(v->api, NULL, NULL), 4);
	assert_int_equal(fake_count(v->api, "GET", EX_PATH), 1);
}

static void test_enrich_step_ended_rolled_back(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	fake_push_json(v->api, "GET", STEP_END_PATH, 200,
		       "{\"action\":\"deploy\",\"status\":\"ROLLED_BACK\",\"environmentType\":\"prod\"}");
	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	serve_program_pipeline(v);
	expect_ok(v, CMH_KIND_STEP_ENDED, STEP_END_PATH, false, &m);
	assert_int_equal(m.outcome, CMH_OUTCOME_ROLLED_BACK);
	assert_int_equal(m.duration_ms, -1);   /* no startedAt */
	assert_string_equal(m.step.environment_type, "prod");
	cmh_message_release(&m);
}

static void test_enrich_waiting_approval(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	serve_fixture(v, WAIT_PATH, "stepstate-waiting-approval.json");
	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	serve_program_pipeline(v);
	expect_ok(v, CMH_KIND_WAITING, WAIT_PATH, false, &m);
	assert_common(&m);
	assert_true(m.needs_action);
	assert_string_equal(m.waiting_reason, "Go-Live approval");
	assert_true(m.has_step);
	assert_string_equal(m.step.action, "approval");
	assert_string_equal(m.step.label, cmh_step_action_label("approval"));
	assert_string_equal(m.step.status, "WAITING");
	assert_string_equal(m.step.environment, "acme-main-prod");
	assert_int_equal(m.outcome, CMH_OUTCOME_NONE);
	assert_int_equal(m.duration_ms, -1);
	cmh_message_release(&m);
}

static void test_enrich_waiting_reasons(void **state)
{
	static const struct {
		const char *action;
		const char *reason;
	} cases[] = {
		{ "approval", "Go-Live approval" },
		{ "schedule", "production deployment to be scheduled" },
		{ "managed", "CSE oversight" },
		{ "codeQuality", "important metrics failed: override or reject" },
		{ "securityTest", "important metrics failed: override or reject" },
		{ "loadTest", "important metrics failed: override or reject" },
		{ "assetsTest", "important metrics failed: override or reject" },
		{ "reportPerformanceTest", "important metrics failed: override or reject" },
		{ "deploy", "paused deployment: resume or stop" },
		{ "somethingNew", "waiting for input" },
		{ NULL, "waiting for input" },
	};
	struct env *v = *state;
	struct cmh_message m;

	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	serve_program_pipeline(v);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = cases[i].action
			? tmp_xasprintf("{\"action\":\"%s\",\"status\":\"WAITING\"}", cases[i].action)
			: tmp_xasprintf("{\"status\":\"WAITING\"}");

		fake_push_json(v->api, "GET", WAIT_PATH, 200, body);
		free(body);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expect_ok(v, CMH_KIND_WAITING, WAIT_PATH, false, &m);
		assert_true(m.needs_action);
		assert_string_equal(m.waiting_reason, cases[i].reason);
		if (cases[i].action) {
			assert_string_equal(m.step.action, cases[i].action);
			assert_non_null(m.step.label);
		} else {
			assert_null(m.step.action);
			assert_null(m.step.label);
		}
		cmh_message_release(&m);
	}
}

/* A step state without any _links: every URL is derived from the object URL. */
static void test_enrich_step_started_derives_links(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	fake_push_json(v->api, "GET", STEP_RUN_PATH, 200,
		       "{\"action\":\"build\",\"status\":\"RUNNING\","
		       "\"startedAt\":\"2025-06-12T09:15:17.954+0000\"}");
	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	serve_program_pipeline(v);
	expect_ok(v, CMH_KIND_STEP_STARTED, STEP_RUN_PATH, false, &m);
	assert_common(&m);
	assert_true(m.has_step);
	assert_string_equal(m.step.action, "build");
	assert_string_equal(m.step.status, "RUNNING");
	assert_int_equal(m.outcome, CMH_OUTCOME_NONE);
	assert_int_equal(m.duration_ms, -1);
	assert_false(m.needs_action);
	cmh_message_release(&m);
	assert_int_equal(fake_count(v->api, "GET", EX_PATH), 1);
	assert_int_equal(fake_count(v->api, "GET", P_PATH), 1);
	assert_int_equal(fake_count(v->api, "GET", PL_PATH), 1);
	assert_int_equal(fake_count(v->api, NULL, NULL), 4);
}

/* Templated or href-less links are not followed: derived URLs instead. */
static void test_enrich_unusable_links_derive(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	fake_push_json(v->api, "GET", EX_PATH, 200,
		       "{\"status\":\"RUNNING\",\"_links\":{"
		       "\"" R "program\":{\"href\":\"/api/program/{programId}\",\"templated\":true},"
		       "\"" R "pipeline\":{\"title\":\"no href\"}}}");
	serve_program_pipeline(v);
	expect_ok(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	assert_string_equal(m.program_name, "Acme Corp Main Site");
	assert_string_equal(m.pipeline_name, "Production Full Stack");
	cmh_message_release(&m);
	assert_int_equal(fake_count(v->api, NULL, NULL), 3);
	assert_int_equal(fake_count(v->api, "GET", "/api/program/{programId}"), 0);
}

/* A link that points elsewhere on the API origin is followed as given. */
static void test_enrich_follows_links(void **state)
{
	struct env *v = *state;
	struct cmh_message m;
	char *body;

	body = tmp_xasprintf("{\"status\":\"RUNNING\",\"_links\":{"
			     "\"" R "program\":{\"href\":\"/api/program/22734?v=2\"},"
			     "\"" R "pipeline\":[{\"href\":\"%s/api/program/22734/pipeline/99\"},"
			     "{\"href\":\"/nope\"}]}}", fake_url(v->api));
	fake_push_json(v->api, "GET", EX_PATH, 200, body);
	free(body);
	serve_fixture(v, P_PATH, "program-11.2.json");
	fake_push_json(v->api, "GET", P_PATH "/pipeline/99", 200,
		       "{\"name\":\"Other\",\"buildTarget\":\"CODE_QUALITY\",\"trigger\":\"ON_COMMIT\"}");
	expect_ok(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	assert_string_equal(m.pipeline_name, "Other");
	assert_string_equal(m.pipeline_target, "CODE_QUALITY");   /* no deploy phases */
	assert_string_equal(m.trigger, "ON_COMMIT");               /* execution has none */
	assert_null(m.pipeline_type);
	/* Ids come from the validated object URL, not from links. */
	assert_string_equal(m.pipeline_id, "48201733");
	cmh_message_release(&m);
	assert_int_equal(fake_count(v->api, "GET", P_PATH), 1);
	assert_string_equal(fake_request_nth(v->api, "GET", P_PATH, 0)->query, "v=2");
	assert_int_equal(fake_count(v->api, "GET", PL_PATH), 0);
	assert_int_equal(fake_count(v->api, "GET", "/nope"), 0);
}

/* ---- statuses and errors -------------------------------------------------- */

static void test_enrich_not_found(void **state)
{
	struct env *v = *state;
	struct cmh_message m = { .event_id = (char *)0x1 };

	fake_push_json(v->api, "GET", EX_PATH, 404, "{\"title\":\"Not Found\"}");
	assert_int_equal(enrich(v, CMH_KIND_ENDED, EX_PATH, false, &m), CMH_ERR_NOT_FOUND);
	assert_string_equal(v->msg.data, "execution not found (404)");
	assert_false(cmh_err_is_transient(CMH_ERR_NOT_FOUND));
	assert_ptr_equal(m.event_id, (char *)0x1);   /* untouched */
	assert_int_equal(fake_count(v->api, NULL, NULL), 1);

	fake_push_json(v->api, "GET", WAIT_PATH, 404, "{}");
	assert_int_equal(enrich(v, CMH_KIND_WAITING, WAIT_PATH, false, &m), CMH_ERR_NOT_FOUND);
	assert_string_equal(v->msg.data, "step state not found (404)");

	/* A 404 further down the walk counts too. */
	serve_fixture(v, STEP_END_PATH, "stepstate-11.5-finished.json");
	assert_int_equal(enrich(v, CMH_KIND_STEP_ENDED, STEP_END_PATH, false, &m), CMH_ERR_NOT_FOUND);
	assert_string_equal(v->msg.data, "execution not found (404)");
}

static void test_enrich_upstream_transient(void **state)
{
	struct env *v = *state;
	struct cmh_message m;
	enum cmh_err err;

	/* A route's answers are used in order: script them all first. */
	fake_push_json(v->api, "GET", EX_PATH, 503, "{\"error_code\":\"503\"}");
	fake_push_json(v->api, "GET", EX_PATH, 429, "{}");
	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	serve_program_pipeline(v);
	err = enrich(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	assert_int_equal(err, CMH_ERR_UPSTREAM);
	assert_true(cmh_err_is_transient(err));
	assert_non_null(strstr(v->msg.data, "503"));

	err = enrich(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	assert_int_equal(err, CMH_ERR_UPSTREAM);
	assert_non_null(strstr(v->msg.data, "429"));

	/* Recovery: the same event works once the API is back. */
	expect_ok(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	cmh_message_release(&m);
}

static void test_enrich_network_error_transient(void **state)
{
	struct env *v = *state;
	struct cmh_message m;
	struct fake_response drop = { .drop = true };
	enum cmh_err err;

	fake_push(v->api, "GET", EX_PATH, &drop);
	err = enrich(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	assert_int_not_equal(err, CMH_OK);
	assert_true(cmh_err_is_transient(err));
}

static void test_enrich_auth_errors(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	/* 401 twice: cmapi refreshed the token once, then it is an AUTH error. */
	fake_push_json(v->api, "GET", EX_PATH, 401, "{\"error_code\":\"401013\"}");
	assert_int_equal(enrich(v, CMH_KIND_STARTED, EX_PATH, false, &m), CMH_ERR_AUTH);
	assert_non_null(strstr(v->msg.data, "401"));
	assert_int_equal(fake_count(v->api, "GET", EX_PATH), 2);
	assert_int_equal(fx_ims_issued(&v->tokens), 2);
	assert_false(cmh_err_is_transient(CMH_ERR_AUTH));

	fake_push_json(v->api, "GET", WAIT_PATH, 403, "{}");
	assert_int_equal(enrich(v, CMH_KIND_WAITING, WAIT_PATH, false, &m), CMH_ERR_AUTH);
	assert_non_null(strstr(v->msg.data, "403"));
	assert_non_null(strstr(v->msg.data, "product profile"));
	/* The token is not in the message. */
	assert_null(strstr(v->msg.data, v->tokens.prefix));
}

static void test_enrich_unparseable_is_permanent(void **state)
{
	struct env *v = *state;
	struct cmh_message m;
	enum cmh_err err;

	fake_push_json(v->api, "GET", EX_PATH, 200, "<html>maintenance</html>");
	fake_push_json(v->api, "GET", EX_PATH, 200, "[]");
	fake_push_json(v->api, "GET", EX_PATH, 200, "{\"status\":\"RUNNING\"}");
	fake_push_json(v->api, "GET", P_PATH, 200, "");
	serve_program_pipeline(v);
	err = enrich(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	assert_int_equal(err, CMH_ERR_PARSE);
	assert_false(cmh_err_is_transient(err));

	assert_int_equal(enrich(v, CMH_KIND_STARTED, EX_PATH, false, &m), CMH_ERR_PARSE);
	/* The program is broken, not the execution. */
	assert_int_equal(enrich(v, CMH_KIND_STARTED, EX_PATH, false, &m), CMH_ERR_PARSE);
	assert_int_equal(fake_count(v->api, "GET", PL_PATH), 0);
	/* ... and a broken body is not cached. */
	expect_ok(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	assert_string_equal(m.program_name, "Acme Corp Main Site");
	cmh_message_release(&m);
	assert_int_equal(fake_count(v->api, "GET", P_PATH), 2);
}

/* ---- origin rules --------------------------------------------------------- */

static void test_enrich_forged_object_urls(void **state)
{
	struct env *v = *state;
	const char *api = fake_url(v->api);
	char *urls[] = {
		tmp_xasprintf("%s" EX_PATH, fake_url(v->foreign)),            /* another host */
		tmp_xasprintf("%s" EX_PATH "/x", api),                        /* extra path */
		tmp_xasprintf("%s" EX_PATH "/", api),
		tmp_xasprintf("%s" EX_PATH "?a=1", api),
		tmp_xasprintf("%s" EX_PATH "#f", api),
		tmp_xasprintf("%s/api/program/22734/pipeline/48201733/execution/1190642/../1", api),
		tmp_xasprintf("%s/api/program/22734/pipeline/48201733/execution/%%31", api),
		tmp_xasprintf("%s" STEP_END_PATH, api),                      /* step URL, exec kind */
		tmp_xasprintf("%s/api/program/x/pipeline/1/execution/1", api),
		tmp_xasprintf("http://user@127.0.0.1:%u" EX_PATH, fake_port(v->api)),
		tmp_xasprintf("%s" EX_PATH, "https://cloudmanager.adobe.io"),
		tmp_xasprintf("%s", ""),
	};
	struct cmh_message m;

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		cmh_buf_reset(&v->msg);
		if (cmh_enrich(v->e, CMH_KIND_ENDED, "evt", urls[i], -1, true, &m, &v->msg) !=
		    CMH_ERR_FORBIDDEN)
			fail_msg("case %zu (%s) not refused", i, urls[i]);
		assert_string_equal(v->msg.data, "untrusted origin");
		free(urls[i]);
	}
	/* An execution URL for a step kind, NULL. */
	assert_int_equal(cmh_enrich(v->e, CMH_KIND_WAITING, "evt", obj_url(v, EX_PATH), -1, true,
				    &m, &v->msg), CMH_ERR_FORBIDDEN);
	assert_int_equal(cmh_enrich(v->e, CMH_KIND_STARTED, "evt", NULL, -1, true, &m, NULL),
			 CMH_ERR_FORBIDDEN);
	/* Not a Cloud Manager kind, no event id. */
	assert_int_equal(cmh_enrich(v->e, CMH_KIND_OTHER, "evt", obj_url(v, EX_PATH), -1, true,
				    &m, NULL), CMH_ERR_USAGE);
	assert_int_equal(cmh_enrich(v->e, (enum cmh_event_kind)42, "evt", obj_url(v, EX_PATH), -1,
				    true, &m, NULL), CMH_ERR_USAGE);
	assert_int_equal(cmh_enrich(v->e, CMH_KIND_STARTED, NULL, obj_url(v, EX_PATH), -1, true,
				    &m, NULL), CMH_ERR_USAGE);
	/* Nobody was asked anything, not even IMS for a token. */
	assert_int_equal(fake_count(v->api, NULL, NULL), 0);
	assert_int_equal(fake_count(v->foreign, NULL, NULL), 0);
	assert_int_equal(fake_count(v->ims_srv, NULL, NULL), 0);
	assert_int_equal(cmh_ims_requests(v->ims), 0);
	assert_stats(v, 0, 0);
}

static void test_enrich_foreign_link_refused(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	for (size_t i = 0; i < 2; i++) {
		char *href = i == 0 ? tmp_xasprintf("%s/api/program/22734", fake_url(v->foreign))
				    : tmp_xasprintf("//127.0.0.1:%u/api/program/22734",
						    fake_port(v->foreign));
		char *body = tmp_xasprintf("{\"status\":\"RUNNING\",\"_links\":{"
					   "\"" R "program\":{\"href\":\"%s\"}}}", href);

		fake_push_json(v->api, "GET", EX_PATH, 200, body);
		free(body);
		free(href);
	}
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(enrich(v, CMH_KIND_STARTED, EX_PATH, false, &m), CMH_ERR_FORBIDDEN);
		assert_non_null(strstr(v->msg.data, R "program"));
	}
	/* A foreign execution link in a step state: same. */
	{
		char *body = tmp_xasprintf("{\"status\":\"WAITING\",\"action\":\"approval\",\"_links\":{"
					   "\"" R "execution\":{\"href\":\"%s" EX_PATH "\"}}}",
					   fake_url(v->foreign));

		fake_push_json(v->api, "GET", WAIT_PATH, 200, body);
		assert_int_equal(enrich(v, CMH_KIND_WAITING, WAIT_PATH, false, &m), CMH_ERR_FORBIDDEN);
		free(body);
	}
	assert_int_equal(fake_count(v->foreign, NULL, NULL), 0);
	assert_int_equal(fake_count(v->api, "GET", P_PATH), 0);
	assert_int_equal(fake_count(v->api, "GET", EX_PATH), 2);
}

/* ---- cache ---------------------------------------------------------------- */

static void test_enrich_cache(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	serve_fixture(v, EX_PATH, "execution-finished.json");
	serve_fixture(v, STEP_END_PATH, "stepstate-11.5-finished.json");
	serve_program_pipeline(v);

	expect_ok(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	cmh_message_release(&m);
	expect_ok(v, CMH_KIND_ENDED, EX_PATH, false, &m);
	assert_int_equal(m.outcome, CMH_OUTCOME_SUCCEEDED);
	assert_common(&m);
	cmh_message_release(&m);
	assert_int_equal(fake_count(v->api, "GET", P_PATH), 1);
	assert_int_equal(fake_count(v->api, "GET", PL_PATH), 1);
	assert_int_equal(fake_count(v->api, "GET", EX_PATH), 2);
	assert_stats(v, 4, 2);   /* the second event cost one request */

	/* A step event of the same execution: step + execution only. */
	expect_ok(v, CMH_KIND_STEP_ENDED, STEP_END_PATH, false, &m);
	assert_common(&m);
	cmh_message_release(&m);
	assert_stats(v, 6, 4);

	/* Just before the TTL: still cached; after it: fetched again. */
	__atomic_add_fetch(&v->now_ms, CMH_ENRICH_CACHE_TTL_MS - 1, __ATOMIC_SEQ_CST);
	expect_ok(v, CMH_KIND_ENDED, EX_PATH, false, &m);
	cmh_message_release(&m);
	assert_int_equal(fake_count(v->api, "GET", P_PATH), 1);
	__atomic_add_fetch(&v->now_ms, 1, __ATOMIC_SEQ_CST);
	expect_ok(v, CMH_KIND_ENDED, EX_PATH, false, &m);
	cmh_message_release(&m);
	assert_int_equal(fake_count(v->api, "GET", P_PATH), 2);
	assert_int_equal(fake_count(v->api, "GET", PL_PATH), 2);

	/* Clearing the cache forces a fetch. */
	cmh_enricher_clear_cache(v->e);
	expect_ok(v, CMH_KIND_ENDED, EX_PATH, false, &m);
	cmh_message_release(&m);
	assert_int_equal(fake_count(v->api, "GET", P_PATH), 3);
}

/* More distinct programs than the cache holds: it stays bounded and correct. */
static void test_enrich_cache_bounded(void **state)
{
	struct env *v = *state;
	struct cmh_message m;
	const int n = CMH_ENRICH_CACHE_MAX_ENTRIES / 2 + 3;   /* 2 entries per program */

	for (int i = 0; i < n; i++) {
		char *ex = tmp_xasprintf("/api/program/%d/pipeline/7/execution/1", i + 1);
		char *pr = tmp_xasprintf("/api/program/%d", i + 1);
		char *pl = tmp_xasprintf("/api/program/%d/pipeline/7", i + 1);
		char *name = tmp_xasprintf("{\"name\":\"P%d\"}", i + 1);

		fake_push_json(v->api, "GET", ex, 200, "{\"status\":\"RUNNING\"}");
		fake_push_json(v->api, "GET", pr, 200, name);
		fake_push_json(v->api, "GET", pl, 200, "{\"name\":\"PL\"}");
		expect_ok(v, CMH_KIND_STARTED, ex, false, &m);
		assert_memory_equal(m.program_name, name + 9, strlen(m.program_name));
		assert_int_equal(strlen(m.program_name), strlen(name) - 11);
		cmh_message_release(&m);
		__atomic_add_fetch(&v->now_ms, 1, __ATOMIC_SEQ_CST);
		free(ex);
		free(pr);
		free(pl);
		free(name);
	}
	/* The most recent program is still cached, the very first was evicted. */
	expect_ok(v, CMH_KIND_STARTED, "/api/program/1/pipeline/7/execution/1", false, &m);
	assert_string_equal(m.program_name, "P1");
	cmh_message_release(&m);
	assert_int_equal(fake_count(v->api, "GET", "/api/program/1"), 2);
	{
		char *ex = tmp_xasprintf("/api/program/%d/pipeline/7/execution/1", n);
		char *pr = tmp_xasprintf("/api/program/%d", n);

		expect_ok(v, CMH_KIND_STARTED, ex, false, &m);
		cmh_message_release(&m);
		assert_int_equal(fake_count(v->api, "GET", pr), 1);
		free(ex);
		free(pr);
	}
}

/* ---- settle ----------------------------------------------------------------- */

static void test_enrich_ended_but_running(void **state)
{
	struct env *v = *state;
	struct cmh_message m;
	enum cmh_err err;

	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	fake_push_json(v->api, "GET", EX_PATH, 200, "{\"status\":\"CANCELLING\"}");
	fake_push_json(v->api, "GET", EX_PATH, 200, "{\"status\":\"NOT_STARTED\"}");
	fake_push_json(v->api, "GET", EX_PATH, 200, "{\"status\":\"SOMETHING_NEW\"}");
	serve_program_pipeline(v);
	err = enrich(v, CMH_KIND_ENDED, EX_PATH, false, &m);
	assert_int_equal(err, CMH_ERR_UNAVAILABLE);
	assert_true(cmh_err_is_transient(err));
	assert_string_equal(v->msg.data, "execution still RUNNING");
	/* Decided before program and pipeline were fetched. */
	assert_int_equal(fake_count(v->api, NULL, NULL), 1);

	expect_ok(v, CMH_KIND_ENDED, EX_PATH, true, &m);
	assert_common(&m);
	assert_int_equal(m.outcome, CMH_OUTCOME_UNKNOWN);
	assert_string_equal(m.execution_status, "RUNNING");
	assert_int_equal(m.duration_ms, -1);
	assert_false(m.has_failed_step);
	cmh_message_release(&m);

	/* CANCELLING and NOT_STARTED are not terminal either. */
	assert_int_equal(enrich(v, CMH_KIND_ENDED, EX_PATH, false, &m), CMH_ERR_UNAVAILABLE);
	assert_string_equal(v->msg.data, "execution still CANCELLING");
	assert_int_equal(enrich(v, CMH_KIND_ENDED, EX_PATH, false, &m), CMH_ERR_UNAVAILABLE);
	assert_string_equal(v->msg.data, "execution still NOT_STARTED");
	/* An unknown status cannot be waited out: reported as unknown. */
	expect_ok(v, CMH_KIND_ENDED, EX_PATH, false, &m);
	assert_int_equal(m.outcome, CMH_OUTCOME_UNKNOWN);
	assert_string_equal(m.execution_status, "SOMETHING_NEW");
	cmh_message_release(&m);
}

static void test_enrich_step_ended_but_running(void **state)
{
	struct env *v = *state;
	struct cmh_message m;

	fake_push_json(v->api, "GET", STEP_END_PATH, 200,
		       "{\"action\":\"deploy\",\"status\":\"RUNNING\","
		       "\"startedAt\":\"2025-06-12T09:24:02.311+0000\"}");
	fake_push_json(v->api, "GET", STEP_END_PATH, 200,
		       "{\"action\":\"deploy\",\"status\":\"ROLLING_BACK\"}");
	fake_push_json(v->api, "GET", STEP_END_PATH, 200,
		       "{\"action\":\"deploy\",\"status\":\"RUNNING\","
		       "\"startedAt\":\"2025-06-12T09:24:02.311+0000\"}");
	serve_fixture(v, EX_PATH, "execution-11.4-running.json");
	serve_program_pipeline(v);
	assert_int_equal(enrich(v, CMH_KIND_STEP_ENDED, STEP_END_PATH, false, &m),
			 CMH_ERR_UNAVAILABLE);
	assert_string_equal(v->msg.data, "step still RUNNING");
	assert_int_equal(fake_count(v->api, NULL, NULL), 1);
	assert_int_equal(enrich(v, CMH_KIND_STEP_ENDED, STEP_END_PATH, false, &m),
			 CMH_ERR_UNAVAILABLE);
	assert_string_equal(v->msg.data, "step still ROLLING_BACK");
	expect_ok(v, CMH_KIND_STEP_ENDED, STEP_END_PATH, true, &m);
	assert_int_equal(m.outcome, CMH_OUTCOME_UNKNOWN);
	assert_int_equal(m.duration_ms, -1);
	assert_string_equal(m.step.status, "RUNNING");
	cmh_message_release(&m);
	/* A running execution is fine for a step that ended. */
	assert_int_equal(fake_count(v->api, "GET", EX_PATH), 1);
}

/* ---- hostile content ------------------------------------------------------ */

static void test_enrich_hostile_texts(void **state)
{
	struct env *v = *state;
	struct cmh_message m;
	char *big = tmp_xmalloc(5001);
	char *body;

	memset(big, 'x', 5000);
	big[5000] = '\0';
	fake_push_json(v->api, "GET", EX_PATH, 200, "{\"status\":\"RUNNING\",\"user\":\"a\\nb\"}");
	body = tmp_xasprintf("{\"name\":\"%s\",\"tenantId\":\"acme/../evil?x=1\"}", big);
	fake_push_json(v->api, "GET", P_PATH, 200, body);
	free(body);
	fake_push_json(v->api, "GET", PL_PATH, 200, "{\"name\":\"<!channel> \\u0007\"}");
	expect_ok(v, CMH_KIND_STARTED, EX_PATH, false, &m);
	assert_int_equal(strlen(m.program_name), CMH_RESOURCE_MAX_TEXT);
	assert_string_equal(m.pipeline_name, "<!channel>  ");
	assert_string_equal(m.started_by, "a b");
	/* A tenant that is not a plain name stays out of the link. */
	assert_string_equal(m.link, "https://experience.adobe.com/#/" LINK_TAIL);
	assert_null(m.pipeline_target);
	cmh_message_release(&m);
	free(big);
}

/* ---- threads ---------------------------------------------------------------- */

struct worker {
	struct env *v;
	const char *url;
	int ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 5; i++) {
		struct cmh_message m;

		if (cmh_enrich(w->v->e, CMH_KIND_ENDED, "evt", w->url, -1, false, &m, NULL) == CMH_OK &&
		    m.outcome == CMH_OUTCOME_SUCCEEDED && m.program_name &&
		    strcmp(m.program_name, "Acme Corp Main Site") == 0)
			w->ok++;
		cmh_message_release(&m);
	}
	return NULL;
}

static void test_enrich_concurrent(void **state)
{
	struct env *v = *state;
	struct worker w[4];
	pthread_t t[4];
	struct cmh_enrich_stats s;

	char *prog = fixture("program-11.2.json"), *pipe = fixture("pipeline-11.3.json");

	serve_fixture(v, EX_PATH, "execution-finished.json");
	/* Slow answers make the four workers miss the cold cache together. */
	fake_push(v->api, "GET", P_PATH, &(struct fake_response){ .status = 200, .body = prog,
								.delay_ms = 300 });
	fake_push(v->api, "GET", PL_PATH, &(struct fake_response){ .status = 200, .body = pipe,
								 .delay_ms = 300 });
	free(prog);
	free(pipe);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .v = v, .url = obj_url(v, EX_PATH) };
		w[i].url = strdup(w[i].url);
		assert_non_null(w[i].url);
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].ok, 5);
		free((char *)w[i].url);
	}
	cmh_enricher_stats(v->e, &s);
	assert_int_equal(fake_count(v->api, "GET", EX_PATH), 20);
	/* One fetch each however many workers asked at once. */
	assert_int_equal(fake_count(v->api, "GET", P_PATH), 1);
	assert_int_equal(fake_count(v->api, "GET", PL_PATH), 1);
	assert_int_equal(s.cache_hits + s.cache_misses, 40);
	assert_int_equal(s.api_requests, 20 + s.cache_misses);
	assert_int_equal(fake_count(v->api, NULL, NULL), s.api_requests);
	assert_int_equal(fx_ims_issued(&v->tokens), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_enrich_execution_started),
		T(test_enrich_execution_ended_finished),
		T(test_enrich_execution_ended_failed),
		T(test_enrich_execution_ended_error_status),
		T(test_enrich_execution_ended_cancelled),
		T(test_enrich_step_ended),
		T(test_enrich_step_ended_rolled_back),
		T(test_enrich_waiting_approval),
		T(test_enrich_waiting_reasons),
		T(test_enrich_step_started_derives_links),
		T(test_enrich_unusable_links_derive),
		T(test_enrich_follows_links),
		T(test_enrich_not_found),
		T(test_enrich_upstream_transient),
		T(test_enrich_network_error_transient),
		T(test_enrich_auth_errors),
		T(test_enrich_unparseable_is_permanent),
		T(test_enrich_forged_object_urls),
		T(test_enrich_foreign_link_refused),
		T(test_enrich_cache),
		T(test_enrich_cache_bounded),
		T(test_enrich_ended_but_running),
		T(test_enrich_step_ended_but_running),
		T(test_enrich_hostile_texts),
		T(test_enrich_concurrent),
#undef T
	};

	/* Token notices are expected here; keep the output to failures. */
	cmh_log_set_level(CMH_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
