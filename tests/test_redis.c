/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/services/redis.c, the Redis connection, against a real
 * redis-server each test starts (redisfix.h): commands and their replies,
 * AUTH (a password required, a wrong one), SELECT, Redis stopped (WSR_ECONNECT
 * at once, the state down and told) and restarted (up again by itself, on the
 * same connection object), nobody listening, and threads sharing it.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "redisfix.h"
#include "services/redis_int.h"

typedef struct seen {
    atomic_int ups;
    atomic_int downs;
} seen_t;

static void on_state(void *ctx, bool up, const char *why)
{
    seen_t *s = ctx;

    assert_true(up ? why[0] == '\0' : why[0] != '\0');
    atomic_fetch_add(up ? &s->ups : &s->downs, 1);
}

static wsr__redis_t *open_on(const tu_redis_t *srv, int db, seen_t *seen)
{
    wsr__redis_url_t url;
    wsr__redis_options_t opt = {
        .connect_ms = 500, .command_ms = 2000, .on_state = on_state, .ctx = seen};
    wsr_error_t err;
    wsr__redis_t *r;

    tu_redis_url(srv, db, &url);
    r = wsr__redis_new(&url, &opt, &err);
    assert_non_null(r);
    return r;
}

/* One command of C strings; returns its reply (owned) or NULL with *rc. */
static redisReply *cmd(wsr__redis_t *r, int *rc, int argc, const char **argv)
{
    redisReply *rep;

    *rc = wsr__redis_command(r, argc, argv, NULL, &rep);
    if (*rc != 0)
        assert_null(rep);
    return rep;
}

static void expect_ok(wsr__redis_t *r, int argc, const char **argv, int type, const char *str,
                      long long integer)
{
    int rc;
    redisReply *rep = cmd(r, &rc, argc, argv);

    assert_int_equal(rc, 0);
    assert_int_equal(rep->type, type);
    if (str != NULL)
        assert_string_equal(rep->str, str);
    if (type == REDIS_REPLY_INTEGER)
        assert_int_equal(rep->integer, integer);
    freeReplyObject(rep);
}

static void test_commands_and_replies(void **state)
{
    tu_redis_t srv;
    seen_t seen = {0};
    wsr__redis_t *r;
    char why[256];

    (void)state;
    tu_redis_start(&srv, NULL);
    r = open_on(&srv, 0, &seen);
    assert_true(wsr__redis_up(r));
    wsr__redis_why(r, why, sizeof(why));
    assert_string_equal(why, "");
    assert_int_equal(atomic_load(&seen.ups), 1);
    expect_ok(r, 1, (const char *[]){"PING"}, REDIS_REPLY_STATUS, "PONG", 0);
    expect_ok(r, 3, (const char *[]){"SET", "k", "v 1"}, REDIS_REPLY_STATUS, "OK", 0);
    expect_ok(r, 2, (const char *[]){"GET", "k"}, REDIS_REPLY_STRING, "v 1", 0);
    expect_ok(r, 3, (const char *[]){"INCRBY", "n", "-7"}, REDIS_REPLY_INTEGER, NULL, -7);
    /* An error reply is a reply: the connection stays up. */
    expect_ok(r, 3, (const char *[]){"INCRBY", "k", "1"}, REDIS_REPLY_ERROR,
              "ERR value is not an integer or out of range", 0);
    assert_true(wsr__redis_up(r));
    wsr__redis_free(r);
    tu_redis_remove(&srv);
}

static void test_auth_and_select(void **state)
{
    tu_redis_t srv;
    seen_t seen = {0};
    wsr__redis_t *r;
    wsr__redis_url_t url;
    wsr_error_t err;
    redisReply *rep;
    char why[256];
    int rc;

    (void)state;
    tu_redis_start(&srv, "s3cret-pass");
    r = open_on(&srv, 5, &seen);
    assert_true(wsr__redis_up(r));
    expect_ok(r, 3, (const char *[]){"SET", "where", "five"}, REDIS_REPLY_STATUS, "OK", 0);
    wsr__redis_free(r);
    rep = tu_redis_cmd(&srv, 5, "GET where");
    assert_string_equal(rep->str, "five");
    freeReplyObject(rep);
    rep = tu_redis_cmd(&srv, 0, "EXISTS where");
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);

    /* A wrong password: down, saying why (and never the password). */
    tu_redis_url(&srv, 0, &url);
    snprintf(url.password, sizeof(url.password), "wrong-pass");
    r = wsr__redis_new(&url, &(wsr__redis_options_t){.on_state = on_state, .ctx = &seen}, &err);
    assert_non_null(r);
    assert_false(wsr__redis_up(r));
    wsr__redis_why(r, why, sizeof(why));
    assert_non_null(strstr(why, "AUTH refused"));
    assert_null(strstr(why, "wrong-pass"));
    assert_null(cmd(r, &rc, 1, (const char *[]){"PING"}));
    assert_int_equal(rc, WSR_ECONNECT);
    wsr__redis_free(r);
    tu_redis_remove(&srv);
}

static void test_nobody_listening(void **state)
{
    tu_redis_t srv;
    wsr__redis_t *r;
    seen_t seen = {0};
    char why[256];
    int rc;

    (void)state;
    tu_redis_start(&srv, NULL);
    tu_redis_stop(&srv); /* its port is free now */
    r = open_on(&srv, 0, &seen);
    assert_false(wsr__redis_up(r));
    wsr__redis_why(r, why, sizeof(why));
    assert_non_null(strstr(why, "cannot connect to 127.0.0.1"));
    for (int i = 0; i < 3; i++) {
        assert_null(cmd(r, &rc, 1, (const char *[]){"PING"}));
        assert_int_equal(rc, WSR_ECONNECT);
    }
    assert_int_equal(atomic_load(&seen.ups), 0);
    wsr__redis_free(r);
    tu_redis_remove(&srv);
}

/* Redis stopped under the connection, then started again: down at once,
 * up again by itself (the retry thread), without a new connection object. */
static void test_down_and_back(void **state)
{
    tu_redis_t srv;
    seen_t seen = {0};
    wsr__redis_t *r;
    redisReply *rep = NULL;
    int rc = 0, i;

    (void)state;
    tu_redis_start(&srv, NULL);
    r = open_on(&srv, 0, &seen);
    expect_ok(r, 3, (const char *[]){"SET", "kept", "1"}, REDIS_REPLY_STATUS, "OK", 0);
    tu_redis_stop(&srv);
    assert_null(cmd(r, &rc, 1, (const char *[]){"PING"}));
    assert_int_equal(rc, WSR_ECONNECT);
    assert_false(wsr__redis_up(r));
    assert_int_equal(atomic_load(&seen.downs), 1);
    tu_redis_restart(&srv);
    /* The backoff is at most 5 s: within 20 s it is back. */
    for (i = 0; i < 200 && !wsr__redis_up(r); i++)
        nanosleep(&(struct timespec){.tv_nsec = 100000000L}, NULL);
    assert_true(wsr__redis_up(r));
    assert_int_equal(atomic_load(&seen.ups), 2);
    rep = cmd(r, &rc, 2, (const char *[]){"GET", "kept"});
    assert_int_equal(rc, 0);
    assert_string_equal(rep->str, "1"); /* appendonly: the data came back too */
    freeReplyObject(rep);
    wsr__redis_free(r);
    tu_redis_remove(&srv);
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A "Redis" that accepts and never answers (hung, or not Redis at all): the
 * connection's AUTH waits its whole command timeout. That wait is the
 * watching thread's, made with the lock released: commands meanwhile answer
 * WSR_ECONNECT at once. (They waited a whole timeout each, under the lock
 * every other thread needs, when a command reconnected itself.) */
static void test_a_hung_redis_holds_up_no_command(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc;
    wsr__redis_url_t url = {.port = 0};
    wsr__redis_options_t opt = {.connect_ms = 500, .command_ms = 3000};
    wsr_error_t err;
    wsr__redis_t *r;
    double t0, took;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(url.host, sizeof(url.host), "127.0.0.1");
    url.port = ntohs(sa.sin_port);
    snprintf(url.password, sizeof(url.password), "never-answered");
    r = wsr__redis_new(&url, &opt, &err); /* its first AUTH times out: 3 s */
    assert_non_null(r);
    assert_false(wsr__redis_up(r));
    t0 = mono_s();
    /* 2 s of commands: the watcher dials again within them (the backoff
     * is 100 ms) and waits its 3 s on AUTH meanwhile. */
    for (int i = 0; i < 20; i++) {
        assert_null(cmd(r, &rc, 1, (const char *[]){"PING"}));
        assert_int_equal(rc, WSR_ECONNECT);
        nanosleep(&(struct timespec){.tv_nsec = 100000000L}, NULL);
    }
    took = mono_s() - t0;
    /* 20 naps of 100 ms: 2 s; one command waiting for a dial adds 3 s. */
    assert_true(took < 4.5);
    wsr__redis_free(r); /* waits for the watcher's dial to end: <= 3 s */
    close(fd);
}

#define THREADS 4
#define EACH    250

static void *incr_many(void *arg)
{
    wsr__redis_t *r = arg;

    for (int i = 0; i < EACH; i++) {
        redisReply *rep;

        if (wsr__redis_command(r, 2, (const char *[]){"INCR", "shared"}, NULL, &rep) != 0)
            return (void *)1;
        freeReplyObject(rep);
    }
    return NULL;
}

static void test_threads_share_it(void **state)
{
    tu_redis_t srv;
    seen_t seen = {0};
    wsr__redis_t *r;
    pthread_t t[THREADS];
    void *res;

    (void)state;
    tu_redis_start(&srv, NULL);
    r = open_on(&srv, 0, &seen);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, incr_many, r), 0);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], &res), 0);
        assert_null(res);
    }
    expect_ok(r, 2, (const char *[]){"GET", "shared"}, REDIS_REPLY_STRING, "1000", 0);
    wsr__redis_free(r);
    tu_redis_remove(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_and_replies),
        cmocka_unit_test(test_auth_and_select),
        cmocka_unit_test(test_nobody_listening),
        cmocka_unit_test(test_down_and_back),
        cmocka_unit_test(test_threads_share_it),
        cmocka_unit_test(test_a_hung_redis_holds_up_no_command),
    };

    tu_install_allocator();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
