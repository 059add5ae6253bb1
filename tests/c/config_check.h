/* config_check.h - what the configuration tests share: YAML written to a
 * temporary file, and checks that a load fails at file:line:col with a text. */
#ifndef PT_TEST_CONFIG_CHECK_H
#define PT_TEST_CONFIG_CHECK_H

#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static char tmp_path[64];

/* Writes yaml to a fresh temporary file in /tmp; returns its path (valid until the next call). */
static const char *write_tmp(const char *yaml, size_t len) {
  int fd;
  if (tmp_path[0]) unlink(tmp_path);
  strcpy(tmp_path, "/tmp/pt-test-config-XXXXXX.yaml");
  if ((fd = mkstemps(tmp_path, 5)) < 0 || write(fd, yaml, len) != (ssize_t)len) {
    perror("config test: temporary file");
    exit(2);
  }
  close(fd);
  return tmp_path;
}

static int has_message(const pt_diag_t *d, const char *want) {
  for (int i = 0; i < d->count; i++)
    if (strstr(d->messages[i], want)) return 1;
  return 0;
}

/* Loads yaml and checks that it fails with a message containing "file:line:col: text"
 * (or "file: text" when line is 0). `at` is the caller's line, for the report. */
static void expect_error(int at, const char *yaml, size_t len, int line, int col, const char *text) {
  pt_diag_t d = {0};
  char want[1024];
  const char *file = write_tmp(yaml, len);
  pt_config_t *c = pt_config_load(file, &d);
  if (line)
    snprintf(want, sizeof want, "%s:%d:%d: %s", file, line, col, text);
  else
    snprintf(want, sizeof want, "%s: %s", file, text);
  if (getenv("PT_TEST_VERBOSE")) pt_diag_print(&d, stdout);
  if (c || d.errors == 0 || !has_message(&d, want)) {
    fprintf(stderr, "%s:%d: check failed: expected an error containing\n  %s\n got (%s):\n",
            __FILE__, at, want, c ? "a config" : "NULL");
    pt_diag_print(&d, stderr);
    check_failures++;
  }
  pt_config_free(c);
  pt_diag_free(&d);
}

/* A table of located error cases: ERR(yaml, line, col, text) records the caller's line. */
typedef struct error_case_s {
  int at;
  const char *yaml;
  size_t len;
  int line, col;
  const char *text;
} error_case_t;

#define ERR(yaml, line, col, text) {__LINE__, yaml, sizeof yaml - 1, line, col, text}

static void expect_errors(const error_case_t *cases, size_t n) {
  for (size_t i = 0; i < n; i++) expect_error(cases[i].at, cases[i].yaml, cases[i].len, cases[i].line, cases[i].col, cases[i].text);
}

#endif
