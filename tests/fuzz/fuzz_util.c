/* SPDX-License-Identifier: MIT */
/* The helpers of fuzz.h, linked into every fuzz target. */
#include "fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: invariant broken (%s): ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

const char *fuzz_repr(const void *p, size_t n, char *out, size_t size)
{
    const unsigned char *s = p;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char piece[8];
        int len;

        if (s[i] >= 0x20 && s[i] < 0x7F && s[i] != '\\')
            len = snprintf(piece, sizeof(piece), "%c", s[i]);
        else
            len = snprintf(piece, sizeof(piece), "\\x%02x", s[i]);
        if (o + (size_t)len + 4 >= size) {
            snprintf(out + o, size - o, "...");
            return out;
        }
        snprintf(out + o, size - o, "%s", piece);
        o += (size_t)len;
    }
    out[o] = '\0';
    return out;
}

bool fuzz_printable(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7F)
            return false;
    return true;
}
