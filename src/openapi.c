/* openapi.c - OpenAPI 2.0/3.0/3.1 import (see openapi.h).
 * Owns reading a spec (YAML, or JSON read as YAML flow style), following `$ref`s inside
 * the document, APIM's rules for the service URL (first https server, else first http)
 * and for operations (one per path and method, names normalised from operationId, required
 * query parameters as template parameters), keeping response examples, printing the result
 * as gateway.yaml, and merging it under YAML. Schemas are never walked: only the parts
 * an API and its operations need, so recursive schemas cost nothing.
 * Does not own configuration validation (config.c) or the run-time registry. */
#include "openapi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "buf.h"
#include "url.h"

#define ID_MAX 80        /* API ids, as config.c */
#define OP_NAME_MAX 76   /* APIM leaves room for a "-N" suffix under 80 */
#define PTR_MAX 1024     /* JSON pointers in messages; longer ones are cut */
#define REF_HOPS 32      /* a longer $ref chain is taken for a cycle */
#define JSON_DEPTH 64    /* examples nested deeper (or aliased into themselves) are dropped */
#define EXAMPLE_MAX (1 << 20) /* and so are larger ones (YAML aliases can multiply a body) */
#define MSG_MAX 1024

static const char *const methods[] = {"get", "put", "post", "delete", "options", "head",
                                      "patch", "trace"};

typedef struct ptr_s {
  char s[PTR_MAX];
  size_t len;
} ptr_t;

/* The operation names taken so far (they point into the operations), for O(1) clash checks;
 * `next` is the suffix to try after a clash with that name, so that many equal
 * operationIds do not rescan -1, -2, ... each time. */
typedef struct name_slot_s {
  const char *name;
  int next;
} name_slot_t;

typedef struct names_s {
  name_slot_t *slots;
  size_t cap, n;
} names_t;

typedef struct imp_s {
  const char *file;
  pt_diag_t *d;
  const pt_openapi_options_t *o;
  yaml_document_t doc;
  pt_api_cfg_t *api;
  int swagger2;  /* OpenAPI 2.0 */
  int quiet_servers; /* o->service_url_given */
  names_t names;
  int ops_cap;       /* allocated length of api->operations */
  int oom;
} imp_t;

/* ---- JSON pointers ---- */

/* Appends one reference token, escaped; returns the previous length for ptr_back. */
static size_t ptr_add(ptr_t *p, const char *seg) {
  size_t old = p->len;
  if (p->len + 2 < PTR_MAX) p->s[p->len++] = '/';
  for (; *seg && p->len + 3 < PTR_MAX; seg++) {
    if (*seg == '~' || *seg == '/') {
      p->s[p->len++] = '~';
      p->s[p->len++] = *seg == '~' ? '0' : '1';
    } else {
      p->s[p->len++] = *seg;
    }
  }
  p->s[p->len] = '\0';
  return old;
}

static size_t ptr_idx(ptr_t *p, long i) {
  char b[24];
  snprintf(b, sizeof b, "%ld", i);
  return ptr_add(p, b);
}

static void ptr_back(ptr_t *p, size_t len) {
  p->len = len;
  p->s[len] = '\0';
}

/* ---- messages ---- */

static void report(imp_t *I, int error, const yaml_node_t *n, const ptr_t *p, const char *fmt,
                   va_list ap) {
  char text[MSG_MAX];
  int line = n ? (int)n->start_mark.line + 1 : 0, col = n ? (int)n->start_mark.column + 1 : 0;
  vsnprintf(text, sizeof text, fmt, ap);
  if (p && p->len == 0) p = NULL; /* the whole document */
  if (error)
    pt_diag_error(I->d, I->file, line, col, "%s%s%s", p ? p->s : "", p ? ": " : "", text);
  else
    pt_diag_warn(I->d, I->file, line, col, "%s%s%s", p ? p->s : "", p ? ": " : "", text);
}

static void err_at(imp_t *I, const yaml_node_t *n, const ptr_t *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void warn_at(imp_t *I, const yaml_node_t *n, const ptr_t *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void err_at(imp_t *I, const yaml_node_t *n, const ptr_t *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(I, 1, n, p, fmt, ap);
  va_end(ap);
}

static void warn_at(imp_t *I, const yaml_node_t *n, const ptr_t *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(I, 0, n, p, fmt, ap);
  va_end(ap);
}

static char *sdup(imp_t *I, const char *s) {
  char *r = s ? strdup(s) : NULL;
  if (s && !r) I->oom = 1;
  return r;
}

/* ---- YAML nodes ---- */

static const char *sval(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int is_plain(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int is_null(const yaml_node_t *n) {
  const char *s = sval(n);
  return !n || (is_plain(n) && (!*s || !strcmp(s, "~") || !strcmp(s, "null") ||
                                !strcmp(s, "Null") || !strcmp(s, "NULL")));
}

static int is_true(const yaml_node_t *n) {
  const char *s = sval(n);
  return is_plain(n) && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"));
}

static const char *kind(const yaml_node_t *n) {
  if (is_null(n)) return "null";
  if (n->type == YAML_MAPPING_NODE) return "a mapping";
  if (n->type == YAML_SEQUENCE_NODE) return "a list";
  return "a scalar";
}

static yaml_node_t *node(imp_t *I, int id) {
  return yaml_document_get_node(&I->doc, id);
}

static yaml_node_t *map_get(imp_t *I, const yaml_node_t *m, const char *key) {
  if (!m || m->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    const char *k = sval(node(I, p->key));
    if (k && strcmp(k, key) == 0) return node(I, p->value);
  }
  return NULL;
}

/* A string value of m[key]: NULL when absent or null; an error when not a scalar. */
static const char *get_str(imp_t *I, const yaml_node_t *m, const char *key, ptr_t *p) {
  yaml_node_t *v = map_get(I, m, key);
  size_t at;
  if (is_null(v)) return NULL;
  if (v->type != YAML_SCALAR_NODE) {
    at = ptr_add(p, key);
    err_at(I, v, p, "is %s (expected a string)", kind(v));
    ptr_back(p, at);
    return NULL;
  }
  return sval(v);
}

/* m[key] when it is of the wanted type; NULL when absent or null; an error otherwise. */
static yaml_node_t *get_typed(imp_t *I, const yaml_node_t *m, const char *key, ptr_t *p,
                              yaml_node_type_t type) {
  yaml_node_t *v = map_get(I, m, key);
  size_t at;
  if (is_null(v)) return NULL;
  if (v->type != type) {
    at = ptr_add(p, key);
    err_at(I, v, p, "is %s (expected %s)", kind(v),
           type == YAML_MAPPING_NODE ? "a mapping" : "a list");
    ptr_back(p, at);
    return NULL;
  }
  return v;
}

/* ---- $ref ---- */

static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The node at a URI fragment "/a/b~1c/0" (percent-encoded JSON pointer), or NULL. */
static yaml_node_t *pointer_get(imp_t *I, const char *frag) {
  char *dec = malloc(strlen(frag) + 1), *seg, *w;
  yaml_node_t *n = yaml_document_get_root_node(&I->doc);
  size_t j = 0;
  if (!dec) {
    I->oom = 1;
    return NULL;
  }
  for (size_t i = 0; frag[i]; i++) {
    if (frag[i] == '%' && hexval(frag[i + 1]) >= 0 && hexval(frag[i + 2]) >= 0) {
      dec[j++] = (char)(hexval(frag[i + 1]) * 16 + hexval(frag[i + 2]));
      i += 2;
    } else {
      dec[j++] = frag[i];
    }
  }
  dec[j] = '\0';
  if (dec[0] && dec[0] != '/') n = NULL;
  for (seg = dec; n && *seg == '/'; ) {
    char *end = strchr(seg + 1, '/'), save = 0;
    if (end) save = *end, *end = '\0';
    w = seg + 1;
    for (char *r = seg + 1; *r; r++) { /* unescape in place: ~1 is '/', ~0 is '~' */
      if (r[0] == '~' && (r[1] == '0' || r[1] == '1')) *w++ = r[1] == '1' ? '/' : '~', r++;
      else *w++ = *r;
    }
    *w = '\0';
    if (n->type == YAML_MAPPING_NODE) {
      n = map_get(I, n, seg + 1);
    } else if (n->type == YAML_SEQUENCE_NODE && seg[1] && strspn(seg + 1, "0123456789") ==
               strlen(seg + 1) && strlen(seg + 1) < 9) {
      long i = strtol(seg + 1, NULL, 10);
      n = i < n->data.sequence.items.top - n->data.sequence.items.start
              ? node(I, n->data.sequence.items.start[i]) : NULL;
    } else {
      n = NULL;
    }
    if (!end) break;
    *end = save;
    seg = end;
  }
  free(dec);
  return n;
}

/* Follows a chain of `$ref`s from n, the object at pointer p. Returns the target (n itself
 * when it is no reference), or NULL after an error naming p. */
static yaml_node_t *deref(imp_t *I, yaml_node_t *n, const ptr_t *p) {
  const char *first = NULL;
  for (int hops = 0; n && n->type == YAML_MAPPING_NODE; hops++) {
    yaml_node_t *r = map_get(I, n, "$ref"), *t;
    const char *ref = sval(r);
    if (!r) return n;
    if (!ref) {
      err_at(I, r, p, "$ref is %s (expected a string like '#/components/schemas/Pet')", kind(r));
      return NULL;
    }
    if (!first) first = ref;
    if (hops == REF_HOPS) {
      err_at(I, r, p, "$ref '%.200s': more than %d references in a chain (a cycle?)", first,
             REF_HOPS);
      return NULL;
    }
    if (ref[0] != '#') {
      err_at(I, r, p, "$ref '%.200s' points outside this document (only '#/...' references "
             "are followed; bundle the spec into one file first)", ref);
      return NULL;
    }
    if (!(t = pointer_get(I, ref + 1))) {
      if (ref == first)
        err_at(I, r, p, "$ref '%.200s' does not resolve", ref);
      else
        err_at(I, r, p, "$ref '%.200s' (reached from '%.200s') does not resolve", ref, first);
      return NULL;
    }
    n = t;
  }
  return n;
}

/* ---- names ---- */

size_t pt_openapi_normalize(const char *s, size_t max, char *out, size_t outlen) {
  size_t n = 0;
  int dash = 0;
  if (max > outlen - 1) max = outlen - 1;
  for (; *s && n < max; s++) {
    char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      if (dash && n) {
        if (n + 1 >= max) break;
        out[n++] = '-';
      }
      out[n++] = c;
      dash = 0;
    } else {
      dash = 1;
    }
  }
  out[n] = '\0';
  return n;
}

static size_t name_hash(const char *s) {
  size_t h = 14695981039346656037u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

/* The slot of name, or the empty slot where it would go. */
static name_slot_t *name_slot(const names_t *t, const char *name) {
  size_t i = name_hash(name) & (t->cap - 1);
  while (t->slots[i].name && strcmp(t->slots[i].name, name) != 0) i = (i + 1) & (t->cap - 1);
  return &t->slots[i];
}

/* Records name (which must outlive the table); -1 when out of memory. */
static int name_add(names_t *t, const char *name) {
  if (2 * (t->n + 1) > t->cap) {
    names_t g = {calloc(t->cap ? 2 * t->cap : 64, sizeof *g.slots), t->cap ? 2 * t->cap : 64, 0};
    if (!g.slots) return -1;
    for (size_t i = 0; i < t->cap; i++)
      if (t->slots[i].name) *name_slot(&g, t->slots[i].name) = t->slots[i], g.n++;
    free(t->slots);
    *t = g;
  }
  name_slot_t *s = name_slot(t, name);
  if (!s->name) s->name = name, s->next = 1, t->n++;
  return 0;
}

/* ---- reading the file ---- */

static int read_file(imp_t *I, char **text, size_t *len) {
  pt_buf_t b = {0};
  int rc = pt_buf_read_file(&b, I->file, 0), e = errno;
  if (rc < 0) pt_buf_free(&b);
  if (rc == -1) pt_diag_error(I->d, I->file, 0, 0, "cannot open the spec: %s", strerror(e));
  else if (rc < 0 && e == ENOMEM) pt_diag_error(I->d, I->file, 0, 0, "out of memory reading the spec");
  else if (rc < 0) pt_diag_error(I->d, I->file, 0, 0, "cannot read the spec: %s", strerror(e));
  if (rc < 0) return -1;
  *text = b.base;
  *len = b.len;
  return 0;
}

static int is_hex4(const char *s) {
  for (int i = 0; i < 4; i++)
    if (hexval(s[i]) < 0) return 0;
  return 1;
}

static unsigned hex4(const char *s) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) v = v * 16 + (unsigned)hexval(s[i]);
  return v;
}

/* JSON read as YAML flow style differs in two places that real specs hit: a tab outside a
 * string before the first token of a line (YAML forbids it where it could be indentation),
 * and UTF-16 surrogate pairs "\ud83d\ude00" (YAML wants "\U0001F600"). Both are rewritten
 * in place without moving anything outside strings, so lines and columns stay exact: the
 * bytes a pair saves are given back as spaces after the closing quote. */
static void json_fixups(char *t, size_t len) {
  size_t r = 0, w = 0, i = 0;
  int in_str = 0, in_sq = 0, deficit = 0;
  if (len >= 3 && !memcmp(t, "\xEF\xBB\xBF", 3)) i = 3;
  i += strspn(t + i, " \t\r\n");
  if (i >= len || (t[i] != '{' && t[i] != '[')) return;
  for (r = w = 0; r < len; ) {
    char c = t[r];
    if (in_sq) { /* YAML flow style may have 'single quoted' strings: no escapes there */
      t[w++] = t[r++];
      in_sq = c != '\'';
    } else if (!in_str) {
      t[w++] = c == '\t' ? ' ' : c;
      in_str = c == '"';
      in_sq = c == '\'';
      r++;
    } else if (c == '"') {
      t[w++] = c, r++;
      while (deficit) t[w++] = ' ', deficit--;
      in_str = 0;
    } else if (c == '\\' && r + 1 < len && t[r + 1] == 'u' && r + 6 <= len && is_hex4(t + r + 2)) {
      unsigned hi = hex4(t + r + 2), lo = 0;
      if (hi >= 0xD800 && hi <= 0xDBFF && r + 12 <= len && t[r + 6] == '\\' &&
          t[r + 7] == 'u' && is_hex4(t + r + 8) && (lo = hex4(t + r + 8)) >= 0xDC00 &&
          lo <= 0xDFFF) {
        char u[12];
        snprintf(u, sizeof u, "\\U%08X", 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
        memcpy(t + w, u, 10);
        w += 10, r += 12, deficit += 2;
      } else if (hi >= 0xD800 && hi <= 0xDFFF) { /* a lone surrogate: U+FFFD, as browsers do */
        memcpy(t + w, "\\uFFFD", 6);
        w += 6, r += 6;
      } else {
        memmove(t + w, t + r, 6);
        w += 6, r += 6;
      }
    } else if (c == '\\' && r + 1 < len) {
      t[w++] = t[r++];
      t[w++] = t[r++];
    } else {
      t[w++] = t[r++];
    }
  }
  while (deficit) t[w++] = ' ', deficit--; /* an unterminated string: keep the length */
}

/* Line and column (1-based) of a byte offset, for reader errors that only give an offset. */
static void offset_to_line(const char *t, size_t len, size_t off, int *line, int *col) {
  *line = 1, *col = 1;
  for (size_t i = 0; i < off && i < len; i++) {
    if (t[i] == '\n') (*line)++, *col = 1;
    else if (((unsigned char)t[i] & 0xC0) != 0x80) (*col)++;
  }
}

static int load_yaml(imp_t *I, const char *text, size_t len) {
  yaml_parser_t p;
  yaml_document_t extra;
  int rc = 0;
  yaml_parser_initialize(&p);
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  if (!yaml_parser_load(&p, &I->doc)) {
    int line = (int)p.problem_mark.line + 1, col = (int)p.problem_mark.column + 1;
    if (p.error == YAML_READER_ERROR) offset_to_line(text, len, p.problem_offset, &line, &col);
    if (p.error == YAML_MEMORY_ERROR)
      pt_diag_error(I->d, I->file, 0, 0, "out of memory parsing the spec");
    else if (p.context)
      pt_diag_error(I->d, I->file, line, col, "syntax error: %s (%s started at %d:%d)",
                    p.problem ? p.problem : "?", p.context, (int)p.context_mark.line + 1,
                    (int)p.context_mark.column + 1);
    else
      pt_diag_error(I->d, I->file, line, col, "syntax error: %s", p.problem ? p.problem : "?");
    yaml_parser_delete(&p);
    return -1;
  }
  if (!yaml_document_get_root_node(&I->doc)) {
    pt_diag_error(I->d, I->file, 0, 0, "the file is empty (expected an OpenAPI document)");
    rc = -1;
  } else if (!yaml_parser_load(&p, &extra)) {
    pt_diag_error(I->d, I->file, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1,
                  "syntax error after the document: %s", p.problem ? p.problem : "?");
    rc = -1;
  } else {
    if (yaml_document_get_root_node(&extra)) {
      yaml_node_t *r = yaml_document_get_root_node(&extra);
      pt_diag_error(I->d, I->file, (int)r->start_mark.line + 1, (int)r->start_mark.column + 1,
                    "a second YAML document (a spec is one document; remove the '---' and "
                    "what follows, or split the file)");
      rc = -1;
    }
    yaml_document_delete(&extra);
  }
  if (rc < 0) yaml_document_delete(&I->doc);
  yaml_parser_delete(&p);
  return rc;
}

/* ---- examples as JSON text ---- */

static int looks_like_json_number(const char *s) {
  const char *p = s;
  if (*p == '-') p++;
  if (*p == '0') p++;
  else if (*p >= '1' && *p <= '9') p += strspn(p, "0123456789");
  else return 0;
  if (*p == '.') {
    if (!(p[1] >= '0' && p[1] <= '9')) return 0;
    p += 1 + strspn(p + 1, "0123456789");
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!(*p >= '0' && *p <= '9')) return 0;
    p += strspn(p, "0123456789");
  }
  return *p == '\0';
}

/* A plain scalar that YAML's core schema reads as null, a boolean or a number. */
static int is_typed_scalar(const yaml_node_t *n) {
  const char *s = sval(n);
  return is_plain(n) && (is_null(n) || is_true(n) || !strcmp(s, "false") ||
                         !strcmp(s, "False") || !strcmp(s, "FALSE") || looks_like_json_number(s));
}

static int json_string(pt_buf_t *b, const char *s) {
  int rc = pt_buf_append(b, "\"", 1);
  for (; *s && rc == 0; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') rc = pt_buf_printf(b, "\\%c", c);
    else if (c == '\n') rc = pt_buf_appends(b, "\\n");
    else if (c == '\r') rc = pt_buf_appends(b, "\\r");
    else if (c == '\t') rc = pt_buf_appends(b, "\\t");
    else if (c < 0x20 || c == 0x7f) rc = pt_buf_printf(b, "\\u%04x", c);
    else rc = pt_buf_append(b, s, 1);
  }
  return rc ? rc : pt_buf_append(b, "\"", 1);
}

/* Appends n as JSON. Returns 0, 1 when nested deeper than JSON_DEPTH or longer than
 * EXAMPLE_MAX, or <0 (no memory). */
static int to_json(imp_t *I, pt_buf_t *b, yaml_node_t *n, int depth) {
  int rc = 0, first = 1;
  if (depth > JSON_DEPTH || b->len > EXAMPLE_MAX) return 1;
  if (n->type == YAML_SCALAR_NODE) {
    const char *s = sval(n);
    if (!is_typed_scalar(n)) return json_string(b, s);
    if (is_null(n)) return pt_buf_appends(b, "null");
    if (is_true(n)) return pt_buf_appends(b, "true");
    if (s[0] == 'f' || s[0] == 'F') return pt_buf_appends(b, "false");
    return pt_buf_appends(b, s);
  }
  if (n->type == YAML_SEQUENCE_NODE) {
    rc = pt_buf_append(b, "[", 1);
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         rc == 0 && i < n->data.sequence.items.top; i++, first = 0) {
      if (!first) rc = pt_buf_append(b, ",", 1);
      if (rc == 0) rc = to_json(I, b, node(I, *i), depth + 1);
    }
    return rc ? rc : pt_buf_append(b, "]", 1);
  }
  rc = pt_buf_append(b, "{", 1);
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       rc == 0 && p < n->data.mapping.pairs.top; p++, first = 0) {
    yaml_node_t *k = node(I, p->key);
    if (!first) rc = pt_buf_append(b, ",", 1);
    if (rc == 0) rc = json_string(b, sval(k) ? sval(k) : ""); /* complex keys: not JSON */
    if (rc == 0) rc = pt_buf_append(b, ":", 1);
    if (rc == 0) rc = to_json(I, b, node(I, p->value), depth + 1);
  }
  return rc ? rc : pt_buf_append(b, "}", 1);
}

/* Keeps ex (an example value for media type mt of response status) on the operation. */
static void keep_example(imp_t *I, pt_operation_cfg_t *op, yaml_node_t *ex, const char *mt,
                         int status, ptr_t *p) {
  pt_buf_t b = {0};
  int rc;
  if (ex->type == YAML_SCALAR_NODE && !is_typed_scalar(ex) && !strstr(mt, "json")) {
    op->example_body = sdup(I, sval(ex)); /* a text or XML example is the body itself */
  } else if ((rc = to_json(I, &b, ex, 0)) == 0 && pt_buf_append(&b, "", 1) == 0) {
    op->example_body = b.base;
    b.base = NULL;
  } else if (rc == 1) {
    warn_at(I, ex, p, "the example is nested deeper than %d levels, refers to itself or is "
            "larger than %d bytes; it is not kept", JSON_DEPTH, EXAMPLE_MAX);
  } else {
    I->oom = 1;
  }
  pt_buf_free(&b);
  if (!op->example_body) return;
  op->example_status = status;
  op->example_content_type = sdup(I, mt);
}

/* "200".."299" or "2XX"; returns the status or 0. */
static int success_status(const char *code) {
  if (!code || strlen(code) != 3 || code[0] != '2') return 0;
  if ((code[1] == 'X' || code[1] == 'x') && (code[2] == 'X' || code[2] == 'x')) return 200;
  if (code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9') return 0;
  return 200 + (code[1] - '0') * 10 + (code[2] - '0');
}

/* An OpenAPI 3 media type's example: `example`, else the value of the first `examples`. */
static yaml_node_t *media_example(imp_t *I, yaml_node_t *mt, ptr_t *p) {
  yaml_node_t *ex = map_get(I, mt, "example"), *exs;
  size_t at;
  if (ex && !is_null(ex)) return ex;
  if (!(exs = map_get(I, mt, "examples")) || exs->type != YAML_MAPPING_NODE ||
      exs->data.mapping.pairs.start == exs->data.mapping.pairs.top)
    return NULL;
  at = ptr_add(p, "examples");
  ptr_add(p, sval(node(I, exs->data.mapping.pairs.start->key)) ? sval(node(I, exs->data.mapping.pairs.start->key)) : "");
  ex = deref(I, node(I, exs->data.mapping.pairs.start->value), p);
  ptr_back(p, at);
  ex = map_get(I, ex, "value"); /* externalValue is not fetched */
  return ex && !is_null(ex) ? ex : NULL;
}

static void find_example(imp_t *I, yaml_node_t *opn, pt_operation_cfg_t *op, ptr_t *p) {
  yaml_node_t *responses = get_typed(I, opn, "responses", p, YAML_MAPPING_NODE);
  size_t at0;
  if (!responses) return;
  at0 = ptr_add(p, "responses");
  for (yaml_node_pair_t *r = responses->data.mapping.pairs.start;
       !op->example_body && r < responses->data.mapping.pairs.top; r++) {
    const char *code = sval(node(I, r->key));
    int status = success_status(code);
    size_t at1;
    yaml_node_t *resp, *media;
    if (!status) continue;
    at1 = ptr_add(p, code);
    if ((resp = deref(I, node(I, r->value), p)) &&
        (media = map_get(I, resp, I->swagger2 ? "examples" : "content")) &&
        media->type == YAML_MAPPING_NODE) {
      for (yaml_node_pair_t *m = media->data.mapping.pairs.start;
           !op->example_body && m < media->data.mapping.pairs.top; m++) {
        const char *mt = sval(node(I, m->key));
        yaml_node_t *ex = node(I, m->value);
        size_t at2 = ptr_add(p, I->swagger2 ? "examples" : "content");
        ptr_add(p, mt ? mt : "");
        if (mt && !I->swagger2) ex = media_example(I, ex, p);
        if (mt && ex && !is_null(ex)) keep_example(I, op, ex, mt, status, p);
        ptr_back(p, at2);
      }
    }
    ptr_back(p, at1);
  }
  ptr_back(p, at0);
}

/* ---- operations ---- */

typedef struct param_s {
  const char *name, *in;
  int required;
} param_t;

/* Adds the parameters of list (path-level or operation-level) to ps; an operation's
 * parameter replaces the path item's one with the same name and location. */
static void collect_params(imp_t *I, yaml_node_t *list, ptr_t *p, param_t **ps, int *n) {
  size_t at = ptr_add(p, "parameters");
  long i = 0;
  for (yaml_node_item_t *it = list->data.sequence.items.start;
       it < list->data.sequence.items.top; it++, i++) {
    size_t at1 = ptr_idx(p, i);
    yaml_node_t *pn = deref(I, node(I, *it), p);
    param_t q = {0}, *grown;
    int j;
    if (pn && pn->type != YAML_MAPPING_NODE) err_at(I, pn, p, "is %s (expected a parameter "
                                                    "mapping with name and in)", kind(pn));
    if (pn && pn->type == YAML_MAPPING_NODE) {
      q.name = get_str(I, pn, "name", p);
      q.in = get_str(I, pn, "in", p);
      q.required = is_true(map_get(I, pn, "required"));
      if (q.in && !strcmp(q.in, "query") && q.required && !q.name)
        err_at(I, pn, p, "a required query parameter without a name");
      for (j = 0; j < *n; j++)
        if (q.name && q.in && (*ps)[j].name && (*ps)[j].in && !strcmp((*ps)[j].name, q.name) &&
            !strcmp((*ps)[j].in, q.in))
          break;
      if (j < *n) {
        (*ps)[j] = q;
      } else if (!(grown = realloc(*ps, sizeof **ps * (size_t)(*n + 1)))) {
        I->oom = 1;
      } else {
        *ps = grown;
        (*ps)[(*n)++] = q;
      }
    }
    ptr_back(p, at1);
  }
  ptr_back(p, at);
}

/* The path, then "?name={name}&..." for each required query parameter (APIM's default,
 * translateRequiredQueryParameters = template). */
static char *url_template(imp_t *I, const char *path, const param_t *ps, int n) {
  pt_buf_t b = {0};
  int rc = pt_buf_appends(&b, path);
  char sep = strchr(path, '?') ? '&' : '?';
  for (int i = 0; i < n && rc == 0; i++) {
    if (!ps[i].required || !ps[i].name || !ps[i].in || strcmp(ps[i].in, "query")) continue;
    rc = pt_buf_printf(&b, "%c%s={%s}", sep, ps[i].name, ps[i].name);
    sep = '&';
  }
  if (rc == 0) rc = pt_buf_append(&b, "", 1);
  if (rc) {
    pt_buf_free(&b);
    I->oom = 1;
    return NULL;
  }
  return b.base;
}

static pt_operation_cfg_t *new_operation(imp_t *I) {
  pt_api_cfg_t *a = I->api;
  pt_operation_cfg_t *ops = a->operations;
  if (a->noperations == I->ops_cap) {
    int cap = I->ops_cap ? 2 * I->ops_cap : 16;
    if (!(ops = realloc(a->operations, sizeof *ops * (size_t)cap))) {
      I->oom = 1;
      return NULL;
    }
    a->operations = ops;
    I->ops_cap = cap;
  }
  memset(&ops[a->noperations], 0, sizeof *ops);
  return &ops[a->noperations++];
}

/* The operation's name: normalise(operationId), else normalise("<method>-<path>"),
 * with "-1", "-2", ... on a clash. */
static void name_operation(imp_t *I, pt_operation_cfg_t *op, yaml_node_t *opn,
                           const char *method, const char *path, ptr_t *p) {
  char base[OP_NAME_MAX + 1], name[OP_NAME_MAX + 24], *mp;
  const char *opid = get_str(I, opn, "operationId", p);
  size_t n = opid ? pt_openapi_normalize(opid, OP_NAME_MAX, base, sizeof base) : 0;
  if (opid && !n)
    warn_at(I, map_get(I, opn, "operationId"), p, "operationId '%.100s' has no letters or "
            "digits; the operation is named from its method and path", opid);
  if (!n) {
    if (!(mp = malloc(strlen(method) + strlen(path) + 2))) {
      I->oom = 1;
      return;
    }
    sprintf(mp, "%s-%s", method, path);
    pt_openapi_normalize(mp, OP_NAME_MAX, base, sizeof base);
    free(mp);
  }
  strcpy(name, base);
  if (I->names.cap && name_slot(&I->names, base)->name) {
    name_slot_t *b = name_slot(&I->names, base);
    int k = b->next;
    do snprintf(name, sizeof name, "%s-%d", base, k++);
    while (name_slot(&I->names, name)->name);
    b->next = k;
  }
  if (strcmp(name, base))
    warn_at(I, opid ? map_get(I, opn, "operationId") : opn, p, "the name '%s' is already taken "
            "by another operation; this one is named '%s'", base, name);
  if ((op->id = sdup(I, name)) && name_add(&I->names, op->id) < 0) I->oom = 1;
}

static void import_operation(imp_t *I, const char *path, const char *method, yaml_node_t *opn,
                             const param_t *path_params, int npath_params, ptr_t *p) {
  param_t *ps = NULL;
  int nps = 0;
  yaml_node_t *list = get_typed(I, opn, "parameters", p, YAML_SEQUENCE_NODE);
  const char *summary = get_str(I, opn, "summary", p), *opid = get_str(I, opn, "operationId", p);
  pt_operation_cfg_t *op;
  char upper[8];

  if (npath_params) {
    if (!(ps = malloc(sizeof *ps * (size_t)npath_params))) {
      I->oom = 1;
      return;
    }
    memcpy(ps, path_params, sizeof *ps * (size_t)npath_params);
    nps = npath_params;
  }
  if (list) collect_params(I, list, p, &ps, &nps);
  if ((op = new_operation(I))) {
    size_t i;
    for (i = 0; method[i] && i < sizeof upper - 1; i++) upper[i] = (char)(method[i] - 'a' + 'A');
    upper[i] = '\0';
    name_operation(I, op, opn, method, path, p);
    op->method = sdup(I, upper);
    op->url_template = url_template(I, path, ps, nps);
    if (summary && *summary) {
      op->display_name = sdup(I, summary);
    } else if (opid && *opid) {
      op->display_name = sdup(I, opid);
    } else if ((op->display_name = malloc(strlen(upper) + strlen(path) + 2))) {
      sprintf(op->display_name, "%s %s", upper, path);
    } else {
      I->oom = 1;
    }
    op->line = (int)opn->start_mark.line + 1;
    op->col = (int)opn->start_mark.column + 1;
    find_example(I, opn, op, p);
  }
  free(ps);
}

static void import_path(imp_t *I, const char *key, yaml_node_t *item, ptr_t *p) {
  param_t *ps = NULL;
  int nps = 0;
  yaml_node_t *list;
  char *fixed = NULL;
  const char *path = key;

  if (!(item = deref(I, item, p))) return;
  if (item->type != YAML_MAPPING_NODE) {
    if (!is_null(item)) err_at(I, item, p, "is %s (expected a path item mapping)", kind(item));
    return;
  }
  if (key[0] != '/') {
    warn_at(I, item, p, "the path '%.200s' does not start with '/'; imported as '/%.200s'", key,
            key);
    if (!(fixed = malloc(strlen(key) + 2))) {
      I->oom = 1;
      return;
    }
    sprintf(fixed, "/%s", key);
    path = fixed;
  }
  if ((list = get_typed(I, item, "parameters", p, YAML_SEQUENCE_NODE)))
    collect_params(I, list, p, &ps, &nps);
  for (size_t m = 0; m < sizeof methods / sizeof *methods; m++) {
    yaml_node_t *opn = map_get(I, item, methods[m]);
    size_t at;
    if (!opn) continue;
    at = ptr_add(p, methods[m]);
    if (opn->type == YAML_MAPPING_NODE)
      import_operation(I, path, methods[m], opn, ps, nps, p);
    else if (!is_null(opn))
      err_at(I, opn, p, "is %s (expected an operation mapping)", kind(opn));
    ptr_back(p, at);
  }
  free(ps);
  free(fixed);
}

static void import_paths(imp_t *I, yaml_node_t *root) {
  ptr_t p = {.len = 0};
  yaml_node_t *paths = map_get(I, root, "paths");
  if (!paths || is_null(paths)) return; /* 3.1 allows it; the caller warns about no operations */
  if (paths->type != YAML_MAPPING_NODE) {
    ptr_add(&p, "paths");
    err_at(I, paths, &p, "is %s (expected a mapping of paths to path items)", kind(paths));
    return;
  }
  ptr_add(&p, "paths");
  for (yaml_node_pair_t *pr = paths->data.mapping.pairs.start;
       pr < paths->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = node(I, pr->key);
    const char *key = sval(k);
    size_t at;
    if (!key) {
      err_at(I, k, &p, "a path key is %s (expected a string like /orders/{id})", kind(k));
      continue;
    }
    if (!strncmp(key, "x-", 2)) continue; /* an extension, not a path */
    at = ptr_add(&p, key);
    import_path(I, key, node(I, pr->value), &p);
    ptr_back(&p, at);
  }
}

/* ---- the service URL ---- */

/* RFC 3986 remove_dot_segments on a path that starts with '/', in place. */
static void remove_dot_segments(char *path) {
  char *out = path, *in = path;
  size_t o = 0;
  while (*in == '/') {
    char *seg = in + 1;
    size_t n = strcspn(seg, "/");
    int last = seg[n] == '\0';
    if (n == 1 && seg[0] == '.') {
      if (last) out[o++] = '/';
    } else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
      while (o > 0 && out[o - 1] != '/') o--;
      if (o > 0) o--;
      if (last) out[o++] = '/';
    } else {
      out[o++] = '/';
      memmove(out + o, seg, n);
      o += n;
    }
    in = seg + n;
  }
  if (o == 0) out[o++] = '/';
  out[o] = '\0';
}

/* Resolves ref against the absolute base (RFC 3986 section 5.2; fragments dropped). */
static char *resolve_url(const char *base, const char *ref) {
  const char *auth = strstr(base, "://"), *bpath, *bend;
  size_t q = strcspn(ref, "?#"), dir = 0;
  pt_buf_t b = {0};
  char *path = NULL;
  int rc;
  if (!auth) return NULL;
  bpath = auth + 3 + strcspn(auth + 3, "/?#");
  bend = bpath + strcspn(bpath, "?#");
  if (ref[0] == '/' && ref[1] == '/') {
    rc = pt_buf_printf(&b, "%.*s:%s", (int)(auth - base), base, ref);
  } else if (ref[0] == '\0' || ref[0] == '?' || ref[0] == '#') {
    rc = pt_buf_printf(&b, "%.*s%.*s", (int)(bend - base), base, ref[0] == '?' ? (int)strcspn(ref, "#") : 0, ref);
  } else if (!(path = malloc((size_t)(bend - bpath) + q + 2))) {
    return NULL;
  } else {
    if (ref[0] != '/') { /* merge with the base path up to its last '/' */
      for (const char *s = bpath; s < bend; s++)
        if (*s == '/') dir = (size_t)(s - bpath) + 1;
      if (dir) memcpy(path, bpath, dir);
      else path[dir++] = '/';
    }
    memcpy(path + dir, ref, q);
    path[dir + q] = '\0';
    remove_dot_segments(path);
    rc = pt_buf_printf(&b, "%.*s%s%.*s", (int)(bpath - base), base, path,
                       (int)strcspn(ref + q, "#"), ref + q);
    free(path);
  }
  if (rc == 0) rc = pt_buf_append(&b, "", 1);
  if (rc) pt_buf_free(&b);
  return rc ? NULL : b.base;
}

static int has_scheme(const char *u) {
  size_t n = strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
  return n > 0 && u[n] == ':' && ((u[0] | 0x20) >= 'a' && (u[0] | 0x20) <= 'z');
}

typedef struct pick_s {
  char *https, *http;      /* the first of each, owned */
  const yaml_node_t *https_at, *http_at;
  ptr_t https_ptr, http_ptr;
  char *relative;          /* the first explicit relative URL when there is no base */
  const yaml_node_t *rel_at;
  ptr_t rel_ptr;
  int implicit;            /* the spec has no server at all (or a Swagger 2 without host) */
  int others;              /* servers with other schemes (ws, wss, ...) */
} pick_t;

/* Considers one server URL (owned: taken or freed) found at node `at`, pointer p. */
static void consider(imp_t *I, pick_t *k, char *url, const yaml_node_t *at, const ptr_t *p,
                     int implicit) {
  if (!url) {
    I->oom = 1;
    return;
  }
  if (!has_scheme(url) && I->o->base_url) {
    char *abs = resolve_url(I->o->base_url, url);
    free(url);
    if (!abs) I->oom = 1;
    else consider(I, k, abs, at, p, 0);
    return;
  }
  if (!has_scheme(url)) {
    if (implicit) k->implicit = 1;
    else if (!k->relative) k->relative = url, url = NULL, k->rel_at = at, k->rel_ptr = *p;
  } else if (!strncasecmp(url, "https:", 6)) {
    if (!k->https) k->https = url, url = NULL, k->https_at = at, k->https_ptr = *p;
  } else if (!strncasecmp(url, "http:", 5)) {
    if (!k->http) k->http = url, url = NULL, k->http_at = at, k->http_ptr = *p;
  } else {
    k->others++;
  }
  free(url);
}

/* "{name}" in an OpenAPI 3 server URL -> its variable's default. NULL after an error. */
static char *substitute(imp_t *I, const char *url, yaml_node_t *vars, yaml_node_t *at, ptr_t *p) {
  pt_buf_t b = {0};
  int rc = 0, bad = 0;
  for (const char *s = url; *s && rc == 0; ) {
    const char *close = *s == '{' ? strchr(s, '}') : NULL;
    if (!close) {
      rc = pt_buf_append(&b, s++, 1);
      continue;
    }
    char name[128];
    yaml_node_t *v, *def;
    snprintf(name, sizeof name, "%.*s", (int)(close - s - 1), s + 1);
    if (!(v = map_get(I, vars, name))) {
      err_at(I, at, p, "server URL '%.200s' uses '{%s}', which is not declared under "
             "variables", url, name);
      bad = 1;
    } else if (!sval(def = map_get(I, v, "default")) || is_null(def)) {
      err_at(I, v, p, "server variable '%s' has no default (APIM substitutes defaults)", name);
      bad = 1;
    } else {
      rc = pt_buf_appends(&b, sval(def));
    }
    s = close + 1;
  }
  if (rc == 0) rc = pt_buf_append(&b, "", 1);
  if (rc < 0) I->oom = 1;
  if (rc || bad) pt_buf_free(&b);
  return rc || bad ? NULL : b.base;
}

static void servers_oas3(imp_t *I, yaml_node_t *root, pick_t *k) {
  ptr_t p = {.len = 0};
  yaml_node_t *servers = get_typed(I, root, "servers", &p, YAML_SEQUENCE_NODE);
  long i = 0;
  if (!servers || servers->data.sequence.items.start == servers->data.sequence.items.top) {
    consider(I, k, sdup(I, "/"), root, &p, 1); /* OpenAPI 3's default server */
    return;
  }
  ptr_add(&p, "servers");
  for (yaml_node_item_t *it = servers->data.sequence.items.start;
       it < servers->data.sequence.items.top; it++, i++) {
    size_t at = ptr_idx(&p, i);
    yaml_node_t *s = node(I, *it), *u = map_get(I, s, "url");
    const char *url = sval(u);
    if (s->type != YAML_MAPPING_NODE || !url) {
      err_at(I, s, &p, "expected a server mapping with a url");
    } else {
      ptr_add(&p, "url");
      char *v = substitute(I, url, map_get(I, s, "variables"), u, &p);
      if (v) consider(I, k, v, u, &p, 0);
    }
    ptr_back(&p, at);
  }
}

static void servers_swagger2(imp_t *I, yaml_node_t *root, pick_t *k) {
  ptr_t p = {.len = 0};
  const char *host = get_str(I, root, "host", &p), *bp = get_str(I, root, "basePath", &p);
  yaml_node_t *schemes = get_typed(I, root, "schemes", &p, YAML_SEQUENCE_NODE);
  yaml_node_t *at = map_get(I, root, "host");
  pt_buf_t b = {0};
  char *base;

  if (map_get(I, root, "x-ms-parameterized-host")) {
    ptr_add(&p, "x-ms-parameterized-host");
    warn_at(I, map_get(I, root, "x-ms-parameterized-host"), &p, "is not supported (APIM "
            "ignores it too); the service URL comes from host, basePath and schemes");
    ptr_back(&p, 0);
  }
  if (!bp || !strcmp(bp, "/")) bp = "";
  if (!(base = malloc(strlen(bp) + 2))) {
    I->oom = 1;
    return;
  }
  sprintf(base, "%s%s", *bp && *bp != '/' ? "/" : "", bp);
  if (!host) {
    consider(I, k, sdup(I, *base ? base : "/"), root, &p, 1);
  } else if (schemes && schemes->data.sequence.items.start < schemes->data.sequence.items.top) {
    ptr_add(&p, "schemes");
    for (yaml_node_item_t *it = schemes->data.sequence.items.start;
         it < schemes->data.sequence.items.top; it++) {
      const char *sch = sval(node(I, *it));
      b.len = 0;
      if (sch && pt_buf_printf(&b, "%s://%s%s", sch, host, base) == 0 &&
          pt_buf_append(&b, "", 1) == 0)
        consider(I, k, sdup(I, b.base), node(I, *it), &p, 0);
    }
  } else {
    ptr_add(&p, "host");
    if (pt_buf_printf(&b, "//%s%s", host, base) == 0 && pt_buf_append(&b, "", 1) == 0)
      consider(I, k, sdup(I, b.base), at, &p, 0); /* no schemes: relative to the spec */
  }
  pt_buf_free(&b);
  free(base);
}

/* The service URL: the first https server, else the first http one. When the caller has its
 * own (quiet_servers), every message about servers goes to a scratch list and is dropped. */
static void service_url(imp_t *I, yaml_node_t *root) {
  pick_t k;
  char err[256];
  const char *chosen;
  const yaml_node_t *at;
  pt_api_cfg_t *a = I->api;
  pt_diag_t scratch = {0}, *d = I->d;
  if (I->quiet_servers) I->d = &scratch;
  memset(&k, 0, sizeof k);
  if (I->swagger2) servers_swagger2(I, root, &k);
  else servers_oas3(I, root, &k);
  chosen = k.https ? k.https : k.http;
  at = k.https ? k.https_at : k.http_at;
  if (!chosen) {
    if (k.relative)
      err_at(I, k.rel_at, &k.rel_ptr, "server URL '%.200s' is relative; give a base URL to "
             "resolve it against (--base-url) or set serviceUrl in gateway.yaml", k.relative);
    else if (k.others)
      warn_at(I, NULL, NULL, "no http or https server; the service URL is empty (set "
              "serviceUrl in gateway.yaml)");
    else if (k.implicit)
      warn_at(I, NULL, NULL, "no %s: the service URL is empty (set serviceUrl in "
              "gateway.yaml, or give a base URL with --base-url)",
              I->swagger2 ? "host" : "servers");
  } else if (!k.https) {
    warn_at(I, at, &k.http_ptr, "no https server; using the first http one '%.200s'", chosen);
  }
  if (chosen) {
    a->service_url_text = sdup(I, chosen);
    if (a->service_url_text &&
        pt_url_parse(&a->service_url, a->service_url_text, err, sizeof err) < 0) {
      err_at(I, at, k.https ? &k.https_ptr : &k.http_ptr, "server URL '%.200s' has %s", chosen,
             err);
      free(a->service_url_text);
      a->service_url_text = NULL;
    }
  }
  free(k.https);
  free(k.http);
  free(k.relative);
  I->d = d;
  pt_diag_free(&scratch);
}

/* ---- the document ---- */

static int check_version(imp_t *I, yaml_node_t *root) {
  ptr_t p = {.len = 0};
  yaml_node_t *oas = map_get(I, root, "openapi"), *sw = map_get(I, root, "swagger");
  const char *v = sval(oas ? oas : sw);
  if (!oas && !sw) {
    pt_diag_error(I->d, I->file, 0, 0, "not an OpenAPI document (no 'openapi: 3.x' or "
                  "'swagger: \"2.0\"' at the top)");
    return -1;
  }
  ptr_add(&p, oas ? "openapi" : "swagger");
  if (!v) {
    err_at(I, oas ? oas : sw, &p, "is %s (expected a version string)", kind(oas ? oas : sw));
    return -1;
  }
  if (sw && !oas) {
    if (strcmp(v, "2.0") != 0) {
      err_at(I, sw, &p, "unsupported version '%.40s' (supported: swagger 2.0, openapi 3.0.x "
             "and 3.1.x)", v);
      return -1;
    }
    I->swagger2 = 1;
    return 0;
  }
  if (!strncmp(v, "3.0", 3) && (v[3] == '\0' || v[3] == '.')) return 0;
  if (!strncmp(v, "3.1", 3) && (v[3] == '\0' || v[3] == '.')) return 0;
  if (!strncmp(v, "3.2", 3) && (v[3] == '\0' || v[3] == '.')) {
    warn_at(I, oas, &p, "OpenAPI %.40s is read as 3.1 (the query method and "
            "additionalOperations are not imported)", v);
    return 0;
  }
  err_at(I, oas, &p, "unsupported version '%.40s' (supported: swagger 2.0, openapi 3.0.x "
         "and 3.1.x)", v);
  return -1;
}

static void import_info(imp_t *I, yaml_node_t *root) {
  ptr_t p = {.len = 0};
  const pt_openapi_options_t *o = I->o;
  pt_api_cfg_t *a = I->api;
  yaml_node_t *info = get_typed(I, root, "info", &p, YAML_MAPPING_NODE);
  const char *title = NULL, *desc = NULL;
  char id[ID_MAX + 1];

  if (info) {
    ptr_add(&p, "info");
    title = get_str(I, info, "title", &p);
    desc = get_str(I, info, "description", &p);
  }
  if (o->api_id) {
    a->id = sdup(I, o->api_id);
  } else if (title && pt_openapi_normalize(title, ID_MAX, id, sizeof id)) {
    a->id = sdup(I, id);
  } else {
    err_at(I, info ? info : root, info ? &p : NULL, "%s; give the API an id (--api-id)",
           title ? "the title has no letters or digits to make an API id from"
                 : "no info.title to make an API id from");
  }
  a->display_name = sdup(I, title && *title ? title : a->id);
  a->description = desc && *desc ? sdup(I, desc) : NULL;
  if (o->path || a->id) {
    const char *s = o->path ? o->path : a->id;
    size_t len;
    if (*s == '/') s++;
    len = strlen(s);
    if (len && s[len - 1] == '/') len--;
    if (strpbrk(s, "?# \t\r\n") || strstr(s, "//"))
      pt_diag_error(I->d, I->file, 0, 0, "the API path '%.200s' cannot hold '?', '#', spaces "
                    "or an empty segment", s);
    else if (!(a->path = strndup(s, len)))
      I->oom = 1;
  }
}

static void import_document(imp_t *I) {
  yaml_node_t *root = yaml_document_get_root_node(&I->doc);
  char err[256];
  pt_url_t base;
  if (root->type != YAML_MAPPING_NODE) {
    pt_diag_error(I->d, I->file, (int)root->start_mark.line + 1,
                  (int)root->start_mark.column + 1, "not an OpenAPI document (the top is %s; "
                  "expected a mapping with 'openapi: 3.x' or 'swagger: \"2.0\"')", kind(root));
    return;
  }
  if (check_version(I, root) < 0) return;
  if (I->o->base_url) {
    if (pt_url_parse(&base, I->o->base_url, err, sizeof err) < 0) {
      pt_diag_error(I->d, I->file, 0, 0, "the base URL '%.200s' has %s", I->o->base_url, err);
      return;
    }
    pt_url_free(&base);
  }
  import_info(I, root);
  service_url(I, root);
  import_paths(I, root);
}

int pt_openapi_import(const char *spec, const pt_openapi_options_t *o, pt_api_cfg_t *api,
                      pt_diag_t *d) {
  static const pt_openapi_options_t none;
  imp_t I = {.file = spec, .d = d, .o = o ? o : &none, .api = api};
  int errors = d->errors;
  char *text;
  size_t len;

  memset(api, 0, sizeof *api);
  I.quiet_servers = I.o->service_url_given;
  if (read_file(&I, &text, &len) < 0) return -1;
  json_fixups(text, len);
  if (load_yaml(&I, text, len) < 0) {
    free(text);
    return -1;
  }
  free(text);
  import_document(&I);
  yaml_document_delete(&I.doc);
  free(I.names.slots);
  if (I.oom) pt_diag_error(d, spec, 0, 0, "out of memory importing the spec");
  if (d->errors > errors) {
    pt_openapi_api_free(api);
    return -1;
  }
  if (api->noperations == 0)
    pt_diag_warn(d, spec, 0, 0, "the spec has no operations; the API will accept every "
                 "method and path under its path");
  return 0;
}

/* ---- printing ---- */

/* Whether s can be written as a plain YAML scalar that reads back as the same string. */
static int plain_ok(const char *s) {
  static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "y", "n",
                                      "null", "~", ".inf", "-.inf", "+.inf", ".nan", "<<", "="};
  size_t n = strlen(s);
  if (!n || strchr("!&*?|>'\"%@`{}[],#:", s[0]) || s[0] == ' ' || s[n - 1] == ' ' ||
      s[n - 1] == ':' || (s[0] == '-' && (s[1] == ' ' || !s[1])) || strstr(s, ": ") ||
      strstr(s, " #"))
    return 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f || (p[0] == 0xC2 && p[1] == 0x85) ||
        (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) ||
        (p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF))
      return 0;
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (!strcasecmp(s, words[i])) return 0;
  /* anything YAML 1.1 might read as a number, a date or a time */
  if (strchr("0123456789+-.", s[0]) &&
      strspn(s, "0123456789+-.:_eExXoObBabcdfABCDF ") == n)
    return 0;
  return 1;
}

static void print_quoted(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
    else if (*p == '\n') fputs("\\n", out);
    else if (*p == '\t') fputs("\\t", out);
    else if (*p == '\r') fputs("\\r", out);
    else if (*p < 0x20 || *p == 0x7f) fprintf(out, "\\x%02X", *p);
    else if (p[0] == 0xC2 && p[1] == 0x85) fputs("\\N", out), p += 1;
    else if (p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0xA8) fputs("\\L", out), p += 2;
    else if (p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0xA9) fputs("\\P", out), p += 2;
    else if (p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) fputs("\\uFEFF", out), p += 2;
    else fputc(*p, out);
  }
  fputc('"', out);
}

/* A multi-line text reads best as a literal block; only when it survives the round trip. */
static int literal_ok(const char *s) {
  if (!strchr(s, '\n') || s[0] == ' ' || s[0] == '\t' || s[0] == '\n') return 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f || (p[0] == 0xC2 && p[1] == 0x85) ||
        (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) ||
        (p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF))
      return 0;
  return 1;
}

static void print_scalar(FILE *out, int indent, const char *key, const char *s) {
  size_t n = strlen(s), trail = 0;
  fprintf(out, "%*s%s: ", indent, "", key);
  if (plain_ok(s)) {
    fprintf(out, "%s\n", s);
    return;
  }
  if (!literal_ok(s)) {
    print_quoted(out, s);
    fputc('\n', out);
    return;
  }
  while (trail < n && s[n - 1 - trail] == '\n') trail++;
  fputs(trail == 0 ? "|-\n" : trail == 1 ? "|\n" : "|+\n", out);
  for (const char *line = s; line < s + n; ) {
    size_t len = strcspn(line, "\n");
    if (len) fprintf(out, "%*s%.*s", indent + 2, "", (int)len, line);
    fputc('\n', out);
    line += len + 1;
  }
}

static void print_key(FILE *out, int indent, const char *key) {
  fprintf(out, "%*s", indent, "");
  if (plain_ok(key)) fputs(key, out);
  else print_quoted(out, key);
  fputs(":\n", out);
}

void pt_openapi_print_yaml(FILE *out, const pt_api_cfg_t *api) {
  fputs("apis:\n", out);
  print_key(out, 2, api->id ? api->id : "api");
  if (api->display_name) print_scalar(out, 4, "displayName", api->display_name);
  if (api->description) print_scalar(out, 4, "description", api->description);
  print_scalar(out, 4, "path", api->path ? api->path : "");
  if (api->service_url_text)
    print_scalar(out, 4, "serviceUrl", api->service_url_text);
  else
    fputs("    # serviceUrl: the spec has no usable server URL; set serviceUrl or backend\n", out);
  if (!api->noperations) {
    fputs("    # no operations: every method and path under the API is accepted\n", out);
    return;
  }
  fputs("    operations:\n", out);
  for (int i = 0; i < api->noperations; i++) {
    const pt_operation_cfg_t *op = &api->operations[i];
    print_key(out, 6, op->id);
    print_scalar(out, 8, "method", op->method);
    print_scalar(out, 8, "urlTemplate", op->url_template);
    if (op->display_name) print_scalar(out, 8, "displayName", op->display_name);
  }
}

/* ---- merging and freeing ---- */

static int fill(char **dst, const char *src) {
  if (*dst || !src) return 0;
  return (*dst = strdup(src)) ? 0 : -1;
}

static int fill_operation(pt_operation_cfg_t *dst, const pt_operation_cfg_t *src) {
  int rc = fill(&dst->id, src->id) | fill(&dst->method, src->method) |
           fill(&dst->url_template, src->url_template) |
           fill(&dst->display_name, src->display_name);
  if (!dst->example_body && src->example_body) {
    rc |= fill(&dst->example_body, src->example_body);
    rc |= fill(&dst->example_content_type, src->example_content_type);
    dst->example_status = src->example_status;
  }
  return rc;
}

int pt_openapi_merge(pt_api_cfg_t *dst, const pt_api_cfg_t *im) {
  int rc = fill(&dst->display_name, im->display_name) | fill(&dst->description, im->description) |
           fill(&dst->path, im->path), nnew = 0;
  pt_operation_cfg_t *ops;
  char err[256];

  if (!dst->service_url_text && !dst->backend_id && im->service_url_text) {
    if (fill(&dst->service_url_text, im->service_url_text) < 0) {
      rc = -1;
    } else if (pt_url_parse(&dst->service_url, dst->service_url_text, err, sizeof err) < 0) {
      free(dst->service_url_text); /* only when out of memory: it parsed once already */
      dst->service_url_text = NULL;
      rc = -1;
    }
  }
  for (int i = 0; i < im->noperations; i++) {
    int j;
    for (j = 0; j < dst->noperations; j++)
      if (dst->operations[j].id && !strcmp(dst->operations[j].id, im->operations[i].id)) break;
    if (j < dst->noperations) rc |= fill_operation(&dst->operations[j], &im->operations[i]);
    else nnew++;
  }
  if (!nnew) return rc ? -1 : 0;
  if (!(ops = realloc(dst->operations, sizeof *ops * (size_t)(dst->noperations + nnew))))
    return -1;
  dst->operations = ops;
  for (int i = 0; i < im->noperations; i++) {
    int j;
    for (j = 0; j < dst->noperations; j++)
      if (dst->operations[j].id && !strcmp(dst->operations[j].id, im->operations[i].id)) break;
    if (j < dst->noperations) continue;
    memset(&ops[dst->noperations], 0, sizeof *ops);
    rc |= fill_operation(&ops[dst->noperations++], &im->operations[i]);
  }
  return rc ? -1 : 0;
}

void pt_openapi_api_free(pt_api_cfg_t *api) {
  if (!api) return;
  free(api->id);
  free(api->display_name);
  free(api->description);
  free(api->path);
  free(api->service_url_text);
  pt_url_free(&api->service_url);
  for (int i = 0; i < api->noperations; i++) {
    pt_operation_cfg_t *op = &api->operations[i];
    free(op->id);
    free(op->method);
    free(op->url_template);
    free(op->display_name);
    free(op->example_content_type);
    free(op->example_body);
  }
  free(api->operations);
  memset(api, 0, sizeof *api);
}
