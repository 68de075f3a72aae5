/* SPDX-License-Identifier: MIT */
/*
 * Macros shared by every public header: export visibility, attributes that let
 * the compiler check callers (unused results, printf formats), and the version.
 * This header declares no functions and must stay free of dependencies.
 */
#ifndef WSR_WSROUTER_COMMON_H
#define WSR_WSROUTER_COMMON_H

#define WSR_VERSION_MAJOR 0
#define WSR_VERSION_MINOR 1
#define WSR_VERSION_PATCH 0
#define WSR_VERSION       "0.1.0"

/* The wire protocol version this library speaks (PROTOCOL.md). */
#define WSR_PROTOCOL_VERSION 1
/* The WebSocket subprotocol name offered and selected when a client asks. */
#define WSR_SUBPROTOCOL "wsrouter.v1"

#if defined(__GNUC__) || defined(__clang__)
#define WSR_API             __attribute__((visibility("default")))
#define WSR_NODISCARD       __attribute__((warn_unused_result))
#define WSR_PRINTF(fmt, va) __attribute__((format(printf, fmt, va)))
#else
#define WSR_API
#define WSR_NODISCARD
#define WSR_PRINTF(fmt, va)
#endif

#endif /* WSR_WSROUTER_COMMON_H */
