/* SPDX-License-Identifier: MIT */
/*
 * The router: checks route tables, compiles URL patterns into a segment trie,
 * and matches requests. Matching never depends on registration order: at each
 * segment a static edge is tried before {int}, {number} and untyped
 * parameters, with backtracking, so the longer static prefix always wins.
 * Two routes that would answer the same method on the same shape of URL are
 * refused when their table is added. The router is read-only once frozen; it
 * owns its compiled routes and trie, and borrows the tables.
 */
#include "core/router_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cmdid_int.h"
#include "core/codec_int.h"

typedef struct node node_t;

typedef struct edge {
    const char *text; /* borrowed: a route's pattern */
    size_t len;
    node_t *child; /* owned */
} edge_t;

struct node {
    edge_t *statics; /* owned, sorted by text */
    size_t nstatics;
    node_t *params[WSR__MATCH_COUNT]; /* owned */
    const wsr__route_t **leaf;        /* owned array of borrowed routes */
    size_t nleaf;
    unsigned leaf_methods;
};

typedef struct cleanup {
    struct cleanup *next;
    void (*fn)(void *user);
    void *user;
} cleanup_t;

struct wsr_router {
    wsr__route_t **routes; /* owned, registration order */
    cleanup_t *cleanups;   /* owned, newest first */
    size_t nroutes;
    const wsr__route_t **by_name; /* owned array, sorted by name */
    node_t *root;                 /* owned */
    size_t nrated;                /* routes with a rate of their own */
    bool frozen;
};

/* What a path search found. */
typedef struct match_state {
    wsr__slice_t segs[WSR__MAX_SEGMENTS];
    size_t nseg;
    unsigned method;
    const wsr__route_t *found;
    wsr__slice_t caps[WSR__MAX_SEGMENTS]; /* captures of the found route */
    wsr__slice_t work[WSR__MAX_SEGMENTS]; /* captures along the current path */
    const wsr__route_t *first;            /* highest-precedence route on a matching path */
    unsigned allow;                       /* methods of every matching path */
} match_state_t;

static void node_free(node_t *n);
static void blame_route(wsr_error_t *err, const char *name);
static int compile_route(const wsr_route_t *def, void *user, size_t index, wsr__route_t **out,
                         wsr_error_t *err);
static void route_free(wsr__route_t *r);
static int build(wsr_router_t *router, wsr__route_t **routes, size_t n, node_t **root,
                 const wsr__route_t ***by_name, wsr_error_t *err);

wsr_router_t *wsr_router_new(void)
{
    return wsr__calloc(1, sizeof(wsr_router_t));
}

void wsr_router_free(wsr_router_t *router)
{
    size_t i;

    if (router == NULL)
        return;
    while (router->cleanups != NULL) {
        cleanup_t *c = router->cleanups;

        router->cleanups = c->next;
        c->fn(c->user);
        wsr__free(c);
    }
    for (i = 0; i < router->nroutes; i++)
        route_free(router->routes[i]);
    wsr__free(router->routes);
    wsr__free(router->by_name);
    node_free(router->root);
    wsr__free(router);
}

int wsr_router_on_free(wsr_router_t *router, void (*fn)(void *user), void *user)
{
    cleanup_t *c = wsr__malloc(sizeof(*c));

    if (c == NULL)
        return WSR_ENOMEM;
    c->fn = fn;
    c->user = user;
    c->next = router->cleanups;
    router->cleanups = c;
    return 0;
}

size_t wsr_router_count(const wsr_router_t *router)
{
    return router->nroutes;
}

const char *wsr__route_name(const wsr__route_t *route)
{
    return route->def->name;
}

void wsr__router_freeze(wsr_router_t *router)
{
    router->frozen = true;
}

size_t wsr__router_rated(const wsr_router_t *router)
{
    return router->nrated;
}

const wsr__route_t *wsr__router_get(const wsr_router_t *router, size_t index)
{
    return index < router->nroutes ? router->routes[index] : NULL;
}

static int cmp_name_key(const void *key, const void *elem)
{
    return strcmp(key, (*(const wsr__route_t *const *)elem)->def->name);
}

const wsr__route_t *wsr__router_find(const wsr_router_t *router, const char *name)
{
    const wsr__route_t *const *r;

    if (router->nroutes == 0)
        return NULL;
    r = bsearch(name, router->by_name, router->nroutes, sizeof(*router->by_name), cmp_name_key);
    return r ? *r : NULL;
}

int wsr_router_add(wsr_router_t *router, const wsr_route_t *table, void *user, wsr_error_t *err)
{
    size_t n = 0, i, total;
    wsr__route_t **all = NULL;
    const wsr__route_t **by_name = NULL;
    node_t *root = NULL;
    int rc = 0;

    /* The report names no file or line; clear what the caller left in it. */
    if (err != NULL)
        memset(err, 0, sizeof(*err));
    if (router->frozen)
        return wsr__error_set(err, WSR_ESTATE, "routes cannot be added while the server runs");
    if (table == NULL)
        return wsr__error_set(err, WSR_EINVAL, "route table is NULL");
    while (table[n].name != NULL)
        n++;
    total = router->nroutes + n;
    all = wsr__calloc(total ? total : 1, sizeof(*all));
    if (all == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory adding routes");
    if (router->nroutes > 0) /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(all, router->routes, router->nroutes * sizeof(*all));
    for (i = 0; i < n && rc == 0; i++)
        rc = compile_route(&table[i], user, router->nroutes + i, &all[router->nroutes + i], err);
    if (rc == 0)
        rc = build(router, all, total, &root, &by_name, err);
    if (rc != 0) {
        for (i = router->nroutes; i < total; i++)
            route_free(all[i]);
        wsr__free(all);
        return rc;
    }
    /* Commit only now, so a refused table leaves the router as it was. */
    wsr__free(router->routes);
    wsr__free(router->by_name);
    node_free(router->root);
    for (i = router->nroutes; i < total; i++)
        if (all[i]->rate > 0)
            all[i]->rate_slot = router->nrated++;
    router->routes = all;
    router->nroutes = total;
    router->by_name = by_name;
    router->root = root;
    return 0;
}

/* Names the refused route in err->key (the text names it too). */
static void blame_route(wsr_error_t *err, const char *name)
{
    if (err != NULL)
        snprintf(err->key, sizeof(err->key), "%s", name);
}

static void route_free(wsr__route_t *r)
{
    if (r == NULL)
        return;
    wsr__params_dispose(r);
    wsr__free(r->segs);
    wsr__free(r->pattern);
    wsr__free(r);
}

static bool valid_ident(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static bool valid_name(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > 64)
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* Parses "{name}" or "{name:type}" in segment `s` into `seg` and a new path
 * parameter of `r`. */
static int parse_param_segment(wsr__route_t *r, wsr__segment_t *seg, char *s, size_t n,
                               wsr_error_t *err)
{
    char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) - 1 : n - 2;
    wsr_type_t type = WSR_TYPE_STRING;

    seg->match = WSR__MATCH_ANY;
    if (colon != NULL) {
        size_t tlen = n - (size_t)(colon - s) - 2;

        if (tlen == 3 && memcmp(colon + 1, "int", 3) == 0) {
            seg->match = WSR__MATCH_INT;
            type = WSR_TYPE_INT;
        } else if (tlen == 6 && memcmp(colon + 1, "number", 6) == 0) {
            seg->match = WSR__MATCH_NUMBER;
            type = WSR_TYPE_NUMBER;
        } else if (!(tlen == 6 && memcmp(colon + 1, "string", 6) == 0)) {
            return wsr__error_set(err, WSR_EINVAL,
                                  "route '%s': url pattern segment '%.*s' has an unknown type "
                                  "(use int, number or string)",
                                  r->def->name, (int)n, s);
        }
    }
    if (!valid_ident(s + 1, name_len))
        return wsr__error_set(err, WSR_EINVAL,
                              "route '%s': url pattern segment '%.*s' needs a parameter name "
                              "made of letters, digits and '_'",
                              r->def->name, (int)n, s);
    s[1 + name_len] = '\0'; /* the pattern copy now holds the bare name */
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, s + 1) == 0)
            return wsr__error_set(err, WSR_EINVAL,
                                  "route '%s': url pattern names parameter '%s' twice",
                                  r->def->name, s + 1);
    seg->text = s + 1;
    seg->len = name_len;
    seg->param = (int)r->nparams;
    r->params[r->nparams].name = s + 1;
    r->params[r->nparams].type = type;
    r->params[r->nparams].required = true;
    r->params[r->nparams].in_path = true;
    r->nparams++;
    return 0;
}

/* Splits the URL pattern into segments (and path parameters). */
static int parse_pattern(wsr__route_t *r, wsr_error_t *err)
{
    const char *url = r->def->url;
    size_t len = strlen(url), nseg = 0, i;
    char *p, *end, *copy;
    int rc;

    if (url[0] != '/')
        return wsr__error_set(err, WSR_EINVAL, "route '%s': url pattern '%s' must start with /",
                              r->def->name, url);
    while (len > 1 && url[len - 1] == '/')
        len--;
    /* Two copies side by side: the normalised pattern for messages, and a
     * scratch copy whose segments are cut in place. */
    r->pattern = wsr__malloc(2 * len + 2);
    if (r->pattern == NULL)
        return WSR_ENOMEM;
    memcpy(r->pattern, url, len);
    r->pattern[len] = '\0';
    copy = r->pattern + len + 1;
    memcpy(copy, url, len);
    copy[len] = '\0';
    for (i = 1; i < len; i++)
        nseg += url[i] == '/';
    nseg += len > 1;
    if (nseg > WSR__MAX_SEGMENTS)
        return wsr__error_set(err, WSR_EINVAL, "route '%s': url pattern has more than %d segments",
                              r->def->name, WSR__MAX_SEGMENTS);
    r->segs = wsr__calloc(nseg ? nseg : 1, sizeof(*r->segs));
    r->params = wsr__calloc(nseg ? nseg : 1, sizeof(*r->params));
    if (r->segs == NULL || r->params == NULL)
        return WSR_ENOMEM;
    for (p = copy + 1; len > 1 && r->nsegs < nseg; p = end + 1) {
        wsr__segment_t *seg = &r->segs[r->nsegs++];
        size_t n;

        end = strchr(p, '/');
        if (end == NULL)
            end = p + strlen(p);
        n = (size_t)(end - p);
        *end = '\0';
        if (n == 0)
            return wsr__error_set(err, WSR_EINVAL,
                                  "route '%s': url pattern '%s' has an empty segment", r->def->name,
                                  r->pattern);
        if (p[0] == '{' && p[n - 1] == '}' && n > 2) {
            rc = parse_param_segment(r, seg, p, n, err);
            if (rc != 0)
                return rc;
            continue;
        }
        if (memchr(p, '{', n) || memchr(p, '}', n))
            return wsr__error_set(err, WSR_EINVAL,
                                  "route '%s': url pattern segment '%s' has an unbalanced brace "
                                  "(a parameter is a whole segment: {name} or {name:type})",
                                  r->def->name, p);
        seg->text = p;
        seg->len = n;
        seg->param = -1;
    }
    return 0;
}

static int check_definition(const wsr_route_t *def, wsr_error_t *err)
{
    double rate;

    if (!valid_name(def->name))
        return wsr__error_set(err, WSR_EINVAL,
                              "route '%.64s': a name is 1 to 64 printable characters without "
                              "blanks",
                              def->name);
    if (def->handler == NULL)
        return wsr__error_set(err, WSR_EINVAL, "route '%s' has no handler", def->name);
    if (def->url != NULL && (def->methods == 0 || (def->methods & ~WSR_METHODS_ALL)))
        return wsr__error_set(err, WSR_EINVAL, "route '%s' has a url but no valid methods",
                              def->name);
    if (def->url == NULL && def->methods != 0)
        return wsr__error_set(err, WSR_EINVAL,
                              "route '%s' has methods but no url (a cmd-only route has neither)",
                              def->name);
    if (def->rate != NULL && !wsr__rate_parse(def->rate, &rate))
        return wsr__error_set(err, WSR_EINVAL,
                              "route '%s': rate \"%.40s\" is not a rate (\"N/s\", \"N/min\", "
                              "\"N/h\" or \"off\")",
                              def->name, def->rate);
    return 0;
}

static int compile_route(const wsr_route_t *def, void *user, size_t index, wsr__route_t **out,
                         wsr_error_t *err)
{
    wsr__route_t *r;
    int rc = check_definition(def, err);

    /* err->key used to be set only on success, so a refusal named the route
     * compiled before the bad one (or held garbage): name the bad one. */
    if (rc != 0) {
        blame_route(err, def->name);
        return rc;
    }
    r = wsr__calloc(1, sizeof(*r));
    if (r == NULL) {
        blame_route(err, def->name);
        return wsr__error_set(err, WSR_ENOMEM, "out of memory compiling route '%s'", def->name);
    }
    r->def = def;
    r->user = user;
    r->index = index;
    r->methods = def->methods;
    r->flags = def->flags | (def->role ? WSR_ROUTE_AUTH : 0);
    if (def->rate != NULL)
        (void)wsr__rate_parse(def->rate, &r->rate); /* checked already */
    rc = def->url ? parse_pattern(r, err) : 0;
    if (rc == 0)
        rc = wsr__params_compile(r, err);
    if (rc == WSR_ENOMEM)
        wsr__error_set(err, rc, "out of memory compiling route '%s'", def->name);
    if (rc != 0) {
        blame_route(err, def->name);
        route_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---- the trie ---- */

static void node_free(node_t *n)
{
    size_t i;

    if (n == NULL)
        return;
    for (i = 0; i < n->nstatics; i++)
        node_free(n->statics[i].child);
    for (i = 0; i < WSR__MATCH_COUNT; i++)
        node_free(n->params[i]);
    wsr__free(n->statics);
    wsr__free(n->leaf);
    wsr__free(n);
}

static int cmp_text(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, WSR__MIN(alen, blen));

    return c ? c : (alen > blen) - (alen < blen);
}

/* Finds the static edge for `text`, or where it would be inserted. */
static size_t find_edge(const node_t *n, const char *text, size_t len, bool *found)
{
    size_t lo = 0, hi = n->nstatics;

    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_text(text, len, n->statics[mid].text, n->statics[mid].len);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static node_t *static_child(node_t *n, const wsr__segment_t *seg)
{
    bool found;
    size_t at = find_edge(n, seg->text, seg->len, &found);
    edge_t *e;

    if (found)
        return n->statics[at].child;
    e = wsr__realloc(n->statics, (n->nstatics + 1) * sizeof(*e));
    if (e == NULL)
        return NULL;
    n->statics = e;
    memmove(&e[at + 1], &e[at], (n->nstatics - at) * sizeof(*e));
    e[at].text = seg->text;
    e[at].len = seg->len;
    e[at].child = wsr__calloc(1, sizeof(node_t));
    if (e[at].child == NULL) {
        memmove(&e[at], &e[at + 1], (n->nstatics - at) * sizeof(*e));
        return NULL;
    }
    n->nstatics++;
    return e[at].child;
}

static void methods_text(unsigned methods, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (unsigned bit = 1; bit <= WSR_OPTIONS && used < size; bit <<= 1)
        if (methods & bit)
            used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "",
                                     wsr_method_name(bit));
}

static int insert_route(node_t *root, const wsr__route_t *r, wsr_error_t *err)
{
    node_t *n = root;
    const wsr__route_t **leaf;
    size_t i;

    for (i = 0; i < r->nsegs; i++) {
        const wsr__segment_t *seg = &r->segs[i];

        if (seg->param < 0) {
            n = static_child(n, seg);
        } else {
            if (n->params[seg->match] == NULL)
                n->params[seg->match] = wsr__calloc(1, sizeof(node_t));
            n = n->params[seg->match];
        }
        if (n == NULL)
            return WSR_ENOMEM;
    }
    for (i = 0; i < n->nleaf; i++) {
        char m[64];

        if (!(n->leaf[i]->methods & r->methods))
            continue;
        methods_text(n->leaf[i]->methods & r->methods, m, sizeof(m));
        blame_route(err, r->def->name);
        return wsr__error_set(err, WSR_EAMBIGUOUS,
                              "route '%s' (%s) is ambiguous with route '%s' (%s): both would "
                              "answer %s on the same URLs",
                              r->def->name, r->pattern, n->leaf[i]->def->name, n->leaf[i]->pattern,
                              m);
    }
    leaf = wsr__realloc(n->leaf, (n->nleaf + 1) * sizeof(*leaf));
    if (leaf == NULL)
        return WSR_ENOMEM;
    /* Keep the leaf sorted by pattern, so what a 405 quotes (the first one)
     * does not depend on registration order. */
    for (i = n->nleaf; i > 0 && strcmp(leaf[i - 1]->pattern, r->pattern) > 0; i--)
        leaf[i] = leaf[i - 1];
    leaf[i] = r;
    n->nleaf++;
    n->leaf = leaf;
    n->leaf_methods |= r->methods;
    return 0;
}

static int cmp_route_name(const void *a, const void *b)
{
    return strcmp((*(const wsr__route_t *const *)a)->def->name,
                  (*(const wsr__route_t *const *)b)->def->name);
}

/* Builds the trie and the name index of `routes`, refusing duplicates and
 * ambiguities. Nothing of `router` changes. */
static int build(wsr_router_t *router, wsr__route_t **routes, size_t n, node_t **root_out,
                 const wsr__route_t ***by_name_out, wsr_error_t *err)
{
    const wsr__route_t **by_name = wsr__calloc(n ? n : 1, sizeof(*by_name));
    node_t *root = wsr__calloc(1, sizeof(node_t));
    size_t i;
    int rc = 0;

    (void)router;
    if (by_name == NULL || root == NULL) {
        rc = wsr__error_set(err, WSR_ENOMEM, "out of memory building the router");
        goto fail;
    }
    for (i = 0; i < n; i++)
        by_name[i] = routes[i];
    qsort(by_name, n, sizeof(*by_name), cmp_route_name);
    for (i = 1; i < n; i++)
        if (strcmp(by_name[i - 1]->def->name, by_name[i]->def->name) == 0) {
            blame_route(err, by_name[i]->def->name);
            rc = wsr__error_set(err, WSR_EEXIST, "route name '%s' is registered twice",
                                by_name[i]->def->name);
            goto fail;
        }
    rc = wsr__cmdid_check(routes, n, err);
    for (i = 0; i < n && rc == 0; i++)
        if (routes[i]->def->url != NULL)
            rc = insert_route(root, routes[i], err);
    if (rc == WSR_ENOMEM)
        wsr__error_set(err, rc, "out of memory building the router");
    if (rc != 0)
        goto fail;
    *root_out = root;
    *by_name_out = by_name;
    return 0;
fail:
    node_free(root);
    wsr__free(by_name);
    return rc;
}

/* ---- matching ---- */

/* The number of ASCII digits at s[i..n). */
static size_t digits(const char *s, size_t i, size_t n)
{
    size_t k = i;

    while (k < n && s[k] >= '0' && s[k] <= '9')
        k++;
    return k - i;
}

/*
 * Whether the n bytes at s spell a JSON number (RFC 8259 section 6):
 * -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?, and with `integer` no
 * fraction and no exponent. strtod and strtoll are far laxer ("+5", ".5",
 * "5.", "007", " 5", "0x10", "inf", "nan"), so they only convert what this
 * has accepted.
 */
static bool json_number_syntax(const char *s, size_t n, bool integer)
{
    size_t i = (n > 0 && s[0] == '-') ? 1 : 0, k = digits(s, i, n);

    if (k == 0 || (k > 1 && s[i] == '0'))
        return false;
    i += k;
    if (integer)
        return i == n;
    if (i < n && s[i] == '.') {
        k = digits(s, ++i, n);
        if (k == 0)
            return false;
        i += k;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        k = digits(s, i, n);
        if (k == 0)
            return false;
        i += k;
    }
    return i == n;
}

/* A JSON integer within int64: what params.c converts to a JSON integer. */
static bool segment_is_int(const wsr__slice_t *s)
{
    char tmp[24];

    if (s->len >= sizeof(tmp) || !json_number_syntax(s->ptr, s->len, true))
        return false;
    /* Nineteen digits may still be past INT64_MAX: such a segment is a
     * {number}, not an {int} that params.c would then refuse with a 422. */
    memcpy(tmp, s->ptr, s->len);
    tmp[s->len] = '\0';
    errno = 0;
    (void)strtoll(tmp, NULL, 10);
    return errno == 0;
}

/* A JSON number that a double holds. Past DBL_MAX it would be infinity,
 * which params.c refuses with a 422, while as a number the URL has no
 * route. Below the smallest double it rounds towards zero, as the body
 * parser's numbers do. */
static bool segment_is_number(const wsr__slice_t *s)
{
    char tmp[64], *text = tmp;
    bool finite;

    if (!json_number_syntax(s->ptr, s->len, false))
        return false;
    /* The grammar allows any number of digits (1e+000...0 is 1): a long
     * segment is copied to the heap; without memory it matches no route. */
    if (s->len >= sizeof(tmp) && (text = wsr__malloc(s->len + 1)) == NULL)
        return false;
    memcpy(text, s->ptr, s->len);
    text[s->len] = '\0';
    finite = isfinite(wsr__strtod(text, NULL));
    if (text != tmp)
        wsr__free(text);
    return finite;
}

static bool segment_matches(int match, const wsr__slice_t *s)
{
    switch (match) {
    case WSR__MATCH_INT:
        return segment_is_int(s);
    case WSR__MATCH_NUMBER:
        return segment_is_number(s);
    default:
        return s->len > 0;
    }
}

static bool search(const node_t *n, size_t depth, match_state_t *st)
{
    const wsr__slice_t *seg;
    bool found;
    size_t at;

    if (depth == st->nseg) {
        if (n->nleaf == 0)
            return false;
        if (st->first == NULL)
            st->first = n->leaf[0];
        st->allow |= n->leaf_methods;
        for (size_t i = 0; i < n->nleaf; i++)
            if (n->leaf[i]->methods & st->method) {
                st->found = n->leaf[i];
                memcpy(st->caps, st->work, depth * sizeof(*st->caps));
                return true;
            }
        return false;
    }
    seg = &st->segs[depth];
    at = find_edge(n, seg->ptr, seg->len, &found);
    if (found && search(n->statics[at].child, depth + 1, st))
        return true;
    for (int m = 0; m < WSR__MATCH_COUNT; m++) {
        if (n->params[m] == NULL || !segment_matches(m, seg))
            continue;
        st->work[depth] = *seg;
        if (search(n->params[m], depth + 1, st))
            return true;
    }
    return false;
}

/* Splits req->path into segments, percent-decoding into `scratch` when the
 * path has escapes. Returns 0, 1 (too many segments: no route), WSR_EPARSE or
 * WSR_ENOMEM. */
static int split_path(const char *path, match_state_t *st, wsr__buf_t *scratch)
{
    const char *p = path + 1;
    bool escaped = strchr(path, '%') != NULL;
    size_t offsets[WSR__MAX_SEGMENTS];

    st->nseg = 0;
    if (*p == '\0')
        return 0;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (st->nseg == WSR__MAX_SEGMENTS)
            return 1;
        if (escaped) {
            int rc;

            offsets[st->nseg] = scratch->len;
            /* WSR_EPARSE or WSR_ENOMEM: out of memory used to be answered
             * as a bad escape (400). */
            rc = wsr__percent_decode(scratch, p, n, false);
            if (rc != 0)
                return rc;
            st->segs[st->nseg].len = scratch->len - offsets[st->nseg];
        } else {
            st->segs[st->nseg].ptr = p;
            st->segs[st->nseg].len = n;
        }
        st->nseg++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    /* The scratch buffer may have moved while growing: point at it last. */
    for (size_t i = 0; escaped && i < st->nseg; i++)
        st->segs[i].ptr = (const char *)scratch->data + offsets[i];
    return 0;
}

static int capture_path_args(const wsr__route_t *r, wsr_request_t *req, const match_state_t *st)
{
    size_t i;

    for (i = 0; i < r->nsegs; i++) {
        const wsr__segment_t *seg = &r->segs[i];

        if (seg->param < 0)
            continue;
        if (req->path_args == NULL && (req->path_args = json_object()) == NULL)
            return WSR_ENOMEM;
        if (json_object_set_new(req->path_args, r->params[seg->param].name,
                                json_stringn(st->caps[i].ptr, st->caps[i].len)) != 0)
            return WSR_ENOMEM;
    }
    return 0;
}

static int answer_options(wsr_response_t *res, unsigned allow)
{
    json_t *list = json_array(), *data = json_object();
    bool failed = list == NULL || data == NULL;

    /* A failed append used to end the loop and answer a partial list. */
    for (unsigned bit = 1; !failed && bit <= WSR_OPTIONS; bit <<= 1)
        if ((allow & bit) && json_array_append_new(list, json_string(wsr_method_name(bit))))
            failed = true;
    if (failed) {
        json_decref(list);
        json_decref(data);
        return WSR_ENOMEM;
    }
    if (json_object_set_new(data, "allow", list) != 0) {
        json_decref(data);
        return WSR_ENOMEM;
    }
    return wsr_response_set_data_take(res, data) ? WSR_ENOMEM : 1;
}

static int route_by_path(const wsr_router_t *router, wsr_request_t *req, wsr_response_t *res)
{
    match_state_t st;
    wsr__buf_t scratch;
    int rc;

    memset(&st, 0, sizeof(st));
    wsr__buf_init(&scratch, 0, 0);
    rc = split_path(req->path, &st, &scratch);
    if (rc == WSR_EPARSE) {
        rc = wsr_response_error(res, 400,
                                "url path %.200s has a bad percent-escape or invalid "
                                "UTF-8",
                                req->path)
                 ? WSR_ENOMEM
                 : 1;
        goto out;
    }
    if (rc < 0)
        goto out;
    st.method = req->method;
    if (rc == 0 && router->root != NULL && !search(router->root, 0, &st) &&
        req->method == WSR_HEAD) {
        /* HEAD is GET without the body when no route answers HEAD itself. */
        st.method = WSR_GET;
        (void)search(router->root, 0, &st);
    }
    if (st.found != NULL) {
        req->route = st.found;
        rc = capture_path_args(st.found, req, &st);
    } else if (st.first == NULL) {
        rc = wsr_response_error(res, 404, "no route for %.200s", req->path) ? WSR_ENOMEM : 1;
    } else if (req->method == WSR_OPTIONS) {
        rc = answer_options(res, st.allow);
    } else {
        rc = wsr_response_error(res, 405, "method %s is not allowed on %s",
                                wsr_method_name(req->method), st.first->pattern)
                 ? WSR_ENOMEM
                 : 1;
        res->allow = st.allow;
    }
out:
    wsr__buf_dispose(&scratch);
    return rc;
}

int wsr__router_route(const wsr_router_t *router, wsr_request_t *req, wsr_response_t *res)
{
    int rc;

    req->router = router;
    if (req->cmdid != 0) {
        req->route = wsr__cmdid_find(router, req->cmdid);
        if (req->route == NULL)
            return wsr_response_error(res, 404, "no command with cmdid %lld", req->cmdid)
                       ? WSR_ENOMEM
                       : 1;
    } else if (req->cmd != NULL) {
        req->route = wsr__router_find(router, req->cmd);
        if (req->route == NULL)
            return wsr_response_error(res, 404, "no command named %.100s", req->cmd) ? WSR_ENOMEM
                                                                                     : 1;
    } else {
        rc = route_by_path(router, req, res);
        if (rc != 0)
            return rc;
    }
    if (req->args_pos != NULL && (rc = wsr__params_from_positions(req->route, req, res)) != 0)
        return rc;
    return wsr__params_validate(req->route, req, res);
}
