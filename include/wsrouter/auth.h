/* SPDX-License-Identifier: MIT */
/*
 * Users of the authentication routes (docs/protocol.md section 6). They live in the
 * factory's store with their roles and a slow, salted password hash
 * (PBKDF2-HMAC-SHA256, 600 000 iterations). These calls are what
 * `wsrouterd user add|list|remove` uses; they are thread-safe, and slow where
 * they hash: never call them from an event loop.
 */
#ifndef WSR_WSROUTER_AUTH_H
#define WSR_WSROUTER_AUTH_H

#include <jansson.h>

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Adds user `name` (1-64 printable characters, no blanks or commas) with
 * `roles` (comma-separated, may be "") and `password` (at least 8 bytes), all
 * borrowed. Returns 0, WSR_EEXIST (the name is taken), WSR_EINVAL (a bad
 * name, role or password), WSR_EIO or WSR_ENOMEM.
 */
WSR_API WSR_NODISCARD int wsr_user_add(wsr_store_t *store, const char *name, const char *roles,
                                       const char *password);

/*
 * Removes user `name` (borrowed for the call); tokens already issued to them stop working within
 * seconds, in every server using the store. Returns 0, WSR_ENOENT or WSR_EIO.
 */
WSR_API WSR_NODISCARD int wsr_user_remove(wsr_store_t *store, const char *name);

/*
 * Reads every user, in name order, into *out as
 * [{"name": ..., "roles": [...], "created": <epoch seconds>}]. Returns 0 with
 * *out a new reference (owned: json_decref; [] when there are none), WSR_EIO
 * or WSR_ENOMEM; on an error *out is NULL: never a list with users missing.
 */
WSR_API WSR_NODISCARD int wsr_user_list(wsr_store_t *store, json_t **out);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_AUTH_H */
