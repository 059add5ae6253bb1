/* gateway.c - lifecycle: load the configuration, publish generations, start
 * workers, handle signals, drain and stop. The only mutable state shared
 * between threads lives here: the current generation, behind a mutex. */
#include "portico.h"

#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admin.h"
#include "store.h"
#include "tls_context.h"
#include "watch.h"
#include "worker.h"

struct pt_gateway_s {
  char *config_path;
  uv_mutex_t lock;
  pt_generation_t *current; /* guarded by lock */
  pt_store_t *store;        /* counters, slots and cache of traffic policies: survive reloads */
  pt_generation_t *live;    /* every generation not yet freed; guarded by lock */
  uint64_t generations;     /* published so far; only the control thread changes it */
  struct {                  /* the last reload, for /status (control thread) */
    int done, ok;
    double at;
    const char *trigger;
    pt_diag_t diag;
  } last;
  pt_watch_t *watch;
  pt_admin_t *admin;
  pt_worker_t *workers;
  int nworkers;
  int log_fd;
  uv_loop_t loop; /* the controlling thread: signals and stop requests */
  uv_signal_t sigterm, sigint, sighup;
  uv_async_t stop_async;
  int running;
};

const char *pt_version(void) { return PORTICO_VERSION; }

/* Loads the file and compiles its policies; NULL (errors in d) when unusable. */
static pt_generation_t *build(const char *path, uint64_t number, pt_store_t *store, pt_diag_t *d) {
  pt_config_t *c = pt_config_load(path, d);
  pt_generation_t *g = c ? pt_generation_build(c, number) : NULL;
  if (g) g->store = store;
  if (g) pt_generation_find_self_chains(g, d);
  if (g && !(g->tls = pt_tls_set_build(g->config, d))) {
    pt_generation_unref(g);
    g = NULL;
  }
  if (g && (pt_generation_snapshot(g, d) < 0 || pt_generation_check_policies(g, d) < 0)) {
    pt_generation_unref(g);
    g = NULL;
  }
  return g;
}

int pt_check(const char *config_path, FILE *out) {
  pt_diag_t d = {0};
  pt_store_t *store = pt_store_new(1 << 20);
  pt_generation_t *g = store ? build(config_path, 0, store, &d) : NULL;
  pt_diag_print(&d, out);
  int errors = d.errors ? d.errors : !g;
  if (g) {
    const pt_config_t *c = g->config;
    fprintf(out, "%s: OK: %d API(s), %d backend(s), listening on %d address(es)\n", config_path,
            c->napis, c->nbackends, c->nlisten);
    pt_generation_unref(g);
  }
  pt_store_free(store);
  pt_diag_free(&d);
  return errors;
}

int pt_reload_running(const char *config_path, FILE *out) {
  pt_diag_t d = {0};
  pt_config_t *c = pt_config_load(config_path, &d);
  pt_diag_print(&d, out);
  pt_diag_free(&d);
  int rc = c ? pt_admin_call(c, "POST", "/reload", out) : -1;
  pt_config_free(c);
  return rc;
}

pt_gateway_t *pt_gateway_new(void) {
  pt_gateway_t *gw = calloc(1, sizeof *gw);
  if (!gw) return NULL;
  uv_mutex_init(&gw->lock);
  gw->log_fd = -1;
  if (!(gw->store = pt_store_new(64u << 20))) {
    uv_mutex_destroy(&gw->lock);
    free(gw);
    return NULL;
  }
  return gw;
}

pt_generation_t *pt__gateway_current(pt_gateway_t *gw) {
  uv_mutex_lock(&gw->lock);
  pt_generation_t *g = pt_generation_ref(gw->current);
  uv_mutex_unlock(&gw->lock);
  return g;
}

static void forget_generation(void *owner, pt_generation_t *g) {
  pt_gateway_t *gw = owner;
  uv_mutex_lock(&gw->lock);
  for (pt_generation_t **p = &gw->live; *p; p = &(*p)->next_live)
    if (*p == g) {
      *p = g->next_live;
      break;
    }
  uv_mutex_unlock(&gw->lock);
}

/* A reload that adds a listener another process holds is refused, not half applied. */
static int new_listeners_unavailable(const pt_config_t *old, const pt_config_t *c, pt_diag_t *d) {
  int bad = 0;
  for (int i = 0; i < c->nlisten; i++) {
    int known = 0;
    for (int k = 0; k < old->nlisten && !known; k++) known = pt_listen_same(&old->listen[k].addr, &c->listen[i].addr);
    if (known) continue;
    int fd = pt__listen_socket(&c->listen[i].addr);
    if (fd >= 0) {
      close(fd);
      continue;
    }
    pt_diag_error(d, c->file, c->listen[i].line, c->listen[i].col, "gateway.listen: cannot listen on %s: %s",
                  c->listen[i].text, uv_strerror(fd));
    bad = 1;
  }
  return bad;
}

/* Builds a generation from the file and makes it current; the running one is
 * untouched when anything fails. The errors stay for /status. */
static int publish(pt_gateway_t *gw, FILE *errors, const char *trigger) {
  pt_diag_free(&gw->last.diag);
  pt_generation_t *g = build(gw->config_path, gw->generations + 1, gw->store, &gw->last.diag);
  if (g && gw->current && new_listeners_unavailable(gw->current->config, g->config, &gw->last.diag)) {
    pt_generation_unref(g);
    g = NULL;
  }
  pt_diag_print(&gw->last.diag, errors);
  uv_timeval64_t tv;
  gw->last.at = uv_gettimeofday(&tv) == 0 ? (double)tv.tv_sec + tv.tv_usec / 1e6 : 0;
  gw->last.done = 1;
  gw->last.ok = g != NULL;
  gw->last.trigger = trigger;
  if (!g) return -1;
  pt_store_set_cache_limit(gw->store, g->config->cache_max_bytes);
  g->owner = gw;
  g->on_free = forget_generation;
  uv_mutex_lock(&gw->lock);
  pt_generation_t *old = gw->current;
  if (old) pt_generation_inherit(g, old);
  gw->current = g;
  g->next_live = gw->live;
  gw->live = g;
  gw->generations++;
  uv_mutex_unlock(&gw->lock);
  if (old) pt_generation_unref(old); /* in-flight requests hold their own references */
  return 0;
}

int pt_gateway_load(pt_gateway_t *gw, const char *config_path, FILE *errors) {
  free(gw->config_path);
  gw->config_path = strdup(config_path);
  return gw->config_path ? publish(gw, errors, "start") : -1;
}

static void watch_config(pt_gateway_t *gw);

static int reload(pt_gateway_t *gw, FILE *errors, const char *trigger) {
  int rc = publish(gw, errors, trigger);
  fprintf(errors, "portico: reload (%s) of %s %s\n", trigger, gw->config_path,
          rc ? "failed; still serving the previous configuration" : "done");
  if (gw->running) watch_config(gw); /* the set of files may have changed */
#ifdef __GLIBC__
  malloc_trim(0); /* earlier generations were freed on worker threads: give their pages back */
#endif
  for (int i = 0; !rc && i < gw->nworkers; i++) pt_worker_reloaded(&gw->workers[i]);
  return rc;
}

int pt_gateway_reload(pt_gateway_t *gw, FILE *errors) { return reload(gw, errors, "api"); }

/* ---- status and the admin listener ------------------------------------------ */

static void json_string(pt_buf_t *b, const char *s) {
  pt_buf_append(b, "\"", 1);
  for (; s && *s; s++) {
    if (*s == '"' || *s == '\\') pt_buf_printf(b, "\\%c", *s);
    else if ((unsigned char)*s < 0x20) pt_buf_printf(b, "\\u%04x", *s);
    else pt_buf_append(b, s, 1);
  }
  pt_buf_append(b, "\"", 1);
}

static void last_reload_json(pt_gateway_t *gw, pt_buf_t *b) {
  if (!gw->last.done) {
    pt_buf_appends(b, "null");
    return;
  }
  pt_buf_printf(b, "{\"ok\": %s, \"at\": %.3f, \"trigger\": \"%s\", \"errors\": [", gw->last.ok ? "true" : "false",
                gw->last.at, gw->last.trigger);
  for (int i = 0; i < gw->last.diag.count; i++) {
    if (i) pt_buf_appends(b, ", ");
    json_string(b, gw->last.diag.messages[i]);
  }
  pt_buf_appends(b, "]}");
}

static void status_json(void *data, pt_buf_t *b) {
  pt_gateway_t *gw = data;
  uv_mutex_lock(&gw->lock);
  const pt_generation_t *g = gw->current;
  pt_buf_printf(b, "{\"version\": \"%s\", \"id\": ", PORTICO_VERSION);
  json_string(b, g->config->id);
  pt_buf_printf(b, ", \"generation\": %llu, \"loadedAt\": %.3f, \"config\": ", (unsigned long long)g->number,
                g->loaded_at);
  json_string(b, gw->config_path);
  pt_buf_appends(b, ", \"lastReload\": ");
  last_reload_json(gw, b);
  pt_buf_appends(b, ", \"workers\": [");
  for (int i = 0; i < gw->nworkers; i++)
    pt_buf_printf(b, "%s{\"index\": %d, \"generation\": %llu, \"tls\": {\"handshakes\": %llu, \"failures\": %llu, "
                  "\"plainHttp\": %llu}}", i ? ", " : "", i,
                  (unsigned long long)atomic_load(&gw->workers[i].generation),
                  (unsigned long long)atomic_load(&gw->workers[i].tls.handshakes),
                  (unsigned long long)atomic_load(&gw->workers[i].tls.failures),
                  (unsigned long long)atomic_load(&gw->workers[i].tls.plain_http));
  pt_buf_appends(b, "], \"generations\": [");
  for (const pt_generation_t *l = gw->live; l; l = l->next_live)
    pt_buf_printf(b, "%s{\"generation\": %llu, \"inFlight\": %d, \"current\": %s}", l == gw->live ? "" : ", ",
                  (unsigned long long)l->number, atomic_load(&l->in_flight), l == g ? "true" : "false");
  pt_buf_appends(b, "]}");
  uv_mutex_unlock(&gw->lock);
}

static int admin_reload(void *data, pt_buf_t *b) {
  pt_gateway_t *gw = data;
  int rc = reload(gw, stderr, "admin");
  pt_buf_printf(b, "{\"generation\": %llu, \"lastReload\": ", (unsigned long long)gw->generations);
  last_reload_json(gw, b);
  pt_buf_appends(b, "}");
  return rc;
}

static const pt_admin_ops_t admin_ops = {status_json, admin_reload};

static void on_files_changed(void *data) { reload(data, stderr, "file"); }

/* (Re)starts the file watches and the admin listener for the current configuration. */
static void watch_config(pt_gateway_t *gw) {
  pt_generation_t *g = pt__gateway_current(gw);
  if (!pt_watch_covers(gw->watch, g->config)) {
    pt_watch_stop(gw->watch);
    gw->watch = pt_watch_start(&gw->loop, g->config, on_files_changed, gw);
  }
  if (!pt_admin_same(gw->admin, g->config)) {
    pt_admin_stop(gw->admin);
    gw->admin = pt_admin_start(&gw->loop, g->config, &admin_ops, gw);
  }
  pt_generation_unref(g);
}

static int open_access_log(pt_gateway_t *gw, const pt_config_t *c) {
  if (!c->access_log) return 0;
  if (strcmp(c->access_log, "stdout") == 0) {
    gw->log_fd = STDOUT_FILENO;
    return 0;
  }
  gw->log_fd = open(c->access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (gw->log_fd >= 0) return 0;
  fprintf(stderr, "%s: gateway.accessLog: cannot open '%s' for appending\n", c->file, c->access_log);
  return -1;
}

static void request_stop(pt_gateway_t *gw) {
  if (!gw->running) return;
  gw->running = 0;
  fprintf(stderr, "portico: draining\n");
  for (int i = 0; i < gw->nworkers; i++) pt_worker_drain(&gw->workers[i]);
  uv_close((uv_handle_t *)&gw->sigterm, NULL);
  uv_close((uv_handle_t *)&gw->sigint, NULL);
  uv_close((uv_handle_t *)&gw->sighup, NULL);
  uv_close((uv_handle_t *)&gw->stop_async, NULL);
  pt_watch_stop(gw->watch);
  pt_admin_stop(gw->admin);
  gw->watch = NULL;
  gw->admin = NULL;
}

static void on_signal(uv_signal_t *s, int signum) {
  pt_gateway_t *gw = s->data;
  if (signum == SIGHUP) reload(gw, stderr, "SIGHUP");
  else request_stop(gw);
}

static void on_stop(uv_async_t *a) { request_stop(a->data); }

static void start_signals(pt_gateway_t *gw, int handle_signals) {
  uv_async_init(&gw->loop, &gw->stop_async, on_stop);
  gw->stop_async.data = gw;
  uv_signal_t *sigs[] = {&gw->sigterm, &gw->sigint, &gw->sighup};
  int nums[] = {SIGTERM, SIGINT, SIGHUP};
  for (int i = 0; i < 3; i++) {
    uv_signal_init(&gw->loop, sigs[i]);
    sigs[i]->data = gw;
    if (handle_signals) uv_signal_start(sigs[i], on_signal, nums[i]);
  }
}

static void print_ready(const pt_config_t *c, int workers) {
  fprintf(stderr, "portico %s: gateway '%s' listening on", PORTICO_VERSION, c->id);
  for (int i = 0; i < c->nlisten; i++) fprintf(stderr, " %s", c->listen[i].text);
  fprintf(stderr, " with %d worker(s)\n", workers);
}

int pt_gateway_run(pt_gateway_t *gw, int handle_signals) {
  if (!gw->current || uv_loop_init(&gw->loop) < 0) return -1;
  /* A peer that hung up makes write() raise SIGPIPE, whose default action kills
   * the process; libuv writes with write(), so the signal must be ignored (EPIPE
   * then closes that one connection). Process-wide: see portico.h. */
  signal(SIGPIPE, SIG_IGN);
  pt_generation_t *g = pt__gateway_current(gw);
  int rc = open_access_log(gw, g->config);
  gw->workers = calloc(g->config->workers, sizeof *gw->workers);
  if (!gw->workers) rc = -1;
  start_signals(gw, handle_signals);
  gw->running = 1;
  if (!rc) watch_config(gw); /* before the listeners open: an edit made once they answer is never missed */
  for (int i = 0; !rc && i < g->config->workers; i++) {
    rc = pt_worker_start(&gw->workers[i], gw, i, gw->log_fd);
    if (!rc) gw->nworkers++;
  }
  if (rc) request_stop(gw);
  else print_ready(g->config, gw->nworkers);
  pt_generation_unref(g);
  uv_run(&gw->loop, UV_RUN_DEFAULT);
  for (int i = 0; i < gw->nworkers; i++) pt_worker_join(&gw->workers[i]);
  uv_loop_close(&gw->loop);
  free(gw->workers);
  gw->workers = NULL;
  gw->nworkers = 0;
  if (gw->log_fd > STDERR_FILENO) close(gw->log_fd);
  gw->log_fd = -1;
  if (!rc) fprintf(stderr, "portico: stopped\n");
  return rc ? -1 : 0;
}

void pt_gateway_stop(pt_gateway_t *gw) { uv_async_send(&gw->stop_async); }

void pt_gateway_free(pt_gateway_t *gw) {
  if (!gw) return;
  if (gw->current) pt_generation_unref(gw->current);
  pt_diag_free(&gw->last.diag);
  pt_store_free(gw->store);
  uv_mutex_destroy(&gw->lock);
  free(gw->config_path);
  free(gw);
}
