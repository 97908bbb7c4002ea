/*
 * Unit tests for webhook.c and event.c: challenge values, body parsing over
 * the Cloud Manager examples in tests/data/webhook/ (copied from
 * reference/cloudmanager-events.md §2.1 and §3) and many malformed variants,
 * the recipient check, the object URL check and the event kind table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "bounds.h"
#include "event.h"
#include "testdata.h"
#include "webhook.h"

#define API "https://cloudmanager.adobe.io"
#define CLIENT "0123456789abcdef0123456789abcdef"
#define EXEC_URL API "/api/program/22734/pipeline/48201733/execution/1190642"

static enum cmh_err parse(const char *body, struct cmh_webhook_delivery *d)
{
	return cmh_webhook_parse(body, strlen(body), API, d, NULL);
}

/* Parse body expecting rc; on failure the delivery must stay zeroed. */
static void expect_fail(const char *body, enum cmh_err rc)
{
	struct cmh_webhook_delivery d;
	struct cmh_buf err;
	enum cmh_err got;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	got = cmh_webhook_parse(body, strlen(body), API, &d, &err);
	if (got != rc)
		fail_msg("body %.200s: got %s, want %s", body, cmh_strerror(got), cmh_strerror(rc));
	assert_true(err.len > 0);
	assert_int_equal(d.n_events, 0);
	assert_null(d.events);
	assert_null(d.validation_url);
	cmh_webhook_delivery_release(&d);
	cmh_buf_release(&err);
}

/* A minimal valid envelope with the given top-level members spliced in. */
static char *envelope(const char *ids)
{
	char *s;

	assert_true(asprintf(&s, "{%s\"event\":{\"@id\":\"urn:oeid:cloudmanager:1\","
			     "\"@type\":\"" CMH_EVENT_TYPE_ENDED "\","
			     "\"xdmEventEnvelope:objectType\":\"" CMH_EVENT_OBJ_EXECUTION "\","
			     "\"activitystreams:object\":{\"@id\":\"" EXEC_URL "\"}}}", ids) > 0);
	return s;
}

/* ---- challenge ----------------------------------------------------------- */

static void test_webhook_challenge_values(void **state)
{
	static const char *const ok[] = {
		"8ec8d794-e0ab-42df-9017-e3dada8e84f7", "a", "A.b_c~d-0",
	};
	static const char *const bad[] = {
		"", " ", "a b", "a+b", "a/b", "a%20b", "<script>", "a\"b", "a\nb", "a\rb",
		"\xc3\xa4", "a=b", "a&b", "a?b", "a#b", "a\\b", "a'b",
	};
	char s[CMH_CHALLENGE_MAX_LEN + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(cmh_webhook_challenge_valid(ok[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cmh_webhook_challenge_valid(bad[i]))
			fail_msg("accepted challenge %s", bad[i]);
	}
	assert_false(cmh_webhook_challenge_valid(NULL));
	/* Boundary: 256 accepted, 257 refused. */
	memset(s, 'x', sizeof(s));
	s[CMH_CHALLENGE_MAX_LEN] = '\0';
	assert_true(cmh_webhook_challenge_valid(s));
	s[CMH_CHALLENGE_MAX_LEN] = 'x';
	s[CMH_CHALLENGE_MAX_LEN + 1] = '\0';
	assert_false(cmh_webhook_challenge_valid(s));
}

static void test_webhook_challenge_json(void **state)
{
	struct cmh_buf out;

	(void)state;
	cmh_buf_init(&out, 1024);
	assert_int_equal(cmh_webhook_challenge_json("8ec8d794-e0ab-42df-9017-e3dada8e84f7", &out),
			 CMH_OK);
	assert_string_equal(out.data, "{\"challenge\":\"8ec8d794-e0ab-42df-9017-e3dada8e84f7\"}");
	assert_int_equal(cmh_webhook_challenge_json("a\"b", &out), CMH_ERR_PARSE);
	assert_int_equal(out.len, 0);
	assert_int_equal(cmh_webhook_challenge_json(NULL, &out), CMH_ERR_PARSE);
	cmh_buf_release(&out);
}

/* ---- the reference examples ---------------------------------------------- */

struct example {
	const char *file;
	enum cmh_event_kind kind;
	const char *event_id;
	const char *recipient;
	const char *urn;
	const char *object_url;
	const char *published;
};

static const struct example examples[] = {
	{ "webhook/cm-3.1-started.json", CMH_KIND_STARTED,
	  "6f1d9a52-3c41-4b8e-9a0e-2d7c5b1e8f43", CLIENT,
	  "urn:oeid:cloudmanager:1e0f7c3a-8d2b-4f5e-b6a9-70c4d2e81f95", EXEC_URL,
	  "2025-06-12T09:15:08.913Z" },
	{ "webhook/cm-3.2-step-started.json", CMH_KIND_STEP_STARTED,
	  "a3c9e1f0-5b72-4d18-8e6a-0f4b2c9d7e11", CLIENT,
	  "urn:oeid:cloudmanager:4b8d2e6f-0a1c-4e3b-9d57-c2f81a6b3e04",
	  EXEC_URL "/phase/2401119/step/11033500", "2025-06-12T09:15:18.002Z" },
	{ "webhook/cm-3.3-waiting-all-ids.json", CMH_KIND_WAITING,
	  "d27f4a90-1e3b-4c65-a8f2-6b0e9c3d5a77", CLIENT,
	  "urn:oeid:cloudmanager:9c6e0b1d-7f24-4a83-b5e9-3d1f8a2c6e50",
	  EXEC_URL "/phase/2401121/step/11033504", "2025-06-12T09:52:40.318Z" },
	{ "webhook/cm-3.4-step-ended.json", CMH_KIND_STEP_ENDED,
	  "0e5b8c27-94d1-4f3a-86b0-1c7e2a9f4d38", CLIENT,
	  "urn:oeid:cloudmanager:e4a1c7d9-2b6f-4803-9e5c-8f0d3b7a1c26",
	  EXEC_URL "/phase/2401120/step/11033501", "2025-06-12T09:41:38.441Z" },
	{ "webhook/cm-3.5-ended.json", CMH_KIND_ENDED,
	  "7b2e9d41-c6a0-4f85-b3d7-5e1a8c0f2b96", CLIENT,
	  "urn:oeid:cloudmanager:3f9a6c02-d84e-4b71-a0c5-e27b19d4f863", EXEC_URL,
	  "2025-06-12T10:58:02.775Z" },
	{ "webhook/verbatim-2.1-started.json", CMH_KIND_STARTED,
	  "3dd172b8-3e54-491b-b87c-409cb71c4bc3", NULL,
	  "urn:oeid:cloudmanager:bc901126-5eb1-4942-a1d1-9ec3a17f8a7a",
	  API "/api/program/1/pipeline/2/execution/3", "2021-08-23T08:37:41.846Z" },
};

static void check_event(const struct cmh_webhook_event *ev, const struct example *ex,
	const char *body)
{
	assert_int_equal(ev->kind, ex->kind);
	assert_string_equal(ev->event_id, ex->event_id);
	if (ex->recipient)
		assert_string_equal(ev->recipient, ex->recipient);
	else
		assert_null(ev->recipient);
	assert_string_equal(ev->urn, ex->urn);
	assert_string_equal(ev->object_url, ex->object_url);
	assert_true(ev->object_url_ok);
	assert_string_equal(ev->published, ex->published);
	assert_true(ev->published_ms > 1600000000000LL);
}

static void test_webhook_parses_reference_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		char *body = testdata_read(examples[i].file, NULL);
		struct cmh_webhook_delivery d;

		assert_int_equal(parse(body, &d), CMH_OK);
		assert_int_equal(d.kind, CMH_WEBHOOK_BODY_EVENTS);
		assert_false(d.batch);
		assert_int_equal(d.n_events, 1);
		check_event(&d.events[0], &examples[i], body);
		assert_int_equal(cmh_webhook_check_recipient(&d, CLIENT, NULL),
				 examples[i].recipient ? CMH_OK : CMH_ERR_RECIPIENT);
		cmh_webhook_delivery_release(&d);
		cmh_webhook_delivery_release(&d); /* released deliveries are zeroed */
		free(body);
	}
}

static void test_webhook_parses_batch_of_two(void **state)
{
	char *a = testdata_read(examples[3].file, NULL);
	char *b = testdata_read(examples[4].file, NULL);
	char *body;
	struct cmh_webhook_delivery d;

	(void)state;
	assert_true(asprintf(&body, " \n[%s,\n%s]\n", a, b) > 0);
	assert_int_equal(parse(body, &d), CMH_OK);
	assert_true(d.batch);
	assert_int_equal(d.n_events, 2);
	check_event(&d.events[0], &examples[3], body);
	check_event(&d.events[1], &examples[4], body);
	assert_int_equal(cmh_webhook_check_recipient(&d, CLIENT, NULL), CMH_OK);
	cmh_webhook_delivery_release(&d);
	free(body);
	free(a);
	free(b);
}

/* ---- ids ----------------------------------------------------------------- */

static void test_webhook_id_spellings(void **state)
{
	static const struct {
		const char *ids;
		const char *want_id;   /* NULL: must fail with CMH_ERR_PARSE */
		const char *want_rcpt;
	} cases[] = {
		{ "\"eventid\":\"n\",", "n", NULL },
		{ "\"event_id\":\"o\",", "o", NULL },
		{ "\"eventid\":\"x\",\"event_id\":\"x\",", "x", NULL },
		{ "\"event_id\":\"x\",\"eventid\":\"x\",", "x", NULL },
		{ "\"eventid\":\"x\",\"event_id\":\"y\",", NULL, NULL },
		{ "\"eventid\":\"x\",\"event_id\":\"X\",", NULL, NULL },
		{ "\"eventid\":\"x\",\"recipientclientid\":\"r\",", "x", "r" },
		{ "\"eventid\":\"x\",\"recipient_client_id\":\"r\",", "x", "r" },
		{ "\"eventid\":\"x\",\"recipientclientid\":\"r\",\"recipient_client_id\":\"r\",", "x", "r" },
		{ "\"eventid\":\"x\",\"recipientclientid\":\"r\",\"recipient_client_id\":\"s\",", NULL, NULL },
		{ "\"eventid\":\"x\",\"recipientclientid\":\"\",", "x", "" },
		{ "", NULL, NULL },                                  /* no id */
		{ "\"eventid\":\"\",", NULL, NULL },                 /* empty id */
		{ "\"eventid\":\"\",\"event_id\":\"x\",", NULL, NULL }, /* disagree */
		{ "\"eventid\":\"a b\",", NULL, NULL },              /* not printable ASCII */
		{ "\"eventid\":\"a\\nb\",", NULL, NULL },
		{ "\"eventid\":\"\\u00e4\",", NULL, NULL },
		{ "\"eventid\":null,", NULL, NULL },
		{ "\"eventid\":7,", NULL, NULL },
		{ "\"event_id\":[\"x\"],", NULL, NULL },
		{ "\"eventid\":\"x\",\"event_id\":{},", NULL, NULL },
		{ "\"eventid\":\"x\",\"recipient_client_id\":5,", NULL, NULL },
		{ "\"eventid\":\"x\",\"recipientclientid\":null,", NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = envelope(cases[i].ids);
		struct cmh_webhook_delivery d;

		if (!cases[i].want_id) {
			expect_fail(body, CMH_ERR_PARSE);
			free(body);
			continue;
		}
		assert_int_equal(parse(body, &d), CMH_OK);
		assert_string_equal(d.events[0].event_id, cases[i].want_id);
		if (cases[i].want_rcpt)
			assert_string_equal(d.events[0].recipient, cases[i].want_rcpt);
		else
			assert_null(d.events[0].recipient);
		cmh_webhook_delivery_release(&d);
		free(body);
	}
}

static void test_webhook_id_length_cap(void **state)
{
	char id[CMH_WEBHOOK_MAX_ID_LEN + 2], *ids, *body;
	struct cmh_webhook_delivery d;

	(void)state;
	memset(id, 'i', sizeof(id));
	id[CMH_WEBHOOK_MAX_ID_LEN] = '\0';
	assert_true(asprintf(&ids, "\"eventid\":\"%s\",\"recipientclientid\":\"%s\",", id, id) > 0);
	body = envelope(ids);
	assert_int_equal(parse(body, &d), CMH_OK);
	assert_int_equal(strlen(d.events[0].event_id), CMH_WEBHOOK_MAX_ID_LEN);
	cmh_webhook_delivery_release(&d);
	free(body);
	free(ids);

	id[CMH_WEBHOOK_MAX_ID_LEN] = 'i';
	id[CMH_WEBHOOK_MAX_ID_LEN + 1] = '\0';
	assert_true(asprintf(&ids, "\"eventid\":\"%s\",", id) > 0);
	body = envelope(ids);
	expect_fail(body, CMH_ERR_PARSE);
	free(body);
	free(ids);
	assert_true(asprintf(&ids, "\"eventid\":\"x\",\"recipient_client_id\":\"%s\",", id) > 0);
	body = envelope(ids);
	expect_fail(body, CMH_ERR_PARSE);
	free(body);
	free(ids);
}

/* ---- other formats -------------------------------------------------------- */

static void test_webhook_cloudevents_unsupported(void **state)
{
	static const char ce[] =
		"{\"specversion\":\"1.0\",\"type\":\"com.adobe.x\",\"source\":\"urn:x\","
		"\"id\":\"1\",\"eventid\":\"1\",\"recipientclientid\":\"" CLIENT "\","
		"\"data\":{}}";
	char *good = envelope("\"eventid\":\"g\",\"recipientclientid\":\"" CLIENT "\",");
	char *body;

	(void)state;
	expect_fail(ce, CMH_ERR_REJECTED);
	assert_true(asprintf(&body, "[%s,%s]", ce, ce) > 0);
	expect_fail(body, CMH_ERR_REJECTED);
	free(body);
	/* One CloudEvent among XDM envelopes still refuses the whole body. */
	assert_true(asprintf(&body, "[%s,%s]", good, ce) > 0);
	expect_fail(body, CMH_ERR_REJECTED);
	free(body);
	/* Even with an "event" member, specversion wins. */
	expect_fail("{\"specversion\":\"1.0\",\"eventid\":\"x\",\"event\":{}}", CMH_ERR_REJECTED);
	free(good);
}

static void test_webhook_validation_post(void **state)
{
	static const char body[] =
		"{\"validationUrl\": \"https://csm.adobe.io/csm/registrations/validate?id=a&challenge=b\"}";
	struct cmh_webhook_delivery d;
	char *with_event = envelope("\"eventid\":\"x\",\"validationUrl\":\"https://x\",");

	(void)state;
	assert_int_equal(parse(body, &d), CMH_OK);
	assert_int_equal(d.kind, CMH_WEBHOOK_BODY_VALIDATION);
	assert_int_equal(d.n_events, 0);
	assert_string_equal(d.validation_url,
			    "https://csm.adobe.io/csm/registrations/validate?id=a&challenge=b");
	assert_int_equal(cmh_webhook_check_recipient(&d, CLIENT, NULL), CMH_OK);
	cmh_webhook_delivery_release(&d);
	expect_fail("{\"validationUrl\": 3}", CMH_ERR_PARSE);
	expect_fail("[{\"validationUrl\": \"https://x\"}]", CMH_ERR_PARSE);
	/* With an "event" it is an event delivery. */
	assert_int_equal(parse(with_event, &d), CMH_OK);
	assert_int_equal(d.kind, CMH_WEBHOOK_BODY_EVENTS);
	assert_int_equal(d.n_events, 1);
	cmh_webhook_delivery_release(&d);
	free(with_event);
}

static void test_webhook_other_provider(void **state)
{
	static const char body[] =
		"{\"event_id\":\"aem-1\",\"recipient_client_id\":\"" CLIENT "\",\"event\":{"
		"\"@id\":\"urn:oeid:aem:1\",\"@type\":\"xdmCreated\","
		"\"xdmEventEnvelope:objectType\":\"xdmAsset\","
		"\"activitystreams:object\":{\"@id\":\"" EXEC_URL "\"}}}";
	static const char minimal[] = "{\"eventid\":\"m\",\"event\":{}}";
	static const char swapped[] =
		"{\"eventid\":\"w\",\"event\":{\"@type\":\"" CMH_EVENT_TYPE_WAITING "\","
		"\"xdmEventEnvelope:objectType\":\"" CMH_EVENT_OBJ_EXECUTION "\"}}";
	struct cmh_webhook_delivery d;

	(void)state;
	assert_int_equal(parse(body, &d), CMH_OK);
	assert_int_equal(d.events[0].kind, CMH_KIND_OTHER);
	assert_string_equal(d.events[0].type, "xdmCreated");
	assert_false(d.events[0].object_url_ok);
	assert_int_equal(cmh_webhook_check_recipient(&d, CLIENT, NULL), CMH_OK);
	cmh_webhook_delivery_release(&d);

	assert_int_equal(parse(minimal, &d), CMH_OK);
	assert_int_equal(d.events[0].kind, CMH_KIND_OTHER);
	assert_null(d.events[0].type);
	assert_null(d.events[0].object_url);
	assert_null(d.events[0].urn);
	assert_int_equal(d.events[0].published_ms, -1);
	cmh_webhook_delivery_release(&d);

	/* "waiting" exists only for steps. */
	assert_int_equal(parse(swapped, &d), CMH_OK);
	assert_int_equal(d.events[0].kind, CMH_KIND_OTHER);
	cmh_webhook_delivery_release(&d);
}

/* ---- malformed bodies ------------------------------------------------------ */

static void test_webhook_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"42", "\"str\"", "null", "true", "-1.5e3",
		"{}", "[1]", "[\"x\"]", "[[]]", "[null]", "[{}]",
		"{\"eventid\":\"x\"}",                               /* no event */
		"{\"eventid\":\"x\",\"event\":null}",
		"{\"eventid\":\"x\",\"event\":\"s\"}",
		"{\"eventid\":\"x\",\"event\":[]}",
		"{\"eventid\":\"x\",\"event\":{\"@type\":1}}",
		"{\"eventid\":\"x\",\"event\":{\"@type\":null}}",
		"{\"eventid\":\"x\",\"event\":{\"xdmEventEnvelope:objectType\":[]}}",
		"{\"eventid\":\"x\",\"event\":{\"@id\":{}}}",
		"{\"eventid\":\"x\",\"event\":{\"activitystreams:published\":20210823}}",
		"{\"eventid\":\"x\",\"event\":{\"activitystreams:object\":\"https://x\"}}",
		"{\"eventid\":\"x\",\"event\":{\"activitystreams:object\":{\"@id\":1}}}",
		"{\"eventid\":\"x\",\"event\":{}} trailing",
		"{\"eventid\":\"x\",\"event\":{}}{}",
		"{\"eventid\":\"x\",\"event\":{},}",
		"{'eventid':'x','event':{}}",
		"{\"eventid\":\"x\",\"eventid\":\"x\",\"event\":{}}",          /* duplicate key */
		"{\"eventid\":\"x\",\"event\":{\"@type\":\"a\",\"@type\":\"a\"}}",
		"{\"eventid\":\"x\\u0000y\",\"event\":{}}",                   /* NUL in string */
		"{\"eventid\":\"x\",\"event\":{\"@id\":\"\xff\xfe\"}}",       /* invalid UTF-8 */
		"{\"eventid\":\"x\",\"event\":{\"@id\":\"\xc3\"}}",           /* cut UTF-8 */
		"{\"eventid\":\"x\",\"event\":{\"@id\":\"\xed\xa0\x80\"}}",   /* surrogate */
		"{\"eventid\":\"x\",\"event\":{\"@id\":\"\\ud800\"}}",        /* lone surrogate */
		"[", "]", "{", "}", "[,]", " ", "\xef\xbb\xbf{}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_fail(bad[i], CMH_ERR_PARSE);
}

static void test_webhook_rejects_empty_and_binary(void **state)
{
	static const char nul_body[] = "{\"eventid\":\"x\",\0\"event\":{}}";
	struct cmh_webhook_delivery d;

	(void)state;
	assert_int_equal(cmh_webhook_parse("", 0, API, &d, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_webhook_parse(NULL, 0, API, &d, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_webhook_parse(nul_body, sizeof(nul_body) - 1, API, &d, NULL),
			 CMH_ERR_PARSE);
	assert_int_equal(d.n_events, 0);
}

static void test_webhook_rejects_truncated(void **state)
{
	char *body = testdata_read(examples[0].file, NULL);
	size_t end = strrchr(body, '}') - body;
	struct cmh_webhook_delivery d;

	(void)state;
	/* Every proper prefix up to the closing brace is invalid. */
	for (size_t n = 0; n < end + 1; n++)
		assert_int_equal(cmh_webhook_parse(body, n, API, &d, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_webhook_parse(body, end + 1, API, &d, NULL), CMH_OK);
	cmh_webhook_delivery_release(&d);
	free(body);
}

static void test_webhook_nesting_bound(void **state)
{
	char *deep, *ok, *in_string;
	size_t n = 100000;

	(void)state;
	/* 100000 nested arrays: refused before jansson recurses. */
	deep = malloc(2 * n + 1);
	assert_non_null(deep);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	expect_fail(deep, CMH_ERR_PARSE);
	free(deep);
	/* Nesting within the bound in an unread member is accepted ... */
	assert_true(asprintf(&ok, "{\"eventid\":\"x\",\"event\":{\"x\":%.*s1%.*s}}",
			     CMH_WEBHOOK_MAX_DEPTH - 2, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
			     CMH_WEBHOOK_MAX_DEPTH - 2, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]") > 0);
	{
		struct cmh_webhook_delivery d;

		assert_int_equal(parse(ok, &d), CMH_OK);
		cmh_webhook_delivery_release(&d);
	}
	free(ok);
	/* ... one level more is not. */
	assert_true(asprintf(&ok, "{\"eventid\":\"x\",\"event\":{\"x\":%.*s1%.*s}}",
			     CMH_WEBHOOK_MAX_DEPTH - 1, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
			     CMH_WEBHOOK_MAX_DEPTH - 1, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]") > 0);
	expect_fail(ok, CMH_ERR_PARSE);
	free(ok);
	/* Brackets inside strings (with escaped quotes) do not count. */
	in_string = malloc(300);
	assert_non_null(in_string);
	assert_true(snprintf(in_string, 300, "{\"eventid\":\"x\",\"event\":{\"@id\":\"\\\"%s\"}}",
			     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{") < 300);
	{
		struct cmh_webhook_delivery d;

		assert_int_equal(parse(in_string, &d), CMH_OK);
		assert_int_equal(d.events[0].urn[0], '"');
		cmh_webhook_delivery_release(&d);
	}
	free(in_string);
}

static void test_webhook_batch_bounds(void **state)
{
	struct cmh_buf b;
	struct cmh_webhook_delivery d;
	char *el = envelope("\"eventid\":\"x\",\"recipientclientid\":\"" CLIENT "\",");

	(void)state;
	expect_fail("[]", CMH_ERR_PARSE);
	expect_fail(" [ ] ", CMH_ERR_PARSE);
	cmh_buf_init(&b, 1 << 20);
	assert_int_equal(cmh_buf_addch(&b, '['), CMH_OK);
	for (int i = 0; i < CMH_WEBHOOK_MAX_BATCH; i++)
		assert_int_equal(cmh_buf_addf(&b, "%s%s", i ? "," : "", el), CMH_OK);
	assert_int_equal(cmh_buf_addch(&b, ']'), CMH_OK);
	assert_int_equal(cmh_webhook_parse(b.data, b.len, API, &d, NULL), CMH_OK);
	assert_int_equal(d.n_events, CMH_WEBHOOK_MAX_BATCH);
	assert_int_equal(cmh_webhook_check_recipient(&d, CLIENT, NULL), CMH_OK);
	cmh_webhook_delivery_release(&d);
	/* 101 elements. */
	b.len--;
	assert_int_equal(cmh_buf_addf(&b, ",%s]", el), CMH_OK);
	assert_int_equal(cmh_webhook_parse(b.data, b.len, API, &d, NULL), CMH_ERR_TOO_LARGE);
	assert_int_equal(d.n_events, 0);
	/* A bad element anywhere fails the batch. */
	b.len -= 1 + 2 * (strlen(el) + 1);
	assert_int_equal(cmh_buf_adds(&b, ",7]"), CMH_OK);
	assert_int_equal(cmh_webhook_parse(b.data, b.len, API, &d, NULL), CMH_ERR_PARSE);
	cmh_buf_release(&b);
	free(el);
}

static void test_webhook_field_length_cap(void **state)
{
	size_t n = CMH_WEBHOOK_MAX_FIELD_LEN + 1;
	char *longv = malloc(n + 1), *body;

	(void)state;
	assert_non_null(longv);
	memset(longv, 'u', n);
	longv[n] = '\0';
	assert_true(asprintf(&body, "{\"eventid\":\"x\",\"event\":{\"@id\":\"%s\"}}", longv) > 0);
	expect_fail(body, CMH_ERR_PARSE);
	free(body);
	longv[n - 1] = '\0';
	assert_true(asprintf(&body, "{\"eventid\":\"x\",\"event\":{\"@id\":\"%s\"}}", longv) > 0);
	{
		struct cmh_webhook_delivery d;

		assert_int_equal(parse(body, &d), CMH_OK);
		cmh_webhook_delivery_release(&d);
	}
	free(body);
	free(longv);
}

/* ---- recipient ------------------------------------------------------------ */

static void test_webhook_recipient_check(void **state)
{
	char *right = envelope("\"eventid\":\"a\",\"recipient_client_id\":\"" CLIENT "\",");
	char *wrong = envelope("\"eventid\":\"b\",\"recipient_client_id\":\"someone-else\",");
	char *prefix = envelope("\"eventid\":\"c\",\"recipientclientid\":\"0123456789abcdef\",");
	char *upper = envelope("\"eventid\":\"d\",\"recipientclientid\":\"0123456789ABCDEF0123456789ABCDEF\",");
	char *missing = envelope("\"eventid\":\"e\",");
	char *body;
	struct cmh_webhook_delivery d;
	struct cmh_buf err;

	(void)state;
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(parse(right, &d), CMH_OK);
	assert_int_equal(cmh_webhook_check_recipient(&d, CLIENT, &err), CMH_OK);
	assert_int_equal(cmh_webhook_check_recipient(&d, "", &err), CMH_ERR_RECIPIENT);
	assert_int_equal(cmh_webhook_check_recipient(&d, NULL, &err), CMH_ERR_RECIPIENT);
	assert_int_equal(cmh_webhook_check_recipient(&d, CLIENT "x", &err), CMH_ERR_RECIPIENT);
	cmh_webhook_delivery_release(&d);
	const char *const bad[] = { wrong, prefix, upper, missing };
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(parse(bad[i], &d), CMH_OK);
		assert_int_equal(cmh_webhook_check_recipient(&d, CLIENT, &err), CMH_ERR_RECIPIENT);
		cmh_webhook_delivery_release(&d);
	}
	assert_non_null(strstr(err.data, "no recipient"));
	/* One wrong element in a batch fails the whole delivery. */
	assert_true(asprintf(&body, "[%s,%s]", right, wrong) > 0);
	assert_int_equal(parse(body, &d), CMH_OK);
	assert_int_equal(cmh_webhook_check_recipient(&d, CLIENT, &err), CMH_ERR_RECIPIENT);
	assert_non_null(strstr(err.data, "event 1"));
	cmh_webhook_delivery_release(&d);
	assert_int_equal(cmh_webhook_check_recipient(NULL, CLIENT, NULL), CMH_ERR_RECIPIENT);
	free(body);
	free(right);
	free(wrong);
	free(prefix);
	free(upper);
	free(missing);
	cmh_buf_release(&err);
}

/* ---- object URL ------------------------------------------------------------ */

static void test_webhook_object_url(void **state)
{
	static const struct {
		const char *base;
		enum cmh_event_kind kind;
		const char *url;
		bool ok;
	} cases[] = {
		{ API, CMH_KIND_STARTED, API "/api/program/1/pipeline/2/execution/3", true },
		{ API, CMH_KIND_ENDED, API "/api/program/1/pipeline/2/execution/3", true },
		{ API "/", CMH_KIND_ENDED, API "/api/program/1/pipeline/2/execution/3", true },
		{ API, CMH_KIND_STEP_STARTED, API "/api/program/1/pipeline/2/execution/3/phase/4/step/5", true },
		{ API, CMH_KIND_WAITING, API "/api/program/1/pipeline/2/execution/3/phase/4/step/5", true },
		{ API, CMH_KIND_STEP_ENDED, API "/api/program/12345678901234567890/pipeline/2/execution/3/phase/4/step/5", true },
		{ "http://127.0.0.1:43211", CMH_KIND_STARTED, "http://127.0.0.1:43211/api/program/1/pipeline/2/execution/3", true },
		/* kind and shape must agree */
		{ API, CMH_KIND_STARTED, API "/api/program/1/pipeline/2/execution/3/phase/4/step/5", false },
		{ API, CMH_KIND_WAITING, API "/api/program/1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_OTHER, API "/api/program/1/pipeline/2/execution/3", false },
		/* other origins */
		{ API, CMH_KIND_STARTED, "https://cloudmanager.adobe.io.evil.example/api/program/1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, "https://user@cloudmanager.adobe.io/api/program/1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, "http://cloudmanager.adobe.io/api/program/1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, "https://cloudmanager.adobe.io:443/api/program/1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, "https://CLOUDMANAGER.adobe.io/api/program/1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, "/api/program/1/pipeline/2/execution/3", false },
		{ "http://127.0.0.1:43211", CMH_KIND_STARTED, "http://127.0.0.1:432110/api/program/1/pipeline/2/execution/3", false },
		/* path tricks */
		{ API, CMH_KIND_STARTED, API "/api/program/1/pipeline/2/execution/3?x=1", false },
		{ API, CMH_KIND_STARTED, API "/api/program/1/pipeline/2/execution/3#f", false },
		{ API, CMH_KIND_STARTED, API "/api/program/1/pipeline/2/execution/3/", false },
		{ API, CMH_KIND_STARTED, API "/api/program/1/pipeline/2/execution/3/..", false },
		{ API, CMH_KIND_STARTED, API "/api/program/1/../1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, API "/api/program/%31/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, API "/api/program//pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, API "/api/program/-1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, API "/api/program/1/pipeline/2/execution/x", false },
		{ API, CMH_KIND_STARTED, API "/api/program/1/pipeline/2/execution/3 ", false },
		{ API, CMH_KIND_STARTED, API "//api/program/1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, API "/API/program/1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STEP_ENDED, API "/api/program/123456789012345678901/pipeline/2/execution/3/phase/4/step/5", false },
		{ API, CMH_KIND_STEP_ENDED, API "/api/program/1/pipeline/2/execution/3/phase/4/step/", false },
		{ API, CMH_KIND_STEP_ENDED, API "/api/program/1/pipeline/2/execution/3/step/5/phase/4", false },
		{ "", CMH_KIND_STARTED, "/api/program/1/pipeline/2/execution/3", false },
		{ API, CMH_KIND_STARTED, "", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cmh_webhook_object_url_ok(cases[i].base, cases[i].kind, cases[i].url) != cases[i].ok)
			fail_msg("case %zu: %s (kind %d) should be %s", i, cases[i].url,
				 cases[i].kind, cases[i].ok ? "accepted" : "refused");
	}
	assert_false(cmh_webhook_object_url_ok(NULL, CMH_KIND_STARTED, EXEC_URL));
	assert_false(cmh_webhook_object_url_ok(API, CMH_KIND_STARTED, NULL));
	assert_false(cmh_webhook_object_url_ok(API, (enum cmh_event_kind)42, EXEC_URL));
}

static void test_webhook_bad_object_url_still_parses(void **state)
{
	static const char body[] =
		"{\"eventid\":\"x\",\"recipientclientid\":\"" CLIENT "\",\"event\":{"
		"\"@type\":\"" CMH_EVENT_TYPE_STARTED "\","
		"\"xdmEventEnvelope:objectType\":\"" CMH_EVENT_OBJ_EXECUTION "\","
		"\"activitystreams:object\":{\"@id\":\"https://evil.example/api/program/1/pipeline/2/execution/3\"}}}";
	struct cmh_webhook_delivery d;

	(void)state;
	assert_int_equal(parse(body, &d), CMH_OK);
	assert_int_equal(d.events[0].kind, CMH_KIND_STARTED);
	assert_false(d.events[0].object_url_ok);
	cmh_webhook_delivery_release(&d);
}

/* ---- event kinds (event.c) ------------------------------------------------- */

static void test_event_kind_names(void **state)
{
	static const char *const names[] = {
		"started", "ended", "step-started", "waiting", "step-ended", "other",
	};
	enum cmh_event_kind k;

	(void)state;
	for (int i = 0; i <= CMH_KIND_OTHER; i++) {
		assert_string_equal(cmh_event_kind_name((enum cmh_event_kind)i), names[i]);
		assert_int_equal(cmh_event_kind_parse(names[i], &k), CMH_OK);
		assert_int_equal(k, i);
	}
	assert_string_equal(cmh_event_kind_name((enum cmh_event_kind)99), "other");
	k = CMH_KIND_ENDED;
	assert_int_equal(cmh_event_kind_parse("Started", &k), CMH_ERR_PARSE);
	assert_int_equal(cmh_event_kind_parse("", &k), CMH_ERR_PARSE);
	assert_int_equal(cmh_event_kind_parse("all", &k), CMH_ERR_PARSE);
	assert_int_equal(cmh_event_kind_parse(NULL, &k), CMH_ERR_PARSE);
	assert_int_equal(k, CMH_KIND_ENDED);
	assert_int_equal(cmh_event_kind_bit(CMH_KIND_WAITING), 1u << 3);
	assert_int_equal(cmh_event_kind_bit(CMH_KIND_OTHER), 0);
	assert_true(cmh_event_kind_is_step(CMH_KIND_WAITING));
	assert_false(cmh_event_kind_is_step(CMH_KIND_ENDED));
}

static void test_event_classify(void **state)
{
	(void)state;
	assert_int_equal(cmh_event_classify(CMH_EVENT_TYPE_STARTED, CMH_EVENT_OBJ_EXECUTION), CMH_KIND_STARTED);
	assert_int_equal(cmh_event_classify(CMH_EVENT_TYPE_STARTED, CMH_EVENT_OBJ_STEP), CMH_KIND_STEP_STARTED);
	assert_int_equal(cmh_event_classify(CMH_EVENT_TYPE_WAITING, CMH_EVENT_OBJ_STEP), CMH_KIND_WAITING);
	assert_int_equal(cmh_event_classify(CMH_EVENT_TYPE_ENDED, CMH_EVENT_OBJ_STEP), CMH_KIND_STEP_ENDED);
	assert_int_equal(cmh_event_classify(CMH_EVENT_TYPE_ENDED, CMH_EVENT_OBJ_EXECUTION), CMH_KIND_ENDED);
	assert_int_equal(cmh_event_classify(CMH_EVENT_TYPE_WAITING, CMH_EVENT_OBJ_EXECUTION), CMH_KIND_OTHER);
	assert_int_equal(cmh_event_classify(CMH_EVENT_OBJ_STEP, CMH_EVENT_TYPE_ENDED), CMH_KIND_OTHER);
	assert_int_equal(cmh_event_classify(CMH_EVENT_TYPE_ENDED "/", CMH_EVENT_OBJ_STEP), CMH_KIND_OTHER);
	assert_int_equal(cmh_event_classify("HTTPS://ns.adobe.com/experience/cloudmanager/event/ended",
					    CMH_EVENT_OBJ_STEP), CMH_KIND_OTHER);
	assert_int_equal(cmh_event_classify(NULL, CMH_EVENT_OBJ_STEP), CMH_KIND_OTHER);
	assert_int_equal(cmh_event_classify(CMH_EVENT_TYPE_ENDED, NULL), CMH_KIND_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_webhook_challenge_values),
		cmocka_unit_test(test_webhook_challenge_json),
		cmocka_unit_test(test_webhook_parses_reference_examples),
		cmocka_unit_test(test_webhook_parses_batch_of_two),
		cmocka_unit_test(test_webhook_id_spellings),
		cmocka_unit_test(test_webhook_id_length_cap),
		cmocka_unit_test(test_webhook_cloudevents_unsupported),
		cmocka_unit_test(test_webhook_validation_post),
		cmocka_unit_test(test_webhook_other_provider),
		cmocka_unit_test(test_webhook_rejects_malformed),
		cmocka_unit_test(test_webhook_rejects_empty_and_binary),
		cmocka_unit_test(test_webhook_rejects_truncated),
		cmocka_unit_test(test_webhook_nesting_bound),
		cmocka_unit_test(test_webhook_batch_bounds),
		cmocka_unit_test(test_webhook_field_length_cap),
		cmocka_unit_test(test_webhook_recipient_check),
		cmocka_unit_test(test_webhook_object_url),
		cmocka_unit_test(test_webhook_bad_object_url_still_parses),
		cmocka_unit_test(test_event_kind_names),
		cmocka_unit_test(test_event_classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
