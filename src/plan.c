/* plan.c - runs a native policy plan (see plan.h). Every op does what the
 * Lua element it was lowered from does (the policies/ modules, lua/portico/context.lua);
 * lua/portico/plan.lua's `execute` is the same executor in Lua, for the specs. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "store.h"

/* ---- the plan ------------------------------------------------------------- */

static void pieces_free(pt_plan_pieces_t *ps) {
  for (int i = 0; i < ps->n; i++) free(ps->items[i].text.s);
  free(ps->items);
}

static void op_free(pt_plan_op_t *o) {
  free(o->name.s);
  for (int i = 0; i < o->nvalues; i++) free(o->values[i].s);
  free(o->values);
  for (int i = 0; i < o->ncond; i++) free(o->cond[i].name.s), free(o->cond[i].value.s), free(o->cond[i].def.s);
  free(o->cond);
  pieces_free(&o->path);
  for (int i = 0; i < o->nquery; i++) pieces_free(&o->query[i].k), pieces_free(&o->query[i].v);
  free(o->query);
  free(o->body.s);
  for (int i = 0; i < o->nkey; i++) free(o->key[i].text.s), free(o->key[i].def.s);
  free(o->key);
}

void pt_plan_free(pt_plan_t *p) {
  if (!p) return;
  for (int i = 0; i < p->nops; i++) op_free(&p->ops[i]);
  free(p->ops);
  for (int i = 0; i < p->nconsumed; i++) free(p->consumed[i].s);
  free(p->consumed);
  free(p);
}

void pt_plan_work_free(pt_plan_work_t *w) {
  pt_headers_free(&w->headers);
  pt_buf_free(&w->path);
  pt_buf_free(&w->query);
  pt_buf_free(&w->scratch);
  free(w->params);
  free(w->next);
  pt_buf_free(&w->key);
  pt_buf_free(&w->detail);
  pt_buf_free(&w->body);
  pt_headers_free(&w->answer);
  memset(w, 0, sizeof *w);
}

/* ---- one run ----------------------------------------------------------------- */

typedef struct run_s {
  const pt_plan_t *plan;
  const pt_plan_input_t *in;
  pt_plan_work_t *w;
  const pt_headers_t *headers; /* the client's until a header op copies them */
  const char *method, *backend_id, *base_url;
  int rank, path_set, query_parsed, query_dirty;
  int status; /* the request failed: the answer's status */
  const char *reason;
  const pt_plan_str_t *body; /* NULL: in w->body */
} run_t;

static int same_name(const pt_headers_t *h, int i, const pt_plan_str_t *name) {
  return h->items[i].name_len == name->len && strncasecmp(pt_header_name(h, i), name->s, name->len) == 0;
}

static int find_header(const pt_headers_t *h, const pt_plan_str_t *name, int from) {
  for (int i = from; i < h->count; i++)
    if (same_name(h, i, name)) return i;
  return -1;
}

/* ---- headers (context.lua's Headers) ---- */

/* The first change copies the client's list into the work area: its store
 * and items as they are (offsets stay valid), with room for a few more lines. */
static int own_headers(run_t *r) {
  pt_headers_t *h = &r->w->headers;
  const pt_headers_t *src = r->headers;
  if (src == h) return 0;
  pt_headers_reset(h);
  if (h->cap < src->count + 8) {
    pt_header_t *items = realloc(h->items, sizeof *items * (size_t)(src->count + 8));
    if (!items) return UV_ENOMEM;
    h->items = items, h->cap = src->count + 8;
  }
  if (src->store.len && pt_buf_append(&h->store, src->store.base, src->store.len)) return UV_ENOMEM;
  if (src->count) memcpy(h->items, src->items, sizeof *h->items * (size_t)src->count);
  h->count = src->count;
  h->in_value = 1;
  r->headers = h;
  return 0;
}

static int add_line(pt_headers_t *h, const pt_plan_str_t *name, const char *v, size_t len) {
  h->in_value = 1; /* a name piece now starts a new line */
  int rc = pt_headers_name_piece(h, name->s, name->len);
  return rc ? rc : pt_headers_value_piece(h, v, len);
}

/* A new value for line i: old (when joining), ",", v — appended to the store, NUL-terminated. */
static int set_value(pt_headers_t *h, int i, int join, const pt_plan_str_t *v) {
  size_t old = join ? h->items[i].value_len : 0;
  if (pt_buf_reserve(&h->store, old + 1 + v->len + 1)) return UV_ENOMEM;
  char *p = h->store.base + h->store.len;
  if (join) memcpy(p, h->store.base + h->items[i].value_off, old), p[old++] = ',';
  memcpy(p + old, v->s, v->len);
  p[old + v->len] = '\0';
  h->items[i].value_off = (uint32_t)h->store.len;
  h->items[i].value_len = (uint32_t)(old + v->len);
  h->store.len += old + v->len + 1;
  return 0;
}

static void remove_lines(pt_headers_t *h, const pt_plan_str_t *name, int from) {
  int j = from;
  for (int i = from; i < h->count; i++)
    if (!same_name(h, i, name)) h->items[j++] = h->items[i];
  h->count = j;
}

static int header_op(run_t *r, const pt_plan_op_t *o) {
  if (o->if_absent && find_header(r->headers, &o->name, 0) >= 0) return 0;
  if (own_headers(r)) return UV_ENOMEM;
  pt_headers_t *h = &r->w->headers;
  int at;
  switch (o->kind) {
  case PT_PLAN_HEADER_DELETE:
    remove_lines(h, &o->name, 0);
    return 0;
  case PT_PLAN_HEADER_SET: /* Headers:set: the first line keeps its place */
    if ((at = find_header(h, &o->name, 0)) < 0) return add_line(h, &o->name, o->values[0].s, o->values[0].len);
    remove_lines(h, &o->name, at + 1);
    return set_value(h, at, 0, &o->values[0]);
  case PT_PLAN_HEADER_JOIN: /* Headers:add: onto the last line */
    for (at = h->count - 1; at >= 0 && !same_name(h, at, &o->name); at--) {}
    return at < 0 ? add_line(h, &o->name, o->values[0].s, o->values[0].len) : set_value(h, at, 1, &o->values[0]);
  default: /* PT_PLAN_HEADER_LINES */
    for (int i = 0; i < o->nvalues; i++)
      if (add_line(h, &o->name, o->values[i].s, o->values[i].len)) return UV_ENOMEM;
    return 0;
  }
}

/* ---- conditions ---- */

static int str_eq(const char *a, size_t alen, const pt_plan_str_t *b) {
  return alen == b->len && memcmp(a, b->s, alen) == 0;
}

/* GetValueOrDefault(name, def) == value: the lines of name joined with ",". */
static int header_equals(const pt_headers_t *h, const pt_plan_cond_t *k) {
  int i = find_header(h, &k->name, 0);
  if (i < 0) return k->has_default && str_eq(k->def.s, k->def.len, &k->value);
  size_t pos = 0;
  for (int first = 1; i >= 0; i = find_header(h, &k->name, i + 1), first = 0) {
    size_t n = h->items[i].value_len;
    if (!first && (pos >= k->value.len || k->value.s[pos++] != ',')) return 0;
    if (pos + n > k->value.len || memcmp(k->value.s + pos, pt_header_value(h, i), n) != 0) return 0;
    pos += n;
  }
  return pos == k->value.len;
}

static int condition(const run_t *r, const pt_plan_op_t *o) {
  int stack[PT_PLAN_COND_MAX], n = 0;
  for (int i = 0; i < o->ncond; i++) {
    const pt_plan_cond_t *k = &o->cond[i];
    switch (k->kind) {
    case PT_COND_HEADER_EQ: stack[n++] = header_equals(r->headers, k); break;
    case PT_COND_HAS: stack[n++] = find_header(r->headers, &k->name, 0) >= 0; break;
    case PT_COND_METHOD_EQ: stack[n++] = str_eq(r->method, strlen(r->method), &k->value); break;
    case PT_COND_CONST: stack[n++] = k->truth; break;
    case PT_COND_NOT: stack[n - 1] = !stack[n - 1]; break;
    case PT_COND_AND: n--, stack[n - 1] = stack[n - 1] && stack[n]; break;
    case PT_COND_OR: n--, stack[n - 1] = stack[n - 1] || stack[n]; break;
    }
  }
  return n == 1 && stack[0]; /* lbridge.c checked the shape when it read the plan */
}

/* ---- query (context.lua's Query: decoded names, raw pieces) ---- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* context.url_decode ('+' is a space, %XX a byte) of s, appended to b. */
static int append_decoded(pt_buf_t *b, const char *s, size_t n) {
  if (pt_buf_reserve(b, n)) return UV_ENOMEM;
  char *o = b->base + b->len;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '+') *o++ = ' ';
    else if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0)
      *o++ = (char)(hi * 16 + lo), i += 2;
    else *o++ = s[i];
  }
  b->len = (size_t)(o - b->base);
  return 0;
}

static int push_param(pt_plan_param_t **list, int *n, pt_plan_work_t *w, pt_plan_param_t p) {
  if (*n == w->cap) {
    int cap = w->cap ? w->cap * 2 : 16;
    pt_plan_param_t *a = realloc(w->params, sizeof *a * cap), *b;
    if (!a) return UV_ENOMEM;
    w->params = a;
    if (!(b = realloc(w->next, sizeof *b * cap))) return UV_ENOMEM;
    w->next = b;
    w->cap = cap; /* `list` is &w->params or &w->next: it follows */
  }
  (*list)[(*n)++] = p;
  return 0;
}

/* A parameter from its raw piece (copied to scratch): name decoded. */
static int add_raw(run_t *r, pt_plan_param_t **list, int *n, const char *raw, size_t len) {
  pt_buf_t *s = &r->w->scratch;
  const char *eq = memchr(raw, '=', len);
  size_t klen = eq ? (size_t)(eq - raw) : len;
  pt_plan_param_t p = {.raw_off = s->len, .raw_len = len};
  if (pt_buf_append(s, raw, len)) return UV_ENOMEM;
  p.name_off = s->len;
  if (append_decoded(s, s->base + p.raw_off, klen)) return UV_ENOMEM; /* reserve first: base is stable */
  p.name_len = s->len - p.name_off;
  return push_param(list, n, r->w, p);
}

static int parse_query(run_t *r) {
  if (r->query_parsed) return 0;
  const char *q = r->in->query;
  size_t n = r->in->query_len;
  r->query_parsed = 1;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && q[j] != '&') j++;
    if (j > i && add_raw(r, &r->w->params, &r->w->nparams, q + i, j - i)) return UV_ENOMEM;
    i = j + 1;
  }
  return 0;
}

static int param_is(const run_t *r, const pt_plan_param_t *p, const pt_plan_str_t *name) {
  return str_eq(r->w->scratch.base + p->name_off, p->name_len, name);
}

static int query_op(run_t *r, const pt_plan_op_t *o) {
  pt_plan_work_t *w = r->w;
  if (parse_query(r)) return UV_ENOMEM;
  int present = 0;
  for (int i = 0; i < w->nparams; i++) present |= param_is(r, &w->params[i], &o->name);
  if (o->kind == PT_PLAN_QUERY_SET && o->if_absent && present) return 0;
  if (o->kind != PT_PLAN_QUERY_ADD && present) {
    int j = 0;
    for (int i = 0; i < w->nparams; i++)
      if (!param_is(r, &w->params[i], &o->name)) w->params[j++] = w->params[i];
    w->nparams = j;
    r->query_dirty = 1;
  }
  if (o->kind == PT_PLAN_QUERY_DELETE) return 0;
  for (int i = 0; i < o->nvalues; i++) {
    pt_plan_param_t p = {.name_off = w->scratch.len, .name_len = o->name.len};
    if (pt_buf_append(&w->scratch, o->name.s, o->name.len)) return UV_ENOMEM;
    p.raw_off = w->scratch.len, p.raw_len = o->values[i].len;
    if (pt_buf_append(&w->scratch, o->values[i].s, o->values[i].len)) return UV_ENOMEM;
    if (push_param(&w->params, &w->nparams, w, p)) return UV_ENOMEM;
  }
  r->query_dirty = 1;
  return 0;
}

/* ---- rewrite-uri ---- */

/* The value of matched parameter `name` (the last one of that name, as a Lua table keeps it). */
static const pt_matched_param_t *matched(const run_t *r, const char *name) {
  for (int i = r->in->nparams - 1; i >= 0; i--)
    if (strcmp(r->in->params[i].name, name) == 0) return &r->in->params[i];
  return NULL;
}

static int fill(const run_t *r, pt_buf_t *b, const pt_plan_pieces_t *ps) {
  for (int i = 0; i < ps->n; i++) {
    const pt_plan_piece_t *x = &ps->items[i];
    const pt_matched_param_t *m = x->param ? matched(r, x->text.s) : NULL;
    int rc = x->param ? (m ? pt_buf_append(b, m->value, m->value_len) : 0) : pt_buf_append(b, x->text.s, x->text.len);
    if (rc) return rc;
  }
  return 0;
}

static int consumed_or_given(const run_t *r, const pt_plan_param_t *p, int ngiven) {
  for (int i = 0; i < r->plan->nconsumed; i++)
    if (param_is(r, p, &r->plan->consumed[i])) return 1;
  for (int i = 0; i < ngiven; i++) {
    const pt_plan_param_t *g = &r->w->next[i];
    if (p->name_len == g->name_len && memcmp(r->w->scratch.base + p->name_off, r->w->scratch.base + g->name_off,
                                             p->name_len) == 0)
      return 1;
  }
  return 0;
}

/* The template's query pairs, then (copy-unmatched-params) the parameters
 * neither the operation's template consumed nor the new template gave. */
static int rewrite_query(run_t *r, const pt_plan_op_t *o) {
  pt_plan_work_t *w = r->w;
  pt_buf_t *s = &w->scratch;
  if (o->copy && parse_query(r)) return UV_ENOMEM;
  w->nnext = 0;
  for (int i = 0; i < o->nquery; i++) {
    const pt_plan_qpair_t *kv = &o->query[i];
    size_t raw = s->len;
    if (fill(r, s, &kv->k)) return UV_ENOMEM;
    size_t klen = s->len - raw;
    if (kv->eq && (pt_buf_append(s, "=", 1) || fill(r, s, &kv->v))) return UV_ENOMEM;
    pt_plan_param_t p = {.raw_off = raw, .raw_len = s->len - raw, .name_off = s->len};
    if (append_decoded(s, s->base + raw, klen)) return UV_ENOMEM;
    p.name_len = s->len - p.name_off;
    if (push_param(&w->next, &w->nnext, w, p)) return UV_ENOMEM;
  }
  int ngiven = w->nnext;
  for (int i = 0; o->copy && i < w->nparams; i++)
    if (!consumed_or_given(r, &w->params[i], ngiven) && push_param(&w->next, &w->nnext, w, w->params[i]))
      return UV_ENOMEM;
  pt_plan_param_t *t = w->params; /* the new list becomes the query */
  w->params = w->next, w->next = t;
  w->nparams = w->nnext;
  r->query_parsed = r->query_dirty = 1;
  return 0;
}

static int rewrite(run_t *r, const pt_plan_op_t *o) {
  pt_buf_t *p = &r->w->path;
  p->len = 0;
  if (fill(r, p, &o->path) || pt_buf_append(p, "", 1)) return UV_ENOMEM;
  r->path_set = 1;
  if (o->copy && o->nquery == 0 && r->plan->nconsumed == 0) return 0; /* the query goes on untouched */
  return rewrite_query(r, o);
}

/* ---- failures (pipeline.lua's answer without on-error) ---- */

/* The answer's head: Content-Type, then (when name) one more line. 1 (stop) or UV_ENOMEM. */
static int fail(run_t *r, int status, const char *reason, const pt_plan_str_t *name, const char *value) {
  pt_headers_t *h = &r->w->answer;
  pt_headers_reset(h);
  r->status = status, r->reason = reason;
  if (pt_headers_name_piece(h, "Content-Type", 12) || pt_headers_value_piece(h, "application/json", 16))
    return UV_ENOMEM;
  if (name && (pt_headers_name_piece(h, name->s, name->len) || pt_headers_value_piece(h, value, strlen(value))))
    return UV_ENOMEM;
  return 1;
}

static int lower_eq(const char *line, size_t len, const pt_plan_str_t *v) { /* v is lowered (ASCII, as Lua's lower) */
  if (len != v->len) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = line[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    if (c != v->s[i]) return 0;
  }
  return 1;
}

/* check-header (policies/check-header.lua with literal attributes and values). */
static int check_header(run_t *r, const pt_plan_op_t *o) {
  const pt_headers_t *h = r->headers;
  pt_buf_t *d = &r->w->detail;
  int i = find_header(h, &o->name, 0);
  d->len = 0;
  r->body = &o->body;
  if (i < 0) {
    if (pt_buf_printf(d, "Header %s was not found in the request. Access denied.", o->name.s)) return UV_ENOMEM;
    return fail(r, o->status, "HeaderNotFound", NULL, NULL);
  }
  if (o->nvalues == 0) return 0;
  for (; i >= 0; i = find_header(h, &o->name, i + 1)) {
    const char *line = pt_header_value(h, i);
    size_t len = h->items[i].value_len;
    int ok = 0;
    for (int k = 0; k < o->nvalues && !ok; k++)
      ok = o->icase ? lower_eq(line, len, &o->values[k]) : str_eq(line, len, &o->values[k]);
    if (ok) continue;
    if (pt_buf_printf(d, "Header %s value of %.*s isn't allowed. Access denied.", o->name.s, (int)len, line))
      return UV_ENOMEM;
    return fail(r, o->status, "HeaderValueNotAllowed", NULL, NULL);
  }
  return 0;
}

/* A native value (plan.h's pieces) into b, NUL-terminated; 1: it reads the
 * subscription's id and there is none. */
static int value(const run_t *r, pt_buf_t *b, const pt_plan_vpiece_t *ps, int n) {
  b->len = 0;
  for (int i = 0; i < n; i++) {
    const pt_plan_vpiece_t *p = &ps[i];
    const char *s = NULL;
    int rc = 0;
    if (p->kind == PT_VAL_TEXT) rc = pt_buf_append(b, p->text.s, p->text.len);
    else if (p->kind == PT_VAL_IP) s = r->in->ip;
    else if (p->kind == PT_VAL_SUB) {
      if (!(s = r->in->subscription_id) && p->required) return 1;
    } else {
      const pt_headers_t *h = r->headers;
      int at = find_header(h, &p->text, 0);
      if (at < 0) s = p->def.s;
      for (int first = 1; at >= 0 && !rc; at = find_header(h, &p->text, at + 1), first = 0)
        rc = (!first && pt_buf_append(b, ",", 1)) || pt_buf_append(b, pt_header_value(h, at), h->items[at].value_len);
    }
    if (s && !rc) rc = pt_buf_appends(b, s);
    if (rc) return UV_ENOMEM;
  }
  return pt_buf_append(b, "", 1);
}

/* rate-limit / rate-limit-by-key: host.count as the Lua closures call it, and throttle.too_many. */
static int count(run_t *r, const pt_plan_op_t *o) {
  if (o->need_sub && !r->in->subscription_id) return 0;
  pt_plan_work_t *w = r->w;
  int rc = value(r, &w->key, o->key, o->nkey);
  if (rc > 0) { /* as the expression on the Lua path: NullReferenceException */
    w->detail.len = w->body.len = 0;
    r->body = NULL;
    if (pt_buf_printf(&w->detail, "Expression evaluation failed. NullReferenceException: Object reference not set "
                                  "to an instance of an object (reading 'Id' of null).") ||
        pt_buf_printf(&w->body, "{\"statusCode\": 500, \"message\": \"Internal server error\"}"))
      return UV_ENOMEM;
    return fail(r, 500, "ExpressionValueEvaluationFailure", NULL, NULL);
  }
  if (rc) return UV_ENOMEM;
  int64_t n = 0;
  uint64_t reset = 0;
  int ok = pt_store_count(r->in->store, w->key.base, (uint64_t)o->window, o->inc, o->calls, &n, &reset);
  if (o->peek) ok = n < o->calls;
  if (ok) return 0;
  unsigned long long secs = (unsigned long long)(reset / 1000 + (reset % 1000 != 0));
  if (secs < 1) secs = 1;
  char num[24];
  snprintf(num, sizeof num, "%llu", secs);
  w->detail.len = w->body.len = 0;
  r->body = NULL;
  if (pt_buf_printf(&w->detail, "Rate limit is exceeded") ||
      pt_buf_printf(&w->body, "{\"statusCode\": 429, \"message\": \"Rate limit is exceeded. Try again in %s seconds.\"}", num))
    return UV_ENOMEM;
  return fail(r, 429, "RateLimitExceeded", &o->name, num);
}

/* ---- the run ---- */

static int step(run_t *r, const pt_plan_op_t *o) {
  switch (o->kind) {
  case PT_PLAN_HEADER_SET: case PT_PLAN_HEADER_DELETE: case PT_PLAN_HEADER_LINES: case PT_PLAN_HEADER_JOIN:
    return header_op(r, o);
  case PT_PLAN_QUERY_SET: case PT_PLAN_QUERY_DELETE: case PT_PLAN_QUERY_ADD:
    return query_op(r, o);
  case PT_PLAN_REWRITE:
    return rewrite(r, o);
  case PT_PLAN_BACKEND_ID:
    r->backend_id = o->name.s, r->base_url = NULL, r->rank = o->rank;
    return 0;
  case PT_PLAN_BASE_URL: /* APIM's quirk: a backend-id from a broader scope wins */
    if (!(r->backend_id && r->rank < o->rank)) r->base_url = o->name.s, r->backend_id = NULL, r->rank = o->rank;
    return 0;
  case PT_PLAN_METHOD:
    r->method = o->name.s;
    return 0;
  case PT_PLAN_CHECK_HEADER:
    return check_header(r, o);
  case PT_PLAN_COUNT:
    return count(r, o);
  default: /* jumps: in pt_plan_run */
    return 0;
  }
}

static int encode_query(pt_plan_work_t *w) {
  pt_buf_t *q = &w->query;
  q->len = 0;
  for (int i = 0; i < w->nparams; i++)
    if ((i && pt_buf_append(q, "&", 1)) || pt_buf_append(q, w->scratch.base + w->params[i].raw_off, w->params[i].raw_len))
      return UV_ENOMEM;
  return pt_buf_append(q, "", 1);
}

int pt_plan_run(const pt_plan_t *p, const pt_plan_input_t *in, pt_plan_work_t *w, pt_plan_out_t *out) {
  run_t r = {.plan = p, .in = in, .w = w, .headers = in->headers, .method = in->method};
  w->scratch.len = 0;
  w->nparams = w->nnext = 0;
  for (int i = 0; i < p->nops; i++) {
    const pt_plan_op_t *o = &p->ops[i];
    int rc = 0;
    if (o->kind == PT_PLAN_JUMP || (o->kind == PT_PLAN_JUMP_UNLESS && !condition(&r, o))) i += o->skip;
    else if ((rc = step(&r, o)) < 0) return UV_ENOMEM;
    if (rc > 0) { /* failed: the answer, nothing forwarded */
      const pt_buf_t *d = &w->detail;
      *out = (pt_plan_out_t){
          .status = r.status, .reason = r.reason, .detail = d->len ? d->base : "",
          .answer_headers = &w->answer,
          .body = r.body ? r.body->s : w->body.base, .body_len = r.body ? r.body->len : w->body.len,
      };
      return 0;
    }
  }
  if (r.query_dirty && encode_query(w)) return UV_ENOMEM;
  *out = (pt_plan_out_t){
      .method = r.method == in->method ? NULL : r.method,
      .backend_id = r.backend_id, .base_url = r.base_url,
      .rest = r.path_set ? w->path.base : NULL,
      .query = r.query_dirty ? w->query.base : NULL,
      .headers = r.headers == in->headers ? NULL : r.headers,
  };
  return 0;
}
