/* SPDX-License-Identifier: MIT */
/*
 * Plain HTTP on the WebSocket port: the www/ file mount and the operational
 * endpoints under /_/ (health, metrics, stats).
 */
#ifndef WSR_SRC_HTTP_INT_H
#define WSR_SRC_HTTP_INT_H

#include <libwebsockets.h>

#include "core/json_int.h"

#define WSR__HTTP_PROTOCOL "wsrouter-http"

/* The mounts of one vhost; must outlive its context. */
typedef struct wsr__http_mounts {
    struct lws_http_mount files; /* www/, when configured */
    struct lws_http_mount ops;   /* /_/ endpoints */
} wsr__http_mounts_t;

/* Sets up the mounts; `www` (borrowed for the mounts' lifetime) may be NULL. */
void wsr__http_mounts_init(wsr__http_mounts_t *m, const char *www);
/* The head of the mount list to give lws. */
const struct lws_http_mount *wsr__http_mounts(const wsr__http_mounts_t *m);

/* Makes the context's file opens (lws's www mount) refuse any path with a
 * symbolic link in it, so nothing outside www is ever served. Once, right
 * after the context is created. */
void wsr__http_guard_files(struct lws_context *ctx);

/* The lws callback of the /_/ endpoints, and its per-session size. */
int wsr__http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);
extern const size_t wsr__http_session_size;

/* Appends the Prometheus text of a stats snapshot. Returns 0 or WSR_ENOMEM. */
WSR_NODISCARD int wsr__metrics_text(json_t *snap, wsr__buf_t *b);

#endif /* WSR_SRC_HTTP_INT_H */
