/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/reply.c, the deferred reply's lifecycle, on a real
 * event loop: a wsr__loop_t with a libwebsockets context that listens
 * nowhere, the wsrouter.v1 protocol callback (whose wake drains the inbox)
 * and a registered connection. The connection's wsi is real too: one end of
 * a socketpair adopted as a raw descriptor, so queueing a frame
 * (lws_callback_on_writable) is the real call; only a WebSocket close
 * (lws_close_reason) needs a WebSocket wsi, and no case here closes one.
 * Requests go through wsr__serve_message and a real router, whose handler
 * defers.
 *
 * Who wins the PENDING -> DONE exchange decides who releases the loop's
 * reference: the completer (its message carries it back), the timeout, the
 * connection's close or the loop's shutdown. Every case ends with every
 * block released (the counting allocator and LeakSanitizer agree), and the
 * regressions are use-after-free or double-free under the old code
 * (AddressSanitizer).
 */
#include "testutil.h"
#include "loopfix.h"

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsrouter/wsrouter.h"
#include "core/internal.h"
#include "core/router_int.h"
#include "server/conn_int.h"
#include "server/inbox_int.h"
#include "server/loop_int.h"
#include "server/reply_int.h"
#include "server/serve_int.h"
#include "services/factory_int.h"

#define WAIT_MS         5000       /* the most a wait may take */
#define TICK_US         (5 * 1000) /* lws_service returns at least this often */
#define SLOW_TIMEOUT_MS 30         /* the "slow" route's request timeout */
#define WAIT_MSG        "{\"cmd\":\"wait\",\"id\":7}"
#define SLOW_MSG        "{\"cmd\":\"slow\",\"id\":8}"

typedef struct fixture {
    long live0;
    tu_loop_t lp; /* the loop, its factory and its connection (loopfix.h) */
    lws_sorted_usec_list_t ticker;
    SSL_CTX *ssl_ctx; /* owned: stands for the wss:// vhost's, or NULL */
    char text[1024];  /* the last frame queued, as text */
    /* what the deferring handler does */
    int defers;      /* wsr_response_defer calls */
    int completions; /* completions before it returns */
    wsr_reply_t *held, *again;
    int rc_first, rc_second;
    /* a completion made from inside the loop's own finish (log hook) */
    bool complete_on_log;
    bool logged;
    int log_rc;
} fixture_t;

static int defer_handler(wsr_request_t *req, wsr_response_t *res, void *user)
{
    fixture_t *fx = user;

    (void)req;
    fx->held = wsr_response_defer(res);
    if (fx->defers > 1)
        fx->again = wsr_response_defer(res);
    if (fx->completions >= 1)
        fx->rc_first = wsr_reply_complete_take(fx->held, 200, json_string("first"));
    if (fx->completions >= 2)
        fx->rc_second = wsr_reply_complete_take(fx->held, 200, json_string("second"));
    /* Ignored once deferred. */
    return wsr_response_set_string(res, "ignored");
}

static const wsr_route_t routes[] = {
    {.name = "wait", .handler = defer_handler, .doc = "Defers."},
    {.name = "slow",
     .handler = defer_handler,
     .doc = "Defers; times out soon.",
     .timeout_ms = SLOW_TIMEOUT_MS},
    WSR_ROUTES_END,
};

/* The factory's log: where a case makes its completion land inside the
 * loop's finish (the certificate reload a RELOAD note runs logs there). */
static void on_log(void *user, int level, const char *line)
{
    fixture_t *fx = user;

    (void)level;
    (void)line;
    fx->logged = true;
    if (fx->complete_on_log && fx->held != NULL) {
        fx->complete_on_log = false;
        fx->log_rc = wsr_reply_complete_take(fx->held, 200, json_string("during finish"));
    }
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    wsr_server_config_t cfg;

    if (fx == NULL)
        return -1;
    *state = fx;
    fx->live0 = tu_live_blocks();
    wsr_server_config_init(&cfg);
    cfg.log = on_log;
    cfg.log_user = fx;
    cfg.log_level = WSR_LOG_ERR;
    /* Files that do not exist: a RELOAD note then only logs its refusal. */
    cfg.tls_cert = "/nonexistent/wsr-test-cert.pem";
    cfg.tls_key = "/nonexistent/wsr-test-key.pem";
    return tu_loop_open(&fx->lp, &cfg, routes, fx);
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    long live0 = fx->live0;

    fx->complete_on_log = false;
    tu_loop_close(&fx->lp);
    SSL_CTX_free(fx->ssl_ctx);
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

static int refs(const wsr_reply_t *r)
{
    return atomic_load(&((wsr_reply_t *)r)->refs);
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

static bool nothing_pending(fixture_t *fx)
{
    return fx->lp.loop.pending == NULL;
}

/* ---- deferring ---- */

static void test_reply__defer_links_a_pending_reply(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r = defer(fx, WAIT_MSG);

    /* The completer's reference and the loop's. */
    assert_int_equal(refs(r), 2);
    assert_int_equal(atomic_load(&r->state), WSR__REPLY_PENDING);
    assert_false(wsr_reply_cancelled(r));
    assert_ptr_equal(fx->lp.loop.pending, r);
    assert_ptr_equal(fx->lp.conn.replies, r);
    assert_true(r->on_loop);
    assert_true(r->on_conn);
    assert_int_equal(r->conn_id, fx->lp.conn.id);
    assert_ptr_equal(r->inbox, fx->lp.loop.inbox);
    /* Nothing is answered yet: the handler's own `res` is ignored. */
    assert_int_equal(queued(fx), 0);
    assert_int_equal(counter(&fx->lp.stats->requests), 0);
    assert_int_equal(wsr_reply_complete_take(r, 200, json_null()), 0);
}

static void test_reply__complete_wins_and_the_loop_delivers(void **state)
{
    fixture_t *fx = *state;
    long before = tu_live_blocks();
    wsr_reply_t *r = defer(fx, WAIT_MSG);
    wsr__msg_t *m;

    assert_int_equal(wsr_reply_complete_take(r, 201, json_string("done")), 0);
    /* Done, and alive only through the message that carries the loop's
     * reference back: the completer's is gone. */
    assert_true(wsr_reply_cancelled(r));
    assert_int_equal(refs(r), 1);
    assert_int_equal(in_inbox(fx), 1);
    m = fx->lp.loop.inbox->head;
    assert_ptr_equal(m->reply, r);
    assert_int_equal(m->conn_id, fx->lp.conn.id);
    assert_int_equal(m->kind, WSR__MSG_DATA);
    assert_int_equal(queued(fx), 0);
    /* The loop side is untouched until the loop takes the message. */
    assert_ptr_equal(fx->lp.loop.pending, r);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_int_equal(queued(fx), 1);
    assert_string_equal(fx->text,
                        "{\"status\":201,\"data\":\"done\",\"id\":7,\"event_name\":null}");
    assert_null(fx->lp.loop.pending);
    assert_null(fx->lp.conn.replies);
    assert_int_equal(in_inbox(fx), 0);
    assert_int_equal(counter(&fx->lp.stats->requests), 1);
    assert_int_equal(counter(&fx->lp.stats->replies_dropped), 0);
    /* Reply, copies and inbox reference are all released: only the frame
     * is left, and it is the connection's. */
    tu_loop_free_queue(&fx->lp.conn);
    assert_int_equal(tu_live_blocks(), before);
}

static void test_reply__complete_with_an_error(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r = defer(fx, WAIT_MSG);

    assert_int_equal(wsr_reply_error(r, 404, "no %s here", "key"), 0);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_int_equal(queued(fx), 1);
    assert_string_equal(fx->text,
                        "{\"status\":404,\"detail\":\"no key here\",\"id\":7,\"event_name\":null}");
}

static void test_reply__complete_with_null_data_answers_500(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r = defer(fx, WAIT_MSG);

    /* NULL is a failed constructor: queued, as a 500. */
    assert_int_equal(wsr_reply_complete_take(r, 200, NULL), 0);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_int_equal(queued(fx), 1);
    assert_non_null(strstr(fx->text, "\"status\":500"));
}

static void test_reply__complete_with_a_bad_status_answers_500(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r = defer(fx, WAIT_MSG);

    /* response.h: "WSR_EINVAL for a bad status (the client gets 500)". */
    assert_int_equal(wsr_reply_complete_take(r, 299, json_string("x")), WSR_EINVAL);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_int_equal(queued(fx), 1);
    assert_non_null(strstr(fx->text, "\"status\":500"));
    tu_loop_free_queue(&fx->lp.conn);
    /* wsr_reply_error: "same returns", for a status outside 400-599. */
    r = defer(fx, WAIT_MSG);
    assert_int_equal(wsr_reply_error(r, 200, "not an error"), WSR_EINVAL);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_int_equal(queued(fx), 1);
    assert_non_null(strstr(fx->text, "\"status\":500"));
    /* Refused as late, a bad status is still WSR_EDONE: nothing was queued. */
    r = defer(fx, WAIT_MSG);
    wsr__reply_cancel_all(&fx->lp.loop);
    assert_int_equal(wsr_reply_complete_take(r, 299, json_string("x")), WSR_EDONE);
}

static void test_reply__complete_null_handle(void **state)
{
    (void)state;
    assert_int_equal(wsr_reply_complete_take(NULL, 200, json_string("lost")), WSR_EINVAL);
    assert_int_equal(wsr_reply_error(NULL, 500, "lost"), WSR_EINVAL);
    assert_true(wsr_reply_cancelled(NULL));
}

static void *complete_later(void *arg)
{
    fixture_t *fx = arg;

    fx->rc_first = wsr_reply_complete_take(fx->held, 200, json_string("from a thread"));
    return NULL;
}

static void test_reply__completion_from_another_thread_wakes_the_loop(void **state)
{
    fixture_t *fx = *state;
    pthread_t t;

    (void)defer(fx, WAIT_MSG);
    fx->rc_first = -1;
    assert_int_equal(pthread_create(&t, NULL, complete_later, fx), 0);
    /* The post wakes the context; the wsrouter.v1 callback drains the inbox. */
    assert_true(service_until(fx, has_frame));
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(fx->rc_first, 0);
    assert_int_equal(queued(fx), 1);
    assert_string_equal(fx->text,
                        "{\"status\":200,\"data\":\"from a thread\",\"id\":7,\"event_name\":null}");
    assert_null(fx->lp.loop.pending);
}

/* ---- the loop wins ---- */

static void test_reply__timeout_wins_then_completion_is_refused(void **state)
{
    fixture_t *fx = *state;
    long before = tu_live_blocks();
    wsr_reply_t *r = defer(fx, SLOW_MSG);

    assert_true(service_until(fx, has_frame));
    assert_int_equal(queued(fx), 1);
    assert_string_equal(fx->text, "{\"status\":408,\"detail\":\"the handler did not "
                                  "answer in time\",\"id\":8,\"event_name\":null}");
    assert_true(wsr_reply_cancelled(r));
    assert_null(fx->lp.loop.pending);
    assert_null(fx->lp.conn.replies);
    assert_int_equal(refs(r), 1); /* the completer's, still */
    assert_int_equal(counter(&fx->lp.stats->timeouts), 1);
    /* Late: refused, and the handle is gone with the data it was given. */
    assert_int_equal(wsr_reply_complete_take(r, 200, json_string("late")), WSR_EDONE);
    assert_int_equal(in_inbox(fx), 0);
    tu_loop_free_queue(&fx->lp.conn);
    assert_int_equal(tu_live_blocks(), before);
}

static void test_reply__connection_close_cancels(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r = defer(fx, WAIT_MSG);

    conn_gone(fx);
    assert_true(wsr_reply_cancelled(r));
    assert_null(fx->lp.loop.pending);
    assert_null(fx->lp.conn.replies);
    assert_int_equal(refs(r), 1);
    assert_int_equal(counter(&fx->lp.stats->replies_dropped), 1);
    assert_int_equal(wsr_reply_complete_take(r, 200, json_string("late")), WSR_EDONE);
    assert_int_equal(in_inbox(fx), 0);
}

static void test_reply__completion_for_a_connection_gone_meanwhile(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r = defer(fx, WAIT_MSG);

    /* The completer won; then the connection closed before the loop took
     * the message: the close leaves the reply to the message. */
    assert_int_equal(wsr_reply_complete_take(r, 200, json_string("orphan")), 0);
    conn_gone(fx);
    assert_ptr_equal(fx->lp.loop.pending, r);
    assert_int_equal(refs(r), 1);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_null(fx->lp.loop.pending);
    assert_int_equal(queued(fx), 0);
    assert_int_equal(counter(&fx->lp.stats->replies_dropped), 1);
}

static void test_reply__cancel_all_cancels_pending_replies(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *a = defer(fx, WAIT_MSG);
    wsr_reply_t *b = defer(fx, SLOW_MSG);

    assert_non_null(b->sul.list.owner); /* its timer is armed */
    wsr__reply_cancel_all(&fx->lp.loop);
    assert_null(fx->lp.loop.pending);
    assert_null(fx->lp.conn.replies);
    assert_true(wsr_reply_cancelled(a));
    assert_true(wsr_reply_cancelled(b));
    assert_int_equal(refs(a), 1);
    assert_int_equal(refs(b), 1);
    /* Timers disarmed with them: nothing will fire. */
    assert_null(a->sul.list.owner);
    assert_null(b->sul.list.owner);
    assert_int_equal(queued(fx), 0);
    assert_int_equal(wsr_reply_complete_take(a, 200, json_null()), WSR_EDONE);
    assert_int_equal(wsr_reply_complete_take(b, 200, json_null()), WSR_EDONE);
}

/*
 * Bug 1: the completer claimed and posted, then the drain deadline cancelled
 * everything before the loop took the message. The old wsr__reply_cancel_all
 * released the loop's reference whoever had won, so the message in the inbox
 * was left pointing at a freed reply: reading it here is a use-after-free,
 * and the delivery below a second free of it.
 */
static void test_reply__cancel_all_after_the_completer_won(void **state)
{
    fixture_t *fx = *state;
    long before = tu_live_blocks();
    wsr_reply_t *r = defer(fx, WAIT_MSG);

    assert_int_equal(wsr_reply_complete_take(r, 200, json_string("raced")), 0);
    assert_int_equal(in_inbox(fx), 1);
    wsr__reply_cancel_all(&fx->lp.loop);
    assert_null(fx->lp.loop.pending);
    assert_null(fx->lp.conn.replies);
    /* The message still holds the loop's reference. */
    assert_int_equal(refs(r), 1);
    assert_ptr_equal(fx->lp.loop.inbox->head->reply, r);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_int_equal(queued(fx), 1);
    assert_string_equal(fx->text,
                        "{\"status\":200,\"data\":\"raced\",\"id\":7,\"event_name\":null}");
    tu_loop_free_queue(&fx->lp.conn);
    assert_int_equal(tu_live_blocks(), before);
}

/*
 * Bug 3: completing a handle twice. The second completion must be refused
 * without touching the references: under the old code it released the
 * completer's reference a second time, freeing the reply that the message
 * in the inbox still carried.
 */
static void test_reply__second_completion_is_refused(void **state)
{
    fixture_t *fx = *state;
    long before = tu_live_blocks();
    wsr_reply_t *r = defer(fx, WAIT_MSG);

    assert_int_equal(wsr_reply_complete_take(r, 200, json_string("once")), 0);
    /* Alive: the message in the inbox carries it. */
    assert_int_equal(wsr_reply_complete_take(r, 200, json_string("twice")), WSR_EDONE);
    assert_int_equal(wsr_reply_error(r, 500, "thrice"), WSR_EDONE);
    assert_int_equal(refs(r), 1);
    assert_int_equal(in_inbox(fx), 1);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_int_equal(queued(fx), 1);
    assert_string_equal(fx->text,
                        "{\"status\":200,\"data\":\"once\",\"id\":7,\"event_name\":null}");
    tu_loop_free_queue(&fx->lp.conn);
    assert_int_equal(tu_live_blocks(), before);
}

static void test_reply__defer_twice_gives_one_handle(void **state)
{
    fixture_t *fx = *state;
    long before = tu_live_blocks();

    /* The handler defers twice and completes the handle twice before it
     * returns, on the loop's thread. */
    fx->defers = 2;
    fx->completions = 2;
    fx->rc_first = fx->rc_second = -1;
    serve(fx, WAIT_MSG);
    assert_non_null(fx->held);
    assert_ptr_equal(fx->again, fx->held);
    assert_int_equal(fx->rc_first, 0);
    assert_int_equal(fx->rc_second, WSR_EDONE);
    assert_int_equal(refs(fx->held), 1);
    assert_int_equal(in_inbox(fx), 1);
    wsr__loop_drain_inbox(&fx->lp.loop);
    assert_int_equal(queued(fx), 1);
    assert_string_equal(fx->text,
                        "{\"status\":200,\"data\":\"first\",\"id\":7,\"event_name\":null}");
    assert_null(fx->lp.loop.pending);
    tu_loop_free_queue(&fx->lp.conn);
    assert_int_equal(tu_live_blocks(), before);
}

static void test_reply__cancelled_follows_the_state(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r = defer(fx, SLOW_MSG);

    assert_false(wsr_reply_cancelled(r));
    assert_true(service_until(fx, nothing_pending));
    assert_true(wsr_reply_cancelled(r));
    assert_int_equal(wsr_reply_complete_take(r, 200, json_null()), WSR_EDONE);
}

/* ---- the loop goes away ---- */

static void test_reply__completion_after_the_loop_finished_is_dropped(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r = defer(fx, WAIT_MSG);

    wsr__loop_finish(&fx->lp.loop);
    assert_null(fx->lp.loop.ctx);
    assert_null(fx->lp.loop.pending);
    assert_true(wsr_reply_cancelled(r));
    assert_int_equal(refs(r), 1);
    /* The inbox outlives the loop's finish; the reply holds it. */
    assert_int_equal(atomic_load(&fx->lp.loop.inbox->refs), 2);
    assert_int_equal(wsr_reply_complete_take(r, 200, json_string("too late")), WSR_EDONE);
    assert_int_equal(atomic_load(&fx->lp.loop.inbox->refs), 1);
    assert_int_equal(in_inbox(fx), 0);
}

static void test_reply__finish_delivers_what_was_completed(void **state)
{
    fixture_t *fx = *state;
    wsr_reply_t *r = defer(fx, WAIT_MSG);

    assert_int_equal(wsr_reply_complete_take(r, 200, json_string("just in time")), 0);
    wsr__loop_finish(&fx->lp.loop);
    assert_null(fx->lp.loop.pending);
    assert_int_equal(queued(fx), 1);
    assert_string_equal(fx->text,
                        "{\"status\":200,\"data\":\"just in time\",\"id\":7,\"event_name\":null}");
    assert_int_equal(atomic_load(&fx->lp.loop.inbox->refs), 1);
}

/*
 * A completion that lands while the loop finishes: after the inbox closed,
 * before the pending replies were cancelled. (A worker completes at any
 * moment; the log callback of a RELOAD note handled by the finish's last
 * drain pins that moment.) The inbox refuses the message and frees it,
 * releasing the loop's reference, so the reply must no longer be on the
 * loop's list: when wsr__loop_finish closed the inbox first and cancelled
 * after, the cancel walked into the freed reply.
 */
static void test_reply__completion_during_the_loop_finish(void **state)
{
    fixture_t *fx = *state;
    long before = tu_live_blocks();

    (void)defer(fx, WAIT_MSG);
    fx->ssl_ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(fx->ssl_ctx);
    fx->lp.loop.tls_ctx = fx->ssl_ctx;
    assert_int_equal(wsr__inbox_post(fx->lp.loop.inbox, wsr__msg_new_note(WSR__MSG_RELOAD, 0, 0)),
                     0);
    fx->complete_on_log = true;
    fx->log_rc = -1;
    wsr__loop_finish(&fx->lp.loop);
    assert_true(fx->logged);
    assert_false(fx->complete_on_log);
    /* The loop cancelled it before closing the inbox: the late completion
     * is refused, and releases the completer's reference, the last. */
    assert_int_equal(fx->log_rc, WSR_EDONE);
    assert_null(fx->lp.loop.pending);
    assert_int_equal(queued(fx), 0);
    assert_int_equal(atomic_load(&fx->lp.loop.inbox->refs), 1);
    fx->lp.loop.tls_ctx = NULL;
    assert_int_equal(tu_live_blocks(), before);
}

/* ---- allocation failures ---- */

static void test_reply__completion_under_allocation_failures(void **state)
{
    fixture_t *fx = *state;
    long n, made;

    for (n = 0;; n++) {
        long live = tu_live_blocks();
        wsr_reply_t *r = defer(fx, WAIT_MSG);

        /* Allocation n and every one after it fail. */
        tu_fail_at(n, true);
        (void)wsr_reply_complete_take(r, 200, json_string("result"));
        made = tu_alloc_count();
        tu_fail_at(-1, false);
        wsr__loop_drain_inbox(&fx->lp.loop);
        /* Whatever failed, the reply is not left on the loop's list, where
         * nothing would ever release the loop's reference... */
        assert_null(fx->lp.loop.pending);
        assert_null(fx->lp.conn.replies);
        /* ...and nothing of it is left. */
        tu_loop_free_queue(&fx->lp.conn);
        assert_int_equal(tu_live_blocks(), live);
        if (made <= n)
            break; /* nothing failed: the sweep is over */
        assert_true(n < 64);
    }
    assert_true(n > 0);
}

static void test_reply__new_under_allocation_failures(void **state)
{
    fixture_t *fx = *state;
    wsr_request_t req;
    long n, made;

    wsr__request_init(&req);
    req.id = json_integer(7);
    req.event_name = json_string("ev");
    assert_non_null(req.id);
    assert_non_null(req.event_name);
    for (n = 0;; n++) {
        long live = tu_live_blocks();
        wsr_reply_t *r;

        tu_fail_at(n, false);
        r = wsr__reply_new(&fx->lp.loop, &fx->lp.conn, &req);
        made = tu_alloc_count();
        tu_fail_at(-1, false);
        if (r != NULL) {
            assert_ptr_equal(fx->lp.loop.pending, r);
            assert_ptr_equal(fx->lp.conn.replies, r);
            assert_int_equal(wsr_reply_complete_take(r, 200, json_null()), 0);
            wsr__loop_drain_inbox(&fx->lp.loop);
            assert_int_equal(queued(fx), 1);
            assert_string_equal(fx->text,
                                "{\"status\":200,\"data\":null,\"id\":7,\"event_name\":\"ev\"}");
            tu_loop_free_queue(&fx->lp.conn);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        /* Refused: nothing linked, nothing left. */
        assert_null(fx->lp.loop.pending);
        assert_null(fx->lp.conn.replies);
        assert_int_equal(tu_live_blocks(), live);
        assert_true(made > n);
        assert_true(n < 16);
    }
    assert_true(n > 0);
    json_decref(req.id);
    json_decref(req.event_name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply__defer_links_a_pending_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply__complete_wins_and_the_loop_delivers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reply__complete_with_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply__complete_with_null_data_answers_500, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reply__complete_with_a_bad_status_answers_500, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reply__complete_null_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply__completion_from_another_thread_wakes_the_loop,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply__timeout_wins_then_completion_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reply__connection_close_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply__completion_for_a_connection_gone_meanwhile,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply__cancel_all_cancels_pending_replies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reply__cancel_all_after_the_completer_won, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reply__second_completion_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply__defer_twice_gives_one_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply__cancelled_follows_the_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply__completion_after_the_loop_finished_is_dropped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply__finish_delivers_what_was_completed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reply__completion_during_the_loop_finish, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reply__completion_under_allocation_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reply__new_under_allocation_failures, setup, teardown),
    };

    tu_install_allocator();
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    return cmocka_run_group_tests_name("reply", tests, NULL, NULL);
}
