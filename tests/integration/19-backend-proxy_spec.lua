-- A backend reached through an HTTP proxy (backends.<id>.proxy): the gateway
-- connects to the proxy, sends the request in absolute form with the
-- backend's Host, and adds Proxy-Authorization from the proxy's username and
-- password ({{named values}}); a client's own Proxy-Authorization never
-- passes. The "proxy" here is pt-test-backend, which echoes what it received.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

describe("19 backend proxy", function()
  local proxy, gw

  setup(function()
    proxy = h.start_backend { name = "proxy" }
    gw = h.start_gateway(h.gateway_yaml {} .. ([[
namedValues:
  proxy-pass: { value: "pr0xy-s3cret", secret: true }
backends:
  far:
    url: "http://far.example:8080/api"
    proxy: { url: "http://127.0.0.1:%d", username: bob, password: "{{proxy-pass}}" }
  open:
    url: "http://open.example/v1"
    proxy: { url: "http://127.0.0.1:%d" }
apis:
  far: { path: far, backend: far }
  open: { path: open, backend: open }
]]):format(proxy.port, proxy.port))
  end)

  teardown(function()
    if gw then gw.stop() end
    h.cleanup()
  end)

  it("sends the request to the proxy in absolute form with the backend's Host", function()
    local r = h.fetch(gw.port, { path = "/far/orders/7?x=1" })
    assert.are.equal(200, r.status)
    local e = h.parse_echo(r.body)
    assert.are.equal("GET http://far.example:8080/api/orders/7?x=1 HTTP/1.1", e.request_line)
    assert.are.equal("far.example:8080", e:header("Host"))
  end)

  it("adds Proxy-Authorization from the proxy credentials and drops the client's", function()
    local r = h.fetch(gw.port, { path = "/far/", headers = { { "Proxy-Authorization", "Basic ZXZpbDpldmls" } } })
    local e = h.parse_echo(r.body)
    local all = e:header_all("Proxy-Authorization")
    assert.are.same({ "Basic Ym9iOnByMHh5LXMzY3JldA==" }, all) -- base64("bob:pr0xy-s3cret")
    local r2 = h.fetch(gw.port, { path = "/open/a", headers = { { "Proxy-Authorization", "Basic ZXZpbDpldmls" } } })
    local e2 = h.parse_echo(r2.body)
    assert.are.same({}, e2:header_all("Proxy-Authorization"))
    assert.are.equal("GET http://open.example/v1/a HTTP/1.1", e2.request_line)
  end)

  it("keeps the proxy password out of the access log and stderr", function()
    h.fetch(gw.port, { path = "/far/z" })
    local log = table.concat(gw.access_log_lines(), "\n")
    assert.is_nil(log:find("pr0xy-s3cret", 1, true))
    assert.is_nil(gw.stderr_text():find("pr0xy-s3cret", 1, true))
  end)

  it("exits 0 on SIGTERM", function()
    gw.stop()
    gw = nil
  end)
end)
