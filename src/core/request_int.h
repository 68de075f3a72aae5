/* SPDX-License-Identifier: MIT */
/*
 * The request and response objects' insides, shared by the codec, the router,
 * the factory and the protocol. Handlers see them only through request.h and
 * response.h.
 */
#ifndef WSR_SRC_REQUEST_INT_H
#define WSR_SRC_REQUEST_INT_H

#include <jansson.h>

#include "core/internal.h"

struct wsr__jmsg;
struct wsr__route;
struct wsr__session;
struct wsr_router;

#define WSR__PEER_MAX 56

/* The envelope a request came in, which its reply takes: PROTOCOL.md's own
 * (sections 3 and 4) or JSON-RPC 2.0 (section 10). */
enum { WSR__ENVELOPE_V1 = 0, WSR__ENVELOPE_JSONRPC = 1 };

struct wsr_request {
    json_t *root;          /* owned: the decoded message object (built on demand from msg) */
    struct wsr__jmsg *msg; /* owned: the message object read flat, or NULL (json_int.h) */
    json_t *args_in;       /* owned ref: JSON `args` (or a cmd's other members), or NULL;
                            * args read flat in msg are looked up there instead */
    json_t *query;         /* owned: query parameters as strings, or NULL */
    json_t *path_args;     /* owned: path parameters as strings (set by the router), or NULL */
    json_t *args;          /* owned: validated parameters (set by the router), or NULL */
    bool args_in_flat;     /* the JSON arguments are msg's "args" read flat */
    bool args_sent;        /* args are those, as sent: built only when asked for */
    json_t *data;          /* borrowed: root */
    json_t *id;            /* borrowed: root; NULL when absent */
    json_t *event_name;    /* borrowed: root; NULL when absent */
    const char *token;     /* borrowed: root */
    const char *cmd;       /* borrowed: root */
    char *path;            /* owned: url path, no query, no trailing '/' */
    unsigned method;       /* one WSR_* bit; 0 for cmd */
    wsr_format_t format;
    const struct wsr__route *route;  /* borrowed: router */
    const struct wsr_router *router; /* borrowed */
    /* Where it came from; filled by the protocol (zero for wsr_router_call). */
    uint64_t conn_id;
    uint64_t start_ns;
    wsr_factory_t *factory;       /* borrowed */
    struct wsr__session *session; /* owned ref: authenticated user, or NULL */
    const char *cert_subject;     /* owned: verified client certificate subject, or NULL */
    char peer[WSR__PEER_MAX];
    json_t *args_pos; /* borrowed: root; positional parameters (JSON-RPC params array), or NULL */
    /* WSR__ENVELOPE_*. The caller presets the envelope in which a message that
     * tells none (not JSON, say) is answered; decoding sets the request's own. */
    uint8_t envelope;
    bool notification; /* a JSON-RPC notification: it gets no reply, not even an error */
    bool not_json;     /* decoding failed before any JSON was read (JSON-RPC -32700) */
    bool args_text;    /* args_pos are words of a raw TCP line: converted like the query */
    long long cmdid;   /* tornado-TCP's numeric command id instead of cmd; 0: none */
    uint8_t transport; /* a wsr_transport_t: its connection's framing */
    size_t bytes_in;   /* the message's bytes (0 for an element of a batch) */
};

struct wsr_response {
    int status;
    json_t *data;            /* owned */
    char *detail;            /* owned */
    json_t *errors;          /* owned: 422 parameter errors */
    unsigned allow;          /* 405: methods the URL accepts */
    unsigned retry_after_ms; /* 429: when the client may try again (0: not said) */
    wsr_reply_t *reply;      /* the deferred handle once deferred, else NULL */
    /* How to defer, given by the dispatcher; NULL where deferring is impossible. */
    wsr_reply_t *(*defer)(void *ctx, wsr_response_t *res);
    void *defer_ctx;
    bool deferred;
};

void wsr__request_init(wsr_request_t *req);
void wsr__request_dispose(wsr_request_t *req);

/* Top-level member WSR__KEY_`k` (json_int.h) of the message, or NULL; "args"
 * read flat is found only through the three below. Borrowed. */
json_t *wsr__request_get(const wsr_request_t *req, int k);
/* True when member WSR__KEY_`k` is a string the message keeps as text (no
 * jansson string): *s (NUL-terminated, borrowed) and *n are set then. */
bool wsr__request_text(const wsr_request_t *req, int k, const char **s, size_t *n);
/* True when the message has member WSR__KEY_`k`. */
bool wsr__request_has(const wsr_request_t *req, int k);
/* The message as a jansson object (req->root, built once from msg when it
 * was read flat), or NULL when out of memory. Borrowed. */
json_t *wsr__request_root(wsr_request_t *req);
/* True when the request has JSON arguments (args_in, or args read flat). */
bool wsr__request_has_args_in(const wsr_request_t *req);
/* JSON argument `name`, or NULL. Borrowed. */
json_t *wsr__request_arg_in(const wsr_request_t *req, const char *name);
/* The JSON arguments as an object (built once when read flat), or NULL when
 * there are none or memory ran out. Borrowed. */
json_t *wsr__request_args_in(wsr_request_t *req);

void wsr__response_init(wsr_response_t *res);
void wsr__response_dispose(wsr_response_t *res);
/* Makes `res` a 500 with the generic detail, dropping anything it held. */
void wsr__response_fail(wsr_response_t *res);
/* The detail of the 503 of a request that needed the cluster engine while it
 * was unreachable (PROTOCOL.md section 11): what a handler returning
 * WSR_ECONNECT answers. */
#define WSR__ENGINE_UNAVAILABLE "the cluster engine is unavailable"

/* wsr_response_error with a plain string. */
int wsr__response_error_str(wsr_response_t *res, int status, const char *detail);

#endif /* WSR_SRC_REQUEST_INT_H */
