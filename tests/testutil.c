/* SPDX-License-Identifier: MIT */
/* Shared test helpers (see testutil.h); the key helpers use OpenSSL only,
 * never the code under test. */
#include "testutil.h"

#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wsrouter/wsrouter.h"
#include "core/base64_int.h"

/* Every block carries its size in a header so live bytes can be tracked. */
typedef struct hdr {
    size_t size;
    size_t pad; /* keeps the payload 16-byte aligned */
} hdr_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long count, live, fail_at = -1;
static bool fail_sticky;

static bool should_fail(void)
{
    bool fail;

    pthread_mutex_lock(&lock);
    fail = fail_at >= 0 && (count == fail_at || (fail_sticky && count > fail_at));
    count++;
    pthread_mutex_unlock(&lock);
    return fail;
}

static void *tu_malloc(size_t size)
{
    hdr_t *h;

    if (should_fail())
        return NULL;
    h = malloc(sizeof(*h) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    pthread_mutex_lock(&lock);
    live++;
    pthread_mutex_unlock(&lock);
    return h + 1;
}

static void tu_free(void *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&lock);
    live--;
    pthread_mutex_unlock(&lock);
    free((hdr_t *)p - 1);
}

static void *tu_realloc(void *p, size_t size)
{
    hdr_t *h;

    if (p == NULL)
        return tu_malloc(size);
    if (should_fail())
        return NULL;
    h = realloc((hdr_t *)p - 1, sizeof(*h) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    return h + 1;
}

void tu_install_allocator(void)
{
    if (wsr_set_allocator(tu_malloc, tu_realloc, tu_free) != 0)
        abort();
    json_set_alloc_funcs(tu_malloc, tu_free);
}

void tu_fail_at(long n, bool sticky)
{
    pthread_mutex_lock(&lock);
    fail_at = n;
    fail_sticky = sticky;
    count = 0;
    pthread_mutex_unlock(&lock);
}

long tu_alloc_count(void)
{
    long n;

    pthread_mutex_lock(&lock);
    n = count;
    pthread_mutex_unlock(&lock);
    return n;
}

long tu_live_blocks(void)
{
    long n;

    pthread_mutex_lock(&lock);
    n = live;
    pthread_mutex_unlock(&lock);
    return n;
}

char *tu_read_data(const char *rel, size_t *len)
{
    const char *base = getenv("WSR_TEST_DATA");
    char path[1024];
    FILE *fp;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/%s", base ? base : "tests/data", rel);
    fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t tu_list_cases(const char *suite, char ***names)
{
    const char *base = getenv("WSR_TEST_DATA");
    char path[1024];
    struct dirent *e;
    size_t n = 0, cap = 0;
    DIR *d;

    *names = NULL;
    snprintf(path, sizeof(path), "%s/%s", base ? base : "tests/data", suite);
    d = opendir(path);
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            *names = realloc(*names, cap * sizeof(char *));
        }
        (*names)[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(*names, n, sizeof(char *), cmp_names);
    return n;
}

void tu_rstrip(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

int tu_router_setup(void **state, int (*add)(wsr_router_t *router, wsr_error_t *err))
{
    tu_router_fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->live0 = tu_live_blocks();
    fx->router = wsr_router_new();
    *state = fx;
    if (fx->router == NULL || add(fx->router, NULL) != 0)
        return -1;
    return 0;
}

int tu_router_teardown(void **state)
{
    tu_router_fixture_t *fx = *state;
    long live0 = fx->live0;

    wsr_router_free(fx->router);
    free(fx);
    assert_int_equal(tu_live_blocks(), live0);
    return 0;
}

char *tu_call(wsr_router_t *router, const char *msg)
{
    char *reply = NULL;
    size_t len = 0;

    assert_int_equal(wsr_router_call(router, msg, strlen(msg), false, &reply, &len), 0);
    assert_non_null(reply);
    assert_int_equal(strlen(reply), len);
    return reply;
}

void tu_expect_reply(wsr_router_t *router, const char *msg, const char *want)
{
    char *reply = tu_call(router, msg);

    assert_string_equal(reply, want);
    wsr_free(reply);
}

void tu_expect_base64(wsr_router_t *router, const char *json, bool binary, const char *want)
{
    wsr__buf_t msg, expected;
    char *reply = NULL;
    size_t len = 0;

    wsr__buf_init(&msg, 0, 0);
    wsr__buf_init(&expected, 0, 0);
    assert_int_equal(wsr__base64_encode(&msg, (const unsigned char *)json, strlen(json)), 0);
    assert_int_equal(wsr__base64_encode(&expected, (const unsigned char *)want, strlen(want)), 0);
    assert_int_equal(wsr_router_call(router, msg.data, msg.len, binary, &reply, &len), 0);
    assert_int_equal(len, expected.len);
    assert_memory_equal(reply, expected.data, len);
    wsr_free(reply);
    wsr__buf_dispose(&msg);
    wsr__buf_dispose(&expected);
}

/* ---- keys and tokens ---- */

EVP_PKEY *tu_key_new(const char *spec)
{
    EVP_PKEY *key = NULL;

    if (strncmp(spec, "rsa:", 4) == 0)
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)strtoul(spec + 4, NULL, 10));
    else if (strncmp(spec, "ec:", 3) == 0)
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", spec + 3);
    if (key == NULL)
        fail_msg("cannot make a key %s", spec);
    return key;
}

/* The contents of a memory BIO as a malloc'd string; frees the BIO. */
static char *bio_text(BIO *bio)
{
    char *data = NULL, *out;
    long n = BIO_get_mem_data(bio, &data);

    assert_true(n > 0);
    out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

char *tu_key_pem(EVP_PKEY *key, bool private_pem)
{
    BIO *bio = BIO_new(BIO_s_mem());

    assert_non_null(bio);
    if (private_pem)
        assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
    return bio_text(bio);
}

char *tu_key_cert_pem(EVP_PKEY *key)
{
    X509 *x = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    X509_NAME *name;

    assert_non_null(x);
    assert_non_null(bio);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"idp", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    X509_free(x);
    return bio_text(bio);
}

/* The base64url of `n` bytes as a malloc'd string. */
static char *b64u(const void *p, size_t n)
{
    wsr__buf_t b;
    char *out;

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__b64url_encode(&b, p, n), 0);
    out = malloc(b.len + 1);
    assert_non_null(out);
    if (b.len)
        memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    wsr__buf_dispose(&b);
    return out;
}

/* The base64url of a BIGNUM parameter, `pad` bytes wide (0: its own width). */
static char *bn_param(EVP_PKEY *key, const char *name, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int n;
    char *out;

    assert_int_equal(EVP_PKEY_get_bn_param(key, name, &bn), 1);
    n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    assert_true(n > 0);
    out = b64u(buf, (size_t)n);
    BN_free(bn);
    return out;
}

char *tu_key_jwk(EVP_PKEY *key, const char *kid, const char *extra)
{
    char kidm[320] = "", *a, *b, *out = malloc(4096);

    assert_non_null(out);
    if (kid != NULL)
        snprintf(kidm, sizeof(kidm), ",\"kid\":\"%s\"", kid);
    if (EVP_PKEY_is_a(key, "RSA")) {
        a = bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0);
        b = bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0);
        snprintf(out, 4096, "{\"kty\":\"RSA\"%s,\"n\":\"%s\",\"e\":\"%s\"%s}", kidm, a, b,
                 extra ? extra : "");
    } else {
        int bytes = (EVP_PKEY_get_bits(key) + 7) / 8;

        a = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, bytes);
        b = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, bytes);
        snprintf(out, 4096, "{\"kty\":\"EC\",\"crv\":\"%s\"%s,\"x\":\"%s\",\"y\":\"%s\"%s}",
                 bytes == 32   ? "P-256"
                 : bytes == 48 ? "P-384"
                               : "P-521",
                 kidm, a, b, extra ? extra : "");
    }
    free(a);
    free(b);
    return out;
}

/* "b64u(header).b64u(payload)", malloc'd with room for a signature. */
static char *signing_input(const char *header, const char *payload)
{
    char *h = b64u(header, strlen(header)), *p = b64u(payload, strlen(payload));
    size_t n = strlen(h) + strlen(p) + 2;
    char *out = malloc(n + 2048);

    assert_non_null(out);
    snprintf(out, n, "%s.%s", h, p);
    free(h);
    free(p);
    return out;
}

static char *append_sig(char *input, const unsigned char *sig, size_t n)
{
    char *s = b64u(sig, n);

    strcat(input, ".");
    strcat(input, s);
    free(s);
    return input;
}

char *tu_jws(EVP_PKEY *key, const char *header, const char *payload)
{
    char *input = signing_input(header, payload);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[1024], raw[64];
    size_t n = sizeof(sig);

    assert_non_null(md);
    assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &n, (const unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(md);
    if (EVP_PKEY_is_a(key, "EC")) {
        /* DER ECDSA-Sig-Value to JWS's r||s. */
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);

        assert_non_null(es);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
        ECDSA_SIG_free(es);
        return append_sig(input, raw, sizeof(raw));
    }
    return append_sig(input, sig, n);
}

char *tu_jws_hs256(const void *secret, size_t n, const char *header, const char *payload)
{
    char *input = signing_input(header, payload);
    unsigned char mac[32];
    unsigned int len = 0;

    assert_non_null(
        HMAC(EVP_sha256(), secret, (int)n, (const unsigned char *)input, strlen(input), mac, &len));
    return append_sig(input, mac, len);
}

void tu_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

char *tu_tempdir(const char *prefix)
{
    char *dir = malloc(PATH_MAX);

    assert_non_null(dir);
    snprintf(dir, PATH_MAX, "%s/%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", prefix);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *dir)
{
    if (dir != NULL)
        (void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
