/* SPDX-License-Identifier: MIT */
/*
 * The worker pool for routes flagged WSR_ROUTE_BLOCKING (tcpy's worker
 * threads). The event loop never waits for it: a request moves into a job, a
 * worker runs the handler and completes the job's deferred reply, which
 * travels back to the loop through its inbox. The job queue is bounded; past
 * the bound the request is answered 503 at once.
 */
#ifndef WSR_SRC_WORKERS_INT_H
#define WSR_SRC_WORKERS_INT_H

#include "services/factory_int.h"

typedef struct wsr__workers wsr__workers_t;

/* Starts `threads` workers with a queue of at most `queue_size` jobs.
 * Returns the pool or NULL. */
wsr__workers_t *wsr__workers_new(wsr_factory_t *f, unsigned threads, unsigned queue_size);

/* Stops accepting jobs, lets the workers finish the jobs they are running,
 * drops the queued ones (their replies are cancelled), joins and frees. */
void wsr__workers_free(wsr__workers_t *w);

/*
 * Hands `req` (moved out: it is left empty) to a worker. Returns 1 when a
 * worker will answer through a deferred reply; 0 when `res` holds the answer
 * already (503 when the queue is full, or the handler ran here because
 * deferring was impossible).
 */
int wsr__workers_submit(wsr__workers_t *w, wsr_request_t *req, wsr_response_t *res);

/* Adds the pool's figures to `stats` (an object). Returns 0 or WSR_ENOMEM. */
int wsr__workers_describe(wsr__workers_t *w, json_t *stats);

#endif /* WSR_SRC_WORKERS_INT_H */
