/* SPDX-License-Identifier: MIT */
/*
 * The message codec. Decoding tells the three encodings apart (PROTOCOL.md
 * section 2), parses with the message's length, refuses nesting past the
 * limit and duplicate keys, tells a JSON-RPC request or batch (section 10,
 * read by jsonrpc.c) from a v1 request, and checks every member of the v1
 * request table (section 3), so that a malformed message gets one specific
 * sentence. Encoding writes replies and pushes compactly in the request's
 * format and envelope. Pure: it owns nothing beyond the request it fills and
 * never touches a socket.
 */
#include "core/codec_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/base64_int.h"
#include "core/cmdid_int.h"
#include "core/json_int.h"

static int decode_envelope(wsr_request_t *req, const unsigned char *msg, size_t len, bool binary,
                           unsigned max_depth, char *detail);
static int read_request(wsr_request_t *req, char *detail);
static int read_input(wsr_request_t *req, char *detail);
static int read_members(wsr_request_t *req, char *detail);
static const char *kind_name(const json_t *v);
static int parse_url(wsr_request_t *req, const char *url, size_t n, char *detail);
static int parse_query(wsr_request_t *req, const char *q, size_t n, char *detail);

static const char *const method_names[] = {"GET",    "POST", "PUT",    "PATCH",
                                           "DELETE", "HEAD", "OPTIONS"};

/* The members PROTOCOL.md section 3 defines; a `cmd` request without `args`
 * takes every other member as a parameter (tcpy's client sends them so). */
static const char *const reserved_members[] = {"method", "url", "cmd",        "args",
                                               "data",   "id",  "event_name", "token"};

const char *wsr_method_name(unsigned method)
{
    size_t i;

    for (i = 0; i < WSR__ARRAY_SIZE(method_names); i++)
        if (method == (1u << i))
            return method_names[i];
    return NULL;
}

unsigned wsr__method_parse(const char *s, size_t n)
{
    size_t i;

    while (n > 0 && wsr__is_blank((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && wsr__is_blank((unsigned char)s[n - 1]))
        n--;
    for (i = 0; i < WSR__ARRAY_SIZE(method_names); i++)
        if (strlen(method_names[i]) == n && wsr__strncasecmp_ascii(s, method_names[i], n) == 0)
            return 1u << i;
    return 0;
}

bool wsr__utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp, min;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            need = 1, cp = c & 0x1Fu, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2, cp = c & 0x0Fu, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3, cp = c & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

void wsr__utf8_repair(char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t len = 1;
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x80) {
            len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (len == 1 || i + len > n || !wsr__utf8_valid((const unsigned char *)s + i, len)) {
                s[i++] = '?';
                continue;
            }
        }
        i += len;
    }
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int wsr__percent_decode(wsr__buf_t *out, const char *s, size_t n, bool plus_is_space)
{
    size_t start = out->len, i;
    int rc = 0;

    for (i = 0; rc == 0 && i < n; i++) {
        char c = s[i];

        if (c == '%') {
            int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return WSR_EPARSE;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        rc = wsr__buf_putc(out, c);
    }
    if (rc != 0)
        return rc;
    /* Nothing decoded into a buffer that never allocated: no pointer to
     * compute (NULL + 0 is undefined). */
    if (out->len > start && !wsr__utf8_valid(out->data + start, out->len - start))
        return WSR_EPARSE;
    return 0;
}

/*
 * The length of the longest prefix of `s` (n bytes of valid UTF-8) that has at
 * most `max` bytes and does not end inside a character. Details quote pieces of
 * the message cut to a length; a plain "%.200s" could split a character and
 * the reply would not be UTF-8 (PROTOCOL.md section 2).
 */
int wsr__utf8_cut(const char *s, size_t n, size_t max)
{
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return (int)n;
}

int wsr__codec_bad(char *detail, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, WSR__DETAIL_MAX, fmt, ap);
    va_end(ap);
    return WSR_EPARSE;
}

int wsr__codec_decode(wsr_request_t *req, const unsigned char *msg, size_t len, bool binary,
                      unsigned max_depth, char detail[WSR__DETAIL_MAX])
{
    int rc;

    detail[0] = '\0';
    rc = decode_envelope(req, msg, len, binary, max_depth, detail);
    if (rc != 0)
        return rc;
    return read_request(req, detail);
}

int wsr__codec_decode_element(wsr_request_t *req, json_t *elem, char detail[WSR__DETAIL_MAX])
{
    detail[0] = '\0';
    req->root = elem;
    req->format = WSR_FORMAT_JSON;
    req->envelope = WSR__ENVELOPE_JSONRPC;
    if (!json_is_object(elem))
        return wsr__codec_bad(detail, "a batch element must be a JSON-RPC request object, not %s",
                              kind_name(elem));
    /* Everything in a batch is JSON-RPC: an element without "jsonrpc" is
     * read as one, and refused for that member. */
    return wsr__jsonrpc_read(req, detail);
}

/* A JSON-RPC request or a v1 one: the "jsonrpc" member tells (section 10). */
static int read_request(wsr_request_t *req, char *detail)
{
    if (wsr__request_has(req, WSR__KEY_JSONRPC)) {
        /* JSON-RPC reads its members as jansson values. */
        if (req->msg != NULL && wsr__jmsg_cook(req->msg) != 0)
            return WSR_ENOMEM;
        req->envelope = WSR__ENVELOPE_JSONRPC;
        return wsr__jsonrpc_read(req, detail);
    }
    req->envelope = WSR__ENVELOPE_V1;
    if (wsr__request_has(req, WSR__KEY_INPUT) && !wsr__request_has(req, WSR__KEY_METHOD) &&
        !wsr__request_has(req, WSR__KEY_URL) && !wsr__request_has(req, WSR__KEY_CMD))
        return read_input(req, detail);
    return read_members(req, detail);
}

/* {"id":X,"input":...}: input for the running call X (section 5.1). */
static int read_input(wsr_request_t *req, char *detail)
{
    /* The server reads the input from the object (serve.c). */
    if (wsr__request_root(req) == NULL)
        return WSR_ENOMEM;
    req->id = json_object_get(req->root, "id");
    req->event_name = json_object_get(req->root, "event_name");
    if (!json_is_string(req->id) && !json_is_number(req->id)) {
        req->id = NULL;
        return wsr__codec_bad(detail, "input needs the string or number id of a running call");
    }
    return WSR__DECODE_INPUT;
}

/* The base64 alphabet (RFC 4648 section 4) and its padding: a text message
 * that begins with anything else is JSON (PROTOCOL.md section 2). */
static bool base64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

/* True when the `n` bytes at `p` contain the text `"jsonrpc"`. */
static bool mentions_jsonrpc(const unsigned char *p, size_t n)
{
    static const char key[] = "\"jsonrpc\"";
    const size_t k = sizeof(key) - 1;

    for (size_t i = 0; i + k <= n; i++)
        if (p[i] == '"' && memcmp(p + i, key, k) == 0)
            return true;
    return false;
}

/* A message whose JSON could not be read tells no envelope. It is answered
 * in JSON-RPC when the connection speaks it by default, when it was meant
 * as a batch (it begins with '['), or when it names the "jsonrpc" member;
 * in v1 otherwise. */
static void guess_envelope(wsr_request_t *req, const unsigned char *p, const unsigned char *end)
{
    size_t n = (size_t)(end - p);

    if (req->format == WSR_FORMAT_JSON && n > 0 && (*p == '[' || mentions_jsonrpc(p, n)))
        req->envelope = WSR__ENVELOPE_JSONRPC;
}

/* The message is not JSON (JSON-RPC -32700). Returns `rc`. */
static int not_json(wsr_request_t *req, const unsigned char *p, const unsigned char *end, int rc)
{
    req->not_json = true;
    guess_envelope(req, p, end);
    return rc;
}

static const char *kind_name(const json_t *v)
{
    static const char *const kinds[] = {"an object", "an array", "a string", "a number",
                                        "a number",  "true",     "false",    "null"};

    return kinds[json_typeof(v)];
}

/* The top level of a message: an object is one request; in JSON text, an
 * array is a JSON-RPC batch. Returns 0, WSR__DECODE_BATCH or WSR_EPARSE. */
static int check_top(wsr_request_t *req, char *detail)
{
    json_t *root = req->root;
    size_t n;

    if (req->msg != NULL || json_is_object(root))
        return 0;
    if (!json_is_array(root) || req->format != WSR_FORMAT_JSON)
        return wsr__codec_bad(detail, "message must be a JSON object, not %s", kind_name(root));
    req->envelope = WSR__ENVELOPE_JSONRPC;
    n = json_array_size(root);
    if (n == 0)
        return wsr__codec_bad(detail, "a batch must hold at least one request");
    if (n > WSR__BATCH_MAX)
        return wsr__codec_bad(detail, "a batch may hold at most %d requests, not %zu",
                              WSR__BATCH_MAX, n);
    return WSR__DECODE_BATCH;
}

/* Splits off the encoding, base64-decodes when needed, and parses the JSON. */
static int decode_envelope(wsr_request_t *req, const unsigned char *msg, size_t len, bool binary,
                           unsigned max_depth, char *detail)
{
    const unsigned char *p = msg, *end = msg + len;
    wsr__buf_t raw;
    wsr__json_error_t jerr;
    json_t *root;
    wsr__jmsg_t *flat;
    int rc = 0;

    while (p < end && wsr__is_blank(*p))
        p++;
    if (binary)
        req->format = WSR_FORMAT_BASE64_BINARY;
    else if (p < end && !base64_char(*p))
        req->format = WSR_FORMAT_JSON;
    else
        req->format = WSR_FORMAT_BASE64_TEXT; /* blanks only or nothing: "empty", in base64 */
    wsr__buf_init(&raw, 0, len);
    if (req->format != WSR_FORMAT_JSON) {
        while (end > p && wsr__is_blank(end[-1]))
            end--;
        if (p == end)
            return not_json(req, p, end, wsr__codec_bad(detail, "message is empty"));
        rc = wsr__base64_decode(&raw, p, (size_t)(end - p));
        if (rc == WSR_ENOMEM)
            goto out;
        if (rc != 0) {
            rc = not_json(req, p, end,
                          wsr__codec_bad(
                              detail, "message is not valid base64 (RFC 4648, standard alphabet)"));
            goto out;
        }
        p = raw.data;
        end = raw.data + raw.len;
        /* A text frame's UTF-8 was checked by libwebsockets (1007); what a
         * base64 body decodes to is checked here, all of it, first. */
        if (!wsr__utf8_valid(p, (size_t)(end - p))) {
            rc = not_json(req, p, end, wsr__codec_bad(detail, "message is not valid UTF-8"));
            goto out;
        }
    }
    /* An object is read flat (no jansson object), anything else as a value. */
    root = wsr__json_parse_message(p, (size_t)(end - p), max_depth, &jerr, &flat);
    if (root == NULL && flat == NULL) {
        switch (jerr.kind) {
        case WSR__JSON_NOMEM:
            rc = WSR_ENOMEM;
            break;
        case WSR__JSON_UTF8:
            rc = wsr__codec_bad(detail, "message is not valid UTF-8");
            break;
        case WSR__JSON_EOF:
            rc =
                wsr__codec_bad(detail, (p == end) ? "message is empty"
                                                  : "message is not valid JSON: it ends too early");
            break;
        case WSR__JSON_DEPTH:
            rc = wsr__codec_bad(detail, "message nests deeper than %u levels", max_depth);
            break;
        default:
            rc = wsr__codec_bad(detail, "message is not valid JSON: %s (line %d, column %d)",
                                jerr.text, jerr.line, jerr.column);
            break;
        }
        /* Nested too deep, or out of memory, it was JSON but unread: the
         * envelope is guessed as for text that is not JSON. */
        if (rc == WSR_EPARSE && jerr.kind != WSR__JSON_DEPTH)
            (void)not_json(req, p, end, rc);
        else
            guess_envelope(req, p, end);
        goto out;
    }
    req->root = root;
    req->msg = flat;
    rc = check_top(req, detail);
out:
    wsr__buf_dispose(&raw);
    return rc;
}

/* Reads a member that must be a string without NUL bytes; NULL when absent. */
static int string_member(const wsr_request_t *req, int k, const char **out, size_t *len,
                         char *detail)
{
    const char *name = wsr__keys[k], *s;
    size_t n;
    json_t *v;

    *out = NULL;
    if (!wsr__request_text(req, k, &s, &n)) {
        v = wsr__request_get(req, k);
        if (v == NULL)
            return 0;
        if (!json_is_string(v))
            return wsr__codec_bad(detail, "member %s must be a string", name);
        s = json_string_value(v);
        n = json_string_length(v);
    }
    if (memchr(s, '\0', n) != NULL)
        return wsr__codec_bad(detail, "member %s must not contain a NUL character", name);
    *out = s;
    if (len != NULL)
        *len = n;
    return 0;
}

/* Sets `key` in `args` unless it is a reserved member. Returns 0 or -1. */
static int add_unreserved(json_t *args, const char *key, json_t *value)
{
    for (size_t i = 0; i < WSR__ARRAY_SIZE(reserved_members); i++)
        if (strcmp(key, reserved_members[i]) == 0)
            return 0;
    return json_object_set(args, key, value);
}

/* For a `cmd` request without `args`: every non-reserved member is a parameter. */
static int members_as_args(wsr_request_t *req)
{
    const char *key;
    json_t *value;
    json_t *args = json_object();

    if (args == NULL)
        return WSR_ENOMEM;
    /* Read flat, the message has no "args" here: every member has its value. */
    for (size_t m = 0; req->root == NULL && m < req->msg->top.n; m++)
        if (add_unreserved(args, req->msg->text + req->msg->top.m[m].key,
                           req->msg->top.m[m].value) != 0)
            goto oom;
    json_object_foreach(req->root, key, value)
    {
        if (add_unreserved(args, key, value) != 0)
            goto oom;
    }
    req->args_in = args;
    return 0;
oom:
    json_decref(args);
    return WSR_ENOMEM;
}

static int read_target(wsr_request_t *req, char *detail)
{
    const char *method = NULL, *url = NULL, *cmd = NULL;
    size_t method_len = 0, url_len = 0, cmd_len = 0;
    int rc;

    if ((rc = string_member(req, WSR__KEY_METHOD, &method, &method_len, detail)) != 0 ||
        (rc = string_member(req, WSR__KEY_URL, &url, &url_len, detail)) != 0 ||
        (rc = string_member(req, WSR__KEY_CMD, &cmd, &cmd_len, detail)) != 0)
        return rc;
    if (cmd == NULL && method == NULL && url == NULL && wsr__request_get(req, WSR__KEY_CMDID))
        return wsr__cmdid_read(req, detail);
    if (cmd != NULL && (method != NULL || url != NULL))
        return wsr__codec_bad(detail, "request must give either cmd or method and url, not both");
    if (cmd != NULL) {
        if (cmd_len == 0)
            return wsr__codec_bad(detail, "member cmd must not be empty");
        req->cmd = cmd;
        return 0;
    }
    if (method == NULL && url == NULL)
        return wsr__codec_bad(detail, "request needs method and url, or cmd");
    if (method == NULL)
        return wsr__codec_bad(detail, "member method is missing (url %.*s needs one)",
                              wsr__utf8_cut(url, url_len, 200), url);
    if (url == NULL)
        return wsr__codec_bad(detail, "member url is missing (method %.*s needs one)",
                              wsr__utf8_cut(method, method_len, 32), method);
    req->method = wsr__method_parse(method, method_len);
    if (req->method == 0)
        return wsr__codec_bad(
            detail,
            "method %.*s is not supported (use GET, POST, PUT, PATCH, DELETE, HEAD "
            "or OPTIONS)",
            wsr__utf8_cut(method, method_len, 32), method);
    return parse_url(req, url, url_len, detail);
}

static int read_members(wsr_request_t *req, char *detail)
{
    /* An "args" object read flat stays in req->msg: no args_in. */
    bool flat_args = req->root == NULL && req->msg->args_flat;
    json_t *v;
    int rc;

    /* event_name and id first, so every later error can echo them. event_name
     * may be anything, so it is set even when the id is refused: the reply to
     * that 400 still echoes it (PROTOCOL.md section 4, "always"). */
    req->event_name = wsr__request_get(req, WSR__KEY_EVENT_NAME);
    v = wsr__request_get(req, WSR__KEY_ID);
    if (v != NULL && !json_is_string(v) && !json_is_number(v))
        return wsr__codec_bad(detail, "member id must be a string or a number");
    req->id = v;
    req->data = wsr__request_get(req, WSR__KEY_DATA);
    if ((rc = string_member(req, WSR__KEY_TOKEN, &req->token, NULL, detail)) != 0)
        return rc;
    v = wsr__request_get(req, WSR__KEY_ARGS);
    if (v != NULL && !json_is_object(v))
        return wsr__codec_bad(detail, "member args must be an object");
    if ((rc = read_target(req, detail)) != 0)
        return rc;
    req->args_in_flat = flat_args;
    if (v == NULL && !flat_args && req->cmdid != 0)
        v = wsr__request_get(req, WSR__KEY_PARAMS);
    if (v != NULL)
        req->args_in = json_incref(v);
    else if (req->cmd != NULL && !flat_args)
        return members_as_args(req);
    return 0;
}

static int parse_url(wsr_request_t *req, const char *url, size_t n, char *detail)
{
    const char *q = memchr(url, '?', n), *frag;
    size_t path_len = q ? (size_t)(q - url) : n;

    if (n == 0 || url[0] != '/')
        return wsr__codec_bad(detail, "member url must be a path starting with / (got \"%.*s\")",
                              wsr__utf8_cut(url, n, 200), url);
    /* A fragment never reaches a server in HTTP; ignore it here too. */
    frag = memchr(url, '#', n);
    if (frag != NULL && (q == NULL || frag < q)) {
        path_len = (size_t)(frag - url);
        q = NULL;
    }
    while (path_len > 1 && url[path_len - 1] == '/')
        path_len--;
    req->path = wsr__strndup(url, path_len);
    if (req->path == NULL)
        return WSR_ENOMEM;
    if (q == NULL)
        return 0;
    q++;
    frag = memchr(q, '#', n - (size_t)(q - url));
    return parse_query(req, q, frag ? (size_t)(frag - q) : n - (size_t)(q - url), detail);
}

/* Percent-decodes `k=v&k2=v2` into req->query; a repeated key keeps its last value. */
static int parse_query(wsr_request_t *req, const char *q, size_t n, char *detail)
{
    const char *p = q, *end = q + n;
    wsr__buf_t key, val;
    int rc = 0;

    if (n == 0)
        return 0;
    req->query = json_object();
    if (req->query == NULL)
        return WSR_ENOMEM;
    wsr__buf_init(&key, 0, n);
    wsr__buf_init(&val, 0, n);
    while (rc == 0 && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
        const char *pair_end = amp ? amp : end;

        eq = memchr(p, '=', (size_t)(pair_end - p));
        wsr__buf_reset(&key);
        wsr__buf_reset(&val);
        if (pair_end > p) {
            const char *kend = eq ? eq : pair_end;

            rc = wsr__percent_decode(&key, p, (size_t)(kend - p), true);
            if (rc == 0 && eq != NULL)
                rc = wsr__percent_decode(&val, eq + 1, (size_t)(pair_end - eq - 1), true);
            if (rc == WSR_EPARSE)
                rc = wsr__codec_bad(
                    detail, "url query has a bad percent-escape or invalid UTF-8 in \"%.*s\"",
                    wsr__utf8_cut(p, (size_t)(pair_end - p), 200), p);
            if (rc == 0 && key.len > 0)
                /* An empty value leaves the buffer unallocated: "" then. */
                rc = json_object_setn_new(
                         req->query, (const char *)key.data, key.len,
                         json_stringn(val.data ? (const char *)val.data : "", val.len))
                         ? WSR_ENOMEM
                         : 0;
        }
        p = pair_end + (amp != NULL);
    }
    wsr__buf_dispose(&key);
    wsr__buf_dispose(&val);
    return rc;
}

int wsr__codec_put_retry(wsr__buf_t *out, unsigned retry_after_ms)
{
    char num[24];
    int rc = WSR__BUF_LIT(out, ",\"retry_after_ms\":");

    return rc ? rc : wsr__buf_append(out, num, wsr__fmt_int(num, (long long)retry_after_ms));
}

int wsr__codec_put_allow(wsr__buf_t *out, unsigned allow)
{
    bool first = true;
    int rc = WSR__BUF_LIT(out, ",\"allow\":[");

    for (size_t i = 0; rc == 0 && i < WSR__ARRAY_SIZE(method_names); i++) {
        if (!(allow & (1u << i)))
            continue;
        if (!first)
            rc = wsr__buf_putc(out, ',');
        first = false;
        if (rc == 0)
            rc = wsr__buf_printf(out, "\"%s\"", method_names[i]);
    }
    return rc ? rc : wsr__buf_putc(out, ']');
}

static int encode_reply_json(wsr__buf_t *out, const wsr__reply_view_t *r)
{
    char num[24];
    int rc = WSR__BUF_LIT(out, "{\"status\":");

    if (rc == 0)
        rc = wsr__buf_append(out, num, wsr__fmt_int(num, r->status));
    if (rc == 0 && r->status < 400) {
        rc = WSR__BUF_LIT(out, ",\"data\":");
        if (rc == 0)
            rc = wsr__json_dump(out, r->data);
    } else if (rc == 0) {
        const char *d = r->detail ? r->detail : "";

        rc = WSR__BUF_LIT(out, ",\"detail\":");
        if (rc == 0)
            rc = wsr__json_put_string(out, d, strlen(d));
        if (rc == 0 && r->errors != NULL) {
            rc = WSR__BUF_LIT(out, ",\"errors\":");
            if (rc == 0)
                rc = wsr__json_dump(out, r->errors);
        }
        if (rc == 0 && r->allow != 0)
            rc = wsr__codec_put_allow(out, r->allow);
        if (rc == 0 && r->retry_after_ms != 0)
            rc = wsr__codec_put_retry(out, r->retry_after_ms);
    }
    if (rc == 0 && r->id != NULL) {
        rc = WSR__BUF_LIT(out, ",\"id\":");
        if (rc == 0)
            rc = wsr__json_dump(out, r->id);
    }
    if (rc == 0)
        rc = WSR__BUF_LIT(out, ",\"event_name\":");
    if (rc == 0)
        rc = wsr__json_dump(out, r->event_name);
    return rc ? rc : wsr__buf_putc(out, '}');
}

/* Encodes with `encode` straight into `out` for JSON, or through `scratch`
 * and base64 for the other two formats. */
static int encode_in_format(wsr__buf_t *out, wsr_format_t fmt, wsr__buf_t *scratch,
                            int (*encode)(wsr__buf_t *, const void *), const void *arg)
{
    int rc;

    if (fmt == WSR_FORMAT_JSON)
        return encode(out, arg);
    wsr__buf_reset(scratch);
    rc = encode(scratch, arg);
    if (rc != 0)
        return rc;
    return wsr__base64_encode(out, wsr__buf_payload(scratch), wsr__buf_payload_len(scratch));
}

static int encode_reply_cb(wsr__buf_t *out, const void *arg)
{
    const wsr__reply_view_t *r = arg;

    if (r->envelope == WSR__ENVELOPE_JSONRPC)
        return wsr__jsonrpc_encode_reply(out, r);
    return encode_reply_json(out, r);
}

int wsr__codec_encode_reply(wsr__buf_t *out, const wsr__reply_view_t *r, wsr_format_t fmt,
                            wsr__buf_t *scratch)
{
    return encode_in_format(out, fmt, scratch, encode_reply_cb, r);
}

struct push_view {
    const char *event_name;
    const char *topic;
    uint64_t offset;   /* 0: none (not a publication) */
    const char *epoch; /* with offset */
    const json_t *data;
};

static int encode_push_cb(wsr__buf_t *out, const void *arg)
{
    const struct push_view *p = arg;
    int rc = WSR__BUF_LIT(out, "{\"event_name\":");

    if (rc == 0)
        rc = wsr__json_put_string(out, p->event_name, strlen(p->event_name));
    if (rc == 0 && p->topic != NULL) {
        rc = WSR__BUF_LIT(out, ",\"topic\":");
        if (rc == 0)
            rc = wsr__json_put_string(out, p->topic, strlen(p->topic));
    }
    if (rc == 0 && p->offset != 0) {
        rc = wsr__buf_printf(out, ",\"offset\":%llu,\"epoch\":", (unsigned long long)p->offset);
        if (rc == 0)
            rc = wsr__json_put_string(out, p->epoch, strlen(p->epoch));
    }
    if (rc == 0)
        rc = WSR__BUF_LIT(out, ",\"data\":");
    if (rc == 0)
        rc = wsr__json_dump(out, p->data);
    return rc ? rc : wsr__buf_putc(out, '}');
}

int wsr__codec_encode_push(wsr__buf_t *out, const char *event_name, const char *topic,
                           const json_t *data, wsr_format_t fmt, wsr__buf_t *scratch)
{
    struct push_view p = {event_name, topic, 0, NULL, data};

    return encode_in_format(out, fmt, scratch, encode_push_cb, &p);
}

int wsr__codec_encode_publication(wsr__buf_t *out, const char *event_name, const char *topic,
                                  uint64_t offset, const char *epoch, const json_t *data)
{
    struct push_view p = {event_name, topic, offset, epoch, data};

    return encode_push_cb(out, &p);
}

int wsr__codec_encode_raw(wsr__buf_t *out, const unsigned char *json, size_t n, wsr_format_t fmt)
{
    if (fmt == WSR_FORMAT_JSON)
        return wsr__buf_append(out, json, n);
    return wsr__base64_encode(out, json, n);
}

int wsr__codec_encode_push_as(wsr__buf_t *out, const unsigned char *json, size_t n,
                              wsr_format_t fmt, int envelope, wsr__buf_t *scratch)
{
    int rc;

    if (envelope != WSR__ENVELOPE_JSONRPC)
        return wsr__codec_encode_raw(out, json, n, fmt);
    if (fmt == WSR_FORMAT_JSON)
        return wsr__jsonrpc_push(out, json, n);
    wsr__buf_reset(scratch);
    rc = wsr__jsonrpc_push(scratch, json, n);
    if (rc != 0)
        return rc;
    return wsr__base64_encode(out, wsr__buf_payload(scratch), wsr__buf_payload_len(scratch));
}

wsr__reply_to_t wsr__reply_to(const wsr_request_t *req)
{
    wsr__reply_to_t to;

    to.id = req->id;
    to.event_name = req->event_name;
    to.format = req->format;
    to.envelope = req->envelope;
    to.head = req->method == WSR_HEAD;
    to.not_json = req->not_json;
    return to;
}

int wsr__codec_encode_answer(wsr__buf_t *out, const wsr_response_t *res, const wsr__reply_to_t *to,
                             wsr__buf_t *scratch)
{
    wsr__reply_view_t v;

    v.status = res->status;
    v.data = to->head ? NULL : res->data;
    v.detail = res->detail;
    v.errors = res->errors;
    v.allow = res->allow;
    v.retry_after_ms = res->retry_after_ms;
    v.id = to->id;
    v.event_name = to->event_name;
    v.envelope = to->envelope;
    v.not_json = to->not_json;
    return wsr__codec_encode_reply(out, &v, to->format, scratch);
}

int wsr__codec_encode_response(wsr__buf_t *out, const wsr_response_t *res, const json_t *id,
                               const json_t *event_name, bool head, wsr_format_t fmt,
                               wsr__buf_t *scratch)
{
    wsr__reply_to_t to = {id, event_name, fmt, WSR__ENVELOPE_V1, head, false};

    return wsr__codec_encode_answer(out, res, &to, scratch);
}
