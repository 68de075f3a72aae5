/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the compression guard (src/core/deflate.c, as
 * src/server/conn.c's pmd_callback drives it) against libwebsockets 4.1.6's
 * inflate calls, as tests/lws_pmd_model.h transcribes them. An input is one
 * connection: its first byte picks the client's compression level (mod 10)
 * and strategy (bits 4-5), then each record is a control byte, two bytes of
 * length (big endian) and that many bytes of message, compressed by the
 * client with the context of the messages before. The control byte: bits
 * 0-1, the message cut into 1 to 4 input chunks; bit 2, one byte of the
 * compressed message flipped (at the length's low byte, modulo); bit 3,
 * the message ends its stream with a final block (Z_FINISH; the client
 * starts a new stream after it, and the server resets lws's inflater, as
 * pmd_callback does).
 *
 * Before every chunk the guard predicts, as pmd_callback does: with the
 * twin while it is live, else with a copy of lws's inflater at a message's
 * last chunk. Checked: the prediction says lws aborts exactly when the
 * model does. After each of lws's chunks that leaves it no input, a twin
 * that has not read and written what lws's inflater has is ended (the
 * guard goes back to the copy), as pmd_callback ends it; a live twin is
 * never wrong before that.
 */
#include "fuzz.h"

#include <string.h>

#include "../lws_pmd_model.h"
#include "core/deflate_int.h"
#include "core/internal.h"

#define MSG_MAX 65535

static unsigned char *window;
static unsigned char wire[MSG_MAX + MSG_MAX / 8 + 64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    window = wsr__inflate_twin_window();
    FUZZ_CHECK(window != NULL, "out of memory");
    return 0;
}

/* One input chunk of a message through the guard, then lws. Returns the
 * model's answer (lws_pmd_model_chunk). */
static int chunk(wsr__inflate_twin_t *twin, z_stream *rx, const unsigned char *in, size_t len,
                 bool last, bool first, bool *trailer)
{
    bool predicted, by_twin = twin->live;
    int lws;

    if (by_twin)
        predicted = wsr__inflate_twin_step(twin, in, len, last, first, LWS_PMD_CHUNK, SIZE_MAX);
    else
        predicted = last && wsr__deflate_would_abort(rx, 15, in, len, LWS_PMD_CHUNK);
    lws = lws_pmd_model_chunk(rx, in, len, last, trailer);
    FUZZ_CHECK(predicted == (lws == 1), "the %s said %d, lws %d", by_twin ? "twin" : "copy",
               predicted, lws);
    if (twin->live && rx->avail_in == 0 && !wsr__inflate_twin_matches(twin, rx))
        wsr__inflate_twin_end(twin);
    return lws;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE};
    wsr__inflate_twin_t twin;
    z_stream rx, tx;
    size_t at = 1;

    if (size < 1)
        return 0;
    memset(&rx, 0, sizeof(rx));
    memset(&tx, 0, sizeof(tx));
    FUZZ_CHECK(inflateInit2(&rx, -15) == Z_OK, "inflateInit2");
    FUZZ_CHECK(
        deflateInit2(&tx, data[0] % 10, Z_DEFLATED, -15, 8, strategies[(data[0] >> 4) & 3]) == Z_OK,
        "deflateInit2");
    FUZZ_CHECK(wsr__inflate_twin_start(&twin, window, 15) == 0, "the twin did not start");
    while (at + 3 <= size) {
        unsigned ctl = data[at];
        size_t n = (size_t)data[at + 1] << 8 | data[at + 2], wlen, cuts = 1 + (ctl & 3), from = 0;
        bool finish = (ctl & 8) != 0, trailer = true;
        int zrc, lws = 0;

        at += 3;
        if (n > size - at)
            n = size - at;
        tx.next_in = (Bytef *)(uintptr_t)(data + at);
        tx.avail_in = (uInt)n;
        tx.next_out = wire;
        tx.avail_out = sizeof(wire);
        zrc = deflate(&tx, finish ? Z_FINISH : Z_SYNC_FLUSH);
        /* Z_BUF_ERROR: an empty message with nothing to flush, no bytes. */
        FUZZ_CHECK(zrc == Z_OK || zrc == Z_STREAM_END || zrc == Z_BUF_ERROR, "deflate: %d", zrc);
        wlen = sizeof(wire) - tx.avail_out;
        at += n;
        if (!finish && wlen >= 4)
            wlen -= 4; /* the trailer, taken off as RFC 7692 says */
        if ((ctl & 4) && wlen > 0)
            wire[data[at - n - 1] % wlen] ^= 0x5a;
        for (size_t i = 0; i < cuts && lws == 0; i++) {
            size_t to = i + 1 == cuts ? wlen : from + (wlen - from) / (cuts - i);

            lws = chunk(&twin, &rx, wire + from, to - from, i + 1 == cuts, i == 0, &trailer);
            from = to;
        }
        /* lws's call after a message's last input, with none: nothing. */
        if (lws == 0)
            lws = chunk(&twin, &rx, NULL, 0, true, false, &trailer);
        if (lws != 0)
            break; /* aborted (refused 1011), failed, or closed 1007 */
        if (rx.avail_in != 0) {
            /* A final block ended the stream: pmd_callback's reset. */
            FUZZ_CHECK(inflateResetKeep(&rx) == Z_OK, "inflateResetKeep");
            rx.next_in = Z_NULL;
            rx.avail_in = 0;
            wsr__inflate_twin_end(&twin);
        }
        if (finish)
            FUZZ_CHECK(deflateReset(&tx) == Z_OK, "deflateReset");
    }
    wsr__inflate_twin_end(&twin);
    inflateEnd(&rx);
    deflateEnd(&tx);
    return 0;
}
