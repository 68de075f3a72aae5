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
#include "services/engine_int.h"
#include "services/topics_int.h"

struct wsr__pubsub {
    wsr__topics_t *topics; /* owned: who subscribes to what, on this node */
    wsr__engine_t *engine; /* owned: memory, or Redis once the server starts */
};

wsr__pubsub_t *wsr__pubsub_new(wsr_factory_t *f)
{
    wsr__pubsub_t *ps = wsr__calloc(1, sizeof(*ps));

    if (ps == NULL)
        return NULL;
    f->pubsub = ps;
    ps->topics = wsr__topics_new(f->settings.max_subscriptions);
    ps->engine = ps->topics != NULL ? wsr__engine_memory_new(f) : NULL;
    if (ps->engine == NULL) {
        wsr__pubsub_free(ps);
        f->pubsub = NULL;
        return NULL;
    }
    return ps;
}

int wsr__pubsub_open_engine(wsr_factory_t *f, wsr_error_t *err)
{
    wsr__engine_t *e;

    if (f->settings.engine == NULL)
        return 0;
    e = wsr__engine_redis_new(f, err);
    if (e == NULL)
        return err != NULL && err->code != 0 ? err->code : WSR_ECONNECT;
    wsr__engine_free(f->pubsub->engine);
    f->pubsub->engine = e;
    return 0;
}

void wsr__pubsub_free(wsr__pubsub_t *ps)
{
    if (ps == NULL)
        return;
    wsr__engine_free(ps->engine); /* first: the Redis engine's thread uses the topics */
    wsr__topics_free(ps->topics);
    wsr__free(ps);
}

wsr__topics_t *wsr__pubsub_topics(wsr__pubsub_t *ps)
{
    return ps->topics;
}

wsr__engine_t *wsr__pubsub_engine(wsr__pubsub_t *ps)
{
    return ps->engine;
}

int wsr__pubsub_subscribe(wsr_factory_t *f, const char *topic, uint64_t id, const char *user,
                          const wsr__position_t *since, wsr__position_t *now, bool *recovered)
{
    wsr__engine_t *e = f->pubsub->engine;

    return e->ops->subscribe(e, topic, id, user, since, now, recovered);
}

int wsr__pubsub_unsubscribe(wsr__pubsub_t *ps, const char *topic, uint64_t id)
{
    return ps->engine->ops->unsubscribe(ps->engine, topic, id);
}

void wsr__pubsub_drop_conn(wsr__pubsub_t *ps, uint64_t id)
{
    ps->engine->ops->drop_conn(ps->engine, id);
}

int wsr__pubsub_publish(wsr_factory_t *f, const char *topic, const char *event_name, json_t *data,
                        size_t *delivered)
{
    wsr__engine_t *e = f->pubsub->engine;

    *delivered = 0;
    if (f->transport.push == NULL)
        return 0; /* no server: nobody can be subscribed */
    return e->ops->publish(e, topic, event_name, data, delivered);
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

/*
 * Reads args.since into *since; *given is false when it is absent or null.
 * Returns 1 after answering 400 when it has the wrong shape.
 */
static int read_since(wsr_request_t *req, wsr_response_t *res, wsr__position_t *since, bool *given)
{
    const json_t *v = wsr_request_arg(req, "since");
    const json_t *offset = json_object_get(v, "offset"), *epoch = json_object_get(v, "epoch");
    size_t len = json_string_length(epoch);

    *given = v != NULL && !json_is_null(v);
    if (!*given)
        return 0;
    if (!json_is_object(v)) {
        (void)wsr_response_error(res, 400,
                                 "since must be an object {\"offset\":N,\"epoch\":\"...\"}");
        return 1;
    }
    if (!json_is_integer(offset) || json_integer_value(offset) < 0) {
        (void)wsr_response_error(res, 400, "since.offset must be an integer from 0");
        return 1;
    }
    if (!json_is_string(epoch) || len < 1 || len > WSR__EPOCH_MAX ||
        strlen(json_string_value(epoch)) != len) {
        (void)wsr_response_error(res, 400, "since.epoch must be a string of 1 to %d bytes",
                                 WSR__EPOCH_MAX);
        return 1;
    }
    since->offset = (uint64_t)json_integer_value(offset);
    memcpy(since->epoch, json_string_value(epoch), len + 1);
    return 0;
}

static int on_subscribe(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const char *topic;
    wsr__position_t since, now;
    bool given, recovered;
    json_t *data;
    int rc;

    (void)user;
    if (check_topic(req, res, &topic) || read_since(req, res, &since, &given))
        return 0;
    rc = wsr__pubsub_subscribe(req->factory, topic, req->conn_id, wsr_request_user(req),
                               given ? &since : NULL, &now, &recovered);
    if (rc == WSR_ECONNECT)
        return wsr_response_error(res, 503, WSR__ENGINE_DOWN);
    if (rc == WSR_EBUSY)
        return wsr_response_error(res, 429,
                                  "too many subscriptions on this connection (at most "
                                  "%zu)",
                                  wsr__topics_max_per_conn(req->factory->pubsub->topics));
    if (rc != 0)
        return rc;
    /* The position lets a client resume later even if no publication
     * reaches it before a drop. */
    if (given)
        data = json_pack("{s:s,s:b,s:I,s:s}", "subscribed", topic, "recovered", recovered, "offset",
                         (json_int_t)now.offset, "epoch", now.epoch);
    else
        data = json_pack("{s:s,s:I,s:s}", "subscribed", topic, "offset", (json_int_t)now.offset,
                         "epoch", now.epoch);
    return wsr_response_set_data_take(res, data);
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
    if (rc == WSR_ECONNECT)
        return wsr_response_error(res, 503, WSR__ENGINE_DOWN);
    if (rc != 0)
        return rc;
    return wsr_response_set_data_take(res, json_pack("{s:I}", "delivered", (json_int_t)delivered));
}

static int on_presence(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const char *topic = wsr_request_arg_string(req, "topic");
    wsr__engine_t *e;
    json_t *data;
    int rc;

    (void)user;
    if (req->factory == NULL || req->factory->pubsub == NULL)
        return wsr_response_error(res, 503, "presence needs a server");
    if (topic[0] == '\0' || strlen(topic) > WSR__TOPIC_MAX)
        return wsr_response_param_error(res, "topic", "must be 1 to %d bytes", WSR__TOPIC_MAX);
    e = req->factory->pubsub->engine;
    rc = e->ops->presence(e, topic, &data);
    if (rc == WSR_ECONNECT)
        return wsr_response_error(res, 503, WSR__ENGINE_DOWN);
    if (rc != 0)
        return rc;
    return wsr_response_set_data_take(res, data);
}

#define TOPIC_PARAM                                                                                \
    {                                                                                              \
        .name = "topic", .type = WSR_TYPE_STRING, .required = true, .doc = "the topic's name"      \
    }

static const wsr_route_t pubsub_routes[] = {
    {.name = "subscribe",
     .methods = WSR_POST,
     .url = "/_/subscribe",
     .flags = WSR__ROUTE_ENGINE,
     .handler = on_subscribe,
     .params = WSR_PARAMS(TOPIC_PARAM, {.name = "since",
                                        .type = WSR_TYPE_ANY,
                                        .doc = "{offset, epoch} of the last publication "
                                               "received: replay what came after it"}),
     .doc = "Receive every publication on the topic as {event_name:publish, topic, offset, "
            "epoch, data}; answers {subscribed, offset, epoch} and, with since, recovered."},
    {.name = "unsubscribe",
     .methods = WSR_POST,
     .url = "/_/unsubscribe",
     .flags = WSR__ROUTE_ENGINE,
     .handler = on_unsubscribe,
     .params = WSR_PARAMS(TOPIC_PARAM),
     .doc = "Stop receiving the topic's publications."},
    {.name = "publish",
     .methods = WSR_POST,
     .url = "/_/publish",
     .flags = WSR__ROUTE_ENGINE,
     .handler = on_publish,
     .params = WSR_PARAMS(TOPIC_PARAM),
     .doc = "Send data to every subscriber of the topic; answers {delivered: N}."},
    {.name = "presence",
     .methods = WSR_GET,
     .url = "/_/presence",
     .flags = WSR__ROUTE_ENGINE,
     .handler = on_presence,
     .params = WSR_PARAMS(TOPIC_PARAM),
     .doc = "The topic's subscribers across the cluster: {topic, count, users} (users: the "
            "names of the authenticated ones)."},
    WSR_ROUTES_END,
};

int wsr__pubsub_add_routes(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, pubsub_routes, NULL, err);
}
