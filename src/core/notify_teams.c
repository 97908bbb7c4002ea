/*
 * The two Microsoft Teams payloads (reference/notification-targets.md §2-3):
 * the legacy connector's MessageCard (facts are {name, value}, themeColor
 * without '#', summary required) and the Workflows webhook's Adaptive Card
 * 1.4 inside a "message" envelope (facts are {title, value}). Which one a
 * URL gets is decided in notify.c; how the answer is judged too.
 */
#include "notify.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "message.h"
#include "parse.h"

#define CARD_SCHEMA "http://adaptivecards.io/schemas/adaptive-card.json"
#define CARD_CONTENT_TYPE "application/vnd.microsoft.card.adaptive"
#define OPEN_TITLE "Open in Cloud Manager"

struct texts {
	struct cmh_buf headline;
	struct cmh_buf summary;
	char *reason;   /* cleaned waiting reason, NULL when none */
	struct cmh_notify_facts facts;
};

static enum cmh_err texts_build(const struct cmh_message *m, struct texts *t)
{
	enum cmh_err err;

	cmh_buf_init(&t->headline, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&t->summary, CMH_BUF_MAX_SMALL);
	t->reason = NULL;
	t->facts.n = 0;
	err = cmh_notify_headline(m, &t->headline);
	if (!err)
		err = cmh_notify_summary(m, &t->summary);
	if (!err)
		err = cmh_notify_facts_build(m, &t->facts);
	if (!err && m->waiting_reason) {
		t->reason = cmh_notify_clean(m->waiting_reason, CMH_NOTIFY_MAX_REASON);
		if (!t->reason)
			err = CMH_ERR_NOMEM;
	}
	return err;
}

static void texts_release(struct texts *t)
{
	cmh_buf_release(&t->headline);
	cmh_buf_release(&t->summary);
	free(t->reason);
	cmh_notify_facts_release(&t->facts);
}

/* "Action needed: <reason>" for a waiting step. */
static json_t *action_needed_text(const struct texts *t)
{
	struct cmh_buf b;
	json_t *j = NULL;

	cmh_buf_init(&b, CMH_BUF_MAX_SMALL);
	if (cmh_buf_addf(&b, "\xe2\x9a\xa0 Action needed: %s",
			 t->reason ? t->reason : "the pipeline waits for a decision in Cloud Manager.")
	    == CMH_OK)
		j = json_string(b.data);
	cmh_buf_release(&b);
	return j;
}

static json_t *facts_array(const struct cmh_notify_facts *f, const char *name_key)
{
	json_t *arr = json_array();
	enum cmh_err err = arr ? CMH_OK : CMH_ERR_NOMEM;

	for (size_t i = 0; i < f->n && !err; i++)
		cmh_notify_json_push(arr, json_pack("{s:s, s:s}", name_key, f->items[i].name,
						    "value", f->items[i].value), &err);
	if (err) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* ---- legacy connector: MessageCard ------------------------------------- */

static const char *theme_color(enum cmh_notify_tone tone)
{
	switch (tone) {
	case CMH_TONE_GOOD: return "2EB886";
	case CMH_TONE_BAD: return "D0021B";
	case CMH_TONE_WAITING: return "FFA500";
	default: return "0072C6";
	}
}

static json_t *card_section(const struct cmh_message *m, const struct texts *t)
{
	json_t *s = json_object();
	enum cmh_err err = s ? CMH_OK : CMH_ERR_NOMEM;

	if (cmh_notify_needs_action(m))
		cmh_notify_json_put(s, "text", action_needed_text(t), &err);
	cmh_notify_json_put(s, "facts", facts_array(&t->facts, "name"), &err);
	/* Names are user text: no Markdown interpretation of the section. */
	cmh_notify_json_put(s, "markdown", json_false(), &err);
	if (err) {
		json_decref(s);
		return NULL;
	}
	return s;
}

static json_t *open_uri_action(const char *link)
{
	return json_pack("[{s:s, s:s, s:[{s:s, s:s}]}]", "@type", "OpenUri", "name", OPEN_TITLE,
			 "targets", "os", "default", "uri", link);
}

enum cmh_err cmh_notify_teams_render_messagecard(const struct cmh_message *m, json_t **ret)
{
	struct texts t;
	json_t *root = json_object();
	enum cmh_err err = texts_build(m, &t);

	if (!root && !err)
		err = CMH_ERR_NOMEM;
	if (err)
		goto out;
	cmh_notify_json_put(root, "@type", json_string("MessageCard"), &err);
	cmh_notify_json_put(root, "@context", json_string("https://schema.org/extensions"), &err);
	/* summary is required ("Summary or Text is required"). */
	cmh_notify_json_put(root, "summary", json_string(t.summary.data), &err);
	cmh_notify_json_put(root, "title", json_string(t.headline.data), &err);
	cmh_notify_json_put(root, "themeColor", json_string(theme_color(cmh_notify_tone(m))), &err);
	cmh_notify_json_put(root, "sections", json_pack("[o]", card_section(m, &t)), &err);
	if (cmh_notify_link_ok(m->link))
		cmh_notify_json_put(root, "potentialAction", open_uri_action(m->link), &err);
	if (!err) {
		*ret = root;
		root = NULL;
	}
out:
	json_decref(root);
	texts_release(&t);
	return err;
}

/* ---- Workflows: Adaptive Card ------------------------------------------ */

static const char *text_color(enum cmh_notify_tone tone)
{
	switch (tone) {
	case CMH_TONE_GOOD: return "Good";
	case CMH_TONE_BAD: return "Attention";
	case CMH_TONE_WAITING: return "Warning";
	default: return NULL;
	}
}

static json_t *headline_block(const struct cmh_message *m, const struct texts *t)
{
	const char *color = text_color(cmh_notify_tone(m));
	json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "TextBlock", "text",
			      t->headline.data, "weight", "Bolder", "size", "Medium", "wrap", 1);
	enum cmh_err err = b ? CMH_OK : CMH_ERR_NOMEM;

	if (color)
		cmh_notify_json_put(b, "color", json_string(color), &err);
	if (err) {
		json_decref(b);
		return NULL;
	}
	return b;
}

static json_t *context_block(const struct cmh_message *m)
{
	char when[32];

	if (m->published_ms < 0)
		return json_pack("{s:s, s:s, s:s, s:b, s:b}", "type", "TextBlock", "text",
				 "Cloud Manager event", "size", "Small", "isSubtle", 1, "wrap", 1);
	cmh_format_time(m->published_ms, when);
	return json_pack("{s:s, s:s+, s:s, s:b, s:b}", "type", "TextBlock", "text",
			 "Cloud Manager event at ", when, "size", "Small", "isSubtle", 1, "wrap", 1);
}

static json_t *card_body(const struct cmh_message *m, const struct texts *t)
{
	json_t *body = json_array();
	enum cmh_err err = body ? CMH_OK : CMH_ERR_NOMEM;

	cmh_notify_json_push(body, headline_block(m, t), &err);
	if (cmh_notify_needs_action(m))
		cmh_notify_json_push(body, json_pack("{s:s, s:o, s:s, s:s, s:b}", "type",
			"TextBlock", "text", action_needed_text(t), "weight", "Bolder", "color",
			"Warning", "wrap", 1), &err);
	if (t->facts.n)
		cmh_notify_json_push(body, json_pack("{s:s, s:o}", "type", "FactSet", "facts",
						     facts_array(&t->facts, "title")), &err);
	cmh_notify_json_push(body, context_block(m), &err);
	if (err) {
		json_decref(body);
		return NULL;
	}
	return body;
}

static json_t *card_content(const struct cmh_message *m, const struct texts *t)
{
	json_t *c = json_pack("{s:s, s:s, s:s, s:o, s:{s:s}}", "$schema", CARD_SCHEMA,
			      "type", "AdaptiveCard", "version", "1.4", "body", card_body(m, t),
			      "msteams", "width", "Full");
	enum cmh_err err = c ? CMH_OK : CMH_ERR_NOMEM;

	/* Action.OpenUrl only: webhooks do not support Action.Submit. */
	if (cmh_notify_link_ok(m->link))
		cmh_notify_json_put(c, "actions", json_pack("[{s:s, s:s, s:s}]", "type",
			"Action.OpenUrl", "title", OPEN_TITLE, "url", m->link), &err);
	if (err) {
		json_decref(c);
		return NULL;
	}
	return c;
}

enum cmh_err cmh_notify_teams_render_adaptivecard(const struct cmh_message *m, json_t **ret)
{
	struct texts t;
	json_t *root = NULL;
	enum cmh_err err = texts_build(m, &t);

	if (err)
		goto out;
	root = json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments",
			 "contentType", CARD_CONTENT_TYPE, "contentUrl", "content",
			 card_content(m, &t));
	if (!root)
		err = CMH_ERR_NOMEM;
	else
		*ret = root;
out:
	texts_release(&t);
	return err;
}
