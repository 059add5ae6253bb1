-- Backend pools and circuit breakers at run time, against real processes:
-- priority groups and smooth weighted round robin; a member killed trips its
-- breaker (BackendConnectionFailure) and traffic moves to the others, then to
-- the next priority group; restarted on the same port it gets traffic back
-- only once tripDuration is over. Breakers on single backends: status ranges,
-- error reasons, the interval, count and percentage, failureResponse,
-- acceptRetryAfter (a backend's Retry-After replaces tripDuration).
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

-- A circuit breaker block (YAML, indented for a backend at 2 spaces).
local function breaker(t)
  local cond = {}
  if t.count then cond[#cond + 1] = "count: " .. t.count end
  if t.percentage then cond[#cond + 1] = "percentage: " .. t.percentage end
  cond[#cond + 1] = "interval: " .. (t.interval or "10s")
  if t.ranges then cond[#cond + 1] = "statusCodeRanges: " .. t.ranges end
  if t.reasons then cond[#cond + 1] = "errorReasons: " .. t.reasons end
  local lines = {
    "    circuitBreaker:",
    "      rules:",
    "        - name: " .. (t.name or "breaker"),
    "          failureCondition: { " .. table.concat(cond, ", ") .. " }",
    "          tripDuration: " .. (t.trip or "30s"),
  }
  if t.acceptRetryAfter ~= nil then lines[#lines + 1] = "          acceptRetryAfter: " .. tostring(t.acceptRetryAfter) end
  if t.failureStatus then lines[#lines + 1] = "          failureResponse: { statusCode: " .. t.failureStatus .. " }" end
  return table.concat(lines, "\n") .. "\n"
end

local function backend(id, url, brk)
  return ("  %s:\n    url: \"%s\"\n"):format(id, url) .. (brk and breaker(brk) or "")
end

-- True when r is the gateway's own answer for a tripped breaker (the request
-- never reached a backend: no X-Backend-Name).
local function assert_tripped(r, status, what)
  h.assert_apim_error(r, status)
  assert.is_nil(r:header("X-Backend-Name"), (what or "") .. ": a backend answered a request its open breaker should have refused")
end

describe("12 pool: weighted round robin, failover, recovery", function()
  local TRIP = 2.0
  local A, B, C, gw
  local t_trip_a, t_trip_b

  setup(function()
    A = h.start_backend { name = "a" }
    B = h.start_backend { name = "b" }
    C = h.start_backend { name = "c" }
    local brk = { count = 2, interval = "10s", reasons = "[BackendConnectionFailure, Timeout]",
      ranges = "[{ min: 500, max: 599 }]", trip = "2s" }
    local yaml = h.gateway_yaml { workers = 2 } .. "backends:\n"
      .. backend("ma", A.url .. "/a", brk)
      .. backend("mb", B.url .. "/b", brk)
      .. backend("mc", C.url .. "/c", brk)
      .. [[
  trio:
    type: Pool
    pool:
      services:
        - { id: ma, priority: 0, weight: 3 }
        - { id: mb, priority: 0, weight: 1 }
        - { id: /backends/mc, priority: 1 }
apis:
  pool: { path: pool, backend: trio, subscriptionRequired: false }
]]
    gw = h.start_gateway(yaml)
  end)

  teardown(h.cleanup)

  -- n requests; returns the list of outcomes {name=X-Backend-Name or nil,
  -- status=, r=, t=} in order.
  local function send(n, tag)
    local out = {}
    for i = 1, n do
      local path = ("/pool/%s-%d"):format(tag, i)
      local r = h.fetch(gw.port, { path = path })
      out[i] = { name = r:header("X-Backend-Name"), status = r.status, r = r, t = h.now(), path = path }
    end
    return out
  end

  local function names(out)
    local t = {}
    for i, o in ipairs(out) do t[i] = (o.name or "-") .. ":" .. o.status end
    return table.concat(t, " ")
  end

  local function tally(out)
    local t = {}
    for _, o in ipairs(out) do
      local k = o.status == 200 and o.name or ("fail" .. o.status)
      t[k] = (t[k] or 0) + 1
    end
    return t
  end

  it("sends 3 of every 4 requests to the weight-3 member and none to the lower priority group", function()
    local out = send(40, "wrr")
    for i, o in ipairs(out) do
      assert.are.equal(200, o.status, "request " .. i .. ": " .. names(out))
      local e = h.parse_echo(o.r.body)
      assert.are.equal("/" .. o.name .. "/wrr-" .. i, e.target, "the member's url path + the rest")
    end
    assert.are.same({ a = 30, b = 10 }, tally(out), names(out))
    for blk = 0, 9 do
      local na = 0
      for i = blk * 4 + 1, blk * 4 + 4 do
        if out[i].name == "a" then na = na + 1 end
      end
      assert.are.equal(3, na, ("requests %d-%d: not 3 of 4 to the weight-3 member: %s"):format(blk * 4 + 1, blk * 4 + 4, names(out)))
    end
  end)

  it("moves the traffic to the other member of the group when one dies (breaker trips after count failures)", function()
    A.stop()
    assert.is_false(h.port_open(A.port), "member a still listens after being killed")
    local out = send(12, "kill-a")
    local fails = {}
    for i, o in ipairs(out) do
      if o.status ~= 200 then
        fails[#fails + 1] = i
        h.assert_apim_error(o.r, 500)
        local e = gw.log_entry(o.path)
        assert.is_truthy(e, "no access log entry for " .. o.path)
        assert.are.equal("BackendConnectionFailure", e.reason, "access log reason of " .. o.path)
        t_trip_a = o.t
      else
        assert.are.equal("b", o.name, "request " .. i .. " after a died: " .. names(out))
      end
    end
    assert.are.equal(2, #fails, "failures before the breaker of a tripped (count: 2): " .. names(out))
    assert.are.same({ 1, 2 }, fails, "a's failures should be its next two turns: " .. names(out))
  end)

  it("falls back to the next priority group when every member of the first is tripped", function()
    B.stop()
    local out = send(10, "kill-b")
    local nfail = 0
    for i, o in ipairs(out) do
      if o.status ~= 200 then
        nfail = nfail + 1
        h.assert_apim_error(o.r, 500)
        assert.are.equal("BackendConnectionFailure", (gw.log_entry(o.path) or {}).reason, "reason of " .. o.path)
        t_trip_b = o.t
      else
        assert.are.equal("c", o.name, "request " .. i .. ": " .. names(out))
        assert.are.equal("/c/kill-b-" .. i, h.parse_echo(o.r.body).target)
      end
    end
    assert.are.equal(2, nfail, "failures before the breaker of b tripped (count: 2): " .. names(out))
    assert.are.equal("c", out[#out].name, names(out))
  end)

  it("keeps restarted members out until their trip duration is over", function()
    assert.is_truthy(t_trip_a and t_trip_b, "the previous tests did not trip a and b")
    A = h.start_backend_at(A.port, { name = "a" })
    B = h.start_backend_at(B.port, { name = "b" })
    local out = send(6, "early")
    local elapsed = h.now() - t_trip_a
    assert.is_true(elapsed < TRIP - 0.3, ("test too slow: %.2f s since a tripped, the check needs < %.1f s"):format(elapsed, TRIP - 0.3))
    assert.are.same({ c = 6 }, tally(out), "members whose breaker is open got traffic: " .. names(out))
  end)

  it("brings the members back after tripDuration, weighted again, and the lower group idle", function()
    local wait = t_trip_b + TRIP + 0.15 - h.now()
    if wait > 0 then h.sleep(wait) end
    local out = send(8, "back")
    assert.are.same({ a = 6, b = 2 }, tally(out), "after recovery: " .. names(out))
    for i, o in ipairs(out) do
      assert.are.equal("/" .. o.name .. "/back-" .. i, h.parse_echo(o.r.body).target)
    end
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("12 circuit breaker on single backends", function()
  local be, gw, dead1, dead2

  setup(function()
    be = h.start_backend { name = "single" }
    dead1, dead2 = h.free_port(), h.free_port()
    local yaml = h.gateway_yaml { timeouts = { backend = "400ms" } } .. "backends:\n"
      .. backend("codes", be.url .. "/codes", { count = 3, ranges = "[{ min: 500, max: 599 }]", trip = "1s", failureStatus = 429 })
      .. backend("window", be.url .. "/window", { count = 2, interval = "1s", ranges = "[{ min: 500, max: 599 }]", trip = "30s" })
      .. backend("slow", be.url .. "/slow", { count = 2, reasons = "[Timeout]", trip = "30s" })
      .. backend("connonly", be.url .. "/connonly", { count = 1, reasons = "[BackendConnectionFailure]", trip = "30s" })
      .. backend("pct", be.url .. "/pct", { percentage = 50, ranges = "[{ min: 500, max: 599 }]", trip = "30s" })
      .. backend("pctlow", be.url .. "/pctlow", { percentage = 50, ranges = "[{ min: 500, max: 599 }]", trip = "30s" })
      .. backend("d1", "http://127.0.0.1:" .. dead1 .. "/d", { count = 1, reasons = "[BackendConnectionFailure]", trip = "30s" })
      .. backend("d2", "http://127.0.0.1:" .. dead2 .. "/d", { count = 1, reasons = "[BackendConnectionFailure]", trip = "30s" })
      .. [[
  deadpool:
    type: Pool
    pool:
      services:
        - { id: d1 }
        - { id: d2 }
apis:
  codes: { path: codes, backend: codes, subscriptionRequired: false }
  window: { path: window, backend: window, subscriptionRequired: false }
  slow: { path: slow, backend: slow, subscriptionRequired: false }
  connonly: { path: connonly, backend: connonly, subscriptionRequired: false }
  pct: { path: pct, backend: pct, subscriptionRequired: false }
  pctlow: { path: pctlow, backend: pctlow, subscriptionRequired: false }
  deadpool: { path: deadpool, backend: deadpool, subscriptionRequired: false }
  direct-d1: { path: direct-d1, backend: d1, subscriptionRequired: false }
]]
    gw = h.start_gateway(yaml)
  end)

  teardown(h.cleanup)

  local function get(path, status_from_backend, extra)
    local hs = {}
    if status_from_backend then hs[#hs + 1] = { "X-Test-Status", tostring(status_from_backend) } end
    for _, x in ipairs(extra or {}) do hs[#hs + 1] = x end
    return h.fetch(gw.port, { path = path, headers = hs })
  end

  local function requests_seen() return be.stats().requests end

  it("does not count statuses outside statusCodeRanges", function()
    for i = 1, 5 do
      local r = get("/codes/nf" .. i, 404)
      assert.are.equal(404, r.status)
      assert.are.equal("single", r:header("X-Backend-Name"))
    end
    local r = get("/codes/still-fine")
    assert.are.equal(200, r.status, "five 404s tripped a breaker counting 500-599")
  end)

  local t_trip
  it("trips at `count` failures and answers failureResponse.statusCode without calling the backend", function()
    for i = 1, 3 do
      local r = get("/codes/e" .. i, 500)
      assert.are.equal(500, r.status)
      assert.are.equal("single", r:header("X-Backend-Name"), "failure " .. i .. " did not reach the backend")
    end
    t_trip = h.now()
    local before = requests_seen()
    for i = 1, 3 do
      assert_tripped(get("/codes/open" .. i), 429, "open breaker, request " .. i)
    end
    assert.are.equal(before + 1, requests_seen(), "requests reached the backend while its breaker was open")
  end)

  it("closes again after tripDuration", function()
    local wait = t_trip + 1.0 + 0.15 - h.now()
    if wait > 0 then h.sleep(wait) end
    local r = get("/codes/closed")
    assert.are.equal(200, r.status, "breaker still open after tripDuration: " .. h.show(r.raw_head .. r.body))
    assert.are.equal("/codes/closed", h.parse_echo(r.body).target)
  end)

  it("counts only the failures within the interval", function()
    assert.are.equal(500, get("/window/f1", 500).status)
    h.sleep(1.2)
    assert.are.equal(500, get("/window/f2", 500).status)
    local r = get("/window/ok")
    assert.are.equal(200, r.status, "two failures 1.2 s apart tripped a breaker with interval 1s: " .. h.show(r.raw_head .. r.body))
    -- f2 and f3 are within 1 s of each other: count 2 reached
    assert.are.equal(500, get("/window/f3", 500).status)
    assert_tripped(get("/window/after"), 503, "two failures within 1 s, default failureResponse")
  end)

  it("counts Timeout when errorReasons lists it", function()
    for i = 1, 2 do
      local r = get("/slow/t" .. i, nil, { { "X-Test-Delay", "1500" } })
      h.assert_apim_error(r, 500)
      assert.are.equal("Timeout", (gw.log_entry("/slow/t" .. i) or {}).reason)
    end
    assert_tripped(get("/slow/after"), 503, "after two timeouts")
  end)

  it("does not count a reason errorReasons does not list (nor a 500 without statusCodeRanges)", function()
    local r = get("/connonly/t1", nil, { { "X-Test-Delay", "1500" } })
    h.assert_apim_error(r, 500)
    assert.are.equal("Timeout", (gw.log_entry("/connonly/t1") or {}).reason)
    assert.are.equal(500, get("/connonly/e1", 500).status)
    r = get("/connonly/ok")
    assert.are.equal(200, r.status, "a breaker counting only BackendConnectionFailure (count 1) tripped: " .. h.show(r.raw_head .. r.body))
  end)

  it("trips on a failure percentage and not below it", function()
    for i = 1, 20 do
      get("/pct/r" .. i, i % 2 == 1 and 500 or nil)
      get("/pctlow/r" .. i, i % 10 == 0 and 500 or nil)
    end
    local before = requests_seen()
    assert_tripped(get("/pct/after"), 503, "50% of 20 requests failed, percentage: 50")
    local r = get("/pctlow/after")
    assert.are.equal(200, r.status, "10% failing tripped a breaker at 50%: " .. h.show(r.raw_head .. r.body))
    assert.are.equal(before + 2, requests_seen())
  end)

  it("answers 503 with an APIM body when every member of a pool is tripped", function()
    for i = 1, 2 do
      local r = get("/deadpool/f" .. i)
      h.assert_apim_error(r, 500)
      assert.are.equal("BackendConnectionFailure", (gw.log_entry("/deadpool/f" .. i) or {}).reason)
    end
    for i = 1, 3 do
      assert_tripped(get("/deadpool/open" .. i), 503, "all members open, request " .. i)
    end
  end)

  it("shares a backend's breaker between the pool and an API using the backend directly", function()
    -- d1 tripped through the pool in the previous test
    local r = get("/direct-d1/x")
    assert_tripped(r, 503, "d1 tripped via the pool, then used directly")
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

-- A tiny backend (luasocket) that answers with the status of X-Status and a
-- Retry-After of X-Retry-After; pt-test-backend cannot send Retry-After.
local RETRY_BACKEND = [[
local socket = require "socket"
local srv = assert(socket.bind("127.0.0.1", 0))
local _, port = srv:getsockname()
io.stdout:write("listening " .. port .. "\n")
io.stdout:flush()
local n = 0
while true do
  local c = srv:accept()
  if c then
    c:settimeout(2)
    local status, ra = 200, nil
    local line = c:receive("*l")
    while line do
      line = c:receive("*l")
      if not line or line == "" then break end
      local k, v = line:match("^([^:]+):%s*(.-)%s*$")
      if k and k:lower() == "x-status" then status = tonumber(v) end
      if k and k:lower() == "x-retry-after" then ra = v end
    end
    n = n + 1
    local body = "n=" .. n .. "\n"
    c:send(("HTTP/1.1 %d X\r\n%sX-Backend-Name: retry\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
      :format(status, ra and ("Retry-After: " .. ra .. "\r\n") or "", #body, body))
    c:close()
  end
end
]]

describe("12 circuit breaker: acceptRetryAfter", function()
  local gw

  setup(function()
    local script = h.tmpdir() .. "/retry-backend.lua"
    h.write_file(script, RETRY_BACKEND)
    local p = h.spawn("retry-backend", { "lua5.4", script })
    local port = h.wait_for(function() return tonumber(p:stdout():match("listening (%d+)")) end, 10, 0.01)
    assert(port, "the Retry-After backend did not start: " .. p:stderr())
    local url = "http://127.0.0.1:" .. port
    local yaml = h.gateway_yaml {} .. "backends:\n"
      .. backend("yes", url .. "/yes", { count = 1, ranges = "[{ min: 503, max: 503 }]", trip = "30s", acceptRetryAfter = true, failureStatus = 429 })
      .. backend("no", url .. "/no", { count = 1, ranges = "[{ min: 503, max: 503 }]", trip = "3s", acceptRetryAfter = false, failureStatus = 429 })
      .. backend("date", url .. "/date", { count = 1, ranges = "[{ min: 503, max: 503 }]", trip = "30s", acceptRetryAfter = true, failureStatus = 429 })
      .. [[
apis:
  yes: { path: yes, backend: yes, subscriptionRequired: false }
  date: { path: date, backend: date, subscriptionRequired: false }
  no: { path: no, backend: no, subscriptionRequired: false }
]]
    gw = h.start_gateway(yaml)
  end)

  teardown(h.cleanup)

  it("uses the backend's Retry-After as the trip duration only when acceptRetryAfter is true", function()
    for _, api in ipairs { "yes", "no" } do
      local r = h.fetch(gw.port, { path = "/" .. api .. "/fail", headers = { { "X-Status", "503" }, { "X-Retry-After", "1" } } })
      assert.are.equal(503, r.status)
      assert.are.equal("retry", r:header("X-Backend-Name"))
      assert.are.equal("1", r:header("Retry-After"))
    end
    -- Retry-After as an HTTP-date two seconds ahead
    local when = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 2)
    local rd = h.fetch(gw.port, { path = "/date/fail", headers = { { "X-Status", "503" }, { "X-Retry-After", when } } })
    assert.are.equal(503, rd.status)
    assert.are.equal(when, rd:header("Retry-After"))
    local t_trip = h.now()
    assert_tripped(h.fetch(gw.port, { path = "/date/soon" }), 429, "within an HTTP-date Retry-After")
    assert_tripped(h.fetch(gw.port, { path = "/yes/soon" }), 429, "within Retry-After (acceptRetryAfter: true)")
    assert_tripped(h.fetch(gw.port, { path = "/no/soon" }), 429, "within tripDuration (acceptRetryAfter: false)")
    h.sleep(math.max(0, t_trip + 1.25 - h.now()))
    local r = h.fetch(gw.port, { path = "/yes/later" })
    assert.are.equal(200, r.status, "breaker still open 1.25 s after a Retry-After: 1 (tripDuration 30s was used?): "
      .. h.show(r.raw_head .. r.body))
    assert.are.equal("retry", r:header("X-Backend-Name"))
    assert.is_true(h.now() - t_trip < 2.5, "test too slow for the acceptRetryAfter: false check")
    assert_tripped(h.fetch(gw.port, { path = "/no/later" }), 429, "Retry-After: 1 honoured although acceptRetryAfter is false")
    h.sleep(math.max(0, t_trip + 2.3 - h.now()))
    r = h.fetch(gw.port, { path = "/date/later" })
    assert.are.equal(200, r.status, "breaker still open 2.3 s after Retry-After: <now + 2 s as an HTTP-date>: "
      .. h.show(r.raw_head .. r.body))
    assert.is_true(h.now() - t_trip < 2.9, "test too slow for the acceptRetryAfter: false check")
    assert_tripped(h.fetch(gw.port, { path = "/no/later2" }), 429, "closed before tripDuration (3s) with acceptRetryAfter: false")
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
