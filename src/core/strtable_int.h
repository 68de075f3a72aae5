/* SPDX-License-Identifier: MIT */
/*
 * A small string-keyed table with a hard cap, for state kept per client
 * name or address that clients choose (the rate limiter's buckets, the
 * login throttle's counts). Each entry holds `value_size` bytes of the
 * caller's plain data, zeroed when the key is first put.
 *
 * The cap is the point: a client can make as many distinct keys as it
 * likes, so the table never holds more than `max` entries. When it is full,
 * it first drops the entries the caller's `stale` callback calls stale (at
 * most once per `retry` of the caller's clock, so that a flood of new keys
 * does not buy a walk of the whole table each). When that frees nothing, the
 * new key is refused, and not by evicting another: evicting would hand the
 * key it drops a fresh start (a locked-out user name unlocked, a bucket in
 * debt refilled) to whoever floods. A refused key gets the table's one
 * overflow value instead, shared by every key refused, so that what the
 * caller counts in it fails safe (all untracked keys are limited together),
 * and the refusal is counted. Keys are hashed under a random key of the
 * process (SipHash), so no client can choose keys that share a slot.
 *
 * No lock: the caller guards the table. Nothing here does I/O.
 */
#ifndef WSR_CORE_STRTABLE_INT_H
#define WSR_CORE_STRTABLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <pthread.h>

typedef struct wsr__strtable wsr__strtable_t;

/* Whether `value` (borrowed: the table's) may be dropped at `now`; `user`
 * is the one given to wsr__strtable_new. May change the value. */
typedef bool (*wsr__strtable_stale_cb)(void *value, int64_t now, void *user);

/* A new empty table of at most `max` (at least 1) entries of `value_size`
 * bytes each, swept with `stale` (and `user`, borrowed: until
 * wsr__strtable_free) at most once per `retry` units of the caller's clock.
 * Returns it (owned: wsr__strtable_free), or NULL when memory ran out. */
wsr__strtable_t *wsr__strtable_new(size_t value_size, size_t max, int64_t retry,
                                   wsr__strtable_stale_cb stale, void *user);
/* Frees `t` and every entry (NULL: nothing). */
void wsr__strtable_free(wsr__strtable_t *t);

/* The value of `key` (borrowed: the table's, until the entry is swept or the
 * table freed), or NULL when the table has none. */
void *wsr__strtable_get(wsr__strtable_t *t, const char *key);

/* The value of `key` at `now`, made (zeroed) when missing. When the table
 * has no room for it (full after a sweep, or out of memory), returns the
 * overflow value instead; then `*untracked` (when not NULL) is the number of
 * keys refused so far, this one included, and 0 otherwise. Never NULL. */
void *wsr__strtable_put(wsr__strtable_t *t, const char *key, int64_t now, uint64_t *untracked);

/* The overflow value (borrowed: the table's), zeroed at first, that every
 * refused key shares. */
void *wsr__strtable_overflow(wsr__strtable_t *t);

/* The entries the table holds (the overflow value not counted). */
size_t wsr__strtable_count(const wsr__strtable_t *t);

/* The keys refused so far. */
uint64_t wsr__strtable_refused(const wsr__strtable_t *t);

/* {"entries": held, "max": the cap, "overflow": the keys refused so far
 * (each given the overflow value)}: a new object, or NULL. */
json_t *wsr__strtable_describe(const wsr__strtable_t *t);

/* Adds the descriptions of `a` and `b` to `tables` as `name_a` and
 * `name_b`, read under `lock` (the one guarding both). Returns 0 or
 * WSR_ENOMEM. */
int wsr__strtable_describe_two(json_t *tables, pthread_mutex_t *lock, const char *name_a,
                               const wsr__strtable_t *a, const char *name_b,
                               const wsr__strtable_t *b);

/* SipHash-2-4 of `n` bytes of `data` under the 128-bit `key`. */
uint64_t wsr__siphash(const uint64_t key[2], const void *data, size_t n);

/* The hash a table gives `key`: SipHash under the process's random key
 * (drawn at the first table). For tests. */
uint64_t wsr__strtable_hash(const char *key);

/* The longest chain of entries sharing a slot. For tests. */
size_t wsr__strtable_longest(const wsr__strtable_t *t);

/* Whether the `n`th refusal is worth a warning: 1, 2, 4, 8, ..., so that a
 * flood of refusals cannot flood the log. */
bool wsr__strtable_warn(uint64_t n);

#endif /* WSR_CORE_STRTABLE_INT_H */
