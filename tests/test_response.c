/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/response.c (the setters a handler answers with, their status
 * rules, the 422 parameter errors and their detail), src/request.c (the
 * accessors, on a request decoded by the codec and routed by a real router),
 * and wsr__codec_encode_response (src/factory.c), which turns a response into the
 * reply bytes (PROTOCOL.md section 4; a HEAD request gets no data).
 */
#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsrouter/wsrouter.h"
#include "core/codec_int.h"
#include "services/factory_int.h"
#include "core/json_int.h"
#include "core/request_int.h"

#define GENERIC_500 "the handler failed; see the server log"

/* Every test starts from a fresh response and checks nothing leaked. */
typedef struct fixture {
    wsr_response_t res;
    long live;
} fixture_t;

static int setup(void **state)
{
    fixture_t *fx = malloc(sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->live = tu_live_blocks();
    wsr__response_init(&fx->res);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    long live;

    wsr__response_dispose(&fx->res);
    live = tu_live_blocks() - fx->live;
    free(fx);
    if (live != 0) {
        print_error("%ld blocks leaked\n", live);
        return -1;
    }
    return 0;
}

/* The reply `res` encodes to, as a NUL-terminated string (free with free()). */
static char *encode(const wsr_response_t *res, const json_t *id, const json_t *event_name,
                    bool head)
{
    wsr__buf_t out, scratch;
    char *s;

    wsr__buf_init(&out, 8, 0);
    wsr__buf_init(&scratch, 0, 0);
    assert_int_equal(
        wsr__codec_encode_response(&out, res, id, event_name, head, WSR_FORMAT_JSON, &scratch), 0);
    s = malloc(wsr__buf_payload_len(&out) + 1);
    assert_non_null(s);
    memcpy(s, wsr__buf_payload(&out), wsr__buf_payload_len(&out));
    s[wsr__buf_payload_len(&out)] = '\0';
    wsr__buf_dispose(&out);
    wsr__buf_dispose(&scratch);
    return s;
}

static void assert_encodes(const wsr_response_t *res, const char *want)
{
    char *got = encode(res, NULL, NULL, false);

    assert_string_equal(got, want);
    free(got);
}

static void assert_generic_500(const wsr_response_t *res)
{
    assert_int_equal(wsr_response_status(res), 500);
    assert_null(res->data);
    assert_null(res->errors);
    assert_int_equal(res->allow, 0);
    assert_non_null(res->detail);
    assert_string_equal(res->detail, GENERIC_500);
    assert_encodes(res, "{\"status\":500,\"detail\":\"" GENERIC_500 "\",\"event_name\":null}");
}

/* ---- results ---- */

static void test_response__fresh_response_is_200_without_data(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(wsr_response_status(&fx->res), 200);
    assert_null(fx->res.data);
    assert_null(fx->res.detail);
    assert_false(fx->res.deferred);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":null,\"event_name\":null}");
}

static void test_response__set_data_take_replaces_the_result(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(wsr_response_set_data_take(&fx->res, json_pack("{s:i}", "a", 1)), 0);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":{\"a\":1},\"event_name\":null}");
    /* The previous value is released (the teardown counts blocks). */
    assert_int_equal(wsr_response_set_data_take(&fx->res, json_pack("[s]", "b")), 0);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":[\"b\"],\"event_name\":null}");
    /* An explicit null is a result, not a failure. */
    assert_int_equal(wsr_response_set_data_take(&fx->res, json_null()), 0);
    assert_int_equal(wsr_response_status(&fx->res), 200);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":null,\"event_name\":null}");
}

static void test_response__set_data_take_null_is_a_500(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(wsr_response_set_data_take(&fx->res, json_string("kept?")), 0);
    assert_int_equal(wsr_response_set_data_take(&fx->res, NULL), WSR_ENOMEM);
    assert_generic_500(&fx->res);
    /* A failed constructor in the convenience setters does the same: a string
     * that is not UTF-8 makes json_string fail. */
    wsr__response_dispose(&fx->res);
    wsr__response_init(&fx->res);
    assert_int_equal(wsr_response_set_string(&fx->res, "\xff"), WSR_ENOMEM);
    assert_generic_500(&fx->res);
}

static void test_response__convenience_setters(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(wsr_response_set_string(&fx->res, "h\xc3\xa9\"llo"), 0);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":\"h\xc3\xa9\\\"llo\",\"event_name\":null}");
    assert_int_equal(wsr_response_set_string(&fx->res, NULL), 0);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":\"\",\"event_name\":null}");
    assert_int_equal(wsr_response_set_int(&fx->res, INT64_MIN), 0);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":-9223372036854775808,\"event_name\":null}");
    assert_int_equal(wsr_response_set_int(&fx->res, INT64_MAX), 0);
    assert_true(json_is_integer(fx->res.data));
    assert_int_equal(wsr_response_set_real(&fx->res, 2.0), 0);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":2.0,\"event_name\":null}");
    assert_int_equal(wsr_response_set_real(&fx->res, 0.1), 0);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":0.1,\"event_name\":null}");
    assert_int_equal(wsr_response_set_bool(&fx->res, 7), 0);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":true,\"event_name\":null}");
    assert_int_equal(wsr_response_set_bool(&fx->res, 0), 0);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":false,\"event_name\":null}");
}

/* ---- statuses ---- */

static void test_response__set_status_takes_200_201_202(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(wsr_response_set_status(&fx->res, 201), 0);
    assert_int_equal(wsr_response_status(&fx->res), 201);
    /* Setting data keeps a success status. */
    assert_int_equal(wsr_response_set_int(&fx->res, 1), 0);
    assert_int_equal(wsr_response_status(&fx->res), 201);
    assert_encodes(&fx->res, "{\"status\":201,\"data\":1,\"event_name\":null}");
    assert_int_equal(wsr_response_set_status(&fx->res, 202), 0);
    assert_encodes(&fx->res, "{\"status\":202,\"data\":1,\"event_name\":null}");
    assert_int_equal(wsr_response_set_status(&fx->res, 200), 0);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":1,\"event_name\":null}");
}

static void test_response__set_status_refuses_everything_else(void **state)
{
    const int bad[] = {0,   -200, 100, 199, 203, 204, 206, 299, 300,
                       301, 304,  400, 404, 422, 500, 599, 600};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wsr_response_t res;

        wsr__response_init(&res);
        assert_int_equal(wsr_response_set_string(&res, "dropped"), 0);
        assert_int_equal(wsr_response_set_status(&res, bad[i]), WSR_EINVAL);
        assert_generic_500(&res);
        wsr__response_dispose(&res);
    }
}

static void test_response__error_takes_400_to_599(void **state)
{
    const int good[] = {400, 401, 403, 404, 405, 408, 418, 422, 429, 499, 500, 503, 599};

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        wsr_response_t res;
        char want[128];

        wsr__response_init(&res);
        assert_int_equal(wsr_response_set_int(&res, 5), 0);
        assert_int_equal(wsr_response_error(&res, good[i], "bad %s number %d", "thing", good[i]),
                         0);
        assert_int_equal(wsr_response_status(&res), good[i]);
        assert_null(res.data);
        snprintf(want, sizeof(want),
                 "{\"status\":%d,\"detail\":\"bad thing number %d\",\"event_name\":null}", good[i],
                 good[i]);
        assert_encodes(&res, want);
        wsr__response_dispose(&res);
    }
}

static void test_response__error_refuses_other_statuses(void **state)
{
    const int bad[] = {0, -1, 200, 201, 302, 399, 600, 1000};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wsr_response_t res;

        wsr__response_init(&res);
        assert_int_equal(wsr_response_error(&res, bad[i], "no"), WSR_EINVAL);
        assert_generic_500(&res);
        wsr__response_dispose(&res);
    }
}

static void test_response__error_and_result_replace_each_other(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(wsr_response_error(&fx->res, 404, "no route for %s", "/x"), 0);
    assert_int_equal(wsr_response_error(&fx->res, 409, "conflict"), 0);
    assert_encodes(&fx->res, "{\"status\":409,\"detail\":\"conflict\",\"event_name\":null}");
    /* A result after an error: back to 200, the detail gone. */
    assert_int_equal(wsr_response_set_string(&fx->res, "ok"), 0);
    assert_int_equal(wsr_response_status(&fx->res), 200);
    assert_null(fx->res.detail);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":\"ok\",\"event_name\":null}");
    /* set_status after an error drops the error too. */
    assert_int_equal(wsr_response_error(&fx->res, 503, "busy"), 0);
    assert_int_equal(wsr_response_set_status(&fx->res, 202), 0);
    assert_null(fx->res.detail);
    assert_encodes(&fx->res, "{\"status\":202,\"data\":null,\"event_name\":null}");
}

static void test_response__error_detail_is_cut_at_511_bytes(void **state)
{
    fixture_t *fx = *state;
    char big[700], want[WSR__DETAIL_MAX];

    memset(big, 'd', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(wsr_response_error(&fx->res, 400, "%s", big), 0);
    assert_int_equal(strlen(fx->res.detail), WSR__DETAIL_MAX - 1);
    memset(want, 'd', WSR__DETAIL_MAX - 1);
    want[WSR__DETAIL_MAX - 1] = '\0';
    assert_string_equal(fx->res.detail, want);
}

/* A detail cut at a byte count must not end inside a character, or the reply
 * is not UTF-8 (PROTOCOL.md section 2). */
static void test_response__error_detail_cut_keeps_utf8(void **state)
{
    fixture_t *fx = *state;
    char big[800];
    size_t n = 0;

    big[n++] = 'x'; /* then 2-byte characters */
    while (n + 2 < sizeof(big)) {
        big[n++] = '\xc3';
        big[n++] = '\xa9';
    }
    big[n] = '\0';
    /* vsnprintf keeps 511 bytes: the last "é" loses its second byte. */
    assert_int_equal(wsr_response_error(&fx->res, 400, "%s", big + 1), 0);
    assert_int_equal(strlen(fx->res.detail), WSR__DETAIL_MAX - 2);
    assert_true(wsr__utf8_valid((const unsigned char *)fx->res.detail, strlen(fx->res.detail)));
    /* The plain-string entry the codec, the router and wsr_reply_error use
     * keeps up to 512 bytes: with the "x", the last "é" is cut again. */
    assert_int_equal(wsr__response_error_str(&fx->res, 400, big), 0);
    assert_int_equal(strlen(fx->res.detail), WSR__DETAIL_MAX - 1);
    assert_true(wsr__utf8_valid((const unsigned char *)fx->res.detail, strlen(fx->res.detail)));
    /* 4-byte characters: the cut drops all of the last one. */
    n = 0;
    while (n + 4 < sizeof(big)) {
        memcpy(big + n, "\xf0\x9f\x98\x80", 4);
        n += 4;
    }
    big[n] = '\0';
    assert_int_equal(wsr_response_error(&fx->res, 500, "%s", big), 0);
    assert_int_equal(strlen(fx->res.detail), 508);
    assert_true(wsr__utf8_valid((const unsigned char *)fx->res.detail, 508));
    /* A complete string is left alone. */
    assert_int_equal(wsr_response_error(&fx->res, 400, "caf\xc3\xa9"), 0);
    assert_string_equal(fx->res.detail, "caf\xc3\xa9");
}

/* ---- 422 ---- */

static void test_response__one_param_error(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(wsr_response_set_int(&fx->res, 1), 0);
    assert_int_equal(wsr_response_param_error(&fx->res, "x", "must be a %s", "number"), 0);
    assert_int_equal(wsr_response_status(&fx->res), 422);
    assert_null(fx->res.data);
    assert_string_equal(fx->res.detail, "invalid parameter x: must be a number");
    assert_encodes(&fx->res, "{\"status\":422,\"detail\":\"invalid parameter x: must be a number\","
                             "\"errors\":{\"x\":\"must be a number\"},\"event_name\":null}");
    /* The same parameter again: its message is replaced. */
    assert_int_equal(wsr_response_param_error(&fx->res, "x", "is required"), 0);
    assert_string_equal(fx->res.detail, "invalid parameter x: is required");
    assert_encodes(&fx->res, "{\"status\":422,\"detail\":\"invalid parameter x: is required\","
                             "\"errors\":{\"x\":\"is required\"},\"event_name\":null}");
}

static void test_response__several_param_errors_accumulate(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(wsr_response_error(&fx->res, 404, "replaced"), 0);
    assert_int_equal(wsr_response_param_error(&fx->res, "x", "must be a number"), 0);
    assert_int_equal(wsr_response_param_error(&fx->res, "y", "is required"), 0);
    assert_string_equal(fx->res.detail, "invalid parameters: x, y");
    assert_encodes(&fx->res, "{\"status\":422,\"detail\":\"invalid parameters: x, y\",\"errors\":{"
                             "\"x\":\"must be a number\",\"y\":\"is required\"},\"event_name\":"
                             "null}");
    assert_int_equal(
        wsr_response_param_error(&fx->res, "limit", "must be an int (got \"%s\")", "ten"), 0);
    assert_string_equal(fx->res.detail, "invalid parameters: x, y, limit");
    assert_int_equal(json_object_size(fx->res.errors), 3);
    assert_string_equal(json_string_value(json_object_get(fx->res.errors, "limit")),
                        "must be an int (got \"ten\")");
    /* A result afterwards replaces the whole 422. */
    assert_int_equal(wsr_response_set_bool(&fx->res, 1), 0);
    assert_null(fx->res.errors);
    assert_encodes(&fx->res, "{\"status\":200,\"data\":true,\"event_name\":null}");
}

static void test_response__param_error_long_message_stays_422(void **state)
{
    fixture_t *fx = *state;
    char big[600];
    const char *d;

    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(wsr_response_param_error(&fx->res, "x", "%s", big), 0);
    assert_int_equal(wsr_response_status(&fx->res), 422);
    d = fx->res.detail;
    assert_non_null(d);
    assert_int_equal(strlen(d), WSR__DETAIL_MAX - 1);
    assert_int_equal(strncmp(d, "invalid parameter x: mmm", 24), 0);
    /* The message itself is kept up to the detail size, on a character boundary. */
    assert_int_equal(strlen(json_string_value(json_object_get(fx->res.errors, "x"))),
                     WSR__DETAIL_MAX - 1);
    for (size_t i = 0; i + 3 < sizeof(big); i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof(big) - 2] = '\0';
    assert_int_equal(wsr_response_param_error(&fx->res, "y", "%s", big), 0);
    assert_int_equal(wsr_response_status(&fx->res), 422);
    assert_string_equal(fx->res.detail, "invalid parameters: x, y");
    d = json_string_value(json_object_get(fx->res.errors, "y"));
    assert_non_null(d);
    assert_true(wsr__utf8_valid((const unsigned char *)d, strlen(d)));
}

static void test_response__param_error_list_is_cut_at_a_whole_name(void **state)
{
    fixture_t *fx = *state;
    char name[16];

    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "param%02d", i);
        assert_int_equal(wsr_response_param_error(&fx->res, name, "bad"), 0);
    }
    assert_int_equal(wsr_response_status(&fx->res), 422);
    assert_int_equal(json_object_size(fx->res.errors), 100);
    assert_true(strlen(fx->res.detail) < WSR__DETAIL_MAX);
    assert_int_equal(strncmp(fx->res.detail, "invalid parameters: param00, param01, ", 38), 0);
    /* It ends with a whole name: "paramNN". */
    {
        const char *last = strrchr(fx->res.detail, ' ');

        assert_non_null(last);
        assert_int_equal(strlen(last + 1), 7);
        assert_int_equal(strncmp(last + 1, "param", 5), 0);
    }
}

/* Under allocation failures the setters either work or leave a 500, and leak nothing. */
static void test_response__setters_under_allocation_failures(void **state)
{
    long n;

    (void)state;
    for (n = 0;; n++) {
        wsr_response_t res;
        long live = tu_live_blocks();
        int rc;

        wsr__response_init(&res);
        tu_fail_at(n, false);
        rc = wsr_response_param_error(&res, "x", "must be a number");
        if (rc == 0)
            rc = wsr_response_param_error(&res, "y", "is required");
        tu_fail_at(-1, false);
        if (rc == 0) {
            assert_int_equal(wsr_response_status(&res), 422);
            assert_string_equal(res.detail, "invalid parameters: x, y");
        } else {
            assert_int_equal(rc, WSR_ENOMEM);
            assert_int_equal(wsr_response_status(&res), 500);
            assert_null(res.errors);
        }
        wsr__response_dispose(&res);
        assert_int_equal(tu_live_blocks(), live);
        if (rc == 0)
            break;
    }
    assert_true(n >= 3);
    for (n = 0;; n++) {
        wsr_response_t res;
        long live = tu_live_blocks();
        int rc;

        wsr__response_init(&res);
        tu_fail_at(n, false);
        rc = wsr_response_error(&res, 404, "no route for %s", "/x");
        tu_fail_at(-1, false);
        if (rc == 0)
            assert_string_equal(res.detail, "no route for /x");
        else
            assert_int_equal(rc, WSR_ENOMEM);
        assert_int_equal(wsr_response_status(&res), rc == 0 ? 404 : 500);
        wsr__response_dispose(&res);
        assert_int_equal(tu_live_blocks(), live);
        if (rc == 0)
            break;
    }
}

/* ---- encoding ---- */

static void test_response__encode_head_drops_data(void **state)
{
    fixture_t *fx = *state;
    json_t *id = json_integer(3), *ev = json_string("e");
    char *s;

    assert_int_equal(wsr_response_set_data_take(&fx->res, json_pack("{s:s}", "big", "body")), 0);
    s = encode(&fx->res, id, ev, false);
    assert_string_equal(
        s, "{\"status\":200,\"data\":{\"big\":\"body\"},\"id\":3,\"event_name\":\"e\"}");
    free(s);
    s = encode(&fx->res, id, ev, true);
    assert_string_equal(s, "{\"status\":200,\"data\":null,\"id\":3,\"event_name\":\"e\"}");
    free(s);
    /* An error keeps its detail under HEAD. */
    assert_int_equal(wsr_response_error(&fx->res, 404, "no route for /x"), 0);
    s = encode(&fx->res, NULL, NULL, true);
    assert_string_equal(s, "{\"status\":404,\"detail\":\"no route for /x\",\"event_name\":null}");
    free(s);
    /* The response is not changed by encoding. */
    assert_int_equal(wsr_response_status(&fx->res), 404);
    json_decref(id);
    json_decref(ev);
}

static void test_response__encode_405_and_422(void **state)
{
    fixture_t *fx = *state;
    json_t *id = json_integer(7);
    char *s;

    assert_int_equal(
        wsr_response_error(&fx->res, 405, "method DELETE is not allowed on /counters/{key}"), 0);
    fx->res.allow = WSR_PUT | WSR_POST | WSR_GET;
    s = encode(&fx->res, id, NULL, false);
    assert_string_equal(s, "{\"status\":405,\"detail\":\"method DELETE is not allowed on "
                           "/counters/{key}\",\"allow\":[\"GET\",\"POST\",\"PUT\"],\"id\":7,"
                           "\"event_name\":null}");
    free(s);
    assert_int_equal(wsr_response_param_error(&fx->res, "key", "is required"), 0);
    assert_int_equal(fx->res.allow, 0);
    s = encode(&fx->res, id, NULL, false);
    assert_string_equal(s, "{\"status\":422,\"detail\":\"invalid parameter key: is required\","
                           "\"errors\":{\"key\":\"is required\"},\"id\":7,\"event_name\":null}");
    free(s);
    json_decref(id);
}

static void test_response__encode_base64_formats(void **state)
{
    fixture_t *fx = *state;
    wsr__buf_t out, scratch;

    assert_int_equal(wsr_response_set_int(&fx->res, 1), 0);
    for (int f = WSR_FORMAT_BASE64_TEXT; f <= WSR_FORMAT_BASE64_BINARY; f++) {
        wsr__buf_init(&out, 0, 0);
        wsr__buf_init(&scratch, 0, 0);
        assert_int_equal(wsr__codec_encode_response(&out, &fx->res, NULL, NULL, false,
                                                    (wsr_format_t)f, &scratch),
                         0);
        /* base64 of {"status":200,"data":1,"event_name":null} */
        assert_int_equal(out.len, 56);
        assert_memory_equal(out.data,
                            "eyJzdGF0dXMiOjIwMCwiZGF0YSI6MSwiZXZlbnRfbmFtZSI6bnVsbH0=", 56);
        wsr__buf_dispose(&out);
        wsr__buf_dispose(&scratch);
    }
}

/* ---- request accessors ---- */

static void test_response__request_accessors_on_a_decoded_request(void **state)
{
    const char *msg = "{\"method\":\" put \",\"url\":\"/items/9/?q=1\",\"data\":[1,{\"a\":null}],"
                      "\"id\":\"r\",\"event_name\":\"e\",\"token\":\"t\",\"client\":\"c1\"}";
    char detail[WSR__DETAIL_MAX];
    wsr_request_t req;

    (void)state;
    wsr__request_init(&req);
    assert_int_equal(
        wsr__codec_decode(&req, (const unsigned char *)msg, strlen(msg), false, 64, detail), 0);
    assert_int_equal(wsr_request_method(&req), WSR_PUT);
    assert_string_equal(wsr_request_path(&req), "/items/9");
    assert_null(wsr_request_route_name(&req)); /* not routed */
    assert_int_equal(wsr_request_format(&req), WSR_FORMAT_JSON);
    assert_true(json_is_array(wsr_request_data(&req)));
    assert_int_equal(json_array_size(wsr_request_data(&req)), 2);
    assert_string_equal(json_string_value(wsr_request_member(&req, "client")), "c1");
    assert_string_equal(json_string_value(wsr_request_member(&req, "token")), "t");
    assert_null(wsr_request_member(&req, "nope"));
    assert_int_equal(wsr_request_connection_id(&req), 0);
    assert_string_equal(wsr_request_peer(&req), "");
    assert_null(wsr_request_user(&req));
    assert_false(wsr_request_has_role(&req, "admin"));
    assert_null(wsr_request_client_cert_subject(&req));
    assert_null(wsr_request_factory(&req));
    /* Before routing there are no validated args; the typed getters fall back. */
    assert_null(wsr_request_arg(&req, "q"));
    assert_int_equal(wsr_request_arg_int(&req, "q", -5), -5);
    /* With args set by hand (as the router does). */
    req.args = json_pack("{s:i,s:f,s:s,s:b,s:n}", "i", 42, "r", 2.5, "s", "str", "b", 1, "z");
    assert_non_null(req.args);
    assert_int_equal(wsr_request_arg_int(&req, "i", 0), 42);
    assert_int_equal(wsr_request_arg_int(&req, "r", -1), -1); /* a real is not an int */
    assert_int_equal(wsr_request_arg_int(&req, "s", -1), -1);
    assert_true(wsr_request_arg_number(&req, "i", 0) == 42.0);
    assert_true(wsr_request_arg_number(&req, "r", 0) == 2.5);
    assert_true(wsr_request_arg_number(&req, "s", -1.5) == -1.5);
    assert_string_equal(wsr_request_arg_string(&req, "s"), "str");
    assert_null(wsr_request_arg_string(&req, "i"));
    assert_null(wsr_request_arg_string(&req, "absent"));
    assert_true(wsr_request_arg_bool(&req, "b", false));
    assert_false(wsr_request_arg_bool(&req, "i", false));
    assert_true(wsr_request_arg_bool(&req, "absent", true));
    assert_true(json_is_null(wsr_request_arg(&req, "z")));
    assert_ptr_equal(wsr_request_args(&req), req.args);
    wsr__request_dispose(&req);
    /* A cmd request has no method and no path. */
    wsr__request_init(&req);
    assert_int_equal(
        wsr__codec_decode(&req, (const unsigned char *)"eyJjbWQiOiJwaW5nIn0", 19, true, 64, detail),
        0);
    assert_int_equal(wsr_request_method(&req), 0);
    assert_null(wsr_request_path(&req));
    assert_null(wsr_request_data(&req));
    assert_int_equal(wsr_request_format(&req), WSR_FORMAT_BASE64_BINARY);
    wsr__request_dispose(&req);
}

/* The handler writes what the accessors return into its answer. */
static int on_probe(wsr_request_t *req, wsr_response_t *res, void *user)
{
    int *calls = user;
    json_t *o;

    (*calls)++;
    o = json_pack("{s:s?,s:s?,s:s?,s:I,s:f,s:s?,s:b,s:O?,s:O?,s:O?,s:i,s:I,s:b,s:b}", "method",
                  wsr_method_name(wsr_request_method(req)), "path", wsr_request_path(req), "route",
                  wsr_request_route_name(req), "id", (json_int_t)wsr_request_arg_int(req, "id", -1),
                  "x", wsr_request_arg_number(req, "x", -1), "q", wsr_request_arg_string(req, "q"),
                  "flag", wsr_request_arg_bool(req, "flag", false), "args", wsr_request_args(req),
                  "data", wsr_request_data(req), "client", wsr_request_member(req, "client"),
                  "format", (int)wsr_request_format(req), "conn",
                  (json_int_t)wsr_request_connection_id(req), "user", wsr_request_user(req) != NULL,
                  "factory", wsr_request_factory(req) != NULL);
    return wsr_response_set_data_take(res, o);
}

static void test_response__request_accessors_in_a_routed_handler(void **state)
{
    const wsr_param_t params[] = {
        {.name = "x", .type = WSR_TYPE_NUMBER, .required = true, .doc = "a number"},
        {.name = "q", .type = WSR_TYPE_STRING},
        {.name = "flag", .type = WSR_TYPE_BOOL, .def = "true"},
        {0},
    };
    const wsr_route_t table[] = {
        {.name = "probe",
         .methods = WSR_GET | WSR_POST,
         .url = "/t/{id:int}",
         .handler = on_probe,
         .params = params,
         .doc = "probe"},
        WSR_ROUTES_END,
    };
    wsr_router_t *router = wsr_router_new();
    wsr_error_t err;
    int calls = 0;
    char *reply;
    size_t len;
    const char *msg =
        "{\"method\":\"post\",\"url\":\"/t/5/?q=hi&x=9&extra=e\",\"args\":{\"x\":2.5},"
        "\"data\":[1],\"id\":\"r1\",\"event_name\":\"ev\",\"client\":\"c1\"}";

    (void)state;
    assert_non_null(router);
    assert_int_equal(wsr_router_add(router, table, &calls, &err), 0);
    assert_int_equal(wsr_router_call(router, msg, strlen(msg), false, &reply, &len), 0);
    assert_int_equal(calls, 1);
    /* args win over the query (x), the query fills the rest (q, extra), the
     * default fills flag, the path gives id. */
    assert_string_equal(reply, "{\"status\":200,\"data\":{\"method\":\"POST\",\"path\":\"/t/5\","
                               "\"route\":\"probe\",\"id\":5,\"x\":2.5,\"q\":\"hi\",\"flag\":true,"
                               "\"args\":{\"extra\":\"e\",\"id\":5,\"x\":2.5,\"q\":\"hi\","
                               "\"flag\":true},\"data\":[1],\"client\":\"c1\",\"format\":0,"
                               "\"conn\":0,\"user\":false,\"factory\":false},\"id\":\"r1\","
                               "\"event_name\":\"ev\"}");
    assert_int_equal((int)len, (int)strlen(reply));
    wsr_free(reply);

    /* HEAD reaches the GET route and its reply carries no data. */
    msg = "{\"method\":\"HEAD\",\"url\":\"/t/5?x=1\"}";
    assert_int_equal(wsr_router_call(router, msg, strlen(msg), false, &reply, &len), 0);
    assert_int_equal(calls, 2);
    assert_string_equal(reply, "{\"status\":200,\"data\":null,\"event_name\":null}");
    wsr_free(reply);

    /* A missing parameter never reaches the handler: a 422 naming it. */
    msg = "{\"method\":\"GET\",\"url\":\"/t/5\",\"id\":1}";
    assert_int_equal(wsr_router_call(router, msg, strlen(msg), false, &reply, &len), 0);
    assert_int_equal(calls, 2);
    assert_string_equal(reply, "{\"status\":422,\"detail\":\"invalid parameter x: is required\","
                               "\"errors\":{\"x\":\"is required\"},\"id\":1,\"event_name\":null}");
    wsr_free(reply);

    /* A message that does not decode: the 400 in the message's own format. */
    assert_int_equal(wsr_router_call(router, "", 0, true, &reply, &len), 0);
    assert_string_equal(reply, "eyJzdGF0dXMiOjQwMCwiZGV0YWlsIjoibWVzc2FnZSBpcyBlbXB0eSIsImV2ZW50X2"
                               "5hbWUiOm51bGx9");
    wsr_free(reply);
    wsr_router_free(router);
}

/* Reads its args as sent, then changes them through the object: every
 * accessor must then see the change, and "args" is that one object; "cmd",
 * kept as text, is a string member all the same. */
static int on_change(wsr_request_t *req, wsr_response_t *res, void *user)
{
    int64_t before = wsr_request_arg_int(req, "n", -1);
    json_t *args = wsr_request_args(req);

    (void)user;
    if (args == NULL || wsr_request_args(req) != args || wsr_request_member(req, "args") != args ||
        json_object_set_new(args, "n", json_integer(before + 1)) != 0)
        return WSR_ENOMEM;
    return wsr_response_set_data_take(
        res, json_pack("{s:I,s:I,s:O,s:O?}", "before", (json_int_t)before, "after",
                       (json_int_t)wsr_request_arg_int(req, "n", -1), "member",
                       wsr_request_member(req, "args"), "cmd", wsr_request_member(req, "cmd")));
}

static void test_response__args_as_sent_are_built_once_asked_for(void **state)
{
    const wsr_param_t params[] = {{.name = "n", .type = WSR_TYPE_INT}, {0}};
    const wsr_route_t table[] = {
        {.name = "change", .handler = on_change, .params = params, .doc = "change"},
        WSR_ROUTES_END,
    };
    wsr_router_t *router = wsr_router_new();
    wsr_error_t err;
    char *reply;
    size_t len;
    const char *msg = "{\"cmd\":\"change\",\"args\":{\"n\":4,\"more\":true},\"id\":1}";

    (void)state;
    assert_non_null(router);
    assert_int_equal(wsr_router_add(router, table, NULL, &err), 0);
    assert_int_equal(wsr_router_call(router, msg, strlen(msg), false, &reply, &len), 0);
    assert_string_equal(reply, "{\"status\":200,\"data\":{\"before\":4,\"after\":5,\"member\":"
                               "{\"n\":5,\"more\":true},\"cmd\":\"change\"},\"id\":1,"
                               "\"event_name\":null}");
    wsr_free(reply);
    wsr_router_free(router);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_response__fresh_response_is_200_without_data, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__set_data_take_replaces_the_result, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__set_data_take_null_is_a_500, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__convenience_setters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response__set_status_takes_200_201_202, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__set_status_refuses_everything_else, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__error_takes_400_to_599, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response__error_refuses_other_statuses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__error_and_result_replace_each_other, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__error_detail_is_cut_at_511_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__error_detail_cut_keeps_utf8, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__one_param_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response__several_param_errors_accumulate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__param_error_long_message_stays_422, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__param_error_list_is_cut_at_a_whole_name,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_response__setters_under_allocation_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__encode_head_drops_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response__encode_405_and_422, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response__encode_base64_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response__request_accessors_on_a_decoded_request,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_response__args_as_sent_are_built_once_asked_for, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response__request_accessors_in_a_routed_handler, setup,
                                        teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("response", tests, NULL, NULL);
}
