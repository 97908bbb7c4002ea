/*
 * The generic webhook's payload: cmhook's own versioned JSON object
 * ("schema": "cmhook.notification/1"), documented for users in
 * docs/message-schema.md. Every key is always present (null when unknown)
 * so that receivers need no existence checks; changing a key's meaning
 * needs a new schema version.
 */
#include "notify.h"

#include <stdlib.h>

#include <jansson.h>

#include "event.h"
#include "message.h"
#include "parse.h"

#define SCHEMA "cmhook.notification/1"

static json_t *text(const char *s)
{
	return cmh_notify_json_text(s, CMH_NOTIFY_MAX_WEBHOOK_STR);
}

static json_t *timestamp(int64_t ms)
{
	char when[32];

	if (ms < 0)
		return json_null();
	cmh_format_time(ms, when);
	return json_string(when);
}

static json_t *millis(int64_t ms)
{
	return ms < 0 ? json_null() : json_integer(ms);
}

/* Machine-friendly outcome words (cmh_outcome_name() is for people). */
static json_t *outcome(enum cmh_outcome o)
{
	switch (o) {
	case CMH_OUTCOME_NONE: return json_null();
	case CMH_OUTCOME_SUCCEEDED: return json_string("succeeded");
	case CMH_OUTCOME_FAILED: return json_string("failed");
	case CMH_OUTCOME_CANCELLED: return json_string("cancelled");
	case CMH_OUTCOME_ROLLED_BACK: return json_string("rolled_back");
	default: return json_string("unknown");
	}
}

static json_t *step(bool present, const struct cmh_message_step *s)
{
	const char *label;
	json_t *o;
	enum cmh_err err = CMH_OK;

	if (!present)
		return json_null();
	o = json_object();
	label = s->label ? s->label : cmh_step_action_label(s->action);
	cmh_notify_json_put(o, "action", text(s->action), &err);
	cmh_notify_json_put(o, "label", text(label), &err);
	cmh_notify_json_put(o, "status", text(s->status), &err);
	cmh_notify_json_put(o, "environment", text(s->environment), &err);
	cmh_notify_json_put(o, "environment_type", text(s->environment_type), &err);
	cmh_notify_json_put(o, "started_at", timestamp(s->started_ms), &err);
	cmh_notify_json_put(o, "finished_at", timestamp(s->finished_ms), &err);
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *execution(const struct cmh_message *m)
{
	json_t *o = json_object();
	enum cmh_err err = CMH_OK;

	cmh_notify_json_put(o, "id", text(m->execution_id), &err);
	cmh_notify_json_put(o, "status", text(m->execution_status), &err);
	cmh_notify_json_put(o, "trigger", text(m->trigger), &err);
	cmh_notify_json_put(o, "started_by", text(m->started_by), &err);
	cmh_notify_json_put(o, "started_at", timestamp(m->started_ms), &err);
	cmh_notify_json_put(o, "finished_at", timestamp(m->finished_ms), &err);
	cmh_notify_json_put(o, "duration_ms", millis(m->duration_ms), &err);
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *link(const char *l)
{
	return cmh_notify_link_ok(l) ? json_string(l) : json_null();
}

enum cmh_err cmh_notify_webhook_render(const struct cmh_message *m, json_t **ret)
{
	struct cmh_buf headline;
	json_t *root = json_object();
	enum cmh_err err = root ? CMH_OK : CMH_ERR_NOMEM;

	cmh_buf_init(&headline, CMH_BUF_MAX_SMALL);
	if (!err)
		err = cmh_notify_headline(m, &headline);
	if (err)
		goto out;
	cmh_notify_json_put(root, "schema", json_string(SCHEMA), &err);
	cmh_notify_json_put(root, "event_id", text(m->event_id), &err);
	cmh_notify_json_put(root, "kind", json_string(cmh_event_kind_name(m->kind)), &err);
	cmh_notify_json_put(root, "headline", json_string(headline.data), &err);
	cmh_notify_json_put(root, "published", timestamp(m->published_ms), &err);
	cmh_notify_json_put(root, "program", json_pack("{s:o, s:o}", "id", text(m->program_id),
		"name", text(m->program_name)), &err);
	cmh_notify_json_put(root, "pipeline", json_pack("{s:o, s:o, s:o, s:o}",
		"id", text(m->pipeline_id), "name", text(m->pipeline_name),
		"type", text(m->pipeline_type), "target", text(m->pipeline_target)), &err);
	cmh_notify_json_put(root, "execution", execution(m), &err);
	cmh_notify_json_put(root, "outcome", outcome(m->outcome), &err);
	cmh_notify_json_put(root, "step", step(m->has_step, &m->step), &err);
	cmh_notify_json_put(root, "needs_action", json_boolean(cmh_notify_needs_action(m)), &err);
	cmh_notify_json_put(root, "waiting_reason", text(m->waiting_reason), &err);
	cmh_notify_json_put(root, "failed_step", step(m->has_failed_step, &m->failed_step), &err);
	cmh_notify_json_put(root, "link", link(m->link), &err);
	if (!err) {
		*ret = root;
		root = NULL;
	}
out:
	json_decref(root);
	cmh_buf_release(&headline);
	return err;
}
