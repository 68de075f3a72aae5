/* SPDX-License-Identifier: MIT */
/*
 * Sessions: who a request or a connection is authenticated as. A session is
 * immutable once built (but for an atomic logging-out mark) and
 * reference-counted, so a request moved to a worker thread keeps its user
 * even if the connection re-authenticates meanwhile. Sessions are plain
 * values of the core, like the request that carries one: the auth service
 * makes them, the router and handlers read them.
 */
#ifndef WSR_CORE_SESSION_INT_H
#define WSR_CORE_SESSION_INT_H

#include <jansson.h>
#include <stdint.h>

#include "core/internal.h"

typedef struct wsr__session wsr__session_t;

/*
 * Creates a session for `user` with `roles` (a comma-separated list, may be
 * NULL or ""), token id `jti` (may be NULL) and expiry `exp` (seconds since the
 * epoch, 0 for none). Everything is copied. Returns it (one reference) or NULL.
 * The "jti" is what identifies the login for revocation and logout: the
 * token's `sid` claim (kept by /auth/refresh), or its `jti` for tokens
 * without one; for a token of an identity provider, a digest of the token.
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
/* The token's issue time (epoch milliseconds), 0 when unknown. */
int64_t wsr__session_iat(const wsr__session_t *s);
void wsr__session_set_iat(wsr__session_t *s, int64_t iat);

/* Marks the session as made from an identity provider's token (RS256,
 * ES256): nobody here can revoke or refresh it. Before it is shared. */
void wsr__session_set_external(wsr__session_t *s);
bool wsr__session_external(const wsr__session_t *s);

/*
 * Marks the session as logging out (its connection is about to become
 * anonymous), before its token is revoked: the loop's once-a-second check
 * then leaves that connection open instead of closing it 1008, and requests
 * treat the session as gone. Any thread.
 */
void wsr__session_mark_logout(wsr__session_t *s);
bool wsr__session_logging_out(const wsr__session_t *s);

/*
 * Makes `s` (a request's session, from the request's own token, not shared
 * yet) stand in for `twin` (its connection's session, of the same login):
 * marking `s` as logging out marks `twin` too. Without it a logout sent with
 * the token as a member left the connection's own object unmarked, and the
 * loop's check could close it 1008 between the revocation and the note that
 * makes it anonymous (its reply then lost on raw TCP). Takes a reference.
 */
void wsr__session_set_twin(wsr__session_t *s, wsr__session_t *twin);

/* A copy of `s` without its twin (for a request's session that becomes a
 * connection's), or NULL when memory ran out. */
wsr__session_t *wsr__session_dup(const wsr__session_t *s);

#endif /* WSR_CORE_SESSION_INT_H */
