/* tls_context.c - building a generation's TLS contexts (see tls_context.h). */
#include "tls_context.h"

#include <mbedtls/error.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl_ticket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

/* Modern defaults: forward secrecy and AEAD only, as Mozilla's "intermediate" TLS 1.2 list. */
static const char *const default_suites[] = {
    "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",       "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
    "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",       "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
    "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256", "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
};
static const mbedtls_ecp_group_id curves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                              MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};
static const int sig_hashes[] = {MBEDTLS_MD_SHA256, MBEDTLS_MD_SHA384, MBEDTLS_MD_SHA512, MBEDTLS_MD_NONE};
static const char *alpn[] = {"http/1.1", NULL};

/* One ticket key for the whole process: a reload does not invalidate the tickets clients hold. */
static mbedtls_ssl_ticket_context tickets;
static int tickets_ok;
static uv_once_t tickets_once = UV_ONCE_INIT;

static void tickets_init(void) {
  mbedtls_ssl_ticket_init(&tickets);
  tickets_ok = mbedtls_ssl_ticket_setup(&tickets, pt_tls_random, NULL, MBEDTLS_CIPHER_AES_256_GCM, 86400) == 0;
}

/* ---- contexts ---- */

static pt_tls_ctx_t *ctx_new(int endpoint) {
  pt_tls_ctx_t *x = calloc(1, sizeof *x);
  if (!x) return NULL;
  atomic_init(&x->refs, 1);
  mbedtls_ssl_config_init(&x->conf);
  mbedtls_x509_crt_init(&x->cas);
  if (mbedtls_ssl_config_defaults(&x->conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) {
    pt_tls_ctx_unref(x);
    return NULL;
  }
  mbedtls_ssl_conf_rng(&x->conf, pt_tls_random, NULL);
  mbedtls_ssl_conf_min_version(&x->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_curves(&x->conf, curves);
  mbedtls_ssl_conf_sig_hashes(&x->conf, sig_hashes);
  mbedtls_ssl_conf_alpn_protocols(&x->conf, alpn);
  return x;
}

static void cert_free(pt_tls_cert_t *c) {
  mbedtls_x509_crt_free(&c->chain);
  mbedtls_pk_free(&c->key);
  for (int i = 0; i < c->nnames; i++) free(c->names[i]);
  free(c->names);
}

void pt_tls_ctx_unref(pt_tls_ctx_t *x) {
  if (!x || atomic_fetch_sub_explicit(&x->refs, 1, memory_order_acq_rel) != 1) return;
  mbedtls_ssl_config_free(&x->conf);
  mbedtls_x509_crt_free(&x->cas);
  for (int i = 0; i < x->ncerts; i++) cert_free(&x->certs[i]);
  free(x->certs);
  free(x->suites);
  free(x);
}

/* ---- files ---- */

static void load_error(pt_diag_t *d, const char *cfg_file, int line, int col, const char *what, const char *path,
                       int rc) {
  char why[120];
  if (access(path, R_OK) != 0) snprintf(why, sizeof why, "cannot read the file");
  else mbedtls_strerror(rc, why, sizeof why);
  pt_diag_error(d, cfg_file, line, col, "%s %s: %s (expected PEM)", what, path, why);
}

/* An EC key computes its comb table on first use and keeps it: sign once now,
 * while one thread has it, so that workers only ever read the table. */
static void warm_up(mbedtls_pk_context *key) {
  if (!mbedtls_pk_can_do(key, MBEDTLS_PK_ECDSA)) return;
  unsigned char hash[32] = {0}, sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t len;
  mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, &len, pt_tls_random, NULL);
}

static int load_cert(pt_tls_cert_t *out, const pt_cert_cfg_t *cfg, const char *file, pt_diag_t *d) {
  mbedtls_x509_crt_init(&out->chain);
  mbedtls_pk_init(&out->key);
  int rc = mbedtls_x509_crt_parse_file(&out->chain, cfg->certificate);
  if (rc) return load_error(d, file, cfg->line, cfg->col, "certificate", cfg->certificate, rc), -1;
  if ((rc = mbedtls_pk_parse_keyfile(&out->key, cfg->key, NULL)))
    return load_error(d, file, cfg->line, cfg->col, "key", cfg->key, rc), -1;
  if (mbedtls_pk_check_pair(&out->chain.pk, &out->key)) {
    pt_diag_error(d, file, cfg->line, cfg->col, "key %s does not belong to certificate %s (use the key the "
                  "certificate was issued for)", cfg->key, cfg->certificate);
    return -1;
  }
  warm_up(&out->key);
  if (cfg->nhostnames && !(out->names = calloc((size_t)cfg->nhostnames, sizeof *out->names))) return -1;
  for (int i = 0; i < cfg->nhostnames; i++)
    if ((out->names[out->nnames] = strdup(cfg->hostnames[i]))) out->nnames++;
  return 0;
}

static int load_cas(mbedtls_x509_crt *chain, const pt_ca_list_t *l, const char *file, pt_diag_t *d) {
  int errors = 0;
  for (int i = 0; i < l->n; i++) {
    int rc = mbedtls_x509_crt_parse_file(chain, l->files[i]);
    if (rc) load_error(d, file, l->lines[i], l->cols[i], "CA certificates", l->files[i], rc), errors++;
  }
  return errors ? -1 : 0;
}

static int set_suites(pt_tls_ctx_t *x, const pt_config_t *c) {
  int n = c->tls.nciphers ? c->tls.nciphers : (int)(sizeof default_suites / sizeof *default_suites);
  if (!(x->suites = calloc((size_t)n + 1, sizeof *x->suites))) return -1;
  for (int i = 0; i < n; i++) /* names were checked by the config loader */
    x->suites[i] = mbedtls_ssl_get_ciphersuite_id(c->tls.nciphers ? c->tls.ciphers[i] : default_suites[i]);
  mbedtls_ssl_conf_ciphersuites(&x->conf, x->suites);
  return 0;
}

/* ---- server side ---- */

static int name_matches(const char *pattern, const unsigned char *name, size_t len) {
  size_t pl = strlen(pattern);
  if (pl == len && strncasecmp(pattern, (const char *)name, len) == 0) return 1;
  if (pl < 3 || pattern[0] != '*' || pattern[1] != '.') return 0;
  const unsigned char *dot = memchr(name, '.', len); /* "*.x.com" covers exactly one label */
  size_t rest = dot ? len - (size_t)(dot - name) : 0;
  return dot && dot > name && rest == pl - 1 && strncasecmp(pattern + 1, (const char *)dot, rest) == 0;
}

/* SNI: exact names first, then wildcards; an unknown name keeps the default certificate. */
static int on_sni(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len) {
  pt_tls_ctx_t *x = p;
  for (int wild = 0; wild < 2; wild++)
    for (int i = 0; i < x->ncerts; i++)
      for (int k = 0; k < x->certs[i].nnames; k++)
        if ((x->certs[i].names[k][0] == '*') == wild && name_matches(x->certs[i].names[k], name, len))
          return mbedtls_ssl_set_hs_own_cert(ssl, &x->certs[i].chain, &x->certs[i].key);
  return 0;
}

static pt_tls_ctx_t *server_ctx(const pt_config_t *c, const pt_listen_t *l, pt_diag_t *d) {
  const pt_listen_tls_t *t = l->tls;
  pt_tls_ctx_t *x = ctx_new(MBEDTLS_SSL_IS_SERVER);
  int own = t->cert.certificate != NULL, n = own + c->ncertificates;
  if (!x || !(x->certs = calloc((size_t)n, sizeof *x->certs)) || set_suites(x, c) < 0) goto fail;
  for (int i = 0; i < n; i++, x->ncerts++)
    if (load_cert(&x->certs[i], own && i == 0 ? &t->cert : &c->certificates[i - own], c->file, d) < 0) {
      x->ncerts++; /* freed with the others */
      goto fail;
    }
  mbedtls_ssl_conf_own_cert(&x->conf, &x->certs[0].chain, &x->certs[0].key);
  if (c->ncertificates) mbedtls_ssl_conf_sni(&x->conf, on_sni, x);
  if (t->client_cert != PT_CLIENT_CERT_NONE) {
    if (load_cas(&x->cas, &t->client_cas, c->file, d) < 0) goto fail;
    mbedtls_ssl_conf_ca_chain(&x->conf, &x->cas, NULL);
  }
  /* optional: the handshake goes on without a certificate; a bad one is refused after it (server.c) */
  mbedtls_ssl_conf_authmode(&x->conf, t->client_cert == PT_CLIENT_CERT_REQUIRED ? MBEDTLS_SSL_VERIFY_REQUIRED
                                      : t->client_cert == PT_CLIENT_CERT_OPTIONAL ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                                                                  : MBEDTLS_SSL_VERIFY_NONE);
  uv_once(&tickets_once, tickets_init);
  if (c->tls.session_tickets && tickets_ok)
    mbedtls_ssl_conf_session_tickets_cb(&x->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse, &tickets);
  return x;
fail:
  pt_tls_ctx_unref(x);
  return NULL;
}

/* ---- client side ---- */

/* Applies tls.validateCertificateChain / validateCertificateName to what mbedTLS found. */
static int on_verify(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  const pt_tls_ctx_t *x = p;
  if (!x->check_name) *flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
  if (!x->check_chain) *flags &= (uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
  return 0;
}

/* Pool keys: connections of two contexts are interchangeable only when trust, checks and
 * client certificate are the same; a digest of all three says so. */
static void client_key(pt_tls_ctx_t *x, const mbedtls_x509_crt *trust) {
  mbedtls_sha256_context h;
  unsigned char sum[32];
  unsigned char checks[2] = {(unsigned char)x->check_chain, (unsigned char)x->check_name};
  mbedtls_sha256_init(&h);
  mbedtls_sha256_starts_ret(&h, 0);
  mbedtls_sha256_update_ret(&h, checks, 2);
  for (const mbedtls_x509_crt *c = trust; c && c->raw.len; c = c->next) mbedtls_sha256_update_ret(&h, c->raw.p, c->raw.len);
  for (const mbedtls_x509_crt *c = x->ncerts ? &x->certs[0].chain : NULL; c && c->raw.len; c = c->next) {
    mbedtls_sha256_update_ret(&h, (const unsigned char *)"cert", 4);
    mbedtls_sha256_update_ret(&h, c->raw.p, c->raw.len);
  }
  mbedtls_sha256_finish_ret(&h, sum);
  mbedtls_sha256_free(&h);
  for (int i = 0; i < 12; i++) snprintf(x->key + 2 * i, 3, "%02x", sum[i]);
  if (x->ncerts) pt_tls_thumbprint(&x->certs[0].chain, x->thumbprint);
}

/* The system store, read once per process and shared read-only by every context that
 * trusts nothing more: a reload does not parse (and keep) ~150 certificates again.
 * Missing (no ca-certificates package): only the configured CAs are trusted. */
static mbedtls_x509_crt system_cas;
static uv_once_t system_once = UV_ONCE_INIT;

static void system_init(void) {
  mbedtls_x509_crt_init(&system_cas);
  if (access(PT_SYSTEM_CAS, R_OK) == 0) mbedtls_x509_crt_parse_file(&system_cas, PT_SYSTEM_CAS);
}

/* The system store, then extra CA files, in a chain of the context's own. */
static int load_trust(mbedtls_x509_crt *chain, const pt_ca_list_t *a, const pt_ca_list_t *b, const char *file,
                      pt_diag_t *d) {
  for (const mbedtls_x509_crt *c = &system_cas; c && c->raw.len; c = c->next)
    if (mbedtls_x509_crt_parse_der(chain, c->raw.p, c->raw.len) < 0) return -1;
  return load_cas(chain, a, file, d) < 0 || (b && load_cas(chain, b, file, d) < 0) ? -1 : 0;
}

/* b: the backend whose tls settings apply (NULL: the defaults); cert: the client
 * certificate (NULL: the backend's first credentials.certificate, if any). */
static pt_tls_ctx_t *client_ctx(const pt_config_t *c, const pt_backend_cfg_t *b, const pt_cert_cfg_t *cert,
                                pt_diag_t *d) {
  pt_tls_ctx_t *x = ctx_new(MBEDTLS_SSL_IS_CLIENT);
  if (!x) return NULL;
  x->check_chain = b ? b->validate_chain : 1;
  x->check_name = b ? b->validate_name : 1;
  uv_once(&system_once, system_init);
  int shared = c->tls.cas.n == 0 && !(b && b->cas.n);
  const mbedtls_x509_crt *trust = shared ? &system_cas : &x->cas;
  if (!shared && load_trust(&x->cas, &c->tls.cas, b ? &b->cas : NULL, c->file, d) < 0) goto fail;
  if (!cert && b && b->ncertificates) cert = &b->certificates[0]; /* APIM presents one: the first */
  if (cert) {
    if (!(x->certs = calloc(1, sizeof *x->certs))) goto fail;
    x->ncerts = 1;
    if (load_cert(&x->certs[0], cert, c->file, d) < 0) goto fail;
    mbedtls_ssl_conf_own_cert(&x->conf, &x->certs[0].chain, &x->certs[0].key);
  }
  mbedtls_ssl_conf_ca_chain(&x->conf, (mbedtls_x509_crt *)trust, NULL);
  mbedtls_ssl_conf_authmode(&x->conf, x->check_chain || x->check_name ? MBEDTLS_SSL_VERIFY_REQUIRED
                                                                       : MBEDTLS_SSL_VERIFY_NONE);
  mbedtls_ssl_conf_verify(&x->conf, on_verify, x);
  client_key(x, trust);
  return x;
fail:
  pt_tls_ctx_unref(x);
  return NULL;
}

static int own_settings(const pt_backend_cfg_t *b) {
  return b->cas.n || b->ncertificates || !b->validate_chain || !b->validate_name;
}

/* ---- the set ---- */

/* authentication-certificate: per certificate entity, a context with the default trust,
 * and one per backend that has tls settings of its own (they still apply). */
static int build_entities(pt_tls_set_t *s, const pt_config_t *c, pt_diag_t *d) {
  int row = c->nbackends + 1;
  s->nentities = c->ncert_entities;
  if (!(s->entities = calloc((size_t)(s->nentities * row) + 1, sizeof *s->entities))) return -1;
  for (int e = 0; e < c->ncert_entities; e++) {
    const pt_cert_cfg_t *cert = &c->cert_entities[e].cert;
    if (!(s->entities[e * row] = client_ctx(c, NULL, cert, d))) return -1;
    for (int b = 0; b < c->nbackends; b++)
      if (s->backends[b] && !(s->entities[e * row + b + 1] = client_ctx(c, &c->backends[b], cert, d))) return -1;
  }
  return 0;
}

pt_tls_set_t *pt_tls_set_build(const pt_config_t *c, pt_diag_t *d) {
  pt_tls_set_t *s = calloc(1, sizeof *s);
  int errors = d->errors;
  if (!s) return NULL;
  s->listeners = calloc((size_t)c->nlisten + 1, sizeof *s->listeners);
  s->backends = calloc((size_t)c->nbackends + 1, sizeof *s->backends);
  s->nlisteners = c->nlisten, s->nbackends = c->nbackends;
  if (!s->listeners || !s->backends || !(s->client = client_ctx(c, NULL, NULL, d))) goto fail;
  for (int i = 0; i < c->nlisten; i++)
    if (c->listen[i].tls && !(s->listeners[i] = server_ctx(c, &c->listen[i], d))) goto fail;
  for (int i = 0; i < c->nbackends; i++)
    if (!c->backends[i].pool && own_settings(&c->backends[i]) &&
        !(s->backends[i] = client_ctx(c, &c->backends[i], NULL, d)))
      goto fail;
  if (build_entities(s, c, d) < 0) goto fail;
  return s;
fail:
  if (d->errors == errors) pt_diag_error_text(d, "TLS: out of memory");
  pt_tls_set_free(s);
  return NULL;
}

void pt_tls_set_free(pt_tls_set_t *s) {
  if (!s) return;
  for (int i = 0; s->listeners && i < s->nlisteners; i++) pt_tls_ctx_unref(s->listeners[i]);
  for (int i = 0; s->backends && i < s->nbackends; i++) pt_tls_ctx_unref(s->backends[i]);
  for (int i = 0; s->entities && i < s->nentities * (s->nbackends + 1); i++) pt_tls_ctx_unref(s->entities[i]);
  free(s->entities);
  pt_tls_ctx_unref(s->client);
  free(s->listeners);
  free(s->backends);
  free(s);
}

pt_tls_ctx_t *pt_tls_set_client(const pt_tls_set_t *s, int backend, int entity) {
  int own = backend >= 0 && backend < s->nbackends && s->backends[backend];
  if (entity >= 0 && entity < s->nentities) return s->entities[entity * (s->nbackends + 1) + (own ? backend + 1 : 0)];
  return own ? s->backends[backend] : s->client;
}

const char *pt_tls_set_thumbprint(const pt_tls_set_t *s, int entity) {
  return entity >= 0 && entity < s->nentities ? s->entities[entity * (s->nbackends + 1)]->thumbprint : NULL;
}
