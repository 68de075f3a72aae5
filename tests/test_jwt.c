/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/jwt.c: the RFC 7515 and RFC 7520 HS256 vectors, the RFC 7515
 * RS256 (A.2) and ES256 (A.3) vectors with their published keys, RFC 7515's
 * unsecured JWS (alg none), every refusal with its exact sentence (for
 * public keys too: a header naming another algorithm than the key's, the
 * public key used as an HMAC secret, a wrong key, a tampered payload), the
 * time claims with and without leeway, a sign/verify round trip checked
 * against an HMAC computed here with OpenSSL, base64url edge cases, and
 * allocation-failure sweeps.
 */
#include "testutil.h"

#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "services/jwt_int.h"
#include "services/keys_int.h"

/* RFC 7515 appendix A.1: HS256, its key and its token. */
static const char a1_key_b64[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char a1_token[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                               "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGx"
                               "lLmNvbS9pc19yb290Ijp0cnVlfQ."
                               "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
#define A1_EXP 1300819380

/* RFC 7520 section 4.4: HS256 over a text payload (not a JSON object). */
static const char rfc7520_key_b64[] = "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg";
static const char rfc7520_token[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9."
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250"
    "byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hl"
    "cmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4."
    "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0";

/* RFC 7515 appendix A.5: an unsecured JWS. */
static const char a5_token[] = "eyJhbGciOiJub25lIn0."
                               "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGx"
                               "lLmNvbS9pc19yb290Ijp0cnVlfQ."
                               "";

/* RFC 7515 appendix A.2: RS256, the public half of its RSA key, and its token. */
static const char a2_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a2\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_"
    "wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_"
    "YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-"
    "KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\",\"e\":\"AQAB\"}]}";
static const char a2_token[] =
    "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_"
    "O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvk"
    "SjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvW"
    "h6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

/* RFC 7515 appendix A.3: ES256, the public half of its P-256 key, and its
 * token (ECDSA signatures are randomised: this is the one it published). */
static const char a3_jwks[] = "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"a3\",\"crv\":\"P-256\","
                              "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                              "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";
static const char a3_token[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

static const unsigned char key32[] = "0123456789abcdef0123456789abcdef";
#define KEY32_LEN 32

/* ---- helpers ---- */

/* Decodes base64url `in` into a malloc'd buffer; asserts it is valid. */
static unsigned char *b64u_decode(const char *in, size_t *len)
{
    wsr__buf_t b;
    unsigned char *out;

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__b64url_decode(&b, in, strlen(in)), 0);
    out = malloc(b.len + 1);
    assert_non_null(out);
    if (b.len)
        memcpy(out, b.data, b.len);
    *len = b.len;
    wsr__buf_dispose(&b);
    return out;
}

/* Appends the base64url of `n` bytes to the string `s` (malloc'd). */
static char *append_b64u(char *s, const void *p, size_t n)
{
    wsr__buf_t b;
    size_t have = s ? strlen(s) : 0;

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__b64url_encode(&b, p, n), 0);
    s = realloc(s, have + b.len + 1);
    assert_non_null(s);
    if (b.len)
        memcpy(s + have, b.data, b.len);
    s[have + b.len] = '\0';
    wsr__buf_dispose(&b);
    return s;
}

static char *append_text(char *s, const char *t)
{
    size_t have = s ? strlen(s) : 0;

    s = realloc(s, have + strlen(t) + 1);
    assert_non_null(s);
    memcpy(s + have, t, strlen(t) + 1);
    return s;
}

/* The signing input's HMAC-SHA256, computed here with OpenSSL. */
static void hmac(const unsigned char *key, size_t keylen, const char *input, size_t n,
                 unsigned char out[32])
{
    unsigned int len = 0;

    assert_non_null(
        HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)input, n, out, &len));
    assert_int_equal(len, 32);
}

/* A token of the header and payload texts (encoded as they are) signed with
 * `key`, or with a signature of `siglen` bytes of that HMAC (repeated). */
static char *make_token_sig(const char *header, const char *payload, const unsigned char *key,
                            size_t keylen, size_t siglen)
{
    unsigned char mac[32], sig[128];
    char *t = append_b64u(NULL, header, strlen(header));

    t = append_text(t, ".");
    t = append_b64u(t, payload, strlen(payload));
    hmac(key, keylen, t, strlen(t), mac);
    assert_true(siglen <= sizeof(sig));
    for (size_t i = 0; i < siglen; i++)
        sig[i] = mac[i % 32];
    t = append_text(t, ".");
    return append_b64u(t, sig, siglen);
}

static char *make_token(const char *header, const char *payload, const unsigned char *key,
                        size_t keylen)
{
    return make_token_sig(header, payload, key, keylen, 32);
}

/* Signs the already-encoded segments "H.P" as they are. */
static char *sign_raw(const char *h_dot_p, const unsigned char *key, size_t keylen)
{
    unsigned char mac[32];
    char *t = append_text(NULL, h_dot_p);

    hmac(key, keylen, t, strlen(t), mac);
    t = append_text(t, ".");
    return append_b64u(t, mac, sizeof(mac));
}

static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char claims[] = "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":4102444800}";

/* Verifies `token` with `key`; asserts the refusal and its sentence. */
static void expect_refused(const char *token, size_t n, const unsigned char *key, size_t keylen,
                           const char *sentence)
{
    char detail[256] = "";
    json_t *payload = (json_t *)1;
    int rc = wsr__jwt_verify(token, n, key, keylen, &payload, detail, sizeof(detail));

    if (rc != WSR_EAUTH || strcmp(detail, sentence) != 0)
        fail_msg("token \"%.120s\": rc %d, detail \"%s\", wanted \"%s\"", token, rc, detail,
                 sentence);
    assert_null(payload);
}

static void expect_refused_str(const char *token, const char *sentence)
{
    expect_refused(token, strlen(token), key32, KEY32_LEN, sentence);
}

/* Verifies `token` and returns its payload (asserting success). */
static json_t *expect_valid(const char *token, const unsigned char *key, size_t keylen)
{
    char detail[256] = "";
    json_t *payload = NULL;
    int rc = wsr__jwt_verify(token, strlen(token), key, keylen, &payload, detail, sizeof(detail));

    if (rc != 0)
        fail_msg("token \"%.120s\" refused: %d \"%s\"", token, rc, detail);
    assert_non_null(payload);
    return payload;
}

/* ---- the RFC vectors ---- */

static void test_jwt__rfc7515_a1_verifies_with_its_key(void **state)
{
    size_t keylen;
    unsigned char *key = b64u_decode(a1_key_b64, &keylen);
    json_t *p;

    (void)state;
    assert_int_equal(keylen, 64);
    p = expect_valid(a1_token, key, keylen);
    assert_string_equal(json_string_value(json_object_get(p, "iss")), "joe");
    assert_int_equal(json_integer_value(json_object_get(p, "exp")), A1_EXP);
    assert_true(json_is_true(json_object_get(p, "http://example.com/is_root")));
    assert_int_equal(json_object_size(p), 3);
    json_decref(p);
    free(key);
}

static void test_jwt__rfc7515_a1_time_is_checked_against_the_given_clock(void **state)
{
    size_t keylen;
    unsigned char *key = b64u_decode(a1_key_b64, &keylen);
    json_t *p = expect_valid(a1_token, key, keylen);
    char detail[128] = "";

    (void)state;
    assert_int_equal(wsr__jwt_check_time(p, (int64_t)time(NULL), detail, sizeof(detail)),
                     WSR_EAUTH);
    assert_string_equal(detail, "token expired at 2011-03-22T18:43:00Z");
    /* Exactly at exp it has expired; a second before, it is valid. */
    detail[0] = '\0';
    assert_int_equal(wsr__jwt_check_time(p, A1_EXP, detail, sizeof(detail)), WSR_EAUTH);
    assert_string_equal(detail, "token expired at 2011-03-22T18:43:00Z");
    assert_int_equal(wsr__jwt_check_time(p, A1_EXP - 1, detail, sizeof(detail)), 0);
    assert_int_equal(wsr__jwt_check_time(p, 1300000000, detail, sizeof(detail)), 0);
    json_decref(p);
    free(key);
}

static void test_jwt__rfc7515_a1_another_key_does_not_match(void **state)
{
    size_t keylen;
    unsigned char *key = b64u_decode(a1_key_b64, &keylen);

    (void)state;
    key[0] ^= 1;
    expect_refused(a1_token, strlen(a1_token), key, keylen, "token signature does not match");
    /* A prefix of the right key is another key too. */
    key[0] ^= 1;
    expect_refused(a1_token, strlen(a1_token), key, keylen - 1, "token signature does not match");
    free(key);
}

static void test_jwt__rfc7520_4_4_signature_verifies_but_payload_is_not_an_object(void **state)
{
    size_t keylen;
    unsigned char *key = b64u_decode(rfc7520_key_b64, &keylen);
    char *bad = strdup(rfc7520_token);
    char *sig = strrchr(bad, '.') + 1;

    (void)state;
    assert_int_equal(keylen, 32);
    /* The signature is right: verification gets to the payload, text. */
    expect_refused(rfc7520_token, strlen(rfc7520_token), key, keylen,
                   "token payload is not base64url of a JSON object");
    /* One bit less right and the signature is what is refused. */
    assert_int_equal(sig[0], 's');
    sig[0] = 't'; /* 44 -> 45: the lowest bit of the first sextet */
    expect_refused(bad, strlen(bad), key, keylen, "token signature does not match");
    free(bad);
    free(key);
}

static void test_jwt__rfc7515_a5_unsecured_jws_is_refused(void **state)
{
    size_t keylen;
    unsigned char *key = b64u_decode(a1_key_b64, &keylen);

    (void)state;
    expect_refused(a5_token, strlen(a5_token), key, keylen,
                   "token algorithm none is not accepted (only HS256)");
    expect_refused(a5_token, strlen(a5_token), key32, KEY32_LEN,
                   "token algorithm none is not accepted (only HS256)");
    free(key);
}

/* ---- the header ---- */

static void test_jwt__alg_none_is_refused_in_any_spelling(void **state)
{
    static const char *const spellings[] = {"none", "None", "NONE", "nOnE"};
    char header[64], sentence[96];

    (void)state;
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        char *t;

        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", spellings[i]);
        snprintf(sentence, sizeof(sentence), "token algorithm %s is not accepted (only HS256)",
                 spellings[i]);
        /* Unsigned, as alg none means; and signed with the right key too. */
        t = append_b64u(NULL, header, strlen(header));
        t = append_text(t, ".");
        t = append_b64u(t, claims, strlen(claims));
        t = append_text(t, ".");
        expect_refused_str(t, sentence);
        free(t);
        t = make_token(header, claims, key32, KEY32_LEN);
        expect_refused_str(t, sentence);
        free(t);
    }
}

static void test_jwt__other_algorithms_are_refused(void **state)
{
    static const char *const algs[] = {"HS512", "HS384", "RS256",  "ES256",
                                       "PS256", "hs256", "HS256 ", "EdDSA"};
    char header[64], sentence[96];

    (void)state;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char *t;

        snprintf(header, sizeof(header), "{\"alg\":\"%s\"}", algs[i]);
        snprintf(sentence, sizeof(sentence), "token algorithm %s is not accepted (only HS256)",
                 algs[i]);
        t = make_token(header, claims, key32, KEY32_LEN);
        expect_refused_str(t, sentence);
        free(t);
    }
    /* "HS256" then U+0000: a C string compare alone would take it for HS256. */
    {
        char *t = make_token("{\"alg\":\"HS256\\u0000x\"}", claims, key32, KEY32_LEN);

        expect_refused_str(t, "token algorithm holds U+0000 (only HS256 is accepted)");
        free(t);
    }
}

static void test_jwt__missing_or_malformed_alg_is_refused(void **state)
{
    static const char *const headers[] = {"{\"typ\":\"JWT\"}", "{}", "{\"alg\":null}",
                                          "{\"alg\":256}", "{\"ALG\":\"HS256\"}"};

    (void)state;
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *t = make_token(headers[i], claims, key32, KEY32_LEN);

        expect_refused_str(t, "token header names no algorithm");
        free(t);
    }
}

static void test_jwt__crit_is_refused(void **state)
{
    char *t =
        make_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", claims, key32, KEY32_LEN);

    (void)state;
    expect_refused_str(t, "token header has critical parameters this server ignores");
    free(t);
    t = make_token("{\"alg\":\"HS256\",\"crit\":[]}", claims, key32, KEY32_LEN);
    expect_refused_str(t, "token header has critical parameters this server ignores");
    free(t);
}

static void test_jwt__header_that_is_not_a_json_object_is_refused(void **state)
{
    static const char *const headers[] = {"[\"HS256\"]", "\"HS256\"", "{\"alg\":\"HS256\"",
                                          "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", ""};

    (void)state;
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *t = make_token(headers[i], claims, key32, KEY32_LEN);

        expect_refused_str(t, "token header is not base64url of a JSON object");
        free(t);
    }
}

/* ---- the form ---- */

static void test_jwt__wrong_segment_count_is_refused(void **state)
{
    static const char *const tokens[] = {"",
                                         "abc",
                                         "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
                                         "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30",
                                         "a.b.c.d",
                                         "...",
                                         ".",
                                         "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig.more"};
    char *good = make_token(hs256, claims, key32, KEY32_LEN), *four;

    (void)state;
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
        expect_refused_str(tokens[i], "token must have three segments separated by dots");
    /* A valid token with a fourth segment, or a trailing dot. */
    four = append_text(strdup(good), ".");
    expect_refused_str(four, "token must have three segments separated by dots");
    free(four);
    four = append_text(strdup(good), ".e30");
    expect_refused_str(four, "token must have three segments separated by dots");
    free(four);
    /* Only the first n bytes count: the same token cut before its signature. */
    expect_refused(good, (size_t)(strrchr(good, '.') - good), key32, KEY32_LEN,
                   "token must have three segments separated by dots");
    /* Empty segments: the header is checked first. */
    expect_refused_str("..", "token header is not base64url of a JSON object");
    free(good);
}

/* Replaces the segment `seg` (0, 1, 2) of `token` with `text`. */
static char *with_segment(const char *token, int seg, const char *text)
{
    const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
    char *out = NULL;

    out = append_text(out, "");
    if (seg == 0) {
        out = append_text(out, text);
        out = append_text(out, d1);
    } else if (seg == 1) {
        out = realloc(out, (size_t)(d1 - token) + 2);
        memcpy(out, token, (size_t)(d1 - token) + 1);
        out[d1 - token + 1] = '\0';
        out = append_text(out, text);
        out = append_text(out, d2);
    } else {
        out = realloc(out, (size_t)(d2 - token) + 2);
        memcpy(out, token, (size_t)(d2 - token) + 1);
        out[d2 - token + 1] = '\0';
        out = append_text(out, text);
    }
    return out;
}

static char *segment(const char *token, int seg)
{
    const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');

    if (seg == 0)
        return strndup(token, (size_t)(d1 - token));
    if (seg == 1)
        return strndup(d1 + 1, (size_t)(d2 - d1 - 1));
    return strdup(d2 + 1);
}

static void test_jwt__bad_base64url_is_refused_in_each_segment(void **state)
{
    /* Header: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 (36 characters). */
    static const char *const bad_headers[] = {
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9=",  /* padding */
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9==", /* padding */
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 ",  /* a blank */
        " eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",  /* a blank */
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9\n", /* a line break */
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9e",  /* 4n+1 characters */
        "eyJhbGciOiJIUzI1NiIs+nR5cCI6IkpXVCJ9",   /* '+' */
        "eyJhbGciOiJIUzI1NiIs/nR5cCI6IkpXVCJ9",   /* '/' */
    };
    char *good = make_token(hs256, claims, key32, KEY32_LEN);
    char *sig = segment(good, 2), *t, *p;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
        t = with_segment(good, 0, bad_headers[i]);
        expect_refused_str(t, "token header is not base64url of a JSON object");
        free(t);
    }
    /* The header {"alg":"HS256"} is eyJhbGciOiJIUzI1NiJ9: 20 characters, 15
     * bytes, no spare bits. {"alg":"HS256"}  (a trailing blank, 16 bytes) is
     * eyJhbGciOiJIUzI1NiJ9IA: 22 characters; 'B' there instead of 'A' sets a
     * spare bit, a second spelling of the same bytes. */
    t = make_token("{\"alg\":\"HS256\"} ", claims, key32, KEY32_LEN);
    p = segment(t, 0);
    assert_string_equal(p, "eyJhbGciOiJIUzI1NiJ9IA");
    free(t);
    t = with_segment(good, 0, "eyJhbGciOiJIUzI1NiJ9IB");
    expect_refused_str(t, "token header is not base64url of a JSON object");
    free(t);
    free(p);

    /* Signature (43 characters, 32 bytes: the last character has two spare
     * bits): padding, blanks, '+', '/', a spare bit set, 4n+1 characters. */
    {
        char buf[80];
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t len = strlen(sig);
        int last = (int)(strchr(alphabet, sig[len - 1]) - alphabet);

        assert_int_equal(len, 43);
        assert_int_equal(last & 3, 0);
        snprintf(buf, sizeof(buf), "%s=", sig);
        t = with_segment(good, 2, buf);
        expect_refused_str(t, "token signature is not base64url");
        free(t);
        snprintf(buf, sizeof(buf), "%s ", sig);
        t = with_segment(good, 2, buf);
        expect_refused_str(t, "token signature is not base64url");
        free(t);
        snprintf(buf, sizeof(buf), "%s", sig);
        buf[5] = '+';
        t = with_segment(good, 2, buf);
        expect_refused_str(t, "token signature is not base64url");
        free(t);
        buf[5] = '/';
        t = with_segment(good, 2, buf);
        expect_refused_str(t, "token signature is not base64url");
        free(t);
        snprintf(buf, sizeof(buf), "%s", sig);
        buf[len - 1] = alphabet[last | 1];
        t = with_segment(good, 2, buf);
        expect_refused_str(t, "token signature is not base64url");
        free(t);
        snprintf(buf, sizeof(buf), "%sA", sig);
        buf[len - 1] = 'A'; /* 44 characters: decodes to 33 bytes */
        t = with_segment(good, 2, buf);
        expect_refused_str(t, "token signature has the wrong length");
        free(t);
        snprintf(buf, sizeof(buf), "%sAA", sig); /* 45 characters: 4n+1 */
        t = with_segment(good, 2, buf);
        expect_refused_str(t, "token signature is not base64url");
        free(t);
    }

    /* Payload: signed as it is, so only the payload decoding refuses it. */
    {
        char *h = segment(good, 0), *pl = segment(good, 1), in[512];
        static const char *const suffixes[] = {"=", "==", " ", "\t"};

        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
            snprintf(in, sizeof(in), "%s.%s%s", h, pl, suffixes[i]);
            t = sign_raw(in, key32, KEY32_LEN);
            expect_refused_str(t, "token payload is not base64url of a JSON object");
            free(t);
        }
        /* '+' where '-' would be right, '/' where '_' would be. */
        t = make_token(hs256, "{\"sub\":\"x\xfb\xef\xbe\xff\xff\xff\",\"exp\":4102444800}", key32,
                       KEY32_LEN);
        p = segment(t, 1);
        assert_non_null(strstr(p, "----____"));
        free(t);
        for (int k = 0; k < 2; k++) {
            char *q = strdup(p);

            *strchr(q, k ? '_' : '-') = k ? '/' : '+';
            snprintf(in, sizeof(in), "%s.%s", h, q);
            t = sign_raw(in, key32, KEY32_LEN);
            expect_refused_str(t, "token payload is not base64url of a JSON object");
            free(t);
            free(q);
        }
        free(p);
        /* {} is e30 (3 characters, 2 spare bits): e31 sets one. */
        snprintf(in, sizeof(in), "%s.e31", h);
        t = sign_raw(in, key32, KEY32_LEN);
        expect_refused_str(t, "token payload is not base64url of a JSON object");
        free(t);
        snprintf(in, sizeof(in), "%s.e30", h);
        t = sign_raw(in, key32, KEY32_LEN);
        json_decref(expect_valid(t, key32, KEY32_LEN));
        free(t);
        free(h);
        free(pl);
    }
    free(sig);
    free(good);
}

static void test_jwt__payload_that_is_not_a_json_object_is_refused(void **state)
{
    static const char *const payloads[] = {
        "[1,2]", "\"alice\"", "42", "null", "{\"sub\":", "{\"exp\":1,\"exp\":2}", ""};

    (void)state;
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        char *t = make_token(hs256, payloads[i], key32, KEY32_LEN);

        expect_refused_str(t, "token payload is not base64url of a JSON object");
        free(t);
    }
}

/* ---- the signature ---- */

static void test_jwt__a_flipped_bit_anywhere_is_refused(void **state)
{
    char *good = make_token(hs256, claims, key32, KEY32_LEN), *t;
    json_t *p = expect_valid(good, key32, KEY32_LEN);
    size_t n = strlen(good);
    const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');

    (void)state;
    json_decref(p);
    /* A bit of the decoded header or payload, re-encoded but not re-signed. */
    t = make_token("{\"alg\":\"HS256\",\"typ\":\"JWU\"}", claims, key32, KEY32_LEN);
    {
        char *h = segment(t, 0), *mixed = with_segment(good, 0, h);

        expect_refused_str(mixed, "token signature does not match");
        free(mixed);
        free(h);
    }
    free(t);
    t = make_token(hs256, "{\"sub\":\"alicd\",\"iat\":1700000000,\"exp\":4102444800}", key32,
                   KEY32_LEN);
    {
        char *pl = segment(t, 1), *mixed = with_segment(good, 1, pl);

        expect_refused_str(mixed, "token signature does not match");
        free(mixed);
        free(pl);
    }
    free(t);
    /* A bit of every character of the payload and of the signature. */
    for (size_t i = (size_t)(d1 - good) + 1; i < n; i++) {
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *pos;
        int v;

        if (good + i == d2)
            continue;
        pos = strchr(alphabet, good[i]);
        assert_non_null(pos);
        v = (int)(pos - alphabet);
        t = strdup(good);
        /* The signature's last character has two spare bits: flip a used one. */
        t[i] = alphabet[i == n - 1 ? v ^ 4 : v ^ 1];
        expect_refused_str(t, "token signature does not match");
        free(t);
    }
    free(good);
}

static void test_jwt__another_secret_does_not_match(void **state)
{
    static const unsigned char other[] = "0123456789abcdef0123456789abcdeF";
    char *t = make_token(hs256, claims, other, 32);

    (void)state;
    expect_refused_str(t, "token signature does not match");
    json_decref(expect_valid(t, other, 32));
    free(t);
}

static void test_jwt__wrong_signature_length_is_refused(void **state)
{
    static const size_t lengths[] = {0, 1, 16, 31, 33, 48, 64, 65, 96};

    (void)state;
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        char *t = make_token_sig(hs256, claims, key32, KEY32_LEN, lengths[i]);

        expect_refused_str(t, "token signature has the wrong length");
        free(t);
    }
}

/* ---- time claims ---- */

static void expect_time(const char *payload, int64_t now, const char *sentence)
{
    json_t *p = json_loads(payload, 0, NULL);
    char detail[128] = "";
    int rc;

    assert_non_null(p);
    rc = wsr__jwt_check_time(p, now, detail, sizeof(detail));
    if (sentence == NULL && rc != 0)
        fail_msg("%s at %lld: refused: \"%s\"", payload, (long long)now, detail);
    if (sentence != NULL && (rc != WSR_EAUTH || strcmp(detail, sentence) != 0))
        fail_msg("%s at %lld: rc %d \"%s\", wanted \"%s\"", payload, (long long)now, rc, detail,
                 sentence);
    json_decref(p);
}

static void test_jwt__expired_is_refused(void **state)
{
    (void)state;
    expect_time("{\"exp\":1700000000}", 1700000000, "token expired at 2023-11-14T22:13:20Z");
    expect_time("{\"exp\":1700000000}", 1800000000, "token expired at 2023-11-14T22:13:20Z");
    expect_time("{\"exp\":1700000000}", 1699999999, NULL);
    expect_time("{\"exp\":1700000000.5}", 1700000000, NULL);
    expect_time("{\"exp\":0}", 1, "token expired at 1970-01-01T00:00:00Z");
    /* Far past and far future stay readable. */
    expect_time("{\"exp\":-1e300}", 0, "token expired at 1970-01-01T00:00:00Z");
    expect_time("{\"exp\":1e300}", 1700000000, NULL);
}

static void test_jwt__not_yet_valid_is_refused(void **state)
{
    (void)state;
    expect_time("{\"exp\":4102444800,\"nbf\":1700000100}", 1700000000,
                "token is not valid before 2023-11-14T22:15:00Z");
    expect_time("{\"exp\":4102444800,\"nbf\":1700000000}", 1699999999,
                "token is not valid before 2023-11-14T22:13:20Z");
    expect_time("{\"exp\":4102444800,\"nbf\":1700000000}", 1700000000, NULL);
    expect_time("{\"exp\":4102444800,\"nbf\":\"soon\"}", 1700000000,
                "token start (nbf) is not a number");
    expect_time("{\"exp\":4102444800,\"nbf\":null}", 1700000000,
                "token start (nbf) is not a number");
    expect_time("{\"exp\":4102444800,\"nbf\":1e300}", 1700000000,
                "token is not valid before 9999-12-31T23:59:59Z");
}

static void test_jwt__missing_or_malformed_exp_is_refused(void **state)
{
    (void)state;
    expect_time("{}", 0, "token has no expiry (exp)");
    expect_time("{\"sub\":\"alice\",\"iat\":1}", 1700000000, "token has no expiry (exp)");
    expect_time("{\"exp\":\"4102444800\"}", 1700000000, "token expiry (exp) is not a number");
    expect_time("{\"exp\":null}", 1700000000, "token expiry (exp) is not a number");
    expect_time("{\"exp\":true}", 1700000000, "token expiry (exp) is not a number");
}

/* ---- signing ---- */

static void test_jwt__sign_verify_round_trip(void **state)
{
    json_t *c = json_pack("{s:s, s:I, s:I, s:s, s:s, s:[i, s]}", "sub",
                          "al\xc3\xaf"
                          "ce \"q\"",
                          "iat", (json_int_t)1700000000, "exp", (json_int_t)4102444800, "jti",
                          "abc-_", "roles", "admin,ops", "extra", 1, "\xe2\x80\xa8");
    char *token = NULL, *h, *p, *input;
    unsigned char mac[32];
    char *want_sig;
    json_t *back;

    (void)state;
    assert_int_equal(wsr__jwt_sign(key32, KEY32_LEN, c, &token), 0);
    assert_non_null(token);
    /* The header is exactly this; the signature is the HMAC of H.P. */
    h = segment(token, 0);
    assert_string_equal(h, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
    p = segment(token, 1);
    input = append_text(append_text(append_text(NULL, h), "."), p);
    hmac(key32, KEY32_LEN, input, strlen(input), mac);
    want_sig = append_b64u(NULL, mac, sizeof(mac));
    assert_string_equal(strrchr(token, '.') + 1, want_sig);
    assert_null(strpbrk(token, "=+/ \n"));
    back = expect_valid(token, key32, KEY32_LEN);
    assert_true(json_equal(back, c));
    json_decref(back);
    expect_refused(token, strlen(token), (const unsigned char *)"another key, 32 bytes long......",
                   32, "token signature does not match");
    wsr__free(token);
    free(want_sig);
    free(input);
    free(h);
    free(p);
    json_decref(c);
}

/* ---- base64url ---- */

static void test_jwt__b64url_encode_vectors(void **state)
{
    static const struct {
        const char *plain;
        size_t n;
        const char *encoded;
    } v[] = {
        {"", 0, ""},
        {"f", 1, "Zg"},
        {"fo", 2, "Zm8"},
        {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg"},
        {"fooba", 5, "Zm9vYmE"},
        {"foobar", 6, "Zm9vYmFy"},
        {"\xfb\xff", 2, "-_8"},
        {"\xfb\xef\xbe", 3, "----"},
        {"\xff\xff\xff", 3, "____"},
        {"\x00", 1, "AA"},
        {"\x00\x00\x00", 3, "AAAA"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        wsr__buf_t b;

        wsr__buf_init(&b, 0, 0);
        assert_int_equal(wsr__b64url_encode(&b, (const unsigned char *)v[i].plain, v[i].n), 0);
        assert_int_equal(b.len, strlen(v[i].encoded));
        if (b.len)
            assert_memory_equal(b.data, v[i].encoded, b.len);
        wsr__buf_dispose(&b);
        wsr__buf_init(&b, 0, 0);
        assert_int_equal(wsr__b64url_decode(&b, v[i].encoded, strlen(v[i].encoded)), 0);
        assert_int_equal(b.len, v[i].n);
        if (b.len)
            assert_memory_equal(b.data, v[i].plain, b.len);
        wsr__buf_dispose(&b);
    }
}

static void test_jwt__b64url_decode_is_strict(void **state)
{
    static const char *const bad[] = {
        "Z",     "Zm9vY",                           /* 4n+1 characters */
        "Zg==",  "Zm8=",  "Zg=",    "=",            /* padding */
        "Zh",    "Zm9",   "Zm9vYh", "-_9",          /* spare bits set */
        "Zm 9v", " Zm9v", "Zm9v\n", "Zm9v\t",       /* blanks */
        "Zm+v",  "Zm/v",  "Zm.v",   "Zm9v\xc3\xa9", /* foreign characters */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wsr__buf_t b;
        int rc;

        wsr__buf_init(&b, 0, 0);
        rc = wsr__b64url_decode(&b, bad[i], strlen(bad[i]));
        if (rc != WSR_EPARSE)
            fail_msg("\"%s\" decoded (rc %d)", bad[i], rc);
        wsr__buf_dispose(&b);
    }
    /* A NUL byte is a foreign character too, not the end. */
    {
        wsr__buf_t b;

        wsr__buf_init(&b, 0, 0);
        assert_int_equal(wsr__b64url_decode(&b, "Zm\0v", 4), WSR_EPARSE);
        wsr__buf_dispose(&b);
    }
}

static void test_jwt__b64url_round_trip_every_length(void **state)
{
    unsigned char all[256];

    (void)state;
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)(255 - i);
    for (size_t n = 0; n <= 256; n++) {
        wsr__buf_t enc, dec;

        wsr__buf_init(&enc, 0, 0);
        wsr__buf_init(&dec, 0, 0);
        assert_int_equal(wsr__b64url_encode(&enc, all, n), 0);
        assert_int_equal(enc.len, (n * 4 + 2) / 3);
        assert_int_equal(wsr__b64url_decode(&dec, enc.data ? (const char *)enc.data : "", enc.len),
                         0);
        assert_int_equal(dec.len, n);
        if (n)
            assert_memory_equal(dec.data, all, n);
        wsr__buf_dispose(&enc);
        wsr__buf_dispose(&dec);
    }
}

/* ---- public keys (RS256, ES256) ---- */

/* The only key of a JWKS text; the set is returned for release. */
static const wsr__key_t *jwks_key(const char *jwks, wsr__keys_t **set)
{
    wsr_error_t err;

    *set = wsr__keys_from_jwks(jwks, strlen(jwks), "vector", NULL, 0, &err);
    if (*set == NULL)
        fail_msg("%s", err.text);
    return wsr__keys_get(*set, 0);
}

static int verify_with(const wsr__key_t *k, const char *token, json_t **p, char *detail)
{
    detail[0] = '\0';
    return wsr__jwt_verify_key(token, strlen(token), k->alg, k->pkey, k->kid, p, detail, 256);
}

static void expect_key_refused(const wsr__key_t *k, const char *token, const char *sentence)
{
    char detail[256];
    json_t *p = (json_t *)1;
    int rc = verify_with(k, token, &p, detail);

    if (rc != WSR_EAUTH || strcmp(detail, sentence) != 0)
        fail_msg("token \"%.100s\" with key %s: rc %d \"%s\", wanted \"%s\"", token, k->kid, rc,
                 detail, sentence);
    assert_null(p);
}

static void test_jwt__rfc7515_a2_rs256_verifies_with_its_key(void **state)
{
    wsr__keys_t *set;
    const wsr__key_t *k = jwks_key(a2_jwks, &set);
    char detail[256];
    json_t *p = NULL;

    (void)state;
    assert_int_equal(k->alg, WSR__JWT_RS256);
    assert_int_equal(verify_with(k, a2_token, &p, detail), 0);
    assert_string_equal(json_string_value(json_object_get(p, "iss")), "joe");
    assert_int_equal(json_integer_value(json_object_get(p, "exp")), A1_EXP);
    /* Its exp is in 2011: the signature is good, the time is not. */
    assert_int_equal(wsr__jwt_check_times(p, A1_EXP - 1, 30, true, detail, sizeof(detail)), 0);
    assert_int_equal(wsr__jwt_check_times(p, (int64_t)time(NULL), 30, true, detail, sizeof(detail)),
                     WSR_EAUTH);
    assert_string_equal(detail, "token expired at 2011-03-22T18:43:00Z");
    json_decref(p);
    wsr__keys_unref(set);
}

static void test_jwt__rfc7515_a3_es256_verifies_with_its_key(void **state)
{
    wsr__keys_t *set;
    const wsr__key_t *k = jwks_key(a3_jwks, &set);
    char detail[256];
    json_t *p = NULL;

    (void)state;
    assert_int_equal(k->alg, WSR__JWT_ES256);
    assert_int_equal(verify_with(k, a3_token, &p, detail), 0);
    assert_true(json_is_true(json_object_get(p, "http://example.com/is_root")));
    json_decref(p);
    wsr__keys_unref(set);
}

static void test_jwt__rfc7515_vectors_refused_when_changed(void **state)
{
    wsr__keys_t *s2, *s3;
    const wsr__key_t *k2 = jwks_key(a2_jwks, &s2), *k3 = jwks_key(a3_jwks, &s3);
    char *t;

    (void)state;
    /* A payload that says something else, under the old signature. */
    t = with_segment(a2_token, 1, "eyJpc3MiOiJqb2UiLCJleHAiOjQxMDI0NDQ4MDB9");
    expect_key_refused(k2, t, "token signature does not match");
    free(t);
    t = with_segment(a3_token, 1, "eyJpc3MiOiJqb2UiLCJleHAiOjQxMDI0NDQ4MDB9");
    expect_key_refused(k3, t, "token signature does not match");
    free(t);
    /* Each token with the other's key: the header does not name the key's algorithm. */
    expect_key_refused(k3, a2_token, "token algorithm RS256 does not match key a3, which is ES256");
    expect_key_refused(k2, a3_token, "token algorithm ES256 does not match key a2, which is RS256");
    /* A3's header on A2's signature: ES256 wants 64 bytes. */
    t = with_segment(a2_token, 0, "eyJhbGciOiJFUzI1NiJ9");
    expect_key_refused(k3, t, "token signature has the wrong length");
    free(t);
    /* s of A3 flipped in its last bit. */
    t = strdup(a3_token);
    t[strlen(t) - 1] = t[strlen(t) - 1] == 'Q' ? 'g' : 'Q';
    expect_key_refused(k3, t, "token signature does not match");
    free(t);
    /* alg none, and HS256 keyed with anything, under a public key. */
    t = with_segment(a2_token, 0, "eyJhbGciOiJub25lIn0");
    expect_key_refused(k2, t, "token algorithm none is not accepted (only HS256, RS256 and ES256)");
    free(t);
    t = with_segment(a2_token, 0, "eyJhbGciOiJIUzI1NiJ9");
    expect_key_refused(k2, t, "token algorithm HS256 does not match key a2, which is RS256");
    free(t);
    wsr__keys_unref(s2);
    wsr__keys_unref(s3);
}

static void test_jwt__keys_made_here_sign_and_verify(void **state)
{
    EVP_PKEY *rsa = tu_key_new("rsa:2048"), *ec = tu_key_new("ec:P-256");
    EVP_PKEY *other = tu_key_new("ec:P-256");
    char *jr = tu_key_jwk(rsa, "r", NULL), *je = tu_key_jwk(ec, "e", NULL);
    char *jo = tu_key_jwk(other, "o", NULL), jwks[8192], detail[256];
    wsr__keys_t *set;
    wsr_error_t err;
    json_t *p;
    char *t, *pem;

    (void)state;
    snprintf(jwks, sizeof(jwks), "{\"keys\":[%s,%s,%s]}", jr, je, jo);
    set = wsr__keys_from_jwks(jwks, strlen(jwks), "t", NULL, 0, &err);
    assert_non_null(set);
    t = tu_jws(rsa, "{\"alg\":\"RS256\",\"kid\":\"r\"}", claims);
    assert_int_equal(verify_with(wsr__keys_find(set, "r"), t, &p, detail), 0);
    assert_string_equal(json_string_value(json_object_get(p, "sub")), "alice");
    json_decref(p);
    free(t);
    t = tu_jws(ec, "{\"alg\":\"ES256\",\"kid\":\"e\"}", claims);
    assert_int_equal(verify_with(wsr__keys_find(set, "e"), t, &p, detail), 0);
    json_decref(p);
    /* Another key of the same type and algorithm. */
    expect_key_refused(wsr__keys_find(set, "o"), t, "token signature does not match");
    free(t);
    /* The classic attack: the RSA public key's PEM as an HMAC secret. */
    pem = tu_key_pem(rsa, false);
    t = tu_jws_hs256(pem, strlen(pem), "{\"alg\":\"HS256\",\"kid\":\"r\"}", claims);
    expect_key_refused(wsr__keys_find(set, "r"), t,
                       "token algorithm HS256 does not match key r, which is RS256");
    free(t);
    /* ...and the server's HS256 path, with its own secret, refuses it too. */
    t = tu_jws_hs256(pem, strlen(pem), hs256, claims);
    expect_refused_str(t, "token signature does not match");
    free(t);
    free(pem);
    wsr__keys_unref(set);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(other);
    free(jr);
    free(je);
    free(jo);
}

static void test_jwt__header_kid_is_read(void **state)
{
    static const struct {
        const char *header, *sentence, *kid;
    } cases[] = {
        {"{\"alg\":\"RS256\",\"kid\":\"k-1\"}", NULL, "k-1"},
        {"{\"alg\":\"ES256\"}", NULL, NULL},
        {"{\"alg\":\"RS256\",\"kid\":7}", "token key id (kid) is not a string", NULL},
        {"{\"alg\":\"RS256\",\"kid\":\"a\\u0000b\"}", "token key id (kid) holds U+0000", NULL},
        {"{\"alg\":\"PS256\"}",
         "token algorithm PS256 is not accepted (only HS256, RS256 and "
         "ES256)",
         NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = make_token(cases[i].header, claims, key32, KEY32_LEN), detail[256] = "";
        wsr__jwt_header_t h;
        int rc = wsr__jwt_read_header(t, strlen(t), WSR__JWT_ALL, &h, detail, sizeof(detail));

        if (cases[i].sentence == NULL) {
            assert_int_equal(rc, 0);
            assert_int_equal(h.has_kid, cases[i].kid != NULL);
            assert_string_equal(h.kid, cases[i].kid ? cases[i].kid : "");
        } else if (rc != WSR_EAUTH || strcmp(detail, cases[i].sentence) != 0) {
            fail_msg("%s: rc %d \"%s\"", cases[i].header, rc, detail);
        }
        free(t);
    }
    /* A kid longer than 256 bytes. */
    {
        char header[400], *t, detail[256];
        wsr__jwt_header_t h;

        snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"kid\":\"%0257d\"}", 0);
        t = make_token(header, claims, key32, KEY32_LEN);
        assert_int_equal(wsr__jwt_read_header(t, strlen(t), WSR__JWT_ALL, &h, detail, 256),
                         WSR_EAUTH);
        assert_string_equal(detail, "token key id (kid) is longer than 256 bytes");
        free(t);
    }
}

static void expect_times(const char *payload, int64_t now, unsigned leeway, const char *sentence)
{
    json_t *p = json_loads(payload, 0, NULL);
    char detail[128] = "";
    int rc;

    assert_non_null(p);
    rc = wsr__jwt_check_times(p, now, leeway, true, detail, sizeof(detail));
    if (sentence == NULL && rc != 0)
        fail_msg("%s at %lld +-%u: refused: \"%s\"", payload, (long long)now, leeway, detail);
    if (sentence != NULL && (rc != WSR_EAUTH || strcmp(detail, sentence) != 0))
        fail_msg("%s at %lld +-%u: rc %d \"%s\", wanted \"%s\"", payload, (long long)now, leeway,
                 rc, detail, sentence);
    json_decref(p);
}

static void test_jwt__leeway_applies_to_exp_nbf_and_iat(void **state)
{
    (void)state;
    /* exp: accepted until exp + leeway, then refused. */
    expect_times("{\"exp\":1700000000}", 1700000029, 30, NULL);
    expect_times("{\"exp\":1700000000}", 1700000030, 30, "token expired at 2023-11-14T22:13:20Z");
    expect_times("{\"exp\":1700000000}", 1700000000, 0, "token expired at 2023-11-14T22:13:20Z");
    /* nbf: accepted from nbf - leeway. */
    expect_times("{\"exp\":1800000000,\"nbf\":1700000030}", 1700000000, 30, NULL);
    expect_times("{\"exp\":1800000000,\"nbf\":1700000031}", 1700000000, 30,
                 "token is not valid before 2023-11-14T22:13:51Z");
    /* iat: not from the future beyond the leeway. */
    expect_times("{\"exp\":1800000000,\"iat\":1700000030}", 1700000000, 30, NULL);
    expect_times("{\"exp\":1800000000,\"iat\":1700000031}", 1700000000, 30,
                 "token was issued in the future (at 2023-11-14T22:13:51Z)");
    expect_times("{\"exp\":1800000000,\"iat\":\"now\"}", 1700000000, 30,
                 "token issue time (iat) is not a number");
}

/* ---- allocation failures ---- */

static void test_jwt__sign_allocation_failures_return_enomem(void **state)
{
    json_t *c =
        json_pack("{s:s, s:I, s:I, s:s, s:s}", "sub", "alice", "iat", (json_int_t)1700000000, "exp",
                  (json_int_t)4102444800, "jti", "0123456789abcdefghijkl", "roles", "admin");
    long live = tu_live_blocks(), n;

    (void)state;
    for (n = 0;; n++) {
        char *token = (char *)1;
        int rc;

        tu_fail_at(n, false);
        rc = wsr__jwt_sign(key32, KEY32_LEN, c, &token);
        tu_fail_at(-1, false);
        if (rc == 0) {
            json_t *back = expect_valid(token, key32, KEY32_LEN);

            assert_true(json_equal(back, c));
            json_decref(back);
            wsr__free(token);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        assert_int_equal(rc, WSR_ENOMEM);
        assert_null(token);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 2);
    json_decref(c);
}

static void test_jwt__verify_allocation_failures_return_enomem(void **state)
{
    char *token = make_token(hs256, claims, key32, KEY32_LEN);
    long live = tu_live_blocks(), n;

    (void)state;
    for (n = 0;; n++) {
        char detail[256] = "";
        json_t *p = (json_t *)1;
        int rc;

        tu_fail_at(n, false);
        rc = wsr__jwt_verify(token, strlen(token), key32, KEY32_LEN, &p, detail, sizeof(detail));
        tu_fail_at(-1, false);
        if (rc == 0) {
            assert_int_equal(json_integer_value(json_object_get(p, "exp")), 4102444800);
            json_decref(p);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        /* Memory running out is not a bad token: 500, not 401. */
        if (rc != WSR_ENOMEM)
            fail_msg("allocation %ld failed: rc %d \"%s\"", n, rc, detail);
        assert_null(p);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 3);
    free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt__rfc7515_a1_verifies_with_its_key),
        cmocka_unit_test(test_jwt__rfc7515_a1_time_is_checked_against_the_given_clock),
        cmocka_unit_test(test_jwt__rfc7515_a1_another_key_does_not_match),
        cmocka_unit_test(test_jwt__rfc7520_4_4_signature_verifies_but_payload_is_not_an_object),
        cmocka_unit_test(test_jwt__rfc7515_a5_unsecured_jws_is_refused),
        cmocka_unit_test(test_jwt__alg_none_is_refused_in_any_spelling),
        cmocka_unit_test(test_jwt__other_algorithms_are_refused),
        cmocka_unit_test(test_jwt__missing_or_malformed_alg_is_refused),
        cmocka_unit_test(test_jwt__crit_is_refused),
        cmocka_unit_test(test_jwt__header_that_is_not_a_json_object_is_refused),
        cmocka_unit_test(test_jwt__wrong_segment_count_is_refused),
        cmocka_unit_test(test_jwt__bad_base64url_is_refused_in_each_segment),
        cmocka_unit_test(test_jwt__payload_that_is_not_a_json_object_is_refused),
        cmocka_unit_test(test_jwt__a_flipped_bit_anywhere_is_refused),
        cmocka_unit_test(test_jwt__another_secret_does_not_match),
        cmocka_unit_test(test_jwt__wrong_signature_length_is_refused),
        cmocka_unit_test(test_jwt__expired_is_refused),
        cmocka_unit_test(test_jwt__not_yet_valid_is_refused),
        cmocka_unit_test(test_jwt__missing_or_malformed_exp_is_refused),
        cmocka_unit_test(test_jwt__sign_verify_round_trip),
        cmocka_unit_test(test_jwt__b64url_encode_vectors),
        cmocka_unit_test(test_jwt__b64url_decode_is_strict),
        cmocka_unit_test(test_jwt__b64url_round_trip_every_length),
        cmocka_unit_test(test_jwt__rfc7515_a2_rs256_verifies_with_its_key),
        cmocka_unit_test(test_jwt__rfc7515_a3_es256_verifies_with_its_key),
        cmocka_unit_test(test_jwt__rfc7515_vectors_refused_when_changed),
        cmocka_unit_test(test_jwt__keys_made_here_sign_and_verify),
        cmocka_unit_test(test_jwt__header_kid_is_read),
        cmocka_unit_test(test_jwt__leeway_applies_to_exp_nbf_and_iat),
        cmocka_unit_test(test_jwt__sign_allocation_failures_return_enomem),
        cmocka_unit_test(test_jwt__verify_allocation_failures_return_enomem),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("jwt", tests, NULL, NULL);
}
