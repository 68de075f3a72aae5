/* SPDX-License-Identifier: MIT */
/*
 * The idle policy: a connection silent for idle_ping_ms is pinged, and one
 * silent for idle_close_ms is closed 1001; a connection whose token expired
 * or was revoked is closed 1008. A timer of each loop looks at the loop's
 * connections; it reads them only on their loop.
 */
#include "server/idle_int.h"

#include "server/conn_int.h"
#include "services/auth_int.h"

/* Looks at every connection regularly: ping the quiet, close the silent, and
 * close 1008 those whose token expired or was revoked. */
static void idle_tick(lws_sorted_usec_list_t *sul)
{
    wsr__loop_t *loop = lws_container_of(sul, wsr__loop_t, idle_sul);
    const wsr__settings_t *s = &loop->factory->settings;
    int64_t now = wsr__mono_ms(), epoch = wsr__epoch_s();

    for (uint32_t i = 0; i < loop->nslots; i++) {
        wsr__conn_t *c = loop->slots[i].conn;
        const char *ended;
        int64_t quiet;

        if (c == NULL || c->close_code != 0)
            continue;
        ended = wsr__auth_session_ended(loop->factory->auth, c->session, epoch);
        if (ended != NULL) {
            wsr__conn_close_because(c, 1008, ended);
            continue;
        }
        quiet = now - c->last_rx_ms;
        if (s->idle_close_ms != 0 && quiet >= (int64_t)s->idle_close_ms) {
            wsr__conn_close_because(c, 1001, "idle: no traffic and no pong");
        } else if (s->idle_ping_ms != 0 && quiet >= (int64_t)s->idle_ping_ms && !c->ping_due) {
            c->ping_due = 1;
            lws_callback_on_writable(c->wsi);
        }
    }
    wsr__idle_start(loop);
}

void wsr__idle_start(wsr__loop_t *loop)
{
    const wsr__settings_t *s = &loop->factory->settings;
    unsigned smallest = s->idle_ping_ms;

    if (smallest == 0 || (s->idle_close_ms != 0 && s->idle_close_ms < smallest))
        smallest = s->idle_close_ms;
    /* With tokens in use, expiry and revocation are checked every second. */
    if (loop->factory->auth != NULL && (smallest == 0 || smallest > 10000))
        smallest = 10000;
    if (smallest == 0)
        return;
    /* Check ten times per period, at most once every 100 ms, at least once a
     * second, so a deadline is met within a tenth of it. */
    smallest = WSR__MAX(100u, WSR__MIN(1000u, smallest / 10));
    lws_sul_schedule(loop->ctx, 0, &loop->idle_sul, idle_tick,
                     (lws_usec_t)smallest * LWS_US_PER_MS);
}
