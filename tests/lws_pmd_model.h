/* SPDX-License-Identifier: MIT */
/*
 * libwebsockets 4.1.6's inflate calls for a compressed message, transcribed
 * on their own from lib/roles/ws/ext/extension-permessage-deflate.c
 * (PAYLOAD_RX), for tests/test_deflate.c and tests/fuzz/fuzz_deflate.c to
 * hold the guard's prediction (src/core/deflate.c) against.
 */
#ifndef WSR_TESTS_LWS_PMD_MODEL_H
#define WSR_TESTS_LWS_PMD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#define LWS_PMD_CHUNK 1024u /* lws's output chunk (conn.c's PMD_RX_OUT) */

/*
 * lws 4.1.6's PAYLOAD_RX for one input chunk of a compressed message, call
 * after call as extension-permessage-deflate.c makes them (transcribed
 * here on its own): the input taken, an output chunk a call, the trailer
 * put back at the end of the message (alone when no input is left, or
 * into the chunk's room and 5 bytes more), then its assert. `*trailer`:
 * pmd_trailer_application. Returns 1 when lws would abort, -1 on zlib's
 * failure, -2 when the stream ended (a final block) with input left, which
 * lws 4.1.6 would come back to for ever (wsrouterd closes 1007), 0
 * otherwise.
 */
static inline int lws_pmd_model_chunk(z_stream *rx, const unsigned char *in, size_t len, bool last,
                                      bool *trailer)
{
    unsigned char o[LWS_PMD_CHUNK + 5];
    const unsigned char trail[4] = {0, 0, 0xff, 0xff};
    int zrc;

    if (!*trailer)
        return 0;
    if (rx->avail_in == 0 && len != 0) {
        rx->next_in = (Bytef *)(uintptr_t)in;
        rx->avail_in = (uInt)len;
    }
    for (;;) {
        bool was_fin = false;

        rx->next_out = o;
        rx->avail_out = LWS_PMD_CHUNK;
        if (rx->avail_in == 0 && last && *trailer) {
            was_fin = true;
            *trailer = false;
            rx->next_in = (Bytef *)(uintptr_t)trail;
            rx->avail_in = sizeof(trail);
        }
        if (rx->avail_in == 0)
            return 0;
        zrc = inflate(rx, was_fin ? Z_SYNC_FLUSH : Z_NO_FLUSH);
        if (zrc != Z_OK && zrc != Z_BUF_ERROR && zrc != Z_STREAM_END)
            return -1;
        if (zrc == Z_STREAM_END && rx->avail_in != 0 && !was_fin)
            return -2;
        if (rx->avail_in == 0 && last && !was_fin && *trailer) {
            rx->avail_out += 5;
            was_fin = true;
            *trailer = false;
            rx->next_in = (Bytef *)(uintptr_t)trail;
            rx->avail_in = sizeof(trail);
            zrc = inflate(rx, Z_SYNC_FLUSH);
            if (zrc != Z_OK && zrc != Z_BUF_ERROR && zrc != Z_STREAM_END)
                return -1;
            if (rx->avail_out == 0)
                return 1;
        }
        if (was_fin || rx->avail_in == 0)
            return 0;
    }
}

#endif /* WSR_TESTS_LWS_PMD_MODEL_H */
