/* SPDX-License-Identifier: MIT */
/*
 * The Redis engine (engine_int.h; PROTOCOL.md section 11). Redis holds, per
 * topic T:
 *   wsr:t:T          hash {off, epoch}: the cluster-wide position (TTL history_ttl_s,
 *                    refreshed while any node has subscribers)
 *   wsr:h:T          stream of the last history_size publications, id "OFF-1"
 *   wsr:prn:T        set of the nodes with subscribers of T
 *   wsr:pr:T:NODE    hash connection id -> user name ("" anonymous), TTL 10 s
 *                    refreshed by the node's heartbeat: a dead node's entries expire
 * and wsr:nodes, the counter that gives each node its id. A publication is
 * one Lua script (atomic in Redis): next offset, history, PUBLISH on the
 * channel wsr:pub, so every node receives every topic's publications in
 * offset order. Pushes to another node's connection go on wsr:push:NODE.
 *
 * Threads: handlers call publish/subscribe/presence on the command
 * connection (cmd, under cmd_lock); the engine's own thread owns the
 * subscriber connection, delivers what arrives to this node's subscribers,
 * beats the heartbeat, and reconnects with backoff when Redis goes away,
 * then catches up each topic from the stream and re-registers presence.
 * `lock` guards the per-topic delivery state: a subscription attaches under
 * it, so each publication reaches it either in its replay or live, once.
 * Lock order: lock, then cmd_lock.
 */
#include "services/engine_int.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/codec_int.h"
#include "core/json_int.h"
#include "services/pubsub_int.h"
#include "services/redis_int.h"
#include "services/redisurl_int.h"
#include "services/topics_int.h"

#define BUCKETS       256
#define PRESENCE_MS   10000 /* a node's presence outlives its last heartbeat by this */
#define HEARTBEAT_MS  3000
#define BACKOFF_MIN   100
#define BACKOFF_MAX   2000
#define IO_TIMEOUT_MS 2000

/* Where this node stands on a topic it has subscribers of. */
typedef struct rtopic {
    struct rtopic *next;
    uint64_t delivered; /* the last offset delivered here */
    char epoch[WSR__EPOCH_MAX + 1];
    char name[];
} rtopic_t;

typedef struct redis_engine {
    wsr__engine_t base;
    wsr__redis_url_t url;
    unsigned node;
    char lease[WSR__EPOCH_MAX + 1]; /* the value of wsr:node:NODE: who holds the id */
    pthread_mutex_t lock;           /* the topics below, and delivery */
    rtopic_t *buckets[BUCKETS];
    pthread_mutex_t cmd_lock;
    redisContext *cmd; /* under cmd_lock; NULL while down */
    redisContext *sub; /* the thread's */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool up;
    /* Another node holds our id (taken while we could not renew it): the
     * engine stays down for good, and the node is to be restarted. */
    atomic_bool id_lost;
    atomic_uint_fast64_t reconnects, received;
} redis_engine_t;

/* ---- the scripts ---- */

/* KEYS: t, h, prn. ARGV: epoch candidate, history_size, ttl_s, event "\n" data, topic,
 * pr-key prefix. Returns {offset, epoch, subscribers}. */
static const char publish_lua[] =
    "if redis.call('HSETNX',KEYS[1],'epoch',ARGV[1])==1 then redis.call('DEL',KEYS[2]) end\n"
    "local off=redis.call('HINCRBY',KEYS[1],'off',1)\n"
    "local epoch=redis.call('HGET',KEYS[1],'epoch')\n"
    "redis.call('EXPIRE',KEYS[1],ARGV[3])\n"
    "local msg=off..' '..epoch..' '..#ARGV[5]..'\\n'..ARGV[5]..ARGV[4]\n"
    "if tonumber(ARGV[2])>0 then\n"
    "  redis.call('XADD',KEYS[2],'MAXLEN',ARGV[2],off..'-1','m',msg)\n"
    "  redis.call('EXPIRE',KEYS[2],ARGV[3])\n"
    "end\n"
    "redis.call('PUBLISH','wsr:pub',msg)\n"
    "local n=0\n"
    "for _,node in ipairs(redis.call('SMEMBERS',KEYS[3])) do\n"
    "  local h=redis.call('HLEN',ARGV[6]..node)\n"
    "  if h==0 then redis.call('SREM',KEYS[3],node) end\n"
    "  n=n+h\n"
    "end\n"
    "return {off,epoch,n}\n";

/* KEYS: wsr:node:N. ARGV: this node's lease, ms. Renews the lease when it is
 * ours, takes it again when it lapsed (an outage), and returns 0 when another
 * node holds it now. */
static const char lease_lua[] =
    "local v=redis.call('GET',KEYS[1])\n"
    "if v==ARGV[1] then redis.call('PEXPIRE',KEYS[1],ARGV[2]) return 1 end\n"
    "if not v then redis.call('SET',KEYS[1],ARGV[1],'PX',ARGV[2]) return 1 end\n"
    "return 0\n";

/* KEYS: t, h. ARGV: epoch candidate, ttl_s. Returns {offset, epoch}. */
static const char position_lua[] =
    "if redis.call('HSETNX',KEYS[1],'epoch',ARGV[1])==1 then redis.call('DEL',KEYS[2]) end\n"
    "redis.call('EXPIRE',KEYS[1],ARGV[2])\n"
    "return {tonumber(redis.call('HGET',KEYS[1],'off') or '0'),redis.call('HGET',KEYS[1],"
    "'epoch')}\n";

/* KEYS: prn. ARGV: pr-key prefix. Returns the user names ("" anonymous) of
 * every live node's subscribers, forgetting nodes whose entries expired. */
static const char presence_lua[] = "local out={}\n"
                                   "for _,node in ipairs(redis.call('SMEMBERS',KEYS[1])) do\n"
                                   "  local h=redis.call('HVALS',ARGV[1]..node)\n"
                                   "  if #h==0 then redis.call('SREM',KEYS[1],node) end\n"
                                   "  for i=1,#h do out[#out+1]=h[i] end\n"
                                   "end\n"
                                   "return out\n";

/* ---- small helpers ---- */

static uint64_t now_ms(void)
{
    return wsr__now_ns() / 1000000u;
}

static int new_epoch(char out[WSR__EPOCH_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[8];

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return WSR_ENOMEM;
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * sizeof(raw)] = '\0';
    return 0;
}

/* Key names: "wsr:" kind ":" topic [":" node]; "pr" without a node gives the
 * prefix of the per-node keys, "wsr:pr:" topic ":". */
static char *key(const char *kind, const char *topic, unsigned node)
{
    size_t n = strlen(kind) + strlen(topic) + 32;
    char *k = wsr__malloc(n);

    if (k == NULL)
        return NULL;
    if (node != 0)
        snprintf(k, n, "wsr:%s:%s:%u", kind, topic, node);
    else if (strcmp(kind, "pr") == 0)
        snprintf(k, n, "wsr:pr:%s:", topic);
    else
        snprintf(k, n, "wsr:%s:%s", kind, topic);
    return k;
}

static size_t hash_topic(const char *name)
{
    return (size_t)wsr__hash_str(name) & (BUCKETS - 1);
}

static rtopic_t *topic_find(redis_engine_t *r, const char *name)
{
    for (rtopic_t *t = r->buckets[hash_topic(name)]; t != NULL; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

static rtopic_t *topic_add(redis_engine_t *r, const char *name)
{
    size_t len = strlen(name), h = hash_topic(name);
    rtopic_t *t = wsr__calloc(1, sizeof(*t) + len + 1);

    if (t == NULL)
        return NULL;
    memcpy(t->name, name, len + 1);
    t->next = r->buckets[h];
    r->buckets[h] = t;
    return t;
}

/* Forgets `name` when this node has no subscriber of it left. Under lock. */
static void topic_forget_if_unused(redis_engine_t *r, const char *name)
{
    rtopic_t **p = &r->buckets[hash_topic(name)];

    if (wsr__topics_count(wsr__pubsub_topics(r->base.f->pubsub), name) > 0)
        return;
    for (; *p != NULL; p = &(*p)->next) {
        if (strcmp((*p)->name, name) == 0) {
            rtopic_t *gone = *p;

            *p = gone->next;
            wsr__free(gone);
            return;
        }
    }
}

/* ---- connections ---- */

static redisContext *dial(const redis_engine_t *r, char *why, size_t whylen)
{
    struct timeval tv = {IO_TIMEOUT_MS / 1000, (IO_TIMEOUT_MS % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(r->url.host, r->url.port, tv);
    redisReply *rep = NULL;

    if (c == NULL || c->err) {
        snprintf(why, whylen, "%s", c != NULL ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    (void)redisSetTimeout(c, tv);
    (void)redisEnableKeepAlive(c);
    if (r->url.password[0] != '\0') {
        rep = r->url.user[0] != '\0' ? redisCommand(c, "AUTH %s %s", r->url.user, r->url.password)
                                     : redisCommand(c, "AUTH %s", r->url.password);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            snprintf(why, whylen, "AUTH refused: %s", rep != NULL ? rep->str : c->errstr);
            goto fail;
        }
        freeReplyObject(rep);
    }
    if (r->url.db != 0) {
        rep = redisCommand(c, "SELECT %d", r->url.db);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            snprintf(why, whylen, "SELECT %d refused: %s", r->url.db,
                     rep != NULL ? rep->str : c->errstr);
            goto fail;
        }
        freeReplyObject(rep);
    }
    return c;
fail:
    if (rep != NULL)
        freeReplyObject(rep);
    redisFree(c);
    return NULL;
}

/* Runs a command on the command connection; NULL (and the engine marked
 * down) when Redis cannot be reached. The caller holds cmd_lock. */
static redisReply *command(redis_engine_t *r, int argc, const char **argv, const size_t *lens)
{
    redisReply *rep;

    if (r->cmd == NULL || !atomic_load(&r->up))
        return NULL;
    rep = redisCommandArgv(r->cmd, argc, argv, lens);
    if (rep == NULL) {
        atomic_store(&r->up, false);
        wsr__log(r->base.f, WSR_LOG_WARN, "engine: lost Redis at %s:%d: %s", r->url.host,
                 r->url.port, r->cmd->errstr);
        redisFree(r->cmd);
        r->cmd = NULL;
    }
    return rep;
}

/* Reads the `n` replies of pipelined commands (redisAppendCommand), dropping
 * them; on a broken connection marks the engine down. The caller holds
 * cmd_lock. Returns whether all came. */
static bool drain(redis_engine_t *r, size_t n)
{
    bool ok = true;

    for (size_t i = 0; i < n && ok; i++) {
        void *rep = NULL;

        ok = redisGetReply(r->cmd, &rep) == REDIS_OK;
        if (rep != NULL)
            freeReplyObject(rep);
    }
    if (!ok) {
        atomic_store(&r->up, false);
        redisFree(r->cmd);
        r->cmd = NULL;
    }
    return ok;
}

static redisReply *command_locked(redis_engine_t *r, int argc, const char **argv,
                                  const size_t *lens)
{
    redisReply *rep;

    pthread_mutex_lock(&r->cmd_lock);
    rep = command(r, argc, argv, lens);
    pthread_mutex_unlock(&r->cmd_lock);
    return rep;
}

/* Runs `script` with `nkeys` keys then the other args (NUL-terminated strings but
 * for args[i] with lens[i] != 0). */
static int eval_argv(const char *script, int nkeys, int nargs, const char **args,
                     const size_t *lens, const char *argv[16], size_t l[16], char nk[8])
{
    nargs = WSR__MIN(nargs, 13);
    snprintf(nk, 8, "%d", nkeys);
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = nk;
    for (int i = 0; i < nargs; i++) {
        argv[3 + i] = args[i];
        l[3 + i] = lens != NULL && lens[i] != 0 ? lens[i] : strlen(args[i]);
    }
    l[0] = 4;
    l[1] = strlen(script);
    l[2] = strlen(nk);
    return 3 + nargs;
}

static redisReply *eval(redis_engine_t *r, const char *script, int nkeys, int nargs,
                        const char **args, const size_t *lens)
{
    const char *argv[16];
    size_t l[16];
    char nk[8];
    int argc = eval_argv(script, nkeys, nargs, args, lens, argv, l, nk);

    return command_locked(r, argc, argv, l);
}

static bool is_int(const redisReply *rep)
{
    return rep != NULL && rep->type == REDIS_REPLY_INTEGER;
}

/* ---- commands a handler on an event loop sends without waiting ---- */

/* A command copied for the engine's queue (transport.offload): a handler
 * running on an event loop must not wait on Redis (a stalled Redis would
 * stall every connection of its loop), so its publication or push goes
 * there, in order, and the handler goes on at once. */
typedef struct later {
    redis_engine_t *r;
    bool publication; /* else a push */
    int argc;
    const char *argv[16];
    size_t lens[16];
    char bytes[]; /* the arguments, each followed by a NUL */
} later_t;

static void later_run(void *arg)
{
    later_t *l = arg;
    redisReply *rep = command_locked(l->r, l->argc, l->argv, l->lens);
    bool ok = rep != NULL && (l->publication ? rep->type == REDIS_REPLY_ARRAY && rep->elements == 3
                                             : rep->type == REDIS_REPLY_INTEGER);

    /* Nobody to tell but the log: the handler was answered long ago. */
    if (!ok)
        wsr__log(l->r->base.f, WSR_LOG_ERR, "engine: a %s sent from an event loop failed: %s",
                 l->publication ? "publication" : "push",
                 /* Sent but unanswered: Redis may still carry it out. */
                 rep == NULL ? "Redis did not answer (it may yet have been carried out)"
                 : rep->type == REDIS_REPLY_ERROR ? rep->str
                                                  : "unexpected reply");
    if (rep != NULL)
        freeReplyObject(rep);
    wsr__free(l);
}

static void later_cancel(void *arg)
{
    later_t *l = arg;

    wsr__log(l->r->base.f, WSR_LOG_WARN,
             "engine: a %s sent from an event loop was dropped: "
             "the server stopped first",
             l->publication ? "publication" : "push");
    wsr__free(l);
}

/*
 * When the caller is an event loop, queues the command argv[0..argc) (lens:
 * their lengths) on the engine's queue and returns 0, WSR_EBUSY (full) or
 * WSR_ENOMEM; on any other thread returns WSR_ENOENT: the caller sends it
 * itself and waits.
 */
static int send_later(redis_engine_t *r, bool publication, int argc, const char **argv,
                      const size_t *lens)
{
    wsr_factory_t *f = r->base.f;
    size_t total = 0;
    later_t *l;
    char *p;
    int rc;

    if (f->transport.on_loop == NULL || !f->transport.on_loop() || argc > 16)
        return WSR_ENOENT;
    for (int i = 0; i < argc; i++)
        total += lens[i] + 1;
    l = wsr__malloc(sizeof(*l) + total);
    if (l == NULL)
        return WSR_ENOMEM;
    l->r = r;
    l->publication = publication;
    l->argc = argc;
    p = l->bytes;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i], lens[i]);
        p[lens[i]] = '\0';
        l->argv[i] = p;
        l->lens[i] = lens[i];
        p += lens[i] + 1;
    }
    rc = f->transport.offload(f->transport.ctx, later_run, later_cancel, l);
    if (rc != 0)
        wsr__free(l);
    return rc;
}

static bool is_str(const redisReply *rep)
{
    return rep != NULL && (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS);
}

/* ---- publications as they travel (engine_int.h) ---- */

int wsr__engine_parse_publication(const char *m, size_t n, wsr__wire_pub_t *p)
{
    const char *end = m + n, *nl = n > 0 ? memchr(m, '\n', n) : NULL, *ev, *evnl;
    unsigned long long off, tlen;
    int used = 0;

    if (nl == NULL || nl - m > 120)
        return WSR_EPARSE;
    {
        char head[128];

        memcpy(head, m, (size_t)(nl - m));
        head[nl - m] = '\0';
        if (sscanf(head, "%llu %64s %llu%n", &off, p->epoch, &tlen, &used) != 3 || used != nl - m)
            return WSR_EPARSE;
    }
    if (tlen > (unsigned long long)(end - nl - 1))
        return WSR_EPARSE;
    p->offset = off;
    p->topic = nl + 1;
    p->topic_len = (size_t)tlen;
    ev = p->topic + tlen;
    evnl = memchr(ev, '\n', (size_t)(end - ev));
    if (evnl == NULL || (size_t)(evnl - ev) >= sizeof(p->event))
        return WSR_EPARSE;
    memcpy(p->event, ev, (size_t)(evnl - ev));
    p->event[evnl - ev] = '\0';
    p->data = evnl + 1;
    p->data_len = (size_t)(end - evnl - 1);
    return 0;
}

/* Delivers one publication of topic `t` to this node's subscribers (or to
 * connection `only` when not 0: a replay). Under lock. */
static void deliver_one(redis_engine_t *r, const char *topic, const wsr__wire_pub_t *p,
                        uint64_t only)
{
    wsr_factory_t *f = r->base.f;
    json_error_t jerr;
    json_t *data =
        p->data_len == 0 ? NULL : json_loadb(p->data, p->data_len, JSON_DECODE_ANY, &jerr);
    wsr__buf_t keep;
    size_t sent = 0;
    int push_rc = 0;

    wsr__buf_init(&keep, 0, 0);
    if (only != 0) {
        if (wsr__codec_encode_publication(&keep, p->event, topic, p->offset, p->epoch, data) == 0)
            (void)f->transport.push(f->transport.ctx, only, keep.data, keep.len);
    } else {
        (void)wsr__engine_fan_out(f, topic, p->event, p->offset, p->epoch, data, &keep, &sent,
                                  &push_rc);
    }
    wsr__buf_dispose(&keep);
    json_decref(data);
}

/*
 * Reads the kept publications of `topic` after `from` up to `to` and
 * delivers them (to `only`, or to every subscriber here). Returns how many
 * it delivered, or -1 when Redis could not be asked. Under lock.
 */
static long replay_range(redis_engine_t *r, const char *topic, uint64_t from, uint64_t to,
                         uint64_t only)
{
    char *hk = key("h", topic, 0), lo[32], hi[32];
    const char *argv[4] = {"XRANGE", hk, lo, hi};
    redisReply *rep;
    long n = 0;
    uint64_t expect = from + 1;

    if (hk == NULL)
        return -1;
    snprintf(lo, sizeof(lo), "%" PRIu64 "-1", from + 1);
    snprintf(hi, sizeof(hi), "%" PRIu64 "-1", to);
    rep = command_locked(r, 4, argv, NULL);
    wsr__free(hk);
    if (rep == NULL)
        return -1;
    if (rep->type == REDIS_REPLY_ERROR) { /* refused (NOPERM, LOADING...): nothing read */
        freeReplyObject(rep);
        return -1;
    }
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *e = rep->element[i], *fields;
        wsr__wire_pub_t p;

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        fields = e->element[1];
        if (fields->type != REDIS_REPLY_ARRAY || fields->elements != 2 ||
            wsr__engine_parse_publication(fields->element[1]->str, fields->element[1]->len, &p) !=
                0 ||
            p.offset != expect)
            break; /* a hole: the rest cannot be in order */
        deliver_one(r, topic, &p, only);
        expect++;
        n++;
    }
    freeReplyObject(rep);
    return n;
}

/* ---- the engine thread: what arrives ---- */

/* A publication from wsr:pub. */
static void on_publication(redis_engine_t *r, const char *m, size_t n)
{
    wsr__wire_pub_t p;
    char topic[WSR__TOPIC_MAX + 1];
    rtopic_t *t;

    if (wsr__engine_parse_publication(m, n, &p) != 0 || p.topic_len > WSR__TOPIC_MAX)
        return;
    memcpy(topic, p.topic, p.topic_len);
    topic[p.topic_len] = '\0';
    pthread_mutex_lock(&r->lock);
    t = topic_find(r, topic);
    if (t != NULL) {
        if (strcmp(t->epoch, p.epoch) != 0) { /* Redis lost the topic: a new history */
            memcpy(t->epoch, p.epoch, sizeof(t->epoch));
            t->delivered = 0;
        }
        if (p.offset > t->delivered + 1 &&
            replay_range(r, topic, t->delivered, p.offset - 1, 0) < 0) {
            /* The gap could not be read: nothing goes out past it. The
             * engine counts as down, and the catch-up after reconnecting
             * delivers the gap and this publication in order. */
            atomic_store(&r->up, false);
        } else if (p.offset > t->delivered) {
            deliver_one(r, topic, &p, 0);
            t->delivered = p.offset;
        }
    }
    pthread_mutex_unlock(&r->lock);
}

/* A push from wsr:push:NODE: "ID\nJSON". */
static void on_push(redis_engine_t *r, const char *m, size_t n)
{
    wsr_factory_t *f = r->base.f;
    const char *nl = memchr(m, '\n', n);
    char idbuf[24];
    size_t len = nl != NULL ? (size_t)(nl - m) : 0;

    if (nl == NULL || len == 0 || len >= sizeof(idbuf) || f->transport.push == NULL)
        return;
    memcpy(idbuf, m, len);
    idbuf[len] = '\0';
    (void)f->transport.push(f->transport.ctx, strtoull(idbuf, NULL, 10), nl + 1, n - len - 1);
}

static void on_message(redis_engine_t *r, const redisReply *rep)
{
    const redisReply *ch, *msg;

    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING || strcmp(rep->element[0]->str, "message") != 0)
        return;
    ch = rep->element[1];
    msg = rep->element[2];
    if (ch->type != REDIS_REPLY_STRING || msg->type != REDIS_REPLY_STRING)
        return;
    atomic_fetch_add(&r->received, 1);
    if (strcmp(ch->str, "wsr:pub") == 0)
        on_publication(r, msg->str, msg->len);
    else
        on_push(r, msg->str, msg->len);
}

/* ---- presence and catching up ---- */

/* (Re)writes this node's presence entries for `t`. Under lock. */
static int presence_write(redis_engine_t *r, const char *topic)
{
    json_t *members = json_object(), *v;
    char *pk = key("pr", topic, r->node), *prn = key("prn", topic, 0), node[16], ttl[16];
    const char *k;
    int rc = WSR_ENOMEM;

    if (members == NULL || pk == NULL || prn == NULL)
        goto done;
    (void)wsr__topics_members(wsr__pubsub_topics(r->base.f->pubsub), topic, members);
    snprintf(node, sizeof(node), "%u", r->node);
    snprintf(ttl, sizeof(ttl), "%d", PRESENCE_MS);
    rc = WSR_ECONNECT;
    pthread_mutex_lock(&r->cmd_lock);
    if (r->cmd == NULL || !atomic_load(&r->up)) {
        pthread_mutex_unlock(&r->cmd_lock);
        goto done;
    }
    redisAppendCommand(r->cmd, "DEL %s", pk);
    json_object_foreach(members, k, v)
    {
        redisAppendCommand(r->cmd, "HSET %s %s %s", pk, k,
                           json_is_string(v) ? json_string_value(v) : "");
    }
    redisAppendCommand(r->cmd, "SADD %s %s", prn, node);
    redisAppendCommand(r->cmd, "PEXPIRE %s %s", pk, ttl);
    redisAppendCommand(r->cmd, "PEXPIRE %s %s", prn, ttl);
    rc = drain(r, json_object_size(members) + 4) ? 0 : WSR_ECONNECT;
    pthread_mutex_unlock(&r->cmd_lock);
done:
    json_decref(members);
    wsr__free(pk);
    wsr__free(prn);
    return rc;
}

/* Reads the topic's position (making its epoch when new). Returns 0 or WSR_ECONNECT. */
static int position(redis_engine_t *r, const char *topic, wsr__position_t *pos)
{
    char *tk = key("t", topic, 0), *hk = key("h", topic, 0), cand[WSR__EPOCH_MAX + 1], ttl[16];
    const char *args[4] = {tk, hk, cand, ttl};
    redisReply *rep = NULL;
    int rc = WSR_ENOMEM;

    if (tk != NULL && hk != NULL && new_epoch(cand) == 0) {
        snprintf(ttl, sizeof(ttl), "%u", r->base.f->settings.history_ttl_s);
        rep = eval(r, position_lua, 2, 4, args, NULL);
        rc = WSR_ECONNECT;
    }
    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        is_int(rep->element[0]) && is_str(rep->element[1]) &&
        rep->element[1]->len <= WSR__EPOCH_MAX) {
        pos->offset = (uint64_t)rep->element[0]->integer;
        memcpy(pos->epoch, rep->element[1]->str, rep->element[1]->len + 1);
        rc = 0;
    }
    if (rep != NULL)
        freeReplyObject(rep);
    wsr__free(tk);
    wsr__free(hk);
    return rc;
}

/* After a reconnection: each topic catches up from the stream what it
 * missed (none twice: `delivered` says where it was), and presence is
 * written anew. Returns 0 or WSR_ECONNECT. */
static int catch_up(redis_engine_t *r)
{
    int rc = 0;

    pthread_mutex_lock(&r->lock);
    for (size_t b = 0; b < BUCKETS && rc == 0; b++) {
        for (rtopic_t *t = r->buckets[b]; t != NULL && rc == 0; t = t->next) {
            wsr__position_t pos;

            rc = position(r, t->name, &pos);
            if (rc != 0)
                break;
            if (strcmp(pos.epoch, t->epoch) != 0) {
                memcpy(t->epoch, pos.epoch, sizeof(t->epoch));
                t->delivered = 0;
            }
            if (pos.offset > t->delivered) {
                /* A failed read keeps `delivered`: the next catch-up (after
                 * the backoff) tries the same range again, and nothing is
                 * skipped. What the history no longer holds is lost. */
                if (replay_range(r, t->name, t->delivered, pos.offset, 0) < 0)
                    rc = WSR_ECONNECT;
                else
                    t->delivered = pos.offset;
            }
            if (rc == 0)
                rc = presence_write(r, t->name);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/*
 * Renews this node's id lease (lease_lua). Returns 1, -1 when Redis could not
 * be asked, or 0 when another node took the id (it lapsed while this node
 * could not renew it): connection ids made with it are live on both, so this
 * node's engine stays down, for good, and says why. The caller holds cmd_lock.
 */
static int renew_lease(redis_engine_t *r)
{
    char k[32], ttl[16];
    const char *argv[6] = {"EVAL", lease_lua, "1", k, r->lease, ttl};
    redisReply *rep;
    int ok;

    snprintf(k, sizeof(k), "wsr:node:%u", r->node);
    snprintf(ttl, sizeof(ttl), "%d", PRESENCE_MS);
    rep = command(r, 6, argv, NULL);
    if (rep == NULL)
        return -1;
    ok = rep->type == REDIS_REPLY_INTEGER ? rep->integer == 1 : -1;
    freeReplyObject(rep);
    if (ok == 0 && !atomic_exchange(&r->id_lost, true)) {
        atomic_store(&r->up, false);
        wsr__log(r->base.f, WSR_LOG_ERR,
                 "engine: node id %u was taken by another node while this one could not renew "
                 "it; the engine stays down (503) until this node is restarted",
                 r->node);
    }
    return ok;
}

/* Refreshes this node's presence and its topics' positions. Under nothing. */
static void heartbeat(redis_engine_t *r)
{
    char node[16];

    snprintf(node, sizeof(node), "%u", r->node);
    pthread_mutex_lock(&r->lock);
    pthread_mutex_lock(&r->cmd_lock);
    if (r->cmd != NULL && atomic_load(&r->up) && renew_lease(r) == 1) {
        size_t n = 0;

        for (size_t b = 0; b < BUCKETS; b++) {
            for (rtopic_t *t = r->buckets[b]; t != NULL; t = t->next) {
                redisAppendCommand(r->cmd, "PEXPIRE wsr:pr:%s:%u %d", t->name, r->node,
                                   PRESENCE_MS);
                redisAppendCommand(r->cmd, "SADD wsr:prn:%s %s", t->name, node);
                /* The topic's node set lives as long as some node renews
                 * it: once every node has left or died it goes. */
                redisAppendCommand(r->cmd, "PEXPIRE wsr:prn:%s %d", t->name, PRESENCE_MS);
                redisAppendCommand(r->cmd, "EXPIRE wsr:t:%s %u", t->name,
                                   r->base.f->settings.history_ttl_s);
                n += 4;
            }
        }
        (void)drain(r, n);
    }
    pthread_mutex_unlock(&r->cmd_lock);
    pthread_mutex_unlock(&r->lock);
}

/* Opens both connections and subscribes. Returns 0 or WSR_ECONNECT with `why`. */
static int connect_all(redis_engine_t *r, char *why, size_t whylen)
{
    redisContext *cmd = dial(r, why, whylen), *sub = cmd != NULL ? dial(r, why, whylen) : NULL;
    redisReply *rep;
    char push[32];

    if (sub == NULL) {
        redisFree(cmd);
        return WSR_ECONNECT;
    }
    snprintf(push, sizeof(push), "wsr:push:%u", r->node);
    rep = redisCommand(sub, "SUBSCRIBE wsr:pub %s", push);
    if (rep != NULL) {
        freeReplyObject(rep);
        rep = NULL;
        if (redisGetReply(sub, (void **)&rep) == REDIS_OK && rep != NULL) {
            freeReplyObject(rep);
            pthread_mutex_lock(&r->cmd_lock);
            redisFree(r->cmd);
            r->cmd = cmd;
            pthread_mutex_unlock(&r->cmd_lock);
            redisFree(r->sub);
            r->sub = sub;
            return 0;
        }
    }
    snprintf(why, whylen, "SUBSCRIBE failed: %s", sub->errstr);
    redisFree(sub);
    redisFree(cmd);
    return WSR_ECONNECT;
}

static void lose(redis_engine_t *r, const char *why)
{
    if (atomic_exchange(&r->up, false) || r->sub != NULL)
        wsr__log(r->base.f, WSR_LOG_WARN, "engine: Redis at %s:%d unreachable (%s); retrying",
                 r->url.host, r->url.port, why);
    redisFree(r->sub);
    r->sub = NULL;
    pthread_mutex_lock(&r->cmd_lock);
    redisFree(r->cmd);
    r->cmd = NULL;
    pthread_mutex_unlock(&r->cmd_lock);
}

/* Sleeps up to `ms`, waking early to stop. */
static void nap(redis_engine_t *r, unsigned ms)
{
    for (unsigned slept = 0; slept < ms && !atomic_load(&r->stop); slept += 50) {
        struct timespec ts = {0, 50 * 1000000L};

        nanosleep(&ts, NULL);
    }
}

static void *engine_main(void *arg)
{
    redis_engine_t *r = arg;
    unsigned backoff = BACKOFF_MIN;
    uint64_t last_beat = now_ms();
    char why[256];

    while (!atomic_load(&r->stop)) {
        void *rep = NULL;
        struct pollfd pfd;
        int lease;

        if (atomic_load(&r->id_lost)) {
            if (r->sub != NULL)
                lose(r, "its node id was taken by another node");
            nap(r, 1000);
            continue;
        }
        if (r->sub == NULL) {
            if (connect_all(r, why, sizeof(why)) != 0) {
                nap(r, backoff);
                backoff = WSR__MIN(backoff * 2, BACKOFF_MAX);
                continue;
            }
            atomic_store(&r->up, true);
            if (catch_up(r) != 0) {
                /* Reachable but refusing (out of memory, read-only, loading):
                 * the same backoff as an unreachable Redis, not a tight loop. */
                lose(r, "catching up failed");
                nap(r, backoff);
                backoff = WSR__MIN(backoff * 2, BACKOFF_MAX);
                continue;
            }
            /* The id may have lapsed during the outage: still ours? */
            pthread_mutex_lock(&r->cmd_lock);
            lease = renew_lease(r);
            pthread_mutex_unlock(&r->cmd_lock);
            if (lease != 1) {
                if (lease < 0) {
                    lose(r, "renewing the node id failed");
                    nap(r, backoff);
                    backoff = WSR__MIN(backoff * 2, BACKOFF_MAX);
                }
                continue;
            }
            backoff = BACKOFF_MIN;
            atomic_fetch_add(&r->reconnects, 1);
            wsr__log(r->base.f, WSR_LOG_NOTICE, "engine: Redis at %s:%d reachable again",
                     r->url.host, r->url.port);
        }
        if (redisGetReplyFromReader(r->sub, &rep) != REDIS_OK) {
            lose(r, "bad reply");
            continue;
        }
        if (rep != NULL) {
            on_message(r, rep);
            freeReplyObject(rep);
            continue;
        }
        if (!atomic_load(&r->up)) {
            lose(r, "command failed");
            continue;
        }
        if (now_ms() - last_beat >= HEARTBEAT_MS) {
            heartbeat(r);
            last_beat = now_ms();
        }
        pfd.fd = r->sub->fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, 200) > 0 && redisBufferRead(r->sub) != REDIS_OK)
            lose(r, r->sub->errstr[0] != '\0' ? r->sub->errstr : "closed");
    }
    return NULL;
}

/* ---- the operations ---- */

static redis_engine_t *R(wsr__engine_t *e)
{
    return (redis_engine_t *)e;
}

static int redis_publish(wsr__engine_t *e, const char *topic, const char *event_name, json_t *data,
                         size_t *delivered)
{
    redis_engine_t *r = R(e);
    char *tk = key("t", topic, 0), *hk = key("h", topic, 0), *prn = key("prn", topic, 0),
         *prefix = key("pr", topic, 0), cand[WSR__EPOCH_MAX + 1], size[16], ttl[16];
    wsr__buf_t body;
    redisReply *rep = NULL;
    int rc = WSR_ENOMEM;

    *delivered = 0;
    wsr__buf_init(&body, 0, 0);
    if (!atomic_load(&r->up))
        rc = WSR_ECONNECT;
    else if (tk != NULL && hk != NULL && prn != NULL && prefix != NULL && new_epoch(cand) == 0 &&
             wsr__buf_printf(&body, "%s\n", event_name) == 0 &&
             (data == NULL || wsr__json_dump(&body, data) == 0)) {
        const char *args[9] = {tk,    hk,    prn, cand, size, ttl, (const char *)body.data,
                               topic, prefix};
        size_t lens[9] = {0}, l[16];
        const char *argv[16];
        char nk[8];
        int argc;

        lens[6] = body.len;
        snprintf(size, sizeof(size), "%u", e->f->settings.history_size);
        snprintf(ttl, sizeof(ttl), "%u", e->f->settings.history_ttl_s);
        argc = eval_argv(publish_lua, 3, 9, args, lens, argv, l, nk);
        /* From an event loop: queued, its outcome logged (send_later). */
        rc = send_later(r, true, argc, argv, l);
        if (rc == WSR_ENOENT) {
            rep = command_locked(r, argc, argv, l);
            rc = WSR_ECONNECT;
        }
    }
    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        is_int(rep->element[2])) {
        *delivered = (size_t)rep->element[2]->integer;
        rc = 0;
    } else if (rep != NULL) {
        bool error = rep->type == REDIS_REPLY_ERROR;

        wsr__log(e->f, WSR_LOG_ERR, "engine: publish refused: %s",
                 error ? rep->str : "unexpected reply");
        /* Redis up but not serving (loading, out of memory, a replica): 503. */
        rc = error && wsr__redis_error_unavailable(rep->str) ? WSR_ECONNECT : WSR_EIO;
    }
    if (rep != NULL)
        freeReplyObject(rep);
    wsr__buf_dispose(&body);
    wsr__free(tk);
    wsr__free(hk);
    wsr__free(prn);
    wsr__free(prefix);
    return rc;
}

/* Adds one subscriber to this node's presence entries for `topic`. */
static void presence_add(redis_engine_t *r, const char *topic, uint64_t id, const char *user)
{
    char *pk = key("pr", topic, r->node), *prn = key("prn", topic, 0);

    pthread_mutex_lock(&r->cmd_lock);
    if (pk != NULL && prn != NULL && r->cmd != NULL && atomic_load(&r->up)) {
        redisAppendCommand(r->cmd, "HSET %s %" PRIu64 " %s", pk, id, user != NULL ? user : "");
        redisAppendCommand(r->cmd, "SADD %s %u", prn, r->node);
        redisAppendCommand(r->cmd, "PEXPIRE %s %d", pk, PRESENCE_MS);
        (void)drain(r, 3);
    }
    pthread_mutex_unlock(&r->cmd_lock);
    wsr__free(pk);
    wsr__free(prn);
}

static void presence_forget(redis_engine_t *r, const char *topic, uint64_t id)
{
    char *pk = key("pr", topic, r->node), idbuf[24];
    const char *argv[3] = {"HDEL", pk, idbuf};
    redisReply *rep;

    if (pk == NULL)
        return;
    snprintf(idbuf, sizeof(idbuf), "%" PRIu64, id);
    rep = command_locked(r, 3, argv, NULL);
    if (rep != NULL)
        freeReplyObject(rep);
    wsr__free(pk);
}

static int redis_subscribe(wsr__engine_t *e, const char *topic, uint64_t id, const char *user,
                           const wsr__position_t *since, wsr__position_t *now, bool *recovered)
{
    redis_engine_t *r = R(e);
    wsr__topics_t *topics = wsr__pubsub_topics(e->f->pubsub);
    wsr__position_t pos;
    rtopic_t *t;
    int rc;

    *recovered = false;
    if (!atomic_load(&r->up))
        return WSR_ECONNECT;
    pthread_mutex_lock(&r->lock);
    t = topic_find(r, topic);
    rc = position(r, topic, &pos);
    if (rc == 0 && t == NULL) {
        t = topic_add(r, topic);
        if (t == NULL) {
            rc = WSR_ENOMEM;
        } else {
            t->delivered = pos.offset;
            memcpy(t->epoch, pos.epoch, sizeof(t->epoch));
        }
    }
    if (rc == 0)
        rc = wsr__topics_subscribe_as(topics, topic, id, user);
    if (rc == 0) {
        now->offset = t->delivered;
        memcpy(now->epoch, t->epoch, sizeof(now->epoch));
        if (since != NULL && strcmp(since->epoch, t->epoch) == 0 && since->offset <= t->delivered)
            *recovered = since->offset == t->delivered ||
                         replay_range(r, topic, since->offset, t->delivered, id) ==
                             (long)(t->delivered - since->offset);
        presence_add(r, topic, id, user);
    }
    if (rc != 0)
        topic_forget_if_unused(r, topic);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

static int redis_unsubscribe(wsr__engine_t *e, const char *topic, uint64_t id)
{
    redis_engine_t *r = R(e);
    int rc;

    pthread_mutex_lock(&r->lock);
    rc = wsr__topics_unsubscribe(wsr__pubsub_topics(e->f->pubsub), topic, id);
    if (rc == 0) {
        presence_forget(r, topic, id);
        topic_forget_if_unused(r, topic);
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

static void redis_drop_conn(wsr__engine_t *e, uint64_t id)
{
    redis_engine_t *r = R(e);
    wsr__topics_t *topics = wsr__pubsub_topics(e->f->pubsub);
    char **names;
    size_t n = wsr__topics_conn_topics(topics, id, &names);

    pthread_mutex_lock(&r->lock);
    wsr__topics_drop_conn(topics, id);
    for (size_t i = 0; i < n; i++) {
        presence_forget(r, names[i], id);
        topic_forget_if_unused(r, names[i]);
        wsr__free(names[i]);
    }
    pthread_mutex_unlock(&r->lock);
    wsr__free(names);
}

static int redis_push(wsr__engine_t *e, uint64_t id, const void *json, size_t n)
{
    redis_engine_t *r = R(e);
    wsr_factory_t *f = e->f;
    char channel[32];
    wsr__buf_t msg;
    redisReply *rep;
    int rc;

    if (WSR__CONN_NODE(id) == r->node) {
        if (f->transport.push == NULL || !f->transport.valid(f->transport.ctx, id))
            return WSR_ENOENT;
        return f->transport.push(f->transport.ctx, id, json, n);
    }
    if (WSR__CONN_NODE(id) == 0)
        return WSR_ENOENT;
    if (!atomic_load(&r->up))
        return WSR_ECONNECT;
    wsr__buf_init(&msg, 0, 0);
    if (wsr__buf_printf(&msg, "%" PRIu64 "\n", id) != 0 || wsr__buf_append(&msg, json, n) != 0) {
        wsr__buf_dispose(&msg);
        return WSR_ENOMEM;
    }
    snprintf(channel, sizeof(channel), "wsr:push:%u", WSR__CONN_NODE(id));
    {
        const char *argv[3] = {"PUBLISH", channel, (const char *)msg.data};
        size_t lens[3] = {7, strlen(channel), msg.len};

        /* From an event loop: queued, 0 meaning sent on (send_later). */
        rc = send_later(r, false, 3, argv, lens);
        if (rc != WSR_ENOENT) {
            wsr__buf_dispose(&msg);
            return rc;
        }
        rep = command_locked(r, 3, argv, lens);
    }
    wsr__buf_dispose(&msg);
    if (rep == NULL)
        return WSR_ECONNECT;
    rc = is_int(rep) && rep->integer > 0 ? 0 : WSR_ENOENT;
    freeReplyObject(rep);
    return rc;
}

static int redis_presence(wsr__engine_t *e, const char *topic, json_t **out)
{
    redis_engine_t *r = R(e);
    char *prn = key("prn", topic, 0), *prefix = key("pr", topic, 0);
    const char *args[2] = {prn, prefix};
    redisReply *rep = NULL;
    json_t *members = json_object();
    int rc = WSR_ENOMEM;

    *out = NULL;
    if (prn != NULL && prefix != NULL && members != NULL) {
        rc = WSR_ECONNECT;
        if (atomic_load(&r->up))
            rep = eval(r, presence_lua, 1, 2, args, NULL);
    }
    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY) {
        char k[24];

        for (size_t i = 0; i < rep->elements; i++) {
            snprintf(k, sizeof(k), "%zu", i);
            (void)json_object_set_new(members, k,
                                      json_stringn(rep->element[i]->str, rep->element[i]->len));
        }
        rc = wsr__engine_presence_reply(topic, members, out);
    }
    if (rep != NULL)
        freeReplyObject(rep);
    json_decref(members);
    wsr__free(prn);
    wsr__free(prefix);
    return rc;
}

static bool redis_describe(wsr__engine_t *e, json_t *into)
{
    redis_engine_t *r = R(e);
    bool up = atomic_load(&r->up);

    (void)json_object_set_new(into, "engine",
                              json_pack("{s:s,s:s,s:i,s:I,s:I}", "kind", "redis", "state",
                                        up ? "up" : "down", "node", (int)r->node, "reconnects",
                                        (json_int_t)atomic_load(&r->reconnects), "received",
                                        (json_int_t)atomic_load(&r->received)));
    return up;
}

static void redis_stop(wsr__engine_t *e)
{
    redis_engine_t *r = R(e);

    atomic_store(&r->stop, true);
    if (r->thread_started)
        pthread_join(r->thread, NULL);
    r->thread_started = false;
    /* This node's subscribers are gone with it: no need to wait for the TTL. */
    pthread_mutex_lock(&r->lock);
    for (size_t b = 0; b < BUCKETS; b++) {
        for (rtopic_t *t = r->buckets[b]; t != NULL; t = t->next) {
            char *pk = key("pr", t->name, r->node);
            const char *argv[2] = {"DEL", pk};
            redisReply *rep = pk != NULL ? command_locked(r, 2, argv, NULL) : NULL;

            if (rep != NULL)
                freeReplyObject(rep);
            wsr__free(pk);
        }
    }
    pthread_mutex_unlock(&r->lock);
    atomic_store(&r->up, false);
}

static void redis_free(wsr__engine_t *e)
{
    redis_engine_t *r = R(e);

    redis_stop(e);
    redisFree(r->sub);
    redisFree(r->cmd);
    for (size_t b = 0; b < BUCKETS; b++) {
        for (rtopic_t *t = r->buckets[b], *next; t != NULL; t = next) {
            next = t->next;
            wsr__free(t);
        }
    }
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->cmd_lock);
    /* The password was kept for reconnecting: wiped on every way out. */
    OPENSSL_cleanse(&r->url, sizeof(r->url));
    wsr__free(r);
}

static const wsr__engine_ops_t redis_ops = {
    .publish = redis_publish,
    .subscribe = redis_subscribe,
    .unsubscribe = redis_unsubscribe,
    .drop_conn = redis_drop_conn,
    .push = redis_push,
    .presence = redis_presence,
    .describe = redis_describe,
    .stop = redis_stop,
    .free = redis_free,
};

/*
 * Takes this node's id (1 to WSR__NODE_MAX, carried in connection ids): the
 * next of the `wsr:nodes` counter whose lease `wsr:node:N` is free, leased
 * with `SET NX PX` and renewed by the heartbeat, so that no two live nodes
 * share an id however many have started (the counter wraps at
 * WSR__NODE_MAX). Returns 0, or WSR_ECONNECT with `err` set.
 */
static int claim_node(redis_engine_t *r, redisContext *c, wsr_error_t *err)
{
    for (unsigned tries = 0; tries < WSR__NODE_MAX; tries++) {
        redisReply *rep = redisCommand(c, "INCR wsr:nodes");
        unsigned node;
        bool taken;

        if (!is_int(rep)) {
            wsr__error_set(err, WSR_ECONNECT, "engine: Redis at %s:%d refused INCR wsr:nodes: %s",
                           r->url.host, r->url.port,
                           rep != NULL && rep->type == REDIS_REPLY_ERROR ? rep->str : c->errstr);
            if (rep != NULL)
                freeReplyObject(rep);
            return WSR_ECONNECT;
        }
        node = (unsigned)(((unsigned long long)rep->integer - 1) % WSR__NODE_MAX) + 1;
        freeReplyObject(rep);
        rep = redisCommand(c, "SET wsr:node:%u %s NX PX %d", node, r->lease, PRESENCE_MS);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            wsr__error_set(err, WSR_ECONNECT, "engine: Redis at %s:%d refused SET wsr:node:%u: %s",
                           r->url.host, r->url.port, node, rep != NULL ? rep->str : c->errstr);
            if (rep != NULL)
                freeReplyObject(rep);
            return WSR_ECONNECT;
        }
        taken = rep->type == REDIS_REPLY_NIL;
        freeReplyObject(rep);
        if (!taken) {
            r->node = node;
            return 0;
        }
    }
    wsr__error_set(err, WSR_ECONNECT, "engine: every node id (1 to %u) is leased by a live node",
                   WSR__NODE_MAX);
    return WSR_ECONNECT;
}

wsr__engine_t *wsr__engine_redis_new(wsr_factory_t *f, wsr_error_t *err)
{
    redis_engine_t *r = wsr__calloc(1, sizeof(*r));
    redisContext *c;
    char why[256];

    if (r == NULL) {
        wsr__error_set(err, WSR_ENOMEM, "out of memory creating the Redis engine");
        return NULL;
    }
    r->base.ops = &redis_ops;
    r->base.f = f;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->cmd_lock, NULL);
    atomic_init(&r->stop, false);
    atomic_init(&r->up, false);
    atomic_init(&r->id_lost, false);
    atomic_init(&r->reconnects, 0);
    atomic_init(&r->received, 0);
    if (wsr__redis_url_parse(f->settings.engine, f->settings.engine_password, &r->url, err) != 0)
        goto fail;
    if (new_epoch(r->lease) != 0) {
        wsr__error_set(err, WSR_ENOMEM, "cannot draw the node's lease");
        goto fail;
    }
    c = dial(r, why, sizeof(why));
    if (c == NULL) {
        wsr__error_set(err, WSR_ECONNECT,
                       "the cluster engine is unavailable: cannot reach Redis at %s:%d: %s",
                       r->url.host, r->url.port, why);
        goto fail;
    }
    if (claim_node(r, c, err) != 0) {
        redisFree(c);
        goto fail;
    }
    redisFree(c);
    if (connect_all(r, why, sizeof(why)) != 0) {
        wsr__error_set(err, WSR_ECONNECT,
                       "the cluster engine is unavailable: cannot reach Redis at %s:%d: %s",
                       r->url.host, r->url.port, why);
        goto fail;
    }
    atomic_store(&r->up, true);
    /* Before the thread: what it delivers is addressed by it. */
    f->node_id = r->node;
    if (pthread_create(&r->thread, NULL, engine_main, r) != 0) {
        f->node_id = 0;
        wsr__error_set(err, WSR_ENOMEM, "cannot start the Redis engine's thread");
        goto fail;
    }
    r->thread_started = true;
    wsr__log(f, WSR_LOG_NOTICE, "engine: Redis at %s:%d, node %u", r->url.host, r->url.port,
             r->node);
    return &r->base;
fail:
    redis_free(&r->base);
    return NULL;
}
