/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/access.c: an access line is prepared only while the
 * access log is on (access_log, level info), and a request prepared while it
 * was off is not logged when the log is turned on before its answer.
 */
#include "testutil.h"

#include <string.h>

#include "wsrouter/wsrouter.h"
#include "core/request_int.h"
#include "server/access_int.h"
#include "server/loop_int.h"
#include "services/factory_int.h"

typedef struct fixture {
    wsr_factory_t *f;
    wsr__loop_t loop;
    int lines;
    char last[512];
} fixture_t;

static void capture(void *user, int level, const char *line)
{
    fixture_t *fx = user;

    (void)level;
    if (strstr(line, "access conn#") == NULL)
        return;
    fx->lines++;
    snprintf(fx->last, sizeof(fx->last), "%s", line);
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    wsr_server_config_t cfg;

    if (fx == NULL)
        return -1;
    wsr_server_config_init(&cfg);
    cfg.store = NULL;
    cfg.log = capture;
    cfg.log_user = fx;
    cfg.log_level = WSR_LOG_INFO;
    fx->f = wsr__factory_new(&cfg, NULL);
    if (fx->f == NULL)
        return -1;
    fx->loop.factory = fx->f;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;

    wsr__factory_free(fx->f);
    free(fx);
    return 0;
}

/* A request as the protocol fills one: `cmd add` from 127.0.0.1. */
static void request(fixture_t *fx, wsr_request_t *req)
{
    memset(req, 0, sizeof(*req));
    req->factory = fx->f;
    req->cmd = "add";
    req->conn_id = 0x1a;
    req->bytes_in = 48;
    snprintf(req->peer, sizeof(req->peer), "127.0.0.1:5000");
}

static void test_access__logged_while_on(void **state)
{
    fixture_t *fx = *state;
    wsr_request_t req;
    wsr__access_t a;

    request(fx, &req);
    wsr__access_init(&a, &req);
    wsr__access_log(&fx->loop, NULL, &a, 200, 312000, 41);
    assert_int_equal(fx->lines, 1);
    assert_non_null(
        strstr(fx->last, "access conn#1a 127.0.0.1 - \"cmd add\" 200 312us in=48 out=41"));
}

static void test_access__prepared_while_off_is_never_logged(void **state)
{
    fixture_t *fx = *state;
    wsr_request_t req;
    wsr__access_t a;

    request(fx, &req);
    /* Below info: nothing is prepared... */
    atomic_store(&fx->f->log_level, WSR_LOG_NOTICE);
    wsr__access_init(&a, &req);
    assert_int_equal(a.what[0], '\0');
    /* ...and the log turned on before the answer logs nothing of it. */
    atomic_store(&fx->f->log_level, WSR_LOG_INFO);
    wsr__access_log(&fx->loop, NULL, &a, 200, 1000, 41);
    assert_int_equal(fx->lines, 0);
    /* The same with access_log off at the start. */
    atomic_store(&fx->f->access_log, false);
    wsr__access_init(&a, &req);
    atomic_store(&fx->f->access_log, true);
    wsr__access_log(&fx->loop, NULL, &a, 200, 1000, 41);
    assert_int_equal(fx->lines, 0);
    /* Prepared while on, answered after it went off: not logged either. */
    wsr__access_init(&a, &req);
    atomic_store(&fx->f->access_log, false);
    wsr__access_log(&fx->loop, NULL, &a, 200, 1000, 41);
    assert_int_equal(fx->lines, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_access__logged_while_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access__prepared_while_off_is_never_logged, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
