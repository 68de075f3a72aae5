/* SPDX-License-Identifier: MIT */
/*
 * Subscriptions (PROTOCOL.md section 5): which connections listen to which
 * topic, and publication to all of them. One registry per factory, behind a
 * mutex because handlers on every event loop subscribe and publish. A
 * publication is encoded once and a copy is posted to each subscriber's loop,
 * which re-encodes it for connections that speak base64. The registry owns its
 * topics and id lists; it never touches a connection.
 */
#include "services/pubsub_int.h"

#include <pthread.h>
#include <string.h>

#include "core/codec_int.h"
#include "core/router_int.h"

#define INITIAL_BUCKETS 64

typedef struct topic {
    struct topic *next; /* bucket chain */
    uint64_t hash;
    uint64_t *ids; /* owned: subscribers */
    size_t nids, cap;
    char name[]; /* NUL-terminated */
} topic_t;

struct wsr__pubsub {
    pthread_mutex_t lock;
    topic_t **buckets; /* owned */
    size_t nbuckets;
    size_t ntopics;
    size_t nsubs; /* subscriptions in all, to skip the scan when a plain connection closes */
    size_t max_per_conn;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s != '\0') {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

wsr__pubsub_t *wsr__pubsub_new(size_t max_per_conn)
{
    wsr__pubsub_t *ps = wsr__calloc(1, sizeof(*ps));

    if (ps == NULL)
        return NULL;
    ps->buckets = wsr__calloc(INITIAL_BUCKETS, sizeof(*ps->buckets));
    if (ps->buckets == NULL || pthread_mutex_init(&ps->lock, NULL) != 0) {
        wsr__free(ps->buckets);
        wsr__free(ps);
        return NULL;
    }
    ps->nbuckets = INITIAL_BUCKETS;
    ps->max_per_conn = max_per_conn;
    return ps;
}

void wsr__pubsub_free(wsr__pubsub_t *ps)
{
    if (ps == NULL)
        return;
    for (size_t i = 0; i < ps->nbuckets; i++) {
        topic_t *t, *next;

        for (t = ps->buckets[i]; t != NULL; t = next) {
            next = t->next;
            wsr__free(t->ids);
            wsr__free(t);
        }
    }
    wsr__free(ps->buckets);
    pthread_mutex_destroy(&ps->lock);
    wsr__free(ps);
}

static topic_t *find(const wsr__pubsub_t *ps, const char *name, uint64_t h, topic_t ***link)
{
    topic_t **p = &ps->buckets[h % ps->nbuckets];

    for (; *p != NULL; p = &(*p)->next)
        if ((*p)->hash == h && strcmp((*p)->name, name) == 0)
            break;
    if (link != NULL)
        *link = p;
    return *p;
}

/* Doubles the table when topics outnumber buckets two to one. */
static void maybe_grow(wsr__pubsub_t *ps)
{
    size_t n = ps->nbuckets * 2;
    topic_t **b;

    if (ps->ntopics < ps->nbuckets * 2 || (b = wsr__calloc(n, sizeof(*b))) == NULL)
        return; /* a full table is only slower, never wrong */
    for (size_t i = 0; i < ps->nbuckets; i++) {
        topic_t *t, *next;

        for (t = ps->buckets[i]; t != NULL; t = next) {
            next = t->next;
            t->next = b[t->hash % n];
            b[t->hash % n] = t;
        }
    }
    wsr__free(ps->buckets);
    ps->buckets = b;
    ps->nbuckets = n;
}

static bool has_id(const topic_t *t, uint64_t id)
{
    for (size_t i = 0; i < t->nids; i++)
        if (t->ids[i] == id)
            return true;
    return false;
}

/* How many topics `id` is subscribed to (a scan: only on subscribe). */
static size_t count_for(const wsr__pubsub_t *ps, uint64_t id)
{
    size_t n = 0;

    for (size_t i = 0; i < ps->nbuckets; i++)
        for (const topic_t *t = ps->buckets[i]; t != NULL; t = t->next)
            n += has_id(t, id);
    return n;
}

static int add_locked(wsr__pubsub_t *ps, const char *name, uint64_t id)
{
    uint64_t h = fnv1a(name);
    topic_t **link, *t = find(ps, name, h, &link);
    size_t len = strlen(name);

    if (t != NULL && has_id(t, id))
        return 0;
    if (ps->max_per_conn != 0 && count_for(ps, id) >= ps->max_per_conn)
        return WSR_EBUSY;
    if (t == NULL) {
        t = wsr__calloc(1, sizeof(*t) + len + 1);
        if (t == NULL)
            return WSR_ENOMEM;
        memcpy(t->name, name, len + 1);
        t->hash = h;
        *link = t;
        ps->ntopics++;
    }
    if (t->nids == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        uint64_t *ids = wsr__realloc(t->ids, cap * sizeof(*ids));

        if (ids == NULL)
            return WSR_ENOMEM; /* an empty new topic stays; harmless */
        t->ids = ids;
        t->cap = cap;
    }
    t->ids[t->nids++] = id;
    ps->nsubs++;
    maybe_grow(ps);
    return 0;
}

int wsr__pubsub_subscribe(wsr__pubsub_t *ps, const char *topic, uint64_t id)
{
    int rc;

    pthread_mutex_lock(&ps->lock);
    rc = add_locked(ps, topic, id);
    pthread_mutex_unlock(&ps->lock);
    return rc;
}

/* Removes `id` from topic `t`; frees the topic when it empties. */
static bool remove_from(wsr__pubsub_t *ps, topic_t **link, uint64_t id)
{
    topic_t *t = *link;

    for (size_t i = 0; i < t->nids; i++) {
        if (t->ids[i] != id)
            continue;
        t->ids[i] = t->ids[--t->nids];
        ps->nsubs--;
        if (t->nids == 0) {
            *link = t->next;
            wsr__free(t->ids);
            wsr__free(t);
            ps->ntopics--;
        }
        return true;
    }
    return false;
}

int wsr__pubsub_unsubscribe(wsr__pubsub_t *ps, const char *topic, uint64_t id)
{
    topic_t **link;
    bool removed = false;

    pthread_mutex_lock(&ps->lock);
    if (find(ps, topic, fnv1a(topic), &link) != NULL)
        removed = remove_from(ps, link, id);
    pthread_mutex_unlock(&ps->lock);
    return removed ? 0 : WSR_ENOENT;
}

void wsr__pubsub_drop_conn(wsr__pubsub_t *ps, uint64_t id)
{
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; ps->nsubs > 0 && i < ps->nbuckets; i++) {
        topic_t **link = &ps->buckets[i];

        while (*link != NULL) {
            topic_t *t = *link;
            bool last = t->nids == 1 && t->ids[0] == id;

            /* Removing the last subscriber frees t and relinks *link. */
            if (remove_from(ps, link, id) && last)
                continue;
            link = &t->next;
        }
    }
    pthread_mutex_unlock(&ps->lock);
}

/* Copies the subscribers of `topic` (new array, wsr__free) into *ids. */
static size_t subscribers(wsr__pubsub_t *ps, const char *topic, uint64_t **ids)
{
    topic_t *t;
    size_t n = 0;

    *ids = NULL;
    pthread_mutex_lock(&ps->lock);
    t = find(ps, topic, fnv1a(topic), NULL);
    if (t != NULL && (*ids = wsr__malloc(t->nids * sizeof(**ids))) != NULL) {
        memcpy(*ids, t->ids, t->nids * sizeof(**ids));
        n = t->nids;
    }
    pthread_mutex_unlock(&ps->lock);
    return n;
}

int wsr__pubsub_publish(wsr_factory_t *f, const char *topic, const char *event_name, json_t *data,
                        size_t *delivered)
{
    wsr__buf_t b, scratch;
    uint64_t *ids;
    size_t n, sent = 0;
    int rc;

    *delivered = 0;
    n = subscribers(f->pubsub, topic, &ids);
    if (n == 0)
        return 0;
    wsr__buf_init(&b, 0, 0);
    wsr__buf_init(&scratch, 0, 0);
    rc = wsr__codec_encode_push(&b, event_name, topic, data, WSR_FORMAT_JSON, &scratch);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        wsr__buf_t one;
        wsr__msg_t *m;

        wsr__buf_init(&one, WSR__MSG_HEAD, 0);
        if (wsr__buf_append(&one, b.data, b.len) != 0 || (m = wsr__msg_take(&one, false)) == NULL) {
            wsr__buf_dispose(&one);
            rc = WSR_ENOMEM;
            break;
        }
        m->conn_id = ids[i];
        m->json_push = 1;
        sent += wsr__factory_post(f, m) == 0;
    }
    wsr__buf_dispose(&b);
    wsr__buf_dispose(&scratch);
    wsr__free(ids);
    *delivered = sent;
    return rc;
}

int wsr_publish(wsr_factory_t *f, const char *topic, json_t *data)
{
    size_t delivered;

    if (f == NULL || f->pubsub == NULL || topic == NULL)
        return WSR_EINVAL;
    return wsr__pubsub_publish(f, topic, "publish", data, &delivered);
}

/* ---- the routes: /_/subscribe, /_/unsubscribe, /_/publish ---- */

static int check_topic(wsr_request_t *req, wsr_response_t *res, const char **topic)
{
    *topic = wsr_request_arg_string(req, "topic");
    if (req->factory == NULL || req->factory->pubsub == NULL || req->conn_id == 0) {
        (void)wsr_response_error(res, 503, "subscriptions need a connection to a server");
        return 1;
    }
    if ((*topic)[0] == '\0' || strlen(*topic) > WSR__TOPIC_MAX) {
        (void)wsr_response_param_error(res, "topic", "must be 1 to %d bytes", WSR__TOPIC_MAX);
        return 1;
    }
    return 0;
}

static int on_subscribe(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const char *topic;
    int rc;

    (void)user;
    if (check_topic(req, res, &topic))
        return 0;
    rc = wsr__pubsub_subscribe(req->factory->pubsub, topic, req->conn_id);
    if (rc == WSR_EBUSY)
        return wsr_response_error(res, 429,
                                  "too many subscriptions on this connection (at most "
                                  "%zu)",
                                  req->factory->pubsub->max_per_conn);
    if (rc != 0)
        return rc;
    return wsr_response_set_data_take(res, json_pack("{s:s}", "subscribed", topic));
}

static int on_unsubscribe(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const char *topic;

    (void)user;
    if (check_topic(req, res, &topic))
        return 0;
    if (wsr__pubsub_unsubscribe(req->factory->pubsub, topic, req->conn_id) != 0)
        return wsr_response_error(res, 404, "not subscribed to %.200s", topic);
    return wsr_response_set_data_take(res, json_pack("{s:s}", "unsubscribed", topic));
}

static int on_publish(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const char *topic;
    size_t delivered;
    int rc;

    (void)user;
    if (check_topic(req, res, &topic))
        return 0;
    rc = wsr__pubsub_publish(req->factory, topic, "publish", wsr_request_data(req), &delivered);
    if (rc != 0)
        return rc;
    return wsr_response_set_data_take(res, json_pack("{s:I}", "delivered", (json_int_t)delivered));
}

#define TOPIC_PARAM                                                                                \
    {                                                                                              \
        "topic", WSR_TYPE_STRING, true, NULL, "the topic's name"                                   \
    }

static const wsr_route_t pubsub_routes[] = {
    {"subscribe", WSR_POST, "/_/subscribe", on_subscribe, WSR_PARAMS(TOPIC_PARAM), 0, NULL,
     "Receive every publication on the topic as {event_name:publish, topic, data}.", 0},
    {"unsubscribe", WSR_POST, "/_/unsubscribe", on_unsubscribe, WSR_PARAMS(TOPIC_PARAM), 0, NULL,
     "Stop receiving the topic's publications.", 0},
    {"publish", WSR_POST, "/_/publish", on_publish, WSR_PARAMS(TOPIC_PARAM), 0, NULL,
     "Send data to every subscriber of the topic; answers {delivered: N}.", 0},
    WSR_ROUTES_END,
};

int wsr__pubsub_add_routes(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, pubsub_routes, NULL, err);
}
