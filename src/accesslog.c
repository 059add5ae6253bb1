/* accesslog.c - JSON-lines access log (see accesslog.h). */
#include "accesslog.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_check(uv_check_t *h) { pt_accesslog_flush(h->data); }

void pt_accesslog_init(pt_accesslog_t *l, uv_loop_t *loop, int fd) {
  l->fd = fd;
  l->buf = (pt_buf_t){0};
  uv_check_init(loop, &l->flusher);
  l->flusher.data = l;
  uv_unref((uv_handle_t *)&l->flusher);
}

/* JSON string body: escapes quotes, backslashes and control bytes. */
static void json_str(pt_buf_t *b, const char *s, size_t n) {
  pt_buf_append(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') pt_buf_printf(b, "\\%c", c);
    else if (c < 0x20 || c == 0x7f) pt_buf_printf(b, "\\u%04x", c);
    else pt_buf_append(b, &s[i], 1);
  }
  pt_buf_append(b, "\"", 1);
}

static void json_field(pt_buf_t *b, const char *key, const char *s) {
  pt_buf_printf(b, ",\"%s\":", key);
  if (s) json_str(b, s, strlen(s));
  else pt_buf_appends(b, "null");
}

void pt_accesslog_write(pt_accesslog_t *l, const pt_access_t *a) {
  if (l->fd < 0) return;
  time_t secs = (time_t)(a->start_us / 1000000);
  struct tm tm;
  char when[40];
  gmtime_r(&secs, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  pt_buf_t *b = &l->buf;
  pt_buf_printf(b, "{\"time\":\"%s.%03dZ\",\"requestId\":\"%d-%llu\"", when,
                (int)(a->start_us / 1000 % 1000), a->worker, (unsigned long long)a->request_id);
  json_field(b, "method", a->method);
  pt_buf_appends(b, ",\"path\":");
  json_str(b, a->path ? a->path : "", a->path ? a->path_len : 0);
  json_field(b, "clientIp", a->client_ip);
  json_field(b, "api", a->api);
  if (a->operation) json_field(b, "operation", a->operation);
  pt_buf_printf(b, ",\"status\":%d,\"bytesIn\":%llu,\"bytesOut\":%llu", a->status,
                (unsigned long long)a->bytes_in, (unsigned long long)a->bytes_out);
  json_field(b, "backend", a->backend);
  json_field(b, "reason", a->reason);
  if (a->message) json_field(b, "message", a->message);
  if (a->traces) pt_buf_printf(b, ",\"traces\":%s", a->traces);
  if (a->policy) json_field(b, "policy", a->policy);
  pt_buf_printf(b, ",\"durationMs\":%.3f", a->total_ms);
  if (a->backend_ms >= 0) pt_buf_printf(b, ",\"backendMs\":%.3f", a->backend_ms);
  pt_buf_appends(b, "}\n");
  if (b->len > 32 * 1024) pt_accesslog_flush(l);
  else if (!uv_is_active((uv_handle_t *)&l->flusher)) uv_check_start(&l->flusher, on_check);
}

void pt_accesslog_flush(pt_accesslog_t *l) {
  uv_check_stop(&l->flusher);
  size_t off = 0;
  while (off < l->buf.len) {
    ssize_t n = write(l->fd, l->buf.base + off, l->buf.len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* a full disk must not stop the gateway; the lines are dropped */
    off += (size_t)n;
  }
  l->buf.len = 0;
}

void pt_accesslog_close(pt_accesslog_t *l) {
  if (l->fd >= 0) pt_accesslog_flush(l);
  pt_buf_free(&l->buf);
  uv_close((uv_handle_t *)&l->flusher, NULL);
}
