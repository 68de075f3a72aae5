/* SPDX-License-Identifier: MIT */
/*
 * The store on Redis (store_int.h), shared by every node of a cluster. A
 * write is answered once Redis has acknowledged it; how durable that is
 * depends on Redis's own persistence (README: "The shared store"). Keys:
 *
 *   wsr:kv:KEY          the JSON text of KEY's value (integers as digits, so
 *                       INCRBY adds to them in place)
 *   wsr:kv              a sorted set of every KEY (score 0), so that a list
 *                       by prefix is a bounded range in key order
 *   wsr:users           a hash of user name -> {"roles","hash","created"}
 *   wsr:revoked         a sorted set of revoked id -> expiry: dropped once
 *                       expired (wsr__store_prune), the token's remaining life
 *   wsr:revoked:since   a hash of removed users' ids -> removal time
 *
 * Changes that touch two keys run as one Lua script, which Redis runs
 * atomically. It never logs a value.
 */
#include "services/store_int.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec_int.h"
#include "core/json_int.h"
#include "services/redis_int.h"

#define KV_PREFIX "wsr:kv:"
#define KV_INDEX  "wsr:kv"
#define USERS     "wsr:users"
#define REVOKED   "wsr:revoked"
#define SINCE     "wsr:revoked:since"

typedef struct rs {
    wsr_store_t base; /* first: a wsr_store_t * is an rs_t * */
    wsr__redis_t *redis;
} rs_t;

static const wsr__store_ops_t redis_ops;

static wsr__redis_t *conn(wsr_store_t *s)
{
    return ((rs_t *)s)->redis;
}

/* What an error reply means. Redis loading its data after a restart, busy
 * with a script, or unable to persist (MISCONF) is unavailable, like Redis
 * unreachable; anything else is an I/O error of the store. */
static int reply_error(const redisReply *rep)
{
    if (wsr__redis_error_unavailable(rep->str))
        return WSR_ECONNECT;
    if (strstr(rep->str, "overflow") != NULL)
        return WSR_EOVERFLOW;
    if (strstr(rep->str, "not an integer") != NULL)
        return WSR_EINVAL;
    return WSR_EIO;
}

/* Runs a command of `argc` C strings. Returns 0 with *rep (owned, never an
 * error reply) or an error with *rep NULL. */
static int run(wsr_store_t *s, redisReply **rep, int argc, const char **argv)
{
    int rc = wsr__redis_command(conn(s), argc, argv, NULL, rep);

    if (rc == 0 && (*rep)->type == REDIS_REPLY_ERROR) {
        rc = reply_error(*rep);
        freeReplyObject(*rep);
        *rep = NULL;
    }
    return rc;
}

/* run and run_int with the command's words as arguments, counted here. */
#define ARGS(...)                                                                                  \
    (const char *[])                                                                               \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
#define NARGS(...)         ((int)(sizeof(ARGS(__VA_ARGS__)) / sizeof(const char *)))
#define RUN(s, rep, ...)   run(s, rep, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__))
#define RUN_INT(s, n, ...) run_int(s, n, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__))

/* Runs a command whose reply is an integer, into *n (may be NULL). */
static int run_int(wsr_store_t *s, long long *n, int argc, const char **argv)
{
    redisReply *rep;
    int rc = run(s, &rep, argc, argv);

    if (rc == 0 && rep->type != REDIS_REPLY_INTEGER)
        rc = WSR_EIO;
    if (rc == 0 && n != NULL)
        *n = rep->integer;
    freeReplyObject(rep);
    return rc;
}

/* `a` then `b` in a new string (owned: wsr__free), or NULL. */
static char *cat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *out = wsr__malloc(na + nb + 1);

    if (out != NULL) {
        memcpy(out, a, na);
        memcpy(out + na, b, nb + 1);
    }
    return out;
}

/* A bulk string reply as JSON (a new reference). Returns 0, WSR_EIO for text
 * that is not JSON, or WSR_ENOMEM. */
static int parse_json(const redisReply *rep, json_t **out)
{
    wsr__json_error_t jerr;

    *out = NULL;
    if (rep->type != REDIS_REPLY_STRING)
        return WSR_EIO;
    *out = wsr__json_parse(rep->str, rep->len, WSR__JSON_MAX_DEPTH, &jerr);
    if (*out != NULL)
        return 0;
    return jerr.kind == WSR__JSON_NOMEM ? WSR_ENOMEM : WSR_EIO;
}

/* ---- the key-value table ---- */

static int redis_get(wsr_store_t *s, const char *key, json_t **value)
{
    char *k = cat(KV_PREFIX, key);
    redisReply *rep = NULL;
    int rc = k ? RUN(s, &rep, "GET", k) : WSR_ENOMEM;

    if (rc == 0)
        rc = rep->type == REDIS_REPLY_NIL ? WSR_ENOENT : parse_json(rep, value);
    freeReplyObject(rep);
    wsr__free(k);
    return rc;
}

static const char put_script[] =
    "local done if ARGV[3] == '1' then done = redis.call('SET', KEYS[1], ARGV[1], 'NX') "
    "else done = redis.call('SET', KEYS[1], ARGV[1]) end "
    "if done then redis.call('ZADD', KEYS[2], 0, ARGV[2]) return 1 end return 0";

static int redis_put(wsr_store_t *s, const char *key, const json_t *value, bool only_new)
{
    char *k = cat(KV_PREFIX, key), *text = wsr__json_to_string(value);
    long long done = 0;
    int rc = k && text ? RUN_INT(s, &done, "EVAL", put_script, "2", k, KV_INDEX, text, key,
                                 only_new ? "1" : "0")
                       : WSR_ENOMEM;

    wsr__free(k);
    wsr__free(text);
    if (rc == 0 && done == 0)
        rc = WSR_EEXIST;
    return rc;
}

static const char del_script[] =
    "local n = redis.call('DEL', KEYS[1]) redis.call('ZREM', KEYS[2], ARGV[1]) return n";

static int redis_del(wsr_store_t *s, const char *key)
{
    char *k = cat(KV_PREFIX, key);
    long long n = 0;
    int rc = k ? RUN_INT(s, &n, "EVAL", del_script, "2", k, KV_INDEX, key) : WSR_ENOMEM;

    wsr__free(k);
    return rc == 0 && n == 0 ? WSR_ENOENT : rc;
}

static const char incr_script[] = "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) "
                                  "redis.call('ZADD', KEYS[2], 0, ARGV[2]) return v";

static int redis_increment(wsr_store_t *s, const char *key, int64_t delta, int64_t *result)
{
    char *k = cat(KV_PREFIX, key), d[24];
    long long v = 0;
    int rc;

    snprintf(d, sizeof(d), "%lld", (long long)delta);
    rc = k ? RUN_INT(s, &v, "EVAL", incr_script, "2", k, KV_INDEX, d, key) : WSR_ENOMEM;
    wsr__free(k);
    if (rc == 0)
        *result = (int64_t)v;
    return rc;
}

/* The first string past every string starting with `prefix`, as a
 * ZRANGEBYLEX bound into `out`: "(" and the prefix with its last byte below
 * 0xff incremented (and what follows dropped), or "+" when there is none. */
static char *upper_bound(const char *prefix)
{
    size_t n = strlen(prefix);
    char *out = wsr__malloc(n + 2);

    if (out == NULL)
        return NULL;
    while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
        n--;
    if (n == 0) {
        memcpy(out, "+", 2);
        return out;
    }
    out[0] = '(';
    memcpy(out + 1, prefix, n);
    out[n] = (char)((unsigned char)out[n] + 1);
    out[n + 1] = '\0';
    return out;
}

/* Adds the values of `keys` (an array reply) read by MGET to `obj`. */
static int list_values(wsr_store_t *s, const redisReply *keys, json_t *obj)
{
    size_t n = keys->elements;
    const char **argv = wsr__calloc(n + 1, sizeof(*argv));
    char **owned = wsr__calloc(n + 1, sizeof(*owned));
    redisReply *vals = NULL;
    int rc = argv && owned ? 0 : WSR_ENOMEM;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (keys->element[i]->type != REDIS_REPLY_STRING)
            rc = WSR_EIO;
        else if ((owned[i] = cat(KV_PREFIX, keys->element[i]->str)) == NULL)
            rc = WSR_ENOMEM;
        argv[i + 1] = owned[i];
    }
    if (rc == 0) {
        argv[0] = "MGET";
        rc = run(s, &vals, (int)n + 1, argv);
    }
    if (rc == 0 && (vals->type != REDIS_REPLY_ARRAY || vals->elements != n))
        rc = WSR_EIO;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *key = keys->element[i]->str;
        json_t *v;

        if (vals->element[i]->type == REDIS_REPLY_NIL)
            continue; /* removed between the two reads */
        rc = parse_json(vals->element[i], &v);
        if (rc == 0 && json_object_set_new(obj, key, v) != 0)
            /* jansson refuses a member name that is not UTF-8. */
            rc = wsr__utf8_valid((const unsigned char *)key, strlen(key)) ? WSR_ENOMEM : WSR_EIO;
    }
    freeReplyObject(vals);
    for (size_t i = 0; owned != NULL && i < n; i++)
        wsr__free(owned[i]);
    wsr__free(owned);
    wsr__free(argv);
    return rc;
}

static int redis_list(wsr_store_t *s, const char *prefix, size_t limit, json_t **out)
{
    char *lo = cat("[", prefix), *hi = upper_bound(prefix), count[24];
    json_t *obj = json_object();
    redisReply *keys = NULL;
    int rc = lo && hi && obj ? 0 : WSR_ENOMEM;

    snprintf(count, sizeof(count), "%zu", limit);
    if (rc == 0)
        rc = limit > 0 ? RUN(s, &keys, "ZRANGEBYLEX", KV_INDEX, prefix[0] ? lo : "-", hi, "LIMIT",
                             "0", count)
                       : RUN(s, &keys, "ZRANGEBYLEX", KV_INDEX, prefix[0] ? lo : "-", hi);
    if (rc == 0 && keys->type != REDIS_REPLY_ARRAY)
        rc = WSR_EIO;
    if (rc == 0 && keys->elements > 0)
        rc = list_values(s, keys, obj);
    freeReplyObject(keys);
    wsr__free(lo);
    wsr__free(hi);
    if (rc != 0) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

static struct sqlite3 *redis_lock(wsr_store_t *s)
{
    (void)s;
    return NULL; /* no SQLite here: documented in store.h */
}

static void redis_unlock(wsr_store_t *s)
{
    (void)s;
}

/* ---- users ---- */

static int redis_user_find(wsr_store_t *s, const char *name, json_t **row)
{
    redisReply *rep = NULL;
    json_t *u = NULL;
    int rc = RUN(s, &rep, "HGET", USERS, name);

    if (rc == 0 && rep->type != REDIS_REPLY_NIL)
        rc = parse_json(rep, &u);
    freeReplyObject(rep);
    if (rc == 0 && u != NULL) {
        json_t *roles = json_object_get(u, "roles"), *hash = json_object_get(u, "hash");

        if (!json_is_string(roles) || !json_is_string(hash))
            rc = WSR_EIO;
        else if ((*row = json_pack("[O, O]", roles, hash)) == NULL)
            rc = WSR_ENOMEM;
    }
    json_decref(u);
    return rc;
}

static int redis_user_insert(wsr_store_t *s, const char *name, const char *roles, const char *hash,
                             int64_t created)
{
    json_t *u =
        json_pack("{s:s, s:s, s:I}", "roles", roles, "hash", hash, "created", (json_int_t)created);
    char *text = u ? wsr__json_to_string(u) : NULL;
    long long added = 0;
    int rc = text ? RUN_INT(s, &added, "HSETNX", USERS, name, text) : WSR_ENOMEM;

    json_decref(u);
    wsr__free(text);
    return rc == 0 && added == 0 ? WSR_EEXIST : rc;
}

static int redis_user_delete(wsr_store_t *s, const char *name)
{
    long long n = 0;
    int rc = RUN_INT(s, &n, "HDEL", USERS, name);

    return rc == 0 && n == 0 ? WSR_ENOENT : rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(json_string_value(json_array_get(*(json_t *const *)a, 0)),
                  json_string_value(json_array_get(*(json_t *const *)b, 0)));
}

static int redis_user_list(wsr_store_t *s, json_t **out)
{
    redisReply *rep = NULL;
    json_t *rows = json_array(), **sorted = NULL;
    size_t n = 0;
    int rc = rows ? RUN(s, &rep, "HGETALL", USERS) : WSR_ENOMEM;

    if (rc == 0 && (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2 != 0))
        rc = WSR_EIO;
    if (rc == 0 && (sorted = wsr__calloc(rep->elements / 2 + 1, sizeof(*sorted))) == NULL)
        rc = WSR_ENOMEM;
    for (size_t i = 0; rc == 0 && i + 1 < rep->elements; i += 2) {
        json_t *u = NULL;

        rc = rep->element[i]->type == REDIS_REPLY_STRING ? parse_json(rep->element[i + 1], &u)
                                                         : WSR_EIO;
        if (rc == 0 && (!json_is_string(json_object_get(u, "roles")) ||
                        !json_is_integer(json_object_get(u, "created"))))
            rc = WSR_EIO;
        if (rc == 0 &&
            (sorted[n] = json_pack("[s, O, O]", rep->element[i]->str, json_object_get(u, "roles"),
                                   json_object_get(u, "created"))) == NULL)
            rc = WSR_ENOMEM; /* or a name that is not UTF-8: added only as UTF-8 */
        if (rc == 0)
            n++;
        json_decref(u);
    }
    if (rc == 0)
        qsort(sorted, n, sizeof(*sorted), by_name);
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(rows, sorted[i]) != 0 && rc == 0)
            rc = WSR_ENOMEM;
    wsr__free(sorted);
    freeReplyObject(rep);
    if (rc != 0) {
        json_decref(rows);
        return rc;
    }
    *out = rows;
    return 0;
}

/* ---- revocations ---- */

static const char revoke_script[] =
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) "
    "if ARGV[3] ~= '0' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) "
    "else redis.call('HDEL', KEYS[2], ARGV[1]) end return 1";

static int redis_revoke(wsr_store_t *s, const char *id, int64_t exp, int64_t since)
{
    char e[24], t[24];

    snprintf(e, sizeof(e), "%lld", (long long)exp);
    snprintf(t, sizeof(t), "%lld", (long long)since);
    return RUN_INT(s, NULL, "EVAL", revoke_script, "2", REVOKED, SINCE, id, e, t);
}

static const char revoked_script[] =
    "return {redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES'), "
    "redis.call('HGETALL', KEYS[2])}";

/* An integer from a string reply (a score, a time), or -1. */
static long long reply_ll(const redisReply *r)
{
    char *end;
    long long v;

    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type != REDIS_REPLY_STRING)
        return -1;
    v = strtoll(r->str, &end, 10);
    return end != r->str && *end == '\0' ? v : -1;
}

/* Sets `set`'s members from a flat [name, integer, ...] array reply; with
 * `only_present`, only the members it has already. */
static int add_pairs(json_t *set, const redisReply *pairs, bool only_present)
{
    for (size_t i = 0; i + 1 < pairs->elements; i += 2) {
        const redisReply *name = pairs->element[i];
        long long v = reply_ll(pairs->element[i + 1]);

        if (name->type != REDIS_REPLY_STRING || v < 0)
            return WSR_EIO;
        if (only_present && json_object_get(set, name->str) == NULL)
            continue;
        if (json_object_set_new(set, name->str, json_integer(v)) != 0)
            return WSR_ENOMEM;
    }
    return 0;
}

static int redis_revoked(wsr_store_t *s, int64_t now, json_t **out)
{
    char at[24];
    redisReply *rep = NULL, *ids, *since;
    json_t *set = json_object();
    int rc;

    snprintf(at, sizeof(at), "%lld", (long long)now);
    rc = set ? RUN(s, &rep, "EVAL", revoked_script, "2", REVOKED, SINCE, at) : WSR_ENOMEM;
    if (rc == 0 &&
        (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
         rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[1]->type != REDIS_REPLY_ARRAY))
        rc = WSR_EIO;
    ids = rc == 0 ? rep->element[0] : NULL;
    since = rc == 0 ? rep->element[1] : NULL;
    if (rc == 0)
        rc = add_pairs(set, ids, false);
    /* A removed user's marker stands for the removal time, which later
     * tokens pass; only those still in force (in the sorted set) count. */
    if (rc == 0)
        rc = add_pairs(set, since, true);
    freeReplyObject(rep);
    if (rc != 0) {
        json_decref(set);
        return rc;
    }
    *out = set;
    return 0;
}

static const char prune_script[] =
    "local m = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) "
    "for i = 1, #m do redis.call('HDEL', KEYS[2], m[i]) end "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) return #m";

static int redis_prune(wsr_store_t *s, int64_t now)
{
    char at[24];

    snprintf(at, sizeof(at), "%lld", (long long)now);
    return RUN_INT(s, NULL, "EVAL", prune_script, "2", REVOKED, SINCE, at);
}

static bool redis_available(wsr_store_t *s)
{
    return wsr__redis_up(conn(s));
}

static void redis_close(wsr_store_t *s)
{
    wsr__redis_free(conn(s));
    wsr__free(s);
}

static const wsr__store_ops_t redis_ops = {
    .close = redis_close,
    .get = redis_get,
    .put = redis_put,
    .del = redis_del,
    .increment = redis_increment,
    .list = redis_list,
    .lock = redis_lock,
    .unlock = redis_unlock,
    .user_find = redis_user_find,
    .user_insert = redis_user_insert,
    .user_delete = redis_user_delete,
    .user_list = redis_user_list,
    .revoke = redis_revoke,
    .revoked = redis_revoked,
    .prune = redis_prune,
    .available = redis_available,
};

wsr_store_t *wsr__store_redis_open(const wsr__redis_url_t *url, wsr__redis_state_fn on_state,
                                   void *ctx, wsr_error_t *err)
{
    rs_t *s = wsr__calloc(1, sizeof(*s));
    wsr__redis_options_t opt = {.on_state = on_state, .ctx = ctx};

    if (s == NULL) {
        wsr__error_set(err, WSR_ENOMEM, "store: out of memory");
        return NULL;
    }
    s->base.ops = &redis_ops;
    s->redis = wsr__redis_new(url, &opt, err);
    if (s->redis == NULL) {
        wsr__free(s);
        return NULL;
    }
    if (!wsr__redis_up(s->redis)) {
        /* At the start it is an error: a node needs the token secret and the
         * revocations before it serves (later, requests get 503s). */
        char why[256];

        wsr__redis_why(s->redis, why, sizeof(why));
        wsr__error_set(err, WSR_ECONNECT, "the cluster engine is unavailable: %s", why);
        redis_close(&s->base);
        return NULL;
    }
    return &s->base;
}

wsr_store_t *wsr_store_open_redis(const char *url, const char *password, wsr_error_t *err)
{
    wsr__redis_url_t u;
    wsr_store_t *s = NULL;

    if (wsr__redis_url_parse(url, password, &u, err) == 0)
        s = wsr__store_redis_open(&u, NULL, NULL, err);
    OPENSSL_cleanse(&u, sizeof(u));
    return s;
}
