/*
 * The Slack payload: Block Kit blocks (header, facts as section fields, an
 * "Action needed" section for a waiting step, the Cloud Manager link, the
 * event time as context) plus the top-level `text` that Slack shows in
 * notifications (reference/notification-targets.md §1). Everything from
 * Cloud Manager is user text: it is cleaned, truncated and mrkdwn-escaped.
 */
#include "notify.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "message.h"
#include "parse.h"

/* Slack: a header's plain_text is at most 150 characters. */
#define HEADER_MAX 150

/* Append s with Slack's three control characters escaped (mrkdwn). */
static enum cmh_err add_mrkdwn(struct cmh_buf *b, const char *s)
{
	enum cmh_err err = CMH_OK;

	for (; *s && !err; s++) {
		switch (*s) {
		case '&': err = cmh_buf_adds(b, "&amp;"); break;
		case '<': err = cmh_buf_adds(b, "&lt;"); break;
		case '>': err = cmh_buf_adds(b, "&gt;"); break;
		default: err = cmh_buf_addch(b, *s); break;
		}
	}
	return err;
}

static json_t *mrkdwn_obj(const char *text)
{
	return json_pack("{s:s, s:s}", "type", "mrkdwn", "text", text);
}

static json_t *block_header(const char *headline)
{
	char *h = cmh_notify_clean(headline, HEADER_MAX - 3);
	json_t *j = h ? json_pack("{s:s, s:{s:s, s:s}}", "type", "header", "text",
				  "type", "plain_text", "text", h) : NULL;

	free(h);
	return j;
}

static json_t *block_fields(const struct cmh_notify_facts *f, struct cmh_buf *tmp)
{
	json_t *fields = json_array();
	enum cmh_err err = fields ? CMH_OK : CMH_ERR_NOMEM;

	for (size_t i = 0; i < f->n && !err; i++) {
		cmh_buf_reset(tmp);
		err = cmh_buf_addf(tmp, "*%s*\n", f->items[i].name);
		if (!err)
			err = add_mrkdwn(tmp, f->items[i].value);
		if (!err)
			cmh_notify_json_push(fields, mrkdwn_obj(tmp->data), &err);
	}
	if (err) {
		json_decref(fields);
		return NULL;
	}
	return json_pack("{s:s, s:o}", "type", "section", "fields", fields);
}

static json_t *block_action_needed(const struct cmh_message *m, struct cmh_buf *tmp)
{
	char *reason = cmh_notify_clean(m->waiting_reason, CMH_NOTIFY_MAX_REASON);
	enum cmh_err err;

	cmh_buf_reset(tmp);
	err = cmh_buf_adds(tmp, ":warning: *Action needed*\n");
	if (!err)
		err = reason ? add_mrkdwn(tmp, reason)
			     : cmh_buf_adds(tmp, "The pipeline waits for a decision in Cloud Manager.");
	free(reason);
	return err ? NULL : json_pack("{s:s, s:o}", "type", "section", "text", mrkdwn_obj(tmp->data));
}

static json_t *block_link(const struct cmh_message *m, struct cmh_buf *tmp)
{
	struct cmh_buf label;
	enum cmh_err err;

	cmh_buf_init(&label, CMH_BUF_MAX_SMALL);
	cmh_buf_reset(tmp);
	err = cmh_notify_link_label(m, &label);
	if (!err)
		err = cmh_buf_addch(tmp, '<');
	/* cmh_notify_link_ok() let no '<', '>' or '|' through; '&' is escaped. */
	if (!err)
		err = add_mrkdwn(tmp, m->link);
	if (!err)
		err = cmh_buf_addch(tmp, '|');
	if (!err)
		err = add_mrkdwn(tmp, label.data);
	if (!err)
		err = cmh_buf_addch(tmp, '>');
	cmh_buf_release(&label);
	return err ? NULL : json_pack("{s:s, s:o}", "type", "section", "text", mrkdwn_obj(tmp->data));
}

static json_t *block_context(const struct cmh_message *m, struct cmh_buf *tmp)
{
	char when[32];
	enum cmh_err err;

	cmh_buf_reset(tmp);
	err = cmh_buf_adds(tmp, "Cloud Manager event");
	if (!err && m->published_ms >= 0) {
		cmh_format_time(m->published_ms, when);
		err = cmh_buf_addf(tmp, " at %s", when);
	}
	if (!err && m->event_id) {
		err = cmh_buf_adds(tmp, " \xc2\xb7 id ");
		if (!err) {
			char *id = cmh_notify_clean(m->event_id, CMH_NOTIFY_MAX_NAME);

			err = id ? add_mrkdwn(tmp, id) : CMH_ERR_NOMEM;
			free(id);
		}
	}
	if (err)
		return NULL;
	return json_pack("{s:s, s:[o]}", "type", "context", "elements", mrkdwn_obj(tmp->data));
}

static enum cmh_err add_blocks(const struct cmh_message *m, const char *headline,
	const struct cmh_notify_facts *f, json_t *blocks, struct cmh_buf *tmp)
{
	enum cmh_err err = CMH_OK;

	cmh_notify_json_push(blocks, block_header(headline), &err);
	if (cmh_notify_needs_action(m))
		cmh_notify_json_push(blocks, block_action_needed(m, tmp), &err);
	if (f->n)
		cmh_notify_json_push(blocks, block_fields(f, tmp), &err);
	if (cmh_notify_link_ok(m->link))
		cmh_notify_json_push(blocks, block_link(m, tmp), &err);
	cmh_notify_json_push(blocks, block_context(m, tmp), &err);
	return err;
}

enum cmh_err cmh_notify_slack_render(const struct cmh_message *m, json_t **ret)
{
	struct cmh_notify_facts facts = { .n = 0 };
	struct cmh_buf headline, summary, tmp;
	json_t *root = json_object(), *blocks = json_array();
	enum cmh_err err = root && blocks ? CMH_OK : CMH_ERR_NOMEM;

	/* Escaping can grow cleaned text five-fold: room for the worst case. */
	cmh_buf_init(&headline, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&summary, CMH_NOTIFY_MAX_PAYLOAD);
	cmh_buf_init(&tmp, CMH_NOTIFY_MAX_PAYLOAD);
	if (!err)
		err = cmh_notify_headline(m, &headline);
	if (!err)
		err = cmh_notify_summary(m, &tmp);
	if (!err)
		err = add_mrkdwn(&summary, tmp.data);
	if (!err)
		err = cmh_notify_facts_build(m, &facts);
	if (!err)
		err = add_blocks(m, headline.data, &facts, blocks, &tmp);
	/* `text` is the notification fallback: always sent (else "no_text"). */
	if (!err)
		cmh_notify_json_put(root, "text", json_string(summary.data), &err);
	if (!err) {
		cmh_notify_json_put(root, "blocks", blocks, &err);
		blocks = NULL;
	}
	if (!err) {
		*ret = root;
		root = NULL;
	}
	json_decref(blocks);
	json_decref(root);
	cmh_notify_facts_release(&facts);
	cmh_buf_release(&tmp);
	cmh_buf_release(&summary);
	cmh_buf_release(&headline);
	return err;
}
