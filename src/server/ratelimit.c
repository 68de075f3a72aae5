/* SPDX-License-Identifier: MIT */
/*
 * Request rate limits (see ratelimit_int.h). The address and user buckets
 * live in one capped table per kind (core/strtable.c), keyed by the address
 * text or the user name; an entry whose bucket has refilled completely is no
 * different from none, so when a table is full the full ones are swept.
 * When none is, a new address or user is not tracked: it shares the table's
 * overflow bucket with every other untracked one, so that a flood of
 * distinct addresses grows nothing and gets one address's budget together,
 * and no bucket in debt is evicted (which would refill it).
 */
#include "server/ratelimit_int.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/router_int.h"
#include "core/session_int.h"
#include "core/stats_int.h"
#include "core/strtable_int.h"
#include "server/conn_int.h"

/* A full table is swept for full buckets at most this often. */
#define SWEEP_NS 1000000000LL

/* One kind of limit: its rate and burst. */
typedef struct limit {
    double rate;  /* tokens per second; 0: no limit */
    double burst; /* the bucket's size */
} limit_t;

/* The limits in force: immutable once published (SIGHUP publishes new
 * ones); the ones replaced are kept until the limiter is freed, since a
 * request on another thread may still be reading them. */
typedef struct rates {
    limit_t conn, addr, user;
    struct rates *older; /* owned: the ones these replaced, or NULL */
} rates_t;

/* Which limit a table's sweep asks about. */
typedef struct kind {
    struct wsr__ratelimit *rl;
    bool user; /* the user table's, else the address table's */
} kind_t;

struct wsr__ratelimit {
    _Atomic(rates_t *) rates;       /* owned: the limits in force */
    pthread_mutex_t lock;           /* guards both tables, and publishing */
    wsr__strtable_t *addrs, *users; /* owned: buckets by address, by user name */
    kind_t addr_kind, user_kind;
};

static bool is_full(void *value, int64_t now_ns, void *user);

static limit_t limit_of(double rate, unsigned burst)
{
    limit_t l = {rate, 0};

    /* One second's worth, and never less than one request. */
    l.burst = burst > 0 ? (double)burst : fmax(1, ceil(rate));
    return l;
}

static rates_t *rates_of(const wsr_server_config_t *cfg)
{
    rates_t *r = wsr__calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->conn = limit_of(cfg->rate_limit_connection, cfg->rate_burst);
    r->addr = limit_of(cfg->rate_limit_address, cfg->rate_burst);
    r->user = limit_of(cfg->rate_limit_user, cfg->rate_burst);
    return r;
}

static void free_rates(rates_t *r)
{
    while (r != NULL) {
        rates_t *older = r->older;

        wsr__free(r);
        r = older;
    }
}

wsr__ratelimit_t *wsr__ratelimit_new(const wsr_server_config_t *cfg)
{
    wsr__ratelimit_t *rl = wsr__calloc(1, sizeof(*rl));

    if (rl == NULL)
        return NULL;
    atomic_init(&rl->rates, rates_of(cfg));
    rl->addr_kind = (kind_t){rl, false};
    rl->user_kind = (kind_t){rl, true};
    rl->addrs = wsr__strtable_new(sizeof(wsr__bucket_t), WSR__RATELIMIT_TABLE_MAX, SWEEP_NS,
                                  is_full, &rl->addr_kind);
    rl->users = wsr__strtable_new(sizeof(wsr__bucket_t), WSR__RATELIMIT_TABLE_MAX, SWEEP_NS,
                                  is_full, &rl->user_kind);
    if (atomic_load(&rl->rates) == NULL || rl->addrs == NULL || rl->users == NULL ||
        pthread_mutex_init(&rl->lock, NULL) != 0) {
        free_rates(atomic_load(&rl->rates));
        wsr__strtable_free(rl->addrs);
        wsr__strtable_free(rl->users);
        wsr__free(rl);
        return NULL;
    }
    return rl;
}

int wsr__ratelimit_set(wsr__ratelimit_t *rl, const wsr_server_config_t *cfg)
{
    rates_t *r = rates_of(cfg);

    if (r == NULL)
        return WSR_ENOMEM;
    pthread_mutex_lock(&rl->lock);
    r->older = atomic_load_explicit(&rl->rates, memory_order_relaxed);
    atomic_store_explicit(&rl->rates, r, memory_order_release);
    pthread_mutex_unlock(&rl->lock);
    return 0;
}

void wsr__ratelimit_free(wsr__ratelimit_t *rl)
{
    if (rl == NULL)
        return;
    wsr__strtable_free(rl->addrs);
    wsr__strtable_free(rl->users);
    free_rates(atomic_load(&rl->rates));
    pthread_mutex_destroy(&rl->lock);
    wsr__free(rl);
}

/* Refills `b` for the time since it was last seen, up to the burst. */
static void refill(const limit_t *l, wsr__bucket_t *b, int64_t now_ns)
{
    if (b->last_ns == 0)
        b->tokens = l->burst;
    else if (now_ns > b->last_ns)
        b->tokens = fmin(l->burst, b->tokens + (double)(now_ns - b->last_ns) / 1e9 * l->rate);
    else if (b->tokens > l->burst) /* a burst lowered by SIGHUP */
        b->tokens = l->burst;
    b->last_ns = now_ns;
}

/* Whether bucket `value` of limit `user` is full again by `now_ns`: no
 * different from none, so the table may drop it. */
static bool is_full(void *value, int64_t now_ns, void *user)
{
    const kind_t *k = user;
    const rates_t *r = atomic_load_explicit(&k->rl->rates, memory_order_acquire);
    const limit_t *l = k->user ? &r->user : &r->addr;
    wsr__bucket_t *b = value;

    refill(l, b, now_ns);
    return b->tokens >= l->burst;
}

/* The verdict of bucket `b` of limit `l` (refilled already). */
static wsr__rate_t judge(const limit_t *l, const wsr__bucket_t *b)
{
    if (b->tokens >= 1)
        return WSR__RATE_OK;
    return b->tokens <= -l->burst ? WSR__RATE_CLOSE : WSR__RATE_REFUSED;
}

static void refuse(wsr__rate_refusal_t *why, const char *what, const limit_t *l,
                   const wsr__bucket_t *b)
{
    /* Until the bucket holds one token again, debt included. */
    double ms = ceil((1 - b->tokens) / l->rate * 1000);

    why->limit = what;
    why->rate = l->rate;
    why->retry_after_ms = ms < 1 ? 1 : ms > 86400000 ? 86400000 : (unsigned)ms;
}

/* A bucket a request takes from. */
typedef struct use {
    const limit_t *l;
    wsr__bucket_t *b;
    const char *what;
    bool shared; /* the overflow bucket of untracked keys */
} use_t;

/* Adds the bucket of `key` in `tab` to `use`; returns the table's refusals
 * when it had no room for `key`, else 0. Locked. */
static uint64_t use_table(use_t *use, wsr__strtable_t *tab, const limit_t *l, const char *what,
                          const char *key, int64_t now_ns)
{
    uint64_t untracked;

    /* A key the table has no room for shares the overflow bucket with every
     * other one (strtable_int.h): together they get one key's budget. */
    use->b = wsr__strtable_put(tab, key, now_ns, &untracked);
    use->l = l;
    use->what = what;
    use->shared = untracked != 0;
    return untracked;
}

bool wsr__ratelimit_by_address(wsr__ratelimit_t *rl)
{
    return atomic_load_explicit(&rl->rates, memory_order_acquire)->addr.rate > 0;
}

wsr__rate_t wsr__ratelimit_take(wsr__ratelimit_t *rl, wsr__bucket_t *conn, const char *addr,
                                const char *user, int64_t now_ns, wsr__rate_refusal_t *why)
{
    /* One read of the limits in force: SIGHUP may publish new ones. */
    const rates_t *r = atomic_load_explicit(&rl->rates, memory_order_acquire);
    bool by_addr = r->addr.rate > 0 && addr != NULL && addr[0] != '\0';
    bool by_user = r->user.rate > 0 && user != NULL;
    use_t use[3];
    size_t n = 0, by = 0; /* by: the bucket of the worst verdict */
    wsr__rate_t worst = WSR__RATE_OK;
    uint64_t untracked = 0, u = 0;

    if (r->conn.rate > 0)
        use[n++] = (use_t){&r->conn, conn, "connection", false};
    if (by_addr || by_user)
        pthread_mutex_lock(&rl->lock);
    if (by_addr)
        untracked = use_table(&use[n++], rl->addrs, &r->addr, "client address", addr, now_ns);
    if (by_user)
        u = use_table(&use[n++], rl->users, &r->user, "user", user, now_ns);
    /* An accepted request costs a token of every bucket; a refused one is a
     * debt of the buckets that refused it, so that a client that goes on
     * reaches twice its budget (the burst accepted, then as many refused).
     * The debt of the shared bucket is not this client's alone: it refuses,
     * never closes. */
    for (size_t i = 0; i < n; i++) {
        wsr__rate_t v;

        refill(use[i].l, use[i].b, now_ns);
        v = judge(use[i].l, use[i].b);
        if (v == WSR__RATE_CLOSE && use[i].shared)
            v = WSR__RATE_REFUSED;
        if (v > worst) {
            worst = v;
            by = i;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (worst == WSR__RATE_OK || (use[i].b->tokens < 1 && use[i].b->tokens > -use[i].l->burst))
            use[i].b->tokens -= 1;
    /* After the debt: when the client may come back, this request paid. */
    if (worst != WSR__RATE_OK)
        refuse(why, use[by].what, use[by].l, use[by].b);
    if (by_addr || by_user)
        pthread_mutex_unlock(&rl->lock);
    why->untracked = untracked != 0 ? untracked : u;
    return worst;
}

/* Answers 429 for verdict `v` (refused or close) of `c`: counted, and past
 * twice the budget the connection closes 1008. `route` names the route
 * whose own limit refused it, NULL for the server's limits. */
static void refused(wsr__conn_t *c, wsr__rate_t v, const wsr__rate_refusal_t *why,
                    const wsr__route_t *route, wsr_response_t *res)
{
    wsr__stats_t *stats = c->loop->stats;
    int rc;

    wsr__count(&stats->rate_limited, 1);
    if (route != NULL)
        wsr__count(&stats->routes[route->index].rate_limited, 1);
    if (v == WSR__RATE_CLOSE) {
        wsr__count(&stats->rate_closed, 1);
        wsr__conn_close_after_queue(c, 1008, "the client went on past twice its rate limit");
    }
    if (route != NULL)
        rc = wsr_response_error(res, 429,
                                "rate limit exceeded: route '%s' takes at most %.10g requests a "
                                "second per %s",
                                wsr__route_name(route), why->rate, why->limit);
    else
        rc = wsr_response_error(res, 429,
                                "rate limit exceeded: at most %.10g requests a second per %s",
                                why->rate, why->limit);
    if (rc != 0)
        wsr__response_fail(res);
    else
        res->retry_after_ms = why->retry_after_ms;
}

bool wsr__rate_refused(wsr__conn_t *c, const wsr_request_t *req, wsr_response_t *res)
{
    wsr__loop_t *loop = c->loop;
    wsr__rate_refusal_t why;
    char addr[WSR__PEER_MAX];
    wsr__rate_t v;

    /* A connection that is closing is served no more: no debt, no count. */
    if (loop->rate == NULL || c->close_code != 0)
        return false;
    /* The client's address only for a rate by address (it is worked out
     * from the peer's text, port and all, at every request). */
    addr[0] = '\0';
    if (wsr__ratelimit_by_address(loop->rate))
        wsr__peer_address(c->peer, addr, sizeof(addr));
    v = wsr__ratelimit_take(loop->rate, &c->rate, addr,
                            req->session ? wsr__session_user(req->session) : NULL,
                            (int64_t)req->start_ns, &why);
    if (wsr__strtable_warn(why.untracked))
        wsr__log(loop->factory, WSR_LOG_WARN,
                 "rate limit tables full: %llu requests of addresses or users they had no room "
                 "for share one bucket",
                 (unsigned long long)why.untracked);
    if (v == WSR__RATE_OK)
        return false;
    refused(c, v, &why, NULL, res);
    return true;
}

wsr__rate_t wsr__ratelimit_take_route(double rate, wsr__bucket_t *b, int64_t now_ns,
                                      wsr__rate_refusal_t *why)
{
    limit_t l = limit_of(rate, 0);
    wsr__rate_t v;

    refill(&l, b, now_ns);
    v = judge(&l, b);
    /* As for the server's buckets: a token taken, or a debt until twice the budget. */
    if (v == WSR__RATE_OK || b->tokens > -l.burst)
        b->tokens -= 1;
    if (v != WSR__RATE_OK)
        refuse(why, "connection", &l, b);
    why->untracked = 0;
    return v;
}

bool wsr__route_rate_refused(wsr__conn_t *c, const wsr_request_t *req, wsr_response_t *res)
{
    const wsr__route_t *route = req->route;
    wsr__rate_refusal_t why;
    wsr__rate_t v;

    if (route == NULL || route->rate <= 0 || c->close_code != 0)
        return false;
    if (c->route_rates == NULL) {
        size_t n = wsr__router_rated(c->loop->factory->router);

        c->route_rates = wsr__calloc(n, sizeof(*c->route_rates));
        if (c->route_rates == NULL) {
            wsr__response_fail(res);
            return true;
        }
    }
    v = wsr__ratelimit_take_route(route->rate, &c->route_rates[route->rate_slot],
                                  (int64_t)req->start_ns, &why);
    if (v == WSR__RATE_OK)
        return false;
    refused(c, v, &why, route, res);
    return true;
}

int wsr__ratelimit_describe(wsr__ratelimit_t *rl, json_t *tables)
{
    return wsr__strtable_describe_two(tables, &rl->lock, "rate_limit_address", rl->addrs,
                                      "rate_limit_user", rl->users);
}

size_t wsr__ratelimit_count(const wsr__ratelimit_t *rl)
{
    return wsr__strtable_count(rl->addrs) + wsr__strtable_count(rl->users);
}
