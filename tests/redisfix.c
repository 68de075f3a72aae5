/* SPDX-License-Identifier: MIT */
/* The redis-server of the tests (redisfix.h). */
#include "redisfix.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static const char *redis_server(void)
{
    return getenv("REDIS_SERVER") ? getenv("REDIS_SERVER") : "/usr/bin/redis-server";
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* A loopback port nothing listens on now. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* A connection to it on `db`, authenticated; NULL when it does not answer. */
static redisContext *open_ctx(const tu_redis_t *r, int db)
{
    struct timeval tv = {.tv_sec = 2};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    redisReply *rep;

    if (c == NULL || c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
        if (c != NULL)
            redisFree(c);
        return NULL;
    }
    if (r->password[0] != '\0') {
        rep = redisCommand(c, "AUTH %s", r->password);
        freeReplyObject(rep);
    }
    if (db != 0) {
        rep = redisCommand(c, "SELECT %d", db);
        freeReplyObject(rep);
    }
    return c;
}

/* Starts it on r->port; returns true once it answers as the child started
 * here, false when it exited first (the port was taken). */
static bool start_on_port(tu_redis_t *r)
{
    char port[12], log[PATH_MAX];
    pid_t pid;

    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(log, sizeof(log), "%s/redis.log", r->dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (r->password[0] != '\0')
            execl(redis_server(), "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
                  r->dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                  "--requirepass", r->password, (char *)NULL);
        else
            execl(redis_server(), "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
                  r->dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                  (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) { /* 10 s */
        int status;
        redisContext *c;

        if (waitpid(pid, &status, WNOHANG) == pid)
            return false;
        c = open_ctx(r, 0);
        if (c != NULL) {
            redisReply *rep = redisCommand(c, "INFO server");
            char want[40];
            bool ours;

            snprintf(want, sizeof(want), "process_id:%d\r\n", (int)pid);
            ours = rep != NULL && rep->type == REDIS_REPLY_STRING && strstr(rep->str, want);
            freeReplyObject(rep);
            redisFree(c);
            if (ours) {
                r->pid = pid;
                return true;
            }
            if (rep != NULL && rep->type == REDIS_REPLY_STRING) {
                /* Another redis-server has the port: ours will exit. */
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                return false;
            }
        }
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("redis-server did not start on port %d (log in %s)", r->port, log);
    return false;
}

void tu_redis_start(tu_redis_t *r, const char *password)
{
    memset(r, 0, sizeof(*r));
    r->dir = tu_tempdir("wsr-redis");
    snprintf(r->password, sizeof(r->password), "%s", password ? password : "");
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = free_port();
        if (start_on_port(r))
            return;
    }
    fail_msg("redis-server did not start (log in %s)", r->dir);
}

void tu_redis_restart(tu_redis_t *r)
{
    for (int attempt = 0; attempt < 40; attempt++) {
        if (start_on_port(r))
            return;
        sleep_ms(250);
    }
    fail_msg("redis-server did not restart on port %d", r->port);
}

void tu_redis_stop(tu_redis_t *r)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            r->pid = 0;
            return;
        }
        sleep_ms(50);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

void tu_redis_remove(tu_redis_t *r)
{
    tu_redis_stop(r);
    if (r->dir != NULL)
        tu_rmtree(r->dir);
    free(r->dir);
    r->dir = NULL;
}

void tu_redis_url(const tu_redis_t *r, int db, wsr__redis_url_t *url)
{
    memset(url, 0, sizeof(*url));
    snprintf(url->host, sizeof(url->host), "127.0.0.1");
    url->port = r->port;
    url->db = db;
    snprintf(url->password, sizeof(url->password), "%s", r->password);
}

redisReply *tu_redis_cmd(const tu_redis_t *r, int db, const char *fmt, ...)
{
    redisContext *c = open_ctx(r, db);
    redisReply *rep;
    va_list ap;

    assert_non_null(c);
    va_start(ap, fmt);
    rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(rep);
    return rep;
}
