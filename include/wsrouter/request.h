/* SPDX-License-Identifier: MIT */
/*
 * The request a handler receives: one decoded client message (docs/protocol.md
 * section 3) after routing and parameter validation. Handlers read it through
 * these accessors and never see the transport it came from. Every pointer these
 * functions return is borrowed from the request and valid until the handler
 * returns, deferred or not: the request is freed right after. A handler that
 * defers must copy, before it returns, whatever the completion will need:
 * strings with wsr_strdup, JSON values with json_deep_copy (not json_incref:
 * jansson's reference counts are not safe across threads, and the request's
 * values are released on the loop's thread while the completer may run on
 * another).
 */
#ifndef WSR_WSROUTER_REQUEST_H
#define WSR_WSROUTER_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsr_request wsr_request_t;
typedef struct wsr_factory wsr_factory_t;

/* A connection's id: unique among the connections of a server for its
 * lifetime (a slot and a generation: an id is never reused while anything
 * may still hold it). 0 means none. */
typedef uint64_t wsr_conn_id_t;

/* Request methods, as bits so a route can accept several. */
typedef enum wsr_method {
    WSR_GET = 1u << 0,
    WSR_POST = 1u << 1,
    WSR_PUT = 1u << 2,
    WSR_PATCH = 1u << 3,
    WSR_DELETE = 1u << 4,
    WSR_HEAD = 1u << 5,
    WSR_OPTIONS = 1u << 6,
} wsr_method_t;

#define WSR_METHODS_ALL 0x7fu

/* The encoding a message arrived in; its reply goes back in the same one. */
typedef enum wsr_format {
    WSR_FORMAT_JSON = 0,     /* text frame holding a JSON object */
    WSR_FORMAT_BASE64_TEXT,  /* text frame holding base64 of a JSON object */
    WSR_FORMAT_BASE64_BINARY /* binary frame holding base64 of a JSON object */
} wsr_format_t;

/*
 * Returns the method's canonical name ("GET"), or NULL for a value that is not
 * exactly one method bit. Thread-safe; static string.
 */
WSR_API const char *wsr_method_name(unsigned method);

/* Returns the request's method, or 0 for a `cmd` request. */
WSR_API wsr_method_t wsr_request_method(const wsr_request_t *req);

/*
 * Returns the request's path (percent-decoding not applied, query and trailing
 * '/' removed), or NULL for a `cmd` request. Borrowed from the request.
 */
WSR_API const char *wsr_request_path(const wsr_request_t *req);

/* Returns the name of the route being served. Borrowed from the router. */
WSR_API const char *wsr_request_route_name(const wsr_request_t *req);

/*
 * Returns the validated parameters: declared ones converted to their types or
 * filled with their defaults, path parameters included, undeclared ones as
 * sent. Borrowed from the request. Built on the first call (a small
 * request is read without jansson objects): NULL only when memory ran out
 * building it. The typed accessors below never allocate.
 */
WSR_API json_t *wsr_request_args(const wsr_request_t *req);

/* Returns parameter `name` or NULL when absent. Borrowed from the request. */
WSR_API json_t *wsr_request_arg(const wsr_request_t *req, const char *name);

/* Returns string parameter `name`, or NULL when absent or not a string. Borrowed. */
WSR_API const char *wsr_request_arg_string(const wsr_request_t *req, const char *name);

/* Returns integer parameter `name`, or `fallback` when absent or not an integer. */
WSR_API int64_t wsr_request_arg_int(const wsr_request_t *req, const char *name, int64_t fallback);

/* Returns numeric parameter `name` (integer or real), or `fallback`. */
WSR_API double wsr_request_arg_number(const wsr_request_t *req, const char *name, double fallback);

/* Returns boolean parameter `name`, or `fallback` when absent or not a boolean. */
WSR_API bool wsr_request_arg_bool(const wsr_request_t *req, const char *name, bool fallback);

/* Returns the request's `data` member, or NULL when it has none. Borrowed. */
WSR_API json_t *wsr_request_data(const wsr_request_t *req);

/*
 * Returns top-level member `name` of the message (members the protocol does not
 * define are kept for handlers), or NULL (also when memory ran out building
 * "args", which wsr_request_args builds the same way). Borrowed from the request.
 */
WSR_API json_t *wsr_request_member(const wsr_request_t *req, const char *name);

/* Returns the format the request arrived in. */
WSR_API wsr_format_t wsr_request_format(const wsr_request_t *req);

/* The transport a request came over: a WebSocket message (or a call with no
 * connection, wsr_router_call), or one of the raw TCP framings of
 * docs/protocol.md section 8. */
typedef enum wsr_transport {
    WSR_TRANSPORT_WEBSOCKET = 0,
    WSR_TRANSPORT_NDJSON = 1, /* JSON lines, tornado-TCP's among them */
    WSR_TRANSPORT_RESP = 2,   /* Redis protocol (redis-cli) */
    WSR_TRANSPORT_TCPY = 3,   /* tcpy's length-prefixed MessagePack maps */
    WSR_TRANSPORT_TEXT = 4    /* text lines (retopy, telnet) */
} wsr_transport_t;

/*
 * Returns the transport the request came over: for a handler that answers a
 * reference system's own client in that system's shape (routes/math.c's
 * `add` answers tcpy's {"solution": x + y}, as tcpy's tutorial does).
 */
WSR_API wsr_transport_t wsr_request_transport(const wsr_request_t *req);

/*
 * Returns the id of the connection the request came on (for wsr_push), or 0
 * when it did not come from a connection (wsr_router_call).
 */
WSR_API wsr_conn_id_t wsr_request_connection_id(const wsr_request_t *req);

/* Returns the peer address ("127.0.0.1:40312"), or "" when unknown. Borrowed. */
WSR_API const char *wsr_request_peer(const wsr_request_t *req);

/* Returns the authenticated user's name, or NULL when anonymous. Borrowed. */
WSR_API const char *wsr_request_user(const wsr_request_t *req);

/* Returns true when the authenticated user holds `role`. */
WSR_API bool wsr_request_has_role(const wsr_request_t *req, const char *role);

/*
 * Returns the subject of the client's verified TLS certificate, or NULL when the
 * connection presented none. Borrowed from the request.
 */
WSR_API const char *wsr_request_client_cert_subject(const wsr_request_t *req);

/*
 * Returns the factory that serves the request (its store and pushes), or NULL
 * when the request does not come from a server (wsr_router_call). Borrowed.
 */
WSR_API wsr_factory_t *wsr_request_factory(const wsr_request_t *req);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_REQUEST_H */
