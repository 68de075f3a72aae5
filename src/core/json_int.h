/* SPDX-License-Identifier: MIT */
/*
 * JSON around jansson values: a compact serializer that writes straight into
 * a wsr__buf_t (no intermediate string, U+2028/U+2029 escaped, shortest
 * round-trip reals), and a strict one-pass parser with a nesting limit and
 * duplicate-key refusal (src/jsonparse.c), since jansson 2.14's reader has no
 * depth limit below 2048 and spends most of a small request's time. Pure.
 */
#ifndef WSR_SRC_JSON_INT_H
#define WSR_SRC_JSON_INT_H

#include <jansson.h>

#include "core/internal.h"

/* Appends the compact encoding of `v` (borrowed). Returns 0, WSR_EOVERFLOW,
 * WSR_ENOMEM, or WSR_EINVAL for a value nested deeper than 2048 levels. */
WSR_NODISCARD int wsr__json_dump(wsr__buf_t *out, const json_t *v);

/* Appends `s` (n bytes, UTF-8) as a quoted, escaped JSON string. */
WSR_NODISCARD int wsr__json_put_string(wsr__buf_t *out, const char *s, size_t n);

/*
 * The deepest nesting the server reads or writes: what max_depth may be set
 * to (64 by default). The parser recurses once per level (about 240 bytes of
 * stack at -O2, with the matching json_decref), so 2048 levels stay far
 * below the stack every event-loop and worker thread is given.
 */
#define WSR__JSON_MAX_DEPTH 2048u

/* What went wrong in wsr__json_parse. */
enum {
    WSR__JSON_OK = 0,
    WSR__JSON_SYNTAX,    /* not JSON: `text` says why */
    WSR__JSON_EOF,       /* it ends too early */
    WSR__JSON_UTF8,      /* a string is not valid UTF-8 */
    WSR__JSON_DEPTH,     /* nesting past the limit */
    WSR__JSON_DUPLICATE, /* a key appears twice in one object */
    WSR__JSON_NOMEM,     /* out of memory */
};

typedef struct wsr__json_error {
    int kind;      /* WSR__JSON_* */
    size_t offset; /* byte of the input where it was found */
    int line;      /* 1-based */
    int column;    /* 1-based, in characters */
    char text[160];
} wsr__json_error_t;

/*
 * Parses exactly one JSON value (RFC 8259, any type at the top) from `n`
 * bytes: strings must be UTF-8 (U+0000 allowed, not in keys), duplicate keys
 * and nesting past `max_depth` (at most WSR__JSON_MAX_DEPTH) are errors,
 * nothing may follow the value.
 * Returns a new reference, or NULL with `err` filled (err->kind says how).
 */
json_t *wsr__json_parse(const void *data, size_t n, unsigned max_depth, wsr__json_error_t *err);

/* Returns an owned compact encoding of `v` (wsr__free), or NULL. */
char *wsr__json_to_string(const json_t *v);

#endif /* WSR_SRC_JSON_INT_H */
