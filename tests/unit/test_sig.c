/*
 * Unit tests for sig.c: the key path matcher (table of hostile inputs), PEM
 * key parsing (RSA only, sizes), strict base64 decoding, and RSA-SHA256
 * verification with sign.h's test keys plus one fixed vector produced by
 * `openssl dgst -sha256 -sign` (tests/data/sig/), i.e. by a different signer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "sig.h"
#include "sign.h"
#include "testdata.h"

/* ---- helpers ------------------------------------------------------------ */

/* The SubjectPublicKeyInfo PEM of pkey, as a heap string. */
static char *pubkey_pem(const EVP_PKEY *pkey)
{
	char *pem = sign_public_pem(pkey);

	assert_non_null(pem);
	return pem;
}

static struct cmh_sig_key *key_of(const struct sign_key *k)
{
	struct cmh_sig_key *key = NULL;
	const char *pem = sign_key_pem(k);

	if (cmh_sig_key_new_from_pem(pem, strlen(pem), &key, NULL) != CMH_OK)
		return NULL;
	return key;
}

static char *b64(const unsigned char *raw, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, raw, (int)n);
	return out;
}

/* Two RSA-2048 key pairs (sign.h's shared keys) for the verification tests. */
struct fixture {
	const struct sign_key *pa, *pb;
	struct cmh_sig_key *ka, *kb;
};

static int setup_keys(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx->pa = sign_key_shared(0);
	fx->pb = sign_key_shared(1);
	fx->ka = key_of(fx->pa);
	fx->kb = key_of(fx->pb);
	if (!fx->ka || !fx->kb)
		return -1;
	*state = fx;
	return 0;
}

static int teardown_keys(void **state)
{
	struct fixture *fx = *state;

	cmh_sig_key_free(fx->ka);
	cmh_sig_key_free(fx->kb);
	free(fx);
	return 0;
}

static const char body[] = "{\"event_id\":\"e1\",\"event\":{\"@type\":\"x\"}}";
#define BODY_LEN (sizeof(body) - 1)

/* ---- key path ------------------------------------------------------------ */

static void test_sig_key_path_accepts_adobe_format(void **state)
{
	static const char *const ok[] = {
		"/prod/keys/pub-key-8ec8d794-e0ab-42df-9017-e3dada8e84f7.pem",
		"/prod/keys/pub-key-a.pem",
		"/prod/keys/pub-key--.pem",
		"/prod/keys/pub-key-ABCdef0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcd.pem",
	};

	(void)state;
	assert_int_equal(strlen(ok[3]), strlen("/prod/keys/pub-key-.pem") + 64);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (!cmh_sig_key_path_valid(ok[i]))
			fail_msg("rejected valid path %s", ok[i]);
	}
}

static void test_sig_key_path_rejects_hostile(void **state)
{
	static const char *const bad[] = {
		"",
		"/",
		"@evil.example/prod/keys/pub-key-a.pem",
		"/prod/keys/pub-key-a.pem@evil.example",
		".evil.example/prod/keys/pub-key-a.pem",
		"//evil.example/prod/keys/pub-key-a.pem",
		"prod/keys/pub-key-a.pem",
		" /prod/keys/pub-key-a.pem",
		"/prod/keys/pub-key-a.pem ",
		"/prod/keys/pub-key-a.pem\n",
		"/prod/keys/../keys/pub-key-a.pem",
		"/prod/keys/pub-key-../a.pem",
		"/prod/keys/pub-key-a/../../x.pem",
		"/prod/keys/pub-key-%2e%2e.pem",
		"/prod/keys/%2e%2e/pub-key-a.pem",
		"/prod/keys/pub-key-a%2Fb.pem",
		"/prod/keys/pub-key-a\\b.pem",
		"\\prod\\keys\\pub-key-a.pem",
		"/prod/keys/pub-key-a.pem?x=1",
		"/prod/keys/pub-key-a?.pem",
		"/prod/keys/pub-key-a.pem#frag",
		"/prod/keys/pub-key-a#.pem",
		"/prod/keys/pub-key-a\0.pem",           /* NUL ends the C string early */
		"/prod/keys/pub-key-.pem",              /* empty id */
		"/prod/keys/pub-key-ABCdef0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcde.pem",
		"/prod/keys/pub-key-a.PEM",
		"/prod/keys/pub-key-a.Pem",
		"/PROD/keys/pub-key-a.pem",
		"/prod/keys/pub-key-a.pem/",
		"/prod/keys/pub-key-a.pem.pem",
		"/prod/keys/pub-key-a.pemx",
		"/prod/keys/pub-key-a_b.pem",
		"/prod/keys/pub-key-a:b.pem",
		"/prod/keys/pub-key-a.b.pem",
		"/prod/keys/pub-key-\xc3\xa4.pem",
		"/prod/keys/pub-key-a",
		"/prod/keys/pub-key-a.",
		"/prod/keys/pub-key-a.pe",
		"/prod//keys/pub-key-a.pem",
		"/stage/keys/pub-key-a.pem",
		"https://static.adobeioevents.com/prod/keys/pub-key-a.pem",
	};
	char longpath[512];

	(void)state;
	assert_false(cmh_sig_key_path_valid(NULL));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cmh_sig_key_path_valid(bad[i]))
			fail_msg("accepted bad path #%zu %s", i, bad[i]);
	}
	/* Over-long: a 300-character id. */
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "/prod/keys/pub-key-", 19);
	memcpy(longpath + 319, ".pem", 5);
	assert_false(cmh_sig_key_path_valid(longpath));
}

/* ---- key parsing --------------------------------------------------------- */

static void test_sig_key_parses_rsa_pem(void **state)
{
	struct fixture *fx = *state;
	struct cmh_sig_key *k = NULL;
	char *pem = pubkey_pem(sign_key_pkey(fx->pa));

	assert_int_equal(cmh_sig_key_new_from_pem(pem, strlen(pem), &k, NULL), CMH_OK);
	assert_int_equal(cmh_sig_key_bits(k), 2048);
	/* References: the key survives one free while a second reference exists. */
	assert_ptr_equal(cmh_sig_key_ref(k), k);
	cmh_sig_key_free(k);
	assert_int_equal(cmh_sig_key_bits(k), 2048);
	cmh_sig_key_free(k);
	cmh_sig_key_free(NULL);
	free(pem);
}

static void test_sig_key_rejects_other_keys(void **state)
{
	struct cmh_sig_key *k = NULL;
	struct cmh_buf err;
	char *ec = testdata_read("sig/ec-pub-key.pem", NULL);
	EVP_PKEY *small = EVP_RSA_gen(1024);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *pem;

	(void)state;
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	assert_int_equal(cmh_sig_key_new_from_pem(ec, strlen(ec), &k, &err), CMH_ERR_REJECTED);
	assert_null(k);
	assert_non_null(strstr(err.data, "not an RSA key"));

	assert_non_null(small);
	pem = pubkey_pem(small);
	assert_int_equal(cmh_sig_key_new_from_pem(pem, strlen(pem), &k, &err), CMH_ERR_REJECTED);
	assert_non_null(strstr(err.data, "1024 bits"));
	free(pem);

	assert_non_null(ed);
	pem = pubkey_pem(ed);
	assert_int_equal(cmh_sig_key_new_from_pem(pem, strlen(pem), &k, NULL), CMH_ERR_REJECTED);
	free(pem);
	assert_null(k);

	EVP_PKEY_free(small);
	EVP_PKEY_free(ed);
	free(ec);
	cmh_buf_release(&err);
}

static void test_sig_key_rejects_malformed_pem(void **state)
{
	struct fixture *fx = *state;
	struct cmh_sig_key *k = NULL;
	char *pem = pubkey_pem(sign_key_pkey(fx->pa));
	BIO *bio = BIO_new(BIO_s_mem());
	char *priv;
	long n;

	assert_int_equal(cmh_sig_key_new_from_pem("", 0, &k, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_sig_key_new_from_pem(NULL, 10, &k, NULL), CMH_ERR_PARSE);
	assert_int_equal(cmh_sig_key_new_from_pem("garbage", 7, &k, NULL), CMH_ERR_PARSE);
	/* Truncated: the first 100 bytes of a good PEM. */
	assert_int_equal(cmh_sig_key_new_from_pem(pem, 100, &k, NULL), CMH_ERR_PARSE);
	/* Corrupted base64 inside the armour. */
	pem[40] = '*';
	assert_int_equal(cmh_sig_key_new_from_pem(pem, strlen(pem), &k, NULL), CMH_ERR_PARSE);
	/* A private key is not a "PUBLIC KEY" block. */
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, sign_key_pkey(fx->pa), NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &priv);
	assert_int_equal(cmh_sig_key_new_from_pem(priv, (size_t)n, &k, NULL), CMH_ERR_PARSE);
	assert_null(k);
	BIO_free(bio);
	free(pem);
}

/* ---- base64 -------------------------------------------------------------- */

static void test_sig_decode_b64_strict(void **state)
{
	static const struct {
		const char *in;
		const char *want; /* NULL: must be rejected */
	} cases[] = {
		{ "QUJD", "ABC" },
		{ "QQ==", "A" },
		{ "QUI=", "AB" },
		{ "", NULL },
		{ "QQ=", NULL },
		{ "QQ", NULL },
		{ "Q===", NULL },
		{ "====", NULL },
		{ "QR==", NULL },          /* non-canonical trailing bits */
		{ "QUJ=", NULL },          /* non-canonical trailing bits */
		{ "QU=D", NULL },
		{ "QQ==QUJD", NULL },      /* padding in the middle */
		{ "QUJD\n", NULL },
		{ "QU JD", NULL },
		{ " QUJD", NULL },
		{ "QUJD ", NULL },
		{ "QU\nJD", NULL },
		{ "-_-_", NULL },          /* URL-safe alphabet */
		{ "QUJD!", NULL },
		{ "QUJ\x80", NULL },
	};
	struct cmh_buf out;
	char big[CMH_SIG_MAX_B64_LEN + 5];

	(void)state;
	cmh_buf_init(&out, 4096);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum cmh_err rc = cmh_sig_decode_b64(cases[i].in, &out);

		if (!cases[i].want) {
			if (rc != CMH_ERR_SIGNATURE)
				fail_msg("accepted %s", cases[i].in);
			continue;
		}
		assert_int_equal(rc, CMH_OK);
		assert_int_equal(out.len, strlen(cases[i].want));
		assert_memory_equal(out.data, cases[i].want, out.len);
	}
	assert_int_equal(cmh_sig_decode_b64(NULL, &out), CMH_ERR_SIGNATURE);
	/* Boundary: exactly the maximum length decodes; 4 more characters don't. */
	memset(big, 'A', sizeof(big));
	big[CMH_SIG_MAX_B64_LEN] = '\0';
	assert_int_equal(cmh_sig_decode_b64(big, &out), CMH_OK);
	assert_int_equal(out.len, CMH_SIG_MAX_B64_LEN / 4 * 3);
	big[CMH_SIG_MAX_B64_LEN] = 'A';
	big[CMH_SIG_MAX_B64_LEN + 4] = '\0';
	assert_int_equal(cmh_sig_decode_b64(big, &out), CMH_ERR_SIGNATURE);
	cmh_buf_release(&out);
}

/* ---- verification -------------------------------------------------------- */

static void test_sig_verify_delivery_either_signature(void **state)
{
	struct fixture *fx = *state;
	char *sa = sign_body(fx->pa, body, BODY_LEN);
	char *sb = sign_body(fx->pb, body, BODY_LEN);

	/* sig1 only, sig2 only, both. */
	assert_int_equal(cmh_sig_verify_delivery(body, BODY_LEN, sa, fx->ka, NULL, NULL), CMH_OK);
	assert_int_equal(cmh_sig_verify_delivery(body, BODY_LEN, NULL, NULL, sb, fx->kb), CMH_OK);
	assert_int_equal(cmh_sig_verify_delivery(body, BODY_LEN, sa, fx->ka, sb, fx->kb), CMH_OK);
	/* One good, one garbage, in either slot. */
	assert_int_equal(cmh_sig_verify_delivery(body, BODY_LEN, "AAAA", fx->ka, sb, fx->kb), CMH_OK);
	assert_int_equal(cmh_sig_verify_delivery(body, BODY_LEN, sa, fx->ka, "!!", fx->kb), CMH_OK);
	/* Neither. */
	assert_int_equal(cmh_sig_verify_delivery(body, BODY_LEN, "AAAA", fx->ka, "AAAA", fx->kb),
			 CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_sig_verify_delivery(body, BODY_LEN, NULL, NULL, NULL, NULL),
			 CMH_ERR_SIGNATURE);
	/* A good signature with a NULL key does not count. */
	assert_int_equal(cmh_sig_verify_delivery(body, BODY_LEN, sa, NULL, sb, NULL),
			 CMH_ERR_SIGNATURE);
	/* Each signature only with its own key: sig1 with key2 and vice versa fail. */
	assert_int_equal(cmh_sig_verify_delivery(body, BODY_LEN, sa, fx->kb, sb, fx->ka),
			 CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, sa, fx->kb), CMH_ERR_SIGNATURE);
	free(sa);
	free(sb);
}

static void test_sig_verify_detects_changes(void **state)
{
	struct fixture *fx = *state;
	char copy[sizeof(body)];
	char *sa = sign_body(fx->pa, body, BODY_LEN);
	char *other = sign_body(fx->pa, "{}", 2);

	assert_int_equal(cmh_sig_verify(body, BODY_LEN, sa, fx->ka), CMH_OK);
	/* Flip every byte of the body in turn: none may still verify. */
	for (size_t i = 0; i < BODY_LEN; i++) {
		memcpy(copy, body, sizeof(body));
		copy[i] ^= 0x01;
		assert_int_equal(cmh_sig_verify(copy, BODY_LEN, sa, fx->ka), CMH_ERR_SIGNATURE);
	}
	/* Prefix and extension of the body. */
	assert_int_equal(cmh_sig_verify(body, BODY_LEN - 1, sa, fx->ka), CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_sig_verify(body, BODY_LEN + 1, sa, fx->ka), CMH_ERR_SIGNATURE);
	/* A valid signature over different bytes. */
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, other, fx->ka), CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_sig_verify("{}", 2, other, fx->ka), CMH_OK);
	free(sa);
	free(other);
}

static void test_sig_verify_rejects_malformed_signatures(void **state)
{
	struct fixture *fx = *state;
	char *sa = sign_body(fx->pa, body, BODY_LEN);
	char *trunc = sign_body_cut(fx->pa, body, BODY_LEN, 255);
	size_t n = strlen(sa);
	char *mod = strdup(sa);
	char *ws;

	assert_non_null(mod);
	assert_int_equal(n, 344);
	/* Signature one byte short of the modulus (decodes, wrong length). */
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, trunc, fx->ka), CMH_ERR_SIGNATURE);
	/* Base64 text cut short. */
	mod[n - 4] = '\0';
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, mod, fx->ka), CMH_ERR_SIGNATURE);
	mod[n - 4] = sa[n - 4];
	mod[n - 1] = '\0';
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, mod, fx->ka), CMH_ERR_SIGNATURE);
	/* Non-base64 characters, line breaks, surrounding whitespace. */
	memcpy(mod, sa, n + 1);
	mod[10] = '*';
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, mod, fx->ka), CMH_ERR_SIGNATURE);
	assert_true(asprintf(&ws, " %s", sa) > 0);
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, ws, fx->ka), CMH_ERR_SIGNATURE);
	free(ws);
	assert_true(asprintf(&ws, "%s\n", sa) > 0);
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, ws, fx->ka), CMH_ERR_SIGNATURE);
	free(ws);
	assert_true(asprintf(&ws, "%.64s\n%s", sa, sa + 64) > 0);
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, ws, fx->ka), CMH_ERR_SIGNATURE);
	free(ws);
	/* A flipped bit inside the signature. */
	memcpy(mod, sa, n + 1);
	mod[100] = mod[100] == 'A' ? 'B' : 'A';
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, mod, fx->ka), CMH_ERR_SIGNATURE);
	/* Empty and NULL inputs. */
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, "", fx->ka), CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, NULL, fx->ka), CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_sig_verify(NULL, 5, sa, fx->ka), CMH_ERR_SIGNATURE);
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, sa, NULL), CMH_ERR_SIGNATURE);
	free(sa);
	free(trunc);
	free(mod);
}

static void test_sig_verify_empty_body(void **state)
{
	struct fixture *fx = *state;
	char *s = sign_body(fx->pa, "", 0);

	assert_int_equal(cmh_sig_verify(NULL, 0, s, fx->ka), CMH_OK);
	assert_int_equal(cmh_sig_verify("x", 1, s, fx->ka), CMH_ERR_SIGNATURE);
	free(s);
}

/* PSS is not what Adobe uses: a PSS signature by the same key must fail. */
static void test_sig_verify_rejects_pss(void **state)
{
	struct fixture *fx = *state;
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *s;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, sign_key_pkey(fx->pa)), 1);
	assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)body, BODY_LEN), 1);
	EVP_MD_CTX_free(ctx);
	s = b64(sig, siglen);
	assert_int_equal(cmh_sig_verify(body, BODY_LEN, s, fx->ka), CMH_ERR_SIGNATURE);
	free(s);
}

/* A vector signed by the openssl command line, as Adobe's Java/Node signers
 * would: SHA256withRSA over the file bytes. */
static void test_sig_verify_fixed_vector(void **state)
{
	size_t pem_len, body_len;
	char *pem = testdata_read("sig/pub-key-fixture.pem", &pem_len);
	char *data = testdata_read("sig/body.json", &body_len);
	char *sig = testdata_read("sig/body.json.sig1.b64", NULL);
	struct cmh_sig_key *k = NULL;

	(void)state;
	assert_int_equal(cmh_sig_key_new_from_pem(pem, pem_len, &k, NULL), CMH_OK);
	assert_int_equal(cmh_sig_verify(data, body_len, sig, k), CMH_OK);
	assert_int_equal(cmh_sig_verify_delivery(data, body_len, "AAAA", k, sig, k), CMH_OK);
	data[body_len / 2] ^= 0x20;
	assert_int_equal(cmh_sig_verify(data, body_len, sig, k), CMH_ERR_SIGNATURE);
	cmh_sig_key_free(k);
	free(pem);
	free(data);
	free(sig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sig_key_path_accepts_adobe_format),
		cmocka_unit_test(test_sig_key_path_rejects_hostile),
		cmocka_unit_test(test_sig_key_parses_rsa_pem),
		cmocka_unit_test(test_sig_key_rejects_other_keys),
		cmocka_unit_test(test_sig_key_rejects_malformed_pem),
		cmocka_unit_test(test_sig_decode_b64_strict),
		cmocka_unit_test(test_sig_verify_delivery_either_signature),
		cmocka_unit_test(test_sig_verify_detects_changes),
		cmocka_unit_test(test_sig_verify_rejects_malformed_signatures),
		cmocka_unit_test(test_sig_verify_empty_body),
		cmocka_unit_test(test_sig_verify_rejects_pss),
		cmocka_unit_test(test_sig_verify_fixed_vector),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
