/* SPDX-License-Identifier: MIT */
/*
 * The allocator every wsrouter module uses. A program may replace it once,
 * before any other wsr_* call, so that tests and embedders see every byte; the
 * programs also point jansson, libwebsockets and OpenSSL at the same functions.
 */
#ifndef WSR_WSROUTER_ALLOC_H
#define WSR_WSROUTER_ALLOC_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*wsr_malloc_fn)(size_t size);
typedef void *(*wsr_realloc_fn)(void *ptr, size_t size);
typedef void (*wsr_free_fn)(void *ptr);

/*
 * Replaces the allocator. Legal only before the first other wsr_* call and
 * before any thread is started; all three functions must be given.
 * Returns 0, or WSR_EINVAL when a function is missing.
 */
WSR_API WSR_NODISCARD int wsr_set_allocator(wsr_malloc_fn m, wsr_realloc_fn r, wsr_free_fn f);

/*
 * Allocates through the current allocator. Returns owned memory (release with
 * wsr_free) or NULL. Thread-safe when the allocator is.
 */
WSR_API void *wsr_malloc(size_t size);

/* Like wsr_malloc, zero-filled; checks count * size for overflow. */
WSR_API void *wsr_calloc(size_t count, size_t size);

/* Resizes `ptr` (invalidates: use the result; on NULL `ptr` is unchanged). */
WSR_API void *wsr_realloc(void *ptr, size_t size);

/* Releases memory from wsr_malloc and friends; NULL is ignored; errno is kept. */
WSR_API void wsr_free(void *ptr);

/* Returns an owned copy of `s` (release with wsr_free), or NULL. */
WSR_API char *wsr_strdup(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_ALLOC_H */
