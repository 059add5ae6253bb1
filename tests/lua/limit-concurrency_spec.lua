-- busted spec of policies/limit-concurrency.lua (slots in tests/lua/host_fake.lua)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()
local cjson = require "cjson"

local KEY = "limit-concurrency:orders"
local OK = { status = 200, reason = "OK", headers = {}, body = "done" }

-- a request suspended at its forward yield, as while C waits for the backend
local function start(req)
  local co = coroutine.create(h.engine.run)
  local ok, what = coroutine.resume(co, req)
  assert(ok, what)
  assert.equal("forward", what)
  return co
end

local function finish(co, resp)
  local ok, out = coroutine.resume(co, resp)
  assert(ok, out)
  assert.equal("dead", coroutine.status(co))
  return out
end

local DOC = h.doc { backend = [[<limit-concurrency key="@(&quot;orders&quot;)" max-count="2">
    <forward-request timeout="10"/>
  </limit-concurrency>]] }

describe("limit-concurrency", function()
  before_each(host.reset)

  it("lets max-count requests run the children at once, then answers 429", function()
    h.load(h.spec({ api = DOC }))
    local a, b = start(h.req()), start(h.req())
    assert.equal(2, host.slots(KEY))
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    assert.equal(429, resp.status)
    assert.same({ statusCode = 429, message = "Too many requests" }, cjson.decode(resp.body))
    assert.equal("TooManyRequests", resp.error.reason)
    assert.equal("done", finish(a, OK).body)
    assert.equal(1, host.slots(KEY))
    assert.equal(200, h.run(h.req()).status)
    finish(b, OK)
    assert.equal(0, host.slots(KEY))
  end)

  it("gives the slot back when a child fails", function()
    h.load(h.spec({ api = DOC }))
    local resp = h.run(h.req(), { error = { Reason = "Timeout", Message = "backend timed out" } })
    assert.equal(500, resp.status)
    assert.equal("Timeout", resp.error.reason)
    assert.equal(0, host.slots(KEY))
  end)

  it("gives the slot back when C closes a request it will not resume", function()
    h.load(h.spec({ api = DOC }))
    local co = start(h.req())
    assert.equal(1, host.slots(KEY))
    assert.is_true(coroutine.close(co))
    assert.equal(0, host.slots(KEY))
  end)

  it("counts each key apart and runs in any section", function()
    h.load(h.spec({ api = h.doc {
      inbound = [[<limit-concurrency key="@(context.Request.IpAddress)" max-count="1">
        <set-header name="X-In" exists-action="override"><value>1</value></set-header></limit-concurrency>]],
      backend = [[<limit-concurrency key="@(context.Request.IpAddress + &quot;-b&quot;)" max-count="1"><forward-request/></limit-concurrency>]] } }))
    local a = start(h.req({ ip = "10.0.0.1" }))
    assert.equal(0, host.slots("limit-concurrency:10.0.0.1"))
    assert.equal(1, host.slots("limit-concurrency:10.0.0.1-b"))
    assert.equal(200, h.run(h.req({ ip = "10.0.0.2" })).status)
    assert.equal(429, h.run(h.req({ ip = "10.0.0.1" })).status)
    finish(a, OK)
  end)

  it("checks its attributes at load", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<limit-concurrency max-count="@(2)"><set-header/></limit-concurrency>' } }))
    assert.equal(3, #errs)
    assert.matches("<limit%-concurrency>: attribute 'key' is required", errs[1])
    assert.matches("<limit%-concurrency max%-count>: policy expressions are not allowed here", errs[2])
    assert.matches("<set%-header>: attribute 'name' is required", errs[3])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<limit-concurrency key="k" max-count="0"/>' } }))
    assert.matches("max%-count>: 0 is less than 1", errs[1])
  end)
end)
