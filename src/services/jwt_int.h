/* SPDX-License-Identifier: MIT */
/*
 * JSON Web Tokens, HS256 only (see jwt.c). Pure. Their base64url
 * (wsr__b64url_encode, wsr__b64url_decode) is core/base64.c's, included here
 * for every user of tokens.
 */
#ifndef WSR_SRC_JWT_INT_H
#define WSR_SRC_JWT_INT_H

#include <jansson.h>

#include "core/base64_int.h"
#include "core/internal.h"

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

/* A time claim (exp, nbf) as whole seconds, clamped to 1970..9999 (0 when it
 * is not a number), so converting a claim such as 1e300 is defined. */
int64_t wsr__jwt_time(const json_t *claim);

/* Checks exp (required) and nbf against `now` (seconds since the epoch).
 * Returns 0 or WSR_EAUTH with a sentence. */
WSR_NODISCARD int wsr__jwt_check_time(const json_t *payload, int64_t now, char *detail,
                                      size_t size);

#endif /* WSR_SRC_JWT_INT_H */
