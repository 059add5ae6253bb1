/* tls.c - TLS sessions over buffers (see tls.h). */
#include "tls.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

struct pt_tls_s {
  mbedtls_ssl_context ssl;
  pt_tls_ctx_t *ctx;
  pt_buf_t in;   /* ciphertext fed in, not yet read by mbedTLS (from in_off) */
  size_t in_off;
  pt_buf_t wire; /* ciphertext mbedTLS wrote, for the stream */
  unsigned established : 1, notified : 1;
  char error[200];
};

/* ---- randomness: a CTR_DRBG per thread, so workers never contend ---- */

static _Thread_local struct {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  int seeded;
} rng;

int pt_tls_random(void *unused, unsigned char *out, size_t len) {
  if (!rng.seeded) {
    mbedtls_entropy_init(&rng.entropy);
    mbedtls_ctr_drbg_init(&rng.drbg);
    static const unsigned char who[] = "portico";
    int rc = mbedtls_ctr_drbg_seed(&rng.drbg, mbedtls_entropy_func, &rng.entropy, who, sizeof who - 1);
    if (rc) return rc;
    rng.seeded = 1;
  }
  return mbedtls_ctr_drbg_random(&rng.drbg, out, len);
}

/* ---- the buffers mbedTLS reads from and writes to ---- */

static int bio_send(void *p, const unsigned char *buf, size_t len) {
  pt_tls_t *t = p;
  return pt_buf_append(&t->wire, buf, len) ? MBEDTLS_ERR_SSL_ALLOC_FAILED : (int)len;
}

static int bio_recv(void *p, unsigned char *buf, size_t len) {
  pt_tls_t *t = p;
  size_t avail = t->in.len - t->in_off;
  if (avail == 0) return MBEDTLS_ERR_SSL_WANT_READ;
  size_t n = len < avail ? len : avail;
  memcpy(buf, t->in.base + t->in_off, n);
  t->in_off += n;
  if (t->in_off == t->in.len) t->in.len = t->in_off = 0;
  return (int)n;
}

int pt_tls_feed(pt_tls_t *t, const char *data, size_t len) {
  if (t->in_off) { /* keep what is unread at the front: the buffer stays one record or so */
    memmove(t->in.base, t->in.base + t->in_off, t->in.len - t->in_off);
    t->in.len -= t->in_off;
    t->in_off = 0;
  }
  return pt_buf_append(&t->in, data, len) ? UV_ENOMEM : 0;
}

/* ---- sessions ---- */

pt_tls_t *pt_tls_new(pt_tls_ctx_t *ctx, const char *server_name) {
  pt_tls_t *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  mbedtls_ssl_init(&t->ssl);
  if (mbedtls_ssl_setup(&t->ssl, &ctx->conf) != 0 ||
      (server_name && mbedtls_ssl_set_hostname(&t->ssl, server_name) != 0)) {
    mbedtls_ssl_free(&t->ssl);
    free(t);
    return NULL;
  }
  mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
  t->ctx = pt_tls_ctx_ref(ctx);
  return t;
}

void pt_tls_free(pt_tls_t *t) {
  if (!t) return;
  mbedtls_ssl_free(&t->ssl);
  pt_tls_ctx_unref(t->ctx);
  pt_buf_free(&t->in);
  pt_buf_free(&t->wire);
  free(t);
}

static int failed(pt_tls_t *t, int rc) {
  uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
  if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags && flags != (uint32_t)-1) {
    char info[160];
    mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
    for (char *p = info; *p; p++)
      if (*p == '\n') *p = *(p + 1) ? ';' : '\0';
    snprintf(t->error, sizeof t->error, "certificate verification failed: %s", info);
  } else {
    char why[120];
    mbedtls_strerror(rc, why, sizeof why);
    snprintf(t->error, sizeof t->error, "%s", why);
  }
  return PT_TLS_FAILED;
}

int pt_tls_handshake(pt_tls_t *t) {
  if (t->established) return 1;
  int rc = mbedtls_ssl_handshake(&t->ssl);
  if (rc == 0) return t->established = 1;
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return 0;
  if (rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE) /* mbedTLS closes silently; say why */
    mbedtls_ssl_send_alert_message(&t->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
  return failed(t, rc);
}

int pt_tls_read(pt_tls_t *t, char *out, size_t cap) {
  if (!t->established) {
    int h = pt_tls_handshake(t);
    if (h <= 0) return h;
  }
  int n = mbedtls_ssl_read(&t->ssl, (unsigned char *)out, cap);
  if (n > 0) return n;
  if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) return PT_TLS_AGAIN;
  if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return PT_TLS_EOF;
  return failed(t, n);
}

int pt_tls_seal(pt_tls_t *t, pt_buf_t *plain) {
  if (!t->established) return 0;
  for (size_t off = 0; off < plain->len;) {
    int n = mbedtls_ssl_write(&t->ssl, (const unsigned char *)plain->base + off, plain->len - off);
    if (n < 0) return failed(t, n), UV_EPROTO;
    off += (size_t)n;
  }
  plain->len = 0;
  return 0;
}

pt_buf_t *pt_tls_wire(pt_tls_t *t) { return &t->wire; }
int pt_tls_pending(const pt_tls_t *t) { return t->in.len > t->in_off || mbedtls_ssl_get_bytes_avail(&t->ssl) > 0; }
int pt_tls_established(const pt_tls_t *t) { return t->established; }
const char *pt_tls_error(const pt_tls_t *t) { return t->error[0] ? t->error : "TLS handshake failed"; }

struct pt_tls_session_s {
  mbedtls_ssl_session s;
};

void pt_tls_session_save(const pt_tls_t *t, pt_tls_session_t **slot) {
  pt_tls_session_t *n = calloc(1, sizeof *n);
  if (!n) return;
  mbedtls_ssl_session_init(&n->s);
  if (mbedtls_ssl_get_session(&t->ssl, &n->s) != 0) return pt_tls_session_free(n);
  pt_tls_session_free(*slot);
  *slot = n;
}

void pt_tls_session_offer(pt_tls_t *t, const pt_tls_session_t *s) {
  if (s) mbedtls_ssl_set_session(&t->ssl, &s->s); /* a session it cannot use means a full handshake */
}

void pt_tls_session_free(pt_tls_session_t *s) {
  if (!s) return;
  mbedtls_ssl_session_free(&s->s);
  free(s);
}

void pt_tls_close_notify(pt_tls_t *t) {
  if (!t->established || t->notified) return;
  t->notified = 1;
  mbedtls_ssl_close_notify(&t->ssl);
}

/* ---- the peer's certificate, as .NET shows it ---- */

/* "CN=client, O=Org, C=DE": most specific first, as X509Certificate2.Subject. */
static void dn_text(char *out, size_t size, const mbedtls_x509_name *dn) {
  const mbedtls_x509_name *items[32];
  int n = 0;
  for (; dn && n < 32; dn = dn->next)
    if (dn->oid.p) items[n++] = dn;
  size_t len = 0;
  out[0] = '\0';
  for (int i = n - 1; i >= 0 && len < size; i--) {
    const char *name = NULL;
    if (mbedtls_oid_get_attr_short_name(&items[i]->oid, &name) != 0) name = "OID";
    int w = snprintf(out + len, size - len, "%s%s=%.*s", len ? ", " : "", name, (int)items[i]->val.len,
                     (const char *)items[i]->val.p);
    if (w < 0) break;
    len += (size_t)w;
  }
}

static int64_t unix_time(const mbedtls_x509_time *t) {
  struct tm tm = {.tm_year = t->year - 1900, .tm_mon = t->mon - 1, .tm_mday = t->day,
                  .tm_hour = t->hour, .tm_min = t->min, .tm_sec = t->sec};
  return (int64_t)timegm(&tm);
}

void pt_tls_thumbprint(const mbedtls_x509_crt *crt, char *out) {
  unsigned char sha[20];
  mbedtls_sha1_ret(crt->raw.p, crt->raw.len, sha);
  for (int i = 0; i < 20; i++) snprintf(out + 2 * i, 3, "%02X", sha[i]);
}

int pt_tls_peer_rejected(const pt_tls_t *t) {
  return mbedtls_ssl_get_peer_cert(&t->ssl) && mbedtls_ssl_get_verify_result(&t->ssl) != 0;
}

int pt_tls_peer(const pt_tls_t *t, pt_tls_peer_t *out) {
  const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&t->ssl);
  if (!crt || !t->established || mbedtls_ssl_get_verify_result(&t->ssl) != 0) return 0;
  dn_text(out->subject, sizeof out->subject, &crt->subject);
  dn_text(out->issuer, sizeof out->issuer, &crt->issuer);
  pt_tls_thumbprint(crt, out->thumbprint);
  size_t n = crt->serial.len < 39 ? crt->serial.len : 39;
  for (size_t i = 0; i < n; i++) snprintf(out->serial + 2 * i, 3, "%02X", crt->serial.p[i]);
  if (!n) out->serial[0] = '\0';
  out->not_before = unix_time(&crt->valid_from);
  out->not_after = unix_time(&crt->valid_to);
  return 1;
}
