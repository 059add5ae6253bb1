/* registry.c - immutable, reference-counted generations (see registry.h). */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>

pt_generation_t *pt_generation_build(pt_config_t *c, uint64_t number) {
  pt_generation_t *g = calloc(1, sizeof *g);
  if (!g || pt_router_build(&g->router, c)) {
    free(g);
    pt_config_free(c);
    return NULL;
  }
  atomic_init(&g->refs, 1);
  g->number = number;
  g->config = c;
  snprintf(g->via, sizeof g->via, "1.1 %s", c->id);
  return g;
}

void pt_generation_unref(pt_generation_t *g) {
  if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1) return;
  pt_router_free(&g->router);
  pt_config_free(g->config);
  free(g);
}
