/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by every src/ file: the allocator entry points (M1), the
 * growable capped byte buffer, slices, the monotonic clock and small helpers.
 * Nothing here is API; nothing here does I/O.
 */
#ifndef WSR_SRC_INTERNAL_H
#define WSR_SRC_INTERNAL_H

#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wsrouter/wsrouter.h"

#define WSR__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define WSR__MIN(a, b)     ((a) < (b) ? (a) : (b))
#define WSR__MAX(a, b)     ((a) > (b) ? (a) : (b))

/* A borrowed run of bytes, not NUL-terminated (STYLE A7). */
typedef struct wsr__slice {
    const char *ptr;
    size_t len;
} wsr__slice_t;

void *wsr__malloc(size_t size);
void *wsr__calloc(size_t count, size_t size);
void *wsr__realloc(void *ptr, size_t size);
void wsr__free(void *ptr);
char *wsr__strdup(const char *s);
char *wsr__strndup(const char *s, size_t n);

/*
 * A growable byte buffer with a hard cap (STYLE M3). `data` is owned. Bytes
 * before `head` are reserved headroom that encoders never touch (the outbound
 * queue puts its message header and LWS_PRE there).
 */
typedef struct wsr__buf {
    unsigned char *data; /* owned */
    size_t len;          /* bytes in use, headroom included */
    size_t cap;          /* bytes allocated */
    size_t limit;        /* most bytes it may ever hold; 0 = SIZE_MAX */
    size_t head;         /* headroom at the front */
} wsr__buf_t;

void wsr__buf_init(wsr__buf_t *b, size_t headroom, size_t limit);
void wsr__buf_dispose(wsr__buf_t *b);
/* Makes room for `extra` more bytes. Returns 0, WSR_EOVERFLOW past the limit,
 * or WSR_ENOMEM. On failure the buffer is unchanged. */
WSR_NODISCARD int wsr__buf_reserve(wsr__buf_t *b, size_t extra);
/* What wsr__buf_append and wsr__buf_putc do when the room is not there. */
WSR_NODISCARD int wsr__buf_append_grow(wsr__buf_t *b, const void *p, size_t n);

/* True when `n` more bytes fit without growing, within the limit. */
static inline bool wsr__buf_fits(const wsr__buf_t *b, size_t n)
{
    return n <= b->cap && b->len <= b->cap - n && b->len + n - b->head <= b->limit;
}

/* Appends n bytes; inline while the room is there (replies mostly). */
WSR_NODISCARD static inline int wsr__buf_append(wsr__buf_t *b, const void *p, size_t n)
{
    if (!wsr__buf_fits(b, n))
        return wsr__buf_append_grow(b, p, n);
    if (n != 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

WSR_NODISCARD static inline int wsr__buf_putc(wsr__buf_t *b, char c)
{
    if (!wsr__buf_fits(b, 1))
        return wsr__buf_append_grow(b, &c, 1);
    b->data[b->len++] = (unsigned char)c;
    return 0;
}

/* Appends the string literal `lit` (its length known when compiling). */
#define WSR__BUF_LIT(b, lit) wsr__buf_append((b), (lit), sizeof(lit) - 1)
WSR_NODISCARD int wsr__buf_puts(wsr__buf_t *b, const char *s);
/* Formats in the "C" locale (1.5, never 1,5), whatever LC_NUMERIC says. */
WSR_NODISCARD int wsr__buf_printf(wsr__buf_t *b, const char *fmt, ...) WSR_PRINTF(2, 3);

/* Stack of the threads the library starts (event loops, workers): at least
 * this much, whatever the process's default. */
#define WSR__THREAD_STACK ((size_t)8 << 20)

/* pthread_create with that stack size. Returns pthread_create's result. */
int wsr__thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* Switches the calling thread to the "C" locale, for several numbers in a
 * row; returns what wsr__c_numbers_end takes to switch back. */
locale_t wsr__c_numbers_begin(void);
void wsr__c_numbers_end(locale_t before);

/* strtod in the "C" locale, whatever the process's LC_NUMERIC: JSON numbers
 * never depend on setlocale(). */
double wsr__strtod(const char *s, char **end);

/* Reads a rate, "N/s", "N/min" or "N/h" ("1000/s", "20000/min"), a bare
 * number (per second), or "0" / "off" (none), into
 * requests per second. Returns false when `s` is none of these. */
bool wsr__rate_parse(const char *s, double *per_second);
/* The payload (after the headroom) and its length. */
static inline unsigned char *wsr__buf_payload(const wsr__buf_t *b)
{
    /* An empty buffer may have no allocation: NULL + 0 is undefined. */
    return b->data != NULL ? b->data + b->head : NULL;
}
static inline size_t wsr__buf_payload_len(const wsr__buf_t *b)
{
    return b->len - b->head;
}
/* Drops the payload, keeping the allocation and the headroom. */
static inline void wsr__buf_reset(wsr__buf_t *b)
{
    b->len = b->head;
}

/* FNV-1a of a NUL-terminated string: for hash tables of names. */
static inline uint64_t wsr__hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s != '\0') {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

/* Mixes every bit of `x` into every other (splitmix64's finalizer): for keys
 * that differ little, such as sequential ids or similar names' hashes. */
static inline uint64_t wsr__hash_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* Monotonic clock in nanoseconds. */
uint64_t wsr__now_ns(void);
/* Monotonic clock in milliseconds. */
int64_t wsr__mono_ms(void);
/* Wall clock in milliseconds since the epoch. */
int64_t wsr__wall_ms(void);

/* Fills `err` (when not NULL) and returns `code`. A text longer than
 * err->text is cut at a character boundary and ends with "...". */
int wsr__error_set(wsr_error_t *err, int code, const char *fmt, ...) WSR_PRINTF(3, 4);

/* Copies `s` into `out` (`size` bytes, size >= 1) as at most `max` bytes: a
 * longer text is cut at a character boundary and ends with "..." (for
 * quoting a client's or a file's text in a sentence). */
void wsr__clip(const char *s, size_t max, char *out, size_t size);

/* ASCII helpers that ignore the locale. */
bool wsr__is_blank(unsigned char c);
int wsr__strncasecmp_ascii(const char *a, const char *b, size_t n);

/* Formats a signed integer in decimal into `out` (at least 21 bytes); returns the length. */
size_t wsr__fmt_int(char *out, int64_t v);

/* The address part of a peer text into `out` (`size` bytes, cut to fit):
 * "1.2.3.4:5678" and "[::1]:5678" lose their port; a forwarded client's
 * address, which has none, stays as it is. */
void wsr__peer_address(const char *peer, char *out, size_t size);

/* Copies `s` (NULL: "") into `out` (`size` bytes, at least 1), cut to fit,
 * with quotes, backslashes and control characters replaced by '?': what a
 * client sent, made safe for a log line. */
void wsr__copy_printable(char *out, size_t size, const char *s);

/* wsr_log_format_line at a given wall-clock time (ms since the epoch). */
size_t wsr__log_format_at(char *out, size_t size, int format, int level, const char *line,
                          int64_t wall_ms);

#endif /* WSR_SRC_INTERNAL_H */
