/* SPDX-License-Identifier: MIT */
/* TLS for the wss:// listener (see tls.c). */
#ifndef WSR_SRC_TLS_INT_H
#define WSR_SRC_TLS_INT_H

#include "server/loop_int.h"

/* Fills the TLS part of a vhost's creation info from the settings. */
void wsr__tls_vhost_info(struct lws_context_creation_info *info, const wsr__settings_t *s);
/* LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: remembers and hardens
 * the vhost's SSL_CTX. Loop thread (context creation). */
void wsr__tls_on_ssl_ctx(wsr__loop_t *loop, void *ssl_ctx);
/* LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION's answer. */
int wsr__tls_verify_client(int preverify_ok);
/* The verified client certificate's subject (RFC 2253), owned, or NULL. */
char *wsr__tls_peer_subject(struct lws *wsi);
/* Checks at start that the certificate and key load and match. */
int wsr__tls_check_files(const wsr__settings_t *s, wsr_error_t *err);
/* Loop thread: reloads the pair into this loop's SSL_CTX (SIGHUP). */
void wsr__tls_reload(wsr__loop_t *loop);

#endif /* WSR_SRC_TLS_INT_H */
