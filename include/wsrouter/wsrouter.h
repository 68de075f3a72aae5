/* SPDX-License-Identifier: MIT */
/*
 * wsrouter: a WebSocket request router. The only header applications include.
 * See docs/protocol.md for the wire protocol and README.md for a first server.
 */
#ifndef WSR_WSROUTER_WSROUTER_H
#define WSR_WSROUTER_WSROUTER_H

#include "common.h"
#include "error.h"
#include "alloc.h"
#include "json.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "router.h"
#include "factory.h"
#include "server.h"
#include "store.h"
#include "auth.h"
#include "client.h"

#endif /* WSR_WSROUTER_WSROUTER_H */
