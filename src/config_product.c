/* config_product.c - the products and subscriptions sections (APIM's product and
 * subscription entities).
 * Owns a product's APIs and state, a subscription's scope (all APIs, a product or an
 * API, written short or APIM's way), keys and state, and the checks that what they name
 * exists and that no key opens two subscriptions. Subscription keys are secrets: no
 * message ever shows one, only where it is written. Does not own checking requests
 * (subscription.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_load.h"

#define KEY_MAX 256 /* APIM's limit on a subscription key */

/* ---- products ---- */

static void add_product_api(pt__loader_t *L, const char *path, yaml_node_t *n,
                            pt_product_cfg_t *p) {
  pt__yaml_t *Y = &L->y;
  const pt_config_t *c = L->c;
  const char *id, *best;
  char **arr;
  if (!pt__want_string(Y, path, n, "an API id")) return;
  id = pt__ref_id(pt__sval(n), "apis");
  if (!pt__find_api(c, id)) {
    if ((best = pt__closest(id, c->apis, c->napis, sizeof *c->apis)))
      pt__fail_at(Y, n, "%s: API '%.80s' is not defined (did you mean '%s'?)", path, id, best);
    else
      pt__fail_at(Y, n, "%s: API '%.80s' is not defined (add it under apis:)", path, id);
    return;
  }
  for (int i = 0; i < p->napis; i++) {
    if (strcmp(p->apis[i], id) == 0) {
      pt__fail_at(Y, n, "%s: API '%s' is listed twice (list it once)", path, id);
      return;
    }
  }
  if (!(arr = pt__grow(Y, p->apis, p->napis, sizeof *arr))) return;
  p->apis = arr;
  if ((arr[p->napis] = pt__sdup(Y, id))) p->napis++;
}

static void load_product(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *m) {
  static const char *const keys[] = {"displayName", "description", "apis",
                                     "subscriptionRequired", "state", "policy"};
  static const char *const states[] = {"notPublished", "published"};
  enum { DISPLAY_NAME, DESCRIPTION, APIS, SUB_REQUIRED, STATE, POLICY, NKEYS };
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[NKEYS];
  pt_config_t *c = L->c;
  pt_product_cfg_t *arr, *p;
  char kp[PT__KEY_MAX], ip[PT__KEY_MAX], *description = NULL;

  if (!(arr = pt__grow(Y, c->products, c->nproducts, sizeof *arr))) return;
  c->products = arr;
  p = &arr[c->nproducts];
  if (!(p->id = pt__sdup(Y, pt__sval(k)))) return;
  c->nproducts++;
  p->line = pt__line(k);
  p->col = pt__col(k);
  p->subscription_required = p->published = 1;
  pt__map_keys(Y, path, m, keys, NKEYS, v, NULL);
  pt__field_string(Y, path, "displayName", v[DISPLAY_NAME], &p->display_name);
  if (!p->display_name) p->display_name = pt__sdup(Y, p->id);
  pt__field_string(Y, path, "description", v[DESCRIPTION], &description); /* checked only */
  free(description);
  pt__field_bool(Y, path, "subscriptionRequired", v[SUB_REQUIRED], &p->subscription_required);
  pt__field_enum(Y, path, "state", v[STATE], "a product state", states, 2, &p->published);
  pt__policy_file(L, path, v[POLICY], &p->policy_file);
  pt__key_path(kp, path, "apis");
  if (!v[APIS] || pt__is_null(v[APIS]) || !pt__want_seq(Y, kp, v[APIS], "[orders, billing]"))
    return;
  for (int i = 0; i < pt__seq_len(v[APIS]); i++) {
    pt__index_path(ip, kp, i);
    add_product_api(L, ip, pt__seq_item(Y, v[APIS], i), p);
  }
}

void pt__load_products(pt__loader_t *L, yaml_node_t *section) {
  pt__each_entry(L, "products", section, pt__id_ok, load_product);
}

static const pt_product_cfg_t *find_product(const pt_config_t *c, const char *id) {
  for (int i = 0; i < c->nproducts; i++)
    if (c->products[i].id && strcmp(c->products[i].id, id) == 0) return &c->products[i];
  return NULL;
}

/* ---- subscriptions ---- */

/* "all", "/apis", "product/x", "products/x", "api/x", "apis/x", or an APIM id ending in
 * "/products/x" or "/apis/x". Returns PT_SCOPE_* and *id, or -1. */
static int parse_scope(const char *s, const char **id) {
  static const struct {
    const char *prefix;
    int scope;
  } forms[] = {{"product/", PT_SCOPE_PRODUCT}, {"products/", PT_SCOPE_PRODUCT},
               {"api/", PT_SCOPE_API},         {"apis/", PT_SCOPE_API}};
  *id = NULL;
  if (strcasecmp(s, "all") == 0 || strcmp(s, "/apis") == 0 || strcmp(s, "apis") == 0)
    return PT_SCOPE_ALL;
  for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
    if (strncmp(s, forms[i].prefix, strlen(forms[i].prefix)) == 0) {
      *id = s + strlen(forms[i].prefix);
      return forms[i].scope;
    }
  }
  if ((*id = pt__ref_id(s, "products")) != s) return PT_SCOPE_PRODUCT;
  if ((*id = pt__ref_id(s, "apis")) != s) return PT_SCOPE_API;
  return -1;
}

static void load_scope(pt__loader_t *L, const char *path, yaml_node_t *n,
                       pt_subscription_cfg_t *s) {
  pt__yaml_t *Y = &L->y;
  const pt_config_t *c = L->c;
  const char *id, *best = NULL, *what;
  int scope, found;
  if (!pt__want_string(Y, path, n, "a scope")) return;
  if ((scope = parse_scope(pt__sval(n), &id)) < 0 || (id && !*id)) {
    pt__fail_at(Y, n, "%s: '%.80s' is not a scope (expected all, product/<id> or api/<id>)",
                path, pt__sval(n));
    return;
  }
  s->scope = scope;
  if (scope == PT_SCOPE_ALL) return;
  what = scope == PT_SCOPE_PRODUCT ? "product" : "API";
  found = scope == PT_SCOPE_PRODUCT ? find_product(c, id) != NULL : pt__find_api(c, id) != NULL;
  if (found) {
    s->scope_id = pt__sdup(Y, id);
    return;
  }
  if (scope == PT_SCOPE_PRODUCT)
    best = pt__closest(id, c->products, c->nproducts, sizeof *c->products);
  else
    best = pt__closest(id, c->apis, c->napis, sizeof *c->apis);
  if (best)
    pt__fail_at(Y, n, "%s: %s '%.80s' is not defined (did you mean '%s'?)", path, what, id, best);
  else
    pt__fail_at(Y, n, "%s: %s '%.80s' is not defined (add it under %s:)", path, what, id,
                scope == PT_SCOPE_PRODUCT ? "products" : "apis");
}

/* No key of another subscription may be the same: a request must name one subscription. */
static void check_key_twin(pt__loader_t *L, const char *path, yaml_node_t *n,
                           const pt_subscription_cfg_t *s, const char *key) {
  const pt_config_t *c = L->c;
  for (const pt_subscription_cfg_t *o = c->subscriptions; o < s; o++) {
    const char *which = o->primary_key && strcmp(o->primary_key, key) == 0     ? "primaryKey"
                        : o->secondary_key && strcmp(o->secondary_key, key) == 0 ? "secondaryKey"
                                                                                 : NULL;
    if (which) {
      pt__fail_at(&L->y, n, "%s: the same key as the %s of subscription '%s' at line %d (keys "
                  "must be unique; generate a new one, e.g. openssl rand -hex 16)", path, which,
                  o->id, o->line);
      return;
    }
  }
}

/* A key with {{named values}} substituted; its text never reaches a message. */
static void load_key(pt__loader_t *L, const char *parent, const char *name, yaml_node_t *n,
                     pt_subscription_cfg_t *s, char **out) {
  char path[PT__KEY_MAX];
  size_t len;
  pt__key_path(path, parent, name);
  if (pt__substitute(L, path, n, out, NULL) < 0) return;
  len = strlen(*out);
  if (len == 0 || len > KEY_MAX) {
    pt__fail_at(&L->y, n, "%s: the key is %zu characters (expected 1 to %d)", path, len, KEY_MAX);
  } else {
    for (const char *p = *out; *p; p++) {
      if ((unsigned char)*p <= ' ' || *p == 0x7f) {
        pt__fail_at(&L->y, n, "%s: the key has a space or control character (keys travel in a "
                    "header or query string)", path);
        return;
      }
    }
    check_key_twin(L, path, n, s, *out);
  }
}

static void load_subscription(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *m) {
  static const char *const keys[] = {"displayName", "scope", "primaryKey", "secondaryKey",
                                     "state"};
  static const char *const states[] = {"active",   "suspended", "submitted",
                                       "rejected", "cancelled", "expired"};
  enum { DISPLAY_NAME, SCOPE, PRIMARY, SECONDARY, STATE, NKEYS };
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[NKEYS];
  pt_config_t *c = L->c;
  pt_subscription_cfg_t *arr, *s;
  int state = 0;
  char kp[PT__KEY_MAX];

  if (!(arr = pt__grow(Y, c->subscriptions, c->nsubscriptions, sizeof *arr))) return;
  c->subscriptions = arr;
  s = &arr[c->nsubscriptions];
  if (!(s->id = pt__sdup(Y, pt__sval(k)))) return;
  c->nsubscriptions++;
  s->line = pt__line(k);
  s->col = pt__col(k);
  pt__map_keys(Y, path, m, keys, NKEYS, v, NULL);
  pt__field_string(Y, path, "displayName", v[DISPLAY_NAME], &s->display_name);
  if (!s->display_name) s->display_name = pt__sdup(Y, s->id);
  pt__key_path(kp, path, "scope");
  if (v[SCOPE])
    load_scope(L, kp, v[SCOPE], s);
  else
    pt__fail_at(Y, k, "%s: missing required key 'scope' (all, product/<id> or api/<id>)", path);
  if (v[PRIMARY])
    load_key(L, path, "primaryKey", v[PRIMARY], s, &s->primary_key);
  else
    pt__fail_at(Y, k, "%s: missing required key 'primaryKey' (e.g. primaryKey: "
                "\"{{alice-key}}\" with the key in namedValues)", path);
  if (v[SECONDARY]) load_key(L, path, "secondaryKey", v[SECONDARY], s, &s->secondary_key);
  if (pt__field_enum(Y, path, "state", v[STATE], "a subscription state", states, 6, &state) == 0)
    s->active = state == 0;
}

void pt__load_subscriptions(pt__loader_t *L, yaml_node_t *section) {
  pt__each_entry(L, "subscriptions", section, pt__id_ok, load_subscription);
}

/* ---- freeing ---- */

void pt__free_products(pt_config_t *c) {
  for (int i = 0; i < c->nproducts; i++) {
    pt_product_cfg_t *p = &c->products[i];
    free(p->id);
    free(p->display_name);
    free(p->policy_file);
    for (int k = 0; k < p->napis; k++) free(p->apis[k]);
    free(p->apis);
  }
  free(c->products);
  for (int i = 0; i < c->nsubscriptions; i++) {
    pt_subscription_cfg_t *s = &c->subscriptions[i];
    free(s->id);
    free(s->display_name);
    free(s->scope_id);
    free(s->primary_key);
    free(s->secondary_key);
  }
  free(c->subscriptions);
}
