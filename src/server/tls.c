/* SPDX-License-Identifier: MIT */
/*
 * TLS for the wss:// listener: the vhost's TLS settings (TLS 1.2 at least,
 * forward-secret AEAD ciphers only, ALPN http/1.1, optional or required client
 * certificates), the client-certificate verdict, the verified subject handlers
 * read, and certificate reloads. libwebsockets owns each vhost's SSL_CTX; this
 * file only adjusts it from the loop thread that owns it.
 */
#include "server/tls_int.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

/* Mozilla's "intermediate" list for TLS 1.2: ECDHE and AEAD only. TLS 1.3
 * suites are OpenSSL's defaults, all of them strong. */
static const char tls12_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

void wsr__tls_vhost_info(struct lws_context_creation_info *info, const wsr__settings_t *s)
{
    /* lws 4.1 sets a vhost up for TLS only when this is in the vhost's own
     * options, not just the context's. */
    info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    /* That also makes lws build a client SSL_CTX for the vhost, loaded with
     * every system CA (144 certificates here), which a server never uses and
     * lws 4.1.6 leaks once several contexts exist: skip the CA load. */
    info->options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    info->ssl_cert_filepath = s->tls_cert;
    info->ssl_private_key_filepath = s->tls_key;
    info->ssl_cipher_list = tls12_ciphers;
    info->alpn = "http/1.1";
    /* SSLv3, TLS 1.0 and 1.1 are refused here and again in on_ssl_ctx. */
    info->ssl_options_set = (long)(SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                                   SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (s->tls_client_auth != WSR_TLS_CLIENT_OFF && s->tls_client_ca != NULL) {
        info->ssl_ca_filepath = s->tls_client_ca;
        info->options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
        if (s->tls_client_auth == WSR_TLS_CLIENT_OPTIONAL)
            info->options |= LWS_SERVER_OPTION_PEER_CERT_NOT_REQUIRED;
    }
}

void wsr__tls_on_ssl_ctx(wsr__loop_t *loop, void *ssl_ctx)
{
    SSL_CTX *ctx = ssl_ctx;

    if (loop == NULL || ctx == NULL)
        return;
    /* The wss:// vhost's comes first; the raw TLS vhost's, when there is
     * one, second: a reload must reach both. */
    if (loop->tls_ctx == NULL)
        loop->tls_ctx = ctx;
    else if (ctx != loop->tls_ctx)
        loop->raw_tls_ctx = ctx;
    (void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

int wsr__tls_verify_client(int preverify_ok)
{
    /* lws reads 0 as "accept" whatever OpenSSL found, so an application that
     * does not answer this callback accepts any client certificate. Pass
     * OpenSSL's verdict through instead. */
    return preverify_ok ? 0 : 1;
}

char *wsr__tls_peer_subject(struct lws *wsi)
{
    SSL *ssl = lws_get_ssl(wsi);
    X509 *peer;
    BIO *bio;
    BUF_MEM *mem;
    char *subject = NULL;

    if (ssl == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
        return NULL;
    peer = SSL_get1_peer_certificate(ssl);
    if (peer == NULL)
        return NULL;
    bio = BIO_new(BIO_s_mem());
    if (bio != NULL &&
        X509_NAME_print_ex(bio, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >= 0) {
        BIO_get_mem_ptr(bio, &mem);
        subject = wsr__strndup(mem->data, mem->length);
    }
    BIO_free(bio);
    X509_free(peer);
    return subject;
}

/* Loads the pair into a scratch context to prove it is usable. */
static int check_pair(const char *cert, const char *key, char *why, size_t size)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int ok = ctx != NULL && SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 &&
             SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
             SSL_CTX_check_private_key(ctx) == 1;

    if (!ok)
        ERR_error_string_n(ERR_get_error(), why, size);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return ok ? 0 : WSR_ETLS;
}

int wsr__tls_check_files(const wsr__settings_t *s, wsr_error_t *err)
{
    char why[256] = "";

    if (s->tls_cert == NULL && s->tls_key == NULL)
        return 0;
    if (s->tls_cert == NULL || s->tls_key == NULL)
        return wsr__error_set(err, WSR_EINVAL, "tls_cert and tls_key go together");
    if (check_pair(s->tls_cert, s->tls_key, why, sizeof(why)) != 0)
        return wsr__error_set(err, WSR_ETLS, "certificate %s with key %s cannot be used: %s",
                              s->tls_cert, s->tls_key, why);
    if (s->tls_client_auth != WSR_TLS_CLIENT_OFF && s->tls_client_ca == NULL)
        return wsr__error_set(err, WSR_EINVAL,
                              "tls_client_auth needs tls_client_ca, the CA of the clients");
    return 0;
}

static void reload_ctx(wsr__loop_t *loop, SSL_CTX *ctx);

void wsr__tls_reload(wsr__loop_t *loop)
{
    reload_ctx(loop, loop->tls_ctx);
    reload_ctx(loop, loop->raw_tls_ctx);
}

static void reload_ctx(wsr__loop_t *loop, SSL_CTX *ctx)
{
    const wsr__settings_t *s = &loop->factory->settings;
    X509 *old_cert;
    EVP_PKEY *old_key;
    char why[256] = "";

    if (ctx == NULL)
        return;
    if (check_pair(s->tls_cert, s->tls_key, why, sizeof(why)) != 0) {
        wsr__log(loop->factory, WSR_LOG_ERR,
                 "loop %u: certificate reload refused, keeping the "
                 "old one: %s",
                 loop->index, why);
        return;
    }
    /* The files may change between the check and the load: keep the old
     * pair to put back, so a failure never leaves a mismatched one. */
    old_cert = SSL_CTX_get0_certificate(ctx);
    old_key = SSL_CTX_get0_privatekey(ctx);
    if (old_cert != NULL)
        X509_up_ref(old_cert);
    if (old_key != NULL)
        EVP_PKEY_up_ref(old_key);
    /* Only new handshakes use the new pair: each SSL copies its certificate
     * when it is created, so connections already open are untouched. */
    if (SSL_CTX_use_certificate_chain_file(ctx, s->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, s->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ERR_error_string_n(ERR_get_error(), why, sizeof(why));
        if (old_cert != NULL && old_key != NULL) {
            (void)SSL_CTX_use_certificate(ctx, old_cert);
            (void)SSL_CTX_use_PrivateKey(ctx, old_key);
        }
        wsr__log(loop->factory, WSR_LOG_ERR,
                 "loop %u: certificate reload failed, old pair "
                 "kept: %s",
                 loop->index, why);
    } else {
        wsr__log(loop->factory, WSR_LOG_NOTICE, "loop %u: certificate reloaded from %s",
                 loop->index, s->tls_cert);
    }
    ERR_clear_error();
    X509_free(old_cert);
    EVP_PKEY_free(old_key);
}
