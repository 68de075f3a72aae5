/* SPDX-License-Identifier: MIT */
/*
 * tcpy's addition example in wsrouter's terms: `add` takes numbers x and y
 * and answers their sum. Integers stay integers unless the sum overflows.
 * To a tcpy client it answers as tcpy's tutorial AdditionHandler does,
 * success(solution=x + y): {"solution": 3, "success": true}.
 */
#include "routes.h"

#include <math.h>
#include <stdint.h>

/* The sum as the client's system answers it (taken). */
static int answer_sum(wsr_request_t *req, wsr_response_t *res, json_t *sum)
{
    if (sum != NULL && wsr_request_transport(req) == WSR_TRANSPORT_TCPY)
        return wsr_response_set_data_take(res, json_pack("{s:o}", "solution", sum));
    return wsr_response_set_data_take(res, sum);
}

static int on_add(wsr_request_t *req, wsr_response_t *res, void *user)
{
    json_t *x = wsr_request_arg(req, "x"), *y = wsr_request_arg(req, "y");
    json_int_t sum;
    double sum_real;

    (void)user;
    if (json_is_integer(x) && json_is_integer(y) &&
        !__builtin_add_overflow(json_integer_value(x), json_integer_value(y), &sum))
        return answer_sum(req, res, json_integer(sum));
    sum_real = json_number_value(x) + json_number_value(y);
    /* JSON has no infinity: json_real() refuses it, which used to answer 500. */
    if (!isfinite(sum_real)) {
        (void)wsr_response_param_error(res, "x", "x + y is too large");
        return wsr_response_param_error(res, "y", "x + y is too large");
    }
    return answer_sum(req, res, json_real(sum_real));
}

static const wsr_route_t math_routes[] = {
    {.name = "add",
     .methods = WSR_GET | WSR_POST,
     .url = "/math/add",
     .handler = on_add,
     .params = WSR_PARAMS(
         {.name = "x", .type = WSR_TYPE_NUMBER, .required = true, .doc = "first addend"},
         {.name = "y", .type = WSR_TYPE_NUMBER, .required = true, .doc = "second addend"}),
     .doc = "Add x and y and answer the sum (tcpy's addition example: to a tcpy client, "
            "{solution})."},
    WSR_ROUTES_END,
};

int wsr_routes_math(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, math_routes, NULL, err);
}
