/* SPDX-License-Identifier: MIT */
/*
 * tcpy's addition example in wsrouter's terms: `add` takes numbers x and y
 * and answers their sum. Integers stay integers unless the sum overflows.
 */
#include "routes.h"

#include <math.h>
#include <stdint.h>

static int on_add(wsr_request_t *req, wsr_response_t *res, void *user)
{
    json_t *x = wsr_request_arg(req, "x"), *y = wsr_request_arg(req, "y");
    json_int_t sum;
    double sum_real;

    (void)user;
    if (json_is_integer(x) && json_is_integer(y) &&
        !__builtin_add_overflow(json_integer_value(x), json_integer_value(y), &sum))
        return wsr_response_set_data_take(res, json_integer(sum));
    sum_real = json_number_value(x) + json_number_value(y);
    /* JSON has no infinity: json_real() refuses it, which used to answer 500. */
    if (!isfinite(sum_real)) {
        (void)wsr_response_param_error(res, "x", "x + y is too large");
        return wsr_response_param_error(res, "y", "x + y is too large");
    }
    return wsr_response_set_data_take(res, json_real(sum_real));
}

static const wsr_route_t math_routes[] = {
    {.name = "add",
     .methods = WSR_GET | WSR_POST,
     .url = "/math/add",
     .handler = on_add,
     .params = WSR_PARAMS(
         {.name = "x", .type = WSR_TYPE_NUMBER, .required = true, .doc = "first addend"},
         {.name = "y", .type = WSR_TYPE_NUMBER, .required = true, .doc = "second addend"}),
     .doc = "Add x and y and answer the sum (tcpy's addition example)."},
    WSR_ROUTES_END,
};

int wsr_routes_math(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, math_routes, NULL, err);
}
