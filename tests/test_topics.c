/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/services/topics.c, the subscription registry: subscribe,
 * unsubscribe and drop semantics, the per-connection bound, tables that grow
 * and shrink, O(1)/O(k) work checked by the registry's own work counter (never
 * by a clock), an OOM sweep, and four threads sharing one registry.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/topics_int.h"

typedef struct fixture {
    wsr__topics_t *t;
    long live0; /* blocks live before the registry */
    long empty; /* blocks live with the empty registry */
} fixture_t;

static int setup_with(void **state, size_t max_per_conn)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->live0 = tu_live_blocks();
    f->t = wsr__topics_new(max_per_conn);
    if (f->t == NULL) {
        free(f);
        return -1;
    }
    f->empty = tu_live_blocks();
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0);
}

static int setup_bounded(void **state)
{
    return setup_with(state, 3);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    long leaked;

    wsr__topics_free(f->t);
    leaked = tu_live_blocks() - f->live0;
    free(f);
    return leaked == 0 ? 0 : -1;
}

static wsr__topics_stats_t stats(wsr__topics_t *t)
{
    wsr__topics_stats_t s;

    wsr__topics_stats(t, &s);
    return s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* True when `id` is among the ids wsr__topics_subscribers copies out. */
static bool has(wsr__topics_t *t, const char *topic, uint64_t id)
{
    uint64_t *ids;
    size_t n = wsr__topics_subscribers(t, topic, &ids);
    bool found = false;

    for (size_t i = 0; i < n; i++)
        found |= ids[i] == id;
    wsr__free(ids);
    return found;
}

/* The subscribers of `topic` must be exactly want[0..n), in any order. */
static void expect_subscribers(wsr__topics_t *t, const char *topic, uint64_t *want, size_t n)
{
    uint64_t *ids;
    size_t got = wsr__topics_subscribers(t, topic, &ids);

    assert_int_equal(got, n);
    assert_int_equal(wsr__topics_count(t, topic), n);
    if (n == 0) {
        assert_null(ids);
        return;
    }
    qsort(ids, got, sizeof(*ids), cmp_u64);
    qsort(want, n, sizeof(*want), cmp_u64);
    assert_memory_equal(ids, want, n * sizeof(*ids));
    wsr__free(ids);
}

static void test_topics__subscribe_then_unsubscribe(void **state)
{
    wsr__topics_t *t = ((fixture_t *)*state)->t;
    uint64_t want[] = {7, 9};

    assert_int_equal(wsr__topics_subscribe(t, "news", 7), 0);
    assert_int_equal(wsr__topics_subscribe(t, "news", 9), 0);
    expect_subscribers(t, "news", want, 2);
    assert_int_equal(wsr__topics_conn_count(t, 7), 1);
    assert_int_equal(wsr__topics_unsubscribe(t, "news", 7), 0);
    assert_int_equal(wsr__topics_unsubscribe(t, "news", 7), WSR_ENOENT);
    assert_int_equal(wsr__topics_unsubscribe(t, "news", 8), WSR_ENOENT);
    assert_int_equal(wsr__topics_unsubscribe(t, "sports", 9), WSR_ENOENT);
    want[0] = 9;
    expect_subscribers(t, "news", want, 1);
    assert_int_equal(wsr__topics_conn_count(t, 7), 0);
    assert_int_equal(wsr__topics_count(t, "sports"), 0);
}

static void test_topics__subscribing_twice_is_one_subscription(void **state)
{
    wsr__topics_t *t = ((fixture_t *)*state)->t;

    for (int i = 0; i < 3; i++)
        assert_int_equal(wsr__topics_subscribe(t, "a", 1), 0);
    assert_int_equal(wsr__topics_count(t, "a"), 1);
    assert_int_equal(wsr__topics_conn_count(t, 1), 1);
    assert_int_equal(stats(t).subscriptions, 1);
    assert_int_equal(wsr__topics_unsubscribe(t, "a", 1), 0);
    assert_int_equal(wsr__topics_unsubscribe(t, "a", 1), WSR_ENOENT);
    assert_int_equal(stats(t).subscriptions, 0);
}

static void test_topics__bound_counts_per_connection(void **state)
{
    wsr__topics_t *t = ((fixture_t *)*state)->t;

    assert_int_equal(wsr__topics_max_per_conn(t), 3);
    for (uint64_t id = 1; id <= 2; id++) {
        assert_int_equal(wsr__topics_subscribe(t, "a", id), 0);
        assert_int_equal(wsr__topics_subscribe(t, "b", id), 0);
        assert_int_equal(wsr__topics_subscribe(t, "c", id), 0);
        assert_int_equal(wsr__topics_subscribe(t, "d", id), WSR_EBUSY);
        assert_int_equal(wsr__topics_subscribe(t, "b", id), 0); /* held already: no error */
        assert_int_equal(wsr__topics_conn_count(t, id), 3);
    }
    /* A refused subscription leaves no empty topic behind. */
    assert_int_equal(wsr__topics_count(t, "d"), 0);
    assert_int_equal(stats(t).topics, 3);
    /* The bound is per connection, not per topic. */
    for (uint64_t id = 3; id <= 20; id++)
        assert_int_equal(wsr__topics_subscribe(t, "a", id), 0);
    assert_int_equal(wsr__topics_count(t, "a"), 20);
    /* Room freed by unsubscribing or dropping can be used again. */
    assert_int_equal(wsr__topics_unsubscribe(t, "a", 1), 0);
    assert_int_equal(wsr__topics_subscribe(t, "d", 1), 0);
    assert_int_equal(wsr__topics_subscribe(t, "e", 1), WSR_EBUSY);
    wsr__topics_drop_conn(t, 2);
    assert_int_equal(wsr__topics_subscribe(t, "d", 2), 0);
    assert_int_equal(wsr__topics_count(t, "d"), 2);
}

static void test_topics__drop_conn_removes_exactly_that_connection(void **state)
{
    wsr__topics_t *t = ((fixture_t *)*state)->t;
    char name[16];

    /* Connection c listens to topics t0..t<c>. */
    for (uint64_t c = 0; c < 8; c++)
        for (uint64_t i = 0; i <= c; i++) {
            snprintf(name, sizeof(name), "t%u", (unsigned)i);
            assert_int_equal(wsr__topics_subscribe(t, name, c), 0);
        }
    wsr__topics_drop_conn(t, 5);
    wsr__topics_drop_conn(t, 5);   /* twice: nothing left to do */
    wsr__topics_drop_conn(t, 999); /* never subscribed */
    assert_int_equal(wsr__topics_conn_count(t, 5), 0);
    for (uint64_t i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "t%u", (unsigned)i);
        assert_false(has(t, name, 5));
        /* t<i> had connections i..7; now without 5. */
        assert_int_equal(wsr__topics_count(t, name), 8 - i - (i <= 5));
        for (uint64_t c = i; c < 8; c++)
            assert_true(c == 5 || has(t, name, c));
    }
    for (uint64_t c = 0; c < 8; c++)
        assert_int_equal(wsr__topics_conn_count(t, c), c == 5 ? 0 : c + 1);
    assert_int_equal(stats(t).subscriptions, 36 - 6);
    assert_int_equal(stats(t).conns, 7);
}

static void test_topics__emptied_topics_disappear(void **state)
{
    fixture_t *f = *state;
    wsr__topics_t *t = f->t;
    uint64_t sentinel, *ids = &sentinel;

    assert_int_equal(wsr__topics_subscribe(t, "a", 1), 0);
    assert_int_equal(wsr__topics_subscribe(t, "b", 1), 0);
    assert_int_equal(wsr__topics_subscribe(t, "b", 2), 0);
    assert_int_equal(stats(t).topics, 2);
    assert_int_equal(wsr__topics_unsubscribe(t, "a", 1), 0);
    assert_int_equal(stats(t).topics, 1);
    assert_int_equal(wsr__topics_subscribers(t, "a", &ids), 0);
    assert_null(ids);
    wsr__topics_drop_conn(t, 1);
    assert_int_equal(stats(t).topics, 1);
    wsr__topics_drop_conn(t, 2);
    assert_int_equal(stats(t).topics, 0);
    assert_int_equal(stats(t).conns, 0);
    assert_int_equal(stats(t).subscriptions, 0);
    /* Nothing of them is left in memory either. */
    assert_int_equal(tu_live_blocks(), f->empty);
}

/* 1000 connections on 20 topics each out of 200: 20,000 subscriptions, 100 per topic. */
#define MANY_CONNS  1000
#define MANY_TOPICS 200
#define PER_CONN    20

static void many_name(char *out, size_t size, uint64_t c, unsigned j)
{
    snprintf(out, size, "topic/%u", (unsigned)((c + 37u * j) % MANY_TOPICS));
}

static void test_topics__twenty_thousand_subscriptions(void **state)
{
    wsr__topics_t *t = ((fixture_t *)*state)->t;
    uint64_t(*want)[MANY_CONNS] = calloc(MANY_TOPICS, sizeof(*want));
    size_t nwant[MANY_TOPICS] = {0};
    char name[32];

    assert_non_null(want);

    for (uint64_t c = 0; c < MANY_CONNS; c++)
        for (unsigned j = 0; j < PER_CONN; j++) {
            many_name(name, sizeof(name), c, j);
            assert_int_equal(wsr__topics_subscribe(t, name, 1000 + c), 0);
        }
    assert_int_equal(stats(t).topics, MANY_TOPICS);
    assert_int_equal(stats(t).conns, MANY_CONNS);
    assert_int_equal(stats(t).subscriptions, MANY_CONNS * PER_CONN);
    for (uint64_t c = 0; c < MANY_CONNS; c++) {
        assert_int_equal(wsr__topics_conn_count(t, 1000 + c), PER_CONN);
        for (unsigned j = 0; j < PER_CONN; j++) {
            unsigned k = (unsigned)((c + 37u * j) % MANY_TOPICS);

            want[k][nwant[k]++] = 1000 + c;
        }
    }
    for (unsigned k = 0; k < MANY_TOPICS; k++) {
        snprintf(name, sizeof(name), "topic/%u", k);
        assert_int_equal(nwant[k], MANY_CONNS * PER_CONN / MANY_TOPICS);
        expect_subscribers(t, name, want[k], nwant[k]);
    }
    /* Even connections unsubscribe one by one, odd ones are dropped. */
    for (uint64_t c = 0; c < MANY_CONNS; c += 2)
        for (unsigned j = 0; j < PER_CONN; j++) {
            many_name(name, sizeof(name), c, j);
            assert_int_equal(wsr__topics_unsubscribe(t, name, 1000 + c), 0);
        }
    for (unsigned k = 0; k < MANY_TOPICS; k++) {
        snprintf(name, sizeof(name), "topic/%u", k);
        assert_int_equal(wsr__topics_count(t, name), MANY_CONNS * PER_CONN / MANY_TOPICS / 2);
    }
    assert_int_equal(stats(t).subscriptions, MANY_CONNS * PER_CONN / 2);
    free(want);
    for (uint64_t c = 1; c < MANY_CONNS; c += 2)
        wsr__topics_drop_conn(t, 1000 + c);
    assert_int_equal(stats(t).topics, 0);
    assert_int_equal(stats(t).conns, 0);
    assert_int_equal(stats(t).subscriptions, 0);
}

static void test_topics__fifty_thousand_ids_on_one_topic(void **state)
{
    wsr__topics_t *t = ((fixture_t *)*state)->t;
    enum { N = 50000 };
    uint64_t *want = calloc(N, sizeof(*want));
    size_t left = N;

    assert_non_null(want);
    for (uint64_t i = 0; i < N; i++) {
        want[i] = i * 7919 + 1;
        assert_int_equal(wsr__topics_subscribe(t, "crowd", want[i]), 0);
    }
    expect_subscribers(t, "crowd", want, N);
    free(want);
    /* Unsubscribe in an order unrelated to the order of subscription. */
    for (size_t i = 0; i < N; i++) {
        size_t k = (i * 30011) % N; /* 30011 is prime, so this visits every k once */

        assert_int_equal(wsr__topics_unsubscribe(t, "crowd", (uint64_t)k * 7919 + 1), 0);
        left--;
        if (i % 5000 == 0)
            assert_int_equal(wsr__topics_count(t, "crowd"), left);
    }
    assert_int_equal(stats(t).topics, 0);
}

static void test_topics__tables_shrink_when_connections_leave(void **state)
{
    fixture_t *f = *state;
    wsr__topics_t *t = f->t;
    size_t slots0 = stats(t).slots, peak = 0;
    char name[32];

    /* A few long-lived subscribers, and 50 waves of 2,000 passing connections. */
    for (uint64_t c = 1; c <= 10; c++)
        assert_int_equal(wsr__topics_subscribe(t, "lobby", c), 0);
    for (uint64_t wave = 0; wave < 50; wave++) {
        for (uint64_t c = 0; c < 2000; c++) {
            uint64_t id = 1000000 + wave * 2000 + c;

            snprintf(name, sizeof(name), "room/%u", (unsigned)(id % 3000));
            assert_int_equal(wsr__topics_subscribe(t, name, id), 0);
            assert_int_equal(wsr__topics_subscribe(t, "lobby", id), 0);
        }
        peak = WSR__MAX(peak, stats(t).slots);
        for (uint64_t c = 0; c < 2000; c++)
            wsr__topics_drop_conn(t, 1000000 + wave * 2000 + c);
        assert_int_equal(wsr__topics_count(t, "lobby"), 10);
    }
    /* The peak is what 2,000 connections need, not what 100,000 would. */
    assert_true(peak < 16 * 2000);
    assert_true(stats(t).slots <= slots0 + 128);
    for (uint64_t c = 1; c <= 10; c++)
        wsr__topics_drop_conn(t, c);
    assert_int_equal(stats(t).slots, slots0);
    assert_int_equal(tu_live_blocks(), f->empty);
}

/*
 * Complexity without a clock: the registry counts every entry it visits
 * (probes, chain links, rehash moves, list nodes). In a registry of 2,000
 * topics and 20,000 connections, each operation must visit a small constant
 * number of entries on average, and dropping a connection must visit a number
 * proportional to its own subscriptions. The old registry scanned every topic
 * (and every id) on each subscribe and on each close.
 */
static void test_topics__work_is_constant_per_operation(void **state)
{
    wsr__topics_t *t = ((fixture_t *)*state)->t;
    size_t w;
    char name[32];

    for (uint64_t c = 0; c < 20000; c++) {
        snprintf(name, sizeof(name), "big/%u", (unsigned)(c % 2000));
        assert_int_equal(wsr__topics_subscribe(t, name, c), 0);
        assert_int_equal(wsr__topics_subscribe(t, "all", c), 0);
    }
    /* 40,000 subscriptions, growth of every table included: amortised O(1),
     * where a scan of the registry would cost thousands per subscription. */
    assert_true(stats(t).work < 40000 * 32); /* 14 per operation when written */

    /* 1,000 new connections on 5 existing topics each. */
    w = stats(t).work;
    for (uint64_t c = 100000; c < 101000; c++)
        for (unsigned j = 0; j < 5; j++) {
            snprintf(name, sizeof(name), "big/%u", (unsigned)((c * 7 + j) % 2000));
            assert_int_equal(wsr__topics_subscribe(t, name, c), 0);
        }
    assert_true(stats(t).work - w < 5000 * 16);

    /* Subscribing again is a lookup. */
    w = stats(t).work;
    for (uint64_t c = 0; c < 1000; c++)
        assert_int_equal(wsr__topics_subscribe(t, "all", c), 0);
    assert_true(stats(t).work - w < 1000 * 8);

    /* One connection with 5 subscriptions closing visits ~5 entries' worth. */
    w = stats(t).work;
    wsr__topics_drop_conn(t, 100500);
    assert_true(stats(t).work - w < 5 * 24);
    assert_int_equal(wsr__topics_conn_count(t, 100500), 0);

    /* Closing a connection that has none is one lookup. */
    w = stats(t).work;
    wsr__topics_drop_conn(t, 424242);
    assert_true(stats(t).work - w < 8);

    /* Unsubscribing from a topic of 20,000 subscribers is O(1) too. */
    w = stats(t).work;
    for (uint64_t c = 0; c < 1000; c++)
        assert_int_equal(wsr__topics_unsubscribe(t, "all", c), 0);
    assert_true(stats(t).work - w < 1000 * 16);
}

/* Refusing a subscription at the bound reads the connection's count: it does
 * not count the connection's topics among all the others. */
static void test_topics__bound_check_is_constant(void **state)
{
    wsr__topics_t *t = ((fixture_t *)*state)->t;
    size_t w;
    char name[32];

    for (uint64_t c = 1; c <= 3000; c++)
        for (unsigned j = 0; j < 3; j++) {
            snprintf(name, sizeof(name), "room/%u", (unsigned)((c + j) % 1000));
            assert_int_equal(wsr__topics_subscribe(t, name, c), 0);
        }
    w = stats(t).work;
    for (uint64_t c = 1; c <= 1000; c++)
        assert_int_equal(wsr__topics_subscribe(t, "room/999999", c), WSR_EBUSY);
    assert_true(stats(t).work - w < 1000 * 8);
    assert_int_equal(wsr__topics_count(t, "room/999999"), 0);
}

/* Subscribes under an allocator that fails allocation 0, 1, 2, ... until it
 * succeeds; every failure must be WSR_ENOMEM with the registry unchanged and
 * no block leaked. Returns how many allocations failed. */
static long sweep_subscribe(wsr__topics_t *t, const char *topic, uint64_t id)
{
    long n;

    for (n = 0;; n++) {
        wsr__topics_stats_t before = stats(t), after;
        size_t count = wsr__topics_count(t, topic), mine = wsr__topics_conn_count(t, id);
        long live = tu_live_blocks();
        int rc;

        tu_fail_at(n, false);
        rc = wsr__topics_subscribe(t, topic, id);
        tu_fail_at(-1, false);
        if (rc == 0)
            break;
        assert_int_equal(rc, WSR_ENOMEM);
        after = stats(t);
        assert_int_equal(after.topics, before.topics);
        assert_int_equal(after.conns, before.conns);
        assert_int_equal(after.subscriptions, before.subscriptions);
        assert_int_equal(wsr__topics_count(t, topic), count);
        assert_int_equal(wsr__topics_conn_count(t, id), mine);
        assert_false(has(t, topic, id));
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(has(t, topic, id));
    return n;
}

static void test_topics__allocation_failures_leave_registry_unchanged(void **state)
{
    fixture_t *f = *state;
    wsr__topics_t *t = f->t;
    uint64_t *ids = NULL;

    /* A new topic and a new connection: subscription, topic, its arrays, connection. */
    assert_int_equal(sweep_subscribe(t, "first", 1), 5);
    /* Four subscribers fill a topic's first arrays and the connection table's
     * first half: the fifth needs a subscription, a connection, and all three
     * to grow. Room that a failed attempt made is kept (it holds nothing), so
     * the id array, grown on the 4th run, is not grown again: 4 failures. */
    for (uint64_t id = 2; id <= 4; id++)
        assert_int_equal(wsr__topics_subscribe(t, "first", id), 0);
    assert_int_equal(sweep_subscribe(t, "first", 5), 4);
    /* An existing connection on a new topic. */
    assert_int_equal(sweep_subscribe(t, "second", 5), 4);
    /* Enough topics that the bucket table grows (best effort, after the commit). */
    for (unsigned i = 0; i < 40; i++) {
        char name[16];

        snprintf(name, sizeof(name), "more/%u", i);
        (void)sweep_subscribe(t, name, 100 + i);
    }
    assert_int_equal(stats(t).topics, 42);

    /* Copying out under OOM yields nothing and changes nothing. */
    tu_fail_at(0, false);
    assert_int_equal(wsr__topics_subscribers(t, "first", &ids), 0);
    tu_fail_at(-1, false);
    assert_null(ids);
    assert_int_equal(wsr__topics_count(t, "first"), 5);

    /* Removal never needs memory: shrinking is best effort. */
    tu_fail_at(0, true);
    for (uint64_t id = 1; id <= 4; id++)
        assert_int_equal(wsr__topics_unsubscribe(t, "first", id), 0);
    for (unsigned i = 0; i < 40; i++)
        wsr__topics_drop_conn(t, 100 + i);
    wsr__topics_drop_conn(t, 5);
    tu_fail_at(-1, false);
    assert_int_equal(stats(t).topics, 0);
    assert_int_equal(stats(t).subscriptions, 0);
    assert_int_equal(wsr__topics_subscribe(t, "again", 1), 0);
    wsr__topics_drop_conn(t, 1);
    assert_int_equal(tu_live_blocks(), f->empty);
}

static void test_topics__allocation_failures_in_new_leave_nothing(void **state)
{
    long n;

    (void)state;
    for (n = 0;; n++) {
        long live = tu_live_blocks();
        wsr__topics_t *t;

        tu_fail_at(n, false);
        t = wsr__topics_new(10);
        tu_fail_at(-1, false);
        if (t != NULL) {
            wsr__topics_free(t);
            break;
        }
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_int_equal(n, 3);
}

/* ---- four threads on one registry ---- */

#define THREADS    4
#define THREAD_IDS 2000

typedef struct worker {
    wsr__topics_t *t;
    unsigned k;
    unsigned errors; /* counted here, asserted by the main thread */
} worker_t;

static uint64_t worker_id(unsigned k, unsigned i)
{
    return (uint64_t)(k + 1) * 1000000 + i;
}

static void *worker_run(void *arg)
{
    worker_t *w = arg;
    char name[32];

    for (unsigned i = 0; i < THREAD_IDS; i++) {
        uint64_t id = worker_id(w->k, i), *ids;

        snprintf(name, sizeof(name), "own/%u/%u", w->k, i % 10);
        w->errors += wsr__topics_subscribe(w->t, "shared", id) != 0;
        w->errors += wsr__topics_subscribe(w->t, "shared2", id) != 0;
        w->errors += wsr__topics_subscribe(w->t, name, id) != 0;
        w->errors += wsr__topics_count(w->t, "shared") == 0;
        (void)wsr__topics_subscribers(w->t, "shared", &ids);
        wsr__free(ids);
        if (i % 2 == 0)
            w->errors += wsr__topics_unsubscribe(w->t, "shared2", id) != 0;
        if (i % 4 == 0)
            wsr__topics_drop_conn(w->t, id);
        if (i % 4 == 1) /* an id that never subscribed: nothing to drop */
            wsr__topics_drop_conn(w->t, worker_id(w->k, i) + 500000);
    }
    return NULL;
}

static void test_topics__four_threads_share_the_registry(void **state)
{
    wsr__topics_t *t = ((fixture_t *)*state)->t;
    pthread_t th[THREADS];
    worker_t w[THREADS];
    char name[32];

    for (unsigned k = 0; k < THREADS; k++) {
        w[k] = (worker_t){t, k, 0};
        assert_int_equal(pthread_create(&th[k], NULL, worker_run, &w[k]), 0);
    }
    for (unsigned k = 0; k < THREADS; k++) {
        assert_int_equal(pthread_join(th[k], NULL), 0);
        assert_int_equal(w[k].errors, 0);
    }
    /* Ids with i % 4 == 0 were dropped; even ones left shared2. */
    assert_int_equal(wsr__topics_count(t, "shared"), THREADS * THREAD_IDS * 3 / 4);
    assert_int_equal(wsr__topics_count(t, "shared2"), THREADS * THREAD_IDS / 2);
    for (unsigned k = 0; k < THREADS; k++) {
        for (unsigned j = 0; j < 10; j++) {
            snprintf(name, sizeof(name), "own/%u/%u", k, j);
            /* i = j (mod 10) and i != 0 (mod 4): 200 ids, minus those that are 0 mod 4. */
            assert_int_equal(wsr__topics_count(t, name), j % 2 == 0 ? 100 : 200);
        }
        for (unsigned i = 0; i < THREAD_IDS; i++)
            assert_int_equal(wsr__topics_conn_count(t, worker_id(k, i)),
                             i % 4 == 0 ? 0 : (i % 2 == 0 ? 2 : 3));
    }
}

/* Presence: each subscriber's user name, anonymous ones as null; a
 * connection's topics listed for the engine to forget them. */
static void test_topics__members_and_conn_topics(void **state)
{
    fixture_t *f = *state;
    json_t *m = json_object();
    char **names;
    size_t n;

    assert_int_equal(wsr__topics_subscribe_as(f->t, "room", 1, "ann"), 0);
    assert_int_equal(wsr__topics_subscribe_as(f->t, "room", 2, NULL), 0);
    assert_int_equal(wsr__topics_subscribe_as(f->t, "hall", 1, "ann"), 0);
    assert_int_equal(wsr__topics_members(f->t, "room", m), 2);
    assert_string_equal(json_string_value(json_object_get(m, "1")), "ann");
    assert_true(json_is_null(json_object_get(m, "2")));
    assert_int_equal(wsr__topics_members(f->t, "nowhere", m), 0);
    n = wsr__topics_conn_topics(f->t, 1, &names);
    assert_int_equal(n, 2);
    assert_true((strcmp(names[0], "room") == 0 && strcmp(names[1], "hall") == 0) ||
                (strcmp(names[0], "hall") == 0 && strcmp(names[1], "room") == 0));
    for (size_t i = 0; i < n; i++)
        wsr__free(names[i]);
    wsr__free(names);
    assert_int_equal(wsr__topics_conn_topics(f->t, 3, &names), 0);
    assert_null(names);
    /* The name goes with the subscription: nothing leaks (teardown counts). */
    wsr__topics_drop_conn(f->t, 1);
    assert_int_equal(wsr__topics_unsubscribe(f->t, "room", 2), 0);
    json_decref(m);
}

/* The admin view's listing: every topic with its subscriber count, at most
 * `max` of them, the total counted either way. */
static void test_topics__list_counts_subscribers(void **state)
{
    fixture_t *f = *state;
    json_t *o = json_object();

    assert_int_equal(wsr__topics_list(f->t, o, 10), 0);
    assert_int_equal(json_object_size(o), 0);
    for (uint64_t id = 1; id <= 3; id++)
        assert_int_equal(wsr__topics_subscribe(f->t, "three", id), 0);
    assert_int_equal(wsr__topics_subscribe(f->t, "one", 7), 0);
    assert_int_equal(wsr__topics_list(f->t, o, 10), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "three")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "one")), 1);
    json_object_clear(o);
    assert_int_equal(wsr__topics_list(f->t, o, 1), 2);
    assert_int_equal(json_object_size(o), 1);
    json_object_clear(o);
    wsr__topics_drop_conn(f->t, 7);
    assert_int_equal(wsr__topics_list(f->t, o, 10), 1);
    assert_null(json_object_get(o, "one"));
    for (uint64_t id = 1; id <= 3; id++)
        wsr__topics_drop_conn(f->t, id);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topics__subscribe_then_unsubscribe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics__subscribing_twice_is_one_subscription, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topics__bound_counts_per_connection, setup_bounded,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topics__drop_conn_removes_exactly_that_connection,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics__emptied_topics_disappear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics__twenty_thousand_subscriptions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topics__fifty_thousand_ids_on_one_topic, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topics__tables_shrink_when_connections_leave, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topics__work_is_constant_per_operation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topics__bound_check_is_constant, setup_bounded,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topics__allocation_failures_leave_registry_unchanged,
                                        setup, teardown),
        cmocka_unit_test(test_topics__allocation_failures_in_new_leave_nothing),
        cmocka_unit_test_setup_teardown(test_topics__members_and_conn_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics__list_counts_subscribers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics__four_threads_share_the_registry, setup,
                                        teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("topics", tests, NULL, NULL);
}
