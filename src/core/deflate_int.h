/* SPDX-License-Identifier: MIT */
/* The guard around libwebsockets' permessage-deflate inflater (see deflate.c). */
#ifndef WSR_CORE_DEFLATE_INT_H
#define WSR_CORE_DEFLATE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <zlib.h>

/* The trailer RFC 7692 7.2.2 puts back at the end of each message. */
extern const unsigned char wsr__deflate_trailer[4];

/*
 * True when libwebsockets 4.1.6's inflater, in the state `rx` (borrowed; a
 * stream never initialised has a NULL state) and given `in` (`len` bytes,
 * used only when `rx` holds no input of its own) as the last input of a
 * message, with output chunks of `out_size` bytes, would end in its
 * assert(priv->rx.avail_out) and abort the process, in any of the calls it
 * makes until that input is used up. Runs the same inflate calls on a copy
 * of the stream; `rx` is not changed. Also true when the copy cannot be
 * made (out of memory), or `out_size` is 0 or over 4096: the caller
 * refuses the message.
 */
bool wsr__deflate_would_abort(z_stream *rx, int window_bits, const unsigned char *in, size_t len,
                              unsigned out_size);

/*
 * The twin: a second inflater kept in step with lws's, so that the
 * prediction above needs no copy of lws's stream (inflateCopy copies its
 * 32 KiB window, and that was most of a small compressed request's cost).
 * The caller shows it every input lws's inflater takes, as lws takes it
 * (wsr__inflate_twin_step), and checks after each of lws's calls that the
 * two have read and written as much (wsr__inflate_twin_matches); when they
 * have not, it ends the twin and goes back to the copy.
 *
 * Its output is thrown away, so the window it keeps is one shared by every
 * twin of a thread: what a back-reference copies does not change what
 * inflate does next (no checksum on a raw stream), only the bytes written.
 * A twin holds zlib's inflate state only, about 7 KiB.
 */
typedef struct wsr__inflate_twin {
    z_stream s;
    bool live;         /* started, in step as far as it knows */
    bool trailer_done; /* the message's trailer went in: new input starts the next */
    uLong msg_start;   /* total_out when the message began */
    /* The caller's: where lws puts a control frame's payload, which it hands
     * the extension and does not inflate (NULL: unknown, no twin). */
    const unsigned char *control_in;
} wsr__inflate_twin_t;

/* A shared window for twins (TWIN_WINDOW, zeroed), or NULL; wsr__free it
 * once every twin using it has ended. */
unsigned char *wsr__inflate_twin_window(void);
/* Starts `t` as a fresh inflater, as lws starts its own (a 15-bit raw
 * stream, the only one lws 4.1.6 uses), sharing `window`; its control_in
 * is left as it is. Returns 0, or -1 (out of memory, no window, or another
 * window size) with `t` not live. */
int wsr__inflate_twin_start(wsr__inflate_twin_t *t, unsigned char *window, int window_bits);
void wsr__inflate_twin_end(wsr__inflate_twin_t *t);
/*
 * lws's inflater takes `in` (`len` bytes; 0: the end of the final frame
 * came with no input, and lws puts the trailer back alone); `last`: it is
 * the end of the message (final frame, nothing of it left to read);
 * `first`: nothing of the message has been handed on yet (lws's
 * lws_is_first_fragment), which tells an empty message's end from the call
 * lws makes after a message's last input. Runs
 * the inflate calls lws will make for it, in output chunks of `out_size`,
 * the trailer included at the end, and returns true when lws 4.1.6 would
 * abort on one of them (as wsr__deflate_would_abort). `max_out`: once a
 * message has given more than that, lws makes no more calls (the caller
 * closes the connection and swallows the rest), and the twin stops. The
 * twin ends itself on anything it cannot follow (zlib's error, which lws
 * meets too).
 */
bool wsr__inflate_twin_step(wsr__inflate_twin_t *t, const unsigned char *in, size_t len, bool last,
                            bool first, unsigned out_size, size_t max_out);
/* True when `t` is live and has read and written exactly what lws's `rx`
 * has. */
bool wsr__inflate_twin_matches(const wsr__inflate_twin_t *t, const z_stream *rx);

#endif /* WSR_CORE_DEFLATE_INT_H */
