/* strmap.c - string -> pointer map with linear probing (see strmap.h). */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uint64_t hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h;
}

int pt_strmap_init(pt_strmap_t *m, size_t expected) {
  size_t cap = 8;
  while (cap < expected * 2) cap *= 2;
  m->keys = calloc(cap, sizeof *m->keys);
  m->values = calloc(cap, sizeof *m->values);
  m->cap = cap;
  m->count = 0;
  if (m->keys && m->values) return 0;
  pt_strmap_free(m);
  return UV_ENOMEM;
}

int pt_strmap_put(pt_strmap_t *m, const char *key, void *value) {
  size_t n = strlen(key);
  if ((m->count + 1) * 2 > m->cap) return UV_ENOMEM; /* sized at init: a full map is a bug */
  for (size_t i = hash(key, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->keys[i]) {
      m->keys[i] = key;
      m->values[i] = value;
      m->count++;
      return 0;
    }
    if (strcmp(m->keys[i], key) == 0) return 1;
  }
}

void *pt_strmap_get(const pt_strmap_t *m, const char *key, size_t n) {
  if (!m->cap) return NULL;
  for (size_t i = hash(key, n) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
    if (strncmp(m->keys[i], key, n) == 0 && m->keys[i][n] == '\0') return m->values[i];
  return NULL;
}

void pt_strmap_free(pt_strmap_t *m) {
  free(m->keys);
  free(m->values);
  memset(m, 0, sizeof *m);
}
