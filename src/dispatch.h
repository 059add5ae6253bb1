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
  const char *proto;         /* "http" or "https": how the request reached us (X-Forwarded-Proto) */
  int chunked;               /* the body arrives chunked (re-framed chunked upstream) */
  int has_length; uint64_t content_length;
} pt_dispatch_in_t;

/* What policies changed (lbridge's forward step); NULL fields keep the original. */
typedef struct pt_forward_override_s {
  const char *method;
  const char *backend_id;        /* set-backend-service backend-id */
  const char *base_url;          /* set-backend-service base-url */
  const char *rest;              /* path relative to the service URL (rewrite-uri) */
  const char *query;             /* without '?' */
  const pt_headers_t *headers;   /* the whole header list */
  int64_t body_length;           /* >= 0: the gateway sends a body of this length */
} pt_forward_override_t;

typedef struct pt_dispatch_s {
  /* Refused: status != 0 with APIM's reason and the client message. */
  int status;
  const char *reason, *message;
  /* Accepted: */
  pt_route_match_t route;
  const pt_subscription_cfg_t *subscription;
  pt_backend_rt_t *backend;  /* the Single backend called (a pool member), or NULL for serviceUrl */
  const pt_url_t *origin;    /* the backend: its Host, its path */
  const pt_url_t *connect;   /* where the connection goes: the origin, or its HTTP proxy */
  const char *self;          /* the listener of this gateway the origin reaches (self-chaining), or NULL */
  pt_url_t base_url;         /* parsed set-backend-service base-url, owned */
  pt_buf_t head;             /* the upstream request head; the caller takes it */
  char why[320];             /* room for a refusal message that names things */
  /* where the pieces of the target are, after route: */
  const char *url; size_t url_len, path_len;
  int key_header, key_in_query; /* the subscription key came in a header / the query */
} pt_dispatch_t;

/* Validates, routes and checks the subscription. Returns 0 (look at
 * d->status: a refusal) or UV_ENOMEM. */
int pt_dispatch_route(const pt_generation_t *g, const pt_dispatch_in_t *in, pt_dispatch_t *d);
/* Chooses the backend and composes the upstream head, with what policies
 * changed (ov may be NULL). Returns 0 (look at d->status) or UV_ENOMEM. */
int pt_dispatch_forward(const pt_generation_t *g, const pt_dispatch_in_t *in, pt_dispatch_t *d,
                        const pt_forward_override_t *ov);
/* Both at once, for requests without policies. */
int pt_dispatch(const pt_generation_t *g, const pt_dispatch_in_t *in, pt_dispatch_t *d);
void pt_dispatch_free(pt_dispatch_t *d);

#endif
