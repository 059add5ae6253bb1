-- busted spec of policies/choose.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local CHOOSE = [[
<choose>
  <when condition="@(context.Request.Headers.GetValueOrDefault("X-Tier", "") == "gold")">
    <set-header name="X-Branch" exists-action="append"><value>gold</value></set-header>
  </when>
  <when condition="@(context.Request.Headers.ContainsKey("X-Tier"))">
    <set-header name="X-Branch" exists-action="append"><value>other</value></set-header>
  </when>
  <otherwise>
    <set-header name="X-Branch" exists-action="append"><value>none</value></set-header>
  </otherwise>
</choose>]]

local function branch(headers)
  local hs = { { "Host", "gw" } }
  for k, v in pairs(headers) do hs[#hs + 1] = { k, v } end
  local _, fw = h.run_api(h.doc { inbound = CHOOSE }, { headers = hs })
  return h.header(fw[1].headers, "X-Branch")
end

describe("choose", function()
  it("runs the first true branch only, else otherwise", function()
    assert.equal("gold", branch({ ["X-Tier"] = "gold" }))
    assert.equal("other", branch({ ["x-tier"] = "silver" }))
    assert.equal("none", branch({}))
  end)

  it("accepts literal conditions and an empty choose body", function()
    local _, fw = h.run_api(h.doc { inbound = '<choose><when condition="false"><set-header name="A"><value>1</value></set-header></when><when condition="True"><set-header name="B"><value>1</value></set-header></when></choose>' })
    assert.is_nil(h.header(fw[1].headers, "A"))
    assert.equal("1", h.header(fw[1].headers, "B"))
  end)

  it("fails the request when a condition is not a bool", function()
    local resp, fw = h.run_api(h.doc { inbound = '<choose><when condition="@((object)context.Request.Method)"><set-header name="A"><value>1</value></set-header></when></choose>' })
    assert.equal(0, #fw)
    assert.equal(500, resp.status)
    assert.equal("ExpressionValueEvaluationFailure", resp.error.reason)
    assert.equal("choose", resp.error.source)
  end)

  it("checks its shape at load", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<choose><otherwise/><when condition="true"/></choose>' } }))
    assert.matches("<when> after <otherwise>", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<choose><when/></choose>' } }))
    assert.matches("<when>: attribute 'condition' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<choose><if condition="true"/></choose>' } }))
    assert.matches("<if> is not allowed in <choose> %(expected when, otherwise%)", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<choose><when condition="yes"/></choose>' } }))
    assert.matches("'yes' is not true or false", errs[1])
  end)
end)
