/* SPDX-License-Identifier: MIT */
/*
 * The capped string-keyed table (see strtable_int.h): chained hashing into
 * a fixed number of slots chosen from the cap, each entry one block holding
 * the caller's value and then its key. It owns its entries and the overflow
 * value; it never evicts an entry that its caller does not call stale.
 * Keys are hashed with SipHash-2-4 under a key drawn at random once per
 * process (getrandom), so that the slots a key falls in cannot be known
 * from outside: a client choosing names or addresses that all share one
 * chain (with the unkeyed hash this used to be, any pair "ab"/"bA" did)
 * would make every lookup walk the whole table.
 */
#include "core/strtable_int.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "core/internal.h"

/* Slots for about 8 entries each when full, within these bounds. */
#define SLOTS_MIN 16
#define SLOTS_MAX 8192

typedef struct entry {
    struct entry *next;
    size_t hash;        /* of the key, compared before the key */
    max_align_t data[]; /* the value (value_size bytes), then the key */
} entry_t;

struct wsr__strtable {
    size_t value_size, max, n, nslots;
    int64_t retry;      /* the least time between two sweeps */
    int64_t last_sweep; /* when the table was last swept */
    bool swept;         /* whether it ever was */
    uint64_t refused;
    wsr__strtable_stale_cb stale;
    void *user;      /* borrowed: the creator's */
    entry_t **slots; /* owned chains */
    max_align_t overflow[];
};

/* The process's hash key: random, drawn once at the first table. */
static uint64_t seed[2];
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void)
{
    unsigned char k[16];
    ssize_t got = getrandom(k, sizeof(k), 0);

    /* Without getrandom (a kernel before 3.17 or a sandbox), the clock and
     * an address: unpredictable enough for slots, never a fixed key. */
    if (got != (ssize_t)sizeof(k)) {
        uint64_t t = wsr__now_ns() ^ (uint64_t)(uintptr_t)&got;

        t = wsr__hash_mix(t);
        memcpy(k, &t, 8);
        t = wsr__hash_mix(t ^ (uint64_t)wsr__wall_ms());
        memcpy(k + 8, &t, 8);
    }
    memcpy(&seed[0], k, 8);
    memcpy(&seed[1], k + 8, 8);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

uint64_t wsr__siphash(const uint64_t key[2], const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t v0 = 0x736f6d6570736575ull ^ key[0], v1 = 0x646f72616e646f6dull ^ key[1];
    uint64_t v2 = 0x6c7967656e657261ull ^ key[0], v3 = 0x7465646279746573ull ^ key[1];
    uint64_t m, b = (uint64_t)n << 56;
    size_t i, tail = n & 7;

    for (i = 0; i + 8 <= n; i += 8) {
        m = 0;
        for (unsigned j = 0; j < 8; j++)
            m |= (uint64_t)p[i + j] << (8 * j);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (unsigned j = 0; j < tail; j++)
        b |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* SipHash-2-4 under the process's random key: a client that picks its
 * names or addresses cannot pick ones that share a slot. */
static size_t hash_of(const char *key)
{
    return (size_t)wsr__siphash(seed, key, strlen(key));
}

wsr__strtable_t *wsr__strtable_new(size_t value_size, size_t max, int64_t retry,
                                   wsr__strtable_stale_cb stale, void *user)
{
    wsr__strtable_t *t = wsr__calloc(1, sizeof(*t) + value_size);
    size_t nslots = WSR__MIN(WSR__MAX(max / 8, SLOTS_MIN), SLOTS_MAX);

    (void)pthread_once(&seed_once, seed_init);
    if (t == NULL)
        return NULL;
    t->slots = wsr__calloc(nslots, sizeof(*t->slots));
    if (t->slots == NULL) {
        wsr__free(t);
        return NULL;
    }
    t->value_size = value_size;
    t->max = max > 0 ? max : 1;
    t->nslots = nslots;
    t->retry = retry;
    t->stale = stale;
    t->user = user;
    return t;
}

void wsr__strtable_free(wsr__strtable_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nslots; i++)
        while (t->slots[i] != NULL) {
            entry_t *e = t->slots[i];

            t->slots[i] = e->next;
            wsr__free(e);
        }
    wsr__free(t->slots);
    wsr__free(t);
}

static const char *key_of(const wsr__strtable_t *t, const entry_t *e)
{
    return (const char *)e->data + t->value_size;
}

uint64_t wsr__strtable_hash(const char *key)
{
    (void)pthread_once(&seed_once, seed_init);
    return hash_of(key);
}

size_t wsr__strtable_longest(const wsr__strtable_t *t)
{
    size_t longest = 0;

    for (size_t i = 0; i < t->nslots; i++) {
        size_t n = 0;

        for (const entry_t *e = t->slots[i]; e != NULL; e = e->next)
            n++;
        longest = n > longest ? n : longest;
    }
    return longest;
}

static entry_t *lookup(const wsr__strtable_t *t, size_t hash, const char *key)
{
    for (entry_t *e = t->slots[hash % t->nslots]; e != NULL; e = e->next)
        if (e->hash == hash && strcmp(key_of(t, e), key) == 0)
            return e;
    return NULL;
}

void *wsr__strtable_get(wsr__strtable_t *t, const char *key)
{
    entry_t *e = lookup(t, hash_of(key), key);

    return e != NULL ? e->data : NULL;
}

/* Drops the entries the caller calls stale at `now`. */
static void sweep(wsr__strtable_t *t, int64_t now)
{
    t->swept = true;
    t->last_sweep = now;
    if (t->stale == NULL)
        return;
    for (size_t i = 0; i < t->nslots; i++)
        for (entry_t **p = &t->slots[i]; *p != NULL;) {
            entry_t *e = *p;

            if (t->stale(e->data, now, t->user)) {
                *p = e->next;
                wsr__free(e);
                t->n--;
            } else {
                p = &e->next;
            }
        }
}

void *wsr__strtable_put(wsr__strtable_t *t, const char *key, int64_t now, uint64_t *untracked)
{
    size_t hash = hash_of(key), n;
    entry_t *e = lookup(t, hash, key);

    if (untracked != NULL)
        *untracked = 0;
    if (e != NULL)
        return e->data;
    /* A sweep that found nothing stale is not tried again at once: a flood
     * of new keys would otherwise walk the whole table for each. */
    if (t->n >= t->max && (!t->swept || now - t->last_sweep >= t->retry))
        sweep(t, now);
    if (t->n < t->max) {
        n = strlen(key);
        e = wsr__calloc(1, sizeof(*e) + t->value_size + n + 1);
        if (e != NULL) {
            memcpy((char *)e->data + t->value_size, key, n + 1);
            e->hash = hash;
            e->next = t->slots[hash % t->nslots];
            t->slots[hash % t->nslots] = e;
            t->n++;
            return e->data;
        }
    }
    /* Refused, never evicting: see strtable_int.h. */
    t->refused++;
    if (untracked != NULL)
        *untracked = t->refused;
    return t->overflow;
}

void *wsr__strtable_overflow(wsr__strtable_t *t)
{
    return t->overflow;
}

size_t wsr__strtable_count(const wsr__strtable_t *t)
{
    return t->n;
}

uint64_t wsr__strtable_refused(const wsr__strtable_t *t)
{
    return t->refused;
}

json_t *wsr__strtable_describe(const wsr__strtable_t *t)
{
    return json_pack("{s:I, s:I, s:I}", "entries", (json_int_t)t->n, "max", (json_int_t)t->max,
                     "overflow", (json_int_t)t->refused);
}

int wsr__strtable_describe_two(json_t *tables, pthread_mutex_t *lock, const char *name_a,
                               const wsr__strtable_t *a, const char *name_b,
                               const wsr__strtable_t *b)
{
    json_t *da, *db;
    int rc;

    pthread_mutex_lock(lock);
    da = wsr__strtable_describe(a);
    db = wsr__strtable_describe(b);
    pthread_mutex_unlock(lock);
    rc = json_object_set_new(tables, name_a, da);
    rc |= json_object_set_new(tables, name_b, db);
    return rc == 0 ? 0 : WSR_ENOMEM;
}

bool wsr__strtable_warn(uint64_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}
