-- busted spec of policies/cache-remove-value.lua (with the fake portico.host)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()

describe("cache-remove-value", function()
  before_each(host.reset)

  it("removes a value kept by cache-store-value", function()
    host.cache_set("v:bearerToken", "sabc", 60000)
    host.cache_set("v:other", "sdef", 60000)
    h.run_api(h.doc { outbound = [[
      <choose><when condition="@(context.Response.StatusCode == 401)">
        <cache-remove-value key="@("bearer" + "Token")"/>
      </when></choose>
    ]] }, nil, { status = 401, headers = {} })
    assert.is_nil(host.cache_get("v:bearerToken"))
    assert.equal("sdef", host.cache_get("v:other"))
  end)

  it("does nothing for a key that is not there", function()
    local resp = h.run_api(h.doc { inbound = '<cache-remove-value key="missing"/>' })
    assert.equal(200, resp.status)
  end)

  it("checks its attributes at load time, with file:line:col", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-remove-value/>' } }))
    assert.matches("^api.xml:2:10: <cache%-remove%-value>: attribute 'key' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-remove-value key="k" value="v"/>' } }))
    assert.matches("^api.xml:2:38: <cache%-remove%-value>: unknown attribute 'value'", errs[1])
  end)
end)
