/* SPDX-License-Identifier: MIT */
/*
 * Log levels and the sink type. Library modules never print: they format a
 * line and hand it to the sink the program configured (wsr_server_config_t),
 * which owns stderr or syslog.
 */
#ifndef WSR_WSROUTER_LOG_H
#define WSR_WSROUTER_LOG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wsr_log_level {
    WSR_LOG_ERR = 0,
    WSR_LOG_WARN,
    WSR_LOG_NOTICE,
    WSR_LOG_INFO,
    WSR_LOG_DEBUG,
} wsr_log_level_t;

/*
 * A log sink: receives one formatted line (no trailing newline), borrowed for
 * the call. Called from any of the server's threads, so it must be
 * thread-safe. `user` is the pointer registered with it.
 */
typedef void (*wsr_log_fn)(void *user, int level, const char *line);

/* Returns the level's name ("notice"), or "?" for an unknown level. */
WSR_API const char *wsr_log_level_name(int level);

/* Parses a level name ("err", "warn", "notice", "info", "debug"); -1 if unknown. */
WSR_API int wsr_log_level_parse(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_LOG_H */
