/*
 * Adobe I/O Events digital signatures (reference/io-events-webhook.md §6):
 * every delivery carries two base64 RSA-SHA256 (PKCS#1 v1.5) signatures over
 * the raw body, each with the relative path of the public key that checks it.
 * This module validates those key paths, parses PEM public keys and verifies
 * signatures. It is pure (no I/O): fetching and caching keys is keycache.c's
 * job. It is the only module that does RSA.
 *
 * Thread-safety: all functions may be called from any thread; a struct
 * cmh_sig_key is immutable after creation and may be used by several threads
 * at once (it is reference counted, see cmh_sig_key_ref()).
 */
#ifndef CMH_SIG_H
#define CMH_SIG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Key sizes we accept. Adobe's key size is not documented; 2048 bits is what
 * is seen. The upper bound caps the verification cost an input can cause. */
#define CMH_SIG_MIN_KEY_BITS 2048
#define CMH_SIG_MAX_KEY_BITS 8192
/* Longest signature header value considered at all: base64 of an 8192-bit
 * signature is 1368 characters. */
#define CMH_SIG_MAX_B64_LEN 1368

/* An RSA public key, opaque. */
struct cmh_sig_key;

/*
 * True when path matches ^/prod/keys/pub-key-[A-Za-z0-9-]{1,64}\.pem$ exactly
 * (the observed format of x-adobe-public-key{1,2}-path). This is what keeps a
 * header from steering the key fetch to another host ("@evil", ".evil",
 * "//evil"), another path ("..", "%2e") or adding a query. NULL -> false.
 */
bool cmh_sig_key_path_valid(const char *path);

/*
 * Parse a PEM "BEGIN PUBLIC KEY" (SubjectPublicKeyInfo) block. Only RSA keys
 * (EVP_PKEY_RSA, not RSA-PSS) of CMH_SIG_MIN_KEY_BITS..CMH_SIG_MAX_KEY_BITS
 * are accepted. On success *ret_key is a new key with one reference, to be
 * released with cmh_sig_key_free(). Errors: CMH_ERR_PARSE (not a PEM public
 * key), CMH_ERR_REJECTED (a key of another type or size), CMH_ERR_NOMEM;
 * *ret_key is untouched then and errmsg says why.
 */
CMH_MUST_CHECK enum cmh_err cmh_sig_key_new_from_pem(const char *pem, size_t len,
	struct cmh_sig_key **ret_key, struct cmh_buf *errmsg);

/* Take another reference to key (thread-safe); returns key. */
struct cmh_sig_key *cmh_sig_key_ref(struct cmh_sig_key *key);

/* Drop one reference; the last one frees the key. NULL is a no-op. */
void cmh_sig_key_free(struct cmh_sig_key *key);

/* The key's size in bits (what the signature length must correspond to). */
int cmh_sig_key_bits(const struct cmh_sig_key *key);

/*
 * Decode a signature header value strictly: standard base64 alphabet, '='
 * padding only at the end, length a multiple of 4, canonical encoding, no
 * whitespace, at most CMH_SIG_MAX_B64_LEN characters. On success out holds the
 * raw signature bytes (out is reset first). CMH_ERR_SIGNATURE otherwise
 * (out's content is unspecified then), CMH_ERR_NOMEM.
 */
CMH_MUST_CHECK enum cmh_err cmh_sig_decode_b64(const char *b64, struct cmh_buf *out);

/*
 * Verify one base64 signature sig_b64 over body[0..len) with key, RSA-SHA256
 * with PKCS#1 v1.5 padding. The decoded signature must be exactly as long as
 * the key's modulus. Returns CMH_OK when it verifies, CMH_ERR_SIGNATURE when
 * it does not (bad base64, wrong length, wrong signature; also when key or
 * sig_b64 is NULL), CMH_ERR_NOMEM or CMH_ERR_INTERNAL when OpenSSL could not
 * even try. body may be NULL when len is 0.
 */
CMH_MUST_CHECK enum cmh_err cmh_sig_verify(const void *body, size_t len, const char *sig_b64,
	const struct cmh_sig_key *key);

/*
 * Adobe's rule: a delivery is authentic when signature 1 verifies with key 1
 * or signature 2 verifies with key 2 (never sig1 with key2). A NULL signature
 * or key counts as "does not verify". Returns CMH_OK when authentic,
 * CMH_ERR_SIGNATURE when neither verifies, and CMH_ERR_NOMEM/INTERNAL when
 * neither verified and at least one check could not be carried out.
 */
CMH_MUST_CHECK enum cmh_err cmh_sig_verify_delivery(const void *body, size_t len,
	const char *sig1, const struct cmh_sig_key *key1,
	const char *sig2, const struct cmh_sig_key *key2);

#endif
