/* buf.h - a growable byte buffer. The owner of the struct owns `base`. */
#ifndef PT_BUF_H
#define PT_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct pt_buf_s {
  char *base;
  size_t len, cap;
} pt_buf_t;

/* Each returns 0 or UV_ENOMEM; on failure the buffer is unchanged. */
int pt_buf_reserve(pt_buf_t *b, size_t extra);
int pt_buf_append(pt_buf_t *b, const void *data, size_t len);
int pt_buf_appends(pt_buf_t *b, const char *s);
/* Lowercase hex or decimal digits of n, without printf on the hot path. */
int pt_buf_hex(pt_buf_t *b, uint64_t n);
int pt_buf_dec(pt_buf_t *b, uint64_t n);
int pt_buf_printf(pt_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the contents of the file at path (at most max bytes; 0: all), then
 * a NUL that len does not count. Returns 0, or with errno set: -1 when the
 * file cannot be opened, -2 when reading it fails (ENOMEM: out of memory). */
int pt_buf_read_file(pt_buf_t *b, const char *path, size_t max);
/* Drops the first n bytes. */
void pt_buf_consume(pt_buf_t *b, size_t n);
void pt_buf_free(pt_buf_t *b);

#endif
