/* server.c - downstream connections and the requests they carry (see server.h).
 *
 * One request is active per connection. Pipelined requests wait, unparsed,
 * in `leftover` while the parser is paused at the end of the active one, so
 * responses go out in order and a slow backend bounds what we buffer. */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llhttp.h>

#include "deadline.h"
#include "dispatch.h"
#include "http.h"
#include "upstream.h"
#include "worker.h"

#define MAX_LEFTOVER (64 * 1024) /* pipelined bytes buffered before we stop reading */
#define LINGER_MS 2000           /* how long a closing connection drains unread input */

enum { BLOCK_UPSTREAM = 1, BLOCK_PIPELINE = 2 };
enum { TIMER_NONE, TIMER_HEADER, TIMER_IDLE, TIMER_SEND, TIMER_LINGER };

typedef struct pt_request_s {
  pt_generation_t *gen;
  pt_headers_t headers;
  pt_buf_t url;
  const pt_api_cfg_t *api;
  pt_backend_rt_t *backend; /* the Single backend called, for its circuit breaker */
  pt_exchange_t *x;
  uint64_t body_in, bytes_in, bytes_out;
  uint64_t started; /* uv_hrtime() */
  int64_t start_us;
  double backend_ms;
  int status;
  const char *reason;
  char *detail; /* why the gateway failed the request, for the access log */
  pt_framing_t framing; /* of the response to the client */
  unsigned chunked_in : 1, has_body : 1, message_done : 1, response_started : 1,
      response_done : 1, keep_alive : 1, waiting_client : 1;
} pt_request_t;

struct pt_conn_s {
  uv_tcp_t tcp;
  pt_deadline_t timer;
  uv_shutdown_t shutdown;
  pt_worker_t *w;
  pt_conn_t *prev, *next;
  llhttp_t parser;
  pt_writeq_t out;
  pt_buf_t leftover;
  pt_request_t *req;
  int reject_status; /* set by a parser callback that refused the request */
  const char *reject_message;
  const char *exec_start; /* the buffer llhttp is parsing, to look one byte back */
  char exec_prev;         /* the last byte of the previous buffer */
  int timer_kind;
  uint64_t idle_ms, header_ms; /* from the generation of the latest request */
  unsigned block;
  unsigned paused : 1, reading : 1, ending : 1, closing : 1, shut : 1;
  char client_ip[48];
};

static llhttp_settings_t request_settings;
static void conn_advance(pt_conn_t *c);
static void conn_end(pt_conn_t *c);
static void conn_close(pt_conn_t *c);
static const pt_exchange_handler_t exchange_handler;

/* ---- timers and reading ------------------------------------------------ */

static void on_timer(pt_deadline_t *d) {
  pt_conn_t *c = d->data;
  if (c->timer_kind == TIMER_HEADER && c->req && !c->req->response_started) {
    c->req->keep_alive = 0;
    c->req->reason = "ClientTimeout";
    /* no response: a slowloris gets nothing but a closed socket */
  }
  conn_close(c);
}

static void set_timer(pt_conn_t *c, int kind, uint64_t ms) {
  c->timer_kind = kind;
  if (kind == TIMER_NONE) pt_deadline_clear(&c->timer);
  else pt_deadline_set(&c->timer, ms, on_timer);
}

static const pt_config_t *conn_config(pt_conn_t *c) {
  return c->req ? c->req->gen->config : NULL;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void update_reading(pt_conn_t *c) {
  int want = !c->closing && (c->ending || c->block == 0);
  if (want && !c->reading) uv_read_start((uv_stream_t *)&c->tcp, pt__worker_alloc, on_read);
  else if (!want && c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = want;
}

/* ---- requests ----------------------------------------------------------- */

static pt_request_t *request_new(pt_conn_t *c) {
  pt_request_t *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->gen = pt__gateway_current(c->w->gw);
  r->started = uv_hrtime();
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) == 0) r->start_us = tv.tv_sec * 1000000 + tv.tv_usec;
  r->backend_ms = -1;
  r->keep_alive = 1;
  c->req = r;
  c->idle_ms = r->gen->config->timeouts.idle;
  c->header_ms = r->gen->config->timeouts.header_read;
  c->w->requests++;
  return r;
}

static void request_log(pt_conn_t *c, pt_request_t *r) {
  size_t plen = r->url.len;
  const char *q = r->url.base ? memchr(r->url.base, '?', r->url.len) : NULL;
  if (q) plen = (size_t)(q - r->url.base);
  pt_access_t a = {
      .request_id = c->w->requests,
      .worker = c->w->index,
      .method = llhttp_method_name(c->parser.method),
      .path = r->url.base,
      .path_len = plen,
      .client_ip = c->client_ip,
      .api = r->api ? r->api->id : NULL,
      .backend = r->backend ? r->backend->cfg->id : r->api ? r->api->service_url_text : NULL,
      .reason = r->reason,
      .message = r->detail,
      .status = r->status,
      .bytes_in = r->bytes_in,
      .bytes_out = r->bytes_out,
      .total_ms = (double)(uv_hrtime() - r->started) / 1e6,
      .backend_ms = r->backend_ms,
      .start_us = r->start_us,
  };
  pt_accesslog_write(&c->w->log, &a);
}

static void request_free(pt_conn_t *c) {
  pt_request_t *r = c->req;
  if (!r) return;
  if (r->x) {
    pt_exchange_abort(r->x);
    r->x = NULL;
    if (!r->reason) r->reason = "ClientConnectionFailure";
  }
  if (r->status || r->bytes_in) request_log(c, r);
  pt_headers_free(&r->headers);
  free(r->detail);
  pt_buf_free(&r->url);
  pt_generation_unref(r->gen);
  free(r);
  c->req = NULL;
}

/* A response the gateway makes itself, with APIM's JSON error body. */
static void respond_error(pt_conn_t *c, int status, const char *reason, const char *message) {
  pt_request_t *r = c->req;
  if (!r && !(r = request_new(c))) {
    conn_close(c);
    return;
  }
  if (r->response_started) { /* too late for a status: cut the response short */
    r->reason = reason;
    conn_close(c);
    return;
  }
  /* Unread body, or a head we refused as malformed: where the next request
   * would start is not to be trusted. */
  if ((!r->message_done && r->has_body) || status == 400 || status == 405 || status == 501) r->keep_alive = 0;
  char body[512];
  int n = snprintf(body, sizeof body, "{\"statusCode\": %d, \"message\": \"%s\"}", status, message);
  if (n < 0 || n >= (int)sizeof body) n = (int)strlen(body);
  pt_buf_t *o = &c->out.pending;
  size_t before = o->len;
  pt_buf_printf(o, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n",
                status, pt_http_status_text(status), n,
                r->keep_alive ? "" : "Connection: close\r\n");
  if (c->parser.method != HTTP_HEAD) pt_buf_append(o, body, (size_t)n);
  r->bytes_out += o->len - before;
  r->status = status;
  r->reason = reason;
  r->response_started = r->response_done = 1;
}

static int is_idempotent(int m) {
  return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_TRACE || m == HTTP_PUT ||
         m == HTTP_DELETE;
}

/* Routes and authorizes the head, then starts the exchange with the backend. */
static void request_dispatch(pt_conn_t *c) {
  pt_request_t *r = c->req;
  const pt_config_t *cfg = r->gen->config;
  llhttp_t *p = &c->parser;
  r->keep_alive = llhttp_should_keep_alive(p);
  r->chunked_in = (p->flags & F_CHUNKED) != 0;
  r->has_body = r->chunked_in || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  pt_dispatch_in_t in = {
      .method = llhttp_method_name(p->method),
      .http_minor = p->http_minor,
      .url = r->url.base ? r->url.base : "", .url_len = r->url.len,
      .headers = &r->headers,
      .client_ip = c->client_ip,
      .chunked = r->chunked_in,
      .has_length = (p->flags & F_CONTENT_LENGTH) != 0, .content_length = p->content_length,
  };
  pt_dispatch_t d;
  if (pt_dispatch(r->gen, &in, &d) < 0) {
    pt_buf_free(&d.head);
    return respond_error(c, 500, "InternalError", "Out of memory");
  }
  r->api = d.route.api;
  r->backend = d.backend;
  if (d.status) return respond_error(c, d.status, d.reason, d.message);
  pt_exchange_params_t xp = {
      .origin = d.origin,
      .origin_key = d.origin->origin,
      .head = &d.head,
      .has_body = r->has_body,
      .head_request = p->method == HTTP_HEAD,
      .idempotent = is_idempotent(p->method),
      .connect_timeout_ms = cfg->timeouts.backend_connect,
      .response_timeout_ms = cfg->timeouts.backend,
  };
  if (pt_exchange_start(c->w, &xp, &exchange_handler, c, &r->x) < 0) {
    pt_buf_free(&d.head);
    return respond_error(c, 500, "InternalError", "Out of memory");
  }
  int e = pt_headers_find(&r->headers, "expect", 0);
  if (r->x && r->has_body && e >= 0 && p->http_minor == 1 &&
      pt_http_list_has(pt_header_value(&r->headers, e), r->headers.items[e].value_len, "100-continue"))
    pt_buf_appends(&c->out.pending, "HTTP/1.1 100 Continue\r\n\r\n");
}

/* ---- request parser callbacks ------------------------------------------- */

static int reject(pt_conn_t *c, int status, const char *message) {
  c->reject_status = status;
  c->reject_message = message;
  return -1;
}

static int on_message_begin(llhttp_t *p) {
  pt_conn_t *c = p->data;
  if (!request_new(c)) return reject(c, 500, "Out of memory");
  set_timer(c, TIMER_HEADER, c->header_ms);
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
  set_timer(c, TIMER_IDLE, c->idle_ms); /* body inactivity */
  request_dispatch(c);
  return c->closing ? -1 : 0;
}

static void send_body(pt_conn_t *c, const char *at, size_t len) {
  pt_request_t *r = c->req;
  if (!r->x) return; /* no exchange (error answered, or response already done): discard */
  if (r->chunked_in) {
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len); /* once per body piece, not per request */
    pt_exchange_write(r->x, size, (size_t)n);
  }
  pt_exchange_write(r->x, at, len);
  if (r->chunked_in) pt_exchange_write(r->x, "\r\n", 2);
  if (pt_exchange_full(r->x)) c->block |= BLOCK_UPSTREAM;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  pt_conn_t *c = p->data;
  pt_request_t *r = c->req;
  r->body_in += len;
  if (r->body_in > conn_config(c)->limits.max_body_bytes) return reject(c, 413, "Request body too large");
  send_body(c, at, len);
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  pt_conn_t *c = p->data;
  pt_request_t *r = c->req;
  r->message_done = 1;
  if (r->x) {
    if (r->chunked_in) pt_exchange_write(r->x, "0\r\n\r\n", 5);
    pt_exchange_end_body(r->x);
  }
  if (!r->response_done) set_timer(c, TIMER_NONE, 0); /* the backend timeouts apply now */
  return HPE_PAUSED; /* the next pipelined request waits for this response */
}

static void settings_once(void) {
  if (request_settings.on_message_complete) return;
  llhttp_settings_init(&request_settings);
  request_settings.on_message_begin = on_message_begin;
  request_settings.on_url = on_url;
  request_settings.on_header_field = on_header_field;
  request_settings.on_header_value = on_header_value;
  request_settings.on_headers_complete = on_headers_complete;
  request_settings.on_body = on_body;
  request_settings.on_message_complete = on_message_complete;
}

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
    conn_close(c);
    return;
  }
  if (r) r->keep_alive = 0;
  respond_error(c, status, status == 400 ? "InvalidRequest" : "RequestRejected", text);
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

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pt_conn_t *c = s->data;
  if (nread == 0) return;
  if (nread < 0) {
    pt_request_t *r = c->req;
    /* A client may half-close after a complete request and still read the answer. */
    if (nread == UV_EOF && !c->ending && r && r->message_done && !r->response_done) {
      r->keep_alive = 0;
      uv_read_stop(s);
      c->reading = 0;
      c->block |= BLOCK_PIPELINE;
      return;
    }
    conn_close(c);
    return;
  }
  if (c->ending) return; /* lingering close: input is drained and dropped */
  if (c->paused) {
    pt_buf_append(&c->leftover, buf->base, (size_t)nread);
    if (c->leftover.len > MAX_LEFTOVER) c->block |= BLOCK_PIPELINE;
  } else {
    conn_parse(c, buf->base, (size_t)nread);
    if (c->timer_kind == TIMER_IDLE && c->req && !c->req->message_done) set_timer(c, TIMER_IDLE, c->idle_ms);
  }
  conn_advance(c);
}

/* ---- responses from the backend ------------------------------------------ */

static pt_conn_t *exchange_conn(pt_exchange_t *x) { return pt_exchange_data(x); }

static void x_on_head(pt_exchange_t *x, int status, const pt_headers_t *h, pt_framing_t framing) {
  pt_conn_t *c = exchange_conn(x);
  pt_request_t *r = c->req;
  int minor = c->parser.http_minor;
  if (framing == PT_FRAME_CHUNKED || framing == PT_FRAME_CLOSE)
    framing = minor ? PT_FRAME_CHUNKED : PT_FRAME_CLOSE;
  if (framing == PT_FRAME_CLOSE || c->w->draining) r->keep_alive = 0;
  r->framing = framing;
  r->status = status;
  r->response_started = 1;
  if (r->backend) {
    int ra = pt_headers_find(h, "retry-after", 0);
    pt_circuit_report(r->backend, uv_hrtime() / 1000000, status, NULL,
                      ra >= 0 ? pt_retry_after_ms(pt_header_value(h, ra), h->items[ra].value_len) : 0);
  }
  size_t before = c->out.pending.len;
  pt_http_forward_response_head(&c->out.pending, minor, status, h, r->gen->via, framing, r->keep_alive);
  r->bytes_out += c->out.pending.len - before;
}

static void x_on_body(pt_exchange_t *x, const char *at, size_t len) {
  pt_conn_t *c = exchange_conn(x);
  pt_request_t *r = c->req;
  pt_buf_t *o = &c->out.pending;
  if (r->framing == PT_FRAME_CHUNKED) pt_buf_hex(o, len), pt_buf_append(o, "\r\n", 2);
  pt_buf_append(o, at, len);
  if (r->framing == PT_FRAME_CHUNKED) pt_buf_append(o, "\r\n", 2);
  r->bytes_out += len;
}

static void x_on_flush(pt_exchange_t *x) {
  pt_conn_t *c = exchange_conn(x);
  if (pt_writeq_flush(&c->out) < 0) {
    conn_close(c);
    return;
  }
  if (c->req && c->req->x && pt_writeq_full(&c->out)) { /* the client reads slower than the backend sends */
    pt_exchange_pause(x);
    c->req->waiting_client = 1;
    set_timer(c, TIMER_SEND, c->idle_ms);
  }
}

static void x_on_end(pt_exchange_t *x) {
  pt_conn_t *c = exchange_conn(x);
  pt_request_t *r = c->req;
  if (r->framing == PT_FRAME_CHUNKED) pt_buf_append(&c->out.pending, "0\r\n\r\n", 5);
  r->backend_ms = pt_exchange_backend_ms(x);
  r->x = NULL;
  r->response_done = 1;
  if (!r->message_done) r->keep_alive = 0; /* answered before the body ended: stop here */
  if (r->framing == PT_FRAME_CLOSE) r->keep_alive = 0;
  conn_advance(c);
}

/* Clients learn what failed, not where: backend addresses stay in the log. */
static const char *client_message(const char *reason, int status) {
  if (reason == pt_reason_timeout) return "Backend did not respond in time";
  if (reason == pt_reason_invalid_response) return "Backend sent an invalid response";
  return status == 502 ? "Backend connection lost" : "Backend connection failure";
}

static void x_on_error(pt_exchange_t *x, int status, const char *reason, const char *detail) {
  pt_conn_t *c = exchange_conn(x);
  pt_request_t *r = c->req;
  r->backend_ms = pt_exchange_backend_ms(x);
  r->x = NULL;
  if (r->backend && !r->response_started) pt_circuit_report(r->backend, uv_hrtime() / 1000000, 0, reason, 0);
  free(r->detail);
  r->detail = strdup(detail);
  c->block &= ~BLOCK_UPSTREAM;
  respond_error(c, status, reason, client_message(reason, status));
  conn_advance(c);
}

static void x_on_writable(pt_exchange_t *x) {
  pt_conn_t *c = exchange_conn(x);
  if (!(c->block & BLOCK_UPSTREAM)) return;
  c->block &= ~BLOCK_UPSTREAM;
  update_reading(c);
}

static const pt_exchange_handler_t exchange_handler = {
    x_on_head, x_on_body, x_on_end, x_on_error, x_on_flush, x_on_writable,
};

/* ---- connection lifecycle ------------------------------------------------ */

static void on_out_drain(pt_writeq_t *q, int status) {
  pt_conn_t *c = q->data;
  if (status < 0) {
    conn_close(c);
    return;
  }
  pt_request_t *r = c->req;
  if (r && r->waiting_client) {
    r->waiting_client = 0;
    set_timer(c, TIMER_NONE, 0);
    if (r->x) pt_exchange_resume(r->x);
  }
  if (c->ending && pt_writeq_size(q) == 0) conn_end(c);
}

/* Runs every request that can finish, then the pipelined ones behind it. */
static void conn_advance(pt_conn_t *c) {
  /* A response that ends the connection need not wait for the rest of the body. */
  while (!c->closing && !c->ending && c->req && c->req->response_done &&
         (c->req->message_done || !c->req->keep_alive)) {
    int keep = c->req->keep_alive && !c->w->draining;
    request_free(c);
    if (!keep) {
      conn_end(c);
      return;
    }
    llhttp_resume(&c->parser);
    c->paused = 0;
    c->block &= ~BLOCK_PIPELINE;
    set_timer(c, TIMER_IDLE, c->idle_ms);
    if (c->leftover.len) {
      pt_buf_t in = c->leftover;
      c->leftover = (pt_buf_t){0};
      conn_parse(c, in.base, in.len);
      pt_buf_free(&in);
    }
  }
  if (c->closing) return;
  if (pt_writeq_flush(&c->out) < 0) {
    conn_close(c);
    return;
  }
  if (c->req && c->req->x && pt_exchange_flush(c->req->x) < 0) return;
  update_reading(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  pt_conn_t *c = req->data;
  if (status < 0) conn_close(c);
}

/* Graceful end: flush, half-close, drain unread input briefly, then close, so
 * the client reads our last response instead of a reset. */
static void conn_end(pt_conn_t *c) {
  if (c->closing) return;
  c->ending = 1;
  if (pt_writeq_flush(&c->out) < 0) {
    conn_close(c);
    return;
  }
  if (pt_writeq_size(&c->out) > 0 || c->shut) return; /* on_out_drain comes back here */
  c->shut = 1;
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
    conn_close(c);
    return;
  }
  set_timer(c, TIMER_LINGER, LINGER_MS);
  c->block = 0;
  update_reading(c);
}

static void on_timer_closed(uv_handle_t *h) {
  pt_conn_t *c = ((pt_deadline_t *)h->data)->data;
  pt_worker_t *w = c->w;
  pt_writeq_free(&c->out);
  pt_buf_free(&c->leftover);
  free(c);
  pt__worker_maybe_done(w);
}

static void on_tcp_closed(uv_handle_t *h) {
  pt_conn_t *c = h->data;
  pt_deadline_close(&c->timer, on_timer_closed);
}

static void conn_close(pt_conn_t *c) {
  if (c->closing) return;
  c->closing = 1;
  request_free(c);
  if (c->prev) c->prev->next = c->next;
  else c->w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  pt_deadline_clear(&c->timer);
  uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
}

void pt_server_on_connection(uv_stream_t *listener, int status) {
  pt_worker_t *w = listener->data;
  if (status < 0 || w->draining) return;
  settings_once();
  pt_conn_t *c = calloc(1, sizeof *c);
  if (!c) return;
  c->w = w;
  uv_tcp_init(&w->loop, &c->tcp);
  pt_deadline_init(&w->loop, &c->timer, c);
  c->tcp.data = c;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    return;
  }
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage peer;
  int plen = sizeof peer;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0) {
    if (peer.ss_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)&peer, c->client_ip, sizeof c->client_ip);
    else uv_ip4_name((struct sockaddr_in *)&peer, c->client_ip, sizeof c->client_ip);
  }
  llhttp_init(&c->parser, HTTP_REQUEST, &request_settings);
  c->parser.data = c;
  pt_writeq_init(&c->out, (uv_stream_t *)&c->tcp, c, on_out_drain);
  pt_generation_t *g = pt__gateway_current(w->gw);
  c->idle_ms = g->config->timeouts.idle;
  c->header_ms = g->config->timeouts.header_read;
  pt_generation_unref(g);
  set_timer(c, TIMER_HEADER, c->header_ms);
  update_reading(c);
}

void pt_server_drain(pt_worker_t *w) {
  for (pt_conn_t *c = w->conns, *n; c; c = n) {
    n = c->next;
    if (!c->req) conn_close(c);
  }
}

void pt_server_close_all(pt_worker_t *w) {
  while (w->conns) conn_close(w->conns);
}
