/*
 * URL policy over libcurl's URL API. This module decides where credentials
 * may be sent, so every parse goes through one strict function: absolute
 * http(s) only, no userinfo, no fragment, no control bytes, spaces or
 * backslashes. Resolution never guesses: a reference is either path-absolute
 * (resolved against an explicit base) or an absolute URL of the same origin.
 */
#include "url.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* Bytes that have no business in a URL we send credentials to. curl would
 * reject some of them itself; we refuse all of them before curl sees them. */
static bool has_bad_bytes(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '\\')
			return true;
	}
	return false;
}

static bool part_present(CURLU *h, CURLUPart part)
{
	char *v = NULL;
	CURLUcode rc = curl_url_get(h, part, &v, 0);

	curl_free(v);
	return rc == CURLUE_OK;
}

/* Is there an '@' between "scheme://" and the first '/', '?' or end? */
static bool authority_has_at(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	return memchr(p, '@', strcspn(p, "/?")) != NULL;
}

/*
 * Parse url into a new handle, enforcing the policy above. Returns
 * CMH_ERR_PARSE with a short reason (never the URL itself: it may hold a
 * secret) in *ret_why.
 */
static enum cmh_err strict_parse(const char *url, CURLU **ret, const char **ret_why)
{
	CURLU *h;
	char *scheme = NULL;
	enum cmh_err err = CMH_ERR_PARSE;

	*ret_why = "not a valid URL";
	if (!url || !*url || has_bad_bytes(url)) {
		*ret_why = "empty URL or forbidden characters";
		return CMH_ERR_PARSE;
	}
	h = curl_url();
	if (!h)
		return CMH_ERR_NOMEM;
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		*ret_why = "scheme is not http or https";
		goto out;
	}
	if (part_present(h, CURLUPART_USER) || part_present(h, CURLUPART_PASSWORD) ||
	    part_present(h, CURLUPART_OPTIONS) || authority_has_at(url)) {
		/* An '@' before the path is refused even where a parser would not
		 * see userinfo: it is the classic way to make a URL look like it
		 * goes somewhere else. In the path it is legal (Teams connector
		 * URLs carry <group>@<tenant>). */
		*ret_why = "URL has userinfo or '@' before the path";
		goto out;
	}
	if (part_present(h, CURLUPART_FRAGMENT) || strchr(url, '#')) {
		*ret_why = "URL has a fragment";
		goto out;
	}
	if (!part_present(h, CURLUPART_HOST)) {
		*ret_why = "URL has no host";
		goto out;
	}
	err = CMH_OK;
out:
	curl_free(scheme);
	if (err)
		curl_url_cleanup(h);
	else
		*ret = h;
	return err;
}

/* "scheme://host:port", lowercased, default port explicit. */
static enum cmh_err origin_of(CURLU *h, struct cmh_buf *out)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	enum cmh_err err = CMH_ERR_PARSE;

	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (strcmp(port, "0") == 0)
		goto out;
	for (char *p = scheme; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	for (char *p = host; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	cmh_buf_reset(out);
	err = cmh_buf_addf(out, "%s://%s:%s", scheme, host, port);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return err;
}

enum cmh_err cmh_url_origin(const char *url, struct cmh_buf *out)
{
	CURLU *h = NULL;
	const char *why;
	enum cmh_err err = strict_parse(url, &h, &why);

	if (err)
		return err;
	err = origin_of(h, out);
	curl_url_cleanup(h);
	return err;
}

bool cmh_url_same_origin(const char *a, const char *b)
{
	struct cmh_buf oa, ob;
	bool same;

	cmh_buf_init(&oa, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&ob, CMH_BUF_MAX_SMALL);
	same = cmh_url_origin(a, &oa) == CMH_OK && cmh_url_origin(b, &ob) == CMH_OK &&
	       strcmp(oa.data, ob.data) == 0;
	cmh_buf_release(&oa);
	cmh_buf_release(&ob);
	return same;
}

/* Let curl resolve the path-absolute ref against the base handle. */
static enum cmh_err resolve_path(CURLU *base, const char *ref, struct cmh_buf *out)
{
	char *full = NULL;
	enum cmh_err err = CMH_ERR_FORBIDDEN;

	if (curl_url_set(base, CURLUPART_URL, ref, 0) != CURLUE_OK)
		return CMH_ERR_FORBIDDEN;
	if (curl_url_get(base, CURLUPART_URL, &full, 0) != CURLUE_OK)
		goto out;
	cmh_buf_reset(out);
	err = cmh_buf_adds(out, full);
out:
	curl_free(full);
	return err;
}

enum cmh_err cmh_url_resolve(const char *base_origin, const char *ref, struct cmh_buf *out,
	struct cmh_buf *errmsg)
{
	CURLU *base = NULL, *abs = NULL;
	struct cmh_buf bo, ro;
	const char *why;
	enum cmh_err err;

	cmh_buf_init(&bo, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&ro, CMH_BUF_MAX_SMALL);
	err = strict_parse(base_origin, &base, &why);
	if (!err)
		err = origin_of(base, &bo);
	if (err) {
		cmh_errf(errmsg, "base URL is invalid: %s", why);
		goto out;
	}
	err = CMH_ERR_FORBIDDEN;
	if (!ref || !*ref || has_bad_bytes(ref) || strchr(ref, '#') || strchr(ref, '@')) {
		cmh_errf(errmsg, "refused URL reference: empty, fragment, userinfo or forbidden characters");
		goto out;
	}
	if (ref[0] == '/' && ref[1] != '/') {
		err = resolve_path(base, ref, out);
		if (err) {
			cmh_errf(errmsg, "refused URL reference: cannot resolve path");
			goto out;
		}
	} else if (ref[0] == '/' || strict_parse(ref, &abs, &why) != CMH_OK) {
		cmh_errf(errmsg, "refused URL reference: not a path starting with '/' "
			 "nor an absolute URL of %s", bo.data);
		goto out;
	} else {
		cmh_buf_reset(out);
		err = cmh_buf_adds(out, ref);
		if (err)
			goto out;
	}
	/* Whatever path we took, the result must still be on the base origin. */
	curl_url_cleanup(abs);
	abs = NULL;
	err = CMH_ERR_FORBIDDEN;
	if (strict_parse(out->data, &abs, &why) != CMH_OK || origin_of(abs, &ro) != CMH_OK ||
	    strcmp(ro.data, bo.data) != 0) {
		cmh_errf(errmsg, "refused URL: its origin is not %s", bo.data);
		cmh_buf_reset(out);
		goto out;
	}
	err = CMH_OK;
out:
	curl_url_cleanup(base);
	curl_url_cleanup(abs);
	cmh_buf_release(&bo);
	cmh_buf_release(&ro);
	return err;
}

void cmh_url_redact(const char *url, struct cmh_buf *out)
{
	CURLU *h = curl_url();
	char *s = NULL;

	cmh_buf_reset(out);
	if (h && url && curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_OPTIONS, NULL, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_URL, &s, 0) == CURLUE_OK) {
		if (cmh_buf_adds(out, s) != CMH_OK)
			cmh_buf_reset(out);
	}
	if (!out->len)
		(void)!cmh_buf_adds(out, "<invalid URL>");
	curl_free(s);
	curl_url_cleanup(h);
}

enum cmh_err cmh_url_host(const char *url, struct cmh_buf *out)
{
	const char *why;
	CURLU *h = NULL;
	char *host = NULL;
	enum cmh_err err = strict_parse(url, &h, &why);

	if (err)
		return err;
	err = CMH_ERR_PARSE;
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		for (char *p = host; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		cmh_buf_reset(out);
		err = cmh_buf_adds(out, host);
	}
	curl_free(host);
	curl_url_cleanup(h);
	return err;
}
