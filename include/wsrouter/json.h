/* SPDX-License-Identifier: MIT */
/*
 * JSON text as wsrouter writes it: compact, UTF-8, U+2028 and U+2029
 * escaped, numbers in the "C" locale whatever the process's locale says.
 * For programs that print what the server sends (wsrouter-cli) or build
 * messages of their own.
 */
#ifndef WSR_WSROUTER_JSON_H
#define WSR_WSROUTER_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Serialises `v` (borrowed; NULL is written as null). Returns owned,
 * NUL-terminated text (release with wsr_free) and its length in *len (when
 * `len` is not NULL), or NULL when memory ran out. Any thread.
 */
WSR_API char *wsr_json_dumps(const json_t *v, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_JSON_H */
