/* SPDX-License-Identifier: MIT */
/*
 * Routes and the router. A route is plain data: a name (callable with `cmd`),
 * the methods and URL pattern it answers, its declared parameters, flags, a
 * one-line doc and the handler. Application modules register const tables of
 * routes; the router checks each table when it is added (bad patterns, bad
 * defaults, duplicate names, ambiguous patterns are refused with a sentence
 * naming the route) and is read-only once the server runs.
 *
 * URL patterns are made of '/'-separated segments: static text, `{name}` (any
 * non-empty segment), or a typed parameter `{name:int}`, `{name:number}`,
 * `{name:string}`. Matching never depends on registration order: at each
 * segment a static match beats {int}, which beats {number}, which beats an
 * untyped parameter, so the route with the longer static prefix wins.
 *
 * Write route tables and parameter lists with designated initializers,
 * leaving out the fields that are zero or NULL, and end every table with
 * WSR_ROUTES_END (an all-zero entry):
 *
 *     static const wsr_route_t my_routes[] = {
 *         {.name = "add", .methods = WSR_GET | WSR_POST, .url = "/math/add",
 *          .handler = on_add,
 *          .params = WSR_PARAMS({.name = "x", .type = WSR_TYPE_NUMBER, .required = true},
 *                               {.name = "y", .type = WSR_TYPE_NUMBER, .def = "0"}),
 *          .doc = "Add x and y."},
 *         {.name = "purge", .handler = on_purge, .flags = WSR_ROUTE_BLOCKING,
 *          .role = "admin", .doc = "Reached only by cmd."},
 *         WSR_ROUTES_END,
 *     };
 *
 * Tables must use designated initializers so that new fields never break
 * them: wsr_route_t and wsr_param_t gain fields at their end as wsrouter
 * grows (existing ones are never reordered or removed), and a designated
 * table keeps compiling, and keeps its meaning, whatever is added (a new
 * field is zero: its default). A positional table ({"add", WSR_GET, ...})
 * misses every new field, which -Wextra -Werror refuses.
 */
#ifndef WSR_WSROUTER_ROUTER_H
#define WSR_WSROUTER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "error.h"
#include "request.h"
#include "response.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsr_router wsr_router_t;

/* Parameter types. Values from a URL (path or query) or a text line are strings
 * and are converted; values from JSON `args` must already have the type. */
typedef enum wsr_type {
    WSR_TYPE_ANY = 0,
    WSR_TYPE_STRING,
    WSR_TYPE_INT,    /* a JSON integer, or a real with an integral value */
    WSR_TYPE_NUMBER, /* an integer or a real */
    WSR_TYPE_BOOL,
    WSR_TYPE_OBJECT,
    WSR_TYPE_ARRAY,
} wsr_type_t;

/* Returns the type's name ("int"), or NULL for an unknown value. */
WSR_API const char *wsr_type_name(wsr_type_t type);

/* A declared parameter; write it with designated initializers (see the top
 * of this file). A list of them ends with an all-zero entry (a NULL name). */
typedef struct wsr_param {
    const char *name;
    wsr_type_t type;
    bool required;
    /* Default as JSON text ("1", "\"a\"", "[0]"), used when the parameter is
     * absent; NULL for none (an absent optional parameter stays absent). */
    const char *def;
    const char *doc; /* one line, shown by `help`; may be NULL */
} wsr_param_t;

/* Route flags. */
enum {
    WSR_ROUTE_AUTH = 1u << 0,     /* requires an authenticated user (401 without) */
    WSR_ROUTE_BLOCKING = 1u << 1, /* runs on a worker thread, never on the event loop */
    WSR_ROUTE_HIDDEN = 1u << 2,   /* callable, but not listed by `commands` */
    /* Changes the connection's identity (login, logout, session, refresh):
     * requests sent after it on the same connection are handled after it
     * has been answered (docs/protocol.md section 6, the login barrier). */
    WSR_ROUTE_BARRIER = 1u << 3,
    /* With WSR_ROUTE_BLOCKING: runs on the lane, a pool of its own (half
     * the worker threads, the same queue bound), so that however many of
     * its requests come it never takes the workers of the other routes
     * (the login's password check). */
    WSR_ROUTE_LANE = 1u << 4,
    /* The handler reads call input (wsr_reply_input_take). Over WebSocket
     * and NDJSON, input names its call by id whatever the flag; on a tcpy
     * connection, which has no ids and runs one call at a time, a frame
     * that arrives while such a call runs is its input (tcpy's recv()),
     * while behind any other call it waits its turn as a request. */
    WSR_ROUTE_INPUT = 1u << 5,
};

/*
 * A handler. Reads `req`, answers through `res` (or defers it); both are
 * borrowed for the duration of the call. `user` is the pointer given with the
 * route table. Returns 0, or a negative WSR_E* code when it failed: the client
 * then gets 500 with a generic detail, whatever `res` holds.
 * Runs on the event loop thread, or on a worker thread for WSR_ROUTE_BLOCKING.
 */
typedef int (*wsr_handler_fn)(wsr_request_t *req, wsr_response_t *res, void *user);

/* A route; write it with designated initializers (see the top of this file).
 * A table of them ends with WSR_ROUTES_END: an all-zero entry, found by its
 * NULL name. Fields are only ever added at the end. */
typedef struct wsr_route {
    const char *name;          /* unique; the `cmd` name */
    unsigned methods;          /* WSR_GET | WSR_POST ...; 0 with a NULL url */
    const char *url;           /* pattern, or NULL for a route reached only by `cmd` */
    wsr_handler_fn handler;    /* required */
    const wsr_param_t *params; /* NULL, or a list ending with a NULL name */
    unsigned flags;            /* WSR_ROUTE_* */
    const char *role;          /* role required (implies WSR_ROUTE_AUTH), or NULL */
    const char *doc;           /* one line */
    unsigned timeout_ms;       /* 0: the server's default request timeout */
    long long cmdid; /* tornado-TCP's numeric command id (PROTOCOL.md section 8); 0: none */
    /* The route's own rate limit, on top of the server's (README, "Rate
     * limits"): at most this many of its requests per connection, "N/s",
     * "N/min" or "N/h" ("5/s", "100/min"), its burst one second's worth (at
     * least one request); past it 429 with retry_after_ms, and a client going
     * on past twice that budget is closed 1008. NULL, "0" or "off": none. */
    const char *rate;
} wsr_route_t;

/*
 * Builds a parameter list inline and adds its all-zero end:
 * WSR_PARAMS({.name = "x", .type = WSR_TYPE_NUMBER, .required = true}, ...).
 */
#define WSR_PARAMS(...) ((const wsr_param_t[]){__VA_ARGS__, {0}})

/* The sentinel that ends a route table: an all-zero entry (its name is NULL,
 * which is what the router looks for), whatever fields wsr_route_t gains. */
#define WSR_ROUTES_END                                                                             \
    {                                                                                              \
        0                                                                                          \
    }

/* Creates an empty router. Returns it (owned: wsr_router_free) or NULL. */
WSR_API wsr_router_t *wsr_router_new(void);

/* Frees the router. NULL is ignored. Not while a server uses it. */
WSR_API void wsr_router_free(wsr_router_t *router);

/*
 * Adds every route of `table`. `table` and everything it points to are
 * borrowed for the router's lifetime (use static const tables); `user` is
 * passed to the table's handlers. All-or-nothing: on error no route of the
 * table is added and `err` (optional) names the route and what is wrong.
 * Returns 0, WSR_EINVAL (bad route), WSR_EEXIST (duplicate name),
 * WSR_EAMBIGUOUS (two routes would match the same request), WSR_ESTATE (the
 * router is frozen: a server is running it) or WSR_ENOMEM.
 * Not thread-safe; call before the server starts.
 */
WSR_API WSR_NODISCARD int wsr_router_add(wsr_router_t *router, const wsr_route_t *table, void *user,
                                         wsr_error_t *err);

/*
 * Registers `fn(user)` to run when the router is freed (after the server that
 * used it stopped), to release what a route module allocated for its tables.
 * Cleanups run in reverse order of registration. Returns 0 or WSR_ENOMEM (then
 * `fn` is not called: the caller still owns `user`).
 */
WSR_API WSR_NODISCARD int wsr_router_on_free(wsr_router_t *router, void (*fn)(void *user),
                                             void *user);

/* Returns the number of routes registered. */
WSR_API size_t wsr_router_count(const wsr_router_t *router);

/*
 * Serves one message without a server: decodes `msg` (a text message when
 * `binary` is false), routes it, runs the handler on the calling thread
 * (blocking routes included), and encodes the reply in the same format and
 * envelope (a JSON-RPC 2.0 batch is served element by element, in order).
 * A handler that defers cannot be served here and gets 500.
 * `*reply` is owned by the caller (wsr_free); `*reply_len` its length, 0
 * when the message gets no reply (a JSON-RPC notification, or a batch of
 * them).
 * Returns 0 (the reply may be an error reply) or WSR_ENOMEM.
 * Thread-safe once no more routes are added.
 */
WSR_API WSR_NODISCARD int wsr_router_call(wsr_router_t *router, const void *msg, size_t len,
                                          bool binary, char **reply, size_t *reply_len);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_ROUTER_H */
