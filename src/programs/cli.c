/* SPDX-License-Identifier: MIT */
/*
 * wsrouter-cli: a terminal client for wsrouter on the C client library. With a
 * request on the command line (`GET /path`, `call NAME k=v`) it sends it once,
 * prints the reply's data (pretty on a terminal, compact when piped) and exits
 * 0 for 2xx, 1 for an error status, 2 when it cannot talk to the server.
 * Without one it opens an interactive session in retopy's text-line syntax
 * (`increment a`), with line editing and history (libedit), printing pushes as
 * they arrive; its subscribe and unsubscribe go through the C client's own,
 * which subscribes again after a reconnection, resuming after the last
 * publication received ("-- resubscribed chat (recovered)"). `login USER` (one shot or in a
 * session) asks for the password without echo on a terminal, or reads it from standard input, and
 * the session keeps the token: every request and every reconnection use it, and it is renewed with
 * /auth/refresh before it expires. `--token-file` reads the token from a file, again at each
 * reconnection and before it expires (a file another program renews). A call's progress messages
 * are printed as they come, lines typed while it runs are its input, and Ctrl-C while a call runs
 * cancels it on the server (the 499 is printed, the session goes on); the call in flight is
 * cli_call.c's. This program parses argv, owns stdout and stderr, and exits; the library below it
 * never prints.
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
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <editline/readline.h>
#include <libwebsockets.h>

#include "cli_int.h"

/* libedit's line callback takes no user pointer; this is its only way back. */
static cli_t *the_cli;

static void on_line(char *line);

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " [options] [METHOD PATH [KEY=VALUE...] | call NAME [KEY=VALUE...] |\n"
            "                    login USER | subscribe TOPIC... [--count N]]\n"
            "\n"
            "Sends one request to a wsrouter server and prints the reply's data, or, with no\n"
            "request, opens an interactive session (NAME ARGS..., METHOD /path [JSON], help,\n"
            "help NAME, login USER, quit). login asks for the password (without echo on a\n"
            "terminal; else it is the next line of standard input); the session keeps the\n"
            "token, renews it, and uses it again after a reconnection. Progress of a call is\n"
            "printed as it comes; Ctrl-C while a call runs cancels it (a second Ctrl-C quits),\n"
            "Ctrl-C at the prompt clears the line, Ctrl-D leaves. Lines typed at a running\n"
            "call's \"> \" prompt are its input (without a terminal: the lines '> VALUE' that\n"
            "follow it). The prompt is \"not connected> \" while the server cannot be reached;\n"
            "each command then tries again. subscribe TOPIC... prints each publication as a\n"
            "JSON line until Ctrl-C (exit 0) or --count N publications.\n"
            "\n"
            "  -u, --url URL        server (default $WSROUTER_URL, else " DEFAULT_URL ")\n"
            "  -d, --data JSON      the request's data\n"
            "  -a, --arg KEY=VALUE  a parameter (VALUE is JSON when it parses, else a string)\n"
            "  -f, --field NAME     print only the member NAME of the reply's data: a string\n"
            "                       as it is, without quotes (like jq -r), else as JSON;\n"
            "                       exit 1 when the data has no such member\n"
            "      --raw            print the whole reply, not only its data\n"
            "      --base64         send base64 text frames\n"
            "      --binary         send base64 in binary frames\n"
            "      --token TOKEN    sent as the token member of every request\n"
            "      --token-file PATH  the same, read from the file's first line (again at\n"
            "                       each reconnection and before the token expires); a\n"
            "                       file others may read is warned about\n"
            "  -t, --timeout SECS   connect and call timeout (default 30)\n"
            "  -n, --count N        subscribe: exit 0 after N publications\n"
            "      --cacert FILE    CA bundle for wss://\n"
            "      --cert FILE      client certificate for wss://\n"
            "      --key FILE       client key for wss://\n"
            "      --insecure       accept any server certificate (development only)\n"
            "      --compress       offer permessage-deflate (a server with compression on\n"
            "                       compresses its long replies, and this program its requests)\n"
            "  -v, --verbose        log the connection to stderr\n"
            "  -h, --help           this text\n"
            "      --version        the version\n"
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
json_t *cli_json_or_string(const char *text)
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
    json_object_set_new(args, key, cli_json_or_string(eq + 1));
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

void cli_queue_event(cli_t *cli, int kind, int rc, json_t *msg, const char *text)
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
    const char *event = json_string_value(json_object_get(message, "event_name"));

    if (json_object_get(message, "status") == NULL)
        cli_queue_event(user, EV_PUSH, 0, message, NULL); /* takes it */
    else if (event != NULL && strcmp(event, "wsr-input") == 0)
        cli_queue_event(user, EV_INPUT, 0, message, NULL); /* input the server refused */
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
        cli_queue_event(cli, EV_STATE, (int)state, NULL, text);
    } else if (state == WSR_CLIENT_OPEN && cli->dropped) {
        cli->dropped = false;
        cli_queue_event(cli, EV_STATE, (int)state, NULL, text);
    }
}

void cli_on_reply(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    json_t *msg = reply ? reply->message : NULL;

    if (reply != NULL)
        reply->message = NULL; /* taken */
    cli_queue_event(user, EV_REPLY, rc, msg, error);
}

/* A topic the client subscribed to again after a reconnection (service thread):
 * rc 1 recovered, 0 not recovered, else the failure with its sentence. */
static void on_resubscribed(void *user, const wsr_client_resubscription_t *r)
{
    char text[512];

    if (r->ok)
        snprintf(text, sizeof(text), "%s", r->topic);
    else
        snprintf(text, sizeof(text), "%s: %s", r->topic, r->error ? r->error : "refused");
    cli_queue_event(user, EV_RESUB, r->ok ? r->recovered : -1, NULL, text);
}

/* ---- tokens and passwords ---- */

/* Clears a secret so that it does not linger in memory. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *b = p;

    while (n-- > 0)
        *b++ = 0;
}

/*
 * Reads the first line of `path` (blanks around it dropped) into `buf`.
 * Returns 0, or -1 after a sentence on stderr. `warn`: say so when others
 * may read the file (a token is a password for its lifetime).
 */
static int read_token_file(const char *path, char *buf, size_t size, bool warn)
{
    struct stat st;
    ssize_t n;
    size_t len = 0, start, end;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, PROG ": --token-file %s: %s\n", path,
                fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (warn && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        fprintf(stderr,
                PROG ": warning: --token-file %s can be read by other users (chmod 600 it)\n",
                path);
    while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    len = strcspn(buf, "\r\n");
    for (start = 0; start < len && (buf[start] == ' ' || buf[start] == '\t'); start++)
        ;
    for (end = len; end > start && (buf[end - 1] == ' ' || buf[end - 1] == '\t'); end--)
        ;
    memmove(buf, buf + start, end - start);
    buf[end - start] = '\0';
    if (buf[0] == '\0') {
        fprintf(stderr, PROG ": --token-file %s holds no token\n", path);
        return -1;
    }
    return 0;
}

/* The client's token callback (service thread): the file's token now, or
 * NULL to keep the one in use when the file cannot be read. */
static const char *token_from_file(void *user)
{
    cli_t *cli = user;

    return read_token_file(cli->o.token_file, cli->token_buf, sizeof(cli->token_buf), false) == 0
               ? cli->token_buf
               : NULL;
}

/* Reads one line of standard input into `buf` (its newline and a \r dropped).
 * Returns its length, or -1 at end of input. */
static ssize_t read_line_fd0(char *buf, size_t size)
{
    size_t n = 0;
    char ch;
    unsigned long interrupts = cli_interrupt_count();

    for (;;) {
        ssize_t r = read(0, &ch, 1);

        if (r < 0 && errno == EINTR && cli_interrupt_count() != interrupts)
            return -1; /* Ctrl-C: no password */
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return n > 0 ? (ssize_t)n : -1;
        if (ch == '\n')
            break;
        if (n < size - 1)
            buf[n++] = ch;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Asks for `user`'s password: on a terminal without echo, else the next line
 * of standard input. Returns 0, or -1 after a sentence. */
static int read_password(const char *user, char *buf, size_t size)
{
    struct termios old, quiet;
    bool tty = isatty(0) && tcgetattr(0, &old) == 0;
    ssize_t n;

    if (tty) {
        fprintf(stderr, "password for %s: ", user);
        fflush(stderr);
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHOE | ECHOK);
        quiet.c_lflag |= ICANON | ECHONL;
        (void)tcsetattr(0, TCSAFLUSH, &quiet);
    }
    n = read_line_fd0(buf, size);
    if (tty)
        (void)tcsetattr(0, TCSAFLUSH, &old);
    if (n < 0) {
        fprintf(stderr, PROG ": no password given for %s\n", user);
        return -1;
    }
    return 0;
}

/* POST /auth/login for `user` with `password` (wiped afterwards). Fills
 * `reply`; returns like wsr_client_request. */
static int send_login(cli_t *cli, const char *user, char *password, wsr_client_reply_t *reply,
                      wsr_error_t *err)
{
    wsr_client_request_t req;
    json_t *data = json_pack("{s:s, s:s}", "username", user, "password", password);
    int rc;

    wipe(password, strlen(password));
    if (data == NULL) {
        memset(reply, 0, sizeof(*reply));
        snprintf(err->text, sizeof(err->text), "out of memory");
        return WSR_ENOMEM;
    }
    wsr_client_request_init(&req);
    req.method = "POST";
    req.url = "/auth/login";
    req.data = data;
    rc = wsr_client_request(cli->c, &req, reply, err);
    json_decref(data);
    return rc;
}

/* In a session: logs in and keeps the token for every later request and
 * reconnection. Prints +OK or -ERR; returns the status (0 for a failure). */
static int session_login(cli_t *cli, const char *user, char *password)
{
    wsr_client_reply_t r;
    wsr_error_t err;
    const char *token;
    int status;

    if (send_login(cli, user, password, &r, &err) != 0) {
        printf("-ERR %s\n", err.text);
        return 0;
    }
    status = r.status;
    token = json_string_value(json_object_get(r.data, "token"));
    if (status >= 200 && status < 300 && token != NULL && wsr_client_set_token(cli->c, token) == 0)
        printf("+OK logged in as %s\n", user);
    else if (status >= 200 && status < 300)
        printf("-ERR the login's answer holds no token\n");
    else
        printf("-ERR %d %s\n", status, r.detail ? r.detail : "the login failed");
    wsr_client_reply_dispose(&r);
    return status;
}

int cli_open_client(cli_t *cli, int mode)
{
    wsr_client_config_t cfg;
    wsr_error_t err;
    bool interactive = mode == OPEN_SESSION;

    wsr_client_config_init(&cfg);
    cfg.url = cli->o.url;
    cfg.subprotocol = WSR_SUBPROTOCOL;
    cfg.encoding = cli->o.encoding;
    cfg.token = cli->o.token_file ? cli->token_buf : cli->o.token;
    /* A file is read again at each open and before the token expires; a
     * login's token is renewed with /auth/refresh. */
    cfg.token_cb = cli->o.token_file ? token_from_file : NULL;
    cfg.token_user = cli;
    cfg.refresh = interactive && cli->o.token == NULL && cli->o.token_file == NULL;
    cfg.connect_timeout_ms = cli->o.timeout_ms;
    cfg.call_timeout_ms = cli->o.timeout_ms;
    cfg.ca_file = cli->o.cacert;
    cfg.cert_file = cli->o.cert;
    cfg.key_file = cli->o.key;
    cfg.insecure = cli->o.insecure;
    cfg.compress = cli->o.compress;
    cfg.reconnect = mode != OPEN_ONCE;
    cfg.on_message = on_message;
    cfg.on_state = mode != OPEN_ONCE ? on_state : NULL;
    cfg.on_resubscribed = on_resubscribed;
    cfg.user = cli;
    cfg.log = on_log;
    cfg.log_level = cli->o.verbose ? WSR_LOG_INFO : WSR_LOG_WARN;
    cli->c = wsr_client_new(&cfg, &err);
    if (cli->c != NULL && wsr_client_connect(cli->c, &err) == 0) {
        cli->online = true;
        return 0;
    }
    if (cli->c != NULL && interactive && cli->tty) {
        /* A session on a terminal starts anyway: each command tries again. */
        printf("-- %s (not connected: each command tries again)\n", err.text);
        return 0;
    }
    fprintf(stderr, PROG ": %s\n", err.text);
    return EXIT_CONN;
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

/* `login USER` on the command line: prints the login's data (-f token: the
 * token alone, for a script). */
static int one_shot_login(cli_t *cli, const char *user)
{
    char password[PASSWORD_MAX_BYTES + 1];
    wsr_client_reply_t r;
    wsr_error_t err;
    int rc;

    if (read_password(user, password, sizeof(password)) != 0)
        return EXIT_CONN;
    rc = cli_open_client(cli, OPEN_ONCE);
    if (rc != 0) {
        wipe(password, sizeof(password));
        return rc;
    }
    if (send_login(cli, user, password, &r, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.text);
        return EXIT_CONN;
    }
    rc = r.status >= 200 && r.status < 300 ? EXIT_OK : EXIT_STATUS;
    if (rc == EXIT_OK && cli->o.field != NULL)
        rc = print_field(&r, cli->o.field);
    else if (rc == EXIT_OK)
        print_json(stdout, cli->o.raw ? r.message : r.data, isatty(1) != 0);
    else
        print_error_reply(&r);
    wsr_client_reply_dispose(&r);
    return rc;
}

/* One shot: the reply call_and_wait kept, as a reply (owning the message). */
static wsr_client_reply_t kept_reply(cli_t *cli)
{
    wsr_client_reply_t r;

    memset(&r, 0, sizeof(r));
    r.message = cli->reply;
    cli->reply = NULL;
    r.status = (int)json_integer_value(json_object_get(r.message, "status"));
    r.data = json_object_get(r.message, "data");
    r.detail = json_string_value(json_object_get(r.message, "detail"));
    r.errors = json_object_get(r.message, "errors");
    return r;
}

static int one_shot(cli_t *cli, int argc, char **argv)
{
    wsr_client_request_t req;
    wsr_client_reply_t r = {0};
    json_t *data = NULL;
    int rc, i = 2;

    wsr_client_request_init(&req);
    if (strcmp(argv[0], "login") == 0 && argc == 2)
        return one_shot_login(cli, argv[1]);
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
    rc = cli_open_client(cli, OPEN_ONCE);
    if (rc == 0) {
        /* Progress is printed as it comes; Ctrl-C cancels the call. */
        cli->one_shot = true;
        cli_call_and_wait(cli, &req);
        r = kept_reply(cli);
    }
    if (rc == 0 && r.message == NULL) {
        fprintf(stderr, PROG ": %s\n", cli->reply_text);
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
        /* The status, then each thing once: a parameter error the detail
         * already tells ("invalid parameter y: is required") is not repeated. */
        printf("-ERR %d %s", (int)status, detail ? detail : "error");
        json_object_foreach(json_object_get(msg, "errors"), key, v)
        {
            const char *why = json_is_string(v) ? json_string_value(v) : "?";
            char said[256];

            snprintf(said, sizeof(said), "%s: %s", key, why);
            if (detail == NULL || strstr(detail, said) == NULL)
                printf(" (%s)", said);
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

/* Prints one event other than a reply to the current call. */
static void print_event(cli_t *cli, event_t *e)
{
    const char *detail = json_string_value(json_object_get(e->msg, "detail"));
    json_int_t status = json_integer_value(json_object_get(e->msg, "status"));

    if (e->kind == EV_PUSH) {
        print_push(e->msg);
    } else if (e->kind == EV_PROGRESS && cli->cancelling) {
        /* Sent before the server saw the cancel: after "-- cancelling" only its 499 is shown. */
    } else if (e->kind == EV_PROGRESS && cli->one_shot) {
        /* One line each, as the data is printed, so that a script reads them as they come. */
        print_json(stdout, cli->o.raw ? e->msg : json_object_get(e->msg, "progress"), false);
    } else if (e->kind == EV_PROGRESS) {
        printf("[progress] ");
        print_json(stdout, json_object_get(e->msg, "progress"), false);
    } else if (e->kind == EV_INPUT) {
        fprintf(cli->one_shot ? stderr : stdout, "-- input refused: %d %s\n", (int)status,
                detail ? detail : "(no detail)");
    } else if (e->kind == EV_STATE && e->rc == (int)WSR_CLIENT_OPEN) {
        /* The client subscribes to the session's topics again by itself. */
        if (!cli->online)
            printf("-- reconnected to %s\n", cli->o.url);
        cli->online = true;
    } else if (e->kind == EV_STATE) {
        /* Once: the attempts that fail after it are not told (the prompt says it). */
        if (cli->online)
            printf("-- %s\n", e->text ? e->text : "");
        cli->online = false;
    } else if (e->rc >= 0) { /* EV_RESUB */
        printf("-- resubscribed %s (%s)\n", e->text, e->rc ? "recovered" : "not recovered: reload");
    } else {
        printf("-- could not re-subscribe to %s\n", e->text);
    }
}

event_t *cli_take_events(cli_t *cli)
{
    char buf[256];
    event_t *e;

    while (read(cli->wake[0], buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&cli->lock);
    e = cli->head;
    cli->head = cli->tail = NULL;
    pthread_mutex_unlock(&cli->lock);
    return e;
}

void cli_free_events(event_t *e)
{
    event_t *next;

    for (; e != NULL; e = next) {
        next = e->next;
        json_decref(e->msg);
        wsr_free(e->text);
        wsr_free(e);
    }
}

const char *cli_prompt(const cli_t *cli)
{
    return cli->online ? PROMPT : OFFLINE_PROMPT;
}

/* Prints every queued event; a reply ends the current wait. */
void cli_drain_events(cli_t *cli)
{
    event_t *e = cli_take_events(cli);
    /* The prompt is drawn again below what is printed: the session's (not
     * while a line is handled), or a running call's input prompt. */
    bool redraw = cli->tty && (cli->editing || (!cli->waiting && !cli->handling));

    if (e == NULL)
        return;
    if (redraw)
        fputs("\r\033[K", stdout); /* the prompt's line: print over it, then redraw */
    while (e != NULL) {
        event_t *next = e->next;

        if (e->kind == EV_REPLY && cli->one_shot) {
            cli->reply_rc = e->rc;
            snprintf(cli->reply_text, sizeof(cli->reply_text), "%s", e->text ? e->text : "");
            cli->reply = e->msg; /* taken */
            e->msg = NULL;
            cli->waiting = false;
        } else if (e->kind == EV_REPLY) {
            cli->last_status = print_line_reply(e->rc, e->msg, e->text);
            cli->waiting = false;
        } else if (e->kind == EV_PUSH && cli->one_shot) {
            /* A one-shot request prints its own reply and progress only. */
        } else {
            print_event(cli, e);
        }
        json_decref(e->msg);
        wsr_free(e->text);
        wsr_free(e);
        e = next;
    }
    fflush(stdout);
    if (redraw && !cli->editing)
        (void)rl_set_prompt(cli_prompt(cli)); /* "not connected> " or back */
    if (redraw)
        rl_forced_update_display();
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

/* True when the command answers a method that carries a body (POST...). */
static bool takes_body(json_t *cmd)
{
    json_t *m;
    size_t i;

    json_array_foreach(json_object_get(cmd, "methods"), i, m)
    {
        const char *name = json_string_value(m);

        if (name != NULL &&
            (strcmp(name, "POST") == 0 || strcmp(name, "PUT") == 0 || strcmp(name, "PATCH") == 0))
            return true;
    }
    return false;
}

/* The words from `words[0]` on, joined by single spaces, as the body: JSON
 * when it parses, else a string (`publish chat hello world`). */
static json_t *body_of(char **words, int n)
{
    size_t len = 0;
    char *text;
    json_t *v;

    for (int i = 0; i < n; i++)
        len += strlen(words[i]) + 1;
    text = wsr_malloc(len + 1);
    if (text == NULL)
        return NULL;
    text[0] = '\0';
    for (int i = 0, at = 0; i < n; i++)
        at += snprintf(text + at, len + 1 - (size_t)at, "%s%s", i ? " " : "", words[i]);
    v = cli_json_or_string(text);
    wsr_free(text);
    return v;
}

/* Maps positional words onto the command's declared parameters, in order;
 * for a command that takes a body, the words after them are its data. */
static int fill_args(json_t *args, json_t **data, json_t *cmd, char **words, int n)
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
        if (p == NULL && takes_body(cmd)) {
            *data = body_of(words + i, n - i);
            return *data != NULL ? 0 : -1;
        }
        if (p == NULL) {
            printf("-ERR too many arguments: %s takes %zu\n",
                   json_string_value(json_object_get(cmd, "name")), json_array_size(params));
            return -1;
        }
        type = json_string_value(json_object_get(p, "type"));
        json_object_set_new(args, json_string_value(json_object_get(p, "name")),
                            type && strcmp(type, "string") == 0 ? json_string(words[i])
                                                                : cli_json_or_string(words[i]));
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
    cli_call_and_wait(cli, &req);
    json_decref(data);
}

/* `login USER` in a session: on a terminal the password is asked for now;
 * without one, the next line is the password. */
static void begin_login(cli_t *cli, const char *user)
{
    char password[PASSWORD_MAX_BYTES + 1];

    if (strlen(user) >= sizeof(cli->login_user)) {
        printf("-ERR the user name is too long\n");
        return;
    }
    if (!cli->tty) {
        snprintf(cli->login_user, sizeof(cli->login_user), "%s", user);
        return;
    }
    fflush(stdout);
    if (read_password(user, password, sizeof(password)) == 0)
        (void)session_login(cli, user, password);
    else
        cli->interrupts_seen = cli_interrupt_count(); /* a Ctrl-C there gave up the login */
    wipe(password, sizeof(password));
}

/* Fetches the server's command list (help, Tab) once there is a connection. */
static void load_commands(cli_t *cli)
{
    wsr_client_reply_t r;
    wsr_error_t err;

    if (cli->commands != NULL)
        return;
    if (wsr_client_execute(cli->c, "commands", NULL, &r, &err) == 0 && json_is_array(r.data))
        cli->commands = json_incref(r.data);
    wsr_client_reply_dispose(&r);
    if (cli->tty)
        cli_completion_install(cli->commands);
}

/*
 * Before a command: when the connection is down, one attempt now rather
 * than at the client's next retry (they wait longer and longer). Its one
 * line "-- reconnected to URL" comes before the command's answer; a failure
 * is one -ERR line, and the prompt stays "not connected> ".
 */
static bool ensure_connected(cli_t *cli)
{
    wsr_error_t err;

    if (wsr_client_state(cli->c) == WSR_CLIENT_OPEN)
        return true;
    if (wsr_client_connect(cli->c, &err) != 0) {
        cli_drain_events(cli); /* the drop's own line first, when it is still queued */
        printf("-ERR not connected: %s\n", err.text);
        return false;
    }
    /* The service thread tells of the connection just after it opened: at
     * most a second for its line. */
    for (int i = 0; i < 100 && !cli->online; i++) {
        struct pollfd p = {cli->wake[0], POLLIN, 0};

        (void)poll(&p, 1, 10);
        cli_drain_events(cli);
    }
    load_commands(cli);
    return true;
}

static void handle_line(cli_t *cli, char *line)
{
    char *words[64];
    int n;
    wsr_client_request_t req;
    json_t *args;

    if (cli->login_user[0] != '\0') {
        /* Without a terminal, the line after `login USER` is the password, as it is. */
        if (ensure_connected(cli))
            (void)session_login(cli, cli->login_user, line);
        wipe(line, strlen(line));
        cli->login_user[0] = '\0';
        return;
    }
    line += strspn(line, " \t");
    if (*line == '\0')
        return;
    if (cli->tty)
        cli_history_add(line);
    if (is_method_line(line)) {
        if (ensure_connected(cli))
            method_line(cli, line);
        return;
    }
    if (*line == '>') {
        printf("-ERR no call is running: a line '> VALUE' sends input to the call in flight\n");
        return;
    }
    n = split_words(line, words, 64);
    if (strcmp(words[0], "quit") == 0 || strcmp(words[0], "exit") == 0) {
        cli->quit = true;
        return;
    }
    if (strcmp(words[0], "help") == 0) {
        if (cli->commands != NULL || ensure_connected(cli))
            print_help(cli, n > 1 ? words[1] : NULL);
        return;
    }
    if (!ensure_connected(cli))
        return;
    if (strcmp(words[0], "login") == 0 && n == 2) {
        begin_login(cli, words[1]);
        return;
    }
    args = json_object();
    wsr_client_request_init(&req);
    req.cmd = words[0];
    req.args = args;
    if (fill_args(args, &req.data, find_command(cli, words[0]), words + 1, n - 1) == 0) {
        /* Through the client's own calls, which remember the topic: it then
         * resumes by itself after a reconnection (docs/protocol.md section 5.2). */
        cli->topic = strcmp(words[0], "subscribe") == 0 || strcmp(words[0], "unsubscribe") == 0
                         ? json_string_value(json_object_get(args, "topic"))
                         : NULL;
        cli_call_and_wait(cli, &req);
        cli->topic = NULL;
        /* The token is revoked: the session forgets it too. */
        if (cli->last_status >= 200 && cli->last_status < 300 && strcmp(words[0], "logout") == 0 &&
            cli->o.token_file == NULL && wsr_client_set_token(cli->c, NULL) != 0)
            printf("-- the token could not be forgotten\n");
    }
    json_decref(req.data);
    json_decref(args);
}

static void on_line(char *line)
{
    if (line == NULL) {
        the_cli->quit = true; /* EOF */
        printf("\n");
    } else {
        the_cli->handling = true;
        handle_line(the_cli, line);
        the_cli->handling = false;
    }
    fflush(stdout);
    free(line); /* libedit's, from its allocator */
    /* libedit 3.1 leaves line-at-a-time mode after a line; this turns it back
     * on (raw terminal, one character per call) and draws the next prompt. */
    if (!the_cli->quit)
        rl_callback_handler_install(cli_prompt(the_cli), on_line);
}

void cli_clear_line(cli_t *cli)
{
    /* The line typed stays on the screen, marked, as bash and redis-cli leave it. */
    fputs("^C\n", stdout);
    fflush(stdout);
    /* Installing the handler again empties libedit's line and draws the prompt. */
    rl_callback_handler_remove();
    rl_callback_handler_install(cli_prompt(cli), on_line);
}

/* Without a terminal: reads what is there and handles each complete line
 * (cli_take_line refuses the long ones); at the end, the last one without its
 * newline. A call meanwhile may read on (its input lines). */
static void read_lines(cli_t *cli)
{
    char line[LINE_MAX_BYTES + 2];

    if (!cli->in_eof)
        cli_fill_input(cli);
    while (!cli->quit && cli_take_line(cli, line)) {
        handle_line(cli, line);
        fflush(stdout);
    }
    if (cli->in_eof && !cli->quit) {
        if (cli->in_len > 0 && !cli->discarding) {
            memcpy(line, cli->in, cli->in_len + 1);
            cli->in_len = 0;
            handle_line(cli, line);
        }
        cli->quit = true;
    }
}

static int interactive(cli_t *cli)
{
    cli->tty = isatty(0) && isatty(1);
    /* On a terminal a server not reachable yet is no end: "not connected> ". */
    if (cli_open_client(cli, OPEN_SESSION) != 0)
        return EXIT_CONN;
    if (cli->online)
        load_commands(cli);
    the_cli = cli;
    if (cli->tty) {
        if (cli->online)
            printf("connected to %s; help lists the commands, quit leaves\n", cli->o.url);
        cli_history_open();
        cli_completion_install(cli->commands);
        rl_callback_handler_install(cli_prompt(cli), on_line);
    }
    while (!cli->quit) {
        struct pollfd p[2] = {{0, POLLIN, 0}, {cli->wake[0], POLLIN, 0}};

        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            break;
        cli_on_interrupts(cli); /* at the prompt: the end, as always */
        if (p[1].revents & POLLIN)
            cli_drain_events(cli);
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
    cli_free_events(cli->head);
    cli->head = cli->tail = NULL;
}

/* ---- main ---- */

static const struct option long_options[] = {
    {"url", required_argument, NULL, 'u'},
    {"data", required_argument, NULL, 'd'},
    {"field", required_argument, NULL, 'f'},
    {"arg", required_argument, NULL, 'a'},
    {"raw", no_argument, NULL, 'R'},
    {"base64", no_argument, NULL, 'B'},
    {"binary", no_argument, NULL, 'Y'},
    {"token", required_argument, NULL, 'T'},
    {"token-file", required_argument, NULL, 'F'},
    {"timeout", required_argument, NULL, 't'},
    {"count", required_argument, NULL, 'n'},
    {"cacert", required_argument, NULL, 'C'},
    {"cert", required_argument, NULL, 'E'},
    {"key", required_argument, NULL, 'K'},
    {"insecure", no_argument, NULL, 'I'},
    {"compress", no_argument, NULL, 'Z'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Options that store their argument, or set a flag, by offset (STYLE F2). */
static const struct {
    int ch;
    size_t offset;
    bool flag;
} simple_options[] = {
    {'u', offsetof(options_t, url), false},        {'d', offsetof(options_t, data), false},
    {'f', offsetof(options_t, field), false},      {'T', offsetof(options_t, token), false},
    {'F', offsetof(options_t, token_file), false}, {'C', offsetof(options_t, cacert), false},
    {'E', offsetof(options_t, cert), false},       {'K', offsetof(options_t, key), false},
    {'R', offsetof(options_t, raw), true},         {'I', offsetof(options_t, insecure), true},
    {'v', offsetof(options_t, verbose), true},     {'Z', offsetof(options_t, compress), true},
};

/* Applies one option. Returns 0, 1 to exit 0 (help, version), or -1 on a usage error. */
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
    if (ch == 'n') {
        long long n = strtoll(arg, &end, 10);

        if (end == arg || *end != '\0' || n < 1 || n > 1000000000) {
            fprintf(stderr,
                    PROG ": --count needs a whole number of publications, from 1 to "
                         "1000000000 (got \"%s\")\n",
                    arg);
            return -1;
        }
        o->count = (long)n;
        return 0;
    }
    if (ch == 'V') {
        printf(PROG " %s (protocol v%d)\n", WSR_VERSION, WSR_PROTOCOL_VERSION);
        return 1;
    }
    if (ch == 'h') {
        usage(stdout);
        return 1;
    }
    if (ch == ':')
        fprintf(stderr, PROG ": option '%s' needs a value\n", arg);
    else
        fprintf(stderr, PROG ": unknown option '%s'\n", arg);
    fprintf(stderr, "Try '" PROG " --help' for the options.\n");
    return -1;
}

static int field_without_request(void)
{
    fprintf(stderr, PROG ": --field needs a request on the command line\n");
    return EXIT_CONN;
}

static int count_without_subscribe(void)
{
    fprintf(stderr, PROG ": --count goes with subscribe TOPIC...\n");
    return EXIT_CONN;
}

int main(int argc, char **argv)
{
    cli_t cli;
    int ch, rc = 0;

    memset(&cli, 0, sizeof(cli));
    cli.o.url = getenv("WSROUTER_URL") != NULL && getenv("WSROUTER_URL")[0] != '\0'
                    ? getenv("WSROUTER_URL")
                    : DEFAULT_URL;
    cli.o.timeout_ms = 30000;
    cli.o.args = json_object();
    pthread_mutex_init(&cli.lock, NULL);
    signal(SIGPIPE, SIG_IGN);
    opterr = 0; /* what it refuses is said below, in one line */
    while (rc == 0 && (ch = getopt_long(argc, argv, ":u:d:a:f:t:n:vh", long_options, NULL)) != -1)
        rc = apply_option(&cli.o, ch, ch == '?' || ch == ':' ? argv[optind - 1] : optarg);
    if (rc == 0 && cli.o.token != NULL && cli.o.token_file != NULL) {
        fprintf(stderr, PROG ": --token and --token-file cannot be used together\n");
        rc = -1;
    } else if (rc == 0 && cli.o.token_file != NULL &&
               read_token_file(cli.o.token_file, cli.token_buf, sizeof(cli.token_buf), true) != 0) {
        rc = -1;
    }
    if (rc == 0) {
        lws_set_log_level(cli.o.verbose ? LLL_ERR | LLL_WARN | LLL_NOTICE : 0, lws_log);
        if (pipe(cli.wake) != 0) {
            perror(PROG ": pipe");
            rc = EXIT_CONN;
        } else {
            (void)set_nonblock(cli.wake[0]);
            (void)set_nonblock(cli.wake[1]);
            cli_catch_interrupts(cli.wake[1]);
            bool follow = optind < argc && strcmp(argv[optind], "subscribe") == 0;

            rc = follow                ? cli_follow(&cli, argc - optind, argv + optind)
                 : cli.o.count != 0    ? count_without_subscribe()
                 : optind < argc       ? one_shot(&cli, argc - optind, argv + optind)
                 : cli.o.field != NULL ? field_without_request()
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
    json_decref(cli.reply);
    json_decref(cli.o.args);
    return rc;
}
