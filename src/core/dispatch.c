/* SPDX-License-Identifier: MIT */
/*
 * Dispatch: the step between a decoded request and its handler, shared by
 * every transport and by wsr_router_call. It routes (404, 405, 422),
 * enforces the route's authentication (401, 403), then runs the handler here
 * or hands the request to a worker thread for a blocking route. A handler
 * failure becomes a 500 whose detail leaks nothing; the log gets the rest.
 */
#include "services/factory_int.h"

#include <string.h>

#include "services/auth_int.h"
#include "core/codec_int.h"
#include "core/json_int.h"
#include "core/router_int.h"
#include "server/workers_int.h"

void wsr__run_handler(wsr_factory_t *f, wsr_request_t *req, wsr_response_t *res)
{
    const wsr__route_t *r = req->route;
    int rc = r->def->handler(req, res, r->user);

    if (rc < 0 && !res->deferred) {
        wsr__log(f, WSR_LOG_ERR, "route %s: handler failed: %s", r->def->name, wsr_strerror(rc));
        wsr__response_fail(res);
    } else if (rc < 0) {
        wsr__log(f, WSR_LOG_ERR, "route %s: handler failed after deferring: %s", r->def->name,
                 wsr_strerror(rc));
    }
}

/* 401 and 403, as PROTOCOL.md section 6 says. Returns 1 when answered. */
static int check_access(const wsr__route_t *r, const wsr_request_t *req, wsr_response_t *res)
{
    const char *role = r->def->role;

    if (!(r->flags & WSR_ROUTE_AUTH))
        return 0;
    if (req->session == NULL) {
        (void)wsr_response_error(res, 401,
                                 "route %s requires authentication: log in or send a "
                                 "token",
                                 r->def->name);
        return 1;
    }
    if (role != NULL && !wsr_request_has_role(req, role)) {
        (void)wsr_response_error(res, 403, "route %s requires the role %s", r->def->name, role);
        return 1;
    }
    return 0;
}

int wsr__dispatch(wsr_factory_t *f, const wsr_router_t *router, wsr_request_t *req,
                  wsr_response_t *res)
{
    int rc = wsr__auth_request(f, req, res);

    if (rc == 0)
        rc = wsr__router_route(router, req, res);
    if (rc == 0)
        rc = check_access(req->route, req, res);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        wsr__response_fail(res);
        return 0;
    }
    if ((req->route->flags & WSR_ROUTE_BLOCKING) && f != NULL && f->workers != NULL)
        return wsr__workers_submit(f->workers, req, res);
    wsr__run_handler(f, req, res);
    return res->deferred ? 1 : 0;
}

int wsr_router_call(wsr_router_t *router, const void *msg, size_t len, bool binary, char **reply,
                    size_t *reply_len)
{
    char detail[WSR__DETAIL_MAX];
    wsr_request_t req;
    wsr_response_t res;
    wsr__buf_t out, scratch;
    int rc;

    *reply = NULL;
    *reply_len = 0;
    wsr__request_init(&req);
    wsr__response_init(&res);
    req.start_ns = wsr__now_ns();
    rc = wsr__codec_decode(&req, msg, len, binary, 64, detail);
    if (rc == WSR_EPARSE)
        (void)wsr__response_error_str(&res, 400, detail);
    else if (rc != 0)
        wsr__response_fail(&res);
    else if (wsr__dispatch(NULL, router, &req, &res) == 1)
        wsr__response_fail(&res); /* cannot happen: no defer hook here */
    wsr__buf_init(&out, 0, 0);
    wsr__buf_init(&scratch, 0, 0);
    rc = wsr__response_encode(&out, &res, req.id, req.event_name, req.method == WSR_HEAD,
                              req.format, &scratch);
    if (rc == 0)
        rc = wsr__buf_putc(&out, '\0');
    if (rc == 0) {
        *reply = (char *)out.data;
        *reply_len = out.len - 1;
    } else {
        wsr__buf_dispose(&out);
        rc = WSR_ENOMEM;
    }
    wsr__buf_dispose(&scratch);
    wsr__response_dispose(&res);
    wsr__request_dispose(&req);
    return rc;
}
