/* SPDX-License-Identifier: MIT */
/*
 * Trusted reverse proxies. The `trusted_proxies` setting, parsed once at
 * start-up into a list of networks the server owns, names the peers whose
 * X-Forwarded-For and Forwarded (RFC 7239) headers are believed; this file
 * also reads those headers. Each proxy appends the address it got the request
 * from, so the list reads client, proxy, proxy... from left to right, and
 * only the entries that trusted proxies wrote can be believed: the client is
 * the right-most address that is not itself a trusted proxy (the left-most,
 * when all are). A header that cannot be read there is not believed at all.
 * When a request carries both headers, both must name the same client: a
 * proxy that sets one and passes the other on from the client unchanged
 * would otherwise let the client choose its own address. Pure parsing and
 * matching: no I/O, never a socket.
 */
#include "server/proxies_int.h"

#include <string.h>

/* The most hops of a header that are kept, the right-most ones. */
#define HOPS_MAX 32
/* The longest node ("[" IPv6 "]:" port) a Forwarded value may hold. */
#define NODE_MAX 64

typedef struct net {
    wsr__addr_t addr;
    uint8_t bits;
} net_t;

struct wsr__proxies {
    size_t n;
    net_t nets[];
};

typedef struct hop {
    wsr__addr_t addr;
    bool valid;
} hop_t;

/* The hops of one header: a ring of the last HOPS_MAX, and how many there were. */
typedef struct hops {
    hop_t ring[HOPS_MAX];
    size_t total;
} hops_t;

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims spaces and tabs around s[0..*n). */
static const char *trim(const char *s, size_t *n)
{
    while (*n > 0 && is_ows(*s))
        s++, (*n)--;
    while (*n > 0 && is_ows(s[*n - 1]))
        (*n)--;
    return s;
}

/* Reads 1 to `digits` decimal digits, the whole of s[0..n), into *v. */
static bool read_number(const char *s, size_t n, size_t digits, unsigned *v)
{
    *v = 0;
    if (n == 0 || n > digits)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

/* ---- the list ---- */

static int bad_entry(wsr_error_t *err, const char *s, size_t n)
{
    return wsr__error_set(err, WSR_EINVAL,
                          "trusted_proxies: \"%.*s\" is not an IP address or a CIDR network "
                          "(such as 10.0.0.0/8 or fd00::/8)",
                          (int)WSR__MIN(n, 100), s);
}

/* Parses one entry, "ADDR" or "ADDR/BITS", into *net. */
static int parse_net(const char *s, size_t n, net_t *net, wsr_error_t *err)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    bool v6_text = memchr(s, ':', alen) != NULL;
    char text[WSR__ADDR_TEXT_MAX];
    unsigned bits, max = v6_text ? 128 : 32;
    wsr__addr_t masked;

    if (!wsr__addr_parse(s, alen, &net->addr))
        return bad_entry(err, s, n);
    if (slash == NULL)
        bits = max;
    else if (!read_number(slash + 1, n - alen - 1, 3, &bits) || bits > max)
        return wsr__error_set(err, WSR_EINVAL,
                              "trusted_proxies: \"%.*s\": the prefix length of an %s network "
                              "is from 0 to %u",
                              (int)WSR__MIN(n, 100), s, v6_text ? "IPv6" : "IPv4", max);
    /* An IPv4-mapped network (::ffff:10.0.0.0/104) is the IPv4 one it maps. */
    if (v6_text && net->addr.len == 4) {
        if (bits < 96)
            return bad_entry(err, s, n);
        bits -= 96;
    }
    net->bits = (uint8_t)bits;
    masked = net->addr;
    for (unsigned i = bits; i < 8u * masked.len; i++)
        masked.bytes[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    if (!wsr__addr_equal(&masked, &net->addr)) {
        wsr__addr_format(&masked, text, sizeof(text));
        return wsr__error_set(err, WSR_EINVAL,
                              "trusted_proxies: \"%.*s\" has bits set past its /%u prefix "
                              "(did you mean %s/%u?)",
                              (int)WSR__MIN(n, 100), s, bits, text, bits);
    }
    return 0;
}

int wsr__proxies_parse(const char *list, wsr__proxies_t **out, wsr_error_t *err)
{
    wsr__proxies_t *p;
    size_t cap = 1;
    const char *s;
    int rc = 0;

    *out = NULL;
    if (list == NULL || list[strspn(list, " \t,")] == '\0')
        return 0;
    for (s = list; (s = strchr(s, ',')) != NULL; s++)
        cap++;
    p = wsr__calloc(1, sizeof(*p) + cap * sizeof(p->nets[0]));
    if (p == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory reading trusted_proxies");
    for (s = list; rc == 0 && s != NULL;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        const char *entry = trim(s, &n);

        if (n > 0)
            rc = parse_net(entry, n, &p->nets[p->n++], err);
        s = comma ? comma + 1 : NULL;
    }
    if (rc != 0) {
        wsr__free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void wsr__proxies_free(wsr__proxies_t *p)
{
    wsr__free(p);
}

size_t wsr__proxies_count(const wsr__proxies_t *p)
{
    return p != NULL ? p->n : 0;
}

bool wsr__proxies_trusted(const wsr__proxies_t *p, const wsr__addr_t *a)
{
    for (size_t i = 0; p != NULL && i < p->n; i++)
        if (wsr__addr_in(a, &p->nets[i].addr, p->nets[i].bits))
            return true;
    return false;
}

/* ---- the headers ---- */

/* A port after an address: ":" and 1 to 5 digits, up to 65535. */
static bool is_port(const char *s, size_t n)
{
    unsigned v;

    return n >= 2 && s[0] == ':' && read_number(s + 1, n - 1, 5, &v) && v <= 65535;
}

/*
 * One node: "192.0.2.7", "192.0.2.7:80", "2001:db8::7", "[2001:db8::7]" or
 * "[2001:db8::7]:80". Names ("unknown", RFC 7239's obfuscated "_hidden") are
 * not addresses: they cannot be counted, so they are not read as one.
 */
static bool parse_node(const char *s, size_t n, wsr__addr_t *out)
{
    const char *end, *colon;
    size_t inside;

    if (n > 0 && s[0] == '[') {
        end = memchr(s, ']', n);
        if (end == NULL)
            return false;
        inside = (size_t)(end - s) - 1;
        if (memchr(s + 1, ':', inside) == NULL)
            return false; /* brackets hold an IPv6 address */
        if (inside + 2 < n && !is_port(end + 1, n - inside - 2))
            return false;
        return wsr__addr_parse(s + 1, inside, out);
    }
    colon = memchr(s, ':', n);
    if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1) == NULL) {
        /* One colon: an IPv4 address and its port. */
        if (!is_port(colon, n - (size_t)(colon - s)))
            return false;
        n = (size_t)(colon - s);
    }
    return wsr__addr_parse(s, n, out);
}

static void add_hop(hops_t *h, bool valid, const wsr__addr_t *a)
{
    hop_t *hop = &h->ring[h->total % HOPS_MAX];

    hop->valid = valid;
    hop->addr = *a;
    h->total++;
}

/* The walk from the right. */
static wsr__forwarded_t walk(const wsr__proxies_t *p, const hops_t *h, wsr__addr_t *client)
{
    size_t kept = WSR__MIN(h->total, (size_t)HOPS_MAX);

    for (size_t i = 0; i < kept; i++) {
        const hop_t *hop = &h->ring[(h->total - 1 - i) % HOPS_MAX];

        if (!hop->valid)
            return WSR__FORWARDED_MALFORMED;
        if (!wsr__proxies_trusted(p, &hop->addr) || i + 1 == h->total) {
            *client = hop->addr;
            return WSR__FORWARDED_OK;
        }
    }
    /* No address at all, or more trusted hops than are kept. */
    return WSR__FORWARDED_MALFORMED;
}

/* X-Forwarded-For: addresses separated by commas; empty elements are ignored
 * (RFC 9110 section 5.6.1). */
static void read_xff(const char *s, size_t n, hops_t *h)
{
    const char *end = s + n;

    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        size_t len = (size_t)((comma ? comma : end) - s);
        const char *node = trim(s, &len);
        wsr__addr_t a = {0};

        if (len > 0)
            add_hop(h, parse_node(node, len, &a), &a);
        if (comma == NULL)
            return;
        s = comma + 1;
    }
}

/* A character of an RFC 9110 token. */
static bool is_tchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Keeps one more byte of a value in `out`; *len becomes NODE_MAX (too long
 * for a node) once it would not fit. */
static void keep(char *out, size_t *len, char c)
{
    if (*len < NODE_MAX - 1)
        out[(*len)++] = c;
    else
        *len = NODE_MAX;
}

/* Reads a parameter's value at s[*i]: a quoted string (unescaped) or
 * anything up to the next separator. Returns false on an unterminated
 * quoted string. */
static bool read_value(const char *s, size_t n, size_t *i, char *out, size_t *len)
{
    *len = 0;
    if (*i < n && s[*i] == '"') {
        for ((*i)++; *i < n && s[*i] != '"'; (*i)++) {
            if (s[*i] == '\\' && ++(*i) == n)
                return false;
            keep(out, len, s[*i]);
        }
        if (*i == n)
            return false;
        (*i)++;
        return true;
    }
    for (; *i < n && s[*i] != ',' && s[*i] != ';' && s[*i] != '"' && !is_ows(s[*i]); (*i)++)
        keep(out, len, s[*i]);
    return true;
}

/* One Forwarded element while it is read. */
typedef struct element {
    wsr__addr_t addr;
    unsigned fors; /* `for` parameters seen */
    bool valid;    /* the last `for` was an address */
    bool any;      /* the element holds a parameter */
} element_t;

/* Reads one parameter (token "=" value) at s[*i] into `e`. */
static bool read_pair(const char *s, size_t n, size_t *i, element_t *e)
{
    size_t start = *i, name_len, len;
    char value[NODE_MAX];

    while (*i < n && is_tchar(s[*i]))
        (*i)++;
    name_len = *i - start;
    if (name_len == 0 || *i == n || s[*i] != '=')
        return false;
    (*i)++;
    if (!read_value(s, n, i, value, &len))
        return false;
    e->any = true;
    /* Parameter names are case-insensitive (RFC 7239 section 4). */
    if (name_len == 3 && wsr__strncasecmp_ascii(s + start, "for", 3) == 0) {
        e->fors++;
        e->valid = len < NODE_MAX && parse_node(value, len, &e->addr);
    }
    return true;
}

/*
 * Forwarded: elements separated by commas, each parameters (token=value)
 * separated by semicolons; an element's `for` is its hop. An element without
 * exactly one `for` that is an address is a hop that cannot be read.
 * Returns false when the header itself is broken (an unterminated quoted
 * string, a parameter without a value): nothing of it can be read then.
 */
static bool read_forwarded(const char *s, size_t n, hops_t *h)
{
    element_t e = {0};
    size_t i = 0;

    for (;;) {
        while (i < n && is_ows(s[i]))
            i++;
        if (i == n || s[i] == ',') {
            if (e.any)
                add_hop(h, e.fors == 1 && e.valid, &e.addr);
            memset(&e, 0, sizeof(e));
            if (i == n)
                return true;
            i++;
        } else if (s[i] == ';') {
            i++;
        } else if (!read_pair(s, n, &i, &e)) {
            return false;
        } else if (i < n && !is_ows(s[i]) && s[i] != ',' && s[i] != ';') {
            return false; /* a value runs into the next one */
        }
    }
}

wsr__forwarded_t wsr__proxies_client(const wsr__proxies_t *p, const char *xff, size_t xff_len,
                                     const char *fwd, size_t fwd_len, wsr__addr_t *client)
{
    wsr__forwarded_t rx = WSR__FORWARDED_NONE, rf = WSR__FORWARDED_NONE;
    wsr__addr_t a = {0}, b = {0};
    hops_t h;

    if (xff != NULL) {
        h.total = 0;
        read_xff(xff, xff_len, &h);
        rx = walk(p, &h, &a);
    }
    if (fwd != NULL) {
        h.total = 0;
        rf = read_forwarded(fwd, fwd_len, &h) ? walk(p, &h, &b) : WSR__FORWARDED_MALFORMED;
    }
    if (rx == WSR__FORWARDED_MALFORMED || rf == WSR__FORWARDED_MALFORMED)
        return WSR__FORWARDED_MALFORMED;
    if (rx == WSR__FORWARDED_OK && rf == WSR__FORWARDED_OK && !wsr__addr_equal(&a, &b))
        return WSR__FORWARDED_CONFLICT;
    if (rx == WSR__FORWARDED_NONE && rf == WSR__FORWARDED_NONE)
        return WSR__FORWARDED_NONE;
    *client = rx == WSR__FORWARDED_OK ? a : b;
    return WSR__FORWARDED_OK;
}
