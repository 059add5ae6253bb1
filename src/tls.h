/* tls.h - TLS (mbedTLS 2.28) over our libuv streams, without blocking a loop.
 *
 * A session never touches a socket: ciphertext read from the stream is fed
 * in (pt_tls_feed), and what mbedTLS wants to send collects in a buffer
 * (pt_tls_wire) that the connection's write queue hands to the stream. So
 * the same code serves downstream (server.c) and upstream (upstream.c)
 * connections, and backpressure works as for plain connections.
 *
 * A context (pt_tls_ctx_t) is one mbedtls_ssl_config with the certificates,
 * keys and CAs it points to. It is built once per generation (tls_context.c),
 * shared read-only by every worker, and reference counted: a connection keeps
 * its context alive after a reload replaced it. */
#ifndef PT_TLS_H
#define PT_TLS_H

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"

typedef struct pt_tls_cert_s {
  mbedtls_x509_crt chain;
  mbedtls_pk_context key;
  char **names; /* SNI names it serves (lowercase; "*.example.com" matches one label) */
  int nnames;
} pt_tls_cert_t;

typedef struct pt_tls_ctx_s {
  atomic_int refs;
  mbedtls_ssl_config conf;
  int *suites;              /* the cipher suites conf points to, or NULL */
  pt_tls_cert_t *certs;     /* server: [0] is the default, the rest are chosen by SNI;
                               client: [0] is the client certificate, if any */
  int ncerts;
  mbedtls_x509_crt cas;     /* server: who signs client certificates; client: whom to trust */
  int check_chain, check_name; /* client: the backend's tls.validateCertificate* */
  char key[40];             /* client: what makes its connections distinct, for pool keys */
  char thumbprint[41];      /* client: of its client certificate, if any */
} pt_tls_ctx_t;

static inline pt_tls_ctx_t *pt_tls_ctx_ref(pt_tls_ctx_t *c) {
  atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}
void pt_tls_ctx_unref(pt_tls_ctx_t *c);

/* What a policy may know of a verified client certificate (.NET's X509Certificate2 names). */
typedef struct pt_tls_peer_s {
  char subject[256], issuer[256];
  char thumbprint[41];          /* SHA-1 of the DER, uppercase hex */
  char serial[80];
  int64_t not_before, not_after; /* unix seconds */
} pt_tls_peer_t;

typedef struct pt_tls_s pt_tls_t;

enum { PT_TLS_AGAIN = 0, PT_TLS_EOF = -1, PT_TLS_FAILED = -2 };

/* A session on ctx (taking a reference). server_name: a client's SNI and the name
 * its certificate is checked against; NULL for server sessions. NULL on ENOMEM. */
pt_tls_t *pt_tls_new(pt_tls_ctx_t *ctx, const char *server_name);
void pt_tls_free(pt_tls_t *t);
/* Ciphertext from the stream. 0, or UV_ENOMEM. */
int pt_tls_feed(pt_tls_t *t, const char *data, size_t len);
/* Advances the handshake: 1 done, 0 wants more input, PT_TLS_FAILED (see pt_tls_error). */
int pt_tls_handshake(pt_tls_t *t);
/* Decrypted bytes (> 0), PT_TLS_AGAIN, PT_TLS_EOF (close_notify) or PT_TLS_FAILED.
 * Runs the handshake first when it is not done. */
int pt_tls_read(pt_tls_t *t, char *out, size_t cap);
/* Encrypts all of `plain` into the wire buffer and empties it, once the handshake
 * is done (before, plain waits). 0, or a negative error. */
int pt_tls_seal(pt_tls_t *t, pt_buf_t *plain);
/* Ciphertext waiting for the stream; the write queue takes it from here. */
pt_buf_t *pt_tls_wire(pt_tls_t *t);
int pt_tls_established(const pt_tls_t *t);
/* Input fed in and not read yet (bytes after a response make a connection unusable). */
int pt_tls_pending(const pt_tls_t *t);
/* Client sessions to resume: a reconnect to the same backend skips the full handshake. */
typedef struct pt_tls_session_s pt_tls_session_t;
/* Keeps t's session in *slot (replacing what was there); nothing on failure. */
void pt_tls_session_save(const pt_tls_t *t, pt_tls_session_t **slot);
/* Offers s (may be NULL) in t's next handshake. */
void pt_tls_session_offer(pt_tls_t *t, const pt_tls_session_t *s);
void pt_tls_session_free(pt_tls_session_t *s);
/* Queues a close_notify alert (once). */
void pt_tls_close_notify(pt_tls_t *t);
/* Why the session failed: for logs and BackendConnectionFailure messages. */
const char *pt_tls_error(const pt_tls_t *t);
/* 1 when the peer presented a certificate that did not verify (a server with
 * clientCertificate: optional refuses those after the handshake). */
int pt_tls_peer_rejected(const pt_tls_t *t);
/* 1 and *out filled when the peer presented a certificate that verified. */
int pt_tls_peer(const pt_tls_t *t, pt_tls_peer_t *out);
/* SHA-1 of the DER, uppercase hex (41 bytes with the NUL), as .NET's Thumbprint. */
void pt_tls_thumbprint(const mbedtls_x509_crt *crt, char *out);
/* The random generator every context uses (one CTR_DRBG per thread). */
int pt_tls_random(void *unused, unsigned char *out, size_t len);

#endif
