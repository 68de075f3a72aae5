/* SPDX-License-Identifier: MIT */
/*
 * The login throttle (issue 15 item 1; PROTOCOL.md section 9). Failed
 * logins are counted per user name and per client address: past
 * WSR__THROTTLE_FREE failures in a row for a name (WSR__THROTTLE_FREE_ADDR
 * for an address, which a NAT's users share) each further one locks that
 * name or address out for twice as long as the last (250 ms, 500 ms, ... up
 * to a minute), and a login tried while locked is answered 429 with
 * retry_after_ms without the password being hashed. A success clears the
 * name's count (not the address's: one right password does not pay for a
 * thousand wrong ones). The password checks themselves run on a pool of
 * their own (WSR_ROUTE_LANE, server/serve.c). Any thread (one mutex).
 *
 * At most WSR__THROTTLE_TABLE_MAX names and as many addresses are counted
 * apart. Past that (a flood of distinct names within the lockouts), a new
 * one is not tracked on its own and nothing is evicted: its failures count
 * in one overflow entry whose lockout every untracked name (address) shares.
 * A locked-out name so stays locked out, and the flood locks the untracked
 * names out together rather than letting them be guessed (throttle.c).
 */
#ifndef WSR_SERVICES_THROTTLE_INT_H
#define WSR_SERVICES_THROTTLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Failures in a row that cost nothing: for a name, for an address. */
#define WSR__THROTTLE_FREE      5
#define WSR__THROTTLE_FREE_ADDR 20
/* The first lockout, and the longest, in ms. */
#define WSR__THROTTLE_FIRST_MS 250
#define WSR__THROTTLE_MAX_MS   60000
/* The names counted apart, and the addresses. */
#define WSR__THROTTLE_TABLE_MAX 65536

typedef struct wsr__throttle wsr__throttle_t;

/* A new throttle. Returns it (owned: wsr__throttle_free) or NULL (out of
 * memory). */
wsr__throttle_t *wsr__throttle_new(void);
void wsr__throttle_free(wsr__throttle_t *t);

/* How long `user` or `addr` (either NULL: not counted) must still wait at
 * `now_ms` (monotonic), the longer of the two: 0 when a login may be
 * tried. */
unsigned wsr__throttle_wait_ms(wsr__throttle_t *t, const char *user, const char *addr,
                               int64_t now_ms);
/* Counts a failed login of `user` from `addr` at `now_ms`. Returns 0, or,
 * when the name or the address could not be tracked on its own (counted in
 * the shared overflow), how many failures so far could not (of the names
 * when the name was one, else of the addresses): worth a warning when
 * wsr__strtable_warn says so. */
uint64_t wsr__throttle_failed(wsr__throttle_t *t, const char *user, const char *addr,
                              int64_t now_ms);
/* A successful login of `user`: its failures are forgotten (not those of
 * the overflow, when it has none of its own). */
void wsr__throttle_succeeded(wsr__throttle_t *t, const char *user);
/* Adds to `tables` "login_user" and "login_address": each table's
 * wsr__strtable_describe (its overflow: the failed logins of names or
 * addresses it had no room for). Returns 0 or WSR_ENOMEM. Any thread. */
int wsr__throttle_describe(wsr__throttle_t *t, json_t *tables);

/* The names and addresses counted apart (the overflow entries not
 * counted). Not locked: only while no other thread uses `t` (tests). */
size_t wsr__throttle_count(const wsr__throttle_t *t);

#endif /* WSR_SERVICES_THROTTLE_INT_H */
