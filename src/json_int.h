/* SPDX-License-Identifier: MIT */
/*
 * JSON helpers around jansson: a compact serializer that writes straight into
 * a wsr__buf_t (no intermediate string, U+2028/U+2029 escaped, shortest
 * round-trip reals), and a nesting-depth pre-scan, since jansson 2.14 has no
 * depth limit of its own below 2048. Pure.
 */
#ifndef WSR_SRC_JSON_INT_H
#define WSR_SRC_JSON_INT_H

#include <jansson.h>

#include "internal.h"

/* Appends the compact encoding of `v` (borrowed). Returns 0, WSR_EOVERFLOW,
 * WSR_ENOMEM, or WSR_EINVAL for a value nested deeper than 2048 levels. */
WSR_NODISCARD int wsr__json_dump(wsr__buf_t *out, const json_t *v);

/* Appends `s` (n bytes, UTF-8) as a quoted, escaped JSON string. */
WSR_NODISCARD int wsr__json_put_string(wsr__buf_t *out, const char *s, size_t n);

/*
 * Returns the deepest nesting of arrays and objects in `p` (n bytes), stopping
 * as soon as it passes `max` (then returns max + 1). Strings are skipped with
 * their escapes; the text is not otherwise validated.
 */
unsigned wsr__json_depth(const unsigned char *p, size_t n, unsigned max);

/* Returns an owned compact encoding of `v` (wsr__free), or NULL. */
char *wsr__json_to_string(const json_t *v);

#endif /* WSR_SRC_JSON_INT_H */
