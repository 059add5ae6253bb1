/* writeq.c - ordered, backpressure-aware output queue (see writeq.h). */
#include "writeq.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  uv_write_t req;
  pt_writeq_t *q;
  char *base; /* moved out of the pending (or TLS wire) buffer; freed here */
  size_t len;
} writeq_req_t;

void pt_writeq_init(pt_writeq_t *q, uv_stream_t *stream, void *data, pt_writeq_cb on_drain) {
  q->stream = stream;
  q->pending = (pt_buf_t){0};
  q->inflight = 0;
  q->data = data;
  q->on_drain = on_drain;
  q->error = 0;
  q->tls = NULL;
}

static void on_written(uv_write_t *w, int status) {
  writeq_req_t *r = (writeq_req_t *)w;
  pt_writeq_t *q = r->q;
  size_t before = q->inflight;
  q->inflight -= r->len;
  free(r->base);
  free(r);
  if (status < 0 && !q->error) q->error = status;
  /* Canceled writes mean the owner is closing the stream: tell no one. */
  if (status == UV_ECANCELED) return;
  if (status < 0 || (before > PT_WRITEQ_LOW && q->inflight <= PT_WRITEQ_LOW) || q->inflight == 0)
    if (q->on_drain) q->on_drain(q, status);
}

int pt_writeq_flush(pt_writeq_t *q) {
  if (q->error) return q->error;
  if (!q->stream) return 0;
  pt_buf_t *out = &q->pending;
  if (q->tls) {
    int rc = pt_tls_seal(q->tls, &q->pending);
    if (rc < 0) return q->error = rc;
    out = pt_tls_wire(q->tls);
  }
  if (out->len == 0) return 0;
  size_t off = 0;
  if (q->inflight == 0) {
    uv_buf_t b = uv_buf_init(out->base, (unsigned)out->len);
    int n = uv_try_write(q->stream, &b, 1);
    if (n < 0 && n != UV_EAGAIN) return q->error = n;
    if (n > 0) off = (size_t)n;
    if (off == out->len) {
      out->len = 0;
      return 0;
    }
  }
  writeq_req_t *r = malloc(sizeof *r);
  if (!r) return q->error = UV_ENOMEM;
  r->q = q;
  r->len = out->len - off;
  if (off) { /* keep the remainder only; the buffer stays with its owner */
    r->base = malloc(r->len);
    if (!r->base) {
      free(r);
      return q->error = UV_ENOMEM;
    }
    memcpy(r->base, out->base + off, r->len);
    out->len = 0;
  } else {
    r->base = out->base;
    *out = (pt_buf_t){0};
  }
  uv_buf_t b = uv_buf_init(r->base, (unsigned)r->len);
  int rc = uv_write(&r->req, q->stream, &b, 1, on_written);
  if (rc < 0) {
    free(r->base);
    free(r);
    return q->error = rc;
  }
  q->inflight += r->len;
  return 0;
}

void pt_writeq_free(pt_writeq_t *q) { pt_buf_free(&q->pending); }
