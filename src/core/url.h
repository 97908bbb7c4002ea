/*
 * URL handling over libcurl's URL API (CURLU): parsing, origin comparison and
 * resolving references. These decide where credentials may go, so they are
 * strict: a URL with userinfo, a fragment, or a scheme other than http/https
 * is rejected.
 */
#ifndef CMH_URL_H
#define CMH_URL_H

#include <stdbool.h>

#include "buf.h"
#include "err.h"

/* The origin of url as "scheme://host:port" (port always explicit, host
 * lowercased). CMH_ERR_PARSE when it is not an absolute http(s) URL or has
 * userinfo. */
CMH_MUST_CHECK enum cmh_err cmh_url_origin(const char *url, struct cmh_buf *out);

/* The host of url, lowercased (IPv6 in brackets), under the same rules as
 * cmh_url_origin(). */
CMH_MUST_CHECK enum cmh_err cmh_url_host(const char *url, struct cmh_buf *out);

/* True when both parse and have the same origin. */
bool cmh_url_same_origin(const char *a, const char *b);

/*
 * Resolve ref against base_origin (a base URL such as CLOUDMANAGER_API_URL):
 *  - "/api/program/1" (path-absolute): base_origin's scheme/host/port + path;
 *  - an absolute URL: accepted only if it has the same origin as base_origin;
 *  - anything else (relative paths, "//host/..." network-path references,
 *    userinfo, fragments): CMH_ERR_FORBIDDEN or CMH_ERR_PARSE.
 * On success out holds the absolute URL. Never resolves against a URL taken
 * from a payload, which is why the base is an explicit argument.
 */
CMH_MUST_CHECK enum cmh_err cmh_url_resolve(const char *base_origin, const char *ref,
	struct cmh_buf *out, struct cmh_buf *errmsg);

/* The URL with query and userinfo removed, for logs and error messages. */
void cmh_url_redact(const char *url, struct cmh_buf *out);

#endif
