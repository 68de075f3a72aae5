/* SPDX-License-Identifier: MIT */
/* The cluster engine's address (redisurl_int.h). */
#include "services/redisurl_int.h"

#include <string.h>

#include "core/internal.h"

#define SCHEME "redis://"

/* Copies [s, s+n) into out (cap bytes with its NUL); false when it does not fit. */
static bool take(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* A decimal number of 1 to 5 digits in [s, s+n) within [min, max], or -1. */
static long number(const char *s, size_t n, long min, long max)
{
    long v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= min && v <= max ? v : -1;
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static bool ipv6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

static int bad(wsr_error_t *err, const char *what)
{
    return wsr__error_set(err, WSR_EINVAL,
                          "engine must be \"memory\" or "
                          "\"redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]\": %s",
                          what);
}

int wsr__redis_url_parse(const char *url, const char *password, wsr__redis_url_t *out,
                         wsr_error_t *err)
{
    const char *p, *end, *at, *host, *host_end, *port = NULL, *slash;
    long v;

    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (url == NULL || strncmp(url, SCHEME, strlen(SCHEME)) != 0)
        return bad(err, "it does not begin with redis://");
    p = url + strlen(SCHEME);
    end = p + strlen(p);
    slash = memchr(p, '/', (size_t)(end - p));
    if (slash == NULL)
        slash = end;
    /* The last '@' before the path: a password may hold an '@' itself. */
    at = NULL;
    for (const char *q = p; q < slash; q++)
        if (*q == '@')
            at = q;
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));

        if (colon == NULL)
            return bad(err, "the part before '@' must be USER:PASSWORD or :PASSWORD");
        if (!take(out->user, sizeof(out->user), p, (size_t)(colon - p)))
            return bad(err, "the user name is too long");
        if (colon + 1 == at)
            return bad(err, "the password before '@' is empty");
        if (!take(out->password, sizeof(out->password), colon + 1, (size_t)(at - colon - 1)))
            return bad(err, "the password is too long");
        p = at + 1;
    }
    host = p;
    if (*p == '[') {
        host_end = memchr(p, ']', (size_t)(slash - p));
        if (host_end == NULL)
            return bad(err, "an IPv6 address has no closing ']'");
        host++;
        for (const char *q = host; q < host_end; q++)
            if (!ipv6_char(*q))
                return bad(err, "the IPv6 address holds a character other than hex digits, ':' "
                                "and '.'");
        p = host_end + 1;
        if (p < slash && *p != ':')
            return bad(err, "only :PORT may follow an IPv6 address");
    } else {
        for (p = host; p < slash && *p != ':'; p++)
            if (!host_char(*p))
                return bad(err, "the host name holds a character other than letters, digits, "
                                "'-', '.' and '_'");
        host_end = p;
    }
    if (host_end == host)
        return bad(err, "the host is missing");
    if (!take(out->host, sizeof(out->host), host, (size_t)(host_end - host)))
        return bad(err, "the host name is too long");
    if (p < slash && *p == ':') {
        port = p + 1;
        if ((v = number(port, (size_t)(slash - port), 1, 65535)) < 0)
            return bad(err, "the port must be a number from 1 to 65535");
        out->port = (int)v;
    }
    if (slash < end && slash + 1 < end) {
        if ((v = number(slash + 1, (size_t)(end - slash - 1), 0, 15)) < 0)
            return bad(err, "the database must be a number from 0 to 15");
        out->db = (int)v;
    }
    if (password != NULL && password[0] != '\0') {
        if (out->password[0] != '\0')
            return bad(err, "a password both in the URL and in engine_password (set one)");
        if (!take(out->password, sizeof(out->password), password, strlen(password)))
            return wsr__error_set(err, WSR_EINVAL, "engine_password is longer than %d bytes",
                                  WSR__REDIS_PASSWORD_MAX);
    }
    return 0;
}
