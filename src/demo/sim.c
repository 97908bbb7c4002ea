/*
 * The simulated Adobe endpoints the daemon talks to during the demo, each on
 * its own 127.0.0.1 ephemeral port through our libmicrohttpd adapter: the
 * IMS token endpoint (reference/ims-oauth.md), the Cloud Manager API (answers
 * come from world.c) and the public-key host of I/O Events. They check what
 * the real services check of the daemon's requests, so a demo that works
 * shows the real token, header and key-fetch paths working.
 */
#include "demo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_server.h"

#define SIM_MAX_BODY     (16 * 1024)
#define SIM_CONNECTIONS  64
#define SIM_IDLE_S       10
#define SIM_THREADS      2
#define SIM_URL_LEN      64
#define TOKEN_LEN        64

#define JSON "application/json"

struct cmh_demo_sim {
	struct cmh_demo_world *world;
	const struct cmh_demo_key *key;
	struct cmh_http_server *ims, *api, *keys;
	char ims_url[SIM_URL_LEN], api_url[SIM_URL_LEN], keys_url[SIM_URL_LEN];
	char token[TOKEN_LEN];
	pthread_mutex_t mu;
	unsigned unauthorized;
};

static void respond_str(struct cmh_http_exchange *x, unsigned status, const char *type,
			const char *body)
{
	cmh_http_exchange_respond(x, status, type, body, strlen(body), 0);
}

/* True when the form body has exactly the field `pair` ("name=value"): our
 * demo values need no percent-encoding, so a byte comparison is exact. */
static bool form_has(const char *body, size_t len, const char *pair)
{
	size_t n = strlen(pair);
	const char *p = body, *end = body + len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t flen = (size_t)((amp ? amp : end) - p);

		if (flen == n && memcmp(p, pair, n) == 0)
			return true;
		p = amp ? amp + 1 : end;
	}
	return false;
}

static void ims_handle(struct cmh_http_exchange *x, void *ud)
{
	struct cmh_demo_sim *s = ud;
	size_t len;
	const char *body = cmh_http_exchange_body(x, &len);
	char answer[TOKEN_LEN + 96];

	if (cmh_http_exchange_too_large(x)) {
		respond_str(x, 413, JSON, "{\"error\":\"too_large\"}");
		return;
	}
	if (strcmp(cmh_http_exchange_method(x), "POST") != 0 ||
	    strcmp(cmh_http_exchange_path(x), "/ims/token/v3") != 0) {
		respond_str(x, 404, JSON, "{\"error\":\"not_found\"}");
		return;
	}
	if (!form_has(body, len, "grant_type=client_credentials") ||
	    !form_has(body, len, "client_id=" CMH_DEMO_CLIENT_ID)) {
		respond_str(x, 400, JSON, "{\"error\":\"invalid_client\","
			    "\"error_description\":\"unknown client\"}");
		return;
	}
	snprintf(answer, sizeof(answer),
		 "{\"access_token\":\"%s\",\"token_type\":\"bearer\",\"expires_in\":86399}", s->token);
	respond_str(x, 200, JSON, answer);
}

static bool api_authorized(struct cmh_demo_sim *s, struct cmh_http_exchange *x)
{
	const char *auth = cmh_http_exchange_header(x, "Authorization");
	const char *key = cmh_http_exchange_header(x, "x-api-key");
	const char *org = cmh_http_exchange_header(x, "x-gw-ims-org-id");

	return auth && strncmp(auth, "Bearer ", 7) == 0 && strcmp(auth + 7, s->token) == 0 &&
	       key && strcmp(key, CMH_DEMO_CLIENT_ID) == 0 && org && strcmp(org, CMH_DEMO_ORG) == 0;
}

static void api_handle(struct cmh_http_exchange *x, void *ud)
{
	struct cmh_demo_sim *s = ud;
	char *body = NULL;
	size_t len = 0;
	enum cmh_err err;

	if (!api_authorized(s, x)) {
		pthread_mutex_lock(&s->mu);
		s->unauthorized++;
		pthread_mutex_unlock(&s->mu);
		respond_str(x, 401, JSON, "{\"error_code\":\"401013\",\"message\":\"Oauth token is not valid\"}");
		return;
	}
	if (strcmp(cmh_http_exchange_method(x), "GET") != 0) {
		respond_str(x, 405, JSON, "{\"status\":405,\"title\":\"read-only demo\"}");
		return;
	}
	err = cmh_demo_world_get(s->world, cmh_http_exchange_path(x), &body, &len);
	if (err == CMH_ERR_NOT_FOUND)
		respond_str(x, 404, "application/problem+json", "{\"status\":404,\"type\":"
			    "\"http://ns.adobe.com/adobecloud/error\",\"title\":\"Not Found\"}");
	else if (err)
		respond_str(x, 500, JSON, "{\"status\":500}");
	else
		cmh_http_exchange_respond(x, 200, "application/hal+json", body, len, 0);
	free(body);
}

static void keys_handle(struct cmh_http_exchange *x, void *ud)
{
	struct cmh_demo_sim *s = ud;
	const char *path = cmh_http_exchange_path(x);

	if (strcmp(cmh_http_exchange_method(x), "GET") == 0 &&
	    (strcmp(path, cmh_demo_key_path(s->key, 0)) == 0 ||
	     strcmp(path, cmh_demo_key_path(s->key, 1)) == 0))
		respond_str(x, 200, "application/x-pem-file", cmh_demo_key_pem(s->key));
	else
		respond_str(x, 404, "text/plain", "Not Found");
}

static enum cmh_err serve(cmh_http_handler_fn fn, struct cmh_demo_sim *s,
	struct cmh_http_server **ret, char url[SIM_URL_LEN], struct cmh_buf *errmsg)
{
	struct cmh_http_server_config cfg = {
		.address = "127.0.0.1",
		.max_body = SIM_MAX_BODY,
		.max_connections = SIM_CONNECTIONS,
		.idle_timeout_s = SIM_IDLE_S,
		.threads = SIM_THREADS,
		.handler = fn,
		.handler_ud = s,
	};
	enum cmh_err err = cmh_http_server_start(&cfg, ret, errmsg);

	if (!err)
		snprintf(url, SIM_URL_LEN, "http://127.0.0.1:%u", cmh_http_server_port(*ret));
	return err;
}

enum cmh_err cmh_demo_sim_start(struct cmh_demo_world *world, const struct cmh_demo_key *key,
	struct cmh_demo_sim **ret, struct cmh_buf *errmsg)
{
	struct cmh_demo_sim *s = calloc(1, sizeof(*s));
	char uuid[37];
	enum cmh_err err;

	if (!s)
		return CMH_ERR_NOMEM;
	if (pthread_mutex_init(&s->mu, NULL)) {
		free(s);
		return CMH_ERR_INTERNAL;
	}
	s->world = world;
	s->key = key;
	cmh_demo_uuid(uuid);
	snprintf(s->token, sizeof(s->token), "demo-token-%s", uuid);
	err = serve(ims_handle, s, &s->ims, s->ims_url, errmsg);
	if (!err)
		err = serve(api_handle, s, &s->api, s->api_url, errmsg);
	if (!err)
		err = serve(keys_handle, s, &s->keys, s->keys_url, errmsg);
	if (err) {
		cmh_demo_sim_stop(s);
		return err;
	}
	*ret = s;
	return CMH_OK;
}

void cmh_demo_sim_stop(struct cmh_demo_sim *s)
{
	if (!s)
		return;
	/* Every handler answers at once, so nothing is pending here. */
	if (s->ims)
		cmh_http_server_stop(s->ims);
	if (s->api)
		cmh_http_server_stop(s->api);
	if (s->keys)
		cmh_http_server_stop(s->keys);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

const char *cmh_demo_sim_ims_url(const struct cmh_demo_sim *s) { return s->ims_url; }
const char *cmh_demo_sim_api_url(const struct cmh_demo_sim *s) { return s->api_url; }
const char *cmh_demo_sim_keys_url(const struct cmh_demo_sim *s) { return s->keys_url; }

unsigned cmh_demo_sim_unauthorized(struct cmh_demo_sim *s)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = s->unauthorized;
	pthread_mutex_unlock(&s->mu);
	return n;
}
