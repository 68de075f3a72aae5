/* SPDX-License-Identifier: MIT */
/*
 * Connection limits (see limits_int.h): a mutex-guarded table from client
 * address to the number of its open connections, shared by every loop. A
 * connection carries a token until it is destroyed: its address's entry, or,
 * for a trusted proxy's connection whose client is not known yet, the
 * table's `pending` marker, which counts in the total only. The table owns
 * its entries; it never touches a socket and never logs.
 */
#include "server/limits_int.h"

#include <pthread.h>
#include <string.h>

#include "core/internal.h"

#define BUCKETS 1024

typedef struct entry {
    struct entry *next;
    unsigned count;
    wsr__addr_t addr;
} entry_t;

struct wsr__limits {
    pthread_mutex_t lock;
    entry_t *buckets[BUCKETS]; /* owned */
    unsigned max_total, max_per_ip;
    unsigned total;
    char pending; /* its address is the token of a connection counted in the total only */
};

wsr__limits_t *wsr__limits_new(unsigned max_total, unsigned max_per_ip)
{
    wsr__limits_t *l = wsr__calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    if (pthread_mutex_init(&l->lock, NULL) != 0) {
        wsr__free(l);
        return NULL;
    }
    l->max_total = max_total;
    l->max_per_ip = max_per_ip;
    return l;
}

void wsr__limits_set(wsr__limits_t *l, unsigned max_total, unsigned max_per_ip)
{
    pthread_mutex_lock(&l->lock);
    l->max_total = max_total;
    l->max_per_ip = max_per_ip;
    pthread_mutex_unlock(&l->lock);
}

void wsr__limits_free(wsr__limits_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < BUCKETS; i++) {
        entry_t *e, *next;

        for (e = l->buckets[i]; e != NULL; e = next) {
            next = e->next;
            wsr__free(e);
        }
    }
    pthread_mutex_destroy(&l->lock);
    wsr__free(l);
}

static size_t bucket_of(const wsr__addr_t *a)
{
    uint32_t h = 2166136261u;

    for (uint8_t i = 0; i < a->len; i++)
        h = (h ^ a->bytes[i]) * 16777619u;
    return h % BUCKETS;
}

static entry_t **find(wsr__limits_t *l, const wsr__addr_t *a)
{
    entry_t **p = &l->buckets[bucket_of(a)];

    while (*p != NULL && !wsr__addr_equal(&(*p)->addr, a))
        p = &(*p)->next;
    return p;
}

/* With the lock held: one more connection for `a`, the total unchanged. */
static wsr__admit_t count_addr(wsr__limits_t *l, const wsr__addr_t *a, entry_t **out)
{
    entry_t **p = find(l, a), *e = *p;

    if (e == NULL) {
        e = wsr__calloc(1, sizeof(*e));
        if (e == NULL)
            return WSR__ADMIT_NOMEM;
        e->addr = *a;
        *p = e;
    } else if (l->max_per_ip != 0 && e->count >= l->max_per_ip) {
        return WSR__ADMIT_PER_ADDRESS;
    }
    e->count++;
    *out = e;
    return WSR__ADMIT_OK;
}

/* With the lock held: one connection fewer for `e`, freed at zero. */
static void uncount_addr(wsr__limits_t *l, entry_t *e)
{
    entry_t **p;

    if (--e->count > 0)
        return;
    p = find(l, &e->addr);
    if (*p == e)
        *p = e->next;
    wsr__free(e);
}

wsr__admit_t wsr__limits_admit(wsr__limits_t *l, const wsr__addr_t *addr, void **token)
{
    wsr__admit_t rc = WSR__ADMIT_OK;
    entry_t *e = NULL;

    *token = NULL;
    pthread_mutex_lock(&l->lock);
    if (l->max_total != 0 && l->total >= l->max_total)
        rc = WSR__ADMIT_TOTAL;
    else if (addr != NULL)
        rc = count_addr(l, addr, &e);
    if (rc == WSR__ADMIT_OK) {
        l->total++;
        *token = addr != NULL ? (void *)e : (void *)&l->pending;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

wsr__admit_t wsr__limits_admit_client(wsr__limits_t *l, void **token, const wsr__addr_t *client)
{
    wsr__admit_t rc;
    entry_t *e = NULL;

    if (*token != (void *)&l->pending)
        return WSR__ADMIT_OK; /* counted against its address at accept */
    pthread_mutex_lock(&l->lock);
    rc = count_addr(l, client, &e);
    pthread_mutex_unlock(&l->lock);
    if (rc == WSR__ADMIT_OK)
        *token = e; /* the total already holds it */
    return rc;
}

void wsr__limits_release(wsr__limits_t *l, void *token)
{
    if (l == NULL || token == NULL)
        return;
    pthread_mutex_lock(&l->lock);
    l->total--;
    if (token != (void *)&l->pending)
        uncount_addr(l, token);
    pthread_mutex_unlock(&l->lock);
}

bool wsr__limits_is_pending(const wsr__limits_t *l, const void *token)
{
    return token == (const void *)&l->pending;
}

unsigned wsr__limits_total(const wsr__limits_t *l)
{
    wsr__limits_t *m = (wsr__limits_t *)l; /* the lock is not part of the value */
    unsigned n;

    pthread_mutex_lock(&m->lock);
    n = m->total;
    pthread_mutex_unlock(&m->lock);
    return n;
}

unsigned wsr__limits_count(const wsr__limits_t *l, const wsr__addr_t *addr)
{
    wsr__limits_t *m = (wsr__limits_t *)l;
    entry_t *e;
    unsigned n;

    pthread_mutex_lock(&m->lock);
    e = *find(m, addr);
    n = e != NULL ? e->count : 0;
    pthread_mutex_unlock(&m->lock);
    return n;
}
