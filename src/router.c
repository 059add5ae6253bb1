/* router.c - APIM routing: API by path and version, operation by template (see router.h). */
#include "router.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

struct pt_route_s {
  const pt_api_cfg_t *api;
  char *prefix;      /* API path, plus "/<version>" for a Segment version set */
  size_t prefix_len;
  int first, count;  /* the API's templates in pt_router_t.templates */
};

typedef enum { SEG_LITERAL, SEG_PARAM, SEG_WILDCARD } seg_kind_t;

typedef struct seg_s {
  seg_kind_t kind;
  char *text;        /* literal text or parameter name */
} seg_t;

typedef struct query_req_s {
  char *name;        /* query parameter that must be present */
  char *param;       /* template parameter it fills, or NULL for a literal value */
  char *value;       /* literal value required, or NULL */
} query_req_t;

struct pt_template_s {
  const pt_operation_cfg_t *op;
  seg_t *segs;
  int nsegs;
  query_req_t *query;
  int nquery;
  int literals;      /* specificity: literal segments */
};

/* ---- templates ------------------------------------------------------------ */

static char *dupn(const char *s, size_t n) {
  char *r = malloc(n + 1);
  if (r) memcpy(r, s, n), r[n] = '\0';
  return r;
}

static int braced(const char *s, size_t n) { return n > 2 && s[0] == '{' && s[n - 1] == '}'; }

static int compile_query(pt_template_t *t, const char *q) {
  while (*q) {
    size_t n = strcspn(q, "&"), eq = strcspn(q, "=");
    if (n) {
      query_req_t *qr = realloc(t->query, sizeof *qr * (t->nquery + 1));
      if (!qr) return UV_ENOMEM;
      t->query = qr;
      qr = &t->query[t->nquery++];
      memset(qr, 0, sizeof *qr);
      qr->name = dupn(q, eq < n ? eq : n);
      if (eq < n && braced(q + eq + 1, n - eq - 1)) qr->param = dupn(q + eq + 2, n - eq - 3);
      else if (eq < n) qr->value = dupn(q + eq + 1, n - eq - 1);
    }
    q += n + (q[n] == '&');
  }
  return 0;
}

static int compile_template(pt_template_t *t, const pt_operation_cfg_t *op) {
  memset(t, 0, sizeof *t);
  t->op = op;
  const char *p = op->url_template, *qm = strchr(p, '?');
  size_t plen = qm ? (size_t)(qm - p) : strlen(p);
  for (size_t i = 0; i < plen;) {
    while (i < plen && p[i] == '/') i++;
    size_t j = i;
    while (j < plen && p[j] != '/') j++;
    if (j == i) break;
    seg_t *s = realloc(t->segs, sizeof *s * (t->nsegs + 1));
    if (!s) return UV_ENOMEM;
    t->segs = s;
    s = &t->segs[t->nsegs++];
    if (j - i == 1 && p[i] == '*') s->kind = SEG_WILDCARD, s->text = NULL;
    else if (braced(p + i, j - i)) s->kind = SEG_PARAM, s->text = dupn(p + i + 1, j - i - 2);
    else s->kind = SEG_LITERAL, s->text = dupn(p + i, j - i), t->literals++;
    i = j;
  }
  return qm ? compile_query(t, qm + 1) : 0;
}

static void free_template(pt_template_t *t) {
  for (int i = 0; i < t->nsegs; i++) free(t->segs[i].text);
  for (int i = 0; i < t->nquery; i++) free(t->query[i].name), free(t->query[i].param), free(t->query[i].value);
  free(t->segs);
  free(t->query);
}

static int has_wildcard(const pt_template_t *t) { return t->nsegs && t->segs[t->nsegs - 1].kind == SEG_WILDCARD; }

/* Most specific first: more literal segments, no wildcard, more query
 * requirements, a named method before "*". */
static int more_specific_first(const void *a, const void *b) {
  const pt_template_t *x = a, *y = b;
  if (x->literals != y->literals) return y->literals - x->literals;
  if (has_wildcard(x) != has_wildcard(y)) return has_wildcard(x) - has_wildcard(y);
  if (x->nsegs != y->nsegs) return y->nsegs - x->nsegs;
  if (x->nquery != y->nquery) return y->nquery - x->nquery;
  return (strcmp(x->op->method, "*") == 0) - (strcmp(y->op->method, "*") == 0);
}

/* ---- build ------------------------------------------------------------------ */

static int longest_first(const void *a, const void *b) {
  const pt_route_t *x = a, *y = b;
  return x->prefix_len < y->prefix_len ? 1 : x->prefix_len > y->prefix_len ? -1 : 0;
}

static int route_prefix(pt_route_t *rt, const pt_api_cfg_t *api) {
  const pt_version_set_cfg_t *vs = api->version_set;
  if (vs && vs->scheme == PT_VERSION_SEGMENT && api->api_version) {
    size_t n = strlen(api->path) + strlen(api->api_version) + 2;
    if (!(rt->prefix = malloc(n))) return UV_ENOMEM;
    strcpy(rt->prefix, api->path);
    if (*api->path) strcat(rt->prefix, "/");
    strcat(rt->prefix, api->api_version);
  } else if (!(rt->prefix = strdup(api->path))) {
    return UV_ENOMEM;
  }
  rt->prefix_len = strlen(rt->prefix);
  return 0;
}

int pt_router_build(pt_router_t *r, const pt_config_t *c) {
  memset(r, 0, sizeof *r);
  int nops = 0;
  for (int i = 0; i < c->napis; i++) nops += c->apis[i].noperations;
  r->routes = calloc((size_t)(c->napis > 0 ? c->napis : 1), sizeof *r->routes);
  r->templates = calloc((size_t)(nops > 0 ? nops : 1), sizeof *r->templates);
  if (!r->routes || !r->templates) goto oom;
  for (int i = 0; i < c->napis; i++, r->count++) {
    const pt_api_cfg_t *api = &c->apis[i];
    pt_route_t *rt = &r->routes[i];
    rt->api = api;
    rt->first = r->ntemplates;
    rt->count = api->noperations;
    if (route_prefix(rt, api)) goto oom;
    for (int k = 0; k < api->noperations; k++)
      if (compile_template(&r->templates[r->ntemplates++], &api->operations[k])) goto oom;
    qsort(r->templates + rt->first, rt->count, sizeof *r->templates, more_specific_first);
  }
  qsort(r->routes, r->count, sizeof *r->routes, longest_first);
  return 0;
oom:
  pt_router_free(r);
  return UV_ENOMEM;
}

void pt_router_free(pt_router_t *r) {
  for (int i = 0; i < r->count; i++) free(r->routes[i].prefix);
  for (int i = 0; i < r->ntemplates; i++) free_template(&r->templates[i]);
  free(r->routes);
  free(r->templates);
  memset(r, 0, sizeof *r);
}

/* ---- match ------------------------------------------------------------------ */

const char *pt_query_param(const char *q, size_t qlen, const char *name, size_t *vlen) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < qlen;) {
    size_t j = i;
    while (j < qlen && q[j] != '&') j++;
    if (j - i >= nl && memcmp(q + i, name, nl) == 0 && (j - i == nl || q[i + nl] == '=')) {
      size_t v = i + nl + (j - i > nl);
      *vlen = j - v;
      return q + v;
    }
    i = j + 1;
  }
  return NULL;
}

static int version_ok(const pt_api_cfg_t *api, const pt_route_request_t *q) {
  const pt_version_set_cfg_t *vs = api->version_set;
  if (!vs || vs->scheme == PT_VERSION_SEGMENT || !api->api_version) return 1;
  const char *v = NULL;
  size_t vlen = 0;
  if (vs->scheme == PT_VERSION_QUERY) {
    v = pt_query_param(q->query, q->query_len, vs->name, &vlen);
  } else {
    int h = q->headers ? pt_headers_find(q->headers, vs->name, 0) : -1;
    if (h >= 0) v = pt_header_value(q->headers, h), vlen = q->headers->items[h].value_len;
  }
  return v && pt_strncaseeq(v, vlen, api->api_version);
}

static int add_param(pt_route_match_t *m, const char *name, const char *v, size_t n) {
  if (m->nparams == PT_MAX_MATCHED_PARAMS) return 0;
  m->params[m->nparams++] = (pt_matched_param_t){name, v, n};
  return 1;
}

static int template_matches(const pt_template_t *t, const char *p, size_t n, const pt_route_request_t *q,
                            pt_route_match_t *m) {
  m->nparams = 0;
  size_t i = 0;
  for (int s = 0; s < t->nsegs; s++) {
    const seg_t *seg = &t->segs[s];
    if (seg->kind == SEG_WILDCARD) return 1; /* the rest, even nothing */
    while (i < n && p[i] == '/') i++;
    size_t j = i;
    while (j < n && p[j] != '/') j++;
    if (j == i) return 0;
    if (seg->kind == SEG_LITERAL && !pt_strncaseeq(p + i, j - i, seg->text)) return 0;
    if (seg->kind == SEG_PARAM && !add_param(m, seg->text, p + i, j - i)) return 0;
    i = j;
  }
  while (i < n && p[i] == '/') i++; /* a trailing slash does not matter */
  if (i != n) return 0;
  for (int k = 0; k < t->nquery; k++) {
    size_t vlen;
    const char *v = pt_query_param(q->query, q->query_len, t->query[k].name, &vlen);
    if (!v || (t->query[k].value && !pt_strncaseeq(v, vlen, t->query[k].value))) return 0;
    if (t->query[k].param && !add_param(m, t->query[k].param, v, vlen)) return 0;
  }
  return 1;
}

static int method_ok(const pt_operation_cfg_t *op, const char *method) {
  return strcmp(op->method, "*") == 0 || strcmp(op->method, method) == 0;
}

static int match_operation(const pt_router_t *r, const pt_route_t *rt, const pt_route_request_t *q,
                           pt_route_match_t *m) {
  const char *p = q->path + m->rest;
  size_t n = q->path_len - m->rest;
  for (int i = rt->first; i < rt->first + rt->count; i++) {
    const pt_template_t *t = &r->templates[i];
    if (method_ok(t->op, q->method) && template_matches(t, p, n, q, m)) {
      m->operation = t->op;
      return PT_ROUTE_OK;
    }
  }
  m->nparams = 0;
  return PT_ROUTE_NO_OPERATION;
}

int pt_router_match(const pt_router_t *r, const pt_route_request_t *q, pt_route_match_t *m) {
  memset(m, 0, sizeof *m);
  if (q->path_len == 0 || q->path[0] != '/') return PT_ROUTE_NO_API;
  const char *path = q->path + 1; /* API paths are stored without the leading '/' */
  size_t len = q->path_len - 1;
  for (int i = 0; i < r->count; i++) {
    const pt_route_t *rt = &r->routes[i];
    size_t n = rt->prefix_len;
    if (n > len || strncasecmp(path, rt->prefix, n) != 0) continue;
    if (n != 0 && n != len && path[n] != '/') continue; /* whole segments only */
    if (!version_ok(rt->api, q)) continue;
    m->api = rt->api;
    m->rest = n ? n + 1 : 0; /* in the original path, which starts with '/' */
    return rt->count ? match_operation(r, rt, q, m) : PT_ROUTE_OK;
  }
  return PT_ROUTE_NO_API;
}
