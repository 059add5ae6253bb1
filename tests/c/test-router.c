/* test-router.c - longest whole-segment API path matching (router.c). */
#include <stdlib.h>

#include "check.h"
#include "router.h"

static pt_api_cfg_t apis[] = {
    {.id = "shop", .path = "shop"},
    {.id = "orders", .path = "shop/orders"},
    {.id = "echo", .path = "echo"},
    {.id = "root", .path = ""},
};

static void expect(const pt_router_t *r, const char *path, const char *api, const char *rest) {
  size_t off = 0;
  const pt_api_cfg_t *a = pt_router_match(r, path, strlen(path), &off);
  if (!api) {
    CHECK(a == NULL);
    return;
  }
  CHECK(a != NULL);
  if (!a) {
    fprintf(stderr, "  no API for %s\n", path);
    return;
  }
  CHECK_MEM(a->id, strlen(a->id), api);
  CHECK_MEM(path + off, strlen(path) - off, rest);
}

int main(void) {
  pt_config_t c = {.apis = apis, .napis = 4};
  pt_router_t r;
  CHECK(pt_router_build(&r, &c) == 0);
  expect(&r, "/shop/orders/1", "orders", "/1");
  expect(&r, "/shop/orders", "orders", "");
  expect(&r, "/SHOP/Orders/1", "orders", "/1"); /* APIM matches the suffix case-insensitively */
  expect(&r, "/shop/ordersx", "shop", "/ordersx");
  expect(&r, "/shop", "shop", "");
  expect(&r, "/echo/a/b", "echo", "/a/b");
  expect(&r, "/echoes", "root", "/echoes"); /* not a whole segment: falls to the empty path */
  expect(&r, "/", "root", "/");
  pt_router_free(&r);

  c.napis = 3; /* without the catch-all API */
  CHECK(pt_router_build(&r, &c) == 0);
  expect(&r, "/echoes", NULL, NULL);
  expect(&r, "/", NULL, NULL);
  expect(&r, "", NULL, NULL);
  pt_router_free(&r);
  return CHECK_RESULT();
}
