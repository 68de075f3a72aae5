/* SPDX-License-Identifier: MIT */
/*
 * wsrouter-cli's call in flight (see cli_int.h): its progress printed as it
 * comes, lines sent to it as input while it runs ("> VALUE" without a
 * terminal; on one, every line typed at its "> " prompt), and Ctrl-C, which cancels it on the
 * server rather than ending the session; a second Ctrl-C ends the program as SIGINT always did.
 * At a terminal's prompt Ctrl-C clears the line being typed; without a terminal it ends the
 * program. The signal handler only counts and wakes the main
 * thread, which does the rest.
 */
#include "cli_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

/* The prompt of a call's input on a terminal. */
#define CALL_PROMPT "> "

/* Ctrl-C presses, counted by the handler (any thread), which wakes the main
 * thread through the event pipe: during a call it cancels the call. */
/* Counted by the handler on whichever thread the signal lands (the
 * client's lws thread as well as this one): a lock-free atomic, safe in a
 * signal handler and race-free for the main thread's reads. */
static atomic_uint interrupts;
static int interrupt_fd = -1;
/* The session waiting for its call on a terminal, for libedit's line
 * callback, which takes no user pointer. */
static cli_t *editing_cli;

/* A progress message of the call in flight (service thread). */
static void on_progress(void *user, uint64_t call_id, json_t *progress, json_t *message)
{
    (void)call_id;
    (void)progress;
    /* A copy of its own: the library keeps the message. */
    cli_queue_event(user, EV_PROGRESS, 0, json_deep_copy(message), NULL);
}

static void on_interrupt(int sig)
{
    char byte = 1;

    (void)sig;
    atomic_fetch_add_explicit(&interrupts, 1, memory_order_relaxed);
    if (write(interrupt_fd, &byte, 1) < 0)
        return; /* the main thread polls with a timeout as well */
}

/* Ends the program as Ctrl-C always did: killed by SIGINT. */
static void die_of_interrupt(cli_t *cli)
{
    fflush(stdout);
    if (cli->tty)
        rl_callback_handler_remove(); /* the terminal as it was */
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
    _exit(130); /* not reached */
}

/* Ctrl-C while a call runs: the first asks the server to cancel it (its 499
 * ends the wait), the next ends the program as it always did. */
void cli_on_interrupts(cli_t *cli)
{
    unsigned long n = (unsigned long)atomic_load_explicit(&interrupts, memory_order_relaxed);
    FILE *out = cli->one_shot ? stderr : stdout;

    if (n == cli->interrupts_seen)
        return;
    if (!cli->waiting && cli->tty && !cli->one_shot) {
        /* At the session's prompt on a terminal: a fresh line, the session goes on. */
        cli->interrupts_seen = n;
        cli_clear_line(cli);
        return;
    }
    if (!cli->waiting || cli->cancelling || n - cli->interrupts_seen > 1)
        die_of_interrupt(cli);
    cli->interrupts_seen = n;
    cli->cancelling = true;
    if (cli->editing)
        fputs("\r\033[K", out); /* over the input prompt, drawn again below */
    if (wsr_client_cancel(cli->c, cli->call_id) == 0)
        fprintf(out, "-- cancelling the call (Ctrl-C again to quit)\n");
    fflush(out);
    if (cli->editing)
        rl_forced_update_display();
}

unsigned long cli_interrupt_count(void)
{
    return (unsigned long)atomic_load_explicit(&interrupts, memory_order_relaxed);
}

void cli_fill_input(cli_t *cli)
{
    ssize_t n = read(0, cli->in + cli->in_len, sizeof(cli->in) - 1 - cli->in_len);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        cli->in_eof = true;
        return;
    }
    cli->in_len += (size_t)n;
    cli->in[cli->in_len] = '\0';
}

bool cli_take_line(cli_t *cli, char *line)
{
    char *nl;

    while ((nl = memchr(cli->in, '\n', cli->in_len)) != NULL) {
        size_t n = (size_t)(nl - cli->in);
        bool skip = cli->discarding;

        cli->discarding = false; /* a long line ends here */
        memcpy(line, cli->in, n);
        line[n] = '\0';
        cli->in_len -= n + 1;
        memmove(cli->in, nl + 1, cli->in_len);
        cli->in[cli->in_len] = '\0';
        if (!skip)
            return true;
    }
    if (cli->in_len > LINE_MAX_BYTES) {
        /* The buffer is full and holds no newline: the line is too long. */
        if (!cli->discarding)
            printf("-ERR line too long (max %d bytes)\n", LINE_MAX_BYTES);
        fflush(stdout);
        cli->discarding = true;
        cli->in_len = 0;
    }
    return false;
}

/* Sends `text` (JSON when it parses, else a string) to the call in flight. */
static void send_input(cli_t *cli, const char *text)
{
    json_t *v = cli_json_or_string(text + strspn(text, " \t"));
    wsr_error_t err;

    if (wsr_client_send_input(cli->c, cli->call_id, v, &err) != 0)
        fprintf(cli->one_shot ? stderr : stdout, "-ERR %s\n", err.text);
    json_decref(v);
}

/* On a terminal, while a call runs: each line typed is its input (a '>'
 * before it is allowed, as without a terminal). Ctrl-D is ignored here. */
static void on_call_line(char *line)
{
    cli_t *cli = editing_cli;

    if (line != NULL && line[strspn(line, " \t")] != '\0')
        send_input(cli, line + (line[0] == '>'));
    fflush(stdout);
    free(line); /* libedit's, from its allocator */
    if (cli->waiting)
        rl_callback_handler_install(CALL_PROMPT, on_call_line);
}

/* Without a terminal, while a call runs: the lines at the head of the input
 * that begin with '>' are its input; the first other line waits for its end. */
static void send_input_lines(cli_t *cli)
{
    char line[LINE_MAX_BYTES + 2];

    while (cli->waiting && !cli->discarding && cli->in_len > 0 && cli->in[0] == '>' &&
           memchr(cli->in, '\n', cli->in_len) != NULL && cli_take_line(cli, line))
        send_input(cli, line + 1);
}

void cli_call_and_wait(cli_t *cli, const wsr_client_request_t *req)
{
    wsr_client_request_t streamed = *req;
    wsr_error_t err;
    /* Standard input is read meanwhile for the call's input: lines "> VALUE"
     * without a terminal, every line on one (libedit, with its own prompt). */
    bool lines = !cli->tty && !cli->one_shot, edit = cli->tty && !cli->one_shot;

    cli->last_status = 0;
    streamed.on_progress = on_progress;
    streamed.progress_user = cli;
    if ((cli->topic == NULL
             ? wsr_client_request_async(cli->c, &streamed, cli_on_reply, cli, &cli->call_id, &err)
         : strcmp(req->cmd, "subscribe") == 0
             ? wsr_client_subscribe_async(cli->c, cli->topic, cli_on_reply, cli, &cli->call_id,
                                          &err)
             : wsr_client_unsubscribe_async(cli->c, cli->topic, cli_on_reply, cli, &cli->call_id,
                                            &err)) != 0) {
        if (cli->one_shot) {
            cli->reply_rc = err.code != 0 ? err.code : WSR_EIO;
            snprintf(cli->reply_text, sizeof(cli->reply_text), "%s", err.text);
        } else {
            printf("-ERR %s\n", err.text);
        }
        return;
    }
    cli->waiting = true;
    cli->cancelling = false;
    if (edit) {
        editing_cli = cli;
        cli->editing = true;
        rl_callback_handler_install(CALL_PROMPT, on_call_line);
        fflush(stdout);
    }
    while (cli->waiting) {
        struct pollfd p[2] = {{cli->wake[0], POLLIN, 0}, {0, POLLIN, 0}};
        bool room = cli->in_len < sizeof(cli->in) - 1;

        if (lines)
            send_input_lines(cli);
        (void)poll(p, edit || (lines && room && !cli->in_eof) ? 2 : 1, 1000);
        if ((p[1].revents & (POLLIN | POLLHUP)) && edit)
            rl_callback_read_char();
        else if (p[1].revents & (POLLIN | POLLHUP))
            cli_fill_input(cli);
        cli_on_interrupts(cli);
        cli_drain_events(cli);
    }
    if (edit) {
        /* The input prompt goes; the session's comes back after this line. */
        rl_callback_handler_remove();
        fputs("\r\033[K", stdout);
        fflush(stdout);
        cli->editing = false;
    }
    cli->cancelling = false;
}

void cli_catch_interrupts(int wake_fd)
{
    struct sigaction sa;

    interrupt_fd = wake_fd;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
}
