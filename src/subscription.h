/* subscription.h - APIM subscription keys: where a request carries one
 * (header or query parameter, names per API), and whether it opens the API
 * (an active subscription scoped to all APIs, to this API, or to a published
 * product that contains it). */
#ifndef PT_SUBSCRIPTION_H
#define PT_SUBSCRIPTION_H

#include <stddef.h>

#include "registry.h"

typedef enum { PT_SUB_OK, PT_SUB_MISSING, PT_SUB_INVALID } pt_sub_result_t;

/* The key value and where it was found (for removal before forwarding). */
typedef struct pt_sub_key_s {
  const char *value;
  size_t len;
  int header;   /* index of the header carrying it, or -1 */
  int in_query; /* the query carries the key parameter (removed before forwarding) */
  char decoded[260]; /* a query value, percent-decoded */
} pt_sub_key_t;

void pt_subscription_find_key(const pt_api_cfg_t *api, const pt_headers_t *h, const char *query,
                              size_t qlen, pt_sub_key_t *key);
/* APIM's rule: a key that is present must be valid; a missing key fails only
 * when the API requires a subscription. */
pt_sub_result_t pt_subscription_check(const pt_generation_t *g, const pt_api_cfg_t *api,
                                      const pt_sub_key_t *key, const pt_subscription_cfg_t **out);

extern const char pt_sub_missing_message[];
extern const char pt_sub_invalid_message[];

#endif
