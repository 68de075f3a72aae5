/* SPDX-License-Identifier: MIT */
/*
 * Dispatch (see dispatch_int.h), and wsr_router_call, which runs the whole
 * pipeline in memory: decode, dispatch, encode, without a server. A handler
 * failure becomes a 500 whose detail leaks nothing; the caller logs the rest.
 */
#include "core/dispatch_int.h"

#include <string.h>

#include "core/codec_int.h"
#include "core/json_int.h"
#include "core/router_int.h"

int wsr__dispatch_run(wsr_request_t *req, wsr_response_t *res)
{
    const wsr__route_t *r = req->route;
    int rc = r->def->handler(req, res, r->user);

    if (rc >= 0)
        return 0;
    if (!res->deferred)
        wsr__response_fail(res);
    return rc;
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

int wsr__dispatch_route(const wsr_router_t *router, wsr_request_t *req, wsr_response_t *res)
{
    int rc = wsr__router_route(router, req, res);

    if (rc == 0)
        rc = check_access(req->route, req, res);
    if (rc == 1)
        return WSR__DISPATCH_ANSWERED;
    if (rc != 0) {
        wsr__response_fail(res);
        return WSR__DISPATCH_ANSWERED;
    }
    return (req->route->flags & WSR_ROUTE_BLOCKING) ? WSR__DISPATCH_BLOCKING : WSR__DISPATCH_RUN;
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
    else if (wsr__dispatch_route(router, &req, &res) != WSR__DISPATCH_ANSWERED)
        (void)wsr__dispatch_run(&req, &res); /* no defer hook: never deferred */
    wsr__buf_init(&out, 0, 0);
    wsr__buf_init(&scratch, 0, 0);
    rc = wsr__codec_encode_response(&out, &res, req.id, req.event_name, req.method == WSR_HEAD,
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
