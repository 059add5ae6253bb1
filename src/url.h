/* url.h - absolute http(s) URLs as used by backends and service URLs. */
#ifndef PT_URL_H
#define PT_URL_H

typedef struct pt_url_s {
  char scheme[8];  /* "http" or "https" */
  char *host;      /* owned; without brackets for IPv6 literals */
  int port;        /* explicit or the scheme's default */
  int default_port;
  char *path;      /* owned; "" or starts with '/'; no query */
  char *authority; /* owned; the Host header value for this origin: host[:port] */
  char *origin;    /* owned; "scheme://host:port" with the port always present (pool key) */
} pt_url_t;

/* Parses an absolute URL; on failure returns -1 and writes why into err. */
int pt_url_parse(pt_url_t *u, const char *s, char *err, int errlen);
void pt_url_free(pt_url_t *u);

#endif
