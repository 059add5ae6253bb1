/* yamlnode.c - located reading of a libyaml document (see yamlnode.h).
 * Owns messages at a node, typed scalar reads, known-key mappings with suggestions,
 * and the duration and size syntax (pt_parse_duration, pt_parse_size, declared in
 * config.h). Knows nothing of the configuration schema. */
#include "yamlnode.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

/* ---- messages ---- */

int pt__line(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }
int pt__col(const yaml_node_t *n) { return (int)n->start_mark.column + 1; }

void pt__fail_at(pt__yaml_t *Y, const yaml_node_t *n, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  pt_diag_error(Y->d, Y->file, pt__line(n), pt__col(n), "%s", text);
}

void pt__warn_at(pt__yaml_t *Y, const yaml_node_t *n, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  pt_diag_warn(Y->d, Y->file, pt__line(n), pt__col(n), "%s", text);
}

/* ---- memory ---- */

char *pt__sdup(pt__yaml_t *Y, const char *s) {
  char *r = strdup(s);
  if (!r) Y->oom = 1;
  return r;
}

void *pt__grow(pt__yaml_t *Y, void *arr, int n, size_t size) {
  void *r = realloc(arr, (size_t)(n + 1) * size);
  if (!r) {
    Y->oom = 1;
    return NULL;
  }
  memset((char *)r + (size_t)n * size, 0, size);
  return r;
}

/* ---- nodes ---- */

yaml_node_t *pt__node(pt__yaml_t *Y, int i) { return yaml_document_get_node(&Y->doc, i); }

const char *pt__sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

int pt__is_null(const yaml_node_t *n) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++)
    if (strcmp(pt__sval(n), nulls[i]) == 0) return 1;
  return 0;
}

const char *pt__kind(const yaml_node_t *n) {
  if (n->type == YAML_MAPPING_NODE) return "a mapping";
  if (n->type == YAML_SEQUENCE_NODE) return "a sequence";
  return pt__is_null(n) ? "nothing" : "a string";
}

void pt__key_path(char *buf, const char *parent, const char *key) {
  snprintf(buf, PT__KEY_MAX, *parent ? "%s.%s" : "%s%s", parent, key);
}

void pt__index_path(char *buf, const char *parent, int i) {
  snprintf(buf, PT__KEY_MAX, "%s[%d]", parent, i);
}

int pt__seq_len(const yaml_node_t *n) {
  return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

yaml_node_t *pt__seq_item(pt__yaml_t *Y, const yaml_node_t *n, int i) {
  return pt__node(Y, n->data.sequence.items.start[i]);
}

/* ---- shapes ---- */

int pt__want_string(pt__yaml_t *Y, const char *path, yaml_node_t *n, const char *what) {
  if (n->type != YAML_SCALAR_NODE) {
    pt__fail_at(Y, n, "%s: expected %s, got %s", path, what, pt__kind(n));
    return 0;
  }
  if (strlen(pt__sval(n)) != n->data.scalar.length) {
    pt__fail_at(Y, n, "%s: contains a NUL character (remove it)", path);
    return 0;
  }
  return 1;
}

int pt__want_map(pt__yaml_t *Y, const char *path, yaml_node_t *n) {
  if (!n || pt__is_null(n)) return 0;
  if (n->type == YAML_MAPPING_NODE) return 1;
  pt__fail_at(Y, n, "%s: expected a mapping, got %s", path, pt__kind(n));
  return 0;
}

int pt__need_map(pt__yaml_t *Y, const char *path, yaml_node_t *n) {
  if (pt__is_null(n)) {
    pt__fail_at(Y, n, "%s: expected a mapping, got nothing", path);
    return 0;
  }
  return pt__want_map(Y, path, n);
}

int pt__want_seq(pt__yaml_t *Y, const char *path, yaml_node_t *n, const char *example) {
  if (n->type == YAML_SEQUENCE_NODE) return 1;
  pt__fail_at(Y, n, "%s: expected a sequence, got %s (e.g. %s)", path, pt__kind(n), example);
  return 0;
}

int pt__key_ok(pt__yaml_t *Y, const char *parent, yaml_node_t *k) {
  if (k->type == YAML_SCALAR_NODE && strlen(pt__sval(k)) == k->data.scalar.length) return 1;
  pt__fail_at(Y, k, "%s: keys must be strings, got %s", *parent ? parent : "top level",
              pt__kind(k));
  return 0;
}

/* ---- names ---- */

int pt__edit_distance(const char *a, const char *b) {
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

static const char *name_at(const void *names, int i, size_t stride) {
  return *(const char *const *)((const char *)names + (size_t)i * stride);
}

const char *pt__closest(const char *name, const void *names, int n, size_t stride) {
  const char *best = NULL;
  int bestd = 1000, limit = (int)strlen(name) / 3;
  if (limit < 2) limit = 2;
  for (int i = 0; i < n; i++) {
    const char *s = name_at(names, i, stride);
    int dist = s ? pt__edit_distance(name, s) : 1000;
    /* a name no longer than the distance shares nothing with it ('c' is not a typo of 'a') */
    if (dist < bestd && dist < (int)strlen(name) && dist < (int)strlen(s)) bestd = dist, best = s;
  }
  return bestd <= limit ? best : NULL;
}

void pt__name_list(char *buf, size_t size, const void *names, int n, size_t stride) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && len < size; i++) {
    const char *s = name_at(names, i, stride);
    if (!s) continue;
    if (len > 200) {
      snprintf(buf + len, size - len, ", ...");
      return;
    }
    snprintf(buf + len, size - len, "%s%s", len ? ", " : "", s);
    len = strlen(buf);
  }
}

static void unknown_key(pt__yaml_t *Y, const char *path, yaml_node_t *k, const char *const *keys,
                        int nkeys) {
  const char *best = pt__closest(pt__sval(k), keys, nkeys, sizeof *keys);
  char list[PT__ERR_MAX];
  if (best && strcasecmp(best, pt__sval(k)) == 0) {
    pt__fail_at(Y, k, "%s: unknown key (did you mean '%s'? keys are case-sensitive)", path, best);
  } else if (best) {
    pt__fail_at(Y, k, "%s: unknown key (did you mean '%s'?)", path, best);
  } else {
    pt__name_list(list, sizeof list, keys, nkeys, sizeof *keys);
    pt__fail_at(Y, k, "%s: unknown key (expected one of: %s)", path, list);
  }
}

void pt__map_keys(pt__yaml_t *Y, const char *path, yaml_node_t *map, const char *const *keys,
                  int nkeys, yaml_node_t **vals, yaml_node_t **knodes) {
  char kp[PT__KEY_MAX];
  memset(vals, 0, sizeof *vals * (size_t)nkeys);
  if (knodes) memset(knodes, 0, sizeof *knodes * (size_t)nkeys);
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = pt__node(Y, p->key), *v = pt__node(Y, p->value);
    int i;
    if (!pt__key_ok(Y, path, k)) continue;
    pt__key_path(kp, path, pt__sval(k));
    for (i = 0; i < nkeys && strcmp(keys[i], pt__sval(k)) != 0; i++) {
    }
    if (i == nkeys) {
      unknown_key(Y, kp, k, keys, nkeys);
    } else if (vals[i]) {
      pt__fail_at(Y, k, "%s: repeated key (first at line %d; keep one)", kp,
                  pt__line(knodes ? knodes[i] : vals[i]));
    } else {
      vals[i] = v;
      if (knodes) knodes[i] = k;
    }
  }
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

static int add_ms(uint64_t *total, uint64_t v, uint64_t factor, uint64_t frac) {
  if (v > (UINT64_MAX - frac) / factor || *total > UINT64_MAX - (v * factor + frac)) return -1;
  *total += v * factor + frac;
  return 0;
}

/* Up to three digits of a fraction of a second after '.' or ',' -> milliseconds. */
static int parse_fraction(const char **s, uint64_t *ms) {
  size_t nd;
  *ms = 0;
  if (**s != '.' && **s != ',') return 0;
  (*s)++;
  nd = strspn(*s, "0123456789");
  if (nd == 0 || nd > 3) return -1;
  for (size_t i = 0; i < 3; i++) *ms = *ms * 10 + (i < nd ? (uint64_t)((*s)[i] - '0') : 0);
  *s += nd;
  return 0;
}

/* ISO 8601 as APIM writes durations: "PT30S", "PT1M", "PT1H30M", "P1DT2H", "PT0.5S".
 * Years, months and weeks are refused: their length in milliseconds is not fixed. */
static int parse_iso_duration(const char *s, uint64_t *ms) {
  static const char units[] = "DHMS";
  static const uint64_t factors[] = {86400000, 3600000, 60000, 1000};
  uint64_t total = 0, v, frac;
  int in_time = 0, last = -1, any = 0;
  for (s++; *s;) {
    size_t nd;
    const char *u;
    if (*s == 'T' && !in_time) {
      in_time = 1;
      if (!*++s) return -1;
      continue;
    }
    nd = strspn(s, "0123456789");
    if (parse_u64(s, nd, &v) < 0) return -1;
    s += nd;
    if (parse_fraction(&s, &frac) < 0 || !*s || !(u = strchr(units, *s))) return -1;
    int rank = (int)(u - units);
    if ((rank == 0) == in_time || rank <= last || (frac && rank != 3)) return -1;
    if (add_ms(&total, v, factors[rank], frac) < 0) return -1;
    last = rank;
    any = 1;
    s++;
  }
  if (!any) return -1;
  *ms = total;
  return 0;
}

int pt_parse_duration(const char *s, uint64_t *ms) {
  static const char *const units[] = {"", "ms", "s", "m", "h"};
  static const uint64_t factors[] = {1000, 1, 1000, 60000, 3600000};
  if (!s) return -1;
  if (s[0] == 'P') return parse_iso_duration(s, ms);
  return parse_scaled(s, units, factors, 5, ms);
}

int pt_parse_size(const char *s, uint64_t *bytes) {
  static const char *const units[] = {"", "KiB", "MiB", "GiB", "KB", "MB", "GB"};
  static const uint64_t factors[] = {1, 1024, 1024 * 1024, 1024 * 1024 * 1024,
                                     1000, 1000000, 1000000000};
  return s ? parse_scaled(s, units, factors, 7, bytes) : -1;
}

/* ---- typed values ---- */

int pt__get_string(pt__yaml_t *Y, const char *path, yaml_node_t *n, char **out) {
  if (!pt__want_string(Y, path, n, "a string")) return -1;
  free(*out);
  *out = pt__sdup(Y, pt__sval(n));
  return *out ? 0 : -1;
}

int pt__get_bool(pt__yaml_t *Y, const char *path, yaml_node_t *n, int *out) {
  static const char *const names[] = {"false", "true"};
  int i;
  if (!pt__want_string(Y, path, n, "true or false")) return -1;
  for (i = 0; i < 2 && strcasecmp(pt__sval(n), names[i]) != 0; i++) {
  }
  if (i == 2) {
    pt__fail_at(Y, n, "%s: '%.40s' is not a boolean (expected true or false)", path, pt__sval(n));
    return -1;
  }
  *out = i;
  return 0;
}

int pt__get_uint(pt__yaml_t *Y, const char *path, yaml_node_t *n, uint64_t lo, uint64_t hi,
                 uint64_t *out) {
  uint64_t v;
  if (!pt__want_string(Y, path, n, "an integer")) return -1;
  if (parse_u64(pt__sval(n), n->data.scalar.length, &v) < 0 || v < lo || v > hi) {
    pt__fail_at(Y, n, "%s: '%.40s' is not an integer from %llu to %llu", path, pt__sval(n),
                (unsigned long long)lo, (unsigned long long)hi);
    return -1;
  }
  *out = v;
  return 0;
}

int pt__get_size(pt__yaml_t *Y, const char *path, yaml_node_t *n, uint64_t hi, uint64_t *out) {
  uint64_t v;
  if (!pt__want_string(Y, path, n, "a size")) return -1;
  if (pt_parse_size(pt__sval(n), &v) < 0) {
    pt__fail_at(Y, n, "%s: '%.40s' is not a size (expected a number of bytes, or a number with "
                "KiB, MiB, GiB, KB, MB or GB, e.g. 16KiB)", path, pt__sval(n));
    return -1;
  }
  if (v == 0 || v > hi) {
    pt__fail_at(Y, n, "%s: '%.40s' is out of range (expected 1 to %llu bytes)", path,
                pt__sval(n), (unsigned long long)hi);
    return -1;
  }
  *out = v;
  return 0;
}

int pt__get_duration(pt__yaml_t *Y, const char *path, yaml_node_t *n, uint64_t lo,
                     uint64_t *out) {
  uint64_t v;
  if (!pt__want_string(Y, path, n, "a duration")) return -1;
  if (pt_parse_duration(pt__sval(n), &v) < 0) {
    pt__fail_at(Y, n, "%s: '%.40s' is not a duration (expected e.g. 500ms, 10s, 5m, 1h, a "
                "number of seconds, or ISO 8601 like PT30S)", path, pt__sval(n));
    return -1;
  }
  if (v < lo) {
    pt__fail_at(Y, n, "%s: must be more than 0 (e.g. 10s)", path);
    return -1;
  }
  *out = v;
  return 0;
}

/* "a or b", "a, b or c" */
static void choice_list(char *buf, size_t size, const char *const *names, int n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && len < size; i++) {
    snprintf(buf + len, size - len, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    len = strlen(buf);
  }
}

int pt__get_enum(pt__yaml_t *Y, const char *path, yaml_node_t *n, const char *what,
                 const char *const *names, int nnames, int *out) {
  char list[PT__ERR_MAX];
  choice_list(list, sizeof list, names, nnames);
  if (!pt__want_string(Y, path, n, list)) return -1;
  for (int i = 0; i < nnames; i++) {
    if (strcasecmp(pt__sval(n), names[i]) == 0) {
      *out = i;
      return 0;
    }
  }
  pt__fail_at(Y, n, "%s: '%.40s' is not %s (expected %s)", path, pt__sval(n), what, list);
  return -1;
}

int pt__field_string(pt__yaml_t *Y, const char *parent, const char *key, yaml_node_t *n,
                     char **out) {
  char kp[PT__KEY_MAX];
  if (!n) return 0;
  pt__key_path(kp, parent, key);
  return pt__get_string(Y, kp, n, out);
}

int pt__field_bool(pt__yaml_t *Y, const char *parent, const char *key, yaml_node_t *n, int *out) {
  char kp[PT__KEY_MAX];
  if (!n) return 0;
  pt__key_path(kp, parent, key);
  return pt__get_bool(Y, kp, n, out);
}

int pt__field_int(pt__yaml_t *Y, const char *parent, const char *key, yaml_node_t *n, int lo,
                  int hi, int *out) {
  char kp[PT__KEY_MAX];
  uint64_t v;
  if (!n) return 0;
  pt__key_path(kp, parent, key);
  if (pt__get_uint(Y, kp, n, (uint64_t)lo, (uint64_t)hi, &v) < 0) return -1;
  *out = (int)v;
  return 0;
}

int pt__field_enum(pt__yaml_t *Y, const char *parent, const char *key, yaml_node_t *n,
                   const char *what, const char *const *names, int nnames, int *out) {
  char kp[PT__KEY_MAX];
  if (!n) return 0;
  pt__key_path(kp, parent, key);
  return pt__get_enum(Y, kp, n, what, names, nnames, out);
}

/* ---- files ---- */

char *pt__file_path(pt__yaml_t *Y, const char *rel) {
  const char *slash = strrchr(Y->file, '/');
  char *r;
  size_t dl;
  if (rel[0] == '/' || !slash) return pt__sdup(Y, rel);
  dl = (size_t)(slash - Y->file) + 1;
  if (!(r = malloc(dl + strlen(rel) + 1))) {
    Y->oom = 1;
    return NULL;
  }
  memcpy(r, Y->file, dl);
  strcpy(r + dl, rel);
  return r;
}
