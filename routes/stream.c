/* SPDX-License-Identifier: MIT */
/*
 * Streaming examples (docs/protocol.md section 5.1): `count` streams its
 * numbers as progress from a worker thread (the window slows it down to the
 * client's pace), `ticker` streams from timers of its loop without a thread,
 * `converse` listens to the call's input and answers each,
 * and `stream_stats` tells how many calls saw themselves cancelled, so a
 * client (and the tests) can check that a handler noticed its cancel. The
 * module's counters live in one allocation the router frees.
 */
#include "routes.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define MAX_COUNT 1000000
#define MAX_MS    10000
#define MAX_PAD   65536

/* What the module counts, shared by its handlers (any thread). */
typedef struct stream_state {
    atomic_long cancelled; /* calls that saw their client cancel them */
    atomic_long ended;     /* calls that ended otherwise before their last part */
} stream_state_t;

static void pause_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (ms > 0 && nanosleep(&ts, &ts) != 0)
        ;
}

/* Counts how a call that stopped early ended. */
static void count_stop(stream_state_t *st, const wsr_reply_t *reply)
{
    if (wsr_reply_was_cancelled(reply))
        atomic_fetch_add(&st->cancelled, 1);
    else
        atomic_fetch_add(&st->ended, 1);
}

/* One part: {"i":i} and, when asked, a `pad` string of `pad` bytes. */
static json_t *part(int64_t i, int64_t pad)
{
    json_t *p = json_pack("{s:I}", "i", (json_int_t)i);
    char *s;

    if (p == NULL || pad <= 0)
        return p;
    s = wsr_malloc((size_t)pad + 1);
    if (s == NULL) {
        json_decref(p);
        return NULL;
    }
    memset(s, 'x', (size_t)pad);
    s[pad] = '\0';
    if (json_object_set_new(p, "pad", json_string(s)) != 0) {
        json_decref(p);
        p = NULL;
    }
    wsr_free(s);
    return p;
}

static int on_count(wsr_request_t *req, wsr_response_t *res, void *user)
{
    int64_t n = wsr_request_arg_int(req, "n", 10), ms = wsr_request_arg_int(req, "ms", 0);
    int64_t pad = wsr_request_arg_int(req, "pad", 0), i;
    wsr_reply_t *reply;

    if (n < 0 || n > MAX_COUNT || ms < 0 || ms > MAX_MS || pad < 0 || pad > MAX_PAD)
        return wsr_response_error(res, 422, "n must be 0 to %d, ms 0 to %d, pad 0 to %d", MAX_COUNT,
                                  MAX_MS, MAX_PAD);
    reply = wsr_response_defer(res);
    if (reply == NULL)
        return wsr_response_set_int(res, n); /* no server: the total alone */
    for (i = 1; i <= n; i++) {
        pause_ms(ms);
        if (wsr_reply_progress_take(reply, part(i, pad)) != 0)
            break;
    }
    if (i <= n) {
        count_stop(user, reply);
        (void)wsr_reply_error(reply, 500, "the stream stopped at %lld", (long long)i);
        return 0;
    }
    (void)wsr_reply_complete_take(reply, 200, json_pack("{s:I}", "count", (json_int_t)n));
    return 0;
}

/* ---- ticker: progress from timers of the loop ---- */

typedef struct tick {
    stream_state_t *st; /* borrowed: the module's */
    int64_t i, n, ms;
} tick_t;

static void on_tick(wsr_reply_t *reply, void *user)
{
    tick_t *t = user;

    if (wsr_reply_cancelled(reply)) {
        count_stop(t->st, reply);
        /* Completed all the same (the answer is dropped): that releases
         * the handle, which is ours until completed. */
        (void)wsr_reply_error(reply, 500, "the ticker was stopped");
        goto done;
    }
    if (t->i < t->n) {
        t->i++;
        /* WSR_EBUSY (the window is full) is not an error: the tick comes
         * again, so the client's pace sets the stream's. */
        if (wsr_reply_progress_take(reply, json_pack("{s:I}", "tick", (json_int_t)t->i)) ==
            WSR_EBUSY)
            t->i--;
        if (wsr_reply_after(reply, (unsigned)t->ms, on_tick, t) == 0)
            return;
    }
    (void)wsr_reply_complete_take(reply, 200, json_pack("{s:I}", "ticks", (json_int_t)t->i));
done:
    wsr_free(t);
}

static int on_ticker(wsr_request_t *req, wsr_response_t *res, void *user)
{
    int64_t n = wsr_request_arg_int(req, "n", 5), ms = wsr_request_arg_int(req, "ms", 100);
    tick_t *t;
    wsr_reply_t *reply;

    if (n < 0 || n > MAX_COUNT || ms < 1 || ms > MAX_MS)
        return wsr_response_error(res, 422, "n must be 0 to %d and ms 1 to %d", MAX_COUNT, MAX_MS);
    t = wsr_malloc(sizeof(*t));
    if (t == NULL)
        return WSR_ENOMEM;
    *t = (tick_t){user, 0, n, ms};
    reply = wsr_response_defer(res);
    if (reply == NULL || wsr_reply_after(reply, (unsigned)ms, on_tick, t) != 0) {
        wsr_free(t);
        if (reply != NULL)
            return wsr_reply_error(reply, 500, "the ticker could not start");
        return wsr_response_set_int(res, 0);
    }
    return 0;
}

/* ---- converse: a handler that listens (tcpy's recv()) ---- */

static int on_converse(wsr_request_t *req, wsr_response_t *res, void *user)
{
    int64_t wait_ms = wsr_request_arg_int(req, "wait_ms", 0), turns = 0;
    wsr_reply_t *reply;
    json_t *in = NULL;
    int rc;

    if (wait_ms < 0 || wait_ms > MAX_MS)
        return wsr_response_error(res, 422, "wait_ms must be 0 to %d", MAX_MS);
    reply = wsr_response_defer(res);
    if (reply == NULL)
        return wsr_response_error(res, 400, "converse needs a connection to listen to");
    pause_ms(wait_ms); /* not listening yet: input waits, bounded */
    /* Each input is answered with a progress message, until "bye" (or, from
     * a tcpy client, whose frames are maps, {"bye": ...}). */
    while ((rc = wsr_reply_input_take(reply, 10000, &in)) == 0) {
        bool bye = (json_is_string(in) && strcmp(json_string_value(in), "bye") == 0) ||
                   json_object_get(in, "bye") != NULL;

        turns++;
        if (bye)
            break;
        if (wsr_reply_progress_take(
                reply, json_pack("{s:I, s:O}", "turn", (json_int_t)turns, "echo", in)) != 0)
            break;
        json_decref(in);
        in = NULL;
    }
    json_decref(in);
    if (rc == WSR_ETIMEDOUT)
        return wsr_reply_error(reply, 408, "no input came within 10 s");
    if (rc != 0) {
        count_stop(user, reply);
        /* Dropped, but it releases the handle. */
        return wsr_reply_error(reply, 500, "the conversation was stopped");
    }
    return wsr_reply_complete_take(reply, 200, json_pack("{s:I}", "turns", (json_int_t)turns));
}

static int on_stats(wsr_request_t *req, wsr_response_t *res, void *user)
{
    stream_state_t *st = user;

    (void)req;
    return wsr_response_set_data_take(res, json_pack("{s:I, s:I}", "cancelled",
                                                     (json_int_t)atomic_load(&st->cancelled),
                                                     "ended", (json_int_t)atomic_load(&st->ended)));
}

static const wsr_route_t stream_routes[] = {
    {.name = "count",
     .methods = WSR_GET | WSR_POST,
     .url = "/stream/count",
     .handler = on_count,
     .params = WSR_PARAMS({.name = "n", .type = WSR_TYPE_INT, .def = "10", .doc = "how many"},
                          {.name = "ms", .type = WSR_TYPE_INT, .def = "0", .doc = "pause each"},
                          {.name = "pad", .type = WSR_TYPE_INT, .def = "0", .doc = "bytes added"}),
     .flags = WSR_ROUTE_BLOCKING,
     .timeout_ms = 600000,
     .doc = "Stream 1..n as progress {i} from a worker thread, then answer {count}."},
    {.name = "ticker",
     .methods = WSR_GET | WSR_POST,
     .url = "/stream/ticker",
     .handler = on_ticker,
     .params = WSR_PARAMS({.name = "n", .type = WSR_TYPE_INT, .def = "5", .doc = "how many"},
                          {.name = "ms", .type = WSR_TYPE_INT, .def = "100", .doc = "period"}),
     .timeout_ms = 600000,
     .doc = "Stream n ticks as progress from timers of the loop (no thread), then answer."},
    {.name = "converse",
     .methods = WSR_POST,
     .url = "/stream/converse",
     .handler = on_converse,
     .params = WSR_PARAMS({.name = "wait_ms",
                           .type = WSR_TYPE_INT,
                           .def = "0",
                           .doc = "ms before it starts listening"}),
     .flags = WSR_ROUTE_BLOCKING | WSR_ROUTE_INPUT,
     .timeout_ms = 600000,
     .doc = "Echo each input {id, input} as progress {turn, echo}; \"bye\" ends it with {turns} "
            "(on tcpy, each frame is an input; {\"bye\": true} ends it)."},
    {.name = "stream_stats",
     .methods = WSR_GET,
     .url = "/stream/stats",
     .handler = on_stats,
     .doc = "How many streams saw a cancel from their client, and how many ended otherwise."},
    WSR_ROUTES_END,
};

static void state_free(void *user)
{
    wsr_free(user);
}

int wsr_routes_stream(wsr_router_t *router, wsr_error_t *err)
{
    stream_state_t *st = wsr_malloc(sizeof(*st));
    int rc;

    if (st == NULL)
        return WSR_ENOMEM;
    atomic_init(&st->cancelled, 0);
    atomic_init(&st->ended, 0);
    rc = wsr_router_add(router, stream_routes, st, err);
    if (rc == 0)
        rc = wsr_router_on_free(router, state_free, st);
    if (rc != 0)
        wsr_free(st); /* a failed on_free leaves `st` ours; the routes are not used */
    return rc;
}
