/* config.h - the gateway configuration read from YAML (gateway.yaml).
 * Owns parsing, defaults and validation; every error names file:line:column
 * and the fix. Does not own run-time state: see registry.h for what requests use. */
#ifndef PT_CONFIG_H
#define PT_CONFIG_H

#include <stdint.h>
#include <sys/socket.h>

#include "diag.h"
#include "url.h"

typedef struct pt_listen_s {
  char *text; /* as written: "127.0.0.1:8080" */
  struct sockaddr_storage addr;
  int line, col;
} pt_listen_t;

typedef struct pt_backend_cfg_s {
  char *id;
  char *url_text;
  pt_url_t url;
  char *title, *description;
  int line, col;
} pt_backend_cfg_t;

typedef struct pt_api_cfg_s {
  char *id;
  char *display_name;
  char *path;        /* URL suffix without leading/trailing '/', may be "" */
  char *service_url_text;
  pt_url_t service_url;   /* resolved: from serviceUrl, or copied from the backend */
  char *backend_id;       /* NULL when serviceUrl is used */
  int line, col;
} pt_api_cfg_t;

typedef struct pt_config_s {
  char *file;             /* path it was loaded from */
  char *id;               /* gateway.id, default "portico" */
  char **hostnames;
  int nhostnames;
  pt_listen_t *listen;
  int nlisten;
  int workers;            /* default: number of CPUs */
  struct {
    uint32_t max_header_bytes; /* 16384 */
    uint32_t max_headers;      /* 100 */
    uint32_t max_url_bytes;    /* 8192 */
    uint64_t max_body_bytes;   /* 104857600 */
  } limits;
  struct { /* milliseconds */
    uint64_t header_read;      /* 10s */
    uint64_t idle;             /* 60s */
    uint64_t backend_connect;  /* 5s */
    uint64_t backend;          /* 300s */
    uint64_t drain;            /* 30s */
  } timeouts;
  struct {
    uint32_t max_idle_per_origin;    /* 64 */
    uint64_t idle_timeout;           /* ms, 30s */
    uint32_t max_requests_per_connection; /* 1000 */
  } pool;
  uint64_t dns_ttl;       /* ms, 30s */
  char *access_log;       /* NULL = off, "stdout", or a file path */
  pt_backend_cfg_t *backends;
  int nbackends;
  pt_api_cfg_t *apis;
  int napis;
} pt_config_t;

/* Loads and validates `path`. Returns a config (caller frees with pt_config_free)
 * or NULL; all problems are added to d (d->errors > 0 means unusable). */
pt_config_t *pt_config_load(const char *path, pt_diag_t *d);
void pt_config_free(pt_config_t *c);

/* "10s", "500ms", "5m", "1h", or a bare number of seconds -> milliseconds. */
int pt_parse_duration(const char *s, uint64_t *ms);
/* "16384", "16KiB", "100MiB", "1GiB" (also KB/MB/GB as powers of 1000) -> bytes. */
int pt_parse_size(const char *s, uint64_t *bytes);

#endif
