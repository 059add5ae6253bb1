/* worker.h - one thread: one uv loop, its own SO_REUSEPORT listeners, its
 * own upstream pools, DNS cache and access-log buffer. Nothing in a worker is
 * shared with another worker except the reference-counted generation. */
#ifndef PT_WORKER_H
#define PT_WORKER_H

#include <stdint.h>
#include <uv.h>

#include "accesslog.h"
#include "dns.h"
#include "pool.h"
#include "registry.h"

struct pt_gateway_s;
typedef struct pt_conn_s pt_conn_t;

typedef struct pt_listener_s {
  uv_tcp_t tcp; /* first: the handle is the listener */
  struct sockaddr_storage addr;
  struct pt_listener_s *next;
} pt_listener_t;

typedef struct pt_worker_s {
  uv_loop_t loop;
  uv_thread_t thread;
  int index;
  struct pt_gateway_s *gw;
  uv_async_t wakeup;      /* the gateway asks for drain or stop */
  uv_timer_t drain_timer; /* bounds a graceful drain */
  pt_listener_t *listeners;
  _Atomic int stop;       /* the wakeup means: drain and stop (else: a reload happened) */
  int draining;
  int done;               /* drained: the worker's own handles are closing */
  pt_conn_t *conns;       /* every open downstream connection */
  struct pt_request_s *spare_requests; /* reusable (request.c) */
  int nspare;
  uint64_t requests;      /* served, also the request id counter */
  _Atomic uint64_t generation; /* of the latest request started here (for /status) */
  pt_pool_t pool;
  pt_dns_t dns;
  pt_accesslog_t log;
  struct {                /* TLS listeners, for /status and the error log */
    _Atomic uint64_t handshakes, failures, plain_http;
    uint64_t logged_at, unlogged; /* failures are logged at most once a second */
  } tls;
  char readbuf[64 * 1024]; /* every read lands here and is consumed at once */
  char plainbuf[16 * 1024]; /* decrypted TLS records land here and are consumed at once */
} pt_worker_t;

int pt_worker_start(pt_worker_t *w, struct pt_gateway_s *gw, int index, int log_fd);
/* Thread-safe: stop accepting, let in-flight requests finish, then exit the thread. */
void pt_worker_drain(pt_worker_t *w);
void pt_worker_join(pt_worker_t *w);
/* Thread-safe: a new generation was published (listeners and pool limits follow it). */
void pt_worker_reloaded(pt_worker_t *w);

/* A bound SO_REUSEPORT socket for a listener (an fd), or a negative error. */
int pt__listen_socket(const struct sockaddr_storage *a);
/* libuv alloc callback handing out the worker's shared read buffer. */
void pt__worker_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
/* The generation new requests use; the caller owns one reference. */
pt_generation_t *pt__gateway_current(struct pt_gateway_s *gw);
/* Frees the worker's pool of reusable requests (request.c). */
void pt__request_pool_free(pt_worker_t *w);
/* Called by server.c when a connection closes, to finish a drain. */
void pt__worker_maybe_done(pt_worker_t *w);

#endif
