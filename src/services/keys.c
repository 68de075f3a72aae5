/* SPDX-License-Identifier: MIT */
/*
 * Identity-provider keys (keys_int.h): PEM files and JWKS (RFC 7517, with
 * the RSA and EC members of RFC 7518 section 6) turned into OpenSSL 3
 * EVP_PKEYs, each with the one algorithm its type allows. It owns the keys
 * of a set until the last reference goes. It reads files only when asked to
 * load (the authority does so at start and on SIGHUP, never on an event
 * loop), and it never logs: what it skipped is handed back as text.
 */
#include "services/keys_int.h"

#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/json_int.h"

#define RSA_MIN_BITS 2048
#define P256_COORD   32

struct wsr__keys {
    atomic_int refs;
    size_t n;
    wsr__key_t keys[WSR__KEYS_MAX];
};

/* Appends a sentence to `notes` ("; " between them); silently cut when full. */
static void note(char *notes, size_t size, const char *fmt, ...) WSR_PRINTF(3, 4);
static void note(char *notes, size_t size, const char *fmt, ...)
{
    size_t len;
    va_list ap;

    if (notes == NULL || size == 0)
        return;
    len = strlen(notes);
    if (len > 0 && len + 2 < size) {
        memcpy(notes + len, "; ", 3);
        len += 2;
    }
    va_start(ap, fmt);
    if (len < size)
        vsnprintf(notes + len, size - len, fmt, ap);
    va_end(ap);
}

static wsr__keys_t *keys_new(void)
{
    wsr__keys_t *k = wsr__calloc(1, sizeof(*k));

    if (k != NULL)
        atomic_init(&k->refs, 1);
    return k;
}

wsr__keys_t *wsr__keys_ref(wsr__keys_t *k)
{
    if (k != NULL)
        atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
    return k;
}

void wsr__keys_unref(wsr__keys_t *k)
{
    if (k == NULL || atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < k->n; i++) {
        wsr__free(k->keys[i].kid);
        EVP_PKEY_free(k->keys[i].pkey);
    }
    wsr__free(k);
}

size_t wsr__keys_count(const wsr__keys_t *k)
{
    return k ? k->n : 0;
}

const wsr__key_t *wsr__keys_get(const wsr__keys_t *k, size_t i)
{
    return k != NULL && i < k->n ? &k->keys[i] : NULL;
}

const wsr__key_t *wsr__keys_find(const wsr__keys_t *k, const char *kid)
{
    for (size_t i = 0; k != NULL && kid != NULL && i < k->n; i++)
        if (k->keys[i].kid != NULL && strcmp(k->keys[i].kid, kid) == 0)
            return &k->keys[i];
    return NULL;
}

/*
 * Adds `pkey` (taken, also on failure) with `kid` (copied; may be NULL).
 * Returns 0, or an error with `err`: a kid given twice, too many keys, no
 * memory.
 */
static int add_key(wsr__keys_t *k, EVP_PKEY *pkey, wsr__jwt_alg_t alg, const char *kid,
                   const char *source, wsr_error_t *err)
{
    char *copy = NULL;

    if (kid != NULL && wsr__keys_find(k, kid) != NULL) {
        EVP_PKEY_free(pkey);
        return wsr__error_set(err, WSR_EINVAL, "%s: the key id %.64s is used by two keys", source,
                              kid);
    }
    if (k->n == WSR__KEYS_MAX) {
        EVP_PKEY_free(pkey);
        return wsr__error_set(err, WSR_EINVAL, "%s: more than %d keys", source, WSR__KEYS_MAX);
    }
    if (kid != NULL && (copy = wsr__strdup(kid)) == NULL) {
        EVP_PKEY_free(pkey);
        return wsr__error_set(err, WSR_ENOMEM, "out of memory loading keys");
    }
    k->keys[k->n].kid = copy;
    k->keys[k->n].alg = alg;
    k->keys[k->n].pkey = pkey;
    k->n++;
    return 0;
}

/*
 * Decides the algorithm of `pkey`: RS256 for RSA of 2048 bits or more, ES256
 * for EC on P-256. Anything else is refused, with a sentence in `why`. The
 * key must pass OpenSSL's public-key check (an RSA exponent that is even, a
 * point off the curve).
 */
static int classify(EVP_PKEY *pkey, wsr__jwt_alg_t *alg, char *why, size_t size)
{
    char group[64] = "";
    EVP_PKEY_CTX *ctx;
    int ok;

    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS) {
            snprintf(why, size, "an RSA key of %d bits is too small (%d at least)",
                     EVP_PKEY_get_bits(pkey), RSA_MIN_BITS);
            return WSR_EINVAL;
        }
        *alg = WSR__JWT_RS256;
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           NULL) != 1 ||
            strcmp(group, "prime256v1") != 0) {
            snprintf(why, size, "an EC key on curve %s is not on P-256 (ES256)",
                     group[0] ? group : "(unnamed)");
            ERR_clear_error();
            return WSR_EINVAL;
        }
        *alg = WSR__JWT_ES256;
    } else {
        snprintf(why, size, "a %s key is neither RSA nor EC P-256",
                 EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?");
        return WSR_EINVAL;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    if (!ok) {
        snprintf(why, size, "the key fails OpenSSL's public key check");
        return WSR_EINVAL;
    }
    return 0;
}

/* Reads the whole file `path` into `b` (at most WSR__KEYS_FILE_MAX bytes). */
static int read_file(const char *path, const char *what, wsr__buf_t *b, wsr_error_t *err)
{
    char chunk[4096];
    FILE *fp = fopen(path, "rb");
    size_t n;
    int rc = 0;

    if (fp == NULL)
        return wsr__error_set(err, WSR_EIO, "%s: cannot read %s: %s", what, path, strerror(errno));
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        rc = wsr__buf_append(b, chunk, n);
    if (rc == 0 && ferror(fp))
        rc = wsr__error_set(err, WSR_EIO, "%s: cannot read %s", what, path);
    else if (rc == WSR_EOVERFLOW)
        rc = wsr__error_set(err, WSR_EINVAL, "%s: %s is larger than %d bytes", what, path,
                            WSR__KEYS_FILE_MAX);
    else if (rc != 0)
        rc = wsr__error_set(err, WSR_ENOMEM, "out of memory loading keys");
    fclose(fp);
    return rc;
}

/* The kid of a PEM file: its name without the directory and last extension. */
static void pem_kid(const char *path, char *kid, size_t size)
{
    const char *base = strrchr(path, '/');
    const char *dot;
    size_t n;

    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    n = dot != NULL && dot != base ? (size_t)(dot - base) : strlen(base);
    if (n >= size)
        n = size - 1;
    memcpy(kid, base, n);
    kid[n] = '\0';
}

/* A public key from PEM text: SubjectPublicKeyInfo, or a certificate's. */
static EVP_PKEY *pem_key(const wsr__buf_t *text)
{
    BIO *bio = BIO_new_mem_buf(text->data, (int)text->len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

    if (pkey == NULL && bio != NULL && BIO_reset(bio) == 1) {
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);

        pkey = cert ? X509_get_pubkey(cert) : NULL;
        X509_free(cert);
    }
    BIO_free(bio);
    ERR_clear_error();
    return pkey;
}

static int add_pem_file(wsr__keys_t *k, const char *path, wsr_error_t *err)
{
    char kid[WSR__JWT_KID_MAX + 1], why[160], source[320];
    wsr__jwt_alg_t alg = 0;
    EVP_PKEY *pkey;
    wsr__buf_t text;
    int rc;

    snprintf(source, sizeof(source), "jwt_keys %.200s", path);
    wsr__buf_init(&text, 0, WSR__KEYS_FILE_MAX);
    rc = read_file(path, "jwt_keys", &text, err);
    if (rc != 0) {
        wsr__buf_dispose(&text);
        return rc;
    }
    pkey = text.len > 0 && text.len <= INT32_MAX ? pem_key(&text) : NULL;
    wsr__buf_dispose(&text);
    if (pkey == NULL)
        return wsr__error_set(err, WSR_EINVAL,
                              "%s holds no public key (BEGIN PUBLIC KEY) nor certificate (BEGIN "
                              "CERTIFICATE)",
                              source);
    rc = classify(pkey, &alg, why, sizeof(why));
    if (rc != 0) {
        EVP_PKEY_free(pkey);
        return wsr__error_set(err, rc, "%s: %s", source, why);
    }
    pem_kid(path, kid, sizeof(kid));
    return add_key(k, pkey, alg, kid, source, err);
}

/* Adds every file of the comma-separated list `paths`. */
static int add_pem_files(wsr__keys_t *k, const char *paths, wsr_error_t *err)
{
    char path[4096];
    const char *p = paths;
    int rc = 0;

    while (rc == 0 && *p != '\0') {
        size_t n = strcspn(p, ",");
        size_t start = 0, end = n;

        while (start < end && (p[start] == ' ' || p[start] == '\t'))
            start++;
        while (end > start && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end - start >= sizeof(path))
            rc = wsr__error_set(err, WSR_EINVAL, "jwt_keys: a file name is too long");
        else if (end > start) {
            memcpy(path, p + start, end - start);
            path[end - start] = '\0';
            rc = add_pem_file(k, path, err);
        }
        p += n + (p[n] == ',');
    }
    return rc;
}

/* ---- JWK (RFC 7517, RFC 7518 section 6) ---- */

/* Decodes the base64url member `name` of `jwk` into `out`. */
static int jwk_bytes(const json_t *jwk, const char *name, wsr__buf_t *out, char *why, size_t size)
{
    const json_t *v = json_object_get(jwk, name);
    int rc;

    if (!json_is_string(v)) {
        snprintf(why, size, "member %s is missing or not a string", name);
        return WSR_EINVAL;
    }
    rc = wsr__b64url_decode(out, json_string_value(v), json_string_length(v));
    if (rc == WSR_ENOMEM)
        return rc;
    if (rc != 0 || out->len == 0) {
        snprintf(why, size, "member %s is not base64url", name);
        return WSR_EINVAL;
    }
    return 0;
}

/* Builds a public key of type `type` from `params` (OpenSSL 3 fromdata). */
static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = bld ? OSSL_PARAM_BLD_to_param(bld) : NULL;
    EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
    EVP_PKEY *pkey = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    ERR_clear_error();
    return pkey;
}

/* An RSA public key from the JWK's n and e. */
static int rsa_jwk(const json_t *jwk, EVP_PKEY **out, char *why, size_t size)
{
    wsr__buf_t n, e;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    int rc;

    wsr__buf_init(&n, 0, 2048);
    wsr__buf_init(&e, 0, 64);
    rc = jwk_bytes(jwk, "n", &n, why, size);
    if (rc == 0)
        rc = jwk_bytes(jwk, "e", &e, why, size);
    if (rc == 0) {
        bn = BN_bin2bn(n.data, (int)n.len, NULL);
        be = BN_bin2bn(e.data, (int)e.len, NULL);
        bld = OSSL_PARAM_BLD_new();
        if (bn == NULL || be == NULL || bld == NULL ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
            rc = WSR_ENOMEM;
    }
    if (rc == 0 && (*out = from_params("RSA", bld)) == NULL) {
        snprintf(why, size, "OpenSSL refuses its n and e");
        rc = WSR_EINVAL;
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    wsr__buf_dispose(&n);
    wsr__buf_dispose(&e);
    return rc;
}

/* An EC P-256 public key from the JWK's x and y (32 bytes each). */
static int ec_jwk(const json_t *jwk, EVP_PKEY **out, char *why, size_t size)
{
    unsigned char point[1 + 2 * P256_COORD];
    wsr__buf_t x, y;
    OSSL_PARAM_BLD *bld = NULL;
    int rc;

    wsr__buf_init(&x, 0, 64);
    wsr__buf_init(&y, 0, 64);
    rc = jwk_bytes(jwk, "x", &x, why, size);
    if (rc == 0)
        rc = jwk_bytes(jwk, "y", &y, why, size);
    if (rc == 0 && (x.len != P256_COORD || y.len != P256_COORD)) {
        snprintf(why, size, "x and y must be %d bytes each", P256_COORD);
        rc = WSR_EINVAL;
    }
    if (rc == 0) {
        point[0] = 0x04; /* uncompressed (SEC 1 2.3.3) */
        memcpy(point + 1, x.data, P256_COORD);
        memcpy(point + 1 + P256_COORD, y.data, P256_COORD);
        bld = OSSL_PARAM_BLD_new();
        if (bld == NULL ||
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
                1 ||
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) !=
                1)
            rc = WSR_ENOMEM;
    }
    if (rc == 0 && (*out = from_params("EC", bld)) == NULL) {
        snprintf(why, size, "its point (x, y) is not on P-256");
        rc = WSR_EINVAL;
    }
    OSSL_PARAM_BLD_free(bld);
    wsr__buf_dispose(&x);
    wsr__buf_dispose(&y);
    return rc;
}

/* Writes a sentence into `why` and returns `rc`. */
static int because(int rc, char *why, size_t size, const char *fmt, ...) WSR_PRINTF(4, 5);
static int because(int rc, char *why, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return rc;
}

/* True when a JWK's key_ops (absent: any) allow verifying. */
static bool ops_verify(const json_t *ops)
{
    const json_t *op;
    size_t i;

    if (ops == NULL)
        return true;
    json_array_foreach(ops, i, op)
    {
        if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
            return true;
    }
    return false;
}

/*
 * Whether a JWK is one this server verifies with: 0 (go on), WSR_ENOENT
 * (skip it, `why` says why) or WSR_EINVAL (a contradiction: refuse).
 */
static int jwk_usable(const json_t *jwk, const char *kty, char *why, size_t size)
{
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *alg = json_string_value(json_object_get(jwk, "alg"));
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    const char *want = strcmp(kty, "RSA") == 0 ? "RS256" : "ES256";

    if (use != NULL && strcmp(use, "sig") != 0)
        return because(WSR_ENOENT, why, size, "its use is %.20s, not sig", use);
    if (!ops_verify(json_object_get(jwk, "key_ops")))
        return because(WSR_ENOENT, why, size, "its key_ops do not include verify");
    if (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0)
        return because(WSR_ENOENT, why, size, "kty %.20s is not RSA nor EC", kty);
    if (strcmp(kty, "EC") == 0 && (crv == NULL || strcmp(crv, "P-256") != 0))
        return because(WSR_ENOENT, why, size, "curve %.20s is not P-256", crv ? crv : "(none)");
    if (alg != NULL && (strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0) &&
        strcmp(alg, want) != 0)
        return because(WSR_EINVAL, why, size, "alg %s does not fit a key of kty %s", alg, kty);
    if (alg != NULL && strcmp(alg, want) != 0)
        return because(WSR_ENOENT, why, size, "alg %.20s is not one this server verifies", alg);
    return 0;
}

/* Adds key `i` of a JWKS, or skips it with a note. */
static int add_jwk(wsr__keys_t *k, const json_t *jwk, size_t i, const char *source, char *notes,
                   size_t notes_size, wsr_error_t *err)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const json_t *kid = json_object_get(jwk, "kid");
    char why[160], label[WSR__JWT_KID_MAX + 32];
    wsr__jwt_alg_t alg = 0;
    EVP_PKEY *pkey = NULL;
    int rc;

    if (!json_is_object(jwk) || kty == NULL)
        return wsr__error_set(err, WSR_EINVAL, "%s: key %zu is not an object with a kty", source,
                              i + 1);
    if (kid != NULL && (!json_is_string(kid) || json_string_length(kid) == 0 ||
                        json_string_length(kid) > WSR__JWT_KID_MAX ||
                        strlen(json_string_value(kid)) != json_string_length(kid)))
        return wsr__error_set(err, WSR_EINVAL,
                              "%s: key %zu has a kid that is not a string of 1 to %d bytes", source,
                              i + 1, WSR__JWT_KID_MAX);
    snprintf(label, sizeof(label), "key %zu%s%s%s", i + 1, kid ? " (kid " : "",
             kid ? json_string_value(kid) : "", kid ? ")" : "");
    rc = jwk_usable(jwk, kty, why, sizeof(why));
    if (rc == WSR_ENOENT) {
        note(notes, notes_size, "%s: skipped %s: %s", source, label, why);
        return 0;
    }
    if (rc == 0)
        rc = strcmp(kty, "RSA") == 0 ? rsa_jwk(jwk, &pkey, why, sizeof(why))
                                     : ec_jwk(jwk, &pkey, why, sizeof(why));
    if (rc == 0)
        rc = classify(pkey, &alg, why, sizeof(why));
    if (rc != 0) {
        EVP_PKEY_free(pkey);
        if (rc == WSR_ENOMEM)
            return wsr__error_set(err, rc, "out of memory loading keys");
        return wsr__error_set(err, rc, "%s: %s: %s", source, label, why);
    }
    return add_key(k, pkey, alg, kid ? json_string_value(kid) : NULL, source, err);
}

static int add_jwks(wsr__keys_t *k, const char *json, size_t n, const char *source, char *notes,
                    size_t notes_size, wsr_error_t *err)
{
    wsr__json_error_t jerr;
    json_t *root, *keys, *jwk;
    size_t i;
    int rc = 0;

    if (n == 0)
        return wsr__error_set(err, WSR_EINVAL, "%s is empty", source);
    root = wsr__json_parse(json, n, 16, &jerr);
    if (root == NULL && jerr.kind == WSR__JSON_NOMEM)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory loading keys");
    if (root == NULL)
        return wsr__error_set(err, WSR_EINVAL, "%s is not JSON: %s (line %d, column %d)", source,
                              jerr.text, jerr.line, jerr.column);
    keys = json_object_get(root, "keys");
    if (!json_is_array(keys))
        rc = wsr__error_set(err, WSR_EINVAL, "%s has no \"keys\" array (RFC 7517 section 5)",
                            source);
    json_array_foreach(keys, i, jwk)
    {
        if (rc == 0)
            rc = add_jwk(k, jwk, i, source, notes, notes_size, err);
    }
    json_decref(root);
    return rc;
}

wsr__keys_t *wsr__keys_from_jwks(const char *json, size_t n, const char *source, char *notes,
                                 size_t notes_size, wsr_error_t *err)
{
    wsr__keys_t *k = keys_new();

    if (notes != NULL && notes_size > 0)
        notes[0] = '\0';
    if (k == NULL) {
        wsr__error_set(err, WSR_ENOMEM, "out of memory loading keys");
        return NULL;
    }
    if (add_jwks(k, json, n, source, notes, notes_size, err) != 0)
        goto fail;
    if (k->n == 0) {
        wsr__error_set(err, WSR_EINVAL, "%s holds no key this server can verify with", source);
        goto fail;
    }
    return k;
fail:
    wsr__keys_unref(k);
    return NULL;
}

wsr__keys_t *wsr__keys_load(const char *pem_paths, const char *jwks_path, char *notes,
                            size_t notes_size, wsr_error_t *err)
{
    char source[256];
    wsr__keys_t *k = keys_new();
    wsr__buf_t text;
    int rc = 0;

    if (notes != NULL && notes_size > 0)
        notes[0] = '\0';
    if (k == NULL) {
        wsr__error_set(err, WSR_ENOMEM, "out of memory loading keys");
        return NULL;
    }
    wsr__buf_init(&text, 0, WSR__KEYS_FILE_MAX);
    if (pem_paths != NULL)
        rc = add_pem_files(k, pem_paths, err);
    if (rc == 0 && jwks_path != NULL) {
        snprintf(source, sizeof(source), "jwt_jwks %.200s", jwks_path);
        rc = read_file(jwks_path, "jwt_jwks", &text, err);
        if (rc == 0)
            rc = add_jwks(k, (const char *)text.data, text.len, source, notes, notes_size, err);
    }
    wsr__buf_dispose(&text);
    if (rc == 0 && k->n == 0)
        rc = wsr__error_set(err, WSR_EINVAL, "jwt_keys and jwt_jwks name no key");
    if (rc != 0) {
        wsr__keys_unref(k);
        return NULL;
    }
    return k;
}
