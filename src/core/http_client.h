/*
 * The libcurl adapter: one blocking HTTP request with hard timeouts, a cap on
 * the response size, TLS verification on, no redirects followed (a 3xx is
 * returned to the caller as it is, so a token can never be carried to a
 * Location chosen by someone else), no proxy surprises beyond libcurl's
 * standard environment variables. The only file that includes <curl/curl.h>
 * apart from url.c.
 *
 * Thread-safety: cmh_http_global_init() once from main before threads start;
 * then any thread may call cmh_http_perform() concurrently.
 */
#ifndef CMH_HTTP_CLIENT_H
#define CMH_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct cmh_http_header {
	const char *name;
	const char *value;
};

struct cmh_http_request {
	const char *method;        /* "GET", "POST", ...; NULL means GET */
	const char *url;
	const struct cmh_http_header *headers;
	size_t n_headers;
	const char *body;          /* may be NULL */
	size_t body_len;
	long connect_timeout_ms;   /* 0: CMH_HTTP_CONNECT_TIMEOUT_MS */
	long timeout_ms;           /* total; 0: CMH_HTTP_TIMEOUT_MS */
	size_t max_response;       /* response body cap; 0: CMH_MAX_API_RESPONSE */
};

struct cmh_http_response {
	long status;               /* 0 when no response was received */
	struct cmh_buf body;
	char content_type[128];    /* "" when absent */
	char request_id[128];      /* x-request-id, "" when absent (for support cases) */
	int64_t retry_after_ms;    /* Retry-After (seconds or HTTP-date), -1 when absent */
};

CMH_MUST_CHECK enum cmh_err cmh_http_global_init(void);
void cmh_http_global_cleanup(void);

void cmh_http_response_init(struct cmh_http_response *resp);
void cmh_http_response_release(struct cmh_http_response *resp);

/*
 * Perform req. Returns CMH_OK whenever an HTTP response arrived, whatever its
 * status (the caller classifies it, e.g. with cmh_http_status_err()).
 * Otherwise: CMH_ERR_TIMEOUT, CMH_ERR_NETWORK (connect, DNS, TLS, reset),
 * CMH_ERR_TOO_LARGE (response over max_response), CMH_ERR_PARSE (bad URL).
 * errmsg gets libcurl's explanation, without the URL's query or userinfo.
 */
CMH_MUST_CHECK enum cmh_err cmh_http_perform(const struct cmh_http_request *req,
	struct cmh_http_response *resp, struct cmh_buf *errmsg);

/* 2xx -> CMH_OK; 401/403 -> AUTH; 404 -> NOT_FOUND; 408/429/5xx -> UPSTREAM;
 * other -> REJECTED. */
enum cmh_err cmh_http_status_err(long status);

/* Parse a Retry-After value: delta-seconds or an HTTP-date (relative to now_ms).
 * Returns -1 when unparseable. Pure. */
int64_t cmh_http_parse_retry_after(const char *value, int64_t now_ms);

/*
 * Build an application/x-www-form-urlencoded body from pairs, percent-encoding
 * every byte outside [A-Za-z0-9-._~] (space as %20, which every server decodes).
 * Values may be secrets: the caller should cmh_buf_wipe() the result.
 */
CMH_MUST_CHECK enum cmh_err cmh_http_form_encode(const struct cmh_http_header *pairs, size_t n,
	struct cmh_buf *out);

#endif
