/* SPDX-License-Identifier: MIT */
/*
 * Connection limits (see limits_int.h): a mutex-guarded table from client
 * address to the number of its open connections, shared by every loop. An
 * entry's address is the token a connection carries until it is destroyed.
 * The table owns its entries; it never touches a socket.
 */
#include "server/limits_int.h"

#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#define BUCKETS 1024

typedef struct entry {
    struct entry *next;
    unsigned count;
    uint8_t len;
    uint8_t addr[16];
} entry_t;

struct wsr__limits {
    pthread_mutex_t lock;
    entry_t *buckets[BUCKETS]; /* owned */
    unsigned max_total, max_per_ip;
    unsigned total;
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

/* The client address without the port (an IPv4-mapped IPv6 address counts
 * as its IPv4 address). */
static uint8_t key_of(const struct sockaddr_storage *ss, uint8_t *out)
{
    if (ss->ss_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        return 4;
    }
    if (ss->ss_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

        if (memcmp(a, mapped, 12) == 0) {
            memcpy(out, a + 12, 4);
            return 4;
        }
        memcpy(out, a, 16);
        return 16;
    }
    return 0;
}

static size_t bucket_of(const uint8_t *k, uint8_t len)
{
    uint32_t h = 2166136261u;

    for (uint8_t i = 0; i < len; i++)
        h = (h ^ k[i]) * 16777619u;
    return h % BUCKETS;
}

static entry_t **find(wsr__limits_t *l, const uint8_t *k, uint8_t len)
{
    entry_t **p = &l->buckets[bucket_of(k, len)];

    while (*p != NULL && ((*p)->len != len || memcmp((*p)->addr, k, len) != 0))
        p = &(*p)->next;
    return p;
}

bool wsr__limits_admit(wsr__loop_t *loop, const struct sockaddr_storage *peer)
{
    wsr__limits_t *l = loop->limits;
    uint8_t k[16], len = key_of(peer, k);
    entry_t **p, *e = NULL;
    bool ok = false;

    loop->admitted = NULL;
    pthread_mutex_lock(&l->lock);
    if (l->max_total != 0 && l->total >= l->max_total)
        goto out;
    p = find(l, k, len);
    e = *p;
    if (e == NULL) {
        e = wsr__calloc(1, sizeof(*e));
        if (e == NULL)
            goto out;
        e->len = len;
        memcpy(e->addr, k, len);
        *p = e;
    } else if (l->max_per_ip != 0 && e->count >= l->max_per_ip) {
        goto out;
    }
    e->count++;
    l->total++;
    loop->admitted = e;
    ok = true;
out:
    pthread_mutex_unlock(&l->lock);
    if (!ok)
        wsr__log(loop->factory, WSR_LOG_INFO, "connection refused: %s limit reached",
                 (l->max_total != 0 && l->total >= l->max_total) ? "total" : "per-address");
    return ok;
}

void wsr__limits_release(wsr__limits_t *l, void *token)
{
    entry_t *e = token, **p;

    if (l == NULL || e == NULL)
        return;
    pthread_mutex_lock(&l->lock);
    l->total--;
    if (--e->count == 0) {
        p = find(l, e->addr, e->len);
        if (*p == e)
            *p = e->next;
        wsr__free(e);
    }
    pthread_mutex_unlock(&l->lock);
}

void wsr__limits_release_addr(wsr__loop_t *loop, const struct sockaddr_storage *peer)
{
    (void)peer;
    wsr__limits_release(loop->limits, loop->admitted);
    loop->admitted = NULL;
}

unsigned wsr__limits_total(const wsr__limits_t *l)
{
    unsigned n;

    pthread_mutex_lock(&((wsr__limits_t *)l)->lock);
    n = l->total;
    pthread_mutex_unlock(&((wsr__limits_t *)l)->lock);
    return n;
}
