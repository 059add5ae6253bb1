/* pool.h - keep-alive upstream connections of one worker, keyed by origin
 * (scheme, host, port, and for https a digest of trust, checks and client
 * certificate: see tls_context.c). Idle
 * connections are reused most-recent first, closed after the idle timeout,
 * when the backend closes them, or when an origin has too many idle. */
#ifndef PT_POOL_H
#define PT_POOL_H

#include <stdint.h>
#include <uv.h>

#include "deadline.h"
#include "tls.h"
#include "writeq.h"

#include <llhttp.h>

typedef struct pt_pool_origin_s pt_pool_origin_t;
struct pt_exchange_s;

/* One upstream TCP connection. Owned by the pool while idle, by an exchange while busy. */
typedef struct pt_upconn_s {
  uv_tcp_t tcp;
  uv_connect_t connect;
  pt_deadline_t timer;
  llhttp_t parser;
  pt_writeq_t out;
  pt_pool_origin_t *origin;
  struct pt_upconn_s *prev, *next; /* idle list of the origin */
  struct pt_exchange_s *exchange;  /* NULL while idle */
  unsigned requests;               /* requests this connection has carried */
  int closing;
  int reading;
  struct pt_pool_s *pool;
  pt_tls_t *tls;                   /* https: the session (its context is part of the pool key) */
} pt_upconn_t;

typedef struct pt_pool_s {
  uv_loop_t *loop;
  pt_pool_origin_t *origins;
  int norigins;
  uint32_t max_idle;
  uint64_t idle_timeout_ms;
  uint32_t max_requests;
  uint64_t opened;    /* connections ever opened (stats) */
} pt_pool_t;

void pt_pool_init(pt_pool_t *p, uv_loop_t *loop);
/* Applies the limits of the generation in use (they may change on reload). */
void pt_pool_configure(pt_pool_t *p, uint32_t max_idle, uint64_t idle_timeout_ms, uint32_t max_requests);
/* An idle connection to `key` ("host:port"), detached from the pool, or NULL. */
pt_upconn_t *pt_pool_take(pt_pool_t *p, const char *key);
/* Parks a connection that finished an exchange cleanly; closes it when it can't be kept. */
void pt_pool_put(pt_pool_t *p, const char *key, pt_upconn_t *c);
/* The backend spoke (or closed) on an idle connection: it is done with it. */
void pt_pool_idle_input(pt_upconn_t *c);
/* The TLS session last made to `key`, to resume (NULL: none), and keeping a new one. */
const pt_tls_session_t *pt_pool_tls_session(pt_pool_t *p, const char *key);
void pt_pool_keep_tls_session(pt_pool_t *p, const char *key, const pt_tls_t *t);
/* Closes every idle connection (drain, shutdown). */
void pt_pool_close_idle(pt_pool_t *p);
void pt_pool_free(pt_pool_t *p);

/* Closes an upstream connection; memory is freed in the close callback. */
void pt_upconn_close(pt_upconn_t *c);

#endif
