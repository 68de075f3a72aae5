/* SPDX-License-Identifier: MIT */
/*
 * Serving a connection's messages (see serve_int.h). The request lives on
 * the loop's stack while its handler runs here; a blocking route's request
 * moves into a job that a worker runs, holding the completer's reference to
 * a deferred reply that carries the answer back through the loop's inbox.
 * A JSON-RPC batch is served element by element through the same steps, its
 * answers collected by batch.c. A barrier route (login, logout, session)
 * that does not answer at once holds the connection: what arrives meanwhile
 * is copied into a bounded queue, and served in order once the barrier's
 * answer is delivered (reply.c calls wsr__serve_resume). Nothing here
 * touches a socket: answers go to the connection's queue.
 */
#include "server/serve_int.h"

#include <string.h>

#include "core/codec_int.h"
#include "core/dispatch_int.h"
#include "core/json_int.h"
#include "core/rawframe_int.h"
#include "core/router_int.h"
#include "server/access_int.h"
#include "server/batch_int.h"
#include "server/raw_int.h"
#include "server/bounded_int.h"
#include "server/ratelimit_int.h"
#include "server/reply_int.h"
#include "server/stream_int.h"
#include "server/workers_int.h"
#include "services/auth_int.h"
#include "services/pubsub_int.h"

/* The most messages held behind a barrier; their bytes together are held
 * to max_message. Past either the connection closes 1008. */
#define HELD_MAX 1000

/* A message received while a barrier held the connection. */
typedef struct wsr__held {
    struct wsr__held *next;
    size_t len;
    bool binary;
    unsigned char bytes[]; /* the message, as received */
} held_t;

/* One request being served: how a handler running on the loop defers (a
 * reply for this connection), and where its answer goes. */
struct serve_ctx {
    wsr__loop_t *loop;
    wsr__conn_t *conn;
    wsr_request_t *req;
    wsr__batch_t *batch; /* borrowed: the batch the request is an element of, or NULL */
    bool barrier;        /* its route is a barrier */
};

static void serve_now(wsr__conn_t *c, const unsigned char *p, size_t n, bool binary);

/* A blocking route's request on its way to a worker. */
typedef struct job {
    wsr_request_t req;  /* owned: moved from the loop */
    wsr_reply_t *reply; /* owned: the completer's reference */
    wsr_factory_t *f;   /* borrowed */
    bool handed;        /* the handler deferred and took the reply */
} job_t;

static void log_failure(wsr_factory_t *f, const wsr_request_t *req, int rc, bool deferred)
{
    wsr__log(f, WSR_LOG_ERR, "route %s: handler failed%s: %s", req->route->def->name,
             deferred ? " after deferring" : "", wsr_strerror(rc));
}

/* A deferred reply for the request, told where its answer goes before any
 * completer can see it. */
static wsr_reply_t *new_reply(struct serve_ctx *ctx)
{
    wsr_reply_t *r = wsr__reply_new(ctx->loop, ctx->conn, ctx->req);

    if (r == NULL)
        return NULL;
    r->barrier = ctx->barrier;
    /* A notification's answer is dropped: the batch does not wait for it. */
    if (ctx->batch != NULL && !ctx->req->notification)
        wsr__batch_expect(ctx->batch, r);
    return r;
}

static wsr_reply_t *loop_defer(void *arg, wsr_response_t *res)
{
    (void)res;
    return new_reply(arg);
}

static wsr_reply_t *job_defer(void *arg, wsr_response_t *res)
{
    job_t *job = arg;

    (void)res;
    job->handed = true;
    return job->reply;
}

static void job_free(job_t *job)
{
    wsr__request_dispose(&job->req);
    wsr__free(job);
}

/* A worker runs the handler. */
static void job_run(void *arg)
{
    job_t *job = arg;
    wsr_response_t res;
    int rc;

    wsr__response_init(&res);
    /* Timed out or its connection closed while it waited: skip the work. But
     * not an engine route's whose connection closed (a publish sent just
     * before closing happens: it ran at once when those ran on the loop; a
     * subscribe of a closed connection is undone by its drop, queued after
     * it), unless its client was told it ended: after a 408 or a 499 the
     * publish does not happen, so that a retry publishes it once. */
    if (wsr_reply_cancelled(job->reply) &&
        (!(job->req.route->flags & WSR__ROUTE_ENGINE) || wsr__reply_told_ended(job->reply))) {
        (void)wsr__reply_complete_response(job->reply, &res);
        job_free(job);
        return;
    }
    /* Held while the handler runs, so that whatever it does with the handle
     * (complete it twice, say) finds it alive. */
    wsr__reply_ref(job->reply);
    res.defer = job_defer;
    res.defer_ctx = job;
    rc = wsr__dispatch_run(&job->req, &res);
    if (rc < 0)
        log_failure(job->f, &job->req, rc, job->handed);
    if (job->handed)
        wsr__response_dispose(&res); /* the handler completes the reply itself */
    else
        (void)wsr__reply_complete_response(job->reply, &res);
    wsr__reply_unref(job->reply);
    job_free(job);
}

/* The pool stopped before running the job. */
static void job_cancel(void *arg)
{
    job_t *job = arg;
    wsr_response_t res;

    wsr__response_init(&res);
    (void)wsr__response_error_str(&res, 503, "the server is shutting down");
    (void)wsr__reply_complete_response(job->reply, &res);
    job_free(job);
}

/* Hands `req` (moved out: it is left empty) to a worker. Returns true when
 * the answer will come through a deferred reply (the worker's, or a 503
 * when the queue is full); false when `res` holds the answer. */
static bool offload(struct serve_ctx *ctx, wsr_response_t *res, struct wsr__workers *pool)
{
    wsr__loop_t *loop = ctx->loop;
    job_t *job = wsr__calloc(1, sizeof(*job));
    wsr_response_t refusal;
    int rc;

    if (job == NULL || (job->reply = new_reply(ctx)) == NULL) {
        wsr__free(job);
        wsr__response_fail(res);
        return false;
    }
    job->f = loop->factory;
    job->req = *ctx->req; /* move */
    rc = wsr__workers_submit(pool, job_run, job_cancel, job);
    if (rc == 0) {
        wsr__request_init(ctx->req);
        return true;
    }
    /* Refused: the request goes back, and the reply made for the job
     * carries the refusal instead. */
    *ctx->req = job->req;
    wsr__response_init(&refusal);
    if (rc == WSR_EBUSY) {
        wsr__count(&loop->stats->overloaded, 1);
        (void)wsr_response_error(&refusal, 503,
                                 "the server is overloaded: the worker queue is full "
                                 "(%u jobs); retry later",
                                 wsr__workers_queue_size(pool));
    } else {
        wsr__response_fail(&refusal);
    }
    (void)wsr__reply_complete_response(job->reply, &refusal);
    wsr__free(job);
    return true;
}

/* Authenticates, routes and runs the request. Returns true when a deferred
 * reply will answer; false when `res` holds the answer. */
static bool run(struct serve_ctx *ctx, wsr_response_t *res)
{
    wsr_factory_t *f = ctx->loop->factory;
    wsr_request_t *req = ctx->req;
    int rc = wsr__auth_request(f->auth, req, res);

    if (rc < 0)
        wsr__response_fail(res);
    if (rc != 0 || wsr__rate_refused(ctx->conn, req, res))
        return false;
    rc = wsr__dispatch_route(f->router, req, res);
    if (rc == WSR__DISPATCH_ANSWERED || wsr__route_rate_refused(ctx->conn, req, res))
        return false;
    /* Framings without ids (RESP, text lines, tcpy) are answered in request
     * order: a request answered later holds the ones after it, as a
     * barrier does. */
    ctx->barrier = (req->route->flags & WSR_ROUTE_BARRIER) != 0 ||
                   (ctx->conn->framing != 0 && ctx->conn->framing != WSR__FRAMING_NDJSON);
    if (rc == WSR__DISPATCH_RUN && (req->route->flags & WSR__ROUTE_ENGINE) &&
        ctx->loop->engine_pool != NULL)
        return offload(ctx, res, ctx->loop->engine_pool);
    if (rc == WSR__DISPATCH_BLOCKING && ctx->loop->workers != NULL)
        return offload(ctx, res,
                       (req->route->flags & WSR_ROUTE_LANE) && ctx->loop->lane != NULL
                           ? ctx->loop->lane
                           : ctx->loop->workers);
    res->defer = loop_defer;
    res->defer_ctx = ctx;
    rc = wsr__dispatch_run(req, res);
    if (rc < 0)
        log_failure(f, req, rc, res->deferred);
    return res->deferred;
}

/* Fills what the connection gives every request it carries. */
static void request_from(wsr_request_t *req, wsr__conn_t *c)
{
    wsr__request_init(req);
    req->start_ns = wsr__now_ns();
    req->conn_id = c->id;
    req->factory = c->loop->factory;
    memcpy(req->peer, c->peer, sizeof(req->peer));
    req->session = wsr__session_ref(c->session);
    if (c->cert_subject != NULL)
        req->cert_subject = wsr__strdup(c->cert_subject);
    /* What a message that tells no envelope is answered in. */
    req->envelope = c->jsonrpc ? WSR__ENVELOPE_JSONRPC : WSR__ENVELOPE_V1;
    req->transport = c->framing; /* 0 for WebSocket, as WSR_TRANSPORT_WEBSOCKET */
}

_Static_assert((int)WSR_TRANSPORT_NDJSON == (int)WSR__FRAMING_NDJSON &&
                   (int)WSR_TRANSPORT_RESP == (int)WSR__FRAMING_RESP &&
                   (int)WSR_TRANSPORT_TCPY == (int)WSR__FRAMING_TCPY &&
                   (int)WSR_TRANSPORT_TEXT == (int)WSR__FRAMING_TEXT,
               "a framing is its request's transport");

/* Queues the answer `res` to `req`: into its batch, or as a message of its
 * own; nothing for a notification. Returns the bytes of the message queued
 * (0 for none, or for an element of a batch, which goes out with the rest). */
static size_t answer(wsr__conn_t *c, const wsr_request_t *req, const wsr_response_t *res,
                     wsr__batch_t *batch)
{
    wsr__reply_to_t to = wsr__reply_to(req);
    wsr__buf_t out;
    size_t sent = 0;

    if (req->notification)
        return 0;
    if (batch != NULL) {
        /* Past max_outbound the batch answers with one error (batch.c). */
        if (wsr__batch_add_answer(batch, res, &to, &c->loop->scratch) != 0)
            wsr__conn_close(c, 1011);
        return 0;
    }
    wsr__buf_init(&out, WSR__MSG_HEAD, 0);
    if (wsr__encode_bounded(&out, res, &to, &c->loop->scratch,
                            c->loop->factory->settings.max_outbound) == 0) {
        sent = wsr__buf_payload_len(&out);
        wsr__conn_send(c, wsr__msg_take(&out, req->format == WSR_FORMAT_BASE64_BINARY));
    } else {
        wsr__conn_close(c, 1011);
    }
    wsr__buf_dispose(&out);
    return sent;
}

/* Input for a running call (PROTOCOL.md section 5.1): queued for its
 * handler, and answered only when it cannot be (404, 429). */
static void serve_input(wsr__conn_t *c, const wsr_request_t *req)
{
    unsigned max = c->loop->factory->settings.max_call_input;
    char *id = wsr__json_to_string(req->id);
    wsr_response_t res;
    int rc;

    rc = wsr__stream_input(c, req->id, json_object_get(req->root, "input"), max);
    if (rc == 0) {
        wsr__free(id);
        return;
    }
    wsr__response_init(&res);
    if (rc == WSR_ENOENT)
        (void)wsr_response_error(&res, 404, "no call with id %s is running on this connection",
                                 id != NULL ? id : "?");
    else if (rc == WSR_EBUSY)
        (void)wsr_response_error(&res, 429,
                                 "call %s has %u input messages waiting (max_call_input); "
                                 "this one was dropped",
                                 id != NULL ? id : "?", max);
    else
        wsr__response_fail(&res);
    wsr__free(id);
    answer(c, req, &res, NULL);
    wsr__response_dispose(&res);
}

/* Serves one decoded request (`rc` is what decoding said, `detail` its
 * sentence), a message of its own or an element of `batch`. A barrier that
 * will answer later holds the connection. */
static void serve_request(wsr__conn_t *c, wsr_request_t *req, int rc, const char *detail,
                          wsr__batch_t *batch)
{
    wsr__loop_t *loop = c->loop;
    struct serve_ctx ctx = {loop, c, req, batch, false};
    wsr__access_t access;
    wsr_response_t res;
    uint64_t ns;
    size_t sent;

    wsr__response_init(&res);
    if (rc == WSR_EPARSE) {
        (void)wsr__response_error_str(&res, 400, detail);
    } else if (rc != 0) {
        wsr__response_fail(&res);
    } else if (loop->draining) {
        (void)wsr__response_error_str(&res, 503, "the server is shutting down");
    } else if (run(&ctx, &res)) {
        /* A reply handle answers later. */
        if (ctx.barrier)
            c->held = 1;
        goto out;
    }
    ns = wsr__now_ns() - req->start_ns;
    wsr__stats_request(loop->stats, res.status, req->route ? req->route->index : SIZE_MAX, ns);
    sent = answer(c, req, &res, batch);
    wsr__access_init(&access, req);
    wsr__access_log(loop, c, &access, res.status, ns, sent);
out:
    wsr__response_dispose(&res);
}

/* Dispatches the batch's elements in order until all are, or one is a
 * barrier that holds the connection: the rest wait for its answer. */
static void run_batch(wsr__conn_t *c, wsr__batch_t *b)
{
    char detail[WSR__DETAIL_MAX];
    wsr_request_t req;
    json_t *elem;
    int rc;

    while (!c->held && c->close_code == 0 && (elem = wsr__batch_next(b)) != NULL) {
        request_from(&req, c);
        rc = wsr__codec_decode_element(&req, elem, detail);
        serve_request(c, &req, rc, detail, b);
        wsr__request_dispose(&req);
    }
    if (c->held && !wsr__batch_dispatched(b))
        c->paused = b;
    wsr__batch_settle(c, b);
}

/* True when an NDJSON line begins (after blanks) as JSON does: its text is
 * never read as base64, which WebSocket text messages may be. */
static bool json_line(const unsigned char *p, size_t n)
{
    while (n > 0 && wsr__is_blank(*p)) {
        p++;
        n--;
    }
    return n > 0 && (*p == '{' || *p == '[');
}

/* Serves a complete message now. */
static void serve_now(wsr__conn_t *c, const unsigned char *p, size_t n, bool binary)
{
    char detail[WSR__DETAIL_MAX];
    wsr__batch_t *b;
    wsr_request_t req;
    int rc;

    wsr__count(&c->loop->stats->messages_in, 1);
    request_from(&req, c);
    req.bytes_in = n;
    if (c->framing == WSR__FRAMING_RESP || c->framing == WSR__FRAMING_TEXT)
        rc = wsr__codec_decode_words(&req, p, n, detail); /* raw.c's words */
    else if (c->framing == WSR__FRAMING_NDJSON && !json_line(p, n))
        rc = wsr__codec_bad(detail, "a line of an NDJSON connection must be a JSON object");
    else
        rc = wsr__codec_decode(&req, p, n, binary, c->loop->factory->settings.max_depth, detail);
    c->push_format = (uint8_t)req.format;
    if (rc == WSR__DECODE_INPUT) {
        serve_input(c, &req);
    } else if (rc != WSR__DECODE_BATCH) {
        serve_request(c, &req, rc, detail, NULL);
    } else {
        b = wsr__batch_new(c, req.root);
        req.root = NULL; /* moved into the batch */
        if (b != NULL)
            run_batch(c, b);
        else
            wsr__conn_close(c, 1011);
    }
    wsr__request_dispose(&req);
}

/* Keeps a copy of a message that arrived while a barrier holds `c`. */
static void hold(wsr__conn_t *c, const unsigned char *p, size_t n, bool binary)
{
    held_t *h;

    if (c->held_count >= HELD_MAX || n > c->loop->factory->settings.max_message - c->held_bytes) {
        wsr__conn_close_because(c, 1008, "too many requests wait behind a login");
        return;
    }
    h = wsr__malloc(sizeof(*h) + n);
    if (h == NULL) {
        wsr__conn_close(c, 1011);
        return;
    }
    h->next = NULL;
    h->len = n;
    h->binary = binary;
    if (n > 0)
        memcpy(h->bytes, p, n);
    if (c->held_tail != NULL)
        c->held_tail->next = h;
    else
        c->held_head = h;
    c->held_tail = h;
    c->held_count++;
    c->held_bytes += n;
}

void wsr__serve_message(wsr__conn_t *c, const unsigned char *p, size_t n, bool binary)
{
    if (c->held)
        hold(c, p, n, binary);
    else
        serve_now(c, p, n, binary);
}

void wsr__serve_resume(wsr__conn_t *c)
{
    wsr__batch_t *b = c->paused;
    held_t *h;

    c->held = 0;
    if (b != NULL) {
        c->paused = NULL;
        run_batch(c, b);
    }
    while (!c->held && c->close_code == 0 && (h = c->held_head) != NULL) {
        c->held_head = h->next;
        if (c->held_head == NULL)
            c->held_tail = NULL;
        c->held_count--;
        c->held_bytes -= h->len;
        serve_now(c, h->bytes, h->len, h->binary);
        wsr__free(h);
    }
    /* A raw connection stopped reading instead of holding copies. */
    if (!c->held && c->raw)
        wsr__raw_resume(c);
}

void wsr__serve_conn_closed(wsr__conn_t *c)
{
    held_t *h, *next;

    for (h = c->held_head; h != NULL; h = next) {
        next = h->next;
        wsr__free(h);
    }
    c->held_head = c->held_tail = NULL;
    c->held_count = 0;
    c->held_bytes = 0;
    c->held = 0;
    wsr__batch_free_all(c);
}

/* A closed connection's subscriptions and presence, dropped on the engine's
 * queue when there is one: after whatever the connection had queued there
 * (a subscribe still waiting would otherwise come after the drop and leave
 * a subscription behind), and without Redis round trips on the loop. */
typedef struct drop_job {
    wsr_factory_t *f;
    uint64_t id;
} drop_job_t;

static void drop_run(void *arg)
{
    drop_job_t *job = arg;

    wsr__pubsub_drop_conn(job->f->pubsub, job->id);
    wsr__free(job);
}

/* The pool stops (the server does) before it ran: dropped here and now, so
 * that a node stopping withdraws its presence at once. */
static void drop_cancel(void *arg)
{
    drop_run(arg);
}

void wsr__serve_drop_conn(wsr__loop_t *loop, uint64_t id)
{
    drop_job_t *job = loop->engine_pool != NULL ? wsr__malloc(sizeof(*job)) : NULL;

    if (job != NULL) {
        job->f = loop->factory;
        job->id = id;
        /* Past the queue's bound too: run here instead, it would race a
         * subscribe of this connection still running on the queue. */
        if (wsr__workers_submit_always(loop->engine_pool, drop_run, drop_cancel, job) == 0)
            return;
        wsr__free(job);
    }
    /* No queue (or no memory for the job): at once, here. */
    wsr__pubsub_drop_conn(loop->factory->pubsub, id);
}
