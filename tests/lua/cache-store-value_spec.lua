-- busted spec of policies/cache-store-value.lua (with the fake portico.host)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()
local store = require "cache-store-value"

describe("cache-store-value", function()
  before_each(host.reset)

  it("keeps the value for duration seconds in the shared cache", function()
    h.run_api(h.doc { inbound = [[<cache-store-value key="@("user-" + context.Request.MatchedParameters["id"])" value="profile" duration="10"/>]] })
    assert.equal("sprofile", host.cache_get("v:user-42"))
    host.advance(9999)
    assert.equal("sprofile", host.cache_get("v:user-42"))
    host.advance(1)
    assert.is_nil(host.cache_get("v:user-42"))
  end)

  it("keeps the C# type of the value", function()
    h.run_api(h.doc { inbound = [[
      <cache-store-value key="b" value="@(true)" duration="10"/>
      <cache-store-value key="i" value="@(40 + 2)" duration="10"/>
      <cache-store-value key="f" value="@(0.1 + 0.2)" duration="10"/>
      <cache-store-value key="j" value="@(new JObject(new JProperty("a", 1)))" duration="10"/>
      <cache-store-value key="s" value="@("x")" duration="@(5 * 2)"/>
    ]] })
    assert.equal("b1", host.cache_get("v:b"))
    assert.equal("i42", host.cache_get("v:i"))
    assert.equal("j{\"a\":1}", host.cache_get("v:j"))
    assert.equal("sx", host.cache_get("v:s"))
    assert.equal(0.1 + 0.2, store.decode(host.cache_get("v:f")))
    assert.equal(42, store.decode("i42"))
    assert.equal("integer", math.type(store.decode("i42")))
    assert.is_true(store.decode("b1"))
    assert.equal(math.huge, store.decode(store.encode(math.huge)))
  end)

  it("stores nothing for a null value or a duration that is not positive", function()
    h.run_api(h.doc { inbound = [[
      <cache-store-value key="n" value="@((string)null)" duration="10"/>
      <cache-store-value key="z" value="v" duration="@(0)"/>
    ]] })
    assert.is_nil(host.cache_get("v:n"))
    assert.is_nil(host.cache_get("v:z"))
  end)

  it("checks its attributes at load time, with file:line:col", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-store-value key="k" value="v"/>' } }))
    assert.matches("^api.xml:2:10: <cache%-store%-value>: attribute 'duration' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-store-value key="k" value="v" duration="soon"/>' } }))
    assert.matches("^api.xml:2:47: <cache%-store%-value duration>: 'soon' is not a number", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-store-value key="k" value="v" duration="-1"/>' } }))
    assert.matches("<cache%-store%-value>: duration %-1 is negative", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-store-value key="k" value="v" duration="1" caching-type="redis"/>' } }))
    assert.matches("'redis' is not one of external, internal, prefer%-external", errs[1])
  end)
end)
