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
    {"hello", WSR_GET, "/hello", on_hello, NULL, 0, NULL, "Answer \"Hello, world!\".", 0},
    {"hello_user", WSR_GET, "/hello/{user}/{id}", on_hello_user,
     WSR_PARAMS({"user", WSR_TYPE_STRING, true, NULL, "who to greet"},
                {"id", WSR_TYPE_STRING, true, NULL, "their id"}),
     0, NULL, "Greet a user by name and id.", 0},
    {"sum", WSR_GET | WSR_POST, "/calc/sum", on_sum,
     WSR_PARAMS({"digits", WSR_TYPE_ARRAY, false, "[0]", "the numbers to add"}), 0, NULL,
     "Answer {\"sum\": N} over args.digits.", 0},
    WSR_ROUTES_END,
};

int wsr_routes_hello(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, hello_routes, NULL, err);
}
