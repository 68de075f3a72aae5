/* SPDX-License-Identifier: MIT */
/*
 * The login throttle (see throttle_int.h). The counts live in two capped
 * tables (core/strtable.c), one of user names and one of addresses; when
 * one is full, the entries whose lockout ended long ago (FORGET_MS) are
 * dropped. When none can be, a new name or address is not tracked on its
 * own: its failures count in the table's one overflow entry, whose lockout
 * every untracked name (or address) shares. A flood of distinct names so
 * grows nothing, cannot push a locked-out name out of the table (which
 * would unlock it), and locks the untracked names out together instead of
 * letting them be guessed freely: it fails safe, at the price of a new
 * user's login waiting out the shared lockout while the flood lasts.
 */
#include "services/throttle_int.h"

#include <pthread.h>
#include <stdio.h>

#include "core/internal.h"
#include "core/strtable_int.h"

/* A count not added to for this long starts again from nothing. */
#define FORGET_MS (15 * 60 * 1000)
/* A full table is swept for forgotten counts at most this often. */
#define SWEEP_MS 1000
/* Longer names and addresses are counted by their first bytes. */
#define KEY_MAX 160

typedef struct count {
    unsigned failures;
    int64_t last_ms;  /* the last failure */
    int64_t until_ms; /* locked out until */
} count_t;

struct wsr__throttle {
    pthread_mutex_t lock;           /* guards both tables */
    wsr__strtable_t *users, *addrs; /* owned */
};

static bool forgotten(void *value, int64_t now_ms, void *user)
{
    const count_t *c = value;

    (void)user;
    return now_ms - c->last_ms > FORGET_MS && now_ms >= c->until_ms;
}

wsr__throttle_t *wsr__throttle_new(void)
{
    wsr__throttle_t *t = wsr__calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->users =
        wsr__strtable_new(sizeof(count_t), WSR__THROTTLE_TABLE_MAX, SWEEP_MS, forgotten, NULL);
    t->addrs =
        wsr__strtable_new(sizeof(count_t), WSR__THROTTLE_TABLE_MAX, SWEEP_MS, forgotten, NULL);
    if (t->users == NULL || t->addrs == NULL || pthread_mutex_init(&t->lock, NULL) != 0) {
        wsr__strtable_free(t->users);
        wsr__strtable_free(t->addrs);
        wsr__free(t);
        return NULL;
    }
    return t;
}

int wsr__throttle_describe(wsr__throttle_t *t, json_t *tables)
{
    return wsr__strtable_describe_two(tables, &t->lock, "login_user", t->users, "login_address",
                                      t->addrs);
}

void wsr__throttle_free(wsr__throttle_t *t)
{
    if (t == NULL)
        return;
    wsr__strtable_free(t->users);
    wsr__strtable_free(t->addrs);
    pthread_mutex_destroy(&t->lock);
    wsr__free(t);
}

/* Writes the key of `name` into `key`: false when there is no name. */
static bool key_of(const char *name, char key[KEY_MAX])
{
    if (name == NULL || name[0] == '\0')
        return false;
    snprintf(key, KEY_MAX, "%s", name);
    return true;
}

/* The count of `name` in `tab`: its own, or the overflow's when it has none
 * (an untracked name shares the overflow's lockout); made when `make`, with
 * `*untracked` set as wsr__strtable_put sets it. NULL for no name. Locked. */
static count_t *find(wsr__strtable_t *tab, const char *name, bool make, int64_t now_ms,
                     uint64_t *untracked)
{
    char key[KEY_MAX];
    count_t *c;

    if (!key_of(name, key))
        return NULL;
    c = make ? wsr__strtable_put(tab, key, now_ms, untracked) : wsr__strtable_get(tab, key);
    if (c == NULL)
        c = wsr__strtable_overflow(tab);
    if (forgotten(c, now_ms, NULL))
        c->failures = 0;
    return c;
}

static unsigned left(const count_t *c, int64_t now_ms)
{
    return c != NULL && c->until_ms > now_ms ? (unsigned)(c->until_ms - now_ms) : 0;
}

unsigned wsr__throttle_wait_ms(wsr__throttle_t *t, const char *user, const char *addr,
                               int64_t now_ms)
{
    unsigned u, a;

    pthread_mutex_lock(&t->lock);
    u = left(find(t->users, user, false, now_ms, NULL), now_ms);
    a = left(find(t->addrs, addr, false, now_ms, NULL), now_ms);
    pthread_mutex_unlock(&t->lock);
    return u > a ? u : a;
}

static void fail(count_t *c, unsigned free_failures, int64_t now_ms)
{
    int64_t ms = WSR__THROTTLE_FIRST_MS;

    if (c == NULL)
        return;
    c->failures++;
    c->last_ms = now_ms;
    if (c->failures <= free_failures)
        return;
    /* 250 ms doubled for each failure past the free ones, up to a minute. */
    for (unsigned i = free_failures + 1; i < c->failures && ms < WSR__THROTTLE_MAX_MS; i++)
        ms *= 2;
    if (ms > WSR__THROTTLE_MAX_MS)
        ms = WSR__THROTTLE_MAX_MS;
    c->until_ms = now_ms + ms;
}

uint64_t wsr__throttle_failed(wsr__throttle_t *t, const char *user, const char *addr,
                              int64_t now_ms)
{
    uint64_t u = 0, a = 0;

    pthread_mutex_lock(&t->lock);
    fail(find(t->users, user, true, now_ms, &u), WSR__THROTTLE_FREE, now_ms);
    fail(find(t->addrs, addr, true, now_ms, &a), WSR__THROTTLE_FREE_ADDR, now_ms);
    pthread_mutex_unlock(&t->lock);
    return u != 0 ? u : a;
}

void wsr__throttle_succeeded(wsr__throttle_t *t, const char *user)
{
    char key[KEY_MAX];
    count_t *c;

    if (!key_of(user, key))
        return;
    pthread_mutex_lock(&t->lock);
    /* The name's own count only: one right password does not clear the
     * overflow's, which strangers share. */
    c = wsr__strtable_get(t->users, key);
    if (c != NULL) {
        c->failures = 0;
        c->until_ms = 0;
    }
    pthread_mutex_unlock(&t->lock);
}

size_t wsr__throttle_count(const wsr__throttle_t *t)
{
    return wsr__strtable_count(t->users) + wsr__strtable_count(t->addrs);
}
