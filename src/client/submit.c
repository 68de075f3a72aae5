/* SPDX-License-Identifier: MIT */
/*
 * Making calls (include/wsrouter/client.h): every public call function ends
 * in submit(), which encodes the request on the caller's thread, adds the call
 * and its frame to the table under the lock only while the connection is
 * open (calls fail fast otherwise), and wakes the service thread. Synchronous
 * calls are asynchronous calls whose callback hands the reply to the waiting
 * thread under the client's lock. This file owns nothing past a call's
 * submission; it never touches lws beyond lws_cancel_service().
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

/* A raw send or an encoded request, and the call that will carry it. */
typedef struct submission {
    const wsr_client_request_t *req; /* borrowed, or NULL for a raw send */
    const void *raw;                 /* borrowed: the raw bytes */
    size_t raw_len;
    bool binary;
    int timeout_ms;
    const char *topic; /* borrowed: the topic a subscribe names, or NULL */
} submission_t;

/* A synchronous caller waiting for its call; guarded by the client's lock. */
typedef struct sync_wait {
    wsr_client_t *c;
    bool done;
    int rc;
    wsr_client_reply_t reply;
    char text[WSR__CLIENT_TEXT];
} sync_wait_t;

static void make_label(wsr__ccall_t *call, const submission_t *s)
{
    const wsr_client_request_t *req = s->req;

    if (req == NULL)
        snprintf(call->label, sizeof(call->label), "raw send");
    else if (req->cmd != NULL)
        snprintf(call->label, sizeof(call->label), "cmd %.60s", req->cmd);
    else
        snprintf(call->label, sizeof(call->label), "%.10s %.56s", req->method ? req->method : "?",
                 req->url ? req->url : "?");
}

/* Builds the frame of a raw send. */
static int raw_frame(wsr_client_t *c, const submission_t *s, wsr__cmsg_t **out, wsr_error_t *err)
{
    wsr__cmsg_t *m = wsr__calloc(1, sizeof(*m));
    int rc;

    *out = NULL;
    if (m == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory queueing a raw send");
    wsr__buf_init(&m->buf, LWS_PRE, c->cfg.max_message);
    m->binary = s->binary;
    rc = wsr__buf_reserve(&m->buf, 1);
    if (rc == 0)
        rc = wsr__buf_append(&m->buf, s->raw, s->raw_len);
    if (rc != 0) {
        wsr__cmsg_free(m);
        if (rc == WSR_EOVERFLOW)
            return wsr__error_set(err, rc, "the raw send is larger than max_message (%zu bytes)",
                                  c->cfg.max_message);
        return wsr__error_set(err, WSR_ENOMEM, "out of memory queueing a raw send");
    }
    *out = m;
    return 0;
}

/* Queues the call while the connection is open (or, for the client's own
 * calls, opening). Returns 0 or WSR_ECLOSED. */
static int enqueue(wsr_client_t *c, wsr__ccall_t *call, wsr__cmsg_t *m, bool own, wsr_error_t *err)
{
    wsr_client_state_t state;

    pthread_mutex_lock(&c->lock);
    state = c->state;
    if ((state != WSR_CLIENT_OPEN && !own) || c->stop) {
        pthread_mutex_unlock(&c->lock);
        return wsr__error_set(err, WSR_ECLOSED, "not connected to %.200s (the client is %s)",
                              c->url_text, c->stop ? "closing" : wsr_client_state_name(state));
    }
    wsr__calls_add(c, call, m);
    if (c->wake_deadline_ns == 0 || call->deadline_ns < c->wake_deadline_ns)
        c->wake_deadline_ns = call->deadline_ns;
    /* Under the lock: the context cannot be destroyed while the client is open. */
    lws_cancel_service(c->ctx);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* Encodes and queues one call. On success `*id` (optional) is the call's id. */
static int submit_as(wsr_client_t *c, const submission_t *s, wsr_client_reply_fn cb, void *user,
                     bool own, uint64_t *id, wsr_error_t *err)
{
    wsr__ccall_t *call;
    wsr__cmsg_t *m = NULL;
    int timeout;
    uint64_t num;
    int rc;

    if (c == NULL || cb == NULL)
        return wsr__error_set(err, WSR_EINVAL, "a call needs a client and a callback");
    timeout = s->timeout_ms > 0 ? s->timeout_ms : c->cfg.call_timeout_ms;
    if (s->timeout_ms > WSR__CLIENT_MAX_TIMEOUT_MS)
        return wsr__error_set(err, WSR_EINVAL, "a call's timeout must be at most a day");
    call = wsr__calloc(1, sizeof(*call));
    if (call == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory making a call");
    pthread_mutex_lock(&c->lock);
    call->id = c->next_id++;
    pthread_mutex_unlock(&c->lock);
    call->raw = s->req == NULL;
    rc = call->raw ? raw_frame(c, s, &m, err) : wsr__client_encode(c, s->req, call->id, &m, err);
    if (rc != 0) {
        wsr__free(call);
        return rc;
    }
    call->timeout_ms = timeout;
    call->deadline_ns = wsr__now_ns() + (uint64_t)timeout * 1000000u;
    call->cb = cb;
    call->user = user;
    if (s->req != NULL) {
        call->on_progress = s->req->on_progress;
        call->progress_user = s->req->progress_user;
    }
    make_label(call, s);
    if (s->topic != NULL) {
        call->sub_client = c;
        call->sub_topic = wsr__strdup(s->topic);
        if (call->sub_topic == NULL) {
            wsr__cmsg_free(m);
            wsr__free(call);
            return wsr__error_set(err, WSR_ENOMEM, "out of memory making a call");
        }
    }
    num = call->id; /* once queued, the call may end (and be freed) at any time */
    rc = enqueue(c, call, m, own, err);
    if (rc != 0) {
        wsr__cmsg_free(m);
        wsr__free(call->sub_topic);
        wsr__free(call);
    } else if (id != NULL) {
        *id = num;
    }
    return rc;
}

static int submit(wsr_client_t *c, const submission_t *s, wsr_client_reply_fn cb, void *user,
                  uint64_t *id, wsr_error_t *err)
{
    return submit_as(c, s, cb, user, false, id, err);
}

int wsr__client_submit_own(wsr_client_t *c, const wsr_client_request_t *req, wsr_client_reply_fn cb,
                           void *user)
{
    submission_t s = {req, NULL, 0, false, req->timeout_ms, NULL};
    wsr_error_t err;

    return submit_as(c, &s, cb, user, true, NULL, &err);
}

static void sync_done(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    sync_wait_t *w = user;

    pthread_mutex_lock(&w->c->lock);
    w->rc = rc;
    if (reply != NULL) {
        w->reply = *reply;
        reply->message = NULL; /* taken */
    } else {
        snprintf(w->text, sizeof(w->text), "%s", error ? error : wsr_strerror(rc));
    }
    w->done = true;
    pthread_cond_broadcast(&w->c->cond);
    pthread_mutex_unlock(&w->c->lock);
}

/* Waits for a synchronous call; the service thread always ends it by its deadline. */
static void sync_wait(wsr_client_t *c, sync_wait_t *w, uint64_t id, int timeout_ms)
{
    uint64_t safety = wsr__now_ns() + ((uint64_t)timeout_ms + WSR__CLIENT_SAFETY_MS) * 1000000u;
    wsr__ccall_t *call;

    pthread_mutex_lock(&c->lock);
    while (!w->done) {
        if (wsr__client_wait(c, safety))
            continue;
        /* Never expected: take the call back unless its callback is running. */
        call = wsr__calls_take_any(c, id);
        if (call != NULL) {
            wsr__free(call->sub_topic);
            wsr__free(call);
            w->rc = WSR_ETIMEDOUT;
            snprintf(w->text, sizeof(w->text), "no reply within %d ms", timeout_ms);
            break;
        }
        safety = UINT64_MAX;
    }
    pthread_mutex_unlock(&c->lock);
}

static int sync_run(wsr_client_t *c, const submission_t *s, wsr_client_reply_t *reply,
                    wsr_error_t *err)
{
    sync_wait_t w;
    uint64_t id = 0;
    int rc;

    if (reply != NULL)
        memset(reply, 0, sizeof(*reply));
    if (c == NULL || reply == NULL)
        return wsr__error_set(err, WSR_EINVAL, "a call needs a client and a reply");
    if (wsr__client_on_service_thread(c))
        return wsr__error_set(err, WSR_ESTATE,
                              "synchronous call from a client callback (it would deadlock); "
                              "use an asynchronous call");
    memset(&w, 0, sizeof(w));
    w.c = c;
    rc = submit(c, s, sync_done, &w, &id, err);
    if (rc != 0)
        return rc;
    sync_wait(c, &w, id, s->timeout_ms > 0 ? s->timeout_ms : c->cfg.call_timeout_ms);
    if (w.rc != 0)
        return wsr__error_set(err, w.rc, "%s", w.text);
    *reply = w.reply;
    return 0;
}

int wsr_client_request(wsr_client_t *c, const wsr_client_request_t *req, wsr_client_reply_t *reply,
                       wsr_error_t *err)
{
    submission_t s = {req, NULL, 0, false, req ? req->timeout_ms : 0, NULL};

    if (req == NULL) {
        if (reply != NULL)
            memset(reply, 0, sizeof(*reply));
        return wsr__error_set(err, WSR_EINVAL, "no request given");
    }
    return sync_run(c, &s, reply, err);
}

int wsr_client_call(wsr_client_t *c, const char *method, const char *url, json_t *args,
                    json_t *data, wsr_client_reply_t *reply, wsr_error_t *err)
{
    wsr_client_request_t req;

    wsr_client_request_init(&req);
    req.method = method;
    req.url = url;
    req.args = args;
    req.data = data;
    return wsr_client_request(c, &req, reply, err);
}

int wsr_client_execute(wsr_client_t *c, const char *cmd, json_t *params, wsr_client_reply_t *reply,
                       wsr_error_t *err)
{
    wsr_client_request_t req;

    wsr_client_request_init(&req);
    req.cmd = cmd;
    req.args = params;
    if (cmd == NULL) {
        if (reply != NULL)
            memset(reply, 0, sizeof(*reply));
        return wsr__error_set(err, WSR_EINVAL, "no command name given");
    }
    return wsr_client_request(c, &req, reply, err);
}

int wsr_client_request_async(wsr_client_t *c, const wsr_client_request_t *req,
                             wsr_client_reply_fn cb, void *user, uint64_t *call_id,
                             wsr_error_t *err)
{
    submission_t s = {req, NULL, 0, false, req ? req->timeout_ms : 0, NULL};

    if (call_id != NULL)
        *call_id = 0;
    if (req == NULL)
        return wsr__error_set(err, WSR_EINVAL, "no request given");
    return submit(c, &s, cb, user, call_id, err);
}

int wsr_client_send_raw_async(wsr_client_t *c, const void *bytes, size_t len, bool binary,
                              int timeout_ms, wsr_client_reply_fn cb, void *user, uint64_t *call_id,
                              wsr_error_t *err)
{
    submission_t s = {NULL, bytes, len, binary, timeout_ms, NULL};

    if (call_id != NULL)
        *call_id = 0;
    if (bytes == NULL && len != 0)
        return wsr__error_set(err, WSR_EINVAL, "no bytes given");
    return submit(c, &s, cb, user, call_id, err);
}

int wsr_client_send_raw(wsr_client_t *c, const void *bytes, size_t len, bool binary, int timeout_ms,
                        wsr_client_reply_t *reply, wsr_error_t *err)
{
    submission_t s = {NULL, bytes, len, binary, timeout_ms, NULL};

    if (bytes == NULL && len != 0) {
        if (reply != NULL)
            memset(reply, 0, sizeof(*reply));
        return wsr__error_set(err, WSR_EINVAL, "no bytes given");
    }
    return sync_run(c, &s, reply, err);
}

int wsr__client_request_topic(wsr_client_t *c, const wsr_client_request_t *req, const char *topic,
                              wsr_client_reply_t *reply, wsr_client_reply_fn cb, void *user,
                              uint64_t *call_id, wsr_error_t *err)
{
    submission_t s = {req, NULL, 0, false, req->timeout_ms, topic};

    if (cb == NULL)
        return sync_run(c, &s, reply, err);
    if (call_id != NULL)
        *call_id = 0;
    return submit(c, &s, cb, user, call_id, err);
}
