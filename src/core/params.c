/* SPDX-License-Identifier: MIT */
/*
 * Declared parameters: compiled from a route's table entry (types, required,
 * defaults parsed and type-checked at start-up), validated per request, and
 * described for `commands` and `help`. A value is looked up in the path, then
 * in JSON `args`, then in the query string, then in the default. JSON values
 * must already have their type; text from a URL is converted.
 */
#include "core/router_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
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

/* Checks a JSON value against `type`. Returns 0 with *out a new reference to
 * the value to use (a real with an integral value becomes an integer), 1 when
 * the value has the wrong type, or WSR_ENOMEM. (It used to return NULL for
 * both, so an allocation failure became a 422 blaming the client.) */
static int check_json(json_t *v, wsr_type_t type, json_t **out)
{
    bool ok;

    *out = NULL;
    switch (type) {
    case WSR_TYPE_ANY:
        ok = true;
        break;
    case WSR_TYPE_STRING:
        ok = json_is_string(v);
        break;
    case WSR_TYPE_NUMBER:
        ok = json_is_number(v);
        break;
    case WSR_TYPE_BOOL:
        ok = json_is_boolean(v);
        break;
    case WSR_TYPE_OBJECT:
        ok = json_is_object(v);
        break;
    case WSR_TYPE_ARRAY:
        ok = json_is_array(v);
        break;
    case WSR_TYPE_INT:
        ok = json_is_integer(v);
        if (!ok && json_is_real(v)) {
            double d = json_real_value(v);

            if (d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0) {
                *out = json_integer((json_int_t)d);
                return *out ? 0 : WSR_ENOMEM;
            }
        }
        break;
    default:
        ok = false;
        break;
    }
    if (!ok)
        return 1;
    *out = json_incref(v);
    return 0;
}

/*
 * Parses JSON text (a default, or an object or array from a URL). jansson
 * 2.14 reports an allocation failure inside its parser with no text at all,
 * or, when it hits the lexer, as a syntax error ("invalid token"); so a syntax
 * error counts as the text's fault only when a second parse repeats it.
 * Returns 0 with *out set, 1 when the text is not JSON (`jerr` says why), or
 * WSR_ENOMEM.
 */
static int parse_json_text(const char *text, size_t flags, json_t **out, json_error_t *jerr)
{
    char first[JSON_ERROR_TEXT_LENGTH];

    for (int attempt = 0; attempt < 2; attempt++) {
        *out = json_loads(text, flags, jerr);
        if (*out != NULL)
            return 0;
        if (jerr->text[0] == '\0' || json_error_code(jerr) == json_error_out_of_memory)
            return WSR_ENOMEM;
        if (attempt == 1)
            return strcmp(first, jerr->text) == 0 ? 1 : WSR_ENOMEM;
        snprintf(first, sizeof(first), "%s", jerr->text);
    }
    return WSR_ENOMEM;
}

/* The text_to_* converters return 0 with *out set, 1 when the text does not
 * convert, or WSR_ENOMEM. */
static int text_to_int(const char *s, json_t **out)
{
    char *end;
    long long v;

    if (*s == '\0' || wsr__is_blank((unsigned char)*s))
        return 1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0' || errno != 0)
        return 1;
    *out = json_integer(v);
    return *out ? 0 : WSR_ENOMEM;
}

static int text_to_number(const char *s, json_t **out)
{
    char *end;
    double d;
    int rc = text_to_int(s, out);

    if (rc != 1)
        return rc;
    if (*s == '\0' || strpbrk(s, "xXnNiI") != NULL || wsr__is_blank((unsigned char)*s))
        return 1;
    /* Only overflow is refused: strtod's ERANGE also flags an underflow
     * (1e-400), which rounds towards zero as in a JSON body, and which the
     * router takes as a {number}. */
    d = wsr__strtod(s, &end);
    if (*end != '\0' || !isfinite(d))
        return 1;
    *out = json_real(d);
    return *out ? 0 : WSR_ENOMEM;
}

static int text_to_bool(const char *s, json_t **out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = json_true();
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = json_false();
    return *out ? 0 : 1;
}

/* Converts text from a URL or a text line to `type`. Returns 0 with *out
 * set, 1 when it cannot, or WSR_ENOMEM. */
static int convert_text(json_t *text, wsr_type_t type, json_t **out)
{
    const char *s = json_string_value(text);
    json_error_t jerr;
    json_t *parsed;
    int rc;

    *out = NULL;
    switch (type) {
    case WSR_TYPE_ANY:
    case WSR_TYPE_STRING:
        *out = json_incref(text);
        return 0;
    case WSR_TYPE_INT:
        return text_to_int(s, out);
    case WSR_TYPE_NUMBER:
        return text_to_number(s, out);
    case WSR_TYPE_BOOL:
        return text_to_bool(s, out);
    case WSR_TYPE_OBJECT:
    case WSR_TYPE_ARRAY:
        rc = parse_json_text(s, JSON_REJECT_DUPLICATES, &parsed, &jerr);
        if (rc == 0)
            rc = check_json(parsed, type, out);
        json_decref(parsed);
        return rc;
    default:
        return 1;
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
    json_t *parsed;
    int rc;

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
    rc = parse_json_text(p->def, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &parsed, &jerr);
    if (rc == 1)
        return wsr__error_set(err, WSR_EINVAL,
                              "route '%s': default of parameter '%s' is not JSON: %s", rname,
                              p->name, jerr.text);
    if (rc == 0) {
        /* Checked like a request's value: an int default may be written 3.0. */
        rc = check_json(parsed, p->type, &cp->def);
        json_decref(parsed);
    }
    if (rc == 1)
        return wsr__error_set(err, WSR_EINVAL, "route '%s': default of parameter '%s' %s", rname,
                              p->name, type_requirement(p->type));
    if (rc != 0)
        return rc;
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
    int rc;

    *out = NULL;
    if (p->in_path)
        text = json_object_get(req->path_args, p->name);
    if (text == NULL && (v = wsr__request_arg_in(req, p->name)) != NULL) {
        rc = check_json(v, p->type, out);
        if (rc == 1)
            return wsr_response_param_error(res, p->name, "%s", type_requirement(p->type))
                       ? WSR_ENOMEM
                       : 1;
        return rc;
    }
    if (text == NULL && req->query != NULL)
        text = json_object_get(req->query, p->name);
    if (text != NULL) {
        rc = convert_text(text, p->type, out);
        if (rc == 1)
            return wsr_response_param_error(res, p->name, "%s (got \"%.60s\")",
                                            type_requirement(p->type), json_string_value(text))
                       ? WSR_ENOMEM
                       : 1;
        return rc;
    }
    if (p->def != NULL) {
        /* A copy: the handler may change its arguments, and the route's
         * default is shared by every request on every thread. */
        *out = json_deep_copy(p->def);
        return *out ? 0 : WSR_ENOMEM;
    }
    if (p->required)
        return wsr_response_param_error(res, p->name, "is required") ? WSR_ENOMEM : 1;
    return 0;
}

/* Copies parameters the route does not declare, as sent (JSON args win over
 * the query string). */
static int copy_undeclared(const wsr__route_t *r, wsr_request_t *req, json_t *args)
{
    json_t *sources[2] = {req->query, wsr__request_args_in(req)}, *v;
    const char *key;

    if (sources[1] == NULL && wsr__request_has_args_in(req))
        return WSR_ENOMEM;
    for (size_t s = 0; s < 2; s++) {
        json_object_foreach(sources[s], key, v)
        {
            if (find_param(r, key) == NULL && json_object_set(args, key, v) != 0)
                return WSR_ENOMEM;
        }
    }
    return 0;
}

/*
 * True when the JSON `args` already are what validation would build: no path
 * or query values, and every declared parameter either present with exactly
 * its type or absent with nothing to fill in. The common case, and then the
 * request's own object serves as is: no copy, no allocation.
 */
static bool args_as_sent(const wsr__route_t *r, const wsr_request_t *req)
{
    if (req->path_args != NULL || req->query != NULL || !wsr__request_has_args_in(req))
        return false;
    for (size_t i = 0; i < r->nparams; i++) {
        const wsr__param_t *p = &r->params[i];
        json_t *v = wsr__request_arg_in(req, p->name), *ok = NULL;
        bool same;

        if (v == NULL) {
            if (p->required || p->def != NULL)
                return false;
            continue;
        }
        same = check_json(v, p->type, &ok) == 0 && ok == v;
        json_decref(ok);
        if (!same) /* wrong type, or an int given as a real */
            return false;
    }
    return true;
}

int wsr__params_from_positions(const wsr__route_t *r, wsr_request_t *req, wsr_response_t *res)
{
    size_t n = json_array_size(req->args_pos);
    json_t *args;

    if (n > r->nparams)
        return wsr_response_param_error(res, "params",
                                        "route %s takes at most %zu parameters by position, not "
                                        "%zu",
                                        r->def->name, r->nparams, n)
                   ? WSR_ENOMEM
                   : 1;
    args = json_object();
    if (args == NULL)
        return WSR_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (json_object_set(args, r->params[i].name, json_array_get(req->args_pos, i)) != 0) {
            json_decref(args);
            return WSR_ENOMEM;
        }
    if (req->args_text) {
        /* Words typed on a line are text, read as a query's values are. */
        json_decref(req->query);
        req->query = args;
        return 0;
    }
    json_decref(req->args_in);
    req->args_in = args;
    req->args_in_flat = false;
    return 0;
}

int wsr__params_validate(const wsr__route_t *r, wsr_request_t *req, wsr_response_t *res)
{
    json_t *args;
    bool invalid = false;
    int rc = 0;

    if (args_as_sent(r, req)) {
        json_decref(req->args);
        /* Read flat, they become an object only if the handler asks. */
        req->args = json_incref(req->args_in);
        req->args_sent = req->args == NULL;
        return 0;
    }
    args = json_object();
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
    req->args_sent = false;
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
    /* A copy, never another reference: the router's values are read by every
     * loop and worker at once, and jansson's last decref has no acquire
     * (a data race if two threads drop references to one value). */
    if (p->def != NULL && json_object_set_new(o, "default", json_deep_copy(p->def)) != 0)
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
    json_t *o;

    /* Without the array, "params" used to be described as null. */
    if (params == NULL)
        return NULL;
    o = json_pack("{s:s, s:s?, s:o, s:o, s:b, s:s?, s:s?}", "name", d->name, "url", r->pattern,
                  "methods", describe_methods(r->methods), "params", json_incref(params), "auth",
                  (r->flags & WSR_ROUTE_AUTH) != 0, "role", d->role, "doc", d->doc);

    for (size_t i = 0; o != NULL && i < r->nparams; i++)
        if (json_array_append_new(params, describe_param(&r->params[i], full)) != 0)
            goto fail;
    /* tornado-TCP peers call it by this number (PROTOCOL.md section 8). */
    if (o != NULL && d->cmdid != 0 &&
        json_object_set_new(o, "cmdid", json_integer((json_int_t)d->cmdid)) != 0)
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
