-- busted spec of policies/set-status.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("set-status", function()
  it("changes the response status and reason in outbound", function()
    local resp = h.run_api(h.doc { outbound = '<set-status code="202" reason="Later"/>' })
    assert.equal(202, resp.status)
    assert.equal("Later", resp.reason)
    assert.equal("backend body", resp.body)
  end)

  it("uses the standard reason when none is given", function()
    local resp = h.run_api(h.doc { outbound = '<set-status code="404"/>' })
    assert.equal("Not Found", resp.reason)
  end)

  it("sets the answer of a pipeline that does not forward", function()
    local resp, fw = h.run_api(h.doc { inbound = '<set-status code="204"/>', backend = "" })
    assert.equal(0, #fw)
    assert.equal(204, resp.status)
  end)

  it("checks the code at load", function()
    local errs = h.load_errors(h.spec({ api = h.doc { outbound = '<set-status code="999"/>' } }))
    assert.matches("code 999 is not an HTTP status", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { outbound = '<set-status code="abc"/>' } }))
    assert.matches("'abc' is not an integer", errs[1])
  end)
end)
