/* SPDX-License-Identifier: MIT */
/* Base64 (RFC 4648, standard alphabet) for the message codec. Pure. */
#ifndef WSR_SRC_BASE64_INT_H
#define WSR_SRC_BASE64_INT_H

#include "core/internal.h"

/* Bytes needed to encode `n` bytes, with padding. */
size_t wsr__base64_encoded_len(size_t n);

/* Appends the padded encoding of `in` to `out`. Returns 0, WSR_EOVERFLOW, WSR_ENOMEM. */
WSR_NODISCARD int wsr__base64_encode(wsr__buf_t *out, const unsigned char *in, size_t n);

/*
 * Decodes `in` (padding optional; no blanks or other characters inside) and
 * appends the bytes to `out`. Returns 0, WSR_EPARSE (bad character, bad
 * length or misplaced padding), WSR_EOVERFLOW or WSR_ENOMEM.
 */
WSR_NODISCARD int wsr__base64_decode(wsr__buf_t *out, const unsigned char *in, size_t n);

#endif /* WSR_SRC_BASE64_INT_H */
