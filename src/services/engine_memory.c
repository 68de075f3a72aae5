/* SPDX-License-Identifier: MIT */
/*
 * The in-process engine (engine_int.h): one node, its topics' positions and
 * history in memory (history.c), publications fanned out under the topic's
 * lock so that a subscription attaching under the same lock sees each one
 * either in its replay or live (history_int.h).
 */
#include "services/engine_int.h"

#include "core/codec_int.h"
#include "services/pubsub_int.h"
#include "services/topics_int.h"

typedef struct memory_engine {
    wsr__engine_t base;
    wsr__history_t *history; /* owned */
} memory_engine_t;

static wsr__topics_t *topics_of(wsr__engine_t *e)
{
    return wsr__pubsub_topics(e->f->pubsub);
}

int wsr__engine_fan_out(wsr_factory_t *f, const char *topic, const char *event_name,
                        uint64_t offset, const char *epoch, const json_t *data, wsr__buf_t *keep,
                        size_t *sent, int *push_rc)
{
    uint64_t *ids;
    size_t n;
    int rc = wsr__codec_encode_publication(keep, event_name, topic, offset, epoch, data);

    *sent = 0;
    if (rc != 0)
        return rc;
    n = wsr__topics_subscribers(wsr__pubsub_topics(f->pubsub), topic, &ids);
    if (n > 0) {
        bool nomem = false;

        /* One post per event loop, however many subscribers it holds. */
        *sent = f->transport.push_many(f->transport.ctx, ids, n, keep->data, keep->len, &nomem);
        if (nomem && *push_rc == 0)
            *push_rc = WSR_ENOMEM;
    }
    wsr__free(ids);
    return 0;
}

/* A subscription in the making, for the history's callbacks. */
typedef struct attaching {
    wsr__engine_t *e;
    const char *topic, *user; /* borrowed */
    uint64_t id;
} attaching_t;

static int attach(void *user)
{
    const attaching_t *a = user;

    return wsr__topics_subscribe_as(topics_of(a->e), a->topic, a->id, a->user);
}

/* A replayed publication takes the way of live ones (the loop's inbox), so
 * live ones published after the hand-over arrive after it. A connection that
 * is gone, or no memory for the copy, loses it as it would lose a live one. */
static void replay(const void *bytes, size_t n, void *user)
{
    const attaching_t *a = user;
    wsr_factory_t *f = a->e->f;

    if (f->transport.push != NULL)
        (void)f->transport.push(f->transport.ctx, a->id, bytes, n);
}

static int memory_subscribe(wsr__engine_t *e, const char *topic, uint64_t id, const char *user,
                            const wsr__position_t *since, wsr__position_t *now, bool *recovered)
{
    attaching_t a = {e, topic, user, id};

    return wsr__history_subscribe(((memory_engine_t *)e)->history, topic, since, attach, replay, &a,
                                  now, recovered);
}

static int memory_unsubscribe(wsr__engine_t *e, const char *topic, uint64_t id)
{
    return wsr__topics_unsubscribe(topics_of(e), topic, id);
}

static void memory_drop_conn(wsr__engine_t *e, uint64_t id)
{
    wsr__topics_drop_conn(topics_of(e), id);
}

/* A publication on its way, for the history's deliver callback. */
typedef struct publication {
    wsr_factory_t *f;
    const char *topic, *event_name; /* borrowed */
    json_t *data;                   /* borrowed */
    size_t sent;
    int rc; /* the first push that ran out of memory */
} publication_t;

/* Under the topic's lock (history_int.h). Once encoded the publication
 * exists: a push that fails only loses that subscriber's copy, and the
 * offset is used all the same. */
static int deliver(const wsr__position_t *pos, wsr__buf_t *keep, void *user)
{
    publication_t *p = user;
    return wsr__engine_fan_out(p->f, p->topic, p->event_name, pos->offset, pos->epoch, p->data,
                               keep, &p->sent, &p->rc);
}

static int memory_publish(wsr__engine_t *e, const char *topic, const char *event_name, json_t *data,
                          size_t *delivered)
{
    publication_t p = {e->f, topic, event_name, data, 0, 0};
    int rc = wsr__history_publish(((memory_engine_t *)e)->history, topic, deliver, &p);

    *delivered = p.sent;
    return rc != 0 ? rc : p.rc;
}

static int memory_push(wsr__engine_t *e, uint64_t id, const void *json, size_t n)
{
    wsr_factory_t *f = e->f;

    if (f->transport.push == NULL || !f->transport.valid(f->transport.ctx, id))
        return WSR_ENOENT;
    return f->transport.push(f->transport.ctx, id, json, n);
}

int wsr__engine_presence_reply(const char *topic, json_t *members, json_t **out)
{
    json_t *users = json_array(), *v;
    const char *key;

    *out = NULL;
    if (members == NULL || users == NULL) {
        json_decref(users);
        return WSR_ENOMEM;
    }
    json_object_foreach(members, key, v)
    {
        if (json_is_string(v) && json_string_length(v) > 0 && json_array_append(users, v) != 0)
            break;
    }
    *out = json_pack("{s:s,s:I,s:o}", "topic", topic, "count",
                     (json_int_t)json_object_size(members), "users", users);
    return *out != NULL ? 0 : WSR_ENOMEM;
}

static int memory_presence(wsr__engine_t *e, const char *topic, json_t **out)
{
    json_t *members = json_object();
    int rc;

    if (members != NULL)
        (void)wsr__topics_members(topics_of(e), topic, members);
    rc = wsr__engine_presence_reply(topic, members, out);
    json_decref(members);
    return rc;
}

static bool memory_describe(wsr__engine_t *e, json_t *into)
{
    (void)e;
    (void)json_object_set_new(into, "engine",
                              json_pack("{s:s,s:s}", "kind", "memory", "state", "up"));
    return true;
}

static void memory_stop(wsr__engine_t *e)
{
    (void)e; /* it delivers on the publisher's thread: nothing runs by itself */
}

static void memory_free(wsr__engine_t *e)
{
    wsr__history_free(((memory_engine_t *)e)->history);
    wsr__free(e);
}

static const wsr__engine_ops_t memory_ops = {
    .publish = memory_publish,
    .subscribe = memory_subscribe,
    .unsubscribe = memory_unsubscribe,
    .drop_conn = memory_drop_conn,
    .push = memory_push,
    .presence = memory_presence,
    .describe = memory_describe,
    .stop = memory_stop,
    .free = memory_free,
};

/* A topic with subscribers keeps its position (history_int.h). */
static bool topic_in_use(void *user, const char *topic)
{
    return wsr__topics_count(user, topic) > 0;
}

wsr__engine_t *wsr__engine_memory_new(wsr_factory_t *f)
{
    memory_engine_t *m = wsr__calloc(1, sizeof(*m));
    wsr__history_memory_config_t hc = {0};

    if (m == NULL)
        return NULL;
    m->base.ops = &memory_ops;
    m->base.f = f;
    hc.size = f->settings.history_size;
    hc.ttl_s = f->settings.history_ttl_s;
    hc.in_use = topic_in_use;
    hc.user = wsr__pubsub_topics(f->pubsub);
    m->history = wsr__history_memory_new(&hc);
    if (m->history == NULL) {
        wsr__free(m);
        return NULL;
    }
    return &m->base;
}
