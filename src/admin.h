/* admin.h - the admin listener (gateway.admin): a small HTTP/1.1 endpoint on
 * the gateway's control loop, never on a worker. Every request needs
 * `Authorization: Bearer <token>`. GET /status, POST /reload. One request per
 * connection, bounded in size and time. */
#ifndef PT_ADMIN_H
#define PT_ADMIN_H

#include <uv.h>

#include "buf.h"
#include "config.h"

typedef struct pt_admin_s pt_admin_t;

typedef struct pt_admin_ops_s {
  void (*status)(void *data, pt_buf_t *json);        /* GET /status */
  int (*reload)(void *data, pt_buf_t *json);         /* POST /reload: 0 when it took effect */
} pt_admin_ops_t;

/* Starts listening on c->admin.listen; returns NULL (and prints why) when it cannot.
 * The token is copied. */
pt_admin_t *pt_admin_start(uv_loop_t *loop, const pt_config_t *c, const pt_admin_ops_t *ops, void *data);
void pt_admin_stop(pt_admin_t *a);
/* Whether the running listener matches what c asks for (else restart it). */
int pt_admin_same(const pt_admin_t *a, const pt_config_t *c);
/* Client side: sends METHOD PATH to the admin listener c names, prints the
 * answer to out. Returns 0 on a 200 answer, -1 otherwise. Blocking. */
int pt_admin_call(const pt_config_t *c, const char *method, const char *path, FILE *out);

#endif
