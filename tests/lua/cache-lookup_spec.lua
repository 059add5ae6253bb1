-- busted spec of policies/cache-lookup.lua (response cache, with the fake portico.host)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()

local function cached_doc(lookup_attrs, children, store_attrs)
  return h.doc {
    inbound = "<cache-lookup " .. (lookup_attrs or "") .. ">" .. (children or "") .. "</cache-lookup>",
    outbound = "<cache-store " .. (store_attrs or 'duration="60"') .. "/>"
      .. [[<set-header name="X-Out" exists-action="append"><value>ran</value></set-header>]],
  }
end

local n_backend
local function backend()
  n_backend = n_backend + 1
  return { status = 200, reason = "OK",
    headers = { { "Content-Type", "text/plain" }, { "Content-Length", "6" }, { "X-N", tostring(n_backend) } },
    body = "body " .. n_backend }
end

local function run(doc, req_t)
  h.load(h.spec({ api = doc }))
  return h.run(h.req(req_t), backend)
end

describe("cache-lookup", function()
  before_each(function()
    host.reset()
    n_backend = 0
  end)

  it("answers a GET from the cache without calling the backend; outbound still runs", function()
    local doc = cached_doc()
    h.load(h.spec({ api = doc }))
    assert.is_true(h.engine.flags("echo", "get-order").response_body)
    local resp, fw = run(doc)
    assert.equal(1, #fw)
    assert.equal("body 1", resp.body)
    assert.equal("ran", h.header(resp.headers, "X-Out"))
    resp, fw = run(doc)
    assert.equal(0, #fw)
    assert.equal(200, resp.status)
    assert.equal("OK", resp.reason)
    assert.equal("body 1", resp.body)
    assert.is_false(resp.streamed)
    assert.equal("1", h.header(resp.headers, "X-N"))
    assert.equal("text/plain", h.header(resp.headers, "Content-Type"))
    assert.is_nil(h.header(resp.headers, "Content-Length")) -- C frames the cached body
    -- outbound ran on the cached answer (once: cache-store kept the response before it)
    assert.same({ "ran" }, h.headers_named(resp.headers, "X-Out"))
  end)

  it("calls the backend again once the entry expired", function()
    local doc = cached_doc()
    run(doc)
    host.advance(59999)
    local _, fw = run(doc)
    assert.equal(0, #fw)
    host.advance(1)
    local resp
    resp, fw = run(doc)
    assert.equal(1, #fw)
    assert.equal("body 2", resp.body)
  end)

  it("skips the rest of inbound and the backend section on a hit", function()
    local doc = h.doc {
      inbound = [[<cache-lookup/><set-header name="X-After" exists-action="override"><value>1</value></set-header>]],
      backend = [[<set-header name="X-Backend" exists-action="override"><value>1</value></set-header><forward-request/>]],
      outbound = [[<cache-store duration="60"/>]],
    }
    local _, fw = run(doc)
    assert.equal("1", h.header(fw[1].headers, "X-After"))
    local resp
    resp, fw = run(doc)
    assert.equal(0, #fw)
    assert.equal("body 1", resp.body)
  end)

  it("varies by the named query parameters only", function()
    local doc = cached_doc(nil, "<vary-by-query-parameter>version;lang</vary-by-query-parameter>")
    run(doc, { query = "version=1&other=a" })
    local _, fw = run(doc, { query = "version=1&other=b" })
    assert.equal(0, #fw)
    _, fw = run(doc, { query = "version=2" })
    assert.equal(1, #fw)
    _, fw = run(doc, { query = "version=1&lang=fr" })
    assert.equal(1, #fw)
  end)

  it("varies by the named headers", function()
    local doc = cached_doc(nil, "<vary-by-header>Accept</vary-by-header>")
    run(doc, { headers = { { "Accept", "application/json" } } })
    local _, fw = run(doc, { headers = { { "Accept", "application/json" }, { "X-Other", "1" } } })
    assert.equal(0, #fw)
    _, fw = run(doc, { headers = { { "Accept", "text/xml" } } })
    assert.equal(1, #fw)
    _, fw = run(doc, { headers = {} })
    assert.equal(1, #fw)
  end)

  it("varies by subscription with vary-by-developer", function()
    local doc = cached_doc('vary-by-developer="true"')
    run(doc, { subscription = { id = "s1", key = "k1" } })
    local _, fw = run(doc, { subscription = { id = "s1", key = "k1" } })
    assert.equal(0, #fw)
    _, fw = run(doc, { subscription = { id = "s2", key = "k2" } })
    assert.equal(1, #fw)
  end)

  it("caches only GET requests", function()
    local doc = cached_doc()
    run(doc, { method = "POST" })
    local _, fw = run(doc, { method = "POST" })
    assert.equal(1, #fw)
    assert.equal(0, host.cache_bytes())
  end)

  it("leaves requests with Authorization alone unless allow-private-response-caching", function()
    local auth = { headers = { { "Authorization", "Bearer x" } } }
    local doc = cached_doc()
    run(doc, auth)
    local _, fw = run(doc, auth)
    assert.equal(1, #fw)
    doc = cached_doc('allow-private-response-caching="@(true)"', "<vary-by-header>Authorization</vary-by-header>")
    run(doc, auth)
    _, fw = run(doc, auth)
    assert.equal(0, #fw)
  end)

  it("tells clients how long they may cache with downstream-caching-type", function()
    local doc = cached_doc('downstream-caching-type="public"')
    local resp = run(doc)
    assert.equal("public, max-age=60, must-revalidate", h.header(resp.headers, "Cache-Control"))
    host.advance(10000)
    resp = run(doc)
    assert.equal("public, max-age=50, must-revalidate", h.header(resp.headers, "Cache-Control"))
    host.reset()
    doc = cached_doc('downstream-caching-type="private" must-revalidate="false"')
    resp = run(doc)
    assert.equal("private, max-age=60", h.header(resp.headers, "Cache-Control"))
    host.reset()
    resp = run(cached_doc('downstream-caching-type="none"'))
    assert.is_nil(h.header(resp.headers, "Cache-Control"))
  end)

  it("checks its attributes and children at load time, with file:line:col", function()
    local errs = h.load_errors(h.spec({ api = h.doc { outbound = "<cache-lookup/>" } }))
    assert.matches("^api.xml:2:11: <cache%-lookup> is not allowed in <outbound> %(allowed in inbound%)", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-lookup downstream-caching-type="shared"/>' } }))
    assert.matches("^api.xml:2:24: <cache%-lookup downstream%-caching%-type>: 'shared' is not one of none, private, public", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-lookup><vary-by-path>x</vary-by-path></cache-lookup>' } }))
    assert.matches("^api.xml:2:24: <vary%-by%-path> is not allowed in <cache%-lookup> %(expected vary%-by%-header, vary%-by%-query%-parameter%)", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-lookup><vary-by-header/></cache-lookup>' } }))
    assert.matches("<vary%-by%-header>: a value is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<cache-lookup vary-by-developer="maybe"/>' } }))
    assert.matches("'maybe' is not true or false", errs[1])
  end)
end)
