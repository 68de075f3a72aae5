/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the Redis engine's publication messages
 * (wsr__engine_parse_publication, src/services/engine_redis.c), as they come
 * from Redis: "OFFSET EPOCH TOPICLEN\nTOPIC EVENT\nDATA". An input is one
 * message.
 *
 * Checked for every input:
 * - the parser returns 0 or WSR_EPARSE;
 * - on 0, the topic and the data lie inside the input, in that order, the
 *   data running to its end; the epoch is 1 to 64 bytes with no space; the
 *   event has no newline; and the message written back from the fields in
 *   canonical form parses to the same fields.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/engine_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *m = (const char *)data;
    wsr__wire_pub_t p, q;
    int rc = wsr__engine_parse_publication(m, size, &p);
    size_t elen, n;
    char *again;

    FUZZ_CHECK(rc == 0 || rc == WSR_EPARSE, "an unexpected error");
    if (rc != 0)
        return 0;
    FUZZ_CHECK(p.topic > m && p.topic + p.topic_len <= m + size, "the topic outside the input");
    FUZZ_CHECK(p.data >= p.topic + p.topic_len && p.data + p.data_len == m + size,
               "the data not at the end");
    elen = strlen(p.epoch);
    FUZZ_CHECK(elen >= 1 && elen <= WSR__EPOCH_MAX && strchr(p.epoch, ' ') == NULL, "a bad epoch");
    FUZZ_CHECK(strchr(p.event, '\n') == NULL, "a newline in the event");
    n = 64 + elen + p.topic_len + strlen(p.event) + p.data_len;
    again = malloc(n);
    FUZZ_CHECK(again != NULL, "out of memory");
    {
        int head =
            snprintf(again, n, "%llu %s %zu\n", (unsigned long long)p.offset, p.epoch, p.topic_len);
        size_t len = (size_t)head;

        FUZZ_CHECK(head > 0, "snprintf");
        memcpy(again + len, p.topic, p.topic_len);
        len += p.topic_len;
        memcpy(again + len, p.event, strlen(p.event));
        len += strlen(p.event);
        again[len++] = '\n';
        if (p.data_len > 0)
            memcpy(again + len, p.data, p.data_len);
        len += p.data_len;
        FUZZ_CHECK(wsr__engine_parse_publication(again, len, &q) == 0,
                   "the canonical form refused");
        FUZZ_CHECK(q.offset == p.offset && strcmp(q.epoch, p.epoch) == 0 &&
                       q.topic_len == p.topic_len && memcmp(q.topic, p.topic, p.topic_len) == 0 &&
                       strcmp(q.event, p.event) == 0 && q.data_len == p.data_len &&
                       (p.data_len == 0 || memcmp(q.data, p.data, p.data_len) == 0),
                   "the canonical form parses differently");
    }
    free(again);
    return 0;
}
