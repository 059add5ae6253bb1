/* upstream.h - one exchange with a backend: takes a pooled connection (or
 * resolves and connects), writes the request head and body, parses the
 * response with llhttp, and hands head and body to its owner through a
 * handler. Owns the upstream connection while the exchange lasts; returns
 * it to the pool only after a clean, complete, keep-alive response.
 *
 * Failure reasons are constant strings compared by pointer; they are APIM's
 * LastError.Reason values. */
#ifndef PT_UPSTREAM_H
#define PT_UPSTREAM_H

#include <stdint.h>

#include "http.h"
#include "url.h"

extern const char pt_reason_connection_failure[]; /* "BackendConnectionFailure" */
extern const char pt_reason_timeout[];            /* "Timeout" */
extern const char pt_reason_invalid_response[];   /* "BackendResponseInvalid" */

struct pt_worker_s;
typedef struct pt_exchange_s pt_exchange_t;

typedef struct pt_exchange_handler_s {
  /* The final response head (1xx interim heads are swallowed). */
  void (*on_head)(pt_exchange_t *x, int status, const pt_headers_t *h, pt_framing_t framing);
  void (*on_body)(pt_exchange_t *x, const char *at, size_t len);
  /* The response is complete. The exchange is freed when this returns. */
  void (*on_end)(pt_exchange_t *x);
  /* The exchange failed (before or after on_head). `detail` names the backend
   * and the cause: for operators (logs), not for clients. Freed when this returns. */
  void (*on_error)(pt_exchange_t *x, int status, const char *reason, const char *detail);
  /* A batch of on_head/on_body calls ended: a good moment to flush downstream. */
  void (*on_flush)(pt_exchange_t *x);
  /* The request write queue drained: the owner may send more body. */
  void (*on_writable)(pt_exchange_t *x);
} pt_exchange_handler_t;

/* The strings must outlive the exchange (they live in the pinned generation). */
typedef struct pt_exchange_params_s {
  const pt_url_t *origin;
  const char *origin_key;  /* pool key */
  pt_buf_t *head;          /* the request head; moved into the exchange */
  int has_body;            /* a retry never replays a body */
  int head_request;        /* the response to HEAD has no body */
  int idempotent;
  int in_process;          /* the origin is this gateway: no network, a socketpair to our own server */
  struct pt_tls_ctx_s *tls; /* https: the client context (NULL: plain); SNI and name check use the origin's host */
  uint64_t connect_timeout_ms, response_timeout_ms;
} pt_exchange_params_t;

/* Starts an exchange and stores it in *slot before anything else happens:
 * on_error may fire during this call (say, an unresolvable host), and the
 * owner's handler then clears *slot. The head is sent on the next
 * pt_exchange_flush or when the connection is ready. Returns 0 or UV_ENOMEM
 * (then no callback fires and *slot is untouched). */
int pt_exchange_start(struct pt_worker_s *w, const pt_exchange_params_t *p,
                      const pt_exchange_handler_t *h, void *data, pt_exchange_t **slot);
void *pt_exchange_data(const pt_exchange_t *x);
/* Queues request body bytes (already framed by the caller). */
int pt_exchange_write(pt_exchange_t *x, const void *data, size_t len);
/* The caller has queued the whole request body. */
void pt_exchange_end_body(pt_exchange_t *x);
int pt_exchange_flush(pt_exchange_t *x);
/* True while more body should wait for on_writable. */
int pt_exchange_full(const pt_exchange_t *x);
/* Stop / restart reading the response (downstream backpressure). */
void pt_exchange_pause(pt_exchange_t *x);
void pt_exchange_resume(pt_exchange_t *x);
/* Milliseconds from start to the response head, or -1. */
double pt_exchange_backend_ms(const pt_exchange_t *x);
/* The owner gives up: the connection is discarded, no callback follows. */
void pt_exchange_abort(pt_exchange_t *x);

#endif
