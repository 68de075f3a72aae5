/* SPDX-License-Identifier: MIT */
/*
 * JSON Web Tokens (RFC 7519) signed with HS256 (RFC 7515) with the server's
 * secret, or with RS256 or ES256 (RFC 7518) with an identity provider's
 * public key. The caller pins the algorithm (HS256 for the secret, the key's
 * own for a key), so "none" in any spelling, every other algorithm, and a
 * header naming another algorithm than the key's are refused. base64url is decoded strictly by
 * core/base64.c (no padding, no foreign characters, no stray bits), the signature is compared in
 * constant time, and each refusal has its own sentence. Pure: the clock is a parameter, so the RFC
 * vectors are tested at their own time.
 */
#include "services/jwt_int.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
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

static const char *const alg_names[] = {
    [WSR__JWT_HS256] = "HS256",
    [WSR__JWT_RS256] = "RS256",
    [WSR__JWT_ES256] = "ES256",
};

const char *wsr__jwt_alg_name(wsr__jwt_alg_t alg)
{
    return alg >= WSR__JWT_HS256 && alg <= WSR__JWT_ES256 ? alg_names[alg] : "?";
}

/* "HS256" or "HS256, RS256 and ES256": the accepted algorithms, for sentences. */
static void accepted_text(unsigned accepted, char *out, size_t size, unsigned *count)
{
    size_t len = 0;
    unsigned n = 0, total = 0;

    for (int a = WSR__JWT_HS256; a <= WSR__JWT_ES256; a++)
        total += (accepted & WSR__JWT_ONLY(a)) != 0;
    out[0] = '\0';
    for (int a = WSR__JWT_HS256; a <= WSR__JWT_ES256 && len < size; a++) {
        if ((accepted & WSR__JWT_ONLY(a)) == 0)
            continue;
        n++;
        len += (size_t)snprintf(out + len, size - len, "%s%s",
                                n == 1       ? ""
                                : n == total ? " and "
                                             : ", ",
                                alg_names[a]);
    }
    *count = total;
}

/* The header's kid, when it has one: a string without U+0000, not too long. */
static int read_kid(json_t *h, wsr__jwt_header_t *out, char *detail, size_t size)
{
    json_t *kid = json_object_get(h, "kid");

    if (kid == NULL)
        return 0;
    if (!json_is_string(kid))
        return refuse(detail, size, "token key id (kid) is not a string");
    if (json_string_length(kid) > WSR__JWT_KID_MAX)
        return refuse(detail, size, "token key id (kid) is longer than %d bytes", WSR__JWT_KID_MAX);
    if (strlen(json_string_value(kid)) != json_string_length(kid))
        return refuse(detail, size, "token key id (kid) holds U+0000");
    memcpy(out->kid, json_string_value(kid), json_string_length(kid) + 1);
    out->has_kid = true;
    return 0;
}

/* The header must name an accepted algorithm, and nothing we cannot honour. */
static int check_header(const char *p, size_t n, unsigned accepted, wsr__jwt_header_t *out,
                        char *detail, size_t size)
{
    json_t *h;
    const char *alg;
    char names[40];
    unsigned count;
    int rc = segment_object(p, n, &h);

    memset(out, 0, sizeof(*out));
    if (rc == WSR_ENOMEM)
        return rc;
    if (rc != 0)
        return refuse(detail, size, "token header is not base64url of a JSON object");
    accepted_text(accepted, names, sizeof(names), &count);
    alg = json_string_value(json_object_get(h, "alg"));
    for (int a = WSR__JWT_HS256; alg != NULL && a <= WSR__JWT_ES256; a++)
        if ((accepted & WSR__JWT_ONLY(a)) != 0 && strcmp(alg, alg_names[a]) == 0)
            out->alg = (wsr__jwt_alg_t)a;
    if (alg == NULL)
        rc = refuse(detail, size, "token header names no algorithm");
    else if (strlen(alg) != json_string_length(json_object_get(h, "alg")))
        rc = refuse(detail, size, "token algorithm holds U+0000 (only %s %s accepted)", names,
                    count == 1 ? "is" : "are");
    else if (out->alg == 0) {
        /* The client's text: quoted as printable, so it cannot forge a log line. */
        char shown[21];

        wsr__copy_printable(shown, sizeof(shown), alg);
        rc = refuse(detail, size, "token algorithm %s is not accepted (only %s)", shown, names);
    } else if (json_object_get(h, "crit") != NULL)
        rc = refuse(detail, size, "token header has critical parameters this server ignores");
    else
        rc = read_kid(h, out, detail, size);
    json_decref(h);
    return rc;
}

/* Finds the two dots of a compact JWS: exactly three segments. */
static int split(const char *token, size_t n, const char **dot1, const char **dot2, char *detail,
                 size_t size)
{
    *dot1 = memchr(token, '.', n);
    *dot2 = *dot1 ? memchr(*dot1 + 1, '.', n - (size_t)(*dot1 + 1 - token)) : NULL;
    if (*dot1 == NULL || *dot2 == NULL ||
        memchr(*dot2 + 1, '.', n - (size_t)(*dot2 + 1 - token)) != NULL)
        return refuse(detail, size, "token must have three segments separated by dots");
    return 0;
}

int wsr__jwt_read_header(const char *token, size_t n, unsigned accepted, wsr__jwt_header_t *h,
                         char *detail, size_t size)
{
    const char *dot1, *dot2;
    int rc = split(token, n, &dot1, &dot2, detail, size);

    if (rc != 0) {
        memset(h, 0, sizeof(*h));
        return rc;
    }
    return check_header(token, (size_t)(dot1 - token), accepted, h, detail, size);
}

/* Decodes the payload segment once the signature is known to be good. */
static int read_payload(const char *dot1, const char *dot2, json_t **payload, char *detail,
                        size_t size)
{
    int rc = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), payload);

    if (rc == WSR_ENOMEM)
        return rc;
    if (rc != 0)
        return refuse(detail, size, "token payload is not base64url of a JSON object");
    return 0;
}

int wsr__jwt_verify(const char *token, size_t n, const unsigned char *key, size_t keylen,
                    json_t **payload, char *detail, size_t size)
{
    const char *dot1, *dot2;
    unsigned char want[SIG_LEN];
    wsr__jwt_header_t h;
    wsr__buf_t sig;
    int rc;

    *payload = NULL;
    rc = split(token, n, &dot1, &dot2, detail, size);
    if (rc == 0)
        rc = check_header(token, (size_t)(dot1 - token), WSR__JWT_ONLY(WSR__JWT_HS256), &h, detail,
                          size);
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
    return read_payload(dot1, dot2, payload, detail, size);
}

/*
 * ES256 signatures are r||s, 32 bytes each (RFC 7518 3.4); OpenSSL verifies
 * the DER of an ECDSA-Sig-Value. Returns the DER (owned: OPENSSL_free) and
 * its length, or NULL when memory ran out.
 */
static unsigned char *ecdsa_der(const unsigned char *raw, int *len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    unsigned char *der = NULL;

    *len = 0;
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return NULL;
    }
    *len = i2d_ECDSA_SIG(sig, &der); /* sig owns r and s now */
    ECDSA_SIG_free(sig);
    if (*len <= 0) {
        OPENSSL_free(der);
        return NULL;
    }
    return der;
}

/* Returns 0 when `sig` is a good signature of `input` with `key`, WSR_EAUTH
 * with a sentence when it is not, WSR_ENOMEM when OpenSSL could not tell. */
static int pkey_verify(EVP_PKEY *key, wsr__jwt_alg_t alg, const unsigned char *sig, size_t siglen,
                       const char *input, size_t n, char *detail, size_t size)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int derlen = 0, rc = WSR_ENOMEM;

    if (alg == WSR__JWT_ES256) {
        der = ecdsa_der(sig, &derlen);
        sig = der;
        siglen = (size_t)derlen;
    }
    if (md != NULL && sig != NULL &&
        EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL) == 1)
        rc = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)input, n) == 1
                 ? 0
                 : refuse(detail, size, "token signature does not match");
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    /* A refused signature leaves errors on this thread's queue, which is
     * an event loop's: TLS on that loop must not find them later. */
    ERR_clear_error();
    return rc;
}

/* The key must be of the type its algorithm needs (the loader sees to it;
 * this keeps a wrong pairing from ever verifying). */
static bool key_fits(EVP_PKEY *key, wsr__jwt_alg_t alg)
{
    if (alg == WSR__JWT_RS256)
        return EVP_PKEY_is_a(key, "RSA");
    return alg == WSR__JWT_ES256 && EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 256;
}

int wsr__jwt_verify_key(const char *token, size_t n, wsr__jwt_alg_t alg, EVP_PKEY *key,
                        const char *kid, json_t **payload, char *detail, size_t size)
{
    const char *dot1, *dot2;
    wsr__jwt_header_t h;
    size_t want = alg == WSR__JWT_ES256 ? 64 : (size_t)EVP_PKEY_get_size(key);
    wsr__buf_t sig;
    int rc;

    *payload = NULL;
    rc = split(token, n, &dot1, &dot2, detail, size);
    if (rc == 0)
        rc = check_header(token, (size_t)(dot1 - token), WSR__JWT_ALL, &h, detail, size);
    if (rc != 0)
        return rc;
    if (h.alg != alg)
        return refuse(detail, size, "token algorithm %s does not match key %.64s, which is %s",
                      alg_names[h.alg], kid ? kid : "(no kid)", wsr__jwt_alg_name(alg));
    if (!key_fits(key, alg))
        return refuse(detail, size, "key %.64s is not a key for %s", kid ? kid : "(no kid)",
                      wsr__jwt_alg_name(alg));
    wsr__buf_init(&sig, 0, 1024); /* RSA 8192 */
    rc = wsr__b64url_decode(&sig, dot2 + 1, n - (size_t)(dot2 + 1 - token));
    if (rc == WSR_EPARSE)
        rc = refuse(detail, size, "token signature is not base64url");
    else if (rc == WSR_EOVERFLOW || (rc == 0 && sig.len != want))
        rc = refuse(detail, size, "token signature has the wrong length");
    else if (rc != 0)
        rc = WSR_ENOMEM;
    else
        rc = pkey_verify(key, alg, sig.data, sig.len, token, (size_t)(dot2 - token), detail, size);
    wsr__buf_dispose(&sig);
    if (rc != 0)
        return rc;
    return read_payload(dot1, dot2, payload, detail, size);
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
    return wsr__jwt_check_times(payload, now, 0, false, detail, size);
}

int wsr__jwt_check_times(const json_t *payload, int64_t now, unsigned leeway, bool check_iat,
                         char *detail, size_t size)
{
    json_t *exp = json_object_get(payload, "exp"), *nbf = json_object_get(payload, "nbf");
    json_t *iat = json_object_get(payload, "iat");
    char when[40];

    if (exp == NULL)
        return refuse(detail, size, "token has no expiry (exp)");
    if (!json_is_number(exp))
        return refuse(detail, size, "token expiry (exp) is not a number");
    if ((double)now >= json_number_value(exp) + leeway) {
        utc_text(json_number_value(exp), when, sizeof(when));
        return refuse(detail, size, "token expired at %s", when);
    }
    /* Was "not valid before 1970-01-01T00:00:00Z" for a non-number: say what is wrong. */
    if (nbf != NULL && !json_is_number(nbf))
        return refuse(detail, size, "token start (nbf) is not a number");
    if (nbf != NULL && (double)now + leeway < json_number_value(nbf)) {
        utc_text(json_number_value(nbf), when, sizeof(when));
        return refuse(detail, size, "token is not valid before %s", when);
    }
    if (check_iat && iat != NULL && !json_is_number(iat))
        return refuse(detail, size, "token issue time (iat) is not a number");
    if (check_iat && iat != NULL && (double)now + leeway < json_number_value(iat)) {
        utc_text(json_number_value(iat), when, sizeof(when));
        return refuse(detail, size, "token was issued in the future (at %s)", when);
    }
    return 0;
}
