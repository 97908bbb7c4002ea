/*
 * The libcurl adapter: one easy handle per request, configured so that a
 * request can neither run forever, nor grow without bound, nor wander off to
 * another host (no redirects, http/https only, TLS verified). It owns the
 * mapping from CURLcode to enum cmh_err and keeps URLs' paths and queries out
 * of error messages (channel webhook URLs carry their secret there).
 */
#include "http_client.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "bounds.h"
#include "parse.h"
#include "url.h"

struct transfer {
	struct cmh_http_response *resp;
	bool too_large;
};

enum cmh_err cmh_http_global_init(void)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	return rc == CURLE_OK ? CMH_OK : CMH_ERR_INTERNAL;
}

void cmh_http_global_cleanup(void)
{
	curl_global_cleanup();
}

static void clear_headers(struct cmh_http_response *resp)
{
	resp->status = 0;
	resp->content_type[0] = '\0';
	resp->request_id[0] = '\0';
	resp->retry_after_ms = -1;
}

void cmh_http_response_init(struct cmh_http_response *resp)
{
	cmh_buf_init(&resp->body, CMH_MAX_API_RESPONSE);
	clear_headers(resp);
}

void cmh_http_response_release(struct cmh_http_response *resp)
{
	if (!resp)
		return;
	cmh_buf_release(&resp->body);
	clear_headers(resp);
}

/* The one place where libcurl's codes become ours. */
static enum cmh_err map_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return CMH_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return CMH_ERR_TIMEOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return CMH_ERR_TOO_LARGE;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return CMH_ERR_PARSE;
	case CURLE_OUT_OF_MEMORY:
		return CMH_ERR_NOMEM;
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_NOT_BUILT_IN:
	case CURLE_FAILED_INIT:
		return CMH_ERR_INTERNAL;
	default:
		/* DNS, connect, TLS handshake and verification, send/recv errors,
		 * empty or truncated replies: all "the network let us down". */
		return CMH_ERR_NETWORK;
	}
}

enum cmh_err cmh_http_status_err(long status)
{
	if (status >= 200 && status <= 299)
		return CMH_OK;
	if (status == 401 || status == 403)
		return CMH_ERR_AUTH;
	if (status == 404)
		return CMH_ERR_NOT_FOUND;
	if (status == 408 || status == 429 || (status >= 500 && status <= 599))
		return CMH_ERR_UPSTREAM;
	return CMH_ERR_REJECTED;
}

static int64_t now_realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cmh_http_parse_retry_after(const char *value, int64_t now_ms)
{
	char tmp[64];
	size_t n;
	uint64_t secs;
	time_t t;

	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n && (value[n - 1] == ' ' || value[n - 1] == '\t' || value[n - 1] == '\r' ||
		     value[n - 1] == '\n'))
		n--;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, value, n);
	tmp[n] = '\0';
	if (isdigit((unsigned char)tmp[0])) {
		/* delta-seconds (RFC 9110 §10.2.3); absurd values are "unparseable". */
		if (cmh_parse_u64(tmp, &secs) != CMH_OK || secs > INT64_MAX / 1000 / 2)
			return -1;
		return (int64_t)secs * 1000;
	}
	t = curl_getdate(tmp, NULL);
	if (t == -1)
		return -1;
	if ((int64_t)t * 1000 <= now_ms)
		return 0;
	return (int64_t)t * 1000 - now_ms;
}

static void copy_trunc(char *dst, size_t dstsz, const char *src, size_t n)
{
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
	struct transfer *tr = ud;
	size_t n = size * nitems, nlen, vlen;
	const char *colon, *v;

	if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue): forget the previous one's. */
		clear_headers(tr->resp);
		return n;
	}
	colon = memchr(line, ':', n);
	if (!colon)
		return n;
	nlen = (size_t)(colon - line);
	v = colon + 1;
	vlen = n - nlen - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if (nlen == 12 && strncasecmp(line, "content-type", 12) == 0) {
		copy_trunc(tr->resp->content_type, sizeof(tr->resp->content_type), v, vlen);
	} else if (nlen == 12 && strncasecmp(line, "x-request-id", 12) == 0) {
		copy_trunc(tr->resp->request_id, sizeof(tr->resp->request_id), v, vlen);
	} else if (nlen == 11 && strncasecmp(line, "retry-after", 11) == 0) {
		char tmp[64];

		copy_trunc(tmp, sizeof(tmp), v, vlen);
		tr->resp->retry_after_ms = cmh_http_parse_retry_after(tmp, now_realtime_ms());
	}
	return n;
}

static size_t on_body(char *data, size_t size, size_t nitems, void *ud)
{
	struct transfer *tr = ud;
	size_t n = size * nitems;
	enum cmh_err err = cmh_buf_add(&tr->resp->body, data, n);

	if (err == CMH_ERR_TOO_LARGE)
		tr->too_large = true;
	/* Returning less than n aborts the transfer (CURLE_WRITE_ERROR). */
	return err ? 0 : n;
}

static void slist_wipe_free(struct curl_slist *l)
{
	/* Header lines may hold the bearer token. */
	for (struct curl_slist *p = l; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static bool header_ok(const struct cmh_http_header *h)
{
	if (!h->name || !*h->name || !h->value || strpbrk(h->name, ":\r\n \t"))
		return false;
	return strpbrk(h->value, "\r\n") == NULL;
}

static enum cmh_err build_headers(const struct cmh_http_request *req, struct curl_slist **ret)
{
	struct curl_slist *l = NULL, *nl;
	struct cmh_buf line;
	enum cmh_err err = CMH_OK;

	cmh_buf_init(&line, CMH_BUF_MAX_SMALL * 8);
	/* No "Expect: 100-continue" round trip for our small bodies. */
	l = curl_slist_append(l, "Expect:");
	if (!l)
		return CMH_ERR_NOMEM;
	for (size_t i = 0; i < req->n_headers; i++) {
		if (!header_ok(&req->headers[i])) {
			err = CMH_ERR_PARSE;
			break;
		}
		cmh_buf_reset(&line);
		/* "Name;" is curl's spelling of a header with an empty value. */
		err = *req->headers[i].value
			? cmh_buf_addf(&line, "%s: %s", req->headers[i].name, req->headers[i].value)
			: cmh_buf_addf(&line, "%s;", req->headers[i].name);
		if (err)
			break;
		nl = curl_slist_append(l, line.data);
		if (!nl) {
			err = CMH_ERR_NOMEM;
			break;
		}
		l = nl;
	}
	cmh_buf_wipe(&line);
	if (err) {
		slist_wipe_free(l);
		return err;
	}
	*ret = l;
	return CMH_OK;
}

static CURLcode set_method(CURL *c, const struct cmh_http_request *req)
{
	const char *m = req->method ? req->method : "GET";
	CURLcode rc = CURLE_OK;

	if (strcmp(m, "GET") == 0 && !req->body)
		return curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	if (strcmp(m, "HEAD") == 0)
		return curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	/* POSTFIELDS points at the caller's bytes (no copy to wipe later). */
	rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				      (curl_off_t)(req->body ? req->body_len : 0));
	if (!rc && strcmp(m, "POST") != 0)
		rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	return rc;
}

static CURLcode configure(CURL *c, const struct cmh_http_request *req, struct transfer *tr,
	struct curl_slist *headers, char *errbuf, size_t cap)
{
	long cto = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : CMH_HTTP_CONNECT_TIMEOUT_MS;
	long to = req->timeout_ms > 0 ? req->timeout_ms : CMH_HTTP_TIMEOUT_MS;
	CURLcode rc = CURLE_OK;

#define SET(opt, val) do { if (!rc) rc = curl_easy_setopt(c, opt, val); } while (0)
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, cto);
	SET(CURLOPT_TIMEOUT_MS, to);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, tr);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, tr);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_USERAGENT, "cmhook/" CMH_VERSION);
#undef SET
	if (!rc)
		rc = set_method(c, req);
	return rc;
}

/* "request to <origin> failed: <reason>"; never the path or query. */
static void describe_failure(const struct cmh_http_request *req, CURLcode rc, bool too_large,
	size_t cap, const char *errbuf, struct cmh_buf *errmsg)
{
	struct cmh_buf origin;
	const char *reason = *errbuf ? errbuf : curl_easy_strerror(rc);
	const char *slash;

	if (!errmsg)
		return;
	cmh_buf_init(&origin, CMH_BUF_MAX_SMALL);
	if (cmh_url_origin(req->url, &origin) != CMH_OK) {
		cmh_buf_reset(&origin);
		(void)!cmh_buf_adds(&origin, "<invalid URL>");
	}
	/* curl's text rarely quotes the URL, but if it does, the path or query
	 * might carry a secret: fall back to the generic text. */
	slash = req->url ? strstr(req->url, "://") : NULL;
	slash = slash ? strpbrk(slash + 3, "/?") : NULL;
	if (slash && slash[1] && strstr(reason, slash))
		reason = curl_easy_strerror(rc);
	if (too_large)
		cmh_errf(errmsg, "request to %s failed: response larger than %zu bytes",
			 origin.data, cap);
	else
		cmh_errf(errmsg, "request to %s failed: %s", origin.data, reason);
	cmh_buf_release(&origin);
}

enum cmh_err cmh_http_perform(const struct cmh_http_request *req, struct cmh_http_response *resp,
	struct cmh_buf *errmsg)
{
	size_t cap = req->max_response ? req->max_response : CMH_MAX_API_RESPONSE;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct transfer tr = { .resp = resp };
	struct curl_slist *headers = NULL;
	CURL *c = NULL;
	CURLcode rc;
	enum cmh_err err;

	cmh_buf_release(&resp->body);
	cmh_buf_init(&resp->body, cap);
	clear_headers(resp);
	if (!req->url) {
		cmh_errf(errmsg, "request without URL");
		return CMH_ERR_PARSE;
	}
	err = build_headers(req, &headers);
	if (err) {
		cmh_errf(errmsg, "invalid request header");
		return err;
	}
	c = curl_easy_init();
	if (!c) {
		err = CMH_ERR_NOMEM;
		goto out;
	}
	rc = configure(c, req, &tr, headers, errbuf, cap);
	if (!rc)
		rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	err = tr.too_large ? CMH_ERR_TOO_LARGE : map_curl(rc);
	if (err)
		describe_failure(req, rc, tr.too_large || rc == CURLE_FILESIZE_EXCEEDED, cap, errbuf,
				 errmsg);
out:
	curl_easy_cleanup(c);
	slist_wipe_free(headers);
	return err;
}

enum cmh_err cmh_http_form_encode(const struct cmh_http_header *pairs, size_t n,
	struct cmh_buf *out)
{
	enum cmh_err err = CMH_OK;

	for (size_t i = 0; i < n && !err; i++) {
		char *k = curl_easy_escape(NULL, pairs[i].name, 0);
		char *v = curl_easy_escape(NULL, pairs[i].value ? pairs[i].value : "", 0);

		if (!k || !v)
			err = CMH_ERR_NOMEM;
		else
			err = cmh_buf_addf(out, "%s%s=%s", i ? "&" : "", k, v);
		if (v)
			explicit_bzero(v, strlen(v));
		curl_free(k);
		curl_free(v);
	}
	return err;
}
