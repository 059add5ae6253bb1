/* watch.c - directory watches filtered by file name, debounced (see watch.h). */
#include "watch.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dir_watch_s {
  uv_fs_event_t ev;
  struct pt_watch_s *owner;
  char *dir;
  char **names; /* files of interest in dir; NULL: any file (a policy module folder) */
  int nnames;
  int any;
} dir_watch_t;

struct pt_watch_s {
  uv_timer_t quiet;
  dir_watch_t *dirs;
  int ndirs, pending_closes;
  void (*on_change)(void *data);
  void *data;
};

static void on_quiet(uv_timer_t *t) {
  pt_watch_t *w = t->data;
  w->on_change(w->data);
}

static void on_event(uv_fs_event_t *ev, const char *filename, int events, int status) {
  dir_watch_t *d = ev->data;
  int hit = d->any || !filename;
  for (int i = 0; !hit && i < d->nnames; i++) hit = strcmp(d->names[i], filename) == 0;
  if (hit) uv_timer_start(&d->owner->quiet, on_quiet, PT_WATCH_QUIET_MS, 0);
}

static dir_watch_t *dir_for(pt_watch_t *w, const char *dir) {
  for (int i = 0; i < w->ndirs; i++)
    if (strcmp(w->dirs[i].dir, dir) == 0) return &w->dirs[i];
  dir_watch_t *arr = realloc(w->dirs, sizeof *arr * (w->ndirs + 1));
  if (!arr) return NULL;
  w->dirs = arr;
  dir_watch_t *d = &arr[w->ndirs++];
  memset(d, 0, sizeof *d);
  d->dir = strdup(dir);
  return d;
}

/* Adds a file (or, with any, every file of a folder) to the watch list. */
static void add(pt_watch_t *w, const char *path, int any) {
  if (!path) return;
  char *a = strdup(path), *b = strdup(path);
  dir_watch_t *d = a && b ? dir_for(w, any ? path : dirname(a)) : NULL;
  if (d && any) d->any = 1;
  char **names = d && !any ? realloc(d->names, sizeof *names * (d->nnames + 1)) : NULL;
  if (names) {
    d->names = names;
    d->names[d->nnames++] = strdup(basename(b));
  }
  free(a);
  free(b);
}

static void add_cert(pt_watch_t *w, const pt_cert_cfg_t *cert) {
  add(w, cert->certificate, 0);
  add(w, cert->key, 0);
}

static void add_cas(pt_watch_t *w, const pt_ca_list_t *l) {
  for (int i = 0; i < l->n; i++) add(w, l->files[i], 0);
}

/* Renewed certificates are picked up like edited policies. */
static void collect_tls(pt_watch_t *w, const pt_config_t *c) {
  for (int i = 0; i < c->nlisten; i++)
    if (c->listen[i].tls) add_cert(w, &c->listen[i].tls->cert), add_cas(w, &c->listen[i].tls->client_cas);
  for (int i = 0; i < c->ncertificates; i++) add_cert(w, &c->certificates[i]);
  add_cas(w, &c->tls.cas);
  for (int i = 0; i < c->nbackends; i++) {
    add_cas(w, &c->backends[i].cas);
    for (int k = 0; k < c->backends[i].ncertificates; k++) add_cert(w, &c->backends[i].certificates[k]);
  }
}

static void collect(pt_watch_t *w, const pt_config_t *c) {
  collect_tls(w, c);
  add(w, c->file, 0);
  add(w, c->policy_file, 0);
  for (int i = 0; i < c->npolicy_paths; i++) add(w, c->policy_paths[i], 1);
  for (int i = 0; i < c->nfragments; i++) add(w, c->fragments[i].file, 0);
  for (int i = 0; i < c->nnamed_values; i++) add(w, c->named_values[i].file, 0);
  for (int i = 0; i < c->nproducts; i++) add(w, c->products[i].policy_file, 0);
  for (int i = 0; i < c->napis; i++) {
    add(w, c->apis[i].policy_file, 0);
    add(w, c->apis[i].openapi_file, 0);
    for (int k = 0; k < c->apis[i].noperations; k++) add(w, c->apis[i].operations[k].policy_file, 0);
  }
}

pt_watch_t *pt_watch_start(uv_loop_t *loop, const pt_config_t *c, void (*on_change)(void *), void *data) {
  pt_watch_t *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->on_change = on_change;
  w->data = data;
  uv_timer_init(loop, &w->quiet);
  w->quiet.data = w;
  collect(w, c);
  for (int i = 0; i < w->ndirs; i++) {
    dir_watch_t *d = &w->dirs[i];
    d->owner = w;
    uv_fs_event_init(loop, &d->ev);
    d->ev.data = d;
    if (uv_fs_event_start(&d->ev, on_event, d->dir, 0) < 0)
      fprintf(stderr, "portico: cannot watch '%s' for changes; reload with SIGHUP\n", d->dir);
  }
  return w;
}

static void free_dirs(pt_watch_t *w) {
  for (int i = 0; i < w->ndirs; i++) {
    for (int k = 0; k < w->dirs[i].nnames; k++) free(w->dirs[i].names[k]);
    free(w->dirs[i].names);
    free(w->dirs[i].dir);
  }
  free(w->dirs);
}

static void on_closed(uv_handle_t *h) {
  pt_watch_t *w = h->type == UV_TIMER ? h->data : ((dir_watch_t *)h->data)->owner;
  if (--w->pending_closes) return;
  free_dirs(w);
  free(w);
}

static int same_dir(const dir_watch_t *a, const dir_watch_t *b) {
  if (strcmp(a->dir, b->dir) != 0 || a->any != b->any || a->nnames != b->nnames) return 0;
  for (int k = 0; k < a->nnames; k++)
    if (strcmp(a->names[k], b->names[k]) != 0) return 0;
  return 1;
}

int pt_watch_covers(const pt_watch_t *w, const pt_config_t *c) {
  pt_watch_t want = {0};
  collect(&want, c);
  int same = w && want.ndirs == w->ndirs;
  for (int i = 0; same && i < want.ndirs; i++) same = same_dir(&want.dirs[i], &w->dirs[i]);
  free_dirs(&want);
  return same;
}

void pt_watch_stop(pt_watch_t *w) {
  if (!w) return;
  w->pending_closes = w->ndirs + 1;
  for (int i = 0; i < w->ndirs; i++) uv_close((uv_handle_t *)&w->dirs[i].ev, on_closed);
  uv_close((uv_handle_t *)&w->quiet, on_closed);
}
