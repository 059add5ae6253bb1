/* callout.c - send-request calls and retry pauses of policies (see callout.h). */
#include "callout.h"

#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "tls_context.h"
#include "upstream.h"
#include "worker.h"

#define CALL_TIMEOUT_MS 60000        /* APIM's send-request default */
#define CALL_MAX_BODY (16u << 20)    /* a response a policy reads is buffered whole */

typedef struct call_s {
  pt_callout_t *owner;  /* NULL: a one-way call, on its own */
  pt_exchange_t *x;
  pt_url_t url;
  pt_buf_t head;
  int status, done, one_way;
  const char *reason;   /* APIM reason (constant) when it failed */
  char *query;          /* "?a=1" or NULL: base URLs cannot hold one */
  char *message;
  pt_headers_t headers;
  pt_buf_t body;
} call_t;

struct pt_callout_s {
  uv_timer_t timer;     /* the pause, and the deferred report */
  call_t *calls;
  int n, pending, any, canceled;
  pt_callout_done done;
  void *data;
};

static const char reason_canceled[] = "Canceled";

static void call_release(call_t *k) {
  pt_url_free(&k->url);
  pt_buf_free(&k->head);
  pt_headers_free(&k->headers);
  pt_buf_free(&k->body);
  free(k->message);
  free(k->query);
}

static void on_closed(uv_handle_t *h) {
  pt_callout_t *co = h->data;
  for (int i = 0; i < co->n; i++) call_release(&co->calls[i]);
  free(co->calls);
  free(co);
}

static void on_report(uv_timer_t *t) {
  pt_callout_t *co = t->data;
  if (!co->canceled) {
    pt_call_result_t *res = calloc((size_t)(co->n > 0 ? co->n : 1), sizeof *res);
    for (int i = 0; res && i < co->n; i++) {
      call_t *k = &co->calls[i];
      res[i] = (pt_call_result_t){k->status, k->reason, k->message, &k->headers, k->body.base, k->body.len,
                                  k->one_way};
    }
    co->done(co->data, res, co->n);
    free(res);
  }
  uv_close((uv_handle_t *)&co->timer, on_closed);
}

/* Reports from the loop, never from inside the caller's stack. */
static void report_soon(pt_callout_t *co) { uv_timer_start(&co->timer, on_report, 0, 0); }

static void call_finished(call_t *k) {
  k->done = 1;
  k->x = NULL;
  pt_callout_t *co = k->owner;
  if (!co) { /* one-way: nobody waits */
    call_release(k);
    free(k);
    return;
  }
  co->pending--;
  if (co->any && co->pending > 0)
    for (int i = 0; i < co->n; i++) {
      call_t *o = &co->calls[i];
      if (o->done) continue;
      if (o->x) pt_exchange_abort(o->x);
      o->x = NULL, o->done = 1, o->reason = reason_canceled, co->pending--;
    }
  if (co->pending == 0) report_soon(co);
}

static void x_head(pt_exchange_t *x, int status, const pt_headers_t *h, pt_framing_t framing) {
  call_t *k = pt_exchange_data(x);
  k->status = status;
  for (int i = 0; i < h->count; i++) {
    pt_headers_name_piece(&k->headers, pt_header_name(h, i), h->items[i].name_len);
    pt_headers_value_piece(&k->headers, pt_header_value(h, i), h->items[i].value_len);
  }
}

static void x_body(pt_exchange_t *x, const char *at, size_t len) {
  call_t *k = pt_exchange_data(x);
  if (k->body.len + len <= CALL_MAX_BODY) pt_buf_append(&k->body, at, len);
}

static void x_end(pt_exchange_t *x) { call_finished(pt_exchange_data(x)); }

static void x_error(pt_exchange_t *x, int status, const char *reason, const char *detail) {
  call_t *k = pt_exchange_data(x);
  k->status = 0;
  k->reason = reason;
  k->message = strdup(detail);
  call_finished(k);
}

static void x_nothing(pt_exchange_t *x) {}

static const pt_exchange_handler_t call_handler = {x_head, x_body, x_end, x_error, x_nothing, x_nothing};

/* The head of a call: what the policy set, with Host, Content-Length and Via. */
static int compose(call_t *k, const pt_policy_call_t *c, const char *via) {
  pt_buf_t *h = &k->head;
  int host = pt_headers_find(&c->headers, "host", 0); /* a Host set by the policy wins (APIM) */
  int rc = pt_buf_printf(h, "%s %s%s HTTP/1.1\r\nHost: %.*s\r\n", c->method ? c->method : "GET",
                         *k->url.path ? k->url.path : "/", k->query ? k->query : "",
                         host >= 0 ? (int)c->headers.items[host].value_len : (int)strlen(k->url.authority),
                         host >= 0 ? pt_header_value(&c->headers, host) : k->url.authority);
  for (int i = 0; i < c->headers.count && !rc; i++) {
    const pt_headers_t *hs = &c->headers;
    if (pt_headers_hop_by_hop(hs, i) || pt_header_is(hs, i, "host") || pt_header_is(hs, i, "content-length")) continue;
    rc = pt_buf_printf(h, "%.*s: %.*s\r\n", (int)hs->items[i].name_len, pt_header_name(hs, i),
                       (int)hs->items[i].value_len, pt_header_value(hs, i));
  }
  if (!rc && (c->has_body || (c->method && strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0)))
    rc = pt_buf_printf(h, "Content-Length: %zu\r\n", c->body.len);
  if (!rc) rc = pt_buf_printf(h, "Via: %s\r\n\r\n", via);
  if (!rc && c->body.len) rc = pt_buf_append(h, c->body.base, c->body.len);
  return rc;
}

static void call_fail(call_t *k, const char *message) {
  k->reason = pt_reason_connection_failure;
  k->message = strdup(message);
  call_finished(k);
}

static void call_start(pt_worker_t *w, const pt_generation_t *g, call_t *k, const pt_policy_call_t *c) {
  char err[256];
  if (!c->url) return call_fail(k, "send-request: no url");
  const char *q = strpbrk(c->url, "?#");
  char *base = strndup(c->url, q ? (size_t)(q - c->url) : strlen(c->url));
  if (q && *q == '?') k->query = strndup(q, strcspn(q, "#"));
  int bad = !base || pt_url_parse(&k->url, base, err, sizeof err) < 0;
  free(base);
  if (bad) return call_fail(k, "send-request: invalid url");
  if (compose(k, c, g->via) < 0) return call_fail(k, "out of memory");
  uint64_t timeout = c->timeout_ms ? c->timeout_ms : CALL_TIMEOUT_MS;
  pt_exchange_params_t xp = {
      .origin = &k->url,
      .origin_key = k->url.origin,
      .head = &k->head,
      .has_body = c->body.len > 0,
      .head_request = c->method && strcmp(c->method, "HEAD") == 0,
      .idempotent = 0, /* a policy's call is never replayed */
      .in_process = pt_selfchain_match(&g->selfchain, &k->url, 0) != NULL,
      .tls = strcmp(k->url.scheme, "https") == 0 ? pt_tls_set_client(g->tls, -1, -1) : NULL,
      .connect_timeout_ms = timeout < g->config->timeouts.backend_connect ? timeout : g->config->timeouts.backend_connect,
      .response_timeout_ms = timeout,
  };
  pt_exchange_t *x = NULL;
  if (pt_exchange_start(w, &xp, &call_handler, k, &x) < 0) return call_fail(k, "out of memory");
  if (!k->done) k->x = x;
  if (k->x) {
    pt_exchange_end_body(k->x);
    pt_exchange_flush(k->x);
  }
}

static pt_callout_t *callout_new(pt_worker_t *w, int n, pt_callout_done done, void *data) {
  pt_callout_t *co = calloc(1, sizeof *co);
  if (!co) return NULL;
  co->calls = calloc((size_t)(n > 0 ? n : 1), sizeof *co->calls);
  if (!co->calls) {
    free(co);
    return NULL;
  }
  uv_timer_init(&w->loop, &co->timer);
  co->timer.data = co;
  co->done = done;
  co->data = data;
  return co;
}

pt_callout_t *pt_callout_start(pt_worker_t *w, const pt_generation_t *g, const pt_policy_call_t *calls, int n,
                               int any, pt_callout_done done, void *data) {
  pt_callout_t *co = callout_new(w, n, done, data);
  if (!co) return NULL;
  co->n = n;
  co->any = any;
  for (int i = 0; i < n; i++) co->pending += !calls[i].one_way;
  for (int i = 0; i < n; i++) {
    if (!calls[i].one_way) {
      co->calls[i].owner = co;
      call_start(w, g, &co->calls[i], &calls[i]);
      continue;
    }
    co->calls[i].one_way = co->calls[i].done = 1; /* answered at once */
    call_t *k = calloc(1, sizeof *k); /* on its own: freed when it ends */
    if (k) call_start(w, g, k, &calls[i]);
  }
  if (co->pending == 0) report_soon(co);
  return co;
}

pt_callout_t *pt_callout_sleep(pt_worker_t *w, uint64_t ms, pt_callout_done done, void *data) {
  pt_callout_t *co = callout_new(w, 0, done, data);
  if (co) uv_timer_start(&co->timer, on_report, ms, 0);
  return co;
}

void pt_callout_cancel(pt_callout_t *co) {
  if (!co || co->canceled) return;
  co->canceled = 1;
  for (int i = 0; i < co->n; i++)
    if (co->calls[i].x) pt_exchange_abort(co->calls[i].x), co->calls[i].x = NULL;
  uv_timer_stop(&co->timer);
  uv_close((uv_handle_t *)&co->timer, on_closed);
}
