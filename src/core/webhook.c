/*
 * The receiver's decisions about a webhook request, over bytes only: the
 * challenge value check and JSON answer, the parse of an authenticated body
 * (single XDM envelope, batch array, validation POST; CloudEvents refused)
 * into struct cmh_webhook_delivery, the recipient check and the object URL
 * shape check. JSON is jansson's; the HTTP server adapter, the signature
 * check and the journal are other modules' concern.
 */
#include "webhook.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bounds.h"
#include "parse.h"

/* ---- challenge ---------------------------------------------------------- */

static bool is_unreserved(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' || c == '-';
}

bool cmh_webhook_challenge_valid(const char *value)
{
	size_t i, n;

	if (!value)
		return false;
	n = strnlen(value, CMH_CHALLENGE_MAX_LEN + 1);
	if (n < 1 || n > CMH_CHALLENGE_MAX_LEN)
		return false;
	for (i = 0; i < n; i++) {
		if (!is_unreserved(value[i]))
			return false;
	}
	return true;
}

enum cmh_err cmh_webhook_challenge_json(const char *value, struct cmh_buf *out)
{
	enum cmh_err err = CMH_OK;
	json_t *obj = NULL;
	char *text = NULL;

	cmh_buf_reset(out);
	if (!cmh_webhook_challenge_valid(value))
		return CMH_ERR_PARSE;
	obj = json_pack("{s:s}", "challenge", value);
	text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	if (!text) {
		err = CMH_ERR_NOMEM;
		goto out;
	}
	err = cmh_buf_adds(out, text);
out:
	free(text);
	json_decref(obj);
	return err;
}

/* ---- object URL --------------------------------------------------------- */

/* After the literal lit, 1..20 ASCII digits; returns the position after
 * them, or NULL. */
static const char *match_id_segment(const char *p, const char *lit)
{
	size_t n = strlen(lit), digits = 0;

	if (!p || strncmp(p, lit, n) != 0)
		return NULL;
	p += n;
	while (digits <= 20 && p[digits] >= '0' && p[digits] <= '9')
		digits++;
	if (digits < 1 || digits > 20)
		return NULL;
	return p + digits;
}

bool cmh_webhook_object_url_ok(const char *api_base, enum cmh_event_kind kind, const char *url)
{
	size_t blen;
	const char *p;

	if (!api_base || !url || kind == CMH_KIND_OTHER || (unsigned)kind > CMH_KIND_OTHER)
		return false;
	blen = strlen(api_base);
	if (blen > 0 && api_base[blen - 1] == '/')
		blen--;
	/* Compare with the configured base, never with anything derived from
	 * the request (cloudmanager-events.md §4). */
	if (blen == 0 || strncmp(url, api_base, blen) != 0)
		return false;
	p = match_id_segment(url + blen, "/api/program/");
	p = match_id_segment(p, "/pipeline/");
	p = match_id_segment(p, "/execution/");
	if (cmh_event_kind_is_step(kind)) {
		p = match_id_segment(p, "/phase/");
		p = match_id_segment(p, "/step/");
	}
	return p && *p == '\0';
}

/* ---- body parsing ------------------------------------------------------- */

/*
 * jansson recurses once per nesting level up to its compiled-in 2048. The
 * envelopes we accept are four levels deep, so refuse deeply nested input
 * before handing it over. Strings are skipped so brackets in them don't count.
 */
static bool nesting_within(const char *s, size_t len, unsigned max)
{
	unsigned depth = 0;
	bool in_string = false, escaped = false;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				return false;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return true;
}

/* Copy the optional string member key of obj into *ret (NULL when absent). */
static enum cmh_err get_string(const json_t *obj, const char *key, size_t max,
	char **ret, struct cmh_buf *errmsg)
{
	const json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v)
		return CMH_OK;
	if (!json_is_string(v)) {
		cmh_errf(errmsg, "\"%s\" is not a string", key);
		return CMH_ERR_PARSE;
	}
	if (json_string_length(v) > max) {
		cmh_errf(errmsg, "\"%s\" is longer than %zu bytes", key, max);
		return CMH_ERR_PARSE;
	}
	*ret = strdup(json_string_value(v));
	return *ret ? CMH_OK : CMH_ERR_NOMEM;
}

/*
 * An id that I/O Events spells two ways (io-events-webhook.md §4.2): the new
 * name wins, the deprecated one is the fallback, and when both are present
 * they must agree or the delivery is malformed.
 */
static enum cmh_err get_dual_id(const json_t *obj, const char *name, const char *old_name,
	char **ret, struct cmh_buf *errmsg)
{
	char *a = NULL, *b = NULL;
	enum cmh_err err;

	*ret = NULL;
	err = get_string(obj, name, CMH_WEBHOOK_MAX_ID_LEN, &a, errmsg);
	if (!err)
		err = get_string(obj, old_name, CMH_WEBHOOK_MAX_ID_LEN, &b, errmsg);
	if (err)
		goto out;
	if (a && b && strcmp(a, b) != 0) {
		cmh_errf(errmsg, "\"%s\" and \"%s\" differ", name, old_name);
		err = CMH_ERR_PARSE;
		goto out;
	}
	*ret = a ? a : b;
	if (a)
		a = NULL;
	else
		b = NULL;
out:
	free(a);
	free(b);
	return err;
}

/* Event ids end up in logs, SQL keys and command lines: printable ASCII only. */
static bool event_id_ok(const char *id)
{
	const char *p;

	if (!id || !*id)
		return false;
	for (p = id; *p; p++) {
		if (*p < 0x21 || *p > 0x7e)
			return false;
	}
	return true;
}

static enum cmh_err parse_inner_event(const json_t *event, struct cmh_webhook_event *ev,
	struct cmh_buf *errmsg)
{
	const json_t *object;
	enum cmh_err err;

	err = get_string(event, "@type", CMH_WEBHOOK_MAX_FIELD_LEN, &ev->type, errmsg);
	if (!err)
		err = get_string(event, "xdmEventEnvelope:objectType", CMH_WEBHOOK_MAX_FIELD_LEN,
				 &ev->object_type, errmsg);
	if (!err)
		err = get_string(event, "@id", CMH_WEBHOOK_MAX_FIELD_LEN, &ev->urn, errmsg);
	if (!err)
		err = get_string(event, "activitystreams:published", CMH_WEBHOOK_MAX_FIELD_LEN,
				 &ev->published, errmsg);
	if (err)
		return err;
	object = json_object_get(event, "activitystreams:object");
	if (!object)
		return CMH_OK;
	if (!json_is_object(object)) {
		cmh_errf(errmsg, "\"activitystreams:object\" is not an object");
		return CMH_ERR_PARSE;
	}
	return get_string(object, "@id", CMH_WEBHOOK_MAX_FIELD_LEN, &ev->object_url, errmsg);
}

static enum cmh_err parse_event(const json_t *el, const char *api_base,
	struct cmh_webhook_event *ev, struct cmh_buf *errmsg)
{
	const json_t *event;
	enum cmh_err err;
	int64_t ms;

	ev->published_ms = -1;
	if (!json_is_object(el)) {
		cmh_errf(errmsg, "not a JSON object");
		return CMH_ERR_PARSE;
	}
	err = get_dual_id(el, "eventid", "event_id", &ev->event_id, errmsg);
	if (err)
		return err;
	if (!event_id_ok(ev->event_id)) {
		cmh_errf(errmsg, "missing, empty or non-printable event id");
		return CMH_ERR_PARSE;
	}
	err = get_dual_id(el, "recipientclientid", "recipient_client_id", &ev->recipient, errmsg);
	if (err)
		return err;
	event = json_object_get(el, "event");
	if (!json_is_object(event)) {
		cmh_errf(errmsg, "\"event\" missing or not an object");
		return CMH_ERR_PARSE;
	}
	err = parse_inner_event(event, ev, errmsg);
	if (err)
		return err;
	ev->kind = cmh_event_classify(ev->type, ev->object_type);
	if (ev->published && cmh_parse_time_ms(ev->published, &ms) == CMH_OK)
		ev->published_ms = ms;
	ev->object_url_ok = cmh_webhook_object_url_ok(api_base, ev->kind, ev->object_url);
	return CMH_OK;
}

static bool is_cloudevent(const json_t *el)
{
	return json_is_object(el) && json_object_get(el, "specversion") != NULL;
}

static enum cmh_err parse_validation(const json_t *root, struct cmh_webhook_delivery *d,
	struct cmh_buf *errmsg)
{
	enum cmh_err err;

	err = get_string(root, "validationUrl", CMH_WEBHOOK_MAX_FIELD_LEN, &d->validation_url, errmsg);
	if (err)
		return err;
	d->kind = CMH_WEBHOOK_BODY_VALIDATION;
	return CMH_OK;
}

static enum cmh_err parse_events(const json_t *root, const char *api_base,
	struct cmh_webhook_delivery *d, struct cmh_buf *errmsg)
{
	size_t i, n = json_is_array(root) ? json_array_size(root) : 1;
	enum cmh_err err;

	d->batch = json_is_array(root);
	if (n == 0) {
		cmh_errf(errmsg, "empty batch");
		return CMH_ERR_PARSE;
	}
	if (n > CMH_WEBHOOK_MAX_BATCH) {
		cmh_errf(errmsg, "batch of %zu events, at most %d accepted", n, CMH_WEBHOOK_MAX_BATCH);
		return CMH_ERR_TOO_LARGE;
	}
	/* CloudEvents anywhere: refuse the whole body before misreading any of it. */
	for (i = 0; i < n; i++) {
		if (is_cloudevent(d->batch ? json_array_get(root, i) : root)) {
			cmh_errf(errmsg, "CloudEvents format (specversion) is not supported");
			return CMH_ERR_REJECTED;
		}
	}
	d->events = calloc(n, sizeof(*d->events));
	if (!d->events)
		return CMH_ERR_NOMEM;
	d->n_events = n;
	for (i = 0; i < n; i++) {
		err = parse_event(d->batch ? json_array_get(root, i) : root, api_base,
				  &d->events[i], errmsg);
		if (err) {
			if (d->batch && errmsg && errmsg->len)
				(void)!cmh_buf_addf(errmsg, " (element %zu)", i);
			return err;
		}
	}
	return CMH_OK;
}

enum cmh_err cmh_webhook_parse(const char *body, size_t len, const char *api_base,
	struct cmh_webhook_delivery *ret, struct cmh_buf *errmsg)
{
	struct cmh_webhook_delivery d = { 0 };
	enum cmh_err err;
	json_error_t jerr;
	json_t *root = NULL;

	memset(ret, 0, sizeof(*ret));
	if (!body || len == 0) {
		cmh_errf(errmsg, "empty body");
		return CMH_ERR_PARSE;
	}
	if (!nesting_within(body, len, CMH_WEBHOOK_MAX_DEPTH)) {
		cmh_errf(errmsg, "JSON nested deeper than %d levels", CMH_WEBHOOK_MAX_DEPTH);
		return CMH_ERR_PARSE;
	}
	/* Without JSON_DECODE_ANY only an object or array is accepted at the top;
	 * without JSON_ALLOW_NUL "\u0000" is refused; invalid UTF-8 always is. */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		cmh_errf(errmsg, "invalid JSON at byte %d: %s", jerr.position, jerr.text);
		return CMH_ERR_PARSE;
	}
	if (is_cloudevent(root)) {
		cmh_errf(errmsg, "CloudEvents format (specversion) is not supported");
		err = CMH_ERR_REJECTED;
	} else if (json_is_object(root) && json_object_get(root, "validationUrl") &&
		   !json_object_get(root, "event")) {
		err = parse_validation(root, &d, errmsg);
	} else {
		err = parse_events(root, api_base, &d, errmsg);
	}
	json_decref(root);
	if (err) {
		cmh_webhook_delivery_release(&d);
		return err;
	}
	*ret = d;
	return CMH_OK;
}

static void event_release(struct cmh_webhook_event *ev)
{
	free(ev->event_id);
	free(ev->recipient);
	free(ev->type);
	free(ev->object_type);
	free(ev->urn);
	free(ev->object_url);
	free(ev->published);
}

void cmh_webhook_delivery_release(struct cmh_webhook_delivery *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n_events; i++)
		event_release(&d->events[i]);
	free(d->events);
	free(d->validation_url);
	memset(d, 0, sizeof(*d));
}

/* ---- recipient ---------------------------------------------------------- */

enum cmh_err cmh_webhook_check_recipient(const struct cmh_webhook_delivery *d,
	const char *client_id, struct cmh_buf *errmsg)
{
	size_t i;

	if (!d || !client_id || !*client_id) {
		cmh_errf(errmsg, "no client id to compare with");
		return CMH_ERR_RECIPIENT;
	}
	for (i = 0; i < d->n_events; i++) {
		const char *r = d->events[i].recipient;

		if (!r) {
			cmh_errf(errmsg, "event %zu has no recipient client id", i);
			return CMH_ERR_RECIPIENT;
		}
		/* The client id is not a secret (it is the x-api-key), so a plain
		 * comparison is fine. */
		if (strcmp(r, client_id) != 0) {
			cmh_errf(errmsg, "event %zu is addressed to another client id", i);
			return CMH_ERR_RECIPIENT;
		}
	}
	return CMH_OK;
}
