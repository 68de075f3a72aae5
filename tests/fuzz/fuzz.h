/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz targets of tests/fuzz/ share: libFuzzer's two entry points,
 * which every target defines, and FUZZ_CHECK, which stops the process with a
 * sentence when an invariant breaks (abort(), so libFuzzer keeps the input as
 * a crash and the replay runner fails its ctest test). A target never prints
 * otherwise. Built with -fsanitize=fuzzer in build-fuzz (libFuzzer's main),
 * or with standalone.c's main, which replays files, everywhere else.
 */
#ifndef WSR_TESTS_FUZZ_FUZZ_H
#define WSR_TESTS_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsrouter/common.h"

/* libFuzzer's names: defined by each target. Initialize runs once, first. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints where and what, then aborts. */
_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    WSR_PRINTF(4, 5);

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)

/* Writes `n` bytes of `p` into `out` as printable ASCII (C escapes), cut
 * with "..." to fit `size`; for the sentences of FUZZ_CHECK. Returns out. */
const char *fuzz_repr(const void *p, size_t n, char *out, size_t size);

/* True when the NUL-terminated `s` is printable ASCII only (0x20..0x7E). */
bool fuzz_printable(const char *s);

#endif /* WSR_TESTS_FUZZ_FUZZ_H */
