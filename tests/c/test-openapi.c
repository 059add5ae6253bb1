/* test-openapi.c - OpenAPI import (openapi.c): specs in tests/c/fixtures/openapi/ are imported
 * and printed, and the YAML is compared with NAME.expected.yaml beside them (golden files;
 * PT_UPDATE_GOLDEN=1 rewrites them, review the diff). The printed YAML is also read back
 * with libyaml to prove its quoting. Errors are checked as whole located messages; examples,
 * merging and name normalisation through the structures. Run from the repository root. */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "check.h"
#include "openapi.h"

#define DIR "tests/c/fixtures/openapi/"

#define CHECK_STR(got, want)                                                             \
  do {                                                                                   \
    const char *g_ = (got), *w_ = (want);                                                \
    if (!(g_ == w_ || (g_ && w_ && strcmp(g_, w_) == 0))) {                              \
      fprintf(stderr, "%s:%d: check failed: %s is \"%s\", expected \"%s\"\n", __FILE__, \
              __LINE__, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                   \
      check_failures++;                                                                  \
    }                                                                                    \
  } while (0)

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *s = NULL;
  size_t len = 0;
  if (!f) return NULL;
  FILE *m = open_memstream(&s, &len);
  int c;
  while ((c = fgetc(f)) != EOF) fputc(c, m);
  fclose(m);
  fclose(f);
  return s;
}

static char *print_api(const pt_api_cfg_t *api) {
  char *s = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&s, &len);
  pt_openapi_print_yaml(m, api);
  fclose(m);
  return s;
}

static int has_message(const pt_diag_t *d, const char *want) {
  for (int i = 0; i < d->count; i++)
    if (strcmp(d->messages[i], want) == 0) return 1;
  return 0;
}

static void show_messages(const pt_diag_t *d) {
  for (int i = 0; i < d->count; i++) fprintf(stderr, "    got: %s\n", d->messages[i]);
}

/* ---- reading the printed YAML back ---- */

static yaml_node_t *get(yaml_document_t *doc, yaml_node_t *m, const char *key) {
  if (!m || m->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key);
    if (k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
      return yaml_document_get_node(doc, p->value);
  }
  return NULL;
}

static const char *str(yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Every printed value reads back as the string it came from. */
static void check_roundtrip(const char *spec, const char *yaml, const pt_api_cfg_t *api) {
  yaml_parser_t p;
  yaml_document_t doc;
  yaml_parser_initialize(&p);
  yaml_parser_set_input_string(&p, (const unsigned char *)yaml, strlen(yaml));
  if (!yaml_parser_load(&p, &doc)) {
    fprintf(stderr, "%s: printed YAML does not parse: %s at %zu:%zu\n", spec, p.problem,
            p.problem_mark.line + 1, p.problem_mark.column + 1);
    check_failures++;
    yaml_parser_delete(&p);
    return;
  }
  yaml_node_t *a = get(&doc, get(&doc, yaml_document_get_root_node(&doc), "apis"), api->id);
  CHECK(a != NULL);
  CHECK_STR(str(get(&doc, a, "displayName")), api->display_name);
  CHECK_STR(str(get(&doc, a, "description")), api->description);
  CHECK_STR(str(get(&doc, a, "path")), api->path);
  CHECK_STR(str(get(&doc, a, "serviceUrl")), api->service_url_text);
  for (int i = 0; i < api->noperations; i++) {
    const pt_operation_cfg_t *op = &api->operations[i];
    yaml_node_t *o = get(&doc, get(&doc, a, "operations"), op->id);
    CHECK(o != NULL);
    CHECK_STR(str(get(&doc, o, "method")), op->method);
    CHECK_STR(str(get(&doc, o, "urlTemplate")), op->url_template);
    CHECK_STR(str(get(&doc, o, "displayName")), op->display_name);
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&p);
}

/* ---- golden files ---- */

typedef struct golden_s {
  const char *spec, *expected;
  pt_openapi_options_t o;
  const char *messages[4]; /* warnings that must be among the messages, exactly */
  int nmessages;           /* how many messages in all */
} golden_t;

static const golden_t goldens[] = {
    {"swagger2.yaml", "swagger2.expected.yaml", {0}, {NULL}, 0},
    {"swagger2.json", "swagger2-json.expected.yaml", {0}, {NULL}, 0},
    {"oas30-refs.yaml", "oas30-refs.expected.yaml", {0},
     {DIR "oas30-refs.yaml:35:20: warning: /paths/~1v1~1items~1{sku}/get: the name 'getitem' "
          "is already taken by another operation; this one is named 'getitem-1'"}, 1},
    {"oas31.json", "oas31.expected.yaml", {0}, {NULL}, 0},
    {"relative.yaml", "relative-base.expected.yaml",
     {.api_id = "rel", .path = "/edge/rel/", .base_url = "http://10.0.0.5:8080/plant/a/b"},
     {DIR "relative.yaml:6:10: warning: /servers/1/url: no https server; using the first http "
          "one 'http://10.0.0.5:8080/plant/v1/'"}, 1},
    {"no-servers.yaml", "no-servers.expected.yaml", {0},
     {DIR "no-servers.yaml: warning: no servers: the service URL is empty (set serviceUrl in "
          "gateway.yaml, or give a base URL with --base-url)"}, 1},
    {"no-servers.yaml", "no-servers-base.expected.yaml",
     {.base_url = "https://gw.local:8443/x/", .path = ""}, {NULL}, 0},
    {"swagger2-noschemes.yaml", "swagger2-noschemes-base.expected.yaml",
     {.base_url = "https://gw.local:8443/x/"}, {NULL}, 0},
    {"http-only.yaml", "http-only.expected.yaml", {0},
     {DIR "http-only.yaml:6:10: warning: /servers/1/url: no https server; using the first "
          "http one 'http://10.0.0.5:9000/plc/'"}, 1},
    {"opid.yaml", "opid.expected.yaml", {0},
     {DIR "opid.yaml:9:24: warning: /paths/~1a/put: the name 'get-order' is already taken by "
          "another operation; this one is named 'get-order-1'",
      DIR "opid.yaml:11:27: warning: /paths/~1a/delete: the name 'get-order-1' is already "
          "taken by another operation; this one is named 'get-order-1-1'",
      DIR "opid.yaml:12:28: warning: /paths/~1a/options: operationId '¿¡!' has no letters or "
          "digits; the operation is named from its method and path"}, 4},
    {"tricky.yaml", "tricky.expected.yaml", {0}, {NULL}, 0},
    /* YAML flow style that is not JSON: single-quoted strings keep their backslashes */
    {"flow.yaml", "flow.expected.yaml", {0}, {NULL}, 0},
    /* the caller has its own service URL: the relative server is no error */
    {"relative.yaml", "relative-given.expected.yaml", {.service_url_given = 1}, {NULL}, 0},
    {"server-var.yaml", "server-var-given.expected.yaml", {.service_url_given = 1},
     {DIR "server-var.yaml: warning: the spec has no operations; the API will accept every "
          "method and path under its path"}, 1},
};

static void run_golden(const golden_t *g) {
  char spec[256], expected_path[256];
  pt_diag_t d = {0};
  pt_api_cfg_t api;
  snprintf(spec, sizeof spec, DIR "%s", g->spec);
  snprintf(expected_path, sizeof expected_path, DIR "%s", g->expected);
  if (pt_openapi_import(spec, &g->o, &api, &d) != 0) {
    fprintf(stderr, "%s: import failed\n", spec);
    show_messages(&d);
    check_failures++;
    pt_diag_free(&d);
    return;
  }
  char *got = print_api(&api), *want = slurp(expected_path);
  if (getenv("PT_UPDATE_GOLDEN")) {
    FILE *f = fopen(expected_path, "w");
    if (f) fputs(got, f), fclose(f);
  } else if (!want || strcmp(got, want) != 0) {
    fprintf(stderr, "%s: printed YAML differs from %s\n--- got\n%s--- expected\n%s", spec,
            expected_path, got, want ? want : "(missing)\n");
    check_failures++;
  }
  check_roundtrip(spec, got, &api);
  CHECK(d.errors == 0);
  for (int i = 0; i < 4 && g->messages[i]; i++) {
    if (!has_message(&d, g->messages[i])) {
      fprintf(stderr, "%s: missing message: %s\n", spec, g->messages[i]);
      show_messages(&d);
      check_failures++;
    }
  }
  if (d.count != g->nmessages) {
    fprintf(stderr, "%s: %d messages, expected %d\n", spec, d.count, g->nmessages);
    show_messages(&d);
    check_failures++;
  }
  free(got);
  free(want);
  pt_openapi_api_free(&api);
  pt_diag_free(&d);
}

/* ---- errors ---- */

typedef struct failing_s {
  const char *spec;
  pt_openapi_options_t o;
  const char *messages[4]; /* all of them, exactly, in order */
} failing_t;

static const failing_t failures_[] = {
    {"bad-ref.yaml", {0},
     {DIR "bad-ref.yaml:8:17: /paths/~1orders/get/parameters/0: $ref "
          "'#/components/parameters/nope' does not resolve",
      DIR "bad-ref.yaml:9:17: /paths/~1orders/get/parameters/1: $ref "
          "'common.yaml#/components/parameters/Limit' points outside this document (only "
          "'#/...' references are followed; bundle the spec into one file first)",
      DIR "bad-ref.yaml:15:19: /paths/~1orders/get/parameters/2: $ref "
          "'#/components/parameters/Loop': more than 32 references in a chain (a cycle?)"}},
    {"not-openapi.yaml", {0},
     {DIR "not-openapi.yaml: not an OpenAPI document (no 'openapi: 3.x' or 'swagger: \"2.0\"' "
          "at the top)"}},
    {"bad-version.yaml", {0},
     {DIR "bad-version.yaml:1:10: /openapi: unsupported version '4.0.0' (supported: swagger "
          "2.0, openapi 3.0.x and 3.1.x)"}},
    {"swagger12.json", {0},
     {DIR "swagger12.json:1:13: /swagger: unsupported version '1.2' (supported: swagger 2.0, "
          "openapi 3.0.x and 3.1.x)"}},
    {"syntax.yaml", {0},
     {DIR "syntax.yaml:9:6: syntax error: did not find expected key (while parsing a block "
          "mapping started at 7:5)"}},
    {"syntax.json", {0},
     {DIR "syntax.json:4:3: syntax error: did not find expected ',' or '}' (while parsing a "
          "flow mapping started at 1:1)"}},
    {"server-var.yaml", {0},
     {DIR "server-var.yaml:6:15: /servers/0/url: server variable 'region' has no default "
          "(APIM substitutes defaults)",
      DIR "server-var.yaml:4:10: /servers/0/url: server URL 'https://{region}.example.com/{base}' "
          "uses '{base}', which is not declared under variables"}},
    {"two-docs.yaml", {0},
     {DIR "two-docs.yaml:5:1: a second YAML document (a spec is one document; remove the '---' "
          "and what follows, or split the file)"}},
    {"relative.yaml", {0},
     {DIR "relative.yaml:6:10: /servers/1/url: server URL '../v1/' is relative; give a base "
          "URL to resolve it against (--base-url) or set serviceUrl in gateway.yaml"}},
    {"swagger2-noschemes.yaml", {0},
     {DIR "swagger2-noschemes.yaml:3:7: /host: server URL '//api.example.com/v3' is relative; "
          "give a base URL to resolve it against (--base-url) or set serviceUrl in gateway.yaml"}},
    {"relative.yaml", {.base_url = "ftp://files.local/"},
     {DIR "relative.yaml: the base URL 'ftp://files.local/' has unknown scheme 'ftp' (expected "
          "http or https)"}},
    {"missing.yaml", {0},
     {DIR "missing.yaml: cannot open the spec: No such file or directory"}},
    {"swagger2.yaml", {.path = "a b"},
     {DIR "swagger2.yaml: the API path 'a b' cannot hold '?', '#', spaces or an empty segment"}},
};

static void run_failing(const failing_t *f) {
  char spec[256];
  pt_diag_t d = {0};
  pt_api_cfg_t api;
  int n = 0;
  snprintf(spec, sizeof spec, DIR "%s", f->spec);
  CHECK(pt_openapi_import(spec, &f->o, &api, &d) == -1);
  CHECK(api.id == NULL && api.operations == NULL); /* left empty */
  while (n < 4 && f->messages[n]) n++;
  for (int i = 0; i < n; i++) {
    if (i >= d.count || strcmp(d.messages[i], f->messages[i]) != 0) {
      fprintf(stderr, "%s: message %d is\n    \"%s\", expected\n    \"%s\"\n", spec, i,
              i < d.count ? d.messages[i] : "(none)", f->messages[i]);
      check_failures++;
    }
  }
  if (d.count != n || d.errors != n) {
    fprintf(stderr, "%s: %d messages (%d errors), expected %d errors\n", spec, d.count,
            d.errors, n);
    show_messages(&d);
    check_failures++;
  }
  pt_diag_free(&d);
}

/* ---- examples ---- */

static const pt_operation_cfg_t *find_op(const pt_api_cfg_t *api, const char *id) {
  for (int i = 0; i < api->noperations; i++)
    if (strcmp(api->operations[i].id, id) == 0) return &api->operations[i];
  fprintf(stderr, "no operation %s\n", id);
  check_failures++;
  return NULL;
}

static void expect_example(const pt_api_cfg_t *api, const char *op_id, int status,
                           const char *type, const char *body) {
  const pt_operation_cfg_t *op = find_op(api, op_id);
  if (!op) return;
  CHECK(op->example_status == status);
  CHECK_STR(op->example_content_type, type);
  CHECK_STR(op->example_body, body);
}

static int import_ok(const char *spec, pt_api_cfg_t *api) {
  pt_diag_t d = {0};
  int rc = pt_openapi_import(spec, NULL, api, &d);
  if (rc != 0) show_messages(&d);
  CHECK(rc == 0);
  pt_diag_free(&d);
  return rc;
}

static void test_examples(void) {
  pt_api_cfg_t api;
  if (import_ok(DIR "swagger2.yaml", &api) == 0) {
    expect_example(&api, "orders-list", 200, "application/json",
                   "[{\"id\":1,\"sku\":\"A-100\",\"rush\":true,\"note\":null}]");
    expect_example(&api, "orders-create", 201, "text/plain", "created");
    expect_example(&api, "delete-orders-id", 0, NULL, NULL);
    pt_openapi_api_free(&api);
  }
  if (import_ok(DIR "swagger2.json", &api) == 0) {
    expect_example(&api, "readings-list", 200, "application/json",
                   "{\"values\":[1.5,-2,3e2],\"unit\":\"\xC2\xB0" "C\"}");
    pt_openapi_api_free(&api);
  }
  if (import_ok(DIR "oas30-refs.yaml", &api) == 0) {
    expect_example(&api, "listitems", 200, "application/json",
                   "{\"items\":[{\"sku\":\"B-12\",\"count\":40,\"label\":\"0042\"}]}");
    /* 2XX; the XML media type has no example, the first of `examples` is a $ref */
    expect_example(&api, "getitem", 200, "application/json", "{\"sku\":\"B-12\",\"size\":\"M8\"}");
    pt_openapi_api_free(&api);
  }
  if (import_ok(DIR "oas31.json", &api) == 0) {
    expect_example(&api, "startline", 202, "application/json", "{\"accepted\":true,\"eta\":12.5}");
    expect_example(&api, "updateline", 200, "text/plain", "updated");
    expect_example(&api, "get-lines-line", 0, NULL, NULL);
    pt_openapi_api_free(&api);
  }
}

/* ---- merging under YAML ---- */

static void test_merge(void) {
  pt_api_cfg_t im, dst = {0};
  if (import_ok(DIR "swagger2.yaml", &im) != 0) return;

  /* YAML declared a display name, a path, a backend and one operation with its own template */
  dst.id = strdup("orders");
  dst.display_name = strdup("Mine");
  dst.path = strdup("shop");
  dst.backend_id = strdup("b1");
  dst.operations = calloc(1, sizeof *dst.operations);
  dst.noperations = 1;
  dst.operations[0].id = strdup("orders-list");
  dst.operations[0].url_template = strdup("/mine");
  CHECK(pt_openapi_merge(&dst, &im) == 0);
  CHECK_STR(dst.display_name, "Mine");
  CHECK_STR(dst.description, "Orders kept on the factory floor.");
  CHECK_STR(dst.path, "shop");
  CHECK(dst.service_url_text == NULL); /* the backend stays */
  CHECK(dst.noperations == 3);
  if (dst.noperations == 3) {
    CHECK_STR(dst.operations[0].url_template, "/mine");
    CHECK_STR(dst.operations[0].method, "GET");
    CHECK_STR(dst.operations[0].display_name, "List orders");
    CHECK(dst.operations[0].example_status == 200);
    CHECK_STR(dst.operations[1].id, "orders-create");
    CHECK_STR(dst.operations[2].id, "delete-orders-id");
    CHECK_STR(dst.operations[2].url_template, "/orders/{id}");
  }
  free(dst.backend_id);
  dst.backend_id = NULL;
  pt_openapi_api_free(&dst); /* frees the same fields import allocates */

  /* nothing in YAML but the id: everything comes from the spec */
  memset(&dst, 0, sizeof dst);
  dst.id = strdup("orders");
  CHECK(pt_openapi_merge(&dst, &im) == 0);
  CHECK_STR(dst.service_url_text, "https://orders.example.com:8443/api/");
  CHECK_STR(dst.service_url.host, "orders.example.com");
  CHECK(dst.service_url.port == 8443);
  CHECK_STR(dst.path, "orders-edge-api");
  CHECK(dst.noperations == 3);
  pt_openapi_api_free(&dst);
  pt_openapi_api_free(&im);
}

/* ---- names ---- */

static void expect_norm(const char *in, size_t max, const char *want) {
  char out[128];
  size_t n = pt_openapi_normalize(in, max, out, sizeof out);
  CHECK_STR(out, want);
  CHECK(n == strlen(want));
}

static void test_normalize(void) {
  expect_norm("Get Order!!", 76, "get-order");
  expect_norm("abusiveexperiencereport.violatingSites.list", 76,
              "abusiveexperiencereport-violatingsites-list");
  expect_norm("Prediction_Resolve2", 76, "prediction-resolve2");
  expect_norm("get-/{comicId}/info.0.json", 76, "get-comicid-info-0-json");
  expect_norm("--", 76, "");
  expect_norm("", 76, "");
  expect_norm("abc-def", 4, "abc"); /* cut: no trailing '-' */
  expect_norm("abc-def", 5, "abc-d");
  expect_norm("ab--cd", 4, "ab-c");
  expect_norm("abcdef", 200, "abcdef");
  char out[4];
  CHECK(pt_openapi_normalize("abcdef", 76, out, sizeof out) == 3); /* the buffer bounds it */
  CHECK_STR(out, "abc");
}

int main(void) {
  for (size_t i = 0; i < sizeof goldens / sizeof *goldens; i++) run_golden(&goldens[i]);
  for (size_t i = 0; i < sizeof failures_ / sizeof *failures_; i++) run_failing(&failures_[i]);
  test_examples();
  test_merge();
  test_normalize();
  return CHECK_RESULT();
}
