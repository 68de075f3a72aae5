/* SPDX-License-Identifier: MIT */
/*
 * A raw TCP command's words as a request (see rawframe_int.h): the RESP and
 * text-line framings say `NAME ARG1 ARG2`, which is a `cmd` request whose
 * arguments fill the route's declared parameters in order and are read as
 * text, like a URL's query. The request is built as the codec builds a v1
 * one, so the rest of the pipeline (auth, params, dispatch) cannot tell.
 */
#include "core/rawframe_int.h"

#include <string.h>

#include "core/codec_int.h"
#include "core/request_int.h"

/* The command name, lower-cased (route names are; Redis's are not). */
static json_t *command_name(const unsigned char *w, size_t n)
{
    char *s = wsr__strndup((const char *)w, n);
    json_t *v;

    if (s == NULL)
        return NULL;
    for (char *p = s; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    v = json_string(s);
    wsr__free(s);
    return v;
}

int wsr__codec_decode_words(wsr_request_t *req, const unsigned char *words, size_t n, char *detail)
{
    /* No bytes (one empty word, `""`) may come as NULL: NULL + 0 is undefined
     * (fuzz_text, clang's UBSan). */
    const unsigned char *p = n > 0 ? words : (const unsigned char *)"", *end = p + n, *z;
    json_t *root = json_object(), *pos = json_array(), *name;
    bool first = true;

    detail[0] = '\0';
    req->format = WSR_FORMAT_JSON;
    req->envelope = WSR__ENVELOPE_V1;
    if (root == NULL || pos == NULL)
        goto nomem;
    while (p <= end && n > 0) {
        z = memchr(p, '\0', (size_t)(end - p));
        if (z == NULL)
            z = end;
        name = first ? command_name(p, (size_t)(z - p))
                     : json_stringn((const char *)p, (size_t)(z - p));
        if (name == NULL)
            goto nomem;
        if (first ? json_object_set_new(root, "cmd", name) : json_array_append_new(pos, name))
            goto nomem;
        first = false;
        p = z + 1;
    }
    if (first || json_string_length(json_object_get(root, "cmd")) == 0) {
        json_decref(root);
        json_decref(pos);
        return wsr__codec_bad(detail, "the command is empty: send a route name and its arguments");
    }
    if (json_object_set_new(root, "params", pos) != 0) {
        json_decref(root);
        return WSR_ENOMEM;
    }
    req->root = root;
    req->cmd = json_string_value(json_object_get(root, "cmd"));
    req->args_pos = json_object_get(root, "params");
    req->args_text = true;
    return 0;
nomem:
    json_decref(root);
    json_decref(pos);
    return WSR_ENOMEM;
}
