/*
 * The public-key cache behind webhook signature checks: a small array of
 * (path, key, fetched-at) entries and a list of in-flight fetches under one
 * mutex. The first request for a missing key fetches it with the lock
 * released; requests for the same path that arrive meanwhile wait on the
 * condition variable and share that fetch's result (single flight), so a
 * burst of deliveries costs one request to the key server. RSA itself is
 * sig.c's; HTTP is http_client.c's.
 */
#include "keycache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_client.h"
#include "bounds.h"
#include "sig.h"

struct entry {
	char *path;
	struct cmh_sig_key *key;     /* one reference owned by the entry */
	int64_t fetched_at;
};

/* One fetch in progress, shared by the fetching thread and its waiters. */
struct flight {
	struct flight *next;
	char *path;
	int refs;                    /* fetching thread + waiters, under kc->mu */
	bool done;
	enum cmh_err err;
	struct cmh_sig_key *key;     /* result when err == CMH_OK; flight's reference */
	char errmsg[256];
};

struct cmh_keycache {
	pthread_mutex_t mu;
	pthread_cond_t done_cv;      /* broadcast whenever a flight completes */
	char *base_url;
	cmh_keycache_fetch_fn fetch;
	void *fetch_ud;
	cmh_keycache_clock_fn clock;
	void *clock_ud;
	int64_t ttl_ms;
	size_t max_entries;
	struct entry *entries;
	size_t n_entries;
	struct flight *flights;
	struct cmh_keycache_stats stats;
};

static int64_t monotonic_ms(void *ud)
{
	struct timespec ts;

	(void)ud;
	/* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum cmh_err cmh_keycache_new(const struct cmh_keycache_opts *opts, struct cmh_keycache **ret)
{
	struct cmh_keycache *kc;
	size_t blen;

	if (!opts || !opts->base_url || !*opts->base_url)
		return CMH_ERR_CONFIG;
	kc = calloc(1, sizeof(*kc));
	if (!kc)
		return CMH_ERR_NOMEM;
	kc->base_url = strdup(opts->base_url);
	kc->max_entries = opts->max_entries ? opts->max_entries : CMH_KEYCACHE_MAX_ENTRIES;
	kc->entries = calloc(kc->max_entries, sizeof(*kc->entries));
	if (!kc->base_url || !kc->entries) {
		free(kc->base_url);
		free(kc->entries);
		free(kc);
		return CMH_ERR_NOMEM;
	}
	/* The fetch URL is base + "/prod/keys/...": avoid "//prod". */
	blen = strlen(kc->base_url);
	if (kc->base_url[blen - 1] == '/')
		kc->base_url[blen - 1] = '\0';
	kc->fetch = opts->fetch ? opts->fetch : cmh_keycache_fetch_http;
	kc->fetch_ud = opts->fetch_ud;
	kc->clock = opts->clock ? opts->clock : monotonic_ms;
	kc->clock_ud = opts->clock_ud;
	/* Adobe: keys must not be cached longer than 24 hours. */
	kc->ttl_ms = opts->ttl_ms > 0 && opts->ttl_ms < CMH_KEYCACHE_TTL_MS ? opts->ttl_ms
									    : CMH_KEYCACHE_TTL_MS;
	if (pthread_mutex_init(&kc->mu, NULL) != 0) {
		free(kc->base_url);
		free(kc->entries);
		free(kc);
		return CMH_ERR_NOMEM;
	}
	if (pthread_cond_init(&kc->done_cv, NULL) != 0) {
		pthread_mutex_destroy(&kc->mu);
		free(kc->base_url);
		free(kc->entries);
		free(kc);
		return CMH_ERR_NOMEM;
	}
	*ret = kc;
	return CMH_OK;
}

void cmh_keycache_free(struct cmh_keycache *kc)
{
	size_t i;

	if (!kc)
		return;
	for (i = 0; i < kc->n_entries; i++) {
		free(kc->entries[i].path);
		cmh_sig_key_free(kc->entries[i].key);
	}
	free(kc->entries);
	free(kc->base_url);
	pthread_cond_destroy(&kc->done_cv);
	pthread_mutex_destroy(&kc->mu);
	free(kc);
}

/* ---- cache entries (kc->mu held) ---------------------------------------- */

static struct entry *find_entry(struct cmh_keycache *kc, const char *path)
{
	size_t i;

	for (i = 0; i < kc->n_entries; i++) {
		if (strcmp(kc->entries[i].path, path) == 0)
			return &kc->entries[i];
	}
	return NULL;
}

/* A new reference to path's key if it is cached and fresh, else NULL. */
static struct cmh_sig_key *lookup_fresh(struct cmh_keycache *kc, const char *path)
{
	struct entry *e = find_entry(kc, path);

	if (!e || kc->clock(kc->clock_ud) - e->fetched_at >= kc->ttl_ms)
		return NULL;
	kc->stats.hits++;
	return cmh_sig_key_ref(e->key);
}

/* The slot for a new entry: the path's old (expired) slot, a free one, or
 * the oldest one, emptied. */
static struct entry *claim_slot(struct cmh_keycache *kc, const char *path)
{
	struct entry *e = find_entry(kc, path);
	size_t i, oldest = 0;

	if (!e && kc->n_entries < kc->max_entries)
		return &kc->entries[kc->n_entries++];
	if (!e) {
		for (i = 1; i < kc->n_entries; i++) {
			if (kc->entries[i].fetched_at < kc->entries[oldest].fetched_at)
				oldest = i;
		}
		e = &kc->entries[oldest];
	}
	free(e->path);
	cmh_sig_key_free(e->key);
	memset(e, 0, sizeof(*e));
	return e;
}

static void store_key(struct cmh_keycache *kc, const char *path, struct cmh_sig_key *key)
{
	char *copy = strdup(path);
	struct entry *e;

	/* Not caching is always safe: the next request fetches again. */
	if (!copy)
		return;
	e = claim_slot(kc, path);
	e->path = copy;
	e->key = cmh_sig_key_ref(key);
	e->fetched_at = kc->clock(kc->clock_ud);
}

/* ---- flights (kc->mu held) ----------------------------------------------- */

static struct flight *find_flight(struct cmh_keycache *kc, const char *path)
{
	struct flight *f;

	for (f = kc->flights; f; f = f->next) {
		if (strcmp(f->path, path) == 0)
			return f;
	}
	return NULL;
}

static void unlink_flight(struct cmh_keycache *kc, struct flight *f)
{
	struct flight **pp;

	for (pp = &kc->flights; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			return;
		}
	}
}

static void flight_unref(struct flight *f)
{
	if (--f->refs > 0)
		return;
	free(f->path);
	cmh_sig_key_free(f->key);
	free(f);
}

/* Hand a finished flight's result to one of its participants. */
static enum cmh_err flight_result(struct flight *f, struct cmh_sig_key **ret_key,
	struct cmh_buf *errmsg)
{
	if (f->err) {
		cmh_errf(errmsg, "%s", f->errmsg);
		return f->err;
	}
	*ret_key = cmh_sig_key_ref(f->key);
	return CMH_OK;
}

/* ---- fetching (no lock held) --------------------------------------------- */

static enum cmh_err fetch_key(struct cmh_keycache *kc, const char *path,
	struct cmh_sig_key **ret_key, struct cmh_buf *errmsg)
{
	struct cmh_buf url, pem;
	enum cmh_err err;

	cmh_buf_init(&url, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&pem, CMH_MAX_KEY_RESPONSE);
	err = cmh_buf_addf(&url, "%s%s", kc->base_url, path);
	if (err)
		goto out;
	err = kc->fetch(url.data, &pem, errmsg, kc->fetch_ud);
	if (err) {
		if (errmsg && !errmsg->len)
			cmh_errf(errmsg, "key fetch failed: %s", cmh_strerror(err));
		/* Only "cannot reach it now" is worth a 503; any definite answer
		 * means this delivery cannot be verified. */
		if (!cmh_err_is_transient(err))
			err = CMH_ERR_SIGNATURE;
		goto out;
	}
	err = cmh_sig_key_new_from_pem(pem.data, pem.len, ret_key, errmsg);
	if (err && err != CMH_ERR_NOMEM)
		err = CMH_ERR_SIGNATURE;
out:
	cmh_buf_release(&pem);
	cmh_buf_release(&url);
	return err;
}

/* Run the fetch for flight f (which this thread created) and publish it. */
static enum cmh_err run_flight(struct cmh_keycache *kc, struct flight *f,
	struct cmh_sig_key **ret_key, struct cmh_buf *errmsg)
{
	struct cmh_buf msg;
	struct cmh_sig_key *key = NULL;
	enum cmh_err err;

	cmh_buf_init(&msg, sizeof(f->errmsg) - 1);
	err = fetch_key(kc, f->path, &key, &msg);

	pthread_mutex_lock(&kc->mu);
	f->done = true;
	f->err = err;
	f->key = key;
	memcpy(f->errmsg, msg.data, msg.len + 1);
	unlink_flight(kc, f);
	if (err)
		kc->stats.fetch_failures++;
	else
		store_key(kc, f->path, key);
	pthread_cond_broadcast(&kc->done_cv);
	err = flight_result(f, ret_key, errmsg);
	flight_unref(f);
	pthread_mutex_unlock(&kc->mu);
	cmh_buf_release(&msg);
	return err;
}

enum cmh_err cmh_keycache_get(struct cmh_keycache *kc, const char *path,
	struct cmh_sig_key **ret_key, struct cmh_buf *errmsg)
{
	struct cmh_sig_key *key;
	struct flight *f;
	enum cmh_err err;

	if (!cmh_sig_key_path_valid(path)) {
		cmh_errf(errmsg, "invalid public key path");
		return CMH_ERR_SIGNATURE;
	}
	pthread_mutex_lock(&kc->mu);
	key = lookup_fresh(kc, path);
	if (key) {
		pthread_mutex_unlock(&kc->mu);
		*ret_key = key;
		return CMH_OK;
	}
	f = find_flight(kc, path);
	if (f) {
		/* Someone is fetching this key already: wait for their result. */
		f->refs++;
		kc->stats.waits++;
		while (!f->done)
			pthread_cond_wait(&kc->done_cv, &kc->mu);
		err = flight_result(f, ret_key, errmsg);
		flight_unref(f);
		pthread_mutex_unlock(&kc->mu);
		return err;
	}
	f = calloc(1, sizeof(*f));
	if (f)
		f->path = strdup(path);
	if (!f || !f->path) {
		free(f);
		pthread_mutex_unlock(&kc->mu);
		return CMH_ERR_NOMEM;
	}
	f->refs = 1;
	f->next = kc->flights;
	kc->flights = f;
	kc->stats.fetches++;
	pthread_mutex_unlock(&kc->mu);
	return run_flight(kc, f, ret_key, errmsg);
}

void cmh_keycache_get_stats(struct cmh_keycache *kc, struct cmh_keycache_stats *ret)
{
	pthread_mutex_lock(&kc->mu);
	*ret = kc->stats;
	ret->entries = kc->n_entries;
	pthread_mutex_unlock(&kc->mu);
}

/* ---- authentication ------------------------------------------------------ */

static bool present(const char *s)
{
	return s && *s;
}

/* Cached-only lookup for cmh_keycache_authenticate_cached(). */
static enum cmh_err get_cached(struct cmh_keycache *kc, const char *path,
	struct cmh_sig_key **ret_key, struct cmh_buf *errmsg)
{
	if (!cmh_sig_key_path_valid(path)) {
		cmh_errf(errmsg, "invalid public key path");
		return CMH_ERR_SIGNATURE;
	}
	pthread_mutex_lock(&kc->mu);
	*ret_key = lookup_fresh(kc, path);
	pthread_mutex_unlock(&kc->mu);
	if (!*ret_key) {
		cmh_errf(errmsg, "public key not cached");
		return CMH_ERR_NOT_FOUND;
	}
	return CMH_OK;
}

static enum cmh_err check_pair(struct cmh_keycache *kc, bool cached_only, const void *body,
	size_t len, const char *sig, const char *path, struct cmh_buf *msg)
{
	struct cmh_sig_key *key = NULL;
	struct cmh_buf raw;
	enum cmh_err err;

	/* A signature that cannot be one is refused before any key fetch, so
	 * garbage headers cannot make us fetch keys. */
	cmh_buf_init(&raw, CMH_SIG_MAX_B64_LEN);
	err = cmh_sig_decode_b64(sig, &raw);
	if (!err && raw.len * 8 < CMH_SIG_MIN_KEY_BITS)
		err = CMH_ERR_SIGNATURE;
	cmh_buf_release(&raw);
	if (err) {
		cmh_errf(msg, "signature is not a base64 RSA signature");
		return err == CMH_ERR_NOMEM ? err : CMH_ERR_SIGNATURE;
	}
	err = cached_only ? get_cached(kc, path, &key, msg) : cmh_keycache_get(kc, path, &key, msg);
	if (err)
		return err;
	err = cmh_sig_verify(body, len, sig, key);
	if (err == CMH_ERR_SIGNATURE)
		cmh_errf(msg, "signature does not verify");
	cmh_sig_key_free(key);
	return err;
}

/* Of two failures, the one the caller must act on: transient first (503,
 * Adobe retries), then "key not cached" (fetch it), then any other local
 * failure, else "bad signature". */
static enum cmh_err worse(enum cmh_err a, enum cmh_err b)
{
	if (cmh_err_is_transient(a))
		return a;
	if (cmh_err_is_transient(b))
		return b;
	if (a == CMH_ERR_NOT_FOUND || b == CMH_ERR_NOT_FOUND)
		return CMH_ERR_NOT_FOUND;
	if (a != CMH_ERR_SIGNATURE)
		return a;
	return b;
}

static enum cmh_err authenticate(struct cmh_keycache *kc, bool cached_only,
	const void *body, size_t len, const char *sig1, const char *key1_path,
	const char *sig2, const char *key2_path, struct cmh_buf *errmsg)
{
	struct cmh_buf m1, m2;
	enum cmh_err e1, e2 = CMH_ERR_SIGNATURE;

	if (!present(sig1) || !present(key1_path) || !present(sig2) || !present(key2_path)) {
		cmh_errf(errmsg, "signature or public key path header missing");
		return CMH_ERR_SIGNATURE;
	}
	cmh_buf_init(&m1, CMH_BUF_MAX_ERRMSG / 2);
	cmh_buf_init(&m2, CMH_BUF_MAX_ERRMSG / 2);
	/* Key 2 is only looked at when pair 1 did not verify. Both keys live on
	 * the same host: when fetching key 1 timed out, another fetch would
	 * spend the rest of Adobe's 10 s, so key 2 is then used only if cached
	 * (a fast failure, such as a 503, still lets key 2 be tried). */
	e1 = check_pair(kc, cached_only, body, len, sig1, key1_path, &m1);
	if (e1 != CMH_OK)
		e2 = check_pair(kc, cached_only || e1 == CMH_ERR_TIMEOUT, body, len, sig2,
				key2_path, &m2);
	if (e1 != CMH_OK && e2 != CMH_OK) {
		cmh_errf(errmsg, "signature 1: %s; signature 2: %s", m1.data, m2.data);
		e1 = worse(e1, e2);
	} else {
		e1 = CMH_OK;
	}
	cmh_buf_release(&m1);
	cmh_buf_release(&m2);
	return e1;
}

enum cmh_err cmh_keycache_authenticate(struct cmh_keycache *kc,
	const void *body, size_t len,
	const char *sig1, const char *key1_path,
	const char *sig2, const char *key2_path,
	struct cmh_buf *errmsg)
{
	return authenticate(kc, false, body, len, sig1, key1_path, sig2, key2_path, errmsg);
}

enum cmh_err cmh_keycache_authenticate_cached(struct cmh_keycache *kc,
	const void *body, size_t len,
	const char *sig1, const char *key1_path,
	const char *sig2, const char *key2_path,
	struct cmh_buf *errmsg)
{
	return authenticate(kc, true, body, len, sig1, key1_path, sig2, key2_path, errmsg);
}

/* ---- production fetch ---------------------------------------------------- */

enum cmh_err cmh_keycache_fetch_http(const char *url, struct cmh_buf *pem,
	struct cmh_buf *errmsg, void *ud)
{
	struct cmh_http_request req = {
		.method = "GET",
		.url = url,
		.connect_timeout_ms = CMH_KEY_FETCH_CONNECT_TIMEOUT_MS,
		.timeout_ms = CMH_KEY_FETCH_TIMEOUT_MS,
		.max_response = CMH_MAX_KEY_RESPONSE,
	};
	struct cmh_http_response resp;
	enum cmh_err err;

	(void)ud;
	cmh_http_response_init(&resp);
	err = cmh_http_perform(&req, &resp, errmsg);
	if (err)
		goto out;
	if (resp.status != 200) {
		err = cmh_http_status_err(resp.status);
		if (!err)
			err = CMH_ERR_REJECTED; /* a 2xx other than 200 has no key for us */
		cmh_errf(errmsg, "key server answered HTTP %ld", resp.status);
		goto out;
	}
	cmh_buf_reset(pem);
	err = cmh_buf_add(pem, resp.body.data, resp.body.len);
out:
	cmh_http_response_release(&resp);
	return err;
}
