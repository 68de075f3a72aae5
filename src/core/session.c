/* SPDX-License-Identifier: MIT */
/*
 * Immutable, reference-counted authentication sessions (see auth_int.h). The
 * count is atomic because a session travels with requests to worker threads.
 */
#include "core/session_int.h"

#include <stdatomic.h>
#include <string.h>

struct wsr__session {
    atomic_int refs;
    atomic_bool logging_out; /* the one mutable bit: see wsr__session_mark_logout */
    int64_t exp;
    int64_t iat;
    bool external; /* an identity provider's token: see wsr__session_set_external */
    char *user;    /* owned */
    char *roles;   /* owned: ",admin,ops," with guards so a role matches whole */
    char *jti;     /* owned, may be NULL */
    /* owned ref, may be NULL: the connection's session of the same login
     * that this one (a request's own token) stands in for; see set_twin */
    wsr__session_t *twin;
};

wsr__session_t *wsr__session_new(const char *user, const char *roles, const char *jti, int64_t exp)
{
    wsr__session_t *s = wsr__calloc(1, sizeof(*s));
    size_t rlen = roles ? strlen(roles) : 0;

    if (s == NULL)
        return NULL;
    atomic_init(&s->refs, 1);
    atomic_init(&s->logging_out, false);
    s->exp = exp;
    s->user = wsr__strdup(user ? user : "");
    s->jti = jti ? wsr__strdup(jti) : NULL;
    s->roles = wsr__malloc(rlen + 3);
    if (s->user == NULL || s->roles == NULL || (jti != NULL && s->jti == NULL)) {
        wsr__session_unref(s);
        return NULL;
    }
    s->roles[0] = ',';
    if (rlen)
        memcpy(s->roles + 1, roles, rlen);
    s->roles[rlen + 1] = ',';
    s->roles[rlen + 2] = '\0';
    return s;
}

wsr__session_t *wsr__session_ref(wsr__session_t *s)
{
    if (s != NULL)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void wsr__session_unref(wsr__session_t *s)
{
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    wsr__free(s->user);
    wsr__free(s->roles);
    wsr__free(s->jti);
    wsr__session_unref(s->twin);
    wsr__free(s);
}

void wsr__session_set_twin(wsr__session_t *s, wsr__session_t *twin)
{
    /* A connection's session has no twin (wsr__session_dup drops it before a
     * request's session becomes a connection's), so no chain of them grows. */
    if (s == NULL || s == twin || s->twin != NULL)
        return;
    s->twin = wsr__session_ref(twin);
}

wsr__session_t *wsr__session_dup(const wsr__session_t *s)
{
    wsr__session_t *d;

    if (s == NULL)
        return NULL;
    /* roles holds its guards (",a,b,"): copied as they are. */
    d = wsr__session_new(s->user, NULL, s->jti, s->exp);
    if (d == NULL)
        return NULL;
    wsr__free(d->roles);
    d->roles = wsr__strdup(s->roles);
    if (d->roles == NULL) {
        wsr__session_unref(d);
        return NULL;
    }
    d->iat = s->iat;
    d->external = s->external;
    return d;
}

const char *wsr__session_user(const wsr__session_t *s)
{
    return s ? s->user : NULL;
}

const char *wsr__session_jti(const wsr__session_t *s)
{
    return s ? s->jti : NULL;
}

int64_t wsr__session_exp(const wsr__session_t *s)
{
    return s ? s->exp : 0;
}

const char *wsr__session_roles(const wsr__session_t *s)
{
    return s ? s->roles : ",";
}

int64_t wsr__session_iat(const wsr__session_t *s)
{
    return s ? s->iat : 0;
}

void wsr__session_set_iat(wsr__session_t *s, int64_t iat)
{
    if (s != NULL)
        s->iat = iat;
}

void wsr__session_set_external(wsr__session_t *s)
{
    if (s != NULL)
        s->external = true;
}

bool wsr__session_external(const wsr__session_t *s)
{
    return s != NULL && s->external;
}

void wsr__session_mark_logout(wsr__session_t *s)
{
    if (s == NULL)
        return;
    atomic_store_explicit(&s->logging_out, true, memory_order_release);
    /* The connection's own session object, when this request's token
     * belongs to the same login: it is what the loop's expiry check sees. */
    if (s->twin != NULL)
        atomic_store_explicit(&s->twin->logging_out, true, memory_order_release);
}

bool wsr__session_logging_out(const wsr__session_t *s)
{
    return s != NULL && atomic_load_explicit(&s->logging_out, memory_order_acquire);
}

json_t *wsr__session_roles_json(const wsr__session_t *s)
{
    json_t *list = json_array();
    const char *p = s ? s->roles + 1 : "";

    while (list != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');

        /* All the roles or NULL: one dropped when memory ran out made a
         * shorter list that looked complete. */
        if (comma > p && json_array_append_new(list, json_stringn(p, (size_t)(comma - p))) != 0) {
            json_decref(list);
            return NULL;
        }
        p = comma + 1;
    }
    return list;
}

bool wsr__session_has_role(const wsr__session_t *s, const char *role)
{
    size_t n;
    const char *p;

    if (s == NULL || role == NULL || role[0] == '\0')
        return false;
    n = strlen(role);
    for (p = strstr(s->roles, role); p != NULL; p = strstr(p + 1, role))
        if (p[-1] == ',' && p[n] == ',')
            return true;
    return false;
}
