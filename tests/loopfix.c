/* SPDX-License-Identifier: MIT */
/* A real event loop for the transport's unit tests: see loopfix.h. */
#include "loopfix.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/router_int.h"
#include "core/session_int.h"
#include "server/inbox_int.h"

/* The raw descriptor's protocol: nothing to do but accept the calls. */
static int raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    (void)wsi;
    (void)reason;
    (void)user;
    (void)in;
    (void)len;
    return 0;
}

static int make_context(tu_loop_t *t)
{
    struct lws_context_creation_info info;

    /* As server.c creates a loop's context: no listener of lws's own. */
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.user = &t->loop;
    info.gid = -1;
    info.uid = -1;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    t->loop.ctx = lws_create_context(&info);
    if (t->loop.ctx == NULL)
        return -1;
    wsr__inbox_set_ctx(t->loop.inbox, t->loop.ctx);
    memset(t->protocols, 0, sizeof(t->protocols));
    t->protocols[0].name = WSR_SUBPROTOCOL;
    t->protocols[0].callback = wsr__conn_callback;
    t->protocols[0].per_session_data_size = wsr__conn_size;
    t->protocols[1].name = "wsr-test-raw";
    t->protocols[1].callback = raw_callback;
    memset(&info, 0, sizeof(info));
    info.vhost_name = "test";
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = t->protocols;
    info.user = &t->loop;
    t->vhost = lws_create_vhost(t->loop.ctx, &info);
    return t->vhost != NULL ? 0 : -1;
}

/* A registered connection on a real wsi. */
static int make_conn(tu_loop_t *t)
{
    lws_sock_file_fd_type fd;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    t->peer = sv[1];
    fd.filefd = sv[0];
    memset(&t->conn, 0, sizeof(t->conn));
    t->conn.wsi =
        lws_adopt_descriptor_vhost(t->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "wsr-test-raw", NULL);
    if (t->conn.wsi == NULL)
        return -1;
    t->conn.loop = &t->loop;
    wsr__buf_init(&t->conn.rx, 0, t->f->settings.max_message);
    if (wsr__loop_register(&t->loop, &t->conn, &t->conn.id) != 0)
        return -1;
    t->conn.registered = 1;
    return 0;
}

int tu_loop_open(tu_loop_t *t, const wsr_server_config_t *cfg, const wsr_route_t *routes,
                 void *routes_user)
{
    memset(t, 0, sizeof(*t));
    t->peer = -1;
    t->f = wsr__factory_new(cfg, NULL);
    if (t->f == NULL || wsr_router_add(t->f->router, routes, routes_user, NULL) != 0)
        return -1;
    wsr__router_freeze(t->f->router);
    t->stats = wsr__stats_new(wsr_router_count(t->f->router));
    if (t->stats == NULL || wsr__loop_init(&t->loop, NULL, 0, t->stats) != 0)
        return -1;
    t->loop.factory = t->f;
    if (make_context(t) != 0 || make_conn(t) != 0)
        return -1;
    /* What lws queued meanwhile (a wake at creation, one at adoption) runs
     * now, without waiting: from here on every wake is a case's own. */
    for (int i = 0; i < 3; i++)
        (void)lws_service(t->loop.ctx, -1);
    return 0;
}

void tu_loop_free_queue(wsr__conn_t *c)
{
    wsr__msg_t *m, *next;

    for (m = c->out_head; m != NULL; m = next) {
        next = m->next;
        wsr__msg_free(m);
    }
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
}

void tu_loop_close(tu_loop_t *t)
{
    if (t->loop.ctx != NULL)
        wsr__loop_finish(&t->loop); /* cancels what is pending; closes the wsi */
    tu_loop_free_queue(&t->conn);
    wsr__buf_dispose(&t->conn.rx);
    wsr__loop_dispose(&t->loop);
    wsr__session_unref(t->conn.session);
    t->conn.session = NULL;
    wsr__stats_free(t->stats);
    wsr__factory_free(t->f);
    if (t->peer >= 0)
        close(t->peer);
    t->peer = -1;
}
