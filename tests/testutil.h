/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the cmocka tests: a counting allocator that can fail the
 * Nth allocation (for OOM sweeps, STYLE T5), installed for wsrouter and
 * jansson alike; and readers for data-driven cases in tests/data/<suite>/.
 */
#ifndef WSR_TESTS_TESTUTIL_H
#define WSR_TESTS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

/* Installs the counting allocator for wsrouter and jansson. Call first in main. */
void tu_install_allocator(void);

/* Fails allocation number n (0-based) from now on, and every one after it
 * while `sticky`; -1 disables failing. Resets the counters. */
void tu_fail_at(long n, bool sticky);

/* Allocations made since the last tu_fail_at, and blocks still live. */
long tu_alloc_count(void);
long tu_live_blocks(void);

/* Reads tests/data/<rel> (WSR_TEST_DATA) into a NUL-terminated buffer.
 * Returns it (free with free()) and its length, or NULL when absent. */
char *tu_read_data(const char *rel, size_t *len);

/* Lists the case directories of suite `suite` (sorted). Returns the count;
 * names[i] are malloc'd, and so is *names. */
size_t tu_list_cases(const char *suite, char ***names);

/* Strips trailing blanks and newlines in place. */
void tu_rstrip(char *s);

/* ---- routers, for the route modules' tests ---- */

typedef struct wsr_router wsr_router_t;
typedef struct wsr_error wsr_error_t;

/* A router holding what `add` registers, and the live-block count before it. */
typedef struct tu_router_fixture {
    wsr_router_t *router;
    long live0;
} tu_router_fixture_t;

/* cmocka setup: a new router, then add(router, NULL). Returns 0 or -1. */
int tu_router_setup(void **state, int (*add)(wsr_router_t *router, wsr_error_t *err));

/* cmocka teardown: frees the router; fails if any block it made is left. */
int tu_router_teardown(void **state);

/* wsr_router_call on the JSON text `msg`; returns the reply (wsr_free it). */
char *tu_call(wsr_router_t *router, const char *msg);

/* The reply to `msg` must be exactly `want`. */
void tu_expect_reply(wsr_router_t *router, const char *msg, const char *want);

/* Sends `json` base64-encoded (in a binary frame or as text) and expects
 * `want` back, base64-encoded the same way. */
void tu_expect_base64(wsr_router_t *router, const char *json, bool binary, const char *want);

/* ---- keys and tokens, for the tests of jwt.c, keys.c and auth.c ---- */

typedef struct evp_pkey_st EVP_PKEY;

/* A fresh key pair made with OpenSSL: "rsa:BITS" or "ec:CURVE" ("ec:P-256").
 * Asserts it worked; release with EVP_PKEY_free. */
EVP_PKEY *tu_key_new(const char *spec);

/* The key's public half as PEM (BEGIN PUBLIC KEY), or its private half as
 * PKCS#8 PEM with `private_pem`; malloc'd. */
char *tu_key_pem(EVP_PKEY *key, bool private_pem);

/* A self-signed certificate of the key, as PEM; malloc'd. */
char *tu_key_cert_pem(EVP_PKEY *key);

/* The key's public JWK as JSON text, with "kid" when `kid` is not NULL and
 * `extra` (e.g. ",\"use\":\"sig\"", may be NULL) before the closing brace;
 * malloc'd. */
char *tu_key_jwk(EVP_PKEY *key, const char *kid, const char *extra);

/* A compact JWS of `header` and `payload` (JSON texts, encoded as they are)
 * signed here with OpenSSL, independently of jwt.c: RS256 with an RSA key,
 * ES256 (raw r||s) with an EC key; malloc'd. */
char *tu_jws(EVP_PKEY *key, const char *header, const char *payload);

/* Like tu_jws, with HMAC-SHA256 and `secret` (n bytes). */
char *tu_jws_hs256(const void *secret, size_t n, const char *header, const char *payload);

/* Writes `text` to `path` (asserts). */
void tu_write_file(const char *path, const char *text);

/* A new temporary directory (malloc'd path); tu_rmtree removes it. */
char *tu_tempdir(const char *prefix);
void tu_rmtree(const char *dir);

#endif /* WSR_TESTS_TESTUTIL_H */
