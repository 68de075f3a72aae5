/* SPDX-License-Identifier: MIT */
/*
 * Fuzz targets: the raw TCP framings (PROTOCOL.md section 8; src/core/
 * rawframe.c, tcpy.c, rawenc.c, words.c and the codec), one executable per
 * framing, built from this file with FUZZ_FRAMING set (tests/fuzz/
 * CMakeLists.txt): fuzz_ndjson, fuzz_resp, fuzz_tcpy and fuzz_text. An input
 * is one control byte, then the bytes a client sends on a connection of that
 * framing. Control bits 0-2 choose the message limit (32 << k bytes: 32 to
 * 4096), bits 3-7 a point inside each frame where the stream is cut.
 *
 * The stream is read frame after frame as src/server/raw.c reads it (a text
 * connection's first line may be retopy's '#' header) until it needs more
 * bytes or fails, and for every frame:
 * - the parser answers a frame, "more", WSR_EOVERFLOW or WSR_EPARSE (with a
 *   sentence), and a frame uses 1 to n bytes (a line ends with its '\n');
 *   "more" for a line framing means no newline came yet;
 * - what the frame used, read alone, is the same frame; any shorter prefix
 *   of it (the cut point, and all but its last byte) is "more": a frame never
 *   depends on the bytes after it, nor fails when TCP cuts it;
 * - words (RESP, text) are valid UTF-8 without NUL bytes, nwords of them;
 *   a tcpy frame is a JSON object;
 * - the request decodes to a request or an error with its sentence;
 * - the answer (200 with what the frame held, or the decoding's error) is
 *   written back in the framing and reads as one reply of it: one NDJSON or
 *   text line, a RESP value that parses back to the same words, a tcpy frame
 *   that reads back to the same map with "success" (or "error" and the
 *   sentence).
 */
#include "fuzz.h"

#include <jansson.h>
#include <string.h>

#include "core/base64_int.h"
#include "core/codec_int.h"
#include "core/rawframe_int.h"

#ifndef FUZZ_FRAMING
#error "FUZZ_FRAMING must name the framing (tests/fuzz/CMakeLists.txt)"
#endif

/* The JSON nesting limit of the server's default settings. */
#define DEPTH 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* A frame as the parser gave it. */
typedef struct frame {
    int rc;
    size_t used, line_len, nwords;
    wsr__buf_t words; /* RESP and text words, or a tcpy frame's JSON */
    char detail[WSR__RAW_DETAIL];
} frame_t;

static void frame_init(frame_t *f)
{
    memset(f, 0, sizeof(*f));
    wsr__buf_init(&f->words, 0, 0);
}

/* Reads the frame at the start of `p` in the framing (for the line framings,
 * the line; its words are split by the caller). */
static void parse(const unsigned char *p, size_t n, size_t max, frame_t *f)
{
    f->detail[0] = '\0';
    f->nwords = 0;
    f->line_len = 0;
    wsr__buf_reset(&f->words);
    switch (FUZZ_FRAMING) {
    case WSR__FRAMING_RESP:
        f->rc = wsr__resp_next(p, n, max, &f->words, &f->nwords, &f->used, f->detail);
        break;
    case WSR__FRAMING_TCPY:
        f->rc = wsr__tcpy_next(p, n, max, DEPTH, &f->words, &f->used, f->detail);
        break;
    default:
        f->rc = wsr__line_next(p, n, max, &f->line_len, &f->used);
        break;
    }
}

static bool same_bytes(const wsr__buf_t *a, const wsr__buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void check_words(const wsr__buf_t *w, size_t nwords)
{
    size_t nuls = 0, start = 0;

    /* No bytes: no words, or one empty word (a line of "" alone). */
    FUZZ_CHECK(w->len > 0 ? nwords > 0 : nwords <= 1, "%zu words in %zu bytes", nwords, w->len);
    for (size_t i = 0; i <= w->len && w->len > 0; i++) {
        if (i < w->len && w->data[i] != '\0')
            continue;
        nuls += i < w->len;
        /* An empty word (RESP's $0) is valid; utf8_valid wants bytes. */
        FUZZ_CHECK(i == start || wsr__utf8_valid(w->data + start, i - start),
                   "word %zu is not valid UTF-8", nuls);
        start = i + 1;
    }
    FUZZ_CHECK(nwords == 0 || nuls + 1 == nwords, "%zu words joined by %zu NUL bytes", nwords,
               nuls);
}

/* The frame `f` found at `p`: read again alone, and cut. */
static void check_frame(const unsigned char *p, size_t n, size_t max, const frame_t *f,
                        unsigned cut)
{
    frame_t again;
    size_t k = f->used * cut / 32;
    char shown[120];

    FUZZ_CHECK(f->used >= 1 && f->used <= n, "a frame of %zu bytes in %zu", f->used, n);
    if (FUZZ_FRAMING != WSR__FRAMING_TCPY && FUZZ_FRAMING != WSR__FRAMING_RESP)
        FUZZ_CHECK(p[f->used - 1] == '\n' && f->line_len < f->used &&
                       memchr(p, '\n', f->line_len) == NULL,
                   "a line of %zu bytes, %zu used: %s", f->line_len, f->used,
                   fuzz_repr(p, f->used, shown, sizeof(shown)));
    frame_init(&again);
    parse(p, f->used, max, &again);
    FUZZ_CHECK(again.rc == WSR__FRAME_OK && again.used == f->used &&
                   again.line_len == f->line_len && again.nwords == f->nwords &&
                   same_bytes(&again.words, &f->words),
               "a frame read alone is another (%d, %zu bytes): %s", again.rc, again.used,
               fuzz_repr(p, f->used, shown, sizeof(shown)));
    parse(p, f->used - 1, max, &again);
    FUZZ_CHECK(again.rc == WSR__FRAME_MORE, "a frame less its last byte is %d: %s", again.rc,
               fuzz_repr(p, f->used, shown, sizeof(shown)));
    if (k > 0 && k < f->used) {
        parse(p, k, max, &again);
        FUZZ_CHECK(again.rc == WSR__FRAME_MORE, "%zu bytes of a frame of %zu are %d: %s", k,
                   f->used, again.rc, fuzz_repr(p, f->used, shown, sizeof(shown)));
    }
    wsr__buf_dispose(&again.words);
}

/* The words (NUL-joined) as a JSON array of strings, or NULL. */
static json_t *words_array(const wsr__buf_t *w, size_t nwords)
{
    json_t *a = json_array();
    size_t at = 0;

    for (size_t i = 0; a != NULL && i < nwords; i++) {
        const char *s = (const char *)w->data + at;
        size_t len = strnlen(s, w->len - at);

        if (json_array_append_new(a, json_stringn(s, len)) != 0) {
            json_decref(a);
            a = NULL;
        }
        at += len + 1;
    }
    return a;
}

static bool one_line(const wsr__buf_t *out)
{
    const unsigned char *nl = out->len ? memchr(out->data, '\n', out->len) : NULL;

    return nl != NULL && (size_t)(nl - out->data) == out->len - 1;
}

/* Whether a word is one RESP writes as a simple string. */
static bool simple(const json_t *words)
{
    size_t i;
    json_t *w;

    json_array_foreach(words, i, w)
    {
        if (strcmp(json_string_value(w), "OK") == 0 || strcmp(json_string_value(w), "PONG") == 0)
            return true;
    }
    return false;
}

/* RESP and text lines: the answer in the framing, and read back. */
static void check_raw_answer(const frame_t *f, const char *detail)
{
    json_t *data = detail ? NULL : words_array(&f->words, f->nwords);
    json_t *msg = detail ? json_pack("{s:i, s:s}", "status", 400, "detail", detail)
                         : json_pack("{s:i, s:O}", "status", 200, "data", data);
    wsr__buf_t out;
    frame_t back;
    char shown[160];

    FUZZ_CHECK(msg != NULL, "out of memory");
    wsr__buf_init(&out, 0, 0);
    FUZZ_CHECK(wsr__raw_encode(&out, msg, FUZZ_FRAMING) == 0, "the answer was not written");
    FUZZ_CHECK(out.len >= 3 && out.data[out.len - 2] == '\r' && out.data[out.len - 1] == '\n',
               "an answer that does not end with CRLF: %s",
               fuzz_repr(out.data, out.len, shown, sizeof(shown)));
    if (FUZZ_FRAMING == WSR__FRAMING_TEXT || detail != NULL) {
        FUZZ_CHECK(one_line(&out), "an answer of more than one line: %s",
                   fuzz_repr(out.data, out.len, shown, sizeof(shown)));
    } else if (f->nwords > 0 && data != NULL && !simple(data)) {
        /* An array of bulk strings is a RESP command: the same words. */
        frame_init(&back);
        back.rc = wsr__resp_next(out.data, out.len, out.len, &back.words, &back.nwords, &back.used,
                                 back.detail);
        FUZZ_CHECK(back.rc == WSR__FRAME_OK && back.used == out.len && back.nwords == f->nwords &&
                       same_bytes(&back.words, &f->words),
                   "the words written in RESP read back as others (%d: %s): %s", back.rc,
                   back.detail, fuzz_repr(out.data, out.len, shown, sizeof(shown)));
        wsr__buf_dispose(&back.words);
    }
    wsr__buf_dispose(&out);
    json_decref(msg);
    json_decref(data);
}

/* tcpy: the answer as a frame, read back to the same map. */
static void check_tcpy_answer(const frame_t *f, const char *detail)
{
    json_t *obj =
        detail ? NULL : json_loadb((const char *)f->words.data, f->words.len, JSON_ALLOW_NUL, NULL);
    json_t *msg, *want, *got;
    wsr__buf_t out;
    frame_t back;
    char shown[160];

    FUZZ_CHECK(detail != NULL || json_is_object(obj), "a tcpy frame that is not a JSON object");
    msg = detail ? json_pack("{s:i, s:s}", "status", 400, "detail", detail)
                 : json_pack("{s:i, s:O}", "status", 200, "data", obj);
    want = detail ? json_pack("{s:b, s:s, s:i}", "error", 1, "message", detail, "status", 400)
                  : json_deep_copy(obj);
    FUZZ_CHECK(msg != NULL && want != NULL, "out of memory");
    if (detail == NULL)
        FUZZ_CHECK(json_object_set_new(want, "success", json_true()) == 0, "out of memory");
    wsr__buf_init(&out, 0, 0);
    FUZZ_CHECK(wsr__tcpy_encode(&out, msg) == 0, "the answer was not written");
    frame_init(&back);
    back.rc =
        wsr__tcpy_next(out.data, out.len, out.len, DEPTH + 1, &back.words, &back.used, back.detail);
    FUZZ_CHECK(back.rc == WSR__FRAME_OK && back.used == out.len,
               "the answer does not read as one tcpy frame (%d: %s)", back.rc, back.detail);
    got = json_loadb((const char *)back.words.data, back.words.len, JSON_ALLOW_NUL, NULL);
    FUZZ_CHECK(json_equal(got, want), "the answer reads back as another map: %s",
               fuzz_repr(back.words.data, back.words.len, shown, sizeof(shown)));
    json_decref(got);
    json_decref(want);
    json_decref(msg);
    json_decref(obj);
    wsr__buf_dispose(&back.words);
    wsr__buf_dispose(&out);
}

/* NDJSON: the line decoded, and its answer one line of JSON. */
static void check_ndjson(const unsigned char *line, size_t len)
{
    char detail[WSR__DETAIL_MAX];
    wsr_request_t req;
    wsr_response_t res;
    wsr__reply_to_t to;
    wsr__buf_t out, scratch, decoded;
    json_t *back;
    int rc;

    wsr__request_init(&req);
    detail[0] = '\0';
    rc = wsr__codec_decode(&req, line, len, false, DEPTH, detail);
    FUZZ_CHECK(rc == 0 || rc == WSR_EPARSE || rc == WSR__DECODE_BATCH || rc == WSR__DECODE_INPUT,
               "decoding a line returned %d", rc);
    FUZZ_CHECK(rc != WSR_EPARSE || detail[0] != '\0', "a refused line without a sentence");
    wsr__response_init(&res);
    if (rc == WSR_EPARSE)
        FUZZ_CHECK(wsr__response_error_str(&res, 400, detail) == 0, "out of memory");
    else
        FUZZ_CHECK(wsr_response_set_data_take(&res, wsr__request_args_in(&req)
                                                        ? json_incref(wsr__request_args_in(&req))
                                                        : json_null()) == 0,
                   "out of memory");
    to = wsr__reply_to(&req);
    wsr__buf_init(&out, 0, 0);
    wsr__buf_init(&scratch, 0, 0);
    FUZZ_CHECK(wsr__codec_encode_answer(&out, &res, &to, &scratch) == 0,
               "the answer was not written");
    FUZZ_CHECK(out.len > 0 && memchr(out.data, '\n', out.len) == NULL,
               "an NDJSON answer holds a newline");
    if (req.format != WSR_FORMAT_JSON) {
        /* Answered in base64, as it was asked. */
        wsr__buf_init(&decoded, 0, 0);
        FUZZ_CHECK(wsr__base64_decode_as(&decoded, out.data, out.len, WSR__BASE64_STD) == 0,
                   "a base64 answer that does not decode");
        wsr__buf_dispose(&out);
        out = decoded;
    }
    /* "\\u0000" is JSON (RFC 8259): jansson reads it only when asked. */
    back = json_loadb((const char *)out.data, out.len, JSON_ALLOW_NUL, NULL);
    FUZZ_CHECK(json_is_object(back) || json_is_array(back), "an NDJSON answer that is not JSON");
    json_decref(back);
    wsr__buf_dispose(&scratch);
    wsr__buf_dispose(&out);
    wsr__response_dispose(&res);
    wsr__request_dispose(&req);
}

/* RESP and text: the words decoded to a request, then answered. */
static void check_words_request(const frame_t *f)
{
    char detail[WSR__DETAIL_MAX];
    wsr_request_t req;
    int rc;

    check_words(&f->words, f->nwords);
    if (f->nwords == 0)
        return; /* an empty command is skipped, as raw.c does */
    wsr__request_init(&req);
    detail[0] = '\0';
    rc = wsr__codec_decode_words(&req, f->words.data, f->words.len, detail);
    FUZZ_CHECK(rc == 0 || rc == WSR_EPARSE, "decoding words returned %d", rc);
    FUZZ_CHECK(rc == 0 || detail[0] != '\0', "refused words without a sentence");
    check_raw_answer(f, rc == 0 ? NULL : detail);
    wsr__request_dispose(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *p = data + 1;
    size_t n, max, lines = 0;
    unsigned cut;
    frame_t f;

    if (size == 0)
        return 0;
    max = (size_t)32 << (data[0] & 7);
    cut = data[0] >> 3;
    n = size - 1;
    frame_init(&f);
    while (n > 0) {
        parse(p, n, max, &f);
        FUZZ_CHECK(f.rc == WSR__FRAME_OK || f.rc == WSR__FRAME_MORE || f.rc == WSR_EOVERFLOW ||
                       f.rc == WSR_EPARSE,
                   "a parser returned %d", f.rc);
        if (f.rc == WSR_EPARSE)
            FUZZ_CHECK(f.detail[0] != '\0', "a refusal without a sentence");
        if (f.rc == WSR__FRAME_MORE && FUZZ_FRAMING != WSR__FRAMING_TCPY &&
            FUZZ_FRAMING != WSR__FRAMING_RESP)
            FUZZ_CHECK(memchr(p, '\n', n) == NULL && n <= max + 1, "more wanted after a newline");
        if (f.rc != WSR__FRAME_OK)
            break;
        check_frame(p, n, max, &f, cut);
        if (FUZZ_FRAMING == WSR__FRAMING_NDJSON && f.line_len > 0) {
            check_ndjson(p, f.line_len);
        } else if (FUZZ_FRAMING == WSR__FRAMING_TEXT &&
                   !(lines++ == 0 && f.line_len > 0 && p[0] == '#')) {
            f.rc = wsr__text_words(p, f.line_len, &f.words, &f.nwords, f.detail);
            FUZZ_CHECK(f.rc == 0 || (f.rc == WSR_EPARSE && f.detail[0] != '\0'),
                       "splitting a line returned %d", f.rc);
            if (f.rc != 0)
                break;
            check_words_request(&f);
        } else if (FUZZ_FRAMING == WSR__FRAMING_RESP) {
            check_words_request(&f);
        } else if (FUZZ_FRAMING == WSR__FRAMING_TCPY) {
            check_tcpy_answer(&f, NULL);
        }
        p += f.used;
        n -= f.used;
    }
    /* Every refusal is answered in the framing: one error reply. */
    if (f.rc == WSR_EPARSE && FUZZ_FRAMING == WSR__FRAMING_TCPY)
        check_tcpy_answer(&f, f.detail);
    else if (f.rc == WSR_EPARSE && FUZZ_FRAMING != WSR__FRAMING_NDJSON)
        check_raw_answer(&f, f.detail);
    wsr__buf_dispose(&f.words);
    return 0;
}
