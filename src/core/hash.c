/* SHA-256 and fingerprints; the only place outside sig.c that touches OpenSSL digests. */
#include "hash.h"

#include <openssl/evp.h>

#include "err.h"

void cmh_sha256(const void *data, size_t len, uint8_t out[CMH_SHA256_LEN])
{
	unsigned int n = 0;

	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != CMH_SHA256_LEN)
		CMH_BUG("EVP_Digest(sha256) failed");
}

void cmh_fingerprint(const void *data, size_t len, char out[CMH_FINGERPRINT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[CMH_SHA256_LEN];

	cmh_sha256(data, len, d);
	for (int i = 0; i < CMH_FINGERPRINT_LEN / 2; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[CMH_FINGERPRINT_LEN] = '\0';
}
