/*
 * The test side of Adobe's webhook signatures: key pairs made with
 * EVP_RSA_gen, public keys exported as SubjectPublicKeyInfo PEM (what
 * static.adobeioevents.com serves), and RSA-SHA256 PKCS#1 v1.5 signatures
 * over raw body bytes, base64-encoded with EVP_EncodeBlock. Independent of
 * src/core/sig.c on purpose: a shared mistake could not be caught otherwise.
 */
#include "sign.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "fake_server.h"
#include "tmp.h"

struct sign_key {
	EVP_PKEY *pkey;
	char *pem;
	char path[96];
};

char *sign_public_pem(const EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *pem = NULL;
	long len;

	if (!bio)
		return NULL;
	if (PEM_write_bio_PUBKEY(bio, pkey) == 1) {
		len = BIO_get_mem_data(bio, &data);
		if (len > 0) {
			pem = tmp_xmalloc((size_t)len + 1);
			memcpy(pem, data, (size_t)len);
			pem[len] = '\0';
		}
	}
	BIO_free(bio);
	return pem;
}

struct sign_key *sign_key_new(void)
{
	struct sign_key *k = tmp_xmalloc(sizeof(*k));
	char uuid[37];

	memset(k, 0, sizeof(*k));
	k->pkey = EVP_RSA_gen(2048);
	if (!k->pkey)
		goto fail;
	k->pem = sign_public_pem(k->pkey);
	if (!k->pem)
		goto fail;
	tmp_uuid(uuid);
	(void)snprintf(k->path, sizeof(k->path), "/prod/keys/pub-key-%s.pem", uuid);
	return k;
fail:
	sign_key_free(k);
	return NULL;
}

void sign_key_free(struct sign_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->pem);
	free(k);
}

static struct sign_key *shared[SIGN_SHARED_KEYS];
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

const struct sign_key *sign_key_shared(unsigned i)
{
	struct sign_key *k;

	if (i >= SIGN_SHARED_KEYS)
		abort();
	(void)pthread_mutex_lock(&shared_lock);
	if (!shared[i])
		shared[i] = sign_key_new();
	k = shared[i];
	(void)pthread_mutex_unlock(&shared_lock);
	if (!k)
		abort();
	return k;
}

const char *sign_key_pem(const struct sign_key *k)
{
	return k->pem;
}

const char *sign_key_path(const struct sign_key *k)
{
	return k->path;
}

EVP_PKEY *sign_key_pkey(const struct sign_key *k)
{
	return k->pkey;
}

char *sign_body(const struct sign_key *k, const char *body, size_t len)
{
	return sign_body_cut(k, body, len, SIZE_MAX);
}

char *sign_body_cut(const struct sign_key *k, const char *body, size_t len, size_t keep)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *b64 = NULL;

	if (!ctx)
		abort();
	/* EVP_DigestSign with an RSA key and no padding option is PKCS#1 v1.5, like Adobe's. */
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)body, len) != 1)
		abort();
	sig = tmp_xmalloc(siglen);
	if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)body, len) != 1)
		abort();
	if (keep < siglen)
		siglen = keep;
	b64 = tmp_xmalloc(4 * ((siglen + 2) / 3) + 1);
	(void)EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	free(sig);
	EVP_MD_CTX_free(ctx);
	return b64;
}

void sign_key_serve(const struct sign_key *k, struct fake_server *keyhost)
{
	struct fake_response r = {
		.status = 200,
		.headers = "Content-Type: application/x-pem-file",
		.body = k->pem,
	};

	fake_push(keyhost, "GET", k->path, &r);
}
