/* config_load.h - internal: what the files of the configuration loader share.
 * config.c drives the load (document, gateway section, defaults, freeing) and calls
 * the section readers in dependency order: namedValues (config_namedvalue.c), backends
 * (config_backend.c), apiVersionSets and apis (config_api.c), products and
 * subscriptions (config_product.c). Each reader reports located errors through the
 * pt__yaml_t helpers and frees what it owns in pt_config_t. */
#ifndef PT_CONFIG_LOAD_H
#define PT_CONFIG_LOAD_H

#include "config.h"
#include "yamlnode.h"

#define PT__ID_MAX 80 /* APIM's limit on backend, API, product, subscription, operation ids */

typedef struct pt__api_nodes_s {
  yaml_node_t *path;    /* where the API's path and apiVersion were written, or NULL */
  yaml_node_t *version;
} pt__api_nodes_t;

typedef struct pt__loader_s {
  pt__yaml_t y;
  pt_config_t *c;
  pt__api_nodes_t *api_nodes; /* parallel to c->apis, for cross-checks */
  int listen_seen;            /* else the default listener is added */
  int sub_required_default;   /* subscriptionRequired when an API does not say */
  yaml_node_t *admin;         /* gateway.admin, read once named values are known */
} pt__loader_t;

/* ---- config.c ---- */
/* Checks an APIM id (1-80 of [A-Za-z0-9._-]); writes why it is wrong into why. */
int pt__id_ok(const char *s, char *why, size_t n);
typedef int (*pt__id_check)(const char *s, char *why, size_t n);
/* A policy document path (relative to the config file) that must be readable. */
void pt__policy_file(pt__loader_t *L, const char *parent, yaml_node_t *n, char **out);
typedef void (*pt__entry_fn)(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *v);
/* Iterates an "id -> mapping" section; checks ids and repeats, calls fn for each entry. */
void pt__each_entry(pt__loader_t *L, const char *section, yaml_node_t *m, pt__id_check check,
                    pt__entry_fn fn);
/* The id in a reference that may be written APIM's way: "/backends/x" or a full resource
 * id ending in "/backends/x" -> "x"; anything else is returned as is. */
const char *pt__ref_id(const char *s, const char *collection);
/* Reports a URL problem at n, whose text (as written) may hold {{named values}}; `used`
 * is the text after substitution. User info is never echoed, and when a secret went in
 * neither is the substituted text nor the parser's reason. */
void pt__bad_url(pt__loader_t *L, const char *path, yaml_node_t *n, const char *used,
                 const char *err, int secret);

/* ---- config_namedvalue.c ---- */
void pt__load_named_values(pt__loader_t *L, yaml_node_t *section);
/* Reads the string at n with {{named values}} substituted into *out; a missing name is
 * reported at n with the closest defined one. *secret is set when a secret went in. */
int pt__substitute(pt__loader_t *L, const char *path, yaml_node_t *n, char **out, int *secret);
void pt__free_named_values(pt_config_t *c);

/* ---- config_backend.c ---- */
void pt__load_backends(pt__loader_t *L, yaml_node_t *section);
const pt_backend_cfg_t *pt__find_backend(const pt_config_t *c, const char *id);
void pt__free_backends(pt_config_t *c);

/* ---- config_api.c ---- */
void pt__load_version_sets(pt__loader_t *L, yaml_node_t *section);
void pt__load_apis(pt__loader_t *L, yaml_node_t *section);
const pt_api_cfg_t *pt__find_api(const pt_config_t *c, const char *id);
void pt__free_apis(pt_config_t *c);

/* ---- config_product.c ---- */
void pt__load_products(pt__loader_t *L, yaml_node_t *section);
void pt__load_subscriptions(pt__loader_t *L, yaml_node_t *section);
void pt__free_products(pt_config_t *c);

/* ---- config_tls.c ---- */
pt_listen_tls_t *pt__load_listen_tls(pt__loader_t *L, const char *path, yaml_node_t *n);
void pt__load_certificates(pt__loader_t *L, const char *path, yaml_node_t *n);
void pt__load_gateway_tls(pt__loader_t *L, yaml_node_t *n);
/* certificates.<id>: {certificate, key} */
void pt__load_certificate_entity(pt__loader_t *L, const char *path, yaml_node_t *k, yaml_node_t *v);
/* {certificate, key} (and hostnames when with_hostnames): 0, or -1 after reporting. */
int pt__load_cert(pt__loader_t *L, const char *path, yaml_node_t *n, int with_hostnames, pt_cert_cfg_t *out);
/* A file or a list of files, resolved against the config file's folder. */
void pt__load_ca_list(pt__loader_t *L, const char *path, yaml_node_t *n, pt_ca_list_t *out);
void pt__free_cert(pt_cert_cfg_t *c);
void pt__free_ca_list(pt_ca_list_t *l);
void pt__free_tls(pt_config_t *c);

#endif
