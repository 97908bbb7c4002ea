/*
 * What the webhook receiver decides about a request, as pure functions over
 * bytes (reference/io-events-webhook.md, cloudmanager-events.md): is a
 * challenge value safe to echo, what does an authenticated body contain, is
 * every event addressed to us, does an object URL point where it must. It
 * knows nothing of HTTP servers; signature checks live in sig.c/keycache.c
 * and must pass BEFORE cmh_webhook_parse() is called (DESIGN invariant 2:
 * size limit, signature, parsing, recipient).
 *
 * How the receiver answers, by result:
 *   cmh_webhook_parse()            CMH_OK -> go on; CMH_ERR_PARSE -> 400;
 *                                  CMH_ERR_REJECTED (unsupported format,
 *                                  CloudEvents) -> 400; CMH_ERR_TOO_LARGE
 *                                  (batch over CMH_WEBHOOK_MAX_BATCH) -> 413
 *                                  or 400; CMH_ERR_NOMEM -> 503.
 *   cmh_webhook_check_recipient()  CMH_ERR_RECIPIENT -> 401.
 *
 * Thread-safety: all functions are reentrant; a delivery is owned by one
 * thread at a time.
 */
#ifndef CMH_WEBHOOK_H
#define CMH_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "event.h"

/*
 * True when value may be echoed as the challenge answer: 1..CMH_CHALLENGE_MAX_LEN
 * bytes, all URL-unreserved [A-Za-z0-9._~-] (Adobe sends UUIDs). NULL -> false.
 */
bool cmh_webhook_challenge_valid(const char *value);

/* The JSON form of the answer, {"challenge":"<value>"}, into out (reset
 * first). CMH_ERR_PARSE when !cmh_webhook_challenge_valid(value). */
CMH_MUST_CHECK enum cmh_err cmh_webhook_challenge_json(const char *value, struct cmh_buf *out);

/* One event of a delivery. All strings are heap-owned by the delivery. */
struct cmh_webhook_event {
	char *event_id;            /* eventid / event_id: never NULL, 1..128 printable bytes */
	char *recipient;           /* recipientclientid / recipient_client_id; NULL when absent */
	enum cmh_event_kind kind;  /* from @type + xdmEventEnvelope:objectType */
	char *type;                /* event["@type"], NULL when absent */
	char *object_type;         /* event["xdmEventEnvelope:objectType"], NULL when absent */
	char *urn;                 /* event["@id"], NULL when absent (dedupe with the journal API) */
	char *object_url;          /* event["activitystreams:object"]["@id"], NULL when absent */
	char *published;           /* event["activitystreams:published"], NULL when absent */
	int64_t published_ms;      /* parsed published, -1 when absent or unparseable */
	bool object_url_ok;        /* cmh_webhook_object_url_ok(api_base, kind, object_url) */
};

enum cmh_webhook_body_kind {
	CMH_WEBHOOK_BODY_EVENTS = 0,   /* one event object or a batch array */
	CMH_WEBHOOK_BODY_VALIDATION,   /* {"validationUrl": ...}: answer 200, log, never fetch */
};

struct cmh_webhook_delivery {
	enum cmh_webhook_body_kind kind;
	bool batch;                         /* the body was a JSON array */
	size_t n_events;                    /* 0 for VALIDATION, 1..CMH_WEBHOOK_MAX_BATCH otherwise */
	struct cmh_webhook_event *events;
	char *validation_url;               /* VALIDATION only: untrusted, log it redacted */
};

/*
 * Parse an authenticated body (body[0..len), not NUL-terminated). api_base is
 * the configured CLOUDMANAGER_API_URL, used only to fill object_url_ok.
 *
 * Accepted: a single XDM envelope object, a non-empty JSON array of at most
 * CMH_WEBHOOK_MAX_BATCH envelopes, or a validation object (validationUrl, no
 * event). Rejected as CMH_ERR_PARSE: invalid JSON or UTF-8, duplicate keys,
 * nesting over CMH_WEBHOOK_MAX_DEPTH, a top level that is not an object or
 * array, an empty array, a non-object element, an element without an
 * "event" object, a missing/empty/over-long/non-printable event id, the two
 * spellings of the event id or of the recipient disagreeing, any field we
 * read having the wrong JSON type, strings over CMH_WEBHOOK_MAX_FIELD_LEN.
 * CloudEvents bodies ("specversion" anywhere at element level) give
 * CMH_ERR_REJECTED. Unknown (@type, objectType) pairs are not errors: such
 * events get kind CMH_KIND_OTHER.
 *
 * On success *ret is filled and owned by the caller (release it with
 * cmh_webhook_delivery_release()); on error *ret is left zeroed and errmsg
 * says what was wrong (no body content beyond field names).
 */
CMH_MUST_CHECK enum cmh_err cmh_webhook_parse(const char *body, size_t len, const char *api_base,
	struct cmh_webhook_delivery *ret, struct cmh_buf *errmsg);

/* Free everything d owns and zero it. NULL and zeroed deliveries are fine. */
void cmh_webhook_delivery_release(struct cmh_webhook_delivery *d);

/*
 * Every event's recipient must equal client_id exactly (byte comparison);
 * a missing recipient fails. CMH_OK or CMH_ERR_RECIPIENT (errmsg names the
 * event index). A VALIDATION delivery has no events and passes.
 */
CMH_MUST_CHECK enum cmh_err cmh_webhook_check_recipient(const struct cmh_webhook_delivery *d,
	const char *client_id, struct cmh_buf *errmsg);

/*
 * True when url is exactly api_base followed by
 *   /api/program/<d>/pipeline/<d>/execution/<d>                     (STARTED, ENDED)
 *   /api/program/<d>/pipeline/<d>/execution/<d>/phase/<d>/step/<d>  (step kinds)
 * with each <d> 1..20 ASCII digits; nothing else (no query, fragment,
 * percent-encoding, "..", trailing slash). api_base is a configured base such
 * as "https://cloudmanager.adobe.io" (one trailing '/' is tolerated). Kind
 * OTHER or any NULL -> false.
 */
bool cmh_webhook_object_url_ok(const char *api_base, enum cmh_event_kind kind, const char *url);

#endif
