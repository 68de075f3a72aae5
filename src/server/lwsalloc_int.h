/* SPDX-License-Identifier: MIT */
/* The allocator wsrouter gives libwebsockets (lwsalloc.c). */
#ifndef WSR_SERVER_LWSALLOC_INT_H
#define WSR_SERVER_LWSALLOC_INT_H

#include <libwebsockets.h>
#include <stddef.h>

/* What a WebSocket's receive buffer is allocated at: LWS_PRE of headroom,
 * the 125 bytes of a control frame's payload, and the 4 bytes lws adds for
 * a zlib trailer. Exactly that, so that AddressSanitizer sees a byte past it
 * (the conformance suite sends 125-byte pings and closes). */
#define WSR__RX_CONTROL_ALLOC (LWS_PRE + 125 + 4)

/* The size lwsalloc.c allocates when lws asks for `size` bytes for
 * `reason`: the same, but for a server WebSocket's receive buffer. */
size_t wsr__lws_alloc_size(size_t size, const char *reason);

/* The WebSocket receive buffer lws allocated last on this thread through
 * wsr_server_lws_realloc, or NULL; forgotten once taken. Taken at
 * ESTABLISHED, it is the new connection's: the buffer where lws 4.1 puts a
 * control frame's payload (conn.c tells a pong from data so). */
unsigned char *wsr__lws_take_rx_ubuf(void);

#endif /* WSR_SERVER_LWSALLOC_INT_H */
