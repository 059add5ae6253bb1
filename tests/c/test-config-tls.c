/* test-config-tls.c - unit tests of config_tls.c: the listener forms, gateway.certificates,
 * gateway.tls, backends' tls and certificates.<id>, with their located errors. The files themselves are read
 * by tls_context.c and tested with real certificates in tests/integration/24-*. */
#include <stdio.h>
#include <string.h>

#include "config_check.h"

static void test_forms(void) {
  static const char yaml[] =
      "gateway:\n"
      "  listen:\n"
      "    - \"127.0.0.1:8080\"\n"
      "    - address: \"127.0.0.1:8443\"\n"
      "      tls: {certificate: c.pem, key: c.key, clientCertificate: Optional, caCertificates: [ca.pem]}\n"
      "  certificates:\n"
      "    - {hostnames: [API.example.com, \"*.example.net\"], certificate: /etc/a.pem, key: a.key}\n"
      "  tls: {caCertificates: ca1.pem, ciphers: [TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256], sessionTickets: false}\n"
      "backends:\n"
      "  b:\n"
      "    url: https://h/\n"
      "    tls: {caCertificates: [b.pem], validateCertificateName: false}\n"
      "certificates:\n"
      "  client: {certificate: both.pem}\n";
  pt_diag_t d = {0};
  pt_config_t *c = pt_config_load(write_tmp(yaml, sizeof yaml - 1), &d);
  pt_diag_print(&d, stderr);
  CHECK(c != NULL && d.count == 0);
  if (!c) return;
  CHECK(c->nlisten == 2 && c->listen[0].tls == NULL && c->listen[1].tls != NULL);
  const pt_listen_tls_t *t = c->listen[1].tls;
  if (t) {
    CHECK_STR(c->listen[1].text, "127.0.0.1:8443");
    CHECK(strcmp(t->cert.certificate, "/tmp/c.pem") == 0); /* relative to the config file */
    CHECK(t->client_cert == PT_CLIENT_CERT_OPTIONAL);
    CHECK(t->client_cas.n == 1 && strcmp(t->client_cas.files[0], "/tmp/ca.pem") == 0);
  }
  CHECK(c->ncertificates == 1 && c->certificates[0].nhostnames == 2);
  if (c->ncertificates == 1 && c->certificates[0].nhostnames == 2) {
    CHECK_STR(c->certificates[0].hostnames[0], "api.example.com"); /* SNI names compare lowercase */
    CHECK_STR(c->certificates[0].certificate, "/etc/a.pem");
  }
  CHECK(c->tls.cas.n == 1 && c->tls.nciphers == 1 && c->tls.session_tickets == 0);
  CHECK(c->backends[0].cas.n == 1 && c->backends[0].validate_name == 0 && c->backends[0].validate_chain == 1);
  CHECK(c->ncert_entities == 1);
  if (c->ncert_entities == 1) { /* authentication-certificate's entities; one PEM file may hold both */
    CHECK_STR(c->cert_entities[0].id, "client");
    CHECK_STR(c->cert_entities[0].cert.key, "/tmp/both.pem");
  }
  pt_config_free(c);
  pt_diag_free(&d);
}


static const error_case_t error_cases[] = {
    ERR("gateway:\n  listen:\n    - {tls: {certificate: c.pem, key: c.key}}\n", 3, 7,
        "gateway.listen[0]: missing 'address'"),
    ERR("gateway:\n  listen:\n    - {address: \"127.0.0.1:1\", tls: {key: c.pem}}\n", 3, 37,
        "gateway.listen[0].tls: a key without a certificate"),
    ERR("gateway:\n  listen:\n    - {address: \"127.0.0.1:1\", tls: {}}\n", 3, 37,
        "gateway.listen: 127.0.0.1:1 has tls but no certificate"),
    ERR("gateway:\n  listen:\n    - {address: \"127.0.0.1:1\", tls: {certificate: c, key: k, clientCertificate: required}}\n",
        3, 81, "gateway.listen[0].tls.clientCertificate: required needs caCertificates"),
    ERR("gateway:\n  listen:\n    - {address: \"127.0.0.1:1\", tls: {certificate: c, key: k, clientCertificate: maybe}}\n",
        3, 81, "gateway.listen[0].tls.clientCertificate: 'maybe' is not a client certificate mode"),
    ERR("gateway:\n  listen:\n    - {address: \"127.0.0.1:1\", tls: {certificate: c, key: k, cert: x}}\n", 3, 62,
        "gateway.listen[0].tls.cert: unknown key"),
    ERR("gateway:\n  certificates: [{certificate: a, key: b}]\n", 2, 18, "gateway.certificates[0]: no hostnames"),
    ERR("gateway:\n  certificates: [{hostnames: [a], key: b}]\n", 2, 18,
        "gateway.certificates[0]: missing required key 'certificate'"),
    ERR("gateway:\n  tls: {ciphers: [RC4-MD5-ISH]}\n", 2, 19, "gateway.tls.ciphers[0]: unknown cipher suite 'RC4-MD5-ISH'"),
    ERR("gateway:\n  tls: {caCertificates: [\"\"]}\n", 2, 26, "gateway.tls.caCertificates[0]: empty file name"),
    ERR("backends:\n  b:\n    url: https://h/\n    proxy: {url: \"http://p:3128\"}\n", 4, 5,
        "backends.b: an https backend cannot go through proxy yet"),
    ERR("backends:\n  b:\n    url: https://h/\n    credentials: {certificate: [{key: c}]}\n", 4, 33,
        "backends.b.credentials.certificate[0]: missing required key 'certificate'"),
};

static void test_errors(void) { expect_errors(error_cases, sizeof error_cases / sizeof *error_cases); }

int main(void) {
  test_forms();
  test_errors();
  if (tmp_path[0]) unlink(tmp_path);
  return CHECK_RESULT();
}
