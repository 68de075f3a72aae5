/* SPDX-License-Identifier: MIT */
/*
 * Small shared pieces: the capped byte buffer, clocks, error reports, error
 * and log-level names, locale-free ASCII helpers, and numbers read and written
 * in the "C" locale whatever the process's LC_NUMERIC. No I/O; one global,
 * that locale, made once.
 */
#include "core/internal.h"

#include <errno.h>
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

bool wsr__rate_parse(const char *s, double *per_second)
{
    char *end;
    double v;

    if (strcmp(s, "off") == 0) {
        *per_second = 0;
        return true;
    }
    errno = 0;
    v = wsr__strtod(s, &end);
    if (end == s || errno != 0 || !(v >= 0) || v > 1e9 || s[0] == '-' || s[0] == '+')
        return false;
    if (strcmp(end, "/s") == 0 || *end == '\0')
        *per_second = v;
    else if (strcmp(end, "/min") == 0)
        *per_second = v / 60;
    else if (strcmp(end, "/h") == 0)
        *per_second = v / 3600;
    else
        return false;
    return true;
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

int wsr__buf_append_grow(wsr__buf_t *b, const void *p, size_t n)
{
    int rc = wsr__buf_reserve(b, n);

    if (rc != 0)
        return rc;
    if (n != 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
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

static void ellipsis(char *text, size_t size);

int wsr__error_set(wsr_error_t *err, int code, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    n = vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(err->text))
        ellipsis(err->text, sizeof(err->text));
    return code;
}

/* Ends a text cut to fill `size` bytes with "...": at a character boundary
 * (a UTF-8 sequence is never split) and after no blank, so the sentence
 * still reads as one. */
static void ellipsis(char *text, size_t size)
{
    size_t end = size - 4; /* room for "..." and the NUL */

    while (end > 0 && ((unsigned char)text[end] & 0xC0) == 0x80)
        end--; /* text[end] would be a continuation byte: back to its lead */
    while (end > 0 && text[end - 1] == ' ')
        end--;
    memcpy(text + end, "...", 4);
}

void wsr__clip(const char *s, size_t max, char *out, size_t size)
{
    size_t n = strlen(s);

    if (max > size - 1)
        max = size - 1;
    if (n <= max) {
        memcpy(out, s, n + 1);
        return;
    }
    memcpy(out, s, max);
    out[max] = '\0';
    if (max >= 4)
        ellipsis(out, max + 1);
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
    /* Two digits a division: every reply has a status and most an id. */
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233"
        "34353637383940414243444546474849505152535455565758596061626364656667"
        "6869707172737475767778798081828384858687888990919293949596979899";
    char tmp[24], *p = tmp + sizeof(tmp);
    size_t n;
    /* Work in unsigned so INT64_MIN does not overflow when negated. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    while (u >= 100) {
        size_t d = (size_t)(u % 100) * 2;

        u /= 100;
        *--p = pairs[d + 1];
        *--p = pairs[d];
    }
    if (u >= 10) {
        *--p = pairs[u * 2 + 1];
        *--p = pairs[u * 2];
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    n = (size_t)(tmp + sizeof(tmp) - p);
    for (size_t i = 0; i < n; i++)
        out[i] = p[i];
    out[n] = '\0';
    return n;
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

void wsr__copy_printable(char *out, size_t size, const char *s)
{
    size_t n = 0;

    for (; s != NULL && *s != '\0' && n + 1 < size; s++, n++)
        out[n] = ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\') ? '?' : *s;
    out[n] = '\0';
}

/* Appends `line` to out[n..size) as the inside of a JSON string, never
 * splitting an escape; returns the new length. */
static size_t json_escape_into(char *out, size_t n, size_t size, const char *line)
{
    for (const unsigned char *p = (const unsigned char *)line; *p != '\0'; p++) {
        char esc[8];
        size_t k;

        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            k = 2;
        } else if (*p == '\n' || *p == '\t' || *p == '\r') {
            esc[0] = '\\';
            esc[1] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
            k = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
        } else {
            esc[0] = (char)*p;
            k = 1;
        }
        if (n + k >= size)
            break;
        memcpy(out + n, esc, k);
        n += k;
    }
    return n;
}

size_t wsr__log_format_at(char *out, size_t size, int format, int level, const char *line,
                          int64_t wall_ms)
{
    char stamp[40];
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    size_t n;
    int k;

    if (size == 0)
        return 0;
    gmtime_r(&secs, &tm);
    k = (int)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + k, sizeof(stamp) - (size_t)k, ".%03dZ", (int)(wall_ms % 1000));
    if (format != WSR_LOG_FORMAT_JSON) {
        k = snprintf(out, size, "%s [%s] %s", stamp, wsr_log_level_name(level), line);
        return k < 0 ? 0 : WSR__MIN((size_t)k, size - 1);
    }
    /* Room is kept for the closing "} whatever the message's length. */
    if (size < 96) {
        out[0] = '\0';
        return 0;
    }
    k = snprintf(out, size, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", stamp,
                 wsr_log_level_name(level));
    n = json_escape_into(out, (size_t)k, size - 2, line);
    memcpy(out + n, "\"}", 3);
    return n + 2;
}

size_t wsr_log_format_line(char *out, size_t size, int format, int level, const char *line)
{
    return wsr__log_format_at(out, size, format, level, line, wsr__wall_ms());
}

void wsr__peer_address(const char *peer, char *out, size_t size)
{
    const char *colon = strchr(peer, ':'), *bracket = strchr(peer, ']');
    size_t n = strlen(peer);

    if (peer[0] == '[' && bracket != NULL)
        n = (size_t)(bracket - peer) + 1;
    else if (colon != NULL && strchr(colon + 1, ':') == NULL)
        n = (size_t)(colon - peer);
    if (n >= size)
        n = size - 1;
    memcpy(out, peer, n);
    out[n] = '\0';
}
