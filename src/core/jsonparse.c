/* SPDX-License-Identifier: MIT */
/*
 * The request parser: strict JSON (RFC 8259) from a buffer into jansson
 * values, in one pass. jansson's own parser reads through a per-character
 * stream and took over half of the server's instructions for a small request
 * (and 1.5 ms for a 64 KiB string); this one scans runs of plain bytes at
 * once, builds strings without copying when nothing needs unescaping, and
 * checks UTF-8 only where bytes above 0x7F appear. It also enforces the
 * nesting limit and refuses duplicate keys as it goes. It owns nothing after
 * it returns but the value it built; it never reads past `n` bytes.
 * A message object is read flat (wsr__json_parse_message): its members and
 * those of its "args" go into an array with their keys, with no jansson
 * object or hash table, and spill into jansson objects, read on by the same
 * code, when they do not fit.
 */
#include "core/json_int.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const unsigned char *start, *p, *end;
    unsigned depth, max_depth;
    wsr__json_error_t *err;
    wsr__buf_t text; /* unescaped string bytes */
} parser_t;

static json_t *parse_value(parser_t *ps);

/* Records the first error at the current position. Returns NULL. */
static json_t *fail(parser_t *ps, int kind, const char *fmt, ...) WSR_PRINTF(3, 4);
static json_t *fail(parser_t *ps, int kind, const char *fmt, ...)
{
    wsr__json_error_t *e = ps->err;
    va_list ap;

    if (e->kind != WSR__JSON_OK)
        return NULL;
    e->kind = kind;
    e->offset = (size_t)(ps->p - ps->start);
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
    return NULL;
}

static json_t *oom(parser_t *ps)
{
    return fail(ps, WSR__JSON_NOMEM, "out of memory");
}

static void skip_blanks(parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

static size_t utf8_char(const unsigned char *p, size_t left);

/* The code point of the valid UTF-8 character of k bytes at p. */
static uint32_t utf8_decode(const unsigned char *p, size_t k)
{
    uint32_t cp = k == 1 ? p[0] : p[0] & (0x7Fu >> k);

    for (size_t i = 1; i < k; i++)
        cp = cp << 6 | (p[i] & 0x3Fu);
    return cp;
}

/*
 * Writes s (n bytes of valid UTF-8) into out as the inside of a JSON string
 * literal that shows only printable ASCII: quotes and backslashes escaped,
 * everything else as \\uXXXX (surrogate pairs past U+FFFF). An error message
 * quoting a key then cannot carry terminal escapes, line breaks or bidi
 * overrides to whoever prints it. What does not fit in `size` ends in "...",
 * never in half an escape.
 */
static void quote_ascii(char *out, size_t size, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t o = 0;

    while (p < end) {
        size_t k = *p < 0x80 ? 1 : utf8_char(p, (size_t)(end - p));
        uint32_t cp;
        char piece[16];
        int len;

        if (k == 0) {
            len = 0; /* not reached: keys are checked as UTF-8 first */
        } else if (*p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\') {
            len = snprintf(piece, sizeof(piece), "%c", *p);
        } else if (*p == '"' || *p == '\\') {
            len = snprintf(piece, sizeof(piece), "\\%c", *p);
        } else if ((cp = utf8_decode(p, k)) < 0x10000) {
            len = snprintf(piece, sizeof(piece), "\\u%04X", cp);
        } else {
            cp -= 0x10000;
            len = snprintf(piece, sizeof(piece), "\\u%04X\\u%04X", 0xD800 + (cp >> 10),
                           0xDC00 + (cp & 0x3FF));
        }
        /* Room is kept for "..." while more follows. */
        if (len <= 0 || o + (size_t)len + (p + k < end ? 3 : 0) >= size) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, piece, (size_t)len);
        o += (size_t)len;
        p += k;
    }
    out[o] = '\0';
}

/* "<what>, not '<the character at p>'", or the end or bad UTF-8 found there. */
static json_t *unexpected(parser_t *ps, const char *what)
{
    size_t k;

    if (ps->p >= ps->end)
        return fail(ps, WSR__JSON_EOF, "it ends too early");
    if (*ps->p >= 0x20 && *ps->p < 0x7f)
        return fail(ps, WSR__JSON_SYNTAX, "%s, not '%c'", what, *ps->p);
    if (*ps->p < 0x80)
        return fail(ps, WSR__JSON_SYNTAX, "%s, not byte 0x%02x", what, *ps->p);
    k = utf8_char(ps->p, (size_t)(ps->end - ps->p));
    if (k == 0)
        return fail(ps, WSR__JSON_UTF8, "invalid UTF-8");
    /* Named by code point: U+00A0 or U+FEFF would not show between quotes. */
    return fail(ps, WSR__JSON_SYNTAX, "%s, not U+%04X", what, utf8_decode(ps->p, k));
}

/* Length of the UTF-8 character at p (at most `left` bytes), 0 if invalid. */
static size_t utf8_char(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    size_t need;
    uint32_t cp, min;

    if (c < 0xC2 || c > 0xF4)
        return 0; /* continuation, overlong 2-byte lead, or past U+10FFFF */
    if (c < 0xE0)
        need = 1, cp = c & 0x1Fu, min = 0x80;
    else if (c < 0xF0)
        need = 2, cp = c & 0x0Fu, min = 0x800;
    else
        need = 3, cp = c & 0x07u, min = 0x10000;
    if (left <= need)
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need + 1;
}

static int hex4(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int put_utf8(wsr__buf_t *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return wsr__buf_append(b, u, n);
}

/* A \u escape at ps->p (just past the backslash and 'u'), surrogate pairs
 * joined; appends its UTF-8. Returns 0, or -1 with the error recorded. */
static int unicode_escape(parser_t *ps)
{
    const unsigned char *at = ps->p - 2; /* errors point at the backslash */
    uint32_t cp, lo;

    if (ps->end - ps->p < 4 || hex4(ps->p, &cp) != 0) {
        ps->p = at;
        return fail(ps, WSR__JSON_SYNTAX, "\\u must be followed by four hex digits"), -1;
    }
    ps->p += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        ps->p = at;
        return fail(ps, WSR__JSON_SYNTAX, "\\u%04X is a lone low surrogate", cp), -1;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
            hex4(ps->p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
            ps->p = at;
            return fail(ps, WSR__JSON_SYNTAX, "\\u%04X is a high surrogate without its pair", cp),
                   -1;
        }
        ps->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (put_utf8(&ps->text, cp) != 0)
        return oom(ps), -1;
    return 0;
}

static int escape(parser_t *ps)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit;

    if (ps->p >= ps->end)
        return fail(ps, WSR__JSON_EOF, "it ends too early"), -1;
    if (*ps->p == 'u') {
        ps->p++;
        return unicode_escape(ps);
    }
    hit = *ps->p ? strchr(from, *ps->p) : NULL;
    if (hit == NULL)
        return unexpected(ps, "a backslash in a string must be followed by one of "
                              "\" \\ / b f n r t u"),
               -1;
    ps->p++;
    return wsr__buf_putc(&ps->text, to[hit - from]) ? (oom(ps), -1) : 0;
}

/*
 * Scans the string at ps->p (at its opening quote). On return *s, *len give
 * its bytes: a slice of the input when nothing was escaped, else ps->text,
 * which *in_text tells. Returns 0, or -1 with the error recorded.
 */
/* Bytes a string holds as they are: printable ASCII but '"' and '\\'. */
static const unsigned char plain_byte[256] = {
    /* 0x00-0x7F; 0x80-0xFF are 0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static int scan_string(parser_t *ps, const char **s, size_t *len, bool *in_text)
{
    const unsigned char *run = ++ps->p;
    bool copied = false;

    wsr__buf_reset(&ps->text);
    for (;;) {
        /* The common bytes, in one sweep: a table lookup a byte, the
         * position in a local (a byte read through ps->p could alias it). */
        const unsigned char *q = ps->p, *end = ps->end;

        while (q < end && plain_byte[*q])
            q++;
        ps->p = q;
        if (ps->p >= ps->end)
            return fail(ps, WSR__JSON_EOF, "it ends too early"), -1;
        if (*ps->p >= 0x80) {
            size_t k = utf8_char(ps->p, (size_t)(ps->end - ps->p));

            if (k == 0)
                return fail(ps, WSR__JSON_UTF8, "invalid UTF-8"), -1;
            ps->p += k;
            continue;
        }
        if (*ps->p < 0x20)
            return fail(ps, WSR__JSON_SYNTAX,
                        "a string has a raw control character (byte 0x%02x): escape it", *ps->p),
                   -1;
        if (copied || *ps->p == '\\') {
            if (wsr__buf_append(&ps->text, run, (size_t)(ps->p - run)) != 0)
                return oom(ps), -1;
            copied = true;
        }
        if (*ps->p == '"')
            break;
        ps->p++; /* the backslash */
        if (escape(ps) != 0)
            return -1;
        run = ps->p;
    }
    /* A copied string had an escape, so ps->text has allocated. Until one
     * does, its data is NULL: even NULL + 0 would be undefined behaviour. */
    *s = copied ? (const char *)wsr__buf_payload(&ps->text) : (const char *)run;
    *len = copied ? wsr__buf_payload_len(&ps->text) : (size_t)(ps->p - run);
    *in_text = copied;
    ps->p++; /* the closing quote */
    return 0;
}

static json_t *parse_string(parser_t *ps)
{
    const char *s;
    size_t len;
    bool in_text;
    json_t *v;

    if (scan_string(ps, &s, &len, &in_text) != 0)
        return NULL;
    /* Already checked as UTF-8 above: skip jansson's second check. */
    v = json_stringn_nocheck(len ? s : "", len);
    return v ? v : oom(ps);
}

static json_t *parse_number(parser_t *ps)
{
    const unsigned char *s = ps->p;
    bool neg = false, real = false;
    uint64_t mag = 0;
    bool overflow = false;
    char small[64], *copy, *stop;
    bool whole;
    double d;
    json_t *v;

    if (*ps->p == '-') {
        neg = true;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return unexpected(ps, "a number needs a digit");
    if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9')
        return fail(ps, WSR__JSON_SYNTAX, "a number cannot start with 0");
    for (; ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9'; ps->p++) {
        unsigned digit = (unsigned)(*ps->p - '0');

        /* No division a digit (a 64-bit div costs tens of cycles). */
        overflow |= __builtin_mul_overflow(mag, 10u, &mag);
        overflow |= __builtin_add_overflow(mag, digit, &mag);
    }
    if (ps->p < ps->end && *ps->p == '.') {
        real = true;
        if (++ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return unexpected(ps, "a fraction needs a digit after '.'");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        real = true;
        if (++ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return unexpected(ps, "an exponent needs a digit");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (!real) {
        if (overflow || mag > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
            return fail(ps, WSR__JSON_SYNTAX, "an integer is too big for 64 bits");
        /* -(2^63) has no positive twin in int64: built from -(2^63 - 1). */
        v = json_integer(!neg ? (json_int_t)mag : mag == 0 ? 0 : -(json_int_t)(mag - 1) - 1);
        return v ? v : oom(ps);
    }
    /* strtod needs a terminated copy; numbers are short, mostly. */
    copy = (size_t)(ps->p - s) < sizeof(small) ? small : wsr__malloc((size_t)(ps->p - s) + 1);
    if (copy == NULL)
        return oom(ps);
    memcpy(copy, s, (size_t)(ps->p - s));
    copy[ps->p - s] = '\0';
    /* In the "C" locale: under a process locale with a decimal comma,
     * strtod would stop at the '.' (and read 1.5 as 1). */
    d = wsr__strtod(copy, &stop);
    whole = stop == copy + (ps->p - s);
    if (copy != small)
        wsr__free(copy);
    if (!whole)
        return fail(ps, WSR__JSON_SYNTAX, "a number could not be read");
    if (!isfinite(d))
        return fail(ps, WSR__JSON_SYNTAX, "a number is too big for a double");
    v = json_real(d);
    return v ? v : oom(ps);
}

static json_t *parse_literal(parser_t *ps)
{
    static const struct {
        const char *word;
        size_t len;
    } words[] = {{"true", 4}, {"false", 5}, {"null", 4}};

    for (size_t i = 0; i < 3; i++)
        if ((size_t)(ps->end - ps->p) >= words[i].len &&
            memcmp(ps->p, words[i].word, words[i].len) == 0) {
            ps->p += words[i].len;
            return i == 0 ? json_true() : i == 1 ? json_false() : json_null();
        }
    return unexpected(ps, "a value was expected");
}

static bool enter(parser_t *ps)
{
    if (++ps->depth > ps->max_depth) {
        fail(ps, WSR__JSON_DEPTH, "nesting deeper than %u levels", ps->max_depth);
        return false;
    }
    return true;
}

static json_t *parse_array(parser_t *ps)
{
    json_t *a, *v = NULL;

    if (!enter(ps))
        return NULL;
    a = json_array();
    if (a == NULL)
        return oom(ps);
    ps->p++;
    skip_blanks(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        ps->depth--;
        return a;
    }
    for (;;) {
        v = parse_value(ps);
        if (v == NULL || json_array_append_new(a, v) != 0)
            goto fail;
        skip_blanks(ps);
        if (ps->p < ps->end && *ps->p == ']')
            break;
        if (ps->p >= ps->end || *ps->p != ',') {
            unexpected(ps, "an array goes on with ',' or ends with ']'");
            goto fail;
        }
        ps->p++;
    }
    ps->p++;
    ps->depth--;
    return a;
fail:
    if (v != NULL && ps->err->kind == WSR__JSON_OK)
        oom(ps); /* the append failed */
    json_decref(a);
    return NULL;
}

/* One "key": value member, added to `o`. Returns 0 or -1 (error recorded). */
static int parse_member(parser_t *ps, json_t *o)
{
    const unsigned char *at = ps->p; /* key errors point at its quote */
    size_t before = json_object_size(o), klen;
    const char *key;
    char *copy = NULL;
    bool in_text;
    json_t *v;
    int rc = 0;

    if (ps->p >= ps->end || *ps->p != '"')
        return unexpected(ps, "an object key must be a string"), -1;
    if (scan_string(ps, &key, &klen, &in_text) != 0)
        return -1;
    if (memchr(key, '\0', klen) != NULL) {
        ps->p = at;
        return fail(ps, WSR__JSON_SYNTAX, "an object key cannot hold U+0000"), -1;
    }
    /* A key in ps->text is copied: the value's strings reuse that buffer.
     * (Comparing the key with the buffer's payload used to compute NULL + 0
     * when no escape had allocated it yet.) */
    if (in_text) {
        copy = wsr__strndup(key, klen);
        if (copy == NULL)
            return oom(ps), -1;
        key = copy;
    }
    skip_blanks(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
        wsr__free(copy);
        return unexpected(ps, "an object key must be followed by ':'"), -1;
    }
    ps->p++;
    v = parse_value(ps);
    if (v == NULL) {
        rc = -1;
    } else if (json_object_setn_new_nocheck(o, key, klen, v) != 0) {
        rc = -1;
        oom(ps);
    } else if (json_object_size(o) == before) {
        /* The key was there: jansson replaced its value. One hash lookup
         * per member instead of a get before every set. */
        char shown[100]; /* with the sentence, within err->text */

        quote_ascii(shown, sizeof(shown), key, klen);
        ps->p = at;
        rc = -1;
        fail(ps, WSR__JSON_DUPLICATE, "an object has the key \"%s\" twice", shown);
    }
    wsr__free(copy);
    return rc;
}

/* The members of the object `o` (taken), from the key at ps->p to the
 * closing brace. Returns `o`, or NULL with the error recorded. */
static json_t *parse_members(parser_t *ps, json_t *o)
{
    for (;;) {
        if (parse_member(ps, o) != 0)
            goto fail;
        skip_blanks(ps);
        if (ps->p < ps->end && *ps->p == '}')
            break;
        if (ps->p >= ps->end || *ps->p != ',') {
            unexpected(ps, "an object goes on with ',' or ends with '}'");
            goto fail;
        }
        ps->p++;
        skip_blanks(ps);
    }
    ps->p++;
    ps->depth--;
    return o;
fail:
    json_decref(o);
    return NULL;
}

static json_t *parse_object(parser_t *ps)
{
    json_t *o;

    if (!enter(ps))
        return NULL;
    o = json_object();
    if (o == NULL)
        return oom(ps);
    ps->p++;
    skip_blanks(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        ps->depth--;
        return o;
    }
    return parse_members(ps, o);
}

static json_t *parse_value(parser_t *ps)
{
    skip_blanks(ps);
    if (ps->p >= ps->end)
        return fail(ps, WSR__JSON_EOF, "it ends too early");
    switch (*ps->p) {
    case '{':
        return parse_object(ps);
    case '[':
        return parse_array(ps);
    case '"':
        return parse_string(ps);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps);
        return parse_literal(ps);
    }
}

/* The flat reading of a message object (json_int.h's wsr__jmsg_t). */

const char *const wsr__keys[WSR__KEYS] = {"method",  "url",   "cmd",        "args",
                                          "data",    "id",    "event_name", "token",
                                          "jsonrpc", "input", "cmdid",      "params"};

/* The WSR__KEY_ of `key` (klen bytes), or WSR__KEYS: by its length first,
 * then one or two comparisons of constant length. */
static size_t key_index(const char *key, size_t klen)
{
#define KEY_IS(lit) (memcmp(key, lit, sizeof(lit) - 1) == 0)
    switch (klen) {
    case 2:
        return KEY_IS("id") ? WSR__KEY_ID : WSR__KEYS;
    case 3:
        return KEY_IS("url") ? WSR__KEY_URL : KEY_IS("cmd") ? WSR__KEY_CMD : WSR__KEYS;
    case 4:
        return KEY_IS("args") ? WSR__KEY_ARGS : KEY_IS("data") ? WSR__KEY_DATA : WSR__KEYS;
    case 5:
        return KEY_IS("token")   ? WSR__KEY_TOKEN
               : KEY_IS("input") ? WSR__KEY_INPUT
               : KEY_IS("cmdid") ? WSR__KEY_CMDID
                                 : WSR__KEYS;
    case 6:
        return KEY_IS("method") ? WSR__KEY_METHOD : KEY_IS("params") ? WSR__KEY_PARAMS : WSR__KEYS;
    case 7:
        return KEY_IS("jsonrpc") ? WSR__KEY_JSONRPC : WSR__KEYS;
    case 10:
        return KEY_IS("event_name") ? WSR__KEY_EVENT_NAME : WSR__KEYS;
    default:
        return WSR__KEYS;
    }
#undef KEY_IS
}

static size_t flat_find(const wsr__jmsg_t *msg, const wsr__flat_t *f, const char *key, size_t klen)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->m[i].klen == klen && memcmp(msg->text + f->m[i].key, key, klen) == 0)
            return i;
    return SIZE_MAX;
}

json_t *wsr__jmsg_value(wsr__jmsg_t *msg, wsr__flat_member_t *m)
{
    if (m->raw) {
        /* Checked as UTF-8 when read. */
        m->value = json_stringn_nocheck(msg->text + m->soff, m->slen);
        m->raw = m->value == NULL;
    }
    return m->value;
}

int wsr__jmsg_cook(wsr__jmsg_t *msg)
{
    for (size_t i = 0; i < msg->top.n; i++)
        if (msg->top.m[i].raw && wsr__jmsg_value(msg, &msg->top.m[i]) == NULL)
            return -1;
    return 0;
}

json_t *wsr__jmsg_get(wsr__jmsg_t *msg, wsr__flat_t *f, const char *name)
{
    /* Names are short: compared here, byte by byte, with no strlen or
     * memcmp call (handlers look their arguments up so). */
    for (size_t i = 0; i < f->n; i++) {
        const char *key = msg->text + f->m[i].key;
        size_t k = 0;

        while (k < f->m[i].klen && key[k] == name[k])
            k++;
        if (k == f->m[i].klen && name[k] == '\0')
            return wsr__jmsg_value(msg, &f->m[i]);
    }
    return NULL;
}

json_t *wsr__jmsg_args(wsr__jmsg_t *msg)
{
    if (msg->args_obj == NULL && msg->args_flat)
        msg->args_obj = wsr__jmsg_object(msg, &msg->args);
    return msg->args_obj;
}

json_t *wsr__jmsg_object(wsr__jmsg_t *msg, wsr__flat_t *f)
{
    json_t *o = json_object();

    for (size_t i = 0; o != NULL && i < f->n; i++) {
        bool args = !f->m[i].raw && f->m[i].value == NULL;
        json_t *v = args ? wsr__jmsg_args(msg) : wsr__jmsg_value(msg, &f->m[i]);

        if (v == NULL ||
            json_object_setn_nocheck(o, msg->text + f->m[i].key, f->m[i].klen, v) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

static void flat_clear(wsr__flat_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        json_decref(f->m[i].value);
    f->n = 0;
}

void wsr__jmsg_free(wsr__jmsg_t *msg)
{
    if (msg == NULL)
        return;
    flat_clear(&msg->top);
    flat_clear(&msg->args);
    json_decref(msg->args_obj);
    wsr__free(msg);
}

/*
 * Members that do not fit: the ones read so far go into a jansson object,
 * which the ordinary parser fills from the key at ps->p on. Returns the
 * object (its closing brace read), or NULL with the error recorded.
 */
static json_t *flat_spill(parser_t *ps, wsr__jmsg_t *msg, wsr__flat_t *f)
{
    json_t *o = wsr__jmsg_object(msg, f);

    if (f == &msg->args) {
        msg->args_flat = false;
        json_decref(msg->args_obj);
        msg->args_obj = NULL;
    }
    flat_clear(f);
    if (o == NULL)
        return oom(ps);
    return parse_members(ps, o);
}

/*
 * Reads the object at ps->p (its '{') flat into `f`, exactly as parse_object
 * would read it: the same errors at the same places. `top`: the message's
 * own object, whose first "args" object is read flat too. Returns 0 (read
 * flat), 1 with *spilled the object when it did not fit, or -1 with the
 * error recorded.
 */
static int parse_flat(parser_t *ps, wsr__jmsg_t *msg, wsr__flat_t *f, bool top, json_t **spilled)
{
    if (!enter(ps))
        return -1;
    ps->p++;
    skip_blanks(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        const unsigned char *at = ps->p; /* key errors point at its quote */
        const char *key, *sval;
        size_t klen, koff, k, soff = 0, slen = 0;
        bool in_text, flat_args = false, raw;
        json_t *v = NULL;

        if (ps->p >= ps->end || *ps->p != '"')
            return unexpected(ps, "an object key must be a string"), -1;
        if (scan_string(ps, &key, &klen, &in_text) != 0)
            return -1;
        if (f->n == WSR__FLAT_MEMBERS || klen >= WSR__FLAT_TEXT - msg->used) {
            ps->p = at;
            *spilled = flat_spill(ps, msg, f);
            return *spilled ? 1 : -1;
        }
        if (memchr(key, '\0', klen) != NULL) {
            ps->p = at;
            return fail(ps, WSR__JSON_SYNTAX, "an object key cannot hold U+0000"), -1;
        }
        /* Copied now (the value's strings reuse ps->text), its room taken
         * before the value's own keys (args read flat) take theirs. */
        koff = msg->used;
        memcpy(msg->text + koff, key, klen);
        msg->text[koff + klen] = '\0';
        key = msg->text + koff;
        msg->used += klen + 1;
        skip_blanks(ps);
        if (ps->p >= ps->end || *ps->p != ':')
            return unexpected(ps, "an object key must be followed by ':'"), -1;
        ps->p++;
        skip_blanks(ps);
        k = top ? key_index(key, klen) : WSR__KEYS;
        raw = false;
        if ((k == WSR__KEY_METHOD || k == WSR__KEY_URL || k == WSR__KEY_CMD ||
             k == WSR__KEY_TOKEN) &&
            ps->p < ps->end && *ps->p == '"') {
            /* Kept as text where it fits: the codec reads it so. */
            if (scan_string(ps, &sval, &slen, &in_text) != 0)
                return -1;
            if (slen < WSR__FLAT_TEXT - msg->used) {
                soff = msg->used;
                if (slen != 0)
                    memcpy(msg->text + soff, sval, slen);
                msg->text[soff + slen] = '\0';
                msg->used += slen + 1;
                raw = true;
            } else if ((v = json_stringn_nocheck(sval, slen)) == NULL) {
                return oom(ps), -1;
            }
        } else if (k == WSR__KEY_ARGS && !msg->args_flat && ps->p < ps->end && *ps->p == '{') {
            int rc = parse_flat(ps, msg, &msg->args, false, &v);

            if (rc < 0)
                return -1;
            flat_args = rc == 0;
            msg->args_flat = flat_args;
        } else if ((v = parse_value(ps)) == NULL) {
            return -1;
        }
        if (flat_find(msg, f, key, klen) != SIZE_MAX) {
            char shown[100]; /* with the sentence, within err->text */

            if (flat_args) {
                msg->args_flat = false;
                flat_clear(&msg->args);
            }
            json_decref(v);
            quote_ascii(shown, sizeof(shown), key, klen);
            ps->p = at;
            return fail(ps, WSR__JSON_DUPLICATE, "an object has the key \"%s\" twice", shown), -1;
        }
        f->m[f->n].key = (uint16_t)koff;
        f->m[f->n].klen = (uint16_t)klen;
        f->m[f->n].soff = (uint16_t)soff;
        f->m[f->n].slen = (uint16_t)slen;
        f->m[f->n].raw = raw;
        f->m[f->n].value = v;
        f->n++;
        if (k < WSR__KEYS)
            msg->slot[k] = (uint8_t)f->n;
        skip_blanks(ps);
        if (ps->p < ps->end && *ps->p == '}')
            break;
        if (ps->p >= ps->end || *ps->p != ',')
            return unexpected(ps, "an object goes on with ',' or ends with '}'"), -1;
        ps->p++;
        skip_blanks(ps);
    }
    ps->p++;
    ps->depth--;
    return 0;
}

/* Line and column of the error at err->offset, counted only when one is
 * reported. */
static void locate(const parser_t *ps, size_t n, wsr__json_error_t *err)
{
    err->line = 1;
    err->column = 1;
    for (size_t i = 0; i < err->offset && i < n; i++) {
        if (ps->start[i] == '\n') {
            err->line += err->line < INT_MAX;
            err->column = 1;
        } else if ((ps->start[i] & 0xC0) != 0x80) {
            err->column += err->column < INT_MAX;
        }
    }
}

static void parser_init(parser_t *ps, const void *data, size_t n, unsigned max_depth,
                        wsr__json_error_t *err)
{
    memset(err, 0, sizeof(*err));
    assert(data != NULL || n == 0);
    ps->start = ps->p = data ? data : (const void *)"";
    ps->end = ps->p + n;
    ps->depth = 0;
    ps->max_depth = WSR__MIN(max_depth, WSR__JSON_MAX_DEPTH);
    ps->err = err;
    wsr__buf_init(&ps->text, 0, n);
}

/* After the value: only blanks may follow. Returns true when none but
 * blanks do. */
static bool at_end(parser_t *ps)
{
    skip_blanks(ps);
    if (ps->p < ps->end) {
        unexpected(ps, "only blanks may follow the value");
        return false;
    }
    return true;
}

json_t *wsr__json_parse_message(const void *data, size_t n, unsigned max_depth,
                                wsr__json_error_t *err, wsr__jmsg_t **msg)
{
    parser_t ps;
    json_t *v = NULL;
    wsr__jmsg_t *m;
    int rc;

    *msg = NULL;
    parser_init(&ps, data, n, max_depth, err);
    skip_blanks(&ps);
    if (ps.p >= ps.end || *ps.p != '{') {
        wsr__buf_dispose(&ps.text);
        return wsr__json_parse(data, n, max_depth, err);
    }
    m = wsr__malloc(sizeof(*m));
    if (m == NULL) {
        wsr__buf_dispose(&ps.text);
        return oom(&ps);
    }
    m->top.n = 0;
    m->args.n = 0;
    m->args_flat = false;
    m->args_obj = NULL;
    m->used = 0;
    memset(m->slot, 0, sizeof(m->slot));
    rc = parse_flat(&ps, m, &m->top, true, &v);
    if (rc >= 0 && !at_end(&ps)) {
        json_decref(v);
        rc = -1;
    }
    wsr__buf_dispose(&ps.text);
    if (rc != 0)
        wsr__jmsg_free(m);
    if (rc < 0) {
        locate(&ps, n, err);
        return NULL;
    }
    if (rc == 0)
        *msg = m;
    return rc == 0 ? NULL : v;
}

json_t *wsr__json_parse(const void *data, size_t n, unsigned max_depth, wsr__json_error_t *err)
{
    parser_t ps;
    json_t *v;

    parser_init(&ps, data, n, max_depth, err);
    v = parse_value(&ps);
    if (v != NULL && !at_end(&ps)) {
        json_decref(v);
        v = NULL;
    }
    wsr__buf_dispose(&ps.text);
    if (v == NULL)
        locate(&ps, n, err);
    return v;
}
