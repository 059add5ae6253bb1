/* dispatch.c - validate, route, authorize, choose a backend, compose the upstream head (see dispatch.h). */
#include "dispatch.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "subscription.h"

static int refuse(pt_dispatch_t *d, int status, const char *reason, const char *message) {
  d->status = status;
  d->reason = reason;
  d->message = message;
  return 0;
}

/* Dot segments would let "/echo/../x" escape the API's service path. */
static int has_dot_segment(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != '/') continue;
    size_t j = i + 1, dots = 0;
    while (j < n && p[j] != '/') {
      if (p[j] == '.') dots++, j++;
      else if (j + 2 < n && p[j] == '%' && p[j + 1] == '2' && (p[j + 2] == 'e' || p[j + 2] == 'E'))
        dots++, j += 3;
      else break;
    }
    if (dots && dots <= 2 && (j == n || p[j] == '/')) return 1;
  }
  return 0;
}

/* How many times this request already passed through this gateway (its Via entries). */
static int hops(const pt_generation_t *g, const pt_headers_t *h) {
  int n = 0;
  for (int i = pt_headers_find(h, "via", 0); i >= 0; i = pt_headers_find(h, "via", i + 1)) {
    const char *v = pt_header_value(h, i), *end = v + h->items[i].value_len;
    while (v < end) {
      while (v < end && (*v == ' ' || *v == ',')) v++;
      const char *e = v;
      while (e < end && *e != ',') e++;
      size_t len = (size_t)(e - v);
      while (len && v[len - 1] == ' ') len--;
      n += pt_strncaseeq(v, len, g->via);
      v = e;
    }
  }
  return n;
}

static const char *check_head(const pt_generation_t *g, const pt_dispatch_in_t *in, int *status) {
  const pt_headers_t *h = in->headers;
  *status = 508;
  if (hops(g, h) >= g->config->max_hops) return "Loop detected: the request passed through this gateway too many times";
  int host = pt_headers_find(h, "host", 0);
  *status = 400;
  if (in->http_minor == 1 && host < 0) return "Missing Host header";
  if (host >= 0 && pt_headers_find(h, "host", host + 1) >= 0) return "Multiple Host headers";
  *status = 405;
  if (strcmp(in->method, "CONNECT") == 0) return "CONNECT is not supported";
  int te = pt_headers_find(h, "transfer-encoding", 0);
  *status = 501;
  if (te >= 0 && (!pt_strncaseeq(pt_header_value(h, te), h->items[te].value_len, "chunked") ||
                  pt_headers_find(h, "transfer-encoding", te + 1) >= 0))
    return "Only the chunked transfer coding is supported";
  *status = 413;
  if (in->has_length && in->content_length > g->config->limits.max_body_bytes) return "Request body too large";
  return NULL;
}

/* Appends the query without the subscription key parameter (it must not reach the backend). */
static int append_query(pt_buf_t *t, const char *q, size_t qlen, const char *drop) {
  size_t dl = drop ? strlen(drop) : 0;
  int first = 1, rc = 0;
  for (size_t i = 0; i < qlen && !rc;) {
    size_t j = i;
    while (j < qlen && q[j] != '&') j++;
    int skip = dl && j - i >= dl && memcmp(q + i, drop, dl) == 0 && (j - i == dl || q[i + dl] == '=');
    if (!skip && j > i) {
      rc = pt_buf_append(t, first ? "?" : "&", 1);
      if (!rc) rc = pt_buf_append(t, q + i, j - i);
      first = 0;
    }
    i = j + 1;
  }
  return rc;
}

/* Service URL path + the rest of the request path + query (+ credentials). */
static int compose_target(pt_buf_t *t, const pt_dispatch_t *d, const char *rest, size_t rest_len,
                          const char *q, size_t qlen, const char *drop_param) {
  const char *base = d->origin->path;
  size_t blen = strlen(base), start = t->len;
  if (blen && base[blen - 1] == '/' && rest_len && rest[0] == '/') blen--;
  int rc = pt_buf_append(t, base, blen);
  if (!rc) rc = pt_buf_append(t, rest, rest_len);
  if (!rc && t->len == start) rc = pt_buf_append(t, "/", 1);
  size_t before = t->len;
  if (!rc) rc = append_query(t, q, qlen, drop_param);
  if (!rc && d->backend && d->backend->query) {
    rc = pt_buf_append(t, t->len > before ? "&" : "?", 1);
    if (!rc) rc = pt_buf_appends(t, d->backend->query);
  }
  return rc;
}

/* An API that lists only https is not there for plain http requests (APIM's protocols). */
static int protocol_allowed(const pt_api_cfg_t *api, const char *proto) {
  if (!proto) proto = "http";
  for (int i = 0; i < api->nprotocols; i++)
    if (strcmp(api->protocols[i], proto) == 0) return 1;
  return api->nprotocols == 0;
}

/* A backend that is this gateway: dispatched in-process, or refused fast. */
static int self_chained(const pt_generation_t *g, pt_dispatch_t *d, const char *listener) {
  d->self = listener;
  if (!listener || !g->config->self_chaining_reject) return 0;
  const char *name = d->backend ? d->backend->cfg->id : d->route.api->id;
  snprintf(d->why, sizeof d->why, "Self-chained backend '%s' (%s) refused: it points back at this gateway "
           "(gateway.selfChaining: reject)", name, d->origin->origin);
  return refuse(d, 500, "BackendConnectionFailure", d->why), -1;
}

static int choose_backend(const pt_generation_t *g, pt_dispatch_t *d, const pt_forward_override_t *ov) {
  const pt_api_cfg_t *api = d->route.api;
  if (ov && ov->base_url) {
    char err[256];
    if (pt_url_parse(&d->base_url, ov->base_url, err, sizeof err) < 0)
      return refuse(d, 500, "ExpressionValueEvaluationFailure", "set-backend-service: invalid base-url"), -1;
    d->origin = &d->base_url;
    return self_chained(g, d, pt_selfchain_match(&g->selfchain, &d->base_url, 0));
  }
  const char *id = ov && ov->backend_id ? ov->backend_id : api->backend_id;
  if (!id) {
    d->origin = &api->service_url;
    return self_chained(g, d, g->api_self[api - g->config->apis]);
  }
  pt_backend_rt_t *b = pt_registry_backend(g, id);
  if (!b) return refuse(d, 500, "BackendConnectionFailure", "Backend not found"), -1;
  d->backend = pt_backend_pick(b, uv_hrtime() / 1000000);
  if (!d->backend) {
    int status = b->cfg->circuit ? b->cfg->circuit->failure_status : 503;
    return refuse(d, status ? status : 503, "BackendConnectionFailure",
                  "Service unavailable: every backend is tripped by its circuit breaker"), -1;
  }
  d->origin = &d->backend->cfg->url;
  return self_chained(g, d, g->backend_self[d->backend - g->backends]);
}

int pt_dispatch_forward(const pt_generation_t *g, const pt_dispatch_in_t *in, pt_dispatch_t *d,
                        const pt_forward_override_t *ov) {
  if (choose_backend(g, d, ov) < 0) return 0;
  const pt_api_cfg_t *api = d->route.api;
  const char *drop[34];
  int ndrop = 0;
  if (d->key_header) drop[ndrop++] = api->sub_key_header;
  for (int i = 0; d->backend && i < d->backend->ndrop && ndrop < 34; i++) drop[ndrop++] = d->backend->drop_headers[i];
  const char *rest = d->url + d->route.rest, *q = d->path_len < d->url_len ? d->url + d->path_len + 1 : "";
  size_t rest_len = d->path_len - d->route.rest, qlen = d->path_len < d->url_len ? d->url_len - d->path_len - 1 : 0;
  if (ov && ov->rest) rest = ov->rest, rest_len = strlen(ov->rest);
  if (ov && ov->query) q = ov->query, qlen = strlen(ov->query);
  pt_buf_t target = {0};
  int proxied = d->backend && d->backend->proxy.host;
  d->connect = proxied ? &d->backend->proxy : d->origin;
  int rc = proxied ? pt_buf_printf(&target, "%s://%s", d->origin->scheme, d->origin->authority) : 0; /* absolute-form */
  if (!rc) rc = compose_target(&target, d, rest, rest_len, q, qlen, d->key_in_query ? api->sub_key_query : NULL);
  int64_t length = ov ? ov->body_length : -1;
  pt_forward_t f = {
      .method = ov && ov->method ? ov->method : in->method,
      .target = target.base, .target_len = target.len,
      .authority = d->origin->authority,
      .via = g->via,
      .client_ip = in->client_ip,
      .proto = in->proto ? in->proto : "http",
      .chunked = in->chunked && length < 0,
      .replace_length = length >= 0,
      .body_length = length >= 0 ? (uint64_t)length : 0,
      .drop = drop, .ndrop = ndrop,
      .extra = d->backend ? d->backend->header_block : NULL,
      .extra2 = proxied ? d->backend->proxy_auth : NULL,
  };
  if (!rc) rc = pt_http_forward_request_head(&d->head, ov && ov->headers ? ov->headers : in->headers, &f);
  pt_buf_free(&target);
  return rc;
}

int pt_dispatch_route(const pt_generation_t *g, const pt_dispatch_in_t *in, pt_dispatch_t *d) {
  memset(d, 0, sizeof *d);
  int status;
  const char *why = check_head(g, in, &status);
  if (why)
    return refuse(d, status, status == 413 ? "RequestEntityTooLarge" : status == 508 ? "LoopDetected" : "InvalidRequest", why);
  const char *url = in->url;
  size_t ulen = in->url_len;
  if (ulen > 7 && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0)) {
    const char *slash = memchr(url + 8, '/', ulen - 8); /* absolute-form: keep the path */
    size_t off = slash ? (size_t)(slash - url) : ulen;
    url += off, ulen -= off;
  }
  if (ulen == 0 || url[0] != '/') return refuse(d, 400, "InvalidRequest", "Invalid request target");
  const char *qm = memchr(url, '?', ulen);
  size_t plen = qm ? (size_t)(qm - url) : ulen;
  if (has_dot_segment(url, plen)) return refuse(d, 400, "InvalidRequest", "Dot segments are not allowed in the path");
  d->url = url, d->url_len = ulen, d->path_len = plen;

  pt_route_request_t rq = {in->method, url, plen, qm ? qm + 1 : "", qm ? ulen - plen - 1 : 0, in->headers};
  if (pt_router_match(&g->router, &rq, &d->route) != PT_ROUTE_OK || !protocol_allowed(d->route.api, in->proto))
    return refuse(d, 404, "OperationNotFound", "Resource not found");

  pt_sub_key_t key;
  pt_subscription_find_key(d->route.api, in->headers, rq.query, rq.query_len, &key);
  d->key_header = key.header >= 0;
  d->key_in_query = key.in_query;
  pt_sub_result_t sub = pt_subscription_check(g, d->route.api, &key, &d->subscription);
  if (sub == PT_SUB_MISSING) return refuse(d, 401, "SubscriptionKeyNotFound", pt_sub_missing_message);
  if (sub == PT_SUB_INVALID) return refuse(d, 401, "SubscriptionKeyInvalid", pt_sub_invalid_message);
  return 0;
}

int pt_dispatch(const pt_generation_t *g, const pt_dispatch_in_t *in, pt_dispatch_t *d) {
  int rc = pt_dispatch_route(g, in, d);
  return rc || d->status ? rc : pt_dispatch_forward(g, in, d, NULL);
}

void pt_dispatch_free(pt_dispatch_t *d) {
  pt_url_free(&d->base_url);
  pt_buf_free(&d->head);
}
