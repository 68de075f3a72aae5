/* SPDX-License-Identifier: MIT */
/*
 * The JSON-RPC 2.0 envelope (PROTOCOL.md section 10, jsonrpc.org/specification):
 * reading a request object into a request (method as a route name, params by
 * name or by position, the id, notifications), writing results and error
 * objects with the code table, and turning a v1 push into a notification.
 * The message's format and the batches are codec.c's and the server's
 * business; this file knows one envelope only. Pure: no I/O, no globals.
 */
#include "core/codec_int.h"

#include <string.h>

#include "core/json_int.h"

/* Reads params: an object is the arguments, an array fills the route's
 * declared parameters in order (the router does that, knowing the route).
 * JSON-RPC has no body: the handler's data is params' member "data" when
 * params is an object that has one, else params itself. */
static int read_params(wsr_request_t *req, json_t *params, char *detail)
{
    json_t *data;

    if (params == NULL)
        return 0;
    if (json_is_object(params)) {
        data = json_object_get(params, "data");
        req->args_in = json_incref(params);
        req->data = data != NULL ? data : params;
        return 0;
    }
    if (json_is_array(params)) {
        req->args_pos = params;
        req->data = params;
        return 0;
    }
    return wsr__codec_bad(detail, "member params must be an object or an array");
}

int wsr__jsonrpc_read(wsr_request_t *req, char *detail)
{
    json_t *id = wsr__request_get(req, WSR__KEY_ID),
           *version = wsr__request_get(req, WSR__KEY_JSONRPC);
    json_t *method = wsr__request_get(req, WSR__KEY_METHOD);
    size_t n;
    int rc;

    req->envelope = WSR__ENVELOPE_JSONRPC;
    /* The id first, so that every later error can echo it (null when it
     * cannot be read, as the specification says). */
    if (id != NULL && !json_is_string(id) && !json_is_number(id) && !json_is_null(id))
        return wsr__codec_bad(detail, "member id must be a string, a number or null");
    req->id = id;
    if (version == NULL)
        return wsr__codec_bad(detail, "member jsonrpc is missing: a batch holds JSON-RPC 2.0 "
                                      "requests only");
    if (!json_is_string(version) || json_string_length(version) != 3 ||
        memcmp(json_string_value(version), "2.0", 3) != 0)
        return wsr__codec_bad(detail, "member jsonrpc must be \"2.0\"");
    if (method == NULL)
        return wsr__codec_bad(detail, "member method is missing");
    if (!json_is_string(method))
        return wsr__codec_bad(detail, "member method must be a string");
    n = json_string_length(method);
    if (n == 0)
        return wsr__codec_bad(detail, "member method must not be empty");
    if (strlen(json_string_value(method)) != n)
        return wsr__codec_bad(detail, "member method must not contain a NUL character");
    req->cmd = json_string_value(method);
    rc = read_params(req, wsr__request_get(req, WSR__KEY_PARAMS), detail);
    if (rc != 0)
        return rc;
    /* Only a valid request without an id is a notification: an invalid one
     * is answered (with a null id) whatever it lacked. */
    req->notification = id == NULL;
    return 0;
}

int wsr__jsonrpc_code(int status, bool not_json)
{
    switch (status) {
    case 400:
        return not_json ? -32700 : -32600;
    case 404:
        return -32601;
    case 422:
        return -32602;
    case 500:
        return -32603;
    default:
        break;
    }
    /* The table's other codes follow one rule (401 -32001, 408 -32008,
     * 429 -32029, 499 -32099, 503 -32053): every status keeps a code of its
     * own in the server-error range. */
    if (status > 400 && status < 500)
        return -32000 - (status - 400);
    if (status > 500 && status < 550)
        return -32050 - (status - 500);
    return -32603;
}

static int put_error(wsr__buf_t *out, const wsr__reply_view_t *r)
{
    char num[24];
    const char *d = r->detail ? r->detail : "";
    int rc = WSR__BUF_LIT(out, "\"error\":{\"code\":");

    if (rc == 0)
        rc =
            wsr__buf_append(out, num, wsr__fmt_int(num, wsr__jsonrpc_code(r->status, r->not_json)));
    if (rc == 0)
        rc = WSR__BUF_LIT(out, ",\"message\":");
    if (rc == 0)
        rc = wsr__json_put_string(out, d, strlen(d));
    if (rc == 0)
        rc = WSR__BUF_LIT(out, ",\"data\":{\"status\":");
    if (rc == 0)
        rc = wsr__buf_append(out, num, wsr__fmt_int(num, r->status));
    if (rc == 0 && r->errors != NULL) {
        rc = WSR__BUF_LIT(out, ",\"errors\":");
        if (rc == 0)
            rc = wsr__json_dump(out, r->errors);
    }
    if (rc == 0 && r->allow != 0)
        rc = wsr__codec_put_allow(out, r->allow);
    if (rc == 0 && r->retry_after_ms != 0)
        rc = wsr__codec_put_retry(out, r->retry_after_ms);
    return rc ? rc : WSR__BUF_LIT(out, "}}");
}

int wsr__jsonrpc_encode_reply(wsr__buf_t *out, const wsr__reply_view_t *r)
{
    int rc = WSR__BUF_LIT(out, "{\"jsonrpc\":\"2.0\",");

    if (rc == 0 && r->status < 400) {
        rc = WSR__BUF_LIT(out, "\"result\":");
        if (rc == 0)
            rc = wsr__json_dump(out, r->data);
    } else if (rc == 0) {
        rc = put_error(out, r);
    }
    if (rc == 0)
        rc = WSR__BUF_LIT(out, ",\"id\":");
    if (rc == 0)
        rc = wsr__json_dump(out, r->id);
    return rc ? rc : wsr__buf_putc(out, '}');
}

int wsr__jsonrpc_push(wsr__buf_t *out, const unsigned char *json, size_t n)
{
    static const char head[] = "{\"event_name\":\"";
    const size_t k = sizeof(head) - 1;
    size_t i, start = out->len;
    int rc;

    if (n < k + 4 || memcmp(json, head, k) != 0 || json[n - 1] != '}')
        return WSR_EINVAL;
    /* The end of the event name's string: its closing quote. */
    for (i = k; i < n && json[i] != '"'; i++)
        if (json[i] == '\\')
            i++;
    if (i + 2 >= n || json[i + 1] != ',')
        return WSR_EINVAL;
    rc = WSR__BUF_LIT(out, "{\"jsonrpc\":\"2.0\",\"method\":");
    if (rc == 0)
        rc = wsr__buf_append(out, json + k - 1, i + 2 - k);
    if (rc == 0)
        rc = WSR__BUF_LIT(out, ",\"params\":{");
    /* The other members and the push's closing brace, which closes params. */
    if (rc == 0)
        rc = wsr__buf_append(out, json + i + 2, n - i - 2);
    if (rc == 0)
        rc = wsr__buf_putc(out, '}');
    if (rc != 0)
        out->len = start;
    return rc;
}
