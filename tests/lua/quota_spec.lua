-- busted spec of policies/quota.lua (counters in tests/lua/host_fake.lua)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()
local cjson = require "cjson"

local T0 = 1388534400 + 86400 * 3650 -- a midnight, 2023-12-30T00:00:00Z
local function req(t)
  t = t or {}
  t.timestamp = t.timestamp or T0 + 60
  if t.subscription == nil then t.subscription = { id = "sub-1" } end
  if t.subscription == false then t.subscription = nil end
  t.product_id = "starter"
  return h.req(t)
end

describe("quota", function()
  before_each(host.reset)

  it("allows `calls` calls per subscription and period, then 403", function()
    h.load(h.spec({ product = h.doc { inbound = '<quota calls="2" renewal-period="86400"/>' } }))
    assert.equal(200, h.run(req()).status)
    assert.equal(200, h.run(req()).status)
    local resp, fw = h.run(req())
    assert.equal(0, #fw)
    assert.equal(403, resp.status)
    assert.same({ statusCode = 403, message = "Out of call volume quota. Quota will be replenished in 23:59:00." },
      cjson.decode(resp.body))
    assert.equal(200, h.run(req({ subscription = { id = "sub-2" } })).status)
    assert.equal(200, h.run(req({ subscription = false })).status)
    assert.equal(200, h.run(req({ timestamp = T0 + 86400 })).status)
  end)

  it("writes days in the replenish time as TimeSpan does", function()
    h.load(h.spec({ product = h.doc { inbound = '<quota calls="0" renewal-period="604800"/>' } }))
    local msg = cjson.decode(h.run(req()).body).message
    assert.matches("replenished in %d%.%d%d:%d%d:%d%d%.$", msg)
  end)

  it("applies <api> and <operation> quotas to matching requests, bandwidth included", function()
    h.load(h.spec({ product = h.doc { inbound = [[<quota calls="100" renewal-period="3600">
        <api id="echo" calls="50" renewal-period="3600">
          <operation name="Search" bandwidth="1" renewal-period="3600"/>
        </api>
      </quota>]] } }))
    local big = { status = 200, reason = "OK", headers = {}, body = string.rep("x", 2048) }
    assert.equal(200, h.run(req({ operation_id = "search" }), big).status)
    local resp = h.run(req({ operation_id = "search" }), big)
    assert.equal(403, resp.status)
    assert.matches("^Out of bandwidth quota", cjson.decode(resp.body).message)
    assert.equal(200, h.run(req({ operation_id = "get-order" }), big).status)
  end)

  it("checks its attributes and children at load", function()
    local errs = h.load_errors(h.spec({ product = '<policies><inbound>\n<quota renewal-period="60">'
      .. '<api id="a" calls="x" renewal-period="60"/></quota>\n<quota calls="1"/>\n</inbound></policies>' }))
    assert.same({
      "product.xml:2:1: <quota>: attribute 'calls' or 'bandwidth' (or both) is required",
      "product.xml:2:40: <api calls>: 'x' is not an integer",
      "product.xml:3:1: <quota>: attribute 'renewal-period' is required",
    }, errs)
  end)
end)
