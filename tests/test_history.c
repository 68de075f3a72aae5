/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/services/history.c, the in-process publication history:
 * offsets and epochs per topic, the ring of the last `size` publications, the
 * ttl (on a clock the test moves), what `since` recovers and what it does not,
 * forgetting idle topics, allocation failures, and the hand-over from replay
 * to live delivery while another thread publishes.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/history_int.h"

#define SEC     1000000000ull
#define MAX_GOT 20000

/* One subscriber as the history's callbacks see it. Everything here is
 * touched under the topic's lock only (or after the threads joined). */
typedef struct sub {
    bool attached;
    int attach_rc; /* what attach() answers */
    uint64_t got[MAX_GOT];
    size_t ngot;
    size_t replayed;
} sub_t;

typedef struct fixture {
    wsr__history_t *h;
    uint64_t now; /* the fake clock */
    bool in_use;  /* what in_use() answers */
    int deliver_rc;
    sub_t sub;
    long live0;
} fixture_t;

static uint64_t fake_clock(void *user)
{
    return ((fixture_t *)user)->now;
}

static bool fake_in_use(void *user, const char *topic)
{
    (void)topic;
    return ((fixture_t *)user)->in_use;
}

static int setup_with(void **state, size_t size)
{
    fixture_t *f = calloc(1, sizeof(*f));
    wsr__history_memory_config_t cfg = {0};

    if (f == NULL)
        return -1;
    f->live0 = tu_live_blocks();
    f->now = 1000 * SEC;
    cfg.size = size;
    cfg.ttl_s = 300;
    cfg.in_use = fake_in_use;
    cfg.clock = fake_clock;
    cfg.user = f;
    f->h = wsr__history_memory_new(&cfg);
    if (f->h == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 10);
}

static int setup_three(void **state)
{
    return setup_with(state, 3);
}

static int setup_none(void **state)
{
    return setup_with(state, 0);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    long leaked;

    wsr__history_free(f->h);
    leaked = tu_live_blocks() - f->live0;
    free(f);
    return leaked == 0 ? 0 : -1;
}

/* ---- the callbacks: a publication's bytes are its offset in decimal ---- */

static int deliver(const wsr__position_t *pos, wsr__buf_t *keep, void *user)
{
    fixture_t *f = user;
    int rc;

    if (f->deliver_rc != 0)
        return f->deliver_rc;
    rc = wsr__buf_printf(keep, "%llu", (unsigned long long)pos->offset);
    if (rc == 0 && f->sub.attached && f->sub.ngot < MAX_GOT)
        f->sub.got[f->sub.ngot++] = pos->offset;
    return rc;
}

static int attach(void *user)
{
    fixture_t *f = user;

    if (f->sub.attach_rc == 0)
        f->sub.attached = true;
    return f->sub.attach_rc;
}

static void replay(const void *bytes, size_t n, void *user)
{
    fixture_t *f = user;
    char text[32];

    assert_true(n < sizeof(text));
    memcpy(text, bytes, n);
    text[n] = '\0';
    if (f->sub.ngot < MAX_GOT)
        f->sub.got[f->sub.ngot++] = strtoull(text, NULL, 10);
    f->sub.replayed++;
}

static void publish(fixture_t *f, const char *topic, unsigned times)
{
    for (unsigned i = 0; i < times; i++)
        assert_int_equal(wsr__history_publish(f->h, topic, deliver, f), 0);
}

/* Subscribes (the subscriber forgets what it got before); returns recovered. */
static bool subscribe(fixture_t *f, const char *topic, const wsr__position_t *since,
                      wsr__position_t *now)
{
    bool recovered = true;

    memset(&f->sub, 0, sizeof(f->sub));
    assert_int_equal(wsr__history_subscribe(f->h, topic, since, attach, replay, f, now, &recovered),
                     0);
    return recovered;
}

static wsr__position_t position(fixture_t *f, const char *topic)
{
    wsr__position_t now;

    (void)subscribe(f, topic, NULL, &now);
    return now;
}

static wsr__position_t at(const wsr__position_t *where, uint64_t offset)
{
    wsr__position_t p = *where;

    p.offset = offset;
    return p;
}

static void assert_got(const sub_t *s, uint64_t first, uint64_t last)
{
    assert_int_equal(s->ngot, last + 1 - first);
    for (size_t i = 0; i < s->ngot; i++)
        assert_int_equal(s->got[i], first + i);
}

static size_t topics_known(fixture_t *f)
{
    size_t topics, kept;

    wsr__history_memory_stats(f->h, &topics, &kept);
    return topics;
}

/* ---- cases ---- */

static void test_history__offsets_count_per_topic_from_one(void **state)
{
    fixture_t *f = *state;
    wsr__position_t a0 = position(f, "a"), a, b;

    assert_int_equal(a0.offset, 0);
    assert_int_equal(strlen(a0.epoch), 12);
    publish(f, "a", 3);
    publish(f, "b", 2);
    a = position(f, "a");
    b = position(f, "b");
    assert_int_equal(a.offset, 3);
    assert_int_equal(b.offset, 2);
    assert_string_equal(a.epoch, a0.epoch);
    /* Epochs are drawn per topic. */
    assert_string_not_equal(a.epoch, b.epoch);
}

static void test_history__since_replays_what_came_after_it(void **state)
{
    fixture_t *f = *state;
    wsr__position_t p = position(f, "chat"), since, now;

    publish(f, "chat", 5);
    since = at(&p, 2);
    assert_true(subscribe(f, "chat", &since, &now));
    assert_got(&f->sub, 3, 5);
    assert_int_equal(f->sub.replayed, 3);
    assert_int_equal(now.offset, 5);
    /* Then live, after the replay. */
    publish(f, "chat", 2);
    assert_got(&f->sub, 3, 7);
    /* Since 0 is "from the start". */
    since = at(&p, 0);
    assert_true(subscribe(f, "chat", &since, &now));
    assert_got(&f->sub, 1, 7);
}

static void test_history__ring_keeps_the_last_size(void **state)
{
    fixture_t *f = *state;
    wsr__position_t p = position(f, "chat"), since, now;
    size_t topics, kept;

    publish(f, "chat", 5); /* keeps 3, 4, 5 */
    wsr__history_memory_stats(f->h, &topics, &kept);
    assert_int_equal(kept, 3);
    since = at(&p, 1); /* 2 is gone */
    assert_false(subscribe(f, "chat", &since, &now));
    assert_int_equal(f->sub.ngot, 0);
    assert_true(f->sub.attached);
    assert_int_equal(now.offset, 5);
    since = at(&p, 2);
    assert_true(subscribe(f, "chat", &since, &now));
    assert_got(&f->sub, 3, 5);
    /* Wrapping many times keeps the newest, in order. */
    publish(f, "chat", 100);
    since = at(&p, 102);
    assert_true(subscribe(f, "chat", &since, &now));
    assert_got(&f->sub, 103, 105);
}

static void test_history__up_to_date_recovers_even_without_history(void **state)
{
    fixture_t *f = *state;
    wsr__position_t p, since, now;

    publish(f, "chat", 4);
    p = position(f, "chat");
    since = at(&p, 4);
    assert_true(subscribe(f, "chat", &since, &now));
    assert_int_equal(f->sub.ngot, 0);
    since = at(&p, 3); /* nothing kept: a gap of one is not covered */
    assert_false(subscribe(f, "chat", &since, &now));
    assert_int_equal(f->sub.ngot, 0);
}

static void test_history__wrong_epoch_or_ahead_does_not_recover(void **state)
{
    fixture_t *f = *state;
    wsr__position_t p = position(f, "chat"), since, now;

    publish(f, "chat", 3);
    since = at(&p, 1);
    since.epoch[0] = since.epoch[0] == 'z' ? 'y' : 'z';
    assert_false(subscribe(f, "chat", &since, &now));
    assert_int_equal(f->sub.ngot, 0);
    since = at(&p, 4); /* ahead of the topic */
    assert_false(subscribe(f, "chat", &since, &now));
    assert_int_equal(f->sub.ngot, 0);
    assert_int_equal(now.offset, 3);
    /* Without since: never "recovered", nothing replayed. */
    assert_false(subscribe(f, "chat", NULL, &now));
    assert_int_equal(f->sub.ngot, 0);
}

static void test_history__entries_expire_after_the_ttl(void **state)
{
    fixture_t *f = *state;
    wsr__position_t p = position(f, "chat"), since, now;

    publish(f, "chat", 2);
    f->now += 200 * SEC;
    publish(f, "chat", 2);
    f->now += 99 * SEC; /* 1 and 2 are 299 s old */
    since = at(&p, 0);
    assert_true(subscribe(f, "chat", &since, &now));
    assert_got(&f->sub, 1, 4);
    f->now += 1 * SEC; /* 1 and 2 reach 300 s: gone */
    assert_false(subscribe(f, "chat", &since, &now));
    since = at(&p, 2);
    assert_true(subscribe(f, "chat", &since, &now));
    assert_got(&f->sub, 3, 4);
    f->now += 200 * SEC;
    assert_false(subscribe(f, "chat", &since, &now));
    assert_int_equal(now.offset, 4); /* the position stays: it was used just now */
    assert_string_equal(now.epoch, p.epoch);
}

/* An idle topic without subscribers is forgotten once its shard has doubled;
 * its next publication starts a new epoch at 1. In use, it is kept. */
static void test_history__idle_topics_are_forgotten(void **state)
{
    fixture_t *f = *state;
    wsr__position_t before = position(f, "old"), after, since, now;
    char name[32];

    publish(f, "old", 3);
    f->now += 301 * SEC;
    /* Enough new topics for every shard to sweep at least once. */
    for (unsigned i = 0; i < 64 * 40; i++) {
        snprintf(name, sizeof(name), "t%u", i);
        publish(f, name, 1);
    }
    assert_true(topics_known(f) < 64 * 40 + 1);
    after = position(f, "old");
    assert_int_equal(after.offset, 0);
    assert_string_not_equal(after.epoch, before.epoch);
    since = at(&before, 3);
    assert_false(subscribe(f, "old", &since, &now));

    /* A topic in use survives the same idleness. */
    f->in_use = true;
    publish(f, "kept", 2);
    before = position(f, "kept");
    f->now += 301 * SEC;
    for (unsigned i = 0; i < 64 * 40; i++) {
        snprintf(name, sizeof(name), "u%u", i);
        publish(f, name, 1);
    }
    after = position(f, "kept");
    assert_int_equal(after.offset, 2);
    assert_string_equal(after.epoch, before.epoch);
}

static void test_history__failed_attach_replays_nothing(void **state)
{
    fixture_t *f = *state;
    wsr__position_t p = position(f, "chat"), since = at(&p, 0), now;
    bool recovered = true;

    publish(f, "chat", 3);
    memset(&f->sub, 0, sizeof(f->sub));
    f->sub.attach_rc = WSR_EBUSY;
    assert_int_equal(
        wsr__history_subscribe(f->h, "chat", &since, attach, replay, f, &now, &recovered),
        WSR_EBUSY);
    assert_false(recovered);
    assert_int_equal(f->sub.ngot, 0);
}

static void test_history__failed_delivery_uses_no_offset(void **state)
{
    fixture_t *f = *state;
    wsr__position_t p;

    publish(f, "chat", 2);
    f->deliver_rc = WSR_EINVAL;
    assert_int_equal(wsr__history_publish(f->h, "chat", deliver, f), WSR_EINVAL);
    f->deliver_rc = 0;
    publish(f, "chat", 1);
    p = position(f, "chat");
    assert_int_equal(p.offset, 3);
}

static void test_history__allocation_failures_lose_no_offset(void **state)
{
    fixture_t *f = *state;
    wsr__position_t p = position(f, "chat"), since = at(&p, 0), now;
    long n;

    /* A first publication grows the ring, then deliver() writes its bytes:
     * each failure refuses it and leaves the topic where it was. */
    for (n = 0; n < 100; n++) {
        int rc;

        tu_fail_at(n, false);
        rc = wsr__history_publish(f->h, "chat", deliver, f);
        tu_fail_at(-1, false);
        if (rc == 0)
            break;
        assert_int_equal(rc, WSR_ENOMEM);
        assert_int_equal(position(f, "chat").offset, 0);
    }
    assert_int_equal(n, 2);
    /* With every allocation failing, publications are refused without a
     * hole in the offsets, and a subscription still replays what is kept. */
    tu_fail_at(0, true);
    assert_int_equal(wsr__history_publish(f->h, "chat", deliver, f), WSR_ENOMEM);
    assert_true(subscribe(f, "chat", &since, &now));
    tu_fail_at(-1, false);
    assert_got(&f->sub, 1, 1);
    publish(f, "chat", 1);
    assert_int_equal(position(f, "chat").offset, 2);
    /* A new topic cannot even be created: refused, and nothing kept. */
    tu_fail_at(0, true);
    assert_int_equal(wsr__history_publish(f->h, "other", deliver, f), WSR_ENOMEM);
    tu_fail_at(-1, false);
    assert_int_equal(topics_known(f), 1);
}

/* ---- the hand-over, with a publisher on another thread ---- */

#define HANDOVER_N 20000

typedef struct handover {
    fixture_t *f;
    pthread_mutex_t lock; /* guards `published` */
    unsigned published;
} handover_t;

static void *publisher(void *arg)
{
    handover_t *ho = arg;

    for (unsigned i = 0; i < HANDOVER_N; i++) {
        if (wsr__history_publish(ho->f->h, "live", deliver, ho->f) != 0)
            return NULL;
        pthread_mutex_lock(&ho->lock);
        ho->published++;
        pthread_mutex_unlock(&ho->lock);
    }
    return NULL;
}

static unsigned published(handover_t *ho)
{
    unsigned n;

    pthread_mutex_lock(&ho->lock);
    n = ho->published;
    pthread_mutex_unlock(&ho->lock);
    return n;
}

/*
 * A subscriber that knew the topic at offset k attaches while publications
 * keep coming: what it gets, replay then live, is k+1 .. N with no gap and no
 * repeat, wherever the attach fell.
 */
static void test_history__hand_over_loses_and_repeats_nothing(void **state)
{
    fixture_t *f = *state;
    wsr__position_t p = position(f, "live"), since, now;
    handover_t ho = {.f = f};
    pthread_t t;
    bool recovered = false;
    unsigned seen = 0;

    assert_int_equal(pthread_mutex_init(&ho.lock, NULL), 0);
    memset(&f->sub, 0, sizeof(f->sub));
    assert_int_equal(pthread_create(&t, NULL, publisher, &ho), 0);
    /* Wait (bounded) until some are published, then resume from half of them. */
    for (unsigned spin = 0; spin < 100000000 && (seen = published(&ho)) < 200; spin++)
        ;
    since = at(&p, seen / 2);
    /* The fixture's subscriber is read by deliver() on the other thread:
     * reset it under the topic's lock, through the attach callback. */
    assert_int_equal(
        wsr__history_subscribe(f->h, "live", &since, attach, replay, f, &now, &recovered), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_mutex_destroy(&ho.lock);
    assert_true(recovered);
    assert_true(now.offset >= since.offset);
    assert_got(&f->sub, since.offset + 1, HANDOVER_N);
    assert_int_equal(f->sub.replayed, now.offset - since.offset);
}

static int setup_large(void **state)
{
    return setup_with(state, HANDOVER_N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_history__offsets_count_per_topic_from_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history__since_replays_what_came_after_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history__ring_keeps_the_last_size, setup_three,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history__up_to_date_recovers_even_without_history,
                                        setup_none, teardown),
        cmocka_unit_test_setup_teardown(test_history__wrong_epoch_or_ahead_does_not_recover, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history__entries_expire_after_the_ttl, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history__idle_topics_are_forgotten, setup_none,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history__failed_attach_replays_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history__failed_delivery_uses_no_offset, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history__allocation_failures_lose_no_offset, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history__hand_over_loses_and_repeats_nothing,
                                        setup_large, teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
