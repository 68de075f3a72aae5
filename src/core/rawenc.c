/* SPDX-License-Identifier: MIT */
/*
 * Replies and pushes written back in the raw framings that are not JSON
 * (see rawframe_int.h): RESP (RESP2 types, so that redis-cli and every
 * Redis client read them without HELLO 3; a publication is a RESP3 push,
 * `>3`, as PROTOCOL.md section 8 says) and retopy's text lines. The input
 * is the v1 JSON message the codec wrote; the output is appended. Pure.
 */
#include "core/rawframe_int.h"

#include <string.h>

#include "core/json_int.h"

static int resp_value(wsr__buf_t *out, const json_t *v);

static int resp_bulk(wsr__buf_t *out, const char *s, size_t n)
{
    int rc = wsr__buf_printf(out, "$%zu\r\n", n);

    if (rc == 0 && n > 0)
        rc = wsr__buf_append(out, s, n);
    return rc ? rc : wsr__buf_puts(out, "\r\n");
}

/* "OK" and "PONG" are simple strings, as Redis answers them. */
static bool simple_word(const char *s)
{
    return strcmp(s, "OK") == 0 || strcmp(s, "PONG") == 0;
}

static int resp_compound(wsr__buf_t *out, const json_t *v)
{
    const char *key;
    json_t *e;
    size_t i;
    int rc;

    if (json_is_array(v)) {
        rc = wsr__buf_printf(out, "*%zu\r\n", json_array_size(v));
        json_array_foreach(v, i, e)
        {
            if (rc == 0)
                rc = resp_value(out, e);
        }
        return rc;
    }
    /* An object is a flat array of names and values (RESP2's map). */
    rc = wsr__buf_printf(out, "*%zu\r\n", 2 * json_object_size(v));
    json_object_foreach((json_t *)v, key, e)
    {
        if (rc == 0)
            rc = resp_bulk(out, key, strlen(key));
        if (rc == 0)
            rc = resp_value(out, e);
    }
    return rc;
}

static int resp_value(wsr__buf_t *out, const json_t *v)
{
    wsr__buf_t tmp;
    int rc;

    switch (json_typeof(v)) {
    case JSON_NULL:
        return wsr__buf_puts(out, "+OK\r\n");
    case JSON_TRUE:
        return wsr__buf_puts(out, ":1\r\n");
    case JSON_FALSE:
        return wsr__buf_puts(out, ":0\r\n");
    case JSON_INTEGER:
        return wsr__buf_printf(out, ":%lld\r\n", (long long)json_integer_value(v));
    case JSON_STRING:
        if (simple_word(json_string_value(v)))
            return wsr__buf_printf(out, "+%s\r\n", json_string_value(v));
        return resp_bulk(out, json_string_value(v), json_string_length(v));
    case JSON_REAL:
        wsr__buf_init(&tmp, 0, 0);
        rc = wsr__json_dump(&tmp, v);
        if (rc == 0)
            rc = resp_bulk(out, (const char *)tmp.data, tmp.len);
        wsr__buf_dispose(&tmp);
        return rc;
    default:
        return resp_compound(out, v);
    }
}

/* An error's sentence on one line: CR and LF would end it early. */
static int one_line(wsr__buf_t *out, const char *s)
{
    int rc = 0;

    for (; rc == 0 && *s != '\0'; s++)
        rc = wsr__buf_putc(out, *s == '\r' || *s == '\n' ? ' ' : *s);
    return rc;
}

static int error_line(wsr__buf_t *out, const json_t *msg)
{
    const char *detail = json_string_value(json_object_get(msg, "detail"));
    int rc = wsr__buf_puts(out, "-ERR ");

    if (rc == 0)
        rc = one_line(out, detail != NULL ? detail : "request failed");
    return rc ? rc : wsr__buf_puts(out, "\r\n");
}

static int resp_push(wsr__buf_t *out, const json_t *msg)
{
    const json_t *topic = json_object_get(msg, "topic"), *ev = json_object_get(msg, "event_name");
    const json_t *data = json_object_get(msg, "data");
    const char *name = json_is_string(ev) ? json_string_value(ev) : "push";
    int rc;

    if (json_is_string(topic)) {
        rc = wsr__buf_puts(out, ">3\r\n");
        if (rc == 0)
            rc = resp_bulk(out, name, strlen(name));
        if (rc == 0)
            rc = resp_bulk(out, json_string_value(topic), json_string_length(topic));
    } else {
        rc = wsr__buf_puts(out, ">2\r\n");
        if (rc == 0)
            rc = resp_bulk(out, name, strlen(name));
    }
    if (rc == 0 && data != NULL && !json_is_null(data))
        rc = resp_value(out, data);
    else if (rc == 0)
        rc = wsr__buf_puts(out, "$-1\r\n");
    return rc;
}

/* The text of a value on a text line: strings as they are (OK and PONG as
 * retopy writes them, +OK and +PONG), numbers in decimal, null as +OK,
 * anything else compact JSON. */
static int text_value(wsr__buf_t *out, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return wsr__buf_puts(out, "+OK");
    if (json_is_string(v)) {
        if (simple_word(json_string_value(v)) && wsr__buf_putc(out, '+') != 0)
            return WSR_ENOMEM;
        return one_line(out, json_string_value(v));
    }
    return wsr__json_dump(out, v);
}

static int text_push(wsr__buf_t *out, const json_t *msg)
{
    const json_t *topic = json_object_get(msg, "topic"), *ev = json_object_get(msg, "event_name");
    int rc;

    if (json_is_string(topic))
        rc = wsr__buf_printf(out, "[%s %s] ", json_is_string(ev) ? json_string_value(ev) : "push",
                             json_string_value(topic));
    else
        rc = wsr__buf_printf(out, "[%s] ", json_is_string(ev) ? json_string_value(ev) : "push");
    if (rc == 0)
        rc = text_value(out, json_object_get(msg, "data"));
    return rc ? rc : wsr__buf_puts(out, "\r\n");
}

int wsr__raw_encode(wsr__buf_t *out, const json_t *msg, wsr__framing_t framing)
{
    const json_t *status = json_object_get(msg, "status");
    const json_t *progress = json_object_get(msg, "progress");
    int rc;

    if (framing != WSR__FRAMING_RESP && framing != WSR__FRAMING_TEXT)
        return WSR_EINVAL;
    if (status == NULL && progress != NULL) {
        /* Progress reads as a push of its own kind. */
        json_t *as_push = json_pack("{s:s, s:O}", "event_name", "progress", "data", progress);

        if (as_push == NULL)
            return WSR_ENOMEM;
        rc = framing == WSR__FRAMING_RESP ? resp_push(out, as_push) : text_push(out, as_push);
        json_decref(as_push);
        return rc;
    }
    if (status == NULL)
        return framing == WSR__FRAMING_RESP ? resp_push(out, msg) : text_push(out, msg);
    if (json_integer_value(status) >= 300)
        return error_line(out, msg);
    if (framing == WSR__FRAMING_RESP)
        return resp_value(out, json_object_get(msg, "data"));
    rc = text_value(out, json_object_get(msg, "data"));
    return rc ? rc : wsr__buf_puts(out, "\r\n");
}
