/*
 * Authenticated requests to the Cloud Manager API. This module owns the rule
 * that the bearer token only ever goes to CLOUDMANAGER_API_URL's origin: the
 * target is resolved and checked before a token is even obtained, and
 * redirects are never followed (http_client.c). It also owns the "401:
 * refresh the token once and retry" policy (ims-oauth.md §4).
 */
#include "cmapi.h"

#include <string.h>
#include <time.h>

#include "config.h"
#include "ims.h"
#include "bounds.h"
#include "log.h"
#include "url.h"

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One request with token; the Authorization line is wiped afterwards. */
static enum cmh_err send_once(const struct cmh_config *cfg, const char *token,
	const char *method, const char *url, const char *body, size_t body_len,
	struct cmh_http_response *resp, struct cmh_buf *errmsg)
{
	const char *api_key = cfg->api_key && *cfg->api_key ? cfg->api_key : cfg->client_id;
	struct cmh_http_header headers[5];
	size_t n = 0;
	struct cmh_buf auth, redacted;
	int64_t t0;
	enum cmh_err err;

	cmh_buf_init(&auth, CMH_TOKEN_MAX_LEN + 16);
	cmh_buf_init(&redacted, CMH_BUF_MAX_SMALL);
	err = cmh_buf_addf(&auth, "Bearer %s", token);
	if (err)
		goto out;
	headers[n++] = (struct cmh_http_header){ "Authorization", auth.data };
	headers[n++] = (struct cmh_http_header){ "x-api-key", api_key ? api_key : "" };
	/* An empty value would make curl drop the header; leave it out instead. */
	if (cfg->organization_id && *cfg->organization_id)
		headers[n++] = (struct cmh_http_header){ "x-gw-ims-org-id", cfg->organization_id };
	headers[n++] = (struct cmh_http_header){ "Accept", "application/json" };
	if (body)
		headers[n++] = (struct cmh_http_header){ "Content-Type", "application/json" };
	t0 = monotonic_ms();
	err = cmh_http_perform(&(struct cmh_http_request){
		.method = method, .url = url, .headers = headers, .n_headers = n,
		.body = body, .body_len = body_len, .timeout_ms = (long)cfg->http_timeout_ms,
		.max_response = CMH_MAX_API_RESPONSE,
	}, resp, errmsg);
	if (cmh_log_enabled(CMH_LOG_DEBUG)) {
		cmh_url_redact(url, &redacted);
		cmh_log(CMH_LOG_DEBUG, "cmapi", "request", "method=%s url=%s status=%ld request_id=%s "
			"duration_ms=%lld err=%s", method ? method : "GET", cmh_q(redacted.data),
			resp->status, cmh_q(resp->request_id), (long long)(monotonic_ms() - t0),
			cmh_q(cmh_strerror(err)));
	}
out:
	cmh_buf_wipe(&auth);
	cmh_buf_release(&redacted);
	return err;
}

enum cmh_err cmh_cmapi_call(const struct cmh_config *cfg, struct cmh_ims *ims, const char *method,
	const char *path_or_url, const char *body, size_t body_len,
	struct cmh_http_response *resp, struct cmh_buf *errmsg)
{
	struct cmh_buf url;
	char *token = NULL;
	enum cmh_err err;

	cmh_buf_init(&url, CMH_BUF_MAX_SMALL * 2);
	/* Decide where the request goes before any credential is involved. */
	err = cmh_url_resolve(cfg->cloudmanager_api_url, path_or_url, &url, errmsg);
	if (err) {
		/* PARSE means the configured base itself is unusable. */
		if (err == CMH_ERR_PARSE)
			err = CMH_ERR_CONFIG;
		else if (err != CMH_ERR_NOMEM)
			err = CMH_ERR_FORBIDDEN;
		goto out;
	}
	err = cmh_ims_get(ims, false, &token, errmsg);
	if (err)
		goto out;
	err = send_once(cfg, token, method, url.data, body, body_len, resp, errmsg);
	if (err || resp->status != 401)
		goto out;
	/* The token was refused: drop it (unless someone already has), get a
	 * new one and try exactly once more; a second 401 goes to the caller. */
	cmh_ims_invalidate(ims, token);
	cmh_token_string_free(token);
	token = NULL;
	cmh_log(CMH_LOG_INFO, "cmapi", "API refused the token, refreshing it", "request_id=%s",
		cmh_q(resp->request_id));
	err = cmh_ims_get(ims, false, &token, errmsg);
	if (err)
		goto out;
	err = send_once(cfg, token, method, url.data, body, body_len, resp, errmsg);
out:
	cmh_token_string_free(token);
	cmh_buf_release(&url);
	return err;
}
