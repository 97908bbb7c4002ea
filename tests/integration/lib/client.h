/*
 * A small HTTP client for the integration tests (libcurl easy interface):
 * one request, the complete answer (status, headers, body) in a struct. The
 * body can be sent with Content-Length or, on request, chunked through a read
 * callback. Redirects are never followed, nothing is inherited from the
 * environment (no proxy), and every request has a timeout.
 *
 * Thread-safety: http_do() may be called from several threads at once; a
 * struct http_reply belongs to one thread.
 */
#ifndef CMH_TEST_CLIENT_H
#define CMH_TEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "fake_server.h"

/* Default timeout of one request (ms): generous for a loaded machine. */
#define HTTP_TIMEOUT_MS 20000L

struct http_req {
	const char *method;             /* NULL: GET, or POST when body is set */
	const char *url;
	const char *const *headers;     /* "Name: value" strings, NULL-terminated; may be NULL */
	const char *body;               /* NULL: no body */
	size_t body_len;                /* bytes of body (not strlen: bodies may be binary) */
	bool chunked;                   /* send the body with Transfer-Encoding: chunked */
	long timeout_ms;                /* 0: HTTP_TIMEOUT_MS */
};

struct http_reply {
	bool ok;                        /* an HTTP answer was received (status is valid) */
	int curl_code;                  /* CURLcode of the transfer (non-zero e.g. on a reset) */
	char error[256];                /* libcurl's message when curl_code != 0 */
	long status;
	struct fake_header *headers;    /* the final answer's headers, in order */
	size_t nheaders;
	char *body;                     /* NUL-terminated */
	size_t body_len;
};

/*
 * Perform req into *ret (overwritten; release it afterwards). Returns
 * ret->ok: false when no HTTP status line was received at all.
 */
bool http_do(const struct http_req *req, struct http_reply *ret);
void http_reply_release(struct http_reply *r);

/* The first header value called name (case-insensitive), or NULL. */
const char *http_reply_header(const struct http_reply *r, const char *name);

/* Shorthands. */
bool http_get(const char *url, const char *const *headers, struct http_reply *ret);
bool http_post(const char *url, const char *const *headers, const char *body, size_t len,
	       struct http_reply *ret);

#endif
