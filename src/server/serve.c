/* SPDX-License-Identifier: MIT */
/*
 * Serving a connection's messages (see serve_int.h). The request lives on
 * the loop's stack while its handler runs here; a blocking route's request
 * moves into a job that a worker runs, holding the completer's reference to
 * a deferred reply that carries the answer back through the loop's inbox.
 * Nothing here touches a socket: answers go to the connection's queue.
 */
#include "server/serve_int.h"

#include <string.h>

#include "core/codec_int.h"
#include "core/dispatch_int.h"
#include "core/router_int.h"
#include "server/reply_int.h"
#include "server/workers_int.h"
#include "services/auth_int.h"

/* How a handler running on the loop defers: a reply for this connection. */
struct serve_ctx {
    wsr__loop_t *loop;
    wsr__conn_t *conn;
    wsr_request_t *req;
};

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

static wsr_reply_t *loop_defer(void *arg, wsr_response_t *res)
{
    struct serve_ctx *ctx = arg;

    (void)res;
    return wsr__reply_new(ctx->loop, ctx->conn, ctx->req);
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
    if (wsr_reply_cancelled(job->reply)) {
        /* Timed out or its connection closed while it waited: skip the work. */
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
static bool offload(struct serve_ctx *ctx, wsr_response_t *res)
{
    wsr__loop_t *loop = ctx->loop;
    job_t *job = wsr__calloc(1, sizeof(*job));
    wsr_response_t refusal;
    int rc;

    if (job == NULL || (job->reply = wsr__reply_new(loop, ctx->conn, ctx->req)) == NULL) {
        wsr__free(job);
        wsr__response_fail(res);
        return false;
    }
    job->f = loop->factory;
    job->req = *ctx->req; /* move */
    rc = wsr__workers_submit(loop->workers, job_run, job_cancel, job);
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
                                 wsr__workers_queue_size(loop->workers));
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
    if (rc != 0)
        return false;
    rc = wsr__dispatch_route(f->router, req, res);
    if (rc == WSR__DISPATCH_ANSWERED)
        return false;
    if (rc == WSR__DISPATCH_BLOCKING && ctx->loop->workers != NULL)
        return offload(ctx, res);
    res->defer = loop_defer;
    res->defer_ctx = ctx;
    rc = wsr__dispatch_run(req, res);
    if (rc < 0)
        log_failure(f, req, rc, res->deferred);
    return res->deferred;
}

void wsr__serve_message(wsr__conn_t *c, const unsigned char *p, size_t n, bool binary)
{
    wsr__loop_t *loop = c->loop;
    wsr_factory_t *f = loop->factory;
    char detail[WSR__DETAIL_MAX];
    struct serve_ctx ctx;
    wsr_request_t req;
    wsr_response_t res;
    wsr__buf_t out;
    int rc;

    wsr__count(&loop->stats->messages_in, 1);
    wsr__request_init(&req);
    wsr__response_init(&res);
    req.start_ns = wsr__now_ns();
    req.conn_id = c->id;
    req.factory = f;
    memcpy(req.peer, c->peer, sizeof(req.peer));
    req.session = wsr__session_ref(c->session);
    if (c->cert_subject != NULL)
        req.cert_subject = wsr__strdup(c->cert_subject);
    rc = wsr__codec_decode(&req, p, n, binary, f->settings.max_depth, detail);
    c->push_format = (uint8_t)req.format;
    if (rc == WSR_EPARSE) {
        (void)wsr__response_error_str(&res, 400, detail);
    } else if (rc != 0) {
        wsr__response_fail(&res);
    } else if (loop->draining) {
        (void)wsr__response_error_str(&res, 503, "the server is shutting down");
    } else {
        ctx.loop = loop;
        ctx.conn = c;
        ctx.req = &req;
        if (run(&ctx, &res))
            goto out; /* a reply handle answers later */
    }
    wsr__stats_request(loop->stats, res.status, req.route ? req.route->index : SIZE_MAX,
                       wsr__now_ns() - req.start_ns);
    wsr__buf_init(&out, WSR__MSG_HEAD, 0);
    if (wsr__codec_encode_response(&out, &res, req.id, req.event_name, req.method == WSR_HEAD,
                                   req.format, &loop->scratch) == 0)
        wsr__conn_send(c, wsr__msg_take(&out, req.format == WSR_FORMAT_BASE64_BINARY));
    else
        wsr__conn_close(c, 1011);
    wsr__buf_dispose(&out);
out:
    wsr__response_dispose(&res);
    wsr__request_dispose(&req);
}
