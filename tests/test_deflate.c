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

#include <stdio.h>
#include <string.h>

#include "core/deflate_int.h"
#include "core/internal.h"
#include "lws_pmd_model.h"

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

/* 11 bytes (1003 'x's compressed, one bit flipped) whose last code is short
 * of bits: lws's inflate uses all the input with room left in the chunk, the
 * trailer it puts back completes the code, and the copy fills the room and
 * the 5 bytes more: lws 4.1.6 aborts. The prediction said it would not when
 * it looked only at a chunk filled at the input's end. */
static void test_deflate__a_code_the_trailer_completes_is_predicted(void **state)
{
    const unsigned char msg[] = {0xaa, 0xa8, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x8c, 0x00, 0x40, 0x00};
    unsigned char *window = wsr__inflate_twin_window();
    wsr__inflate_twin_t t;
    z_stream rx;
    bool trailer = true;

    (void)state;
    memset(&rx, 0, sizeof(rx));
    assert_true(wsr__deflate_would_abort(&rx, 15, msg, sizeof(msg), LWS_PMD_CHUNK));
    assert_int_equal(inflateInit2(&rx, -15), Z_OK);
    assert_true(wsr__deflate_would_abort(&rx, 15, msg, sizeof(msg), LWS_PMD_CHUNK));
    assert_int_equal(wsr__inflate_twin_start(&t, window, 15), 0);
    assert_true(wsr__inflate_twin_step(&t, msg, sizeof(msg), true, true, LWS_PMD_CHUNK, SIZE_MAX));
    assert_int_equal(lws_pmd_model_chunk(&rx, msg, sizeof(msg), true, &trailer), 1);
    wsr__inflate_twin_end(&t);
    inflateEnd(&rx);
    wsr__free(window);
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

/* ---- the twin ---- */

/* One connection's client side: a deflater that keeps its context. */
static size_t compress_next(z_stream *tx, const unsigned char *in, size_t n, unsigned char *out,
                            size_t cap)
{
    size_t len;

    tx->next_in = (Bytef *)(uintptr_t)in;
    tx->avail_in = (uInt)n;
    tx->next_out = out;
    tx->avail_out = (uInt)cap;
    assert_int_equal(deflate(tx, Z_SYNC_FLUSH), Z_OK);
    assert_int_equal(tx->avail_in, 0);
    len = cap - tx->avail_out;
    assert_true(len >= 4);
    assert_memory_equal(out + len - 4, wsr__deflate_trailer, 4);
    return len - 4;
}

/* Messages of a connection that keeps its context: runs of one letter of
 * many lengths (some of which abort lws), text that refers back into the
 * messages before it, and bytes that do not compress. */
static size_t make_message(unsigned k, unsigned char *buf, size_t cap)
{
    size_t n = 0;

    switch (k % 4) {
    case 0:
        n = 200 + (k * 97) % 9000;
        memset(buf, 'a' + (int)(k % 3), n);
        break;
    case 1:
        while (n + 40 < cap && n < 300 + (k * 31) % 3000)
            n += (size_t)snprintf((char *)buf + n, cap - n, "{\"cmd\":\"add\",\"id\":%u}", k);
        break;
    case 2:
        for (n = 0; n < 700 + (k * 13) % 2000; n++)
            buf[n] = (unsigned char)((n * 2654435761u + k) >> 13);
        break;
    default:
        n = 1 + k % 50;
        memset(buf, 'a', n);
        break;
    }
    assert_true(n <= cap);
    return n;
}

/* A new connection: lws's inflater, the client's deflater and the twin, all fresh. */
static void connection_start(z_stream *rx, z_stream *tx, wsr__inflate_twin_t *twin,
                             unsigned char *window)
{
    memset(rx, 0, sizeof(*rx));
    memset(tx, 0, sizeof(*tx));
    assert_int_equal(inflateInit2(rx, -15), Z_OK);
    assert_int_equal(
        deflateInit2(tx, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    assert_int_equal(wsr__inflate_twin_start(twin, window, 15), 0);
}

static void connection_end(z_stream *rx, z_stream *tx, wsr__inflate_twin_t *twin)
{
    wsr__inflate_twin_end(twin);
    inflateEnd(rx);
    deflateEnd(tx);
}

/*
 * Two connections whose twins share one window, messages interleaved, each
 * message in one chunk or cut into several (as reads cut them): each twin
 * predicts, before lws's calls for a chunk, exactly whether lws aborts on
 * them, and after each message has read and written what lws's own
 * inflater has. A connection ends at its first abort, as wsrouterd closes
 * it, and a new one takes its place.
 */
static void test_deflate__twins_follow_lws_message_after_message(void **state)
{
    static unsigned char msg[12000], wire[14000];
    unsigned char *window = wsr__inflate_twin_window();
    wsr__inflate_twin_t twin[2];
    z_stream rx[2], tx[2];
    unsigned aborts = 0, messages = 0, split = 0;

    (void)state;
    assert_non_null(window);
    for (int c = 0; c < 2; c++)
        connection_start(&rx[c], &tx[c], &twin[c], window);
    for (unsigned k = 0; k < 400; k++) {
        int c = (int)(k % 2);
        size_t n = make_message(k, msg, sizeof(msg));
        size_t wlen = compress_next(&tx[c], msg, n, wire, sizeof(wire));
        /* Cut into up to 4 chunks at places that move with k. */
        size_t cuts = k % 3 == 0 ? 1 + k % 4 : 1, at = 0;
        bool trailer = true;
        int lws = 0;

        for (size_t i = 0; i < cuts && lws == 0; i++) {
            size_t end = i + 1 == cuts ? wlen : at + (wlen - at) / (cuts - i) / (1 + k % 2);
            bool last = i + 1 == cuts;
            bool predicted = wsr__inflate_twin_step(&twin[c], wire + at, end - at, last, i == 0,
                                                    LWS_PMD_CHUNK, SIZE_MAX);

            lws = lws_pmd_model_chunk(&rx[c], wire + at, end - at, last, &trailer);
            assert_true(lws >= 0);
            if (predicted != (lws == 1))
                fail_msg("message %u, chunk %zu of %zu: the twin said %d, lws %d", k, i, cuts,
                         predicted, lws);
            split += cuts > 1;
            at = end;
        }
        messages++;
        if (lws == 1) {
            /* The connection is closed: a new one, both sides fresh. */
            aborts++;
            connection_end(&rx[c], &tx[c], &twin[c]);
            connection_start(&rx[c], &tx[c], &twin[c], window);
            continue;
        }
        if (!wsr__inflate_twin_matches(&twin[c], &rx[c]))
            fail_msg("message %u: the twin is out of step with lws", k);
    }
    assert_true(aborts > 0);
    assert_true(split > 0);
    assert_int_equal(messages, 400);
    for (int c = 0; c < 2; c++)
        connection_end(&rx[c], &tx[c], &twin[c]);
    wsr__free(window);
}

/* Stored (level 0) messages of exactly one and two output chunks: the last
 * input byte fills the chunk with nothing left to give, the trailer goes
 * into the 5 bytes lws adds and gives nothing: no abort, on the twin as on
 * lws; one byte short or over changes nothing either. */
static void test_deflate__a_chunk_filled_exactly_is_safe(void **state)
{
    static unsigned char msg[4096], wire[5000];
    unsigned char *window = wsr__inflate_twin_window();
    wsr__inflate_twin_t t;
    z_stream tx, rx;

    (void)state;
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)(i * 7);
    memset(&tx, 0, sizeof(tx));
    memset(&rx, 0, sizeof(rx));
    assert_int_equal(deflateInit2(&tx, 0, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    assert_int_equal(inflateInit2(&rx, -15), Z_OK);
    assert_int_equal(wsr__inflate_twin_start(&t, window, 15), 0);
    for (size_t n = LWS_PMD_CHUNK - 1; n <= 2 * LWS_PMD_CHUNK + 1; n++) {
        size_t wlen;
        bool trailer = true;

        if (n == LWS_PMD_CHUNK + 2)
            n = 2 * LWS_PMD_CHUNK - 1;
        wlen = compress_next(&tx, msg, n, wire, sizeof(wire));
        assert_false(wsr__inflate_twin_step(&t, wire, wlen, true, true, LWS_PMD_CHUNK, SIZE_MAX));
        assert_int_equal(lws_pmd_model_chunk(&rx, wire, wlen, true, &trailer), 0);
        assert_true(wsr__inflate_twin_matches(&t, &rx));
    }
    wsr__inflate_twin_end(&t);
    inflateEnd(&rx);
    deflateEnd(&tx);
    wsr__free(window);
}

/* A message that inflates past max_out: the twin stops (lws makes no more
 * calls once the connection closes 1009) instead of inflating it all. */
static void test_deflate__a_bomb_stops_the_twin(void **state)
{
    static unsigned char zeros[1 << 20], wire[8192];
    unsigned char *window = wsr__inflate_twin_window();
    wsr__inflate_twin_t t;
    z_stream tx;
    size_t n;

    (void)state;
    memset(&tx, 0, sizeof(tx));
    assert_int_equal(deflateInit2(&tx, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    n = compress_next(&tx, zeros, sizeof(zeros), wire, sizeof(wire));
    deflateEnd(&tx);
    assert_int_equal(wsr__inflate_twin_start(&t, window, 15), 0);
    assert_false(wsr__inflate_twin_step(&t, wire, n, true, true, LWS_PMD_CHUNK, 64 * 1024));
    assert_false(t.live);
    /* It stopped one chunk past max_out, not at the 1 MiB the message holds. */
    assert_true(t.s.total_out <= 64 * 1024 + 2 * LWS_PMD_CHUNK);
    wsr__inflate_twin_end(&t);
    /* Anything but lws's 15-bit window is refused. */
    assert_int_equal(wsr__inflate_twin_start(&t, window, 12), -1);
    assert_false(t.live);
    wsr__free(window);
}

/* A stream that is not deflate: the twin ends, as lws fails on it. */
static void test_deflate__bad_input_ends_the_twin(void **state)
{
    const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    unsigned char *window = wsr__inflate_twin_window();
    wsr__inflate_twin_t t;
    z_stream rx;

    (void)state;
    assert_int_equal(wsr__inflate_twin_start(&t, window, 15), 0);
    assert_false(
        wsr__inflate_twin_step(&t, junk, sizeof(junk), true, true, LWS_PMD_CHUNK, SIZE_MAX));
    assert_false(t.live);
    memset(&rx, 0, sizeof(rx));
    assert_int_equal(inflateInit2(&rx, -15), Z_OK);
    assert_false(wsr__inflate_twin_matches(&t, &rx));
    inflateEnd(&rx);
    wsr__inflate_twin_end(&t);
    wsr__free(window);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deflate__runs_that_abort_lws_are_predicted),
        cmocka_unit_test(test_deflate__twins_follow_lws_message_after_message),
        cmocka_unit_test(test_deflate__a_chunk_filled_exactly_is_safe),
        cmocka_unit_test(test_deflate__a_code_the_trailer_completes_is_predicted),
        cmocka_unit_test(test_deflate__a_bomb_stops_the_twin),
        cmocka_unit_test(test_deflate__bad_input_ends_the_twin),
        cmocka_unit_test(test_deflate__a_short_message_is_safe),
        cmocka_unit_test(test_deflate__incompressible_input_is_safe),
        cmocka_unit_test(test_deflate__bad_input_is_lws_own_failure),
        cmocka_unit_test(test_deflate__a_live_stream_is_left_as_it_was),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
