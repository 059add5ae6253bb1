-- busted spec of policies/set-query-parameter.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local function query(x, q)
  local _, fw = h.run_api(h.doc { inbound = x }, { query = q or "a=1&b=2&a=3" })
  return fw[1].query
end

describe("set-query-parameter", function()
  it("overrides, keeping the others untouched", function()
    assert.equal("b=2&a=x%20y", query('<set-query-parameter name="a" exists-action="override"><value>x y</value></set-query-parameter>'))
  end)

  it("sends several values as several parameters", function()
    assert.equal("a=1&b=2&a=3&c=1&c=2", query('<set-query-parameter name="c"><value>1</value><value>2</value></set-query-parameter>'))
  end)

  it("skips, appends and deletes", function()
    assert.equal("a=1&b=2&a=3", query('<set-query-parameter name="a" exists-action="skip"><value>9</value></set-query-parameter>'))
    assert.equal("a=1&b=2&a=3&a=9", query('<set-query-parameter name="a" exists-action="append"><value>9</value></set-query-parameter>'))
    assert.equal("b=2", query('<set-query-parameter name="a" exists-action="delete"/>'))
  end)

  it("forwards the query unchanged when no policy touched it", function()
    assert.equal("z=%7e&y", query('<set-header name="X"><value>1</value></set-header>', "z=%7e&y"))
  end)

  it("belongs to inbound and backend", function()
    local errs = h.load_errors(h.spec({ api = h.doc { outbound = '<set-query-parameter name="a"><value>1</value></set-query-parameter>' } }))
    assert.matches("is not allowed in <outbound>", errs[1])
  end)
end)
