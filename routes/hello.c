/* SPDX-License-Identifier: MIT */
/*
 * aiorest-ws's examples in wsrouter's terms: GET /hello, GET
 * /hello/{user}/{id} and GET /calc/sum over args.digits.
 */
#include "routes.h"

#include <math.h>

static int on_hello(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)req;
    (void)user;
    return wsr_response_set_string(res, "Hello, world!");
}

static int on_hello_user(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)user;
    /* Formatted to size: a fixed buffer cut long names inside a UTF-8
     * character, and json_string() then refused the text (a 500). */
    return wsr_response_set_data_take(res, json_sprintf("Hello, %s with ID=%s",
                                                        wsr_request_arg_string(req, "user"),
                                                        wsr_request_arg_string(req, "id")));
}

static int on_sum(wsr_request_t *req, wsr_response_t *res, void *user)
{
    json_t *digits = wsr_request_arg(req, "digits"), *d;
    json_int_t isum = 0;
    double rsum = 0.0;
    bool real = false;
    size_t i;

    (void)user;
    json_array_foreach(digits, i, d)
    {
        if (!json_is_number(d))
            return wsr_response_param_error(res, "digits", "item %zu must be a number", i);
        if (json_is_real(d) ||
            (!real && __builtin_add_overflow(isum, json_integer_value(d), &isum)))
            real = true;
        rsum += json_number_value(d);
    }
    /* JSON has no infinity: json_real() refuses it, which used to answer 500. */
    if (real && !isfinite(rsum))
        return wsr_response_param_error(res, "digits", "the sum is too large");
    return wsr_response_set_data_take(
        res, json_pack("{s:o}", "sum", real ? json_real(rsum) : json_integer(isum)));
}

static const wsr_route_t hello_routes[] = {
    {.name = "hello",
     .methods = WSR_GET,
     .url = "/hello",
     .handler = on_hello,
     .doc = "Answer \"Hello, world!\"."},
    {.name = "hello_user",
     .methods = WSR_GET,
     .url = "/hello/{user}/{id}",
     .handler = on_hello_user,
     .params = WSR_PARAMS(
         {.name = "user", .type = WSR_TYPE_STRING, .required = true, .doc = "who to greet"},
         {.name = "id", .type = WSR_TYPE_STRING, .required = true, .doc = "their id"}),
     .doc = "Greet a user by name and id."},
    {.name = "sum",
     .methods = WSR_GET | WSR_POST,
     .url = "/calc/sum",
     .handler = on_sum,
     .params = WSR_PARAMS(
         {.name = "digits", .type = WSR_TYPE_ARRAY, .def = "[0]", .doc = "the numbers to add"}),
     .doc = "Answer {\"sum\": N} over args.digits."},
    WSR_ROUTES_END,
};

int wsr_routes_hello(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, hello_routes, NULL, err);
}
