/*
 * Stand-ins for the notification channels during the demo: one HTTP server
 * on 127.0.0.1 with a path per channel, answering each POST the way the real
 * service answers a success (notification-targets.md: Slack 200 "ok", Teams
 * connector 200 "1", Workflows 202, generic webhook 200) and keeping the
 * payloads in arrival order for text.c. A condition variable lets the player
 * wait for messages instead of polling.
 */
#include "demo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_server.h"

#define SINK_CONNECTIONS 64
#define SINK_IDLE_S      10
#define SINK_THREADS     2
#define SINK_URL_LEN     96
#define WAIT_SLICE_MS    200   /* how soon a wait notices *stop */

struct sink {
	enum cmh_channel_kind kind;
	char path[48];
	char url[SINK_URL_LEN];
	struct cmh_buf msgs[CMH_DEMO_MAX_MESSAGES];
	size_t n;
	size_t dropped;            /* beyond CMH_DEMO_MAX_MESSAGES: counted, not kept */
};

struct cmh_demo_sinks {
	struct cmh_http_server *server;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sink sinks[CMH_NOTIFY_MAX_CHANNELS];
	size_t n;
};

static const char *sink_path(enum cmh_channel_kind kind)
{
	switch (kind) {
	case CMH_CHANNEL_SLACK: return "/services/T0DEMO/B0DEMO/slack";
	case CMH_CHANNEL_TEAMS_MESSAGECARD: return "/webhookb2/demo/IncomingWebhook/teams";
	case CMH_CHANNEL_TEAMS_ADAPTIVECARD: return "/workflows/demo/triggers/manual/teams";
	default: return "/hooks/cmhook-demo";
	}
}

/* The real service's answer to a successful post. */
static void answer_ok(struct cmh_http_exchange *x, enum cmh_channel_kind kind)
{
	switch (kind) {
	case CMH_CHANNEL_SLACK:
		cmh_http_exchange_respond(x, 200, "text/plain", "ok", 2, 0);
		break;
	case CMH_CHANNEL_TEAMS_MESSAGECARD:
		cmh_http_exchange_respond(x, 200, "text/plain", "1", 1, 0);
		break;
	case CMH_CHANNEL_TEAMS_ADAPTIVECARD:
		cmh_http_exchange_respond(x, 202, NULL, "", 0, 0);
		break;
	default:
		cmh_http_exchange_respond(x, 200, "application/json", "{}", 2, 0);
		break;
	}
}

static struct sink *find_sink(struct cmh_demo_sinks *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->sinks[i].path, path) == 0)
			return &s->sinks[i];
	}
	return NULL;
}

static void record(struct cmh_demo_sinks *s, struct sink *k, const char *body, size_t len)
{
	pthread_mutex_lock(&s->mu);
	if (k->n < CMH_DEMO_MAX_MESSAGES) {
		cmh_buf_init(&k->msgs[k->n], CMH_DEMO_MAX_SINK_BODY);
		if (cmh_buf_add(&k->msgs[k->n], body, len) == CMH_OK)
			k->n++;
		else
			k->dropped++;
	} else {
		k->dropped++;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void sink_handle(struct cmh_http_exchange *x, void *ud)
{
	struct cmh_demo_sinks *s = ud;
	struct sink *k = find_sink(s, cmh_http_exchange_path(x));
	const char *body;
	size_t len;

	if (!k || strcmp(cmh_http_exchange_method(x), "POST") != 0) {
		cmh_http_exchange_respond(x, 404, "text/plain", "no_service", 10, 0);
		return;
	}
	if (cmh_http_exchange_too_large(x)) {
		cmh_http_exchange_respond(x, 413, "text/plain", "too large", 9, 0);
		return;
	}
	body = cmh_http_exchange_body(x, &len);
	record(s, k, body, len);
	answer_ok(x, k->kind);
}

enum cmh_err cmh_demo_sinks_start(const enum cmh_channel_kind *kinds, size_t n,
	struct cmh_demo_sinks **ret, struct cmh_buf *errmsg)
{
	struct cmh_http_server_config cfg = {
		.address = "127.0.0.1",
		.max_body = CMH_DEMO_MAX_SINK_BODY,
		.max_connections = SINK_CONNECTIONS,
		.idle_timeout_s = SINK_IDLE_S,
		.threads = SINK_THREADS,
		.handler = sink_handle,
	};
	struct cmh_demo_sinks *s;
	enum cmh_err err;

	if (n > CMH_NOTIFY_MAX_CHANNELS)
		return CMH_ERR_USAGE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return CMH_ERR_NOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	for (size_t i = 0; i < n; i++) {
		s->sinks[i].kind = kinds[i];
		snprintf(s->sinks[i].path, sizeof(s->sinks[i].path), "%s", sink_path(kinds[i]));
	}
	s->n = n;
	cfg.handler_ud = s;
	err = cmh_http_server_start(&cfg, &s->server, errmsg);
	if (err) {
		cmh_demo_sinks_stop(s);
		return err;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(s->sinks[i].url, SINK_URL_LEN, "http://127.0.0.1:%u%s",
			 cmh_http_server_port(s->server), sink_path(kinds[i]));
	*ret = s;
	return CMH_OK;
}

void cmh_demo_sinks_stop(struct cmh_demo_sinks *s)
{
	if (!s)
		return;
	if (s->server)
		cmh_http_server_stop(s->server);
	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = 0; j < s->sinks[i].n; j++)
			cmh_buf_release(&s->sinks[i].msgs[j]);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

size_t cmh_demo_sinks_n(const struct cmh_demo_sinks *s) { return s->n; }

enum cmh_channel_kind cmh_demo_sinks_kind(const struct cmh_demo_sinks *s, size_t i)
{
	return s->sinks[i].kind;
}

const char *cmh_demo_sinks_url(const struct cmh_demo_sinks *s, size_t i)
{
	return s->sinks[i].url;
}

size_t cmh_demo_sinks_count(struct cmh_demo_sinks *s, size_t i)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->sinks[i].n + s->sinks[i].dropped;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static bool all_have(const struct cmh_demo_sinks *s, size_t want)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->sinks[i].n + s->sinks[i].dropped < want)
			return false;
	}
	return true;
}

bool cmh_demo_sinks_wait(struct cmh_demo_sinks *s, size_t want, unsigned timeout_ms,
	const cmh_demo_stop_flag *stop)
{
	struct timespec slice;
	unsigned waited = 0;
	bool ok;

	pthread_mutex_lock(&s->mu);
	while (!(ok = all_have(s, want)) && waited < timeout_ms && !(stop && *stop)) {
		/* Sliced so that Ctrl-C is noticed; a message wakes us at once. */
		cmh_demo_deadline_in(&slice, WAIT_SLICE_MS);
		if (pthread_cond_timedwait(&s->cv, &s->mu, &slice))
			waited += WAIT_SLICE_MS;
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

const char *cmh_demo_sinks_message(struct cmh_demo_sinks *s, size_t i, size_t j, size_t *ret_len)
{
	const char *m = NULL;

	pthread_mutex_lock(&s->mu);
	if (i < s->n && j < s->sinks[i].n) {
		m = s->sinks[i].msgs[j].data;
		*ret_len = s->sinks[i].msgs[j].len;
	}
	pthread_mutex_unlock(&s->mu);
	return m;
}
