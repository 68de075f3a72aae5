/* SPDX-License-Identifier: MIT */
/* Tests for the text helpers of src/core/util.c that every refusal goes
 * through: wsr__error_set cuts a sentence too long for err->text, and
 * wsr__clip shortens a quoted text, both at a character boundary and with
 * "..." (found by fuzz_config: an unknown key of 300 bytes left a refusal
 * ending in "(the "). */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "core/internal.h"

static void test_util__error_set_keeps_a_short_text(void **state)
{
    wsr_error_t err;

    (void)state;
    memset(&err, 0, sizeof(err));
    assert_int_equal(wsr__error_set(&err, WSR_EINVAL, "key \"%s\" is bad", "port"), WSR_EINVAL);
    assert_int_equal(err.code, WSR_EINVAL);
    assert_string_equal(err.text, "key \"port\" is bad");
    assert_int_equal(wsr__error_set(NULL, WSR_EIO, "no error to fill"), WSR_EIO);
}

static void test_util__error_set_ends_a_cut_text_with_an_ellipsis(void **state)
{
    char long_text[1000];
    wsr_error_t err;
    size_t n;

    (void)state;
    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    wsr__error_set(&err, WSR_EINVAL, "start %s end", long_text);
    n = strlen(err.text);
    assert_int_equal(n, sizeof(err.text) - 1);
    assert_memory_equal(err.text, "start aaa", 9);
    assert_string_equal(err.text + n - 4, "a...");

    /* A text exactly filling err->text is not cut. */
    long_text[sizeof(err.text) - 1] = '\0';
    wsr__error_set(&err, WSR_EINVAL, "%s", long_text);
    assert_string_equal(err.text, long_text);
}

static void test_util__error_set_cuts_at_a_character_and_after_no_blank(void **state)
{
    /* "é" is two bytes: placed so the cut falls inside one of them. */
    char text[400];
    wsr_error_t err;
    size_t cut = sizeof(err.text) - 4, n;

    (void)state;
    memset(text, 'b', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    memcpy(text + cut - 1, "\xc3\xa9", 2);
    wsr__error_set(&err, WSR_EINVAL, "%s", text);
    n = strlen(err.text);
    assert_int_equal(n, cut - 1 + 3);
    assert_string_equal(err.text + cut - 2, "b...");

    /* Blanks before the cut are dropped: "word   ..." reads as "word...". */
    memset(text, 'c', sizeof(text) - 1);
    memcpy(text + cut - 3, "   ", 3);
    wsr__error_set(&err, WSR_EINVAL, "%s", text);
    n = strlen(err.text);
    assert_int_equal(n, cut - 3 + 3);
    assert_string_equal(err.text + n - 4, "c...");
}

static void test_util__clip(void **state)
{
    char out[32];

    (void)state;
    wsr__clip("short", 10, out, sizeof(out));
    assert_string_equal(out, "short");
    wsr__clip("0123456789", 10, out, sizeof(out));
    assert_string_equal(out, "0123456789");
    wsr__clip("0123456789A", 10, out, sizeof(out));
    assert_string_equal(out, "0123456...");
    /* A three-byte character across the cut goes whole. */
    wsr__clip("012345\xe2\x82\xac"
              "abcdef",
              10, out, sizeof(out));
    assert_string_equal(out, "012345...");
    /* `max` larger than `out` is held to `out`'s size. */
    wsr__clip("0123456789abcdefghij", 100, out, 8);
    assert_string_equal(out, "0123...");
    wsr__clip("", 10, out, sizeof(out));
    assert_string_equal(out, "");
}

/* 2026-12-03T14:10:17.123Z */
#define SOME_MS 1796307017123LL

static void test_util__log_line_text_has_an_iso_utc_stamp_with_ms(void **state)
{
    char out[256];
    size_t n;

    (void)state;
    n = wsr__log_format_at(out, sizeof(out), WSR_LOG_FORMAT_TEXT, WSR_LOG_INFO, "conn#1 open",
                           SOME_MS);
    assert_string_equal(out, "2026-12-03T14:10:17.123Z [info] conn#1 open");
    assert_int_equal(n, strlen(out));
    n = wsr__log_format_at(out, sizeof(out), WSR_LOG_FORMAT_TEXT, WSR_LOG_ERR, "x", 5);
    assert_string_equal(out, "1970-01-01T00:00:00.005Z [err] x");
}

static void test_util__log_line_json_is_one_escaped_object(void **state)
{
    char out[256];
    size_t n;

    (void)state;
    n = wsr__log_format_at(out, sizeof(out), WSR_LOG_FORMAT_JSON, WSR_LOG_WARN,
                           "a \"q\" \\ b\nc\x01", SOME_MS);
    assert_string_equal(out, "{\"time\":\"2026-12-03T14:10:17.123Z\",\"level\":\"warn\","
                             "\"msg\":\"a \\\"q\\\" \\\\ b\\nc\\u0001\"}");
    assert_int_equal(n, strlen(out));
}

static void test_util__log_line_json_cut_stays_an_object(void **state)
{
    char out[120], line[400];

    (void)state;
    memset(line, '"', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    for (size_t size = 96; size <= sizeof(out); size++) {
        size_t n = wsr__log_format_at(out, size, WSR_LOG_FORMAT_JSON, WSR_LOG_INFO, line, 0);
        json_error_t e;
        json_t *j = json_loads(out, 0, &e);

        assert_true(n < size);
        assert_non_null(j);
        assert_true(strlen(json_string_value(json_object_get(j, "msg"))) > 0);
        json_decref(j);
    }
    /* Too small for the envelope: empty rather than broken. */
    assert_int_equal(wsr__log_format_at(out, 40, WSR_LOG_FORMAT_JSON, WSR_LOG_INFO, "x", 0), 0);
    assert_string_equal(out, "");
}

static void test_util__copy_printable(void **state)
{
    char out[8];

    (void)state;
    wsr__copy_printable(out, sizeof(out), "a\"b\n\\c");
    assert_string_equal(out, "a?b??c");
    wsr__copy_printable(out, sizeof(out), "0123456789");
    assert_string_equal(out, "0123456");
    wsr__copy_printable(out, sizeof(out), NULL);
    assert_string_equal(out, "");
}

/* Integers as JSON writes them, at every digit count and both ends. */
static void test_util__fmt_int_writes_every_width(void **state)
{
    static const struct {
        int64_t v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {7, "7"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {-1, "-1"},
        {-10, "-10"},
        {-101, "-101"},
        {1234567, "1234567"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    char out[24], want[32];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(wsr__fmt_int(out, cases[i].v), strlen(cases[i].text));
        assert_string_equal(out, cases[i].text);
    }
    /* Every power of ten and its neighbours. */
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10)
        for (int64_t d = -1; d <= 1; d++) {
            snprintf(want, sizeof(want), "%lld", (long long)(p + d));
            assert_int_equal(wsr__fmt_int(out, p + d), strlen(want));
            assert_string_equal(out, want);
            snprintf(want, sizeof(want), "%lld", (long long)-(p + d));
            assert_int_equal(wsr__fmt_int(out, -(p + d)), strlen(want));
            assert_string_equal(out, want);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util__fmt_int_writes_every_width),
        cmocka_unit_test(test_util__error_set_keeps_a_short_text),
        cmocka_unit_test(test_util__error_set_ends_a_cut_text_with_an_ellipsis),
        cmocka_unit_test(test_util__error_set_cuts_at_a_character_and_after_no_blank),
        cmocka_unit_test(test_util__clip),
        cmocka_unit_test(test_util__log_line_text_has_an_iso_utc_stamp_with_ms),
        cmocka_unit_test(test_util__log_line_json_is_one_escaped_object),
        cmocka_unit_test(test_util__log_line_json_cut_stays_an_object),
        cmocka_unit_test(test_util__copy_printable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
