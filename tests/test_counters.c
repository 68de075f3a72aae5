/* SPDX-License-Identifier: MIT */
/*
 * Tests for routes/counters.c: retopy's counters (reference/002), with its
 * telnet session replayed by `cmd`, the same operations over URLs, overflow,
 * key limits, registration under memory failure, and a real store that
 * cannot be read (a 500 with a sentence). Exact reply bytes.
 */
#include "testutil.h"

#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wsrouter/wsrouter.h"
#include "routes.h"

#include "core/codec_int.h"
#include "core/dispatch_int.h"
#include "services/factory_int.h"
#include "services/store_int.h"

/* `{"cmd":"<name>","key":"<key>"}` answers 200 with `data`. */
static void expect_cmd(wsr_router_t *router, const char *name, const char *key, const char *data)
{
    char msg[512], want[512];

    snprintf(msg, sizeof(msg), "{\"cmd\":\"%s\",\"key\":\"%s\"}", name, key);
    snprintf(want, sizeof(want), "{\"status\":200,\"data\":%s,\"event_name\":null}", data);
    tu_expect_reply(router, msg, want);
}

/* Freeing the router frees the counters too (wsr_router_on_free), which
 * tu_router_teardown checks: no block is left. */
static int setup(void **state)
{
    return tu_router_setup(state, wsr_routes_counters);
}

static void test_counters__retopy_telnet_session(void **state)
{
    tu_router_fixture_t *fx = *state;

    /* reference/002: increment a, a, b, a; rem a; get a. */
    expect_cmd(fx->router, "increment", "a", "1");
    expect_cmd(fx->router, "increment", "a", "2");
    expect_cmd(fx->router, "increment", "b", "1");
    expect_cmd(fx->router, "increment", "a", "3");
    expect_cmd(fx->router, "rem", "a", "null");
    tu_expect_reply(fx->router, "{\"cmd\":\"get\",\"key\":\"a\"}",
                    "{\"status\":404,\"detail\":\"counter a not found\",\"event_name\":null}");
    expect_cmd(fx->router, "get", "b", "1");
}

static void test_counters__session_over_urls(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"POST\",\"url\":\"/counters/a/increment\",\"id\":1}",
                    "{\"status\":200,\"data\":1,\"id\":1,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"POST\",\"url\":\"/counters/a/increment/\"}",
                    "{\"status\":200,\"data\":2,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/counters/a\"}",
                    "{\"status\":200,\"data\":2,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"POST\",\"url\":\"/counters/a/rem\"}",
                    "{\"status\":200,\"data\":null,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/counters/a\",\"event_name\":\"g\"}",
                    "{\"status\":404,\"detail\":\"counter a not found\",\"event_name\":\"g\"}");
    /* The path parameter wins over an args key. */
    tu_expect_reply(
        fx->router,
        "{\"method\":\"POST\",\"url\":\"/counters/x/increment\",\"args\":{\"key\":\"y\"}}",
        "{\"status\":200,\"data\":1,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/counters\"}",
                    "{\"status\":200,\"data\":{\"x\":1},\"event_name\":null}");
}

static void test_counters__set_get_decrement_list(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/counters\"}",
                    "{\"status\":200,\"data\":{},\"event_name\":null}");
    tu_expect_reply(fx->router,
                    "{\"method\":\"PUT\",\"url\":\"/counters/a\",\"args\":{\"value\":10}}",
                    "{\"status\":200,\"data\":10,\"event_name\":null}");
    expect_cmd(fx->router, "get", "a", "10");
    expect_cmd(fx->router, "decrement", "a", "9");
    expect_cmd(fx->router, "decrement", "fresh", "-1");
    tu_expect_reply(fx->router, "{\"method\":\"POST\",\"url\":\"/counters/b?value=-5\"}",
                    "{\"status\":200,\"data\":-5,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"set\",\"key\":\"c\",\"value\":2.0}",
                    "{\"status\":200,\"data\":2,\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"method\":\"GET\",\"url\":\"/counters\"}",
        "{\"status\":200,\"data\":{\"a\":9,\"fresh\":-1,\"b\":-5,\"c\":2},\"event_name\":"
        "null}");
    /* rem of a missing key is ignored. */
    expect_cmd(fx->router, "rem", "never", "null");
    expect_cmd(fx->router, "rem", "a", "null");
    expect_cmd(fx->router, "increment", "a", "1");
}

static void test_counters__set_validates_its_value(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"cmd\":\"set\",\"key\":\"a\",\"value\":2.5}",
                    "{\"status\":422,\"detail\":\"invalid parameter value: must be an integer\","
                    "\"errors\":{\"value\":\"must be an integer\"},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"set\",\"key\":\"a\",\"value\":\"3\"}",
                    "{\"status\":422,\"detail\":\"invalid parameter value: must be an integer\","
                    "\"errors\":{\"value\":\"must be an integer\"},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"method\":\"PUT\",\"url\":\"/counters/a\"}",
        "{\"status\":422,\"detail\":\"invalid parameter value: is required\",\"errors\":{"
        "\"value\":\"is required\"},\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"PUT\",\"url\":\"/counters/a?value=x\"}",
                    "{\"status\":422,\"detail\":\"invalid parameter value: must be an integer (got "
                    "\\\"x\\\")\",\"errors\":{\"value\":\"must be an integer (got \\\"x\\\")\"},"
                    "\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"set\",\"value\":1}",
                    "{\"status\":422,\"detail\":\"invalid parameter key: is required\",\"errors\":{"
                    "\"key\":\"is required\"},\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"cmd\":\"increment\",\"key\":5}",
        "{\"status\":422,\"detail\":\"invalid parameter key: must be a string\",\"errors\":"
        "{\"key\":\"must be a string\"},\"event_name\":null}");
    /* Nothing was created. */
    tu_expect_reply(fx->router, "{\"cmd\":\"list\"}",
                    "{\"status\":200,\"data\":{},\"event_name\":null}");
}

static void test_counters__overflow_is_422_and_keeps_the_value(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"cmd\":\"set\",\"key\":\"big\",\"value\":9223372036854775807}",
                    "{\"status\":200,\"data\":9223372036854775807,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"increment\",\"key\":\"big\",\"id\":\"o\"}",
                    "{\"status\":422,\"detail\":\"invalid parameter key: counter big would "
                    "overflow\",\"errors\":{\"key\":\"counter big would overflow\"},\"id\":\"o\","
                    "\"event_name\":null}");
    expect_cmd(fx->router, "get", "big", "9223372036854775807");
    tu_expect_reply(fx->router,
                    "{\"cmd\":\"set\",\"key\":\"small\",\"value\":-9223372036854775808}",
                    "{\"status\":200,\"data\":-9223372036854775808,\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"method\":\"POST\",\"url\":\"/counters/small/decrement\"}",
        "{\"status\":422,\"detail\":\"invalid parameter key: counter small would "
        "overflow\",\"errors\":{\"key\":\"counter small would overflow\"},\"event_name\":"
        "null}");
    expect_cmd(fx->router, "get", "small", "-9223372036854775808");
    expect_cmd(fx->router, "increment", "small", "-9223372036854775807");
}

static void test_counters__keys_are_at_most_200_bytes(void **state)
{
    tu_router_fixture_t *fx = *state;
    char key[202], msg[512], want[512];

    memset(key, 'k', 200);
    key[200] = '\0';
    snprintf(want, sizeof(want), "{\"status\":200,\"data\":1,\"event_name\":null}");
    snprintf(msg, sizeof(msg), "{\"cmd\":\"increment\",\"key\":\"%s\"}", key);
    tu_expect_reply(fx->router, msg, want);
    strcat(key, "k");
    snprintf(msg, sizeof(msg), "{\"cmd\":\"increment\",\"key\":\"%s\"}", key);
    tu_expect_reply(
        fx->router, msg,
        "{\"status\":422,\"detail\":\"invalid parameter key: must be at most 200 bytes\","
        "\"errors\":{\"key\":\"must be at most 200 bytes\"},\"event_name\":null}");
    snprintf(msg, sizeof(msg), "{\"cmd\":\"set\",\"key\":\"%s\",\"value\":1}", key);
    tu_expect_reply(
        fx->router, msg,
        "{\"status\":422,\"detail\":\"invalid parameter key: must be at most 200 bytes\","
        "\"errors\":{\"key\":\"must be at most 200 bytes\"},\"event_name\":null}");
}

static void test_counters__keys_are_percent_decoded(void **state)
{
    tu_router_fixture_t *fx = *state;

    tu_expect_reply(fx->router, "{\"method\":\"POST\",\"url\":\"/counters/a%2Fb/increment\"}",
                    "{\"status\":200,\"data\":1,\"event_name\":null}");
    tu_expect_reply(fx->router,
                    "{\"method\":\"POST\",\"url\":\"/counters/%C3%A9t%C3%A9/increment\"}",
                    "{\"status\":200,\"data\":1,\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"method\":\"GET\",\"url\":\"/counters\"}",
        "{\"status\":200,\"data\":{\"a/b\":1,\"\xc3\xa9t\xc3\xa9\":1},\"event_name\":null}");
    expect_cmd(fx->router, "get", "a/b", "1");
}

static void test_counters__protocol_405_example(void **state)
{
    tu_router_fixture_t *fx = *state;

    /* PROTOCOL.md section 4, second example. */
    tu_expect_reply(
        fx->router, "{\"method\":\"DELETE\",\"url\":\"/counters/a\",\"id\":7}",
        "{\"status\":405,\"detail\":\"method DELETE is not allowed on /counters/{key}\","
        "\"allow\":[\"GET\",\"POST\",\"PUT\"],\"id\":7,\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/counters/a/increment\"}",
                    "{\"status\":405,\"detail\":\"method GET is not allowed on "
                    "/counters/{key}/increment\",\"allow\":[\"POST\"],\"event_name\":null}");
}

static void test_counters__each_registration_has_its_own_counters(void **state)
{
    tu_router_fixture_t *fx = *state;
    wsr_router_t *other = wsr_router_new();

    assert_non_null(other);
    assert_int_equal(wsr_routes_counters(other, NULL), 0);
    expect_cmd(fx->router, "increment", "a", "1");
    expect_cmd(other, "increment", "a", "1");
    expect_cmd(other, "increment", "a", "2");
    expect_cmd(fx->router, "get", "a", "1");
    wsr_router_free(other);
    /* A second registration on the same router is refused, and its state
     * is still released with the router. */
    assert_int_equal(wsr_routes_counters(fx->router, NULL), WSR_EEXIST);
    assert_int_equal(wsr_router_count(fx->router), 6);
    expect_cmd(fx->router, "get", "a", "1");
}

static void test_counters__registration_out_of_memory(void **state)
{
    long n;

    (void)state;
    for (n = 0;; n++) {
        long live = tu_live_blocks();
        wsr_router_t *router = wsr_router_new();
        int rc;

        assert_non_null(router);
        tu_fail_at(n, false);
        rc = wsr_routes_counters(router, NULL);
        tu_fail_at(-1, false);
        if (rc == 0) {
            expect_cmd(router, "increment", "a", "1");
            wsr_router_free(router);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        assert_int_equal(rc, WSR_ENOMEM);
        assert_int_equal(wsr_router_count(router), 0);
        wsr_router_free(router);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 5);
}

/* Serves `msg` with a factory that has only `store`, as a server's worker
 * would: wsr_router_call has no factory, so no store. Returns the status and
 * copies the detail ("" for none). */
static int call_with_store(wsr_router_t *router, wsr_store_t *store, const char *msg, char *detail,
                           size_t size)
{
    char why[WSR__DETAIL_MAX];
    wsr_factory_t factory;
    wsr_request_t req;
    wsr_response_t res;
    int status;

    memset(&factory, 0, sizeof(factory));
    factory.store = store;
    wsr__request_init(&req);
    wsr__response_init(&res);
    assert_int_equal(
        wsr__codec_decode(&req, (const unsigned char *)msg, strlen(msg), false, 64, why), 0);
    req.factory = &factory;
    if (wsr__dispatch_route(router, &req, &res) != WSR__DISPATCH_ANSWERED)
        (void)wsr__dispatch_run(&req, &res);
    status = wsr_response_status(&res);
    snprintf(detail, size, "%s", res.detail ? res.detail : "");
    wsr__response_dispose(&res);
    wsr__request_dispose(&req);
    return status;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A store that cannot be read answers 500 with a sentence naming what failed:
 * never an empty list that looks like lost counters, nor a 404. */
static void test_counters__a_store_that_cannot_be_read_is_a_500_with_a_sentence(void **state)
{
    tu_router_fixture_t *fx = *state;
    char dir[PATH_MAX], path[PATH_MAX + 16], detail[600];
    wsr_store_t *store;
    wsr_error_t err;

    snprintf(dir, sizeof(dir), "%s/wsr-counters-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/w.db", dir);
    store = wsr_store_open(path, false, &err);
    assert_non_null(store);
    /* Working: the counter is in the store. */
    assert_int_equal(call_with_store(fx->router, store, "{\"cmd\":\"increment\",\"key\":\"a\"}",
                                     detail, sizeof(detail)),
                     200);
    assert_int_equal(
        call_with_store(fx->router, store, "{\"cmd\":\"list\"}", detail, sizeof(detail)), 200);
    /* A value that is not JSON (written behind the store's back). */
    assert_int_equal(wsr__store_exec(store,
                                     "INSERT INTO wsr_kv(key, value) VALUES('counters:b', 'x')",
                                     NULL, 0, NULL, 0),
                     0);
    assert_int_equal(
        call_with_store(fx->router, store, "{\"cmd\":\"list\"}", detail, sizeof(detail)), 500);
    assert_string_equal(detail, "cannot read the counters from the store");
    assert_int_equal(call_with_store(fx->router, store, "{\"cmd\":\"get\",\"key\":\"b\"}", detail,
                                     sizeof(detail)),
                     500);
    assert_string_equal(detail, "cannot read counter b from the store");
    /* An absent counter is still a 404, a readable one still a 200. */
    assert_int_equal(call_with_store(fx->router, store, "{\"cmd\":\"get\",\"key\":\"c\"}", detail,
                                     sizeof(detail)),
                     404);
    assert_string_equal(detail, "counter c not found");
    assert_int_equal(call_with_store(fx->router, store, "{\"cmd\":\"get\",\"key\":\"a\"}", detail,
                                     sizeof(detail)),
                     200);
    /* No table at all: every operation says what failed. */
    assert_int_equal(sqlite3_exec(wsr_store_lock(store), "DROP TABLE wsr_kv", NULL, NULL, NULL),
                     SQLITE_OK);
    wsr_store_unlock(store);
    assert_int_equal(call_with_store(fx->router, store, "{\"cmd\":\"get\",\"key\":\"a\"}", detail,
                                     sizeof(detail)),
                     500);
    assert_string_equal(detail, "cannot read counter a from the store");
    assert_int_equal(call_with_store(fx->router, store, "{\"cmd\":\"increment\",\"key\":\"a\"}",
                                     detail, sizeof(detail)),
                     500);
    assert_string_equal(detail, "cannot write counter a to the store");
    assert_int_equal(call_with_store(fx->router, store, "{\"cmd\":\"rem\",\"key\":\"a\"}", detail,
                                     sizeof(detail)),
                     500);
    assert_string_equal(detail, "cannot remove counter a from the store");
    assert_int_equal(
        call_with_store(fx->router, store, "{\"cmd\":\"list\"}", detail, sizeof(detail)), 500);
    assert_string_equal(detail, "cannot read the counters from the store");
    wsr_store_close(store);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counters__retopy_telnet_session, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_counters__session_over_urls, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_counters__set_get_decrement_list, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_counters__set_validates_its_value, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_counters__overflow_is_422_and_keeps_the_value, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_counters__keys_are_at_most_200_bytes, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_counters__keys_are_percent_decoded, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_counters__protocol_405_example, setup,
                                        tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_counters__each_registration_has_its_own_counters,
                                        setup, tu_router_teardown),
        cmocka_unit_test_setup_teardown(
            test_counters__a_store_that_cannot_be_read_is_a_500_with_a_sentence, setup,
            tu_router_teardown),
        cmocka_unit_test_setup_teardown(test_counters__registration_out_of_memory, setup,
                                        tu_router_teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("counters", tests, NULL, NULL);
}
