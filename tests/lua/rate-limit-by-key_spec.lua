-- busted spec of policies/rate-limit-by-key.lua (counters in tests/lua/host_fake.lua)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()
local cjson = require "cjson"

local function doc(attrs, extra)
  return h.doc { inbound = "<rate-limit-by-key " .. attrs .. "/>", ["on-error"] = extra }
end

local function run_n(n, req_t, backend)
  local out = {}
  for i = 1, n do out[i] = h.run(h.req(req_t), backend) end
  return out
end

describe("rate-limit-by-key", function()
  before_each(host.reset)

  it("lets `calls` calls through per window, then answers 429 with Retry-After", function()
    h.load(h.spec({ api = doc('calls="3" renewal-period="60" counter-key="@(context.Request.IpAddress)"') }))
    local r = run_n(3)
    for i = 1, 3 do assert.equal(200, r[i].status) end
    host.advance(15000)
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    assert.equal(429, resp.status)
    assert.equal("Too Many Requests", resp.reason)
    assert.equal("45", h.header(resp.headers, "Retry-After"))
    assert.equal("application/json", h.header(resp.headers, "Content-Type"))
    assert.same({ statusCode = 429, message = "Rate limit is exceeded. Try again in 45 seconds." },
      cjson.decode(resp.body))
    assert.equal("RateLimitExceeded", resp.error.reason)
    assert.equal("rate-limit-by-key", resp.error.source)
  end)

  it("starts a new window when the period is over", function()
    h.load(h.spec({ api = doc('calls="1" renewal-period="10" counter-key="k"') }))
    assert.equal(200, h.run(h.req()).status)
    host.advance(9999)
    assert.equal(429, h.run(h.req()).status)
    assert.equal("1", h.header(h.run(h.req()).headers, "Retry-After"))
    host.advance(1)
    assert.equal(200, h.run(h.req()).status)
    assert.equal(429, h.run(h.req()).status)
  end)

  it("counts each key apart, and one key across scopes", function()
    h.load(h.spec({ api = h.doc { inbound = '<base/><rate-limit-by-key calls="1" renewal-period="60" '
        .. 'counter-key="@(context.Request.IpAddress)"/>' },
      global = h.doc { inbound = '<rate-limit-by-key calls="5" renewal-period="60" counter-key="10.0.0.9"/>' } }))
    assert.equal(200, h.run(h.req({ ip = "10.0.0.1" })).status)
    assert.equal(429, h.run(h.req({ ip = "10.0.0.1" })).status)
    -- 10.0.0.2 has its own counter at the API; the global key 10.0.0.9 counted 3 calls
    assert.equal(200, h.run(h.req({ ip = "10.0.0.2" })).status)
    -- the API's key 10.0.0.9 is the global's counter: 4 calls already
    assert.equal(429, h.run(h.req({ ip = "10.0.0.9" })).status)
  end)

  it("adds remaining and total headers, sets the variables, with custom names", function()
    h.load(h.spec({ api = doc('calls="2" renewal-period="30" counter-key="k" remaining-calls-header-name="X-Left" '
      .. 'total-calls-header-name="X-Total" remaining-calls-variable-name="left" '
      .. 'retry-after-header-name="X-Retry" retry-after-variable-name="retry"')
      :gsub("</inbound>", '<set-header name="X-Var" exists-action="override"><value>@(context.Variables["left"].ToString())</value></set-header></inbound>'),
      }))
    local r1, fw = h.run(h.req())
    assert.equal("1", h.header(r1.headers, "X-Left"))
    assert.equal("2", h.header(r1.headers, "X-Total"))
    assert.equal("1", h.header(fw[1].headers, "X-Var"))
    assert.equal("0", h.header(h.run(h.req()).headers, "X-Left"))
    local r3 = h.run(h.req())
    assert.equal(429, r3.status)
    assert.equal("30", h.header(r3.headers, "X-Retry"))
    assert.is_nil(h.header(r3.headers, "Retry-After"))
    assert.equal("0", h.header(r3.headers, "X-Left"))
    assert.equal("2", h.header(r3.headers, "X-Total"))
  end)

  it("goes through on-error with LastError and the retry variable", function()
    h.load(h.spec({ api = doc('calls="0" renewal-period="20" counter-key="k" retry-after-variable-name="retry"',
      '<set-header name="X-Reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>'
      .. '<set-header name="X-Retry-Var" exists-action="override"><value>@(context.Variables["retry"].ToString())</value></set-header>') }))
    local resp = h.run(h.req())
    assert.equal(429, resp.status)
    assert.equal("RateLimitExceeded", h.header(resp.headers, "X-Reason"))
    assert.equal("20", h.header(resp.headers, "X-Retry-Var"))
    assert.equal("20", h.header(resp.headers, "Retry-After"))
  end)

  it("adds increment-count per call, refusing a call that would pass the limit", function()
    h.load(h.spec({ api = doc('calls="5" renewal-period="60" counter-key="k" increment-count="2"') }))
    assert.equal(200, h.run(h.req()).status)
    assert.equal(200, h.run(h.req()).status)
    assert.equal(429, h.run(h.req()).status)
  end)

  it("defers an increment-condition expression to the end of the request", function()
    h.load(h.spec({ api = doc('calls="2" renewal-period="60" counter-key="k" '
      .. 'increment-condition="@(context.Response.StatusCode &lt; 400)" remaining-calls-header-name="X-Left"') }))
    local failing = { status = 500, reason = "Internal Server Error", headers = {}, body = "no" }
    for _ = 1, 5 do assert.equal(500, h.run(h.req(), failing).status) end
    local ok1 = h.run(h.req())
    assert.equal(200, ok1.status)
    assert.equal("1", h.header(ok1.headers, "X-Left"))
    assert.equal(200, h.run(h.req()).status)
    local resp, fw = h.run(h.req())
    assert.equal(429, resp.status)
    assert.equal(0, #fw)
  end)

  it("defers an increment-count expression, and never counts with a literal false condition", function()
    h.load(h.spec({ api = doc('calls="3" renewal-period="60" counter-key="k" increment-count="@(2)"') }))
    assert.equal(200, h.run(h.req()).status)
    assert.equal(200, h.run(h.req()).status) -- 2 < 3 when checked, 4 after
    assert.equal(429, h.run(h.req()).status)
    host.reset()
    h.load(h.spec({ api = doc('calls="1" renewal-period="60" counter-key="k" increment-condition="false" '
      .. 'increment-count="@(1)"') }))
    for _ = 1, 3 do assert.equal(200, h.run(h.req()).status) end
  end)

  it("evaluates calls, renewal-period and counter-key per request", function()
    h.load(h.spec({ api = doc('calls="@(int.Parse(context.Request.Headers.GetValueOrDefault(&quot;X-Calls&quot;, &quot;1&quot;)))" '
      .. 'renewal-period="@(30)" counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;X-Key&quot;, &quot;&quot;))"') }))
    local hd = { { "X-Key", "a" }, { "X-Calls", "2" } }
    assert.equal(200, h.run(h.req({ headers = hd })).status)
    assert.equal(200, h.run(h.req({ headers = hd })).status)
    assert.equal(429, h.run(h.req({ headers = hd })).status)
    assert.equal(200, h.run(h.req({ headers = { { "X-Key", "b" } } })).status)
  end)

  it("checks its attributes at load, with their positions", function()
    local errs = h.load_errors(h.spec({ api = '<policies>\n<inbound>\n  <rate-limit-by-key calls="x" renewal-period="301"\n    countr-key="k"/>\n</inbound>\n</policies>' }))
    assert.same({
      "api.xml:3:3: <rate-limit-by-key>: attribute 'counter-key' is required",
      "api.xml:3:22: <rate-limit-by-key calls>: 'x' is not an integer",
      "api.xml:3:32: <rate-limit-by-key renewal-period>: 301 is more than 300 seconds (APIM's maximum; quota-by-key counts longer periods)",
      "api.xml:4:5: <rate-limit-by-key>: unknown attribute 'countr-key' (did you mean 'counter-key'?)",
    }, errs)
    errs = h.load_errors(h.spec({ api = h.doc { outbound = '<rate-limit-by-key calls="1" renewal-period="1" counter-key="k"/>' } }))
    assert.matches("<rate%-limit%-by%-key> is not allowed in <outbound> %(allowed in inbound%)", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<rate-limit-by-key calls="1" renewal-period="0" counter-key="k" retry-after-header-name="@(&quot;x&quot;)"/>' } }))
    assert.matches("renewal%-period>: 0 is less than 1", errs[1])
    assert.matches("retry%-after%-header%-name>: policy expressions are not allowed here", errs[2])
  end)

  it("keeps no more keys than windows alive", function()
    h.load(h.spec({ api = doc('calls="1" renewal-period="1" counter-key="@(context.Request.IpAddress)"') }))
    for i = 1, 50 do h.run(h.req({ ip = "10.1.0." .. i })) end
    assert.equal(50, host.counter_keys())
    host.advance(1000)
    assert.equal(0, host.counter_keys())
  end)
end)
