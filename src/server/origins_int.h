/* SPDX-License-Identifier: MIT */
/* The Origin allow-list of browser handshakes (see origins.c). */
#ifndef WSR_SERVER_ORIGINS_INT_H
#define WSR_SERVER_ORIGINS_INT_H

#include "core/internal.h"

/* Parses a comma-separated allow-list into a normalised, NULL-terminated array
 * (owned: wsr__origins_free), or NULL for an empty list. Returns 0, WSR_EINVAL
 * (an entry is not scheme://host[:port]) or WSR_ENOMEM, with `err`. */
int wsr__origins_parse(const char *list, char ***out, wsr_error_t *err);
void wsr__origins_free(char **list);
/* True when a handshake with `origin` (NULL: none sent) may proceed. */
bool wsr__origin_allowed(char *const *list, const char *origin);

#endif /* WSR_SERVER_ORIGINS_INT_H */
