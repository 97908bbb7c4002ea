/*
 * Signing webhook deliveries the way Adobe I/O Events does
 * (reference/io-events-webhook.md §6.1): an RSA-2048 key pair per signing
 * key, the PEM public key served by a fake key host at
 * /prod/keys/pub-key-<uuid>.pem, and base64 RSA-SHA256 PKCS#1 v1.5
 * signatures over the exact body bytes.
 *
 * Key generation is slow on a loaded machine, so sign_key_shared() hands out
 * a few process-wide keys generated on first use; they live until exit.
 * Thread-safety: sign_key_shared() and sign_body() may be called from any
 * thread; a key from sign_key_new() is immutable after creation.
 */
#ifndef CMH_TEST_SIGN_H
#define CMH_TEST_SIGN_H

#include <stddef.h>

#include <openssl/types.h>

struct fake_server;
struct sign_key;

/* A fresh RSA-2048 key with a fresh key path; NULL on failure. */
struct sign_key *sign_key_new(void);
void sign_key_free(struct sign_key *k);

/* Process-wide key number i (0 <= i < SIGN_SHARED_KEYS); aborts on failure. */
#define SIGN_SHARED_KEYS 3
const struct sign_key *sign_key_shared(unsigned i);

/* "-----BEGIN PUBLIC KEY-----..." (SubjectPublicKeyInfo), NUL-terminated. */
const char *sign_key_pem(const struct sign_key *k);
/* "/prod/keys/pub-key-<uuid>.pem": the x-adobe-public-keyN-path value. */
const char *sign_key_path(const struct sign_key *k);

/* base64(RSA-SHA256-PKCS1v15(body[0..len))) as a new string (free() it); aborts on failure. */
char *sign_body(const struct sign_key *k, const char *body, size_t len);
/* The same over only the first `keep` bytes of the signature: a truncated signature. */
char *sign_body_cut(const struct sign_key *k, const char *body, size_t len, size_t keep);

/* The key pair itself (borrowed, valid as long as k), for tests that sign differently. */
EVP_PKEY *sign_key_pkey(const struct sign_key *k);
/* The SubjectPublicKeyInfo PEM of any public key, as a new string (free() it); NULL on failure. */
char *sign_public_pem(const EVP_PKEY *pkey);

/* Append a 200 answer with the PEM at GET sign_key_path(k) to the fake key host. */
void sign_key_serve(const struct sign_key *k, struct fake_server *keyhost);

#endif
