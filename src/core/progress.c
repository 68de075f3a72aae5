/* SPDX-License-Identifier: MIT */
/*
 * Encoding of progress messages (PROTOCOL.md section 5.1): what a streaming
 * handler sends before its reply. In the v1 envelope it is
 * {"id":X,"progress":P,"event_name":E}; in the JSON-RPC envelope, which has
 * no such message, a notification {"jsonrpc":"2.0","method":"progress",
 * "params":{"id":X,"progress":P}}. Pure: bytes out, no I/O.
 */
#include "core/codec_int.h"

#include "core/json_int.h"

#define PUT(lit) wsr__buf_append(b, lit, sizeof(lit) - 1)

/* Appends "id":X,"progress":P, the members both envelopes share. */
static int put_id_progress(wsr__buf_t *b, const json_t *id, const json_t *progress)
{
    int rc = PUT("\"id\":");

    if (rc == 0)
        rc = wsr__json_dump(b, id);
    if (rc == 0)
        rc = PUT(",\"progress\":");
    return rc == 0 ? wsr__json_dump(b, progress != NULL ? progress : json_null()) : rc;
}

/* The message in JSON, appended to `b`. */
static int progress_json(wsr__buf_t *b, const json_t *id, const json_t *event_name,
                         const json_t *progress, int envelope)
{
    int rc;

    if (envelope == WSR__ENVELOPE_JSONRPC) {
        rc = PUT("{\"jsonrpc\":\"2.0\",\"method\":\"progress\",\"params\":{");
        if (rc == 0)
            rc = put_id_progress(b, id, progress);
        return rc == 0 ? PUT("}}") : rc;
    }
    rc = PUT("{");
    if (rc == 0)
        rc = put_id_progress(b, id, progress);
    if (rc == 0)
        rc = PUT(",\"event_name\":");
    if (rc == 0)
        rc = wsr__json_dump(b, event_name != NULL ? event_name : json_null());
    return rc == 0 ? PUT("}") : rc;
}

int wsr__codec_encode_progress(wsr__buf_t *out, const wsr__reply_to_t *to, const json_t *progress,
                               wsr__buf_t *scratch)
{
    int rc;

    if (to->id == NULL)
        return WSR_EINVAL;
    if (to->format == WSR_FORMAT_JSON)
        return progress_json(out, to->id, to->event_name, progress, to->envelope);
    wsr__buf_reset(scratch);
    rc = progress_json(scratch, to->id, to->event_name, progress, to->envelope);
    if (rc != 0)
        return rc;
    return wsr__codec_encode_raw(out, wsr__buf_payload(scratch), wsr__buf_payload_len(scratch),
                                 to->format);
}
