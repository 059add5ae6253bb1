/* server.c - downstream connections and the requests they carry (see server.h).
 *
 * One request is active per connection. Pipelined requests wait, unparsed,
 * in `leftover` while the parser is paused at the end of the active one, so
 * responses go out in order and a slow backend bounds what we buffer. */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "conn.h"
#include "tls_context.h"

static llhttp_settings_t request_settings;
static void conn_end(pt_conn_t *c);

/* ---- timers and reading ------------------------------------------------ */

static void tls_failed(pt_conn_t *c, const char *why);
static void tls_input(pt_conn_t *c, const char *data, size_t len);

static void on_timer(pt_deadline_t *d) {
  pt_conn_t *c = d->data;
  if (c->tls && !pt_tls_established(c->tls)) return tls_failed(c, "no handshake within timeouts.headerRead");
  /* no response: a slowloris gets nothing but a closed socket */
  if (c->timer_kind == TIMER_HEADER && c->req && !c->req->response_started) c->req->reason = "ClientTimeout";
  pt__conn_close(c);
}

void pt__conn_timer(pt_conn_t *c, int kind, uint64_t ms) {
  c->timer_kind = kind;
  if (kind == TIMER_NONE) pt_deadline_clear(&c->timer);
  else pt_deadline_set(&c->timer, ms, on_timer);
}

static const pt_config_t *conn_config(pt_conn_t *c) {
  return c->req ? c->req->gen->config : NULL;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

void pt__conn_update_reading(pt_conn_t *c) {
  int want = !c->closing && (c->ending || c->block == 0);
  if (want && !c->reading) uv_read_start((uv_stream_t *)&c->tcp, pt__worker_alloc, on_read);
  else if (!want && c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = want;
}

/* ---- request parser callbacks ------------------------------------------- */

static int reject(pt_conn_t *c, int status, const char *message) {
  c->reject_status = status;
  c->reject_message = message;
  return -1;
}

static int on_message_begin(llhttp_t *p) {
  pt_conn_t *c = p->data;
  if (!pt__request_new(c)) return reject(c, 500, "Out of memory");
  pt__conn_timer(c, TIMER_HEADER, c->header_ms);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  pt_conn_t *c = p->data;
  if (c->req->url.len + len > conn_config(c)->limits.max_url_bytes) return reject(c, 414, "Request URI too long");
  return pt_buf_append(&c->req->url, at, len) ? reject(c, 500, "Out of memory") : 0;
}

static int head_bytes_ok(pt_conn_t *c, size_t more) {
  const pt_request_t *r = c->req;
  return r->url.len + r->headers.store.len + more <= conn_config(c)->limits.max_header_bytes;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  pt_conn_t *c = p->data;
  pt_headers_t *h = &c->req->headers;
  if (!head_bytes_ok(c, len)) return reject(c, 431, "Request header fields too large");
  if (h->in_value && h->count >= (int)conn_config(c)->limits.max_headers)
    return reject(c, 431, "Too many request header fields");
  /* "Name : v" would be read as another name by some servers behind us. */
  if (memchr(at, ' ', len) || memchr(at, '\t', len)) return reject(c, 400, "Whitespace in a header name");
  return pt_headers_name_piece(h, at, len) ? reject(c, 500, "Out of memory") : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  pt_conn_t *c = p->data;
  if (!head_bytes_ok(c, len)) return reject(c, 431, "Request header fields too large");
  /* llhttp joins obs-fold lines (a line starting with SP/HT); RFC 9112 5.2 lets us refuse them. */
  if (c->req->headers.in_value && len && (at[0] == ' ' || at[0] == '\t') &&
      (at > c->exec_start ? at[-1] : c->exec_prev) == '\n')
    return reject(c, 400, "Obsolete line folding in a header");
  return pt_headers_value_piece(&c->req->headers, at, len) ? reject(c, 500, "Out of memory") : 0;
}

static int on_headers_complete(llhttp_t *p) {
  pt_conn_t *c = p->data;
  pt__conn_timer(c, TIMER_IDLE, c->idle_ms); /* body inactivity */
  pt__request_dispatch(c);
  return c->closing ? -1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  pt_conn_t *c = p->data;
  pt_request_t *r = c->req;
  r->body_in += len;
  if (r->body_in > conn_config(c)->limits.max_body_bytes) return reject(c, 413, "Request body too large");
  pt__request_body(c, at, len);
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  pt_conn_t *c = p->data;
  pt_request_t *r = c->req;
  r->message_done = 1;
  pt__request_body_done(c);
  if (!r->response_done) pt__conn_timer(c, TIMER_NONE, 0); /* the backend timeouts apply now */
  return HPE_PAUSED; /* the next pipelined request waits for this response */
}

static uv_once_t settings_guard = UV_ONCE_INIT;

static void settings_init(void) { /* once for all workers (uv_once) */
  llhttp_settings_init(&request_settings);
  request_settings.on_message_begin = on_message_begin;
  request_settings.on_url = on_url;
  request_settings.on_header_field = on_header_field;
  request_settings.on_header_value = on_header_value;
  request_settings.on_headers_complete = on_headers_complete;
  request_settings.on_body = on_body;
  request_settings.on_message_complete = on_message_complete;
}

static void settings_once(void) { uv_once(&settings_guard, settings_init); }

/* ---- parsing driver ------------------------------------------------------ */

static void parse_failed(pt_conn_t *c, llhttp_errno_t err) {
  int status = c->reject_status ? c->reject_status : 400;
  const char *msg = c->reject_status ? c->reject_message : llhttp_get_error_reason(&c->parser);
  char text[160];
  snprintf(text, sizeof text, "%s", msg ? msg : llhttp_errno_name(err));
  for (char *t = text; *t; t++)
    if (*t == '"' || *t == '\\' || (unsigned char)*t < 0x20) *t = ' ';
  pt_request_t *r = c->req;
  if (r && r->x) {
    pt_exchange_abort(r->x); /* never reuse an upstream connection after a framing error */
    r->x = NULL;
  }
  if (r && r->response_started) {
    pt__conn_close(c);
    return;
  }
  if (r) r->keep_alive = 0;
  pt__respond_error(c, status, status == 400 ? "InvalidRequest" : "RequestRejected", text);
  if (c->req) c->req->keep_alive = 0, c->req->message_done = 1;
}

/* Feeds bytes to the parser; bytes after a completed request are kept in leftover. */
static void conn_parse(pt_conn_t *c, const char *data, size_t len) {
  c->exec_start = data;
  llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
  if (len) c->exec_prev = data[len - 1];
  const char *pos = err == HPE_OK ? data + len : llhttp_get_error_pos(&c->parser);
  /* A call never spans two requests (we pause at each end), so what it consumed is the current one's. */
  if (c->req && pos) c->req->bytes_in += (size_t)(pos - data);
  if (c->closing || err == HPE_OK) return;
  if (err == HPE_PAUSED) {
    c->paused = 1;
    pt_buf_append(&c->leftover, pos, (size_t)(data + len - pos));
    if (c->leftover.len > MAX_LEFTOVER) c->block |= BLOCK_PIPELINE;
    return;
  }
  parse_failed(c, err);
}

/* The client closed its side (or the connection failed). */
static void conn_eof(pt_conn_t *c, int err) {
  pt_request_t *r = c->req;
  /* A client may half-close after a complete request and still read the answer. */
  if (err == UV_EOF && !c->ending && r && r->message_done && !r->response_done) {
    r->keep_alive = 0;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
    c->block |= BLOCK_PIPELINE;
    return;
  }
  pt__conn_close(c);
}

/* Request bytes (decrypted, with TLS). */
static void conn_input(pt_conn_t *c, const char *data, size_t len) {
  if (c->paused) {
    pt_buf_append(&c->leftover, data, len);
    if (c->leftover.len > MAX_LEFTOVER) c->block |= BLOCK_PIPELINE;
  } else {
    conn_parse(c, data, len);
    if (c->timer_kind == TIMER_IDLE && c->req && !c->req->message_done) pt__conn_timer(c, TIMER_IDLE, c->idle_ms);
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pt_conn_t *c = s->data;
  if (nread == 0) return;
  if (nread < 0) return conn_eof(c, (int)nread);
  if (c->ending) return; /* lingering close: input is drained and dropped */
  if (c->tls) return tls_input(c, buf->base, (size_t)nread);
  conn_input(c, buf->base, (size_t)nread);
  pt__conn_advance(c);
}

/* ---- TLS --------------------------------------------------------------- */

static void tls_failed(pt_conn_t *c, const char *why) {
  pt_worker_t *w = c->w;
  atomic_fetch_add_explicit(&w->tls.failures, 1, memory_order_relaxed);
  uint64_t now = uv_now(&w->loop);
  if (w->tls.logged_at && now - w->tls.logged_at < 1000) { /* a flood must not flood the log */
    w->tls.unlogged++;
  } else {
    fprintf(stderr, "portico: tls: handshake from %s failed: %s", c->client_ip, why);
    if (w->tls.unlogged) fprintf(stderr, " (and %llu more since the last report)", (unsigned long long)w->tls.unlogged);
    fputc('\n', stderr);
    w->tls.logged_at = now, w->tls.unlogged = 0;
  }
  pt_writeq_flush(&c->out); /* the alert, if mbedTLS wrote one */
  pt__conn_close(c);
}

/* A request line where a ClientHello should be: say so in plain HTTP, then close. */
static void plain_http_on_tls(pt_conn_t *c) {
  static const char body[] = "{ \"statusCode\": 400, \"message\": \"The plain HTTP request was sent to an HTTPS "
                             "port: use https://\" }";
  atomic_fetch_add_explicit(&c->w->tls.plain_http, 1, memory_order_relaxed);
  c->out.tls = NULL;
  pt_buf_printf(&c->out.pending, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", sizeof body - 1, body);
  conn_end(c);
}

/* 0, or -1 when the connection was refused (an optional client certificate that does not verify). */
static int tls_established(pt_conn_t *c) {
  pt_tls_peer_t peer;
  if (pt_tls_peer_rejected(c->tls)) return tls_failed(c, "the client certificate did not verify"), -1;
  atomic_fetch_add_explicit(&c->w->tls.handshakes, 1, memory_order_relaxed);
  if (pt_tls_peer(c->tls, &peer) && (c->peer = malloc(sizeof peer))) *c->peer = peer;
  return 0;
}

/* Ciphertext from the client: the handshake, then request bytes for the parser. */
static void tls_input(pt_conn_t *c, const char *data, size_t len) {
  int was = pt_tls_established(c->tls);
  if (!c->tls_started && len && data[0] >= 'A' && data[0] <= 'Z') return plain_http_on_tls(c);
  c->tls_started = 1;
  if (pt_tls_feed(c->tls, data, len) < 0) return pt__conn_close(c);
  for (;;) {
    int n = pt_tls_read(c->tls, c->w->plainbuf, sizeof c->w->plainbuf);
    if (!was && pt_tls_established(c->tls)) {
      was = 1;
      if (tls_established(c) < 0) return;
    }
    if (n == PT_TLS_AGAIN) break;
    if (n == PT_TLS_EOF) return conn_eof(c, UV_EOF);
    if (n < 0) {
      if (!was) return tls_failed(c, pt_tls_error(c->tls));
      return pt__conn_close(c);
    }
    conn_input(c, c->w->plainbuf, (size_t)n);
    if (c->closing || c->ending) return;
  }
  pt__conn_advance(c); /* also sends what the handshake wrote */
}

/* ---- connection lifecycle ------------------------------------------------ */

static void on_out_drain(pt_writeq_t *q, int status) {
  pt_conn_t *c = q->data;
  if (status < 0) {
    pt__conn_close(c);
    return;
  }
  pt_request_t *r = c->req;
  if (r && r->waiting_client) {
    r->waiting_client = 0;
    pt__conn_timer(c, TIMER_NONE, 0);
    if (r->x) pt_exchange_resume(r->x);
  }
  if (c->ending && pt_writeq_size(q) == 0) conn_end(c);
}

/* Runs every request that can finish, then the pipelined ones behind it. */
void pt__conn_advance(pt_conn_t *c) {
  /* A response that ends the connection need not wait for the rest of the body. */
  while (!c->closing && !c->ending && c->req && c->req->response_done &&
         (c->req->message_done || !c->req->keep_alive)) {
    int keep = c->req->keep_alive && !c->w->draining;
    pt__request_free(c);
    if (!keep) {
      conn_end(c);
      return;
    }
    llhttp_resume(&c->parser);
    c->paused = 0;
    c->block &= ~BLOCK_PIPELINE;
    pt__conn_timer(c, TIMER_IDLE, c->idle_ms);
    if (c->leftover.len) {
      pt_buf_t in = c->leftover;
      c->leftover = (pt_buf_t){0};
      conn_parse(c, in.base, in.len);
      pt_buf_free(&in);
    }
  }
  if (c->closing) return;
  if (pt_writeq_flush(&c->out) < 0) {
    pt__conn_close(c);
    return;
  }
  if (c->req && c->req->x && pt_exchange_flush(c->req->x) < 0) return;
  pt__conn_update_reading(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  pt_conn_t *c = req->data;
  if (status < 0) pt__conn_close(c);
}

/* Graceful end: flush, half-close, drain unread input briefly, then close, so
 * the client reads our last response instead of a reset. */
static void conn_end(pt_conn_t *c) {
  if (c->closing) return;
  c->ending = 1;
  int rc = pt_writeq_flush(&c->out); /* the last response is sealed before the close_notify */
  if (!rc && c->out.tls) {
    pt_tls_close_notify(c->tls);
    rc = pt_writeq_flush(&c->out);
  }
  if (rc < 0) {
    pt__conn_close(c);
    return;
  }
  if (pt_writeq_size(&c->out) > 0 || c->shut) return; /* on_out_drain comes back here */
  c->shut = 1;
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
    pt__conn_close(c);
    return;
  }
  pt__conn_timer(c, TIMER_LINGER, LINGER_MS);
  c->block = 0;
  pt__conn_update_reading(c);
}

static void on_timer_closed(uv_handle_t *h) {
  pt_conn_t *c = ((pt_deadline_t *)h->data)->data;
  pt_worker_t *w = c->w;
  pt_writeq_free(&c->out);
  pt_buf_free(&c->leftover);
  pt_tls_free(c->tls);
  free(c->peer);
  free(c);
  pt__worker_maybe_done(w);
}

static void on_tcp_closed(uv_handle_t *h) {
  pt_conn_t *c = h->data;
  pt_deadline_close(&c->timer, on_timer_closed);
}

void pt__conn_close(pt_conn_t *c) {
  if (c->closing) return;
  c->closing = 1;
  pt__request_free(c);
  if (c->prev) c->prev->next = c->next;
  else c->w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  pt_deadline_clear(&c->timer);
  uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
}

static pt_conn_t *conn_new(pt_worker_t *w) {
  settings_once();
  pt_conn_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->w = w;
  uv_tcp_init(&w->loop, &c->tcp);
  pt_deadline_init(&w->loop, &c->timer, c);
  c->tcp.data = c;
  return c;
}

/* The listener's TLS context in the current generation: a reload may have renewed
 * its certificate, and this connection keeps the one it started with. */
static int conn_tls(pt_conn_t *c, const pt_generation_t *g, const struct sockaddr_storage *listener) {
  for (int i = 0; listener && i < g->config->nlisten; i++)
    if (g->tls->listeners[i] && pt_listen_same(&g->config->listen[i].addr, listener)) {
      if (!(c->tls = pt_tls_new(g->tls->listeners[i], NULL))) return -1;
      c->out.tls = c->tls;
      c->https = 1;
    }
  return 0;
}

/* The connection is open: parse, time out, and account for it. */
static int conn_start(pt_conn_t *c, const struct sockaddr_storage *listener) {
  pt_worker_t *w = c->w;
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  llhttp_init(&c->parser, HTTP_REQUEST, &request_settings);
  c->parser.data = c;
  pt_writeq_init(&c->out, (uv_stream_t *)&c->tcp, c, on_out_drain);
  pt_generation_t *g = pt__gateway_current(w->gw);
  c->idle_ms = g->config->timeouts.idle;
  c->header_ms = g->config->timeouts.header_read;
  int rc = conn_tls(c, g, listener);
  pt_generation_unref(g);
  if (rc < 0) {
    pt__conn_close(c);
    return -1;
  }
  pt__conn_timer(c, TIMER_HEADER, c->header_ms);
  pt__conn_update_reading(c);
  return 0;
}

void pt_server_on_connection(uv_stream_t *listener, int status) {
  pt_worker_t *w = listener->data;
  if (status < 0 || w->draining) return;
  pt_conn_t *c = conn_new(w);
  if (!c) return;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage peer;
  int plen = sizeof peer;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0) {
    if (peer.ss_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)&peer, c->client_ip, sizeof c->client_ip);
    else uv_ip4_name((struct sockaddr_in *)&peer, c->client_ip, sizeof c->client_ip);
  }
  conn_start(c, &((pt_listener_t *)listener)->addr);
}

int pt_server_adopt(pt_worker_t *w, int fd, int https) {
  pt_conn_t *c = w->draining ? NULL : conn_new(w);
  if (!c) {
    close(fd);
    return UV_ECANCELED;
  }
  int rc = uv_tcp_open(&c->tcp, fd);
  if (rc < 0) {
    close(fd);
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    return rc;
  }
  snprintf(c->client_ip, sizeof c->client_ip, "127.0.0.1"); /* the gateway itself is the client */
  c->https = https != 0;
  return conn_start(c, NULL) < 0 ? UV_ENOMEM : 0;
}

void pt_server_drain(pt_worker_t *w) {
  for (pt_conn_t *c = w->conns, *n; c; c = n) {
    n = c->next;
    if (!c->req) pt__conn_close(c);
  }
}

void pt_server_close_all(pt_worker_t *w) {
  while (w->conns) pt__conn_close(w->conns);
}
