/* SPDX-License-Identifier: MIT */
/*
 * Guarded routes, retopy's `authenticated` decorator in wsrouter's terms: a
 * route says what it needs in its table (WSR_ROUTE_AUTH, or a role) and the
 * router answers 401 or 403 before the handler runs.
 */
#include "routes.h"

static int on_profile(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)user;
    return wsr_response_set_data_take(res, json_pack("{s:s, s:b}", "user", wsr_request_user(req),
                                                     "admin", wsr_request_has_role(req, "admin")));
}

static int on_admin(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)user;
    return wsr_response_set_data_take(
        res, json_pack("{s:s, s:i}", "user", wsr_request_user(req), "connections",
                       (int)wsr_factory_connection_count(wsr_request_factory(req))));
}

static const wsr_route_t account_routes[] = {
    {.name = "profile",
     .methods = WSR_GET,
     .url = "/account/profile",
     .handler = on_profile,
     .flags = WSR_ROUTE_AUTH,
     .doc = "Who you are logged in as (requires a login)."},
    {.name = "admin",
     .methods = WSR_GET,
     .url = "/account/admin",
     .handler = on_admin,
     .role = "admin",
     .doc = "An administrators' view (requires the admin role)."},
    WSR_ROUTES_END,
};

int wsr_routes_account(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, account_routes, NULL, err);
}
