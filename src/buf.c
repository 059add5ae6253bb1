/* buf.c - growable byte buffer (see buf.h). */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

int pt_buf_reserve(pt_buf_t *b, size_t extra) {
  if (b->cap - b->len >= extra) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < extra) cap *= 2;
  char *p = realloc(b->base, cap);
  if (!p) return UV_ENOMEM;
  b->base = p;
  b->cap = cap;
  return 0;
}

int pt_buf_append(pt_buf_t *b, const void *data, size_t len) {
  if (pt_buf_reserve(b, len)) return UV_ENOMEM;
  if (len) memcpy(b->base + b->len, data, len);
  b->len += len;
  return 0;
}

int pt_buf_appends(pt_buf_t *b, const char *s) { return pt_buf_append(b, s, strlen(s)); }

static int append_digits(pt_buf_t *b, uint64_t n, unsigned base) {
  char tmp[24], *p = tmp + sizeof tmp;
  do {
    *--p = "0123456789abcdef"[n % base];
    n /= base;
  } while (n);
  return pt_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

int pt_buf_hex(pt_buf_t *b, uint64_t n) { return append_digits(b, n, 16); }
int pt_buf_dec(pt_buf_t *b, uint64_t n) { return append_digits(b, n, 10); }

int pt_buf_printf(pt_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || pt_buf_reserve(b, (size_t)n + 1)) return UV_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(b->base + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

int pt_buf_read_file(pt_buf_t *b, const char *path, size_t max) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t room = max ? max : SIZE_MAX, got = 1;
  while (room > 0 && got > 0) {
    size_t want = room < 65536 ? room : 65536;
    if (pt_buf_reserve(b, want + 1)) {
      fclose(f);
      errno = ENOMEM;
      return -2;
    }
    got = fread(b->base + b->len, 1, want, f);
    b->len += got;
    room -= got;
  }
  int failed = ferror(f), e = errno;
  fclose(f);
  if (failed) {
    errno = e ? e : EIO;
    return -2;
  }
  if (pt_buf_reserve(b, 1)) {
    errno = ENOMEM;
    return -2;
  }
  b->base[b->len] = '\0';
  return 0;
}

void pt_buf_consume(pt_buf_t *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->base, b->base + n, b->len - n);
  b->len -= n;
}

void pt_buf_free(pt_buf_t *b) {
  free(b->base);
  b->base = NULL;
  b->len = b->cap = 0;
}
