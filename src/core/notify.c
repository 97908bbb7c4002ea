/*
 * The channel interface: which channels the config names (and which Teams
 * payload a Teams URL wants), the text pieces every renderer shares
 * (headline, facts, cleaned user text), the dispatch to the renderers in
 * notify_*.c, the per-channel classification of HTTP answers and the POST.
 * Retry timing is retry.c's; journaling attempts is the worker's.
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "bounds.h"
#include "http_client.h"
#include "log.h"
#include "message.h"
#include "parse.h"
#include "url.h"

#define ELLIPSIS "\xe2\x80\xa6"   /* U+2026 */
#define REDACTED "<redacted>"
/* URL pieces shorter than this are too common to be worth redacting. */
#define MIN_SECRET_PIECE 6
#define MAX_SECRET_PIECES 16

/* ---- names --------------------------------------------------------------- */

const char *cmh_notify_channel_name(enum cmh_channel_kind kind)
{
	switch (kind) {
	case CMH_CHANNEL_SLACK: return "slack";
	case CMH_CHANNEL_TEAMS_MESSAGECARD:
	case CMH_CHANNEL_TEAMS_ADAPTIVECARD: return "teams";
	case CMH_CHANNEL_WEBHOOK: return "webhook";
	default: return "unknown";
	}
}

const char *cmh_notify_format_name(enum cmh_channel_kind kind)
{
	switch (kind) {
	case CMH_CHANNEL_SLACK: return "slack";
	case CMH_CHANNEL_TEAMS_MESSAGECARD: return "messagecard";
	case CMH_CHANNEL_TEAMS_ADAPTIVECARD: return "adaptivecard";
	case CMH_CHANNEL_WEBHOOK: return "webhook";
	default: return "unknown";
	}
}

const char *cmh_notify_result_name(enum cmh_notify_result r)
{
	switch (r) {
	case CMH_NOTIFY_DONE: return "done";
	case CMH_NOTIFY_RETRY: return "retry";
	default: return "failed";
	}
}

/* ---- channels ------------------------------------------------------------ */

/* The channel URL's host; "outlook.office.com." names the same host. */
static enum cmh_err url_host(const char *url, struct cmh_buf *host)
{
	enum cmh_err err = cmh_url_host(url, host);

	if (!err && host->len && host->data[host->len - 1] == '.')
		host->data[--host->len] = '\0';
	return err;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool is_messagecard_host(const char *host)
{
	return strcmp(host, "outlook.office.com") == 0 ||
	       strcmp(host, "outlook.office365.com") == 0 ||
	       ends_with(host, ".webhook.office.com");
}

enum cmh_err cmh_notify_teams_kind(const char *url, enum cmh_teams_format fmt,
	enum cmh_channel_kind *ret)
{
	struct cmh_buf host;
	enum cmh_err err;

	cmh_buf_init(&host, CMH_BUF_MAX_SMALL);
	err = url_host(url, &host);
	if (err)
		goto out;
	if (fmt == CMH_TEAMS_MESSAGECARD)
		*ret = CMH_CHANNEL_TEAMS_MESSAGECARD;
	else if (fmt == CMH_TEAMS_ADAPTIVECARD)
		*ret = CMH_CHANNEL_TEAMS_ADAPTIVECARD;
	/* Workflows hosts (*.logic.azure.com, powerplatform.com, azure-api.net)
	 * and every unknown host get the current product's payload. */
	else if (is_messagecard_host(host.data))
		*ret = CMH_CHANNEL_TEAMS_MESSAGECARD;
	else
		*ret = CMH_CHANNEL_TEAMS_ADAPTIVECARD;
out:
	cmh_buf_release(&host);
	return err;
}

static bool is_set(const char *s)
{
	return s && *s;
}

static enum cmh_err check_url(const char *key, const char *url, struct cmh_buf *errmsg)
{
	struct cmh_buf host;
	enum cmh_err err;

	cmh_buf_init(&host, CMH_BUF_MAX_SMALL);
	err = url_host(url, &host);
	cmh_buf_release(&host);
	if (err == CMH_ERR_PARSE) {
		/* Never the value: the URL is the channel's credential. */
		cmh_errf(errmsg, "%s: not an absolute http(s) URL", key);
		return CMH_ERR_CONFIG;
	}
	return err;
}

enum cmh_err cmh_notify_channels(const struct cmh_config *cfg,
	struct cmh_channel ret[CMH_NOTIFY_MAX_CHANNELS], size_t *ret_n, struct cmh_buf *errmsg)
{
	size_t n = 0;
	enum cmh_err err = CMH_OK;

	*ret_n = 0;
	if (is_set(cfg->slack_webhook)) {
		err = check_url("SLACK_WEBHOOK", cfg->slack_webhook, errmsg);
		ret[n++] = (struct cmh_channel){ CMH_CHANNEL_SLACK, cfg->slack_webhook };
	}
	if (!err && is_set(cfg->teams_webhook)) {
		err = cmh_notify_teams_kind(cfg->teams_webhook, cfg->teams_format, &ret[n].kind);
		if (err == CMH_ERR_PARSE) {
			cmh_errf(errmsg, "TEAMS_WEBHOOK: not an absolute http(s) URL");
			err = CMH_ERR_CONFIG;
		}
		ret[n++].url = cfg->teams_webhook;
	}
	if (!err && is_set(cfg->notify_webhook)) {
		err = check_url("NOTIFY_WEBHOOK", cfg->notify_webhook, errmsg);
		ret[n++] = (struct cmh_channel){ CMH_CHANNEL_WEBHOOK, cfg->notify_webhook };
	}
	if (!err)
		*ret_n = n;
	return err;
}

/* ---- cleaned text -------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 when invalid
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return len;
}

char *cmh_notify_clean(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i = 0, o = 0;
	char *out;

	if (!s)
		return NULL;
	n = strlen(s);
	out = malloc((n < max ? n : max) + sizeof(ELLIPSIS));
	if (!out)
		return NULL;
	while (i < n) {
		size_t len = utf8_len(p + i, n - i);
		size_t step = len ? len : 1;   /* an invalid byte becomes one '?' */

		if (o + step > max) {
			memcpy(out + o, ELLIPSIS, sizeof(ELLIPSIS) - 1);
			o += sizeof(ELLIPSIS) - 1;
			break;
		}
		if (len == 0)
			out[o] = '?';
		else if (p[i] < 0x20 || p[i] == 0x7f)
			out[o] = ' ';
		else
			memcpy(out + o, p + i, len);
		o += step;
		i += step;
	}
	out[o] = '\0';
	return out;
}

json_t *cmh_notify_json_text(const char *s, size_t max)
{
	char *c;
	json_t *j;

	if (!s)
		return json_null();
	c = cmh_notify_clean(s, max);
	j = c ? json_string(c) : NULL;
	free(c);
	return j;
}

void cmh_notify_json_put(json_t *obj, const char *key, json_t *val, enum cmh_err *err)
{
	/* json_object_set_new() releases val even when it fails. */
	if (!val || json_object_set_new(obj, key, val) != 0)
		*err = CMH_ERR_NOMEM;
}

void cmh_notify_json_push(json_t *arr, json_t *val, enum cmh_err *err)
{
	if (!val || json_array_append_new(arr, val) != 0)
		*err = CMH_ERR_NOMEM;
}

static enum cmh_err add_clean(struct cmh_buf *b, const char *s, size_t max)
{
	char *c = cmh_notify_clean(s, max);
	enum cmh_err err = c ? cmh_buf_adds(b, c) : CMH_ERR_NOMEM;

	free(c);
	return err;
}

bool cmh_notify_link_ok(const char *link)
{
	if (!link || (strncmp(link, "https://", 8) != 0 && strncmp(link, "http://", 7) != 0) ||
	    strlen(link) > CMH_NOTIFY_MAX_LINK)
		return false;
	for (const unsigned char *p = (const unsigned char *)link; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f || strchr("<>|\"\\`{}^", *p))
			return false;
	}
	return true;
}

enum cmh_err cmh_notify_link_label(const struct cmh_message *m, struct cmh_buf *out)
{
	enum cmh_err err;

	cmh_buf_reset(out);
	if (!is_set(m->execution_id))
		return cmh_buf_adds(out, "Open in Cloud Manager");
	err = cmh_buf_adds(out, "Open execution ");
	if (!err)
		err = add_clean(out, m->execution_id, CMH_NOTIFY_MAX_NAME);
	if (!err)
		err = cmh_buf_adds(out, " in Cloud Manager");
	return err;
}

/* ---- headline and labels ------------------------------------------------- */

static const char *env_type_words(const char *type)
{
	static const struct { const char *type, *words; } names[] = {
		{ "dev", "Development" }, { "stage", "Stage" }, { "prod", "Production" },
		{ "rde", "Rapid Development" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(type, names[i].type) == 0)
			return names[i].words;
	}
	return type;
}

enum cmh_err cmh_notify_step_label(const struct cmh_message_step *s, struct cmh_buf *out)
{
	const char *label = is_set(s->label) ? s->label : cmh_step_action_label(s->action);
	enum cmh_err err = CMH_OK;

	cmh_buf_reset(out);
	if (!is_set(label))
		return CMH_OK;
	if (s->action && strcmp(s->action, "deploy") == 0 && is_set(s->environment_type)) {
		err = add_clean(out, env_type_words(s->environment_type), CMH_NOTIFY_MAX_NAME);
		if (!err)
			err = cmh_buf_addch(out, ' ');
	}
	if (!err)
		err = add_clean(out, label, CMH_NOTIFY_MAX_NAME);
	return err;
}

/*
 * Put label into the static headline h: in place of known (the action's
 * static label) when h contains it, else after h ("Step started" ->
 * "Step started: fooBar"); a waiting step with an unknown action reads
 * "Step waiting: fooBar needs a decision".
 */
static enum cmh_err compose_headline(const struct cmh_message *m, const char *h,
	const char *known, const char *label, struct cmh_buf *out)
{
	const char *at = known ? strstr(h, known) : NULL;
	enum cmh_err err;

	if (at) {
		err = cmh_buf_add(out, h, (size_t)(at - h));
		if (!err)
			err = cmh_buf_adds(out, label);
		return err ? err : cmh_buf_adds(out, at + strlen(known));
	}
	if (m->kind == CMH_KIND_WAITING)
		return cmh_buf_addf(out, "Step waiting: %s needs a decision", label);
	return cmh_buf_addf(out, "%s: %s", h, label);
}

enum cmh_err cmh_notify_headline(const struct cmh_message *m, struct cmh_buf *out)
{
	const char *h = cmh_message_headline(m);
	struct cmh_buf label;
	const char *known;
	enum cmh_err err;

	cmh_buf_reset(out);
	if (!cmh_event_kind_is_step(m->kind) || !m->has_step)
		return cmh_buf_adds(out, h);
	cmh_buf_init(&label, CMH_BUF_MAX_SMALL);
	err = cmh_notify_step_label(&m->step, &label);
	if (err)
		goto out;
	known = cmh_step_action_label(m->step.action);
	if (known == m->step.action)
		known = NULL;   /* unknown action: the headline is the generic one */
	if (label.len == 0 || (known && strcmp(known, label.data) == 0))
		err = cmh_buf_adds(out, h);
	else
		err = compose_headline(m, h, known, label.data, out);
out:
	cmh_buf_release(&label);
	return err;
}

enum cmh_err cmh_notify_summary(const struct cmh_message *m, struct cmh_buf *out)
{
	const char *pipeline = is_set(m->pipeline_name) ? m->pipeline_name : m->pipeline_id;
	const char *program = is_set(m->program_name) ? m->program_name : m->program_id;
	enum cmh_err err = cmh_notify_headline(m, out);

	if (!err && is_set(pipeline)) {
		err = cmh_buf_adds(out, " \xe2\x80\x94 ");   /* em dash: headlines hold colons */
		if (!err)
			err = add_clean(out, pipeline, CMH_NOTIFY_MAX_NAME);
	}
	if (!err && is_set(program)) {
		err = cmh_buf_adds(out, is_set(pipeline) ? " (" : " \xe2\x80\x94 ");
		if (!err)
			err = add_clean(out, program, CMH_NOTIFY_MAX_NAME);
		if (!err && is_set(pipeline))
			err = cmh_buf_addch(out, ')');
	}
	return err;
}

bool cmh_notify_needs_action(const struct cmh_message *m)
{
	return m->needs_action || m->kind == CMH_KIND_WAITING;
}

enum cmh_notify_tone cmh_notify_tone(const struct cmh_message *m)
{
	if (cmh_notify_needs_action(m))
		return CMH_TONE_WAITING;
	switch (m->outcome) {
	case CMH_OUTCOME_SUCCEEDED: return CMH_TONE_GOOD;
	case CMH_OUTCOME_FAILED:
	case CMH_OUTCOME_ROLLED_BACK: return CMH_TONE_BAD;
	default: return CMH_TONE_NEUTRAL;
	}
}

/* ---- facts --------------------------------------------------------------- */

/* Add a fact whose value is b's content (nothing when b is empty). */
static enum cmh_err fact_from_buf(struct cmh_notify_facts *f, const char *name,
	struct cmh_buf *b)
{
	char *v;

	if (b->len == 0)
		return CMH_OK;
	if (f->n >= CMH_NOTIFY_MAX_FACTS)
		CMH_BUG("too many facts");
	v = cmh_buf_detach(b, NULL);
	if (!v)
		return CMH_ERR_NOMEM;
	f->items[f->n++] = (struct cmh_notify_fact){ name, v };
	return CMH_OK;
}

/* "main (target)" style: a, then " (b)" when both are set. */
static enum cmh_err fact_pair(struct cmh_notify_facts *f, const char *name, const char *a,
	const char *b, struct cmh_buf *tmp)
{
	enum cmh_err err = CMH_OK;

	cmh_buf_reset(tmp);
	if (is_set(a))
		err = add_clean(tmp, a, CMH_NOTIFY_MAX_NAME);
	if (!err && is_set(b) && is_set(a))
		err = cmh_buf_adds(tmp, " (");
	if (!err && is_set(b))
		err = add_clean(tmp, b, CMH_NOTIFY_MAX_NAME);
	if (!err && is_set(b) && is_set(a))
		err = cmh_buf_addch(tmp, ')');
	return err ? err : fact_from_buf(f, name, tmp);
}

static const char *status_text(const struct cmh_message *m)
{
	if (cmh_event_kind_is_step(m->kind) && m->has_step && is_set(m->step.status))
		return m->step.status;
	if (is_set(m->execution_status))
		return m->execution_status;
	return m->outcome != CMH_OUTCOME_NONE ? cmh_outcome_name(m->outcome) : NULL;
}

static enum cmh_err step_facts(const struct cmh_message *m, struct cmh_notify_facts *f,
	struct cmh_buf *tmp)
{
	enum cmh_err err = CMH_OK;

	if (m->has_step) {
		err = cmh_notify_step_label(&m->step, tmp);
		if (!err)
			err = fact_from_buf(f, "Step", tmp);
		if (!err)
			err = fact_pair(f, "Environment", m->step.environment,
					m->step.environment_type, tmp);
	}
	if (!err && m->has_failed_step) {
		struct cmh_buf label;

		cmh_buf_init(&label, CMH_BUF_MAX_SMALL);
		err = cmh_notify_step_label(&m->failed_step, &label);
		if (!err)
			err = fact_pair(f, "Failed step", label.data, m->failed_step.environment,
					tmp);
		cmh_buf_release(&label);
	}
	return err;
}

enum cmh_err cmh_notify_facts_build(const struct cmh_message *m, struct cmh_notify_facts *ret)
{
	struct cmh_notify_facts f = { .n = 0 };
	struct cmh_buf tmp;
	enum cmh_err err;

	cmh_buf_init(&tmp, 4 * CMH_NOTIFY_MAX_NAME);
	err = fact_pair(&f, "Program", is_set(m->program_name) ? m->program_name : m->program_id,
			NULL, &tmp);
	if (!err)
		err = fact_pair(&f, "Pipeline",
				is_set(m->pipeline_name) ? m->pipeline_name : m->pipeline_id,
				m->pipeline_target, &tmp);
	if (!err)
		err = fact_pair(&f, "Execution", m->execution_id, NULL, &tmp);
	if (!err)
		err = fact_pair(&f, "Status", status_text(m), NULL, &tmp);
	if (!err)
		err = fact_pair(&f, "Trigger", m->trigger, NULL, &tmp);
	if (!err)
		err = fact_pair(&f, "Started by", m->started_by, NULL, &tmp);
	if (!err && m->duration_ms >= 0) {
		char d[32];

		cmh_format_duration(m->duration_ms, d);
		err = fact_pair(&f, "Duration", d, NULL, &tmp);
	}
	if (!err)
		err = step_facts(m, &f, &tmp);
	cmh_buf_release(&tmp);
	if (err)
		cmh_notify_facts_release(&f);
	else
		*ret = f;
	return err;
}

void cmh_notify_facts_release(struct cmh_notify_facts *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->items[i].value);
	f->n = 0;
}

/* ---- rendering ----------------------------------------------------------- */

struct dump_ctx {
	struct cmh_buf *out;
	enum cmh_err err;
};

static int dump_cb(const char *chunk, size_t size, void *ud)
{
	struct dump_ctx *c = ud;

	c->err = cmh_buf_add(c->out, chunk, size);
	return c->err ? -1 : 0;
}

enum cmh_err cmh_notify_render(enum cmh_channel_kind kind, const struct cmh_message *m,
	struct cmh_buf *out)
{
	json_t *root = NULL;
	struct dump_ctx ctx = { out, CMH_OK };
	enum cmh_err err;

	cmh_buf_reset(out);
	if (!m)
		return CMH_ERR_USAGE;
	switch (kind) {
	case CMH_CHANNEL_SLACK: err = cmh_notify_slack_render(m, &root); break;
	case CMH_CHANNEL_TEAMS_MESSAGECARD: err = cmh_notify_teams_render_messagecard(m, &root); break;
	case CMH_CHANNEL_TEAMS_ADAPTIVECARD: err = cmh_notify_teams_render_adaptivecard(m, &root); break;
	case CMH_CHANNEL_WEBHOOK: err = cmh_notify_webhook_render(m, &root); break;
	default: return CMH_ERR_USAGE;
	}
	if (err)
		goto out;
	/* Objects keep insertion order (jansson >= 2.8): the bytes are stable. */
	if (json_dump_callback(root, dump_cb, &ctx, JSON_COMPACT) != 0)
		err = ctx.err ? ctx.err : CMH_ERR_NOMEM;
out:
	json_decref(root);
	if (err)
		cmh_buf_reset(out);
	return err;
}

/* ---- classification ------------------------------------------------------ */

static void verdict_init(struct cmh_notify_verdict *v, enum cmh_notify_result r, long status)
{
	v->result = r;
	v->status = status;
	v->retry_after_ms = -1;
	v->reason[0] = '\0';
}

/* Append s (n bytes) with everything outside printable ASCII as \xNN.
 * Returns false when b filled up before the end. */
static bool add_escaped(struct cmh_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		enum cmh_err err = (c < ' ' || c >= 0x7f || c == '\\')
			? cmh_buf_addf(b, "\\x%02x", c) : cmh_buf_addch(b, (char)c);

		if (err)
			return false;
	}
	return true;
}

static void set_reason(struct cmh_notify_verdict *v, const char *what, const char *body,
	size_t len)
{
	struct cmh_buf b;
	size_t n = len < CMH_NOTIFY_REASON_BODY ? len : CMH_NOTIFY_REASON_BODY;
	bool complete = true;

	/* Leave room for the "..." that marks a cut. */
	cmh_buf_init(&b, sizeof(v->reason) - 4);
	(void)!cmh_buf_adds(&b, what);
	if (n) {
		(void)!cmh_buf_adds(&b, ": ");
		complete = add_escaped(&b, body, n);
	}
	snprintf(v->reason, sizeof(v->reason), "%s%s", b.data,
		 complete && len == n ? "" : "...");
	cmh_buf_release(&b);
}

static bool trimmed_equals(const char *body, size_t len, const char *want)
{
	size_t a = 0, k = strlen(want);

	while (a < len && strchr(" \t\r\n", body[a]))
		a++;
	while (len > a && strchr(" \t\r\n", body[len - 1]))
		len--;
	return len - a == k && memcmp(body + a, want, k) == 0;
}

static bool contains(const char *body, size_t len, const char *needle)
{
	return len && memmem(body, len, needle, strlen(needle)) != NULL;
}

static bool is_success(enum cmh_channel_kind kind, long status, const char *body, size_t len)
{
	switch (kind) {
	/* Slack: "treat 200 as success and anything else as failure". */
	case CMH_CHANNEL_SLACK: return status == 200;
	/* Connectors answer failures with 200 too: only a body of "1" is success. */
	case CMH_CHANNEL_TEAMS_MESSAGECARD: return status == 200 && trimmed_equals(body, len, "1");
	/* Workflows normally answers 202 (the flow run is queued). */
	case CMH_CHANNEL_TEAMS_ADAPTIVECARD: return status >= 200 && status <= 202;
	default: return status >= 200 && status <= 299;
	}
}

void cmh_notify_classify(enum cmh_channel_kind kind, long status, const char *body,
	size_t body_len, int64_t retry_after_ms, struct cmh_notify_verdict *ret)
{
	char what[64];

	if (!body)
		body_len = 0;
	snprintf(what, sizeof(what), "HTTP %ld", status);
	if (is_success(kind, status, body, body_len)) {
		verdict_init(ret, CMH_NOTIFY_DONE, status);
		return;
	}
	/* Microsoft's sample retries when the connector relays a Teams 429. */
	if (status == 408 || status == 429 || (status >= 500 && status <= 599) ||
	    (kind == CMH_CHANNEL_TEAMS_MESSAGECARD && status == 200 &&
	     contains(body, body_len, "HTTP error 429"))) {
		verdict_init(ret, CMH_NOTIFY_RETRY, status);
		ret->retry_after_ms = retry_after_ms >= 0 ? retry_after_ms : -1;
	} else {
		verdict_init(ret, CMH_NOTIFY_FAILED, status);
	}
	set_reason(ret, what, body, body_len);
}

/* ---- sending ------------------------------------------------------------- */

/* The parts of url after its authority that could identify it, longest
 * first: all of it, then path segments, query names and values (at least
 * MIN_SECRET_PIECE bytes; shorter ones are too common to redact). */
static size_t secret_pieces(const char *url, const char *pieces[], size_t lens[])
{
	const char *p = url ? strstr(url, "://") : NULL;
	size_t n = 0;

	p = p ? strpbrk(p + 3, "/?") : NULL;
	if (p && strlen(p) >= MIN_SECRET_PIECE) {
		pieces[n] = p;
		lens[n++] = strlen(p);
	}
	while (p && *p && n < MAX_SECRET_PIECES) {
		size_t len;

		/* '@' too: Teams connector paths are "<group>@<tenant>". */
		p += strspn(p, "/?&=;@");
		len = strcspn(p, "/?&=;@");
		if (len >= MIN_SECRET_PIECE) {
			pieces[n] = p;
			lens[n++] = len;
		}
		p += len;
	}
	/* Longest first, so that a piece is never half-replaced by a shorter one. */
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0 && lens[j] > lens[j - 1]; j--) {
			const char *tp = pieces[j];
			size_t tl = lens[j];

			pieces[j] = pieces[j - 1];
			lens[j] = lens[j - 1];
			pieces[j - 1] = tp;
			lens[j - 1] = tl;
		}
	}
	return n;
}

/* Copy s into out with every URL piece replaced by REDACTED. */
static enum cmh_err redact(const char *s, size_t len, const char *url, struct cmh_buf *out)
{
	const char *pieces[MAX_SECRET_PIECES];
	size_t lens[MAX_SECRET_PIECES];
	size_t n = secret_pieces(url, pieces, lens);
	enum cmh_err err = CMH_OK;

	for (size_t i = 0; i < len && !err;) {
		size_t k;

		for (k = 0; k < n; k++) {
			if (lens[k] <= len - i && memcmp(s + i, pieces[k], lens[k]) == 0)
				break;
		}
		if (k < n) {
			err = cmh_buf_adds(out, REDACTED);
			i += lens[k];
		} else {
			err = cmh_buf_addch(out, s[i++]);
		}
	}
	return err;
}

static void classify_answer(enum cmh_channel_kind kind, const char *url,
	const struct cmh_http_response *resp, struct cmh_notify_verdict *ret)
{
	struct cmh_buf clean;

	/* The channel may quote our request (and so the URL's secret) back. */
	cmh_buf_init(&clean, 2 * CMH_MAX_CHANNEL_RESPONSE);
	if (redact(resp->body.data, resp->body.len, url, &clean) != CMH_OK)
		cmh_buf_reset(&clean);
	cmh_notify_classify(kind, resp->status, clean.data, clean.len, resp->retry_after_ms, ret);
	cmh_buf_release(&clean);
}

static void transport_failure(enum cmh_err err, const char *url, const struct cmh_buf *msg,
	struct cmh_notify_verdict *ret)
{
	struct cmh_buf clean;

	verdict_init(ret, cmh_err_is_transient(err) ? CMH_NOTIFY_RETRY : CMH_NOTIFY_FAILED, 0);
	cmh_buf_init(&clean, sizeof(ret->reason) - 1);
	if (redact(msg->data, msg->len, url, &clean) != CMH_OK || clean.len == 0) {
		cmh_buf_reset(&clean);
		(void)!cmh_buf_adds(&clean, cmh_strerror(err));
	}
	snprintf(ret->reason, sizeof(ret->reason), "%s", clean.data);
	cmh_buf_release(&clean);
}

/* An event id goes into a header: only if it cannot break the header. */
static bool header_safe(const char *s)
{
	if (!is_set(s) || strlen(s) > 256)
		return false;
	for (; *s; s++) {
		if (*s <= ' ' || *s >= 0x7f)
			return false;
	}
	return true;
}

static void post(enum cmh_channel_kind kind, const char *url, const struct cmh_message *m,
	const struct cmh_buf *body, long timeout_ms, struct cmh_notify_verdict *ret)
{
	struct cmh_http_header h[3] = { { "Content-Type", "application/json" } };
	struct cmh_http_request req = { .method = "POST", .url = url, .headers = h,
		.n_headers = 1, .body = body->data, .body_len = body->len,
		.timeout_ms = timeout_ms, .max_response = CMH_MAX_CHANNEL_RESPONSE };
	struct cmh_http_response resp;
	struct cmh_buf msg;
	enum cmh_err err;

	if (kind == CMH_CHANNEL_WEBHOOK) {
		h[req.n_headers++] = (struct cmh_http_header){ "User-Agent", "cmhook/" CMH_VERSION };
		if (header_safe(m->event_id))
			h[req.n_headers++] = (struct cmh_http_header){ "Idempotency-Key", m->event_id };
	}
	cmh_http_response_init(&resp);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	err = cmh_http_perform(&req, &resp, &msg);
	if (err)
		transport_failure(err, url, &msg, ret);
	else
		classify_answer(kind, url, &resp, ret);
	cmh_buf_release(&msg);
	cmh_http_response_release(&resp);
}

enum cmh_notify_result cmh_notify_send(enum cmh_channel_kind kind, const char *url,
	const struct cmh_message *m, long timeout_ms, struct cmh_notify_verdict *ret)
{
	struct cmh_buf body;
	enum cmh_err err;

	verdict_init(ret, CMH_NOTIFY_FAILED, 0);
	cmh_buf_init(&body, CMH_NOTIFY_MAX_PAYLOAD);
	err = cmh_notify_render(kind, m, &body);
	if (err) {
		ret->result = err == CMH_ERR_NOMEM ? CMH_NOTIFY_RETRY : CMH_NOTIFY_FAILED;
		snprintf(ret->reason, sizeof(ret->reason), "cannot render the %s message: %s",
			 cmh_notify_format_name(kind), cmh_strerror(err));
	} else if (!url || !*url) {
		snprintf(ret->reason, sizeof(ret->reason), "no URL for the %s channel",
			 cmh_notify_channel_name(kind));
	} else {
		post(kind, url, m, &body, timeout_ms, ret);
	}
	cmh_log(CMH_LOG_DEBUG, "notify", "notification attempt", "channel=%s status=%ld result=%s",
		cmh_notify_channel_name(kind), ret->status, cmh_notify_result_name(ret->result));
	cmh_buf_release(&body);
	return ret->result;
}
