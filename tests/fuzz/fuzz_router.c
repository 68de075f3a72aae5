/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: URL matching and parameter validation (src/core/router.c,
 * params.c: wsr__router_route). The route tables are every
 * tests/data/router/<set>/routes.json and a table of typed patterns with
 * declared parameters ("typed", below), each registered twice: in its order
 * and reversed.
 *
 * An input is the set's name, a newline, then a case line as the data files
 * write it, "METHOD URL [JSON]" ("CMD NAME [JSON]" for a cmd), or the same
 * three on lines of their own; an unknown name picks a set by its bytes. The
 * request is encoded as a message, decoded by the codec (what the codec
 * refuses is not the router's business) and routed. Checked:
 * - both registration orders give the same answer: route, status, allowed
 *   methods, detail, path and validated arguments;
 * - the answer is the reference one, computed here by brute force over the
 *   table: among the routes whose pattern matches the percent-decoded path
 *   segment by segment and that take the method (HEAD falling back to GET),
 *   the one whose segments rank best from the left (static, then {int},
 *   then {number}, then untyped); else 405 with every matching route's
 *   methods, or the automatic OPTIONS answer, or 404; 400 for a bad escape;
 *   404 past 32 segments; captures are the decoded segments;
 * - a routed request's arguments hold every required parameter, each of its
 *   declared type; a refusal of a routed request is a 422.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec_int.h"
#include "core/json_int.h"
#include "core/router_int.h"

#ifndef WSR_FUZZ_DATA
#define WSR_FUZZ_DATA "tests/data"
#endif

#define MAX_SETS 32
#define MAX_SEGS WSR__MAX_SEGMENTS

enum { RANK_STATIC = 0, RANK_INT, RANK_NUMBER, RANK_ANY };

/* A route's pattern as the reference matcher reads it. */
typedef struct ref_route {
    const wsr_route_t *def; /* borrowed: the set's table */
    size_t nsegs;
    int rank[MAX_SEGS];
    char *text[MAX_SEGS]; /* owned: static text or parameter name */
} ref_route_t;

typedef struct route_set {
    char name[64];
    json_t *spec;      /* owned: routes.json; the table borrows its strings */
    wsr_route_t *rev;  /* owned: the table reversed */
    wsr_router_t *fwd; /* owned */
    wsr_router_t *bwd; /* owned: registered from `rev` */
    ref_route_t *ref;  /* owned */
    size_t n;
} route_set_t;

/* What one router answered. */
typedef struct outcome {
    bool decoded;
    int rc;
    const char *route; /* borrowed: the table */
    int status;
    unsigned allow;
    char *detail;      /* owned, or NULL */
    json_t *path_args; /* owned ref, or NULL */
    json_t *args;      /* owned ref, or NULL */
    json_t *data;      /* owned ref, or NULL */
    bool cmd;
    char *target; /* owned: the cmd name, or the path */
    unsigned method;
} outcome_t;

static route_set_t sets[MAX_SETS];
static size_t nsets;

static int answer(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)req;
    (void)res;
    (void)user;
    return 0;
}

static const wsr_route_t typed_table[] = {
    {.name = "item_int",
     .methods = WSR_GET | WSR_DELETE,
     .url = "/items/{id:int}",
     .handler = answer},
    {.name = "item_number", .methods = WSR_GET, .url = "/items/{x:number}", .handler = answer},
    {.name = "item_any", .methods = WSR_GET | WSR_PUT, .url = "/items/{name}", .handler = answer},
    {.name = "item_string", .methods = WSR_PATCH, .url = "/items/{s:string}", .handler = answer},
    {.name = "item_new", .methods = WSR_GET | WSR_POST, .url = "/items/new", .handler = answer},
    {.name = "tag",
     .methods = WSR_GET | WSR_POST,
     .url = "/items/{id:int}/tags/{tag}",
     .handler = answer,
     .params = WSR_PARAMS({.name = "id", .type = WSR_TYPE_INT},
                          {.name = "limit", .type = WSR_TYPE_INT, .def = "10"})},
    {.name = "tag_number",
     .methods = WSR_GET,
     .url = "/items/{x:number}/tags/{t:int}",
     .handler = answer},
    {.name = "calc",
     .methods = WSR_GET | WSR_POST,
     .url = "/calc/{op}/{x:number}/{y:number}",
     .handler = answer},
    {.name = "file",
     .methods = WSR_GET,
     .url = "/files/{a}/{b:int}/{c:number}/",
     .handler = answer},
    {.name = "search",
     .methods = WSR_GET | WSR_POST,
     .url = "/search",
     .handler = answer,
     .params = WSR_PARAMS({.name = "q", .type = WSR_TYPE_STRING, .required = true},
                          {.name = "limit", .type = WSR_TYPE_INT, .def = "10"},
                          {.name = "exact", .type = WSR_TYPE_BOOL, .def = "false"},
                          {.name = "score", .type = WSR_TYPE_NUMBER, .def = "0.5"},
                          {.name = "tags", .type = WSR_TYPE_ARRAY, .def = "[]"},
                          {.name = "filter", .type = WSR_TYPE_OBJECT},
                          {.name = "extra", .type = WSR_TYPE_ANY})},
    {.name = "root", .methods = WSR_GET, .url = "/", .handler = answer},
    {.name = "top", .methods = WSR_GET | WSR_OPTIONS, .url = "/{top:int}", .handler = answer},
    {.name = "head_own", .methods = WSR_HEAD, .url = "/h/{x:int}", .handler = answer},
    {.name = "head_get", .methods = WSR_GET, .url = "/h/{x}", .handler = answer},
    {.name = "deep",
     .methods = WSR_GET,
     .url = "/d/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/21/22/23/24/25/26/27/28/29/"
            "{x:int}/{y:number}",
     .handler = answer},
    {.name = "cmd_only",
     .handler = answer,
     .params = WSR_PARAMS({.name = "n", .type = WSR_TYPE_INT, .required = true})},
    WSR_ROUTES_END,
};

/* ---- setting up ---- */

static void compile_ref(ref_route_t *r, const wsr_route_t *def)
{
    const char *p;
    size_t len;

    memset(r, 0, sizeof(*r));
    r->def = def;
    if (def->url == NULL)
        return;
    len = strlen(def->url);
    while (len > 1 && def->url[len - 1] == '/')
        len--;
    for (p = def->url + 1; len > 1 && p < def->url + len;) {
        const char *end = memchr(p, '/', (size_t)(def->url + len - p));
        size_t n = end ? (size_t)(end - p) : (size_t)(def->url + len - p);
        const char *colon = memchr(p, ':', n);

        FUZZ_CHECK(r->nsegs < MAX_SEGS, "route %s has too many segments", def->name);
        if (n > 2 && p[0] == '{' && p[n - 1] == '}') {
            size_t tn = colon ? n - (size_t)(colon - p) - 2 : 0;

            r->rank[r->nsegs] = tn == 3 && memcmp(colon + 1, "int", 3) == 0      ? RANK_INT
                                : tn == 6 && memcmp(colon + 1, "number", 6) == 0 ? RANK_NUMBER
                                                                                 : RANK_ANY;
            r->text[r->nsegs] = strndup(p + 1, colon ? (size_t)(colon - p) - 1 : n - 2);
        } else {
            r->rank[r->nsegs] = RANK_STATIC;
            r->text[r->nsegs] = strndup(p, n);
        }
        FUZZ_CHECK(r->text[r->nsegs] != NULL, "out of memory");
        r->nsegs++;
        p += n + 1;
    }
}

static wsr_router_t *router_of(const wsr_route_t *table, const char *name)
{
    wsr_router_t *router = wsr_router_new();
    wsr_error_t err;
    int rc;

    FUZZ_CHECK(router != NULL, "out of memory");
    rc = wsr_router_add(router, table, NULL, &err);
    FUZZ_CHECK(rc == 0, "route set %s: %s", name, err.text);
    wsr__router_freeze(router);
    return router;
}

/* Finishes a set whose forward table is `table` (n routes). */
static void finish_set(route_set_t *s, const wsr_route_t *table, size_t n)
{
    s->n = n;
    s->rev = calloc(n + 1, sizeof(*s->rev));
    s->ref = calloc(n ? n : 1, sizeof(*s->ref));
    FUZZ_CHECK(s->rev != NULL && s->ref != NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        s->rev[i] = table[n - 1 - i];
        compile_ref(&s->ref[i], &table[i]);
    }
    s->fwd = router_of(table, s->name);
    s->bwd = router_of(s->rev, s->name);
}

static unsigned methods_from(json_t *list)
{
    unsigned bits = 0;
    size_t i;
    json_t *m;

    json_array_foreach(list, i, m)
    {
        for (unsigned b = 1; b <= WSR_OPTIONS; b <<= 1)
            if (json_is_string(m) && strcmp(wsr_method_name(b), json_string_value(m)) == 0)
                bits |= b;
    }
    return bits;
}

static void load_data_set(const char *dir, const char *name)
{
    route_set_t *s = &sets[nsets];
    char path[4096];
    json_error_t jerr;
    wsr_route_t *table;
    size_t n;

    if (snprintf(path, sizeof(path), "%s/%s/routes.json", dir, name) >= (int)sizeof(path))
        return; /* a name too long for a path: not one of ours */
    s->spec = json_load_file(path, 0, &jerr);
    if (s->spec == NULL)
        return; /* not a route set */
    FUZZ_CHECK(json_is_array(s->spec), "%s is not an array", path);
    snprintf(s->name, sizeof(s->name), "%s", name);
    n = json_array_size(s->spec);
    /* Kept for the process, like the spec: the router borrows both. */
    table = calloc(n + 1, sizeof(*table));
    FUZZ_CHECK(table != NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(s->spec, i);

        table[i].name = json_string_value(json_object_get(r, "name"));
        table[i].methods = methods_from(json_object_get(r, "methods"));
        table[i].url = json_string_value(json_object_get(r, "url"));
        table[i].handler = answer;
        FUZZ_CHECK(table[i].name != NULL, "%s: route %zu has no name", path, i);
    }
    finish_set(s, table, n);
    nsets++;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *env = getenv("WSR_TEST_DATA");
    char dir[4096], *names[MAX_SETS];
    size_t nnames = 0;
    struct dirent *e;
    DIR *d;

    (void)argc;
    (void)argv;
    json_set_alloc_funcs(wsr_malloc, wsr_free);
    snprintf(sets[0].name, sizeof(sets[0].name), "typed");
    finish_set(&sets[0], typed_table, WSR__ARRAY_SIZE(typed_table) - 1);
    nsets = 1;
    snprintf(dir, sizeof(dir), "%s/router", env ? env : WSR_FUZZ_DATA);
    d = opendir(dir);
    FUZZ_CHECK(d != NULL, "%s: %s (set WSR_TEST_DATA to tests/data)", dir, strerror(errno));
    while ((e = readdir(d)) != NULL && nnames < MAX_SETS - 1)
        if (e->d_name[0] != '.' && (names[nnames] = strdup(e->d_name)) != NULL)
            nnames++;
    closedir(d);
    qsort(names, nnames, sizeof(*names), cmp_names);
    for (size_t i = 0; i < nnames; i++) {
        load_data_set(dir, names[i]);
        free(names[i]);
    }
    FUZZ_CHECK(nsets > 1, "no route set under %s", dir);
    return 0;
}

/* ---- the reference matcher ---- */

static size_t digits(const char *s, size_t i, size_t n)
{
    size_t k = i;

    while (k < n && s[k] >= '0' && s[k] <= '9')
        k++;
    return k - i;
}

/* RFC 8259's number grammar; `integer` allows neither fraction nor exponent. */
static bool number_grammar(const char *s, size_t n, bool integer)
{
    size_t i = n > 0 && s[0] == '-', k = digits(s, i, n);

    if (k == 0 || (s[i] == '0' && k > 1))
        return false;
    i += k;
    if (!integer && i < n && s[i] == '.') {
        if ((k = digits(s, ++i, n)) == 0)
            return false;
        i += k;
    }
    if (!integer && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i += i + 1 < n && (s[i + 1] == '+' || s[i + 1] == '-') ? 2 : 1;
        if ((k = digits(s, i, n)) == 0)
            return false;
        i += k;
    }
    return i == n;
}

/* Whether a decoded segment fits a pattern segment of rank `rank`. */
static bool fits(int rank, const char *text, const char *seg, size_t n)
{
    char *copy;
    bool ok;

    if (rank == RANK_STATIC)
        return strlen(text) == n && memcmp(text, seg, n) == 0;
    if (rank == RANK_ANY)
        return n > 0;
    if (!number_grammar(seg, n, rank == RANK_INT))
        return false;
    copy = strndup(seg, n);
    FUZZ_CHECK(copy != NULL, "out of memory");
    errno = 0;
    /* An {int} holds an int64, a {number} a finite double. */
    if (rank == RANK_INT) {
        (void)strtoll(copy, NULL, 10);
        ok = errno == 0;
    } else {
        ok = isfinite(wsr__strtod(copy, NULL));
    }
    free(copy);
    return ok;
}

typedef struct expectation {
    int status; /* 0: a route answers */
    const ref_route_t *route;
    unsigned allow;
    size_t nseg;
    char *seg[MAX_SEGS]; /* owned: decoded segments */
    size_t len[MAX_SEGS];
} expectation_t;

static bool ranks_before(const ref_route_t *a, const ref_route_t *b)
{
    for (size_t i = 0; i < a->nsegs; i++)
        if (a->rank[i] != b->rank[i])
            return a->rank[i] < b->rank[i];
    return false;
}

static const ref_route_t *best_for(const route_set_t *s, const expectation_t *x, unsigned method,
                                   unsigned *allow)
{
    const ref_route_t *best = NULL;

    for (size_t i = 0; i < s->n; i++) {
        const ref_route_t *r = &s->ref[i];
        bool match = r->def->url != NULL && r->nsegs == x->nseg;

        for (size_t k = 0; match && k < r->nsegs; k++)
            match = fits(r->rank[k], r->text[k], x->seg[k], x->len[k]);
        if (!match)
            continue;
        *allow |= r->def->methods;
        if ((r->def->methods & method) && (best == NULL || ranks_before(r, best)))
            best = r;
    }
    return best;
}

static void expect_path(const route_set_t *s, const char *path, unsigned method, expectation_t *x)
{
    const char *p = path + 1;

    memset(x, 0, sizeof(*x));
    /* "/" has no segment; otherwise every '/' starts one, empty or not. */
    while (*path != '\0' && path[1] != '\0') {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        wsr__buf_t b;

        if (x->nseg == MAX_SEGS) {
            x->status = 404;
            return;
        }
        wsr__buf_init(&b, 0, 0);
        if (wsr__percent_decode(&b, p, n, false) != 0) {
            wsr__buf_dispose(&b);
            x->status = 400;
            return;
        }
        x->len[x->nseg] = b.len;
        x->seg[x->nseg] = strndup(b.data ? (const char *)b.data : "", b.len);
        FUZZ_CHECK(x->seg[x->nseg] != NULL, "out of memory");
        x->nseg++;
        wsr__buf_dispose(&b);
        if (end == NULL)
            break;
        p = end + 1;
    }
    x->route = best_for(s, x, method, &x->allow);
    if (x->route == NULL && method == WSR_HEAD)
        x->route = best_for(s, x, WSR_GET, &x->allow);
    if (x->route == NULL)
        x->status = x->allow == 0 ? 404 : method == WSR_OPTIONS ? 200 : 405;
}

/* ---- running the real one ---- */

static void route_once(const wsr_router_t *router, const char *msg, size_t n, outcome_t *o)
{
    char detail[WSR__DETAIL_MAX];
    wsr_request_t req;
    wsr_response_t res;

    memset(o, 0, sizeof(*o));
    wsr__request_init(&req);
    wsr__response_init(&res);
    if (wsr__codec_decode(&req, (const unsigned char *)msg, n, false, 64, detail) == 0) {
        o->decoded = true;
        o->cmd = req.cmd != NULL;
        o->target = strdup(req.cmd ? req.cmd : req.path);
        o->method = req.method;
        o->rc = wsr__router_route(router, &req, &res);
        o->route = req.route ? wsr__route_name(req.route) : NULL;
        o->status = res.status;
        o->allow = res.allow;
        o->detail = res.detail ? strdup(res.detail) : NULL;
        o->path_args = json_incref(req.path_args);
        o->args = json_incref(wsr_request_args(&req));
        o->data = json_incref(res.data);
        FUZZ_CHECK(o->target != NULL, "out of memory");
        if (o->rc == 0)
            FUZZ_CHECK(req.route != NULL && json_is_object(wsr_request_args(&req)),
                       "routed without arguments");
    }
    wsr__response_dispose(&res);
    wsr__request_dispose(&req);
}

static void outcome_dispose(outcome_t *o)
{
    free(o->detail);
    free(o->target);
    json_decref(o->path_args);
    json_decref(o->args);
    json_decref(o->data);
}

static bool same_json(const json_t *a, const json_t *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && json_equal(a, b));
}

static void check_same(const outcome_t *a, const outcome_t *b, const char *what)
{
    FUZZ_CHECK(a->rc == b->rc && a->status == b->status && a->allow == b->allow,
               "%s: registration order changes the answer: rc %d/%d status %d/%d", what, a->rc,
               b->rc, a->status, b->status);
    FUZZ_CHECK((a->route == NULL) == (b->route == NULL) &&
                   (a->route == NULL || strcmp(a->route, b->route) == 0),
               "%s: registration order changes the route: %s/%s", what,
               a->route ? a->route : "none", b->route ? b->route : "none");
    FUZZ_CHECK((a->detail == NULL) == (b->detail == NULL) &&
                   (a->detail == NULL || strcmp(a->detail, b->detail) == 0),
               "%s: registration order changes the detail: \"%s\" / \"%s\"", what,
               a->detail ? a->detail : "", b->detail ? b->detail : "");
    FUZZ_CHECK(same_json(a->path_args, b->path_args) && same_json(a->args, b->args),
               "%s: registration order changes the arguments", what);
}

static bool type_holds(wsr_type_t type, const json_t *v)
{
    switch (type) {
    case WSR_TYPE_STRING:
        return json_is_string(v);
    case WSR_TYPE_INT:
        return json_is_integer(v);
    case WSR_TYPE_NUMBER:
        return json_is_number(v);
    case WSR_TYPE_BOOL:
        return json_is_boolean(v);
    case WSR_TYPE_OBJECT:
        return json_is_object(v);
    case WSR_TYPE_ARRAY:
        return json_is_array(v);
    default:
        return true;
    }
}

/* A routed request: validated arguments, or a 422. */
static void check_routed(const route_set_t *s, const outcome_t *o, const char *what)
{
    const wsr__route_t *r = wsr__router_find(s->fwd, o->route);

    FUZZ_CHECK(r != NULL, "%s: routed to %s, which has no name", what, o->route);
    if (o->rc == 1) {
        FUZZ_CHECK(o->status == 422, "%s: routed to %s, then refused with %d", what, o->route,
                   o->status);
        return;
    }
    FUZZ_CHECK(o->rc == 0, "%s: rc %d", what, o->rc);
    for (size_t i = 0; i < r->nparams; i++) {
        const wsr__param_t *p = &r->params[i];
        json_t *v = json_object_get(o->args, p->name);

        FUZZ_CHECK(v != NULL || !(p->required || p->in_path), "%s: %s lacks parameter %s", what,
                   o->route, p->name);
        FUZZ_CHECK(v == NULL || type_holds(p->type, v), "%s: %s's parameter %s is not a %s", what,
                   o->route, p->name, wsr_type_name(p->type));
    }
}

static void check_path(const route_set_t *s, const outcome_t *o, const char *what)
{
    expectation_t x;

    expect_path(s, o->target, o->method, &x);
    if (x.status != 0) {
        FUZZ_CHECK(o->rc == 1 && o->status == x.status && o->route == NULL,
                   "%s: status %d (route %s), the reference says %d", what, o->status,
                   o->route ? o->route : "none", x.status);
        FUZZ_CHECK(x.status != 405 || o->allow == x.allow, "%s: allow %#x, the reference %#x", what,
                   o->allow, x.allow);
        if (x.status == 200) {
            json_t *list = json_object_get(o->data, "allow");

            FUZZ_CHECK(json_array_size(list) == (size_t)__builtin_popcount(x.allow),
                       "%s: OPTIONS lists %zu methods, the reference %d", what,
                       json_array_size(list), __builtin_popcount(x.allow));
        }
    } else {
        const char *want = x.route->def->name;

        FUZZ_CHECK(o->route != NULL && strcmp(o->route, want) == 0,
                   "%s: routed to %s, the reference to %s", what, o->route ? o->route : "none",
                   want);
        for (size_t k = 0; k < x.route->nsegs; k++) {
            json_t *cap;

            if (x.route->rank[k] == RANK_STATIC)
                continue;
            cap = json_object_get(o->path_args, x.route->text[k]);
            FUZZ_CHECK(json_string_length(cap) == x.len[k] &&
                           memcmp(json_string_value(cap), x.seg[k], x.len[k]) == 0,
                       "%s: {%s} captured another segment", what, x.route->text[k]);
        }
        check_routed(s, o, what);
    }
    for (size_t k = 0; k < x.nseg; k++)
        free(x.seg[k]);
}

static void check_cmd(const route_set_t *s, const outcome_t *o, const char *what)
{
    const wsr_route_t *want = NULL;

    for (size_t i = 0; i < s->n && want == NULL; i++)
        if (strcmp(s->ref[i].def->name, o->target) == 0)
            want = s->ref[i].def;
    if (want == NULL) {
        FUZZ_CHECK(o->rc == 1 && o->status == 404, "%s: an unknown cmd gets %d", what, o->status);
        return;
    }
    FUZZ_CHECK(o->route != NULL && strcmp(o->route, want->name) == 0, "%s: cmd routed to %s", what,
               o->route ? o->route : "none");
    check_routed(s, o, what);
}

/* ---- the input ---- */

static const route_set_t *set_named(const uint8_t *p, size_t n)
{
    unsigned sum = 0;

    for (size_t i = 0; i < nsets; i++)
        if (strlen(sets[i].name) == n && memcmp(sets[i].name, p, n) == 0)
            return &sets[i];
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    return &sets[sum % nsets];
}

/* Splits "A B C" (or "A\nB\nC") into three fields; C may be empty. */
static void fields(const char *p, size_t n, const char **f, size_t *len)
{
    char sep = memchr(p, '\n', n) ? '\n' : ' ';

    for (int i = 0; i < 3; i++) {
        const char *end = i < 2 ? memchr(p, sep, n) : NULL;

        f[i] = p;
        len[i] = end ? (size_t)(end - p) : n;
        p += len[i] + (end != NULL);
        n -= len[i] + (end != NULL);
    }
}

/* The message the case line asks for, or NULL (not UTF-8, say). */
static char *message(const char *const *f, const size_t *len)
{
    json_t *msg = json_object(), *m = json_stringn(f[0], len[0]), *u = json_stringn(f[1], len[1]);
    wsr__json_error_t e;
    json_t *more = len[2] ? wsr__json_parse(f[2], len[2], 64, &e) : NULL;
    char *text = NULL;

    if (msg != NULL && m != NULL && u != NULL) {
        bool cmd = len[0] == 3 && memcmp(f[0], "CMD", 3) == 0;

        if (!cmd)
            json_object_set(msg, "method", m);
        json_object_set(msg, cmd ? "cmd" : "url", u);
        if (json_is_object(more))
            json_object_update(msg, more);
        text = wsr__json_to_string(msg);
    }
    json_decref(more);
    json_decref(m);
    json_decref(u);
    json_decref(msg);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    const route_set_t *s;
    const char *f[3];
    size_t len[3];
    char *msg, what[200];
    outcome_t a, b;

    if (nl == NULL)
        return 0;
    s = set_named(data, (size_t)(nl - data));
    fields((const char *)nl + 1, size - (size_t)(nl + 1 - data), f, len);
    msg = message(f, len);
    if (msg == NULL)
        return 0;
    snprintf(what, sizeof(what), "set %s, ", s->name);
    fuzz_repr(msg, strlen(msg), what + strlen(what), sizeof(what) - strlen(what));
    route_once(s->fwd, msg, strlen(msg), &a);
    route_once(s->bwd, msg, strlen(msg), &b);
    if (a.decoded) {
        FUZZ_CHECK(b.decoded, "%s: decoded once only", what);
        check_same(&a, &b, what);
        if (a.cmd)
            check_cmd(s, &a, what);
        else
            check_path(s, &a, what);
    }
    outcome_dispose(&a);
    outcome_dispose(&b);
    wsr__free(msg);
    return 0;
}
