/* SPDX-License-Identifier: MIT */
/*
 * The example route modules, each reproducing a reference system's example in
 * wsrouter's terms. Each exports one registration function (STYLE R2).
 */
#ifndef WSR_ROUTES_ROUTES_H
#define WSR_ROUTES_ROUTES_H

#include <wsrouter/wsrouter.h>

/* tcpy's addition: `add` with numbers x and y answers their sum. */
WSR_NODISCARD int wsr_routes_math(wsr_router_t *router, wsr_error_t *err);

/* retopy's counters: increment, decrement, get, set, rem, plus list. */
WSR_NODISCARD int wsr_routes_counters(wsr_router_t *router, wsr_error_t *err);

/* aiorest-ws's examples: GET /hello, GET /hello/{user}/{id}, GET /calc/sum. */
WSR_NODISCARD int wsr_routes_hello(wsr_router_t *router, wsr_error_t *err);

/* `echo` answers its data. */
WSR_NODISCARD int wsr_routes_echo(wsr_router_t *router, wsr_error_t *err);

/* Guarded routes: `profile` needs a login, `admin` the admin role; and
 * `user_create`, aiorest-ws's registration (POST /auth/user/create). */
WSR_NODISCARD int wsr_routes_account(wsr_router_t *router, wsr_error_t *err);

/* Diagnostics for tests: fail (500), sleep (blocking), later (deferred),
 * push, big. */
WSR_NODISCARD int wsr_routes_diag(wsr_router_t *router, wsr_error_t *err);

/* Streaming examples: count, ticker, stream_stats (routes/stream.c). */
WSR_NODISCARD int wsr_routes_stream(wsr_router_t *router, wsr_error_t *err);

/* Registers every example module above except diag. */
WSR_NODISCARD int wsr_routes_examples(wsr_router_t *router, wsr_error_t *err);

/*
 * Registers the modules named in `list` (comma-separated: math, counters,
 * hello, echo, account, diag; "examples" for math, counters, hello, echo and
 * account; "all" for every one).
 * Returns 0, WSR_ENOENT for an unknown name (`err` names it), or what
 * wsr_router_add returns.
 */
WSR_NODISCARD int wsr_routes_load(wsr_router_t *router, const char *list, wsr_error_t *err);

#endif /* WSR_ROUTES_ROUTES_H */
