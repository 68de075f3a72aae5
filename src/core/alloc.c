/* SPDX-License-Identifier: MIT */
/*
 * The allocator hooks (STYLE M1). Every allocation in the library goes through
 * here so tests can count and fail them. The hooks are the one mutable global
 * the style allows; they are written only before any other wsr_* call.
 */
#include "wsrouter/alloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

static wsr_malloc_fn alloc_malloc = malloc;
static wsr_realloc_fn alloc_realloc = realloc;
static wsr_free_fn alloc_free = free;

int wsr_set_allocator(wsr_malloc_fn m, wsr_realloc_fn r, wsr_free_fn f)
{
    if (m == NULL || r == NULL || f == NULL)
        return WSR_EINVAL;
    alloc_malloc = m;
    alloc_realloc = r;
    alloc_free = f;
    return 0;
}

void *wsr__malloc(size_t size)
{
    /* malloc(0) may return NULL legitimately; never ask for zero bytes. */
    return alloc_malloc(size ? size : 1);
}

void *wsr__calloc(size_t count, size_t size)
{
    void *p;

    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    p = wsr__malloc(count * size);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

void *wsr__realloc(void *ptr, size_t size)
{
    return alloc_realloc(ptr, size ? size : 1);
}

void wsr__free(void *ptr)
{
    int saved = errno; /* the free wrapper keeps errno (STYLE E3) */

    if (ptr != NULL)
        alloc_free(ptr);
    errno = saved;
}

char *wsr__strndup(const char *s, size_t n)
{
    char *p = wsr__malloc(n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *wsr__strdup(const char *s)
{
    return s ? wsr__strndup(s, strlen(s)) : NULL;
}

void *wsr_malloc(size_t size)
{
    return wsr__malloc(size);
}

void *wsr_calloc(size_t count, size_t size)
{
    return wsr__calloc(count, size);
}

void *wsr_realloc(void *ptr, size_t size)
{
    return wsr__realloc(ptr, size);
}

void wsr_free(void *ptr)
{
    wsr__free(ptr);
}

char *wsr_strdup(const char *s)
{
    return wsr__strdup(s);
}
