/* gateway.c - lifecycle: load the configuration, publish generations, start
 * workers, handle signals, drain and stop. The only mutable state shared
 * between threads lives here: the current generation, behind a mutex. */
#include "portico.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "worker.h"

struct pt_gateway_s {
  char *config_path;
  uv_mutex_t lock;
  pt_generation_t *current; /* guarded by lock */
  uint64_t generations;     /* guarded by lock */
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
static pt_generation_t *build(const char *path, uint64_t number, pt_diag_t *d) {
  pt_config_t *c = pt_config_load(path, d);
  pt_generation_t *g = c ? pt_generation_build(c, number) : NULL;
  if (g && pt_generation_check_policies(g, d) < 0) {
    pt_generation_unref(g);
    g = NULL;
  }
  return g;
}

int pt_check(const char *config_path, FILE *out) {
  pt_diag_t d = {0};
  pt_generation_t *g = build(config_path, 0, &d);
  pt_diag_print(&d, out);
  int errors = d.errors ? d.errors : !g;
  if (g) {
    const pt_config_t *c = g->config;
    fprintf(out, "%s: OK: %d API(s), %d backend(s), listening on %d address(es)\n", config_path,
            c->napis, c->nbackends, c->nlisten);
    pt_generation_unref(g);
  }
  pt_diag_free(&d);
  return errors;
}

pt_gateway_t *pt_gateway_new(void) {
  pt_gateway_t *gw = calloc(1, sizeof *gw);
  if (!gw) return NULL;
  uv_mutex_init(&gw->lock);
  gw->log_fd = -1;
  return gw;
}

pt_generation_t *pt__gateway_current(pt_gateway_t *gw) {
  uv_mutex_lock(&gw->lock);
  pt_generation_t *g = pt_generation_ref(gw->current);
  uv_mutex_unlock(&gw->lock);
  return g;
}

static int publish(pt_gateway_t *gw, FILE *errors) {
  pt_diag_t d = {0};
  pt_generation_t *g = build(gw->config_path, gw->generations + 1, &d);
  pt_diag_print(&d, errors);
  pt_diag_free(&d);
  if (!g) return -1;
  uv_mutex_lock(&gw->lock);
  pt_generation_t *old = gw->current;
  gw->current = g;
  gw->generations++;
  uv_mutex_unlock(&gw->lock);
  if (old) pt_generation_unref(old); /* in-flight requests hold their own references */
  return 0;
}

int pt_gateway_load(pt_gateway_t *gw, const char *config_path, FILE *errors) {
  free(gw->config_path);
  gw->config_path = strdup(config_path);
  return gw->config_path ? publish(gw, errors) : -1;
}

int pt_gateway_reload(pt_gateway_t *gw, FILE *errors) {
  int rc = publish(gw, errors);
  fprintf(errors, "portico: reload of %s %s\n", gw->config_path, rc ? "failed; still serving the previous configuration" : "done");
  return rc;
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
}

static void on_signal(uv_signal_t *s, int signum) {
  pt_gateway_t *gw = s->data;
  if (signum == SIGHUP) pt_gateway_reload(gw, stderr);
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
  pt_generation_t *g = pt__gateway_current(gw);
  int rc = open_access_log(gw, g->config);
  gw->workers = calloc(g->config->workers, sizeof *gw->workers);
  if (!gw->workers) rc = -1;
  for (int i = 0; !rc && i < g->config->workers; i++) {
    rc = pt_worker_start(&gw->workers[i], gw, i, gw->log_fd);
    if (!rc) gw->nworkers++;
  }
  start_signals(gw, handle_signals);
  gw->running = 1;
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
  uv_mutex_destroy(&gw->lock);
  free(gw->config_path);
  free(gw);
}
