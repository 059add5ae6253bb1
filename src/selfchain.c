/* selfchain.c - the gateway's own endpoints and self-chained URLs (see selfchain.h). */
#include "selfchain.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define RESOLVE_TIMEOUT_MS 2000

static int add(pt_selfchain_t *s, pt_endpoint_t e) {
  pt_endpoint_t *arr = realloc(s->endpoints, sizeof *arr * (s->count + 1));
  if (!arr) return UV_ENOMEM;
  s->endpoints = arr;
  arr[s->count++] = e;
  return 0;
}

static int port_of(const struct sockaddr_storage *a) {
  return ntohs(a->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)a)->sin6_port
                                        : ((const struct sockaddr_in *)a)->sin_port);
}

static int is_wildcard(const struct sockaddr_storage *a) {
  if (a->ss_family == AF_INET) return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
  return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

static int is_loopback(const struct sockaddr_storage *a) {
  if (a->ss_family == AF_INET) return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
  return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

static int add_name(pt_selfchain_t *s, const char *name, int port, const char *listener) {
  pt_endpoint_t e = {.port = port, .listener = listener, .name = strdup(name)};
  if (!e.name) return UV_ENOMEM;
  for (char *p = e.name; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
  return add(s, e);
}

/* A wildcard listener is reachable on every interface address. */
static int add_interfaces(pt_selfchain_t *s, int port, const char *listener) {
  uv_interface_address_t *ifs;
  int n, rc = 0;
  if (uv_interface_addresses(&ifs, &n) < 0) return 0;
  for (int i = 0; i < n && !rc; i++) {
    pt_endpoint_t e = {.port = port, .listener = listener};
    memcpy(&e.addr, &ifs[i].address, sizeof ifs[i].address);
    rc = add(s, e);
  }
  uv_free_interface_addresses(ifs, n);
  return rc;
}

int pt_selfchain_build(pt_selfchain_t *s, const pt_config_t *c) {
  memset(s, 0, sizeof *s);
  int rc = 0;
  for (int i = 0; i < c->nlisten && !rc; i++) {
    const pt_listen_t *l = &c->listen[i];
    int port = port_of(&l->addr), wild = is_wildcard(&l->addr);
    pt_endpoint_t e = {.addr = l->addr, .port = port, .listener = l->text, .loopback_range = is_loopback(&l->addr)};
    rc = wild ? add_interfaces(s, port, l->text) : add(s, e);
    if (!rc && (wild || e.loopback_range)) {
      pt_endpoint_t lo = {.port = port, .listener = l->text, .loopback_range = 1};
      rc = add(s, lo);
      if (!rc) rc = add_name(s, "localhost", port, l->text);
    }
    for (int h = 0; h < c->nhostnames && !rc; h++) rc = add_name(s, c->hostnames[h], port, l->text);
  }
  return rc;
}

void pt_selfchain_free(pt_selfchain_t *s) {
  for (int i = 0; i < s->count; i++) free(s->endpoints[i].name);
  free(s->endpoints);
  memset(s, 0, sizeof *s);
}

static int same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static const char *match_addr(const pt_selfchain_t *s, const struct sockaddr_storage *a, int port) {
  for (int i = 0; i < s->count; i++) {
    const pt_endpoint_t *e = &s->endpoints[i];
    if (e->name || e->port != port) continue;
    if (e->loopback_range ? is_loopback(a) : same_ip(&e->addr, a)) return e->listener;
  }
  return NULL;
}

/* A lookup on a private loop, so that a slow resolver bounds the load
 * instead of blocking it: past RESOLVE_TIMEOUT_MS the lookup is abandoned
 * (its memory stays with the resolver thread: a rare, bounded cost). */
typedef struct lookup_s {
  uv_loop_t loop;
  uv_getaddrinfo_t req;
  uv_timer_t timer;
  int done;
  struct addrinfo *res;
} lookup_t;

static void on_resolved(uv_getaddrinfo_t *r, int status, struct addrinfo *res) {
  lookup_t *l = r->data;
  l->done = 1;
  l->res = status == 0 ? res : NULL;
  uv_timer_stop(&l->timer);
}

static void on_resolve_timeout(uv_timer_t *t) { uv_stop(t->loop); }

static const char *match_resolved(const pt_selfchain_t *s, const char *host, int port) {
  lookup_t *l = calloc(1, sizeof *l);
  if (!l || uv_loop_init(&l->loop) < 0) {
    free(l);
    return NULL;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  l->req.data = l;
  uv_timer_init(&l->loop, &l->timer);
  uv_timer_start(&l->timer, on_resolve_timeout, RESOLVE_TIMEOUT_MS, 0);
  if (uv_getaddrinfo(&l->loop, &l->req, on_resolved, host, NULL, &hints) < 0) l->done = 1;
  uv_run(&l->loop, UV_RUN_DEFAULT);
  if (!l->done) return NULL; /* abandoned, see above */
  const char *hit = NULL;
  for (struct addrinfo *ai = l->res; ai && !hit; ai = ai->ai_next) {
    struct sockaddr_storage a;
    memset(&a, 0, sizeof a);
    memcpy(&a, ai->ai_addr, ai->ai_addrlen);
    hit = match_addr(s, &a, port);
  }
  uv_freeaddrinfo(l->res);
  uv_close((uv_handle_t *)&l->timer, NULL);
  uv_run(&l->loop, UV_RUN_DEFAULT);
  uv_loop_close(&l->loop);
  free(l);
  return hit;
}

const char *pt_selfchain_match(const pt_selfchain_t *s, const pt_url_t *u, int resolve) {
  if (!u || !u->host) return NULL;
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  if (uv_ip4_addr(u->host, u->port, (struct sockaddr_in *)&a) == 0 ||
      uv_ip6_addr(u->host, u->port, (struct sockaddr_in6 *)&a) == 0)
    return match_addr(s, &a, u->port);
  for (int i = 0; i < s->count; i++)
    if (s->endpoints[i].name && s->endpoints[i].port == u->port && strcasecmp(s->endpoints[i].name, u->host) == 0)
      return s->endpoints[i].listener;
  return resolve ? match_resolved(s, u->host, u->port) : NULL;
}
