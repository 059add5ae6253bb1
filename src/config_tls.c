/* config_tls.c - the TLS parts of the configuration: a listener's `tls`,
 * gateway.certificates (SNI), gateway.tls, and the certificate and CA lists
 * backends use. Only shapes and names are checked here; the files are read
 * (and their errors located) when a generation builds its TLS contexts (tls_context.c). */
#include <mbedtls/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "config_load.h"

static char *resolved(pt__loader_t *L, const char *path, yaml_node_t *n) {
  char *s = NULL, *r = NULL;
  if (pt__get_string(&L->y, path, n, &s) == 0 && s) {
    if (!*s) pt__fail_at(&L->y, n, "%s: empty file name", path);
    else r = pt__file_path(&L->y, s);
  }
  free(s);
  return r;
}

void pt__load_ca_list(pt__loader_t *L, const char *path, yaml_node_t *n, pt_ca_list_t *out) {
  pt__yaml_t *Y = &L->y;
  char ip[PT__KEY_MAX];
  if (n->type == YAML_SCALAR_NODE && !pt__is_null(n)) { /* one file is a list of one */
    yaml_node_t *one = n;
    out->files = calloc(1, sizeof *out->files), out->lines = calloc(1, sizeof(int)), out->cols = calloc(1, sizeof(int));
    if (!out->files || !out->lines || !out->cols) return (void)(Y->oom = 1);
    if ((out->files[0] = resolved(L, path, one))) out->n = 1, out->lines[0] = pt__line(one), out->cols[0] = pt__col(one);
    return;
  }
  if (!pt__want_seq(Y, path, n, "[certs/ca.pem]")) return;
  int len = pt__seq_len(n);
  out->files = calloc((size_t)len + 1, sizeof *out->files);
  out->lines = calloc((size_t)len + 1, sizeof(int));
  out->cols = calloc((size_t)len + 1, sizeof(int));
  if (!out->files || !out->lines || !out->cols) return (void)(Y->oom = 1);
  for (int i = 0; i < len; i++) {
    yaml_node_t *item = pt__seq_item(Y, n, i);
    pt__index_path(ip, path, i);
    if (!(out->files[out->n] = resolved(L, ip, item))) continue;
    out->lines[out->n] = pt__line(item);
    out->cols[out->n++] = pt__col(item);
  }
}

void pt__free_ca_list(pt_ca_list_t *l) {
  for (int i = 0; i < l->n; i++) free(l->files[i]);
  free(l->files);
  free(l->lines);
  free(l->cols);
  *l = (pt_ca_list_t){0};
}

/* {certificate, key[, hostnames]}: `hostnames` only where SNI names are wanted. Without
 * key, the certificate's PEM file holds the key too. */
int pt__load_cert(pt__loader_t *L, const char *path, yaml_node_t *n, int with_hostnames, pt_cert_cfg_t *out) {
  static const char *const keys[] = {"certificate", "key", "hostnames"};
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[3];
  char kp[PT__KEY_MAX], ip[PT__KEY_MAX];
  if (n->type != YAML_MAPPING_NODE) {
    pt__fail_at(Y, n, "%s: expected a mapping, got %s (e.g. {certificate: certs/c.pem, key: certs/c.key})",
                path, pt__kind(n));
    return -1;
  }
  pt__map_keys(Y, path, n, keys, with_hostnames ? 3 : 2, v, NULL);
  out->line = pt__line(n), out->col = pt__col(n);
  if (!v[0]) {
    pt__fail_at(Y, n, "%s: missing required key 'certificate' (a PEM file; with the key too when "
                "'key' is left out)", path);
    return -1;
  }
  pt__key_path(kp, path, "certificate");
  out->certificate = resolved(L, kp, v[0]);
  pt__key_path(kp, path, "key");
  out->key = v[1] ? resolved(L, kp, v[1]) : out->certificate ? strdup(out->certificate) : NULL;
  if (with_hostnames && v[2]) {
    pt__key_path(kp, path, "hostnames");
    if (!pt__want_seq(Y, kp, v[2], "[api.example.com, \"*.example.net\"]")) return -1;
    out->hostnames = calloc((size_t)pt__seq_len(v[2]) + 1, sizeof *out->hostnames);
    if (!out->hostnames) return Y->oom = 1, -1;
    for (int i = 0; i < pt__seq_len(v[2]); i++) {
      pt__index_path(ip, kp, i);
      char *name = NULL;
      if (pt__get_string(Y, ip, pt__seq_item(Y, v[2], i), &name) < 0 || !name) continue;
      for (char *p = name; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
      out->hostnames[out->nhostnames++] = name;
    }
  }
  return out->certificate && out->key ? 0 : -1;
}

void pt__free_cert(pt_cert_cfg_t *c) {
  free(c->certificate);
  free(c->key);
  for (int i = 0; i < c->nhostnames; i++) free(c->hostnames[i]);
  free(c->hostnames);
  *c = (pt_cert_cfg_t){0};
}

/* gateway.listen[i].tls: {certificate, key, clientCertificate, caCertificates} */
pt_listen_tls_t *pt__load_listen_tls(pt__loader_t *L, const char *path, yaml_node_t *n) {
  static const char *const keys[] = {"certificate", "key", "clientCertificate", "caCertificates"};
  static const char *const modes[] = {"none", "optional", "required"};
  enum { CERT, KEY, CLIENT, CAS, NKEYS };
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[NKEYS];
  char kp[PT__KEY_MAX];
  if (!pt__need_map(Y, path, n)) return NULL;
  pt_listen_tls_t *t = calloc(1, sizeof *t);
  if (!t) return Y->oom = 1, NULL;
  t->line = pt__line(n), t->col = pt__col(n);
  pt__map_keys(Y, path, n, keys, NKEYS, v, NULL);
  if (v[KEY] && !v[CERT]) pt__fail_at(Y, n, "%s: a key without a certificate (add certificate)", path);
  t->cert.line = t->line, t->cert.col = t->col;
  pt__key_path(kp, path, "certificate");
  if (v[CERT]) t->cert.certificate = resolved(L, kp, v[CERT]);
  pt__key_path(kp, path, "key");
  if (v[KEY]) t->cert.key = resolved(L, kp, v[KEY]);
  else if (t->cert.certificate) t->cert.key = strdup(t->cert.certificate);
  if (v[CLIENT]) pt__field_enum(Y, path, "clientCertificate", v[CLIENT], "a client certificate mode", modes, 3,
                                &t->client_cert);
  pt__key_path(kp, path, "caCertificates");
  if (v[CAS]) pt__load_ca_list(L, kp, v[CAS], &t->client_cas);
  if (t->client_cert != PT_CLIENT_CERT_NONE && t->client_cas.n == 0)
    pt__fail_at(Y, v[CLIENT], "%s.clientCertificate: %s needs caCertificates (the CAs that sign client "
                "certificates, e.g. caCertificates: [certs/clients-ca.pem])", path, modes[t->client_cert]);
  return t;
}

void pt__free_listen_tls(pt_listen_tls_t *t) {
  if (!t) return;
  pt__free_cert(&t->cert);
  pt__free_ca_list(&t->client_cas);
  free(t);
}

/* gateway.certificates: [{hostnames, certificate, key}] */
void pt__load_certificates(pt__loader_t *L, const char *path, yaml_node_t *n) {
  pt__yaml_t *Y = &L->y;
  pt_config_t *c = L->c;
  char ip[PT__KEY_MAX];
  if (!pt__want_seq(Y, path, n, "[{hostnames: [api.example.com], certificate: certs/api.pem, key: certs/api.key}]"))
    return;
  for (int i = 0; i < pt__seq_len(n); i++) {
    pt_cert_cfg_t *arr = pt__grow(Y, c->certificates, c->ncertificates, sizeof *arr);
    if (!arr) return;
    c->certificates = arr;
    pt__index_path(ip, path, i);
    yaml_node_t *item = pt__seq_item(Y, n, i);
    if (pt__load_cert(L, ip, item, 1, &arr[c->ncertificates]) < 0) {
      pt__free_cert(&arr[c->ncertificates]);
      continue;
    }
    if (arr[c->ncertificates].nhostnames == 0)
      pt__fail_at(Y, item, "%s: no hostnames (the SNI names this certificate serves, e.g. hostnames: "
                  "[api.example.com])", ip);
    c->ncertificates++;
  }
}

static void load_ciphers(pt__loader_t *L, const char *path, yaml_node_t *n) {
  pt__yaml_t *Y = &L->y;
  pt_config_t *c = L->c;
  char ip[PT__KEY_MAX];
  if (!pt__want_seq(Y, path, n, "[TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256]")) return;
  c->tls.line = pt__line(n), c->tls.col = pt__col(n);
  c->tls.ciphers = calloc((size_t)pt__seq_len(n) + 1, sizeof *c->tls.ciphers);
  if (!c->tls.ciphers) return (void)(Y->oom = 1);
  for (int i = 0; i < pt__seq_len(n); i++) {
    yaml_node_t *item = pt__seq_item(Y, n, i);
    char *name = NULL;
    pt__index_path(ip, path, i);
    if (pt__get_string(Y, ip, item, &name) < 0 || !name) continue;
    if (mbedtls_ssl_get_ciphersuite_id(name) == 0) {
      pt__fail_at(Y, item, "%s: unknown cipher suite '%.80s' (use mbedTLS names, e.g. "
                  "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256)", ip, name);
      free(name);
      continue;
    }
    c->tls.ciphers[c->tls.nciphers++] = name;
  }
  if (c->tls.nciphers == 0 && pt__seq_len(n) == 0) pt__fail_at(Y, n, "%s: empty (remove it for the default)", path);
}

/* gateway.tls: {caCertificates, ciphers, sessionTickets} */
void pt__load_gateway_tls(pt__loader_t *L, yaml_node_t *n) {
  static const char *const keys[] = {"caCertificates", "ciphers", "sessionTickets"};
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[3];
  if (!pt__want_map(Y, "gateway.tls", n)) return;
  pt__map_keys(Y, "gateway.tls", n, keys, 3, v, NULL);
  if (v[0]) pt__load_ca_list(L, "gateway.tls.caCertificates", v[0], &L->c->tls.cas);
  if (v[1]) load_ciphers(L, "gateway.tls.ciphers", v[1]);
  pt__field_bool(Y, "gateway.tls", "sessionTickets", v[2], &L->c->tls.session_tickets);
}

void pt__load_certificate_entity(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *v) {
  pt_config_t *c = L->c;
  pt_cert_entity_cfg_t *arr = pt__grow(&L->y, c->cert_entities, c->ncert_entities, sizeof *arr);
  if (!arr) return;
  c->cert_entities = arr;
  pt_cert_entity_cfg_t *e = &arr[c->ncert_entities];
  if (pt__load_cert(L, path, v, 0, &e->cert) < 0 || !(e->id = pt__sdup(&L->y, pt__sval(k)))) {
    pt__free_cert(&e->cert);
    return;
  }
  c->ncert_entities++;
}

void pt__free_tls(pt_config_t *c) {
  for (int i = 0; i < c->ncert_entities; i++) free(c->cert_entities[i].id), pt__free_cert(&c->cert_entities[i].cert);
  free(c->cert_entities);
  for (int i = 0; i < c->nlisten; i++) pt__free_listen_tls(c->listen[i].tls);
  for (int i = 0; i < c->ncertificates; i++) pt__free_cert(&c->certificates[i]);
  free(c->certificates);
  pt__free_ca_list(&c->tls.cas);
  for (int i = 0; i < c->tls.nciphers; i++) free(c->tls.ciphers[i]);
  free(c->tls.ciphers);
}
