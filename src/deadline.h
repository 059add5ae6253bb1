/* deadline.h - a timeout that is cheap to move. Connections push their
 * deadline forward on every read; re-arming a libuv timer each time costs a
 * heap update, so the deadline is a plain field and the timer, when it fires
 * early, re-arms itself for what is left. Clearing is a field write too. */
#ifndef PT_DEADLINE_H
#define PT_DEADLINE_H

#include <stdint.h>
#include <uv.h>

typedef struct pt_deadline_s pt_deadline_t;
typedef void (*pt_deadline_cb)(pt_deadline_t *d);

struct pt_deadline_s {
  uv_timer_t timer; /* owned; close it with pt_deadline_close */
  uint64_t at;      /* loop time in ms; 0: no deadline */
  pt_deadline_cb cb;
  void *data;
};

void pt_deadline_init(uv_loop_t *loop, pt_deadline_t *d, void *data);
/* Calls cb once `ms` from now, unless set again or cleared before. */
void pt_deadline_set(pt_deadline_t *d, uint64_t ms, pt_deadline_cb cb);
static inline void pt_deadline_clear(pt_deadline_t *d) { d->at = 0; }
void pt_deadline_close(pt_deadline_t *d, uv_close_cb on_closed);

#endif
