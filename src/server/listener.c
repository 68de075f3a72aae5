/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets. Debian's libwebsockets 4.1.6 is built with LWS_MAX_SMP=1
 * and then never sets SO_REUSEPORT, so several contexts cannot share a port
 * through LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE. wsrouter therefore owns its
 * listening sockets: one per event loop, in one SO_REUSEPORT group, so the
 * kernel spreads new connections over the loops. Each loop watches its socket
 * as a raw descriptor, accepts, and hands the connection to its vhost with
 * lws_adopt_socket_vhost(). Owning accept() also gives an exact bind, a real
 * "stop accepting" when draining, and a place for connection limits (a
 * trusted proxy's connections count in the total only, here).
 * This file owns the listening descriptors; it never reads from a connection.
 */
#include "server/listener_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/limits_int.h"
#include "server/proxies_int.h"
#include "server/raw_int.h"

#define ACCEPT_BATCH 64
#define BACKLOG      4096

/* Fills `ss` with `addr`:`port`; returns its length or 0 if not numeric. */
static socklen_t make_addr(const char *addr, int port, struct sockaddr_storage *ss)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return sizeof(*v4);
    }
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return sizeof(*v6);
    }
    return 0;
}

/* Binds a socket to addr:port; `share` puts it in the SO_REUSEPORT group.
 * Returns the descriptor or -errno. */
static int bind_socket(const struct sockaddr_storage *ss, socklen_t len, bool share)
{
    int one = 1, fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (share && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, (const struct sockaddr *)ss, len) != 0) {
        e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int wsr__listen_open(const char *addr, int port, unsigned count, int *fds, int *bound_port,
                     wsr_error_t *err)
{
    struct sockaddr_storage ss;
    socklen_t len = make_addr(addr, port, &ss), sl;
    unsigned i;
    int fd;

    if (len == 0)
        return wsr__error_set(err, WSR_EINVAL, "host %s is not a numeric address", addr);
    for (i = 0; i < count; i++)
        fds[i] = -1;
    /* SO_REUSEPORT lets any socket of this user join the group, so first make
     * sure nobody holds the port: a plain bind fails if anyone does. */
    if (port != 0) {
        fd = bind_socket(&ss, len, false);
        if (fd < 0)
            goto fail_bind;
        close(fd);
    }
    for (i = 0; i < count; i++) {
        fd = bind_socket(&ss, len, count > 1);
        if (fd < 0)
            goto fail_bind;
        fds[i] = fd;
        if (i == 0 && port == 0) {
            /* The kernel picked the port: the other loops join it. */
            sl = sizeof(ss);
            if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
                goto fail_bind;
            len = sl;
        }
        if (listen(fd, BACKLOG) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
            goto fail_bind;
    }
    *bound_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
fail_bind:
    wsr__listen_close(fds, count);
    return wsr__error_set(err, WSR_EIO, "cannot listen on %s port %d: %s", addr, port,
                          strerror(fd < 0 ? -fd : errno));
}

void wsr__listen_close(int *fds, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

int wsr__listen_adopt(wsr__loop_t *loop, unsigned k)
{
    wsr__listener_t *l = &loop->listeners[k];
    lws_sock_file_fd_type fd;

    fd.filefd = l->fd;
    l->wsi = lws_adopt_descriptor_vhost(l->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, WSR__LISTEN_PROTOCOL,
                                        NULL);
    l->fd = -1; /* lws owns it now, or closed it on failure */
    return l->wsi != NULL ? 0 : WSR_EIO;
}

void wsr__listen_stop(wsr__loop_t *loop)
{
    for (unsigned k = 0; k < WSR__LISTENERS; k++)
        if (loop->listeners[k].wsi != NULL)
            lws_set_timeout(loop->listeners[k].wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Out of descriptors: stop watching the sockets for a moment instead of
 * spinning on a connection that cannot be accepted. */
static void resume_accepting(lws_sorted_usec_list_t *sul)
{
    wsr__loop_t *loop = lws_container_of(sul, wsr__loop_t, accept_sul);

    for (unsigned k = 0; !loop->draining && k < WSR__LISTENERS; k++)
        if (loop->listeners[k].wsi != NULL)
            lws_rx_flow_control(loop->listeners[k].wsi, 1);
}

static void pause_accepting(wsr__loop_t *loop, int e)
{
    wsr__log(loop->factory, WSR_LOG_WARN, "accept: %s; pausing 100 ms", strerror(e));
    for (unsigned k = 0; k < WSR__LISTENERS; k++)
        if (loop->listeners[k].wsi != NULL)
            lws_rx_flow_control(loop->listeners[k].wsi, 0);
    lws_sul_schedule(loop->ctx, 0, &loop->accept_sul, resume_accepting, 100 * LWS_US_PER_MS);
}

/*
 * Counts a new connection from `ss` in the limits. A trusted proxy's counts
 * in the total only: its client is known at the WebSocket handshake, where
 * conn.c counts it against the client's address. Returns the token, or NULL
 * when the connection is refused.
 */
static void *admit(wsr__loop_t *loop, const struct sockaddr_storage *ss)
{
    wsr__addr_t peer;
    char text[WSR__ADDR_TEXT_MAX];
    void *token = NULL;
    bool via_proxy;
    wsr__admit_t rc;

    (void)wsr__addr_of_sockaddr(ss, &peer);
    via_proxy = wsr__proxies_trusted(wsr__loop_policy(loop)->proxies, &peer);
    rc = wsr__limits_admit(loop->limits, via_proxy ? NULL : &peer, &token);
    if (rc != WSR__ADMIT_OK) {
        wsr__addr_format(&peer, text, sizeof(text));
        wsr__log(loop->factory, WSR_LOG_INFO, "connection from %s refused: %s", text,
                 rc == WSR__ADMIT_TOTAL         ? "total limit reached"
                 : rc == WSR__ADMIT_PER_ADDRESS ? "per-address limit reached"
                                                : "out of memory");
    }
    return token;
}

/* Accepts what is waiting on listener `l` and adopts it into its vhost. */
static void accept_some(wsr__loop_t *loop, wsr__listener_t *l)
{
    /* Raw TCP connections go to the raw protocol, without HTTP. */
    bool raw =
        l == &loop->listeners[WSR__LISTENER_RAW] || l == &loop->listeners[WSR__LISTENER_RAWS];
    unsigned timeout = (loop->factory->settings.handshake_timeout_ms + 999) / 1000;
    int one = 1, fd = lws_get_socket_fd(l->wsi);
    lws_sock_file_fd_type fdu;
    struct lws *wsi;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int c = accept(fd, (struct sockaddr *)&ss, &sl);
        void *token = NULL;

        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(loop, errno);
            return;
        }
        /* The ops listener's connections (health checks, scrapes) are not
         * counted in the limits: a server full of clients still answers them. */
        if (fcntl(c, F_SETFL, O_NONBLOCK) != 0 || loop->draining ||
            (l != &loop->listeners[WSR__LISTENER_OPS] && (token = admit(loop, &ss)) == NULL)) {
            wsr__count(&loop->stats->refused, 1);
            close(c);
            continue;
        }
        (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* On failure lws closes the descriptor itself. ALLOW_SSL does TLS
         * when the vhost has a certificate (lws_adopt_socket_vhost would not). */
        fdu.sockfd = c;
        if (raw)
            wsi = lws_adopt_descriptor_vhost(l->vhost, LWS_ADOPT_SOCKET | LWS_ADOPT_ALLOW_SSL, fdu,
                                             WSR__RAW_PROTOCOL, NULL);
        else
            wsi = lws_adopt_descriptor_vhost(
                l->vhost, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | LWS_ADOPT_ALLOW_SSL, fdu, NULL, NULL);
        if (wsi == NULL) {
            wsr__limits_release(loop->limits, token);
            wsr__count(&loop->stats->refused, 1);
            continue;
        }
        /* The token goes with the connection; WSI_DESTROY releases it. */
        lws_set_opaque_user_data(wsi, token);
        /* The whole handshake (TLS, HTTP headers, upgrade) gets this long; a
         * slow client is dropped. Establishing the WebSocket clears it. */
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int)timeout);
    }
}

int wsr__listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    wsr__loop_t *loop = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;

    (void)user;
    (void)in;
    (void)len;
    if (loop == NULL)
        return 0;
    for (unsigned k = 0; k < WSR__LISTENERS; k++) {
        wsr__listener_t *l = &loop->listeners[k];

        if (wsi != l->wsi || l->wsi == NULL)
            continue;
        if (reason == LWS_CALLBACK_RAW_RX_FILE)
            accept_some(loop, l);
        else if (reason == LWS_CALLBACK_RAW_CLOSE_FILE)
            l->wsi = NULL;
        return 0;
    }
    /* Never a WebSocket protocol of its own. */
    return reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION ? -1 : 0;
}
