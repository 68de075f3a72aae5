/* SPDX-License-Identifier: MIT */
/* Tests for src/json.c: the compact serializer (escapes, U+2028/U+2029,
 * integers, shortest round-trip reals, key order, compactness, limits) and
 * allocation failures while dumping. The parser has tests/test_jsonparse.c. */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsrouter/wsrouter.h"
#include "core/json_int.h"

/* Dumps `v` (borrowed) and compares the bytes with `want` exactly. */
static void assert_dump(const json_t *v, const char *want)
{
    wsr__buf_t b;
    long live = tu_live_blocks();

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__json_dump(&b, v), 0);
    assert_non_null(b.data);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("dump gave \"%.*s\", want \"%s\"", (int)b.len, (const char *)b.data, want);
    wsr__buf_dispose(&b);
    assert_int_equal(tu_live_blocks(), live);
}

/* Same, taking `v`. */
static void assert_dump_take(json_t *v, const char *want)
{
    assert_non_null(v);
    assert_dump(v, want);
    json_decref(v);
}

/* Writes `s` (n bytes) with wsr__json_put_string and compares exactly. */
static void assert_put_string(const char *s, size_t n, const char *want)
{
    wsr__buf_t b;

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__json_put_string(&b, s, n), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("put_string gave \"%.*s\", want \"%s\"", (int)b.len, (const char *)b.data, want);
    wsr__buf_dispose(&b);
}

/* Dumps a real and returns the text (caller frees with free()). */
static char *dump_real(double d)
{
    json_t *v = json_real(d);
    wsr__buf_t b;
    char *s;

    assert_non_null(v);
    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__json_dump(&b, v), 0);
    s = malloc(b.len + 1);
    assert_non_null(s);
    memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    wsr__buf_dispose(&b);
    json_decref(v);
    return s;
}

static void assert_real(double d, const char *want)
{
    char *s = dump_real(d);

    if (strcmp(s, want) != 0)
        fail_msg("real %.17g dumped as \"%s\", want \"%s\"", d, s, want);
    free(s);
}

/* The text must read back as exactly `d` and be at most 17 significant digits. */
static void assert_real_round_trips(double d)
{
    char *s = dump_real(d), *end;
    double back = strtod(s, &end);

    assert_int_equal(*end, '\0');
    if (memcmp(&back, &d, sizeof(d)) != 0)
        fail_msg("real %.17g dumped as \"%s\", which reads back as %.17g", d, s, back);
    assert_true(strlen(s) <= 24);
    free(s);
}

static void test_json__string_escapes_quote_backslash_and_controls(void **state)
{
    (void)state;
    assert_put_string("", 0, "\"\"");
    assert_put_string("plain", 5, "\"plain\"");
    assert_put_string("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    assert_put_string("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    assert_put_string("\x01\x02\x0b\x0e\x1b\x1f", 6,
                      "\"\\u0001\\u0002\\u000b\\u000e\\u001b\\u001f\"");
    /* '/' and DEL need no escape in JSON and get none. */
    assert_put_string("a/b\x7f", 4, "\"a/b\x7f\"");
    assert_put_string("\"\"\\\\", 4, "\"\\\"\\\"\\\\\\\\\"");
}

static void test_json__u2028_u2029_escaped_other_utf8_kept(void **state)
{
    (void)state;
    assert_put_string("x\xe2\x80\xa8y\xe2\x80\xa9z", 9, "\"x\\u2028y\\u2029z\"");
    assert_put_string("\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\"");
    /* Neighbours of U+2028/U+2029 and other scripts pass through unchanged. */
    assert_put_string("\xe2\x80\xa7\xe2\x80\xaa", 6, "\"\xe2\x80\xa7\xe2\x80\xaa\"");
    assert_put_string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
                      "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    /* A U+2028 prefix cut short at the end is not read past the end. */
    assert_put_string("a\xe2\x80", 3, "\"a\xe2\x80\"");
}

static void test_json__embedded_nul_is_escaped(void **state)
{
    (void)state;
    assert_dump_take(json_stringn("a\0b", 3), "\"a\\u0000b\"");
    assert_dump_take(json_stringn("\0", 1), "\"\\u0000\"");
    assert_put_string("\0\0", 2, "\"\\u0000\\u0000\"");
}

/* Each byte that needs a look, at every place in and across the 8-byte
 * words put_string skips plain bytes by, in strings of 0 to 40 bytes: the
 * result must be the byte-at-a-time escaping (built here). */
static void test_json__escapes_found_at_every_offset(void **state)
{
    static const char *const specials[] = {"\"",   "\\", "\n",           "\x01",
                                           "\x1f", "\0", "\xe2\x80\xa8", "\xe2\x80\xa9"};
    static const char *const escaped[] = {"\\\"",    "\\\\",    "\\n",     "\\u0001",
                                          "\\u001f", "\\u0000", "\\u2028", "\\u2029"};
    (void)state;
    for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
        size_t slen = k == 5 ? 1 : strlen(specials[k]);

        for (size_t len = 0; len <= 40; len++) {
            for (size_t at = 0; at + slen <= len; at++) {
                char in[48], want[128];
                size_t w = 0;

                /* plain bytes around it: ASCII, 0x7f and a two-byte letter's bytes */
                for (size_t i = 0; i < len; i++)
                    in[i] = "ab\x7f\xc3\xa9xyz/"[i % 9];
                memcpy(in + at, specials[k], slen);
                want[w++] = '"';
                memcpy(want + w, in, at);
                w += at;
                memcpy(want + w, escaped[k], strlen(escaped[k]));
                w += strlen(escaped[k]);
                memcpy(want + w, in + at + slen, len - at - slen);
                w += len - at - slen;
                want[w++] = '"';
                want[w] = '\0';
                assert_put_string(in, len, want);
            }
        }
    }
}

static void test_json__integers(void **state)
{
    (void)state;
    assert_dump_take(json_integer(0), "0");
    assert_dump_take(json_integer(-1), "-1");
    assert_dump_take(json_integer(42), "42");
    assert_dump_take(json_integer(INT64_MAX), "9223372036854775807");
    assert_dump_take(json_integer(INT64_MIN), "-9223372036854775808");
}

static void test_json__reals_shortest_round_trip(void **state)
{
    (void)state;
    assert_real(0.1, "0.1");
    assert_real(1.0, "1.0");
    assert_real(-2.0, "-2.0");
    assert_real(100.0, "100.0");
    assert_real(1.5, "1.5");
    assert_real(1e300, "1e+300");
    assert_real(-0.0, "-0.0");
    assert_real(0.0, "0.0");
    assert_real(0.1 + 0.2, "0.30000000000000004");
    assert_real(1.0 / 3.0, "0.3333333333333333");
    assert_real(2.5e-8, "2.5e-08");
    assert_real_round_trips(1.0 / 3.0);
    assert_real_round_trips(2.0 / 3.0);
    assert_real_round_trips(DBL_MAX);
    assert_real_round_trips(-DBL_MAX);
    assert_real_round_trips(DBL_MIN);
    assert_real_round_trips(4.9406564584124654e-324);
    assert_real_round_trips(123456789.123456789);
    assert_real_round_trips(9007199254740993.0);
    assert_real_round_trips(3.141592653589793);
}

static void test_json__reals_never_look_like_integers(void **state)
{
    /* A real must read back as a real: a '.' or an exponent is always there. */
    const double values[] = {1.0, 1e15, 1e16, 1e17, 123456789012.0, -7.0, 1e-5, 0.0};

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char *s = dump_real(values[i]);

        if (strpbrk(s, ".e") == NULL)
            fail_msg("real %.17g dumped as \"%s\", which reads as an integer", values[i], s);
        free(s);
    }
    assert_real(1e16, "1e+16");
}

static void test_json__constants_and_null(void **state)
{
    wsr__buf_t b;

    (void)state;
    assert_dump(json_true(), "true");
    assert_dump(json_false(), "false");
    assert_dump(json_null(), "null");
    /* A NULL value encodes JSON null. */
    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__json_dump(&b, NULL), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "null", 4);
    wsr__buf_dispose(&b);
}

static void test_json__object_keys_keep_insertion_order(void **state)
{
    json_t *o = json_object();

    (void)state;
    assert_non_null(o);
    assert_int_equal(json_object_set_new(o, "zeta", json_integer(1)), 0);
    assert_int_equal(json_object_set_new(o, "alpha", json_integer(2)), 0);
    assert_int_equal(json_object_set_new(o, "mid", json_integer(3)), 0);
    assert_int_equal(json_object_set_new(o, "b", json_integer(4)), 0);
    assert_dump(o, "{\"zeta\":1,\"alpha\":2,\"mid\":3,\"b\":4}");
    /* Replacing a value keeps the key where it was. */
    assert_int_equal(json_object_set_new(o, "alpha", json_string("two")), 0);
    assert_dump(o, "{\"zeta\":1,\"alpha\":\"two\",\"mid\":3,\"b\":4}");
    json_decref(o);
}

static void test_json__keys_are_escaped(void **state)
{
    json_t *o = json_object();

    (void)state;
    assert_non_null(o);
    assert_int_equal(json_object_set_new(o, "a\"b", json_integer(1)), 0);
    assert_int_equal(json_object_set_new(o, "line\nbreak", json_integer(2)), 0);
    assert_int_equal(json_object_set_new(o, "sep\xe2\x80\xa8", json_integer(3)), 0);
    assert_dump(o, "{\"a\\\"b\":1,\"line\\nbreak\":2,\"sep\\u2028\":3}");
    json_decref(o);
}

static void test_json__nested_values_are_compact(void **state)
{
    json_error_t jerr;
    const char *text = "{ \"a\" : [ 1 , [ 2 , { } ] , { \"b\" : [ ] } ] ,\n"
                       "  \"c\" : { \"d\" : null , \"e\" : true , \"f\" : false } ,\n"
                       "  \"g\" : \"with blanks inside\" , \"h\" : -1.25 }";
    json_t *v = json_loads(text, 0, &jerr);

    (void)state;
    assert_non_null(v);
    assert_dump(v, "{\"a\":[1,[2,{}],{\"b\":[]}],\"c\":{\"d\":null,\"e\":true,\"f\":false},"
                   "\"g\":\"with blanks inside\",\"h\":-1.25}");
    json_decref(v);
    assert_dump_take(json_array(), "[]");
    assert_dump_take(json_object(), "{}");
    assert_dump_take(json_pack("[[[[]]]]"), "[[[[]]]]");
}

static void test_json__dump_appends_after_headroom_and_content(void **state)
{
    wsr__buf_t b;
    json_t *v = json_pack("{s:i}", "k", 5);

    (void)state;
    assert_non_null(v);
    wsr__buf_init(&b, 8, 0);
    assert_int_equal(wsr__buf_puts(&b, "pre:"), 0);
    assert_int_equal(wsr__json_dump(&b, v), 0);
    assert_int_equal(wsr__buf_payload_len(&b), strlen("pre:{\"k\":5}"));
    assert_memory_equal(wsr__buf_payload(&b), "pre:{\"k\":5}", wsr__buf_payload_len(&b));
    wsr__buf_dispose(&b);
    json_decref(v);
}

static void test_json__dump_respects_the_buffer_limit(void **state)
{
    wsr__buf_t b;
    json_t *v = json_pack("[i,i,i]", 1, 2, 3);

    (void)state;
    assert_non_null(v);
    wsr__buf_init(&b, 0, 6); /* "[1,2,3]" needs 7 */
    assert_int_equal(wsr__json_dump(&b, v), WSR_EOVERFLOW);
    wsr__buf_dispose(&b);
    wsr__buf_init(&b, 0, 7);
    assert_int_equal(wsr__json_dump(&b, v), 0);
    assert_int_equal(b.len, 7);
    wsr__buf_dispose(&b);
    /* A string that only fits unescaped does not fit once escaped. */
    wsr__buf_init(&b, 0, 3);
    assert_int_equal(wsr__json_put_string(&b, "\n", 1), WSR_EOVERFLOW);
    wsr__buf_dispose(&b);
    json_decref(v);
}

/* `levels` arrays nested in one another: [[...]]. */
static json_t *nested_arrays(unsigned levels)
{
    json_t *v = json_array();

    for (unsigned i = 1; v != NULL && i < levels; i++) {
        json_t *outer = json_array();

        if (outer == NULL || json_array_append_new(outer, v) != 0) {
            json_decref(outer);
            return NULL;
        }
        v = outer;
    }
    return v;
}

static void test_json__dump_refuses_nesting_past_2048(void **state)
{
    json_t *ok = nested_arrays(2048), *deep = nested_arrays(2049);
    json_t *leaf = nested_arrays(2048), *inner = leaf;
    wsr__buf_t b;

    (void)state;
    assert_non_null(ok);
    assert_non_null(deep);
    assert_non_null(leaf);
    /* A scalar inside 2048 arrays adds no level. */
    while (json_array_size(inner) > 0)
        inner = json_array_get(inner, 0);
    assert_int_equal(json_array_append_new(inner, json_integer(7)), 0);
    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__json_dump(&b, leaf), 0);
    assert_int_equal(b.len, 2 * 2048 + 1);
    assert_int_equal(b.data[2048], '7');
    wsr__buf_dispose(&b);
    json_decref(leaf);
    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__json_dump(&b, ok), 0);
    assert_int_equal(b.len, 2 * 2048);
    {
        wsr__json_error_t e;
        json_t *back = wsr__json_parse(b.data, b.len, 2048, &e);

        assert_non_null(back);
        json_decref(back);
        assert_null(wsr__json_parse(b.data, b.len, 2047, &e));
        assert_int_equal(e.kind, WSR__JSON_DEPTH);
    }
    wsr__buf_dispose(&b);
    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__json_dump(&b, deep), WSR_EINVAL);
    wsr__buf_dispose(&b);
    json_decref(ok);
    json_decref(deep);
}

static void test_json__to_string_is_nul_terminated(void **state)
{
    json_t *v = json_pack("{s:[s,f]}", "k", "\xe2\x80\xa9", 0.5);
    char *s;

    (void)state;
    assert_non_null(v);
    s = wsr__json_to_string(v);
    assert_non_null(s);
    assert_string_equal(s, "{\"k\":[\"\\u2029\",0.5]}");
    wsr__free(s);
    json_decref(v);
}

/* A value whose dump needs several buffer growths (over 256, then 512 bytes). */
static json_t *big_value(void)
{
    json_t *v = json_object(), *a = json_array();
    char text[300];

    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    if (v == NULL || a == NULL || json_object_set_new(v, "list", a) != 0)
        goto fail;
    for (int i = 0; i < 40; i++)
        if (json_array_append_new(a, json_real(i + 0.5)) != 0)
            goto fail;
    if (json_object_set_new(v, "text", json_string(text)) != 0 ||
        json_object_set_new(v, "sep", json_string("\xe2\x80\xa8\n")) != 0)
        goto fail;
    return v;
fail:
    json_decref(v);
    return NULL;
}

static void test_json__dump_allocation_failures_leave_nothing(void **state)
{
    json_t *v = big_value();
    wsr__buf_t want;
    long live, n;

    (void)state;
    assert_non_null(v);
    wsr__buf_init(&want, 0, 0);
    assert_int_equal(wsr__json_dump(&want, v), 0);
    assert_true(want.len > 512);
    live = tu_live_blocks();
    for (n = 0;; n++) {
        wsr__buf_t b;
        int rc;

        wsr__buf_init(&b, 0, 0);
        tu_fail_at(n, false);
        rc = wsr__json_dump(&b, v);
        tu_fail_at(-1, false);
        if (rc == 0) {
            assert_int_equal(b.len, want.len);
            assert_memory_equal(b.data, want.data, want.len);
        }
        wsr__buf_dispose(&b);
        assert_int_equal(tu_live_blocks(), live);
        if (rc == 0)
            break;
        assert_int_equal(rc, WSR_ENOMEM);
    }
    assert_true(n >= 2);
    wsr__buf_dispose(&want);
    json_decref(v);
}

static void test_json__to_string_allocation_failures_return_null(void **state)
{
    json_t *v = big_value();
    long live, n;

    (void)state;
    assert_non_null(v);
    live = tu_live_blocks();
    for (n = 0;; n++) {
        char *s;

        tu_fail_at(n, false);
        s = wsr__json_to_string(v);
        tu_fail_at(-1, false);
        if (s != NULL) {
            assert_int_equal(s[0], '{');
            wsr__free(s);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 2);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json__string_escapes_quote_backslash_and_controls),
        cmocka_unit_test(test_json__u2028_u2029_escaped_other_utf8_kept),
        cmocka_unit_test(test_json__escapes_found_at_every_offset),
        cmocka_unit_test(test_json__embedded_nul_is_escaped),
        cmocka_unit_test(test_json__integers),
        cmocka_unit_test(test_json__reals_shortest_round_trip),
        cmocka_unit_test(test_json__reals_never_look_like_integers),
        cmocka_unit_test(test_json__constants_and_null),
        cmocka_unit_test(test_json__object_keys_keep_insertion_order),
        cmocka_unit_test(test_json__keys_are_escaped),
        cmocka_unit_test(test_json__nested_values_are_compact),
        cmocka_unit_test(test_json__dump_appends_after_headroom_and_content),
        cmocka_unit_test(test_json__dump_respects_the_buffer_limit),
        cmocka_unit_test(test_json__dump_refuses_nesting_past_2048),
        cmocka_unit_test(test_json__to_string_is_nul_terminated),
        cmocka_unit_test(test_json__dump_allocation_failures_leave_nothing),
        cmocka_unit_test(test_json__to_string_allocation_failures_return_null),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
