/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the cmocka tests: a counting allocator that can fail the
 * Nth allocation (for OOM sweeps, STYLE T5), installed for wsrouter and
 * jansson alike; and readers for data-driven cases in tests/data/<suite>/.
 */
#ifndef WSR_TESTS_TESTUTIL_H
#define WSR_TESTS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

/* Installs the counting allocator for wsrouter and jansson. Call first in main. */
void tu_install_allocator(void);

/* Fails allocation number n (0-based) from now on, and every one after it
 * while `sticky`; -1 disables failing. Resets the counters. */
void tu_fail_at(long n, bool sticky);

/* Allocations made since the last tu_fail_at, and blocks still live. */
long tu_alloc_count(void);
long tu_live_blocks(void);

/* Reads tests/data/<rel> (WSR_TEST_DATA) into a NUL-terminated buffer.
 * Returns it (free with free()) and its length, or NULL when absent. */
char *tu_read_data(const char *rel, size_t *len);

/* Lists the case directories of suite `suite` (sorted). Returns the count;
 * names[i] are malloc'd, and so is *names. */
size_t tu_list_cases(const char *suite, char ***names);

/* Strips trailing blanks and newlines in place. */
void tu_rstrip(char *s);

#endif /* WSR_TESTS_TESTUTIL_H */
