-- busted spec of policies/rate-limit.lua (counters in tests/lua/host_fake.lua)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()
local cjson = require "cjson"

local SUB = { id = "sub-1", key = "k1", name = "One" }
local function req(t)
  t = t or {}
  if t.subscription == nil then t.subscription = SUB end
  if t.subscription == false then t.subscription = nil end
  return h.req(t)
end

describe("rate-limit", function()
  before_each(host.reset)

  it("limits calls per subscription and window with 429 and Retry-After", function()
    h.load(h.spec({ api = h.doc { inbound = '<rate-limit calls="2" renewal-period="60"/>' } }))
    assert.equal(200, h.run(req()).status)
    assert.equal(200, h.run(req()).status)
    host.advance(20500)
    local resp, fw = h.run(req())
    assert.equal(0, #fw)
    assert.equal(429, resp.status)
    assert.equal("40", h.header(resp.headers, "Retry-After"))
    assert.same({ statusCode = 429, message = "Rate limit is exceeded. Try again in 40 seconds." },
      cjson.decode(resp.body))
    -- another subscription has its own counter
    assert.equal(200, h.run(req({ subscription = { id = "sub-2" } })).status)
    host.advance(39500)
    assert.equal(200, h.run(req()).status)
  end)

  it("does not limit requests without a subscription", function()
    h.load(h.spec({ api = h.doc { inbound = '<rate-limit calls="1" renewal-period="60"/>' } }))
    for _ = 1, 3 do assert.equal(200, h.run(req({ subscription = false })).status) end
  end)

  it("applies <api> and <operation> limits to the matching API and operation only", function()
    h.load(h.spec({ product = h.doc { inbound = [[<rate-limit calls="10" renewal-period="60"
        remaining-calls-header-name="X-Left" total-calls-header-name="X-Total">
        <api name="Echo" calls="3" renewal-period="60">
          <operation id="get-order" calls="1" renewal-period="60"/>
        </api>
        <api id="other" calls="1" renewal-period="60"/>
      </rate-limit>]] } }))
    local order = { product_id = "starter" }
    local search = { product_id = "starter", operation_id = "search" }
    local r = h.run(req(order))
    assert.equal(200, r.status)
    assert.equal("0", h.header(r.headers, "X-Left")) -- the operation's limit is the tightest
    assert.equal("10", h.header(r.headers, "X-Total"))
    assert.equal(429, h.run(req(order)).status)
    assert.equal(200, h.run(req(search)).status)
    assert.equal(200, h.run(req(search)).status)
    assert.equal(429, h.run(req(search)).status) -- the API's 3 calls
  end)

  it("a call refused by the operation's limit does not use the subscription's", function()
    h.load(h.spec({ api = h.doc { inbound = [[<rate-limit calls="3" renewal-period="60">
        <api id="echo" calls="10" renewal-period="60"><operation name="Get order" calls="1" renewal-period="60"/></api>
      </rate-limit>]] } }))
    assert.equal(200, h.run(req()).status)
    for _ = 1, 5 do assert.equal(429, h.run(req()).status) end
    assert.equal(200, h.run(req({ operation_id = "search" })).status)
    assert.equal(200, h.run(req({ operation_id = "search" })).status)
    assert.equal(429, h.run(req({ operation_id = "search" })).status)
  end)

  it("keeps one counter per scope", function()
    h.load(h.spec({ product = h.doc { inbound = '<rate-limit calls="1" renewal-period="60"/>' },
      api = h.doc { inbound = '<base/><rate-limit calls="1" renewal-period="60"/>' } }))
    assert.equal(200, h.run(req({ product_id = "starter" })).status)
    assert.equal(429, h.run(req({ product_id = "starter" })).status)
  end)

  it("checks its attributes and children at load", function()
    local errs = h.load_errors(h.spec({ api = '<policies><inbound>\n<rate-limit calls="@(5)" renewal-period="60">\n'
      .. '  <api calls="1" renewal-period="60"/>\n  <api name="x" calls="1" renewal-period="600"><op/></api>\n'
      .. '</rate-limit></inbound></policies>' }))
    assert.same({
      "api.xml:2:13: <rate-limit calls>: policy expressions are not allowed here",
      "api.xml:3:3: <api>: attribute 'name' or 'id' is required",
      "api.xml:4:27: <api renewal-period>: 600 is more than 300 seconds (APIM's maximum; quota counts longer periods)",
      "api.xml:4:48: <op> is not allowed in <api> (expected operation)",
    }, errs)
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<rate-limit renewal-period="60"/>' } }))
    assert.matches("<rate%-limit>: attribute 'calls' is required", errs[1])
  end)
end)
