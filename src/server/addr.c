/* SPDX-License-Identifier: MIT */
/*
 * Client addresses (see addr_int.h): from a socket address or from text, to
 * text, compared whole or by network prefix. An IPv4-mapped IPv6 address
 * (::ffff:192.0.2.7, what a dual-stack socket reports for an IPv4 client) is
 * stored as its IPv4 address, so that one client is one key however it came.
 * Pure functions: no allocation, no I/O.
 */
#include "server/addr_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Stores 16 IPv6 bytes, as IPv4 when they are IPv4-mapped. */
static void set_v6(wsr__addr_t *out, const uint8_t *a)
{
    if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
        out->len = 4;
        memcpy(out->bytes, a + 12, 4);
        return;
    }
    out->len = 16;
    memcpy(out->bytes, a, 16);
}

bool wsr__addr_of_sockaddr(const struct sockaddr_storage *ss, wsr__addr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (ss->ss_family == AF_INET) {
        out->len = 4;
        memcpy(out->bytes, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        return true;
    }
    if (ss->ss_family == AF_INET6) {
        set_v6(out, ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr);
        return true;
    }
    return false;
}

bool wsr__addr_parse(const char *s, size_t n, wsr__addr_t *out)
{
    char text[WSR__ADDR_TEXT_MAX];
    uint8_t a[16];

    /* inet_pton wants a NUL-terminated string; anything as long as the
     * longest address text, or holding a NUL, is not an address. */
    if (n == 0 || n >= sizeof(text) || memchr(s, '\0', n) != NULL)
        return false;
    memcpy(text, s, n);
    text[n] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, text, a) == 1) {
        out->len = 4;
        memcpy(out->bytes, a, 4);
        return true;
    }
    if (inet_pton(AF_INET6, text, a) == 1) {
        set_v6(out, a);
        return true;
    }
    return false;
}

void wsr__addr_format(const wsr__addr_t *a, char *out, size_t size)
{
    char text[WSR__ADDR_TEXT_MAX] = "";

    if (size == 0)
        return;
    if ((a->len == 4 || a->len == 16) &&
        inet_ntop(a->len == 4 ? AF_INET : AF_INET6, a->bytes, text, sizeof(text)) == NULL)
        text[0] = '\0';
    snprintf(out, size, "%s", text);
}

bool wsr__addr_equal(const wsr__addr_t *a, const wsr__addr_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

bool wsr__addr_in(const wsr__addr_t *a, const wsr__addr_t *net, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (a->len != net->len || a->len == 0 || bits > 8u * a->len)
        return false;
    if (memcmp(a->bytes, net->bytes, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((a->bytes[whole] ^ net->bytes[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}
