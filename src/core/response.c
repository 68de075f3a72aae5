/* SPDX-License-Identifier: MIT */
/*
 * The response a handler fills. It owns its result or its error; the
 * dispatcher encodes it. Deferring hands the answer to a reply handle
 * (reply.c) through a hook the dispatcher installs, so this file knows
 * nothing about event loops or threads.
 */
#include "core/request_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/codec_int.h"

/* What a client sees when a handler fails: no internals (PROTOCOL.md section 4). */
static const char internal_error_detail[] = "the handler failed; see the server log";

void wsr__response_init(wsr_response_t *res)
{
    memset(res, 0, sizeof(*res));
    res->status = 200;
}

static void clear(wsr_response_t *res)
{
    json_decref(res->data);
    json_decref(res->errors);
    wsr__free(res->detail);
    res->data = NULL;
    res->errors = NULL;
    res->detail = NULL;
    res->allow = 0;
}

void wsr__response_dispose(wsr_response_t *res)
{
    clear(res);
}

void wsr__response_fail(wsr_response_t *res)
{
    clear(res);
    res->status = 500;
    /* If the copy fails the encoder writes an empty detail; status 500 stays. */
    res->detail = wsr__strdup(internal_error_detail);
}

int wsr_response_set_data_take(wsr_response_t *res, json_t *data)
{
    if (data == NULL) {
        wsr__response_fail(res);
        return WSR_ENOMEM;
    }
    clear(res);
    res->data = data;
    if (res->status >= 300)
        res->status = 200;
    return 0;
}

int wsr_response_set_string(wsr_response_t *res, const char *s)
{
    return wsr_response_set_data_take(res, json_string(s ? s : ""));
}

int wsr_response_set_int(wsr_response_t *res, int64_t v)
{
    return wsr_response_set_data_take(res, json_integer((json_int_t)v));
}

int wsr_response_set_real(wsr_response_t *res, double v)
{
    return wsr_response_set_data_take(res, json_real(v));
}

int wsr_response_set_bool(wsr_response_t *res, bool v)
{
    return wsr_response_set_data_take(res, json_boolean(v));
}

int wsr_response_set_status(wsr_response_t *res, int status)
{
    if (status != 200 && status != 201 && status != 202) {
        wsr__response_fail(res);
        return WSR_EINVAL;
    }
    if (res->status >= 300) {
        /* Turning an error back into a success drops the error text. */
        clear(res);
    }
    res->status = status;
    return 0;
}

/*
 * The length of `s` (n bytes) without a UTF-8 character cut short at its end.
 * Details and messages are cut at a byte count (vsnprintf, WSR__DETAIL_MAX);
 * a cut inside a character would make the reply invalid UTF-8 (PROTOCOL.md
 * section 2) and a 422 message unstorable (json_string refuses it).
 */
static size_t utf8_whole_len(const char *s, size_t n)
{
    size_t i = n, need;
    unsigned char lead;

    while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0 || (unsigned char)s[i - 1] < 0xC0)
        return n;
    lead = (unsigned char)s[i - 1];
    need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return n - (i - 1) < need ? i - 1 : n;
}

int wsr__response_error_str(wsr_response_t *res, int status, const char *detail)
{
    char *copy;

    if (status < 400 || status > 599) {
        wsr__response_fail(res);
        return WSR_EINVAL;
    }
    copy = wsr__strndup(detail, utf8_whole_len(detail, strnlen(detail, WSR__DETAIL_MAX)));
    if (copy == NULL) {
        wsr__response_fail(res);
        return WSR_ENOMEM;
    }
    /* Callers quote client input cut at a byte count ("%.200s"), which may
     * split a character anywhere in the sentence: repair it here, once. */
    wsr__utf8_repair(copy, strlen(copy));
    clear(res);
    res->status = status;
    res->detail = copy;
    return 0;
}

int wsr_response_error(wsr_response_t *res, int status, const char *fmt, ...)
{
    char detail[WSR__DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return wsr__response_error_str(res, status, detail);
}

/* The 422 detail names the parameters: "invalid parameter x: must be a number"
 * for one, "invalid parameters: x, y" for several. Long lists are cut. */
static int rebuild_param_detail(wsr_response_t *res)
{
    char one[WSR__DETAIL_MAX];
    wsr__buf_t b;
    const char *key;
    json_t *msg;
    size_t i = 0;

    wsr__buf_init(&b, 0, WSR__DETAIL_MAX - 1);
    if (json_object_size(res->errors) == 1) {
        /* Cut a long message to the detail size rather than fail on it: with
         * wsr__buf_printf past the limit the detail came out empty. */
        json_object_foreach(res->errors, key, msg)
        {
            snprintf(one, sizeof(one), "invalid parameter %s: %s", key, json_string_value(msg));
            if (wsr__buf_append(&b, one, utf8_whole_len(one, strlen(one))) != 0)
                break;
        }
    } else {
        json_object_foreach(res->errors, key, msg)
        {
            if (wsr__buf_printf(&b, "%s %s", i++ ? "," : "invalid parameters:", key) != 0)
                break;
        }
    }
    /* The terminator does not count against the detail's length. */
    b.limit = WSR__DETAIL_MAX;
    if (wsr__buf_putc(&b, '\0') != 0 && b.data != NULL)
        b.data[b.len - 1] = '\0';
    if (b.data == NULL)
        return WSR_ENOMEM;
    wsr__free(res->detail);
    res->detail = (char *)b.data;
    return 0;
}

int wsr_response_param_error(wsr_response_t *res, const char *param, const char *fmt, ...)
{
    char msg[WSR__DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    msg[utf8_whole_len(msg, strlen(msg))] = '\0';
    wsr__utf8_repair(msg, strlen(msg)); /* json_string refuses invalid UTF-8 */
    if (res->status != 422) {
        clear(res);
        res->status = 422;
    }
    if (res->errors == NULL && (res->errors = json_object()) == NULL)
        goto fail;
    if (json_object_set_new(res->errors, param, json_string(msg)) != 0)
        goto fail;
    if (rebuild_param_detail(res) != 0)
        goto fail;
    return 0;
fail:
    wsr__response_fail(res);
    return WSR_ENOMEM;
}

int wsr_response_status(const wsr_response_t *res)
{
    return res->status;
}

wsr_reply_t *wsr_response_defer(wsr_response_t *res)
{
    if (res->deferred)
        return res->reply;
    if (res->defer == NULL)
        return NULL;
    res->reply = res->defer(res->defer_ctx, res);
    if (res->reply != NULL)
        res->deferred = true;
    return res->reply;
}
