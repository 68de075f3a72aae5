/* SPDX-License-Identifier: MIT */
/*
 * The guard around libwebsockets 4.1.6's permessage-deflate inflater
 * (lib/roles/ws/ext/extension-permessage-deflate.c). It inflates the last
 * input of a frame one output chunk per call; at the call whose inflate()
 * uses the last of the input and fills its output chunk, lws puts the 00 00 ff ff trailer back and
 * inflates again into 5 more bytes, then asserts that some room is left (line 351 of 4.1.6:
 * `assert(priv->rx.avail_out)`); a message whose last input byte still had
 * 5 or more bytes to give aborts the whole server. Any client can send one
 * (a run of one letter is enough). This module predicts it, on a copy of
 * the stream, so that conn.c refuses such a message with a close instead.
 * It knows zlib only: no lws state (core: any layer may use it).
 */
#include "core/deflate_int.h"

#include <stdint.h>
#include <string.h>

#define OUT_MAX 4096
/* lws's calls for one chunk of input: a 256-byte chunk gives at most about
 * 1032 bytes per byte, so 1100 calls of 256 bytes out. */
#define CALLS_MAX 4096

const unsigned char wsr__deflate_trailer[4] = {0x00, 0x00, 0xff, 0xff};

static bool failed(int zrc)
{
    return zrc == Z_NEED_DICT || zrc == Z_STREAM_ERROR || zrc == Z_DATA_ERROR || zrc == Z_MEM_ERROR;
}

bool wsr__deflate_would_abort(z_stream *rx, int window_bits, const unsigned char *in, size_t len,
                              unsigned out_size)
{
    unsigned char out[OUT_MAX];
    bool abort_ = false;
    z_stream s;
    int zrc;

    if (out_size == 0 || out_size > OUT_MAX)
        return true;
    memset(&s, 0, sizeof(s));
    if (rx->state != Z_NULL ? inflateCopy(&s, rx) != Z_OK : inflateInit2(&s, -window_bits) != Z_OK)
        return true;
    if (s.avail_in == 0) {
        s.next_in = (Bytef *)(uintptr_t)in;
        s.avail_in = (uInt)len;
    }
    /* lws's calls, one output chunk each, until the input is used up. No
     * input at all: lws puts the trailer back first, and asserts nothing. */
    for (unsigned calls = 0; s.avail_in != 0; calls++) {
        if (calls == CALLS_MAX) {
            abort_ = true; /* more than any chunk of input can give: refused */
            break;
        }
        s.next_out = out;
        s.avail_out = out_size;
        zrc = inflate(&s, Z_NO_FLUSH);
        if (failed(zrc) || zrc == Z_STREAM_END)
            break; /* lws's own clean failure */
        if (s.avail_in != 0)
            continue; /* the output chunk filled first: lws comes back */
        if (s.avail_out == 0) {
            /* All of it used and the chunk full: the trailer, into 5 bytes. */
            s.next_in = (Bytef *)(uintptr_t)wsr__deflate_trailer;
            s.avail_in = sizeof(wsr__deflate_trailer);
            s.next_out = out;
            s.avail_out = 5;
            zrc = inflate(&s, Z_SYNC_FLUSH);
            abort_ = !failed(zrc) && s.avail_out == 0;
        }
        break;
    }
    (void)inflateEnd(&s);
    return abort_;
}
