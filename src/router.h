/* router.h - request -> API -> operation, by APIM's rules.
 * API: the longest API path that matches on whole segments (compared
 * case-insensitively), with the version of a version set taken from a path
 * segment, a query parameter or a header. Operation: method + URL template
 * (`/orders/{id}`, a trailing `*`, required query parameters `?q={q}`), the
 * most specific template first. An API without operations takes every
 * method and path under it. Built once per generation; matching allocates
 * nothing. */
#ifndef PT_ROUTER_H
#define PT_ROUTER_H

#include <stddef.h>

#include "config.h"
#include "http.h"

#define PT_MAX_MATCHED_PARAMS 16

typedef struct pt_route_s pt_route_t;
typedef struct pt_template_s pt_template_t;

typedef struct pt_router_s {
  pt_route_t *routes; /* longest prefix first */
  int count;
  pt_template_t *templates; /* one per operation of every API, most specific first per API */
  int ntemplates;
} pt_router_t;

typedef struct pt_route_request_s {
  const char *method;           /* "GET" */
  const char *path; size_t path_len;   /* starts with '/' */
  const char *query; size_t query_len; /* after '?', may be empty */
  const pt_headers_t *headers;
} pt_route_request_t;

typedef struct pt_matched_param_s {
  const char *name;             /* from the template (generation-owned) */
  const char *value; size_t value_len; /* into the request, not decoded */
} pt_matched_param_t;

typedef struct pt_route_match_s {
  const pt_api_cfg_t *api;
  const pt_operation_cfg_t *operation; /* NULL when the API declares none */
  size_t rest;                  /* offset in path of what follows the API path (and version segment) */
  pt_matched_param_t params[PT_MAX_MATCHED_PARAMS];
  int nparams;
} pt_route_match_t;

enum { PT_ROUTE_OK = 0, PT_ROUTE_NO_API = -1, PT_ROUTE_NO_OPERATION = -2 };

/* Returns 0 or UV_ENOMEM; an invalid template is a config error caught earlier. */
int pt_router_build(pt_router_t *r, const pt_config_t *c);
void pt_router_free(pt_router_t *r);
int pt_router_match(const pt_router_t *r, const pt_route_request_t *q, pt_route_match_t *m);
/* The value of query parameter `name` (not decoded), or NULL. */
const char *pt_query_param(const char *query, size_t qlen, const char *name, size_t *vlen);

#endif
