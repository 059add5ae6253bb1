/* circuit.h - run-time state of one backend, shared by every worker of the
 * gateway: its circuit breaker (APIM's single rule: failures counted in a
 * window; tripped for tripDuration or the backend's Retry-After) and, for a
 * Pool, the smooth weighted round robin inside priority groups. Guarded by a
 * mutex: held for a few instructions per request, never across I/O. */
#ifndef PT_CIRCUIT_H
#define PT_CIRCUIT_H

#include <stdint.h>
#include <uv.h>

#include "config.h"

typedef struct pt_backend_rt_s pt_backend_rt_t;

struct pt_backend_rt_s {
  const pt_backend_cfg_t *cfg;
  pt_backend_rt_t **members;   /* a Pool's Single backends, in configuration order */
  uv_mutex_t lock;
  uint64_t window_start;       /* ms, monotonic */
  uint32_t failures, total;
  uint64_t open_until;         /* ms; 0 = closed */
  int64_t *current_weight;     /* per member (smooth WRR) */
  char *header_block;          /* credentials rendered as header lines, or NULL */
  pt_url_t proxy;              /* proxy.url parsed (proxy.host NULL: no proxy) */
  char *proxy_auth;            /* "Proxy-Authorization: Basic ...\r\n", or NULL */
  char *query;                 /* credentials as "a=1&b=2", or NULL */
  const char **drop_headers;   /* client headers the credentials replace */
  int ndrop;
};

int pt_backend_rt_init(pt_backend_rt_t *b, const pt_backend_cfg_t *cfg);
/* Takes over old's breaker and round-robin state when both configurations are the same. */
void pt_backend_rt_inherit(pt_backend_rt_t *b, pt_backend_rt_t *old);
void pt_backend_rt_free(pt_backend_rt_t *b);

/* 1 when the breaker lets a request through now. */
int pt_circuit_allows(pt_backend_rt_t *b, uint64_t now_ms);
/* Counts one outcome: an HTTP status (reason NULL) or a failure reason
 * (status 0). retry_after_ms > 0 is the backend's Retry-After. */
void pt_circuit_report(pt_backend_rt_t *b, uint64_t now_ms, int status, const char *reason,
                       uint64_t retry_after_ms);

/* For a Pool: the member to use now (highest priority group with an open
 * member, weighted round robin inside it), or NULL when all are tripped.
 * For a Single backend: itself, or NULL when tripped. */
pt_backend_rt_t *pt_backend_pick(pt_backend_rt_t *b, uint64_t now_ms);

/* Retry-After as delay-seconds or an HTTP date -> milliseconds (0: absent/invalid). */
uint64_t pt_retry_after_ms(const char *value, size_t len);

#endif
