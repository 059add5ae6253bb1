/* watch.h - watches the files a configuration is made of and calls back
 * once per burst of changes. Watches directories, not files, so that editors
 * that save by writing a new file and renaming it over the old one are seen;
 * events are filtered by name and coalesced over a quiet period. */
#ifndef PT_WATCH_H
#define PT_WATCH_H

#include <uv.h>

#include "config.h"

#define PT_WATCH_QUIET_MS 150

typedef struct pt_watch_s pt_watch_t;

/* Watches every file c refers to (the config file, policy documents,
 * fragments, OpenAPI specs, fromFile named values, policy module folders). */
pt_watch_t *pt_watch_start(uv_loop_t *loop, const pt_config_t *c, void (*on_change)(void *data), void *data);
/* Whether w already watches exactly the files c refers to (then it can stay:
 * restarting would miss the changes made meanwhile). */
int pt_watch_covers(const pt_watch_t *w, const pt_config_t *c);
/* Closes the handles; the memory goes once libuv is done with them. */
void pt_watch_stop(pt_watch_t *w);

#endif
