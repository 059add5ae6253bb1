/* subscription.c - subscription keys and their scopes (see subscription.h). */
#include "subscription.h"

#include <string.h>

const char pt_sub_missing_message[] =
    "Access denied due to missing subscription key. Make sure to include subscription key when making "
    "requests to an API.";
const char pt_sub_invalid_message[] =
    "Access denied due to invalid subscription key. Make sure to provide a valid key for an active "
    "subscription.";

static int hex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes a query value into out; a value too long for a key is left as it is. */
static size_t decode(const char *v, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < cap; i++, o++) {
    if (v[i] == '%' && i + 2 < n && hex(v[i + 1]) >= 0 && hex(v[i + 2]) >= 0) {
      out[o] = (char)(hex(v[i + 1]) * 16 + hex(v[i + 2]));
      i += 2;
    } else {
      out[o] = v[i] == '+' ? ' ' : v[i];
    }
  }
  return o;
}

void pt_subscription_find_key(const pt_api_cfg_t *api, const pt_headers_t *h, const char *query,
                              size_t qlen, pt_sub_key_t *key) {
  memset(key, 0, sizeof *key);
  size_t qvlen = 0;
  const char *qv = api->sub_key_query ? pt_query_param(query, qlen, api->sub_key_query, &qvlen) : NULL;
  key->in_query = qv != NULL;
  key->header = api->sub_key_header ? pt_headers_find(h, api->sub_key_header, 0) : -1;
  if (key->header >= 0) {
    key->value = pt_header_value(h, key->header);
    key->len = h->items[key->header].value_len;
  } else if (qv) {
    key->len = decode(qv, qvlen, key->decoded, sizeof key->decoded);
    key->value = key->decoded;
  }
}

static int product_has(const pt_config_t *c, const char *product, const char *api) {
  for (int i = 0; i < c->nproducts; i++) {
    const pt_product_cfg_t *p = &c->products[i];
    if (strcmp(p->id, product) != 0 || !p->published) continue;
    for (int k = 0; k < p->napis; k++)
      if (strcmp(p->apis[k], api) == 0) return 1;
  }
  return 0;
}

static int opens(const pt_config_t *c, const pt_subscription_cfg_t *s, const pt_api_cfg_t *api) {
  if (!s->active) return 0;
  switch (s->scope) {
  case PT_SCOPE_ALL: return 1;
  case PT_SCOPE_API: return strcmp(s->scope_id, api->id) == 0;
  default: return product_has(c, s->scope_id, api->id);
  }
}

pt_sub_result_t pt_subscription_check(const pt_generation_t *g, const pt_api_cfg_t *api,
                                      const pt_sub_key_t *key, const pt_subscription_cfg_t **out) {
  *out = NULL;
  if (!key->value || key->len == 0) return api->subscription_required ? PT_SUB_MISSING : PT_SUB_OK;
  const pt_subscription_cfg_t *s = pt_strmap_get(&g->subscription_by_key, key->value, key->len);
  if (!s || !opens(g->config, s, api)) return PT_SUB_INVALID;
  *out = s;
  return PT_SUB_OK;
}
