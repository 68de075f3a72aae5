/* SPDX-License-Identifier: MIT */
/* Tests for src/core/rawframe.c, rawenc.c, tcpy.c and words.c: the raw TCP
 * framings' pure parsers and encoders. Every parser is fed each frame whole
 * and one byte at a time (it must ask for more until the last byte, then
 * give the same frame), then garbage and frames over the limit. */
#include "testutil.h"

#include <string.h>

#include <msgpack.h>

#include "core/codec_int.h"
#include "core/rawframe_int.h"
#include "core/request_int.h"

#define MAX 64

/* RESP: the words of `in` (NUL-joined) and their count, checking that every
 * proper prefix asks for more. Returns what the whole input gives. */
static int resp_all(const char *in, size_t n, wsr__buf_t *words, size_t *nwords, size_t *used)
{
    char detail[WSR__RAW_DETAIL];

    for (size_t k = 0; k < n; k++) {
        int rc = wsr__resp_next((const unsigned char *)in, k, MAX, words, nwords, used, detail);

        if (rc != WSR__FRAME_MORE)
            return rc;
    }
    return wsr__resp_next((const unsigned char *)in, n, MAX, words, nwords, used, detail);
}

static void test_rawframe__detect(void **state)
{
    (void)state;
    assert_int_equal(wsr__framing_detect('{'), WSR__FRAMING_NDJSON);
    assert_int_equal(wsr__framing_detect('*'), WSR__FRAMING_RESP);
    for (unsigned b = 0; b <= 3; b++)
        assert_int_equal(wsr__framing_detect((unsigned char)b), WSR__FRAMING_TCPY);
    assert_int_equal(wsr__framing_detect('i'), WSR__FRAMING_TEXT);
    assert_int_equal(wsr__framing_detect('#'), WSR__FRAMING_TEXT);
    assert_int_equal(wsr__framing_detect(0x04), WSR__FRAMING_TEXT);
}

static void test_rawframe__lines_byte_by_byte(void **state)
{
    const char *in = "ping\r\nincrement a\n";
    size_t len = 0, used = 0, n = strlen(in);

    (void)state;
    for (size_t k = 0; k < 6; k++)
        assert_int_equal(wsr__line_next((const unsigned char *)in, k, MAX, &len, &used),
                         WSR__FRAME_MORE);
    assert_int_equal(wsr__line_next((const unsigned char *)in, n, MAX, &len, &used), WSR__FRAME_OK);
    assert_int_equal(len, 4); /* the \r is not part of it */
    assert_int_equal(used, 6);
    assert_int_equal(wsr__line_next((const unsigned char *)in + 6, n - 6, MAX, &len, &used),
                     WSR__FRAME_OK);
    assert_int_equal(len, strlen("increment a"));
}

static void test_rawframe__line_over_the_limit(void **state)
{
    unsigned char big[MAX + 10];
    size_t len, used;

    (void)state;
    memset(big, 'a', sizeof(big));
    /* No newline and more than the limit waiting: refused, not buffered on. */
    assert_int_equal(wsr__line_next(big, sizeof(big), MAX, &len, &used), WSR_EOVERFLOW);
    assert_int_equal(wsr__line_next(big, MAX, MAX, &len, &used), WSR__FRAME_MORE);
    big[MAX] = '\n'; /* exactly the limit: served */
    assert_int_equal(wsr__line_next(big, sizeof(big), MAX, &len, &used), WSR__FRAME_OK);
    assert_int_equal(len, MAX);
    big[MAX] = 'a';
    big[MAX + 1] = '\n';
    assert_int_equal(wsr__line_next(big, sizeof(big), MAX, &len, &used), WSR_EOVERFLOW);
    /* A line of the limit and its "\r" waiting for the "\n": not refused
     * before the "\n" says it fits (it did, when TCP cut there). */
    big[MAX] = '\r';
    assert_int_equal(wsr__line_next(big, MAX + 1, MAX, &len, &used), WSR__FRAME_MORE);
    big[MAX + 1] = '\n';
    assert_int_equal(wsr__line_next(big, MAX + 2, MAX, &len, &used), WSR__FRAME_OK);
    assert_int_equal(len, MAX);
    assert_int_equal(used, MAX + 2);
    /* Anything else in that place is past the limit at once. */
    big[MAX] = 'a';
    assert_int_equal(wsr__line_next(big, MAX + 1, MAX, &len, &used), WSR_EOVERFLOW);
}

static void test_rawframe__resp_array_byte_by_byte(void **state)
{
    static const char in[] = "*3\r\n$3\r\nset\r\n$1\r\na\r\n$2\r\n42\r\n*1\r\n";
    wsr__buf_t words;
    size_t nwords = 0, used = 0;

    (void)state;
    wsr__buf_init(&words, 0, MAX);
    assert_int_equal(resp_all(in, strlen(in) - 4, &words, &nwords, &used), WSR__FRAME_OK);
    assert_int_equal(nwords, 3);
    assert_int_equal(words.len, 8);
    assert_memory_equal(words.data,
                        "set\0a\0"
                        "42",
                        8);
    assert_int_equal(used, strlen(in) - 4);
    wsr__buf_dispose(&words);
}

static void test_rawframe__resp_inline_and_empty(void **state)
{
    wsr__buf_t words;
    size_t nwords = 0, used = 0;

    (void)state;
    wsr__buf_init(&words, 0, MAX);
    assert_int_equal(resp_all("PING\r\n", 6, &words, &nwords, &used), WSR__FRAME_OK);
    assert_int_equal(nwords, 1);
    assert_memory_equal(words.data, "PING", 4);
    assert_int_equal(resp_all("\r\n", 2, &words, &nwords, &used), WSR__FRAME_OK);
    assert_int_equal(nwords, 0);
    /* A bulk string may hold blanks and CRLF: its length says where it ends. */
    assert_int_equal(resp_all("*1\r\n$4\r\na\r\nb\r\n", 14, &words, &nwords, &used), WSR__FRAME_OK);
    assert_memory_equal(words.data, "a\r\nb", 4);
    wsr__buf_dispose(&words);
}

static void test_rawframe__resp_malformed(void **state)
{
    static const char *const bad[] = {
        "*2\r\n$4\r\nping\r\n$1\r\nxx\r\n", /* longer than its length */
        "*1\r\n:4\r\n",                     /* not a bulk string */
        "*0\r\n",                           /* no command */
        "*-1\r\n",                          /* null array */
        "*1\r\n$-1\r\n",                    /* null element */
        "*x\r\n",                           /* not a number */
        "*1\n$4\r\nping\r\n",               /* LF without CR */
        "*2000\r\n",                        /* too many elements */
        "*1\r\n$3\r\na\0b\r\n",             /* NUL in a word */
        "*1\r\n$2\r\n\xc3\x28\r\n",         /* invalid UTF-8 */
    };
    static const size_t lens[] = {21, 8, 4, 5, 9, 4, 13, 8, 13, 12};
    char detail[WSR__RAW_DETAIL];
    wsr__buf_t words;
    size_t nwords, used;

    (void)state;
    wsr__buf_init(&words, 0, MAX);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = wsr__resp_next((const unsigned char *)bad[i], lens[i], MAX, &words, &nwords, &used,
                                detail);

        if (rc != WSR_EPARSE)
            fail_msg("case %zu: %d, want WSR_EPARSE", i, rc);
        assert_true(detail[0] != '\0');
    }
    wsr__buf_dispose(&words);
}

static void test_rawframe__resp_oversize(void **state)
{
    char in[MAX * 3];
    char detail[WSR__RAW_DETAIL];
    wsr__buf_t words;
    size_t nwords, used;
    int n = snprintf(in, sizeof(in), "*1\r\n$%d\r\n", MAX * 2);

    (void)state;
    wsr__buf_init(&words, 0, MAX * 4);
    /* The length alone tells: refused before the bytes arrive. */
    assert_int_equal(
        wsr__resp_next((const unsigned char *)in, (size_t)n, MAX, &words, &nwords, &used, detail),
        WSR_EOVERFLOW);
    wsr__buf_dispose(&words);
}

static void test_rawframe__text_words(void **state)
{
    static const char line[] = "set  \"a key\" \"say \\\"hi\\\"\" 5";
    char detail[WSR__RAW_DETAIL];
    wsr__buf_t words;
    size_t nwords;

    (void)state;
    wsr__buf_init(&words, 0, 0);
    assert_int_equal(
        wsr__text_words((const unsigned char *)line, strlen(line), &words, &nwords, detail), 0);
    assert_int_equal(nwords, 4);
    assert_memory_equal(words.data,
                        "set\0a key\0say \"hi\"\0"
                        "5",
                        words.len);
    assert_int_equal(wsr__text_words((const unsigned char *)"a\0b", 3, &words, &nwords, detail),
                     WSR_EPARSE);
    assert_non_null(strstr(detail, "NUL"));
    assert_int_equal(wsr__text_words((const unsigned char *)"get \xff", 5, &words, &nwords, detail),
                     WSR_EPARSE);
    assert_non_null(strstr(detail, "UTF-8"));
    assert_int_equal(wsr__text_words((const unsigned char *)"get \"a", 6, &words, &nwords, detail),
                     WSR_EPARSE);
    assert_int_equal(wsr__text_words((const unsigned char *)"   ", 3, &words, &nwords, detail), 0);
    assert_int_equal(nwords, 0);
    wsr__buf_dispose(&words);
}

/* A tcpy frame of `map` (msgpack-c packs it), appended to `out`. */
static int buf_write(void *data, const char *p, size_t n)
{
    return wsr__buf_append(data, p, n) == 0 ? 0 : -1;
}

static void tcpy_frame(wsr__buf_t *out, void (*pack)(msgpack_packer *))
{
    msgpack_packer pk;
    size_t start = out->len, len;

    assert_int_equal(wsr__buf_append(out, "\0\0\0\0", 4), 0);
    msgpack_packer_init(&pk, out, buf_write);
    pack(&pk);
    len = out->len - start - 4;
    out->data[start + 2] = (unsigned char)(len >> 8);
    out->data[start + 3] = (unsigned char)len;
}

static void pack_add(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    msgpack_pack_str_with_body(pk, "cmd", 3);
    msgpack_pack_str_with_body(pk, "add", 3);
    msgpack_pack_str_with_body(pk, "x", 1);
    msgpack_pack_int(pk, 1);
    msgpack_pack_str_with_body(pk, "y", 1);
    msgpack_pack_double(pk, 2.5);
}

static void pack_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, 1);
}

static void pack_bin(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "cmd", 3);
    msgpack_pack_bin_with_body(pk, "x", 1);
}

static void pack_int_key(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    msgpack_pack_int(pk, 7);
    msgpack_pack_nil(pk);
}

static int tcpy(const wsr__buf_t *in, size_t n, wsr__buf_t *json, size_t *used, char *detail)
{
    return wsr__tcpy_next(in->data, n, MAX, 8, json, used, detail);
}

static void test_rawframe__tcpy_byte_by_byte(void **state)
{
    char detail[WSR__RAW_DETAIL];
    wsr__buf_t in, json;
    size_t used = 0;

    (void)state;
    wsr__buf_init(&in, 0, 0);
    wsr__buf_init(&json, 0, 0);
    tcpy_frame(&in, pack_add);
    for (size_t k = 0; k < in.len; k++)
        assert_int_equal(tcpy(&in, k, &json, &used, detail), WSR__FRAME_MORE);
    assert_int_equal(tcpy(&in, in.len, &json, &used, detail), WSR__FRAME_OK);
    assert_int_equal(used, in.len);
    assert_int_equal(json.len, strlen("{\"cmd\":\"add\",\"x\":1,\"y\":2.5}"));
    assert_memory_equal(json.data, "{\"cmd\":\"add\",\"x\":1,\"y\":2.5}", json.len);
    wsr__buf_dispose(&in);
    wsr__buf_dispose(&json);
}

static void test_rawframe__tcpy_malformed(void **state)
{
    void (*const packs[])(msgpack_packer *) = {pack_array, pack_bin, pack_int_key};
    char detail[WSR__RAW_DETAIL];
    wsr__buf_t in, json;
    size_t used;

    (void)state;
    wsr__buf_init(&json, 0, 0);
    for (size_t i = 0; i < sizeof(packs) / sizeof(packs[0]); i++) {
        wsr__buf_init(&in, 0, 0);
        tcpy_frame(&in, packs[i]);
        assert_int_equal(tcpy(&in, in.len, &json, &used, detail), WSR_EPARSE);
        assert_true(detail[0] != '\0');
        wsr__buf_dispose(&in);
    }
    /* Truncated: the length says 3 bytes, the map inside claims 3 pairs. */
    wsr__buf_init(&in, 0, 0);
    assert_int_equal(wsr__buf_append(&in, "\0\0\0\3\x83\xa1x", 7), 0);
    assert_int_equal(tcpy(&in, in.len, &json, &used, detail), WSR_EPARSE);
    assert_non_null(strstr(detail, "truncated"));
    /* More than one value in the frame. */
    wsr__buf_reset(&in);
    assert_int_equal(wsr__buf_append(&in, "\0\0\0\2\x80\x80", 6), 0);
    assert_int_equal(tcpy(&in, in.len, &json, &used, detail), WSR_EPARSE);
    /* A length over the limit is refused from the header alone. */
    wsr__buf_reset(&in);
    assert_int_equal(wsr__buf_append(&in, "\0\0\1\0", 4), 0);
    assert_int_equal(tcpy(&in, in.len, &json, &used, detail), WSR_EOVERFLOW);
    wsr__buf_dispose(&in);
    wsr__buf_dispose(&json);
}

/* A frame of `n` bytes of MessagePack `body`. */
static void raw_frame(wsr__buf_t *in, const char *body, size_t n)
{
    unsigned char head[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                             (unsigned char)(n >> 8), (unsigned char)n};

    wsr__buf_reset(in);
    assert_int_equal(wsr__buf_append(in, head, 4), 0);
    assert_int_equal(wsr__buf_append(in, body, n), 0);
}

static void test_rawframe__tcpy_counts_past_the_frame(void **state)
{
    /* Headers claiming more elements than the frame has bytes: msgpack-c
     * would allocate them all first (a map32 of 2^31 pairs: 256 GiB, from
     * fuzz_tcpy), so they are refused before it reads them. */
    static const struct {
        const char *body;
        size_t n;
    } cases[] = {
        {"\x81\xa3"
         "cmd"
         "\xdf\x7f\xff\xff\xff\x01",
         11},                                /* map32 */
        {"\xdd\x00\x10\x00\x00\xc0\xc0", 7}, /* array32 of 2^20 */
        {"\x81\xa1x\xdc\x01\x00\xc0", 7},    /* array16 of 256 */
        {"\x81\xa1x\xdb\xff\xff\xff\xff"
         "ab",
         10},                         /* str32 of 4 GiB */
        {"\x81\xa1x\xc7\x05\x01", 6}, /* ext8 past the end */
    };
    char detail[WSR__RAW_DETAIL];
    wsr__buf_t in, json;
    size_t used;
    long live0 = tu_live_blocks();

    (void)state;
    wsr__buf_init(&in, 0, 0);
    wsr__buf_init(&json, 0, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        raw_frame(&in, cases[i].body, cases[i].n);
        assert_int_equal(wsr__tcpy_next(in.data, in.len, MAX, 8, &json, &used, detail), WSR_EPARSE);
        assert_non_null(strstr(detail, "truncated"));
    }
    /* Counts that the bytes do cover are read. */
    raw_frame(&in, "\x81\xa1x\xdc\x00\x03\x01\x02\xc0", 9);
    assert_int_equal(wsr__tcpy_next(in.data, in.len, MAX, 8, &json, &used, detail), WSR__FRAME_OK);
    assert_memory_equal(json.data, "{\"x\":[1,2,null]}", json.len);
    /* Empty strings, a key and a value (msgpack-c may give them a NULL
     * pointer: an empty key was searched with memchr(NULL, ...)). */
    raw_frame(&in,
              "\x82\xa3"
              "cmd"
              "\xa0\xa0\xa1x",
              9);
    assert_int_equal(wsr__tcpy_next(in.data, in.len, MAX, 8, &json, &used, detail), WSR__FRAME_OK);
    assert_int_equal(json.len, strlen("{\"cmd\":\"\",\"\":\"x\"}"));
    assert_memory_equal(json.data, "{\"cmd\":\"\",\"\":\"x\"}", json.len);
    wsr__buf_dispose(&in);
    wsr__buf_dispose(&json);
    assert_int_equal(tu_live_blocks(), live0);
}

static void test_rawframe__tcpy_depth(void **state)
{
    char detail[WSR__RAW_DETAIL];
    wsr__buf_t in, json;
    size_t used;

    (void)state;
    wsr__buf_init(&in, 0, 0);
    wsr__buf_init(&json, 0, 0);
    /* Three maps inside each other, {"a":{"b":{"c":1}}}: max_depth 3 reads it... */
    raw_frame(&in,
              "\x81\xa1"
              "a"
              "\x81\xa1"
              "b"
              "\x81\xa1"
              "c"
              "\x01",
              10);
    assert_int_equal(wsr__tcpy_next(in.data, in.len, MAX, 3, &json, &used, detail), WSR__FRAME_OK);
    /* ...and 2 refuses it, as the JSON parser counts (the depth used to be
     * given back at each level, so no frame was ever too deep). */
    assert_int_equal(wsr__tcpy_next(in.data, in.len, MAX, 2, &json, &used, detail), WSR_EPARSE);
    assert_string_equal(detail, "the value nests too deeply");
    /* msgpack-c keeps at most 32 containers open (more is its "out of
     * memory", which closed the connection 1011: fuzz_tcpy): the map and 31
     * arrays are read, the map and 32 refused as too deep, whatever
     * max_depth says. */
    {
        char body[40];

        memcpy(body,
               "\x81\xa1"
               "a",
               3);
        memset(body + 3, 0x91, 32);
        body[3 + 32] = 0x01;
        raw_frame(&in, body, 3 + 32 + 1);
        assert_int_equal(wsr__tcpy_next(in.data, in.len, MAX, 64, &json, &used, detail),
                         WSR_EPARSE);
        assert_string_equal(detail, "the value nests too deeply");
        body[3 + 31] = 0x01;
        raw_frame(&in, body, 3 + 32);
        assert_int_equal(wsr__tcpy_next(in.data, in.len, MAX, 64, &json, &used, detail),
                         WSR__FRAME_OK);
    }
    /* An array inside counts as a level too. */
    raw_frame(&in,
              "\x81\xa1"
              "a"
              "\x91\x91\x01",
              6);
    assert_int_equal(wsr__tcpy_next(in.data, in.len, MAX, 3, &json, &used, detail), WSR__FRAME_OK);
    assert_int_equal(wsr__tcpy_next(in.data, in.len, MAX, 2, &json, &used, detail), WSR_EPARSE);
    wsr__buf_dispose(&in);
    wsr__buf_dispose(&json);
}

static void check_encoding(const char *json, wsr__framing_t f, const char *want)
{
    json_t *msg = json_loads(json, 0, NULL);
    wsr__buf_t out;

    assert_non_null(msg);
    wsr__buf_init(&out, 0, 0);
    assert_int_equal(wsr__raw_encode(&out, msg, f), 0);
    if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
        fail_msg("%s gave \"%.*s\", want \"%s\"", json, (int)out.len, (const char *)out.data, want);
    json_decref(msg);
    wsr__buf_dispose(&out);
}

static void test_rawframe__resp_encoding(void **state)
{
    (void)state;
    check_encoding("{\"status\":200,\"data\":\"PONG\"}", WSR__FRAMING_RESP, "+PONG\r\n");
    check_encoding("{\"status\":200,\"data\":1}", WSR__FRAMING_RESP, ":1\r\n");
    check_encoding("{\"status\":200,\"data\":null}", WSR__FRAMING_RESP, "+OK\r\n");
    check_encoding("{\"status\":200,\"data\":\"hi\"}", WSR__FRAMING_RESP, "$2\r\nhi\r\n");
    check_encoding("{\"status\":200,\"data\":{\"a\":[true]}}", WSR__FRAMING_RESP,
                   "*2\r\n$1\r\na\r\n*1\r\n:1\r\n");
    check_encoding("{\"status\":404,\"detail\":\"no\\nroute\"}", WSR__FRAMING_RESP,
                   "-ERR no route\r\n");
    check_encoding("{\"event_name\":\"publish\",\"topic\":\"t\",\"data\":5}", WSR__FRAMING_RESP,
                   ">3\r\n$7\r\npublish\r\n$1\r\nt\r\n:5\r\n");
}

static void test_rawframe__text_encoding(void **state)
{
    (void)state;
    check_encoding("{\"status\":200,\"data\":3}", WSR__FRAMING_TEXT, "3\r\n");
    check_encoding("{\"status\":200,\"data\":\"PONG\"}", WSR__FRAMING_TEXT, "+PONG\r\n");
    check_encoding("{\"status\":200,\"data\":null}", WSR__FRAMING_TEXT, "+OK\r\n");
    check_encoding("{\"status\":404,\"detail\":\"counter a not found\"}", WSR__FRAMING_TEXT,
                   "-ERR counter a not found\r\n");
    check_encoding("{\"event_name\":\"publish\",\"topic\":\"chat\",\"data\":{\"x\":1}}",
                   WSR__FRAMING_TEXT, "[publish chat] {\"x\":1}\r\n");
    check_encoding("{\"id\":1,\"progress\":50}", WSR__FRAMING_TEXT, "[progress] 50\r\n");
}

/* tcpy's encoding, read back with msgpack-c. */
static void check_tcpy(const char *json, const char *want_json)
{
    json_t *msg = json_loads(json, 0, NULL), *want = json_loads(want_json, 0, NULL);
    wsr__buf_t out, back;
    char detail[WSR__RAW_DETAIL];
    size_t used;
    json_t *got;

    wsr__buf_init(&out, 0, 0);
    wsr__buf_init(&back, 0, 0);
    assert_int_equal(wsr__tcpy_encode(&out, msg), 0);
    /* The parser reads maps: the answer is one, so it round-trips. */
    assert_int_equal(wsr__tcpy_next(out.data, out.len, 1 << 20, 8, &back, &used, detail),
                     WSR__FRAME_OK);
    got = json_loadb((const char *)back.data, back.len, 0, NULL);
    assert_non_null(got);
    if (!json_equal(got, want))
        fail_msg("%s gave %.*s", json, (int)back.len, (const char *)back.data);
    json_decref(got);
    json_decref(msg);
    json_decref(want);
    wsr__buf_dispose(&out);
    wsr__buf_dispose(&back);
}

static void test_rawframe__tcpy_encoding(void **state)
{
    (void)state;
    check_tcpy("{\"status\":200,\"data\":{\"solution\":3}}", "{\"solution\":3,\"success\":true}");
    check_tcpy("{\"status\":200,\"data\":3}", "{\"success\":true,\"result\":3}");
    check_tcpy("{\"status\":404,\"detail\":\"no command named x\"}",
               "{\"error\":true,\"message\":\"no command named x\",\"status\":404}");
    check_tcpy("{\"event_name\":\"publish\",\"topic\":\"t\",\"data\":[1]}",
               "{\"push\":\"publish\",\"topic\":\"t\",\"data\":[1]}");
}

static void test_rawframe__words_make_a_request(void **state)
{
    static const unsigned char words[] = "SET\0a\0"
                                         "5";
    char detail[WSR__DETAIL_MAX];
    wsr_request_t req;

    (void)state;
    wsr__request_init(&req);
    assert_int_equal(wsr__codec_decode_words(&req, words, sizeof(words) - 1, detail), 0);
    assert_string_equal(req.cmd, "set");
    assert_true(req.args_text);
    assert_int_equal(json_array_size(req.args_pos), 2);
    assert_string_equal(json_string_value(json_array_get(req.args_pos, 1)), "5");
    wsr__request_dispose(&req);
    wsr__request_init(&req);
    assert_int_equal(wsr__codec_decode_words(&req, words, 0, detail), WSR_EPARSE);
    assert_non_null(strstr(detail, "empty"));
    wsr__request_dispose(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rawframe__detect),
        cmocka_unit_test(test_rawframe__lines_byte_by_byte),
        cmocka_unit_test(test_rawframe__line_over_the_limit),
        cmocka_unit_test(test_rawframe__resp_array_byte_by_byte),
        cmocka_unit_test(test_rawframe__resp_inline_and_empty),
        cmocka_unit_test(test_rawframe__resp_malformed),
        cmocka_unit_test(test_rawframe__resp_oversize),
        cmocka_unit_test(test_rawframe__text_words),
        cmocka_unit_test(test_rawframe__tcpy_byte_by_byte),
        cmocka_unit_test(test_rawframe__tcpy_malformed),
        cmocka_unit_test(test_rawframe__tcpy_counts_past_the_frame),
        cmocka_unit_test(test_rawframe__tcpy_depth),
        cmocka_unit_test(test_rawframe__resp_encoding),
        cmocka_unit_test(test_rawframe__text_encoding),
        cmocka_unit_test(test_rawframe__tcpy_encoding),
        cmocka_unit_test(test_rawframe__words_make_a_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
