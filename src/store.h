/* store.h - the state traffic policies share across all workers of a gateway,
 * kept by the gateway (not a generation) so that it survives reloads:
 * fixed-window counters (rate limits, quotas), concurrency slots, and a
 * bounded LRU cache. One mutex, held for a hash lookup; never across I/O.
 * Expired counters are swept as new keys arrive, so memory stays bounded. */
#ifndef PT_STORE_H
#define PT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct pt_store_s pt_store_t;

pt_store_t *pt_store_new(size_t cache_max_bytes);
void pt_store_set_cache_limit(pt_store_t *s, size_t max_bytes);
void pt_store_free(pt_store_t *s);
uint64_t pt_store_now_ms(void);

/* Adds increment to key's count in its current window (a window starts at the
 * key's first count and lasts window_ms) when count + increment <= limit.
 * Returns 1 when allowed; *count and *reset_in_ms describe the window. */
int pt_store_count(pt_store_t *s, const char *key, uint64_t window_ms, int64_t increment, int64_t limit,
                   int64_t *count, uint64_t *reset_in_ms);
/* delta +1 takes a slot (0 when max are in use), -1 returns one. */
int pt_store_concurrency(pt_store_t *s, const char *key, int delta, int64_t max, int64_t *current);

/* A malloc'ed copy of the value (NUL-terminated, *len set), or NULL. */
char *pt_store_cache_get(pt_store_t *s, const char *key, size_t *len);
int pt_store_cache_set(pt_store_t *s, const char *key, const char *value, size_t len, uint64_t ttl_ms);
void pt_store_cache_delete(pt_store_t *s, const char *key);

#endif
