/* selfchain.h - the gateway's own endpoints, and which backends point back at
 * them (self-chaining). Endpoints: every listener address:port; for a wildcard
 * listener every interface address with that port; each gateway.hostnames
 * name and `localhost` with each listener port; the loopback range for
 * loopback listeners. A path does not matter: same host and port, same
 * gateway. Built with the generation; matching a URL costs a few compares. */
#ifndef PT_SELFCHAIN_H
#define PT_SELFCHAIN_H

#include <sys/socket.h>

#include "config.h"
#include "diag.h"

typedef struct pt_endpoint_s {
  struct sockaddr_storage addr; /* port set; for names: unused */
  char *name;                   /* a host name (lowercase), or NULL for an address */
  int port;
  int loopback_range;           /* any 127.0.0.0/8 or ::1 address with this port */
  const char *listener;         /* the gateway.listen entry it comes from */
} pt_endpoint_t;

typedef struct pt_selfchain_s {
  pt_endpoint_t *endpoints;
  int count;
} pt_selfchain_t;

int pt_selfchain_build(pt_selfchain_t *s, const pt_config_t *c);
void pt_selfchain_free(pt_selfchain_t *s);
/* The listener a URL reaches on this gateway, or NULL. With resolve, other
 * host names are looked up (bounded in time); without, only literals and
 * known names match (the per-request check of URLs made by expressions). */
const char *pt_selfchain_match(const pt_selfchain_t *s, const pt_url_t *u, int resolve);

#endif
