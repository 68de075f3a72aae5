/* SPDX-License-Identifier: MIT */
/*
 * The subscription registry (PROTOCOL.md section 5): which connection ids
 * listen to which topic. Each subscription is one record indexed twice: by its
 * topic, in an open-addressing set keyed by connection id, and by its
 * connection, in a doubly linked list hanging off the connection's entry in a
 * second such set. So subscribing, unsubscribing and the per-connection bound
 * cost O(1) expected, and a closing connection visits only its own topics. A
 * topic also keeps its subscriber ids in a dense array, so that publication
 * copies them out with one memcpy. Every table grows and shrinks with what it
 * holds. The registry owns its topics, connection entries and subscriptions
 * behind one mutex; it never learns what the ids name.
 */
#include "services/topics_int.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>

#define MIN_BUCKETS 16 /* topic table; a power of two */
#define MIN_SLOTS   8  /* an id set; a power of two */
#define MIN_IDS     4  /* a topic's dense id array: what MIN_SLOTS holds half full */

typedef struct topic topic_t;

/* One slot of an id set; rec == NULL marks it empty. */
typedef struct slot {
    uint64_t key;
    void *rec; /* borrowed: from the set's owner */
} slot_t;

/* Open addressing with linear probing, kept between 1/8 and 1/2 full. */
typedef struct idset {
    slot_t *slots; /* owned */
    size_t cap;    /* a power of two, at least MIN_SLOTS */
    size_t n;
} idset_t;

/* Connection `id` listens to `topic`. */
typedef struct sub {
    uint64_t id;
    char *user;              /* owned: who subscribed (presence), or NULL */
    size_t pos;              /* where `id` sits in topic->ids */
    topic_t *topic;          /* borrowed: the topic whose set indexes it */
    struct sub *prev, *next; /* the connection's other subscriptions */
} sub_t;

/* A connection with at least one subscription. */
typedef struct conn {
    uint64_t id;
    size_t nsubs;
    sub_t *subs; /* owned: the list of its subscriptions */
} conn_t;

struct topic {
    topic_t *next; /* bucket chain */
    uint64_t hash;
    idset_t set;   /* connection id -> sub_t (borrowed: the connection's list owns it) */
    uint64_t *ids; /* owned: the set.n subscriber ids, in no order */
    size_t cap;    /* room in ids */
    char name[];   /* NUL-terminated */
};

struct wsr__topics {
    pthread_mutex_t lock;
    topic_t **buckets; /* owned, and so are the topics in the chains */
    size_t nbuckets;   /* a power of two */
    size_t ntopics;
    idset_t conns; /* connection id -> conn_t (owned) */
    size_t nsubs;
    size_t max_per_conn;
    size_t work; /* see wsr__topics_stats_t */
};

/* Connection ids are often sequential: mix them. */
static size_t hash_id(uint64_t x)
{
    return (size_t)wsr__hash_mix(x);
}

/* ---- id sets ---- */

static int idset_init(idset_t *s, size_t cap)
{
    s->slots = wsr__calloc(cap, sizeof(*s->slots));
    s->cap = cap;
    s->n = 0;
    return s->slots == NULL ? WSR_ENOMEM : 0;
}

/* The slot holding `key`, or the empty slot where it would go. */
static slot_t *idset_probe(const idset_t *s, uint64_t key, size_t *work)
{
    size_t mask = s->cap - 1;

    for (size_t i = hash_id(key) & mask;; i = (i + 1) & mask) {
        ++*work;
        if (s->slots[i].rec == NULL || s->slots[i].key == key)
            return &s->slots[i];
    }
}

static void *idset_get(const idset_t *s, uint64_t key, size_t *work)
{
    return idset_probe(s, key, work)->rec;
}

/* Rehashes into `cap` slots. On failure the set is unchanged. */
static int idset_resize(idset_t *s, size_t cap, size_t *work)
{
    idset_t next;

    if (idset_init(&next, cap) != 0)
        return WSR_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        ++*work;
        if (s->slots[i].rec != NULL)
            *idset_probe(&next, s->slots[i].key, work) = s->slots[i];
    }
    next.n = s->n;
    wsr__free(s->slots);
    *s = next;
    return 0;
}

/* Makes room for one more key, so that idset_put cannot fail. */
static int idset_reserve(idset_t *s, size_t *work)
{
    if ((s->n + 1) * 2 <= s->cap)
        return 0;
    return idset_resize(s, s->cap * 2, work);
}

/* Adds `key`, which is absent, in the room idset_reserve made. */
static void idset_put(idset_t *s, uint64_t key, void *rec, size_t *work)
{
    slot_t *slot = idset_probe(s, key, work);

    assert(slot->rec == NULL && rec != NULL);
    slot->key = key;
    slot->rec = rec;
    s->n++;
}

/*
 * Removes `key`, which is present. The entries after it in its run move back
 * into the hole when their home slot allows (backward-shift deletion), so there
 * are no tombstones and probes stay short however many keys come and go.
 */
static void idset_del(idset_t *s, uint64_t key, size_t *work)
{
    size_t mask = s->cap - 1;
    size_t hole = (size_t)(idset_probe(s, key, work) - s->slots);

    assert(s->slots[hole].rec != NULL);
    for (size_t j = (hole + 1) & mask; s->slots[j].rec != NULL; j = (j + 1) & mask) {
        size_t home = hash_id(s->slots[j].key) & mask;

        ++*work;
        /* The entry may fill the hole unless its home lies in (hole, j]. */
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole].rec = NULL;
    s->n--;
    if (s->cap > MIN_SLOTS && s->n * 8 < s->cap)
        (void)idset_resize(s, s->cap / 2, work); /* best effort: a sparse set only wastes room */
}

/* ---- topics ---- */

static topic_t *topic_new(const char *name, uint64_t h)
{
    size_t len = strlen(name);
    topic_t *tp = wsr__calloc(1, sizeof(*tp) + len + 1);

    if (tp == NULL)
        return NULL;
    memcpy(tp->name, name, len + 1);
    tp->hash = h;
    tp->cap = MIN_IDS;
    tp->ids = wsr__malloc(MIN_IDS * sizeof(*tp->ids));
    if (tp->ids == NULL || idset_init(&tp->set, MIN_SLOTS) != 0) {
        wsr__free(tp->ids);
        wsr__free(tp);
        return NULL;
    }
    return tp;
}

static void topic_free(topic_t *tp)
{
    if (tp == NULL)
        return;
    wsr__free(tp->set.slots);
    wsr__free(tp->ids);
    wsr__free(tp);
}

static topic_t *find_topic(wsr__topics_t *t, const char *name, uint64_t h)
{
    topic_t *tp = t->buckets[h & (t->nbuckets - 1)];

    for (; tp != NULL; tp = tp->next) {
        t->work++;
        if (tp->hash == h && strcmp(tp->name, name) == 0)
            break;
    }
    return tp;
}

/* Rehashes the chains into `n` buckets. */
static void resize_buckets(wsr__topics_t *t, size_t n)
{
    topic_t **b = wsr__calloc(n, sizeof(*b));

    if (b == NULL)
        return; /* a crowded or sparse table is only slower or larger, never wrong */
    for (size_t i = 0; i < t->nbuckets; i++) {
        topic_t *tp, *next;

        for (tp = t->buckets[i]; tp != NULL; tp = next) {
            next = tp->next;
            tp->next = b[tp->hash & (n - 1)];
            b[tp->hash & (n - 1)] = tp;
            t->work++;
        }
    }
    wsr__free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* Makes room for one more subscriber. On failure the topic is unchanged. */
static int topic_reserve(wsr__topics_t *t, topic_t *tp)
{
    if (tp->set.n == tp->cap) {
        uint64_t *ids = wsr__realloc(tp->ids, 2 * tp->cap * sizeof(*ids));

        if (ids == NULL)
            return WSR_ENOMEM;
        tp->ids = ids;
        tp->cap *= 2;
    }
    return idset_reserve(&tp->set, &t->work);
}

/* Takes `s` out of its topic's set and id array; the id that moves into its
 * place in the array tells its own subscription where it went. */
static void topic_remove(wsr__topics_t *t, topic_t *tp, const sub_t *s)
{
    size_t last;

    idset_del(&tp->set, s->id, &t->work);
    last = tp->set.n;
    if (s->pos != last) {
        sub_t *moved = idset_get(&tp->set, tp->ids[last], &t->work);

        moved->pos = s->pos;
        tp->ids[s->pos] = tp->ids[last];
    }
    if (tp->set.n > 0 && tp->cap > MIN_IDS && tp->set.n * 4 < tp->cap) {
        uint64_t *ids = wsr__realloc(tp->ids, tp->cap / 2 * sizeof(*ids));

        if (ids != NULL) { /* best effort, as in idset_del */
            tp->ids = ids;
            tp->cap /= 2;
        }
    }
}

/* Unlinks the topic, which has emptied, and frees it. */
static void topic_unlink(wsr__topics_t *t, topic_t *tp)
{
    topic_t **link = &t->buckets[tp->hash & (t->nbuckets - 1)];

    for (; *link != tp; link = &(*link)->next)
        t->work++;
    *link = tp->next;
    topic_free(tp);
    t->ntopics--;
    if (t->nbuckets > MIN_BUCKETS && t->ntopics * 8 < t->nbuckets)
        resize_buckets(t, t->nbuckets / 2);
}

/* ---- subscriptions ---- */

/* Removes subscription `s` of connection `c`; frees its topic, and `c`, when they empty. */
static void remove_sub(wsr__topics_t *t, conn_t *c, sub_t *s)
{
    topic_t *tp = s->topic;

    topic_remove(t, tp, s);
    if (tp->set.n == 0)
        topic_unlink(t, tp);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        c->subs = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    wsr__free(s->user);
    wsr__free(s);
    t->nsubs--;
    if (--c->nsubs == 0) {
        idset_del(&t->conns, c->id, &t->work);
        wsr__free(c);
    }
}

/*
 * Everything that can fail happens before the commit: the new records are
 * built in locals, and the tables that will take them make room first
 * (growing a table leaves what it holds unchanged). Nothing after the commit
 * can fail, so on WSR_ENOMEM the registry is as it was (STYLE O3).
 */
static int subscribe_locked(wsr__topics_t *t, const char *name, uint64_t id, const char *user)
{
    uint64_t h = wsr__hash_str(name);
    topic_t *tp = find_topic(t, name, h), *new_tp = NULL;
    conn_t *c = idset_get(&t->conns, id, &t->work), *new_c = NULL;
    sub_t *s;

    if (tp != NULL && idset_get(&tp->set, id, &t->work) != NULL)
        return 0;
    if (t->max_per_conn != 0 && c != NULL && c->nsubs >= t->max_per_conn)
        return WSR_EBUSY;
    if ((s = wsr__calloc(1, sizeof(*s))) == NULL)
        goto fail;
    if (user != NULL && (s->user = wsr__strdup(user)) == NULL)
        goto fail;
    if (tp == NULL && (tp = new_tp = topic_new(name, h)) == NULL)
        goto fail;
    if (c == NULL && (c = new_c = wsr__calloc(1, sizeof(*c))) == NULL)
        goto fail;
    if (new_tp == NULL && topic_reserve(t, tp) != 0)
        goto fail;
    if (new_c != NULL && idset_reserve(&t->conns, &t->work) != 0)
        goto fail;

    if (new_tp != NULL) {
        new_tp->next = t->buckets[h & (t->nbuckets - 1)];
        t->buckets[h & (t->nbuckets - 1)] = new_tp;
        t->ntopics++;
    }
    if (new_c != NULL) {
        new_c->id = id;
        idset_put(&t->conns, id, new_c, &t->work);
    }
    s->id = id;
    s->topic = tp;
    s->pos = tp->set.n;
    tp->ids[s->pos] = id;
    idset_put(&tp->set, id, s, &t->work);
    s->next = c->subs;
    if (c->subs != NULL)
        c->subs->prev = s;
    c->subs = s;
    c->nsubs++;
    t->nsubs++;
    if (t->ntopics > t->nbuckets)
        resize_buckets(t, t->nbuckets * 2);
    return 0;

fail:
    wsr__free(new_c);
    topic_free(new_tp);
    if (s != NULL)
        wsr__free(s->user);
    wsr__free(s);
    return WSR_ENOMEM;
}

/* ---- the API ---- */

wsr__topics_t *wsr__topics_new(size_t max_per_conn)
{
    wsr__topics_t *t = wsr__calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->buckets = wsr__calloc(MIN_BUCKETS, sizeof(*t->buckets));
    if (t->buckets == NULL || idset_init(&t->conns, MIN_SLOTS) != 0 ||
        pthread_mutex_init(&t->lock, NULL) != 0) {
        wsr__free(t->conns.slots);
        wsr__free(t->buckets);
        wsr__free(t);
        return NULL;
    }
    t->nbuckets = MIN_BUCKETS;
    t->max_per_conn = max_per_conn;
    return t;
}

void wsr__topics_free(wsr__topics_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->conns.cap; i++) {
        conn_t *c = t->conns.slots[i].rec;
        sub_t *s, *next;

        if (c == NULL)
            continue;
        for (s = c->subs; s != NULL; s = next) {
            next = s->next;
            wsr__free(s->user);
            wsr__free(s);
        }
        wsr__free(c);
    }
    for (size_t i = 0; i < t->nbuckets; i++) {
        topic_t *tp, *next;

        for (tp = t->buckets[i]; tp != NULL; tp = next) {
            next = tp->next;
            topic_free(tp);
        }
    }
    wsr__free(t->conns.slots);
    wsr__free(t->buckets);
    pthread_mutex_destroy(&t->lock);
    wsr__free(t);
}

int wsr__topics_subscribe(wsr__topics_t *t, const char *topic, uint64_t conn_id)
{
    return wsr__topics_subscribe_as(t, topic, conn_id, NULL);
}

int wsr__topics_subscribe_as(wsr__topics_t *t, const char *topic, uint64_t conn_id,
                             const char *user)
{
    int rc;

    pthread_mutex_lock(&t->lock);
    rc = subscribe_locked(t, topic, conn_id, user);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int wsr__topics_unsubscribe(wsr__topics_t *t, const char *topic, uint64_t conn_id)
{
    topic_t *tp;
    sub_t *s = NULL;

    pthread_mutex_lock(&t->lock);
    tp = find_topic(t, topic, wsr__hash_str(topic));
    if (tp != NULL && (s = idset_get(&tp->set, conn_id, &t->work)) != NULL)
        remove_sub(t, idset_get(&t->conns, conn_id, &t->work), s);
    pthread_mutex_unlock(&t->lock);
    return s != NULL ? 0 : WSR_ENOENT;
}

void wsr__topics_drop_conn(wsr__topics_t *t, uint64_t conn_id)
{
    conn_t *c;

    pthread_mutex_lock(&t->lock);
    c = idset_get(&t->conns, conn_id, &t->work);
    /* The last removal frees c: count down instead of testing c->subs. */
    for (size_t k = c != NULL ? c->nsubs : 0; k > 0; k--) {
        t->work++;
        remove_sub(t, c, c->subs);
    }
    pthread_mutex_unlock(&t->lock);
}

size_t wsr__topics_subscribers(wsr__topics_t *t, const char *topic, uint64_t **ids)
{
    topic_t *tp;
    size_t n = 0;

    *ids = NULL;
    pthread_mutex_lock(&t->lock);
    tp = find_topic(t, topic, wsr__hash_str(topic));
    if (tp != NULL && (*ids = wsr__malloc(tp->set.n * sizeof(**ids))) != NULL) {
        n = tp->set.n;
        memcpy(*ids, tp->ids, n * sizeof(**ids));
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t wsr__topics_count(wsr__topics_t *t, const char *topic)
{
    topic_t *tp;
    size_t n;

    pthread_mutex_lock(&t->lock);
    tp = find_topic(t, topic, wsr__hash_str(topic));
    n = tp != NULL ? tp->set.n : 0;
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t wsr__topics_members(wsr__topics_t *t, const char *topic, json_t *members)
{
    topic_t *tp;
    size_t n = 0;
    char key[24];

    pthread_mutex_lock(&t->lock);
    tp = find_topic(t, topic, wsr__hash_str(topic));
    for (size_t i = 0; tp != NULL && i < tp->set.n; i++) {
        const sub_t *s = idset_get(&tp->set, tp->ids[i], &t->work);

        snprintf(key, sizeof(key), "%llu", (unsigned long long)tp->ids[i]);
        n += json_object_set_new(members, key,
                                 s != NULL && s->user != NULL ? json_string(s->user)
                                                              : json_null()) == 0;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t wsr__topics_conn_topics(wsr__topics_t *t, uint64_t conn_id, char ***names)
{
    const conn_t *c;
    size_t n = 0;

    *names = NULL;
    pthread_mutex_lock(&t->lock);
    c = idset_get(&t->conns, conn_id, &t->work);
    if (c != NULL && (*names = wsr__calloc(c->nsubs, sizeof(**names))) != NULL) {
        for (const sub_t *s = c->subs; s != NULL; s = s->next)
            if (((*names)[n] = wsr__strdup(s->topic->name)) != NULL)
                n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t wsr__topics_list(wsr__topics_t *t, json_t *into, size_t max)
{
    size_t listed = 0, total;

    pthread_mutex_lock(&t->lock);
    total = t->ntopics;
    for (size_t b = 0; b < t->nbuckets && listed < max; b++)
        for (const topic_t *tp = t->buckets[b]; tp != NULL && listed < max; tp = tp->next)
            listed += json_object_set_new(into, tp->name, json_integer((json_int_t)tp->set.n)) == 0;
    pthread_mutex_unlock(&t->lock);
    return total;
}

size_t wsr__topics_conn_count(wsr__topics_t *t, uint64_t conn_id)
{
    const conn_t *c;
    size_t n;

    pthread_mutex_lock(&t->lock);
    c = idset_get(&t->conns, conn_id, &t->work);
    n = c != NULL ? c->nsubs : 0;
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t wsr__topics_max_per_conn(const wsr__topics_t *t)
{
    return t->max_per_conn; /* immutable: no lock */
}

void wsr__topics_stats(wsr__topics_t *t, wsr__topics_stats_t *out)
{
    pthread_mutex_lock(&t->lock);
    out->topics = t->ntopics;
    out->conns = t->conns.n;
    out->subscriptions = t->nsubs;
    out->slots = t->nbuckets + t->conns.cap;
    out->work = t->work;
    pthread_mutex_unlock(&t->lock);
}
