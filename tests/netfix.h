/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the client-address tests (test_limits.c, test_proxies.c):
 * the connection limits and the trusted_proxies list a case makes, freed
 * after it with a check that no block it allocated is left, and addresses
 * read from text.
 */
#ifndef WSR_TESTS_NETFIX_H
#define WSR_TESTS_NETFIX_H

#include "testutil.h"

#include "server/addr_int.h"
#include "server/limits_int.h"
#include "server/proxies_int.h"

typedef struct tu_net_fixture {
    long live0;              /* live blocks before the case */
    wsr__limits_t *l;        /* owned: the case's, or NULL */
    wsr__proxies_t *proxies; /* owned: the case's, or NULL */
} tu_net_fixture_t;

/* cmocka setup: an empty fixture in *state. Returns 0, or -1. */
int tu_net_setup(void **state);

/* cmocka teardown: frees what the case left in the fixture; fails if any
 * block allocated since the setup is left. */
int tu_net_teardown(void **state);

/* The address `text` must be (asserts). */
wsr__addr_t tu_addr(const char *text);

#endif /* WSR_TESTS_NETFIX_H */
