/* SPDX-License-Identifier: MIT */
/*
 * `wsrouter-cli subscribe TOPIC...`: follows publications for a script. Each
 * publication on one of the topics is printed as it came, one compact JSON
 * object per line on stdout, flushed at once; what happens to the
 * connection goes to stderr ("-- ..." lines). The client reconnects by
 * itself after a drop and subscribes again, resuming after the last
 * publication printed. Ctrl-C (SIGINT) unsubscribes, closes and exits 0;
 * --count N does the same after N lines. A topic the server refuses is one
 * line on stderr and exit 1; a server that cannot be reached, exit 2.
 */
#include "cli_int.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct follow {
    cli_t *cli;
    char **topics; /* borrowed: argv */
    int ntopics;
    long printed;  /* publications printed */
    bool online;   /* as the state events last said */
    bool finished; /* --count reached, or stdout gone */
    int rc;        /* the exit status once finished */
} follow_t;

/* True when `topic` is one of the topics followed. */
static bool followed(const follow_t *f, const char *topic)
{
    for (int i = 0; i < f->ntopics; i++)
        if (strcmp(f->topics[i], topic) == 0)
            return true;
    return false;
}

/* Prints one publication as a line; stops at --count or when stdout is gone. */
static void print_publication(follow_t *f, const json_t *msg)
{
    size_t n;
    char *text = wsr_json_dumps(msg, &n);

    if (text != NULL) {
        fwrite(text, 1, n, stdout);
        fputc('\n', stdout);
        wsr_free(text);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, PROG ": standard output was closed; unsubscribing\n");
        f->finished = true;
        f->rc = EXIT_STATUS;
        return;
    }
    f->printed++;
    if (f->cli->o.count > 0 && f->printed >= f->cli->o.count)
        f->finished = true;
}

/* Handles one event: a publication, or a word about the connection (stderr). */
static void on_event(follow_t *f, const event_t *e)
{
    const char *topic = json_string_value(json_object_get(e->msg, "topic"));

    if (e->kind == EV_PUSH && topic != NULL && followed(f, topic) && !f->finished) {
        print_publication(f, e->msg);
    } else if (e->kind == EV_STATE && e->rc == (int)WSR_CLIENT_OPEN) {
        if (!f->online)
            fprintf(stderr, "-- reconnected to %s\n", f->cli->o.url);
        f->online = true;
    } else if (e->kind == EV_STATE) {
        /* Once per drop: the failed attempts after it are not told. */
        if (f->online)
            fprintf(stderr, "-- %s (reconnecting)\n", e->text ? e->text : "");
        f->online = false;
    } else if (e->kind == EV_RESUB && e->rc >= 0) {
        fprintf(stderr, "-- resubscribed %s (%s)\n", e->text,
                e->rc ? "recovered" : "not recovered: publications were missed");
    } else if (e->kind == EV_RESUB) {
        fprintf(stderr, "-- could not re-subscribe to %s\n", e->text);
    }
}

/* Subscribes to every topic. Returns 0, or the exit status after one line. */
static int subscribe_all(follow_t *f)
{
    for (int i = 0; i < f->ntopics; i++) {
        wsr_client_reply_t r;
        wsr_error_t err;
        int status;

        if (wsr_client_subscribe(f->cli->c, f->topics[i], &r, &err) != 0) {
            fprintf(stderr, PROG ": subscribe %s: %s\n", f->topics[i], err.text);
            return EXIT_CONN;
        }
        status = r.status;
        if (status < 200 || status >= 300)
            fprintf(stderr, PROG ": subscribe %s: %d %s\n", f->topics[i], status,
                    r.detail ? r.detail : "refused");
        wsr_client_reply_dispose(&r);
        if (status < 200 || status >= 300)
            return EXIT_STATUS;
    }
    return 0;
}

/* Checks the command line. Returns 0, or EXIT_CONN after one line. */
static int check_arguments(const cli_t *cli, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, PROG ": subscribe needs at least one topic (subscribe TOPIC...)\n");
        return EXIT_CONN;
    }
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '\0') {
            fprintf(stderr, PROG ": subscribe: a topic cannot be empty\n");
            return EXIT_CONN;
        }
    if (cli->o.data != NULL || cli->o.field != NULL || json_object_size(cli->o.args) != 0 ||
        cli->o.raw) {
        fprintf(stderr, PROG ": subscribe takes no --data, --arg, --field or --raw\n");
        return EXIT_CONN;
    }
    return 0;
}

int cli_follow(cli_t *cli, int argc, char **argv)
{
    follow_t f = {cli, argv + 1, argc - 1, 0, true, false, EXIT_OK};
    unsigned long interrupts = cli_interrupt_count();
    int rc = check_arguments(cli, argc, argv);

    if (rc != 0)
        return rc;
    rc = cli_open_client(cli, OPEN_FOLLOW);
    if (rc == 0)
        rc = subscribe_all(&f);
    if (rc != 0)
        return rc; /* main() closes the client */
    while (!f.finished && cli_interrupt_count() == interrupts) {
        struct pollfd p = {cli->wake[0], POLLIN, 0};
        event_t *events, *e;

        (void)poll(&p, 1, 1000); /* a Ctrl-C writes to the same pipe */
        events = cli_take_events(cli);
        for (e = events; e != NULL; e = e->next)
            on_event(&f, e);
        cli_free_events(events);
    }
    /* A second Ctrl-C from here on ends the program at once. */
    signal(SIGINT, SIG_DFL);
    for (int i = 0; i < f.ntopics && wsr_client_state(cli->c) == WSR_CLIENT_OPEN; i++) {
        wsr_client_reply_t r;

        if (wsr_client_unsubscribe(cli->c, f.topics[i], &r, NULL) == 0)
            wsr_client_reply_dispose(&r);
    }
    return f.rc;
}
