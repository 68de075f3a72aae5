/* SPDX-License-Identifier: MIT */
/*
 * retopy's counters in wsrouter's terms: increment, decrement, get, set, rem
 * (and list). Every operation is atomic; a missing counter is 0 for
 * increment and decrement and a 404 naming the key for get. Counters live in
 * the factory's store when the server has one (so they survive a restart, and
 * a 200 means the change is on disk), and in memory otherwise (wsr_router_call
 * in unit tests). Store writes wait for the disk, so the routes are blocking:
 * they run on worker threads. Every change is published on the topic
 * "counters" as {"key", "value"} (value null once removed), in order.
 */
#include "routes.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_COUNTERS 100000
#define MAX_KEY_LEN  200
#define TOPIC        "counters"
#define PREFIX       "counters:"

typedef struct counters {
    /* Held across a change and its publication, so subscribers see the
     * changes in the order they happened. */
    pthread_mutex_t lock;
    json_t *map; /* owned: the in-memory counters, key -> integer */
} counters_t;

/* Tells subscribers of "counters" about a change. Called under the lock. */
static void announce(wsr_request_t *req, const char *key, json_t *value)
{
    json_t *msg = json_pack("{s:s, s:o}", "key", key, "value", value ? value : json_null());

    /* Best effort: a failed publication must not fail the change itself. */
    if (msg != NULL)
        (void)wsr_publish(wsr_request_factory(req), TOPIC, msg);
    json_decref(msg);
}

static wsr_store_t *store_of(wsr_request_t *req)
{
    return wsr_factory_store(wsr_request_factory(req));
}

static void store_key(char *out, size_t size, const char *key)
{
    snprintf(out, size, PREFIX "%s", key);
}

/* The change itself, in the store or in memory. Returns 0, WSR_EOVERFLOW,
 * WSR_EBUSY (too many counters), WSR_EINVAL (not an integer) or an I/O error. */
static int apply(counters_t *c, wsr_store_t *st, const char *key, int64_t delta, bool set,
                 int64_t *v)
{
    char skey[sizeof(PREFIX) + MAX_KEY_LEN];
    json_t *old;
    int rc;

    if (st != NULL) {
        store_key(skey, sizeof(skey), key);
        if (!set)
            return wsr_store_increment(st, skey, delta, v);
        old = json_integer(*v);
        rc = old ? wsr_store_put(st, skey, old) : WSR_ENOMEM;
        json_decref(old);
        return rc;
    }
    old = json_object_get(c->map, key);
    if (old == NULL && json_object_size(c->map) >= MAX_COUNTERS)
        return WSR_EBUSY;
    if (!set && __builtin_add_overflow((int64_t)json_integer_value(old), delta, v))
        return WSR_EOVERFLOW;
    return json_object_set_new(c->map, key, json_integer(*v)) ? WSR_ENOMEM : 0;
}

/* Adds `delta` to counter `key` (created at 0) or sets it when `set`. */
static int update(counters_t *c, wsr_request_t *req, wsr_response_t *res, int64_t delta, bool set)
{
    const char *key = wsr_request_arg_string(req, "key");
    int64_t v = set ? wsr_request_arg_int(req, "value", 0) : 0;
    int rc;

    if (strlen(key) > MAX_KEY_LEN)
        return wsr_response_param_error(res, "key", "must be at most %d bytes", MAX_KEY_LEN);
    pthread_mutex_lock(&c->lock);
    rc = apply(c, store_of(req), key, delta, set, &v);
    if (rc == 0) {
        announce(req, key, json_integer(v));
        rc = wsr_response_set_data_take(res, json_integer(v));
    } else if (rc == WSR_EOVERFLOW) {
        /* A 422 carries `errors` (PROTOCOL.md section 4). */
        rc = wsr_response_param_error(res, "key", "counter %s would overflow", key);
    } else if (rc == WSR_EBUSY) {
        rc =
            wsr_response_error(res, 503, "too many counters (%d): remove some first", MAX_COUNTERS);
    } else if (rc == WSR_EINVAL) {
        rc = wsr_response_param_error(res, "key", "%s does not hold an integer", key);
    } else if (rc == WSR_EIO) {
        rc = wsr_response_error(res, 500, "cannot write counter %s to the store", key);
    }
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
    char skey[sizeof(PREFIX) + MAX_KEY_LEN];
    wsr_store_t *st = store_of(req);
    json_t *v;
    int rc;

    if (strlen(key) > MAX_KEY_LEN)
        return wsr_response_error(res, 404, "counter %.200s not found", key);
    pthread_mutex_lock(&c->lock);
    if (st != NULL) {
        store_key(skey, sizeof(skey), key);
        rc = wsr_store_get(st, skey, &v);
    } else {
        v = json_incref(json_object_get(c->map, key));
        rc = v ? 0 : WSR_ENOENT;
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == WSR_ENOENT)
        return wsr_response_error(res, 404, "counter %.200s not found", key);
    if (rc == WSR_EIO)
        return wsr_response_error(res, 500, "cannot read counter %.200s from the store", key);
    if (rc != 0)
        return rc;
    return wsr_response_set_data_take(res, v);
}

static int on_rem(wsr_request_t *req, wsr_response_t *res, void *user)
{
    counters_t *c = user;
    const char *key = wsr_request_arg_string(req, "key");
    char skey[sizeof(PREFIX) + MAX_KEY_LEN];
    wsr_store_t *st = store_of(req);
    int rc;

    if (strlen(key) > MAX_KEY_LEN)
        return wsr_response_set_data_take(res, json_null()); /* cannot exist: ignored */
    pthread_mutex_lock(&c->lock);
    if (st != NULL) {
        store_key(skey, sizeof(skey), key);
        rc = wsr_store_delete(st, skey);
    } else {
        rc = json_object_del(c->map, key) == 0 ? 0 : WSR_ENOENT;
    }
    if (rc == 0)
        announce(req, key, NULL);
    pthread_mutex_unlock(&c->lock);
    /* retopy: a missing key is ignored. */
    if (rc == WSR_EIO)
        return wsr_response_error(res, 500, "cannot remove counter %s from the store", key);
    return rc == 0 || rc == WSR_ENOENT ? wsr_response_set_data_take(res, json_null()) : rc;
}

static int on_list(wsr_request_t *req, wsr_response_t *res, void *user)
{
    counters_t *c = user;
    wsr_store_t *st = store_of(req);
    json_t *all, *out, *v;
    const char *key;
    int rc;

    pthread_mutex_lock(&c->lock);
    if (st != NULL) {
        rc = wsr_store_list(st, PREFIX, MAX_COUNTERS, &all);
    } else {
        all = json_copy(c->map);
        rc = all ? 0 : WSR_ENOMEM;
    }
    pthread_mutex_unlock(&c->lock);
    /* Never an empty or partial list for a store that cannot be read: it
     * looked like counters had been lost. */
    if (rc == WSR_EIO)
        return wsr_response_error(res, 500, "cannot read the counters from the store");
    if (rc != 0)
        return rc;
    if (st == NULL)
        return wsr_response_set_data_take(res, all);
    out = json_object();
    json_object_foreach(all, key, v)
    {
        if (out != NULL && json_object_set(out, key + strlen(PREFIX), v) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    json_decref(all);
    return wsr_response_set_data_take(res, out);
}

#define KEY_PARAM                                                                                  \
    {                                                                                              \
        .name = "key", .type = WSR_TYPE_STRING, .required = true, .doc = "the counter's name"      \
    }
#define STORED WSR_ROUTE_BLOCKING /* the store waits for the disk */

static const wsr_route_t counter_routes[] = {
    {.name = "increment",
     .methods = WSR_POST,
     .url = "/counters/{key}/increment",
     .handler = on_increment,
     .params = WSR_PARAMS(KEY_PARAM),
     .flags = STORED,
     .doc = "Add one to the counter at key (created at 0) and answer its value."},
    {.name = "decrement",
     .methods = WSR_POST,
     .url = "/counters/{key}/decrement",
     .handler = on_decrement,
     .params = WSR_PARAMS(KEY_PARAM),
     .flags = STORED,
     .doc = "Subtract one from the counter at key (created at 0) and answer its value."},
    {.name = "get",
     .methods = WSR_GET,
     .url = "/counters/{key}",
     .handler = on_get,
     .params = WSR_PARAMS(KEY_PARAM),
     .flags = STORED,
     .doc = "Answer the counter's value; 404 when it does not exist."},
    {.name = "set",
     .methods = WSR_PUT | WSR_POST,
     .url = "/counters/{key}",
     .handler = on_set,
     .params = WSR_PARAMS(
         KEY_PARAM,
         {.name = "value", .type = WSR_TYPE_INT, .required = true, .doc = "the new value"}),
     .flags = STORED,
     .doc = "Set the counter to an integer value, overwriting it."},
    {.name = "rem",
     .methods = WSR_POST,
     .url = "/counters/{key}/rem",
     .handler = on_rem,
     .params = WSR_PARAMS(KEY_PARAM),
     .flags = STORED,
     .doc = "Remove the counter; a missing key is ignored."},
    {.name = "list",
     .methods = WSR_GET,
     .url = "/counters",
     .handler = on_list,
     .flags = STORED,
     .doc = "Answer every counter and its value."},
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
