/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/core/strtable.c: a put makes a zeroed, aligned value that a
 * get finds again; a full table sweeps what its caller calls stale, and when
 * that frees nothing it refuses the new key (the shared overflow value,
 * counted) without evicting any entry; a sweep that freed nothing is not
 * repeated before the retry time; out of memory is a refusal too; the
 * warnings come at powers of two; nothing leaks.
 */
#include "testutil.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/strtable_int.h"

typedef struct value {
    int64_t until; /* stale from then on */
    char byte;
} value_t;

typedef struct fixture {
    long live0;
    unsigned stale_calls;
    wsr__strtable_t *t;
} fixture_t;

static bool stale(void *value, int64_t now, void *user)
{
    fixture_t *fx = user;
    const value_t *v = value;

    fx->stale_calls++;
    return now >= v->until;
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->live0 = tu_live_blocks();
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    long live0 = fx->live0;

    wsr__strtable_free(fx->t);
    free(fx);
    assert_int_equal(tu_live_blocks(), live0);
    return 0;
}

/* Puts `key` at `now`, which must be tracked, and marks it stale from `until`. */
static void put_tracked(wsr__strtable_t *t, const char *key, int64_t now, int64_t until)
{
    uint64_t untracked = 99;
    value_t *v = wsr__strtable_put(t, key, now, &untracked);

    assert_non_null(v);
    assert_int_equal(untracked, 0);
    assert_ptr_not_equal(v, wsr__strtable_overflow(t));
    assert_ptr_equal(wsr__strtable_get(t, key), v);
    v->until = until;
}

static void test_strtable__put_makes_and_get_finds(void **state)
{
    fixture_t *fx = *state;
    char long_key[1001];
    value_t *a, *b;

    fx->t = wsr__strtable_new(sizeof(value_t), 100, 0, stale, fx);
    assert_non_null(fx->t);
    assert_null(wsr__strtable_get(fx->t, "alice"));
    a = wsr__strtable_put(fx->t, "alice", 0, NULL);
    assert_non_null(a);
    assert_int_equal(a->until, 0);
    assert_int_equal(a->byte, 0);
    assert_int_equal((uintptr_t)a % alignof(max_align_t), 0);
    a->byte = 'a';
    b = wsr__strtable_put(fx->t, "bob", 0, NULL);
    assert_ptr_not_equal(a, b);
    assert_int_equal(b->byte, 0);
    /* The same key is the same value; a key is compared whole. */
    assert_ptr_equal(wsr__strtable_put(fx->t, "alice", 0, NULL), a);
    assert_null(wsr__strtable_get(fx->t, "alic"));
    assert_null(wsr__strtable_get(fx->t, "alicea"));
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    put_tracked(fx->t, long_key, 0, 0);
    long_key[999] = 'j';
    assert_null(wsr__strtable_get(fx->t, long_key));
    assert_int_equal(wsr__strtable_count(fx->t), 3);
    assert_int_equal(wsr__strtable_refused(fx->t), 0);
    assert_int_equal(((value_t *)wsr__strtable_get(fx->t, "alice"))->byte, 'a');
}

static void test_strtable__full_refuses_without_evicting(void **state)
{
    fixture_t *fx = *state;
    static const char *const keys[] = {"k0", "k1", "k2", "k3"};
    uint64_t untracked = 0;
    value_t *over, *v;

    fx->t = wsr__strtable_new(sizeof(value_t), 4, 10, stale, fx);
    assert_non_null(fx->t);
    for (size_t i = 0; i < 4; i++)
        put_tracked(fx->t, keys[i], 0, 100);
    /* Full, and nothing stale at 50: the new key gets the overflow value. */
    over = wsr__strtable_put(fx->t, "new1", 50, &untracked);
    assert_ptr_equal(over, wsr__strtable_overflow(fx->t));
    assert_int_equal(untracked, 1);
    assert_int_equal(over->until, 0); /* zeroed at first */
    over->until = 7;
    v = wsr__strtable_put(fx->t, "new2", 50, &untracked);
    assert_ptr_equal(v, over);
    assert_int_equal(untracked, 2);
    assert_int_equal(v->until, 7); /* shared by every refused key */
    assert_null(wsr__strtable_get(fx->t, "new1"));
    assert_int_equal(wsr__strtable_refused(fx->t), 2);
    /* No entry was evicted to make room, and known keys are still served. */
    assert_int_equal(wsr__strtable_count(fx->t), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(wsr__strtable_get(fx->t, keys[i]));
        assert_ptr_not_equal(wsr__strtable_put(fx->t, keys[i], 50, &untracked), over);
        assert_int_equal(untracked, 0);
    }
    /* Once they are stale, a sweep makes room. */
    put_tracked(fx->t, "new1", 100, 1000);
    assert_int_equal(wsr__strtable_count(fx->t), 1);
    assert_null(wsr__strtable_get(fx->t, "k0"));
}

static void test_strtable__futile_sweeps_wait_for_the_retry(void **state)
{
    fixture_t *fx = *state;
    uint64_t untracked = 0;

    fx->t = wsr__strtable_new(sizeof(value_t), 2, 100, stale, fx);
    assert_non_null(fx->t);
    put_tracked(fx->t, "a", 0, 60);
    put_tracked(fx->t, "b", 0, 60);
    assert_int_equal(fx->stale_calls, 0); /* not full: never swept */
    wsr__strtable_put(fx->t, "c", 10, &untracked);
    assert_int_equal(untracked, 1);
    assert_int_equal(fx->stale_calls, 2);
    /* Stale by 60, but the last sweep was at 10: refused without a walk. */
    for (int64_t now = 20; now < 110; now += 10) {
        wsr__strtable_put(fx->t, "c", now, &untracked);
        assert_int_not_equal(untracked, 0);
    }
    assert_int_equal(fx->stale_calls, 2);
    put_tracked(fx->t, "c", 110, 1000);
    assert_int_equal(fx->stale_calls, 4);
    assert_int_equal(wsr__strtable_count(fx->t), 1);
}

static void test_strtable__out_of_memory(void **state)
{
    fixture_t *fx = *state;
    uint64_t untracked = 0;
    long n;

    /* Every failing allocation of the constructor returns NULL, leaking nothing. */
    for (n = 0;; n++) {
        tu_fail_at(n, false);
        fx->t = wsr__strtable_new(sizeof(value_t), 8, 0, stale, fx);
        if (fx->t != NULL)
            break;
        assert_int_equal(tu_live_blocks(), fx->live0);
    }
    tu_fail_at(-1, false);
    assert_true(n > 0);
    /* No memory for a new key: refused like a full table, and counted. */
    tu_fail_at(0, true);
    assert_ptr_equal(wsr__strtable_put(fx->t, "a", 0, &untracked), wsr__strtable_overflow(fx->t));
    tu_fail_at(-1, false);
    assert_int_equal(untracked, 1);
    assert_int_equal(wsr__strtable_count(fx->t), 0);
    put_tracked(fx->t, "a", 0, 0);
}

static void test_strtable__warnings_at_powers_of_two(void **state)
{
    unsigned warned = 0;

    (void)state;
    assert_false(wsr__strtable_warn(0));
    for (uint64_t n = 1; n <= 1000000; n++)
        warned += wsr__strtable_warn(n);
    assert_int_equal(warned, 20); /* 1, 2, 4, ... 2^19 */
    assert_true(wsr__strtable_warn(UINT64_C(1) << 63));
    assert_false(wsr__strtable_warn(UINT64_MAX));
    wsr__strtable_free(NULL);
}

/* Runs first, before any table of this process draws the key: two children
 * that draw their own hash one key differently. */
static void test_strtable__the_hash_key_is_random_per_process(void **state)
{
    uint64_t h[2];

    (void)state;
    for (int i = 0; i < 2; i++) {
        int fds[2];
        pid_t pid;
        int status;

        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            uint64_t mine = wsr__strtable_hash("192.0.2.1");

            _exit(write(fds[1], &mine, sizeof(mine)) == (ssize_t)sizeof(mine) ? 0 : 1);
        }
        close(fds[1]);
        assert_int_equal(read(fds[0], &h[i], sizeof(h[i])), sizeof(h[i]));
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    /* Equal with a chance of 2^-64. */
    assert_true(h[0] != h[1]);
    /* Within a process the key stays: a key is found again. */
    assert_true(wsr__strtable_hash("192.0.2.1") == wsr__strtable_hash("192.0.2.1"));
}

static void test_strtable__siphash_reference_vectors(void **state)
{
    /* The SipHash paper's key 00..0f, and messages 00.. of 0 and 15 bytes. */
    const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    unsigned char msg[64];

    (void)state;
    for (unsigned i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)i;
    assert_true(wsr__siphash(key, msg, 0) == 0x726fdb47dd0e0e31ull);
    assert_true(wsr__siphash(key, msg, 15) == 0xa129ca6149be45e5ull);
    /* vectors_sip64[8] and [63] of the reference implementation. */
    assert_true(wsr__siphash(key, msg, 8) == 0x93f5f5799a932462ull);
    assert_true(wsr__siphash(key, msg, 63) == 0x958a324ceb064572ull);
}

/* Keys that all shared one chain under the unkeyed hash this table had
 * (h * 33 + c: "ab" and "bA" hash alike, and so do all 1,024 strings of ten
 * such pairs) spread over the slots now. */
static void test_strtable__chosen_colliding_keys_spread(void **state)
{
    fixture_t *fx = *state;
    char key[21];

    fx->t = wsr__strtable_new(sizeof(value_t), 4096, 0, NULL, NULL);
    assert_non_null(fx->t);
    for (unsigned i = 0; i < 1024; i++) {
        for (unsigned pair = 0; pair < 10; pair++)
            memcpy(key + 2 * pair, (i >> pair & 1) ? "bA" : "ab", 2);
        key[20] = '\0';
        put_tracked(fx->t, key, 0, 0);
    }
    assert_int_equal(wsr__strtable_count(fx->t), 1024);
    /* 512 slots, 2 entries each on average: a chain of 16 is far past what
     * chance gives (the unkeyed hash made one of 1,024). */
    assert_true(wsr__strtable_longest(fx->t) < 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strtable__the_hash_key_is_random_per_process),
        cmocka_unit_test(test_strtable__siphash_reference_vectors),
        cmocka_unit_test_setup_teardown(test_strtable__chosen_colliding_keys_spread, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_strtable__put_makes_and_get_finds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strtable__full_refuses_without_evicting, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_strtable__futile_sweeps_wait_for_the_retry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_strtable__out_of_memory, setup, teardown),
        cmocka_unit_test(test_strtable__warnings_at_powers_of_two),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("strtable", tests, NULL, NULL);
}
