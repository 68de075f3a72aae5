/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/services/keys.c: identity-provider keys made here with
 * OpenSSL (RSA 2048, EC P-256; RSA 1024 and P-384 to be refused), written as
 * PEM files, certificates and JWKS in a fresh temporary directory, loaded
 * with their kid and algorithm; the keys a JWKS may hold that the server
 * skips (not for signatures, types it does not verify) and those that refuse
 * the whole file (malformed, too small, off the curve, a kid twice), each
 * with its sentence; and allocation-failure sweeps.
 */
#include "testutil.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/keys_int.h"

typedef struct fixture {
    char *dir;
    EVP_PKEY *rsa, *ec;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->dir = tu_tempdir("wsr-keys");
    f->rsa = tu_key_new("rsa:2048");
    f->ec = tu_key_new("ec:P-256");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    EVP_PKEY_free(f->rsa);
    EVP_PKEY_free(f->ec);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Writes `text` (taken: freed) to dir/name; returns the path (static buffer
 * per call site is not enough: malloc'd). */
static char *put(const fixture_t *f, const char *name, char *text)
{
    char *path = malloc(strlen(f->dir) + strlen(name) + 2);

    assert_non_null(path);
    sprintf(path, "%s/%s", f->dir, name);
    tu_write_file(path, text);
    free(text);
    return path;
}

/* Loads and expects failure with `code` and exactly `sentence`. */
static void expect_load_error(const char *pems, const char *jwks, int code, const char *sentence)
{
    wsr_error_t err;
    wsr__keys_t *k;

    memset(&err, 0, sizeof(err));
    k = wsr__keys_load(pems, jwks, NULL, 0, &err);
    if (k != NULL || err.code != code || strcmp(err.text, sentence) != 0)
        fail_msg("load %s | %s: %p, code %d \"%s\", wanted %d \"%s\"", pems ? pems : "-",
                 jwks ? jwks : "-", (void *)k, err.code, err.text, code, sentence);
}

/* Expects the JWKS text to be refused with exactly `sentence`. */
static void expect_jwks_error(const char *json, const char *sentence)
{
    wsr_error_t err;
    wsr__keys_t *k;

    memset(&err, 0, sizeof(err));
    k = wsr__keys_from_jwks(json, strlen(json), "test.jwks", NULL, 0, &err);
    if (k != NULL || err.code != WSR_EINVAL || strcmp(err.text, sentence) != 0)
        fail_msg("jwks %.200s: %p, code %d \"%s\", wanted \"%s\"", json, (void *)k, err.code,
                 err.text, sentence);
}

static void test_keys__pem_files_load_with_kid_from_the_file_name(void **state)
{
    fixture_t *f = *state;
    char *rsa = put(f, "idp-2024.pem", tu_key_pem(f->rsa, false));
    char *ec = put(f, "ec.key.pub", tu_key_pem(f->ec, false));
    char *cert = put(f, "cert.crt", tu_key_cert_pem(f->ec));
    char list[4096];
    wsr_error_t err;
    wsr__keys_t *k;
    const wsr__key_t *key;

    snprintf(list, sizeof(list), "%s, %s ,%s", rsa, ec, cert);
    k = wsr__keys_load(list, NULL, NULL, 0, &err);
    if (k == NULL)
        fail_msg("%s", err.text);
    assert_int_equal(wsr__keys_count(k), 3);
    key = wsr__keys_find(k, "idp-2024");
    assert_non_null(key);
    assert_int_equal(key->alg, WSR__JWT_RS256);
    assert_int_equal(EVP_PKEY_eq(key->pkey, f->rsa), 1);
    key = wsr__keys_find(k, "ec.key");
    assert_non_null(key);
    assert_int_equal(key->alg, WSR__JWT_ES256);
    assert_int_equal(EVP_PKEY_eq(key->pkey, f->ec), 1);
    /* A certificate's key counts as its public key. */
    key = wsr__keys_find(k, "cert");
    assert_non_null(key);
    assert_int_equal(key->alg, WSR__JWT_ES256);
    assert_int_equal(EVP_PKEY_eq(key->pkey, f->ec), 1);
    assert_null(wsr__keys_find(k, "idp-2024.pem"));
    assert_null(wsr__keys_find(k, NULL));
    assert_ptr_equal(wsr__keys_get(k, 0), wsr__keys_find(k, "idp-2024"));
    assert_null(wsr__keys_get(k, 3));
    /* A reference outlives the first. */
    assert_ptr_equal(wsr__keys_ref(k), k);
    wsr__keys_unref(k);
    assert_int_equal(wsr__keys_count(k), 3);
    wsr__keys_unref(k);
    wsr__keys_unref(NULL);
    assert_int_equal(wsr__keys_count(NULL), 0);
    free(rsa);
    free(ec);
    free(cert);
}

static void test_keys__pem_refusals_say_why(void **state)
{
    fixture_t *f = *state;
    EVP_PKEY *small = tu_key_new("rsa:1024"), *p384 = tu_key_new("ec:P-384");
    char *p_small = put(f, "small.pem", tu_key_pem(small, false));
    char *p_384 = put(f, "p384.pem", tu_key_pem(p384, false));
    char *p_priv = put(f, "private.pem", tu_key_pem(f->rsa, true));
    char *p_text = put(f, "text.pem", strdup("not a key\n"));
    char *p_ok = put(f, "same.pem", tu_key_pem(f->rsa, false));
    char sentence[8192], list[8192], missing[4096];

    snprintf(sentence, sizeof(sentence),
             "jwt_keys %s: an RSA key of 1024 bits is too small (2048 at least)", p_small);
    expect_load_error(p_small, NULL, WSR_EINVAL, sentence);
    snprintf(sentence, sizeof(sentence),
             "jwt_keys %s: an EC key on curve secp384r1 is not on P-256 (ES256)", p_384);
    expect_load_error(p_384, NULL, WSR_EINVAL, sentence);
    /* A private key is not what is asked for, and not read as one. */
    snprintf(sentence, sizeof(sentence),
             "jwt_keys %s holds no public key (BEGIN PUBLIC KEY) nor certificate (BEGIN "
             "CERTIFICATE)",
             p_priv);
    expect_load_error(p_priv, NULL, WSR_EINVAL, sentence);
    snprintf(sentence, sizeof(sentence),
             "jwt_keys %s holds no public key (BEGIN PUBLIC KEY) nor certificate (BEGIN "
             "CERTIFICATE)",
             p_text);
    expect_load_error(p_text, NULL, WSR_EINVAL, sentence);
    snprintf(missing, sizeof(missing), "%s/none.pem", f->dir);
    snprintf(sentence, sizeof(sentence), "jwt_keys: cannot read %s: No such file or directory",
             missing);
    expect_load_error(missing, NULL, WSR_EIO, sentence);
    /* The same file twice is the same kid twice. */
    snprintf(list, sizeof(list), "%s,%s", p_ok, p_ok);
    snprintf(sentence, sizeof(sentence), "jwt_keys %s: the key id same is used by two keys", p_ok);
    expect_load_error(list, NULL, WSR_EINVAL, sentence);
    /* One bad file refuses the lot. */
    snprintf(list, sizeof(list), "%s,%s", p_ok, p_small);
    snprintf(sentence, sizeof(sentence),
             "jwt_keys %s: an RSA key of 1024 bits is too small (2048 at least)", p_small);
    expect_load_error(list, NULL, WSR_EINVAL, sentence);
    expect_load_error(" , ", NULL, WSR_EINVAL, "jwt_keys and jwt_jwks name no key");
    EVP_PKEY_free(small);
    EVP_PKEY_free(p384);
    free(p_small);
    free(p_384);
    free(p_priv);
    free(p_text);
    free(p_ok);
}

static void test_keys__jwks_rsa_and_ec_keys_load(void **state)
{
    fixture_t *f = *state;
    char *a = tu_key_jwk(f->rsa, "r1", ",\"use\":\"sig\",\"alg\":\"RS256\"");
    char *b = tu_key_jwk(f->ec, "e1", ",\"key_ops\":[\"verify\"]");
    char *json = malloc(strlen(a) + strlen(b) + 64), *path, notes[256] = "x";
    wsr_error_t err;
    wsr__keys_t *k;
    const wsr__key_t *key;

    sprintf(json, "{\"keys\":[%s,%s]}", a, b);
    path = put(f, "idp.jwks", strdup(json));
    k = wsr__keys_load(NULL, path, notes, sizeof(notes), &err);
    if (k == NULL)
        fail_msg("%s", err.text);
    assert_string_equal(notes, "");
    assert_int_equal(wsr__keys_count(k), 2);
    key = wsr__keys_find(k, "r1");
    assert_int_equal(key->alg, WSR__JWT_RS256);
    assert_int_equal(EVP_PKEY_eq(key->pkey, f->rsa), 1);
    key = wsr__keys_find(k, "e1");
    assert_int_equal(key->alg, WSR__JWT_ES256);
    assert_int_equal(EVP_PKEY_eq(key->pkey, f->ec), 1);
    wsr__keys_unref(k);
    /* PEM files and a JWKS together; a kid in both is refused. */
    {
        char *pem = put(f, "r1.pem", tu_key_pem(f->ec, false)), sentence[8192];

        snprintf(sentence, sizeof(sentence), "jwt_jwks %s: the key id r1 is used by two keys",
                 path);
        expect_load_error(pem, path, WSR_EINVAL, sentence);
        free(pem);
    }
    free(path);
    free(json);
    free(a);
    free(b);
}

static void test_keys__jwks_skips_keys_it_does_not_verify_with(void **state)
{
    fixture_t *f = *state;
    EVP_PKEY *p384 = tu_key_new("ec:P-384");
    char *good = tu_key_jwk(f->ec, "good", NULL);
    char *enc = tu_key_jwk(f->rsa, "enc", ",\"use\":\"enc\"");
    char *ops = tu_key_jwk(f->rsa, "ops", ",\"key_ops\":[\"encrypt\"]");
    char *ps = tu_key_jwk(f->rsa, "ps", ",\"alg\":\"PS256\"");
    char *big = tu_key_jwk(p384, "p384", NULL);
    char json[16384], notes[1024];
    wsr_error_t err;
    wsr__keys_t *k;

    snprintf(json, sizeof(json),
             "{\"keys\":[%s,%s,%s,%s,%s,{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0\"},"
             "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}",
             enc, good, ops, ps, big);
    k = wsr__keys_from_jwks(json, strlen(json), "t.jwks", notes, sizeof(notes), &err);
    if (k == NULL)
        fail_msg("%s", err.text);
    assert_int_equal(wsr__keys_count(k), 1);
    assert_non_null(wsr__keys_find(k, "good"));
    /* A symmetric key in a JWKS is never an HMAC secret for tokens. */
    assert_null(wsr__keys_find(k, "hmac"));
    assert_string_equal(notes, "t.jwks: skipped key 1 (kid enc): its use is enc, not sig; "
                               "t.jwks: skipped key 3 (kid ops): its key_ops do not include "
                               "verify; t.jwks: skipped key 4 (kid ps): alg PS256 is not one this "
                               "server verifies; t.jwks: skipped key 5 (kid p384): curve P-384 "
                               "is not P-256; t.jwks: skipped key 6 (kid hmac): kty oct is not "
                               "RSA nor EC; t.jwks: skipped key 7: kty OKP is not RSA nor EC");
    wsr__keys_unref(k);
    /* Only keys it skips: nothing to verify with. */
    snprintf(json, sizeof(json), "{\"keys\":[%s]}", enc);
    expect_jwks_error(json, "test.jwks holds no key this server can verify with");
    EVP_PKEY_free(p384);
    free(good);
    free(enc);
    free(ops);
    free(ps);
    free(big);
}

/* Replaces the member `name`'s value in a JWK text with `value` (a JSON text). */
static char *with_member(const char *jwk, const char *name, const char *value)
{
    json_t *o = json_loads(jwk, 0, NULL), *v = json_loads(value, JSON_DECODE_ANY, NULL);
    char text[8192], *out = malloc(sizeof(text) + 16);

    assert_non_null(o);
    assert_non_null(v);
    assert_non_null(out);
    assert_int_equal(json_object_set_new(o, name, v), 0);
    text[json_dumpb(o, text, sizeof(text) - 1, JSON_COMPACT)] = '\0';
    json_decref(o);
    sprintf(out, "{\"keys\":[%s]}", text);
    return out;
}

static void test_keys__jwks_refusals_say_why(void **state)
{
    fixture_t *f = *state;
    EVP_PKEY *small = tu_key_new("rsa:1024");
    char *ec = tu_key_jwk(f->ec, "k", NULL), *rsa = tu_key_jwk(f->rsa, "k", NULL);
    char *weak = tu_key_jwk(small, "weak", NULL), *t, json[8192];
    json_t *o;

    (void)state;
    expect_jwks_error("", "test.jwks is empty");
    expect_jwks_error("{\"keys\":[",
                      "test.jwks is not JSON: it ends too early (line 1, column 10)");
    expect_jwks_error("{\"kty\":\"RSA\"}", "test.jwks has no \"keys\" array (RFC 7517 section 5)");
    expect_jwks_error("{\"keys\":[]}", "test.jwks holds no key this server can verify with");
    expect_jwks_error("{\"keys\":[1]}", "test.jwks: key 1 is not an object with a kty");
    expect_jwks_error("{\"keys\":[{\"n\":\"AQAB\"}]}",
                      "test.jwks: key 1 is not an object with a kty");
    t = with_member(ec, "kid", "7");
    expect_jwks_error(t, "test.jwks: key 1 has a kid that is not a string of 1 to 256 bytes");
    free(t);
    t = with_member(ec, "x", "\"AAAA\"");
    expect_jwks_error(t, "test.jwks: key 1 (kid k): x and y must be 32 bytes each");
    free(t);
    t = with_member(ec, "y", "\"not base64url!\"");
    expect_jwks_error(t, "test.jwks: key 1 (kid k): member y is not base64url");
    free(t);
    t = with_member(ec, "y", "null");
    expect_jwks_error(t, "test.jwks: key 1 (kid k): member y is missing or not a string");
    free(t);
    /* A point whose y was changed is not on the curve. */
    o = json_loads(ec, 0, NULL);
    {
        char y[64];

        snprintf(y, sizeof(y), "\"%s\"", json_string_value(json_object_get(o, "y")));
        y[1] = y[1] == 'A' ? 'B' : 'A';
        t = with_member(ec, "y", y);
    }
    json_decref(o);
    expect_jwks_error(t, "test.jwks: key 1 (kid k): its point (x, y) is not on P-256");
    free(t);
    t = with_member(rsa, "alg", "\"ES256\"");
    expect_jwks_error(t, "test.jwks: key 1 (kid k): alg ES256 does not fit a key of kty RSA");
    free(t);
    t = with_member(rsa, "e", "\"\"");
    expect_jwks_error(t, "test.jwks: key 1 (kid k): member e is not base64url");
    free(t);
    snprintf(json, sizeof(json), "{\"keys\":[%s]}", weak);
    expect_jwks_error(json,
                      "test.jwks: key 1 (kid weak): an RSA key of 1024 bits is too small (2048 at "
                      "least)");
    snprintf(json, sizeof(json), "{\"keys\":[%s,%s]}", ec, rsa);
    expect_jwks_error(json, "test.jwks: the key id k is used by two keys");
    EVP_PKEY_free(small);
    free(ec);
    free(rsa);
    free(weak);
}

static void test_keys__jwks_allocation_failures_return_enomem(void **state)
{
    fixture_t *f = *state;
    char *a = tu_key_jwk(f->rsa, "r", NULL), *b = tu_key_jwk(f->ec, "e", NULL);
    char json[8192];
    long live = tu_live_blocks(), n;

    snprintf(json, sizeof(json), "{\"keys\":[%s,%s]}", a, b);
    for (n = 0;; n++) {
        wsr_error_t err;
        wsr__keys_t *k;

        memset(&err, 0, sizeof(err));
        tu_fail_at(n, false);
        k = wsr__keys_from_jwks(json, strlen(json), "t", NULL, 0, &err);
        tu_fail_at(-1, false);
        if (k != NULL) {
            assert_int_equal(wsr__keys_count(k), 2);
            wsr__keys_unref(k);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        if (err.code != WSR_ENOMEM)
            fail_msg("allocation %ld: code %d \"%s\"", n, err.code, err.text);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 4);
    free(a);
    free(b);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_keys__pem_files_load_with_kid_from_the_file_name),
        T(test_keys__pem_refusals_say_why),
        T(test_keys__jwks_rsa_and_ec_keys_load),
        T(test_keys__jwks_skips_keys_it_does_not_verify_with),
        T(test_keys__jwks_refusals_say_why),
        T(test_keys__jwks_allocation_failures_return_enomem),
    };

    tu_install_allocator();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
