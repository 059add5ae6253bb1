/* lbridge.c - Lua states, coroutines and C <-> Lua conversions (see lbridge.h). */
#include "lbridge.h"
#include "tls_context.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lembed.h"
#include "plan.h"
#include "registry.h"
#include "store.h"

int luaopen_cjson(lua_State *L); /* lua-cjson, linked in and preloaded */
int luaopen_lxp(lua_State *L);   /* lua-expat, for xml-to-json */

#define FLAGS_CACHE 128 /* (api, operation, product) combinations remembered */
#define RUN_POOL 64     /* finished coroutines kept for the next requests */

typedef struct flags_entry_s {
  const char *api, *op, *product; /* generation-owned: compared by address */
  pt_policy_flags_t flags;
} flags_entry_t;

struct pt_lua_s {
  lua_State *L;
  size_t used, limit; /* bytes, for the memory cap */
  int run_ref, flags_ref, plan_ref;
  int budget;         /* run requests under the instruction hook */
  struct pt_policy_run_s *current; /* the request being resumed, for the instruction hook */
  struct pt_policy_run_s *pool;    /* idle runs with their coroutines */
  int npool;
  flags_entry_t flags[FLAGS_CACHE]; /* their plans are owned here */
  int nflags;
  pt_plan_work_t plan_work;
};

struct pt_policy_run_s {
  pt_lua_t *owner;
  struct pt_policy_run_s *next_idle;
  lua_State *co;
  int co_ref;
  long budget; /* hook calls left */
  int done;
  pt_policy_result_t res;
};

#define HOOK_EVERY 10000 /* instructions between two budget checks */

/* ---- state ------------------------------------------------------------------ */

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  pt_lua_t *s = ud;
  size_t old = ptr ? osize : 0; /* without ptr, osize tells the object type */
  if (nsize == 0) {
    free(ptr);
    s->used -= old;
    return NULL;
  }
  if (nsize > old && s->used - old + nsize > s->limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) s->used = s->used - old + nsize;
  return p;
}

/* package.searchers entry: modules compiled into the binary. A bare policy
 * element name ("set-header") also finds "policies.set-header". */
static int embedded_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  for (int pass = 0; pass < 2; pass++)
    for (const pt_lua_module_t *m = pt_lua_modules; m->name; m++) {
      const char *n = m->name;
      if (pass == 1 && strncmp(n, "policies.", 9) == 0) n += 9;
      if (strcmp(n, name) != 0) continue;
      char chunk[256];
      snprintf(chunk, sizeof chunk, "@%s", m->path);
      if (luaL_loadbuffer(L, m->source, m->len, chunk) != LUA_OK) return lua_error(L);
      lua_pushstring(L, m->path);
      return 2;
    }
  lua_pushfstring(L, "\n\tno embedded module '%s'", name);
  return 1;
}

/* ---- portico.host: the gateway-wide state of traffic policies (ENGINE.md) ---- */

static pt_store_t *host_store(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

/* host.count(key, window_ms, increment, limit) -> allowed, count, reset_in_ms  [-4, +3, e] */
static int host_count(lua_State *L) {
  int64_t count = 0;
  uint64_t reset = 0;
  int ok = pt_store_count(host_store(L), luaL_checkstring(L, 1), (uint64_t)luaL_checkinteger(L, 2),
                          luaL_checkinteger(L, 3), luaL_checkinteger(L, 4), &count, &reset);
  lua_pushboolean(L, ok);
  lua_pushinteger(L, count);
  lua_pushinteger(L, (lua_Integer)reset);
  return 3;
}

/* host.concurrency(key, delta, max) -> ok, current  [-3, +2, e] */
static int host_concurrency(lua_State *L) {
  int64_t current = 0;
  int ok = pt_store_concurrency(host_store(L), luaL_checkstring(L, 1), (int)luaL_checkinteger(L, 2),
                                luaL_optinteger(L, 3, 0), &current);
  lua_pushboolean(L, ok);
  lua_pushinteger(L, current);
  return 2;
}

/* host.cache_get(key) -> string or nil  [-1, +1, e] */
static int host_cache_get(lua_State *L) {
  size_t len = 0;
  char *v = pt_store_cache_get(host_store(L), luaL_checkstring(L, 1), &len);
  if (v) lua_pushlstring(L, v, len);
  else lua_pushnil(L);
  free(v);
  return 1;
}

/* host.cache_set(key, value, ttl_ms)  [-3, +0, e] */
static int host_cache_set(lua_State *L) {
  size_t len;
  const char *v = luaL_checklstring(L, 2, &len);
  pt_store_cache_set(host_store(L), luaL_checkstring(L, 1), v, len, (uint64_t)luaL_checkinteger(L, 3));
  return 0;
}

/* host.cache_delete(key)  [-1, +0, e] */
static int host_cache_delete(lua_State *L) {
  pt_store_cache_delete(host_store(L), luaL_checkstring(L, 1));
  return 0;
}

/* host.now_ms() -> integer  [-0, +1, -] */
static int host_now_ms(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)pt_store_now_ms());
  return 1;
}

/* package.preload["portico.host"]: the store rides along as an upvalue. */
static int open_host(lua_State *L) {
  static const luaL_Reg fns[] = {{"count", host_count}, {"concurrency", host_concurrency},
                                 {"cache_get", host_cache_get}, {"cache_set", host_cache_set},
                                 {"cache_delete", host_cache_delete}, {"now_ms", host_now_ms}, {NULL, NULL}};
  luaL_newlibtable(L, fns);
  lua_pushvalue(L, lua_upvalueindex(1));
  luaL_setfuncs(L, fns, 1);
  return 1;
}

/* require() finds preloaded C modules and embedded Lua, never package.cpath. */
static void setup_require(lua_State *L, pt_store_t *store) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_cjson);
  lua_setfield(L, -2, "cjson");
  lua_pushcfunction(L, luaopen_lxp);
  lua_setfield(L, -2, "lxp");
  lua_pushlightuserdata(L, store);
  lua_pushcclosure(L, open_host, 1);
  lua_setfield(L, -2, "portico.host");
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_createtable(L, 2, 0);
  lua_getfield(L, -2, "searchers");
  lua_rawgeti(L, -1, 1); /* the preload searcher */
  lua_rawseti(L, -3, 1);
  lua_pop(L, 1);
  lua_pushcfunction(L, embedded_searcher);
  lua_rawseti(L, -2, 2);
  lua_setfield(L, -2, "searchers");
  lua_pop(L, 1);
}

/* ---- the spec handed to engine.load ------------------------------------------- */

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* Pushes { file = path, text = contents as read when the generation was built }. */
static int push_document(lua_State *L, const pt_generation_t *g, const char *file, pt_diag_t *d) {
  const char *cfg_file = g->config->file;
  const pt_file_text_t *f = pt_generation_file(g, file);
  if (!f) {
    pt_diag_error(d, cfg_file, 0, 0, "policy document '%s' was not read", file);
    lua_pushnil(L);
    return -1;
  }
  lua_createtable(L, 0, 2);
  set_str(L, "file", file);
  lua_pushlstring(L, f->text, f->len);
  lua_setfield(L, -2, "text");
  return 0;
}

/* spec.policy_module_texts = { [path] = text } for every user module. */
static void push_module_texts(lua_State *L, const pt_generation_t *g) {
  lua_newtable(L);
  for (int i = 0; i < g->nfiles; i++) {
    if (!g->files[i].module) continue;
    lua_pushlstring(L, g->files[i].text, g->files[i].len);
    lua_setfield(L, -2, g->files[i].path);
  }
}

static void push_documents(lua_State *L, const pt_generation_t *g, pt_diag_t *d) {
  const pt_config_t *c = g->config;
  lua_createtable(L, 0, 4);
  if (c->policy_file) {
    push_document(L, g, c->policy_file, d);
    lua_setfield(L, -2, "global");
  }
  lua_newtable(L);
  for (int i = 0; i < c->nproducts; i++)
    if (c->products[i].policy_file && push_document(L, g, c->products[i].policy_file, d) == 0)
      lua_setfield(L, -2, c->products[i].id);
    else if (c->products[i].policy_file) lua_pop(L, 1);
  lua_setfield(L, -2, "products");
  lua_newtable(L); /* apis */
  lua_newtable(L); /* operations */
  for (int i = 0; i < c->napis; i++) {
    const pt_api_cfg_t *a = &c->apis[i];
    if (a->policy_file && push_document(L, g, a->policy_file, d) == 0) lua_setfield(L, -3, a->id);
    else if (a->policy_file) lua_pop(L, 1);
    lua_newtable(L);
    for (int k = 0; k < a->noperations; k++)
      if (a->operations[k].policy_file && push_document(L, g, a->operations[k].policy_file, d) == 0)
        lua_setfield(L, -2, a->operations[k].id);
      else if (a->operations[k].policy_file) lua_pop(L, 1);
    lua_setfield(L, -2, a->id);
  }
  lua_setfield(L, -3, "operations");
  lua_setfield(L, -2, "apis");
}

static void push_apis(lua_State *L, const pt_config_t *c) {
  lua_createtable(L, 0, c->napis);
  for (int i = 0; i < c->napis; i++) {
    const pt_api_cfg_t *a = &c->apis[i];
    lua_createtable(L, 0, 6);
    set_str(L, "name", a->display_name);
    set_str(L, "path", a->path);
    set_str(L, "service_url", a->service_url_text);
    set_str(L, "version", a->api_version);
    lua_createtable(L, 0, a->noperations);
    for (int k = 0; k < a->noperations; k++) {
      const pt_operation_cfg_t *o = &a->operations[k];
      lua_createtable(L, 0, 4);
      set_str(L, "method", o->method);
      set_str(L, "url_template", o->url_template);
      set_str(L, "name", o->display_name ? o->display_name : o->id);
      if (o->example_body) { /* examples = { ["200"] = { [content type] = body } } for mock-response */
        char status[16];
        snprintf(status, sizeof status, "%d", o->example_status ? o->example_status : 200);
        lua_createtable(L, 0, 1);
        lua_createtable(L, 0, 1);
        lua_pushstring(L, o->example_body);
        lua_setfield(L, -2, o->example_content_type ? o->example_content_type : "application/json");
        lua_setfield(L, -2, status);
        lua_setfield(L, -2, "examples");
      }
      lua_setfield(L, -2, o->id);
    }
    lua_setfield(L, -2, "operations");
    lua_setfield(L, -2, a->id);
  }
}

static void push_spec(lua_State *L, const pt_generation_t *g, pt_diag_t *d) {
  const pt_config_t *c = g->config;
  lua_createtable(L, 0, 8);
  lua_createtable(L, 0, 2);
  set_str(L, "id", c->id);
  set_str(L, "region", "edge");
  lua_setfield(L, -2, "gateway");
  push_documents(L, g, d);
  lua_setfield(L, -2, "documents");
  lua_newtable(L);
  for (int i = 0; i < c->nfragments; i++)
    if (push_document(L, g, c->fragments[i].file, d) == 0) lua_setfield(L, -2, c->fragments[i].id);
    else lua_pop(L, 1);
  lua_setfield(L, -2, "fragments");
  lua_newtable(L);
  for (int i = 0; i < c->nnamed_values; i++) {
    lua_createtable(L, 0, 2);
    set_str(L, "value", c->named_values[i].value);
    lua_pushboolean(L, c->named_values[i].secret);
    lua_setfield(L, -2, "secret");
    lua_setfield(L, -2, c->named_values[i].name);
  }
  lua_setfield(L, -2, "named_values");
  lua_newtable(L);
  for (int i = 0; i < c->npolicy_paths; i++) {
    lua_pushstring(L, c->policy_paths[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "policy_paths");
  push_module_texts(L, g);
  lua_setfield(L, -2, "policy_module_texts");
  push_apis(L, c);
  lua_setfield(L, -2, "apis");
  lua_newtable(L);
  for (int i = 0; i < c->nbackends; i++) {
    lua_createtable(L, 0, 2);
    set_str(L, "url", c->backends[i].url_text);
    set_str(L, "title", c->backends[i].title);
    lua_setfield(L, -2, c->backends[i].id);
  }
  lua_setfield(L, -2, "backends");
  lua_newtable(L);
  for (int i = 0; i < c->nproducts; i++) {
    lua_createtable(L, 0, 1);
    set_str(L, "name", c->products[i].display_name ? c->products[i].display_name : c->products[i].id);
    lua_setfield(L, -2, c->products[i].id);
  }
  lua_setfield(L, -2, "products");
  lua_newtable(L); /* certificates.<id>, in order: authentication-certificate refers to them by index */
  for (int i = 0; i < c->ncert_entities; i++) {
    lua_createtable(L, 0, 2);
    set_str(L, "id", c->cert_entities[i].id);
    set_str(L, "thumbprint", g->tls ? pt_tls_set_thumbprint(g->tls, i) : NULL);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "certificates");
}

/* Calls engine.load(spec); its errors go to d. [-0, +0] */
static int load_engine(pt_lua_t *s, const pt_generation_t *g, pt_diag_t *d) {
  const pt_config_t *c = g->config;
  lua_State *L = s->L;
  int errors = d->errors;
  lua_getglobal(L, "require");
  lua_pushstring(L, "portico.engine");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    pt_diag_error(d, c->file, 0, 0, "policy engine: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  lua_getfield(L, -1, "run");
  s->run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, -1, "flags");
  s->flags_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, -1, "plan");
  s->plan_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getglobal(L, "require"); /* traces go to the access log, not to stderr */
  lua_pushstring(L, "portico.pipeline");
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "trace_sink");
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "load");
  push_spec(L, g, d);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    pt_diag_error(d, c->file, 0, 0, "policy engine: %s", lua_tostring(L, -1));
  } else if (lua_istable(L, -1)) {
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
      pt_diag_error_text(d, lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 2); /* result, engine */
  return d->errors > errors ? -1 : 0;
}

pt_lua_t *pt_lua_new(const pt_generation_t *g, pt_diag_t *d) {
  pt_lua_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->limit = PT_LUA_MEMORY_LIMIT;
  s->budget = g->needs_budget;
  s->run_ref = s->flags_ref = s->plan_ref = LUA_NOREF;
  if (!(s->L = lua_newstate(capped_alloc, s))) {
    free(s);
    return NULL;
  }
  *(pt_lua_t **)lua_getextraspace(s->L) = s; /* copied into every thread made from now on */
  luaL_openlibs(s->L); /* the engine is trusted; policy code gets a sandboxed env from it */
  setup_require(s->L, g->store);
  if (load_engine(s, g, d) < 0) {
    pt_lua_free(s);
    return NULL;
  }
  lua_gc(s->L, LUA_GCGEN, 0, 0); /* requests make short-lived garbage */
  return s;
}

void pt_lua_base_urls(pt_lua_t *s, void (*fn)(void *, const char *, const char *), void *data) {
  lua_State *L = s->L;
  int top = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushstring(L, "portico.engine");
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_getfield(L, -1, "base_urls") == LUA_TFUNCTION &&
      lua_pcall(L, 0, 1, 0) == LUA_OK && lua_istable(L, -1))
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
      lua_getfield(L, -1, "url");
      lua_getfield(L, -2, "where");
      if (lua_isstring(L, -2) && lua_isstring(L, -1)) fn(data, lua_tostring(L, -2), lua_tostring(L, -1));
      lua_pop(L, 3);
    }
  lua_settop(L, top);
}

void pt_lua_free(pt_lua_t *s) {
  if (!s) return;
  for (pt_policy_run_t *r = s->pool, *n; r; r = n) {
    n = r->next_idle;
    pt_headers_free(&r->res.headers);
    pt_buf_free(&r->res.body);
    free(r);
  }
  for (int i = 0; i < s->nflags; i++) pt_plan_free((pt_plan_t *)s->flags[i].flags.plan);
  pt_plan_work_free(&s->plan_work);
  lua_close(s->L);
  free(s);
}

static void lua_flags(pt_lua_t *s, const char *api, const char *op, const char *product, pt_policy_flags_t *out) {
  lua_State *L = s->L;
  memset(out, 0, sizeof *out);
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->flags_ref);
  lua_pushstring(L, api);
  lua_pushstring(L, op);
  lua_pushstring(L, product);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
    out->policies = 1; /* let run() report what is wrong */
    lua_pop(L, 1);
    return;
  }
  lua_getfield(L, -1, "policies");
  lua_getfield(L, -2, "request_body");
  lua_getfield(L, -3, "response_body");
  out->policies = lua_toboolean(L, -3);
  out->request_body = lua_toboolean(L, -2);
  out->response_body = lua_toboolean(L, -1);
  lua_pop(L, 4);
}

/* ---- the native plan (plan.h): engine.plan's table as C structs ---------------- */

/* Field k of the table at t: a string (copied), or absent (0). -1: another type or no memory. */
static int plan_str(lua_State *L, int t, const char *k, pt_plan_str_t *out) {
  int type = lua_getfield(L, t, k), rc = 0;
  if (type == LUA_TSTRING) {
    const char *v = lua_tolstring(L, -1, &out->len);
    if ((out->s = malloc(out->len + 1))) memcpy(out->s, v, out->len + 1);
    else rc = -1;
  } else if (type != LUA_TNIL) {
    rc = -1;
  }
  lua_pop(L, 1);
  return rc;
}

static int plan_bool(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static int plan_int(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  int v = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* Pushes field k of t when it is an array; returns its length, or -1 (nothing pushed). */
static int plan_array(lua_State *L, int t, const char *k) {
  if (lua_getfield(L, t, k) == LUA_TTABLE) return (int)luaL_len(L, -1);
  lua_pop(L, 1);
  return -1;
}

/* Calls read(L, item index, &items[i]) for each table in array field k. */
#define PLAN_LIST(L, t, k, items, n, read)                                                  \
  do {                                                                                      \
    int len_ = plan_array(L, t, k);                                                         \
    if (len_ < 0) break;                                                                    \
    if (len_ > 0 && !(items = calloc((size_t)len_, sizeof *items))) rc = -1;                \
    for (int i_ = 0; rc == 0 && i_ < len_; i_++, n++) {                                     \
      rc = lua_rawgeti(L, -1, i_ + 1) == LUA_TTABLE ? read(L, lua_gettop(L), &items[i_]) : -1; \
      lua_pop(L, 1);                                                                        \
    }                                                                                       \
    lua_pop(L, 1);                                                                          \
  } while (0)

static int plan_value(lua_State *L, int i, pt_plan_str_t *out) {
  if (lua_type(L, i) != LUA_TSTRING) return -1;
  const char *v = lua_tolstring(L, i, &out->len);
  if (!(out->s = malloc(out->len + 1))) return -1;
  memcpy(out->s, v, out->len + 1);
  return 0;
}

/* An array of strings in field k. */
static int plan_strings(lua_State *L, int t, const char *k, pt_plan_str_t **items, int *n) {
  int len = plan_array(L, t, k), rc = 0;
  if (len < 0) return 0;
  if (len > 0 && !(*items = calloc((size_t)len, sizeof **items))) rc = -1;
  for (int i = 0; rc == 0 && i < len; i++, (*n)++) {
    lua_rawgeti(L, -1, i + 1);
    rc = plan_value(L, lua_gettop(L), &(*items)[i]);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return rc;
}

static int plan_piece(lua_State *L, int t, pt_plan_piece_t *p) {
  if (plan_str(L, t, "text", &p->text) < 0) return -1;
  if (p->text.s) return 0;
  p->param = 1;
  return plan_str(L, t, "param", &p->text) < 0 || !p->text.s ? -1 : 0;
}

static int plan_pieces(lua_State *L, int t, const char *k, pt_plan_pieces_t *ps) {
  int rc = 0;
  PLAN_LIST(L, t, k, ps->items, ps->n, plan_piece);
  return rc;
}

static int plan_qpair(lua_State *L, int t, pt_plan_qpair_t *q) {
  q->eq = plan_bool(L, t, "eq");
  return plan_pieces(L, t, "k", &q->k) < 0 || plan_pieces(L, t, "v", &q->v) < 0 ? -1 : 0;
}

static int plan_cond_item(lua_State *L, int t, pt_plan_cond_t *k) {
  static const char *const kinds[] = {"header_eq", "has", "method_eq", "const", "not", "and", "or", NULL};
  lua_getfield(L, t, "c");
  const char *c = lua_tostring(L, -1);
  int kind = -1;
  for (int i = 0; c && kinds[i]; i++)
    if (strcmp(c, kinds[i]) == 0) kind = i;
  lua_pop(L, 1);
  if (kind < 0) return -1;
  k->kind = (pt_plan_cond_kind_t)kind;
  k->truth = plan_bool(L, t, "value");
  if (k->kind == PT_COND_CONST) return 0;
  if (plan_str(L, t, "name", &k->name) < 0 || plan_str(L, t, "default", &k->def) < 0) return -1;
  k->has_default = k->def.s != NULL;
  if (k->kind == PT_COND_HAS && !k->name.s) return -1;
  if (k->kind == PT_COND_HEADER_EQ || k->kind == PT_COND_METHOD_EQ)
    return plan_str(L, t, "value", &k->value) < 0 || !k->value.s || (k->kind == PT_COND_HEADER_EQ && !k->name.s) ? -1 : 0;
  return 0;
}

/* A postfix condition must leave exactly one value, never underflow, fit the stack. */
static int plan_cond_ok(const pt_plan_op_t *o) {
  int depth = 0;
  for (int i = 0; i < o->ncond; i++) {
    pt_plan_cond_kind_t k = o->cond[i].kind;
    if (k == PT_COND_AND || k == PT_COND_OR) depth--;
    else if (k != PT_COND_NOT) depth++;
    if (depth < 1 || depth > PT_PLAN_COND_MAX) return 0;
  }
  return depth == 1;
}

static int64_t plan_i64(lua_State *L, int t, const char *k, int *bad) {
  lua_getfield(L, t, k);
  int isint = 0;
  int64_t v = (int64_t)lua_tointegerx(L, -1, &isint);
  lua_pop(L, 1);
  if (!isint) *bad = 1;
  return v;
}

/* A piece of a native value: { text }, { header, default }, { ip = true }, { sub = true, required }. */
static int plan_vpiece(lua_State *L, int t, pt_plan_vpiece_t *p) {
  if (plan_str(L, t, "text", &p->text) < 0) return -1;
  if (p->text.s) return (p->kind = PT_VAL_TEXT), 0;
  if (plan_str(L, t, "header", &p->text) < 0 || plan_str(L, t, "default", &p->def) < 0) return -1;
  if (p->text.s) return (p->kind = PT_VAL_HEADER), 0;
  if (plan_bool(L, t, "ip")) return (p->kind = PT_VAL_IP), 0;
  p->required = plan_bool(L, t, "required");
  if (plan_bool(L, t, "sub")) return (p->kind = PT_VAL_SUB), 0;
  return -1;
}

static int plan_op(lua_State *L, int t, pt_plan_op_t *o) {
  static const char *const kinds[] = {"header_set", "header_delete", "header_lines", "header_join", "query_set",
                                       "query_delete", "query_add", "rewrite", "backend_id", "base_url",
                                       "method", "jump_unless", "jump", "check_header", "count", NULL};
  lua_getfield(L, t, "op");
  const char *op = lua_tostring(L, -1);
  int kind = -1, rc = 0;
  for (int i = 0; op && kinds[i]; i++)
    if (strcmp(op, kinds[i]) == 0) kind = i;
  lua_pop(L, 1);
  if (kind < 0) return -1; /* an op this C does not know: no plan */
  o->kind = (pt_plan_op_kind_t)kind;
  o->if_absent = plan_bool(L, t, "if_absent");
  o->copy = plan_bool(L, t, "copy");
  o->rank = plan_int(L, t, "rank");
  o->skip = plan_int(L, t, "skip");
  if (plan_str(L, t, "name", &o->name) < 0 || plan_strings(L, t, "values", &o->values, &o->nvalues) < 0 ||
      plan_pieces(L, t, "path", &o->path) < 0)
    return -1;
  PLAN_LIST(L, t, "query", o->query, o->nquery, plan_qpair);
  PLAN_LIST(L, t, "cond", o->cond, o->ncond, plan_cond_item);
  if (rc) return -1;
  if (o->kind == PT_PLAN_CHECK_HEADER) {
    o->icase = plan_bool(L, t, "icase");
    o->status = plan_int(L, t, "status");
    if (plan_str(L, t, "body", &o->body) < 0 || !o->body.s || !o->name.s || o->status < 100 || o->status > 599)
      return -1;
  }
  if (o->kind == PT_PLAN_COUNT) {
    int bad = 0;
    PLAN_LIST(L, t, "key", o->key, o->nkey, plan_vpiece);
    o->window = plan_i64(L, t, "window", &bad);
    o->calls = plan_i64(L, t, "calls", &bad);
    o->inc = plan_i64(L, t, "inc", &bad);
    o->peek = plan_bool(L, t, "peek");
    o->need_sub = plan_bool(L, t, "need_sub");
    if (rc || bad || o->nkey < 1 || !o->name.s || o->window < 1 || o->calls < 0 || o->inc < 0) return -1;
  }
  if (o->kind == PT_PLAN_JUMP_UNLESS && !plan_cond_ok(o)) return -1;
  if (o->kind <= PT_PLAN_QUERY_ADD || o->kind == PT_PLAN_BACKEND_ID || o->kind == PT_PLAN_BASE_URL ||
      o->kind == PT_PLAN_METHOD)
    if (!o->name.s) return -1;
  int need_value = o->kind == PT_PLAN_HEADER_SET || o->kind == PT_PLAN_HEADER_JOIN;
  return need_value && o->nvalues < 1 ? -1 : 0;
}

/* The plan table at t (engine.plan), or NULL when it is malformed. */
static pt_plan_t *read_plan(lua_State *L, int t) {
  pt_plan_t *p = calloc(1, sizeof *p);
  int rc = p ? 0 : -1;
  if (p) PLAN_LIST(L, t, "ops", p->ops, p->nops, plan_op);
  if (p && rc == 0) rc = plan_strings(L, t, "consumed", &p->consumed, &p->nconsumed);
  for (int i = 0; p && rc == 0 && i < p->nops; i++) /* jumps stay inside the plan */
    if ((p->ops[i].kind == PT_PLAN_JUMP || p->ops[i].kind == PT_PLAN_JUMP_UNLESS) &&
        (p->ops[i].skip < 0 || i + p->ops[i].skip >= p->nops))
      rc = -1;
  if (rc == 0) return p;
  pt_plan_free(p);
  return NULL;
}

/* engine.plan(api, operation, product) as C structs, or NULL (the Lua path). */
static const pt_plan_t *lua_plan(pt_lua_t *s, const char *api, const char *op, const char *product) {
  lua_State *L = s->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->plan_ref);
  lua_pushstring(L, api);
  lua_pushstring(L, op);
  lua_pushstring(L, product);
  const pt_plan_t *p = NULL;
  if (lua_pcall(L, 3, 1, 0) == LUA_OK && lua_istable(L, -1)) p = read_plan(L, lua_gettop(L));
  lua_pop(L, 1);
  return p;
}

pt_plan_work_t *pt_lua_plan_work(pt_lua_t *s) { return &s->plan_work; }

/* Flags (and the plan) are constant per generation: asked of Lua once per
 * combination. Past the cache, requests take the Lua path. */
void pt_lua_flags(pt_lua_t *s, const char *api, const char *op, const char *product, pt_policy_flags_t *out) {
  for (int i = 0; i < s->nflags; i++) {
    const flags_entry_t *e = &s->flags[i];
    if (e->api == api && e->op == op && e->product == product) {
      *out = e->flags;
      return;
    }
  }
  lua_flags(s, api, op, product, out);
  if (s->nflags == FLAGS_CACHE) return;
  if (out->policies && !out->request_body && !out->response_body && !getenv("PORTICO_NO_PLAN"))
    out->plan = lua_plan(s, api, op, product);
  s->flags[s->nflags++] = (flags_entry_t){api, op, product, *out};
}

/* ---- requests ------------------------------------------------------------------ */

static void push_headers(lua_State *L, const pt_headers_t *h) {
  lua_createtable(L, h ? h->count : 0, 0);
  for (int i = 0; h && i < h->count; i++) {
    lua_createtable(L, 2, 0);
    lua_pushlstring(L, pt_header_name(h, i), h->items[i].name_len);
    lua_rawseti(L, -2, 1);
    lua_pushlstring(L, pt_header_value(h, i), h->items[i].value_len);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, i + 1);
  }
}

/* req.certificate = { subject, issuer, thumbprint, serial, not_before, not_after (unix seconds) } */
static void push_certificate(lua_State *L, const pt_tls_peer_t *p) {
  lua_createtable(L, 0, 6);
  set_str(L, "subject", p->subject);
  set_str(L, "issuer", p->issuer);
  set_str(L, "thumbprint", p->thumbprint);
  set_str(L, "serial", p->serial);
  lua_pushinteger(L, p->not_before);
  lua_setfield(L, -2, "not_before");
  lua_pushinteger(L, p->not_after);
  lua_setfield(L, -2, "not_after");
  lua_setfield(L, -2, "certificate");
}

static void push_request(lua_State *L, const pt_policy_request_t *q) {
  lua_createtable(L, 0, 20);
  set_str(L, "id", q->id);
  lua_pushnumber(L, q->timestamp);
  lua_setfield(L, -2, "timestamp");
  set_str(L, "ip", q->ip);
  if (q->certificate) push_certificate(L, q->certificate);
  set_str(L, "method", q->method);
  lua_createtable(L, 0, 5);
  set_str(L, "scheme", q->scheme);
  set_str(L, "host", q->host);
  lua_pushinteger(L, q->port);
  lua_setfield(L, -2, "port");
  lua_pushlstring(L, q->path, q->path_len);
  lua_setfield(L, -2, "path");
  lua_pushlstring(L, q->query, q->query_len);
  lua_setfield(L, -2, "query");
  lua_setfield(L, -2, "url");
  lua_pushlstring(L, q->rest, q->rest_len);
  lua_setfield(L, -2, "rest");
  lua_pushlstring(L, q->query, q->query_len);
  lua_setfield(L, -2, "query");
  push_headers(L, q->headers);
  lua_setfield(L, -2, "headers");
  if (q->has_body_buffer) {
    lua_pushlstring(L, q->body ? q->body : "", q->body_len);
    lua_setfield(L, -2, "body");
  }
  set_str(L, "api_id", q->api);
  set_str(L, "operation_id", q->operation);
  set_str(L, "product_id", q->product);
  set_str(L, "service_url", q->service_url);
  if (q->subscription_id) {
    lua_createtable(L, 0, 3);
    set_str(L, "id", q->subscription_id);
    set_str(L, "key", q->subscription_key);
    set_str(L, "name", q->subscription_name);
    lua_setfield(L, -2, "subscription");
  }
  lua_createtable(L, 0, q->nparams);
  for (int i = 0; i < q->nparams; i++) {
    lua_pushlstring(L, q->param_values[i], q->param_lens[i]);
    lua_setfield(L, -2, q->param_names[i]);
  }
  lua_setfield(L, -2, "matched");
}

static char *field_dup(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  char *v = lua_type(L, -1) == LUA_TSTRING ? strdup(lua_tostring(L, -1)) : NULL;
  lua_pop(L, 1);
  return v;
}

static void read_headers(lua_State *L, int t, pt_headers_t *h) {
  lua_getfield(L, t, "headers");
  for (lua_Integer i = 1; lua_istable(L, -1) && lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
    size_t nl = 0, vl = 0;
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    const char *n = lua_tolstring(L, -2, &nl), *v = lua_tolstring(L, -1, &vl);
    if (n && v) {
      pt_headers_name_piece(h, n, nl);
      pt_headers_value_piece(h, v, vl);
    }
    lua_pop(L, 3);
  }
  lua_pop(L, 2);
}

static void calls_free(pt_policy_result_t *r) {
  for (int i = 0; i < r->ncalls; i++) {
    pt_policy_call_t *k = &r->calls[i];
    free(k->method), free(k->url);
    pt_headers_free(&k->headers);
    pt_buf_free(&k->body);
  }
  free(r->calls);
  r->calls = NULL;
  r->ncalls = 0;
}

static void result_reset(pt_policy_result_t *r) {
  calls_free(r);
  r->any = 0;
  r->sleep_ms = 0;
  free(r->method), free(r->base_url), free(r->backend_id), free(r->path), free(r->query), free(r->reason);
  free(r->error_reason), free(r->error_message), free(r->traces);
  r->method = r->base_url = r->backend_id = r->path = r->query = r->reason = NULL;
  r->error_reason = r->error_message = r->traces = NULL;
  pt_headers_reset(&r->headers);
  r->body.len = 0;
  r->status = 0;
  r->timeout_ms = 0;
  r->has_body = r->streamed = 0;
}

/* What the access log keeps of a final response: its error and its traces. */
static void read_log_fields(lua_State *L, int t, pt_policy_result_t *r) {
  if (lua_getfield(L, t, "error") == LUA_TTABLE) {
    r->error_reason = field_dup(L, lua_gettop(L), "reason");
    r->error_message = field_dup(L, lua_gettop(L), "message");
  }
  lua_pop(L, 1);
  if (lua_getfield(L, t, "traces") == LUA_TTABLE) {
    lua_getglobal(L, "require");
    lua_pushstring(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
      lua_getfield(L, -1, "encode");
      lua_pushvalue(L, -3);
      if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) r->traces = strdup(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Reads a forward request or a final response table at index t of the coroutine. */
static void read_result(lua_State *L, int t, pt_policy_step_t step, pt_policy_result_t *r) {
  result_reset(r);
  r->step = step;
  read_headers(L, t, &r->headers);
  r->method = field_dup(L, t, "method");
  r->base_url = field_dup(L, t, "base_url");
  r->backend_id = field_dup(L, t, "backend_id");
  r->path = field_dup(L, t, "path");
  r->query = field_dup(L, t, "query");
  r->reason = field_dup(L, t, "reason");
  lua_getfield(L, t, "status");
  r->status = (int)lua_tointeger(L, -1);
  lua_getfield(L, t, "timeout");
  r->timeout_ms = (uint64_t)lua_tointeger(L, -1);
  lua_getfield(L, t, "streamed");
  r->streamed = lua_toboolean(L, -1);
  lua_getfield(L, t, "last");
  r->last = lua_toboolean(L, -1);
  lua_getfield(L, t, "certificate");
  r->certificate = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : -1;
  lua_pop(L, 2);
  lua_getfield(L, t, "body");
  size_t len;
  const char *b = lua_tolstring(L, -1, &len);
  if (b) r->has_body = pt_buf_append(&r->body, b, len) == 0;
  lua_pop(L, 4);
  if (step == PT_POLICY_RESPOND) read_log_fields(L, t, r);
}

/* The last resort when the engine itself failed: APIM's 500. */
static void internal_error(pt_policy_result_t *r, const char *why) {
  static const char body[] = "{\"statusCode\": 500, \"message\": \"Internal server error\"}";
  fprintf(stderr, "portico: policy engine error: %s\n", why ? why : "unknown");
  result_reset(r);
  r->step = PT_POLICY_RESPOND;
  r->status = 500;
  pt_headers_name_piece(&r->headers, "Content-Type", 12);
  pt_headers_value_piece(&r->headers, "application/json", 16);
  r->has_body = pt_buf_append(&r->body, body, sizeof body - 1) == 0;
}

/* Every thread's extra space holds its state (threads copy the main one's,
 * coroutines made by policies included); the budget is the current run's. */
static void on_count(lua_State *co, lua_Debug *ar) {
  pt_policy_run_t *run = (*(pt_lua_t **)lua_getextraspace(co))->current;
  if (run && --run->budget < 0) luaL_error(co, "instruction budget exceeded (a runaway loop in a policy expression?)");
}

/* yield("send", calls, opts): the calls at index t, opts at t + 1. */
static void read_calls(lua_State *L, int t, pt_policy_result_t *r) {
  result_reset(r);
  r->step = PT_POLICY_SEND;
  int n = (int)luaL_len(L, t);
  r->calls = calloc((size_t)(n > 0 ? n : 1), sizeof *r->calls);
  for (int i = 0; r->calls && i < n; i++, r->ncalls++) {
    pt_policy_call_t *k = &r->calls[i];
    lua_rawgeti(L, t, i + 1);
    int c = lua_gettop(L);
    if (lua_istable(L, c)) {
      k->method = field_dup(L, c, "method");
      k->url = field_dup(L, c, "url");
      read_headers(L, c, &k->headers);
      lua_getfield(L, c, "timeout");
      k->timeout_ms = (uint64_t)lua_tointeger(L, -1);
      lua_getfield(L, c, "one_way");
      k->one_way = lua_toboolean(L, -1);
      lua_getfield(L, c, "body");
      size_t len;
      const char *b = lua_tolstring(L, -1, &len);
      if (b) k->has_body = pt_buf_append(&k->body, b, len) == 0;
      lua_pop(L, 3);
    }
    lua_pop(L, 1);
  }
  if (lua_istable(L, t + 1)) {
    lua_getfield(L, t + 1, "any");
    r->any = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
}

/* Reads what the coroutine yielded: ("forward", fwd) | ("send", calls, opts) | ("sleep", ms). */
static int read_yield(lua_State *co, int nres, pt_policy_result_t *r) {
  int base = lua_gettop(co) - nres + 1;
  const char *what = lua_tostring(co, base);
  if (!what) return -1;
  if (strcmp(what, "forward") == 0 && nres >= 2 && lua_istable(co, base + 1)) {
    read_result(co, base + 1, PT_POLICY_FORWARD, r);
  } else if (strcmp(what, "send") == 0 && nres >= 2 && lua_istable(co, base + 1)) {
    if (nres < 3) lua_pushnil(co);
    read_calls(co, base + 1, r);
  } else if (strcmp(what, "sleep") == 0 && nres >= 2) {
    result_reset(r);
    r->step = PT_POLICY_SLEEP;
    r->sleep_ms = (uint64_t)lua_tointeger(co, base + 1);
  } else {
    return -1;
  }
  return 0;
}

static void resume(pt_policy_run_t *run, int nargs, pt_policy_result_t **res) {
  lua_State *co = run->co;
  int nres = 0;
  run->owner->current = run;
  int rc = lua_resume(co, run->owner->L, nargs, &nres);
  run->owner->current = NULL;
  if (rc == LUA_YIELD && read_yield(co, nres, &run->res) == 0) {
    /* the step is in run->res */
  } else if (rc == LUA_OK && nres >= 1 && lua_istable(co, -1)) {
    read_result(co, lua_gettop(co), PT_POLICY_RESPOND, &run->res);
    run->done = 1;
  } else {
    internal_error(&run->res, rc == LUA_OK || rc == LUA_YIELD ? "engine.run answered no table" : lua_tostring(co, -1));
    run->done = 1;
  }
  lua_pop(co, nres > 0 ? nres : lua_gettop(co));
  *res = &run->res;
}

/* A run with its coroutine: from the pool (its stack already grown) or new. */
static pt_policy_run_t *run_new(pt_lua_t *s) {
  pt_policy_run_t *run = s->pool;
  if (run) {
    s->pool = run->next_idle;
    s->npool--;
    run->done = 0;
    return run;
  }
  if (!(run = calloc(1, sizeof *run))) return NULL;
  run->owner = s;
  if (!(run->co = lua_newthread(s->L))) {
    free(run);
    return NULL;
  }
  run->co_ref = luaL_ref(s->L, LUA_REGISTRYINDEX);
  if (s->budget) lua_sethook(run->co, on_count, LUA_MASKCOUNT, HOOK_EVERY);
  return run;
}

pt_policy_run_t *pt_policy_start(pt_lua_t *s, const pt_policy_request_t *req, pt_policy_result_t **res) {
  pt_policy_run_t *run = run_new(s);
  if (!run) return NULL;
  run->budget = PT_LUA_INSTRUCTION_BUDGET / HOOK_EVERY;
  lua_rawgeti(run->co, LUA_REGISTRYINDEX, s->run_ref);
  push_request(run->co, req);
  resume(run, 1, res);
  return run;
}

void pt_policy_resume(pt_policy_run_t *run, int status, const char *reason, const pt_headers_t *h,
                      const char *body, size_t body_len, int has_body, pt_policy_result_t **res) {
  lua_State *co = run->co;
  lua_createtable(co, 0, 4);
  lua_pushinteger(co, status);
  lua_setfield(co, -2, "status");
  set_str(co, "reason", reason);
  push_headers(co, h);
  lua_setfield(co, -2, "headers");
  if (has_body) {
    lua_pushlstring(co, body ? body : "", body_len);
    lua_setfield(co, -2, "body");
  }
  resume(run, 1, res);
}

void pt_policy_resume_error(pt_policy_run_t *run, const char *reason, const char *message,
                            pt_policy_result_t **res) {
  lua_State *co = run->co;
  lua_createtable(co, 0, 1);
  lua_createtable(co, 0, 3);
  set_str(co, "Source", "forward-request");
  set_str(co, "Reason", reason);
  set_str(co, "Message", message);
  lua_setfield(co, -2, "error");
  resume(run, 1, res);
}

void pt_policy_resume_calls(pt_policy_run_t *run, const pt_call_result_t *results, int n, pt_policy_result_t **res) {
  lua_State *co = run->co;
  lua_createtable(co, n, 0);
  for (int i = 0; i < n; i++) {
    const pt_call_result_t *k = &results[i];
    lua_createtable(co, 0, 4);
    if (k->one_way) {
      lua_pushboolean(co, 1);
      lua_setfield(co, -2, "one_way");
    } else if (k->status) {
      lua_pushinteger(co, k->status);
      lua_setfield(co, -2, "status");
      set_str(co, "reason", k->reason);
      push_headers(co, k->headers);
      lua_setfield(co, -2, "headers");
      lua_pushlstring(co, k->body ? k->body : "", k->body_len);
      lua_setfield(co, -2, "body");
    } else {
      lua_createtable(co, 0, 2);
      set_str(co, "Reason", k->reason ? k->reason : "BackendConnectionFailure");
      set_str(co, "Message", k->message ? k->message : "");
      lua_setfield(co, -2, "error");
    }
    lua_rawseti(co, -2, i + 1);
  }
  resume(run, 1, res);
}

void pt_policy_resume_sleep(pt_policy_run_t *run, pt_policy_result_t **res) { resume(run, 0, res); }

void pt_policy_free(pt_policy_run_t *run) {
  if (!run) return;
  pt_lua_t *s = run->owner;
  /* A finished or reset coroutine can run the next request (OpenResty does the same). */
  int reusable = lua_resetthread(run->co) == LUA_OK; /* also closes to-be-closed variables (concurrency slots) */
  result_reset(&run->res);
  if (reusable && s->npool < RUN_POOL) {
    run->next_idle = s->pool;
    s->pool = run;
    s->npool++;
    return;
  }
  luaL_unref(s->L, LUA_REGISTRYINDEX, run->co_ref);
  pt_headers_free(&run->res.headers);
  pt_buf_free(&run->res.body);
  free(run);
}
