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
    if (rc == WSR_ECONNECT && !res->deferred) {
        /* The cluster engine (Redis) cannot be reached: PROTOCOL.md section
         * 11's 503, not a handler failure (its state change is logged once,
         * not each request it fails). */
        (void)wsr__response_error_str(res, 503, WSR__ENGINE_UNAVAILABLE);
        return 0;
    }
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

/* Serves one decoded request (`rc` is what decoding said) and appends its
 * answer to `out`; nothing for a notification. Returns 0 or WSR_ENOMEM. */
static int call_one(wsr_router_t *router, wsr_request_t *req, int rc, const char *detail,
                    wsr__buf_t *out, wsr__buf_t *scratch)
{
    wsr_response_t res;
    wsr__reply_to_t to;

    wsr__response_init(&res);
    if (rc == WSR_EPARSE)
        (void)wsr__response_error_str(&res, 400, detail);
    else if (rc == WSR__DECODE_INPUT)
        (void)wsr__response_error_str(&res, 404, "no call with this id is running to take input");
    else if (rc != 0)
        wsr__response_fail(&res);
    else if (wsr__dispatch_route(router, req, &res) != WSR__DISPATCH_ANSWERED)
        (void)wsr__dispatch_run(req, &res); /* no defer hook: never deferred */
    to = wsr__reply_to(req);
    rc = req->notification ? 0 : wsr__codec_encode_answer(out, &res, &to, scratch);
    wsr__response_dispose(&res);
    return rc;
}

/* A JSON-RPC batch, element by element: one array of the answers, nothing
 * when every element was a notification. */
static int call_batch(wsr_router_t *router, const wsr_request_t *batch, wsr__buf_t *out,
                      wsr__buf_t *scratch)
{
    size_t n = json_array_size(batch->root);
    int rc = wsr__buf_putc(out, '[');

    for (size_t i = 0; rc == 0 && i < n; i++) {
        char detail[WSR__DETAIL_MAX];
        size_t mark = out->len;
        bool first = mark == 1;
        wsr_request_t req;
        int drc;

        wsr__request_init(&req);
        req.start_ns = batch->start_ns;
        drc = wsr__codec_decode_element(&req, json_incref(json_array_get(batch->root, i)), detail);
        if (!first)
            rc = wsr__buf_putc(out, ',');
        if (rc == 0)
            rc = call_one(router, &req, drc, detail, out, scratch);
        if (rc == 0 && out->len == mark + !first)
            out->len = mark; /* a notification: no answer, no comma */
        wsr__request_dispose(&req);
    }
    if (rc == 0 && out->len == 1)
        out->len = 0;
    else if (rc == 0)
        rc = wsr__buf_putc(out, ']');
    return rc;
}

int wsr_router_call(wsr_router_t *router, const void *msg, size_t len, bool binary, char **reply,
                    size_t *reply_len)
{
    char detail[WSR__DETAIL_MAX];
    wsr_request_t req;
    wsr__buf_t out, scratch;
    int rc;

    *reply = NULL;
    *reply_len = 0;
    wsr__request_init(&req);
    req.start_ns = wsr__now_ns();
    rc = wsr__codec_decode(&req, msg, len, binary, 64, detail);
    wsr__buf_init(&out, 0, 0);
    wsr__buf_init(&scratch, 0, 0);
    if (rc == WSR__DECODE_BATCH)
        rc = call_batch(router, &req, &out, &scratch);
    else
        rc = call_one(router, &req, rc, detail, &out, &scratch);
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
    wsr__request_dispose(&req);
    return rc;
}
