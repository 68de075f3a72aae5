/* SPDX-License-Identifier: MIT */
/*
 * Streaming calls on the client's side (docs/protocol.md section 5.1):
 * progress messages handed to their call's on_progress, input sent to a
 * running call, and cancellation. A call already written is cancelled by the
 * server (the `cancel` built-in), whose 499 then ends it like any reply, so
 * that nothing of it can follow; a call not yet written, or a raw send, ends
 * on the client. The call objects stay calls.c's; progress and the answer to
 * a cancel arrive on the service thread, input and cancels are asked for on
 * any thread.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

/* The cancel request of call `id`, on its way to the server. */
typedef struct cancel_ctx {
    wsr_client_t *c;
    uint64_t id;
} cancel_ctx_t;

bool wsr__client_progress(wsr_client_t *c, json_t *msg)
{
    wsr_client_progress_fn fn = NULL;
    void *user = NULL;
    wsr__ccall_t *call;
    uint64_t id = 0;

    if (json_object_get(msg, "progress") == NULL || json_object_get(msg, "status") != NULL ||
        !wsr__client_parse_id(c, json_string_value(json_object_get(msg, "id")), &id))
        return false;
    pthread_mutex_lock(&c->lock);
    call = wsr__calls_find(c, id);
    if (call != NULL && !call->raw) {
        fn = call->on_progress;
        user = call->progress_user;
    }
    pthread_mutex_unlock(&c->lock);
    /* No call, or one that did not ask: the message handler's, as before. */
    if (fn == NULL)
        return false;
    /* Replies are delivered on this thread too: this one's cannot overtake. */
    fn(user, id, json_object_get(msg, "progress"), msg);
    return true;
}

bool wsr__client_input_answer(const wsr__ccall_t *call, json_t *msg)
{
    const char *event = json_string_value(json_object_get(msg, "event_name"));

    return call->got_input && event != NULL && strcmp(event, WSR__CLIENT_INPUT_EVENT) == 0;
}

int wsr_client_send_input(wsr_client_t *c, uint64_t call_id, json_t *input, wsr_error_t *err)
{
    char wire_id[WSR__CLIENT_ID_LEN];
    wsr__ccall_t *call;
    wsr__cmsg_t *m = NULL;
    json_t *o;
    int rc = 0;

    if (c == NULL || call_id == 0)
        return wsr__error_set(err, WSR_EINVAL, "input needs a client and a call id");
    wsr__client_wire_id(c, call_id, wire_id);
    o = json_pack("{s:s, s:O, s:s}", "id", wire_id, "input", input ? input : json_null(),
                  "event_name", WSR__CLIENT_INPUT_EVENT);
    if (o == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory encoding the input");
    rc = wsr__client_encode_object(c, o, "the input", &m, err);
    json_decref(o);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&c->lock);
    call = wsr__calls_find(c, call_id);
    if (call == NULL)
        rc = wsr__error_set(err, WSR_ENOENT,
                            "call #%llu is not in flight (it has ended, or never was): the input "
                            "was not sent",
                            (unsigned long long)call_id);
    else if (call->raw)
        rc = wsr__error_set(err, WSR_EINVAL,
                            "call #%llu is a raw send, whose id the client does not know: the "
                            "input was not sent",
                            (unsigned long long)call_id);
    else if (c->state != WSR_CLIENT_OPEN || c->stop)
        rc = wsr__error_set(err, WSR_ECLOSED, "not connected to %.200s: the input was not sent",
                            c->url_text);
    if (rc == 0) {
        /* Behind the call's own frame, which was queued first. */
        call->got_input = true;
        wsr__out_push(c, m);
        m = NULL;
        lws_cancel_service(c->ctx);
    }
    pthread_mutex_unlock(&c->lock);
    wsr__cmsg_free(m);
    return rc;
}

/* The server's answer to a cancel, on the service thread. 200: it ended the
 * call (its 499 came first) or had answered it already (that reply is on its
 * way). Anything else (a server without the `cancel` built-in, a timeout):
 * the call ends here. */
static void cancel_answered(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    cancel_ctx_t *x = user;
    wsr_client_t *c = x->c;
    wsr__ccall_t *call = NULL;
    char text[WSR__CLIENT_TEXT + 160];

    if (rc != 0 || reply->status != 200) {
        pthread_mutex_lock(&c->lock);
        call = wsr__calls_take_id(c, x->id);
        pthread_mutex_unlock(&c->lock);
    }
    if (call != NULL) {
        snprintf(text, sizeof(text),
                 "%s (call #%llu) was canceled on the client: the server did not cancel it "
                 "(%.120s)",
                 call->label, (unsigned long long)call->id,
                 rc != 0                 ? (error ? error : wsr_strerror(rc))
                 : reply->detail != NULL ? reply->detail
                                         : "no detail");
        wsr__call_complete(call, WSR_ECANCELED, NULL, text);
    }
    wsr__free(x);
}

/* Sends {"cmd":"cancel","args":{"id":<wire id of call `id`>}}. Returns 0 or a code. */
static int ask_server(wsr_client_t *c, uint64_t id)
{
    char wire_id[WSR__CLIENT_ID_LEN];
    wsr_client_request_t req;
    cancel_ctx_t *x = wsr__malloc(sizeof(*x));
    json_t *args;
    int rc;

    if (x == NULL)
        return WSR_ENOMEM;
    x->c = c;
    x->id = id;
    wsr__client_wire_id(c, id, wire_id);
    args = json_pack("{s:s}", "id", wire_id);
    wsr_client_request_init(&req);
    req.cmd = "cancel";
    req.args = args;
    rc = args != NULL ? wsr_client_request_async(c, &req, cancel_answered, x, NULL, NULL)
                      : WSR_ENOMEM;
    json_decref(args);
    if (rc != 0)
        wsr__free(x);
    return rc;
}

/* Ends call `id` on the client (lock held): its callback runs on the service
 * thread, with WSR_ECANCELED. Returns whether it was in flight. */
static bool cancel_here(wsr_client_t *c, uint64_t id)
{
    wsr__ccall_t *call = wsr__calls_take_any(c, id);

    if (call == NULL)
        return false;
    /* The context outlives the service thread, so waking it is always safe. */
    wsr__call_list_push(&c->cancelled, call);
    lws_cancel_service(c->ctx);
    return true;
}

int wsr_client_cancel(wsr_client_t *c, uint64_t call_id)
{
    wsr__ccall_t *call;
    bool remote = false, found;

    if (c == NULL || call_id == 0)
        return WSR_EINVAL;
    pthread_mutex_lock(&c->lock);
    call = wsr__calls_find(c, call_id);
    found = call != NULL;
    if (call != NULL && !call->cancelling) {
        /* Written (its frame left the queue) on the open connection: only the
         * server can stop it now. */
        remote = !call->raw && call->msg == NULL && c->state == WSR_CLIENT_OPEN && !c->stop;
        if (remote)
            call->cancelling = true;
        else
            (void)cancel_here(c, call_id);
    }
    pthread_mutex_unlock(&c->lock);
    if (remote && ask_server(c, call_id) != 0) {
        /* The server could not even be asked: end it here. */
        pthread_mutex_lock(&c->lock);
        (void)cancel_here(c, call_id);
        pthread_mutex_unlock(&c->lock);
    }
    return found ? 0 : WSR_ENOENT;
}
