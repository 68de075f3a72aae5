/* SPDX-License-Identifier: MIT */
/*
 * tcpy's framing (see rawframe_int.h): a 4-byte big-endian length, then one
 * MessagePack value, a map. MessagePack is read and written by Debian's
 * msgpack-c, never by hand; this file only translates between its objects
 * and jansson's. Pure: no I/O, no state between calls.
 */
#include "core/rawframe_int.h"

#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "core/codec_int.h"
#include "core/json_int.h"

static int bad(char *detail, const char *what)
{
    snprintf(detail, WSR__RAW_DETAIL, "%s", what);
    return WSR_EPARSE;
}

static int to_json(const msgpack_object *o, unsigned depth, json_t **out, char *detail);

/* A string's bytes: msgpack-c may give an empty string a NULL pointer,
 * which memchr and memcpy may not be given (fuzz_tcpy: UBSan on an empty
 * key's memchr). */
static const char *str_ptr(const msgpack_object *o)
{
    return o->via.str.size > 0 ? o->via.str.ptr : "";
}

static int map_to_json(const msgpack_object_map *m, unsigned depth, json_t **out, char *detail)
{
    json_t *obj = json_object();
    int rc = obj != NULL ? 0 : WSR_ENOMEM;

    for (uint32_t i = 0; rc == 0 && i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        json_t *v = NULL;
        char *key;

        if (k->type != MSGPACK_OBJECT_STR)
            rc = bad(detail, "a map key is not a string");
        else if (k->via.str.size > 0 &&
                 (memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL ||
                  !wsr__utf8_valid((const unsigned char *)k->via.str.ptr, k->via.str.size)))
            rc = bad(detail, "a map key is not UTF-8 text without NUL");
        if (rc == 0)
            rc = to_json(&m->ptr[i].val, depth, &v, detail);
        if (rc != 0)
            break;
        key = wsr__strndup(str_ptr(k), k->via.str.size);
        if (key == NULL || json_object_set_new(obj, key, v) != 0)
            rc = WSR_ENOMEM;
        wsr__free(key);
    }
    if (rc != 0) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

static int array_to_json(const msgpack_object_array *a, unsigned depth, json_t **out, char *detail)
{
    json_t *arr = json_array();
    int rc = arr != NULL ? 0 : WSR_ENOMEM;

    for (uint32_t i = 0; rc == 0 && i < a->size; i++) {
        json_t *v = NULL;

        rc = to_json(&a->ptr[i], depth, &v, detail);
        if (rc == 0 && json_array_append_new(arr, v) != 0)
            rc = WSR_ENOMEM;
    }
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* `depth`: the levels of arrays and maps `o` may still open (the JSON
 * parser's measure: max_depth nested containers, not one more). Children
 * are read with their parent's budget less one: they used to be given it
 * back (depth + 1), so a tcpy frame never hit max_depth. */
static int to_json(const msgpack_object *o, unsigned depth, json_t **out, char *detail)
{
    if (depth == 0 && (o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP))
        return bad(detail, "the value nests too deeply");
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        *out = json_null();
        return 0;
    case MSGPACK_OBJECT_BOOLEAN:
        *out = json_boolean(o->via.boolean);
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return bad(detail, "an integer is too large");
        *out = json_integer((json_int_t)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = json_integer((json_int_t)o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = json_real(o->via.f64);
        if (*out == NULL)
            return bad(detail, "a number is not finite");
        return 0;
    case MSGPACK_OBJECT_STR:
        if (o->via.str.size > 0 &&
            !wsr__utf8_valid((const unsigned char *)o->via.str.ptr, o->via.str.size))
            return bad(detail, "a string is not valid UTF-8");
        *out = json_stringn(str_ptr(o), o->via.str.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        return array_to_json(&o->via.array, depth - 1, out, detail);
    case MSGPACK_OBJECT_MAP:
        return map_to_json(&o->via.map, depth - 1, out, detail);
    default:
        return bad(detail, "binary and extension values are not served");
    }
    return *out != NULL ? 0 : WSR_ENOMEM;
}

/* Big-endian `n` bytes at `p`. */
static uint64_t be(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The containers msgpack-c keeps open at once (its unpacker's stack): one
 * more is refused as out of memory, which a client must not be able to
 * cause, so the walk below refuses it first, as too deep. */
#ifndef MSGPACK_EMBED_STACK_SIZE
#define MSGPACK_EMBED_STACK_SIZE 32
#endif

/*
 * Walks the MessagePack value of `p` (len bytes) by its headers alone before
 * msgpack-c reads it. msgpack-c allocates an array's or a map's elements
 * from its count before it reads any (fuzz_tcpy: a 15-byte frame holding a
 * map32 header of 2^31 pairs asked for 256 GiB), so every count is checked
 * here against the bytes left, each element taking one byte at least: what
 * msgpack-c allocates is then bounded by the frame's size. And it fails as
 * out of memory past MSGPACK_EMBED_STACK_SIZE open containers (fuzz_tcpy
 * again: a frame of nested arrays closed the connection 1011), refused here
 * as too deep. Returns 0, or WSR_EPARSE with `detail`.
 */
static int check_counts(const unsigned char *p, size_t len, char *detail)
{
    uint64_t left[MSGPACK_EMBED_STACK_SIZE + 1]; /* values still to come, by open level */
    uint64_t pending = 1;                        /* all of them */
    unsigned depth = 0;                          /* containers open */
    size_t at = 0;

    left[0] = 1;
    while (pending > 0) {
        unsigned b, head = 1; /* the header's bytes */
        uint64_t body = 0, items = 0;
        bool container = false;

        if (at >= len)
            return bad(detail, "the frame's MessagePack value is truncated");
        b = p[at];
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixints, nil, booleans */
        } else if (b <= 0x8f) {
            items = 2 * (uint64_t)(b & 0x0f);
            container = true;
        } else if (b <= 0x9f) {
            items = b & 0x0f;
            container = true;
        } else if (b <= 0xbf) {
            body = b & 0x1f;
        } else if (b == 0xc1) {
            return bad(detail, "the frame is not valid MessagePack");
        } else {
            /* bin, ext, float, uint, int, fixext, str, array, map: 0xc4..0xdf */
            static const unsigned char lenbytes[] = {
                1, 2, 4,                /* bin 8/16/32: a length */
                1, 2, 4,                /* ext 8/16/32: a length, then a type */
                0, 0,                   /* float 32/64 */
                0, 0, 0, 0, 0, 0, 0, 0, /* uint, int 8..64 */
                0, 0, 0, 0, 0,          /* fixext 1..16 */
                1, 2, 4,                /* str 8/16/32 */
                2, 4, 2, 4,             /* array 16/32, map 16/32: a count */
            };
            static const unsigned char fixed[] = {
                0, 0, 0, 1, 1, 1, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8, 2, 3, 5, 9, 17, 0, 0, 0, 0, 0, 0, 0,
            };
            unsigned i = b - 0xc4, lb = lenbytes[i];

            head = 1 + lb;
            if (at + head > len)
                return bad(detail, "the frame's MessagePack value is truncated");
            container = b >= 0xdc;
            if (container)
                items = be(p + at + 1, lb) * (b >= 0xde ? 2 : 1);
            else
                body = (lb ? be(p + at + 1, lb) : 0) + fixed[i];
        }
        if (container && depth >= MSGPACK_EMBED_STACK_SIZE)
            return bad(detail, "the value nests too deeply");
        if (body > len - at - head)
            return bad(detail, "the frame's MessagePack value is truncated");
        at += head + (size_t)body;
        left[depth]--;
        pending = pending - 1 + items;
        if (pending > len - at)
            return bad(detail, "the frame's MessagePack value is truncated");
        if (items > 0)
            left[++depth] = items;
        while (depth > 0 && left[depth] == 0)
            depth--;
    }
    return 0;
}

int wsr__tcpy_next(const unsigned char *p, size_t n, size_t max, unsigned max_depth,
                   wsr__buf_t *json, size_t *used, char detail[WSR__RAW_DETAIL])
{
    msgpack_unpacked u;
    size_t len, off = 0;
    json_t *v = NULL;
    int rc;

    detail[0] = '\0';
    wsr__buf_reset(json);
    if (n < 4)
        return WSR__FRAME_MORE;
    len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | (size_t)p[3];
    if (len > max)
        return WSR_EOVERFLOW;
    if (n - 4 < len)
        return WSR__FRAME_MORE;
    rc = check_counts(p + 4, len, detail);
    if (rc != 0)
        return rc;
    msgpack_unpacked_init(&u);
    switch (msgpack_unpack_next(&u, (const char *)p + 4, len, &off)) {
    case MSGPACK_UNPACK_SUCCESS:
        if (off != len)
            rc = bad(detail, "the frame holds more than one MessagePack value");
        else if (u.data.type != MSGPACK_OBJECT_MAP)
            rc = bad(detail, "the frame's MessagePack value is not a map");
        else
            rc = to_json(&u.data, max_depth, &v, detail);
        break;
    case MSGPACK_UNPACK_NOMEM_ERROR:
        rc = WSR_ENOMEM;
        break;
    case MSGPACK_UNPACK_CONTINUE:
        rc = bad(detail, "the frame's MessagePack value is truncated");
        break;
    default:
        rc = bad(detail, "the frame is not valid MessagePack");
        break;
    }
    msgpack_unpacked_destroy(&u);
    if (rc == 0)
        rc = wsr__json_dump(json, v);
    json_decref(v);
    if (rc != 0)
        return rc == WSR_EINVAL ? bad(detail, "the value nests too deeply") : rc;
    *used = 4 + len;
    return WSR__FRAME_OK;
}

/* ---- encoding ---- */

static int write_cb(void *data, const char *buf, size_t len)
{
    return wsr__buf_append(data, buf, len) == 0 ? 0 : -1;
}

static int pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n) ? WSR_ENOMEM : 0;
}

static int pack_value(msgpack_packer *pk, const json_t *v)
{
    const char *key;
    json_t *e;
    size_t i;
    int rc = 0;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        rc = msgpack_pack_map(pk, json_object_size(v));
        json_object_foreach((json_t *)v, key, e)
        {
            if (rc == 0)
                rc = pack_str(pk, key, strlen(key));
            if (rc == 0)
                rc = pack_value(pk, e);
        }
        return rc ? WSR_ENOMEM : 0;
    case JSON_ARRAY:
        rc = msgpack_pack_array(pk, json_array_size(v));
        json_array_foreach(v, i, e)
        {
            if (rc == 0)
                rc = pack_value(pk, e);
        }
        return rc ? WSR_ENOMEM : 0;
    case JSON_STRING:
        return pack_str(pk, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(v)) ? WSR_ENOMEM : 0;
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(v)) ? WSR_ENOMEM : 0;
    case JSON_TRUE:
        return msgpack_pack_true(pk) ? WSR_ENOMEM : 0;
    case JSON_FALSE:
        return msgpack_pack_false(pk) ? WSR_ENOMEM : 0;
    default:
        return msgpack_pack_nil(pk) ? WSR_ENOMEM : 0;
    }
}

/* The tcpy map of a v1 message (a new object), or NULL. */
static json_t *tcpy_shape(const json_t *msg)
{
    const json_t *status = json_object_get(msg, "status"), *data = json_object_get(msg, "data");
    const json_t *ev = json_object_get(msg, "event_name"), *topic = json_object_get(msg, "topic");
    json_t *o;

    if (status == NULL) {
        const json_t *progress = json_object_get(msg, "progress");

        if (progress != NULL)
            o = json_pack("{s:s, s:O}", "push", "progress", "data", progress);
        else
            o = json_pack("{s:O, s:O}", "push", ev != NULL ? ev : json_null(), "data",
                          data != NULL ? data : json_null());
        if (o != NULL && topic != NULL && json_object_set(o, "topic", (json_t *)topic) != 0) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    if (json_integer_value(status) >= 300)
        return json_pack("{s:b, s:O, s:O}", "error", 1, "message",
                         json_object_get(msg, "detail") ? json_object_get(msg, "detail")
                                                        : json_null(),
                         "status", status);
    if (json_is_object(data)) {
        o = json_deep_copy(data);
        if (o != NULL && json_object_set_new(o, "success", json_true()) != 0) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    return json_pack("{s:b, s:O}", "success", 1, "result", data ? data : json_null());
}

int wsr__tcpy_encode(wsr__buf_t *out, const json_t *msg)
{
    msgpack_packer pk;
    json_t *shape = tcpy_shape(msg);
    size_t start = out->len, len;
    int rc;

    if (shape == NULL)
        return WSR_ENOMEM;
    rc = wsr__buf_append(out, "\0\0\0\0", 4);
    msgpack_packer_init(&pk, out, write_cb);
    if (rc == 0)
        rc = pack_value(&pk, shape);
    json_decref(shape);
    if (rc != 0) {
        out->len = start;
        return rc;
    }
    len = out->len - start - 4;
    out->data[start] = (unsigned char)(len >> 24);
    out->data[start + 1] = (unsigned char)(len >> 16);
    out->data[start + 2] = (unsigned char)(len >> 8);
    out->data[start + 3] = (unsigned char)len;
    return 0;
}
