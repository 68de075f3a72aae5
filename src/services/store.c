/* SPDX-License-Identifier: MIT */
/*
 * The store (include/wsrouter/store.h): one SQLite connection behind a mutex,
 * WAL journal, synchronous FULL unless asked otherwise, schema versioned with
 * PRAGMA user_version and migrated forward at open. Integers are kept as
 * SQLite integers (so increments are arithmetic), other JSON values as text.
 * It owns the connection and its prepared statements; it never logs values.
 */
#include "services/store_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/codec_int.h"
#include "core/json_int.h"

#define APPLICATION_ID 0x77737274 /* "wsrt" */

/* Each entry migrates the schema from version i to i + 1. */
static const char *const migrations[] = {
    "CREATE TABLE wsr_kv(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE wsr_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE wsr_users(name TEXT PRIMARY KEY, roles TEXT NOT NULL DEFAULT '',"
    " hash TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE wsr_revoked(jti TEXT PRIMARY KEY, exp INTEGER NOT NULL,"
    " since INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
};

typedef struct sq {
    wsr_store_t base; /* first: a wsr_store_t * is a sq_t * */
    pthread_mutex_t lock;
    sqlite3 *db; /* owned */
} sq_t;

static const wsr__store_ops_t sqlite_ops;
static void sqlite_close(wsr_store_t *store);

static sq_t *sq(wsr_store_t *store)
{
    return (sq_t *)store;
}

static int fail_sql(wsr_error_t *err, sqlite3 *db, const char *what)
{
    return wsr__error_set(err, WSR_EIO, "store: %s: %s", what,
                          db ? sqlite3_errmsg(db) : "out of memory");
}

/* Makes the directory holding `path` (one level: var/ in the default). */
static void make_parent(const char *path)
{
    char dir[PATH_MAX];
    char *slash;

    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
        return;
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return;
    *slash = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return; /* sqlite3_open reports the real problem */
}

/*
 * Runs `sql`, retrying for up to about 5 s while another connection holds a
 * lock: switching a new file to WAL needs one that SQLite does not wait for
 * with the busy handler (it answers SQLITE_BUSY at once to avoid a deadlock),
 * so two processes opening a new store together failed "database is locked".
 */
static int exec_retry(sqlite3 *db, const char *sql)
{
    int rc = SQLITE_BUSY;

    for (int i = 0; i < 500 && (rc == SQLITE_BUSY || rc == SQLITE_LOCKED); i++) {
        if (i > 0)
            sqlite3_sleep(10);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    return rc;
}

static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        rc = SQLITE_ERROR;
    sqlite3_finalize(st);
    return rc;
}

/* Refuses a database of another application before anything is changed in
 * it (the journal mode was switched to WAL first: a persistent change). */
static int check_owner(sqlite3 *db, wsr_error_t *err)
{
    int app = 0;

    if (pragma_int(db, "PRAGMA application_id", &app) != SQLITE_OK)
        return fail_sql(err, db, "setting it up");
    if (app != 0 && app != APPLICATION_ID)
        return wsr__error_set(err, WSR_EINVAL, "store: the database is not wsrouter's");
    return 0;
}

static int migrate(sqlite3 *db, wsr_error_t *err)
{
    int version = 0, rc = 0;
    const int latest = (int)WSR__ARRAY_SIZE(migrations);
    char sql[64];

    /* The version is read inside the IMMEDIATE transaction that migrates:
     * read before it, two processes opening a new file at once (a server and
     * `wsrouterd user add`) both saw version 0 and the second failed with
     * "table wsr_kv already exists". All of the migration, or none of it. */
    if (exec_retry(db, "BEGIN IMMEDIATE") != SQLITE_OK)
        return fail_sql(err, db, "reading the schema version");
    if (pragma_int(db, "PRAGMA user_version", &version) != SQLITE_OK)
        rc = fail_sql(err, db, "reading the schema version");
    else
        rc = check_owner(db, err); /* again: another process may have written it */
    if (rc == 0 && version > latest)
        rc = wsr__error_set(err, WSR_EINVAL,
                            "store: schema version %d is newer than this program's (%d)", version,
                            latest);
    for (; rc == 0 && version < latest; version++) {
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
        if (sqlite3_exec(db, migrations[version], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "PRAGMA application_id = 2004054644", NULL, NULL, NULL) != SQLITE_OK)
            rc = fail_sql(err, db, "migrating the schema");
    }
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fail_sql(err, db, "migrating the schema");
    if (rc != 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

wsr_store_t *wsr_store_open(const char *path, bool full_sync, wsr_error_t *err)
{
    sq_t *s = wsr__calloc(1, sizeof(*s));
    char pragmas[160];

    if (s == NULL) {
        wsr__error_set(err, WSR_ENOMEM, "store: out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    pthread_mutex_init(&s->lock, NULL);
    make_parent(path);
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        wsr__error_set(err, WSR_EIO, "store: cannot open %s: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA foreign_keys = ON;",
             full_sync ? "FULL" : "NORMAL");
    sqlite3_busy_timeout(s->db, 5000);
    if (check_owner(s->db, err) != 0)
        goto fail;
    if (exec_retry(s->db, pragmas) != SQLITE_OK) {
        fail_sql(err, s->db, "setting it up");
        goto fail;
    }
    if (migrate(s->db, err) != 0)
        goto fail;
    return &s->base;
fail:
    sqlite_close(&s->base);
    return NULL;
}

static void sqlite_close(wsr_store_t *store)
{
    sq_t *s = sq(store);

    sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->lock);
    wsr__free(s);
}

static sqlite3 *sqlite_lock(wsr_store_t *store)
{
    sq_t *s = sq(store);

    pthread_mutex_lock(&s->lock);
    return s->db;
}

static void sqlite_unlock(wsr_store_t *store)
{
    pthread_mutex_unlock(&sq(store)->lock);
}

/* ---- the key-value table ---- */

/* A failed SQLite call as a WSR_E* code: its own allocation failures are
 * WSR_ENOMEM, everything else WSR_EIO. */
static int sql_error(sqlite3 *db)
{
    return sqlite3_errcode(db) == SQLITE_NOMEM ? WSR_ENOMEM : WSR_EIO;
}

/*
 * Reads the column as JSON into *out (a new reference). Returns 0,
 * WSR_ENOMEM, or WSR_EIO for text that is not JSON (a row written through
 * wsr_store_lock, or a damaged file): that is not a memory problem, and
 * callers told to retry on WSR_ENOMEM would retry forever.
 */
static int column_json(sqlite3_stmt *st, int col, json_t **out)
{
    const char *text;
    wsr__json_error_t jerr;

    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
        *out = json_integer(sqlite3_column_int64(st, col));
        return *out ? 0 : WSR_ENOMEM;
    case SQLITE_NULL:
        *out = json_null();
        return 0;
    default:
        text = (const char *)sqlite3_column_text(st, col);
        if (text == NULL) { /* SQLite could not convert it: out of memory */
            *out = NULL;
            return WSR_ENOMEM;
        }
        /* Our parser, not json_loadb: jansson's error codes are unreliable
         * when memory runs out, and only ours tells that from bad text. It
         * takes U+0000 in strings (one was stored, so it loads) and nesting
         * to jansson's own limit, so whatever put wrote reads back. */
        *out = wsr__json_parse(text, (size_t)sqlite3_column_bytes(st, col), WSR__JSON_MAX_DEPTH,
                               &jerr);
        if (*out != NULL)
            return 0;
        return jerr.kind == WSR__JSON_NOMEM ? WSR_ENOMEM : WSR_EIO;
    }
}

static int sqlite_get(wsr_store_t *store, const char *key, json_t **value)
{
    sq_t *s = sq(store);
    sqlite3_stmt *st = NULL;
    int rc = WSR_EIO, step;

    *value = NULL;
    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM wsr_kv WHERE key = ?1", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = sql_error(s->db);
        goto out;
    }
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = column_json(st, 0, value);
    else if (step == SQLITE_DONE)
        rc = WSR_ENOENT;
    else
        rc = sql_error(s->db);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Binds a JSON value: integers as integers, the rest as compact JSON text. */
static int bind_json(sqlite3_stmt *st, int idx, const json_t *v)
{
    char *text;

    if (json_is_integer(v))
        return sqlite3_bind_int64(st, idx, json_integer_value(v)) == SQLITE_OK ? 0 : WSR_EIO;
    text = wsr__json_to_string(v);
    if (text == NULL)
        return WSR_ENOMEM;
    return sqlite3_bind_text(st, idx, text, -1, wsr__free) == SQLITE_OK ? 0 : WSR_EIO;
}

static int sqlite_put(wsr_store_t *store, const char *key, const json_t *value, bool only_new)
{
    sq_t *s = sq(store);
    sqlite3_stmt *st = NULL;
    int rc = WSR_EIO;

    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db,
                           only_new ? "INSERT INTO wsr_kv(key, value) VALUES(?1, ?2)"
                                    : "INSERT OR REPLACE INTO wsr_kv(key, value) VALUES(?1, ?2)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) == SQLITE_OK) {
        rc = bind_json(st, 2, value);
        if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
            rc = sqlite3_errcode(s->db) == SQLITE_CONSTRAINT ? WSR_EEXIST : WSR_EIO;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sqlite_del(wsr_store_t *store, const char *key)
{
    sq_t *s = sq(store);
    sqlite3_stmt *st = NULL;
    int rc = WSR_EIO;

    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db, "DELETE FROM wsr_kv WHERE key = ?1", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_DONE)
        rc = sqlite3_changes(s->db) > 0 ? 0 : WSR_ENOENT;
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Reads the integer at `key` inside the caller's transaction. */
static int read_int(sqlite3 *db, const char *key, int64_t *v)
{
    sqlite3_stmt *st = NULL;
    int rc = WSR_EIO, step;

    *v = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM wsr_kv WHERE key = ?1", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) == SQLITE_OK) {
        step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            rc = 0;
        } else if (step == SQLITE_ROW) {
            rc = sqlite3_column_type(st, 0) == SQLITE_INTEGER ? 0 : WSR_EINVAL;
            *v = sqlite3_column_int64(st, 0);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static int sqlite_increment(wsr_store_t *store, const char *key, int64_t delta, int64_t *result)
{
    sq_t *s = sq(store);
    sqlite3_stmt *st = NULL;
    int64_t v;
    int rc;

    pthread_mutex_lock(&s->lock);
    /* IMMEDIATE: another process on the same file waits rather than races. */
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        pthread_mutex_unlock(&s->lock);
        return WSR_EIO;
    }
    rc = read_int(s->db, key, &v);
    if (rc == 0 && __builtin_add_overflow(v, delta, &v))
        rc = WSR_EOVERFLOW;
    if (rc == 0 &&
        (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO wsr_kv(key, value) VALUES(?1, ?2)", -1,
                            &st, NULL) != SQLITE_OK ||
         sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
         sqlite3_bind_int64(st, 2, v) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE))
        rc = WSR_EIO;
    sqlite3_finalize(st);
    if (rc == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = WSR_EIO;
    if (rc != 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    if (rc == 0)
        *result = v;
    return rc;
}

/* Adds the current row to `obj` when its key starts with `prefix`. Returns 0,
 * 1 at the first key past the prefix (the scan is in key order), or an error. */
static int list_row(sqlite3_stmt *st, const char *prefix, size_t plen, json_t *obj)
{
    const char *key = (const char *)sqlite3_column_text(st, 0);
    json_t *v;
    int rc;

    if (key == NULL)
        return WSR_ENOMEM; /* keys are never NULL: SQLite could not convert it */
    if ((size_t)sqlite3_column_bytes(st, 0) < plen || memcmp(key, prefix, plen) != 0)
        return 1;
    /* A value that cannot be read fails the list: never a partial one. */
    rc = column_json(st, 1, &v);
    if (rc != 0)
        return rc;
    if (json_object_set_new(obj, key, v) == 0)
        return 0;
    /* jansson refuses a member name that is not UTF-8 (a key put by C code). */
    return wsr__utf8_valid((const unsigned char *)key, strlen(key)) ? WSR_ENOMEM : WSR_EIO;
}

static int sqlite_list(wsr_store_t *store, const char *prefix, size_t limit, json_t **out)
{
    sq_t *s = sq(store);
    sqlite3_stmt *st = NULL;
    json_t *obj = json_object();
    size_t n = 0, plen = strlen(prefix);
    int rc = 0, step;

    *out = NULL;
    if (obj == NULL)
        return WSR_ENOMEM;
    pthread_mutex_lock(&s->lock);
    /* A range scan on the primary key from the prefix on, in byte order
     * (BINARY), stopping at the first key without it: not LIKE, which treats
     * % and _, and not substr(), which counts characters, not bytes. */
    if (sqlite3_prepare_v2(s->db, "SELECT key, value FROM wsr_kv WHERE key >= ?1 ORDER BY key", -1,
                           &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = sql_error(s->db);
        goto out;
    }
    while (rc == 0 && (limit == 0 || n < limit)) {
        step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        rc = step == SQLITE_ROW ? list_row(st, prefix, plen, obj) : sql_error(s->db);
        n++;
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

/* ---- wsrouter's own tables (store_int.h) ---- */

static int exec(sq_t *s, const char *sql, const char *const *texts, size_t ntexts,
                const int64_t *ints, size_t nints)
{
    sqlite3_stmt *st = NULL;
    int rc = WSR_EIO;
    size_t i;

    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        rc = 0;
        for (i = 0; rc == 0 && i < ntexts; i++)
            if (sqlite3_bind_text(st, (int)i + 1, texts[i], -1, SQLITE_STATIC) != SQLITE_OK)
                rc = WSR_EIO;
        for (i = 0; rc == 0 && i < nints; i++)
            if (sqlite3_bind_int64(st, (int)(ntexts + i) + 1, ints[i]) != SQLITE_OK)
                rc = WSR_EIO;
        if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
            rc = sqlite3_errcode(s->db) == SQLITE_CONSTRAINT ? WSR_EEXIST : WSR_EIO;
        if (rc == 0)
            rc = sqlite3_changes(s->db) > 0 ? 0 : WSR_ENOENT;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* The current row as an array of integers, strings and nulls, appended to
 * `rows`. Returns 0 or WSR_ENOMEM. */
static int query_row(sqlite3_stmt *st, json_t *rows)
{
    json_t *row = json_array();
    int c, ncol = sqlite3_column_count(st);

    /* A column that could not be added fails the query: a short row made
     * callers read NULL where a hash or a key was expected. */
    for (c = 0; row != NULL && c < ncol; c++) {
        int type = sqlite3_column_type(st, c);
        json_t *v = type == SQLITE_INTEGER ? json_integer(sqlite3_column_int64(st, c))
                    : type == SQLITE_NULL  ? json_null()
                                           : json_string((const char *)sqlite3_column_text(st, c));

        if (json_array_append_new(row, v) != 0)
            break;
    }
    if (row == NULL || c < ncol) {
        json_decref(row);
        return WSR_ENOMEM;
    }
    return json_array_append_new(rows, row) == 0 ? 0 : WSR_ENOMEM; /* it took the row anyway */
}

static int query(sq_t *s, const char *sql, const char *const *texts, size_t ntexts, json_t **out)
{
    sqlite3_stmt *st = NULL;
    json_t *rows = json_array();
    int rc = 0, step;

    *out = NULL;
    if (rows == NULL)
        return WSR_ENOMEM;
    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = sql_error(s->db);
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < ntexts; i++)
        if (sqlite3_bind_text(st, (int)i + 1, texts[i], -1, SQLITE_STATIC) != SQLITE_OK)
            rc = sql_error(s->db);
    while (rc == 0 && (step = sqlite3_step(st)) != SQLITE_DONE)
        rc = step == SQLITE_ROW ? query_row(st, rows) : sql_error(s->db);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    if (rc != 0) {
        json_decref(rows);
        return rc;
    }
    *out = rows;
    return 0;
}

int wsr__store_exec(wsr_store_t *s, const char *sql, const char *const *texts, size_t ntexts,
                    const int64_t *ints, size_t nints)
{
    return s->ops == &sqlite_ops ? exec(sq(s), sql, texts, ntexts, ints, nints) : WSR_EIO;
}

int wsr__store_query(wsr_store_t *s, const char *sql, const char *const *texts, size_t ntexts,
                     json_t **out)
{
    *out = NULL;
    return s->ops == &sqlite_ops ? query(sq(s), sql, texts, ntexts, out) : WSR_EIO;
}

/* ---- users and revocations in SQLite ---- */

static int sqlite_user_find(wsr_store_t *s, const char *name, json_t **row)
{
    const char *args[1] = {name};
    json_t *rows;
    int rc = query(sq(s), "SELECT roles, hash FROM wsr_users WHERE name = ?1", args, 1, &rows);

    *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return rc;
}

static int sqlite_user_insert(wsr_store_t *s, const char *name, const char *roles, const char *hash,
                              int64_t created)
{
    const char *texts[3] = {name, roles, hash};

    return exec(sq(s), "INSERT INTO wsr_users(name, roles, hash, created) VALUES(?1, ?2, ?3, ?4)",
                texts, 3, &created, 1);
}

static int sqlite_user_delete(wsr_store_t *s, const char *name)
{
    const char *texts[1] = {name};

    return exec(sq(s), "DELETE FROM wsr_users WHERE name = ?1", texts, 1, NULL, 0);
}

static int sqlite_user_list(wsr_store_t *s, json_t **rows)
{
    return query(sq(s), "SELECT name, roles, created FROM wsr_users ORDER BY name", NULL, 0, rows);
}

static int sqlite_revoke(wsr_store_t *s, const char *id, int64_t exp, int64_t since)
{
    const char *texts[1] = {id};
    int64_t ints[2] = {exp, since};

    return exec(sq(s), "INSERT OR REPLACE INTO wsr_revoked(jti, exp, since) VALUES(?1, ?2, ?3)",
                texts, 1, ints, 2);
}

static int sqlite_revoked(wsr_store_t *s, int64_t now, json_t **out)
{
    char at[24];
    const char *args[1] = {at};
    json_t *rows, *set, *row;
    size_t i;
    int rc;

    *out = NULL;
    snprintf(at, sizeof(at), "%lld", (long long)now);
    rc = query(sq(s),
               "SELECT jti, CASE WHEN since > 0 THEN since ELSE exp END "
               "FROM wsr_revoked WHERE exp > CAST(?1 AS INTEGER)",
               args, 1, &rows);
    if (rc != 0)
        return rc;
    set = json_object();
    json_array_foreach(rows, i, row)
    {
        /* All of them or none (auth.c relies on it). */
        if (set != NULL && json_object_set(set, json_string_value(json_array_get(row, 0)),
                                           json_array_get(row, 1)) != 0) {
            json_decref(set);
            set = NULL;
        }
    }
    json_decref(rows);
    *out = set;
    return set != NULL ? 0 : WSR_ENOMEM;
}

static int sqlite_prune(wsr_store_t *s, int64_t now)
{
    int rc = exec(sq(s), "DELETE FROM wsr_revoked WHERE exp <= ?1", NULL, 0, &now, 1);

    return rc == WSR_ENOENT ? 0 : rc;
}

static bool sqlite_available(wsr_store_t *s)
{
    (void)s;
    return true;
}

static const wsr__store_ops_t sqlite_ops = {
    .close = sqlite_close,
    .get = sqlite_get,
    .put = sqlite_put,
    .del = sqlite_del,
    .increment = sqlite_increment,
    .list = sqlite_list,
    .lock = sqlite_lock,
    .unlock = sqlite_unlock,
    .user_find = sqlite_user_find,
    .user_insert = sqlite_user_insert,
    .user_delete = sqlite_user_delete,
    .user_list = sqlite_user_list,
    .revoke = sqlite_revoke,
    .revoked = sqlite_revoked,
    .prune = sqlite_prune,
    .available = sqlite_available,
};

/* ---- the store's operations, whichever the backend ---- */

void wsr_store_close(wsr_store_t *s)
{
    if (s != NULL)
        s->ops->close(s);
}

int wsr_store_get(wsr_store_t *s, const char *key, json_t **value)
{
    *value = NULL;
    return s->ops->get(s, key, value);
}

int wsr_store_put(wsr_store_t *s, const char *key, const json_t *value)
{
    return s->ops->put(s, key, value, false);
}

int wsr__store_put_new(wsr_store_t *s, const char *key, const json_t *value)
{
    return s->ops->put(s, key, value, true);
}

int wsr_store_delete(wsr_store_t *s, const char *key)
{
    return s->ops->del(s, key);
}

int wsr_store_increment(wsr_store_t *s, const char *key, int64_t delta, int64_t *result)
{
    return s->ops->increment(s, key, delta, result);
}

int wsr_store_list(wsr_store_t *s, const char *prefix, size_t limit, json_t **out)
{
    *out = NULL;
    return s->ops->list(s, prefix, limit, out);
}

sqlite3 *wsr_store_lock(wsr_store_t *s)
{
    return s->ops->lock(s);
}

void wsr_store_unlock(wsr_store_t *s)
{
    s->ops->unlock(s);
}

bool wsr__store_available(wsr_store_t *s)
{
    return s->ops->available(s);
}

int wsr__store_user_find(wsr_store_t *s, const char *name, json_t **row)
{
    *row = NULL;
    return s->ops->user_find(s, name, row);
}

int wsr__store_user_insert(wsr_store_t *s, const char *name, const char *roles, const char *hash,
                           int64_t created)
{
    return s->ops->user_insert(s, name, roles, hash, created);
}

int wsr__store_user_delete(wsr_store_t *s, const char *name)
{
    return s->ops->user_delete(s, name);
}

int wsr__store_user_list(wsr_store_t *s, json_t **rows)
{
    *rows = NULL;
    return s->ops->user_list(s, rows);
}

int wsr__store_revoke(wsr_store_t *s, const char *id, int64_t exp, int64_t since)
{
    return s->ops->revoke(s, id, exp, since);
}

int wsr__store_revoked(wsr_store_t *s, int64_t now, json_t **set)
{
    *set = NULL;
    return s->ops->revoked(s, now, set);
}

int wsr__store_prune(wsr_store_t *s, int64_t now)
{
    return s->ops->prune(s, now);
}
