/*
 * The test HTTP client of client.h on libcurl's easy interface. Answers are
 * collected whole in memory (tests send and receive small bodies); header
 * lines are split into name/value pairs, and only the last answer's headers
 * are kept (a "100 Continue" interim answer is dropped when the final status
 * line arrives).
 */
#include "client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "tmp.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		abort();
}

struct upload {
	const char *p;
	size_t left;
};

/* The read callback used for chunked bodies: at most 16 KiB per call, so several chunks go out. */
static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t len = size * n;

	if (len > 16384)
		len = 16384;
	if (len > u->left)
		len = u->left;
	memcpy(dst, u->p, len);
	u->p += len;
	u->left -= len;
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct http_reply *r = ud;
	size_t len = size * n;
	char *nb = realloc(r->body, r->body_len + len + 1);

	if (!nb)
		abort();
	memcpy(nb + r->body_len, p, len);
	r->body = nb;
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return len;
}

static void headers_clear(struct http_reply *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	r->headers = NULL;
	r->nheaders = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct http_reply *r = ud;
	size_t len = size * n, vlen;
	const char *colon = memchr(p, ':', len);
	const char *v;

	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		headers_clear(r); /* a new status line: forget an interim answer's headers */
		return len;
	}
	if (!colon)
		return len;
	v = colon + 1;
	while (v < p + len && (*v == ' ' || *v == '\t'))
		v++;
	vlen = (size_t)(p + len - v);
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	r->headers = realloc(r->headers, (r->nheaders + 1) * sizeof(*r->headers));
	if (!r->headers)
		abort();
	r->headers[r->nheaders].name = strndup(p, (size_t)(colon - p));
	r->headers[r->nheaders].value = strndup(v, vlen);
	if (!r->headers[r->nheaders].name || !r->headers[r->nheaders].value)
		abort();
	r->nheaders++;
	return len;
}

static struct curl_slist *build_headers(const struct http_req *req)
{
	struct curl_slist *h = NULL;

	for (size_t i = 0; req->headers && req->headers[i]; i++)
		h = curl_slist_append(h, req->headers[i]);
	if (req->chunked)
		h = curl_slist_append(h, "Transfer-Encoding: chunked");
	/* Without this, libcurl sends "Expect: 100-continue" for large bodies and may wait. */
	h = curl_slist_append(h, "Expect:");
	if (!h)
		abort();
	return h;
}

static void set_body(CURL *c, const struct http_req *req, struct upload *u)
{
	if (!req->body)
		return;
	if (req->chunked) {
		u->p = req->body;
		u->left = req->body_len;
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, u);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
}

bool http_do(const struct http_req *req, struct http_reply *ret)
{
	const char *method = req->method ? req->method : (req->body ? "POST" : "GET");
	struct curl_slist *h;
	struct upload u = { 0 };
	CURLcode rc;
	CURL *c;

	(void)pthread_once(&global_once, global_init);
	memset(ret, 0, sizeof(*ret));
	ret->body = tmp_xstrdup("");
	c = curl_easy_init();
	if (!c)
		abort();
	h = build_headers(req);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	set_body(c, req, &u);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, ret);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, ret);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : HTTP_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	rc = curl_easy_perform(c);
	ret->curl_code = (int)rc;
	if (rc != CURLE_OK)
		(void)snprintf(ret->error, sizeof(ret->error), "%s", curl_easy_strerror(rc));
	/* A server may answer (413) and close before taking the whole body: the status still counts. */
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
	ret->ok = ret->status >= 100;
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return ret->ok;
}

void http_reply_release(struct http_reply *r)
{
	if (!r)
		return;
	headers_clear(r);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

const char *http_reply_header(const struct http_reply *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

bool http_get(const char *url, const char *const *headers, struct http_reply *ret)
{
	struct http_req req = { .method = "GET", .url = url, .headers = headers };

	return http_do(&req, ret);
}

bool http_post(const char *url, const char *const *headers, const char *body, size_t len,
	       struct http_reply *ret)
{
	struct http_req req = {
		.method = "POST", .url = url, .headers = headers, .body = body, .body_len = len,
	};

	return http_do(&req, ret);
}
