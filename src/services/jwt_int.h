/* SPDX-License-Identifier: MIT */
/*
 * JSON Web Tokens (see jwt.c): HS256 with a secret, RS256 and ES256 with a
 * public key, the algorithm always given by the caller (from its key), never
 * taken from the token. Pure. Their base64url (wsr__b64url_encode,
 * wsr__b64url_decode) is core/base64.c's, included here for every user of
 * tokens.
 */
#ifndef WSR_SRC_JWT_INT_H
#define WSR_SRC_JWT_INT_H

#include <jansson.h>
#include <openssl/types.h>

#include "core/base64_int.h"
#include "core/internal.h"

/* The signature algorithms a key may have; each key has exactly one. */
typedef enum wsr__jwt_alg {
    WSR__JWT_HS256 = 1, /* HMAC-SHA256 with the server's secret */
    WSR__JWT_RS256 = 2, /* RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 3.3) */
    WSR__JWT_ES256 = 3, /* ECDSA P-256 with SHA-256, raw r||s (RFC 7518 3.4) */
} wsr__jwt_alg_t;

/* A mask of accepted algorithms for wsr__jwt_read_header. */
#define WSR__JWT_ONLY(alg) (1u << (alg))
#define WSR__JWT_ALL                                                                               \
    (WSR__JWT_ONLY(WSR__JWT_HS256) | WSR__JWT_ONLY(WSR__JWT_RS256) | WSR__JWT_ONLY(WSR__JWT_ES256))

/* The longest key id (kid) a header may carry, in bytes. */
#define WSR__JWT_KID_MAX 256

/* What a token's header says. */
typedef struct wsr__jwt_header {
    wsr__jwt_alg_t alg;
    bool has_kid;
    char kid[WSR__JWT_KID_MAX + 1]; /* "" without one */
} wsr__jwt_header_t;

/* "HS256", "RS256", "ES256" (static), or "?" */
const char *wsr__jwt_alg_name(wsr__jwt_alg_t alg);

/*
 * Checks the form of `token` (n bytes: three segments) and reads its header:
 * an algorithm among `accepted` (a WSR__JWT_ONLY mask), nothing critical, a
 * kid that is a string when there is one. Returns 0 with *h, WSR_EAUTH with
 * a sentence in `detail`, or WSR_ENOMEM.
 */
WSR_NODISCARD int wsr__jwt_read_header(const char *token, size_t n, unsigned accepted,
                                       wsr__jwt_header_t *h, char *detail, size_t size);

/* Signs `claims` (borrowed) with HS256; *token is owned (wsr__free). */
WSR_NODISCARD int wsr__jwt_sign(const unsigned char *key, size_t keylen, const json_t *claims,
                                char **token);

/*
 * Verifies the form, the header (alg HS256, nothing critical) and the
 * signature of `token` (n bytes). Returns 0 with *payload (new reference),
 * WSR_EAUTH with a sentence in `detail`, or WSR_ENOMEM. Time claims are not
 * looked at.
 */
WSR_NODISCARD int wsr__jwt_verify(const char *token, size_t n, const unsigned char *key,
                                  size_t keylen, json_t **payload, char *detail, size_t size);

/*
 * Verifies `token` (n bytes) with the public key `key` (borrowed), whose
 * algorithm `alg` (RS256 or ES256) the caller knows from the key: a header
 * naming another algorithm is refused, whatever it names, and so is a key of
 * the wrong type. `kid` (borrowed, may be NULL) names the key in sentences.
 * Returns 0 with *payload (new reference), WSR_EAUTH with a sentence, or
 * WSR_ENOMEM. Time claims are not looked at. Any thread: the key is only read.
 */
WSR_NODISCARD int wsr__jwt_verify_key(const char *token, size_t n, wsr__jwt_alg_t alg,
                                      EVP_PKEY *key, const char *kid, json_t **payload,
                                      char *detail, size_t size);

/* A time claim (exp, nbf) as whole seconds, clamped to 1970..9999 (0 when it
 * is not a number), so converting a claim such as 1e300 is defined. */
int64_t wsr__jwt_time(const json_t *claim);

/* Checks exp (required) and nbf against `now` (seconds since the epoch).
 * Returns 0 or WSR_EAUTH with a sentence. */
WSR_NODISCARD int wsr__jwt_check_time(const json_t *payload, int64_t now, char *detail,
                                      size_t size);

/*
 * Like wsr__jwt_check_time, with `leeway` seconds of clock difference
 * allowed either way (expired only at exp + leeway, valid from nbf - leeway),
 * and, with `check_iat`, an iat that must be a number no later than
 * now + leeway when there is one.
 */
WSR_NODISCARD int wsr__jwt_check_times(const json_t *payload, int64_t now, unsigned leeway,
                                       bool check_iat, char *detail, size_t size);

#endif /* WSR_SRC_JWT_INT_H */
