/* writeq.h - an ordered output queue over one libuv stream, with backpressure.
 * Bytes are appended to `pending` and handed to the kernel by pt_writeq_flush:
 * first with uv_try_write (no allocation on the fast path), the rest through
 * uv_write with the buffer moved, not copied, into the write request.
 * Owns the buffers it queued; the stream is borrowed. With TLS, pending holds
 * plaintext and flush encrypts it into the session's wire buffer first. */
#ifndef PT_WRITEQ_H
#define PT_WRITEQ_H

#include <uv.h>

#include "buf.h"
#include "tls.h"

#define PT_WRITEQ_HIGH (256 * 1024) /* above this the producer should pause */
#define PT_WRITEQ_LOW (64 * 1024)   /* below this a paused producer resumes */

typedef struct pt_writeq_s pt_writeq_t;
typedef void (*pt_writeq_cb)(pt_writeq_t *q, int status);

struct pt_writeq_s {
  uv_stream_t *stream; /* NULL until connected: bytes wait in pending */
  pt_buf_t pending;
  size_t inflight;     /* bytes given to uv_write, not yet completed */
  void *data;          /* the owner */
  pt_writeq_cb on_drain; /* inflight fell to PT_WRITEQ_LOW or below, or a write failed (status < 0) */
  int error;           /* first write error, sticky */
  pt_tls_t *tls;       /* set: pending is plaintext, encrypted on flush (borrowed) */
};

void pt_writeq_init(pt_writeq_t *q, uv_stream_t *stream, void *data, pt_writeq_cb on_drain);
static inline size_t pt_writeq_size(const pt_writeq_t *q) {
  return q->pending.len + q->inflight + (q->tls ? pt_tls_wire(q->tls)->len : 0);
}
static inline int pt_writeq_full(const pt_writeq_t *q) { return pt_writeq_size(q) > PT_WRITEQ_HIGH; }
/* Hands pending bytes to the stream. Returns 0 or the (sticky) write error. */
int pt_writeq_flush(pt_writeq_t *q);
void pt_writeq_free(pt_writeq_t *q);

#endif
