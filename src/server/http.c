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
#include <openssl/crypto.h>
#include <strings.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json_int.h"
#include "core/router_int.h"
#include "server/server_int.h"
#include "services/engine_int.h"
#include "services/pubsub_int.h"
#include "services/factory_int.h"

#define HTTP_CHUNK 16384

typedef struct http_session {
    wsr__buf_t body; /* owned */
    size_t sent;
    const char *type; /* static: the body's content type */
    unsigned status;  /* the answer's HTTP status */
    bool head;        /* a HEAD: the headers only */
    bool headers_due; /* the status line and headers are still to write */
    bool write_asked; /* the answer's write was asked for (once) */
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

/* ---- the endpoints ---- */

/* The HTTP method of the request lws is serving, and its URI (copied into
 * `uri`, "" when none fits). */
static const char *http_method(struct lws *wsi, char *uri, size_t size)
{
    static const struct {
        enum lws_token_indexes token;
        const char *name;
    } methods[] = {
        {WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
        {WSI_TOKEN_HEAD_URI, "HEAD"},       {WSI_TOKEN_PUT_URI, "PUT"},
        {WSI_TOKEN_PATCH_URI, "PATCH"},     {WSI_TOKEN_DELETE_URI, "DELETE"},
        {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    };

    uri[0] = '\0';
    for (size_t i = 0; i < WSR__ARRAY_SIZE(methods); i++)
        if (lws_hdr_total_length(wsi, methods[i].token) > 0) {
            if (lws_hdr_copy(wsi, uri, (int)size, methods[i].token) <= 0)
                uri[0] = '\0';
            return methods[i].name;
        }
    return "?";
}

/* The endpoints: what each answers, and whether ops_token guards it. */
enum { EP_HEALTH, EP_READY, EP_STATS, EP_METRICS, EP_NONE };
static const struct {
    const char *name;
    bool guarded;
} endpoints[] = {
    {"health", false},
    {"ready", false},
    {"stats", true},
    {"metrics", true},
};

static unsigned find_endpoint(const char *path)
{
    for (unsigned i = 0; i < WSR__ARRAY_SIZE(endpoints); i++)
        if (strcmp(path, endpoints[i].name) == 0)
            return i;
    return EP_NONE;
}

/* True when the request carries `Authorization: Bearer <ops_token>`
 * (compared in constant time), or no ops_token is configured. */
static bool ops_authorized(struct lws *wsi, const char *token)
{
    char got[512];
    size_t want = token != NULL ? strlen(token) : 0;
    int n;
    bool ok;

    if (token == NULL)
        return true;
    n = lws_hdr_copy(wsi, got, sizeof(got), WSI_TOKEN_HTTP_AUTHORIZATION);
    ok = n > 7 && strncasecmp(got, "Bearer ", 7) == 0 && (size_t)n - 7 == want &&
         CRYPTO_memcmp(got + 7, token, want) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

/* Readiness: not while draining, nor while the engine is down. */
static unsigned ready_body(wsr__loop_t *loop, wsr__buf_t *body)
{
    const char *why = NULL;
    int rc;

    if (loop->draining)
        rc = wsr__buf_printf(body, "{\"status\":\"draining\"}");
    else if (!wsr__factory_engine_ready(loop->factory, &why))
        rc = wsr__buf_printf(body, "{\"status\":\"engine down\",\"detail\":\"%s\"}",
                             why != NULL ? why : "the engine is not connected");
    else
        return wsr__buf_printf(body, "{\"status\":\"ready\"}") ? 500 : 200;
    return rc ? 500 : 503;
}

/* Fills the body for `path` (after "/_/") asked with `method`; returns the
 * HTTP status. */
static unsigned build_body(struct lws *wsi, wsr__loop_t *loop, const char *method, const char *path,
                           wsr__buf_t *body, const char **type)
{
    /* With an ops listener of their own (ops_port), the endpoints are
     * there only: any other port answers them as unknown paths. */
    const struct lws_vhost *ops = loop->listeners[WSR__LISTENER_OPS].vhost;
    bool elsewhere = loop->server->ops_port >= 0 && (ops == NULL || lws_get_vhost(wsi) != ops);
    unsigned ep = elsewhere ? EP_NONE : find_endpoint(path);
    json_t *snap;
    int rc;

    *type = "application/json";
    if (ep == EP_NONE) {
        rc = wsr__buf_printf(body, "{\"status\":404,\"detail\":\"no endpoint /_/%.100s\"}", path);
        return rc ? 500 : 404;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        rc = wsr__buf_printf(body,
                             "{\"status\":405,\"detail\":\"/_/%s answers GET and HEAD, not "
                             "%s\"}",
                             endpoints[ep].name, method);
        return rc ? 500 : 405;
    }
    if (endpoints[ep].guarded && !ops_authorized(wsi, loop->factory->settings.ops_token)) {
        rc = wsr__buf_printf(body,
                             "{\"status\":401,\"detail\":\"/_/%s needs the ops token: "
                             "Authorization: Bearer TOKEN\"}",
                             endpoints[ep].name);
        return rc ? 500 : 401;
    }
    if (ep == EP_HEALTH) {
        /* A node whose cluster engine is down still serves what needs no
         * engine: it stays healthy (200) and says so in "engine" (/_/ready
         * is the one that answers 503 then). */
        json_t *h = json_pack("{s:s}", "status", loop->draining ? "draining" : "ok");

        if (h != NULL)
            wsr__factory_describe_engine(loop->factory, h);
        rc = h != NULL ? wsr__json_dump(body, h) : WSR_ENOMEM;
        json_decref(h);
        return rc ? 500 : (loop->draining ? 503 : 200);
    }
    if (ep == EP_READY)
        return ready_body(loop, body);
    snap = wsr__server_snapshot(loop->server);
    if (snap == NULL)
        return 500;
    if (ep == EP_STATS) {
        rc = wsr__json_dump(body, snap);
    } else {
        *type = "text/plain; version=0.0.4; charset=utf-8";
        rc = wsr__metrics_text(snap, body);
    }
    json_decref(snap);
    return rc ? 500 : 200;
}

/* The headers a status needs beyond the common ones. */
static int extra_headers(struct lws *wsi, unsigned status, unsigned char **p, unsigned char *end)
{
    static const char allow[] = "GET, HEAD", auth[] = "Bearer";

    if (status == 405)
        return lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
                                           (const unsigned char *)allow, sizeof(allow) - 1, p, end);
    if (status == 401)
        return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                                            (const unsigned char *)auth, sizeof(auth) - 1, p, end);
    return 0;
}

/* Writes the status line and headers of the answer `s` holds. */
static int write_headers(struct lws *wsi, http_session_t *s)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof(hdr) - 1;

    s->headers_due = false;
    if (lws_add_http_common_headers(wsi, s->status, s->type, wsr__buf_payload_len(&s->body), &p,
                                    end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        extra_headers(wsi, s->status, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    if (s->head) {
        wsr__buf_dispose(&s->body);
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

/* The request's Content-Length: 0 when absent or not a number. */
static unsigned long long content_length(struct lws *wsi)
{
    char text[24];
    unsigned long long n = 0;

    if (lws_hdr_copy(wsi, text, sizeof(text), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return 0;
    for (const char *p = text; *p >= '0' && *p <= '9' && n < (1ULL << 50); p++)
        n = n * 10 + (unsigned)(*p - '0');
    return n;
}

/* Builds the answer; it is written once the request's body (a POST's,
 * refused 405 but read to its end first) has arrived. */
static int on_http(struct lws *wsi, http_session_t *s)
{
    wsr__loop_t *loop = lws_context_user(lws_get_context(wsi));
    char uri[256];
    const char *path, *method;

    /* The full URI, rather than lws's remainder after the mountpoint. */
    method = http_method(wsi, uri, sizeof(uri));
    path = strncmp(uri, "/_/", 3) == 0 ? uri + 3 : "";
    wsr__count(&loop->stats->http_requests, 1);
    wsr__buf_init(&s->body, 0, 0);
    s->sent = 0;
    s->status = build_body(wsi, loop, method, path, &s->body, &s->type);
    s->head = strcmp(method, "HEAD") == 0;
    s->headers_due = true;
    s->write_asked = false;
    /* A body to read first: LWS_CALLBACK_HTTP_BODY_COMPLETION asks for the
     * write. lws sends it only for a body of one byte or more, so a
     * "Content-Length: 0" is answered at once (it waited forever). */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 || content_length(wsi) > 0)
        return 0;
    s->write_asked = true;
    lws_callback_on_writable(wsi);
    return 0;
}

static int on_http_writeable(struct lws *wsi, http_session_t *s)
{
    unsigned char buf[LWS_PRE + HTTP_CHUNK];
    size_t left, n;
    enum lws_write_protocol kind;

    if (s->headers_due)
        return write_headers(wsi, s);
    left = wsr__buf_payload_len(&s->body) - s->sent;
    n = WSR__MIN(left, HTTP_CHUNK);
    kind = n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;
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
        return s != NULL ? on_http_writeable(wsi, s) : -1;
    case LWS_CALLBACK_HTTP_BODY:
        return 0; /* an ops endpoint takes no body: read and dropped */
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (s != NULL && !s->write_asked) {
            s->write_asked = true;
            lws_callback_on_writable(wsi);
        }
        return 0;
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
