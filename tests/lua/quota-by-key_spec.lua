-- busted spec of policies/quota-by-key.lua (counters in tests/lua/host_fake.lua)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()
local cjson = require "cjson"

local EPOCH_2014 = 1388534400
local HOUR = 3600

-- a request at `s` seconds into some hour after 2014-01-01
local function at(s, t)
  t = t or {}
  t.timestamp = EPOCH_2014 + 1000 * HOUR + s
  return h.req(t)
end

local function quota(attrs) return h.doc { inbound = "<quota-by-key " .. attrs .. "/>" } end

describe("quota-by-key", function()
  before_each(host.reset)

  it("allows `calls` calls per period, then 403 QuotaExceeded until the period renews", function()
    h.load(h.spec({ api = quota('calls="2" renewal-period="3600" counter-key="@(context.Request.IpAddress)"') }))
    assert.equal(200, h.run(at(10)).status)
    assert.equal(200, h.run(at(20)).status)
    local resp, fw = h.run(at(600))
    assert.equal(0, #fw)
    assert.equal(403, resp.status)
    assert.same({ statusCode = 403, message = "Out of call volume quota. Quota will be replenished in 00:50:00." },
      cjson.decode(resp.body))
    assert.equal("QuotaExceeded", resp.error.reason)
    assert.equal(200, h.run(at(600, { ip = "10.9.9.9" })).status)
    -- the next period (aligned on 2014-01-01T00:00:00Z) starts afresh
    assert.equal(200, h.run(at(HOUR + 1)).status)
  end)

  it("aligns periods on first-period-start, and renewal-period 0 never renews", function()
    h.load(h.spec({ api = quota('calls="1" renewal-period="86400" counter-key="k" first-period-start="2014-01-01T12:00:00Z"') }))
    local noon = EPOCH_2014 + 100 * 86400 + 12 * HOUR
    assert.equal(200, h.run(h.req({ timestamp = noon - 10 })).status)
    local resp = h.run(h.req({ timestamp = noon - 5 }))
    assert.equal(403, resp.status)
    assert.matches("replenished in 00:00:05%.", cjson.decode(resp.body).message)
    assert.equal(200, h.run(h.req({ timestamp = noon })).status)
    host.reset()
    h.load(h.spec({ api = quota('calls="1" renewal-period="0" counter-key="k"') }))
    assert.equal(200, h.run(at(0)).status)
    assert.equal(403, h.run(at(10 * 86400)).status)
  end)

  it("counts bandwidth in kilobytes from the bodies, when the request is done", function()
    h.load(h.spec({ api = quota('bandwidth="2" renewal-period="3600" counter-key="k"') }))
    local big = { status = 200, reason = "OK", headers = { { "Content-Length", "1500" } } }
    assert.equal(200, h.run(at(1), big).status) -- 1500 bytes
    assert.equal(200, h.run(at(2), big).status) -- 3000 bytes, counted after the call
    local resp = h.run(at(3), big)
    assert.equal(403, resp.status)
    assert.matches("^Out of bandwidth quota%. Quota will be replenished in ", cjson.decode(resp.body).message)
  end)

  it("counts a call only when the increment-condition holds at the end", function()
    h.load(h.spec({ api = quota('calls="1" renewal-period="3600" counter-key="k" '
      .. 'increment-condition="@(context.Response.StatusCode == 200)"') }))
    local failing = { status = 502, reason = "Bad Gateway", headers = {}, body = "" }
    assert.equal(502, h.run(at(1), failing).status)
    assert.equal(502, h.run(at(2), failing).status)
    assert.equal(200, h.run(at(3)).status)
    assert.equal(403, h.run(at(4)).status)
  end)

  it("checks its attributes at load", function()
    local errs = h.load_errors(h.spec({ api = '<policies><inbound>\n<quota-by-key renewal-period="60" counter-key="k"/>\n'
      .. '<quota-by-key calls="1" renewal-period="60" counter-key="k" first-period-start="yesterday"/>\n'
      .. '<quota-by-key calls="-1" renewal-period="60"/>\n</inbound></policies>' }))
    assert.same({
      "api.xml:2:1: <quota-by-key>: attribute 'calls' or 'bandwidth' (or both) is required",
      "api.xml:3:61: <quota-by-key first-period-start>: 'yesterday' is not a date like 2014-01-01T00:00:00Z",
      "api.xml:4:1: <quota-by-key>: attribute 'counter-key' is required",
      "api.xml:4:15: <quota-by-key calls>: -1 is less than 0",
    }, errs)
  end)
end)
