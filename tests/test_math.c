/* SPDX-License-Identifier: MIT */
/*
 * Tests for routes/math.c: tcpy's addition example (reference/001,
 * `TCPClient().execute(cmd="add", x=1, y=2)`), through wsr_router_call with
 * exact reply bytes.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsrouter/wsrouter.h"
#include "routes.h"

/* {"cmd":"add","x":X,"y":Y} answers 200 with `sum`. */
static void expect_sum(wsr_router_t *router, const char *x, const char *y, const char *sum)
{
    char msg[256], want[256];

    snprintf(msg, sizeof(msg), "{\"cmd\":\"add\",\"x\":%s,\"y\":%s}", x, y);
    snprintf(want, sizeof(want), "{\"status\":200,\"data\":%s,\"event_name\":null}", sum);
    tu_expect_reply(router, msg, want);
}

static int setup(void **state)
{
    return tu_router_setup(state, wsr_routes_math);
}

static void test_math__tcpy_add_by_cmd(void **state)
{
    tu_router_fixture_t *fx = *state;

    /* tcpy's client sends the parameters next to cmd. */
    tu_expect_reply(fx->router, "{\"cmd\":\"add\",\"x\":1,\"y\":2}",
                    "{\"status\":200,\"data\":3,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"add\",\"args\":{\"x\":1,\"y\":2},\"id\":\"r1\"}",
                    "{\"status\":200,\"data\":3,\"id\":\"r1\",\"event_name\":null}");
    tu_expect_reply(fx->router,
                    "{\"cmd\":\"add\",\"x\":-40,\"y\":2,\"event_name\":{\"k\":[1]},\"id\":5}",
                    "{\"status\":200,\"data\":-38,\"id\":5,\"event_name\":{\"k\":[1]}}");
}

static void test_math__add_over_a_url(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/math/add?x=1&y=2\"}",
                    "{\"status\":200,\"data\":3,\"event_name\":null}");
    tu_expect_reply(fx->router,
                    "{\"method\":\"POST\",\"url\":\"/math/add\",\"args\":{\"x\":10,\"y\":5}}",
                    "{\"status\":200,\"data\":15,\"event_name\":null}");
    tu_expect_reply(fx->router,
                    "{\"method\":\"get\",\"url\":\"/math/add/?x=2.5\",\"args\":{\"y\":1}}",
                    "{\"status\":200,\"data\":3.5,\"event_name\":null}");
    /* JSON args win over the query. */
    tu_expect_reply(fx->router,
                    "{\"method\":\"GET\",\"url\":\"/math/add?x=1&y=1\",\"args\":{\"x\":7}}",
                    "{\"status\":200,\"data\":8,\"event_name\":null}");
}

static void test_math__integers_stay_integers(void **state)
{
    tu_router_fixture_t *fx = *state;

    expect_sum(fx->router, "0", "0", "0");
    expect_sum(fx->router, "-5", "3", "-2");
    expect_sum(fx->router, "9223372036854775806", "1", "9223372036854775807");
    expect_sum(fx->router, "-9223372036854775807", "-1", "-9223372036854775808");
    expect_sum(fx->router, "9223372036854775807", "-9223372036854775808", "-1");
}

static void test_math__reals_give_reals(void **state)
{
    tu_router_fixture_t *fx = *state;

    expect_sum(fx->router, "1.5", "2.25", "3.75");
    expect_sum(fx->router, "0.1", "0.2", "0.30000000000000004");
    expect_sum(fx->router, "1", "2.0", "3.0");
    expect_sum(fx->router, "-1.5", "1.5", "0.0");
    expect_sum(fx->router, "1e300", "1e300", "2e+300");
    expect_sum(fx->router, "1e-7", "0", "1e-07");
}

static void test_math__int_overflow_falls_back_to_real(void **state)
{
    tu_router_fixture_t *fx = *state;

    expect_sum(fx->router, "9223372036854775807", "1", "9.223372036854776e+18");
    expect_sum(fx->router, "-9223372036854775808", "-1", "-9.223372036854776e+18");
    expect_sum(fx->router, "9223372036854775807", "9223372036854775807", "1.8446744073709552e+19");
}

static void test_math__sum_too_large_for_json_is_422(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(
        fx->router, "{\"cmd\":\"add\",\"x\":1e308,\"y\":1e308}",
        "{\"status\":422,\"detail\":\"invalid parameters: x, y\",\"errors\":{\"x\":\"x + y "
        "is too large\",\"y\":\"x + y is too large\"},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"cmd\":\"add\",\"x\":-1.7e308,\"y\":-1.7e308}",
        "{\"status\":422,\"detail\":\"invalid parameters: x, y\",\"errors\":{\"x\":\"x + y "
        "is too large\",\"y\":\"x + y is too large\"},\"event_name\":null}");
}

static void test_math__missing_or_wrong_parameters_are_422(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(
        fx->router, "{\"cmd\":\"add\",\"x\":1}",
        "{\"status\":422,\"detail\":\"invalid parameter y: is required\",\"errors\":{\"y\":"
        "\"is required\"},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"cmd\":\"add\"}",
        "{\"status\":422,\"detail\":\"invalid parameters: x, y\",\"errors\":{\"x\":\"is "
        "required\",\"y\":\"is required\"},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"cmd\":\"add\",\"x\":1,\"y\":\"2\"}",
        "{\"status\":422,\"detail\":\"invalid parameter y: must be a number\",\"errors\":{"
        "\"y\":\"must be a number\"},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"cmd\":\"add\",\"x\":true,\"y\":null,\"id\":3}",
        "{\"status\":422,\"detail\":\"invalid parameters: x, y\",\"errors\":{\"x\":\"must "
        "be a number\",\"y\":\"must be a number\"},\"id\":3,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/math/add?x=abc&y=1\"}",
                    "{\"status\":422,\"detail\":\"invalid parameter x: must be a number (got "
                    "\\\"abc\\\")\",\"errors\":{\"x\":\"must be a number (got \\\"abc\\\")\"},"
                    "\"event_name\":null}");
    /* With args present, other members are not parameters. */
    tu_expect_reply(
        fx->router, "{\"cmd\":\"add\",\"args\":{\"x\":1},\"y\":2}",
        "{\"status\":422,\"detail\":\"invalid parameter y: is required\",\"errors\":{\"y\":"
        "\"is required\"},\"event_name\":null}");
}

static void test_math__other_methods_are_405(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(
        fx->router, "{\"method\":\"PUT\",\"url\":\"/math/add\",\"id\":1}",
        "{\"status\":405,\"detail\":\"method PUT is not allowed on /math/add\",\"allow\":["
        "\"GET\",\"POST\"],\"id\":1,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"OPTIONS\",\"url\":\"/math/add\"}",
                    "{\"status\":200,\"data\":{\"allow\":[\"GET\",\"POST\"]},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/math/sub\"}",
                    "{\"status\":404,\"detail\":\"no route for /math/sub\",\"event_name\":null}");
}

static void test_math__registers_one_route_once(void **state)
{
    tu_router_fixture_t *fx = *state;
    wsr_error_t err;

    assert_int_equal(wsr_router_count(fx->router), 1);
    assert_int_equal(wsr_routes_math(fx->router, &err), WSR_EEXIST);
    assert_string_equal(err.text, "route name 'add' is registered twice");
    assert_int_equal(wsr_router_count(fx->router), 1);
}

static void test_math__registration_out_of_memory(void **state)
{
    long n;

    (void)state;
    for (n = 0;; n++) {
        long live = tu_live_blocks();
        wsr_router_t *router = wsr_router_new();
        int rc;

        assert_non_null(router);
        tu_fail_at(n, false);
        rc = wsr_routes_math(router, NULL);
        tu_fail_at(-1, false);
        if (rc == 0) {
            expect_sum(router, "1", "2", "3");
            wsr_router_free(router);
            break;
        }
        assert_int_equal(rc, WSR_ENOMEM);
        assert_int_equal(wsr_router_count(router), 0);
        wsr_router_free(router);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 3);
}

/* JSON-RPC 2.0 (PROTOCOL.md section 10) through wsr_router_call: by name, by
 * position, notifications, and a batch, served element by element. */
static void test_math__jsonrpc(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(
        fx->router,
        "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":{\"x\":1,\"y\":2},\"id\":1}",
        "{\"jsonrpc\":\"2.0\",\"result\":3,\"id\":1}");
    tu_expect_reply(fx->router,
                    "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1.5,2],\"id\":\"p\"}",
                    "{\"jsonrpc\":\"2.0\",\"result\":3.5,\"id\":\"p\"}");
    /* Too few by position: the missing one is named; too many: refused. */
    tu_expect_reply(
        fx->router, "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1],\"id\":2}",
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid parameter y: "
        "is required\",\"data\":{\"status\":422,\"errors\":{\"y\":\"is required\"}}},\"id\":2}");
    tu_expect_reply(
        fx->router, "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2,3],\"id\":3}",
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid parameter "
        "params: route add takes at most 2 parameters by position, not 3\",\"data\":{"
        "\"status\":422,\"errors\":{\"params\":\"route add takes at most 2 parameters by "
        "position, not 3\"}}},\"id\":3}");
    tu_expect_reply(
        fx->router, "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[\"1\",2],\"id\":4}",
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid parameter x: "
        "must be a number\",\"data\":{\"status\":422,\"errors\":{\"x\":\"must be a "
        "number\"}}},\"id\":4}");
    /* A notification gets nothing, not even its error. */
    tu_expect_reply(fx->router, "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2]}", "");
    tu_expect_reply(fx->router, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}", "");
    /* A batch: answers in order here (nothing defers), notifications left out. */
    tu_expect_reply(
        fx->router,
        "[{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2],\"id\":1},"
        "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2]},"
        "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":2},{\"foo\":\"boo\"}]",
        "[{\"jsonrpc\":\"2.0\",\"result\":3,\"id\":1},"
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"no command named "
        "nope\",\"data\":{\"status\":404}},\"id\":2},"
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"member jsonrpc is "
        "missing: a batch holds JSON-RPC 2.0 requests only\",\"data\":{\"status\":400}},"
        "\"id\":null}]");
    tu_expect_reply(fx->router, "[{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2]}]", "");
    tu_expect_reply(
        fx->router, "[]",
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"a batch must hold "
        "at least one request\",\"data\":{\"status\":400}},\"id\":null}");
}

/* A batch under allocation failures: WSR_ENOMEM, or an answer in which what
 * could not be served is a 500 (-32603), and nothing leaked (STYLE T5). */
static void test_math__jsonrpc_batch_allocation_failures(void **state)
{
    tu_router_fixture_t *fx = *state;
    const char msg[] = "[{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2],\"id\":1},"
                       "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":{\"x\":1}},"
                       "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1],\"id\":2}]";
    char *want = tu_call(fx->router, msg);
    long live = tu_live_blocks(), n;
    bool done = false;

    for (n = 0; !done; n++) {
        char *reply = NULL;
        size_t len = 0;
        int rc;

        tu_fail_at(n, false);
        rc = wsr_router_call(fx->router, msg, strlen(msg), false, &reply, &len);
        tu_fail_at(-1, false);
        if (rc == 0) {
            done = strcmp(reply, want) == 0;
            if (!done && strstr(reply, "\"code\":-32603") == NULL)
                fail_msg("failing allocation %ld: %s", n, reply);
        } else {
            assert_int_equal(rc, WSR_ENOMEM);
        }
        wsr_free(reply);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 5);
    wsr_free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_math__tcpy_add_by_cmd, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__add_over_a_url, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__integers_stay_integers, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__reals_give_reals, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__int_overflow_falls_back_to_real, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__sum_too_large_for_json_is_422, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__missing_or_wrong_parameters_are_422, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__other_methods_are_405, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__registers_one_route_once, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__jsonrpc, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__jsonrpc_batch_allocation_failures, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_math__registration_out_of_memory, setup,
                                        tu_router_teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("math", tests, NULL, NULL);
}
