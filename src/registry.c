/* registry.c - immutable, reference-counted generations (see registry.h). */
#include "registry.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbridge.h"
#include "tls_context.h"

pt_backend_rt_t *pt_registry_backend(const pt_generation_t *g, const char *id) {
  return pt_strmap_get(&g->backend_by_id, id, strlen(id));
}

static int build_backends(pt_generation_t *g) {
  const pt_config_t *c = g->config;
  g->backends = calloc((size_t)(c->nbackends > 0 ? c->nbackends : 1), sizeof *g->backends);
  if (!g->backends || pt_strmap_init(&g->backend_by_id, c->nbackends)) return -1;
  for (int i = 0; i < c->nbackends; i++) {
    if (pt_backend_rt_init(&g->backends[i], &c->backends[i])) return -1;
    pt_strmap_put(&g->backend_by_id, c->backends[i].id, &g->backends[i]);
  }
  for (int i = 0; i < c->nbackends; i++) /* pool members were validated by the config loader */
    for (int m = 0; m < c->backends[i].nmembers; m++)
      g->backends[i].members[m] = pt_registry_backend(g, c->backends[i].members[m].id);
  return 0;
}

static int build_subscriptions(pt_generation_t *g) {
  const pt_config_t *c = g->config;
  if (pt_strmap_init(&g->subscription_by_key, (size_t)c->nsubscriptions * 2)) return -1;
  for (int i = 0; i < c->nsubscriptions; i++) {
    pt_subscription_cfg_t *s = &c->subscriptions[i];
    if (s->primary_key) pt_strmap_put(&g->subscription_by_key, s->primary_key, s);
    if (s->secondary_key) pt_strmap_put(&g->subscription_by_key, s->secondary_key, s);
  }
  return 0;
}

static int has_policies(const pt_config_t *c) {
  int any = c->policy_file != NULL;
  for (int i = 0; i < c->nproducts; i++) any |= c->products[i].policy_file != NULL;
  for (int i = 0; i < c->napis; i++) {
    any |= c->apis[i].policy_file != NULL;
    for (int k = 0; k < c->apis[i].noperations; k++) any |= c->apis[i].operations[k].policy_file != NULL;
  }
  return any;
}

void pt_generation_find_self_chains(pt_generation_t *g, pt_diag_t *d) {
  const pt_config_t *c = g->config;
  const char *what = c->self_chaining_reject ? "refused (gateway.selfChaining: reject)"
                                             : "dispatched in-process, without a network call";
  for (int i = 0; i < c->nbackends; i++) {
    const pt_backend_cfg_t *b = &c->backends[i];
    if (b->pool || !(g->backend_self[i] = pt_selfchain_match(&g->selfchain, &b->url, 1))) continue;
    pt_diag_warn(d, c->file, b->line, b->col, "backends.%s: url %s points back at this gateway (listener %s): "
                 "self-chained; requests to it are %s", b->id, b->has_secret ? "(with a secret)" : b->url_text,
                 g->backend_self[i], what);
  }
  for (int i = 0; i < c->napis; i++) {
    const pt_api_cfg_t *a = &c->apis[i];
    if (a->backend_id || !(g->api_self[i] = pt_selfchain_match(&g->selfchain, &a->service_url, 1))) continue;
    pt_diag_warn(d, c->file, a->line, a->col, "apis.%s: serviceUrl %s points back at this gateway (listener %s): "
                 "self-chained; requests to it are %s", a->id, a->has_secret ? "(with a secret)" : a->service_url_text, g->api_self[i], what);
  }
}

/* Only code that can loop can run away. The instruction hook slows every Lua
 * instruction, so requests run under it only when the generation has some:
 * user Lua (modules, .lua documents) or C# loops. Conservative by design. */
static int may_loop(const char *path, const char *text, int module) {
  size_t n = strlen(path);
  if (module || (n > 4 && strcmp(path + n - 4, ".lua") == 0)) return 1;
  static const char *const loops[] = {"while", "for (", "for(", "foreach", "goto"};
  for (size_t i = 0; i < sizeof loops / sizeof *loops; i++)
    if (strstr(text, loops[i])) return 1;
  return 0;
}

static int snapshot_file(pt_generation_t *g, const char *path, int module, pt_diag_t *d) {
  if (!path || pt_generation_file(g, path)) return 0;
  pt_buf_t b = {0};
  int bad = pt_buf_read_file(&b, path, 0) < 0;
  pt_file_text_t *arr = bad ? NULL : realloc(g->files, sizeof *arr * (g->nfiles + 1));
  if (!arr) {
    pt_diag_error(d, path, 0, 0, "cannot read the file (it is named by %s)", g->config->file);
    pt_buf_free(&b);
    return -1;
  }
  g->files = arr;
  arr[g->nfiles++] = (pt_file_text_t){strdup(path), b.base, b.len, module};
  g->needs_budget |= may_loop(path, b.base, module);
  return 0;
}

/* Every *.lua of a policy module folder. */
static int snapshot_modules(pt_generation_t *g, const char *dir, pt_diag_t *d) {
  DIR *dp = opendir(dir);
  if (!dp) {
    pt_diag_error(d, dir, 0, 0, "cannot open the policy module folder");
    return -1;
  }
  int rc = 0;
  for (struct dirent *e; (e = readdir(dp)) && !rc;) {
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 4, ".lua") != 0) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    rc = snapshot_file(g, path, 1, d);
  }
  closedir(dp);
  return rc;
}

int pt_generation_snapshot(pt_generation_t *g, pt_diag_t *d) {
  const pt_config_t *c = g->config;
  int rc = snapshot_file(g, c->policy_file, 0, d);
  for (int i = 0; i < c->nproducts; i++) rc |= snapshot_file(g, c->products[i].policy_file, 0, d);
  for (int i = 0; i < c->napis; i++) {
    rc |= snapshot_file(g, c->apis[i].policy_file, 0, d);
    for (int k = 0; k < c->apis[i].noperations; k++) rc |= snapshot_file(g, c->apis[i].operations[k].policy_file, 0, d);
  }
  for (int i = 0; i < c->nfragments; i++) rc |= snapshot_file(g, c->fragments[i].file, 0, d);
  for (int i = 0; i < c->npolicy_paths; i++) rc |= snapshot_modules(g, c->policy_paths[i], d);
  return rc ? -1 : 0;
}

struct pt_lua_s *pt_generation_lua(pt_generation_t *g, int index) {
  if (!g->has_policies || index < 0 || index >= g->nlua) return NULL;
  if (!g->lua[index]) {
    pt_diag_t d = {0};
    g->lua[index] = pt_lua_new(g, &d); /* the documents compiled at load: no error expected */
    pt_diag_print(&d, stderr);
    pt_diag_free(&d);
  }
  return g->lua[index];
}

const pt_file_text_t *pt_generation_file(const pt_generation_t *g, const char *path) {
  for (int i = 0; i < g->nfiles; i++)
    if (strcmp(g->files[i].path, path) == 0) return &g->files[i];
  return NULL;
}

typedef struct base_url_check_s {
  const pt_generation_t *g;
  pt_diag_t *d;
} base_url_check_t;

/* A literal base-url that is this gateway gets the same warning as a backend. */
static void check_base_url(void *data, const char *text, const char *where) {
  base_url_check_t *k = data;
  pt_url_t u;
  char err[128];
  if (pt_url_parse(&u, text, err, sizeof err) < 0) return;
  const char *listener = pt_selfchain_match(&k->g->selfchain, &u, 1);
  if (listener) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: warning: set-backend-service base-url %s points back at this gateway "
             "(listener %s): self-chained; requests to it are %s", where, text, listener,
             k->g->config->self_chaining_reject ? "refused (gateway.selfChaining: reject)"
                                                : "dispatched in-process, without a network call");
    pt_diag_warn_text(k->d, msg);
  }
  pt_url_free(&u);
}

int pt_generation_check_policies(const pt_generation_t *g, pt_diag_t *d) {
  if (!g->has_policies) return 0;
  pt_lua_t *probe = pt_lua_new(g, d);
  if (probe) {
    base_url_check_t k = {g, d};
    pt_lua_base_urls(probe, check_base_url, &k);
  }
  pt_lua_free(probe);
  return probe ? 0 : -1;
}

pt_generation_t *pt_generation_build(pt_config_t *c, uint64_t number) {
  pt_generation_t *g = calloc(1, sizeof *g);
  if (!g) {
    pt_config_free(c);
    return NULL;
  }
  atomic_init(&g->refs, 1);
  atomic_init(&g->in_flight, 0);
  uv_timeval64_t tv;
  g->loaded_at = uv_gettimeofday(&tv) == 0 ? (double)tv.tv_sec + tv.tv_usec / 1e6 : 0;
  g->number = number;
  g->config = c;
  snprintf(g->via, sizeof g->via, "1.1 %s", c->id);
  g->has_policies = has_policies(c);
  g->nlua = c->workers;
  g->lua = calloc((size_t)c->workers, sizeof *g->lua);
  g->backend_self = calloc((size_t)(c->nbackends > 0 ? c->nbackends : 1), sizeof *g->backend_self);
  g->api_self = calloc((size_t)(c->napis > 0 ? c->napis : 1), sizeof *g->api_self);
  if (!g->lua || !g->backend_self || !g->api_self || pt_selfchain_build(&g->selfchain, c) ||
      pt_router_build(&g->router, c) || build_backends(g) || build_subscriptions(g)) {
    pt_generation_unref(g);
    return NULL;
  }
  return g;
}

void pt_generation_inherit(pt_generation_t *g, const pt_generation_t *old) {
  for (int i = 0; i < g->config->nbackends; i++) {
    pt_backend_rt_t *prev = pt_registry_backend(old, g->config->backends[i].id);
    if (prev) pt_backend_rt_inherit(&g->backends[i], prev);
  }
}

void pt_generation_unref(pt_generation_t *g) {
  if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1) return;
  if (g->on_free) g->on_free(g->owner, g);
  for (int i = 0; g->lua && i < g->nlua; i++) pt_lua_free(g->lua[i]);
  free(g->lua);
  pt_router_free(&g->router);
  pt_selfchain_free(&g->selfchain);
  pt_tls_set_free(g->tls);
  for (int i = 0; i < g->nfiles; i++) free(g->files[i].path), free(g->files[i].text);
  free(g->files);
  free(g->backend_self);
  free(g->api_self);
  for (int i = 0; g->backends && i < g->config->nbackends; i++) pt_backend_rt_free(&g->backends[i]);
  free(g->backends);
  pt_strmap_free(&g->backend_by_id);
  pt_strmap_free(&g->subscription_by_key);
  pt_config_free(g->config);
  free(g);
}
