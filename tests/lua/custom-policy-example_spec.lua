-- busted spec: examples/custom-policy (a user policy element and a Lua policy
-- document), loaded as C would load it (src/lbridge.c builds the same spec).

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local DIR = h.root .. "/examples/custom-policy"

local function doc(name)
  local f = assert(io.open(DIR .. "/policies/" .. name, "rb"))
  local text = f:read("a")
  f:close()
  return { file = "policies/" .. name, text = text }
end

local function load_example()
  local spec = h.spec({})
  spec.documents.global = doc("global.xml")
  spec.documents.apis.echo = doc("echo-api.xml")
  spec.documents.operations.echo = { hello = doc("hello.lua") }
  spec.fragments = { stamp = doc("stamp.xml") }
  spec.policy_paths = { DIR .. "/policies" }
  spec.apis.echo.operations.hello = { method = "GET", url_template = "/hello/{name}", name = "hello" }
  h.load(spec)
end

describe("examples/custom-policy", function()
  it("loads", function()
    load_example()
  end)

  it("adds a correlation id and greets through the Lua document", function()
    load_example()
    local resp, fw = h.run(h.req({ operation_id = "hello", rest = "/hello/world", matched = { name = "world" } }))
    assert.equal("portico-get-0-17", h.header(fw[1].headers, "X-Correlation-Id"))
    assert.equal("hello world", h.header(fw[1].headers, "X-Greeting"))
    assert.equal("custom-policy", h.header(fw[1].headers, "X-Via-Example"))
    assert.equal("portico-get-0-17", h.header(resp.headers, "X-Correlation-Id"))
    assert.equal("200", h.header(resp.headers, "X-Backend-Status"))
  end)

  it("keeps the caller's correlation id, answers 418 for the teapot", function()
    load_example()
    local resp, fw = h.run(h.req({ operation_id = "hello", matched = { name = "teapot" },
      headers = { { "Host", "gw" }, { "X-Correlation-Id", "abc" } } }))
    assert.equal(0, #fw)
    assert.equal(418, resp.status)
  end)

  it("reports the element's errors with their place", function()
    local spec = h.spec({ api = h.doc { inbound = '<correlation-id header=""/>', outbound = '<correlation-id/>' } },
      { policy_paths = { DIR .. "/policies" } })
    local errs = h.load_errors(spec)
    assert.same({
      "api.xml:2:10: <correlation-id>: header is empty",
      "api.xml:3:11: <correlation-id> is not allowed in <outbound> (allowed in inbound)",
    }, errs)
  end)
end)
