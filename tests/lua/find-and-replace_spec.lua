-- busted spec of policies/find-and-replace.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local TEXT = "see http://backend:9001/v1/orders and http://backend:9001/v1/"
-- a fresh answer per call: the pipeline changes header lists in place
local function BACKEND()
  return { status = 200, reason = "OK",
    headers = { { "Content-Type", "text/plain" }, { "Content-Length", tostring(#TEXT) } }, body = TEXT }
end

describe("find-and-replace", function()
  it("replaces every occurrence in the response body, as plain text", function()
    local resp = h.run_api(h.doc { outbound = '<find-and-replace from="http://backend:9001/v1" to="https://gw/echo"/>' },
      nil, BACKEND)
    assert.equal("see https://gw/echo/orders and https://gw/echo/", resp.body)
    assert.is_false(resp.streamed)
    assert.is_nil(h.header(resp.headers, "Content-Length"))
    resp = h.run_api(h.doc { outbound = '<find-and-replace from="." to="%"/>' }, nil,
      { status = 200, headers = {}, body = "a.b.%1" })
    assert.equal("a%b%%1", resp.body)
  end)

  it("replaces in the request body in inbound", function()
    local _, fw = h.run_api(h.doc { inbound = '<find-and-replace from="secret" to="***"/>' },
      { method = "POST", body = "a secret and a secret", headers = { { "Content-Length", "21" } } })
    assert.equal("a *** and a ***", fw[1].body)
    assert.is_nil(h.header(fw[1].headers, "Content-Length"))
  end)

  it("takes expressions, and leaves a body without the text alone", function()
    local resp = h.run_api(h.doc { outbound = '<find-and-replace from="@(context.Api.ServiceUrl.Host)" '
      .. 'to="@(context.Request.OriginalUrl.Host)"/>' }, nil,
      { status = 200, headers = {}, body = "at 127.0.0.1 now" })
    assert.equal("at gw now", resp.body)
    resp = h.run_api(h.doc { outbound = '<find-and-replace from="zzz" to="y"/>' }, nil, BACKEND)
    assert.equal(TEXT, resp.body)
    assert.equal(tostring(#TEXT), h.header(resp.headers, "Content-Length"))
  end)

  it("marks the section's body as read, so C buffers it", function()
    h.load(h.spec({ api = h.doc { outbound = '<choose><when condition="true"><find-and-replace from="a" to="b"/></when></choose>' } }))
    local f = h.engine.flags("echo", "get-order", nil)
    assert.is_false(f.request_body)
    assert.is_true(f.response_body)
    h.load(h.spec({ api = h.doc { inbound = '<find-and-replace from="a" to="b"/>' } }))
    f = h.engine.flags("echo", "get-order", nil)
    assert.is_true(f.request_body)
    assert.is_false(f.response_body)
  end)

  it("wants a non-empty from and a to", function()
    local errs = h.load_errors(h.spec({ api = '<policies><outbound>\n<find-and-replace from="" to="x"/>\n<find-and-replace from="x"/>\n</outbound></policies>' }))
    assert.same({
      "api.xml:2:19: <find-and-replace from>: the text to find is empty",
      "api.xml:3:1: <find-and-replace>: attribute 'to' is required",
    }, errs)
  end)
end)
