/* http.h - HTTP/1.1 message pieces shared by the downstream (server.c) and
 * upstream (upstream.c) sides: header lists filled from llhttp callbacks,
 * hop-by-hop removal, forwarding headers, status texts. No I/O here. */
#ifndef PT_HTTP_H
#define PT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct pt_header_s {
  uint32_t name_off, name_len, value_off, value_len; /* into pt_headers_t.store */
} pt_header_t;

/* Header fields in arrival order. Names and values live in one store so that
 * pieces delivered across reads by llhttp simply append. */
typedef struct pt_headers_s {
  pt_buf_t store;
  pt_header_t *items;
  int count, cap;
  int in_value; /* which piece the last append belonged to */
} pt_headers_t;

int pt_headers_name_piece(pt_headers_t *h, const char *at, size_t len);
int pt_headers_value_piece(pt_headers_t *h, const char *at, size_t len);
void pt_headers_reset(pt_headers_t *h);
void pt_headers_free(pt_headers_t *h);

static inline const char *pt_header_name(const pt_headers_t *h, int i) { return h->store.base + h->items[i].name_off; }
static inline const char *pt_header_value(const pt_headers_t *h, int i) {
  return h->items[i].value_len ? h->store.base + h->items[i].value_off : "";
}
int pt_header_is(const pt_headers_t *h, int i, const char *name);
/* Index of the first header called name (case-insensitive) at or after `from`, or -1. */
int pt_headers_find(const pt_headers_t *h, const char *name, int from);
/* True when a comma-separated header value lists token (case-insensitive). */
int pt_http_list_has(const char *value, size_t len, const char *token);
/* True when header i is hop-by-hop: a fixed name or one listed by Connection. */
int pt_headers_hop_by_hop(const pt_headers_t *h, int i);

const char *pt_http_status_text(int status);
int pt_strncaseeq(const char *a, size_t alen, const char *b);

/* What the gateway adds to a request it forwards. */
typedef struct pt_forward_s {
  const char *method;
  const char *target; size_t target_len; /* origin-form path and query */
  const char *authority;                 /* backend Host header value */
  const char *via;                       /* "1.1 <gateway id>" */
  const char *client_ip;
  const char *proto;                     /* "http" or "https" as seen by the client */
  int chunked;                           /* body is re-framed as chunked */
  const char *const *drop; int ndrop;    /* client headers not to pass on (subscription key, replaced credentials) */
  const char *extra;                     /* header lines the gateway adds (backend credentials), or NULL */
  const char *extra2;                    /* more of them (proxy credentials), or NULL */
  int replace_length;                    /* the gateway sends a body of body_length (set by policy) */
  uint64_t body_length;
} pt_forward_t;

/* Writes the request head sent upstream: request line, the client's end-to-end
 * headers except Host/Expect/X-Forwarded-*, then Host, Via, X-Forwarded-*. */
int pt_http_forward_request_head(pt_buf_t *out, const pt_headers_t *h, const pt_forward_t *f);

/* "HTTP/1.x NNN Reason\r\n" */
int pt_http_status_line(pt_buf_t *out, int minor, int status);

typedef enum { PT_FRAME_LENGTH, PT_FRAME_CHUNKED, PT_FRAME_CLOSE, PT_FRAME_NONE } pt_framing_t;
/* Writes the response head sent downstream: the backend's end-to-end headers
 * plus Via and the framing/connection headers the gateway chose. A NULL
 * reason is the standard one for the status. */
int pt_http_forward_response_head(pt_buf_t *out, int minor, int status, const char *reason,
                                  const pt_headers_t *h, const char *via, pt_framing_t framing, int keep_alive);
/* A whole response made by policies: its headers, a Content-Length of
 * body_len (replacing any), Via and the connection header. */
int pt_http_policy_response_head(pt_buf_t *out, int minor, int status, const char *reason,
                                 const pt_headers_t *h, const char *via, uint64_t body_len, int keep_alive);

#endif
