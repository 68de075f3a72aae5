/* SPDX-License-Identifier: MIT */
/*
 * JSON Web Tokens (RFC 7519) signed with HS256 (RFC 7515), and nothing else:
 * the algorithm is pinned, so "none" in any spelling and every other
 * algorithm are refused. base64url is decoded strictly by core/base64.c
 * (no padding, no foreign characters, no stray bits), the signature is
 * compared in constant time, and each refusal has its own sentence. Pure:
 * the clock is a parameter, so the RFC vectors are tested at their own time.
 */
#include "services/jwt_int.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/json_int.h"

#define SIG_LEN 32 /* HMAC-SHA256 */

static bool hmac_sha256(const unsigned char *key, size_t keylen, const char *data, size_t n,
                        unsigned char out[SIG_LEN])
{
    unsigned int len = 0;

    return HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, n, out, &len) !=
               NULL &&
           len == SIG_LEN;
}

int wsr__jwt_sign(const unsigned char *key, size_t keylen, const json_t *claims, char **token)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    unsigned char sig[SIG_LEN];
    wsr__buf_t out, payload;
    int rc;

    *token = NULL;
    wsr__buf_init(&out, 0, 0);
    wsr__buf_init(&payload, 0, 0);
    rc = wsr__json_dump(&payload, claims);
    if (rc == 0)
        rc = wsr__b64url_encode(&out, (const unsigned char *)header, sizeof(header) - 1);
    if (rc == 0)
        rc = wsr__buf_putc(&out, '.');
    if (rc == 0)
        rc = wsr__b64url_encode(&out, payload.data, payload.len);
    if (rc == 0 && !hmac_sha256(key, keylen, (const char *)out.data, out.len, sig))
        rc = WSR_ETLS;
    if (rc == 0)
        rc = wsr__buf_putc(&out, '.');
    if (rc == 0)
        rc = wsr__b64url_encode(&out, sig, sizeof(sig));
    if (rc == 0)
        rc = wsr__buf_putc(&out, '\0');
    wsr__buf_dispose(&payload);
    if (rc != 0) {
        wsr__buf_dispose(&out);
        return rc;
    }
    *token = (char *)out.data;
    return 0;
}

static int refuse(char *detail, size_t size, const char *fmt, ...) WSR_PRINTF(3, 4);
static int refuse(char *detail, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, size, fmt, ap);
    va_end(ap);
    return WSR_EAUTH;
}

/*
 * Decodes a segment into a JSON object (*out, new reference). Returns 0,
 * WSR_EPARSE when it is not base64url of a JSON object, or WSR_ENOMEM: memory
 * running out is not a bad token (a 500, not a 401), so it is told apart.
 */
static int segment_object(const char *p, size_t n, json_t **out)
{
    wsr__json_error_t jerr;
    wsr__buf_t b;
    int rc;

    *out = NULL;
    wsr__buf_init(&b, 0, 0);
    rc = wsr__b64url_decode(&b, p, n);
    if (rc == 0) {
        *out = wsr__json_parse(b.data, b.len, 64, &jerr);
        if (*out == NULL)
            rc = jerr.kind == WSR__JSON_NOMEM ? WSR_ENOMEM : WSR_EPARSE;
    }
    wsr__buf_dispose(&b);
    if (*out != NULL && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = WSR_EPARSE;
    }
    return rc == WSR_ENOMEM ? WSR_ENOMEM : rc != 0 ? WSR_EPARSE : 0;
}

/* The header must say HS256, and nothing we cannot honour. */
static int check_header(const char *p, size_t n, char *detail, size_t size)
{
    json_t *h;
    const char *alg;
    int rc = segment_object(p, n, &h);

    if (rc == WSR_ENOMEM)
        return rc;
    if (rc != 0)
        return refuse(detail, size, "token header is not base64url of a JSON object");
    alg = json_string_value(json_object_get(h, "alg"));
    if (alg == NULL)
        rc = refuse(detail, size, "token header names no algorithm");
    else if (strlen(alg) != json_string_length(json_object_get(h, "alg")))
        rc = refuse(detail, size, "token algorithm holds U+0000 (only HS256 is accepted)");
    else if (strcmp(alg, "HS256") != 0)
        rc = refuse(detail, size, "token algorithm %.20s is not accepted (only HS256)", alg);
    else if (json_object_get(h, "crit") != NULL)
        rc = refuse(detail, size, "token header has critical parameters this server ignores");
    json_decref(h);
    return rc;
}

int wsr__jwt_verify(const char *token, size_t n, const unsigned char *key, size_t keylen,
                    json_t **payload, char *detail, size_t size)
{
    const char *dot1 = memchr(token, '.', n), *dot2;
    unsigned char want[SIG_LEN];
    wsr__buf_t sig;
    int rc;

    *payload = NULL;
    dot2 = dot1 ? memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', n - (size_t)(dot2 + 1 - token)))
        return refuse(detail, size, "token must have three segments separated by dots");
    rc = check_header(token, (size_t)(dot1 - token), detail, size);
    if (rc != 0)
        return rc;
    wsr__buf_init(&sig, 0, 64);
    rc = wsr__b64url_decode(&sig, dot2 + 1, n - (size_t)(dot2 + 1 - token));
    /* The buffer's limit refuses signatures past 64 bytes: a wrong length
     * too, not bad base64url; and memory running out is neither. */
    if (rc == WSR_EPARSE)
        rc = refuse(detail, size, "token signature is not base64url");
    else if (rc == WSR_EOVERFLOW || (rc == 0 && sig.len != SIG_LEN))
        rc = refuse(detail, size, "token signature has the wrong length");
    else if (rc != 0)
        rc = WSR_ENOMEM;
    else if (!hmac_sha256(key, keylen, token, (size_t)(dot2 - token), want))
        rc = refuse(detail, size, "token signature could not be computed");
    else if (CRYPTO_memcmp(want, sig.data, SIG_LEN) != 0)
        rc = refuse(detail, size, "token signature does not match");
    wsr__buf_dispose(&sig);
    if (rc != 0)
        return rc;
    rc = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), payload);
    if (rc == WSR_ENOMEM)
        return rc;
    if (rc != 0)
        return refuse(detail, size, "token payload is not base64url of a JSON object");
    return 0;
}

/* A NumericDate as seconds, clamped to 1970..9999: a claim such as 1e300
 * must not overflow the conversion (undefined behaviour) nor print as
 * -9223372036854775808. */
static int64_t clamp_time(double t)
{
    if (!(t > 0))
        return 0;
    if (t > 253402300799.0)
        return 253402300799; /* 9999-12-31T23:59:59Z */
    return (int64_t)t;
}

static void utc_text(double t, char *out, size_t size)
{
    time_t tt = (time_t)clamp_time(t);
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, size, "%lld", (long long)tt);
}

int64_t wsr__jwt_time(const json_t *claim)
{
    return clamp_time(json_number_value(claim));
}

int wsr__jwt_check_time(const json_t *payload, int64_t now, char *detail, size_t size)
{
    json_t *exp = json_object_get(payload, "exp"), *nbf = json_object_get(payload, "nbf");
    char when[40];

    if (exp == NULL)
        return refuse(detail, size, "token has no expiry (exp)");
    if (!json_is_number(exp))
        return refuse(detail, size, "token expiry (exp) is not a number");
    if ((double)now >= json_number_value(exp)) {
        utc_text(json_number_value(exp), when, sizeof(when));
        return refuse(detail, size, "token expired at %s", when);
    }
    /* Was "not valid before 1970-01-01T00:00:00Z" for a non-number: say what is wrong. */
    if (nbf != NULL && !json_is_number(nbf))
        return refuse(detail, size, "token start (nbf) is not a number");
    if (nbf != NULL && (double)now < json_number_value(nbf)) {
        utc_text(json_number_value(nbf), when, sizeof(when));
        return refuse(detail, size, "token is not valid before %s", when);
    }
    return 0;
}
