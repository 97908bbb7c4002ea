/* Unit tests for notify.c and the renderers: golden payloads per message and
 * format (CMH_UPDATE_GOLDEN=1 rewrites tests/data/golden), channel selection
 * from the config and Teams URL detection, text cleaning, headlines, the
 * answer classification table of every channel, and real POSTs to the fake
 * server, including that a channel URL's path and query never reach an
 * error text. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "fake_server.h"
#include "http_client.h"
#include "message.h"
#include "notify.h"
#include "parse.h"

#define GOLDEN_DIR CMH_SOURCE_DIR "/tests/data/golden"
#define LINK "https://experience.adobe.com/#/@acmecorp/cloud-manager/pipelineexecution.html" \
	"/program/22734/pipeline/48201733/execution/1190642"

static const enum cmh_channel_kind all_kinds[] = {
	CMH_CHANNEL_SLACK, CMH_CHANNEL_TEAMS_MESSAGECARD, CMH_CHANNEL_TEAMS_ADAPTIVECARD,
	CMH_CHANNEL_WEBHOOK,
};
#define N_KINDS (sizeof(all_kinds) / sizeof(all_kinds[0]))

/* ---- fixtures -------------------------------------------------------------- */

static char *S(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	if (s)
		assert_non_null(d);
	return d;
}

static int64_t T(const char *s)
{
	int64_t ms = -1;

	assert_int_equal(cmh_parse_time_ms(s, &ms), CMH_OK);
	return ms;
}

static void no_times(struct cmh_message *m)
{
	m->published_ms = m->started_ms = m->finished_ms = m->duration_ms = -1;
	m->step.started_ms = m->step.finished_ms = -1;
	m->failed_step.started_ms = m->failed_step.finished_ms = -1;
}

/* The execution part shared by the realistic fixtures. */
static void base(struct cmh_message *m, enum cmh_event_kind kind, const char *event_id,
	const char *published, const char *status)
{
	memset(m, 0, sizeof(*m));
	no_times(m);
	m->kind = kind;
	m->event_id = S(event_id);
	m->published_ms = T(published);
	m->program_id = S("22734");
	m->program_name = S("Acme Corp Main Site");
	m->pipeline_id = S("48201733");
	m->pipeline_name = S("Production Full Stack");
	m->pipeline_type = S("CI_CD");
	m->pipeline_target = S("stage, prod");
	m->execution_id = S("1190642");
	m->execution_status = S(status);
	m->trigger = S("MANUAL");
	m->started_by = S("8A2B3C4D5E6F7A8B9C0D1E2F@AdobeID");
	m->started_ms = T("2025-06-12T09:15:08.913Z");
	m->link = S(LINK);
}

static void step(struct cmh_message_step *s, const char *action, const char *status,
	const char *env, const char *env_type, const char *start, const char *end)
{
	s->action = S(action);
	s->label = S(cmh_step_action_label(action));
	s->status = S(status);
	s->environment = S(env);
	s->environment_type = S(env_type);
	s->started_ms = start ? T(start) : -1;
	s->finished_ms = end ? T(end) : -1;
}

static void fx_started(struct cmh_message *m)
{
	base(m, CMH_KIND_STARTED, "6f1d9a52-3c41-4b8e-9a0e-2d7c5b1e8f43",
	     "2025-06-12T09:15:08.913Z", "RUNNING");
}

static void fx_waiting_approval(struct cmh_message *m)
{
	base(m, CMH_KIND_WAITING, "d27f4a90-1e3b-4c65-a8f2-6b0e9c3d5a77",
	     "2025-06-12T09:52:40.318Z", "RUNNING");
	m->has_step = true;
	step(&m->step, "approval", "WAITING", "acme-prod", "prod", "2025-06-12T09:52:40Z", NULL);
	m->needs_action = true;
	m->waiting_reason = S("Go-Live approval");
}

static void fx_step_ended(struct cmh_message *m)
{
	base(m, CMH_KIND_STEP_ENDED, "0e5b8c27-94d1-4f3a-86b0-1c7e2a9f4d38",
	     "2025-06-12T09:41:38.441Z", "RUNNING");
	m->has_step = true;
	step(&m->step, "codeQuality", "FINISHED", NULL, NULL, "2025-06-12T09:40:03Z",
	     "2025-06-12T09:41:38Z");
	m->duration_ms = 95000;
	m->outcome = CMH_OUTCOME_SUCCEEDED;
}

static void fx_deploy_started(struct cmh_message *m)
{
	base(m, CMH_KIND_STEP_STARTED, "a3c9e1f0-5b72-4d18-8e6a-0f4b2c9d7e11",
	     "2025-06-12T10:15:18.002Z", "RUNNING");
	m->has_step = true;
	step(&m->step, "deploy", "RUNNING", "acme-prod", "prod", "2025-06-12T10:15:18Z", NULL);
}

static void fx_ended_succeeded(struct cmh_message *m)
{
	base(m, CMH_KIND_ENDED, "7b2e9d41-c6a0-4f85-b3d7-5e1a8c0f2b96",
	     "2025-06-12T10:58:02.775Z", "FINISHED");
	m->finished_ms = T("2025-06-12T10:57:40Z");
	m->duration_ms = m->finished_ms - m->started_ms;
	m->outcome = CMH_OUTCOME_SUCCEEDED;
}

static void fx_ended_failed(struct cmh_message *m)
{
	base(m, CMH_KIND_ENDED, "7b2e9d41-c6a0-4f85-b3d7-5e1a8c0f2b97",
	     "2025-06-12T10:58:02.775Z", "FAILED");
	m->finished_ms = T("2025-06-12T10:57:40Z");
	m->duration_ms = m->finished_ms - m->started_ms;
	m->outcome = CMH_OUTCOME_FAILED;
	m->has_failed_step = true;
	step(&m->failed_step, "deploy", "FAILED", "acme-stage", "stage", "2025-06-12T10:30:00Z",
	     "2025-06-12T10:57:39Z");
}

static void fx_ended_cancelled(struct cmh_message *m)
{
	base(m, CMH_KIND_ENDED, "7b2e9d41-c6a0-4f85-b3d7-5e1a8c0f2b98",
	     "2025-06-12T10:58:02.775Z", "CANCELLED");
	m->finished_ms = T("2025-06-12T10:01:00Z");
	m->duration_ms = m->finished_ms - m->started_ms;
	m->outcome = CMH_OUTCOME_CANCELLED;
	m->trigger = (free(m->trigger), S("ON_COMMIT"));
	m->started_by = (free(m->started_by), NULL);
}

/* Every optional field missing: what an event gives when the API is unreachable. */
static void fx_minimal(struct cmh_message *m)
{
	memset(m, 0, sizeof(*m));
	no_times(m);
	m->kind = CMH_KIND_ENDED;
	m->event_id = S("3dd172b8-3e54-491b-b87c-409cb71c4bc3");
}

static void fx_minimal_waiting(struct cmh_message *m)
{
	fx_minimal(m);
	m->kind = CMH_KIND_WAITING;
	m->has_step = true;
}

/* User text that must be escaped, cleaned or cut; a link that must be dropped. */
static void fx_hostile(struct cmh_message *m)
{
	char longname[400];

	base(m, CMH_KIND_STEP_STARTED, "e1", "2025-06-12T10:15:18Z", "RUNNING");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname + 199, "\xc3\xa9", 2);   /* 'é' across the 200-byte cut */
	m->program_name = (free(m->program_name), S("A&B <!channel> *bold* \"q\"\n\tnext|pipe"));
	m->pipeline_name = (free(m->pipeline_name), S(longname));
	m->trigger = (free(m->trigger), S("bad\xff\xfe utf8 \xed\xa0\x80 surrogate"));
	m->link = (free(m->link), S("javascript:alert(1)"));
	m->has_step = true;
	step(&m->step, "fooBar<script>", "RUNNING", "env>1", "dev", NULL, NULL);
}

static const struct fixture {
	const char *name;
	void (*make)(struct cmh_message *m);
} fixtures[] = {
	{ "started", fx_started },
	{ "waiting-approval", fx_waiting_approval },
	{ "step-ended", fx_step_ended },
	{ "deploy-started", fx_deploy_started },
	{ "ended-succeeded", fx_ended_succeeded },
	{ "ended-failed", fx_ended_failed },
	{ "ended-cancelled", fx_ended_cancelled },
	{ "minimal", fx_minimal },
	{ "minimal-waiting", fx_minimal_waiting },
	{ "hostile", fx_hostile },
};
#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

/* ---- helpers --------------------------------------------------------------- */

static char *render(enum cmh_channel_kind kind, const struct cmh_message *m)
{
	struct cmh_buf out;

	cmh_buf_init(&out, CMH_NOTIFY_MAX_PAYLOAD);
	assert_int_equal(cmh_notify_render(kind, m, &out), CMH_OK);
	return cmh_buf_detach(&out, NULL);
}

static json_t *render_json(enum cmh_channel_kind kind, const struct cmh_message *m)
{
	char *s = render(kind, m);
	json_t *j = json_loads(s, 0, NULL);

	free(s);
	assert_non_null(j);
	return j;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		data = calloc(1, (size_t)n + 1);
		if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
			free(data);
			data = NULL;
		}
	}
	fclose(f);
	return data;
}

static void write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, strlen(data), f), strlen(data));
	assert_int_equal(fclose(f), 0);
}

/* ---- golden payloads ------------------------------------------------------- */

static void check_golden(const struct fixture *fx, enum cmh_channel_kind kind)
{
	struct cmh_message m;
	char path[512], *bytes, *pretty, *compact, *want;
	json_t *j;
	const char *update = getenv("CMH_UPDATE_GOLDEN");

	fx->make(&m);
	bytes = render(kind, &m);
	/* The payload is JSON, compact and stable: re-dumping gives the same bytes. */
	j = json_loads(bytes, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(j);
	compact = json_dumps(j, JSON_COMPACT);
	assert_string_equal(compact, bytes);
	/* Goldens are indented for people to read; the key order is the payload's. */
	pretty = json_dumps(j, JSON_INDENT(2));
	assert_non_null(pretty);
	snprintf(path, sizeof(path), "%s/%s.%s.json", GOLDEN_DIR, fx->name,
		 cmh_notify_format_name(kind));
	if (update && strcmp(update, "1") == 0) {
		char *with_nl = malloc(strlen(pretty) + 2);

		assert_non_null(with_nl);
		snprintf(with_nl, strlen(pretty) + 2, "%s\n", pretty);
		write_file(path, with_nl);
		free(with_nl);
	}
	want = read_file(path);
	if (!want)
		fail_msg("missing golden file %s (run with CMH_UPDATE_GOLDEN=1)", path);
	if (strlen(want) && want[strlen(want) - 1] == '\n')
		want[strlen(want) - 1] = '\0';
	if (strcmp(want, pretty) != 0)
		fail_msg("%s differs from the rendered payload:\n%s", path, pretty);
	free(want);
	free(pretty);
	free(compact);
	json_decref(j);
	free(bytes);
	cmh_message_release(&m);
}

static void test_notify_golden_payloads(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		for (size_t k = 0; k < N_KINDS; k++)
			check_golden(&fixtures[i], all_kinds[k]);
	}
}

/* docs/message-schema.md's first example is the waiting-approval payload. */
static void test_notify_schema_doc_example(void **state)
{
	char *doc = read_file(CMH_SOURCE_DIR "/docs/message-schema.md");
	char *start, *end;
	struct cmh_message m;
	json_t *doc_json, *rendered;

	(void)state;
	assert_non_null(doc);
	start = strstr(doc, "```json\n");
	assert_non_null(start);
	start += strlen("```json\n");
	end = strstr(start, "```");
	assert_non_null(end);
	*end = '\0';
	doc_json = json_loads(start, 0, NULL);
	assert_non_null(doc_json);
	fx_waiting_approval(&m);
	rendered = render_json(CMH_CHANNEL_WEBHOOK, &m);
	assert_true(json_equal(doc_json, rendered));
	json_decref(rendered);
	json_decref(doc_json);
	cmh_message_release(&m);
	free(doc);
}

/* ---- structural checks on every fixture ------------------------------------ */

static void check_slack_limits(const json_t *j)
{
	const json_t *blocks = json_object_get(j, "blocks");
	size_t i;
	const json_t *b;

	assert_true(json_is_string(json_object_get(j, "text")));
	assert_true(json_string_length(json_object_get(j, "text")) > 0);
	assert_true(json_array_size(blocks) >= 2 && json_array_size(blocks) <= 50);
	json_array_foreach(blocks, i, b) {
		const char *type = json_string_value(json_object_get(b, "type"));
		const json_t *fields = json_object_get(b, "fields");

		assert_non_null(type);
		if (strcmp(type, "header") == 0) {
			const char *t = json_string_value(json_object_get(json_object_get(b, "text"),
									  "text"));

			/* Characters, not bytes: count UTF-8 lead bytes. */
			size_t chars = 0;

			for (const char *p = t; *p; p++)
				chars += ((unsigned char)*p & 0xc0) != 0x80;
			assert_true(chars <= 150);
		}
		if (fields)
			assert_true(json_array_size(fields) <= 10);
	}
}

static void test_notify_render_structure(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		struct cmh_message m;
		json_t *j;

		fixtures[i].make(&m);
		j = render_json(CMH_CHANNEL_SLACK, &m);
		check_slack_limits(j);
		json_decref(j);

		j = render_json(CMH_CHANNEL_TEAMS_MESSAGECARD, &m);
		assert_string_equal(json_string_value(json_object_get(j, "@type")), "MessageCard");
		assert_true(json_string_length(json_object_get(j, "summary")) > 0);
		assert_null(strchr(json_string_value(json_object_get(j, "themeColor")), '#'));
		json_decref(j);

		j = render_json(CMH_CHANNEL_TEAMS_ADAPTIVECARD, &m);
		assert_string_equal(json_string_value(json_object_get(j, "type")), "message");
		{
			json_t *att = json_array_get(json_object_get(j, "attachments"), 0);
			json_t *content = json_object_get(att, "content");

			assert_string_equal(json_string_value(json_object_get(att, "contentType")),
					    "application/vnd.microsoft.card.adaptive");
			assert_true(json_is_null(json_object_get(att, "contentUrl")));
			assert_true(json_is_object(content));
			assert_string_equal(json_string_value(json_object_get(content, "version")),
					    "1.4");
		}
		json_decref(j);

		j = render_json(CMH_CHANNEL_WEBHOOK, &m);
		assert_string_equal(json_string_value(json_object_get(j, "schema")),
				    "cmhook.notification/1");
		assert_int_equal(json_object_size(j), 14);
		json_decref(j);
		cmh_message_release(&m);
	}
}

static const char *slack_block_text(const json_t *j, const char *type)
{
	size_t i;
	const json_t *b;

	json_array_foreach(json_object_get(j, "blocks"), i, b) {
		if (strcmp(json_string_value(json_object_get(b, "type")), type) == 0)
			return json_string_value(json_object_get(json_object_get(b, "text"),
								  "text"));
	}
	return NULL;
}

static void test_notify_render_escapes_user_text(void **state)
{
	struct cmh_message m;
	char *slack, *card;
	json_t *j;
	const char *text;

	(void)state;
	fx_hostile(&m);
	slack = render(CMH_CHANNEL_SLACK, &m);
	/* Slack control characters from user text only as entities in mrkdwn. */
	assert_non_null(strstr(slack, "A&amp;B &lt;!channel&gt;"));
	assert_null(strstr(slack, "<!channel>"));
	/* The hostile link is not linked anywhere. */
	assert_null(strstr(slack, "javascript"));
	j = json_loads(slack, 0, NULL);
	assert_non_null(j);
	text = json_string_value(json_object_get(j, "text"));
	assert_non_null(strstr(text, "Step started: fooBar&lt;script&gt; \xe2\x80\x94 xxx"));
	/* Truncated at a character boundary, with an ellipsis; no raw newline. */
	assert_non_null(strstr(text, "xxx\xe2\x80\xa6"));
	assert_null(strstr(text, "\xc3"));
	assert_null(strchr(text, '\n'));
	/* plain_text is not mrkdwn: shown as it is, never parsed for links. */
	assert_string_equal(slack_block_text(j, "header"), "Step started: fooBar<script>");
	json_decref(j);
	card = render(CMH_CHANNEL_TEAMS_MESSAGECARD, &m);
	assert_null(strstr(card, "javascript"));
	assert_null(strstr(card, "potentialAction"));
	/* Invalid UTF-8 and a surrogate become '?'. */
	assert_non_null(strstr(card, "bad?? utf8 ??? surrogate"));
	free(card);
	free(slack);
	cmh_message_release(&m);
}

static void test_notify_render_errors(void **state)
{
	struct cmh_message m;
	struct cmh_buf out;

	(void)state;
	fx_ended_failed(&m);
	cmh_buf_init(&out, 100);
	for (size_t k = 0; k < N_KINDS; k++) {
		assert_int_equal(cmh_notify_render(all_kinds[k], &m, &out), CMH_ERR_TOO_LARGE);
		assert_int_equal(out.len, 0);
	}
	assert_int_equal(cmh_notify_render(CMH_CHANNEL_SLACK, NULL, &out), CMH_ERR_USAGE);
	assert_int_equal(cmh_notify_render((enum cmh_channel_kind)9, &m, &out), CMH_ERR_USAGE);
	cmh_buf_release(&out);
	cmh_message_release(&m);
}

static void test_notify_webhook_nulls(void **state)
{
	struct cmh_message m;
	json_t *j;
	static const char *const null_keys[] = {
		"published", "outcome", "waiting_reason", "failed_step", "link",
	};

	(void)state;
	fx_minimal(&m);
	j = render_json(CMH_CHANNEL_WEBHOOK, &m);
	for (size_t i = 0; i < sizeof(null_keys) / sizeof(null_keys[0]); i++)
		assert_true(json_is_null(json_object_get(j, null_keys[i])));
	assert_true(json_is_null(json_object_get(json_object_get(j, "program"), "name")));
	assert_true(json_is_null(json_object_get(json_object_get(j, "execution"), "duration_ms")));
	assert_true(json_is_null(json_object_get(j, "step")));
	assert_true(json_is_false(json_object_get(j, "needs_action")));
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "ended");
	json_decref(j);
	cmh_message_release(&m);
}

/* ---- headlines, labels, text cleaning ---------------------------------------- */

static char *notify_headline(const struct cmh_message *m)
{
	struct cmh_buf b;

	cmh_buf_init(&b, CMH_BUF_MAX_SMALL);
	assert_int_equal(cmh_notify_headline(m, &b), CMH_OK);
	return cmh_buf_detach(&b, NULL);
}

static void test_notify_headline(void **state)
{
	static const struct {
		enum cmh_event_kind kind;
		enum cmh_outcome outcome;
		const char *action, *label, *env_type, *want;
	} cases[] = {
		{ CMH_KIND_STEP_STARTED, 0, "deploy", "Deployment", "stage",
		  "Step started: Stage Deployment" },
		{ CMH_KIND_STEP_ENDED, CMH_OUTCOME_FAILED, "deploy", "Deployment", "prod",
		  "Step FAILED: Production Deployment" },
		{ CMH_KIND_WAITING, 0, "deploy", "Deployment", "dev",
		  "Step waiting: Development Deployment paused, needs a decision" },
		{ CMH_KIND_STEP_STARTED, 0, "deploy", "Deployment", "qa",
		  "Step started: qa Deployment" },
		{ CMH_KIND_STEP_STARTED, 0, "deploy", "Deployment", NULL, "Step started: Deployment" },
		{ CMH_KIND_STEP_STARTED, 0, "fooBar", "fooBar", NULL, "Step started: fooBar" },
		{ CMH_KIND_STEP_STARTED, 0, "fooBar", NULL, NULL, "Step started: fooBar" },
		{ CMH_KIND_STEP_ENDED, CMH_OUTCOME_CANCELLED, "fooBar", NULL, NULL,
		  "Step cancelled: fooBar" },
		{ CMH_KIND_WAITING, 0, "fooBar", NULL, NULL, "Step waiting: fooBar needs a decision" },
		{ CMH_KIND_WAITING, 0, NULL, NULL, NULL, "Step waiting: action needed" },
		{ CMH_KIND_WAITING, 0, "approval", "Go-Live Approval", "prod",
		  "Step waiting: Go-Live approval needed" },
		{ CMH_KIND_STEP_STARTED, 0, "build", "Build", NULL, "Step started: Build" },
		{ CMH_KIND_STEP_STARTED, 0, "bad\nname", NULL, NULL, "Step started: bad name" },
		{ CMH_KIND_ENDED, CMH_OUTCOME_FAILED, NULL, NULL, NULL, "Pipeline execution FAILED" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cmh_message m = { .kind = cases[i].kind, .outcome = cases[i].outcome };
		char *h;

		m.has_step = true;
		m.step.action = (char *)cases[i].action;
		m.step.label = (char *)cases[i].label;
		m.step.environment_type = (char *)cases[i].env_type;
		h = notify_headline(&m);
		assert_string_equal(h, cases[i].want);
		free(h);
	}
}

/* Without an environment type the renderers say exactly what message.c says. */
static void test_notify_headline_matches_message(void **state)
{
	static const char *const actions[] = {
		"validate", "build", "codeQuality", "buildImage", "securityTest", "loadTest",
		"assetsTest", "reportPerformanceTest", "productTest", "functionalTest",
		"contentAudit", "approval", "schedule", "managed", "deploy",
	};
	static const enum cmh_event_kind kinds[] = {
		CMH_KIND_STEP_STARTED, CMH_KIND_WAITING, CMH_KIND_STEP_ENDED,
	};

	(void)state;
	for (size_t a = 0; a < sizeof(actions) / sizeof(actions[0]); a++) {
		for (size_t k = 0; k < 3; k++) {
			for (int o = CMH_OUTCOME_NONE; o <= CMH_OUTCOME_UNKNOWN; o++) {
				struct cmh_message m = { .kind = kinds[k], .outcome = o };
				char *h;

				m.has_step = true;
				m.step.action = (char *)actions[a];
				m.step.label = (char *)cmh_step_action_label(actions[a]);
				h = notify_headline(&m);
				assert_string_equal(h, cmh_message_headline(&m));
				free(h);
			}
		}
	}
}

static void test_notify_summary(void **state)
{
	static const struct { const char *pipeline, *pipeline_id, *program, *want; } cases[] = {
		{ "P", "1", "Q", "Pipeline execution started \xe2\x80\x94 P (Q)" },
		{ NULL, "1", "Q", "Pipeline execution started \xe2\x80\x94 1 (Q)" },
		{ "P", NULL, NULL, "Pipeline execution started \xe2\x80\x94 P" },
		{ NULL, NULL, "Q", "Pipeline execution started \xe2\x80\x94 Q" },
		{ "", "", "", "Pipeline execution started" },
		{ NULL, NULL, NULL, "Pipeline execution started" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cmh_message m = { .kind = CMH_KIND_STARTED };
		struct cmh_buf b;

		m.pipeline_name = (char *)cases[i].pipeline;
		m.pipeline_id = (char *)cases[i].pipeline_id;
		m.program_name = (char *)cases[i].program;
		cmh_buf_init(&b, CMH_BUF_MAX_SMALL);
		assert_int_equal(cmh_notify_summary(&m, &b), CMH_OK);
		assert_string_equal(b.data, cases[i].want);
		cmh_buf_release(&b);
	}
}

static void test_notify_clean(void **state)
{
	static const struct { const char *in; size_t max; const char *want; } cases[] = {
		{ "", 10, "" },
		{ "plain", 10, "plain" },
		{ "exactly10!", 10, "exactly10!" },
		{ "eleven....!", 10, "eleven...." "\xe2\x80\xa6" },
		{ "tab\there\r\n", 20, "tab here  " },
		{ "del\x7f", 20, "del " },
		{ "\xc3\xa9t\xc3\xa9", 20, "\xc3\xa9t\xc3\xa9" },
		/* A two-byte character that does not fit is not split. */
		{ "abc\xc3\xa9", 4, "abc\xe2\x80\xa6" },
		{ "\xe2\x82\xac", 3, "\xe2\x82\xac" },
		{ "\xe2\x82\xac!", 3, "\xe2\x82\xac\xe2\x80\xa6" },
		{ "\xf0\x9f\x9a\x80", 4, "\xf0\x9f\x9a\x80" },
		/* Invalid: lone continuation, truncated sequence, overlong, surrogate,
		 * beyond U+10FFFF, 0xff. */
		{ "a\x80z", 10, "a?z" },
		{ "a\xc3", 10, "a?" },
		{ "\xc0\xaf", 10, "??" },
		{ "\xe0\x80\xaf", 10, "???" },
		{ "\xed\xa0\x80", 10, "???" },
		{ "\xf4\x90\x80\x80", 10, "????" },
		{ "\xff", 10, "?" },
		{ "x", 0, "\xe2\x80\xa6" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *c = cmh_notify_clean(cases[i].in, cases[i].max);

		assert_non_null(c);
		assert_string_equal(c, cases[i].want);
		free(c);
	}
	assert_null(cmh_notify_clean(NULL, 10));
	assert_true(json_is_null(cmh_notify_json_text(NULL, 10)));
}

static void test_notify_link_ok(void **state)
{
	char longlink[CMH_NOTIFY_MAX_LINK + 2];

	(void)state;
	assert_true(cmh_notify_link_ok(LINK));
	assert_true(cmh_notify_link_ok("http://x/?a=1&b=2"));
	assert_false(cmh_notify_link_ok(NULL));
	assert_false(cmh_notify_link_ok(""));
	assert_false(cmh_notify_link_ok("javascript:alert(1)"));
	assert_false(cmh_notify_link_ok("ftp://x/"));
	assert_false(cmh_notify_link_ok("https://x/a b"));
	assert_false(cmh_notify_link_ok("https://x/a|b"));
	assert_false(cmh_notify_link_ok("https://x/a>b"));
	assert_false(cmh_notify_link_ok("https://x/a\"b"));
	assert_false(cmh_notify_link_ok("https://x/\xc3\xa9"));
	assert_false(cmh_notify_link_ok("https://x/\n"));
	memcpy(longlink, "https://x/", 10);
	memset(longlink + 10, 'a', sizeof(longlink) - 11);
	longlink[sizeof(longlink) - 1] = '\0';
	assert_false(cmh_notify_link_ok(longlink));
	longlink[sizeof(longlink) - 2] = '\0';
	assert_true(cmh_notify_link_ok(longlink));
}

static void test_notify_facts(void **state)
{
	struct cmh_message m;
	struct cmh_notify_facts f;
	static const char *const want[][2] = {
		{ "Program", "Acme Corp Main Site" },
		{ "Pipeline", "Production Full Stack (stage, prod)" },
		{ "Execution", "1190642" },
		{ "Status", "FAILED" },
		{ "Trigger", "MANUAL" },
		{ "Started by", "8A2B3C4D5E6F7A8B9C0D1E2F@AdobeID" },
		{ "Duration", "1h 42m" },
		{ "Failed step", "Stage Deployment (acme-stage)" },
	};

	(void)state;
	fx_ended_failed(&m);
	assert_int_equal(cmh_notify_facts_build(&m, &f), CMH_OK);
	assert_int_equal(f.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < f.n; i++) {
		assert_string_equal(f.items[i].name, want[i][0]);
		assert_string_equal(f.items[i].value, want[i][1]);
	}
	cmh_notify_facts_release(&f);
	cmh_message_release(&m);

	fx_minimal(&m);
	assert_int_equal(cmh_notify_facts_build(&m, &f), CMH_OK);
	assert_int_equal(f.n, 0);
	cmh_notify_facts_release(&f);
	cmh_notify_facts_release(NULL);
	cmh_message_release(&m);
}

static void test_notify_tone(void **state)
{
	struct cmh_message m = { .kind = CMH_KIND_ENDED };

	(void)state;
	assert_int_equal(cmh_notify_tone(&m), CMH_TONE_NEUTRAL);
	m.outcome = CMH_OUTCOME_SUCCEEDED;
	assert_int_equal(cmh_notify_tone(&m), CMH_TONE_GOOD);
	m.outcome = CMH_OUTCOME_FAILED;
	assert_int_equal(cmh_notify_tone(&m), CMH_TONE_BAD);
	m.outcome = CMH_OUTCOME_ROLLED_BACK;
	assert_int_equal(cmh_notify_tone(&m), CMH_TONE_BAD);
	m.outcome = CMH_OUTCOME_CANCELLED;
	assert_int_equal(cmh_notify_tone(&m), CMH_TONE_NEUTRAL);
	m.needs_action = true;
	assert_int_equal(cmh_notify_tone(&m), CMH_TONE_WAITING);
	m.needs_action = false;
	m.kind = CMH_KIND_WAITING;
	assert_int_equal(cmh_notify_tone(&m), CMH_TONE_WAITING);
}

/* ---- channels --------------------------------------------------------------- */

static void test_notify_names(void **state)
{
	(void)state;
	assert_string_equal(cmh_notify_channel_name(CMH_CHANNEL_SLACK), "slack");
	assert_string_equal(cmh_notify_channel_name(CMH_CHANNEL_TEAMS_MESSAGECARD), "teams");
	assert_string_equal(cmh_notify_channel_name(CMH_CHANNEL_TEAMS_ADAPTIVECARD), "teams");
	assert_string_equal(cmh_notify_channel_name(CMH_CHANNEL_WEBHOOK), "webhook");
	assert_string_equal(cmh_notify_channel_name((enum cmh_channel_kind)7), "unknown");
	assert_string_equal(cmh_notify_format_name(CMH_CHANNEL_TEAMS_MESSAGECARD), "messagecard");
	assert_string_equal(cmh_notify_format_name(CMH_CHANNEL_TEAMS_ADAPTIVECARD), "adaptivecard");
	assert_string_equal(cmh_notify_result_name(CMH_NOTIFY_DONE), "done");
	assert_string_equal(cmh_notify_result_name(CMH_NOTIFY_RETRY), "retry");
	assert_string_equal(cmh_notify_result_name(CMH_NOTIFY_FAILED), "failed");
}

static void test_notify_teams_detection(void **state)
{
	static const struct { const char *url; int want; } cases[] = {
		/* Workflows */
		{ "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/"
		  "paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S",
		  CMH_CHANNEL_TEAMS_ADAPTIVECARD },
		{ "https://default1234.56.environment.api.powerplatform.com/powerautomate/x",
		  CMH_CHANNEL_TEAMS_ADAPTIVECARD },
		{ "https://acme.azure-api.net/teams/hook", CMH_CHANNEL_TEAMS_ADAPTIVECARD },
		/* Legacy connectors, '@' in the path included */
		{ "https://outlook.office.com/webhook/g@t/IncomingWebhook/0123/guid",
		  CMH_CHANNEL_TEAMS_MESSAGECARD },
		{ "https://outlook.office365.com/webhook/x", CMH_CHANNEL_TEAMS_MESSAGECARD },
		{ "https://acme.webhook.office.com/webhookb2/g@t/IncomingWebhook/0123/guid/V2x",
		  CMH_CHANNEL_TEAMS_MESSAGECARD },
		{ "https://ACME.Webhook.Office.COM/webhookb2/x", CMH_CHANNEL_TEAMS_MESSAGECARD },
		{ "https://outlook.office.com./webhook/x", CMH_CHANNEL_TEAMS_MESSAGECARD },
		/* Look-alikes and anything else: the current product */
		{ "https://webhook.office.com.evil.example/x", CMH_CHANNEL_TEAMS_ADAPTIVECARD },
		{ "https://evilwebhook.office.com/x", CMH_CHANNEL_TEAMS_ADAPTIVECARD },
		{ "https://outlook.office.com.evil.example/x", CMH_CHANNEL_TEAMS_ADAPTIVECARD },
		{ "https://example.com/outlook.office.com/x", CMH_CHANNEL_TEAMS_ADAPTIVECARD },
		{ "http://127.0.0.1:8080/hook", CMH_CHANNEL_TEAMS_ADAPTIVECARD },
		/* Not usable at all */
		{ "", -1 },
		{ "outlook.office.com/webhook", -1 },
		{ "ftp://outlook.office.com/x", -1 },
		{ "https://user@outlook.office.com/x", -1 },
		{ "https://a@b@outlook.office.com/x", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum cmh_channel_kind k = (enum cmh_channel_kind)99;
		enum cmh_err err = cmh_notify_teams_kind(cases[i].url, CMH_TEAMS_AUTO, &k);

		if (cases[i].want < 0) {
			assert_int_equal(err, CMH_ERR_PARSE);
			assert_int_equal(k, 99);
		} else {
			if (err != CMH_OK || (int)k != cases[i].want)
				fail_msg("case %zu: err %d kind %d", i, err, k);
		}
	}
	assert_int_equal(cmh_notify_teams_kind(NULL, CMH_TEAMS_AUTO, &(enum cmh_channel_kind){ 0 }),
			 CMH_ERR_PARSE);
}

static void test_notify_teams_format_forced(void **state)
{
	enum cmh_channel_kind k;

	(void)state;
	assert_int_equal(cmh_notify_teams_kind("https://x.logic.azure.com/w", CMH_TEAMS_MESSAGECARD,
					       &k), CMH_OK);
	assert_int_equal(k, CMH_CHANNEL_TEAMS_MESSAGECARD);
	assert_int_equal(cmh_notify_teams_kind("https://outlook.office.com/webhook/x",
					       CMH_TEAMS_ADAPTIVECARD, &k), CMH_OK);
	assert_int_equal(k, CMH_CHANNEL_TEAMS_ADAPTIVECARD);
	assert_int_equal(cmh_notify_teams_kind("nope", CMH_TEAMS_ADAPTIVECARD, &k), CMH_ERR_PARSE);
}

static void test_notify_channels_from_config(void **state)
{
	struct cmh_config cfg;
	struct cmh_channel ch[CMH_NOTIFY_MAX_CHANNELS];
	struct cmh_buf err;
	size_t n = 99;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	cfg.slack_webhook = (char *)"";
	cfg.teams_webhook = (char *)"";
	cfg.notify_webhook = (char *)"";
	assert_int_equal(cmh_notify_channels(&cfg, ch, &n, &err), CMH_OK);
	assert_int_equal(n, 0);

	cfg.slack_webhook = (char *)"https://hooks.slack.com/services/T0/B0/XXXX";
	cfg.teams_webhook = (char *)"https://acme.webhook.office.com/webhookb2/g@t/IncomingWebhook/a/b";
	cfg.notify_webhook = (char *)"http://127.0.0.1:9/hook";
	assert_int_equal(cmh_notify_channels(&cfg, ch, &n, &err), CMH_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ch[0].kind, CMH_CHANNEL_SLACK);
	assert_ptr_equal(ch[0].url, cfg.slack_webhook);
	assert_int_equal(ch[1].kind, CMH_CHANNEL_TEAMS_MESSAGECARD);
	assert_ptr_equal(ch[1].url, cfg.teams_webhook);
	assert_int_equal(ch[2].kind, CMH_CHANNEL_WEBHOOK);
	assert_ptr_equal(ch[2].url, cfg.notify_webhook);

	cfg.teams_format = CMH_TEAMS_ADAPTIVECARD;
	cfg.slack_webhook = NULL;
	assert_int_equal(cmh_notify_channels(&cfg, ch, &n, &err), CMH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ch[0].kind, CMH_CHANNEL_TEAMS_ADAPTIVECARD);

	/* A broken URL names the setting, never the value. */
	cfg.notify_webhook = (char *)"not a url SECRETVALUE";
	assert_int_equal(cmh_notify_channels(&cfg, ch, &n, &err), CMH_ERR_CONFIG);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err.data, "NOTIFY_WEBHOOK"));
	assert_null(strstr(err.data, "SECRETVALUE"));
	cfg.notify_webhook = NULL;
	cfg.teams_webhook = (char *)"teams.example/SECRETVALUE";
	assert_int_equal(cmh_notify_channels(&cfg, ch, &n, &err), CMH_ERR_CONFIG);
	assert_non_null(strstr(err.data, "TEAMS_WEBHOOK"));
	assert_null(strstr(err.data, "SECRETVALUE"));
	cfg.teams_webhook = NULL;
	cfg.slack_webhook = (char *)"https://u:SECRETVALUE@hooks.slack.com/x";
	assert_int_equal(cmh_notify_channels(&cfg, ch, &n, &err), CMH_ERR_CONFIG);
	assert_non_null(strstr(err.data, "SLACK_WEBHOOK"));
	assert_null(strstr(err.data, "SECRETVALUE"));
	cmh_buf_release(&err);
}

/* ---- classification ---------------------------------------------------------- */

static void test_notify_classify_table(void **state)
{
	static const struct {
		enum cmh_channel_kind kind;
		long status;
		const char *body;
		enum cmh_notify_result want;
		const char *reason;   /* NULL: don't check; else exact */
	} cases[] = {
		{ CMH_CHANNEL_SLACK, 200, "ok", CMH_NOTIFY_DONE, "" },
		{ CMH_CHANNEL_SLACK, 204, "", CMH_NOTIFY_FAILED, "HTTP 204" },
		{ CMH_CHANNEL_SLACK, 400, "invalid_payload", CMH_NOTIFY_FAILED,
		  "HTTP 400: invalid_payload" },
		{ CMH_CHANNEL_SLACK, 403, "action_prohibited", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_SLACK, 404, "channel_not_found", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_SLACK, 410, "channel_is_archived", CMH_NOTIFY_FAILED,
		  "HTTP 410: channel_is_archived" },
		{ CMH_CHANNEL_SLACK, 429, "{}", CMH_NOTIFY_RETRY, "HTTP 429: {}" },
		{ CMH_CHANNEL_SLACK, 500, "rollup_error", CMH_NOTIFY_RETRY, NULL },
		{ CMH_CHANNEL_SLACK, 302, "", CMH_NOTIFY_FAILED, "HTTP 302" },
		{ CMH_CHANNEL_SLACK, 0, "", CMH_NOTIFY_FAILED, "HTTP 0" },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 200, "1", CMH_NOTIFY_DONE, "" },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 200, " 1\r\n", CMH_NOTIFY_DONE, "" },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 200, "", CMH_NOTIFY_FAILED, "HTTP 200" },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 200, "11", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 200, "ok", CMH_NOTIFY_FAILED, "HTTP 200: ok" },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 200,
		  "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
		  "HTTP error 400 with ContextId MS-CV=abc", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 200,
		  "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
		  "HTTP error 429 with ContextId MS-CV=abc", CMH_NOTIFY_RETRY, NULL },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 202, "1", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 400, "Summary or Text is required.",
		  CMH_NOTIFY_FAILED, "HTTP 400: Summary or Text is required." },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 413, "", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 429, "", CMH_NOTIFY_RETRY, "HTTP 429" },
		{ CMH_CHANNEL_TEAMS_MESSAGECARD, 503, "", CMH_NOTIFY_RETRY, NULL },
		{ CMH_CHANNEL_TEAMS_ADAPTIVECARD, 202, "", CMH_NOTIFY_DONE, "" },
		{ CMH_CHANNEL_TEAMS_ADAPTIVECARD, 200, "", CMH_NOTIFY_DONE, "" },
		{ CMH_CHANNEL_TEAMS_ADAPTIVECARD, 201, "", CMH_NOTIFY_DONE, "" },
		{ CMH_CHANNEL_TEAMS_ADAPTIVECARD, 204, "", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_TEAMS_ADAPTIVECARD, 400, "{\"error\":{\"code\":\"InvalidRequestContent\"}}",
		  CMH_NOTIFY_FAILED, "HTTP 400: {\"error\":{\"code\":\"InvalidRequestContent\"}}" },
		{ CMH_CHANNEL_TEAMS_ADAPTIVECARD, 401, "", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_TEAMS_ADAPTIVECARD, 408, "", CMH_NOTIFY_RETRY, NULL },
		{ CMH_CHANNEL_TEAMS_ADAPTIVECARD, 502, "", CMH_NOTIFY_RETRY, NULL },
		{ CMH_CHANNEL_WEBHOOK, 200, "", CMH_NOTIFY_DONE, "" },
		{ CMH_CHANNEL_WEBHOOK, 204, "", CMH_NOTIFY_DONE, "" },
		{ CMH_CHANNEL_WEBHOOK, 299, "", CMH_NOTIFY_DONE, "" },
		{ CMH_CHANNEL_WEBHOOK, 300, "", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_WEBHOOK, 199, "", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_WEBHOOK, 404, "nope", CMH_NOTIFY_FAILED, "HTTP 404: nope" },
		{ CMH_CHANNEL_WEBHOOK, 499, "", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_WEBHOOK, 599, "", CMH_NOTIFY_RETRY, NULL },
		{ CMH_CHANNEL_WEBHOOK, 600, "", CMH_NOTIFY_FAILED, NULL },
		{ CMH_CHANNEL_WEBHOOK, 400, "line\nbreak\x01\xc3\xa9\\", CMH_NOTIFY_FAILED,
		  "HTTP 400: line\\x0abreak\\x01\\xc3\\xa9\\x5c" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cmh_notify_verdict v;

		cmh_notify_classify(cases[i].kind, cases[i].status, cases[i].body,
				    strlen(cases[i].body), 5000, &v);
		if (v.result != cases[i].want)
			fail_msg("case %zu: result %d, want %d (%s)", i, v.result, cases[i].want,
				 v.reason);
		assert_int_equal(v.status, cases[i].status);
		if (cases[i].reason)
			assert_string_equal(v.reason, cases[i].reason);
		if (v.result == CMH_NOTIFY_RETRY)
			assert_int_equal(v.retry_after_ms, 5000);
		else
			assert_int_equal(v.retry_after_ms, -1);
		if (v.result != CMH_NOTIFY_DONE)
			assert_true(strlen(v.reason) > 0);
	}
}

static void test_notify_classify_bounds(void **state)
{
	struct cmh_notify_verdict v;
	char big[5000];

	(void)state;
	/* Only the first CMH_NOTIFY_REASON_BODY bytes are quoted. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(big + CMH_NOTIFY_REASON_BODY, 'Z', 10);
	cmh_notify_classify(CMH_CHANNEL_SLACK, 400, big, strlen(big), -1, &v);
	assert_int_equal(v.result, CMH_NOTIFY_FAILED);
	assert_null(strchr(v.reason, 'Z'));
	assert_int_equal(strlen(v.reason), strlen("HTTP 400: ") + CMH_NOTIFY_REASON_BODY + 3);
	assert_string_equal(v.reason + strlen(v.reason) - 3, "...");
	/* Binary bytes, escaped four-fold, still fit the reason. */
	memset(big, '\x01', sizeof(big) - 1);
	cmh_notify_classify(CMH_CHANNEL_SLACK, 400, big, strlen(big), -1, &v);
	assert_true(strlen(v.reason) < sizeof(v.reason));
	assert_string_equal(v.reason + strlen(v.reason) - 3, "...");
	/* NULL body, no Retry-After. */
	cmh_notify_classify(CMH_CHANNEL_WEBHOOK, 503, NULL, 0, -1, &v);
	assert_int_equal(v.result, CMH_NOTIFY_RETRY);
	assert_int_equal(v.retry_after_ms, -1);
	assert_string_equal(v.reason, "HTTP 503");
	cmh_notify_classify(CMH_CHANNEL_TEAMS_MESSAGECARD, 200, NULL, 5, -1, &v);
	assert_int_equal(v.result, CMH_NOTIFY_FAILED);
	/* A body with NUL bytes is quoted, not cut at the NUL. */
	cmh_notify_classify(CMH_CHANNEL_SLACK, 400, "a\0b", 3, -1, &v);
	assert_string_equal(v.reason, "HTTP 400: a\\x00b");
}

/* ---- sending to the fake server ------------------------------------------------ */

#define SLACK_PATH "/services/T0000/B0000/SLACKSECRETTOKEN"
#define TEAMS_PATH "/webhookb2/group@tenant/IncomingWebhook/TEAMSSECRETHEX/guid"
#define FLOW_PATH "/workflows/FLOWGUID/triggers/manual/paths/invoke"
#define HOOK_PATH "/hooks/HOOKSECRETPATH"
#define QUERY "?api-version=2016-06-01&sig=QUERYSECRETSIG"

static const char *const secrets[] = {
	"SLACKSECRETTOKEN", "TEAMSSECRETHEX", "FLOWGUID", "HOOKSECRETPATH", "QUERYSECRETSIG",
	"/services/", "/webhookb2/", "/workflows/", "api-version",
};

static void assert_no_secret(const char *text)
{
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if (strstr(text, secrets[i]))
			fail_msg("\"%s\" leaks %s", text, secrets[i]);
	}
}

struct send_env {
	struct fake_server *f;
	struct cmh_message m;
	char url[512];
};

static int send_setup(void **state)
{
	struct send_env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	e->f = fake_start();
	if (!e->f)
		return -1;
	fx_ended_failed(&e->m);
	*state = e;
	return 0;
}

static int send_teardown(void **state)
{
	struct send_env *e = *state;

	fake_stop(e->f);
	cmh_message_release(&e->m);
	free(e);
	return 0;
}

static const char *url_for(struct send_env *e, const char *path)
{
	snprintf(e->url, sizeof(e->url), "%s%s%s", fake_url(e->f), path, QUERY);
	return e->url;
}

static void push(struct send_env *e, const char *path, unsigned status, const char *body,
	const char *headers)
{
	struct fake_response r = { .status = status, .body = body, .headers = headers };

	fake_push(e->f, "POST", path, &r);
}

static void test_notify_send_slack_ok(void **state)
{
	struct send_env *e = *state;
	struct cmh_notify_verdict v;
	const struct fake_request *req;
	char *want;

	push(e, SLACK_PATH, 200, "ok", "Content-Type: text/plain");
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_SLACK, url_for(e, SLACK_PATH), &e->m, 0, &v),
			 CMH_NOTIFY_DONE);
	assert_int_equal(v.status, 200);
	assert_string_equal(v.reason, "");
	req = fake_request_nth(e->f, "POST", SLACK_PATH, 0);
	assert_non_null(req);
	assert_string_equal(req->query, QUERY + 1);
	assert_string_equal(fake_header(req, "Content-Type"), "application/json");
	assert_null(fake_header(req, "Idempotency-Key"));
	want = render(CMH_CHANNEL_SLACK, &e->m);
	assert_int_equal(req->body_len, strlen(want));
	assert_memory_equal(req->body, want, req->body_len);
	free(want);
}

static void test_notify_send_teams_legacy(void **state)
{
	struct send_env *e = *state;
	struct cmh_notify_verdict v;
	const char *url = url_for(e, TEAMS_PATH);
	const struct fake_request *req;

	push(e, TEAMS_PATH, 200, "1", "Content-Type: text/plain");
	push(e, TEAMS_PATH, 200, "Webhook message delivery failed with error: Microsoft Teams "
	     "endpoint returned HTTP error 400 with ContextId MS-CV=Q", "Content-Type: text/plain");
	push(e, TEAMS_PATH, 200, "Webhook message delivery failed with error: Microsoft Teams "
	     "endpoint returned HTTP error 429 with ContextId MS-CV=Q", "Content-Type: text/plain");
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_TEAMS_MESSAGECARD, url, &e->m, 0, &v),
			 CMH_NOTIFY_DONE);
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_TEAMS_MESSAGECARD, url, &e->m, 0, &v),
			 CMH_NOTIFY_FAILED);
	assert_int_equal(v.status, 200);
	assert_non_null(strstr(v.reason, "HTTP 200: Webhook message delivery failed"));
	assert_no_secret(v.reason);
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_TEAMS_MESSAGECARD, url, &e->m, 0, &v),
			 CMH_NOTIFY_RETRY);
	/* The '@' in a connector path reached the server untouched. */
	req = fake_request_nth(e->f, "POST", TEAMS_PATH, 0);
	assert_non_null(req);
	assert_non_null(strstr(req->body, "\"@type\":\"MessageCard\""));
}

static void test_notify_send_workflows_202(void **state)
{
	struct send_env *e = *state;
	struct cmh_notify_verdict v;

	push(e, FLOW_PATH, 202, NULL, NULL);
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_TEAMS_ADAPTIVECARD, url_for(e, FLOW_PATH),
					 &e->m, 0, &v), CMH_NOTIFY_DONE);
	assert_int_equal(v.status, 202);
}

static void test_notify_send_webhook_retry_after(void **state)
{
	struct send_env *e = *state;
	struct cmh_notify_verdict v;
	const struct fake_request *req;

	push(e, HOOK_PATH, 503, "busy", "Retry-After: 7\nContent-Type: text/plain");
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_WEBHOOK, url_for(e, HOOK_PATH), &e->m, 0, &v),
			 CMH_NOTIFY_RETRY);
	assert_int_equal(v.status, 503);
	assert_int_equal(v.retry_after_ms, 7000);
	assert_string_equal(v.reason, "HTTP 503: busy");
	req = fake_request_nth(e->f, "POST", HOOK_PATH, 0);
	assert_non_null(req);
	assert_string_equal(fake_header(req, "Idempotency-Key"), e->m.event_id);
	assert_string_equal(fake_header(req, "User-Agent"), "cmhook/" CMH_VERSION);
	assert_string_equal(fake_header(req, "Content-Type"), "application/json");
}

static void test_notify_send_400_reason(void **state)
{
	struct send_env *e = *state;
	struct cmh_notify_verdict v;

	push(e, SLACK_PATH, 400, "invalid_blocks", "Content-Type: text/plain");
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_SLACK, url_for(e, SLACK_PATH), &e->m, 0, &v),
			 CMH_NOTIFY_FAILED);
	assert_string_equal(v.reason, "HTTP 400: invalid_blocks");
}

/* A channel that quotes the request line back must not leak the URL. */
static void echo_handler(const struct fake_request *req, struct fake_response *resp, void *ud)
{
	char *body = malloc(2048);

	(void)ud;
	if (!body)
		return;
	snprintf(body, 2048, "no such hook: POST %s?%s (token %s)", req->path, req->query,
		 strrchr(req->path, '/') + 1);
	resp->status = 404;
	resp->body = body;
	resp->free_body = true;
	resp->headers = "Content-Type: text/plain";
}

static void test_notify_send_never_leaks_url(void **state)
{
	struct send_env *e = *state;
	struct cmh_notify_verdict v;
	struct fake_response echo = { .handler = echo_handler };
	struct fake_response drop = { .drop = true };

	fake_push(e->f, "POST", HOOK_PATH, &echo);
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_WEBHOOK, url_for(e, HOOK_PATH), &e->m, 0, &v),
			 CMH_NOTIFY_FAILED);
	assert_non_null(strstr(v.reason, "HTTP 404: no such hook: POST <redacted>"));
	assert_no_secret(v.reason);

	/* No answer at all: a transport failure, retried, naming only the origin. */
	fake_push(e->f, "POST", SLACK_PATH, &drop);
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_SLACK, url_for(e, SLACK_PATH), &e->m, 0, &v),
			 CMH_NOTIFY_RETRY);
	assert_int_equal(v.status, 0);
	assert_true(strlen(v.reason) > 0);
	assert_no_secret(v.reason);
	fake_push(e->f, "POST", TEAMS_PATH, &drop);
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_TEAMS_MESSAGECARD, url_for(e, TEAMS_PATH),
					 &e->m, 0, &v), CMH_NOTIFY_RETRY);
	assert_no_secret(v.reason);
}

static void test_notify_send_timeout(void **state)
{
	struct send_env *e = *state;
	struct cmh_notify_verdict v;
	struct fake_response hang = { .hang = true };

	fake_push(e->f, "POST", FLOW_PATH, &hang);
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_TEAMS_ADAPTIVECARD, url_for(e, FLOW_PATH),
					 &e->m, 300, &v), CMH_NOTIFY_RETRY);
	assert_int_equal(v.status, 0);
	assert_no_secret(v.reason);
}

static void test_notify_send_unusable(void **state)
{
	struct send_env *e = *state;
	struct cmh_notify_verdict v;

	assert_int_equal(cmh_notify_send(CMH_CHANNEL_SLACK, NULL, &e->m, 0, &v), CMH_NOTIFY_FAILED);
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_SLACK, "", &e->m, 0, &v), CMH_NOTIFY_FAILED);
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_SLACK, url_for(e, SLACK_PATH), NULL, 0, &v),
			 CMH_NOTIFY_FAILED);
	assert_non_null(strstr(v.reason, "cannot render"));
	/* Nothing was sent for any of these. */
	assert_int_equal(fake_count(e->f, NULL, NULL), 0);
	/* A URL curl refuses: permanent, and still no path in the reason. */
	assert_int_equal(cmh_notify_send(CMH_CHANNEL_WEBHOOK, "gopher://x" HOOK_PATH QUERY, &e->m,
					 0, &v), CMH_NOTIFY_FAILED);
	assert_no_secret(v.reason);
}

static int group_setup(void **state)
{
	(void)state;
	return cmh_http_global_init() == CMH_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	cmh_http_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_golden_payloads),
		cmocka_unit_test(test_notify_schema_doc_example),
		cmocka_unit_test(test_notify_render_structure),
		cmocka_unit_test(test_notify_render_escapes_user_text),
		cmocka_unit_test(test_notify_render_errors),
		cmocka_unit_test(test_notify_webhook_nulls),
		cmocka_unit_test(test_notify_headline),
		cmocka_unit_test(test_notify_headline_matches_message),
		cmocka_unit_test(test_notify_summary),
		cmocka_unit_test(test_notify_clean),
		cmocka_unit_test(test_notify_link_ok),
		cmocka_unit_test(test_notify_facts),
		cmocka_unit_test(test_notify_tone),
		cmocka_unit_test(test_notify_names),
		cmocka_unit_test(test_notify_teams_detection),
		cmocka_unit_test(test_notify_teams_format_forced),
		cmocka_unit_test(test_notify_channels_from_config),
		cmocka_unit_test(test_notify_classify_table),
		cmocka_unit_test(test_notify_classify_bounds),
		cmocka_unit_test_setup_teardown(test_notify_send_slack_ok, send_setup, send_teardown),
		cmocka_unit_test_setup_teardown(test_notify_send_teams_legacy, send_setup,
						send_teardown),
		cmocka_unit_test_setup_teardown(test_notify_send_workflows_202, send_setup,
						send_teardown),
		cmocka_unit_test_setup_teardown(test_notify_send_webhook_retry_after, send_setup,
						send_teardown),
		cmocka_unit_test_setup_teardown(test_notify_send_400_reason, send_setup,
						send_teardown),
		cmocka_unit_test_setup_teardown(test_notify_send_never_leaks_url, send_setup,
						send_teardown),
		cmocka_unit_test_setup_teardown(test_notify_send_timeout, send_setup, send_teardown),
		cmocka_unit_test_setup_teardown(test_notify_send_unusable, send_setup, send_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
