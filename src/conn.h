/* conn.h - internal to server.c (connections) and request.c (requests):
 * the downstream connection and the request it is serving. A connection
 * owns at most one request at a time; pipelined requests wait unparsed. */
#ifndef PT_CONN_H
#define PT_CONN_H

#include <llhttp.h>
#include <uv.h>

#include "deadline.h"
#include "dispatch.h"
#include "http.h"
#include "callout.h"
#include "lbridge.h"
#include "tls.h"
#include "upstream.h"
#include "worker.h"

#define MAX_LEFTOVER (64 * 1024) /* pipelined bytes buffered before we stop reading */
#define LINGER_MS 2000           /* how long a closing connection drains unread input */

enum { BLOCK_UPSTREAM = 1, BLOCK_PIPELINE = 2 };
enum { TIMER_NONE, TIMER_HEADER, TIMER_IDLE, TIMER_SEND, TIMER_LINGER };

typedef struct pt_request_s {
  struct pt_request_s *next_spare; /* in the worker's pool of reusable requests */
  uint64_t id;          /* per worker; logged as "<worker>-<id>" */
  pt_generation_t *gen;
  pt_headers_t headers;
  pt_buf_t url;
  const pt_api_cfg_t *api;
  pt_backend_rt_t *backend; /* the Single backend called, for its circuit breaker */
  pt_exchange_t *x;
  uint64_t body_in, bytes_in, bytes_out;
  uint64_t started; /* uv_hrtime() */
  int64_t start_us;
  double backend_ms;
  int status;
  const char *reason;
  char *detail; /* why the gateway failed the request, for the access log */
  char *policy_reason;  /* LastError.Reason when on-error ran (r->reason points here) */
  char *traces;         /* trace policy records (JSON), for the access log */
  pt_framing_t framing; /* of the response to the client */
  pt_dispatch_t d;      /* route, subscription, backend, upstream head */
  /* with policies */
  pt_policy_run_t *run;
  struct pt_callout_s *callout; /* calls or a pause the policies wait for */
  pt_policy_result_t *pending_forward; /* a forward waiting for the rest of the body */
  pt_policy_flags_t flags;
  pt_buf_t body;        /* the request body, when policies read it */
  pt_buf_t resp_body;   /* the response body, when outbound reads it */
  pt_headers_t resp_headers; /* the backend's head, kept while its body is buffered */
  int resp_status;
  int certificate;      /* authentication-certificate's entity, or -1 */
  unsigned chunked_in : 1, has_body : 1, message_done : 1, response_started : 1,
      response_done : 1, keep_alive : 1, waiting_client : 1, policy : 1, buffer_request : 1,
      buffer_response : 1, replace_body : 1, discard_response : 1, last_forward : 1;
} pt_request_t;

struct pt_conn_s {
  uv_tcp_t tcp;
  pt_deadline_t timer;
  uv_shutdown_t shutdown;
  pt_worker_t *w;
  pt_conn_t *prev, *next;
  llhttp_t parser;
  pt_writeq_t out;
  pt_buf_t leftover;
  pt_request_t *req;
  int reject_status; /* set by a parser callback that refused the request */
  const char *reject_message;
  const char *exec_start; /* the buffer llhttp is parsing, to look one byte back */
  char exec_prev;         /* the last byte of the previous buffer */
  int timer_kind;
  uint64_t idle_ms, header_ms; /* from the generation of the latest request */
  unsigned block;
  unsigned paused : 1, reading : 1, ending : 1, closing : 1, shut : 1, tls_started : 1,
      https : 1; /* over TLS, or an in-process call to an https URL */
  char client_ip[48];
  pt_tls_t *tls;         /* an HTTPS listener's connection */
  pt_tls_peer_t *peer;   /* its verified client certificate, or NULL */
};

/* server.c */
void pt__conn_advance(pt_conn_t *c);     /* finish what can finish, parse what waits */
void pt__conn_close(pt_conn_t *c);       /* at once; memory goes in the close callback */
void pt__conn_timer(pt_conn_t *c, int kind, uint64_t ms);
void pt__conn_update_reading(pt_conn_t *c);


/* request.c */
pt_request_t *pt__request_new(pt_conn_t *c);
void pt__request_free(pt_conn_t *c);     /* logs it, aborts its exchange */
void pt__respond_error(pt_conn_t *c, int status, const char *reason, const char *message);
void pt__request_dispatch(pt_conn_t *c); /* the head is complete */
void pt__request_body(pt_conn_t *c, const char *at, size_t len);
void pt__request_body_done(pt_conn_t *c);


#endif
