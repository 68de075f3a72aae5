/* SPDX-License-Identifier: MIT */
/*
 * The store's backends and wsrouter's own records in it (users, revoked
 * tokens, settings such as the token secret). A store is one of two
 * backends behind the same operations: SQLite (store.c, one file per node)
 * or Redis (store_redis.c, shared by every node of a cluster). Callers use
 * the wsr_store_* and wsr__store_* functions and never ask which one runs.
 *
 * Every operation may also return WSR_ECONNECT when the store's engine
 * (Redis) cannot be reached: a request that needed it answers 503 "the
 * cluster engine is unavailable" (PROTOCOL.md section 11).
 */
#ifndef WSR_SRC_STORE_INT_H
#define WSR_SRC_STORE_INT_H

#include "wsrouter/store.h"

#include "core/internal.h"
#include "services/redis_int.h"

/* One backend's operations; every member is set. */
typedef struct wsr__store_ops {
    void (*close)(wsr_store_t *s);
    int (*get)(wsr_store_t *s, const char *key, json_t **value);
    int (*put)(wsr_store_t *s, const char *key, const json_t *value, bool only_new);
    int (*del)(wsr_store_t *s, const char *key);
    int (*increment)(wsr_store_t *s, const char *key, int64_t delta, int64_t *result);
    int (*list)(wsr_store_t *s, const char *prefix, size_t limit, json_t **out);
    struct sqlite3 *(*lock)(wsr_store_t *s);
    void (*unlock)(wsr_store_t *s);
    int (*user_find)(wsr_store_t *s, const char *name, json_t **row);
    int (*user_insert)(wsr_store_t *s, const char *name, const char *roles, const char *hash,
                       int64_t created);
    int (*user_delete)(wsr_store_t *s, const char *name);
    int (*user_list)(wsr_store_t *s, json_t **rows);
    int (*revoke)(wsr_store_t *s, const char *id, int64_t exp, int64_t since);
    int (*revoked)(wsr_store_t *s, int64_t now, json_t **set);
    int (*prune)(wsr_store_t *s, int64_t now);
    bool (*available)(wsr_store_t *s);
} wsr__store_ops_t;

/* The head of every backend's store. */
struct wsr_store {
    const wsr__store_ops_t *ops;
};

/* Opens the Redis store at `url` (copied); `on_state` (or NULL) is told when
 * Redis goes down or comes back (redis_int.h). Redis must answer now (else
 * WSR_ECONNECT, saying why, in `err`); going down later is not an error:
 * operations fail with WSR_ECONNECT until it is back. Returns the store
 * (owned: wsr_store_close) or NULL with `err`. */
wsr_store_t *wsr__store_redis_open(const wsr__redis_url_t *url, wsr__redis_state_fn on_state,
                                   void *ctx, wsr_error_t *err);

/* Stores `value` at `key` (both borrowed) only when the key is absent.
 * Returns 0, WSR_EEXIST when it was there, WSR_EIO or WSR_ENOMEM. */
WSR_NODISCARD int wsr__store_put_new(wsr_store_t *s, const char *key, const json_t *value);

/* True unless the store's engine is known to be unreachable right now. */
bool wsr__store_available(wsr_store_t *s);

/* ---- users ---- */

/* Looks up user `name`: *row is a new [roles, hash] array, or NULL when
 * there is no such user. Returns 0, WSR_EIO or WSR_ENOMEM. */
WSR_NODISCARD int wsr__store_user_find(wsr_store_t *s, const char *name, json_t **row);

/* Adds a user. Returns 0, WSR_EEXIST when the name is taken, WSR_EIO. */
WSR_NODISCARD int wsr__store_user_insert(wsr_store_t *s, const char *name, const char *roles,
                                         const char *hash, int64_t created);

/* Removes a user. Returns 0, WSR_ENOENT when absent, WSR_EIO. */
WSR_NODISCARD int wsr__store_user_delete(wsr_store_t *s, const char *name);

/* Every user as a new array of [name, roles, created] rows by name. Returns
 * 0, WSR_EIO or WSR_ENOMEM; on an error *rows is NULL. */
WSR_NODISCARD int wsr__store_user_list(wsr_store_t *s, json_t **rows);

/* ---- revocations ---- */

/* Revokes `id` (a token's login id, or "user:NAME" for every token of a
 * removed user issued at or before `since`, epoch milliseconds; seconds in
 * stores written before) until `exp` (epoch seconds),
 * replacing an earlier revocation of the same id. `since` 0 for a token. */
WSR_NODISCARD int wsr__store_revoke(wsr_store_t *s, const char *id, int64_t exp, int64_t since);

/* The revocations in force at `now` as a new object: id -> since when it is
 * not 0, else exp. Returns 0, WSR_EIO or WSR_ENOMEM (*set NULL). */
WSR_NODISCARD int wsr__store_revoked(wsr_store_t *s, int64_t now, json_t **set);

/* Forgets the revocations expired at `now`. */
WSR_NODISCARD int wsr__store_prune(wsr_store_t *s, int64_t now);

/* ---- SQLite stores only (tests, and modules' own tables) ---- */

/* Runs one statement binding `texts` then `ints` (borrowed) in order.
 * Returns 0 when it changed a row, WSR_ENOENT when it changed none,
 * WSR_EEXIST on a constraint violation, WSR_EIO otherwise (and on a store
 * that is not SQLite's). */
int wsr__store_exec(wsr_store_t *s, const char *sql, const char *const *texts, size_t ntexts,
                    const int64_t *ints, size_t nints);

/* Runs a query binding `texts` (borrowed) and puts every row in *out: an
 * array of rows (arrays of integers, strings and nulls), a new reference
 * (owned: json_decref). Returns 0, WSR_EIO (also on a store that is not
 * SQLite's) or WSR_ENOMEM; on an error *out is NULL: never a partial
 * answer. */
WSR_NODISCARD int wsr__store_query(wsr_store_t *s, const char *sql, const char *const *texts,
                                   size_t ntexts, json_t **out);

#endif /* WSR_SRC_STORE_INT_H */
