/* SPDX-License-Identifier: MIT */
/*
 * The raw TCP framings' parsers (see rawframe_int.h): the framing of a
 * connection, lines, RESP commands and text-line words. Each parser looks
 * at the bytes it is given and either finds one whole frame, asks for more,
 * or names what is wrong; it keeps no state between calls, so a caller
 * that received a frame one byte at a time gets the same answer as one
 * that received it whole. Nothing here allocates but the words buffer.
 */
#include "core/rawframe_int.h"

#include <stdio.h>
#include <string.h>

#include "core/codec_int.h"

wsr__framing_t wsr__framing_detect(unsigned char first)
{
    if (first == '{')
        return WSR__FRAMING_NDJSON;
    if (first == '*')
        return WSR__FRAMING_RESP;
    if (first <= 0x03)
        return WSR__FRAMING_TCPY;
    return WSR__FRAMING_TEXT;
}

int wsr__line_next(const unsigned char *p, size_t n, size_t max, size_t *line_len, size_t *used)
{
    size_t look = n < max + 2 ? n : max + 2; /* a line of max bytes, then "\r\n" */
    const unsigned char *nl = memchr(p, '\n', look);
    size_t len;

    /* Without a newline, a line of max bytes may still come whole: its "\r"
     * is here, its "\n" in the next read (fuzz_ndjson found it refused when
     * TCP cut it there, and served when it came in one read). */
    if (nl == NULL)
        return look > max + 1 || (look == max + 1 && p[max] != '\r') ? WSR_EOVERFLOW
                                                                     : WSR__FRAME_MORE;
    len = (size_t)(nl - p);
    *used = len + 1;
    if (len > 0 && p[len - 1] == '\r')
        len--;
    if (len > max)
        return WSR_EOVERFLOW;
    *line_len = len;
    return WSR__FRAME_OK;
}

static int bad(char *detail, const char *what)
{
    snprintf(detail, WSR__RAW_DETAIL, "%s", what);
    return WSR_EPARSE;
}

/* Appends one word (checked: no NUL, valid UTF-8) to the NUL-joined list. */
static int add_word(wsr__buf_t *words, size_t *nwords, const unsigned char *w, size_t n,
                    char *detail)
{
    int rc;

    if (n > 0 && memchr(w, '\0', n) != NULL)
        return bad(detail, "a word contains a NUL byte");
    if (n > 0 && !wsr__utf8_valid(w, n))
        return bad(detail, "a word is not valid UTF-8");
    if (*nwords > 0 && (rc = wsr__buf_putc(words, '\0')) != 0)
        return rc;
    if (n > 0 && (rc = wsr__buf_append(words, w, n)) != 0)
        return rc;
    (*nwords)++;
    return 0;
}

/*
 * Reads "<c><decimal>\r\n" at p[*at..n): Returns WSR__FRAME_OK with *value,
 * WSR__FRAME_MORE, or WSR_EPARSE. A header longer than 20 digits is bad.
 */
static int read_header(const unsigned char *p, size_t n, size_t *at, char c, long long *value,
                       char *detail)
{
    size_t i = *at;
    long long v = 0;
    bool neg = false, digits = false;

    if (i >= n)
        return WSR__FRAME_MORE;
    if (p[i] != (unsigned char)c)
        return bad(detail, c == '*' ? "a RESP command must be an array (*N)"
                                    : "a RESP command's elements must be bulk strings ($N)");
    i++;
    if (i < n && p[i] == '-') {
        neg = true;
        i++;
    }
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        if (v > 100000000000000LL)
            return bad(detail, "a RESP length is too large");
        v = v * 10 + (p[i] - '0');
        digits = true;
    }
    if (i >= n || (p[i] == '\r' && i + 1 >= n))
        return WSR__FRAME_MORE;
    if (!digits || p[i] != '\r' || p[i + 1] != '\n')
        return bad(detail, "a RESP length is not a number followed by CRLF");
    *value = neg ? -v : v;
    *at = i + 2;
    return WSR__FRAME_OK;
}

/* The bulk strings of an array whose header is at p[*at]. */
static int resp_array(const unsigned char *p, size_t n, size_t max, wsr__buf_t *words,
                      size_t *nwords, size_t *at, char *detail)
{
    long long count, len;
    int rc = read_header(p, n, at, '*', &count, detail);

    if (rc != WSR__FRAME_OK)
        return rc;
    if (count < 1 || count > WSR__RESP_MAX_ARGS)
        return bad(detail, "a RESP command must hold 1 to 1024 elements");
    for (long long k = 0; k < count; k++) {
        if ((rc = read_header(p, n, at, '$', &len, detail)) != WSR__FRAME_OK)
            return rc;
        if (len < 0)
            return bad(detail, "a RESP command's element must not be null");
        if ((unsigned long long)len > max)
            return WSR_EOVERFLOW;
        if (n - *at < (size_t)len + 2)
            return *at + (size_t)len + 2 > max + 64 ? WSR_EOVERFLOW : WSR__FRAME_MORE;
        if (p[*at + (size_t)len] != '\r' || p[*at + (size_t)len + 1] != '\n')
            return bad(detail, "a RESP bulk string is longer than its length says");
        if ((rc = add_word(words, nwords, p + *at, (size_t)len, detail)) != 0)
            return rc;
        *at += (size_t)len + 2;
    }
    return WSR__FRAME_OK;
}

int wsr__resp_next(const unsigned char *p, size_t n, size_t max, wsr__buf_t *words, size_t *nwords,
                   size_t *used, char detail[WSR__RAW_DETAIL])
{
    size_t at = 0, line_len;
    int rc;

    detail[0] = '\0';
    wsr__buf_reset(words);
    *nwords = 0;
    if (n == 0)
        return WSR__FRAME_MORE;
    if (p[0] != '*') {
        /* An inline command: one line of words. */
        rc = wsr__line_next(p, n, max, &line_len, used);
        if (rc != WSR__FRAME_OK)
            return rc;
        rc = wsr__text_words(p, line_len, words, nwords, detail);
        return rc == 0 ? WSR__FRAME_OK : rc;
    }
    rc = resp_array(p, n, max, words, nwords, &at, detail);
    if (rc == WSR__FRAME_MORE) {
        /* What waits may not grow past the limit while it is incomplete. */
        wsr__buf_reset(words);
        *nwords = 0;
        return n > max + 64 ? WSR_EOVERFLOW : WSR__FRAME_MORE;
    }
    if (rc == WSR__FRAME_OK && at > max + 64)
        return WSR_EOVERFLOW;
    *used = at;
    return rc;
}

/* One quoted word from p[*i] (the opening quote) into `word`. */
static int quoted(const unsigned char *p, size_t n, size_t *i, wsr__buf_t *word, char *detail)
{
    int rc;

    for ((*i)++; *i < n; (*i)++) {
        unsigned char ch = p[*i];

        if (ch == '"') {
            (*i)++;
            return 0;
        }
        if (ch == '\\' && *i + 1 < n)
            ch = p[++(*i)];
        if ((rc = wsr__buf_putc(word, (char)ch)) != 0)
            return rc;
    }
    return bad(detail, "a quoted word is not closed");
}

int wsr__text_words(const unsigned char *line, size_t n, wsr__buf_t *words, size_t *nwords,
                    char detail[WSR__RAW_DETAIL])
{
    wsr__buf_t word;
    size_t i = 0;
    int rc = 0;

    detail[0] = '\0';
    wsr__buf_reset(words);
    *nwords = 0;
    if (n > 0 && memchr(line, '\0', n) != NULL)
        return bad(detail, "the line contains a NUL byte");
    if (n > 0 && !wsr__utf8_valid(line, n))
        return bad(detail, "the line is not valid UTF-8");
    wsr__buf_init(&word, 0, n + 1);
    while (rc == 0) {
        while (i < n && wsr__is_blank(line[i]))
            i++;
        if (i >= n)
            break;
        wsr__buf_reset(&word);
        if (line[i] == '"') {
            rc = quoted(line, n, &i, &word, detail);
        } else {
            while (i < n && !wsr__is_blank(line[i]))
                if ((rc = wsr__buf_putc(&word, (char)line[i++])) != 0)
                    break;
        }
        if (rc == 0)
            rc = add_word(words, nwords, word.data, word.len, detail);
    }
    wsr__buf_dispose(&word);
    return rc;
}
