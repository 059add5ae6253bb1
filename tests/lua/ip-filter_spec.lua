-- busted spec of policies/ip-filter.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local cjson = require "cjson"

local function filter(action, body)
  return h.doc { inbound = '<ip-filter action="' .. action .. '">' .. body .. '</ip-filter>' }
end

local LIST = [[<address>13.66.201.169</address>
  <address-range from="13.66.140.128" to="13.66.140.143"/>
  <address>2001:db8::1</address>
  <address-range from="fd00::" to="fd00::ffff"/>]]

local function status(doc, ip)
  local resp, fw = h.run_api(doc, { ip = ip })
  return resp.status, resp, fw
end

describe("ip-filter", function()
  it("allow: lets listed addresses and ranges through, IPv4 and IPv6", function()
    local doc = filter("allow", LIST)
    assert.equal(200, status(doc, "13.66.201.169"))
    assert.equal(200, status(doc, "13.66.140.128"))
    assert.equal(200, status(doc, "13.66.140.143"))
    assert.equal(200, status(doc, "::ffff:13.66.140.130"))
    assert.equal(200, status(doc, "2001:0db8:0:0::1"))
    assert.equal(200, status(doc, "fd00::ab"))
    local st, resp, fw = status(doc, "13.66.140.144")
    assert.equal(403, st)
    assert.equal(0, #fw)
    assert.same({ statusCode = 403, message = "Caller IP address 13.66.140.144 is not allowed. Access denied." },
      cjson.decode(resp.body))
    assert.equal("CallerIpNotAllowed", resp.error.reason)
    assert.equal(403, status(doc, "fd00::1:0"))
  end)

  it("forbid: stops listed callers with CallerIpBlocked", function()
    local doc = filter("forbid", LIST)
    local st, resp = status(doc, "13.66.140.135")
    assert.equal(403, st)
    assert.equal("CallerIpBlocked", resp.error.reason)
    assert.equal("Caller IP address is blocked. Access denied.", cjson.decode(resp.body).message)
    assert.equal(200, status(doc, "10.0.0.1"))
    assert.equal(200, status(doc, "2001:db8::2"))
  end)

  it("fails a caller address it cannot read", function()
    local st, resp = status(filter("forbid", LIST), "not-an-ip")
    assert.equal(403, st)
    assert.equal("FailedToParseCallerIP", resp.error.reason)
  end)

  it("takes addresses from expressions", function()
    local doc = filter("allow", "<address>@(context.Request.Headers.GetValueOrDefault(\"X-Ok\", \"\"))</address>")
    local resp = h.run_api(doc, { ip = "10.1.1.1", headers = { { "X-Ok", "10.1.1.1" } } })
    assert.equal(200, resp.status)
    assert.equal(403, h.run_api(doc, { ip = "10.1.1.1", headers = { { "X-Ok", "junk" } } }).status)
  end)

  it("checks addresses, ranges and the action at load", function()
    local errs = h.load_errors(h.spec({ api = '<policies><inbound>\n<ip-filter action="deny">\n'
      .. '<address>10.0.0.256</address>\n<address-range from="10.0.0.9" to="10.0.0.1"/>\n'
      .. '<address-range from="10.0.0.1" to="::1"/>\n<address-range from="::1"/>\n<adress>1.2.3.4</adress>\n'
      .. '</ip-filter>\n</inbound></policies>' }))
    assert.same({
      "api.xml:2:12: <ip-filter action>: 'deny' is not one of allow, forbid",
      "api.xml:3:1: <address>: '10.0.0.256' is not an IPv4 or IPv6 address",
      "api.xml:4:1: <address-range>: from is after to",
      "api.xml:5:1: <address-range>: from and to are not both IPv4 or both IPv6",
      "api.xml:6:1: <address-range>: attribute 'to' is required",
      "api.xml:7:1: <adress> is not allowed in <ip-filter> (expected address, address-range)",
    }, errs)
  end)
end)
