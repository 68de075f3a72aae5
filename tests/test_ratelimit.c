/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/ratelimit.c on a clock of its own: a bucket gives its
 * burst, then refuses with the milliseconds until a token is back, and
 * asks for the close once the refusals reach the burst again; it refills at
 * its rate; user and address buckets are one per name, shared by whoever
 * carries it; 0 is no limit; rates are read from "N/s", "N/min", "N/h"; a
 * flood of distinct addresses or users grows the tables no further than
 * their cap, leaves a bucket in debt in debt, and gets one budget together
 * for those the tables have no room for; new rates (SIGHUP) apply from the
 * next request, the buckets capped at the new burst.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "server/ratelimit_int.h"

#define SEC 1000000000LL

static wsr__ratelimit_t *limiter(double conn, double addr, double user, unsigned burst)
{
    wsr_server_config_t cfg;
    wsr__ratelimit_t *rl;

    wsr_server_config_init(&cfg);
    cfg.rate_limit_connection = conn;
    cfg.rate_limit_address = addr;
    cfg.rate_limit_user = user;
    cfg.rate_burst = burst;
    rl = wsr__ratelimit_new(&cfg);
    assert_non_null(rl);
    return rl;
}

static void test_ratelimit__burst_then_refusals_then_close(void **state)
{
    wsr__ratelimit_t *rl = limiter(10, 0, 0, 0);
    wsr__bucket_t b = {0};
    wsr__rate_refusal_t why;
    int64_t t = 5 * SEC;

    (void)state;
    for (int i = 0; i < 10; i++)
        assert_int_equal(wsr__ratelimit_take(rl, &b, "1.2.3.4", NULL, t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take(rl, &b, "1.2.3.4", NULL, t, &why), WSR__RATE_REFUSED);
    assert_string_equal(why.limit, "connection");
    /* At 0 tokens, then -1 with this refusal: 2 tokens of 100 ms away. */
    assert_int_equal(why.retry_after_ms, 200);
    for (int i = 0; i < 8; i++)
        assert_int_equal(wsr__ratelimit_take(rl, &b, NULL, NULL, t, &why), WSR__RATE_REFUSED);
    /* Ten accepted, ten refused: twice the budget. */
    assert_int_equal(wsr__ratelimit_take(rl, &b, NULL, NULL, t, &why), WSR__RATE_REFUSED);
    assert_int_equal(wsr__ratelimit_take(rl, &b, NULL, NULL, t, &why), WSR__RATE_CLOSE);
    /* Waiting long enough makes it whole again. */
    t += 3 * SEC;
    assert_int_equal(wsr__ratelimit_take(rl, &b, NULL, NULL, t, &why), WSR__RATE_OK);
    wsr__ratelimit_free(rl);
}

static void test_ratelimit__refills_at_its_rate(void **state)
{
    wsr__ratelimit_t *rl = limiter(100, 0, 0, 1);
    wsr__bucket_t b = {0};
    wsr__rate_refusal_t why;
    int64_t t = SEC;
    int i;

    (void)state;
    /* At the rate exactly (one each 10 ms, a burst of 1): every one. */
    for (i = 0; i < 100; i++, t += 10000000)
        assert_int_equal(wsr__ratelimit_take(rl, &b, NULL, NULL, t, &why), WSR__RATE_OK);
    /* At twice the rate, ignoring the 429s: refused, then closed. */
    for (i = 0; i < 100; i++, t += 5000000)
        if (wsr__ratelimit_take(rl, &b, NULL, NULL, t, &why) == WSR__RATE_CLOSE)
            break;
    assert_in_range(i, 2, 10);
    wsr__ratelimit_free(rl);
}

static void test_ratelimit__users_and_addresses_have_a_bucket_each(void **state)
{
    wsr__ratelimit_t *rl = limiter(0, 3, 2, 0);
    wsr__bucket_t a = {0}, b = {0};
    wsr__rate_refusal_t why;
    int64_t t = SEC;

    (void)state;
    /* alice on two connections from two addresses: her 2 are shared. */
    assert_int_equal(wsr__ratelimit_take(rl, &a, "10.0.0.1", "alice", t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take(rl, &b, "10.0.0.2", "alice", t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take(rl, &b, "10.0.0.2", "alice", t, &why), WSR__RATE_REFUSED);
    assert_string_equal(why.limit, "user");
    /* bob from 10.0.0.1 still has his own, and the address has 2 left of 3. */
    assert_int_equal(wsr__ratelimit_take(rl, &a, "10.0.0.1", "bob", t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take(rl, &a, "10.0.0.1", "bob", t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take(rl, &a, "10.0.0.1", "carol", t, &why), WSR__RATE_REFUSED);
    assert_string_equal(why.limit, "client address");
    /* Anonymous requests from elsewhere: no user bucket, a fresh address. */
    assert_int_equal(wsr__ratelimit_take(rl, &a, "10.0.0.3", NULL, t, &why), WSR__RATE_OK);
    wsr__ratelimit_free(rl);
}

static void test_ratelimit__zero_is_no_limit(void **state)
{
    wsr__ratelimit_t *rl = limiter(0, 0, 0, 0);
    wsr__bucket_t b = {0};
    wsr__rate_refusal_t why;

    (void)state;
    for (int i = 0; i < 100000; i++)
        assert_int_equal(wsr__ratelimit_take(rl, &b, "1.2.3.4", "u", SEC, &why), WSR__RATE_OK);
    wsr__ratelimit_free(rl);
}

/* Sends one request from each of `n` distinct addresses (or users), a
 * microsecond apart from `*t`; returns how many of those the tables had no
 * room for were accepted, and asserts that none is closed. */
static int flood(wsr__ratelimit_t *rl, bool users, int n, int64_t *t)
{
    wsr__rate_refusal_t why;
    int accepted = 0;
    char key[32];

    for (int i = 0; i < n; i++, *t += 1000) {
        wsr__bucket_t b = {0};
        wsr__rate_t v;

        snprintf(key, sizeof(key), "%s%d.%d.%d", users ? "u" : "10.", i >> 16, (i >> 8) & 255,
                 i & 255);
        v = wsr__ratelimit_take(rl, &b, users ? NULL : key, users ? key : NULL, *t, &why);
        assert_int_not_equal(v, WSR__RATE_CLOSE);
        if (why.untracked != 0 && v == WSR__RATE_OK)
            accepted++;
        if (why.untracked == 0)
            assert_int_equal(v, WSR__RATE_OK);
    }
    return accepted;
}

static void test_ratelimit__a_flood_of_keys_is_bounded(void **state)
{
    wsr__ratelimit_t *rl = limiter(0, 1, 1, 2);
    const int n = 2 * WSR__RATELIMIT_TABLE_MAX;
    wsr__bucket_t b = {0};
    wsr__rate_refusal_t why;
    int64_t t = SEC;
    long live0 = tu_live_blocks();
    json_t *tables;

    (void)state;
    /* An address and a user in debt... */
    for (int i = 0; i < 2; i++)
        assert_int_equal(wsr__ratelimit_take(rl, &b, "192.0.2.1", "mallory", t, &why),
                         WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take(rl, &b, "192.0.2.1", "mallory", t, &why),
                     WSR__RATE_REFUSED);
    /* ...then twice what each table holds, within a second: a bucket used
     * once is not full again, so nothing can be swept. Those that found no
     * room share one bucket: its burst of 2 and what it refills meanwhile. */
    assert_in_range(flood(rl, false, n, &t), 2, 3);
    assert_in_range(flood(rl, true, n, &t), 2, 3);
    assert_int_equal(wsr__ratelimit_count(rl), 2 * WSR__RATELIMIT_TABLE_MAX);
    assert_true(tu_live_blocks() - live0 <= 2 * WSR__RATELIMIT_TABLE_MAX);
    /* Stats and metrics read how often the overflow bucket was used: every
     * request of a key beyond the cap (one of each table held mallory's). */
    tables = json_object();
    assert_int_equal(wsr__ratelimit_describe(rl, tables), 0);
    for (int i = 0; i < 2; i++) {
        json_t *d = json_object_get(tables, i ? "rate_limit_user" : "rate_limit_address");

        assert_int_equal(json_integer_value(json_object_get(d, "entries")),
                         WSR__RATELIMIT_TABLE_MAX);
        assert_int_equal(json_integer_value(json_object_get(d, "max")), WSR__RATELIMIT_TABLE_MAX);
        assert_int_equal(json_integer_value(json_object_get(d, "overflow")),
                         n - WSR__RATELIMIT_TABLE_MAX + 1);
    }
    json_decref(tables);
    /* The buckets in debt were not pushed out (which would refill them). */
    assert_int_equal(wsr__ratelimit_take(rl, &b, "192.0.2.1", NULL, t, &why), WSR__RATE_REFUSED);
    assert_string_equal(why.limit, "client address");
    assert_int_equal(why.untracked, 0);
    assert_int_equal(wsr__ratelimit_take(rl, &b, NULL, "mallory", t, &why), WSR__RATE_REFUSED);
    assert_string_equal(why.limit, "user");
    /* Once the buckets are full again, a full table is swept and makes room. */
    t += 10 * SEC;
    assert_int_equal(wsr__ratelimit_take(rl, &b, "192.0.2.2", "trent", t, &why), WSR__RATE_OK);
    assert_int_equal(why.untracked, 0);
    assert_int_equal(wsr__ratelimit_count(rl), 2);
    wsr__ratelimit_free(rl);
}

static void test_ratelimit__a_route_bucket(void **state)
{
    wsr__bucket_t b = {0};
    wsr__rate_refusal_t why;
    int64_t t = 7 * SEC;
    int i;

    (void)state;
    /* 4 a second: a burst of 4, then refusals as debt, the close at twice that. */
    for (i = 0; i < 4; i++)
        assert_int_equal(wsr__ratelimit_take_route(4, &b, t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take_route(4, &b, t, &why), WSR__RATE_REFUSED);
    assert_string_equal(why.limit, "connection");
    assert_true(why.rate == 4);
    assert_int_equal(why.retry_after_ms, 500); /* two tokens at 250 ms */
    for (i = 0; i < 3; i++)
        assert_int_equal(wsr__ratelimit_take_route(4, &b, t, &why), WSR__RATE_REFUSED);
    assert_int_equal(wsr__ratelimit_take_route(4, &b, t, &why), WSR__RATE_CLOSE);
    /* Refilled at its rate. */
    t += 3 * SEC;
    assert_int_equal(wsr__ratelimit_take_route(4, &b, t, &why), WSR__RATE_OK);
    /* Under one a second, the burst is still one request. */
    b = (wsr__bucket_t){0};
    assert_int_equal(wsr__ratelimit_take_route(0.5, &b, t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take_route(0.5, &b, t, &why), WSR__RATE_REFUSED);
    assert_int_equal(why.retry_after_ms, 4000);
}

static void test_ratelimit__rates_read(void **state)
{
    double r = -1;

    (void)state;
    assert_true(wsr__rate_parse("1000/s", &r));
    assert_true(r == 1000);
    assert_true(wsr__rate_parse("20000/min", &r));
    assert_true(r > 333.3 && r < 333.4);
    assert_true(wsr__rate_parse("36/h", &r));
    assert_true(r == 0.01);
    assert_true(wsr__rate_parse("250", &r));
    assert_true(r == 250);
    assert_true(wsr__rate_parse("off", &r));
    assert_true(r == 0);
    assert_true(wsr__rate_parse("0", &r));
    assert_true(r == 0);
    const char *bad[] = {"", "fast", "-1/s", "+5", "10/day", "10/s ", "nan", "inf", "1e10/s", "/s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(wsr__rate_parse(bad[i], &r));
}

static void test_ratelimit__new_rates_from_the_next_request(void **state)
{
    wsr__ratelimit_t *rl = limiter(100, 0, 0, 0);
    wsr__bucket_t b = {0}, other[3] = {{0}};
    wsr__rate_refusal_t why;
    wsr_server_config_t cfg;
    int64_t t = SEC;

    (void)state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(wsr__ratelimit_take(rl, &b, "1.2.3.4", "ann", t, &why), WSR__RATE_OK);
    /* Now 2 a second per connection, burst 2, and 1 a second per user. */
    wsr_server_config_init(&cfg);
    cfg.rate_limit_connection = 2;
    cfg.rate_limit_user = 1;
    cfg.rate_burst = 2;
    assert_int_equal(wsr__ratelimit_set(rl, &cfg), 0);
    /* The old bucket (97 tokens) is capped at the new burst: 2 more. */
    assert_int_equal(wsr__ratelimit_take(rl, &b, NULL, NULL, t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take(rl, &b, NULL, NULL, t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take(rl, &b, NULL, NULL, t, &why), WSR__RATE_REFUSED);
    assert_string_equal(why.limit, "connection");
    assert_true(why.rate == 2);
    /* The user limit applies now: ann's burst of 2, whatever the connection. */
    assert_int_equal(wsr__ratelimit_take(rl, &other[0], NULL, "ann", t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take(rl, &other[1], NULL, "ann", t, &why), WSR__RATE_OK);
    assert_int_equal(wsr__ratelimit_take(rl, &other[2], NULL, "ann", t, &why), WSR__RATE_REFUSED);
    assert_string_equal(why.limit, "user");
    /* Off again: no refusal at all. */
    cfg.rate_limit_connection = 0;
    cfg.rate_limit_user = 0;
    assert_int_equal(wsr__ratelimit_set(rl, &cfg), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(wsr__ratelimit_take(rl, &b, NULL, "ann", t, &why), WSR__RATE_OK);
    wsr__ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit__burst_then_refusals_then_close),
        cmocka_unit_test(test_ratelimit__refills_at_its_rate),
        cmocka_unit_test(test_ratelimit__users_and_addresses_have_a_bucket_each),
        cmocka_unit_test(test_ratelimit__zero_is_no_limit),
        cmocka_unit_test(test_ratelimit__a_flood_of_keys_is_bounded),
        cmocka_unit_test(test_ratelimit__rates_read),
        cmocka_unit_test(test_ratelimit__a_route_bucket),
        cmocka_unit_test(test_ratelimit__new_rates_from_the_next_request),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
