/* SPDX-License-Identifier: MIT */
/*
 * Client addresses without their port, as the connection limits count them
 * and the trusted-proxy list matches them (see addr.c).
 */
#ifndef WSR_SERVER_ADDR_INT_H
#define WSR_SERVER_ADDR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IP address: 4 bytes for IPv4 (an IPv4-mapped IPv6 address counts as its
 * IPv4 address), 16 for IPv6, 0 for a peer that has none (not IP). */
typedef struct wsr__addr {
    uint8_t len;
    uint8_t bytes[16];
} wsr__addr_t;

/* The longest text wsr__addr_format writes, with its NUL (INET6_ADDRSTRLEN). */
#define WSR__ADDR_TEXT_MAX 46

/* The address of `ss` (its port dropped). Returns false, with out->len 0,
 * for a family that is not IPv4 or IPv6. */
bool wsr__addr_of_sockaddr(const struct sockaddr_storage *ss, wsr__addr_t *out);
/* Parses exactly `n` bytes of `s` as a numeric IPv4 or IPv6 address (no port,
 * no brackets, no zone). Returns false when they are anything else. */
bool wsr__addr_parse(const char *s, size_t n, wsr__addr_t *out);
/* Writes `a` as text ("192.0.2.7", "2001:db8::7"), "" for none. */
void wsr__addr_format(const wsr__addr_t *a, char *out, size_t size);
/* True when `a` and `b` are the same address. */
bool wsr__addr_equal(const wsr__addr_t *a, const wsr__addr_t *b);
/* True when the first `bits` bits of `a` are those of `net`, of the same
 * family (an IPv4 address never matches an IPv6 network). */
bool wsr__addr_in(const wsr__addr_t *a, const wsr__addr_t *net, unsigned bits);

#endif /* WSR_SERVER_ADDR_INT_H */
