/* SPDX-License-Identifier: MIT */
/*
 * The auth service: the token authority (auth.c), the per-request access
 * check every transport runs before routing (auth.c), and the /auth routes
 * with the user table behind them (auth_routes.c).
 */
#ifndef WSR_SERVICES_AUTH_INT_H
#define WSR_SERVICES_AUTH_INT_H

#include <jansson.h>
#include <stdint.h>

#include "core/internal.h"
#include "core/request_int.h"
#include "core/session_int.h"

/* ---- auth.c: tokens and revocation; present when the server has a store ---- */

typedef struct wsr__auth wsr__auth_t;
struct wsr_store;

/*
 * Authenticates one request: a `token` member, when the server verifies
 * tokens, replaces the connection's session for this request; without one,
 * the connection's session is dropped for this request when its token has
 * expired or was revoked since. Returns 0, 1 when `res` holds a 401, or
 * WSR_ENOMEM. `a` may be NULL (no token authority: nothing to check).
 */
int wsr__auth_request(wsr__auth_t *a, wsr_request_t *req, wsr_response_t *res);

/*
 * Creates the token authority: the secret comes from `secret` (at least 32
 * bytes) or from the store, where one is generated the first time. Starts a
 * thread that follows revocations made by other processes (the CLI).
 * Returns it or NULL with `err`.
 */
wsr__auth_t *wsr__auth_new(struct wsr_store *store, const char *secret, unsigned ttl_s,
                           wsr_error_t *err);
void wsr__auth_free(wsr__auth_t *a);

/*
 * Verifies `token` (n bytes): signature, times, claims, revocation. No disk.
 * Any thread. Returns 0 with *session (one reference), WSR_EAUTH with a
 * sentence in `detail`, or WSR_ENOMEM. With identity-provider keys (see
 * wsr__auth_set_idp), a token whose header has a kid is verified with that
 * key and its algorithm only; one without a kid is ours when it says HS256,
 * else it is verified with the only key when there is exactly one. Such a
 * token needs exp, sub, and the configured iss and aud, within the leeway;
 * its session is marked external and ends at exp plus the leeway.
 */
int wsr__auth_verify(wsr__auth_t *a, const char *token, size_t n, wsr__session_t **session,
                     char *detail, size_t size);

/* Why a session may no longer be used ("token expired", "token revoked"),
 * or NULL while it may. Any thread. */
const char *wsr__auth_session_ended(wsr__auth_t *a, const wsr__session_t *s, int64_t now);

/* Issues a token for a new login of `user` with `roles` (comma-separated;
 * the token's `roles` claim is their array); *token owned (wsr__free),
 * *session one reference. */
int wsr__auth_issue(wsr__auth_t *a, const char *user, const char *roles, char **token,
                    wsr__session_t **session);

/* Issues a new token of the same login as `s` (borrowed): same user and sid,
 * a new jti, iat and exp, and `roles`. WSR_EINVAL for an external session. */
int wsr__auth_reissue(wsr__auth_t *a, const wsr__session_t *s, const char *roles, char **token,
                      wsr__session_t **session);

/* Revokes the session's login: the token and every token refreshed from the
 * same login (remembered in the store until the last can have expired).
 * WSR_EINVAL for an external session, which nobody here can revoke. */
int wsr__auth_revoke(wsr__auth_t *a, const wsr__session_t *s);

/* Where identity-provider tokens come from and what they must say (all
 * borrowed; copied by wsr__auth_set_idp). */
typedef struct wsr__idp_config {
    const char *keys;        /* jwt_keys: PEM files, comma-separated, or NULL */
    const char *jwks;        /* jwt_jwks: a JWKS file, or NULL */
    const char *issuer;      /* the iss required, or NULL for any */
    const char *audience;    /* the aud required (the claim or one of its items), or NULL */
    unsigned leeway_s;       /* clock leeway for exp, nbf and iat */
    const char *roles_claim; /* the claim that holds the roles (NULL: "roles") */
} wsr__idp_config_t;

/*
 * Accepts identity-provider tokens as `cfg` says, and loads their keys.
 * Nothing happens without keys or a JWKS (but an issuer or an audience
 * without them is an error). Call before the authority is shared. Returns 0
 * (`notes` lists keys skipped), or an error with `err`.
 */
WSR_NODISCARD int wsr__auth_set_idp(wsr__auth_t *a, const wsr__idp_config_t *cfg, char *notes,
                                    size_t notes_size, wsr_error_t *err);

/*
 * Loads the identity-provider keys again from their files and swaps them in
 * atomically: tokens being verified meanwhile use the old set or the new
 * one, whole. A load that fails keeps the old keys. Any thread but an event
 * loop (it reads files). Returns 0 (nothing to do when no keys are
 * configured), or an error with `err`; *count is the number of keys in force
 * afterwards, and `notes` lists keys skipped.
 */
WSR_NODISCARD int wsr__auth_reload_keys(wsr__auth_t *a, size_t *count, char *notes,
                                        size_t notes_size, wsr_error_t *err);

/* How many identity-provider keys are in force. Any thread. */
size_t wsr__auth_key_count(wsr__auth_t *a);

/* How many revocations (token ids and removed users) are held in memory. */
size_t wsr__auth_revoked_count(wsr__auth_t *a);

/* Seconds since the epoch. */
int64_t wsr__epoch_s(void);

/* auth_routes.c: POST /auth/login, /auth/logout, /auth/session, GET /auth/me. */
WSR_NODISCARD int wsr__auth_routes_add(wsr_router_t *router, wsr_error_t *err);

#endif /* WSR_SERVICES_AUTH_INT_H */
