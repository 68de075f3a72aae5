/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/services/store_redis.c, the store on Redis, against a real
 * redis-server each test starts (redisfix.h): the key-value operations with
 * the SQLite store's results (JSON values, atomic increments, overflow, not
 * an integer, lists by prefix in key order with a bound), users, the token
 * secret made once for every node (SET NX), revocations and their expiry,
 * two stores (two nodes) on one Redis, values Redis holds that are not
 * JSON, and Redis stopped (WSR_ECONNECT, unavailable) and back.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "redisfix.h"
#include "services/auth_int.h"
#include "services/store_int.h"
#include "wsrouter/auth.h"

typedef struct fixture {
    tu_redis_t srv;
    wsr_store_t *s;
} fixture_t;

static wsr_store_t *open_store(const tu_redis_t *srv)
{
    wsr__redis_url_t url;
    wsr_error_t err;
    wsr_store_t *s;

    tu_redis_url(srv, 0, &url);
    s = wsr__store_redis_open(&url, NULL, NULL, &err);
    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    tu_redis_start(&f->srv, NULL);
    f->s = open_store(&f->srv);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    wsr_store_close(f->s);
    tu_redis_remove(&f->srv);
    free(f);
    return 0;
}

static void put_text(wsr_store_t *s, const char *key, const char *json)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);

    assert_non_null(v);
    assert_int_equal(wsr_store_put(s, key, v), 0);
    json_decref(v);
}

static void expect_stored(wsr_store_t *s, const char *key, const char *json)
{
    json_t *v;
    char *text;

    assert_int_equal(wsr_store_get(s, key, &v), 0);
    text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, json);
    wsr__free(text);
    json_decref(v);
}

static void test_get_put_delete(void **state)
{
    fixture_t *f = *state;
    json_t *v = (json_t *)1;

    assert_int_equal(wsr_store_get(f->s, "absent", &v), WSR_ENOENT);
    assert_null(v);
    put_text(f->s, "obj", "{\"a\":[1,2.5,\"x\"],\"b\":null}");
    put_text(f->s, "str", "\"h\\u00e9llo\"");
    put_text(f->s, "int", "42");
    put_text(f->s, "null", "null");
    put_text(f->s, "key with * and [glob]", "true");
    expect_stored(f->s, "obj", "{\"a\":[1,2.5,\"x\"],\"b\":null}");
    expect_stored(f->s, "str", "\"h\xc3\xa9llo\"");
    expect_stored(f->s, "int", "42");
    expect_stored(f->s, "null", "null");
    expect_stored(f->s, "key with * and [glob]", "true");
    put_text(f->s, "int", "[43]"); /* replaced */
    expect_stored(f->s, "int", "[43]");
    assert_int_equal(wsr_store_delete(f->s, "int"), 0);
    assert_int_equal(wsr_store_delete(f->s, "int"), WSR_ENOENT);
    assert_int_equal(wsr_store_get(f->s, "int", &v), WSR_ENOENT);
    /* Only when absent (the token secret). */
    v = json_string("first");
    assert_int_equal(wsr__store_put_new(f->s, "once", v), 0);
    json_decref(v);
    v = json_string("second");
    assert_int_equal(wsr__store_put_new(f->s, "once", v), WSR_EEXIST);
    json_decref(v);
    expect_stored(f->s, "once", "\"first\"");
    /* No SQLite handle behind a Redis store. */
    assert_null(wsr_store_lock(f->s));
    wsr_store_unlock(f->s);
    assert_true(wsr__store_available(f->s));
}

static void test_increment(void **state)
{
    fixture_t *f = *state;
    int64_t v = 0;

    assert_int_equal(wsr_store_increment(f->s, "n", 5, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(wsr_store_increment(f->s, "n", -8, &v), 0);
    assert_int_equal(v, -3);
    expect_stored(f->s, "n", "-3"); /* JSON again when read */
    put_text(f->s, "max", "9223372036854775807");
    v = 7;
    assert_int_equal(wsr_store_increment(f->s, "max", 1, &v), WSR_EOVERFLOW);
    assert_int_equal(v, 7); /* untouched on an error */
    expect_stored(f->s, "max", "9223372036854775807");
    put_text(f->s, "s", "\"5\"");
    assert_int_equal(wsr_store_increment(f->s, "s", 1, &v), WSR_EINVAL);
    put_text(f->s, "real", "5.5");
    assert_int_equal(wsr_store_increment(f->s, "real", 1, &v), WSR_EINVAL);
    expect_stored(f->s, "real", "5.5");
}

static void expect_list(wsr_store_t *s, const char *prefix, size_t limit, const char *json)
{
    json_t *out;
    char *text;

    assert_int_equal(wsr_store_list(s, prefix, limit, &out), 0);
    /* Key order is the object's insertion order: not sorted here. */
    text = json_dumps(out, JSON_COMPACT);
    assert_string_equal(text, json);
    wsr__free(text);
    json_decref(out);
}

static void test_list(void **state)
{
    fixture_t *f = *state;
    json_t *out;
    int64_t v;

    put_text(f->s, "c:b", "2");
    put_text(f->s, "c:a", "1");
    put_text(f->s, "c;x", "0"); /* ';' follows ':': past the prefix */
    put_text(f->s, "c", "9");
    put_text(f->s, "d:a", "[]");
    put_text(f->s, "c:\xc3\xa9", "3");
    assert_int_equal(wsr_store_increment(f->s, "c:c", 7, &v), 0);
    expect_list(f->s, "c:", 0, "{\"c:a\":1,\"c:b\":2,\"c:c\":7,\"c:\xc3\xa9\":3}");
    expect_list(f->s, "c:", 2, "{\"c:a\":1,\"c:b\":2}");
    expect_list(f->s, "c:\xc3", 0, "{\"c:\xc3\xa9\":3}");
    expect_list(f->s, "zz", 0, "{}");
    expect_list(f->s, "", 3, "{\"c\":9,\"c:a\":1,\"c:b\":2}");
    assert_int_equal(wsr_store_delete(f->s, "c:b"), 0);
    expect_list(f->s, "c:", 2, "{\"c:a\":1,\"c:c\":7}");
    /* A key that is not UTF-8 (put by C code) fails the list, as in SQLite. */
    put_text(f->s, "c:\xff", "4");
    assert_int_equal(wsr_store_list(f->s, "c:", 0, &out), WSR_EIO);
    assert_null(out);
    expect_list(f->s, "c:a", 0, "{\"c:a\":1}");
}

/* What Redis holds that is not JSON (written by hand): an I/O error of the
 * store, never a memory error nor a partial list. */
static void test_not_json(void **state)
{
    fixture_t *f = *state;
    json_t *v = NULL;
    redisReply *rep;

    put_text(f->s, "p:ok", "1");
    put_text(f->s, "p:bad", "2");
    rep = tu_redis_cmd(&f->srv, 0, "SET wsr:kv:p:bad %s", "{not json");
    freeReplyObject(rep);
    assert_int_equal(wsr_store_get(f->s, "p:bad", &v), WSR_EIO);
    assert_null(v);
    assert_int_equal(wsr_store_list(f->s, "p:", 0, &v), WSR_EIO);
    assert_null(v);
    rep = tu_redis_cmd(&f->srv, 0, "HSET wsr:users eve %s", "[");
    freeReplyObject(rep);
    assert_int_equal(wsr__store_user_find(f->s, "eve", &v), WSR_EIO);
    assert_int_equal(wsr_user_list(f->s, &v), WSR_EIO);
    assert_null(v);
}

static void test_users(void **state)
{
    fixture_t *f = *state;
    json_t *row, *list;
    char *text;

    assert_int_equal(wsr_user_add(f->s, "zed", "", "zed-password"), 0);
    assert_int_equal(wsr_user_add(f->s, "amy", "admin,ops", "amy-password"), 0);
    assert_int_equal(wsr_user_add(f->s, "amy", "", "other-password"), WSR_EEXIST);
    assert_int_equal(wsr__store_user_find(f->s, "amy", &row), 0);
    assert_string_equal(json_string_value(json_array_get(row, 0)), "admin,ops");
    assert_true(strncmp(json_string_value(json_array_get(row, 1)), "$pbkdf2", 7) == 0 ||
                strlen(json_string_value(json_array_get(row, 1))) > 20);
    json_decref(row);
    assert_int_equal(wsr__store_user_find(f->s, "nobody", &row), 0);
    assert_null(row);
    assert_int_equal(wsr_user_list(f->s, &list), 0);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")), "amy");
    text = json_dumps(json_object_get(json_array_get(list, 0), "roles"), JSON_COMPACT);
    assert_string_equal(text, "[\"admin\",\"ops\"]");
    wsr__free(text);
    assert_true(json_integer_value(json_object_get(json_array_get(list, 1), "created")) >
                1700000000);
    json_decref(list);
    assert_int_equal(wsr_user_remove(f->s, "zed"), 0);
    assert_int_equal(wsr_user_remove(f->s, "zed"), WSR_ENOENT);
    assert_int_equal(wsr__store_user_find(f->s, "zed", &row), 0);
    assert_null(row);
}

static void test_revocations(void **state)
{
    fixture_t *f = *state;
    int64_t now = (int64_t)time(NULL);
    json_t *set;
    char *text, want[96];
    redisReply *rep;

    assert_int_equal(wsr__store_revoke(f->s, "jti-live", now + 100, 0), 0);
    assert_int_equal(wsr__store_revoke(f->s, "jti-gone", now - 1, 0), 0);
    assert_int_equal(wsr__store_revoke(f->s, "user:bo", now + 200, now - 5), 0);
    assert_int_equal(wsr__store_revoked(f->s, now, &set), 0);
    text = json_dumps(set, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(want, sizeof(want), "{\"jti-live\":%lld,\"user:bo\":%lld}", (long long)(now + 100),
             (long long)(now - 5));
    assert_string_equal(text, want);
    wsr__free(text);
    json_decref(set);
    /* A later revocation of the same id replaces it. */
    assert_int_equal(wsr__store_revoke(f->s, "jti-live", now + 300, 0), 0);
    assert_int_equal(wsr__store_revoked(f->s, now, &set), 0);
    assert_int_equal(json_integer_value(json_object_get(set, "jti-live")), now + 300);
    json_decref(set);
    /* Pruning drops the expired ones, and a removed user's time with them. */
    assert_int_equal(wsr__store_prune(f->s, now + 250), 0);
    rep = tu_redis_cmd(&f->srv, 0, "ZCARD wsr:revoked");
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    rep = tu_redis_cmd(&f->srv, 0, "HLEN wsr:revoked:since");
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);
}

typedef struct incr_arg {
    wsr_store_t *s;
    int failures;
} incr_arg_t;

static void *incr_many(void *arg)
{
    incr_arg_t *a = arg;
    int64_t v;

    for (int i = 0; i < 200; i++)
        if (wsr_store_increment(a->s, "counters:both", 1, &v) != 0)
            a->failures++;
    return NULL;
}

/* Two stores on one Redis are two nodes: their increments add up, and the
 * token secret one made is the other's (a token of one verifies on both). */
static void test_two_nodes(void **state)
{
    fixture_t *f = *state;
    wsr_store_t *other = open_store(&f->srv);
    incr_arg_t a = {.s = f->s}, b = {.s = other};
    pthread_t ta, tb;
    wsr__auth_t *auth_a, *auth_b;
    wsr__session_t *session, *checked;
    wsr_error_t err;
    char *token, detail[128];

    assert_int_equal(pthread_create(&ta, NULL, incr_many, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, incr_many, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.failures + b.failures, 0);
    expect_stored(other, "counters:both", "400");

    auth_a = wsr__auth_new(f->s, NULL, 3600, &err);
    assert_non_null(auth_a);
    auth_b = wsr__auth_new(other, NULL, 3600, &err);
    assert_non_null(auth_b);
    assert_int_equal(wsr__auth_issue(auth_a, "amy", "", &token, &session), 0);
    assert_int_equal(
        wsr__auth_verify(auth_b, token, strlen(token), &checked, detail, sizeof(detail)), 0);
    wsr__session_unref(checked);
    /* Revoked on A: refused on B once B has read it (its poll, about 1 s). */
    assert_int_equal(wsr__auth_revoke(auth_a, session), 0);
    for (int i = 0; i < 100; i++) {
        if (wsr__auth_verify(auth_b, token, strlen(token), &checked, detail, sizeof(detail)) != 0)
            break;
        wsr__session_unref(checked);
        nanosleep(&(struct timespec){.tv_nsec = 100000000L}, NULL);
    }
    assert_string_equal(detail, "token was revoked");
    wsr__session_unref(session);
    wsr__free(token);
    wsr__auth_free(auth_a);
    wsr__auth_free(auth_b);
    wsr_store_close(other);
}

/* Redis stopped: every operation WSR_ECONNECT, the store unavailable; the
 * same store serves again once Redis is back. */
static void test_redis_down(void **state)
{
    fixture_t *f = *state;
    json_t *v = json_integer(1), *out;
    int64_t n;
    int rc = 0;

    assert_int_equal(wsr_store_put(f->s, "k", v), 0);
    tu_redis_stop(&f->srv);
    assert_int_equal(wsr_store_get(f->s, "k", &out), WSR_ECONNECT);
    assert_null(out);
    assert_false(wsr__store_available(f->s));
    assert_int_equal(wsr_store_put(f->s, "k", v), WSR_ECONNECT);
    assert_int_equal(wsr_store_increment(f->s, "k", 1, &n), WSR_ECONNECT);
    assert_int_equal(wsr_store_delete(f->s, "k"), WSR_ECONNECT);
    assert_int_equal(wsr_store_list(f->s, "", 0, &out), WSR_ECONNECT);
    assert_int_equal(wsr_user_add(f->s, "amy", "", "amy-password"), WSR_ECONNECT);
    assert_int_equal(wsr_user_list(f->s, &out), WSR_ECONNECT);
    assert_int_equal(wsr__store_revoked(f->s, 0, &out), WSR_ECONNECT);
    tu_redis_restart(&f->srv);
    for (int i = 0; i < 200; i++) {
        rc = wsr_store_increment(f->s, "k", 1, &n);
        if (rc == 0)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 100000000L}, NULL);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2); /* appendfsync always: the put survived the restart */
    assert_true(wsr__store_available(f->s));
    json_decref(v);
}

/* Runs `op` with allocation n failing, for n = 0, 1, ... until it succeeds:
 * each time it returns WSR_ENOMEM with nothing left allocated, or succeeds
 * with the answer `want` (compact JSON, sorted keys). */
static void sweep(wsr_store_t *s, int (*op)(wsr_store_t *s, json_t **out), const char *want)
{
    long n, live = tu_live_blocks();

    for (n = 0;; n++) {
        json_t *got = json_true();
        char *text;
        int rc;

        tu_fail_at(n, false);
        rc = op(s, &got);
        tu_fail_at(-1, false);
        if (rc != 0) {
            if (rc != WSR_ENOMEM || got != NULL)
                fail_msg("allocation %ld failed: returned %d with %p", n, rc, (void *)got);
            assert_int_equal(tu_live_blocks(), live);
            continue;
        }
        text = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
        assert_non_null(text);
        assert_string_equal(text, want);
        wsr__free(text);
        json_decref(got);
        assert_int_equal(tu_live_blocks(), live);
        break;
    }
    assert_true(n >= 2);
}

static int op_list(wsr_store_t *s, json_t **out)
{
    return wsr_store_list(s, "c:", 0, out);
}

static int op_get(wsr_store_t *s, json_t **out)
{
    return wsr_store_get(s, "c:a", out);
}

static int op_users(wsr_store_t *s, json_t **out)
{
    return wsr__store_user_list(s, out);
}

static int op_find(wsr_store_t *s, json_t **out)
{
    int rc = wsr__store_user_find(s, "amy", out);

    if (rc == 0) { /* the hash differs each time: its roles stand for it */
        json_t *roles = json_incref(json_array_get(*out, 0));

        json_decref(*out);
        *out = roles;
    }
    return rc;
}

static int op_revoked(wsr_store_t *s, json_t **out)
{
    return wsr__store_revoked(s, 1000, out);
}

/* Memory running out at any allocation: a whole answer or WSR_ENOMEM,
 * never a partial one, nothing leaked. */
static void test_out_of_memory(void **state)
{
    fixture_t *f = *state;
    redisReply *rep;

    put_text(f->s, "c:a", "{\"x\":[1,2]}");
    put_text(f->s, "c:b", "\"two\"");
    assert_int_equal(wsr_user_add(f->s, "amy", "admin", "amy-password"), 0);
    assert_int_equal(wsr_user_add(f->s, "bo", "", "bo-password"), 0);
    assert_int_equal(wsr__store_revoke(f->s, "jti-1", 2000, 0), 0);
    assert_int_equal(wsr__store_revoke(f->s, "user:bo", 3000, 900), 0);
    /* Fixed creation times, so that the answer can be written down. */
    rep = tu_redis_cmd(&f->srv, 0, "HSET wsr:users bo %s",
                       "{\"roles\":\"\",\"hash\":\"h\",\"created\":7}");
    freeReplyObject(rep);
    rep = tu_redis_cmd(&f->srv, 0, "HSET wsr:users cy %s",
                       "{\"roles\":\"r1,r2\",\"hash\":\"h\",\"created\":8}");
    freeReplyObject(rep);
    sweep(f->s, op_list, "{\"c:a\":{\"x\":[1,2]},\"c:b\":\"two\"}");
    sweep(f->s, op_get, "{\"x\":[1,2]}");
    sweep(f->s, op_find, "\"admin\"");
    sweep(f->s, op_revoked, "{\"jti-1\":2000,\"user:bo\":900}");
    rep = tu_redis_cmd(&f->srv, 0, "HDEL wsr:users amy");
    freeReplyObject(rep);
    sweep(f->s, op_users, "[[\"bo\",\"\",7],[\"cy\",\"r1,r2\",8]]");
}

/* A route reading the store (its `user`): what it gets, or its error. */
static int read_k(wsr_request_t *req, wsr_response_t *res, void *user)
{
    json_t *v;
    int rc = wsr_store_get(user, "k", &v);

    (void)req;
    return rc != 0 ? rc : wsr_response_set_data_take(res, v);
}

/* A route that returns the store's WSR_ECONNECT answers PROTOCOL.md
 * section 11's 503 with its sentence; once Redis is back, the value. */
static void test_route_answers_503(void **state)
{
    fixture_t *f = *state;
    const wsr_route_t table[] = {
        {.name = "k", .methods = WSR_GET, .url = "/k", .handler = read_k, .doc = "Reads k."},
        WSR_ROUTES_END,
    };
    wsr_router_t *router = wsr_router_new();
    wsr_error_t err;

    assert_non_null(router);
    assert_int_equal(wsr_router_add(router, table, f->s, &err), 0);
    put_text(f->s, "k", "[1]");
    tu_expect_reply(router, "{\"method\":\"GET\",\"url\":\"/k\"}",
                    "{\"status\":200,\"data\":[1],\"event_name\":null}");
    tu_redis_stop(&f->srv);
    tu_expect_reply(router, "{\"method\":\"GET\",\"url\":\"/k\"}",
                    "{\"status\":503,\"detail\":\"the cluster engine is "
                    "unavailable\",\"event_name\":null}");
    wsr_router_free(router);
}

/* Redis not answering at the open: refused, saying so (a node does not
 * start without its secret and revocations). */
static void test_open_needs_redis(void **state)
{
    fixture_t *f = *state;
    wsr__redis_url_t url;
    wsr_error_t err;

    tu_redis_stop(&f->srv);
    tu_redis_url(&f->srv, 0, &url);
    assert_null(wsr__store_redis_open(&url, NULL, NULL, &err));
    assert_int_equal(err.code, WSR_ECONNECT);
    assert_true(strncmp(err.text, "the cluster engine is unavailable: cannot connect to 127.0.0.1:",
                        63) == 0);
    assert_null(wsr_store_open_redis("redis://127.0.0.1:0", NULL, &err));
    assert_int_equal(err.code, WSR_EINVAL); /* a wrong URL is named as such */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_get_put_delete),   T(test_increment),     T(test_list),
        T(test_not_json),         T(test_users),         T(test_revocations),
        T(test_two_nodes),        T(test_redis_down),    T(test_route_answers_503),
        T(test_open_needs_redis), T(test_out_of_memory),
    };
#undef T

    tu_install_allocator();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
