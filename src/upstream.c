/* upstream.c - one request/response exchange with a backend (see upstream.h). */
#include "upstream.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool.h"
#include "server.h"
#include "worker.h"

const char pt_reason_connection_failure[] = "BackendConnectionFailure";
const char pt_reason_timeout[] = "Timeout";
const char pt_reason_invalid_response[] = "BackendResponseInvalid";

#define MAX_RESPONSE_HEAD (64 * 1024)

struct pt_exchange_s {
  void *data;
  const pt_exchange_handler_t *h;
  pt_worker_t *w;
  pt_upconn_t *conn;
  pt_dns_lookup_t *lookup;
  const char *key, *host; /* borrowed from the generation the owner pins (key: owned with TLS) */
  const char *name;       /* the origin, for messages */
  pt_tls_ctx_t *tls;      /* borrowed like key */
  int port;
  pt_buf_t head;          /* kept until response bytes arrive, for the one retry */
  pt_headers_t resp;
  uint64_t connect_timeout_ms, response_timeout_ms;
  uint64_t started;       /* uv_hrtime() */
  double backend_ms;
  unsigned has_body : 1, head_request : 1, idempotent : 1, reused : 1, retried : 1,
      body_ended : 1, got_bytes : 1, head_seen : 1, interim : 1, complete : 1, paused : 1,
      in_callback : 1, aborted : 1, in_process : 1, https : 1;
};

static llhttp_settings_t response_settings;
static void connect_fresh(pt_exchange_t *x);

void *pt_exchange_data(const pt_exchange_t *x) { return x->data; }
double pt_exchange_backend_ms(const pt_exchange_t *x) { return x->backend_ms; }

static void exchange_free(pt_exchange_t *x) {
  if (x->lookup) pt_dns_cancel(x->lookup);
  if (x->key != x->name) free((char *)x->key);
  pt_buf_free(&x->head);
  pt_headers_free(&x->resp);
  free(x);
}

/* Drops the connection (never reused after a failure) and the exchange. */
static void discard(pt_exchange_t *x) {
  if (x->conn) {
    x->conn->exchange = NULL;
    pt_upconn_close(x->conn);
    x->conn = NULL;
  }
  exchange_free(x);
}

static void fail(pt_exchange_t *x, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(pt_exchange_t *x, int status, const char *reason, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  x->in_callback = 1;
  x->h->on_error(x, status, reason, msg);
  discard(x);
}

/* A reused connection may have been closed by the backend just before we
 * wrote. Replaying is safe only when nothing came back, the method is
 * idempotent and no body left the gateway. */
static int retryable(const pt_exchange_t *x) {
  return x->reused && !x->retried && !x->got_bytes && x->idempotent && !x->has_body;
}

static void connection_lost(pt_exchange_t *x, int err) {
  if (retryable(x)) {
    x->retried = 1;
    x->conn->exchange = NULL;
    pt_upconn_close(x->conn);
    x->conn = NULL;
    connect_fresh(x);
    return;
  }
  if (x->head_seen)
    fail(x, 502, pt_reason_connection_failure, "backend connection lost mid-response: %s", uv_strerror(err));
  else
    fail(x, 500, pt_reason_connection_failure, "backend connection failed: %s", uv_strerror(err));
}

static void on_timeout(pt_deadline_t *d) {
  pt_exchange_t *x = ((pt_upconn_t *)d->data)->exchange;
  if (!x) return;
  if (!x->conn->out.stream)
    fail(x, 500, pt_reason_connection_failure, "connecting to %s timed out", x->name);
  else if (x->conn->tls && !pt_tls_established(x->conn->tls))
    fail(x, 500, pt_reason_connection_failure, "TLS handshake with %s timed out", x->name);
  else if (!x->head_seen)
    fail(x, 500, pt_reason_timeout, "backend %s sent no response within %llu ms", x->name,
         (unsigned long long)x->response_timeout_ms);
  else
    fail(x, 502, pt_reason_timeout, "backend %s stalled mid-response", x->name);
}

static void arm(pt_exchange_t *x, uint64_t ms) {
  pt_deadline_set(&x->conn->timer, ms, on_timeout);
}

static void on_out_drain(pt_writeq_t *q, int status) {
  pt_upconn_t *c = q->data;
  pt_exchange_t *x = c->exchange;
  if (!x) return;
  if (status < 0) {
    connection_lost(x, status);
    return;
  }
  x->in_callback = 1;
  x->h->on_writable(x);
  x->in_callback = 0;
  if (x->aborted) discard(x);
}

static void finish(pt_exchange_t *x, int extra_bytes) {
  pt_upconn_t *c = x->conn;
  x->conn = NULL;
  c->exchange = NULL;
  pt_deadline_clear(&c->timer);
  int reusable = !extra_bytes && x->body_ended && llhttp_should_keep_alive(&c->parser) &&
                 pt_writeq_size(&c->out) == 0 && !c->out.error;
  if (reusable) pt_pool_put(&x->w->pool, x->key, c);
  else pt_upconn_close(c);
  x->in_callback = 1;
  x->h->on_flush(x);
  x->h->on_end(x);
  exchange_free(x);
}

/* The backend closed (or the connection failed): a close-delimited body ends here. */
static void response_eof(pt_exchange_t *x, pt_upconn_t *c, int err) {
  if (err == UV_EOF && x->head_seen && llhttp_message_needs_eof(&c->parser)) {
    x->in_callback = 1;
    llhttp_errno_t e = llhttp_finish(&c->parser); /* on_message_complete answers HPE_PAUSED */
    x->in_callback = 0;
    if (x->aborted) {
      discard(x);
      return;
    }
    if ((e == HPE_OK || e == HPE_PAUSED) && x->complete) {
      finish(x, 0);
      return;
    }
  }
  connection_lost(x, err);
}

/* Response bytes (decrypted, with TLS). 1 while the exchange goes on, 0 when it ended. */
static int response_bytes(pt_exchange_t *x, pt_upconn_t *c, const char *data, size_t len) {
  x->got_bytes = 1;
  pt_buf_free(&x->head); /* from now on there is no retry */
  arm(x, x->response_timeout_ms);
  x->in_callback = 1;
  llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
  x->in_callback = 0;
  if (x->aborted) {
    discard(x);
  } else if (err == HPE_PAUSED && x->complete) {
    /* bytes after the response, or records not read yet, make the connection unusable */
    finish(x, llhttp_get_error_pos(&c->parser) != data + len || (c->tls && pt_tls_pending(c->tls)));
  } else if (err != HPE_OK) {
    fail(x, 502, pt_reason_invalid_response, "backend %s sent an invalid response: %s", x->name,
         llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser) : llhttp_errno_name(err));
  } else {
    return 1;
  }
  return 0;
}

static void flush_batch(pt_exchange_t *x) {
  x->in_callback = 1;
  x->h->on_flush(x);
  x->in_callback = 0;
  if (x->aborted) discard(x);
}

static void tls_response(pt_exchange_t *x, pt_upconn_t *c, const char *data, size_t len) {
  int was = pt_tls_established(c->tls);
  if (pt_tls_feed(c->tls, data, len) < 0) return fail(x, 500, pt_reason_connection_failure, "out of memory");
  for (;;) {
    int n = pt_tls_read(c->tls, x->w->plainbuf, sizeof x->w->plainbuf);
    if (!was && pt_tls_established(c->tls)) { /* the head waited for the handshake */
      was = 1;
      pt_pool_keep_tls_session(&x->w->pool, x->key, c->tls);
      arm(x, x->response_timeout_ms);
      if (pt_writeq_flush(&c->out) < 0) return connection_lost(x, c->out.error);
    }
    if (n == PT_TLS_AGAIN) break;
    if (n == PT_TLS_EOF) return response_eof(x, c, UV_EOF);
    if (n < 0 && !was)
      return fail(x, 500, pt_reason_connection_failure, "TLS handshake with %s failed: %s", x->name,
                  pt_tls_error(c->tls));
    if (n < 0) return connection_lost(x, UV_EPROTO);
    if (!response_bytes(x, c, x->w->plainbuf, (size_t)n)) return;
  }
  if (pt_writeq_flush(&c->out) < 0) return connection_lost(x, c->out.error);
  flush_batch(x);
}

/* Reading stays on while a connection is pooled (no epoll changes per
 * request); input on an idle connection retires it. */
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pt_upconn_t *c = s->data;
  pt_exchange_t *x = c->exchange;
  if (nread == 0 || c->closing) return;
  if (!x) {
    pt_pool_idle_input(c);
    return;
  }
  if (nread < 0) return response_eof(x, c, (int)nread);
  if (c->tls) return tls_response(x, c, buf->base, (size_t)nread);
  if (response_bytes(x, c, buf->base, (size_t)nread)) flush_batch(x);
}

static pt_exchange_t *parser_exchange(llhttp_t *p) { return ((pt_upconn_t *)p->data)->exchange; }

static int on_message_begin(llhttp_t *p) {
  pt_headers_reset(&parser_exchange(p)->resp);
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  pt_exchange_t *x = parser_exchange(p);
  if (x->resp.store.len + len > MAX_RESPONSE_HEAD) return -1;
  return pt_headers_name_piece(&x->resp, at, len) ? -1 : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  pt_exchange_t *x = parser_exchange(p);
  if (x->resp.store.len + len > MAX_RESPONSE_HEAD) return -1;
  return pt_headers_value_piece(&x->resp, at, len) ? -1 : 0;
}

static int on_headers_complete(llhttp_t *p) {
  pt_exchange_t *x = parser_exchange(p);
  if (x->aborted) return -1; /* the owner gave up inside a callback: stop here */
  int status = p->status_code;
  if (status >= 100 && status < 200) {
    if (status == 101) return -1; /* upgrades are not forwarded */
    x->interim = 1;
    return 0;
  }
  pt_framing_t framing = PT_FRAME_CLOSE;
  if (x->head_request || status == 204 || status == 304) framing = PT_FRAME_NONE;
  else if (p->flags & F_CHUNKED) framing = PT_FRAME_CHUNKED;
  else if (p->flags & F_CONTENT_LENGTH) framing = PT_FRAME_LENGTH;
  x->head_seen = 1;
  x->backend_ms = (double)(uv_hrtime() - x->started) / 1e6;
  x->h->on_head(x, status, &x->resp, framing);
  return x->head_request ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  pt_exchange_t *x = parser_exchange(p);
  if (x->aborted) return -1;
  x->h->on_body(x, at, len);
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  pt_exchange_t *x = parser_exchange(p);
  if (x->interim) {
    x->interim = 0;
    return 0;
  }
  x->complete = 1;
  return HPE_PAUSED; /* anything after the response makes the connection unusable */
}

static uv_once_t settings_guard = UV_ONCE_INIT;

static void settings_init(void) { /* once for all workers (uv_once) */
  llhttp_settings_init(&response_settings);
  response_settings.on_message_begin = on_message_begin;
  response_settings.on_header_field = on_header_field;
  response_settings.on_header_value = on_header_value;
  response_settings.on_headers_complete = on_headers_complete;
  response_settings.on_body = on_body;
  response_settings.on_message_complete = on_message_complete;
}

static void settings_once(void) { uv_once(&settings_guard, settings_init); }

/* Binds a connection (pooled or fresh) to the exchange and queues the head. */
static int attach(pt_exchange_t *x, pt_upconn_t *c) {
  x->conn = c;
  c->exchange = x;
  c->requests++;
  c->tcp.data = c;
  llhttp_init(&c->parser, HTTP_RESPONSE, &response_settings);
  c->parser.data = c;
  return pt_buf_append(&c->out.pending, x->head.base, x->head.len);
}

static void start_reading(pt_exchange_t *x) {
  if (!x->conn->reading) uv_read_start((uv_stream_t *)&x->conn->tcp, pt__worker_alloc, on_read);
  x->conn->reading = 1;
  arm(x, x->response_timeout_ms);
}

/* The ClientHello goes out now; the request head waits in the queue for the handshake. */
static int start_tls(pt_exchange_t *x, pt_upconn_t *c) {
  if (!(c->tls = pt_tls_new(x->tls, x->host))) return fail(x, 500, pt_reason_connection_failure, "out of memory"), -1;
  c->out.tls = c->tls;
  pt_tls_session_offer(c->tls, pt_pool_tls_session(&x->w->pool, x->key));
  arm(x, x->connect_timeout_ms);
  if (pt_tls_handshake(c->tls) < 0)
    return fail(x, 500, pt_reason_connection_failure, "TLS with %s failed: %s", x->name, pt_tls_error(c->tls)), -1;
  return 0;
}

static void on_connected(uv_connect_t *req, int status) {
  pt_upconn_t *c = req->data;
  pt_exchange_t *x = c->exchange;
  if (!x) return; /* aborted while connecting; the connection is already closing */
  if (status < 0) {
    fail(x, 500, pt_reason_connection_failure, "cannot connect to %s: %s", x->name, uv_strerror(status));
    return;
  }
  c->out.stream = (uv_stream_t *)&c->tcp;
  uv_tcp_nodelay(&c->tcp, 1);
  start_reading(x);
  if (x->tls && start_tls(x, c) < 0) return;
  if (pt_writeq_flush(&c->out) < 0) connection_lost(x, c->out.error);
}

static void do_connect(pt_exchange_t *x, const struct sockaddr_storage *addr) {
  pt_upconn_t *c = x->conn;
  c->connect.data = c;
  int rc = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)addr, on_connected);
  if (rc < 0) fail(x, 500, pt_reason_connection_failure, "cannot connect to %s: %s", x->name, uv_strerror(rc));
}

static void on_resolved(void *data, int status, const struct sockaddr_storage *addr) {
  pt_exchange_t *x = data;
  x->lookup = NULL;
  if (status < 0)
    fail(x, 500, pt_reason_connection_failure, "cannot resolve backend host '%s': %s", x->host, uv_strerror(status));
  else
    do_connect(x, addr);
}

/* Self-chaining: one end of a socketpair is this upstream connection, the
 * other is handed to our own server as a new client connection. No
 * listener, no connect, no DNS: none of the ways a network self-call fails. */
static void connect_in_process(pt_exchange_t *x) {
  pt_upconn_t *c = x->conn;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
    fail(x, 500, pt_reason_connection_failure, "in-process dispatch: socketpair: %s", strerror(errno));
    return;
  }
  if (uv_tcp_open(&c->tcp, sv[0]) < 0 || pt_server_adopt(x->w, sv[1], x->https) < 0) {
    close(sv[0]);
    fail(x, 500, pt_reason_connection_failure, "in-process dispatch failed");
    return;
  }
  c->out.stream = (uv_stream_t *)&c->tcp;
  start_reading(x);
}

static void connect_fresh(pt_exchange_t *x) {
  pt_upconn_t *c = calloc(1, sizeof *c);
  if (!c) {
    fail(x, 500, pt_reason_connection_failure, "out of memory");
    return;
  }
  c->pool = &x->w->pool;
  uv_tcp_init(&x->w->loop, &c->tcp);
  pt_deadline_init(&x->w->loop, &c->timer, c);
  pt_writeq_init(&c->out, NULL, c, on_out_drain);
  x->w->pool.opened++;
  x->reused = 0;
  if (attach(x, c) < 0) {
    fail(x, 500, pt_reason_connection_failure, "out of memory");
    return;
  }
  arm(x, x->connect_timeout_ms);
  if (x->in_process) return connect_in_process(x);
  struct sockaddr_storage addr;
  int rc = pt_dns_resolve(&x->w->dns, x->host, x->port, &addr, on_resolved, x, &x->lookup);
  if (rc == 0) do_connect(x, &addr);
  else if (rc < 0)
    fail(x, 500, pt_reason_connection_failure, "cannot resolve backend host '%s': %s", x->host, uv_strerror(rc));
}

int pt_exchange_start(pt_worker_t *w, const pt_exchange_params_t *p, const pt_exchange_handler_t *h,
                      void *data, pt_exchange_t **slot) {
  settings_once();
  pt_exchange_t *x = calloc(1, sizeof *x);
  if (!x) return UV_ENOMEM;
  x->key = x->name = p->origin_key;
  x->host = p->origin->host;
  if (p->tls && !p->in_process) { /* connections made with other TLS settings are not interchangeable */
    char *key = malloc(strlen(p->origin_key) + sizeof p->tls->key + 2);
    if (!key) {
      free(x);
      return UV_ENOMEM;
    }
    sprintf(key, "%s#%s", p->origin_key, p->tls->key);
    x->key = key;
    x->tls = p->tls;
  }
  x->data = data;
  x->h = h;
  x->w = w;
  x->port = p->origin->port;
  x->head = *p->head;
  *p->head = (pt_buf_t){0};
  x->has_body = p->has_body;
  x->head_request = p->head_request;
  x->idempotent = p->idempotent;
  x->in_process = p->in_process;
  x->https = strcmp(p->origin->scheme, "https") == 0;
  x->connect_timeout_ms = p->connect_timeout_ms;
  x->response_timeout_ms = p->response_timeout_ms;
  x->started = uv_hrtime();
  x->backend_ms = -1;
  *slot = x; /* the owner holds x before any callback can fire */
  pt_upconn_t *c = pt_pool_take(&w->pool, x->key);
  if (!c) {
    connect_fresh(x);
  } else {
    x->reused = 1;
    if (attach(x, c) == 0) start_reading(x);
    else fail(x, 500, pt_reason_connection_failure, "out of memory");
  }
  return 0;
}

int pt_exchange_write(pt_exchange_t *x, const void *data, size_t len) {
  return pt_buf_append(&x->conn->out.pending, data, len);
}

void pt_exchange_end_body(pt_exchange_t *x) { x->body_ended = 1; }

int pt_exchange_flush(pt_exchange_t *x) {
  int rc = pt_writeq_flush(&x->conn->out);
  if (rc < 0) connection_lost(x, rc);
  return rc;
}

int pt_exchange_full(const pt_exchange_t *x) { return pt_writeq_full(&x->conn->out); }

void pt_exchange_pause(pt_exchange_t *x) {
  /* No connection: the response is complete (finish() flushes before on_end). */
  if (x->paused || !x->conn || !x->conn->out.stream) return;
  x->paused = 1;
  x->conn->reading = 0;
  uv_read_stop((uv_stream_t *)&x->conn->tcp);
  pt_deadline_clear(&x->conn->timer); /* a slow client is not the backend's fault */
}

void pt_exchange_resume(pt_exchange_t *x) {
  if (!x->paused || !x->conn) return;
  x->paused = 0;
  start_reading(x);
}

void pt_exchange_abort(pt_exchange_t *x) {
  if (x->in_callback) x->aborted = 1;
  else discard(x);
}
