/* registry.h - an immutable generation: everything a request needs (config,
 * router), shared read-only by all workers and reference counted. A request
 * pins the generation it started with; a reload publishes a new one and the
 * old one is freed when its last request ends. */
#ifndef PT_REGISTRY_H
#define PT_REGISTRY_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "router.h"

typedef struct pt_generation_s {
  atomic_int refs;
  uint64_t number;
  pt_config_t *config;
  pt_router_t router;
  char via[96];       /* "1.1 <gateway id>" */
} pt_generation_t;

/* Takes ownership of c. Returns NULL on allocation failure (c is freed). */
pt_generation_t *pt_generation_build(pt_config_t *c, uint64_t number);
static inline pt_generation_t *pt_generation_ref(pt_generation_t *g) {
  atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
  return g;
}
void pt_generation_unref(pt_generation_t *g);

#endif
