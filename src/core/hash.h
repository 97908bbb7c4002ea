/*
 * Small digest helpers over OpenSSL's EVP interface: SHA-256 and a short
 * fingerprint that lets logs correlate a secret or token without showing it.
 */
#ifndef CMH_HASH_H
#define CMH_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CMH_SHA256_LEN 32
#define CMH_FINGERPRINT_LEN 12 /* hex characters */

void cmh_sha256(const void *data, size_t len, uint8_t out[CMH_SHA256_LEN]);
/* First 6 bytes of SHA-256 as 12 lowercase hex characters plus NUL. */
void cmh_fingerprint(const void *data, size_t len, char out[CMH_FINGERPRINT_LEN + 1]);

#endif
