/*
 * The demo's stand-in for Adobe I/O Events' signing keys: one RSA-2048 key
 * pair generated per run, its SubjectPublicKeyInfo PEM (what the key host
 * serves), two key paths in Adobe's format, and signatures made exactly as
 * io-events-webhook.md §6.1 describes (RSA-SHA256, PKCS#1 v1.5, base64 over
 * the raw body). The daemon verifies them with its own sig.c.
 */
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define KEY_PATH_LEN 80

struct cmh_demo_key {
	EVP_PKEY *pkey;
	char *pem;
	char path[2][KEY_PATH_LEN];
};

void cmh_demo_uuid(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		/* Ids only need to be unique within one demo run. */
		static unsigned counter;

		memset(b, 0, sizeof(b));
		memcpy(b, &counter, sizeof(counter));
		counter++;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static char *public_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *pem = NULL;
	long n;

	if (bio && PEM_write_bio_PUBKEY(bio, pkey) == 1) {
		n = BIO_get_mem_data(bio, &data);
		pem = n > 0 ? strndup(data, (size_t)n) : NULL;
	}
	BIO_free(bio);
	return pem;
}

enum cmh_err cmh_demo_key_new(struct cmh_demo_key **ret, struct cmh_buf *errmsg)
{
	struct cmh_demo_key *k = calloc(1, sizeof(*k));
	char uuid[37];

	if (!k)
		return CMH_ERR_NOMEM;
	k->pkey = EVP_RSA_gen(2048);
	k->pem = k->pkey ? public_pem(k->pkey) : NULL;
	if (!k->pem) {
		cmh_errf(errmsg, "cannot generate the demo's RSA key pair");
		cmh_demo_key_free(k);
		return CMH_ERR_INTERNAL;
	}
	for (unsigned i = 0; i < 2; i++) {
		cmh_demo_uuid(uuid);
		snprintf(k->path[i], KEY_PATH_LEN, "/prod/keys/pub-key-%s.pem", uuid);
	}
	*ret = k;
	return CMH_OK;
}

void cmh_demo_key_free(struct cmh_demo_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->pem);
	free(k);
}

const char *cmh_demo_key_pem(const struct cmh_demo_key *k)
{
	return k->pem;
}

const char *cmh_demo_key_path(const struct cmh_demo_key *k, unsigned i)
{
	return k->path[i ? 1 : 0];
}

enum cmh_err cmh_demo_key_sign(const struct cmh_demo_key *k, const char *body, size_t len,
	struct cmh_buf *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig = NULL, *b64 = NULL;
	size_t siglen = 0;
	enum cmh_err err = CMH_ERR_INTERNAL;

	/* EVP_DigestSign with an RSA key defaults to PKCS#1 v1.5 padding. */
	if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)body, len) != 1)
		goto out;
	sig = malloc(siglen);
	b64 = malloc(4 * ((siglen + 2) / 3) + 1);
	if (!sig || !b64) {
		err = CMH_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)body, len) != 1)
		goto out;
	EVP_EncodeBlock(b64, sig, (int)siglen);
	cmh_buf_reset(out);
	err = cmh_buf_adds(out, (const char *)b64);
out:
	free(sig);
	free(b64);
	EVP_MD_CTX_free(ctx);
	return err;
}

void cmh_demo_deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}
