/* SPDX-License-Identifier: MIT */
/*
 * The client's side of the wire format (PROTOCOL.md sections 2 to 4): parsing
 * ws:// and wss:// URLs, encoding a request as one frame in the client's
 * encoding (compact JSON, base64 text or base64 binary), decoding a received
 * message whatever its encoding, and filling a reply from it. Pure: no I/O, no
 * locks, no lws calls; the frames it makes carry LWS_PRE bytes of headroom.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

#include "core/base64_int.h"
#include "core/codec_int.h"
#include "core/json_int.h"

static bool starts_with_nocase(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);

    return strlen(s) >= n && wsr__strncasecmp_ascii(s, prefix, n) == 0;
}

/* Parses the decimal port in [p, end). Returns it, or -1. */
static int parse_port(const char *p, const char *end)
{
    int port = 0;

    if (p == end || end - p > 5)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
}

/* Splits the authority [a, end) into host and port. Returns 0 or WSR_EINVAL. */
static int split_authority(wsr__url_t *u, const char *a, const char *end, wsr_error_t *err)
{
    const char *host = a, *host_end, *colon;

    if (memchr(a, '@', (size_t)(end - a)) != NULL)
        return wsr__error_set(err, WSR_EINVAL, "URL user information is not supported");
    if (*a == '[') {
        host = a + 1;
        host_end = memchr(host, ']', (size_t)(end - host));
        if (host_end == NULL)
            return wsr__error_set(err, WSR_EINVAL, "URL has an unclosed [ in its host");
        colon = host_end + 1 < end ? host_end + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return wsr__error_set(err, WSR_EINVAL, "URL has text after the ] of its host");
    } else {
        colon = memchr(a, ':', (size_t)(end - a));
        host_end = colon ? colon : end;
    }
    if (host_end == host)
        return wsr__error_set(err, WSR_EINVAL, "URL has no host");
    u->port = u->tls ? 443 : 80;
    if (colon != NULL && (u->port = parse_port(colon + 1, end)) < 0)
        return wsr__error_set(err, WSR_EINVAL, "URL port must be a number from 1 to 65535");
    u->host = wsr__strndup(host, (size_t)(host_end - host));
    return u->host ? 0 : WSR_ENOMEM;
}

/* Builds the Host header: the port only when it is not the scheme's default. */
static int make_host_header(wsr__url_t *u)
{
    bool v6 = strchr(u->host, ':') != NULL;
    bool dflt = u->port == (u->tls ? 443 : 80);
    size_t n = strlen(u->host) + 16;

    u->host_header = wsr__malloc(n);
    if (u->host_header == NULL)
        return WSR_ENOMEM;
    if (dflt)
        snprintf(u->host_header, n, v6 ? "[%s]" : "%s", u->host);
    else
        snprintf(u->host_header, n, v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
    return 0;
}

int wsr__url_parse(wsr__url_t *u, const char *text, wsr_error_t *err)
{
    const char *a, *end, *path;
    int rc;

    memset(u, 0, sizeof(*u));
    if (text == NULL)
        return wsr__error_set(err, WSR_EINVAL, "no URL given");
    if (starts_with_nocase(text, "wss://")) {
        u->tls = true;
        a = text + 6;
    } else if (starts_with_nocase(text, "ws://")) {
        a = text + 5;
    } else {
        return wsr__error_set(err, WSR_EINVAL, "URL %.120s must start with ws:// or wss://", text);
    }
    end = a + strcspn(a, "/?#");
    rc = split_authority(u, a, end, err);
    if (rc == 0)
        rc = make_host_header(u);
    if (rc == 0) {
        path = end;
        size_t n = strcspn(path, "#");
        bool slash = n > 0 && path[0] == '/';

        u->path = wsr__malloc(n + 2);
        if (u->path == NULL) {
            rc = WSR_ENOMEM;
        } else {
            snprintf(u->path, n + 2, "%s%.*s", slash ? "" : "/", (int)n, path);
        }
    }
    if (rc != 0)
        wsr__url_dispose(u);
    if (rc == WSR_ENOMEM)
        wsr__error_set(err, rc, "out of memory parsing the URL");
    return rc;
}

void wsr__url_dispose(wsr__url_t *u)
{
    wsr__free(u->host);
    wsr__free(u->host_header);
    wsr__free(u->path);
    memset(u, 0, sizeof(*u));
}

void wsr__client_wire_id(const wsr_client_t *c, uint64_t id, char out[WSR__CLIENT_ID_LEN])
{
    snprintf(out, WSR__CLIENT_ID_LEN, "%s%llu", c->id_prefix, (unsigned long long)id);
}

bool wsr__client_parse_id(const wsr_client_t *c, const char *text, uint64_t *id)
{
    size_t plen = strlen(c->id_prefix);
    uint64_t n = 0;
    const char *p;

    if (text == NULL || strncmp(text, c->id_prefix, plen) != 0 || text[plen] == '\0')
        return false;
    for (p = text + plen; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *id = n;
    return true;
}

/* Sets o[key] to a new string; NULL `s` sets nothing. Returns 0, WSR_EINVAL or WSR_ENOMEM. */
static int set_string(json_t *o, const char *key, const char *s, wsr_error_t *err)
{
    if (s == NULL)
        return 0;
    if (!wsr__utf8_valid((const unsigned char *)s, strlen(s)))
        return wsr__error_set(err, WSR_EINVAL, "request member %s is not valid UTF-8", key);
    if (json_object_set_new(o, key, json_string_nocheck(s)) != 0)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory encoding the request");
    return 0;
}

/* Builds the request object with `token` (the request's or the client's,
 * may be NULL). Returns 0 with an owned `*out`, or a code. */
static int build_object(const wsr_client_t *c, const wsr_client_request_t *req, uint64_t id,
                        const char *token, json_t **out, wsr_error_t *err)
{
    json_t *o = json_object();
    char wire_id[WSR__CLIENT_ID_LEN];
    int rc;

    *out = NULL;
    wsr__client_wire_id(c, id, wire_id);
    if (o == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory encoding the request");
    if (req->cmd != NULL && (req->method != NULL || req->url != NULL)) {
        rc = wsr__error_set(err, WSR_EINVAL,
                            "a request takes a method and a url, or a cmd, not both");
    } else if (req->cmd != NULL) {
        rc = set_string(o, "cmd", req->cmd, err);
    } else if (req->method != NULL && req->url != NULL) {
        rc = set_string(o, "method", req->method, err);
        if (rc == 0)
            rc = set_string(o, "url", req->url, err);
    } else {
        rc = wsr__error_set(err, WSR_EINVAL, "a request needs a method and a url, or a cmd");
    }
    if (rc == 0 && req->args != NULL && !json_is_object(req->args))
        rc = wsr__error_set(err, WSR_EINVAL, "request args must be a JSON object");
    if (rc == 0 && ((req->args && json_object_set(o, "args", req->args) != 0) ||
                    (req->data && json_object_set(o, "data", req->data) != 0) ||
                    (req->event_name && json_object_set(o, "event_name", req->event_name) != 0) ||
                    json_object_set_new(o, "id", json_string(wire_id)) != 0))
        rc = wsr__error_set(err, WSR_ENOMEM, "out of memory encoding the request");
    if (rc == 0)
        rc = set_string(o, "token", token, err);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* Serializes `o` into the frame's buffer in the client's encoding. */
static int serialize(const wsr_client_t *c, const json_t *o, wsr__cmsg_t *m)
{
    wsr__buf_t json;
    int rc;

    if (c->cfg.encoding == WSR_CLIENT_JSON)
        return wsr__json_dump(&m->buf, o);
    wsr__buf_init(&json, 0, c->cfg.max_message);
    rc = wsr__json_dump(&json, o);
    if (rc == 0)
        rc = wsr__base64_encode(&m->buf, json.data, json.len);
    wsr__buf_dispose(&json);
    return rc;
}

int wsr__client_encode_object(const wsr_client_t *c, const json_t *o, const char *what,
                              wsr__cmsg_t **out, wsr_error_t *err)
{
    wsr__cmsg_t *m = wsr__calloc(1, sizeof(*m));
    int rc;

    *out = NULL;
    if (m == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory encoding %s", what);
    wsr__buf_init(&m->buf, LWS_PRE, c->cfg.max_message);
    m->binary = c->cfg.encoding == WSR_CLIENT_BASE64_BINARY;
    rc = serialize(c, o, m);
    if (rc == WSR_EOVERFLOW)
        wsr__error_set(err, rc, "%s is larger than max_message (%zu bytes)", what,
                       c->cfg.max_message);
    else if (rc != 0)
        wsr__error_set(err, rc, "cannot encode %s: %s", what, wsr_strerror(rc));
    if (rc != 0) {
        wsr__cmsg_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int wsr__client_encode(const wsr_client_t *c, const wsr_client_request_t *req, uint64_t id,
                       wsr__cmsg_t **out, wsr_error_t *err)
{
    json_t *o = NULL;
    char *token = NULL;
    int rc;

    *out = NULL;
    /* The client's token may be replaced meanwhile (wsr_client_set_token):
     * a copy taken under the lock goes into this request. */
    if (req->token == NULL && wsr__client_token_dup(c, &token) != 0)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory encoding the request");
    rc = build_object(c, req, id, req->token ? req->token : token, &o, err);
    wsr__free(token);
    if (rc != 0)
        return rc;
    rc = wsr__client_encode_object(c, o, "the request", out, err);
    json_decref(o);
    return rc;
}

json_t *wsr__client_decode(const unsigned char *p, size_t n, bool binary, char *why, size_t why_len)
{
    wsr__buf_t raw;
    json_error_t jerr;
    json_t *v = NULL;

    while (n > 0 && wsr__is_blank(*p)) {
        p++;
        n--;
    }
    while (n > 0 && wsr__is_blank(p[n - 1]))
        n--;
    wsr__buf_init(&raw, 0, 0);
    if (binary || n == 0 || *p != '{') {
        if (wsr__base64_decode(&raw, p, n) != 0) {
            snprintf(why, why_len, "a message from the server is neither JSON nor base64");
            goto out;
        }
        p = raw.data;
        n = raw.len;
    }
    if (n == 0) {
        snprintf(why, why_len, "a message from the server is empty");
        goto out;
    }
    v = json_loadb((const char *)p, n, 0, &jerr);
    if (v == NULL) {
        snprintf(why, why_len, "a message from the server is not valid JSON: %s", jerr.text);
    } else if (!json_is_object(v)) {
        snprintf(why, why_len, "a message from the server is not a JSON object");
        json_decref(v);
        v = NULL;
    }
out:
    wsr__buf_dispose(&raw);
    return v;
}

void wsr__reply_fill(wsr_client_reply_t *reply, json_t *message)
{
    memset(reply, 0, sizeof(*reply));
    reply->message = message;
    reply->status = (int)json_integer_value(json_object_get(message, "status"));
    reply->data = json_object_get(message, "data");
    reply->detail = json_string_value(json_object_get(message, "detail"));
    reply->errors = json_object_get(message, "errors");
    reply->allow = json_object_get(message, "allow");
}
