/* SPDX-License-Identifier: MIT */
/* Shared test helpers (see testutil.h). */
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsrouter/wsrouter.h"
#include "core/base64_int.h"

/* Every block carries its size in a header so live bytes can be tracked. */
typedef struct hdr {
    size_t size;
    size_t pad; /* keeps the payload 16-byte aligned */
} hdr_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long count, live, fail_at = -1;
static bool fail_sticky;

static bool should_fail(void)
{
    bool fail;

    pthread_mutex_lock(&lock);
    fail = fail_at >= 0 && (count == fail_at || (fail_sticky && count > fail_at));
    count++;
    pthread_mutex_unlock(&lock);
    return fail;
}

static void *tu_malloc(size_t size)
{
    hdr_t *h;

    if (should_fail())
        return NULL;
    h = malloc(sizeof(*h) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    pthread_mutex_lock(&lock);
    live++;
    pthread_mutex_unlock(&lock);
    return h + 1;
}

static void tu_free(void *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&lock);
    live--;
    pthread_mutex_unlock(&lock);
    free((hdr_t *)p - 1);
}

static void *tu_realloc(void *p, size_t size)
{
    hdr_t *h;

    if (p == NULL)
        return tu_malloc(size);
    if (should_fail())
        return NULL;
    h = realloc((hdr_t *)p - 1, sizeof(*h) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    return h + 1;
}

void tu_install_allocator(void)
{
    if (wsr_set_allocator(tu_malloc, tu_realloc, tu_free) != 0)
        abort();
    json_set_alloc_funcs(tu_malloc, tu_free);
}

void tu_fail_at(long n, bool sticky)
{
    pthread_mutex_lock(&lock);
    fail_at = n;
    fail_sticky = sticky;
    count = 0;
    pthread_mutex_unlock(&lock);
}

long tu_alloc_count(void)
{
    long n;

    pthread_mutex_lock(&lock);
    n = count;
    pthread_mutex_unlock(&lock);
    return n;
}

long tu_live_blocks(void)
{
    long n;

    pthread_mutex_lock(&lock);
    n = live;
    pthread_mutex_unlock(&lock);
    return n;
}

char *tu_read_data(const char *rel, size_t *len)
{
    const char *base = getenv("WSR_TEST_DATA");
    char path[1024];
    FILE *fp;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/%s", base ? base : "tests/data", rel);
    fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t tu_list_cases(const char *suite, char ***names)
{
    const char *base = getenv("WSR_TEST_DATA");
    char path[1024];
    struct dirent *e;
    size_t n = 0, cap = 0;
    DIR *d;

    *names = NULL;
    snprintf(path, sizeof(path), "%s/%s", base ? base : "tests/data", suite);
    d = opendir(path);
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            *names = realloc(*names, cap * sizeof(char *));
        }
        (*names)[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(*names, n, sizeof(char *), cmp_names);
    return n;
}

void tu_rstrip(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

int tu_router_setup(void **state, int (*add)(wsr_router_t *router, wsr_error_t *err))
{
    tu_router_fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    fx->live0 = tu_live_blocks();
    fx->router = wsr_router_new();
    *state = fx;
    if (fx->router == NULL || add(fx->router, NULL) != 0)
        return -1;
    return 0;
}

int tu_router_teardown(void **state)
{
    tu_router_fixture_t *fx = *state;
    long live0 = fx->live0;

    wsr_router_free(fx->router);
    free(fx);
    assert_int_equal(tu_live_blocks(), live0);
    return 0;
}

char *tu_call(wsr_router_t *router, const char *msg)
{
    char *reply = NULL;
    size_t len = 0;

    assert_int_equal(wsr_router_call(router, msg, strlen(msg), false, &reply, &len), 0);
    assert_non_null(reply);
    assert_int_equal(strlen(reply), len);
    return reply;
}

void tu_expect_reply(wsr_router_t *router, const char *msg, const char *want)
{
    char *reply = tu_call(router, msg);

    assert_string_equal(reply, want);
    wsr_free(reply);
}

void tu_expect_base64(wsr_router_t *router, const char *json, bool binary, const char *want)
{
    wsr__buf_t msg, expected;
    char *reply = NULL;
    size_t len = 0;

    wsr__buf_init(&msg, 0, 0);
    wsr__buf_init(&expected, 0, 0);
    assert_int_equal(wsr__base64_encode(&msg, (const unsigned char *)json, strlen(json)), 0);
    assert_int_equal(wsr__base64_encode(&expected, (const unsigned char *)want, strlen(want)), 0);
    assert_int_equal(wsr_router_call(router, msg.data, msg.len, binary, &reply, &len), 0);
    assert_int_equal(len, expected.len);
    assert_memory_equal(reply, expected.data, len);
    wsr_free(reply);
    wsr__buf_dispose(&msg);
    wsr__buf_dispose(&expected);
}
