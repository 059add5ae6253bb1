/* openapi.h - OpenAPI import: an OpenAPI 2.0 (Swagger), 3.0 or 3.1 document, YAML or JSON,
 * becomes an API with its service URL and operations, following APIM's import rules.
 * Owns reading the spec, the APIM naming rules, printing the result as gateway.yaml and
 * merging it under an API written in YAML. Does not own the YAML configuration schema
 * (config.c) nor anything at run time. */
#ifndef PT_OPENAPI_H
#define PT_OPENAPI_H

#include <stdio.h>

#include "config.h"
#include "diag.h"

typedef struct pt_openapi_options_s {
  /* The API id. NULL: derived from info.title as APIM does (lowercase, each run of
   * characters other than [a-z0-9] becomes '-', trimmed, at most 80 characters). */
  const char *api_id;
  /* The API URL suffix ("" serves at the root). NULL: the API id, so that two imported
   * APIs never both claim the root (APIM asks for a suffix on import too). */
  const char *path;
  /* Resolves relative server URLs (RFC 3986), and a spec without servers (OpenAPI 3's
   * implicit "/") or without a Swagger 2 host. NULL: an explicit relative server URL is an
   * error; a spec without any server gives an empty service URL and a warning. */
  const char *base_url;
  /* Set when the caller has its own service URL (gateway.yaml serviceUrl or backend):
   * the spec's servers are still read, but their problems are neither errors nor warnings. */
  int service_url_given;
} pt_openapi_options_t;

/* Reads SPEC into *api, which is overwritten (zeroed first): id, display_name, description,
 * path, service_url_text + service_url (both empty when the spec has no usable server),
 * operations (id, method, url_template, display_name, example_*). Errors and warnings go to d,
 * each naming the spec file, line:column when known and the JSON pointer:
 *   spec.yaml:12:11: /paths/~1orders/get/parameters/0: $ref '#/components/parameters/nope'
 *   does not resolve
 * Returns 0, or -1 after adding at least one error; *api is then left empty.
 * Free a successful result with pt_openapi_api_free. */
int pt_openapi_import(const char *spec, const pt_openapi_options_t *o, pt_api_cfg_t *api,
                      pt_diag_t *d);

/* Prints the `apis:` entry a user would paste into gateway.yaml. */
void pt_openapi_print_yaml(FILE *out, const pt_api_cfg_t *api);

/* Fills what the YAML left empty in dst with copies from imported: display_name,
 * description, path, service URL (only when dst has neither a service URL nor a backend),
 * the empty fields of operations with the same id, and appends the operations dst does not
 * declare. dst->operations must be NULL or come from malloc (it is grown with realloc); the
 * new strings are dst's to free. Returns 0, or -1 when out of memory (dst stays valid). */
int pt_openapi_merge(pt_api_cfg_t *dst, const pt_api_cfg_t *imported);

/* Frees what pt_openapi_import allocated and zeroes *api. */
void pt_openapi_api_free(pt_api_cfg_t *api);

/* APIM's name normalisation into out (size >= 2): lowercase, every run of characters other
 * than [a-z0-9] becomes one '-', '-' trimmed at both ends, at most max characters (and
 * no trailing '-' after the cut). Returns the length (0 when nothing is left). */
size_t pt_openapi_normalize(const char *s, size_t max, char *out, size_t outlen);

#endif
