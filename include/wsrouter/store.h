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

/* Closes the store. NULL is ignored. Not while a server uses it. */
WSR_API void wsr_store_close(wsr_store_t *store);

/* Returns a new reference to the value stored at `key`, or NULL when absent
 * (or on an error: check *rc when `rc` is given: 0, WSR_ENOENT, WSR_EIO). */
WSR_API json_t *wsr_store_get(wsr_store_t *store, const char *key, int *rc);

/* Stores `value` (borrowed; any JSON) at `key`. Returns 0, WSR_EIO or WSR_ENOMEM. */
WSR_API WSR_NODISCARD int wsr_store_put(wsr_store_t *store, const char *key, const json_t *value);

/* Removes `key`. Returns 0, WSR_ENOENT when it was absent, or WSR_EIO. */
WSR_API int wsr_store_delete(wsr_store_t *store, const char *key);

/*
 * Adds `delta` to the integer at `key` (absent counts as 0) in one atomic
 * step and puts the result in *result. Returns 0, WSR_EINVAL when the value
 * is not an integer, WSR_EOVERFLOW when the sum would not fit, or WSR_EIO.
 */
WSR_API WSR_NODISCARD int wsr_store_increment(wsr_store_t *store, const char *key, int64_t delta,
                                              int64_t *result);

/*
 * Returns an object of every key starting with `prefix` (borrowed) and its
 * value (a new reference), at most `limit` keys (0: no limit), or NULL.
 */
WSR_API json_t *wsr_store_list(wsr_store_t *store, const char *prefix, size_t limit);

/*
 * Locks the store and returns its SQLite handle, for a module's own tables:
 * use it, then call wsr_store_unlock. Do not close it. Tables named wsr_* are
 * wsrouter's.
 */
WSR_API struct sqlite3 *wsr_store_lock(wsr_store_t *store);

/* Unlocks the store after wsr_store_lock. */
WSR_API void wsr_store_unlock(wsr_store_t *store);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_STORE_H */
