/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/loop.c: the registry of connections by slot and
 * generation, message delivery (wsr__loop_post at once on the loop's own
 * thread, through the inbox and the context's wake from another), the notes
 * other threads send (STOP, SESSION), and the graceful drain: a loop without
 * connections finishes at once; one with a deferred reply in flight waits
 * for it until the drain deadline, which cancels it.
 *
 * The loop is real (tests/loopfix.c, shared with test_reply.c): a
 * libwebsockets context that listens nowhere with the wsrouter.v1 callback
 * (its wake drains the inbox), and a registered connection whose wsi is a
 * socketpair adopted as a raw descriptor. The drain deadline closes every connection left with
 * wsr__conn_close, which needs a WebSocket wsi (lws_close_reason): in those
 * cases the connection is one whose close is already under way (close_code
 * set, its client not answering), which wsr__conn_close leaves alone.
 */
#include "testutil.h"
#include "loopfix.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsrouter/wsrouter.h"
#include "core/internal.h"
#include "core/router_int.h"
#include "core/session_int.h"
#include "server/conn_int.h"
#include "server/inbox_int.h"
#include "server/loop_int.h"
#include "server/reply_int.h"
#include "server/serve_int.h"
#include "services/factory_int.h"

#define WAIT_MS     5000       /* the most a wait may take */
#define TICK_US     (5 * 1000) /* lws_service returns at least this often */
#define DRAIN_MS    20         /* shutdown_timeout_ms in the drain cases */
#define WAIT_MSG    "{\"cmd\":\"wait\",\"id\":7}"
#define EXTRA_CONNS 100

typedef struct fixture {
    long live0;
    tu_loop_t lp;                   /* the loop, its factory and its connection (loopfix.h) */
    wsr__conn_t extra[EXTRA_CONNS]; /* registry-only connections (no wsi) */
    lws_sorted_usec_list_t ticker;
    lws_sorted_usec_list_t on_loop; /* runs `on_loop_fn` on the loop's thread */
    char text[1024];                /* the last frame queued, as text */
    wsr_reply_t *held;
    /* what a case saw on the loop's thread, checked after it */
    int post_rc;
    bool delivered_at_once, inbox_empty, current;
    /* another thread's view */
    bool other_current;
    int other_rc;
} fixture_t;

static int defer_handler(wsr_request_t *req, wsr_response_t *res, void *user)
{
    fixture_t *fx = user;

    (void)req;
    fx->held = wsr_response_defer(res);
    return 0;
}

static const wsr_route_t routes[] = {
    {.name = "wait", .handler = defer_handler, .doc = "Defers."},
    WSR_ROUTES_END,
};

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    wsr_server_config_t cfg;

    if (fx == NULL)
        return -1;
    *state = fx;
    fx->live0 = tu_live_blocks();
    wsr_server_config_init(&cfg);
    cfg.shutdown_timeout_ms = DRAIN_MS;
    return tu_loop_open(&fx->lp, &cfg, routes, fx);
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    long live0 = fx->live0;

    tu_loop_close(&fx->lp);
    free(fx);
    assert_int_equal(tu_live_blocks(), live0);
    return 0;
}

/* ---- helpers ---- */

static void serve(fixture_t *fx, const char *msg)
{
    wsr__serve_message(&fx->lp.conn, (const unsigned char *)msg, strlen(msg), false);
}

/* Serves `msg`, whose handler defers; returns the handle. */
static wsr_reply_t *defer(fixture_t *fx, const char *msg)
{
    fx->held = NULL;
    serve(fx, msg);
    assert_non_null(fx->held);
    return fx->held;
}

/* The frames queued on the connection; copies the first into fx->text. */
static size_t queued(fixture_t *fx)
{
    size_t n = 0;

    fx->text[0] = '\0';
    for (wsr__msg_t *m = fx->lp.conn.out_head; m != NULL; m = m->next) {
        if (n++ == 0) {
            size_t len = m->len < sizeof(fx->text) - 1 ? m->len : sizeof(fx->text) - 1;

            memcpy(fx->text, wsr__msg_payload(m), len);
            fx->text[len] = '\0';
        }
    }
    return n;
}

/* The messages waiting in the loop's inbox (not taken). */
static size_t in_inbox(fixture_t *fx)
{
    size_t n = 0;

    pthread_mutex_lock(&fx->lp.loop.inbox->lock);
    for (wsr__msg_t *m = fx->lp.loop.inbox->head; m != NULL; m = m->next)
        n++;
    pthread_mutex_unlock(&fx->lp.loop.inbox->lock);
    return n;
}

static uint64_t counter(wsr__counter_t *c)
{
    return atomic_load(c);
}

/* The connection goes, as conn.c's LWS_CALLBACK_CLOSED does it. */
static void conn_gone(fixture_t *fx)
{
    fx->lp.conn.registered = 0;
    wsr__reply_conn_closed(&fx->lp.loop, &fx->lp.conn);
    tu_loop_free_queue(&fx->lp.conn);
    wsr__loop_unregister(&fx->lp.loop, fx->lp.conn.id);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    fixture_t *fx = lws_container_of(sul, fixture_t, ticker);

    lws_sul_schedule(fx->lp.loop.ctx, 0, &fx->ticker, on_tick, TICK_US);
}

/* Services the loop until `done` or WAIT_MS; returns `done`. lws 4.1.6 runs
 * ripe timers at the start of lws_service and then waits for the next one:
 * a short ticker keeps every call short. */
static bool service_until(fixture_t *fx, bool (*done)(fixture_t *fx))
{
    int64_t deadline = wsr__mono_ms() + WAIT_MS;

    lws_sul_schedule(fx->lp.loop.ctx, 0, &fx->ticker, on_tick, TICK_US);
    for (long i = 0; i < 10000000L && !done(fx) && wsr__mono_ms() < deadline; i++)
        if (lws_service(fx->lp.loop.ctx, 0) < 0)
            break;
    lws_sul_cancel(&fx->ticker);
    return done(fx);
}

static bool has_frame(fixture_t *fx)
{
    return fx->lp.conn.out_head != NULL;
}

static bool finished(fixture_t *fx)
{
    return fx->lp.loop.finished;
}

static bool timed_out(fixture_t *fx)
{
    return fx->lp.loop.drain_timed_out;
}

/* ---- the registry ---- */

static void test_loop__register_gives_slot_and_generation_ids(void **state)
{
    fixture_t *fx = *state;
    uint64_t a, b, c;

    /* The fixture's connection took slot 0. */
    assert_int_equal(WSR__ID_SLOT(fx->lp.conn.id), 0);
    assert_int_equal(WSR__ID_GEN(fx->lp.conn.id), 1);
    assert_int_equal(WSR__ID_LOOP(fx->lp.conn.id), 0);
    assert_int_equal(wsr__loop_register(&fx->lp.loop, &fx->extra[0], &a), 0);
    assert_int_equal(wsr__loop_register(&fx->lp.loop, &fx->extra[1], &b), 0);
    assert_int_equal(WSR__ID_SLOT(a), 1);
    assert_int_equal(WSR__ID_SLOT(b), 2);
    assert_int_equal(fx->lp.loop.nconns, 3);
    assert_ptr_equal(wsr__loop_conn(&fx->lp.loop, a), &fx->extra[0]);
    assert_ptr_equal(wsr__loop_conn(&fx->lp.loop, b), &fx->extra[1]);
    /* A freed slot is reused with the next generation: the old id is dead. */
    wsr__loop_unregister(&fx->lp.loop, a);
    assert_int_equal(fx->lp.loop.nconns, 2);
    assert_null(wsr__loop_conn(&fx->lp.loop, a));
    assert_int_equal(wsr__loop_register(&fx->lp.loop, &fx->extra[2], &c), 0);
    assert_int_equal(WSR__ID_SLOT(c), 1);
    assert_int_equal(WSR__ID_GEN(c), 2);
    assert_null(wsr__loop_conn(&fx->lp.loop, a));
    assert_ptr_equal(wsr__loop_conn(&fx->lp.loop, c), &fx->extra[2]);
    /* Another loop's id, a slot never used, generation 0: nobody. */
    assert_null(wsr__loop_conn(&fx->lp.loop, b | (uint64_t)1 << 24));
    assert_null(wsr__loop_conn(&fx->lp.loop, (uint64_t)1 << 32 | 50));
    assert_null(wsr__loop_conn(&fx->lp.loop, WSR__ID_SLOT(b)));
    wsr__loop_unregister(&fx->lp.loop, b);
    wsr__loop_unregister(&fx->lp.loop, c);
    assert_int_equal(fx->lp.loop.nconns, 1);
}

static void test_loop__registry_grows(void **state)
{
    fixture_t *fx = *state;
    uint64_t ids[EXTRA_CONNS];

    for (int i = 0; i < EXTRA_CONNS; i++)
        assert_int_equal(wsr__loop_register(&fx->lp.loop, &fx->extra[i], &ids[i]), 0);
    assert_true(fx->lp.loop.slots_cap >= EXTRA_CONNS + 1);
    for (int i = 0; i < EXTRA_CONNS; i++)
        assert_ptr_equal(wsr__loop_conn(&fx->lp.loop, ids[i]), &fx->extra[i]);
    assert_ptr_equal(wsr__loop_conn(&fx->lp.loop, fx->lp.conn.id), &fx->lp.conn);
    for (int i = 0; i < EXTRA_CONNS; i++)
        wsr__loop_unregister(&fx->lp.loop, ids[i]);
    assert_int_equal(fx->lp.loop.nconns, 1);
}

static void test_loop__register_under_allocation_failures(void **state)
{
    fixture_t *fx = *state;
    uint64_t ids[EXTRA_CONNS], id = 0;
    int n = 0, rc;

    /* Fill the first 64 slots, then fail the growth. */
    while (fx->lp.loop.nslots < fx->lp.loop.slots_cap)
        assert_int_equal(wsr__loop_register(&fx->lp.loop, &fx->extra[n], &ids[n]), 0), n++;
    tu_fail_at(0, false);
    rc = wsr__loop_register(&fx->lp.loop, &fx->extra[n], &id);
    tu_fail_at(-1, false);
    assert_int_equal(rc, WSR_ENOMEM);
    assert_int_equal(fx->lp.loop.nconns, (unsigned)n + 1);
    assert_ptr_equal(wsr__loop_conn(&fx->lp.loop, ids[0]), &fx->extra[0]);
    /* The next attempt grows it. */
    assert_int_equal(wsr__loop_register(&fx->lp.loop, &fx->extra[n], &id), 0);
    assert_ptr_equal(wsr__loop_conn(&fx->lp.loop, id), &fx->extra[n]);
    wsr__loop_unregister(&fx->lp.loop, id);
    for (int i = 0; i < n; i++)
        wsr__loop_unregister(&fx->lp.loop, ids[i]);
}

/* ---- messages ---- */

static wsr__msg_t *push_for(uint64_t id, const char *text)
{
    wsr__msg_t *m = wsr__msg_copy(text, strlen(text), false);

    assert_non_null(m);
    m->conn_id = id;
    return m;
}

/* Runs on the loop's thread, inside wsr__loop_service: a push posted there
 * is delivered before wsr__loop_post returns. Then the loop drains. */
static void post_on_loop(lws_sorted_usec_list_t *sul)
{
    fixture_t *fx = lws_container_of(sul, fixture_t, on_loop);
    wsr__msg_t *m = wsr__msg_copy("{\"event\":\"now\"}", 15, false);

    fx->current = wsr__loop_is_current(&fx->lp.loop);
    if (m != NULL) {
        m->conn_id = fx->lp.conn.id;
        fx->post_rc = wsr__loop_post(&fx->lp.loop, m);
        fx->delivered_at_once = fx->lp.conn.out_head != NULL;
        fx->inbox_empty = in_inbox(fx) == 0;
    }
    /* The drain ends at once: no connection is left. */
    tu_loop_free_queue(&fx->lp.conn);
    conn_gone(fx);
    wsr__loop_begin_drain(&fx->lp.loop);
}

static void test_loop__post_on_the_loops_thread_delivers_at_once(void **state)
{
    fixture_t *fx = *state;

    fx->post_rc = -1;
    lws_sul_schedule(fx->lp.loop.ctx, 0, &fx->on_loop, post_on_loop, 1);
    wsr__loop_service(&fx->lp.loop); /* returns once the drain finished */
    assert_true(fx->lp.loop.finished);
    assert_true(fx->current);
    assert_int_equal(fx->post_rc, 0);
    assert_true(fx->delivered_at_once);
    assert_true(fx->inbox_empty);
    assert_int_equal(counter(&fx->lp.stats->pushes), 1);
}

static void *post_from_elsewhere(void *arg)
{
    fixture_t *fx = arg;
    wsr__msg_t *m = wsr__msg_copy("{\"event\":\"later\"}", 17, false);

    fx->other_current = wsr__loop_is_current(&fx->lp.loop);
    fx->other_rc = -1;
    if (m != NULL) {
        m->conn_id = fx->lp.conn.id;
        fx->other_rc = wsr__loop_post(&fx->lp.loop, m);
    }
    return NULL;
}

/* What wsr__loop_service does first: this thread services the loop. */
static void be_the_loop_thread(fixture_t *fx)
{
    fx->lp.loop.tid = pthread_self();
    atomic_store(&fx->lp.loop.tid_set, true);
}

static void test_loop__post_from_another_thread_goes_through_the_inbox(void **state)
{
    fixture_t *fx = *state;
    pthread_t t;

    be_the_loop_thread(fx);
    assert_true(wsr__loop_is_current(&fx->lp.loop));
    assert_int_equal(pthread_create(&t, NULL, post_from_elsewhere, fx), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_false(fx->other_current);
    assert_int_equal(fx->other_rc, 0);
    /* Not delivered on the poster's thread: waiting in the inbox... */
    assert_int_equal(queued(fx), 0);
    assert_int_equal(in_inbox(fx), 1);
    /* ...until the wake makes the loop drain it. */
    assert_true(service_until(fx, has_frame));
    assert_int_equal(queued(fx), 1);
    assert_string_equal(fx->text, "{\"event\":\"later\"}");
    assert_int_equal(in_inbox(fx), 0);
    assert_int_equal(counter(&fx->lp.stats->pushes), 1);
}

static void test_loop__push_to_a_gone_connection_is_dropped(void **state)
{
    fixture_t *fx = *state;
    uint64_t id = fx->lp.conn.id;

    conn_gone(fx);
    assert_int_equal(wsr__loop_post(&fx->lp.loop, push_for(id, "{}")), 0);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_int_equal(counter(&fx->lp.stats->pushes_dropped), 1);
    assert_int_equal(counter(&fx->lp.stats->pushes), 0);
}

static void test_loop__post_after_finish_is_refused(void **state)
{
    fixture_t *fx = *state;
    long before;

    wsr__loop_finish(&fx->lp.loop);
    before = tu_live_blocks();
    assert_int_equal(wsr__loop_post(&fx->lp.loop, push_for(fx->lp.conn.id, "{}")), WSR_ENOENT);
    assert_int_equal(tu_live_blocks(), before);
}

static void test_loop__session_notes(void **state)
{
    fixture_t *fx = *state;
    wsr__session_t *s = wsr__session_new("ann", "", "jti-1", 0);
    wsr__session_t *other = wsr__session_new("ann", "", "jti-2", 0);
    wsr__msg_t *m;

    assert_non_null(s);
    assert_non_null(other);
    /* Logged in elsewhere: the connection takes the session. */
    m = wsr__msg_new_note(WSR__MSG_SESSION, fx->lp.conn.id, 0);
    assert_non_null(m);
    m->session = wsr__session_ref(s);
    assert_int_equal(wsr__loop_post(&fx->lp.loop, m), 0);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_ptr_equal(fx->lp.conn.session, s);
    /* Another token logged out: this one stays. */
    m = wsr__msg_new_note(WSR__MSG_SESSION, fx->lp.conn.id, 1);
    assert_non_null(m);
    m->session = other;
    assert_int_equal(wsr__loop_post(&fx->lp.loop, m), 0);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_ptr_equal(fx->lp.conn.session, s);
    /* Its own token logged out: anonymous again. */
    m = wsr__msg_new_note(WSR__MSG_SESSION, fx->lp.conn.id, 1);
    assert_non_null(m);
    m->session = s; /* our reference goes with the note */
    assert_int_equal(wsr__loop_post(&fx->lp.loop, m), 0);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_null(fx->lp.conn.session);
}

/* ---- the drain ---- */

static void test_loop__drain_without_connections_finishes_at_once(void **state)
{
    fixture_t *fx = *state;

    conn_gone(fx);
    wsr__loop_begin_drain(&fx->lp.loop);
    assert_true(fx->lp.loop.draining);
    assert_true(fx->lp.loop.finished);
    assert_false(fx->lp.loop.drain_timed_out);
    wsr__loop_begin_drain(&fx->lp.loop); /* once is enough */
    assert_true(fx->lp.loop.finished);
}

static void test_loop__stop_requested_before_service(void **state)
{
    fixture_t *fx = *state;

    conn_gone(fx);
    atomic_store(&fx->lp.loop.stop_requested, true);
    /* Drains at once and returns without waiting. */
    wsr__loop_service(&fx->lp.loop);
    assert_true(fx->lp.loop.draining);
    assert_true(fx->lp.loop.finished);
    assert_true(wsr__loop_is_current(&fx->lp.loop));
    wsr__loop_finish(&fx->lp.loop);
    assert_false(wsr__loop_is_current(&fx->lp.loop));
}

static void *stop_from_elsewhere(void *arg)
{
    fixture_t *fx = arg;

    fx->other_rc = wsr__loop_post(&fx->lp.loop, wsr__msg_new_note(WSR__MSG_STOP, 0, 0));
    return NULL;
}

static void test_loop__stop_note_from_another_thread(void **state)
{
    fixture_t *fx = *state;
    pthread_t t;

    conn_gone(fx);
    fx->other_rc = -1;
    assert_int_equal(pthread_create(&t, NULL, stop_from_elsewhere, fx), 0);
    assert_true(service_until(fx, finished));
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(fx->other_rc, 0);
    assert_true(fx->lp.loop.draining);
}

static void *request_stop(void *arg)
{
    fixture_t *fx = arg;

    /* What wsr_server_stop does for each loop. */
    atomic_store(&fx->lp.loop.stop_requested, true);
    wsr__inbox_wake(fx->lp.loop.inbox);
    return NULL;
}

static void test_loop__stop_request_wakes_a_running_loop(void **state)
{
    fixture_t *fx = *state;
    pthread_t t;

    conn_gone(fx);
    assert_int_equal(pthread_create(&t, NULL, request_stop, fx), 0);
    assert_true(service_until(fx, finished));
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(fx->lp.loop.draining);
}

static void test_loop__last_connection_gone_ends_the_drain(void **state)
{
    fixture_t *fx = *state;

    wsr__loop_begin_drain(&fx->lp.loop);
    assert_false(fx->lp.loop.finished); /* the connection is still there */
    assert_int_equal(fx->lp.conn.drain_code, 1001);
    conn_gone(fx);
    wsr__loop_conn_gone(&fx->lp.loop);
    assert_true(fx->lp.loop.finished);
}

static void test_loop__drain_deadline_cancels_a_pending_reply(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r;

    fx->lp.conn.close_code = 1000; /* closing already: see the header */
    r = defer(fx, WAIT_MSG);
    wsr__loop_begin_drain(&fx->lp.loop);
    /* The reply keeps the drain open... */
    assert_true(fx->lp.loop.draining);
    assert_false(fx->lp.loop.finished);
    assert_ptr_equal(fx->lp.loop.pending, r);
    assert_false(wsr_reply_cancelled(r));
    /* ...until the deadline cancels it. */
    assert_true(service_until(fx, timed_out));
    assert_null(fx->lp.loop.pending);
    assert_null(fx->lp.conn.replies);
    assert_true(wsr_reply_cancelled(r));
    assert_int_equal(atomic_load(&r->refs), 1);
    assert_int_equal(queued(fx), 0);
    /* A last grace second for the closes, then the loop finishes. */
    assert_true(service_until(fx, finished));
    assert_int_equal(wsr_reply_complete_take(r, 200, json_string("late")), WSR_EDONE);
    wsr__loop_finish(&fx->lp.loop);
    assert_int_equal(in_inbox(fx), 0);
}

static void test_loop__drain_deadline_after_the_completer_won(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r;

    fx->lp.conn.close_code = 1000; /* closing already: see the header */
    r = defer(fx, WAIT_MSG);
    wsr__loop_begin_drain(&fx->lp.loop);
    /* Completed, not yet delivered, when the deadline cancels everything:
     * the message keeps the reply alive (bug 1 of reply.c, through the
     * deadline itself). */
    wsr__inbox_set_ctx(fx->lp.loop.inbox, NULL); /* posts wake nothing: the deadline goes first */
    assert_int_equal(wsr_reply_complete_take(r, 200, json_string("raced")), 0);
    assert_true(service_until(fx, timed_out));
    assert_null(fx->lp.loop.pending);
    assert_int_equal(atomic_load(&r->refs), 1);
    assert_int_equal(in_inbox(fx), 1);
    /* The closing connection drops it; the reply goes with it. */
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_int_equal(in_inbox(fx), 0);
    assert_int_equal(queued(fx), 0);
    assert_true(service_until(fx, finished));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loop__register_gives_slot_and_generation_ids, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_loop__registry_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop__register_under_allocation_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_loop__post_on_the_loops_thread_delivers_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_loop__post_from_another_thread_goes_through_the_inbox,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop__push_to_a_gone_connection_is_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_loop__post_after_finish_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop__session_notes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop__drain_without_connections_finishes_at_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop__stop_requested_before_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop__stop_note_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop__stop_request_wakes_a_running_loop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_loop__last_connection_gone_ends_the_drain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_loop__drain_deadline_cancels_a_pending_reply, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_loop__drain_deadline_after_the_completer_won, setup,
                                        teardown),
    };

    tu_install_allocator();
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
