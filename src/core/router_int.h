/* SPDX-License-Identifier: MIT */
/*
 * The router's compiled routes, shared by router.c (tables, trie, matching),
 * params.c (declared parameters and their validation), the built-in routes and
 * the statistics. Compiled routes are immutable once the router is frozen, so
 * every thread may read them without a lock.
 */
#ifndef WSR_SRC_ROUTER_INT_H
#define WSR_SRC_ROUTER_INT_H

#include <jansson.h>

#include "core/request_int.h"

#define WSR__MAX_SEGMENTS 32

/* How a parameter segment of a URL pattern matches, strongest first. */
enum { WSR__MATCH_INT = 0, WSR__MATCH_NUMBER, WSR__MATCH_ANY, WSR__MATCH_COUNT };

typedef struct wsr__param {
    const char *name; /* borrowed: the table, or the route's pattern copy */
    const char *doc;  /* borrowed: the table; may be NULL */
    wsr_type_t type;
    bool required;
    bool in_path;
    json_t *def; /* owned: the parsed default, or NULL */
} wsr__param_t;

typedef struct wsr__segment {
    const char *text; /* borrowed: route->pattern; static text or parameter name */
    size_t len;
    int param; /* -1 for static text, else an index into route->params */
    int match; /* WSR__MATCH_* for a parameter */
} wsr__segment_t;

typedef struct wsr__route {
    const wsr_route_t *def; /* borrowed: the module's table */
    void *user;             /* borrowed: given with the table */
    size_t index;           /* registration order; indexes statistics */
    unsigned methods;
    unsigned flags;
    wsr__param_t *params; /* owned */
    size_t nparams;
    wsr__segment_t *segs; /* owned */
    size_t nsegs;
    char *pattern;    /* owned: the normalised URL pattern, or NULL */
    double rate;      /* def->rate in requests per second; 0: no limit of its own */
    size_t rate_slot; /* with a rate: its bucket among a connection's route buckets */
} wsr__route_t;

/* Returns the route's name. */
const char *wsr__route_name(const wsr__route_t *route);

/*
 * Routes `req` (decoded): finds its route by `cmd` or method and path, fills
 * req->route, req->path_args and req->args (validated). Returns 0 when the
 * handler should run; 1 when `res` already holds the answer (404, 405, 422,
 * 400 for a bad path escape, or 200 for an automatic OPTIONS); WSR_ENOMEM.
 */
WSR_NODISCARD int wsr__router_route(const wsr_router_t *router, wsr_request_t *req,
                                    wsr_response_t *res);

/* Freezes the router: from now on it is read-only and wsr_router_add fails. */
void wsr__router_freeze(wsr_router_t *router);

/* The route registered at `index` (< wsr_router_count), for listings and statistics. */
const wsr__route_t *wsr__router_get(const wsr_router_t *router, size_t index);

/* The routes with a rate limit of their own (their rate_slot is below it). */
size_t wsr__router_rated(const wsr_router_t *router);

/* Finds a route by name; NULL when none. */
const wsr__route_t *wsr__router_find(const wsr_router_t *router, const char *name);

/* params.c */

/* Compiles the declared parameters of `def` into `route` (path parameters
 * already in route->params are merged). Returns 0, or WSR_EINVAL/WSR_ENOMEM
 * with `err` naming the parameter. */
WSR_NODISCARD int wsr__params_compile(wsr__route_t *route, wsr_error_t *err);

/* Releases what wsr__params_compile allocated. */
void wsr__params_dispose(wsr__route_t *route);

/* Validates the request's parameters against its route into req->args.
 * Returns 0, 1 when `res` holds a 422, or WSR_ENOMEM. */
WSR_NODISCARD int wsr__params_validate(const wsr__route_t *route, wsr_request_t *req,
                                       wsr_response_t *res);

/* Fills req->args_in from the positional parameters req->args_pos, in the
 * order of the route's parameters (route->params: the URL pattern's, then
 * the table's). Returns 0, 1 when `res` holds a 422 (more values than
 * parameters), or WSR_ENOMEM. */
WSR_NODISCARD int wsr__params_from_positions(const wsr__route_t *route, wsr_request_t *req,
                                             wsr_response_t *res);

/* Describes a route for `commands` (full = false) or `help` (full = true).
 * Returns a new object or NULL. */
json_t *wsr__route_describe(const wsr__route_t *route, bool full);

#endif /* WSR_SRC_ROUTER_INT_H */
