/* SPDX-License-Identifier: MIT */
/*
 * Diagnostic routes, for tests and for trying the server's edges by hand:
 * a handler that fails (500), one that blocks a worker thread, one that
 * answers later from a timer of its loop (a deferred reply), one that pushes
 * to its caller, and one that answers a large string. Loaded only on request
 * (`wsrouterd --modules all` or `...,diag`). `sleep` and `later` are also
 * the README's examples of a blocking handler and a deferred one.
 */
#include "routes.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define MAX_SLEEP_MS 60000
#define MAX_BIG      (16 * 1024 * 1024)
#define MAX_PUSHES   10000

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int on_fail(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)req;
    (void)res;
    (void)user;
    return WSR_EIO; /* the client must get a 500 that says nothing of this */
}

static int on_sleep(wsr_request_t *req, wsr_response_t *res, void *user)
{
    int64_t ms = wsr_request_arg_int(req, "ms", 100);

    (void)user;
    sleep_ms(ms);
    return wsr_response_set_data_take(res, json_pack("{s:I}", "slept_ms", (json_int_t)ms));
}

/* A timer of the loop completes it: no thread per request. */
static void later_done(wsr_reply_t *reply, void *user)
{
    int64_t *ms = user;

    /* Harmless if the request timed out or its connection closed meanwhile. */
    (void)wsr_reply_complete_take(reply, 200, json_pack("{s:I}", "waited_ms", (json_int_t)*ms));
    wsr_free(ms);
}

static int on_later(wsr_request_t *req, wsr_response_t *res, void *user)
{
    int64_t *ms = wsr_malloc(sizeof(*ms));
    wsr_reply_t *reply;

    (void)user;
    if (ms == NULL)
        return WSR_ENOMEM;
    *ms = wsr_request_arg_int(req, "ms", 100);
    reply = wsr_response_defer(res);
    if (reply == NULL) {
        wsr_free(ms);
        return wsr_response_error(res, 501, "deferred replies need a running server");
    }
    if (wsr_reply_after(reply, (unsigned)*ms, later_done, ms) != 0) {
        (void)wsr_reply_error(reply, 500, "cannot arm a timer for the deferred reply");
        wsr_free(ms);
    }
    return 0;
}

static int on_push(wsr_request_t *req, wsr_response_t *res, void *user)
{
    int64_t n = wsr_request_arg_int(req, "count", 1), i;
    const char *event = wsr_request_arg_string(req, "event");
    json_t *data = wsr_request_data(req);
    int64_t to = wsr_request_arg_int(req, "to", 0);
    wsr_conn_id_t target = to > 0 ? (wsr_conn_id_t)to : wsr_request_connection_id(req);
    int sent = 0;

    (void)user;
    for (i = 0; i < n; i++) {
        json_t *item = json_pack("{s:I, s:O?}", "seq", (json_int_t)i, "data", data);

        if (wsr_push(wsr_request_factory(req), target, event, item) == 0)
            sent++;
        json_decref(item);
    }
    return wsr_response_set_data_take(res, json_pack("{s:i}", "pushed", sent));
}

/* Publishes the request's data on `topic` from the event loop (a handler's
 * wsr_publish, as opposed to the /_/publish route), then answers {published}. */
static int on_announce(wsr_request_t *req, wsr_response_t *res, void *user)
{
    int rc = wsr_publish(wsr_request_factory(req), wsr_request_arg_string(req, "topic"),
                         wsr_request_data(req));

    (void)user;
    if (rc == WSR_ECONNECT)
        return wsr_response_error(res, 503, "the cluster engine is unavailable");
    if (rc == WSR_EBUSY)
        return wsr_response_error(res, 503, "the engine's queue is full; retry later");
    if (rc != 0)
        return rc;
    return wsr_response_set_data_take(res, json_pack("{s:b}", "published", 1));
}

typedef struct pusher {
    wsr_factory_t *factory; /* borrowed */
    uint64_t conn;
    int thread;
    int64_t count;
    int sent;
} pusher_t;

static void *push_thread(void *arg)
{
    pusher_t *p = arg;

    for (int64_t i = 0; i < p->count; i++) {
        json_t *item = json_pack("{s:i, s:I}", "thread", p->thread, "seq", (json_int_t)i);

        if (wsr_push(p->factory, p->conn, "threaded", item) == 0)
            p->sent++;
        json_decref(item);
    }
    return NULL;
}

/* Pushes from `threads` threads at once, `count` each; runs on a worker. */
static int on_push_threads(wsr_request_t *req, wsr_response_t *res, void *user)
{
    pusher_t p[16];
    pthread_t t[16];
    int64_t n = wsr_request_arg_int(req, "threads", 4);
    int started = 0, sent = 0;

    (void)user;
    if (n < 1 || n > 16)
        return wsr_response_param_error(res, "threads", "must be from 1 to 16");
    for (int i = 0; i < (int)n; i++) {
        p[i].factory = wsr_request_factory(req);
        p[i].conn = wsr_request_connection_id(req);
        p[i].thread = i;
        p[i].count = wsr_request_arg_int(req, "count", 100);
        p[i].sent = 0;
        if (pthread_create(&t[i], NULL, push_thread, &p[i]) != 0)
            break;
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
        sent += p[i].sent;
    }
    return wsr_response_set_data_take(res,
                                      json_pack("{s:i, s:i}", "threads", started, "pushed", sent));
}

/* What the server knows of the caller: for tests of TLS and authentication. */
static int on_whoami(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)user;
    return wsr_response_set_data_take(
        res, json_pack("{s:s, s:s?, s:s?, s:I}", "peer", wsr_request_peer(req), "user",
                       wsr_request_user(req), "cert_subject", wsr_request_client_cert_subject(req),
                       "connection", (json_int_t)wsr_request_connection_id(req)));
}

static int on_big(wsr_request_t *req, wsr_response_t *res, void *user)
{
    int64_t n = wsr_request_arg_int(req, "bytes", 1024);
    char *s = wsr_malloc((size_t)n + 1);
    int rc;

    (void)user;
    if (s == NULL)
        return WSR_ENOMEM;
    memset(s, 'x', (size_t)n);
    s[n] = '\0';
    rc = wsr_response_set_data_take(res, json_stringn(s, (size_t)n));
    wsr_free(s);
    return rc;
}

/* Bounds are declared as parameters and checked by the handlers' callers'
 * defaults; the handlers clamp nothing themselves, so check here. */
static int check_range(wsr_request_t *req, wsr_response_t *res, const char *name, int64_t max)
{
    int64_t v = wsr_request_arg_int(req, name, 0);

    if (v < 0 || v > max) {
        (void)wsr_response_param_error(res, name, "must be from 0 to %lld", (long long)max);
        return 1;
    }
    return 0;
}

static int on_sleep_checked(wsr_request_t *req, wsr_response_t *res, void *user)
{
    return check_range(req, res, "ms", MAX_SLEEP_MS) ? 0 : on_sleep(req, res, user);
}

static int on_later_checked(wsr_request_t *req, wsr_response_t *res, void *user)
{
    return check_range(req, res, "ms", MAX_SLEEP_MS) ? 0 : on_later(req, res, user);
}

static int on_push_checked(wsr_request_t *req, wsr_response_t *res, void *user)
{
    return check_range(req, res, "count", MAX_PUSHES) ? 0 : on_push(req, res, user);
}

static int on_push_threads_checked(wsr_request_t *req, wsr_response_t *res, void *user)
{
    return check_range(req, res, "count", MAX_PUSHES) ? 0 : on_push_threads(req, res, user);
}

static int on_big_checked(wsr_request_t *req, wsr_response_t *res, void *user)
{
    return check_range(req, res, "bytes", MAX_BIG) ? 0 : on_big(req, res, user);
}

static const wsr_route_t diag_routes[] = {
    {.name = "fail",
     .methods = WSR_GET | WSR_POST,
     .url = "/diag/fail",
     .handler = on_fail,
     .doc = "Fail in the handler: the client gets a 500 that leaks nothing."},
    {.name = "sleep",
     .methods = WSR_GET | WSR_POST,
     .url = "/diag/sleep",
     .handler = on_sleep_checked,
     .params = WSR_PARAMS(
         {.name = "ms", .type = WSR_TYPE_INT, .def = "100", .doc = "milliseconds to block"}),
     .flags = WSR_ROUTE_BLOCKING,
     .doc = "Block a worker thread for ms milliseconds (a blocking handler)."},
    {.name = "later",
     .methods = WSR_GET | WSR_POST,
     .url = "/diag/later",
     .handler = on_later_checked,
     .params = WSR_PARAMS(
         {.name = "ms", .type = WSR_TYPE_INT, .def = "100", .doc = "milliseconds to wait"}),
     .doc = "Answer after ms milliseconds from another thread (a deferred reply)."},
    {.name = "push",
     .methods = WSR_POST,
     .url = "/diag/push",
     .handler = on_push_checked,
     .params = WSR_PARAMS(
         {.name = "count", .type = WSR_TYPE_INT, .def = "1", .doc = "pushes to send"},
         {.name = "event", .type = WSR_TYPE_STRING, .def = "\"diag\"", .doc = "their event_name"},
         {.name = "to",
          .type = WSR_TYPE_INT,
          .def = "0",
          .doc = "the connection id to push to, on any node of a cluster (0: the caller)"}),
     .doc = "Push count events {seq, data} to the caller (or to connection `to`), then answer "
            "{pushed}."},
    {.name = "announce",
     .methods = WSR_POST,
     .url = "/diag/announce",
     .handler = on_announce,
     .params = WSR_PARAMS(
         {.name = "topic", .type = WSR_TYPE_STRING, .required = true, .doc = "the topic"}),
     .doc = "Publish the request's data on topic from the event loop (wsr_publish in a "
            "handler), then answer {published}."},
    {.name = "push_threads",
     .methods = WSR_POST,
     .url = "/diag/push_threads",
     .handler = on_push_threads_checked,
     .params = WSR_PARAMS(
         {.name = "threads",
          .type = WSR_TYPE_INT,
          .def = "4",
          .doc = "threads pushing at once (1-16)"},
         {.name = "count", .type = WSR_TYPE_INT, .def = "100", .doc = "pushes per thread"}),
     .flags = WSR_ROUTE_BLOCKING,
     .doc = "Push {thread, seq} events to the caller from several threads at once (on a worker)."},
    {.name = "whoami",
     .methods = WSR_GET,
     .url = "/diag/whoami",
     .handler = on_whoami,
     .doc = "Answer the caller's peer address, user, client certificate subject, connection id."},
    {.name = "big",
     .methods = WSR_GET,
     .url = "/diag/big",
     .handler = on_big_checked,
     .params = WSR_PARAMS(
         {.name = "bytes", .type = WSR_TYPE_INT, .def = "1024", .doc = "length of the answer"}),
     .doc = "Answer a string of the given length."},
    WSR_ROUTES_END,
};

int wsr_routes_diag(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, diag_routes, NULL, err);
}
