/* SPDX-License-Identifier: MIT */
/*
 * The C client: one WebSocket connection to a wsrouter server (docs/protocol.md),
 * synchronous and asynchronous calls correlated by id, pushes delivered to a
 * handler, a choice of encoding, TLS, and optional automatic reconnection.
 *
 *   wsr_client_config_t cfg;
 *   wsr_client_config_init(&cfg);           every default written
 *   cfg.url = "ws://127.0.0.1:8080/";
 *   wsr_client_t *c = wsr_client_new(&cfg, &err);
 *   wsr_client_connect(c, &err);            waits up to connect_timeout_ms
 *   wsr_client_call(c, "GET", "/hello/bob/42", NULL, NULL, &reply, &err);
 *   ... reply.status, reply.data ...
 *   wsr_client_reply_dispose(&reply);
 *   wsr_client_free(c);
 *
 * Threading model. Each client owns one libwebsockets context and one thread
 * of its own, the service thread, which alone touches the connection. Every
 * public function may be called from any thread (except where a comment says
 * otherwise): it encodes the request on the calling thread, hands it to the
 * service thread through a locked queue and wakes it with lws_cancel_service().
 * Every callback the client makes (reply callbacks, the message handler, the
 * state handler, the log sink) runs on the service thread, one at a time; a
 * callback may start and cancel asynchronous calls, and may free the client,
 * but must not make synchronous ones (they return WSR_ESTATE). A callback that
 * blocks stalls the whole client. Side effects of libwebsockets 4.1 on the process: creating
 * a client sets SIGPIPE to SIG_IGN, and sets lws's log level, which is one per
 * process, from cfg.log_level (below).
 *
 * Failures. Every call ends exactly once: with a reply (any status), or with a
 * negative WSR_E* code and a sentence. A call is never left hanging: it fails
 * with WSR_ETIMEDOUT at its deadline, with WSR_ECLOSED when the connection
 * drops while it is in flight (sent or still queued), with WSR_ECANCELED when
 * wsr_client_cancel() cancels it before it was written (or a raw send), and
 * at once with WSR_ECLOSED when it is made while the client is not connected: calls do not
 * wait for a reconnection, they fail fast (wsr_client_wait_connected waits).
 * A call cancelled once written ends with the server's reply, status 499.
 *
 * Streaming calls (docs/protocol.md section 5.1). A call may receive progress
 * messages before its reply: give the request an `on_progress` callback
 * and it is called for each, in the order the server sent them, always before
 * the call's reply callback and never after it. While the call runs,
 * wsr_client_send_input() sends it input, which its handler reads in order
 * (a conversation), and wsr_client_cancel() asks the server to stop it: the
 * call then ends at once with status 499, and nothing of it comes after.
 *
 *   static void on_part(void *user, uint64_t call_id, json_t *progress, json_t *message)
 *   { ... one part of the result, borrowed for the callback ... }
 *   req.cmd = "count"; req.on_progress = on_part;
 *   wsr_client_request_async(c, &req, on_done, NULL, &id, &err);
 *   wsr_client_send_input(c, id, json_string("hello"), &err);   a conversing route
 *   wsr_client_cancel(c, id);                                   on_done gets the 499
 *
 * Ids. The client gives every request it encodes a string id of the form
 * "wsr-<8 hex digits>-<n>": the hex digits are random, chosen once per client,
 * and n is the call's number (1, 2, ...), the handle that
 * wsr_client_request_async() returns and wsr_client_cancel() takes. A reply is
 * matched to its call by that id. Raw sends (wsr_client_send_raw_async) carry
 * whatever the caller wrote: a reply whose id is not of this client's form
 * (none, a number, another string) answers the oldest raw send already
 * written, or, when there is none, goes to the message handler.
 *
 * Connection state. A reconnection is a new connection: what the server kept
 * for the old one is gone (subscriptions, a login by /auth/session or by a
 * request's data). The client re-sends nothing by itself but the topics
 * subscribed with wsr_client_subscribe() (below); an on_state handler that
 * sees WSR_CLIENT_OPEN again may restore what else the program needs. The
 * client's `token` is sent with every request, so it survives reconnections.
 *
 * Subscriptions that resume (docs/protocol.md section 5.2). A topic
 * subscribed with wsr_client_subscribe() is remembered, with the offset and
 * epoch of the last publication received on it (or of the subscribe reply,
 * until one arrives): wsr_client_position() reads them. After each
 * reconnection (automatic, or a wsr_client_connect() after a drop) the
 * client subscribes to it again by itself with
 * "since": {"offset","epoch"}, ahead of every call of the program, and the
 * server first replays what was missed, then live publications. The
 * publications still go to the message handler as before; cfg.on_resubscribed
 * then tells whether the topic was recovered (every missed publication comes,
 * in order, nothing twice) or not (history no longer covered the gap: reload
 * the state the topic describes). A subscription made through the generic
 * calls (wsr_client_call "POST /_/subscribe") is not remembered.
 *
 *   cfg.reconnect = true; cfg.on_resubscribed = on_resub;
 *   wsr_client_subscribe(c, "chat", &reply, &err);
 *   ... publications reach cfg.on_message; after a drop, on_resub() says
 *   ... {topic "chat", recovered true} and the missed ones follow
 *
 * Tokens that expire. With `token_cb` or `refresh` the client keeps its
 * token fresh by itself: at refresh_percent of the token's lifetime (read
 * from its unverified iat and exp claims) it calls token_cb for a new token,
 * or, without token_cb, asks the server for one with POST /auth/refresh; and
 * at every open (the first and each reconnection) it calls token_cb, then
 * authenticates the connection with POST /auth/session before any call of
 * the program is written. A renewal that fails is logged (WARN) and tried
 * again, every 30 seconds at most, until the token expires. The token is
 * also changed with wsr_client_set_token() (after a login, say).
 */
#ifndef WSR_WSROUTER_CLIENT_H
#define WSR_WSROUTER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common.h"
#include "error.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsr_client wsr_client_t;

/* How requests are framed (docs/protocol.md section 2); replies come back alike. */
typedef enum wsr_client_encoding {
    WSR_CLIENT_JSON = 0,          /* JSON in text frames */
    WSR_CLIENT_BASE64_TEXT = 1,   /* base64 of the JSON in text frames */
    WSR_CLIENT_BASE64_BINARY = 2, /* base64 of the JSON in binary frames (aiorest-ws) */
} wsr_client_encoding_t;

/* The connection's state, as wsr_client_state() and the state handler see it. */
typedef enum wsr_client_state {
    WSR_CLIENT_IDLE = 0,         /* not connected and not trying */
    WSR_CLIENT_CONNECTING = 1,   /* an attempt is under way */
    WSR_CLIENT_OPEN = 2,         /* connected: calls are accepted */
    WSR_CLIENT_RECONNECTING = 3, /* the connection dropped; waiting to retry */
    WSR_CLIENT_CLOSED = 4,       /* wsr_client_free() is closing the client */
} wsr_client_state_t;

/*
 * A reply. `message` is the whole reply object and owns everything else:
 * `data`, `detail`, `errors` and `allow` point into it and are NULL when the
 * reply has no such member. Release with wsr_client_reply_dispose().
 */
typedef struct wsr_client_reply {
    int status;         /* HTTP-style status (docs/protocol.md section 4) */
    json_t *data;       /* borrowed from message: the result, NULL when absent */
    const char *detail; /* borrowed from message: the error sentence, or NULL */
    json_t *errors;     /* borrowed from message: 422, parameter -> message, or NULL */
    json_t *allow;      /* borrowed from message: 405, the allowed methods, or NULL */
    json_t *message;    /* owned: the whole reply object */
} wsr_client_reply_t;

/*
 * Called once per asynchronous call, on the service thread. `rc` is 0 when a
 * reply arrived (whatever its status) and `reply` is set; otherwise `rc` is a
 * negative WSR_E* code, `reply` is NULL and `error` says what happened.
 * `reply` is borrowed for the call: the library disposes it afterwards, unless
 * the callback takes it by copying *reply and setting reply->message to NULL.
 * `error` is borrowed for the call.
 */
typedef void (*wsr_client_reply_fn)(void *user, int rc, wsr_client_reply_t *reply,
                                    const char *error);

/*
 * Called for each progress message of a running call (docs/protocol.md
 * section 5.1), on the service thread, in the order the server sent them,
 * before the call's wsr_client_reply_fn and never after it. `call_id` is the
 * call's number (as wsr_client_request_async gives it); `progress` is the
 * message's `progress` member and `message` the whole message
 * ({"id":..,"progress":..,"event_name":..}); both are borrowed for the call:
 * json_deep_copy() what must outlive it (a reference kept with json_incref
 * must not be handed to another thread). A progress message for a call
 * without on_progress, or no longer in flight, goes to the message handler.
 */
typedef void (*wsr_client_progress_fn)(void *user, uint64_t call_id, json_t *progress,
                                       json_t *message);

/*
 * Receives every message that answers no call in flight: pushes and
 * publications (no `status`, docs/protocol.md section 5), late replies to calls
 * that already timed out or were canceled, late progress messages, and the
 * server's answers to input it could not take (wsr_client_send_input). The handler takes `message`:
 * it owns it and must release it with json_decref (the library keeps no reference, so the message
 * may be handed to another thread as it is). Runs on the service thread.
 */
typedef void (*wsr_client_message_fn)(void *user, json_t *message);

/*
 * Told of each change of state, on the service thread. `code` and `text` say
 * why (0 and "connected" when it opened; WSR_ECLOSED and the close reason when
 * the connection dropped; the failure of a connection attempt). `text` is
 * borrowed for the call.
 */
typedef void (*wsr_client_state_fn)(void *user, wsr_client_state_t state, int code,
                                    const char *text);

/*
 * What became of a topic the client subscribed to again after a
 * reconnection (see "Subscriptions that resume" above). Every pointer is
 * borrowed for the call.
 */
typedef struct wsr_client_resubscription {
    const char *topic; /* the topic */
    bool ok;           /* subscribed again; false: the topic is forgotten (below) */
    bool recovered;    /* ok and every missed publication follows; false: reload */
    int64_t offset;    /* where the topic stood in the reply (0 when unknown) */
    const char *epoch; /* the epoch in the reply, or NULL */
    int rc;            /* !ok: 0 when the server refused (status), else a WSR_E* code */
    int status;        /* the reply's status, 0 when none came */
    const char *error; /* !ok: the reason, or NULL */
} wsr_client_resubscription_t;

/*
 * Told of each topic subscribed again after a reconnection, on the service
 * thread, once its reply came. A resubscription cut off by another drop
 * tells nothing: the next reconnection tries again. One that fails otherwise
 * (refused, timed out) forgets the topic.
 */
typedef void (*wsr_client_resubscribed_fn)(void *user, const wsr_client_resubscription_t *r);

/*
 * Gives the client a fresh token (for example from an identity provider, or
 * a file another program renews), on the service thread: at every open and
 * before the token in use expires. Returns the token, borrowed: the client
 * copies it as soon as the callback returns, so it may live in a buffer the
 * callback reuses; or NULL to keep the current one. It must not block long:
 * the whole client waits for it.
 */
typedef const char *(*wsr_client_token_fn)(void *user);

/*
 * Client settings. Initialise with wsr_client_config_init(), then change
 * fields. Strings are borrowed until wsr_client_new() returns (it copies
 * them). Times are in milliseconds; timeouts go from 1 to 86400000 (a day).
 *
 * max_message bounds both directions: a message from the server past it
 * closes the connection with 1009 (calls in flight fail with WSR_EOVERFLOW);
 * a request past it is refused with WSR_EOVERFLOW before anything is sent.
 * For a request the size counted is the frame's payload: the JSON text, or in
 * the base64 encodings the base64 text (a third larger than the JSON).
 *
 * log_level (WSR_LOG_ERR ... WSR_LOG_DEBUG) bounds the client's own lines and
 * those of libwebsockets, which go to stderr (or to the emitter a program gave
 * lws_set_log_level()): lws says nothing up to WSR_LOG_NOTICE (its errors
 * repeat what the calls return), its errors, warnings and notices from
 * WSR_LOG_INFO, everything from WSR_LOG_DEBUG. wsr_client_new() applies it to
 * lws, whose level is one per process: the client created last decides.
 *
 * insecure turns off every check of the server's certificate (trust, dates,
 * host name) for development. The client then logs a warning at each
 * connection, whatever log_level says: to `log` when one is set, else to
 * stderr.
 *
 * Compression. With `compress` the client offers permessage-deflate (RFC
 * 7692) at each connection, with client_no_context_takeover and
 * server_no_context_takeover (neither side keeps a compressor or inflater
 * between messages). A server that accepts it (wsrouterd with `compression`
 * on) compresses its long replies, and the client then compresses every
 * request; one that does not gets plain frames, and the calls work the same
 * (the client logs "permessage-deflate negotiated" at WSR_LOG_INFO when it
 * was). libwebsockets 4.1.6 aborts the whole process on some compressed
 * messages (docs/protocol.md, "Compression"); the client predicts it and
 * instead closes the connection (1011): the calls in flight fail with
 * WSR_ECLOSED and a sentence that says so (the state handler gets
 * WSR_EPROTO), and the next connection (a reconnection, or
 * wsr_client_connect) works as before.
 */
typedef struct wsr_client_config {
    const char *url;                /* ws://HOST[:PORT]/PATH or wss://...; "ws://127.0.0.1:8080/" */
    const char *subprotocol;        /* asked for at the handshake; NULL: none; WSR_SUBPROTOCOL */
    wsr_client_encoding_t encoding; /* WSR_CLIENT_JSON */
    const char *token;              /* sent as the `token` member of every request; NULL: none */
    int connect_timeout_ms;         /* TCP + TLS + WebSocket handshake deadline (5000) */
    int call_timeout_ms;            /* default per-call deadline (30000) */
    size_t max_message;             /* largest message either way, bytes (64 MiB): see below */
    const char *ca_file;            /* wss: PEM CA bundle; NULL: the system's CAs */
    const char *cert_file;          /* wss: PEM client certificate, or NULL */
    const char *key_file;           /* wss: PEM private key of cert_file, or NULL */
    bool insecure;                  /* wss: accept any certificate and host name (warns: above) */
    bool reconnect;                 /* reconnect when an open connection drops (false) */
    int reconnect_min_ms;           /* first retry delay (100); doubles per attempt */
    int reconnect_max_ms;           /* largest retry delay (10000); half of it is random jitter */
    int reconnect_max_attempts;     /* consecutive failed attempts before giving up; 0: never */
    wsr_client_message_fn on_message; /* pushes and unmatched messages, or NULL */
    wsr_client_state_fn on_state;     /* state changes, or NULL */
    void *user;                       /* passed to on_message and on_state */
    int log_level;                    /* WSR_LOG_WARN; also lws's lines: see below */
    wsr_log_fn log; /* called on the service thread; NULL: WARN and up to stderr */
    void *log_user; /* passed to `log` */
    /* Fields added later go here, at the end: wsr_client_config_init sets them. */
    wsr_client_token_fn token_cb; /* a fresh token at each open and before expiry, or NULL */
    void *token_user;             /* passed to token_cb */
    bool refresh;                 /* without token_cb: renew with POST /auth/refresh (false) */
    int refresh_percent;          /* renew at this % of the token's lifetime (80; 1 to 99) */
    wsr_client_resubscribed_fn on_resubscribed; /* each resumed topic, or NULL; gets `user` */
    bool compress; /* offer permessage-deflate (false): see "Compression" above */
} wsr_client_config_t;

/*
 * A request for wsr_client_request() and wsr_client_request_async().
 * Initialise with wsr_client_request_init(). Give `method` and `url`, or
 * `cmd`, not both (WSR_EINVAL). Every pointer is borrowed for the duration of the call that takes
 * the request (the request is encoded before that call returns).
 */
typedef struct wsr_client_request {
    const char *method; /* "GET", "POST", ...; NULL with cmd */
    const char *url;    /* "/path?query"; NULL with cmd */
    const char *cmd;    /* a route name (RPC style), or NULL */
    json_t *args;       /* an object of parameters, or NULL */
    json_t *data;       /* the body (any JSON value), or NULL for none */
    json_t *event_name; /* a label echoed by the server, or NULL */
    const char *token;  /* overrides the client's token for this request, or NULL */
    int timeout_ms;     /* deadline for this call; 0: the client's call_timeout_ms */
    /* Fields added later go here, at the end: wsr_client_request_init clears them. */
    wsr_client_progress_fn on_progress; /* each progress message of the call, or NULL */
    void *progress_user;                /* passed to on_progress */
} wsr_client_request_t;

/* Writes every default into `cfg` (borrowed). Never fails. Any thread. */
WSR_API void wsr_client_config_init(wsr_client_config_t *cfg);

/* Clears `req` (borrowed): no method, url, cmd, args, data; default timeout. */
WSR_API void wsr_client_request_init(wsr_client_request_t *req);

/*
 * Creates a client for cfg->url (cfg borrowed; strings copied): checks the
 * configuration and the TLS files, creates its lws context and starts its
 * service thread. It does not connect. Returns an owned client (release with
 * wsr_client_free), or NULL with `err` (optional) filled: WSR_EINVAL for a bad
 * URL or setting, WSR_EIO for an unreadable TLS file, WSR_ETLS, WSR_ENOMEM.
 * Any thread.
 */
WSR_API wsr_client_t *wsr_client_new(const wsr_client_config_t *cfg, wsr_error_t *err);

/*
 * Connects and waits until the connection is open or connect_timeout_ms has
 * passed. Returns 0 (also when already open), WSR_ETIMEDOUT, WSR_ECONNECT
 * (refused, unreachable, handshake rejected), WSR_ETLS (certificate refused),
 * WSR_ESTATE (called from a callback, or the client is closing). On failure
 * the client is idle again, unless it was already reconnecting after a drop:
 * then the failed attempt counts toward reconnect_max_attempts and the client
 * stays WSR_CLIENT_RECONNECTING while attempts remain. A first connection
 * that fails is never retried by itself: automatic reconnection only follows
 * a connection that was open. `err` (optional) gets the sentence. Any thread
 * but a callback.
 */
WSR_API WSR_NODISCARD int wsr_client_connect(wsr_client_t *c, wsr_error_t *err);

/*
 * Waits until the client is open, for at most `timeout_ms`. Returns 0,
 * WSR_ETIMEDOUT, or WSR_ESTATE when the client is idle (nothing will open it)
 * or when called from a callback. Any thread but a callback.
 */
WSR_API WSR_NODISCARD int wsr_client_wait_connected(wsr_client_t *c, int timeout_ms);

/* Returns the current state. Any thread, callbacks included. */
WSR_API wsr_client_state_t wsr_client_state(wsr_client_t *c);

/*
 * Closes the connection (a normal close, waiting at most a second for the
 * server), fails every call still in flight with WSR_ECLOSED, stops the
 * service thread and releases `c` (invalidates). NULL is ignored. Must not be
 * called while another thread is still using `c`.
 *
 * From any other thread it returns when all is done: the failed calls'
 * callbacks and the state handler (WSR_CLIENT_CLOSED) have run. From a
 * callback it returns at once, and the service thread does the same work
 * once the callback has returned: the calls' callbacks and the state handler
 * still run afterwards, so what their `user` pointers point at must outlive
 * the WSR_CLIENT_CLOSED notification. Either way `c` must not be used again.
 */
WSR_API void wsr_client_free(wsr_client_t *c);

/*
 * Synchronous call: sends `method` `url` with `args` (an object, or NULL) and
 * `data` (any, or NULL for none), both borrowed for the call, and waits for
 * the reply up to the client's call_timeout_ms. Returns 0 when a reply arrived,
 * whatever its status: `reply` (borrowed; filled, owned by the caller: release
 * with wsr_client_reply_dispose). Otherwise returns a negative code, `reply`
 * is zeroed and `err` (optional) says why: WSR_ETIMEDOUT, WSR_ECLOSED (not
 * connected, or the connection dropped), WSR_EOVERFLOW (the request is larger
 * than max_message, or a reply was and the connection closed), WSR_EINVAL
 * (among others: both a cmd and a method or url), WSR_ENOMEM, WSR_ESTATE
 * (called from a callback). Any thread but a callback.
 */
WSR_API WSR_NODISCARD int wsr_client_call(wsr_client_t *c, const char *method, const char *url,
                                          json_t *args, json_t *data, wsr_client_reply_t *reply,
                                          wsr_error_t *err);

/*
 * Synchronous RPC call in tcpy's spirit: sends {"cmd": cmd, "args": params}
 * (`cmd` and `params`, an object or NULL, borrowed). Otherwise like
 * wsr_client_call().
 */
WSR_API WSR_NODISCARD int wsr_client_execute(wsr_client_t *c, const char *cmd, json_t *params,
                                             wsr_client_reply_t *reply, wsr_error_t *err);

/* Synchronous call with every option of `req` (borrowed). Like wsr_client_call(). */
WSR_API WSR_NODISCARD int wsr_client_request(wsr_client_t *c, const wsr_client_request_t *req,
                                             wsr_client_reply_t *reply, wsr_error_t *err);

/*
 * Asynchronous call: encodes `req` (borrowed) on the calling thread, queues it
 * and returns. Returns 0 when queued: `cb` will then be called exactly once,
 * on the service thread, with the reply or the failure; `user` is passed to
 * it; `*call_id` (borrowed, optional) gets the call's number, a handle for
 * wsr_client_cancel() (never 0; the reply may arrive before this returns).
 * Returns a negative code when it could not be queued (WSR_ECLOSED when not
 * connected, WSR_EOVERFLOW past max_message, WSR_EINVAL, WSR_ENOMEM) and then
 * `cb` is never called and `*call_id` is 0; `err` (optional) says why. Many
 * calls may be in flight on one connection. Any thread, callbacks included.
 */
WSR_API WSR_NODISCARD int wsr_client_request_async(wsr_client_t *c, const wsr_client_request_t *req,
                                                   wsr_client_reply_fn cb, void *user,
                                                   uint64_t *call_id, wsr_error_t *err);

/*
 * Cancels the asynchronous call or raw send `call_id` (from
 * wsr_client_request_async or wsr_client_send_raw_async). Returns 0 when it
 * was still in flight, and then:
 * - an ordinary call already written is cancelled on the server: the client
 *   sends {"cmd":"cancel","args":{"id":<its wire id>}} (docs/protocol.md
 *   section 5.1), and the call ends with the server's answer, status 499
 *   ("the call was cancelled by the client"), or with the reply it had
 *   already sent when the cancel came too late; its progress stops there. A
 *   server that refuses the cancel (one without the `cancel` built-in) makes
 *   the client end the call itself, with WSR_ECANCELED. Cancelling it again
 *   meanwhile returns 0 and sends nothing more.
 * - a call not yet written, and a raw send (which has no id the server could
 *   be told), end at once on the client, their callback running soon on the
 *   service thread with WSR_ECANCELED: a request not yet written is never
 *   sent, and a reply that still arrives for a raw send goes to the message
 *   handler.
 * Returns WSR_ENOENT when the call has already ended (its callback has run
 * or is about to) and WSR_EINVAL for a NULL client or id 0. Any thread,
 * callbacks included.
 */
WSR_API WSR_NODISCARD int wsr_client_cancel(wsr_client_t *c, uint64_t call_id);

/*
 * Sends `input` (borrowed; NULL sends null) to the running call `call_id` as
 * {"id":<its wire id>,"input":input,"event_name":"wsr-input"} (docs/protocol.md
 * section 5.1): its handler receives the inputs in the order sent. Returns 0
 * when queued (input is not acknowledged), WSR_ENOENT when the call is not
 * in flight (it ended, or never was: nothing is sent), WSR_ECLOSED when not
 * connected, WSR_EOVERFLOW past max_message, WSR_EINVAL (a raw send, id 0),
 * WSR_ENOMEM; `err` (optional) says why. The server answers only input it
 * cannot take: 404 when the call ended meanwhile, 429 past the server's
 * max_call_input messages waiting (that input is dropped). Those answers
 * carry the call's wire id and event_name "wsr-input"; they end no call and
 * go to the message handler. (So a call's own event_name should not be
 * "wsr-input".) Any thread, callbacks included.
 */
WSR_API WSR_NODISCARD int wsr_client_send_input(wsr_client_t *c, uint64_t call_id, json_t *input,
                                                wsr_error_t *err);

/*
 * Sends `len` bytes of `bytes` (borrowed for the call) as they are, in one
 * text frame or, with `binary`, one binary frame: for testing servers with
 * malformed input. The client adds no id, so replies are matched to raw sends
 * in order: a reply whose id is not of the client's form (see "Ids" above:
 * none, a number, or another string, whatever the bytes carried) answers the
 * oldest raw send already written. A raw send never takes the reply of an
 * ordinary call. `timeout_ms` 0 means call_timeout_ms. Returns, fills
 * `call_id` and calls back like wsr_client_request_async(). Any thread,
 * callbacks included.
 */
WSR_API WSR_NODISCARD int wsr_client_send_raw_async(wsr_client_t *c, const void *bytes, size_t len,
                                                    bool binary, int timeout_ms,
                                                    wsr_client_reply_fn cb, void *user,
                                                    uint64_t *call_id, wsr_error_t *err);

/* Synchronous wsr_client_send_raw_async(); returns like wsr_client_call(). */
WSR_API WSR_NODISCARD int wsr_client_send_raw(wsr_client_t *c, const void *bytes, size_t len,
                                              bool binary, int timeout_ms,
                                              wsr_client_reply_t *reply, wsr_error_t *err);

/*
 * Subscribes to `topic` (borrowed) with POST /_/subscribe and remembers it,
 * so that it resumes after each reconnection (see "Subscriptions that
 * resume" above). Returns like wsr_client_call(); the server's answer is
 * {"subscribed":topic,"offset":N,"epoch":E}. The topic is remembered from
 * the moment the request is queued; a call that fails or a status other than
 * 2xx forgets it again, unless it was already subscribed (then nothing
 * changes). Subscribing again to a remembered topic sends the request again.
 * Any thread but a callback.
 */
WSR_API WSR_NODISCARD int wsr_client_subscribe(wsr_client_t *c, const char *topic,
                                               wsr_client_reply_t *reply, wsr_error_t *err);

/* Asynchronous wsr_client_subscribe(); returns and calls back like
 * wsr_client_request_async(). Any thread, callbacks included. */
WSR_API WSR_NODISCARD int wsr_client_subscribe_async(wsr_client_t *c, const char *topic,
                                                     wsr_client_reply_fn cb, void *user,
                                                     uint64_t *call_id, wsr_error_t *err);

/*
 * Forgets `topic` (borrowed) at once, so that no reconnection subscribes to
 * it again, and sends POST /_/unsubscribe. Returns like wsr_client_call()
 * (WSR_ECLOSED while not connected: the server forgot the topic with the
 * connection). Any thread but a callback.
 */
WSR_API WSR_NODISCARD int wsr_client_unsubscribe(wsr_client_t *c, const char *topic,
                                                 wsr_client_reply_t *reply, wsr_error_t *err);

/* Asynchronous wsr_client_unsubscribe(); returns and calls back like
 * wsr_client_request_async(). Any thread, callbacks included. */
WSR_API WSR_NODISCARD int wsr_client_unsubscribe_async(wsr_client_t *c, const char *topic,
                                                       wsr_client_reply_fn cb, void *user,
                                                       uint64_t *call_id, wsr_error_t *err);

/*
 * Where a topic subscribed with wsr_client_subscribe() stands: the offset and
 * epoch of the last publication received on it, or of the subscribe reply
 * until one arrived. Writes `*offset` and the epoch into `epoch` (`size`
 * bytes, NUL included; both borrowed, optional). Returns 0, WSR_ENOENT when
 * the topic is not remembered or its position is not known yet, WSR_EOVERFLOW
 * when the epoch does not fit (`epoch` is then ""). Any thread, callbacks
 * included.
 */
WSR_API WSR_NODISCARD int wsr_client_position(wsr_client_t *c, const char *topic, int64_t *offset,
                                              char *epoch, size_t size);

/*
 * Replaces the token sent with every request that has none of its own
 * (`token` borrowed, copied; NULL: no token from now on), and reschedules
 * its renewal when token_cb or refresh is set. Calls already encoded keep
 * the token they were made with. It does not authenticate the connection
 * by itself (the next open or renewal does, with /auth/session). Returns 0,
 * WSR_EINVAL (no client) or WSR_ENOMEM (the old token is kept). Any thread,
 * callbacks included.
 */
WSR_API WSR_NODISCARD int wsr_client_set_token(wsr_client_t *c, const char *token);

/* Returns the number of calls in flight (queued or sent). Any thread. */
WSR_API size_t wsr_client_pending(wsr_client_t *c);

/* Releases the reply's message and zeroes `reply` (borrowed). NULL is ignored. */
WSR_API void wsr_client_reply_dispose(wsr_client_reply_t *reply);

/* Returns the name of `state` ("open"), or "?"; static. Any thread. */
WSR_API const char *wsr_client_state_name(wsr_client_state_t state);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_CLIENT_H */
