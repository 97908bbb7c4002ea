/*
 * libFuzzer target for sig.c. Input: "<key path>\n<signature header>\n<body>".
 * Checks the key path matcher against an independent POSIX regex of the same
 * pattern, that strict base64 decoding round-trips, and runs verification of
 * the body against a fixed RSA key (tests/data/sig/pub-key-fixture.pem; the
 * seed corpus holds one delivery that verifies). Inputs starting with "-----"
 * are also fed to the PEM key parser.
 */
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sig.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixture_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA4mJ6soNLFtqfmuU89vBU\n"
	"kNGMXvVaNyYkoFIBZ5DqVGKcJ0eosY4AEkmxMs80I5VlM2SeuBMwnV7eYdymIakg\n"
	"QWLr3PDI1NLNE2jKFP3fnMGrqi0fl5d7DAaoQDqxaHI1itAW1h75RYXs3kgnBp/Z\n"
	"tAeczw+xbMg5WCV/7WbnOinOwj8n8wHVk1goDHGwSROG2MhvlDLH16lqpbruU/v0\n"
	"EIbjHKvb8W1aC18NdsqT9FedQ4kvvfIHcKiUrtyTEzs6lQicit5eVuZmz+Bdxqq6\n"
	"Ft4ni4Dtv4MngbV0ufrGNmusJGa7U8ZYSM2TiJhwRrenk52UYOp8Sm4P0b8lp2IU\n"
	"lQIDAQAB\n"
	"-----END PUBLIC KEY-----\n";

static struct cmh_sig_key *key;
static regex_t path_re;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (cmh_sig_key_new_from_pem(fixture_pem, sizeof(fixture_pem) - 1, &key, NULL) != CMH_OK)
		abort();
	/* The C locale makes the ranges plain ASCII. */
	if (regcomp(&path_re, "^/prod/keys/pub-key-[A-Za-z0-9-]{1,64}\\.pem$",
		    REG_EXTENDED | REG_NOSUB) != 0)
		abort();
	return 0;
}

/* Next '\n'-terminated field of [*p, end) as a NUL-terminated copy. */
static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += nl ? n + 1 : n;
	return s;
}

static void check_path(const char *path)
{
	bool ours = cmh_sig_key_path_valid(path);
	bool theirs = regexec(&path_re, path, 0, NULL, 0) == 0;

	if (ours != theirs) {
		fprintf(stderr, "key path disagreement (ours %d, regex %d)\n", ours, theirs);
		abort();
	}
}

static void check_b64(const char *sig)
{
	struct cmh_buf raw;
	char *again;

	cmh_buf_init(&raw, 4096);
	if (cmh_sig_decode_b64(sig, &raw) == CMH_OK) {
		/* Strict decoding accepts only the canonical encoding. */
		again = malloc(4 * ((raw.len + 2) / 3) + 1);
		if (!again)
			abort();
		EVP_EncodeBlock((unsigned char *)again, (const unsigned char *)raw.data, (int)raw.len);
		if (strcmp(again, sig) != 0)
			abort();
		free(again);
	}
	cmh_buf_release(&raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct cmh_sig_key *k = NULL;
	char *path, *sig;
	enum cmh_err err;

	if (size >= 5 && memcmp(data, "-----", 5) == 0) {
		if (cmh_sig_key_new_from_pem((const char *)data, size, &k, NULL) == CMH_OK &&
		    cmh_sig_key_bits(k) < CMH_SIG_MIN_KEY_BITS)
			abort();
		cmh_sig_key_free(k);
	}
	path = field(&p, end);
	sig = field(&p, end);
	check_path(path);
	check_b64(sig);
	err = cmh_sig_verify_delivery(p, (size_t)(end - p), sig, key, NULL, NULL);
	if (err != CMH_OK && err != CMH_ERR_SIGNATURE)
		abort();
	free(path);
	free(sig);
	return 0;
}
