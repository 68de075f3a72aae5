/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the JWT verifier (src/services/jwt.c, wsr__jwt_verify, and
 * the time checks). The first byte chooses the mode:
 *
 * 'M' (mutate): the bytes up to the first NUL are the claims (a JSON object,
 *   or else the text of a "sub" claim); the bytes after it are edits of three
 *   bytes each (what, where, byte: replace, insert, delete, cut). The target
 *   signs the claims itself with its key, checks that the token verifies
 *   with that key and gives the claims back, and that it does not verify
 *   with another key; then applies the edits: a token that differs from the
 *   signed one in any byte must not verify (base64url is decoded strictly,
 *   so even the signature has one spelling only).
 * anything else: the rest is a token from nowhere, verified with a key no
 *   seed was ever signed with. It must never verify.
 *
 * Every refusal is WSR_EAUTH with a sentence and no payload; the time checks
 * of a verified payload answer 0 or WSR_EAUTH with a sentence, for a clock
 * taken from the input. Tokens are verified from exact-size copies.
 */
#include "fuzz.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_int.h"
#include "services/jwt_int.h"

#define MAX_EDITS 8

static const unsigned char key_signing[] = "fuzz: the key the target signs with";
static const unsigned char key_other[] = "fuzz: a key no token is signed with";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_set_alloc_funcs(wsr_malloc, wsr_free);
    return 0;
}

/* Verifies the n bytes at `token` from an exact-size copy. */
static int verify(const char *token, size_t n, const unsigned char *key, size_t keylen,
                  json_t **payload, char *detail, size_t size)
{
    char *copy = malloc(n ? n : 1);
    int rc;

    FUZZ_CHECK(copy != NULL, "out of memory");
    if (n > 0)
        memcpy(copy, token, n);
    detail[0] = '\0';
    rc = wsr__jwt_verify(copy, n, key, keylen, payload, detail, size);
    free(copy);
    return rc;
}

static void check_refused(int rc, const json_t *payload, const char *detail, const char *what)
{
    FUZZ_CHECK(rc == WSR_EAUTH, "%s: verify returned %d (%s)", what, rc,
               rc == 0 ? "it verified" : detail);
    FUZZ_CHECK(payload == NULL, "%s: a refusal with a payload", what);
    FUZZ_CHECK(detail[0] != '\0', "%s: a refusal without a sentence", what);
}

static void check_times(const json_t *payload, int64_t now)
{
    char detail[200] = "";
    int rc = wsr__jwt_check_time(payload, now, detail, sizeof(detail));

    FUZZ_CHECK(rc == 0 || (rc == WSR_EAUTH && detail[0] != '\0'), "check_time returned %d", rc);
    (void)wsr__jwt_time(json_object_get(payload, "exp"));
    (void)wsr__jwt_time(json_object_get(payload, "nbf"));
}

/* The claims the input spells: its JSON object, or {"sub": its text}. */
static json_t *claims_from(const uint8_t *p, size_t n)
{
    wsr__json_error_t e;
    json_t *v = wsr__json_parse(p, n, 64, &e);

    if (json_is_object(v))
        return v;
    json_decref(v);
    v = json_object();
    FUZZ_CHECK(v != NULL, "out of memory");
    /* Not UTF-8: no "sub" at all, an empty object. */
    json_object_set_new(v, "sub", json_stringn((const char *)p, n));
    return v;
}

/* Applies the edits at `ops` (n bytes) to `tok` (*len bytes, room for
 * MAX_EDITS more). */
static void apply_edits(char *tok, size_t *len, const uint8_t *ops, size_t n)
{
    for (size_t i = 0; i + 3 <= n && i / 3 < MAX_EDITS; i += 3) {
        size_t at = *len ? ops[i + 1] % (*len + 1) : 0;

        switch (ops[i] % 4) {
        case 0: /* replace */
            if (at < *len)
                tok[at] = (char)ops[i + 2];
            break;
        case 1: /* insert */
            memmove(tok + at + 1, tok + at, *len - at);
            tok[at] = (char)ops[i + 2];
            (*len)++;
            break;
        case 2: /* delete */
            if (at < *len) {
                memmove(tok + at, tok + at + 1, *len - at - 1);
                (*len)--;
            }
            break;
        default: /* cut that many bytes off the end */
            *len = *len > ops[i + 2] ? *len - ops[i + 2] : 0;
            break;
        }
    }
}

static void mutate_mode(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t clen = nul ? (size_t)(nul - data) : size, tlen, mlen;
    json_t *claims = claims_from(data, clen), *payload = NULL;
    char *token = NULL, *mut, detail[200];
    int64_t now;
    uint64_t unow = 0;
    int rc;

    rc = wsr__jwt_sign(key_signing, sizeof(key_signing) - 1, claims, &token);
    FUZZ_CHECK(rc == 0 && token != NULL, "signing failed: %d", rc);
    tlen = strlen(token);
    rc =
        verify(token, tlen, key_signing, sizeof(key_signing) - 1, &payload, detail, sizeof(detail));
    FUZZ_CHECK(rc == 0, "a token just signed does not verify: %s", detail);
    FUZZ_CHECK(json_equal(payload, claims), "the payload is not the claims signed");
    /* Shifted unsigned: a signed shift into the sign bit is undefined (the
     * first crash this target found was its own). */
    for (size_t i = 0; i < 8 && i < clen; i++)
        unow = unow << 8 | data[i];
    now = (int64_t)unow;
    check_times(payload, now);
    json_decref(payload);
    payload = NULL;
    rc = verify(token, tlen, key_other, sizeof(key_other) - 1, &payload, detail, sizeof(detail));
    check_refused(rc, payload, detail, "another key");

    mut = malloc(tlen + MAX_EDITS + 1);
    FUZZ_CHECK(mut != NULL, "out of memory");
    memcpy(mut, token, tlen);
    mlen = tlen;
    if (nul != NULL)
        apply_edits(mut, &mlen, nul + 1, size - clen - 1);
    if (mlen != tlen || memcmp(mut, token, tlen) != 0) {
        payload = NULL;
        rc = verify(mut, mlen, key_signing, sizeof(key_signing) - 1, &payload, detail,
                    sizeof(detail));
        check_refused(rc, payload, detail, "an edited token");
    }
    free(mut);
    wsr__free(token);
    json_decref(claims);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *payload = NULL;
    char detail[200];
    int rc;

    if (size == 0)
        return 0;
    if (data[0] == 'M') {
        mutate_mode(data + 1, size - 1);
        return 0;
    }
    rc = verify((const char *)data + 1, size - 1, key_other, sizeof(key_other) - 1, &payload,
                detail, sizeof(detail));
    check_refused(rc, payload, detail, "a token from nowhere");
    /* An empty key is a key too (HMAC takes it). */
    rc = verify((const char *)data + 1, size - 1, (const unsigned char *)"", 0, &payload, detail,
                sizeof(detail));
    check_refused(rc, payload, detail, "a token from nowhere, empty key");
    return 0;
}
