-- busted spec of policies/trace.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("trace", function()
  it("records source, severity, message and metadata", function()
    local resp = h.run_api(h.doc { inbound = '<trace source="api" severity="error"><message>hello</message><metadata name="k" value="v"/></trace>' })
    assert.equal(1, #resp.traces)
    local t = resp.traces[1]
    assert.equal("api", t.source)
    assert.equal("error", t.severity)
    assert.equal("hello", t.message)
    assert.same({ k = "v" }, t.metadata)
    assert.equal("0-17", t.requestId)
  end)

  it("accepts the older form with the message as text", function()
    local resp = h.run_api(h.doc { inbound = '<trace source="api">  On Error  </trace>' })
    assert.equal("On Error", resp.traces[1].message)
    assert.equal("verbose", resp.traces[1].severity)
  end)

  it("checks its shape at load", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<trace><message>x</message></trace>' } }))
    assert.matches("attribute 'source' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<trace source="a" severity="loud"><message>x</message></trace>' } }))
    assert.matches("'loud' is not one of error, information, verbose", errs[1])
  end)
end)
