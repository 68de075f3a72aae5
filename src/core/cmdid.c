/* SPDX-License-Identifier: MIT */
/*
 * tornado-TCP's command ids (see cmdid_int.h). The router keeps its routes
 * by name and URL; a cmdid is looked up by a scan, since few routes have
 * one and tornado-TCP's peers are servers, not crowds of clients.
 */
#include "core/cmdid_int.h"

#include <stdio.h>

#include "core/codec_int.h"
#include "core/json_int.h"

int wsr__cmdid_read(wsr_request_t *req, char *detail)
{
    json_t *v = wsr__request_get(req, WSR__KEY_CMDID), *params;

    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return wsr__codec_bad(detail, "member cmdid must be a positive integer");
    params = wsr__request_get(req, WSR__KEY_PARAMS);
    if (params != NULL && !json_is_object(params))
        return wsr__codec_bad(detail, "member params must be an object");
    req->cmdid = (long long)json_integer_value(v);
    if (params != NULL && req->data == NULL)
        req->data = params;
    return 0;
}

int wsr__cmdid_check(wsr__route_t *const *routes, size_t n, wsr_error_t *err)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; routes[i]->def->cmdid != 0 && j < n; j++)
            if (routes[j]->def->cmdid == routes[i]->def->cmdid) {
                if (err != NULL)
                    snprintf(err->key, sizeof(err->key), "%s", routes[j]->def->name);
                return wsr__error_set(
                    err, WSR_EEXIST, "cmdid %lld is registered twice (routes '%s' and '%s')",
                    routes[i]->def->cmdid, routes[i]->def->name, routes[j]->def->name);
            }
    return 0;
}

const wsr__route_t *wsr__cmdid_find(const wsr_router_t *router, long long cmdid)
{
    const wsr__route_t *r;

    for (size_t i = 0; (r = wsr__router_get(router, i)) != NULL; i++)
        if (r->def->cmdid == cmdid)
            return r;
    return NULL;
}
