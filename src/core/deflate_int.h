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
 * frame, with output chunks of `out_size` bytes, would end in its
 * assert(priv->rx.avail_out) and abort the process, in any of the calls it
 * makes until that input is used up. Runs the same inflate calls on a copy
 * of the stream; `rx` is not changed. Also true when the copy cannot be
 * made (out of memory), or `out_size` is 0 or over 4096: the caller
 * refuses the message.
 */
bool wsr__deflate_would_abort(z_stream *rx, int window_bits, const unsigned char *in, size_t len,
                              unsigned out_size);

#endif /* WSR_CORE_DEFLATE_INT_H */
