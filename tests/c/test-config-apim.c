/* test-config-apim.c - unit tests of the APIM entities of the configuration loader
 * (config_namedvalue.c, config_backend.c, config_api.c, config_product.c): a full file
 * with every section lands in the structs, every validation error is located at
 * file:line:col with its text, {{named values}} are substituted where APIM allows them
 * (and nowhere else), secrets never reach a message, and the order of the sections does
 * not matter. Run from the repository root (ctest does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_check.h"

static int any_message_has(const pt_diag_t *d, const char *secret) {
  return has_message(d, secret);
}

/* Loads yaml that must be valid (warnings allowed); the caller frees. */
static pt_config_t *load_ok(int at, const char *yaml, pt_diag_t *d) {
  pt_config_t *c = pt_config_load(write_tmp(yaml, strlen(yaml)), d);
  if (!c) {
    fprintf(stderr, "%s:%d: check failed: expected a valid configuration, got:\n", __FILE__, at);
    pt_diag_print(d, stderr);
    check_failures++;
  }
  return c;
}

/* ---- the full file ---- */

static void check_backend_orders(const pt_backend_cfg_t *b) {
  CHECK_STR(b->id, "orders");
  CHECK_STR(b->url_text, "http://Orders.Internal:9002/api");
  CHECK_STR(b->url.host, "orders.internal");
  CHECK(b->url.port == 9002);
  CHECK(b->soap == 1 && b->pool == 0);
  CHECK_STR(b->title, "Orders");
  CHECK_STR(b->description, "The order service");
  CHECK(b->ncred_headers == 2);
  if (b->ncred_headers == 2) {
    CHECK_STR(b->cred_headers[0].name, "x-api-key");
    CHECK(b->cred_headers[0].nvalues == 2);
    if (b->cred_headers[0].nvalues == 2) {
      CHECK_STR(b->cred_headers[0].values[0], "abc");
      CHECK_STR(b->cred_headers[0].values[1], "second");
    }
    CHECK_STR(b->cred_headers[1].name, "x-single");
    CHECK(b->cred_headers[1].nvalues == 1);
    if (b->cred_headers[1].nvalues == 1) CHECK_STR(b->cred_headers[1].values[0], "west-europe");
  }
  CHECK(b->ncred_query == 1);
  if (b->ncred_query == 1) {
    CHECK_STR(b->cred_query[0].name, "code");
    CHECK(b->cred_query[0].nvalues == 1 && strcmp(b->cred_query[0].values[0], "abc") == 0);
  }
  CHECK_STR(b->auth_scheme, "Basic");
  CHECK_STR(b->auth_parameter, "p@ss-from-file"); /* fromFile, trailing newline stripped */
  CHECK(b->ncertificates == 2);
  if (b->ncertificates == 2) {
    CHECK_STR(b->certificates[0].certificate, "tests/c/fixtures/certs/c.pem");
    CHECK_STR(b->certificates[0].key, "tests/c/fixtures/certs/c.key");
    CHECK_STR(b->certificates[1].certificate, "/etc/ssl/both.pem");
    CHECK_STR(b->certificates[1].key, "/etc/ssl/both.pem"); /* one PEM file with both */
  }
  CHECK(b->validate_chain == 0 && b->validate_name == 1);
  CHECK_STR(b->proxy_url, "http://proxy:3128");
  CHECK_STR(b->proxy_username, "west-europe");
  CHECK_STR(b->proxy_password, "p@ss-from-file");
  CHECK(b->has_secret == 1);
  CHECK(b->line == 8 && b->col == 3);
}

static void check_circuits(const pt_config_t *c) {
  const pt_circuit_rule_cfg_t *r = c->backends[0].circuit;
  CHECK(r != NULL);
  if (r) {
    CHECK_STR(r->name, "breaker");
    CHECK(r->count == 3 && r->percentage == 0);
    CHECK(r->interval_ms == 60000);
    CHECK(r->nstatus_ranges == 2);
    if (r->nstatus_ranges == 2) {
      CHECK(r->status_ranges[0].min == 500 && r->status_ranges[0].max == 599);
      CHECK(r->status_ranges[1].min == 429 && r->status_ranges[1].max == 429);
    }
    CHECK(r->nerror_reasons == 2);
    if (r->nerror_reasons == 2) {
      CHECK_STR(r->error_reasons[0], "BackendConnectionFailure");
      CHECK_STR(r->error_reasons[1], "Timeout");
    }
    CHECK(r->trip_duration_ms == 30000);
    CHECK(r->accept_retry_after == 1);
    CHECK(r->failure_status == 502);
  }
  r = c->backends[1].circuit;
  CHECK(r != NULL);
  if (r) {
    CHECK(r->count == 0 && r->percentage == 50);
    CHECK(r->interval_ms == 10000 && r->trip_duration_ms == 500);
    CHECK(r->nerror_reasons == 0 && r->accept_retry_after == 0);
    CHECK(r->failure_status == 503); /* the default */
  }
}

static void check_backends(const pt_config_t *c) {
  CHECK(c->nbackends == 3);
  if (c->nbackends != 3) return;
  check_backend_orders(&c->backends[0]);
  check_circuits(c);
  const pt_backend_cfg_t *b = &c->backends[1];
  CHECK_STR(b->id, "orders-dr");
  CHECK(b->has_secret == 0 && b->validate_chain == 1 && b->validate_name == 1);
  CHECK(b->ncred_headers == 0 && b->auth_scheme == NULL && b->proxy_url == NULL);
  b = &c->backends[2];
  CHECK_STR(b->id, "orders-pool");
  CHECK(b->pool == 1 && b->url_text == NULL && b->url.host == NULL && b->circuit == NULL);
  CHECK(b->nmembers == 2);
  if (b->nmembers == 2) {
    CHECK_STR(b->members[0].id, "orders");
    CHECK(b->members[0].priority == 0 && b->members[0].weight == 3);
    CHECK(b->members[0].line == 47 && b->members[0].col == 17);
    CHECK_STR(b->members[1].id, "orders-dr"); /* "/backends/orders-dr" */
    CHECK(b->members[1].priority == 1 && b->members[1].weight == 1);
  }
}

static void check_version_sets(const pt_config_t *c) {
  CHECK(c->nversion_sets == 3);
  if (c->nversion_sets != 3) return;
  CHECK_STR(c->version_sets[0].id, "orders-set");
  CHECK_STR(c->version_sets[0].display_name, "Orders");
  CHECK(c->version_sets[0].scheme == PT_VERSION_SEGMENT && c->version_sets[0].name == NULL);
  CHECK(c->version_sets[0].line == 4 && c->version_sets[0].col == 3);
  CHECK_STR(c->version_sets[1].display_name, "billing-set");
  CHECK(c->version_sets[1].scheme == PT_VERSION_QUERY);
  CHECK_STR(c->version_sets[1].name, "api-version");
  CHECK(c->version_sets[2].scheme == PT_VERSION_HEADER);
  CHECK_STR(c->version_sets[2].name, "X-Version");
}

static void check_operations(const pt_api_cfg_t *a) {
  CHECK(a->noperations == 4);
  if (a->noperations != 4) return;
  CHECK_STR(a->operations[0].id, "get-order");
  CHECK_STR(a->operations[0].method, "GET");
  CHECK_STR(a->operations[0].url_template, "/orders/{id}");
  CHECK_STR(a->operations[0].display_name, "Get order");
  CHECK(a->operations[0].line == 62 && a->operations[0].col == 7);
  CHECK_STR(a->operations[1].method, "GET"); /* "get" */
  CHECK_STR(a->operations[1].url_template, "/orders?status={status}&limit=10");
  CHECK_STR(a->operations[1].display_name, "list");
  CHECK_STR(a->operations[2].method, "*");
  CHECK_STR(a->operations[2].url_template, "/files/*");
  CHECK_STR(a->operations[3].method, "PUT");
}

static void check_apis(const pt_config_t *c) {
  CHECK(c->napis == 3);
  if (c->napis != 3) return;
  const pt_api_cfg_t *a = &c->apis[0];
  CHECK_STR(a->id, "orders-v1");
  CHECK_STR(a->display_name, "Orders");
  CHECK_STR(a->description, "Orders, first version");
  CHECK_STR(a->path, "shop/orders");
  CHECK_STR(a->backend_id, "orders-pool");
  CHECK(a->service_url_text == NULL && a->service_url.host == NULL); /* a Pool has no URL */
  CHECK(a->nprotocols == 1 && strcmp(a->protocols[0], "https") == 0);
  CHECK(a->subscription_required == 0);
  CHECK_STR(a->sub_key_header, "X-Key");
  CHECK_STR(a->sub_key_query, "key");
  CHECK_STR(a->api_version, "v1");
  CHECK(a->version_set == &c->version_sets[0]);
  CHECK_STR(a->openapi_file, "tests/c/fixtures/specs/orders.yaml");
  check_operations(a);

  a = &c->apis[1];
  CHECK_STR(a->display_name, "orders-v2");
  CHECK_STR(a->backend_id, "orders"); /* "/backends/orders" */
  CHECK_STR(a->service_url_text, "http://Orders.Internal:9002/api");
  CHECK(a->has_secret == 1); /* the backend's URL went through named values with a secret */
  CHECK(a->version_set == &c->version_sets[0]);
  CHECK(a->nprotocols == 2 && strcmp(a->protocols[0], "http") == 0 &&
        strcmp(a->protocols[1], "https") == 0);
  CHECK(a->subscription_required == 1);
  CHECK_STR(a->sub_key_header, "Ocp-Apim-Subscription-Key");
  CHECK_STR(a->sub_key_query, "subscription-key");
  CHECK(a->noperations == 0 && a->openapi_file == NULL && a->description == NULL);

  a = &c->apis[2];
  CHECK(a->version_set == &c->version_sets[1] && a->api_version == NULL);
  CHECK(a->has_secret == 0 && a->backend_id == NULL);
}

static void check_products(const pt_config_t *c) {
  CHECK(c->nproducts == 2);
  if (c->nproducts != 2) return;
  const pt_product_cfg_t *p = &c->products[0];
  CHECK_STR(p->id, "starter");
  CHECK_STR(p->display_name, "Starter");
  CHECK(p->napis == 2);
  if (p->napis == 2) {
    CHECK_STR(p->apis[0], "orders-v1");
    CHECK_STR(p->apis[1], "billing");
  }
  CHECK(p->subscription_required == 1 && p->published == 1);
  CHECK(p->line == 76 && p->col == 3);
  p = &c->products[1];
  CHECK(p->napis == 0 && p->published == 0 && p->subscription_required == 0);
  CHECK_STR(p->display_name, "hidden");
}

static void check_subscriptions(const pt_config_t *c) {
  CHECK(c->nsubscriptions == 4);
  if (c->nsubscriptions != 4) return;
  const pt_subscription_cfg_t *s = &c->subscriptions[0];
  CHECK_STR(s->id, "alice");
  CHECK_STR(s->display_name, "Alice");
  CHECK(s->scope == PT_SCOPE_PRODUCT);
  CHECK_STR(s->scope_id, "starter");
  CHECK_STR(s->primary_key, "alice-{{not-substituted}}"); /* a value is not scanned again */
  CHECK_STR(s->secondary_key, "k2");
  CHECK(s->active == 1);
  s = &c->subscriptions[1];
  CHECK(s->scope == PT_SCOPE_API && strcmp(s->scope_id, "billing") == 0);
  CHECK(s->active == 0 && s->secondary_key == NULL);
  CHECK_STR(s->display_name, "bob");
  s = &c->subscriptions[2];
  CHECK(s->scope == PT_SCOPE_ALL && s->scope_id == NULL && s->active == 1);
  s = &c->subscriptions[3];
  CHECK(s->scope == PT_SCOPE_API && strcmp(s->scope_id, "orders-v2") == 0 && s->active == 0);
}

static void check_named_values(const pt_config_t *c) {
  CHECK(c->nnamed_values == 5);
  if (c->nnamed_values != 5) return;
  CHECK_STR(c->named_values[0].name, "orders-host");
  CHECK_STR(c->named_values[0].value, "Orders.Internal");
  CHECK(c->named_values[0].secret == 0);
  CHECK(c->named_values[0].line == 84 && c->named_values[0].col == 3);
  CHECK(c->named_values[1].secret == 1);
  CHECK_STR(c->named_values[2].value, "west-europe");
  CHECK_STR(c->named_values[3].value, "p@ss-from-file");
  CHECK(c->named_values[3].secret == 1);
}

static void test_full(void) {
  pt_diag_t d = {0};
  pt_config_t *c;
  setenv("PT_TEST_REGION", "west-europe", 1);
  c = pt_config_load("tests/c/fixtures/apim.yaml", &d);
  CHECK(c != NULL);
  CHECK(d.errors == 0);
  /* the one warning: a {{reference}} inside a named value stays literal */
  CHECK(d.count == 1);
  CHECK(has_message(&d, "tests/c/fixtures/apim.yaml:88:23: warning: namedValues.alice-key.value: "
                        "the value holds a {{reference}}, which stays literal"));
  CHECK(!any_message_has(&d, "alice-{{")); /* a secret value is not shown, even then */
  if (d.errors) pt_diag_print(&d, stderr);
  if (c) {
    check_named_values(c);
    check_backends(c);
    check_version_sets(c);
    check_apis(c);
    check_products(c);
    check_subscriptions(c);
  }
  pt_config_free(c);
  pt_diag_free(&d);
  unsetenv("PT_TEST_REGION");
}

/* ---- named values ---- */

/* A reference works in every place APIM allows it, whatever the order of the sections. */
static void test_substitution_places(void) {
  static const char yaml[] =
      "subscriptions:\n"
      "  s: {scope: all, primaryKey: \"p-{{k}}\", secondaryKey: \"{{k}}-s\"}\n"
      "backends:\n"
      "  b:\n"
      "    url: \"{{scheme}}://{{host}}:{{port}}/{{k}}\"\n"
      "    credentials:\n"
      "      header: {h: \"{{k}}{{k}}\"}\n"
      "      query: {q: [\"{{k}}\", \"x{{port}}\"]}\n"
      "      authorization: {scheme: \"{{scheme-word}}\", parameter: \"{{k}}\"}\n"
      "    proxy: {url: \"http://{{host}}:1\", username: \"{{k}}\", password: \"{{k}}\"}\n"
      "namedValues:\n"
      "  k: {value: v}\n"
      "  scheme: {value: http}\n"
      "  scheme-word: {value: Bearer}\n"
      "  host: {value: h.example}\n"
      "  port: {value: \"8443\"}\n";
  pt_diag_t d = {0};
  pt_config_t *c = load_ok(__LINE__, yaml, &d);
  if (c) {
    const pt_backend_cfg_t *b = &c->backends[0];
    CHECK_STR(b->url_text, "http://h.example:8443/v");
    CHECK(b->url.port == 8443);
    CHECK_STR(b->cred_headers[0].values[0], "vv");
    CHECK_STR(b->cred_query[0].values[0], "v");
    CHECK_STR(b->cred_query[0].values[1], "x8443");
    CHECK_STR(b->auth_scheme, "Bearer");
    CHECK_STR(b->auth_parameter, "v");
    CHECK_STR(b->proxy_url, "http://h.example:1");
    CHECK_STR(b->proxy_username, "v");
    CHECK_STR(b->proxy_password, "v");
    CHECK(b->has_secret == 0);
    CHECK_STR(c->subscriptions[0].primary_key, "p-v");
    CHECK_STR(c->subscriptions[0].secondary_key, "v-s");
  }
  CHECK(d.count == 0);
  pt_config_free(c);
  pt_diag_free(&d);
}

/* Elsewhere a {{reference}} is text: titles, descriptions, names, paths are not substituted. */
static void test_no_substitution_elsewhere(void) {
  static const char yaml[] =
      "namedValues:\n"
      "  t: {value: T}\n"
      "backends:\n"
      "  b: {url: \"http://h\", title: \"{{t}}\", description: \"{{missing}}\"}\n"
      "apis:\n"
      "  a: {path: x, backend: b, displayName: \"{{t}}\"}\n";
  pt_diag_t d = {0};
  pt_config_t *c = load_ok(__LINE__, yaml, &d);
  if (c) {
    CHECK_STR(c->backends[0].title, "{{t}}");
    CHECK_STR(c->backends[0].description, "{{missing}}");
    CHECK_STR(c->apis[0].display_name, "{{t}}");
  }
  pt_config_free(c);
  pt_diag_free(&d);
}

/* Each secret named value goes where a message would show it, and never shows. */
static void test_secrets_never_shown(void) {
  static const struct {
    int at;
    const char *yaml;
    int line, col;
    const char *text;
  } cases[] = {
      {__LINE__,
       "namedValues:\n  h: {value: \"bad host S3CRET\", secret: true}\n"
       "backends:\n  b: {url: \"http://{{h}}:9002/\"}\n",
       4, 12,
       "backends.b.url: 'http://{{h}}:9002/' is not a valid URL once its secret named values "
       "are substituted (the reason is not shown"},
      {__LINE__,
       "namedValues:\n  h: {value: \"S3CRET\\r\\nX-Evil: 1\", secret: true}\n"
       "backends:\n  b: {url: \"http://h\", credentials: {header: {x-k: \"{{h}}\"}}}\n",
       4, 52,
       "backends.b.credentials.header.x-k: the value (with named values) has a line break or "
       "control character (not allowed in a header)"},
      {__LINE__,
       "namedValues:\n  h: {value: \"S3CRET x\", secret: true}\n"
       "backends:\n  b: {url: \"http://h\", credentials: {query: {k: [\"{{h}}\"]}}}\n",
       4, 50, "backends.b.credentials.query.k[0]: the value (with named values) has a space"},
      {__LINE__,
       "namedValues:\n  h: {value: \"S3CRET x\", secret: true}\n"
       "backends:\n  b: {url: \"http://h\", credentials: {authorization: {scheme: \"{{h}}\"}}}\n",
       4, 62,
       "backends.b.credentials.authorization.scheme: '{{h}}' is not an authorization scheme"},
      {__LINE__,
       "namedValues:\n  h: {value: \"S3CRET\", secret: true}\n"
       "backends:\n  b: {url: \"http://h\", proxy: {url: \"htp://{{h}}\"}}\n",
       4, 37, "backends.b.proxy.url: 'htp://{{h}}' is not a valid URL once its secret"},
      {__LINE__,
       "namedValues:\n  k: {value: \"S3CRET\", secret: true}\n"
       "apis:\n  a: {path: a, serviceUrl: \"http://h\"}\n"
       "subscriptions:\n  x: {scope: all, primaryKey: \"{{k}}\"}\n"
       "  y: {scope: all, primaryKey: other, secondaryKey: S3CRET}\n",
       7, 52,
       "subscriptions.y.secondaryKey: the same key as the primaryKey of subscription 'x' at line "
       "6 (keys must be unique"},
      {__LINE__,
       "subscriptions:\n  x: {scope: all, primaryKey: \"S3CRET with a space\"}\n", 2, 31,
       "subscriptions.x.primaryKey: the key has a space or control character"},
      {__LINE__,
       "namedValues:\n  k: {value: \"   \", secret: true}\n", 2, 14,
       "namedValues.k.value: the value is empty or only whitespace"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    pt_diag_t d = {0};
    char want[1024];
    const char *file = write_tmp(cases[i].yaml, strlen(cases[i].yaml));
    pt_config_t *c = pt_config_load(file, &d);
    snprintf(want, sizeof want, "%s:%d:%d: %s", file, cases[i].line, cases[i].col, cases[i].text);
    if (c || !has_message(&d, want) || any_message_has(&d, "S3CRET")) {
      fprintf(stderr, "%s:%d: check failed: expected\n  %s\nwithout S3CRET, got:\n", __FILE__,
              cases[i].at, want);
      pt_diag_print(&d, stderr);
      check_failures++;
    }
    pt_config_free(c);
    pt_diag_free(&d);
  }
}

/* A missing reference is located at the referring node, with the closest defined name. */
static void test_missing_references(void) {
  static const char nv[] = "namedValues:\n  orders-key: {value: a}\n  region: {value: b}\n";
  static const struct {
    int at;
    const char *tail;
    int line, col;
    const char *text;
  } cases[] = {
      {__LINE__, "backends:\n  b: {url: \"http://{{order-key}}/\"}\n", 5, 12,
       "backends.b.url: named value 'order-key' is not defined (did you mean 'orders-key'?)"},
      {__LINE__, "backends:\n  b: {url: \"http://{{Region}}/\"}\n", 5, 12,
       "backends.b.url: named value 'Region' is not defined (did you mean 'region'? names are "
       "case-sensitive)"},
      {__LINE__,
       "backends:\n  b: {url: \"http://h\", credentials: {header: {k: [a, \"{{zzz}}\"]}}}\n",
       5, 54,
       "backends.b.credentials.header.k[1]: named value 'zzz' is not defined (defined: "
       "orders-key, region; add it under namedValues:)"},
      {__LINE__, "subscriptions:\n  s:\n    scope: all\n    primaryKey: \"{{regio}}\"\n", 7, 17,
       "subscriptions.s.primaryKey: named value 'regio' is not defined (did you mean 'region'?)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char yaml[1024];
    snprintf(yaml, sizeof yaml, "%s%s", nv, cases[i].tail);
    expect_error(cases[i].at, yaml, strlen(yaml), cases[i].line, cases[i].col, cases[i].text);
  }
  static const char none[] = "backends:\n  b: {url: \"http://{{h}}/\"}\n";
  expect_error(__LINE__, none, sizeof none - 1, 2, 12,
               "backends.b.url: named value 'h' is not defined (no named values are defined; add "
               "it under namedValues:)");
}

static void test_from_env_and_file(void) {
  static const char env[] = "namedValues:\n  r: {fromEnv: PT_TEST_UNSET_VARIABLE}\n";
  static const char empty_env[] = "namedValues:\n  r: {fromEnv: PT_TEST_EMPTY}\n";
  static const char file[] = "namedValues:\n  r: {fromFile: no-such-file.txt}\n";
  pt_diag_t d = {0};
  char want[512];
  unsetenv("PT_TEST_UNSET_VARIABLE");
  expect_error(__LINE__, env, sizeof env - 1, 2, 16,
               "namedValues.r.fromEnv: environment variable 'PT_TEST_UNSET_VARIABLE' is not set "
               "(set it, or use value: or fromFile:)");
  setenv("PT_TEST_EMPTY", "", 1);
  expect_error(__LINE__, empty_env, sizeof empty_env - 1, 2, 16,
               "namedValues.r.fromEnv: the environment variable is empty or only whitespace");
  unsetenv("PT_TEST_EMPTY");
  /* a named value that failed to load is reported once, not again where it is used */
  {
    static const char yaml[] = "namedValues:\n  k: {fromEnv: PT_TEST_UNSET_VARIABLE}\n"
                               "subscriptions:\n  s: {scope: all, primaryKey: \"{{k}}\"}\n";
    pt_config_t *c = pt_config_load(write_tmp(yaml, sizeof yaml - 1), &d);
    CHECK(c == NULL && d.errors == 1 && d.count == 1);
    pt_diag_free(&d);
  }
  /* fromFile is relative to the configuration file: here /tmp */
  {
    const char *path = write_tmp(file, sizeof file - 1);
    pt_config_t *c = pt_config_load(path, &d);
    snprintf(want, sizeof want, "%s:2:17: namedValues.r.fromFile: cannot read "
             "'/tmp/no-such-file.txt': No such file or directory", path);
    CHECK(c == NULL && has_message(&d, want));
    pt_diag_free(&d);
  }
  /* CRLF stripped once; a second newline is part of the value */
  {
    FILE *f = fopen("/tmp/pt-test-apim-value.txt", "w");
    static const char yaml[] = "namedValues:\n  r: {fromFile: pt-test-apim-value.txt}\n";
    if (!f) {
      perror("test-config-apim: /tmp/pt-test-apim-value.txt");
      exit(2);
    }
    fputs("line1\nline2\r\n", f);
    fclose(f);
    pt_config_t *c = load_ok(__LINE__, yaml, &d);
    if (c) CHECK_STR(c->named_values[0].value, "line1\nline2");
    pt_config_free(c);
    pt_diag_free(&d);
    unlink("/tmp/pt-test-apim-value.txt");
  }
}

/* A value of exactly 4096 characters is fine, 4097 is not; names up to 256. */
static void test_limits(void) {
  static char yaml[8192], name[300], want[1024];
  pt_diag_t d = {0};
  pt_config_t *c;
  memset(name, 'n', 256);
  name[256] = '\0';
  int n = snprintf(yaml, sizeof yaml, "namedValues:\n  %s: {value: \"", name);
  memset(yaml + n, 'v', 4096);
  strcpy(yaml + n + 4096, "\"}\n");
  c = load_ok(__LINE__, yaml, &d);
  if (c) CHECK(strlen(c->named_values[0].value) == 4096);
  pt_config_free(c);
  pt_diag_free(&d);
  strcpy(yaml + n + 4096, "v\"}\n");
  snprintf(want, sizeof want, "namedValues.%s.value: the value is more than 4096 characters "
           "(APIM's limit on a named value)", name);
  expect_error(__LINE__, yaml, strlen(yaml), 2, 269, want);
  snprintf(yaml, sizeof yaml, "namedValues:\n  %sn: {value: x}\n", name);
  snprintf(want, sizeof want, "namedValues.%sn: id must be 1 to 256 characters, not 257", name);
  expect_error(__LINE__, yaml, strlen(yaml), 2, 3, want);
}

/* ---- validation errors ---- */

#define B "backends:\n  b:\n    url: http://h\n"          /* lines 1-3 */
#define CB "backends.b.circuitBreaker.rules[0]"
#define API "apis:\n  a:\n    path: a\n    serviceUrl: http://h\n" /* lines 1-4 */

static const error_case_t error_cases[] = {
    /* named values */
    ERR("namedValues:\n  \"a b\": {value: x}\n", 2, 3,
        "namedValues.a b: id 'a b' has the character ' ' (allowed: letters, digits, '-', '.', "
        "'_')"),
    ERR("namedValues:\n  a: {secret: true}\n", 2, 3,
        "namedValues.a: needs value, fromEnv or fromFile (e.g. value: \"abc\")"),
    ERR("namedValues:\n  a: {value: x, fromEnv: Y}\n", 2, 17,
        "namedValues.a: has both value and fromEnv (keep one)"),
    ERR("namedValues:\n  a: {value: }\n", 2, 14,
        "namedValues.a.value: expected a string, got nothing"),
    ERR("namedValues:\n  a: {value: \"\"}\n", 2, 14,
        "namedValues.a.value: the value is empty or only whitespace"),
    ERR("namedValues:\n  a: {value: x, secret: yes}\n", 2, 25,
        "namedValues.a.secret: 'yes' is not a boolean (expected true or false)"),
    ERR("namedValues:\n  key: {value: x}\n  Key: {value: y}\n", 3, 3,
        "namedValues.Key: differs only in case from 'key' at line 2 (rename one)"),
    ERR("namedValues:\n  a: {value: x, displayName: b}\n", 2, 30,
        "namedValues.a.displayName: 'b' differs from the key 'a'"),
    ERR("namedValues:\n  a: {value: x, fromFile: \"\"}\n", 2, 17,
        "namedValues.a: has both value and fromFile (keep one)"),
    ERR("namedValues:\n  a: {valeu: x}\n", 2, 7,
        "namedValues.a.valeu: unknown key (did you mean 'value'?)"),
    ERR("namedValues:\n  a: x\n", 2, 6, "namedValues.a: expected a mapping, got a string"),

    /* backends: type, pools */
    ERR(B "    type: Multi\n", 4, 11,
        "backends.b.type: 'Multi' is not a backend type (expected Single or Pool)"),
    ERR("backends:\n  p:\n    type: Pool\n    url: http://h\n    pool: {services: [{id: x}]}\n"
        "  x: {url: http://h}\n", 4, 5,
        "backends.p: a Pool backend has no url (set it on the backends of pool.services)"),
    ERR("backends:\n  p:\n    type: Pool\n    credentials: {}\n    pool: {services: [{id: x}]}\n"
        "  x: {url: http://h}\n", 4, 5, "backends.p: a Pool backend has no credentials"),
    ERR("backends:\n  p: {type: Pool}\n", 2, 3,
        "backends.p: type Pool needs pool.services (e.g. pool: {services: [{id: orders}]})"),
    ERR(B "    pool: {services: [{id: x}]}\n", 4, 5,
        "backends.b: pool is only for type: Pool (add it, or remove pool)"),
    ERR("backends:\n  p: {type: Pool, pool: {services: []}}\n", 2, 36,
        "backends.p.pool.services: 0 services (a pool has 1 to 30)"),
    ERR("backends:\n  p: {type: Pool, pool: {services: [{id: ordrs}]}}\n"
        "  orders: {url: http://h}\n",
        2, 42, "backends.p.pool.services[0].id: backend 'ordrs' is not defined (did you mean "
        "'orders'?)"),
    ERR("backends:\n  p: {type: Pool, pool: {services: [{id: q}]}}\n"
        "  q: {type: Pool, pool: {services: [{id: s}]}}\n  s: {url: http://h}\n",
        2, 42, "backends.p.pool.services[0].id: 'q' is a Pool (pools do not nest; list its "
        "services instead)"),
    ERR("backends:\n  p: {type: Pool, pool: {services: [{id: s}, {id: /backends/s}]}}\n"
        "  s: {url: http://h}\n", 2, 51,
        "backends.p.pool.services[1].id: 's' is already a member at line 2 (list it once)"),
    ERR("backends:\n  p: {type: Pool, pool: {services: [{id: s, weight: 0}]}}\n"
        "  s: {url: http://h}\n",
        2, 53, "backends.p.pool.services[0].weight: '0' is not an integer from 1 to 100"),
    ERR("backends:\n  p: {type: Pool, pool: {services: [{id: s, priority: 101}]}}\n"
        "  s: {url: http://h}\n", 2, 55,
        "backends.p.pool.services[0].priority: '101' is not an integer from 0 to 100"),
    ERR("backends:\n  p: {type: Pool, pool: {services: [{priority: 1}]}}\n", 2, 37,
        "backends.p.pool.services[0]: missing required key 'id'"),
    ERR("backends:\n  p: {type: Pool, pool: {services: [s]}}\n", 2, 37,
        "backends.p.pool.services[0]: expected a mapping, got a string"),

    /* backends: circuit breaker */
    ERR(B "    circuitBreaker:\n      rules:\n        - {name: a, failureCondition: {count: 1, "
          "interval: 1m, errorReasons: [Timeout]}, tripDuration: 1m}\n"
          "        - {name: b}\n", 7, 11,
        "backends.b.circuitBreaker.rules[1]: APIM allows one circuit breaker rule per backend"),
    ERR(B "    circuitBreaker: {rules: [~]}\n", 4, 30,
        "backends.b.circuitBreaker.rules[0]: expected a mapping, got nothing"),
    ERR(B "    credentials: {header: {x: null}}\n", 4, 31,
        "backends.b.credentials.header.x: expected a string, got nothing"),
    ERR(B "    circuitBreaker: {rules: []}\n", 4, 29, "backends.b.circuitBreaker.rules: no rule"),
    ERR(B "    circuitBreaker: {}\n", 4, 21,
        "backends.b.circuitBreaker: missing required key 'rules'"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition: {count: 1, percentage: 5, interval: 1m, "
          "errorReasons: [x]}\n",
        8, 40, CB ".failureCondition: has both count and "
        "percentage (keep one)"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition: {interval: 1m, errorReasons: [x]}\n",
        8, 29, CB ".failureCondition: needs count or percentage"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition: {percentage: 101, interval: 1m, errorReasons: [x]}\n",
        8, 42, CB ".failureCondition.percentage: '101' is not an "
        "integer from 1 to 100"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition: {count: 1, errorReasons: [x]}\n",
        8, 29, CB ".failureCondition: missing required key 'interval' (e.g. interval: 1m)"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition: {count: 1, interval: PT1X, errorReasons: [x]}\n",
        8, 50, CB ".failureCondition.interval: 'PT1X' is not a duration"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition: {count: 1, interval: 1m}\n",
        8, 29, CB ".failureCondition: needs statusCodeRanges or errorReasons (what counts as a "
        "failure"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition:\n            count: 1\n            interval: 1m\n"
          "            statusCodeRanges: [{min: 599, max: 500}]\n",
        11, 38,
        CB ".failureCondition.statusCodeRanges[0]: min 599 is more than max 500 (swap them)"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition:\n            count: 1\n            interval: 1m\n"
          "            statusCodeRanges: [{min: 99, max: 600}]\n",
        11, 38,
        CB ".failureCondition.statusCodeRanges[0].min: '99' is not an integer from 100 to 599"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition:\n            count: 1\n            interval: 1m\n"
          "            statusCodeRanges: [{min: 500}]\n",
        11, 32, CB ".failureCondition.statusCodeRanges[0]: needs min and max"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition: {count: 1, interval: 1m, errorReasons: [\"\"]}\n",
        8, 69, CB ".failureCondition.errorReasons[0]: empty reason"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n"
          "          failureCondition: {count: 1, interval: 1m, errorReasons: [x]}\n",
        6, 11, CB ": missing required key 'tripDuration' (e.g. "
        "tripDuration: 30s)"),
    ERR(B "    circuitBreaker:\n      rules:\n        - tripDuration: 1m\n"
          "          failureCondition: {count: 1, interval: 1m, errorReasons: [x]}\n",
        6, 11, CB ": missing required key 'name'"),
    ERR(B "    circuitBreaker:\n      rules:\n        - name: a\n          tripDuration: 1m\n"
          "          failureCondition: {count: 1, interval: 1m, errorReasons: [x]}\n"
          "          failureResponse: {statusCode: 700}\n",
        9, 41, CB ".failureResponse.statusCode: '700' is not an integer from 200 to 599"),

    /* backends: credentials, tls, proxy */
    ERR(B "    credentials:\n      header: {\"x y\": [a]}\n", 5, 16,
        "backends.b.credentials.header.x y: 'x y' is not a header name"),
    ERR(B "    credentials:\n      header: {x: []}\n", 5, 19,
        "backends.b.credentials.header.x: no values (add one, or remove the header)"),
    ERR(B "    credentials:\n      header: {x: a, X: b}\n", 5, 22,
        "backends.b.credentials.header.X: 'x' is listed twice (put all its values in one list)"),
    ERR(B "    credentials:\n      header: {x: \"a\\nb\"}\n", 5, 19,
        "backends.b.credentials.header.x: the value has a line break or control character"),
    ERR(B "    credentials:\n      query: {x: \"a b\"}\n", 5, 18,
        "backends.b.credentials.query.x: the value has a space or control character (not "
        "allowed in a query parameter; percent-encode it)"),
    ERR(B "    credentials:\n      headers: {x: a}\n", 5, 7,
        "backends.b.credentials.headers: unknown key (did you mean 'header'?)"),
    ERR(B "    credentials:\n      authorization: {parameter: x}\n", 5, 22,
        "backends.b.credentials.authorization: missing required key 'scheme' (e.g. scheme: Basic)"),
    ERR(B "    credentials:\n      authorization: {scheme: \"Two Words\"}\n", 5, 31,
        "backends.b.credentials.authorization.scheme: 'Two Words' is not an authorization scheme"),
    ERR(B "    credentials:\n      certificate: [{key: k.pem}]\n", 5, 21,
        "backends.b.credentials.certificate[0]: missing required key 'certificate' (a PEM file"),
    ERR(B "    credentials:\n      certificate: c.pem\n", 5, 20,
        "backends.b.credentials.certificate: expected a sequence, got a string"),
    ERR(B "    tls: {validateCertificateChain: no}\n", 4, 37,
        "backends.b.tls.validateCertificateChain: 'no' is not a boolean"),
    ERR(B "    proxy: {username: u}\n", 4, 12, "backends.b.proxy: missing required key 'url'"),
    ERR(B "    proxy: {url: \"proxy:3128\"}\n", 4, 18,
        "backends.b.proxy.url: 'proxy:3128' has unknown scheme 'proxy' (expected http or https)"),
    ERR(B "    circuitBreaker: {rules: [{name: a}]}\n    type: Pool\n"
          "    pool: {services: [{id: s}]}\n"
          "  s: {url: http://h}\n", 4, 5, "backends.b: a Pool backend has no circuitBreaker"),

    /* API versioning and paths */
    ERR(API "    apiVersionSetId: ordrs\napiVersionSets:\n  orders: {versioningScheme: Segment}\n",
        5, 22,
        "apis.a.apiVersionSetId: version set 'ordrs' is not defined (did you mean 'orders'?)"),
    ERR(API "    apiVersion: v1\n", 5, 5,
        "apis.a: apiVersion needs apiVersionSetId (the version set says where requests carry the "
        "version)"),
    ERR(API "    apiVersion: \"v 1\"\n    apiVersionSetId: s\n"
            "apiVersionSets:\n  s: {versioningScheme: Query}\n",
        5, 17, "apis.a.apiVersion: version 'v 1' has the character ' '"),
    ERR("apiVersionSets:\n  s: {versioningScheme: Segment}\n"
        "apis:\n  a: {path: x, serviceUrl: http://h, apiVersionSetId: s, apiVersion: v1}\n"
        "  b: {path: X, serviceUrl: http://h, apiVersionSetId: s, apiVersion: V1}\n",
        5, 70, "apis.b: version 'V1' of version set 's' is already API 'a' at line 4 (give each "
        "version its own apiVersion)"),
    ERR("apiVersionSets:\n  s: {versioningScheme: Segment}\n"
        "apis:\n  a: {path: x, serviceUrl: http://h, apiVersionSetId: s}\n"
        "  b: {path: x, serviceUrl: http://h, apiVersionSetId: s}\n",
        5, 13, "apis.b: API 'a' at line 4 is already the version without apiVersion in version "
        "set 's' (give each version its own apiVersion)"),
    ERR("apiVersionSets:\n  s: {versioningScheme: Segment}\n"
        "apis:\n  a: {path: x, serviceUrl: http://h, apiVersionSetId: s, apiVersion: v1}\n"
        "  b: {path: x, serviceUrl: http://h}\n",
        5, 13, "apis.b.path: 'x' is already the path of API 'a' at "),
    ERR("apiVersionSets:\n  s: {versioningScheme: Segment}\n"
        "apis:\n  a: {path: x, serviceUrl: http://h, apiVersionSetId: s, apiVersion: v1}\n"
        "  b: {path: y, serviceUrl: http://h, apiVersionSetId: s, apiVersion: v2}\n",
        5, 13, "apis.b.path: 'y' differs from 'x', the path of API 'a' at "),
    ERR("apiVersionSets:\n  s: {versioningScheme: Path}\n", 2, 25,
        "apiVersionSets.s.versioningScheme: 'Path' is not a versioning scheme (expected Segment, "
        "Query or Header)"),
    ERR("apiVersionSets:\n  s: {displayName: S}\n", 2, 3,
        "apiVersionSets.s: missing required key 'versioningScheme' (Segment, Query or Header)"),
    ERR("apiVersionSets:\n  s: {versioningScheme: Segment, versionQueryName: v}\n", 2, 34,
        "apiVersionSets.s: versionQueryName is only used with versioningScheme: Query"),
    ERR("apiVersionSets:\n  s: {versioningScheme: Header, versionHeaderName: \"a b\"}\n", 2, 52,
        "apiVersionSets.s.versionHeaderName: 'a b' is not a header name"),

    /* API fields */
    ERR(API "    protocols: [http, ftp]\n", 5, 23,
        "apis.a.protocols[1]: 'ftp' is not a protocol (expected http or https)"),
    ERR(API "    protocols: [https, HTTPS]\n", 5, 24,
        "apis.a.protocols[1]: 'https' is listed twice (list it once)"),
    ERR(API "    protocols: []\n", 5, 16, "apis.a.protocols: no protocols (e.g. [http, https])"),
    ERR(API "    protocols: http\n", 5, 16,
        "apis.a.protocols: expected a sequence, got a string (e.g. [http, https])"),
    ERR(API "    subscriptionRequired: maybe\n", 5, 27,
        "apis.a.subscriptionRequired: 'maybe' is not a boolean"),
    ERR(API "    subscriptionKeyParameterNames: {header: \"X Key\"}\n", 5, 45,
        "apis.a.subscriptionKeyParameterNames.header: 'X Key' is not a header name"),
    ERR(API "    subscriptionKeyParameterNames: {query: \"k&x\"}\n", 5, 44,
        "apis.a.subscriptionKeyParameterNames.query: 'k&x' is not a query parameter name"),
    ERR(API "    openapi: \"\"\n", 5, 14, "apis.a.openapi: empty file name"),
    ERR("backends:\n  p: {type: Pool, pool: {services: [{id: s}]}}\n  s: {url: http://h}\n"
        "apis:\n  a: {path: a, backend: /backends/t}\n", 5, 25,
        "apis.a.backend: backend 't' is not defined (defined: p, s)"),

    /* operations */
    ERR(API "    operations:\n      o: {method: FETCH, urlTemplate: /x}\n", 6, 19,
        "apis.a.operations.o.method: 'FETCH' is not an HTTP method (expected GET, POST, PUT, "
        "PATCH, DELETE, HEAD, OPTIONS, TRACE or *)"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: x}\n", 6, 37,
        "apis.a.operations.o.urlTemplate: 'x' must start with '/' (e.g. /orders/{id})"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: \"/a/{id\"}\n", 6, 37,
        "apis.a.operations.o.urlTemplate: '/a/{id' has '{id': a parameter is a whole segment"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: \"/a/x{id}\"}\n", 6, 37,
        "apis.a.operations.o.urlTemplate: '/a/x{id}' has 'x{id}': a parameter is a whole segment"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: \"/a/*/b\"}\n", 6, 37,
        "apis.a.operations.o.urlTemplate: '/a/*/b' has '*' that is not the whole last segment"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: \"/a/{id}/{id}\"}\n", 6, 37,
        "apis.a.operations.o.urlTemplate: '/a/{id}/{id}' has the parameter '{id}' twice"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: \"/a/{id}?x={id}\"}\n", 6, 37,
        "apis.a.operations.o.urlTemplate: '/a/{id}?x={id}' has the parameter '{id}' twice"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: \"/a?{x}\"}\n", 6, 37,
        "apis.a.operations.o.urlTemplate: '/a?{x}' has the query item '{x}' (expected name, "
        "name=value or "
        "name={param})"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: \"/a b\"}\n", 6, 37,
        "apis.a.operations.o.urlTemplate: '/a b' has a space at offset 2 (encode it as %20)"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: \"/a//b\"}\n", 6, 37,
        "apis.a.operations.o.urlTemplate: '/a//b' has an empty segment ('//')"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: \"/orders/{id}\"}\n"
            "      p: {method: get, urlTemplate: \"/Orders/{orderId}\"}\n", 7, 7,
        "apis.a.operations.p: GET /Orders/{orderId} is already operation 'o' at line 6 (change "
        "the method or template, or remove one)"),
    ERR(API "    operations:\n      o: {urlTemplate: /x}\n", 6, 7,
        "apis.a.operations.o: missing required key 'method' (e.g. method: GET)"),
    ERR(API "    operations:\n      o: {method: GET}\n", 6, 7,
        "apis.a.operations.o: missing required key 'urlTemplate' (e.g. urlTemplate: /orders/{id})"),
    ERR(API "    operations:\n      \"o/1\": {method: GET, urlTemplate: /x}\n", 6, 7,
        "apis.a.operations.o/1: id 'o/1' has the character '/'"),
    ERR(API "    operations:\n      o: {method: GET, urlTemplate: /x, displayName: [a]}\n", 6, 54,
        "apis.a.operations.o.displayName: expected a string, got a sequence"),

    /* products */
    ERR(API "products:\n  p: {apis: [b]}\n", 6, 14,
        "products.p.apis[0]: API 'b' is not defined (add it under apis:)"),
    ERR(API "products:\n  p: {apis: [A]}\n", 6, 14,
        "products.p.apis[0]: API 'A' is not defined (did you mean 'a'?)"),
    ERR(API "products:\n  p: {apis: [a, /apis/a]}\n", 6, 17,
        "products.p.apis[1]: API 'a' is listed twice (list it once)"),
    ERR(API "products:\n  p: {apis: a}\n", 6, 13,
        "products.p.apis: expected a sequence, got a string (e.g. [orders, billing])"),
    ERR(API "products:\n  p: {state: draft}\n", 6, 14,
        "products.p.state: 'draft' is not a product state (expected notPublished or published)"),

    /* subscriptions */
    ERR("subscriptions:\n  s: {primaryKey: k}\n", 2, 3,
        "subscriptions.s: missing required key 'scope' (all, product/<id> or api/<id>)"),
    ERR("subscriptions:\n  s: {scope: all}\n", 2, 3,
        "subscriptions.s: missing required key 'primaryKey'"),
    ERR("subscriptions:\n  s: {scope: everything, primaryKey: k}\n", 2, 14,
        "subscriptions.s.scope: 'everything' is not a scope (expected all, product/<id> or "
        "api/<id>)"),
    ERR("subscriptions:\n  s: {scope: product/, primaryKey: k}\n", 2, 14,
        "subscriptions.s.scope: 'product/' is not a scope"),
    ERR("products:\n  starter: {}\nsubscriptions:\n  s: {scope: product/startr, primaryKey: k}\n",
        4, 14, "subscriptions.s.scope: product 'startr' is not defined (did you mean 'starter'?)"),
    ERR("subscriptions:\n  s: {scope: /apis/x, primaryKey: k}\n", 2, 14,
        "subscriptions.s.scope: API 'x' is not defined (add it under apis:)"),
    ERR("subscriptions:\n  s: {scope: all, primaryKey: k, state: paused}\n", 2, 41,
        "subscriptions.s.state: 'paused' is not a subscription state (expected active, suspended, "
        "submitted, rejected, cancelled or expired)"),
    ERR("subscriptions:\n  s: {scope: all, primaryKey: \"\"}\n", 2, 31,
        "subscriptions.s.primaryKey: the key is 0 characters (expected 1 to 256)"),
    ERR("subscriptions:\n  s: {scope: all, primaryKey: a}\n  t: {scope: all, primaryKey: a}\n", 3,
        31, "subscriptions.t.primaryKey: the same key as the primaryKey of subscription 's' at "
        "line 2"),
};

static void test_errors(void) { expect_errors(error_cases, sizeof error_cases / sizeof *error_cases); }

/* Each message once, all in one load, and no config: a generation is complete or refused. */
static void test_many_errors(void) {
  static const char yaml[] =
      "backends:\n"                                                     /* 1 */
      "  p: {type: Pool, pool: {services: [{id: nope}]}}\n"             /* 2 */
      "apis:\n"                                                         /* 3 */
      "  a: {path: a, backend: p, protocols: [ftp]}\n"                   /* 4 */
      "products:\n"                                                     /* 5 */
      "  p: {apis: [zzz]}\n"                                            /* 6 */
      "subscriptions:\n"                                                /* 7 */
      "  s: {scope: product/q, primaryKey: \"{{k}}\"}\n";                /* 8 */
  pt_diag_t d = {0};
  pt_config_t *c = pt_config_load(write_tmp(yaml, sizeof yaml - 1), &d);
  CHECK(c == NULL);
  CHECK(d.errors == 5);
  if (d.errors != 5) pt_diag_print(&d, stderr);
  pt_diag_free(&d);
}

/* Durations: APIM's ISO 8601 form as well. */
static void test_iso_durations(void) {
  static const struct {
    const char *s;
    int rc;
    uint64_t ms;
  } cases[] = {
      {"PT1M", 0, 60000},    {"PT30S", 0, 30000},    {"PT1H30M", 0, 5400000},
      {"P1D", 0, 86400000},  {"P1DT2H", 0, 93600000}, {"PT0.5S", 0, 500},
      {"PT1,25S", 0, 1250},  {"PT0S", 0, 0},         {"P", -1, 0},
      {"PT", -1, 0},         {"P1DT", -1, 0},        {"P1M", -1, 0}, /* months: no fixed length */
      {"PT1D", -1, 0},       {"PT1S1M", -1, 0},      {"PT1.5M", -1, 0},
      {"PT0.1234S", -1, 0},  {"PT1H1H", -1, 0},      {"pt1m", -1, 0},
      {"P1W", -1, 0},        {"PT-1S", -1, 0},       {"PT99999999999999999999S", -1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    uint64_t ms = 12345;
    int rc = pt_parse_duration(cases[i].s, &ms);
    if (rc != cases[i].rc || (rc == 0 && ms != cases[i].ms)) {
      fprintf(stderr, "%s:%d: check failed: pt_parse_duration(\"%s\") = %d, %llu\n", __FILE__,
              __LINE__, cases[i].s, rc, (unsigned long long)ms);
      check_failures++;
    }
  }
}

int main(void) {
  test_full();
  test_substitution_places();
  test_no_substitution_elsewhere();
  test_secrets_never_shown();
  test_missing_references();
  test_from_env_and_file();
  test_limits();
  test_errors();
  test_many_errors();
  test_iso_durations();
  if (tmp_path[0]) unlink(tmp_path);
  if (check_failures) {
    fprintf(stderr, "test-config-apim: %d check(s) failed\n", check_failures);
    return 1;
  }
  printf("test-config-apim: all checks passed\n");
  return 0;
}
