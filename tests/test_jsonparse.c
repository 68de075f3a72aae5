/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/jsonparse.c, the request parser: what it accepts (checked
 * against jansson's own reader), what it refuses and the sentence and
 * position it gives, strings (escapes, surrogate pairs, UTF-8, U+0000),
 * numbers at the edges of int64 and double, the nesting limit, duplicate
 * keys, reading no byte past `n`, allocation failures at every step, and a
 * differential run against jansson over generated and mutated documents.
 */
#include "testutil.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_int.h"

/* jansson's reader with the same rules as ours (bar the depth limit). */
static json_t *jansson_parse(const char *s, size_t n)
{
    json_error_t e;

    return json_loadb(s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
}

/* The compact text of `v`, or "(none)" (malloc'd). */
static char *text_of(const json_t *v)
{
    char *s = v ? wsr__json_to_string(v) : NULL;
    char *copy = strdup(s ? s : "(none)");

    wsr__free(s);
    assert_non_null(copy);
    return copy;
}

/*
 * Parses `n` bytes as a message (wsr__json_parse_message) and checks that it
 * gives exactly what wsr__json_parse gave (`v`, `e`): the same value, keys in
 * the same order, or the same error at the same place. Returns 0 when the
 * message was not read flat, 1 when it was, 3 when its "args" was too.
 */
static int check_as_message(const char *s, size_t n, unsigned max_depth, const json_t *v,
                            const wsr__json_error_t *e)
{
    wsr__json_error_t me;
    wsr__jmsg_t *msg;
    json_t *mv = wsr__json_parse_message(s, n, max_depth, &me, &msg), *obj = mv;
    char *want = text_of(v), *got;
    int flat = msg == NULL ? 0 : msg->args_flat ? 3 : 1;

    if (msg != NULL) {
        assert_null(mv);
        obj = wsr__jmsg_object(msg, &msg->top);
        assert_non_null(obj);
    }
    got = text_of(obj);
    if (strcmp(want, got) != 0)
        fail_msg("read as a message, %.*s gives %s, not %s", (int)WSR__MIN(n, 200), s, got, want);
    if (v == NULL) {
        assert_int_equal(me.kind, e->kind);
        assert_int_equal(me.offset, e->offset);
        assert_int_equal(me.line, e->line);
        assert_int_equal(me.column, e->column);
        assert_string_equal(me.text, e->text);
    }
    free(want);
    free(got);
    json_decref(obj);
    wsr__jmsg_free(msg);
    return flat;
}

/* Parses `s` from an exact-size heap copy, so ASan sees any read past it,
 * and checks that reading it as a message gives the same. */
static json_t *parse_exact(const char *s, size_t n, unsigned max_depth, wsr__json_error_t *e)
{
    char *copy = malloc(n ? n : 1);
    json_t *v;

    assert_non_null(copy);
    memcpy(copy, s, n);
    v = wsr__json_parse(copy, n, max_depth, e);
    (void)check_as_message(copy, n, max_depth, v, e);
    free(copy);
    return v;
}

static json_t *parse(const char *s, wsr__json_error_t *e)
{
    return parse_exact(s, strlen(s), 64, e);
}

static void test_jsonparse__accepts_what_jansson_accepts(void **state)
{
    static const char *const ok[] = {
        "{}",
        "[]",
        " \t\r\n{ } \n",
        "0",
        "-0",
        "1.5",
        "-1.25e+3",
        "1E-2",
        "\"\"",
        "\"plain\"",
        "\"tab\\tnew\\nline\\r\\b\\f\\/\\\\\\\"\"",
        "\"\\u00e9\\u20AC\\ud83d\\ude00\"",
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
        "\"a\\u0000b\"",
        "true",
        "false",
        "null",
        "[1,\"two\",3.5,true,false,null,{},[]]",
        "{\"a\":{\"b\":{\"c\":[1,[2,[3]]]}},\"d\":\"e\"}",
        "{\"\\u0061\":1,\"b\\n\":\"\\u0062\"}",
        "{\"method\":\"GET\",\"url\":\"/math/add\",\"args\":{\"x\":2,\"y\":3},\"id\":7}",
        "[9223372036854775807,-9223372036854775808]",
        "{\"k\" : [ 1 , 2 ] , \"l\" : { } }",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        wsr__json_error_t e;
        json_t *ours, *theirs;

        ours = parse(ok[i], &e);
        theirs = jansson_parse(ok[i], strlen(ok[i]));
        if (ours == NULL)
            fail_msg("refused %s: %s", ok[i], e.text);
        assert_non_null(theirs);
        if (!json_equal(ours, theirs))
            fail_msg("%s parses differently from jansson", ok[i]);
        assert_int_equal(e.kind, WSR__JSON_OK);
        json_decref(ours);
        json_decref(theirs);
    }
}

#define A8  "aaaaaaaa"
#define A96 A8 A8 A8 A8 A8 A8 A8 A8 A8 A8 A8 A8
/* Eight U+0001 as JSON escapes: in the input, and as the sentence quotes them. */
#define U8 "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"

typedef struct bad_case {
    const char *text;
    int kind;
    const char *says; /* the whole error text */
    int line, column;
} bad_case_t;

static void test_jsonparse__refuses_with_a_sentence_and_a_place(void **state)
{
    static const bad_case_t bad[] = {
        {"", WSR__JSON_EOF, "it ends too early", 1, 1},
        {"   ", WSR__JSON_EOF, "it ends too early", 1, 4},
        {"{", WSR__JSON_EOF, "it ends too early", 1, 2},
        {"{\"a\":1", WSR__JSON_EOF, "it ends too early", 1, 7},
        {"\"abc", WSR__JSON_EOF, "it ends too early", 1, 5},
        {"\"ab\\", WSR__JSON_EOF, "it ends too early", 1, 5},
        {"hello", WSR__JSON_SYNTAX, "a value was expected, not 'h'", 1, 1},
        {"tru", WSR__JSON_SYNTAX, "a value was expected, not 't'", 1, 1},
        {"nul", WSR__JSON_SYNTAX, "a value was expected, not 'n'", 1, 1},
        {"{'a':1}", WSR__JSON_SYNTAX, "an object key must be a string, not '''", 1, 2},
        {"{a:1}", WSR__JSON_SYNTAX, "an object key must be a string, not 'a'", 1, 2},
        {"{\"a\":1,}", WSR__JSON_SYNTAX, "an object key must be a string, not '}'", 1, 8},
        {"[1,]", WSR__JSON_SYNTAX, "a value was expected, not ']'", 1, 4},
        {"[1 2]", WSR__JSON_SYNTAX, "an array goes on with ',' or ends with ']', not '2'", 1, 4},
        {"{\"a\" 1}", WSR__JSON_SYNTAX, "an object key must be followed by ':', not '1'", 1, 6},
        {"{\"a\":1 \"b\":2}", WSR__JSON_SYNTAX,
         "an object goes on with ',' or ends with '}', not '\"'", 1, 8},
        {"{} x", WSR__JSON_SYNTAX, "only blanks may follow the value, not 'x'", 1, 4},
        {"{}{}", WSR__JSON_SYNTAX, "only blanks may follow the value, not '{'", 1, 3},
        {"{}\x01", WSR__JSON_SYNTAX, "only blanks may follow the value, not byte 0x01", 1, 3},
        {"[\xc3\xa9]", WSR__JSON_SYNTAX, "a value was expected, not U+00E9", 1, 2},
        {"\xef\xbb\xbf{}", WSR__JSON_SYNTAX, "a value was expected, not U+FEFF", 1, 1}, /* BOM */
        {"[\xff]", WSR__JSON_UTF8, "invalid UTF-8", 1, 2},
        {"\"a\xff\"", WSR__JSON_UTF8, "invalid UTF-8", 1, 3},
        {"\"\xc0\xaf\"", WSR__JSON_UTF8, "invalid UTF-8", 1, 2},         /* overlong '/' */
        {"\"\xe0\x80\xaf\"", WSR__JSON_UTF8, "invalid UTF-8", 1, 2},     /* overlong, 3 bytes */
        {"\"\xed\xa0\x80\"", WSR__JSON_UTF8, "invalid UTF-8", 1, 2},     /* encoded surrogate */
        {"\"\xf4\x90\x80\x80\"", WSR__JSON_UTF8, "invalid UTF-8", 1, 2}, /* past U+10FFFF */
        {"\"\xe2\x82\"", WSR__JSON_UTF8, "invalid UTF-8", 1, 2},         /* cut short */
        {"\"a\tb\"", WSR__JSON_SYNTAX,
         "a string has a raw control character (byte 0x09): escape it", 1, 3},
        {"\"\\x\"", WSR__JSON_SYNTAX,
         "a backslash in a string must be followed by one of \" \\ / b f n r t u, not 'x'", 1, 3},
        {"\"\\u12G4\"", WSR__JSON_SYNTAX, "\\u must be followed by four hex digits", 1, 2},
        {"\"\\u12\"", WSR__JSON_SYNTAX, "\\u must be followed by four hex digits", 1, 2},
        {"\"\\uDC00\"", WSR__JSON_SYNTAX, "\\uDC00 is a lone low surrogate", 1, 2},
        {"\"\\uD800\"", WSR__JSON_SYNTAX, "\\uD800 is a high surrogate without its pair", 1, 2},
        {"\"\\uD800\\u0041\"", WSR__JSON_SYNTAX, "\\uD800 is a high surrogate without its pair", 1,
         2},
        {"\"\\ud800\\ud800\"", WSR__JSON_SYNTAX, "\\uD800 is a high surrogate without its pair", 1,
         2},
        {"01", WSR__JSON_SYNTAX, "a number cannot start with 0", 1, 1},
        {"-", WSR__JSON_EOF, "it ends too early", 1, 2},
        {"-a", WSR__JSON_SYNTAX, "a number needs a digit, not 'a'", 1, 2},
        {"1.", WSR__JSON_EOF, "it ends too early", 1, 3},
        {"1.e5", WSR__JSON_SYNTAX, "a fraction needs a digit after '.', not 'e'", 1, 3},
        {".5", WSR__JSON_SYNTAX, "a value was expected, not '.'", 1, 1},
        {"1e", WSR__JSON_EOF, "it ends too early", 1, 3},
        {"1e+", WSR__JSON_EOF, "it ends too early", 1, 4},
        {"[1e+x]", WSR__JSON_SYNTAX, "an exponent needs a digit, not 'x'", 1, 5},
        {"+1", WSR__JSON_SYNTAX, "a value was expected, not '+'", 1, 1},
        {"9223372036854775808", WSR__JSON_SYNTAX, "an integer is too big for 64 bits", 1, 20},
        {"-9223372036854775809", WSR__JSON_SYNTAX, "an integer is too big for 64 bits", 1, 21},
        {"99999999999999999999999", WSR__JSON_SYNTAX, "an integer is too big for 64 bits", 1, 24},
        /* Just past 2^64 - 1, where the digit loop's own arithmetic wraps. */
        {"18446744073709551615", WSR__JSON_SYNTAX, "an integer is too big for 64 bits", 1, 21},
        {"18446744073709551616", WSR__JSON_SYNTAX, "an integer is too big for 64 bits", 1, 21},
        {"36893488147419103232", WSR__JSON_SYNTAX, "an integer is too big for 64 bits", 1, 21},
        {"1e400", WSR__JSON_SYNTAX, "a number is too big for a double", 1, 6},
        {"-1e400", WSR__JSON_SYNTAX, "a number is too big for a double", 1, 7},
        {"{\"a\":1,\"a\":2}", WSR__JSON_DUPLICATE, "an object has the key \"a\" twice", 1, 8},
        {"{\"a\":1,\"\\u0061\":2}", WSR__JSON_DUPLICATE, "an object has the key \"a\" twice", 1, 8},
        {"{\"a\\u0000b\":1}", WSR__JSON_SYNTAX, "an object key cannot hold U+0000", 1, 2},
        /* Keys are quoted in printable ASCII: no escape sequence, line break
         * or bidi override reaches whoever prints the sentence. */
        {"{\"\\u001b[31m\\n\\\"\\\\\":1,\"\\u001b[31m\\n\\\"\\\\\":2}", WSR__JSON_DUPLICATE,
         "an object has the key \"\\u001B[31m\\u000A\\\"\\\\\" twice", 1, 23},
        {"{\"\xc3\xa9\xe2\x80\xae\xf0\x9f\x98\x80\":1,\"\xc3\xa9\xe2\x80\xae\xf0\x9f\x98\x80\":2}",
         WSR__JSON_DUPLICATE, "an object has the key \"\\u00E9\\u202E\\uD83D\\uDE00\" twice", 1,
         10},
        /* Long keys end in "..." where the sentence has no room, never in half
         * an escape: 120 letters show 96, 40 control characters show 16. */
        {"{\"" A96 A8 A8 A8 "\":1,\"" A96 A8 A8 A8 "\":1}", WSR__JSON_DUPLICATE,
         "an object has the key \"" A96 "...\" twice", 1, 127},
        {"{\"" U8 U8 U8 U8 U8 "\":1,\"" U8 U8 U8 U8 U8 "\":1}", WSR__JSON_DUPLICATE,
         "an object has the key \"" U8 U8 "...\" twice", 1, 247},
        {"{\n  \"a\": 1,\n  \"b\" 2\n}", WSR__JSON_SYNTAX,
         "an object key must be followed by ':', not '2'", 3, 7},
        /* Columns count characters, not bytes. */
        {"[\"\xc3\xa9\xc3\xa9\", x]", WSR__JSON_SYNTAX, "a value was expected, not 'x'", 1, 8},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wsr__json_error_t e;
        json_t *v = parse(bad[i].text, &e);

        if (v != NULL)
            fail_msg("accepted %s", bad[i].text);
        if (e.kind != bad[i].kind || strcmp(e.text, bad[i].says) != 0 || e.line != bad[i].line ||
            e.column != bad[i].column)
            fail_msg("%s: got kind %d \"%s\" at %d:%d, want kind %d \"%s\" at %d:%d", bad[i].text,
                     e.kind, e.text, e.line, e.column, bad[i].kind, bad[i].says, bad[i].line,
                     bad[i].column);
    }
}

static void test_jsonparse__strings_decode_exactly(void **state)
{
    wsr__json_error_t e;
    json_t *v;

    (void)state;
    v = parse("\"\\ud83d\\ude00 \\u00e9\\u0000!\"", &e);
    assert_non_null(v);
    assert_int_equal(json_string_length(v), 4 + 1 + 2 + 1 + 1);
    assert_memory_equal(json_string_value(v), "\xf0\x9f\x98\x80 \xc3\xa9\0!", 9);
    json_decref(v);
    /* An escaped key then escaped values: the key must not be overwritten
     * by the strings parsed after it (they share a scratch buffer). */
    v = parse("{\"k\\u0065y\":[\"\\u0076al\",\"\\\"q\\\"\"],\"plain\":\"x\"}", &e);
    assert_non_null(v);
    assert_non_null(json_object_get(v, "key"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "key"), 0)), "val");
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "key"), 1)), "\"q\"");
    assert_string_equal(json_string_value(json_object_get(v, "plain")), "x");
    json_decref(v);
    /* Key order is kept. */
    v = parse("{\"z\":1,\"a\":2,\"m\":3}", &e);
    assert_non_null(v);
    assert_string_equal(json_object_iter_key(json_object_iter(v)), "z");
    json_decref(v);
}

static void test_jsonparse__numbers_at_the_edges(void **state)
{
    wsr__json_error_t e;
    json_t *v;

    (void)state;
    v = parse("[9223372036854775807,-9223372036854775808,-0,0,1e-400,0.1,12345678901234567890.5]",
              &e);
    assert_non_null(v);
    assert_true(json_is_integer(json_array_get(v, 0)));
    assert_true(json_integer_value(json_array_get(v, 0)) == INT64_MAX);
    assert_true(json_integer_value(json_array_get(v, 1)) == INT64_MIN);
    assert_true(json_is_integer(json_array_get(v, 2)));
    assert_int_equal(json_integer_value(json_array_get(v, 2)), 0);
    assert_true(json_is_real(json_array_get(v, 4)));
    assert_true(json_real_value(json_array_get(v, 4)) == 0.0);
    assert_true(json_real_value(json_array_get(v, 5)) == 0.1);
    assert_true(json_real_value(json_array_get(v, 6)) == 12345678901234567890.5);
    json_decref(v);
    /* A long real (past the stack copy) is read in full. */
    {
        char big[300];

        memset(big, '1', sizeof(big) - 3);
        big[0] = '0';
        big[1] = '.';
        memcpy(big + sizeof(big) - 3, "e1", 3);
        v = parse(big, &e);
        assert_non_null(v);
        assert_true(json_real_value(v) > 1.11 && json_real_value(v) < 1.12);
        json_decref(v);
    }
}

/* "[" x levels then "]" x levels, or "{"a": ..." objects when `objects`. */
static char *nest(unsigned levels, bool objects)
{
    size_t cap = 6 * (size_t)levels + 2, n = 0;
    char *s = malloc(cap);

    assert_non_null(s);
    for (unsigned i = 0; i < levels; i++) {
        memcpy(s + n, objects ? "{\"a\":" : "[", objects ? 5 : 1);
        n += objects ? 5 : 1;
    }
    s[n++] = '1';
    for (unsigned i = 0; i < levels; i++)
        s[n++] = objects ? '}' : ']';
    s[n] = '\0';
    return s;
}

static void test_jsonparse__nesting_limit_is_exact(void **state)
{
    (void)state;
    for (int objects = 0; objects <= 1; objects++) {
        char *at = nest(64, objects), *over = nest(65, objects), *far = nest(100000, objects);
        wsr__json_error_t e;
        json_t *v;

        v = parse_exact(at, strlen(at), 64, &e);
        assert_non_null(v);
        json_decref(v);
        assert_null(parse_exact(over, strlen(over), 64, &e));
        assert_int_equal(e.kind, WSR__JSON_DEPTH);
        assert_string_equal(e.text, "nesting deeper than 64 levels");
        /* Refused at the 65th opener, long before the end of 100000. */
        assert_int_equal(e.offset, 64 * (objects ? 5 : 1));
        assert_null(parse_exact(far, strlen(far), 64, &e));
        assert_int_equal(e.kind, WSR__JSON_DEPTH);
        /* Depth 0 allows scalars only. */
        v = parse_exact("7", 1, 0, &e);
        assert_non_null(v);
        json_decref(v);
        assert_null(parse_exact("[]", 2, 0, &e));
        assert_int_equal(e.kind, WSR__JSON_DEPTH);
        free(at);
        free(over);
        free(far);
    }
    /* Siblings do not add up: 1000 arrays side by side are depth 2. */
    {
        char *s = malloc(3 * 1000 + 2);
        wsr__json_error_t e;
        json_t *v;
        size_t n = 0;

        assert_non_null(s);
        s[n++] = '[';
        for (int i = 0; i < 1000; i++) {
            memcpy(s + n, i ? ",[]" : "[]", i ? 3 : 2);
            n += i ? 3 : 2;
        }
        s[n++] = ']';
        v = parse_exact(s, n, 2, &e);
        assert_non_null(v);
        assert_int_equal(json_array_size(v), 1000);
        json_decref(v);
        free(s);
    }
}

static void test_jsonparse__reads_only_n_bytes(void **state)
{
    /* Every proper prefix of a document is refused (parse_exact copies to
     * an exact-size block, so ASan catches any read past it), and none
     * leaks. */
    static const char doc[] = "{\"method\":\"POST\",\"url\":\"/a\\u00e9\",\"args\":{\"x\":[1,2.5,"
                              "-3e2,true,false,null]},\"data\":\"\\ud83d\\ude00\",\"id\":7}";
    wsr__json_error_t e;
    json_t *v;

    (void)state;
    for (size_t n = 0; n < sizeof(doc) - 1; n++) {
        v = parse_exact(doc, n, 64, &e);
        if (v != NULL)
            fail_msg("accepted the first %zu bytes", n);
        assert_true(e.kind == WSR__JSON_EOF || e.kind == WSR__JSON_SYNTAX);
        assert_true(e.offset <= n);
    }
    v = parse_exact(doc, sizeof(doc) - 1, 64, &e);
    assert_non_null(v);
    json_decref(v);
    /* NULL with no bytes is an empty message, not a crash. */
    assert_null(wsr__json_parse(NULL, 0, 64, &e));
    assert_int_equal(e.kind, WSR__JSON_EOF);
}

/* Parses `doc` with wsr__json_parse, or as a message (read flat or not).
 * Returns true when it built something, and frees it. */
static bool parse_either(const char *doc, size_t n, bool as_message, wsr__json_error_t *e)
{
    wsr__jmsg_t *msg = NULL;
    json_t *v;

    if (!as_message)
        v = wsr__json_parse(doc, n, 64, e);
    else
        v = wsr__json_parse_message(doc, n, 64, e, &msg);
    assert_true(v == NULL || msg == NULL);
    json_decref(v);
    wsr__jmsg_free(msg);
    return v != NULL || msg != NULL;
}

static void sweep_failures(const char *doc, size_t n, bool as_message)
{
    long total;
    wsr__json_error_t e;

    tu_fail_at(-1, false);
    assert_true(parse_either(doc, n, as_message, &e));
    total = tu_alloc_count();
    assert_true(total > 5);
    for (long i = 0; i < total; i++) {
        for (int sticky = 0; sticky <= 1; sticky++) {
            bool built;

            tu_fail_at(i, sticky);
            built = parse_either(doc, n, as_message, &e);
            tu_fail_at(-1, false);
            if (built) {
                fail_msg("allocation %ld failing (sticky %d) went unnoticed", i, sticky);
            } else if (e.kind != WSR__JSON_NOMEM) {
                fail_msg("allocation %ld failing (sticky %d) gave kind %d: %s", i, sticky, e.kind,
                         e.text);
            }
            assert_int_equal(tu_live_blocks(), 0);
        }
    }
}

static void test_jsonparse__allocation_failures(void **state)
{
    static const char doc[] = "{\"method\":\"POST\",\"url\":\"/a\",\"args\":{\"k\\u0065y\":[1,2.5,"
                              "\"s\\n\",{\"n\":null}],\"e\":\"\\u00e9\"},\"id\":\"x\"}";
    /* Thirteen members: read flat, then spilled into an object. */
    static const char spilled[] = "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
                                  "\"h\":8,\"i\":9,\"j\":10,\"args\":{\"x\":1},\"l\":12,\"m\":13}";

    (void)state;
    sweep_failures(doc, sizeof(doc) - 1, false);
    sweep_failures(doc, sizeof(doc) - 1, true);
    sweep_failures(spilled, sizeof(spilled) - 1, true);
}

/* n members "k0".."k<n-1>" (each key `pad` bytes longer), with `args` (a
 * member's text, or NULL) at position `at`. Freed with wsr__free. */
static char *members(int n, int pad, const char *args, int at)
{
    wsr__buf_t b;

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__buf_putc(&b, '{'), 0);
    for (int i = 0; i < n; i++) {
        if (i > 0)
            assert_int_equal(wsr__buf_putc(&b, ','), 0);
        if (args != NULL && i == at)
            assert_int_equal(wsr__buf_printf(&b, "%s,", args), 0);
        assert_int_equal(wsr__buf_printf(&b, "\"k%d%*s\":%d", i, pad, "", i), 0);
    }
    assert_int_equal(wsr__buf_printf(&b, "}%c", '\0'), 0);
    return (char *)b.data;
}

/*
 * A message object is read flat when it fits (WSR__FLAT_MEMBERS members, keys
 * in WSR__FLAT_TEXT bytes, its "args" likewise) and through a jansson object
 * when not: either way it reads as wsr__json_parse reads it, with the same
 * errors at the same places (check_as_message), duplicates across the point
 * where it spilled included.
 */
static void test_jsonparse__messages_read_flat_or_spilled(void **state)
{
    static const struct {
        const char *text;
        int flat; /* check_as_message's answer */
    } docs[] = {
        {"{}", 1},
        {" {\"cmd\":\"add\",\"args\":{\"x\":1,\"y\":2},\"id\":3} ", 3},
        {"{\"args\":{}}", 3},
        {"{\"\\u0061rgs\":{\"x\":[1,{\"args\":{}}]}}", 3},
        {"{\"args\":{\"args\":{\"a\":1}}}", 3},
        {"{\"args\":5,\"x\":1}", 1},
        {"{\"args\":{\"a\":1},\"args\":{\"a\":1}}", 0},
        {"{\"args\":1,\"args\":{\"a\":1}}", 0},
        {"{\"args\":{\"a\":1},\"args\":1}", 0},
        {"{\"args\":{\"a\":1,\"a\":2}}", 0},
        {"{\"args\":{\"a\":1,}}", 0},
        {"{\"args\":{\"a\":[1,}}", 0},
        {"{\"args\":{\"a\":1}", 0},
        {"{\"a\":1}x", 0},
        {"{\"a\":1,\"a\":{\"b\":}}", 0},
        {"{\"a\\u0000\":1}", 0},
        {"{\"a\" 1}", 0},
        {"{1:1}", 0},
        {"{\"a\":\"\\q\"}", 0},
        {"[{\"a\":1}]", 0},
        /* Envelope strings kept as text, or as jansson strings when long. */
        {"{\"method\":\"GET\",\"url\":\"/"
         "a\\u0062?c=\\u00e9\",\"token\":\"\",\"cmd\":\"x\\u0000y\"}",
         1},
        {"{\"cmd\":\"x\",\"cmd\":\"y\"}", 0},
        {"{\"cmd\":\"x\",\"cmd\":1}", 0},
        {"{\"cmd\":1,\"cmd\":\"x\"}", 0},
        {"{\"cmd\":\"x\\q\"}", 0},
        {"{\"cmd\":\"x}", 0},
        {"{\"url\":\"/0123456789012345678901234567890123456789012345678901234567890123456789"
         "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "0123456789012345678901234567890123456789012345678901234567890123456789\",\"cmd\":\"c\"}",
         1},
    };
    static const char *const extra[] = {NULL, NULL, "\"k0\":0", "\"args\":[]"};
    char *big;
    wsr__json_error_t e;
    json_t *v;

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        v = wsr__json_parse(docs[i].text, strlen(docs[i].text), 64, &e);
        if (check_as_message(docs[i].text, strlen(docs[i].text), 64, v, &e) != docs[i].flat)
            fail_msg("%s: not read as flat as %d", docs[i].text, docs[i].flat);
        json_decref(v);
    }
    /* Around the limits: members (pad 0) and key bytes (pad 40: nine keys
     * fill the room), in the message and in its args (variant 1), with a
     * duplicate of a key read before the spill (2), with one more member (3). */
    for (int n = WSR__FLAT_MEMBERS - 2; n <= WSR__FLAT_MEMBERS + 2; n++) {
        for (int pad = 0; pad <= 40; pad += 40) {
            for (int variant = 0; variant < 4; variant++) {
                char *args = NULL, *doc, *member = NULL;
                int want;

                if (variant == 1) {
                    args = members(n, pad, NULL, 0);
                    member = malloc(strlen(args) + 10);
                    assert_non_null(member);
                    snprintf(member, strlen(args) + 10, "\"args\":%s", args);
                    doc = members(2, 0, member, 1);
                    want = pad == 0 && n <= WSR__FLAT_MEMBERS ? 3 : 1;
                } else {
                    doc = members(n, pad, extra[variant], n / 2);
                    want = pad == 0 && n + (variant == 3) <= WSR__FLAT_MEMBERS && variant != 2;
                }
                v = wsr__json_parse(doc, strlen(doc), 64, &e);
                if (variant == 2 && pad == 0)
                    assert_int_equal(e.kind, WSR__JSON_DUPLICATE);
                else
                    assert_non_null(v);
                if (check_as_message(doc, strlen(doc), 64, v, &e) != want)
                    fail_msg("%s: not read as flat as %d", doc, want);
                json_decref(v);
                free(member);
                wsr__free(args);
                wsr__free(doc);
            }
        }
    }
    /* One key longer than all the room for keys. */
    big = members(3, WSR__FLAT_TEXT, NULL, 0);
    v = wsr__json_parse(big, strlen(big), 64, &e);
    assert_int_equal(check_as_message(big, strlen(big), 64, v, &e), 0);
    json_decref(v);
    wsr__free(big);
}

/* Every envelope key, and only those, is found in its slot. */
static void test_jsonparse__envelope_keys_have_their_slots(void **state)
{
    wsr__json_error_t e;
    wsr__jmsg_t *msg;
    char doc[64];

    (void)state;
    for (int k = 0; k < WSR__KEYS; k++) {
        snprintf(doc, sizeof(doc), "{\"x\":0,\"%s\":1}", wsr__keys[k]);
        assert_null(wsr__json_parse_message(doc, strlen(doc), 64, &e, &msg));
        assert_non_null(msg);
        for (int j = 0; j < WSR__KEYS; j++)
            assert_int_equal(msg->slot[j], j == k ? 2 : 0);
        wsr__jmsg_free(msg);
    }
    for (const char *const *near =
             (const char *const[]){"ie", "urk", "args2", "dat", "tokens", "inpux", "cmdie",
                                   "methoe", "param", "jsonrpd", "event_namf", "", NULL};
         *near != NULL; near++) {
        snprintf(doc, sizeof(doc), "{\"%s\":1}", *near);
        assert_null(wsr__json_parse_message(doc, strlen(doc), 64, &e, &msg));
        assert_non_null(msg);
        for (int j = 0; j < WSR__KEYS; j++)
            assert_int_equal(msg->slot[j], 0);
        wsr__jmsg_free(msg);
    }
}

/* A small deterministic generator (xorshift64*). */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

/* Any seed, even 0, through splitmix64: seeds 2 and 3 must not alias. */
static void seed_rng(uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15u;

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    rng_state = (z ^ (z >> 31)) | 1u;
}

static uint32_t rnd(uint32_t below)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Du) >> 33) % below;
}

static json_t *random_value(int depth)
{
    static const char *const pieces[] = {
        "a",
        "Z",
        " ",
        "\"",
        "\\",
        "/",
        "\n",
        "\t",
        "\x01",
        "\x1f",
        "\x7f",
        "\xc3\xa9",
        "\xe2\x80\xa8",
        "\xf0\x9f\x98\x80",
        "key",
        "0",
    };
    char s[1600];
    size_t n = 0;
    json_t *v;

    switch (depth > 3 ? rnd(5) : rnd(7)) {
    case 0:
        return json_integer((json_int_t)rnd(1000000) - 500000);
    case 1:
        return json_real((double)rnd(1000000) / (double)(1 + rnd(997)) - 300.0);
    case 2:
        return rnd(3) == 0 ? json_null() : json_boolean(rnd(2));
    case 3:
    case 4:
        /* Mostly short; one in eight long enough to grow the scratch buffer. */
        for (uint32_t k = rnd(8) ? rnd(6) : 100 + rnd(400); k > 0; k--) {
            const char *piece = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];

            if (n + strlen(piece) < sizeof(s)) {
                memcpy(s + n, piece, strlen(piece));
                n += strlen(piece);
            }
        }
        return json_stringn(n ? s : "", n);
    case 5:
        v = json_array();
        for (uint32_t k = rnd(5); k > 0; k--)
            json_array_append_new(v, random_value(depth + 1));
        return v;
    default:
        v = json_object();
        for (uint32_t k = rnd(5); k > 0; k--) {
            snprintf(s, 64, "%s%u", rnd(2) ? "k\xc3\xa9" : "\"\\", rnd(50));
            json_object_set_new(v, s, random_value(depth + 1));
        }
        return v;
    }
}

/*
 * Generated values, dumped by jansson in several styles (compact, indented,
 * ASCII-only escapes), must parse back equal; and every one-byte mutation of
 * the dumps must be accepted or refused exactly as jansson does, and equal
 * to jansson's result when accepted.
 */
static void test_jsonparse__agrees_with_jansson(void **state)
{
    static const char mutations[] = "{}[]\",:\\ 0-.eE+tfnu\x80\xff\x01";
    static const size_t flags[] = {JSON_COMPACT, JSON_INDENT(2), JSON_ENSURE_ASCII | JSON_COMPACT,
                                   JSON_ENSURE_ASCII | JSON_INDENT(1)};
    unsigned docs = 0, mutants = 0, accepted = 0;
    /* WSR_FUZZ_ROUNDS and WSR_FUZZ_SEED run it longer or differently. */
    const char *env_rounds = getenv("WSR_FUZZ_ROUNDS"), *env_seed = getenv("WSR_FUZZ_SEED");
    long rounds = env_rounds ? strtol(env_rounds, NULL, 10) : 300;

    (void)state;
    if (env_seed != NULL)
        seed_rng(strtoull(env_seed, NULL, 10));
    for (long round = 0; round < rounds; round++) {
        json_t *orig = random_value(0);
        char *text = json_dumps(orig, JSON_ENCODE_ANY | flags[round % 4]);
        size_t len;
        wsr__json_error_t e;
        json_t *ours;

        assert_non_null(text);
        len = strlen(text);
        ours = parse_exact(text, len, 64, &e);
        if (ours == NULL || !json_equal(ours, orig))
            fail_msg("%s did not round-trip: %s", text, ours ? "differs" : e.text);
        json_decref(ours);
        docs++;
        for (int m = 0; m < 20 && len > 0; m++) {
            char *mut = strdup(text);
            json_t *theirs;

            assert_non_null(mut);
            /* One byte changed; every fifth mutant, a few more, or cut short. */
            for (uint32_t k = m % 5 ? 1 : 1 + rnd(4); k > 0; k--)
                mut[rnd((uint32_t)len)] = mutations[rnd(sizeof(mutations) - 1)];
            if (m % 7 == 6) {
                /* A raw NUL byte is never JSON, but jansson 2.14 accepts
                 * a number followed by one ("-100\0" and anything blank
                 * after it), so here only ours is checked. */
                mut[rnd((uint32_t)len)] = '\0';
                ours = parse_exact(mut, len, 64, &e);
                if (ours != NULL)
                    fail_msg("%s<NUL>...: accepted with a raw NUL byte", mut);
                free(mut);
                mutants++;
                continue;
            }
            ours = parse_exact(mut, len, 64, &e);
            theirs = jansson_parse(mut, len);
            if ((ours == NULL) != (theirs == NULL))
                fail_msg("%s: we %s it, jansson %s it", mut, ours ? "accept" : "refuse",
                         theirs ? "accepts" : "refuses");
            if (ours != NULL && !json_equal(ours, theirs))
                fail_msg("%s: we and jansson read it differently", mut);
            accepted += ours != NULL;
            json_decref(ours);
            json_decref(theirs);
            free(mut);
            mutants++;
        }
        wsr__free(text); /* jansson's allocator is ours (testutil) */
        json_decref(orig);
    }
    print_message("%u documents round-tripped, %u mutants (%u accepted) agree with jansson\n", docs,
                  mutants, accepted);
    assert_true(mutants >= (unsigned)rounds);
}

/* Appends one random token (or a blank, or a stray byte) to b. */
static void random_token(wsr__buf_t *b)
{
    static const char *const fixed[] = {
        "{",  "}",   "[",   "]", ",", ":", "true", "false",        "null",     " ",    "\n",   "\t",
        "\r", "tru", "nul", "-", ".", "e", "+",    "\xef\xbb\xbf", "\xc3\xa9", "\xff", "\x01", "'",
    };
    static const char *const in_string[] = {
        "a",
        "\\n",
        "\\\"",
        "\\\\",
        "\\/",
        "\\u00e9",
        "\\uD83D\\uDE00",
        "\\uD800",
        "\\uDC00x",
        "\\u12",
        "\\x",
        "\xc3\xa9",
        "\xe2\x80\xa8",
        "\xf0\x9f\x98\x80",
        "\xed\xa0\x80",
        "\xc0\xaf",
        "\x7f",
        "\t",
        "\\u0000",
        " ",
    };
    int rc = 0;

    switch (rnd(4)) {
    case 0: /* a number, sometimes hundreds of digits long */
        if (rnd(3) == 0)
            rc |= wsr__buf_putc(b, '-');
        for (uint32_t k = rnd(6) ? 1 + rnd(4) : 50 + rnd(700); k > 0; k--)
            rc |= wsr__buf_putc(b, (char)('0' + rnd(10)));
        if (rnd(2)) {
            rc |= wsr__buf_putc(b, '.');
            for (uint32_t k = rnd(5) ? 1 + rnd(3) : 100 + rnd(400); k > 0; k--)
                rc |= wsr__buf_putc(b, (char)('0' + rnd(10)));
        }
        if (rnd(3) == 0)
            rc |= wsr__buf_printf(b, "e%s%u", rnd(2) ? "-" : "", rnd(3) ? rnd(30) : rnd(1000));
        break;
    case 1: /* a string, sometimes long, with escapes and raw UTF-8 (good and bad) */
        rc |= wsr__buf_putc(b, '"');
        for (uint32_t k = rnd(6) ? rnd(8) : 100 + rnd(600); k > 0; k--)
            rc |= wsr__buf_puts(b, in_string[rnd(sizeof(in_string) / sizeof(in_string[0]))]);
        if (rnd(10))
            rc |= wsr__buf_putc(b, '"');
        break;
    default:
        rc |= wsr__buf_puts(b, fixed[rnd(sizeof(fixed) / sizeof(fixed[0]))]);
        break;
    }
    assert_int_equal(rc, 0);
}

/* Mostly well-formed: a value, built from tokens, to a random depth. */
static void random_document(wsr__buf_t *b, int depth)
{
    int rc = 0;

    if (depth < 70 && rnd(3) == 0) {
        bool obj = rnd(2);

        rc |= wsr__buf_putc(b, obj ? '{' : '[');
        for (uint32_t k = rnd(4); k > 0; k--) {
            if (obj) {
                random_token(b);
                rc |= wsr__buf_putc(b, ':');
            }
            random_document(b, depth + 1);
            if (k > 1 || rnd(20) == 0)
                rc |= wsr__buf_putc(b, ',');
        }
        rc |= wsr__buf_putc(b, obj ? '}' : ']');
    } else {
        random_token(b);
        if (rnd(15) == 0)
            random_token(b);
    }
    assert_int_equal(rc, 0);
}

/*
 * Token streams, not dumps: long numbers (the heap copy for strtod), long
 * strings with every kind of escape and bad UTF-8, nesting past 64, stray
 * bytes. Each is accepted or refused exactly as jansson does (its depth
 * limit is 2048, so ours is set high here), and read the same when accepted.
 */
static void test_jsonparse__token_streams_agree_with_jansson(void **state)
{
    const char *env_rounds = getenv("WSR_FUZZ_ROUNDS");
    long rounds = env_rounds ? 20 * strtol(env_rounds, NULL, 10) : 6000;
    unsigned accepted = 0, deep = 0;

    (void)state;
    for (long i = 0; i < rounds; i++) {
        wsr__buf_t b;
        wsr__json_error_t e;
        json_t *ours, *theirs;

        wsr__buf_init(&b, 0, 0);
        if (i % 40 == 0) {
            /* One in forty inside a chain of 60 to 69 containers. */
            unsigned levels = 60 + rnd(10);

            for (unsigned k = 0; k < levels; k++)
                assert_int_equal(wsr__buf_puts(&b, k % 3 ? "[" : "{\"k\":"), 0);
            random_document(&b, 0);
            for (unsigned k = levels; k-- > 0;)
                assert_int_equal(wsr__buf_putc(&b, k % 3 ? ']' : '}'), 0);
        } else {
            random_document(&b, 0);
        }
        assert_int_equal(wsr__buf_putc(&b, '\0'), 0);
        b.len--;
        if (memchr(b.data, '\0', b.len) == NULL) {
            ours = parse_exact((const char *)b.data, b.len, 4096, &e);
            theirs = jansson_parse((const char *)b.data, b.len);
            if ((ours == NULL) != (theirs == NULL))
                fail_msg("%s: we %s it (%s), jansson %s it", (const char *)b.data,
                         ours ? "accept" : "refuse", ours ? "" : e.text,
                         theirs ? "accepts" : "refuses");
            if (ours != NULL && !json_equal(ours, theirs))
                fail_msg("%s: we and jansson read it differently", (const char *)b.data);
            accepted += ours != NULL;
            json_decref(ours);
            json_decref(theirs);
            /* The same text under the default limit: refused for depth only. */
            ours = parse_exact((const char *)b.data, b.len, 64, &e);
            deep += ours == NULL && e.kind == WSR__JSON_DEPTH;
            json_decref(ours);
        }
        wsr__buf_dispose(&b);
    }
    print_message("%ld token streams (%u accepted, %u past 64 levels) agree with jansson\n", rounds,
                  accepted, deep);
    assert_true(accepted > 0);
}

/*
 * Object keys before any string needed unescaping: the scratch buffer has
 * never allocated (its data is NULL), and parse_member used to compare the key
 * with its payload pointer, NULL + 0, which is undefined behaviour (clang's
 * -fsanitize=pointer-overflow stops there). The keys and values must come out
 * exactly, whichever buffer holds them.
 */
static void test_jsonparse__keys_before_the_scratch_buffer_exists(void **state)
{
    static const char *const docs[] = {
        "{\"a\":1}",
        "{\"\":1}",
        "{\"\":\"\"}",
        "{\"a\":{\"b\":{\"\":[]}}}",
        "[{\"a\":1},{\"b\":2}]",
        "{\"k\\n\":1,\"p\":2}",
        "{\"\\u0041\":\"x\\ty\",\"B\":\"\\n\",\"\":\"\\\\\"}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        wsr__json_error_t e;
        json_t *ours = parse(docs[i], &e), *theirs = jansson_parse(docs[i], strlen(docs[i]));

        if (ours == NULL)
            fail_msg("%s: refused: %s", docs[i], e.text);
        assert_non_null(theirs);
        if (!json_equal(ours, theirs))
            fail_msg("%s: parsed differently from jansson", docs[i]);
        json_decref(ours);
        json_decref(theirs);
    }
}

/*
 * A process that calls setlocale() with a decimal comma (an application
 * embedding the library) must not change how numbers are read or written.
 * The locale is generated with localedef when the system has not got it
 * (Debian's `locales` package provides the sources; make test installs it).
 */
static bool comma_locale(void)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8"};
    char dir[] = "/tmp/wsr-locale-XXXXXX", cmd[256];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (setlocale(LC_NUMERIC, names[i]) != NULL)
            return true;
    if (mkdtemp(dir) == NULL)
        return false;
    snprintf(cmd, sizeof(cmd), "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
    (void)system(cmd);
    setenv("LOCPATH", dir, 1);
    return setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL;
}

static void test_jsonparse__numbers_ignore_the_process_locale(void **state)
{
    wsr__json_error_t e;
    wsr__buf_t b;
    char *end;
    json_t *v;

    (void)state;
    if (!comma_locale())
        fail_msg("no locale with a decimal comma: install Debian's `locales` (make test-deps)");
    assert_string_equal(localeconv()->decimal_point, ","); /* the test is live */
    v = parse("[1.5,2.75e1,-0.125]", &e);
    assert_non_null(v);
    assert_true(json_real_value(json_array_get(v, 0)) == 1.5);
    assert_true(json_real_value(json_array_get(v, 1)) == 27.5);
    assert_true(json_real_value(json_array_get(v, 2)) == -0.125);
    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__json_dump(&b, v), 0);
    assert_int_equal(wsr__buf_printf(&b, " %g", 0.5), 0);
    assert_int_equal(wsr__buf_putc(&b, '\0'), 0);
    assert_string_equal((const char *)b.data, "[1.5,27.5,-0.125] 0.5");
    wsr__buf_dispose(&b);
    json_decref(v);
    assert_true(wsr__strtod("2.5", &end) == 2.5 && *end == '\0');
    setlocale(LC_NUMERIC, "C");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonparse__accepts_what_jansson_accepts),
        cmocka_unit_test(test_jsonparse__refuses_with_a_sentence_and_a_place),
        cmocka_unit_test(test_jsonparse__strings_decode_exactly),
        cmocka_unit_test(test_jsonparse__keys_before_the_scratch_buffer_exists),
        cmocka_unit_test(test_jsonparse__numbers_at_the_edges),
        cmocka_unit_test(test_jsonparse__nesting_limit_is_exact),
        cmocka_unit_test(test_jsonparse__reads_only_n_bytes),
        cmocka_unit_test(test_jsonparse__allocation_failures),
        cmocka_unit_test(test_jsonparse__messages_read_flat_or_spilled),
        cmocka_unit_test(test_jsonparse__envelope_keys_have_their_slots),
        cmocka_unit_test(test_jsonparse__agrees_with_jansson),
        cmocka_unit_test(test_jsonparse__token_streams_agree_with_jansson),
        cmocka_unit_test(test_jsonparse__numbers_ignore_the_process_locale),
    };

    tu_install_allocator();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
