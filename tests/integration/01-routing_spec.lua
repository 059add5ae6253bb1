-- Routing: longest whole-segment API path, APIM's backend URL rule, 404 for
-- no API, `backend:` references, the backend's own Host, `portico check`.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

describe("01 routing", function()
  local echo_be, shop_be, orders_be, gw

  setup(function()
    echo_be = h.start_backend { name = "echo" }
    shop_be = h.start_backend { name = "shop" }
    orders_be = h.start_backend { name = "orders" }
    gw = h.start_gateway(h.config {
      backends = { orders = orders_be.url .. "/api" },
      apis = {
        echo = { path = "echo", serviceUrl = echo_be.url .. "/v1" },
        shop = { path = "shop", serviceUrl = shop_be.url .. "/shoproot" },
        orders = { path = "shop/orders", backend = "orders" },
      },
    })
  end)

  teardown(h.cleanup)

  -- One request on a fresh connection; returns the response and the echo.
  local function get(path, headers)
    local c = h.must_connect(gw.port)
    local r = c:request { path = path, headers = headers }
    c:close()
    return r
  end

  local function forwarded(path)
    local r = get(path)
    assert.are.equal(200, r.status, "status for " .. path .. ": " .. h.show(r.raw_head .. r.body))
    return r, h.parse_echo(r.body)
  end

  it("forwards /echo/a/b?x=1 as GET /v1/a/b?x=1 to the echo backend", function()
    local r, e = forwarded("/echo/a/b?x=1")
    assert.are.equal("echo", r:header("X-Backend-Name"))
    assert.are.equal("GET /v1/a/b?x=1 HTTP/1.1", e.request_line)
  end)

  it("maps the bare API path and a bare query onto the service URL", function()
    local _, e = forwarded("/echo")
    assert.are.equal("GET /v1 HTTP/1.1", e.request_line)
    _, e = forwarded("/echo/")
    assert.are.equal("GET /v1/ HTTP/1.1", e.request_line)
    _, e = forwarded("/echo?q=1&r=2")
    assert.are.equal("GET /v1?q=1&r=2 HTTP/1.1", e.request_line)
  end)

  it("picks the longest matching API path (shop/orders over shop)", function()
    local r, e = forwarded("/shop/orders/1")
    assert.are.equal("orders", r:header("X-Backend-Name"))
    assert.are.equal("GET /api/1 HTTP/1.1", e.request_line)
  end)

  it("matches on whole segments only (/shop/ordersX is the shop API)", function()
    local r, e = forwarded("/shop/ordersX/1")
    assert.are.equal("shop", r:header("X-Backend-Name"))
    assert.are.equal("GET /shoproot/ordersX/1 HTTP/1.1", e.request_line)
    r, e = forwarded("/shop/other?y=2")
    assert.are.equal("shop", r:header("X-Backend-Name"))
    assert.are.equal("GET /shoproot/other?y=2 HTTP/1.1", e.request_line)
  end)

  it("resolves a `backend:` reference to the backend's URL", function()
    local r, e = forwarded("/shop/orders")
    assert.are.equal("orders", r:header("X-Backend-Name"))
    assert.are.equal("GET /api HTTP/1.1", e.request_line)
  end)

  it("sends the backend's own host:port as Host, exactly once", function()
    local _, e = forwarded("/echo/host")
    assert.are.same({ "127.0.0.1:" .. echo_be.port }, e:header_all("Host"))
    local _, e2 = forwarded("/shop/orders/host")
    assert.are.same({ "127.0.0.1:" .. orders_be.port }, e2:header_all("Host"))
  end)

  it("answers 404 with APIM's JSON body for /echoes and reaches no backend", function()
    local before = echo_be.stats().requests
    local r = get("/echoes")
    assert.are.equal(404, r.status)
    assert.are.equal('{"statusCode": 404, "message": "Resource not found"}', r.body)
    assert.is_truthy((r:header("Content-Type") or ""):find("application/json", 1, true),
      "Content-Type: " .. tostring(r:header("Content-Type")))
    -- the only new request the backend saw is the second stats request
    assert.are.equal(before + 1, echo_be.stats().requests, "the echo backend received a request for /echoes")
  end)

  it("answers 404 for paths matching no API (/, /ech, /shopping)", function()
    for _, p in ipairs { "/", "/ech", "/shopping/orders/1", "/v1/a" } do
      local r = get(p)
      assert.are.equal(404, r.status, "status for " .. p)
      assert.are.equal('{"statusCode": 404, "message": "Resource not found"}', r.body, "body for " .. p)
    end
  end)

  it("logs the 404 with reason OperationNotFound and no api", function()
    get("/not-an-api/x")
    local e = gw.log_entry("/not-an-api/x")
    assert.is_truthy(e, "no access log entry for /not-an-api/x:\n" .. table.concat(gw.access_log_lines(), "\n"))
    assert.are.equal(404, e.status)
    assert.are.equal("OperationNotFound", e.reason)
    assert.are.equal(h.null, e.api)
  end)

  it("logs the API name and status of a routed request", function()
    get("/shop/orders/logged")
    local e = gw.log_entry("/shop/orders/logged")
    assert.is_truthy(e, "no access log entry:\n" .. table.concat(gw.access_log_lines(), "\n"))
    assert.are.equal("orders", e.api)
    assert.are.equal(200, e.status)
    assert.are.equal("GET", e.method)
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("01 backends by name, several listeners", function()
  local be, gw, port2

  setup(function()
    be = h.start_backend { name = "named" }
    port2 = h.free_port()
    local text = h.config {
      apis = { byname = { path = "byname", serviceUrl = "http://localhost:" .. be.port .. "/base" } },
    }:gsub('listen: %["127%.0%.0%.1:{{PORT}}"%]', 'listen: ["127.0.0.1:{{PORT}}", "127.0.0.1:' .. port2 .. '"]')
    gw = h.start_gateway(text)
  end)

  teardown(h.cleanup)

  it("resolves a backend host name and sends it as Host", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/byname/x?y=1" }
    c:close()
    assert.are.equal(200, r.status, h.show(r.raw_head .. r.body))
    local e = h.parse_echo(r.body)
    assert.are.equal("GET /base/x?y=1 HTTP/1.1", e.request_line)
    assert.are.same({ "localhost:" .. be.port }, e:header_all("Host"))
  end)

  it("serves on every listen address", function()
    for _, port in ipairs { gw.port, port2 } do
      local c = h.must_connect(port)
      local r = c:request { path = "/byname/on-" .. port }
      c:close()
      assert.are.equal(200, r.status, "listener " .. port)
      assert.are.equal("/base/on-" .. port, h.parse_echo(r.body).target)
    end
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("01 portico check", function()
  teardown(h.cleanup)

  it("prints its version", function()
    local p = io.popen(h.sq(h.portico_bin) .. " version 2>&1; echo rc=$?")
    local out = p:read("a")
    p:close()
    assert.is_truthy(out:match("^portico %S+\n"), out)
    assert.is_truthy(out:match("rc=0%s*$"), out)
  end)

  it("exits 0 on a valid file", function()
    local rc, out = h.check_config(h.config {
      port = 18080,
      backends = { orders = "http://127.0.0.1:9002/api" },
      apis = {
        echo = { path = "echo", serviceUrl = "http://127.0.0.1:9001/v1" },
        orders = { path = "shop/orders", backend = "orders" },
      },
    })
    assert.are.equal(0, rc, out)
  end)

  it("exits 1 naming file:line:column and suggesting the closest key for an unknown key", function()
    local text = table.concat({
      "gateway:",
      "  id: edge-1",
      "  hostnames: [localhost]",
      '  listen: ["127.0.0.1:18080"]',
      "  wrokers: 1",
      "apis:",
      "  echo:",
      "    path: echo",
      '    serviceUrl: "http://127.0.0.1:9001/v1"',
    }, "\n") .. "\n"
    local rc, out, path = h.check_config(text, "unknown-key.yaml")
    assert.are.equal(1, rc, out)
    local base = path:match("[^/]+$")
    assert.is_truthy(out:find(base .. ":5:3", 1, true), "expected " .. base .. ":5:3 in:\n" .. out)
    assert.is_truthy(out:find("wrokers", 1, true), out)
    assert.is_truthy(out:find("'workers'", 1, true), "expected a suggestion of 'workers' in:\n" .. out)
  end)

  it("prints every error, each with file:line:column", function()
    local text = table.concat({
      "gateway:",
      "  id: edge-1",
      '  listen: ["127.0.0.1:18080"]',
      "backends:",
      '  orders: { url: "htp://127.0.0.1:9002/api" }',
      "apis:",
      "  orders:",
      "    path: shop/orders",
      "    backend: ordres",
      "  echo:",
      "    paht: echo",
      '    serviceUrl: "http://127.0.0.1:9001/v1"',
    }, "\n") .. "\n"
    local rc, out, path = h.check_config(text, "many-errors.yaml")
    assert.are.equal(1, rc, out)
    local base = path:match("[^/]+$")
    assert.is_truthy(out:find(base .. ":5:", 1, true), "no error for the bad scheme (line 5) in:\n" .. out)
    assert.is_truthy(out:find("htp", 1, true), out)
    assert.is_truthy(out:find(base .. ":9:", 1, true), "no error for the unknown backend (line 9) in:\n" .. out)
    assert.is_truthy(out:find(base .. ":11:5", 1, true), "no error for the unknown key (line 11) in:\n" .. out)
    assert.is_truthy(out:find("'path'", 1, true), "expected a suggestion of 'path' in:\n" .. out)
  end)
end)
