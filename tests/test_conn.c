/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/conn.c that need no socket: batching the outbound
 * queue into one write (wsr__conn_frame_batch). A connection here is a
 * zeroed struct with a loop that has only its statistics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "server/conn_int.h"
#include "services/factory_int.h"
#include "testutil.h"

typedef struct fixture {
    wsr__loop_t loop;
    wsr__conn_t conn;
    wsr__buf_t out;
} fixture_t;

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->loop.stats = wsr__stats_new(0);
    if (fx->loop.stats == NULL)
        return -1;
    fx->conn.loop = &fx->loop;
    wsr__buf_init(&fx->out, LWS_PRE, 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    wsr__msg_t *m, *next;

    for (m = fx->conn.out_head; m != NULL; m = next) {
        next = m->next;
        wsr__msg_free(m);
    }
    wsr__buf_dispose(&fx->out);
    wsr__stats_free(fx->loop.stats);
    free(fx);
    return 0;
}

/* Queues a text message of `n` bytes of `c` (no socket: no writeable request). */
static void queue(fixture_t *fx, size_t n, char c)
{
    char text[300];
    wsr__msg_t *m;

    assert_true(n <= sizeof(text));
    memset(text, c, n);
    m = wsr__msg_copy(text, n, false);
    assert_non_null(m);
    if (fx->conn.out_tail != NULL)
        fx->conn.out_tail->next = m;
    else
        fx->conn.out_head = m;
    fx->conn.out_tail = m;
    fx->conn.out_bytes += n;
}

static size_t queued(const fixture_t *fx)
{
    size_t n = 0;

    for (const wsr__msg_t *m = fx->conn.out_head; m != NULL; m = m->next)
        n++;
    return n;
}

static void test_conn__batch_frames_every_small_message(void **state)
{
    fixture_t *fx = *state;
    const unsigned char *p;

    queue(fx, 5, 'a');
    queue(fx, 200, 'b');
    queue(fx, 1, 'c');
    assert_int_equal(wsr__conn_frame_batch(&fx->conn, &fx->out), 3);
    assert_int_equal(queued(fx), 0);
    assert_int_equal(fx->conn.out_bytes, 0);
    assert_int_equal(fx->loop.stats->messages_out, 3);
    assert_int_equal(fx->loop.stats->bytes_out, 206);
    /* FIN+text, then the lengths: 7-bit, 16-bit (126), 7-bit. */
    assert_int_equal(wsr__buf_payload_len(&fx->out), 2 + 5 + 4 + 200 + 2 + 1);
    p = wsr__buf_payload(&fx->out);
    assert_int_equal(p[0], 0x81);
    assert_int_equal(p[1], 5);
    assert_int_equal(p[7], 0x81);
    assert_int_equal(p[8], 126);
    assert_int_equal(p[9] << 8 | p[10], 200);
    assert_int_equal(p[11], 'b');
    assert_int_equal(p[211], 0x81);
    assert_int_equal(p[212], 1);
    assert_int_equal(p[213], 'c');
}

/* Regression: when the buffer could not grow, the messages already framed
 * had been taken off the queue (and counted as sent) and were lost. */
static void test_conn__batch_that_cannot_grow_loses_nothing(void **state)
{
    fixture_t *fx = *state;

    /* Room for the first two frames, not the third. */
    wsr__buf_dispose(&fx->out);
    wsr__buf_init(&fx->out, LWS_PRE, LWS_PRE + 2 * (2 + 100) + 10);
    queue(fx, 100, 'a');
    queue(fx, 100, 'b');
    queue(fx, 100, 'c');
    assert_int_equal(wsr__conn_frame_batch(&fx->conn, &fx->out), 0);
    assert_int_equal(queued(fx), 3);
    assert_int_equal(fx->conn.out_bytes, 300);
    assert_int_equal(fx->loop.stats->messages_out, 0);
    assert_int_equal(wsr__msg_payload(fx->conn.out_head)[0], 'a');
}

static void test_conn__batch_needs_two_messages(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(wsr__conn_frame_batch(&fx->conn, &fx->out), 0);
    queue(fx, 10, 'a');
    assert_int_equal(wsr__conn_frame_batch(&fx->conn, &fx->out), 0);
    assert_int_equal(queued(fx), 1);
}

static void test_conn__batch_stops_at_a_large_message(void **state)
{
    fixture_t *fx = *state;
    char big[9000];
    wsr__msg_t *m;

    queue(fx, 10, 'a');
    queue(fx, 10, 'b');
    memset(big, 'x', sizeof(big));
    m = wsr__msg_copy(big, sizeof(big), false);
    assert_non_null(m);
    fx->conn.out_tail->next = m;
    fx->conn.out_tail = m;
    fx->conn.out_bytes += sizeof(big);
    queue(fx, 10, 'c');
    /* The large one goes out alone (lws frames it), after the two. */
    assert_int_equal(wsr__conn_frame_batch(&fx->conn, &fx->out), 2);
    assert_int_equal(queued(fx), 2);
    assert_ptr_equal(fx->conn.out_head, m);
}

/* On a compressed connection, messages under compression_min_bytes go in
 * our own (uncompressed) frames, even one alone, and the batch stops at the
 * first message lws must compress. */
static void test_conn__deflate_frames_small_ones_ourselves(void **state)
{
    fixture_t *fx = *state;
    wsr_factory_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->settings.compression_min_bytes = 100;
    fx->loop.factory = f;
    fx->conn.deflate = 1;
    queue(fx, 10, 'a');
    assert_int_equal(wsr__conn_frame_batch(&fx->conn, &fx->out), 1);
    assert_int_equal(wsr__buf_payload(&fx->out)[0], 0x81); /* RSV1 clear */
    queue(fx, 20, 'b');
    queue(fx, 100, 'c'); /* at the threshold: compressed */
    queue(fx, 30, 'd');
    assert_int_equal(wsr__conn_frame_batch(&fx->conn, &fx->out), 1);
    assert_int_equal(queued(fx), 2);
    assert_int_equal(fx->conn.out_head->len, 100);
    assert_int_equal(wsr__conn_frame_batch(&fx->conn, &fx->out), 0);
    /* Without permessage-deflate, one message alone is lws's to frame. */
    fx->conn.deflate = 0;
    wsr__conn_pop_sent(&fx->conn);
    assert_int_equal(wsr__conn_frame_batch(&fx->conn, &fx->out), 0);
    fx->loop.factory = NULL;
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conn__batch_frames_every_small_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn__batch_that_cannot_grow_loses_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn__batch_needs_two_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn__batch_stops_at_a_large_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn__deflate_frames_small_ones_ourselves, setup,
                                        teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("conn", tests, NULL, NULL);
}
