/* SPDX-License-Identifier: MIT */
/*
 * Sessions: who a request or a connection is authenticated as. A session is
 * immutable once built and reference-counted, so a request moved to a worker
 * thread keeps its user even if the connection re-authenticates meanwhile.
 */
#ifndef WSR_SRC_AUTH_INT_H
#define WSR_SRC_AUTH_INT_H

#include <stdint.h>

#include "internal.h"

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
/* The roles as given to wsr__session_new. */
const char *wsr__session_roles(const wsr__session_t *s);

/*
 * Authenticates one request: a `token` member, when the server verifies
 * tokens, replaces the connection's session for this request. Returns 0, 1
 * when `res` holds a 401, or WSR_ENOMEM. `f` may be NULL (no server).
 */
int wsr__auth_request(wsr_factory_t *f, wsr_request_t *req, wsr_response_t *res);

#endif /* WSR_SRC_AUTH_INT_H */
