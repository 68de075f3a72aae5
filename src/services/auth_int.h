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

/* Verifies `token` (n bytes): signature, times, claims, revocation. No disk.
 * Any thread. Returns 0 with *session (one reference) or WSR_EAUTH with a
 * sentence in `detail`. */
int wsr__auth_verify(wsr__auth_t *a, const char *token, size_t n, wsr__session_t **session,
                     char *detail, size_t size);

/* Why a session may no longer be used ("token expired", "token revoked"),
 * or NULL while it may. Any thread. */
const char *wsr__auth_session_ended(wsr__auth_t *a, const wsr__session_t *s, int64_t now);

/* Issues a token for `user` with `roles`; *token owned (wsr__free). */
int wsr__auth_issue(wsr__auth_t *a, const char *user, const char *roles, char **token,
                    wsr__session_t **session);

/* Revokes the session's token (remembered in the store until it expires). */
int wsr__auth_revoke(wsr__auth_t *a, const wsr__session_t *s);

/* How many revocations (token ids and removed users) are held in memory. */
size_t wsr__auth_revoked_count(wsr__auth_t *a);

/* Seconds since the epoch. */
int64_t wsr__epoch_s(void);

/* auth_routes.c: POST /auth/login, /auth/logout, /auth/session, GET /auth/me. */
WSR_NODISCARD int wsr__auth_routes_add(wsr_router_t *router, wsr_error_t *err);

#endif /* WSR_SERVICES_AUTH_INT_H */
