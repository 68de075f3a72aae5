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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "wsrouter/wsrouter.h"
#include "routes.h"

typedef struct daemon_state {
    wsr_server_t *srv;
    sigset_t signals;
    pthread_mutex_t log_lock;
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
            "  -h, --host ADDR         address to bind (default 127.0.0.1)\n"
            "  -p, --port PORT         port (default 8080; 0 picks a free one)\n"
            "  -c, --config FILE       JSON configuration file, validated before binding\n"
            "  -l, --log-level LEVEL   err, warn, notice (default), info or debug\n"
            "  -m, --max-message SIZE  largest request message (default 1M)\n"
            "      --io-threads N      event loops (default 0: one per core)\n"
            "      --threads N         worker threads for blocking routes (default 4)\n"
            "      --www DIR           directory served over HTTP on the same port\n"
            "      --modules LIST      route modules: math,counters,hello,echo,diag, examples\n"
            "                          (the default: the first four) or all\n"
            "      --tls-cert FILE     PEM certificate chain: also serve wss://\n"
            "      --tls-key FILE      its private key\n"
            "      --tls-port PORT     port of wss:// (default 8443)\n"
            "      --tls-client-ca FILE  CA of client certificates\n"
            "      --tls-client-auth MODE  off (default), optional or required\n"
            "      --origins LIST      allowed browser Origins, comma-separated\n"
            "      --store FILE        SQLite store of counters and users (var/wsrouter.db;\n"
            "                          \"\" for none: no store, no /auth routes)\n"
            "      --set KEY=VALUE     any configuration key\n"
            "      --help              this text\n"
            "      --version           the version\n"
            "\n"
            "Flags override the configuration file. SIGINT or SIGTERM drain and exit 0;\n"
            "SIGHUP reloads the TLS certificate.\n"
            "\n"
            "usage: wsrouterd user add NAME [--role ROLE]... [--store FILE | --config FILE]\n"
            "       wsrouterd user list [--store FILE | --config FILE]\n"
            "       wsrouterd user remove NAME [--store FILE | --config FILE]\n"
            "The password of `user add` is read from standard input, or asked twice\n"
            "without echo on a terminal.\n");
}

static void log_sink(void *user, int level, const char *line)
{
    daemon_state_t *d = user;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    pthread_mutex_lock(&d->log_lock);
    fprintf(stderr, "%s [%s] %s\n", stamp, wsr_log_level_name(level), line);
    pthread_mutex_unlock(&d->log_lock);
}

/* lws logs (they have no user pointer) go to stderr with a prefix. */
static void lws_log_sink(int level, const char *line)
{
    size_t n = strlen(line);

    (void)level;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    fprintf(stderr, "lws: %.*s\n", (int)n, line);
}

static int lws_mask_for(int level)
{
    int mask = LLL_ERR;

    if (level >= WSR_LOG_WARN)
        mask |= LLL_WARN;
    /* lws's notices (one per refused handshake, per vhost created...) only
     * when debugging: they repeat what our own log says, and lws 4.1.6
     * formats every line in one static buffer shared by all loops. */
    if (level >= WSR_LOG_DEBUG)
        mask |= LLL_NOTICE | LLL_INFO;
    return mask;
}

static void *lws_realloc_hook(void *ptr, size_t size, const char *reason)
{
    (void)reason;
    if (size == 0) {
        wsr_free(ptr);
        return NULL;
    }
    return wsr_realloc(ptr, size);
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
            fprintf(stderr, "wsrouterd: SIGHUP: reloading the TLS certificate\n");
            wsr_server_reload_certs(d->srv);
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            if (++stops > 1) {
                fprintf(stderr, "wsrouterd: second signal, exiting now\n");
                _exit(1);
            }
            fprintf(stderr, "wsrouterd: %s: draining (send it again to force)\n",
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
    {"host", required_argument, NULL, 'h'},
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
    {'h', "host"},
    {'p', "port"},
    {'l', "log_level"},
    {'m', "max_message"},
    {'I', "io_threads"},
    {'T', "threads"},
    {'W', "www"},
    {'M', "modules"},
    {'C', "tls_cert"},
    {'K', "tls_key"},
    {'P', "tls_port"},
    {'A', "tls_client_ca"},
    {'U', "tls_client_auth"},
    {'O', "origins"},
    {'D', "store"},
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
    usage(stderr);
    return -1;
}

/* Parses argv into cfg: the config file first, then the flags over it.
 * Returns 0 to serve, 1 when done (help, version), -1 on a usage error. */
static int parse_args(int argc, char **argv, wsr_config_t *conf)
{
    const char *config = NULL;
    wsr_error_t err;
    int c, rc = 0;

    /* Pass 1: find --config, so flags can override the file in pass 2. */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h:p:c:l:m:", long_options, NULL)) != -1)
        if (c == 'c')
            config = optarg;
    if (config != NULL && wsr_config_load_file(conf, config, &err) != 0) {
        fprintf(stderr, "wsrouterd: %s\n", err.text);
        return -1;
    }
    optind = 1;
    opterr = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "h:p:c:l:m:", long_options, NULL)) != -1) {
        if (c == 'H') {
            usage(stdout);
            return 1;
        }
        if (c == 'V') {
            printf("wsrouterd %s (protocol v%d)\n", WSR_VERSION, WSR_PROTOCOL_VERSION);
            return 1;
        }
        rc = apply_option(conf, c, optarg);
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

static int serve(daemon_state_t *d, wsr_config_t *conf)
{
    const wsr_server_config_t *cfg = wsr_config_settings(conf);
    const char *modules = wsr_config_get(conf, "modules");
    pthread_t sig_thread;
    wsr_error_t err;
    int rc;

    d->srv = wsr_server_new(cfg, &err);
    if (d->srv == NULL) {
        fprintf(stderr, "wsrouterd: %s\n", err.text);
        return 1;
    }
    if (wsr_routes_load(wsr_server_router(d->srv), modules ? modules : "examples", &err) != 0 ||
        wsr_server_start(d->srv, &err) != 0) {
        fprintf(stderr, "wsrouterd: %s\n", err.text);
        wsr_server_free(d->srv);
        return 1;
    }
    /* Tests and scripts read these lines to learn the ports. */
    print_url("ws", cfg->host, wsr_server_port(d->srv));
    print_url("wss", cfg->host, wsr_server_tls_port(d->srv));
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
        fprintf(stderr, "wsrouterd: the drain deadline passed; requests in flight were dropped\n");
        /* A handler may still be running on a worker: the process exits now,
         * without the exit-time teardown that would race with it. */
        fprintf(stderr, "wsrouterd: stopped\n");
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    fprintf(stderr, "wsrouterd: stopped\n");
    return 0;
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
        fprintf(stderr, "wsrouterd: cannot add the user: %s\n", wsr_strerror(rc));
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
        fprintf(stderr, "wsrouterd: cannot remove the user: %s\n", wsr_strerror(rc));
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
        fprintf(stderr, "wsrouterd: cannot read the users: %s\n", wsr_strerror(rc));
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

static int user_main(int argc, char **argv, wsr_config_t *conf)
{
    wsr_server_config_t *cfg = wsr_config_settings(conf);
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {"store", required_argument, NULL, 'D'},
                                         {"config", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    const char *verb = argc > 1 ? argv[1] : "";
    char roles[512] = "";
    wsr_store_t *store;
    wsr_error_t err;
    int c, rc = 0;

    optind = 2;
    while (rc == 0 && (c = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
        if (c == 'r')
            rc = add_role(roles, sizeof(roles), optarg);
        else if (c == 'D')
            cfg->store = optarg;
        else if (c == 'c' && wsr_config_load_file(conf, optarg, &err) != 0) {
            fprintf(stderr, "wsrouterd: %s\n", err.text);
            rc = -1;
        } else if (c != 'c')
            rc = -1;
    }
    if (rc != 0 || (strcmp(verb, "list") != 0 && optind >= argc) ||
        (strcmp(verb, "add") != 0 && strcmp(verb, "list") != 0 && strcmp(verb, "remove") != 0)) {
        fprintf(stderr, "usage: wsrouterd user add NAME [--role ROLE]... | list | remove NAME "
                        "[--store FILE | --config FILE]\n");
        return 2;
    }
    if (cfg->store == NULL || cfg->store[0] == '\0') {
        fprintf(stderr, "wsrouterd: no store is configured\n");
        return 2;
    }
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

int main(int argc, char **argv)
{
    daemon_state_t d;
    wsr_config_t *conf;
    wsr_server_config_t *cfg;
    int rc;

    memset(&d, 0, sizeof(d));
    pthread_mutex_init(&d.log_lock, NULL);
    /* One allocator for everything, set before anything allocates (STYLE M1). */
    json_set_alloc_funcs(wsr_malloc, wsr_free);
    lws_set_allocator(lws_realloc_hook);
    /* Signals are taken by the signal thread only: block them everywhere. */
    sigemptyset(&d.signals);
    sigaddset(&d.signals, SIGINT);
    sigaddset(&d.signals, SIGTERM);
    sigaddset(&d.signals, SIGHUP);
    sigaddset(&d.signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &d.signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    conf = wsr_config_new();
    if (conf == NULL || wsr_config_add_key(conf, "modules") != 0) {
        fprintf(stderr, "wsrouterd: out of memory\n");
        wsr_config_free(conf);
        return 1;
    }
    cfg = wsr_config_settings(conf);
    cfg->store = "var/wsrouter.db"; /* wsrouterd keeps counters and users by default */
    if (argc > 1 && strcmp(argv[1], "user") == 0) {
        rc = user_main(argc - 1, argv + 1, conf);
        wsr_config_free(conf);
        return rc;
    }
    rc = parse_args(argc, argv, conf);
    if (rc != 0) {
        wsr_config_free(conf);
        return rc > 0 ? 0 : 2;
    }
    cfg->log = log_sink;
    cfg->log_user = &d;
    lws_set_log_level(lws_mask_for(cfg->log_level), lws_log_sink);
    rc = serve(&d, conf);
    wsr_config_free(conf);
    pthread_mutex_destroy(&d.log_lock);
    return rc;
}
