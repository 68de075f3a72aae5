/* SPDX-License-Identifier: MIT */
/*
 * The factory's persistent store: a key-value table with atomic operations,
 * backed by SQLite (WAL mode, schema versioned and migrated at start-up), and
 * the database handle itself for route modules that keep tables of their own.
 * Every call is thread-safe and durable when it returns (synchronous=FULL by
 * default): a reply that reports a write as done survives a kill -9.
 *
 * Writes wait for the disk: call them from blocking routes
 * (WSR_ROUTE_BLOCKING), which run on worker threads, not on the event loop.
 *
 * A store opened with wsr_store_open_redis keeps its data in Redis, shared by
 * every node of a cluster: the same calls, and besides their other errors
 * each may return WSR_ECONNECT while Redis cannot be reached (a route that
 * returns it answers 503 "the cluster engine is unavailable").
 *
 * Every call that can fail returns 0 or a negative WSR_E* code and hands its
 * result back through an out-parameter, which it sets on every path (NULL on
 * an error). `store` is borrowed by every call: keep it open until the call
 * returns.
 */
#ifndef WSR_WSROUTER_STORE_H
#define WSR_WSROUTER_STORE_H

#include <stdint.h>

#include <jansson.h>

#include "common.h"
#include "error.h"
#include "request.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsr_store wsr_store_t;
struct sqlite3;

/* Returns the factory's store (borrowed from the factory), or NULL when the
 * server has none (wsr_router_call, or a server started without a store). */
WSR_API wsr_store_t *wsr_factory_store(wsr_factory_t *factory);

/*
 * Opens (creating if needed) the store at `path` and migrates its schema.
 * `full_sync` makes every commit wait for the disk. Returns the store (owned:
 * wsr_store_close) or NULL with `err` (a file that cannot be opened, a schema
 * newer than this program, a database that is not wsrouter's).
 */
WSR_API wsr_store_t *wsr_store_open(const char *path, bool full_sync, wsr_error_t *err);

/*
 * Opens the store shared by the nodes of a cluster on Redis at `url`
 * ("redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]", borrowed; `password`, or
 * NULL, when the URL has none), as the `engine` setting does. Redis must
 * answer now; once open, Redis going away is not an error: every call fails
 * with WSR_ECONNECT until it answers again (reconnecting by itself with a
 * backoff). A write returns 0 once Redis has acknowledged it. Returns the
 * store (owned: wsr_store_close) or NULL with `err` (a URL that is wrong, or
 * Redis unreachable: WSR_ECONNECT, saying why).
 */
WSR_API wsr_store_t *wsr_store_open_redis(const char *url, const char *password, wsr_error_t *err);

/* Closes the store. NULL is ignored. Not while a server uses it. */
WSR_API void wsr_store_close(wsr_store_t *store);

/*
 * Reads the value stored at `key` (borrowed for the call) into *value.
 * Returns 0 with *value a new reference (owned: json_decref); WSR_ENOENT when
 * the key is absent; WSR_EIO when the store cannot be read (or holds a value
 * that is not JSON); WSR_ENOMEM. On every error *value is NULL.
 * Thread-safe.
 */
WSR_API WSR_NODISCARD int wsr_store_get(wsr_store_t *store, const char *key, json_t **value);

/* Stores `value` (borrowed for the call; any JSON) at `key` (borrowed for the
 * call). Returns 0, WSR_EIO or WSR_ENOMEM. */
WSR_API WSR_NODISCARD int wsr_store_put(wsr_store_t *store, const char *key, const json_t *value);

/* Removes `key` (borrowed for the call). Returns 0, WSR_ENOENT when it was
 * absent, or WSR_EIO. */
WSR_API WSR_NODISCARD int wsr_store_delete(wsr_store_t *store, const char *key);

/*
 * Adds `delta` to the integer at `key` (borrowed for the call; absent counts
 * as 0) in one atomic step and puts the result in *result (borrowed; written
 * only on success). Returns 0, WSR_EINVAL when the value
 * is not an integer, WSR_EOVERFLOW when the sum would not fit, or WSR_EIO.
 */
WSR_API WSR_NODISCARD int wsr_store_increment(wsr_store_t *store, const char *key, int64_t delta,
                                              int64_t *result);

/*
 * Reads every key starting with `prefix` (borrowed for the call; compared as
 * bytes, "" for all) and its value, in key order, at most `limit` keys (0: no
 * limit), into *out: an object of key -> value. Returns 0 with *out a new
 * reference (owned: json_decref; {} when no key matches); WSR_EIO when the
 * store cannot be read (or holds a value that is not JSON, or a key that is
 * not UTF-8); WSR_ENOMEM. On every error *out is NULL: never a partial list.
 * Thread-safe.
 */
WSR_API WSR_NODISCARD int wsr_store_list(wsr_store_t *store, const char *prefix, size_t limit,
                                         json_t **out);

/*
 * Locks the store and returns its SQLite handle, for a module's own tables:
 * use it, then call wsr_store_unlock. Do not close it. Tables named wsr_* are
 * wsrouter's. A Redis store has no SQLite handle: it returns NULL (and
 * wsr_store_unlock does nothing); keep such state in wsr_store_* keys.
 */
WSR_API struct sqlite3 *wsr_store_lock(wsr_store_t *store);

/* Unlocks the store after wsr_store_lock. */
WSR_API void wsr_store_unlock(wsr_store_t *store);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_STORE_H */
