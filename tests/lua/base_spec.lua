-- busted spec of policies/base.lua (<base/> itself is the compiler's; see compiler_spec.lua)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("base", function()
  it("is allowed once, directly in a section", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = "<base/><base/>" } }))
    assert.matches("<base/> appears twice in <inbound>", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = "<choose><otherwise><base/></otherwise></choose>" } }))
    assert.matches("<base/> belongs directly inside a section", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<base x="1"/>' } }))
    assert.matches("<base>: unknown attribute 'x'", errs[1])
  end)
end)
