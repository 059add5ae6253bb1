-- Operations and versions: with operations declared only matching requests
-- pass (URL templates with parameters, literal segments, trailing wildcards,
-- required query parameters, methods); everything else is APIM's 404
-- OperationNotFound; an API without operations takes everything. Version
-- sets select the API by path segment, query parameter or header; the
-- segment is not forwarded; unknown or missing versions are 404.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local NOT_FOUND = "Resource not found"

local split_target = h.split_target

local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

describe("14 operations", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "ops" }
    local yaml = h.gateway_yaml {} .. ([[
apis:
  shop:
    path: shop
    serviceUrl: "%s/svc"
    subscriptionRequired: false
    operations:
      get-order: { method: GET, urlTemplate: "/orders/{id}", displayName: Get order }
      get-latest: { method: GET, urlTemplate: "/orders/latest", displayName: Latest order }
      put-latest: { method: PUT, urlTemplate: "/orders/latest" }
      create-order: { method: POST, urlTemplate: "/orders" }
      search: { method: GET, urlTemplate: "/orders?status={status}" }
      get-item: { method: GET, urlTemplate: "/orders/{id}/items/{item}" }
      files: { method: "*", urlTemplate: "/files/*" }
  free:
    path: free
    serviceUrl: "%s/free"
    subscriptionRequired: false
]]):format(be.url, be.url)
    gw = h.start_gateway(yaml)
  end)

  teardown(h.cleanup)

  local function requests_seen() return be.stats().requests end

  local function allowed(t)
    local r = h.fetch(gw.port, t)
    assert.are.equal(200, r.status, (t.method or "GET") .. " " .. t.path .. ": " .. h.show(r.raw_head .. r.body))
    assert.are.equal("ops", r:header("X-Backend-Name"))
    local e = h.parse_echo(r.body)
    assert.are.equal(t.method or "GET", e.method)
    return e
  end

  local function not_found(t)
    local before = requests_seen()
    local r = h.fetch(gw.port, t)
    local what = (t.method or "GET") .. " " .. t.path
    assert.are.equal(404, r.status, what .. " should be 404: " .. h.show(r.raw_head .. r.body))
    h.assert_apim_error(r, 404, NOT_FOUND)
    assert.are.equal(before + 1, requests_seen(), what .. ": the request reached the backend")
    local path = t.path:match("^[^?]*")
    local e = gw.log_entry(path)
    assert.is_truthy(e, "no access log entry for " .. path)
    assert.are.equal("OperationNotFound", e.reason, "access log reason for " .. what)
    return r
  end

  it("matches a template parameter and forwards the path unchanged", function()
    assert.are.equal("/svc/orders/42?x=1", allowed({ path = "/shop/orders/42?x=1" }).target)
    assert.are.equal("/svc/orders/a%20b", allowed({ path = "/shop/orders/a%20b" }).target)
    -- an encoded slash is part of the segment, not a separator
    assert.are.equal("/svc/orders/a%2Fb", allowed({ path = "/shop/orders/a%2Fb" }).target)
  end)

  it("matches a template with two parameters", function()
    assert.are.equal("/svc/orders/42/items/7", allowed({ path = "/shop/orders/42/items/7" }).target)
  end)

  it("does not let a parameter span segments", function()
    not_found { path = "/shop/orders/42/extra" }
    not_found { path = "/shop/orders/42/items/7/more" }
  end)

  it("answers 404 OperationNotFound for a method no operation of that path has", function()
    not_found { method = "DELETE", path = "/shop/orders/42" }
    not_found { method = "PUT", path = "/shop/orders/42" }
  end)

  it("answers 404 OperationNotFound for a path no operation has", function()
    not_found { path = "/shop/nothing" }
    not_found { path = "/shop" }
  end)

  it("chooses among the templates by method as well as path", function()
    -- GET /orders/latest: literal (GET) and parameter (GET) both match
    allowed { path = "/shop/orders/latest" }
    -- PUT exists only as the literal
    assert.are.equal("/svc/orders/latest", allowed({ method = "PUT", path = "/shop/orders/latest", body = "x" }).target)
    assert.are.equal("POST", allowed({ method = "POST", path = "/shop/orders", body = "{}" }).method)
  end)

  it("prefers a literal segment over a parameter (operation in the access log)", function()
    allowed { path = "/shop/orders/latest" }
    local e = gw.log_entry("/shop/orders/latest")
    assert.is_truthy(e, "no access log entry")
    assert.are.equal("get-latest", e.operation,
      "access log `operation` for GET /shop/orders/latest (the literal /orders/latest must win over /orders/{id}); entry: "
      .. (table.concat(gw.access_log_lines(), "\n"):match("[^\n]*/shop/orders/latest\"[^\n]*") or "?"))
    allowed { path = "/shop/orders/41" }
    assert.are.equal("get-order", (gw.log_entry("/shop/orders/41") or {}).operation)
  end)

  it("requires the query parameter a template names", function()
    local e = allowed { path = "/shop/orders?status=open" }
    assert.are.equal("/svc/orders?status=open", e.target)
    e = allowed { path = "/shop/orders?x=1&status=closed" }
    local path, params = split_target(e.target)
    assert.are.equal("/svc/orders", path)
    assert.is_true(has(params, "x=1") and has(params, "status=closed"), "query not forwarded: " .. e.target)
    not_found { path = "/shop/orders" }
    not_found { path = "/shop/orders?state=open" }
  end)

  it("matches a trailing wildcard for any method and any depth", function()
    assert.are.equal("/svc/files/a/b/c.txt", allowed({ path = "/shop/files/a/b/c.txt" }).target)
    assert.are.equal("/svc/files/x", allowed({ method = "PUT", path = "/shop/files/x", body = "data" }).target)
    assert.are.equal("/svc/files/y", allowed({ method = "DELETE", path = "/shop/files/y" }).target)
    not_found { path = "/shop/filesx/a" }
  end)

  it("lets every method and path through on an API without operations", function()
    assert.are.equal("/free/any/deep/path?x=1", allowed({ path = "/free/any/deep/path?x=1" }).target)
    assert.are.equal("/free/", allowed({ method = "DELETE", path = "/free/" }).target)
    assert.are.equal("/free/p", allowed({ method = "PATCH", path = "/free/p", body = "{}" }).target)
    assert.are.equal("/free/o", allowed({ method = "OPTIONS", path = "/free/o" }).target)
    assert.are.equal("/free/orders/latest", allowed({ method = "PUT", path = "/free/orders/latest", body = "x" }).target)
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("14 versions", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "ver" }
    local u = be.url
    local yaml = h.gateway_yaml {} .. ([[
apiVersionSets:
  stock: { displayName: Stock, versioningScheme: Segment }
  billing: { versioningScheme: Query }
  inventory: { versioningScheme: Header }
  qcustom: { versioningScheme: Query, versionQueryName: ver }
  hcustom: { versioningScheme: Header, versionHeaderName: X-Ver }
  catalog: { versioningScheme: Segment }
apis:
  stock-v1: { path: stock, apiVersionSetId: stock, apiVersion: v1, serviceUrl: "%s/stock1", subscriptionRequired: false }
  stock-v2:
    path: stock
    apiVersionSetId: /apiVersionSets/stock
    apiVersion: v2
    serviceUrl: "%s/stock2"
    subscriptionRequired: false
    operations:
      get-item: { method: GET, urlTemplate: "/items/{id}" }
  bill-old: { path: billing, apiVersionSetId: billing, apiVersion: "2024-01-01", serviceUrl: "%s/bill1", subscriptionRequired: false }
  bill-new: { path: billing, apiVersionSetId: billing, apiVersion: "2025-06-01", serviceUrl: "%s/bill2", subscriptionRequired: false }
  inv-v1: { path: inventory, apiVersionSetId: inventory, apiVersion: v1, serviceUrl: "%s/inv1", subscriptionRequired: false }
  inv-v2: { path: inventory, apiVersionSetId: inventory, apiVersion: v2, serviceUrl: "%s/inv2", subscriptionRequired: false }
  qc-v1: { path: qc, apiVersionSetId: qcustom, apiVersion: v1, serviceUrl: "%s/qc1", subscriptionRequired: false }
  hc-v1: { path: hc, apiVersionSetId: hcustom, apiVersion: v1, serviceUrl: "%s/hc1", subscriptionRequired: false }
  catalog: { path: catalog, apiVersionSetId: catalog, serviceUrl: "%s/cat0", subscriptionRequired: false }
  catalog-v1: { path: catalog, apiVersionSetId: catalog, apiVersion: v1, serviceUrl: "%s/cat1", subscriptionRequired: false }
]]):format(u, u, u, u, u, u, u, u, u, u)
    gw = h.start_gateway(yaml)
  end)

  teardown(h.cleanup)

  local function requests_seen() return be.stats().requests end

  -- Must reach API `api`; returns the echo.
  local function routed(t, api)
    local r = h.fetch(gw.port, t)
    local what = (t.method or "GET") .. " " .. t.path
    assert.are.equal(200, r.status, what .. ": " .. h.show(r.raw_head .. r.body))
    local e = gw.log_entry(t.path:match("^[^?]*"))
    assert.is_truthy(e, "no access log entry for " .. what)
    assert.are.equal(api, e.api, "API chosen for " .. what)
    return h.parse_echo(r.body)
  end

  local function not_found(t)
    local before = requests_seen()
    local r = h.fetch(gw.port, t)
    local what = (t.method or "GET") .. " " .. t.path
    assert.are.equal(404, r.status, what .. " should be 404: " .. h.show(r.raw_head .. r.body))
    h.assert_apim_error(r, 404, NOT_FOUND)
    assert.are.equal(before + 1, requests_seen(), what .. ": the request reached the backend")
  end

  it("Segment: selects the version by path segment and forwards the rest without it", function()
    assert.are.equal("/stock1/items/5?x=1", routed({ path = "/stock/v1/items/5?x=1" }, "stock-v1").target)
    assert.are.equal("/stock2/items/5", routed({ path = "/stock/v2/items/5" }, "stock-v2").target)
    assert.are.equal("/stock1/", routed({ path = "/stock/v1/" }, "stock-v1").target)
    assert.are.equal("/stock1?x=1", routed({ path = "/stock/v1?x=1" }, "stock-v1").target)
  end)

  it("Segment: an unknown or missing version is 404", function()
    not_found { path = "/stock/v3/items/5" }
    not_found { path = "/stock/items/5" }
    not_found { path = "/stock/v1x/items" }
    not_found { path = "/stock" }
  end)

  it("Segment: a version's operations apply to that version only", function()
    not_found { path = "/stock/v2/other" }
    not_found { method = "DELETE", path = "/stock/v2/items/5" }
    assert.are.equal("/stock1/other", routed({ path = "/stock/v1/other" }, "stock-v1").target)
  end)

  it("Segment: the version set's unversioned API takes requests without a version", function()
    assert.are.equal("/cat0/items", routed({ path = "/catalog/items" }, "catalog").target)
    assert.are.equal("/cat1/items", routed({ path = "/catalog/v1/items" }, "catalog-v1").target)
  end)

  it("Query: api-version selects the version", function()
    local e = routed({ path = "/billing/invoices?api-version=2025-06-01&x=1" }, "bill-new")
    local path, params = split_target(e.target)
    assert.are.equal("/bill2/invoices", path)
    assert.is_true(has(params, "x=1"), "other query parameters lost: " .. e.target)
    e = routed({ path = "/billing/old?x=2&api-version=2024-01-01" }, "bill-old")
    path = split_target(e.target)
    assert.are.equal("/bill1/old", path)
  end)

  it("Query: an unknown or missing api-version is 404", function()
    not_found { path = "/billing/invoices" }
    not_found { path = "/billing/invoices?api-version=2023-01-01" }
    not_found { path = "/billing/invoices?x=2025-06-01" }
  end)

  it("Header: Api-Version selects the version (header name in any case)", function()
    assert.are.equal("/inv2/items", routed({ path = "/inventory/items", headers = { { "Api-Version", "v2" } } }, "inv-v2").target)
    assert.are.equal("/inv1/items2", routed({ path = "/inventory/items2", headers = { { "api-version", "v1" } } }, "inv-v1").target)
  end)

  it("Header: an unknown or missing Api-Version is 404", function()
    not_found { path = "/inventory/items" }
    not_found { path = "/inventory/items", headers = { { "Api-Version", "v9" } } }
    not_found { path = "/inventory/v1/items" }
  end)

  it("uses the version set's own query and header names", function()
    assert.are.equal("/qc1/a", split_target(routed({ path = "/qc/a?ver=v1" }, "qc-v1").target))
    not_found { path = "/qc/a?api-version=v1" }
    assert.are.equal("/hc1/a", routed({ path = "/hc/a", headers = { { "X-Ver", "v1" } } }, "hc-v1").target)
    not_found { path = "/hc/a", headers = { { "Api-Version", "v1" } } }
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
