/* SPDX-License-Identifier: MIT */
/*
 * Statistics blocks and their merged snapshot (see stats_int.h). Writers use
 * relaxed atomics; a snapshot is a consistent-enough sum, never a lock.
 */
#include "core/stats_int.h"

#include <stdio.h>

#include "core/router_int.h"

static const int status_codes[WSR__ST_COUNT] = {200, 201, 202, 400, 401, 403, 404, 405,
                                                408, 422, 429, 499, 500, 503, 0};
static const int close_codes[WSR__CL_COUNT] = {1000, 1001, 1002, 1006, 1007, 1008, 1009, 0};

wsr__stats_t *wsr__stats_new(size_t nroutes)
{
    wsr__stats_t *s = wsr__calloc(1, sizeof(*s) + nroutes * sizeof(wsr__route_stats_t));

    if (s != NULL)
        s->nroutes = nroutes;
    return s;
}

void wsr__stats_free(wsr__stats_t *s)
{
    wsr__free(s);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < WSR__ST_OTHER; i++)
        if (status_codes[i] == status)
            return i;
    return WSR__ST_OTHER;
}

static unsigned latency_bucket(uint64_t us)
{
    unsigned b = 0;

    while (us > 0 && b < WSR__LAT_BUCKETS - 1) {
        us >>= 1;
        b++;
    }
    return b;
}

void wsr__stats_request(wsr__stats_t *s, int status, size_t route_index, uint64_t elapsed_ns)
{
    wsr__route_stats_t *r;
    uint64_t us = elapsed_ns / 1000, max;
    size_t slot = status_slot(status);

    wsr__count(&s->requests, 1);
    wsr__count(&s->by_status[slot], 1);
    if (status == 408)
        wsr__count(&s->timeouts, 1);
    if (route_index >= s->nroutes)
        return;
    r = &s->routes[route_index];
    wsr__count(&r->count, 1);
    wsr__count(&r->by_status[slot], 1);
    if (status >= 400)
        wsr__count(&r->errors, 1);
    wsr__count(&r->total_us, us);
    wsr__count(&r->hist[latency_bucket(us)], 1);
    max = atomic_load_explicit(&r->max_us, memory_order_relaxed);
    while (us > max && !atomic_compare_exchange_weak_explicit(
                           &r->max_us, &max, us, memory_order_relaxed, memory_order_relaxed))
        ;
}

void wsr__stats_close(wsr__stats_t *s, int code)
{
    size_t i;

    for (i = 0; i < WSR__CL_OTHER; i++)
        if (close_codes[i] == code)
            break;
    wsr__count(&s->closes[i], 1);
}

static uint64_t sum(wsr__stats_t *const *blocks, size_t n, size_t offset)
{
    uint64_t total = 0;

    for (size_t i = 0; i < n; i++)
        total += atomic_load_explicit((wsr__counter_t *)((char *)blocks[i] + offset),
                                      memory_order_relaxed);
    return total;
}

#define SUM(field) sum(blocks, n, offsetof(wsr__stats_t, field))

/* The upper edge of the histogram bucket holding quantile q, in ms. */
static double quantile_ms(const uint64_t *hist, uint64_t count, double q)
{
    uint64_t seen = 0, want = (uint64_t)((double)count * q);

    if (count == 0)
        return 0.0;
    if (want >= count)
        want = count - 1;
    for (unsigned b = 0; b < WSR__LAT_BUCKETS; b++) {
        seen += hist[b];
        if (seen > want)
            return (double)(1ull << b) / 1000.0;
    }
    return (double)(1ull << (WSR__LAT_BUCKETS - 1)) / 1000.0;
}

static json_t *codes_snapshot(wsr__stats_t *const *blocks, size_t n, size_t base, const int *codes,
                              size_t ncodes);

static json_t *route_snapshot(wsr__stats_t *const *blocks, size_t n, size_t idx)
{
    uint64_t hist[WSR__LAT_BUCKETS] = {0}, count = 0, errors = 0, total = 0, max = 0;
    size_t at = offsetof(wsr__stats_t, routes) + idx * sizeof(wsr__route_stats_t);
    json_t *buckets = json_array();

    for (size_t i = 0; i < n; i++) {
        wsr__route_stats_t *r = &blocks[i]->routes[idx];
        uint64_t m = atomic_load_explicit(&r->max_us, memory_order_relaxed);

        count += atomic_load_explicit(&r->count, memory_order_relaxed);
        errors += atomic_load_explicit(&r->errors, memory_order_relaxed);
        total += atomic_load_explicit(&r->total_us, memory_order_relaxed);
        max = m > max ? m : max;
        for (unsigned b = 0; b < WSR__LAT_BUCKETS; b++)
            hist[b] += atomic_load_explicit(&r->hist[b], memory_order_relaxed);
    }
    for (unsigned b = 0; buckets != NULL && b < WSR__LAT_BUCKETS; b++)
        if (json_array_append_new(buckets, json_integer((json_int_t)hist[b])) != 0) {
            json_decref(buckets);
            buckets = NULL;
        }
    return json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:o, s:{s:I, s:o}}", "count",
                     (json_int_t)count, "errors", (json_int_t)errors, "mean_ms",
                     count ? (double)total / (double)count / 1000.0 : 0.0, "max_ms",
                     (double)max / 1000.0, "p50_ms", quantile_ms(hist, count, 0.5), "p99_ms",
                     quantile_ms(hist, count, 0.99), "by_status",
                     codes_snapshot(blocks, n, at + offsetof(wsr__route_stats_t, by_status),
                                    status_codes, WSR__ST_COUNT),
                     "latency_us", "sum", (json_int_t)total, "buckets", buckets);
}

static const char *const transport_names[WSR__TRANSPORTS] = {"websocket", "ndjson", "resp", "tcpy",
                                                             "text"};

const char *wsr__stats_transport_name(unsigned transport)
{
    return transport < WSR__TRANSPORTS ? transport_names[transport] : "?";
}

/* {"websocket": open, "ndjson": open, ...}: connections open by transport. */
static json_t *transports_snapshot(wsr__stats_t *const *blocks, size_t n)
{
    json_t *o = json_object();

    for (unsigned t = 0; o != NULL && t < WSR__TRANSPORTS; t++) {
        uint64_t opened = 0, closed = 0;

        for (size_t i = 0; i < n; i++) {
            opened += atomic_load_explicit(&blocks[i]->transport_opened[t], memory_order_relaxed);
            closed += atomic_load_explicit(&blocks[i]->transport_closed[t], memory_order_relaxed);
        }
        if (json_object_set_new(
                o, transport_names[t],
                json_integer((json_int_t)(opened > closed ? opened - closed : 0))) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/* The counts of `ncodes` counters from byte `base` of each block, by code
 * (the ones never counted left out). */
static json_t *codes_snapshot(wsr__stats_t *const *blocks, size_t n, size_t base, const int *codes,
                              size_t ncodes)
{
    json_t *o = json_object();
    char key[16];

    for (size_t i = 0; o != NULL && i < ncodes; i++) {
        uint64_t v = sum(blocks, n, base + i * sizeof(wsr__counter_t));

        if (v == 0)
            continue;
        snprintf(key, sizeof(key), "%d", codes[i]);
        if (json_object_set_new(o, codes[i] ? key : "other", json_integer((json_int_t)v))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* {route: refusals of its own rate limit} for every route that has one. */
static json_t *by_route_snapshot(wsr__stats_t *const *blocks, size_t n, const wsr_router_t *router)
{
    json_t *o = json_object();
    size_t nroutes = n ? blocks[0]->nroutes : 0;

    for (size_t i = 0; o != NULL && i < nroutes; i++) {
        const wsr__route_t *r = wsr__router_get(router, i);
        uint64_t v = 0;

        if (r == NULL || r->rate <= 0)
            continue;
        for (size_t b = 0; b < n; b++)
            v += atomic_load_explicit(&blocks[b]->routes[i].rate_limited, memory_order_relaxed);
        if (json_object_set_new(o, wsr__route_name(r), json_integer((json_int_t)v)) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

json_t *wsr__stats_snapshot(wsr__stats_t *const *blocks, size_t n, const wsr_router_t *router,
                            unsigned open, uint64_t uptime_ns)
{
    json_t *routes = json_object(), *o;
    size_t nroutes = n ? blocks[0]->nroutes : 0;

    for (size_t i = 0; routes != NULL && i < nroutes; i++) {
        const wsr__route_t *r = wsr__router_get(router, i);

        if (r != NULL &&
            json_object_set_new(routes, wsr__route_name(r), route_snapshot(blocks, n, i)) != 0) {
            json_decref(routes);
            routes = NULL;
        }
    }
    o = json_pack(
        "{s:f, s:{s:i, s:I, s:I, s:I}, s:{s:I, s:o, s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I},"
        " s:{s:I, s:I, s:I}, s:o, s:I, s:{s:I, s:I}, s:o}",
        "uptime_s", (double)uptime_ns / 1e9, "connections", "open", (int)open, "opened",
        (json_int_t)SUM(opened), "closed", (json_int_t)SUM(closed), "refused",
        (json_int_t)SUM(refused), "requests", "total", (json_int_t)SUM(requests), "by_status",
        codes_snapshot(blocks, n, offsetof(wsr__stats_t, by_status), status_codes, WSR__ST_COUNT),
        "timeouts", (json_int_t)SUM(timeouts), "overloaded", (json_int_t)SUM(overloaded), "bytes",
        "in", (json_int_t)SUM(bytes_in), "out", (json_int_t)SUM(bytes_out), "messages", "in",
        (json_int_t)SUM(messages_in), "out", (json_int_t)SUM(messages_out), "pushes", "sent",
        (json_int_t)SUM(pushes), "dropped", (json_int_t)SUM(pushes_dropped), "replies_dropped",
        (json_int_t)SUM(replies_dropped), "closes",
        codes_snapshot(blocks, n, offsetof(wsr__stats_t, closes), close_codes, WSR__CL_COUNT),
        "http_requests", (json_int_t)SUM(http_requests), "rate_limited", "refused",
        (json_int_t)SUM(rate_limited), "closed", (json_int_t)SUM(rate_closed), "routes",
        routes ? routes : json_object());
    if (o != NULL && json_object_set_new(json_object_get(o, "rate_limited"), "by_route",
                                         by_route_snapshot(blocks, n, router)) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (o != NULL && json_object_set_new(o, "progress_dropped",
                                         json_integer((json_int_t)SUM(progress_dropped))) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (o != NULL && json_object_set_new(json_object_get(o, "connections"), "by_transport",
                                         transports_snapshot(blocks, n)) != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}
