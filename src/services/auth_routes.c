/* SPDX-License-Identifier: MIT */
/*
 * Authentication as PROTOCOL.md section 6 says: POST /auth/login (a user and
 * a password for a token, which also authenticates the connection),
 * /auth/logout (revokes the login's tokens; for an identity provider's token,
 * only makes this connection anonymous), /auth/refresh (a new token of the
 * same login), /auth/session (a token authenticates the connection), GET
 * /auth/me; a `token` member authenticates one request; and
 * the user table behind them (include/wsrouter/auth.h). Login and logout touch
 * the disk and hash slowly, so they run on worker threads; they reach the
 * connection only through notes to its event loop.
 */
#include "services/auth_int.h"

#include <openssl/crypto.h>
#include <string.h>

#include "core/codec_int.h"
#include "core/strtable_int.h"
#include "services/factory_int.h"
#include "services/password_int.h"
#include "services/throttle_int.h"
#include "core/router_int.h"
#include "services/store_int.h"

#define USER_MAX          64
#define ROLES_MAX         256
#define PASSWORD_MIN      8
#define PASSWORD_MAX      1024
#define REMOVED_HORIZON_S (31 * 24 * 3600) /* longer than any token lives */

/* Tells the connection's transport to use session `s` (one reference,
 * taken), or with `detach`, to drop the connection's session if it is `s`. */
static void attach(wsr_request_t *req, wsr__session_t *s, bool detach)
{
    wsr_factory_t *f = req->factory;

    if (f == NULL || req->conn_id == 0 || f->transport.session == NULL) {
        wsr__session_unref(s);
        return;
    }
    f->transport.session(f->transport.ctx, req->conn_id, s, detach);
}

static json_t *describe(const wsr__session_t *s)
{
    return json_pack("{s:s, s:o, s:I}", "user", wsr__session_user(s), "roles",
                     wsr__session_roles_json(s), "expires_at", (json_int_t)wsr__session_exp(s));
}

static wsr__auth_t *authority(wsr_request_t *req, wsr_response_t *res)
{
    if (req->factory == NULL || req->factory->auth == NULL) {
        (void)wsr_response_error(res, 503, "authentication needs a server with a store");
        return NULL;
    }
    return req->factory->auth;
}

/* Looks up `name`: puts its [roles, hash] row in *row (a new reference), or
 * NULL when there is no such user. Returns 0, WSR_EIO, WSR_ECONNECT or
 * WSR_ENOMEM. */
static int find_user(wsr_store_t *store, const char *name, json_t **row)
{
    return wsr__store_user_find(store, name, row);
}

/*
 * The reply of a login or a refresh: the token (wiped and freed here), when it
 * expires, the user and the roles; session `s` is attached to the connection.
 * The session note goes through the inbox before the reply does, so the
 * connection is authenticated by the time the client reads the token.
 */
static int reply_token(wsr_request_t *req, wsr_response_t *res, const char *name, char *token,
                       wsr__session_t *s)
{
    int rc = wsr_response_set_data_take(res, json_pack("{s:s, s:I, s:s, s:o}", "token", token,
                                                       "expires_at",
                                                       (json_int_t)wsr__session_exp(s), "user",
                                                       name, "roles", wsr__session_roles_json(s)));

    OPENSSL_cleanse(token, strlen(token));
    wsr__free(token);
    attach(req, s, false);
    return rc;
}

/* A login or a failed one, for the operator: the name (made printable) and
 * the address, never the password or the token. */
static void log_login(const wsr_request_t *req, const char *name, const char *addr, bool ok)
{
    char shown[72];

    wsr__copy_printable(shown, sizeof(shown), name);
    if (ok)
        wsr__log(req->factory, WSR_LOG_INFO, "login: %s from %s (conn#%llx)", shown, addr,
                 (unsigned long long)req->conn_id);
    else
        wsr__log(req->factory, WSR_LOG_NOTICE, "failed login: %s from %s (conn#%llx)", shown, addr,
                 (unsigned long long)req->conn_id);
}

/* Logs the connection in as `name` with `password` (both borrowed). */
static int log_in(wsr_request_t *req, wsr_response_t *res, wsr__auth_t *a, const char *name,
                  const char *password)
{
    wsr__throttle_t *t = req->factory->throttle;
    wsr__session_t *s;
    json_t *row;
    char *token, addr[WSR__PEER_MAX];
    unsigned wait;
    int rc, check = 0;

    wsr__peer_address(req->peer, addr, sizeof(addr));
    wait = wsr__throttle_wait_ms(t, name, addr, wsr__mono_ms());
    if (wait > 0) {
        rc = wsr_response_error(res, 429,
                                "too many failed logins for this user or from this address: "
                                "retry in %u ms",
                                wait);
        res->retry_after_ms = wait;
        return rc;
    }
    /* A store that cannot be read is the server's fault, not a wrong
     * password: a 401 would send the user off to retype it. */
    rc = find_user(req->factory->store, name, &row);
    if (rc == 0)
        check = wsr__password_check(password, row ? json_string_value(json_array_get(row, 1))
                                                  : wsr__password_dummy);
    if (rc == WSR_EIO)
        return wsr_response_error(res, 500, "cannot read the users from the store");
    if (rc != 0)
        return rc;
    if (row == NULL || check != 0) {
        uint64_t untracked;

        json_decref(row);
        log_login(req, name, addr, false);
        untracked = wsr__throttle_failed(t, name, addr, wsr__mono_ms());
        if (wsr__strtable_warn(untracked))
            wsr__log(req->factory, WSR_LOG_WARN,
                     "login throttle full: %llu failed logins of names or addresses it had no "
                     "room for share one lockout",
                     (unsigned long long)untracked);
        return wsr_response_error(res, 401, "wrong username or password");
    }
    wsr__throttle_succeeded(t, name);
    rc = wsr__auth_issue(a, name, json_string_value(json_array_get(row, 0)), &token, &s);
    json_decref(row);
    if (rc != 0)
        return rc;
    log_login(req, name, addr, true);
    return reply_token(req, res, name, token, s);
}

/* A login's credential `key`: in data, or else in args (as aiorest-ws's
 * clients send it). */
static const char *credential(wsr_request_t *req, const char *key)
{
    json_t *data = wsr_request_data(req);

    if (json_is_object(data))
        return json_string_value(json_object_get(data, key));
    return json_string_value(wsr_request_arg(req, key));
}

static int on_login(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const char *name = credential(req, "username");
    const char *password = credential(req, "password");
    wsr__auth_t *a = authority(req, res);

    (void)user;
    if (a == NULL)
        return 0;
    if (name == NULL)
        (void)wsr_response_param_error(res, "username",
                                       "is required in data (or args), as a string");
    if (password == NULL)
        (void)wsr_response_param_error(res, "password",
                                       "is required in data (or args), as a string");
    if (name == NULL || password == NULL)
        return 0;
    return log_in(req, res, a, name, password);
}

/* retopy's `authenticate username password`: a login by parameters, which
 * a text line or a RESP command can give (they carry no data). */
static int on_authenticate(wsr_request_t *req, wsr_response_t *res, void *user)
{
    wsr__auth_t *a = authority(req, res);

    (void)user;
    if (a == NULL)
        return 0;
    return log_in(req, res, a, wsr_request_arg_string(req, "username"),
                  wsr_request_arg_string(req, "password"));
}

static int on_logout(wsr_request_t *req, wsr_response_t *res, void *user)
{
    wsr__auth_t *a = authority(req, res);
    int rc;

    (void)user;
    if (a == NULL)
        return 0;
    /* Marked before the revocation is in force: this connection stays open
     * while the store write and the note to its loop are on their way (the
     * loop's check closed it 1008 when it ran in between). */
    wsr__session_mark_logout(req->session);
    /* An identity provider's token is not ours to revoke: it keeps working
     * elsewhere until it expires; only this connection leaves it. */
    rc = wsr__session_external(req->session) ? 0 : wsr__auth_revoke(a, req->session);
    if (rc != 0)
        return rc;
    /* This connection stays open, anonymous; others using the token close. */
    attach(req, wsr__session_ref(req->session), true);
    return wsr_response_set_data_take(res, json_null());
}

static int on_session(wsr_request_t *req, wsr_response_t *res, void *user)
{
    const char *token = json_string_value(json_object_get(wsr_request_data(req), "token"));
    wsr__auth_t *a = authority(req, res);
    wsr__session_t *s = NULL;
    char detail[256];
    int rc;

    (void)user;
    if (a == NULL)
        return 0;
    if (token != NULL) {
        rc = wsr__auth_verify(a, token, strlen(token), &s, detail, sizeof(detail));
        if (rc == WSR_ENOMEM)
            return rc;
        if (rc != 0)
            return wsr_response_error(res, 401, "%s", detail);
    } else if (req->token != NULL && req->session != NULL) {
        /* Verified as the request's token; copied without the twin it may
         * hold (wsr__session_set_twin), so that no chain of them grows. */
        s = wsr__session_dup(req->session);
        if (s == NULL)
            return WSR_ENOMEM;
    } else {
        return wsr_response_param_error(res, "token",
                                        "is required in data (or as the request's token)");
    }
    rc = wsr_response_set_data_take(res, describe(s));
    attach(req, s, false);
    return rc;
}

static int on_refresh(wsr_request_t *req, wsr_response_t *res, void *user)
{
    wsr__auth_t *a = authority(req, res);
    const char *name = wsr__session_user(req->session);
    wsr__session_t *s;
    json_t *row;
    char *token;
    int rc;

    (void)user;
    if (a == NULL)
        return 0;
    if (wsr__session_external(req->session))
        return wsr_response_error(
            res, 403,
            "a token from the identity provider cannot be refreshed here: get "
            "a new one from it and send it to /auth/session");
    /* The roles are read again, so a change made with `wsrouterd user`
     * reaches the next refresh; a user removed meanwhile gets none. */
    rc = find_user(req->factory->store, name, &row);
    if (rc == WSR_EIO)
        return wsr_response_error(res, 500, "cannot read the users from the store");
    if (rc != 0)
        return rc;
    if (row == NULL)
        return wsr_response_error(res, 401, "user %s no longer exists", name);
    rc = wsr__auth_reissue(a, req->session, json_string_value(json_array_get(row, 0)), &token, &s);
    json_decref(row);
    if (rc != 0)
        return rc;
    return reply_token(req, res, name, token, s);
}

static int on_me(wsr_request_t *req, wsr_response_t *res, void *user)
{
    (void)user;
    return wsr_response_set_data_take(res, describe(req->session));
}

static const wsr_route_t auth_routes[] = {
    {.name = "login",
     .methods = WSR_POST,
     .url = "/auth/login",
     .handler = on_login,
     .flags = WSR_ROUTE_BLOCKING | WSR_ROUTE_BARRIER | WSR_ROUTE_LANE,
     .doc = "Log in with data {username, password} (or args, as aiorest-ws sends them): answers "
            "{token, expires_at}; the connection is authenticated too."},
    {.name = "authenticate",
     .methods = WSR_POST,
     .url = "/auth/authenticate",
     .handler = on_authenticate,
     .flags = WSR_ROUTE_BLOCKING | WSR_ROUTE_BARRIER | WSR_ROUTE_LANE,
     .params = WSR_PARAMS(
         {.name = "username", .type = WSR_TYPE_STRING, .required = true, .doc = "the user's name"},
         {.name = "password", .type = WSR_TYPE_STRING, .required = true, .doc = "the password"}),
     .doc = "Log in by parameters (retopy's authenticate username password): answers like "
            "login; the connection is authenticated too."},
    {.name = "logout",
     .methods = WSR_POST,
     .url = "/auth/logout",
     .handler = on_logout,
     .flags = WSR_ROUTE_AUTH | WSR_ROUTE_BLOCKING | WSR_ROUTE_BARRIER,
     .doc = "Revoke the token in use (and the tokens refreshed from its login); the connection "
            "stays open, anonymous."},
    {.name = "refresh",
     .methods = WSR_POST,
     .url = "/auth/refresh",
     .handler = on_refresh,
     .flags = WSR_ROUTE_AUTH | WSR_ROUTE_BLOCKING | WSR_ROUTE_BARRIER,
     .doc = "Answer a new token of the same login {token, expires_at, user, roles}, with a new "
            "expiry; the connection goes on with it. Not for identity-provider tokens."},
    {.name = "session",
     .methods = WSR_POST,
     .url = "/auth/session",
     .handler = on_session,
     .flags = WSR_ROUTE_BARRIER,
     .doc = "Authenticate the connection with data {token}."},
    {.name = "me",
     .methods = WSR_GET,
     .url = "/auth/me",
     .handler = on_me,
     .flags = WSR_ROUTE_AUTH,
     .doc = "Answer who the request is authenticated as: {user, roles, expires_at}."},
    WSR_ROUTES_END,
};

int wsr__auth_routes_add(wsr_router_t *router, wsr_error_t *err)
{
    return wsr_router_add(router, auth_routes, NULL, err);
}

/* ---- users (include/wsrouter/auth.h) ---- */

static bool valid_word(const char *s, size_t max, bool allow_empty)
{
    size_t n = strlen(s);

    /* UTF-8 only: a name in another encoding could never log in (JSON is
     * UTF-8) and made wsr_user_list fail for every user. */
    if ((n == 0 && !allow_empty) || n > max || !wsr__utf8_valid((const unsigned char *)s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == ',' || (unsigned char)s[i] == 0x7f)
            return false;
    return true;
}

static bool valid_roles(const char *roles)
{
    char one[ROLES_MAX + 1];
    const char *p = roles;

    if (strlen(roles) > ROLES_MAX)
        return false;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");

        memcpy(one, p, n);
        one[n] = '\0';
        if (!valid_word(one, USER_MAX, false))
            return false;
        p += n + (p[n] == ',');
    }
    return true;
}

int wsr_user_add(wsr_store_t *store, const char *name, const char *roles, const char *password)
{
    char *hash;
    int64_t now = wsr__epoch_s();
    int rc;

    if (!valid_word(name, USER_MAX, false) || !valid_roles(roles ? roles : "") ||
        strlen(password) < PASSWORD_MIN || strlen(password) > PASSWORD_MAX)
        return WSR_EINVAL;
    rc = wsr__password_hash(password, WSR__PASSWORD_ITERATIONS, &hash);
    if (rc != 0)
        return rc;
    rc = wsr__store_user_insert(store, name, roles ? roles : "", hash, now);
    wsr__free(hash);
    return rc;
}

int wsr_user_remove(wsr_store_t *store, const char *name)
{
    char marker[USER_MAX + 8];
    int64_t now_ms = wsr__wall_ms();
    int rc = wsr__store_user_delete(store, name);

    if (rc != 0)
        return rc;
    /* Every token issued to them until now stops working (auth.c), to the
     * millisecond: one issued after, to a user of the same name added
     * again, works. */
    snprintf(marker, sizeof(marker), "user:%s", name);
    return wsr__store_revoke(store, marker, now_ms / 1000 + REMOVED_HORIZON_S, now_ms);
}

int wsr_user_list(wsr_store_t *store, json_t **out)
{
    json_t *rows, *list;
    size_t i;
    int rc = wsr__store_user_list(store, &rows);

    *out = NULL;
    if (rc != 0)
        return rc;
    list = json_array();
    rc = list ? 0 : WSR_ENOMEM;
    for (i = 0; rc == 0 && i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        wsr__session_t *s = wsr__session_new(json_string_value(json_array_get(row, 0)),
                                             json_string_value(json_array_get(row, 1)), NULL, 0);
        json_t *one = s ? json_pack("{s:O, s:o, s:O}", "name", json_array_get(row, 0), "roles",
                                    wsr__session_roles_json(s), "created", json_array_get(row, 2))
                        : NULL;

        wsr__session_unref(s);
        /* All the users or none: a user skipped when memory ran out made a
         * shorter list that looked complete. */
        if (one == NULL || json_array_append_new(list, one) != 0)
            rc = WSR_ENOMEM;
    }
    json_decref(rows);
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}
