/* SPDX-License-Identifier: MIT */
/*
 * Base64 (RFC 4648) in both its alphabets: the standard one for the message
 * codec, base64url for JSON Web Tokens, password hashes and random tokens.
 * One encoder and one strict decoder serve both. Pure.
 */
#ifndef WSR_SRC_BASE64_INT_H
#define WSR_SRC_BASE64_INT_H

#include "core/internal.h"

/* The alphabet, and with it the padding rule. */
typedef enum wsr__base64_alphabet {
    /* RFC 4648 section 4, "+/": encoded with '=' padding, decoded with or
     * without it (PROTOCOL.md). */
    WSR__BASE64_STD,
    /* RFC 4648 section 5, "-_", as JWS uses it (RFC 7515 section 2): never
     * padded, and '=' is refused like any other foreign character. */
    WSR__BASE64_URL
} wsr__base64_alphabet_t;

/* Bytes needed to encode `n` bytes in the standard alphabet, with padding. */
size_t wsr__base64_encoded_len(size_t n);

/* Appends the encoding of `in` (borrowed) to `out`. Returns 0, WSR_EOVERFLOW
 * or WSR_ENOMEM; on failure `out` is unchanged. */
WSR_NODISCARD int wsr__base64_encode_as(wsr__buf_t *out, const unsigned char *in, size_t n,
                                        wsr__base64_alphabet_t alphabet);

/*
 * Decodes `in` (borrowed) and appends the bytes to `out`. Strict: no blanks
 * or other characters outside the alphabet, padding as `alphabet` says, and
 * the unused low bits of the last character zero ("QR==" is refused, only
 * "QQ==" spells "A"), so every byte string has exactly one spelling.
 * Returns 0, WSR_EPARSE (bad character, bad length, misplaced padding or
 * stray bits), WSR_EOVERFLOW or WSR_ENOMEM; on failure `out` is unchanged.
 */
WSR_NODISCARD int wsr__base64_decode_as(wsr__buf_t *out, const unsigned char *in, size_t n,
                                        wsr__base64_alphabet_t alphabet);

/* The standard alphabet: padded encoding, padding optional when decoding. */
WSR_NODISCARD int wsr__base64_encode(wsr__buf_t *out, const unsigned char *in, size_t n);
WSR_NODISCARD int wsr__base64_decode(wsr__buf_t *out, const unsigned char *in, size_t n);

/* base64url: unpadded encoding, padding refused when decoding. */
WSR_NODISCARD int wsr__b64url_encode(wsr__buf_t *out, const unsigned char *in, size_t n);
WSR_NODISCARD int wsr__b64url_decode(wsr__buf_t *out, const char *in, size_t n);

#endif /* WSR_SRC_BASE64_INT_H */
