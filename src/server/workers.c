/* SPDX-License-Identifier: MIT */
/*
 * The worker pool (see workers_int.h). A mutex and a condition variable
 * guard a bounded FIFO of jobs; a job is a function and its argument. The
 * pool owns the jobs it has not run yet; what they point at is their own.
 */
#include "server/workers_int.h"

#include <pthread.h>
#include <time.h>

typedef struct job {
    struct job *next;
    wsr__work_fn work;
    wsr__work_fn cancel;
    void *arg; /* borrowed: the submitter's, handed to work or cancel */
} job_t;

struct wsr__workers {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_cond_t exited; /* a worker thread returned */
    unsigned running;      /* worker threads that have not returned yet */
    job_t *head, *tail;    /* owned */
    unsigned queued, cap;
    unsigned busy;
    uint64_t done;
    pthread_t *threads; /* owned */
    unsigned nthreads;
    bool stopping;
};

static void *worker_main(void *arg)
{
    wsr__workers_t *w = arg;
    job_t *job;

    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->head == NULL) {
            w->running--;
            pthread_cond_signal(&w->exited);
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
        job->work(job->arg);
        wsr__free(job);
        pthread_mutex_lock(&w->lock);
        w->busy--;
        w->done++;
        pthread_mutex_unlock(&w->lock);
    }
}

wsr__workers_t *wsr__workers_new(unsigned threads, unsigned queue_size)
{
    wsr__workers_t *w = wsr__calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->cap = queue_size;
    w->threads = wsr__calloc(threads ? threads : 1, sizeof(*w->threads));
    if (w->threads == NULL || pthread_mutex_init(&w->lock, NULL) != 0) {
        wsr__free(w->threads);
        wsr__free(w);
        return NULL;
    }
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->exited, NULL);
    for (w->nthreads = 0; w->nthreads < threads; w->nthreads++) {
        pthread_mutex_lock(&w->lock);
        w->running++;
        pthread_mutex_unlock(&w->lock);
        if (wsr__thread_start(&w->threads[w->nthreads], worker_main, w) != 0) {
            pthread_mutex_lock(&w->lock);
            w->running--;
            pthread_mutex_unlock(&w->lock);
            break;
        }
    }
    if (w->nthreads < threads) {
        (void)wsr__workers_free(w, 0);
        return NULL;
    }
    return w;
}

/* Waits until every worker thread returned, or `timeout_ms` passed (0:
 * for ever). Returns true when they all did. Called with the lock held. */
static bool wait_exited(wsr__workers_t *w, unsigned timeout_ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (w->running > 0) {
        if (timeout_ms == 0)
            pthread_cond_wait(&w->exited, &w->lock);
        else if (pthread_cond_timedwait(&w->exited, &w->lock, &until) != 0)
            return w->running == 0;
    }
    return true;
}

int wsr__workers_free(wsr__workers_t *w, unsigned timeout_ms)
{
    job_t *job, *next;
    bool all;

    if (w == NULL)
        return 0;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    /* Queued jobs are cancelled; the ones running finish. */
    job = w->head;
    w->head = w->tail = NULL;
    w->queued = 0;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (; job != NULL; job = next) {
        next = job->next;
        job->cancel(job->arg);
        wsr__free(job);
    }
    pthread_mutex_lock(&w->lock);
    all = wait_exited(w, timeout_ms);
    pthread_mutex_unlock(&w->lock);
    if (!all)
        return WSR_ETIMEDOUT; /* a handler is stuck: the pool stays, stopping */
    for (unsigned i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    pthread_cond_destroy(&w->exited);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    wsr__free(w->threads);
    wsr__free(w);
    return 0;
}

static int submit(wsr__workers_t *w, wsr__work_fn work, wsr__work_fn cancel, void *arg,
                  bool bounded)
{
    job_t *job = wsr__malloc(sizeof(*job));
    int rc = 0;

    if (job == NULL)
        return WSR_ENOMEM;
    job->next = NULL;
    job->work = work;
    job->cancel = cancel;
    job->arg = arg;
    pthread_mutex_lock(&w->lock);
    if (w->stopping || (bounded && w->queued >= w->cap)) {
        rc = WSR_EBUSY;
    } else {
        w->queued++;
        if (w->tail != NULL)
            w->tail->next = job;
        else
            w->head = job;
        w->tail = job;
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    if (rc != 0)
        wsr__free(job);
    return rc;
}

int wsr__workers_submit(wsr__workers_t *w, wsr__work_fn work, wsr__work_fn cancel, void *arg)
{
    return submit(w, work, cancel, arg, true);
}

int wsr__workers_submit_always(wsr__workers_t *w, wsr__work_fn work, wsr__work_fn cancel, void *arg)
{
    return submit(w, work, cancel, arg, false);
}

void wsr__workers_abandon(wsr__workers_t *w)
{
    /* Threads that returned are reclaimed; the stuck one runs on, and the
     * pool stays allocated for it. */
    for (unsigned i = 0; w != NULL && i < w->nthreads; i++)
        pthread_detach(w->threads[i]);
}

unsigned wsr__workers_queue_size(const wsr__workers_t *w)
{
    return w->cap;
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
