/* test-router.c - API and operation matching (router.c): whole segments,
 * longest path, versions by segment, query and header, URL templates. */
#include <stdlib.h>

#include "check.h"
#include "router.h"

static pt_operation_cfg_t order_ops[] = {
    {.id = "get-order", .method = "GET", .url_template = "/orders/{id}"},
    {.id = "list-open", .method = "GET", .url_template = "/orders?status=open"},
    {.id = "search", .method = "GET", .url_template = "/orders?q={q}"},
    {.id = "list", .method = "GET", .url_template = "/orders"},
    {.id = "latest", .method = "GET", .url_template = "/orders/latest"},
    {.id = "create", .method = "POST", .url_template = "/orders"},
    {.id = "files", .method = "*", .url_template = "/files/*"},
    {.id = "line", .method = "GET", .url_template = "/orders/{id}/lines/{line}"},
};

static pt_version_set_cfg_t seg_set = {.id = "s", .scheme = PT_VERSION_SEGMENT};
static pt_version_set_cfg_t query_set = {.id = "q", .scheme = PT_VERSION_QUERY, .name = "api-version"};
static pt_version_set_cfg_t header_set = {.id = "h", .scheme = PT_VERSION_HEADER, .name = "Api-Version"};

static pt_api_cfg_t apis[] = {
    {.id = "shop", .path = "shop"},
    {.id = "orders", .path = "shop/orders", .operations = order_ops, .noperations = 8},
    {.id = "echo", .path = "echo"},
    {.id = "stock-v1", .path = "stock", .version_set = &seg_set, .api_version = "v1"},
    {.id = "stock-v2", .path = "stock", .version_set = &seg_set, .api_version = "v2"},
    {.id = "bill-v1", .path = "bill", .version_set = &query_set, .api_version = "2024-01-01"},
    {.id = "bill-v2", .path = "bill", .version_set = &query_set, .api_version = "2025-01-01"},
    {.id = "hr-v1", .path = "hr", .version_set = &header_set, .api_version = "v1"},
    {.id = "root", .path = ""},
};

static pt_headers_t version_header;

static int route(const pt_router_t *r, const char *method, const char *target, pt_route_match_t *m) {
  const char *q = strchr(target, '?');
  size_t plen = q ? (size_t)(q - target) : strlen(target);
  pt_route_request_t rq = {method, target, plen, q ? q + 1 : "", q ? strlen(q + 1) : 0, &version_header};
  return pt_router_match(r, &rq, m);
}

static void expect(const pt_router_t *r, const char *method, const char *target, const char *api,
                   const char *op, const char *rest) {
  pt_route_match_t m;
  int rc = route(r, method, target, &m);
  if (!api) {
    CHECK(rc == PT_ROUTE_NO_API);
    return;
  }
  if (!m.api || strcmp(m.api->id, api) != 0) {
    fprintf(stderr, "  %s %s: API %s, expected %s\n", method, target, m.api ? m.api->id : "none", api);
    check_failures++;
    return;
  }
  if (!op) CHECK(rc == PT_ROUTE_OK && m.operation == NULL);
  else if (strcmp(op, "-") == 0) CHECK(rc == PT_ROUTE_NO_OPERATION);
  else if (!m.operation || strcmp(m.operation->id, op) != 0) {
    fprintf(stderr, "  %s %s: operation %s, expected %s\n", method, target,
            m.operation ? m.operation->id : "none", op);
    check_failures++;
  }
  if (rest) {
    const char *qm = strchr(target, '?');
    size_t plen = qm ? (size_t)(qm - target) : strlen(target);
    CHECK_MEM(target + m.rest, plen - m.rest, rest);
  }
}

static void test_paths(const pt_router_t *r) {
  expect(r, "GET", "/shop/orders/orders/1", "orders", "get-order", "/orders/1");
  expect(r, "GET", "/SHOP/Orders/orders/1", "orders", "get-order", NULL); /* case-insensitive */
  expect(r, "GET", "/shop/ordersx", "shop", NULL, "/ordersx");
  expect(r, "GET", "/shop", "shop", NULL, "");
  expect(r, "GET", "/echo/a/b", "echo", NULL, "/a/b");
  expect(r, "GET", "/echoes", "root", NULL, "/echoes"); /* not a whole segment */
  expect(r, "GET", "/", "root", NULL, "/");
}

static void test_templates(const pt_router_t *r) {
  pt_route_match_t m;
  expect(r, "GET", "/shop/orders/orders/latest", "orders", "latest", NULL); /* literal beats {id} */
  expect(r, "GET", "/shop/orders/orders/7/", "orders", "get-order", NULL);
  expect(r, "GET", "/shop/orders/orders", "orders", "list", NULL);
  expect(r, "GET", "/shop/orders/orders?status=open", "orders", "list-open", NULL);
  expect(r, "GET", "/shop/orders/orders?status=closed", "orders", "list", NULL);
  expect(r, "GET", "/shop/orders/orders?q=abc&x=1", "orders", "search", NULL);
  expect(r, "POST", "/shop/orders/orders", "orders", "create", NULL);
  expect(r, "DELETE", "/shop/orders/orders", "orders", "-", NULL);
  expect(r, "PUT", "/shop/orders/files/a/b/c", "orders", "files", NULL);
  expect(r, "PUT", "/shop/orders/files", "orders", "files", NULL);
  expect(r, "GET", "/shop/orders/nothing", "orders", "-", NULL);
  CHECK(route(r, "GET", "/shop/orders/orders/42/lines/3", &m) == PT_ROUTE_OK);
  CHECK(m.nparams == 2);
  CHECK(strcmp(m.params[0].name, "id") == 0);
  CHECK_MEM(m.params[0].value, m.params[0].value_len, "42");
  CHECK_MEM(m.params[1].value, m.params[1].value_len, "3");
  CHECK(route(r, "GET", "/shop/orders/orders?q=abc&x=1", &m) == PT_ROUTE_OK);
  CHECK(m.nparams == 1 && strcmp(m.params[0].name, "q") == 0);
  CHECK_MEM(m.params[0].value, m.params[0].value_len, "abc");
}

static void test_versions(const pt_router_t *r) {
  expect(r, "GET", "/stock/v1/items", "stock-v1", NULL, "/items");
  expect(r, "GET", "/stock/V2", "stock-v2", NULL, "");
  expect(r, "GET", "/stock/v3/items", "root", NULL, NULL); /* no such version */
  expect(r, "GET", "/bill/x?api-version=2025-01-01", "bill-v2", NULL, "/x");
  expect(r, "GET", "/bill/x?a=1&api-version=2024-01-01", "bill-v1", NULL, "/x");
  expect(r, "GET", "/bill/x", "root", NULL, NULL);
  expect(r, "GET", "/hr/people", "root", NULL, NULL);
  pt_headers_name_piece(&version_header, "api-version", 11);
  pt_headers_value_piece(&version_header, "v1", 2);
  expect(r, "GET", "/hr/people", "hr-v1", NULL, "/people");
  pt_headers_free(&version_header);
}

int main(void) {
  pt_config_t c = {.apis = apis, .napis = 9};
  pt_router_t r;
  CHECK(pt_router_build(&r, &c) == 0);
  test_paths(&r);
  test_templates(&r);
  test_versions(&r);
  pt_router_free(&r);

  c.napis = 8; /* without the catch-all API */
  CHECK(pt_router_build(&r, &c) == 0);
  expect(&r, "GET", "/echoes", NULL, NULL, NULL);
  expect(&r, "GET", "/", NULL, NULL, NULL);
  pt_router_free(&r);
  return CHECK_RESULT();
}
