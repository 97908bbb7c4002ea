/*
 * `cmhook serve`, the webhook endpoint: the challenge GET, asynchronous
 * validation, signed single and batch deliveries reaching the journal,
 * forged and misaddressed deliveries being refused before anything is
 * journaled or fetched, duplicates, the body size limit, and bodies that are
 * authentic but unusable (reference/io-events-webhook.md, INTERFACE.md).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve.h"

#define CHALLENGE "8ec8d794-e0ab-42df-9017-e3dada8e84f7"
#define ID_31 "6f1d9a52-3c41-4b8e-9a0e-2d7c5b1e8f43"
#define ID_33 "d27f4a90-1e3b-4c65-a8f2-6b0e9c3d5a77"
#define ID_34 "0e5b8c27-94d1-4f3a-86b0-1c7e2a9f4d38"
#define ID_35 "7b2e9d41-c6a0-4f85-b3d7-5e1a8c0f2b96"
#define ID_OTHER "5c1e7a93-2d48-4b6f-9e01-a3b7c2d4e5f6"
#define OTHER_CLIENT "ffffffffffffffffffffffffffffffff"

static void expect_status(struct http_reply *r, long want, const char *what)
{
	if (r->ok && r->status == want)
		return;
	fail_msg("%s: got %s%ld (%s), want %ld; body: %.300s", what, r->ok ? "" : "no answer ",
		 r->status, r->error, want, r->body ? r->body : "");
}

static void post_expect(struct sv *s, const char *body, size_t len,
			const struct sv_post_opts *o, long want, const char *what)
{
	struct http_reply r;

	sv_post(s, body, len, o, &r);
	if (!r.ok || r.status != want)
		sv_dump_log(s, what);
	expect_status(&r, want, what);
	http_reply_release(&r);
}

/* Fail unless the journal has no row at all. */
static void expect_journal_empty(struct sv *s, const char *what)
{
	json_t *rows = sv_events(s, NULL);

	if (json_array_size(rows) != 0) {
		run_result_dump(&s->w->r, what);
		fail_msg("%s: the journal has %zu rows, want none", what, json_array_size(rows));
	}
	json_decref(rows);
}

static void expect_row(json_t *rows, const char *id, const char *kind, const char *status)
{
	json_t *o = sv_event_find(rows, id);
	const char *k, *st;

	if (!o)
		fail_msg("event %s is not listed by events --json", id);
	k = json_string_value(json_object_get(o, "kind"));
	st = json_string_value(json_object_get(o, "status"));
	if (!k || strcmp(k, kind) != 0)
		fail_msg("event %s: kind %s, want %s", id, k ? k : "(none)", kind);
	if (!st || strcmp(st, status) != 0)
		fail_msg("event %s: status %s, want %s", id, st ? st : "(none)", status);
}

/* ---- 1. challenge and validation ------------------------------------------------ */

static void test_serve_challenge_plain(void **state)
{
	struct sv *s = *state;
	struct http_reply r;
	char *url;

	sv_start(s);
	url = tmp_xasprintf("%s?challenge=" CHALLENGE, s->webhook);
	(void)http_get(url, NULL, &r);
	expect_status(&r, 200, "challenge");
	assert_true(fx_media_type_is(http_reply_header(&r, "Content-Type"), "text/plain"));
	/* Exactly the value: no quotes, no newline, no HTML. */
	assert_int_equal(r.body_len, strlen(CHALLENGE));
	assert_string_equal(r.body, CHALLENGE);
	http_reply_release(&r);
	free(url);
}

static void test_serve_challenge_json(void **state)
{
	struct sv *s = *state;
	const char *accept[] = { "Accept: application/json", NULL };
	struct http_reply r;
	json_error_t jerr;
	json_t *o;
	char *url;

	sv_start(s);
	url = tmp_xasprintf("%s?challenge=" CHALLENGE, s->webhook);
	(void)http_get(url, accept, &r);
	expect_status(&r, 200, "challenge, JSON form");
	assert_true(fx_media_type_is(http_reply_header(&r, "Content-Type"), "application/json"));
	o = json_loadb(r.body, r.body_len, 0, &jerr);
	if (!json_is_object(o))
		fail_msg("JSON challenge answer is not an object: %s", r.body);
	assert_int_equal(json_object_size(o), 1);
	assert_string_equal(json_string_value(json_object_get(o, "challenge")), CHALLENGE);
	json_decref(o);
	http_reply_release(&r);
	free(url);
}

static void expect_challenge(struct sv *s, const char *query, long want)
{
	char *url = tmp_xasprintf("%s%s", s->webhook, query);
	struct http_reply r;

	(void)http_get(url, NULL, &r);
	if (!r.ok || r.status != want)
		fail_msg("GET /webhook%.80s...: got %ld, want %ld", query, r.status, want);
	/* Whatever the answer, it never reflects markup. */
	assert_false(fx_contains_ci(r.body, r.body_len, "<script"));
	http_reply_release(&r);
	free(url);
}

static void test_serve_challenge_refuses_missing_and_unsafe_values(void **state)
{
	struct sv *s = *state;
	char q256[300], q257[300];

	sv_start(s);
	expect_challenge(s, "", 400);
	expect_challenge(s, "?challenge=", 400);
	expect_challenge(s, "?other=1", 400);
	expect_challenge(s, "?challenge=%3Cscript%3Ealert(1)%3C%2Fscript%3E", 400);
	expect_challenge(s, "?challenge=abc%22def", 400);
	expect_challenge(s, "?challenge=abc%0Adef", 400);
	/* 256 characters is the documented cap: the longest accepted value, one more is refused. */
	memcpy(q256, "?challenge=", 11);
	memset(q256 + 11, 'a', 256);
	q256[11 + 256] = '\0';
	memcpy(q257, q256, 11 + 256);
	q257[11 + 256] = 'b';
	q257[11 + 257] = '\0';
	expect_challenge(s, q256, 200);
	expect_challenge(s, q257, 400);
}

static void test_serve_validation_post_is_logged_never_fetched(void **state)
{
	struct sv *s = *state;
	struct fake_server *canary = fake_start();
	size_t len, off;
	char *body = sv_data("validation.json", &len);
	char *local;
	struct http_reply r;

	assert_non_null(canary);
	fake_push_json(canary, "GET", "/csm/registrations/validate", 200, "{}");
	sv_start(s);
	off = sv_log_size(s);
	post_expect(s, body, len, NULL, 200, "signed validation POST");
	sv_expect_log_since(s, off, "validation", 5000);

	/* A validation URL on a host we can observe: it must not be fetched either. */
	local = tmp_xasprintf("{\"validationUrl\":\"%s/csm/registrations/validate?id=x&challenge=y\"}",
			      fake_url(canary));
	sv_post(s, local, strlen(local), NULL, &r);
	if (!r.ok || (r.status != 200 && r.status != 400))
		fail_msg("validation POST naming another host: got %ld, want 200 or 400", r.status);
	http_reply_release(&r);
	/* Stop serve first, so that a late fetch by any thread would have been recorded. */
	assert_int_equal(sv_stop(s, SIGTERM, SV_STOP_TIMEOUT_MS), 0);
	assert_int_equal(fake_count(canary, NULL, NULL), 0);
	assert_int_equal(fake_count(s->w->ims, NULL, NULL), 0);
	assert_int_equal(fake_count(s->w->api, NULL, NULL), 0);
	expect_journal_empty(s, "validation is not an event");
	fake_stop(canary);
	free(local);
	free(body);
}

/* ---- 2. signed deliveries --------------------------------------------------------- */

static bool is_rfc3339_utc(const char *t)
{
	size_t n = t ? strlen(t) : 0;

	if (n < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':')
		return false;
	return t[n - 1] == 'Z' || (n >= 6 && strcmp(t + n - 6, "+00:00") == 0);
}

static void test_serve_signed_event_is_journaled_pending(void **state)
{
	struct sv *s = *state;
	size_t len;
	/* The stored bytes exactly (pretty-printed): the signature covers the raw body. */
	char *body = sv_data("cm-3.1-started.json", &len);
	json_t *rows, *o;

	sv_start(s);
	post_expect(s, body, len, NULL, 200, "signed started event");
	rows = sv_events(s, NULL);
	assert_int_equal(json_array_size(rows), 1);
	expect_row(rows, ID_31, "started", "pending");
	o = sv_event_find(rows, ID_31);
	assert_true(json_is_integer(json_object_get(o, "attempts")));
	assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 0);
	assert_true(json_is_null(json_object_get(o, "last_error")));
	if (!is_rfc3339_utc(json_string_value(json_object_get(o, "received_at"))))
		fail_msg("received_at is not RFC 3339 UTC: %s",
			 json_string_value(json_object_get(o, "received_at")));
	/* Nothing upstream is called on the request path, and no worker has a channel. */
	assert_int_equal(fake_count(s->w->api, NULL, NULL), 0);
	json_decref(rows);
	free(body);
}

static void test_serve_signed_batch_journals_every_event(void **state)
{
	struct sv *s = *state;
	size_t len;
	char *body = sv_data("batch-3.4-3.5.json", &len);
	json_t *rows;

	sv_start(s);
	post_expect(s, body, len, NULL, 200, "signed batch");
	rows = sv_events(s, NULL);
	assert_int_equal(json_array_size(rows), 2);
	/* step-ended is not in the default NOTIFY_EVENTS, so the journal may mark it ignored. */
	if (strcmp(json_string_value(json_object_get(sv_event_find(rows, ID_34), "status")),
		   "ignored") == 0)
		expect_row(rows, ID_34, "step-ended", "ignored");
	else
		expect_row(rows, ID_34, "step-ended", "pending");
	expect_row(rows, ID_35, "ended", "pending");
	json_decref(rows);
	free(body);
}

static void test_serve_new_field_spelling_is_accepted(void **state)
{
	struct sv *s = *state;
	size_t len;
	char *body = sv_data("cm-3.3-waiting-all-ids.json", &len);
	json_t *rows;

	sv_start(s);
	post_expect(s, body, len, NULL, 200, "event with all four id fields");
	rows = sv_events(s, NULL);
	assert_int_equal(json_array_size(rows), 1);
	expect_row(rows, ID_33, "waiting", "pending");
	json_decref(rows);
	free(body);
}

/* ---- 3. forged and misaddressed ----------------------------------------------------- */

static void test_serve_tampered_body_is_refused(void **state)
{
	struct sv *s = *state;
	char id[37];
	char *genuine, *forged;
	struct sv_post_opts o = { 0 };

	tmp_uuid(id);
	genuine = sv_event("cm-3.1-started.json", NULL, NULL);
	forged = sv_event("cm-3.1-started.json", id, NULL);
	o.signed_body = genuine;
	o.signed_len = strlen(genuine);
	sv_start(s);
	post_expect(s, forged, strlen(forged), &o, 401, "body changed after signing");
	/* The same bytes with one byte appended. */
	{
		char *longer = tmp_xasprintf("%s ", genuine);

		post_expect(s, longer, strlen(longer), &o, 401, "one byte appended after signing");
		free(longer);
	}
	expect_journal_empty(s, "tampered bodies");
	free(genuine);
	free(forged);
}

static void test_serve_missing_signature_is_refused(void **state)
{
	struct sv *s = *state;
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	struct sv_post_opts none = { .unsigned_body = true };
	struct sv_post_opts no_sigs = { .sig1 = "", .sig2 = "" };
	struct sv_post_opts no_paths = { .path1 = "", .path2 = "" };
	struct sv_post_opts empty = { .sig1 = " ", .sig2 = " " };

	sv_start(s);
	post_expect(s, body, strlen(body), &none, 401, "no signature headers");
	post_expect(s, body, strlen(body), &no_sigs, 401, "key paths but no signatures");
	post_expect(s, body, strlen(body), &no_paths, 401, "signatures but no key paths");
	post_expect(s, body, strlen(body), &empty, 401, "blank signatures");
	expect_journal_empty(s, "unsigned deliveries");
	/* Header checks come before key fetches (io-events-webhook.md §6.2 steps 1-3). */
	assert_int_equal(fake_count(s->keyhost, NULL, NULL), 0);
	free(body);
}

static void test_serve_one_good_signature_is_enough(void **state)
{
	struct sv *s = *state;
	const struct sign_key *stranger = sign_key_shared(2);
	char id1[37], id2[37], id3[37];
	char *b1, *b2, *b3, *bad1, *bad2, *bad3;
	struct sv_post_opts o1 = { 0 }, o2 = { 0 }, o3 = { 0 };
	json_t *rows;

	tmp_uuid(id1);
	tmp_uuid(id2);
	tmp_uuid(id3);
	b1 = sv_event("cm-3.1-started.json", id1, NULL);
	b2 = sv_event("cm-3.1-started.json", id2, NULL);
	b3 = sv_event("cm-3.1-started.json", id3, NULL);
	/* Well-formed signatures by a key that is not the one at the named path. */
	bad1 = sign_body(stranger, b1, strlen(b1));
	bad2 = sign_body(stranger, b2, strlen(b2));
	bad3 = sign_body(stranger, b3, strlen(b3));
	o1.sig1 = bad1;                   /* sig1 bad, sig2 good */
	o2.sig2 = bad2;                   /* sig1 good, sig2 bad */
	o3.sig1 = bad3;                   /* both bad */
	o3.sig2 = bad3;
	sv_start(s);
	post_expect(s, b1, strlen(b1), &o1, 200, "signature 1 bad, 2 good");
	post_expect(s, b2, strlen(b2), &o2, 200, "signature 1 good, 2 bad");
	post_expect(s, b3, strlen(b3), &o3, 401, "both signatures by a stranger's key");
	rows = sv_events(s, NULL);
	assert_non_null(sv_event_find(rows, id1));
	assert_non_null(sv_event_find(rows, id2));
	assert_null(sv_event_find(rows, id3));
	assert_int_equal(json_array_size(rows), 2);
	json_decref(rows);
	free(b1);
	free(b2);
	free(b3);
	free(bad1);
	free(bad2);
	free(bad3);
}

static void test_serve_garbage_signatures_are_refused(void **state)
{
	struct sv *s = *state;
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	struct sv_post_opts notb64 = { .sig1 = "!!!not-base64!!!", .sig2 = "%%%%" };
	struct sv_post_opts shortsig = { .sig1 = "AAAA", .sig2 = "AAAA" };

	sv_start(s);
	post_expect(s, body, strlen(body), &notb64, 401, "signatures that are not base64");
	post_expect(s, body, strlen(body), &shortsig, 401, "signatures of the wrong length");
	expect_journal_empty(s, "garbage signatures");
	free(body);
}

static void test_serve_key_path_outside_prod_keys_is_never_fetched(void **state)
{
	struct sv *s = *state;
	struct fake_server *evil = fake_start();
	char *body = sv_event("cm-3.1-started.json", NULL, NULL);
	const char *traversal = "/prod/keys/../x.pem";
	char *userinfo;
	struct sv_post_opts dots = { .path1 = traversal, .path2 = traversal };
	struct sv_post_opts at = { 0 };
	struct fake_response pem = { .status = 200, .body = sign_key_pem(s->k1),
				     .headers = "Content-Type: application/x-pem-file" };

	assert_non_null(evil);
	/*
	 * "@host:port/..." appended to EVENTS_KEY_URL turns the configured host into
	 * userinfo and sends the fetch to "evil", which serves the right key: a
	 * receiver that concatenates without validating would accept the delivery.
	 */
	userinfo = tmp_xasprintf("@127.0.0.1:%u%s", fake_port(evil), sign_key_path(s->k1));
	fake_push(evil, "GET", sign_key_path(s->k1), &pem);
	fake_push(evil, "GET", "/x.pem", &pem);
	at.path1 = userinfo;
	at.path2 = userinfo;
	sv_start(s);
	post_expect(s, body, strlen(body), &dots, 401, "key path with ..");
	post_expect(s, body, strlen(body), &at, 401, "key path with @host");
	assert_int_equal(sv_stop(s, SIGTERM, SV_STOP_TIMEOUT_MS), 0);
	assert_int_equal(fake_count(s->keyhost, NULL, NULL), 0);
	assert_int_equal(fake_count(evil, NULL, NULL), 0);
	expect_journal_empty(s, "bad key paths");
	fake_stop(evil);
	free(userinfo);
	free(body);
}

static void test_serve_wrong_or_missing_recipient_is_refused(void **state)
{
	struct sv *s = *state;
	char *wrong = sv_event("cm-3.1-started.json", NULL, OTHER_CLIENT);
	char *missing = sv_event("cm-3.1-started.json", NULL, "");
	/* A prefix of our client id must not pass either. */
	char *prefix = sv_event("cm-3.1-started.json", NULL, "0123456789abcdef");
	char *batch;
	size_t len;
	char *text = sv_data("batch-3.4-3.5.json", &len);
	json_t *arr = json_loadb(text, len, 0, NULL);

	assert_true(json_is_array(arr));
	/* A batch with one misaddressed element is refused as a whole. */
	assert_int_equal(json_object_set_new(json_array_get(arr, 1), "recipient_client_id",
					     json_string(OTHER_CLIENT)), 0);
	batch = json_dumps(arr, JSON_COMPACT);
	sv_start(s);
	post_expect(s, wrong, strlen(wrong), NULL, 401, "wrong recipient");
	post_expect(s, missing, strlen(missing), NULL, 401, "missing recipient");
	post_expect(s, prefix, strlen(prefix), NULL, 401, "recipient that is a prefix of ours");
	post_expect(s, batch, strlen(batch), NULL, 401, "batch with one wrong recipient");
	expect_journal_empty(s, "misaddressed deliveries");
	json_decref(arr);
	free(batch);
	free(text);
	free(wrong);
	free(missing);
	free(prefix);
}

/* ---- 4. duplicates ------------------------------------------------------------------ */

static void test_serve_redelivery_is_acknowledged_once_journaled(void **state)
{
	struct sv *s = *state;
	size_t len;
	char *pretty = sv_data("cm-3.1-started.json", &len);
	char *compact = sv_event("cm-3.1-started.json", NULL, NULL);
	const char *retry[] = { "x-adobe-retry-count: 1", "x-adobe-event-id: " ID_31, NULL };
	struct sv_post_opts o = { .headers = retry };
	json_t *rows;

	sv_start(s);
	post_expect(s, pretty, len, NULL, 200, "first delivery");
	post_expect(s, pretty, len, &o, 200, "identical redelivery");
	post_expect(s, compact, strlen(compact), NULL, 200, "same event, other bytes");
	rows = sv_events(s, NULL);
	assert_int_equal(json_array_size(rows), 1);
	assert_int_equal(sv_event_count(rows, ID_31), 1);
	json_decref(rows);
	free(pretty);
	free(compact);
}

/* ---- 5. body size ----------------------------------------------------------------- */

/* A signed-able single event of exactly total bytes, padded with an unknown field. */
static char *event_of_size(const char *id, size_t total)
{
	char *base = sv_event("cm-3.1-started.json", id, NULL);
	size_t blen = strlen(base), fixed = strlen(",\"padding\":\"\"");
	char *out;

	if (total < blen + fixed)
		fail_msg("event_of_size: %zu is too small", total);
	out = tmp_xmalloc(total + 1);
	memcpy(out, base, blen - 1); /* without the closing brace */
	memcpy(out + blen - 1, ",\"padding\":\"", 12);
	memset(out + blen - 1 + 12, 'x', total - blen - fixed);
	memcpy(out + total - 2, "\"}", 2);
	out[total] = '\0';
	free(base);
	return out;
}

static void test_serve_body_over_max_body_is_413(void **state)
{
	struct sv *s = *state;
	char id_big[37], id_limit[37], id_over[37], id_chunk[37];
	char *big, *limit, *over, *chunk_ok;
	struct sv_post_opts chunked = { .chunked = true };
	json_t *rows;

	tmp_uuid(id_big);
	tmp_uuid(id_limit);
	tmp_uuid(id_over);
	tmp_uuid(id_chunk);
	big = event_of_size(id_big, 100 * 1024);
	limit = event_of_size(id_limit, 64 * 1024);
	over = event_of_size(id_over, 64 * 1024 + 1);
	chunk_ok = event_of_size(id_chunk, 40 * 1024);
	run_env_set(&s->w->env, "MAX_BODY", "64k");
	sv_start(s);
	post_expect(s, big, strlen(big), NULL, 413, "100k body with Content-Length");
	post_expect(s, big, strlen(big), &chunked, 413, "100k body, chunked");
	post_expect(s, over, strlen(over), &chunked, 413, "MAX_BODY + 1, chunked");
	post_expect(s, over, strlen(over), NULL, 413, "MAX_BODY + 1 with Content-Length");
	/* The limit itself is accepted, and chunked bodies under it work. */
	post_expect(s, limit, strlen(limit), NULL, 200, "exactly MAX_BODY");
	post_expect(s, chunk_ok, strlen(chunk_ok), &chunked, 200, "40k body, chunked");
	rows = sv_events(s, NULL);
	assert_null(sv_event_find(rows, id_big));
	assert_null(sv_event_find(rows, id_over));
	assert_non_null(sv_event_find(rows, id_limit));
	assert_non_null(sv_event_find(rows, id_chunk));
	json_decref(rows);
	free(big);
	free(limit);
	free(over);
	free(chunk_ok);
}

/* ---- 7. authentic but unusable bodies ----------------------------------------------- */

static void test_serve_signed_malformed_bodies_are_400(void **state)
{
	struct sv *s = *state;
	size_t tlen, clen;
	char *truncated = sv_data("malformed-truncated.json", &tlen);
	char *cloud = sv_data("cloudevents-started.json", &clen);
	static const char *const others[] = {
		"", "[]", "\"just a string\"", "42", "{}", "[1,2]", "{\"event_id\":\"x\"}",
		"{\"event_id\":\"a\",\"recipient_client_id\":\"" FX_CLIENT_ID "\",\"event\":{},\"event_id\":\"b\"}",
	};

	sv_start(s);
	post_expect(s, truncated, tlen, NULL, 400, "signed truncated JSON");
	post_expect(s, cloud, clen, NULL, 400, "signed CloudEvents body");
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		post_expect(s, others[i], strlen(others[i]), NULL, 400, others[i]);
	expect_journal_empty(s, "malformed bodies");
	free(truncated);
	free(cloud);
}

static void test_serve_other_provider_event_is_ignored(void **state)
{
	struct sv *s = *state;
	size_t len;
	char *body = sv_data("other-provider-aem.json", &len);
	json_t *rows;

	sv_start(s);
	post_expect(s, body, len, NULL, 200, "signed event of another provider");
	rows = sv_events(s, NULL);
	assert_int_equal(json_array_size(rows), 1);
	expect_row(rows, ID_OTHER, "other", "ignored");
	json_decref(rows);
	free(body);
}

#define T(f) cmocka_unit_test_setup_teardown(f, sv_setup, sv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_serve_challenge_plain),
		T(test_serve_challenge_json),
		T(test_serve_challenge_refuses_missing_and_unsafe_values),
		T(test_serve_validation_post_is_logged_never_fetched),
		T(test_serve_signed_event_is_journaled_pending),
		T(test_serve_signed_batch_journals_every_event),
		T(test_serve_new_field_spelling_is_accepted),
		T(test_serve_tampered_body_is_refused),
		T(test_serve_missing_signature_is_refused),
		T(test_serve_one_good_signature_is_enough),
		T(test_serve_garbage_signatures_are_refused),
		T(test_serve_key_path_outside_prod_keys_is_never_fetched),
		T(test_serve_wrong_or_missing_recipient_is_refused),
		T(test_serve_redelivery_is_acknowledged_once_journaled),
		T(test_serve_body_over_max_body_is_413),
		T(test_serve_signed_malformed_bodies_are_400),
		T(test_serve_other_provider_event_is_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
