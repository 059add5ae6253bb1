-- busted spec of policies/set-variable.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("set-variable", function()
  it("stores literals as strings and expression results with their type", function()
    local _, fw = h.run_api(h.doc { inbound = [[
      <set-variable name="s" value="42"/>
      <set-variable name="n" value="@(40 + 2)"/>
      <set-variable name="b" value="@(context.Request.Method == "GET")"/>
      <set-header name="X-S"><value>@(context.Variables["s"] is string ? "string" : "other")</value></set-header>
      <set-header name="X-N"><value>@((context.Variables.GetValueOrDefault<int>("n") * 2).ToString())</value></set-header>
      <set-header name="X-B"><value>@(context.Variables.GetValueOrDefault<bool>("b") ? "yes" : "no")</value></set-header>
      <set-header name="X-Has"><value>@(context.Variables.ContainsKey("n") + "," + context.Variables.ContainsKey("missing"))</value></set-header>
      <set-header name="X-Default"><value>@(context.Variables.GetValueOrDefault<string>("missing", "dflt"))</value></set-header>
    ]] })
    local hd = fw[1].headers
    assert.equal("string", h.header(hd, "X-S"))
    assert.equal("84", h.header(hd, "X-N"))
    assert.equal("yes", h.header(hd, "X-B"))
    assert.equal("True,False", h.header(hd, "X-Has"))
    assert.equal("dflt", h.header(hd, "X-Default"))
  end)

  it("keeps variables from inbound to outbound", function()
    local resp = h.run_api(h.doc {
      inbound = '<set-variable name="started" value="@(context.Request.Method)"/>',
      outbound = '<set-header name="X-Started"><value>@((string)context.Variables["started"])</value></set-header>' })
    assert.equal("GET", h.header(resp.headers, "X-Started"))
  end)

  it("needs a literal name and a value", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-variable name="a"/>' } }))
    assert.matches("attribute 'value' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-variable name="@("a")" value="1"/>' } }))
    assert.matches("policy expressions are not allowed here", errs[1])
  end)
end)
