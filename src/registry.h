/* registry.h - an immutable generation: everything a request needs (config,
 * router, backends with their run-time state, subscriptions by key), shared
 * read-only by all workers and reference counted. A request pins the
 * generation it started with; a reload publishes a new one and the old one
 * is freed when its last request ends. Lookups by id or key are O(1). */
#ifndef PT_REGISTRY_H
#define PT_REGISTRY_H

#include <stdatomic.h>
#include <stdint.h>

#include "circuit.h"
#include "config.h"
#include "router.h"
#include "selfchain.h"
#include "strmap.h"

/* A file's contents as they were when the generation was built: every
 * worker compiles the same text, whatever happens to the file later. */
typedef struct pt_file_text_s {
  char *path;
  char *text;
  size_t len;
  int module;                    /* a user policy module (from gateway.policyPaths) */
} pt_file_text_t;

typedef struct pt_generation_s {
  atomic_int refs;
  uint64_t number;
  pt_config_t *config;
  pt_router_t router;
  pt_backend_rt_t *backends;     /* parallel to config->backends */
  pt_strmap_t backend_by_id;
  pt_strmap_t subscription_by_key; /* primary and secondary keys -> pt_subscription_cfg_t */
  char via[96];                  /* "1.1 <gateway id>" */
  int has_policies;              /* some scope has a policy document */
  struct pt_store_s *store;      /* the gateway's traffic-policy state (borrowed; outlives it) */
  pt_file_text_t *files;         /* policy documents, fragments and user policy modules, as read */
  int needs_budget;              /* some policy code can loop: run requests under the instruction hook */
  int nfiles;
  pt_selfchain_t selfchain;      /* this gateway's own endpoints */
  struct pt_tls_set_s *tls;      /* TLS contexts of listeners and backends (tls_context.h) */
  const char **backend_self;     /* per backend: the listener its url reaches, or NULL */
  const char **api_self;         /* per API (serviceUrl): the same */
  double loaded_at;              /* wall clock, seconds */
  atomic_int in_flight;          /* requests pinning this generation */
  struct pt_generation_s *next_live; /* the gateway's list of generations not yet freed */
  void (*on_free)(void *owner, struct pt_generation_s *g); /* called before it is freed */
  void *owner;
  struct pt_lua_s **lua;         /* per worker, created by that worker on first use */
  int nlua;
} pt_generation_t;

/* Takes ownership of c. Returns NULL on allocation failure (c is freed). */
pt_generation_t *pt_generation_build(pt_config_t *c, uint64_t number);
static inline pt_generation_t *pt_generation_ref(pt_generation_t *g) {
  atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
  return g;
}
void pt_generation_unref(pt_generation_t *g);

pt_backend_rt_t *pt_registry_backend(const pt_generation_t *g, const char *id);
/* Run-time state (circuit breakers, round robin) of backends whose configuration did
 * not change moves from old to g, so that a reload does not reset it. */
void pt_generation_inherit(pt_generation_t *g, const pt_generation_t *old);
/* Reads every policy document, fragment and user policy module into the
 * generation. Returns 0, or -1 with the unreadable files in d. */
int pt_generation_snapshot(pt_generation_t *g, pt_diag_t *d);
const pt_file_text_t *pt_generation_file(const pt_generation_t *g, const char *path);
/* The policy engine of worker `index` for this generation, built on first use
 * (by that worker's thread only). NULL without policies or when it fails. */
struct pt_lua_s *pt_generation_lua(pt_generation_t *g, int index);
/* Compiles every policy in a scratch Lua state: errors go to d. Returns 0 or -1. */
int pt_generation_check_policies(const pt_generation_t *g, pt_diag_t *d);
/* Marks the backends and service URLs that point back at this gateway (names
 * are resolved, bounded in time) and warns about each in d. */
void pt_generation_find_self_chains(pt_generation_t *g, pt_diag_t *d);

#endif
