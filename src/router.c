/* router.c - longest whole-segment API path match (see router.h). */
#include "router.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

static int longest_first(const void *a, const void *b) {
  const pt_route_t *x = a, *y = b;
  return x->path_len < y->path_len ? 1 : x->path_len > y->path_len ? -1 : 0;
}

int pt_router_build(pt_router_t *r, const pt_config_t *c) {
  r->count = c->napis;
  r->routes = calloc(c->napis ? c->napis : 1, sizeof *r->routes);
  if (!r->routes) return UV_ENOMEM;
  for (int i = 0; i < c->napis; i++)
    r->routes[i] = (pt_route_t){&c->apis[i], strlen(c->apis[i].path)};
  qsort(r->routes, r->count, sizeof *r->routes, longest_first);
  return 0;
}

void pt_router_free(pt_router_t *r) {
  free(r->routes);
  r->routes = NULL;
  r->count = 0;
}

const pt_api_cfg_t *pt_router_match(const pt_router_t *r, const char *path, size_t len, size_t *rest) {
  if (len == 0 || path[0] != '/') return NULL;
  path++, len--; /* API paths are stored without the leading '/' */
  for (int i = 0; i < r->count; i++) {
    size_t n = r->routes[i].path_len;
    if (n > len || strncasecmp(path, r->routes[i].api->path, n) != 0) continue;
    if (n == 0) { /* the empty path matches everything */
      *rest = 0;
      return r->routes[i].api;
    }
    if (n == len || path[n] == '/') { /* whole segments only */
      *rest = n + 1; /* in the original path, which starts with '/' */
      return r->routes[i].api;
    }
  }
  return NULL;
}
