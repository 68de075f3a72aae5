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

/*
 * A message object read flat (wsr__json_parse_message): its members in order
 * in an array, with no jansson object and no hash table, and the members of
 * its top-level "args" object likewise, so that a small request builds only
 * its scalar values. Keys are copied, NUL-terminated, into `text`. The values
 * are owned; `args_obj` is the args as a jansson object once one was asked
 * for (owned, built on demand by wsr__jmsg_args). One allocation, which the
 * request that holds it frees (wsr__jmsg_free).
 */
#define WSR__FLAT_MEMBERS 12
/* The members of the envelopes (PROTOCOL.md sections 3, 5.1, 8 and 10),
 * which a message read flat finds without a search: wsr__keys[k] is the
 * name of WSR__KEY_k. */
enum {
    WSR__KEY_METHOD,
    WSR__KEY_URL,
    WSR__KEY_CMD,
    WSR__KEY_ARGS,
    WSR__KEY_DATA,
    WSR__KEY_ID,
    WSR__KEY_EVENT_NAME,
    WSR__KEY_TOKEN,
    WSR__KEY_JSONRPC,
    WSR__KEY_INPUT,
    WSR__KEY_CMDID,
    WSR__KEY_PARAMS,
    WSR__KEYS
};
extern const char *const wsr__keys[WSR__KEYS];
#define WSR__FLAT_TEXT 384

typedef struct wsr__flat_member {
    uint16_t key;  /* offset of the key in text */
    uint16_t klen; /* its length */
    /* raw: a string value of method, url, cmd or token, in text (NUL-
     * terminated) at soff, slen bytes, with no jansson string until one is
     * asked for (wsr__jmsg_value); value is NULL until then. */
    uint16_t soff, slen;
    bool raw;
    json_t *value; /* owned; NULL for "args" when args_flat, or while raw */
} wsr__flat_member_t;

typedef struct wsr__flat {
    unsigned n;
    wsr__flat_member_t m[WSR__FLAT_MEMBERS];
} wsr__flat_t;

typedef struct wsr__jmsg {
    wsr__flat_t top;  /* the message's members */
    wsr__flat_t args; /* the members of its "args" object, when args_flat */
    bool args_flat;
    uint8_t slot[WSR__KEYS]; /* 1 + the index in top of member WSR__KEY_k; 0: absent */
    json_t *args_obj;        /* owned: args as an object, once asked for */
    size_t used;             /* bytes of text used */
    char text[WSR__FLAT_TEXT];
} wsr__jmsg_t;

/*
 * wsr__json_parse for a message. When the value is an object of at most
 * WSR__FLAT_MEMBERS members whose keys fit (and its "args" likewise, or
 * args is read as a jansson value), returns NULL with err->kind
 * WSR__JSON_OK and *msg set (owned); otherwise returns what
 * wsr__json_parse would (with *msg NULL). Errors, their sentences and
 * positions are exactly wsr__json_parse's.
 */
json_t *wsr__json_parse_message(const void *data, size_t n, unsigned max_depth,
                                wsr__json_error_t *err, wsr__jmsg_t **msg);

/* The value of member `name` of `f` (read flat in `msg`), or NULL (also
 * when out of memory). */
json_t *wsr__jmsg_get(wsr__jmsg_t *msg, wsr__flat_t *f, const char *name);
/* The value of member `m` of `msg`: a raw string is made a jansson string
 * (once). NULL for "args" read flat, or when out of memory. */
json_t *wsr__jmsg_value(wsr__jmsg_t *msg, wsr__flat_member_t *m);
/* Makes every raw string of the message's members a jansson string. Returns 0
 * or -1 when out of memory. */
int wsr__jmsg_cook(wsr__jmsg_t *msg);
/* A new jansson object of the members of `f` ("args" read flat as
 * wsr__jmsg_args), in order; NULL when out of memory. */
json_t *wsr__jmsg_object(wsr__jmsg_t *msg, wsr__flat_t *f);
/* The args read flat as an object (built once, borrowed), or NULL. */
json_t *wsr__jmsg_args(wsr__jmsg_t *msg);
/* Frees `msg` (NULL is fine) and its values. */
void wsr__jmsg_free(wsr__jmsg_t *msg);

/* Returns an owned compact encoding of `v` (wsr__free), or NULL. */
char *wsr__json_to_string(const json_t *v);

#endif /* WSR_SRC_JSON_INT_H */
