/* dns.c - cached asynchronous name resolution (see dns.h). */
#include "dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct pt_dns_entry_s {
  pt_dns_entry_t *next;
  char *host;
  struct sockaddr_storage addr; /* port 0; the caller's port is applied */
  uint64_t expires;             /* uv_now() */
};

struct pt_dns_lookup_s {
  uv_getaddrinfo_t req;
  pt_dns_t *dns;
  char *host;
  int port;
  pt_dns_cb cb; /* NULL once canceled */
  void *data;
};

void pt_dns_init(pt_dns_t *d, uv_loop_t *loop, uint64_t ttl_ms) {
  d->loop = loop;
  d->ttl_ms = ttl_ms;
  d->entries = NULL;
}

void pt_dns_free(pt_dns_t *d) {
  for (pt_dns_entry_t *e = d->entries, *n; e; e = n) {
    n = e->next;
    free(e->host);
    free(e);
  }
  d->entries = NULL;
}

static void set_port(struct sockaddr_storage *a, int port) {
  if (a->ss_family == AF_INET6) ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
  else ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
}

static int literal(const char *host, int port, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0) return 1;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0) return 1;
  return 0;
}

static pt_dns_entry_t *cached(pt_dns_t *d, const char *host) {
  for (pt_dns_entry_t *e = d->entries; e; e = e->next)
    if (strcmp(e->host, host) == 0) return e;
  return NULL;
}

static void remember(pt_dns_t *d, const char *host, const struct sockaddr *a, socklen_t len) {
  pt_dns_entry_t *e = cached(d, host);
  if (!e) {
    if (!(e = calloc(1, sizeof *e)) || !(e->host = strdup(host))) {
      free(e);
      return;
    }
    e->next = d->entries;
    d->entries = e;
  }
  memset(&e->addr, 0, sizeof e->addr);
  memcpy(&e->addr, a, len);
  e->expires = uv_now(d->loop) + d->ttl_ms;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  pt_dns_lookup_t *l = (pt_dns_lookup_t *)req;
  struct sockaddr_storage addr;
  if (status == 0 && res) {
    remember(l->dns, l->host, res->ai_addr, res->ai_addrlen);
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, res->ai_addr, res->ai_addrlen);
    set_port(&addr, l->port);
  } else if (status == 0) {
    status = UV_EAI_NONAME;
  }
  if (l->cb) l->cb(l->data, status, status == 0 ? &addr : NULL);
  uv_freeaddrinfo(res);
  free(l->host);
  free(l);
}

int pt_dns_resolve(pt_dns_t *d, const char *host, int port, struct sockaddr_storage *out,
                   pt_dns_cb cb, void *data, pt_dns_lookup_t **lookup) {
  if (literal(host, port, out)) return 0;
  pt_dns_entry_t *e = cached(d, host);
  if (e && e->expires > uv_now(d->loop)) {
    *out = e->addr;
    set_port(out, port);
    return 0;
  }
  pt_dns_lookup_t *l = calloc(1, sizeof *l);
  if (!l || !(l->host = strdup(host))) {
    free(l);
    return UV_ENOMEM;
  }
  l->dns = d;
  l->port = port;
  l->cb = cb;
  l->data = data;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = uv_getaddrinfo(d->loop, &l->req, on_resolved, host, NULL, &hints);
  if (rc < 0) {
    free(l->host);
    free(l);
    return rc;
  }
  *lookup = l;
  return 1;
}

void pt_dns_cancel(pt_dns_lookup_t *l) { l->cb = NULL; }
