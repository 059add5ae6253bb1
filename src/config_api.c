/* config_api.c - the apiVersionSets and apis sections (APIM's API, operation and
 * version set entities).
 * Owns an API's path, service URL or backend, protocols, subscription settings,
 * versioning, OpenAPI file name and operations (method + URL template), and the
 * cross-checks between APIs: paths are unique unless the APIs are versions in one
 * version set. Does not import OpenAPI (openapi.c) nor route (router.c). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_load.h"
#include "openapi.h"

#define TEMPLATE_MAX 1000 /* APIM's limit on an operation's URL template */

static int is_token(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s)) return 0;
  return 1;
}

/* A query parameter name as written in a URL: no space, control character, '&', '=', '#'. */
static int is_query_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || *s == 0x7f || strchr("&=#?", *s)) return 0;
  return 1;
}

/* A header name (header != 0) or query parameter name at `key` under path; *out keeps its
 * default when the key is absent. */
static void field_param_name(pt__loader_t *L, const char *path, const char *key, yaml_node_t *n,
                             int header, char **out) {
  char kp[PT__KEY_MAX];
  if (!n) return;
  pt__key_path(kp, path, key);
  if (!pt__want_string(&L->y, kp, n, "a name")) return;
  if (header ? !is_token(pt__sval(n)) : !is_query_name(pt__sval(n))) {
    pt__fail_at(&L->y, n, "%s: '%.80s' is not a %s name", kp, pt__sval(n),
                header ? "header" : "query parameter");
    return;
  }
  pt__get_string(&L->y, kp, n, out);
}

/* ---- version sets ---- */

static void load_version_set(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *m) {
  static const char *const keys[] = {"displayName", "description", "versioningScheme",
                                     "versionQueryName", "versionHeaderName"};
  static const char *const schemes[] = {"Segment", "Query", "Header"};
  enum { DISPLAY_NAME, DESCRIPTION, SCHEME, QUERY_NAME, HEADER_NAME, NKEYS };
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[NKEYS], *kn[NKEYS];
  pt_config_t *c = L->c;
  pt_version_set_cfg_t *arr, *vs;
  char *description = NULL;
  int scheme = -1;

  if (!(arr = pt__grow(Y, c->version_sets, c->nversion_sets, sizeof *arr))) return;
  c->version_sets = arr;
  vs = &arr[c->nversion_sets];
  if (!(vs->id = pt__sdup(Y, pt__sval(k)))) return;
  c->nversion_sets++;
  vs->line = pt__line(k);
  vs->col = pt__col(k);
  pt__map_keys(Y, path, m, keys, NKEYS, v, kn);
  pt__field_string(Y, path, "displayName", v[DISPLAY_NAME], &vs->display_name);
  if (!vs->display_name) vs->display_name = pt__sdup(Y, vs->id);
  pt__field_string(Y, path, "description", v[DESCRIPTION], &description); /* checked only */
  free(description);
  if (!v[SCHEME])
    pt__fail_at(Y, k, "%s: missing required key 'versioningScheme' (Segment, Query or Header)",
                path);
  else if (pt__field_enum(Y, path, "versioningScheme", v[SCHEME], "a versioning scheme", schemes,
                          3, &scheme) == 0)
    vs->scheme = PT_VERSION_SEGMENT + scheme;
  if (v[QUERY_NAME] && vs->scheme != PT_VERSION_QUERY)
    pt__fail_at(Y, kn[QUERY_NAME], "%s: versionQueryName is only used with versioningScheme: "
                "Query (remove it)", path);
  if (v[HEADER_NAME] && vs->scheme != PT_VERSION_HEADER)
    pt__fail_at(Y, kn[HEADER_NAME], "%s: versionHeaderName is only used with versioningScheme: "
                "Header (remove it)", path);
  field_param_name(L, path, "versionQueryName", v[QUERY_NAME], 0, &vs->name);
  field_param_name(L, path, "versionHeaderName", v[HEADER_NAME], 1, &vs->name);
  if (!vs->name && vs->scheme == PT_VERSION_QUERY) vs->name = pt__sdup(Y, "api-version");
  if (!vs->name && vs->scheme == PT_VERSION_HEADER) vs->name = pt__sdup(Y, "Api-Version");
}

void pt__load_version_sets(pt__loader_t *L, yaml_node_t *section) {
  pt__each_entry(L, "apiVersionSets", section, pt__id_ok, load_version_set);
}

/* ---- operations ---- */

/* A parameter segment or value: "{name}" with name of [A-Za-z0-9._-]; returns its length. */
static size_t param_len(const char *s, size_t n) {
  size_t k;
  if (n < 3 || s[0] != '{' || s[n - 1] != '}') return 0;
  for (k = 1; k < n - 1; k++)
    if (!isalnum((unsigned char)s[k]) && !strchr("._-", s[k])) return 0;
  return n;
}

/* Adds the parameter name s[1..n-1) to names (space separated); 0 when it is there already. */
static int new_param(char *names, size_t size, const char *s, size_t n) {
  char word[TEMPLATE_MAX + 3];
  snprintf(word, sizeof word, " %.*s ", (int)(n - 2), s + 1);
  if (strstr(names, word)) return 0;
  snprintf(names + strlen(names), size - strlen(names), "%.*s ", (int)(n - 2), s + 1);
  return 1;
}

static int path_part_error(const char *t, size_t plen, char *names, size_t nsize, char *why,
                           size_t wn) {
  for (size_t i = 1; i <= plen;) {
    size_t n = strcspn(t + i, "/?");
    const char *seg = t + i;
    if (n > plen - i) n = plen - i;
    if (n == 0 && i < plen) return snprintf(why, wn, "has an empty segment ('//')"), -1;
    if (memchr(seg, '*', n) && (n != 1 || i + n < plen))
      return snprintf(why, wn, "has '*' that is not the whole last segment (e.g. /files/*)"), -1;
    if ((memchr(seg, '{', n) || memchr(seg, '}', n)) && !param_len(seg, n))
      return snprintf(why, wn, "has '%.*s': a parameter is a whole segment '{name}' of letters, "
                      "digits, '.', '_' or '-'", (int)n, seg), -1;
    if (param_len(seg, n) && !new_param(names, nsize, seg, n))
      return snprintf(why, wn, "has the parameter '%.*s' twice", (int)n, seg), -1;
    i += n + 1;
  }
  return 0;
}

static int query_part_error(const char *q, char *names, size_t nsize, char *why, size_t wn) {
  while (*q) {
    size_t n = strcspn(q, "&"), eq = strcspn(q, "=");
    const char *val = q + eq + 1;
    size_t vlen = eq < n ? n - eq - 1 : 0;
    if (eq > n) eq = n;
    if (n && (eq == 0 || memchr(q, '{', eq) || memchr(q, '}', eq)))
      return snprintf(why, wn, "has the query item '%.*s' (expected name, name=value or "
                      "name={param})", (int)n, q), -1;
    if (vlen && (memchr(val, '{', vlen) || memchr(val, '}', vlen)) && !param_len(val, vlen))
      return snprintf(why, wn, "has '%.*s': a query parameter value is a literal or a whole "
                      "'{name}'", (int)vlen, val), -1;
    if (vlen && param_len(val, vlen) && !new_param(names, nsize, val, vlen))
      return snprintf(why, wn, "has the parameter '%.*s' twice", (int)vlen, val), -1;
    q += n + (q[n] == '&');
  }
  return 0;
}

/* An operation's URL template: "/orders/{id}", "/search?q={q}&lang=en", or one ending in a
 * wildcard segment; writes why it is wrong into why. */
static int template_error(const char *t, char *why, size_t wn) {
  char names[TEMPLATE_MAX + 3] = " ";
  size_t len = strlen(t), plen = strcspn(t, "?");
  if (t[0] != '/') return snprintf(why, wn, "must start with '/' (e.g. /orders/{id})"), -1;
  if (len > TEMPLATE_MAX)
    return snprintf(why, wn, "is %zu characters (at most %d)", len, TEMPLATE_MAX), -1;
  for (const char *p = t; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '#')
      return snprintf(why, wn, "has %s at offset %d%s", *p == '#' ? "'#'" : *p == ' ' ?
                      "a space" : "a control character", (int)(p - t),
                      *p == ' ' ? " (encode it as %20)" : ""), -1;
  if (path_part_error(t, plen, names, sizeof names, why, wn) < 0) return -1;
  return t[plen] ? query_part_error(t + plen + 1, names, sizeof names, why, wn) : 0;
}

/* Two templates are the same route when they differ only in parameter names and case. */
static int same_route(const char *a, const char *b) {
  while (*a && *b) {
    if (*a == '{' && *b == '{') {
      a += strcspn(a, "}");
      b += strcspn(b, "}");
      continue;
    }
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    a++, b++;
  }
  return *a == *b;
}

static void check_operation_twin(pt__loader_t *L, const char *path, yaml_node_t *k,
                                 const pt_api_cfg_t *a, const pt_operation_cfg_t *op) {
  for (int i = 0; i < a->noperations - 1; i++) {
    const pt_operation_cfg_t *o = &a->operations[i];
    if (o->method && o->url_template && strcmp(o->method, op->method) == 0 &&
        same_route(o->url_template, op->url_template)) {
      pt__fail_at(&L->y, k, "%s: %s %s is already operation '%s' at line %d (change the "
                  "method or template, or remove one)", path, op->method, op->url_template,
                  o->id, o->line);
      return;
    }
  }
}

static void load_method(pt__loader_t *L, const char *path, yaml_node_t *n, pt_operation_cfg_t *op) {
  static const char *const methods[] = {"GET",     "POST",  "PUT", "PATCH", "DELETE",
                                        "HEAD", "OPTIONS", "TRACE", "*"};
  int i;
  if (n && pt__field_enum(&L->y, path, "method", n, "an HTTP method", methods, 9, &i) == 0)
    op->method = pt__sdup(&L->y, methods[i]);
}

/* An operation of the API being loaded (the last one in c->apis). */
static void load_operation(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *m) {
  static const char *const keys[] = {"method", "urlTemplate", "displayName", "description", "policy"};
  enum { METHOD, TEMPLATE, DISPLAY_NAME, DESCRIPTION, POLICY, NKEYS };
  pt__yaml_t *Y = &L->y;
  pt_api_cfg_t *a = &L->c->apis[L->c->napis - 1];
  pt_operation_cfg_t *arr, *op;
  yaml_node_t *v[NKEYS];
  char kp[PT__KEY_MAX], why[PT__ERR_MAX], *description = NULL;

  if (!(arr = pt__grow(Y, a->operations, a->noperations, sizeof *arr))) return;
  a->operations = arr;
  op = &arr[a->noperations];
  if (!(op->id = pt__sdup(Y, pt__sval(k)))) return;
  a->noperations++;
  op->line = pt__line(k);
  op->col = pt__col(k);
  pt__map_keys(Y, path, m, keys, NKEYS, v, NULL);
  if (!v[METHOD]) pt__fail_at(Y, k, "%s: missing required key 'method' (e.g. method: GET)", path);
  if (!v[TEMPLATE])
    pt__fail_at(Y, k, "%s: missing required key 'urlTemplate' (e.g. urlTemplate: /orders/{id})",
                path);
  load_method(L, path, v[METHOD], op);
  pt__key_path(kp, path, "urlTemplate");
  if (v[TEMPLATE] && pt__want_string(Y, kp, v[TEMPLATE], "a URL template")) {
    if (template_error(pt__sval(v[TEMPLATE]), why, sizeof why) < 0)
      pt__fail_at(Y, v[TEMPLATE], "%s: '%.120s' %s", kp, pt__sval(v[TEMPLATE]), why);
    else
      op->url_template = pt__sdup(Y, pt__sval(v[TEMPLATE]));
  }
  pt__field_string(Y, path, "displayName", v[DISPLAY_NAME], &op->display_name);
  if (!op->display_name) op->display_name = pt__sdup(Y, op->id);
  pt__field_string(Y, path, "description", v[DESCRIPTION], &description); /* checked only */
  free(description);
  pt__policy_file(L, path, v[POLICY], &op->policy_file);
  if (op->method && op->url_template) check_operation_twin(L, path, k, a, op);
}

/* ---- APIs ---- */

/* The API path: no '?', '#', whitespace or "//"; one leading and trailing '/' dropped. */
static void load_api_path(pt__loader_t *L, const char *path, yaml_node_t *n, pt_api_cfg_t *a) {
  pt__yaml_t *Y = &L->y;
  const char *s, *bad;
  size_t len;
  if (!pt__want_string(Y, path, n, "a string")) return;
  s = pt__sval(n);
  if ((bad = strpbrk(s, "?# \t\r\n")) || strstr(s, "//")) {
    if (!bad)
      pt__fail_at(Y, n, "%s: '%.80s' has an empty segment ('//')", path, s);
    else if (*bad == '?' || *bad == '#')
      pt__fail_at(Y, n, "%s: '%.80s' has '%c' (an API path cannot hold a query or fragment)",
                  path, s, *bad);
    else
      pt__fail_at(Y, n, "%s: '%.80s' has a space (encode it as %%20)", path, s);
    return;
  }
  for (const char *p = s; *p; p++) {
    if ((unsigned char)*p < ' ' || *p == 0x7f) {
      pt__fail_at(Y, n, "%s: has a control character (remove it)", path);
      return;
    }
  }
  if (*s == '/') s++;
  len = strlen(s);
  if (len && s[len - 1] == '/') len--;
  if (!(a->path = strndup(s, len))) Y->oom = 1;
}

static void use_backend(pt__loader_t *L, const char *path, yaml_node_t *n, pt_api_cfg_t *a) {
  const pt_config_t *c = L->c;
  const pt_backend_cfg_t *b;
  const char *best;
  char list[PT__ERR_MAX], err[PT__ERR_MAX];
  if (!pt__want_string(&L->y, path, n, "a backend id")) return;
  if (!(a->backend_id = pt__sdup(&L->y, pt__ref_id(pt__sval(n), "backends")))) return;
  if (!(b = pt__find_backend(c, a->backend_id))) {
    pt__name_list(list, sizeof list, c->backends, c->nbackends, sizeof *c->backends);
    if ((best = pt__closest(a->backend_id, c->backends, c->nbackends, sizeof *c->backends)))
      pt__fail_at(&L->y, n, "%s: backend '%.80s' is not defined (did you mean '%s'?)", path,
                  a->backend_id, best);
    else if (c->nbackends)
      pt__fail_at(&L->y, n, "%s: backend '%.80s' is not defined (defined: %s)", path,
                  a->backend_id, list);
    else
      pt__fail_at(&L->y, n, "%s: backend '%.80s' is not defined (no backends are defined; add "
                  "it under backends:)", path, a->backend_id);
    return;
  }
  if (b->pool || !b->url.host) return; /* a Pool has no URL; a broken one was reported */
  a->has_secret = b->has_secret;
  if ((a->service_url_text = pt__sdup(&L->y, b->url_text)) &&
      pt_url_parse(&a->service_url, a->service_url_text, err, sizeof err) < 0)
    L->y.oom = 1; /* it parsed once already: only memory can fail */
}

static void load_service(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *url,
                         yaml_node_t *backend, yaml_node_t *url_key, yaml_node_t *backend_key,
                         pt_api_cfg_t *a) {
  char kp[PT__KEY_MAX], err[PT__ERR_MAX];
  if (url && backend) {
    yaml_node_t *second =
        url_key->start_mark.index > backend_key->start_mark.index ? url_key : backend_key;
    pt__fail_at(&L->y, second, "%s: has both serviceUrl and backend (keep one)", path);
  } else if (url) {
    pt__key_path(kp, path, "serviceUrl");
    if (pt__get_string(&L->y, kp, url, &a->service_url_text) == 0 &&
        pt_url_parse(&a->service_url, a->service_url_text, err, sizeof err) < 0)
      pt__bad_url(L, kp, url, a->service_url_text, err, 0);
  } else if (backend) {
    pt__key_path(kp, path, "backend");
    use_backend(L, kp, backend, a);
  } else if (!a->openapi_file) { /* an OpenAPI spec may bring the service URL */
    pt__fail_at(&L->y, k, "%s: needs serviceUrl or backend (e.g. serviceUrl: "
                "http://127.0.0.1:9000/api)", path);
  }
}

/* apis.<id>.openapi: operations (and what the YAML left empty) from the spec. */
static void import_openapi(pt__loader_t *L, const char *path, yaml_node_t *k, pt_api_cfg_t *a) {
  pt_openapi_options_t o = {
      .api_id = a->id,
      .path = a->path,
      .service_url_given = a->service_url_text != NULL || a->backend_id != NULL,
  };
  pt_api_cfg_t imported;
  if (pt_openapi_import(a->openapi_file, &o, &imported, L->y.d) < 0) return;
  if (pt_openapi_merge(a, &imported) < 0) pt__fail_at(&L->y, k, "%s: out of memory importing the OpenAPI spec", path);
  pt_openapi_api_free(&imported);
  if (!a->service_url_text && !a->backend_id)
    pt__fail_at(&L->y, k, "%s: the OpenAPI spec has no usable server URL: add serviceUrl or backend", path);
}

static void load_protocols(pt__loader_t *L, const char *path, yaml_node_t *n, pt_api_cfg_t *a) {
  static const char *const names[] = {"http", "https"};
  pt__yaml_t *Y = &L->y;
  char ip[PT__KEY_MAX];
  int seen[2] = {0, 0}, i;
  if (!pt__want_seq(Y, path, n, "[http, https]")) return;
  if (pt__seq_len(n) == 0) pt__fail_at(Y, n, "%s: no protocols (e.g. [http, https])", path);
  for (int k = 0; k < pt__seq_len(n); k++) {
    yaml_node_t *it = pt__seq_item(Y, n, k);
    pt__index_path(ip, path, k);
    if (pt__get_enum(Y, ip, it, "a protocol", names, 2, &i) < 0) continue;
    if (seen[i]++) {
      pt__fail_at(Y, it, "%s: '%s' is listed twice (list it once)", ip, names[i]);
      continue;
    }
    if ((a->protocols[a->nprotocols] = pt__sdup(Y, names[i]))) a->nprotocols++;
  }
}

static void load_key_names(pt__loader_t *L, const char *parent, yaml_node_t *n, pt_api_cfg_t *a) {
  static const char *const keys[] = {"header", "query"};
  yaml_node_t *v[2];
  char path[PT__KEY_MAX];
  pt__key_path(path, parent, "subscriptionKeyParameterNames");
  if (!pt__want_map(&L->y, path, n)) return;
  pt__map_keys(&L->y, path, n, keys, 2, v, NULL);
  field_param_name(L, path, "header", v[0], 1, &a->sub_key_header);
  field_param_name(L, path, "query", v[1], 0, &a->sub_key_query);
}

static void use_version_set(pt__loader_t *L, const char *path, yaml_node_t *n, pt_api_cfg_t *a) {
  const pt_config_t *c = L->c;
  const char *id, *best;
  if (!pt__want_string(&L->y, path, n, "a version set id")) return;
  id = pt__ref_id(pt__sval(n), "apiVersionSets");
  for (int i = 0; i < c->nversion_sets; i++) {
    if (strcmp(c->version_sets[i].id, id) == 0) {
      a->version_set = &c->version_sets[i];
      return;
    }
  }
  if ((best = pt__closest(id, c->version_sets, c->nversion_sets, sizeof *c->version_sets)))
    pt__fail_at(&L->y, n, "%s: version set '%.80s' is not defined (did you mean '%s'?)", path, id,
                best);
  else
    pt__fail_at(&L->y, n, "%s: version set '%.80s' is not defined (add it under "
                "apiVersionSets:)", path, id);
}

static void load_versioning(pt__loader_t *L, const char *path, yaml_node_t *version,
                            yaml_node_t *set, yaml_node_t *version_key, pt_api_cfg_t *a) {
  char kp[PT__KEY_MAX], why[PT__ERR_MAX];
  pt__key_path(kp, path, "apiVersionSetId");
  if (set) use_version_set(L, kp, set, a);
  pt__key_path(kp, path, "apiVersion");
  if (!version || pt__get_string(&L->y, kp, version, &a->api_version) < 0) return;
  if (!pt__id_ok(a->api_version, why, sizeof why))
    pt__fail_at(&L->y, version, "%s: version %s", kp, why);
  else if (!set)
    pt__fail_at(&L->y, version_key, "%s: apiVersion needs apiVersionSetId (the version set says "
                "where requests carry the version)", path);
}

/* The path is unique among APIs, except for versions of one version set, which share it. */
static void check_api_path(pt__loader_t *L, const char *path, int ai) {
  const pt_config_t *c = L->c;
  const pt_api_cfg_t *a = &c->apis[ai];
  yaml_node_t *pn = L->api_nodes[ai].path, *vn = L->api_nodes[ai].version;
  for (int i = 0; i < ai; i++) {
    const pt_api_cfg_t *o = &c->apis[i];
    yaml_node_t *on = L->api_nodes[i].path;
    int same_path, same_set = a->version_set && a->version_set == o->version_set;
    if (!o->path) continue; /* its own error was reported */
    same_path = strcasecmp(o->path, a->path) == 0;
    if (same_set && !same_path) {
      pt__fail_at(&L->y, pn, "%s.path: '%s' differs from '%s', the path of API '%s' at %s:%d:%d "
                  "in the same version set (versions of one API share its path)", path, a->path,
                  o->path, o->id, L->y.file, pt__line(on), pt__col(on));
      return;
    }
    if (!same_path) continue;
    if (!same_set) {
      pt__fail_at(&L->y, pn, "%s.path: '%s' is already the path of API '%s' at %s:%d:%d (API "
                  "paths must differ, ignoring case)%s", path, a->path, o->id, L->y.file,
                  pt__line(on), pt__col(on), a->version_set || o->version_set ?
                  "; versions of one API need the same apiVersionSetId" : "");
      return;
    }
    if (!a->api_version && !o->api_version) {
      pt__fail_at(&L->y, pn, "%s: API '%s' at line %d is already the version without apiVersion "
                  "in version set '%s' (give each version its own apiVersion)", path, o->id,
                  o->line, a->version_set->id);
      return;
    }
    if (a->api_version && o->api_version && strcasecmp(a->api_version, o->api_version) == 0) {
      pt__fail_at(&L->y, vn, "%s: version '%s' of version set '%s' is already API '%s' at line "
                  "%d (give each version its own apiVersion)", path, a->api_version,
                  a->version_set->id, o->id, o->line);
      return;
    }
  }
}

enum { A_DISPLAY_NAME, A_DESCRIPTION, A_PATH, A_SERVICE_URL, A_BACKEND, A_PROTOCOLS,
       A_SUB_REQUIRED, A_KEY_NAMES, A_VERSION, A_VERSION_SET, A_OPENAPI, A_OPERATIONS, A_POLICY, A_NKEYS };
static const char *const api_keys[] = {"displayName", "description", "path", "serviceUrl",
                                       "backend", "protocols", "subscriptionRequired",
                                       "subscriptionKeyParameterNames", "apiVersion",
                                       "apiVersionSetId", "openapi", "operations", "policy"};

static void set_api_defaults(pt__loader_t *L, pt_api_cfg_t *a) {
  pt__yaml_t *Y = &L->y;
  if (!a->display_name) a->display_name = pt__sdup(Y, a->id);
  if (!a->sub_key_header) a->sub_key_header = pt__sdup(Y, "Ocp-Apim-Subscription-Key");
  if (!a->sub_key_query) a->sub_key_query = pt__sdup(Y, "subscription-key");
  if (a->nprotocols == 0 && a->protocols) {
    a->protocols[a->nprotocols++] = pt__sdup(Y, "http");
    a->protocols[a->nprotocols++] = pt__sdup(Y, "https");
  }
}

static void load_openapi(pt__loader_t *L, const char *path, yaml_node_t *n, pt_api_cfg_t *a) {
  char kp[PT__KEY_MAX];
  pt__key_path(kp, path, "openapi");
  if (!pt__want_string(&L->y, kp, n, "a file path")) return;
  if (!*pt__sval(n))
    pt__fail_at(&L->y, n, "%s: empty file name (an OpenAPI file relative to this file)", kp);
  else
    a->openapi_file = pt__file_path(&L->y, pt__sval(n));
}

static void load_api_fields(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t **v,
                            yaml_node_t **kn, pt_api_cfg_t *a) {
  pt__yaml_t *Y = &L->y;
  char kp[PT__KEY_MAX];
  pt__field_string(Y, path, "displayName", v[A_DISPLAY_NAME], &a->display_name);
  if (v[A_OPENAPI]) load_openapi(L, path, v[A_OPENAPI], a); /* before the service: it may supply it */
  pt__field_string(Y, path, "description", v[A_DESCRIPTION], &a->description);
  pt__key_path(kp, path, "path");
  if (v[A_PATH])
    load_api_path(L, kp, v[A_PATH], a);
  else
    pt__fail_at(Y, k, "%s: missing required key 'path' (use path: \"\" to serve at the root)",
                path);
  load_service(L, path, k, v[A_SERVICE_URL], v[A_BACKEND], kn[A_SERVICE_URL], kn[A_BACKEND], a);
  pt__key_path(kp, path, "protocols");
  if (v[A_PROTOCOLS]) load_protocols(L, kp, v[A_PROTOCOLS], a);
  pt__field_bool(Y, path, "subscriptionRequired", v[A_SUB_REQUIRED], &a->subscription_required);
  if (v[A_KEY_NAMES]) load_key_names(L, path, v[A_KEY_NAMES], a);
  load_versioning(L, path, v[A_VERSION], v[A_VERSION_SET], kn[A_VERSION], a);
  pt__policy_file(L, path, v[A_POLICY], &a->policy_file);
  pt__key_path(kp, path, "operations");
  pt__each_entry(L, kp, v[A_OPERATIONS], pt__id_ok, load_operation);
}

static void load_api(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *m) {
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[A_NKEYS], *kn[A_NKEYS];
  pt_config_t *c = L->c;
  pt__api_nodes_t *nodes;
  pt_api_cfg_t *arr, *a;

  if (!(nodes = pt__grow(Y, L->api_nodes, c->napis, sizeof *nodes))) return;
  L->api_nodes = nodes;
  if (!(arr = pt__grow(Y, c->apis, c->napis, sizeof *arr))) return;
  c->apis = arr;
  a = &arr[c->napis];
  if (!(a->id = pt__sdup(Y, pt__sval(k)))) return;
  c->napis++;
  a->line = pt__line(k);
  a->col = pt__col(k);
  a->subscription_required = L->sub_required_default;
  if (!(a->protocols = pt__grow(Y, NULL, 0, 2 * sizeof *a->protocols))) return; /* http, https */
  pt__map_keys(Y, path, m, api_keys, A_NKEYS, v, kn);
  nodes[c->napis - 1].path = v[A_PATH];
  nodes[c->napis - 1].version = v[A_VERSION];
  load_api_fields(L, path, k, v, kn, a);
  if (a->openapi_file && a->path) import_openapi(L, path, k, a);
  set_api_defaults(L, a);
  if (a->path) check_api_path(L, path, c->napis - 1);
}

void pt__load_apis(pt__loader_t *L, yaml_node_t *section) {
  pt__each_entry(L, "apis", section, pt__id_ok, load_api);
}

const pt_api_cfg_t *pt__find_api(const pt_config_t *c, const char *id) {
  for (int i = 0; i < c->napis; i++)
    if (c->apis[i].id && strcmp(c->apis[i].id, id) == 0) return &c->apis[i];
  return NULL;
}

/* ---- freeing ---- */

static void free_api(pt_api_cfg_t *a) {
  free(a->id);
  free(a->display_name);
  free(a->description);
  free(a->path);
  free(a->service_url_text);
  pt_url_free(&a->service_url);
  free(a->backend_id);
  for (int i = 0; i < a->nprotocols; i++) free(a->protocols[i]);
  free(a->protocols);
  free(a->sub_key_header);
  free(a->sub_key_query);
  free(a->api_version);
  free(a->openapi_file);
  free(a->policy_file);
  for (int i = 0; i < a->noperations; i++) {
    free(a->operations[i].id);
    free(a->operations[i].method);
    free(a->operations[i].url_template);
    free(a->operations[i].display_name);
    free(a->operations[i].policy_file);
    free(a->operations[i].example_content_type); /* set when merged from an OpenAPI import */
    free(a->operations[i].example_body);
  }
  free(a->operations);
}

void pt__free_apis(pt_config_t *c) {
  for (int i = 0; i < c->napis; i++) free_api(&c->apis[i]);
  free(c->apis);
  for (int i = 0; i < c->nversion_sets; i++) {
    free(c->version_sets[i].id);
    free(c->version_sets[i].display_name);
    free(c->version_sets[i].name);
  }
  free(c->version_sets);
}
