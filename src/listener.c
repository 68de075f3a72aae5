/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets. Debian's libwebsockets 4.1.6 is built with LWS_MAX_SMP=1
 * and then never sets SO_REUSEPORT, so several contexts cannot share a port
 * through LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE. wsrouter therefore owns its
 * listening sockets: one per event loop, in one SO_REUSEPORT group, so the
 * kernel spreads new connections over the loops. Each loop watches its socket
 * as a raw descriptor, accepts, and hands the connection to its vhost with
 * lws_adopt_socket_vhost(). Owning accept() also gives an exact bind, a real
 * "stop accepting" when draining, and a place for connection limits.
 * This file owns the listening descriptors; it never reads from a connection.
 */
#include "listener_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "limits_int.h"

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

int wsr__listen_adopt(wsr__loop_t *loop)
{
    lws_sock_file_fd_type fd;

    fd.filefd = loop->listen_fd;
    loop->listen_wsi = lws_adopt_descriptor_vhost(loop->vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                                  WSR__LISTEN_PROTOCOL, NULL);
    if (loop->listen_wsi == NULL) {
        loop->listen_fd = -1; /* lws closed it */
        return WSR_EIO;
    }
    return 0;
}

void wsr__listen_stop(wsr__loop_t *loop)
{
    if (loop->listen_wsi != NULL)
        lws_set_timeout(loop->listen_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Out of descriptors: stop watching the socket for a moment instead of
 * spinning on a connection that cannot be accepted. */
static void resume_accepting(lws_sorted_usec_list_t *sul)
{
    wsr__loop_t *loop = lws_container_of(sul, wsr__loop_t, accept_sul);

    if (loop->listen_wsi != NULL && !loop->draining)
        lws_rx_flow_control(loop->listen_wsi, 1);
}

static void accept_some(wsr__loop_t *loop)
{
    struct lws *wsi;
    int one = 1;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept(loop->listen_fd, (struct sockaddr *)&ss, &sl);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                wsr__log(loop->factory, WSR_LOG_WARN, "accept: %s; pausing 100 ms",
                         strerror(errno));
                lws_rx_flow_control(loop->listen_wsi, 0);
                lws_sul_schedule(loop->ctx, 0, &loop->accept_sul, resume_accepting,
                                 100 * LWS_US_PER_MS);
            }
            return;
        }
        if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0 || loop->draining ||
            !wsr__limits_admit(loop, &ss)) {
            wsr__count(&loop->stats->refused, 1);
            close(fd);
            continue;
        }
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* On failure lws closes the descriptor itself. */
        wsi = lws_adopt_socket_vhost(loop->vhost, fd);
        if (wsi == NULL) {
            wsr__limits_release_addr(loop, &ss);
            wsr__count(&loop->stats->refused, 1);
            continue;
        }
        /* The token goes with the connection; WSI_DESTROY releases it. */
        lws_set_opaque_user_data(wsi, loop->admitted);
        loop->admitted = NULL;
    }
}

int wsr__listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    wsr__loop_t *loop = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;

    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* never a WebSocket protocol */
    case LWS_CALLBACK_RAW_RX_FILE:
        if (loop != NULL && wsi == loop->listen_wsi)
            accept_some(loop);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (loop != NULL && wsi == loop->listen_wsi) {
            loop->listen_wsi = NULL;
            loop->listen_fd = -1;
        }
        return 0;
    default:
        return 0;
    }
}
