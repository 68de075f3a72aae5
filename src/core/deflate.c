/* SPDX-License-Identifier: MIT */
/*
 * The guard around libwebsockets 4.1.6's permessage-deflate inflater
 * (lib/roles/ws/ext/extension-permessage-deflate.c). It inflates the input
 * of a message one output chunk per call; at the call whose inflate() uses
 * the last input of the message, lws puts the 00 00 ff ff trailer back and
 * inflates it into what is left of the chunk and 5 bytes more, then asserts
 * that some room is left (line 351 of 4.1.6: `assert(priv->rx.avail_out)`):
 * a message whose end still has that much to give aborts the whole server.
 * Any client can send one: a run of one letter (the chunk full with a match
 * still pending), or a crafted message whose last code the trailer's bytes
 * complete (11 bytes are enough; tests/test_deflate.c). This module predicts
 * it, on a copy of the stream (wsr__deflate_would_abort) or on a twin kept
 * in step with it (wsr__inflate_twin_*), so that conn.c refuses such a
 * message with a close instead. It knows zlib only: no lws state (core: any
 * layer may use it).
 */
#include "core/deflate_int.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "core/internal.h"

#define OUT_MAX 4096
/* lws's calls for one chunk of input: a 256-byte chunk gives at most about
 * 1032 bytes per byte, so 1100 calls of 256 bytes out. */
#define CALLS_MAX 4096

const unsigned char wsr__deflate_trailer[4] = {0x00, 0x00, 0xff, 0xff};

static bool failed(int zrc)
{
    return zrc == Z_NEED_DICT || zrc == Z_STREAM_ERROR || zrc == Z_DATA_ERROR || zrc == Z_MEM_ERROR;
}

/* What lws_calls saw. */
typedef enum {
    CALLS_DONE,  /* the input used (and the trailer, at a message's end) */
    CALLS_ABORT, /* lws's assert(priv->rx.avail_out) fails */
    CALLS_STOP,  /* zlib failed or the stream ended: lws fails or stops there too */
    CALLS_LIMIT, /* past max_calls calls, or the output past out_stop */
} calls_t;

/*
 * lws 4.1.6's inflate calls for the input `s` holds, on `s`: one output
 * chunk of `out_size` bytes a call until the input is used up; at the end
 * of the message (`last`), the trailer put back, into the chunk's room left
 * and the 5 bytes lws adds. Room left is no proof of safety: when the last
 * code's bits are not all in (a crafted message, 11 bytes are enough), the
 * trailer's bytes complete it, and what it copies can fill the room and the
 * 5 bytes too. `out_stop`: a total_out past which no more calls are made.
 */
static calls_t lws_calls(z_stream *s, bool last, unsigned out_size, uLong out_stop,
                         unsigned max_calls)
{
    unsigned char out[OUT_MAX + 5];
    int zrc;

    for (unsigned calls = 0; s->avail_in != 0; calls++) {
        if (calls == max_calls || s->total_out > out_stop)
            return CALLS_LIMIT;
        s->next_out = out;
        s->avail_out = out_size;
        zrc = inflate(s, Z_NO_FLUSH);
        if (failed(zrc) || zrc == Z_STREAM_END)
            return CALLS_STOP;
        if (s->avail_in != 0 || !last)
            continue; /* the output chunk filled first: lws comes back */
        s->next_in = (Bytef *)(uintptr_t)wsr__deflate_trailer;
        s->avail_in = sizeof(wsr__deflate_trailer);
        s->avail_out += 5;
        zrc = inflate(s, Z_SYNC_FLUSH);
        if (failed(zrc))
            return CALLS_STOP;
        if (s->avail_out == 0)
            return CALLS_ABORT;
        return s->avail_in == 0 ? CALLS_DONE : CALLS_STOP;
    }
    return CALLS_DONE;
}

bool wsr__deflate_would_abort(z_stream *rx, int window_bits, const unsigned char *in, size_t len,
                              unsigned out_size)
{
    calls_t r;
    z_stream s;

    if (out_size == 0 || out_size > OUT_MAX)
        return true;
    memset(&s, 0, sizeof(s));
    if (rx->state != Z_NULL ? inflateCopy(&s, rx) != Z_OK : inflateInit2(&s, -window_bits) != Z_OK)
        return true;
    if (s.avail_in == 0) {
        s.next_in = (Bytef *)(uintptr_t)in;
        s.avail_in = (uInt)len;
    }
    /* No input at all: lws puts the trailer back first, and asserts
     * nothing. More calls than any chunk of input can give: refused. */
    r = lws_calls(&s, true, out_size, ULONG_MAX, CALLS_MAX);
    (void)inflateEnd(&s);
    return r == CALLS_ABORT || r == CALLS_LIMIT;
}

/* ---- the twin ---- */

/* zlib's window for a 15-bit stream: the one allocation of this size that
 * inflate makes (inflate.c's updatewindow), given the shared window. */
#define TWIN_WINDOW (1u << 15)

static voidpf twin_alloc(voidpf opaque, uInt items, uInt size)
{
    unsigned char *shared = opaque;

    if (items == TWIN_WINDOW && size == 1)
        return shared;
    return size != 0 && items > SIZE_MAX / size ? NULL : wsr__malloc((size_t)items * size);
}

static void twin_free(voidpf opaque, voidpf p)
{
    if (p != opaque)
        wsr__free(p);
}

unsigned char *wsr__inflate_twin_window(void)
{
    return wsr__calloc(1, TWIN_WINDOW);
}

int wsr__inflate_twin_start(wsr__inflate_twin_t *t, unsigned char *window, int window_bits)
{
    memset(&t->s, 0, sizeof(t->s));
    t->live = false;
    t->msg_start = 0;
    if (window == NULL || window_bits != 15)
        return -1;
    t->s.zalloc = twin_alloc;
    t->s.zfree = twin_free;
    t->s.opaque = window;
    if (inflateInit2(&t->s, -window_bits) != Z_OK)
        return -1;
    t->live = true;
    t->trailer_done = true; /* no message under way */
    return 0;
}

void wsr__inflate_twin_end(wsr__inflate_twin_t *t)
{
    if (t->live)
        (void)inflateEnd(&t->s);
    t->live = false;
}

/* lws's inflate of the trailer, into `room` bytes. Returns false on zlib's
 * failure (lws fails too). */
static bool twin_trailer(wsr__inflate_twin_t *t, unsigned char *out, unsigned room)
{
    int zrc;

    t->s.next_in = (Bytef *)(uintptr_t)wsr__deflate_trailer;
    t->s.avail_in = sizeof(wsr__deflate_trailer);
    t->s.next_out = out;
    t->s.avail_out = room;
    zrc = inflate(&t->s, Z_SYNC_FLUSH);
    t->trailer_done = true;
    return !failed(zrc);
}

bool wsr__inflate_twin_step(wsr__inflate_twin_t *t, const unsigned char *in, size_t len, bool last,
                            bool first, unsigned out_size, size_t max_out)
{
    unsigned char out[OUT_MAX];
    calls_t r;

    if (!t->live)
        return false;
    if (out_size == 0 || out_size > OUT_MAX || t->s.avail_in != 0 || len > UINT32_MAX)
        goto dead;
    if (len == 0) {
        /* lws's "trailer apply 1": no input left at the end of the final
         * frame, the trailer alone, into a whole chunk. After a message's
         * end, only a new message's first frame (an empty message) puts
         * it back; the call after the message's last input does not. */
        if (last && t->trailer_done && first) {
            t->trailer_done = false;
            t->msg_start = t->s.total_out;
        }
        if (last && !t->trailer_done && !twin_trailer(t, out, out_size))
            goto dead;
        return false;
    }
    if (t->trailer_done) {
        t->trailer_done = false; /* new input after a message's end: the next message */
        t->msg_start = t->s.total_out;
    }
    t->s.next_in = (Bytef *)(uintptr_t)in;
    t->s.avail_in = (uInt)len;
    /* lws's calls for this input, as long as lws makes them: past max_out
     * bytes of the message the caller swallows the rest uninflated. */
    r = lws_calls(&t->s, last, out_size,
                  max_out >= ULONG_MAX - t->msg_start ? ULONG_MAX : t->msg_start + max_out,
                  UINT_MAX);
    if (r == CALLS_ABORT)
        return true;
    if (r != CALLS_DONE)
        goto dead;
    t->trailer_done = last;
    t->s.next_in = Z_NULL;
    return false;
dead:
    wsr__inflate_twin_end(t);
    return false;
}

bool wsr__inflate_twin_matches(const wsr__inflate_twin_t *t, const z_stream *rx)
{
    return t->live && rx->state != Z_NULL && t->s.total_in == rx->total_in &&
           t->s.total_out == rx->total_out && t->s.avail_in == rx->avail_in;
}
