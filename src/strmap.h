/* strmap.h - an immutable-after-build string -> pointer hash map (open
 * addressing, FNV-1a). Keys are borrowed: they must outlive the map. Used for
 * O(1) lookups by id and by subscription key in a generation. */
#ifndef PT_STRMAP_H
#define PT_STRMAP_H

#include <stddef.h>

typedef struct pt_strmap_s {
  const char **keys;
  void **values;
  size_t cap, count; /* cap is a power of two, at least twice count */
} pt_strmap_t;

int pt_strmap_init(pt_strmap_t *m, size_t expected);
/* Returns 0, 1 when the key was already present (the value is kept), or UV_ENOMEM. */
int pt_strmap_put(pt_strmap_t *m, const char *key, void *value);
void *pt_strmap_get(const pt_strmap_t *m, const char *key, size_t len);
void pt_strmap_free(pt_strmap_t *m);

#endif
