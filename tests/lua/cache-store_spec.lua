-- busted spec of policies/cache-store.lua (response cache, with the fake portico.host)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()
local lookup = require "cache-lookup"

-- 1 when the response cache holds an entry (each test stores at most one)
local function entries()
  return host.cache_bytes() > 0 and 1 or 0
end

describe("cache-store", function()
  before_each(host.reset)

  it("needs the response body (flags.response_body) and stores status, headers and body", function()
    h.load(h.spec({ api = h.doc { inbound = "<cache-lookup/>", outbound = '<cache-store duration="30"/>' } }))
    assert.is_true(h.engine.flags("echo", "get-order").response_body)
    assert.is_false(h.engine.flags("echo", "get-order").request_body)
    h.run(h.req(), { status = 200, reason = "OK", headers = { { "ETag", '"v1"' }, { "Transfer-Encoding", "chunked" } }, body = "hello" })
    assert.equal(1, entries())
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    assert.equal("hello", resp.body)
    assert.equal('"v1"', h.header(resp.headers, "ETag"))
    assert.is_nil(h.header(resp.headers, "Transfer-Encoding"))
  end)

  it("stores the response as outbound made it up to that point", function()
    h.load(h.spec({ api = h.doc { inbound = "<cache-lookup/>", outbound = [[
      <set-body>@(context.Response.Body.As<string>().ToUpper())</set-body>
      <cache-store duration="30"/>
      <set-header name="X-Late" exists-action="override"><value>@(context.Response.StatusCode.ToString())</value></set-header>]] } }))
    h.run(h.req(), { status = 200, headers = {}, body = "hello" })
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    assert.equal("HELLO", resp.body)
    assert.equal("200", h.header(resp.headers, "X-Late")) -- outbound ran again on the hit
  end)

  it("stores only 200 answers unless cache-response is true", function()
    local doc = h.doc { inbound = "<cache-lookup/>", outbound = '<cache-store duration="30"/>' }
    h.run_api(doc, nil, { status = 404, headers = {}, body = "no" })
    assert.equal(0, entries())
    doc = h.doc { inbound = "<cache-lookup/>", outbound = '<cache-store duration="30" cache-response="@(context.Response.StatusCode == 404)"/>' }
    h.run_api(doc, nil, { status = 404, headers = {}, body = "no" })
    assert.equal(1, entries())
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    assert.equal(404, resp.status)
  end)

  it("stores nothing without a cache-lookup before it", function()
    h.run_api(h.doc { outbound = '<cache-store duration="30"/>' })
    assert.equal(0, entries())
  end)

  it("takes the duration from an expression (APIM's Cache-Control example)", function()
    h.load(h.spec({ api = h.doc { inbound = "<cache-lookup/>", outbound = [[<cache-store duration="@{
        var header = context.Response.Headers.GetValueOrDefault("Cache-Control","");
        var maxAge = Regex.Match(header, @"max-age=(?<maxAge>\d+)").Groups["maxAge"]?.Value;
        return (!string.IsNullOrEmpty(maxAge))?int.Parse(maxAge):300;
      }"/>]] } }))
    h.run(h.req(), { status = 200, headers = { { "Cache-Control", "max-age=5" } }, body = "x" })
    host.advance(4999)
    local _, fw = h.run(h.req())
    assert.equal(0, #fw)
    host.advance(1)
    _, fw = h.run(h.req())
    assert.equal(1, #fw)
  end)

  it("keeps entries binary-safe", function()
    local context = require "portico.context"
    local body = "a:1:\0\255" .. string.rep("z", 300)
    local r = context.response(201, "Created", { { "X-A", "1:2" }, { "Content-Length", "9" } }, body)
    local back, expires = lookup.decode(lookup.encode(r, body, 1234))
    assert.equal(201, back.status)
    assert.equal("Created", back.reason)
    assert.equal(1234, expires)
    assert.same({ { "X-A", "1:2" } }, back.header_list)
    assert.equal(body, back.body_text)
    assert.is_nil(lookup.decode("garbage"))
  end)

  it("checks its attributes at load time, with file:line:col", function()
    local errs = h.load_errors(h.spec({ api = h.doc { outbound = "<cache-store/>" } }))
    assert.matches("^api.xml:2:11: <cache%-store>: attribute 'duration' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-store duration="1"/>' } }))
    assert.matches("<cache%-store> is not allowed in <inbound> %(allowed in outbound%)", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { outbound = '<cache-store duration="1" cache-response="sometimes"/>' } }))
    assert.matches("^api.xml:2:37: <cache%-store cache%-response>: 'sometimes' is not true or false", errs[1])
  end)
end)
