-- busted spec of policies/return-response.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("return-response", function()
  it("answers without the backend and skips the rest, outbound included", function()
    local resp, fw = h.run_api(h.doc {
      inbound = [[<return-response>
          <set-status code="401" reason="Unauthorized"/>
          <set-header name="WWW-Authenticate" exists-action="override"><value>Bearer error="invalid_token"</value></set-header>
          <set-body>no</set-body>
        </return-response>
        <set-header name="X-After"><value>1</value></set-header>]],
      outbound = '<set-header name="X-Outbound"><value>1</value></set-header>' })
    assert.equal(0, #fw)
    assert.equal(401, resp.status)
    assert.equal("Unauthorized", resp.reason)
    assert.equal('Bearer error="invalid_token"', h.header(resp.headers, "WWW-Authenticate"))
    assert.equal("no", resp.body)
    assert.is_nil(h.header(resp.headers, "X-Outbound"))
  end)

  it("defaults to 200 OK without a body", function()
    local resp = h.run_api(h.doc { inbound = "<return-response/>" })
    assert.equal(200, resp.status)
    assert.equal("", resp.body)
  end)

  it("replaces the backend's response in outbound", function()
    local resp = h.run_api(h.doc { outbound = '<return-response><set-body>mine</set-body></return-response>' })
    assert.equal(200, resp.status)
    assert.equal("mine", resp.body)
    assert.is_nil(h.header(resp.headers, "Content-Type"))
  end)

  it("accepts only set-status, set-header and set-body", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = "<return-response><set-variable name='a' value='b'/></return-response>" } }))
    assert.matches("<set%-variable> is not allowed in <return%-response>", errs[1])
  end)
end)
