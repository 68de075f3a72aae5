/* SPDX-License-Identifier: MIT */
/*
 * Subscriptions that resume (include/wsrouter/client.h, docs/protocol.md
 * section 5.2): the table of the topics wsr_client_subscribe named, each
 * with the offset and epoch of the last publication received on it; after
 * each reconnection, a subscribe with "since" for each one, ahead of the
 * program's calls; and the on_resubscribed notification that tells whether
 * the missed publications follow. It matches the JS client (www/wsrouter.js,
 * `#resubscribe`): a recovered topic's position is moved by the replay that
 * follows, an unrecovered one takes the reply's position. The table is
 * guarded by the client's lock; no user code runs with the lock held.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

/* What a resubscription's reply callback needs: the client and the topic. */
typedef struct resub {
    wsr_client_t *c;
    char *topic; /* owned */
} resub_t;

/* Returns the entry for `name`, or NULL. Lock held. */
static wsr__ctopic_t *find(wsr_client_t *c, const char *name, wsr__ctopic_t ***prev)
{
    wsr__ctopic_t **pp = &c->topics;

    while (*pp != NULL && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    if (prev != NULL)
        *prev = pp;
    return *pp;
}

static void entry_free(wsr__ctopic_t *t)
{
    wsr__free(t->name);
    wsr__free(t->epoch);
    wsr__free(t);
}

/* Unlinks and frees the entry for `name`, if any. Lock held. */
static void forget(wsr_client_t *c, const char *name)
{
    wsr__ctopic_t **pp, *t = find(c, name, &pp);

    if (t == NULL)
        return;
    *pp = t->next;
    entry_free(t);
}

/* Sets the entry's position; an epoch that cannot be copied leaves it unknown. Lock held. */
static void set_position(wsr__ctopic_t *t, int64_t offset, const char *epoch)
{
    if (t->epoch == NULL || strcmp(t->epoch, epoch) != 0) {
        wsr__free(t->epoch);
        t->epoch = wsr__strdup(epoch);
    }
    t->known = t->epoch != NULL;
    t->offset = offset;
}

/* Reads `offset` and `epoch` from `o` (a reply's data or a publication). */
static bool read_position(json_t *o, int64_t *offset, const char **epoch)
{
    json_t *off = json_object_get(o, "offset");

    *epoch = json_string_value(json_object_get(o, "epoch"));
    if (!json_is_integer(off) || *epoch == NULL)
        return false;
    *offset = (int64_t)json_integer_value(off);
    return true;
}

/*
 * Takes a subscribe reply's position, unless a publication of that epoch at
 * or past it arrived already (the reply and the first publications may come
 * in either order). Lock held.
 */
static void adopt(wsr__ctopic_t *t, json_t *data)
{
    int64_t offset;
    const char *epoch;

    if (!read_position(data, &offset, &epoch))
        return;
    if (t->known && strcmp(t->epoch, epoch) == 0 && t->offset >= offset)
        return;
    set_position(t, offset, epoch);
}

void wsr__client_topics_published(wsr_client_t *c, json_t *msg)
{
    const char *event = json_string_value(json_object_get(msg, "event_name"));
    const char *topic = json_string_value(json_object_get(msg, "topic"));
    wsr__ctopic_t *t;
    int64_t offset;
    const char *epoch;

    if (json_object_get(msg, "status") != NULL || event == NULL || strcmp(event, "publish") != 0 ||
        topic == NULL || !read_position(msg, &offset, &epoch))
        return;
    pthread_mutex_lock(&c->lock);
    t = find(c, topic, NULL);
    if (t != NULL)
        set_position(t, offset, epoch);
    pthread_mutex_unlock(&c->lock);
}

static bool is_2xx(json_t *message)
{
    json_int_t status = json_integer_value(json_object_get(message, "status"));

    return status >= 200 && status < 300;
}

void wsr__client_topics_replied(wsr__ccall_t *call, int rc, json_t *message)
{
    wsr_client_t *c = call->sub_client;
    wsr__ctopic_t *t;

    pthread_mutex_lock(&c->lock);
    t = find(c, call->sub_topic, NULL);
    if (t != NULL && rc == 0 && message != NULL && is_2xx(message)) {
        t->confirmed = true;
        adopt(t, json_object_get(message, "data"));
    } else if (t != NULL && !t->confirmed) {
        forget(c, call->sub_topic);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Tells the program what became of a resubscription. */
static void notify(wsr_client_t *c, const wsr_client_resubscription_t *r)
{
    if (r->ok)
        wsr__client_log(c, WSR_LOG_INFO, "resubscribed to %s (%s)", r->topic,
                        r->recovered ? "recovered" : "not recovered");
    else
        wsr__client_log(c, WSR_LOG_WARN, "could not subscribe to %s again: %s", r->topic,
                        r->error ? r->error : "refused");
    if (c->cfg.on_resubscribed != NULL)
        c->cfg.on_resubscribed(c->cfg.user, r);
}

/* Ends the resubscription of `topic`: with its reply, or with `rc` and `error`. */
static void resub_finish(wsr_client_t *c, const char *topic, int rc, wsr_client_reply_t *reply,
                         const char *error)
{
    wsr_client_resubscription_t r;
    json_t *data = reply ? reply->data : NULL;
    char *epoch = NULL;
    wsr__ctopic_t *t;
    bool tell = true;

    memset(&r, 0, sizeof(r));
    r.topic = topic;
    r.rc = rc;
    r.status = reply ? reply->status : 0;
    r.ok = reply != NULL && reply->status >= 200 && reply->status < 300;
    r.recovered = r.ok && json_is_true(json_object_get(data, "recovered"));
    r.error = reply ? reply->detail : error;
    if (r.ok && !read_position(data, &r.offset, &r.epoch))
        r.offset = 0;
    pthread_mutex_lock(&c->lock);
    t = find(c, topic, NULL);
    if (t == NULL) {
        tell = false; /* unsubscribed meanwhile */
    } else if (r.ok && !r.recovered) {
        /* What was missed is lost: the topic goes on from the reply's position. */
        adopt(t, data);
    } else if (!r.ok && rc == WSR_ECLOSED) {
        tell = false; /* cut off again: the next reconnection tries again */
    } else if (!r.ok) {
        forget(c, topic);
    }
    pthread_mutex_unlock(&c->lock);
    if (r.epoch != NULL) {
        /* The reply is the caller's to dispose: keep no pointer into it past here. */
        epoch = wsr__strdup(r.epoch);
        r.epoch = epoch;
    }
    if (tell)
        notify(c, &r);
    wsr__free(epoch);
}

/* The reply to a resubscription, on the service thread. */
static void on_resubscribed(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    resub_t *rs = user;

    resub_finish(rs->c, rs->topic, rc, reply, error);
    wsr__free(rs->topic);
    wsr__free(rs);
}

/* Builds the args of a resubscription: the topic, and `since` when its position is known. */
static json_t *resub_args(const wsr__ctopic_t *t)
{
    if (!t->known)
        return json_pack("{s:s}", "topic", t->name);
    return json_pack("{s:s,s:{s:I,s:s}}", "topic", t->name, "since", "offset",
                     (json_int_t)t->offset, "epoch", t->epoch);
}

/* Sends one resubscription (takes `topic`); a failure to queue it is told like a refusal. */
static void resubscribe(wsr_client_t *c, json_t *args, char *topic)
{
    wsr_client_request_t req;
    resub_t *rs = wsr__calloc(1, sizeof(*rs));
    int rc = WSR_ENOMEM;

    wsr_client_request_init(&req);
    req.method = "POST";
    req.url = "/_/subscribe";
    req.args = args;
    if (rs != NULL && args != NULL) {
        rs->c = c;
        rs->topic = topic;
        rc = wsr__client_submit_own(c, &req, on_resubscribed, rs);
        if (rc == 0)
            return;
    }
    resub_finish(c, topic, rc, NULL, "the resubscription could not be queued");
    wsr__free(topic);
    wsr__free(rs);
}

void wsr__client_topics_opened(wsr_client_t *c)
{
    json_t *args[64];
    char *names[64];
    size_t n = 0, i;
    wsr__ctopic_t *t;

    /* In rounds of 64, the lock not held while submitting (it takes the lock). */
    for (size_t done = 0;; done += n) {
        pthread_mutex_lock(&c->lock);
        t = c->topics;
        for (i = 0; t != NULL && i < done; i++)
            t = t->next;
        for (n = 0; t != NULL && n < WSR__ARRAY_SIZE(args); t = t->next, n++) {
            args[n] = resub_args(t);
            names[n] = wsr__strdup(t->name);
        }
        pthread_mutex_unlock(&c->lock);
        for (i = 0; i < n; i++) {
            if (names[i] != NULL)
                resubscribe(c, args[i], names[i]); /* takes the name */
            else
                wsr__client_log(c, WSR_LOG_ERR, "out of memory subscribing to a topic again");
            json_decref(args[i]);
        }
        if (n < WSR__ARRAY_SIZE(args))
            break;
    }
}

void wsr__client_topics_free(wsr_client_t *c)
{
    wsr__ctopic_t *t;

    while ((t = c->topics) != NULL) {
        c->topics = t->next;
        entry_free(t);
    }
}

/* ---- the API ---- */

/* Builds {"topic": topic} and the request for `url`. Returns args (owned) or NULL. */
static json_t *topic_request(wsr_client_request_t *req, const char *url, const char *topic)
{
    wsr_client_request_init(req);
    req->method = "POST";
    req->url = url;
    req->args = json_pack("{s:s}", "topic", topic);
    return req->args;
}

/* Remembers `topic` (not yet confirmed) unless it is already. Returns 0 or WSR_ENOMEM. */
static int remember(wsr_client_t *c, const char *topic)
{
    wsr__ctopic_t *t;
    int rc = 0;

    pthread_mutex_lock(&c->lock);
    if (find(c, topic, NULL) == NULL) {
        t = wsr__calloc(1, sizeof(*t));
        if (t != NULL && (t->name = wsr__strdup(topic)) != NULL) {
            t->next = c->topics;
            c->topics = t;
        } else {
            wsr__free(t);
            rc = WSR_ENOMEM;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Subscribes or unsubscribes, synchronously when `cb` is NULL. */
static int topic_call(wsr_client_t *c, const char *topic, bool subscribe, wsr_client_reply_t *reply,
                      wsr_client_reply_fn cb, void *user, uint64_t *call_id, wsr_error_t *err)
{
    wsr_client_request_t req;
    json_t *args;
    int rc;

    if (reply != NULL)
        memset(reply, 0, sizeof(*reply));
    if (call_id != NULL)
        *call_id = 0;
    if (c == NULL || topic == NULL)
        return wsr__error_set(err, WSR_EINVAL, "a subscription needs a client and a topic");
    args = topic_request(&req, subscribe ? "/_/subscribe" : "/_/unsubscribe", topic);
    if (args == NULL)
        return wsr__error_set(err, WSR_EINVAL, "the topic is not valid UTF-8 (or out of memory)");
    if (subscribe && remember(c, topic) != 0) {
        json_decref(args);
        return wsr__error_set(err, WSR_ENOMEM, "out of memory remembering the topic");
    }
    if (!subscribe) {
        pthread_mutex_lock(&c->lock);
        forget(c, topic);
        pthread_mutex_unlock(&c->lock);
    }
    rc =
        wsr__client_request_topic(c, &req, subscribe ? topic : NULL, reply, cb, user, call_id, err);
    if (rc != 0 && subscribe) {
        /* Never queued, so the reply hook will not run: forget it unless confirmed. */
        pthread_mutex_lock(&c->lock);
        wsr__ctopic_t *t = find(c, topic, NULL);
        if (t != NULL && !t->confirmed)
            forget(c, topic);
        pthread_mutex_unlock(&c->lock);
    }
    json_decref(args);
    return rc;
}

static int topic_sync(wsr_client_t *c, const char *topic, bool subscribe, wsr_client_reply_t *reply,
                      wsr_error_t *err)
{
    if (reply == NULL)
        return wsr__error_set(err, WSR_EINVAL, "a call needs a client and a reply");
    return topic_call(c, topic, subscribe, reply, NULL, NULL, NULL, err);
}

static int topic_async(wsr_client_t *c, const char *topic, bool subscribe, wsr_client_reply_fn cb,
                       void *user, uint64_t *call_id, wsr_error_t *err)
{
    if (cb == NULL)
        return wsr__error_set(err, WSR_EINVAL, "a call needs a client and a callback");
    return topic_call(c, topic, subscribe, NULL, cb, user, call_id, err);
}

int wsr_client_subscribe(wsr_client_t *c, const char *topic, wsr_client_reply_t *reply,
                         wsr_error_t *err)
{
    return topic_sync(c, topic, true, reply, err);
}

int wsr_client_subscribe_async(wsr_client_t *c, const char *topic, wsr_client_reply_fn cb,
                               void *user, uint64_t *call_id, wsr_error_t *err)
{
    return topic_async(c, topic, true, cb, user, call_id, err);
}

int wsr_client_unsubscribe(wsr_client_t *c, const char *topic, wsr_client_reply_t *reply,
                           wsr_error_t *err)
{
    return topic_sync(c, topic, false, reply, err);
}

int wsr_client_unsubscribe_async(wsr_client_t *c, const char *topic, wsr_client_reply_fn cb,
                                 void *user, uint64_t *call_id, wsr_error_t *err)
{
    return topic_async(c, topic, false, cb, user, call_id, err);
}

int wsr_client_position(wsr_client_t *c, const char *topic, int64_t *offset, char *epoch,
                        size_t size)
{
    wsr__ctopic_t *t;
    int rc = WSR_ENOENT;

    if (epoch != NULL && size > 0)
        epoch[0] = '\0';
    if (c == NULL || topic == NULL)
        return WSR_EINVAL;
    pthread_mutex_lock(&c->lock);
    t = find(c, topic, NULL);
    if (t != NULL && t->known) {
        rc = 0;
        if (offset != NULL)
            *offset = t->offset;
        if (epoch != NULL && (size == 0 || strlen(t->epoch) >= size)) {
            rc = WSR_EOVERFLOW;
        } else if (epoch != NULL) {
            memcpy(epoch, t->epoch, strlen(t->epoch) + 1);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}
