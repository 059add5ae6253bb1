/* circuit.c - circuit breakers and pool selection shared by all workers (see circuit.h). */
#include "circuit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

#define MIN_SAMPLE_FOR_PERCENTAGE 10 /* a single failed request is not "50% failing" */

/* Query credentials stay one parameter each: what is not unreserved (RFC 3986)
 * is percent-encoded; a '%' the user wrote is taken as an escape already made. */
static int append_encoded(pt_buf_t *b, const char *s) {
  int rc = 0;
  for (; *s && !rc; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr("-._~%", ch))
      rc = pt_buf_append(b, s, 1);
    else
      rc = pt_buf_printf(b, "%%%02X", ch);
  }
  return rc;
}

static int render_credentials(pt_backend_rt_t *b, const pt_backend_cfg_t *c) {
  pt_buf_t h = {0}, q = {0};
  int rc = 0, n = c->ncred_headers + (c->auth_scheme != NULL);
  b->drop_headers = calloc(n ? n : 1, sizeof *b->drop_headers);
  if (!b->drop_headers) return UV_ENOMEM;
  for (int i = 0; i < c->ncred_headers && !rc; i++) {
    b->drop_headers[b->ndrop++] = c->cred_headers[i].name;
    for (int v = 0; v < c->cred_headers[i].nvalues && !rc; v++)
      rc = pt_buf_printf(&h, "%s: %s\r\n", c->cred_headers[i].name, c->cred_headers[i].values[v]);
  }
  if (c->auth_scheme && !rc) {
    b->drop_headers[b->ndrop++] = "Authorization";
    rc = pt_buf_printf(&h, "Authorization: %s%s%s\r\n", c->auth_scheme, c->auth_parameter ? " " : "",
                       c->auth_parameter ? c->auth_parameter : "");
  }
  for (int i = 0; i < c->ncred_query && !rc; i++)
    for (int v = 0; v < c->cred_query[i].nvalues && !rc; v++) {
      rc = pt_buf_appends(&q, q.len ? "&" : "");
      if (!rc) rc = append_encoded(&q, c->cred_query[i].name);
      if (!rc) rc = pt_buf_append(&q, "=", 1);
      if (!rc) rc = append_encoded(&q, c->cred_query[i].values[v]);
    }
  if (!rc && h.len) rc = pt_buf_append(&h, "", 1), b->header_block = h.base, h.base = NULL;
  if (!rc && q.len) rc = pt_buf_append(&q, "", 1), b->query = q.base, q.base = NULL;
  pt_buf_free(&h);
  pt_buf_free(&q);
  return rc;
}

static int base64(pt_buf_t *out, const unsigned char *s, size_t n) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i += 3) {
    unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
    char q[4] = {abc[v >> 18 & 63], abc[v >> 12 & 63], i + 1 < n ? abc[v >> 6 & 63] : '=', i + 2 < n ? abc[v & 63] : '='};
    rc = pt_buf_append(out, q, 4);
  }
  return rc;
}

/* An HTTP proxy in front of the backend: where to connect, and its credentials. */
static int setup_proxy(pt_backend_rt_t *b, const pt_backend_cfg_t *c) {
  char err[128];
  if (!c->proxy_url) return 0;
  if (pt_url_parse(&b->proxy, c->proxy_url, err, sizeof err) < 0) return UV_EINVAL;
  if (!c->proxy_username) return 0;
  pt_buf_t plain = {0}, h = {0};
  int rc = pt_buf_printf(&plain, "%s:%s", c->proxy_username, c->proxy_password ? c->proxy_password : "");
  if (!rc) rc = pt_buf_appends(&h, "Proxy-Authorization: Basic ");
  if (!rc) rc = base64(&h, (const unsigned char *)plain.base, plain.len);
  if (!rc) rc = pt_buf_append(&h, "\r\n", 3); /* with its NUL */
  pt_buf_free(&plain);
  if (!rc) b->proxy_auth = h.base;
  else pt_buf_free(&h);
  return rc;
}

int pt_backend_rt_init(pt_backend_rt_t *b, const pt_backend_cfg_t *cfg) {
  memset(b, 0, sizeof *b);
  b->cfg = cfg;
  if (uv_mutex_init(&b->lock)) return UV_ENOMEM;
  if (cfg->nmembers) {
    b->members = calloc(cfg->nmembers, sizeof *b->members);
    b->current_weight = calloc(cfg->nmembers, sizeof *b->current_weight);
    if (!b->members || !b->current_weight) return UV_ENOMEM;
  }
  int rc = render_credentials(b, cfg);
  return rc ? rc : setup_proxy(b, cfg);
}

static int same_str(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static int same_rule(const pt_circuit_rule_cfg_t *a, const pt_circuit_rule_cfg_t *b) {
  if (!a || !b) return a == b;
  if (a->count != b->count || a->percentage != b->percentage || a->interval_ms != b->interval_ms ||
      a->trip_duration_ms != b->trip_duration_ms || a->accept_retry_after != b->accept_retry_after ||
      a->failure_status != b->failure_status || a->nstatus_ranges != b->nstatus_ranges ||
      a->nerror_reasons != b->nerror_reasons)
    return 0;
  for (int i = 0; i < a->nstatus_ranges; i++)
    if (a->status_ranges[i].min != b->status_ranges[i].min || a->status_ranges[i].max != b->status_ranges[i].max) return 0;
  for (int i = 0; i < a->nerror_reasons; i++)
    if (!same_str(a->error_reasons[i], b->error_reasons[i])) return 0;
  return 1;
}

static int same_backend(const pt_backend_cfg_t *a, const pt_backend_cfg_t *b) {
  if (!same_str(a->url_text, b->url_text) || a->pool != b->pool || a->nmembers != b->nmembers ||
      !same_rule(a->circuit, b->circuit))
    return 0;
  for (int i = 0; i < a->nmembers; i++)
    if (!same_str(a->members[i].id, b->members[i].id) || a->members[i].priority != b->members[i].priority ||
        a->members[i].weight != b->members[i].weight)
      return 0;
  return 1;
}

void pt_backend_rt_inherit(pt_backend_rt_t *b, pt_backend_rt_t *old) {
  if (!same_backend(b->cfg, old->cfg)) return;
  uv_mutex_lock(&old->lock);
  b->window_start = old->window_start;
  b->failures = old->failures;
  b->total = old->total;
  b->open_until = old->open_until;
  for (int i = 0; i < b->cfg->nmembers; i++) b->current_weight[i] = old->current_weight[i];
  uv_mutex_unlock(&old->lock);
}

void pt_backend_rt_free(pt_backend_rt_t *b) {
  uv_mutex_destroy(&b->lock);
  free(b->members);
  free(b->current_weight);
  free(b->header_block);
  free(b->proxy_auth);
  pt_url_free(&b->proxy);
  free(b->query);
  free(b->drop_headers);
}

static int allows_locked(pt_backend_rt_t *b, uint64_t now) {
  if (!b->open_until) return 1;
  if (now < b->open_until) return 0;
  b->open_until = 0; /* trip over: start counting afresh */
  b->window_start = now;
  b->failures = b->total = 0;
  return 1;
}

int pt_circuit_allows(pt_backend_rt_t *b, uint64_t now) {
  if (!b->cfg->circuit) return 1;
  uv_mutex_lock(&b->lock);
  int ok = allows_locked(b, now);
  uv_mutex_unlock(&b->lock);
  return ok;
}

static int is_failure(const pt_circuit_rule_cfg_t *r, int status, const char *reason) {
  for (int i = 0; status && i < r->nstatus_ranges; i++)
    if (status >= r->status_ranges[i].min && status <= r->status_ranges[i].max) return 1;
  for (int i = 0; reason && i < r->nerror_reasons; i++)
    if (strcmp(r->error_reasons[i], reason) == 0) return 1;
  return 0;
}

void pt_circuit_report(pt_backend_rt_t *b, uint64_t now, int status, const char *reason,
                       uint64_t retry_after_ms) {
  const pt_circuit_rule_cfg_t *r = b->cfg->circuit;
  if (!r) return;
  int failed = is_failure(r, status, reason);
  uv_mutex_lock(&b->lock);
  if (now - b->window_start > r->interval_ms) b->window_start = now, b->failures = b->total = 0;
  b->total++;
  b->failures += failed;
  int trip = failed && !b->open_until &&
             (r->count ? b->failures >= r->count
                       : b->total >= MIN_SAMPLE_FOR_PERCENTAGE && b->failures * 100 >= r->percentage * b->total);
  if (trip) {
    uint64_t d = r->accept_retry_after && retry_after_ms ? retry_after_ms : r->trip_duration_ms;
    b->open_until = now + (d ? d : 1);
  }
  uv_mutex_unlock(&b->lock);
}

/* Smooth weighted round robin (each pick: add weights, take the largest, subtract the total). */
static pt_backend_rt_t *pick_in_group(pt_backend_rt_t *p, int priority, uint64_t now) {
  const pt_backend_cfg_t *c = p->cfg;
  int best = -1;
  int64_t total = 0;
  for (int i = 0; i < c->nmembers; i++) {
    if (c->members[i].priority != priority || !pt_circuit_allows(p->members[i], now)) continue;
    int w = c->members[i].weight > 0 ? c->members[i].weight : 1;
    p->current_weight[i] += w;
    total += w;
    if (best < 0 || p->current_weight[i] > p->current_weight[best]) best = i;
  }
  if (best < 0) return NULL;
  p->current_weight[best] -= total;
  return p->members[best];
}

pt_backend_rt_t *pt_backend_pick(pt_backend_rt_t *b, uint64_t now) {
  if (!b->cfg->pool) return pt_circuit_allows(b, now) ? b : NULL;
  uv_mutex_lock(&b->lock);
  pt_backend_rt_t *chosen = NULL;
  int done = -1; /* priorities already tried, ascending */
  while (!chosen) {
    int next = -1;
    for (int i = 0; i < b->cfg->nmembers; i++) {
      int pr = b->cfg->members[i].priority;
      if (pr > done && (next < 0 || pr < next)) next = pr;
    }
    if (next < 0) break;
    chosen = pick_in_group(b, next, now);
    done = next;
  }
  uv_mutex_unlock(&b->lock);
  return chosen;
}

uint64_t pt_retry_after_ms(const char *v, size_t n) {
  char buf[64];
  if (n == 0 || n >= sizeof buf) return 0;
  memcpy(buf, v, n);
  buf[n] = '\0';
  char *end;
  unsigned long long secs = strtoull(buf, &end, 10);
  if (end != buf && *end == '\0') return secs * 1000;
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (!strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm)) return 0;
  time_t at = timegm(&tm), now = time(NULL);
  return at > now ? (uint64_t)(at - now) * 1000 : 0;
}
