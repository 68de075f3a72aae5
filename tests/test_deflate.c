/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/deflate.c: the prediction of libwebsockets 4.1.6's
 * abort in its permessage-deflate inflater. Messages are compressed here the
 * way a client compresses them (raw deflate, a sync flush, the 00 00 ff ff
 * tail taken off), and the prediction is checked against what lws does
 * with them: the same two inflate calls, counted by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/deflate_int.h"

/* Compresses `n` bytes of `in` into `out`; returns the length without the tail. */
static size_t compress_message(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    z_stream s;
    size_t len;

    memset(&s, 0, sizeof(s));
    assert_int_equal(
        deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_in = (Bytef *)(uintptr_t)in;
    s.avail_in = (uInt)n;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    assert_int_equal(deflate(&s, Z_SYNC_FLUSH), Z_OK);
    assert_int_equal(s.avail_in, 0);
    len = cap - s.avail_out;
    deflateEnd(&s);
    assert_true(len >= 4);
    assert_memory_equal(out + len - 4, wsr__deflate_trailer, 4);
    return len - 4;
}

/* lws 4.1.6's calls for the last input of a frame (extension-permessage-
 * deflate.c, PAYLOAD_RX), counted here on their own: 256 bytes out per
 * call until the input is used; then, if the chunk is full, the trailer
 * into 5 more bytes and its assert that room is left. True: it aborts. */
static bool lws_would_abort(const unsigned char *in, size_t n)
{
    unsigned char o[256];
    bool aborts = false;
    z_stream rx;

    memset(&rx, 0, sizeof(rx));
    assert_int_equal(inflateInit2(&rx, -15), Z_OK);
    rx.next_in = (Bytef *)(uintptr_t)in;
    rx.avail_in = (uInt)n;
    while (rx.avail_in != 0) {
        rx.next_out = o;
        rx.avail_out = sizeof(o);
        assert_true(inflate(&rx, Z_NO_FLUSH) == Z_OK);
    }
    if (rx.avail_out == 0) {
        rx.next_in = (Bytef *)(uintptr_t)wsr__deflate_trailer;
        rx.avail_in = 4;
        rx.next_out = o;
        rx.avail_out = 5;
        assert_true(inflate(&rx, Z_SYNC_FLUSH) == Z_OK);
        aborts = rx.avail_out == 0;
    }
    inflateEnd(&rx);
    return aborts;
}

/* Runs of one letter: some end with a long match still to give when the
 * last byte is in, which is lws's abort; the prediction agrees on each. */
static void test_deflate__runs_that_abort_lws_are_predicted(void **state)
{
    unsigned char in[20000], out[512];
    unsigned aborting = 0;
    z_stream rx;

    (void)state;
    memset(in, 'x', sizeof(in));
    for (size_t len = 200; len <= sizeof(in); len += 97) {
        size_t n = compress_message(in, len, out, sizeof(out));
        bool expected = lws_would_abort(out, n);

        memset(&rx, 0, sizeof(rx)); /* never initialised, as lws's before a first message */
        assert_int_equal(wsr__deflate_would_abort(&rx, 15, out, n, 256), expected);
        aborting += expected;
    }
    /* The case is not rare: a client sends one without trying. */
    assert_true(aborting > 0);
}

/* A short message fits in one output chunk: lws inflates it safely. */
static void test_deflate__a_short_message_is_safe(void **state)
{
    static const unsigned char hello[] = "{\"method\":\"GET\",\"url\":\"/_/ping\"}";
    unsigned char out[256];
    size_t n;
    z_stream rx;

    (void)state;
    n = compress_message(hello, sizeof(hello) - 1, out, sizeof(out));
    memset(&rx, 0, sizeof(rx));
    assert_false(wsr__deflate_would_abort(&rx, 15, out, n, 256));
}

/* Random-looking text has no long match at its end: each input byte gives
 * about one byte out, so the output never overflows with the input used. */
static void test_deflate__incompressible_input_is_safe(void **state)
{
    unsigned char in[200], out[512];
    uint32_t x = 12345;
    size_t n;
    z_stream rx;

    (void)state;
    for (size_t i = 0; i < sizeof(in); i++) {
        x = x * 1103515245u + 12345u;
        in[i] = (unsigned char)('a' + (x >> 16) % 26);
    }
    n = compress_message(in, sizeof(in), out, sizeof(out));
    memset(&rx, 0, sizeof(rx));
    assert_false(wsr__deflate_would_abort(&rx, 15, out, n, 256));
}

/* Input that is not deflate: lws fails it cleanly itself, no abort. */
static void test_deflate__bad_input_is_lws_own_failure(void **state)
{
    static const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    z_stream rx;

    (void)state;
    memset(&rx, 0, sizeof(rx));
    assert_false(wsr__deflate_would_abort(&rx, 15, junk, sizeof(junk), 256));
}

/* The stream the prediction looks at keeps its state: the second message of
 * a connection that keeps its context is judged with the first one's window. */
static void test_deflate__a_live_stream_is_left_as_it_was(void **state)
{
    unsigned char in[5000], out[256], o[300];
    size_t n;
    z_stream rx;
    uLong total;

    (void)state;
    memset(in, 'y', sizeof(in));
    n = compress_message(in, 100, out, sizeof(out));
    memset(&rx, 0, sizeof(rx));
    assert_int_equal(inflateInit2(&rx, -15), Z_OK);
    rx.next_in = out;
    rx.avail_in = (uInt)n;
    rx.next_out = o;
    rx.avail_out = sizeof(o);
    assert_true(inflate(&rx, Z_SYNC_FLUSH) == Z_OK);
    assert_int_equal(rx.avail_in, 0);
    total = rx.total_out;
    n = compress_message(in, sizeof(in), out, sizeof(out));
    (void)wsr__deflate_would_abort(&rx, 15, out, n, 256);
    assert_int_equal(rx.total_out, total);
    assert_int_equal(rx.avail_in, 0);
    /* No input at all: lws's first trailer path, which asserts nothing. */
    assert_false(wsr__deflate_would_abort(&rx, 15, NULL, 0, 256));
    /* An output chunk it cannot model is refused rather than guessed. */
    assert_true(wsr__deflate_would_abort(&rx, 15, out, n, 0));
    inflateEnd(&rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deflate__runs_that_abort_lws_are_predicted),
        cmocka_unit_test(test_deflate__a_short_message_is_safe),
        cmocka_unit_test(test_deflate__incompressible_input_is_safe),
        cmocka_unit_test(test_deflate__bad_input_is_lws_own_failure),
        cmocka_unit_test(test_deflate__a_live_stream_is_left_as_it_was),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
