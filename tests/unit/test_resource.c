/* Unit tests for resource.c: the cloudmanager-api.md §11 examples
 * (tests/data/cm/) and hostile bodies: wrong types, arrays where objects
 * belong, templated and foreign links, huge strings, every timestamp form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resource.h"
#include "tmp.h"
#include "url.h"

#define R CMH_REL

static char *fixture(const char *name)
{
	char *path = tmp_xasprintf("%s/tests/data/cm/%s", CMH_SOURCE_DIR, name);
	char *data = tmp_read(path, NULL);

	if (!data)
		fail_msg("cannot read %s", path);
	free(path);
	return data;
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

/* ---- the §11 examples --------------------------------------------------- */

static void test_resource_program_example(void **state)
{
	char *body = fixture("program-11.2.json");
	struct cmh_program p;

	(void)state;
	assert_int_equal(cmh_resource_parse_program(body, strlen(body), &p, NULL), CMH_OK);
	assert_string_equal(p.id, "22734");
	assert_string_equal(p.name, "Acme Corp Main Site");
	assert_string_equal(p.tenant_id, "acmecorp");
	cmh_program_release(&p);
	assert_null(p.name);
	cmh_program_release(&p);   /* twice is fine */
	cmh_program_release(NULL);
	free(body);
}

static void test_resource_pipeline_example(void **state)
{
	char *body = fixture("pipeline-11.3.json");
	struct cmh_pipeline p;

	(void)state;
	assert_int_equal(cmh_resource_parse_pipeline(body, strlen(body), &p, NULL), CMH_OK);
	assert_string_equal(p.id, "48201733");
	assert_string_equal(p.name, "Production Full Stack");
	assert_string_equal(p.type, "CI_CD");
	assert_string_equal(p.trigger, "MANUAL");
	assert_null(p.build_target);
	assert_string_equal(p.deploy_targets, "stage, prod");
	cmh_pipeline_release(&p);
	cmh_pipeline_release(NULL);
	free(body);

	/* The embedded list form: no phases, no type. */
	body = fixture("pipeline-11.1-embedded.json");
	assert_int_equal(cmh_resource_parse_pipeline(body, strlen(body), &p, NULL), CMH_OK);
	assert_string_equal(p.id, "1");
	assert_string_equal(p.name, "main");
	assert_string_equal(p.trigger, "MANUAL");
	assert_null(p.type);
	assert_null(p.deploy_targets);
	cmh_pipeline_release(&p);
	free(body);
}

static void test_resource_execution_example(void **state)
{
	char *body = fixture("execution-11.4-running.json");
	struct cmh_execution x;

	(void)state;
	assert_int_equal(cmh_resource_parse_execution(body, strlen(body), &x, NULL), CMH_OK);
	assert_string_equal(x.id, "1190642");
	assert_string_equal(x.program_id, "22734");
	assert_string_equal(x.pipeline_id, "48201733");
	assert_string_equal(x.status, "RUNNING");
	assert_string_equal(x.trigger, "MANUAL");
	assert_string_equal(x.user, "8A2B3C4D5E6F7A8B9C0D1E2F@AdobeID");
	assert_int_equal(x.created_ms, 1749719708412LL);
	assert_int_equal(x.finished_ms, -1);
	assert_int_equal(x.n_steps, 3);
	assert_string_equal(x.steps[0].action, "validate");
	assert_string_equal(x.steps[0].status, "FINISHED");
	assert_int_equal(x.steps[0].started_ms, 1749719712100LL);
	assert_int_equal(x.steps[0].finished_ms, 1749719715873LL);
	assert_null(x.steps[0].environment);
	assert_string_equal(x.steps[1].action, "build");
	assert_string_equal(x.steps[1].status, "RUNNING");
	assert_int_equal(x.steps[1].started_ms, 1749719717954LL);
	assert_int_equal(x.steps[1].finished_ms, -1);
	assert_string_equal(x.steps[2].action, "deploy");
	assert_string_equal(x.steps[2].status, "NOT_STARTED");
	assert_string_equal(x.steps[2].environment, "acme-main-stage");
	assert_string_equal(x.steps[2].environment_type, "stage");
	assert_int_equal(x.steps[2].started_ms, -1);
	cmh_execution_release(&x);
	assert_null(x.steps);
	assert_int_equal(x.n_steps, 0);
	cmh_execution_release(NULL);
	free(body);
}

static void test_resource_step_state_example(void **state)
{
	char *body = fixture("stepstate-11.5-finished.json");
	struct cmh_step_state s;

	(void)state;
	assert_int_equal(cmh_resource_parse_step_state(body, strlen(body), &s, NULL), CMH_OK);
	assert_string_equal(s.action, "deploy");
	assert_string_equal(s.status, "FINISHED");
	assert_string_equal(s.environment, "acme-main-stage");
	assert_string_equal(s.environment_type, "stage");
	assert_int_equal(s.started_ms, 1749720242311LL);
	assert_int_equal(s.finished_ms, 1749721297980LL);
	assert_null(s.input_json);   /* details without input */
	cmh_step_state_release(&s);
	cmh_step_state_release(NULL);
	free(body);
}

static void test_resource_step_state_input(void **state)
{
	static const struct {
		const char *body;
		const char *input;
	} cases[] = {
		{ "{\"details\":{\"input\":{\"approved\":true}}}", "{\"approved\":true}" },
		{ "{\"details\":{\"input\":{\"override\": true, \"x\":\"\\u00e9\"}}}",
		  "{\"override\":true,\"x\":\"\\u00E9\"}" },
		{ "{\"details\":{\"input\":\"text\"}}", "\"text\"" },
		{ "{\"details\":{\"input\":null}}", NULL },
		{ "{\"details\":[{\"input\":1}]}", NULL },
		{ "{\"details\":\"input\"}", NULL },
		{ "{\"details\":{}}", NULL },
	};
	struct cmh_step_state s;
	char *big;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cmh_resource_parse_step_state(cases[i].body, strlen(cases[i].body),
							       &s, NULL), CMH_OK);
		assert_str_or_null(s.input_json, cases[i].input);
		cmh_step_state_release(&s);
	}
	/* Longer than the text cap: dropped rather than cut into broken JSON. */
	big = tmp_xasprintf("{\"details\":{\"input\":{\"comment\":\"%0300d\"}}}", 0);
	assert_int_equal(cmh_resource_parse_step_state(big, strlen(big), &s, NULL), CMH_OK);
	assert_null(s.input_json);
	cmh_step_state_release(&s);
	free(big);
}

/* ---- links ---------------------------------------------------------------- */

static void expect_link(const char *body, const char *rel, enum cmh_err rc, const char *href)
{
	char *got = (char *)0x1;
	struct cmh_buf msg;

	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	if (cmh_resource_link(body, strlen(body), rel, &got, &msg) != rc)
		fail_msg("link %s in %.80s: expected %s (%s)", rel, body, cmh_strerror(rc), msg.data);
	if (rc == CMH_OK) {
		assert_string_equal(got, href);
		free(got);
	} else {
		assert_ptr_equal(got, (char *)0x1);   /* untouched on error */
		assert_true(msg.len > 0);
	}
	cmh_buf_release(&msg);
}

static void test_resource_link_examples(void **state)
{
	char *links = fixture("links-11.1.json");
	char *pipe = fixture("pipeline-11.3.json");
	char *step = fixture("stepstate-11.5-finished.json");
	char *exec = fixture("execution-11.4-running.json");

	(void)state;
	expect_link(links, R "program", CMH_OK, "/api/program/1234");
	expect_link(links, R "pipeline", CMH_OK, "/api/program/1234/pipeline/5678");
	expect_link(links, "self", CMH_OK, "/api/program/1234/pipeline/5678/execution/9012");
	expect_link(links, R "execution", CMH_ERR_NOT_FOUND, NULL);
	/* Rels are exact strings: https is not http, no prefix is not the rel. */
	expect_link(links, "https://ns.adobe.com/adobecloud/rel/program", CMH_ERR_NOT_FOUND, NULL);
	expect_link(links, "program", CMH_ERR_NOT_FOUND, NULL);
	expect_link(pipe, R "program", CMH_OK, "/api/program/22734");
	expect_link(pipe, R "execution", CMH_OK, "/api/program/22734/pipeline/48201733/execution");
	expect_link(pipe, R "execution/id", CMH_ERR_PARSE, NULL);   /* templated */
	expect_link(step, R "execution", CMH_OK,
		    "/api/program/22734/pipeline/48201733/execution/1190642");
	expect_link(step, R "program", CMH_OK, "/api/program/22734");
	expect_link(exec, R "pipeline", CMH_OK, "/api/program/22734/pipeline/48201733");
	free(links);
	free(pipe);
	free(step);
	free(exec);
}

static void test_resource_link_hostile(void **state)
{
	static const struct {
		const char *body;
		enum cmh_err rc;
		const char *href;
	} cases[] = {
		/* arrays of links: the first one */
		{ "{\"_links\":{\"r\":[{\"href\":\"/a\"},{\"href\":\"/b\"}]}}", CMH_OK, "/a" },
		{ "{\"_links\":{\"r\":[]}}", CMH_ERR_NOT_FOUND, NULL },
		{ "{\"_links\":{\"r\":[\"/a\"]}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":[[{\"href\":\"/a\"}]]}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":[{\"href\":\"/a\",\"templated\":true}]}}", CMH_ERR_PARSE, NULL },
		/* templated */
		{ "{\"_links\":{\"r\":{\"href\":\"/a/{id}\",\"templated\":true}}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":{\"href\":\"/a\",\"templated\":\"true\"}}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":{\"href\":\"/a\",\"templated\":1}}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":{\"href\":\"/a\",\"templated\":false}}}", CMH_OK, "/a" },
		{ "{\"_links\":{\"r\":{\"href\":\"/a\",\"templated\":null}}}", CMH_OK, "/a" },
		/* href */
		{ "{\"_links\":{\"r\":{}}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":{\"href\":\"\"}}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":{\"href\":42}}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":{\"href\":null}}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":{\"href\":[\"/a\"]}}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":\"/a\"}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":null}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":true}}", CMH_ERR_PARSE, NULL },
		/* _links itself */
		{ "{\"_links\":[{\"r\":{\"href\":\"/a\"}}]}", CMH_ERR_NOT_FOUND, NULL },
		{ "{\"_links\":\"r\"}", CMH_ERR_NOT_FOUND, NULL },
		{ "{\"_links\":null}", CMH_ERR_NOT_FOUND, NULL },
		{ "{}", CMH_ERR_NOT_FOUND, NULL },
		{ "{\"r\":{\"href\":\"/a\"}}", CMH_ERR_NOT_FOUND, NULL },
		/* the body */
		{ "", CMH_ERR_PARSE, NULL },
		{ "[]", CMH_ERR_PARSE, NULL },
		{ "\"_links\"", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":{\"href\":\"/a\"}}", CMH_ERR_PARSE, NULL },
		{ "{\"_links\":{\"r\":{\"href\":\"/a\"}},\"_links\":{}}", CMH_ERR_PARSE, NULL },
		/* absolute hrefs come back as written: resolving decides about them */
		{ "{\"_links\":{\"r\":{\"href\":\"https://evil.example/api/program/1\"}}}", CMH_OK,
		  "https://evil.example/api/program/1" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_link(cases[i].body, "r", cases[i].rc, cases[i].href);
	expect_link("{\"_links\":{\"r\":{\"href\":\"/a\"}}}", NULL, CMH_ERR_NOT_FOUND, NULL);
}

static void test_resource_link_foreign_href_refused_by_resolve(void **state)
{
	static const char *const hrefs[] = {
		"https://evil.example/api/program/1",
		"//evil.example/api/program/1",
		"https://cloudmanager.adobe.io.evil.example/api/program/1",
		"http://cloudmanager.adobe.io/api/program/1",
		"https://user@cloudmanager.adobe.io/api/program/1",
	};
	struct cmh_buf out;

	(void)state;
	cmh_buf_init(&out, CMH_BUF_MAX_SMALL);
	for (size_t i = 0; i < sizeof(hrefs) / sizeof(hrefs[0]); i++) {
		char *body = tmp_xasprintf("{\"_links\":{\"" R "program\":{\"href\":\"%s\"}}}",
					   hrefs[i]);
		char *href = NULL;

		assert_int_equal(cmh_resource_link(body, strlen(body), R "program", &href, NULL),
				 CMH_OK);
		assert_int_not_equal(cmh_url_resolve("https://cloudmanager.adobe.io", href, &out,
						     NULL), CMH_OK);
		free(href);
		free(body);
	}
	cmh_buf_release(&out);
}

static void test_resource_link_huge_href(void **state)
{
	size_t n = CMH_RESOURCE_MAX_HREF + 1;
	char *href = tmp_xmalloc(n + 1);
	char *body;

	(void)state;
	memset(href, 'a', n);
	href[0] = '/';
	href[n] = '\0';
	body = tmp_xasprintf("{\"_links\":{\"r\":{\"href\":\"%s\"}}}", href);
	expect_link(body, "r", CMH_ERR_TOO_LARGE, NULL);
	free(body);
	/* Exactly at the limit is fine. */
	href[n - 1] = '\0';
	body = tmp_xasprintf("{\"_links\":{\"r\":{\"href\":\"%s\"}}}", href);
	expect_link(body, "r", CMH_OK, href);
	free(body);
	free(href);
}

/* ---- hostile resources ---------------------------------------------------- */

static void test_resource_not_objects(void **state)
{
	static const char *const bodies[] = {
		"", " ", "null", "[]", "[{\"id\":\"1\"}]", "\"x\"", "42", "{", "{\"id\":\"1\",}",
		"{\"id\":\"1\"} x", "{\"id\":\"1\",\"id\":\"2\"}", "{\"id\":\"\\u0000\"}",
		"{\"id\":\"\xff\"}",
	};
	struct cmh_program p = { .name = (char *)0x1 };
	struct cmh_pipeline pl = { .name = (char *)0x1 };
	struct cmh_execution x = { .id = (char *)0x1 };
	struct cmh_step_state s = { .action = (char *)0x1 };
	struct cmh_buf msg;

	(void)state;
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		const char *b = bodies[i];
		size_t n = strlen(b);

		cmh_buf_reset(&msg);
		assert_int_equal(cmh_resource_parse_program(b, n, &p, &msg), CMH_ERR_PARSE);
		assert_true(msg.len > 0);
		assert_int_equal(cmh_resource_parse_pipeline(b, n, &pl, NULL), CMH_ERR_PARSE);
		assert_int_equal(cmh_resource_parse_execution(b, n, &x, NULL), CMH_ERR_PARSE);
		assert_int_equal(cmh_resource_parse_step_state(b, n, &s, NULL), CMH_ERR_PARSE);
	}
	assert_int_equal(cmh_resource_parse_program(NULL, 0, &p, &msg), CMH_ERR_PARSE);
	/* Untouched on error. */
	assert_ptr_equal(p.name, (char *)0x1);
	assert_ptr_equal(pl.name, (char *)0x1);
	assert_ptr_equal(x.id, (char *)0x1);
	assert_ptr_equal(s.action, (char *)0x1);
	cmh_buf_release(&msg);
}

static void test_resource_deep_nesting(void **state)
{
	size_t depth = 5000;
	char *b = tmp_xmalloc(2 * depth + 16);
	struct cmh_execution x;
	size_t o = 0;

	(void)state;
	o += (size_t)snprintf(b, 16, "{\"x\":");
	memset(b + o, '[', depth);
	o += depth;
	memset(b + o, ']', depth);
	o += depth;
	b[o++] = '}';
	b[o] = '\0';
	assert_int_equal(cmh_resource_parse_execution(b, o, &x, NULL), CMH_ERR_PARSE);
	free(b);
}

static void test_resource_wrong_types(void **state)
{
	static const char prog[] = "{\"id\":22734,\"name\":[\"x\"],\"tenantId\":{\"a\":1},"
				   "\"_links\":7}";
	static const char pipe[] = "{\"id\":\"7\",\"name\":null,\"type\":true,\"trigger\":1.5,"
				   "\"buildTarget\":\"STAGE_PROD\",\"phases\":{\"type\":\"DEPLOY\"}}";
	static const char exec[] = "{\"id\":\"1\",\"status\":\"PAUSED_BY_ALIENS\",\"user\":\"\","
				   "\"createdAt\":1749719708412,\"finishedAt\":\"yesterday\","
				   "\"_embedded\":{\"stepStates\":{\"action\":\"build\"}}}";
	static const char step[] = "{\"action\":{},\"status\":[],\"environment\":5,"
				   "\"environmentType\":\"\",\"startedAt\":null,"
				   "\"finishedAt\":\"2025-13-40T99:99:99Z\"}";
	struct cmh_program p;
	struct cmh_pipeline pl;
	struct cmh_execution x;
	struct cmh_step_state s;

	(void)state;
	assert_int_equal(cmh_resource_parse_program(prog, strlen(prog), &p, NULL), CMH_OK);
	assert_null(p.id);
	assert_null(p.name);
	assert_null(p.tenant_id);
	cmh_program_release(&p);

	assert_int_equal(cmh_resource_parse_pipeline(pipe, strlen(pipe), &pl, NULL), CMH_OK);
	assert_string_equal(pl.id, "7");
	assert_null(pl.name);
	assert_null(pl.type);
	assert_null(pl.trigger);
	assert_string_equal(pl.build_target, "STAGE_PROD");
	assert_null(pl.deploy_targets);
	cmh_pipeline_release(&pl);

	assert_int_equal(cmh_resource_parse_execution(exec, strlen(exec), &x, NULL), CMH_OK);
	assert_string_equal(x.status, "PAUSED_BY_ALIENS");   /* unknown enum: carried as text */
	assert_null(x.user);                                  /* empty: automatic run */
	assert_null(x.trigger);
	assert_int_equal(x.created_ms, -1);
	assert_int_equal(x.finished_ms, -1);
	assert_int_equal(x.n_steps, 0);
	cmh_execution_release(&x);

	assert_int_equal(cmh_resource_parse_step_state(step, strlen(step), &s, NULL), CMH_OK);
	assert_null(s.action);
	assert_null(s.status);
	assert_null(s.environment);
	assert_null(s.environment_type);
	assert_int_equal(s.started_ms, -1);
	assert_int_equal(s.finished_ms, -1);
	cmh_step_state_release(&s);
}

static void test_resource_execution_embedded_shapes(void **state)
{
	static const struct {
		const char *body;
		size_t n;
		const char *first_action;
	} cases[] = {
		{ "{}", 0, NULL },
		{ "{\"_embedded\":null}", 0, NULL },
		{ "{\"_embedded\":[]}", 0, NULL },
		{ "{\"_embedded\":{\"stepStates\":[]}}", 0, NULL },
		{ "{\"_embedded\":{\"stepStates\":\"x\"}}", 0, NULL },
		{ "{\"_embedded\":{\"stepStates\":[1,\"x\",null,[],{\"action\":\"build\"},{}]}}", 2,
		  "build" },
		{ "{\"_embedded\":{\"stepStates\":[{\"action\":\"NEW_STEP_KIND\",\"status\":\"NEW\"}]}}",
		  1, "NEW_STEP_KIND" },
	};
	struct cmh_execution x;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cmh_resource_parse_execution(cases[i].body, strlen(cases[i].body),
							      &x, NULL), CMH_OK);
		assert_int_equal(x.n_steps, cases[i].n);
		if (cases[i].n)
			assert_string_equal(x.steps[0].action, cases[i].first_action);
		cmh_execution_release(&x);
	}
}

static void test_resource_execution_step_cap(void **state)
{
	struct cmh_buf b;
	struct cmh_execution x;

	(void)state;
	cmh_buf_init(&b, 1024 * 1024);
	assert_int_equal(cmh_buf_adds(&b, "{\"_embedded\":{\"stepStates\":["), CMH_OK);
	for (int i = 0; i < CMH_RESOURCE_MAX_STEPS + 44; i++)
		assert_int_equal(cmh_buf_addf(&b, "%s{\"action\":\"a%d\"}", i ? "," : "", i), CMH_OK);
	assert_int_equal(cmh_buf_adds(&b, "]}}"), CMH_OK);
	assert_int_equal(cmh_resource_parse_execution(b.data, b.len, &x, NULL), CMH_OK);
	assert_int_equal(x.n_steps, CMH_RESOURCE_MAX_STEPS);
	assert_string_equal(x.steps[CMH_RESOURCE_MAX_STEPS - 1].action, "a255");
	cmh_execution_release(&x);
	cmh_buf_release(&b);
}

static void test_resource_pipeline_phases(void **state)
{
	static const struct {
		const char *phases;
		const char *targets;
	} cases[] = {
		{ "[]", NULL },
		{ "null", NULL },
		{ "[{\"type\":\"BUILD\",\"environmentType\":\"dev\"}]", NULL },
		{ "[{\"type\":\"DEPLOY\",\"environmentType\":\"dev\"}]", "dev" },
		{ "[{\"type\":\"DEPLOY\"},{\"type\":\"DEPLOY\",\"environmentType\":\"\"}]", NULL },
		{ "[{\"type\":\"deploy\",\"environmentType\":\"dev\"}]", NULL },
		{ "[1,\"DEPLOY\",null,[{\"type\":\"DEPLOY\",\"environmentType\":\"dev\"}],"
		  "{\"type\":\"DEPLOY\",\"environmentType\":\"stage\"}]", "stage" },
		{ "[{\"type\":\"DEPLOY\",\"environmentType\":\"stage\"},"
		  "{\"type\":\"DEPLOY\",\"environmentType\":\"stage\"},"
		  "{\"type\":\"DEPLOY\",\"environmentType\":\"prod\"},"
		  "{\"type\":\"DEPLOY\",\"environmentType\":\"stage\"}]", "stage, prod" },
		/* "stag" is not "stage": no prefix matching */
		{ "[{\"type\":\"DEPLOY\",\"environmentType\":\"stage\"},"
		  "{\"type\":\"DEPLOY\",\"environmentType\":\"stag\"},"
		  "{\"type\":\"DEPLOY\",\"environmentType\":\"rde\"}]", "stage, stag, rde" },
		{ "[{\"type\":\"DEPLOY\",\"environmentType\":7}]", NULL },
	};
	struct cmh_pipeline p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = tmp_xasprintf("{\"phases\":%s}", cases[i].phases);

		assert_int_equal(cmh_resource_parse_pipeline(body, strlen(body), &p, NULL), CMH_OK);
		assert_str_or_null(p.deploy_targets, cases[i].targets);
		cmh_pipeline_release(&p);
		free(body);
	}
}

static void test_resource_pipeline_targets_bounded(void **state)
{
	struct cmh_buf b;
	struct cmh_pipeline p;

	(void)state;
	cmh_buf_init(&b, 1024 * 1024);
	assert_int_equal(cmh_buf_adds(&b, "{\"phases\":["), CMH_OK);
	for (int i = 0; i < 500; i++)
		assert_int_equal(cmh_buf_addf(&b, "%s{\"type\":\"DEPLOY\",\"environmentType\":\"env%d\"}",
					      i ? "," : "", i), CMH_OK);
	assert_int_equal(cmh_buf_adds(&b, "]}"), CMH_OK);
	assert_int_equal(cmh_resource_parse_pipeline(b.data, b.len, &p, NULL), CMH_OK);
	assert_non_null(p.deploy_targets);
	assert_true(strlen(p.deploy_targets) <= CMH_RESOURCE_MAX_TEXT);
	assert_true(strncmp(p.deploy_targets, "env0, env1, ", 12) == 0);
	/* Whole entries only, never a dangling separator. */
	assert_true(p.deploy_targets[strlen(p.deploy_targets) - 1] != ' ');
	assert_true(p.deploy_targets[strlen(p.deploy_targets) - 1] != ',');
	cmh_pipeline_release(&p);
	cmh_buf_release(&b);
}

static void test_resource_text_capped(void **state)
{
	size_t n = 10000;
	char *name = tmp_xmalloc(n + 1);
	char *body;
	struct cmh_program p;

	(void)state;
	memset(name, 'a', n);
	name[n] = '\0';
	body = tmp_xasprintf("{\"name\":\"%s\",\"tenantId\":\"%.*s\"}", name,
			     CMH_RESOURCE_MAX_TEXT, name);
	assert_int_equal(cmh_resource_parse_program(body, strlen(body), &p, NULL), CMH_OK);
	assert_int_equal(strlen(p.name), CMH_RESOURCE_MAX_TEXT);
	assert_int_equal(strlen(p.tenant_id), CMH_RESOURCE_MAX_TEXT);   /* at the cap: kept */
	cmh_program_release(&p);
	free(body);

	/* 255 ASCII bytes, then a 2-byte "é" straddling the cap: cut before it. */
	body = tmp_xasprintf("{\"name\":\"%.*s\xc3\xa9zz\"}", CMH_RESOURCE_MAX_TEXT - 1, name);
	assert_int_equal(cmh_resource_parse_program(body, strlen(body), &p, NULL), CMH_OK);
	assert_int_equal(strlen(p.name), CMH_RESOURCE_MAX_TEXT - 1);
	cmh_program_release(&p);
	free(body);

	/* 254 bytes + "é" ends exactly at the cap: kept whole. */
	body = tmp_xasprintf("{\"name\":\"%.*s\xc3\xa9zz\"}", CMH_RESOURCE_MAX_TEXT - 2, name);
	assert_int_equal(cmh_resource_parse_program(body, strlen(body), &p, NULL), CMH_OK);
	assert_int_equal(strlen(p.name), CMH_RESOURCE_MAX_TEXT);
	assert_memory_equal(p.name + CMH_RESOURCE_MAX_TEXT - 2, "\xc3\xa9", 2);
	cmh_program_release(&p);
	free(body);

	/* A 4-byte character (U+1F680) cut in its middle at any offset. */
	for (int k = 1; k <= 3; k++) {
		body = tmp_xasprintf("{\"name\":\"%.*s\xf0\x9f\x9a\x80\"}",
				     CMH_RESOURCE_MAX_TEXT - k, name);
		assert_int_equal(cmh_resource_parse_program(body, strlen(body), &p, NULL), CMH_OK);
		assert_int_equal(strlen(p.name), (size_t)(CMH_RESOURCE_MAX_TEXT - k));
		cmh_program_release(&p);
		free(body);
	}
	free(name);
}

static void test_resource_text_controls(void **state)
{
	static const char body[] = "{\"name\":\"Acme\\n*bold*\\t\\u001b[31m\\u007f\\r\","
				   "\"id\":\"\",\"tenantId\":\"caf\\u00e9\"}";
	struct cmh_program p;

	(void)state;
	assert_int_equal(cmh_resource_parse_program(body, strlen(body), &p, NULL), CMH_OK);
	assert_string_equal(p.name, "Acme *bold*  [31m  ");
	assert_null(p.id);
	assert_string_equal(p.tenant_id, "caf\xc3\xa9");
	cmh_program_release(&p);
}

static void test_resource_timestamps(void **state)
{
	static const struct {
		const char *ts;
		int64_t ms;
	} cases[] = {
		{ "2025-06-12T09:15:08.412+0000", 1749719708412LL },
		{ "2021-08-23T08:37:41.846Z", 1629707861846LL },
		{ "2018-03-06T15:19:03-08", 1520378343000LL },
		{ "2018-03-06T15:19:03-0800", 1520378343000LL },
		{ "2018-03-06T15:19:03-08:00", 1520378343000LL },
		{ "2018-03-06T15:19:03+05:30", 1520329743000LL },
		{ "2018-03-06T15:19:03.123456+00:00", 1520349543123LL },
		{ "2018-03-06T15:19:03Z", 1520349543000LL },
		{ "", -1 },
		{ "yesterday", -1 },
		{ "2018-03-06", -1 },
		{ "2018-03-06T15:19:03", -1 },
		{ "2018-02-30T15:19:03Z", -1 },
		{ "2018-03-06T15:19:03Z trailing", -1 },
	};
	struct cmh_step_state s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = tmp_xasprintf("{\"startedAt\":\"%s\",\"finishedAt\":\"%s\"}",
					   cases[i].ts, cases[i].ts);

		assert_int_equal(cmh_resource_parse_step_state(body, strlen(body), &s, NULL), CMH_OK);
		if (s.started_ms != cases[i].ms)
			fail_msg("%s: got %lld, want %lld", cases[i].ts, (long long)s.started_ms,
				 (long long)cases[i].ms);
		assert_int_equal(s.finished_ms, cases[i].ms);
		cmh_step_state_release(&s);
		free(body);
	}
}

static void test_resource_program_list_still_works(void **state)
{
	static const char body[] = "{\"_totalNumberOfItems\":3,\"_embedded\":{\"programs\":["
				   "{\"id\":\"1\",\"name\":\"A\"},{\"id\":\"2\"},7]}}";
	struct cmh_program_list l;

	(void)state;
	assert_int_equal(cmh_resource_parse_program_list(body, strlen(body), &l, NULL), CMH_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.total, 3);
	assert_string_equal(l.items[0].name, "A");
	assert_string_equal(l.items[1].name, "");
	cmh_program_list_release(&l);
	assert_int_equal(cmh_resource_parse_program_list("[]", 2, &l, NULL), CMH_ERR_PARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resource_program_example),
		cmocka_unit_test(test_resource_pipeline_example),
		cmocka_unit_test(test_resource_execution_example),
		cmocka_unit_test(test_resource_step_state_example),
		cmocka_unit_test(test_resource_step_state_input),
		cmocka_unit_test(test_resource_link_examples),
		cmocka_unit_test(test_resource_link_hostile),
		cmocka_unit_test(test_resource_link_foreign_href_refused_by_resolve),
		cmocka_unit_test(test_resource_link_huge_href),
		cmocka_unit_test(test_resource_not_objects),
		cmocka_unit_test(test_resource_deep_nesting),
		cmocka_unit_test(test_resource_wrong_types),
		cmocka_unit_test(test_resource_execution_embedded_shapes),
		cmocka_unit_test(test_resource_execution_step_cap),
		cmocka_unit_test(test_resource_pipeline_phases),
		cmocka_unit_test(test_resource_pipeline_targets_bounded),
		cmocka_unit_test(test_resource_text_capped),
		cmocka_unit_test(test_resource_text_controls),
		cmocka_unit_test(test_resource_timestamps),
		cmocka_unit_test(test_resource_program_list_still_works),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
