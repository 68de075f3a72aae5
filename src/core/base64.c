/* SPDX-License-Identifier: MIT */
/*
 * Base64 encoding and strict decoding (RFC 4648 section 4). The decoder accepts
 * input with or without '=' padding, as PROTOCOL.md allows, and refuses every
 * character outside the alphabet so a corrupt message is never half-read.
 */
#include "core/base64_int.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t wsr__base64_encoded_len(size_t n)
{
    return (n / 3 + (n % 3 != 0)) * 4;
}

int wsr__base64_encode(wsr__buf_t *out, const unsigned char *in, size_t n)
{
    size_t i, olen;
    unsigned char *o;
    int rc;

    if (n > (SIZE_MAX / 4) * 3 - 3)
        return WSR_EOVERFLOW;
    olen = wsr__base64_encoded_len(n);
    rc = wsr__buf_reserve(out, olen);
    if (rc != 0)
        return rc;
    o = out->data + out->len;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        *o++ = (unsigned char)alphabet[v >> 18];
        *o++ = (unsigned char)alphabet[(v >> 12) & 63];
        *o++ = (unsigned char)alphabet[(v >> 6) & 63];
        *o++ = (unsigned char)alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

        *o++ = (unsigned char)alphabet[v >> 18];
        *o++ = (unsigned char)alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? (unsigned char)alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len += olen;
    return 0;
}

/* The value of a base64 character, or 255 for any other byte. */
static unsigned char sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (unsigned char)(c - 'A');
    if (c >= 'a' && c <= 'z')
        return (unsigned char)(c - 'a' + 26);
    if (c >= '0' && c <= '9')
        return (unsigned char)(c - '0' + 52);
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return 255;
}

int wsr__base64_decode(wsr__buf_t *out, const unsigned char *in, size_t n)
{
    size_t pad = 0, data_len, i, full, olen;
    unsigned char *o;
    uint32_t v = 0;
    int rc;

    /* Padding: at most two '=' and only at the very end, and with padding the
     * length must be a multiple of four. */
    while (pad < n && in[n - 1 - pad] == '=')
        pad++;
    data_len = n - pad;
    if (pad > 2 || (pad > 0 && n % 4 != 0) || data_len % 4 == 1)
        return WSR_EPARSE;
    full = data_len / 4;
    olen = full * 3 + (data_len % 4 ? data_len % 4 - 1 : 0);
    rc = wsr__buf_reserve(out, olen);
    if (rc != 0)
        return rc;
    o = out->data + out->len;
    for (i = 0; i < data_len; i++) {
        unsigned char s = sextet(in[i]);

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
    switch (data_len % 4) {
    case 2:
        *o++ = (unsigned char)(v >> 4);
        break;
    case 3:
        *o++ = (unsigned char)(v >> 10);
        *o++ = (unsigned char)(v >> 2);
        break;
    default:
        break;
    }
    out->len += olen;
    return 0;
}
