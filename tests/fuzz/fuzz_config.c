/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the configuration parser (src/server/config.c). An input
 * whose first byte is 0x01 is "\x01KEY\0VALUE" for wsr_config_set (a
 * command-line flag); any other input is the whole content of a file for
 * wsr_config_load_file, written to input.json in a directory of its own
 * under $TMPDIR (removed at exit). The configuration knows the program key
 * "modules", as wsrouterd's does, and holds preset strings.
 *
 * Checked for every input:
 * - the result is one the header lists: 0, WSR_EPARSE, WSR_EINVAL for a file
 *   (it exists and is small: never WSR_EIO, never WSR_ENOMEM); 0, WSR_ENOENT,
 *   WSR_EINVAL for a flag;
 * - a refusal is a sentence that begins with the file name, then ": " or
 *   ":LINE:COLUMN: " when it gives a place, and says something after that;
 *   the error's code, source and line agree with it; a flag's refusal names
 *   its key;
 * - a refusal changes no setting (the settings are compared byte for byte);
 * - a file that loaded once loads again.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsrouter/wsrouter.h"

static char dir[256], path[300];

static void remove_file(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");

    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "%s/wsr-fuzz-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(dir) != NULL, "cannot make %s", dir);
    snprintf(path, sizeof(path), "%s/input.json", dir);
    atexit(remove_file);
    return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t done = 0;

    FUZZ_CHECK(fd >= 0, "cannot write %s", path);
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);

        FUZZ_CHECK(n > 0, "cannot write %s", path);
        done += (size_t)n;
    }
    close(fd);
}

static wsr_config_t *new_config(void)
{
    wsr_config_t *c = wsr_config_new();
    wsr_error_t err;

    FUZZ_CHECK(c != NULL, "out of memory");
    FUZZ_CHECK(wsr_config_add_key(c, "modules") == 0, "cannot add the key modules");
    FUZZ_CHECK(wsr_config_set(c, "host", "10.0.0.1", &err) == 0 &&
                   wsr_config_set(c, "www", "/preset", &err) == 0 &&
                   wsr_config_set(c, "modules", "math", &err) == 0,
               "presets: %s", err.text);
    return c;
}

/* A file's refusal: "<path>: <sentence>" or "<path>:L:C: <sentence>". */
static void check_file_error(const wsr_error_t *err, int rc)
{
    size_t plen = strlen(path);
    const char *rest = err->text + plen;
    char want[64];

    FUZZ_CHECK(err->code == rc, "code %d for result %d", err->code, rc);
    FUZZ_CHECK(strcmp(err->source, path) == 0, "source \"%s\"", err->source);
    FUZZ_CHECK(strncmp(err->text, path, plen) == 0, "\"%s\" does not begin with the file name",
               err->text);
    FUZZ_CHECK(err->line >= 0 && err->column >= 0, "at %d:%d", err->line, err->column);
    if (err->line > 0)
        snprintf(want, sizeof(want), ":%d:%d: ", err->line, err->column);
    else
        snprintf(want, sizeof(want), ": ");
    FUZZ_CHECK(strncmp(rest, want, strlen(want)) == 0, "\"%s\" does not go on with \"%s\"",
               err->text, want);
    rest += strlen(want);
    FUZZ_CHECK(strlen(rest) > 3 && rest[strlen(rest) - 1] != ' ', "\"%s\": no sentence", err->text);
}

static void file_mode(const uint8_t *data, size_t size)
{
    wsr_config_t *c = new_config();
    wsr_server_config_t before;
    const char *modules = wsr_config_get(c, "modules");
    wsr_error_t err;
    int rc;

    write_file(data, size);
    memcpy(&before, wsr_config_settings(c), sizeof(before));
    rc = wsr_config_load_file(c, path, &err);
    FUZZ_CHECK(rc == 0 || rc == WSR_EPARSE || rc == WSR_EINVAL, "load returned %d: %s", rc,
               err.text);
    if (rc != 0) {
        check_file_error(&err, rc);
        FUZZ_CHECK(memcmp(&before, wsr_config_settings(c), sizeof(before)) == 0 &&
                       wsr_config_get(c, "modules") == modules,
                   "a refused file changed the settings: %s", err.text);
    } else {
        rc = wsr_config_load_file(c, path, &err);
        FUZZ_CHECK(rc == 0, "a file that loaded once is refused: %s", err.text);
    }
    wsr_config_free(c);
}

static void flag_mode(const uint8_t *data, size_t size)
{
    wsr_config_t *c = new_config();
    wsr_server_config_t before;
    const char *modules = wsr_config_get(c, "modules");
    char *key = calloc(1, size + 1), *value;
    wsr_error_t err;
    int rc;

    FUZZ_CHECK(key != NULL, "out of memory");
    memcpy(key, data, size);
    value = key + strlen(key) + (strlen(key) < size); /* after the first NUL, if any */
    memcpy(&before, wsr_config_settings(c), sizeof(before));
    rc = wsr_config_set(c, key, value, &err);
    FUZZ_CHECK(rc == 0 || rc == WSR_ENOENT || rc == WSR_EINVAL, "set returned %d: %s", rc,
               err.text);
    if (rc != 0) {
        FUZZ_CHECK(err.code == rc && strlen(err.text) > 10, "a refusal without a sentence");
        FUZZ_CHECK(strncmp(err.key, key, sizeof(err.key) - 1) == 0, "key \"%s\"", err.key);
        FUZZ_CHECK(memcmp(&before, wsr_config_settings(c), sizeof(before)) == 0 &&
                       wsr_config_get(c, "modules") == modules,
                   "a refused flag changed the settings: %s", err.text);
    }
    free(key);
    wsr_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 0x01)
        flag_mode(data + 1, size - 1);
    else
        file_mode(data, size);
    return 0;
}
