/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the whole request pipeline without a server (wsr_router_call:
 * decode, route, validate, run the handler, encode) on a router holding the
 * example route modules (wsr_routes_load "examples": math, counters, hello,
 * echo, account) and the built-in routes. The diag module is left out on
 * purpose: its handlers sleep up to a minute, start threads and answer up
 * to 16 MiB, which is what they are for, not bugs.
 *
 * The first byte says how the rest is sent: 'B' or 'b' as a binary message,
 * anything else as a text message. Checked for every input:
 * - the call succeeds (WSR_ENOMEM only when memory runs out, which it does
 *   not here) and the reply is NUL-terminated at its length;
 * - the reply is JSON, as text or in base64: an object with an integer
 *   status from 100 to 599 (or a JSON-RPC 2.0 object, an array of them for
 *   a batch, or nothing: a notification), and an error status comes with a non-empty detail;
 * - no example handler fails with a 500 on any input.
 */
#include "fuzz.h"

#include <jansson.h>
#include <string.h>

#include "core/base64_int.h"
#include "core/builtins_int.h"
#include "core/json_int.h"
#include "routes.h"

static wsr_router_t *router;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    wsr_error_t err;

    (void)argc;
    (void)argv;
    json_set_alloc_funcs(wsr_malloc, wsr_free);
    router = wsr_router_new();
    FUZZ_CHECK(router != NULL, "out of memory");
    FUZZ_CHECK(wsr_routes_load(router, "examples", &err) == 0, "%s", err.text);
    FUZZ_CHECK(wsr__builtins_add(router, NULL, &err) == 0, "%s", err.text);
    return 0;
}

/* The reply as JSON (an object, or a batch's array), as text or from base64. */
static json_t *read_reply(const char *reply, size_t n)
{
    wsr__json_error_t e;
    wsr__buf_t raw;
    json_t *v;

    if (n > 0 && (reply[0] == '{' || reply[0] == '['))
        return wsr__json_parse(reply, n, WSR__JSON_MAX_DEPTH, &e);
    wsr__buf_init(&raw, 0, 0);
    v = wsr__base64_decode(&raw, (const unsigned char *)reply, n) == 0
            ? wsr__json_parse(raw.data, raw.len, WSR__JSON_MAX_DEPTH, &e)
            : NULL;
    wsr__buf_dispose(&raw);
    return v;
}

/* A single reply: a status from 100 to 599 with a detail when it is an
 * error and never 500, or a JSON-RPC 2.0 object. */
static void check_status(const json_t *v, const char *shown)
{
    const json_t *status = json_object_get(v, "status");
    json_int_t st;

    if (status == NULL) {
        FUZZ_CHECK(json_is_string(json_object_get(v, "jsonrpc")), "a reply without status: %s",
                   shown);
        return;
    }
    st = json_integer_value(status);
    FUZZ_CHECK(json_is_integer(status) && st >= 100 && st <= 599, "status in %s", shown);
    FUZZ_CHECK(st < 400 || json_string_length(json_object_get(v, "detail")) > 0,
               "an error without a detail: %s", shown);
    FUZZ_CHECK(st != 500, "a handler failed: %s", shown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *reply = NULL, shown[300];
    size_t len = 0;
    json_t *v;
    bool binary;
    int rc;

    if (size == 0)
        return 0;
    binary = (data[0] | 0x20) == 'b';
    rc = wsr_router_call(router, data + 1, size - 1, binary, &reply, &len);
    FUZZ_CHECK(rc == 0, "wsr_router_call returned %d", rc);
    FUZZ_CHECK(reply != NULL && reply[len] == '\0' && strlen(reply) == len,
               "the reply is not a string of its length");
    if (len == 0) { /* a JSON-RPC notification gets nothing back */
        wsr_free(reply);
        return 0;
    }
    v = read_reply(reply, len);
    fuzz_repr(reply, len, shown, sizeof(shown));
    if (json_is_array(v)) { /* a JSON-RPC 2.0 batch: one object per call */
        FUZZ_CHECK(json_array_size(v) > 0, "an empty batch reply: %s", shown);
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *one = json_array_get(v, i);

            FUZZ_CHECK(json_is_object(one) && json_is_string(json_object_get(one, "jsonrpc")),
                       "a batch reply holds other than JSON-RPC objects: %s", shown);
        }
    } else {
        FUZZ_CHECK(json_is_object(v), "the reply is not a JSON object: %s", shown);
        check_status(v, shown);
    }
    json_decref(v);
    wsr_free(reply);
    return 0;
}
