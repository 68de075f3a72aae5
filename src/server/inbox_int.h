/* SPDX-License-Identifier: MIT */
/*
 * Messages and inboxes: how other threads reach an event loop. A message is
 * a reply, a push or a note on its way to a connection, addressed by
 * connection id, never by pointer (STYLE R5). An inbox is a loop's locked
 * list of them; a post to an empty inbox wakes the loop with
 * lws_cancel_service, the one lws call that is safe from another thread (the
 * loop takes the whole list, so a burst of posts costs one wake). An inbox is reference-counted so
 * that a deferred reply completed after its loop is gone still finds a
 * (closed) inbox, and its message is dropped.
 */
#ifndef WSR_SERVER_INBOX_INT_H
#define WSR_SERVER_INBOX_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/internal.h"
#include "core/session_int.h"

struct lws_context;
struct wsr_reply;

/*
 * A message. One allocation: this header, LWS_PRE bytes of headroom, then
 * the payload. Encoders write into a wsr__buf_t initialised with
 * WSR__MSG_HEAD headroom, and wsr__msg_take turns it into a message without
 * copying.
 */
typedef struct wsr__msg {
    struct wsr__msg *next;
    uint64_t conn_id;        /* the destination connection */
    struct wsr_reply *reply; /* owned ref: the deferred reply this completes, or NULL */
    size_t len;              /* payload bytes */
    uint8_t kind;            /* WSR__MSG_* */
    uint8_t binary;          /* send as a binary frame */
    uint8_t json_push;       /* payload is JSON; re-encode in the connection's format */
    uint16_t code;           /* WSR__MSG_CLOSE: the close code; _SESSION: 1 to detach */
    wsr__session_t *session; /* WSR__MSG_SESSION: owned ref */
} wsr__msg_t;

enum {
    WSR__MSG_DATA = 0, /* a reply or push for conn_id */
    WSR__MSG_CLOSE,    /* close conn_id with `code` */
    WSR__MSG_STOP,     /* the loop starts draining */
    WSR__MSG_RELOAD,   /* the loop reloads its TLS certificate */
    WSR__MSG_SESSION,  /* conn_id is authenticated as `session` (or detached from it) */
    WSR__MSG_PROGRESS, /* a progress message of the call `reply` (its ref) for conn_id */
    WSR__MSG_ADMIN,    /* an admin request's note; its payload says which (admin.c) */
};

#define WSR__MSG_HEAD 64 /* >= sizeof(wsr__msg_t) + LWS_PRE, checked in inbox.c */

static inline unsigned char *wsr__msg_payload(wsr__msg_t *m)
{
    return (unsigned char *)m + WSR__MSG_HEAD;
}

/* Turns the buffer (initialised with WSR__MSG_HEAD headroom) into a message;
 * the buffer is left empty. Returns NULL when memory ran out. */
wsr__msg_t *wsr__msg_take(wsr__buf_t *b, bool binary);
/* A DATA message holding a copy of `n` bytes at `p`, or NULL. */
wsr__msg_t *wsr__msg_copy(const void *p, size_t n, bool binary);
/* Allocates a message with no payload (CLOSE, STOP, RELOAD, SESSION). */
wsr__msg_t *wsr__msg_new_note(int kind, uint64_t conn_id, uint16_t code);
/* Frees `m` with the references it holds. NULL ignored. */
void wsr__msg_free(wsr__msg_t *m);

/* A loop's inbox. */
typedef struct wsr__inbox {
    pthread_mutex_t lock;
    wsr__msg_t *head, *tail; /* owned */
    struct lws_context *ctx; /* borrowed: woken on post; NULL once the loop stopped */
    unsigned long wakes;     /* lws_cancel_service calls made (under the lock) */
    bool closed;
    atomic_int refs;
} wsr__inbox_t;

/* An open inbox with one reference, or NULL. */
wsr__inbox_t *wsr__inbox_new(void);
wsr__inbox_t *wsr__inbox_ref(wsr__inbox_t *in);
void wsr__inbox_unref(wsr__inbox_t *in);
/* Sets the context posting wakes (NULL: none). Any thread. */
void wsr__inbox_set_ctx(wsr__inbox_t *in, struct lws_context *ctx);
/* Appends `m` (taken); wakes the loop when the inbox was empty (the loop
 * takes every message at once). Any thread. Returns 0, or
 * WSR_ECLOSED when the inbox is closed (then `m` is freed). */
int wsr__inbox_post(wsr__inbox_t *in, wsr__msg_t *m);
/* Appends the list head..tail (taken, linked by next) at once, waking the
 * loop once. Any thread. Returns 0, or WSR_ECLOSED (then all are freed). */
int wsr__inbox_post_list(wsr__inbox_t *in, wsr__msg_t *head, wsr__msg_t *tail);
/* Wakes the loop without a message. Any thread. */
void wsr__inbox_wake(wsr__inbox_t *in);
/* True when no message waits. Any thread. */
bool wsr__inbox_empty(wsr__inbox_t *in);
/* Takes every message posted so far, in order (owned list, NULL when empty). */
wsr__msg_t *wsr__inbox_take(wsr__inbox_t *in);
/* Refuses further posts and forgets the context: the loop is going away. */
void wsr__inbox_close(wsr__inbox_t *in);

#endif /* WSR_SERVER_INBOX_INT_H */
