/* SPDX-License-Identifier: MIT */
/*
 * Guarded routes, retopy's `authenticated` decorator in wsrouter's terms: a
 * route says what it needs in its table (WSR_ROUTE_AUTH, or a role) and the
 * router answers 401 or 403 before the handler runs.
 *
 * And aiorest-ws's auth_token example server's RegisterUser: POST
 * /auth/user/create with args {username, password} makes a wsrouter user
 * (the store's, as `wsrouterd user add` does), whom the built-in
 * /auth/login then logs in with a wsrouter token. Its is_superuser,
 * is_staff and is_user flags are accepted and grant nothing: a client that
 * registers itself gets no roles (an administrator grants them), and the
 * password rule is wsrouter's (8 bytes at least), not aiorest-ws's (none).
 */
#include "routes.h"

#include <string.h>

/* wsr_user_add's least password length. */
#define MIN_PASSWORD 8

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

static int on_user_create(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const char *name = wsr_request_arg_string(req, "username");
    const char *password = wsr_request_arg_string(req, "password");
    wsr_store_t *store = wsr_factory_store(wsr_request_factory(req));
    int rc;

    (void)user;
    if (store == NULL)
        return wsr_response_error(res, 503, "this server has no user store");
    if (strlen(password) < MIN_PASSWORD)
        return wsr_response_param_error(res, "password", "must be at least 8 bytes");
    rc = wsr_user_add(store, name, "", password);
    /* aiorest-ws's answers, sentences as data with 200, both of them. */
    if (rc == 0)
        return wsr_response_set_data_take(res, json_string("User created successfully."));
    if (rc == WSR_EEXIST)
        return wsr_response_set_data_take(res, json_string("User already created."));
    if (rc == WSR_EINVAL)
        return wsr_response_param_error(
            res, "username", "must be 1 to 64 printable characters, no blanks or commas");
    return wsr_response_error(res, 500, "the user store failed (%s)", wsr_strerror(rc));
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

/* aiorest-ws's registration, in a table of its own. */
static const wsr_route_t register_routes[] = {
    {.name = "user_create",
     .methods = WSR_POST,
     .url = "/auth/user/create",
     .handler = on_user_create,
     /* A password hash takes a while: a worker of the login's lane. */
     .flags = WSR_ROUTE_BLOCKING | WSR_ROUTE_LANE,
     /* A route's own rate limit: no one registers more than a few users a
      * second, and each costs a password hash. */
     .rate = "5/s",
     .params = WSR_PARAMS(
         {.name = "username", .type = WSR_TYPE_STRING, .required = true, .doc = "the new name"},
         {.name = "password", .type = WSR_TYPE_STRING, .required = true, .doc = "8 bytes or more"},
         {.name = "is_superuser", .type = WSR_TYPE_BOOL, .doc = "accepted, grants nothing"},
         {.name = "is_staff", .type = WSR_TYPE_BOOL, .doc = "accepted, grants nothing"},
         {.name = "is_user", .type = WSR_TYPE_BOOL, .doc = "accepted, grants nothing"}),
     .doc = "Register a user with no roles (aiorest-ws's auth_token example): answers "
            "\"User created successfully.\" or \"User already created.\"."},
    WSR_ROUTES_END,
};

int wsr_routes_account(wsr_router_t *router, wsr_error_t *err)
{
    int rc = wsr_router_add(router, account_routes, NULL, err);

    return rc != 0 ? rc : wsr_router_add(router, register_routes, NULL, err);
}
