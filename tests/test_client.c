/* SPDX-License-Identifier: MIT */
/*
 * Tests for the C client (src/client/): the wire helpers on their own, then
 * the client against the real wsrouterd (env WSRD), started for each test on
 * a free port with the diagnostic routes: synchronous and asynchronous calls,
 * 200 calls in flight, every error status, the three encodings, pushes, a
 * server killed mid-call, reconnection after a restart, connect failures and
 * timeouts, TLS (IPv4 and IPv6, expired and misnamed certificates, insecure
 * mode), raw sends beside ordinary calls, cancellation, freeing the client
 * from its own callback, and the README's example program. Every wait is
 * bounded. Every server a test starts lives in the fixture, so teardown stops
 * it (SIGTERM, and it must exit 0: sanitizer reports fail the test), and dies
 * with this process (PR_SET_PDEATHSIG) if the test binary crashes.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/base64_int.h"
#include "client/client_int.h"

/* The README's example, compiled here and run against a real server. */
int readme_main(int argc, char **argv);
#define main readme_main
#include "data/readme_client.c"
#undef main

#define MAX_SLOTS 256
/* Servers a test may start besides the fixture's own. */
#define MAX_EXTRA 2

typedef struct server {
    pid_t pid;
    int port;     /* ws:// */
    int tls_port; /* wss://, 0 when none */
} server_t;

/* The result of one asynchronous call. */
typedef struct slot {
    struct fixture *f;
    bool done;
    int rc;
    int status;
    json_t *msg; /* owned: the reply */
    char text[256];
    uint64_t done_ns;
} slot_t;

typedef struct fixture {
    server_t srv;
    server_t extra[MAX_EXTRA]; /* more servers, stopped by teardown like srv */
    wsr_client_t *c;
    char url[64];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;          /* completed slots */
    json_t *messages;  /* pushes and unmatched messages, in order */
    json_t *progress;  /* the `progress` of every progress message, in order */
    int late_progress; /* progress given after its call's reply (or malformed) */
    int input_rc;      /* what a callback's wsr_client_send_input returned */
    wsr_client_state_t states[64];
    int codes[64];
    int nstates;
    char state_text[256]; /* the text of the last state change */
    char log[512];
    char log_all[4096];     /* every log line, one a line, as long as it fits */
    int warnings;           /* log lines at WSR_LOG_WARN or above */
    char certs[64];         /* a temporary directory of certificates, or "" */
    int resubs;             /* on_resubscribed calls */
    int resubs_recovered;   /* ...that said recovered */
    int resubs_failed;      /* ...that said not ok */
    int64_t resub_offset;   /* the offset of the last one */
    bool hold_reconnecting; /* on_state_gated holds the service thread while reconnecting */
    slot_t slots[MAX_SLOTS];
} fixture_t;

static uint64_t now_ms(void)
{
    return wsr__now_ns() / 1000000u;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- wsrouterd ---- */

/* The port of the first "listening on <scheme>HOST:PORT/" line in `text`, or 0. */
static int port_after(const char *text, const char *scheme)
{
    char pattern[32];
    const char *m, *end;

    snprintf(pattern, sizeof(pattern), "listening on %s", scheme);
    m = strstr(text, pattern);
    end = m ? strstr(m, "/\n") : NULL;
    if (end == NULL)
        return 0;
    while (end > m && *end != ':')
        end--;
    return (int)strtol(end + 1, NULL, 10);
}

/* Reads the listening lines (one write) within 10 s: the ws:// and wss:// ports. */
static int read_ports(server_t *s, int fd)
{
    char buf[1024];
    size_t n = 0;
    uint64_t deadline = now_ms() + 10000;

    while (now_ms() < deadline && n < sizeof(buf) - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;

        if (poll(&p, 1, 100) <= 0)
            continue;
        r = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        s->port = port_after(buf, "ws://");
        s->tls_port = port_after(buf, "wss://");
        if (s->port > 0)
            return 0;
    }
    return -1;
}

/* Starts wsrouterd --port `port` --modules all --store "" (no files), plus `extra`. */
static int server_start(server_t *s, int port, const char *const *extra)
{
    const char *wsrd = getenv("WSRD");
    char port_text[16];
    const char *argv[32];
    int fds[2], n = 0;
    pid_t parent;

    if (wsrd == NULL)
        return -1;
    snprintf(port_text, sizeof(port_text), "%d", port);
    argv[n++] = wsrd;
    argv[n++] = "--port";
    argv[n++] = port_text;
    argv[n++] = "--modules";
    argv[n++] = "all";
    argv[n++] = "--store";
    argv[n++] = "";
    while (extra != NULL && *extra != NULL && n < 31)
        argv[n++] = *extra++;
    argv[n] = NULL;
    if (pipe(fds) != 0)
        return -1;
    parent = getpid();
    s->pid = fork();
    if (s->pid == 0) {
        /* Die with the test binary, even when it crashes. The signal follows
         * the forking thread, which is always the test's main thread here. If
         * the parent died before prctl, getppid() has changed already. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(wsrd, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    s->port = -1;
    if (s->pid > 0 && read_ports(s, fds[0]) != 0)
        s->port = -1;
    close(fds[0]);
    return s->port > 0 ? 0 : -1;
}

/* Sends `sig` and reaps the server within 10 s (SIGKILL past that). Returns its status. */
static int server_stop(server_t *s, int sig)
{
    uint64_t deadline = now_ms() + 10000;
    int status = -1;

    if (s->pid <= 0)
        return -1;
    kill(s->pid, sig);
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            break;
        }
        sleep_ms(10);
    }
    s->pid = 0;
    return status;
}

/* A port nothing listens on (bound, read, closed). */
static int free_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* ---- the client's handlers ---- */

static void on_message(void *user, json_t *message)
{
    fixture_t *f = user;

    pthread_mutex_lock(&f->lock);
    json_array_append_new(f->messages, message); /* the handler owns it */
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static void on_state(void *user, wsr_client_state_t state, int code, const char *text)
{
    fixture_t *f = user;

    pthread_mutex_lock(&f->lock);
    snprintf(f->state_text, sizeof(f->state_text), "%s", text);
    if (f->nstates < 64) {
        f->codes[f->nstates] = code;
        f->states[f->nstates++] = state;
    }
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static void on_log(void *user, int level, const char *line)
{
    fixture_t *f = user;

    pthread_mutex_lock(&f->lock);
    snprintf(f->log, sizeof(f->log), "%s", line);
    snprintf(f->log_all + strlen(f->log_all), sizeof(f->log_all) - strlen(f->log_all), "%s\n",
             line);
    if (level <= WSR_LOG_WARN)
        f->warnings++;
    pthread_mutex_unlock(&f->lock);
}

static void on_reply(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    slot_t *s = user;
    fixture_t *f = s->f;

    pthread_mutex_lock(&f->lock);
    s->rc = rc;
    if (reply != NULL) {
        s->status = reply->status;
        s->msg = reply->message;
        reply->message = NULL; /* taken */
    } else {
        snprintf(s->text, sizeof(s->text), "%s", error);
    }
    s->done = true;
    s->done_ns = wsr__now_ns();
    f->done++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

/* Waits until `pred(f)` holds, for at most `ms`. Returns whether it does. */
static bool wait_for(fixture_t *f, bool (*pred)(fixture_t *, long), long arg, long ms)
{
    uint64_t deadline = now_ms() + (uint64_t)ms;
    bool ok;

    pthread_mutex_lock(&f->lock);
    while (!(ok = pred(f, arg)) && now_ms() < deadline) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&f->cond, &f->lock, &ts);
    }
    pthread_mutex_unlock(&f->lock);
    return ok;
}

static bool done_at_least(fixture_t *f, long n)
{
    return f->done >= n;
}

static bool messages_at_least(fixture_t *f, long n)
{
    return (long)json_array_size(f->messages) >= n;
}

static bool progress_at_least(fixture_t *f, long n)
{
    return (long)json_array_size(f->progress) >= n;
}

/* Progress of the call whose slot is `user`, kept in order; counted as late
 * when that call's reply was already given. */
static void on_progress(void *user, uint64_t call_id, json_t *progress, json_t *message)
{
    slot_t *s = user;
    fixture_t *f = s->f;

    /* No cmocka assertion here: this is the service thread. */
    pthread_mutex_lock(&f->lock);
    if (s->done || call_id == 0 || json_object_get(message, "progress") != progress)
        f->late_progress++;
    json_array_append_new(f->progress, json_deep_copy(progress)); /* borrowed: copied */
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static bool saw_state(fixture_t *f, long state)
{
    for (int i = 0; i < f->nstates; i++)
        if ((long)f->states[i] == state)
            return true;
    return false;
}

/* ---- fixtures ---- */

static wsr_client_config_t base_config(fixture_t *f)
{
    wsr_client_config_t cfg;

    wsr_client_config_init(&cfg);
    cfg.url = f->url;
    cfg.on_message = on_message;
    cfg.on_state = on_state;
    cfg.user = f;
    cfg.log = on_log;
    cfg.log_user = f;
    cfg.call_timeout_ms = 10000;
    return cfg;
}

static fixture_t *fixture_alloc(void)
{
    fixture_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->messages = json_array();
    f->progress = json_array();
    for (int i = 0; i < MAX_SLOTS; i++)
        f->slots[i].f = f;
    return f;
}

static void fixture_start(fixture_t *f, const char *const *server_args)
{
    if (server_start(&f->srv, 0, server_args) != 0)
        fail_msg("cannot start wsrouterd (WSRD=%s)", getenv("WSRD") ? getenv("WSRD") : "unset");
    snprintf(f->url, sizeof(f->url), "ws://127.0.0.1:%d/", f->srv.port);
}

static fixture_t *fixture_new(const char *const *server_args)
{
    fixture_t *f = fixture_alloc();

    fixture_start(f, server_args);
    return f;
}

/* Creates and connects the fixture's client with `cfg`. */
static void connect_client(fixture_t *f, const wsr_client_config_t *cfg)
{
    wsr_error_t err;

    f->c = wsr_client_new(cfg, &err);
    assert_non_null(f->c);
    if (wsr_client_connect(f->c, &err) != 0)
        fail_msg("connect: %s", err.text);
    assert_int_equal(wsr_client_state(f->c), WSR_CLIENT_OPEN);
}

static int setup(void **state)
{
    fixture_t *f = fixture_new(NULL);
    wsr_client_config_t cfg = base_config(f);

    connect_client(f, &cfg);
    *state = f;
    return 0;
}

static int setup_bare(void **state)
{
    *state = fixture_new(NULL);
    return 0;
}

/* A fixture whose test starts its own server. */
static int fixture_setup_alloc(void **state)
{
    *state = fixture_alloc();
    return 0;
}

/* A path in the fixture's certificate directory. */
static const char *cert_path(fixture_t *f, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", f->certs, name);
    return out;
}

/*
 * Makes certificates in a fresh directory with certs/mkcerts.sh (a CA, a
 * server certificate for localhost, 127.0.0.1 and ::1, a client certificate,
 * an unrelated CA), plus from the same CA a server certificate for another
 * host name (wrong.pem) and one for the right names that expired in 2020
 * (expired.pem: `openssl x509 -days` cannot go back in time, `openssl ca
 * -startdate -enddate` can); then starts wsrouterd serving wss:// with them,
 * client certificates optional.
 */
static int setup_tls(void **state)
{
    fixture_t *f = fixture_alloc();
    const char *data = getenv("WSR_TEST_DATA");
    char cmd[2048], pem[128], key[128], ca[128];
    const char *args[] = {
        "--tls-port",      "0",  "--tls-cert",        NULL,       "--tls-key", NULL,
        "--tls-client-ca", NULL, "--tls-client-auth", "optional", NULL};

    snprintf(f->certs, sizeof(f->certs), "/tmp/wsr-client-certs-XXXXXX");
    assert_non_null(data);
    assert_non_null(mkdtemp(f->certs));
    snprintf(cmd, sizeof(cmd),
             "sh '%s/../../certs/mkcerts.sh' '%s' >/dev/null && cd '%s' && "
             "printf 'subjectAltName=DNS:wrong.example\\n' > wrong.ext && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout wrong.key -out wrong.csr -subj /CN=wrong.example 2>/dev/null && "
             "openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out wrong.pem -days 2 -extfile wrong.ext 2>/dev/null && "
             "printf '[ca]\\ndefault_ca=t\\n[t]\\ndatabase=index.txt\\nnew_certs_dir=.\\n"
             "serial=serial\\ndefault_md=sha256\\npolicy=p\\n[p]\\ncommonName=supplied\\n"
             "[ext]\\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\\n' > ca.cnf && "
             ": > index.txt && echo 1000 > serial && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout expired.key -out expired.csr -subj /CN=localhost 2>/dev/null && "
             "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr "
             "-out expired.pem -startdate 20200101000000Z -enddate 20200102000000Z "
             "-extensions ext -notext 2>/dev/null",
             data, f->certs, f->certs);
    assert_int_equal(system(cmd), 0);
    args[3] = cert_path(f, "server.pem", pem, sizeof(pem));
    args[5] = cert_path(f, "server.key", key, sizeof(key));
    args[7] = cert_path(f, "ca.pem", ca, sizeof(ca));
    fixture_start(f, args);
    assert_true(f->srv.tls_port > 0);
    *state = f;
    return 0;
}

/* Stops `s` with SIGTERM when it still runs; true when it was not running or exited 0. */
static bool server_stop_clean(server_t *s, int *status)
{
    int st;

    if (s->pid <= 0)
        return true;
    st = server_stop(s, SIGTERM);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return true;
    *status = st;
    return false;
}

/*
 * Frees the client, stops every server still running with SIGTERM and checks
 * each exited 0 (a server a test killed on purpose has pid 0 and is exempt).
 */
static int teardown(void **state)
{
    fixture_t *f = *state;
    bool clean = true;
    int status = 0;

    wsr_client_free(f->c);
    clean = server_stop_clean(&f->srv, &status) && clean;
    for (int i = 0; i < MAX_EXTRA; i++)
        clean = server_stop_clean(&f->extra[i], &status) && clean;
    if (f->certs[0] != '\0') {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->certs);
        if (system(cmd) != 0)
            clean = false;
    }
    for (int i = 0; i < MAX_SLOTS; i++)
        json_decref(f->slots[i].msg);
    json_decref(f->messages);
    json_decref(f->progress);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    free(f);
    if (!clean)
        fail_msg("a wsrouterd did not exit 0 on SIGTERM (status 0x%x)", (unsigned)status);
    return 0;
}

/* ---- the wire helpers ---- */

static void test_client__url_parse(void **state)
{
    wsr__url_t u;
    wsr_error_t err;

    (void)state;
    assert_int_equal(wsr__url_parse(&u, "ws://127.0.0.1:8080/", &err), 0);
    assert_false(u.tls);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/");
    assert_string_equal(u.host_header, "127.0.0.1:8080");
    wsr__url_dispose(&u);
    assert_int_equal(wsr__url_parse(&u, "WSS://example.com?token=x#frag", &err), 0);
    assert_true(u.tls);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/?token=x");
    assert_string_equal(u.host_header, "example.com");
    wsr__url_dispose(&u);
    assert_int_equal(wsr__url_parse(&u, "ws://[::1]:9000/a/b", &err), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.host_header, "[::1]:9000");
    assert_string_equal(u.path, "/a/b");
    wsr__url_dispose(&u);
    assert_int_equal(wsr__url_parse(&u, "ws://h", &err), 0);
    assert_string_equal(u.path, "/");
    assert_int_equal(u.port, 80);
    wsr__url_dispose(&u);
    static const char *const bad[] = {"http://h/", "ws://",         "ws://:80/",
                                      "ws://h:0/", "ws://h:65536/", "ws://h:8x/",
                                      "ws://u@h/", "ws://[::1/",    "h:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wsr__url_parse(&u, bad[i], &err), WSR_EINVAL);
        assert_true(strlen(err.text) > 0);
    }
}

/*
 * Encodes one request with a client of `encoding` (no connection needed) and
 * writes what the JSON must be into `want`.
 */
static wsr__cmsg_t *encode_with(wsr_client_encoding_t encoding, const wsr_client_request_t *req,
                                char *want, size_t n)
{
    wsr_client_config_t cfg;
    wsr_client_t *c;
    wsr__cmsg_t *m = NULL;
    wsr_error_t err;
    char id[WSR__CLIENT_ID_LEN];
    unsigned hex;
    int end = 0;

    wsr_client_config_init(&cfg);
    cfg.encoding = encoding;
    cfg.token = "tok";
    c = wsr_client_new(&cfg, &err);
    assert_non_null(c);
    assert_int_equal(wsr__client_encode(c, req, 7, &m, &err), 0);
    /* Ids are "wsr-<8 random hex digits>-<n>" (client.h, "Ids"). */
    wsr__client_wire_id(c, 7, id);
    assert_int_equal(sscanf(id, "wsr-%8x-7%n", &hex, &end), 1);
    assert_int_equal(end, 14);
    assert_int_equal(strlen(id), 14);
    snprintf(want, n, "{\"cmd\":\"add\",\"args\":{\"x\":1},\"id\":\"%s\",\"token\":\"tok\"}", id);
    wsr_client_free(c);
    return m;
}

static void test_client__encode_three_encodings(void **state)
{
    char want[128];
    wsr_client_request_t req;
    wsr__cmsg_t *m;
    wsr__buf_t b64;
    json_t *args = json_pack("{s:i}", "x", 1);

    (void)state;
    wsr_client_request_init(&req);
    req.cmd = "add";
    req.args = args;
    m = encode_with(WSR_CLIENT_JSON, &req, want, sizeof(want));
    assert_false(m->binary);
    assert_int_equal(wsr__buf_payload_len(&m->buf), strlen(want));
    assert_memory_equal(wsr__buf_payload(&m->buf), want, strlen(want));
    wsr__cmsg_free(m);
    for (int enc = WSR_CLIENT_BASE64_TEXT; enc <= WSR_CLIENT_BASE64_BINARY; enc++) {
        m = encode_with((wsr_client_encoding_t)enc, &req, want, sizeof(want));
        assert_int_equal(m->binary, enc == WSR_CLIENT_BASE64_BINARY);
        wsr__buf_init(&b64, 0, 0);
        assert_int_equal(
            wsr__base64_decode(&b64, wsr__buf_payload(&m->buf), wsr__buf_payload_len(&m->buf)), 0);
        assert_int_equal(b64.len, strlen(want));
        assert_memory_equal(b64.data, want, b64.len);
        wsr__buf_dispose(&b64);
        wsr__cmsg_free(m);
    }
    json_decref(args);
}

static void test_client__decode(void **state)
{
    static const char json[] = " {\"status\":200,\"data\":[1],\"id\":3}\n";
    static const char b64[] = "eyJzdGF0dXMiOjIwMH0="; /* {"status":200} */
    char why[128];
    json_t *v;

    (void)state;
    v = wsr__client_decode((const unsigned char *)json, strlen(json), false, why, sizeof(why));
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "id")), 3);
    json_decref(v);
    v = wsr__client_decode((const unsigned char *)b64, strlen(b64), false, why, sizeof(why));
    assert_non_null(v);
    json_decref(v);
    v = wsr__client_decode((const unsigned char *)b64, strlen(b64), true, why, sizeof(why));
    assert_non_null(v);
    json_decref(v);
    assert_null(wsr__client_decode((const unsigned char *)"{x", 2, false, why, sizeof(why)));
    assert_non_null(strstr(why, "not valid JSON"));
    assert_null(wsr__client_decode((const unsigned char *)"!!", 2, true, why, sizeof(why)));
    assert_null(wsr__client_decode((const unsigned char *)"WzFd", 4, false, why, sizeof(why)));
    assert_string_equal(why, "a message from the server is not a JSON object");
}

static void test_client__config_errors(void **state)
{
    wsr_client_config_t cfg;
    wsr_error_t err;
    char log[512] = "";
    fixture_t f;

    (void)state;
    wsr_client_config_init(&cfg);
    cfg.url = "http://127.0.0.1/";
    assert_null(wsr_client_new(&cfg, &err));
    assert_int_equal(err.code, WSR_EINVAL);
    wsr_client_config_init(&cfg);
    cfg.ca_file = "/etc/hostname";
    assert_null(wsr_client_new(&cfg, &err));
    assert_string_equal(err.text, "TLS options need a wss:// URL");
    wsr_client_config_init(&cfg);
    cfg.url = "wss://localhost:1/";
    cfg.ca_file = "/nonexistent/ca.pem";
    assert_null(wsr_client_new(&cfg, &err));
    assert_int_equal(err.code, WSR_EIO);
    assert_non_null(strstr(err.text, "/nonexistent/ca.pem"));
    wsr_client_config_init(&cfg);
    cfg.call_timeout_ms = 0;
    assert_null(wsr_client_new(&cfg, &err));
    assert_int_equal(err.code, WSR_EINVAL);
    /* The insecure flag is loud at each connection (test_client__wss_insecure_*),
     * on the service thread like every log line: creating the client is quiet. */
    memset(&f, 0, sizeof(f));
    pthread_mutex_init(&f.lock, NULL);
    wsr_client_config_init(&cfg);
    cfg.url = "wss://localhost:1/";
    cfg.insecure = true;
    cfg.log = on_log;
    cfg.log_user = &f;
    wsr_client_t *c = wsr_client_new(&cfg, &err);
    assert_non_null(c);
    pthread_mutex_lock(&f.lock);
    snprintf(log, sizeof(log), "%s", f.log);
    pthread_mutex_unlock(&f.lock);
    assert_string_equal(log, "");
    assert_int_equal(wsr_client_state(c), WSR_CLIENT_IDLE);
    wsr_client_free(c);
    wsr_client_free(NULL);
    pthread_mutex_destroy(&f.lock);
}

/* ---- calls ---- */

static void test_client__sync_call(void **state)
{
    fixture_t *f = *state;
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *data = json_pack("{s:[i,s]}", "a", 1, "b");

    assert_int_equal(wsr_client_call(f->c, "GET", "/hello/bob/42", NULL, NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(r.data), "Hello, bob with ID=42");
    assert_null(r.detail);
    assert_true(json_is_string(json_object_get(r.message, "id")));
    assert_true(strncmp(json_string_value(json_object_get(r.message, "id")), "wsr-", 4) == 0);
    wsr_client_reply_dispose(&r);
    assert_null(r.message);
    assert_int_equal(wsr_client_call(f->c, "POST", "/echo", NULL, data, &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_true(json_equal(r.data, data));
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_call(f->c, "GET", "/math/add?x=1&y=2.5", NULL, NULL, &r, &err), 0);
    assert_true(json_number_value(r.data) == 3.5);
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_pending(f->c), 0);
    json_decref(data);
}

static void test_client__execute_and_request(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *params = json_pack("{s:i,s:i}", "x", 1, "y", 2);
    json_t *event = json_string("greet");

    assert_int_equal(wsr_client_execute(f->c, "add", params, &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(r.data), 3);
    wsr_client_reply_dispose(&r);
    wsr_client_request_init(&req);
    req.method = "GET";
    req.url = "/hello";
    req.event_name = event;
    req.timeout_ms = 2000;
    assert_int_equal(wsr_client_request(f->c, &req, &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.message, "event_name")), "greet");
    wsr_client_reply_dispose(&r);
    /* Neither method+url nor cmd: refused before anything is sent. */
    wsr_client_request_init(&req);
    req.url = "/hello";
    assert_int_equal(wsr_client_request(f->c, &req, &r, &err), WSR_EINVAL);
    assert_string_equal(err.text, "a request needs a method and a url, or a cmd");
    assert_null(r.message);
    req.method = "GET";
    req.args = event; /* not an object */
    assert_int_equal(wsr_client_request(f->c, &req, &r, &err), WSR_EINVAL);
    /* Both a cmd and a method+url: which one was meant is unknown, so neither is sent. */
    wsr_client_request_init(&req);
    req.cmd = "add";
    req.method = "GET";
    req.url = "/hello";
    assert_int_equal(wsr_client_request(f->c, &req, &r, &err), WSR_EINVAL);
    assert_string_equal(err.text, "a request takes a method and a url, or a cmd, not both");
    req.method = NULL; /* a url alone beside the cmd is refused as well */
    assert_int_equal(wsr_client_request(f->c, &req, &r, &err), WSR_EINVAL);
    assert_int_equal(wsr_client_pending(f->c), 0);
    json_decref(params);
    json_decref(event);
}

static void test_client__async_calls(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_error_t err;

    wsr_client_request_init(&req);
    req.cmd = "later";
    req.args = json_pack("{s:i}", "ms", 300);
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[0], NULL, &err), 0);
    json_decref(req.args);
    req.args = NULL;
    req.cmd = "ping";
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[1], NULL, &err), 0);
    assert_true(wait_for(f, done_at_least, 2, 5000));
    assert_int_equal(f->slots[0].rc, 0);
    assert_int_equal(f->slots[1].status, 200);
    assert_string_equal(json_string_value(json_object_get(f->slots[1].msg, "data")), "PONG");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(f->slots[0].msg, "data"), "waited_ms")),
        300);
    /* The deferred reply was overtaken by the immediate one. */
    assert_true(f->slots[1].done_ns < f->slots[0].done_ns);
    assert_int_equal(wsr_client_request_async(f->c, &req, NULL, NULL, NULL, &err), WSR_EINVAL);
}

static void test_client__200_calls_in_flight(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_error_t err;
    size_t peak;

    wsr_client_request_init(&req);
    req.cmd = "later";
    for (int i = 0; i < 200; i++) {
        /* Deferred replies of different lengths come back out of order. */
        req.args = json_pack("{s:i}", "ms", 400 + (i % 10) * 20);
        assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[i], NULL, &err),
                         0);
        json_decref(req.args);
    }
    peak = wsr_client_pending(f->c);
    assert_true(peak > 150);
    assert_true(wait_for(f, done_at_least, 200, 20000));
    for (int i = 0; i < 200; i++) {
        json_t *data = json_object_get(f->slots[i].msg, "data");

        assert_int_equal(f->slots[i].rc, 0);
        assert_int_equal(f->slots[i].status, 200);
        assert_int_equal(json_integer_value(json_object_get(data, "waited_ms")),
                         400 + (i % 10) * 20);
    }
    assert_int_equal(wsr_client_pending(f->c), 0);
}

static void test_client__error_statuses(void **state)
{
    fixture_t *f = *state;
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *bad = json_pack("{s:s}", "x", "one");

    assert_int_equal(wsr_client_call(f->c, "GET", "/nope", NULL, NULL, &r, &err), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.detail, "no route for /nope");
    assert_null(r.data);
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_call(f->c, "DELETE", "/counters/a", NULL, NULL, &r, &err), 0);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.detail, "method DELETE is not allowed on /counters/{key}");
    assert_int_equal(json_array_size(r.allow), 3);
    assert_string_equal(json_string_value(json_array_get(r.allow, 0)), "GET");
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_execute(f->c, "add", bad, &r, &err), 0);
    assert_int_equal(r.status, 422);
    assert_string_equal(json_string_value(json_object_get(r.errors, "x")), "must be a number");
    assert_string_equal(json_string_value(json_object_get(r.errors, "y")), "is required");
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_execute(f->c, "fail", NULL, &r, &err), 0);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.detail, "the handler failed; see the server log");
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_execute(f->c, "nosuch", NULL, &r, &err), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.detail, "no command named nosuch");
    wsr_client_reply_dispose(&r);
    json_decref(bad);
}

static void test_client__raw_send_400(void **state)
{
    fixture_t *f = *state;
    static const char not_json[] = "{\"method\":";
    static const char wrong_type[] = "{\"method\":5,\"url\":\"/hello\"}";
    wsr_client_reply_t r;
    wsr_error_t err;

    assert_int_equal(wsr_client_send_raw(f->c, "!!!", 3, true, 0, &r, &err), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.detail, "message is not valid base64 (RFC 4648, standard alphabet)");
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_send_raw(f->c, not_json, strlen(not_json), false, 0, &r, &err), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.detail, "not valid JSON"));
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_send_raw(f->c, wrong_type, strlen(wrong_type), false, 0, &r, &err),
                     0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.detail, "member method must be a string");
    wsr_client_reply_dispose(&r);
    /* Raw sends and ordinary calls interleave: each reply finds its call. */
    assert_int_equal(
        wsr_client_send_raw_async(f->c, "!!!", 3, true, 0, on_reply, &f->slots[0], NULL, &err), 0);
    assert_int_equal(wsr_client_call(f->c, "GET", "/hello", NULL, NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    wsr_client_reply_dispose(&r);
    assert_true(wait_for(f, done_at_least, 1, 5000));
    assert_int_equal(f->slots[0].status, 400);
}

static void test_client__408_request_timeout(void **state)
{
    static const char *const args[] = {"--set", "request_timeout_ms=200", NULL};
    fixture_t *f = fixture_new(args);
    wsr_client_config_t cfg = base_config(f);
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *ms = json_pack("{s:i}", "ms", 1000);
    uint64_t t0;

    *state = f;
    connect_client(f, &cfg);
    t0 = now_ms();
    assert_int_equal(wsr_client_execute(f->c, "later", ms, &r, &err), 0);
    assert_int_equal(r.status, 408);
    assert_non_null(r.detail);
    assert_true(now_ms() - t0 < 900);
    wsr_client_reply_dispose(&r);
    json_decref(ms);
}

static void test_client__call_timeout(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;
    uint64_t t0 = now_ms(), took;

    wsr_client_request_init(&req);
    req.cmd = "later";
    req.args = json_pack("{s:i}", "ms", 600);
    req.timeout_ms = 150;
    assert_int_equal(wsr_client_request(f->c, &req, &r, &err), WSR_ETIMEDOUT);
    took = now_ms() - t0;
    assert_true(took >= 140 && took < 1000);
    assert_null(r.message);
    assert_non_null(strstr(err.text, "no reply to cmd later within 150 ms"));
    assert_int_equal(wsr_client_pending(f->c), 0);
    /* The late reply reaches the message handler; the connection is still fine. */
    assert_true(wait_for(f, messages_at_least, 1, 5000));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(f->messages, 0), "status")),
                     200);
    assert_int_equal(wsr_client_call(f->c, "GET", "/_/ping", NULL, NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    wsr_client_reply_dispose(&r);
    json_decref(req.args);
}

/* The counter `group`.`name` (`name` alone when `group` is NULL) of the
 * reply's data to the command `cmd`, or -1. */
static long server_count(fixture_t *f, const char *cmd, const char *group, const char *name)
{
    wsr_client_reply_t r;
    wsr_error_t err;
    long n = -1;

    if (wsr_client_execute(f->c, cmd, NULL, &r, &err) != 0)
        return -1;
    if (r.status == 200)
        n = (long)json_integer_value(
            json_object_get(group ? json_object_get(r.data, group) : r.data, name));
    wsr_client_reply_dispose(&r);
    return n;
}

static void test_client__503_while_draining(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;
    uint64_t deadline;
    int status = 0;

    wsr_client_request_init(&req);
    req.cmd = "later";
    req.args = json_pack("{s:i}", "ms", 1500);
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[0], NULL, &err), 0);
    json_decref(req.args);
    /* The server reads one connection's messages in order, so once it answers
     * stats, it has read `later` (and counts it with stats: two messages). */
    assert_true(server_count(f, "stats", "messages", "in") >= 2);
    assert_false(f->slots[0].done);
    kill(f->srv.pid, SIGTERM);
    /* Until the signal is handled ping may still get 200: poll, bounded. */
    deadline = now_ms() + 5000;
    for (;;) {
        assert_int_equal(wsr_client_execute(f->c, "ping", NULL, &r, &err), 0);
        status = r.status;
        if (status == 503 || now_ms() > deadline)
            break;
        assert_int_equal(status, 200);
        wsr_client_reply_dispose(&r);
        sleep_ms(10);
    }
    assert_int_equal(status, 503);
    assert_string_equal(r.detail, "the server is shutting down");
    wsr_client_reply_dispose(&r);
    /* The call in flight is answered, then the server closes with 1001. */
    assert_true(wait_for(f, done_at_least, 1, 5000));
    assert_int_equal(f->slots[0].status, 200);
    assert_true(wait_for(f, saw_state, WSR_CLIENT_IDLE, 5000));
    status = server_stop(&f->srv, 0); /* it is already stopping */
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(wsr_client_execute(f->c, "ping", NULL, &r, &err), WSR_ECLOSED);
    assert_non_null(strstr(err.text, "not connected"));
}

static void test_client__encodings(void **state)
{
    fixture_t *f = *state;

    for (int enc = WSR_CLIENT_JSON; enc <= WSR_CLIENT_BASE64_BINARY; enc++) {
        wsr_client_config_t cfg = base_config(f);
        wsr_client_reply_t r;
        wsr_error_t err;
        json_t *data = json_pack("{s:s}", "k", "x\xe2\x80\xa8y");

        cfg.encoding = (wsr_client_encoding_t)enc;
        connect_client(f, &cfg);
        assert_int_equal(wsr_client_call(f->c, "GET", "/hello/bob/42", NULL, NULL, &r, &err), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(r.data), "Hello, bob with ID=42");
        wsr_client_reply_dispose(&r);
        assert_int_equal(wsr_client_call(f->c, "PUT", "/echo", NULL, data, &r, &err), 0);
        assert_true(json_equal(r.data, data));
        wsr_client_reply_dispose(&r);
        assert_int_equal(wsr_client_call(f->c, "GET", "/nope", NULL, NULL, &r, &err), 0);
        assert_int_equal(r.status, 404);
        wsr_client_reply_dispose(&r);
        json_decref(data);
        wsr_client_free(f->c);
        f->c = NULL;
    }
}

/* The subprotocol the server chose, copied into `out` (64 bytes). */
static const char *chosen_protocol(wsr_client_t *c, char *out)
{
    pthread_mutex_lock(&c->lock);
    snprintf(out, 64, "%s", c->protocol);
    pthread_mutex_unlock(&c->lock);
    return out;
}

static void test_client__subprotocol(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);
    char protocol[64];
    wsr_client_reply_t r;
    wsr_error_t err;

    cfg.subprotocol = WSR_SUBPROTOCOL;
    connect_client(f, &cfg);
    assert_int_equal(wsr_client_execute(f->c, "ping", NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    wsr_client_reply_dispose(&r);
    /* The server chose it: its Sec-WebSocket-Protocol answer, kept at the handshake. */
    assert_string_equal(chosen_protocol(f->c, protocol), WSR_SUBPROTOCOL);
    wsr_client_free(f->c);
    /* Asked for none, it gets none (aiorest-ws clients ask for none). */
    cfg.subprotocol = NULL;
    connect_client(f, &cfg);
    assert_string_equal(chosen_protocol(f->c, protocol), "");
}

static void test_client__pushes(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;

    wsr_client_request_init(&req);
    req.method = "POST";
    req.url = "/diag/push";
    req.args = json_pack("{s:i,s:s}", "count", 3, "event", "tick");
    req.data = json_pack("{s:i}", "n", 5);
    assert_int_equal(wsr_client_request(f->c, &req, &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.data, "pushed")), 3);
    wsr_client_reply_dispose(&r);
    /* The pushes came before the reply, so the handler has seen them all. */
    pthread_mutex_lock(&f->lock);
    assert_int_equal(json_array_size(f->messages), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *m = json_array_get(f->messages, i);

        assert_null(json_object_get(m, "status"));
        assert_string_equal(json_string_value(json_object_get(m, "event_name")), "tick");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "data"), "seq")),
                         (json_int_t)i);
        assert_true(json_equal(json_object_get(json_object_get(m, "data"), "data"), req.data));
    }
    pthread_mutex_unlock(&f->lock);
    json_decref(req.args);
    json_decref(req.data);
}

static void test_client__publications(void **state)
{
    fixture_t *f = *state;
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *topic = json_pack("{s:s}", "topic", "chat");
    json_t *data = json_pack("{s:s}", "text", "hi");
    json_t *m;

    assert_int_equal(wsr_client_call(f->c, "POST", "/_/subscribe", topic, NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_call(f->c, "POST", "/_/publish", topic, data, &r, &err), 0);
    assert_int_equal(r.status, 200);
    wsr_client_reply_dispose(&r);
    assert_true(wait_for(f, messages_at_least, 1, 5000));
    m = json_array_get(f->messages, 0);
    assert_string_equal(json_string_value(json_object_get(m, "event_name")), "publish");
    assert_string_equal(json_string_value(json_object_get(m, "topic")), "chat");
    assert_true(json_equal(json_object_get(m, "data"), data));
    json_decref(topic);
    json_decref(data);
}

static void test_client__server_killed_mid_call(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;
    uint64_t t0;

    wsr_client_request_init(&req);
    req.cmd = "later";
    req.args = json_pack("{s:i}", "ms", 3000);
    req.timeout_ms = 10000;
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[0], NULL, &err), 0);
    json_decref(req.args);
    sleep_ms(200);
    t0 = now_ms();
    server_stop(&f->srv, SIGKILL);
    assert_true(wait_for(f, done_at_least, 1, 10000));
    assert_true(now_ms() - t0 < 2000);
    assert_int_equal(f->slots[0].rc, WSR_ECLOSED);
    assert_non_null(strstr(f->slots[0].text, "was lost"));
    assert_null(f->slots[0].msg);
    assert_true(wait_for(f, saw_state, WSR_CLIENT_IDLE, 5000));
    assert_int_equal(wsr_client_state(f->c), WSR_CLIENT_IDLE);
    assert_int_equal(wsr_client_pending(f->c), 0);
    /* Calls made now fail at once. */
    t0 = now_ms();
    assert_int_equal(wsr_client_execute(f->c, "ping", NULL, &r, &err), WSR_ECLOSED);
    assert_true(now_ms() - t0 < 100);
    assert_int_equal(wsr_client_wait_connected(f->c, 100), WSR_ESTATE);
}

static void test_client__reconnect_after_restart(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;
    int port = f->srv.port;

    cfg.reconnect = true;
    cfg.reconnect_min_ms = 50;
    cfg.reconnect_max_ms = 400;
    connect_client(f, &cfg);
    wsr_client_request_init(&req);
    req.cmd = "later";
    req.args = json_pack("{s:i}", "ms", 3000);
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[0], NULL, &err), 0);
    json_decref(req.args);
    sleep_ms(100);
    server_stop(&f->srv, SIGKILL);
    assert_true(wait_for(f, done_at_least, 1, 5000));
    assert_int_equal(f->slots[0].rc, WSR_ECLOSED);
    assert_true(wait_for(f, saw_state, WSR_CLIENT_RECONNECTING, 5000));
    /* While the server is down, calls fail fast and attempts keep failing. */
    assert_int_equal(wsr_client_execute(f->c, "ping", NULL, &r, &err), WSR_ECLOSED);
    sleep_ms(500);
    assert_int_not_equal(wsr_client_state(f->c), WSR_CLIENT_OPEN);
    /* The server comes back on the same port; the client finds it. */
    assert_int_equal(server_start(&f->srv, port, NULL), 0);
    assert_int_equal(wsr_client_wait_connected(f->c, 10000), 0);
    assert_int_equal(wsr_client_execute(f->c, "ping", NULL, &r, &err), 0);
    assert_string_equal(json_string_value(r.data), "PONG");
    wsr_client_reply_dispose(&r);
}

static void test_client__reconnect_gives_up(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);

    cfg.reconnect = true;
    cfg.reconnect_min_ms = 20;
    cfg.reconnect_max_ms = 40;
    cfg.reconnect_max_attempts = 3;
    connect_client(f, &cfg);
    server_stop(&f->srv, SIGKILL);
    assert_true(wait_for(f, saw_state, WSR_CLIENT_RECONNECTING, 5000));
    assert_true(wait_for(f, saw_state, WSR_CLIENT_IDLE, 5000));
    assert_int_equal(wsr_client_state(f->c), WSR_CLIENT_IDLE);
    /* After the first connection: exactly three attempts, then the sentence.
     * Nothing changes any more, so the fields are read without the lock's help
     * past this one acquisition (an assert must not leave it held). */
    pthread_mutex_lock(&f->lock);
    pthread_mutex_unlock(&f->lock);
    int open_at = -1, attempts = 0;

    for (int i = 0; i < f->nstates; i++) {
        if (f->states[i] == WSR_CLIENT_OPEN && open_at < 0)
            open_at = i;
        else if (open_at >= 0 && f->states[i] == WSR_CLIENT_CONNECTING)
            attempts++;
    }
    assert_true(open_at >= 0);
    assert_int_equal(attempts, 3);
    assert_int_equal(f->states[f->nstates - 1], WSR_CLIENT_IDLE);
    assert_non_null(strstr(f->state_text, "; gave up after 3 attempts"));
}

static void test_client__connect_refused(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);
    wsr_error_t err;
    char url[64];
    uint64_t t0 = now_ms();

    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", free_port());
    cfg.url = url;
    f->c = wsr_client_new(&cfg, &err);
    assert_non_null(f->c);
    assert_int_equal(wsr_client_connect(f->c, &err), WSR_ECONNECT);
    assert_non_null(strstr(err.text, "cannot connect to ws://127.0.0.1:"));
    assert_true(now_ms() - t0 < 2000);
    assert_int_equal(wsr_client_state(f->c), WSR_CLIENT_IDLE);
}

static void test_client__connect_timeout(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    wsr_error_t err;
    char url[64];
    uint64_t t0, took;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    /* A listener that never answers: TCP connects, the handshake never ends. */
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", ntohs(a.sin_port));
    cfg.url = url;
    cfg.connect_timeout_ms = 300;
    f->c = wsr_client_new(&cfg, &err);
    assert_non_null(f->c);
    t0 = now_ms();
    assert_int_equal(wsr_client_connect(f->c, &err), WSR_ETIMEDOUT);
    took = now_ms() - t0;
    assert_true(took >= 290 && took < 2000);
    assert_non_null(strstr(err.text, "timed out after 300 ms connecting to"));
    assert_int_equal(wsr_client_state(f->c), WSR_CLIENT_IDLE);
    close(fd);
}

static void test_client__wss_to_plain_server_fails(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);
    wsr_error_t err;
    char url[64];
    int rc;

    /* Not a TLS test (the server has no TLS here): only that it fails cleanly. */
    snprintf(url, sizeof(url), "wss://127.0.0.1:%d/", f->srv.port);
    cfg.url = url;
    cfg.connect_timeout_ms = 2000;
    f->c = wsr_client_new(&cfg, &err);
    assert_non_null(f->c);
    rc = wsr_client_connect(f->c, &err);
    assert_true(rc == WSR_ETLS || rc == WSR_ECONNECT);
    assert_int_equal(wsr_client_state(f->c), WSR_CLIENT_IDLE);
}

/* Connects to `url` with the TLS settings given; returns the code and fills `err`. */
static int tls_connect(fixture_t *f, const char *url, const char *ca, const char *cert,
                       const char *key, bool insecure, wsr_error_t *err)
{
    wsr_client_config_t cfg = base_config(f);

    wsr_client_free(f->c);
    cfg.url = url;
    cfg.ca_file = ca;
    cfg.cert_file = cert;
    cfg.key_file = key;
    cfg.insecure = insecure;
    cfg.connect_timeout_ms = 3000;
    f->c = wsr_client_new(&cfg, err);
    assert_non_null(f->c);
    return wsr_client_connect(f->c, err);
}

/* Calls whoami and returns the certificate subject the server saw (static copy). */
static const char *whoami_subject(fixture_t *f)
{
    static char subject[128];
    wsr_client_reply_t r;
    wsr_error_t err;

    assert_int_equal(wsr_client_execute(f->c, "whoami", NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    snprintf(subject, sizeof(subject), "%s",
             json_is_string(json_object_get(r.data, "cert_subject"))
                 ? json_string_value(json_object_get(r.data, "cert_subject"))
                 : "(none)");
    wsr_client_reply_dispose(&r);
    return subject;
}

static void test_client__wss_verified_with_ca_and_client_cert(void **state)
{
    fixture_t *f = *state;
    char url[64], ca[128], cert[128], key[128];
    wsr_error_t err;

    snprintf(url, sizeof(url), "wss://localhost:%d/", f->srv.tls_port);
    cert_path(f, "ca.pem", ca, sizeof(ca));
    if (tls_connect(f, url, ca, NULL, NULL, false, &err) != 0)
        fail_msg("wss connect: %s", err.text);
    assert_string_equal(whoami_subject(f), "(none)");
    /* The server certificate names 127.0.0.1 as well. */
    snprintf(url, sizeof(url), "wss://127.0.0.1:%d/", f->srv.tls_port);
    if (tls_connect(f, url, ca, cert_path(f, "client.pem", cert, sizeof(cert)),
                    cert_path(f, "client.key", key, sizeof(key)), false, &err) != 0)
        fail_msg("wss connect with a client certificate: %s", err.text);
    assert_string_equal(whoami_subject(f), "O=wsrouter,CN=wsrouter test client");
    assert_int_equal(f->log[0], '\0'); /* no warning */
}

static void test_client__wss_untrusted_server_refused(void **state)
{
    fixture_t *f = *state;
    char url[64], other[128];
    wsr_error_t err;

    snprintf(url, sizeof(url), "wss://localhost:%d/", f->srv.tls_port);
    assert_int_equal(tls_connect(f, url, cert_path(f, "other-ca.pem", other, sizeof(other)), NULL,
                                 NULL, false, &err),
                     WSR_ETLS);
    assert_non_null(
        strstr(err.text, "the server's certificate was refused: self-signed certificate"));
    assert_int_equal(wsr_client_state(f->c), WSR_CLIENT_IDLE);
    /* Without a CA file the system's CAs are used: they do not know ours either. */
    assert_int_equal(tls_connect(f, url, NULL, NULL, NULL, false, &err), WSR_ETLS);
}

static void test_client__wss_host_name_checked(void **state)
{
    fixture_t *f = *state;
    char url[64], ca[128], pem[128], key[128];
    const char *args[] = {"--tls-port", "0", "--tls-cert", NULL, "--tls-key", NULL, NULL};
    server_t *wrong = &f->extra[0];
    wsr_error_t err;
    int rc;

    /* A certificate from the trusted CA, but for wrong.example. */
    args[3] = cert_path(f, "wrong.pem", pem, sizeof(pem));
    args[5] = cert_path(f, "wrong.key", key, sizeof(key));
    assert_int_equal(server_start(wrong, 0, args), 0);
    snprintf(url, sizeof(url), "wss://127.0.0.1:%d/", wrong->tls_port);
    rc = tls_connect(f, url, cert_path(f, "ca.pem", ca, sizeof(ca)), NULL, NULL, false, &err);
    if (rc != WSR_ETLS)
        fail_msg("expected WSR_ETLS, got %d: %s", rc, err.text);
    assert_non_null(strstr(err.text, "the server's certificate was refused: IP address mismatch"));
    /* The insecure flag connects anyway, and says so loudly. */
    rc = tls_connect(f, url, NULL, NULL, NULL, true, &err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(f->log, "WARNING: TLS certificate and host name checks are OFF"));
}

/* Starts `s` serving wss:// with certificate NAME.pem (ws port `port`, wss `tls_port`; 0: any). */
static void start_tls_server(fixture_t *f, server_t *s, const char *name, const char *host,
                             int port, int tls_port)
{
    char pem[128], key[128], file[32], tls_text[16];
    const char *args[] = {"--tls-port", tls_text, "--tls-cert", pem, "--tls-key",
                          key,          "--host", host,         NULL};

    snprintf(tls_text, sizeof(tls_text), "%d", tls_port);
    snprintf(file, sizeof(file), "%s.pem", name);
    cert_path(f, file, pem, sizeof(pem));
    snprintf(file, sizeof(file), "%s.key", name);
    cert_path(f, file, key, sizeof(key));
    if (host == NULL)
        args[6] = NULL;
    if (server_start(s, port, args) != 0 || s->tls_port <= 0)
        fail_msg("cannot start wsrouterd with %s.pem", name);
}

static void test_client__wss_expired_refused_insecure_warns(void **state)
{
    fixture_t *f = *state;
    server_t *old = &f->extra[0];
    wsr_client_config_t cfg = base_config(f);
    char url[64], ca[128], out[1024] = "";
    wsr_error_t err;
    int port, tls_port, saved, rc;
    FILE *tmp;
    size_t n;

    start_tls_server(f, old, "expired", NULL, 0, 0);
    port = old->port;
    tls_port = old->tls_port;
    snprintf(url, sizeof(url), "wss://localhost:%d/", tls_port);
    rc = tls_connect(f, url, cert_path(f, "ca.pem", ca, sizeof(ca)), NULL, NULL, false, &err);
    if (rc != WSR_ETLS)
        fail_msg("expected WSR_ETLS, got %d: %s", rc, err.text);
    assert_non_null(
        strstr(err.text, "the server's certificate was refused: certificate has expired"));
    /* Insecure accepts it, and warns at each connection though only errors are logged. */
    wsr_client_free(f->c);
    cfg.url = url;
    cfg.insecure = true;
    cfg.log_level = WSR_LOG_ERR;
    cfg.reconnect = true;
    cfg.reconnect_min_ms = 50;
    cfg.reconnect_max_ms = 200;
    connect_client(f, &cfg);
    assert_int_equal(f->warnings, 1);
    assert_non_null(
        strstr(f->log, "WARNING: TLS certificate and host name checks are OFF for wss://"));
    assert_int_equal(server_stop(old, SIGTERM), 0);
    assert_true(wait_for(f, saw_state, WSR_CLIENT_RECONNECTING, 5000));
    start_tls_server(f, old, "expired", NULL, port, tls_port);
    assert_int_equal(wsr_client_wait_connected(f->c, 10000), 0);
    pthread_mutex_lock(&f->lock);
    n = (size_t)f->warnings;
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(n, 2);
    wsr_client_free(f->c);
    f->c = NULL;
    /* Without a sink the warning goes to stderr, whatever the level. */
    cfg.log = NULL;
    cfg.reconnect = false;
    tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    saved = dup(2);
    dup2(fileno(tmp), 2);
    f->c = wsr_client_new(&cfg, &err);
    rc = f->c ? wsr_client_connect(f->c, &err) : -1;
    wsr_client_free(f->c);
    f->c = NULL;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    n = fread(out, 1, sizeof(out) - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    assert_int_equal(rc, 0);
    assert_non_null(
        strstr(out, "wsrouter client: WARNING: TLS certificate and host name checks are OFF"));
}

/* True when this machine has an IPv6 loopback to bind. */
static bool have_ipv6_loopback(void)
{
    struct sockaddr_in6 a = {0};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok;

    if (fd < 0)
        return false;
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void test_client__wss_ipv6_address_checked(void **state)
{
    fixture_t *f = *state;
    char url[64], ca[128];
    wsr_error_t err;
    int rc;

    if (!have_ipv6_loopback()) {
        print_message("SKIPPED: this machine has no IPv6 loopback (::1); wss://[::1] untested\n");
        skip();
    }
    cert_path(f, "ca.pem", ca, sizeof(ca));
    /* server.pem names IP ::1: verified. */
    start_tls_server(f, &f->extra[0], "server", "::1", 0, 0);
    snprintf(url, sizeof(url), "wss://[::1]:%d/", f->extra[0].tls_port);
    if (tls_connect(f, url, ca, NULL, NULL, false, &err) != 0)
        fail_msg("wss://[::1] with a certificate for ::1: %s", err.text);
    assert_non_null(strstr(whoami_subject(f), "(none)"));
    /* wrong.pem names only wrong.example: refused, and the sentence says why. */
    start_tls_server(f, &f->extra[1], "wrong", "::1", 0, 0);
    snprintf(url, sizeof(url), "wss://[::1]:%d/", f->extra[1].tls_port);
    rc = tls_connect(f, url, ca, NULL, NULL, false, &err);
    if (rc != WSR_ETLS)
        fail_msg("expected WSR_ETLS, got %d: %s", rc, err.text);
    assert_non_null(strstr(err.text, "the server's certificate was refused: it does not name the "
                                     "address ::1 (IP address mismatch)"));
    /* And an untrusted chain is still refused first, for the usual reason. */
    rc = tls_connect(f, url, cert_path(f, "other-ca.pem", ca, sizeof(ca)), NULL, NULL, false, &err);
    assert_int_equal(rc, WSR_ETLS);
    assert_non_null(strstr(err.text, "refused: unable to get local issuer certificate"));
}

static void sync_in_callback(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    slot_t *s = user;
    wsr_client_reply_t r;
    wsr_error_t err;
    char text[200];
    int got;

    (void)rc;
    (void)reply;
    (void)error;
    got = wsr_client_call(s->f->c, "GET", "/hello", NULL, NULL, &r, &err);
    snprintf(text, sizeof(text), "%.190s", err.text);
    s->status = got; /* on_reply leaves status alone without a reply */
    on_reply(user, 0, NULL, text);
}

static void test_client__sync_call_from_callback(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_error_t err;

    wsr_client_request_init(&req);
    req.cmd = "ping";
    assert_int_equal(
        wsr_client_request_async(f->c, &req, sync_in_callback, &f->slots[0], NULL, &err), 0);
    assert_true(wait_for(f, done_at_least, 1, 5000));
    assert_int_equal(f->slots[0].status, WSR_ESTATE);
    assert_non_null(strstr(f->slots[0].text, "synchronous call from a client callback"));
}

static void test_client__free_with_calls_in_flight(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_error_t err;
    uint64_t t0;

    wsr_client_request_init(&req);
    req.cmd = "later";
    req.args = json_pack("{s:i}", "ms", 3000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[i], NULL, &err),
                         0);
    json_decref(req.args);
    t0 = now_ms();
    wsr_client_free(f->c);
    f->c = NULL;
    assert_true(now_ms() - t0 < 2500);
    assert_int_equal(f->done, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(f->slots[i].rc, WSR_ECLOSED);
        assert_string_equal(f->slots[i].text, "the client was closed");
    }
}

static void test_client__reply_over_max_message(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *args = json_pack("{s:i}", "bytes", 200000);

    cfg.max_message = 4096;
    connect_client(f, &cfg);
    assert_int_equal(wsr_client_call(f->c, "GET", "/diag/big", args, NULL, &r, &err), WSR_ECLOSED);
    assert_non_null(strstr(err.text, "larger than max_message (4096 bytes)"));
    json_decref(args);
}

/* ---- raw sends, cancellation, freeing from a callback ---- */

static void test_client__raw_send_with_ids(void **state)
{
    fixture_t *f = *state;
    static const char int_id[] = "{\"cmd\":\"ping\",\"id\":1}";
    static const char str_id[] = "{\"cmd\":\"ping\",\"id\":\"abc\"}";
    char foreign[64], *hex;
    size_t n;
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *data;

    /* An ordinary call, number 1, in flight for a while. */
    wsr_client_request_init(&req);
    req.cmd = "later";
    req.args = json_pack("{s:i}", "ms", 400);
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[0], NULL, &err), 0);
    json_decref(req.args);
    /* Raw bytes that carry id 1: the reply is the raw send's, not the call's. */
    assert_int_equal(wsr_client_send_raw(f->c, int_id, strlen(int_id), false, 0, &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(r.data), "PONG");
    assert_int_equal(json_integer_value(json_object_get(r.message, "id")), 1);
    wsr_client_reply_dispose(&r);
    /* A string id is no obstacle either. */
    assert_int_equal(wsr_client_send_raw(f->c, str_id, strlen(str_id), false, 0, &r, &err), 0);
    assert_string_equal(json_string_value(json_object_get(r.message, "id")), "abc");
    wsr_client_reply_dispose(&r);
    /* Nor an id of the client's form from another client (other random digits). */
    snprintf(foreign, sizeof(foreign), "{\"cmd\":\"ping\",\"id\":\"%s1\"}", f->c->id_prefix);
    hex = strstr(foreign, "wsr-") + 4;
    *hex = *hex == '0' ? '1' : '0';
    assert_int_equal(wsr_client_send_raw(f->c, foreign, strlen(foreign), false, 0, &r, &err), 0);
    assert_string_equal(json_string_value(r.data), "PONG");
    wsr_client_reply_dispose(&r);
    /* The ordinary call got its own reply, and nothing went astray. */
    assert_true(wait_for(f, done_at_least, 1, 5000));
    assert_int_equal(f->slots[0].rc, 0);
    data = json_object_get(f->slots[0].msg, "data");
    assert_int_equal(json_integer_value(json_object_get(data, "waited_ms")), 400);
    assert_true(strncmp(json_string_value(json_object_get(f->slots[0].msg, "id")), f->c->id_prefix,
                        strlen(f->c->id_prefix)) == 0);
    pthread_mutex_lock(&f->lock);
    n = json_array_size(f->messages);
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(n, 0);
}

/* Messages given to the message handler whose id is call `id`'s wire id. */
static size_t messages_of_call(fixture_t *f, uint64_t id)
{
    char wire[WSR__CLIENT_ID_LEN];
    json_t *m;
    size_t i, n = 0;

    wsr__client_wire_id(f->c, id, wire);
    pthread_mutex_lock(&f->lock);
    json_array_foreach(f->messages, i, m)
    {
        if (json_is_string(json_object_get(m, "id")) &&
            strcmp(json_string_value(json_object_get(m, "id")), wire) == 0)
            n++;
    }
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* A reply callback (service thread) that makes a call and cancels it before
 * the service thread could write it: it ends on the client, never sent. */
static void call_then_cancel(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    slot_t *s = user;
    wsr_client_request_t req;
    uint64_t id = 0;

    wsr_client_request_init(&req);
    req.cmd = "ping";
    if (wsr_client_request_async(s->f->c, &req, on_reply, s + 1, &id, NULL) == 0)
        s->f->input_rc = wsr_client_cancel(s->f->c, id);
    on_reply(user, rc, reply, error);
}

static void test_client__cancel(void **state)
{
    fixture_t *f = *state;
    static const char raw[] = "{\"cmd\":\"later\",\"args\":{\"ms\":600}}";
    wsr_client_request_t req;
    wsr_error_t err;
    uint64_t id = 0, raw_id = 0;
    wsr_client_reply_t r;
    size_t n;
    int rc;

    wsr_client_request_init(&req);
    req.cmd = "later";
    req.args = json_pack("{s:i}", "ms", 600);
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[0], &id, &err), 0);
    json_decref(req.args);
    assert_true(id > 0);
    assert_int_equal(wsr_client_send_raw_async(f->c, raw, strlen(raw), false, 0, on_reply,
                                               &f->slots[1], &raw_id, &err),
                     0);
    assert_int_equal(raw_id, id + 1);
    /* Frames go out in order: once ping is answered, both were written. */
    assert_int_equal(wsr_client_execute(f->c, "ping", NULL, &r, &err), 0);
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_cancel(f->c, id), 0);
    /* Already asked: nothing more is sent. The 499 may have ended the call
     * in between (the server answers a cancel at once): WSR_ENOENT then. */
    rc = wsr_client_cancel(f->c, id);
    assert_true(rc == 0 || rc == WSR_ENOENT);
    assert_int_equal(wsr_client_cancel(f->c, raw_id), 0);
    assert_true(wait_for(f, done_at_least, 2, 5000));
    /* The written call was cancelled by the server: its reply is the 499. */
    assert_int_equal(f->slots[0].rc, 0);
    assert_int_equal(f->slots[0].status, 499);
    assert_string_equal(json_string_value(json_object_get(f->slots[0].msg, "detail")),
                        "the call was cancelled by the client");
    /* The raw send, whose id the server was never told, ends on the client. */
    assert_int_equal(f->slots[1].rc, WSR_ECANCELED);
    assert_non_null(strstr(f->slots[1].text, "raw send (call #"));
    assert_non_null(strstr(f->slots[1].text, ") was canceled"));
    assert_null(f->slots[1].msg);
    /* Once: a call that ended cannot be cancelled, and bad handles are refused. */
    assert_int_equal(wsr_client_cancel(f->c, id), WSR_ENOENT);
    assert_int_equal(wsr_client_cancel(f->c, 0), WSR_EINVAL);
    assert_int_equal(wsr_client_cancel(NULL, id), WSR_EINVAL);
    /* The raw send's reply still comes, to the message handler, once; the
     * cancel's own answer goes nowhere (the client asked it for itself). */
    assert_true(wait_for(f, messages_at_least, 1, 5000));
    sleep_ms(50);
    assert_int_equal(f->done, 2);
    assert_int_equal(wsr_client_pending(f->c), 0);
    pthread_mutex_lock(&f->lock);
    n = json_array_size(f->messages);
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(n, 1);
    assert_int_equal(messages_of_call(f, id), 0);
    /* A call cancelled before it was written ends on the client, never sent. */
    req.cmd = "ping";
    req.args = NULL;
    f->input_rc = -1;
    assert_int_equal(
        wsr_client_request_async(f->c, &req, call_then_cancel, &f->slots[2], NULL, &err), 0);
    assert_true(wait_for(f, done_at_least, 4, 5000));
    assert_int_equal(f->input_rc, 0);
    assert_int_equal(f->slots[2].status, 200);
    assert_int_equal(f->slots[3].rc, WSR_ECANCELED);
    assert_non_null(strstr(f->slots[3].text, "cmd ping (call #"));
    assert_int_equal(wsr_client_execute(f->c, "ping", NULL, &r, &err), 0);
    wsr_client_reply_dispose(&r);
    pthread_mutex_lock(&f->lock);
    n = json_array_size(f->messages);
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(n, 1); /* no reply came for it: it never went out */
}

/* ---- streaming calls: progress, input, cancel (docs/protocol.md 5.1) ---- */

static void test_client__progress_in_order_before_the_reply(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;
    uint64_t id = 0;
    json_t *p;
    size_t i, n;

    wsr_client_request_init(&req);
    req.cmd = "count";
    req.args = json_pack("{s:i}", "n", 300);
    req.on_progress = on_progress;
    req.progress_user = &f->slots[0];
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[0], &id, &err), 0);
    json_decref(req.args);
    assert_true(wait_for(f, done_at_least, 1, 10000));
    assert_int_equal(f->slots[0].status, 200);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(f->slots[0].msg, "data"), "count")),
        300);
    pthread_mutex_lock(&f->lock);
    n = json_array_size(f->progress);
    json_array_foreach(f->progress, i, p)
    {
        assert_int_equal(json_integer_value(json_object_get(p, "i")), (json_int_t)i + 1);
    }
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(n, 300);
    assert_int_equal(f->late_progress, 0);
    assert_int_equal(messages_of_call(f, id), 0);
    /* A synchronous call streams as well: its parts come while it waits. */
    json_array_clear(f->progress);
    req.cmd = "ticker";
    req.args = json_pack("{s:i, s:i}", "n", 3, "ms", 5);
    req.progress_user = &f->slots[1];
    assert_int_equal(wsr_client_request(f->c, &req, &r, &err), 0);
    json_decref(req.args);
    assert_int_equal(r.status, 200);
    wsr_client_reply_dispose(&r);
    pthread_mutex_lock(&f->lock);
    n = json_array_size(f->progress);
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(n, 3);
    /* Without on_progress the parts go to the message handler, as pushes did. */
    req.cmd = "count";
    req.args = json_pack("{s:i}", "n", 2);
    req.on_progress = NULL;
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[2], &id, &err), 0);
    json_decref(req.args);
    assert_true(wait_for(f, done_at_least, 2, 5000));
    assert_int_equal(f->slots[2].status, 200);
    assert_int_equal(messages_of_call(f, id), 2);
    pthread_mutex_lock(&f->lock);
    assert_int_equal(json_array_size(f->progress), 3);
    pthread_mutex_unlock(&f->lock);
}

/* Ends the conversation `id` (slot 0) with "bye": it answers {"turns": turns}. */
static void say_bye(fixture_t *f, uint64_t id, json_int_t turns)
{
    json_t *bye = json_string("bye");
    wsr_error_t err;

    assert_int_equal(wsr_client_send_input(f->c, id, bye, &err), 0);
    json_decref(bye);
    assert_true(wait_for(f, done_at_least, 1, 5000));
    assert_int_equal(f->slots[0].status, 200);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(f->slots[0].msg, "data"), "turns")),
        turns);
}

/* A reply callback (service thread) that calls `ping` and sends it input at
 * once: both are queued before the ping's reply can be read, and the server
 * answers the ping before it reads the input, which then finds no call. */
static void ping_then_input(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    slot_t *s = user;
    wsr_client_request_t req;
    json_t *one = json_integer(1);
    uint64_t id = 0;

    wsr_client_request_init(&req);
    req.cmd = "ping";
    if (wsr_client_request_async(s->f->c, &req, on_reply, s + 1, &id, NULL) == 0)
        s->f->input_rc = wsr_client_send_input(s->f->c, id, one, NULL);
    json_decref(one);
    on_reply(user, rc, reply, error);
}

static void test_client__input_to_a_conversation(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_error_t err;
    uint64_t id = 0;
    json_t *words[3], *m;

    words[0] = json_string("hello");
    words[1] = json_pack("{s:i}", "n", 2);
    words[2] = json_pack("[i]", 3);
    wsr_client_request_init(&req);
    req.cmd = "converse";
    req.on_progress = on_progress;
    req.progress_user = &f->slots[0];
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[0], &id, &err), 0);
    /* Each input is answered with a progress message that echoes it. */
    for (long i = 0; i < 3; i++) {
        assert_int_equal(wsr_client_send_input(f->c, id, words[i], &err), 0);
        assert_true(wait_for(f, progress_at_least, i + 1, 5000));
        pthread_mutex_lock(&f->lock);
        m = json_array_get(f->progress, (size_t)i);
        assert_int_equal(json_integer_value(json_object_get(m, "turn")), i + 1);
        assert_true(json_equal(json_object_get(m, "echo"), words[i]));
        pthread_mutex_unlock(&f->lock);
    }
    assert_false(f->slots[0].done);
    say_bye(f, id, 4);
    for (int i = 0; i < 3; i++)
        json_decref(words[i]);
    /* The call ended: the client knows, and sends nothing. */
    assert_int_equal(wsr_client_send_input(f->c, id, NULL, &err), WSR_ENOENT);
    assert_non_null(strstr(err.text, "is not in flight"));
    assert_int_equal(wsr_client_send_input(f->c, 0, NULL, &err), WSR_EINVAL);
    assert_int_equal(wsr_client_send_input(NULL, id, NULL, &err), WSR_EINVAL);
    /* Input the server finds no call for is a 404 for the message handler,
     * and leaves the call's own reply alone. */
    req.cmd = "ping";
    req.on_progress = NULL;
    f->input_rc = -1;
    assert_int_equal(
        wsr_client_request_async(f->c, &req, ping_then_input, &f->slots[1], NULL, &err), 0);
    assert_true(wait_for(f, done_at_least, 3, 5000));
    assert_int_equal(f->input_rc, 0);
    assert_int_equal(f->slots[2].status, 200);
    assert_string_equal(json_string_value(json_object_get(f->slots[2].msg, "data")), "PONG");
    assert_true(wait_for(f, messages_at_least, 1, 5000));
    pthread_mutex_lock(&f->lock);
    assert_int_equal(json_array_size(f->messages), 1);
    m = json_array_get(f->messages, 0);
    assert_int_equal(json_integer_value(json_object_get(m, "status")), 404);
    assert_string_equal(json_string_value(json_object_get(m, "event_name")), "wsr-input");
    assert_string_equal(json_string_value(json_object_get(m, "id")),
                        json_string_value(json_object_get(f->slots[2].msg, "id")));
    assert_non_null(strstr(json_string_value(json_object_get(m, "detail")), "is running"));
    pthread_mutex_unlock(&f->lock);
}

static void test_client__input_past_max_call_input_is_429(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_error_t err;
    uint64_t id = 0;
    json_t *m;
    size_t i;

    wsr_client_request_init(&req);
    req.cmd = "converse";
    req.args = json_pack("{s:i}", "wait_ms", 1000); /* deaf for a second */
    req.on_progress = on_progress;
    req.progress_user = &f->slots[0];
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[0], &id, &err), 0);
    json_decref(req.args);
    sleep_ms(100);
    for (int n = 1; n <= 7; n++) {
        m = json_integer(n);
        assert_int_equal(wsr_client_send_input(f->c, id, m, &err), 0);
        json_decref(m);
    }
    /* Past 4 waiting, each is refused with a 429 that does not end the call. */
    assert_true(wait_for(f, messages_at_least, 3, 5000));
    pthread_mutex_lock(&f->lock);
    json_array_foreach(f->messages, i, m)
    {
        assert_int_equal(json_integer_value(json_object_get(m, "status")), 429);
        assert_string_equal(json_string_value(json_object_get(m, "event_name")), "wsr-input");
        assert_non_null(strstr(json_string_value(json_object_get(m, "detail")), "max_call_input"));
    }
    pthread_mutex_unlock(&f->lock);
    assert_false(f->slots[0].done);
    /* The four that fitted are answered in order once it listens. */
    assert_true(wait_for(f, progress_at_least, 4, 5000));
    pthread_mutex_lock(&f->lock);
    json_array_foreach(f->progress, i, m)
    {
        assert_int_equal(json_integer_value(json_object_get(m, "echo")), (json_int_t)i + 1);
    }
    pthread_mutex_unlock(&f->lock);
    say_bye(f, id, 5);
    pthread_mutex_lock(&f->lock);
    assert_int_equal(json_array_size(f->messages), 3);
    assert_int_equal(json_array_size(f->progress), 4);
    pthread_mutex_unlock(&f->lock);
}

static int setup_max_input_4(void **state)
{
    static const char *const args[] = {"--set", "max_call_input=4", NULL};
    fixture_t *f = fixture_new(args);
    wsr_client_config_t cfg = base_config(f);

    connect_client(f, &cfg);
    *state = f;
    return 0;
}

static void test_client__cancel_streaming_and_blocking_calls(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;
    uint64_t stream_id = 0, block_id = 0, deadline;
    size_t seen;

    /* A stream from a worker: 100000 parts, one every 2 ms. */
    wsr_client_request_init(&req);
    req.cmd = "count";
    req.args = json_pack("{s:i, s:i}", "n", 100000, "ms", 2);
    req.on_progress = on_progress;
    req.progress_user = &f->slots[0];
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[0], &stream_id, &err),
                     0);
    json_decref(req.args);
    /* A blocking handler that would answer 200 in 3 s. */
    wsr_client_request_init(&req);
    req.cmd = "sleep";
    req.args = json_pack("{s:i}", "ms", 3000);
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[1], &block_id, &err),
                     0);
    json_decref(req.args);
    assert_true(wait_for(f, progress_at_least, 3, 5000));
    assert_int_equal(wsr_client_cancel(f->c, stream_id), 0);
    assert_int_equal(wsr_client_cancel(f->c, block_id), 0);
    assert_true(wait_for(f, done_at_least, 2, 5000));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(f->slots[i].rc, 0);
        assert_int_equal(f->slots[i].status, 499);
    }
    /* Nothing of the stream after its 499: no progress to it, none to the
     * message handler, and no second reply. */
    pthread_mutex_lock(&f->lock);
    seen = json_array_size(f->progress);
    pthread_mutex_unlock(&f->lock);
    assert_true(seen < 100000);
    sleep_ms(300);
    pthread_mutex_lock(&f->lock);
    assert_int_equal(json_array_size(f->progress), seen);
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(f->late_progress, 0);
    assert_int_equal(messages_of_call(f, stream_id), 0);
    assert_int_equal(messages_of_call(f, block_id), 0);
    assert_int_equal(f->done, 2);
    assert_int_equal(wsr_client_cancel(f->c, stream_id), WSR_ENOENT);
    /* The stream's handler saw its cancel. */
    deadline = now_ms() + 5000;
    while (server_count(f, "stream_stats", NULL, "cancelled") < 1 && now_ms() < deadline)
        sleep_ms(20);
    assert_int_equal(server_count(f, "stream_stats", NULL, "cancelled"), 1);
    /* The connection goes on. */
    assert_int_equal(wsr_client_execute(f->c, "ping", NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    wsr_client_reply_dispose(&r);
}

/* Threads of this process, from /proc/self/status. */
static int thread_count(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[128];
    int n = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp) != NULL)
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(fp);
    return n;
}

/* A reply callback that frees the client it belongs to. */
static void free_in_callback(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    slot_t *s = user;

    on_reply(user, rc, reply, error);
    wsr_client_free(s->f->c);
    wsr_client_free(s->f->c); /* a second call from a callback is harmless */
}

static void test_client__free_from_callback(void **state)
{
    fixture_t *f = *state;
    wsr_client_request_t req;
    wsr_error_t err;
    int threads = thread_count();
    uint64_t deadline;

    wsr_client_request_init(&req);
    req.cmd = "later";
    req.args = json_pack("{s:i}", "ms", 3000);
    assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[1], NULL, &err), 0);
    json_decref(req.args);
    req.args = NULL;
    req.cmd = "ping";
    assert_int_equal(
        wsr_client_request_async(f->c, &req, free_in_callback, &f->slots[0], NULL, &err), 0);
    /* The ping's callback frees the client; the service thread then closes the
     * connection, fails the call still in flight, says CLOSED and releases it. */
    assert_true(wait_for(f, done_at_least, 2, 5000));
    assert_int_equal(f->slots[0].status, 200);
    assert_int_equal(f->slots[1].rc, WSR_ECLOSED);
    assert_string_equal(f->slots[1].text, "the client was closed");
    assert_true(wait_for(f, saw_state, WSR_CLIENT_CLOSED, 5000));
    f->c = NULL;
    /* Its service thread ends by itself (nobody joins it). */
    deadline = now_ms() + 5000;
    while (thread_count() >= threads && now_ms() < deadline)
        sleep_ms(10);
    assert_int_equal(thread_count(), threads - 1);
}

/* Sends raw bytes and a request with allocation n failing, for every n, until they pass. */
static void test_client__oom_is_enomem(void **state)
{
    wsr_client_config_t cfg;
    wsr_client_request_t req;
    wsr_error_t err;
    wsr_client_t *c;
    json_t *data;
    int rc, n;

    (void)state;
    wsr_client_config_init(&cfg);
    cfg.url = "ws://127.0.0.1:1/";
    c = wsr_client_new(&cfg, &err);
    assert_non_null(c);
    /* Not connected: a call that got through encoding fails with WSR_ECLOSED. */
    for (n = 0;; n++) {
        tu_fail_at(n, false);
        rc = wsr_client_send_raw_async(c, "{}", 2, false, 0, on_reply, NULL, NULL, &err);
        tu_fail_at(-1, false);
        if (rc == WSR_ECLOSED)
            break;
        if (rc != WSR_ENOMEM)
            fail_msg("raw send, allocation %d failing: %s (%s)", n, wsr_err_name(rc), err.text);
        assert_true(n < 20);
    }
    assert_true(n >= 3); /* the call, the frame, its buffer */
    data = json_pack("{s:s,s:[i,i]}", "k", "v", "l", 1, 2);
    wsr_client_request_init(&req);
    req.method = "POST";
    req.url = "/echo";
    req.data = data;
    for (n = 0;; n++) {
        tu_fail_at(n, false);
        rc = wsr_client_request_async(c, &req, on_reply, NULL, NULL, &err);
        tu_fail_at(-1, false);
        if (rc == WSR_ECLOSED)
            break;
        if (rc != WSR_ENOMEM)
            fail_msg("request, allocation %d failing: %s (%s)", n, wsr_err_name(rc), err.text);
        assert_true(n < 100);
    }
    json_decref(data);
    wsr_client_free(c);
}

static void test_client__readme_example(void **state)
{
    fixture_t *f = *state;
    char *argv[] = {(char *)"readme_client", f->url, NULL};
    char out[256] = "";
    FILE *tmp = tmpfile();
    int saved = dup(1), rc;
    size_t n;

    assert_non_null(tmp);
    fflush(stdout);
    dup2(fileno(tmp), 1);
    rc = readme_main(2, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(tmp);
    n = fread(out, 1, sizeof(out) - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "200 Hello, bob with ID=42\n");
}

/* The C block of README.md's "## C client" is tests/data/readme_client.c from its first #include.
 */
static void test_client__readme_block_is_the_test_program(void **state)
{
    char *readme, *program, *block, *end, *code;
    size_t n;

    (void)state;
    readme = tu_read_data("../../README.md", &n);
    program = tu_read_data("readme_client.c", &n);
    assert_non_null(readme);
    assert_non_null(program);
    block = strstr(readme, "\n## C client\n");
    assert_non_null(block);
    block = strstr(block, "\n```c\n");
    assert_non_null(block);
    block += strlen("\n```c\n");
    end = strstr(block, "\n```\n");
    assert_non_null(end);
    end[1] = '\0'; /* keep the block's last newline */
    code = strstr(program, "\n#include");
    assert_non_null(code);
    assert_string_equal(block, code + 1);
    free(readme);
    free(program);
}

/* ---- tokens that expire ---- */

#define TOKEN_SECRET "client-token-secret-at-least-32-bytes!"

/* A server on `port` (0: any) with a store in `dir` and a known token secret. */
static void start_auth_server(fixture_t *f, const char *dir, int port)
{
    char store[PATH_MAX];
    const char *args[] = {"--store",        store, "--set", "jwt_secret=" TOKEN_SECRET, "--set",
                          "token_ttl_s=60", NULL};

    snprintf(store, sizeof(store), "%s/wsrouter.db", dir);
    if (server_start(&f->srv, port, args) != 0)
        fail_msg("cannot start wsrouterd (WSRD=%s)", getenv("WSRD") ? getenv("WSRD") : "unset");
    snprintf(f->url, sizeof(f->url), "ws://127.0.0.1:%d/", f->srv.port);
}

/* `wsrouterd user add NAME --role admin` with the password on its standard input. */
static void add_user(const char *dir, const char *name, const char *password)
{
    char cmd[PATH_MAX * 2];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "'%s' user add %s --role admin --store '%s/wsrouter.db' >/dev/null",
             getenv("WSRD"), name, dir);
    p = popen(cmd, "w");
    assert_non_null(p);
    fprintf(p, "%s\n", password);
    assert_int_equal(pclose(p), 0);
}

/* Our HS256 token for `sub`, valid `ttl` seconds from now, minted here. */
static char *mint_token(const char *sub, int ttl)
{
    char claims[256];
    long long now = (long long)time(NULL);

    snprintf(claims, sizeof(claims),
             "{\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"j%lld-%d\",\"roles\":[]}", sub,
             now, now + ttl, now, rand());
    return tu_jws_hs256(TOKEN_SECRET, strlen(TOKEN_SECRET), "{\"alg\":\"HS256\"}", claims);
}

/* GET /auth/me as raw bytes, without a token member: what the connection is. */
static json_t *connection_me(fixture_t *f)
{
    static const char me[] = "{\"method\":\"GET\",\"url\":\"/auth/me\"}";
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *out;

    assert_int_equal(wsr_client_send_raw(f->c, me, strlen(me), false, 5000, &r, &err), 0);
    out = r.status == 200 ? json_incref(r.data) : NULL;
    wsr_client_reply_dispose(&r);
    return out;
}

typedef struct token_source {
    pthread_mutex_t lock;
    int calls;
    char *last; /* malloc'd: the token given last */
} token_source_t;

/* The token callback: a new 3-second token at each call. */
static const char *give_token(void *user)
{
    token_source_t *t = user;
    char *fresh = mint_token("cb-user", 3);

    pthread_mutex_lock(&t->lock);
    free(t->last);
    t->last = fresh;
    t->calls++;
    pthread_mutex_unlock(&t->lock);
    return fresh; /* borrowed: copied by the client as soon as this returns */
}

static int token_calls(token_source_t *t)
{
    int n;

    pthread_mutex_lock(&t->lock);
    n = t->calls;
    pthread_mutex_unlock(&t->lock);
    return n;
}

static void test_client__token_cb_at_open_and_before_expiry(void **state)
{
    fixture_t *f = *state;
    char *dir = tu_tempdir("wsr-client-token");
    token_source_t src = {PTHREAD_MUTEX_INITIALIZER, 0, NULL};
    wsr_client_config_t cfg;
    json_t *me;
    int64_t first_exp, iat, exp;
    uint64_t deadline;

    start_auth_server(f, dir, 0);
    cfg = base_config(f);
    cfg.token_cb = give_token;
    cfg.token_user = &src;
    connect_client(f, &cfg);
    /* Called at the open; the connection itself is authenticated
     * (/auth/session went first), not only the requests. */
    assert_int_equal(token_calls(&src), 1);
    me = connection_me(f);
    assert_non_null(me);
    assert_string_equal(json_string_value(json_object_get(me, "user")), "cb-user");
    pthread_mutex_lock(&src.lock);
    wsr__client_token_times(src.last, &iat, &first_exp);
    pthread_mutex_unlock(&src.lock);
    assert_int_equal(json_integer_value(json_object_get(me, "expires_at")), first_exp);
    json_decref(me);
    /* At 80 % of its 3 s, a new one, sent with /auth/session. */
    deadline = now_ms() + 5000;
    while (token_calls(&src) < 2 && now_ms() < deadline)
        sleep_ms(20);
    assert_int_equal(token_calls(&src), 2);
    /* Past the first token's expiry (plus the server's check) the connection
     * is still open and still authenticated, with the second token. */
    while ((int64_t)time(NULL) < first_exp + 2)
        sleep_ms(50);
    assert_int_equal(wsr_client_state(f->c), WSR_CLIENT_OPEN);
    assert_false(saw_state(f, WSR_CLIENT_RECONNECTING));
    me = connection_me(f);
    assert_non_null(me);
    pthread_mutex_lock(&src.lock);
    wsr__client_token_times(src.last, &iat, &exp);
    pthread_mutex_unlock(&src.lock);
    assert_true(json_integer_value(json_object_get(me, "expires_at")) > first_exp);
    json_decref(me);
    wsr_client_free(f->c);
    f->c = NULL;
    free(src.last);
    tu_rmtree(dir);
    free(dir);
}

static bool log_says_refreshed(fixture_t *f, long unused)
{
    (void)unused;
    return strstr(f->log, "token refreshed") != NULL;
}

static void test_client__refresh_renews_and_reconnection_reauthenticates(void **state)
{
    fixture_t *f = *state;
    char *dir = tu_tempdir("wsr-client-refresh");
    wsr_client_config_t cfg;
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *me, *data;
    json_int_t exp0;
    int port;

    add_user(dir, "hana", "hana-password-8");
    start_auth_server(f, dir, 0);
    port = f->srv.port;
    cfg = base_config(f);
    cfg.refresh = true;
    cfg.refresh_percent = 3; /* of 60 s: after about 2 s */
    cfg.reconnect = true;
    cfg.reconnect_min_ms = 50;
    cfg.reconnect_max_ms = 400;
    cfg.log_level = WSR_LOG_INFO;
    connect_client(f, &cfg);
    /* Log in, and keep the token (what wsrouter-cli's login does). */
    wsr_client_request_init(&req);
    req.method = "POST";
    req.url = "/auth/login";
    data = json_pack("{s:s, s:s}", "username", "hana", "password", "hana-password-8");
    req.data = data;
    assert_int_equal(wsr_client_request(f->c, &req, &r, &err), 0);
    json_decref(data);
    assert_int_equal(r.status, 200);
    exp0 = json_integer_value(json_object_get(r.data, "expires_at"));
    assert_int_equal(
        wsr_client_set_token(f->c, json_string_value(json_object_get(r.data, "token"))), 0);
    wsr_client_reply_dispose(&r);
    sleep_ms(1100); /* a new iat and exp for the refreshed token */
    assert_true(wait_for(f, log_says_refreshed, 0, 6000));
    /* Requests go with the new token. */
    assert_int_equal(wsr_client_call(f->c, "GET", "/auth/me", NULL, NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_true(json_integer_value(json_object_get(r.data, "expires_at")) > exp0);
    wsr_client_reply_dispose(&r);
    /* A restart on the same port: the reconnection is authenticated first. */
    server_stop(&f->srv, SIGTERM);
    assert_true(wait_for(f, saw_state, WSR_CLIENT_RECONNECTING, 5000));
    start_auth_server(f, dir, port);
    assert_int_equal(wsr_client_wait_connected(f->c, 10000), 0);
    me = connection_me(f);
    assert_non_null(me);
    assert_string_equal(json_string_value(json_object_get(me, "user")), "hana");
    json_decref(me);
    /* No token any more: requests and the connection's next opens go without. */
    assert_int_equal(wsr_client_set_token(f->c, NULL), 0);
    assert_int_equal(wsr_client_call(f->c, "GET", "/auth/me", NULL, NULL, &r, &err), 0);
    assert_int_equal(r.status, 200); /* the connection is still hana's */
    wsr_client_reply_dispose(&r);
    wsr_client_free(f->c);
    f->c = NULL;
    tu_rmtree(dir);
    free(dir);
}

static void test_client__token_settings_are_checked(void **state)
{
    wsr_client_config_t cfg;
    wsr_error_t err;
    int64_t iat, exp;
    char *t;

    (void)state;
    wsr_client_config_init(&cfg);
    assert_int_equal(cfg.refresh_percent, 80);
    assert_false(cfg.refresh);
    assert_null(cfg.token_cb);
    cfg.refresh_percent = 100;
    assert_null(wsr_client_new(&cfg, &err));
    assert_int_equal(err.code, WSR_EINVAL);
    assert_string_equal(err.text, "refresh_percent must be from 1 to 99");
    assert_int_equal(wsr_client_set_token(NULL, "x"), WSR_EINVAL);
    /* The claims that tell when to renew, read without verifying. */
    t = mint_token("u", 60);
    wsr__client_token_times(t, &iat, &exp);
    assert_int_equal(exp - iat, 60);
    free(t);
    wsr__client_token_times("not a token", &iat, &exp);
    assert_int_equal(iat + exp, 0);
    wsr__client_token_times("a.e30.b", &iat, &exp);
    assert_int_equal(iat + exp, 0);
    wsr__client_token_times(NULL, &iat, &exp);
    assert_int_equal(iat + exp, 0);
}

/* ---- subscriptions that resume (docs/protocol.md section 5.2) ---- */

static void on_resubscribed(void *user, const wsr_client_resubscription_t *r)
{
    fixture_t *f = user;

    pthread_mutex_lock(&f->lock);
    f->resubs++;
    f->resubs_recovered += r->recovered;
    f->resubs_failed += !r->ok;
    f->resub_offset = r->offset;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

/* on_state, but while hold_reconnecting is set a drop holds the service thread
 * (for at most 10 s) until the test clears it: nothing reconnects meanwhile. */
static void on_state_gated(void *user, wsr_client_state_t state, int code, const char *text)
{
    fixture_t *f = user;
    uint64_t deadline = now_ms() + 10000;

    on_state(user, state, code, text);
    pthread_mutex_lock(&f->lock);
    while (state == WSR_CLIENT_RECONNECTING && f->hold_reconnecting && now_ms() < deadline) {
        pthread_mutex_unlock(&f->lock);
        sleep_ms(5);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
}

/* The offsets of the publications on `topic` received so far, in order. Lock held. */
static json_t *offsets_of(fixture_t *f, const char *topic)
{
    json_t *out = json_array(), *m;
    size_t i;

    json_array_foreach(f->messages, i, m)
    {
        const char *t = json_string_value(json_object_get(m, "topic"));

        if (t != NULL && strcmp(t, topic) == 0)
            json_array_append(out, json_object_get(m, "offset"));
    }
    return out;
}

static bool last_offset_is(fixture_t *f, long n)
{
    json_t *offsets = offsets_of(f, "resume");
    size_t size = json_array_size(offsets);
    bool ok = size > 0 && json_integer_value(json_array_get(offsets, size - 1)) >= n;

    json_decref(offsets);
    return ok;
}

static bool resubs_at_least(fixture_t *f, long n)
{
    return f->resubs >= n;
}

/* True when `fd` is a TCP socket to 127.0.0.1:`port`. */
static bool socket_to(int fd, int port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    return getpeername(fd, (struct sockaddr *)&a, &len) == 0 && a.sin_family == AF_INET &&
           ntohs(a.sin_port) == port;
}

/* Marks in `mine` (256 fds) the sockets of this process to the server now. */
static void sockets_to_server(fixture_t *f, bool mine[256])
{
    for (int fd = 0; fd < 256; fd++)
        mine[fd] = socket_to(fd, f->srv.port);
}

/* Kills (shutdown) every socket to the server but those in `spare`. Returns how many. */
static int kill_sockets(fixture_t *f, const bool spare[256])
{
    int n = 0;

    for (int fd = 0; fd < 256; fd++)
        if (!spare[fd] && socket_to(fd, f->srv.port) && shutdown(fd, SHUT_RDWR) == 0)
            n++;
    return n;
}

/* A client that publishes: no reconnection, no handlers. */
static wsr_client_t *publisher(fixture_t *f)
{
    wsr_client_config_t cfg;
    wsr_client_t *pub;
    wsr_error_t err;

    wsr_client_config_init(&cfg);
    cfg.url = f->url;
    cfg.call_timeout_ms = 10000;
    pub = wsr_client_new(&cfg, &err);
    assert_non_null(pub);
    if (wsr_client_connect(pub, &err) != 0)
        fail_msg("connect: %s", err.text);
    return pub;
}

/* Publishes {"n": n} on `topic`; asserts 200. */
static void publish_n(wsr_client_t *pub, const char *topic, int n)
{
    json_t *args = json_pack("{s:s}", "topic", topic), *data = json_pack("{s:i}", "n", n);
    wsr_client_reply_t r;
    wsr_error_t err;

    if (wsr_client_call(pub, "POST", "/_/publish", args, data, &r, &err) != 0)
        fail_msg("publish %d: %s", n, err.text);
    assert_int_equal(r.status, 200);
    wsr_client_reply_dispose(&r);
    json_decref(args);
    json_decref(data);
}

/* The subscriber: reconnects quickly, tells of resubscriptions. */
static void connect_subscriber(fixture_t *f)
{
    wsr_client_config_t cfg = base_config(f);

    cfg.reconnect = true;
    cfg.reconnect_min_ms = 10;
    cfg.reconnect_max_ms = 100;
    cfg.on_resubscribed = on_resubscribed;
    cfg.on_state = on_state_gated;
    connect_client(f, &cfg);
}

static int setup_history(void **state)
{
    static const char *const args[] = {"--set", "history_size=2000", NULL};

    *state = fixture_new(args);
    return 0;
}

static int setup_history_5(void **state)
{
    static const char *const args[] = {"--set", "history_size=5", NULL};

    *state = fixture_new(args);
    return 0;
}

typedef struct pub_run {
    wsr_client_t *pub;
    int count;
    bool done; /* set by the publishing thread at its end */
} pub_run_t;

/* Publishes 1..count on "resume", one every 2 ms (the steady rate of issue 17). */
static void *publish_steadily(void *arg)
{
    pub_run_t *p = arg;
    json_t *args = json_pack("{s:s}", "topic", "resume");

    for (int i = 1; i <= p->count; i++) {
        json_t *data = json_pack("{s:i}", "n", i);
        wsr_client_reply_t r;
        wsr_error_t err;

        /* No cmocka assertion off the main thread: a failure stops short of count. */
        if (wsr_client_call(p->pub, "POST", "/_/publish", args, data, &r, &err) != 0 ||
            r.status != 200) {
            wsr_client_reply_dispose(&r);
            json_decref(data);
            break;
        }
        wsr_client_reply_dispose(&r);
        json_decref(data);
        sleep_ms(2);
    }
    json_decref(args);
    __atomic_store_n(&p->done, true, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_client__subscription_resumes_through_20_drops(void **state)
{
    fixture_t *f = *state;
    pub_run_t run = {NULL, 1000, false};
    bool spare[256];
    wsr_client_reply_t r;
    wsr_error_t err;
    pthread_t thread;
    json_t *offsets;
    int64_t offset = 0;
    char epoch[64];
    int kills = 0, resubs, recovered, failed;
    uint64_t deadline;
    size_t i;

    run.pub = publisher(f);
    sockets_to_server(f, spare); /* the publisher's socket is spared */
    connect_subscriber(f);
    assert_int_equal(wsr_client_subscribe(f->c, "resume", &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.data, "subscribed")), "resume");
    wsr_client_reply_dispose(&r);
    assert_int_equal(pthread_create(&thread, NULL, publish_steadily, &run), 0);
    /* 20 kills at random moments while the publications flow, each of an open connection. */
    srand((unsigned)wsr__now_ns());
    deadline = now_ms() + 30000;
    while (kills < 20 && now_ms() < deadline) {
        sleep_ms(20 + rand() % 80);
        if (wsr_client_wait_connected(f->c, 5000) == 0 && kill_sockets(f, spare) > 0)
            kills++;
    }
    pthread_join(thread, NULL);
    assert_int_equal(kills, 20);
    assert_true(wait_for(f, last_offset_is, 1000, 20000));
    /* Read under the lock, checked without it (a failed check must not keep it). */
    pthread_mutex_lock(&f->lock);
    offsets = offsets_of(f, "resume");
    resubs = f->resubs;
    recovered = f->resubs_recovered;
    failed = f->resubs_failed;
    pthread_mutex_unlock(&f->lock);
    for (i = 0; i < json_array_size(offsets); i++)
        if (json_integer_value(json_array_get(offsets, i)) != (json_int_t)i + 1)
            break;
    if (i != 1000 || json_array_size(offsets) != 1000)
        fail_msg("%zu publications received; the first out of place is #%zu (offset %lld)",
                 json_array_size(offsets), i + 1,
                 (long long)json_integer_value(json_array_get(offsets, i)));
    json_decref(offsets);
    /* Every resubscription that got its answer recovered (history 2000 holds all). */
    assert_true(resubs >= 1);
    assert_int_equal(recovered, resubs);
    assert_int_equal(failed, 0);
    assert_int_equal(wsr_client_position(f->c, "resume", &offset, epoch, sizeof(epoch)), 0);
    assert_int_equal(offset, 1000);
    assert_true(epoch[0] != '\0');
    assert_int_equal(wsr_client_position(f->c, "resume", &offset, epoch, 1), WSR_EOVERFLOW);
    assert_int_equal(wsr_client_position(f->c, "other", &offset, NULL, 0), WSR_ENOENT);
    wsr_client_free(run.pub);
}

static void test_client__subscription_not_recovered_when_history_is_short(void **state)
{
    fixture_t *f = *state;
    wsr_client_t *pub = publisher(f);
    bool spare[256];
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *offsets;
    int64_t offset = 0;
    char epoch[64], epoch2[64];
    int resub[4];

    sockets_to_server(f, spare);
    connect_subscriber(f);
    assert_int_equal(wsr_client_subscribe(f->c, "resume", &r, &err), 0);
    assert_int_equal(r.status, 200);
    wsr_client_reply_dispose(&r);
    publish_n(pub, "resume", 1);
    assert_true(wait_for(f, last_offset_is, 1, 5000));
    assert_int_equal(wsr_client_position(f->c, "resume", &offset, epoch, sizeof(epoch)), 0);
    assert_int_equal(offset, 1);
    /* Down while 20 are published: the history of 5 loses 2..16. */
    pthread_mutex_lock(&f->lock);
    f->hold_reconnecting = true;
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(kill_sockets(f, spare), 1);
    assert_true(wait_for(f, saw_state, WSR_CLIENT_RECONNECTING, 5000));
    for (int n = 2; n <= 21; n++)
        publish_n(pub, "resume", n);
    pthread_mutex_lock(&f->lock);
    f->hold_reconnecting = false;
    pthread_mutex_unlock(&f->lock);
    assert_true(wait_for(f, resubs_at_least, 1, 10000));
    pthread_mutex_lock(&f->lock);
    resub[0] = f->resubs;
    resub[1] = f->resubs_recovered;
    resub[2] = f->resubs_failed;
    resub[3] = (int)f->resub_offset;
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(resub[0], 1);
    assert_int_equal(resub[1], 0); /* not recovered */
    assert_int_equal(resub[2], 0);
    assert_int_equal(resub[3], 21);
    /* The topic goes on from the reply's position; the next publication follows it. */
    assert_int_equal(wsr_client_position(f->c, "resume", &offset, epoch2, sizeof(epoch2)), 0);
    assert_int_equal(offset, 21);
    assert_string_equal(epoch2, epoch);
    publish_n(pub, "resume", 22);
    assert_true(wait_for(f, last_offset_is, 22, 5000));
    pthread_mutex_lock(&f->lock);
    offsets = offsets_of(f, "resume");
    pthread_mutex_unlock(&f->lock);
    resub[0] = (int)json_array_size(offsets);
    resub[1] = (int)json_integer_value(json_array_get(offsets, 1));
    json_decref(offsets);
    assert_int_equal(resub[0], 2); /* nothing replayed: 1, then 22 */
    assert_int_equal(resub[1], 22);
    /* Unsubscribed, the topic is forgotten: no position, no resubscription. */
    assert_int_equal(wsr_client_unsubscribe(f->c, "resume", &r, &err), 0);
    assert_int_equal(r.status, 200);
    wsr_client_reply_dispose(&r);
    assert_int_equal(wsr_client_position(f->c, "resume", &offset, NULL, 0), WSR_ENOENT);
    wsr_client_free(pub);
}

/* ---- compression (permessage-deflate) ---- */

static const char *const compression_args[] = {"--set", "compression=true", NULL};

static int setup_compression(void **state)
{
    *state = fixture_new(compression_args);
    return 0;
}

static bool negotiated(wsr_client_t *c)
{
    bool on;

    pthread_mutex_lock(&c->lock);
    on = c->compressed;
    pthread_mutex_unlock(&c->lock);
    return on;
}

/* GET /diag/big?bytes=n (a string of n 'x'); true when the data is exactly that. */
static bool big_reply_is(const wsr_client_reply_t *r, size_t n)
{
    const char *s = json_string_value(r->data);

    if (r->status != 200 || s == NULL || json_string_length(r->data) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] != 'x')
            return false;
    return true;
}

/* `n` bytes of letters with no long repeats (a linear congruential sequence). */
static char *letters(size_t n)
{
    char *s = malloc(n + 1);
    uint32_t x = 12345;

    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        s[i] = (char)('a' + (x >> 16) % 26);
    }
    s[n] = '\0';
    return s;
}

static void test_client__compression_off_by_default(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *args = json_pack("{s:i}", "bytes", 100000);

    assert_false(cfg.compress);
    connect_client(f, &cfg);
    assert_false(negotiated(f->c));
    assert_int_equal(wsr_client_call(f->c, "GET", "/diag/big", args, NULL, &r, &err), 0);
    assert_true(big_reply_is(&r, 100000));
    wsr_client_reply_dispose(&r);
    json_decref(args);
}

/* Offered to a server with compression on: negotiated, and calls of every
 * size both ways come back whole, large replies compressed by the server
 * (compression_min_bytes, 1024, and more), every request by the client. */
static void test_client__compression_negotiated(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);
    static const int sizes[] = {0, 100, 1023, 1024, 5000, 65536, 300000, 2000000};
    wsr_client_reply_t r;
    wsr_error_t err;
    char *text = letters(200000);
    json_t *data = json_string(text);
    bool logged;

    cfg.compress = true;
    cfg.log_level = WSR_LOG_INFO;
    connect_client(f, &cfg);
    assert_true(negotiated(f->c));
    pthread_mutex_lock(&f->lock);
    logged = strstr(f->log_all, "permessage-deflate negotiated") != NULL;
    pthread_mutex_unlock(&f->lock);
    assert_true(logged);
    for (size_t i = 0; i < WSR__ARRAY_SIZE(sizes); i++) {
        json_t *args = json_pack("{s:i}", "bytes", sizes[i]);

        assert_int_equal(wsr_client_call(f->c, "GET", "/diag/big", args, NULL, &r, &err), 0);
        assert_true(big_reply_is(&r, (size_t)sizes[i]));
        wsr_client_reply_dispose(&r);
        json_decref(args);
    }
    /* A large request compressed by the client, echoed back compressed. */
    assert_int_equal(wsr_client_call(f->c, "POST", "/echo", NULL, data, &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(r.data), text);
    wsr_client_reply_dispose(&r);
    /* 50 in flight at once, small and large, each matched to its call. */
    for (int i = 0; i < 50; i++) {
        wsr_client_request_t req;
        json_t *args = json_pack("{s:i}", "bytes", i % 2 ? 40000 + i : i);

        wsr_client_request_init(&req);
        req.method = "GET";
        req.url = "/diag/big";
        req.args = args;
        assert_int_equal(wsr_client_request_async(f->c, &req, on_reply, &f->slots[i], NULL, &err),
                         0);
        json_decref(args);
    }
    assert_true(wait_for(f, done_at_least, 50, 10000));
    for (int i = 0; i < 50; i++) {
        wsr_client_reply_t got = {0};

        assert_int_equal(f->slots[i].rc, 0);
        wsr__reply_fill(&got, f->slots[i].msg);
        f->slots[i].msg = NULL;
        assert_true(big_reply_is(&got, (size_t)(i % 2 ? 40000 + i : i)));
        wsr_client_reply_dispose(&got);
    }
    json_decref(data);
    free(text);
}

/* Offered to a server with compression off: plain frames, the same calls. */
static void test_client__compression_refused_by_the_server(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *args = json_pack("{s:i}", "bytes", 100000);
    bool logged;

    cfg.compress = true;
    cfg.log_level = WSR_LOG_INFO;
    connect_client(f, &cfg);
    assert_false(negotiated(f->c));
    pthread_mutex_lock(&f->lock);
    logged = strstr(f->log_all, "permessage-deflate not accepted by the server") != NULL;
    pthread_mutex_unlock(&f->lock);
    assert_true(logged);
    assert_int_equal(wsr_client_call(f->c, "GET", "/diag/big", args, NULL, &r, &err), 0);
    assert_true(big_reply_is(&r, 100000));
    wsr_client_reply_dispose(&r);
    json_decref(args);
}

/*
 * A server that makes libwebsockets 4.1.6's client inflater abort. wsrouterd
 * cannot: its replies end in a few rare literals (`"}`, `null}`), so no
 * long match is still being copied when lws has used the last input byte
 * (src/core/deflate.c); a run of one letter does. This one-connection
 * server (a thread) accepts permessage-deflate and sends runs of 'z' of
 * growing lengths, compressed as Node's zlib does, until the client closes.
 */
typedef struct zserver {
    int fd; /* listening */
    int port;
    int sent;       /* messages sent */
    bool got_close; /* the client's close frame came */
    pthread_t thread;
} zserver_t;

/* Writes a whole buffer; false once the peer is gone. */
static bool write_all(int fd, const void *p, size_t n)
{
    const char *b = p;

    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

/* Answers the handshake the client sent on `fd`. False on any failure. */
static bool zserver_handshake(int fd)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char req[4096], key[128], accept[64], reply[512];
    unsigned char md[20];
    size_t n = 0;
    const char *k, *end;

    req[0] = '\0';
    while (strstr(req, "\r\n\r\n") == NULL) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;

        if (n >= sizeof(req) - 1 || poll(&p, 1, 5000) <= 0)
            return false;
        r = recv(fd, req + n, sizeof(req) - 1 - n, 0);
        if (r <= 0)
            return false;
        n += (size_t)r;
        req[n] = '\0';
    }
    k = strstr(req, "Sec-WebSocket-Key:");
    if (k == NULL || strstr(req, "permessage-deflate") == NULL)
        return false;
    k += strlen("Sec-WebSocket-Key:");
    while (*k == ' ')
        k++;
    end = strstr(k, "\r\n");
    snprintf(key, sizeof(key), "%.*s%s", (int)(end - k), k, guid);
    lws_SHA1((const unsigned char *)key, strlen(key), md);
    lws_b64_encode_string((const char *)md, 20, accept, sizeof(accept));
    n = (size_t)snprintf(reply, sizeof(reply),
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                         "Sec-WebSocket-Extensions: permessage-deflate; "
                         "client_no_context_takeover; server_no_context_takeover\r\n\r\n",
                         accept);
    return write_all(fd, reply, n);
}

/* One message of `n` 'z's in a compressed text frame (RSV1), a fresh stream each. */
static bool zserver_send(int fd, size_t n)
{
    static unsigned char in[65536], out[4096];
    unsigned char hdr[4] = {0xc1, 0, 0, 0}; /* FIN, RSV1, text */
    size_t len, hlen = 2;
    z_stream s;

    memset(in, 'z', n);
    memset(&s, 0, sizeof(s));
    if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    s.next_in = in;
    s.avail_in = (uInt)n;
    s.next_out = out;
    s.avail_out = sizeof(out);
    (void)deflate(&s, Z_SYNC_FLUSH);
    len = sizeof(out) - s.avail_out - 4; /* without the 00 00 ff ff tail */
    deflateEnd(&s);
    if (len < 126) {
        hdr[1] = (unsigned char)len;
    } else {
        hdr[1] = 126;
        hdr[2] = (unsigned char)(len >> 8);
        hdr[3] = (unsigned char)len;
        hlen = 4;
    }
    return write_all(fd, hdr, hlen) && write_all(fd, out, len);
}

static void *zserver_main(void *arg)
{
    zserver_t *z = arg;
    struct pollfd p = {-1, POLLIN, 0};
    int fd;

    if (poll(&(struct pollfd){z->fd, POLLIN, 0}, 1, 10000) <= 0)
        return NULL;
    fd = accept(z->fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    p.fd = fd;
    if (zserver_handshake(fd))
        for (size_t n = 1000; n < 61000 && zserver_send(fd, n); n += 3) {
            z->sent++;
            if (poll(&p, 1, 0) > 0) {
                unsigned char b[2];

                z->got_close = recv(fd, b, 2, 0) == 2 && (b[0] & 0x0f) == 8;
                break;
            }
        }
    if (!z->got_close && poll(&p, 1, 5000) > 0) {
        unsigned char b[2];

        z->got_close = recv(fd, b, 2, 0) == 2 && (b[0] & 0x0f) == 8;
    }
    close(fd);
    return NULL;
}

static void zserver_start(zserver_t *z)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);

    memset(z, 0, sizeof(*z));
    z->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(z->fd >= 0);
    assert_int_equal(bind(z->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(z->fd, 1), 0);
    assert_int_equal(getsockname(z->fd, (struct sockaddr *)&a, &alen), 0);
    z->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&z->thread, NULL, zserver_main, z), 0);
}

/* The abort becomes a closed connection: a state change that says why
 * (WSR_EPROTO), a 1011 close frame to the server, and this process alive. */
static void test_client__compressed_message_lws_would_abort_on(void **state)
{
    fixture_t *f = *state;
    wsr_client_config_t cfg = base_config(f);
    zserver_t z;
    int i, code = 0;
    char text[256];

    zserver_start(&z);
    snprintf(f->url, sizeof(f->url), "ws://127.0.0.1:%d/", z.port);
    cfg.url = f->url;
    cfg.compress = true;
    connect_client(f, &cfg);
    assert_true(negotiated(f->c));
    assert_true(wait_for(f, saw_state, WSR_CLIENT_IDLE, 20000));
    pthread_join(z.thread, NULL);
    close(z.fd);
    pthread_mutex_lock(&f->lock);
    for (i = 0; i < f->nstates && f->states[i] != WSR_CLIENT_IDLE; i++)
        ;
    code = f->codes[i];
    snprintf(text, sizeof(text), "%s", f->state_text);
    pthread_mutex_unlock(&f->lock);
    print_message("the client closed after the server had sent %d runs of 'z'\n", z.sent);
    assert_int_equal(code, WSR_EPROTO);
    assert_non_null(strstr(text, "the server sent a compressed message that libwebsockets 4.1.6 "
                                 "cannot inflate (it would abort the process)"));
    assert_true(z.got_close);
    assert_true(z.sent > 1 && z.sent < 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client__url_parse),
        cmocka_unit_test(test_client__encode_three_encodings),
        cmocka_unit_test(test_client__decode),
        cmocka_unit_test(test_client__config_errors),
        cmocka_unit_test(test_client__token_settings_are_checked),
        cmocka_unit_test_setup_teardown(test_client__token_cb_at_open_and_before_expiry,
                                        fixture_setup_alloc, teardown),
        cmocka_unit_test_setup_teardown(
            test_client__refresh_renews_and_reconnection_reauthenticates, fixture_setup_alloc,
            teardown),
        cmocka_unit_test_setup_teardown(test_client__sync_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__execute_and_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__async_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__200_calls_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__error_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__raw_send_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__408_request_timeout, NULL, teardown),
        cmocka_unit_test_setup_teardown(test_client__call_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__503_while_draining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__encodings, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_client__subprotocol, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_client__pushes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__publications, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__subscription_resumes_through_20_drops,
                                        setup_history, teardown),
        cmocka_unit_test_setup_teardown(
            test_client__subscription_not_recovered_when_history_is_short, setup_history_5,
            teardown),
        cmocka_unit_test_setup_teardown(test_client__server_killed_mid_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__reconnect_after_restart, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_client__reconnect_gives_up, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_client__connect_refused, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_client__connect_timeout, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_client__wss_to_plain_server_fails, setup_bare,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__wss_verified_with_ca_and_client_cert,
                                        setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_client__wss_untrusted_server_refused, setup_tls,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__wss_host_name_checked, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_client__sync_call_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__free_with_calls_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__reply_over_max_message, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_client__readme_example, setup_bare, teardown),
        cmocka_unit_test(test_client__readme_block_is_the_test_program),
        cmocka_unit_test_setup_teardown(test_client__raw_send_with_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__progress_in_order_before_the_reply, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__input_to_a_conversation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__input_past_max_call_input_is_429,
                                        setup_max_input_4, teardown),
        cmocka_unit_test_setup_teardown(test_client__cancel_streaming_and_blocking_calls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__free_from_callback, setup, teardown),
        cmocka_unit_test(test_client__oom_is_enomem),
        cmocka_unit_test_setup_teardown(test_client__wss_expired_refused_insecure_warns, setup_tls,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__wss_ipv6_address_checked, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_client__compression_off_by_default, setup_compression,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__compression_negotiated, setup_compression,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__compression_refused_by_the_server, setup_bare,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__compressed_message_lws_would_abort_on,
                                        fixture_setup_alloc, teardown),
    };

    tu_install_allocator();
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    if (getenv("WSR_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("WSR_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
