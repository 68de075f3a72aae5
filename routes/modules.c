/* SPDX-License-Identifier: MIT */
/*
 * The module loader: registers route modules by name, so a program (wsrouterd)
 * can choose them from a flag or its configuration.
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

int wsr_routes_examples(wsr_router_t *router, wsr_error_t *err)
{
    int rc = wsr_routes_math(router, err);

    if (rc == 0)
        rc = wsr_routes_counters(router, err);
    if (rc == 0)
        rc = wsr_routes_hello(router, err);
    if (rc == 0)
        rc = wsr_routes_echo(router, err);
    if (rc == 0)
        rc = wsr_routes_account(router, err);
    if (rc == 0)
        rc = wsr_routes_stream(router, err);
    return rc;
}

typedef int (*module_fn)(wsr_router_t *, wsr_error_t *);

static const struct {
    const char *name;
    module_fn add;
} modules[] = {
    {"math", wsr_routes_math},     {"counters", wsr_routes_counters},
    {"hello", wsr_routes_hello},   {"echo", wsr_routes_echo},
    {"diag", wsr_routes_diag},     {"account", wsr_routes_account},
    {"stream", wsr_routes_stream},
};

static int load_one(wsr_router_t *router, const char *name, size_t n, wsr_error_t *err)
{
    int rc = 0;

    if (n == 8 && memcmp(name, "examples", 8) == 0)
        return wsr_routes_examples(router, err);
    if (n == 3 && memcmp(name, "all", 3) == 0) {
        rc = wsr_routes_examples(router, err);
        return rc ? rc : wsr_routes_diag(router, err);
    }
    for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
        if (strlen(modules[i].name) == n && memcmp(modules[i].name, name, n) == 0)
            return modules[i].add(router, err);
    if (err != NULL) {
        err->code = WSR_ENOENT;
        snprintf(err->key, sizeof(err->key), "modules");
        snprintf(err->text, sizeof(err->text),
                 "unknown route module \"%.*s\" (modules: math, counters, hello, echo, account, "
                 "stream, diag, "
                 "examples, all)",
                 (int)n, name);
    }
    return WSR_ENOENT;
}

int wsr_routes_load(wsr_router_t *router, const char *list, wsr_error_t *err)
{
    const char *p = list;
    int rc = 0;

    while (rc == 0 && p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);

        while (n > 0 && *p == ' ')
            p++, n--;
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n > 0)
            rc = load_one(router, p, n, err);
        p = comma ? comma + 1 : NULL;
    }
    return rc;
}
