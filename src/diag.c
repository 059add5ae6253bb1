/* diag.c - collects located error and warning messages (see diag.h). */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void diag_add(pt_diag_t *d, const char *kind, const char *file, int line, int col,
                     const char *fmt, va_list ap) {
  char text[1024], *msg;
  vsnprintf(text, sizeof text, fmt, ap);
  size_t n = strlen(file ? file : "") + strlen(text) + 64;
  if (d->count == d->cap) {
    int cap = d->cap ? d->cap * 2 : 8;
    char **m = realloc(d->messages, sizeof *m * cap);
    if (!m) return;
    d->messages = m;
    d->cap = cap;
  }
  if (!(msg = malloc(n))) return;
  if (line > 0)
    snprintf(msg, n, "%s:%d:%d: %s%s", file, line, col, kind, text);
  else
    snprintf(msg, n, "%s: %s%s", file ? file : "portico", kind, text);
  d->messages[d->count++] = msg;
}

void pt_diag_error(pt_diag_t *d, const char *file, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_add(d, "", file, line, col, fmt, ap);
  va_end(ap);
  d->errors++;
}

void pt_diag_warn(pt_diag_t *d, const char *file, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_add(d, "warning: ", file, line, col, fmt, ap);
  va_end(ap);
}

static void add_text(pt_diag_t *d, const char *text, int error) {
  if (d->count == d->cap) {
    int cap = d->cap ? d->cap * 2 : 8;
    char **m = realloc(d->messages, sizeof *m * cap);
    if (!m) return;
    d->messages = m;
    d->cap = cap;
  }
  char *msg = strdup(text);
  if (!msg) return;
  d->messages[d->count++] = msg;
  d->errors += error;
}

void pt_diag_error_text(pt_diag_t *d, const char *text) { add_text(d, text, 1); }
void pt_diag_warn_text(pt_diag_t *d, const char *text) { add_text(d, text, 0); }

void pt_diag_print(const pt_diag_t *d, FILE *out) {
  for (int i = 0; i < d->count; i++) fprintf(out, "%s\n", d->messages[i]);
}

void pt_diag_free(pt_diag_t *d) {
  for (int i = 0; i < d->count; i++) free(d->messages[i]);
  free(d->messages);
  memset(d, 0, sizeof *d);
}
