/* diag.c - collects located error and warning messages (see diag.h). */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Keeps msg (malloc'ed) in the list; drops it when out of memory. */
static void push(pt_diag_t *d, char *msg, int error) {
  if (!msg) return;
  if (d->count == d->cap) {
    int cap = d->cap ? d->cap * 2 : 8;
    char **m = realloc(d->messages, sizeof *m * cap);
    if (!m) {
      free(msg);
      return;
    }
    d->messages = m;
    d->cap = cap;
  }
  d->messages[d->count++] = msg;
  d->errors += error;
}

static void diag_add(pt_diag_t *d, const char *kind, const char *file, int line, int col, int error,
                     const char *fmt, va_list ap) {
  char text[1024];
  vsnprintf(text, sizeof text, fmt, ap);
  size_t n = strlen(file ? file : "") + strlen(text) + 64;
  char *msg = malloc(n);
  if (msg && line > 0)
    snprintf(msg, n, "%s:%d:%d: %s%s", file, line, col, kind, text);
  else if (msg)
    snprintf(msg, n, "%s: %s%s", file ? file : "portico", kind, text);
  push(d, msg, error);
}

void pt_diag_error(pt_diag_t *d, const char *file, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_add(d, "", file, line, col, 1, fmt, ap);
  va_end(ap);
}

void pt_diag_warn(pt_diag_t *d, const char *file, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_add(d, "warning: ", file, line, col, 0, fmt, ap);
  va_end(ap);
}

void pt_diag_error_text(pt_diag_t *d, const char *text) { push(d, strdup(text), 1); }
void pt_diag_warn_text(pt_diag_t *d, const char *text) { push(d, strdup(text), 0); }

void pt_diag_print(const pt_diag_t *d, FILE *out) {
  for (int i = 0; i < d->count; i++) fprintf(out, "%s\n", d->messages[i]);
}

void pt_diag_free(pt_diag_t *d) {
  for (int i = 0; i < d->count; i++) free(d->messages[i]);
  free(d->messages);
  memset(d, 0, sizeof *d);
}
