-- busted spec of policies/send-one-way-request.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("send-one-way-request", function()
  it("yields a one-way call and goes on without its answer", function()
    local resp, _, log = h.run_api(h.doc { outbound = [[
      <choose>
        <when condition="@(context.Response.StatusCode >= 500)">
          <send-one-way-request mode="new" timeout="20">
            <set-url>https://hooks.example/alert</set-url>
            <set-method>POST</set-method>
            <set-body>@(context.Request.Method + " " + context.Response.StatusCode)</set-body>
          </send-one-way-request>
        </when>
      </choose>
    ]] }, nil, { status = 503, headers = {} })
    assert.equal(503, resp.status)
    assert.same({ "forward", "send" }, log.yields)
    local call = log.sends[1].calls[1]
    assert.is_true(call.one_way)
    assert.equal("POST", call.method)
    assert.equal("https://hooks.example/alert", call.url)
    assert.equal("GET 503", call.body)
    assert.equal(20000, call.timeout)
  end)

  it("ignores what C answers, even an error", function()
    local resp = h.run_api(h.doc { inbound = [[
      <send-one-way-request><set-url>http://log.example/</set-url></send-one-way-request>
    ]] }, nil, nil, nil, { send = { { error = { Reason = "BackendConnectionFailure", Message = "refused" } } } })
    assert.equal(200, resp.status)
    assert.is_nil(resp.error)
  end)

  it("copies the request in mode copy", function()
    local _, _, log = h.run_api(h.doc { inbound = [[
      <send-one-way-request mode="copy"><set-url>http://mirror.example/orders</set-url></send-one-way-request>
    ]] }, { method = "PUT", body = "x", headers = { { "Host", "gw" }, { "X-A", "1" } } })
    local call = log.sends[1].calls[1]
    assert.equal("PUT", call.method)
    assert.equal("http://mirror.example/orders", call.url)
    assert.equal("x", call.body)
    assert.same({ { "X-A", "1" } }, call.headers)
  end)

  it("checks its attributes at load time, with file:line:col", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-one-way-request response-variable-name="r"><set-url>http://x</set-url></send-one-way-request>' } }))
    assert.matches("^api.xml:2:32: <send%-one%-way%-request>: unknown attribute 'response%-variable%-name'", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-one-way-request timeout="-1"><set-url>http://x</set-url></send-one-way-request>' } }))
    assert.matches("^api.xml:2:10: <send%-one%-way%-request>: timeout %-1 is negative", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<send-one-way-request/>' } }))
    assert.matches("<set%-url> is required", errs[1])
  end)
end)
