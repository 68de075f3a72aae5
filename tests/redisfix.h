/* SPDX-License-Identifier: MIT */
/*
 * A real redis-server for the tests of the Redis modules (test_redis.c,
 * test_store_redis.c): Debian's redis-server (TEST_PKGS), started by the test
 * on a free loopback port in a temporary directory of its own, checked to be
 * the process started here (INFO's process_id), stopped by its pid. Every
 * wait is bounded.
 */
#ifndef WSR_TESTS_REDISFIX_H
#define WSR_TESTS_REDISFIX_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <sys/types.h>

#include "services/redisurl_int.h"

typedef struct tu_redis {
    pid_t pid;         /* 0 while stopped */
    int port;          /* kept across a restart */
    char *dir;         /* owned: its directory (data, log) */
    char password[64]; /* requirepass, "" for none */
} tu_redis_t;

/* Starts a redis-server (with `password` required, or NULL) on a free port;
 * asserts that it runs. */
void tu_redis_start(tu_redis_t *r, const char *password);

/* Starts it again on its port and data after tu_redis_stop (asserts). */
void tu_redis_restart(tu_redis_t *r);

/* Stops it (SIGTERM, then SIGKILL after 10 s) and waits for it. */
void tu_redis_stop(tu_redis_t *r);

/* Stops it and removes its directory. */
void tu_redis_remove(tu_redis_t *r);

/* The address of the server as the engine setting parses it, in *url. */
void tu_redis_url(const tu_redis_t *r, int db, wsr__redis_url_t *url);

/* Runs a command (hiredis format) on database `db` on a connection of its
 * own; returns the reply (owned: freeReplyObject; asserts it came). */
redisReply *tu_redis_cmd(const tu_redis_t *r, int db, const char *fmt, ...);

#endif /* WSR_TESTS_REDISFIX_H */
