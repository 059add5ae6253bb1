/* test-config.c - unit tests of config.c and url.c: a full configuration with defaults,
 * located error messages, key suggestions, collecting several errors in one load, and the
 * duration, size and URL parsers. Run from the repository root (ctest does). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_check.h"
#include "url.h"

/* ---- a full configuration and the defaults ---- */

static void test_full(void) {
  pt_diag_t d = {0};
  pt_config_t *c = pt_config_load("tests/c/fixtures/full.yaml", &d);
  pt_diag_print(&d, stderr);
  CHECK(c != NULL);
  CHECK(d.count == 0);
  if (!c) return;
  CHECK_STR(c->file, "tests/c/fixtures/full.yaml");
  CHECK_STR(c->id, "edge-1");
  CHECK(c->nhostnames == 2);
  if (c->nhostnames == 2) {
    CHECK_STR(c->hostnames[0], "localhost");
    CHECK_STR(c->hostnames[1], "api.example.com"); /* host names are kept lowercase */
  }

  CHECK(c->nlisten == 3);
  if (c->nlisten == 3) {
    const struct sockaddr_in *a4 = (const void *)&c->listen[0].addr;
    const struct sockaddr_in6 *a6 = (const void *)&c->listen[1].addr;
    const struct sockaddr_in *any = (const void *)&c->listen[2].addr;
    CHECK_STR(c->listen[0].text, "127.0.0.1:8080");
    CHECK(a4->sin_family == AF_INET && ntohs(a4->sin_port) == 8080);
    CHECK(a4->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    CHECK(c->listen[0].line == 6 && c->listen[0].col == 7);
    CHECK(a6->sin6_family == AF_INET6 && ntohs(a6->sin6_port) == 8443);
    CHECK(memcmp(&a6->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback) == 0);
    CHECK(any->sin_family == AF_INET && any->sin_addr.s_addr == htonl(INADDR_ANY));
    CHECK(ntohs(any->sin_port) == 9090);
  }

  CHECK(c->workers == 4);
  CHECK(c->limits.max_header_bytes == 32768);
  CHECK(c->limits.max_headers == 50);
  CHECK(c->limits.max_url_bytes == 4096);
  CHECK(c->limits.max_body_bytes == 1000000000);
  CHECK(c->timeouts.header_read == 5000);
  CHECK(c->timeouts.idle == 120000);
  CHECK(c->timeouts.backend_connect == 500);
  CHECK(c->timeouts.backend == 3600000);
  CHECK(c->timeouts.drain == 0);
  CHECK(c->pool.max_idle_per_origin == 0);
  CHECK(c->pool.idle_timeout == 45000);
  CHECK(c->pool.max_requests_per_connection == 10);
  CHECK(c->dns_ttl == 0);
  CHECK_STR(c->access_log, "tests/c/fixtures/logs/access.log"); /* relative to the file */

  CHECK(c->nbackends == 2);
  if (c->nbackends == 2) {
    const pt_backend_cfg_t *b = &c->backends[0];
    CHECK_STR(b->id, "orders");
    CHECK_STR(b->url_text, "HTTP://Orders.Internal:9002/api/");
    CHECK_STR(b->url.scheme, "http");
    CHECK_STR(b->url.host, "orders.internal");
    CHECK(b->url.port == 9002);
    CHECK_STR(b->url.path, "/api/");
    CHECK_STR(b->url.authority, "orders.internal:9002");
    CHECK_STR(b->title, "Orders");
    CHECK_STR(b->description, "The order service");
    CHECK(b->line == 16 && b->col == 3);
    CHECK_STR(c->backends[1].url.authority, "[::1]");
    CHECK(c->backends[1].title == NULL);
  }

  CHECK(c->napis == 3);
  if (c->napis == 3) {
    const pt_api_cfg_t *a = &c->apis[0];
    CHECK_STR(a->id, "echo");
    CHECK_STR(a->display_name, "Echo");
    CHECK_STR(a->path, "echo");
    CHECK_STR(a->service_url_text, "http://127.0.0.1:9001/v1");
    CHECK_STR(a->service_url.authority, "127.0.0.1:9001");
    CHECK_STR(a->service_url.path, "/v1");
    CHECK(a->backend_id == NULL);
    CHECK(a->line == 24 && a->col == 3);

    a = &c->apis[1];
    CHECK_STR(a->id, "orders-api");
    CHECK_STR(a->display_name, "orders-api"); /* defaults to the id */
    CHECK_STR(a->path, "");
    CHECK_STR(a->backend_id, "orders");
    CHECK_STR(a->service_url_text, "HTTP://Orders.Internal:9002/api/");
    CHECK_STR(a->service_url.host, "orders.internal");
    /* Each API owns its URL: not the backend's strings. */
    CHECK(a->service_url.host != c->backends[0].url.host);

    CHECK_STR(c->apis[2].path, "Six/Sub");
    CHECK_STR(c->apis[2].service_url.scheme, "https");
  }
  pt_config_free(c);
  pt_diag_free(&d);
}

static void test_defaults(void) {
  static const char *const minimal[] = {"{}\n", "gateway:\n", "gateway: {}\nbackends:\napis: {}\n"};
  for (size_t i = 0; i < sizeof minimal / sizeof *minimal; i++) {
    pt_diag_t d = {0};
    pt_config_t *c = pt_config_load(write_tmp(minimal[i], strlen(minimal[i])), &d);
    pt_diag_print(&d, stderr);
    CHECK(c != NULL);
    if (!c) continue;
    CHECK_STR(c->id, "portico");
    CHECK(c->nhostnames == 0);
    CHECK(c->nlisten == 1);
    if (c->nlisten == 1) {
      const struct sockaddr_in *a = (const void *)&c->listen[0].addr;
      CHECK_STR(c->listen[0].text, "127.0.0.1:8080");
      CHECK(a->sin_family == AF_INET && ntohs(a->sin_port) == 8080);
    }
    CHECK(c->workers >= 1 && c->workers <= 256);
    CHECK(c->limits.max_header_bytes == 16384);
    CHECK(c->limits.max_headers == 100);
    CHECK(c->limits.max_url_bytes == 8192);
    CHECK(c->limits.max_body_bytes == 104857600);
    CHECK(c->timeouts.header_read == 10000);
    CHECK(c->timeouts.idle == 60000);
    CHECK(c->timeouts.backend_connect == 5000);
    CHECK(c->timeouts.backend == 300000);
    CHECK(c->timeouts.drain == 30000);
    CHECK(c->pool.max_idle_per_origin == 64);
    CHECK(c->pool.idle_timeout == 30000);
    CHECK(c->pool.max_requests_per_connection == 1000);
    CHECK(c->dns_ttl == 30000);
    CHECK_STR(c->access_log, "stdout");
    CHECK(c->nbackends == 0 && c->napis == 0);
    pt_config_free(c);
    pt_diag_free(&d);
  }
}

static void test_small_forms(void) {
  static const struct {
    const char *yaml, *access_log, *listen;
    int family, port;
  } cases[] = {
      {"gateway: {accessLog: false, listen: \":8081\"}\n", NULL, ":8081", AF_INET, 8081},
      {"gateway: {accessLog: off, listen: [\"[::]:80\"]}\n", NULL, "[::]:80", AF_INET6, 80},
      {"gateway: {accessLog: /var/log/pt.log}\n", "/var/log/pt.log", "127.0.0.1:8080", AF_INET, 8080},
      {"gateway: {accessLog: stdout}\n", "stdout", "127.0.0.1:8080", AF_INET, 8080},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    pt_diag_t d = {0};
    pt_config_t *c = pt_config_load(write_tmp(cases[i].yaml, strlen(cases[i].yaml)), &d);
    pt_diag_print(&d, stderr);
    CHECK(c != NULL);
    if (!c) continue;
    CHECK_STR(c->access_log, cases[i].access_log);
    CHECK(c->nlisten == 1);
    CHECK_STR(c->listen[0].text, cases[i].listen);
    CHECK(c->listen[0].addr.ss_family == cases[i].family);
    CHECK(ntohs(((const struct sockaddr_in *)&c->listen[0].addr)->sin_port) == cases[i].port);
    pt_config_free(c);
    pt_diag_free(&d);
  }
  /* A relative access log path next to a file in the current directory stays relative. */
  {
    pt_diag_t d = {0};
    char name[64];
    FILE *f;
    snprintf(name, sizeof name, "pt-test-config-%d.yaml", (int)getpid());
    if ((f = fopen(name, "w"))) {
      fputs("gateway: {accessLog: access.log}\n", f);
      fclose(f);
      pt_config_t *c = pt_config_load(name, &d);
      CHECK(c && strcmp(c->access_log, "access.log") == 0);
      pt_config_free(c);
      pt_diag_free(&d);
      unlink(name);
    }
  }
}

/* ---- errors ---- */


static const error_case_t error_cases[] = {
    /* unknown keys, with and without a suggestion */
    ERR("gateway:\n  listne: [\"127.0.0.1:8080\"]\n", 2, 3,
        "gateway.listne: unknown key (did you mean 'listen'?)"),
    ERR("gatway:\n  id: x\n", 1, 1, "gatway: unknown key (did you mean 'gateway'?)"),
    ERR("gateway:\n  frobnicate: 1\n", 2, 3,
        "gateway.frobnicate: unknown key (expected one of: id, hostnames, listen, workers"),
    ERR("gateway:\n  limits: {maxheaderbytes: 1}\n", 2, 12,
        "gateway.limits.maxheaderbytes: unknown key (did you mean 'maxHeaderBytes'? keys are "
        "case-sensitive)"),
    ERR("apis:\n  a:\n    path: a\n    serviceURL: http://h\n", 4, 5,
        "apis.a.serviceURL: unknown key (did you mean 'serviceUrl'?"),
    ERR("backends:\n  b:\n    url: http://h\n    titel: x\n", 4, 5,
        "backends.b.titel: unknown key (did you mean 'title'?)"),
    ERR("gateway:\n  id: a\n  id: b\n", 3, 3, "gateway.id: repeated key (first at line 2"),
    ERR("gateway:\n  [a]: 1\n", 2, 3, "gateway: keys must be strings, got a sequence"),

    /* types and values */
    ERR("gateway:\n  id: {a: 1}\n", 2, 7, "gateway.id: expected a string, got a mapping"),
    ERR("gateway:\n  id: \"edge 1\"\n", 2, 7,
        "gateway.id: 'edge 1' has the character ' ' (allowed: letters, digits"),
    ERR("gateway:\n  id: \"a\\0b\"\n", 2, 7, "gateway.id: contains a NUL character"),
    ERR("gateway:\n  workers: 0\n", 2, 12, "gateway.workers: '0' is not an integer from 1 to 256"),
    ERR("gateway:\n  workers: [1]\n", 2, 12, "gateway.workers: expected an integer, got a sequence"),
    ERR("gateway:\n  limits:\n    maxBodyBytes: 10 MB\n", 3, 19,
        "gateway.limits.maxBodyBytes: '10 MB' is not a size (expected"),
    ERR("gateway:\n  limits: {maxHeaderBytes: 0}\n", 2, 28,
        "gateway.limits.maxHeaderBytes: '0' is out of range (expected 1 to 4294967295 bytes)"),
    ERR("gateway:\n  limits: {maxUrlBytes: 4GiB}\n", 2, 25, "gateway.limits.maxUrlBytes: '4GiB' is out of range"),
    ERR("gateway:\n  limits: {maxHeaders: -1}\n", 2, 24,
        "gateway.limits.maxHeaders: '-1' is not an integer from 1 to 4294967295"),
    ERR("gateway:\n  timeouts:\n    idle: 10x\n", 3, 11,
        "gateway.timeouts.idle: '10x' is not a duration (expected e.g. 500ms, 10s"),
    ERR("gateway:\n  timeouts: {backend: 0}\n", 2, 23, "gateway.timeouts.backend: must be more than 0"),
    ERR("gateway:\n  pool: {idleTimeout: 2d}\n", 2, 23, "gateway.pool.idleTimeout: '2d' is not a duration"),
    ERR("gateway:\n  dnsTtl: {}\n", 2, 11, "gateway.dnsTtl: expected a duration, got a mapping"),
    ERR("gateway:\n  limits: 5\n", 2, 11, "gateway.limits: expected a mapping, got a string"),
    ERR("gateway:\n  hostnames: [\"a b\"]\n", 2, 15, "gateway.hostnames[0]: 'a b' is not a host name"),
    ERR("gateway:\n  accessLog: true\n", 2, 14, "gateway.accessLog: expected off, stdout or a file path"),
    ERR("gateway:\n  accessLog: \"\"\n", 2, 14, "gateway.accessLog: empty file name"),

    /* listen */
    ERR("gateway:\n  listen: \"localhost:8080\"\n", 2, 11,
        "gateway.listen: 'localhost:8080' has 'localhost', which is not an IP address (listen "
        "takes IPv4 or [IPv6] literals, no DNS names"),
    ERR("gateway:\n  listen: [\"127.0.0.1:0\"]\n", 2, 12,
        "gateway.listen[0]: '127.0.0.1:0' has an invalid port '0' (expected 1-65535)"),
    ERR("gateway:\n  listen: [\"8080\"]\n", 2, 12, "gateway.listen[0]: '8080' has no port"),
    ERR("gateway:\n  listen: [\"::1:8080\"]\n", 2, 12,
        "gateway.listen[0]: '::1:8080' needs brackets around an IPv6 address (e.g. [::1]:8080)"),
    ERR("gateway:\n  listen: [\"[::x]:80\"]\n", 2, 12,
        "gateway.listen[0]: '[::x]:80' has an invalid IPv6 address '[::x]'"),
    ERR("gateway:\n  listen:\n    - \"*:8080\"\n    - \"0.0.0.0:8080\"\n", 4, 7,
        "gateway.listen[1]: '0.0.0.0:8080' is the same address as '*:8080' at line 3"),
    ERR("gateway:\n  listen: []\n", 2, 11, "gateway.listen: no addresses"),
    ERR("gateway:\n  listen: [[a]]\n", 2, 12,
        "gateway.listen[0]: expected an address like '127.0.0.1:8080', got a sequence"),
    ERR("gateway:\n  listen: [{a: 1}]\n", 2, 12, "gateway.listen[0]: missing 'address'"),

    /* backends */
    ERR("backends:\n  orders:\n    url: htp://x\n", 3, 10,
        "backends.orders.url: 'htp://x' has unknown scheme 'htp' (expected http or https)"),
    ERR("backends:\n  b:\n    url: \"http://bob:secret@h/x\"\n", 3, 10,
        "backends.b.url: 'http://***@h/x' has user info before '@'"),
    ERR("backends:\n  b: {title: t}\n", 2, 3,
        "backends.b: missing required key 'url' (e.g. url: http://"),
    ERR("backends:\n  b: {url: \"http://h\", protocol: grpc}\n", 2, 34,
        "backends.b.protocol: 'grpc' is not a protocol (expected http or soap)"),
    ERR("backends:\n  \"bad id\": {url: http://h}\n", 2, 3,
        "backends.bad id: id 'bad id' has the character ' '"),
    ERR("backends:\n  b: {url: http://h}\n  b: {url: http://g}\n", 3, 3,
        "backends.b: defined twice (first at line 2"),
    ERR("backends:\n  b: http://h\n", 2, 6, "backends.b: expected a mapping, got a string"),
    ERR("backends: [a]\n", 1, 11, "backends: expected a mapping, got a sequence"),

    /* APIs */
    ERR("apis:\n  x:\n    path: x\n    serviceUrl: http://h/x?a=1\n", 4, 17,
        "apis.x.serviceUrl: 'http://h/x?a=1' has a query string ('?...'); a base URL cannot "
        "have a query or fragment"),
    ERR("backends:\n  a: {url: http://h}\n  b: {url: http://h}\napis:\n  x: {path: x, backend: c}\n",
        5, 25, "apis.x.backend: backend 'c' is not defined (defined: a, b)"),
    ERR("apis:\n  x: {path: x, backend: c}\n", 2, 25,
        "apis.x.backend: backend 'c' is not defined (no backends are defined"),
    ERR("backends:\n  a: {url: http://h}\napis:\n  x: {path: x, serviceUrl: http://h, backend: a}\n",
        4, 38, "apis.x: has both serviceUrl and backend (keep one)"),
    ERR("apis:\n  x: {path: x}\n", 2, 3, "apis.x: needs serviceUrl or backend"),
    ERR("apis:\n  x: {serviceUrl: http://h}\n", 2, 3, "apis.x: missing required key 'path'"),
    ERR("apis:\n  x: {path: a?b, serviceUrl: http://h}\n", 2, 13,
        "apis.x.path: 'a?b' has '?' (an API path cannot hold a query or fragment)"),
    ERR("apis:\n  x: {path: a//b, serviceUrl: http://h}\n", 2, 13,
        "apis.x.path: 'a//b' has an empty segment ('//')"),
    ERR("apis:\n  x: {path: \"a b\", serviceUrl: http://h}\n", 2, 13, "apis.x.path: 'a b' has a space"),
    ERR("apis:\n  a:\n    path: /Echo\n    serviceUrl: http://h\n  b:\n    path: echo/\n"
        "    serviceUrl: http://h\n",
        6, 11, "apis.b.path: 'echo' is already the path of API 'a' at "),
    ERR("apis:\n  x: 3\n", 2, 6, "apis.x: expected a mapping, got a string"),
    ERR("apis:\n  x:\n", 2, 5, "apis.x: expected a mapping, got nothing"),

    /* the document */
    ERR("gateway:\n  id: [a\n", 3, 1, "YAML syntax error: did not find expected ',' or ']' "
        "(while parsing a flow sequence at line 2, column 7)"),
    ERR("gateway:\n\tid: a\n", 2, 1, "YAML syntax error: found character that cannot start any token"),
    ERR("- a\n- b\n", 1, 1,
        "expected a mapping with gateway, backends and apis at the top, got a sequence"),
    ERR("", 0, 0, "the file is empty (expected a mapping with gateway, backends and apis)"),
    ERR("# only a comment\n", 0, 0, "the file is empty"),
    ERR("gateway: {}\n---\nx: 1\n", 2, 1, "a second YAML document"),
    ERR("gateway: {}\n\xff\xfe\n", 0, 0, "not valid YAML text: invalid leading UTF-8 octet"),
};

static void test_errors(void) { expect_errors(error_cases, sizeof error_cases / sizeof *error_cases); }

/* Credentials in a backend URL never reach a message. */
static void test_no_secrets(void) {
  static const char yaml[] = "backends:\n  b: {url: \"https://bob:hunter2@h:99999/\"}\n";
  pt_diag_t d = {0};
  pt_config_t *c = pt_config_load(write_tmp(yaml, sizeof yaml - 1), &d);
  CHECK(c == NULL && d.errors == 1);
  CHECK(!has_message(&d, "hunter2"));
  pt_diag_free(&d);
}

/* All problems of a file are reported by one load, in the order they are found. */
static void test_many_errors(void) {
  static const char yaml[] =
      "gateway:\n"                           /* 1 */
      "  workers: lots\n"                    /* 2 */
      "  listne: []\n"                       /* 3 */
      "  timeouts: {idle: soon}\n"           /* 4 */
      "backends:\n"                          /* 5 */
      "  orders: {url: \"htp://x\"}\n"       /* 6 */
      "apis:\n"                              /* 7 */
      "  a: {path: a, backend: nope}\n"      /* 8 */
      "  b: {path: A, serviceUrl: http://h}\n" /* 9 */
      "extra: 1\n";                          /* 10 */
  static const struct {
    int line, col;
    const char *text;
  } want[] = {
      {10, 1, "extra: unknown key (expected one of: gateway, namedValues, backends, apiVersionSets, apis, "
       "products, subscriptions, fragments, certificates)"},
      {2, 12, "gateway.workers: 'lots' is not an integer"},
      {3, 3, "gateway.listne: unknown key (did you mean 'listen'?)"},
      {4, 20, "gateway.timeouts.idle: 'soon' is not a duration"},
      {6, 17, "backends.orders.url: 'htp://x' has unknown scheme 'htp'"},
      {8, 25, "apis.a.backend: backend 'nope' is not defined (defined: orders)"},
      {9, 13, "apis.b.path: 'A' is already the path of API 'a' at "},
  };
  pt_diag_t d = {0};
  char line[512];
  const char *file = write_tmp(yaml, sizeof yaml - 1);
  pt_config_t *c = pt_config_load(file, &d);
  CHECK(c == NULL);
  CHECK(d.errors == (int)(sizeof want / sizeof *want));
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    snprintf(line, sizeof line, "%s:%d:%d: %s", file, want[i].line, want[i].col, want[i].text);
    if (!has_message(&d, line)) {
      fprintf(stderr, "%s:%d: check failed: no message \"%s\"\n", __FILE__, __LINE__, line);
      check_failures++;
    }
  }
  /* The duplicate path names both places. */
  snprintf(line, sizeof line, "'a' at %s:8:13 (API paths must differ, ignoring case)", file);
  CHECK(has_message(&d, line));
  if (check_failures) pt_diag_print(&d, stderr);
  pt_diag_free(&d);
}

static void test_missing_file(void) {
  pt_diag_t d = {0};
  CHECK(pt_config_load("tests/c/fixtures/no-such-file.yaml", &d) == NULL);
  CHECK(d.errors == 1);
  CHECK(d.count == 1 && strcmp(d.messages[0], "tests/c/fixtures/no-such-file.yaml: cannot read: "
                                              "No such file or directory") == 0);
  pt_diag_free(&d);
  CHECK(pt_config_load("tests/c/fixtures", &d) == NULL);
  CHECK(has_message(&d, "tests/c/fixtures: cannot read: Is a directory"));
  pt_diag_free(&d);
}

/* ---- durations and sizes ---- */

static void test_durations(void) {
  static const struct {
    const char *s;
    int rc;
    uint64_t ms;
  } cases[] = {
      {"10s", 0, 10000}, {"500ms", 0, 500}, {"5m", 0, 300000}, {"1h", 0, 3600000},
      {"30", 0, 30000},  {"0", 0, 0},       {"0ms", 0, 0},     {"007s", 0, 7000},
      {"18446744073709551615ms", 0, UINT64_MAX},
      {"2d", -1, 0},     {"", -1, 0},       {"s", -1, 0},      {"-1s", -1, 0},
      {"1.5s", -1, 0},   {"10S", -1, 0},    {" 10s", -1, 0},   {"10 s", -1, 0},
      {"10s ", -1, 0},   {"1h30m", -1, 0},  {"18446744073709551615", -1, 0},
      {"99999999999999999999ms", -1, 0},
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
  CHECK(pt_parse_duration(NULL, &(uint64_t){0}) < 0);
}

static void test_sizes(void) {
  static const struct {
    const char *s;
    int rc;
    uint64_t bytes;
  } cases[] = {
      {"16384", 0, 16384},          {"16KiB", 0, 16384},        {"100MiB", 0, 104857600},
      {"1GiB", 0, 1073741824},      {"1KB", 0, 1000},           {"2MB", 0, 2000000},
      {"3GB", 0, 3000000000u},      {"0", 0, 0},                {"16777216GiB", 0, 1ull << 54},
      {"18446744073709551615", 0, UINT64_MAX},
      {"18446744073709551616", -1, 0}, {"17179869184GiB", -1, 0}, {"1kib", -1, 0},
      {"1KIB", -1, 0},              {"1kb", -1, 0},             {"-1", -1, 0},
      {"", -1, 0},                  {"KiB", -1, 0},             {"1 KiB", -1, 0},
      {"1TiB", -1, 0},              {"1.5MiB", -1, 0},          {"1B", -1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    uint64_t bytes = 12345;
    int rc = pt_parse_size(cases[i].s, &bytes);
    if (rc != cases[i].rc || (rc == 0 && bytes != cases[i].bytes)) {
      fprintf(stderr, "%s:%d: check failed: pt_parse_size(\"%s\") = %d, %llu\n", __FILE__,
              __LINE__, cases[i].s, rc, (unsigned long long)bytes);
      check_failures++;
    }
  }
}

/* ---- URLs ---- */

static void test_urls_valid(void) {
  static const struct {
    const char *s, *scheme, *host;
    int port;
    const char *path, *authority;
  } cases[] = {
      {"http://127.0.0.1:9001/v1", "http", "127.0.0.1", 9001, "/v1", "127.0.0.1:9001"},
      {"HTTPS://Example.COM", "https", "example.com", 443, "", "example.com"},
      {"https://example.com:443/a/b/", "https", "example.com", 443, "/a/b/", "example.com"},
      {"http://example.com:443/", "http", "example.com", 443, "/", "example.com:443"},
      {"http://[::1]:8080/x", "http", "::1", 8080, "/x", "[::1]:8080"},
      {"http://[2001:DB8::1]/", "http", "2001:db8::1", 80, "/", "[2001:db8::1]"},
      {"http://h:65535", "http", "h", 65535, "", "h:65535"},
      {"http://a.b-c_d~e/%20x/Y;p=1", "http", "a.b-c_d~e", 80, "/%20x/Y;p=1", "a.b-c_d~e"},
      {"http://h:00080/", "http", "h", 80, "/", "h"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    pt_url_t u;
    char err[256] = "";
    int rc = pt_url_parse(&u, cases[i].s, err, sizeof err);
    if (rc != 0) {
      fprintf(stderr, "%s:%d: check failed: pt_url_parse(\"%s\"): %s\n", __FILE__, __LINE__,
              cases[i].s, err);
      check_failures++;
      continue;
    }
    CHECK_STR(u.scheme, cases[i].scheme);
    CHECK_STR(u.host, cases[i].host);
    CHECK(u.port == cases[i].port);
    CHECK(u.default_port == (strcmp(cases[i].scheme, "http") == 0 ? 80 : 443));
    CHECK_STR(u.path, cases[i].path);
    CHECK_STR(u.authority, cases[i].authority);
    pt_url_free(&u);
    CHECK(u.host == NULL && u.path == NULL && u.authority == NULL);
    pt_url_free(&u); /* twice is harmless */
  }
}

static void test_urls_invalid(void) {
  static char long_url[2100];
  static const struct {
    const char *s, *err;
  } cases[] = {
      {"htp://x", "unknown scheme 'htp' (expected http or https)"},
      {"ftp://h/", "unknown scheme 'ftp' (expected http or https)"},
      {"127.0.0.1:9001/x", "no scheme (expected http://host[:port][/path])"},
      {"//h/x", "no scheme"},
      {"http:/h", "no '//' after 'http:'"},
      {"http://", "no host"},
      {"http:///x", "no host"},
      {"http://:80/x", "no host"},
      {"http://u:p@h/", "user info before '@'"},
      {"http://h:0", "an invalid port '0' (expected 1-65535)"},
      {"http://h:65536", "an invalid port '65536'"},
      {"http://h:99999999999999999999", "an invalid port"},
      {"http://h:x", "an invalid port 'x'"},
      {"http://h:", "an empty port after ':'"},
      {"http://h/x?a=1", "a query string ('?...'); a base URL cannot have a query or fragment"},
      {"http://h?a", "a query string"},
      {"http://h/#f", "a fragment ('#...')"},
      {"http://h /x", "a space at offset 8 (encode it as %20)"},
      {"http://h/\tx", "a control character at offset 9 (encode it as %09)"},
      {"http://[::1/x", "an unclosed '['"},
      {"http://[::g]/", "an invalid IPv6 address '[::g]'"},
      {"http://[::1]x/", "'x' after the IPv6 address"},
      {"http://300.1.1.1/", "an invalid IPv4 address '300.1.1.1'"},
      {"http://h!x/", "the character '!' in the host"},
      {"", "nothing"},
      {long_url, "2001 characters (at most 2000)"},
  };
  memset(long_url, 'a', 2001);
  memcpy(long_url, "http://h/", 9);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    pt_url_t u;
    char err[256] = "";
    int rc = pt_url_parse(&u, cases[i].s, err, sizeof err);
    if (rc != -1 || !strstr(err, cases[i].err)) {
      fprintf(stderr, "%s:%d: check failed: pt_url_parse(\"%.40s\") = %d \"%s\", expected \"%s\"\n",
              __FILE__, __LINE__, cases[i].s, rc, err, cases[i].err);
      check_failures++;
    }
    CHECK(u.host == NULL && u.path == NULL && u.authority == NULL);
    CHECK(!strstr(err, "u:p")); /* credentials are not repeated */
    pt_url_free(&u);
  }
  /* Exactly at the limit is fine. */
  {
    pt_url_t u;
    long_url[2000] = '\0';
    CHECK(pt_url_parse(&u, long_url, NULL, 0) == 0);
    pt_url_free(&u);
  }
  {
    pt_url_t zero;
    memset(&zero, 0, sizeof zero);
    pt_url_free(&zero);
  }
}

int main(void) {
  test_full();
  test_defaults();
  test_small_forms();
  test_errors();
  test_no_secrets();
  test_many_errors();
  test_missing_file();
  test_durations();
  test_sizes();
  test_urls_valid();
  test_urls_invalid();
  if (tmp_path[0]) unlink(tmp_path);
  if (check_failures) {
    fprintf(stderr, "test-config: %d check(s) failed\n", check_failures);
    return 1;
  }
  printf("test-config: all checks passed\n");
  return 0;
}
