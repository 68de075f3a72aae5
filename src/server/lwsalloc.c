/* SPDX-License-Identifier: MIT */
/*
 * The allocator wsrouter gives libwebsockets (lws_set_allocator).
 *
 * Everything lws allocates goes through wsr_malloc's hooks (STYLE M1), with
 * one change: a WebSocket's receive buffer ("rx_ubuf") gets only the bytes
 * lws 4.1's server side writes into it.
 *
 * lws sizes both its read of a WebSocket and that buffer from the
 * protocol's rx_buffer_size (roles/ws/ops-ws.c: a read takes up to
 * rx_ubuf_alloc bytes), so a 256-byte buffer, kept small for the memory of
 * an idle connection, also meant 256-byte reads: a 16-deep pipeline came in
 * a few requests per read(), a 64 KiB message in 256 reads. The server
 * parser (lws_ws_rx_sm, roles/ws/server-ws.c) unmasks text, binary and
 * continuation payload in place in the loop's shared service buffer
 * (lws_ws_frame_rest_is_payload) and writes into rx_ubuf only the payload
 * of control frames, which it refuses past 125 bytes, after LWS_PRE bytes
 * of headroom (a close echoed goes out from there). So the receive buffer
 * of WSR__RX_CHUNK bytes that lws asks for is allocated at
 * WSR__RX_CONTROL_ALLOC (145 bytes): the reads are WSR__RX_CHUNK bytes, and
 * an idle connection holds less than it did with 256-byte reads (276).
 *
 * Only the server's buffer is told apart (its reason string and the size
 * our protocols give); the client side names its buffer "client frame
 * buffer" and writes every payload byte into it, so it is never shrunk.
 * With a libwebsockets other than 4.1, whose parser this has not been read
 * against, nothing is shrunk.
 */
#include <libwebsockets.h>
#include <stdbool.h>
#include <string.h>

#include "core/internal.h"
#include "server/conn_int.h"
#include "server/lwsalloc_int.h"
#include "wsrouter/server.h"

/* What lws 4.1 asks for: rx_buffer_size + LWS_PRE + 4 (for a zlib
 * trailer). */
#define RX_UBUF_ASKED (WSR__RX_CHUNK + LWS_PRE + 4)

_Static_assert(WSR__RX_CONTROL_ALLOC < RX_UBUF_ASKED, "smaller than what lws asks for");

size_t wsr__lws_alloc_size(size_t size, const char *reason)
{
#if LWS_LIBRARY_VERSION_MAJOR == 4 && LWS_LIBRARY_VERSION_MINOR == 1
    if (size == RX_UBUF_ASKED && reason != NULL && strcmp(reason, "rx_ubuf") == 0)
        return WSR__RX_CONTROL_ALLOC;
#else
    (void)reason;
#endif
    return size;
}

/* The receive buffer lws allocated last on this thread: lws 4.1 allocates
 * a server WebSocket's right before its ESTABLISHED callback
 * (lws_server_init_wsi_for_ws), where conn.c takes it. */
static _Thread_local unsigned char *last_rx_ubuf;

unsigned char *wsr__lws_take_rx_ubuf(void)
{
    unsigned char *p = last_rx_ubuf;

    last_rx_ubuf = NULL;
    return p;
}

void *wsr_server_lws_realloc(void *ptr, size_t size, const char *reason)
{
    void *p;
    bool rx_ubuf;

    if (size == 0) {
        wsr__free(ptr);
        return NULL;
    }
    /* Shrunk: a server WebSocket's receive buffer (the only one the twin
     * needs; compression is refused with another lws). */
    rx_ubuf = ptr == NULL && wsr__lws_alloc_size(size, reason) != size;
    if (rx_ubuf)
        size = WSR__RX_CONTROL_ALLOC;
    p = wsr__realloc(ptr, size);
    if (rx_ubuf)
        last_rx_ubuf = p;
    return p;
}
