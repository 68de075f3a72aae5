/* SPDX-License-Identifier: MIT */
/* `echo` answers the request's data (null when it has none). */
#include "routes.h"

static int on_echo(wsr_request_t *req, wsr_response_t *res, void *user)
{
    json_t *data = wsr_request_data(req);

    (void)user;
    return wsr_response_set_data_take(res, data ? json_incref(data) : json_null());
}

static const wsr_route_t echo_routes[] = {
    {.name = "echo",
     .methods = WSR_GET | WSR_POST | WSR_PUT,
     .url = "/echo",
     .handler = on_echo,
     .cmdid = 10000, /* tornado-TCP's demo command */
     .doc = "Answer the request's data (tornado-TCP: cmdid 10000, its params)."},
    WSR_ROUTES_END,
};

int wsr_routes_echo(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, echo_routes, NULL, err);
}
