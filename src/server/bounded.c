/* SPDX-License-Identifier: MIT */
/* Answers bounded by max_outbound (see bounded_int.h). */
#include "server/bounded_int.h"

#include "core/internal.h"
#include "core/request_int.h"

int wsr__encode_bounded(wsr__buf_t *out, const wsr_response_t *res, const wsr__reply_to_t *to,
                        wsr__buf_t *scratch, size_t max)
{
    size_t head = out->len;
    int rc = wsr__codec_encode_answer(out, res, to, scratch);
    size_t n = out->len - head;
    wsr_response_t too_big;
    wsr__reply_to_t error_to = *to;

    if (rc != 0 || n <= max)
        return rc;
    out->len = head;
    wsr__response_init(&too_big);
    rc = wsr_response_error(&too_big, 500,
                            "the reply is %zu bytes, more than max_outbound (%zu bytes) lets "
                            "the server queue for one connection",
                            n, max);
    error_to.head = false;
    if (rc == 0)
        rc = wsr__codec_encode_answer(out, &too_big, &error_to, scratch);
    wsr__response_dispose(&too_big);
    return rc;
}
