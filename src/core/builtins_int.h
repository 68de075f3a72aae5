/* SPDX-License-Identifier: MIT */
/* The built-in routes (PROTOCOL.md section 7). */
#ifndef WSR_SRC_BUILTINS_INT_H
#define WSR_SRC_BUILTINS_INT_H

#include "services/factory_int.h"

/* Adds commands, help, stats and ping to `router`; `f` (may be NULL) feeds
 * `stats`. Returns like wsr_router_add. */
WSR_NODISCARD int wsr__builtins_add(wsr_router_t *router, wsr_factory_t *f, wsr_error_t *err);

#endif /* WSR_SRC_BUILTINS_INT_H */
