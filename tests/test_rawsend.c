/* SPDX-License-Identifier: MIT */
/*
 * Tests for wsr__raw_transcode (src/server/raw.c): what a message queued
 * for a raw TCP connection becomes in its framing. NDJSON replies are grown
 * by their '\n' in place (no copy) when they hold no reference; a message
 * that holds one (a session, here) goes the copying way and its reference
 * is released; either way the result is a plain DATA message of the line.
 * A connection here is a zeroed struct with only its framing set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/rawframe_int.h"
#include "core/session_int.h"
#include "server/conn_int.h"
#include "server/inbox_int.h"
#include "server/raw_int.h"

static wsr__msg_t *message(const char *text, size_t n)
{
    wsr__msg_t *m = wsr__msg_copy(text, n, false);

    assert_non_null(m);
    return m;
}

static void assert_payload(wsr__msg_t *m, const char *want, size_t n)
{
    assert_non_null(m);
    if (m->len != n || memcmp(wsr__msg_payload(m), want, n) != 0)
        print_error("got %zu bytes: %.*s\n", m->len, (int)m->len,
                    (const char *)wsr__msg_payload(m));
    assert_int_equal(m->len, n);
    assert_memory_equal(wsr__msg_payload(m), want, n);
    assert_int_equal(m->kind, WSR__MSG_DATA);
    assert_int_equal(m->binary, 0);
    assert_int_equal(m->json_push, 0);
    assert_int_equal(m->conn_id, 0);
    assert_null(m->reply);
    assert_null(m->session);
    assert_null(m->next);
}

static void test_ndjson_reply_gets_its_newline(void **state)
{
    static const char reply[] = "{\"status\":200,\"data\":5,\"id\":1,\"event_name\":null}";
    wsr__conn_t c = {.framing = WSR__FRAMING_NDJSON};
    wsr__msg_t *m = message(reply, strlen(reply));

    (void)state;
    m->conn_id = 42;  /* routing fields of the queued message are not kept */
    m->json_push = 1; /* (the copy never kept them either) */
    m = wsr__raw_transcode(&c, m);
    assert_payload(m, "{\"status\":200,\"data\":5,\"id\":1,\"event_name\":null}\n",
                   strlen(reply) + 1);
    wsr__msg_free(m);
}

static void test_ndjson_empty_and_large(void **state)
{
    wsr__conn_t c = {.framing = WSR__FRAMING_NDJSON};
    size_t n = 200 * 1024;
    char *big = malloc(n + 1);
    wsr__msg_t *m;

    (void)state;
    assert_non_null(big);
    m = wsr__raw_transcode(&c, message("", 0));
    assert_payload(m, "\n", 1);
    wsr__msg_free(m);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    m = wsr__raw_transcode(&c, message(big, n));
    big[n] = '\n';
    assert_payload(m, big, n + 1);
    wsr__msg_free(m);
    free(big);
}

static void test_ndjson_with_a_reference_is_copied(void **state)
{
    static const char push[] = "{\"event_name\":\"hello\",\"data\":1}";
    wsr__conn_t c = {.framing = WSR__FRAMING_NDJSON};
    wsr__msg_t *m = message(push, strlen(push));

    (void)state;
    m->session = wsr__session_new("alice", "user", "jti-1", 0);
    assert_non_null(m->session);
    m = wsr__raw_transcode(&c, m); /* the session's ref released (memcheck) */
    assert_payload(m, "{\"event_name\":\"hello\",\"data\":1}\n", strlen(push) + 1);
    wsr__msg_free(m);
}

static void test_resp_and_text_reencoded(void **state)
{
    static const char pong[] = "{\"status\":200,\"data\":\"PONG\",\"event_name\":null}";
    static const char num[] = "{\"status\":200,\"data\":7,\"event_name\":null}";
    wsr__conn_t resp = {.framing = WSR__FRAMING_RESP};
    wsr__conn_t text = {.framing = WSR__FRAMING_TEXT};
    wsr__msg_t *m;

    (void)state;
    m = wsr__raw_transcode(&resp, message(pong, strlen(pong)));
    assert_payload(m, "+PONG\r\n", 7);
    wsr__msg_free(m);
    m = wsr__raw_transcode(&resp, message(num, strlen(num)));
    assert_payload(m, ":7\r\n", 4);
    wsr__msg_free(m);
    m = wsr__raw_transcode(&text, message(pong, strlen(pong)));
    assert_payload(m, "+PONG\r\n", 7);
    wsr__msg_free(m);
}

/* What src/jsonparse.c and json_loadb would read differently is read by
 * json_loadb, as before: a duplicate key (the last one wins), a \u0000
 * escape (refused). Nested values and escapes come out the same either way. */
static void test_resp_reads_as_jansson_did(void **state)
{
    static const char dup[] = "{\"status\":200,\"data\":{\"a\":1,\"a\":2},\"event_name\":null}";
    static const char nul[] = "{\"status\":200,\"data\":\"a\\u0000b\",\"event_name\":null}";
    static const char esc[] = "{\"status\":200,\"data\":\"a\\\\u0000b\",\"event_name\":null}";
    static const char nest[] =
        "{\"status\":200,\"data\":[1,\"x\\ny\",[true,null],{\"k\":-2.5}],\"event_name\":null}";
    static const char nest_resp[] = "*4\r\n:1\r\n$3\r\nx\ny\r\n*2\r\n:1\r\n+OK\r\n"
                                    "*2\r\n$1\r\nk\r\n$4\r\n-2.5\r\n";
    wsr__conn_t resp = {.framing = WSR__FRAMING_RESP};
    wsr__msg_t *m;

    (void)state;
    m = wsr__raw_transcode(&resp, message(dup, strlen(dup)));
    assert_payload(m, "*2\r\n$1\r\na\r\n:2\r\n", 15);
    wsr__msg_free(m);
    assert_null(wsr__raw_transcode(&resp, message(nul, strlen(nul))));
    m = wsr__raw_transcode(&resp, message(esc, strlen(esc)));
    assert_payload(m, "$8\r\na\\u0000b\r\n", 14);
    wsr__msg_free(m);
    m = wsr__raw_transcode(&resp, message(nest, strlen(nest)));
    assert_payload(m, nest_resp, strlen(nest_resp));
    wsr__msg_free(m);
}

static void test_resp_refuses_what_is_not_json(void **state)
{
    wsr__conn_t resp = {.framing = WSR__FRAMING_RESP};

    (void)state;
    assert_null(wsr__raw_transcode(&resp, message("{not json", 9)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_reply_gets_its_newline),
        cmocka_unit_test(test_ndjson_empty_and_large),
        cmocka_unit_test(test_ndjson_with_a_reference_is_copied),
        cmocka_unit_test(test_resp_and_text_reencoded),
        cmocka_unit_test(test_resp_reads_as_jansson_did),
        cmocka_unit_test(test_resp_refuses_what_is_not_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
