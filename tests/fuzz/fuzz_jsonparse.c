/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the strict JSON parser (src/core/jsonparse.c), differential
 * against jansson's reader with the same rules (JSON_DECODE_ANY,
 * JSON_REJECT_DUPLICATES, JSON_ALLOW_NUL), as tests/test_jsonparse.c does for
 * generated documents. The input is the JSON text.
 *
 * Checked for every input:
 * - the same accept/reject as jansson and, when accepted, an equal value;
 *   both limit nesting at 2048 levels, so depth is no exception here. The
 *   one documented difference: jansson 2.14 accepts a number followed by a
 *   raw NUL byte ("-100\0"), so for inputs holding a NUL only ours is
 *   checked, and it must refuse (a raw NUL is never JSON);
 * - a refusal has a kind, an offset within the input, a line and column from
 *   1, and a sentence of printable ASCII only (keys are quoted escaped), and
 *   is never "out of memory";
 * - under the server's default limit of 64 levels the result is the same,
 *   or a refusal for depth;
 * - what is accepted dumps (wsr__json_dump) to text that parses back equal;
 * - read as a message (wsr__json_parse_message: an object read flat, or
 *   spilled into jansson objects), the same value with its keys in the same
 *   order, or the same error at the same place with the same sentence.
 */
#include "fuzz.h"

#include <jansson.h>
#include <string.h>

#include "core/json_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_set_alloc_funcs(wsr_malloc, wsr_free); /* as wsrouterd does */
    return 0;
}

static void check_error(const wsr__json_error_t *e, size_t size)
{
    FUZZ_CHECK(e->kind > WSR__JSON_OK && e->kind <= WSR__JSON_DUPLICATE, "kind %d", e->kind);
    FUZZ_CHECK(e->offset <= size, "offset %zu past %zu bytes", e->offset, size);
    FUZZ_CHECK(e->line >= 1 && e->column >= 1, "at %d:%d", e->line, e->column);
    FUZZ_CHECK(memchr(e->text, '\0', sizeof(e->text)) != NULL, "unterminated text");
    FUZZ_CHECK(e->text[0] != '\0' && fuzz_printable(e->text), "text \"%s\"", e->text);
}

/* What was accepted dumps compactly and parses back equal. */
static void check_round_trip(const json_t *v)
{
    wsr__buf_t b;
    wsr__json_error_t e;
    json_t *back;
    char shown[200];

    wsr__buf_init(&b, 0, 0);
    FUZZ_CHECK(wsr__json_dump(&b, v) == 0, "dump failed");
    back = wsr__json_parse(b.data, b.len, WSR__JSON_MAX_DEPTH, &e);
    FUZZ_CHECK(back != NULL && json_equal(back, v), "dump %s %s",
               fuzz_repr(b.data, b.len, shown, sizeof(shown)),
               back ? "reads back differently" : e.text);
    json_decref(back);
    wsr__buf_dispose(&b);
}

/* Read as a message, the input gives what wsr__json_parse gave (`v`, `e`). */
static void check_as_message(const uint8_t *data, size_t size, const json_t *v,
                             const wsr__json_error_t *e)
{
    wsr__json_error_t me;
    wsr__jmsg_t *msg;
    json_t *mv = wsr__json_parse_message(data, size, 64, &me, &msg);
    char *want, *got;
    char shown[200];

    FUZZ_CHECK(mv == NULL || msg == NULL, "both a value and a flat message");
    if (msg != NULL) {
        mv = wsr__jmsg_object(msg, &msg->top);
        FUZZ_CHECK(mv != NULL, "out of memory");
    }
    FUZZ_CHECK((mv == NULL) == (v == NULL), "%s: read as a message it is %s",
               fuzz_repr(data, size, shown, sizeof(shown)), mv ? "accepted" : "refused");
    if (v == NULL) {
        FUZZ_CHECK(me.kind == e->kind && me.offset == e->offset && me.line == e->line &&
                       me.column == e->column && strcmp(me.text, e->text) == 0,
                   "%s: read as a message, \"%s\" at %zu, not \"%s\" at %zu",
                   fuzz_repr(data, size, shown, sizeof(shown)), me.text, me.offset, e->text,
                   e->offset);
    } else {
        want = wsr__json_to_string(v);
        got = wsr__json_to_string(mv);
        FUZZ_CHECK(want != NULL && got != NULL && strcmp(want, got) == 0,
                   "%s: read as a message, %s, not %s", fuzz_repr(data, size, shown, sizeof(shown)),
                   got ? got : "?", want ? want : "?");
        wsr__free(want);
        wsr__free(got);
    }
    json_decref(mv);
    wsr__jmsg_free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wsr__json_error_t e, e64;
    json_t *ours, *ours64, *theirs;
    json_error_t jerr;
    char shown[200];

    ours = wsr__json_parse(data, size, WSR__JSON_MAX_DEPTH, &e);
    if (ours == NULL)
        check_error(&e, size);
    else
        FUZZ_CHECK(e.kind == WSR__JSON_OK, "accepted with kind %d", e.kind);

    ours64 = wsr__json_parse(data, size, 64, &e64);
    if (ours64 == NULL) {
        check_error(&e64, size);
        FUZZ_CHECK(e64.kind == WSR__JSON_DEPTH || ours == NULL,
                   "refused at 64 levels for \"%s\" but accepted at 2048", e64.text);
        FUZZ_CHECK(e64.kind == WSR__JSON_DEPTH || ours != NULL ||
                       (e64.kind == e.kind && e64.offset == e.offset),
                   "the error moved under the lower limit: \"%s\" vs \"%s\"", e64.text, e.text);
    } else {
        FUZZ_CHECK(ours != NULL && json_equal(ours, ours64),
                   "accepted at 64 levels but not at 2048");
    }
    check_as_message(data, size, ours64, &e64);
    json_decref(ours64);

    if (memchr(data, '\0', size) != NULL) {
        FUZZ_CHECK(ours == NULL, "accepted %s, which holds a raw NUL byte",
                   fuzz_repr(data, size, shown, sizeof(shown)));
        return 0;
    }
    theirs = json_loadb((const char *)data, size,
                        JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    FUZZ_CHECK((ours == NULL) == (theirs == NULL), "%s: we %s it (%s), jansson %s it (%s)",
               fuzz_repr(data, size, shown, sizeof(shown)), ours ? "accept" : "refuse",
               ours ? "" : e.text, theirs ? "accepts" : "refuses", theirs ? "" : jerr.text);
    if (ours != NULL) {
        FUZZ_CHECK(json_equal(ours, theirs), "%s: we and jansson read it differently",
                   fuzz_repr(data, size, shown, sizeof(shown)));
        check_round_trip(ours);
    }
    json_decref(ours);
    json_decref(theirs);
    return 0;
}
