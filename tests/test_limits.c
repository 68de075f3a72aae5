/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/limits.c: the total and per-address counts are exact
 * through admissions, refusals and releases; a trusted proxy's connection
 * counts in the total only until its client is known, then against the
 * client's address (refused there without losing its place in the total);
 * entries are freed when their last connection goes; out of memory refuses
 * without counting; several threads at once keep the counts exact (run
 * under ThreadSanitizer too). The last cases go from a trusted_proxies list
 * and forwarded headers (proxies.c) to the count, as the handshake does.
 */
#include "netfix.h"

#include <pthread.h>
#include <string.h>

#define THREADS    4
#define PER_THREAD 2000

static void test_limits__per_address_and_total(void **state)
{
    tu_net_fixture_t *fx = *state;
    wsr__addr_t a = tu_addr("192.0.2.1"), b = tu_addr("192.0.2.2"), c = tu_addr("192.0.2.3");
    void *t[5], *refused = (void *)1;

    fx->l = wsr__limits_new(4, 2);
    assert_non_null(fx->l);
    assert_int_equal(wsr__limits_admit(fx->l, &a, &t[0]), WSR__ADMIT_OK);
    assert_int_equal(wsr__limits_admit(fx->l, &a, &t[1]), WSR__ADMIT_OK);
    assert_int_equal(wsr__limits_admit(fx->l, &a, &refused), WSR__ADMIT_PER_ADDRESS);
    assert_null(refused);
    assert_int_equal(wsr__limits_count(fx->l, &a), 2);
    assert_int_equal(wsr__limits_total(fx->l), 2);
    assert_int_equal(wsr__limits_admit(fx->l, &b, &t[2]), WSR__ADMIT_OK);
    assert_int_equal(wsr__limits_admit(fx->l, &b, &t[3]), WSR__ADMIT_OK);
    assert_int_equal(wsr__limits_admit(fx->l, &c, &refused), WSR__ADMIT_TOTAL);
    assert_int_equal(wsr__limits_count(fx->l, &c), 0);
    assert_int_equal(wsr__limits_total(fx->l), 4);
    /* A release makes room for that address and for the total. */
    wsr__limits_release(fx->l, t[0]);
    assert_int_equal(wsr__limits_count(fx->l, &a), 1);
    assert_int_equal(wsr__limits_admit(fx->l, &c, &t[4]), WSR__ADMIT_OK);
    assert_int_equal(wsr__limits_total(fx->l), 4);
    wsr__limits_release(fx->l, t[1]);
    wsr__limits_release(fx->l, t[2]);
    wsr__limits_release(fx->l, t[3]);
    wsr__limits_release(fx->l, t[4]);
    wsr__limits_release(fx->l, NULL); /* nothing */
    assert_int_equal(wsr__limits_total(fx->l), 0);
    assert_int_equal(wsr__limits_count(fx->l, &a), 0);
    /* Every entry went with its last connection. */
    assert_int_equal(tu_live_blocks(), fx->live0 + 1);
}

static void test_limits__zero_means_no_limit(void **state)
{
    tu_net_fixture_t *fx = *state;
    wsr__addr_t a = tu_addr("2001:db8::1");
    void *t[100];

    fx->l = wsr__limits_new(0, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(wsr__limits_admit(fx->l, &a, &t[i]), WSR__ADMIT_OK);
    assert_int_equal(wsr__limits_count(fx->l, &a), 100);
    for (int i = 0; i < 100; i++)
        wsr__limits_release(fx->l, t[i]);
    assert_int_equal(wsr__limits_total(fx->l), 0);
}

static void test_limits__new_limits_apply_to_the_next_admission(void **state)
{
    tu_net_fixture_t *fx = *state;
    wsr__addr_t a = tu_addr("192.0.2.1"), b = tu_addr("192.0.2.2");
    void *t[4], *refused = (void *)1;

    fx->l = wsr__limits_new(0, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wsr__limits_admit(fx->l, &a, &t[i]), WSR__ADMIT_OK);
    /* Lower than what is open: the three stay, a fourth is refused. */
    wsr__limits_set(fx->l, 0, 2);
    assert_int_equal(wsr__limits_count(fx->l, &a), 3);
    assert_int_equal(wsr__limits_admit(fx->l, &a, &refused), WSR__ADMIT_PER_ADDRESS);
    assert_null(refused);
    wsr__limits_set(fx->l, 3, 0);
    assert_int_equal(wsr__limits_admit(fx->l, &b, &refused), WSR__ADMIT_TOTAL);
    /* Raised again: room at once. */
    wsr__limits_set(fx->l, 4, 0);
    assert_int_equal(wsr__limits_admit(fx->l, &b, &t[3]), WSR__ADMIT_OK);
    for (int i = 0; i < 4; i++)
        wsr__limits_release(fx->l, t[i]);
    assert_int_equal(wsr__limits_total(fx->l), 0);
}

static void test_limits__mapped_ipv6_is_its_ipv4_address(void **state)
{
    tu_net_fixture_t *fx = *state;
    wsr__addr_t v4 = tu_addr("192.0.2.1"), mapped = tu_addr("::ffff:192.0.2.1");
    void *t, *refused;

    fx->l = wsr__limits_new(0, 1);
    assert_int_equal(wsr__limits_admit(fx->l, &v4, &t), WSR__ADMIT_OK);
    assert_int_equal(wsr__limits_admit(fx->l, &mapped, &refused), WSR__ADMIT_PER_ADDRESS);
    wsr__limits_release(fx->l, t);
}

static void test_limits__proxied_counts_in_the_total_then_against_its_client(void **state)
{
    tu_net_fixture_t *fx = *state;
    wsr__addr_t a = tu_addr("203.0.113.1"), b = tu_addr("203.0.113.2");
    void *p[4], *direct, *before;

    fx->l = wsr__limits_new(4, 1);
    /* Three connections from one proxy: none counts against an address. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wsr__limits_admit(fx->l, NULL, &p[i]), WSR__ADMIT_OK);
        assert_true(wsr__limits_is_pending(fx->l, p[i]));
    }
    assert_int_equal(wsr__limits_total(fx->l), 3);
    /* Their handshakes name the clients. */
    assert_int_equal(wsr__limits_admit_client(fx->l, &p[0], &a), WSR__ADMIT_OK);
    assert_false(wsr__limits_is_pending(fx->l, p[0]));
    assert_int_equal(wsr__limits_admit_client(fx->l, &p[1], &b), WSR__ADMIT_OK);
    before = p[2];
    assert_int_equal(wsr__limits_admit_client(fx->l, &p[2], &a), WSR__ADMIT_PER_ADDRESS);
    assert_ptr_equal(p[2], before); /* still counted in the total only */
    assert_int_equal(wsr__limits_count(fx->l, &a), 1);
    assert_int_equal(wsr__limits_count(fx->l, &b), 1);
    assert_int_equal(wsr__limits_total(fx->l), 3);
    /* A direct client at that address is refused as well... */
    assert_int_equal(wsr__limits_admit(fx->l, &a, &direct), WSR__ADMIT_PER_ADDRESS);
    /* ...and a token that names an address already is left alone. */
    before = p[0];
    assert_int_equal(wsr__limits_admit_client(fx->l, &p[0], &b), WSR__ADMIT_OK);
    assert_ptr_equal(p[0], before);
    assert_int_equal(wsr__limits_count(fx->l, &b), 1);
    /* The total still binds the proxy's connections at accept. */
    assert_int_equal(wsr__limits_admit(fx->l, NULL, &p[3]), WSR__ADMIT_OK);
    assert_int_equal(wsr__limits_admit(fx->l, NULL, &direct), WSR__ADMIT_TOTAL);
    assert_null(direct);
    /* Releases: the refused one gives back its place in the total only. */
    wsr__limits_release(fx->l, p[2]);
    assert_int_equal(wsr__limits_total(fx->l), 3);
    assert_int_equal(wsr__limits_count(fx->l, &a), 1);
    wsr__limits_release(fx->l, p[0]);
    assert_int_equal(wsr__limits_count(fx->l, &a), 0);
    assert_int_equal(wsr__limits_admit_client(fx->l, &p[3], &a), WSR__ADMIT_OK);
    wsr__limits_release(fx->l, p[1]);
    wsr__limits_release(fx->l, p[3]);
    assert_int_equal(wsr__limits_total(fx->l), 0);
    assert_int_equal(tu_live_blocks(), fx->live0 + 1);
}

static void test_limits__out_of_memory_counts_nothing(void **state)
{
    tu_net_fixture_t *fx = *state;
    wsr__addr_t a = tu_addr("192.0.2.1");
    void *t, *p;

    tu_fail_at(0, true);
    assert_null(wsr__limits_new(1, 1));
    tu_fail_at(-1, false);
    fx->l = wsr__limits_new(0, 1);
    tu_fail_at(0, true);
    assert_int_equal(wsr__limits_admit(fx->l, &a, &t), WSR__ADMIT_NOMEM);
    assert_null(t);
    /* A proxied connection needs no memory at accept; its client's entry does. */
    assert_int_equal(wsr__limits_admit(fx->l, NULL, &p), WSR__ADMIT_OK);
    assert_int_equal(wsr__limits_admit_client(fx->l, &p, &a), WSR__ADMIT_NOMEM);
    assert_true(wsr__limits_is_pending(fx->l, p));
    tu_fail_at(-1, false);
    assert_int_equal(wsr__limits_total(fx->l), 1);
    assert_int_equal(wsr__limits_count(fx->l, &a), 0);
    wsr__limits_release(fx->l, p);
    assert_int_equal(wsr__limits_total(fx->l), 0);
}

typedef struct worker {
    tu_net_fixture_t *fx;
    unsigned index;
    unsigned refused;
} worker_t;

static void *churn(void *arg)
{
    worker_t *w = arg;
    wsr__addr_t a = {4, {198, 51, 100, (uint8_t)(w->index % 2)}};
    void *t;

    for (int i = 0; i < PER_THREAD; i++) {
        /* Half direct, half through a proxy, two threads per address. */
        if (w->index < 2 ? wsr__limits_admit(w->fx->l, &a, &t) != WSR__ADMIT_OK
                         : wsr__limits_admit(w->fx->l, NULL, &t) != WSR__ADMIT_OK) {
            w->refused++;
            continue;
        }
        if (wsr__limits_admit_client(w->fx->l, &t, &a) != WSR__ADMIT_OK)
            w->refused++;
        wsr__limits_release(w->fx->l, t);
    }
    return NULL;
}

static void test_limits__threads_keep_the_counts_exact(void **state)
{
    tu_net_fixture_t *fx = *state;
    pthread_t th[THREADS];
    worker_t w[THREADS];
    wsr__addr_t a0 = {4, {198, 51, 100, 0}}, a1 = {4, {198, 51, 100, 1}};

    fx->l = wsr__limits_new(0, 3);
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (worker_t){fx, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, churn, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(wsr__limits_total(fx->l), 0);
    assert_int_equal(wsr__limits_count(fx->l, &a0), 0);
    assert_int_equal(wsr__limits_count(fx->l, &a1), 0);
    assert_int_equal(tu_live_blocks(), fx->live0 + 1);
}

/* From the configuration and the headers to the count, as the handshake of
 * a connection from a trusted proxy goes (forwarded.c). */
static void test_limits__forwarded_clients_are_counted_apart(void **state)
{
    tu_net_fixture_t *fx = *state;
    static const char *const xff[] = {"203.0.113.1, 127.0.0.1", "203.0.113.2", "203.0.113.1"};
    static const wsr__admit_t want[] = {WSR__ADMIT_OK, WSR__ADMIT_OK, WSR__ADMIT_PER_ADDRESS};
    wsr__addr_t proxy = tu_addr("127.0.0.1"), client, spoofer = tu_addr("192.0.2.66");
    void *t[3], *direct[2];

    assert_int_equal(wsr__proxies_parse("127.0.0.1", &fx->proxies, NULL), 0);
    fx->l = wsr__limits_new(0, 1);
    for (int i = 0; i < 3; i++) {
        assert_true(wsr__proxies_trusted(fx->proxies, &proxy));
        assert_int_equal(wsr__limits_admit(fx->l, NULL, &t[i]), WSR__ADMIT_OK);
        client = proxy;
        assert_int_equal(wsr__proxies_client(fx->proxies, xff[i], strlen(xff[i]), NULL, 0, &client),
                         WSR__FORWARDED_OK);
        assert_int_equal(wsr__limits_admit_client(fx->l, &t[i], &client), want[i]);
    }
    /* An untrusted peer is counted by its own address, whatever it sends. */
    assert_false(wsr__proxies_trusted(fx->proxies, &spoofer));
    assert_int_equal(wsr__limits_admit(fx->l, &spoofer, &direct[0]), WSR__ADMIT_OK);
    assert_int_equal(wsr__limits_admit(fx->l, &spoofer, &direct[1]), WSR__ADMIT_PER_ADDRESS);
    assert_int_equal(wsr__limits_total(fx->l), 4);
    for (int i = 0; i < 3; i++)
        wsr__limits_release(fx->l, t[i]);
    wsr__limits_release(fx->l, direct[0]);
    assert_int_equal(wsr__limits_total(fx->l), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, tu_net_setup, tu_net_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_limits__per_address_and_total),
        T(test_limits__zero_means_no_limit),
        T(test_limits__new_limits_apply_to_the_next_admission),
        T(test_limits__mapped_ipv6_is_its_ipv4_address),
        T(test_limits__proxied_counts_in_the_total_then_against_its_client),
        T(test_limits__out_of_memory_counts_nothing),
        T(test_limits__threads_keep_the_counts_exact),
        T(test_limits__forwarded_clients_are_counted_apart),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
