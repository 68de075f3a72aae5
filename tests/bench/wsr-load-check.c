/* SPDX-License-Identifier: MIT */
/*
 * The judging half of wsr-load: it compiles message templates, parses replies
 * with a small JSON scanner (enough to find the top-level status, id and data
 * of a reply, and to reject anything that is not one JSON object), checks the
 * data, samples the server process from /proc and prints the report. It never
 * touches a socket and never trusts a reply's length or shape.
 */
#include "wsr-load.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>

/* --- templates --------------------------------------------------------------- */

static int add_seg(wsr_tpl_t *t, char hole, const char *text, size_t len)
{
    if (t->nsegs == MAX_SEGS)
        return -1;
    t->segs[t->nsegs++] = (wsr_seg_t){hole, text, len};
    t->fixed += len;
    t->nx += hole == 'x';
    t->ni += hole == 'i';
    t->ns += hole == 's';
    return 0;
}

/* Splits `text` into literal pieces and holes: %x the operand, %i the request
 * id, %s the payload, %% a percent sign. Exactly one %i is required. */
int wsr_tpl_compile(wsr_tpl_t *t, const char *text)
{
    const char *p = text, *lit = text;

    memset(t, 0, sizeof(*t));
    while (*p != '\0') {
        if (*p != '%') {
            p++;
            continue;
        }
        if (p > lit && add_seg(t, 0, lit, (size_t)(p - lit)) != 0)
            return -1;
        if (p[1] == '%') {
            if (add_seg(t, 0, p, 1) != 0)
                return -1;
        } else if (p[1] != 'x' && p[1] != 'i' && p[1] != 's') {
            return -1;
        } else if (add_seg(t, p[1], NULL, 0) != 0) {
            return -1;
        }
        p += 2;
        lit = p;
    }
    if (p > lit && add_seg(t, 0, lit, (size_t)(p - lit)) != 0)
        return -1;
    return t->ni == 1 ? 0 : -1;
}

/* --- replies ---------------------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p is at an opening quote: returns the byte after the closing one, or NULL. */
static const char *scan_string(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\' && ++p == e)
            return NULL;
        if ((unsigned char)*p < 0x20)
            return NULL;
    }
    return NULL;
}

/* Skips a nested object or array, strings included; NULL when unbalanced. */
static const char *scan_nested(const char *p, const char *e)
{
    unsigned depth = 0;

    while (p < e) {
        if (*p == '"') {
            p = scan_string(p, e);
            if (p == NULL)
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

/* Scans one value; *type gets 'n', 's', 'l' (a literal) or 'o'. */
static const char *scan_value(const char *p, const char *e, char *type, const char **v,
                              size_t *vlen)
{
    const char *start = p;

    if (p == e)
        return NULL;
    if (*p == '"') {
        p = scan_string(p, e);
        *type = 's';
        *v = start + 1;
        *vlen = p ? (size_t)(p - start) - 2 : 0;
        return p;
    }
    if (*p == '{' || *p == '[') {
        p = scan_nested(p, e);
        *type = 'o';
    } else {
        while (p < e && strchr("+-.0123456789eE", *p) != NULL)
            p++;
        *type = 'n';
        if (p == start) {
            while (p < e && *p >= 'a' && *p <= 'z')
                p++;
            *type = 'l';
        }
        if (p == start)
            return NULL;
    }
    *v = start;
    *vlen = p ? (size_t)(p - start) : 0;
    return p;
}

/* A JSON number token as an integer; false when it is not one. */
static bool token_int(const char *p, size_t n, int64_t *out)
{
    bool neg = n > 0 && *p == '-';
    uint64_t v = 0;
    size_t i = neg;

    if (i == n || n - i > 18)
        return false;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static void reply_member(wsr_reply_t *r, const char *k, size_t kn, char type, const char *v,
                         size_t vn)
{
    int64_t i;

    if (kn == 2 && memcmp(k, "id", 2) == 0 && type == 'n' && token_int(v, vn, &i) && i >= 0) {
        r->has_id = true;
        r->id = (uint64_t)i;
    } else if (kn == 6 && memcmp(k, "status", 6) == 0 && type == 'n' &&
               token_int(v, vn, &r->status)) {
        r->has_status = true;
    } else if (kn == 4 && memcmp(k, "data", 4) == 0) {
        r->has_data = true;
        r->data_type = type == 'l' ? 'o' : type;
        r->data = v;
        r->data_len = vn;
    }
}

/* Parses one reply: a JSON object whose members we scan one by one. Returns 0
 * when it is a well-formed object (its members may still be wrong). */
int wsr_reply_parse(const char *p, size_t n, wsr_reply_t *r)
{
    const char *e = p + n, *k, *v;
    size_t kn, vn;
    char type;

    memset(r, 0, sizeof(*r));
    p = skip_ws(p, e);
    if (p == e || *p++ != '{')
        return -1;
    p = skip_ws(p, e);
    if (p < e && *p == '}')
        return skip_ws(p + 1, e) == e ? 0 : -1;
    for (;;) {
        if (p == e || *p != '"')
            return -1;
        k = p + 1;
        p = scan_string(p, e);
        if (p == NULL)
            return -1;
        kn = (size_t)(p - k) - 1;
        p = skip_ws(p, e);
        if (p == e || *p++ != ':')
            return -1;
        p = scan_value(skip_ws(p, e), e, &type, &v, &vn);
        if (p == NULL)
            return -1;
        reply_member(r, k, kn, type, v, vn);
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
            continue;
        }
        if (p < e && *p == '}')
            return skip_ws(p + 1, e) == e ? 0 : -1;
        return -1;
    }
}

/* Compares a JSON string's raw text (escapes undone) with the payload. */
static bool string_equals(const char *s, size_t n, const char *want, size_t wn)
{
    size_t i = 0, j = 0;

    while (i < n && j < wn) {
        char ch = s[i++];

        if (ch == '\\') {
            const char *esc = "\"\"\\\\//b\bf\fn\nr\rt\t", *m;

            if (i == n)
                return false;
            for (m = esc; *m != '\0' && *m != s[i]; m += 2)
                ;
            if (*m == '\0')
                return false; /* \uXXXX never stands for a letter of ours */
            ch = m[1];
            i++;
        }
        if (ch != want[j++])
            return false;
    }
    return i == n && j == wn;
}

bool wsr_reply_data_ok(const wsr_load_t *L, const wsr_reply_t *r, int64_t x)
{
    int64_t got;

    if (!r->has_data)
        return false;
    if (L->opt.mode == WSR_MODE_ECHO)
        return r->data_type == 's' &&
               string_equals(r->data, r->data_len, L->payload, L->payload_len);
    if (r->data_type != 'n')
        return false;
    if (token_int(r->data, r->data_len, &got))
        return got == x + L->opt.y;
    {
        /* A real (3.0 from some servers): exact for our operands, all below 2^53. */
        char tmp[64];
        double d;

        if (r->data_len >= sizeof(tmp))
            return false;
        memcpy(tmp, r->data, r->data_len);
        tmp[r->data_len] = '\0';
        d = strtod(tmp, NULL);
        return d == (double)(x + L->opt.y);
    }
}

/* --- the server process -------------------------------------------------------------- */

/* utime and stime, fields 14 and 15 of /proc/PID/stat; p is just past the
 * command name, before field 3. */
static int stat_times(const char *p, unsigned long long *ut, unsigned long long *st)
{
    char *end;

    for (int field = 3; field < 14; field++) {
        p = strchr(p + 1, ' ');
        if (p == NULL)
            return -1;
    }
    *ut = strtoull(p + 1, &end, 10);
    if (end == p + 1 || *end != ' ')
        return -1;
    *st = strtoull(end + 1, &end, 10);
    return 0;
}

/* utime + stime from /proc/PID/stat and VmRSS from /proc/PID/status. */
void wsr_proc_sample(pid_t pid, wsr_proc_t *s)
{
    char path[64], buf[4096];
    unsigned long long ut = 0, st = 0;
    long tck = sysconf(_SC_CLK_TCK);
    const char *p;
    size_t n;
    FILE *f;

    memset(s, 0, sizeof(*s));
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL || stat_times(p + 1, &ut, &st) != 0)
        return;
    s->cpu_s = (double)(ut + st) / (double)(tck > 0 ? tck : 100);
    s->sys_s = (double)st / (double)(tck > 0 ? tck : 100);
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(buf, sizeof(buf), f) != NULL) {
        if (strncmp(buf, "VmRSS:", 6) == 0) {
            s->rss_kib = strtol(buf + 6, NULL, 10);
            s->ok = true;
        }
    }
    fclose(f);
}

/* Busy time of all CPUs: user nice system irq softirq steal (not idle, not
 * iowait); with our own rusage, what the rest of a shared machine did. */
void wsr_host_sample(wsr_host_t *h)
{
    unsigned long long v[8] = {0};
    long tck = sysconf(_SC_CLK_TCK);
    struct rusage ru;
    char line[512], *p, *end;
    FILE *f = fopen("/proc/stat", "r");

    memset(h, 0, sizeof(*h));
    if (f == NULL)
        return;
    p = fgets(line, sizeof(line), f);
    fclose(f);
    if (p == NULL || strncmp(line, "cpu ", 4) != 0 || getrusage(RUSAGE_SELF, &ru) != 0)
        return;
    p = line + 4;
    for (int i = 0; i < 8; i++, p = end) {
        v[i] = strtoull(p, &end, 10);
        if (end == p)
            return;
    }
    h->busy_s = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)(tck > 0 ? tck : 100);
    h->self_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    h->ok = true;
}

/* --- latencies and the report ------------------------------------------------------- */

/* Records one measured latency (every one, up to MAX_LATENCIES samples). */
int wsr_lat_record(wsr_load_t *L, uint64_t ns)
{
    if (L->nlat == L->caplat) {
        size_t cap = L->caplat ? L->caplat * 2 : 65536;
        uint32_t *p;

        if (cap > WSR_MAX_LATENCIES)
            return -1;
        p = realloc(L->lat, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        L->lat = p;
        L->caplat = cap;
    }
    L->lat[L->nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
    L->lat_sum += ns;
    if (ns > L->lat_max)
        L->lat_max = ns;
    return 0;
}

uint64_t wsr_errors_total(const wsr_errors_t *e)
{
    return e->connect + e->closed + e->bad_frame + e->bad_json + e->bad_id + e->bad_status +
           e->bad_result + e->lost;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted samples, in microseconds. */
static double pct_us(const wsr_load_t *L, double q)
{
    size_t rank;

    if (L->nlat == 0)
        return 0;
    rank = (size_t)ceil(q * (double)L->nlat);
    if (rank < 1)
        rank = 1;
    return (double)L->lat[rank - 1] / 1000.0;
}

/* How evenly the connections were served: the fewest and most replies one
 * got in the measured interval, and Jain's index (1: all equal; 1/n: one got
 * everything). Connections that closed count with what they got. */
static void fairness(const wsr_load_t *L, uint64_t *min, uint64_t *max, double *jain)
{
    double sum = 0, sq = 0;

    *min = UINT64_MAX;
    *max = 0;
    for (unsigned i = 0; i < L->opt.connections; i++) {
        uint64_t d = L->conns[i].done;

        *min = d < *min ? d : *min;
        *max = d > *max ? d : *max;
        sum += (double)d;
        sq += (double)d * (double)d;
    }
    *jain = sq > 0 ? sum * sum / ((double)L->opt.connections * sq) : 0;
}

static void report_errors(const wsr_errors_t *e)
{
    printf("\"errors\":%" PRIu64 ",\"error_detail\":{\"connect\":%" PRIu64 ",\"closed\":%" PRIu64
           ",\"bad_frame\":%" PRIu64 ",\"bad_json\":%" PRIu64 ",\"bad_id\":%" PRIu64
           ",\"bad_status\":%" PRIu64 ",\"bad_result\":%" PRIu64 ",\"lost\":%" PRIu64 "}",
           wsr_errors_total(e), e->connect, e->closed, e->bad_frame, e->bad_json, e->bad_id,
           e->bad_status, e->bad_result, e->lost);
}

/* CPUs' worth of work done during the measured interval by neither the server
 * nor us: other tenants of a shared machine, and the kernel's softirq work. */
static double background(const wsr_load_t *L, double secs)
{
    double busy = L->host_after.busy_s - L->host_before.busy_s;
    double self = L->host_after.self_s - L->host_before.self_s;
    double server = L->before.ok && L->after.ok ? L->after.cpu_s - L->before.cpu_s : 0;
    double bg = (busy - self - server) / secs;

    return bg > 0 ? bg : 0;
}

static void report_json(const wsr_load_t *L, double secs, double rps, double cpu_us)
{
    const wsr_opts_t *o = &L->opt;
    uint64_t fmin, fmax;
    double jain;

    printf("{\"url\":\"%s\",\"mode\":\"%s\",\"connections\":%u,\"pipeline\":%u,"
           "\"payload\":%zu,\"opened\":%u,",
           o->url,
           o->idle                    ? "idle"
           : o->mode == WSR_MODE_ECHO ? "echo"
                                      : "add",
           o->connections, o->pipeline, o->mode == WSR_MODE_ECHO ? L->payload_len : 0, L->opened);
    if (o->idle) {
        printf("\"checked\":%" PRIu64 ",", L->checked);
    } else {
        printf("\"seconds\":%.3f,\"requests\":%" PRIu64 ",\"rps\":%.1f,", secs, L->window_done,
               rps);
        printf("\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
               "\"max\":%.1f,\"mean\":%.1f},",
               pct_us(L, 0.50), pct_us(L, 0.90), pct_us(L, 0.99), pct_us(L, 0.999),
               (double)L->lat_max / 1000.0,
               L->nlat ? (double)L->lat_sum / (double)L->nlat / 1000.0 : 0.0);
        fairness(L, &fmin, &fmax, &jain);
        printf("\"per_connection\":{\"min\":%" PRIu64 ",\"max\":%" PRIu64 ",\"jain\":%.4f},", fmin,
               fmax, jain);
    }
    report_errors(&L->err);
    if (L->before.ok && L->after.ok) {
        printf(",\"server\":{\"pid\":%ld,\"cpu_s\":%.3f,\"sys_s\":%.3f,\"rss_before_kib\":%ld,"
               "\"rss_after_kib\":%ld",
               (long)o->pid, L->after.cpu_s - L->before.cpu_s, L->after.sys_s - L->before.sys_s,
               L->before.rss_kib, L->after.rss_kib);
        if (o->idle && L->opened > 0)
            printf(",\"kib_per_connection\":%.3f",
                   (double)(L->after.rss_kib - L->before.rss_kib) / (double)L->opened);
        else if (!o->idle)
            printf(",\"cpu_us_per_request\":%.3f", cpu_us);
        printf("}");
    }
    if (!o->idle && L->host_before.ok && L->host_after.ok && secs > 0)
        printf(",\"host\":{\"load_cpus\":%.3f,\"background_cpus\":%.3f}",
               (L->host_after.self_s - L->host_before.self_s) / secs, background(L, secs));
    printf("}\n");
}

static void report_text(const wsr_load_t *L, double secs, double rps, double cpu_us)
{
    const wsr_opts_t *o = &L->opt;
    const wsr_errors_t *e = &L->err;
    uint64_t fmin, fmax;
    double jain;

    printf("%s: %u of %u connections open", o->url, L->opened, o->connections);
    if (o->idle) {
        printf(", %" PRIu64 " answered a check request\n", L->checked);
    } else {
        fairness(L, &fmin, &fmax, &jain);
        printf(", %u in flight each, %.2f s measured\n"
               "  %" PRIu64 " requests, %.0f requests/s\n"
               "  latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
               o->pipeline, secs, L->window_done, rps, pct_us(L, 0.50), pct_us(L, 0.90),
               pct_us(L, 0.99), pct_us(L, 0.999), (double)L->lat_max / 1000.0);
        printf("  per connection: %" PRIu64 " to %" PRIu64 " replies, Jain's index %.3f\n", fmin,
               fmax, jain);
    }
    printf("  errors: %" PRIu64 " (connect %" PRIu64 ", closed %" PRIu64 ", frame %" PRIu64
           ", json %" PRIu64 ", id %" PRIu64 ", status %" PRIu64 ", result %" PRIu64
           ", lost %" PRIu64 ")\n",
           wsr_errors_total(e), e->connect, e->closed, e->bad_frame, e->bad_json, e->bad_id,
           e->bad_status, e->bad_result, e->lost);
    if (!L->before.ok || !L->after.ok)
        return;
    printf("  server %ld: RSS %ld -> %ld KiB", (long)o->pid, L->before.rss_kib, L->after.rss_kib);
    if (o->idle && L->opened > 0)
        printf(", %.2f KiB per connection\n",
               (double)(L->after.rss_kib - L->before.rss_kib) / (double)L->opened);
    else
        printf(", CPU %.2f s, %.2f us per request\n", L->after.cpu_s - L->before.cpu_s, cpu_us);
    if (!o->idle && L->host_before.ok && L->host_after.ok && secs > 0)
        printf("  load generator %.2f CPUs; everything else %.2f CPUs\n",
               (L->host_after.self_s - L->host_before.self_s) / secs, background(L, secs));
}

/* Sorts the samples and prints the result, as text or as one JSON object. */
void wsr_report(wsr_load_t *L)
{
    double secs = (double)(L->t_end - L->t_start) / (double)NS_PER_S;
    double rps = secs > 0 ? (double)L->window_done / secs : 0;
    double cpu = L->after.cpu_s - L->before.cpu_s;
    double cpu_us = L->window_done ? cpu * 1e6 / (double)L->window_done : 0;

    if (L->nlat > 0)
        qsort(L->lat, L->nlat, sizeof(*L->lat), cmp_u32);
    if (L->opt.json)
        report_json(L, secs, rps, cpu_us);
    else
        report_text(L, secs, rps, cpu_us);
    fflush(stdout);
}
