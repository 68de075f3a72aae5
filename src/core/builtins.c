/* SPDX-License-Identifier: MIT */
/*
 * The built-in routes of PROTOCOL.md section 7 (retopy's default handlers):
 * `commands` lists every route, `help` describes one, `stats` reports the
 * counters of whoever registered them (the server, through a snapshot
 * function), `ping` answers "PONG". They are an ordinary route table,
 * registered by the server unless switched off.
 */
#include "core/builtins_int.h"

#include "core/router_int.h"

static int on_commands(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const wsr_router_t *router = req->router;
    json_t *list = json_array();

    (void)user;
    for (size_t i = 0; list != NULL && i < wsr_router_count(router); i++) {
        const wsr__route_t *r = wsr__router_get(router, i);

        if ((r->flags & WSR_ROUTE_HIDDEN) == 0 &&
            json_array_append_new(list, wsr__route_describe(r, false)) != 0) {
            json_decref(list);
            return WSR_ENOMEM;
        }
    }
    return wsr_response_set_data_take(res, list);
}

static int on_help(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const char *name = wsr_request_arg_string(req, "command");
    const wsr__route_t *r = wsr__router_find(req->router, name);

    (void)user;
    if (r == NULL || (r->flags & WSR_ROUTE_HIDDEN))
        return wsr_response_error(res, 404, "no command named %.100s", name);
    return wsr_response_set_data_take(res, wsr__route_describe(r, true));
}

static int on_stats(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const wsr__stats_source_t *src = user;

    if (src == NULL || src->snapshot == NULL)
        return wsr_response_error(res, 503, "statistics are not available outside a server");
    if (src->admin_only && !wsr_request_has_role(req, "admin"))
        return wsr_response_error(res, 403,
                                  "stats needs the admin role while ops_token is set (or GET "
                                  "/_/stats over HTTP with Authorization: Bearer TOKEN)");
    return wsr_response_set_data_take(res, src->snapshot(src->ctx));
}

static int on_ping(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)req;
    (void)user;
    return wsr_response_set_string(res, "PONG");
}

static const wsr_route_t builtin_routes[] = {
    {.name = "commands",
     .methods = WSR_GET,
     .url = "/_/commands",
     .handler = on_commands,
     .doc = "List every route: name, URL pattern, methods, parameters, auth, doc."},
    {.name = "help",
     .methods = WSR_GET,
     .url = "/_/help",
     .handler = on_help,
     .params = WSR_PARAMS(
         {.name = "command", .type = WSR_TYPE_STRING, .required = true, .doc = "the route's name"}),
     .doc = "Describe one route in full."},
    {.name = "stats",
     .methods = WSR_GET,
     .url = "/_/stats",
     .handler = on_stats,
     .doc = "Connections, requests by status, per-route counts and latency, uptime."},
    {.name = "ping",
     .methods = WSR_GET,
     .url = "/_/ping",
     .handler = on_ping,
     .doc = "Answer PONG: checks that the connection is alive and measures latency."},
    WSR_ROUTES_END,
};

int wsr__builtins_add(wsr_router_t *router, const wsr__stats_source_t *stats, wsr_error_t *err)
{
    return wsr_router_add(router, builtin_routes, (void *)stats, err);
}
