/*
 * What a channel received, as text for a terminal: a reader of the payloads
 * notify_*.c produce (Slack Block Kit, Teams Adaptive Card and MessageCard,
 * the generic webhook object), written against the channels' formats rather
 * than against our renderers, so it shows what a person would see. Pure:
 * bytes in, lines out.
 */
#include "demo.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "parse.h"

#define RAW_SHOWN 600   /* bytes of an unexpected payload shown as is */

const char *cmh_demo_channel_title(enum cmh_channel_kind kind)
{
	switch (kind) {
	case CMH_CHANNEL_SLACK: return "Slack (incoming webhook, Block Kit)";
	case CMH_CHANNEL_TEAMS_MESSAGECARD: return "Microsoft Teams (connector, MessageCard)";
	case CMH_CHANNEL_TEAMS_ADAPTIVECARD: return "Microsoft Teams (Workflows, Adaptive Card)";
	case CMH_CHANNEL_WEBHOOK: return "Generic webhook (JSON, cmhook.notification/1)";
	default: return "unknown channel";
	}
}

static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* One line: indent + a + (b ? sep + b) + "\n". */
static enum cmh_err line(struct cmh_buf *out, const char *indent, const char *a,
	const char *sep, const char *b)
{
	enum cmh_err err = cmh_buf_addf(out, "%s%s", indent, a ? a : "");

	if (!err && b)
		err = cmh_buf_addf(out, "%s%s", sep, b);
	if (!err)
		err = cmh_buf_addch(out, '\n');
	return err;
}

/* ---- Slack mrkdwn ----------------------------------------------------------- */

/*
 * Slack mrkdwn to plain text: &amp; &lt; &gt; unescaped, <url|label> as
 * "label: url", ":warning:" as the sign Slack shows, and *bold* markers
 * dropped. Replaces out's content.
 */
static enum cmh_err mrkdwn_plain(const char *s, struct cmh_buf *out)
{
	enum cmh_err err = CMH_OK;

	cmh_buf_reset(out);
	while (*s && !err) {
		const char *close, *bar;

		if (*s == '<' && (close = strchr(s, '>')) != NULL) {
			bar = memchr(s, '|', (size_t)(close - s));
			if (bar)
				err = cmh_buf_addf(out, "%.*s: %.*s", (int)(close - bar - 1), bar + 1,
						   (int)(bar - s - 1), s + 1);
			else
				err = cmh_buf_add(out, s + 1, (size_t)(close - s - 1));
			s = close + 1;
		} else if (strncmp(s, "&amp;", 5) == 0) {
			err = cmh_buf_addch(out, '&');
			s += 5;
		} else if (strncmp(s, "&lt;", 4) == 0) {
			err = cmh_buf_addch(out, '<');
			s += 4;
		} else if (strncmp(s, "&gt;", 4) == 0) {
			err = cmh_buf_addch(out, '>');
			s += 4;
		} else if (strncmp(s, ":warning:", 9) == 0) {
			err = cmh_buf_adds(out, "\xe2\x9a\xa0");
			s += 9;
		} else if (*s == '*') {
			s++;
		} else {
			err = cmh_buf_addch(out, *s++);
		}
	}
	return err;
}

/* A mrkdwn text of a bold heading line and one more ("*Program*\nAcme") as
 * "Program: Acme"; other texts line by line. */
static enum cmh_err slack_text(const char *text, const char *indent, struct cmh_buf *out)
{
	struct cmh_buf plain;
	const char *raw_nl;
	char *nl;
	enum cmh_err err;

	cmh_buf_init(&plain, CMH_DEMO_MAX_SINK_BODY);
	err = mrkdwn_plain(text, &plain);
	if (err)
		goto out;
	/* A bold first line followed by one more line: a heading and its value. */
	raw_nl = strchr(text, '\n');
	nl = strchr(plain.data, '\n');
	if (raw_nl && raw_nl > text && raw_nl[-1] == '*' && nl && !strchr(nl + 1, '\n')) {
		*nl = '\0';
		err = line(out, indent, plain.data, ": ", nl + 1);
		goto out;
	}
	for (char *p = plain.data; p && !err; ) {
		char *next = strchr(p, '\n');

		if (next)
			*next++ = '\0';
		err = line(out, indent, p, "", NULL);
		p = next;
	}
out:
	cmh_buf_release(&plain);
	return err;
}

static enum cmh_err slack_block(const json_t *b, const char *indent, struct cmh_buf *out)
{
	const char *type = str_of(b, "type");
	const json_t *v;
	size_t i;
	enum cmh_err err = CMH_OK;

	if (!type)
		return CMH_OK;
	if (strcmp(type, "header") == 0) {
		const char *t = str_of(json_object_get(b, "text"), "text");

		return line(out, indent, t, "", NULL);
	}
	if (strcmp(type, "section") == 0) {
		const char *t = str_of(json_object_get(b, "text"), "text");

		if (t)
			err = slack_text(t, indent, out);
		json_array_foreach(json_object_get(b, "fields"), i, v) {
			if (!err && str_of(v, "text"))
				err = slack_text(str_of(v, "text"), indent, out);
		}
		return err;
	}
	if (strcmp(type, "context") == 0) {
		json_array_foreach(json_object_get(b, "elements"), i, v) {
			if (!err && str_of(v, "text"))
				err = slack_text(str_of(v, "text"), indent, out);
		}
	}
	return err;
}

static enum cmh_err render_slack(const json_t *root, const char *indent, struct cmh_buf *out)
{
	const json_t *blocks = json_object_get(root, "blocks"), *b;
	enum cmh_err err = CMH_OK;
	size_t i;

	if (!json_is_array(blocks))
		return str_of(root, "text") ? slack_text(str_of(root, "text"), indent, out)
					    : CMH_ERR_PARSE;
	json_array_foreach(blocks, i, b) {
		if (!err)
			err = slack_block(b, indent, out);
	}
	return err;
}

/* ---- Teams -------------------------------------------------------------------- */

static enum cmh_err facts(const json_t *arr, const char *name_key, const char *indent,
	struct cmh_buf *out)
{
	const json_t *f;
	enum cmh_err err = CMH_OK;
	size_t i;

	json_array_foreach(arr, i, f) {
		if (!err)
			err = line(out, indent, str_of(f, name_key), ": ", str_of(f, "value"));
	}
	return err;
}

static enum cmh_err render_adaptive(const json_t *root, const char *indent, struct cmh_buf *out)
{
	const json_t *att = json_array_get(json_object_get(root, "attachments"), 0);
	const json_t *card = json_object_get(att, "content"), *b;
	enum cmh_err err = CMH_OK;
	size_t i;

	if (!json_is_object(card))
		return CMH_ERR_PARSE;
	json_array_foreach(json_object_get(card, "body"), i, b) {
		const char *type = str_of(b, "type");

		if (err || !type)
			continue;
		if (strcmp(type, "TextBlock") == 0)
			err = line(out, indent, str_of(b, "text"), "", NULL);
		else if (strcmp(type, "FactSet") == 0)
			err = facts(json_object_get(b, "facts"), "title", indent, out);
	}
	json_array_foreach(json_object_get(card, "actions"), i, b) {
		if (!err && str_of(b, "url"))
			err = line(out, indent, str_of(b, "title"), ": ", str_of(b, "url"));
	}
	return err;
}

static enum cmh_err render_messagecard(const json_t *root, const char *indent,
	struct cmh_buf *out)
{
	const json_t *v;
	enum cmh_err err;
	size_t i;

	err = line(out, indent, str_of(root, "title") ? str_of(root, "title")
						   : str_of(root, "summary"), "", NULL);
	json_array_foreach(json_object_get(root, "sections"), i, v) {
		if (!err && str_of(v, "text"))
			err = line(out, indent, str_of(v, "text"), "", NULL);
		if (!err)
			err = facts(json_object_get(v, "facts"), "name", indent, out);
	}
	json_array_foreach(json_object_get(root, "potentialAction"), i, v) {
		const char *uri = str_of(json_array_get(json_object_get(v, "targets"), 0), "uri");

		if (!err && uri)
			err = line(out, indent, str_of(v, "name"), ": ", uri);
	}
	return err;
}

/* ---- generic webhook ------------------------------------------------------- */

static enum cmh_err webhook_step(const json_t *step, const char *what, const char *indent,
	struct cmh_buf *out)
{
	struct cmh_buf b;
	enum cmh_err err = CMH_OK;

	if (!json_is_object(step))
		return CMH_OK;
	cmh_buf_init(&b, CMH_BUF_MAX_SMALL);
	err = cmh_buf_addf(&b, "%s (%s", str_of(step, "label") ? str_of(step, "label") : "?",
			   str_of(step, "status") ? str_of(step, "status") : "?");
	if (!err && str_of(step, "environment"))
		err = cmh_buf_addf(&b, ", %s", str_of(step, "environment"));
	if (!err)
		err = cmh_buf_addch(&b, ')');
	if (!err)
		err = line(out, indent, what, ": ", b.data);
	cmh_buf_release(&b);
	return err;
}

static enum cmh_err render_webhook(const json_t *root, const char *indent, struct cmh_buf *out)
{
	const json_t *ex = json_object_get(root, "execution");
	const json_t *dur = json_object_get(ex, "duration_ms");
	char d[32];
	enum cmh_err err;

	if (!str_of(root, "schema"))
		return CMH_ERR_PARSE;
	err = line(out, indent, str_of(root, "headline"), "", NULL);
	if (!err)
		err = line(out, indent, "kind", ": ", str_of(root, "kind"));
	if (!err)
		err = line(out, indent, "program.name", ": ",
			   str_of(json_object_get(root, "program"), "name"));
	if (!err)
		err = line(out, indent, "pipeline.name", ": ",
			   str_of(json_object_get(root, "pipeline"), "name"));
	if (!err)
		err = line(out, indent, "execution", ": ", str_of(ex, "id"));
	if (!err && str_of(ex, "status"))
		err = line(out, indent, "execution.status", ": ", str_of(ex, "status"));
	if (!err && str_of(root, "outcome"))
		err = line(out, indent, "outcome", ": ", str_of(root, "outcome"));
	if (!err)
		err = webhook_step(json_object_get(root, "step"), "step", indent, out);
	if (!err && json_is_true(json_object_get(root, "needs_action")))
		err = line(out, indent, "needs_action: true, waiting_reason", ": ",
			   str_of(root, "waiting_reason"));
	if (!err)
		err = webhook_step(json_object_get(root, "failed_step"), "failed_step", indent, out);
	if (!err && json_is_integer(dur)) {
		cmh_format_duration(json_integer_value(dur), d);
		err = line(out, indent, "duration", ": ", d);
	}
	if (!err && str_of(root, "link"))
		err = line(out, indent, "link", ": ", str_of(root, "link"));
	return err;
}

/* ---- dispatch ------------------------------------------------------------------ */

static enum cmh_err render_raw(const char *body, size_t len, const char *indent,
	struct cmh_buf *out)
{
	return cmh_buf_addf(out, "%s(unexpected payload) %.*s%s\n", indent,
			    (int)(len > RAW_SHOWN ? RAW_SHOWN : len), body,
			    len > RAW_SHOWN ? "..." : "");
}

enum cmh_err cmh_demo_text_render(enum cmh_channel_kind kind, const char *body, size_t len,
	const char *indent, struct cmh_buf *out)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	struct cmh_buf tmp;
	enum cmh_err err = CMH_ERR_PARSE;

	/* Into tmp first, so a payload we cannot read is shown whole, raw. */
	cmh_buf_init(&tmp, out->max);
	if (json_is_object(root)) {
		switch (kind) {
		case CMH_CHANNEL_SLACK: err = render_slack(root, indent, &tmp); break;
		case CMH_CHANNEL_TEAMS_MESSAGECARD: err = render_messagecard(root, indent, &tmp); break;
		case CMH_CHANNEL_TEAMS_ADAPTIVECARD: err = render_adaptive(root, indent, &tmp); break;
		case CMH_CHANNEL_WEBHOOK: err = render_webhook(root, indent, &tmp); break;
		default: break;
		}
	}
	json_decref(root);
	if (err == CMH_ERR_PARSE)
		err = render_raw(body, len, indent, out);
	else if (!err)
		err = cmh_buf_add(out, tmp.data, tmp.len);
	cmh_buf_release(&tmp);
	return err;
}
