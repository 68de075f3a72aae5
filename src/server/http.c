/* SPDX-License-Identifier: MIT */
/*
 * Plain HTTP on the WebSocket port (PROTOCOL.md section 1): the mounts that
 * serve www/ (libwebsockets serves the files: MIME types, index.html for
 * directories, no path traversal, 404s, cache headers) and a small protocol of
 * our own for the operational endpoints under /_/: health, metrics (Prometheus
 * text) and stats (the same counters as the `stats` route). It owns each HTTP
 * response body until it is written; it refuses WebSocket upgrades.
 */
#include "server/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/router_int.h"
#include "server/server_int.h"

#define HTTP_CHUNK 16384

typedef struct http_session {
    wsr__buf_t body; /* owned */
    size_t sent;
} http_session_t;

const size_t wsr__http_session_size = sizeof(http_session_t);

static const struct lws_protocol_vhost_options mime_map = {NULL, NULL, ".map", "application/json"};
static const struct lws_protocol_vhost_options mime_ts = {&mime_map, NULL, ".ts",
                                                          "text/plain; charset=utf-8"};
static const struct lws_protocol_vhost_options mime_mjs = {&mime_ts, NULL, ".mjs",
                                                           "text/javascript"};
static const struct lws_protocol_vhost_options mime_txt = {&mime_mjs, NULL, ".txt",
                                                           "text/plain; charset=utf-8"};
static const struct lws_protocol_vhost_options mime_md = {&mime_txt, NULL, ".md",
                                                          "text/markdown; charset=utf-8"};

void wsr__http_mounts_init(wsr__http_mounts_t *m, const char *www)
{
    memset(m, 0, sizeof(*m));
    /* lws matches a mountpoint only at a '/' boundary: no trailing slash. */
    m->ops.mountpoint = "/_";
    m->ops.mountpoint_len = 2;
    m->ops.origin = WSR__HTTP_PROTOCOL;
    m->ops.origin_protocol = LWSMPRO_CALLBACK;
    if (www == NULL)
        return;
    m->files.mountpoint = "/";
    m->files.mountpoint_len = 1;
    m->files.origin = www;
    m->files.def = "index.html";
    m->files.origin_protocol = LWSMPRO_FILE;
    m->files.extra_mimetypes = &mime_md;
    /* Clients may keep files five minutes, then must check again. */
    m->files.cache_max_age = 300;
    m->files.cache_reusable = 1;
    m->files.cache_revalidate = 1;
    m->files.mount_next = &m->ops;
}

const struct lws_http_mount *wsr__http_mounts(const wsr__http_mounts_t *m)
{
    return m->files.mountpoint != NULL ? &m->files : &m->ops;
}

/* ---- www files: never through a symbolic link ---- */

/*
 * Opens `path` (absolute) one component at a time with O_NOFOLLOW, so that
 * no component is a symbolic link: the www root is a real path (server.c
 * resolves it), so every link met is inside www and may point anywhere
 * (`ln -s /etc/passwd www/x`). Walking with openat also leaves no window
 * between a check and the open. Returns a descriptor or -1 with errno.
 */
static int open_without_links(const char *path)
{
    char part[256];
    const char *p = path;
    int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

    while (dir >= 0) {
        size_t n;

        while (*p == '/')
            p++;
        n = strcspn(p, "/");
        if (n == 0)
            return dir; /* a trailing '/': the directory itself */
        if (n >= sizeof(part)) {
            close(dir);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        p += n;
        fd = openat(dir, part, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (*p == '/' ? O_DIRECTORY : 0));
        close(dir);
        if (fd < 0 || *p != '/')
            return fd;
        dir = fd;
    }
    return -1;
}

/* The platform's open, for lws's file mount, without symbolic links. */
static lws_fop_fd_t open_www_file(const struct lws_plat_file_ops *fops, const char *filename,
                                  const char *vpath, lws_fop_flags_t *flags)
{
    struct stat st;
    lws_fop_fd_t f;
    int fd;

    (void)vpath;
    if ((*flags & LWS_FOP_FLAGS_MASK) != O_RDONLY)
        return NULL; /* lws only ever reads www */
    fd = open_without_links(filename);
    if (fd < 0)
        return NULL;
    /* lws looks at what it opened, and opens index.html in a directory. */
    if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
        close(fd);
        return NULL;
    }
    /* lws frees it with lws_free(), so it comes from lws's allocator. */
    f = lws_realloc(NULL, sizeof(*f), "www file");
    if (f == NULL) {
        close(fd);
        return NULL;
    }
    memset(f, 0, sizeof(*f));
    f->fd = fd;
    f->fops = fops;
    f->flags = *flags;
    f->len = (lws_filepos_t)st.st_size;
    return f;
}

void wsr__http_guard_files(struct lws_context *ctx)
{
    struct lws_plat_file_ops *fops = lws_get_fops(ctx);

    if (fops != NULL)
        fops->LWS_FOP_OPEN = open_www_file;
}

/* ---- metrics: the stats snapshot in Prometheus text format ---- */

static int metric(wsr__buf_t *b, const char *name, const char *type, const char *help)
{
    return wsr__buf_printf(b, "# HELP wsrouter_%s %s\n# TYPE wsrouter_%s %s\n", name, help, name,
                           type);
}

static int labelled(wsr__buf_t *b, const char *name, const char *label, json_t *obj,
                    const char *type, const char *help)
{
    const char *key;
    json_t *v;
    int rc = metric(b, name, type, help);

    json_object_foreach(obj, key, v)
    {
        if (rc == 0)
            rc = wsr__buf_printf(b, "wsrouter_%s{%s=\"%s\"} %lld\n", name, label, key,
                                 (long long)json_integer_value(v));
    }
    return rc;
}

static int gauge(wsr__buf_t *b, const char *name, const char *type, const char *help, double value)
{
    int rc = metric(b, name, type, help);

    return rc ? rc : wsr__buf_printf(b, "wsrouter_%s %.9g\n", name, value);
}

static int route_metrics(wsr__buf_t *b, json_t *routes)
{
    const char *name;
    json_t *r;
    int rc = metric(b, "route_requests_total", "counter", "Requests answered per route.");

    json_object_foreach(routes, name, r)
    {
        if (rc == 0)
            rc = wsr__buf_printf(b, "wsrouter_route_requests_total{route=\"%s\"} %lld\n", name,
                                 (long long)json_integer_value(json_object_get(r, "count")));
    }
    if (rc == 0)
        rc = metric(b, "route_errors_total", "counter", "Answers with status >= 400 per route.");
    json_object_foreach(routes, name, r)
    {
        if (rc == 0)
            rc = wsr__buf_printf(b, "wsrouter_route_errors_total{route=\"%s\"} %lld\n", name,
                                 (long long)json_integer_value(json_object_get(r, "errors")));
    }
    if (rc == 0)
        rc = metric(b, "route_latency_p99_seconds", "gauge",
                    "99th percentile latency per route (log2 histogram bucket edge).");
    json_object_foreach(routes, name, r)
    {
        if (rc == 0)
            rc = wsr__buf_printf(b, "wsrouter_route_latency_p99_seconds{route=\"%s\"} %g\n", name,
                                 json_real_value(json_object_get(r, "p99_ms")) / 1000.0);
    }
    return rc;
}

int wsr__metrics_text(json_t *snap, wsr__buf_t *b)
{
    json_t *conn = json_object_get(snap, "connections"), *req = json_object_get(snap, "requests");
    json_t *bytes = json_object_get(snap, "bytes");
    int rc;

#define INT_OF(o, k) ((double)json_integer_value(json_object_get((o), (k))))
    rc = gauge(b, "uptime_seconds", "gauge", "Seconds since the server started.",
               json_real_value(json_object_get(snap, "uptime_s")));
    if (rc == 0)
        rc = gauge(b, "connections_open", "gauge", "Open WebSocket connections.",
                   INT_OF(conn, "open"));
    if (rc == 0)
        rc = gauge(b, "connections_opened_total", "counter", "WebSocket connections accepted.",
                   INT_OF(conn, "opened"));
    if (rc == 0)
        rc = gauge(b, "connections_refused_total", "counter",
                   "Connections refused (limits, origin, draining).", INT_OF(conn, "refused"));
    if (rc == 0)
        rc = gauge(b, "requests_total", "counter", "Requests answered.", INT_OF(req, "total"));
    if (rc == 0)
        rc = labelled(b, "requests_by_status_total", "status", json_object_get(req, "by_status"),
                      "counter", "Requests answered, by status.");
    if (rc == 0)
        rc = labelled(b, "closes_total", "code", json_object_get(snap, "closes"), "counter",
                      "Connections the server closed, by close code.");
    if (rc == 0)
        rc = gauge(b, "bytes_in_total", "counter", "Message bytes received.", INT_OF(bytes, "in"));
    if (rc == 0)
        rc = gauge(b, "bytes_out_total", "counter", "Message bytes sent.", INT_OF(bytes, "out"));
#undef INT_OF
    if (rc == 0)
        rc = route_metrics(b, json_object_get(snap, "routes"));
    return rc;
}

/* ---- the endpoints ---- */

/* Fills the body for `path` (after "/_/"); returns the HTTP status. */
static unsigned build_body(wsr__loop_t *loop, const char *path, wsr__buf_t *body, const char **type)
{
    json_t *snap;
    int rc;

    *type = "application/json";
    if (strcmp(path, "health") == 0) {
        rc = wsr__buf_printf(body, "{\"status\":\"%s\"}", loop->draining ? "draining" : "ok");
        return rc ? 500 : (loop->draining ? 503 : 200);
    }
    if (strcmp(path, "stats") != 0 && strcmp(path, "metrics") != 0) {
        rc = wsr__buf_printf(body, "{\"status\":404,\"detail\":\"no endpoint /_/%.100s\"}", path);
        return rc ? 500 : 404;
    }
    snap = wsr__server_snapshot(loop->server);
    if (snap == NULL)
        return 500;
    if (path[1] == 't') {
        rc = wsr__json_dump(body, snap);
    } else {
        *type = "text/plain; version=0.0.4; charset=utf-8";
        rc = wsr__metrics_text(snap, body);
    }
    json_decref(snap);
    return rc ? 500 : 200;
}

static int on_http(struct lws *wsi, http_session_t *s)
{
    wsr__loop_t *loop = lws_context_user(lws_get_context(wsi));
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof(hdr) - 1;
    char uri[256];
    const char *path, *type;
    unsigned status;

    /* The full URI, rather than lws's remainder after the mountpoint. */
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
        uri[0] = '\0';
    path = strncmp(uri, "/_/", 3) == 0 ? uri + 3 : "";
    wsr__count(&loop->stats->http_requests, 1);
    wsr__buf_init(&s->body, 0, 0);
    s->sent = 0;
    status = build_body(loop, path, &s->body, &type);
    if (lws_add_http_common_headers(wsi, status, type, wsr__buf_payload_len(&s->body), &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int on_http_writeable(struct lws *wsi, http_session_t *s)
{
    unsigned char buf[LWS_PRE + HTTP_CHUNK];
    size_t left = wsr__buf_payload_len(&s->body) - s->sent, n = WSR__MIN(left, HTTP_CHUNK);
    enum lws_write_protocol kind = n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;

    if (n > 0)
        memcpy(buf + LWS_PRE, s->body.data + s->sent, n);
    if (lws_write(wsi, buf + LWS_PRE, n, kind) != (int)n)
        return 1;
    s->sent += n;
    if (kind != LWS_WRITE_HTTP_FINAL) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    wsr__buf_dispose(&s->body);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int wsr__http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    http_session_t *s = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* this protocol never becomes a WebSocket */
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, s);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_http_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (s != NULL)
            wsr__buf_dispose(&s->body);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
