/* config.c - reads gateway.yaml into a pt_config_t (see config.h).
 * Owns YAML loading, the schema (known keys, types, ranges), the defaults and the
 * cross-checks (backend references, duplicate API paths and listeners). Every problem
 * becomes a located message "file:line:col: key.path: what (fix)" in the pt_diag_t and
 * loading goes on, so that one run reports them all. Does not own run-time state: the
 * registry is built from the result elsewhere. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define ID_MAX 80
#define PATH_MAX_KEY 512 /* dotted key paths in messages; longer ones are cut */
#define ERR_MAX 512

typedef struct loc_s {
  int line, col;
} loc_t;

typedef struct loader_s {
  const char *file;
  pt_diag_t *d;
  yaml_document_t doc;
  pt_config_t *c;
  loc_t *api_path_at; /* where each API's path was written, for duplicate reports */
  int listen_seen; /* else the default listener is added */
  int oom;
} loader_t;

/* ---- messages and small helpers ---- */

static loc_t loc_of(const yaml_node_t *n) {
  loc_t l = {(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
  return l;
}

static void fail_at(loader_t *L, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_at(loader_t *L, const yaml_node_t *n, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  loc_t at = loc_of(n);
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  pt_diag_error(L->d, L->file, at.line, at.col, "%s", text);
}

static char *sdup(loader_t *L, const char *s) {
  char *r = strdup(s);
  if (!r) L->oom = 1;
  return r;
}

/* Makes room for one more element; returns the (maybe moved) array, NULL when out of memory. */
static void *grow(loader_t *L, void *arr, int n, size_t size) {
  void *r = realloc(arr, (size_t)(n + 1) * size);
  if (!r) {
    L->oom = 1;
    return NULL;
  }
  memset((char *)r + (size_t)n * size, 0, size);
  return r;
}

static void key_path(char *buf, const char *parent, const char *key) {
  snprintf(buf, PATH_MAX_KEY, *parent ? "%s.%s" : "%s%s", parent, key);
}

static yaml_node_t *node(loader_t *L, int i) { return yaml_document_get_node(&L->doc, i); }

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int is_null(const yaml_node_t *n) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++)
    if (strcmp(sval(n), nulls[i]) == 0) return 1;
  return 0;
}

static const char *kind(const yaml_node_t *n) {
  if (n->type == YAML_MAPPING_NODE) return "a mapping";
  if (n->type == YAML_SEQUENCE_NODE) return "a sequence";
  return is_null(n) ? "nothing" : "a string";
}

/* Says what a string value is when it is not usable as text in messages. */
static int want_string(loader_t *L, const char *path, yaml_node_t *n, const char *what) {
  if (n->type != YAML_SCALAR_NODE) {
    fail_at(L, n, "%s: expected %s, got %s", path, what, kind(n));
    return 0;
  }
  if (strlen(sval(n)) != n->data.scalar.length) {
    fail_at(L, n, "%s: contains a NUL character (remove it)", path);
    return 0;
  }
  return 1;
}

static int get_string(loader_t *L, const char *path, yaml_node_t *n, char **out) {
  if (!want_string(L, path, n, "a string")) return -1;
  free(*out);
  *out = sdup(L, sval(n));
  return *out ? 0 : -1;
}

/* Optimal string alignment distance, ignoring case: a swap of two letters counts once. */
static int edit_distance(const char *a, const char *b) {
  int d[64][64];
  int n = (int)strlen(a), m = (int)strlen(b);
  if (n > 63 || m > 63) return 1000;
  for (int i = 0; i <= n; i++) d[i][0] = i;
  for (int j = 0; j <= m; j++) d[0][j] = j;
  for (int i = 1; i <= n; i++) {
    for (int j = 1; j <= m; j++) {
      int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
      int v = d[i - 1][j - 1] + (ai != bj);
      if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == bj && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  }
  return d[n][m];
}

static void unknown_key(loader_t *L, const char *path, yaml_node_t *k, const char *const *keys,
                        int nkeys) {
  const char *name = sval(k), *best = NULL;
  int bestd = 1000, limit = (int)strlen(name) / 3;
  char list[ERR_MAX] = "";
  if (limit < 2) limit = 2;
  for (int i = 0; i < nkeys; i++) {
    int dist = edit_distance(name, keys[i]);
    if (dist < bestd) bestd = dist, best = keys[i];
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", keys[i]);
  }
  if (best && bestd == 0)
    fail_at(L, k, "%s: unknown key (did you mean '%s'? keys are case-sensitive)", path, best);
  else if (best && bestd <= limit)
    fail_at(L, k, "%s: unknown key (did you mean '%s'?)", path, best);
  else
    fail_at(L, k, "%s: unknown key (expected one of: %s)", path, list);
}

/* A mapping key must be a plain string; reports it otherwise. */
static int key_ok(loader_t *L, const char *parent, yaml_node_t *k) {
  if (k->type == YAML_SCALAR_NODE && strlen(sval(k)) == k->data.scalar.length) return 1;
  fail_at(L, k, "%s: keys must be strings, got %s", *parent ? parent : "top level", kind(k));
  return 0;
}

/* Finds the known keys of a mapping: vals[i] (and knodes[i]) is the value (and key) of
 * keys[i], or NULL. Unknown and repeated keys are reported here. */
static void map_keys(loader_t *L, const char *path, yaml_node_t *map, const char *const *keys,
                     int nkeys, yaml_node_t **vals, yaml_node_t **knodes) {
  char kp[PATH_MAX_KEY];
  memset(vals, 0, sizeof *vals * (size_t)nkeys);
  if (knodes) memset(knodes, 0, sizeof *knodes * (size_t)nkeys);
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
    int i;
    if (!key_ok(L, path, k)) continue;
    key_path(kp, path, sval(k));
    for (i = 0; i < nkeys && strcmp(keys[i], sval(k)) != 0; i++) {
    }
    if (i == nkeys) {
      unknown_key(L, kp, k, keys, nkeys);
    } else if (vals[i]) {
      fail_at(L, k, "%s: repeated key (first at line %d; keep one)", kp,
              (int)(knodes ? knodes[i] : vals[i])->start_mark.line + 1);
    } else {
      vals[i] = v;
      if (knodes) knodes[i] = k;
    }
  }
}

/* A section that must be a mapping; a null value counts as empty. */
static int want_map(loader_t *L, const char *path, yaml_node_t *n) {
  if (!n || is_null(n)) return 0;
  if (n->type == YAML_MAPPING_NODE) return 1;
  fail_at(L, n, "%s: expected a mapping, got %s", path, kind(n));
  return 0;
}

/* ---- numbers, durations, sizes ---- */

static int parse_u64(const char *s, size_t len, uint64_t *out) {
  uint64_t v = 0;
  if (len == 0) return -1;
  for (size_t i = 0; i < len; i++) {
    if (!isdigit((unsigned char)s[i])) return -1;
    if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10) return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

/* Splits "<digits><unit>" and multiplies by the unit's factor from the table. */
static int parse_scaled(const char *s, const char *const *units, const uint64_t *factors,
                        int nunits, uint64_t *out) {
  size_t nd = strspn(s, "0123456789");
  uint64_t v;
  if (parse_u64(s, nd, &v) < 0) return -1;
  for (int i = 0; i < nunits; i++) {
    if (strcmp(s + nd, units[i]) != 0) continue;
    if (factors[i] && v > UINT64_MAX / factors[i]) return -1;
    *out = v * factors[i];
    return 0;
  }
  return -1;
}

int pt_parse_duration(const char *s, uint64_t *ms) {
  static const char *const units[] = {"", "ms", "s", "m", "h"};
  static const uint64_t factors[] = {1000, 1, 1000, 60000, 3600000};
  return s ? parse_scaled(s, units, factors, 5, ms) : -1;
}

int pt_parse_size(const char *s, uint64_t *bytes) {
  static const char *const units[] = {"", "KiB", "MiB", "GiB", "KB", "MB", "GB"};
  static const uint64_t factors[] = {1, 1024, 1024 * 1024, 1024 * 1024 * 1024,
                                     1000, 1000000, 1000000000};
  return s ? parse_scaled(s, units, factors, 7, bytes) : -1;
}

static int get_uint(loader_t *L, const char *path, yaml_node_t *n, uint64_t lo, uint64_t hi,
                    uint64_t *out) {
  uint64_t v;
  if (!want_string(L, path, n, "an integer")) return -1;
  if (parse_u64(sval(n), n->data.scalar.length, &v) < 0 || v < lo || v > hi) {
    fail_at(L, n, "%s: '%.40s' is not an integer from %llu to %llu", path, sval(n),
            (unsigned long long)lo, (unsigned long long)hi);
    return -1;
  }
  *out = v;
  return 0;
}

static int get_size(loader_t *L, const char *path, yaml_node_t *n, uint64_t hi, uint64_t *out) {
  uint64_t v;
  if (!want_string(L, path, n, "a size")) return -1;
  if (pt_parse_size(sval(n), &v) < 0) {
    fail_at(L, n, "%s: '%.40s' is not a size (expected a number of bytes, or a number with "
            "KiB, MiB, GiB, KB, MB or GB, e.g. 16KiB)", path, sval(n));
    return -1;
  }
  if (v == 0 || v > hi) {
    fail_at(L, n, "%s: '%.40s' is out of range (expected 1 to %llu bytes)", path, sval(n),
            (unsigned long long)hi);
    return -1;
  }
  *out = v;
  return 0;
}

static int get_duration(loader_t *L, const char *path, yaml_node_t *n, uint64_t lo,
                        uint64_t *out) {
  uint64_t v;
  if (!want_string(L, path, n, "a duration")) return -1;
  if (pt_parse_duration(sval(n), &v) < 0) {
    fail_at(L, n, "%s: '%.40s' is not a duration (expected e.g. 500ms, 10s, 5m, 1h, or a "
            "number of seconds)", path, sval(n));
    return -1;
  }
  if (v < lo) {
    fail_at(L, n, "%s: must be more than 0 (e.g. 10s)", path);
    return -1;
  }
  *out = v;
  return 0;
}

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

static void load_numbers(loader_t *L, const char *path, yaml_node_t *map, const num_field_t *f,
                         int n) {
  const char *keys[8];
  yaml_node_t *vals[8];
  char kp[PATH_MAX_KEY];
  if (!want_map(L, path, map)) return;
  for (int i = 0; i < n; i++) keys[i] = f[i].key;
  map_keys(L, path, map, keys, n, vals, NULL);
  for (int i = 0; i < n; i++) {
    char *field = (char *)L->c + f[i].off;
    uint64_t v;
    int rc;
    if (!vals[i]) continue;
    key_path(kp, path, f[i].key);
    if (f[i].kind == NUM_SIZE32 || f[i].kind == NUM_SIZE64)
      rc = get_size(L, kp, vals[i], f[i].kind == NUM_SIZE32 ? UINT32_MAX : UINT64_MAX, &v);
    else if (f[i].kind == NUM_COUNT32)
      rc = get_uint(L, kp, vals[i], f[i].lo, UINT32_MAX, &v);
    else
      rc = get_duration(L, kp, vals[i], f[i].lo, &v);
    if (rc < 0) continue;
    if (f[i].kind == NUM_SIZE32 || f[i].kind == NUM_COUNT32)
      *(uint32_t *)field = (uint32_t)v;
    else
      *(uint64_t *)field = v;
  }
}

/* ---- gateway ---- */

/* Checks an id (gateway, backend, API); writes why it is wrong into why. */
static int id_ok(const char *s, char *why, size_t n) {
  size_t len = strlen(s);
  if (len == 0 || len > ID_MAX) {
    snprintf(why, n, "must be 1 to %d characters, not %zu", ID_MAX, len);
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
  if (parse_u64(colon + 1, strlen(colon + 1), &port) < 0 || port < 1 || port > 65535) {
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

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
}

static void add_listen(loader_t *L, const char *path, yaml_node_t *n) {
  pt_config_t *c = L->c;
  struct sockaddr_storage ss;
  char err[ERR_MAX];
  pt_listen_t *arr;
  if (!want_string(L, path, n, "an address like '127.0.0.1:8080'")) return;
  if (parse_listen(sval(n), &ss, err, sizeof err) < 0) {
    fail_at(L, n, "%s: '%.80s' %s", path, sval(n), err);
    return;
  }
  for (int i = 0; i < c->nlisten; i++) {
    if (same_addr(&c->listen[i].addr, &ss)) {
      fail_at(L, n, "%s: '%.80s' is the same address as '%s' at line %d (remove one)", path,
              sval(n), c->listen[i].text, c->listen[i].line);
      return;
    }
  }
  if (!(arr = grow(L, c->listen, c->nlisten, sizeof *arr))) return;
  c->listen = arr;
  arr[c->nlisten].addr = ss;
  arr[c->nlisten].line = loc_of(n).line;
  arr[c->nlisten].col = loc_of(n).col;
  if ((arr[c->nlisten].text = sdup(L, sval(n)))) c->nlisten++;
}

static void load_listen(loader_t *L, const char *path, yaml_node_t *n) {
  char ip[PATH_MAX_KEY];
  if (n->type != YAML_SEQUENCE_NODE) {
    add_listen(L, path, n);
    return;
  }
  if (n->data.sequence.items.start == n->data.sequence.items.top)
    fail_at(L, n, "%s: no addresses (add one, e.g. [\"127.0.0.1:8080\"])", path);
  for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
    snprintf(ip, sizeof ip, "%s[%d]", path, (int)(it - n->data.sequence.items.start));
    add_listen(L, ip, node(L, *it));
  }
}

static void add_hostname(loader_t *L, const char *path, yaml_node_t *n) {
  pt_config_t *c = L->c;
  char **arr;
  if (!want_string(L, path, n, "a host name")) return;
  for (const char *p = sval(n); *p; p++) {
    if ((unsigned char)*p <= ' ' || *p == '/' || *p == 0x7f) {
      fail_at(L, n, "%s: '%.80s' is not a host name (no spaces, '/' or control characters)",
              path, sval(n));
      return;
    }
  }
  if (!*sval(n)) {
    fail_at(L, n, "%s: empty host name (remove it)", path);
    return;
  }
  if (!(arr = grow(L, c->hostnames, c->nhostnames, sizeof *arr))) return;
  c->hostnames = arr;
  if (!(arr[c->nhostnames] = sdup(L, sval(n)))) return;
  for (char *p = arr[c->nhostnames]; *p; p++) *p = (char)tolower((unsigned char)*p);
  c->nhostnames++;
}

static void load_hostnames(loader_t *L, const char *path, yaml_node_t *n) {
  char ip[PATH_MAX_KEY];
  if (is_null(n)) return;
  if (n->type != YAML_SEQUENCE_NODE) {
    add_hostname(L, path, n);
    return;
  }
  for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
    snprintf(ip, sizeof ip, "%s[%d]", path, (int)(it - n->data.sequence.items.start));
    add_hostname(L, ip, node(L, *it));
  }
}

/* off | false | stdout | a file path, relative to the config file's directory. */
static void load_access_log(loader_t *L, const char *path, yaml_node_t *n) {
  pt_config_t *c = L->c;
  const char *v, *slash;
  int plain;
  if (!want_string(L, path, n, "off, stdout or a file path")) return;
  v = sval(n);
  free(c->access_log);
  c->access_log = NULL;
  plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (strcmp(v, "off") == 0 || (plain && strcmp(v, "false") == 0)) return;
  if (plain && (strcmp(v, "true") == 0 || is_null(n))) {
    fail_at(L, n, "%s: expected off, stdout or a file path, got '%s'", path, v);
    return;
  }
  if (!*v) {
    fail_at(L, n, "%s: empty file name (use off, stdout or a file path)", path);
    return;
  }
  slash = strrchr(L->file, '/');
  if (v[0] == '/' || strcmp(v, "stdout") == 0 || !slash) {
    c->access_log = sdup(L, v);
    return;
  }
  size_t dl = (size_t)(slash - L->file) + 1, n2 = dl + strlen(v) + 1;
  if (!(c->access_log = malloc(n2))) {
    L->oom = 1;
    return;
  }
  memcpy(c->access_log, L->file, dl);
  strcpy(c->access_log + dl, v);
}

static void load_gateway(loader_t *L, yaml_node_t *g) {
  static const char *const keys[] = {"id", "hostnames", "listen", "workers", "limits",
                                     "timeouts", "pool", "dnsTtl", "accessLog"};
  enum { ID, HOSTNAMES, LISTEN, WORKERS, LIMITS, TIMEOUTS, POOL, DNS_TTL, ACCESS_LOG, NKEYS };
  yaml_node_t *v[NKEYS];
  char why[ERR_MAX];
  uint64_t u;
  pt_config_t *c = L->c;

  if (!want_map(L, "gateway", g)) return;
  map_keys(L, "gateway", g, keys, NKEYS, v, NULL);
  if (v[ID] && get_string(L, "gateway.id", v[ID], &c->id) == 0 && !id_ok(c->id, why, sizeof why))
    fail_at(L, v[ID], "gateway.id: %s", why);
  if (v[HOSTNAMES]) load_hostnames(L, "gateway.hostnames", v[HOSTNAMES]);
  if ((L->listen_seen = v[LISTEN] != NULL)) load_listen(L, "gateway.listen", v[LISTEN]);
  if (v[WORKERS] && get_uint(L, "gateway.workers", v[WORKERS], 1, 256, &u) == 0) c->workers = (int)u;
  if (v[LIMITS]) load_numbers(L, "gateway.limits", v[LIMITS], limit_fields, 4);
  if (v[TIMEOUTS]) load_numbers(L, "gateway.timeouts", v[TIMEOUTS], timeout_fields, 5);
  if (v[POOL]) load_numbers(L, "gateway.pool", v[POOL], pool_fields, 3);
  if (v[DNS_TTL]) get_duration(L, "gateway.dnsTtl", v[DNS_TTL], 0, &c->dns_ttl);
  if (v[ACCESS_LOG]) load_access_log(L, "gateway.accessLog", v[ACCESS_LOG]);
}

/* ---- backends and APIs ---- */

/* Reports a URL problem; user info is not echoed, since it may carry a password. */
static void bad_url(loader_t *L, const char *path, yaml_node_t *n, const char *err) {
  const char *s = sval(n), *at = strchr(s, '@'), *auth = strstr(s, "://");
  if (at && auth && at > auth && at < auth + 3 + strcspn(auth + 3, "/?#"))
    fail_at(L, n, "%s: '%.*s***%.80s' has %s", path, (int)(auth + 3 - s), s, at, err);
  else
    fail_at(L, n, "%s: '%.120s' has %s", path, s, err);
}

/* Iterates an "id -> mapping" section; checks ids and repeats, calls fn for each entry. */
typedef void (*entry_fn)(loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *v);

static void each_entry(loader_t *L, const char *section, yaml_node_t *m, entry_fn fn) {
  char path[PATH_MAX_KEY], why[ERR_MAX];
  if (!want_map(L, section, m)) return;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
    if (!key_ok(L, section, k)) continue;
    key_path(path, section, sval(k));
    if (!id_ok(sval(k), why, sizeof why)) fail_at(L, k, "%s: id %s", path, why);
    yaml_node_pair_t *q = m->data.mapping.pairs.start;
    while (q < p && !(node(L, q->key)->type == YAML_SCALAR_NODE &&
                      strcmp(sval(node(L, q->key)), sval(k)) == 0))
      q++;
    if (q < p) {
      fail_at(L, k, "%s: defined twice (first at line %d; rename or remove one)", path,
              loc_of(node(L, q->key)).line);
      continue;
    }
    if (v->type != YAML_MAPPING_NODE) {
      fail_at(L, v, "%s: expected a mapping, got %s", path, kind(v));
      continue;
    }
    fn(L, path, k, v);
  }
}

static void load_backend(loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *m) {
  static const char *const keys[] = {"url", "title", "description", "protocol"};
  enum { URL, TITLE, DESCRIPTION, PROTOCOL, NKEYS };
  yaml_node_t *v[NKEYS];
  char kp[PATH_MAX_KEY], err[ERR_MAX];
  pt_config_t *c = L->c;
  pt_backend_cfg_t *arr, *b;

  if (!(arr = grow(L, c->backends, c->nbackends, sizeof *arr))) return;
  c->backends = arr;
  b = &arr[c->nbackends++];
  b->line = loc_of(k).line;
  b->col = loc_of(k).col;
  b->id = sdup(L, sval(k));
  map_keys(L, path, m, keys, NKEYS, v, NULL);
  if (!v[URL]) {
    fail_at(L, k, "%s: missing required key 'url' (e.g. url: http://127.0.0.1:9000/api)", path);
  } else {
    key_path(kp, path, "url");
    if (get_string(L, kp, v[URL], &b->url_text) == 0 &&
        pt_url_parse(&b->url, b->url_text, err, sizeof err) < 0)
      bad_url(L, kp, v[URL], err);
  }
  key_path(kp, path, "title");
  if (v[TITLE]) get_string(L, kp, v[TITLE], &b->title);
  key_path(kp, path, "description");
  if (v[DESCRIPTION]) get_string(L, kp, v[DESCRIPTION], &b->description);
  key_path(kp, path, "protocol");
  if (v[PROTOCOL] && want_string(L, kp, v[PROTOCOL], "http or soap") &&
      strcmp(sval(v[PROTOCOL]), "http") != 0 && strcmp(sval(v[PROTOCOL]), "soap") != 0)
    fail_at(L, v[PROTOCOL], "%s: '%.40s' is not a protocol (expected http or soap)", kp,
            sval(v[PROTOCOL]));
}

static const pt_backend_cfg_t *find_backend(const pt_config_t *c, const char *id) {
  for (int i = 0; i < c->nbackends; i++)
    if (c->backends[i].id && strcmp(c->backends[i].id, id) == 0) return &c->backends[i];
  return NULL;
}

static void use_backend(loader_t *L, const char *path, yaml_node_t *n, pt_api_cfg_t *a) {
  const pt_config_t *c = L->c;
  const pt_backend_cfg_t *b;
  char list[ERR_MAX] = "", err[ERR_MAX];
  if (get_string(L, path, n, &a->backend_id) < 0) return;
  if (!(b = find_backend(c, a->backend_id))) {
    for (int i = 0; i < c->nbackends && strlen(list) < 200; i++)
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
               c->backends[i].id);
    if (c->nbackends)
      fail_at(L, n, "%s: backend '%.80s' is not defined (defined: %s)", path, a->backend_id, list);
    else
      fail_at(L, n, "%s: backend '%.80s' is not defined (no backends are defined; add it "
              "under backends:)", path, a->backend_id);
    return;
  }
  if (!b->url.host) return; /* the backend's own error says why */
  if ((a->service_url_text = sdup(L, b->url_text)) &&
      pt_url_parse(&a->service_url, a->service_url_text, err, sizeof err) < 0)
    bad_url(L, path, n, err); /* only when out of memory: it parsed once already */
}

/* The API path: no '?', '#', whitespace or "//"; one leading and trailing '/' dropped. */
static void load_api_path(loader_t *L, const char *path, yaml_node_t *n, pt_api_cfg_t *a) {
  const char *s, *bad;
  size_t len;
  pt_config_t *c = L->c;
  if (!want_string(L, path, n, "a string")) return;
  s = sval(n);
  if ((bad = strpbrk(s, "?# \t\r\n")) || strstr(s, "//")) {
    if (!bad)
      fail_at(L, n, "%s: '%.80s' has an empty segment ('//')", path, s);
    else if (*bad == '?' || *bad == '#')
      fail_at(L, n, "%s: '%.80s' has '%c' (an API path cannot hold a query or fragment)", path,
              s, *bad);
    else
      fail_at(L, n, "%s: '%.80s' has a space (encode it as %%20)", path, s);
    return;
  }
  for (const char *p = s; *p; p++) {
    if ((unsigned char)*p < ' ' || *p == 0x7f) {
      fail_at(L, n, "%s: has a control character (remove it)", path);
      return;
    }
  }
  if (*s == '/') s++;
  len = strlen(s);
  if (len && s[len - 1] == '/') len--;
  if (!(a->path = strndup(s, len))) {
    L->oom = 1;
    return;
  }
  for (int i = 0; i < c->napis - 1; i++) {
    if (c->apis[i].path && strcasecmp(c->apis[i].path, a->path) == 0) {
      fail_at(L, n, "%s: '%s' is already the path of API '%s' at %s:%d:%d (API paths must "
              "differ, ignoring case)", path, a->path, c->apis[i].id, L->file,
              L->api_path_at[i].line, L->api_path_at[i].col);
      return;
    }
  }
  L->api_path_at[c->napis - 1] = loc_of(n);
}

static void load_api(loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *m) {
  static const char *const keys[] = {"displayName", "path", "serviceUrl", "backend",
                                     "description"};
  enum { DISPLAY_NAME, PATH, SERVICE_URL, BACKEND, DESCRIPTION, NKEYS };
  yaml_node_t *v[NKEYS], *kn[NKEYS];
  char kp[PATH_MAX_KEY], err[ERR_MAX];
  pt_config_t *c = L->c;
  pt_api_cfg_t *arr, *a;
  loc_t *at;
  char *description = NULL;

  if (!(at = grow(L, L->api_path_at, c->napis, sizeof *at))) return;
  L->api_path_at = at;
  if (!(arr = grow(L, c->apis, c->napis, sizeof *arr))) return;
  c->apis = arr;
  a = &arr[c->napis++];
  a->line = loc_of(k).line;
  a->col = loc_of(k).col;
  a->id = sdup(L, sval(k));
  map_keys(L, path, m, keys, NKEYS, v, kn);

  key_path(kp, path, "displayName");
  if (v[DISPLAY_NAME]) get_string(L, kp, v[DISPLAY_NAME], &a->display_name);
  if (!a->display_name) a->display_name = sdup(L, sval(k));
  key_path(kp, path, "description");
  if (v[DESCRIPTION]) get_string(L, kp, v[DESCRIPTION], &description); /* checked, not kept */
  free(description);
  key_path(kp, path, "path");
  if (v[PATH])
    load_api_path(L, kp, v[PATH], a);
  else
    fail_at(L, k, "%s: missing required key 'path' (use path: \"\" to serve at the root)", path);

  if (v[SERVICE_URL] && v[BACKEND]) {
    yaml_node_t *second = kn[SERVICE_URL]->start_mark.index > kn[BACKEND]->start_mark.index
                              ? kn[SERVICE_URL] : kn[BACKEND];
    fail_at(L, second, "%s: has both serviceUrl and backend (keep one)", path);
  } else if (v[SERVICE_URL]) {
    key_path(kp, path, "serviceUrl");
    if (get_string(L, kp, v[SERVICE_URL], &a->service_url_text) == 0 &&
        pt_url_parse(&a->service_url, a->service_url_text, err, sizeof err) < 0)
      bad_url(L, kp, v[SERVICE_URL], err);
  } else if (v[BACKEND]) {
    key_path(kp, path, "backend");
    use_backend(L, kp, v[BACKEND], a);
  } else {
    fail_at(L, k, "%s: needs serviceUrl or backend (e.g. serviceUrl: http://127.0.0.1:9000/api)",
            path);
  }
}

/* ---- the document ---- */

static void set_defaults(loader_t *L) {
  pt_config_t *c = L->c;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  c->file = sdup(L, L->file);
  c->id = sdup(L, "portico");
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
  c->access_log = sdup(L, "stdout");
}

static void load_document(loader_t *L) {
  static const char *const keys[] = {"gateway", "backends", "apis"};
  yaml_node_t *root = yaml_document_get_root_node(&L->doc), *v[3];
  if (!root || is_null(root)) {
    pt_diag_error(L->d, L->file, 0, 0, "the file is empty (expected a mapping with gateway, "
                  "backends and apis)");
    return;
  }
  if (root->type != YAML_MAPPING_NODE) {
    fail_at(L, root, "expected a mapping with gateway, backends and apis at the top, got %s",
            kind(root));
    return;
  }
  map_keys(L, "", root, keys, 3, v, NULL);
  load_gateway(L, v[0]);
  /* Backends first, whatever the order in the file, so that APIs can refer to them. */
  each_entry(L, "backends", v[1], load_backend);
  each_entry(L, "apis", v[2], load_api);
  if (!L->listen_seen) {
    pt_config_t *c = L->c;
    char err[ERR_MAX];
    if (!(c->listen = grow(L, NULL, 0, sizeof *c->listen))) return;
    c->nlisten = 1;
    c->listen[0].text = sdup(L, "127.0.0.1:8080");
    parse_listen("127.0.0.1:8080", &c->listen[0].addr, err, sizeof err);
  }
}

static void syntax_error(loader_t *L, const yaml_parser_t *p) {
  int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
  const char *problem = p->problem ? p->problem : "unknown problem";
  if (p->error == YAML_MEMORY_ERROR)
    L->oom = 1;
  else if (p->error == YAML_READER_ERROR)
    pt_diag_error(L->d, L->file, 0, 0, "not valid YAML text: %s at byte %zu", problem,
                  p->problem_offset);
  else if (p->context)
    pt_diag_error(L->d, L->file, line, col, "YAML syntax error: %s (%s at line %d, column %d)",
                  problem, p->context, (int)p->context_mark.line + 1,
                  (int)p->context_mark.column + 1);
  else
    pt_diag_error(L->d, L->file, line, col, "YAML syntax error: %s", problem);
}

/* Reads the whole file; returns NULL with errno set on failure. */
static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL, *nb;
  size_t cap = 0, n = 0, got;
  if (!f) return NULL;
  do {
    if (n == cap) {
      cap = cap ? cap * 2 : 8192;
      if (!(nb = realloc(buf, cap))) {
        free(buf);
        fclose(f);
        errno = ENOMEM;
        return NULL;
      }
      buf = nb;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  if (ferror(f)) {
    int e = errno;
    free(buf);
    fclose(f);
    errno = e ? e : EIO;
    return NULL;
  }
  fclose(f);
  *len = n;
  return buf;
}

pt_config_t *pt_config_load(const char *path, pt_diag_t *d) {
  loader_t L = {.file = path, .d = d};
  int errors = d->errors;
  yaml_parser_t parser;
  yaml_document_t extra;
  size_t len;
  char *text = read_file(path, &len);

  if (!text) {
    pt_diag_error(d, path, 0, 0, "cannot read: %s", strerror(errno));
    return NULL;
  }
  if (!(L.c = calloc(1, sizeof *L.c))) {
    free(text);
    pt_diag_error(d, path, 0, 0, "out of memory");
    return NULL;
  }
  set_defaults(&L);
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &L.doc)) {
    syntax_error(&L, &parser);
  } else {
    load_document(&L);
    yaml_document_delete(&L.doc);
    /* A second document is a mistake (a stray '---'), or hides a syntax error. */
    if (!yaml_parser_load(&parser, &extra)) {
      syntax_error(&L, &parser);
    } else {
      yaml_node_t *r = yaml_document_get_root_node(&extra);
      if (r)
        pt_diag_error(d, path, (int)extra.start_mark.line + 1, (int)extra.start_mark.column + 1,
                      "a second YAML document (only one is read; remove the '---' and what "
                      "follows, or merge them)");
      yaml_document_delete(&extra);
    }
  }
  yaml_parser_delete(&parser);
  free(text);
  free(L.api_path_at);
  if (L.oom) pt_diag_error(d, path, 0, 0, "out of memory while loading");
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
  for (int i = 0; i < c->nlisten; i++) free(c->listen[i].text);
  free(c->listen);
  for (int i = 0; i < c->nbackends; i++) {
    pt_backend_cfg_t *b = &c->backends[i];
    free(b->id);
    free(b->url_text);
    pt_url_free(&b->url);
    free(b->title);
    free(b->description);
  }
  free(c->backends);
  for (int i = 0; i < c->napis; i++) {
    pt_api_cfg_t *a = &c->apis[i];
    free(a->id);
    free(a->display_name);
    free(a->path);
    free(a->service_url_text);
    pt_url_free(&a->service_url);
    free(a->backend_id);
  }
  free(c->apis);
  free(c->access_log);
  free(c);
}
