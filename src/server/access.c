/* SPDX-License-Identifier: MIT */
/* The access log (access_int.h). */
#include "server/access_int.h"

#include <stdio.h>
#include <string.h>

#include "core/router_int.h"
#include "core/session_int.h"
#include "core/stats_int.h"
#include "server/conn_int.h"
#include "services/factory_int.h"

/* True when access lines are written: access_log on, a log, level info. */
static bool logging(const wsr_factory_t *f)
{
    return f != NULL && atomic_load_explicit(&f->access_log, memory_order_relaxed) &&
           f->log != NULL &&
           atomic_load_explicit(&f->log_level, memory_order_relaxed) >= WSR_LOG_INFO;
}

void wsr__access_init(wsr__access_t *a, const wsr_request_t *req)
{
    char name[WSR__ACCESS_WHAT - 8];

    /* Off, nothing is filled: the line's formatting (snprintf) was about
     * 850 instructions of every request, logged or not. */
    if (!logging(req->factory)) {
        a->what[0] = '\0';
        return;
    }
    wsr__peer_address(req->peer, a->addr, sizeof(a->addr));
    wsr__copy_printable(a->user, sizeof(a->user), wsr__session_user(req->session));
    a->conn_id = req->conn_id;
    a->bytes_in = req->bytes_in;
    a->transport = req->transport;
    if (req->path != NULL && req->method != 0) {
        wsr__copy_printable(name, sizeof(name), req->path);
        snprintf(a->what, sizeof(a->what), "%s %s", wsr_method_name(req->method), name);
    } else if (req->cmd != NULL) {
        wsr__copy_printable(name, sizeof(name), req->cmd);
        snprintf(a->what, sizeof(a->what), "cmd %s", name);
    } else if (req->cmdid != 0) {
        snprintf(a->what, sizeof(a->what), "cmdid %lld", req->cmdid);
    } else if (req->route != NULL) {
        wsr__copy_printable(name, sizeof(name), req->route->def->name);
        snprintf(a->what, sizeof(a->what), "cmd %s", name);
    } else {
        memcpy(a->what, "-", 2);
    }
}

void wsr__access_log(struct wsr__loop *loop, const struct wsr__conn *c, const wsr__access_t *a,
                     int status, uint64_t ns, size_t bytes_out)
{
    const wsr_factory_t *f = loop->factory;
    const char *now = c != NULL ? wsr__session_user(c->session) : NULL;
    char user[sizeof(a->user)];

    if (a->what[0] == '\0' || !logging(f))
        return;
    if (now != NULL)
        wsr__copy_printable(user, sizeof(user), now);
    else
        memcpy(user, a->user[0] ? a->user : "-", strlen(a->user[0] ? a->user : "-") + 1);
    wsr__log(f, WSR_LOG_INFO, "access conn#%llx %s %s \"%s\" %d %lluus in=%zu out=%zu %s",
             (unsigned long long)a->conn_id, a->addr[0] ? a->addr : "-", user, a->what, status,
             (unsigned long long)(ns / 1000), a->bytes_in, bytes_out,
             wsr__stats_transport_name(a->transport));
}
