/* callout.h - what a policy waits for besides forward-request: the calls of
 * send-request / send-one-way-request / wait (run concurrently, each response
 * buffered whole) and the pauses of retry. The owner (a request) gets one
 * callback, always from the loop (never from inside the start call), unless
 * it cancels first. One-way calls outlive their owner and report nothing. */
#ifndef PT_CALLOUT_H
#define PT_CALLOUT_H

#include "lbridge.h"

struct pt_worker_s;
struct pt_generation_s;
typedef struct pt_callout_s pt_callout_t;

/* results[i] answers calls[i]; valid during the callback only. */
typedef void (*pt_callout_done)(void *data, const pt_call_result_t *results, int n);

/* Starts the calls (any: finish when the first one does, cancelling the
 * rest). Strings in calls are copied. Returns NULL when out of memory. */
pt_callout_t *pt_callout_start(struct pt_worker_s *w, const struct pt_generation_s *g,
                               const pt_policy_call_t *calls, int n, int any, pt_callout_done done, void *data);
/* A pause: done(data, NULL, 0) after ms. */
pt_callout_t *pt_callout_sleep(struct pt_worker_s *w, uint64_t ms, pt_callout_done done, void *data);
/* The owner is gone: no callback; calls in flight are dropped. */
void pt_callout_cancel(pt_callout_t *co);

#endif
