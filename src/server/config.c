/* SPDX-License-Identifier: MIT */
/*
 * Configuration: a JSON file and command-line flags, both applied through one
 * table of options (name, type, offset into wsr_server_config_t, range), so a
 * flag and a file key are validated the same way. A file is applied to a copy
 * and committed only when every key is valid; errors name the file, the line
 * and column of the key, and the key. A wsr_config_t owns the settings it
 * fills and every string the loader allocated for them; keys a program
 * adds for itself (wsr_config_add_key) are read and validated alongside.
 */
#include "wsrouter/server.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/json_int.h"
#include "server/ratelimit_int.h"

typedef enum opt_type {
    OPT_STRING,
    OPT_INT,
    OPT_UINT,
    OPT_SIZE,
    OPT_BOOL,
    OPT_ENUM, /* a name from `names`, stored as its index (an int) */
    OPT_RATE  /* "1000/s", "20000/min", a number per second, "off": a double */
} opt_type_t;

typedef struct option {
    const char *key;
    opt_type_t type;
    size_t offset;
    long long min, max;
    const char *const *names; /* OPT_ENUM: the accepted names, NULL-terminated */
} option_t;

#define OPT(key, type, field, min, max)                                                            \
    {                                                                                              \
        key, type, offsetof(wsr_server_config_t, field), min, max, NULL                            \
    }
#define OPT_NAMES(key, field, names)                                                               \
    {                                                                                              \
        key, OPT_ENUM, offsetof(wsr_server_config_t, field), 0, 0, names                           \
    }

static const char *const log_levels[] = {"err", "warn", "notice", "info", "debug", NULL};
static const char *const client_auth_modes[] = {"off", "optional", "required", NULL};
static const char *const sync_modes[] = {"full", "normal", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

static const option_t options[] = {
    OPT("host", OPT_STRING, host, 0, 0),
    OPT("port", OPT_INT, port, 0, 65535),
    OPT_NAMES("log_level", log_level, log_levels),
    OPT("max_message", OPT_SIZE, max_message, 16, 1LL << 30),
    OPT("max_outbound", OPT_SIZE, max_outbound, 1024, 1LL << 32),
    OPT("max_depth", OPT_UINT, max_depth, 1, WSR__JSON_MAX_DEPTH),
    OPT("builtins", OPT_BOOL, builtins, 0, 1),
    OPT("io_threads", OPT_UINT, io_threads, 0, 256),
    OPT("threads", OPT_UINT, threads, 1, 1024),
    OPT("queue_size", OPT_UINT, queue_size, 1, 1 << 20),
    OPT("request_timeout_ms", OPT_UINT, request_timeout_ms, 1, 86400000),
    OPT("shutdown_timeout_ms", OPT_UINT, shutdown_timeout_ms, 0, 3600000),
    OPT("www", OPT_STRING, www, 0, 0),
    OPT("pubsub", OPT_BOOL, pubsub, 0, 1),
    OPT("max_subscriptions", OPT_UINT, max_subscriptions, 0, 1000000),
    OPT("max_connections", OPT_UINT, max_connections, 0, 10000000),
    OPT("max_connections_per_ip", OPT_UINT, max_connections_per_ip, 0, 10000000),
    OPT("tls_cert", OPT_STRING, tls_cert, 0, 0),
    OPT("tls_key", OPT_STRING, tls_key, 0, 0),
    OPT("tls_port", OPT_INT, tls_port, 0, 65535),
    OPT("tls_only", OPT_BOOL, tls_only, 0, 1),
    OPT("tls_client_ca", OPT_STRING, tls_client_ca, 0, 0),
    OPT_NAMES("tls_client_auth", tls_client_auth, client_auth_modes),
    OPT("origins", OPT_STRING, origins, 0, 0),
    OPT("handshake_timeout_ms", OPT_UINT, handshake_timeout_ms, 100, 600000),
    OPT("max_header_bytes", OPT_UINT, max_header_bytes, 1024, 65536),
    OPT("idle_ping_ms", OPT_UINT, idle_ping_ms, 0, 86400000),
    OPT("idle_close_ms", OPT_UINT, idle_close_ms, 0, 86400000),
    OPT("store", OPT_STRING, store, 0, 0),
    OPT_NAMES("store_sync", store_sync, sync_modes),
    OPT("jwt_secret", OPT_STRING, jwt_secret, 0, 0),
    OPT("token_ttl_s", OPT_UINT, token_ttl_s, 60, 2592000),
    OPT("trusted_proxies", OPT_STRING, trusted_proxies, 0, 0),
    OPT("jwt_keys", OPT_STRING, jwt_keys, 0, 0),
    OPT("jwt_jwks", OPT_STRING, jwt_jwks, 0, 0),
    OPT("jwt_issuer", OPT_STRING, jwt_issuer, 0, 0),
    OPT("jwt_audience", OPT_STRING, jwt_audience, 0, 0),
    OPT("jwt_leeway_s", OPT_UINT, jwt_leeway_s, 0, 3600),
    OPT("jwt_roles_claim", OPT_STRING, jwt_roles_claim, 0, 0),
    OPT("max_call_input", OPT_UINT, max_call_input, 1, 100000),
    OPT("raw_port", OPT_INT, raw_port, -1, 65535),
    OPT("raw_tls_port", OPT_INT, raw_tls_port, -1, 65535),
    OPT("rate_limit_connection", OPT_RATE, rate_limit_connection, 0, 0),
    OPT("rate_limit_address", OPT_RATE, rate_limit_address, 0, 0),
    OPT("rate_limit_user", OPT_RATE, rate_limit_user, 0, 0),
    OPT("rate_burst", OPT_UINT, rate_burst, 0, 100000000),
    OPT("history_size", OPT_UINT, history_size, 0, 1000000),
    OPT("history_ttl_s", OPT_UINT, history_ttl_s, 1, 604800),
    OPT("engine", OPT_STRING, engine, 0, 0),
    OPT("engine_password", OPT_STRING, engine_password, 0, 0),
    OPT("access_log", OPT_BOOL, access_log, 0, 1),
    OPT_NAMES("log_format", log_format, log_formats),
    OPT("log_lws", OPT_BOOL, log_lws, 0, 1),
    OPT("ops_token", OPT_STRING, ops_token, 0, 0),
    OPT("compression", OPT_BOOL, compression, 0, 1),
    OPT("compression_min_bytes", OPT_UINT, compression_min_bytes, 0, 8192),
    OPT("echo_mode", OPT_BOOL, echo_mode, 0, 1),
    OPT("ops_host", OPT_STRING, ops_host, 0, 0),
    OPT("ops_port", OPT_INT, ops_port, -1, 65535),
};

#define EXTRA_MAX     16
#define EXTRA_KEY_MAX 32

/* A string the loader allocated; wsr_config_t.owned is the head of their list. */
typedef struct owned_str {
    struct owned_str *next;
    char text[];
} owned_str_t;

/* Where a key's value was read: line and column in `file` (0: not from a file). */
typedef struct place {
    const char *file; /* a string of the config's `owned` list */
    int line, column;
} place_t;

#define NPLACES (WSR__ARRAY_SIZE(options) + EXTRA_MAX)

/* What a file or a flag changes: committed as a whole, or not at all. */
typedef struct target {
    wsr_server_config_t cfg;
    const char *extra[EXTRA_MAX]; /* values of the program's own keys */
    place_t where[NPLACES];       /* the options' first, then the program's keys */
} target_t;

struct wsr_config {
    target_t now;
    owned_str_t *owned; /* owned: every string in `now` that the loader made */
    char extra_keys[EXTRA_MAX][EXTRA_KEY_MAX];
    size_t nextra;
};

/* The index in target_t.where of option `o`, or of program key `extra`. */
static size_t place_index(const struct option *o, int extra);

static const option_t *find_option(const char *key)
{
    for (size_t i = 0; i < WSR__ARRAY_SIZE(options); i++)
        if (strcmp(options[i].key, key) == 0)
            return &options[i];
    return NULL;
}

/* The index of a program key, or -1. */
static int find_extra(const wsr_config_t *c, const char *key)
{
    for (size_t i = 0; i < c->nextra; i++)
        if (strcmp(c->extra_keys[i], key) == 0)
            return (int)i;
    return -1;
}

static const char *keep_string(wsr_config_t *c, const char *s)
{
    size_t n = strlen(s);
    owned_str_t *o = wsr__malloc(sizeof(*o) + n + 1);

    if (o == NULL)
        return NULL;
    memcpy(o->text, s, n + 1);
    o->next = c->owned;
    c->owned = o;
    return o->text;
}

/* Frees the strings kept since `stop` (a failed load's, never committed). */
static void free_owned_until(wsr_config_t *c, owned_str_t *stop)
{
    owned_str_t *o = c->owned, *next;

    for (; o != NULL && o != stop; o = next) {
        next = o->next;
        wsr__free(o);
    }
    c->owned = o;
}

wsr_config_t *wsr_config_new(void)
{
    wsr_config_t *c = wsr__calloc(1, sizeof(*c));

    if (c != NULL)
        wsr_server_config_init(&c->now.cfg);
    return c;
}

void wsr_config_free(wsr_config_t *c)
{
    if (c == NULL)
        return;
    free_owned_until(c, NULL);
    wsr__free(c);
}

wsr_server_config_t *wsr_config_settings(wsr_config_t *c)
{
    return &c->now.cfg;
}

int wsr_config_add_key(wsr_config_t *c, const char *key)
{
    size_t n = strlen(key);

    if (n == 0 || n >= EXTRA_KEY_MAX || find_option(key) != NULL || find_extra(c, key) >= 0)
        return WSR_EINVAL;
    if (c->nextra == EXTRA_MAX)
        return WSR_EOVERFLOW;
    memcpy(c->extra_keys[c->nextra++], key, n + 1);
    return 0;
}

const char *wsr_config_get(const wsr_config_t *c, const char *key)
{
    int i = find_extra(c, key);

    return i >= 0 ? c->now.extra[i] : NULL;
}

/* Parses "1048576", "64K", "1M", "1MiB", "2G" into bytes. */
static bool parse_size(const char *s, long long *out)
{
    char *end;
    long long v, unit = 1;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || errno != 0 || v < 0)
        return false;
    if (*end == 'K' || *end == 'k')
        unit = 1024;
    else if (*end == 'M' || *end == 'm')
        unit = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        unit = 1024LL * 1024 * 1024;
    if (unit > 1) {
        end++;
        /* "iB" only after a unit: "16iB" used to read as 16. */
        if (end[0] == 'i' && end[1] == 'B')
            end += 2;
        else if (end[0] == 'B')
            end++;
        /* "9999999999G" used to overflow (undefined behaviour). */
        if (v > LLONG_MAX / unit)
            return false;
        v *= unit;
    } else if (end[0] == 'B') {
        end++;
    }
    *out = v;
    return *end == '\0';
}

static void range_text(const option_t *o, char *out, size_t size)
{
    switch (o == NULL ? OPT_STRING : o->type) {
    case OPT_BOOL:
        snprintf(out, size, "must be true or false");
        break;
    case OPT_STRING:
        snprintf(out, size, "must be a string");
        break;
    case OPT_ENUM: {
        size_t used = (size_t)snprintf(out, size, "must be one of");

        for (size_t i = 0; o->names[i] != NULL && used < size; i++)
            used += (size_t)snprintf(out + used, size - used, "%s %s", i ? "," : "", o->names[i]);
        break;
    }
    case OPT_RATE:
        snprintf(out, size,
                 "must be a rate: \"1000/s\", \"20000/min\", \"100/h\", a number per second, "
                 "or \"off\" (0)");
        break;
    case OPT_SIZE:
        snprintf(out, size,
                 "must be a size in bytes from %lld to %lld (a number, or \"64K\", \"1M\")", o->min,
                 o->max);
        break;
    default:
        snprintf(out, size, "must be an integer from %lld to %lld", o->min, o->max);
        break;
    }
}

/* Stores `v` into the field; returns false when out of range. */
static bool store_number(wsr_server_config_t *cfg, const option_t *o, long long v)
{
    void *field = (char *)cfg + o->offset;

    if (v < o->min || v > o->max)
        return false;
    if (o->type == OPT_INT)
        *(int *)field = (int)v;
    else if (o->type == OPT_UINT)
        *(unsigned *)field = (unsigned)v;
    else
        *(size_t *)field = (size_t)v;
    return true;
}

/* Sets a string field from JSON (a string, or null / "" for none). */
static int apply_string(wsr_config_t *c, const char **field, json_t *v)
{
    const char *copy;

    if (!json_is_string(v) && !json_is_null(v))
        return WSR_EINVAL;
    if (json_is_null(v) || json_string_length(v) == 0) {
        *field = NULL;
        return 0;
    }
    /* The copy goes in only once it exists: the old value stays otherwise. */
    copy = keep_string(c, json_string_value(v));
    if (copy == NULL)
        return WSR_ENOMEM;
    *field = copy;
    return 0;
}

/* Applies one value given as JSON to `t`: option `o`, or the program key
 * `extra` when `o` is NULL. Returns 0, WSR_EINVAL or WSR_ENOMEM. */
static int apply_json(wsr_config_t *c, target_t *t, const option_t *o, int extra, json_t *v)
{
    void *field;
    long long n;

    if (o == NULL)
        return apply_string(c, &t->extra[extra], v);
    field = (char *)&t->cfg + o->offset;
    switch (o->type) {
    case OPT_STRING:
        return apply_string(c, (const char **)field, v);
    case OPT_BOOL:
        if (!json_is_boolean(v))
            return WSR_EINVAL;
        *(bool *)field = json_is_true(v);
        return 0;
    case OPT_ENUM:
        for (n = 0; json_is_string(v) && o->names[n] != NULL; n++)
            if (strcmp(o->names[n], json_string_value(v)) == 0) {
                *(int *)field = (int)n;
                return 0;
            }
        return WSR_EINVAL;
    case OPT_RATE:
        if (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) <= 1e9)
            *(double *)field = json_number_value(v);
        else if (!json_is_string(v) || !wsr__rate_parse(json_string_value(v), (double *)field))
            return WSR_EINVAL;
        return 0;
    default:
        if (json_is_integer(v))
            n = json_integer_value(v);
        else if (!(o->type == OPT_SIZE && json_is_string(v) &&
                   parse_size(json_string_value(v), &n)))
            return WSR_EINVAL;
        return store_number(&t->cfg, o, n) ? 0 : WSR_EINVAL;
    }
}

/* True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), as jansson requires of a string. */
static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != 0) {
        unsigned n = *p < 0x80                  ? 0
                     : *p >= 0xC2 && *p <= 0xDF ? 1
                     : (*p & 0xF0) == 0xE0      ? 2
                     : *p >= 0xF0 && *p <= 0xF4 ? 3
                                                : 4;
        uint32_t cp = n == 0 ? *p : (uint32_t)(*p & (0x3Fu >> n));

        if (n == 4)
            return false;
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (uint32_t)(p[i] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        p += n + 1;
    }
    return true;
}

int wsr_config_set(wsr_config_t *c, const char *key, const char *value, wsr_error_t *err)
{
    const option_t *o = find_option(key);
    int extra = o == NULL ? find_extra(c, key) : -1;
    char range[160];
    json_t *v = NULL;
    long long n;
    int rc;

    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        snprintf(err->key, sizeof(err->key), "%s", key);
    }
    if (o == NULL && extra < 0)
        return wsr__error_set(err, WSR_ENOENT, "unknown option %s", key);
    switch (o == NULL ? OPT_STRING : o->type) {
    case OPT_STRING:
    case OPT_ENUM:
    case OPT_RATE:
        v = json_string(value);
        break;
    case OPT_BOOL:
        v = strcmp(value, "true") == 0    ? json_true()
            : strcmp(value, "false") == 0 ? json_false()
                                          : json_null();
        break;
    default:
        v = parse_size(value, &n) && (o->type == OPT_SIZE || strpbrk(value, "KkMmGgB") == NULL)
                ? json_integer(n)
                : json_null();
        break;
    }
    /* json_string refuses what is not UTF-8: a value, not memory. */
    if (v == NULL && !utf8_valid(value))
        return wsr__error_set(err, WSR_EINVAL, "option %s must be UTF-8 text", key);
    if (v == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory");
    rc = apply_json(c, &c->now, o, extra, v);
    json_decref(v);
    if (rc == 0) /* a flag's value: from no file */
        memset(&c->now.where[place_index(o, extra)], 0, sizeof(place_t));
    if (rc == WSR_EINVAL) {
        range_text(o, range, sizeof(range));
        return wsr__error_set(err, rc, "option %s %s (got \"%.80s\")", key, range, value);
    }
    return rc ? wsr__error_set(err, rc, "out of memory") : 0;
}

static size_t place_index(const option_t *o, int extra)
{
    return o != NULL ? (size_t)(o - options) : WSR__ARRAY_SIZE(options) + (size_t)extra;
}

/* True when option `o` holds the same value in `a` and `b`. */
static bool same_value(const wsr_server_config_t *a, const wsr_server_config_t *b,
                       const option_t *o)
{
    const void *fa = (const char *)a + o->offset, *fb = (const char *)b + o->offset;
    const char *sa, *sb;

    switch (o->type) {
    case OPT_STRING:
        sa = *(const char *const *)fa;
        sb = *(const char *const *)fb;
        return sa == sb || (sa != NULL && sb != NULL && strcmp(sa, sb) == 0);
    case OPT_INT:
    case OPT_ENUM:
        return *(const int *)fa == *(const int *)fb;
    case OPT_UINT:
        return *(const unsigned *)fa == *(const unsigned *)fb;
    case OPT_SIZE:
        return *(const size_t *)fa == *(const size_t *)fb;
    case OPT_BOOL:
        return *(const bool *)fa == *(const bool *)fb;
    case OPT_RATE:
        return *(const double *)fa == *(const double *)fb;
    }
    return false;
}

/* Appends `key` to the comma-separated list in `out`. */
static void list_key(char *out, size_t size, size_t *used, const char *key)
{
    int n;

    if (*used >= size)
        return;
    n = snprintf(out + *used, size - *used, "%s%s", *used ? ", " : "", key);
    *used = n < 0 ? size : WSR__MIN(size, *used + (size_t)n);
}

size_t wsr_config_diff(const wsr_config_t *a, const wsr_config_t *b, char *out, size_t size)
{
    size_t count = 0, used = 0;

    if (size > 0)
        out[0] = '\0';
    for (size_t i = 0; i < WSR__ARRAY_SIZE(options); i++)
        if (!same_value(&a->now.cfg, &b->now.cfg, &options[i])) {
            list_key(out, size, &used, options[i].key);
            count++;
        }
    for (size_t i = 0; i < a->nextra; i++) {
        const char *va = a->now.extra[i], *vb = wsr_config_get(b, a->extra_keys[i]);

        if (!(va == vb || (va != NULL && vb != NULL && strcmp(va, vb) == 0))) {
            list_key(out, size, &used, a->extra_keys[i]);
            count++;
        }
    }
    return count;
}

int wsr_config_where(const wsr_config_t *c, const char *key, char *buf, size_t size)
{
    const option_t *o = find_option(key);
    int extra = o == NULL ? find_extra(c, key) : -1;
    const place_t *p;

    if (o == NULL && extra < 0)
        return WSR_ENOENT;
    p = &c->now.where[place_index(o, extra)];
    if (p->file == NULL || p->line == 0)
        return WSR_ENOENT;
    snprintf(buf, size, "%s:%d:%d", p->file, p->line, p->column);
    return 0;
}

/* Finds the line and column of top-level key `key` in the JSON text, for
 * error messages; leaves them 0 when it cannot tell. */
static void key_position(const char *text, size_t n, const char *key, int *line, int *col)
{
    size_t klen = strlen(key), i;
    int depth = 0, l = 1, c = 1;
    bool expect_key = false;

    *line = *col = 0;
    for (i = 0; i < n; i++, c++) {
        char ch = text[i];

        if (ch == '\n') {
            l++;
            c = 0;
        } else if (ch == '{' || ch == '[') {
            depth++;
            expect_key = ch == '{' && depth == 1;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == ',') {
            expect_key = depth == 1;
        } else if (ch == '"') {
            size_t start = i + 1;
            int at_col = c;

            /* Columns count characters, as jansson's do, not bytes. */
            for (i++; i < n && text[i] != '"'; i++) {
                if (text[i] == '\\' && i + 1 < n) {
                    i++;
                    c++;
                }
                c += ((unsigned char)text[i] & 0xC0) != 0x80;
            }
            c++;
            if (expect_key && i - start == klen && memcmp(text + start, key, klen) == 0) {
                *line = l;
                *col = at_col;
                return;
            }
            expect_key = false;
        }
    }
}

static int config_error(wsr_error_t *err, int code, const char *path, const char *text, size_t n,
                        const char *key, const char *fmt, ...) WSR_PRINTF(7, 8);
static int config_error(wsr_error_t *err, int code, const char *path, const char *text, size_t n,
                        const char *key, const char *fmt, ...)
{
    char msg[sizeof(err->text)]; /* a longer one is cut by wsr__error_set below */
    va_list ap;
    int line = 0, col = 0;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (key != NULL && text != NULL)
        key_position(text, n, key, &line, &col);
    if (err == NULL)
        return code;
    memset(err, 0, sizeof(*err));
    snprintf(err->source, sizeof(err->source), "%s", path);
    snprintf(err->key, sizeof(err->key), "%s", key ? key : "");
    err->line = line;
    err->column = col;
    if (line == 0) /* not about a place in the file (it could not be read) */
        return wsr__error_set(err, code, "%s: %s", path, msg);
    return wsr__error_set(err, code, "%s:%d:%d: %s", path, line, col, msg);
}

static int read_file(const char *path, char **text, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    wsr__buf_t b;
    char chunk[4096];
    size_t got;
    int rc = 0;

    if (fp == NULL)
        return WSR_EIO;
    wsr__buf_init(&b, 0, 16 * 1024 * 1024);
    while (rc == 0 && (got = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        rc = wsr__buf_append(&b, chunk, got);
    if (rc == 0 && ferror(fp))
        rc = WSR_EIO;
    fclose(fp);
    if (rc == 0)
        rc = wsr__buf_putc(&b, '\0');
    if (rc != 0) {
        wsr__buf_dispose(&b);
        return rc;
    }
    *text = (char *)b.data;
    *n = b.len - 1;
    return 0;
}

/* Edit distance between short strings (keys are under 32 bytes). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[33], prev, tmp;

    if (la > 32 || lb > 32)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = WSR__MIN(row[j], row[j - 1]) + 1;

            tmp = row[j];
            row[j] = WSR__MIN(best, prev + (a[i - 1] != b[j - 1]));
            prev = tmp;
        }
    }
    return row[lb];
}

/* The known key closest to `key`, when it is close enough to be a typo. */
static const char *closest_key(const wsr_config_t *c, const char *key)
{
    const char *best = NULL;
    size_t best_d = 3;

    for (size_t i = 0; i < WSR__ARRAY_SIZE(options) + c->nextra; i++) {
        const char *k = i < WSR__ARRAY_SIZE(options) ? options[i].key
                                                     : c->extra_keys[i - WSR__ARRAY_SIZE(options)];
        size_t d = distance(key, k);

        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    return best;
}

/* An unknown key is quoted in its refusal as at most this many bytes, so
 * the sentence around it always fits. */
#define SHOWN_KEY_MAX 64

static int apply_object(wsr_config_t *c, target_t *tmp, json_t *root, const char *path,
                        const char *text, size_t n, wsr_error_t *err)
{
    const char *key, *file = keep_string(c, path);
    json_t *v;
    char range[160];

    if (file == NULL)
        return config_error(err, WSR_ENOMEM, path, NULL, 0, NULL, "out of memory");

    json_object_foreach(root, key, v)
    {
        const option_t *o = find_option(key);
        int extra = o == NULL ? find_extra(c, key) : -1;
        int rc;

        if (o == NULL && extra < 0) {
            const char *near = closest_key(c, key);
            char shown[SHOWN_KEY_MAX + 1];

            wsr__clip(key, SHOWN_KEY_MAX, shown, sizeof(shown));
            if (near != NULL)
                return config_error(err, WSR_EINVAL, path, text, n, key,
                                    "unknown key \"%s\" (did you mean \"%s\"?)", shown, near);
            return config_error(err, WSR_EINVAL, path, text, n, key,
                                "unknown key \"%s\" (the keys are listed in README.md)", shown);
        }
        rc = apply_json(c, tmp, o, extra, v);
        if (rc == WSR_ENOMEM)
            return config_error(err, rc, path, NULL, 0, key, "out of memory");
        if (rc != 0) {
            range_text(o, range, sizeof(range));
            return config_error(err, rc, path, text, n, key, "key \"%s\" %s", key, range);
        }
        place_t *p = &tmp->where[place_index(o, extra)];

        p->file = file;
        key_position(text, n, key, &p->line, &p->column);
    }
    return 0;
}

/* jansson's message quotes the file's text ("near '...'") as it was: its
 * control characters and bytes past ASCII become '?', so the message is one
 * printable line wherever it goes (the start-up error, SIGHUP's log line). */
static void printable_json_error(const char *text, char *out, size_t size)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0' && n + 1 < size; p++)
        out[n++] = *p < 0x20 || *p >= 0x7f ? '?' : (char)*p;
    out[n] = '\0';
}

int wsr_config_load_file(wsr_config_t *c, const char *path, wsr_error_t *err)
{
    target_t tmp = c->now;
    owned_str_t *before = c->owned;
    json_error_t jerr;
    json_t *root = NULL;
    char *text = NULL;
    size_t n = 0;
    int rc = read_file(path, &text, &n);

    if (rc == WSR_EIO)
        return config_error(err, rc, path, NULL, 0, NULL, "cannot read the file: %s",
                            strerror(errno));
    if (rc != 0)
        return config_error(err, rc, path, NULL, 0, NULL, "file too large or out of memory");
    root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char why[sizeof(jerr.text)];

        printable_json_error(jerr.text, why, sizeof(why));
        rc = config_error(err, WSR_EPARSE, path, NULL, 0, NULL, "not valid JSON: %s", why);
        if (err != NULL) {
            err->line = jerr.line;
            err->column = jerr.column;
            wsr__error_set(err, WSR_EPARSE, "%s:%d:%d: not valid JSON: %s", path, jerr.line,
                           jerr.column, why);
        }
        goto out;
    }
    if (!json_is_object(root)) {
        rc = config_error(err, WSR_EINVAL, path, NULL, 0, NULL, "must hold a JSON object");
        goto out;
    }
    rc = apply_object(c, &tmp, root, path, text, n, err);
    if (rc == 0)
        c->now = tmp; /* commit: every key was valid */
    else
        free_owned_until(c, before);
out:
    json_decref(root);
    wsr__free(text);
    return rc;
}
