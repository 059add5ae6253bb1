/* server.h - downstream HTTP/1.x connections: accept, parse requests with
 * llhttp (strict), enforce limits and timeouts, route, hand the request to an
 * upstream exchange, and write responses in order (pipelining) with
 * backpressure both ways. Owns pt_conn_t and the request it is serving. */
#ifndef PT_SERVER_H
#define PT_SERVER_H

#include <uv.h>

struct pt_worker_s;

/* Listener connection callback: accepts one client on the worker's loop. */
void pt_server_on_connection(uv_stream_t *listener, int status);
/* Serves fd (one end of a socketpair made for an in-process dispatch) as a
 * client connection of worker w; https: the URL called was https, so its
 * requests count as having come over TLS (API protocols, X-Forwarded-Proto).
 * Returns 0, or a negative error (fd closed). */
int pt_server_adopt(struct pt_worker_s *w, int fd, int https);
/* Drain: closes idle keep-alive connections now; busy ones close after their response. */
void pt_server_drain(struct pt_worker_s *w);
/* Drain deadline: closes every connection of the worker. */
void pt_server_close_all(struct pt_worker_s *w);

#endif
