/*
 * Unit tests for keycache.c: hits, misses and expiry under a fake clock,
 * failures and unusable keys not cached, eviction, single flight under
 * concurrent lookups (a fetch that blocks until the test releases it), the
 * authenticate step over two key paths, and the production fetch against a
 * fake key host (fake_server.h) on 127.0.0.1. Keys and signatures come from
 * sign.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "bounds.h"
#include "fake_server.h"
#include "http_client.h"
#include "keycache.h"
#include "sig.h"
#include "sign.h"

#define BASE "https://static.adobeioevents.com"
#define PATH_A "/prod/keys/pub-key-aaaaaaaa-0000-4000-8000-000000000001.pem"
#define PATH_B "/prod/keys/pub-key-bbbbbbbb-0000-4000-8000-000000000002.pem"
#define PATH_C "/prod/keys/pub-key-cccccccc-0000-4000-8000-000000000003.pem"

/* ---- fakes ---------------------------------------------------------------- */

struct fake {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls;
	char last_url[512];
	enum cmh_err fail;          /* returned instead of a body when set */
	const char *pem;            /* body for any URL ... */
	const char *path2, *pem2;   /* ... except URLs ending in path2 */
	const char *fail_suffix;    /* fail only URLs ending in this (NULL: all) */
	bool block, released;       /* block in fetch until released */
	int64_t now;                /* the fake clock */
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static enum cmh_err fake_fetch(const char *url, struct cmh_buf *pem, struct cmh_buf *errmsg,
	void *ud)
{
	struct fake *f = ud;
	const char *body;
	enum cmh_err fail;

	pthread_mutex_lock(&f->mu);
	f->calls++;
	snprintf(f->last_url, sizeof(f->last_url), "%s", url);
	pthread_cond_broadcast(&f->cv);
	while (f->block && !f->released)
		pthread_cond_wait(&f->cv, &f->mu);
	body = f->path2 && ends_with(url, f->path2) ? f->pem2 : f->pem;
	fail = !f->fail_suffix || ends_with(url, f->fail_suffix) ? f->fail : CMH_OK;
	pthread_mutex_unlock(&f->mu);
	if (fail) {
		cmh_errf(errmsg, "fake failure");
		return fail;
	}
	return cmh_buf_adds(pem, body);
}

static int64_t fake_clock(void *ud)
{
	struct fake *f = ud;
	int64_t now;

	pthread_mutex_lock(&f->mu);
	now = f->now;
	pthread_mutex_unlock(&f->mu);
	return now;
}

static int fake_calls(struct fake *f)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = f->calls;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* Shared across tests: two key pairs (sign.h's shared keys) and their PEMs. */
struct fixture {
	const struct sign_key *k1, *k2;
	const char *pem1, *pem2;
	struct fake fake;
	struct cmh_keycache *kc;
};

static int group_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx || cmh_http_global_init() != CMH_OK)
		return -1;
	fx->k1 = sign_key_shared(0);
	fx->k2 = sign_key_shared(1);
	fx->pem1 = sign_key_pem(fx->k1);
	fx->pem2 = sign_key_pem(fx->k2);
	*state = fx;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *fx = *state;

	free(fx);
	cmh_http_global_cleanup();
	return 0;
}

/* Per test: a fresh fake and a cache with a 1000 ms TTL over it. */
static int setup(void **state)
{
	struct fixture *fx = *state;
	struct cmh_keycache_opts o = {
		.base_url = BASE,
		.fetch = fake_fetch,
		.fetch_ud = &fx->fake,
		.clock = fake_clock,
		.clock_ud = &fx->fake,
		.ttl_ms = 1000,
	};

	memset(&fx->fake, 0, sizeof(fx->fake));
	pthread_mutex_init(&fx->fake.mu, NULL);
	pthread_cond_init(&fx->fake.cv, NULL);
	fx->fake.pem = fx->pem1;
	fx->fake.now = 5000;
	return cmh_keycache_new(&o, &fx->kc) == CMH_OK ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	cmh_keycache_free(fx->kc);
	fx->kc = NULL;
	pthread_cond_destroy(&fx->fake.cv);
	pthread_mutex_destroy(&fx->fake.mu);
	return 0;
}

static enum cmh_err get(struct fixture *fx, const char *path)
{
	struct cmh_sig_key *key = NULL;
	enum cmh_err err = cmh_keycache_get(fx->kc, path, &key, NULL);

	assert_true(err == CMH_OK ? key != NULL : key == NULL);
	cmh_sig_key_free(key);
	return err;
}

static struct cmh_keycache_stats stats(struct fixture *fx)
{
	struct cmh_keycache_stats s;

	cmh_keycache_get_stats(fx->kc, &s);
	return s;
}

/* ---- cache behaviour ------------------------------------------------------- */

static void test_keycache_miss_then_hit(void **state)
{
	struct fixture *fx = *state;
	struct cmh_keycache_stats s;

	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(fx->fake.calls, 1);
	assert_string_equal(fx->fake.last_url, BASE PATH_A);
	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(fx->fake.calls, 1);
	assert_int_equal(get(fx, PATH_B), CMH_OK);
	assert_int_equal(fx->fake.calls, 2);
	assert_string_equal(fx->fake.last_url, BASE PATH_B);
	s = stats(fx);
	assert_int_equal(s.hits, 2);
	assert_int_equal(s.fetches, 2);
	assert_int_equal(s.fetch_failures, 0);
	assert_int_equal(s.entries, 2);
}

static void test_keycache_expiry(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(get(fx, PATH_A), CMH_OK);
	fx->fake.now += 999;
	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(fx->fake.calls, 1);
	fx->fake.now += 1;           /* exactly the TTL: stale */
	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(fx->fake.calls, 2);
	fx->fake.now += 500;         /* the refetched entry counts from its fetch */
	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(fx->fake.calls, 2);
	assert_int_equal(stats(fx).entries, 1);
}

static void test_keycache_ttl_capped_at_24h(void **state)
{
	struct fixture *fx = *state;
	struct cmh_keycache *kc;
	struct cmh_keycache_opts o = {
		.base_url = BASE "/", .fetch = fake_fetch, .fetch_ud = &fx->fake,
		.clock = fake_clock, .clock_ud = &fx->fake, .ttl_ms = 48 * 3600 * 1000LL,
	};
	struct cmh_sig_key *key = NULL;

	assert_int_equal(cmh_keycache_new(&o, &kc), CMH_OK);
	assert_int_equal(cmh_keycache_get(kc, PATH_A, &key, NULL), CMH_OK);
	cmh_sig_key_free(key);
	/* A trailing slash on the base does not double it. */
	assert_string_equal(fx->fake.last_url, BASE PATH_A);
	fx->fake.now += CMH_KEYCACHE_TTL_MS - 1;
	assert_int_equal(cmh_keycache_get(kc, PATH_A, &key, NULL), CMH_OK);
	cmh_sig_key_free(key);
	assert_int_equal(fx->fake.calls, 1);
	fx->fake.now += 1;
	assert_int_equal(cmh_keycache_get(kc, PATH_A, &key, NULL), CMH_OK);
	cmh_sig_key_free(key);
	assert_int_equal(fx->fake.calls, 2);
	cmh_keycache_free(kc);
}

static void test_keycache_failures_not_cached(void **state)
{
	struct fixture *fx = *state;
	struct cmh_buf err;
	struct cmh_sig_key *key = NULL;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	/* Transient failures stay transient (the receiver answers 503). */
	fx->fake.fail = CMH_ERR_NETWORK;
	assert_int_equal(cmh_keycache_get(fx->kc, PATH_A, &key, &err), CMH_ERR_NETWORK);
	assert_null(key);
	assert_string_equal(err.data, "fake failure");
	fx->fake.fail = CMH_ERR_UPSTREAM;
	assert_int_equal(get(fx, PATH_A), CMH_ERR_UPSTREAM);
	fx->fake.fail = CMH_ERR_TIMEOUT;
	assert_int_equal(get(fx, PATH_A), CMH_ERR_TIMEOUT);
	/* Definite answers mean "cannot be authentic". */
	fx->fake.fail = CMH_ERR_NOT_FOUND;
	assert_int_equal(get(fx, PATH_A), CMH_ERR_SIGNATURE);
	fx->fake.fail = CMH_ERR_TOO_LARGE;
	assert_int_equal(get(fx, PATH_A), CMH_ERR_SIGNATURE);
	assert_int_equal(fx->fake.calls, 5);
	assert_int_equal(stats(fx).entries, 0);
	/* Recovery: the next lookup fetches again and caches. */
	fx->fake.fail = CMH_OK;
	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(fx->fake.calls, 6);
	assert_int_equal(stats(fx).fetch_failures, 5);
	cmh_buf_release(&err);
}

static void test_keycache_bad_pem_not_cached(void **state)
{
	struct fixture *fx = *state;
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	char *ec_pem;

	assert_non_null(ec);
	ec_pem = sign_public_pem(ec);
	assert_non_null(ec_pem);
	fx->fake.pem = "<html>not a key</html>";
	assert_int_equal(get(fx, PATH_A), CMH_ERR_SIGNATURE);
	assert_int_equal(get(fx, PATH_A), CMH_ERR_SIGNATURE);
	fx->fake.pem = "";
	assert_int_equal(get(fx, PATH_A), CMH_ERR_SIGNATURE);
	fx->fake.pem = ec_pem;
	assert_int_equal(get(fx, PATH_A), CMH_ERR_SIGNATURE);
	assert_int_equal(fx->fake.calls, 4);
	assert_int_equal(stats(fx).entries, 0);
	fx->fake.pem = fx->pem1;
	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(stats(fx).entries, 1);
	free(ec_pem);
	EVP_PKEY_free(ec);
}

static void test_keycache_invalid_path_never_fetched(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = {
		"", "@evil.example/prod/keys/pub-key-a.pem", ".evil.example/prod/keys/pub-key-a.pem",
		"/prod/keys/pub-key-a.pem?x", "/prod/keys/../pub-key-a.pem",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(get(fx, bad[i]), CMH_ERR_SIGNATURE);
	assert_int_equal(get(fx, NULL), CMH_ERR_SIGNATURE);
	assert_int_equal(fx->fake.calls, 0);
}

static void test_keycache_evicts_oldest(void **state)
{
	struct fixture *fx = *state;
	struct cmh_keycache *kc;
	struct cmh_keycache_opts o = {
		.base_url = BASE, .fetch = fake_fetch, .fetch_ud = &fx->fake,
		.clock = fake_clock, .clock_ud = &fx->fake, .max_entries = 2,
	};
	struct cmh_keycache_stats s;
	struct cmh_sig_key *key = NULL, *held = NULL;

	assert_int_equal(cmh_keycache_new(&o, &kc), CMH_OK);
	assert_int_equal(cmh_keycache_get(kc, PATH_A, &held, NULL), CMH_OK);
	fx->fake.now += 10;
	assert_int_equal(cmh_keycache_get(kc, PATH_B, &key, NULL), CMH_OK);
	cmh_sig_key_free(key);
	fx->fake.now += 10;
	assert_int_equal(cmh_keycache_get(kc, PATH_C, &key, NULL), CMH_OK);
	cmh_sig_key_free(key);
	cmh_keycache_get_stats(kc, &s);
	assert_int_equal(s.entries, 2);
	assert_int_equal(fx->fake.calls, 3);
	/* B and C are cached, A was evicted; our reference to A stays valid. */
	assert_int_equal(cmh_keycache_get(kc, PATH_B, &key, NULL), CMH_OK);
	cmh_sig_key_free(key);
	assert_int_equal(cmh_keycache_get(kc, PATH_C, &key, NULL), CMH_OK);
	cmh_sig_key_free(key);
	assert_int_equal(fx->fake.calls, 3);
	assert_int_equal(cmh_sig_key_bits(held), 2048);
	cmh_sig_key_free(held);
	assert_int_equal(cmh_keycache_get(kc, PATH_A, &key, NULL), CMH_OK);
	cmh_sig_key_free(key);
	assert_int_equal(fx->fake.calls, 4);
	cmh_keycache_free(kc);
}

static void test_keycache_new_validates(void **state)
{
	struct cmh_keycache_opts o = { .base_url = "" };
	struct cmh_keycache *kc = NULL;

	(void)state;
	assert_int_equal(cmh_keycache_new(&o, &kc), CMH_ERR_CONFIG);
	o.base_url = NULL;
	assert_int_equal(cmh_keycache_new(&o, &kc), CMH_ERR_CONFIG);
	assert_int_equal(cmh_keycache_new(NULL, &kc), CMH_ERR_CONFIG);
	assert_null(kc);
	cmh_keycache_free(NULL);
}

/* ---- single flight ---------------------------------------------------------- */

#define N_THREADS 8

struct lookup {
	struct fixture *fx;
	enum cmh_err err;
	struct cmh_sig_key *key;
};

static void *lookup_thread(void *arg)
{
	struct lookup *l = arg;

	l->err = cmh_keycache_get(l->fx->kc, PATH_A, &l->key, NULL);
	return NULL;
}

/* Poll cond for up to 30 s: generous for a loaded 2-core machine. */
static bool wait_for(bool (*cond)(struct fixture *), struct fixture *fx)
{
	struct timespec pause = { 0, 2 * 1000 * 1000 }; /* 2 ms */

	for (int i = 0; i < 15000; i++) {
		if (cond(fx))
			return true;
		nanosleep(&pause, NULL);
	}
	return cond(fx);
}

static bool all_but_one_waiting(struct fixture *fx)
{
	return fake_calls(&fx->fake) >= 1 && stats(fx).waits >= N_THREADS - 1;
}

static void run_concurrent(struct fixture *fx, struct lookup *ls)
{
	pthread_t th[N_THREADS];
	bool waited;
	int calls;

	fx->fake.block = true;
	for (int i = 0; i < N_THREADS; i++) {
		ls[i].fx = fx;
		assert_int_equal(pthread_create(&th[i], NULL, lookup_thread, &ls[i]), 0);
	}
	/* One thread is inside the fetch, the others wait for its result.
	 * Release and join before asserting, so that a failure cannot leave
	 * threads blocked behind. */
	waited = wait_for(all_but_one_waiting, fx);
	calls = fake_calls(&fx->fake);
	pthread_mutex_lock(&fx->fake.mu);
	fx->fake.released = true;
	pthread_cond_broadcast(&fx->fake.cv);
	pthread_mutex_unlock(&fx->fake.mu);
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_true(waited);
	assert_int_equal(calls, 1);
	assert_int_equal(fake_calls(&fx->fake), 1);
}

static void test_keycache_single_flight(void **state)
{
	struct fixture *fx = *state;
	struct lookup ls[N_THREADS] = { 0 };
	struct cmh_keycache_stats s;

	run_concurrent(fx, ls);
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(ls[i].err, CMH_OK);
		assert_ptr_equal(ls[i].key, ls[0].key);
		cmh_sig_key_free(ls[i].key);
	}
	s = stats(fx);
	assert_int_equal(s.fetches, 1);
	assert_int_equal(s.waits, N_THREADS - 1);
	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(fake_calls(&fx->fake), 1);
}

static void test_keycache_single_flight_failure(void **state)
{
	struct fixture *fx = *state;
	struct lookup ls[N_THREADS] = { 0 };

	fx->fake.fail = CMH_ERR_TIMEOUT;
	run_concurrent(fx, ls);
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(ls[i].err, CMH_ERR_TIMEOUT);
		assert_null(ls[i].key);
	}
	assert_int_equal(stats(fx).fetch_failures, 1);
	assert_int_equal(stats(fx).entries, 0);
	/* Not cached: the next lookup tries again. */
	fx->fake.fail = CMH_OK;
	assert_int_equal(get(fx, PATH_A), CMH_OK);
	assert_int_equal(fake_calls(&fx->fake), 2);
}

/* ---- authenticate ------------------------------------------------------------ */

static const char body[] = "[{\"event_id\":\"x\",\"event\":{}}]";
#define BODY_LEN (sizeof(body) - 1)

/* The fake serves key 2 at PATH_B and key 1 everywhere else; *ret_s1 and
 * *ret_s2 (when not NULL) are `body` signed by key 1 and 2 (free() them). */
static void serve_two_keys(struct fixture *fx, char **ret_s1, char **ret_s2)
{
	fx->fake.pem = fx->pem1;
	fx->fake.path2 = PATH_B;
	fx->fake.pem2 = fx->pem2;
	if (ret_s1)
		*ret_s1 = sign_body(fx->k1, body, BODY_LEN);
	if (ret_s2)
		*ret_s2 = sign_body(fx->k2, body, BODY_LEN);
}

static void test_keycache_authenticate(void **state)
{
	struct fixture *fx = *state;
	char *s1, *s2;
	struct cmh_buf err;

	serve_two_keys(fx, &s1, &s2);
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);

	/* Pair 1 verifies: key 2 is not even fetched. */
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, s1, PATH_A, s2, PATH_B,
						   &err), CMH_OK);
	assert_int_equal(fx->fake.calls, 1);
	/* Pair 2 alone. */
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, "AAAA", PATH_A, s2,
						   PATH_B, &err), CMH_OK);
	assert_int_equal(fx->fake.calls, 2);
	/* Crossed: sig1 with key 2's path and vice versa. */
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, s2, PATH_A, s1, PATH_B,
						   &err), CMH_ERR_SIGNATURE);
	assert_non_null(strstr(err.data, "does not verify"));
	/* A different body. */
	assert_int_equal(cmh_keycache_authenticate(fx->kc, "[]", 2, s1, PATH_A, s2, PATH_B, &err),
			 CMH_ERR_SIGNATURE);
	/* An invalid path on one pair: the other pair can still authenticate. */
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, s1, "@evil/x.pem", s2,
						   PATH_B, &err), CMH_OK);
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, s1, "@evil/x.pem", s1,
						   PATH_B, &err), CMH_ERR_SIGNATURE);
	/* All four headers are required. */
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, s1, PATH_A, NULL, PATH_B,
						   &err), CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, s1, PATH_A, s2, "",
						   &err), CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, "", PATH_A, s2, PATH_B,
						   &err), CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, s1, NULL, s2, PATH_B,
						   &err), CMH_ERR_SIGNATURE);
	assert_int_equal(fx->fake.calls, 2);
	cmh_buf_release(&err);
	free(s1);
	free(s2);
}

static void test_keycache_authenticate_fetch_failures(void **state)
{
	struct fixture *fx = *state;
	char *s2;
	/* Well-formed signatures that do not verify (garbage is refused before
	 * any fetch, see below). */
	char *bad = sign_body(fx->k1, "other bytes", 11);

	serve_two_keys(fx, NULL, &s2);
	/* Key 1 unreachable, pair 2 verifies: authentic. */
	fx->fake.fail = CMH_ERR_NETWORK;
	fx->fake.fail_suffix = PATH_A;
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, bad, PATH_A, s2,
						   PATH_B, NULL), CMH_OK);
	/* Key 1 unreachable, pair 2 does not verify: transient (503). */
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, bad, PATH_A, bad,
						   PATH_B, NULL), CMH_ERR_NETWORK);
	/* Key 2 unreachable too. */
	fx->fake.fail_suffix = NULL;
	fx->fake.fail = CMH_ERR_UPSTREAM;
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, bad, PATH_A, bad,
						   PATH_C, NULL), CMH_ERR_UPSTREAM);
	/* Key 1 timed out: key 2 is not fetched (Adobe's 10 s would run out). */
	fx->fake.fail = CMH_ERR_TIMEOUT;
	int before = fake_calls(&fx->fake);
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, bad, PATH_A, bad,
						   PATH_C, NULL), CMH_ERR_TIMEOUT);
	assert_int_equal(fake_calls(&fx->fake), before + 1);
	/* Key 1 definitely missing (404), pair 2 bad: not authentic (401). */
	fx->fake.fail = CMH_ERR_NOT_FOUND;
	fx->fake.fail_suffix = PATH_A;
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, bad, PATH_A, bad,
						   PATH_B, NULL), CMH_ERR_SIGNATURE);
	/* Garbage signatures never cause a key fetch. */
	before = fake_calls(&fx->fake);
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, "AAAA", PATH_C,
						   "!!", PATH_C, NULL), CMH_ERR_SIGNATURE);
	assert_int_equal(fake_calls(&fx->fake), before);
	free(bad);
	free(s2);
}

static void test_keycache_authenticate_cached_never_fetches(void **state)
{
	struct fixture *fx = *state;
	char *s1, *s2;
	struct cmh_buf err;

	serve_two_keys(fx, &s1, &s2);
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	/* Nothing cached yet: "go and fetch", without fetching. */
	assert_int_equal(cmh_keycache_authenticate_cached(fx->kc, body, BODY_LEN, s1, PATH_A, s2,
							  PATH_B, &err), CMH_ERR_NOT_FOUND);
	assert_non_null(strstr(err.data, "not cached"));
	assert_int_equal(fx->fake.calls, 0);
	/* Missing headers are a definite no, cached or not. */
	assert_int_equal(cmh_keycache_authenticate_cached(fx->kc, body, BODY_LEN, s1, PATH_A, "",
							  PATH_B, &err), CMH_ERR_SIGNATURE);
	/* Cache key 1 the normal way; then pair 1 decides from the cache. */
	assert_int_equal(cmh_keycache_authenticate(fx->kc, body, BODY_LEN, s1, PATH_A, s2, PATH_B,
						   NULL), CMH_OK);
	assert_int_equal(cmh_keycache_authenticate_cached(fx->kc, body, BODY_LEN, s1, PATH_A, s2,
							  PATH_B, NULL), CMH_OK);
	/* Pair 1 fails and key 2 is not cached: fetch needed. */
	assert_int_equal(cmh_keycache_authenticate_cached(fx->kc, body, BODY_LEN, s2, PATH_A, s2,
							  PATH_B, NULL), CMH_ERR_NOT_FOUND);
	assert_int_equal(cmh_keycache_authenticate_cached(fx->kc, body, BODY_LEN, s1, "/x.pem", s2,
							  PATH_B, NULL), CMH_ERR_NOT_FOUND);
	assert_int_equal(fx->fake.calls, 1);
	/* With both keys cached, a bad delivery is refused without fetching. */
	assert_int_equal(get(fx, PATH_B), CMH_OK);
	assert_int_equal(cmh_keycache_authenticate_cached(fx->kc, body, BODY_LEN, s2, PATH_A, s1,
							  PATH_B, NULL), CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_keycache_authenticate_cached(fx->kc, body, BODY_LEN, s1, "/x.pem", s1,
							  PATH_B, NULL), CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_keycache_authenticate_cached(fx->kc, body, BODY_LEN, "AAAA", PATH_A, s2,
							  PATH_B, NULL), CMH_OK);
	/* Stale entries count as not cached. */
	fx->fake.now += 1000;
	assert_int_equal(cmh_keycache_authenticate_cached(fx->kc, body, BODY_LEN, s1, PATH_A, s2,
							  PATH_B, NULL), CMH_ERR_NOT_FOUND);
	assert_int_equal(fx->fake.calls, 2);
	cmh_buf_release(&err);
	free(s1);
	free(s2);
}

/* ---- production fetch over HTTP --------------------------------------------- */

/* A key host that serves pem at pub-key-ok.pem, with a 201 (created), a
 * redirect (moved), a 404 (missing), a 503 (fail) and an oversized body (big). */
static struct fake_server *start_key_server(const char *pem)
{
	static char big[20000];
	struct fake_server *f = fake_start();
	struct fake_response r = { .status = 200, .body = pem,
				   .headers = "Content-Type: application/x-pem-file" };

	assert_non_null(f);
	fake_push(f, "GET", "/prod/keys/pub-key-ok.pem", &r);
	r.status = 201;
	fake_push(f, "GET", "/prod/keys/pub-key-created.pem", &r);
	r.status = 302;
	r.headers = "Content-Type: application/x-pem-file\nLocation: /prod/keys/pub-key-ok.pem";
	fake_push(f, "GET", "/prod/keys/pub-key-moved.pem", &r);
	memset(big, 'k', sizeof(big) - 1);
	fake_push_json(f, "GET", "/prod/keys/pub-key-big.pem", 200, big);
	fake_push_json(f, "GET", "/prod/keys/pub-key-missing.pem", 404, "not found");
	fake_push_json(f, "GET", "/prod/keys/pub-key-fail.pem", 503, "busy");
	return f;
}

static enum cmh_err http_fetch(uint16_t port, const char *path, struct cmh_buf *pem)
{
	char url[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	cmh_buf_reset(pem);
	return cmh_keycache_fetch_http(url, pem, NULL, NULL);
}

static void test_keycache_fetch_http(void **state)
{
	struct fixture *fx = *state;
	struct cmh_buf pem;
	struct fake_server *f = start_key_server(fx->pem1);
	uint16_t port = fake_port(f), dead;
	int fd = fake_refusing_port(&dead);
	enum cmh_err err;

	cmh_buf_init(&pem, CMH_MAX_KEY_RESPONSE);
	assert_int_equal(http_fetch(port, "/prod/keys/pub-key-ok.pem", &pem), CMH_OK);
	assert_string_equal(pem.data, fx->pem1);
	err = http_fetch(port, "/prod/keys/pub-key-missing.pem", &pem);
	assert_int_equal(err, CMH_ERR_NOT_FOUND);
	assert_false(cmh_err_is_transient(err));
	err = http_fetch(port, "/prod/keys/pub-key-fail.pem", &pem);
	assert_true(cmh_err_is_transient(err));
	assert_int_equal(http_fetch(port, "/prod/keys/pub-key-created.pem", &pem), CMH_ERR_REJECTED);
	/* Redirects are not followed. */
	err = http_fetch(port, "/prod/keys/pub-key-moved.pem", &pem);
	assert_int_not_equal(err, CMH_OK);
	assert_false(cmh_err_is_transient(err));
	assert_int_equal(http_fetch(port, "/prod/keys/pub-key-big.pem", &pem), CMH_ERR_TOO_LARGE);
	err = http_fetch(dead, "/prod/keys/pub-key-ok.pem", &pem);
	assert_true(cmh_err_is_transient(err));
	cmh_buf_release(&pem);
	close(fd);
	fake_stop(f);
}

/* The default fetch end to end: cache over a real HTTP key server. */
static void test_keycache_default_fetch_end_to_end(void **state)
{
	struct fixture *fx = *state;
	struct fake_server *f = start_key_server(fx->pem1);
	struct cmh_keycache_opts o = { .base_url = fake_url(f) };
	struct cmh_keycache *kc;
	char *s1 = sign_body(fx->k1, body, BODY_LEN);
	char *bad = sign_body(fx->k1, "other bytes", 11);
	struct cmh_keycache_stats s;

	assert_int_equal(cmh_keycache_new(&o, &kc), CMH_OK);
	assert_int_equal(cmh_keycache_authenticate(kc, body, BODY_LEN, s1, "/prod/keys/pub-key-ok.pem",
						   bad, "/prod/keys/pub-key-missing.pem", NULL), CMH_OK);
	assert_int_equal(cmh_keycache_authenticate(kc, body, BODY_LEN, bad, "/prod/keys/pub-key-fail.pem",
						   bad, "/prod/keys/pub-key-missing.pem", NULL),
			 CMH_ERR_UPSTREAM);
	assert_int_equal(cmh_keycache_authenticate(kc, body, BODY_LEN, bad, "/prod/keys/pub-key-big.pem",
						   bad, "/prod/keys/pub-key-missing.pem", NULL),
			 CMH_ERR_SIGNATURE);
	cmh_keycache_get_stats(kc, &s);
	assert_int_equal(s.fetches, 5);
	assert_int_equal(s.fetch_failures, 4);
	assert_int_equal(s.entries, 1);
	cmh_keycache_free(kc);
	free(s1);
	free(bad);
	fake_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keycache_miss_then_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keycache_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keycache_ttl_capped_at_24h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keycache_failures_not_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keycache_bad_pem_not_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keycache_invalid_path_never_fetched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keycache_evicts_oldest, setup, teardown),
		cmocka_unit_test(test_keycache_new_validates),
		cmocka_unit_test_setup_teardown(test_keycache_single_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keycache_single_flight_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keycache_authenticate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keycache_authenticate_fetch_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keycache_authenticate_cached_never_fetches, setup, teardown),
		cmocka_unit_test(test_keycache_fetch_http),
		cmocka_unit_test(test_keycache_default_fetch_end_to_end),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
