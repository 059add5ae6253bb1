-- busted spec of policies/mock-response.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("mock-response", function()
  it("answers with the operation's example", function()
    local resp, fw = h.run_api(h.doc { inbound = "<mock-response/>" })
    assert.equal(0, #fw)
    assert.equal(200, resp.status)
    assert.equal('{"id":42}', resp.body)
    assert.equal("application/json", h.header(resp.headers, "Content-Type"))
  end)

  it("answers with an empty body when there is no example", function()
    local resp = h.run_api(h.doc { inbound = '<mock-response status-code="404" content-type="text/plain"/>' })
    assert.equal(404, resp.status)
    assert.equal("", resp.body)
    assert.equal("text/plain", h.header(resp.headers, "Content-Type"))
    resp = h.run_api(h.doc { inbound = '<mock-response/>' }, { operation_id = "search" })
    assert.equal("", resp.body)
    assert.is_nil(h.header(resp.headers, "Content-Type"))
  end)
end)
