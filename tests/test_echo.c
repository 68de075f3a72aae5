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
#include "base64_int.h"

typedef struct fixture {
    wsr_router_t *router;
    long live0;
} fixture_t;

static void expect_reply(wsr_router_t *router, const char *msg, const char *want)
{
    char *reply = NULL;
    size_t len = 0;

    assert_int_equal(wsr_router_call(router, msg, strlen(msg), false, &reply, &len), 0);
    assert_non_null(reply);
    assert_int_equal(strlen(reply), len);
    assert_string_equal(reply, want);
    wsr_free(reply);
}

/* POST /echo with `data` answers 200 with `want` as data. */
static void expect_echo(wsr_router_t *router, const char *data, const char *want)
{
    char msg[1024], expected[1024];

    snprintf(msg, sizeof(msg), "{\"method\":\"POST\",\"url\":\"/echo\",\"data\":%s}", data);
    snprintf(expected, sizeof(expected), "{\"status\":200,\"data\":%s,\"event_name\":null}", want);
    expect_reply(router, msg, expected);
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->live0 = tu_live_blocks();
    fx->router = wsr_router_new();
    if (fx->router == NULL || wsr_routes_echo(fx->router, NULL) != 0)
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

static void test_echo__scalars(void **state)
{
    fixture_t *fx = *state;

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
    fixture_t *fx = *state;

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
    fixture_t *fx = *state;

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
    fixture_t *fx = *state;

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
    fixture_t *fx = *state;

    expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/echo\"}",
                 "{\"status\":200,\"data\":null,\"event_name\":null}");
    expect_reply(fx->router, "{\"cmd\":\"echo\",\"id\":\"e\"}",
                 "{\"status\":200,\"data\":null,\"id\":\"e\",\"event_name\":null}");
    expect_reply(fx->router, "{\"cmd\":\"echo\",\"data\":{\"a\":1},\"event_name\":[1]}",
                 "{\"status\":200,\"data\":{\"a\":1},\"event_name\":[1]}");
}

static void test_echo__methods(void **state)
{
    fixture_t *fx = *state;

    expect_reply(fx->router, "{\"method\":\"PUT\",\"url\":\"/echo\",\"data\":7}",
                 "{\"status\":200,\"data\":7,\"event_name\":null}");
    expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/echo\",\"data\":7}",
                 "{\"status\":200,\"data\":7,\"event_name\":null}");
    expect_reply(fx->router, "{\"method\":\"HEAD\",\"url\":\"/echo\",\"data\":7}",
                 "{\"status\":200,\"data\":null,\"event_name\":null}");
    expect_reply(fx->router, "{\"method\":\"DELETE\",\"url\":\"/echo\"}",
                 "{\"status\":405,\"detail\":\"method DELETE is not allowed on /echo\",\"allow\":["
                 "\"GET\",\"POST\",\"PUT\"],\"event_name\":null}");
}

/* Sends `json` base64-encoded (text or binary) and expects `want` back in
 * the same encoding. */
static void expect_base64(wsr_router_t *router, const char *json, bool binary, const char *want)
{
    wsr__buf_t msg, expected;
    char *reply = NULL;
    size_t len = 0;

    wsr__buf_init(&msg, 0, 0);
    wsr__buf_init(&expected, 0, 0);
    assert_int_equal(wsr__base64_encode(&msg, (const unsigned char *)json, strlen(json)), 0);
    assert_int_equal(wsr__base64_encode(&expected, (const unsigned char *)want, strlen(want)), 0);
    assert_int_equal(wsr_router_call(router, msg.data, msg.len, binary, &reply, &len), 0);
    assert_int_equal(len, expected.len);
    assert_memory_equal(reply, expected.data, len);
    wsr_free(reply);
    wsr__buf_dispose(&msg);
    wsr__buf_dispose(&expected);
}

static void test_echo__base64_in_base64_out(void **state)
{
    fixture_t *fx = *state;

    expect_base64(fx->router, "{\"method\":\"POST\",\"url\":\"/echo\",\"data\":[1,\"\xc3\xa9\"]}",
                  false, "{\"status\":200,\"data\":[1,\"\xc3\xa9\"],\"event_name\":null}");
    expect_base64(fx->router, "{\"cmd\":\"echo\",\"data\":{\"k\":\"v\"},\"event_name\":\"e\"}",
                  true, "{\"status\":200,\"data\":{\"k\":\"v\"},\"event_name\":\"e\"}");
    /* A text frame whose first non-blank byte is '{' is JSON. */
    expect_reply(fx->router, " \n {\"cmd\":\"echo\",\"data\":1}",
                 "{\"status\":200,\"data\":1,\"event_name\":null}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo__scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo__reals_keep_a_fraction_or_exponent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_echo__strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo__arrays_and_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo__without_data_answers_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo__methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo__base64_in_base64_out, setup, teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("echo", tests, NULL, NULL);
}
