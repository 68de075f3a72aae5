/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/router.c: every refusal of a route table with its exact
 * sentence, all-or-nothing registration, the frozen router, cleanups, and
 * matching, data-driven from tests/data/router/<case>/{routes.json,cases}
 * (STYLE T6). Each case's table is registered in its order and reversed,
 * since matching must not depend on registration order.
 *
 * A `cases` line is `METHOD URL [JSON] -> STATUS EXPECTATION`:
 *   METHOD CMD sends {"cmd":URL} instead of method and url; JSON members are
 *   added to the request (args, data, ...).
 *   200 NAME [ARGS]  the route NAME answered, with exactly ARGS when given;
 *   200 {..}|null    the reply's data is exactly this JSON;
 *   405 ALLOW [TEXT] allow lists ALLOW (comma-separated); detail is TEXT;
 *   other TEXT       detail is exactly TEXT.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsrouter/wsrouter.h"
#include "routes.h"
#include "core/router_int.h"

typedef struct fixture {
    wsr_router_t *router;
    long live0;
    char trail[16]; /* cleanups append their tag here */
    size_t ntrail;
} fixture_t;

/* ---- helpers ---- */

static int answer_name_and_args(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)user;
    return wsr_response_set_data_take(res,
                                      json_pack("{s:s, s:O}", "route", wsr_request_route_name(req),
                                                "args", wsr_request_args(req)));
}

static int answer_probe(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)req;
    (void)user;
    return wsr_response_set_string(res, "probe");
}

static const wsr_route_t probe_table[] = {
    {.name = "probe",
     .methods = WSR_GET,
     .url = "/probe",
     .handler = answer_probe,
     .doc = "Answers probe."},
    WSR_ROUTES_END,
};

/* Sends `msg` and returns the reply (release with wsr_free). */
static void expect_probe_works(wsr_router_t *router)
{
    tu_expect_reply(router, "{\"method\":\"GET\",\"url\":\"/probe\"}",
                    "{\"status\":200,\"data\":\"probe\",\"event_name\":null}");
}

/* Adds `table`, expects refusal `code` with sentence `text` naming route
 * `key`, and checks that the router is exactly as before. */
static void expect_refused(fixture_t *fx, const wsr_route_t *table, int code, const char *key,
                           const char *text)
{
    size_t before = wsr_router_count(fx->router);
    long live = tu_live_blocks();
    wsr_error_t err;

    memset(&err, 0x5a, sizeof(err)); /* garbage: the router must not rely on it */
    assert_int_equal(wsr_router_add(fx->router, table, NULL, &err), code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.text, text);
    assert_string_equal(err.key, key);
    assert_string_equal(err.source, "");
    assert_int_equal(err.line, 0);
    assert_int_equal(err.column, 0);
    assert_int_equal(wsr_router_count(fx->router), before);
    assert_int_equal(tu_live_blocks(), live);
    expect_probe_works(fx->router);
    /* Without an error report the refusal is the same. */
    assert_int_equal(wsr_router_add(fx->router, table, NULL, NULL), code);
    assert_int_equal(wsr_router_count(fx->router), before);
}

/* A table of one route with `url` and GET. */
static void expect_url_refused(fixture_t *fx, const char *url, const char *text)
{
    const wsr_route_t table[] = {
        {.name = "r", .methods = WSR_GET, .url = url, .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };

    expect_refused(fx, table, WSR_EINVAL, "r", text);
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->live0 = tu_live_blocks();
    fx->router = wsr_router_new();
    if (fx->router == NULL || wsr_router_add(fx->router, probe_table, NULL, NULL) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    long live0 = fx->live0;

    wsr_router_free(fx->router);
    free(fx);
    /* Every case must give back every block it took. */
    assert_int_equal(tu_live_blocks(), live0);
    return 0;
}

/* ---- table checks ---- */

static void test_router__refuses_bad_names(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t blank[] = {
        {.name = "a b", .methods = WSR_GET, .url = "/x", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t empty[] = {
        {.name = "", .methods = WSR_GET, .url = "/x", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t control[] = {
        {.name = "a\tb", .methods = WSR_GET, .url = "/x", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t too_long[] = {
        {.name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         .methods = WSR_GET,
         .url = "/x",
         .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t longest[] = {
        {.name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         .methods = WSR_GET,
         .url = "/x",
         .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };

    expect_refused(fx, blank, WSR_EINVAL, "a b",
                   "route 'a b': a name is 1 to 64 printable characters without blanks");
    expect_refused(fx, empty, WSR_EINVAL, "",
                   "route '': a name is 1 to 64 printable characters without blanks");
    expect_refused(fx, control, WSR_EINVAL, "a\tb",
                   "route 'a\tb': a name is 1 to 64 printable characters without blanks");
    expect_refused(fx, too_long, WSR_EINVAL,
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                   "route 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': a "
                   "name is 1 to 64 printable characters without blanks");
    assert_int_equal(wsr_router_add(fx->router, longest, NULL, NULL), 0);
}

static void test_router__refuses_route_without_handler(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t table[] = {
        {.name = "nohandler", .methods = WSR_GET, .url = "/x"},
        WSR_ROUTES_END,
    };

    expect_refused(fx, table, WSR_EINVAL, "nohandler", "route 'nohandler' has no handler");
}

static void test_router__route_rates_are_read_or_refused(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t bad[] = {
        {.name = "fast", .handler = answer_name_and_args, .rate = "lots"},
        WSR_ROUTES_END,
    };
    const wsr_route_t good[] = {
        {.name = "a", .handler = answer_name_and_args, .rate = "120/min"},
        {.name = "b", .handler = answer_name_and_args},
        {.name = "c", .handler = answer_name_and_args, .rate = "off"},
        {.name = "d", .handler = answer_name_and_args, .rate = "3/s"},
        WSR_ROUTES_END,
    };
    const wsr__route_t *a, *d;

    expect_refused(fx, bad, WSR_EINVAL, "fast",
                   "route 'fast': rate \"lots\" is not a rate (\"N/s\", \"N/min\", \"N/h\" or "
                   "\"off\")");
    assert_int_equal(wsr__router_rated(fx->router), 0);
    assert_int_equal(wsr_router_add(fx->router, good, NULL, NULL), 0);
    /* Only the routes with a rate get a bucket slot, one each. */
    assert_int_equal(wsr__router_rated(fx->router), 2);
    a = wsr__router_find(fx->router, "a");
    d = wsr__router_find(fx->router, "d");
    assert_true(a->rate == 2 && d->rate == 3);
    assert_int_equal(a->rate_slot, 0);
    assert_int_equal(d->rate_slot, 1);
    assert_true(wsr__router_find(fx->router, "b")->rate == 0);
    assert_true(wsr__router_find(fx->router, "c")->rate == 0);
}

static void test_router__refuses_url_without_methods(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t none[] = {
        {.name = "nomethods", .url = "/x", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t unknown_bit[] = {
        {.name = "badbit",
         .methods = WSR_GET | 0x80u,
         .url = "/x",
         .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };

    expect_refused(fx, none, WSR_EINVAL, "nomethods",
                   "route 'nomethods' has a url but no valid methods");
    expect_refused(fx, unknown_bit, WSR_EINVAL, "badbit",
                   "route 'badbit' has a url but no valid methods");
}

static void test_router__refuses_methods_without_url(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t table[] = {
        {.name = "nourl", .methods = WSR_GET, .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };

    expect_refused(fx, table, WSR_EINVAL, "nourl",
                   "route 'nourl' has methods but no url (a cmd-only route has neither)");
}

static void test_router__refuses_pattern_not_starting_with_slash(void **state)
{
    fixture_t *fx = *state;

    expect_url_refused(fx, "a/b", "route 'r': url pattern 'a/b' must start with /");
    expect_url_refused(fx, "", "route 'r': url pattern '' must start with /");
    expect_url_refused(fx, "{x}", "route 'r': url pattern '{x}' must start with /");
}

static void test_router__refuses_empty_segment(void **state)
{
    fixture_t *fx = *state;

    expect_url_refused(fx, "/a//b", "route 'r': url pattern '/a//b' has an empty segment");
    expect_url_refused(fx, "//a", "route 'r': url pattern '//a' has an empty segment");
}

static void test_router__refuses_unbalanced_brace(void **state)
{
    fixture_t *fx = *state;

    expect_url_refused(fx, "/a/{b",
                       "route 'r': url pattern segment '{b' has an unbalanced brace (a "
                       "parameter is a whole segment: {name} or {name:type})");
    expect_url_refused(fx, "/a/b}",
                       "route 'r': url pattern segment 'b}' has an unbalanced brace (a "
                       "parameter is a whole segment: {name} or {name:type})");
    expect_url_refused(fx, "/a/x{b}",
                       "route 'r': url pattern segment 'x{b}' has an unbalanced brace (a "
                       "parameter is a whole segment: {name} or {name:type})");
    expect_url_refused(fx, "/{}",
                       "route 'r': url pattern segment '{}' has an unbalanced brace (a "
                       "parameter is a whole segment: {name} or {name:type})");
}

static void test_router__refuses_unknown_param_type(void **state)
{
    fixture_t *fx = *state;

    expect_url_refused(fx, "/a/{b:float}",
                       "route 'r': url pattern segment '{b:float}' has an unknown type (use "
                       "int, number or string)");
    expect_url_refused(fx, "/a/{b:}",
                       "route 'r': url pattern segment '{b:}' has an unknown type (use int, "
                       "number or string)");
    expect_url_refused(fx, "/a/{b:INT}",
                       "route 'r': url pattern segment '{b:INT}' has an unknown type (use int, "
                       "number or string)");
}

static void test_router__refuses_bad_param_name(void **state)
{
    fixture_t *fx = *state;

    expect_url_refused(fx, "/a/{1b}",
                       "route 'r': url pattern segment '{1b}' needs a parameter name made of "
                       "letters, digits and '_'");
    expect_url_refused(fx, "/a/{b-c}",
                       "route 'r': url pattern segment '{b-c}' needs a parameter name made of "
                       "letters, digits and '_'");
    expect_url_refused(fx, "/a/{:int}",
                       "route 'r': url pattern segment '{:int}' needs a parameter name made of "
                       "letters, digits and '_'");
}

static void test_router__refuses_duplicate_param_in_pattern(void **state)
{
    fixture_t *fx = *state;

    expect_url_refused(fx, "/{a}/x/{a}", "route 'r': url pattern names parameter 'a' twice");
    expect_url_refused(fx, "/{a:int}/{a:number}",
                       "route 'r': url pattern names parameter 'a' twice");
}

static void test_router__refuses_more_than_32_segments(void **state)
{
    fixture_t *fx = *state;
    char url[128], url2[128], url3[128];
    const wsr_route_t table[] = {
        {.name = "s32", .methods = WSR_GET, .url = url, .handler = answer_name_and_args},
        {.name = "t32", .methods = WSR_GET, .url = url2, .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };

    url[0] = url2[0] = url3[0] = '\0';
    for (int i = 0; i < 32; i++) {
        strcat(url, "/s");
        strcat(url2, "/t");
        strcat(url3, "/u");
    }
    strcat(url2, "/"); /* a trailing '/' is not a segment */
    assert_int_equal(wsr_router_add(fx->router, table, NULL, NULL), 0);
    strcat(url3, "/{x}");
    expect_url_refused(fx, url3, "route 'r': url pattern has more than 32 segments");
    tu_expect_reply(
        fx->router,
        "{\"method\":\"GET\",\"url\":\"/t/t/t/t/t/t/t/t/t/t/t/t/t/t/t/t/t/t/t/t/t/t/t/"
        "t/t/t/t/t/t/t/t/t/\"}",
        "{\"status\":200,\"data\":{\"route\":\"t32\",\"args\":{}},\"event_name\":null}");
}

static void test_router__refuses_duplicate_names_across_tables(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t again[] = {
        {.name = "other", .methods = WSR_GET, .url = "/other", .handler = answer_name_and_args},
        {.name = "probe",
         .methods = WSR_POST,
         .url = "/elsewhere",
         .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t twice[] = {
        {.name = "dup", .methods = WSR_GET, .url = "/d1", .handler = answer_name_and_args},
        {.name = "dup", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };

    expect_refused(fx, again, WSR_EEXIST, "probe", "route name 'probe' is registered twice");
    expect_refused(fx, twice, WSR_EEXIST, "dup", "route name 'dup' is registered twice");
    /* Neither table left a route behind. */
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/other\"}",
                    "{\"status\":404,\"detail\":\"no route for /other\",\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmd\":\"dup\"}",
                    "{\"status\":404,\"detail\":\"no command named dup\",\"event_name\":null}");
}

static void test_router__cmdid_routes_and_refuses_duplicates(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t table[] = {
        {.name = "tcmd", .handler = answer_name_and_args, .cmdid = 10001},
        WSR_ROUTES_END,
    };
    const wsr_route_t again[] = {
        {.name = "tcmd2", .handler = answer_name_and_args, .cmdid = 10001},
        WSR_ROUTES_END,
    };

    assert_int_equal(wsr_router_add(fx->router, table, NULL, NULL), 0);
    expect_refused(fx, again, WSR_EEXIST, "tcmd2",
                   "cmdid 10001 is registered twice (routes 'tcmd' and 'tcmd2')");
    /* tornado-TCP's request: params are the arguments. */
    tu_expect_reply(fx->router, "{\"cmdid\":10001,\"params\":{\"k\":1},\"timestamp\":5}",
                    "{\"status\":200,\"data\":{\"route\":\"tcmd\",\"args\":{\"k\":1}},"
                    "\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmdid\":7}",
                    "{\"status\":404,\"detail\":\"no command with cmdid 7\",\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"cmdid\":10001,\"params\":[1]}",
                    "{\"status\":400,\"detail\":\"member params must be an object\","
                    "\"event_name\":null}");
}

static void test_router__refuses_ambiguous_routes(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t first[] = {
        {.name = "a",
         .methods = WSR_GET | WSR_POST,
         .url = "/a/{x}",
         .handler = answer_name_and_args},
        {.name = "s", .methods = WSR_GET, .url = "/s", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t same_shape[] = {
        {.name = "b",
         .methods = WSR_POST | WSR_PUT | WSR_DELETE,
         .url = "/a/{y}/",
         .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t typed_same[] = {
        {.name = "c", .methods = WSR_GET, .url = "/t/{n:int}", .handler = answer_name_and_args},
        {.name = "d", .methods = WSR_GET, .url = "/t/{m:int}", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t string_is_untyped[] = {
        {.name = "e",
         .methods = WSR_GET | WSR_HEAD,
         .url = "/a/{z:string}",
         .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t static_twice[] = {
        {.name = "s2",
         .methods = WSR_OPTIONS | WSR_GET,
         .url = "/s/",
         .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };

    assert_int_equal(wsr_router_add(fx->router, first, NULL, NULL), 0);
    expect_refused(fx, same_shape, WSR_EAMBIGUOUS, "b",
                   "route 'b' (/a/{y}) is ambiguous with route 'a' (/a/{x}): both would answer "
                   "POST on the same URLs");
    expect_refused(fx, typed_same, WSR_EAMBIGUOUS, "d",
                   "route 'd' (/t/{m:int}) is ambiguous with route 'c' (/t/{n:int}): both would "
                   "answer GET on the same URLs");
    expect_refused(fx, string_is_untyped, WSR_EAMBIGUOUS, "e",
                   "route 'e' (/a/{z:string}) is ambiguous with route 'a' (/a/{x}): both would "
                   "answer GET on the same URLs");
    expect_refused(fx, static_twice, WSR_EAMBIGUOUS, "s2",
                   "route 's2' (/s) is ambiguous with route 's' (/s): both would answer GET on "
                   "the same URLs");
}

static void test_router__same_shape_with_disjoint_methods_is_fine(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t table[] = {
        {.name = "read", .methods = WSR_GET, .url = "/item/{id}", .handler = answer_name_and_args},
        {.name = "write",
         .methods = WSR_PUT | WSR_PATCH,
         .url = "/item/{key}",
         .handler = answer_name_and_args},
        {.name = "drop",
         .methods = WSR_DELETE,
         .url = "/item/{k:string}",
         .handler = answer_name_and_args},
        /* Different types are different shapes: no ambiguity either. */
        {.name = "by_int",
         .methods = WSR_GET,
         .url = "/item/{n:int}",
         .handler = answer_name_and_args},
        {.name = "by_num",
         .methods = WSR_GET,
         .url = "/item/{f:number}",
         .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };

    assert_int_equal(wsr_router_add(fx->router, table, NULL, NULL), 0);
    assert_int_equal(wsr_router_count(fx->router), 6);
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/item/a\"}",
                    "{\"status\":200,\"data\":{\"route\":\"read\",\"args\":{\"id\":\"a\"}},"
                    "\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"PATCH\",\"url\":\"/item/a\"}",
                    "{\"status\":200,\"data\":{\"route\":\"write\",\"args\":{\"key\":\"a\"}},"
                    "\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"DELETE\",\"url\":\"/item/a\"}",
                    "{\"status\":200,\"data\":{\"route\":\"drop\",\"args\":{\"k\":\"a\"}},"
                    "\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/item/2\"}",
                    "{\"status\":200,\"data\":{\"route\":\"by_int\",\"args\":{\"n\":2}},"
                    "\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/item/2.5\"}",
                    "{\"status\":200,\"data\":{\"route\":\"by_num\",\"args\":{\"f\":2.5}},"
                    "\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"POST\",\"url\":\"/item/2\",\"id\":\"x\"}",
                    "{\"status\":405,\"detail\":\"method POST is not allowed on /item/{n:int}\","
                    "\"allow\":[\"GET\",\"PUT\",\"PATCH\",\"DELETE\"],\"id\":\"x\",\"event_name\":"
                    "null}");
}

static void test_router__refused_table_leaves_earlier_routes_working(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t good[] = {
        {.name = "g1", .methods = WSR_GET, .url = "/g/1", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t half_bad[] = {
        {.name = "fine", .methods = WSR_GET, .url = "/fine", .handler = answer_name_and_args},
        {.name = "fine_cmd", .handler = answer_name_and_args},
        {.name = "broken", .methods = WSR_GET, .url = "/broken/{", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    const wsr_route_t ambiguous_last[] = {
        {.name = "fine2", .methods = WSR_GET, .url = "/fine2", .handler = answer_name_and_args},
        {.name = "clash", .methods = WSR_GET, .url = "/g/1", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };

    assert_int_equal(wsr_router_add(fx->router, good, NULL, NULL), 0);
    expect_refused(fx, half_bad, WSR_EINVAL, "broken",
                   "route 'broken': url pattern segment '{' has an unbalanced brace (a "
                   "parameter is a whole segment: {name} or {name:type})");
    expect_refused(fx, ambiguous_last, WSR_EAMBIGUOUS, "clash",
                   "route 'clash' (/g/1) is ambiguous with route 'g1' (/g/1): both would answer "
                   "GET on the same URLs");
    assert_int_equal(wsr_router_count(fx->router), 2);
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/fine\"}",
                    "{\"status\":404,\"detail\":\"no route for /fine\",\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/fine2\"}",
                    "{\"status\":404,\"detail\":\"no route for /fine2\",\"event_name\":null}");
    tu_expect_reply(
        fx->router, "{\"cmd\":\"fine_cmd\"}",
        "{\"status\":404,\"detail\":\"no command named fine_cmd\",\"event_name\":null}");
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/g/1\"}",
                    "{\"status\":200,\"data\":{\"route\":\"g1\",\"args\":{}},\"event_name\":null}");
    /* The names of the refused table are free again. */
    assert_int_equal(wsr_router_add(fx->router, ambiguous_last + 0, NULL, NULL), WSR_EAMBIGUOUS);
    assert_int_equal(wsr_router_add(fx->router, half_bad + 1, NULL, NULL), WSR_EINVAL);
    assert_int_equal(wsr_router_add(fx->router, half_bad + 2, NULL, NULL), WSR_EINVAL);
}

static void test_router__refuses_null_table(void **state)
{
    fixture_t *fx = *state;
    wsr_error_t err;

    assert_int_equal(wsr_router_add(fx->router, NULL, NULL, &err), WSR_EINVAL);
    assert_string_equal(err.text, "route table is NULL");
    expect_probe_works(fx->router);
}

static void test_router__empty_table_is_accepted(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t table[] = {WSR_ROUTES_END};

    assert_int_equal(wsr_router_add(fx->router, table, NULL, NULL), 0);
    assert_int_equal(wsr_router_count(fx->router), 1);
    expect_probe_works(fx->router);
}

static void test_router__empty_router_answers_404(void **state)
{
    wsr_router_t *router = wsr_router_new();

    (void)state;
    assert_non_null(router);
    assert_int_equal(wsr_router_count(router), 0);
    tu_expect_reply(router, "{\"method\":\"GET\",\"url\":\"/\",\"id\":1}",
                    "{\"status\":404,\"detail\":\"no route for /\",\"id\":1,\"event_name\":null}");
    tu_expect_reply(router, "{\"cmd\":\"x\"}",
                    "{\"status\":404,\"detail\":\"no command named x\",\"event_name\":null}");
    wsr_router_free(router);
}

static void test_router__frozen_router_refuses_tables(void **state)
{
    fixture_t *fx = *state;
    const wsr_route_t table[] = {
        {.name = "late", .methods = WSR_GET, .url = "/late", .handler = answer_name_and_args},
        WSR_ROUTES_END,
    };
    wsr_error_t err;

    wsr__router_freeze(fx->router);
    assert_int_equal(wsr_router_add(fx->router, table, NULL, &err), WSR_ESTATE);
    assert_int_equal(err.code, WSR_ESTATE);
    assert_string_equal(err.text, "routes cannot be added while the server runs");
    assert_int_equal(wsr_router_count(fx->router), 1);
    expect_probe_works(fx->router);
    tu_expect_reply(fx->router, "{\"method\":\"GET\",\"url\":\"/late\"}",
                    "{\"status\":404,\"detail\":\"no route for /late\",\"event_name\":null}");
}

typedef struct cleanup_probe {
    fixture_t *fx;
    char tag;
} cleanup_probe_t;

static void append_tag(void *user)
{
    cleanup_probe_t *p = user;

    p->fx->trail[p->fx->ntrail++] = p->tag;
}

static void test_router__cleanups_run_in_reverse_order(void **state)
{
    fixture_t *fx = *state;
    cleanup_probe_t probes[3] = {{fx, '1'}, {fx, '2'}, {fx, '3'}};
    wsr_router_t *router = wsr_router_new();

    assert_non_null(router);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wsr_router_on_free(router, append_tag, &probes[i]), 0);
    assert_int_equal(fx->ntrail, 0);
    wsr_router_free(router);
    assert_int_equal(fx->ntrail, 3);
    assert_memory_equal(fx->trail, "321", 3);
    /* NULL is ignored. */
    wsr_router_free(NULL);
}

static void test_router__cleanup_registration_failure_leaves_ownership(void **state)
{
    fixture_t *fx = *state;
    cleanup_probe_t probe = {fx, 'x'};

    tu_fail_at(0, false);
    assert_int_equal(wsr_router_on_free(fx->router, append_tag, &probe), WSR_ENOMEM);
    tu_fail_at(-1, false);
    wsr_router_free(fx->router);
    fx->router = NULL;
    /* A failed registration is never called. */
    assert_int_equal(fx->ntrail, 0);
}

static void test_router__protocol_section4_examples(void **state)
{
    fixture_t *fx = *state;
    wsr_error_t err;

    assert_int_equal(wsr_routes_examples(fx->router, &err), 0);
    tu_expect_reply(fx->router,
                    "{\"method\":\"GET\",\"url\":\"/hello/bob/42\",\"event_name\":\"greet\"}",
                    "{\"status\":200,\"data\":\"Hello, bob with ID=42\",\"event_name\":\"greet\"}");
    tu_expect_reply(fx->router, "{\"method\":\"DELETE\",\"url\":\"/counters/a\",\"id\":7}",
                    "{\"status\":405,\"detail\":\"method DELETE is not allowed on "
                    "/counters/{key}\",\"allow\":[\"GET\",\"POST\",\"PUT\"],\"id\":7,"
                    "\"event_name\":null}");
}

/* ---- data-driven matching ---- */

typedef struct table_case {
    json_t *spec;       /* the parsed routes.json (names are borrowed from it) */
    wsr_route_t *table; /* malloc'd, ends with the sentinel */
} table_case_t;

static unsigned methods_from_json(json_t *list)
{
    unsigned bits = 0;
    size_t i;
    json_t *m;

    json_array_foreach(list, i, m)
    {
        unsigned bit = 0;

        for (unsigned b = 1; b <= WSR_OPTIONS; b <<= 1)
            if (strcmp(wsr_method_name(b), json_string_value(m)) == 0)
                bit = b;
        assert_true(bit != 0);
        bits |= bit;
    }
    return bits;
}

/* Builds the table from routes.json, reversed when `reverse`. */
static void load_table(const char *name, bool reverse, table_case_t *tc)
{
    char rel[256];
    char *text;
    json_error_t jerr;
    size_t n, i;

    snprintf(rel, sizeof(rel), "router/%s/routes.json", name);
    text = tu_read_data(rel, NULL);
    if (text == NULL)
        fail_msg("cannot read %s", rel);
    tc->spec = json_loads(text, 0, &jerr);
    free(text);
    if (tc->spec == NULL)
        fail_msg("%s:%d:%d: %s", rel, jerr.line, jerr.column, jerr.text);
    n = json_array_size(tc->spec);
    tc->table = calloc(n + 1, sizeof(*tc->table));
    assert_non_null(tc->table);
    for (i = 0; i < n; i++) {
        json_t *r = json_array_get(tc->spec, reverse ? n - 1 - i : i);
        wsr_route_t *t = &tc->table[i];

        t->name = json_string_value(json_object_get(r, "name"));
        t->methods = methods_from_json(json_object_get(r, "methods"));
        t->url = json_string_value(json_object_get(r, "url"));
        t->handler = answer_name_and_args;
        assert_non_null(t->name);
    }
}

/* Builds the request of a case line's left side. Returns compact JSON (wsr_free). */
static char *build_request(char *left, const char *where)
{
    char *method = strtok(left, " "), *url = strtok(NULL, " "), *extra = strtok(NULL, "");
    json_t *req;
    char *text;

    if (method == NULL || url == NULL)
        fail_msg("%s: needs METHOD URL", where);
    if (strcmp(method, "CMD") == 0)
        req = json_pack("{s:s}", "cmd", url);
    else
        req = json_pack("{s:s, s:s}", "method", method, "url", url);
    assert_non_null(req);
    if (extra != NULL) {
        json_error_t jerr;
        json_t *more = json_loads(extra, 0, &jerr);

        if (more == NULL)
            fail_msg("%s: bad JSON %s: %s", where, extra, jerr.text);
        assert_int_equal(json_object_update(req, more), 0);
        json_decref(more);
    }
    text = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(req);
    assert_non_null(text);
    return text;
}

static bool json_text_equal(const json_t *v, const char *text)
{
    json_t *want = json_loads(text, JSON_DECODE_ANY, NULL);
    bool same;

    if (want == NULL)
        fail_msg("bad expected JSON: %s", text);
    same = json_equal(want, (json_t *)v) != 0;
    json_decref(want);
    return same;
}

static void check_allow(const json_t *allow, const char *want, const char *where, const char *got)
{
    char list[128] = "";
    size_t i;
    json_t *m;

    json_array_foreach(allow, i, m)
    {
        if (i)
            strcat(list, ",");
        strcat(list, json_string_value(m));
    }
    if (strcmp(list, want) != 0)
        fail_msg("%s: allow is %s, want %s (reply %s)", where, list, want, got);
}

/* Checks one reply against the right side of a case line. */
static void check_reply(const char *got, const char *right, const char *where)
{
    json_t *reply = json_loads(got, 0, NULL);
    char *rest;
    long status = strtol(right, &rest, 10);
    json_t *data;

    if (reply == NULL)
        fail_msg("%s: reply is not JSON: %s", where, got);
    if (*rest == ' ')
        rest++;
    if (json_integer_value(json_object_get(reply, "status")) != status)
        fail_msg("%s: want status %ld, got %s", where, status, got);
    data = json_object_get(reply, "data");
    if (status < 300 && (rest[0] == '{' || strcmp(rest, "null") == 0)) {
        if (!json_text_equal(data, rest))
            fail_msg("%s: want data %s, got %s", where, rest, got);
    } else if (status < 300) {
        size_t nlen = strcspn(rest, " ");
        const char *route = json_string_value(json_object_get(data, "route"));

        if (route == NULL || strlen(route) != nlen || strncmp(route, rest, nlen) != 0)
            fail_msg("%s: want route %.*s, got %s", where, (int)nlen, rest, got);
        if (rest[nlen] == ' ' && !json_text_equal(json_object_get(data, "args"), rest + nlen + 1))
            fail_msg("%s: want args %s, got %s", where, rest + nlen + 1, got);
    } else if (status == 405) {
        char allow[128];
        size_t alen = strcspn(rest, " ");

        snprintf(allow, sizeof(allow), "%.*s", (int)alen, rest);
        check_allow(json_object_get(reply, "allow"), allow, where, got);
        if (rest[alen] == ' ' &&
            strcmp(json_string_value(json_object_get(reply, "detail")), rest + alen + 1) != 0)
            fail_msg("%s: want detail \"%s\", got %s", where, rest + alen + 1, got);
    } else if (strcmp(json_string_value(json_object_get(reply, "detail")), rest) != 0) {
        fail_msg("%s: want detail \"%s\", got %s", where, rest, got);
    }
    if (status != 405 && json_object_get(reply, "allow") != NULL)
        fail_msg("%s: only a 405 has allow: %s", where, got);
    json_decref(reply);
}

/* Runs every line of router/<name>/cases against the table; returns the count. */
static size_t run_cases(const char *name, bool reverse)
{
    table_case_t tc;
    wsr_router_t *router = wsr_router_new();
    wsr_error_t err;
    char rel[256], *text, *line, *save = NULL;
    size_t count = 0, lineno = 0;

    assert_non_null(router);
    load_table(name, reverse, &tc);
    if (wsr_router_add(router, tc.table, NULL, &err) != 0)
        fail_msg("router/%s: table refused: %s", name, err.text);
    snprintf(rel, sizeof(rel), "router/%s/cases", name);
    text = tu_read_data(rel, NULL);
    if (text == NULL)
        fail_msg("cannot read %s", rel);
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char where[320], *arrow, *msg, *reply;

        lineno++;
        tu_rstrip(line);
        if (line[0] == '\0' || line[0] == '#')
            continue;
        snprintf(where, sizeof(where), "%s:%zu%s", rel, lineno, reverse ? " (reversed table)" : "");
        arrow = strstr(line, " -> ");
        if (arrow == NULL)
            fail_msg("%s: no ' -> '", where);
        *arrow = '\0';
        msg = build_request(line, where);
        reply = tu_call(router, msg);
        check_reply(reply, arrow + 4, where);
        wsr_free(reply);
        wsr_free(msg);
        count++;
    }
    free(text);
    wsr_router_free(router);
    free(tc.table);
    json_decref(tc.spec);
    return count;
}

static void test_router__matching_cases_from_data(void **state)
{
    char **names;
    size_t n = tu_list_cases("router", &names), total = 0;

    (void)state;
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        size_t forward = run_cases(names[i], false);

        assert_true(forward > 0);
        assert_int_equal(run_cases(names[i], true), forward);
        total += forward;
        free(names[i]);
    }
    free(names);
    assert_true(total >= 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_router__refuses_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_route_without_handler, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_url_without_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_methods_without_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_pattern_not_starting_with_slash, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_empty_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_unbalanced_brace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_unknown_param_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_bad_param_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_duplicate_param_in_pattern, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_more_than_32_segments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_router__cmdid_routes_and_refuses_duplicates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_duplicate_names_across_tables, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_ambiguous_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__same_shape_with_disjoint_methods_is_fine,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__refused_table_leaves_earlier_routes_working,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__refuses_null_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__empty_table_is_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__empty_router_answers_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__frozen_router_refuses_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__cleanups_run_in_reverse_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_router__cleanup_registration_failure_leaves_ownership,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__protocol_section4_examples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__matching_cases_from_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__route_rates_are_read_or_refused, setup,
                                        teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
