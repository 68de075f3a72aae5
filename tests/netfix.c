/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the client-address tests (see netfix.h).
 */
#include "netfix.h"

#include <stdlib.h>
#include <string.h>

int tu_net_setup(void **state)
{
    tu_net_fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->live0 = tu_live_blocks();
    *state = fx;
    return 0;
}

int tu_net_teardown(void **state)
{
    tu_net_fixture_t *fx = *state;
    long live0 = fx->live0;

    wsr__limits_free(fx->l);
    wsr__proxies_free(fx->proxies);
    free(fx);
    assert_int_equal(tu_live_blocks(), live0);
    return 0;
}

wsr__addr_t tu_addr(const char *text)
{
    wsr__addr_t a;

    assert_true(wsr__addr_parse(text, strlen(text), &a));
    return a;
}
