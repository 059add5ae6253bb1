/* config.c - reads gateway.yaml into a pt_config_t (see config.h).
 * Owns the driver (read the file, parse, one document, read the sections in dependency
 * order, refuse a half-loaded result), the gateway section with its defaults, the
 * helpers the section readers share (ids, references, URL messages) and freeing.
 * The entity sections live in config_namedvalue.c, config_backend.c, config_api.c and
 * config_product.c (see config_load.h). Every problem becomes a located message
 * "file:line:col: key.path: what (fix)" and loading goes on, so that one run reports
 * them all. Does not own run-time state: the registry is built from the result. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config_load.h"

/* ---- shared helpers ---- */

int pt__id_ok(const char *s, char *why, size_t n) {
  size_t len = strlen(s);
  if (len == 0 || len > PT__ID_MAX) {
    snprintf(why, n, "must be 1 to %d characters, not %zu", PT__ID_MAX, len);
    return 0;
  }
  for (const char *p = s; *p; p++) {
    if (!isalnum((unsigned char)*p) && !strchr("._-", *p)) {
      snprintf(why, n, "'%.80s' has the character '%c' (allowed: letters, digits, '.', '_', '-')",
               s, *p);
      return 0;
    }
  }
  return 1;
}

static void each_entry(pt__loader_t *L, const char *section, yaml_node_t *m, pt__id_check check,
                       pt__entry_fn fn, int want_map) {
  pt__yaml_t *Y = &L->y;
  char path[PT__KEY_MAX], why[PT__ERR_MAX];
  if (!pt__want_map(Y, section, m)) return;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *k = pt__node(Y, p->key), *v = pt__node(Y, p->value);
    yaml_node_pair_t *q = m->data.mapping.pairs.start;
    if (!pt__key_ok(Y, section, k)) continue;
    pt__key_path(path, section, pt__sval(k));
    if (!check(pt__sval(k), why, sizeof why)) pt__fail_at(Y, k, "%s: id %s", path, why);
    while (q < p && !(pt__node(Y, q->key)->type == YAML_SCALAR_NODE &&
                      strcmp(pt__sval(pt__node(Y, q->key)), pt__sval(k)) == 0))
      q++;
    if (q < p) {
      pt__fail_at(Y, k, "%s: defined twice (first at line %d; rename or remove one)", path,
                  pt__line(pt__node(Y, q->key)));
      continue;
    }
    if (want_map && v->type != YAML_MAPPING_NODE) {
      pt__fail_at(Y, v, "%s: expected a mapping, got %s", path, pt__kind(v));
      continue;
    }
    fn(L, path, k, v);
  }
}

void pt__each_entry(pt__loader_t *L, const char *section, yaml_node_t *m, pt__id_check check,
                    pt__entry_fn fn) {
  each_entry(L, section, m, check, fn, 1);
}

const char *pt__ref_id(const char *s, const char *collection) {
  size_t n = strlen(collection);
  const char *found = NULL;
  for (const char *p = strchr(s, '/'); p; p = strchr(p + 1, '/'))
    if (strncmp(p + 1, collection, n) == 0 && p[n + 1] == '/') found = p + n + 2;
  return found ? found : s;
}

/* Copies s into buf with the user info of a URL ("//user:pass@") replaced by "***". */
static void mask_user_info(char *buf, size_t size, const char *s) {
  const char *auth = strstr(s, "://"), *at = strchr(s, '@');
  if (at && auth && at > auth && at < auth + 3 + strcspn(auth + 3, "/?#"))
    snprintf(buf, size, "%.*s***%.120s", (int)(auth + 3 - s), s, at);
  else
    snprintf(buf, size, "%.120s", s);
}

void pt__bad_url(pt__loader_t *L, const char *path, yaml_node_t *n, const char *used,
                 const char *err, int secret) {
  char written[256], result[256];
  mask_user_info(written, sizeof written, pt__sval(n));
  if (secret) {
    pt__fail_at(&L->y, n, "%s: '%s' is not a valid URL once its secret named values are "
                "substituted (the reason is not shown, as it could reveal a secret; check "
                "their values)", path, written);
  } else if (strcmp(used, pt__sval(n)) != 0) {
    mask_user_info(result, sizeof result, used);
    pt__fail_at(&L->y, n, "%s: '%s' (with named values: '%s') has %s", path, written, result, err);
  } else {
    pt__fail_at(&L->y, n, "%s: '%s' has %s", path, written, err);
  }
}

/* ---- gateway ---- */

/* The numeric settings under gateway.limits, .timeouts and .pool, one row each. */
enum { NUM_SIZE32, NUM_SIZE64, NUM_COUNT32, NUM_MS };

typedef struct num_field_s {
  const char *key;
  int kind;
  uint64_t lo; /* smallest accepted value (counts and durations) */
  size_t off;  /* in pt_config_t */
} num_field_t;

#define CFG_OFF(member) offsetof(pt_config_t, member)

static const num_field_t limit_fields[] = {
    {"maxHeaderBytes", NUM_SIZE32, 1, CFG_OFF(limits.max_header_bytes)},
    {"maxHeaders", NUM_COUNT32, 1, CFG_OFF(limits.max_headers)},
    {"maxUrlBytes", NUM_SIZE32, 1, CFG_OFF(limits.max_url_bytes)},
    {"maxBodyBytes", NUM_SIZE64, 1, CFG_OFF(limits.max_body_bytes)},
};
static const num_field_t timeout_fields[] = {
    {"headerRead", NUM_MS, 1, CFG_OFF(timeouts.header_read)},
    {"idle", NUM_MS, 1, CFG_OFF(timeouts.idle)},
    {"backendConnect", NUM_MS, 1, CFG_OFF(timeouts.backend_connect)},
    {"backend", NUM_MS, 1, CFG_OFF(timeouts.backend)},
    {"drain", NUM_MS, 0, CFG_OFF(timeouts.drain)}, /* 0: close at once on shutdown */
};
static const num_field_t pool_fields[] = {
    {"maxIdlePerOrigin", NUM_COUNT32, 0, CFG_OFF(pool.max_idle_per_origin)}, /* 0: no reuse */
    {"idleTimeout", NUM_MS, 1, CFG_OFF(pool.idle_timeout)},
    {"maxRequestsPerConnection", NUM_COUNT32, 1, CFG_OFF(pool.max_requests_per_connection)},
};

static void load_numbers(pt__loader_t *L, const char *path, yaml_node_t *map,
                         const num_field_t *f, int n) {
  pt__yaml_t *Y = &L->y;
  const char *keys[8];
  yaml_node_t *vals[8];
  char kp[PT__KEY_MAX];
  if (!pt__want_map(Y, path, map)) return;
  for (int i = 0; i < n; i++) keys[i] = f[i].key;
  pt__map_keys(Y, path, map, keys, n, vals, NULL);
  for (int i = 0; i < n; i++) {
    char *field = (char *)L->c + f[i].off;
    uint64_t v;
    int rc;
    if (!vals[i]) continue;
    pt__key_path(kp, path, f[i].key);
    if (f[i].kind == NUM_SIZE32 || f[i].kind == NUM_SIZE64)
      rc = pt__get_size(Y, kp, vals[i], f[i].kind == NUM_SIZE32 ? UINT32_MAX : UINT64_MAX, &v);
    else if (f[i].kind == NUM_COUNT32)
      rc = pt__get_uint(Y, kp, vals[i], f[i].lo, UINT32_MAX, &v);
    else
      rc = pt__get_duration(Y, kp, vals[i], f[i].lo, &v);
    if (rc < 0) continue;
    if (f[i].kind == NUM_SIZE32 || f[i].kind == NUM_COUNT32)
      *(uint32_t *)field = (uint32_t)v;
    else
      *(uint64_t *)field = v;
  }
}

static int parse_u16(const char *s, uint64_t *port) {
  uint64_t v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (!isdigit((unsigned char)*s) || (v = v * 10 + (uint64_t)(*s - '0')) > 65535) return -1;
  }
  *port = v;
  return v >= 1 ? 0 : -1;
}

/* "127.0.0.1:8080", "[::1]:8080", "*:8080", ":8080" -> addr. Literals only, no DNS. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t errlen) {
  const char *colon = strrchr(s, ':');
  char host[64];
  uint64_t port;
  size_t hlen;
  memset(ss, 0, sizeof *ss);
  if (!colon) {
    snprintf(err, errlen, "has no port (expected address:port, e.g. 127.0.0.1:8080, "
             "[::1]:8080 or *:8080)");
    return -1;
  }
  if (parse_u16(colon + 1, &port) < 0) {
    snprintf(err, errlen, "has an invalid port '%.20s' (expected 1-65535)", colon + 1);
    return -1;
  }
  hlen = (size_t)(colon - s);
  if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (hlen - 2 >= sizeof host) goto bad6;
    memcpy(host, s + 1, hlen - 2);
    host[hlen - 2] = '\0';
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) goto bad6;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    return 0;
  }
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  a4->sin_family = AF_INET;
  a4->sin_port = htons((uint16_t)port);
  if (hlen == 0 || (hlen == 1 && s[0] == '*')) {
    a4->sin_addr.s_addr = htonl(INADDR_ANY);
    return 0;
  }
  if (hlen < sizeof host) {
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) return 0;
  }
  memset(ss, 0, sizeof *ss);
  if (memchr(s, ':', hlen))
    snprintf(err, errlen, "needs brackets around an IPv6 address (e.g. [::1]:8080)");
  else
    snprintf(err, errlen, "has '%.*s', which is not an IP address (listen takes IPv4 or "
             "[IPv6] literals, no DNS names; e.g. 127.0.0.1:%d or *:%d)",
             hlen > 64 ? 64 : (int)hlen, s, (int)port, (int)port);
  return -1;
bad6:
  memset(ss, 0, sizeof *ss);
  snprintf(err, errlen, "has an invalid IPv6 address '%.*s'", hlen > 64 ? 64 : (int)hlen, s);
  return -1;
}

int pt_listen_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
}

/* "addr:port", or {address: "addr:port", tls: {...}} for an HTTPS listener. */
static void add_listen(pt__loader_t *L, const char *path, yaml_node_t *n) {
  static const char *const keys[] = {"address", "tls"};
  pt__yaml_t *Y = &L->y;
  pt_config_t *c = L->c;
  struct sockaddr_storage ss;
  char err[PT__ERR_MAX], kp[PT__KEY_MAX];
  pt_listen_t *arr;
  yaml_node_t *v[2] = {n, NULL};
  const char *item = path;
  if (n->type == YAML_MAPPING_NODE) {
    pt__map_keys(Y, path, n, keys, 2, v, NULL);
    if (!v[0]) {
      pt__fail_at(Y, n, "%s: missing 'address' (e.g. address: \"0.0.0.0:8443\")", path);
      return;
    }
    pt__key_path(kp, path, "address");
    path = kp;
    n = v[0];
  }
  if (!pt__want_string(Y, path, n, "an address like '127.0.0.1:8080'")) return;
  if (parse_listen(pt__sval(n), &ss, err, sizeof err) < 0) {
    pt__fail_at(Y, n, "%s: '%.80s' %s", path, pt__sval(n), err);
    return;
  }
  for (int i = 0; i < c->nlisten; i++) {
    if (pt_listen_same(&c->listen[i].addr, &ss)) {
      pt__fail_at(Y, n, "%s: '%.80s' is the same address as '%s' at line %d (remove one)", path,
                  pt__sval(n), c->listen[i].text, c->listen[i].line);
      return;
    }
  }
  if (!(arr = pt__grow(Y, c->listen, c->nlisten, sizeof *arr))) return;
  c->listen = arr;
  arr[c->nlisten].addr = ss;
  arr[c->nlisten].line = pt__line(n);
  arr[c->nlisten].col = pt__col(n);
  if (!(arr[c->nlisten].text = pt__sdup(Y, pt__sval(n)))) return;
  char tp[PT__KEY_MAX];
  pt__key_path(tp, item, "tls");
  if (v[1]) arr[c->nlisten].tls = pt__load_listen_tls(L, tp, v[1]);
  c->nlisten++;
}

static void load_listen(pt__loader_t *L, const char *path, yaml_node_t *n) {
  char ip[PT__KEY_MAX];
  if (n->type != YAML_SEQUENCE_NODE) {
    add_listen(L, path, n);
    return;
  }
  if (pt__seq_len(n) == 0)
    pt__fail_at(&L->y, n, "%s: no addresses (add one, e.g. [\"127.0.0.1:8080\"])", path);
  for (int i = 0; i < pt__seq_len(n); i++) {
    pt__index_path(ip, path, i);
    add_listen(L, ip, pt__seq_item(&L->y, n, i));
  }
}

static void add_hostname(pt__loader_t *L, const char *path, yaml_node_t *n) {
  pt__yaml_t *Y = &L->y;
  pt_config_t *c = L->c;
  char **arr;
  if (!pt__want_string(Y, path, n, "a host name")) return;
  for (const char *p = pt__sval(n); *p; p++) {
    if ((unsigned char)*p <= ' ' || *p == '/' || *p == 0x7f) {
      pt__fail_at(Y, n, "%s: '%.80s' is not a host name (no spaces, '/' or control characters)",
                  path, pt__sval(n));
      return;
    }
  }
  if (!*pt__sval(n)) {
    pt__fail_at(Y, n, "%s: empty host name (remove it)", path);
    return;
  }
  if (!(arr = pt__grow(Y, c->hostnames, c->nhostnames, sizeof *arr))) return;
  c->hostnames = arr;
  if (!(arr[c->nhostnames] = pt__sdup(Y, pt__sval(n)))) return;
  for (char *p = arr[c->nhostnames]; *p; p++) *p = (char)tolower((unsigned char)*p);
  c->nhostnames++;
}

static void load_hostnames(pt__loader_t *L, const char *path, yaml_node_t *n) {
  char ip[PT__KEY_MAX];
  if (pt__is_null(n)) return;
  if (n->type != YAML_SEQUENCE_NODE) {
    add_hostname(L, path, n);
    return;
  }
  for (int i = 0; i < pt__seq_len(n); i++) {
    pt__index_path(ip, path, i);
    add_hostname(L, ip, pt__seq_item(&L->y, n, i));
  }
}

/* off | false | stdout | a file path, relative to the config file's directory. */
static void load_access_log(pt__loader_t *L, const char *path, yaml_node_t *n) {
  pt__yaml_t *Y = &L->y;
  pt_config_t *c = L->c;
  const char *v;
  int plain;
  if (!pt__want_string(Y, path, n, "off, stdout or a file path")) return;
  v = pt__sval(n);
  free(c->access_log);
  c->access_log = NULL;
  plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (strcmp(v, "off") == 0 || (plain && strcmp(v, "false") == 0)) return;
  if (plain && (strcmp(v, "true") == 0 || pt__is_null(n))) {
    pt__fail_at(Y, n, "%s: expected off, stdout or a file path, got '%s'", path, v);
    return;
  }
  if (!*v) {
    pt__fail_at(Y, n, "%s: empty file name (use off, stdout or a file path)", path);
    return;
  }
  c->access_log = strcmp(v, "stdout") == 0 ? pt__sdup(Y, v) : pt__file_path(Y, v);
}

void pt__policy_file(pt__loader_t *L, const char *parent, yaml_node_t *n, char **out) {
  char kp[PT__KEY_MAX];
  if (!n) return;
  pt__key_path(kp, parent, "policy");
  if (!pt__want_string(&L->y, kp, n, "a policy document path (.xml or .lua)")) return;
  char *file = pt__file_path(&L->y, pt__sval(n));
  if (file && access(file, R_OK) != 0) {
    pt__fail_at(&L->y, n, "%s: cannot read '%s' (a path relative to this file)", kp, pt__sval(n));
    free(file);
    return;
  }
  *out = file;
}

static void load_policy_paths(pt__loader_t *L, const char *path, yaml_node_t *n) {
  pt_config_t *c = L->c;
  if (!pt__want_seq(&L->y, path, n, "[policies]")) return;
  int count = pt__seq_len(n);
  if (!(c->policy_paths = pt__grow(&L->y, NULL, 0, sizeof *c->policy_paths * (count ? count : 1)))) return;
  for (int i = 0; i < count; i++) {
    yaml_node_t *e = pt__seq_item(&L->y, n, i);
    char ip[PT__KEY_MAX];
    pt__index_path(ip, path, i);
    if (!pt__want_string(&L->y, ip, e, "a folder of policy modules")) continue;
    char *dir = pt__file_path(&L->y, pt__sval(e));
    if (dir && access(dir, R_OK | X_OK) != 0) {
      pt__fail_at(&L->y, e, "%s: cannot open folder '%s'", ip, pt__sval(e));
      free(dir);
      continue;
    }
    c->policy_paths[c->npolicy_paths++] = dir;
  }
}

/* fragments: { id: file } for <include-fragment fragment-id="id"/>. */
static void load_fragment(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *v) {
  pt_config_t *c = L->c;
  pt_fragment_cfg_t *arr = pt__grow(&L->y, c->fragments, c->nfragments, sizeof *arr);
  if (!arr) return;
  c->fragments = arr;
  pt_fragment_cfg_t *f = &arr[c->nfragments];
  char *file = NULL;
  pt__policy_file(L, path, v, &file);
  if (!file) return;
  f->id = pt__sdup(&L->y, pt__sval(k));
  f->file = file;
  f->line = pt__line(k);
  f->col = pt__col(k);
  c->nfragments++;
}

/* gateway.cache: { maxBytes: 64MiB } */
static void load_cache(pt__loader_t *L, yaml_node_t *n) {
  static const char *const keys[] = {"maxBytes"};
  yaml_node_t *v[1];
  if (!pt__want_map(&L->y, "gateway.cache", n)) return;
  pt__map_keys(&L->y, "gateway.cache", n, keys, 1, v, NULL);
  if (v[0]) pt__get_size(&L->y, "gateway.cache.maxBytes", v[0], UINT64_MAX / 2, &L->c->cache_max_bytes);
}

/* gateway.admin: { listen: "127.0.0.1:9090", token: "{{admin-token}}" } */
static void load_admin(pt__loader_t *L, yaml_node_t *n) {
  static const char *const keys[] = {"listen", "token"};
  enum { LISTEN, TOKEN, NKEYS };
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[NKEYS];
  char err[PT__ERR_MAX];
  pt_config_t *c = L->c;
  if (!n || !pt__want_map(Y, "gateway.admin", n)) return;
  pt__map_keys(Y, "gateway.admin", n, keys, NKEYS, v, NULL);
  if (!v[LISTEN] || !v[TOKEN]) {
    pt__fail_at(Y, n, "gateway.admin: needs listen and token (e.g. listen: \"127.0.0.1:9090\", "
                "token: \"{{admin-token}}\")");
    return;
  }
  if (pt__want_string(Y, "gateway.admin.listen", v[LISTEN], "an address like '127.0.0.1:9090'")) {
    if (parse_listen(pt__sval(v[LISTEN]), &c->admin.listen.addr, err, sizeof err) < 0)
      pt__fail_at(Y, v[LISTEN], "gateway.admin.listen: '%.80s' %s", pt__sval(v[LISTEN]), err);
    else {
      c->admin.listen.text = pt__sdup(Y, pt__sval(v[LISTEN]));
      c->admin.listen.line = pt__line(v[LISTEN]);
      c->admin.listen.col = pt__col(v[LISTEN]);
    }
  }
  int secret = 0;
  if (pt__substitute(L, "gateway.admin.token", v[TOKEN], &c->admin.token, &secret) == 0 &&
      c->admin.token && strlen(c->admin.token) < 16)
    pt__fail_at(Y, v[TOKEN], "gateway.admin.token: too short (use at least 16 characters)");
}

static void load_gateway(pt__loader_t *L, yaml_node_t *g) {
  static const char *const keys[] = {"id", "hostnames", "listen", "workers", "limits", "timeouts",
                                     "pool", "dnsTtl", "accessLog", "policy", "policyPaths", "maxHops",
                                     "admin", "selfChaining", "cache", "certificates", "tls"};
  enum { ID, HOSTNAMES, LISTEN, WORKERS, LIMITS, TIMEOUTS, POOL, DNS_TTL, ACCESS_LOG, POLICY,
         POLICY_PATHS, MAX_HOPS, ADMIN, SELF_CHAINING, CACHE, CERTIFICATES, TLS, NKEYS };
  pt__yaml_t *Y = &L->y;
  yaml_node_t *v[NKEYS];
  char why[PT__ERR_MAX];
  int workers;
  pt_config_t *c = L->c;

  if (!pt__want_map(Y, "gateway", g)) return;
  pt__map_keys(Y, "gateway", g, keys, NKEYS, v, NULL);
  if (v[ID] && pt__get_string(Y, "gateway.id", v[ID], &c->id) == 0 &&
      !pt__id_ok(c->id, why, sizeof why))
    pt__fail_at(Y, v[ID], "gateway.id: %s", why);
  if (v[HOSTNAMES]) load_hostnames(L, "gateway.hostnames", v[HOSTNAMES]);
  if ((L->listen_seen = v[LISTEN] != NULL)) load_listen(L, "gateway.listen", v[LISTEN]);
  if (v[WORKERS] && pt__field_int(Y, "gateway", "workers", v[WORKERS], 1, 256, &workers) == 0)
    c->workers = workers;
  if (v[LIMITS]) load_numbers(L, "gateway.limits", v[LIMITS], limit_fields, 4);
  if (v[TIMEOUTS]) load_numbers(L, "gateway.timeouts", v[TIMEOUTS], timeout_fields, 5);
  if (v[POOL]) load_numbers(L, "gateway.pool", v[POOL], pool_fields, 3);
  if (v[DNS_TTL]) pt__get_duration(Y, "gateway.dnsTtl", v[DNS_TTL], 0, &c->dns_ttl);
  if (v[ACCESS_LOG]) load_access_log(L, "gateway.accessLog", v[ACCESS_LOG]);
  pt__policy_file(L, "gateway", v[POLICY], &c->policy_file);
  if (v[POLICY_PATHS]) load_policy_paths(L, "gateway.policyPaths", v[POLICY_PATHS]);
  if (v[MAX_HOPS]) pt__field_int(Y, "gateway", "maxHops", v[MAX_HOPS], 1, 100, &c->max_hops);
  L->admin = v[ADMIN];
  if (v[CACHE]) load_cache(L, v[CACHE]);
  if (v[CERTIFICATES]) pt__load_certificates(L, "gateway.certificates", v[CERTIFICATES]);
  if (v[TLS]) pt__load_gateway_tls(L, v[TLS]);
  for (int i = 0; i < c->nlisten; i++)
    if (c->listen[i].tls && !c->listen[i].tls->cert.certificate && c->ncertificates == 0)
      pt_diag_error(Y->d, Y->file, c->listen[i].tls->line, c->listen[i].tls->col,
                    "gateway.listen: %s has tls but no certificate (add certificate and key, or "
                    "gateway.certificates)", c->listen[i].text);
  static const char *const modes[] = {"dispatch", "reject"};
  if (v[SELF_CHAINING])
    pt__field_enum(Y, "gateway", "selfChaining", v[SELF_CHAINING], "a self-chaining mode", modes, 2,
                   &c->self_chaining_reject);
}

/* ---- the document ---- */

static void set_defaults(pt__loader_t *L) {
  pt__yaml_t *Y = &L->y;
  pt_config_t *c = L->c;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  c->file = pt__sdup(Y, Y->file);
  c->id = pt__sdup(Y, "portico");
  c->workers = ncpu < 1 ? 1 : ncpu > 256 ? 256 : (int)ncpu;
  c->limits.max_header_bytes = 16384;
  c->limits.max_headers = 100;
  c->limits.max_url_bytes = 8192;
  c->limits.max_body_bytes = 104857600;
  c->timeouts.header_read = 10000;
  c->timeouts.idle = 60000;
  c->timeouts.backend_connect = 5000;
  c->timeouts.backend = 300000;
  c->timeouts.drain = 30000;
  c->pool.max_idle_per_origin = 64;
  c->pool.idle_timeout = 30000;
  c->pool.max_requests_per_connection = 1000;
  c->dns_ttl = 30000;
  c->max_hops = 10;
  c->cache_max_bytes = 64u << 20;
  c->access_log = pt__sdup(Y, "stdout");
  c->tls.session_tickets = 1;
}

static void default_listen(pt__loader_t *L) {
  pt_config_t *c = L->c;
  char err[PT__ERR_MAX];
  if (!(c->listen = pt__grow(&L->y, NULL, 0, sizeof *c->listen))) return;
  c->nlisten = 1;
  c->listen[0].text = pt__sdup(&L->y, "127.0.0.1:8080");
  parse_listen("127.0.0.1:8080", &c->listen[0].addr, err, sizeof err);
}

static void load_document(pt__loader_t *L) {
  static const char *const keys[] = {"gateway", "namedValues", "backends", "apiVersionSets",
                                     "apis", "products", "subscriptions", "fragments", "certificates"};
  enum { GATEWAY, NAMED_VALUES, BACKENDS, VERSION_SETS, APIS, PRODUCTS, SUBSCRIPTIONS, FRAGMENTS,
         CERTIFICATES, NKEYS };
  pt__yaml_t *Y = &L->y;
  yaml_node_t *root = yaml_document_get_root_node(&Y->doc), *v[NKEYS];
  if (!root || pt__is_null(root)) {
    pt_diag_error(Y->d, Y->file, 0, 0, "the file is empty (expected a mapping with gateway, "
                  "backends and apis)");
    return;
  }
  if (root->type != YAML_MAPPING_NODE) {
    pt__fail_at(Y, root, "expected a mapping with gateway, backends and apis at the top, got %s",
                pt__kind(root));
    return;
  }
  pt__map_keys(Y, "", root, keys, NKEYS, v, NULL);
  load_gateway(L, v[GATEWAY]);
  /* What is referred to comes first, whatever the order in the file. */
  pt__load_named_values(L, v[NAMED_VALUES]);
  load_admin(L, L->admin);
  pt__load_backends(L, v[BACKENDS]);
  pt__load_version_sets(L, v[VERSION_SETS]);
  /* APIM requires subscriptions by default; a configuration without any
   * subscription could never satisfy that, so there the default is open. */
  L->sub_required_default = v[SUBSCRIPTIONS] && !pt__is_null(v[SUBSCRIPTIONS]);
  pt__load_apis(L, v[APIS]);
  pt__load_products(L, v[PRODUCTS]);
  pt__load_subscriptions(L, v[SUBSCRIPTIONS]);
  if (v[FRAGMENTS]) each_entry(L, "fragments", v[FRAGMENTS], pt__id_ok, load_fragment, 0);
  if (v[CERTIFICATES]) each_entry(L, "certificates", v[CERTIFICATES], pt__id_ok, pt__load_certificate_entity, 0);
  if (!L->listen_seen) default_listen(L);
}

static void syntax_error(pt__loader_t *L, const yaml_parser_t *p) {
  pt__yaml_t *Y = &L->y;
  int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
  const char *problem = p->problem ? p->problem : "unknown problem";
  if (p->error == YAML_MEMORY_ERROR)
    Y->oom = 1;
  else if (p->error == YAML_READER_ERROR)
    pt_diag_error(Y->d, Y->file, 0, 0, "not valid YAML text: %s at byte %zu", problem,
                  p->problem_offset);
  else if (p->context)
    pt_diag_error(Y->d, Y->file, line, col, "YAML syntax error: %s (%s at line %d, column %d)",
                  problem, p->context, (int)p->context_mark.line + 1,
                  (int)p->context_mark.column + 1);
  else
    pt_diag_error(Y->d, Y->file, line, col, "YAML syntax error: %s", problem);
}

/* Loads the one document of the text; a second one is a mistake (a stray '---'). */
static void parse_and_load(pt__loader_t *L, const char *text, size_t len) {
  pt__yaml_t *Y = &L->y;
  yaml_parser_t parser;
  yaml_document_t extra;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &Y->doc)) {
    syntax_error(L, &parser);
  } else {
    load_document(L);
    yaml_document_delete(&Y->doc);
    if (!yaml_parser_load(&parser, &extra)) {
      syntax_error(L, &parser);
    } else {
      if (yaml_document_get_root_node(&extra))
        pt_diag_error(Y->d, Y->file, (int)extra.start_mark.line + 1,
                      (int)extra.start_mark.column + 1,
                      "a second YAML document (only one is read; remove the '---' and what "
                      "follows, or merge them)");
      yaml_document_delete(&extra);
    }
  }
  yaml_parser_delete(&parser);
}

pt_config_t *pt_config_load(const char *path, pt_diag_t *d) {
  pt__loader_t L = {.y = {.file = path, .d = d}};
  int errors = d->errors;
  pt_buf_t file = {0};
  if (pt_buf_read_file(&file, path, 0) < 0) {
    pt_diag_error(d, path, 0, 0, "cannot read: %s", strerror(errno));
    pt_buf_free(&file);
    return NULL;
  }
  char *text = file.base;
  size_t len = file.len;
  if (!(L.c = calloc(1, sizeof *L.c))) {
    free(text);
    pt_diag_error(d, path, 0, 0, "out of memory");
    return NULL;
  }
  set_defaults(&L);
  parse_and_load(&L, text, len);
  free(text);
  free(L.api_nodes);
  if (L.y.oom) pt_diag_error(d, path, 0, 0, "out of memory while loading");
  if (d->errors > errors) {
    pt_config_free(L.c);
    return NULL;
  }
  return L.c;
}

void pt_config_free(pt_config_t *c) {
  if (!c) return;
  free(c->file);
  free(c->id);
  for (int i = 0; i < c->nhostnames; i++) free(c->hostnames[i]);
  free(c->hostnames);
  pt__free_tls(c);
  for (int i = 0; i < c->nlisten; i++) free(c->listen[i].text);
  free(c->listen);
  free(c->access_log);
  free(c->policy_file);
  free(c->admin.listen.text);
  free(c->admin.token);
  for (int i = 0; i < c->npolicy_paths; i++) free(c->policy_paths[i]);
  free(c->policy_paths);
  for (int i = 0; i < c->nfragments; i++) free(c->fragments[i].id), free(c->fragments[i].file);
  free(c->fragments);
  pt__free_named_values(c);
  pt__free_backends(c);
  pt__free_apis(c);
  pt__free_products(c);
  free(c);
}
