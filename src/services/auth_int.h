/* SPDX-License-Identifier: MIT */
/*
 * Sessions: who a request or a connection is authenticated as. A session is
 * immutable once built (but for an atomic logging-out mark) and
 * reference-counted, so a request moved to a worker thread keeps its user
 * even if the connection re-authenticates meanwhile.
 */
#ifndef WSR_SRC_AUTH_INT_H
#define WSR_SRC_AUTH_INT_H

#include <jansson.h>
#include <stdint.h>

#include "core/internal.h"

typedef struct wsr__session wsr__session_t;

/*
 * Creates a session for `user` with `roles` (a comma-separated list, may be
 * NULL or ""), token id `jti` (may be NULL) and expiry `exp` (seconds since the
 * epoch, 0 for none). Everything is copied. Returns it (one reference) or NULL.
 */
wsr__session_t *wsr__session_new(const char *user, const char *roles, const char *jti, int64_t exp);
wsr__session_t *wsr__session_ref(wsr__session_t *s);
void wsr__session_unref(wsr__session_t *s);
/* NULL-safe readers. */
const char *wsr__session_user(const wsr__session_t *s);
const char *wsr__session_jti(const wsr__session_t *s);
int64_t wsr__session_exp(const wsr__session_t *s);
bool wsr__session_has_role(const wsr__session_t *s, const char *role);
/* The roles as ",a,b," (a guard comma on each side; "," for none). */
const char *wsr__session_roles(const wsr__session_t *s);
/* The roles as a JSON array of strings (new reference). */
json_t *wsr__session_roles_json(const wsr__session_t *s);
/* The token's issue time (seconds), 0 when unknown. */
int64_t wsr__session_iat(const wsr__session_t *s);
void wsr__session_set_iat(wsr__session_t *s, int64_t iat);

/*
 * Marks the session as logging out (its connection is about to become
 * anonymous), before its token is revoked: the loop's once-a-second check
 * then leaves that connection open instead of closing it 1008, and requests
 * treat the session as gone. Any thread.
 */
void wsr__session_mark_logout(wsr__session_t *s);
bool wsr__session_logging_out(const wsr__session_t *s);

/*
 * Authenticates one request: a `token` member, when the server verifies
 * tokens, replaces the connection's session for this request; without one,
 * the connection's session is dropped for this request when its token has
 * expired or was revoked since. Returns 0, 1 when `res` holds a 401, or
 * WSR_ENOMEM. `f` may be NULL (no server).
 */
int wsr__auth_request(wsr_factory_t *f, wsr_request_t *req, wsr_response_t *res);

/* ---- auth.c: tokens and revocation; present when the server has a store ---- */

typedef struct wsr__auth wsr__auth_t;
struct wsr_store;

/*
 * Creates the token authority: the secret comes from `secret` (at least 32
 * bytes) or from the store, where one is generated the first time. Starts a
 * thread that follows revocations made by other processes (the CLI).
 * Returns it or NULL with `err`.
 */
wsr__auth_t *wsr__auth_new(wsr_factory_t *f, struct wsr_store *store, const char *secret,
                           unsigned ttl_s, wsr_error_t *err);
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
WSR_NODISCARD int wsr__auth_add_routes(wsr_router_t *router, wsr_error_t *err);

#endif /* WSR_SRC_AUTH_INT_H */
