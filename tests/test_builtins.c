/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/builtins.c: the built-in routes of PROTOCOL.md section 7
 * (retopy's default handlers) added without a server: `commands` lists every
 * route, `help` describes one, `ping` answers "PONG", and `stats` answers 503
 * since only a server keeps statistics.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsrouter/wsrouter.h"
#include "routes.h"
#include "core/builtins_int.h"

static int answer_nothing(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)req;
    (void)user;
    return wsr_response_set_data_take(res, json_null());
}

/* Routes showing every field `commands` and `help` describe. */
static const wsr_route_t app_routes[] = {
    {.name = "item_get",
     .methods = WSR_GET | WSR_HEAD,
     .url = "/items/{id:int}",
     .handler = answer_nothing,
     .params = WSR_PARAMS(
         {.name = "id", .type = WSR_TYPE_INT, .required = true, .doc = "the item's number"},
         {.name = "fields", .type = WSR_TYPE_ARRAY, .def = "[\"name\"]", .doc = "what to return"},
         {.name = "verbose", .type = WSR_TYPE_BOOL}),
     .doc = "Read one item."},
    {.name = "item_put",
     .methods = WSR_PUT | WSR_PATCH,
     .url = "/items/{id:int}",
     .handler = answer_nothing,
     .flags = WSR_ROUTE_AUTH,
     .doc = "Change an item.",
     .timeout_ms = 2500},
    {.name = "purge",
     .handler = answer_nothing,
     .params = WSR_PARAMS({.name = "older_than", .type = WSR_TYPE_NUMBER, .def = "30"}),
     .flags = WSR_ROUTE_BLOCKING,
     .role = "admin"},
    {.name = "secret",
     .methods = WSR_GET,
     .url = "/secret",
     .handler = answer_nothing,
     .flags = WSR_ROUTE_HIDDEN,
     .doc = "Not listed."},
    WSR_ROUTES_END,
};

static int add_app_and_builtins(wsr_router_t *router, wsr_error_t *err)
{
    int rc = wsr_router_add(router, app_routes, NULL, err);

    return rc ? rc : wsr__builtins_add(router, NULL, err);
}

static int setup(void **state)
{
    return tu_router_setup(state, add_app_and_builtins);
}

#define ITEM_GET_BRIEF                                                                             \
    "{\"name\":\"item_get\",\"url\":\"/items/{id:int}\",\"methods\":[\"GET\",\"HEAD\"],"           \
    "\"params\":[{\"name\":\"id\",\"type\":\"int\",\"required\":true,\"in\":\"path\"},{\"name\":"  \
    "\"fields\",\"type\":\"array\",\"required\":false,\"default\":[\"name\"]},{\"name\":"          \
    "\"verbose\",\"type\":\"bool\",\"required\":false}],\"auth\":false,\"role\":null,\"doc\":"     \
    "\"Read one item.\"}"
#define ITEM_PUT_BRIEF                                                                             \
    "{\"name\":\"item_put\",\"url\":\"/items/{id:int}\",\"methods\":[\"PUT\",\"PATCH\"],"          \
    "\"params\":[{\"name\":\"id\",\"type\":\"int\",\"required\":true,\"in\":\"path\"}],\"auth\":"  \
    "true,\"role\":null,\"doc\":\"Change an item.\"}"
#define PURGE_BRIEF                                                                                \
    "{\"name\":\"purge\",\"url\":null,\"methods\":[],\"params\":[{\"name\":\"older_than\","        \
    "\"type\":\"number\",\"required\":false,\"default\":30}],\"auth\":true,\"role\":\"admin\","    \
    "\"doc\":null}"
#define COMMANDS_BRIEF                                                                             \
    "{\"name\":\"commands\",\"url\":\"/_/commands\",\"methods\":[\"GET\"],\"params\":[],"          \
    "\"auth\":false,\"role\":null,\"doc\":\"List every route: name, URL pattern, methods, "        \
    "parameters, auth, doc.\"}"
#define HELP_BRIEF                                                                                 \
    "{\"name\":\"help\",\"url\":\"/_/help\",\"methods\":[\"GET\"],\"params\":[{\"name\":"          \
    "\"command\",\"type\":\"string\",\"required\":true}],\"auth\":false,\"role\":null,\"doc\":"    \
    "\"Describe one route in full.\"}"
#define STATS_BRIEF                                                                                \
    "{\"name\":\"stats\",\"url\":\"/_/stats\",\"methods\":[\"GET\"],\"params\":[],\"auth\":"       \
    "false,\"role\":null,\"doc\":\"Connections, requests by status, per-route counts and "         \
    "latency, uptime.\"}"
#define PING_BRIEF                                                                                 \
    "{\"name\":\"ping\",\"url\":\"/_/ping\",\"methods\":[\"GET\"],\"params\":[],\"auth\":false,"   \
    "\"role\":null,\"doc\":\"Answer PONG: checks that the connection is alive and measures "       \
    "latency.\"}"

static const char commands_reply[] =
    "{\"status\":200,\"data\":[" ITEM_GET_BRIEF "," ITEM_PUT_BRIEF "," PURGE_BRIEF
    "," COMMANDS_BRIEF "," HELP_BRIEF "," STATS_BRIEF "," PING_BRIEF "],\"event_name\":null}";

static void test_builtins__commands_lists_every_visible_route(void **state)
{
    tu_router_fixture_t *fx = *state;

    /* Registration order; the hidden route is left out. */
    tu_expect_reply(fx->router, "{\"cmd\":\"commands\"}", commands_reply);
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/_/commands\"}", commands_reply);
}

static void test_builtins__commands_lists_routes_added_later(void **state)
{
    tu_router_fixture_t *fx = *state;
    wsr_router_t *router = wsr_router_new();

    (void)fx;
    assert_non_null(router);
    assert_int_equal(wsr__builtins_add(router, NULL, NULL), 0);
    assert_int_equal(wsr_routes_math(router, NULL), 0);
    tu_expect_reply(
        router, "{\"cmd\":\"commands\",\"id\":1}",
        "{\"status\":200,\"data\":[" COMMANDS_BRIEF "," HELP_BRIEF "," STATS_BRIEF "," PING_BRIEF
        ",{\"name\":\"add\",\"url\":\"/math/add\",\"methods\":[\"GET\","
        "\"POST\"],\"params\":[{\"name\":\"x\",\"type\":\"number\",\"required\":true},{"
        "\"name\":\"y\",\"type\":\"number\",\"required\":true}],\"auth\":false,\"role\":"
        "null,\"doc\":\"Add x and y and answer the sum (tcpy's addition example: to a tcpy "
        "client, {solution}).\"}],"
        "\"id\":1,\"event_name\":null}");
    wsr_router_free(router);
}

static void test_builtins__help_describes_a_route_in_full(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(
        fx->router, "{\"cmd\":\"help\",\"command\":\"item_get\"}",
        "{\"status\":200,\"data\":{\"name\":\"item_get\",\"url\":\"/items/{id:int}\","
        "\"methods\":[\"GET\",\"HEAD\"],\"params\":[{\"name\":\"id\",\"type\":\"int\","
        "\"required\":true,\"in\":\"path\",\"doc\":\"the item's number\"},{\"name\":"
        "\"fields\",\"type\":\"array\",\"required\":false,\"default\":[\"name\"],\"doc\":"
        "\"what to return\"},{\"name\":\"verbose\",\"type\":\"bool\",\"required\":false}],"
        "\"auth\":false,\"role\":null,\"doc\":\"Read one item.\",\"blocking\":false,"
        "\"timeout_ms\":0},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"method\":\"GET\",\"url\":\"/_/help?command=purge\"}",
        "{\"status\":200,\"data\":{\"name\":\"purge\",\"url\":null,\"methods\":[],"
        "\"params\":[{\"name\":\"older_than\",\"type\":\"number\",\"required\":false,"
        "\"default\":30}],\"auth\":true,\"role\":\"admin\",\"doc\":null,\"blocking\":true,"
        "\"timeout_ms\":0},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"cmd\":\"help\",\"args\":{\"command\":\"item_put\"}}",
        "{\"status\":200,\"data\":{\"name\":\"item_put\",\"url\":\"/items/{id:int}\","
        "\"methods\":[\"PUT\",\"PATCH\"],\"params\":[{\"name\":\"id\",\"type\":\"int\","
        "\"required\":true,\"in\":\"path\"}],\"auth\":true,\"role\":null,\"doc\":\"Change "
        "an item.\",\"blocking\":false,\"timeout_ms\":2500},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"cmd\":\"help\",\"command\":\"help\"}",
        "{\"status\":200,\"data\":{\"name\":\"help\",\"url\":\"/_/help\",\"methods\":["
        "\"GET\"],\"params\":[{\"name\":\"command\",\"type\":\"string\",\"required\":true,"
        "\"doc\":\"the route's name\"}],\"auth\":false,\"role\":null,\"doc\":\"Describe "
        "one route in full.\",\"blocking\":false,\"timeout_ms\":0},\"event_name\":null}");
}

static void test_builtins__help_for_an_unknown_or_hidden_route_is_404(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"cmd\":\"help\",\"command\":\"nope\",\"id\":2}",
                    "{\"status\":404,\"detail\":\"no command named nope\",\"id\":2,\"event_name\":"
                    "null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/_/help?command=secret\"}",
                    "{\"status\":404,\"detail\":\"no command named secret\",\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"help\",\"command\":\"\"}",
                    "{\"status\":404,\"detail\":\"no command named \",\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"cmd\":\"help\"}",
        "{\"status\":422,\"detail\":\"invalid parameter command: is required\",\"errors\":"
        "{\"command\":\"is required\"},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"help\",\"command\":7}",
                    "{\"status\":422,\"detail\":\"invalid parameter command: must be a string\","
                    "\"errors\":{\"command\":\"must be a string\"},\"event_name\":null}");
    /* The hidden route is still callable. */
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/secret\"}",
                    "{\"status\":200,\"data\":null,\"event_name\":null}");
}

static void test_builtins__ping_answers_pong(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"cmd\":\"ping\"}",
                    "{\"status\":200,\"data\":\"PONG\",\"event_name\":null}");
    tu_expect_reply(fx->router,
                    "{\"method\":\"GET\",\"url\":\"/_/ping\",\"id\":\"p\",\"event_name\":1}",
                    "{\"status\":200,\"data\":\"PONG\",\"id\":\"p\",\"event_name\":1}");
    tu_expect_reply(
        fx->router, "{\"method\":\"POST\",\"url\":\"/_/ping\"}",
        "{\"status\":405,\"detail\":\"method POST is not allowed on /_/ping\",\"allow\":["
        "\"GET\"],\"event_name\":null}");
}

static void test_builtins__stats_without_a_server_is_503(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"cmd\":\"stats\"}",
                    "{\"status\":503,\"detail\":\"statistics are not available outside a server\","
                    "\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/_/stats\"}",
                    "{\"status\":503,\"detail\":\"statistics are not available outside a server\","
                    "\"event_name\":null}");
}

static void test_builtins__added_once(void **state)
{
    tu_router_fixture_t *fx = *state;
    const wsr_route_t clash[] = {
        {.name = "my_ping", .methods = WSR_GET, .url = "/_/ping/", .handler = answer_nothing},
        WSR_ROUTES_END,
    };
    wsr_error_t err;

    assert_int_equal(wsr_router_count(fx->router), 8);
    assert_int_equal(wsr__builtins_add(fx->router, NULL, &err), WSR_EEXIST);
    assert_string_equal(err.text, "route name 'commands' is registered twice");
    assert_int_equal(wsr_router_add(fx->router, clash, NULL, &err), WSR_EAMBIGUOUS);
    assert_string_equal(err.text, "route 'my_ping' (/_/ping) is ambiguous with route 'ping' "
                                  "(/_/ping): both would answer GET on the same URLs");
    assert_int_equal(wsr_router_count(fx->router), 8);
}

/* ---- out of memory ---- */

/* The allocations jansson makes parsing the message: [*from, *to). jansson
 * 2.14 drops a byte it cannot store there (load.c lex_save), so the message
 * may read as another one; runs failing those are checked for leaks only. */
static void parse_window(const char *msg, long *from, long *to)
{
    json_error_t jerr;
    json_t *root;

    tu_fail_at(-1, false);
    *from = 0;
    root = json_loadb(msg, strlen(msg), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                      &jerr);
    *to = tu_alloc_count();
    assert_non_null(root);
    json_decref(root);
}

/* Every failing run of `msg` returns WSR_ENOMEM or answers a 500; nothing leaks. */
static void sweep(wsr_router_t *router, const char *msg, const char *want)
{
    long n, from, to, answered_500 = 0;

    parse_window(msg, &from, &to);
    for (n = 0;; n++) {
        long live = tu_live_blocks();
        char *reply = NULL;
        size_t len = 0;
        int rc;

        tu_fail_at(n, false);
        rc = wsr_router_call(router, msg, strlen(msg), false, &reply, &len);
        tu_fail_at(-1, false);
        if (rc == 0 && strcmp(reply, want) == 0) {
            wsr_free(reply);
            break;
        }
        if (rc == 0 && strncmp(reply, "{\"status\":500,\"detail\":\"", 24) == 0)
            answered_500++;
        else if (rc == 0 && (n < from || n >= to))
            fail_msg("%s: allocation %ld failed: got %s", msg, n, reply);
        else if (rc != 0)
            assert_int_equal(rc, WSR_ENOMEM);
        wsr_free(reply);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(answered_500 > 0);
}

static void test_builtins__out_of_memory_answers_500(void **state)
{
    tu_router_fixture_t *fx = *state;

    sweep(fx->router, "{\"cmd\":\"commands\"}", commands_reply);
    sweep(
        fx->router, "{\"cmd\":\"help\",\"command\":\"purge\"}",
        "{\"status\":200,\"data\":{\"name\":\"purge\",\"url\":null,\"methods\":[],\"params\":[{"
        "\"name\":\"older_than\",\"type\":\"number\",\"required\":false,\"default\":30}],\"auth\":"
        "true,\"role\":\"admin\",\"doc\":null,\"blocking\":true,\"timeout_ms\":0},\"event_name\":"
        "null}");
    sweep(fx->router, "{\"cmd\":\"ping\"}",
          "{\"status\":200,\"data\":\"PONG\",\"event_name\":null}");
}

static void test_builtins__registration_out_of_memory(void **state)
{
    long n;

    (void)state;
    for (n = 0;; n++) {
        long live = tu_live_blocks();
        wsr_router_t *router = wsr_router_new();
        int rc;

        assert_non_null(router);
        tu_fail_at(n, false);
        rc = wsr__builtins_add(router, NULL, NULL);
        tu_fail_at(-1, false);
        if (rc == 0) {
            tu_expect_reply(router, "{\"cmd\":\"ping\"}",
                            "{\"status\":200,\"data\":\"PONG\",\"event_name\":null}");
            wsr_router_free(router);
            break;
        }
        assert_int_equal(rc, WSR_ENOMEM);
        assert_int_equal(wsr_router_count(router), 0);
        wsr_router_free(router);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_builtins__commands_lists_every_visible_route, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_builtins__commands_lists_routes_added_later, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_builtins__help_describes_a_route_in_full, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_builtins__help_for_an_unknown_or_hidden_route_is_404,
                                        setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_builtins__ping_answers_pong, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_builtins__stats_without_a_server_is_503, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_builtins__added_once, setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_builtins__out_of_memory_answers_500, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_builtins__registration_out_of_memory, setup,
                                        tu_router_teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("builtins", tests, NULL, NULL);
}
