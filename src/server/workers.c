/* SPDX-License-Identifier: MIT */
/*
 * The worker pool (see workers_int.h). A mutex and a condition variable guard
 * a bounded FIFO of jobs; each job owns a moved request and the completer's
 * reference to its deferred reply. Workers never touch a connection.
 */
#include "server/workers_int.h"

#include <pthread.h>
#include <string.h>

#include "server/loop_int.h"
#include "core/router_int.h"

typedef struct job {
    struct job *next;
    wsr_request_t req;  /* owned: moved from the loop */
    wsr_reply_t *reply; /* owned: the completer's reference */
    bool handed;        /* the handler deferred and took the reply */
} job_t;

struct wsr__workers {
    wsr_factory_t *f; /* borrowed */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job_t *head, *tail; /* owned */
    unsigned queued, reserved, cap;
    unsigned busy;
    uint64_t done;
    pthread_t *threads; /* owned */
    unsigned nthreads;
    bool stopping;
};

static wsr_reply_t *worker_defer(void *arg, wsr_response_t *res)
{
    job_t *job = arg;

    (void)res;
    job->handed = true;
    return job->reply;
}

static void run_job(wsr__workers_t *w, job_t *job)
{
    wsr_response_t res;

    wsr__response_init(&res);
    if (wsr_reply_cancelled(job->reply)) {
        /* Timed out or its connection closed while it waited: skip the work. */
        (void)wsr__reply_complete_response(job->reply, &res);
        return;
    }
    res.defer = worker_defer;
    res.defer_ctx = job;
    wsr__run_handler(w->f, &job->req, &res);
    if (job->handed) {
        wsr__response_dispose(&res); /* the handler completes the reply itself */
        return;
    }
    (void)wsr__reply_complete_response(job->reply, &res);
}

static void *worker_main(void *arg)
{
    wsr__workers_t *w = arg;
    job_t *job;

    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->head == NULL) {
            pthread_mutex_unlock(&w->lock);
            return NULL;
        }
        job = w->head;
        w->head = job->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->queued--;
        w->busy++;
        pthread_mutex_unlock(&w->lock);
        run_job(w, job);
        wsr__request_dispose(&job->req);
        wsr__free(job);
        pthread_mutex_lock(&w->lock);
        w->busy--;
        w->done++;
        pthread_mutex_unlock(&w->lock);
    }
}

wsr__workers_t *wsr__workers_new(wsr_factory_t *f, unsigned threads, unsigned queue_size)
{
    wsr__workers_t *w = wsr__calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->f = f;
    w->cap = queue_size;
    w->threads = wsr__calloc(threads ? threads : 1, sizeof(*w->threads));
    if (w->threads == NULL || pthread_mutex_init(&w->lock, NULL) != 0) {
        wsr__free(w->threads);
        wsr__free(w);
        return NULL;
    }
    pthread_cond_init(&w->cond, NULL);
    for (w->nthreads = 0; w->nthreads < threads; w->nthreads++)
        if (wsr__thread_start(&w->threads[w->nthreads], worker_main, w) != 0)
            break;
    if (w->nthreads < threads) {
        wsr__workers_free(w);
        return NULL;
    }
    return w;
}

void wsr__workers_free(wsr__workers_t *w)
{
    job_t *job, *next;

    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    /* Queued jobs are dropped; the ones running finish. */
    job = w->head;
    w->head = w->tail = NULL;
    w->queued = 0;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (; job != NULL; job = next) {
        wsr_response_t res;

        next = job->next;
        wsr__response_init(&res);
        (void)wsr__response_error_str(&res, 503, "the server is shutting down");
        (void)wsr__reply_complete_response(job->reply, &res);
        wsr__request_dispose(&job->req);
        wsr__free(job);
    }
    for (unsigned i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    wsr__free(w->threads);
    wsr__free(w);
}

int wsr__workers_submit(wsr__workers_t *w, wsr_request_t *req, wsr_response_t *res)
{
    job_t *job;
    bool full;

    pthread_mutex_lock(&w->lock);
    full = w->stopping || w->queued + w->reserved >= w->cap;
    if (!full)
        w->reserved++;
    pthread_mutex_unlock(&w->lock);
    if (full) {
        wsr__count(&w->f->stats[0]->overloaded, 1);
        (void)wsr_response_error(res, 503,
                                 "the server is overloaded: the worker queue is full "
                                 "(%u jobs); retry later",
                                 w->cap);
        return 0;
    }
    job = wsr__calloc(1, sizeof(*job));
    if (job != NULL)
        job->reply = wsr_response_defer(res);
    if (job == NULL || job->reply == NULL) {
        /* Deferring is impossible here: answer on this thread instead. */
        wsr__free(job);
        pthread_mutex_lock(&w->lock);
        w->reserved--;
        pthread_mutex_unlock(&w->lock);
        if (res->deferred)
            return 1;
        wsr__run_handler(w->f, req, res);
        return res->deferred ? 1 : 0;
    }
    job->req = *req; /* move: the loop's copy is emptied below */
    wsr__request_init(req);
    pthread_mutex_lock(&w->lock);
    w->reserved--;
    w->queued++;
    if (w->tail != NULL)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return 1;
}

int wsr__workers_describe(wsr__workers_t *w, json_t *stats)
{
    json_t *o;

    pthread_mutex_lock(&w->lock);
    o = json_pack("{s:i, s:i, s:i, s:i, s:I}", "threads", (int)w->nthreads, "queue_size",
                  (int)w->cap, "queued", (int)w->queued, "busy", (int)w->busy, "done",
                  (json_int_t)w->done);
    pthread_mutex_unlock(&w->lock);
    return (o != NULL && json_object_set_new(stats, "workers", o) == 0) ? 0 : WSR_ENOMEM;
}
