/* SPDX-License-Identifier: MIT */
/*
 * The request's lifecycle and the accessors handlers use. A request owns its
 * decoded message and everything derived from it; accessors hand out borrowed
 * pointers into it.
 */
#include "core/request_int.h"

#include <string.h>

#include "core/json_int.h"
#include "core/session_int.h"
#include "core/router_int.h"

void wsr__request_init(wsr_request_t *req)
{
    memset(req, 0, sizeof(*req));
}

void wsr__request_dispose(wsr_request_t *req)
{
    json_decref(req->args);
    json_decref(req->path_args);
    json_decref(req->query);
    json_decref(req->args_in);
    json_decref(req->root);
    wsr__jmsg_free(req->msg);
    wsr__free(req->path);
    wsr__free((char *)req->cert_subject);
    wsr__session_unref(req->session);
    wsr__request_init(req);
}

wsr_method_t wsr_request_method(const wsr_request_t *req)
{
    return (wsr_method_t)req->method;
}

const char *wsr_request_path(const wsr_request_t *req)
{
    return req->path;
}

const char *wsr_request_route_name(const wsr_request_t *req)
{
    return req->route ? wsr__route_name(req->route) : NULL;
}

json_t *wsr__request_get(const wsr_request_t *req, int k)
{
    if (req->root != NULL)
        return json_object_get(req->root, wsr__keys[k]);
    if (req->msg == NULL || req->msg->slot[k] == 0)
        return NULL;
    return wsr__jmsg_value(req->msg, &req->msg->top.m[req->msg->slot[k] - 1]);
}

bool wsr__request_text(const wsr_request_t *req, int k, const char **s, size_t *n)
{
    const wsr__flat_member_t *m;

    if (req->root != NULL || req->msg == NULL || req->msg->slot[k] == 0)
        return false;
    m = &req->msg->top.m[req->msg->slot[k] - 1];
    if (!m->raw)
        return false;
    *s = req->msg->text + m->soff;
    *n = m->slen;
    return true;
}

bool wsr__request_has(const wsr_request_t *req, int k)
{
    if (req->root != NULL)
        return json_object_get(req->root, wsr__keys[k]) != NULL;
    return req->msg != NULL && req->msg->slot[k] != 0;
}

json_t *wsr__request_root(wsr_request_t *req)
{
    if (req->root == NULL && req->msg != NULL)
        req->root = wsr__jmsg_object(req->msg, &req->msg->top);
    return req->root;
}

bool wsr__request_has_args_in(const wsr_request_t *req)
{
    return req->args_in != NULL || req->args_in_flat;
}

json_t *wsr__request_arg_in(const wsr_request_t *req, const char *name)
{
    if (req->args_in != NULL)
        return json_object_get(req->args_in, name);
    if (!req->args_in_flat)
        return NULL;
    /* Once built, the object is the truth: a handler may have changed it. */
    if (req->msg->args_obj != NULL)
        return json_object_get(req->msg->args_obj, name);
    return wsr__jmsg_get(req->msg, &req->msg->args, name);
}

json_t *wsr__request_args_in(wsr_request_t *req)
{
    if (req->args_in != NULL)
        return req->args_in;
    return req->args_in_flat ? wsr__jmsg_args(req->msg) : NULL;
}

json_t *wsr_request_args(const wsr_request_t *req)
{
    /* The router always sets args (an object) before a handler runs; args
     * taken as sent from a flat message are built on the first call. The
     * request is the handler's alone while it runs: caching is safe. */
    if (req->args == NULL && req->args_sent) {
        wsr_request_t *mut = (wsr_request_t *)req;

        mut->args = json_incref(wsr__request_args_in(mut));
    }
    return req->args;
}

json_t *wsr_request_arg(const wsr_request_t *req, const char *name)
{
    if (req->args == NULL && req->args_sent)
        return wsr__request_arg_in(req, name);
    return req->args ? json_object_get(req->args, name) : NULL;
}

const char *wsr_request_arg_string(const wsr_request_t *req, const char *name)
{
    return json_string_value(wsr_request_arg(req, name));
}

int64_t wsr_request_arg_int(const wsr_request_t *req, const char *name, int64_t fallback)
{
    json_t *v = wsr_request_arg(req, name);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : fallback;
}

double wsr_request_arg_number(const wsr_request_t *req, const char *name, double fallback)
{
    json_t *v = wsr_request_arg(req, name);

    return json_is_number(v) ? json_number_value(v) : fallback;
}

bool wsr_request_arg_bool(const wsr_request_t *req, const char *name, bool fallback)
{
    json_t *v = wsr_request_arg(req, name);

    return json_is_boolean(v) ? json_is_true(v) : fallback;
}

json_t *wsr_request_data(const wsr_request_t *req)
{
    return req->data;
}

json_t *wsr_request_member(const wsr_request_t *req, const char *name)
{
    json_t *v = req->root  ? json_object_get(req->root, name)
                : req->msg ? wsr__jmsg_get(req->msg, &req->msg->top, name)
                           : NULL;

    /* "args" read flat: its object, built once. */
    if (v == NULL && req->root == NULL && req->msg != NULL && req->msg->args_flat &&
        strcmp(name, "args") == 0)
        v = wsr__jmsg_args(req->msg);
    return v;
}

wsr_format_t wsr_request_format(const wsr_request_t *req)
{
    return req->format;
}

wsr_transport_t wsr_request_transport(const wsr_request_t *req)
{
    return (wsr_transport_t)req->transport;
}

wsr_conn_id_t wsr_request_connection_id(const wsr_request_t *req)
{
    return req->conn_id;
}

const char *wsr_request_peer(const wsr_request_t *req)
{
    return req->peer;
}

const char *wsr_request_user(const wsr_request_t *req)
{
    return wsr__session_user(req->session);
}

bool wsr_request_has_role(const wsr_request_t *req, const char *role)
{
    return wsr__session_has_role(req->session, role);
}

const char *wsr_request_client_cert_subject(const wsr_request_t *req)
{
    return req->cert_subject;
}

wsr_factory_t *wsr_request_factory(const wsr_request_t *req)
{
    return req->factory;
}
