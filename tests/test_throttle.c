/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/services/throttle.c on a clock of its own: five failures
 * are free, then each locks the name and the address out for twice as long
 * as the last, up to a minute; a success clears the name, not the address;
 * counts are forgotten after a quiet quarter of an hour; an address has
 * more free failures than a name; a flood of distinct names and addresses
 * within the lockouts grows the tables no further than their cap, unlocks
 * no locked-out name, and locks the names it has no room for out together.
 */
#include "testutil.h"

#include <stdio.h>

#include "services/throttle_int.h"

static void test_throttle__backoff_doubles_up_to_a_minute(void **state)
{
    wsr__throttle_t *t = wsr__throttle_new();
    int64_t now = 1000;

    (void)state;
    assert_non_null(t);
    for (int i = 0; i < WSR__THROTTLE_FREE; i++) {
        assert_int_equal(wsr__throttle_wait_ms(t, "alice", "10.0.0.1", now), 0);
        wsr__throttle_failed(t, "alice", "10.0.0.1", now);
    }
    assert_int_equal(wsr__throttle_wait_ms(t, "alice", "10.0.0.1", now), 0);
    wsr__throttle_failed(t, "alice", "10.0.0.1", now);
    assert_int_equal(wsr__throttle_wait_ms(t, "alice", NULL, now), 250);
    assert_int_equal(wsr__throttle_wait_ms(t, "alice", "10.0.0.2", now + 100), 150);
    /* The address has more free failures (a NAT's users share it). */
    assert_int_equal(wsr__throttle_wait_ms(t, "bob", "10.0.0.1", now), 0);
    now += 250;
    wsr__throttle_failed(t, "alice", NULL, now);
    assert_int_equal(wsr__throttle_wait_ms(t, "alice", NULL, now), 500);
    for (int i = 0; i < 20; i++)
        wsr__throttle_failed(t, "alice", NULL, now);
    assert_int_equal(wsr__throttle_wait_ms(t, "alice", NULL, now), WSR__THROTTLE_MAX_MS);
    /* The right password clears the name. */
    wsr__throttle_succeeded(t, "alice");
    assert_int_equal(wsr__throttle_wait_ms(t, "alice", NULL, now), 0);
    wsr__throttle_free(t);
}

static void test_throttle__addresses_and_forgetting(void **state)
{
    wsr__throttle_t *t = wsr__throttle_new();
    int64_t now = 1000;
    char name[32];

    (void)state;
    assert_non_null(t);
    /* A different name each time: only the address counts up. */
    for (int i = 0; i <= WSR__THROTTLE_FREE_ADDR; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        assert_int_equal(wsr__throttle_wait_ms(t, name, "10.0.0.1", now), 0);
        wsr__throttle_failed(t, name, "10.0.0.1", now);
    }
    assert_int_equal(wsr__throttle_wait_ms(t, "anyone", "10.0.0.1", now), 250);
    assert_int_equal(wsr__throttle_wait_ms(t, "anyone", "10.0.0.2", now), 0);
    /* A success clears the name, not the address. */
    wsr__throttle_succeeded(t, "anyone");
    assert_int_equal(wsr__throttle_wait_ms(t, "anyone", "10.0.0.1", now), 250);
    /* A quiet quarter of an hour past the lockout: forgotten. */
    now += 16 * 60 * 1000;
    assert_int_equal(wsr__throttle_wait_ms(t, NULL, "10.0.0.1", now), 0);
    wsr__throttle_failed(t, "carol", "10.0.0.1", now);
    assert_int_equal(wsr__throttle_wait_ms(t, NULL, "10.0.0.1", now), 0);
    wsr__throttle_free(t);
}

static void test_throttle__a_flood_of_names_is_bounded_and_unlocks_no_one(void **state)
{
    wsr__throttle_t *t = wsr__throttle_new();
    const int flood = 2 * WSR__THROTTLE_TABLE_MAX;
    int64_t now = 1000;
    uint64_t untracked = 0;
    char name[32], addr[32];
    long live0;

    (void)state;
    assert_non_null(t);
    live0 = tu_live_blocks();
    for (int i = 0; i < WSR__THROTTLE_FREE + 20; i++)
        wsr__throttle_failed(t, "victim", NULL, now);
    assert_int_equal(wsr__throttle_wait_ms(t, "victim", NULL, now), WSR__THROTTLE_MAX_MS);
    /* Twice what each table holds, a name and an address each, within the
     * victim's lockout (a millisecond every thousand). */
    for (int i = 0; i < flood; i++) {
        snprintf(name, sizeof(name), "flood%d", i);
        snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        untracked = wsr__throttle_failed(t, name, addr, now + i / 1000);
    }
    now += flood / 1000;
    /* Bounded: the victim and the names that fitted, and as many addresses. */
    assert_int_equal(wsr__throttle_count(t), 2 * WSR__THROTTLE_TABLE_MAX);
    assert_true(tu_live_blocks() - live0 <= 2 * WSR__THROTTLE_TABLE_MAX);
    assert_int_equal(untracked, flood - (WSR__THROTTLE_TABLE_MAX - 1));
    /* The victim was not pushed out, so it is still locked out. */
    assert_int_equal(wsr__throttle_wait_ms(t, "victim", NULL, now),
                     WSR__THROTTLE_MAX_MS - flood / 1000);
    /* A name (an address) with no count of its own shares the overflow's
     * lockout, which a stranger's right password does not clear... */
    assert_true(wsr__throttle_wait_ms(t, "stranger", NULL, now) > 0);
    assert_true(wsr__throttle_wait_ms(t, NULL, "192.0.2.9", now) > 0);
    wsr__throttle_succeeded(t, "stranger");
    assert_true(wsr__throttle_wait_ms(t, "stranger", NULL, now) > 0);
    /* ...while the names that fitted keep their own. */
    assert_int_equal(wsr__throttle_wait_ms(t, "flood7", NULL, now), 0);
    /* A quiet quarter of an hour later everything is forgotten and a full
     * table makes room again. */
    now += 16 * 60 * 1000;
    assert_int_equal(wsr__throttle_wait_ms(t, "stranger", "192.0.2.9", now), 0);
    assert_int_equal(wsr__throttle_failed(t, "late", "192.0.2.9", now), 0);
    assert_int_equal(wsr__throttle_count(t), 2);
    wsr__throttle_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_throttle__backoff_doubles_up_to_a_minute),
        cmocka_unit_test(test_throttle__addresses_and_forgetting),
        cmocka_unit_test(test_throttle__a_flood_of_names_is_bounded_and_unlocks_no_one),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("throttle", tests, NULL, NULL);
}
