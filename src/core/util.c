/* SPDX-License-Identifier: MIT */
/*
 * Small shared pieces: the capped byte buffer, clocks, error reports, error
 * and log-level names, locale-free ASCII helpers, and numbers read and written
 * in the "C" locale whatever the process's LC_NUMERIC. No I/O; one global,
 * that locale, made once.
 */
#include "core/internal.h"

#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * JSON and the protocol write 1.5, never 1,5: an application embedding the
 * library may call setlocale(LC_ALL, ""), and strtod and printf follow
 * LC_NUMERIC. uselocale() switches the calling thread only, and back.
 */
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_make(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t wsr__c_numbers_begin(void)
{
    pthread_once(&c_locale_once, c_locale_make);
    /* Without the C locale (out of memory at first use), uselocale(0) only
     * reports the current one: numbers then follow the process's locale. */
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

void wsr__c_numbers_end(locale_t before)
{
    if (before != (locale_t)0)
        uselocale(before);
}

int wsr__thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    size_t size = 0;
    int rc;

    if (pthread_attr_init(&attr) != 0)
        return pthread_create(t, NULL, fn, arg);
    /* The default follows `ulimit -s` (2 MiB under "unlimited", 8 MiB
     * usually; 128 KiB on musl): never below what a handler and a
     * 2048-level JSON value need. */
    if (pthread_attr_getstacksize(&attr, &size) == 0 && size < WSR__THREAD_STACK)
        (void)pthread_attr_setstacksize(&attr, WSR__THREAD_STACK);
    rc = pthread_create(t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc;
}

double wsr__strtod(const char *s, char **end)
{
    locale_t before = wsr__c_numbers_begin();
    double d = strtod(s, end);

    wsr__c_numbers_end(before);
    return d;
}

void wsr__buf_init(wsr__buf_t *b, size_t headroom, size_t limit)
{
    b->data = NULL;
    b->len = headroom;
    b->cap = 0;
    b->limit = limit ? limit : SIZE_MAX;
    b->head = headroom;
}

void wsr__buf_dispose(wsr__buf_t *b)
{
    wsr__free(b->data);
    b->data = NULL;
    b->cap = 0;
    b->len = b->head;
}

int wsr__buf_reserve(wsr__buf_t *b, size_t extra)
{
    size_t need, cap;
    unsigned char *p;

    if (extra > SIZE_MAX - b->len)
        return WSR_EOVERFLOW;
    need = b->len + extra;
    if (need - b->head > b->limit)
        return WSR_EOVERFLOW;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = wsr__realloc(b->data, cap);
    if (p == NULL)
        return WSR_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int wsr__buf_append(wsr__buf_t *b, const void *p, size_t n)
{
    int rc = wsr__buf_reserve(b, n);

    if (rc != 0)
        return rc;
    if (n != 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int wsr__buf_putc(wsr__buf_t *b, char c)
{
    int rc = wsr__buf_reserve(b, 1);

    if (rc != 0)
        return rc;
    b->data[b->len++] = (unsigned char)c;
    return 0;
}

int wsr__buf_puts(wsr__buf_t *b, const char *s)
{
    return wsr__buf_append(b, s, strlen(s));
}

int wsr__buf_printf(wsr__buf_t *b, const char *fmt, ...)
{
    locale_t before = wsr__c_numbers_begin();
    va_list ap;
    char small[256];
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        rc = WSR_EINVAL;
    } else if ((size_t)n < sizeof(small)) {
        rc = wsr__buf_append(b, small, (size_t)n);
    } else if ((rc = wsr__buf_reserve(b, (size_t)n + 1)) == 0) {
        va_start(ap, fmt);
        vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
    }
    wsr__c_numbers_end(before);
    return rc;
}

uint64_t wsr__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t wsr__mono_ms(void)
{
    return (int64_t)(wsr__now_ns() / 1000000u);
}

int64_t wsr__wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wsr__error_set(wsr_error_t *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    return code;
}

bool wsr__is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int wsr__strncasecmp_ascii(const char *a, const char *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];

        if (ca >= 'A' && ca <= 'Z')
            ca = (unsigned char)(ca + 32);
        if (cb >= 'A' && cb <= 'Z')
            cb = (unsigned char)(cb + 32);
        if (ca != cb || ca == '\0')
            return (int)ca - (int)cb;
    }
    return 0;
}

size_t wsr__fmt_int(char *out, int64_t v)
{
    char tmp[24];
    size_t n = 0, i;
    /* Work in unsigned so INT64_MIN does not overflow when negated. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        tmp[n++] = (char)('0' + (u % 10));
        u /= 10;
    } while (u != 0);
    i = 0;
    if (v < 0)
        out[i++] = '-';
    while (n > 0)
        out[i++] = tmp[--n];
    out[i] = '\0';
    return i;
}

const char *wsr_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define WSR__ERR_CASE(name, value, msg)                                                            \
    case value:                                                                                    \
        return msg;
        WSR_ERRNO_MAP(WSR__ERR_CASE)
#undef WSR__ERR_CASE
    default:
        return "unknown error";
    }
}

const char *wsr_err_name(int code)
{
    switch (code) {
    case 0:
        return "WSR_OK";
#define WSR__ERR_NAME(name, value, msg)                                                            \
    case value:                                                                                    \
        return "WSR_" #name;
        WSR_ERRNO_MAP(WSR__ERR_NAME)
#undef WSR__ERR_NAME
    default:
        return "WSR_UNKNOWN";
    }
}

static const char *const log_level_names[] = {"err", "warn", "notice", "info", "debug"};

const char *wsr_log_level_name(int level)
{
    if (level < 0 || (size_t)level >= WSR__ARRAY_SIZE(log_level_names))
        return "?";
    return log_level_names[level];
}

int wsr_log_level_parse(const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < WSR__ARRAY_SIZE(log_level_names); i++)
        if (strcmp(name, log_level_names[i]) == 0)
            return (int)i;
    return -1;
}
