/* SPDX-License-Identifier: MIT */
/*
 * Subscriptions (PROTOCOL.md section 5): which connections listen to which
 * topic, and publication to all of them. One registry per factory, behind a
 * mutex because handlers on every event loop subscribe and publish. A
 * publication is encoded once and a copy is posted to each subscriber's loop,
 * which re-encodes it for connections that speak base64. The registry itself
 * (topics and their subscriber ids) lives in topics.c; this file never touches
 * a connection.
 */
#include "services/pubsub_int.h"

#include <string.h>

#include "core/codec_int.h"
#include "core/router_int.h"
#include "services/topics_int.h"

struct wsr__pubsub {
    wsr__topics_t *topics; /* owned: who subscribes to what */
};

wsr__pubsub_t *wsr__pubsub_new(size_t max_per_conn)
{
    wsr__pubsub_t *ps = wsr__calloc(1, sizeof(*ps));

    if (ps == NULL)
        return NULL;
    ps->topics = wsr__topics_new(max_per_conn);
    if (ps->topics == NULL) {
        wsr__free(ps);
        return NULL;
    }
    return ps;
}

void wsr__pubsub_free(wsr__pubsub_t *ps)
{
    if (ps == NULL)
        return;
    wsr__topics_free(ps->topics);
    wsr__free(ps);
}

int wsr__pubsub_subscribe(wsr__pubsub_t *ps, const char *topic, uint64_t id)
{
    return wsr__topics_subscribe(ps->topics, topic, id);
}

int wsr__pubsub_unsubscribe(wsr__pubsub_t *ps, const char *topic, uint64_t id)
{
    return wsr__topics_unsubscribe(ps->topics, topic, id);
}

void wsr__pubsub_drop_conn(wsr__pubsub_t *ps, uint64_t id)
{
    wsr__topics_drop_conn(ps->topics, id);
}

/* Copies the subscribers of `topic` (new array, wsr__free) into *ids. */
static size_t subscribers(wsr__pubsub_t *ps, const char *topic, uint64_t **ids)
{
    return wsr__topics_subscribers(ps->topics, topic, ids);
}

int wsr__pubsub_publish(wsr_factory_t *f, const char *topic, const char *event_name, json_t *data,
                        size_t *delivered)
{
    wsr__buf_t b, scratch;
    uint64_t *ids;
    size_t n, sent = 0;
    int rc;

    *delivered = 0;
    if (f->transport.push == NULL)
        return 0; /* no server: nobody can be subscribed */
    n = subscribers(f->pubsub, topic, &ids);
    if (n == 0)
        return 0;
    wsr__buf_init(&b, 0, 0);
    wsr__buf_init(&scratch, 0, 0);
    rc = wsr__codec_encode_push(&b, event_name, topic, data, WSR_FORMAT_JSON, &scratch);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int one = f->transport.push(f->transport.ctx, ids[i], b.data, b.len);

        if (one == WSR_ENOMEM)
            rc = one;
        sent += one == 0;
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
                                  wsr__topics_max_per_conn(req->factory->pubsub->topics));
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
        .name = "topic", .type = WSR_TYPE_STRING, .required = true, .doc = "the topic's name"      \
    }

static const wsr_route_t pubsub_routes[] = {
    {.name = "subscribe",
     .methods = WSR_POST,
     .url = "/_/subscribe",
     .handler = on_subscribe,
     .params = WSR_PARAMS(TOPIC_PARAM),
     .doc = "Receive every publication on the topic as {event_name:publish, topic, data}."},
    {.name = "unsubscribe",
     .methods = WSR_POST,
     .url = "/_/unsubscribe",
     .handler = on_unsubscribe,
     .params = WSR_PARAMS(TOPIC_PARAM),
     .doc = "Stop receiving the topic's publications."},
    {.name = "publish",
     .methods = WSR_POST,
     .url = "/_/publish",
     .handler = on_publish,
     .params = WSR_PARAMS(TOPIC_PARAM),
     .doc = "Send data to every subscriber of the topic; answers {delivered: N}."},
    WSR_ROUTES_END,
};

int wsr__pubsub_add_routes(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, pubsub_routes, NULL, err);
}
