/*
 * Adobe I/O Events' part in the demo: deliver each event of the script to
 * the daemon's webhook as Adobe does (io-events-webhook.md §5-6: JSON body,
 * event and delivery ids, two RSA-SHA256 signatures with their key paths),
 * one at a time. Between events the player waits until the channels have
 * the message, which keeps the simulated API's state in step with the event
 * the daemon is enriching and makes the output's order that of the run.
 */
#include "demo.h"

#include <stdio.h>
#include <string.h>

#include "http_client.h"

#define POST_TIMEOUT_MS 15000
#define MAX_EVENT_BODY  (16 * 1024)

struct signed_event {
	char event_id[37];
	char delivery_id[37];
	char urn[37];
	struct cmh_buf body;
	struct cmh_buf sig1, sig2;
};

static void signed_event_release(struct signed_event *e)
{
	cmh_buf_release(&e->body);
	cmh_buf_release(&e->sig1);
	cmh_buf_release(&e->sig2);
}

static enum cmh_err build(const struct cmh_demo_play *p, const struct cmh_demo_beat *b,
	struct signed_event *e)
{
	enum cmh_err err;

	cmh_buf_init(&e->body, MAX_EVENT_BODY);
	cmh_buf_init(&e->sig1, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&e->sig2, CMH_BUF_MAX_SMALL);
	cmh_demo_uuid(e->event_id);
	cmh_demo_uuid(e->delivery_id);
	cmh_demo_uuid(e->urn);
	err = cmh_demo_world_event(p->world, b, p->api_url, e->event_id, e->urn, &e->body);
	/* Adobe signs twice with two keys; the demo has one key pair, so the two
	 * signatures are equal and only the key paths differ. */
	if (!err)
		err = cmh_demo_key_sign(p->key, e->body.data, e->body.len, &e->sig1);
	if (!err)
		err = cmh_demo_key_sign(p->key, e->body.data, e->body.len, &e->sig2);
	return err;
}

static enum cmh_err post(const struct cmh_demo_play *p, const struct signed_event *e,
	long *ret_status, struct cmh_buf *errmsg)
{
	const struct cmh_http_header headers[] = {
		{ "Content-Type", "application/json; charset=utf-8" },
		{ "User-Agent", "Adobe/1.0" },
		{ "x-adobe-event-id", e->event_id },
		{ "x-adobe-delivery-id", e->delivery_id },
		{ "x-request-id", e->delivery_id },
		{ "x-adobe-digital-signature-1", e->sig1.data },
		{ "x-adobe-digital-signature-2", e->sig2.data },
		{ "x-adobe-public-key1-path", cmh_demo_key_path(p->key, 0) },
		{ "x-adobe-public-key2-path", cmh_demo_key_path(p->key, 1) },
	};
	struct cmh_http_request req = {
		.method = "POST",
		.url = p->webhook_url,
		.headers = headers,
		.n_headers = sizeof(headers) / sizeof(headers[0]),
		.body = e->body.data,
		.body_len = e->body.len,
		.timeout_ms = POST_TIMEOUT_MS,
	};
	struct cmh_http_response resp;
	enum cmh_err err;

	cmh_http_response_init(&resp);
	err = cmh_http_perform(&req, &resp, errmsg);
	*ret_status = resp.status;
	cmh_http_response_release(&resp);
	return err;
}

/* Deliver one beat; *expected grows by one when the channels will get a message. */
static enum cmh_err play_beat(const struct cmh_demo_play *p, const struct cmh_demo_beat *b,
	size_t *expected, struct cmh_buf *errmsg)
{
	struct signed_event e;
	long status = 0;
	enum cmh_err err;

	cmh_demo_world_advance(p->world, b);
	err = build(p, b, &e);
	if (err) {
		cmh_errf(errmsg, "cannot build the event: %s", cmh_strerror(err));
		goto out;
	}
	err = post(p, &e, &status, errmsg);
	if (err)
		goto out;
	if (status != 200) {
		cmh_errf(errmsg, "the webhook answered %ld instead of 200", status);
		err = CMH_ERR_REJECTED;
		goto out;
	}
	if (!(p->notify_events & cmh_event_kind_bit(b->kind)))
		goto out;
	(*expected)++;
	if (!cmh_demo_sinks_wait(p->sinks, *expected, CMH_DEMO_MESSAGE_TIMEOUT_MS, p->stop)) {
		if (p->stop && *p->stop)
			cmh_errf(errmsg, "interrupted");
		else
			cmh_errf(errmsg, "the channels did not get the message within %d s",
				 CMH_DEMO_MESSAGE_TIMEOUT_MS / 1000);
		err = CMH_ERR_TIMEOUT;
	}
out:
	signed_event_release(&e);
	return err;
}

enum cmh_err cmh_demo_play(const struct cmh_demo_play *p, struct cmh_buf *errmsg)
{
	size_t n, expected = 0;
	const struct cmh_demo_beat *beats = cmh_demo_beats(&n);
	struct cmh_buf why;
	enum cmh_err err = CMH_OK;

	cmh_buf_init(&why, CMH_BUF_MAX_ERRMSG);
	for (size_t i = 0; i < n && !err; i++) {
		if (p->progress)
			fprintf(stderr, "demo: %-22s %s\n", cmh_demo_run_name(beats[i].run),
				beats[i].caption);
		err = play_beat(p, &beats[i], &expected, &why);
		if (err)
			cmh_errf(errmsg, "%s, %s: %s", cmh_demo_run_name(beats[i].run),
				 beats[i].caption, why.len ? why.data : cmh_strerror(err));
	}
	cmh_buf_release(&why);
	return err;
}
