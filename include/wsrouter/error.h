/* SPDX-License-Identifier: MIT */
/*
 * Error codes and error reports. Functions that can fail return 0 or a
 * negative WSR_E* code; constructors return NULL and, when the reason is worth
 * more than a code (configuration, route tables, JSON), fill a wsr_error_t with
 * a sentence and the place it refers to. errno is never part of the API.
 */
#ifndef WSR_WSROUTER_ERROR_H
#define WSR_WSROUTER_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro: name, negative value, message. The single source of every code. */
#define WSR_ERRNO_MAP(XX)                                                                          \
    XX(ENOMEM, -1, "out of memory")                                                                \
    XX(EINVAL, -2, "invalid argument")                                                             \
    XX(EOVERFLOW, -3, "value too large")                                                           \
    XX(ENOENT, -4, "not found")                                                                    \
    XX(EEXIST, -5, "already exists")                                                               \
    XX(EPARSE, -6, "parse error")                                                                  \
    XX(EAMBIGUOUS, -7, "ambiguous route table")                                                    \
    XX(EIO, -8, "input/output error")                                                              \
    XX(ETIMEDOUT, -9, "timed out")                                                                 \
    XX(ECLOSED, -10, "connection closed")                                                          \
    XX(EBUSY, -11, "resource busy or queue full")                                                  \
    XX(ESTATE, -12, "operation not allowed in the current state")                                  \
    XX(ECONNECT, -13, "connection failed")                                                         \
    XX(ETLS, -14, "TLS error")                                                                     \
    XX(EPROTO, -15, "protocol error")                                                              \
    XX(EDONE, -16, "already completed")                                                            \
    XX(EAUTH, -17, "authentication failed")                                                        \
    XX(ECANCELED, -18, "canceled")

typedef enum wsr_errno {
    WSR_OK = 0,
#define WSR__ERR_ENUM(name, value, msg) WSR_##name = (value),
    WSR_ERRNO_MAP(WSR__ERR_ENUM)
#undef WSR__ERR_ENUM
} wsr_errno_t;

/*
 * A detailed error report, filled by calls that take an optional
 * `wsr_error_t *err`. `source` names the file or table the error is about
 * ("" when none); `line` and `column` are 1-based, 0 when unknown; `key` names
 * the configuration key or route involved ("" when none).
 */
typedef struct wsr_error {
    int code;
    int line;
    int column;
    char source[160];
    char key[96];
    char text[320];
} wsr_error_t;

/*
 * Returns a static, human-readable message for `code` (any int; unknown codes
 * give "unknown error"). Thread-safe; the string is never freed.
 */
WSR_API const char *wsr_strerror(int code);

/*
 * Returns the symbolic name of `code` ("WSR_ENOMEM"), or "WSR_UNKNOWN".
 * Thread-safe; the string is never freed.
 */
WSR_API const char *wsr_err_name(int code);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_ERROR_H */
