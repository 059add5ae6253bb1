/* tls_context.h - a generation's TLS contexts, built from its configuration:
 * one server context per TLS listener (its certificate, the SNI certificates of
 * gateway.certificates, client-certificate checks, ciphers, session tickets),
 * one client context per https backend with settings of its own (CAs,
 * verification, client certificate), and the default client context every
 * other https URL uses (the system CAs plus gateway.tls.caCertificates).
 * Every file is read here, once; a bad one is a located error, and the
 * reload that brought it is refused. */
#ifndef PT_TLS_CONTEXT_H
#define PT_TLS_CONTEXT_H

#include "config.h"
#include "tls.h"

#define PT_SYSTEM_CAS "/etc/ssl/certs/ca-certificates.crt"

typedef struct pt_tls_set_s {
  pt_tls_ctx_t **listeners;  /* parallel to config->listen; NULL for plain listeners */
  pt_tls_ctx_t **backends;   /* parallel to config->backends; NULL: the default client */
  pt_tls_ctx_t *client;      /* the default client context */
  pt_tls_ctx_t **entities;   /* certificates.<id> (authentication-certificate), one row of
                                nbackends + 1 each: [0] default trust, [b + 1] backend b's own */
  int nlisteners, nbackends, nentities;
} pt_tls_set_t;

/* Builds every context of c. NULL with errors in d. */
pt_tls_set_t *pt_tls_set_build(const pt_config_t *c, pt_diag_t *d);
void pt_tls_set_free(pt_tls_set_t *s);
/* The client context for a backend (its index in config->backends, or -1), presenting
 * certificate entity `entity` (its index in config->cert_entities, or -1 for the backend's own). */
pt_tls_ctx_t *pt_tls_set_client(const pt_tls_set_t *s, int backend, int entity);
/* The SHA-1 thumbprint (uppercase hex) of certificate entity `entity`. */
const char *pt_tls_set_thumbprint(const pt_tls_set_t *s, int entity);

#endif
