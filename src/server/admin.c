/* SPDX-License-Identifier: MIT */
/*
 * The admin requests behind the demo page's admin view (see admin_int.h):
 * `admin_connections` lists this node's live connections (address, user,
 * transport, subscriptions, bytes), `admin_topics` this node's topics with
 * their subscriber counts, `admin_disconnect` closes one connection by id
 * (1008, "disconnected by an administrator"). Each needs the admin role.
 *
 * Only a loop's own thread may read or close its connections (ARCHITECTURE
 * "Only the event loop touches a connection"), and the handler runs on the
 * loop of the connection that asked. So a request defers its reply and posts
 * a WSR__MSG_ADMIN note, carrying a pointer to one shared `gather`, to every
 * loop it needs; each loop adds what it holds under the gather's lock, and
 * the last one completes the reply. A note is always either refused at
 * posting (the loop is gone: counted as done there) or handled, even by a
 * loop that is finishing (wsr__loop_finish drains its inbox), so the gather
 * is freed exactly once, by whoever brings `pending` to zero. This file never
 * keeps a connection pointer beyond one note's handling.
 */
#include "server/admin_int.h"

#include <pthread.h>
#include <string.h>

#include "server/conn_int.h"
#include "server/server_int.h"
#include "services/engine_int.h"
#include "services/pubsub_int.h"
#include "services/topics_int.h"

#define LIST_DEFAULT 500
#define LIST_MAX     10000

/* One admin request in flight across the loops. */
typedef struct gather {
    pthread_mutex_t lock;
    unsigned pending;   /* notes not handled yet; under lock */
    wsr_reply_t *reply; /* owned: completed by the last note */
    wsr_factory_t *f;   /* borrowed: the server's */
    json_t *list;       /* owned: the connections found (admin_connections) */
    size_t max;         /* list at most this many */
    size_t total;       /* connections seen, listed or not */
    uint64_t target;    /* admin_disconnect: the id to close; 0 for a listing */
    bool found;         /* admin_disconnect: it was open and is closing now */
    int64_t now_ms;     /* wall clock at the request, for ages */
    uint64_t self;      /* the connection that asked (marked "self": true) */
} gather_t;

static void gather_free(gather_t *g)
{
    pthread_mutex_destroy(&g->lock);
    json_decref(g->list);
    wsr__free(g);
}

/* The answer, once every loop has had its say. */
static void gather_complete(gather_t *g)
{
    if (g->target != 0) {
        if (g->found)
            (void)wsr_reply_complete_take(
                g->reply, 200,
                json_pack("{s:I,s:i}", "disconnected", (json_int_t)g->target, "code", 1008));
        else
            (void)wsr_reply_error(g->reply, 404, "no open connection with id %llu on this node",
                                  (unsigned long long)g->target);
    } else {
        json_t *data = json_pack("{s:O,s:I,s:b}", "connections", g->list, "total",
                                 (json_int_t)g->total, "truncated", g->total > g->max);

        (void)wsr_reply_complete_take(g->reply, 200, data);
    }
    g->reply = NULL;
    gather_free(g);
}

/* One loop is done with `g` (or never will be): the last one answers. */
static void gather_done(gather_t *g)
{
    unsigned left;

    pthread_mutex_lock(&g->lock);
    left = --g->pending;
    pthread_mutex_unlock(&g->lock);
    if (left == 0)
        gather_complete(g);
}

/* "websocket", "ndjson", "resp", "tcpy", "text", or "raw" before a raw
 * connection's first byte told its framing. */
static const char *transport_of(const wsr__conn_t *c)
{
    if (!c->raw)
        return wsr__stats_transport_name(0);
    return c->framing != 0 ? wsr__stats_transport_name(c->framing) : "raw";
}

/* The topics `id` subscribes to on this node, as a new array (NULL: memory). */
static json_t *subscriptions_of(wsr_factory_t *f, uint64_t id)
{
    char **names = NULL;
    size_t n = wsr__topics_conn_topics(wsr__pubsub_topics(f->pubsub), id, &names);
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++) {
        if (arr != NULL && json_array_append_new(arr, json_string(names[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
        wsr__free(names[i]);
    }
    wsr__free(names);
    return arr;
}

/* One connection as the admin view shows it (new object, NULL: memory). */
static json_t *describe_conn(const wsr__conn_t *c, wsr_factory_t *f, int64_t now_ms)
{
    const char *user = c->session != NULL ? wsr__session_user(c->session) : NULL;
    int64_t age = now_ms > c->connected_ms ? now_ms - c->connected_ms : 0;
    json_t *subs = f->pubsub != NULL ? subscriptions_of(f, c->id) : json_array();

    if (subs == NULL)
        return NULL;
    return json_pack("{s:I,s:s,s:o,s:s,s:b,s:s,s:o,s:I,s:I,s:I}", "id", (json_int_t)c->id,
                     "address", c->peer, "user", user != NULL ? json_string(user) : json_null(),
                     "transport", transport_of(c), "tls", c->wsi != NULL && lws_is_ssl(c->wsi),
                     "protocol",
                     c->raw       ? "raw"
                     : c->jsonrpc ? "jsonrpc2.0"
                                  : "wsrouter.v1",
                     "subscriptions", subs, "bytes_in", (json_int_t)c->bytes_in, "bytes_out",
                     (json_int_t)c->bytes_out, "connected_s", (json_int_t)(age / 1000));
}

/* Loop thread: adds the loop's open connections to the listing. */
static void list_loop(wsr__loop_t *loop, gather_t *g)
{
    for (uint32_t i = 0; i < loop->nslots; i++) {
        const wsr__conn_t *c = loop->slots[i].conn;
        json_t *o;
        bool room;

        if (c == NULL || c->close_code != 0)
            continue;
        pthread_mutex_lock(&g->lock);
        g->total++;
        room = json_array_size(g->list) < g->max;
        pthread_mutex_unlock(&g->lock);
        /* Described outside the lock: other loops add theirs meanwhile. */
        o = room ? describe_conn(c, g->f, g->now_ms) : NULL;
        pthread_mutex_lock(&g->lock);
        /* Room is checked again: another loop may have filled the list
         * while this one described its connection (limit 1 gave 2). */
        if (o != NULL && json_array_size(g->list) >= g->max) {
            json_decref(o);
            o = NULL;
        }
        if (o != NULL && c->id == g->self)
            (void)json_object_set_new(o, "self", json_true());
        if (o != NULL && json_array_append_new(g->list, o) != 0)
            g->total--; /* out of memory: this one is not reported */
        pthread_mutex_unlock(&g->lock);
    }
}

void wsr__admin_arrived(wsr__loop_t *loop, wsr__msg_t *m)
{
    gather_t *g;

    memcpy(&g, wsr__msg_payload(m), sizeof(g));
    wsr__msg_free(m);
    if (g->target != 0) {
        wsr__conn_t *c = wsr__loop_conn(loop, g->target);

        if (c != NULL && c->close_code == 0) {
            wsr__conn_close_because(c, 1008, "disconnected by an administrator");
            g->found = true; /* only the target's loop gets this note */
        }
    } else {
        list_loop(loop, g);
    }
    gather_done(g);
}

/* Posts g's note to `loop`; a loop that is gone counts as done. */
static void post_note(wsr__loop_t *loop, gather_t *g)
{
    wsr__msg_t *m = wsr__msg_copy(&g, sizeof(g), false);

    if (m == NULL) {
        gather_done(g);
        return;
    }
    m->kind = WSR__MSG_ADMIN;
    if (wsr__inbox_post(loop->inbox, m) != 0)
        gather_done(g);
}

/* A new gather holding the deferred reply of `res`, or NULL (then `res`
 * holds the error). */
static gather_t *gather_new(wsr_server_t *srv, wsr_response_t *res, unsigned pending)
{
    gather_t *g = wsr__calloc(1, sizeof(*g));

    if (g == NULL || (g->list = json_array()) == NULL) {
        wsr__free(g);
        (void)wsr_response_error(res, 500, "out of memory");
        return NULL;
    }
    g->reply = wsr_response_defer(res);
    if (g->reply == NULL) {
        json_decref(g->list);
        wsr__free(g);
        (void)wsr_response_error(res, 503, "the admin requests need a running server");
        return NULL;
    }
    pthread_mutex_init(&g->lock, NULL);
    g->pending = pending;
    g->f = srv->factory;
    g->now_ms = wsr__wall_ms();
    return g;
}

/* The `limit` parameter, or -1 after a 422. */
static int64_t limit_of(wsr_request_t *req, wsr_response_t *res)
{
    int64_t limit = wsr_request_arg_int(req, "limit", LIST_DEFAULT);

    if (limit < 1 || limit > LIST_MAX) {
        (void)wsr_response_param_error(res, "limit", "must be from 1 to %d", LIST_MAX);
        return -1;
    }
    return limit;
}

static int on_connections(wsr_request_t *req, wsr_response_t *res, void *user)
{
    wsr_server_t *srv = user;
    int64_t limit = limit_of(req, res);
    gather_t *g;

    if (limit < 0)
        return 0;
    if (srv->loops == NULL || srv->nloops == 0)
        return wsr_response_error(res, 503, "the admin requests need a running server");
    g = gather_new(srv, res, srv->nloops);
    if (g == NULL)
        return 0;
    g->max = (size_t)limit;
    g->self = wsr_request_connection_id(req);
    /* Every note is counted in `pending` before the first is posted: a fast
     * loop cannot bring it to zero while the others are still to come. */
    for (unsigned i = 0; i < srv->nloops; i++)
        post_note(&srv->loops[i], g);
    return 0;
}

static int on_disconnect(wsr_request_t *req, wsr_response_t *res, void *user)
{
    wsr_server_t *srv = user;
    int64_t id = wsr_request_arg_int(req, "id", 0);
    unsigned li = WSR__ID_LOOP((uint64_t)id);
    gather_t *g;

    if (id <= 0)
        return wsr_response_param_error(res, "id", "must be a connection id (a positive integer)");
    /* Another node's connection, or an id no loop of ours ever gave. */
    if (srv->loops == NULL || li >= srv->nloops || WSR__ID_GEN((uint64_t)id) == 0 ||
        WSR__CONN_NODE((uint64_t)id) != atomic_load(&srv->node_id))
        return wsr_response_error(res, 404, "no open connection with id %lld on this node",
                                  (long long)id);
    g = gather_new(srv, res, 1);
    if (g == NULL)
        return 0;
    g->target = (uint64_t)id;
    post_note(&srv->loops[li], g);
    return 0;
}

static int on_topics(wsr_request_t *req, wsr_response_t *res, void *user)
{
    wsr_server_t *srv = user;
    int64_t limit = limit_of(req, res);
    json_t *topics;
    size_t total;

    if (limit < 0)
        return 0;
    if (srv->factory->pubsub == NULL)
        return wsr_response_error(res, 404, "publish/subscribe is switched off on this server");
    topics = json_object();
    if (topics == NULL)
        return WSR_ENOMEM;
    total = wsr__topics_list(wsr__pubsub_topics(srv->factory->pubsub), topics, (size_t)limit);
    return wsr_response_set_data_take(res, json_pack("{s:o,s:I,s:b}", "topics", topics, "total",
                                                     (json_int_t)total, "truncated",
                                                     total > json_object_size(topics)));
}

/* The listings' bound (limit_of checks it: 1 to LIST_MAX). */
#define LIMIT_PARAM                                                                                \
    {                                                                                              \
        .name = "limit", .type = WSR_TYPE_INT, .def = "500",                                       \
        .doc = "list at most this many (1 to 10000)"                                               \
    }

static const wsr_route_t admin_routes[] = {
    {.name = "admin_connections",
     .methods = WSR_GET,
     .url = "/_/admin/connections",
     .handler = on_connections,
     .flags = WSR_ROUTE_AUTH,
     .role = "admin",
     .params = WSR_PARAMS(LIMIT_PARAM),
     .doc = "This node's live connections: id, address, user, transport, subscriptions, bytes."},
    {.name = "admin_topics",
     .methods = WSR_GET,
     .url = "/_/admin/topics",
     .handler = on_topics,
     .flags = WSR_ROUTE_AUTH,
     .role = "admin",
     .params = WSR_PARAMS(LIMIT_PARAM),
     .doc = "This node's topics and how many of its connections subscribe to each."},
    {.name = "admin_disconnect",
     .methods = WSR_POST,
     .url = "/_/admin/disconnect",
     .handler = on_disconnect,
     .flags = WSR_ROUTE_AUTH,
     .role = "admin",
     .params = WSR_PARAMS({.name = "id",
                           .type = WSR_TYPE_INT,
                           .required = true,
                           .doc = "the connection's id, as admin_connections gives it"}),
     .doc = "Closes one connection of this node (close code 1008)."},
    WSR_ROUTES_END,
};

int wsr__admin_add_routes(wsr_router_t *router, wsr_server_t *srv, wsr_error_t *err)
{
    return wsr_router_add(router, admin_routes, srv, err);
}
