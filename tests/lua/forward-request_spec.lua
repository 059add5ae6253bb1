-- busted spec of policies/forward-request.lua (and the forward yield of pipeline.lua)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("forward-request", function()
  it("yields the request as it stands, with the timeout in ms", function()
    local _, fw = h.run_api(h.doc { backend = '<forward-request timeout="20"/>' },
      { method = "PUT", headers = { { "Host", "gw" }, { "X-A", "1" } } })
    assert.equal(1, #fw)
    assert.equal("PUT", fw[1].method)
    assert.equal(20000, fw[1].timeout)
    -- no set-backend-service: C forwards to the API's own backend (its credentials and TLS too)
    assert.is_nil(fw[1].base_url)
    assert.is_nil(fw[1].backend_id)
    assert.equal("/orders/42", fw[1].path)
    assert.equal("x=1", fw[1].query)
    assert.equal("1", h.header(fw[1].headers, "X-A"))
  end)

  it("turns a failed exchange into APIM's error", function()
    local resp = h.run_api(h.doc { backend = "<forward-request/>" }, nil,
      { error = { Source = "forward-request", Reason = "BackendConnectionFailure", Message = "connect refused" } })
    assert.equal(500, resp.status)
    assert.equal('{"statusCode": 500, "message": "Backend connection failure"}', resp.body)
    assert.equal("BackendConnectionFailure", resp.error.reason)
    assert.equal("backend", resp.error.section)
  end)

  it("follows redirects when asked, buffering the request body", function()
    h.load(h.spec({ api = h.doc { backend = '<forward-request follow-redirects="true"/>' } }))
    assert.is_true(h.engine.flags("echo", "get-order").request_body)
    local resp, fw = h.run(h.req({ method = "POST", body = "data" }), function(_, n)
      if n == 1 then return { status = 302, headers = { { "Location", "https://moved.example/new?q=1" } } } end
      if n == 2 then return { status = 307, headers = { { "Location", "/again" } } } end
      return { status = 200, headers = {}, body = "done" }
    end)
    assert.equal(3, #fw)
    assert.equal("https://moved.example", fw[2].base_url)
    assert.equal("/new", fw[2].path)
    assert.equal("q=1", fw[2].query)
    assert.equal("GET", fw[2].method)
    assert.equal("", fw[2].body)
    assert.equal("https://moved.example", fw[3].base_url)
    assert.equal("/again", fw[3].path)
    assert.equal("done", resp.body)
  end)

  it("returns redirects to the caller by default", function()
    local resp, fw = h.run_api(h.doc { backend = "<forward-request/>" }, nil,
      { status = 302, headers = { { "Location", "/x" } } })
    assert.equal(1, #fw)
    assert.equal(302, resp.status)
  end)

  it("fails on error statuses when asked", function()
    local resp = h.run_api(h.doc { backend = '<forward-request fail-on-error-status-code="true"/>' }, nil,
      { status = 503, headers = {} })
    assert.equal(503, resp.status)
    assert.equal("BackendError", resp.error.reason)
  end)

  it("belongs to the backend section and checks its attributes", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = "<forward-request/>" } }))
    assert.matches("<forward%-request> is not allowed in <inbound> %(allowed in backend%)", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { backend = '<forward-request timeout="soon"/>' } }))
    assert.matches("'soon' is not an integer", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { backend = '<forward-request http-version="2"/>' } }))
    assert.matches("HTTP/2 to backends is not supported", errs[1])
  end)
end)
