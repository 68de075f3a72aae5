/* SPDX-License-Identifier: MIT */
/*
 * wsrouterd: the server program. It parses flags and the configuration file,
 * points jansson and libwebsockets at wsrouter's allocator, routes their logs
 * to stderr, registers the example route modules, and serves until SIGINT or
 * SIGTERM, which start a graceful drain (a second one forces the exit). This
 * is the only file that exits, parses argv or installs signals (STYLE C1).
 */
#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "wsrouter/wsrouter.h"
#include "routes.h"

typedef struct daemon_state {
    wsr_server_t *srv;
    sigset_t signals;
    pthread_mutex_t log_lock;
    atomic_int format; /* WSR_LOG_FORMAT_*; changed on SIGHUP */
    atomic_int level;  /* WSR_LOG_* */
    /* What SIGHUP reads again: the command line, and the configuration in force. */
    int argc;
    char **argv;
    wsr_config_t *conf;
    const char *default_store; /* "" when there is none */
} daemon_state_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: wsrouterd [options]\n"
            "\n"
            "Serves the wsrouter protocol (docs/protocol.md) over WebSocket with route modules\n"
            "(by default the examples: math, counters, hello, echo) and the built-ins\n"
            "(/_/commands, help, stats, ping).\n"
            "\n"
            "      --host ADDR         address to bind (default 127.0.0.1)\n"
            "  -p, --port PORT         port (default 8080; 0 picks a free one)\n"
            "  -c, --config FILE       JSON configuration file, validated before binding\n"
            "  -l, --log-level LEVEL   err, warn, notice (default), info or debug\n"
            "  -m, --max-message SIZE  largest request message (default 1M)\n"
            "      --io-threads N      event loops (default 0: one per core)\n"
            "      --threads N         worker threads for blocking routes (default 4)\n"
            "      --www DIR           directory served over HTTP on the same port\n"
            "      --modules LIST      route modules: "
            "math,counters,hello,echo,account,stream,diag,\n                          examples\n"
            "                          (the default: the first four) or all\n"
            "      --tls-cert FILE     PEM certificate chain: also serve wss://\n"
            "      --tls-key FILE      its private key\n"
            "      --tls-port PORT     port of wss:// (default 8443)\n"
            "      --raw-port PORT     serve raw TCP on PORT (NDJSON, RESP, tcpy, text lines)\n"
            "      --raw-tls-port PORT serve raw TCP over TLS on PORT (needs --tls-cert)\n"
            "      --tls-client-ca FILE  CA of client certificates\n"
            "      --tls-client-auth MODE  off (default), optional or required\n"
            "      --origins LIST      allowed browser Origins, comma-separated\n"
            "      --store FILE        SQLite store of counters and users (\"\" for none: no\n"
            "                          store, no /auth routes); by default wsrouter.db in\n"
            "                          $STATE_DIRECTORY (systemd), else in $XDG_STATE_HOME/\n"
            "                          wsrouter, else in ~/.local/state/wsrouter\n"
            "      --set KEY=VALUE     any configuration key\n"
            "  -h, --help              this text\n"
            "      --version           the version\n"
            "\n"
            "Flags override the configuration file. SIGINT or SIGTERM drain and exit 0;\n"
            "SIGHUP reads the configuration again: the log settings, origins,\n"
            "trusted_proxies, the connection and rate limits change together (or,\n"
            "when one is wrong, nothing does), keys that need a restart are named;\n"
            "the TLS certificate and identity-provider keys are read again.\n"
            "\n"
            "usage: wsrouterd user add NAME [--role ROLE]... [--store FILE | --engine URL | "
            "--config FILE]\n"
            "       wsrouterd user list [--store FILE | --engine URL | --config FILE]\n"
            "       wsrouterd user remove NAME [--store FILE | --engine URL | --config FILE]\n"
            "The password of `user add` is read from standard input, or asked twice\n"
            "without echo on a terminal.\n");
}

/* The one sink of every line: the library's, lws's and wsrouterd's own
 * (signals, the drain), formatted as log_format says, to stderr. */
static void log_sink(void *user, int level, const char *line)
{
    daemon_state_t *d = user;
    char out[2048];
    size_t n = wsr_log_format_line(out, sizeof(out) - 1, atomic_load(&d->format), level, line);

    out[n++] = '\n';
    pthread_mutex_lock(&d->log_lock);
    fwrite(out, 1, n, stderr);
    pthread_mutex_unlock(&d->log_lock);
}

/* Logs one of wsrouterd's own lines when `level` is enabled. */
WSR_PRINTF(3, 4)
static void dlog(daemon_state_t *d, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (level > atomic_load(&d->level))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_sink(d, level, line);
}

/* lws's log callback has no user pointer: the daemon's state, set once
 * before lws logs anything. */
static daemon_state_t *lws_log_daemon;

/* lws's lines, folded into our levels: its errors are errors, its warnings
 * warnings, and its notices and the rest debug (asked for with log_lws). */
static void lws_log_sink(int level, const char *line)
{
    char text[1024];
    size_t n = strlen(line);
    int ours = level & LLL_ERR ? WSR_LOG_ERR : level & LLL_WARN ? WSR_LOG_WARN : WSR_LOG_DEBUG;

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    /* lws 4.1.6 begins each line with its own "[date] N: " stamp: ours is enough. */
    if (n > 0 && line[0] == '[') {
        const char *end = memchr(line, ']', n);

        if (end != NULL) {
            end++;
            while (end < line + n && *end == ' ')
                end++;
            if (end + 3 <= line + n && end[1] == ':' && end[2] == ' ')
                end += 3;
            n -= (size_t)(end - line);
            line = end;
        }
    }
    snprintf(text, sizeof(text), "lws: %.*s", (int)n, line);
    /* One entry, one line: a newline inside one of lws's (some carry one
     * mid-line) would start a line without our stamp. */
    for (char *p = text; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    if (lws_log_daemon != NULL)
        log_sink(lws_log_daemon, ours, text);
}

/* Which of lws's levels reach the sink: errors and warnings as ours do;
 * its notices and info only with log_lws at debug, since they repeat what
 * our own log says (a refused handshake, a vhost created) many times over. */
static int lws_mask_for(int level, bool lws_notices)
{
    int mask = LLL_ERR;

    if (level >= WSR_LOG_WARN)
        mask |= LLL_WARN;
    if (level >= WSR_LOG_DEBUG && lws_notices)
        mask |= LLL_NOTICE | LLL_INFO;
    return mask;
}

static int parse_args(int argc, char **argv, wsr_config_t *conf, wsr_error_t *file_err);
static wsr_config_t *config_new(const char *default_store);

/* The keys SIGHUP changes on the running server; any other that differs in
 * the file read again needs a restart. The log's first (the sink's and
 * lws's), then those of wsr_server_reconfigure. */
static const char *const live_keys[] = {"log_level",
                                        "log_format",
                                        "access_log",
                                        "log_lws",
                                        "origins",
                                        "trusted_proxies",
                                        "max_connections",
                                        "max_connections_per_ip",
                                        "rate_limit_connection",
                                        "rate_limit_address",
                                        "rate_limit_user",
                                        "rate_burst"};
#define LOG_KEYS 4 /* live_keys[0..3]: the log's */

static bool is_live(const char *key, size_t n)
{
    for (size_t i = 0; i < sizeof(live_keys) / sizeof(live_keys[0]); i++)
        if (strlen(live_keys[i]) == n && memcmp(live_keys[i], key, n) == 0)
            return true;
    return false;
}

/* Splits the comma-separated `diff` into the keys SIGHUP applies and those
 * that need a restart. */
static void split_diff(const char *diff, char *live, char *restart, size_t size)
{
    size_t nl = 0, nr = 0;

    live[0] = restart[0] = '\0';
    for (const char *p = diff; *p != '\0';) {
        size_t n = strcspn(p, ",");
        bool l = is_live(p, n);
        char *out = l ? live : restart;
        size_t *used = l ? &nl : &nr;

        if (*used + n + 3 < size)
            *used +=
                (size_t)snprintf(out + *used, size - *used, "%s%.*s", *used ? ", " : "", (int)n, p);
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
}

static const char *const format_names[] = {"text", "json"};

/* Applies the log keys of `fresh` to the server, the sink and lws, and
 * records every live key in the configuration in force (the server's were
 * applied by wsr_server_reconfigure): the strings through wsr_config_set,
 * which keeps its own copies, the numbers as they are. */
static void apply_live(daemon_state_t *d, const wsr_server_config_t *fresh)
{
    wsr_server_config_t *now = wsr_config_settings(d->conf);
    const char *values[] = {wsr_log_level_name(fresh->log_level),
                            format_names[fresh->log_format != 0],
                            fresh->access_log ? "true" : "false",
                            fresh->log_lws ? "true" : "false",
                            fresh->origins != NULL ? fresh->origins : "",
                            fresh->trusted_proxies != NULL ? fresh->trusted_proxies : ""};
    wsr_error_t err;

    atomic_store(&d->level, fresh->log_level);
    atomic_store(&d->format, fresh->log_format);
    wsr_server_set_logging(d->srv, fresh->log_level, fresh->access_log);
    lws_set_log_level(lws_mask_for(fresh->log_level, fresh->log_lws), lws_log_sink);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        if (wsr_config_set(d->conf, live_keys[i], values[i], &err) != 0) /* names of its own */
            dlog(d, WSR_LOG_ERR, "SIGHUP: %s", err.text);
    now->max_connections = fresh->max_connections;
    now->max_connections_per_ip = fresh->max_connections_per_ip;
    now->rate_limit_connection = fresh->rate_limit_connection;
    now->rate_limit_address = fresh->rate_limit_address;
    now->rate_limit_user = fresh->rate_limit_user;
    now->rate_burst = fresh->rate_burst;
}

/* True when a key of wsr_server_reconfigure is in the comma-separated `live`. */
static bool server_keys_changed(const char *live)
{
    for (const char *p = live; *p != '\0';) {
        size_t n = strcspn(p, ",");

        for (size_t i = LOG_KEYS; i < sizeof(live_keys) / sizeof(live_keys[0]); i++)
            if (strlen(live_keys[i]) == n && memcmp(live_keys[i], p, n) == 0)
                return true;
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return false;
}

/*
 * SIGHUP: reads the configuration file and the flags again. A file that
 * does not load changes nothing (the log says why). Otherwise the keys that
 * can change on a running server change together, those that need a
 * restart are named and kept, and the TLS certificate and the
 * identity-provider keys are read again from their files.
 */
static void reload(daemon_state_t *d)
{
    const wsr_server_config_t *now = wsr_config_settings(d->conf);
    wsr_config_t *fresh = config_new(d->default_store);
    char diff[1024], live[1024], restart[1024];
    wsr_error_t err;

    memset(&err, 0, sizeof(err));
    if (fresh == NULL || parse_args(d->argc, d->argv, fresh, &err) != 0) {
        dlog(d, WSR_LOG_ERR, "SIGHUP: configuration not reloaded, nothing changed: %s",
             fresh != NULL ? err.text : "out of memory");
        wsr_config_free(fresh);
        return;
    }
    wsr_config_diff(d->conf, fresh, diff, sizeof(diff));
    split_diff(diff, live, restart, sizeof(live));
    /* The server's keys are validated and applied first, all of them or
     * none: when they are refused, nothing changes (the log keys neither). */
    if (server_keys_changed(live) &&
        wsr_server_reconfigure(d->srv, wsr_config_settings(fresh), &err) != 0) {
        char where[256];

        if (err.key[0] != '\0' && wsr_config_where(fresh, err.key, where, sizeof(where)) == 0)
            dlog(d, WSR_LOG_ERR, "SIGHUP: configuration not reloaded, nothing changed: %s: %s",
                 where, err.text);
        else
            dlog(d, WSR_LOG_ERR, "SIGHUP: configuration not reloaded, nothing changed: %s",
                 err.text);
        wsr_config_free(fresh);
        return;
    }
    if (restart[0] != '\0')
        dlog(d, WSR_LOG_WARN, "SIGHUP: %s changed in the configuration and need%s a restart: kept",
             restart, strchr(restart, ',') != NULL ? "" : "s");
    if (live[0] != '\0') {
        apply_live(d, wsr_config_settings(fresh));
        dlog(d, WSR_LOG_NOTICE, "SIGHUP: applied %s", live);
    } else {
        dlog(d, WSR_LOG_NOTICE, "SIGHUP: configuration read again, nothing to apply");
    }
    if (now->tls_cert != NULL) {
        dlog(d, WSR_LOG_NOTICE, "SIGHUP: reloading the TLS certificate");
        wsr_server_reload_certs(d->srv);
    }
    if (now->jwt_keys != NULL || now->jwt_jwks != NULL)
        (void)wsr_server_reload_keys(d->srv); /* it logs what it did */
    wsr_config_free(fresh);
}

/* Waits for signals on its own thread, so the handlers may call anything. */
static void *signal_thread(void *arg)
{
    daemon_state_t *d = arg;
    int sig, stops = 0;

    for (;;) {
        if (sigwait(&d->signals, &sig) != 0)
            continue;
        if (sig == SIGUSR1)
            return NULL; /* main is done */
        if (sig == SIGHUP) {
            reload(d);
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            if (++stops > 1) {
                dlog(d, WSR_LOG_WARN, "second signal, exiting now");
                _exit(1);
            }
            dlog(d, WSR_LOG_NOTICE, "%s: draining (send it again to force)",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
            wsr_server_stop(d->srv);
        }
    }
}

static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static const struct option long_options[] = {
    {"host", required_argument, NULL, 'B'},
    {"port", required_argument, NULL, 'p'},
    {"config", required_argument, NULL, 'c'},
    {"log-level", required_argument, NULL, 'l'},
    {"max-message", required_argument, NULL, 'm'},
    {"io-threads", required_argument, NULL, 'I'},
    {"threads", required_argument, NULL, 'T'},
    {"www", required_argument, NULL, 'W'},
    {"set", required_argument, NULL, 'S'},
    {"modules", required_argument, NULL, 'M'},
    {"tls-cert", required_argument, NULL, 'C'},
    {"tls-key", required_argument, NULL, 'K'},
    {"tls-port", required_argument, NULL, 'P'},
    {"raw-port", required_argument, NULL, 'R'},
    {"raw-tls-port", required_argument, NULL, 'Q'},
    {"tls-client-ca", required_argument, NULL, 'A'},
    {"tls-client-auth", required_argument, NULL, 'U'},
    {"origins", required_argument, NULL, 'O'},
    {"store", required_argument, NULL, 'D'},
    {"help", no_argument, NULL, 'H'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Applies one flag through the configuration table. */
static int apply_flag(wsr_config_t *conf, const char *key, const char *value)
{
    wsr_error_t err;

    if (wsr_config_set(conf, key, value, &err) != 0) {
        fprintf(stderr, "wsrouterd: %s\n", err.text);
        return -1;
    }
    return 0;
}

static int apply_set(wsr_config_t *conf, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char key[96];

    if (eq == NULL || (size_t)(eq - arg) >= sizeof(key)) {
        fprintf(stderr, "wsrouterd: --set needs KEY=VALUE (got \"%s\")\n", arg);
        return -1;
    }
    memcpy(key, arg, (size_t)(eq - arg));
    key[eq - arg] = '\0';
    return apply_flag(conf, key, eq + 1);
}

/* Flags that set a configuration key, applied through the same table as the
 * file (STYLE F2). */
static const struct {
    int flag;
    const char *key;
} flag_keys[] = {
    {'B', "host"},         {'p', "port"},          {'l', "log_level"},
    {'m', "max_message"},  {'I', "io_threads"},    {'T', "threads"},
    {'W', "www"},          {'M', "modules"},       {'C', "tls_cert"},
    {'K', "tls_key"},      {'P', "tls_port"},      {'R', "raw_port"},
    {'Q', "raw_tls_port"}, {'A', "tls_client_ca"}, {'U', "tls_client_auth"},
    {'O', "origins"},      {'D', "store"},
};

static int apply_option(wsr_config_t *conf, int c, const char *arg)
{
    for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++)
        if (flag_keys[i].flag == c)
            return apply_flag(conf, flag_keys[i].key, arg);
    if (c == 'S')
        return apply_set(conf, arg);
    if (c == 'c')
        return 0; /* read in the first pass */
    if (c == ':')
        fprintf(stderr, "wsrouterd: option '%s' needs a value\n", arg);
    else
        fprintf(stderr, "wsrouterd: unknown option '%s'\n", arg);
    fprintf(stderr, "Try 'wsrouterd --help' for the options.\n");
    return -1;
}

/* Parses argv into cfg: the config file first, then the flags over it.
 * Returns 0 to serve, 1 when done (help, version), -1 on a usage error. A
 * file that does not load is printed, or with `file_err` (SIGHUP's) only
 * kept there. */
static int parse_args(int argc, char **argv, wsr_config_t *conf, wsr_error_t *file_err)
{
    const char *config = NULL;
    wsr_error_t err;
    int c, rc = 0;

    /* Pass 1: find --config, so flags can override the file in pass 2.
     * optind 0 resets glibc's getopt fully (SIGHUP parses again). */
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "hp:c:l:m:", long_options, NULL)) != -1)
        if (c == 'c')
            config = optarg;
    if (config != NULL && wsr_config_load_file(conf, config, &err) != 0) {
        if (file_err != NULL)
            *file_err = err;
        else
            fprintf(stderr, "wsrouterd: %s\n", err.text);
        return -1;
    }
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, ":hp:c:l:m:", long_options, NULL)) != -1) {
        if (c == 'H' || c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == 'V') {
            printf("wsrouterd %s (protocol v%d)\n", WSR_VERSION, WSR_PROTOCOL_VERSION);
            return 1;
        }
        /* What getopt refused is named as it was written. */
        rc = apply_option(conf, c, c == '?' || c == ':' ? argv[optind - 1] : optarg);
    }
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "wsrouterd: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return rc;
}

static void print_url(const char *scheme, const char *host, int port)
{
    if (port < 0)
        return;
    if (strchr(host, ':') != NULL)
        printf("wsrouterd listening on %s://[%s]:%d/\n", scheme, host, port);
    else
        printf("wsrouterd listening on %s://%s:%d/\n", scheme, host, port);
}

/* Prints an error of the server's start; one about a key read from the
 * configuration file names the file, line and column, as the loader's do. */
static void report(const wsr_config_t *conf, const wsr_error_t *err)
{
    char where[256];

    if (err->key[0] != '\0' && wsr_config_where(conf, err->key, where, sizeof(where)) == 0)
        fprintf(stderr, "wsrouterd: %s: %s\n", where, err->text);
    else
        fprintf(stderr, "wsrouterd: %s\n", err->text);
}

static int serve(daemon_state_t *d, wsr_config_t *conf)
{
    const wsr_server_config_t *cfg = wsr_config_settings(conf);
    const char *modules = wsr_config_get(conf, "modules");
    pthread_t sig_thread;
    wsr_error_t err;
    int rc;

    memset(&err, 0, sizeof(err));
    d->srv = wsr_server_new(cfg, &err);
    if (d->srv == NULL) {
        report(conf, &err);
        return 1;
    }
    if (wsr_routes_load(wsr_server_router(d->srv), modules ? modules : "examples", &err) != 0 ||
        wsr_server_start(d->srv, &err) != 0) {
        report(conf, &err);
        wsr_server_free(d->srv);
        return 1;
    }
    /* Tests and scripts read these lines to learn the ports. */
    printf("wsrouterd store: %s\n", cfg->store != NULL ? cfg->store : "none");
    print_url("ws", cfg->host, wsr_server_port(d->srv));
    print_url("wss", cfg->host, wsr_server_tls_port(d->srv));
    print_url("tcp", cfg->host, wsr_server_raw_port(d->srv));
    print_url("tcp+tls", cfg->host, wsr_server_raw_tls_port(d->srv));
    /* The ops endpoints' own listener (ops_port): plain HTTP. */
    print_url("http", cfg->ops_host != NULL ? cfg->ops_host : cfg->host,
              wsr_server_ops_port(d->srv));
    fflush(stdout);
    if (pthread_create(&sig_thread, NULL, signal_thread, d) != 0) {
        fprintf(stderr, "wsrouterd: cannot start the signal thread\n");
        wsr_server_free(d->srv);
        return 1;
    }
    rc = wsr_server_run(d->srv);
    pthread_kill(sig_thread, SIGUSR1);
    pthread_join(sig_thread, NULL);
    wsr_server_free(d->srv);
    if (rc == WSR_ETIMEDOUT) {
        dlog(d, WSR_LOG_WARN, "the drain deadline passed; requests in flight were dropped");
        /* A handler may still be running on a worker: the process exits now,
         * without the exit-time teardown that would race with it. */
        dlog(d, WSR_LOG_NOTICE, "stopped");
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    dlog(d, WSR_LOG_NOTICE, "stopped");
    return 0;
}

/* ---- the default store ---- */

/*
 * The store wsrouterd uses when none is configured, the same file whatever the
 * working directory: $STATE_DIRECTORY/wsrouter.db when systemd gives one
 * (StateDirectory=; the first of a colon-separated list), else
 * $XDG_STATE_HOME/wsrouter/wsrouter.db, else ~/.local/state/wsrouter/wsrouter.db
 * (the XDG default). Writes it into `buf`; returns 0, or -1 when there is no
 * home directory to put it in (or the path is too long).
 */
static int default_store_path(char *buf, size_t size)
{
    const char *state = getenv("STATE_DIRECTORY");
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;

    if (state != NULL && state[0] == '/') {
        n = snprintf(buf, size, "%.*s/wsrouter.db", (int)strcspn(state, ":"), state);
    } else if (xdg != NULL && xdg[0] == '/') { /* relative values are ignored, as XDG says */
        n = snprintf(buf, size, "%s/wsrouter/wsrouter.db", xdg);
    } else {
        if (home == NULL || home[0] != '/') {
            const struct passwd *pw = getpwuid(getuid());

            home = pw != NULL ? pw->pw_dir : NULL;
        }
        if (home == NULL || home[0] != '/')
            return -1;
        n = snprintf(buf, size, "%s/.local/state/wsrouter/wsrouter.db", home);
    }
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Makes the directories above the file `path` that are missing (mode 0700,
 * as the XDG base directory rules ask). Returns 0 or -1 with a message. */
static int make_store_dirs(const char *path)
{
    char dir[PATH_MAX];
    size_t len = strlen(path);

    if (len >= sizeof(dir))
        return -1;
    memcpy(dir, path, len + 1);
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "wsrouterd: cannot make %s for the store: %s\n", dir, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    return 0;
}

/* Makes the default store's directories when the default is still the store
 * (no --store, no `store` key). Returns 0 or -1 with a message. */
static int prepare_store(const wsr_server_config_t *cfg, const char *default_path)
{
    if (default_path[0] == '\0' || cfg->store != default_path)
        return 0;
    return make_store_dirs(default_path);
}

/* ---- wsrouterd user add|list|remove ---- */

/* Reads one line (the password) from standard input; on a terminal, without
 * echo, asked for twice. Returns 0, or -1 with a message printed. */
static int read_password(const char *name, char *out, size_t size)
{
    char again[1024];
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    int rc = 0;

    if (tty) {
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fprintf(stderr, "Password for %s: ", name);
    }
    if (fgets(out, (int)size, stdin) == NULL)
        rc = -1;
    if (rc == 0 && tty) {
        fprintf(stderr, "\nAgain: ");
        if (fgets(again, sizeof(again), stdin) == NULL || strcmp(again, out) != 0)
            rc = -2;
        fprintf(stderr, "\n");
        memset(again, 0, sizeof(again));
    }
    if (tty)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    /* A line that filled the buffer without its newline was cut: refuse it
     * rather than keep a password the user did not type. */
    if (rc == 0 && strchr(out, '\n') == NULL && strlen(out) == size - 1)
        rc = -3;
    out[strcspn(out, "\r\n")] = '\0';
    if (rc == -3)
        fprintf(stderr, "wsrouterd: the password is too long (at most %zu bytes)\n", size - 2);
    if (rc == -1)
        fprintf(stderr, "wsrouterd: no password on standard input\n");
    else if (rc == -2)
        fprintf(stderr, "wsrouterd: the passwords differ\n");
    return rc;
}

/* What a failed store call says: Redis out of reach is not an I/O error. */
static const char *store_error(int rc)
{
    return rc == WSR_ECONNECT ? "the cluster engine (Redis) is unavailable" : wsr_strerror(rc);
}

static int user_add(wsr_store_t *store, const char *name, const char *roles)
{
    char password[1024];
    int rc;

    if (read_password(name, password, sizeof(password)) != 0)
        return 1;
    rc = wsr_user_add(store, name, roles, password);
    memset(password, 0, sizeof(password));
    if (rc == WSR_EEXIST)
        fprintf(stderr, "wsrouterd: user %s already exists\n", name);
    else if (rc == WSR_EINVAL)
        fprintf(stderr, "wsrouterd: a name or role is 1 to 64 printable characters without blanks "
                        "or commas, and a password at least 8 bytes\n");
    else if (rc != 0)
        fprintf(stderr, "wsrouterd: cannot add the user: %s\n", store_error(rc));
    else
        printf("user %s added%s%s\n", name, roles[0] ? " with roles " : "", roles);
    return rc ? 1 : 0;
}

static int user_remove(wsr_store_t *store, const char *name)
{
    int rc = wsr_user_remove(store, name);

    if (rc == WSR_ENOENT)
        fprintf(stderr, "wsrouterd: no user %s\n", name);
    else if (rc != 0)
        fprintf(stderr, "wsrouterd: cannot remove the user: %s\n", store_error(rc));
    else
        printf("user %s removed; their tokens stop working within seconds\n", name);
    return rc ? 1 : 0;
}

static int user_list(wsr_store_t *store)
{
    json_t *users, *u, *r;
    size_t i, k;
    int rc = wsr_user_list(store, &users);

    if (rc != 0) {
        fprintf(stderr, "wsrouterd: cannot read the users: %s\n", store_error(rc));
        return 1;
    }
    json_array_foreach(users, i, u)
    {
        printf("%s", json_string_value(json_object_get(u, "name")));
        json_array_foreach(json_object_get(u, "roles"), k, r)
        {
            printf("%s%s", k ? "," : "\t", json_string_value(r));
        }
        printf("\n");
    }
    json_decref(users);
    return 0;
}

/* Appends `role` to the comma-separated list in `roles`. */
static int add_role(char *roles, size_t size, const char *role)
{
    size_t used = strlen(roles);

    if (used + strlen(role) + 2 > size) {
        fprintf(stderr, "wsrouterd: too many roles\n");
        return -1;
    }
    snprintf(roles + used, size - used, "%s%s", used ? "," : "", role);
    return 0;
}

static const char user_usage[] =
    "usage: wsrouterd user add NAME [--role ROLE]... [--store FILE | --engine URL | --config "
    "FILE]\n"
    "       wsrouterd user list [--store FILE | --engine URL | --config FILE]\n"
    "       wsrouterd user remove NAME [--store FILE | --engine URL | --config FILE]\n"
    "Adds, lists or removes a user of the store (by default wsrouterd's own; with\n"
    "--engine, the cluster's on Redis).\n"
    "The password of `user add` is read from standard input, or asked twice\n"
    "without echo on a terminal. A user removed cannot log in again, and their\n"
    "tokens stop working within seconds.\n";

static int user_main(int argc, char **argv, wsr_config_t *conf, const char *default_path)
{
    wsr_server_config_t *cfg = wsr_config_settings(conf);
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},         {"role", required_argument, NULL, 'r'},
        {"store", required_argument, NULL, 'D'},  {"config", required_argument, NULL, 'c'},
        {"engine", required_argument, NULL, 'E'}, {NULL, 0, NULL, 0}};
    const char *verb = argc > 1 ? argv[1] : "";
    char roles[512] = "";
    wsr_store_t *store;
    wsr_error_t err;
    int c, rc = 0;

    optind = 2;
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
        printf("%s", user_usage);
        return 0;
    }
    while (rc == 0 && (c = getopt_long(argc, argv, "hr:", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("%s", user_usage);
            return 0;
        }
        if (c == 'r')
            rc = add_role(roles, sizeof(roles), optarg);
        else if (c == 'D')
            cfg->store = optarg;
        else if (c == 'E')
            cfg->engine = optarg;
        else if (c == 'c' && wsr_config_load_file(conf, optarg, &err) != 0) {
            fprintf(stderr, "wsrouterd: %s\n", err.text);
            rc = -1;
        } else if (c != 'c')
            rc = -1;
    }
    if (rc != 0 || (strcmp(verb, "list") != 0 && optind >= argc) ||
        (strcmp(verb, "add") != 0 && strcmp(verb, "list") != 0 && strcmp(verb, "remove") != 0)) {
        fprintf(stderr, "%s", user_usage);
        return 2;
    }
    if (cfg->engine != NULL && strcmp(cfg->engine, "memory") != 0)
        /* The cluster's users, in Redis (the `engine` setting). */
        store = wsr_store_open_redis(cfg->engine, cfg->engine_password, &err);
    else if (cfg->store == NULL || cfg->store[0] == '\0') {
        fprintf(stderr, "wsrouterd: no store is configured\n");
        return 2;
    } else if (prepare_store(cfg, default_path) != 0)
        return 1;
    else
        store = wsr_store_open(cfg->store, true, &err);
    if (store == NULL) {
        fprintf(stderr, "wsrouterd: %s\n", err.text);
        return 1;
    }
    if (strcmp(verb, "add") == 0)
        rc = user_add(store, argv[optind], roles);
    else if (strcmp(verb, "list") == 0)
        rc = user_list(store);
    else
        rc = user_remove(store, argv[optind]);
    wsr_store_close(store);
    return rc;
}

/* A configuration with wsrouterd's own key and default store (`default_store`,
 * borrowed; "" for none: the library's default, no store). */
static wsr_config_t *config_new(const char *default_store)
{
    wsr_config_t *conf = wsr_config_new();

    if (conf == NULL || wsr_config_add_key(conf, "modules") != 0) {
        wsr_config_free(conf);
        return NULL;
    }
    /* wsrouterd keeps counters and users by default (the library has none). */
    if (default_store[0] != '\0')
        wsr_config_settings(conf)->store = default_store;
    return conf;
}

int main(int argc, char **argv)
{
    daemon_state_t d;
    char store_path[PATH_MAX];
    wsr_config_t *conf;
    wsr_server_config_t *cfg;
    int rc;

    memset(&d, 0, sizeof(d));
    pthread_mutex_init(&d.log_lock, NULL);
    /* One allocator for everything, set before anything allocates (STYLE M1). */
    json_set_alloc_funcs(wsr_malloc, wsr_free);
    lws_set_allocator(wsr_server_lws_realloc);
    /* Signals are taken by the signal thread only: block them everywhere. */
    sigemptyset(&d.signals);
    sigaddset(&d.signals, SIGINT);
    sigaddset(&d.signals, SIGTERM);
    sigaddset(&d.signals, SIGHUP);
    sigaddset(&d.signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &d.signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    if (default_store_path(store_path, sizeof(store_path)) != 0)
        store_path[0] = '\0';
    conf = config_new(store_path);
    if (conf == NULL) {
        fprintf(stderr, "wsrouterd: out of memory\n");
        return 1;
    }
    cfg = wsr_config_settings(conf);
    if (argc > 1 && strcmp(argv[1], "user") == 0) {
        rc = user_main(argc - 1, argv + 1, conf, store_path);
        wsr_config_free(conf);
        return rc;
    }
    rc = parse_args(argc, argv, conf, NULL);
    if (rc != 0) {
        wsr_config_free(conf);
        return rc > 0 ? 0 : 2;
    }
    if (prepare_store(cfg, store_path) != 0) {
        wsr_config_free(conf);
        return 1;
    }
    cfg->log = log_sink;
    cfg->log_user = &d;
    atomic_init(&d.format, cfg->log_format);
    atomic_init(&d.level, cfg->log_level);
    d.argc = argc;
    d.argv = argv;
    d.conf = conf;
    d.default_store = store_path;
    lws_log_daemon = &d;
    lws_set_log_level(lws_mask_for(cfg->log_level, cfg->log_lws), lws_log_sink);
    rc = serve(&d, conf);
    wsr_config_free(conf);
    pthread_mutex_destroy(&d.log_lock);
    return rc;
}
