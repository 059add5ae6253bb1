-- busted spec of policies/cache-lookup-value.lua (with the fake portico.host)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()

local SHOW = [[<set-header name="X-V" exists-action="override"><value>@(context.Variables.ContainsKey("v") ? context.Variables["v"].ToString() : "unset")</value></set-header>]]

describe("cache-lookup-value", function()
  before_each(host.reset)

  it("reads back what cache-store-value kept, until it expires", function()
    local doc = h.doc { inbound = [[
      <cache-lookup-value key="@("token")" variable-name="v"/>
      <choose>
        <when condition="@(!context.Variables.ContainsKey("v"))">
          <set-variable name="v" value="fresh"/>
          <cache-store-value key="token" value="@((string)context.Variables["v"] + "-cached")" duration="60"/>
        </when>
      </choose>
    ]] .. SHOW }
    local _, fw = h.run_api(doc)
    assert.equal("fresh", h.header(fw[1].headers, "X-V"))       -- miss
    _, fw = h.run_api(doc)
    assert.equal("fresh-cached", h.header(fw[1].headers, "X-V")) -- hit
    host.advance(60000)
    _, fw = h.run_api(doc)
    assert.equal("fresh", h.header(fw[1].headers, "X-V"))       -- expired: a miss again
  end)

  it("gives back the type that was stored", function()
    local _, fw = h.run_api(h.doc { inbound = [[
      <cache-store-value key="down" value="@(true)" duration="10"/>
      <cache-store-value key="n" value="@(41)" duration="10"/>
      <cache-store-value key="o" value="@(JObject.Parse("{\"a\":{\"b\":2}}"))" duration="10"/>
      <cache-lookup-value key="down" variable-name="down"/>
      <cache-lookup-value key="n" variable-name="n"/>
      <cache-lookup-value key="o" variable-name="o"/>
      <set-header name="X-Down"><value>@(((bool)context.Variables["down"]) ? "yes" : "no")</value></set-header>
      <set-header name="X-N"><value>@(((int)context.Variables["n"] + 1).ToString())</value></set-header>
      <set-header name="X-O"><value>@(((JObject)context.Variables["o"])["a"]["b"].ToString())</value></set-header>
    ]] })
    assert.equal("yes", h.header(fw[1].headers, "X-Down"))
    assert.equal("42", h.header(fw[1].headers, "X-N"))
    assert.equal("2", h.header(fw[1].headers, "X-O"))
  end)

  it("leaves the variable unset on a miss, or sets default-value", function()
    local _, fw = h.run_api(h.doc { inbound = '<cache-lookup-value key="none" variable-name="v"/>' .. SHOW })
    assert.equal("unset", h.header(fw[1].headers, "X-V"))
    _, fw = h.run_api(h.doc { inbound = '<cache-lookup-value key="none" default-value="-noToken-" variable-name="v"/>' .. SHOW })
    assert.equal("-noToken-", h.header(fw[1].headers, "X-V"))
    _, fw = h.run_api(h.doc { inbound = '<cache-lookup-value key="none" default-value="@(1 + 1)" variable-name="v"/>' .. SHOW })
    assert.equal("2", h.header(fw[1].headers, "X-V"))
  end)

  it("checks its attributes at load time, with file:line:col", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-lookup-value key="k"/>' } }))
    assert.matches("^api.xml:2:10: <cache%-lookup%-value>: attribute 'variable%-name' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-lookup-value variable-name="v"/>' } }))
    assert.matches("attribute 'key' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-lookup-value key="k" variable-name="@("v")"/>' } }))
    assert.matches("^api.xml:2:38: <cache%-lookup%-value variable%-name>: policy expressions are not allowed here", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-lookup-value key="k" variable="v"/>' } }))
    assert.matches("attribute 'variable%-name' is required", errs[1])
    assert.matches("^api.xml:2:38: <cache%-lookup%-value>: unknown attribute 'variable' %(expected key, variable%-name, default%-value, caching%-type%)", errs[2])
  end)
end)
