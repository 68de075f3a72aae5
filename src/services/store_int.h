/* SPDX-License-Identifier: MIT */
/* The store's internal helpers for wsrouter's own tables (users, revoked
 * tokens, settings such as the token secret). */
#ifndef WSR_SRC_STORE_INT_H
#define WSR_SRC_STORE_INT_H

#include "wsrouter/store.h"

#include "core/internal.h"

/* Runs one statement binding `texts` then `ints` (borrowed) in order.
 * Returns 0 when it changed a row, WSR_ENOENT when it changed none,
 * WSR_EEXIST on a constraint violation, WSR_EIO otherwise. */
int wsr__store_exec(wsr_store_t *s, const char *sql, const char *const *texts, size_t ntexts,
                    const int64_t *ints, size_t nints);

/* Runs a query binding `texts` (borrowed) and puts every row in *out: an
 * array of rows (arrays of integers, strings and nulls), a new reference
 * (owned: json_decref). Returns 0, WSR_EIO or WSR_ENOMEM; on an error *out is
 * NULL: never a partial answer. */
WSR_NODISCARD int wsr__store_query(wsr_store_t *s, const char *sql, const char *const *texts,
                                   size_t ntexts, json_t **out);

#endif /* WSR_SRC_STORE_INT_H */
