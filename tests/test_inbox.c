/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/inbox.c: messages (take, copy, notes, free with the
 * references they hold) and the inbox other threads post to: FIFO order,
 * refusal once closed, reference counts that let an inbox outlive its loop,
 * posts from several threads at once (run under ThreadSanitizer too), and
 * the wake of a real libwebsockets context.
 */
#include "testutil.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/session_int.h"
#include "server/inbox_int.h"
#include "server/loop_int.h"

#define POSTERS    4
#define PER_POSTER 2000
#define WAIT_MS    5000       /* the most a wait may take */
#define TICK_US    (5 * 1000) /* lws_service returns at least this often */

typedef struct fixture {
    long live0;
    wsr__inbox_t *in;
    /* posts from several threads */
    atomic_uint posters_done;
    unsigned next_seq[POSTERS];
    unsigned received;
    /* the wake of a real context, seen by its protocol callback */
    struct lws_protocols protocols[2];
    struct lws_context *ctx;
    lws_sorted_usec_list_t ticker;
    unsigned wakes;
    wsr__msg_t *woken_with; /* owned: what the callback took after a wake */
} fixture_t;

typedef struct poster {
    fixture_t *fx;
    unsigned index;
    int failures;
} poster_t;

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->live0 = tu_live_blocks();
    atomic_init(&fx->posters_done, 0);
    fx->in = wsr__inbox_new();
    *state = fx;
    return fx->in != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    long live0 = fx->live0;

    if (fx->in != NULL)
        wsr__inbox_set_ctx(fx->in, NULL);
    if (fx->ctx != NULL)
        lws_context_destroy(fx->ctx);
    wsr__msg_free(fx->woken_with);
    wsr__inbox_unref(fx->in);
    free(fx);
    assert_int_equal(tu_live_blocks(), live0);
    return 0;
}

/* Frees a list of messages as wsr__inbox_take returns it. */
static void free_list(wsr__msg_t *m)
{
    wsr__msg_t *next;

    for (; m != NULL; m = next) {
        next = m->next;
        wsr__msg_free(m);
    }
}

static wsr__msg_t *note(uint64_t conn_id)
{
    wsr__msg_t *m = wsr__msg_new_note(WSR__MSG_CLOSE, conn_id, 1000);

    assert_non_null(m);
    return m;
}

/* ---- messages ---- */

static void test_inbox__msg_take_keeps_the_payload_in_place(void **state)
{
    wsr__buf_t b;
    wsr__msg_t *m;
    unsigned char *payload;

    (void)state;
    wsr__buf_init(&b, WSR__MSG_HEAD, 0);
    assert_int_equal(wsr__buf_append(&b, "hello", 5), 0);
    payload = wsr__buf_payload(&b);
    m = wsr__msg_take(&b, true);
    assert_non_null(m);
    /* No copy: the payload is where the encoder wrote it. */
    assert_ptr_equal(wsr__msg_payload(m), payload);
    assert_int_equal(m->len, 5);
    assert_memory_equal(wsr__msg_payload(m), "hello", 5);
    assert_int_equal(m->binary, 1);
    assert_int_equal(m->kind, WSR__MSG_DATA);
    assert_null(m->reply);
    assert_null(m->session);
    assert_null(m->next);
    /* The buffer is left empty and reusable. */
    assert_null(b.data);
    assert_int_equal(wsr__buf_payload_len(&b), 0);
    assert_int_equal(wsr__buf_append(&b, "x", 1), 0);
    assert_int_equal(wsr__buf_payload_len(&b), 1);
    wsr__buf_dispose(&b);
    wsr__msg_free(m);
}

static void test_inbox__msg_take_of_an_empty_buffer(void **state)
{
    wsr__buf_t b;
    wsr__msg_t *m;

    (void)state;
    wsr__buf_init(&b, WSR__MSG_HEAD, 0);
    m = wsr__msg_take(&b, false);
    assert_non_null(m);
    assert_int_equal(m->len, 0);
    assert_int_equal(m->binary, 0);
    wsr__buf_dispose(&b);
    wsr__msg_free(m);
}

static void test_inbox__msg_copy(void **state)
{
    const char text[] = "{\"event\":1}";
    wsr__msg_t *m;

    (void)state;
    m = wsr__msg_copy(text, sizeof(text) - 1, false);
    assert_non_null(m);
    assert_int_equal(m->len, sizeof(text) - 1);
    assert_memory_equal(wsr__msg_payload(m), text, sizeof(text) - 1);
    assert_int_equal(m->binary, 0);
    assert_int_equal(m->kind, WSR__MSG_DATA);
    assert_int_equal(m->conn_id, 0);
    wsr__msg_free(m);
    m = wsr__msg_copy(NULL, 0, true);
    assert_non_null(m);
    assert_int_equal(m->len, 0);
    assert_int_equal(m->binary, 1);
    wsr__msg_free(m);
}

static void test_inbox__msg_new_note(void **state)
{
    wsr__msg_t *m;

    (void)state;
    m = wsr__msg_new_note(WSR__MSG_CLOSE, 0x100000002ull, 1008);
    assert_non_null(m);
    assert_int_equal(m->kind, WSR__MSG_CLOSE);
    assert_int_equal(m->conn_id, 0x100000002ull);
    assert_int_equal(m->code, 1008);
    assert_int_equal(m->len, 0);
    assert_null(m->reply);
    assert_null(m->session);
    wsr__msg_free(m);
}

static void test_inbox__msg_free_releases_its_session(void **state)
{
    long before = tu_live_blocks();
    wsr__session_t *s = wsr__session_new("ann", "admin", "jti-1", 0);
    wsr__msg_t *m;

    (void)state;
    assert_non_null(s);
    m = wsr__msg_new_note(WSR__MSG_SESSION, 1, 0);
    assert_non_null(m);
    m->session = wsr__session_ref(s); /* the note's own reference */
    wsr__msg_free(m);
    /* Ours is still good; the note's was released. */
    assert_string_equal(wsr__session_user(s), "ann");
    wsr__session_unref(s);
    assert_int_equal(tu_live_blocks(), before);
    wsr__msg_free(NULL);
}

static void test_inbox__msg_allocations_fail_cleanly(void **state)
{
    wsr__buf_t b;
    long n;

    (void)state;
    for (n = 0;; n++) {
        wsr__msg_t *m;
        long live = tu_live_blocks();

        tu_fail_at(n, false);
        m = wsr__msg_copy("abc", 3, false);
        tu_fail_at(-1, false);
        if (m != NULL) {
            wsr__msg_free(m);
            break;
        }
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n > 0);
    tu_fail_at(0, false);
    assert_null(wsr__msg_new_note(WSR__MSG_STOP, 0, 0));
    tu_fail_at(-1, false);
    /* An empty buffer still needs the header's memory. */
    wsr__buf_init(&b, WSR__MSG_HEAD, 0);
    tu_fail_at(0, false);
    assert_null(wsr__msg_take(&b, false));
    tu_fail_at(-1, false);
    wsr__buf_dispose(&b);
}

/* ---- the inbox ---- */

static void test_inbox__post_keeps_fifo_order(void **state)
{
    fixture_t *fx = *state;
    wsr__msg_t *list, *m;
    uint64_t want = 1;

    assert_null(wsr__inbox_take(fx->in));
    for (uint64_t id = 1; id <= 3; id++)
        assert_int_equal(wsr__inbox_post(fx->in, note(id)), 0);
    list = wsr__inbox_take(fx->in);
    for (m = list; m != NULL; m = m->next)
        assert_int_equal(m->conn_id, want++);
    assert_int_equal(want, 4);
    free_list(list);
    /* Taken means gone, and the tail was reset with the head. */
    assert_null(wsr__inbox_take(fx->in));
    assert_int_equal(wsr__inbox_post(fx->in, note(9)), 0);
    list = wsr__inbox_take(fx->in);
    assert_non_null(list);
    assert_int_equal(list->conn_id, 9);
    assert_null(list->next);
    free_list(list);
}

static void test_inbox__post_list_appends_in_order(void **state)
{
    fixture_t *fx = *state;
    wsr__msg_t *a = note(2), *b = note(3), *c = note(4), *list, *m;
    uint64_t want = 1;

    assert_int_equal(wsr__inbox_post(fx->in, note(1)), 0);
    a->next = b;
    b->next = c;
    c->next = a; /* a stale next on the tail is cleared */
    assert_int_equal(wsr__inbox_post_list(fx->in, a, c), 0);
    assert_int_equal(wsr__inbox_post(fx->in, note(5)), 0);
    list = wsr__inbox_take(fx->in);
    for (m = list; m != NULL; m = m->next)
        assert_int_equal(m->conn_id, want++);
    assert_int_equal(want, 6);
    free_list(list);
}

static void test_inbox__post_list_to_closed_inbox_frees_them_all(void **state)
{
    fixture_t *fx = *state;
    long before = tu_live_blocks();
    wsr__msg_t *a = wsr__msg_copy("one", 3, false), *b = wsr__msg_copy("two", 3, false);

    assert_non_null(a);
    assert_non_null(b);
    a->next = b;
    wsr__inbox_close(fx->in);
    assert_int_equal(wsr__inbox_post_list(fx->in, a, b), WSR_ECLOSED);
    assert_int_equal(tu_live_blocks(), before);
}

static void test_inbox__post_clears_a_stale_next(void **state)
{
    fixture_t *fx = *state;
    wsr__msg_t *a = note(1), *b = note(2), *list;

    a->next = b; /* left over from a list it was taken from */
    assert_int_equal(wsr__inbox_post(fx->in, a), 0);
    list = wsr__inbox_take(fx->in);
    assert_ptr_equal(list, a);
    assert_null(list->next);
    wsr__msg_free(a);
    wsr__msg_free(b);
}

static void test_inbox__post_to_closed_inbox_frees_the_message(void **state)
{
    fixture_t *fx = *state;
    long before = tu_live_blocks();
    wsr__msg_t *m = wsr__msg_copy("late", 4, false);

    assert_non_null(m);
    wsr__inbox_close(fx->in);
    assert_int_equal(wsr__inbox_post(fx->in, m), WSR_ECLOSED);
    /* Taken and freed: nothing of it is left (ASan and the counter agree). */
    assert_int_equal(tu_live_blocks(), before);
    assert_null(wsr__inbox_take(fx->in));
    wsr__inbox_wake(fx->in); /* harmless once closed */
}

static void test_inbox__close_keeps_what_was_posted_before(void **state)
{
    fixture_t *fx = *state;
    wsr__msg_t *list;

    assert_int_equal(wsr__inbox_post(fx->in, note(5)), 0);
    wsr__inbox_close(fx->in);
    assert_int_equal(wsr__inbox_post(fx->in, note(6)), WSR_ECLOSED);
    /* The loop's last drain still finds the early message. */
    list = wsr__inbox_take(fx->in);
    assert_non_null(list);
    assert_int_equal(list->conn_id, 5);
    assert_null(list->next);
    free_list(list);
}

static void test_inbox__refs_count_up_and_down(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(atomic_load(&fx->in->refs), 1);
    assert_ptr_equal(wsr__inbox_ref(fx->in), fx->in);
    assert_int_equal(atomic_load(&fx->in->refs), 2);
    wsr__inbox_unref(fx->in);
    assert_int_equal(atomic_load(&fx->in->refs), 1);
    wsr__inbox_unref(NULL);
}

static void test_inbox__outlives_its_loop_while_referenced(void **state)
{
    long before = tu_live_blocks();
    wsr__loop_t *loop = calloc(1, sizeof(*loop));
    wsr__inbox_t *in;

    (void)state;
    assert_non_null(loop);
    assert_int_equal(wsr__loop_init(loop, NULL, 0, NULL), 0);
    /* What a deferred reply holds while its loop goes away. */
    in = wsr__inbox_ref(loop->inbox);
    assert_int_equal(atomic_load(&in->refs), 2);
    assert_int_equal(wsr__inbox_post(in, note(1)), 0);
    wsr__loop_dispose(loop);
    free(loop);
    /* The loop is gone; its inbox is not, and still takes posts. */
    assert_int_equal(atomic_load(&in->refs), 1);
    assert_int_equal(wsr__inbox_post(in, wsr__msg_copy("left", 4, false)), 0);
    wsr__inbox_close(in);
    assert_int_equal(wsr__inbox_post(in, note(2)), WSR_ECLOSED);
    /* The last reference frees the inbox and the two messages left in it. */
    wsr__inbox_unref(in);
    assert_int_equal(tu_live_blocks(), before);
}

static void test_inbox__last_unref_frees_what_is_left(void **state)
{
    wsr__inbox_t *in = wsr__inbox_new();
    long before;

    (void)state;
    assert_non_null(in);
    before = tu_live_blocks();
    assert_int_equal(wsr__inbox_post(in, note(1)), 0);
    assert_int_equal(wsr__inbox_post(in, wsr__msg_copy("payload", 7, true)), 0);
    assert_true(tu_live_blocks() > before);
    wsr__inbox_ref(in);
    wsr__inbox_unref(in); /* not the last: the messages stay */
    assert_true(tu_live_blocks() > before);
    wsr__inbox_unref(in); /* the last: messages and inbox go */
    assert_int_equal(tu_live_blocks(), before - 1);
}

static void test_inbox__new_fails_cleanly(void **state)
{
    long live = tu_live_blocks();

    (void)state;
    tu_fail_at(0, false);
    assert_null(wsr__inbox_new());
    tu_fail_at(-1, false);
    assert_int_equal(tu_live_blocks(), live);
}

/* ---- several threads ---- */

static void *post_many(void *arg)
{
    poster_t *p = arg;

    for (unsigned seq = 0; seq < PER_POSTER; seq++) {
        wsr__msg_t *m = wsr__msg_new_note(WSR__MSG_CLOSE, (uint64_t)p->index << 32 | seq, 0);

        if (m == NULL || wsr__inbox_post(p->fx->in, m) != 0)
            p->failures++;
    }
    atomic_fetch_add(&p->fx->posters_done, 1);
    return NULL;
}

/* Checks a taken list against each poster's own order; returns false on a
 * message out of order, duplicated or unknown. */
static bool receive(fixture_t *fx, wsr__msg_t *list)
{
    bool ok = true;

    for (wsr__msg_t *m = list; m != NULL; m = m->next) {
        unsigned who = (unsigned)(m->conn_id >> 32), seq = (unsigned)m->conn_id;

        if (who >= POSTERS || seq != fx->next_seq[who]) {
            ok = false;
            continue;
        }
        fx->next_seq[who]++;
        fx->received++;
    }
    free_list(list);
    return ok;
}

static void test_inbox__concurrent_posts_arrive_once_in_order(void **state)
{
    fixture_t *fx = *state;
    poster_t posters[POSTERS];
    pthread_t threads[POSTERS];
    bool ok = true;
    unsigned long spins = 0;

    for (unsigned i = 0; i < POSTERS; i++) {
        posters[i] = (poster_t){fx, i, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, post_many, &posters[i]), 0);
    }
    /* Take while they post, as the loop does; bounded by their finishing
     * (posting never blocks) and by a spin cap besides. */
    while (atomic_load(&fx->posters_done) < POSTERS && spins++ < 100000000ul)
        ok = receive(fx, wsr__inbox_take(fx->in)) && ok;
    for (unsigned i = 0; i < POSTERS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    ok = receive(fx, wsr__inbox_take(fx->in)) && ok;
    assert_true(ok);
    for (unsigned i = 0; i < POSTERS; i++) {
        assert_int_equal(posters[i].failures, 0);
        assert_int_equal(fx->next_seq[i], PER_POSTER);
    }
    assert_int_equal(fx->received, POSTERS * PER_POSTER);
    assert_null(wsr__inbox_take(fx->in));
}

/* ---- the wake ---- */

/* The protocol callback of the test context: on a wake it takes what the
 * inbox holds, as a loop does. */
static int wake_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    fixture_t *fx = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;

    (void)user;
    (void)in;
    (void)len;
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED && fx != NULL) {
        wsr__msg_t *m = wsr__inbox_take(fx->in);

        fx->wakes++;
        if (m != NULL) {
            free_list(m->next);
            m->next = NULL;
            wsr__msg_free(fx->woken_with);
            fx->woken_with = m;
        }
    }
    return 0;
}

/* lws 4.1.6 runs a timer at the start of lws_service, then waits for the
 * next one: a timer every few ms keeps each call short. */
static void on_tick(lws_sorted_usec_list_t *sul)
{
    fixture_t *fx = lws_container_of(sul, fixture_t, ticker);

    lws_sul_schedule(fx->ctx, 0, &fx->ticker, on_tick, TICK_US);
}

/* A context that listens nowhere, whose protocol sees the wakes. What lws
 * itself queued at creation (one wake) is serviced without waiting, so every
 * wake after this is ours. */
static void make_context(fixture_t *fx)
{
    struct lws_context_creation_info info;

    memset(fx->protocols, 0, sizeof(fx->protocols));
    fx->protocols[0].name = "wsr-test-wake";
    fx->protocols[0].callback = wake_callback;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = fx->protocols;
    info.gid = -1;
    info.uid = -1;
    info.user = fx;
    fx->ctx = lws_create_context(&info);
    assert_non_null(fx->ctx);
    for (int i = 0; i < 3; i++)
        (void)lws_service(fx->ctx, -1);
    fx->wakes = 0;
}

/* Services the context until `done` or WAIT_MS; returns `done`. */
static bool service_until(fixture_t *fx, bool (*done)(const fixture_t *fx))
{
    int64_t deadline = wsr__mono_ms() + WAIT_MS;

    lws_sul_schedule(fx->ctx, 0, &fx->ticker, on_tick, TICK_US);
    for (long i = 0; i < 10000000L && !done(fx) && wsr__mono_ms() < deadline; i++)
        if (lws_service(fx->ctx, 0) < 0)
            break;
    lws_sul_cancel(&fx->ticker);
    return done(fx);
}

static bool got_message(const fixture_t *fx)
{
    return fx->woken_with != NULL;
}

static bool got_wake(const fixture_t *fx)
{
    return fx->wakes > 0;
}

static void *post_one(void *arg)
{
    fixture_t *fx = arg;
    wsr__msg_t *m = wsr__msg_copy("wake", 4, false);

    if (m != NULL) {
        m->conn_id = 77;
        (void)wsr__inbox_post(fx->in, m);
    }
    return NULL;
}

static void test_inbox__post_wakes_a_real_context(void **state)
{
    fixture_t *fx = *state;
    pthread_t t;

    make_context(fx);
    wsr__inbox_set_ctx(fx->in, fx->ctx);
    assert_int_equal(pthread_create(&t, NULL, post_one, fx), 0);
    assert_true(service_until(fx, got_message));
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(fx->wakes, 1);
    assert_int_equal(fx->woken_with->conn_id, 77);
    assert_memory_equal(wsr__msg_payload(fx->woken_with), "wake", 4);
    assert_null(wsr__inbox_take(fx->in));
}

/* A burst of posts wakes the loop once: the loop takes the whole list, so
 * only a post to an empty inbox needs a wake. */
static void test_inbox__a_burst_of_posts_wakes_once(void **state)
{
    fixture_t *fx = *state;

    make_context(fx);
    wsr__inbox_set_ctx(fx->in, fx->ctx);
    for (int i = 0; i < 5; i++)
        assert_int_equal(wsr__inbox_post(fx->in, note((uint64_t)i)), 0);
    assert_int_equal(fx->in->wakes, 1);
    assert_true(service_until(fx, got_message));
    assert_int_equal(fx->wakes, 1);
    /* The callback took them all: the next post finds it empty and wakes. */
    assert_null(wsr__inbox_take(fx->in));
    assert_int_equal(wsr__inbox_post(fx->in, note(9)), 0);
    assert_int_equal(wsr__inbox_post(fx->in, note(10)), 0);
    assert_int_equal(fx->in->wakes, 2);
    free_list(wsr__inbox_take(fx->in));
}

/* Posts made before the loop had its context woke nothing: setting the
 * context wakes it for them, since the posts after them will not. */
static void test_inbox__set_ctx_wakes_for_what_waits(void **state)
{
    fixture_t *fx = *state;

    make_context(fx);
    assert_int_equal(wsr__inbox_post(fx->in, note(1)), 0);
    assert_int_equal(fx->in->wakes, 0);
    wsr__inbox_set_ctx(fx->in, fx->ctx);
    assert_int_equal(fx->in->wakes, 1);
    assert_true(service_until(fx, got_message));
    assert_int_equal(fx->wakes, 1);
}

static void test_inbox__wake_without_a_message(void **state)
{
    fixture_t *fx = *state;

    make_context(fx);
    /* No context set: nothing to wake, nothing breaks. */
    wsr__inbox_wake(fx->in);
    wsr__inbox_set_ctx(fx->in, fx->ctx);
    wsr__inbox_wake(fx->in);
    assert_true(service_until(fx, got_wake));
    assert_int_equal(fx->wakes, 1);
    assert_null(fx->woken_with);
}

static void test_inbox__no_wake_without_a_context(void **state)
{
    fixture_t *fx = *state;

    make_context(fx);
    /* The loop forgot its context (it is stopping): posts are kept and
     * wake nothing. */
    assert_int_equal(wsr__inbox_post(fx->in, note(3)), 0);
    for (int i = 0; i < 3; i++)
        (void)lws_service(fx->ctx, -1);
    assert_int_equal(fx->wakes, 0);
    free_list(wsr__inbox_take(fx->in));
    /* A closed inbox forgets the context it had. */
    wsr__inbox_set_ctx(fx->in, fx->ctx);
    wsr__inbox_close(fx->in);
    assert_null(fx->in->ctx);
    wsr__inbox_wake(fx->in);
    for (int i = 0; i < 3; i++)
        (void)lws_service(fx->ctx, -1);
    assert_int_equal(fx->wakes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inbox__msg_take_keeps_the_payload_in_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inbox__msg_take_of_an_empty_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__msg_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__msg_new_note, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__msg_free_releases_its_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__msg_allocations_fail_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__post_keeps_fifo_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__post_list_appends_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__post_list_to_closed_inbox_frees_them_all, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inbox__post_clears_a_stale_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__post_to_closed_inbox_frees_the_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inbox__close_keeps_what_was_posted_before, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inbox__refs_count_up_and_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__outlives_its_loop_while_referenced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inbox__last_unref_frees_what_is_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__new_fails_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__concurrent_posts_arrive_once_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inbox__post_wakes_a_real_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__a_burst_of_posts_wakes_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__set_ctx_wakes_for_what_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__wake_without_a_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox__no_wake_without_a_context, setup, teardown),
    };

    tu_install_allocator();
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    return cmocka_run_group_tests_name("inbox", tests, NULL, NULL);
}
