/*
 * The webhook POST pipeline. On the server thread: size limit, signature
 * with cached keys, parsing, recipient check, then an asynchronous journal
 * append whose completion answers the request. A delivery that needs a key
 * not yet cached goes to the key thread, which may block on the fetch (the
 * only upstream call before an acknowledgement) and then continues the same
 * pipeline. Nothing unauthenticated is parsed, journaled or causes a request
 * other than the key fetch from EVENTS_KEY_URL.
 */
#include "receiver.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "config.h"
#include "http_server.h"
#include "ims.h"
#include "journal.h"
#include "keycache.h"
#include "log.h"
#include "metrics.h"
#include "webhook.h"

#define KEY_QUEUE_MAX 256
#define RETRY_AFTER_KEYS_S 60
#define RETRY_AFTER_JOURNAL_S 10

struct key_job {
	struct cmh_http_exchange *x;
	struct key_job *next;
};

struct cmh_receiver {
	struct cmh_receiver_deps d;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct key_job *head, *tail;
	unsigned queued;
	bool stopping;        /* key thread exits */
	bool refusing;        /* answer 503: shutting down */
	pthread_t key_thread;
	bool has_thread;
};

/* What an accepted delivery needs until the journal has committed it. */
struct pending_ack {
	struct cmh_receiver *r;
	struct cmh_http_exchange *x;
	struct cmh_webhook_delivery delivery;
	struct cmh_journal_entry *entries;
	char **keys;          /* execution keys, per event */
};

static void answer(struct cmh_receiver *r, struct cmh_http_exchange *x, unsigned status,
		   const char *text, unsigned retry_after_s)
{
	cmh_metrics_count_request(r->d.metrics, status);
	if (status == 200)
		cmh_metrics_observe_ack(r->d.metrics,
					cmh_monotonic_us() - cmh_http_exchange_ready_us(x));
	char body[128];
	int n = snprintf(body, sizeof(body), "%s", text);

	cmh_http_exchange_respond(x, status, "text/plain; charset=utf-8", body,
				  n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0, retry_after_s);
}

static void reject(struct cmh_receiver *r, struct cmh_http_exchange *x, unsigned status,
		   enum cmh_reject_reason reason, const char *text, const char *detail)
{
	const char *rid = cmh_http_exchange_header(x, "x-request-id");

	cmh_metrics_count_reject(r->d.metrics, reason);
	cmh_log(CMH_LOG_INFO, "receiver", "delivery refused", "status=%u reason=%s detail=%s "
		"x_request_id=%s", status, cmh_q(text), cmh_q(detail), cmh_q(rid));
	answer(r, x, status, text, status == 503 ? RETRY_AFTER_KEYS_S : 0);
}

static void pending_ack_free(struct pending_ack *p)
{
	if (!p)
		return;
	if (p->keys)
		for (size_t i = 0; i < p->delivery.n_events; i++)
			free(p->keys[i]);
	free(p->keys);
	free(p->entries);
	cmh_webhook_delivery_release(&p->delivery);
	free(p);
}

/* "program/1/pipeline/2/execution/3" from a validated object URL, or NULL. */
static char *execution_key(const char *api_base, const struct cmh_webhook_event *ev)
{
	const char *p, *end;
	size_t base_len = strlen(api_base);

	if (!ev->object_url_ok)
		return NULL;
	while (base_len && api_base[base_len - 1] == '/')
		base_len--;
	p = ev->object_url + base_len + strlen("/api/");
	end = strstr(p, "/phase/");
	return end ? strndup(p, (size_t)(end - p)) : strdup(p);
}

static bool wanted(const struct cmh_config *cfg, enum cmh_event_kind kind)
{
	return kind != CMH_KIND_OTHER && (cfg->notify_events & cmh_event_kind_bit(kind));
}

static void on_committed(enum cmh_err err, const bool *inserted, size_t n, void *ud)
{
	struct pending_ack *p = ud;
	struct cmh_receiver *r = p->r;

	if (err) {
		cmh_metrics_count_reject(r->d.metrics, CMH_REJECT_JOURNAL);
		cmh_log(CMH_LOG_WARN, "receiver", "journal commit failed, answering 503", "events=%zu",
			n);
		answer(r, p->x, 503, "journal unavailable", RETRY_AFTER_JOURNAL_S);
		pending_ack_free(p);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct cmh_webhook_event *ev = &p->delivery.events[i];

		if (inserted[i])
			cmh_metrics_count_event(r->d.metrics, cmh_event_kind_name(ev->kind));
		else
			cmh_metrics_count_duplicate(r->d.metrics);
		cmh_log(CMH_LOG_INFO, "receiver", inserted[i] ? "event journaled" : "duplicate event",
			"event_id=%s kind=%s status=%s", cmh_q(ev->event_id),
			cmh_event_kind_name(ev->kind), p->entries[i].status);
	}
	answer(r, p->x, 200, "ok", 0);
	pending_ack_free(p);
	if (r->d.on_journaled)
		r->d.on_journaled(r->d.on_journaled_ud);
}

static enum cmh_err build_entries(struct pending_ack *p, const char *body, size_t len)
{
	const struct cmh_config *cfg = p->r->d.cfg;
	int64_t now = cmh_clock_realtime_ms(NULL);
	size_t n = p->delivery.n_events;

	p->entries = calloc(n, sizeof(*p->entries));
	p->keys = calloc(n, sizeof(*p->keys));
	if (!p->entries || !p->keys)
		return CMH_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct cmh_webhook_event *ev = &p->delivery.events[i];

		p->keys[i] = execution_key(cfg->cloudmanager_api_url, ev);
		p->entries[i] = (struct cmh_journal_entry){
			.event_id = ev->event_id,
			.received_at_ms = now,
			.kind = cmh_event_kind_name(ev->kind),
			.event_urn = ev->urn,
			.object_url = ev->object_url,
			.published = ev->published,
			.execution_key = p->keys[i],
			.body = body,
			.body_len = len,
			.status = wanted(cfg, ev->kind) ? "pending" : "ignored",
		};
	}
	return CMH_OK;
}

static void log_validation(struct cmh_receiver *r, const struct cmh_webhook_delivery *d)
{
	(void)r;
	/* The operator opens this URL to activate the registration; it is shown
	 * in full because only the webhook owner sees these logs (io-events §3). */
	cmh_log(CMH_LOG_WARN, "receiver",
		"asynchronous validation requested: open validation_url within 5 minutes to activate "
		"the registration (cmhook never fetches it)", "validation_url=%s",
		cmh_q(d->validation_url));
}

/* After authentication: parse, check recipients, journal. Answers x. */
static void accept_authentic(struct cmh_receiver *r, struct cmh_http_exchange *x)
{
	struct pending_ack *p = calloc(1, sizeof(*p));
	struct cmh_buf err;
	size_t len;
	const char *body = cmh_http_exchange_body(x, &len);
	enum cmh_err e;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	if (!p) {
		answer(r, x, 503, "out of memory", RETRY_AFTER_JOURNAL_S);
		goto out;
	}
	p->r = r;
	p->x = x;
	e = cmh_webhook_parse(body, len, r->d.cfg->cloudmanager_api_url, &p->delivery, &err);
	if (e == CMH_ERR_REJECTED) {
		reject(r, x, 400, CMH_REJECT_UNSUPPORTED, "unsupported format", err.data);
		goto out;
	}
	if (e == CMH_ERR_NOMEM) {
		answer(r, x, 503, "out of memory", RETRY_AFTER_JOURNAL_S);
		goto out;
	}
	if (e) {
		reject(r, x, 400, CMH_REJECT_MALFORMED, "malformed body", err.data);
		goto out;
	}
	if (p->delivery.kind == CMH_WEBHOOK_BODY_VALIDATION) {
		log_validation(r, &p->delivery);
		answer(r, x, 200, "ok", 0);
		goto out;
	}
	if (cmh_webhook_check_recipient(&p->delivery, r->d.cfg->client_id, &err)) {
		reject(r, x, 401, CMH_REJECT_RECIPIENT, "wrong recipient", err.data);
		goto out;
	}
	e = build_entries(p, body, len);
	if (!e)
		e = cmh_journal_append_async(r->d.journal, p->entries, p->delivery.n_events,
					     on_committed, p);
	if (e) {
		cmh_metrics_count_reject(r->d.metrics, CMH_REJECT_JOURNAL);
		answer(r, x, 503, "journal unavailable", RETRY_AFTER_JOURNAL_S);
		goto out;
	}
	p = NULL; /* on_committed owns it now */
out:
	pending_ack_free(p);
	cmh_buf_release(&err);
}

struct sig_headers {
	const char *sig1, *path1, *sig2, *path2;
};

static void read_sig_headers(struct cmh_http_exchange *x, struct sig_headers *h)
{
	h->sig1 = cmh_http_exchange_header(x, "x-adobe-digital-signature-1");
	h->sig2 = cmh_http_exchange_header(x, "x-adobe-digital-signature-2");
	h->path1 = cmh_http_exchange_header(x, "x-adobe-public-key1-path");
	h->path2 = cmh_http_exchange_header(x, "x-adobe-public-key2-path");
}

/* Map the signature step's outcome to an answer; true when authentic. */
static bool authentication_passed(struct cmh_receiver *r, struct cmh_http_exchange *x,
				  enum cmh_err e, const struct cmh_buf *err)
{
	if (e == CMH_OK)
		return true;
	if (cmh_err_is_transient(e))
		reject(r, x, 503, CMH_REJECT_KEY_UNAVAILABLE, "signing key unavailable", err->data);
	else
		reject(r, x, 401, CMH_REJECT_SIGNATURE, "invalid signature", err->data);
	return false;
}

/* Authenticate one deferred delivery (may block on the key fetch) and go on. */
static void run_key_job(struct cmh_receiver *r, struct key_job *job, struct cmh_buf *err)
{
	struct sig_headers h;
	size_t len;
	const char *body = cmh_http_exchange_body(job->x, &len);
	enum cmh_err e;

	read_sig_headers(job->x, &h);
	cmh_buf_reset(err);
	e = cmh_keycache_authenticate(r->d.keys, body, len, h.sig1, h.path1, h.sig2, h.path2, err);
	if (authentication_passed(r, job->x, e, err))
		accept_authentic(r, job->x);
}

static void *key_thread_main(void *arg)
{
	struct cmh_receiver *r = arg;
	struct cmh_buf err;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct key_job *job;
		bool stopping;

		while (!r->head && !r->stopping)
			pthread_cond_wait(&r->cv, &r->lock);
		if (!r->head)
			break;
		job = r->head;
		r->head = job->next;
		if (!r->head)
			r->tail = NULL;
		r->queued--;
		stopping = r->stopping;
		pthread_mutex_unlock(&r->lock);

		/* Stopping: answer what is queued at once (Adobe retries a 503)
		 * instead of spending up to a key-fetch timeout on each. */
		if (stopping)
			answer(r, job->x, 503, "shutting down", RETRY_AFTER_JOURNAL_S);
		else
			run_key_job(r, job, &err);
		free(job);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	cmh_buf_release(&err);
	return NULL;
}

/* Hand x to the key thread; answers 503 itself when the queue is full. */
static void defer_to_key_thread(struct cmh_receiver *r, struct cmh_http_exchange *x)
{
	struct key_job *job = calloc(1, sizeof(*job));
	bool queued = false;

	pthread_mutex_lock(&r->lock);
	if (job && !r->stopping && r->queued < KEY_QUEUE_MAX) {
		job->x = x;
		if (r->tail)
			r->tail->next = job;
		else
			r->head = job;
		r->tail = job;
		r->queued++;
		queued = true;
		pthread_cond_signal(&r->cv);
	}
	pthread_mutex_unlock(&r->lock);
	if (!queued) {
		free(job);
		reject(r, x, 503, CMH_REJECT_KEY_UNAVAILABLE, "busy fetching signing keys",
		       "key fetch queue full");
	}
}

static bool content_encoding_ok(struct cmh_http_exchange *x)
{
	const char *ce = cmh_http_exchange_header(x, "content-encoding");

	return !ce || !*ce || strcasecmp(ce, "identity") == 0;
}

void cmh_receiver_post(struct cmh_receiver *r, struct cmh_http_exchange *x)
{
	struct sig_headers h;
	struct cmh_buf err;
	size_t len;
	const char *body;
	enum cmh_err e;

	if (cmh_http_exchange_too_large(x)) {
		reject(r, x, 413, CMH_REJECT_TOO_LARGE, "body too large", "over MAX_BODY");
		return;
	}
	if (__atomic_load_n(&r->refusing, __ATOMIC_ACQUIRE)) {
		answer(r, x, 503, "shutting down", RETRY_AFTER_JOURNAL_S);
		return;
	}
	if (!content_encoding_ok(x)) {
		reject(r, x, 400, CMH_REJECT_UNSUPPORTED, "unsupported content-encoding",
		       cmh_http_exchange_header(x, "content-encoding"));
		return;
	}
	if (!r->d.keys) { /* SIGNATURE_VERIFY=off */
		accept_authentic(r, x);
		return;
	}
	read_sig_headers(x, &h);
	body = cmh_http_exchange_body(x, &len);
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	e = cmh_keycache_authenticate_cached(r->d.keys, body, len, h.sig1, h.path1, h.sig2,
					     h.path2, &err);
	if (e == CMH_ERR_NOT_FOUND)
		defer_to_key_thread(r, x);
	else if (authentication_passed(r, x, e, &err))
		accept_authentic(r, x);
	cmh_buf_release(&err);
}

enum cmh_err cmh_receiver_new(const struct cmh_receiver_deps *deps, struct cmh_receiver **ret)
{
	struct cmh_receiver *r = calloc(1, sizeof(*r));

	if (!r)
		return CMH_ERR_NOMEM;
	r->d = *deps;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (r->d.keys) {
		if (pthread_create(&r->key_thread, NULL, key_thread_main, r)) {
			cmh_receiver_free(r);
			return CMH_ERR_INTERNAL;
		}
		r->has_thread = true;
	}
	*ret = r;
	return CMH_OK;
}

void cmh_receiver_stop_accepting(struct cmh_receiver *r)
{
	__atomic_store_n(&r->refusing, true, __ATOMIC_RELEASE);
}

void cmh_receiver_stop(struct cmh_receiver *r)
{
	if (!r)
		return;
	cmh_receiver_stop_accepting(r);
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->lock);
	if (r->has_thread) {
		pthread_join(r->key_thread, NULL);
		r->has_thread = false;
	}
}

void cmh_receiver_free(struct cmh_receiver *r)
{
	if (!r)
		return;
	cmh_receiver_stop(r);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
