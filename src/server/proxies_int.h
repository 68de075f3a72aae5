/* SPDX-License-Identifier: MIT */
/*
 * Trusted reverse proxies (the `trusted_proxies` setting) and the client
 * address they forward in X-Forwarded-For and Forwarded (RFC 7239) headers.
 * See proxies.c.
 */
#ifndef WSR_SERVER_PROXIES_INT_H
#define WSR_SERVER_PROXIES_INT_H

#include "core/internal.h"
#include "server/addr_int.h"

typedef struct wsr__proxies wsr__proxies_t;

/*
 * Parses a comma-separated list of addresses and CIDR networks ("127.0.0.1,
 * 10.0.0.0/8, ::1, fd00::/8") into *out (owned: wsr__proxies_free), or NULL
 * for an empty list. Returns 0, WSR_EINVAL with a sentence naming the entry
 * that is not an address or a network, or WSR_ENOMEM; *out is NULL then.
 */
int wsr__proxies_parse(const char *list, wsr__proxies_t **out, wsr_error_t *err);
void wsr__proxies_free(wsr__proxies_t *p);
/* How many entries `p` holds (0 for NULL). */
size_t wsr__proxies_count(const wsr__proxies_t *p);
/* True when `a` is in one of the networks of `p` (never for a NULL list). */
bool wsr__proxies_trusted(const wsr__proxies_t *p, const wsr__addr_t *a);

/* What the forwarding headers of a trusted proxy's request said. */
typedef enum wsr__forwarded {
    WSR__FORWARDED_NONE = 0,  /* neither header: the client is the peer */
    WSR__FORWARDED_OK,        /* the client is in *client */
    WSR__FORWARDED_MALFORMED, /* a header could not be read: use the peer */
    WSR__FORWARDED_CONFLICT   /* both headers, naming different clients: use the peer */
} wsr__forwarded_t;

/*
 * The client of a request that came from a trusted proxy, from its
 * X-Forwarded-For value (`xff`, `xff_len` bytes; NULL when there is none) and
 * its Forwarded value (`fwd`; NULL when none): the right-most address that is
 * not itself in `p`, or the left-most when all are. Addresses left of the
 * client are never read (they are the client's to write). The caller checks
 * that the peer is trusted; the values are borrowed for the call. *client is
 * written only for WSR__FORWARDED_OK. Pure: any thread.
 */
wsr__forwarded_t wsr__proxies_client(const wsr__proxies_t *p, const char *xff, size_t xff_len,
                                     const char *fwd, size_t fwd_len, wsr__addr_t *client);

#endif /* WSR_SERVER_PROXIES_INT_H */
