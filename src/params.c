/* SPDX-License-Identifier: MIT */
/*
 * Declared parameters: compiled from a route's table entry (types, required,
 * defaults parsed and type-checked at start-up), validated per request, and
 * described for `commands` and `help`. A value is looked up in the path, then
 * in JSON `args`, then in the query string, then in the default. JSON values
 * must already have their type; text from a URL is converted.
 */
#include "router_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"any",  "string", "int",  "number",
                                         "bool", "object", "array"};

const char *wsr_type_name(wsr_type_t type)
{
    return (unsigned)type < WSR__ARRAY_SIZE(type_names) ? type_names[type] : NULL;
}

/* "must be an int" and friends. */
static const char *type_requirement(wsr_type_t type)
{
    switch (type) {
    case WSR_TYPE_STRING:
        return "must be a string";
    case WSR_TYPE_INT:
        return "must be an integer";
    case WSR_TYPE_NUMBER:
        return "must be a number";
    case WSR_TYPE_BOOL:
        return "must be a boolean";
    case WSR_TYPE_OBJECT:
        return "must be an object";
    case WSR_TYPE_ARRAY:
        return "must be an array";
    default:
        return "is invalid";
    }
}

/* Checks a JSON value against `type`; returns a new reference to the value to
 * use (a real with an integral value becomes an integer) or NULL. */
static json_t *check_json(json_t *v, wsr_type_t type)
{
    switch (type) {
    case WSR_TYPE_ANY:
        return json_incref(v);
    case WSR_TYPE_STRING:
        return json_is_string(v) ? json_incref(v) : NULL;
    case WSR_TYPE_NUMBER:
        return json_is_number(v) ? json_incref(v) : NULL;
    case WSR_TYPE_BOOL:
        return json_is_boolean(v) ? json_incref(v) : NULL;
    case WSR_TYPE_OBJECT:
        return json_is_object(v) ? json_incref(v) : NULL;
    case WSR_TYPE_ARRAY:
        return json_is_array(v) ? json_incref(v) : NULL;
    case WSR_TYPE_INT:
        if (json_is_integer(v))
            return json_incref(v);
        if (json_is_real(v)) {
            double d = json_real_value(v);

            if (d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0)
                return json_integer((json_int_t)d);
        }
        return NULL;
    default:
        return NULL;
    }
}

static json_t *text_to_int(const char *s)
{
    char *end;
    long long v;

    if (*s == '\0' || wsr__is_blank((unsigned char)*s))
        return NULL;
    errno = 0;
    v = strtoll(s, &end, 10);
    return (*end == '\0' && errno == 0) ? json_integer(v) : NULL;
}

static json_t *text_to_number(const char *s)
{
    char *end;
    double d;
    json_t *as_int = text_to_int(s);

    if (as_int != NULL)
        return as_int;
    if (*s == '\0' || strpbrk(s, "xXnNiI") != NULL || wsr__is_blank((unsigned char)*s))
        return NULL;
    errno = 0;
    d = strtod(s, &end);
    return (*end == '\0' && errno == 0 && isfinite(d)) ? json_real(d) : NULL;
}

static json_t *text_to_bool(const char *s)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        return json_false();
    return NULL;
}

/* Converts text from a URL or a text line to `type`; NULL when it cannot. */
static json_t *convert_text(json_t *text, wsr_type_t type)
{
    const char *s = json_string_value(text);
    json_t *parsed, *v;

    switch (type) {
    case WSR_TYPE_ANY:
    case WSR_TYPE_STRING:
        return json_incref(text);
    case WSR_TYPE_INT:
        return text_to_int(s);
    case WSR_TYPE_NUMBER:
        return text_to_number(s);
    case WSR_TYPE_BOOL:
        return text_to_bool(s);
    case WSR_TYPE_OBJECT:
    case WSR_TYPE_ARRAY:
        parsed = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
        v = parsed ? check_json(parsed, type) : NULL;
        json_decref(parsed);
        return v;
    default:
        return NULL;
    }
}

static const wsr__param_t *find_param(const wsr__route_t *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return &r->params[i];
    return NULL;
}

/* Merges one declared parameter into the route (path parameters are already
 * there; a declaration of one of them may narrow its type and add a doc). */
static int compile_one(wsr__route_t *r, const wsr_param_t *p, wsr_error_t *err)
{
    wsr__param_t *cp = (wsr__param_t *)find_param(r, p->name);
    const char *rname = r->def->name;
    json_error_t jerr;

    if (wsr_type_name(p->type) == NULL)
        return wsr__error_set(err, WSR_EINVAL, "route '%s': parameter '%s' has an unknown type",
                              rname, p->name);
    if (cp != NULL && !cp->in_path)
        return wsr__error_set(err, WSR_EINVAL, "route '%s': parameter '%s' is declared twice",
                              rname, p->name);
    if (cp != NULL) {
        if (p->def != NULL)
            return wsr__error_set(err, WSR_EINVAL,
                                  "route '%s': path parameter '%s' cannot have a default", rname,
                                  p->name);
        if (cp->type != WSR_TYPE_STRING && cp->type != p->type)
            return wsr__error_set(err, WSR_EINVAL,
                                  "route '%s': parameter '%s' is %s in the url pattern but "
                                  "declared %s",
                                  rname, p->name, wsr_type_name(cp->type), wsr_type_name(p->type));
        cp->type = p->type;
        cp->doc = p->doc;
        return 0;
    }
    cp = &r->params[r->nparams];
    cp->name = p->name;
    cp->doc = p->doc;
    cp->type = p->type;
    cp->required = p->required;
    if (p->def == NULL)
        goto done;
    if (p->required)
        return wsr__error_set(err, WSR_EINVAL,
                              "route '%s': parameter '%s' is required and cannot have a default",
                              rname, p->name);
    cp->def = json_loads(p->def, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (cp->def == NULL)
        return wsr__error_set(err, WSR_EINVAL,
                              "route '%s': default of parameter '%s' is not JSON: %s", rname,
                              p->name, jerr.text);
    {
        json_t *ok = check_json(cp->def, p->type);
        bool same = ok == cp->def;

        json_decref(ok);
        if (!same) {
            json_decref(cp->def);
            cp->def = NULL;
            return wsr__error_set(err, WSR_EINVAL, "route '%s': default of parameter '%s' %s",
                                  rname, p->name, type_requirement(p->type));
        }
    }
done:
    r->nparams++;
    return 0;
}

int wsr__params_compile(wsr__route_t *r, wsr_error_t *err)
{
    size_t n = 0, i;
    wsr__param_t *grown;
    int rc = 0;

    while (r->def->params != NULL && r->def->params[n].name != NULL)
        n++;
    grown = wsr__realloc(r->params, (r->nparams + n + 1) * sizeof(*grown));
    if (grown == NULL)
        return WSR_ENOMEM;
    r->params = grown;
    memset(&r->params[r->nparams], 0, (n + 1) * sizeof(*grown));
    for (i = 0; i < n && rc == 0; i++) {
        const char *name = r->def->params[i].name;

        if (name[0] == '\0')
            rc = wsr__error_set(err, WSR_EINVAL, "route '%s': a parameter has an empty name",
                                r->def->name);
        else
            rc = compile_one(r, &r->def->params[i], err);
    }
    return rc;
}

void wsr__params_dispose(wsr__route_t *r)
{
    for (size_t i = 0; i < r->nparams; i++)
        json_decref(r->params[i].def);
    wsr__free(r->params);
    r->params = NULL;
    r->nparams = 0;
}

/* Finds and converts one parameter's value. Returns 0 with *out set (NULL when
 * absent and optional), 1 with an error added to `res`, or WSR_ENOMEM. */
static int resolve(const wsr__param_t *p, const wsr_request_t *req, wsr_response_t *res,
                   json_t **out)
{
    json_t *v, *text = NULL;

    *out = NULL;
    if (p->in_path)
        text = json_object_get(req->path_args, p->name);
    if (text == NULL && req->args_in != NULL && (v = json_object_get(req->args_in, p->name))) {
        *out = check_json(v, p->type);
        if (*out == NULL)
            return wsr_response_param_error(res, p->name, "%s", type_requirement(p->type))
                       ? WSR_ENOMEM
                       : 1;
        return 0;
    }
    if (text == NULL && req->query != NULL)
        text = json_object_get(req->query, p->name);
    if (text != NULL) {
        *out = convert_text(text, p->type);
        if (*out == NULL)
            return wsr_response_param_error(res, p->name, "%s (got \"%.60s\")",
                                            type_requirement(p->type), json_string_value(text))
                       ? WSR_ENOMEM
                       : 1;
        return 0;
    }
    if (p->def != NULL) {
        *out = json_incref(p->def);
        return 0;
    }
    if (p->required)
        return wsr_response_param_error(res, p->name, "is required") ? WSR_ENOMEM : 1;
    return 0;
}

/* Copies parameters the route does not declare, as sent (JSON args win over
 * the query string). */
static int copy_undeclared(const wsr__route_t *r, const wsr_request_t *req, json_t *args)
{
    json_t *sources[2] = {req->query, req->args_in}, *v;
    const char *key;

    for (size_t s = 0; s < 2; s++) {
        json_object_foreach(sources[s], key, v)
        {
            if (find_param(r, key) == NULL && json_object_set(args, key, v) != 0)
                return WSR_ENOMEM;
        }
    }
    return 0;
}

int wsr__params_validate(const wsr__route_t *r, wsr_request_t *req, wsr_response_t *res)
{
    json_t *args = json_object();
    bool invalid = false;
    int rc = 0;

    if (args == NULL)
        return WSR_ENOMEM;
    rc = copy_undeclared(r, req, args);
    for (size_t i = 0; rc == 0 && i < r->nparams; i++) {
        json_t *v;

        rc = resolve(&r->params[i], req, res, &v);
        if (rc == 1) {
            invalid = true;
            rc = 0;
        } else if (rc == 0 && v != NULL && json_object_set_new(args, r->params[i].name, v)) {
            rc = WSR_ENOMEM;
        }
    }
    if (rc != 0 || invalid) {
        json_decref(args);
        return rc ? rc : 1;
    }
    json_decref(req->args);
    req->args = args;
    return 0;
}

static json_t *describe_param(const wsr__param_t *p, bool full)
{
    json_t *o = json_pack("{s:s, s:s, s:b}", "name", p->name, "type", wsr_type_name(p->type),
                          "required", p->required);

    if (o == NULL)
        return NULL;
    if (p->in_path && json_object_set_new(o, "in", json_string("path")) != 0)
        goto fail;
    if (p->def != NULL && json_object_set(o, "default", p->def) != 0)
        goto fail;
    if (full && p->doc != NULL && json_object_set_new(o, "doc", json_string(p->doc)) != 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

static json_t *describe_methods(unsigned methods)
{
    json_t *a = json_array();

    for (unsigned bit = 1; a != NULL && bit <= WSR_OPTIONS; bit <<= 1)
        if ((methods & bit) && json_array_append_new(a, json_string(wsr_method_name(bit)))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *wsr__route_describe(const wsr__route_t *r, bool full)
{
    const wsr_route_t *d = r->def;
    json_t *params = json_array();
    json_t *o = json_pack("{s:s, s:s?, s:o, s:o, s:b, s:s?, s:s?}", "name", d->name, "url",
                          r->pattern, "methods", describe_methods(r->methods), "params",
                          params ? json_incref(params) : json_null(), "auth",
                          (r->flags & WSR_ROUTE_AUTH) != 0, "role", d->role, "doc", d->doc);

    for (size_t i = 0; o != NULL && params != NULL && i < r->nparams; i++)
        if (json_array_append_new(params, describe_param(&r->params[i], full)) != 0)
            goto fail;
    if (o != NULL && full) {
        if (json_object_set_new(o, "blocking", json_boolean(r->flags & WSR_ROUTE_BLOCKING)) ||
            json_object_set_new(o, "timeout_ms", json_integer(d->timeout_ms)))
            goto fail;
    }
    json_decref(params);
    return o;
fail:
    json_decref(params);
    json_decref(o);
    return NULL;
}
