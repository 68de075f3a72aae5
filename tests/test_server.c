/* SPDX-License-Identifier: MIT */
/*
 * Tests for what src/server.c and src/util.c decide before any socket opens:
 * configurations wsr_server_new refuses (with the sentence it gives), and the
 * stack every thread the library starts gets, whatever the process default;
 * what wsr_server_reconfigure refuses (naming the key) before changing
 * anything, and ops_host without ops_port.
 * (The running server is tested by tests/js against the real wsrouterd.)
 */
#define _GNU_SOURCE /* pthread_getattr_np, pthread_setattr_default_np */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "wsrouter/wsrouter.h"
#include "core/internal.h"
#include "core/json_int.h"

/* wsr_server_new with one change to the defaults; returns its error code. */
static int new_with_depth(unsigned max_depth, wsr_error_t *err)
{
    wsr_server_config_t cfg;
    wsr_server_t *srv;

    wsr_server_config_init(&cfg);
    cfg.port = 0;
    cfg.store = NULL;
    cfg.max_depth = max_depth;
    srv = wsr_server_new(&cfg, err);
    wsr_server_free(srv);
    return srv ? 0 : err->code;
}

static void test_server__max_depth_is_bounded(void **state)
{
    wsr_error_t err;

    (void)state;
    /* The parser recurses per level: an embedder cannot ask for a depth
     * whose value would run a thread out of stack. */
    assert_int_equal(new_with_depth(0, &err), WSR_EINVAL);
    assert_string_equal(err.text, "max_depth must be from 1 to 2048");
    assert_int_equal(new_with_depth(WSR__JSON_MAX_DEPTH + 1, &err), WSR_EINVAL);
    assert_int_equal(new_with_depth(UINT32_MAX, &err), WSR_EINVAL);
    assert_int_equal(new_with_depth(1, &err), 0);
    assert_int_equal(new_with_depth(WSR__JSON_MAX_DEPTH, &err), 0);
}

static void *report_stack(void *arg)
{
    pthread_attr_t attr;
    size_t *size = arg;

    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        (void)pthread_attr_getstacksize(&attr, size);
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

static void test_server__reconfigure_validates_before_it_changes(void **state)
{
    wsr_server_config_t cfg, next;
    wsr_server_t *srv;
    wsr_error_t err;

    (void)state;
    wsr_server_config_init(&cfg);
    cfg.port = 0;
    srv = wsr_server_new(&cfg, &err);
    assert_non_null(srv);
    next = cfg;
    next.origins = "https://a.example, not an origin";
    assert_int_equal(wsr_server_reconfigure(srv, &next, &err), WSR_EINVAL);
    assert_string_equal(err.key, "origins");
    assert_non_null(strstr(err.text, "not an origin"));
    next = cfg;
    next.trusted_proxies = "10.0.0.0/99";
    assert_int_equal(wsr_server_reconfigure(srv, &next, &err), WSR_EINVAL);
    assert_string_equal(err.key, "trusted_proxies");
    next = cfg;
    next.rate_limit_user = -1;
    assert_int_equal(wsr_server_reconfigure(srv, &next, &err), WSR_EINVAL);
    assert_non_null(strstr(err.text, "rate_limit_user"));
    /* Good values, twice (the second replaces the first, both freed at the end). */
    next = cfg;
    next.origins = "https://a.example";
    next.trusted_proxies = "127.0.0.1";
    next.max_connections_per_ip = 3;
    next.rate_limit_address = 10;
    assert_int_equal(wsr_server_reconfigure(srv, &next, &err), 0);
    next.origins = NULL;
    assert_int_equal(wsr_server_reconfigure(srv, &next, &err), 0);
    /* An uninitialised struct is refused. */
    next.size = 3;
    assert_int_equal(wsr_server_reconfigure(srv, &next, &err), WSR_EINVAL);
    wsr_server_free(srv);
}

static void test_server__ops_host_needs_ops_port(void **state)
{
    wsr_server_config_t cfg;
    wsr_error_t err;

    (void)state;
    wsr_server_config_init(&cfg);
    cfg.port = 0;
    assert_int_equal(cfg.ops_port, -1);
    cfg.ops_host = "127.0.0.1";
    assert_null(wsr_server_new(&cfg, &err));
    assert_string_equal(err.text, "ops_host needs ops_port: the port of the ops listener");
    cfg.ops_port = 70000;
    assert_null(wsr_server_new(&cfg, &err));
    assert_string_equal(err.text, "ops_port 70000 is not between -1 (none) and 65535");
}

static void test_server__threads_get_a_large_enough_stack(void **state)
{
    pthread_attr_t attr;
    pthread_t t;
    size_t size = 0;

    (void)state;
    /* Lower the process default, as `ulimit -s unlimited` (2 MiB) or musl
     * (128 KiB) would: the library's threads must not follow it down. */
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
    assert_int_equal(pthread_setattr_default_np(&attr), 0);
    pthread_attr_destroy(&attr);
    assert_int_equal(wsr__thread_start(&t, report_stack, &size), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(size >= WSR__THREAD_STACK);
    /* And a deeper default is kept as it is. */
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 2 * WSR__THREAD_STACK), 0);
    assert_int_equal(pthread_setattr_default_np(&attr), 0);
    pthread_attr_destroy(&attr);
    assert_int_equal(wsr__thread_start(&t, report_stack, &size), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(size >= 2 * WSR__THREAD_STACK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server__max_depth_is_bounded),
        cmocka_unit_test(test_server__threads_get_a_large_enough_stack),
        cmocka_unit_test(test_server__reconfigure_validates_before_it_changes),
        cmocka_unit_test(test_server__ops_host_needs_ops_port),
    };

    tu_install_allocator();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
