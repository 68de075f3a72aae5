/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/config.c: configuration files, data-driven from
 * tests/data/config/<case>/{input.json,expected} (STYLE T6), and options set
 * one by one with wsr_config_set.
 *
 * `expected` is either "ok" followed by key=value lines the loaded settings
 * must hold, or the exact error sentence followed by optional code=, key=,
 * line= and column= lines. Each case is loaded with the working directory set
 * to its own directory, so messages name "input.json" whatever the checkout's
 * path. A refused file must leave every setting as it was.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsrouter/wsrouter.h"

typedef struct fixture {
    wsr_config_t *conf;
    char cwd[1024];
    long live0;
} fixture_t;

/* Renders one setting the way `expected` files write it. */
static void render(wsr_config_t *conf, const char *key, char *out, size_t size)
{
    const wsr_server_config_t *cfg = wsr_config_settings(conf);

    if (strcmp(key, "host") == 0)
        snprintf(out, size, "%s", cfg->host ? cfg->host : "null");
    else if (strcmp(key, "www") == 0)
        snprintf(out, size, "%s", cfg->www ? cfg->www : "null");
    else if (strcmp(key, "port") == 0)
        snprintf(out, size, "%d", cfg->port);
    else if (strcmp(key, "log_level") == 0)
        snprintf(out, size, "%s", wsr_log_level_name(cfg->log_level));
    else if (strcmp(key, "max_message") == 0)
        snprintf(out, size, "%zu", cfg->max_message);
    else if (strcmp(key, "max_outbound") == 0)
        snprintf(out, size, "%zu", cfg->max_outbound);
    else if (strcmp(key, "max_depth") == 0)
        snprintf(out, size, "%u", cfg->max_depth);
    else if (strcmp(key, "builtins") == 0)
        snprintf(out, size, "%s", cfg->builtins ? "true" : "false");
    else if (strcmp(key, "io_threads") == 0)
        snprintf(out, size, "%u", cfg->io_threads);
    else if (strcmp(key, "threads") == 0)
        snprintf(out, size, "%u", cfg->threads);
    else if (strcmp(key, "queue_size") == 0)
        snprintf(out, size, "%u", cfg->queue_size);
    else if (strcmp(key, "request_timeout_ms") == 0)
        snprintf(out, size, "%u", cfg->request_timeout_ms);
    else if (strcmp(key, "shutdown_timeout_ms") == 0)
        snprintf(out, size, "%u", cfg->shutdown_timeout_ms);
    else if (strcmp(key, "modules") == 0)
        snprintf(out, size, "%s",
                 wsr_config_get(conf, "modules") ? wsr_config_get(conf, "modules") : "null");
    else if (strcmp(key, "pubsub") == 0)
        snprintf(out, size, "%s", cfg->pubsub ? "true" : "false");
    else if (strcmp(key, "max_subscriptions") == 0)
        snprintf(out, size, "%u", cfg->max_subscriptions);
    else if (strcmp(key, "history_size") == 0)
        snprintf(out, size, "%u", cfg->history_size);
    else if (strcmp(key, "history_ttl_s") == 0)
        snprintf(out, size, "%u", cfg->history_ttl_s);
    else
        fail_msg("unknown setting %s", key);
}

static const char *const all_keys[] = {
    "host",
    "port",
    "log_level",
    "max_message",
    "max_outbound",
    "max_depth",
    "builtins",
    "io_threads",
    "threads",
    "queue_size",
    "request_timeout_ms",
    "shutdown_timeout_ms",
    "www",
    "modules",
    "pubsub",
    "max_subscriptions",
    "history_size",
    "history_ttl_s",
};

/* Every setting as text, one line each. */
static void render_all(wsr_config_t *conf, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(all_keys) / sizeof(all_keys[0]); i++) {
        char v[256];

        render(conf, all_keys[i], v, sizeof(v));
        used += (size_t)snprintf(out + used, size - used, "%s=%s\n", all_keys[i], v);
    }
}

static void set_ok(wsr_config_t *conf, const char *key, const char *value)
{
    wsr_error_t err;

    if (wsr_config_set(conf, key, value, &err) != 0)
        fail_msg("wsr_config_set(%s, %s): %s", key, value, err.text);
}

/* Settings that differ from the defaults, so "unchanged" means something. */
static void preset(wsr_config_t *cfg)
{
    set_ok(cfg, "host", "10.0.0.1");
    set_ok(cfg, "port", "1234");
    set_ok(cfg, "log_level", "warn");
    set_ok(cfg, "www", "/preset");
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL || getcwd(fx->cwd, sizeof(fx->cwd)) == NULL)
        return -1;
    fx->live0 = tu_live_blocks();
    fx->conf = wsr_config_new();
    if (fx->conf == NULL || wsr_config_add_key(fx->conf, "modules") != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    long live0 = fx->live0;
    int rc = chdir(fx->cwd);

    wsr_config_free(fx->conf);
    free(fx);
    assert_int_equal(rc, 0);
    assert_int_equal(tu_live_blocks(), live0);
    return 0;
}

#define CFG(fx) wsr_config_settings((fx)->conf)

/* A new configuration with every default, and the program key tests use. */
static void reset(fixture_t *fx)
{
    wsr_config_free(fx->conf);
    fx->conf = wsr_config_new();
    assert_non_null(fx->conf);
    assert_int_equal(wsr_config_add_key(fx->conf, "modules"), 0);
}

/* ---- files ---- */

static void check_field_lines(wsr_config_t *cfg, char *lines, const char *where)
{
    char *save = NULL;

    for (char *l = strtok_r(lines, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(l, '='), got[256];

        if (eq == NULL)
            fail_msg("%s: bad line %s", where, l);
        *eq = '\0';
        render(cfg, l, got, sizeof(got));
        if (strcmp(got, eq + 1) != 0)
            fail_msg("%s: %s is %s, want %s", where, l, got, eq + 1);
    }
}

static void check_error_lines(const wsr_error_t *err, int rc, char *lines, const char *where)
{
    char *save = NULL;

    for (char *l = strtok_r(lines, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(l, '='), got[128];

        if (eq == NULL)
            fail_msg("%s: bad line %s", where, l);
        *eq = '\0';
        if (strcmp(l, "code") == 0)
            snprintf(got, sizeof(got), "%s", wsr_err_name(rc));
        else if (strcmp(l, "key") == 0)
            snprintf(got, sizeof(got), "%s", err->key);
        else if (strcmp(l, "line") == 0)
            snprintf(got, sizeof(got), "%d", err->line);
        else if (strcmp(l, "column") == 0)
            snprintf(got, sizeof(got), "%d", err->column);
        else
            fail_msg("%s: unknown field %s", where, l);
        if (strcmp(got, eq + 1) != 0)
            fail_msg("%s: %s is %s, want %s", where, l, got, eq + 1);
    }
}

static void run_case(fixture_t *fx, const char *name)
{
    char rel[256], where[300], before[2048], after[2048];
    char *expected, *rest;
    long blocks_before;
    wsr_error_t err;
    int rc;

    snprintf(rel, sizeof(rel), "config/%s/expected", name);
    snprintf(where, sizeof(where), "tests/data/config/%s", name);
    expected = tu_read_data(rel, NULL);
    if (expected == NULL)
        fail_msg("cannot read %s", rel);
    rest = strchr(expected, '\n');
    if (rest != NULL)
        *rest++ = '\0';
    else
        rest = expected + strlen(expected);
    reset(fx);
    preset(fx->conf);
    render_all(fx->conf, before, sizeof(before));
    blocks_before = tu_live_blocks();

    snprintf(rel, sizeof(rel), "%s/config/%s",
             getenv("WSR_TEST_DATA") ? getenv("WSR_TEST_DATA") : "tests/data", name);
    assert_int_equal(chdir(rel), 0);
    memset(&err, 0x5a, sizeof(err));
    rc = wsr_config_load_file(fx->conf, "input.json", &err);
    assert_int_equal(chdir(fx->cwd), 0);

    if (strcmp(expected, "ok") == 0) {
        if (rc != 0)
            fail_msg("%s: refused: %s", where, err.text);
        check_field_lines(fx->conf, rest, where);
    } else {
        if (rc == 0)
            fail_msg("%s: accepted, want %s", where, expected);
        if (strcmp(err.text, expected) != 0)
            fail_msg("%s: error is\n  %s\nwant\n  %s", where, err.text, expected);
        assert_int_equal(err.code, rc);
        assert_string_equal(err.source, "input.json");
        check_error_lines(&err, rc, rest, where);
        /* Nothing of the refused file was committed. */
        render_all(fx->conf, after, sizeof(after));
        if (strcmp(before, after) != 0)
            fail_msg("%s: settings changed:\n%s\nwere\n%s", where, after, before);
        assert_int_equal(tu_live_blocks(), blocks_before);
    }
    free(expected);
}

static void test_config__files_from_data(void **state)
{
    fixture_t *fx = *state;
    char **names;
    size_t n = tu_list_cases("config", &names);

    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        run_case(fx, names[i]);
        free(names[i]);
    }
    free(names);
}

static void test_config__missing_file_is_an_io_error(void **state)
{
    fixture_t *fx = *state;
    wsr_error_t err;
    char before[2048], after[2048];

    preset(fx->conf);
    render_all(fx->conf, before, sizeof(before));
    assert_int_equal(wsr_config_load_file(fx->conf, "no/such/wsrouter.json", &err), WSR_EIO);
    assert_int_equal(err.code, WSR_EIO);
    assert_string_equal(err.text,
                        "no/such/wsrouter.json: cannot read the file: No such file or directory");
    assert_string_equal(err.source, "no/such/wsrouter.json");
    assert_string_equal(err.key, "");
    render_all(fx->conf, after, sizeof(after));
    assert_string_equal(before, after);
    /* Without a report the code is the same. */
    assert_int_equal(wsr_config_load_file(fx->conf, "no/such/wsrouter.json", NULL), WSR_EIO);
}

static void test_config__a_directory_is_not_a_file(void **state)
{
    fixture_t *fx = *state;
    const char *data = getenv("WSR_TEST_DATA") ? getenv("WSR_TEST_DATA") : "tests/data";
    wsr_error_t err;

    assert_int_equal(chdir(data), 0);
    assert_int_equal(wsr_config_load_file(fx->conf, "config", &err), WSR_EIO);
    assert_string_equal(err.text, "config: cannot read the file: Is a directory");
}

static void test_config__later_files_override_earlier_ones(void **state)
{
    fixture_t *fx = *state;
    const char *data = getenv("WSR_TEST_DATA") ? getenv("WSR_TEST_DATA") : "tests/data";
    wsr_error_t err;

    assert_int_equal(chdir(data), 0);
    assert_int_equal(wsr_config_load_file(fx->conf, "config/ok_every_key/input.json", &err), 0);
    assert_int_equal(wsr_config_load_file(fx->conf, "config/ok_www_null/input.json", &err), 0);
    assert_int_equal(wsr_config_load_file(fx->conf, "config/ok_sizes_m/input.json", &err), 0);
    assert_string_equal(CFG(fx)->host, "0.0.0.0");
    assert_int_equal(CFG(fx)->port, 9000);
    assert_null(CFG(fx)->www);
    assert_int_equal(CFG(fx)->max_message, 1048576);
    assert_int_equal(CFG(fx)->max_outbound, 2097152);
    assert_int_equal(CFG(fx)->threads, 8);
    /* A refused file after them changes nothing, and its path is as given. */
    assert_int_equal(wsr_config_load_file(fx->conf, "config/port_real/input.json", &err),
                     WSR_EINVAL);
    assert_string_equal(err.text, "config/port_real/input.json:1:2: key \"port\" must be an "
                                  "integer from 0 to 65535");
    assert_int_equal(CFG(fx)->port, 9000);
    assert_string_equal(CFG(fx)->host, "0.0.0.0");
}

static void test_config__where_names_the_file_line_and_column_of_a_value(void **state)
{
    fixture_t *fx = *state;
    const char *data = getenv("WSR_TEST_DATA") ? getenv("WSR_TEST_DATA") : "tests/data";
    char where[256];
    wsr_error_t err;

    assert_int_equal(chdir(data), 0);
    /* A default is from no file. */
    assert_int_equal(wsr_config_where(fx->conf, "threads", where, sizeof(where)), WSR_ENOENT);
    assert_int_equal(wsr_config_load_file(fx->conf, "config/ok_every_key/input.json", &err), 0);
    assert_int_equal(wsr_config_where(fx->conf, "threads", where, sizeof(where)), 0);
    assert_string_equal(where, "config/ok_every_key/input.json:10:3");
    assert_int_equal(wsr_config_where(fx->conf, "host", where, sizeof(where)), 0);
    assert_string_equal(where, "config/ok_every_key/input.json:2:3");
    /* A later file takes over the keys it sets, and only those. */
    assert_int_equal(wsr_config_load_file(fx->conf, "config/ok_sizes_m/input.json", &err), 0);
    assert_int_equal(wsr_config_where(fx->conf, "max_outbound", where, sizeof(where)), 0);
    assert_string_equal(where, "config/ok_sizes_m/input.json:1:23");
    assert_int_equal(wsr_config_where(fx->conf, "threads", where, sizeof(where)), 0);
    assert_string_equal(where, "config/ok_every_key/input.json:10:3");
    /* A refused file changes no place; a flag's value has none. */
    assert_int_equal(wsr_config_load_file(fx->conf, "config/port_real/input.json", &err),
                     WSR_EINVAL);
    assert_int_equal(wsr_config_where(fx->conf, "port", where, sizeof(where)), 0);
    assert_string_equal(where, "config/ok_every_key/input.json:3:3");
    set_ok(fx->conf, "threads", "3");
    assert_int_equal(wsr_config_where(fx->conf, "threads", where, sizeof(where)), WSR_ENOENT);
    assert_int_equal(wsr_config_where(fx->conf, "no_such_key", where, sizeof(where)), WSR_ENOENT);
    /* Cut to fit. */
    assert_int_equal(wsr_config_where(fx->conf, "host", where, 8), 0);
    assert_string_equal(where, "config/");
}

static void test_config__diff_lists_the_keys_that_differ(void **state)
{
    fixture_t *fx = *state;
    wsr_config_t *other = wsr_config_new();
    char out[256];

    (void)state;
    assert_non_null(other);
    assert_int_equal(wsr_config_add_key(other, "modules"), 0);
    assert_int_equal(wsr_config_diff(fx->conf, other, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    set_ok(other, "port", "9");
    set_ok(other, "origins", "https://a.example");
    set_ok(other, "rate_limit_user", "10/s");
    set_ok(other, "log_format", "json");
    set_ok(other, "modules", "math");
    assert_int_equal(wsr_config_diff(fx->conf, other, out, sizeof(out)), 5);
    assert_string_equal(out, "port, origins, rate_limit_user, log_format, modules");
    /* The same values, set anew, are no difference; cut to fit. */
    set_ok(fx->conf, "port", "9");
    set_ok(fx->conf, "origins", "https://a.example");
    assert_int_equal(wsr_config_diff(fx->conf, other, out, 12), 3);
    assert_string_equal(out, "rate_limit_");
    wsr_config_free(other);
}

static void test_config__new_holds_the_defaults(void **state)
{
    fixture_t *fx = *state;
    wsr_server_config_t defaults;

    preset(fx->conf);
    reset(fx);
    wsr_server_config_init(&defaults);
    assert_memory_equal(CFG(fx), &defaults, sizeof(defaults));
    assert_int_equal(CFG(fx)->size, sizeof(wsr_server_config_t));
    assert_string_equal(CFG(fx)->host, "127.0.0.1");
    assert_int_equal(CFG(fx)->port, 8080);
    assert_int_equal(CFG(fx)->max_message, 1024 * 1024);
    assert_int_equal(CFG(fx)->max_outbound, 8 * 1024 * 1024);
    assert_int_equal(CFG(fx)->log_level, WSR_LOG_NOTICE);
    assert_true(CFG(fx)->builtins);
    assert_null(CFG(fx)->www);
    assert_null(wsr_config_get(fx->conf, "modules"));
}

static void test_config__program_keys(void **state)
{
    fixture_t *fx = *state;
    wsr_error_t err;

    /* Already a key, a server option, too long, empty. */
    assert_int_equal(wsr_config_add_key(fx->conf, "modules"), WSR_EINVAL);
    assert_int_equal(wsr_config_add_key(fx->conf, "port"), WSR_EINVAL);
    assert_int_equal(wsr_config_add_key(fx->conf, "a_key_of_thirty_two_bytes_long_x"), WSR_EINVAL);
    assert_int_equal(wsr_config_add_key(fx->conf, ""), WSR_EINVAL);
    assert_int_equal(wsr_config_set(fx->conf, "modules", "math,hello", &err), 0);
    assert_string_equal(wsr_config_get(fx->conf, "modules"), "math,hello");
    assert_null(wsr_config_get(fx->conf, "nothing"));
    /* Unknown to this configuration: a typo is still caught. */
    assert_int_equal(wsr_config_set(fx->conf, "modulez", "x", &err), WSR_ENOENT);
    for (int i = 1; i < 16; i++) {
        char key[16];

        snprintf(key, sizeof(key), "extra%d", i);
        assert_int_equal(wsr_config_add_key(fx->conf, key), 0);
    }
    assert_int_equal(wsr_config_add_key(fx->conf, "one_too_many"), WSR_EOVERFLOW);
}

static void test_config__old_struct_sizes_get_defaults(void **state)
{
    wsr_server_config_t cfg;
    size_t small = offsetof(wsr_server_config_t, max_message);

    (void)state;
    /* A program built against a shorter struct: only its fields are
     * written, and the server fills in the rest with defaults. */
    memset(&cfg, 0x5a, sizeof(cfg));
    wsr_server_config_init_size(&cfg, small);
    assert_int_equal(cfg.size, small);
    assert_string_equal(cfg.host, "127.0.0.1");
    assert_int_equal(cfg.port, 8080);
    assert_int_equal((unsigned char)((char *)&cfg)[small], 0x5a);
}

/* ---- wsr_config_set ---- */

static void expect_set(fixture_t *fx, const char *key, const char *value, const char *want)
{
    char got[256];

    set_ok(fx->conf, key, value);
    render(fx->conf, key, got, sizeof(got));
    assert_string_equal(got, want);
}

static void expect_set_refused(fixture_t *fx, const char *key, const char *value, int code,
                               const char *text)
{
    char before[2048], after[2048];
    long blocks = tu_live_blocks();
    wsr_error_t err;

    render_all(fx->conf, before, sizeof(before));
    memset(&err, 0x5a, sizeof(err));
    assert_int_equal(wsr_config_set(fx->conf, key, value, &err), code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.text, text);
    assert_string_equal(err.key, key);
    render_all(fx->conf, after, sizeof(after));
    assert_string_equal(before, after);
    assert_int_equal(tu_live_blocks(), blocks);
    assert_int_equal(wsr_config_set(fx->conf, key, value, NULL), code);
}

static void test_config__set_accepts_good_values(void **state)
{
    fixture_t *fx = *state;
    static const char *const levels[] = {"err", "warn", "notice", "info", "debug"};

    expect_set(fx, "port", "8081", "8081");
    expect_set(fx, "port", "0", "0");
    expect_set(fx, "port", "65535", "65535");
    expect_set(fx, "host", "::1", "::1");
    expect_set(fx, "host", "", "null");
    expect_set(fx, "www", "/var/www", "/var/www");
    expect_set(fx, "www", "", "null");
    expect_set(fx, "max_message", "64K", "65536");
    expect_set(fx, "max_message", "1MiB", "1048576");
    expect_set(fx, "max_message", "2m", "2097152");
    expect_set(fx, "max_message", "4096", "4096");
    expect_set(fx, "max_outbound", "4G", "4294967296");
    expect_set(fx, "builtins", "false", "false");
    expect_set(fx, "builtins", "true", "true");
    expect_set(fx, "threads", "16", "16");
    expect_set(fx, "io_threads", "0", "0");
    expect_set(fx, "request_timeout_ms", "250", "250");
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        expect_set(fx, "log_level", levels[i], levels[i]);
        assert_int_equal(CFG(fx)->log_level, (int)i);
    }
}

static void test_config__set_refuses_bad_values(void **state)
{
    fixture_t *fx = *state;

    preset(fx->conf);
    expect_set_refused(fx, "nope", "1", WSR_ENOENT, "unknown option nope");
    expect_set_refused(fx, "Port", "1", WSR_ENOENT, "unknown option Port");
    expect_set_refused(fx, "port", "65536", WSR_EINVAL,
                       "option port must be an integer from 0 to 65535 (got \"65536\")");
    expect_set_refused(fx, "port", "-1", WSR_EINVAL,
                       "option port must be an integer from 0 to 65535 (got \"-1\")");
    expect_set_refused(fx, "port", "80K", WSR_EINVAL,
                       "option port must be an integer from 0 to 65535 (got \"80K\")");
    expect_set_refused(fx, "port", "8o", WSR_EINVAL,
                       "option port must be an integer from 0 to 65535 (got \"8o\")");
    expect_set_refused(fx, "port", "", WSR_EINVAL,
                       "option port must be an integer from 0 to 65535 (got \"\")");
    expect_set_refused(fx, "port", "80.0", WSR_EINVAL,
                       "option port must be an integer from 0 to 65535 (got \"80.0\")");
    expect_set_refused(fx, "threads", "0", WSR_EINVAL,
                       "option threads must be an integer from 1 to 1024 (got \"0\")");
    expect_set_refused(fx, "threads", "1B", WSR_EINVAL,
                       "option threads must be an integer from 1 to 1024 (got \"1B\")");
    expect_set_refused(fx, "max_message", "abc", WSR_EINVAL,
                       "option max_message must be a size in bytes from 16 to 1073741824 (a "
                       "number, or \"64K\", \"1M\") (got \"abc\")");
    expect_set_refused(fx, "max_message", "2G", WSR_EINVAL,
                       "option max_message must be a size in bytes from 16 to 1073741824 (a "
                       "number, or \"64K\", \"1M\") (got \"2G\")");
    expect_set_refused(fx, "max_message", "99999999999999G", WSR_EINVAL,
                       "option max_message must be a size in bytes from 16 to 1073741824 (a "
                       "number, or \"64K\", \"1M\") (got \"99999999999999G\")");
    expect_set_refused(fx, "max_message", "16iB", WSR_EINVAL,
                       "option max_message must be a size in bytes from 16 to 1073741824 (a "
                       "number, or \"64K\", \"1M\") (got \"16iB\")");
    expect_set_refused(fx, "builtins", "yes", WSR_EINVAL,
                       "option builtins must be true or false (got \"yes\")");
    expect_set_refused(fx, "builtins", "1", WSR_EINVAL,
                       "option builtins must be true or false (got \"1\")");
    expect_set_refused(fx, "log_level", "LOUD", WSR_EINVAL,
                       "option log_level must be one of err, warn, notice, info, debug (got "
                       "\"LOUD\")");
    assert_string_equal(CFG(fx)->host, "10.0.0.1");
    assert_int_equal(CFG(fx)->port, 1234);
}

static void test_config__set_out_of_memory_changes_nothing(void **state)
{
    fixture_t *fx = *state;
    long n;

    preset(fx->conf);
    for (n = 0;; n++) {
        long live = tu_live_blocks();
        wsr_error_t err;
        int rc;

        tu_fail_at(n, false);
        rc = wsr_config_set(fx->conf, "host", "192.0.2.7", &err);
        tu_fail_at(-1, false);
        if (rc == 0)
            break;
        assert_int_equal(rc, WSR_ENOMEM);
        assert_string_equal(err.text, "out of memory");
        assert_string_equal(CFG(fx)->host, "10.0.0.1");
        assert_int_equal(tu_live_blocks(), live);
    }
    assert_true(n >= 1);
    assert_string_equal(CFG(fx)->host, "192.0.2.7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config__files_from_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__missing_file_is_an_io_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__a_directory_is_not_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_config__where_names_the_file_line_and_column_of_a_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__diff_lists_the_keys_that_differ, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config__later_files_override_earlier_ones, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config__new_holds_the_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__program_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__old_struct_sizes_get_defaults, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config__set_accepts_good_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__set_refuses_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__set_out_of_memory_changes_nothing, setup,
                                        teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
