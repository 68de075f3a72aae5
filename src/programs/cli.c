/* SPDX-License-Identifier: MIT */
/*
 * wsrouter-cli: a terminal client for wsrouter on the C client library. With a
 * request on the command line (`GET /path`, `call NAME k=v`) it sends it once,
 * prints the reply's data (pretty on a terminal, compact when piped) and exits
 * 0 for 2xx, 1 for an error status, 2 when it cannot talk to the server.
 * Without one it opens an interactive session in retopy's text-line syntax
 * (`increment a`), with line editing and history (libedit), printing pushes as
 * they arrive and re-subscribing to the session's topics after a
 * reconnection. This program parses argv, owns stdout and stderr, and exits;
 * the library below it never prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <editline/readline.h>
#include <libwebsockets.h>

#include "wsrouter/wsrouter.h"

#define PROG        "wsrouter-cli"
#define PROMPT      "wsrouter> "
#define DEFAULT_URL "ws://127.0.0.1:8080/"
#define EXIT_OK     0
#define EXIT_STATUS 1
#define EXIT_CONN   2
/* The longest line read without a terminal, its newline not counted. */
#define LINE_MAX_BYTES 8191

typedef struct options {
    const char *url;
    const char *data;  /* -d JSON text, or NULL */
    const char *field; /* -f: print this member of the reply's data, or NULL */
    json_t *args;      /* owned: -a KEY=VALUE */
    bool raw;
    wsr_client_encoding_t encoding;
    const char *token;
    int timeout_ms;
    const char *cacert, *cert, *key;
    bool insecure;
    bool verbose;
} options_t;

/* Something the service thread hands to the main thread to print. */
typedef struct event {
    struct event *next;
    int kind;    /* EV_* */
    int rc;      /* EV_REPLY: 0 or the call's failure */
    json_t *msg; /* owned: the reply or the push, or NULL */
    char *text;  /* owned (wsr_free): a failure or state sentence, or NULL */
} event_t;

enum { EV_PUSH, EV_REPLY, EV_STATE, EV_RESUB };

typedef struct cli {
    options_t o;
    wsr_client_t *c;
    json_t *commands; /* owned: the server's /_/commands list, or NULL */
    bool tty;         /* stdin and stdout are terminals: libedit, a prompt */
    bool waiting;     /* a call is in flight; its reply ends the wait */
    int last_status;  /* the status of the last reply printed, 0 for a failure */
    json_t *topics;   /* owned: the topics this session subscribed to, re-sent on reconnection */
    bool quit;
    bool dropped; /* service thread only: the connection dropped since it opened */
    pthread_mutex_t lock;
    event_t *head, *tail;        /* guarded by lock */
    int wake[2];                 /* the service thread writes a byte per event */
    char in[LINE_MAX_BYTES + 2]; /* input without libedit: a partial line, its newline, a NUL */
    size_t in_len;
    bool discarding; /* skipping the rest of a line that was too long */
} cli_t;

/* A subscription sent again after a reconnection, until its reply. */
typedef struct cli_resub {
    cli_t *cli;
    char topic[256];
} cli_resub_t;

/* libedit's line callback takes no user pointer; this is its only way back. */
static cli_t *the_cli;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " [options] [METHOD PATH [KEY=VALUE...] | call NAME [KEY=VALUE...]]\n"
            "\n"
            "Sends one request to a wsrouter server and prints the reply's data, or, with no\n"
            "request, opens an interactive session (NAME ARGS..., METHOD /path [JSON], help,\n"
            "help NAME, quit).\n"
            "\n"
            "  -u, --url URL        server (default " DEFAULT_URL ")\n"
            "  -d, --data JSON      the request's data\n"
            "  -a, --arg KEY=VALUE  a parameter (VALUE is JSON when it parses, else a string)\n"
            "  -f, --field NAME     print only the member NAME of the reply's data: a string\n"
            "                       as it is, without quotes (like jq -r), else as JSON;\n"
            "                       exit 1 when the data has no such member\n"
            "      --raw            print the whole reply, not only its data\n"
            "      --base64         send base64 text frames\n"
            "      --binary         send base64 in binary frames\n"
            "      --token TOKEN    sent as the token member of every request\n"
            "  -t, --timeout SECS   connect and call timeout (default 30)\n"
            "      --cacert FILE    CA bundle for wss://\n"
            "      --cert FILE      client certificate for wss://\n"
            "      --key FILE       client key for wss://\n"
            "      --insecure       accept any server certificate (development only)\n"
            "  -v, --verbose        log the connection to stderr\n"
            "  -h, --help           this text\n"
            "\n"
            "Exit status: 0 for a 2xx reply, 1 for an error status (or a missing --field),\n"
            "2 for a connection or usage error.\n");
}

/* ---- JSON output ---- */

/* Re-indents compact JSON by two spaces per level; strings are copied untouched. */
static void put_pretty(FILE *out, const char *s, size_t n)
{
    int depth = 0;
    bool str = false;

    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (str) {
            fputc(ch, out);
            if (ch == '\\' && i + 1 < n)
                fputc(s[++i], out);
            else if (ch == '"')
                str = false;
        } else if ((ch == '{' || ch == '[') && i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
            fputc(ch, out);
            fputc(s[++i], out);
        } else if (ch == '{' || ch == '[') {
            fprintf(out, "%c\n%*s", ch, ++depth * 2, "");
        } else if (ch == '}' || ch == ']') {
            fprintf(out, "\n%*s%c", --depth * 2, "", ch);
        } else if (ch == ',') {
            fprintf(out, ",\n%*s", depth * 2, "");
        } else if (ch == ':') {
            fputs(": ", out);
        } else {
            str = ch == '"';
            fputc(ch, out);
        }
    }
}

/* Prints `v` (NULL prints null) as the server would send it, or indented. */
static void print_json(FILE *out, const json_t *v, bool pretty)
{
    size_t n;
    char *text = wsr_json_dumps(v, &n);

    if (text != NULL) {
        if (pretty)
            put_pretty(out, text, n);
        else
            fwrite(text, 1, n, out);
    }
    fputc('\n', out);
    wsr_free(text);
}

/* Parses `text` as JSON (any value), or takes it as a string. Returns a new value. */
static json_t *json_or_string(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

    return v ? v : json_string(text);
}

/* Adds KEY=VALUE to `args`. Returns 0, or -1 when there is no '='. */
static int add_kv(json_t *args, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char key[128];

    if (eq == NULL || eq == kv || (size_t)(eq - kv) >= sizeof(key))
        return -1;
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    json_object_set_new(args, key, json_or_string(eq + 1));
    return 0;
}

static int set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Prints an error reply's detail (and a 422's errors) to stderr. */
static void print_error_reply(const wsr_client_reply_t *r)
{
    const char *key;
    json_t *msg;

    fprintf(stderr, PROG ": %d %s\n", r->status, r->detail ? r->detail : "(no detail)");
    json_object_foreach(r->errors, key, msg)
    {
        fprintf(stderr, "  %s: %s\n", key, json_is_string(msg) ? json_string_value(msg) : "?");
    }
}

/* ---- the connection ---- */

static void on_log(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    fprintf(stderr, PROG ": %s\n", line);
}

static void lws_log(int level, const char *line)
{
    (void)level;
    fprintf(stderr, "lws: %s", line);
}

static void queue_event(cli_t *cli, int kind, int rc, json_t *msg, const char *text)
{
    event_t *e = wsr_calloc(1, sizeof(*e));
    char byte = 1;

    if (e == NULL) {
        json_decref(msg);
        return;
    }
    e->kind = kind;
    e->rc = rc;
    e->msg = msg;
    e->text = text ? wsr_strdup(text) : NULL;
    pthread_mutex_lock(&cli->lock);
    if (cli->tail != NULL)
        cli->tail->next = e;
    else
        cli->head = e;
    cli->tail = e;
    pthread_mutex_unlock(&cli->lock);
    if (write(cli->wake[1], &byte, 1) < 0 && errno != EAGAIN)
        return; /* the main thread polls with a timeout as well */
}

static void on_message(void *user, json_t *message)
{
    if (json_object_get(message, "status") == NULL)
        queue_event(user, EV_PUSH, 0, message, NULL); /* takes it */
    else
        json_decref(message); /* a late reply: not shown */
}

/* Tells of drops and reconnections (not of the first connection). */
static void on_state(void *user, wsr_client_state_t state, int code, const char *text)
{
    cli_t *cli = user;

    (void)code;
    if (state == WSR_CLIENT_RECONNECTING || state == WSR_CLIENT_IDLE) {
        cli->dropped = true;
        queue_event(cli, EV_STATE, (int)state, NULL, text);
    } else if (state == WSR_CLIENT_OPEN && cli->dropped) {
        cli->dropped = false;
        queue_event(cli, EV_STATE, (int)state, NULL, text);
    }
}

static void on_reply(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    json_t *msg = reply ? reply->message : NULL;

    if (reply != NULL)
        reply->message = NULL; /* taken */
    queue_event(user, EV_REPLY, rc, msg, error);
}

/* The reply to a subscription sent again after a reconnection. */
static void on_resubscribed(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    cli_resub_t *r = user;
    json_t *msg = reply ? reply->message : NULL;

    (void)error;
    if (reply != NULL)
        reply->message = NULL; /* taken */
    queue_event(r->cli, EV_RESUB, rc, msg, r->topic);
    wsr_free(r);
}

/* Creates and connects the client. Returns 0, or EXIT_CONN after saying why. */
static int open_client(cli_t *cli, bool interactive)
{
    wsr_client_config_t cfg;
    wsr_error_t err;

    wsr_client_config_init(&cfg);
    cfg.url = cli->o.url;
    cfg.subprotocol = WSR_SUBPROTOCOL;
    cfg.encoding = cli->o.encoding;
    cfg.token = cli->o.token;
    cfg.connect_timeout_ms = cli->o.timeout_ms;
    cfg.call_timeout_ms = cli->o.timeout_ms;
    cfg.ca_file = cli->o.cacert;
    cfg.cert_file = cli->o.cert;
    cfg.key_file = cli->o.key;
    cfg.insecure = cli->o.insecure;
    cfg.reconnect = interactive;
    cfg.on_message = on_message;
    cfg.on_state = interactive ? on_state : NULL;
    cfg.user = cli;
    cfg.log = on_log;
    cfg.log_level = cli->o.verbose ? WSR_LOG_INFO : WSR_LOG_WARN;
    cli->c = wsr_client_new(&cfg, &err);
    if (cli->c == NULL || wsr_client_connect(cli->c, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.text);
        return EXIT_CONN;
    }
    return 0;
}

/* ---- one shot ---- */

/* --field: prints one member of the data (a string raw). Returns 0, or EXIT_STATUS. */
static int print_field(const wsr_client_reply_t *r, const char *name)
{
    json_t *v = json_object_get(r->data, name);

    if (v == NULL) {
        fprintf(stderr, PROG ": the reply's data has no member \"%s\"%s\n", name,
                json_is_object(r->data) ? "" : " (it is not an object)");
        return EXIT_STATUS;
    }
    if (json_is_string(v))
        printf("%s\n", json_string_value(v));
    else
        print_json(stdout, v, isatty(1) != 0);
    return 0;
}

static int one_shot(cli_t *cli, int argc, char **argv)
{
    wsr_client_request_t req;
    wsr_client_reply_t r;
    wsr_error_t err;
    json_t *data = NULL;
    int rc, i = 2;

    wsr_client_request_init(&req);
    if (strcmp(argv[0], "call") == 0 && argc >= 2) {
        req.cmd = argv[1];
    } else if (argc >= 2 && argv[1][0] == '/') {
        req.method = argv[0];
        req.url = argv[1];
    } else {
        fprintf(stderr, PROG ": expected METHOD PATH or call NAME (see --help)\n");
        return EXIT_CONN;
    }
    for (; i < argc; i++)
        if (add_kv(cli->o.args, argv[i]) != 0) {
            fprintf(stderr, PROG ": expected KEY=VALUE, got \"%s\"\n", argv[i]);
            return EXIT_CONN;
        }
    if (cli->o.raw && cli->o.field != NULL) {
        fprintf(stderr, PROG ": --raw and --field cannot be used together\n");
        return EXIT_CONN;
    }
    if (cli->o.data != NULL && (data = json_loads(cli->o.data, JSON_DECODE_ANY, NULL)) == NULL) {
        fprintf(stderr, PROG ": --data is not valid JSON\n");
        return EXIT_CONN;
    }
    req.args = json_object_size(cli->o.args) ? cli->o.args : NULL;
    req.data = data;
    rc = open_client(cli, false);
    if (rc == 0 && wsr_client_request(cli->c, &req, &r, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.text);
        rc = EXIT_CONN;
    } else if (rc == 0) {
        bool ok = r.status >= 200 && r.status < 300;

        if (ok && cli->o.field != NULL)
            rc = print_field(&r, cli->o.field);
        else if (cli->o.raw || ok)
            print_json(stdout, cli->o.raw ? r.message : r.data, isatty(1) != 0);
        if (!ok)
            print_error_reply(&r);
        if (!ok || rc == 0)
            rc = ok ? EXIT_OK : EXIT_STATUS;
        wsr_client_reply_dispose(&r);
    }
    json_decref(data);
    return rc;
}

/* ---- interactive ---- */

/* Splits `line` into at most `max` blank-separated words ("quotes" group). */
static int split_words(char *line, char **words, int max)
{
    int n = 0;
    char *p = line;

    while (*p != '\0' && n < max) {
        char *w;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (*p == '"') {
            w = ++p;
            while (*p != '\0' && *p != '"')
                p++;
        } else {
            w = p;
            while (*p != '\0' && *p != ' ' && *p != '\t')
                p++;
        }
        if (*p != '\0')
            *p++ = '\0';
        words[n++] = w;
    }
    return n;
}

static json_t *find_command(cli_t *cli, const char *name)
{
    size_t i;
    json_t *cmd;

    json_array_foreach(cli->commands, i, cmd)
    {
        if (strcmp(json_string_value(json_object_get(cmd, "name")), name) == 0)
            return cmd;
    }
    return NULL;
}

/*
 * Prints a reply the way retopy's telnet session does: the value, +OK, or
 * -ERR. Returns its status, 0 for a call that failed.
 */
static int print_line_reply(int rc, json_t *msg, const char *text)
{
    json_int_t status = json_integer_value(json_object_get(msg, "status"));
    json_t *data = json_object_get(msg, "data"), *v;
    const char *detail = json_string_value(json_object_get(msg, "detail")), *key;

    if (rc != 0 || msg == NULL) {
        status = 0;
        printf("-ERR %s\n", text ? text : wsr_strerror(rc));
    } else if (status >= 200 && status < 300) {
        if (data == NULL || json_is_null(data))
            printf("+OK\n");
        else if (json_is_string(data))
            printf("%s\n", json_string_value(data));
        else
            print_json(stdout, data, false);
    } else {
        printf("-ERR %s", detail ? detail : "error");
        json_object_foreach(json_object_get(msg, "errors"), key, v)
        {
            printf(" (%s: %s)", key, json_is_string(v) ? json_string_value(v) : "?");
        }
        printf("\n");
    }
    return (int)status;
}

static void print_push(json_t *msg)
{
    json_t *topic = json_object_get(msg, "topic"), *event = json_object_get(msg, "event_name");

    if (json_is_string(topic))
        printf("[%s %s] ", json_is_string(event) ? json_string_value(event) : "publish",
               json_string_value(topic));
    else if (json_is_string(event))
        printf("[%s] ", json_string_value(event));
    else
        printf("[push] ");
    print_json(stdout, json_object_get(msg, "data"), false);
}

static void on_resubscribed(void *user, int rc, wsr_client_reply_t *reply, const char *error);

/*
 * After a reconnection: the server forgot this connection's subscriptions
 * (PROTOCOL.md section 5 keeps them per connection), so they are sent again.
 * A --token goes with every request and needs nothing.
 */
static void resubscribe(cli_t *cli)
{
    wsr_client_request_t req;
    wsr_error_t err;
    json_t *topic;
    size_t i;

    printf("-- reconnected to %s\n", cli->o.url);
    json_array_foreach(cli->topics, i, topic)
    {
        json_t *args = json_pack("{s:O}", "topic", topic);
        cli_resub_t *r = wsr_calloc(1, sizeof(*r));

        wsr_client_request_init(&req);
        req.cmd = "subscribe";
        req.args = args;
        if (r != NULL) {
            r->cli = cli;
            snprintf(r->topic, sizeof(r->topic), "%s", json_string_value(topic));
        }
        if (args == NULL || r == NULL ||
            wsr_client_request_async(cli->c, &req, on_resubscribed, r, NULL, &err) != 0) {
            printf("-- could not re-subscribe to %s: %s\n", json_string_value(topic),
                   args && r ? err.text : "out of memory");
            wsr_free(r);
        }
        json_decref(args);
    }
}

/* Prints one event other than a reply to the current call. */
static void print_event(cli_t *cli, event_t *e)
{
    const char *detail = json_string_value(json_object_get(e->msg, "detail"));
    json_int_t status = json_integer_value(json_object_get(e->msg, "status"));

    if (e->kind == EV_PUSH) {
        print_push(e->msg);
    } else if (e->kind == EV_STATE && e->rc == (int)WSR_CLIENT_OPEN) {
        resubscribe(cli);
    } else if (e->kind == EV_STATE) {
        printf("-- %s\n", e->text ? e->text : "");
    } else if (e->msg != NULL && status >= 200 && status < 300) { /* EV_RESUB */
        printf("-- re-subscribed to %s\n", e->text);
    } else {
        printf("-- could not re-subscribe to %s: %s\n", e->text,
               e->msg == NULL ? wsr_strerror(e->rc)
               : detail       ? detail
                              : "error");
    }
}

/* Prints every queued event; a reply ends the current wait. */
static void drain_events(cli_t *cli)
{
    char buf[256];
    event_t *e;
    bool redraw = cli->tty && !cli->waiting;

    while (read(cli->wake[0], buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&cli->lock);
    e = cli->head;
    cli->head = cli->tail = NULL;
    pthread_mutex_unlock(&cli->lock);
    if (e == NULL)
        return;
    if (redraw)
        fputs("\r\033[K", stdout); /* the prompt's line: print over it, then redraw */
    while (e != NULL) {
        event_t *next = e->next;

        if (e->kind == EV_REPLY) {
            cli->last_status = print_line_reply(e->rc, e->msg, e->text);
            cli->waiting = false;
        } else {
            print_event(cli, e);
        }
        json_decref(e->msg);
        wsr_free(e->text);
        wsr_free(e);
        e = next;
    }
    fflush(stdout);
    if (redraw)
        rl_forced_update_display();
}

/* Sends `req` and prints what arrives until its reply has been printed. */
static void call_and_wait(cli_t *cli, const wsr_client_request_t *req)
{
    wsr_error_t err;

    cli->last_status = 0;
    if (wsr_client_request_async(cli->c, req, on_reply, cli, NULL, &err) != 0) {
        printf("-ERR %s\n", err.text);
        return;
    }
    cli->waiting = true;
    while (cli->waiting) {
        struct pollfd p = {cli->wake[0], POLLIN, 0};

        (void)poll(&p, 1, 1000);
        drain_events(cli);
    }
}

/* help: every command with its parameters; help NAME: one of them. */
static void print_help(cli_t *cli, const char *name)
{
    json_t *cmd, *param;
    size_t i, j;

    if (json_array_size(cli->commands) == 0) {
        printf("-ERR the server lists no commands\n");
        return;
    }
    json_array_foreach(cli->commands, i, cmd)
    {
        const char *n = json_string_value(json_object_get(cmd, "name"));
        char head[128];
        size_t len = (size_t)snprintf(head, sizeof(head), "%s", n);

        if (name != NULL && strcmp(n, name) != 0)
            continue;
        json_array_foreach(json_object_get(cmd, "params"), j, param)
        {
            bool req = json_is_true(json_object_get(param, "required"));

            if (len < sizeof(head))
                len += (size_t)snprintf(head + len, sizeof(head) - len, req ? " %s" : " [%s]",
                                        json_string_value(json_object_get(param, "name")));
        }
        printf("%-28s %s\n", head, json_string_value(json_object_get(cmd, "doc")));
        if (name != NULL) {
            printf("  url: %s\n", json_is_string(json_object_get(cmd, "url"))
                                      ? json_string_value(json_object_get(cmd, "url"))
                                      : "(cmd only)");
            json_array_foreach(json_object_get(cmd, "params"), j, param)
            {
                printf("  %s: %s%s\n", json_string_value(json_object_get(param, "name")),
                       json_string_value(json_object_get(param, "type")),
                       json_is_true(json_object_get(param, "required")) ? ", required" : "");
            }
            return;
        }
    }
    if (name != NULL)
        printf("-ERR no command named %s\n", name);
}

/* Maps positional words onto the command's declared parameters, in order. */
static int fill_args(json_t *args, json_t *cmd, char **words, int n)
{
    json_t *params = json_object_get(cmd, "params");
    size_t next = 0;

    for (int i = 0; i < n; i++) {
        json_t *p;
        const char *type;

        if (strchr(words[i], '=') != NULL && add_kv(args, words[i]) == 0)
            continue;
        if (cmd == NULL)
            continue; /* not a listed command: the server answers 404 */
        p = json_array_get(params, next++);
        if (p == NULL) {
            printf("-ERR too many arguments: %s takes %zu\n",
                   json_string_value(json_object_get(cmd, "name")), json_array_size(params));
            return -1;
        }
        type = json_string_value(json_object_get(p, "type"));
        json_object_set_new(args, json_string_value(json_object_get(p, "name")),
                            type && strcmp(type, "string") == 0 ? json_string(words[i])
                                                                : json_or_string(words[i]));
    }
    return 0;
}

/* True when the line's first word is an HTTP method and a /path follows. */
static bool is_method_line(const char *line)
{
    static const char *const methods[] = {"GET",    "POST", "PUT",    "PATCH",
                                          "DELETE", "HEAD", "OPTIONS"};
    size_t n = strcspn(line, " \t");
    const char *next = line + n + strspn(line + n, " \t");

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (n == strlen(methods[i]) && strncasecmp(line, methods[i], n) == 0)
            return *next == '/';
    return false;
}

/* METHOD /path [JSON data]. */
static void method_line(cli_t *cli, char *line)
{
    wsr_client_request_t req;
    char *words[2], *rest;
    json_t *data = NULL;

    rest = line + strspn(line, " \t");
    rest += strcspn(rest, " \t");
    rest += strspn(rest, " \t");
    rest += strcspn(rest, " \t");
    if (*rest != '\0')
        *rest++ = '\0';
    (void)split_words(line, words, 2);
    rest += strspn(rest, " \t");
    if (*rest != '\0' && (data = json_loads(rest, JSON_DECODE_ANY, NULL)) == NULL) {
        printf("-ERR the data after the path is not valid JSON\n");
        return;
    }
    wsr_client_request_init(&req);
    req.method = words[0];
    req.url = words[1];
    req.data = data;
    call_and_wait(cli, &req);
    json_decref(data);
}

/* Keeps the session's topics up to date after a subscribe or unsubscribe that worked. */
static void remember_topic(cli_t *cli, const char *cmd, json_t *topic)
{
    json_t *t;
    size_t i;

    if (!json_is_string(topic))
        return;
    json_array_foreach(cli->topics, i, t)
    {
        if (json_equal(t, topic))
            break;
    }
    if (strcmp(cmd, "subscribe") == 0 && i == json_array_size(cli->topics))
        json_array_append(cli->topics, topic);
    else if (strcmp(cmd, "unsubscribe") == 0 && i < json_array_size(cli->topics))
        json_array_remove(cli->topics, i);
}

static void handle_line(cli_t *cli, char *line)
{
    char *words[64];
    int n;
    wsr_client_request_t req;
    json_t *args;

    line += strspn(line, " \t");
    if (*line == '\0')
        return;
    if (cli->tty)
        add_history(line);
    if (is_method_line(line)) {
        method_line(cli, line);
        return;
    }
    n = split_words(line, words, 64);
    if (strcmp(words[0], "quit") == 0 || strcmp(words[0], "exit") == 0) {
        cli->quit = true;
        return;
    }
    if (strcmp(words[0], "help") == 0) {
        print_help(cli, n > 1 ? words[1] : NULL);
        return;
    }
    args = json_object();
    wsr_client_request_init(&req);
    req.cmd = words[0];
    req.args = args;
    if (fill_args(args, find_command(cli, words[0]), words + 1, n - 1) == 0) {
        call_and_wait(cli, &req);
        if (cli->last_status >= 200 && cli->last_status < 300)
            remember_topic(cli, words[0], json_object_get(args, "topic"));
    }
    json_decref(args);
}

static void on_line(char *line)
{
    if (line == NULL) {
        the_cli->quit = true; /* EOF */
        printf("\n");
    } else {
        handle_line(the_cli, line);
    }
    fflush(stdout);
    free(line); /* libedit's, from its allocator */
    /* libedit 3.1 leaves line-at-a-time mode after a line; this turns it back
     * on (raw terminal, one character per call) and draws the next prompt. */
    if (!the_cli->quit)
        rl_callback_handler_install(PROMPT, on_line);
}

/*
 * Without a terminal: reads what is there and handles each complete line. A
 * line longer than LINE_MAX_BYTES is refused with one -ERR and skipped up to
 * its newline, so that no part of it runs as a command of its own.
 */
static void read_lines(cli_t *cli)
{
    ssize_t n = read(0, cli->in + cli->in_len, sizeof(cli->in) - 1 - cli->in_len);
    char *start = cli->in, *nl;

    if (n <= 0) {
        cli->in[cli->in_len] = '\0';
        if (cli->in_len > 0 && !cli->discarding)
            handle_line(cli, cli->in);
        cli->quit = true;
        return;
    }
    cli->in_len += (size_t)n;
    cli->in[cli->in_len] = '\0';
    while (!cli->quit &&
           (nl = memchr(start, '\n', cli->in_len - (size_t)(start - cli->in))) != NULL) {
        *nl = '\0';
        if (cli->discarding)
            cli->discarding = false; /* the end of the long line */
        else
            handle_line(cli, start);
        fflush(stdout);
        start = nl + 1;
    }
    cli->in_len -= (size_t)(start - cli->in);
    memmove(cli->in, start, cli->in_len);
    if (cli->in_len > LINE_MAX_BYTES) {
        /* The buffer is full and holds no newline: the line is too long. */
        if (!cli->discarding)
            printf("-ERR line too long (max %d bytes)\n", LINE_MAX_BYTES);
        fflush(stdout);
        cli->discarding = true;
        cli->in_len = 0;
    }
}

static int interactive(cli_t *cli)
{
    wsr_client_reply_t r;
    wsr_error_t err;

    if (open_client(cli, true) != 0)
        return EXIT_CONN;
    if (wsr_client_execute(cli->c, "commands", NULL, &r, &err) == 0 && json_is_array(r.data))
        cli->commands = json_incref(r.data);
    wsr_client_reply_dispose(&r);
    cli->tty = isatty(0) && isatty(1);
    the_cli = cli;
    if (cli->tty) {
        printf("connected to %s; help lists the commands, quit leaves\n", cli->o.url);
        rl_callback_handler_install(PROMPT, on_line);
    }
    while (!cli->quit) {
        struct pollfd p[2] = {{0, POLLIN, 0}, {cli->wake[0], POLLIN, 0}};

        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            break;
        if (p[1].revents & POLLIN)
            drain_events(cli);
        if (p[0].revents & (POLLIN | POLLHUP)) {
            if (cli->tty)
                rl_callback_read_char();
            else
                read_lines(cli);
        }
    }
    if (cli->tty)
        rl_callback_handler_remove();
    return EXIT_OK;
}

/* Releases events nobody printed (the session ended first). */
static void drop_events(cli_t *cli)
{
    event_t *e = cli->head, *next;

    for (; e != NULL; e = next) {
        next = e->next;
        json_decref(e->msg);
        wsr_free(e->text);
        wsr_free(e);
    }
    cli->head = cli->tail = NULL;
}

/* ---- main ---- */

static const struct option long_options[] = {
    {"url", required_argument, NULL, 'u'},     {"data", required_argument, NULL, 'd'},
    {"field", required_argument, NULL, 'f'},   {"arg", required_argument, NULL, 'a'},
    {"raw", no_argument, NULL, 'R'},           {"base64", no_argument, NULL, 'B'},
    {"binary", no_argument, NULL, 'Y'},        {"token", required_argument, NULL, 'T'},
    {"timeout", required_argument, NULL, 't'}, {"cacert", required_argument, NULL, 'C'},
    {"cert", required_argument, NULL, 'E'},    {"key", required_argument, NULL, 'K'},
    {"insecure", no_argument, NULL, 'I'},      {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
};

/* Options that store their argument, or set a flag, by offset (STYLE F2). */
static const struct {
    int ch;
    size_t offset;
    bool flag;
} simple_options[] = {
    {'u', offsetof(options_t, url), false},     {'d', offsetof(options_t, data), false},
    {'f', offsetof(options_t, field), false},   {'T', offsetof(options_t, token), false},
    {'C', offsetof(options_t, cacert), false},  {'E', offsetof(options_t, cert), false},
    {'K', offsetof(options_t, key), false},     {'R', offsetof(options_t, raw), true},
    {'I', offsetof(options_t, insecure), true}, {'v', offsetof(options_t, verbose), true},
};

/* Applies one option. Returns 0, 1 to exit 0 (help), or -1 on a usage error. */
static int apply_option(options_t *o, int ch, const char *arg)
{
    char *end;
    double secs;

    for (size_t i = 0; i < sizeof(simple_options) / sizeof(simple_options[0]); i++) {
        char *field = (char *)o + simple_options[i].offset;

        if (simple_options[i].ch != ch)
            continue;
        if (simple_options[i].flag)
            *(bool *)(void *)field = true;
        else
            *(const char **)(void *)field = arg;
        return 0;
    }
    if (ch == 'B' || ch == 'Y') {
        o->encoding = ch == 'B' ? WSR_CLIENT_BASE64_TEXT : WSR_CLIENT_BASE64_BINARY;
        return 0;
    }
    if (ch == 'a' && add_kv(o->args, arg) == 0)
        return 0;
    if (ch == 'a') {
        fprintf(stderr, PROG ": -a needs KEY=VALUE (got \"%s\")\n", arg);
        return -1;
    }
    if (ch == 't') {
        secs = strtod(arg, &end);
        if (*end != '\0' || !(secs > 0 && secs <= 86400)) {
            fprintf(stderr, PROG ": --timeout needs seconds, more than 0 and at most 86400\n");
            return -1;
        }
        o->timeout_ms = (int)(secs * 1000) > 0 ? (int)(secs * 1000) : 1;
        return 0;
    }
    usage(ch == 'h' ? stdout : stderr);
    return ch == 'h' ? 1 : -1;
}

static int field_without_request(void)
{
    fprintf(stderr, PROG ": --field needs a request on the command line\n");
    return EXIT_CONN;
}

int main(int argc, char **argv)
{
    cli_t cli;
    int ch, rc = 0;

    memset(&cli, 0, sizeof(cli));
    cli.o.url = DEFAULT_URL;
    cli.o.timeout_ms = 30000;
    cli.o.args = json_object();
    cli.topics = json_array();
    pthread_mutex_init(&cli.lock, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (rc == 0 && (ch = getopt_long(argc, argv, "u:d:a:f:t:vh", long_options, NULL)) != -1)
        rc = apply_option(&cli.o, ch, optarg);
    if (rc == 0) {
        lws_set_log_level(cli.o.verbose ? LLL_ERR | LLL_WARN | LLL_NOTICE : 0, lws_log);
        if (pipe(cli.wake) != 0) {
            perror(PROG ": pipe");
            rc = EXIT_CONN;
        } else {
            (void)set_nonblock(cli.wake[0]);
            (void)set_nonblock(cli.wake[1]);
            rc = optind < argc ? one_shot(&cli, argc - optind, argv + optind)
                 : cli.o.field ? field_without_request()
                               : interactive(&cli);
        }
    } else {
        rc = rc > 0 ? EXIT_OK : EXIT_CONN;
    }
    wsr_client_free(cli.c);
    drop_events(&cli);
    if (cli.wake[0] > 0) {
        close(cli.wake[0]);
        close(cli.wake[1]);
    }
    pthread_mutex_destroy(&cli.lock);
    json_decref(cli.commands);
    json_decref(cli.topics);
    json_decref(cli.o.args);
    return rc;
}
