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

/* How a program's sink writes lines (the server's `log_format`). */
enum { WSR_LOG_FORMAT_TEXT = 0, WSR_LOG_FORMAT_JSON = 1 };

/*
 * Formats one log line for a sink, stamped with the current UTC time to the
 * millisecond, into `out` (`size` bytes, NUL-terminated, cut to fit):
 *   text: 2026-12-03T14:10:17.123Z [info] conn#1 open from 127.0.0.1
 *   json: {"time":"2026-12-03T14:10:17.123Z","level":"info","msg":"conn#1 ..."}
 * In JSON, `line` is escaped (control characters, quotes, backslashes) and a
 * cut never splits an escape. No newline is added. Returns the length written.
 */
WSR_API size_t wsr_log_format_line(char *out, size_t size, int format, int level, const char *line);

/* Returns the level's name ("notice"), or "?" for an unknown level. */
WSR_API const char *wsr_log_level_name(int level);

/* Parses a level name ("err", "warn", "notice", "info", "debug"); -1 if unknown. */
WSR_API int wsr_log_level_parse(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_LOG_H */
