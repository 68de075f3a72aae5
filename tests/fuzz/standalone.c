/* SPDX-License-Identifier: MIT */
/*
 * A main() for the fuzz targets without libFuzzer: it feeds every file named
 * on the command line, and every file in every directory named (not
 * recursively; names starting with '.' and README files skipped), to the
 * target's LLVMFuzzerTestOneInput, each from an exact-size heap copy so that
 * AddressSanitizer sees a read past the end. This is how the crash
 * regressions of tests/fuzz/regressions/<target>/ and the seed corpus are
 * replayed by ctest in the gcc builds, sanitizers included. A broken
 * invariant aborts (FUZZ_CHECK); otherwise it prints "N passed, 0 failed".
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned long replayed;

static int replay_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *data = NULL, *grown;
    size_t n = 0, cap = 0, got;

    if (fp == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            grown = realloc(data, cap);
            if (grown == NULL) {
                fclose(fp);
                free(data);
                fprintf(stderr, "%s: out of memory\n", path);
                return -1;
            }
            data = grown;
        }
        got = fread(data + n, 1, cap - n, fp);
        n += got;
    } while (got > 0);
    fclose(fp);
    /* The exact size: a read one byte past the input is an ASan report. */
    grown = malloc(n ? n : 1);
    if (grown == NULL) {
        free(data);
        return -1;
    }
    if (n > 0)
        memcpy(grown, data, n);
    free(data);
    printf("replay: %s\n", path);
    fflush(stdout);
    LLVMFuzzerTestOneInput(grown, n);
    free(grown);
    replayed++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's files, in name order so that runs repeat exactly. */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL, **grown;
    size_t n = 0;
    int rc = 0;

    if (d == NULL) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
            continue;
        grown = realloc(names, (n + 1) * sizeof(*names));
        if (grown == NULL || (grown[n] = strdup(e->d_name)) == NULL) {
            names = grown ? grown : names;
            rc = -1;
            break;
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = replay_file(path);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;

    LLVMFuzzerInitialize(&argc, &argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...: replays each input (no libFuzzer here)\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc && rc == 0; i++) {
        struct stat st;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            rc = -1;
        } else {
            rc = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]);
        }
    }
    if (rc != 0)
        return 2;
    /* The line tests/ctest-summary shows for each test. */
    printf("%lu passed, 0 failed\n", replayed);
    return 0;
}
