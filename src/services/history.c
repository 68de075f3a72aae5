/* SPDX-License-Identifier: MIT */
/*
 * The in-process publication history (history_int.h). Topics are spread over
 * a fixed number of shards by the hash of their name; a shard's mutex is the
 * lock of every topic in it, so publications and subscriptions on different
 * topics rarely wait for each other, and a topic's record can be created and
 * forgotten under the same lock that guards its use (no reference counts).
 * Each topic keeps its last `size` publications in a ring that grows on
 * demand up to `size`, oldest first, each with the time it was published; an
 * entry older than ttl_s is dropped when the topic is next used. A topic whose
 * ring is empty, that has no subscribers and was not used within ttl_s is
 * forgotten by the sweep a shard runs whenever it has doubled since the last,
 * so idle topics cost nothing for long. Its epoch is random, drawn when the
 * record is created: a forgotten topic, or a restarted server, never reuses one.
 */
#include "services/history_int.h"

#include <pthread.h>
#include <string.h>

#include <openssl/rand.h>

#define NSHARDS      64 /* a power of two */
#define MIN_BUCKETS  8  /* per shard; a power of two */
#define EPOCH_BYTES  6  /* random bytes, written as 12 hex digits */
#define MIN_RING_CAP 4

typedef struct entry {
    uint64_t offset;
    uint64_t at_ns;       /* when it was published */
    unsigned char *bytes; /* owned */
    size_t n;
} entry_t;

typedef struct stream {
    struct stream *next; /* bucket chain */
    uint64_t hash;
    uint64_t last;    /* the last offset given */
    uint64_t used_ns; /* last publication or subscription */
    entry_t *ring;    /* owned: `count` entries from `first`, oldest first */
    size_t cap, first, count;
    char epoch[2 * EPOCH_BYTES + 1];
    char name[]; /* NUL-terminated */
} stream_t;

typedef struct shard {
    pthread_mutex_t lock;
    stream_t **buckets; /* owned, and so are the chains */
    size_t nbuckets;
    size_t n;
    size_t sweep_at; /* sweep when n reaches it */
} shard_t;

typedef struct memory {
    wsr__history_t base; /* first: the handle */
    size_t size;
    uint64_t ttl_ns;
    wsr__history_memory_config_t cfg;
    shard_t shards[NSHARDS];
} memory_t;

static int memory_publish(wsr__history_t *h, const char *topic, wsr__history_deliver_fn deliver,
                          void *user);
static int memory_subscribe(wsr__history_t *h, const char *topic, const wsr__position_t *since,
                            wsr__history_attach_fn attach, wsr__history_replay_fn replay,
                            void *user, wsr__position_t *now, bool *recovered);
static void memory_free(wsr__history_t *h);

static const wsr__history_ops_t memory_ops = {memory_publish, memory_subscribe, memory_free};

static uint64_t now_ns(const memory_t *m)
{
    return m->cfg.clock != NULL ? m->cfg.clock(m->cfg.user) : wsr__now_ns();
}

static shard_t *shard_of(memory_t *m, uint64_t h)
{
    /* The bucket index takes the low bits; the shard, high bits of the hash
     * mixed again, so that similar names spread out. */
    return &m->shards[(wsr__hash_mix(h) >> 58) & (NSHARDS - 1)];
}

/* ---- a topic's ring ---- */

static entry_t *ring_at(const stream_t *s, size_t i)
{
    return &s->ring[(s->first + i) % s->cap];
}

static void ring_drop_oldest(stream_t *s)
{
    wsr__free(ring_at(s, 0)->bytes);
    s->first = (s->first + 1) % s->cap;
    s->count--;
}

/* Drops the entries published ttl ago or earlier. */
static void ring_expire(const memory_t *m, stream_t *s, uint64_t now)
{
    while (s->count > 0 && now - ring_at(s, 0)->at_ns >= m->ttl_ns)
        ring_drop_oldest(s);
}

/* Makes room for one more entry unless the ring holds `size` already (the
 * oldest then makes way). On failure the ring is unchanged. */
static int ring_reserve(const memory_t *m, stream_t *s)
{
    size_t cap;
    entry_t *ring;

    if (s->count < s->cap || s->cap == m->size)
        return 0;
    cap = s->cap == 0 ? MIN_RING_CAP : 2 * s->cap;
    if (cap > m->size)
        cap = m->size;
    ring = wsr__malloc(cap * sizeof(*ring));
    if (ring == NULL)
        return WSR_ENOMEM;
    for (size_t i = 0; i < s->count; i++)
        ring[i] = *ring_at(s, i);
    wsr__free(s->ring);
    s->ring = ring;
    s->cap = cap;
    s->first = 0;
    return 0;
}

/* ---- topics ---- */

static stream_t *stream_new(const char *name, uint64_t h)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strlen(name);
    stream_t *s = wsr__calloc(1, sizeof(*s) + len + 1);
    unsigned char raw[EPOCH_BYTES];

    if (s == NULL)
        return NULL;
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        wsr__free(s);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        s->epoch[2 * i] = hex[raw[i] >> 4];
        s->epoch[2 * i + 1] = hex[raw[i] & 15];
    }
    memcpy(s->name, name, len + 1);
    s->hash = h;
    return s;
}

static void stream_free(stream_t *s)
{
    while (s->count > 0)
        ring_drop_oldest(s);
    wsr__free(s->ring);
    wsr__free(s);
}

static void shard_resize(shard_t *sh, size_t n)
{
    stream_t **b = wsr__calloc(n, sizeof(*b));

    if (b == NULL)
        return; /* a crowded table is only slower */
    for (size_t i = 0; i < sh->nbuckets; i++) {
        stream_t *s, *next;

        for (s = sh->buckets[i]; s != NULL; s = next) {
            next = s->next;
            s->next = b[s->hash & (n - 1)];
            b[s->hash & (n - 1)] = s;
        }
    }
    wsr__free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = n;
}

/* Forgets the shard's idle topics (see the file's comment). */
static void shard_sweep(memory_t *m, shard_t *sh, uint64_t now)
{
    for (size_t i = 0; i < sh->nbuckets; i++) {
        stream_t **link = &sh->buckets[i];

        while (*link != NULL) {
            stream_t *s = *link;

            ring_expire(m, s, now);
            if (s->count > 0 || now - s->used_ns < m->ttl_ns ||
                (m->cfg.in_use != NULL && m->cfg.in_use(m->cfg.user, s->name))) {
                link = &s->next;
                continue;
            }
            *link = s->next;
            stream_free(s);
            sh->n--;
        }
    }
    sh->sweep_at = sh->n < MIN_BUCKETS ? 2 * MIN_BUCKETS : 2 * sh->n;
}

/* The topic's record, created when absent; its shard is locked. NULL when
 * out of memory. */
static stream_t *get_stream(memory_t *m, shard_t *sh, const char *name, uint64_t h, uint64_t now)
{
    stream_t *s = sh->buckets[h & (sh->nbuckets - 1)];

    for (; s != NULL; s = s->next)
        if (s->hash == h && strcmp(s->name, name) == 0) {
            ring_expire(m, s, now);
            return s;
        }
    if (sh->n + 1 >= sh->sweep_at)
        shard_sweep(m, sh, now);
    s = stream_new(name, h);
    if (s == NULL)
        return NULL;
    s->next = sh->buckets[h & (sh->nbuckets - 1)];
    sh->buckets[h & (sh->nbuckets - 1)] = s;
    if (++sh->n > sh->nbuckets)
        shard_resize(sh, 2 * sh->nbuckets);
    return s;
}

static void position_of(const stream_t *s, wsr__position_t *pos)
{
    pos->offset = s->last;
    memcpy(pos->epoch, s->epoch, sizeof(s->epoch));
}

/* ---- the operations ---- */

/* Keeps the bytes `keep` holds (taken) as the entry at `offset`, in the room
 * ring_reserve made. */
static void keep_entry(const memory_t *m, stream_t *s, uint64_t offset, uint64_t now,
                       wsr__buf_t *keep)
{
    entry_t *e;

    if (m->size == 0) {
        wsr__buf_dispose(keep);
        return;
    }
    if (s->count == m->size)
        ring_drop_oldest(s);
    e = &s->ring[(s->first + s->count) % s->cap];
    e->offset = offset;
    e->at_ns = now;
    e->bytes = keep->data;
    e->n = keep->len;
    s->count++;
}

/*
 * Everything that can fail comes before the offset is given out: the record,
 * room in its ring, then deliver(). So a publication is either delivered
 * and kept, or refused with the topic as it was.
 */
static int memory_publish(wsr__history_t *h, const char *topic, wsr__history_deliver_fn deliver,
                          void *user)
{
    memory_t *m = (memory_t *)h;
    uint64_t hash = wsr__hash_str(topic), now = now_ns(m);
    shard_t *sh = shard_of(m, hash);
    wsr__position_t pos;
    wsr__buf_t keep;
    stream_t *s;
    int rc = WSR_ENOMEM;

    wsr__buf_init(&keep, 0, 0);
    pthread_mutex_lock(&sh->lock);
    s = get_stream(m, sh, topic, hash, now);
    if (s != NULL && ring_reserve(m, s) == 0) {
        position_of(s, &pos);
        pos.offset++;
        rc = deliver(&pos, &keep, user);
    }
    if (rc == 0) {
        s->last = pos.offset;
        s->used_ns = now;
        keep_entry(m, s, pos.offset, now, &keep);
    } else {
        wsr__buf_dispose(&keep);
    }
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

/*
 * Whether the ring holds every publication after `since`. A gap is covered
 * when the epochs match and the oldest kept entry is at most since + 1; a
 * client already at the topic's last offset has nothing to miss. An offset
 * ahead of the topic's cannot come from this history: not recovered.
 */
static bool covers(const stream_t *s, const wsr__position_t *since)
{
    if (strcmp(since->epoch, s->epoch) != 0 || since->offset > s->last)
        return false;
    if (since->offset == s->last)
        return true;
    return s->count > 0 && ring_at(s, 0)->offset <= since->offset + 1;
}

static int memory_subscribe(wsr__history_t *h, const char *topic, const wsr__position_t *since,
                            wsr__history_attach_fn attach, wsr__history_replay_fn replay,
                            void *user, wsr__position_t *now_pos, bool *recovered)
{
    memory_t *m = (memory_t *)h;
    uint64_t hash = wsr__hash_str(topic), now = now_ns(m);
    shard_t *sh = shard_of(m, hash);
    stream_t *s;
    int rc = WSR_ENOMEM;

    *recovered = false;
    pthread_mutex_lock(&sh->lock);
    s = get_stream(m, sh, topic, hash, now);
    if (s != NULL)
        rc = attach(user);
    if (rc == 0) {
        s->used_ns = now;
        position_of(s, now_pos);
        *recovered = since != NULL && covers(s, since);
        for (size_t i = 0; *recovered && i < s->count; i++) {
            const entry_t *e = ring_at(s, i);

            if (e->offset > since->offset)
                replay(e->bytes, e->n, user);
        }
    }
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

static void memory_free(wsr__history_t *h)
{
    memory_t *m = (memory_t *)h;

    for (size_t k = 0; k < NSHARDS; k++) {
        shard_t *sh = &m->shards[k];

        for (size_t i = 0; i < sh->nbuckets; i++) {
            stream_t *s, *next;

            for (s = sh->buckets[i]; s != NULL; s = next) {
                next = s->next;
                stream_free(s);
            }
        }
        wsr__free(sh->buckets);
        pthread_mutex_destroy(&sh->lock);
    }
    wsr__free(m);
}

wsr__history_t *wsr__history_memory_new(const wsr__history_memory_config_t *cfg)
{
    memory_t *m = wsr__calloc(1, sizeof(*m));
    size_t k;

    if (m == NULL)
        return NULL;
    m->base.ops = &memory_ops;
    m->cfg = *cfg;
    m->size = cfg->size;
    m->ttl_ns = (uint64_t)cfg->ttl_s * 1000000000ull;
    for (k = 0; k < NSHARDS; k++) {
        shard_t *sh = &m->shards[k];

        sh->buckets = wsr__calloc(MIN_BUCKETS, sizeof(*sh->buckets));
        if (sh->buckets == NULL || pthread_mutex_init(&sh->lock, NULL) != 0) {
            wsr__free(sh->buckets);
            break;
        }
        sh->nbuckets = MIN_BUCKETS;
        sh->sweep_at = 2 * MIN_BUCKETS;
    }
    if (k < NSHARDS) {
        while (k-- > 0) {
            wsr__free(m->shards[k].buckets);
            pthread_mutex_destroy(&m->shards[k].lock);
        }
        wsr__free(m);
        return NULL;
    }
    return &m->base;
}

void wsr__history_memory_stats(wsr__history_t *h, size_t *topics, size_t *kept)
{
    memory_t *m = (memory_t *)h;

    *topics = *kept = 0;
    for (size_t k = 0; k < NSHARDS; k++) {
        shard_t *sh = &m->shards[k];

        pthread_mutex_lock(&sh->lock);
        *topics += sh->n;
        for (size_t i = 0; i < sh->nbuckets; i++)
            for (const stream_t *s = sh->buckets[i]; s != NULL; s = s->next)
                *kept += s->count;
        pthread_mutex_unlock(&sh->lock);
    }
}
