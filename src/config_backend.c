/* config_backend.c - the backends section (APIM's backend entity).
 * Owns a backend's URL, protocol, credentials (headers, query parameters, Authorization,
 * client certificates), TLS checks, proxy, Pool members and circuit breaker, with
 * APIM's limits, and the cross-check that pool members are existing Single backends.
 * {{named values}} are substituted in the URL, credentials and proxy; a secret among
 * them marks the backend (has_secret) and keeps substituted text out of messages.
 * Does not own run-time behaviour (circuit.c, upstream.c). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_load.h"

#define POOL_MAX 30 /* APIM's limit on the services of a pool */

typedef struct backend_ctx_s {
  pt__loader_t *L;
  pt_backend_cfg_t *b;
  const char *path; /* "backends.<id>" */
} backend_ctx_t;

/* ---- URL and proxy ---- */

static void load_url(backend_ctx_t *x, const char *key, yaml_node_t *n, char **text,
                     pt_url_t *url) {
  char kp[PT__KEY_MAX], err[PT__ERR_MAX];
  pt_url_t scratch;
  int secret = 0;
  pt__key_path(kp, x->path, key);
  if (pt__substitute(x->L, kp, n, text, &secret) < 0) return;
  x->b->has_secret |= secret;
  if (pt_url_parse(url ? url : &scratch, *text, err, sizeof err) < 0)
    pt__bad_url(x->L, kp, n, *text, err, secret);
  else if (!url)
    pt_url_free(&scratch);
}

static void load_proxy(backend_ctx_t *x, yaml_node_t *n) {
  static const char *const keys[] = {"url", "username", "password"};
  enum { URL, USERNAME, PASSWORD, NKEYS };
  pt__yaml_t *Y = &x->L->y;
  yaml_node_t *v[NKEYS];
  char path[PT__KEY_MAX], kp[PT__KEY_MAX];
  backend_ctx_t px = *x;
  pt_backend_cfg_t *b = x->b;
  int secret = 0;

  pt__key_path(path, x->path, "proxy");
  if (!pt__want_map(Y, path, n)) return;
  px.path = path;
  pt__map_keys(Y, path, n, keys, NKEYS, v, NULL);
  if (v[URL])
    load_url(&px, "url", v[URL], &b->proxy_url, NULL);
  else
    pt__fail_at(Y, n, "%s: missing required key 'url' (e.g. url: http://proxy:3128)", path);
  pt__key_path(kp, path, "username");
  if (v[USERNAME]) pt__substitute(x->L, kp, v[USERNAME], &b->proxy_username, &secret);
  pt__key_path(kp, path, "password");
  if (v[PASSWORD]) pt__substitute(x->L, kp, v[PASSWORD], &b->proxy_password, &secret);
  b->has_secret |= secret;
}

static void load_tls(backend_ctx_t *x, yaml_node_t *n) {
  static const char *const keys[] = {"validateCertificateChain", "validateCertificateName", "caCertificates"};
  pt__yaml_t *Y = &x->L->y;
  yaml_node_t *v[3];
  char path[PT__KEY_MAX], kp[PT__KEY_MAX];
  pt__key_path(path, x->path, "tls");
  if (!pt__want_map(Y, path, n)) return;
  pt__map_keys(Y, path, n, keys, 3, v, NULL);
  pt__field_bool(Y, path, keys[0], v[0], &x->b->validate_chain);
  pt__field_bool(Y, path, keys[1], v[1], &x->b->validate_name);
  pt__key_path(kp, path, keys[2]);
  if (v[2]) pt__load_ca_list(x->L, kp, v[2], &x->b->cas);
}

/* ---- credentials ---- */

static int is_token(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s)) return 0;
  return 1;
}

/* Header values may hold tabs; query values are sent as written, so no spaces either. */
static int value_chars_ok(const char *s, int header) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == 0x7f || (ch < ' ' && !(header && ch == '\t')) || (!header && ch == ' ')) return 0;
  }
  return 1;
}

/* One credential value: substituted and checked; the value is never shown. */
static int add_param_value(backend_ctx_t *x, const char *path, yaml_node_t *n, pt_param_cfg_t *p,
                           int header) {
  pt__yaml_t *Y = &x->L->y;
  char **arr, *text = NULL;
  int secret = 0;
  if (pt__is_null(n)) {
    pt__fail_at(Y, n, "%s: expected a string, got nothing (write \"\" around the value)", path);
    return -1;
  }
  if (pt__substitute(x->L, path, n, &text, &secret) < 0) return -1;
  x->b->has_secret |= secret;
  if (!value_chars_ok(text, header)) {
    pt__fail_at(Y, n, "%s: the value%s has %s (not allowed in a %s)", path,
                secret || strcmp(text, pt__sval(n)) ? " (with named values)" : "",
                header ? "a line break or control character" : "a space or control character",
                header ? "header" : "query parameter; percent-encode it");
    free(text);
    return -1;
  }
  if (!(arr = pt__grow(Y, p->values, p->nvalues, sizeof *arr))) {
    free(text);
    return -1;
  }
  p->values = arr;
  arr[p->nvalues++] = text;
  return 0;
}

/* A new entry named k (values v) in *out, or NULL after reporting why it cannot be one. */
static pt_param_cfg_t *add_param(backend_ctx_t *x, const char *kp, yaml_node_t *k,
                                 yaml_node_t *v, pt_param_cfg_t **out, int *nout, int header) {
  pt__yaml_t *Y = &x->L->y;
  const char *name = pt__sval(k);
  pt_param_cfg_t *arr;
  if (header ? !is_token(name) : !*name || !value_chars_ok(name, 0)) {
    pt__fail_at(Y, k, "%s: '%.80s' is not a %s name", kp, name,
                header ? "header" : "query parameter");
    return NULL;
  }
  for (int i = 0; i < *nout; i++) {
    if ((header ? strcasecmp : strcmp)((*out)[i].name, name) == 0) {
      pt__fail_at(Y, k, "%s: '%s' is listed twice (put all its values in one list)", kp,
                  (*out)[i].name);
      return NULL;
    }
  }
  if (v->type == YAML_SEQUENCE_NODE && pt__seq_len(v) == 0) {
    pt__fail_at(Y, v, "%s: no values (add one, or remove the %s)", kp,
                header ? "header" : "parameter");
    return NULL;
  }
  if (!(arr = pt__grow(Y, *out, *nout, sizeof *arr))) return NULL;
  *out = arr;
  if (!(arr[*nout].name = pt__sdup(Y, name))) return NULL;
  return &arr[(*nout)++];
}

/* name -> [values] or name -> value, for credentials.header and credentials.query. */
static void load_params(backend_ctx_t *x, const char *key, yaml_node_t *m, pt_param_cfg_t **out,
                        int *nout) {
  pt__yaml_t *Y = &x->L->y;
  char cred[PT__KEY_MAX], path[PT__KEY_MAX], kp[PT__KEY_MAX], ip[PT__KEY_MAX];
  int header = strcmp(key, "header") == 0;
  pt__key_path(cred, x->path, "credentials");
  pt__key_path(path, cred, key);
  if (!pt__want_map(Y, path, m)) return;
  for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top; q++) {
    yaml_node_t *k = pt__node(Y, q->key), *v = pt__node(Y, q->value);
    pt_param_cfg_t *p;
    if (!pt__key_ok(Y, path, k)) continue;
    pt__key_path(kp, path, pt__sval(k));
    if (!(p = add_param(x, kp, k, v, out, nout, header))) continue;
    if (v->type != YAML_SEQUENCE_NODE) {
      add_param_value(x, kp, v, p, header);
      continue;
    }
    for (int i = 0; i < pt__seq_len(v); i++) {
      pt__index_path(ip, kp, i);
      add_param_value(x, ip, pt__seq_item(Y, v, i), p, header);
    }
  }
}

static void load_authorization(backend_ctx_t *x, const char *path, yaml_node_t *n) {
  static const char *const keys[] = {"scheme", "parameter"};
  pt__yaml_t *Y = &x->L->y;
  pt_backend_cfg_t *b = x->b;
  yaml_node_t *v[2];
  char kp[PT__KEY_MAX];
  int secret = 0;
  if (!pt__want_map(Y, path, n)) return;
  pt__map_keys(Y, path, n, keys, 2, v, NULL);
  pt__key_path(kp, path, "scheme");
  if (!v[0]) {
    pt__fail_at(Y, n, "%s: missing required key 'scheme' (e.g. scheme: Basic)", path);
  } else if (pt__substitute(x->L, kp, v[0], &b->auth_scheme, &secret) == 0 &&
             !is_token(b->auth_scheme)) {
    pt__fail_at(Y, v[0], "%s: '%.80s' is not an authorization scheme (one word, e.g. Basic or "
                "Bearer)", kp, secret ? pt__sval(v[0]) : b->auth_scheme);
  }
  pt__key_path(kp, path, "parameter");
  if (v[1] && pt__substitute(x->L, kp, v[1], &b->auth_parameter, &secret) == 0 &&
      !value_chars_ok(b->auth_parameter, 1))
    pt__fail_at(Y, v[1], "%s: the value has a line break or control character (not allowed in "
                "a header)", kp);
  b->has_secret |= secret;
}

static void add_certificate(backend_ctx_t *x, const char *path, yaml_node_t *n) {
  pt_backend_cfg_t *b = x->b;
  pt_cert_cfg_t *arr = pt__grow(&x->L->y, b->certificates, b->ncertificates, sizeof *arr);
  if (!arr) return;
  b->certificates = arr;
  if (pt__load_cert(x->L, path, n, 0, &arr[b->ncertificates]) == 0) b->ncertificates++;
  else pt__free_cert(&arr[b->ncertificates]);
}

static void load_certificates(backend_ctx_t *x, const char *path, yaml_node_t *n) {
  char ip[PT__KEY_MAX];
  if (!pt__want_seq(&x->L->y, path, n, "[{certificate: certs/c.pem, key: certs/c.key}]")) return;
  for (int i = 0; i < pt__seq_len(n); i++) {
    pt__index_path(ip, path, i);
    add_certificate(x, ip, pt__seq_item(&x->L->y, n, i));
  }
}

static void load_credentials(backend_ctx_t *x, yaml_node_t *n) {
  static const char *const keys[] = {"header", "query", "authorization", "certificate"};
  enum { HEADER, QUERY, AUTHORIZATION, CERTIFICATE, NKEYS };
  pt__yaml_t *Y = &x->L->y;
  pt_backend_cfg_t *b = x->b;
  yaml_node_t *v[NKEYS];
  char path[PT__KEY_MAX], kp[PT__KEY_MAX];
  pt__key_path(path, x->path, "credentials");
  if (!pt__want_map(Y, path, n)) return;
  pt__map_keys(Y, path, n, keys, NKEYS, v, NULL);
  if (v[HEADER]) load_params(x, "header", v[HEADER], &b->cred_headers, &b->ncred_headers);
  if (v[QUERY]) load_params(x, "query", v[QUERY], &b->cred_query, &b->ncred_query);
  pt__key_path(kp, path, "authorization");
  if (v[AUTHORIZATION]) load_authorization(x, kp, v[AUTHORIZATION]);
  pt__key_path(kp, path, "certificate");
  if (v[CERTIFICATE]) load_certificates(x, kp, v[CERTIFICATE]);
}

/* ---- circuit breaker ---- */

static void add_status_range(backend_ctx_t *x, const char *path, yaml_node_t *n,
                             pt_circuit_rule_cfg_t *r) {
  static const char *const keys[] = {"min", "max"};
  pt__yaml_t *Y = &x->L->y;
  yaml_node_t *v[2];
  pt_status_range_t range = {0, 0}, *arr;
  if (n->type != YAML_MAPPING_NODE) {
    pt__fail_at(Y, n, "%s: expected a mapping, got %s (e.g. {min: 500, max: 599})", path,
                pt__kind(n));
    return;
  }
  pt__map_keys(Y, path, n, keys, 2, v, NULL);
  if (!v[0] || !v[1]) {
    pt__fail_at(Y, n, "%s: needs min and max (e.g. {min: 500, max: 599})", path);
    return;
  }
  if (pt__field_int(Y, path, "min", v[0], 100, 599, &range.min) < 0 ||
      pt__field_int(Y, path, "max", v[1], 100, 599, &range.max) < 0)
    return;
  if (range.min > range.max) {
    pt__fail_at(Y, v[0], "%s: min %d is more than max %d (swap them)", path, range.min,
                range.max);
    return;
  }
  if (!(arr = pt__grow(Y, r->status_ranges, r->nstatus_ranges, sizeof *arr))) return;
  r->status_ranges = arr;
  arr[r->nstatus_ranges++] = range;
}

static void load_failure_lists(backend_ctx_t *x, const char *path, yaml_node_t *ranges,
                               yaml_node_t *reasons, pt_circuit_rule_cfg_t *r) {
  pt__yaml_t *Y = &x->L->y;
  char kp[PT__KEY_MAX], ip[PT__KEY_MAX];
  pt__key_path(kp, path, "statusCodeRanges");
  if (ranges && pt__want_seq(Y, kp, ranges, "[{min: 500, max: 599}]"))
    for (int i = 0; i < pt__seq_len(ranges); i++) {
      pt__index_path(ip, kp, i);
      add_status_range(x, ip, pt__seq_item(Y, ranges, i), r);
    }
  pt__key_path(kp, path, "errorReasons");
  if (reasons && pt__want_seq(Y, kp, reasons, "[BackendConnectionFailure, Timeout]"))
    for (int i = 0; i < pt__seq_len(reasons); i++) {
      yaml_node_t *it = pt__seq_item(Y, reasons, i);
      char **arr;
      pt__index_path(ip, kp, i);
      if (!pt__want_string(Y, ip, it, "a reason like Timeout")) continue;
      if (!*pt__sval(it)) {
        pt__fail_at(Y, it, "%s: empty reason (e.g. BackendConnectionFailure)", ip);
        continue;
      }
      if (!(arr = pt__grow(Y, r->error_reasons, r->nerror_reasons, sizeof *arr))) return;
      r->error_reasons = arr;
      if ((arr[r->nerror_reasons] = pt__sdup(Y, pt__sval(it)))) r->nerror_reasons++;
    }
}

static void load_failure_condition(backend_ctx_t *x, const char *path, yaml_node_t *n,
                                   pt_circuit_rule_cfg_t *r) {
  static const char *const keys[] = {"count", "percentage", "interval", "statusCodeRanges",
                                     "errorReasons"};
  enum { COUNT, PERCENTAGE, INTERVAL, RANGES, REASONS, NKEYS };
  pt__yaml_t *Y = &x->L->y;
  yaml_node_t *v[NKEYS], *kn[NKEYS];
  char kp[PT__KEY_MAX];
  uint64_t u;
  if (!pt__need_map(Y, path, n)) return;
  pt__map_keys(Y, path, n, keys, NKEYS, v, kn);
  if (v[COUNT] && v[PERCENTAGE])
    pt__fail_at(Y, kn[kn[COUNT]->start_mark.index > kn[PERCENTAGE]->start_mark.index ? COUNT :
                   PERCENTAGE], "%s: has both count and percentage (keep one)", path);
  else if (!v[COUNT] && !v[PERCENTAGE])
    pt__fail_at(Y, n, "%s: needs count or percentage (e.g. count: 3)", path);
  pt__key_path(kp, path, "count");
  if (v[COUNT] && pt__get_uint(Y, kp, v[COUNT], 1, UINT32_MAX, &u) == 0) r->count = (uint32_t)u;
  pt__key_path(kp, path, "percentage");
  if (v[PERCENTAGE] && pt__get_uint(Y, kp, v[PERCENTAGE], 1, 100, &u) == 0)
    r->percentage = (uint32_t)u;
  pt__key_path(kp, path, "interval");
  if (v[INTERVAL])
    pt__get_duration(Y, kp, v[INTERVAL], 1, &r->interval_ms);
  else
    pt__fail_at(Y, n, "%s: missing required key 'interval' (e.g. interval: 1m)", path);
  if (!v[RANGES] && !v[REASONS])
    pt__fail_at(Y, n, "%s: needs statusCodeRanges or errorReasons (what counts as a failure, "
                "e.g. statusCodeRanges: [{min: 500, max: 599}])", path);
  load_failure_lists(x, path, v[RANGES], v[REASONS], r);
}

static void load_rule(backend_ctx_t *x, const char *path, yaml_node_t *n) {
  static const char *const keys[] = {"name", "failureCondition", "tripDuration",
                                     "acceptRetryAfter", "failureResponse"};
  enum { NAME, CONDITION, TRIP, RETRY_AFTER, RESPONSE, NKEYS };
  pt__yaml_t *Y = &x->L->y;
  yaml_node_t *v[NKEYS], *rv[1];
  char kp[PT__KEY_MAX];
  pt_circuit_rule_cfg_t *r;
  if (!pt__need_map(Y, path, n)) return;
  if (!(r = x->b->circuit = pt__grow(Y, NULL, 0, sizeof *r))) return;
  r->failure_status = 503;
  pt__map_keys(Y, path, n, keys, NKEYS, v, NULL);
  if (!v[NAME])
    pt__fail_at(Y, n, "%s: missing required key 'name' (e.g. name: breaker)", path);
  pt__field_string(Y, path, "name", v[NAME], &r->name);
  pt__key_path(kp, path, "failureCondition");
  if (v[CONDITION])
    load_failure_condition(x, kp, v[CONDITION], r);
  else
    pt__fail_at(Y, n, "%s: missing required key 'failureCondition'", path);
  pt__key_path(kp, path, "tripDuration");
  if (v[TRIP])
    pt__get_duration(Y, kp, v[TRIP], 1, &r->trip_duration_ms);
  else
    pt__fail_at(Y, n, "%s: missing required key 'tripDuration' (e.g. tripDuration: 30s)", path);
  pt__field_bool(Y, path, "acceptRetryAfter", v[RETRY_AFTER], &r->accept_retry_after);
  pt__key_path(kp, path, "failureResponse");
  if (v[RESPONSE] && pt__want_map(Y, kp, v[RESPONSE])) {
    static const char *const rkeys[] = {"statusCode"};
    pt__map_keys(Y, kp, v[RESPONSE], rkeys, 1, rv, NULL);
    pt__field_int(Y, kp, "statusCode", rv[0], 200, 599, &r->failure_status);
  }
}

static void load_circuit_breaker(backend_ctx_t *x, yaml_node_t *n) {
  static const char *const keys[] = {"rules"};
  pt__yaml_t *Y = &x->L->y;
  yaml_node_t *v[1];
  char path[PT__KEY_MAX], kp[PT__KEY_MAX], rp[PT__KEY_MAX];
  pt__key_path(path, x->path, "circuitBreaker");
  if (!pt__want_map(Y, path, n)) return;
  pt__map_keys(Y, path, n, keys, 1, v, NULL);
  pt__key_path(kp, path, "rules");
  if (!v[0]) {
    pt__fail_at(Y, n, "%s: missing required key 'rules' (one rule)", path);
    return;
  }
  if (!pt__want_seq(Y, kp, v[0], "[{name: breaker, failureCondition: {...}, tripDuration: 30s}]"))
    return;
  if (pt__seq_len(v[0]) == 0) {
    pt__fail_at(Y, v[0], "%s: no rule (add one)", kp);
    return;
  }
  if (pt__seq_len(v[0]) > 1)
    pt__fail_at(Y, pt__seq_item(Y, v[0], 1), "%s[1]: APIM allows one circuit breaker rule per "
                "backend (merge the rules or remove this one)", kp);
  pt__index_path(rp, kp, 0);
  load_rule(x, rp, pt__seq_item(Y, v[0], 0));
}

/* ---- pools ---- */

static void add_member(backend_ctx_t *x, const char *path, yaml_node_t *n) {
  static const char *const keys[] = {"id", "priority", "weight"};
  pt__yaml_t *Y = &x->L->y;
  pt_backend_cfg_t *b = x->b;
  yaml_node_t *v[3];
  pt_pool_member_cfg_t *arr, *mb;
  const char *id;
  if (n->type != YAML_MAPPING_NODE) {
    pt__fail_at(Y, n, "%s: expected a mapping, got %s (e.g. {id: orders, priority: 0, "
                "weight: 1})", path, pt__kind(n));
    return;
  }
  pt__map_keys(Y, path, n, keys, 3, v, NULL);
  if (!v[0]) {
    pt__fail_at(Y, n, "%s: missing required key 'id' (a Single backend's id)", path);
    return;
  }
  if (!pt__want_string(Y, path, v[0], "a backend id")) return;
  id = pt__ref_id(pt__sval(v[0]), "backends");
  for (int i = 0; i < b->nmembers; i++) {
    if (strcmp(b->members[i].id, id) == 0) {
      pt__fail_at(Y, v[0], "%s.id: '%s' is already a member at line %d (list it once)", path, id,
                  b->members[i].line);
      return;
    }
  }
  if (!(arr = pt__grow(Y, b->members, b->nmembers, sizeof *arr))) return;
  b->members = arr;
  mb = &arr[b->nmembers];
  mb->weight = 1;
  mb->line = pt__line(v[0]);
  mb->col = pt__col(v[0]);
  pt__field_int(Y, path, "priority", v[1], 0, 100, &mb->priority);
  pt__field_int(Y, path, "weight", v[2], 1, 100, &mb->weight);
  if ((mb->id = pt__sdup(Y, id))) b->nmembers++;
}

static void load_pool(backend_ctx_t *x, yaml_node_t *n) {
  static const char *const keys[] = {"services"};
  pt__yaml_t *Y = &x->L->y;
  yaml_node_t *v[1];
  char path[PT__KEY_MAX], kp[PT__KEY_MAX], ip[PT__KEY_MAX];
  pt__key_path(path, x->path, "pool");
  if (!pt__need_map(Y, path, n)) return;
  pt__map_keys(Y, path, n, keys, 1, v, NULL);
  pt__key_path(kp, path, "services");
  if (!v[0]) {
    pt__fail_at(Y, n, "%s: missing required key 'services' (e.g. services: [{id: orders}])", path);
    return;
  }
  if (!pt__want_seq(Y, kp, v[0], "[{id: orders, priority: 0, weight: 1}]")) return;
  if (pt__seq_len(v[0]) == 0 || pt__seq_len(v[0]) > POOL_MAX) {
    pt__fail_at(Y, v[0], "%s: %d services (a pool has 1 to %d)", kp, pt__seq_len(v[0]), POOL_MAX);
    return;
  }
  for (int i = 0; i < pt__seq_len(v[0]); i++) {
    pt__index_path(ip, kp, i);
    add_member(x, ip, pt__seq_item(Y, v[0], i));
  }
}

/* After all backends: every member is a Single backend that exists. */
static void check_pool_members(pt__loader_t *L, const pt_backend_cfg_t *b) {
  const pt_config_t *c = L->c;
  for (int i = 0; i < b->nmembers; i++) {
    const pt_pool_member_cfg_t *mb = &b->members[i];
    const pt_backend_cfg_t *target = pt__find_backend(c, mb->id);
    const char *best;
    if (target && target->pool)
      pt_diag_error(L->y.d, L->y.file, mb->line, mb->col, "backends.%s.pool.services[%d].id: "
                    "'%s' is a Pool (pools do not nest; list its services instead)", b->id, i,
                    mb->id);
    else if (!target && (best = pt__closest(mb->id, c->backends, c->nbackends,
                                            sizeof *c->backends)))
      pt_diag_error(L->y.d, L->y.file, mb->line, mb->col, "backends.%s.pool.services[%d].id: "
                    "backend '%s' is not defined (did you mean '%s'?)", b->id, i, mb->id, best);
    else if (!target)
      pt_diag_error(L->y.d, L->y.file, mb->line, mb->col, "backends.%s.pool.services[%d].id: "
                    "backend '%s' is not defined (add it under backends:)", b->id, i, mb->id);
  }
}

/* ---- the backend ---- */

enum { K_URL, K_PROTOCOL, K_TITLE, K_DESCRIPTION, K_CREDENTIALS, K_TLS, K_PROXY, K_TYPE, K_POOL,
       K_CIRCUIT, K_NKEYS };
static const char *const backend_keys[] = {"url", "protocol", "title", "description",
                                           "credentials", "tls", "proxy", "type", "pool",
                                           "circuitBreaker"};

/* A Pool has no URL of its own and takes no per-connection settings: its services do. */
static void load_pool_backend(backend_ctx_t *x, yaml_node_t *k, yaml_node_t **v, yaml_node_t **kn) {
  static const int single_only[] = {K_URL, K_CREDENTIALS, K_TLS, K_PROXY, K_CIRCUIT};
  for (size_t i = 0; i < sizeof single_only / sizeof *single_only; i++)
    if (v[single_only[i]])
      pt__fail_at(&x->L->y, kn[single_only[i]], "%s: a Pool backend has no %s (set it on the "
                  "backends of pool.services)", x->path, backend_keys[single_only[i]]);
  if (v[K_POOL])
    load_pool(x, v[K_POOL]);
  else
    pt__fail_at(&x->L->y, k, "%s: type Pool needs pool.services (e.g. pool: {services: [{id: "
                "orders}]})", x->path);
}

static void load_single_backend(backend_ctx_t *x, yaml_node_t *k, yaml_node_t **v,
                                yaml_node_t **kn) {
  if (v[K_POOL])
    pt__fail_at(&x->L->y, kn[K_POOL], "%s: pool is only for type: Pool (add it, or remove pool)",
                x->path);
  if (v[K_URL])
    load_url(x, "url", v[K_URL], &x->b->url_text, &x->b->url);
  else
    pt__fail_at(&x->L->y, k, "%s: missing required key 'url' (e.g. url: http://127.0.0.1:9000/api)",
                x->path);
  if (v[K_CREDENTIALS]) load_credentials(x, v[K_CREDENTIALS]);
  if (v[K_TLS]) load_tls(x, v[K_TLS]);
  if (v[K_PROXY]) load_proxy(x, v[K_PROXY]);
  if (v[K_CIRCUIT]) load_circuit_breaker(x, v[K_CIRCUIT]);
  if (v[K_PROXY] && x->b->url_text && strcmp(x->b->url.scheme, "https") == 0)
    pt__fail_at(&x->L->y, kn[K_PROXY], "%s: an https backend cannot go through proxy yet (CONNECT "
                "tunnels are not supported: remove proxy or use an http url)", x->path);
}

static void load_backend(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *m) {
  static const char *const protocols[] = {"http", "soap"}, *const types[] = {"Single", "Pool"};
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[K_NKEYS], *kn[K_NKEYS];
  pt_config_t *c = L->c;
  pt_backend_cfg_t *arr, *b;
  backend_ctx_t x = {L, NULL, path};

  if (!(arr = pt__grow(Y, c->backends, c->nbackends, sizeof *arr))) return;
  c->backends = arr;
  b = x.b = &arr[c->nbackends];
  if (!(b->id = pt__sdup(Y, pt__sval(k)))) return;
  c->nbackends++;
  b->line = pt__line(k);
  b->col = pt__col(k);
  b->validate_chain = b->validate_name = 1;
  pt__map_keys(Y, path, m, backend_keys, K_NKEYS, v, kn);
  pt__field_enum(Y, path, "type", v[K_TYPE], "a backend type", types, 2, &b->pool);
  pt__field_enum(Y, path, "protocol", v[K_PROTOCOL], "a protocol", protocols, 2, &b->soap);
  pt__field_string(Y, path, "title", v[K_TITLE], &b->title);
  pt__field_string(Y, path, "description", v[K_DESCRIPTION], &b->description);
  if (b->pool)
    load_pool_backend(&x, k, v, kn);
  else
    load_single_backend(&x, k, v, kn);
}

void pt__load_backends(pt__loader_t *L, yaml_node_t *section) {
  pt__each_entry(L, "backends", section, pt__id_ok, load_backend);
  for (int i = 0; i < L->c->nbackends; i++) check_pool_members(L, &L->c->backends[i]);
}

const pt_backend_cfg_t *pt__find_backend(const pt_config_t *c, const char *id) {
  for (int i = 0; i < c->nbackends; i++)
    if (c->backends[i].id && strcmp(c->backends[i].id, id) == 0) return &c->backends[i];
  return NULL;
}

/* ---- freeing ---- */

static void free_params(pt_param_cfg_t *p, int n) {
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < p[i].nvalues; k++) free(p[i].values[k]);
    free(p[i].values);
    free(p[i].name);
  }
  free(p);
}

static void free_rule(pt_circuit_rule_cfg_t *r) {
  if (!r) return;
  free(r->name);
  free(r->status_ranges);
  for (int i = 0; i < r->nerror_reasons; i++) free(r->error_reasons[i]);
  free(r->error_reasons);
  free(r);
}

static void free_backend(pt_backend_cfg_t *b) {
  free(b->id);
  free(b->url_text);
  pt_url_free(&b->url);
  free(b->title);
  free(b->description);
  free_params(b->cred_headers, b->ncred_headers);
  free_params(b->cred_query, b->ncred_query);
  free(b->auth_scheme);
  free(b->auth_parameter);
  for (int i = 0; i < b->ncertificates; i++) pt__free_cert(&b->certificates[i]);
  free(b->certificates);
  pt__free_ca_list(&b->cas);
  free(b->proxy_url);
  free(b->proxy_username);
  free(b->proxy_password);
  for (int i = 0; i < b->nmembers; i++) free(b->members[i].id);
  free(b->members);
  free_rule(b->circuit);
}

void pt__free_backends(pt_config_t *c) {
  for (int i = 0; i < c->nbackends; i++) free_backend(&c->backends[i]);
  free(c->backends);
}
