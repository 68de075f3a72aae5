/* SPDX-License-Identifier: MIT */
/*
 * minimal-lws: the first baseline of wsrouter's benchmark (GitHub issue 8),
 * the ceiling of our own stack. It is libwebsockets and jansson with no
 * routing, in the shape of lws's minimal-ws-server example: one event loop,
 * a small queue of pending replies per connection, one lws_write per
 * SERVER_WRITEABLE callback, json_loadb and json_dumps. It answers the two
 * requests the benchmark sends, `add` (by cmd, or POST /math/add) and
 * POST /echo, with the same reply shape as wsrouterd; anything else gets a
 * 404 or a 400. It binds 127.0.0.1 only, validates UTF-8 as wsrouterd does,
 * serves ws:// or (with --tls-cert and --tls-key) wss://, and prints
 * "minimal-lws listening on ws://127.0.0.1:PORT/" once it listens. It is a
 * measuring stick, not a server to deploy: no limits beyond a message cap.
 *
 *   minimal-lws [--port N] [--tls-cert FILE --tls-key FILE]
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>
#include <libwebsockets.h>

#define MAX_MESSAGE (1024 * 1024) /* wsrouterd's default max_message */
#define QUEUE_SOFT  64            /* replies queued before we stop reading */

/* One reply waiting for SERVER_WRITEABLE, with LWS_PRE bytes of headroom. */
struct reply {
    struct reply *next; /* owned */
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len */
};

/* Per connection, in lws's per-session allocation (zeroed by lws). */
struct session {
    struct reply *head, *tail; /* owned: the queue, oldest first */
    unsigned queued;
    bool throttled; /* rx flow control is off */
    char *rx;       /* owned: a message arriving in several pieces */
    size_t rx_len, rx_cap;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* data for `add`: an integer when both operands are, as wsrouterd answers. */
static json_t *add(json_t *args, int *status)
{
    json_t *x = json_object_get(args, "x"), *y = json_object_get(args, "y");

    if (!json_is_number(x) || !json_is_number(y)) {
        *status = 422;
        return NULL;
    }
    if (json_is_integer(x) && json_is_integer(y))
        return json_integer(json_integer_value(x) + json_integer_value(y));
    return json_real(json_number_value(x) + json_number_value(y));
}

/* The reply to one message, as compact JSON text (owned: free()), or NULL. */
static char *answer(const char *in, size_t len)
{
    json_t *req = json_loadb(in, len, 0, NULL), *rep = json_object(), *data = NULL;
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    const char *url = json_string_value(json_object_get(req, "url"));
    int status = 200;
    char *text = NULL;

    if (rep == NULL)
        goto out;
    if (!json_is_object(req))
        status = 400;
    else if ((cmd != NULL && strcmp(cmd, "add") == 0) ||
             (url != NULL && strcmp(url, "/math/add") == 0))
        data = add(json_object_get(req, "args"), &status);
    else if (url != NULL && strcmp(url, "/echo") == 0)
        data = json_incref(json_object_get(req, "data"));
    else
        status = 404;
    json_object_set_new(rep, "status", json_integer(status));
    if (status == 200)
        json_object_set_new(rep, "data", data ? data : json_null());
    else
        json_object_set_new(rep, "detail", json_string("not served by minimal-lws"));
    if (json_object_get(req, "id") != NULL)
        json_object_set(rep, "id", json_object_get(req, "id"));
    data = json_object_get(req, "event_name");
    json_object_set_new(rep, "event_name", data ? json_incref(data) : json_null());
    text = json_dumps(rep, JSON_COMPACT);
out:
    json_decref(rep);
    json_decref(req);
    return text;
}

static int enqueue(struct lws *wsi, struct session *s, const char *in, size_t len)
{
    char *text = answer(in, len);
    size_t n = text ? strlen(text) : 0;
    struct reply *r = text ? malloc(sizeof(*r) + LWS_PRE + n) : NULL;

    if (r == NULL) {
        free(text);
        return -1;
    }
    r->next = NULL;
    r->len = n;
    memcpy(r->buf + LWS_PRE, text, n);
    free(text);
    if (s->tail != NULL)
        s->tail->next = r;
    else
        s->head = r;
    s->tail = r;
    if (++s->queued >= QUEUE_SOFT && !s->throttled) {
        s->throttled = true;
        lws_rx_flow_control(wsi, 0);
    }
    lws_callback_on_writable(wsi);
    return 0;
}

/* A piece of a message: answer it when it is the last one. */
static int on_receive(struct lws *wsi, struct session *s, const char *in, size_t len)
{
    bool last = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    char *p;

    if (last && s->rx_len == 0)
        return enqueue(wsi, s, in, len); /* the whole message in one piece: no copy */
    if (s->rx_len + len > MAX_MESSAGE)
        return -1;
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap * 2 : 4096;

        while (cap < s->rx_len + len)
            cap *= 2;
        p = realloc(s->rx, cap);
        if (p == NULL)
            return -1;
        s->rx = p;
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!last)
        return 0;
    len = s->rx_len;
    s->rx_len = 0;
    return enqueue(wsi, s, s->rx, len);
}

/* One lws_write per callback; ask again while replies wait. */
static int on_writeable(struct lws *wsi, struct session *s)
{
    struct reply *r = s->head;
    int n;

    if (r == NULL)
        return 0;
    s->head = r->next;
    if (s->head == NULL)
        s->tail = NULL;
    s->queued--;
    n = lws_write(wsi, r->buf + LWS_PRE, r->len, LWS_WRITE_TEXT);
    free(r);
    if (n < 0)
        return -1;
    if (s->throttled && s->queued < QUEUE_SOFT / 2) {
        s->throttled = false;
        lws_rx_flow_control(wsi, 1);
    }
    if (s->head != NULL)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_closed(struct session *s)
{
    while (s->head != NULL) {
        struct reply *r = s->head;

        s->head = r->next;
        free(r);
    }
    s->tail = NULL;
    free(s->rx);
    s->rx = NULL;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct session *s = user;

    switch (reason) {
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED:
        on_closed(s);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    /* First, so that a client asking for no subprotocol lands here. */
    {"wsrouter.v1", callback, sizeof(struct session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}, /* the end (lws 4.1 has no LWS_PROTOCOL_LIST_TERM) */
};

/* --port N, --tls-cert FILE, --tls-key FILE; -1 on anything else. */
static int parse_args(int argc, char **argv, struct lws_context_creation_info *info)
{
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        long port;

        if (v == NULL)
            return -1;
        if (strcmp(argv[i], "--port") == 0) {
            port = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || port < 0 || port > 65535)
                return -1;
            info->port = (int)port;
        } else if (strcmp(argv[i], "--tls-cert") == 0) {
            info->ssl_cert_filepath = v;
        } else if (strcmp(argv[i], "--tls-key") == 0) {
            info->ssl_private_key_filepath = v;
        } else {
            return -1;
        }
    }
    return (info->ssl_cert_filepath == NULL) == (info->ssl_private_key_filepath == NULL) ? 0 : -1;
}

/* As wsrouterd does: every descriptor the hard limit allows, for 10 000 clients. */
static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct lws_context_creation_info info;
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: wake lws_service */
    struct lws_context *ctx;
    struct lws_vhost *vh;
    bool tls;

    memset(&info, 0, sizeof(info));
    info.port = 7681;
    if (parse_args(argc, argv, &info) != 0) {
        fprintf(stderr, "usage: minimal-lws [--port N] [--tls-cert FILE --tls-key FILE]\n");
        return 1;
    }
    tls = info.ssl_cert_filepath != NULL;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.vhost_name = "localhost";
    info.gid = -1;
    info.uid = -1;
    info.options =
        LWS_SERVER_OPTION_VALIDATE_UTF8 | (tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
    raise_nofile();
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    lws_set_log_level(LLL_ERR, NULL);
    ctx = lws_create_context(&info);
    vh = ctx ? lws_get_vhost_by_name(ctx, "localhost") : NULL;
    if (vh == NULL) {
        fprintf(stderr, "minimal-lws: cannot create the context (port in use? certificate?)\n");
        lws_context_destroy(ctx);
        return 1;
    }
    printf("minimal-lws listening on %s://127.0.0.1:%d/\n", tls ? "wss" : "ws",
           lws_get_vhost_listen_port(vh));
    fflush(stdout);
    while (!interrupted && lws_service(ctx, 0) >= 0)
        ;
    lws_context_destroy(ctx);
    return 0;
}
