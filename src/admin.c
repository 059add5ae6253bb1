/* admin.c - the admin listener: authenticated /status and /reload (see admin.h). */
#include "admin.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define ADMIN_MAX_REQUEST 8192
#define ADMIN_TIMEOUT_MS 10000

struct pt_admin_s {
  uv_tcp_t listener;
  const pt_admin_ops_t *ops;
  void *data;
  char *token;
  char *listen_text;
};

typedef struct admin_conn_s {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t write;
  pt_admin_t *admin;
  llhttp_t parser;
  pt_buf_t url, field, auth, out;
  size_t seen;
  int in_value, done, closing;
} admin_conn_t;

static llhttp_settings_t settings;

/* Compares without an early exit, so timing does not tell how much matched. */
static int token_ok(const pt_admin_t *a, const char *auth, size_t len) {
  static const char prefix[] = "Bearer ";
  size_t tl = strlen(a->token);
  if (len != sizeof prefix - 1 + tl || strncmp(auth, prefix, sizeof prefix - 1) != 0) return 0;
  unsigned char diff = 0;
  for (size_t i = 0; i < tl; i++) diff |= (unsigned char)(auth[sizeof prefix - 1 + i] ^ a->token[i]);
  return diff == 0;
}

static void on_closed(uv_handle_t *h) {
  admin_conn_t *c = h->data;
  if (h == (uv_handle_t *)&c->tcp) {
    uv_close((uv_handle_t *)&c->timer, on_closed);
    return;
  }
  pt_buf_free(&c->url);
  pt_buf_free(&c->field);
  pt_buf_free(&c->auth);
  pt_buf_free(&c->out);
  free(c);
}

static void conn_close(admin_conn_t *c) {
  if (c->closing) return;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *w, int status) { conn_close(w->data); }

static void respond(admin_conn_t *c, int status, const char *json) {
  pt_buf_t *o = &c->out;
  pt_buf_printf(o, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                   "Cache-Control: no-store\r\nConnection: close\r\n\r\n%s",
                status, pt_http_status_text(status), strlen(json), json);
  c->done = 1;
  uv_read_stop((uv_stream_t *)&c->tcp);
  uv_buf_t b = uv_buf_init(o->base, (unsigned)o->len);
  c->write.data = c;
  if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) conn_close(c);
}

static void handle(admin_conn_t *c) {
  pt_admin_t *a = c->admin;
  const char *method = llhttp_method_name(c->parser.method);
  if (!token_ok(a, c->auth.base ? c->auth.base : "", c->auth.len))
    return respond(c, 401, "{\"error\": \"missing or wrong bearer token\"}");
  pt_buf_t json = {0};
  int status = 200;
  if (pt_strncaseeq(c->url.base, c->url.len, "/status") && strcmp(method, "GET") == 0) {
    a->ops->status(a->data, &json);
  } else if (pt_strncaseeq(c->url.base, c->url.len, "/reload") && strcmp(method, "POST") == 0) {
    status = a->ops->reload(a->data, &json) == 0 ? 200 : 422;
  } else {
    status = 404;
    pt_buf_appends(&json, "{\"error\": \"not found (GET /status, POST /reload)\"}");
  }
  pt_buf_append(&json, "", 1);
  respond(c, status, json.base ? json.base : "{}");
  pt_buf_free(&json);
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  return pt_buf_append(&((admin_conn_t *)p->data)->url, at, len);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  admin_conn_t *c = p->data;
  if (c->in_value) c->field.len = 0, c->in_value = 0; /* a new header begins */
  return pt_buf_append(&c->field, at, len);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  admin_conn_t *c = p->data;
  c->in_value = 1;
  if (pt_strncaseeq(c->field.base, c->field.len, "authorization")) pt_buf_append(&c->auth, at, len);
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  handle(p->data);
  return HPE_PAUSED;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  admin_conn_t *c = s->data;
  if (nread < 0) conn_close(c);
  if (nread <= 0 || c->done) {
    free(buf->base);
    return;
  }
  c->seen += (size_t)nread;
  llhttp_errno_t err = llhttp_execute(&c->parser, buf->base, (size_t)nread);
  free(buf->base);
  if (c->done) return;
  if (c->seen > ADMIN_MAX_REQUEST) respond(c, 431, "{\"error\": \"request too large\"}");
  else if (err != HPE_OK && err != HPE_PAUSED) respond(c, 400, "{\"error\": \"bad request\"}");
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  buf->base = malloc(4096);
  buf->len = buf->base ? 4096 : 0;
}

static void on_timeout(uv_timer_t *t) { conn_close(t->data); }

static void on_connection(uv_stream_t *l, int status) {
  pt_admin_t *a = l->data;
  if (status < 0) return;
  admin_conn_t *c = calloc(1, sizeof *c);
  if (!c) return;
  c->admin = a;
  uv_tcp_init(l->loop, &c->tcp);
  uv_timer_init(l->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
    conn_close(c);
    return;
  }
  llhttp_init(&c->parser, HTTP_REQUEST, &settings);
  c->parser.data = c;
  uv_timer_start(&c->timer, on_timeout, ADMIN_TIMEOUT_MS, 0);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

pt_admin_t *pt_admin_start(uv_loop_t *loop, const pt_config_t *c, const pt_admin_ops_t *ops, void *data) {
  if (!c->admin.listen.text || !c->admin.token) return NULL;
  if (!settings.on_message_complete) {
    llhttp_settings_init(&settings);
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_message_complete = on_message_complete;
  }
  pt_admin_t *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->ops = ops;
  a->data = data;
  a->token = strdup(c->admin.token);
  a->listen_text = strdup(c->admin.listen.text);
  uv_tcp_init(loop, &a->listener);
  a->listener.data = a;
  int rc = uv_tcp_bind(&a->listener, (const struct sockaddr *)&c->admin.listen.addr, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&a->listener, 64, on_connection);
  if (rc < 0) {
    fprintf(stderr, "%s:%d:%d: gateway.admin.listen: cannot listen on %s: %s\n", c->file, c->admin.listen.line,
            c->admin.listen.col, c->admin.listen.text, uv_strerror(rc));
    pt_admin_stop(a);
    return NULL;
  }
  return a;
}

static void on_listener_closed(uv_handle_t *h) {
  pt_admin_t *a = h->data;
  free(a->token);
  free(a->listen_text);
  free(a);
}

void pt_admin_stop(pt_admin_t *a) {
  if (a) uv_close((uv_handle_t *)&a->listener, on_listener_closed);
}

int pt_admin_same(const pt_admin_t *a, const pt_config_t *c) {
  if (!a || !c->admin.listen.text) return !a && !c->admin.listen.text;
  return strcmp(a->listen_text, c->admin.listen.text) == 0 && strcmp(a->token, c->admin.token) == 0;
}

/* ---- the client side: `portico reload -c FILE` -------------------------------- */

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int pt_admin_call(const pt_config_t *c, const char *method, const char *path, FILE *out) {
  if (!c->admin.listen.text) {
    fprintf(out, "%s: gateway.admin is not configured: nothing to talk to (or send SIGHUP)\n", c->file);
    return -1;
  }
  const struct sockaddr *sa = (const struct sockaddr *)&c->admin.listen.addr;
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct timeval tv = {30, 0}; /* a reload compiles every policy: give it time */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (fd < 0 || connect(fd, sa, len) < 0) {
    fprintf(out, "portico: cannot reach the admin listener on %s: is the gateway running?\n", c->admin.listen.text);
    if (fd >= 0) close(fd);
    return -1;
  }
  pt_buf_t req = {0}, resp = {0};
  pt_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: 0\r\n"
                      "Connection: close\r\n\r\n", method, path, c->admin.listen.text, c->admin.token);
  int ok = write(fd, req.base, req.len) == (ssize_t)req.len;
  char tmp[4096];
  ssize_t n;
  while (ok && (n = read(fd, tmp, sizeof tmp)) > 0) pt_buf_append(&resp, tmp, (size_t)n);
  close(fd);
  pt_buf_free(&req);
  pt_buf_append(&resp, "", 1);
  int status = 0;
  const char *body = resp.base ? strstr(resp.base, "\r\n\r\n") : NULL;
  if (resp.base) sscanf(resp.base, "HTTP/1.%*d %d", &status);
  fprintf(out, "%s\n", body ? body + 4 : "(no answer)");
  pt_buf_free(&resp);
  return status == 200 ? 0 : -1;
}
