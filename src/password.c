/* SPDX-License-Identifier: MIT */
/*
 * Password hashes: PBKDF2-HMAC-SHA256 from OpenSSL with a 16-byte random salt
 * and at least 600 000 iterations (OWASP's figure for this function), stored
 * as "$pbkdf2-sha256$ITERATIONS$SALT$HASH" (base64url), compared in constant
 * time. Slow on purpose: call it from worker threads, never an event loop.
 */
#include "password_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_int.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define PREFIX   "$pbkdf2-sha256$"

static bool derive(const char *password, const unsigned char *salt, size_t salt_len,
                   unsigned long iterations, unsigned char out[HASH_LEN])
{
    return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, (int)iterations,
                             EVP_sha256(), HASH_LEN, out) == 1;
}

int wsr__password_hash(const char *password, unsigned long iterations, char **out)
{
    unsigned char salt[SALT_LEN], hash[HASH_LEN];
    wsr__buf_t b;
    int rc;

    *out = NULL;
    if (iterations < WSR__PASSWORD_MIN_ITERATIONS || iterations > 100000000ul)
        return WSR_EINVAL;
    if (RAND_bytes(salt, sizeof(salt)) != 1 ||
        !derive(password, salt, sizeof(salt), iterations, hash))
        return WSR_ETLS;
    wsr__buf_init(&b, 0, 0);
    rc = wsr__buf_printf(&b, PREFIX "%lu$", iterations);
    if (rc == 0)
        rc = wsr__b64url_encode(&b, salt, sizeof(salt));
    if (rc == 0)
        rc = wsr__buf_putc(&b, '$');
    if (rc == 0)
        rc = wsr__b64url_encode(&b, hash, sizeof(hash));
    if (rc == 0)
        rc = wsr__buf_putc(&b, '\0');
    OPENSSL_cleanse(hash, sizeof(hash));
    if (rc != 0) {
        wsr__buf_dispose(&b);
        return rc;
    }
    *out = (char *)b.data;
    return 0;
}

int wsr__password_check(const char *password, const char *stored)
{
    unsigned char hash[HASH_LEN];
    wsr__buf_t salt, want;
    const char *p, *s1, *s2;
    unsigned long iterations;
    char *end;
    int rc = WSR_EAUTH;

    if (strncmp(stored, PREFIX, sizeof(PREFIX) - 1) != 0)
        return WSR_EINVAL;
    p = stored + sizeof(PREFIX) - 1;
    iterations = strtoul(p, &end, 10);
    s1 = end;
    s2 = *s1 == '$' ? strchr(s1 + 1, '$') : NULL;
    if (s2 == NULL || iterations < 1000)
        return WSR_EINVAL;
    wsr__buf_init(&salt, 0, 64);
    wsr__buf_init(&want, 0, 64);
    if (wsr__b64url_decode(&salt, s1 + 1, (size_t)(s2 - s1 - 1)) != 0 ||
        wsr__b64url_decode(&want, s2 + 1, strlen(s2 + 1)) != 0 || want.len != HASH_LEN) {
        rc = WSR_EINVAL;
    } else if (!derive(password, salt.data, salt.len, iterations, hash)) {
        rc = WSR_ETLS;
    } else if (CRYPTO_memcmp(hash, want.data, HASH_LEN) == 0) {
        rc = 0;
    }
    OPENSSL_cleanse(hash, sizeof(hash));
    wsr__buf_dispose(&salt);
    wsr__buf_dispose(&want);
    return rc;
}
