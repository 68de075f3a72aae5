/* SPDX-License-Identifier: MIT */
/*
 * The raw TCP framings (PROTOCOL.md section 8) as pure parsers and encoders:
 * which framing a connection speaks (told from its first byte), where the
 * next frame of a byte stream ends (NDJSON and text lines, RESP arrays and
 * inline commands), how a text line splits into words, and how a reply or
 * push in JSON is written back in RESP or as a text line. Bytes in, a frame,
 * "need more" or an error out; no I/O and no globals, so each is unit-tested
 * byte by byte and fuzzed on its own. A command's words travel as one
 * buffer: the words joined by NUL bytes (a word never holds a NUL).
 */
#ifndef WSR_CORE_RAWFRAME_INT_H
#define WSR_CORE_RAWFRAME_INT_H

#include <jansson.h>

#include "core/internal.h"

/* The framings, told from a connection's first byte. */
typedef enum {
    WSR__FRAMING_NDJSON = 1, /* '{' */
    WSR__FRAMING_RESP = 2,   /* '*' */
    WSR__FRAMING_TCPY = 3,   /* 0x00 .. 0x03 */
    WSR__FRAMING_TEXT = 4    /* anything else */
} wsr__framing_t;

/* The most elements a RESP array may hold. */
#define WSR__RESP_MAX_ARGS 1024

/* What a frame parser says. */
enum {
    WSR__FRAME_MORE = 0, /* no whole frame yet: read more, call again */
    WSR__FRAME_OK = 1    /* a frame: *used bytes were consumed */
};

/* The framing a connection whose first byte is `first` speaks. */
wsr__framing_t wsr__framing_detect(unsigned char first);

/*
 * Finds the first line of `p` (n bytes): a line ends with "\n", an optional
 * "\r" before it is not part of it. Returns WSR__FRAME_OK with *line_len
 * (the line without its ending) and *used (with it); WSR__FRAME_MORE when
 * no newline came yet and fewer than `max` bytes are waiting; WSR_EOVERFLOW
 * when a line (or what waits without a newline) passes `max` bytes.
 */
WSR_NODISCARD int wsr__line_next(const unsigned char *p, size_t n, size_t max, size_t *line_len,
                                 size_t *used);

/*
 * Parses one RESP command at the start of `p` (n bytes): an array of bulk
 * strings (`*N\r\n` then N times `$L\r\n` L bytes `\r\n`), or an inline
 * command (a line of words, as telnet or `redis-cli` typed commands send).
 * On WSR__FRAME_OK `words` (its content replaced) holds the words joined by
 * NUL bytes and *nwords their count (0 for an empty inline line), and *used
 * what was consumed. A command over `max` bytes is WSR_EOVERFLOW; a bad
 * header, a wrong length, more than WSR__RESP_MAX_ARGS elements, a NUL byte
 * in a word or invalid UTF-8 is WSR_EPARSE with `detail` (WSR__RAW_DETAIL
 * bytes) saying what; WSR_ENOMEM when `words` could not grow.
 */
#define WSR__RAW_DETAIL 160
WSR_NODISCARD int wsr__resp_next(const unsigned char *p, size_t n, size_t max, wsr__buf_t *words,
                                 size_t *nwords, size_t *used, char detail[WSR__RAW_DETAIL]);

/*
 * Splits a text line (retopy's syntax) into words: blanks separate them,
 * "double quotes" group (a backslash escapes the next byte inside them).
 * `words` (content replaced) gets them joined by NUL bytes, *nwords their
 * count. Returns 0; WSR_EPARSE with `detail` for a NUL byte, invalid UTF-8
 * or an unclosed quote; WSR_ENOMEM.
 */
WSR_NODISCARD int wsr__text_words(const unsigned char *line, size_t n, wsr__buf_t *words,
                                  size_t *nwords, char detail[WSR__RAW_DETAIL]);

/*
 * Appends to `out` the JSON message `msg` (borrowed: a reply, a push or a
 * progress message as the codec writes them in the v1 envelope) in RESP
 * (`framing` WSR__FRAMING_RESP) or as one text line (WSR__FRAMING_TEXT).
 * Returns 0, WSR_EINVAL for a framing without an encoder, or WSR_ENOMEM.
 */
WSR_NODISCARD int wsr__raw_encode(wsr__buf_t *out, const json_t *msg, wsr__framing_t framing);

/*
 * Decodes a command's words (`words`, n bytes, NUL-joined as the parsers
 * above write them) into `req` (initialised): the first word names the
 * route (ASCII case ignored: `PING` is `ping`), the others fill its
 * declared parameters in order, as text. Returns 0; WSR_EPARSE with
 * `detail` (WSR__DETAIL_MAX bytes) for no words; WSR_ENOMEM.
 */
/*
 * Reads one tcpy frame at the start of `p` (n bytes): a 4-byte big-endian
 * length, then that many bytes holding one MessagePack map with string keys.
 * On WSR__FRAME_OK `json` (content replaced) holds the map as a JSON object,
 * ready for the codec (`{"cmd":"add","x":1,"y":2}` is a v1 cmd request), and
 * *used the frame's bytes. A length over `max` is WSR_EOVERFLOW; a value
 * that is not a map, is truncated or followed by more bytes, nests deeper
 * than `max_depth`, or holds what JSON cannot (binary, extensions, keys
 * that are not strings, invalid UTF-8) is WSR_EPARSE with `detail`.
 */
WSR_NODISCARD int wsr__tcpy_next(const unsigned char *p, size_t n, size_t max, unsigned max_depth,
                                 wsr__buf_t *json, size_t *used, char detail[WSR__RAW_DETAIL]);

/*
 * Appends the JSON message `msg` (borrowed: a v1 reply, push or progress
 * message) as a tcpy frame: a reply is {"success":true} merged with its data
 * when that is an object (else {"success":true,"result":data}), an error
 * {"error":true,"message":detail,"status":N}, a push {"push":event_name,
 * "data":..} (with "topic" for a publication). Returns 0 or WSR_ENOMEM.
 */
WSR_NODISCARD int wsr__tcpy_encode(wsr__buf_t *out, const json_t *msg);

struct wsr_request;
WSR_NODISCARD int wsr__codec_decode_words(struct wsr_request *req, const unsigned char *words,
                                          size_t n, char *detail);

#endif /* WSR_CORE_RAWFRAME_INT_H */
