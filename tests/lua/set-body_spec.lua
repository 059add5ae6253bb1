-- busted spec of policies/set-body.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("set-body", function()
  it("replaces the request body in inbound and drops stale framing", function()
    local _, fw = h.run_api(h.doc { inbound = "<set-body>{\"a\": 1}</set-body>" },
      { method = "POST", headers = { { "Host", "gw" }, { "Content-Length", "3" } } })
    assert.equal('{"a": 1}', fw[1].body)
    assert.is_nil(h.header(fw[1].headers, "Content-Length"))
  end)

  it("streams the client's body when no policy touched it", function()
    local _, fw = h.run_api(h.doc { inbound = "<base/>" }, { method = "POST" })
    assert.is_nil(fw[1].body)
  end)

  it("replaces the response body in outbound", function()
    local resp = h.run_api(h.doc { outbound = "<set-body>changed</set-body>" },
      nil, { status = 200, headers = { { "Content-Length", "12" } } })
    assert.equal("changed", resp.body)
    assert.is_false(resp.streamed)
    assert.is_nil(h.header(resp.headers, "Content-Length"))
  end)

  it("passes the backend's body through when untouched", function()
    local resp = h.run_api(h.doc { outbound = "<base/>" }, nil,
      { status = 200, headers = { { "Content-Length", "12" } } })
    assert.is_true(resp.streamed)
    assert.is_nil(resp.body)
    assert.equal("12", h.header(resp.headers, "Content-Length"))
  end)

  it("refuses Liquid templates at load", function()
    local errs = h.load_errors(h.spec({ api = h.doc { outbound = '<set-body template="liquid">{{body.x}}</set-body>' } },
      { named_values = { ["body.x"] = { value = "v" } } }))
    assert.matches("templates %(Liquid%) are not supported", errs[1])
  end)
end)
