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

#endif /* WSR_CORE_SESSION_INT_H */
