/* SPDX-License-Identifier: MIT */
/*
 * Compact JSON output. Replies must be compact UTF-8
 * with U+2028 and U+2029 escaped (PROTOCOL.md section 2) so they are safe to
 * embed in JavaScript; jansson can only escape all non-ASCII or nothing, so the
 * serializer is ours. It walks jansson values, which keep insertion order.
 */
#include "core/json_int.h"

#include "wsrouter/json.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DUMP_DEPTH WSR__JSON_MAX_DEPTH

/* `depth` counts the arrays and objects around the value being written, so a
 * container at `depth` is nesting level depth + 1. The limit is checked on
 * containers only: 2048 levels are written, 2049 refused (the old check on
 * every value at depth > 2048 let 2049 levels through, contrary to json_int.h). */
static int dump_value(wsr__buf_t *out, const json_t *v, unsigned depth);

static const char hex_digits[] = "0123456789abcdef";

/* True when none of the 8 bytes at `p` needs a look: no '"', no '\\', no
 * control character, no 0xE2 (the first byte of U+2028 and U+2029). Each
 * test is the "has a zero byte" trick on the word, exact for the word as a
 * whole (a borrow only runs on above a byte that matched): a 64 KiB string
 * is looked at a word at a time, not a byte (it was a third of the 64 KiB
 * echo's CPU). */
static bool plain8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t w, q, b, e;

    memcpy(&w, p, sizeof(w));
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    e = w ^ (ones * 0xE2);
    return ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | ((e - ones) & ~e)) &
            high) == 0;
}

int wsr__json_put_string(wsr__buf_t *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *run;
    int rc;

    /* Worst case every byte becomes \u00XX: reserve the common case and
     * grow only when escapes appear. */
    rc = wsr__buf_reserve(out, n + 2);
    if (rc != 0)
        return rc;
    out->data[out->len++] = '"';
    run = p;
    while (p < end) {
        unsigned char c;
        char esc[7];
        size_t elen = 0;

        while (end - p >= 8 && plain8(p))
            p += 8;
        if (p == end)
            break;
        c = *p;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c < 0x20) {
            esc[0] = '\\';
            elen = 2;
            switch (c) {
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            default:
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex_digits[c >> 4];
                esc[5] = hex_digits[c & 15];
                elen = 6;
                break;
            }
        } else if (c == 0xE2 && end - p >= 3 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
            memcpy(esc, p[2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
            elen = 6;
        }
        if (elen == 0) {
            p++;
            continue;
        }
        rc = wsr__buf_append(out, run, (size_t)(p - run));
        if (rc == 0)
            rc = wsr__buf_append(out, esc, elen);
        if (rc != 0)
            return rc;
        p += (c == 0xE2) ? 3 : 1;
        run = p;
    }
    rc = wsr__buf_append(out, run, (size_t)(p - run));
    return rc ? rc : wsr__buf_putc(out, '"');
}

/* Shortest of %.15g, %.16g, %.17g that reads back as the same double, with
 * ".0" added when it would otherwise look like an integer. */
static int dump_real(wsr__buf_t *out, double d)
{
    locale_t before = wsr__c_numbers_begin(); /* once, for up to six calls */
    char tmp[40];
    int prec, n = 0;

    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    wsr__c_numbers_end(before);
    if (n <= 0 || (size_t)n >= sizeof(tmp) - 3)
        return WSR_EINVAL;
    if (strpbrk(tmp, ".eEn") == NULL) {
        tmp[n++] = '.';
        tmp[n++] = '0';
    }
    return wsr__buf_append(out, tmp, (size_t)n);
}

static int dump_object(wsr__buf_t *out, const json_t *v, unsigned depth)
{
    void *it = json_object_iter((json_t *)v);
    int rc;
    bool first = true;

    if (depth >= MAX_DUMP_DEPTH)
        return WSR_EINVAL;
    rc = wsr__buf_putc(out, '{');
    while (rc == 0 && it != NULL) {
        if (!first)
            rc = wsr__buf_putc(out, ',');
        first = false;
        if (rc == 0)
            rc = wsr__json_put_string(out, json_object_iter_key(it), json_object_iter_key_len(it));
        if (rc == 0)
            rc = wsr__buf_putc(out, ':');
        if (rc == 0)
            rc = dump_value(out, json_object_iter_value(it), depth + 1);
        it = json_object_iter_next((json_t *)v, it);
    }
    return rc ? rc : wsr__buf_putc(out, '}');
}

static int dump_array(wsr__buf_t *out, const json_t *v, unsigned depth)
{
    size_t i, n = json_array_size(v);
    int rc;

    if (depth >= MAX_DUMP_DEPTH)
        return WSR_EINVAL;
    rc = wsr__buf_putc(out, '[');
    for (i = 0; rc == 0 && i < n; i++) {
        if (i != 0)
            rc = wsr__buf_putc(out, ',');
        if (rc == 0)
            rc = dump_value(out, json_array_get(v, i), depth + 1);
    }
    return rc ? rc : wsr__buf_putc(out, ']');
}

static int dump_value(wsr__buf_t *out, const json_t *v, unsigned depth)
{
    char num[24];

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return dump_object(out, v, depth);
    case JSON_ARRAY:
        return dump_array(out, v, depth);
    case JSON_STRING:
        return wsr__json_put_string(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return wsr__buf_append(out, num, wsr__fmt_int(num, json_integer_value(v)));
    case JSON_REAL:
        return dump_real(out, json_real_value(v));
    case JSON_TRUE:
        return wsr__buf_append(out, "true", 4);
    case JSON_FALSE:
        return wsr__buf_append(out, "false", 5);
    case JSON_NULL:
    default:
        return wsr__buf_append(out, "null", 4);
    }
}

int wsr__json_dump(wsr__buf_t *out, const json_t *v)
{
    if (v == NULL)
        return wsr__buf_append(out, "null", 4);
    return dump_value(out, v, 0);
}

char *wsr__json_to_string(const json_t *v)
{
    wsr__buf_t b;
    char *s;

    wsr__buf_init(&b, 0, 0);
    if (wsr__json_dump(&b, v) != 0 || wsr__buf_putc(&b, '\0') != 0) {
        wsr__buf_dispose(&b);
        return NULL;
    }
    s = (char *)b.data;
    return s;
}

char *wsr_json_dumps(const json_t *v, size_t *len)
{
    json_t *null = v == NULL ? json_null() : NULL;
    wsr__buf_t b;
    int rc;

    wsr__buf_init(&b, 0, 0);
    rc = wsr__json_dump(&b, v != NULL ? v : null);
    if (rc == 0)
        rc = wsr__buf_putc(&b, '\0');
    json_decref(null);
    if (rc != 0) {
        wsr__buf_dispose(&b);
        return NULL;
    }
    if (len != NULL)
        *len = b.len - 1;
    return (char *)b.data;
}
