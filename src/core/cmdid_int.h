/* SPDX-License-Identifier: MIT */
/*
 * tornado-TCP's numeric command ids (PROTOCOL.md section 8): a route may
 * declare a `cmdid`, a request `{"cmdid":N,"params":{...},"timestamp":T}`
 * reaches it. Reading such a request, refusing two routes with one cmdid
 * when the table is built, and finding a route by its cmdid. Pure.
 */
#ifndef WSR_CORE_CMDID_INT_H
#define WSR_CORE_CMDID_INT_H

#include "core/request_int.h"
#include "core/router_int.h"

/* Reads req->root's cmdid and params (the arguments, and the handler's data
 * when the request has none). Returns 0, or WSR_EPARSE with `detail`. */
WSR_NODISCARD int wsr__cmdid_read(wsr_request_t *req, char *detail);

/* Refuses (WSR_EEXIST, `err` naming both routes) two of `routes` (n of
 * them, borrowed) with one non-zero cmdid. Returns 0 otherwise. */
WSR_NODISCARD int wsr__cmdid_check(wsr__route_t *const *routes, size_t n, wsr_error_t *err);

/* The route of `router` whose cmdid is `cmdid` (borrowed), or NULL. */
const wsr__route_t *wsr__cmdid_find(const wsr_router_t *router, long long cmdid);

#endif /* WSR_CORE_CMDID_INT_H */
