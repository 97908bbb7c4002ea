/*
 * Webhook signature checks over OpenSSL 3's EVP interface: the key path
 * matcher, PEM public key parsing restricted to RSA, strict base64 decoding
 * of the signature headers and RSA-SHA256 PKCS#1 v1.5 verification over the
 * raw body. Where keys come from (fetching, caching) is keycache.c's concern;
 * what a body means is webhook.c's.
 */
#include "sig.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

struct cmh_sig_key {
	atomic_int refs;
	EVP_PKEY *pkey;
};

#define KEY_PATH_PREFIX "/prod/keys/pub-key-"
#define KEY_PATH_SUFFIX ".pem"
#define KEY_PATH_MAX_ID 64

static bool is_key_id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

bool cmh_sig_key_path_valid(const char *path)
{
	size_t n = 0;

	if (!path || strncmp(path, KEY_PATH_PREFIX, strlen(KEY_PATH_PREFIX)) != 0)
		return false;
	path += strlen(KEY_PATH_PREFIX);
	while (n <= KEY_PATH_MAX_ID && is_key_id_char(path[n]))
		n++;
	if (n < 1 || n > KEY_PATH_MAX_ID)
		return false;
	/* Exactly ".pem" and the end of the string: no query, no fragment. */
	return strcmp(path + n, KEY_PATH_SUFFIX) == 0;
}

static enum cmh_err check_key_type(EVP_PKEY *pkey, struct cmh_buf *errmsg)
{
	int bits;

	/* EVP_PKEY_RSA only: Adobe signs with plain RSA (PKCS#1 v1.5); an
	 * RSA-PSS or EC key at that URL would mean something is wrong. */
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		cmh_errf(errmsg, "public key is not an RSA key (type %d)", EVP_PKEY_get_base_id(pkey));
		return CMH_ERR_REJECTED;
	}
	bits = EVP_PKEY_get_bits(pkey);
	if (bits < CMH_SIG_MIN_KEY_BITS || bits > CMH_SIG_MAX_KEY_BITS) {
		cmh_errf(errmsg, "RSA key of %d bits outside %d..%d", bits,
			 CMH_SIG_MIN_KEY_BITS, CMH_SIG_MAX_KEY_BITS);
		return CMH_ERR_REJECTED;
	}
	return CMH_OK;
}

enum cmh_err cmh_sig_key_new_from_pem(const char *pem, size_t len,
	struct cmh_sig_key **ret_key, struct cmh_buf *errmsg)
{
	enum cmh_err err = CMH_OK;
	struct cmh_sig_key *key = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;

	if (!pem || len == 0 || len > INT32_MAX) {
		cmh_errf(errmsg, "empty or oversized PEM input");
		return CMH_ERR_PARSE;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		err = CMH_ERR_NOMEM;
		goto out;
	}
	/* PEM_read_bio_PUBKEY reads only "BEGIN PUBLIC KEY" (SPKI), the format
	 * Adobe publishes (the SDK passes type 'spki'). */
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!pkey) {
		cmh_errf(errmsg, "not a PEM public key (SubjectPublicKeyInfo)");
		err = CMH_ERR_PARSE;
		goto out;
	}
	err = check_key_type(pkey, errmsg);
	if (err)
		goto out;
	key = malloc(sizeof(*key));
	if (!key) {
		err = CMH_ERR_NOMEM;
		goto out;
	}
	atomic_init(&key->refs, 1);
	key->pkey = pkey;
	pkey = NULL;
	*ret_key = key;
out:
	/* Failed parses leave entries in this thread's OpenSSL error queue;
	 * drop them so they cannot be mistaken for a later call's errors. */
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return err;
}

struct cmh_sig_key *cmh_sig_key_ref(struct cmh_sig_key *key)
{
	atomic_fetch_add_explicit(&key->refs, 1, memory_order_relaxed);
	return key;
}

void cmh_sig_key_free(struct cmh_sig_key *key)
{
	if (!key)
		return;
	if (atomic_fetch_sub_explicit(&key->refs, 1, memory_order_acq_rel) != 1)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

int cmh_sig_key_bits(const struct cmh_sig_key *key)
{
	return EVP_PKEY_get_bits(key->pkey);
}

static bool is_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Number of '=' padding characters, or -1 when the syntax is not strict
 * base64 (foreign bytes, '=' inside, length not a multiple of 4). */
static int b64_padding(const char *s, size_t n)
{
	size_t i, pad = 0;

	if (n == 0 || n % 4 != 0)
		return -1;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n - pad; i++) {
		if (!is_b64_char(s[i]))
			return -1;
	}
	return (int)pad;
}

enum cmh_err cmh_sig_decode_b64(const char *b64, struct cmh_buf *out)
{
	unsigned char raw[CMH_SIG_MAX_B64_LEN / 4 * 3];
	char again[CMH_SIG_MAX_B64_LEN + 1];
	size_t n;
	int pad, got;

	cmh_buf_reset(out);
	if (!b64)
		return CMH_ERR_SIGNATURE;
	n = strnlen(b64, CMH_SIG_MAX_B64_LEN + 1);
	if (n > CMH_SIG_MAX_B64_LEN)
		return CMH_ERR_SIGNATURE;
	pad = b64_padding(b64, n);
	if (pad < 0)
		return CMH_ERR_SIGNATURE;
	got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	if (got < pad)
		return CMH_ERR_SIGNATURE;
	got -= pad; /* EVP_DecodeBlock counts the zero bytes padding stands for */
	/* Canonical form only: re-encoding must give back the input exactly,
	 * which rejects non-zero bits hidden in the last character. */
	if (EVP_EncodeBlock((unsigned char *)again, raw, got) != (int)n ||
	    memcmp(again, b64, n) != 0)
		return CMH_ERR_SIGNATURE;
	return cmh_buf_add(out, raw, (size_t)got);
}

static enum cmh_err verify_raw(const void *body, size_t len, const unsigned char *sig,
	size_t sig_len, EVP_PKEY *pkey)
{
	enum cmh_err err = CMH_ERR_INTERNAL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx)
		return CMH_ERR_NOMEM;
	if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pkey) != 1)
		goto out;
	/* PKCS#1 v1.5 is OpenSSL's default for RSA; set it anyway so that a
	 * changed default can never silently switch us to PSS. */
	if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
		goto out;
	if (len > 0 && EVP_DigestVerifyUpdate(ctx, body, len) != 1)
		goto out;
	/* 1 is success; 0 and negative values both mean "not this signature". */
	err = EVP_DigestVerifyFinal(ctx, sig, sig_len) == 1 ? CMH_OK : CMH_ERR_SIGNATURE;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return err;
}

enum cmh_err cmh_sig_verify(const void *body, size_t len, const char *sig_b64,
	const struct cmh_sig_key *key)
{
	struct cmh_buf sig;
	enum cmh_err err;

	if (!key || !sig_b64 || (!body && len > 0))
		return CMH_ERR_SIGNATURE;
	cmh_buf_init(&sig, CMH_SIG_MAX_B64_LEN);
	err = cmh_sig_decode_b64(sig_b64, &sig);
	if (err)
		goto out;
	/* An RSA signature is exactly as long as the modulus. */
	if (sig.len != (size_t)EVP_PKEY_get_size(key->pkey)) {
		err = CMH_ERR_SIGNATURE;
		goto out;
	}
	err = verify_raw(body, len, (const unsigned char *)sig.data, sig.len, key->pkey);
out:
	cmh_buf_release(&sig);
	return err;
}

enum cmh_err cmh_sig_verify_delivery(const void *body, size_t len,
	const char *sig1, const struct cmh_sig_key *key1,
	const char *sig2, const struct cmh_sig_key *key2)
{
	enum cmh_err e1, e2;

	e1 = cmh_sig_verify(body, len, sig1, key1);
	if (e1 == CMH_OK)
		return CMH_OK;
	e2 = cmh_sig_verify(body, len, sig2, key2);
	if (e2 == CMH_OK)
		return CMH_OK;
	/* Neither verified. Report a local failure (memory, OpenSSL) rather than
	 * "bad signature": the receiver should answer 503, not 401, for it. */
	if (e1 != CMH_ERR_SIGNATURE)
		return e1;
	if (e2 != CMH_ERR_SIGNATURE)
		return e2;
	return CMH_ERR_SIGNATURE;
}
