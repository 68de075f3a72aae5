/* SPDX-License-Identifier: MIT */
/*
 * The message codec (PROTOCOL.md sections 2-4): one complete WebSocket message
 * into a request, and a reply or push back into the request's format. Pure:
 * bytes in, request out; reply in, bytes out; no I/O and no globals, so it is
 * unit-tested and fuzzed on its own.
 */
#ifndef WSR_SRC_CODEC_INT_H
#define WSR_SRC_CODEC_INT_H

#include <jansson.h>

#include "core/request_int.h"

#define WSR__DETAIL_MAX 512

/* What a reply carries (PROTOCOL.md section 4); every pointer borrowed. */
typedef struct wsr__reply_view {
    int status;
    const json_t *data;       /* success: the result (NULL encodes null) */
    const char *detail;       /* error: the sentence */
    const json_t *errors;     /* 422 */
    unsigned allow;           /* 405: method bits */
    const json_t *id;         /* echoed when non-NULL */
    const json_t *event_name; /* echoed; NULL encodes null */
} wsr__reply_view_t;

/*
 * Decodes one message. `req` must be initialised (wsr__request_init).
 * Returns 0 with the request filled, or WSR_EPARSE (status 400) with
 * req->format set, req->id and req->event_name set when they were readable,
 * and `detail` holding the sentence for the client. WSR_ENOMEM when memory
 * ran out (answer 500). `max_depth` limits JSON nesting.
 */
WSR_NODISCARD int wsr__codec_decode(wsr_request_t *req, const unsigned char *msg, size_t len,
                                    bool binary, unsigned max_depth, char detail[WSR__DETAIL_MAX]);

/*
 * Appends the reply `r` to `out` in format `fmt`. `scratch` is a work buffer
 * for the base64 formats (its content is replaced). Returns 0, WSR_EOVERFLOW
 * or WSR_ENOMEM.
 */
WSR_NODISCARD int wsr__codec_encode_reply(wsr__buf_t *out, const wsr__reply_view_t *r,
                                          wsr_format_t fmt, wsr__buf_t *scratch);

/*
 * Appends a push `{"event_name":..,"topic":..,"data":..}` (topic only when
 * non-NULL) in format `fmt`. `event_name` and `topic` are NUL-terminated
 * UTF-8; `data` NULL encodes null.
 */
WSR_NODISCARD int wsr__codec_encode_push(wsr__buf_t *out, const char *event_name, const char *topic,
                                         const json_t *data, wsr_format_t fmt, wsr__buf_t *scratch);

/*
 * Re-encodes a JSON text message already in `json` into format `fmt`, appending
 * to `out` (used for pushes built before the connection's format is known).
 */
WSR_NODISCARD int wsr__codec_encode_raw(wsr__buf_t *out, const unsigned char *json, size_t n,
                                        wsr_format_t fmt);

/* Encodes `res` as the reply to a request whose id, event_name and format
 * are given, appending to `out`. `head` drops the data (a HEAD request).
 * Returns like wsr__codec_encode_reply. */
WSR_NODISCARD int wsr__codec_encode_response(wsr__buf_t *out, const wsr_response_t *res,
                                             const json_t *id, const json_t *event_name, bool head,
                                             wsr_format_t fmt, wsr__buf_t *scratch);

/* Parses a method name (case-insensitive, blanks around ignored); 0 if unknown. */
unsigned wsr__method_parse(const char *s, size_t n);

/*
 * Percent-decodes `n` bytes of `s` ('+' as a blank when `plus_is_space`) into
 * `out`. Returns 0, or WSR_EPARSE for a bad escape or a result that is not
 * UTF-8 without NUL.
 */
WSR_NODISCARD int wsr__percent_decode(wsr__buf_t *out, const char *s, size_t n, bool plus_is_space);

/* Replaces, in place, every byte of `s` (n bytes) that does not begin a valid
 * UTF-8 character with '?', so text cut at a byte count is always UTF-8. */
void wsr__utf8_repair(char *s, size_t n);

/* Returns true when `s` (n bytes) is valid UTF-8 with no NUL byte. */
bool wsr__utf8_valid(const unsigned char *s, size_t n);

#endif /* WSR_SRC_CODEC_INT_H */
