/* config.h - the gateway configuration read from YAML (gateway.yaml).
 * Owns parsing, defaults and validation; every error names file:line:column
 * and the fix. Does not own run-time state: see registry.h for what requests use. */
#ifndef PT_CONFIG_H
#define PT_CONFIG_H

#include <stdint.h>
#include <sys/socket.h>

#include "diag.h"
#include "url.h"

/* A certificate with its private key (PEM files, resolved paths). */
typedef struct pt_cert_cfg_s {
  char *certificate, *key;
  char **hostnames;        /* gateway.certificates: the SNI names it serves ("*.x.com" allowed) */
  int nhostnames;
  int line, col;
} pt_cert_cfg_t;

/* A list of CA certificate files (PEM), each with where it was written. */
typedef struct pt_ca_list_s {
  char **files;
  int *lines, *cols;
  int n;
} pt_ca_list_t;

/* certificates.<id>: APIM's certificate entities, for authentication-certificate. */
typedef struct pt_cert_entity_cfg_s {
  char *id;
  pt_cert_cfg_t cert;
} pt_cert_entity_cfg_t;

enum { PT_CLIENT_CERT_NONE, PT_CLIENT_CERT_OPTIONAL, PT_CLIENT_CERT_REQUIRED };

typedef struct pt_listen_tls_s {
  pt_cert_cfg_t cert;      /* certificate NULL: the first of gateway.certificates is the default */
  int client_cert;         /* PT_CLIENT_CERT_* */
  pt_ca_list_t client_cas; /* caCertificates: who may sign client certificates */
  int line, col;
} pt_listen_tls_t;

typedef struct pt_listen_s {
  char *text; /* as written: "127.0.0.1:8080" */
  struct sockaddr_storage addr;
  pt_listen_tls_t *tls; /* NULL: plain HTTP */
  int line, col;
} pt_listen_t;

/* A name with one or more values: credentials.header / credentials.query. */
typedef struct pt_param_cfg_s {
  char *name;
  char **values;
  int nvalues;
} pt_param_cfg_t;

typedef struct pt_pool_member_cfg_s {
  char *id;                /* a Single backend's id ("/backends/x" is accepted and stored as "x") */
  int priority;            /* 0 = highest, the default */
  int weight;              /* default 1 */
  int line, col;
} pt_pool_member_cfg_t;

typedef struct pt_status_range_s {
  int min, max;
} pt_status_range_t;

typedef struct pt_circuit_rule_cfg_s {
  char *name;
  uint32_t count;          /* failures that trip, or 0 when percentage is used */
  uint32_t percentage;     /* 1..100, or 0 when count is used */
  uint64_t interval_ms;
  pt_status_range_t *status_ranges;
  int nstatus_ranges;
  char **error_reasons;    /* APIM reasons counted as failures ("BackendConnectionFailure", "Timeout") */
  int nerror_reasons;
  uint64_t trip_duration_ms;
  int accept_retry_after;
  int failure_status;      /* failureResponse.statusCode, default 503 */
} pt_circuit_rule_cfg_t;

typedef struct pt_backend_cfg_s {
  char *id;
  char *url_text;          /* after {{named value}} substitution; NULL for a Pool */
  pt_url_t url;
  char *title, *description;
  int soap;                /* protocol: soap */
  int pool;                /* type: Pool */
  pt_param_cfg_t *cred_headers;
  int ncred_headers;
  pt_param_cfg_t *cred_query;
  int ncred_query;
  char *auth_scheme, *auth_parameter; /* credentials.authorization */
  pt_cert_cfg_t *certificates;
  int ncertificates;
  int validate_chain, validate_name;  /* tls.*, default 1 */
  pt_ca_list_t cas;                   /* tls.caCertificates: trusted for this backend only */
  char *proxy_url, *proxy_username, *proxy_password;
  pt_pool_member_cfg_t *members;      /* pool.services */
  int nmembers;
  pt_circuit_rule_cfg_t *circuit;     /* circuitBreaker.rules[0], or NULL */
  int has_secret;          /* a secret named value went into url, credentials or proxy */
  int line, col;
} pt_backend_cfg_t;

typedef struct pt_named_value_cfg_s {
  char *name;
  char *value;             /* from value, fromEnv or fromFile */
  int secret;
  char *file;              /* fromFile, resolved (watched for hot reload), or NULL */
  int line, col;
} pt_named_value_cfg_t;

typedef struct pt_operation_cfg_s {
  char *id;
  char *method;            /* uppercase; "*" for any */
  char *url_template;      /* "/orders/{id}", "/search?q={q}", or ending in a wildcard */
  char *display_name;
  /* From an imported OpenAPI spec, for mock-response: the first example of the first 2xx
   * response that has one (0/NULL when none). The body is JSON text, or the example string
   * itself when it is a string and the media type is not JSON. */
  int example_status;      /* 200, 201, ... ("2XX" gives 200) */
  char *example_content_type;
  char *example_body;
  char *policy_file;       /* operation-scope policy document, or NULL */
  int line, col;
} pt_operation_cfg_t;

enum { PT_VERSION_NONE, PT_VERSION_SEGMENT, PT_VERSION_QUERY, PT_VERSION_HEADER };

typedef struct pt_version_set_cfg_s {
  char *id;
  char *display_name;
  int scheme;              /* PT_VERSION_* (versioningScheme) */
  char *name;              /* versionQueryName / versionHeaderName */
  int line, col;
} pt_version_set_cfg_t;

typedef struct pt_api_cfg_s {
  char *id;
  char *display_name;
  char *description;
  char *path;        /* URL suffix without leading/trailing '/', may be "" */
  char *service_url_text;
  pt_url_t service_url;   /* resolved: from serviceUrl, or copied from the backend; both stay
                             NULL/zeroed when the backend is a Pool (it has no URL of its own) */
  char *backend_id;       /* NULL when serviceUrl is used */
  int has_secret;         /* the backend has_secret: do not show service_url_text */
  char **protocols;       /* default [http, https] */
  int nprotocols;
  int subscription_required;  /* default 1, as APIM */
  char *sub_key_header;   /* default "Ocp-Apim-Subscription-Key" */
  char *sub_key_query;    /* default "subscription-key" */
  char *api_version;      /* with version_set: "v1" */
  const pt_version_set_cfg_t *version_set; /* apiVersionSetId, or NULL */
  char *openapi_file;     /* imported at load time; YAML fields win */
  char *policy_file;      /* API-scope policy document, or NULL */
  pt_operation_cfg_t *operations; /* none: every method and path under the API */
  int noperations;
  int line, col;
} pt_api_cfg_t;

typedef struct pt_product_cfg_s {
  char *id;
  char *display_name;
  char **apis;            /* API ids */
  int napis;
  int subscription_required; /* default 1 */
  int published;          /* state: published (default) | notPublished */
  char *policy_file;      /* product-scope policy document, or NULL */
  int line, col;
} pt_product_cfg_t;

enum { PT_SCOPE_ALL, PT_SCOPE_PRODUCT, PT_SCOPE_API };

typedef struct pt_subscription_cfg_s {
  char *id;
  char *display_name;
  int scope;              /* PT_SCOPE_*: "all", "product/<id>", "api/<id>" (also "/products/<id>") */
  char *scope_id;
  char *primary_key, *secondary_key; /* after {{named value}} substitution */
  int active;             /* state: active (default) | suspended | cancelled | expired ... */
  int line, col;
} pt_subscription_cfg_t;

typedef struct pt_fragment_cfg_s {
  char *id;
  char *file;
  int line, col;
} pt_fragment_cfg_t;

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
  int max_hops;           /* gateway.maxHops: this gateway's Via entries a request may carry, 10 */
  int self_chaining_reject; /* gateway.selfChaining: dispatch (0, default) | reject (1) */
  uint64_t cache_max_bytes;  /* gateway.cache.maxBytes: the policy cache (cache-store...), 64 MiB */
  struct {                /* gateway.admin; admin.listen.text NULL: no admin listener */
    pt_listen_t listen;
    char *token;          /* Bearer token (a secret; never printed) */
  } admin;
  char *access_log;       /* NULL = off, "stdout", or a file path */
  pt_cert_cfg_t *certificates; /* gateway.certificates: chosen by SNI on TLS listeners */
  int ncertificates;
  pt_cert_entity_cfg_t *cert_entities; /* certificates.<id> (top level) */
  int ncert_entities;
  struct {                /* gateway.tls */
    pt_ca_list_t cas;     /* caCertificates: trusted for every https backend */
    char **ciphers;       /* mbedTLS suite names; NULL: the modern default */
    int nciphers;
    int session_tickets;  /* default 1 */
    int line, col;        /* of ciphers, for errors found when the suites are applied */
  } tls;
  pt_backend_cfg_t *backends;
  int nbackends;
  pt_api_cfg_t *apis;
  int napis;
  pt_named_value_cfg_t *named_values;
  int nnamed_values;
  pt_version_set_cfg_t *version_sets;
  int nversion_sets;
  pt_product_cfg_t *products;
  int nproducts;
  pt_subscription_cfg_t *subscriptions;
  int nsubscriptions;
  char *policy_file;      /* gateway.policy: the global scope, or NULL */
  char **policy_paths;    /* gateway.policyPaths: folders of user policy modules */
  int npolicy_paths;
  pt_fragment_cfg_t *fragments; /* fragments.<id>: file */
  int nfragments;
} pt_config_t;

/* Loads and validates `path`. Returns a config (caller frees with pt_config_free)
 * or NULL; all problems are added to d (d->errors > 0 means unusable). */
pt_config_t *pt_config_load(const char *path, pt_diag_t *d);
void pt_config_free(pt_config_t *c);

/* Whether two listen addresses are the same (family, address and port). */
int pt_listen_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* "10s", "500ms", "5m", "1h", or a bare number of seconds -> milliseconds. */
int pt_parse_duration(const char *s, uint64_t *ms);
/* "16384", "16KiB", "100MiB", "1GiB" (also KB/MB/GB as powers of 1000) -> bytes. */
int pt_parse_size(const char *s, uint64_t *bytes);

#endif
