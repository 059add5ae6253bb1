-- busted spec of policies/cors.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local CORS = [[<cors allow-credentials="true">
    <allowed-origins><origin>https://app.example</origin><origin>http://localhost:8080/</origin></allowed-origins>
    <allowed-methods preflight-result-max-age="300"><method>GET</method><method>PUT</method></allowed-methods>
    <allowed-headers><header>Content-Type</header><header>X-Token</header></allowed-headers>
    <expose-headers><header>X-Request-Id</header><header>ETag</header></expose-headers>
  </cors>]]

local function preflight(origin, method, headers)
  local hs = { { "Host", "gw" }, { "Origin", origin }, { "Access-Control-Request-Method", method } }
  if headers then hs[#hs + 1] = { "Access-Control-Request-Headers", headers } end
  return { method = "OPTIONS", headers = hs }
end

describe("cors", function()
  it("answers a matching preflight itself, without the backend", function()
    local resp, fw = h.run_api(h.doc { inbound = CORS .. '<set-header name="X-After" exists-action="override"><value>1</value></set-header>' },
      preflight("https://APP.example:443", "PUT", "content-type, x-token"))
    assert.equal(0, #fw)
    assert.equal(200, resp.status)
    assert.equal("", resp.body)
    assert.equal("https://APP.example:443", h.header(resp.headers, "Access-Control-Allow-Origin"))
    assert.equal("true", h.header(resp.headers, "Access-Control-Allow-Credentials"))
    assert.equal("PUT", h.header(resp.headers, "Access-Control-Allow-Methods"))
    assert.equal("content-type,x-token", h.header(resp.headers, "Access-Control-Allow-Headers"))
    assert.equal("300", h.header(resp.headers, "Access-Control-Max-Age"))
    assert.equal("Origin", h.header(resp.headers, "Vary"))
  end)

  it("ends an unmatched preflight with an empty 200, or lets it go on", function()
    for _, pf in ipairs({ preflight("https://evil.example", "GET"), preflight("https://app.example", "DELETE"),
        preflight("https://app.example", "GET", "X-Other") }) do
      local resp, fw = h.run_api(h.doc { inbound = CORS }, pf)
      assert.equal(0, #fw)
      assert.equal(200, resp.status)
      assert.is_nil(h.header(resp.headers, "Access-Control-Allow-Origin"))
    end
    local _, fw = h.run_api(h.doc { inbound = CORS:gsub('allow%-credentials="true"', 'terminate-unmatched-request="false"') },
      preflight("https://evil.example", "GET"))
    assert.equal(1, #fw)
  end)

  it("adds the CORS headers to the response of an allowed request", function()
    local backend = { status = 201, reason = "Created", headers = { { "Vary", "Accept" } }, body = "x" }
    local resp, fw = h.run_api(h.doc { inbound = CORS }, { method = "PUT",
      headers = { { "Origin", "http://localhost:8080" } } }, backend)
    assert.equal(1, #fw)
    assert.equal(201, resp.status)
    assert.equal("http://localhost:8080", h.header(resp.headers, "Access-Control-Allow-Origin"))
    assert.equal("true", h.header(resp.headers, "Access-Control-Allow-Credentials"))
    assert.equal("X-Request-Id, ETag", h.header(resp.headers, "Access-Control-Expose-Headers"))
    assert.equal("Accept,Origin", h.header(resp.headers, "Vary"))
  end)

  it("adds them to error answers too, and not to requests without Origin", function()
    local resp = h.run_api(h.doc { inbound = CORS }, { headers = { { "Origin", "https://app.example" } } },
      { error = { Reason = "BackendConnectionFailure", Message = "refused" } })
    assert.equal(500, resp.status)
    assert.equal("https://app.example", h.header(resp.headers, "Access-Control-Allow-Origin"))
    resp = h.run_api(h.doc { inbound = CORS })
    assert.equal(200, resp.status)
    assert.is_nil(h.header(resp.headers, "Access-Control-Allow-Origin"))
  end)

  it("ends an unmatched GET with an empty 200 unless terminate-unmatched-request is false", function()
    local resp, fw = h.run_api(h.doc { inbound = CORS }, { headers = { { "Origin", "https://evil.example" } } })
    assert.equal(0, #fw)
    assert.equal(200, resp.status)
    assert.equal("", resp.body)
    resp, fw = h.run_api(h.doc { inbound = CORS:gsub('allow%-credentials="true"', 'terminate-unmatched-request="false"') },
      { headers = { { "Origin", "https://evil.example" } } })
    assert.equal(1, #fw)
    assert.is_nil(h.header(resp.headers, "Access-Control-Allow-Origin"))
    _, fw = h.run_api(h.doc { inbound = CORS }, { method = "POST", headers = { { "Origin", "https://evil.example" } } })
    assert.equal(1, #fw)
  end)

  it("answers * for any origin without credentials, and any method and header with *", function()
    local doc = h.doc { inbound = [[<cors><allowed-origins><origin>*</origin></allowed-origins>
      <allowed-methods><method>*</method></allowed-methods><allowed-headers><header>*</header></allowed-headers></cors>]] }
    local resp = h.run_api(doc, preflight("https://any.example", "PATCH", "X-A"))
    assert.equal("*", h.header(resp.headers, "Access-Control-Allow-Origin"))
    assert.equal("PATCH", h.header(resp.headers, "Access-Control-Allow-Methods"))
    assert.equal("X-A", h.header(resp.headers, "Access-Control-Allow-Headers"))
    assert.is_nil(h.header(resp.headers, "Access-Control-Max-Age"))
    assert.is_nil(h.header(resp.headers, "Access-Control-Allow-Credentials"))
  end)

  it("checks its shape at load", function()
    local errs = h.load_errors(h.spec({ api = '<policies><inbound>\n<cors allow-credentials="true">'
      .. '<allowed-origins><origin>*</origin></allowed-origins></cors>\n<cors><allowed-methods><verb>GET</verb></allowed-methods></cors>\n'
      .. '<cors><allowed-origins><origin>@(context.Request.Url.Host)</origin></allowed-origins></cors>\n</inbound></policies>' }))
    assert.same({
      "api.xml:2:1: <cors allow-credentials=\"true\">: the origin '*' cannot be used with credentials (list the origins)",
      "api.xml:3:1: <cors>: <allowed-origins> with at least one <origin> is required",
      "api.xml:3:24: <verb> is not allowed in <allowed-methods> (expected method)",
      "api.xml:4:32: <origin>: policy expressions are not allowed here",
    }, errs)
  end)
end)
