/* accesslog.h - one JSON line per request, buffered per worker and written
 * once per loop iteration (so a busy worker makes one write for many
 * requests). The query string, Authorization and other secrets are never
 * logged: only the path is. The file descriptor is borrowed from the gateway. */
#ifndef PT_ACCESSLOG_H
#define PT_ACCESSLOG_H

#include <stdint.h>
#include <uv.h>

#include "buf.h"

typedef struct pt_access_s {
  uint64_t request_id;
  int worker;
  const char *method;
  const char *path; size_t path_len; /* without the query */
  const char *client_ip;
  const char *api;      /* NULL when no API matched */
  const char *operation; /* the matched operation's id, or NULL */
  const char *backend;  /* the origin called, or NULL */
  const char *reason;   /* APIM LastError.Reason, or NULL */
  const char *message;  /* what went wrong, for operators, or NULL */
  const char *traces;   /* trace policy records, a JSON array, or NULL */
  const char *policy;   /* how policies ran: "plan" (native, plan.h), "lua", or NULL (none) */
  int status;
  uint64_t bytes_in, bytes_out;
  double total_ms, backend_ms; /* backend_ms < 0: no backend call */
  int64_t start_us;     /* wall clock, microseconds since the epoch */
} pt_access_t;

typedef struct pt_accesslog_s {
  int fd; /* -1: off */
  pt_buf_t buf;
  uv_check_t flusher;
} pt_accesslog_t;

void pt_accesslog_init(pt_accesslog_t *l, uv_loop_t *loop, int fd);
void pt_accesslog_write(pt_accesslog_t *l, const pt_access_t *a);
void pt_accesslog_flush(pt_accesslog_t *l);
/* Flushes and closes the check handle; free the struct after the loop ran. */
void pt_accesslog_close(pt_accesslog_t *l);

#endif
