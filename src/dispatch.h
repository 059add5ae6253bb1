/* dispatch.h - what the gateway does with a request head it accepted:
 * validate what llhttp leaves to us, route it (API, operation), check the
 * subscription key, pick the backend (pool member, circuit breaker), and
 * compose the head sent upstream (target, forwarding headers, credentials,
 * subscription key removed). Pure: no I/O, so it is unit-testable. */
#ifndef PT_DISPATCH_H
#define PT_DISPATCH_H

#include "http.h"
#include "registry.h"

typedef struct pt_dispatch_in_s {
  const char *method;        /* "GET" */
  int http_minor;
  const char *url; size_t url_len;  /* the request target as received */
  const pt_headers_t *headers;
  const char *client_ip;
  int chunked;               /* the body arrives chunked (re-framed chunked upstream) */
  int has_length; uint64_t content_length;
} pt_dispatch_in_t;

typedef struct pt_dispatch_s {
  /* Refused: status != 0 with APIM's reason and the client message. */
  int status;
  const char *reason, *message;
  /* Accepted: */
  pt_route_match_t route;
  const pt_subscription_cfg_t *subscription;
  pt_backend_rt_t *backend;  /* the Single backend called (a pool member), or NULL for serviceUrl */
  const pt_url_t *origin;
  pt_buf_t head;             /* the upstream request head; the caller owns it */
} pt_dispatch_t;

/* Fills d. Returns 0 (look at d->status) or UV_ENOMEM. */
int pt_dispatch(const pt_generation_t *g, const pt_dispatch_in_t *in, pt_dispatch_t *d);

#endif
