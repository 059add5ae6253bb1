-- busted spec of policies/include-fragment.lua (more in compiler_spec.lua)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("include-fragment", function()
  it("runs the fragment's policies where it stands, nested fragments too", function()
    local spec = h.spec({ api = h.doc { inbound = '<set-header name="X-Order" exists-action="append"><value>1</value></set-header><include-fragment fragment-id="outer"/><set-header name="X-Order" exists-action="append"><value>4</value></set-header>' } },
      { fragments = {
        outer = { file = "outer.xml", text = '<fragment><set-header name="X-Order" exists-action="append"><value>2</value></set-header><include-fragment fragment-id="inner"/></fragment>' },
        inner = { file = "inner.xml", text = '<fragment><set-header name="X-Order" exists-action="append"><value>3</value></set-header></fragment>' },
      } })
    h.load(spec)
    local _, fw = h.run(h.req())
    assert.equal("1,2,3,4", h.header(fw[1].headers, "X-Order"))
  end)

  it("needs a fragment-id", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = "<include-fragment/>" } }))
    assert.matches("attribute 'fragment%-id' is required", errs[1])
  end)
end)
