/* SPDX-License-Identifier: MIT */
/*
 * Answers bounded by max_outbound (issue 15 item 6): an answer that could
 * never fit any client's outbound queue is replaced by an error answer to
 * the same request, so that the connection stays open; the 1008 close is
 * for clients that do not read.
 */
#ifndef WSR_SERVER_BOUNDED_INT_H
#define WSR_SERVER_BOUNDED_INT_H

#include "core/codec_int.h"

/* wsr__codec_encode_answer of `res` into `out`; when the encoded answer
 * passes `max` bytes, `out` holds instead a 500 whose detail gives both
 * sizes. Returns what the encoder returned. */
int wsr__encode_bounded(wsr__buf_t *out, const wsr_response_t *res, const wsr__reply_to_t *to,
                        wsr__buf_t *scratch, size_t max);

#endif /* WSR_SERVER_BOUNDED_INT_H */
