/* SPDX-License-Identifier: MIT */
/*
 * The message codec (PROTOCOL.md sections 2-4 and 10): one complete WebSocket
 * message into a request (or a JSON-RPC batch of them), and a reply or push
 * back into the request's format and envelope. Two axes, each chosen once per
 * message: the format (JSON text, base64 text, base64 binary: codec.c) and the
 * envelope (v1: codec.c; JSON-RPC 2.0: jsonrpc.c). Pure: bytes in, request
 * out; reply in, bytes out; no I/O and no globals, so it is unit-tested and
 * fuzzed on its own.
 */
#ifndef WSR_SRC_CODEC_INT_H
#define WSR_SRC_CODEC_INT_H

#include <jansson.h>

#include "core/request_int.h"

#define WSR__DETAIL_MAX 512

/* The most requests a JSON-RPC batch may hold (a longer one is one -32600). */
#define WSR__BATCH_MAX 1000

/* wsr__codec_decode's answer for a JSON-RPC batch. */
#define WSR__DECODE_BATCH 1
/* wsr__codec_decode's answer for input to a running call, {"id":X,"input":...}
 * (PROTOCOL.md section 5.1): req->id is X, req->root the message. */
#define WSR__DECODE_INPUT 2

/* What a reply carries (PROTOCOL.md sections 4 and 10); every pointer borrowed. */
typedef struct wsr__reply_view {
    int status;
    const json_t *data;       /* success: the result (NULL encodes null) */
    const char *detail;       /* error: the sentence */
    const json_t *errors;     /* 422 */
    unsigned allow;           /* 405: method bits */
    const json_t *id;         /* echoed when non-NULL (JSON-RPC: always, NULL encodes null) */
    const json_t *event_name; /* v1: echoed; NULL encodes null */
    uint8_t envelope;         /* WSR__ENVELOPE_* */
    bool not_json;            /* JSON-RPC: a 400 for a message that was not JSON is -32700 */
    unsigned retry_after_ms;  /* 429: when to try again (0: not said) */
} wsr__reply_view_t;

/* What the encoder needs of the request a reply answers; pointers borrowed.
 * A deferred reply keeps its own copies (server/reply.c). */
typedef struct wsr__reply_to {
    const json_t *id;
    const json_t *event_name;
    wsr_format_t format;
    uint8_t envelope; /* WSR__ENVELOPE_* */
    bool head;        /* a HEAD request: the data is left out */
    bool not_json;
} wsr__reply_to_t;

/* The reply_to of `req` (borrowed: valid while `req` is). */
wsr__reply_to_t wsr__reply_to(const wsr_request_t *req);

/*
 * Decodes one message. `req` must be initialised (wsr__request_init), with
 * req->envelope preset to the envelope of answers to messages that tell none
 * (the connection's: JSON-RPC on a `jsonrpc2.0` connection, else v1).
 * Returns 0 with the request filled (req->envelope says which envelope);
 * WSR__DECODE_BATCH for a JSON-RPC batch, whose array is then in req->root
 * (1 to WSR__BATCH_MAX elements, each for wsr__codec_decode_element);
 * WSR_EPARSE (status 400) with req->format and req->envelope set, req->id and
 * req->event_name set when they were readable, req->not_json when the
 * message was not JSON, and `detail` holding the sentence for the client;
 * WSR_ENOMEM when memory ran out (answer 500). `max_depth` limits JSON
 * nesting.
 */
WSR_NODISCARD int wsr__codec_decode(wsr_request_t *req, const unsigned char *msg, size_t len,
                                    bool binary, unsigned max_depth, char detail[WSR__DETAIL_MAX]);

/*
 * Decodes `elem` (taken: it becomes req->root), one element of a batch: it
 * must be a JSON-RPC 2.0 request object. `req` must be initialised. Returns
 * 0, WSR_EPARSE or WSR_ENOMEM as wsr__codec_decode does.
 */
WSR_NODISCARD int wsr__codec_decode_element(wsr_request_t *req, json_t *elem,
                                            char detail[WSR__DETAIL_MAX]);

/* Writes a 400 sentence into `detail` (WSR__DETAIL_MAX bytes); returns WSR_EPARSE. */
int wsr__codec_bad(char *detail, const char *fmt, ...) WSR_PRINTF(2, 3);

/*
 * The length of the longest prefix of `s` (n bytes of valid UTF-8) that has
 * at most `max` bytes and does not end inside a character, for "%.*s".
 */
int wsr__utf8_cut(const char *s, size_t n, size_t max);

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
 * Appends, in JSON, the publication `{"event_name":..,"topic":..,"offset":N,
 * "epoch":..,"data":..}` (PROTOCOL.md section 5.2). `event_name`, `topic` and
 * `epoch` are NUL-terminated UTF-8; `offset` is at least 1.
 */
WSR_NODISCARD int wsr__codec_encode_publication(wsr__buf_t *out, const char *event_name,
                                                const char *topic, uint64_t offset,
                                                const char *epoch, const json_t *data);

/*
 * Re-encodes a JSON text message already in `json` into format `fmt`, appending
 * to `out` (used for pushes built before the connection's format is known).
 */
WSR_NODISCARD int wsr__codec_encode_raw(wsr__buf_t *out, const unsigned char *json, size_t n,
                                        wsr_format_t fmt);

/*
 * Re-encodes a push that wsr__codec_encode_push wrote in JSON (`json`, n
 * bytes) for a connection: in `envelope` (JSON-RPC: a notification, see
 * wsr__jsonrpc_push), then in format `fmt`, appending to `out`. Returns 0,
 * WSR_EINVAL when `json` is not such a push, WSR_EOVERFLOW or WSR_ENOMEM.
 */
WSR_NODISCARD int wsr__codec_encode_push_as(wsr__buf_t *out, const unsigned char *json, size_t n,
                                            wsr_format_t fmt, int envelope, wsr__buf_t *scratch);

/* Encodes `res` as the reply to a request whose id, event_name and format
 * are given, appending to `out`, in the v1 envelope. `head` drops the data
 * (a HEAD request). Returns like wsr__codec_encode_reply. */
WSR_NODISCARD int wsr__codec_encode_response(wsr__buf_t *out, const wsr_response_t *res,
                                             const json_t *id, const json_t *event_name, bool head,
                                             wsr_format_t fmt, wsr__buf_t *scratch);

/* Encodes `res` as the reply to the request `to` describes, in its format
 * and envelope, appending to `out`. Returns like wsr__codec_encode_reply. */
WSR_NODISCARD int wsr__codec_encode_answer(wsr__buf_t *out, const wsr_response_t *res,
                                           const wsr__reply_to_t *to, wsr__buf_t *scratch);

/* Encodes a progress message of the call `to` describes (which must have an
 * id): `progress` (borrowed; NULL encodes null) in its format and envelope
 * (PROTOCOL.md section 5.1), appending to `out`. Returns 0, WSR_EINVAL (no
 * id), WSR_EOVERFLOW or WSR_ENOMEM. */
WSR_NODISCARD int wsr__codec_encode_progress(wsr__buf_t *out, const wsr__reply_to_t *to,
                                             const json_t *progress, wsr__buf_t *scratch);

/* Appends `,"allow":[...]`: the methods of the bits in `allow`, in table order. */
WSR_NODISCARD int wsr__codec_put_allow(wsr__buf_t *out, unsigned allow);
/* Appends `,"retry_after_ms":N`. */
WSR_NODISCARD int wsr__codec_put_retry(wsr__buf_t *out, unsigned retry_after_ms);

/* jsonrpc.c: the JSON-RPC 2.0 envelope (PROTOCOL.md section 10). */

/* Reads the JSON-RPC request object req->root into `req` (method as cmd,
 * params as args or positional args, id; a notification without id).
 * Returns 0, WSR_EPARSE with `detail` (then req->id is the id when it was
 * readable) or WSR_ENOMEM. */
WSR_NODISCARD int wsr__jsonrpc_read(wsr_request_t *req, char *detail);

/* The JSON-RPC error code of a reply's status (section 10's table; other
 * statuses: 4xx is -32000 - (status - 400), 5xx is -32050 - (status - 500)). */
int wsr__jsonrpc_code(int status, bool not_json);

/* Appends the JSON-RPC reply `r` in JSON. Returns 0, WSR_EOVERFLOW or WSR_ENOMEM. */
WSR_NODISCARD int wsr__jsonrpc_encode_reply(wsr__buf_t *out, const wsr__reply_view_t *r);

/*
 * Appends, in JSON, the JSON-RPC notification for the v1 push `json` (n bytes
 * as wsr__codec_encode_push writes them): {"event_name":E,...members} becomes
 * {"jsonrpc":"2.0","method":E,"params":{...members}}, so a publication's
 * params are {"topic":..,"data":..} and a push's {"data":..}. Returns 0,
 * WSR_EINVAL when `json` is not such a push, WSR_EOVERFLOW or WSR_ENOMEM.
 */
WSR_NODISCARD int wsr__jsonrpc_push(wsr__buf_t *out, const unsigned char *json, size_t n);

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
