/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: base64 (src/core/base64.c) in both alphabets. The first byte
 * chooses: bit 0 the alphabet (0 standard, 1 base64url: '0' and '1' in the
 * seeds), bits 1-3 how many bytes the output buffer already holds (the
 * decoder appends, and must leave them alone); the rest is the text.
 *
 * Checked for every input:
 * - decoding returns 0 or WSR_EPARSE, and on refusal leaves the buffer as
 *   it was; what decodes re-encodes to the input exactly (one spelling per
 *   byte string: the canonical input), except that standard input may leave
 *   out its '=' padding;
 * - into a buffer with a limit, the same result or WSR_EOVERFLOW, again
 *   leaving the buffer as it was;
 * - the text taken as bytes encodes to the length the alphabet says, with
 *   characters of the alphabet only, and decodes back to the same bytes.
 */
#include "fuzz.h"

#include <string.h>

#include "core/base64_int.h"

static const char prefix[] = "PREFIX!";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* A buffer with a limit (0: none) holding the first `pre` bytes of prefix. */
static void start(wsr__buf_t *b, size_t limit, size_t pre)
{
    wsr__buf_init(b, 0, limit);
    FUZZ_CHECK(wsr__buf_append(b, prefix, pre) == 0, "cannot start a buffer");
}

/* The bytes at `off` of b, never NULL + 0 (undefined, and clang's UBSan
 * says so) while the buffer has not allocated. */
static const unsigned char *at(const wsr__buf_t *b, size_t off)
{
    return b->data ? b->data + off : (const unsigned char *)"";
}

/* memcmp with n == 0 may still not be given NULL (an empty buffer's data). */
static bool same(const void *a, const void *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static void check_unchanged(const wsr__buf_t *b, size_t pre, const char *what)
{
    FUZZ_CHECK(b->len == pre && same(b->data, prefix, pre), "%s changed the buffer", what);
}

static bool in_alphabet(unsigned char c, wsr__base64_alphabet_t abc)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return abc == WSR__BASE64_STD ? c == '+' || c == '/' : c == '-' || c == '_';
}

static void check_decode(const unsigned char *in, size_t n, wsr__base64_alphabet_t abc, size_t pre)
{
    wsr__buf_t out, enc, lim;
    size_t strip = n, dlen;
    char shown[200];
    int rc, rc2;

    start(&out, 0, pre);
    rc = wsr__base64_decode_as(&out, in, n, abc);
    FUZZ_CHECK(rc == 0 || rc == WSR_EPARSE, "decode returned %d", rc);
    if (rc != 0)
        check_unchanged(&out, pre, "a refused decode");
    FUZZ_CHECK(rc != 0 || same(out.data, prefix, pre), "decoding overwrote the buffer");
    dlen = rc == 0 ? out.len - pre : 0;

    /* The same into a buffer too small for some inputs. */
    start(&lim, pre + n / 2, pre);
    rc2 = wsr__base64_decode_as(&lim, in, n, abc);
    if (rc2 == WSR_EOVERFLOW) {
        /* Room is reserved before the characters are read, so text that is
         * refused anyway may overflow first. */
        FUZZ_CHECK(rc != 0 || dlen > n / 2, "overflow of %zu bytes into room for %zu", dlen, n / 2);
        check_unchanged(&lim, pre, "an overflowing decode");
    } else {
        FUZZ_CHECK(rc2 == rc, "decode returned %d, with a limit %d", rc, rc2);
        FUZZ_CHECK(rc != 0 || (lim.len == out.len && same(lim.data, out.data, out.len)),
                   "a limit changed what was decoded");
        if (rc2 != 0)
            check_unchanged(&lim, pre, "a refused decode");
    }
    wsr__buf_dispose(&lim);

    if (rc == 0) {
        start(&enc, 0, 0);
        FUZZ_CHECK(wsr__base64_encode_as(&enc, at(&out, pre), dlen, abc) == 0, "encode failed");
        /* Standard input may come without its padding: compare without it. */
        while (abc == WSR__BASE64_STD && strip > 0 && in[strip - 1] == '=')
            strip--;
        if (abc == WSR__BASE64_STD && strip != n) {
            FUZZ_CHECK(enc.len == n && same(enc.data, in, n),
                       "%s decodes but is not canonical (%s)",
                       fuzz_repr(in, n, shown, sizeof(shown)), "padded");
        } else {
            size_t elen = enc.len;

            while (abc == WSR__BASE64_STD && elen > 0 && enc.data[elen - 1] == '=')
                elen--;
            FUZZ_CHECK(elen == n && same(enc.data, in, n), "%s decodes but is not canonical (%s)",
                       fuzz_repr(in, n, shown, sizeof(shown)), "unpadded");
        }
        wsr__buf_dispose(&enc);
    }
    wsr__buf_dispose(&out);
}

static void check_encode(const unsigned char *in, size_t n, wsr__base64_alphabet_t abc, size_t pre)
{
    wsr__buf_t enc, dec;
    size_t want =
        abc == WSR__BASE64_STD ? wsr__base64_encoded_len(n) : n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);

    start(&enc, 0, pre);
    FUZZ_CHECK(wsr__base64_encode_as(&enc, in, n, abc) == 0, "encode failed");
    FUZZ_CHECK(enc.len - pre == want, "%zu bytes encode to %zu characters, not %zu", n,
               enc.len - pre, want);
    FUZZ_CHECK(same(enc.data, prefix, pre), "encoding overwrote the buffer");
    for (size_t i = pre; i < enc.len; i++)
        FUZZ_CHECK(in_alphabet(enc.data[i], abc) ||
                       (abc == WSR__BASE64_STD && enc.data[i] == '=' && i + 2 >= enc.len),
                   "encoded byte 0x%02x at %zu", enc.data[i], i - pre);
    start(&dec, 0, 0);
    FUZZ_CHECK(wsr__base64_decode_as(&dec, at(&enc, pre), enc.len - pre, abc) == 0,
               "an encoding does not decode");
    FUZZ_CHECK(dec.len == n && same(dec.data, in, n), "an encoding decodes to other bytes");
    wsr__buf_dispose(&dec);
    wsr__buf_dispose(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wsr__base64_alphabet_t abc;
    size_t pre;

    if (size == 0)
        return 0;
    abc = (data[0] & 1) ? WSR__BASE64_URL : WSR__BASE64_STD;
    pre = (size_t)(data[0] >> 1 & 7);
    check_decode(data + 1, size - 1, abc, pre);
    check_encode(data + 1, size - 1, abc, pre);
    return 0;
}
