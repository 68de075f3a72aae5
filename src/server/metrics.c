/* SPDX-License-Identifier: MIT */
/*
 * /_/metrics: a stats snapshot (core/stats.c) in Prometheus's text format
 * 0.0.4, and the process's own figures (CPU, memory, descriptors, start),
 * read from the kernel when asked. Counters are printed as integers at any
 * size; latency is a real histogram per route (its buckets are the stats'
 * log2 microsecond ones); requests are one family by route and status.
 * `promtool check metrics` passes on it (tests/js/http.test.mjs).
 */
#include "server/http_int.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/stats_int.h"

static int family(wsr__buf_t *b, const char *name, const char *type, const char *help)
{
    return wsr__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t u64_of(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));

    return v > 0 ? (uint64_t)v : 0;
}

/* A counter or gauge with an integer value. */
static int integer(wsr__buf_t *b, const char *name, const char *type, const char *help, uint64_t v)
{
    int rc = family(b, name, type, help);

    return rc ? rc : wsr__buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static int real(wsr__buf_t *b, const char *name, const char *type, const char *help, double v)
{
    int rc = family(b, name, type, help);

    return rc ? rc : wsr__buf_printf(b, "%s %.15g\n", name, v);
}

/* A label value as the format wants it: \, " and newline escaped. */
static int label_value(wsr__buf_t *b, const char *v)
{
    int rc = 0;

    for (; rc == 0 && *v != '\0'; v++) {
        if (*v == '\\' || *v == '"')
            rc = wsr__buf_printf(b, "\\%c", *v);
        else if (*v == '\n')
            rc = wsr__buf_printf(b, "\\n");
        else
            rc = wsr__buf_putc(b, *v);
    }
    return rc;
}

/* One sample `name{route="R"<more>} <v>`; `more` is the rest of the labels
 * (",le=..." or ""). */
static int route_sample(wsr__buf_t *b, const char *name, const char *route, const char *more,
                        uint64_t v)
{
    int rc = wsr__buf_printf(b, "%s{route=\"", name);

    if (rc == 0)
        rc = label_value(b, route);
    return rc ? rc : wsr__buf_printf(b, "\"%s} %llu\n", more, (unsigned long long)v);
}

/* wsrouter_requests_total{route,status}: each route's answers by status,
 * and with route "" those no route matched (the totals less the routes'). */
static int requests(wsr__buf_t *b, json_t *snap)
{
    json_t *routes = json_object_get(snap, "routes"), *r, *v;
    json_t *unrouted =
        json_deep_copy(json_object_get(json_object_get(snap, "requests"), "by_status"));
    const char *name, *status;
    char more[32];
    int rc = unrouted != NULL ? family(b, "wsrouter_requests_total", "counter",
                                       "Requests answered, by route and status (route \"\": "
                                       "no route matched).")
                              : WSR_ENOMEM;

    json_object_foreach(routes, name, r)
    {
        json_object_foreach(json_object_get(r, "by_status"), status, v)
        {
            uint64_t n = u64_of(json_object_get(r, "by_status"), status);
            uint64_t all = u64_of(unrouted, status);

            snprintf(more, sizeof(more), ",status=\"%s\"", status);
            if (rc == 0)
                rc = route_sample(b, "wsrouter_requests_total", name, more, n);
            if (rc == 0 &&
                json_object_set_new(unrouted, status,
                                    json_integer((json_int_t)(all > n ? all - n : 0))) != 0)
                rc = WSR_ENOMEM;
        }
    }
    json_object_foreach(unrouted, status, v)
    {
        snprintf(more, sizeof(more), ",status=\"%s\"", status);
        if (rc == 0 && json_integer_value(v) > 0)
            rc = route_sample(b, "wsrouter_requests_total", "", more, u64_of(unrouted, status));
    }
    json_decref(unrouted);
    return rc;
}

/* wsrouter_request_duration_seconds: bucket b of the stats holds latencies
 * under 2^b us, so its cumulative count is the one of le = 2^b us; the last
 * bucket (4 s and more) is only in +Inf. */
static int durations(wsr__buf_t *b, json_t *routes)
{
    const char *name;
    json_t *r;
    char more[48];
    int rc = family(b, "wsrouter_request_duration_seconds", "histogram",
                    "Time from a request's arrival to its answer, by route.");

    json_object_foreach(routes, name, r)
    {
        json_t *lat = json_object_get(r, "latency_us"), *buckets = json_object_get(lat, "buckets");
        uint64_t seen = 0;

        for (size_t i = 0; rc == 0 && i + 1 < json_array_size(buckets); i++) {
            json_int_t c = json_integer_value(json_array_get(buckets, i));

            seen += c > 0 ? (uint64_t)c : 0;
            snprintf(more, sizeof(more), ",le=\"%.9g\"", (double)(1ull << i) / 1e6);
            rc = route_sample(b, "wsrouter_request_duration_seconds_bucket", name, more, seen);
        }
        if (rc == 0)
            rc = route_sample(b, "wsrouter_request_duration_seconds_bucket", name, ",le=\"+Inf\"",
                              u64_of(r, "count"));
        if (rc == 0)
            rc = wsr__buf_printf(b, "wsrouter_request_duration_seconds_sum{route=\"");
        if (rc == 0)
            rc = label_value(b, name);
        if (rc == 0)
            rc = wsr__buf_printf(b, "\"} %.17g\n", (double)u64_of(lat, "sum") / 1e6);
        if (rc == 0)
            rc = route_sample(b, "wsrouter_request_duration_seconds_count", name, "",
                              u64_of(r, "count"));
    }
    return rc;
}

/* wsrouter_route_rate_limited_total{route}: the refusals of each route's own
 * rate limit (those routes only; counted in wsrouter_rate_limited_total too). */
static int route_rate_limited(wsr__buf_t *b, json_t *by_route)
{
    const char *name;
    json_t *v;
    int rc = family(b, "wsrouter_route_rate_limited_total", "counter",
                    "Requests refused 429 by their route's own rate limit, by route.");

    json_object_foreach(by_route, name, v)
    {
        if (rc == 0)
            rc = route_sample(b, "wsrouter_route_rate_limited_total", name, "",
                              u64_of(by_route, name));
    }
    return rc;
}

/* The capped tables keyed by what clients choose (stats' "tables"): their
 * entries, and how often a key found no room and shared the overflow
 * entry, by table. */
static int tables(wsr__buf_t *b, json_t *all)
{
    static const struct {
        const char *name, *type, *key, *help;
    } fams[] = {
        {"wsrouter_table_entries", "gauge", "entries",
         "Entries of the rate limit and login throttle tables, by table."},
        {"wsrouter_table_overflow_total", "counter", "overflow",
         "Keys a full table had no room for, which shared its overflow entry, by table."},
    };
    const char *name;
    json_t *t;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof(fams) / sizeof(fams[0]); i++) {
        rc = family(b, fams[i].name, fams[i].type, fams[i].help);
        json_object_foreach(all, name, t)
        {
            if (rc == 0)
                rc = wsr__buf_printf(b, "%s{table=\"%s\"} %llu\n", fams[i].name, name,
                                     (unsigned long long)u64_of(t, fams[i].key));
        }
    }
    return rc;
}

/* The labelled counts of `obj` ({"404": n, ...}) as family `name`. */
static int by_code(wsr__buf_t *b, const char *name, const char *label, json_t *obj,
                   const char *help)
{
    const char *key;
    json_t *v;
    int rc = family(b, name, "counter", help);

    json_object_foreach(obj, key, v)
    {
        if (rc == 0)
            rc = wsr__buf_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, key,
                                 (unsigned long long)u64_of(obj, key));
    }
    return rc;
}

/* wsrouter_transport_connections_open{transport}: open connections by transport. */
static int transports(wsr__buf_t *b, json_t *by)
{
    const char *name;
    json_t *v;
    int rc = family(b, "wsrouter_transport_connections_open", "gauge",
                    "Open connections by transport (raw TCP ones once their first byte came).");

    json_object_foreach(by, name, v)
    {
        if (rc == 0)
            rc = wsr__buf_printf(b, "wsrouter_transport_connections_open{transport=\"%s\"} %llu\n",
                                 name, (unsigned long long)u64_of(by, name));
    }
    return rc;
}

/* ---- the process (the names Prometheus's client libraries use) ---- */

static unsigned long long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned long long n = 0;

    if (d == NULL)
        return 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own descriptor */
}

static unsigned long long resident_bytes(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, pages = 0;

    if (fp == NULL)
        return 0;
    if (fscanf(fp, "%llu %llu", &size, &pages) != 2)
        pages = 0;
    fclose(fp);
    return pages * (unsigned long long)sysconf(_SC_PAGESIZE);
}

static int process(wsr__buf_t *b, double uptime_s)
{
    struct rusage ru;
    struct rlimit lim;
    struct timespec now;
    double cpu = 0;
    int rc;

    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    clock_gettime(CLOCK_REALTIME, &now);
    rc = real(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent.", cpu);
    if (rc == 0)
        rc = integer(b, "process_resident_memory_bytes", "gauge", "Resident memory.",
                     resident_bytes());
    if (rc == 0)
        rc = integer(b, "process_open_fds", "gauge", "Open file descriptors.", open_fds());
    if (rc == 0 && getrlimit(RLIMIT_NOFILE, &lim) == 0)
        rc = integer(b, "process_max_fds", "gauge", "The limit of open file descriptors.",
                     lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)lim.rlim_cur);
    if (rc == 0)
        rc = real(b, "process_start_time_seconds", "gauge",
                  "Start time of the process since the epoch, in seconds.",
                  (double)now.tv_sec + (double)now.tv_nsec / 1e9 - uptime_s);
    return rc;
}

/* The snapshot's plain integers: snap[section][key] as family `name`. */
static const struct {
    const char *name, *type, *help, *section, *key;
} plain[] = {
    {"wsrouter_connections_open", "gauge", "Open connections.", "connections", "open"},
    {"wsrouter_connections_opened_total", "counter", "Connections accepted.", "connections",
     "opened"},
    {"wsrouter_connections_refused_total", "counter",
     "Connections refused (limits, origin, draining).", "connections", "refused"},
    {"wsrouter_request_timeouts_total", "counter",
     "Requests answered 408 at their route's timeout.", "requests", "timeouts"},
    {"wsrouter_bytes_in_total", "counter", "Message bytes received.", "bytes", "in"},
    {"wsrouter_bytes_out_total", "counter", "Message bytes sent.", "bytes", "out"},
    {"wsrouter_rate_limited_total", "counter", "Requests refused 429 by a rate limit.",
     "rate_limited", "refused"},
    {"wsrouter_rate_limit_closes_total", "counter",
     "Connections closed 1008 for going on past a rate limit.", "rate_limited", "closed"},
    {"wsrouter_engine_reconnects_total", "counter",
     "Times the node got its cluster engine (Redis) back after losing it.", "engine", "reconnects"},
};

int wsr__metrics_text(json_t *snap, wsr__buf_t *b)
{
    double uptime = json_real_value(json_object_get(snap, "uptime_s"));
    int rc;

    rc = family(b, "wsrouter_build_info", "gauge", "The version running, as a label (value 1).");
    if (rc == 0)
        rc = wsr__buf_printf(b, "wsrouter_build_info{version=\"%s\"} 1\n", WSR_VERSION);
    if (rc == 0)
        rc = real(b, "wsrouter_uptime_seconds", "gauge", "Seconds since the server started.",
                  uptime);
    if (rc == 0) {
        const char *state =
            json_string_value(json_object_get(json_object_get(snap, "engine"), "state"));

        rc = integer(b, "wsrouter_engine_up", "gauge",
                     "1 while the engine (memory, or the cluster's Redis) is reachable, else 0.",
                     state == NULL || strcmp(state, "up") == 0);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(plain) / sizeof(plain[0]); i++)
        rc = integer(b, plain[i].name, plain[i].type, plain[i].help,
                     u64_of(json_object_get(snap, plain[i].section), plain[i].key));
    if (rc == 0)
        rc = transports(b, json_object_get(json_object_get(snap, "connections"), "by_transport"));
    if (rc == 0)
        rc = route_rate_limited(b,
                                json_object_get(json_object_get(snap, "rate_limited"), "by_route"));
    if (rc == 0)
        rc = tables(b, json_object_get(snap, "tables"));
    if (rc == 0)
        rc = requests(b, snap);
    if (rc == 0)
        rc = durations(b, json_object_get(snap, "routes"));
    if (rc == 0)
        rc = by_code(b, "wsrouter_closes_total", "code", json_object_get(snap, "closes"),
                     "Connections the server closed, by close code.");
    return rc == 0 ? process(b, uptime) : rc;
}
