/*
 * libFuzzer target for cmh_ims_parse_response(): the first input byte picks
 * the HTTP status, the rest is IMS's answer body. Checks that only a 2xx can
 * yield a token, that a token is usable (non-empty, bearer, positive
 * lifetime, expiry after the request start), that error statuses map to the
 * documented error classes and that every failure says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "ims.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 200, 200, 200, 200, 400, 401, 403, 404, 429, 500, 502, 503,
				 301, 204, 0, 999 };

#define START_MS 1750000000000LL

static void check_token(const struct cmh_token *t)
{
	if (!t->access_token || !*t->access_token || strcasecmp(t->token_type, "bearer") != 0 ||
	    t->expires_in_s <= 0 || t->obtained_at_ms != START_MS ||
	    t->expires_at_ms <= t->obtained_at_ms)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmh_token t;
	struct cmh_buf err;
	enum cmh_err rc;
	long status;

	if (!size)
		return 0;
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	memset(&t, 0, sizeof(t));
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	rc = cmh_ims_parse_response(status, (const char *)data + 1, size - 1, START_MS, &t, &err);
	if (rc == CMH_OK) {
		if (status < 200 || status > 299)
			abort(); /* ims.c takes any 2xx with a valid token as success */
		check_token(&t);
		cmh_token_release(&t);
	} else {
		if (!err.len || t.access_token)
			abort();
		if ((status == 401 || status == 403) && rc != CMH_ERR_AUTH)
			abort();
		if ((status == 429 || status >= 500) && status <= 599 && rc != CMH_ERR_UPSTREAM)
			abort();
	}
	cmh_buf_release(&err);
	return 0;
}
