/* store.c - the gateway-wide state of traffic policies (see store.h). */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#define SWEEP_EVERY 1024 /* counter inserts between two sweeps of expired keys */

typedef struct counter_s {
  struct counter_s *next; /* hash chain */
  uint64_t window_end;    /* ms; the key expires with its window */
  int64_t count;          /* also the concurrency in use */
  int concurrency;        /* a concurrency slot key: never expires while in use */
  char key[];
} counter_t;

typedef struct entry_s {
  struct entry_s *next;             /* hash chain */
  struct entry_s *lru_prev, *lru_next; /* most recently used first */
  uint64_t expires;
  size_t size, value_len;
  char *value;
  char key[];
} entry_t;

struct pt_store_s {
  uv_mutex_t lock;
  counter_t **counters;
  size_t ncounters, counter_buckets, inserts;
  entry_t **entries;
  size_t entry_buckets, cache_bytes, cache_max;
  entry_t *lru_head, *lru_tail;
};

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

pt_store_t *pt_store_new(size_t cache_max_bytes) {
  pt_store_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->counter_buckets = s->entry_buckets = 4096;
  s->counters = calloc(s->counter_buckets, sizeof *s->counters);
  s->entries = calloc(s->entry_buckets, sizeof *s->entries);
  s->cache_max = cache_max_bytes;
  if (!s->counters || !s->entries || uv_mutex_init(&s->lock)) {
    free(s->counters);
    free(s->entries);
    free(s);
    return NULL;
  }
  return s;
}

void pt_store_set_cache_limit(pt_store_t *s, size_t max_bytes) {
  uv_mutex_lock(&s->lock);
  s->cache_max = max_bytes;
  uv_mutex_unlock(&s->lock);
}

uint64_t pt_store_now_ms(void) { return uv_hrtime() / 1000000; }

/* ---- counters -------------------------------------------------------------- */

/* Drops every expired counter: what keeps memory bounded under many keys. */
static void sweep(pt_store_t *s, uint64_t now) {
  for (size_t b = 0; b < s->counter_buckets; b++)
    for (counter_t **p = &s->counters[b]; *p;) {
      counter_t *c = *p;
      if (c->concurrency ? c->count == 0 : c->window_end <= now) {
        *p = c->next;
        free(c);
        s->ncounters--;
      } else {
        p = &c->next;
      }
    }
}

static counter_t *counter(pt_store_t *s, const char *key, int create) {
  counter_t **head = &s->counters[hash(key) & (s->counter_buckets - 1)];
  for (counter_t *c = *head; c; c = c->next)
    if (strcmp(c->key, key) == 0) return c;
  if (!create) return NULL;
  size_t n = strlen(key) + 1;
  counter_t *c = calloc(1, sizeof *c + n);
  if (!c) return NULL;
  memcpy(c->key, key, n);
  c->next = *head;
  *head = c;
  s->ncounters++;
  return c;
}

int pt_store_count(pt_store_t *s, const char *key, uint64_t window_ms, int64_t increment, int64_t limit,
                   int64_t *count, uint64_t *reset_in_ms) {
  uint64_t now = pt_store_now_ms();
  uv_mutex_lock(&s->lock);
  if (++s->inserts % SWEEP_EVERY == 0) sweep(s, now);
  counter_t *c = counter(s, key, 1);
  int allowed = 0;
  if (c) {
    if (c->window_end <= now) c->window_end = now + (window_ms ? window_ms : 1), c->count = 0;
    allowed = c->count + increment <= limit;
    if (allowed) c->count += increment;
    *count = c->count;
    *reset_in_ms = c->window_end - now;
  }
  uv_mutex_unlock(&s->lock);
  return allowed;
}

int pt_store_concurrency(pt_store_t *s, const char *key, int delta, int64_t max, int64_t *current) {
  uv_mutex_lock(&s->lock);
  counter_t *c = counter(s, key, delta > 0);
  int ok = 0;
  if (c) {
    c->concurrency = 1;
    if (delta < 0 && c->count > 0) c->count--, ok = 1;
    else if (delta > 0 && c->count < max) c->count++, ok = 1;
    *current = c->count;
  } else {
    *current = 0;
  }
  uv_mutex_unlock(&s->lock);
  return ok;
}

/* ---- cache ----------------------------------------------------------------- */

static entry_t **entry_slot(pt_store_t *s, const char *key) {
  entry_t **p = &s->entries[hash(key) & (s->entry_buckets - 1)];
  while (*p && strcmp((*p)->key, key) != 0) p = &(*p)->next;
  return p;
}

static void lru_unlink(pt_store_t *s, entry_t *e) {
  if (e->lru_prev) e->lru_prev->lru_next = e->lru_next;
  else s->lru_head = e->lru_next;
  if (e->lru_next) e->lru_next->lru_prev = e->lru_prev;
  else s->lru_tail = e->lru_prev;
  e->lru_prev = e->lru_next = NULL;
}

static void lru_front(pt_store_t *s, entry_t *e) {
  e->lru_next = s->lru_head;
  if (s->lru_head) s->lru_head->lru_prev = e;
  s->lru_head = e;
  if (!s->lru_tail) s->lru_tail = e;
}

static void entry_remove(pt_store_t *s, entry_t **slot) {
  entry_t *e = *slot;
  *slot = e->next;
  lru_unlink(s, e);
  s->cache_bytes -= e->size;
  free(e->value);
  free(e);
}

char *pt_store_cache_get(pt_store_t *s, const char *key, size_t *len) {
  char *copy = NULL;
  uv_mutex_lock(&s->lock);
  entry_t **slot = entry_slot(s, key);
  if (*slot && (*slot)->expires <= pt_store_now_ms()) entry_remove(s, slot);
  else if (*slot && (copy = malloc((*slot)->value_len + 1))) {
    entry_t *e = *slot;
    memcpy(copy, e->value, e->value_len);
    copy[e->value_len] = '\0';
    *len = e->value_len;
    lru_unlink(s, e);
    lru_front(s, e);
  }
  uv_mutex_unlock(&s->lock);
  return copy;
}

int pt_store_cache_set(pt_store_t *s, const char *key, const char *value, size_t len, uint64_t ttl_ms) {
  size_t klen = strlen(key) + 1, size = sizeof(entry_t) + klen + len;
  if (size > s->cache_max) return 0; /* bigger than the whole cache: not kept */
  entry_t *e = calloc(1, sizeof *e + klen);
  char *v = malloc(len ? len : 1);
  if (!e || !v) {
    free(e), free(v);
    return -1;
  }
  memcpy(e->key, key, klen);
  memcpy(v, value, len);
  e->value = v, e->value_len = len, e->size = size;
  e->expires = pt_store_now_ms() + ttl_ms;
  uv_mutex_lock(&s->lock);
  entry_t **slot = entry_slot(s, key);
  if (*slot) entry_remove(s, slot);
  while (s->lru_tail && s->cache_bytes + size > s->cache_max) /* least recently used first */
    entry_remove(s, entry_slot(s, s->lru_tail->key));
  slot = entry_slot(s, key);
  *slot = e;
  lru_front(s, e);
  s->cache_bytes += size;
  uv_mutex_unlock(&s->lock);
  return 0;
}

void pt_store_cache_delete(pt_store_t *s, const char *key) {
  uv_mutex_lock(&s->lock);
  entry_t **slot = entry_slot(s, key);
  if (*slot) entry_remove(s, slot);
  uv_mutex_unlock(&s->lock);
}

void pt_store_free(pt_store_t *s) {
  if (!s) return;
  for (size_t b = 0; b < s->counter_buckets; b++)
    for (counter_t *c = s->counters[b], *n; c; c = n) n = c->next, free(c);
  while (s->lru_head) entry_remove(s, entry_slot(s, s->lru_head->key));
  free(s->counters);
  free(s->entries);
  uv_mutex_destroy(&s->lock);
  free(s);
}
