/* diag.h - diagnostics: a list of located messages (file:line:column: text).
 * Owns the messages it collects; used by config loading and `portico check`. */
#ifndef PT_DIAG_H
#define PT_DIAG_H

#include <stdio.h>

typedef struct pt_diag_s {
  char **messages; /* each "file:line:col: text", owned */
  int count;
  int errors;      /* messages that are errors (the rest are warnings) */
  int cap;
} pt_diag_t;

/* Adds an error; line and col are 1-based (0 leaves them out). */
void pt_diag_error(pt_diag_t *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void pt_diag_warn(pt_diag_t *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Adds a message that already names its place ("file:line:col: text"). */
void pt_diag_error_text(pt_diag_t *d, const char *text);
void pt_diag_warn_text(pt_diag_t *d, const char *text);
void pt_diag_print(const pt_diag_t *d, FILE *out);
void pt_diag_free(pt_diag_t *d);

#endif
