/* SPDX-License-Identifier: MIT */
/*
 * Identity-provider keys: the public keys that verify RS256 and ES256 tokens,
 * read from PEM files (jwt_keys) and a JWKS file (jwt_jwks, RFC 7517). A key
 * set is immutable once loaded and reference-counted, so the token authority
 * can swap in a reloaded set while other threads still verify with the old
 * one. Each key carries its one algorithm, decided here from the key's type
 * (RSA of 2048 bits or more: RS256; EC P-256: ES256), never from a token.
 */
#ifndef WSR_SERVICES_KEYS_INT_H
#define WSR_SERVICES_KEYS_INT_H

#include <openssl/types.h>

#include "core/internal.h"
#include "services/jwt_int.h"

/* The most keys one set holds, and the largest JWKS or PEM file read. */
#define WSR__KEYS_MAX      256
#define WSR__KEYS_FILE_MAX (1024 * 1024)

typedef struct wsr__key {
    char *kid;          /* owned: the key id, or NULL (a JWK without one) */
    wsr__jwt_alg_t alg; /* WSR__JWT_RS256 or WSR__JWT_ES256 */
    EVP_PKEY *pkey;     /* owned */
} wsr__key_t;

typedef struct wsr__keys wsr__keys_t;

/*
 * Loads every key of `pem_paths` (comma-separated file names, blanks around
 * them ignored; may be NULL) and of the JWKS file `jwks_path` (may be NULL).
 * A PEM file holds one public key (BEGIN PUBLIC KEY) or a certificate (BEGIN
 * CERTIFICATE), and its kid is the file name without its directory and last
 * extension (/etc/idp/2024-a.pem: "2024-a"). In the JWKS, keys that are not
 * for verifying signatures (use other than "sig", key_ops without "verify"),
 * or of a type or algorithm this server does not verify (oct, OKP, P-384,
 * PS256...) are skipped, and `notes` (may be NULL) lists them; a malformed
 * key, an RSA key under 2048 bits, an EC point off its curve, a kid given
 * twice, or a set with no key at all refuse the whole load. Returns the set
 * (one reference) or NULL with `err` (WSR_EIO, WSR_EINVAL, WSR_ENOMEM).
 */
wsr__keys_t *wsr__keys_load(const char *pem_paths, const char *jwks_path, char *notes,
                            size_t notes_size, wsr_error_t *err);

/* Like wsr__keys_load for JWKS text `json` (n bytes, borrowed); `source`
 * names it in sentences. */
wsr__keys_t *wsr__keys_from_jwks(const char *json, size_t n, const char *source, char *notes,
                                 size_t notes_size, wsr_error_t *err);

wsr__keys_t *wsr__keys_ref(wsr__keys_t *k);
/* NULL ignored. Any thread. */
void wsr__keys_unref(wsr__keys_t *k);

/* How many keys the set holds (0 for NULL). */
size_t wsr__keys_count(const wsr__keys_t *k);
/* Key `i` (borrowed from the set), or NULL past the end. */
const wsr__key_t *wsr__keys_get(const wsr__keys_t *k, size_t i);
/* The key whose kid is `kid` (borrowed from the set), or NULL. */
const wsr__key_t *wsr__keys_find(const wsr__keys_t *k, const char *kid);

#endif /* WSR_SERVICES_KEYS_INT_H */
