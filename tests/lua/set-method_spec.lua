-- busted spec of policies/set-method.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("set-method", function()
  it("changes the method sent to the backend", function()
    local _, fw = h.run_api(h.doc { inbound = "<set-method>post</set-method>" })
    assert.equal("POST", fw[1].method)
  end)

  it("rejects what is not a method", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = "<set-method>GET X</set-method>" } }))
    assert.matches("'GET X' is not an HTTP method", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = "<set-method/>" } }))
    assert.matches("<set%-method>: a value is required", errs[1])
  end)
end)
