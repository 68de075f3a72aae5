/* SPDX-License-Identifier: MIT */
/*
 * Tests for routes/hello.c: aiorest-ws's examples (GET /hello,
 * GET /hello/{user}/{id}, /calc/sum over args.digits) through
 * wsr_router_call, in JSON and in aiorest-ws's base64 binary frames.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsrouter/wsrouter.h"
#include "routes.h"

/* GET /calc/sum with args {"digits": <digits>} answers `want`. */
static void expect_sum(wsr_router_t *router, const char *digits, const char *want)
{
    char msg[512];

    snprintf(msg, sizeof(msg),
             "{\"method\":\"GET\",\"url\":\"/calc/sum\",\"args\":{\"digits\":%s}}", digits);
    tu_expect_reply(router, msg, want);
}

static int setup(void **state)
{
    return tu_router_setup(state, wsr_routes_hello);
}

static void test_hello__hello_world(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/hello\"}",
                    "{\"status\":200,\"data\":\"Hello, world!\",\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"hello\",\"event_name\":\"hi\"}",
                    "{\"status\":200,\"data\":\"Hello, world!\",\"event_name\":\"hi\"}");
    tu_expect_reply(
        fx->router, "{\"method\":\"POST\",\"url\":\"/hello\"}",
        "{\"status\":405,\"detail\":\"method POST is not allowed on /hello\",\"allow\":["
        "\"GET\"],\"event_name\":null}");
}

static void test_hello__greets_a_user_by_name_and_id(void **state)
{
    tu_router_fixture_t *fx = *state;

    /* PROTOCOL.md section 4, first example. */
    tu_expect_reply(fx->router,
                    "{\"method\":\"GET\",\"url\":\"/hello/bob/42\",\"event_name\":\"greet\"}",
                    "{\"status\":200,\"data\":\"Hello, bob with ID=42\",\"event_name\":\"greet\"}");
    tu_expect_reply(
        fx->router, "{\"method\":\"GET\",\"url\":\"/hello/J%C3%BCrgen/x-7/\"}",
        "{\"status\":200,\"data\":\"Hello, J\xc3\xbcrgen with ID=x-7\",\"event_name\":null}");
    /* "id" is the correlation id at the top level: the parameter goes in args. */
    tu_expect_reply(fx->router, "{\"cmd\":\"hello_user\",\"args\":{\"user\":\"ann\",\"id\":\"1\"}}",
                    "{\"status\":200,\"data\":\"Hello, ann with ID=1\",\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/hello/bob\"}",
                    "{\"status\":404,\"detail\":\"no route for /hello/bob\",\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"hello_user\",\"user\":\"ann\"}",
                    "{\"status\":422,\"detail\":\"invalid parameter id: is required\",\"errors\":{"
                    "\"id\":\"is required\"},\"event_name\":null}");
}

static void test_hello__long_names_are_greeted_whole(void **state)
{
    tu_router_fixture_t *fx = *state;
    size_t n = 300; /* "é" each: 600 bytes of UTF-8 */
    char *msg = malloc(64 + 6 * n), *want = malloc(96 + 2 * n), *p;

    assert_non_null(msg);
    assert_non_null(want);
    p = msg + sprintf(msg, "{\"method\":\"GET\",\"url\":\"/hello/");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%%C3%%A9");
    sprintf(p, "/1\"}");
    p = want + sprintf(want, "{\"status\":200,\"data\":\"Hello, ");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "\xc3\xa9");
    sprintf(p, " with ID=1\",\"event_name\":null}");
    tu_expect_reply(fx->router, msg, want);
    free(msg);
    free(want);
}

static void test_hello__sum_of_digits(void **state)
{
    tu_router_fixture_t *fx = *state;

    expect_sum(fx->router, "[1,2,3]", "{\"status\":200,\"data\":{\"sum\":6},\"event_name\":null}");
    expect_sum(fx->router, "[]", "{\"status\":200,\"data\":{\"sum\":0},\"event_name\":null}");
    expect_sum(fx->router, "[1,2.5]",
               "{\"status\":200,\"data\":{\"sum\":3.5},\"event_name\":null}");
    expect_sum(fx->router, "[0.5,0.5]",
               "{\"status\":200,\"data\":{\"sum\":1.0},\"event_name\":null}");
    expect_sum(fx->router, "[-4,4]", "{\"status\":200,\"data\":{\"sum\":0},\"event_name\":null}");
    expect_sum(fx->router, "[9223372036854775807,1]",
               "{\"status\":200,\"data\":{\"sum\":9.223372036854776e+18},\"event_name\":null}");
    expect_sum(fx->router, "[9223372036854775807,1,-2]",
               "{\"status\":200,\"data\":{\"sum\":9.223372036854776e+18},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"POST\",\"url\":\"/calc/sum?digits=%5B1%2C2%5D\"}",
                    "{\"status\":200,\"data\":{\"sum\":3},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"sum\",\"digits\":[10,20]}",
                    "{\"status\":200,\"data\":{\"sum\":30},\"event_name\":null}");
}

static void test_hello__sum_defaults_to_zero(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/calc/sum\"}",
                    "{\"status\":200,\"data\":{\"sum\":0},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"sum\"}",
                    "{\"status\":200,\"data\":{\"sum\":0},\"event_name\":null}");
}

static void test_hello__sum_refuses_what_is_not_numbers(void **state)
{
    tu_router_fixture_t *fx = *state;

    expect_sum(fx->router, "[1,2,\"x\"]",
               "{\"status\":422,\"detail\":\"invalid parameter digits: item 2 must be a number\","
               "\"errors\":{\"digits\":\"item 2 must be a number\"},\"event_name\":null}");
    expect_sum(fx->router, "[null]",
               "{\"status\":422,\"detail\":\"invalid parameter digits: item 0 must be a number\","
               "\"errors\":{\"digits\":\"item 0 must be a number\"},\"event_name\":null}");
    expect_sum(fx->router, "[[1]]",
               "{\"status\":422,\"detail\":\"invalid parameter digits: item 0 must be a number\","
               "\"errors\":{\"digits\":\"item 0 must be a number\"},\"event_name\":null}");
    expect_sum(fx->router, "5",
               "{\"status\":422,\"detail\":\"invalid parameter digits: must be an array\","
               "\"errors\":{\"digits\":\"must be an array\"},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/calc/sum?digits=1,2\"}",
                    "{\"status\":422,\"detail\":\"invalid parameter digits: must be an array (got "
                    "\\\"1,2\\\")\",\"errors\":{\"digits\":\"must be an array (got \\\"1,2\\\")\"},"
                    "\"event_name\":null}");
    /* JSON has no infinity. */
    expect_sum(fx->router, "[1e308,1e308]",
               "{\"status\":422,\"detail\":\"invalid parameter digits: the sum is too large\","
               "\"errors\":{\"digits\":\"the sum is too large\"},\"event_name\":null}");
}

static void test_hello__aiorest_ws_binary_frames(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_base64(fx->router, "{\"method\":\"GET\",\"url\":\"/hello\"}", true,
                     "{\"status\":200,\"data\":\"Hello, world!\",\"event_name\":null}");
    tu_expect_base64(
        fx->router, "{\"method\":\"GET\",\"url\":\"/hello/bob/42\",\"event_name\":\"greet\"}", true,
        "{\"status\":200,\"data\":\"Hello, bob with ID=42\",\"event_name\":\"greet\"}");
    tu_expect_base64(fx->router,
                     "{\"method\":\"GET\",\"url\":\"/calc/sum\",\"args\":{\"digits\":[1,2]},"
                     "\"event_name\":\"calc\"}",
                     true, "{\"status\":200,\"data\":{\"sum\":3},\"event_name\":\"calc\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello__hello_world, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_hello__greets_a_user_by_name_and_id, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_hello__long_names_are_greeted_whole, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_hello__sum_of_digits, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_hello__sum_defaults_to_zero, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_hello__sum_refuses_what_is_not_numbers, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_hello__aiorest_ws_binary_frames, setup,
                                        tu_router_teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("hello", tests, NULL, NULL);
}
