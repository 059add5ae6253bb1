/* deadline.c - lazily re-armed timeouts (see deadline.h). */
#include "deadline.h"

static void on_timer(uv_timer_t *t) {
  pt_deadline_t *d = t->data;
  if (d->at == 0) return;
  uint64_t now = uv_now(t->loop);
  if (now < d->at) {
    uv_timer_start(t, on_timer, d->at - now, 0);
    return;
  }
  d->at = 0;
  d->cb(d);
}

void pt_deadline_init(uv_loop_t *loop, pt_deadline_t *d, void *data) {
  uv_timer_init(loop, &d->timer);
  d->timer.data = d;
  d->at = 0;
  d->cb = NULL;
  d->data = data;
}

void pt_deadline_set(pt_deadline_t *d, uint64_t ms, pt_deadline_cb cb) {
  d->at = uv_now(d->timer.loop) + ms;
  if (d->at == 0) d->at = 1;
  d->cb = cb;
  /* An armed timer that fires no later than the new deadline will re-arm itself. */
  if (uv_is_active((uv_handle_t *)&d->timer) && uv_timer_get_due_in(&d->timer) <= ms) return;
  uv_timer_start(&d->timer, on_timer, ms, 0);
}

void pt_deadline_close(pt_deadline_t *d, uv_close_cb on_closed) {
  d->at = 0;
  uv_close((uv_handle_t *)&d->timer, on_closed);
}
