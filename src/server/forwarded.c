/* SPDX-License-Identifier: MIT */
/*
 * The client behind a trusted reverse proxy. A proxy's TCP connection was
 * counted in the total only when it was accepted (listener.c); its WebSocket
 * handshake names the client (X-Forwarded-For, Forwarded, read by
 * proxies.c), and this is where the connection starts to count against that
 * client's address, or is refused with 429 and a JSON body like those of the
 * /_/ endpoints when the client already holds max_connections_per_ip. The
 * headers are never read from a peer that is not a trusted proxy. This file
 * owns nothing past the call; it never keeps a pointer to the wsi.
 */
#include "server/forwarded_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "server/limits_int.h"
#include "server/proxies_int.h"

/* The name lws 4.1.6 keeps a header it has no token for by: lower-cased,
 * with its colon. */
#define FORWARDED_NAME "forwarded:"

/* The peer's address; false when it has none. */
static bool peer_of(struct lws *wsi, wsr__addr_t *out)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = lws_get_socket_fd(wsi);

    memset(out, 0, sizeof(*out));
    return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
           wsr__addr_of_sockaddr(&ss, out);
}

/*
 * A copy of header `h`, or of the custom header FORWARDED_NAME when `h` is
 * negative (owned: the caller frees); NULL when it is absent or empty, or
 * when memory ran out (then *failed is set). Several X-Forwarded-For lines
 * come joined by commas, as one list; of Forwarded, lws 4.1.6 keeps the
 * first line only, so a proxy must replace or extend that line, not add one
 * (README "Behind a reverse proxy").
 */
static char *copy_header(struct lws *wsi, int h, size_t *len, bool *failed)
{
    int n = h >= 0 ? lws_hdr_total_length(wsi, (enum lws_token_indexes)h)
                   : lws_hdr_custom_length(wsi, FORWARDED_NAME, (int)strlen(FORWARDED_NAME));
    char *buf;
    int got;

    if (n <= 0)
        return NULL;
    buf = wsr__malloc((size_t)n + 1);
    if (buf == NULL) {
        *failed = true;
        return NULL;
    }
    got = h >= 0
              ? lws_hdr_copy(wsi, buf, n + 1, (enum lws_token_indexes)h)
              : lws_hdr_custom_copy(wsi, buf, n + 1, FORWARDED_NAME, (int)strlen(FORWARDED_NAME));
    if (got < 0) {
        wsr__free(buf);
        *failed = true;
        return NULL;
    }
    *len = (size_t)got;
    return buf;
}

/* The client of a trusted proxy's handshake; `peer` when the headers name
 * none, or cannot be believed (the log says why). Returns true when the
 * client is one the headers named. */
static bool find_client(wsr__loop_t *loop, const wsr__proxies_t *proxies, struct lws *wsi,
                        const wsr__addr_t *peer, wsr__addr_t *client)
{
    size_t xff_len = 0, fwd_len = 0;
    bool failed = false;
    char *xff = copy_header(wsi, WSI_TOKEN_X_FORWARDED_FOR, &xff_len, &failed);
    char *fwd = copy_header(wsi, -1, &fwd_len, &failed);
    wsr__forwarded_t rc = failed ? WSR__FORWARDED_MALFORMED
                                 : wsr__proxies_client(proxies, xff, xff_len, fwd, fwd_len, client);
    char text[WSR__ADDR_TEXT_MAX];

    if (rc != WSR__FORWARDED_OK)
        *client = *peer;
    if (rc == WSR__FORWARDED_MALFORMED || rc == WSR__FORWARDED_CONFLICT) {
        wsr__addr_format(peer, text, sizeof(text));
        wsr__log(loop->factory, WSR_LOG_INFO,
                 "handshake via %s: %s; the proxy's own address is used", text,
                 failed ? "the forwarding headers could not be read"
                 : rc == WSR__FORWARDED_CONFLICT
                     ? "X-Forwarded-For and Forwarded name different clients"
                     : "a forwarding header is malformed");
    }
    wsr__free(xff);
    wsr__free(fwd);
    return rc == WSR__FORWARDED_OK;
}

/* lws 4.1.6's lws_return_http_status knows no reason phrase for 429 and
 * sends HTML: this answers with a JSON body instead. */
void wsr__http_refuse(struct lws *wsi, unsigned status, const char *reason, const char *detail)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
                                      *end = buf + sizeof(buf) - 1;
    char line[64], body[160], clen[16];
    int nl = snprintf(line, sizeof(line), "HTTP/1.1 %u %s", status, reason);
    int nb = snprintf(body, sizeof(body), "{\"status\":%u,\"detail\":\"%s\"}", status, detail);
    int nc = snprintf(clen, sizeof(clen), "%d", nb);

    if (lws_add_http_header_by_name(wsi, NULL, (const unsigned char *)line, nl, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)"application/json", 16, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                     (const unsigned char *)clen, nc, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                     &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || end - p < nb)
        return;
    memcpy(p, body, (size_t)nb);
    p += nb;
    (void)lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP);
}

bool wsr__forwarded_admit(wsr__loop_t *loop, struct lws *wsi)
{
    void *token = lws_get_opaque_user_data(wsi);
    const wsr__proxies_t *proxies = wsr__loop_policy(loop)->proxies; /* one read: SIGHUP swaps it */
    char text[WSR__ADDR_TEXT_MAX];
    wsr__addr_t peer, client;
    wsr__admit_t rc;
    bool forwarded;

    if (proxies == NULL || !wsr__limits_is_pending(loop->limits, token) || !peer_of(wsi, &peer) ||
        !wsr__proxies_trusted(proxies, &peer))
        return true;
    forwarded = find_client(loop, proxies, wsi, &peer, &client);
    rc = wsr__limits_admit_client(loop->limits, &token, &client);
    if (rc == WSR__ADMIT_OK) {
        lws_set_opaque_user_data(wsi, token); /* WSI_DESTROY releases the client's count */
        if (forwarded)
            loop->pending_client = client; /* else the peer stays the peer, port and all */
        return true;
    }
    /* The token still counts in the total only; WSI_DESTROY releases that. */
    wsr__count(&loop->stats->refused, 1);
    wsr__addr_format(&client, text, sizeof(text));
    wsr__log(loop->factory, WSR_LOG_INFO, "handshake from %s refused: %s", text,
             rc == WSR__ADMIT_PER_ADDRESS ? "per-address limit reached" : "out of memory");
    if (rc == WSR__ADMIT_PER_ADDRESS)
        wsr__http_refuse(wsi, 429, "Too Many Requests",
                         "too many connections from this client address");
    else
        wsr__http_refuse(wsi, 503, "Service Unavailable", "the server is out of memory");
    return false;
}

bool wsr__http_framing_refused(struct lws *wsi)
{
    const char *why = NULL;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
            why = "a request may not carry both Transfer-Encoding and Content-Length";
        /* lws keeps a repeated header as a second fragment. Identical
         * copies are refused too, as RFC 9112 section 6.3 allows. */
        else if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 1) > 0)
            why = "a request may not carry two Content-Length headers";
    }
    if (why == NULL)
        return false;
    wsr__http_refuse(wsi, 400, "Bad Request", why);
    return true;
}
