/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/proxies.c (and the addresses of src/server/addr.c it
 * works on): the trusted_proxies list (what parses, what is refused and with
 * which sentence, out of memory), membership, and the client read from
 * X-Forwarded-For and Forwarded: the right-most address that is not a
 * trusted proxy, malformed values not believed, two headers that disagree
 * not believed.
 */
#include "netfix.h"

#include <stdio.h>
#include <string.h>

/* What `p` finds for the headers (NULL: absent), its client as text in `out`. */
static wsr__forwarded_t client_of(const wsr__proxies_t *p, const char *xff, const char *fwd,
                                  char *out)
{
    wsr__addr_t a = {0};
    wsr__forwarded_t rc =
        wsr__proxies_client(p, xff, xff ? strlen(xff) : 0, fwd, fwd ? strlen(fwd) : 0, &a);

    wsr__addr_format(&a, out, WSR__ADDR_TEXT_MAX);
    return rc;
}

/* ---- addresses ---- */

static void test_proxies__addresses_parse_and_format(void **state)
{
    static const char *const good[][2] = {
        {"192.0.2.7", "192.0.2.7"},
        {"2001:db8::7", "2001:db8::7"},
        {"2001:DB8:0:0:0:0:0:7", "2001:db8::7"},
        {"::ffff:192.0.2.7", "192.0.2.7"}, /* IPv4-mapped is the IPv4 address */
        {"::1", "::1"},
    };
    static const char *const bad[] = {"",          "192.0.2",      "192.0.2.256",  "192.0.2.07x",
                                      "[::1]",     "192.0.2.7:80", "fe80::1%eth0", "localhost",
                                      " 192.0.2.7"};
    char text[WSR__ADDR_TEXT_MAX];
    wsr__addr_t a;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        a = tu_addr(good[i][0]);
        wsr__addr_format(&a, text, sizeof(text));
        assert_string_equal(text, good[i][1]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(wsr__addr_parse(bad[i], strlen(bad[i]), &a));
    /* Exactly n bytes are read: the rest of the buffer is not part of it. */
    assert_true(wsr__addr_parse("10.1.2.3, more", 8, &a));
    wsr__addr_format(&a, text, sizeof(text));
    assert_string_equal(text, "10.1.2.3");
    a.len = 0;
    wsr__addr_format(&a, text, sizeof(text));
    assert_string_equal(text, "");
}

static void test_proxies__prefix_match(void **state)
{
    wsr__addr_t net = tu_addr("10.128.0.0"), v6 = tu_addr("fd00::");

    (void)state;
    assert_false(wsr__addr_in(&(wsr__addr_t){0}, &net, 0)); /* no address never matches */
    for (unsigned bits = 0; bits <= 9; bits++)
        assert_true(wsr__addr_in(&(wsr__addr_t){4, {10, 128, 1, 2}}, &net, bits));
    assert_false(wsr__addr_in(&(wsr__addr_t){4, {10, 0, 1, 2}}, &net, 9));
    assert_true(wsr__addr_in(&(wsr__addr_t){4, {10, 0, 1, 2}}, &net, 8));
    assert_false(wsr__addr_in(&net, &net, 33));
    assert_true(wsr__addr_in(&net, &net, 32));
    /* Families never mix, not even with /0. */
    assert_false(wsr__addr_in(&net, &v6, 0));
    assert_false(wsr__addr_in(&v6, &net, 0));
    assert_true(wsr__addr_in(&(wsr__addr_t){16, {0xfd, 0x12}}, &v6, 8));
    assert_false(wsr__addr_in(&(wsr__addr_t){16, {0xfc, 0x12}}, &v6, 8));
}

/* ---- the list ---- */

static void test_proxies__empty_lists_are_no_list(void **state)
{
    tu_net_fixture_t *fx = *state;
    static const char *const empty[] = {"", " ", ",", " , ,\t"};
    wsr__addr_t a = tu_addr("127.0.0.1");

    assert_int_equal(wsr__proxies_parse(NULL, &fx->proxies, NULL), 0);
    assert_null(fx->proxies);
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        assert_int_equal(wsr__proxies_parse(empty[i], &fx->proxies, NULL), 0);
        assert_null(fx->proxies);
    }
    assert_false(wsr__proxies_trusted(NULL, &a));
    assert_int_equal(wsr__proxies_count(NULL), 0);
}

static void test_proxies__list_parses_addresses_and_networks(void **state)
{
    tu_net_fixture_t *fx = *state;
    wsr_error_t err;

    static const char *const in[] = {"127.0.0.1", "10.255.1.2",     "::1",
                                     "fd12::5",   "172.31.255.255", "::ffff:10.0.0.1"};
    static const char *const out[] = {"127.0.0.2", "11.0.0.1",   "::2",
                                      "fe00::1",   "172.32.0.0", "192.0.2.1"};

    /* A bad entry anywhere refuses the whole list. */
    assert_int_equal(wsr__proxies_parse(" 127.0.0.1,10.0.0.0/8 ,, ::1,\tfd00::/8, 0.0.0.0/0x",
                                        &fx->proxies, &err),
                     WSR_EINVAL);
    assert_null(fx->proxies);
    assert_int_equal(
        wsr__proxies_parse(" 127.0.0.1,10.0.0.0/8 ,, ::1,\tfd00::/8,::ffff:172.16.0.0/108",
                           &fx->proxies, &err),
        0);
    assert_int_equal(wsr__proxies_count(fx->proxies), 5);
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        wsr__addr_t a = tu_addr(in[i]);

        assert_true(wsr__proxies_trusted(fx->proxies, &a));
    }
    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        wsr__addr_t a = tu_addr(out[i]);

        assert_false(wsr__proxies_trusted(fx->proxies, &a));
    }
}

static void test_proxies__bad_entries_are_named(void **state)
{
    tu_net_fixture_t *fx = *state;
    static const char *const cases[][2] = {
        {"127.0.0.1, proxy.example", "trusted_proxies: \"proxy.example\" is not an IP address or "
                                     "a CIDR network (such as 10.0.0.0/8 or fd00::/8)"},
        {"10.0.0.0/33", "trusted_proxies: \"10.0.0.0/33\": the prefix length of an IPv4 network "
                        "is from 0 to 32"},
        {"fd00::/129", "trusted_proxies: \"fd00::/129\": the prefix length of an IPv6 network is "
                       "from 0 to 128"},
        {"10.0.0.0/", "trusted_proxies: \"10.0.0.0/\": the prefix length of an IPv4 network is "
                      "from 0 to 32"},
        {"10.0.0.0/8/8", "trusted_proxies: \"10.0.0.0/8/8\": the prefix length of an IPv4 "
                         "network is from 0 to 32"},
        {"10.0.0.1/8", "trusted_proxies: \"10.0.0.1/8\" has bits set past its /8 prefix (did you "
                       "mean 10.0.0.0/8?)"},
        {"fd00::1/8", "trusted_proxies: \"fd00::1/8\" has bits set past its /8 prefix (did you "
                      "mean fd00::/8?)"},
        {"/8", "trusted_proxies: \"/8\" is not an IP address or a CIDR network (such as "
               "10.0.0.0/8 or fd00::/8)"},
        {"[::1]", "trusted_proxies: \"[::1]\" is not an IP address or a CIDR network (such as "
                  "10.0.0.0/8 or fd00::/8)"},
        {"::ffff:10.0.0.0/64", "trusted_proxies: \"::ffff:10.0.0.0/64\" is not an IP address or "
                               "a CIDR network (such as 10.0.0.0/8 or fd00::/8)"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wsr_error_t err;

        memset(&err, 0, sizeof(err));
        assert_int_equal(wsr__proxies_parse(cases[i][0], &fx->proxies, &err), WSR_EINVAL);
        assert_null(fx->proxies);
        assert_string_equal(err.text, cases[i][1]);
    }
}

static void test_proxies__parse_out_of_memory_leaves_nothing(void **state)
{
    tu_net_fixture_t *fx = *state;
    wsr_error_t err;
    int rc = WSR_ENOMEM;

    for (long n = 0; rc == WSR_ENOMEM; n++) {
        tu_fail_at(n, true);
        rc = wsr__proxies_parse("127.0.0.1, 10.0.0.0/8", &fx->proxies, &err);
        tu_fail_at(-1, false);
        if (rc == WSR_ENOMEM)
            assert_null(fx->proxies);
        assert_true(n < 10);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(wsr__proxies_count(fx->proxies), 2);
}

/* ---- the headers ---- */

static void test_proxies__xff_takes_the_rightmost_untrusted(void **state)
{
    tu_net_fixture_t *fx = *state;
    static const char *const cases[][2] = {
        {"203.0.113.9", "203.0.113.9"},
        {"203.0.113.9, 10.0.0.5", "203.0.113.9"},     /* a trusted hop is skipped */
        {"198.51.100.1, 203.0.113.9", "203.0.113.9"}, /* the client's own claim is not read */
        {"6.6.6.6,203.0.113.9 ,\t10.1.1.1,127.0.0.1", "203.0.113.9"},
        {"10.0.0.7, 10.0.0.5", "10.0.0.7"},      /* all trusted: the left-most */
        {"garbage, 203.0.113.9", "203.0.113.9"}, /* left of the client: never read */
        {"203.0.113.9:4711", "203.0.113.9"},
        {"[2001:db8::9]:4711, 10.0.0.1", "2001:db8::9"},
        {"2001:db8::9", "2001:db8::9"},
        {"::ffff:203.0.113.9", "203.0.113.9"},
        {",203.0.113.9,,", "203.0.113.9"}, /* empty elements are ignored */
    };
    char got[WSR__ADDR_TEXT_MAX];

    assert_int_equal(wsr__proxies_parse("10.0.0.0/8, 127.0.0.1", &fx->proxies, NULL), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(client_of(fx->proxies, cases[i][0], NULL, got), WSR__FORWARDED_OK);
        assert_string_equal(got, cases[i][1]);
    }
    assert_int_equal(client_of(fx->proxies, NULL, NULL, got), WSR__FORWARDED_NONE);
}

static void test_proxies__malformed_xff_is_not_believed(void **state)
{
    tu_net_fixture_t *fx = *state;
    static const char *const cases[] = {
        "garbage",
        "203.0.113.9, garbage", /* the right-most hop cannot be read */
        "203.0.113.9, unknown, 10.0.0.1",
        "203.0.113.9:99999",
        "203.0.113.9:",
        "[203.0.113.9]",
        "[2001:db8::9",
        "2001:db8::9]:80",
        "203.0.113.9 10.0.0.1",
        ",, ,",
        "",
    };
    char got[WSR__ADDR_TEXT_MAX];

    assert_int_equal(wsr__proxies_parse("10.0.0.0/8", &fx->proxies, NULL), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(client_of(fx->proxies, cases[i], NULL, got), WSR__FORWARDED_MALFORMED);
}

static void test_proxies__long_chains_keep_the_rightmost_hops(void **state)
{
    tu_net_fixture_t *fx = *state;
    char xff[4096];
    char got[WSR__ADDR_TEXT_MAX];
    size_t n;

    assert_int_equal(wsr__proxies_parse("10.0.0.0/8", &fx->proxies, NULL), 0);
    /* Many untrusted hops before the last: the right-most one counts. */
    n = (size_t)snprintf(xff, sizeof(xff), "203.0.113.9");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(xff + n, sizeof(xff) - n, ", 198.51.100.1");
    snprintf(xff + n, sizeof(xff) - n, ", 192.0.2.1, 10.0.0.1");
    assert_int_equal(client_of(fx->proxies, xff, NULL, got), WSR__FORWARDED_OK);
    assert_string_equal(got, "192.0.2.1");
    /* More trusted hops than are kept: no client can be told. */
    n = (size_t)snprintf(xff, sizeof(xff), "203.0.113.9");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(xff + n, sizeof(xff) - n, ", 10.0.0.1");
    assert_int_equal(client_of(fx->proxies, xff, NULL, got), WSR__FORWARDED_MALFORMED);
    /* 31 trusted hops and the client are all kept. */
    n = (size_t)snprintf(xff, sizeof(xff), "203.0.113.9");
    for (int i = 0; i < 31; i++)
        n += (size_t)snprintf(xff + n, sizeof(xff) - n, ", 10.0.0.1");
    assert_int_equal(client_of(fx->proxies, xff, NULL, got), WSR__FORWARDED_OK);
    assert_string_equal(got, "203.0.113.9");
}

static void test_proxies__forwarded_elements(void **state)
{
    tu_net_fixture_t *fx = *state;
    static const char *const cases[][2] = {
        {"for=203.0.113.9", "203.0.113.9"},
        {"For=203.0.113.9;proto=https;by=10.0.0.1", "203.0.113.9"},
        {"for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"},
        {"for=\"203.0.113.9:4711\"", "203.0.113.9"},
        {"for=198.51.100.1, for=203.0.113.9;proto=http, for=10.0.0.2", "203.0.113.9"},
        {"for=unknown, for=203.0.113.9", "203.0.113.9"},      /* left of the client */
        {"proto=https;for=\"20\\3.0.113.9\"", "203.0.113.9"}, /* quoted-pair */
        {"for=203.0.113.9 ; proto=https , for=10.0.0.2", "203.0.113.9"},
        {"for=203.0.113.9,,", "203.0.113.9"},
        {"for=\"x,y\", for=203.0.113.9", "203.0.113.9"}, /* a comma in quotes splits nothing */
    };
    char got[WSR__ADDR_TEXT_MAX];

    assert_int_equal(wsr__proxies_parse("10.0.0.0/8", &fx->proxies, NULL), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(client_of(fx->proxies, NULL, cases[i][0], got), WSR__FORWARDED_OK);
        assert_string_equal(got, cases[i][1]);
    }
}

static void test_proxies__malformed_forwarded_is_not_believed(void **state)
{
    tu_net_fixture_t *fx = *state;
    static const char *const cases[] = {
        "for=unknown",
        "for=_hidden, for=10.0.0.2",
        "proto=https",                                       /* the last element names no client */
        "for=203.0.113.9;for=198.51.100.1",                  /* two `for` in one element */
        "for=\"203.0.113.9",                                 /* unterminated */
        "for=198.51.100.1, for=\"203.0.113.9, for=10.0.0.2", /* the client's broken quote */
        "for",
        "=203.0.113.9",
        "for=203.0.113.9\"x\"",
        "for=\"203.0.113.9\"x",
        "for=",
        "for=\"\"",
        "for=\"[2001:db8::1]:80:80\"",
        "for=\"2001:db8::1234:1234:1234:1234:1234:1234:1234:1234:1234:1234:1234\"",
    };
    char got[WSR__ADDR_TEXT_MAX];

    assert_int_equal(wsr__proxies_parse("10.0.0.0/8", &fx->proxies, NULL), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(client_of(fx->proxies, NULL, cases[i], got), WSR__FORWARDED_MALFORMED);
}

static void test_proxies__both_headers_must_agree(void **state)
{
    tu_net_fixture_t *fx = *state;
    char got[WSR__ADDR_TEXT_MAX];

    assert_int_equal(wsr__proxies_parse("10.0.0.0/8", &fx->proxies, NULL), 0);
    /* A chain where each header was kept by its own proxies, naming one client. */
    assert_int_equal(client_of(fx->proxies, "203.0.113.9, 10.0.0.3", "for=203.0.113.9", got),
                     WSR__FORWARDED_OK);
    assert_string_equal(got, "203.0.113.9");
    /* A proxy that sets one header and passes the client's own other one. */
    assert_int_equal(client_of(fx->proxies, "203.0.113.9", "for=198.51.100.1", got),
                     WSR__FORWARDED_CONFLICT);
    /* Either header malformed: neither is believed. */
    assert_int_equal(client_of(fx->proxies, "203.0.113.9", "for=\"broken", got),
                     WSR__FORWARDED_MALFORMED);
    assert_int_equal(client_of(fx->proxies, "garbage", "for=203.0.113.9", got),
                     WSR__FORWARDED_MALFORMED);
    /* One header alone. */
    assert_int_equal(client_of(fx->proxies, NULL, "for=203.0.113.9", got), WSR__FORWARDED_OK);
    assert_int_equal(client_of(fx->proxies, "203.0.113.8", NULL, got), WSR__FORWARDED_OK);
    assert_string_equal(got, "203.0.113.8");
}

static void test_proxies__values_are_read_to_their_length_only(void **state)
{
    tu_net_fixture_t *fx = *state;
    const char xff[] = "203.0.113.9, 10.0.0.1GARBAGE";
    const char fwd[] = "for=203.0.113.9\"";
    wsr__addr_t a = {0};

    assert_int_equal(wsr__proxies_parse("10.0.0.0/8", &fx->proxies, NULL), 0);
    assert_int_equal(wsr__proxies_client(fx->proxies, xff, 21, NULL, 0, &a), WSR__FORWARDED_OK);
    assert_true(wsr__addr_equal(&a, &(wsr__addr_t){4, {203, 0, 113, 9}}));
    assert_int_equal(wsr__proxies_client(fx->proxies, NULL, 0, fwd, strlen(fwd) - 1, &a),
                     WSR__FORWARDED_OK);
}

#define T(name) cmocka_unit_test_setup_teardown(name, tu_net_setup, tu_net_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_proxies__addresses_parse_and_format),
        T(test_proxies__prefix_match),
        T(test_proxies__empty_lists_are_no_list),
        T(test_proxies__list_parses_addresses_and_networks),
        T(test_proxies__bad_entries_are_named),
        T(test_proxies__parse_out_of_memory_leaves_nothing),
        T(test_proxies__xff_takes_the_rightmost_untrusted),
        T(test_proxies__malformed_xff_is_not_believed),
        T(test_proxies__long_chains_keep_the_rightmost_hops),
        T(test_proxies__forwarded_elements),
        T(test_proxies__malformed_forwarded_is_not_believed),
        T(test_proxies__both_headers_must_agree),
        T(test_proxies__values_are_read_to_their_length_only),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("proxies", tests, NULL, NULL);
}
