/* worker.c - one event loop per thread with SO_REUSEPORT listeners (see worker.h). */
#include "worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

void pt__worker_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  pt_worker_t *w = h->loop->data;
  *buf = uv_buf_init(w->readbuf, sizeof w->readbuf);
}

/* libuv 1.44 has no UV_TCP_REUSEPORT: make the socket ourselves so that
 * every worker gets its own accept queue from the kernel. */
int pt__listen_socket(const struct sockaddr_storage *a) {
  int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  if (a->ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  socklen_t len = a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (bind(fd, (const struct sockaddr *)a, len) < 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  return fd;
}

static void on_listener_closed(uv_handle_t *h) { free((pt_listener_t *)h); }

static int open_listener(pt_worker_t *w, const pt_config_t *cfg, const pt_listen_t *l) {
  int fd = pt__listen_socket(&l->addr);
  if (fd < 0) {
    fprintf(stderr, "%s:%d:%d: gateway.listen: cannot listen on %s: %s\n", cfg->file, l->line, l->col, l->text,
            uv_strerror(fd));
    return fd;
  }
  pt_listener_t *t = calloc(1, sizeof *t);
  if (!t) {
    close(fd);
    return UV_ENOMEM;
  }
  uv_tcp_init(&w->loop, &t->tcp);
  t->tcp.data = w;
  t->addr = l->addr;
  int rc = uv_tcp_open(&t->tcp, fd);
  if (!rc) rc = uv_listen((uv_stream_t *)&t->tcp, 4096, pt_server_on_connection);
  t->next = w->listeners;
  w->listeners = t;
  if (rc < 0)
    fprintf(stderr, "%s: gateway.listen: cannot listen on %s: %s\n", cfg->file, l->text, uv_strerror(rc));
  return rc;
}

/* Makes the listeners those of cfg: opens the new addresses, closes the
 * removed ones. Established connections are not touched. */
static int reconcile_listeners(pt_worker_t *w, const pt_config_t *cfg) {
  int rc = 0;
  for (pt_listener_t **p = &w->listeners; *p;) {
    pt_listener_t *t = *p;
    int keep = 0;
    for (int i = 0; i < cfg->nlisten && !keep; i++) keep = pt_listen_same(&t->addr, &cfg->listen[i].addr);
    if (keep) {
      p = &t->next;
      continue;
    }
    *p = t->next;
    uv_close((uv_handle_t *)&t->tcp, on_listener_closed);
  }
  for (int i = 0; i < cfg->nlisten; i++) {
    int have = 0;
    for (pt_listener_t *t = w->listeners; t && !have; t = t->next) have = pt_listen_same(&t->addr, &cfg->listen[i].addr);
    if (!have && open_listener(w, cfg, &cfg->listen[i]) < 0) rc = -1;
  }
  return rc;
}

static void close_listeners(pt_worker_t *w) {
  while (w->listeners) {
    pt_listener_t *t = w->listeners;
    w->listeners = t->next;
    uv_close((uv_handle_t *)&t->tcp, on_listener_closed);
  }
}

static void close_handle(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_drain_deadline(uv_timer_t *t) { pt_server_close_all(t->data); }

static void on_wakeup(uv_async_t *a) {
  pt_worker_t *w = a->data;
  if (w->draining) return;
  pt_generation_t *g = pt__gateway_current(w->gw);
  if (!atomic_load(&w->stop)) { /* a reload: follow the listeners of the new generation */
    reconcile_listeners(w, g->config);
    pt_generation_lua(g, w->index); /* compile now, not on the first request */
    atomic_store_explicit(&w->generation, g->number, memory_order_relaxed);
    pt_pool_configure(&w->pool, g->config->pool.max_idle_per_origin, g->config->pool.idle_timeout,
                      g->config->pool.max_requests_per_connection);
    pt_generation_unref(g);
    return;
  }
  w->draining = 1;
  close_listeners(w);
  uv_timer_start(&w->drain_timer, on_drain_deadline, g->config->timeouts.drain, 0);
  pt_generation_unref(g);
  pt_server_drain(w);
  pt__worker_maybe_done(w);
}

void pt__worker_maybe_done(pt_worker_t *w) {
  if (!w->draining || w->conns || w->done) return;
  w->done = 1; /* closing connections keep calling here until they are freed */
  pt_pool_close_idle(&w->pool);
  pt_accesslog_close(&w->log);
  uv_close((uv_handle_t *)&w->drain_timer, NULL);
  uv_close((uv_handle_t *)&w->wakeup, NULL);
}

static void worker_main(void *arg) {
  pt_worker_t *w = arg;
  if (!w->draining) { /* compile the policies before the first request needs them */
    pt_generation_t *g = pt__gateway_current(w->gw);
    pt_generation_lua(g, w->index);
    pt_generation_unref(g);
  }
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_walk(&w->loop, close_handle, NULL); /* anything left over after a stop */
  uv_run(&w->loop, UV_RUN_DEFAULT);
  pt_pool_free(&w->pool);
  pt_dns_free(&w->dns);
  pt__request_pool_free(w);
  uv_loop_close(&w->loop);
}

int pt_worker_start(pt_worker_t *w, struct pt_gateway_s *gw, int index, int log_fd) {
  memset(w, 0, sizeof *w);
  w->gw = gw;
  w->index = index;
  int rc = uv_loop_init(&w->loop);
  if (rc < 0) return rc;
  w->loop.data = w;
  pt_generation_t *g = pt__gateway_current(gw);
  const pt_config_t *cfg = g->config;
  pt_pool_init(&w->pool, &w->loop);
  pt_pool_configure(&w->pool, cfg->pool.max_idle_per_origin, cfg->pool.idle_timeout,
                    cfg->pool.max_requests_per_connection);
  pt_dns_init(&w->dns, &w->loop, cfg->dns_ttl);
  pt_accesslog_init(&w->log, &w->loop, log_fd);
  uv_async_init(&w->loop, &w->wakeup, on_wakeup);
  w->wakeup.data = w;
  uv_timer_init(&w->loop, &w->drain_timer);
  w->drain_timer.data = w;
  uv_unref((uv_handle_t *)&w->drain_timer);
  rc = reconcile_listeners(w, cfg) < 0 ? -1 : 0;
  pt_generation_unref(g);
  if (!rc) rc = uv_thread_create(&w->thread, worker_main, w);
  if (rc < 0) { /* nothing ran yet: unwind on this thread */
    w->draining = 1;
    pt__worker_maybe_done(w);
    worker_main(w);
  }
  return rc;
}

void pt_worker_drain(pt_worker_t *w) {
  atomic_store(&w->stop, 1);
  uv_async_send(&w->wakeup);
}

void pt_worker_reloaded(pt_worker_t *w) { uv_async_send(&w->wakeup); }

void pt_worker_join(pt_worker_t *w) { uv_thread_join(&w->thread); }
