-- The native plan's failing ops (src/plan.c, lua/portico/plan.lua), end to
-- end: check-header and rate-limit-by-key (the bench rate-limit document) run
-- as a plan by one gateway and on the Lua path by another started with
-- PORTICO_NO_PLAN=1; both have 2 workers and their own backend. Each request
-- goes to both, and the client answers must be identical byte for byte
-- (status line, headers in order, body): the missing key, the wrong key, the
-- limit reached (429 with Retry-After). A burst over both workers lets exactly
-- `calls` requests reach each backend. rate-limit per subscription, and a
-- key reading context.Subscription.Id without one (the expression's 500), are
-- compared the same way. Then, inside one gateway, an API whose
-- document runs as a plan and one forced to Lua (an extra set-variable) share
-- the same counters: switching paths neither resets nor counts twice. The
-- access log says how each request ran ("policy": "plan" | "lua"), so neither
-- side is vacuous.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local CALLS = 5
local BULK_CALLS = 100

-- the bench document; `prefix` goes before the key (counters are per key value, whatever the scope)
local function bench_doc(calls, prefix)
  local text = h.read_file(dir .. "/../../bench/conf/portico-ratelimit.xml"):gsub("@CALLS@", tostring(calls))
  if prefix then text = text:gsub('counter%-key="@%(', 'counter-key="@("' .. prefix .. '" + ') end
  return text
end

-- keyed on a header of its own, with the client address and a literal, a custom Retry-After name
local SHARED = [[
<policies>
  <inbound>
    <base />
    <rate-limit-by-key calls="4" renewal-period="60" retry-after-header-name="X-Retry-In"
      counter-key='@("shared:" + context.Request.Headers.GetValueOrDefault("X-Who", "anon") + "@" + context.Request.IpAddress)' />
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>
]]

local function doc_with(inbound)
  return "<policies>\n  <inbound>\n    <base />\n    " .. inbound .. "\n  </inbound>\n"
    .. "  <backend><base /></backend>\n  <outbound><base /></outbound>\n  <on-error><base /></on-error>\n</policies>\n"
end

-- per subscription; and a key that reads the subscription's id (none: the expression's 500)
local PER_SUB = doc_with('<rate-limit calls="3" renewal-period="60" />')
local SUB_KEY = doc_with([[<rate-limit-by-key calls="3" renewal-period="60" counter-key='@("s:" + context.Subscription.Id)' />]])
local SUB_KEYS = { sa = "sa-key-31", sb = "sb-key-31" }

local function lua_doc(doc)
  return (doc:gsub("<base />", '<base />\n    <set-variable name="force-lua" value="1" />', 1))
end

describe("31 native plan: check-header and rate limits", function()
  local be_plan, be_lua, gw_plan, gw_lua

  setup(function()
    be_plan = h.start_backend { name = "plan" }
    be_lua = h.start_backend { name = "lua" }
    local tmp = h.tmpdir()
    h.write_file(tmp .. "/rl.xml", bench_doc(CALLS))
    h.write_file(tmp .. "/bulk.xml", bench_doc(BULK_CALLS, "bulk:"))
    h.write_file(tmp .. "/shared.xml", SHARED)
    h.write_file(tmp .. "/shared-lua.xml", lua_doc(SHARED))
    h.write_file(tmp .. "/per-sub.xml", PER_SUB)
    h.write_file(tmp .. "/sub-key.xml", SUB_KEY)
    local function yaml(be)
      local function api(id, file, required)
        return ("  %s:\n    path: %s\n    serviceUrl: \"%s/%s\"\n    subscriptionRequired: %s\n"
          .. "    policy: \"%s/%s\"\n"):format(id, id, be.url, id, required and "true" or "false", tmp, file)
      end
      return h.gateway_yaml { id = "edge-31", workers = 2 }
        .. ("subscriptions:\n  sa: { scope: api/persub, primaryKey: %s }\n  sb: { scope: api/persub, primaryKey: %s }\n")
          :format(SUB_KEYS.sa, SUB_KEYS.sb)
        .. "apis:\n" .. api("rl", "rl.xml")
        .. api("bulk", "bulk.xml") .. api("shared", "shared.xml") .. api("sharedlua", "shared-lua.xml")
        .. api("persub", "per-sub.xml", true) .. api("subkey", "sub-key.xml")
    end
    gw_plan = h.start_gateway(yaml(be_plan))
    gw_lua = h.start_gateway(yaml(be_lua), { env = { "PORTICO_NO_PLAN=1" } })
  end)

  teardown(h.cleanup)

  local function send(gw, path, headers)
    local r = h.fetch(gw.port, { method = "GET", path = path, headers = headers })
    r:assert_complete(path)
    return r
  end

  local function requests_of(be) return be.stats().requests end

  local function policy_of(gw, path)
    local entry = gw.log_entry(path)
    assert.is_truthy(entry, "no access log entry for " .. path)
    return entry.policy, entry
  end

  -- the same request to both gateways; the answers must be the same bytes
  local function both(path, headers, what)
    local rp, rl = send(gw_plan, path, headers), send(gw_lua, path, headers)
    assert.are.equal(rl.raw_head, rp.raw_head, what .. ": the heads differ")
    assert.are.equal(rl.body, rp.body, what .. ": the bodies differ")
    return rp, rl
  end

  it("answers a missing and a wrong key as the Lua path does, without reaching the backend", function()
    local bp, bl = requests_of(be_plan), requests_of(be_lua)
    local r = both("/rl/missing", {}, "no X-Api-Key")
    h.assert_apim_error(r, 401, "Unauthorized")
    r = both("/rl/wrong", { { "X-Api-Key", "wrong-key" } }, "X-Api-Key: wrong-key")
    h.assert_apim_error(r, 401, "Unauthorized")
    r = both("/rl/case", { { "x-api-key", "BENCH-KEY" } }, "X-Api-Key: BENCH-KEY (ignore-case false)")
    h.assert_apim_error(r, 401, "Unauthorized")
    r = both("/rl/two", { { "X-Api-Key", "bench-key" }, { "X-Api-Key", "other" } }, "a second, wrong line")
    h.assert_apim_error(r, 401, "Unauthorized")
    -- only the stats requests themselves
    assert.are.equal(bp + 1, requests_of(be_plan))
    assert.are.equal(bl + 1, requests_of(be_lua))
    for _, t in ipairs({ { "/rl/missing", "HeaderNotFound" }, { "/rl/wrong", "HeaderValueNotAllowed" },
      { "/rl/two", "HeaderValueNotAllowed" } }) do
      local pp, ep = policy_of(gw_plan, t[1])
      local pl, el = policy_of(gw_lua, t[1])
      assert.are.equal("plan", pp, t[1])
      assert.are.equal("lua", pl, t[1])
      assert.are.equal(t[2], ep.reason, t[1])
      assert.are.equal(el.reason, ep.reason, t[1])
      assert.are.equal(el.message, ep.message, t[1])
    end
  end)

  it("lets `calls` requests through, then answers 429 with Retry-After exactly as the Lua path", function()
    local key = { { "X-Api-Key", "bench-key" } }
    local bp, bl = requests_of(be_plan), requests_of(be_lua)
    for i = 1, CALLS do
      local rp, rl = send(gw_plan, "/rl/ok" .. i, key), send(gw_lua, "/rl/ok" .. i, key)
      assert.are.equal(200, rp.status, "plan request " .. i)
      assert.are.equal(200, rl.status, "lua request " .. i)
    end
    for i = 1, 3 do
      local r = both("/rl/over" .. i, key, "request " .. (CALLS + i))
      h.assert_apim_error(r, 429)
      local secs = tonumber(r:header("Retry-After"))
      assert.is_true(secs ~= nil and secs >= 1 and secs <= 60, "Retry-After: " .. tostring(r:header("Retry-After")))
      assert.are.equal(('{"statusCode": 429, "message": "Rate limit is exceeded. Try again in %d seconds."}'):format(secs),
        r.body)
    end
    assert.are.equal(bp + CALLS + 1, requests_of(be_plan), "requests the plan's backend received")
    assert.are.equal(bl + CALLS + 1, requests_of(be_lua), "requests the Lua path's backend received")
    local pp, ep = policy_of(gw_plan, "/rl/over1")
    assert.are.equal("plan", pp)
    assert.are.equal("RateLimitExceeded", ep.reason)
    assert.are.equal("lua", (policy_of(gw_lua, "/rl/over1")))
    assert.are.equal("plan", (policy_of(gw_plan, "/rl/ok1")))
  end)

  it("lets exactly `calls` of a burst over both workers reach the backend, on either path", function()
    local TOTAL = 1000
    local raw = "GET /bulk/run HTTP/1.1\r\nHost: localhost\r\nX-Api-Key: bench-key\r\n\r\n"
    for _, side in ipairs({ { gw_plan, be_plan, "plan" }, { gw_lua, be_lua, "lua" } }) do
      local gw, be, name = side[1], side[2], side[3]
      local before = requests_of(be)
      local counts = h.blast(gw.port, TOTAL, { conns = 16, batch = 16, request = raw })
      assert.are.equal(BULK_CALLS, counts[200] or 0, name .. ": successes")
      assert.are.equal(TOTAL - BULK_CALLS, counts[429] or 0, name .. ": 429 answers")
      assert.are.equal(before + BULK_CALLS + 1, requests_of(be), name .. ": requests the backend received")
      local workers, policies = {}, {}
      h.wait_for(function() return #gw.access_log_lines() >= TOTAL end, 10, 0.05)
      for _, e in ipairs(gw.access_log()) do
        if e.path == "/bulk/run" then
          local w = tostring(e.requestId or ""):match("^(%d+)%-")
          if w then workers[w] = true end
          policies[tostring(e.policy)] = (policies[tostring(e.policy)] or 0) + 1
        end
      end
      assert.is_true(workers["0"] and workers["1"], name .. ": both workers served requests")
      assert.are.same({ [name] = TOTAL }, policies, name .. ": how the requests ran")
    end
  end)

  it("shares the Lua path's counters: a plan API and a Lua API on the same key neither reset nor count twice", function()
    local who = { { "X-Who", "zoe" } }
    local before = requests_of(be_plan)
    assert.are.equal(200, send(gw_plan, "/shared/a1", who).status)
    assert.are.equal(200, send(gw_plan, "/sharedlua/b1", who).status)
    assert.are.equal(200, send(gw_plan, "/shared/a2", who).status)
    assert.are.equal(200, send(gw_plan, "/sharedlua/b2", who).status)
    local rp = send(gw_plan, "/shared/a3", who)
    local rl = send(gw_plan, "/sharedlua/b3", who)
    h.assert_apim_error(rp, 429)
    h.assert_apim_error(rl, 429)
    assert.is_truthy(rp:header("X-Retry-In"))
    assert.is_nil(rp:header("Retry-After"))
    assert.are.equal(rl.raw_head, rp.raw_head)
    assert.are.equal(rl.body, rp.body)
    -- another key has its own counter
    assert.are.equal(200, send(gw_plan, "/shared/a4", { { "X-Who", "yan" } }).status)
    assert.are.equal(before + 5 + 1, requests_of(be_plan))
    assert.are.equal("plan", (policy_of(gw_plan, "/shared/a3")))
    assert.are.equal("lua", (policy_of(gw_plan, "/sharedlua/b3")))
  end)

  it("limits per subscription (rate-limit) as the Lua path does", function()
    local function key(who) return { { "Ocp-Apim-Subscription-Key", SUB_KEYS[who] } } end
    local function ok_both(path, who)
      assert.are.equal(200, send(gw_plan, path, key(who)).status, "plan " .. path)
      assert.are.equal(200, send(gw_lua, path, key(who)).status, "lua " .. path)
    end
    for i = 1, 3 do ok_both("/persub/a" .. i, "sa") end
    local r = both("/persub/a4", key("sa"), "sa request 4")
    h.assert_apim_error(r, 429)
    assert.is_truthy(r:header("Retry-After"))
    ok_both("/persub/b1", "sb")
    assert.are.equal("plan", (policy_of(gw_plan, "/persub/a4")))
    assert.are.equal("lua", (policy_of(gw_lua, "/persub/a4")))
  end)

  it("fails a key reading context.Subscription.Id without a subscription as the Lua path does", function()
    local r = both("/subkey/none", {}, "no subscription")
    h.assert_apim_error(r, 500, "Internal server error")
    local pp, ep = policy_of(gw_plan, "/subkey/none")
    local pl, el = policy_of(gw_lua, "/subkey/none")
    assert.are.equal("plan", pp)
    assert.are.equal("lua", pl)
    assert.are.equal("ExpressionValueEvaluationFailure", ep.reason)
    assert.are.equal(el.reason, ep.reason)
    assert.are.equal(el.message, ep.message)
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw_plan.stop()
    gw_lua.stop()
  end)
end)
