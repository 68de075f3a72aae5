/* SPDX-License-Identifier: MIT */
/*
 * The Origin allow-list: a browser's WebSocket handshake whose Origin is not
 * on the list (exact scheme://host:port, default ports implied) is refused
 * with 403 before the upgrade; clients that send no Origin (not browsers)
 * are not affected. This file parses and owns the normalised list.
 */
#include "server/origins_int.h"

#include <string.h>

#define ORIGIN_MAX 256

/* Lower-cases `in` (n bytes) into `out` as scheme://host[:port], dropping a
 * default port. Returns false when it is not of that form. */
static bool normalise(const char *in, size_t n, char *out, size_t size)
{
    const char *host, *colon;
    size_t i, len;
    bool https;

    if (n == 0 || n >= size)
        return false;
    for (i = 0; i < n; i++) {
        char c = in[i];

        if ((unsigned char)c <= ' ' || (unsigned char)c >= 0x7f)
            return false;
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    out[n] = '\0';
    if (strncmp(out, "https://", 8) == 0)
        https = true;
    else if (strncmp(out, "http://", 7) == 0)
        https = false;
    else
        return false;
    host = out + (https ? 8 : 7);
    if (*host == '\0' || strchr(host, '/') != NULL || strchr(host, '@') != NULL)
        return false;
    /* ":443" on https and ":80" on http are what a browser leaves out. */
    colon = strrchr(host, ':');
    len = strlen(out);
    if (colon != NULL && strchr(colon, ']') == NULL && strcmp(colon, https ? ":443" : ":80") == 0)
        out[len - (https ? 4 : 3)] = '\0';
    return true;
}

int wsr__origins_parse(const char *list, char ***out, wsr_error_t *err)
{
    size_t n = 0, cap = 4;
    char **v;
    const char *p = list;

    *out = NULL;
    if (list == NULL || list[strspn(list, " \t,")] == '\0')
        return 0;
    v = wsr__calloc(cap + 1, sizeof(*v));
    while (v != NULL && p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char one[ORIGIN_MAX];

        while (len > 0 && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0 && !normalise(p, len, one, sizeof(one))) {
            wsr__origins_free(v);
            return wsr__error_set(err, WSR_EINVAL,
                                  "origin \"%.*s\" is not scheme://host[:port] (http or https)",
                                  (int)WSR__MIN(len, 100), p);
        }
        if (len > 0 && n == cap) {
            char **grown = wsr__realloc(v, (cap * 2 + 1) * sizeof(*v));

            if (grown == NULL)
                break;
            v = grown;
            cap *= 2;
        }
        if (len > 0 && (v[n++] = wsr__strdup(one)) == NULL)
            break;
        v[n] = NULL;
        p = comma ? comma + 1 : NULL;
    }
    if (v == NULL || (n > 0 && v[n - 1] == NULL) || (p != NULL && *p != '\0')) {
        wsr__origins_free(v);
        return wsr__error_set(err, WSR_ENOMEM, "out of memory reading the origins");
    }
    *out = v;
    return 0;
}

void wsr__origins_free(char **list)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        wsr__free(list[i]);
    wsr__free(list);
}

bool wsr__origin_allowed(char *const *list, const char *origin)
{
    char one[ORIGIN_MAX];

    if (list == NULL || origin == NULL)
        return true; /* no list, or not a browser */
    if (!normalise(origin, strlen(origin), one, sizeof(one)))
        return false; /* "null", look-alikes with paths, garbage */
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], one) == 0)
            return true;
    return false;
}
