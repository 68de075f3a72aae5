/* SPDX-License-Identifier: MIT */
/*
 * aiorest-ws's examples in wsrouter's terms: GET /hello, GET
 * /hello/{user}/{id} and GET /calc/sum over args.digits (its README and
 * method_based_api), and GET /sum/{digit_1}/{digit_2} (function_based_api).
 */
#include "routes.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

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

/* An integer as Python's int() reads one (blanks around allowed), else 0:
 * what aiorest-ws's function-based example does with a path part. */
static long long int_or_zero(const char *s)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    return end == s || *end != '\0' || errno != 0 ? 0 : v;
}

static int on_sum_path(wsr_request_t *req, wsr_response_t *res, void *user)
{
    long long a = int_or_zero(wsr_request_arg_string(req, "digit_1"));
    long long b = int_or_zero(wsr_request_arg_string(req, "digit_2"));

    (void)user;
    /* Addends whose sum would overflow count as 0, as other bad input does. */
    if ((a > 0 && b > LLONG_MAX - a) || (a < 0 && b < LLONG_MIN - a))
        a = b = 0;
    return wsr_response_set_data_take(res, json_sprintf("%lld + %lld = %lld", a, b, a + b));
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
    {.name = "sum_path",
     .methods = WSR_GET,
     .url = "/sum/{digit_1}/{digit_2}",
     .handler = on_sum_path,
     .params = WSR_PARAMS(
         {.name = "digit_1", .type = WSR_TYPE_STRING, .required = true, .doc = "first addend"},
         {.name = "digit_2", .type = WSR_TYPE_STRING, .required = true, .doc = "second addend"}),
     .doc = "Answer \"A + B = C\"; a part that is not an integer counts as 0."},
    WSR_ROUTES_END,
};

int wsr_routes_hello(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, hello_routes, NULL, err);
}
