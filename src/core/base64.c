/* SPDX-License-Identifier: MIT */
/*
 * Base64 encoding and strict decoding (RFC 4648 sections 4 and 5), for both
 * alphabets. The decoder refuses every character outside the alphabet, so a
 * corrupt message is never half-read, and non-zero bits after the last byte,
 * so a token or a message has one spelling only. Standard input may come with
 * or without '=' padding, as PROTOCOL.md allows; base64url is never padded
 * (RFC 7515 section 2).
 */
#include "core/base64_int.h"

static const char *const alphabets[] = {
    [WSR__BASE64_STD] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    [WSR__BASE64_URL] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
};

/* Characters the encoding of `n` bytes takes in `alphabet`. */
static size_t encoded_len(size_t n, wsr__base64_alphabet_t alphabet)
{
    if (alphabet == WSR__BASE64_STD)
        return (n / 3 + (n % 3 != 0)) * 4;
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t wsr__base64_encoded_len(size_t n)
{
    return encoded_len(n, WSR__BASE64_STD);
}

int wsr__base64_encode_as(wsr__buf_t *out, const unsigned char *in, size_t n,
                          wsr__base64_alphabet_t alphabet)
{
    const char *abc = alphabets[alphabet];
    bool pad = alphabet == WSR__BASE64_STD;
    size_t i, olen;
    unsigned char *o;
    int rc;

    if (n > (SIZE_MAX / 4) * 3 - 3)
        return WSR_EOVERFLOW;
    /* Nothing to write, and out->data may still be NULL: even NULL + 0 is
     * undefined behaviour. */
    if (n == 0)
        return 0;
    olen = encoded_len(n, alphabet);
    rc = wsr__buf_reserve(out, olen);
    if (rc != 0)
        return rc;
    o = out->data + out->len;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        *o++ = (unsigned char)abc[v >> 18];
        *o++ = (unsigned char)abc[(v >> 12) & 63];
        *o++ = (unsigned char)abc[(v >> 6) & 63];
        *o++ = (unsigned char)abc[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

        *o++ = (unsigned char)abc[v >> 18];
        *o++ = (unsigned char)abc[(v >> 12) & 63];
        if (i + 1 < n)
            *o++ = (unsigned char)abc[(v >> 6) & 63];
        else if (pad)
            *o++ = '=';
        if (pad)
            *o++ = '=';
    }
    out->len += olen;
    return 0;
}

/* The value of a character of `alphabet`, or 255 for any other byte. */
static unsigned char sextet(unsigned char c, wsr__base64_alphabet_t alphabet)
{
    if (c >= 'A' && c <= 'Z')
        return (unsigned char)(c - 'A');
    if (c >= 'a' && c <= 'z')
        return (unsigned char)(c - 'a' + 26);
    if (c >= '0' && c <= '9')
        return (unsigned char)(c - '0' + 52);
    if (c == (unsigned char)alphabets[alphabet][62])
        return 62;
    if (c == (unsigned char)alphabets[alphabet][63])
        return 63;
    return 255;
}

int wsr__base64_decode_as(wsr__buf_t *out, const unsigned char *in, size_t n,
                          wsr__base64_alphabet_t alphabet)
{
    size_t pad = 0, data_len, i, olen;
    unsigned char *o;
    uint32_t v = 0;
    int rc;

    /* Standard padding: at most two '=' and only at the very end, and with
     * padding the length must be a multiple of four. In base64url '=' is
     * left to the loop below, which refuses it as a foreign character. */
    while (alphabet == WSR__BASE64_STD && pad < n && in[n - 1 - pad] == '=')
        pad++;
    data_len = n - pad;
    if (pad > 2 || (pad > 0 && n % 4 != 0) || data_len % 4 == 1)
        return WSR_EPARSE;
    if (data_len == 0)
        return 0; /* out->data may be NULL: no pointer to compute */
    olen = data_len / 4 * 3 + (data_len % 4 ? data_len % 4 - 1 : 0);
    rc = wsr__buf_reserve(out, olen);
    if (rc != 0)
        return rc;
    /* Bytes are written past out->len and counted only at the end, so a
     * refusal half-way leaves `out` as it was. */
    o = out->data + out->len;
    for (i = 0; i < data_len; i++) {
        unsigned char s = sextet(in[i], alphabet);

        if (s > 63)
            return WSR_EPARSE;
        v = v << 6 | s;
        if (i % 4 == 3) {
            *o++ = (unsigned char)(v >> 16);
            *o++ = (unsigned char)(v >> 8);
            *o++ = (unsigned char)v;
            v = 0;
        }
    }
    /* The last character's bits past the last byte must be zero: one byte
     * string, one spelling. */
    switch (data_len % 4) {
    case 2:
        if (v & 0xF)
            return WSR_EPARSE;
        *o++ = (unsigned char)(v >> 4);
        break;
    case 3:
        if (v & 0x3)
            return WSR_EPARSE;
        *o++ = (unsigned char)(v >> 10);
        *o++ = (unsigned char)(v >> 2);
        break;
    default:
        break;
    }
    out->len += olen;
    return 0;
}

int wsr__base64_encode(wsr__buf_t *out, const unsigned char *in, size_t n)
{
    return wsr__base64_encode_as(out, in, n, WSR__BASE64_STD);
}

int wsr__base64_decode(wsr__buf_t *out, const unsigned char *in, size_t n)
{
    return wsr__base64_decode_as(out, in, n, WSR__BASE64_STD);
}

int wsr__b64url_encode(wsr__buf_t *out, const unsigned char *in, size_t n)
{
    return wsr__base64_encode_as(out, in, n, WSR__BASE64_URL);
}

int wsr__b64url_decode(wsr__buf_t *out, const char *in, size_t n)
{
    return wsr__base64_decode_as(out, (const unsigned char *)in, n, WSR__BASE64_URL);
}
