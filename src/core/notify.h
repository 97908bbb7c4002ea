/*
 * Notification channels: which channels are configured, the JSON payload
 * each one gets for a struct cmh_message, how each one's HTTP answer is
 * classified (done / retry / failed), and the POST itself.
 * (reference/notification-targets.md; the generic webhook's schema is
 * documented in docs/message-schema.md.)
 *
 * Channel URLs are bearer secrets: nothing here puts a URL's path or query
 * into an error, a reason or a log line.
 *
 * Thread-safety: every function may be called from any thread; nothing
 * here keeps state between calls.
 */
#ifndef CMH_NOTIFY_H
#define CMH_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "err.h"

struct cmh_message;
struct cmh_message_step;
struct json_t;

enum cmh_channel_kind {
	CMH_CHANNEL_SLACK = 0,            /* Slack incoming webhook, Block Kit */
	CMH_CHANNEL_TEAMS_MESSAGECARD,    /* Teams legacy connector, MessageCard */
	CMH_CHANNEL_TEAMS_ADAPTIVECARD,   /* Teams Workflows, Adaptive Card envelope */
	CMH_CHANNEL_WEBHOOK,              /* generic JSON webhook (cmhook.notification/1) */
};

/* Largest payload we render: Teams refuses more than about 28 KB. */
#define CMH_NOTIFY_MAX_PAYLOAD     (24 * 1024)
/* User text (names, ids) in chat payloads, and in the generic webhook (bytes). */
#define CMH_NOTIFY_MAX_NAME        200
#define CMH_NOTIFY_MAX_WEBHOOK_STR 1024
/* The waiting reason in chat payloads (bytes). */
#define CMH_NOTIFY_MAX_REASON      500
/* Longest deep link we put in a payload (bytes). */
#define CMH_NOTIFY_MAX_LINK        2048
/* Bytes of a channel's answer quoted in a failure reason. */
#define CMH_NOTIFY_REASON_BODY     200
/* At most one channel per kind of setting: Slack, Teams, generic webhook. */
#define CMH_NOTIFY_MAX_CHANNELS    3

/* The name stored per delivery row: "slack", "teams", "webhook" (static;
 * "unknown" for out-of-range values). */
const char *cmh_notify_channel_name(enum cmh_channel_kind kind);
/* The payload format: "slack", "messagecard", "adaptivecard", "webhook" (static). */
const char *cmh_notify_format_name(enum cmh_channel_kind kind);

struct cmh_channel {
	enum cmh_channel_kind kind;
	const char *url;   /* borrowed from the config: a secret */
};

/*
 * The Teams payload kind for url: fmt when it is MESSAGECARD or ADAPTIVECARD;
 * for AUTO, by the URL's host (a Workflows host, e.g. *.logic.azure.com,
 * *powerplatform.com*, *azure-api.net* -> ADAPTIVECARD; outlook.office.com,
 * outlook.office365.com, *.webhook.office.com -> MESSAGECARD; anything else
 * -> ADAPTIVECARD, the current product). CMH_ERR_PARSE when url is not an
 * absolute http(s) URL (checked whatever fmt is); *ret untouched on error.
 */
CMH_MUST_CHECK enum cmh_err cmh_notify_teams_kind(const char *url, enum cmh_teams_format fmt,
	enum cmh_channel_kind *ret);

/*
 * The configured channels, in the order Slack, Teams, generic webhook (a
 * NULL or "" URL is not configured). ret[i].url points into cfg. On error
 * (CMH_ERR_CONFIG: a URL that is not an absolute http(s) URL) errmsg names the
 * setting, never its value, and *ret_n is 0.
 */
CMH_MUST_CHECK enum cmh_err cmh_notify_channels(const struct cmh_config *cfg,
	struct cmh_channel ret[CMH_NOTIFY_MAX_CHANNELS], size_t *ret_n, struct cmh_buf *errmsg);

/*
 * Replace out's content with kind's JSON payload for m (compact, keys in a
 * fixed order, so equal messages give equal bytes). User text is cleaned
 * (invalid UTF-8 and control bytes replaced) and truncated. CMH_ERR_TOO_LARGE
 * when the payload exceeds out's max (use CMH_NOTIFY_MAX_PAYLOAD),
 * CMH_ERR_NOMEM, CMH_ERR_USAGE for a NULL message or an unknown kind.
 */
CMH_MUST_CHECK enum cmh_err cmh_notify_render(enum cmh_channel_kind kind,
	const struct cmh_message *m, struct cmh_buf *out);

enum cmh_notify_result {
	CMH_NOTIFY_DONE = 0,    /* delivered */
	CMH_NOTIFY_RETRY,       /* try again later (429, 5xx, 408, network) */
	CMH_NOTIFY_FAILED,      /* permanent: retrying cannot help */
};

struct cmh_notify_verdict {
	enum cmh_notify_result result;
	long status;                /* HTTP status, 0 when none arrived */
	int64_t retry_after_ms;     /* the channel's Retry-After for RETRY, else -1 */
	char reason[320];           /* "" for DONE; printable ASCII, never the URL */
};

/* "done", "retry", "failed" (static). */
const char *cmh_notify_result_name(enum cmh_notify_result r);

/*
 * Classify a channel's HTTP answer (pure). Success: Slack 200; Teams
 * MessageCard 200 with trimmed body "1" (a 200 whose body mentions
 * "HTTP error 429" is RETRY, any other 200 FAILED); Teams Adaptive Card
 * 200/201/202; generic webhook any 2xx. Then 408, 429 and 5xx -> RETRY
 * carrying retry_after_ms; any other status -> FAILED with reason
 * "HTTP <status>: <first CMH_NOTIFY_REASON_BODY bytes of body, escaped>".
 * body may be NULL when body_len is 0.
 */
void cmh_notify_classify(enum cmh_channel_kind kind, long status, const char *body,
	size_t body_len, int64_t retry_after_ms, struct cmh_notify_verdict *ret);

/*
 * Render m for kind and POST it to url (Content-Type application/json; the
 * generic webhook also gets Idempotency-Key: <event_id> and User-Agent:
 * cmhook/<version>). timeout_ms is the total request time (0: the HTTP
 * client's default). Fills *ret and returns ret->result: network failures
 * and timeouts are RETRY, a message that cannot be rendered or a URL that
 * cannot be used is FAILED. The reason never holds the URL's path or query,
 * even when the channel echoes them in its answer. Blocking.
 */
enum cmh_notify_result cmh_notify_send(enum cmh_channel_kind kind, const char *url,
	const struct cmh_message *m, long timeout_ms, struct cmh_notify_verdict *ret);

/*
 * The headline the renderers show: cmh_message_headline()'s wording, with
 * the step's display label (cmh_notify_step_label()) where the static text
 * cannot have it ("Step started: Stage Deployment", "Step ended: fooBar").
 * Replaces out's content.
 */
CMH_MUST_CHECK enum cmh_err cmh_notify_headline(const struct cmh_message *m,
	struct cmh_buf *out);

/*
 * A step in words: its label (or cmh_step_action_label() of its action),
 * with the environment type in front of a deployment ("Stage Deployment",
 * "Production Deployment"); cleaned and truncated. Replaces out's content;
 * empty when the step has neither label nor action.
 */
CMH_MUST_CHECK enum cmh_err cmh_notify_step_label(const struct cmh_message_step *s,
	struct cmh_buf *out);

/* ---- shared by the renderers (notify_*.c); not for other modules ------- */

/* Facts shown by the chat channels, in display order. */
#define CMH_NOTIFY_MAX_FACTS 10   /* Slack: at most 10 fields per section */

struct cmh_notify_fact {
	const char *name;   /* static: "Program", "Pipeline", ... */
	char *value;        /* heap, cleaned and truncated, never NULL */
};

struct cmh_notify_facts {
	struct cmh_notify_fact items[CMH_NOTIFY_MAX_FACTS];
	size_t n;
};

/* Build the facts of m (only those with a value). On error *ret is empty. */
CMH_MUST_CHECK enum cmh_err cmh_notify_facts_build(const struct cmh_message *m,
	struct cmh_notify_facts *ret);
void cmh_notify_facts_release(struct cmh_notify_facts *f);

/* The tone of m, for colours: a waiting step first, then the outcome. */
enum cmh_notify_tone {
	CMH_TONE_NEUTRAL = 0,
	CMH_TONE_GOOD,       /* succeeded */
	CMH_TONE_BAD,        /* failed, rolled back */
	CMH_TONE_WAITING,    /* a step waits for a human */
};
enum cmh_notify_tone cmh_notify_tone(const struct cmh_message *m);

/* True for a waiting step or needs_action. */
bool cmh_notify_needs_action(const struct cmh_message *m);

/*
 * A cleaned copy of s (malloc'd; NULL for NULL s or no memory): invalid
 * UTF-8 bytes become '?', control bytes a space, and when longer than max
 * bytes it is cut at a character boundary and ends in "…" (still <= max + 3).
 */
char *cmh_notify_clean(const char *s, size_t max);

/* cmh_notify_clean() as a JSON string: NULL s gives JSON null; NULL only on
 * allocation failure. */
struct json_t *cmh_notify_json_text(const char *s, size_t max);

/* obj[key] = val, stealing val; a NULL val or a failure sets *err to
 * CMH_ERR_NOMEM (so a builder can check once at the end). */
void cmh_notify_json_put(struct json_t *obj, const char *key, struct json_t *val,
	enum cmh_err *err);
/* Append val to arr, stealing val; failures as for cmh_notify_json_put(). */
void cmh_notify_json_push(struct json_t *arr, struct json_t *val, enum cmh_err *err);

/* True when link is safe to put in a payload: http(s), printable ASCII,
 * none of the bytes space < > | " \ ` { } ^, at most CMH_NOTIFY_MAX_LINK bytes. */
bool cmh_notify_link_ok(const char *link);

/* "Open execution N in Cloud Manager", or "Open in Cloud Manager" without an id. */
CMH_MUST_CHECK enum cmh_err cmh_notify_link_label(const struct cmh_message *m,
	struct cmh_buf *out);

/* One line: "<headline> — <pipeline> (<program>)", parts omitted when unknown. */
CMH_MUST_CHECK enum cmh_err cmh_notify_summary(const struct cmh_message *m, struct cmh_buf *out);

/* The renderers, one per file. *ret gets a new reference. */
CMH_MUST_CHECK enum cmh_err cmh_notify_slack_render(const struct cmh_message *m,
	struct json_t **ret);
CMH_MUST_CHECK enum cmh_err cmh_notify_teams_render_messagecard(const struct cmh_message *m,
	struct json_t **ret);
CMH_MUST_CHECK enum cmh_err cmh_notify_teams_render_adaptivecard(const struct cmh_message *m,
	struct json_t **ret);
CMH_MUST_CHECK enum cmh_err cmh_notify_webhook_render(const struct cmh_message *m,
	struct json_t **ret);

#endif
