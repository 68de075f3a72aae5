/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/server/workers.c, the executor: every job runs exactly once,
 * in submission order on one thread; the queue bound refuses at once; freeing
 * the pool cancels what is queued (on the freeing thread), runs none of it,
 * and waits for what is running; the figures describe() reports; allocation
 * failures. Jobs synchronise with the test through a mutex and a condition
 * variable, never through sleeps; every wait has a deadline. Run under
 * ThreadSanitizer too.
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "server/workers_int.h"

#define JOBS   2000
#define WAIT_S 10 /* the most any wait may take */

typedef struct fixture fixture_t;

typedef struct job {
    fixture_t *fx;
    int index;
} job_t;

struct fixture {
    long live0;
    wsr__workers_t *w;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job_t jobs[JOBS];
    int ran[JOBS];       /* times work ran, per job */
    int cancelled[JOBS]; /* times cancel ran, per job */
    int order[JOBS];     /* job indexes in the order work ran */
    int nran, ncancelled;
    pthread_t cancelled_on; /* the thread the last cancel ran on */
    /* the blocker: a job that holds the only worker until released */
    bool blocker_started, blocker_release, blocker_finished;
    /* the thread that frees the pool in the background */
    pthread_t freer;
    bool freer_started;
    bool freed;
};

static void release_blocker(fixture_t *fx);

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->live0 = tu_live_blocks();
    pthread_mutex_init(&fx->lock, NULL);
    pthread_cond_init(&fx->cond, NULL);
    for (int i = 0; i < JOBS; i++)
        fx->jobs[i] = (job_t){fx, i};
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    long live0 = fx->live0;

    if (fx->freer_started) {
        /* A case that failed midway: let the freeing thread end. */
        release_blocker(fx);
        pthread_join(fx->freer, NULL);
        fx->w = NULL;
    }
    (void)wsr__workers_free(fx->w, 0);
    pthread_cond_destroy(&fx->cond);
    pthread_mutex_destroy(&fx->lock);
    free(fx);
    assert_int_equal(tu_live_blocks(), live0);
    return 0;
}

/* Waits until `done(fx)` holds (called under the lock), for WAIT_S at most.
 * Returns whether it holds. */
static bool wait_for(fixture_t *fx, bool (*done)(const fixture_t *fx))
{
    struct timespec deadline;
    bool ok;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_S;
    pthread_mutex_lock(&fx->lock);
    while (!(ok = done(fx)) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&fx->cond, &fx->lock, &deadline);
    pthread_mutex_unlock(&fx->lock);
    return ok;
}

static void count_run(void *arg)
{
    job_t *job = arg;
    fixture_t *fx = job->fx;

    pthread_mutex_lock(&fx->lock);
    fx->ran[job->index]++;
    fx->order[fx->nran++] = job->index;
    pthread_cond_broadcast(&fx->cond);
    pthread_mutex_unlock(&fx->lock);
}

static void count_cancel(void *arg)
{
    job_t *job = arg;
    fixture_t *fx = job->fx;

    pthread_mutex_lock(&fx->lock);
    fx->cancelled[job->index]++;
    fx->ncancelled++;
    fx->cancelled_on = pthread_self();
    pthread_cond_broadcast(&fx->cond);
    pthread_mutex_unlock(&fx->lock);
}

/* Holds its worker until the test releases it. */
static void block(void *arg)
{
    fixture_t *fx = arg;
    struct timespec deadline;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_S;
    pthread_mutex_lock(&fx->lock);
    fx->blocker_started = true;
    pthread_cond_broadcast(&fx->cond);
    while (!fx->blocker_release && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&fx->cond, &fx->lock, &deadline);
    fx->blocker_finished = true;
    pthread_cond_broadcast(&fx->cond);
    pthread_mutex_unlock(&fx->lock);
}

static void never(void *arg)
{
    fixture_t *fx = arg;

    pthread_mutex_lock(&fx->lock);
    fx->ncancelled += 1000; /* shows up in any count */
    pthread_mutex_unlock(&fx->lock);
}

static bool blocker_started(const fixture_t *fx)
{
    return fx->blocker_started;
}

static bool all_ran(const fixture_t *fx)
{
    return fx->nran == JOBS;
}

static void release_blocker(fixture_t *fx)
{
    pthread_mutex_lock(&fx->lock);
    fx->blocker_release = true;
    pthread_cond_broadcast(&fx->cond);
    pthread_mutex_unlock(&fx->lock);
}

/* Occupies the only worker of fx->w with the blocker. */
static void start_blocker(fixture_t *fx)
{
    assert_int_equal(wsr__workers_submit(fx->w, block, never, fx), 0);
    assert_true(wait_for(fx, blocker_started));
}

/* Returns fx->w's figures (a new object). */
static json_t *figures(fixture_t *fx)
{
    json_t *stats = json_object(), *o;

    assert_non_null(stats);
    assert_int_equal(wsr__workers_describe(fx->w, stats), 0);
    o = json_object_get(stats, "workers");
    assert_non_null(o);
    json_incref(o);
    json_decref(stats);
    return o;
}

static json_int_t figure(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* ---- tests ---- */

static void test_workers__every_job_runs_exactly_once(void **state)
{
    fixture_t *fx = *state;

    fx->w = wsr__workers_new(4, JOBS);
    assert_non_null(fx->w);
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[i]), 0);
    assert_true(wait_for(fx, all_ran));
    (void)wsr__workers_free(fx->w, 0);
    fx->w = NULL;
    /* Joined: nothing runs any more, so the counts are final. */
    for (int i = 0; i < JOBS; i++) {
        assert_int_equal(fx->ran[i], 1);
        assert_int_equal(fx->cancelled[i], 0);
    }
    assert_int_equal(fx->nran, JOBS);
    assert_int_equal(fx->ncancelled, 0);
}

static void test_workers__one_thread_runs_jobs_in_order(void **state)
{
    fixture_t *fx = *state;

    fx->w = wsr__workers_new(1, JOBS);
    assert_non_null(fx->w);
    /* Everything is queued behind the blocker before anything runs. */
    start_blocker(fx);
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[i]), 0);
    release_blocker(fx);
    assert_true(wait_for(fx, all_ran));
    pthread_mutex_lock(&fx->lock);
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(fx->order[i], i);
    pthread_mutex_unlock(&fx->lock);
}

static bool three_ran(const fixture_t *fx)
{
    return fx->nran == 3;
}

static void test_workers__full_queue_refuses_at_once(void **state)
{
    fixture_t *fx = *state;
    json_t *o;

    fx->w = wsr__workers_new(1, 3);
    assert_non_null(fx->w);
    assert_int_equal(wsr__workers_queue_size(fx->w), 3);
    start_blocker(fx);
    /* The running job is off the queue: three more fit, the fourth does not. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[i]), 0);
    assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[3]), WSR_EBUSY);
    o = figures(fx);
    assert_int_equal(figure(o, "threads"), 1);
    assert_int_equal(figure(o, "queue_size"), 3);
    assert_int_equal(figure(o, "queued"), 3);
    assert_int_equal(figure(o, "busy"), 1);
    assert_int_equal(figure(o, "done"), 0);
    json_decref(o);
    release_blocker(fx);
    assert_true(wait_for(fx, three_ran));
    /* The refused job ran neither function. */
    pthread_mutex_lock(&fx->lock);
    assert_int_equal(fx->ran[3], 0);
    assert_int_equal(fx->cancelled[3], 0);
    assert_int_equal(fx->ncancelled, 0);
    pthread_mutex_unlock(&fx->lock);
    /* Room again once the queue drained. */
    assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[3]), 0);
}

static void test_workers__describe_counts_what_is_done(void **state)
{
    fixture_t *fx = *state;
    json_t *o;

    fx->w = wsr__workers_new(1, 8);
    assert_non_null(fx->w);
    o = figures(fx);
    assert_int_equal(figure(o, "threads"), 1);
    assert_int_equal(figure(o, "queue_size"), 8);
    assert_int_equal(figure(o, "queued"), 0);
    assert_int_equal(figure(o, "busy"), 0);
    assert_int_equal(figure(o, "done"), 0);
    json_decref(o);
    for (int i = 0; i < 5; i++)
        assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[i]), 0);
    /* One thread takes a job only once it has counted the one before: with
     * the blocker running, the five before it are all done. */
    start_blocker(fx);
    o = figures(fx);
    assert_int_equal(figure(o, "done"), 5);
    assert_int_equal(figure(o, "busy"), 1);
    assert_int_equal(figure(o, "queued"), 0);
    json_decref(o);
    release_blocker(fx);
}

static bool three_cancelled(const fixture_t *fx)
{
    return fx->ncancelled == 3;
}

static void *free_pool(void *arg)
{
    fixture_t *fx = arg;

    (void)wsr__workers_free(fx->w, 0);
    pthread_mutex_lock(&fx->lock);
    fx->freed = true;
    pthread_mutex_unlock(&fx->lock);
    return NULL;
}

static void test_workers__free_cancels_queued_jobs_and_waits_for_running(void **state)
{
    fixture_t *fx = *state;

    fx->w = wsr__workers_new(1, 8);
    assert_non_null(fx->w);
    start_blocker(fx);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[i]), 0);
    assert_int_equal(pthread_create(&fx->freer, NULL, free_pool, fx), 0);
    fx->freer_started = true;
    /* The freeing thread cancels the queue itself, then waits for the
     * blocker, which is still running. */
    assert_true(wait_for(fx, three_cancelled));
    pthread_mutex_lock(&fx->lock);
    assert_true(pthread_equal(fx->cancelled_on, fx->freer));
    assert_false(fx->blocker_finished);
    assert_false(fx->freed);
    pthread_mutex_unlock(&fx->lock);
    /* Stopping: a late submission is refused and runs nothing. */
    assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[4]), WSR_EBUSY);
    release_blocker(fx);
    assert_int_equal(pthread_join(fx->freer, NULL), 0);
    fx->freer_started = false;
    fx->w = NULL;
    /* Joined: the blocker finished before free returned. */
    assert_true(fx->blocker_finished);
    assert_true(fx->freed);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fx->ran[i], 0);
        assert_int_equal(fx->cancelled[i], 1);
    }
    assert_int_equal(fx->ran[4] + fx->cancelled[4], 0);
    assert_int_equal(fx->nran, 0);
    assert_int_equal(fx->ncancelled, 3);
}

static void test_workers__free_of_an_idle_pool(void **state)
{
    fixture_t *fx = *state;

    fx->w = wsr__workers_new(3, 1);
    assert_non_null(fx->w);
    (void)wsr__workers_free(fx->w, 0); /* the workers wait for work: they must wake */
    fx->w = NULL;
    (void)wsr__workers_free(NULL, 0);
    assert_int_equal(fx->ncancelled + fx->nran, 0);
}

static bool one_ran(const fixture_t *fx)
{
    return fx->nran == 1;
}

static void test_workers__new_under_allocation_failures(void **state)
{
    fixture_t *fx = *state;
    long n;

    for (n = 0;; n++) {
        long live = tu_live_blocks();

        tu_fail_at(n, false);
        fx->w = wsr__workers_new(2, 4);
        tu_fail_at(-1, false);
        if (fx->w != NULL)
            break;
        assert_int_equal(tu_live_blocks(), live);
        assert_true(n < 16);
    }
    assert_true(n > 0);
    /* The pool that finally came up works. */
    assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[0]), 0);
    assert_true(wait_for(fx, one_ran));
}

static void test_workers__submit_and_describe_under_allocation_failures(void **state)
{
    fixture_t *fx = *state;
    json_t *stats;
    long n;
    int rc;

    fx->w = wsr__workers_new(1, 4);
    assert_non_null(fx->w);
    /* A job's own allocation failing: neither function is called. */
    tu_fail_at(0, false);
    rc = wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[0]);
    tu_fail_at(-1, false);
    assert_int_equal(rc, WSR_ENOMEM);
    stats = json_object();
    assert_non_null(stats);
    for (n = 0;; n++) {
        long live = tu_live_blocks();

        tu_fail_at(n, false);
        rc = wsr__workers_describe(fx->w, stats);
        tu_fail_at(-1, false);
        if (rc == 0)
            break;
        assert_int_equal(rc, WSR_ENOMEM);
        assert_int_equal(tu_live_blocks(), live);
        assert_true(n < 64);
    }
    assert_true(n > 0);
    assert_non_null(json_object_get(stats, "workers"));
    json_decref(stats);
    (void)wsr__workers_free(fx->w, 0);
    fx->w = NULL;
    assert_int_equal(fx->nran + fx->ncancelled, 0);
}

/* A handler stuck past the deadline: free gives up in time, changes
 * nothing, and a later call (once it returned) frees the pool. */
static void test_workers__free_gives_up_on_a_stuck_handler(void **state)
{
    fixture_t *fx = *state;
    struct timespec t0, t1;
    long ms;

    fx->w = wsr__workers_new(1, 4);
    assert_non_null(fx->w);
    start_blocker(fx);
    assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[0]), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(wsr__workers_free(fx->w, 100), WSR_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    /* It waited, and not for the handler (WAIT_S seconds). */
    assert_true(ms >= 90);
    assert_true(ms < WAIT_S * 1000);
    /* The queued job was cancelled; the stuck one still runs; no new work. */
    assert_int_equal(fx->ncancelled, 1);
    assert_int_equal(fx->nran, 0);
    assert_int_equal(wsr__workers_submit(fx->w, count_run, count_cancel, &fx->jobs[1]), WSR_EBUSY);
    release_blocker(fx);
    assert_int_equal(wsr__workers_free(fx->w, 0), 0);
    fx->w = NULL;
    assert_true(fx->blocker_finished);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_workers__every_job_runs_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers__one_thread_runs_jobs_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_workers__full_queue_refuses_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers__describe_counts_what_is_done, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_workers__free_cancels_queued_jobs_and_waits_for_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers__free_of_an_idle_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers__free_gives_up_on_a_stuck_handler, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_workers__new_under_allocation_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_workers__submit_and_describe_under_allocation_failures,
                                        setup, teardown),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("workers", tests, NULL, NULL);
}
