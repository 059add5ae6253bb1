/* http.c - header lists, hop-by-hop removal, forwarding headers, status texts. */
#include "http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

static int headers_push(pt_headers_t *h) {
  if (h->count == h->cap) {
    int cap = h->cap ? h->cap * 2 : 16;
    pt_header_t *items = realloc(h->items, sizeof *items * cap);
    if (!items) return UV_ENOMEM;
    h->items = items;
    h->cap = cap;
  }
  h->items[h->count++] = (pt_header_t){(uint32_t)h->store.len, 0, (uint32_t)h->store.len, 0};
  return 0;
}

/* Each piece is stored NUL-terminated so values can be used as C strings. */
static int store_piece(pt_headers_t *h, uint32_t off, uint32_t *len, const char *at, size_t n) {
  if (h->store.len > off) h->store.len--; /* drop the NUL written after the previous piece */
  if (pt_buf_reserve(&h->store, n + 1)) return UV_ENOMEM;
  memcpy(h->store.base + h->store.len, at, n);
  h->store.len += n;
  h->store.base[h->store.len++] = '\0';
  *len += (uint32_t)n;
  return 0;
}

int pt_headers_name_piece(pt_headers_t *h, const char *at, size_t len) {
  if (h->count == 0 || h->in_value) {
    if (headers_push(h)) return UV_ENOMEM;
    h->in_value = 0;
  }
  pt_header_t *x = &h->items[h->count - 1];
  return store_piece(h, x->name_off, &x->name_len, at, len);
}

int pt_headers_value_piece(pt_headers_t *h, const char *at, size_t len) {
  if (h->count == 0) return UV_EINVAL;
  pt_header_t *x = &h->items[h->count - 1];
  if (!h->in_value) {
    h->in_value = 1;
    x->value_off = (uint32_t)h->store.len;
  }
  return store_piece(h, x->value_off, &x->value_len, at, len);
}

void pt_headers_reset(pt_headers_t *h) {
  h->store.len = 0;
  h->count = 0;
  h->in_value = 0;
}

void pt_headers_free(pt_headers_t *h) {
  pt_buf_free(&h->store);
  free(h->items);
  memset(h, 0, sizeof *h);
}

int pt_strncaseeq(const char *a, size_t alen, const char *b) {
  return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

int pt_header_is(const pt_headers_t *h, int i, const char *name) {
  return pt_strncaseeq(pt_header_name(h, i), h->items[i].name_len, name);
}

int pt_headers_find(const pt_headers_t *h, const char *name, int from) {
  for (int i = from; i < h->count; i++)
    if (pt_header_is(h, i, name)) return i;
  return -1;
}

int pt_http_list_has(const char *v, size_t len, const char *token) {
  size_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t start = i;
    while (i < len && v[i] != ',') i++;
    size_t end = i;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
    if (end > start && pt_strncaseeq(v + start, end - start, token)) return 1;
  }
  return 0;
}

#define NAME_IS(n, len, lit) ((len) == sizeof(lit) - 1 && strncasecmp((n), (lit), sizeof(lit) - 1) == 0)

/* The hop-by-hop names of RFC 9110 7.6.1 (and Keep-Alive, Proxy-Connection), told
 * apart by length first: this runs for every header of every forwarded head. */
static int hop_by_hop_name(const char *n, uint32_t len) {
  switch (len) {
  case 2: return NAME_IS(n, len, "te");
  case 7: return NAME_IS(n, len, "trailer") || NAME_IS(n, len, "upgrade");
  case 10: return NAME_IS(n, len, "connection") || NAME_IS(n, len, "keep-alive");
  case 16: return NAME_IS(n, len, "proxy-connection");
  case 17: return NAME_IS(n, len, "transfer-encoding");
  default: return 0;
  }
}

/* Whether some Connection header names other headers (beyond close and keep-alive):
 * only then is every header checked against those lists. */
static int connection_names_headers(const pt_headers_t *h) {
  for (int c = pt_headers_find(h, "connection", 0); c >= 0; c = pt_headers_find(h, "connection", c + 1)) {
    const char *v = pt_header_value(h, c);
    uint32_t len = h->items[c].value_len;
    for (uint32_t i = 0; i < len;) {
      while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
      uint32_t start = i;
      while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t') i++;
      if (i > start && !NAME_IS(v + start, i - start, "close") && !NAME_IS(v + start, i - start, "keep-alive"))
        return 1;
      while (i < len && v[i] != ',') i++;
    }
  }
  return 0;
}

static int listed_in_connection(const pt_headers_t *h, int i) {
  char name[128];
  uint32_t nl = h->items[i].name_len;
  if (nl >= sizeof name) return 0;
  memcpy(name, pt_header_name(h, i), nl);
  name[nl] = '\0';
  for (int c = pt_headers_find(h, "connection", 0); c >= 0; c = pt_headers_find(h, "connection", c + 1))
    if (pt_http_list_has(pt_header_value(h, c), h->items[c].value_len, name)) return 1;
  return 0;
}

/* `listed`: connection_names_headers(h), computed once per head. */
static int hop_by_hop(const pt_headers_t *h, int i, int listed) {
  return hop_by_hop_name(pt_header_name(h, i), h->items[i].name_len) || (listed && listed_in_connection(h, i));
}

int pt_headers_hop_by_hop(const pt_headers_t *h, int i) { return hop_by_hop(h, i, 1); }

static int append_header(pt_buf_t *out, const pt_headers_t *h, int i) {
  const pt_header_t *x = &h->items[i];
  if (pt_buf_reserve(out, x->name_len + x->value_len + 4)) return UV_ENOMEM;
  char *p = out->base + out->len;
  memcpy(p, pt_header_name(h, i), x->name_len);
  p += x->name_len;
  *p++ = ':';
  *p++ = ' ';
  memcpy(p, pt_header_value(h, i), x->value_len);
  p += x->value_len;
  *p++ = '\r';
  *p++ = '\n';
  out->len = (size_t)(p - out->base);
  return 0;
}

/* The request headers the gateway replaces rather than passes on. */
static int replaced_on_request(const pt_headers_t *h, int i) {
  const char *n = pt_header_name(h, i);
  uint32_t len = h->items[i].name_len;
  switch (len) {
  case 4: return NAME_IS(n, len, "host");
  case 6: return NAME_IS(n, len, "expect");
  case 15: return NAME_IS(n, len, "x-forwarded-for");
  case 16: return NAME_IS(n, len, "x-forwarded-host");
  case 17: return NAME_IS(n, len, "x-forwarded-proto");
  case 19: return NAME_IS(n, len, "proxy-authorization");
  default: return 0;
  }
}

/* Appends the pieces given, then CRLF; stops at the first NULL. */
static int append_line(pt_buf_t *out, const char *a, const char *b, size_t blen) {
  int rc = pt_buf_appends(out, a);
  if (!rc) rc = pt_buf_append(out, b, blen);
  if (!rc) rc = pt_buf_append(out, "\r\n", 2);
  return rc;
}

static int dropped(const pt_headers_t *h, int i, const pt_forward_t *f) {
  for (int k = 0; k < f->ndrop; k++)
    if (pt_header_is(h, i, f->drop[k])) return 1;
  return 0;
}

static int append_forwarded_for(pt_buf_t *out, const pt_headers_t *h, const char *client_ip) {
  int rc = pt_buf_appends(out, "X-Forwarded-For: ");
  for (int i = pt_headers_find(h, "x-forwarded-for", 0); i >= 0 && !rc;
       i = pt_headers_find(h, "x-forwarded-for", i + 1)) {
    rc = pt_buf_append(out, pt_header_value(h, i), h->items[i].value_len);
    if (!rc) rc = pt_buf_appends(out, ", ");
  }
  return rc ? rc : append_line(out, "", client_ip, strlen(client_ip));
}

int pt_http_forward_request_head(pt_buf_t *out, const pt_headers_t *h, const pt_forward_t *f) {
  int rc = pt_buf_appends(out, f->method);
  if (!rc) rc = pt_buf_append(out, " ", 1);
  if (!rc) rc = append_line(out, "", f->target, f->target_len);
  if (!rc) { /* the target line ended with CRLF: put the version before it */
    out->len -= 2;
    rc = pt_buf_appends(out, " HTTP/1.1\r\n");
  }
  if (!rc) rc = append_line(out, "Host: ", f->authority, strlen(f->authority));
  int listed = connection_names_headers(h);
  for (int i = 0; i < h->count && !rc; i++)
    if (!hop_by_hop(h, i, listed) && !replaced_on_request(h, i) && !dropped(h, i, f) &&
        !(f->replace_length && pt_header_is(h, i, "content-length")))
      rc = append_header(out, h, i);
  if (!rc && f->replace_length) {
    rc = pt_buf_appends(out, "Content-Length: ");
    if (!rc) rc = pt_buf_dec(out, f->body_length);
    if (!rc) rc = pt_buf_append(out, "\r\n", 2);
  }
  if (!rc && f->extra) rc = pt_buf_appends(out, f->extra);
  if (!rc && f->extra2) rc = pt_buf_appends(out, f->extra2);
  if (rc) return rc;
  int host = pt_headers_find(h, "host", 0);
  rc = append_forwarded_for(out, h, f->client_ip);
  if (!rc) rc = append_line(out, "X-Forwarded-Proto: ", f->proto, strlen(f->proto));
  if (!rc && host >= 0)
    rc = append_line(out, "X-Forwarded-Host: ", pt_header_value(h, host), h->items[host].value_len);
  if (!rc) rc = append_line(out, "Via: ", f->via, strlen(f->via));
  if (!rc && f->chunked) rc = pt_buf_appends(out, "Transfer-Encoding: chunked\r\n");
  if (!rc) rc = pt_buf_append(out, "\r\n", 2);
  return rc;
}

int pt_http_status_line(pt_buf_t *out, int minor, int status) {
  int rc = pt_buf_appends(out, minor ? "HTTP/1.1 " : "HTTP/1.0 ");
  if (!rc) rc = pt_buf_dec(out, (uint64_t)status);
  if (!rc) rc = pt_buf_append(out, " ", 1);
  const char *text = pt_http_status_text(status);
  return rc ? rc : append_line(out, "", text, strlen(text));
}

int pt_http_forward_response_head(pt_buf_t *out, int minor, int status, const char *reason,
                                  const pt_headers_t *h, const char *via, pt_framing_t framing, int keep_alive) {
  int rc;
  if (reason && *reason) {
    rc = pt_buf_appends(out, minor ? "HTTP/1.1 " : "HTTP/1.0 ");
    if (!rc) rc = pt_buf_dec(out, (uint64_t)status);
    if (!rc) rc = append_line(out, " ", reason, strlen(reason));
  } else {
    rc = pt_http_status_line(out, minor, status);
  }
  int listed = connection_names_headers(h);
  for (int i = 0; i < h->count && !rc; i++)
    if (!hop_by_hop(h, i, listed)) rc = append_header(out, h, i);
  if (!rc) rc = append_line(out, "Via: ", via, strlen(via));
  if (!rc && framing == PT_FRAME_CHUNKED) rc = pt_buf_appends(out, "Transfer-Encoding: chunked\r\n");
  if (!rc && !keep_alive) rc = pt_buf_appends(out, "Connection: close\r\n");
  if (!rc && keep_alive && !minor) rc = pt_buf_appends(out, "Connection: keep-alive\r\n");
  if (!rc) rc = pt_buf_appends(out, "\r\n");
  return rc;
}

int pt_http_policy_response_head(pt_buf_t *out, int minor, int status, const char *reason,
                                 const pt_headers_t *h, const char *via, uint64_t body_len, int keep_alive) {
  int rc = pt_buf_appends(out, minor ? "HTTP/1.1 " : "HTTP/1.0 ");
  if (!rc) rc = pt_buf_dec(out, (uint64_t)status);
  if (!rc) rc = pt_buf_append(out, " ", 1);
  if (!rc) rc = pt_buf_appends(out, reason && *reason ? reason : pt_http_status_text(status));
  if (!rc) rc = pt_buf_append(out, "\r\n", 2);
  for (int i = 0; i < h->count && !rc; i++)
    if (!pt_headers_hop_by_hop(h, i) && !pt_header_is(h, i, "content-length")) rc = append_header(out, h, i);
  if (!rc) rc = append_line(out, "Via: ", via, strlen(via));
  if (!rc) rc = pt_buf_appends(out, "Content-Length: ");
  if (!rc) rc = pt_buf_dec(out, body_len);
  if (!rc) rc = pt_buf_append(out, "\r\n", 2);
  if (!rc && !keep_alive) rc = pt_buf_appends(out, "Connection: close\r\n");
  if (!rc && keep_alive && !minor) rc = pt_buf_appends(out, "Connection: keep-alive\r\n");
  if (!rc) rc = pt_buf_append(out, "\r\n", 2);
  return rc;
}

const char *pt_http_status_text(int s) {
  switch (s) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 203: return "Non-Authoritative Information";
  case 204: return "No Content";
  case 205: return "Reset Content";
  case 206: return "Partial Content";
  case 300: return "Multiple Choices";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Entity";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  case 508: return "Loop Detected";
  default: return s < 200 ? "Informational" : s < 300 ? "Success" : s < 400 ? "Redirection"
                : s < 500 ? "Client Error" : "Server Error";
  }
}
