/* pool.c - per-worker keep-alive pools of upstream connections (see pool.h). */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#include "worker.h"

#define MAX_ORIGINS 1024

struct pt_pool_origin_s {
  pt_pool_origin_t *next;
  char *key;
  pt_upconn_t *idle; /* most recently parked first */
  uint32_t nidle;
  pt_tls_session_t *session; /* https: the latest session, for the next connection */
};

void pt_pool_init(pt_pool_t *p, uv_loop_t *loop) {
  memset(p, 0, sizeof *p);
  p->loop = loop;
  p->max_idle = 64;
  p->idle_timeout_ms = 30000;
  p->max_requests = 1000;
}

void pt_pool_configure(pt_pool_t *p, uint32_t max_idle, uint64_t idle_timeout_ms, uint32_t max_requests) {
  p->max_idle = max_idle;
  p->idle_timeout_ms = idle_timeout_ms;
  p->max_requests = max_requests;
}

static void origin_free(pt_pool_origin_t *o) {
  pt_tls_session_free(o->session);
  free(o->key);
  free(o);
}

/* Origins come from set-backend-service base-url expressions too: past
 * MAX_ORIGINS, those holding no idle connection are forgotten (with their
 * TLS session), so the list stays bounded whatever requests ask for. */
static void origins_prune(pt_pool_t *p) {
  for (pt_pool_origin_t **q = &p->origins; *q;) {
    pt_pool_origin_t *o = *q;
    if (o->idle) {
      q = &o->next;
      continue;
    }
    *q = o->next;
    origin_free(o);
    p->norigins--;
  }
}

static pt_pool_origin_t *origin_get(pt_pool_t *p, const char *key, int create) {
  for (pt_pool_origin_t *o = p->origins; o; o = o->next)
    if (strcmp(o->key, key) == 0) return o;
  if (!create) return NULL;
  if (p->norigins >= MAX_ORIGINS) origins_prune(p);
  pt_pool_origin_t *o = calloc(1, sizeof *o);
  if (!o || !(o->key = strdup(key))) {
    free(o);
    return NULL;
  }
  o->next = p->origins;
  p->origins = o;
  p->norigins++;
  return o;
}

static void detach(pt_upconn_t *c) {
  pt_pool_origin_t *o = c->origin;
  if (!o) return;
  if (c->prev) c->prev->next = c->next;
  else o->idle = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  c->origin = NULL;
  o->nidle--;
  pt_deadline_clear(&c->timer);
}

pt_upconn_t *pt_pool_take(pt_pool_t *p, const char *key) {
  pt_pool_origin_t *o = origin_get(p, key, 0);
  if (!o || !o->idle) return NULL;
  pt_upconn_t *c = o->idle;
  detach(c);
  return c;
}

void pt_pool_idle_input(pt_upconn_t *c) {
  detach(c);
  pt_upconn_close(c);
}

static void on_idle_timeout(pt_deadline_t *d) { pt_pool_idle_input(d->data); }

void pt_pool_put(pt_pool_t *p, const char *key, pt_upconn_t *c) {
  pt_pool_origin_t *o = c->requests < p->max_requests && p->max_idle ? origin_get(p, key, 1) : NULL;
  if (!o) {
    pt_upconn_close(c);
    return;
  }
  c->exchange = NULL;
  c->origin = o;
  c->prev = NULL;
  c->next = o->idle;
  if (o->idle) o->idle->prev = c;
  o->idle = c;
  o->nidle++;
  pt_deadline_set(&c->timer, p->idle_timeout_ms, on_idle_timeout);
  if (o->nidle > p->max_idle) { /* evict the least recently used */
    pt_upconn_t *last = o->idle;
    while (last->next) last = last->next;
    detach(last);
    pt_upconn_close(last);
  }
}

const pt_tls_session_t *pt_pool_tls_session(pt_pool_t *p, const char *key) {
  pt_pool_origin_t *o = origin_get(p, key, 0);
  return o ? o->session : NULL;
}

void pt_pool_keep_tls_session(pt_pool_t *p, const char *key, const pt_tls_t *t) {
  pt_pool_origin_t *o = origin_get(p, key, 1);
  if (o) pt_tls_session_save(t, &o->session);
}

void pt_pool_close_idle(pt_pool_t *p) {
  for (pt_pool_origin_t *o = p->origins; o; o = o->next)
    while (o->idle) {
      pt_upconn_t *c = o->idle;
      detach(c);
      pt_upconn_close(c);
    }
}

void pt_pool_free(pt_pool_t *p) {
  pt_pool_close_idle(p);
  for (pt_pool_origin_t *o = p->origins, *n; o; o = n) {
    n = o->next;
    origin_free(o);
  }
  p->origins = NULL;
  p->norigins = 0;
}

static void on_timer_closed(uv_handle_t *h) {
  pt_upconn_t *c = ((pt_deadline_t *)h->data)->data;
  pt_writeq_free(&c->out);
  pt_tls_free(c->tls);
  free(c);
}

static void on_tcp_closed(uv_handle_t *h) {
  pt_upconn_t *c = h->data;
  pt_deadline_close(&c->timer, on_timer_closed);
}

void pt_upconn_close(pt_upconn_t *c) {
  if (c->closing) return;
  c->closing = 1;
  pt_deadline_clear(&c->timer);
  c->tcp.data = c;
  uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
}
