/*
 * pt-test-backend: the loopback HTTP/1.1 backend that Portico's integration
 * tests and `make run` talk to.
 *
 * This file owns: the command line, the listener, one state machine per
 * connection (llhttp request parsing, raw echo capture, the X-Test-* switches,
 * paced response writing), the /__backend/stats counters and clean shutdown
 * on SIGTERM/SIGINT. It shares no code with src/ on purpose: a test double
 * must not inherit the gateway's bugs. tests/support/README.md lists the
 * switches.
 *
 * Model: a connection answers one request at a time. The parser pauses after
 * each request head (so the head's raw bytes are known exactly) and after each
 * complete message. While a response is produced, reading stops and any
 * pipelined bytes wait, unparsed, in the connection's input buffer. That gives
 * in-order answers and bounded memory: a 64 KiB input buffer plus at most
 * 1 MiB of echo per connection. Bodies are written one 64 KiB piece per
 * completed write; generated bodies come from one shared pattern block.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>
#include <uv.h>

#define READ_BUF_SIZE (64 * 1024)
#define PIECE_SIZE (64 * 1024) /* a multiple of the 16-byte pattern */
#define ECHO_CAP (1024 * 1024)
#define FIELD_MAX 64
#define VALUE_MAX 256
#define URL_MAX 64
#define HEAD_MAX 2048
#define NAME_MAX_LEN 200
#define MID_DECLARED 100000
#define MID_SENT 1000
#define STATS_PATH "/__backend/stats"

enum close_mode { CLOSE_NONE, CLOSE_BEFORE, CLOSE_RESET, CLOSE_MID, CLOSE_AFTER };
enum malformed_mode { MALFORMED_NONE, MALFORMED_STATUS, MALFORMED_DOUBLE_CL };
enum parse_event { EV_NONE, EV_HEAD, EV_MESSAGE };

/* What the X-Test-* request headers asked for. */
typedef struct switches {
  int status; /* 0: 200 */
  uint64_t delay_ms;
  int generate;
  uint64_t generate_bytes;
  int chunked, no_length, hop, drain, send_continue, expect_continue;
  enum close_mode close_mode;
  enum malformed_mode malformed;
} switches_t;

/* The request being read (or answered) on a connection. */
typedef struct request {
  char *echo; /* raw wire bytes, capped at ECHO_CAP */
  size_t echo_len, echo_cap;
  int recording;
  uint64_t body_bytes;
  char field[FIELD_MAX + 1], value[VALUE_MAX + 1], url[URL_MAX + 1];
  size_t field_len, value_len, url_len; /* == *_MAX: too long, ignored */
  int in_field;
  switches_t sw;
  int keep_alive, http10, is_head, is_stats;
  const char *fixed_body; /* stats JSON or parse error text instead of echo */
  const char *content_type;
} request_t;

/* The response being written. */
typedef struct response {
  char head[HEAD_MAX];
  size_t head_len;
  int head_sent;
  const char *body; /* NULL: the generated pattern */
  uint64_t body_left, body_off;
  int chunked_wire, last_chunk_sent;
  char chunk_line[24];
} response_t;

typedef struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer; /* X-Test-Delay */
  uv_write_t write_req, continue_req;
  uv_shutdown_t shutdown_req;
  llhttp_t parser;
  struct conn *prev, *next;
  uint64_t id, req_index;
  int handles_open, closing, shutting, reading, busy, in_message, resume_pending;
  enum parse_event event;
  char in[READ_BUF_SIZE];
  size_t in_off, in_len;
  request_t req;
  response_t res;
  char small[160]; /* stats JSON or parse error text */
} conn_t;

static struct {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_signal_t sigterm, sigint;
  const char *name;
  conn_t *conns;
  uint64_t accepted, open, requests;
  llhttp_settings_t settings;
  char pattern[PIECE_SIZE];
} srv;

static char crlf[] = "\r\n";
static char last_chunk[] = "0\r\n\r\n";
static char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";
static char malformed_head[] = "HTTP/1.1 2xx OK\r\nfoo\r\n\r\n";

static void conn_feed(conn_t *c);
static void conn_close(conn_t *c, int reset);
static void write_next(conn_t *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_shutdown(uv_shutdown_t *req, int status);

/* ---- small helpers ---------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (*s == '\0') return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    if (v > (UINT64_MAX - 9) / 10) return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

static int is_true(const char *v) {
  return !strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes");
}

/* Appends to a bounded buffer; on overflow the length becomes max (poisoned). */
static void append_bounded(char *buf, size_t *len, size_t max, const char *at, size_t n) {
  if (*len >= max) return;
  if (n >= max - *len) {
    *len = max;
    return;
  }
  memcpy(buf + *len, at, n);
  *len += n;
}

static const char *reason_phrase(int status) {
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 413: return "Content Too Large";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "Status";
  }
}

static void conn_read(conn_t *c, int on) {
  if (c->closing || c->shutting || on == c->reading) return;
  c->reading = on;
  if (!on) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    return;
  }
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c, 0);
}

/* ---- request capture -------------------------------------------------- */

static void request_reset(request_t *r) {
  free(r->echo);
  memset(r, 0, sizeof *r);
  r->recording = 1;
}

/* Keeps the raw wire bytes of the current request, up to ECHO_CAP. */
static void record_raw(request_t *r, const char *data, size_t n) {
  if (!r->recording || n == 0) return;
  if (n > ECHO_CAP - r->echo_len) {
    n = ECHO_CAP - r->echo_len;
    r->recording = 0;
  }
  if (r->echo_len + n > r->echo_cap) {
    size_t cap = r->echo_cap ? r->echo_cap : 4096;
    while (cap < r->echo_len + n) cap *= 2;
    if (cap > ECHO_CAP) cap = ECHO_CAP;
    char *grown = realloc(r->echo, cap);
    if (!grown) {
      r->recording = 0;
      return;
    }
    r->echo = grown;
    r->echo_cap = cap;
  }
  memcpy(r->echo + r->echo_len, data, n);
  r->echo_len += n;
}

static int field_is(const request_t *r, const char *name) {
  return r->field_len == strlen(name) && !strncasecmp(r->field, name, r->field_len);
}

/* Applies one complete request header to the switches. */
static void apply_header(request_t *r) {
  switches_t *sw = &r->sw;
  uint64_t n;
  if (r->field_len >= FIELD_MAX || r->value_len >= VALUE_MAX) return;
  r->value[r->value_len] = '\0';
  char *v = r->value;
  while (*v == ' ' || *v == '\t') v++;
  for (size_t end = strlen(v); end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t'); end--)
    v[end - 1] = '\0';

  if (field_is(r, "x-test-status")) {
    if (parse_u64(v, &n) == 0 && n >= 100 && n <= 999) sw->status = (int)n;
  } else if (field_is(r, "x-test-delay")) {
    if (parse_u64(v, &n) == 0) sw->delay_ms = n;
  } else if (field_is(r, "x-test-body-bytes")) {
    if (parse_u64(v, &n) == 0) {
      sw->generate = 1;
      sw->generate_bytes = n;
    }
  } else if (field_is(r, "x-test-chunked")) {
    sw->chunked = is_true(v);
  } else if (field_is(r, "x-test-no-length")) {
    sw->no_length = is_true(v);
  } else if (field_is(r, "x-test-hop")) {
    sw->hop = is_true(v);
  } else if (field_is(r, "x-test-drain")) {
    sw->drain = is_true(v);
  } else if (field_is(r, "x-test-send-continue")) {
    sw->send_continue = is_true(v);
  } else if (field_is(r, "expect")) {
    sw->expect_continue = !strcasecmp(v, "100-continue");
  } else if (field_is(r, "x-test-close")) {
    if (!strcasecmp(v, "before")) sw->close_mode = CLOSE_BEFORE;
    else if (!strcasecmp(v, "reset")) sw->close_mode = CLOSE_RESET;
    else if (!strcasecmp(v, "mid")) sw->close_mode = CLOSE_MID;
    else if (!strcasecmp(v, "after")) sw->close_mode = CLOSE_AFTER;
  } else if (field_is(r, "x-test-malformed")) {
    if (!strcasecmp(v, "cl")) sw->malformed = MALFORMED_DOUBLE_CL;
    else if (is_true(v)) sw->malformed = MALFORMED_STATUS;
  }
}

/* ---- llhttp callbacks ------------------------------------------------- */

static int on_message_begin(llhttp_t *p) {
  conn_t *c = p->data;
  c->in_message = 1;
  c->req_index++;
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
  request_t *r = &((conn_t *)p->data)->req;
  append_bounded(r->url, &r->url_len, URL_MAX, at, n);
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  request_t *r = &((conn_t *)p->data)->req;
  if (!r->in_field) {
    r->field_len = r->value_len = 0;
    r->in_field = 1;
  }
  append_bounded(r->field, &r->field_len, FIELD_MAX, at, n);
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  request_t *r = &((conn_t *)p->data)->req;
  r->in_field = 0;
  append_bounded(r->value, &r->value_len, VALUE_MAX, at, n);
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  request_t *r = &((conn_t *)p->data)->req;
  apply_header(r);
  r->field_len = r->value_len = 0;
  r->in_field = 0;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  ((conn_t *)p->data)->event = EV_HEAD;
  return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  ((conn_t *)p->data)->req.body_bytes += n;
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  ((conn_t *)p->data)->event = EV_MESSAGE;
  return HPE_PAUSED;
}

/* ---- response building ------------------------------------------------ */

static void head_add(response_t *res, const char *fmt, ...) {
  va_list ap;
  size_t room = sizeof res->head - res->head_len;
  va_start(ap, fmt);
  int n = vsnprintf(res->head + res->head_len, room, fmt, ap);
  va_end(ap);
  if (n > 0) res->head_len += (size_t)n < room ? (size_t)n : room - 1;
}

static int status_has_body(int status) {
  return status >= 200 && status != 204 && status != 304;
}

static int wants_close(const request_t *r) {
  return !r->keep_alive || r->sw.no_length;
}

/* Content-Length / Transfer-Encoding, in order of precedence. */
static void head_add_framing(response_t *res, const request_t *r, uint64_t len) {
  const switches_t *sw = &r->sw;
  if (sw->close_mode == CLOSE_MID) {
    head_add(res, "Content-Length: %d\r\n", MID_DECLARED);
  } else if (sw->malformed == MALFORMED_DOUBLE_CL) {
    head_add(res, "Content-Length: %" PRIu64 "\r\nContent-Length: %" PRIu64 "\r\n", len, len + 1);
  } else if (sw->no_length) {
    /* close-delimited */
  } else if (sw->chunked) {
    head_add(res, "Transfer-Encoding: chunked\r\n");
  } else {
    head_add(res, "Content-Length: %" PRIu64 "\r\n", len);
  }
}

static void head_add_connection(response_t *res, const request_t *r) {
  const char *token = wants_close(r) ? "close" : "keep-alive";
  if (r->sw.hop) {
    head_add(res, "Connection: X-Hop-Secret, %s\r\nX-Hop-Secret: leak\r\n"
                  "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
                  "Trailer: X-T\r\nUpgrade: h2c\r\n", token);
  } else if (wants_close(r)) {
    head_add(res, "Connection: close\r\n");
  } else if (r->http10) {
    head_add(res, "Connection: keep-alive\r\n");
  }
}

static void build_head(conn_t *c, int status, uint64_t len) {
  request_t *r = &c->req;
  response_t *res = &c->res;
  head_add(res, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
  head_add(res, "X-Backend-Name: %s\r\nX-Conn-Id: %" PRIu64 "\r\nX-Req-Index: %" PRIu64
                "\r\nX-Body-Bytes: %" PRIu64 "\r\n",
           srv.name, c->id, c->req_index, r->body_bytes);
  if (status_has_body(status)) {
    head_add(res, "Content-Type: %s\r\n", r->content_type ? r->content_type : "text/plain");
    head_add_framing(res, r, len);
  }
  head_add_connection(res, r);
  head_add(res, "\r\n");
}

/* Decides the body source and what goes on the wire, then builds the head. */
static void prepare_response(conn_t *c) {
  request_t *r = &c->req;
  response_t *res = &c->res;
  int status = r->sw.status ? r->sw.status : 200;
  uint64_t len;
  if (r->fixed_body) {
    res->body = r->fixed_body;
    len = strlen(r->fixed_body);
  } else if (r->sw.generate) {
    res->body = NULL;
    len = r->sw.generate_bytes;
  } else {
    res->body = r->echo;
    len = r->echo_len;
  }
  build_head(c, status, len);
  int send_body = status_has_body(status) && !r->is_head;
  if (r->sw.close_mode == CLOSE_MID) {
    res->body = NULL;
    len = MID_SENT;
  }
  res->body_left = send_body ? len : 0;
  res->chunked_wire = send_body && r->sw.chunked && !r->sw.no_length &&
                      r->sw.close_mode != CLOSE_MID && r->sw.malformed != MALFORMED_DOUBLE_CL;
}

/* ---- response writing ------------------------------------------------- */

/* After the last byte: close, or go back to parsing pipelined bytes. */
static void finish_response(conn_t *c) {
  request_t *r = &c->req;
  if (r->sw.close_mode == CLOSE_AFTER || r->sw.close_mode == CLOSE_MID) {
    conn_close(c, 0);
    return;
  }
  if (wants_close(r)) {
    c->shutting = 1;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) conn_close(c, 0);
    return;
  }
  request_reset(r);
  memset(&c->res, 0, sizeof c->res);
  c->busy = 0;
  conn_feed(c);
}

static void on_written(uv_write_t *req, int status) {
  conn_t *c = req->data;
  if (c->closing) return;
  if (status < 0) {
    conn_close(c, 0);
    return;
  }
  write_next(c);
}

/* Writes the head and/or the next body piece; one write in flight at a time. */
static void write_next(conn_t *c) {
  response_t *res = &c->res;
  uv_buf_t bufs[4];
  unsigned n = 0;
  if (!res->head_sent) {
    bufs[n++] = uv_buf_init(res->head, (unsigned)res->head_len);
    res->head_sent = 1;
  }
  if (res->body_left > 0) {
    size_t piece = res->body_left < PIECE_SIZE ? (size_t)res->body_left : PIECE_SIZE;
    char *src = res->body ? (char *)res->body + res->body_off : srv.pattern;
    if (res->chunked_wire) {
      int len = snprintf(res->chunk_line, sizeof res->chunk_line, "%zx\r\n", piece);
      bufs[n++] = uv_buf_init(res->chunk_line, (unsigned)len);
    }
    bufs[n++] = uv_buf_init(src, (unsigned)piece);
    if (res->chunked_wire) bufs[n++] = uv_buf_init(crlf, 2);
    res->body_left -= piece;
    res->body_off += piece;
  } else if (res->chunked_wire && !res->last_chunk_sent) {
    bufs[n++] = uv_buf_init(last_chunk, sizeof last_chunk - 1);
    res->last_chunk_sent = 1;
  }
  if (n == 0) {
    finish_response(c);
    return;
  }
  c->write_req.data = c;
  if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, n, on_written) != 0) conn_close(c, 0);
}

static void write_stats(conn_t *c) {
  snprintf(c->small, sizeof c->small,
           "{\"connections\": %" PRIu64 ", \"open\": %" PRIu64 ", \"requests\": %" PRIu64 "}\n",
           srv.accepted, srv.open, srv.requests);
  c->req.fixed_body = c->small;
  c->req.content_type = "application/json";
}

/* Acts on a complete request, after any X-Test-Delay. */
static void respond(conn_t *c) {
  request_t *r = &c->req;
  if (r->sw.close_mode == CLOSE_BEFORE || r->sw.close_mode == CLOSE_RESET) {
    conn_close(c, r->sw.close_mode == CLOSE_RESET);
    return;
  }
  if (r->sw.malformed == MALFORMED_STATUS) {
    memcpy(c->res.head, malformed_head, sizeof malformed_head - 1);
    c->res.head_len = sizeof malformed_head - 1;
  } else {
    if (r->is_stats) write_stats(c);
    prepare_response(c);
  }
  write_next(c);
}

static void on_delay(uv_timer_t *t) {
  respond(t->data);
}

static void start_response(conn_t *c) {
  c->busy = 1;
  conn_read(c, 0);
  if (c->req.sw.delay_ms > 0)
    uv_timer_start(&c->timer, on_delay, c->req.sw.delay_ms, 0);
  else
    respond(c);
}

/* ---- parsing driver --------------------------------------------------- */

static void on_continue_written(uv_write_t *req, int status) {
  conn_t *c = req->data;
  if (status < 0 && !c->closing) conn_close(c, 0);
}

/* The request head is complete: derive what the rest of the exchange needs. */
static void on_head(conn_t *c) {
  request_t *r = &c->req;
  r->keep_alive = llhttp_should_keep_alive(&c->parser);
  r->http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
  uint8_t method = llhttp_get_method(&c->parser);
  r->is_head = method == HTTP_HEAD;
  r->is_stats = (method == HTTP_GET || method == HTTP_HEAD) &&
                r->url_len == strlen(STATS_PATH) && !memcmp(r->url, STATS_PATH, r->url_len);
  if (r->sw.drain) r->recording = 0;
  if (r->sw.expect_continue && r->sw.send_continue) {
    uv_buf_t buf = uv_buf_init(continue_line, sizeof continue_line - 1);
    c->continue_req.data = c;
    if (uv_write(&c->continue_req, (uv_stream_t *)&c->tcp, &buf, 1, on_continue_written) != 0)
      conn_close(c, 0);
  }
}

static void on_parse_error(conn_t *c, llhttp_errno_t err) {
  request_t *r = &c->req;
  if (!c->in_message) c->req_index++;
  snprintf(c->small, sizeof c->small, "bad request: %s: %s\n", llhttp_errno_name(err),
           llhttp_get_error_reason(&c->parser));
  memset(&r->sw, 0, sizeof r->sw);
  r->sw.status = 400;
  r->keep_alive = 0;
  r->is_head = r->is_stats = 0;
  r->fixed_body = c->small;
  c->busy = 1;
  conn_read(c, 0);
  respond(c);
}

static void handle_event(conn_t *c) {
  enum parse_event ev = c->event;
  c->event = EV_NONE;
  if (ev == EV_HEAD) {
    on_head(c);
  } else if (ev == EV_MESSAGE) {
    c->in_message = 0;
    srv.requests++;
    start_response(c);
  }
}

/* How much of data the last llhttp_execute() consumed. */
static size_t bytes_used(conn_t *c, llhttp_errno_t err, const char *data, size_t len) {
  const char *pos = llhttp_get_error_pos(&c->parser);
  if (err == HPE_OK || !pos || pos < data || pos > data + len) return len;
  return (size_t)(pos - data);
}

/* Parses buffered input until it runs out or a request needs answering. */
static void conn_feed(conn_t *c) {
  while (!c->busy && !c->closing && !c->shutting) {
    if (!c->in_message)
      while (c->in_off < c->in_len && (c->in[c->in_off] == '\r' || c->in[c->in_off] == '\n'))
        c->in_off++;
    const char *data = c->in + c->in_off;
    size_t len = c->in_len - c->in_off;
    if (len == 0 && !c->resume_pending) break;
    c->resume_pending = 0;
    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    size_t used = bytes_used(c, err, data, len);
    record_raw(&c->req, data, used);
    c->in_off += used;
    if (err == HPE_PAUSED) {
      llhttp_resume(&c->parser);
      c->resume_pending = 1;
      handle_event(c);
    } else if (err == HPE_PAUSED_UPGRADE) {
      llhttp_resume_after_upgrade(&c->parser); /* answer it as plain HTTP/1.1 */
      c->resume_pending = 1;
    } else if (err != HPE_OK) {
      on_parse_error(c, err);
      return;
    }
  }
  if (c->in_off == c->in_len) c->in_off = c->in_len = 0;
  if (!c->busy && c->in_len == 0) conn_read(c, 1);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn_t *c = h->data;
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof c->in - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  if (nread < 0) {
    conn_close(c, 0); /* EOF or error; an unfinished request is dropped */
    return;
  }
  c->in_len += (size_t)nread;
  conn_feed(c);
}

/* ---- connection lifecycle --------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  if (--c->handles_open > 0) return;
  free(c->req.echo);
  free(c);
}

static void conn_close(conn_t *c, int reset) {
  if (c->closing) return;
  c->closing = 1;
  srv.open--;
  if (c->prev) c->prev->next = c->next;
  else srv.conns = c->next;
  if (c->next) c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  if (reset && uv_tcp_close_reset(&c->tcp, on_handle_closed) == 0) return;
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  conn_close(req->data, 0);
}

static void on_connection(uv_stream_t *listener, int status) {
  if (status < 0) return;
  conn_t *c = calloc(1, sizeof *c);
  if (!c) return;
  uv_tcp_init(&srv.loop, &c->tcp);
  uv_timer_init(&srv.loop, &c->timer);
  c->tcp.data = c->timer.data = c->shutdown_req.data = c;
  c->handles_open = 2;
  c->id = ++srv.accepted;
  srv.open++;
  c->next = srv.conns;
  if (c->next) c->next->prev = c;
  srv.conns = c;
  llhttp_init(&c->parser, HTTP_REQUEST, &srv.settings);
  c->parser.data = c;
  request_reset(&c->req);
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c, 0);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  conn_read(c, 1);
}

/* ---- process ---------------------------------------------------------- */

static void on_signal(uv_signal_t *sig, int signum) {
  uv_close((uv_handle_t *)&srv.listener, NULL);
  uv_close((uv_handle_t *)&srv.sigterm, NULL);
  uv_close((uv_handle_t *)&srv.sigint, NULL);
  while (srv.conns) conn_close(srv.conns, 0);
}

static void usage(void) {
  fprintf(stderr, "usage: pt-test-backend --port N [--host 127.0.0.1] [--name NAME]\n");
  exit(2);
}

static void parse_args(int argc, char **argv, const char **host, int *port) {
  uint64_t n;
  *port = -1;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(argv[i - 1], "--port") && parse_u64(v, &n) == 0 && n <= 65535)
      *port = (int)n;
    else if (!strcmp(argv[i - 1], "--host"))
      *host = v;
    else if (!strcmp(argv[i - 1], "--name") && strlen(v) <= NAME_MAX_LEN && !strpbrk(v, "\r\n"))
      srv.name = v;
    else
      usage();
  }
  if (*port < 0) usage();
}

static int start_listener(const char *host, int port) {
  struct sockaddr_storage addr;
  struct sockaddr_storage bound;
  int len = sizeof bound;
  int err = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr)
                              : uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
  if (!err) err = uv_tcp_init(&srv.loop, &srv.listener);
  if (!err) err = uv_tcp_bind(&srv.listener, (struct sockaddr *)&addr, 0);
  if (!err) err = uv_listen((uv_stream_t *)&srv.listener, SOMAXCONN, on_connection);
  if (!err) err = uv_tcp_getsockname(&srv.listener, (struct sockaddr *)&bound, &len);
  if (err) {
    fprintf(stderr, "pt-test-backend: cannot listen on %s:%d: %s\n", host, port, uv_strerror(err));
    return -1;
  }
  int actual = bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                           : ((struct sockaddr_in *)&bound)->sin_port;
  printf("listening %d\n", ntohs((uint16_t)actual));
  fflush(stdout);
  return 0;
}

static void init_settings(llhttp_settings_t *s) {
  llhttp_settings_init(s);
  s->on_message_begin = on_message_begin;
  s->on_url = on_url;
  s->on_header_field = on_header_field;
  s->on_header_value = on_header_value;
  s->on_header_value_complete = on_header_value_complete;
  s->on_headers_complete = on_headers_complete;
  s->on_body = on_body;
  s->on_message_complete = on_message_complete;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port;
  srv.name = "backend";
  parse_args(argc, argv, &host, &port);
  signal(SIGPIPE, SIG_IGN);
  for (size_t i = 0; i < sizeof srv.pattern; i++) srv.pattern[i] = "0123456789abcdef"[i % 16];
  init_settings(&srv.settings);
  uv_loop_init(&srv.loop);
  if (start_listener(host, port) != 0) return 1;
  uv_signal_init(&srv.loop, &srv.sigterm);
  uv_signal_init(&srv.loop, &srv.sigint);
  uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
  uv_signal_start(&srv.sigint, on_signal, SIGINT);
  uv_run(&srv.loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&srv.loop);
  uv_library_shutdown();
  return rc == 0 ? 0 : 1;
}
