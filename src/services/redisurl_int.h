/* SPDX-License-Identifier: MIT */
/*
 * The cluster engine's address (PROTOCOL.md section 11; the `engine` and
 * `engine_password` settings): "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]",
 * HOST a name, an IPv4 address or a bracketed IPv6 one, PORT 1 to 65535
 * (6379), DB 0 to 15 (0). USER and PASSWORD are taken as written (no
 * percent-decoding); `engine_password`, when set, is the password when the URL
 * carries none, and setting both is refused rather than one silently winning.
 */
#ifndef WSR_SERVICES_REDISURL_INT_H
#define WSR_SERVICES_REDISURL_INT_H

#include <stdbool.h>

#include "wsrouter/error.h"

#define WSR__REDIS_HOST_MAX     255
#define WSR__REDIS_USER_MAX     127
#define WSR__REDIS_PASSWORD_MAX 511

typedef struct wsr__redis_url {
    char host[WSR__REDIS_HOST_MAX + 1]; /* without the brackets of an IPv6 address */
    int port;
    int db;
    char user[WSR__REDIS_USER_MAX + 1];         /* "" : none (AUTH with the password alone) */
    char password[WSR__REDIS_PASSWORD_MAX + 1]; /* "" : none */
} wsr__redis_url_t;

/* Parses `url` (borrowed) with `password` (borrowed; NULL: none) into *out.
 * Returns 0, or WSR_EINVAL with a sentence in `err` naming what is wrong
 * (never quoting a password). */
int wsr__redis_url_parse(const char *url, const char *password, wsr__redis_url_t *out,
                         wsr_error_t *err);

#endif /* WSR_SERVICES_REDISURL_INT_H */
