-- busted spec of policies/retry.lua ("sleep" yields, forward replays, body flags)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local retry = require "retry"

local function statuses(...)
  local list = { ... }
  return function(_, n)
    return { status = list[n] or list[#list], headers = {}, body = "b" .. n }
  end
end

local function backend_doc(attrs, inner)
  return h.doc { backend = "<retry " .. attrs .. ">" .. (inner or "<forward-request/>") .. "</retry>" }
end

describe("retry", function()
  local saved_jitter
  before_each(function() saved_jitter = retry.jitter end)
  after_each(function() retry.jitter = saved_jitter end)

  it("sends the request again while the condition holds, sleeping between tries", function()
    local resp, fw, log = h.run_api(backend_doc(
      'condition="@(context.Response.StatusCode == 500)" count="5" interval="1"'),
      nil, statuses(500, 500, 200))
    assert.equal(200, resp.status)
    assert.equal(3, #fw)
    assert.same({ "forward", "sleep", "forward", "sleep", "forward" }, log.yields)
    assert.same({ 1000, 1000 }, log.sleeps)
  end)

  it("stops after count retries and keeps the last answer", function()
    local resp, fw, log = h.run_api(backend_doc(
      'condition="@(context.Response.StatusCode >= 500)" count="2" interval="0.25"'),
      nil, statuses(503))
    assert.equal(503, resp.status)
    assert.equal(3, #fw)
    assert.same({ 250, 250 }, log.sleeps)
  end)

  it("does not retry when the condition is false after the first run", function()
    local _, fw, log = h.run_api(backend_doc('condition="false" count="3" interval="1"'))
    assert.equal(1, #fw)
    assert.same({}, log.sleeps)
  end)

  it("waits linearly with delta", function()
    local _, fw, log = h.run_api(backend_doc('condition="true" count="3" interval="1" delta="2"'))
    assert.equal(4, #fw)
    assert.same({ 1000, 3000, 5000 }, log.sleeps)
  end)

  it("waits exponentially with delta and max-interval (APIM's 10, 20, 40, 80, 100 s)", function()
    retry.jitter = function() return 1 end
    local _, fw, log = h.run_api(backend_doc(
      'condition="true" count="6" interval="10" max-interval="100" delta="10" first-fast-retry="false"'))
    assert.equal(7, #fw)
    assert.same({ 10000, 20000, 40000, 80000, 100000, 100000 }, log.sleeps)
    -- the jitter scales delta between 0.8 and 1.2
    retry.jitter = function() return 0.8 end
    assert.equal(10000 + 3 * 8000, retry.wait_ms(3, 10, 10, 100, false))
  end)

  it("makes the first retry at once with first-fast-retry", function()
    local _, fw, log = h.run_api(backend_doc(
      'condition="true" count="3" interval="1" delta="1" first-fast-retry="@(true)"'))
    assert.equal(4, #fw)
    assert.same({ "forward", "forward", "sleep", "forward", "sleep", "forward" }, log.yields)
    assert.same({ 2000, 3000 }, log.sleeps)
  end)

  it("buffers the request body when it may send the request again", function()
    h.load(h.spec({ api = backend_doc('condition="@(context.Response.StatusCode == 502)" count="1" interval="0"') }))
    assert.is_true(h.engine.flags("echo", "get-order").request_body)
    local _, fw, log = h.run(h.req({ method = "POST", body = "data" }), statuses(502, 200))
    assert.equal(2, #fw)
    assert.equal("data", fw[1].body)
    assert.equal("data", fw[2].body)
    assert.equal("POST", fw[2].method)
    assert.same({}, log.sleeps) -- interval 0: no sleep yield
    -- nested deeper (choose inside retry) too
    h.load(h.spec({ api = backend_doc('condition="true" count="1" interval="1"',
      '<choose><when condition="true"><forward-request/></when></choose>') }))
    assert.is_true(h.engine.flags("echo", "get-order").request_body)
    -- but not for a forward-request outside retry, nor a retry that only calls out
    h.load(h.spec({ api = h.doc { backend = "<forward-request/>" } }))
    assert.is_false(h.engine.flags("echo", "get-order").request_body)
    h.load(h.spec({ api = h.doc { inbound = [[<retry condition="true" count="1" interval="1">
      <send-request response-variable-name="r"><set-url>http://x.example/</set-url></send-request></retry>]] } }))
    assert.is_false(h.engine.flags("echo", "get-order").request_body)
  end)

  it("retries send-request until the answer is good (APIM's example)", function()
    local _, fw, log = h.run_api(h.doc { inbound = [[
      <retry condition="@(context.Variables["response"] == null || ((IResponse)context.Variables["response"]).StatusCode >= 500)"
             count="3" interval="1" first-fast-retry="true">
        <send-request mode="new" response-variable-name="response" timeout="3" ignore-error="true">
          <set-url>https://api.example/products/5</set-url>
          <set-method>GET</set-method>
        </send-request>
      </retry>
      <set-header name="X-Status"><value>@(((IResponse)context.Variables["response"]).StatusCode.ToString())</value></set-header>
    ]] }, nil, nil, nil, { send = function(_, _, n)
      if n == 1 then return { { error = { Reason = "Timeout", Message = "3 s" } } } end
      if n == 2 then return { { status = 503, headers = {}, body = "" } } end
      return { { status = 200, headers = {}, body = "{}" } }
    end })
    assert.equal(3, #log.sends)
    assert.same({ "send", "send", "sleep", "send", "forward" }, log.yields)
    assert.same({ 1000 }, log.sleeps)
    assert.equal("200", h.header(fw[1].headers, "X-Status"))
  end)

  it("does not retry errors raised by its children: they go to on-error", function()
    local resp, _, log = h.run_api(h.doc {
      inbound = [[<retry condition="true" count="3" interval="1">
        <send-request response-variable-name="r"><set-url>http://x.example/</set-url></send-request></retry>]],
      ["on-error"] = [[<set-header name="X-Reason" exists-action="override"><value>@(context.LastError.Reason + "/" + context.LastError.Source)</value></set-header>]],
    }, nil, nil, nil, { send = { { error = { Reason = "BackendConnectionFailure", Message = "refused" } } } })
    assert.equal(1, #log.sends)
    assert.equal(500, resp.status)
    assert.equal("BackendConnectionFailure/send-request", h.header(resp.headers, "X-Reason"))
  end)

  it("stops when a child ends the pipeline", function()
    local resp, fw, log = h.run_api(h.doc { inbound = [[<retry condition="true" count="3" interval="1">
      <return-response><set-status code="418"/></return-response></retry>]] })
    assert.equal(418, resp.status)
    assert.equal(0, #fw)
    assert.same({}, log.yields)
  end)

  it("checks its attributes at load time, with file:line:col", function()
    local errs = h.load_errors(h.spec({ api = backend_doc('condition="true" count="0" interval="1"') }))
    assert.matches("^api.xml:2:10: <retry>: count 0 is not between 1 and 50", errs[1])
    errs = h.load_errors(h.spec({ api = backend_doc('condition="true" count="51" interval="1"') }))
    assert.matches("count 51 is not between 1 and 50", errs[1])
    errs = h.load_errors(h.spec({ api = backend_doc('count="1" interval="1"') }))
    assert.matches("^api.xml:2:10: <retry>: attribute 'condition' is required", errs[1])
    errs = h.load_errors(h.spec({ api = backend_doc('condition="true" count="1"') }))
    assert.matches("attribute 'interval' is required", errs[1])
    errs = h.load_errors(h.spec({ api = backend_doc('condition="maybe" count="1" interval="1"') }))
    assert.matches("^api.xml:2:17: <retry condition>: 'maybe' is not true or false", errs[1])
    errs = h.load_errors(h.spec({ api = backend_doc('condition="true" count="1" interval="-1"') }))
    assert.matches("<retry>: interval %-1 is negative", errs[1])
    errs = h.load_errors(h.spec({ api = backend_doc('condition="true" count="1" interval="1" delay="2"') }))
    assert.matches("unknown attribute 'delay' %(did you mean 'delta'%?%)", errs[1])
  end)

  it("checks a computed count at run time", function()
    local resp = h.run_api(backend_doc('condition="true" count="@(60)" interval="1"'))
    assert.equal(500, resp.status)
    assert.matches("count evaluated to 60", resp.error.message)
  end)
end)
