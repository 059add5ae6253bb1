/* router.h - request path -> API. The longest API path that matches on whole
 * segments wins (APIM compares the suffix case-insensitively). Operations
 * (method + URL template) arrive with the registry issue. */
#ifndef PT_ROUTER_H
#define PT_ROUTER_H

#include <stddef.h>

#include "config.h"

typedef struct pt_route_s {
  const pt_api_cfg_t *api;
  size_t path_len;
} pt_route_t;

typedef struct pt_router_s {
  pt_route_t *routes; /* longest path first */
  int count;
} pt_router_t;

int pt_router_build(pt_router_t *r, const pt_config_t *c);
void pt_router_free(pt_router_t *r);
/* Matches the path part of a request target (no query). On a match returns the
 * API and sets *rest to the offset of what follows the API path ("" or "/..."). */
const pt_api_cfg_t *pt_router_match(const pt_router_t *r, const char *path, size_t len, size_t *rest);

#endif
