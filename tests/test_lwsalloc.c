/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/lwsalloc.c: the allocator wsrouter gives
 * libwebsockets. A server WebSocket's receive buffer is allocated at the
 * bytes lws 4.1 writes there; everything else at what lws asks for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <malloc.h>
#include <string.h>

#include "server/conn_int.h"
#include "server/lwsalloc_int.h"
#include "wsrouter/server.h"

#define ASKED (WSR__RX_CHUNK + LWS_PRE + 4)

static void test_server_receive_buffer_is_small(void **state)
{
    void *p;

    (void)state;
    assert_int_equal(wsr__lws_alloc_size(ASKED, "rx_ubuf"), WSR__RX_CONTROL_ALLOC);
    p = wsr_server_lws_realloc(NULL, ASKED, "rx_ubuf");
    assert_non_null(p);
    assert_true(malloc_usable_size(p) < 256);
    /* All of it is writable: a 125-byte control frame after LWS_PRE. */
    memset(p, 0xab, WSR__RX_CONTROL_ALLOC);
    assert_null(wsr_server_lws_realloc(p, 0, "lws_free"));
}

static void test_other_allocations_keep_their_size(void **state)
{
    void *p;

    (void)state;
    /* The client's frame buffer takes every payload byte: never shrunk. */
    assert_int_equal(wsr__lws_alloc_size(ASKED, "client frame buffer"), ASKED);
    /* Another protocol's receive buffer (another rx_buffer_size). */
    assert_int_equal(wsr__lws_alloc_size(ASKED + 1, "rx_ubuf"), ASKED + 1);
    assert_int_equal(wsr__lws_alloc_size(ASKED, NULL), ASKED);
    p = wsr_server_lws_realloc(NULL, ASKED, "ws struct");
    assert_non_null(p);
    assert_true(malloc_usable_size(p) >= ASKED);
    memset(p, 0, ASKED);
    /* A realloc keeps the size asked for, whatever the reason. */
    p = wsr_server_lws_realloc(p, 2 * ASKED, "rx_ubuf");
    assert_non_null(p);
    assert_true(malloc_usable_size(p) >= 2 * ASKED);
    assert_null(wsr_server_lws_realloc(p, 0, "lws_free"));
    assert_null(wsr_server_lws_realloc(NULL, 0, "lws_free"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_receive_buffer_is_small),
        cmocka_unit_test(test_other_allocations_keep_their_size),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
