-- busted spec of policies/set-header.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local function inbound(x, req)
  local _, fw = h.run_api(h.doc { inbound = x }, req)
  return fw[1].headers
end

describe("set-header", function()
  local req = { headers = { { "Host", "gw" }, { "X-A", "old" } } }

  it("overrides by default, with one or several values", function()
    local hd = inbound('<set-header name="x-a"><value>new</value></set-header>', req)
    assert.same({ "new" }, h.headers_named(hd, "X-A"))
    hd = inbound('<set-header name="X-A" exists-action="override"><value>1</value><value>2</value></set-header>', req)
    assert.same({ "1,2" }, h.headers_named(hd, "X-A"))
  end)

  it("skips an existing header, sets a missing one", function()
    local hd = inbound('<set-header name="X-A" exists-action="skip"><value>new</value></set-header>'
      .. '<set-header name="X-B" exists-action="skip"><value>b</value></set-header>', req)
    assert.equal("old", h.header(hd, "X-A"))
    assert.equal("b", h.header(hd, "X-B"))
  end)

  it("appends to the existing value", function()
    local hd = inbound('<set-header name="X-A" exists-action="append"><value>new</value></set-header>', req)
    assert.same({ "old,new" }, h.headers_named(hd, "X-A"))
  end)

  it("keeps separate lines for headers whose values hold commas or dates", function()
    local hd = inbound('<set-header name="User-Agent" exists-action="override"><value>a, b</value><value>c</value></set-header>', req)
    assert.same({ "a, b", "c" }, h.headers_named(hd, "User-Agent"))
  end)

  it("deletes", function()
    local hd = inbound('<set-header name="X-A" exists-action="delete"/>', req)
    assert.is_nil(h.header(hd, "X-A"))
  end)

  it("sets an empty value when there is no <value>", function()
    local hd = inbound('<set-header name="X-Empty" exists-action="override"/>', req)
    assert.equal("", h.header(hd, "X-Empty"))
  end)

  it("leaves the gateway's framing headers alone", function()
    local hd = inbound('<set-header name="Content-Length" exists-action="override"><value>5</value></set-header>', req)
    assert.is_nil(h.header(hd, "Content-Length"))
  end)

  it("changes the response in outbound", function()
    local resp = h.run_api(h.doc { outbound = '<set-header name="X-Out"><value>1</value></set-header>'
      .. '<set-header name="Content-Type" exists-action="delete"/>' })
    assert.equal("1", h.header(resp.headers, "X-Out"))
    assert.is_nil(h.header(resp.headers, "Content-Type"))
  end)

  it("reports bad attributes at load", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-header exists-action="override"/>' } }))
    assert.matches("<set%-header>: attribute 'name' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-header name="a" exists-action="replace"/>' } }))
    assert.matches("'replace' is not one of append, delete, override, skip", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-header name="a" exists-action="delete"><value>x</value></set-header>' } }))
    assert.matches("delete takes none", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-header name="a"><values>x</values></set-header>' } }))
    assert.matches("<values> is not allowed in <set%-header> %(expected value%)", errs[1])
  end)
end)
