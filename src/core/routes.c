/*
 * Request routing for `serve`. Everything here answers at once except POST
 * WEBHOOK_PATH, which belongs to receiver.c. The challenge echo is limited
 * to URL-unreserved characters (webhook.c) so the endpoint cannot be used to
 * reflect arbitrary content.
 */
#include "routes.h"

#include <string.h>

#include "bounds.h"
#include "config.h"
#include "http_server.h"
#include "ims.h"
#include "journal.h"
#include "keycache.h"
#include "log.h"
#include "metrics.h"
#include "receiver.h"
#include "webhook.h"

static void respond_text(struct cmh_routes *rt, struct cmh_http_exchange *x, unsigned status,
			 const char *text)
{
	cmh_metrics_count_request(rt->metrics, status);
	cmh_http_exchange_respond(x, status, "text/plain; charset=utf-8", text, strlen(text), 0);
}

static bool wants_json(struct cmh_http_exchange *x)
{
	const char *accept = cmh_http_exchange_header(x, "accept");

	return accept && strstr(accept, "application/json");
}

static void handle_challenge(struct cmh_routes *rt, struct cmh_http_exchange *x)
{
	const char *value = cmh_http_exchange_query(x, "challenge");
	struct cmh_buf json;

	if (!value || !cmh_webhook_challenge_valid(value)) {
		respond_text(rt, x, 400, value ? "invalid challenge\n" : "missing challenge\n");
		return;
	}
	cmh_log(CMH_LOG_INFO, "routes", "challenge answered", "json=%s",
		wants_json(x) ? "yes" : "no");
	if (!wants_json(x)) {
		/* Exactly the value: no quotes, no newline (io-events-webhook.md §2). */
		cmh_metrics_count_request(rt->metrics, 200);
		cmh_http_exchange_respond(x, 200, "text/plain", value, strlen(value), 0);
		return;
	}
	cmh_buf_init(&json, CMH_BUF_MAX_SMALL);
	if (cmh_webhook_challenge_json(value, &json)) {
		respond_text(rt, x, 400, "invalid challenge\n");
	} else {
		cmh_metrics_count_request(rt->metrics, 200);
		cmh_http_exchange_respond(x, 200, "application/json", json.data, json.len, 0);
	}
	cmh_buf_release(&json);
}

static void handle_ready(struct cmh_routes *rt, struct cmh_http_exchange *x)
{
	if (__atomic_load_n(&rt->draining, __ATOMIC_ACQUIRE))
		respond_text(rt, x, 503, "shutting down\n");
	else if (cmh_journal_check_writable(rt->journal))
		respond_text(rt, x, 503, "journal not writable\n");
	else
		respond_text(rt, x, 200, "ready\n");
}

static void fill_sample(struct cmh_routes *rt, struct cmh_metrics_sample *s)
{
	static const char *const names[CMH_JOURNAL_STATUS_COUNT] = {
		"pending", "processing", "done", "failed", "ignored",
	};
	struct cmh_journal_stats js;
	struct cmh_keycache_stats ks = { 0 };

	memset(s, 0, sizeof(*s));
	s->status_names = names;
	s->n_status = CMH_JOURNAL_STATUS_COUNT;
	(void)!cmh_journal_counts(rt->journal, s->backlog);
	cmh_journal_stats(rt->journal, &js);
	s->journal_commits = js.commits;
	if (rt->keys)
		cmh_keycache_get_stats(rt->keys, &ks);
	s->key_cache_hits = ks.hits;
	s->key_fetches = ks.fetches;
	s->key_fetch_failures = ks.fetch_failures;
	s->token_requests = rt->ims ? cmh_ims_requests(rt->ims) : 0;
	s->uptime_s = (uint64_t)((cmh_clock_realtime_ms(NULL) - rt->started_ms) / 1000);
}

static void handle_metrics(struct cmh_routes *rt, struct cmh_http_exchange *x)
{
	struct cmh_metrics_sample sample;
	struct cmh_buf out;

	fill_sample(rt, &sample);
	cmh_buf_init(&out, 256 * 1024);
	if (cmh_metrics_render(rt->metrics, &sample, &out)) {
		respond_text(rt, x, 500, "metrics unavailable\n");
	} else {
		cmh_metrics_count_request(rt->metrics, 200);
		cmh_http_exchange_respond(x, 200, "text/plain; version=0.0.4; charset=utf-8",
					  out.data, out.len, 0);
	}
	cmh_buf_release(&out);
}

static bool is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

void cmh_routes_handle(struct cmh_http_exchange *x, void *ud)
{
	struct cmh_routes *rt = ud;
	const char *path = cmh_http_exchange_path(x);
	const char *method = cmh_http_exchange_method(x);

	if (is(path, rt->cfg->webhook_path)) {
		if (is(method, "POST"))
			cmh_receiver_post(rt->receiver, x);
		else if (cmh_http_exchange_too_large(x))
			respond_text(rt, x, 413, "body too large\n");
		else if (is(method, "GET") || is(method, "HEAD"))
			handle_challenge(rt, x);
		else
			respond_text(rt, x, 405, "method not allowed\n");
		return;
	}
	if (cmh_http_exchange_too_large(x)) {
		respond_text(rt, x, 413, "body too large\n");
		return;
	}
	if (!is(path, "/healthz") && !is(path, "/readyz") && !is(path, "/metrics"))
		respond_text(rt, x, 404, "not found\n");
	else if (!is(method, "GET") && !is(method, "HEAD"))
		respond_text(rt, x, 405, "method not allowed\n");
	else if (is(path, "/healthz"))
		respond_text(rt, x, 200, "ok\n");
	else if (is(path, "/readyz"))
		handle_ready(rt, x);
	else
		handle_metrics(rt, x);
}
