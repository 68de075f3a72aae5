/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/params.c: declared parameters per type (JSON values accepted
 * or refused with their exact message, text from the path and the query
 * converted), required parameters, defaults (checked when the table is
 * added), undeclared arguments, the 422 reply, and out-of-memory sweeps over
 * wsr_router_add and wsr_router_call (STYLE T5).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsrouter/wsrouter.h"
#include "routes.h"
#include "core/base64_int.h"
#include "core/router_int.h"

typedef struct fixture {
    wsr_router_t *router;
    long live0;
} fixture_t;

static int answer_args(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)user;
    return wsr_response_set_data_take(res, json_incref(wsr_request_args(req)));
}

/* Changes its arguments in place, as a handler holding them may. */
static int mutate_args(wsr_request_t *req, wsr_response_t *res, void *user)
{
    json_t *args = wsr_request_args(req);

    (void)user;
    if (json_array_append_new(json_object_get(args, "a"), json_integer(1)) != 0 ||
        json_object_set_new(json_object_get(args, "o"), "x", json_true()) != 0)
        return WSR_ENOMEM;
    return wsr_response_set_data_take(res, json_incref(args));
}

static const wsr_route_t param_routes[] = {
    {.name = "typed",
     .methods = WSR_GET | WSR_POST,
     .url = "/t",
     .handler = answer_args,
     .params =
         WSR_PARAMS({.name = "s", .type = WSR_TYPE_STRING}, {.name = "i", .type = WSR_TYPE_INT},
                    {.name = "n", .type = WSR_TYPE_NUMBER}, {.name = "b", .type = WSR_TYPE_BOOL},
                    {.name = "o", .type = WSR_TYPE_OBJECT}, {.name = "a", .type = WSR_TYPE_ARRAY},
                    {.name = "y", .type = WSR_TYPE_ANY}),
     .doc = "Every type, all optional."},
    {.name = "required",
     .methods = WSR_GET | WSR_POST,
     .url = "/r",
     .handler = answer_args,
     .params = WSR_PARAMS({.name = "x", .type = WSR_TYPE_INT, .required = true},
                          {.name = "label", .type = WSR_TYPE_STRING, .required = true},
                          {.name = "opt", .type = WSR_TYPE_BOOL}),
     .doc = "Two required parameters."},
    {.name = "defaults",
     .methods = WSR_GET | WSR_POST,
     .url = "/d",
     .handler = answer_args,
     .params = WSR_PARAMS({.name = "s", .type = WSR_TYPE_STRING, .def = "\"dflt\""},
                          {.name = "i", .type = WSR_TYPE_INT, .def = "7"},
                          {.name = "n", .type = WSR_TYPE_NUMBER, .def = "2.5"},
                          {.name = "b", .type = WSR_TYPE_BOOL, .def = "true"},
                          {.name = "o", .type = WSR_TYPE_OBJECT, .def = "{\"k\":[1]}"},
                          {.name = "a", .type = WSR_TYPE_ARRAY, .def = "[0]"},
                          {.name = "y", .type = WSR_TYPE_ANY, .def = "null"}),
     .doc = "A default for every type."},
    {.name = "path_int",
     .methods = WSR_GET,
     .url = "/p/{v}",
     .handler = answer_args,
     .params = WSR_PARAMS({.name = "v",
                           .type = WSR_TYPE_INT,
                           .required = true,
                           .doc = "an untyped segment declared int"})},
    {.name = "path_typed",
     .methods = WSR_GET,
     .url = "/pt/{v:int}/{w:number}",
     .handler = answer_args,
     .params = WSR_PARAMS({.name = "extra", .type = WSR_TYPE_STRING})},
    {.name = "path_bool",
     .methods = WSR_GET,
     .url = "/pb/{flag}",
     .handler = answer_args,
     .params = WSR_PARAMS({.name = "flag", .type = WSR_TYPE_BOOL, .required = true})},
    {.name = "mutator",
     .methods = WSR_POST,
     .url = "/mut",
     .handler = mutate_args,
     .params = WSR_PARAMS({.name = "a", .type = WSR_TYPE_ARRAY, .def = "[0]"},
                          {.name = "o", .type = WSR_TYPE_OBJECT, .def = "{}"})},
    WSR_ROUTES_END,
};

/* POST /t with args {"<param>":<value>}: answers {"<param>":<want>} when
 * `want` is given, else 422 with `message`. */
static void expect_json_arg(wsr_router_t *router, const char *param, const char *value,
                            const char *want, const char *message)
{
    char msg[512], expected[1024];

    snprintf(msg, sizeof(msg), "{\"method\":\"POST\",\"url\":\"/t\",\"args\":{\"%s\":%s}}", param,
             value);
    if (want != NULL)
        snprintf(expected, sizeof(expected),
                 "{\"status\":200,\"data\":{\"%s\":%s},\"event_name\":null}", param, want);
    else
        snprintf(
            expected, sizeof(expected),
            "{\"status\":422,\"detail\":\"invalid parameter %s: %s\",\"errors\":{\"%s\":\"%s\"},"
            "\"event_name\":null}",
            param, message ? message : "", param, message ? message : "");
    tu_expect_reply(router, msg, expected);
}

/* GET /t?<param>=<text>: like expect_json_arg, for text that is converted.
 * A refusal quotes the decoded text: `got` (may hold JSON escapes). */
static void expect_text_arg(wsr_router_t *router, const char *param, const char *text,
                            const char *want, const char *message, const char *got)
{
    char msg[512], expected[1024];

    snprintf(msg, sizeof(msg), "{\"method\":\"GET\",\"url\":\"/t?%s=%s\"}", param, text);
    if (want != NULL)
        snprintf(expected, sizeof(expected),
                 "{\"status\":200,\"data\":{\"%s\":%s},\"event_name\":null}", param, want);
    else
        snprintf(expected, sizeof(expected),
                 "{\"status\":422,\"detail\":\"invalid parameter %s: %s (got \\\"%s\\\")\","
                 "\"errors\":{\"%s\":\"%s (got \\\"%s\\\")\"},\"event_name\":null}",
                 param, message ? message : "", got ? got : "", param, message ? message : "",
                 got ? got : "");
    tu_expect_reply(router, msg, expected);
}

/* Adds a one-route table and expects it refused with `text`. */
static void expect_table_refused(fixture_t *fx, const wsr_route_t *table, const char *text)
{
    size_t before = wsr_router_count(fx->router);
    long live = tu_live_blocks();
    wsr_error_t err;

    assert_int_equal(wsr_router_add(fx->router, table, NULL, &err), WSR_EINVAL);
    assert_int_equal(err.code, WSR_EINVAL);
    assert_string_equal(err.text, text);
    assert_string_equal(err.key, table[0].name);
    assert_int_equal(wsr_router_count(fx->router), before);
    assert_int_equal(tu_live_blocks(), live);
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->live0 = tu_live_blocks();
    fx->router = wsr_router_new();
    if (fx->router == NULL || wsr_router_add(fx->router, param_routes, NULL, NULL) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    long live0 = fx->live0;

    wsr_router_free(fx->router);
    free(fx);
    assert_int_equal(tu_live_blocks(), live0);
    return 0;
}

/* ---- JSON values per type ---- */

static void test_params__string_accepts_only_strings(void **state)
{
    fixture_t *fx = *state;

    expect_json_arg(fx->router, "s", "\"x\"", "\"x\"", NULL);
    expect_json_arg(fx->router, "s", "\"\"", "\"\"", NULL);
    expect_json_arg(fx->router, "s", "\"\\u00e9\\n\"", "\"\xc3\xa9\\n\"", NULL);
    expect_json_arg(fx->router, "s", "5", NULL, "must be a string");
    expect_json_arg(fx->router, "s", "true", NULL, "must be a string");
    expect_json_arg(fx->router, "s", "null", NULL, "must be a string");
    expect_json_arg(fx->router, "s", "[\"x\"]", NULL, "must be a string");
    expect_json_arg(fx->router, "s", "{}", NULL, "must be a string");
}

static void test_params__int_accepts_integers_and_integral_reals(void **state)
{
    fixture_t *fx = *state;

    expect_json_arg(fx->router, "i", "5", "5", NULL);
    expect_json_arg(fx->router, "i", "-5", "-5", NULL);
    expect_json_arg(fx->router, "i", "0", "0", NULL);
    expect_json_arg(fx->router, "i", "9223372036854775807", "9223372036854775807", NULL);
    expect_json_arg(fx->router, "i", "-9223372036854775808", "-9223372036854775808", NULL);
    expect_json_arg(fx->router, "i", "2.0", "2", NULL);
    expect_json_arg(fx->router, "i", "-3.0", "-3", NULL);
    expect_json_arg(fx->router, "i", "1e3", "1000", NULL);
    expect_json_arg(fx->router, "i", "9007199254740992.0", "9007199254740992", NULL);
    expect_json_arg(fx->router, "i", "2.5", NULL, "must be an integer");
    expect_json_arg(fx->router, "i", "1e300", NULL, "must be an integer");
    expect_json_arg(fx->router, "i", "18014398509481984.0", NULL, "must be an integer");
    expect_json_arg(fx->router, "i", "\"5\"", NULL, "must be an integer");
    expect_json_arg(fx->router, "i", "true", NULL, "must be an integer");
    expect_json_arg(fx->router, "i", "null", NULL, "must be an integer");
    expect_json_arg(fx->router, "i", "[5]", NULL, "must be an integer");
}

static void test_params__number_accepts_integers_and_reals(void **state)
{
    fixture_t *fx = *state;

    expect_json_arg(fx->router, "n", "5", "5", NULL);
    expect_json_arg(fx->router, "n", "2.5", "2.5", NULL);
    expect_json_arg(fx->router, "n", "2.0", "2.0", NULL);
    expect_json_arg(fx->router, "n", "-1e-3", "-0.001", NULL);
    expect_json_arg(fx->router, "n", "\"5\"", NULL, "must be a number");
    expect_json_arg(fx->router, "n", "false", NULL, "must be a number");
    expect_json_arg(fx->router, "n", "null", NULL, "must be a number");
    expect_json_arg(fx->router, "n", "{}", NULL, "must be a number");
}

static void test_params__bool_accepts_only_booleans(void **state)
{
    fixture_t *fx = *state;

    expect_json_arg(fx->router, "b", "true", "true", NULL);
    expect_json_arg(fx->router, "b", "false", "false", NULL);
    expect_json_arg(fx->router, "b", "1", NULL, "must be a boolean");
    expect_json_arg(fx->router, "b", "0", NULL, "must be a boolean");
    expect_json_arg(fx->router, "b", "\"true\"", NULL, "must be a boolean");
    expect_json_arg(fx->router, "b", "null", NULL, "must be a boolean");
}

static void test_params__object_and_array_accept_only_their_kind(void **state)
{
    fixture_t *fx = *state;

    expect_json_arg(fx->router, "o", "{}", "{}", NULL);
    expect_json_arg(fx->router, "o", "{\"a\":[1,{\"b\":null}]}", "{\"a\":[1,{\"b\":null}]}", NULL);
    expect_json_arg(fx->router, "o", "[]", NULL, "must be an object");
    expect_json_arg(fx->router, "o", "\"{}\"", NULL, "must be an object");
    expect_json_arg(fx->router, "o", "null", NULL, "must be an object");
    expect_json_arg(fx->router, "a", "[]", "[]", NULL);
    expect_json_arg(fx->router, "a", "[1,\"x\",[true]]", "[1,\"x\",[true]]", NULL);
    expect_json_arg(fx->router, "a", "{}", NULL, "must be an array");
    expect_json_arg(fx->router, "a", "\"[]\"", NULL, "must be an array");
    expect_json_arg(fx->router, "a", "3", NULL, "must be an array");
}

static void test_params__any_accepts_everything_as_sent(void **state)
{
    fixture_t *fx = *state;
    static const char *const values[] = {
        "null", "true", "false", "0", "-1.5", "\"x\"", "[]", "{}", "[1,{\"a\":\"b\"}]"};

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        expect_json_arg(fx->router, "y", values[i], values[i], NULL);
}

/* ---- text from the query string and the path ---- */

static void test_params__query_text_is_converted_to_int(void **state)
{
    fixture_t *fx = *state;

    expect_text_arg(fx->router, "i", "42", "42", NULL, NULL);
    expect_text_arg(fx->router, "i", "-7", "-7", NULL, NULL);
    expect_text_arg(fx->router, "i", "007", "7", NULL, NULL);
    expect_text_arg(fx->router, "i", "9223372036854775807", "9223372036854775807", NULL, NULL);
    expect_text_arg(fx->router, "i", "4.5", NULL, "must be an integer", "4.5");
    expect_text_arg(fx->router, "i", "abc", NULL, "must be an integer", "abc");
    expect_text_arg(fx->router, "i", "42abc", NULL, "must be an integer", "42abc");
    expect_text_arg(fx->router, "i", "%2042", NULL, "must be an integer", " 42");
    expect_text_arg(fx->router, "i", "9223372036854775808", NULL, "must be an integer",
                    "9223372036854775808");
}

static void test_params__query_text_is_converted_to_number(void **state)
{
    fixture_t *fx = *state;

    expect_text_arg(fx->router, "n", "4.5", "4.5", NULL, NULL);
    expect_text_arg(fx->router, "n", "42", "42", NULL, NULL);
    expect_text_arg(fx->router, "n", "-0.5", "-0.5", NULL, NULL);
    expect_text_arg(fx->router, "n", "1e3", "1000.0", NULL, NULL);
    expect_text_arg(fx->router, "n", "inf", NULL, "must be a number", "inf");
    expect_text_arg(fx->router, "n", "NaN", NULL, "must be a number", "NaN");
    expect_text_arg(fx->router, "n", "0x10", NULL, "must be a number", "0x10");
    expect_text_arg(fx->router, "n", "1e999", NULL, "must be a number", "1e999");
    /* Too small for a double rounds towards zero, as in a JSON body; only
     * overflow is refused (strtod's ERANGE flags both). */
    expect_text_arg(fx->router, "n", "1e-400", "0.0", NULL, NULL);
    expect_text_arg(fx->router, "n", "-1e-400", "-0.0", NULL, NULL);
    expect_text_arg(fx->router, "n", "4.5.6", NULL, "must be a number", "4.5.6");
}

static void test_params__query_text_is_converted_to_bool(void **state)
{
    fixture_t *fx = *state;

    expect_text_arg(fx->router, "b", "true", "true", NULL, NULL);
    expect_text_arg(fx->router, "b", "1", "true", NULL, NULL);
    expect_text_arg(fx->router, "b", "false", "false", NULL, NULL);
    expect_text_arg(fx->router, "b", "0", "false", NULL, NULL);
    expect_text_arg(fx->router, "b", "yes", NULL, "must be a boolean", "yes");
    expect_text_arg(fx->router, "b", "TRUE", NULL, "must be a boolean", "TRUE");
}

static void test_params__empty_query_text_is_refused_by_type(void **state)
{
    fixture_t *fx = *state;

    /* The pair before keeps this test off a codec.c bug: a query whose first
     * value is empty ("?i=") answers 500 (see the report). */
    tu_expect_reply(
        fx->router, "{\"method\":\"GET\",\"url\":\"/t?q=1&i=&n=&b=&s=&y=\"}",
        "{\"status\":422,\"detail\":\"invalid parameters: i, n, b\",\"errors\":{\"i\":"
        "\"must be an integer (got \\\"\\\")\",\"n\":\"must be a number (got \\\"\\\")\","
        "\"b\":\"must be a boolean (got \\\"\\\")\"},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"method\":\"GET\",\"url\":\"/t?q=1&s=&y=\"}",
        "{\"status\":200,\"data\":{\"q\":\"1\",\"s\":\"\",\"y\":\"\"},\"event_name\":null}");
}

static void test_params__query_text_is_parsed_as_json_for_object_and_array(void **state)
{
    fixture_t *fx = *state;

    expect_text_arg(fx->router, "o", "%7B%22a%22%3A1%7D", "{\"a\":1}", NULL, NULL);
    expect_text_arg(fx->router, "o", "%7B%7D", "{}", NULL, NULL);
    expect_text_arg(fx->router, "o", "%5B1%5D", NULL, "must be an object", "[1]");
    expect_text_arg(fx->router, "o", "nope", NULL, "must be an object", "nope");
    expect_text_arg(fx->router, "o", "%7B%22a%22%3A1%2C%22a%22%3A2%7D", NULL, "must be an object",
                    "{\\\"a\\\":1,\\\"a\\\":2}");
    expect_text_arg(fx->router, "a", "%5B1%2C2%5D", "[1,2]", NULL, NULL);
    expect_text_arg(fx->router, "a", "[]", "[]", NULL, NULL);
    expect_text_arg(fx->router, "a", "%7B%7D", NULL, "must be an array", "{}");
    expect_text_arg(fx->router, "a", "1", NULL, "must be an array", "1");
}

static void test_params__query_text_stays_text_for_string_and_any(void **state)
{
    fixture_t *fx = *state;

    expect_text_arg(fx->router, "s", "42", "\"42\"", NULL, NULL);
    expect_text_arg(fx->router, "s", "a+b", "\"a b\"", NULL, NULL);
    expect_text_arg(fx->router, "y", "42", "\"42\"", NULL, NULL);
    expect_text_arg(fx->router, "y", "true", "\"true\"", NULL, NULL);
}

static void test_params__path_text_is_converted(void **state)
{
    fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/p/42\"}",
                    "{\"status\":200,\"data\":{\"v\":42},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/p/x\"}",
                    "{\"status\":422,\"detail\":\"invalid parameter v: must be an integer (got "
                    "\\\"x\\\")\",\"errors\":{\"v\":\"must be an integer (got \\\"x\\\")\"},"
                    "\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/pb/1\"}",
                    "{\"status\":200,\"data\":{\"flag\":true},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/pb/false\"}",
                    "{\"status\":200,\"data\":{\"flag\":false},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/pt/-3/0.5?extra=e\"}",
                    "{\"status\":200,\"data\":{\"v\":-3,\"w\":0.5,\"extra\":\"e\"},\"event_name\":"
                    "null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/pt/3/4\"}",
                    "{\"status\":200,\"data\":{\"v\":3,\"w\":4},\"event_name\":null}");
}

static void test_params__lookup_order_is_path_args_query_default(void **state)
{
    fixture_t *fx = *state;

    /* The path wins over args and the query. */
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/p/1?v=2\",\"args\":{\"v\":3}}",
                    "{\"status\":200,\"data\":{\"v\":1},\"event_name\":null}");
    /* JSON args win over the query, even when they are invalid. */
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/d?i=2\",\"args\":{\"i\":3}}",
                    "{\"status\":200,\"data\":{\"s\":\"dflt\",\"i\":3,\"n\":2.5,\"b\":true,\"o\":{"
                    "\"k\":[1]},\"a\":[0],\"y\":null},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/t?i=2\",\"args\":{\"i\":\"2\"}}",
                    "{\"status\":422,\"detail\":\"invalid parameter i: must be an integer\","
                    "\"errors\":{\"i\":\"must be an integer\"},\"event_name\":null}");
    /* The query wins over the default. */
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/d?i=2&s=q\"}",
                    "{\"status\":200,\"data\":{\"s\":\"q\",\"i\":2,\"n\":2.5,\"b\":true,\"o\":{"
                    "\"k\":[1]},\"a\":[0],\"y\":null},\"event_name\":null}");
}

/* ---- required, defaults, undeclared ---- */

static void test_params__required_parameters_must_be_given(void **state)
{
    fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/r\",\"args\":{\"label\":\"l\"}}",
                    "{\"status\":422,\"detail\":\"invalid parameter x: is required\",\"errors\":{"
                    "\"x\":\"is required\"},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/r?x=1&label=l\"}",
                    "{\"status\":200,\"data\":{\"x\":1,\"label\":\"l\"},\"event_name\":null}");
    /* null is a value, and not an integer. */
    tu_expect_reply(fx->router, "{\"cmd\":\"required\",\"x\":null,\"label\":\"l\"}",
                    "{\"status\":422,\"detail\":\"invalid parameter x: must be an integer\","
                    "\"errors\":{\"x\":\"must be an integer\"},\"event_name\":null}");
    /* An absent optional parameter stays absent. */
    tu_expect_reply(fx->router, "{\"cmd\":\"required\",\"x\":1,\"label\":\"\"}",
                    "{\"status\":200,\"data\":{\"x\":1,\"label\":\"\"},\"event_name\":null}");
}

static void test_params__422_detail_names_one_or_several_parameters(void **state)
{
    fixture_t *fx = *state;

    tu_expect_reply(
        fx->router, "{\"method\":\"POST\",\"url\":\"/r\",\"id\":\"q1\"}",
        "{\"status\":422,\"detail\":\"invalid parameters: x, label\",\"errors\":{\"x\":"
        "\"is required\",\"label\":\"is required\"},\"id\":\"q1\",\"event_name\":null}");
    tu_expect_reply(
        fx->router,
        "{\"method\":\"POST\",\"url\":\"/t?b=maybe\",\"args\":{\"s\":1,\"i\":1.5,\"a\":{}"
        ",\"y\":\"fine\"},\"event_name\":\"ev\"}",
        "{\"status\":422,\"detail\":\"invalid parameters: s, i, b, a\",\"errors\":{\"s\":"
        "\"must be a string\",\"i\":\"must be an integer\",\"b\":\"must be a boolean (got "
        "\\\"maybe\\\")\",\"a\":\"must be an array\"},\"event_name\":\"ev\"}");
}

static void test_params__defaults_fill_absent_parameters(void **state)
{
    fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/d\"}",
                    "{\"status\":200,\"data\":{\"s\":\"dflt\",\"i\":7,\"n\":2.5,\"b\":true,\"o\":{"
                    "\"k\":[1]},\"a\":[0],\"y\":null},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"cmd\":\"defaults\",\"args\":{\"b\":false,\"a\":[],\"o\":{},\"y\":[1]}}",
        "{\"status\":200,\"data\":{\"s\":\"dflt\",\"i\":7,\"n\":2.5,\"b\":false,\"o\":{},"
        "\"a\":[],\"y\":[1]},\"event_name\":null}");
    /* A given value is still checked. */
    tu_expect_reply(fx->router, "{\"cmd\":\"defaults\",\"args\":{\"i\":\"7\"}}",
                    "{\"status\":422,\"detail\":\"invalid parameter i: must be an integer\","
                    "\"errors\":{\"i\":\"must be an integer\"},\"event_name\":null}");
}

static void test_params__defaults_are_not_shared_between_requests(void **state)
{
    fixture_t *fx = *state;

    /* A handler that changes its arguments must not change the default the
     * next request gets (nor race with another thread reading it). */
    for (int i = 0; i < 3; i++)
        tu_expect_reply(fx->router, "{\"method\":\"POST\",\"url\":\"/mut\"}",
                        "{\"status\":200,\"data\":{\"a\":[0,1],\"o\":{\"x\":true}},\"event_name\":"
                        "null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/_/none\"}",
                    "{\"status\":404,\"detail\":\"no route for /_/none\",\"event_name\":null}");
}

static void test_params__int_default_may_be_an_integral_real(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t table[] = {
        {.name = "int_default",
         .methods = WSR_GET,
         .url = "/id",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "i", .type = WSR_TYPE_INT, .def = "3.0"})},
        WSR_ROUTES_END,
    };

    /* WSR_TYPE_INT is "a JSON integer, or a real with an integral value":
     * the default follows the same rule, and is given as an integer. */
    assert_int_equal(wsr_router_add(fx->router, table, NULL, NULL), 0);
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/id\"}",
                    "{\"status\":200,\"data\":{\"i\":3},\"event_name\":null}");
}

static void test_params__undeclared_args_pass_through(void **state)
{
    fixture_t *fx = *state;

    tu_expect_reply(
        fx->router,
        "{\"method\":\"POST\",\"url\":\"/t?q=1&i=5\",\"args\":{\"extra\":{\"deep\":[1]},"
        "\"n\":1.5,\"q\":2}}",
        "{\"status\":200,\"data\":{\"q\":2,\"extra\":{\"deep\":[1]},\"i\":5,\"n\":1.5},"
        "\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"typed\",\"zz\":null,\"s\":\"a\"}",
                    "{\"status\":200,\"data\":{\"zz\":null,\"s\":\"a\"},\"event_name\":null}");
}

/* ---- registration checks ---- */

static void test_params__bad_default_is_refused(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t not_json[] = {
        {.name = "r1",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "p", .type = WSR_TYPE_STRING, .def = "abc"})},
        WSR_ROUTES_END,
    };
    const wsr_route_t trailing[] = {
        {.name = "r2",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "p", .type = WSR_TYPE_ARRAY, .def = "[1,"})},
        WSR_ROUTES_END,
    };
    const wsr_route_t wrong_int[] = {
        {.name = "r3",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "p", .type = WSR_TYPE_INT, .def = "\"7\""})},
        WSR_ROUTES_END,
    };
    const wsr_route_t fraction[] = {
        {.name = "r4",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "p", .type = WSR_TYPE_INT, .def = "7.5"})},
        WSR_ROUTES_END,
    };
    const wsr_route_t wrong_kinds[] = {
        {.name = "r5",
         .methods = WSR_GET,
         .url = "/r5",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "ok", .type = WSR_TYPE_NUMBER, .def = "1"},
                              {.name = "p", .type = WSR_TYPE_OBJECT, .def = "[]"})},
        WSR_ROUTES_END,
    };
    const wsr_route_t wrong_bool[] = {
        {.name = "r6",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "p", .type = WSR_TYPE_BOOL, .def = "1"})},
        WSR_ROUTES_END,
    };
    const wsr_route_t wrong_string[] = {
        {.name = "r7",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "p", .type = WSR_TYPE_STRING, .def = "null"})},
        WSR_ROUTES_END,
    };

    expect_table_refused(fx, not_json,
                         "route 'r1': default of parameter 'p' is not JSON: invalid token near "
                         "'abc'");
    expect_table_refused(fx, trailing,
                         "route 'r2': default of parameter 'p' is not JSON: ']' expected near end "
                         "of file");
    expect_table_refused(fx, wrong_int, "route 'r3': default of parameter 'p' must be an integer");
    expect_table_refused(fx, fraction, "route 'r4': default of parameter 'p' must be an integer");
    expect_table_refused(fx, wrong_kinds, "route 'r5': default of parameter 'p' must be an object");
    expect_table_refused(fx, wrong_bool, "route 'r6': default of parameter 'p' must be a boolean");
    expect_table_refused(fx, wrong_string, "route 'r7': default of parameter 'p' must be a string");
}

static void test_params__required_parameter_with_default_is_refused(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t table[] = {
        {.name = "req_def",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "p", .type = WSR_TYPE_INT, .required = true, .def = "1"})},
        WSR_ROUTES_END,
    };

    expect_table_refused(fx, table,
                         "route 'req_def': parameter 'p' is required and cannot have a default");
}

static void test_params__path_parameter_declarations_are_checked(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t int_as_number[] = {
        {.name = "pn",
         .methods = WSR_GET,
         .url = "/pn/{id:int}",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "id", .type = WSR_TYPE_NUMBER, .required = true})},
        WSR_ROUTES_END,
    };
    const wsr_route_t number_as_int[] = {
        {.name = "pi",
         .methods = WSR_GET,
         .url = "/pi/{id:number}",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "id", .type = WSR_TYPE_INT, .required = true})},
        WSR_ROUTES_END,
    };
    const wsr_route_t int_as_string[] = {
        {.name = "ps",
         .methods = WSR_GET,
         .url = "/ps/{id:int}",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "id", .type = WSR_TYPE_STRING, .required = true})},
        WSR_ROUTES_END,
    };
    const wsr_route_t with_default[] = {
        {.name = "pd",
         .methods = WSR_GET,
         .url = "/pd/{id}",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "id", .type = WSR_TYPE_STRING, .def = "\"x\""})},
        WSR_ROUTES_END,
    };
    const wsr_route_t same_type[] = {
        {.name = "same",
         .methods = WSR_GET,
         .url = "/same/{id:int}/{s:string}",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "id", .type = WSR_TYPE_INT, .required = true, .doc = "doc"},
                              {.name = "s", .type = WSR_TYPE_NUMBER, .required = true})},
        WSR_ROUTES_END,
    };

    expect_table_refused(
        fx, int_as_number,
        "route 'pn': parameter 'id' is int in the url pattern but declared number");
    expect_table_refused(
        fx, number_as_int,
        "route 'pi': parameter 'id' is number in the url pattern but declared int");
    expect_table_refused(
        fx, int_as_string,
        "route 'ps': parameter 'id' is int in the url pattern but declared string");
    expect_table_refused(fx, with_default, "route 'pd': path parameter 'id' cannot have a default");
    /* The same type, or a type for an untyped segment, is fine. */
    assert_int_equal(wsr_router_add(fx->router, same_type, NULL, NULL), 0);
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/same/1/2.5\"}",
                    "{\"status\":200,\"data\":{\"id\":1,\"s\":2.5},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/same/1/x\"}",
                    "{\"status\":422,\"detail\":\"invalid parameter s: must be a number (got "
                    "\\\"x\\\")\",\"errors\":{\"s\":\"must be a number (got \\\"x\\\")\"},"
                    "\"event_name\":null}");
}

static void test_params__bad_declarations_are_refused(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t twice[] = {
        {.name = "twice",
         .handler = answer_args,
         .params =
             WSR_PARAMS({.name = "p", .type = WSR_TYPE_INT}, {.name = "p", .type = WSR_TYPE_INT})},
        WSR_ROUTES_END,
    };
    const wsr_route_t bad_type[] = {
        {.name = "bad_type",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "p", .type = (wsr_type_t)(WSR_TYPE_ARRAY + 1)})},
        WSR_ROUTES_END,
    };
    const wsr_route_t empty_name[] = {
        {.name = "empty_name",
         .handler = answer_args,
         .params = WSR_PARAMS({.name = "", .type = WSR_TYPE_INT})},
        WSR_ROUTES_END,
    };

    expect_table_refused(fx, twice, "route 'twice': parameter 'p' is declared twice");
    expect_table_refused(fx, bad_type, "route 'bad_type': parameter 'p' has an unknown type");
    expect_table_refused(fx, empty_name, "route 'empty_name': a parameter has an empty name");
}

static void test_params__type_names(void **state)
{
    (void)state;
    assert_string_equal(wsr_type_name(WSR_TYPE_ANY), "any");
    assert_string_equal(wsr_type_name(WSR_TYPE_STRING), "string");
    assert_string_equal(wsr_type_name(WSR_TYPE_INT), "int");
    assert_string_equal(wsr_type_name(WSR_TYPE_NUMBER), "number");
    assert_string_equal(wsr_type_name(WSR_TYPE_BOOL), "bool");
    assert_string_equal(wsr_type_name(WSR_TYPE_OBJECT), "object");
    assert_string_equal(wsr_type_name(WSR_TYPE_ARRAY), "array");
    assert_null(wsr_type_name((wsr_type_t)(WSR_TYPE_ARRAY + 1)));
    assert_null(wsr_type_name((wsr_type_t)-1));
}

/* ---- out of memory ---- */

static const wsr_route_t oom_routes[] = {
    {.name = "oom_path",
     .methods = WSR_GET | WSR_PUT,
     .url = "/oom/{id:int}/x/{name}",
     .handler = answer_args,
     .params =
         WSR_PARAMS({.name = "name", .type = WSR_TYPE_STRING, .required = true, .doc = "doc"},
                    {.name = "o", .type = WSR_TYPE_OBJECT, .def = "{\"a\":[1,2,{\"b\":null}]}"},
                    {.name = "a", .type = WSR_TYPE_ARRAY, .def = "[1,\"two\",3.5]"},
                    {.name = "i", .type = WSR_TYPE_INT, .def = "-12"}),
     .doc = "Path parameters and defaults."},
    {.name = "oom_static", .methods = WSR_GET, .url = "/oom/static/x/y", .handler = answer_args},
    {.name = "oom_other",
     .methods = WSR_POST,
     .url = "/oom/{n:number}/x/{m}",
     .handler = answer_args},
    {.name = "oom_cmd",
     .handler = answer_args,
     .params = WSR_PARAMS({.name = "s", .type = WSR_TYPE_STRING, .def = "\"s\""},
                          {.name = "b", .type = WSR_TYPE_BOOL, .required = true})},
    {.name = "oom_root", .methods = WSR_DELETE, .url = "/", .handler = answer_args},
    WSR_ROUTES_END,
};

static void expect_oom_routes_work(wsr_router_t *router)
{
    tu_expect_reply(
        router, "{\"method\":\"GET\",\"url\":\"/oom/1/x/n\"}",
        "{\"status\":200,\"data\":{\"id\":1,\"name\":\"n\",\"o\":{\"a\":[1,2,{\"b\":null}]"
        "},\"a\":[1,\"two\",3.5],\"i\":-12},\"event_name\":null}");
    tu_expect_reply(router, "{\"method\":\"POST\",\"url\":\"/oom/1.5/x/n\"}",
                    "{\"status\":200,\"data\":{\"n\":1.5,\"m\":\"n\"},\"event_name\":null}");
    tu_expect_reply(router, "{\"cmd\":\"oom_cmd\",\"b\":true}",
                    "{\"status\":200,\"data\":{\"s\":\"s\",\"b\":true},\"event_name\":null}");
}

/* Fails allocation n of wsr_router_add for every n a clean add makes. Each
 * run returns WSR_ENOMEM and leaves the router as it was, or (when the
 * failure could be recovered from) adds every route. */
static void sweep_router_add(fixture_t *fx, bool sticky)
{
    wsr_router_t *scratch = wsr_router_new();
    long n, total, failed = 0;

    assert_non_null(scratch);
    assert_int_equal(wsr_router_add(scratch, param_routes, NULL, NULL), 0);
    tu_fail_at(-1, false);
    assert_int_equal(wsr_router_add(scratch, oom_routes, NULL, NULL), 0);
    total = tu_alloc_count();
    expect_oom_routes_work(scratch);
    wsr_router_free(scratch);
    for (n = 0; n < total; n++) {
        size_t before = wsr_router_count(fx->router);
        long live = tu_live_blocks();
        wsr_error_t err;
        int rc;

        tu_fail_at(n, sticky);
        rc = wsr_router_add(fx->router, oom_routes, NULL, &err);
        tu_fail_at(-1, false);
        if (rc == 0) {
            expect_oom_routes_work(fx->router);
            wsr_router_free(fx->router);
            fx->router = wsr_router_new();
            assert_non_null(fx->router);
            assert_int_equal(wsr_router_add(fx->router, param_routes, NULL, NULL), 0);
            continue;
        }
        if (rc != WSR_ENOMEM)
            fail_msg("allocation %ld failed: got %s (%s), want WSR_ENOMEM", n, wsr_err_name(rc),
                     err.text);
        failed++;
        assert_int_equal(err.code, WSR_ENOMEM);
        assert_non_null(strstr(err.text, "out of memory"));
        assert_int_equal(wsr_router_count(fx->router), before);
        assert_int_equal(tu_live_blocks(), live);
        tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/p/5\"}",
                        "{\"status\":200,\"data\":{\"v\":5},\"event_name\":null}");
        tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/oom/1/x/n\"}",
                        "{\"status\":404,\"detail\":\"no route for /oom/1/x/n\",\"event_name\":"
                        "null}");
    }
    assert_true(total >= 20);
    assert_true(failed >= total / 2);
    assert_int_equal(wsr_router_add(fx->router, oom_routes, NULL, NULL), 0);
    expect_oom_routes_work(fx->router);
}

static void test_params__router_add_out_of_memory_changes_nothing(void **state)
{
    sweep_router_add(*state, false);
}

static void test_params__router_add_out_of_memory_sticky(void **state)
{
    sweep_router_add(*state, true);
}

/*
 * The allocations jansson makes while it parses the message itself: [*from,
 * *to). jansson 2.14 does not report every failure there: lex_save() drops
 * the byte it could not store, so the message may parse as another one. A
 * run failing one of them is only checked for its return code and leaks.
 */
static void parse_window(const char *msg, long *from, long *to)
{
    const unsigned char *json = (const unsigned char *)msg;
    size_t len = strlen(msg);
    wsr__buf_t raw;
    json_error_t jerr;
    json_t *root;

    wsr__buf_init(&raw, 0, 0);
    tu_fail_at(-1, false);
    if (msg[0] != '{') {
        assert_int_equal(wsr__base64_decode(&raw, json, len), 0);
        json = raw.data;
        len = raw.len;
    }
    *from = tu_alloc_count();
    root = json_loadb((const char *)json, len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    *to = tu_alloc_count();
    assert_non_null(root);
    json_decref(root);
    wsr__buf_dispose(&raw);
}

/* True when the reply (JSON, or base64 of JSON) is a 500. */
static bool is_500(const char *reply)
{
    static const char prefix[] = "{\"status\":500,\"detail\":\"";
    wsr__buf_t raw;
    bool yes;

    if (reply[0] == '{')
        return strncmp(reply, prefix, sizeof(prefix) - 1) == 0;
    wsr__buf_init(&raw, 0, 0);
    yes = wsr__base64_decode(&raw, (const unsigned char *)reply, strlen(reply)) == 0 &&
          raw.len >= sizeof(prefix) - 1 && memcmp(raw.data, prefix, sizeof(prefix) - 1) == 0;
    wsr__buf_dispose(&raw);
    return yes;
}

/* Sends `msg` with allocation n failing for n = 0, 1, ... until the reply is
 * `want`. Every failing run returns WSR_ENOMEM or a 500, and leaks nothing. */
static void sweep_call(wsr_router_t *router, const char *msg, const char *want, bool sticky)
{
    long n, answered_500 = 0, from, to;

    parse_window(msg, &from, &to);
    for (n = 0;; n++) {
        long live = tu_live_blocks();
        char *reply = NULL;
        size_t len = 0;
        int rc;

        tu_fail_at(n, sticky);
        rc = wsr_router_call(router, msg, strlen(msg), false, &reply, &len);
        tu_fail_at(-1, false);
        if (rc == WSR_ENOMEM) {
            assert_null(reply);
            assert_int_equal(len, 0);
        } else if (rc != 0) {
            fail_msg("%s: allocation %ld failed: got %s", msg, n, wsr_err_name(rc));
        } else if (strcmp(reply, want) == 0) {
            wsr_free(reply);
            assert_int_equal(tu_live_blocks(), live);
            break;
        } else if (is_500(reply)) {
            answered_500++;
        } else if (n < from || n >= to) {
            fail_msg("%s: allocation %ld failed: got %s, want %s or a 500", msg, n, reply, want);
        }
        wsr_free(reply);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 3);
    assert_true(sticky || answered_500 > 0);
}

static const struct {
    const char *msg, *want;
} oom_calls[] = {
    {"{\"method\":\"GET\",\"url\":\"/t?i=42&o=%7B%22k%22%3A%5B1%5D%7D&extra=%C3%A9\",\"args\":{"
     "\"n\":2.0,\"a\":[1],\"b\":true},\"id\":9,\"event_name\":\"e\"}",
     "{\"status\":200,\"data\":{\"extra\":\"\xc3\xa9\",\"i\":42,\"n\":2.0,\"b\":true,\"o\":{\"k\":"
     "[1]},\"a\":[1]},\"id\":9,\"event_name\":\"e\"}"},
    {"{\"method\":\"POST\",\"url\":\"/t\",\"args\":{\"i\":2.0}}",
     "{\"status\":200,\"data\":{\"i\":2},\"event_name\":null}"},
    {"{\"method\":\"GET\",\"url\":\"/p/%2D42\"}",
     "{\"status\":200,\"data\":{\"v\":-42},\"event_name\":null}"},
    {"{\"method\":\"GET\",\"url\":\"/pt/1/2.5\"}",
     "{\"status\":200,\"data\":{\"v\":1,\"w\":2.5},\"event_name\":null}"},
    {"{\"method\":\"GET\",\"url\":\"/t?a=%5B1%2C%7B%7D%5D\"}",
     "{\"status\":200,\"data\":{\"a\":[1,{}]},\"event_name\":null}"},
    {"{\"method\":\"GET\",\"url\":\"/d\"}",
     "{\"status\":200,\"data\":{\"s\":\"dflt\",\"i\":7,\"n\":2.5,\"b\":true,\"o\":{\"k\":[1]},"
     "\"a\":[0],\"y\":null},\"event_name\":null}"},
    {"{\"cmd\":\"required\",\"x\":\"1\"}",
     "{\"status\":422,\"detail\":\"invalid parameters: x, label\",\"errors\":{\"x\":\"must be an "
     "integer\",\"label\":\"is required\"},\"event_name\":null}"},
    {"{\"method\":\"OPTIONS\",\"url\":\"/t\"}",
     "{\"status\":200,\"data\":{\"allow\":[\"GET\",\"POST\"]},\"event_name\":null}"},
    {"{\"method\":\"PUT\",\"url\":\"/t\",\"id\":\"x\"}",
     "{\"status\":405,\"detail\":\"method PUT is not allowed on /t\",\"allow\":[\"GET\",\"POST\"],"
     "\"id\":\"x\",\"event_name\":null}"},
    {"{\"method\":\"GET\",\"url\":\"/nowhere/%C3%A9\"}",
     "{\"status\":404,\"detail\":\"no route for /nowhere/%C3%A9\",\"event_name\":null}"},
    {"{\"cmd\":\"nothing\"}", "{\"status\":404,\"detail\":\"no command named nothing\","
                              "\"event_name\":null}"},
    {"e30=", "eyJzdGF0dXMiOjQwMCwiZGV0YWlsIjoicmVxdWVzdCBuZWVkcyBtZXRob2QgYW5kIHVybCwgb3IgY21kIiwi"
             "ZXZlbnRfbmFtZSI6bnVsbH0="},
};

static void test_params__router_call_out_of_memory_answers_500_or_fails(void **state)
{
    fixture_t *fx = *state;

    for (size_t i = 0; i < sizeof(oom_calls) / sizeof(oom_calls[0]); i++) {
        /* The request is right when nothing fails. */
        tu_expect_reply(fx->router, oom_calls[i].msg, oom_calls[i].want);
        sweep_call(fx->router, oom_calls[i].msg, oom_calls[i].want, false);
        sweep_call(fx->router, oom_calls[i].msg, oom_calls[i].want, true);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_params__string_accepts_only_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__int_accepts_integers_and_integral_reals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__number_accepts_integers_and_reals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__bool_accepts_only_booleans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__object_and_array_accept_only_their_kind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__any_accepts_everything_as_sent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__query_text_is_converted_to_int, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__query_text_is_converted_to_number, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__query_text_is_converted_to_bool, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__empty_query_text_is_refused_by_type, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_params__query_text_is_parsed_as_json_for_object_and_array, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__query_text_stays_text_for_string_and_any,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__path_text_is_converted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__lookup_order_is_path_args_query_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__required_parameters_must_be_given, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__422_detail_names_one_or_several_parameters,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__defaults_fill_absent_parameters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__defaults_are_not_shared_between_requests,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__int_default_may_be_an_integral_real, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__undeclared_args_pass_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__bad_default_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__required_parameter_with_default_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__path_parameter_declarations_are_checked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__bad_declarations_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__type_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__router_add_out_of_memory_changes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_params__router_add_out_of_memory_sticky, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_params__router_call_out_of_memory_answers_500_or_fails,
                                        setup, teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("params", tests, NULL, NULL);
}
