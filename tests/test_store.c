/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/store.c (and the user table of src/auth_routes.c, which lives
 * in it): a real SQLite file in a fresh temporary directory per test. Opening
 * (file, directory, WAL, schema version, foreign databases), the key-value
 * operations with exact results, several handles and threads on one file,
 * users, and allocation-failure sweeps.
 */
#include "testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wsrouter/auth.h"
#include "wsrouter/store.h"

#include "services/store_int.h"

typedef struct fixture {
    char dir[PATH_MAX];
    char path[PATH_MAX + 32];
    wsr_store_t *s;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    wsr_error_t err;

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "%s/wsr-store-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/wsrouter.db", f->dir);
    f->s = wsr_store_open(f->path, true, &err);
    if (f->s == NULL) {
        print_error("cannot open %s: %s\n", f->path, err.text);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    wsr_store_close(f->s);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* The integer a PRAGMA (or any one-value query) answers. */
static long long sql_int(wsr_store_t *s, const char *sql)
{
    sqlite3 *db = wsr_store_lock(s);
    sqlite3_stmt *st;
    long long v = -1;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    wsr_store_unlock(s);
    return v;
}

static void sql_text(wsr_store_t *s, const char *sql, char *out, size_t size)
{
    sqlite3 *db = wsr_store_lock(s);
    sqlite3_stmt *st;

    out[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    wsr_store_unlock(s);
}

/* Runs `sql` on the file at `path` with a connection of its own. */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

static void put_text(wsr_store_t *s, const char *key, const char *json)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

    assert_non_null(v);
    assert_int_equal(wsr_store_put(s, key, v), 0);
    json_decref(v);
}

/* Asserts the value at `key` is exactly `json` (type included). */
static void expect_stored(wsr_store_t *s, const char *key, const char *json)
{
    json_t *want = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    json_t *got = NULL;
    int rc = wsr_store_get(s, key, &got);

    assert_non_null(want);
    if (got == NULL || rc != 0 || !json_equal(got, want) || json_typeof(got) != json_typeof(want))
        fail_msg("%s: got %s (rc %d, type %d), wanted %s", key,
                 got ? json_dumps(got, JSON_ENCODE_ANY) : "NULL", rc,
                 got ? (int)json_typeof(got) : -1, json);
    json_decref(got);
    json_decref(want);
}

/* Asserts list(prefix, limit) is exactly the object `json`. */
static void expect_list(wsr_store_t *s, const char *prefix, size_t limit, const char *json)
{
    json_t *want = json_loads(json, 0, NULL), *got = NULL;
    int rc = wsr_store_list(s, prefix, limit, &got);

    assert_non_null(want);
    if (rc != 0 || got == NULL || !json_equal(got, want))
        fail_msg("list(\"%s\", %zu): got %s (rc %d), wanted %s", prefix, limit,
                 got ? json_dumps(got, JSON_SORT_KEYS) : "NULL", rc, json);
    json_decref(got);
    json_decref(want);
}

/* Asserts get(key) fails with `want` and sets *value to NULL. */
static void expect_get_fails(wsr_store_t *s, const char *key, int want)
{
    json_t *got = json_true(); /* not NULL: the call must reset it */

    assert_int_equal(wsr_store_get(s, key, &got), want);
    assert_null(got);
}

/* Asserts list(prefix) fails with `want` and sets *out to NULL. */
static void expect_list_fails(wsr_store_t *s, const char *prefix, int want)
{
    json_t *got = json_true();

    assert_int_equal(wsr_store_list(s, prefix, 0, &got), want);
    assert_null(got);
}

/* ---- opening ---- */

static void test_store__open_creates_the_file_and_its_directory(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX + 64], dir[PATH_MAX + 32];
    struct stat st;
    wsr_error_t err;
    wsr_store_t *s;

    snprintf(dir, sizeof(dir), "%s/var", f->dir);
    snprintf(path, sizeof(path), "%s/wsrouter.db", dir);
    assert_int_equal(stat(dir, &st), -1);
    s = wsr_store_open(path, true, &err);
    assert_non_null(s);
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* wsrouter's mark and the schema version. */
    assert_int_equal(sql_int(s, "PRAGMA application_id"), 0x77737274);
    assert_int_equal(sql_int(s, "PRAGMA user_version"), 1);
    assert_int_equal(
        sql_int(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'wsr%'"),
        4);
    wsr_store_close(s);
}

static void test_store__wal_mode_and_sync_level(void **state)
{
    fixture_t *f = *state;
    char mode[32], path[PATH_MAX + 32];
    wsr_error_t err;
    wsr_store_t *s;

    sql_text(f->s, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal");
    assert_int_equal(sql_int(f->s, "PRAGMA synchronous"), 2); /* FULL */
    snprintf(path, sizeof(path), "%s/normal.db", f->dir);
    s = wsr_store_open(path, false, &err);
    assert_non_null(s);
    sql_text(s, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal");
    assert_int_equal(sql_int(s, "PRAGMA synchronous"), 1); /* NORMAL */
    wsr_store_close(s);
}

static void test_store__reopen_keeps_data(void **state)
{
    fixture_t *f = *state;
    wsr_error_t err;
    int64_t v = 0;

    put_text(f->s, "a", "{\"x\":[1,2.5,\"y\"]}");
    assert_int_equal(wsr_store_increment(f->s, "n", 41, &v), 0);
    assert_int_equal(wsr_store_increment(f->s, "n", 1, &v), 0);
    wsr_store_close(f->s);
    f->s = wsr_store_open(f->path, true, &err);
    assert_non_null(f->s);
    expect_stored(f->s, "a", "{\"x\":[1,2.5,\"y\"]}");
    expect_stored(f->s, "n", "42");
    assert_int_equal(sql_int(f->s, "PRAGMA user_version"), 1);
}

static void test_store__newer_schema_is_refused(void **state)
{
    fixture_t *f = *state;
    wsr_error_t err;

    wsr_store_close(f->s);
    f->s = NULL;
    raw_exec(f->path, "PRAGMA user_version = 2");
    memset(&err, 0, sizeof(err));
    assert_null(wsr_store_open(f->path, true, &err));
    assert_int_equal(err.code, WSR_EINVAL);
    assert_string_equal(err.text, "store: schema version 2 is newer than this program's (1)");
    raw_exec(f->path, "PRAGMA user_version = 1");
    f->s = wsr_store_open(f->path, true, &err);
    assert_non_null(f->s);
}

static void test_store__another_applications_database_is_refused(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX + 32];
    wsr_error_t err;
    sqlite3 *db;
    sqlite3_stmt *st;

    snprintf(path, sizeof(path), "%s/other.db", f->dir);
    raw_exec(path, "PRAGMA application_id = 1234; CREATE TABLE notes(body TEXT);"
                   "INSERT INTO notes VALUES('keep me');");
    memset(&err, 0, sizeof(err));
    assert_null(wsr_store_open(path, true, &err));
    assert_int_equal(err.code, WSR_EINVAL);
    assert_string_equal(err.text, "store: the database is not wsrouter's");
    /* And it was left as it was: no table of ours, its own row intact. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM sqlite_master WHERE name "
                                        "LIKE 'wsr%'), (SELECT body FROM notes), "
                                        "(SELECT journal_mode FROM pragma_journal_mode)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "keep me");
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "delete"); /* not made WAL */
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_store__a_file_that_is_not_sqlite_is_refused(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX + 32], junk[4096];
    wsr_error_t err;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/junk.db", f->dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
    fclose(fp);
    memset(&err, 0, sizeof(err));
    assert_null(wsr_store_open(path, true, &err));
    assert_int_equal(err.code, WSR_EIO);
    assert_string_equal(err.text, "store: setting it up: file is not a database");
    /* A directory where the file should be. */
    memset(&err, 0, sizeof(err));
    assert_null(wsr_store_open(f->dir, true, &err));
    assert_int_equal(err.code, WSR_EIO);
    assert_int_equal(strncmp(err.text, "store: cannot open ", 19), 0);
}

struct opener {
    const char *path;
    pthread_barrier_t *go;
    wsr_store_t *s;
    wsr_error_t err;
};

static void *open_one(void *arg)
{
    struct opener *o = arg;

    pthread_barrier_wait(o->go);
    o->s = wsr_store_open(o->path, true, &o->err);
    return NULL;
}

/* A server and `wsrouterd user add` started together on a new file: both
 * must open it (and migrate it once). */
static void test_store__concurrent_opens_of_a_new_file_all_succeed(void **state)
{
    fixture_t *f = *state;
    enum { ROUNDS = 20, THREADS = 4 };

    for (int r = 0; r < ROUNDS; r++) {
        char path[PATH_MAX + 32];
        struct opener o[THREADS];
        pthread_t t[THREADS];
        pthread_barrier_t go;

        snprintf(path, sizeof(path), "%s/race%d.db", f->dir, r);
        pthread_barrier_init(&go, NULL, THREADS);
        for (int i = 0; i < THREADS; i++) {
            memset(&o[i], 0, sizeof(o[i]));
            o[i].path = path;
            o[i].go = &go;
            assert_int_equal(pthread_create(&t[i], NULL, open_one, &o[i]), 0);
        }
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        for (int i = 0; i < THREADS; i++) {
            if (o[i].s == NULL)
                fail_msg("round %d, opener %d: %s", r, i, o[i].err.text);
            assert_int_equal(sql_int(o[i].s, "PRAGMA user_version"), 1);
        }
        for (int i = 0; i < THREADS; i++)
            wsr_store_close(o[i].s);
    }
}

static void test_store__open_allocation_failures_return_enomem(void **state)
{
    fixture_t *f = *state;
    long live = tu_live_blocks(), n;

    for (n = 0;; n++) {
        wsr_error_t err;
        wsr_store_t *s;

        memset(&err, 0, sizeof(err));
        tu_fail_at(n, false);
        s = wsr_store_open(f->path, true, &err);
        tu_fail_at(-1, false);
        if (s != NULL) {
            wsr_store_close(s);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        assert_int_equal(err.code, WSR_ENOMEM);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 1);
}

/* ---- the key-value table ---- */

static void test_store__json_types_round_trip(void **state)
{
    fixture_t *f = *state;
    static const char *const values[] = {
        "0",
        "42",
        "-7",
        "9223372036854775807",
        "-9223372036854775808",
        "1.5",
        "1.0",
        "-0.0",
        "1e300",
        "2.2250738585072014e-308",
        "\"\"",
        "\"hello\"",
        "\"42\"",
        "\"line\\nbreak \\\"quoted\\\" \\u2028 \\u00e9 \\ud83d\\ude00\"",
        "\"nul\\u0000inside\"",
        "true",
        "false",
        "null",
        "[]",
        "{}",
        "[1,\"two\",3.0,null,[true,{}]]",
        "{\"a\":{\"b\":[1,{\"c\":null}]},\"\\u00e9\":\"x\"}",
    };
    char key[32];

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(key, sizeof(key), "v%zu", i);
        put_text(f->s, key, values[i]);
    }
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(key, sizeof(key), "v%zu", i);
        expect_stored(f->s, key, values[i]);
    }
    /* Integers are SQLite integers (so increments are arithmetic), the
     * rest JSON text. */
    assert_int_equal(sql_int(f->s, "SELECT typeof(value) = 'integer' FROM wsr_kv WHERE key = 'v1'"),
                     1);
    assert_int_equal(sql_int(f->s, "SELECT typeof(value) = 'text' FROM wsr_kv WHERE key = 'v5'"),
                     1);
}

static void test_store__get_of_a_missing_key(void **state)
{
    fixture_t *f = *state;

    expect_get_fails(f->s, "nope", WSR_ENOENT);
    expect_get_fails(f->s, "", WSR_ENOENT);
    /* Keys are exact: case, blanks and prefixes are other keys. */
    put_text(f->s, "Key", "1");
    expect_get_fails(f->s, "key", WSR_ENOENT);
    expect_get_fails(f->s, "Key ", WSR_ENOENT);
    expect_get_fails(f->s, "Ke", WSR_ENOENT);
    expect_stored(f->s, "Key", "1");
    /* A stored JSON null is a value, not an absent key. */
    put_text(f->s, "nothing", "null");
    expect_stored(f->s, "nothing", "null");
}

/* Text that is not JSON (written through wsr_store_lock, or a damaged file)
 * is WSR_EIO, not WSR_ENOMEM, for get and for any list that reaches it. */
static void test_store__an_unreadable_value_is_eio(void **state)
{
    fixture_t *f = *state;
    sqlite3 *db;

    put_text(f->s, "a1", "1");
    put_text(f->s, "c1", "3");
    db = wsr_store_lock(f->s);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO wsr_kv(key, value) VALUES('b1', 'not json')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    wsr_store_unlock(f->s);
    expect_get_fails(f->s, "b1", WSR_EIO);
    expect_list_fails(f->s, "b", WSR_EIO);
    expect_list_fails(f->s, "", WSR_EIO);
    /* The rows around it still read, and a list that stops before it works. */
    expect_stored(f->s, "a1", "1");
    expect_list(f->s, "a", 0, "{\"a1\":1}");
    expect_list(f->s, "", 1, "{\"a1\":1}");
    expect_list(f->s, "c", 0, "{\"c1\":3}");
}

/* JSON object members are UTF-8: a key that is not cannot be listed. */
static void test_store__a_key_that_is_not_utf8_fails_the_list_with_eio(void **state)
{
    fixture_t *f = *state;

    put_text(f->s, "k\xff", "1");
    put_text(f->s, "ok", "2");
    expect_stored(f->s, "k\xff", "1"); /* get takes any key */
    expect_list_fails(f->s, "k", WSR_EIO);
    expect_list(f->s, "o", 0, "{\"ok\":2}");
}

/* A store whose table is gone answers WSR_EIO everywhere, never NULL with 0. */
static void test_store__a_broken_store_is_eio(void **state)
{
    fixture_t *f = *state;
    json_t *users = json_true();

    put_text(f->s, "k", "1");
    raw_exec(f->path, "DROP TABLE wsr_kv; DROP TABLE wsr_users;");
    expect_get_fails(f->s, "k", WSR_EIO);
    expect_list_fails(f->s, "", WSR_EIO);
    assert_int_equal(wsr_store_delete(f->s, "k"), WSR_EIO);
    assert_int_equal(wsr_user_list(f->s, &users), WSR_EIO);
    assert_null(users);
}

static void test_store__put_replaces_and_delete_removes(void **state)
{
    fixture_t *f = *state;

    put_text(f->s, "k", "1");
    put_text(f->s, "k", "\"one\"");
    expect_stored(f->s, "k", "\"one\"");
    put_text(f->s, "k", "{\"n\":1}");
    expect_stored(f->s, "k", "{\"n\":1}");
    assert_int_equal(sql_int(f->s, "SELECT count(*) FROM wsr_kv"), 1);
    assert_int_equal(wsr_store_delete(f->s, "k"), 0);
    expect_get_fails(f->s, "k", WSR_ENOENT);
    assert_int_equal(wsr_store_delete(f->s, "k"), WSR_ENOENT);
    assert_int_equal(wsr_store_delete(f->s, "never"), WSR_ENOENT);
}

static void test_store__increment(void **state)
{
    fixture_t *f = *state;
    int64_t v = 99;

    /* A missing key counts as 0. */
    assert_int_equal(wsr_store_increment(f->s, "c", 5, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(wsr_store_increment(f->s, "c", -7, &v), 0);
    assert_int_equal(v, -2);
    assert_int_equal(wsr_store_increment(f->s, "c", 0, &v), 0);
    assert_int_equal(v, -2);
    expect_stored(f->s, "c", "-2");
    assert_int_equal(wsr_store_increment(f->s, "zero", 0, &v), 0);
    assert_int_equal(v, 0);
    expect_stored(f->s, "zero", "0");
    assert_int_equal(wsr_store_increment(f->s, "min", INT64_MIN, &v), 0);
    assert_true(v == INT64_MIN);
    /* Written as an integer by put, incremented as one. */
    put_text(f->s, "p", "40");
    assert_int_equal(wsr_store_increment(f->s, "p", 2, &v), 0);
    assert_int_equal(v, 42);
}

static void test_store__increment_of_a_non_integer_is_einval(void **state)
{
    fixture_t *f = *state;
    static const char *const values[] = {"\"5\"", "5.0", "1.5", "null", "true", "[]", "{}"};

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        int64_t v = 1234;

        put_text(f->s, "x", values[i]);
        assert_int_equal(wsr_store_increment(f->s, "x", 1, &v), WSR_EINVAL);
        assert_int_equal(v, 1234); /* untouched */
        expect_stored(f->s, "x", values[i]);
    }
}

static void test_store__increment_overflow_leaves_the_value(void **state)
{
    fixture_t *f = *state;
    int64_t v = 1234;

    put_text(f->s, "big", "9223372036854775807");
    assert_int_equal(wsr_store_increment(f->s, "big", 1, &v), WSR_EOVERFLOW);
    assert_int_equal(v, 1234);
    expect_stored(f->s, "big", "9223372036854775807");
    assert_int_equal(wsr_store_increment(f->s, "big", INT64_MAX, &v), WSR_EOVERFLOW);
    expect_stored(f->s, "big", "9223372036854775807");
    put_text(f->s, "small", "-9223372036854775808");
    assert_int_equal(wsr_store_increment(f->s, "small", -1, &v), WSR_EOVERFLOW);
    expect_stored(f->s, "small", "-9223372036854775808");
    /* The store still works after the rolled-back transaction. */
    assert_int_equal(wsr_store_increment(f->s, "big", -7, &v), 0);
    assert_true(v == INT64_MAX - 7);
    expect_stored(f->s, "big", "9223372036854775800");
}

static void test_store__list_prefix_matches_literally(void **state)
{
    fixture_t *f = *state;

    put_text(f->s, "a%b1", "1");
    put_text(f->s, "a%b2", "\"two\"");
    put_text(f->s, "axb1", "3");
    put_text(f->s, "a_c", "4");
    put_text(f->s, "abc", "5");
    put_text(f->s, "A%b3", "6");
    put_text(f->s, "b", "[7]");
    expect_list(f->s, "a%b", 0, "{\"a%b1\":1,\"a%b2\":\"two\"}");
    expect_list(f->s, "a_", 0, "{\"a_c\":4}");
    expect_list(f->s, "a", 0, "{\"a%b1\":1,\"a%b2\":\"two\",\"axb1\":3,\"a_c\":4,\"abc\":5}");
    expect_list(f->s, "%", 0, "{}");
    expect_list(f->s, "_", 0, "{}");
    expect_list(f->s, "abc", 0, "{\"abc\":5}");
    expect_list(f->s, "abcd", 0, "{}");
    expect_list(f->s, "z", 0, "{}");
    expect_list(
        f->s, "", 0,
        "{\"a%b1\":1,\"a%b2\":\"two\",\"axb1\":3,\"a_c\":4,\"abc\":5,\"A%b3\":6,\"b\":[7]}");
}

static void test_store__list_prefix_is_bytes_not_characters(void **state)
{
    fixture_t *f = *state;

    /* "\xc3\xa9" is one character (e acute) of two bytes. */
    put_text(f->s, "\xc3\xa9t\xc3\xa9", "1");
    put_text(f->s,
             "\xc3\xa9"
             "a",
             "2");
    put_text(f->s, "e", "3");
    put_text(f->s,
             "\xe2\x82\xac"
             "1",
             "4");
    expect_list(f->s, "\xc3\xa9", 0, "{\"\\u00e9t\\u00e9\":1,\"\\u00e9a\":2}");
    expect_list(f->s, "\xc3\xa9t", 0, "{\"\\u00e9t\\u00e9\":1}");
    expect_list(f->s, "\xe2\x82\xac", 0, "{\"\\u20ac1\":4}");
    expect_list(f->s, "e", 0, "{\"e\":3}");
}

static void test_store__list_limit(void **state)
{
    fixture_t *f = *state;

    put_text(f->s, "k3", "3");
    put_text(f->s, "k1", "1");
    put_text(f->s, "k2", "2");
    put_text(f->s, "j", "0");
    put_text(f->s, "l", "4");
    /* In key order, at most `limit`. */
    expect_list(f->s, "k", 1, "{\"k1\":1}");
    expect_list(f->s, "k", 2, "{\"k1\":1,\"k2\":2}");
    expect_list(f->s, "k", 3, "{\"k1\":1,\"k2\":2,\"k3\":3}");
    expect_list(f->s, "k", 100, "{\"k1\":1,\"k2\":2,\"k3\":3}");
    expect_list(f->s, "k", 0, "{\"k1\":1,\"k2\":2,\"k3\":3}");
    expect_list(f->s, "", 2, "{\"j\":0,\"k1\":1}");
}

struct incrementer {
    wsr_store_t *s;
    int n;
    int failures;
};

static void *increment_many(void *arg)
{
    struct incrementer *in = arg;
    int64_t v;

    for (int i = 0; i < in->n; i++)
        if (wsr_store_increment(in->s, "shared", 1, &v) != 0)
            in->failures++;
    return NULL;
}

/* Two handles (as two processes would have) and two threads on each: no
 * increment is lost. */
static void test_store__increments_from_several_handles_and_threads_add_up(void **state)
{
    fixture_t *f = *state;
    enum { THREADS = 4, EACH = 100 };
    struct incrementer in[THREADS];
    pthread_t t[THREADS];
    wsr_store_t *other;
    wsr_error_t err;

    other = wsr_store_open(f->path, false, &err);
    assert_non_null(other);
    for (int i = 0; i < THREADS; i++) {
        in[i].s = i % 2 ? other : f->s;
        in[i].n = EACH;
        in[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, increment_many, &in[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(in[i].failures, 0);
    }
    expect_stored(f->s, "shared", "400");
    expect_stored(other, "shared", "400");
    wsr_store_close(other);
}

static void test_store__kv_allocation_failures_return_enomem(void **state)
{
    fixture_t *f = *state;
    static const char doc[] = "{\"a\":[1,2,{\"b\":\"text\"}],\"c\":\"\\u00e9\",\"d\":1.5}";
    json_t *v = json_loads(doc, 0, NULL), *want;
    long live, n;

    assert_non_null(v);
    live = tu_live_blocks();
    /* put */
    for (n = 0;; n++) {
        int rc;

        tu_fail_at(n, false);
        rc = wsr_store_put(f->s, "doc", v);
        tu_fail_at(-1, false);
        assert_int_equal(tu_live_blocks(), live);
        if (rc == 0)
            break;
        assert_int_equal(rc, WSR_ENOMEM);
    }
    assert_true(n >= 1);
    /* get: 0 with the value, or WSR_ENOMEM with NULL */
    for (n = 0;; n++) {
        json_t *got = json_true();
        int rc;

        tu_fail_at(n, false);
        rc = wsr_store_get(f->s, "doc", &got);
        tu_fail_at(-1, false);
        if (rc == 0) {
            assert_non_null(got);
            assert_true(json_equal(got, v));
            json_decref(got);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        assert_int_equal(rc, WSR_ENOMEM);
        assert_null(got);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 2);
    /* an absent key needs no memory: WSR_ENOENT even when every allocation fails */
    tu_fail_at(0, true);
    expect_get_fails(f->s, "absent", WSR_ENOENT);
    tu_fail_at(-1, false);
    assert_int_equal(tu_live_blocks(), live);
    /* list: the whole answer or none of it */
    put_text(f->s, "doc2", doc);
    put_text(f->s, "doc3", "[\"x\",\"y\"]");
    want = json_pack("{s:O, s:O, s:[s, s]}", "doc", v, "doc2", v, "doc3", "x", "y");
    live = tu_live_blocks();
    for (n = 0;; n++) {
        json_t *got = json_true();
        int rc;

        tu_fail_at(n, false);
        rc = wsr_store_list(f->s, "doc", 0, &got);
        tu_fail_at(-1, false);
        if (rc == 0 && !json_equal(got, want))
            fail_msg("allocation %ld failed: list answered %s", n, json_dumps(got, 0));
        if (rc == 0) {
            json_decref(got);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        if (rc != WSR_ENOMEM || got != NULL)
            fail_msg("allocation %ld failed: list returned %d with %p", n, rc, (void *)got);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 3);
    json_decref(want);
    json_decref(v);
}

/* ---- users ---- */

static void test_store__users_add_list_remove(void **state)
{
    fixture_t *f = *state;
    int64_t t0 = (int64_t)time(NULL), t1;
    json_t *list, *want;

    /* No users yet: an empty list, not an error. */
    list = NULL;
    assert_int_equal(wsr_user_list(f->s, &list), 0);
    assert_non_null(list);
    assert_true(json_is_array(list));
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_int_equal(wsr_user_add(f->s, "zo\xc3\xab", "", "hunter2hunter2"), 0);
    assert_int_equal(wsr_user_add(f->s, "alice", "admin,ops", "correct horse"), 0);
    t1 = (int64_t)time(NULL);
    /* The name is taken (whatever the password and roles). */
    assert_int_equal(wsr_user_add(f->s, "alice", "", "another password"), WSR_EEXIST);
    list = NULL;
    assert_int_equal(wsr_user_list(f->s, &list), 0);
    assert_non_null(list);
    assert_int_equal(json_array_size(list), 2);
    for (size_t i = 0; i < 2; i++) {
        json_int_t created =
            json_integer_value(json_object_get(json_array_get(list, i), "created"));

        assert_true(created >= t0 && created <= t1);
        json_object_del(json_array_get(list, i), "created");
    }
    want = json_loads("[{\"name\":\"alice\",\"roles\":[\"admin\",\"ops\"]},"
                      "{\"name\":\"zo\\u00eb\",\"roles\":[]}]",
                      0, NULL);
    assert_true(json_equal(list, want));
    json_decref(want);
    json_decref(list);
    /* Stored hashed, never in clear. */
    assert_int_equal(sql_int(f->s, "SELECT count(*) FROM wsr_users WHERE hash LIKE "
                                   "'$pbkdf2-sha256$600000$%' AND hash NOT LIKE '%horse%'"),
                     2);

    assert_int_equal(wsr_user_remove(f->s, "alice"), 0);
    assert_int_equal(wsr_user_remove(f->s, "alice"), WSR_ENOENT);
    assert_int_equal(wsr_user_remove(f->s, "nobody"), WSR_ENOENT);
    list = NULL;
    assert_int_equal(wsr_user_list(f->s, &list), 0);
    want = json_loads("[{\"name\":\"zo\\u00eb\",\"roles\":[]}]", 0, NULL);
    json_object_del(json_array_get(list, 0), "created");
    assert_true(json_equal(list, want));
    json_decref(want);
    json_decref(list);
    /* Her tokens are revoked: a marker that tokens issued until now fail. */
    assert_int_equal(sql_int(f->s, "SELECT count(*) FROM wsr_revoked WHERE jti = 'user:alice'"), 1);
    /* since in milliseconds: a user added again in the same second gets tokens that work. */
    assert_true(sql_int(f->s, "SELECT since FROM wsr_revoked WHERE jti = 'user:alice'") >=
                t0 * 1000);
    assert_true(
        sql_int(f->s, "SELECT exp - since / 1000 FROM wsr_revoked WHERE jti = 'user:alice'") >=
        30 * 24 * 3600);
}

static void test_store__bad_users_are_einval(void **state)
{
    fixture_t *f = *state;
    char long_name[80], long_password[1100];
    static const char *const names[] = {"",        "a b",     "a,b",     "tab\there", "nl\n",
                                        "del\x7f", "ctl\x01", "caf\xe9", "\xc3"};
    static const char *const roles[] = {"a b",     ",admin", "admin,,ops",
                                        "adm\tin", "x,\x7f", "ops,\xff"};

    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    memset(long_password, 'p', 1025);
    long_password[1025] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_int_equal(wsr_user_add(f->s, names[i], "", "long enough"), WSR_EINVAL);
    assert_int_equal(wsr_user_add(f->s, long_name, "", "long enough"), WSR_EINVAL);
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        assert_int_equal(wsr_user_add(f->s, "carol", roles[i], "long enough"), WSR_EINVAL);
    assert_int_equal(wsr_user_add(f->s, "carol", "", "1234567"), WSR_EINVAL);
    assert_int_equal(wsr_user_add(f->s, "carol", "", ""), WSR_EINVAL);
    assert_int_equal(wsr_user_add(f->s, "carol", "", long_password), WSR_EINVAL);
    /* Nothing was added. */
    assert_int_equal(sql_int(f->s, "SELECT count(*) FROM wsr_users"), 0);
}

static void test_store__user_list_allocation_failures_return_enomem(void **state)
{
    fixture_t *f = *state;
    static const char *const rows[][2] = {{"ann", "admin"}, {"ben", ""}, {"cid", "ops,dev"}};
    json_t *want;
    long live, n;

    /* Straight into the table: the list does not look at hashes. */
    for (size_t i = 0; i < 3; i++) {
        const char *texts[3] = {rows[i][0], rows[i][1], "$pbkdf2-sha256$x"};
        int64_t created = 1700000000;

        assert_int_equal(wsr__store_exec(f->s,
                                         "INSERT INTO wsr_users(name, roles, hash, created) "
                                         "VALUES(?1, ?2, ?3, ?4)",
                                         texts, 3, &created, 1),
                         0);
    }
    want = json_loads("[{\"name\":\"ann\",\"roles\":[\"admin\"],\"created\":1700000000},"
                      "{\"name\":\"ben\",\"roles\":[],\"created\":1700000000},"
                      "{\"name\":\"cid\",\"roles\":[\"ops\",\"dev\"],\"created\":1700000000}]",
                      0, NULL);
    live = tu_live_blocks();
    for (n = 0;; n++) {
        json_t *got = json_true();
        int rc;

        tu_fail_at(n, false);
        rc = wsr_user_list(f->s, &got);
        tu_fail_at(-1, false);
        /* Never a list with users missing: all of them, or WSR_ENOMEM and NULL. */
        if (rc == 0 && !json_equal(got, want))
            fail_msg("allocation %ld failed: the list is %s", n, json_dumps(got, 0));
        if (rc == 0) {
            json_decref(got);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        if (rc != WSR_ENOMEM || got != NULL)
            fail_msg("allocation %ld failed: user_list returned %d with %p", n, rc, (void *)got);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 5);
    json_decref(want);
}

/* The rows behind logins (wsr__store_query): whole rows or WSR_ENOMEM, never a
 * row short of a column (a login read a NULL hash from one). */
static void test_store__query_allocation_failures_return_enomem(void **state)
{
    fixture_t *f = *state;
    const char *args[1] = {"%"};
    json_t *want;
    long live, n;

    for (int i = 0; i < 3; i++) {
        char name[16], hash[64];
        const char *texts[3] = {name, "admin,ops", hash};
        int64_t created = 1700000000 + i;

        snprintf(name, sizeof(name), "user%d", i);
        snprintf(hash, sizeof(hash), "$pbkdf2-sha256$1000$salt%d$hash", i);
        assert_int_equal(wsr__store_exec(f->s,
                                         "INSERT INTO wsr_users(name, roles, hash, created) "
                                         "VALUES(?1, ?2, ?3, ?4)",
                                         texts, 3, &created, 1),
                         0);
    }
    want =
        json_loads("[[\"user0\",\"admin,ops\",\"$pbkdf2-sha256$1000$salt0$hash\",1700000000,null],"
                   "[\"user1\",\"admin,ops\",\"$pbkdf2-sha256$1000$salt1$hash\",1700000001,null],"
                   "[\"user2\",\"admin,ops\",\"$pbkdf2-sha256$1000$salt2$hash\",1700000002,null]]",
                   0, NULL);
    assert_non_null(want);
    live = tu_live_blocks();
    for (n = 0;; n++) {
        json_t *got = json_true();
        int rc;

        tu_fail_at(n, false);
        rc = wsr__store_query(f->s,
                              "SELECT name, roles, hash, created, NULL FROM wsr_users "
                              "WHERE name LIKE ?1 ORDER BY name",
                              args, 1, &got);
        tu_fail_at(-1, false);
        if (rc == 0 && !json_equal(got, want))
            fail_msg("allocation %ld failed: the query answered %s", n, json_dumps(got, 0));
        if (rc == 0) {
            json_decref(got);
            assert_int_equal(tu_live_blocks(), live);
            break;
        }
        if (rc != WSR_ENOMEM || got != NULL)
            fail_msg("allocation %ld failed: the query returned %d with %p", n, rc, (void *)got);
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 10);
    json_decref(want);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store__open_creates_the_file_and_its_directory),
        T(test_store__wal_mode_and_sync_level),
        T(test_store__reopen_keeps_data),
        T(test_store__newer_schema_is_refused),
        T(test_store__another_applications_database_is_refused),
        T(test_store__a_file_that_is_not_sqlite_is_refused),
        T(test_store__concurrent_opens_of_a_new_file_all_succeed),
        T(test_store__open_allocation_failures_return_enomem),
        T(test_store__json_types_round_trip),
        T(test_store__get_of_a_missing_key),
        T(test_store__an_unreadable_value_is_eio),
        T(test_store__a_key_that_is_not_utf8_fails_the_list_with_eio),
        T(test_store__a_broken_store_is_eio),
        T(test_store__put_replaces_and_delete_removes),
        T(test_store__increment),
        T(test_store__increment_of_a_non_integer_is_einval),
        T(test_store__increment_overflow_leaves_the_value),
        T(test_store__list_prefix_matches_literally),
        T(test_store__list_prefix_is_bytes_not_characters),
        T(test_store__list_limit),
        T(test_store__increments_from_several_handles_and_threads_add_up),
        T(test_store__kv_allocation_failures_return_enomem),
        T(test_store__users_add_list_remove),
        T(test_store__bad_users_are_einval),
        T(test_store__user_list_allocation_failures_return_enomem),
        T(test_store__query_allocation_failures_return_enomem),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
