/* SPDX-License-Identifier: MIT */
/*
 * wsrouter-cli's line editing on a terminal (libedit): the history, kept
 * across sessions in $XDG_STATE_HOME/wsrouter/history (else
 * ~/.local/state/wsrouter/history, the XDG default; the directories made
 * 0700), and Tab completion of the command names the server lists in
 * /_/commands, with the session's own words.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <editline/readline.h>

#include "cli_int.h"

#define HISTORY_MAX 1000

static char history_path[PATH_MAX];       /* "" when there is none */
static const json_t *completion_commands; /* borrowed: the session's cli->commands */

/* The words a session knows itself, besides the server's commands. */
static const char *const own_words[] = {"help", "quit", "login", "logout"};

/* Writes the history file's path; false when there is no home to put it in. */
static bool history_file(char *out, size_t size)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;

    if (xdg != NULL && xdg[0] == '/') /* relative values are ignored, as XDG says */
        n = snprintf(out, size, "%s/wsrouter/history", xdg);
    else if (home != NULL && home[0] == '/')
        n = snprintf(out, size, "%s/.local/state/wsrouter/history", home);
    else
        return false;
    return n > 0 && (size_t)n < size;
}

/* Makes the directories above the file `path` (mode 0700). */
static bool make_dirs(const char *path)
{
    char dir[PATH_MAX];
    size_t n = strlen(path);

    if (n >= sizeof(dir))
        return false;
    memcpy(dir, path, n + 1);
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    return true;
}

void cli_history_open(void)
{
    using_history();
    stifle_history(HISTORY_MAX);
    if (!history_file(history_path, sizeof(history_path)) || !make_dirs(history_path)) {
        history_path[0] = '\0';
        return;
    }
    (void)read_history(history_path); /* none yet is no error */
}

/* Whether `line` may carry a secret, kept out of the history: a token given
 * to `session`, a user's password to `user_create`, or any line naming a
 * password or a token (a method line's body). `login USER` asks for the
 * password apart and is kept. */
static bool secret_line(const char *line)
{
    static const char *const words[] = {"session", "user_create", "authenticate"};
    size_t n = strcspn(line, " \t");

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (n == strlen(words[i]) && strncmp(line, words[i], n) == 0)
            return true;
    for (const char *p = line; *p != '\0'; p++)
        if (strncasecmp(p, "password", 8) == 0 || strncasecmp(p, "token", 5) == 0 ||
            strncasecmp(p, "secret", 6) == 0)
            return true;
    return false;
}

void cli_history_add(const char *line)
{
    if (secret_line(line))
        return;
    add_history(line);
    /* Written at once: a session that is killed keeps what it typed. */
    if (history_path[0] != '\0' &&
        (write_history(history_path) != 0 || chmod(history_path, 0600) != 0)) {
        fprintf(stderr, "-- the history cannot be written to %s; it is kept no more\n",
                history_path);
        history_path[0] = '\0';
    }
}

/* libedit's generator: the next name that begins with `text` (malloc'd). */
static char *next_command(const char *text, int state)
{
    static size_t i;
    size_t n = strlen(text), nown = sizeof(own_words) / sizeof(own_words[0]);

    if (state == 0)
        i = 0;
    while (i < nown + json_array_size(completion_commands)) {
        const char *name = i < nown ? own_words[i]
                                    : json_string_value(json_object_get(
                                          json_array_get(completion_commands, i - nown), "name"));

        i++;
        if (name != NULL && strncmp(name, text, n) == 0)
            return strdup(name); /* libedit frees it with free() */
    }
    return NULL;
}

/* Completes the first word only: a command's name. */
static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* never file names */
    return start == 0 ? rl_completion_matches(text, next_command) : NULL;
}

void cli_completion_install(const json_t *commands)
{
    completion_commands = commands;
    rl_attempted_completion_function = complete;
}
