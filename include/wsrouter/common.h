/* SPDX-License-Identifier: MIT */
/*
 * Macros shared by every public header: export visibility, attributes that let
 * the compiler check callers (unused results, printf formats), and the version.
 * This header declares no functions and must stay free of dependencies.
 */
#ifndef WSR_WSROUTER_COMMON_H
#define WSR_WSROUTER_COMMON_H

/* The version: these three lines are its one source. CMakeLists.txt reads
 * them (the project, the soname, pkg-config, the CMake package), the programs
 * print WSR_VERSION, and tests/js/version.test.mjs checks the copies that must
 * be literal (www/wsrouter.js, www/package.json, the man pages, CHANGELOG.md). */
#define WSR_VERSION_MAJOR 0
#define WSR_VERSION_MINOR 2
#define WSR_VERSION_PATCH 0
/* "MAJOR.MINOR.PATCH" */
#define WSR_VERSION                                                                                \
    WSR__STRINGIFY(WSR_VERSION_MAJOR)                                                              \
    "." WSR__STRINGIFY(WSR_VERSION_MINOR) "." WSR__STRINGIFY(WSR_VERSION_PATCH)
#define WSR__STRINGIFY(x)  WSR__STRINGIFY_(x)
#define WSR__STRINGIFY_(x) #x

/* The wire protocol version this library speaks (docs/protocol.md). */
#define WSR_PROTOCOL_VERSION 1
/* The WebSocket subprotocol name offered and selected when a client asks. */
#define WSR_SUBPROTOCOL "wsrouter.v1"
/* The WebSocket subprotocol of a JSON-RPC 2.0 client: selected when asked
 * for, it makes pushes and publications JSON-RPC notifications. */
#define WSR_SUBPROTOCOL_JSONRPC "jsonrpc2.0"

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
