/* SPDX-License-Identifier: MIT */
/* Tests for src/base64.c: RFC 4648 section 10 vectors, optional padding, and
 * every way a base64 message can be malformed, in both alphabets (the
 * base64url of tokens is also tested through its users in test_jwt.c). */
#include "testutil.h"

#include <string.h>

#include "core/base64_int.h"

static const struct {
    const char *plain, *encoded;
} rfc_vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_base64__rfc4648_vectors_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
        wsr__buf_t b;

        wsr__buf_init(&b, 0, 0);
        assert_int_equal(wsr__base64_encode(&b, (const unsigned char *)rfc_vectors[i].plain,
                                            strlen(rfc_vectors[i].plain)),
                         0);
        assert_int_equal(b.len, strlen(rfc_vectors[i].encoded));
        assert_memory_equal(b.data ? (const char *)b.data : "", rfc_vectors[i].encoded, b.len);
        wsr__buf_dispose(&b);
    }
}

static void decode_ok(const char *in, const char *want)
{
    wsr__buf_t b;

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__base64_decode(&b, (const unsigned char *)in, strlen(in)), 0);
    assert_int_equal(b.len, strlen(want));
    if (b.len)
        assert_memory_equal(b.data, want, b.len);
    wsr__buf_dispose(&b);
}

static void decode_bad(const char *in)
{
    wsr__buf_t b;

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__base64_decode(&b, (const unsigned char *)in, strlen(in)), WSR_EPARSE);
    wsr__buf_dispose(&b);
}

static void test_base64__rfc4648_vectors_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++)
        decode_ok(rfc_vectors[i].encoded, rfc_vectors[i].plain);
}

static void test_base64__padding_is_optional(void **state)
{
    (void)state;
    decode_ok("Zg", "f");
    decode_ok("Zm8", "fo");
    decode_ok("Zm9vYg", "foob");
    decode_ok("Zm9vYmE", "fooba");
}

static void test_base64__malformed_input_is_refused(void **state)
{
    (void)state;
    decode_bad("Z");            /* one character cannot encode a byte */
    decode_bad("Zm9vY");        /* 4n+1 characters */
    decode_bad("Zg=");          /* padding without a multiple of four */
    decode_bad("Zg===");        /* three padding characters */
    decode_bad("Z===");         /* too much padding */
    decode_bad("Zm=v");         /* padding in the middle */
    decode_bad("Zm9v YmFy");    /* a blank inside */
    decode_bad("Zm9v\nYmFy");   /* a line break inside */
    decode_bad("Zm9v-_");       /* the URL-safe alphabet is not accepted */
    decode_bad("Zm9v\xc3\xa9"); /* non-ASCII */
}

/* Decodes `in` in `alphabet` into a buffer already holding "pre", and checks
 * the outcome: `want` bytes appended, or WSR_EPARSE with "pre" untouched. */
static void expect_decoded(wsr__base64_alphabet_t alphabet, const char *in, const char *want)
{
    wsr__buf_t b;
    int rc;

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__buf_puts(&b, "pre"), 0);
    rc = wsr__base64_decode_as(&b, (const unsigned char *)in, strlen(in), alphabet);
    if (want == NULL && rc != WSR_EPARSE)
        fail_msg("%s \"%s\" decoded (rc %d)", alphabet == WSR__BASE64_URL ? "url" : "std", in, rc);
    if (want != NULL && rc != 0)
        fail_msg("%s \"%s\" refused (rc %d)", alphabet == WSR__BASE64_URL ? "url" : "std", in, rc);
    if (want == NULL)
        want = "";
    assert_int_equal(b.len, 3 + strlen(want));
    assert_memory_equal(b.data, "pre", 3);
    assert_memory_equal(b.data + 3, want, strlen(want));
    wsr__buf_dispose(&b);
}

static void test_base64__spare_bits_must_be_zero(void **state)
{
    (void)state;
    /* One byte leaves four spare bits in the second character, two bytes
     * leave two in the third: only one spelling of each byte string. */
    expect_decoded(WSR__BASE64_STD, "QQ==", "A");
    expect_decoded(WSR__BASE64_STD, "QQ", "A");
    expect_decoded(WSR__BASE64_STD, "QR==", NULL);
    expect_decoded(WSR__BASE64_STD, "QR", NULL);
    expect_decoded(WSR__BASE64_STD, "Q/==", NULL);
    expect_decoded(WSR__BASE64_STD, "QUI=", "AB");
    expect_decoded(WSR__BASE64_STD, "QUJ=", NULL);
    expect_decoded(WSR__BASE64_STD, "QUJ", NULL);
    expect_decoded(WSR__BASE64_STD, "Zm9vQR==", NULL);
    expect_decoded(WSR__BASE64_URL, "QQ", "A");
    expect_decoded(WSR__BASE64_URL, "QR", NULL);
    expect_decoded(WSR__BASE64_URL, "Q_", NULL);
    expect_decoded(WSR__BASE64_URL, "QUI", "AB");
    expect_decoded(WSR__BASE64_URL, "QUJ", NULL);
    expect_decoded(WSR__BASE64_URL, "Zm9vQR", NULL);
}

static void test_base64__padding_rule_follows_the_alphabet(void **state)
{
    (void)state;
    /* Standard: padding optional, but whole when present. */
    expect_decoded(WSR__BASE64_STD, "QQ=", NULL);
    expect_decoded(WSR__BASE64_STD, "QQ===", NULL);
    expect_decoded(WSR__BASE64_STD, "QUI==", NULL);
    expect_decoded(WSR__BASE64_STD, "=", NULL);
    expect_decoded(WSR__BASE64_STD, "==", NULL);
    expect_decoded(WSR__BASE64_STD, "====", NULL);
    expect_decoded(WSR__BASE64_STD, "QQ==QQ==", NULL);
    expect_decoded(WSR__BASE64_STD, "", "");
    /* base64url: never padded (RFC 7515 section 2). */
    expect_decoded(WSR__BASE64_URL, "QQ==", NULL);
    expect_decoded(WSR__BASE64_URL, "QQ=", NULL);
    expect_decoded(WSR__BASE64_URL, "QUI=", NULL);
    expect_decoded(WSR__BASE64_URL, "=", NULL);
    expect_decoded(WSR__BASE64_URL, "", "");
}

static void test_base64__each_alphabet_refuses_the_other(void **state)
{
    (void)state;
    expect_decoded(WSR__BASE64_STD, "-_8=", NULL);
    expect_decoded(WSR__BASE64_STD, "+/8=", "\xfb\xff");
    expect_decoded(WSR__BASE64_URL, "+/8", NULL);
    expect_decoded(WSR__BASE64_URL, "-_8", "\xfb\xff");
    /* A refusal late in the input leaves what the buffer held. */
    expect_decoded(WSR__BASE64_STD, "Zm9vYmFy Zm9", NULL);
    expect_decoded(WSR__BASE64_URL, "Zm9vYmFyZm9!", NULL);
}

static void test_base64__url_alphabet_encodes_without_padding(void **state)
{
    static const struct {
        const char *plain, *std, *url;
    } v[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"\xfb\xff", "+/8=", "-_8"},
        {"\xff\xff\xfe", "///+", "___-"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const unsigned char *plain = (const unsigned char *)v[i].plain;
        wsr__buf_t s, u;

        wsr__buf_init(&s, 0, 0);
        wsr__buf_init(&u, 0, 0);
        assert_int_equal(wsr__base64_encode_as(&s, plain, strlen(v[i].plain), WSR__BASE64_STD), 0);
        assert_int_equal(wsr__base64_encode_as(&u, plain, strlen(v[i].plain), WSR__BASE64_URL), 0);
        assert_int_equal(s.len, strlen(v[i].std));
        assert_int_equal(u.len, strlen(v[i].url));
        assert_memory_equal(s.data ? (const char *)s.data : "", v[i].std, s.len);
        assert_memory_equal(u.data ? (const char *)u.data : "", v[i].url, u.len);
        wsr__buf_dispose(&s);
        wsr__buf_dispose(&u);
    }
}

static void test_base64__binary_round_trip(void **state)
{
    unsigned char all[256];
    wsr__buf_t enc, dec;

    (void)state;
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (size_t n = 0; n <= 256; n += 7) {
        wsr__buf_init(&enc, 0, 0);
        wsr__buf_init(&dec, 0, 0);
        assert_int_equal(wsr__base64_encode(&enc, all, n), 0);
        assert_int_equal(enc.len, wsr__base64_encoded_len(n));
        assert_int_equal(wsr__base64_decode(&dec, enc.data ? enc.data : all, enc.len), 0);
        assert_int_equal(dec.len, n);
        if (n)
            assert_memory_equal(dec.data, all, n);
        wsr__buf_dispose(&enc);
        wsr__buf_dispose(&dec);
    }
}

static void test_base64__output_limit_is_enforced(void **state)
{
    wsr__buf_t b;

    (void)state;
    wsr__buf_init(&b, 0, 3);
    assert_int_equal(wsr__base64_decode(&b, (const unsigned char *)"Zm9vYmFy", 8), WSR_EOVERFLOW);
    assert_int_equal(b.len, 0);
    wsr__buf_dispose(&b);
}

static void test_base64__allocation_failures_leave_nothing(void **state)
{
    long n;

    (void)state;
    for (n = 0;; n++) {
        wsr__buf_t b;
        int rc;

        wsr__buf_init(&b, 0, 0);
        tu_fail_at(n, false);
        rc = wsr__base64_encode(&b, (const unsigned char *)"foobar", 6);
        tu_fail_at(-1, false);
        wsr__buf_dispose(&b);
        assert_int_equal(tu_live_blocks(), 0);
        if (rc == 0)
            break;
        assert_int_equal(rc, WSR_ENOMEM);
    }
    assert_true(n >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64__rfc4648_vectors_encode),
        cmocka_unit_test(test_base64__rfc4648_vectors_decode),
        cmocka_unit_test(test_base64__padding_is_optional),
        cmocka_unit_test(test_base64__malformed_input_is_refused),
        cmocka_unit_test(test_base64__spare_bits_must_be_zero),
        cmocka_unit_test(test_base64__padding_rule_follows_the_alphabet),
        cmocka_unit_test(test_base64__each_alphabet_refuses_the_other),
        cmocka_unit_test(test_base64__url_alphabet_encodes_without_padding),
        cmocka_unit_test(test_base64__binary_round_trip),
        cmocka_unit_test(test_base64__output_limit_is_enforced),
        cmocka_unit_test(test_base64__allocation_failures_leave_nothing),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
