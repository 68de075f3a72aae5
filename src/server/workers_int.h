/* SPDX-License-Identifier: MIT */
/*
 * The worker pool: an executor that runs the functions it is given on
 * threads of its own (as libuv's uv_queue_work does), for routes flagged
 * WSR_ROUTE_BLOCKING. It knows nothing of requests or connections. The queue
 * is bounded; past the bound a submission is refused at once.
 */
#ifndef WSR_SERVER_WORKERS_INT_H
#define WSR_SERVER_WORKERS_INT_H

#include <jansson.h>

#include "core/internal.h"

typedef struct wsr__workers wsr__workers_t;

/* A unit of work, called with the `arg` it was submitted with. */
typedef void (*wsr__work_fn)(void *arg);

/* Starts `threads` workers with a queue of at most `queue_size` jobs.
 * Returns the pool or NULL. */
wsr__workers_t *wsr__workers_new(unsigned threads, unsigned queue_size);

/*
 * Stops accepting work, calls `cancel` for every job still queued (on the
 * calling thread), lets the workers finish what they are running for at
 * most `timeout_ms` (0: as long as it takes), joins them and frees the
 * pool. Returns 0, or WSR_ETIMEDOUT when a handler was still running at the
 * deadline: then nothing is freed (the handler's thread still uses the pool,
 * and whatever it touches must stay too); call again to wait longer, or
 * leave it to the process's exit. NULL ignored.
 */
int wsr__workers_free(wsr__workers_t *w, unsigned timeout_ms);

/*
 * Queues `work(arg)`. If the pool is freed before a worker takes the job,
 * `cancel(arg)` runs instead, so exactly one of the two is called. Any
 * thread. Returns 0, WSR_EBUSY when the queue is full or the pool is
 * stopping, or WSR_ENOMEM (neither function is called then).
 */
WSR_NODISCARD int wsr__workers_submit(wsr__workers_t *w, wsr__work_fn work, wsr__work_fn cancel,
                                      void *arg);

/* wsr__workers_submit past the queue's bound: refused only while the pool
 * stops (WSR_EBUSY) or without memory. For work that must come after what
 * is queued and cannot be refused (a closed connection's cleanup). */
WSR_NODISCARD int wsr__workers_submit_always(wsr__workers_t *w, wsr__work_fn work,
                                             wsr__work_fn cancel, void *arg);

/* After wsr__workers_free returned WSR_ETIMEDOUT, for good: detaches the
 * threads and leaves the pool to the process's exit. Call once. */
void wsr__workers_abandon(wsr__workers_t *w);

/* The queue's bound. */
unsigned wsr__workers_queue_size(const wsr__workers_t *w);

/* Adds the pool's figures to `stats` (an object). Returns 0 or WSR_ENOMEM. */
int wsr__workers_describe(wsr__workers_t *w, json_t *stats);

#endif /* WSR_SERVER_WORKERS_INT_H */
