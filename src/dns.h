/* dns.h - per-worker name resolution through uv_getaddrinfo, cached with a TTL.
 * IP literals never touch the resolver. Owns its cache and in-flight lookups. */
#ifndef PT_DNS_H
#define PT_DNS_H

#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

typedef void (*pt_dns_cb)(void *data, int status, const struct sockaddr_storage *addr);
typedef struct pt_dns_lookup_s pt_dns_lookup_t;
typedef struct pt_dns_entry_s pt_dns_entry_t;

typedef struct pt_dns_s {
  uv_loop_t *loop;
  uint64_t ttl_ms;
  pt_dns_entry_t *entries; /* small list: a gateway talks to few hosts */
} pt_dns_t;

void pt_dns_init(pt_dns_t *d, uv_loop_t *loop, uint64_t ttl_ms);
void pt_dns_free(pt_dns_t *d);
/* Resolves host:port. Returns 0 when *out is filled at once (literal or cached),
 * 1 when cb will be called later (unless pt_dns_cancel(*lookup) first), or a
 * negative error. */
int pt_dns_resolve(pt_dns_t *d, const char *host, int port, struct sockaddr_storage *out,
                   pt_dns_cb cb, void *data, pt_dns_lookup_t **lookup);
/* The callback will not be called; the lookup frees itself when libuv is done. */
void pt_dns_cancel(pt_dns_lookup_t *l);

#endif
