/*
 * The IMS token client: builds the client_credentials form, parses IMS's
 * answer (pure, cmh_ims_parse_response), retries transient failures with
 * bounded backoff, and caches the token in memory and in DATA_DIR/token.json
 * so that a token is minted only when none is fresh (Adobe throttles
 * integrations that mint too many). Concurrent callers share one request
 * (single flight); the network call is made without the lock held.
 */
#include "ims.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "hash.h"
#include "http_client.h"
#include "bounds.h"
#include "fsutil.h"
#include "log.h"
#include "parse.h"
#include "url.h"

#define IMS_TOKEN_PATH "/ims/token/v3"
#define TOKEN_FILE "token.json"
#define TOKEN_FILE_VERSION 1
#define TOKEN_FILE_MAX (CMH_TOKEN_MAX_LEN + 4096)
/* ims-oauth.md §4: refresh when within max(600 s, 10 % of the lifetime). */
#define MARGIN_MIN_S 600
/* An expires_in beyond this is nonsense, and would overflow our arithmetic. */
#define EXPIRES_IN_MAX_S (10LL * 366 * 24 * 3600)
#define ERRTEXT_MAX 200

struct cmh_ims {
	const struct cmh_config *cfg;
	cmh_clock_fn clock;
	void *clock_ud;
	char key[2 * CMH_SHA256_LEN + 1];   /* cache key: hash of URL, id, scopes, secret */
	char *token_path;                   /* NULL: no persistence */
	long backoff_initial_ms;
	long backoff_max_ms;

	pthread_mutex_t mu;                 /* guards everything below */
	pthread_cond_t cv;
	struct cmh_token tok;               /* access_token NULL when none */
	char bad_fp[CMH_FINGERPRINT_LEN + 1]; /* last invalidated token, "" for none */
	bool busy;                          /* a request to IMS is in flight */
	uint64_t round;                     /* completed requests (for waiters) */
	enum cmh_err round_err;
	char round_msg[CMH_BUF_MAX_ERRMSG];
	uint64_t requests;                  /* atomic */
};

int64_t cmh_clock_realtime_ms(void *ud)
{
	struct timespec ts;

	(void)ud;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cmh_token_release(struct cmh_token *t)
{
	if (!t)
		return;
	cmh_token_string_free(t->access_token);
	memset(t, 0, sizeof(*t));
}

void cmh_token_string_free(char *token)
{
	if (!token)
		return;
	explicit_bzero(token, strlen(token));
	free(token);
}

static int64_t margin_ms(int64_t expires_in_s)
{
	int64_t tenth = (expires_in_s + 9) / 10;

	return (tenth > MARGIN_MIN_S ? tenth : MARGIN_MIN_S) * 1000;
}

bool cmh_token_is_fresh(const struct cmh_token *t, int64_t now_ms)
{
	if (!t || !t->access_token || t->expires_in_s <= 0)
		return false;
	return now_ms < t->expires_at_ms - margin_ms(t->expires_in_s);
}

/* ---- parsing ---------------------------------------------------------- */

/* Append untrusted text: quotes, backslashes, control and non-ASCII bytes
 * escaped, cut at ERRTEXT_MAX bytes. */
static void add_escaped(struct cmh_buf *b, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n && i < ERRTEXT_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			(void)!cmh_buf_addf(b, "\\%c", c);
		else if (c < ' ' || c >= 0x7f)
			(void)!cmh_buf_addf(b, "\\x%02x", c);
		else
			(void)!cmh_buf_addch(b, (char)c);
	}
	if (n > ERRTEXT_MAX)
		(void)!cmh_buf_adds(b, "...");
}

static const char *json_str(const json_t *obj, const char *key)
{
	const json_t *v = obj ? json_object_get(obj, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static enum cmh_err parse_error_answer(long status, const char *body, size_t len,
	struct cmh_buf *errmsg)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *code = json_str(root, "error");
	const char *desc = json_str(root, "error_description");
	enum cmh_err err = cmh_http_status_err(status);
	struct cmh_buf m;

	/* Adobe answers a bad client id with 400 invalid_client (ims-oauth.md §3). */
	if (err == CMH_OK || (status == 400 && code && strcmp(code, "invalid_client") == 0))
		err = err == CMH_OK ? CMH_ERR_UPSTREAM : CMH_ERR_AUTH;
	cmh_buf_init(&m, CMH_BUF_MAX_ERRMSG);
	(void)!cmh_buf_addf(&m, "IMS answered %ld", status);
	if (code && *code) {
		(void)!cmh_buf_addch(&m, ' ');
		add_escaped(&m, code);
	}
	if (desc && *desc) {
		(void)!cmh_buf_adds(&m, ": ");
		add_escaped(&m, desc);
	}
	cmh_errf(errmsg, "%s", m.data);
	cmh_buf_release(&m);
	json_decref(root);
	return err;
}

static bool token_chars_ok(const char *s)
{
	/* It goes into an HTTP header: printable ASCII, no spaces. */
	for (; *s; s++) {
		if (*s <= ' ' || *s >= 0x7f)
			return false;
	}
	return true;
}

static enum cmh_err parse_expires_in(const json_t *v, int64_t *ret)
{
	uint64_t u;

	if (json_is_integer(v)) {
		if (json_integer_value(v) <= 0 || json_integer_value(v) > EXPIRES_IN_MAX_S)
			return CMH_ERR_PARSE;
		*ret = (int64_t)json_integer_value(v);
		return CMH_OK;
	}
	if (json_is_string(v) && cmh_parse_u64(json_string_value(v), &u) == CMH_OK &&
	    u > 0 && u <= EXPIRES_IN_MAX_S) {
		*ret = (int64_t)u;
		return CMH_OK;
	}
	return CMH_ERR_PARSE;
}

static enum cmh_err parse_token_object(const json_t *root, struct cmh_token *t,
	struct cmh_buf *errmsg)
{
	const json_t *at = json_object_get(root, "access_token");
	const json_t *tt = json_object_get(root, "token_type");
	const json_t *ei = json_object_get(root, "expires_in");

	if (!at) {
		cmh_errf(errmsg, "IMS answer is missing \"access_token\"");
		return CMH_ERR_PARSE;
	}
	if (!json_is_string(at) || json_string_length(at) == 0 ||
	    json_string_length(at) > CMH_TOKEN_MAX_LEN || !token_chars_ok(json_string_value(at))) {
		cmh_errf(errmsg, "IMS answer has an empty or invalid \"access_token\"");
		return CMH_ERR_PARSE;
	}
	if (!json_is_string(tt) || strcasecmp(json_string_value(tt), "bearer") != 0) {
		cmh_errf(errmsg, "IMS answer has no \"token_type\" \"bearer\"");
		return CMH_ERR_PARSE;
	}
	if (!ei) {
		cmh_errf(errmsg, "IMS answer is missing \"expires_in\"");
		return CMH_ERR_PARSE;
	}
	if (parse_expires_in(ei, &t->expires_in_s) != CMH_OK) {
		cmh_errf(errmsg, "IMS answer has an invalid \"expires_in\" (want seconds > 0)");
		return CMH_ERR_PARSE;
	}
	t->access_token = strdup(json_string_value(at));
	if (!t->access_token)
		return CMH_ERR_NOMEM;
	snprintf(t->token_type, sizeof(t->token_type), "%s", "bearer");
	return CMH_OK;
}

enum cmh_err cmh_ims_parse_response(long status, const char *body, size_t len,
	int64_t request_start_ms, struct cmh_token *ret, struct cmh_buf *errmsg)
{
	struct cmh_token t = { 0 };
	json_t *root;
	enum cmh_err err;

	if (status < 200 || status > 299)
		return parse_error_answer(status, body ? body : "", body ? len : 0, errmsg);
	root = json_loadb(body ? body : "", body ? len : 0,
			  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (!root) {
		cmh_errf(errmsg, "IMS answer is not JSON");
		return CMH_ERR_PARSE;
	}
	if (!json_is_object(root)) {
		cmh_errf(errmsg, "IMS answer is not a JSON object");
		err = CMH_ERR_PARSE;
		goto out;
	}
	err = parse_token_object(root, &t, errmsg);
	if (err)
		goto out;
	t.obtained_at_ms = request_start_ms;
	t.expires_at_ms = request_start_ms + t.expires_in_s * 1000;
	*ret = t;
out:
	json_decref(root);
	return err;
}

/* ---- the token file ----------------------------------------------------- */

/* A NUL-terminated field, so that ("ab","c") and ("a","bc") differ. */
static enum cmh_err add_field(struct cmh_buf *b, const char *s)
{
	s = s ? s : "";
	return cmh_buf_add(b, s, strlen(s) + 1);
}

static enum cmh_err compute_key(const struct cmh_config *cfg, char out[2 * CMH_SHA256_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t secret_hash[CMH_SHA256_LEN], d[CMH_SHA256_LEN];
	struct cmh_buf b;
	enum cmh_err err;

	/* The secret's hash is part of the key so that a rotated secret is never
	 * answered with a token minted under the old one. */
	cmh_sha256(cfg->client_secret.data ? cfg->client_secret.data : "", cfg->client_secret.len,
		   secret_hash);
	cmh_buf_init(&b, CMH_BUF_MAX_SMALL * 4);
	err = cmh_buf_addf(&b, "v%d", TOKEN_FILE_VERSION);
	if (!err)
		err = add_field(&b, cfg->ims_url);
	if (!err)
		err = add_field(&b, cfg->client_id);
	if (!err)
		err = add_field(&b, cfg->scopes);
	if (!err)
		err = cmh_buf_add(&b, secret_hash, sizeof(secret_hash));
	if (!err) {
		cmh_sha256(b.data, b.len, d);
		for (int i = 0; i < CMH_SHA256_LEN; i++) {
			out[2 * i] = hex[d[i] >> 4];
			out[2 * i + 1] = hex[d[i] & 15];
		}
		out[2 * CMH_SHA256_LEN] = '\0';
	}
	explicit_bzero(secret_hash, sizeof(secret_hash));
	cmh_buf_wipe(&b);
	return err;
}

static enum cmh_err read_small_file(const char *path, struct cmh_buf *out)
{
	char chunk[4096];
	struct stat st;
	ssize_t n;
	enum cmh_err err = CMH_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT ? CMH_ERR_NOT_FOUND : CMH_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		err = CMH_ERR_IO;
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = CMH_ERR_IO;
			break;
		}
		err = cmh_buf_add(out, chunk, (size_t)n);
		if (err)
			break;
	}
out:
	explicit_bzero(chunk, sizeof(chunk));
	close(fd);
	return err;
}

/* Load the token file if it belongs to our key; freshness is the caller's. */
static enum cmh_err load_token_file(const struct cmh_ims *ims, struct cmh_token *ret)
{
	struct cmh_buf text;
	struct cmh_token t = { 0 };
	json_t *root = NULL;
	const char *key;
	enum cmh_err err;

	cmh_buf_init(&text, TOKEN_FILE_MAX);
	err = read_small_file(ims->token_path, &text);
	if (err) {
		if (err != CMH_ERR_NOT_FOUND)
			cmh_log(CMH_LOG_DEBUG, "ims", "token file unreadable, ignored", "err=%s",
				cmh_q(cmh_strerror(err)));
		goto out;
	}
	err = CMH_ERR_PARSE;
	root = json_loadb(text.data, text.len, 0, NULL);
	key = json_str(root, "key");
	if (!key || strcmp(key, ims->key) != 0) {
		cmh_log(CMH_LOG_DEBUG, "ims", "token file ignored", "reason=%s",
			root ? "other-credentials" : "not-json");
		goto out;
	}
	if (parse_token_object(root, &t, NULL) != CMH_OK ||
	    !json_is_integer(json_object_get(root, "obtained_at_ms"))) {
		cmh_log(CMH_LOG_DEBUG, "ims", "token file ignored", "reason=%s", "bad-token");
		goto out;
	}
	t.obtained_at_ms = json_integer_value(json_object_get(root, "obtained_at_ms"));
	/* A time far from now is not ours to trust (and would overflow below). */
	if (t.obtained_at_ms < 0 || t.obtained_at_ms > INT64_MAX / 2) {
		cmh_log(CMH_LOG_DEBUG, "ims", "token file ignored", "reason=%s", "bad-time");
		goto out;
	}
	t.expires_at_ms = t.obtained_at_ms + t.expires_in_s * 1000;
	*ret = t;
	t.access_token = NULL;
	err = CMH_OK;
out:
	cmh_token_release(&t);
	json_decref(root);
	cmh_buf_wipe(&text);
	return err;
}

static enum cmh_err write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return CMH_ERR_IO;
		p += w;
		n -= (size_t)w;
	}
	return CMH_OK;
}

static enum cmh_err fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	enum cmh_err err = CMH_OK;

	if (fd < 0)
		return CMH_ERR_IO;
	if (fsync(fd) != 0)
		err = CMH_ERR_IO;
	close(fd);
	return err;
}

static char *token_json(const struct cmh_ims *ims, const struct cmh_token *t)
{
	json_t *root = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I}", "version", TOKEN_FILE_VERSION,
				 "key", ims->key, "access_token", t->access_token,
				 "token_type", t->token_type, "expires_in", (json_int_t)t->expires_in_s,
				 "obtained_at_ms", (json_int_t)t->obtained_at_ms);
	char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;

	json_decref(root);
	return s;
}

/* write to an O_EXCL temp file (mode 0600), fsync, rename, fsync the dir. */
static enum cmh_err store_token_file(const struct cmh_ims *ims, const struct cmh_token *t)
{
	const char *dir = ims->cfg->data_dir;
	struct cmh_buf tmp;
	char *text = NULL;
	bool created = false;
	int fd = -1;
	enum cmh_err err;

	cmh_buf_init(&tmp, CMH_BUF_MAX_SMALL);
	err = cmh_fs_ensure_dir(dir, NULL);
	if (err)
		goto out;
	err = cmh_buf_addf(&tmp, "%s/.token.json.XXXXXX", dir);
	if (err)
		goto out;
	err = CMH_ERR_IO;
	fd = mkostemp(tmp.data, O_CLOEXEC);   /* O_CREAT|O_EXCL, mode 0600 */
	if (fd < 0)
		goto out;
	created = true;
	text = token_json(ims, t);
	if (!text) {
		err = CMH_ERR_NOMEM;
		goto out;
	}
	err = write_all(fd, text, strlen(text));
	if (!err && fsync(fd) != 0)
		err = CMH_ERR_IO;
	if (close(fd) != 0 && !err)
		err = CMH_ERR_IO;
	fd = -1;
	if (!err && rename(tmp.data, ims->token_path) != 0)
		err = CMH_ERR_IO;
	if (!err) {
		created = false;
		err = fsync_dir(dir);
	}
out:
	if (fd >= 0)
		close(fd);
	if (created)
		(void)unlink(tmp.data);
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	cmh_buf_release(&tmp);
	return err;
}

/* ---- one request and the retry loop ------------------------------------- */

static enum cmh_err build_form(const struct cmh_config *cfg, struct cmh_buf *form)
{
	const struct cmh_http_header pairs[] = {
		{ "grant_type", cfg->grant_type && *cfg->grant_type ? cfg->grant_type : "client_credentials" },
		{ "client_id", cfg->client_id ? cfg->client_id : "" },
		{ "client_secret", cfg->client_secret.data ? cfg->client_secret.data : "" },
		{ "scope", cfg->scopes ? cfg->scopes : "" },
	};

	return cmh_http_form_encode(pairs, sizeof(pairs) / sizeof(pairs[0]), form);
}

static void describe_transport(enum cmh_err err, long timeout_ms, const char *url,
	const char *detail, struct cmh_buf *errmsg)
{
	struct cmh_buf origin;

	cmh_buf_init(&origin, CMH_BUF_MAX_SMALL);
	if (cmh_url_origin(url, &origin) != CMH_OK)
		(void)!cmh_buf_adds(&origin, "<invalid URL>");
	if (err == CMH_ERR_TIMEOUT && timeout_ms % 1000 == 0)
		cmh_errf(errmsg, "IMS request timed out after %lds (%s)", timeout_ms / 1000, origin.data);
	else if (err == CMH_ERR_TIMEOUT)
		cmh_errf(errmsg, "IMS request timed out after %ldms (%s)", timeout_ms, origin.data);
	else
		cmh_errf(errmsg, "IMS %s", detail);
	cmh_buf_release(&origin);
}

/* One POST to IMS. *ret_retry_after_ms is the server's Retry-After or -1. */
static enum cmh_err request_once(struct cmh_ims *ims, struct cmh_token *ret,
	int64_t *ret_retry_after_ms, long *ret_status, struct cmh_buf *errmsg)
{
	const struct cmh_config *cfg = ims->cfg;
	const struct cmh_http_header headers[] = {
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "Accept", "application/json" },
	};
	long timeout_ms = cfg->http_timeout_ms ? (long)cfg->http_timeout_ms : CMH_HTTP_TIMEOUT_MS;
	struct cmh_http_response resp;
	struct cmh_buf url, form, detail;
	int64_t start;
	enum cmh_err err;

	cmh_http_response_init(&resp);
	cmh_buf_init(&url, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&form, CMH_TOKEN_MAX_LEN + CMH_MAX_SECRET_FILE * 3);
	cmh_buf_init(&detail, CMH_BUF_MAX_ERRMSG);
	*ret_retry_after_ms = -1;
	*ret_status = 0;
	err = cmh_buf_addf(&url, "%s%s", cfg->ims_url ? cfg->ims_url : "", IMS_TOKEN_PATH);
	if (!err)
		err = build_form(cfg, &form);
	if (err) {
		cmh_errf(errmsg, "cannot build the IMS request: %s", cmh_strerror(err));
		goto out;
	}
	start = ims->clock(ims->clock_ud);
	__atomic_add_fetch(&ims->requests, 1, __ATOMIC_SEQ_CST);
	err = cmh_http_perform(&(struct cmh_http_request){
		.method = "POST", .url = url.data, .headers = headers,
		.n_headers = sizeof(headers) / sizeof(headers[0]), .body = form.data,
		.body_len = form.len, .timeout_ms = timeout_ms, .max_response = CMH_MAX_IMS_RESPONSE,
	}, &resp, &detail);
	if (err) {
		describe_transport(err, timeout_ms, url.data, detail.data, errmsg);
		goto out;
	}
	*ret_status = resp.status;
	*ret_retry_after_ms = resp.retry_after_ms;
	err = cmh_ims_parse_response(resp.status, resp.body.data, resp.body.len, start, ret, errmsg);
out:
	cmh_buf_wipe(&form);
	cmh_buf_wipe(&resp.body);   /* may hold the token */
	cmh_http_response_release(&resp);
	cmh_buf_release(&url);
	cmh_buf_release(&detail);
	return err;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool retryable(enum cmh_err err)
{
	return err == CMH_ERR_NETWORK || err == CMH_ERR_TIMEOUT || err == CMH_ERR_UPSTREAM;
}

/* Ask IMS, retrying transient failures. Runs without ims->mu held. */
static enum cmh_err fetch_token(struct cmh_ims *ims, struct cmh_token *ret, struct cmh_buf *errmsg)
{
	int64_t backoff = ims->backoff_initial_ms, retry_after, delay;
	long status;
	enum cmh_err err = CMH_ERR_INTERNAL;

	for (int attempt = 1; attempt <= CMH_IMS_MAX_ATTEMPTS; attempt++) {
		err = request_once(ims, ret, &retry_after, &status, errmsg);
		if (!err || !retryable(err) || attempt == CMH_IMS_MAX_ATTEMPTS)
			break;
		delay = backoff;
		if (retry_after >= 0)
			delay = retry_after < CMH_IMS_RETRY_AFTER_MAX_MS ? retry_after
									 : CMH_IMS_RETRY_AFTER_MAX_MS;
		cmh_log(CMH_LOG_WARN, "ims", "token request failed, will retry",
			"attempt=%d/%d status=%ld err=%s delay_ms=%lld detail=%s", attempt,
			CMH_IMS_MAX_ATTEMPTS, status, cmh_q(cmh_strerror(err)), (long long)delay,
			cmh_q(errmsg ? errmsg->data : NULL));
		sleep_ms(delay);
		backoff = backoff * 2 > ims->backoff_max_ms ? ims->backoff_max_ms : backoff * 2;
	}
	return err;
}

/* ---- the cache ------------------------------------------------------------ */

enum cmh_err cmh_ims_new(const struct cmh_config *cfg, cmh_clock_fn clock, void *clock_ud,
	struct cmh_ims **ret)
{
	struct cmh_ims *ims = calloc(1, sizeof(*ims));
	struct cmh_buf path;
	enum cmh_err err;

	if (!ims)
		return CMH_ERR_NOMEM;
	ims->cfg = cfg;
	ims->clock = clock ? clock : cmh_clock_realtime_ms;
	ims->clock_ud = clock_ud;
	ims->backoff_initial_ms = CMH_IMS_BACKOFF_INITIAL_MS;
	ims->backoff_max_ms = CMH_IMS_BACKOFF_MAX_MS;
	err = compute_key(cfg, ims->key);
	if (err)
		goto fail;
	if (cfg->data_dir && *cfg->data_dir) {
		cmh_buf_init(&path, CMH_BUF_MAX_SMALL);
		err = cmh_buf_addf(&path, "%s/%s", cfg->data_dir, TOKEN_FILE);
		if (err)
			goto fail;
		ims->token_path = cmh_buf_detach(&path, NULL);
		if (!ims->token_path) {
			err = CMH_ERR_NOMEM;
			goto fail;
		}
	}
	if (pthread_mutex_init(&ims->mu, NULL) != 0) {
		err = CMH_ERR_INTERNAL;
		goto fail;
	}
	if (pthread_cond_init(&ims->cv, NULL) != 0) {
		pthread_mutex_destroy(&ims->mu);
		err = CMH_ERR_INTERNAL;
		goto fail;
	}
	*ret = ims;
	return CMH_OK;
fail:
	free(ims->token_path);
	free(ims);
	return err;
}

void cmh_ims_free(struct cmh_ims *ims)
{
	if (!ims)
		return;
	cmh_token_release(&ims->tok);
	pthread_cond_destroy(&ims->cv);
	pthread_mutex_destroy(&ims->mu);
	free(ims->token_path);
	free(ims);
}

void cmh_ims_set_backoff(struct cmh_ims *ims, long initial_ms, long max_ms)
{
	ims->backoff_initial_ms = initial_ms > 0 ? initial_ms : 1;
	ims->backoff_max_ms = max_ms >= ims->backoff_initial_ms ? max_ms : ims->backoff_initial_ms;
}

uint64_t cmh_ims_requests(const struct cmh_ims *ims)
{
	return __atomic_load_n(&ims->requests, __ATOMIC_SEQ_CST);
}

static void token_fp(const char *token, char out[CMH_FINGERPRINT_LEN + 1])
{
	cmh_fingerprint(token, strlen(token), out);
}

/* Hand out a copy of the cached token. Caller holds mu. */
static enum cmh_err copy_current(struct cmh_ims *ims, char **ret_token)
{
	char *s = strdup(ims->tok.access_token);

	if (!s)
		return CMH_ERR_NOMEM;
	*ret_token = s;
	return CMH_OK;
}

/* Adopt the token file's token if it is ours, fresh and not invalidated. Caller holds mu. */
static void adopt_file_token(struct cmh_ims *ims)
{
	struct cmh_token t = { 0 };
	char fp[CMH_FINGERPRINT_LEN + 1];

	if (!ims->token_path || load_token_file(ims, &t) != CMH_OK)
		return;
	token_fp(t.access_token, fp);
	if (cmh_token_is_fresh(&t, ims->clock(ims->clock_ud)) && strcmp(fp, ims->bad_fp) != 0) {
		cmh_token_release(&ims->tok);
		ims->tok = t;
		cmh_log(CMH_LOG_DEBUG, "ims", "token loaded from cache file", "token_fp=%s", fp);
		return;
	}
	cmh_token_release(&t);
}

/* Wait for the request in flight and take its outcome. Caller holds mu. */
static enum cmh_err join_in_flight(struct cmh_ims *ims, char **ret_token, struct cmh_buf *errmsg)
{
	uint64_t mine = ims->round;

	while (ims->busy && ims->round == mine)
		pthread_cond_wait(&ims->cv, &ims->mu);
	if (ims->round_err) {
		cmh_errf(errmsg, "%s", ims->round_msg);
		return ims->round_err;
	}
	if (!ims->tok.access_token) {
		/* Invalidated again in the meantime: report rather than loop. */
		cmh_errf(errmsg, "IMS token was invalidated while waiting for it");
		return CMH_ERR_UNAVAILABLE;
	}
	return copy_current(ims, ret_token);
}

/* Request a token as the single flight leader. Caller holds mu; it is
 * released for the network call and re-acquired. */
static enum cmh_err lead_request(struct cmh_ims *ims, char **ret_token, struct cmh_buf *errmsg)
{
	struct cmh_token t = { 0 };
	struct cmh_buf msg;
	char fp[CMH_FINGERPRINT_LEN + 1];
	enum cmh_err err, serr;

	ims->busy = true;
	pthread_mutex_unlock(&ims->mu);
	cmh_buf_init(&msg, CMH_BUF_MAX_ERRMSG);
	err = fetch_token(ims, &t, &msg);
	if (!err) {
		token_fp(t.access_token, fp);
		cmh_log(CMH_LOG_INFO, "ims", "token obtained", "expires_in=%lld token_fp=%s",
			(long long)t.expires_in_s, fp);
		if (ims->token_path && (serr = store_token_file(ims, &t)) != CMH_OK)
			cmh_log(CMH_LOG_WARN, "ims", "cannot write token cache file", "path=%s err=%s",
				cmh_q(ims->token_path), cmh_q(cmh_strerror(serr)));
	}
	pthread_mutex_lock(&ims->mu);
	if (!err) {
		cmh_token_release(&ims->tok);
		ims->tok = t;
		err = copy_current(ims, ret_token);
	}
	ims->round_err = err;
	snprintf(ims->round_msg, sizeof(ims->round_msg), "%s", msg.data);
	ims->round++;
	ims->busy = false;
	pthread_cond_broadcast(&ims->cv);
	if (err)
		cmh_errf(errmsg, "%s", msg.data);
	cmh_buf_release(&msg);
	return err;
}

enum cmh_err cmh_ims_get(struct cmh_ims *ims, bool force_refresh, char **ret_token,
	struct cmh_buf *errmsg)
{
	enum cmh_err err;

	pthread_mutex_lock(&ims->mu);
	if (ims->busy) {
		err = join_in_flight(ims, ret_token, errmsg);
		goto out;
	}
	if (!force_refresh && !cmh_token_is_fresh(&ims->tok, ims->clock(ims->clock_ud)))
		adopt_file_token(ims);
	if (!force_refresh && cmh_token_is_fresh(&ims->tok, ims->clock(ims->clock_ud))) {
		err = copy_current(ims, ret_token);
		goto out;
	}
	err = lead_request(ims, ret_token, errmsg);
out:
	pthread_mutex_unlock(&ims->mu);
	return err;
}

/* Remove the token file if it holds the token with fingerprint fp. */
static void drop_file_token(struct cmh_ims *ims, const char *fp)
{
	struct cmh_token t = { 0 };
	char ffp[CMH_FINGERPRINT_LEN + 1];

	if (!ims->token_path || load_token_file(ims, &t) != CMH_OK)
		return;
	token_fp(t.access_token, ffp);
	if (strcmp(ffp, fp) == 0)
		(void)unlink(ims->token_path);
	cmh_token_release(&t);
}

void cmh_ims_invalidate(struct cmh_ims *ims, const char *token)
{
	char fp[CMH_FINGERPRINT_LEN + 1];

	if (!ims || !token)
		return;
	token_fp(token, fp);
	pthread_mutex_lock(&ims->mu);
	memcpy(ims->bad_fp, fp, sizeof(fp));
	if (ims->tok.access_token && strcmp(ims->tok.access_token, token) == 0) {
		cmh_token_release(&ims->tok);
		cmh_log(CMH_LOG_DEBUG, "ims", "token invalidated", "token_fp=%s", fp);
	}
	drop_file_token(ims, fp);
	pthread_mutex_unlock(&ims->mu);
}
