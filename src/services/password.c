/* SPDX-License-Identifier: MIT */
/*
 * Password hashes: PBKDF2-HMAC-SHA256 from OpenSSL with a 16-byte random salt
 * and at least 600 000 iterations (OWASP's figure for this function), stored
 * as "$pbkdf2-sha256$ITERATIONS$SALT$HASH" (base64url), compared in constant
 * time. Slow on purpose: call it from worker threads, never an event loop.
 */
#include "services/password_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "services/jwt_int.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define PREFIX   "$pbkdf2-sha256$"

const char wsr__password_dummy[] = PREFIX WSR__PASSWORD_ITERATIONS_TEXT
    "$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

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
    if (iterations < WSR__PASSWORD_MIN_ITERATIONS || iterations > WSR__PASSWORD_MAX_ITERATIONS)
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

/*
 * Reads the iteration count: digits only, no sign, blank or leading zero, at
 * most WSR__PASSWORD_MAX_ITERATIONS. strtoul alone took " 1000", "+1000" and
 * "-4294966296" (negated modulo 2^64), and a count past INT_MAX wrapped in
 * PBKDF2's int: "4294968296" hashed 1000 times. Returns 0 when it is wrong.
 */
static unsigned long read_iterations(const char *p, const char **end)
{
    unsigned long v = 0;

    *end = p;
    if (*p < '1' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > WSR__PASSWORD_MAX_ITERATIONS)
            return 0;
    }
    *end = p;
    return v;
}

int wsr__password_check(const char *password, const char *stored)
{
    unsigned char hash[HASH_LEN];
    wsr__buf_t salt, want;
    const char *p, *s1, *s2;
    unsigned long iterations;
    int rc = WSR_EAUTH, rs, rw;

    if (strncmp(stored, PREFIX, sizeof(PREFIX) - 1) != 0)
        return WSR_EINVAL;
    p = stored + sizeof(PREFIX) - 1;
    iterations = read_iterations(p, &s1);
    s2 = *s1 == '$' ? strchr(s1 + 1, '$') : NULL;
    if (s2 == NULL || iterations < 1000)
        return WSR_EINVAL;
    wsr__buf_init(&salt, 0, 64);
    wsr__buf_init(&want, 0, 64);
    rs = wsr__b64url_decode(&salt, s1 + 1, (size_t)(s2 - s1 - 1));
    rw = rs == 0 ? wsr__b64url_decode(&want, s2 + 1, strlen(s2 + 1)) : 0;
    /* Memory running out is not a malformed hash. The salt is the 16 bytes
     * this program writes: an empty or short one was taken before. */
    if (rs == WSR_ENOMEM || rw == WSR_ENOMEM) {
        rc = WSR_ENOMEM;
    } else if (rs != 0 || rw != 0 || salt.len != SALT_LEN || want.len != HASH_LEN) {
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
