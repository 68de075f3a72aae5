/* SPDX-License-Identifier: MIT */
/* The Origin allow-list and the idle policy (see handshake.c). */
#ifndef WSR_SRC_HANDSHAKE_INT_H
#define WSR_SRC_HANDSHAKE_INT_H

#include "server/loop_int.h"

/* Parses a comma-separated allow-list into a normalised, NULL-terminated array
 * (owned: wsr__origins_free), or NULL for an empty list. Returns 0, WSR_EINVAL
 * (an entry is not scheme://host[:port]) or WSR_ENOMEM, with `err`. */
int wsr__origins_parse(const char *list, char ***out, wsr_error_t *err);
void wsr__origins_free(char **list);
/* True when a handshake with `origin` (NULL: none sent) may proceed. */
bool wsr__origin_allowed(char *const *list, const char *origin);

/* Monotonic milliseconds. */
int64_t wsr__mono_ms(void);
/* Loop thread: (re)arms the idle check when the policy is on. */
void wsr__idle_start(wsr__loop_t *loop);
/* protocol.c: closes a silent connection with 1001. Loop thread. */
void wsr__conn_close_idle(wsr__conn_t *c);
/* protocol.c: closes a connection whose token ended with 1008. Loop thread. */
void wsr__conn_close_auth(wsr__conn_t *c, const char *why);

#endif /* WSR_SRC_HANDSHAKE_INT_H */
