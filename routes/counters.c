/* SPDX-License-Identifier: MIT */
/*
 * retopy's counters in wsrouter's terms: increment, decrement, get, set, rem
 * (and list). Every operation is atomic; a missing counter is 0 for
 * increment and decrement and a 404 naming the key for get. The module keeps
 * its counters in memory behind a mutex, since handlers run on several loops.
 * Every change is published on the topic "counters" as {"key", "value"}
 * (value null once removed), so pages stay in step without polling.
 */
#include "routes.h"

#include <pthread.h>
#include <string.h>

#define MAX_COUNTERS 100000
#define MAX_KEY_LEN  200

#define TOPIC "counters"

typedef struct counters {
    pthread_mutex_t lock;
    json_t *map; /* owned: key -> integer */
} counters_t;

/* Tells subscribers of "counters" about a change. Called under the lock, so
 * publications reach every subscriber in the order the changes happened. */
static void announce(wsr_request_t *req, const char *key, json_t *value)
{
    json_t *msg = json_pack("{s:s, s:o}", "key", key, "value", value ? value : json_null());

    /* Best effort: a failed publication must not fail the change itself. */
    if (msg != NULL)
        (void)wsr_publish(wsr_request_factory(req), TOPIC, msg);
    json_decref(msg);
}

/* Adds `delta` to counter `key` (created at 0) or sets it when `set`. */
static int update(counters_t *c, wsr_request_t *req, wsr_response_t *res, json_int_t delta,
                  bool set)
{
    const char *key = wsr_request_arg_string(req, "key");
    json_int_t v = 0;
    json_t *old;
    int rc = 0;

    if (strlen(key) > MAX_KEY_LEN)
        return wsr_response_param_error(res, "key", "must be at most %d bytes", MAX_KEY_LEN);
    pthread_mutex_lock(&c->lock);
    old = json_object_get(c->map, key);
    if (old == NULL && json_object_size(c->map) >= MAX_COUNTERS) {
        rc =
            wsr_response_error(res, 503, "too many counters (%d): remove some first", MAX_COUNTERS);
        goto out;
    }
    if (set)
        v = (json_int_t)wsr_request_arg_int(req, "value", 0);
    else if (__builtin_add_overflow(json_integer_value(old), delta, &v)) {
        /* A 422 carries `errors` (PROTOCOL.md section 4). */
        rc = wsr_response_param_error(res, "key", "counter %s would overflow", key);
        goto out;
    }
    if (json_object_set_new(c->map, key, json_integer(v)) != 0) {
        rc = WSR_ENOMEM;
    } else {
        announce(req, key, json_integer(v));
        rc = wsr_response_set_data_take(res, json_integer(v));
    }
out:
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int on_increment(wsr_request_t *req, wsr_response_t *res, void *user)
{
    return update(user, req, res, 1, false);
}

static int on_decrement(wsr_request_t *req, wsr_response_t *res, void *user)
{
    return update(user, req, res, -1, false);
}

static int on_set(wsr_request_t *req, wsr_response_t *res, void *user)
{
    return update(user, req, res, 0, true);
}

static int on_get(wsr_request_t *req, wsr_response_t *res, void *user)
{
    counters_t *c = user;
    const char *key = wsr_request_arg_string(req, "key");
    json_t *v;
    json_int_t value = 0;

    pthread_mutex_lock(&c->lock);
    v = json_object_get(c->map, key);
    if (v != NULL)
        value = json_integer_value(v);
    pthread_mutex_unlock(&c->lock);
    if (v == NULL)
        return wsr_response_error(res, 404, "counter %.200s not found", key);
    return wsr_response_set_data_take(res, json_integer(value));
}

static int on_rem(wsr_request_t *req, wsr_response_t *res, void *user)
{
    counters_t *c = user;
    const char *key = wsr_request_arg_string(req, "key");

    pthread_mutex_lock(&c->lock);
    if (json_object_del(c->map, key) == 0)
        announce(req, key, NULL);
    pthread_mutex_unlock(&c->lock);
    return wsr_response_set_data_take(res, json_null());
}

static int on_list(wsr_request_t *req, wsr_response_t *res, void *user)
{
    counters_t *c = user;
    json_t *copy;

    (void)req;
    pthread_mutex_lock(&c->lock);
    copy = json_copy(c->map);
    pthread_mutex_unlock(&c->lock);
    return wsr_response_set_data_take(res, copy);
}

#define KEY_PARAM                                                                                  \
    {                                                                                              \
        "key", WSR_TYPE_STRING, true, NULL, "the counter's name"                                   \
    }

static const wsr_route_t counter_routes[] = {
    {"increment", WSR_POST, "/counters/{key}/increment", on_increment, WSR_PARAMS(KEY_PARAM), 0,
     NULL, "Add one to the counter at key (created at 0) and answer its value.", 0},
    {"decrement", WSR_POST, "/counters/{key}/decrement", on_decrement, WSR_PARAMS(KEY_PARAM), 0,
     NULL, "Subtract one from the counter at key (created at 0) and answer its value.", 0},
    {"get", WSR_GET, "/counters/{key}", on_get, WSR_PARAMS(KEY_PARAM), 0, NULL,
     "Answer the counter's value; 404 when it does not exist.", 0},
    {"set", WSR_PUT | WSR_POST, "/counters/{key}", on_set,
     WSR_PARAMS(KEY_PARAM, {"value", WSR_TYPE_INT, true, NULL, "the new value"}), 0, NULL,
     "Set the counter to an integer value, overwriting it.", 0},
    {"rem", WSR_POST, "/counters/{key}/rem", on_rem, WSR_PARAMS(KEY_PARAM), 0, NULL,
     "Remove the counter; a missing key is ignored.", 0},
    {"list", WSR_GET, "/counters", on_list, NULL, 0, NULL, "Answer every counter and its value.",
     0},
    WSR_ROUTES_END,
};

static void counters_free(void *user)
{
    counters_t *c = user;

    json_decref(c->map);
    pthread_mutex_destroy(&c->lock);
    wsr_free(c);
}

int wsr_routes_counters(wsr_router_t *router, wsr_error_t *err)
{
    counters_t *c = wsr_calloc(1, sizeof(*c));
    int rc;

    if (c == NULL || (c->map = json_object()) == NULL) {
        wsr_free(c);
        return WSR_ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    /* The router frees the state from now on, even if the table is refused. */
    rc = wsr_router_on_free(router, counters_free, c);
    if (rc != 0) {
        counters_free(c);
        return rc;
    }
    return wsr_router_add(router, counter_routes, c, err);
}
