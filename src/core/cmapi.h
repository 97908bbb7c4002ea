/*
 * Authenticated calls to the Cloud Manager API. The access token goes only
 * to CLOUDMANAGER_API_URL's origin: every target is resolved with
 * cmh_url_resolve() against the configured base and refused otherwise, no
 * redirect is followed, and a 401 invalidates the token and retries once.
 * Headers sent: Authorization: Bearer, x-api-key, x-gw-ims-org-id, Accept:
 * application/json (Content-Type: application/json when there is a body).
 */
#ifndef CMH_CMAPI_H
#define CMH_CMAPI_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "http_client.h"

struct cmh_config;
struct cmh_ims;

/*
 * method: NULL for GET. path_or_url: "/api/programs" or an absolute URL of
 * the configured origin (anything else: CMH_ERR_FORBIDDEN before any network
 * activity). Returns CMH_OK when a response arrived (any status: the caller
 * looks at resp->status), else the transport or token error. errmsg explains.
 */
CMH_MUST_CHECK enum cmh_err cmh_cmapi_call(const struct cmh_config *cfg, struct cmh_ims *ims,
	const char *method, const char *path_or_url, const char *body, size_t body_len,
	struct cmh_http_response *resp, struct cmh_buf *errmsg);

#endif
