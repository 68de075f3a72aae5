/* SPDX-License-Identifier: MIT */
/*
 * Internals of wsrouter-cli shared by its files: the options, the events the
 * client's service thread hands to the main thread, and the session's state;
 * cli.c is the program (argv, one shot, the session's commands), cli_call.c
 * runs one call at a time (its progress, its input lines, Ctrl-C). Nothing
 * here is API.
 */
#ifndef WSR_SRC_PROGRAMS_CLI_INT_H
#define WSR_SRC_PROGRAMS_CLI_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsrouter/wsrouter.h"

#define PROG   "wsrouter-cli"
#define PROMPT "wsrouter> "
/* The prompt while the session is not connected (as redis-cli's). */
#define OFFLINE_PROMPT "not connected> "
#define DEFAULT_URL    "ws://127.0.0.1:8080/"
#define EXIT_OK        0
#define EXIT_STATUS    1
#define EXIT_CONN      2
/* The longest line read without a terminal, its newline not counted. */
#define LINE_MAX_BYTES 8191
/* The longest token read from --token-file, and the longest password. */
#define TOKEN_MAX_BYTES    16384
#define PASSWORD_MAX_BYTES 1024

typedef struct options {
    const char *url;
    const char *data;  /* -d JSON text, or NULL */
    const char *field; /* -f: print this member of the reply's data, or NULL */
    json_t *args;      /* owned: -a KEY=VALUE */
    bool raw;
    wsr_client_encoding_t encoding;
    const char *token;
    const char *token_file; /* --token-file, or NULL */
    int timeout_ms;
    const char *cacert, *cert, *key;
    bool insecure;
    bool compress;
    bool verbose;
    long count; /* subscribe --count N: stop after N publications; 0: until Ctrl-C */
} options_t;

/* Something the service thread hands to the main thread to print. */
typedef struct event {
    struct event *next;
    int kind;    /* EV_* */
    int rc;      /* EV_REPLY: 0 or the call's failure */
    json_t *msg; /* owned: the reply or the push, or NULL */
    char *text;  /* owned (wsr_free): a failure or state sentence, or NULL */
} event_t;

enum { EV_PUSH, EV_REPLY, EV_STATE, EV_RESUB, EV_PROGRESS, EV_INPUT };

typedef struct cli {
    options_t o;
    wsr_client_t *c;
    json_t *commands; /* owned: the server's /_/commands list, or NULL */
    bool tty;         /* stdin and stdout are terminals: libedit, a prompt */
    bool waiting;     /* a call is in flight; its reply ends the wait */
    bool one_shot;    /* a request from the command line: its reply is kept, not printed */
    uint64_t call_id; /* the call in flight while waiting */
    bool cancelling;  /* Ctrl-C asked the server to cancel it */
    bool editing;     /* on a terminal: the call's input prompt is drawn */
    unsigned long interrupts_seen; /* the Ctrl-Cs handled so far */
    json_t *reply;                 /* owned: one shot, the reply once it came, or NULL */
    int reply_rc;                  /* one shot: 0, or the call's failure */
    char reply_text[320];          /* one shot: the failure's sentence */
    int last_status;               /* the status of the last reply printed, 0 for a failure */
    const char *topic; /* borrowed: the topic of the subscribe or unsubscribe being sent, or NULL */
    bool quit;
    bool online;   /* main thread: connected, as the state events last said (the prompt) */
    bool handling; /* main thread, on a terminal: a line is being handled, no prompt drawn */
    bool dropped;  /* service thread only: the connection dropped since it opened */
    pthread_mutex_t lock;
    event_t *head, *tail;        /* guarded by lock */
    int wake[2];                 /* the service thread writes a byte per event */
    char in[LINE_MAX_BYTES + 2]; /* input without libedit: a partial line, its newline, a NUL */
    size_t in_len;
    bool discarding;                     /* skipping the rest of a line that was too long */
    bool in_eof;                         /* standard input has ended */
    char login_user[128];                /* without a terminal: the next line is its password */
    char token_buf[TOKEN_MAX_BYTES + 1]; /* --token-file's token (service thread after start) */
} cli_t;

/* How cli_open_client connects. */
enum { OPEN_ONCE, OPEN_SESSION, OPEN_FOLLOW };

/* ---- cli.c ---- */

/* Creates and connects the client (`mode`: OPEN_*). Returns 0, or EXIT_CONN
 * after saying why on stderr; a session on a terminal starts anyway, not
 * connected (cli->online false), after one line saying why. */
int cli_open_client(cli_t *cli, int mode);
/* Takes every queued event (a list the caller frees with cli_free_events). */
event_t *cli_take_events(cli_t *cli);
void cli_free_events(event_t *e);
/* The session's prompt now: PROMPT, or OFFLINE_PROMPT when not connected. */
const char *cli_prompt(const cli_t *cli);
/* Ctrl-C at the session's prompt on a terminal: the line typed is dropped
 * and a fresh prompt drawn, as in bash and redis-cli. */
void cli_clear_line(cli_t *cli);

/* Queues an event for the main thread (any thread); takes `msg`, copies `text`. */
void cli_queue_event(cli_t *cli, int kind, int rc, json_t *msg, const char *text);
/* Prints every queued event; a reply ends the current wait. Main thread. */
void cli_drain_events(cli_t *cli);
/* The reply callback of the call in flight (service thread). */
void cli_on_reply(void *user, int rc, wsr_client_reply_t *reply, const char *error);
/* Parses `text` as JSON (any value), or takes it as a string. Returns a new value. */
json_t *cli_json_or_string(const char *text);

/* ---- cli_call.c (main thread, unless a comment says otherwise) ---- */

/* Catches SIGINT from now on: a press writes a byte to `wake_fd`. */
void cli_catch_interrupts(int wake_fd);
/* The Ctrl-Cs pressed so far (any thread). */
unsigned long cli_interrupt_count(void);
/* Handles the Ctrl-Cs pressed since the last look: during a call the first
 * cancels it; at a terminal's prompt each clears the line; any other ends
 * the program as SIGINT always did. */
void cli_on_interrupts(cli_t *cli);
/* Sends `req` and prints what arrives (progress on the way) until its reply;
 * one shot, the reply is kept in cli->reply instead. */
void cli_call_and_wait(cli_t *cli, const wsr_client_request_t *req);
/* Reads what standard input has into cli->in; at its end sets in_eof. */
void cli_fill_input(cli_t *cli);
/*
 * Takes the first complete line out of cli->in into `line` (LINE_MAX_BYTES +
 * 2 bytes), its newline dropped. Returns false when there is none. A line
 * longer than LINE_MAX_BYTES is refused with one -ERR and skipped up to its
 * newline, so that no part of it runs as a command of its own.
 */
bool cli_take_line(cli_t *cli, char *line);

/* ---- cli_follow.c ---- */

/* `subscribe TOPIC...` on the command line (argv[0] is "subscribe"): prints
 * each publication as a JSON line until Ctrl-C or --count. Returns the exit status. */
int cli_follow(cli_t *cli, int argc, char **argv);

/* ---- cli_edit.c (main thread, on a terminal) ---- */

/* Loads the history kept across sessions (its directories made). */
void cli_history_open(void);
/* Adds `line` to the history and writes the history file. */
void cli_history_add(const char *line);
/* Tab completes command names: `commands` (borrowed, kept; may be NULL) is
 * the server's /_/commands list. */
void cli_completion_install(const json_t *commands);

#endif /* WSR_SRC_PROGRAMS_CLI_INT_H */
