/* SPDX-License-Identifier: MIT */
/*
 * Tests for routes/echo.c: `echo` answers its data, for every JSON type, in
 * every message encoding, with exact reply bytes (compact JSON, U+2028 and
 * U+2029 escaped).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsrouter/wsrouter.h"
#include "routes.h"

/* POST /echo with `data` answers 200 with `want` as data. */
static void expect_echo(wsr_router_t *router, const char *data, const char *want)
{
    char msg[1024], expected[1024];

    snprintf(msg, sizeof(msg), "{\"method\":\"POST\",\"url\":\"/echo\",\"data\":%s}", data);
    snprintf(expected, sizeof(expected), "{\"status\":200,\"data\":%s,\"event_name\":null}", want);
    tu_expect_reply(router, msg, expected);
}

static int setup(void **state)
{
    return tu_router_setup(state, wsr_routes_echo);
}

static void test_echo__scalars(void **state)
{
    tu_router_fixture_t *fx = *state;

    expect_echo(fx->router, "null", "null");
    expect_echo(fx->router, "true", "true");
    expect_echo(fx->router, "false", "false");
    expect_echo(fx->router, "0", "0");
    expect_echo(fx->router, "-42", "-42");
    expect_echo(fx->router, "9223372036854775807", "9223372036854775807");
    expect_echo(fx->router, "-9223372036854775808", "-9223372036854775808");
}

static void test_echo__reals_keep_a_fraction_or_exponent(void **state)
{
    tu_router_fixture_t *fx = *state;

    expect_echo(fx->router, "1.0", "1.0");
    expect_echo(fx->router, "1.5", "1.5");
    expect_echo(fx->router, "-0.0", "-0.0");
    expect_echo(fx->router, "0.1", "0.1");
    expect_echo(fx->router, "1e300", "1e+300");
    expect_echo(fx->router, "2.5E-5", "2.5e-05");
    expect_echo(fx->router, "123456789012345678901234567890.0", "1.2345678901234568e+29");
    expect_echo(fx->router, "3.141592653589793", "3.141592653589793");
}

static void test_echo__strings(void **state)
{
    tu_router_fixture_t *fx = *state;

    expect_echo(fx->router, "\"\"", "\"\"");
    expect_echo(fx->router, "\"plain\"", "\"plain\"");
    expect_echo(fx->router, "\"q\\\"b\\\\s\\/\"", "\"q\\\"b\\\\s/\"");
    expect_echo(fx->router, "\"\\b\\f\\n\\r\\t\\u0001\\u001f\"",
                "\"\\b\\f\\n\\r\\t\\u0001\\u001f\"");
    expect_echo(fx->router, "\"\\u00e9\xc3\xa9\"", "\"\xc3\xa9\xc3\xa9\"");
    expect_echo(fx->router, "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    /* U+2028 and U+2029 are escaped, whichever way they arrived. */
    expect_echo(fx->router,
                "\"a\\u2028b\xe2\x80\xa9"
                "c\"",
                "\"a\\u2028b\\u2029c\"");
    expect_echo(fx->router, "\"\\u007f\"", "\"\x7f\"");
}

static void test_echo__arrays_and_objects(void **state)
{
    tu_router_fixture_t *fx = *state;

    expect_echo(fx->router, "[]", "[]");
    expect_echo(fx->router, "{}", "{}");
    expect_echo(fx->router, "[1, \"two\", 3.0, null, true, [], {}]",
                "[1,\"two\",3.0,null,true,[],{}]");
    /* Members keep their order. */
    expect_echo(fx->router, "{\"z\": 1, \"a\": {\"y\": [ {\"x\": false} ]}, \"m\": \"\"}",
                "{\"z\":1,\"a\":{\"y\":[{\"x\":false}]},\"m\":\"\"}");
    expect_echo(fx->router, "{\"\xc3\xa9\": \"\\u2029\"}", "{\"\xc3\xa9\":\"\\u2029\"}");
    expect_echo(fx->router, "[[[[[[[[[[1]]]]]]]]]]", "[[[[[[[[[[1]]]]]]]]]]");
}

static void test_echo__without_data_answers_null(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/echo\"}",
                    "{\"status\":200,\"data\":null,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"echo\",\"id\":\"e\"}",
                    "{\"status\":200,\"data\":null,\"id\":\"e\",\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"echo\",\"data\":{\"a\":1},\"event_name\":[1]}",
                    "{\"status\":200,\"data\":{\"a\":1},\"event_name\":[1]}");
}

static void test_echo__methods(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"PUT\",\"url\":\"/echo\",\"data\":7}",
                    "{\"status\":200,\"data\":7,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/echo\",\"data\":7}",
                    "{\"status\":200,\"data\":7,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"HEAD\",\"url\":\"/echo\",\"data\":7}",
                    "{\"status\":200,\"data\":null,\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"method\":\"DELETE\",\"url\":\"/echo\"}",
        "{\"status\":405,\"detail\":\"method DELETE is not allowed on /echo\",\"allow\":["
        "\"GET\",\"POST\",\"PUT\"],\"event_name\":null}");
}

static void test_echo__base64_in_base64_out(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_base64(fx->router,
                     "{\"method\":\"POST\",\"url\":\"/echo\",\"data\":[1,\"\xc3\xa9\"]}", false,
                     "{\"status\":200,\"data\":[1,\"\xc3\xa9\"],\"event_name\":null}");
    tu_expect_base64(fx->router, "{\"cmd\":\"echo\",\"data\":{\"k\":\"v\"},\"event_name\":\"e\"}",
                     true, "{\"status\":200,\"data\":{\"k\":\"v\"},\"event_name\":\"e\"}");
    /* A text frame whose first non-blank byte is '{' is JSON. */
    tu_expect_reply(fx->router, " \n {\"cmd\":\"echo\",\"data\":1}",
                    "{\"status\":200,\"data\":1,\"event_name\":null}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo__scalars, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_echo__reals_keep_a_fraction_or_exponent, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_echo__strings, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_echo__arrays_and_objects, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_echo__without_data_answers_null, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_echo__methods, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_echo__base64_in_base64_out, setup, tu_router_teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("echo", tests, NULL, NULL);
}
