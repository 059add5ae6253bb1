-- Traffic policies (issue 6), end to end: APIM policy documents
-- (fixtures/traffic/) run by the real gateway with `workers: 2` in front of a
-- real loopback backend that echoes the exact request bytes it received.
--
--   rate-limit-by-key   10,000 requests from 16 pipelining connections, spread
--                       over both workers, land EXACTLY `calls` successes in
--                       one window (each remaining-calls value exactly once),
--                       the rest 429 with Retry-After and RateLimitExceeded in
--                       the access log; keys are independent; a new window
--                       (after Retry-After) allows `calls` again; the count
--                       carries on across a hot reload (file edit, SIGHUP)
--   rate-limit          per subscription, with <api> and <operation> limits
--   quota-by-key/quota  403 QuotaExceeded (calls, bandwidth, per subscription)
--   limit-concurrency   slots held by slow backend calls: the extra request
--                       gets 429 at once; slots come back
--   check-header        missing / wrong values -> the configured status and message
--   ip-filter           allow / forbid by address and range, IPv4 and IPv6
--   authentication-basic, find-and-replace, json-to-xml / xml-to-json
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local FIX = h.root .. "/tests/integration/fixtures/traffic"
local ADMIN_TOKEN = "pt-admin-20-traffic-Zr8q"
local KEYS = { carol = "carol-key-20", dave = "dave-key-20", erin = "erin-key-20",
  frank = "frank-key-20", gina = "gina-key-20", hank = "hank-key-20" }

local function fix(name) return '"' .. FIX .. "/" .. name .. '"' end

-- "GET path HTTP/1.1" with Host and the given headers (list of {n, v}).
local function raw_get(path, headers)
  return h.request { path = path, headers = headers or {} }
end

-- Access log lines (raw) of requests whose path is exactly `path`.
local function log_lines_for(gw, path)
  local out, needle = {}, '"path":"' .. path .. '"'
  for _, line in ipairs(gw.access_log_lines()) do
    if line:find(needle, 1, true) then out[#out + 1] = line end
  end
  return out
end

local function field(line, name)
  local v = line:match('"' .. name .. '":"([^"]*)"')
  if v then return v end
  return line:match('"' .. name .. '":([%w%.%-]+)')
end

describe("20 traffic policies", function()
  local be, gw, admin_port, reload_path, ipv6

  setup(function()
    be = h.start_backend { name = "main" }
    admin_port = h.free_port()
    ipv6 = h.ipv6_loopback()
    reload_path = h.tmpdir() .. "/rate-limit-reload.xml"
    h.write_file(reload_path, h.read_file(FIX .. "/rate-limit-reload.xml"))
    local function api(id, policy, extra)
      local lines = {
        "  " .. id .. ":",
        "    path: " .. id,
        '    serviceUrl: "' .. be.url .. "/" .. id .. '"',
        "    subscriptionRequired: false",
      }
      if policy then lines[#lines + 1] = "    policy: " .. policy end
      if extra then lines[#lines + 1] = extra end
      return table.concat(lines, "\n")
    end
    local yaml = h.gateway_yaml { id = "edge-20", workers = 2, timeouts = { backend = "30s" } }
    if ipv6 then
      yaml = yaml:gsub('listen: %["127%.0%.0%.1:{{PORT}}"%]', 'listen: ["127.0.0.1:{{PORT}}", "[::1]:{{PORT}}"]')
    end
    yaml = yaml
      .. ('  admin: { listen: "127.0.0.1:%d", token: "%s" }\n'):format(admin_port, ADMIN_TOKEN)
      .. ([[
products:
  gold:
    displayName: Gold
    apis: [rlsub, rlother]
    subscriptionRequired: true
    policy: %s
subscriptions:
  carol: { scope: product/gold, primaryKey: %s }
  dave: { scope: product/gold, primaryKey: %s }
  erin: { scope: product/gold, primaryKey: %s }
  frank: { scope: product/gold, primaryKey: %s }
  gina: { scope: api/qsub, primaryKey: %s }
  hank: { scope: api/qsub, primaryKey: %s }
apis:
  rlsub:
    displayName: Rate Sub API
    path: rlsub
    serviceUrl: "%s/rlsub"
    subscriptionRequired: true
    operations:
      op-a: { method: GET, urlTemplate: /a }
      op-b: { method: GET, urlTemplate: /b }
  rlother:
    path: rlother
    serviceUrl: "%s/rlother"
    subscriptionRequired: true
  qsub:
    path: qsub
    serviceUrl: "%s/qsub"
    subscriptionRequired: true
    policy: %s
]]):format(fix("rate-limit-product.xml"), KEYS.carol, KEYS.dave, KEYS.erin, KEYS.frank,
        KEYS.gina, KEYS.hank, be.url, be.url, be.url, fix("quota-subscription.xml"))
      .. table.concat({
        api("rlbulk", fix("rate-limit-bulk.xml")),
        api("rlwin", fix("rate-limit-window.xml")),
        api("rlreload", '"' .. reload_path .. '"'),
        api("qcalls", fix("quota-calls.xml")),
        api("qbw", fix("quota-bandwidth.xml")),
        api("lc", fix("limit-concurrency.xml")),
        api("chk", fix("check-header.xml")),
        api("ipblock", fix("ip-forbid-range.xml")),
        api("ipnotallowed", fix("ip-allow-other.xml")),
        api("ipallow", fix("ip-allow-loopback.xml")),
        api("ipothers", fix("ip-forbid-others.xml")),
        api("ip6", fix("ip-forbid-v6.xml")),
        api("basic", fix("auth-basic.xml")),
        api("far", fix("find-replace.xml")),
        api("j2x", fix("json-xml-roundtrip.xml")),
        api("x2j", fix("xml-json-roundtrip.xml")),
      }, "\n") .. "\n"
    gw = h.start_gateway(yaml)
  end)

  teardown(h.cleanup)

  local function requests_of(b) return b.stats().requests end

  -- One request on a fresh connection; asserts the status (when given).
  local function call(t, status)
    local r = h.fetch(gw.port, t)
    if status then
      assert.are.equal(status, r.status, (t.method or "GET") .. " " .. t.path .. ": "
        .. h.show(r.raw_head .. (r.body or "")))
    end
    return r
  end

  -- Access log lines of requests to `path` answered with `status`.
  local function status_lines(path, status)
    local out = {}
    for _, line in ipairs(log_lines_for(gw, path)) do
      if tonumber(field(line, "status")) == status then out[#out + 1] = line end
    end
    return out
  end

  -- The reason in the access log of the request to `path` answered with
  -- `status` after `seen` such lines (default: the last one), waiting for its
  -- line to be written.
  local function log_reason(path, status, seen)
    local lines
    h.wait_for(function()
      lines = status_lines(path, status)
      return #lines > (seen or 0)
    end, 5, 0.02)
    local found = lines[seen and seen + 1 or #lines]
    assert.is_truthy(found, ("no access log line for %s with status %d"):format(path, status))
    return field(found, "reason")
  end

  local function echo_of(r)
    assert.are.equal(200, r.status, h.show(r.raw_head .. (r.body or "")))
    return h.parse_echo(r.body)
  end

  -------------------------------------------------------------------------
  -- rate-limit-by-key
  -------------------------------------------------------------------------

  describe("rate-limit-by-key", function()
    it("lets exactly `calls` of 10,000 requests through in one window across both workers; the rest get 429 with Retry-After", function()
      local CALLS, TOTAL, PERIOD = 100, 10000, 60
      local path = "/rlbulk/run"
      local before = requests_of(be)
      local remaining, retry_bad, retry_seen, no_total = {}, {}, 0, 0
      local counts, took = h.blast(gw.port, TOTAL, {
        conns = 16, batch = 32,
        request = raw_get(path, { { "X-Key", "bulk" } }),
        on_response = function(status, head)
          if status == 200 then
            local rem = tonumber(h.head_value(head, "X-Remaining-Calls"))
            remaining[#remaining + 1] = rem or -1
            if h.head_value(head, "X-Total-Calls") ~= tostring(CALLS) then no_total = no_total + 1 end
          elseif status == 429 then
            local ra = h.head_value(head, "Retry-After")
            local n = tonumber(ra)
            if not (n and math.type(n) == "integer" and n >= 1 and n <= PERIOD) then
              retry_bad[#retry_bad + 1] = tostring(ra)
            else
              retry_seen = retry_seen + 1
            end
          end
        end,
      })
      -- all of it within one window (the window starts at the key's first call)
      assert.is_true(took < PERIOD, ("10,000 requests took %.1f s, more than the %d s window"):format(took, PERIOD))
      local others = {}
      for st, n in pairs(counts) do
        if st ~= 200 and st ~= 429 then others[#others + 1] = st .. "=" .. n end
      end
      assert.are.same({}, others, "statuses other than 200 and 429")
      assert.are.equal(CALLS, counts[200] or 0, ("successes out of %d requests in one window (%.2f s)"):format(TOTAL, took))
      assert.are.equal(TOTAL - CALLS, counts[429] or 0, "429 answers")
      assert.are.same({}, retry_bad, "429 answers without a Retry-After of 1.." .. PERIOD .. " seconds")
      assert.are.equal(TOTAL - CALLS, retry_seen)
      -- every success saw its own count: remaining-calls takes each value of 0..calls-1 exactly once
      table.sort(remaining)
      local want = {}
      for i = 0, CALLS - 1 do want[#want + 1] = i end
      assert.are.same(want, remaining, "X-Remaining-Calls values of the successes")
      assert.are.equal(0, no_total, "successes without X-Total-Calls: " .. CALLS)
      -- only the successes reached the backend (+1: the stats request)
      assert.are.equal(before + CALLS + 1, requests_of(be), "requests the backend received")
      -- the access log: one line per request, the 429s with reason RateLimitExceeded,
      -- requests served by both workers (requestId "<worker>-<n>")
      local lines
      h.wait_for(function()
        lines = log_lines_for(gw, path)
        return #lines >= TOTAL
      end, 10, 0.05)
      assert.are.equal(TOTAL, #lines, "access log lines for " .. path)
      local by = { ok = 0, limited = 0, other = {} }
      local workers = {}
      for _, line in ipairs(lines) do
        local st, reason = tonumber(field(line, "status")), field(line, "reason")
        if st == 200 then by.ok = by.ok + 1
        elseif st == 429 and reason == "RateLimitExceeded" then by.limited = by.limited + 1
        elseif #by.other < 5 then by.other[#by.other + 1] = line end
        local w = (field(line, "requestId") or ""):match("^(%d+)%-")
        if w then workers[w] = (workers[w] or 0) + 1 end
      end
      assert.are.same({}, by.other, "access log lines neither 200 nor 429 RateLimitExceeded")
      assert.are.equal(CALLS, by.ok)
      assert.are.equal(TOTAL - CALLS, by.limited)
      assert.is_truthy(workers["0"] and workers["1"], ("requests per worker: 0=%s 1=%s (both must have served)")
        :format(tostring(workers["0"]), tostring(workers["1"])))
    end)

    it("answers 429 with APIM's JSON body and counts each key separately", function()
      local r = call({ path = "/rlbulk/body", headers = { { "X-Key", "bulk" } } }, 429)
      local v = h.assert_apim_error(r, 429)
      assert.is_truthy(v.message:match("^Rate limit is exceeded%. Try again in %d+ seconds%.$"), v.message)
      -- another key has its own budget in the same window
      local counts = h.blast(gw.port, 150, { conns = 6, batch = 10,
        request = raw_get("/rlbulk/other", { { "X-Key", "bulk-other" } }) })
      assert.are.equal(100, counts[200] or 0, "successes for a second key")
      assert.are.equal(50, counts[429] or 0, "429 answers for a second key")
    end)

    it("allows `calls` again in a new window, after the Retry-After the 429s gave", function()
      -- a client told "Retry-After: n" at time t may call again at t + n
      local retry_at = 0
      local function note_retry(head)
        local n = tonumber(h.head_value(head, "Retry-After"))
        assert.is_truthy(n and n >= 1 and n <= 2, "Retry-After in a 2 s window: " .. h.show(head))
        retry_at = math.max(retry_at, h.now() + n)
      end
      local function window(key)
        return h.blast(gw.port, 60, { conns = 6, batch = 10,
          request = raw_get("/rlwin/w", { { "X-Key", key } }),
          on_response = function(status, head) if status == 429 then note_retry(head) end end })
      end
      local c1 = window("win")
      assert.are.equal(3, c1[200] or 0, "successes in the first window")
      assert.are.equal(57, c1[429] or 0, "429 answers in the first window")
      -- still the same window: nothing more gets through
      local r = call({ path = "/rlwin/w", headers = { { "X-Key", "win" } } }, 429)
      note_retry(r.raw_head)
      -- a client that waits as told gets the next window's budget
      local wait = retry_at - h.now()
      if wait > 0 then h.sleep(wait) end
      local c2 = window("win")
      assert.are.equal(3, c2[200] or 0, "successes in the next window")
      assert.are.equal(57, c2[429] or 0, "429 answers in the next window")
    end)

    -- /status from the admin listener
    local function status()
      local _, v = h.admin_request(admin_port, "GET", "/status", "Bearer " .. ADMIN_TOKEN)
      assert.is_truthy(v, "/status did not answer JSON")
      return v
    end

    -- generation `gen` is the current one and its reload went well
    local function reloaded_to(st, gen)
      return st.generation == gen and type(st.lastReload) == "table" and st.lastReload.ok == true
    end

    -- n requests with key `key`, each on a fresh connection; returns the count per status
    local function fresh(path, key, n)
      local counts = {}
      for _ = 1, n do
        local r = call { path = path, headers = { { "X-Key", key } } }
        counts[r.status] = (counts[r.status] or 0) + 1
      end
      return counts
    end

    it("keeps counting across a hot reload (policy file edited to an equivalent one, then SIGHUP)", function()
      local path = "/rlreload/r"
      local g0 = status().generation
      local c = fresh(path, "reload-1", 4)
      assert.are.equal(4, c[200] or 0)
      -- the same rate limit; only the outbound marker changes (1 -> 2)
      local text = h.read_file(reload_path)
      local edited = text:gsub("<value>1</value>", "<value>2</value>")
      assert.are_not.equal(text, edited)
      h.write_file(reload_path, edited)
      local st
      h.wait_for(function() st = status(); return reloaded_to(st, g0 + 1) end, 5, 0.05)
      assert.is_true(reloaded_to(st, g0 + 1), ("no generation %d after the edit: generation %s, lastReload ok=%s")
        :format(g0 + 1, tostring(st.generation), tostring((st.lastReload or {}).ok)))
      -- fresh connections (both workers) run the edited document (probe keys do not
      -- touch the counted one)
      h.wait_for(function()
        local r = call { path = path, headers = { { "X-Key", "probe-0" } } }
        return r:header("X-Policy-Rev") == "2"
      end, 3, 0.05)
      for i = 1, 12 do
        local r = call({ path = path, headers = { { "X-Key", "probe-" .. i } } }, 200)
        assert.are.equal("2", r:header("X-Policy-Rev"), "a fresh connection ran the old document")
      end
      -- the count went on: 4 used before the reload, 6 left
      c = fresh(path, "reload-1", 10)
      assert.are.equal(6, c[200] or 0, "successes after the reload (4 of 10 were used before it)")
      assert.are.equal(4, c[429] or 0, "429 answers after the reload")

      -- SIGHUP reloads the unchanged configuration: the counts go on too
      c = fresh(path, "reload-2", 7)
      assert.are.equal(7, c[200] or 0)
      local g1 = status().generation
      gw.signal("HUP")
      h.wait_for(function() st = status(); return reloaded_to(st, g1 + 1) end, 5, 0.05)
      assert.is_true(reloaded_to(st, g1 + 1), ("no generation %d after SIGHUP: generation %s")
        :format(g1 + 1, tostring(st.generation)))
      assert.are.equal("SIGHUP", (st.lastReload or {}).trigger, "lastReload.trigger after SIGHUP")
      c = fresh(path, "reload-2", 6)
      assert.are.equal(3, c[200] or 0, "successes after SIGHUP (7 of 10 were used before it)")
      assert.are.equal(3, c[429] or 0, "429 answers after SIGHUP")
      c = fresh(path, "reload-1", 2)
      assert.are.equal(2, c[429] or 0, "the first key's exhausted window survived the second reload")
    end)
  end)

  -------------------------------------------------------------------------
  -- rate-limit (per subscription)
  -------------------------------------------------------------------------

  describe("rate-limit per subscription", function()
    local function sub_get(who, path)
      return call { path = path, headers = { { "Ocp-Apim-Subscription-Key", KEYS[who] } } }
    end
    local function statuses(who, path, n)
      local t = {}
      for i = 1, n do
        local seen = #status_lines(path, 429)
        local r = sub_get(who, path)
        t[i] = r.status
        if r.status == 429 then
          assert.is_truthy(tonumber(r:header("Retry-After")), "429 without Retry-After: " .. h.show(r.raw_head))
          assert.are.equal("RateLimitExceeded", log_reason(path, 429, seen))
        end
      end
      return t
    end

    it("limits an operation (<operation calls=2>) per subscription", function()
      assert.are.same({ 200, 200, 429 }, statuses("dave", "/rlsub/a", 3))
      -- the same subscription's other operation is not limited by op-a's count
      assert.are.same({ 200 }, statuses("dave", "/rlsub/b", 1))
      -- another subscription has its own counters
      assert.are.same({ 200, 200, 429 }, statuses("frank", "/rlsub/a", 3))
    end)

    it("limits an API (<api calls=4>) across its operations", function()
      assert.are.same({ 200, 200, 200, 200, 429 }, statuses("carol", "/rlsub/b", 5))
      -- op-a's own limit is not reached, the API's is
      assert.are.same({ 429 }, statuses("carol", "/rlsub/a", 1))
    end)

    it("limits the whole scope (calls=5) across APIs of the product", function()
      assert.are.same({ 200, 200, 200, 200, 200, 429 }, statuses("erin", "/rlother/x", 6))
      assert.are.same({ 429 }, statuses("erin", "/rlsub/b", 1))
    end)
  end)

  -------------------------------------------------------------------------
  -- quotas
  -------------------------------------------------------------------------

  describe("quota", function()
    it("quota-by-key: calls over the quota get 403 QuotaExceeded; other keys are not affected", function()
      local before = requests_of(be)
      for _ = 1, 3 do call({ path = "/qcalls/q", headers = { { "X-Key", "q1" } } }, 200) end
      local r = call({ path = "/qcalls/q", headers = { { "X-Key", "q1" } } }, 403)
      local v = h.assert_apim_error(r, 403)
      assert.is_truthy(v.message:find("quota", 1, true), "message: " .. v.message)
      assert.are.equal("QuotaExceeded", log_reason("/qcalls/q", 403))
      assert.are.equal(before + 3 + 1, requests_of(be), "the refused call reached the backend")
      call({ path = "/qcalls/q", headers = { { "X-Key", "q2" } } }, 200)
    end)

    it("quota-by-key: exactly `calls` of many concurrent requests get through", function()
      local counts = h.blast(gw.port, 400, { conns = 16, batch = 5,
        request = raw_get("/qcalls/many", { { "X-Key", "q-many" } }) })
      assert.are.equal(3, counts[200] or 0, "successes")
      assert.are.equal(397, counts[403] or 0, "403 answers")
    end)

    it("quota-by-key: bandwidth (KB of request and response bodies) over the quota gets 403", function()
      local body = ("b"):rep(1500)
      -- 1500 bytes up and the echo (> 1500 bytes) down: over 2 KB after this call
      call({ method = "POST", path = "/qbw/u", headers = { { "X-Key", "bw1" } }, body = body }, 200)
      local r = call({ method = "POST", path = "/qbw/u", headers = { { "X-Key", "bw1" } }, body = "x" }, 403)
      local v = h.assert_apim_error(r, 403)
      assert.is_truthy(v.message:find("bandwidth", 1, true), "message: " .. v.message)
      assert.are.equal("QuotaExceeded", log_reason("/qbw/u", 403))
      -- a small exchange under another key passes
      call({ path = "/qbw/u", headers = { { "X-Key", "bw2" } } }, 200)
    end)

    it("quota per subscription: 403 QuotaExceeded after `calls`; another subscription is not affected", function()
      local function get(who) return call { path = "/qsub/x", headers = { { "Ocp-Apim-Subscription-Key", KEYS[who] } } } end
      assert.are.equal(200, get("gina").status)
      assert.are.equal(200, get("gina").status)
      h.assert_apim_error(get("gina"), 403)
      assert.are.equal("QuotaExceeded", log_reason("/qsub/x", 403))
      assert.are.equal(200, get("hank").status)
    end)
  end)

  -------------------------------------------------------------------------
  -- limit-concurrency
  -------------------------------------------------------------------------

  it("limit-concurrency: with both slots held by slow calls the extra request gets 429 at once; slots come back", function()
    local before = requests_of(be)
    local holders = {}
    for i = 1, 2 do
      local c = h.must_connect(gw.port, 10)
      assert.is_true(c:send(h.request { path = "/lc/hold" .. i, headers = { { "X-Test-Delay", "1500" } } }))
      holders[i] = c
    end
    -- both reach the backend and hold their slots (the backend counts open connections)
    h.sleep(0.3)
    local t0 = h.now()
    for i = 1, 4 do
      local r = call { path = "/lc/extra" .. i }
      assert.are.equal(429, r.status, "extra request " .. i .. " while both slots are held: " .. h.show(r.raw_head .. (r.body or "")))
    end
    local took = h.now() - t0
    assert.is_true(took < 1.0, ("the 429s took %.2f s: they must not wait for a slot"):format(took))
    for i, c in ipairs(holders) do
      local r = c:read_response { timeout = 10 }
      assert.is_truthy(r, "holder " .. i .. " got no answer")
      assert.are.equal(200, r.status, "holder " .. i)
      c:close()
    end
    -- the slots were given back
    for i = 1, 3 do call({ path = "/lc/after" .. i }, 200) end
    -- the refused requests never reached the backend: 2 holders + 3 after + 1 stats
    assert.are.equal(before + 2 + 3 + 1, requests_of(be))
  end)

  -------------------------------------------------------------------------
  -- check-header
  -------------------------------------------------------------------------

  it("check-header: a missing header or a value not listed fails with the configured status and message", function()
    local before = requests_of(be)
    local good = { { "X-Api-Token", "alpha-token" }, { "X-Mode", "Strict" }, { "X-Present", "anything" } }
    local function with(over)
      local t = {}
      for _, hd in ipairs(good) do
        if over[hd[1]] == nil then t[#t + 1] = hd
        elseif over[hd[1]] ~= false then t[#t + 1] = { hd[1], over[hd[1]] } end
      end
      return t
    end
    h.assert_apim_error(call { path = "/chk/c", headers = with { ["X-Api-Token"] = false } }, 401, "Missing or invalid token")
    h.assert_apim_error(call { path = "/chk/c", headers = with { ["X-Api-Token"] = "gamma" } }, 401, "Missing or invalid token")
    h.assert_apim_error(call { path = "/chk/c", headers = with { ["X-Mode"] = false } }, 412, "Mode must be Strict")
    -- ignore-case="false": the case must match
    h.assert_apim_error(call { path = "/chk/c", headers = with { ["X-Mode"] = "strict" } }, 412, "Mode must be Strict")
    -- no <value>: only presence is checked
    h.assert_apim_error(call { path = "/chk/c", headers = with { ["X-Present"] = false } }, 400, "X-Present is required")
    assert.are.equal(before + 1, requests_of(be), "a failed check reached the backend")
    -- ignore-case="true": any case of a listed value passes
    for _, v in ipairs { "alpha-token", "ALPHA-TOKEN", "beta-token", "Beta-Token" } do
      local e = echo_of(call { path = "/chk/c", headers = with { ["X-Api-Token"] = v } })
      assert.are.same({ v }, e:header_all("X-Api-Token"))
    end
  end)

  -------------------------------------------------------------------------
  -- ip-filter
  -------------------------------------------------------------------------

  describe("ip-filter", function()
    it("forbid with an address-range holding the client (127.0.0.1): 403 CallerIpBlocked", function()
      local before = requests_of(be)
      h.assert_apim_error(call { path = "/ipblock/x" }, 403)
      assert.are.equal("CallerIpBlocked", log_reason("/ipblock/x", 403))
      assert.are.equal(before + 1, requests_of(be), "a blocked caller reached the backend")
    end)

    it("allow with only another address (10.0.0.1): 403 CallerIpNotAllowed", function()
      h.assert_apim_error(call { path = "/ipnotallowed/x" }, 403)
      assert.are.equal("CallerIpNotAllowed", log_reason("/ipnotallowed/x", 403))
    end)

    it("allow by address and by address-range lets the client through; forbid of other addresses too", function()
      echo_of(call { path = "/ipallow/x" })
      echo_of(call { path = "/ipothers/x" })
    end)

    it("IPv6: forbid ::1 blocks a client on [::1] and not one on 127.0.0.1; allow ::1 lets it through", function()
      if not ipv6 then
        pending("no IPv6 loopback (::1) on this machine")
        return
      end
      echo_of(call { path = "/ip6/v4" })
      local seen = #status_lines("/ipnotallowed/v6", 403)
      local r = h.fetch6(gw.port, { path = "/ip6/v6", host = "[::1]:" .. gw.port })
      h.assert_apim_error(r, 403)
      assert.are.equal("CallerIpBlocked", log_reason("/ip6/v6", 403))
      local ok = h.fetch6(gw.port, { path = "/ipallow/v6", host = "[::1]:" .. gw.port })
      assert.are.equal(200, ok.status, h.show(ok.raw_head .. (ok.body or "")))
      r = h.fetch6(gw.port, { path = "/ipnotallowed/v6", host = "[::1]:" .. gw.port })
      h.assert_apim_error(r, 403)
      assert.are.equal("CallerIpNotAllowed", log_reason("/ipnotallowed/v6", 403, seen))
    end)
  end)

  -------------------------------------------------------------------------
  -- message transformations
  -------------------------------------------------------------------------

  it("authentication-basic: the backend receives Basic credentials, replacing the client's Authorization", function()
    local want = "Basic " .. "c3ZjLXVzZXI6cEBzczp3MHJkIQ==" -- base64("svc-user:p@ss:w0rd!")
    local e = echo_of(call { path = "/basic/a" })
    assert.are.same({ want }, e:header_all("Authorization"))
    e = echo_of(call { path = "/basic/b", headers = { { "Authorization", "Bearer client-token" } } })
    assert.are.same({ want }, e:header_all("Authorization"))
  end)

  it("find-and-replace: changes the request body the backend gets and the response body the client gets", function()
    local sent = "first alpha, middle alpha, last"
    local r = call({ method = "POST", path = "/far/f", body = sent, headers = { { "Content-Type", "text/plain" } } }, 200)
    -- the backend received the replaced body (framed for its new length)
    local got = "first beta-beta, middle beta-beta, last"
    assert.are.equal(tostring(#got), r:header("X-Body-Bytes"), "request body bytes the backend received")
    -- the echo went through the outbound replacement
    local want_tail = "first beta-beta, MID beta-beta, last"
    assert.are.equal(want_tail, r.body:sub(-#want_tail), "response body: " .. h.show(r.body))
    assert.is_nil(r.body:find("middle", 1, true), "outbound left 'middle' in the response")
    assert.is_nil(r.body:find("alpha", 1, true), "inbound left 'alpha' in the request")
    assert.is_truthy(r.body:find("\r\nContent-Length: " .. #got .. "\r\n", 1, true),
      "the backend did not get Content-Length " .. #got .. ": " .. h.show(r.body))
    assert.are.equal(tostring(#r.body), r:header("Content-Length"))
  end)

  it("json-to-xml to the backend and xml-to-json back: a JSON document round-trips", function()
    local json = '{"order":{"id":7,"note":"fish & chips <hot>","item":["tea","cake"]}}'
    local r = call({ method = "POST", path = "/j2x/o", body = json,
      headers = { { "Content-Type", "application/json" } } }, 200)
    -- what the backend received (the outbound policy copies it from the echo)
    local xml = "<order><id>7</id><note>fish &amp; chips &lt;hot&gt;</note><item>tea</item><item>cake</item></order>"
    assert.are.equal(xml, r:header("X-Echo-Body"), "the XML body the backend received")
    assert.are.equal(tostring(#xml), r:header("X-Body-Bytes"), "XML bytes the backend received")
    assert.is_truthy((r:header("X-Echo-Content-Type") or ""):find("application/xml", 1, true),
      "Content-Type the backend received: " .. tostring(r:header("X-Echo-Content-Type")))
    -- back as JSON, Newtonsoft's direct mapping: element text is a string, repeated elements an array
    local ok, v = pcall(h.json_decode, r.body)
    assert.is_true(ok, "the client's body is not JSON: " .. h.show(r.body))
    assert.are.same({ order = { id = "7", note = "fish & chips <hot>", item = { "tea", "cake" } } }, v)
    assert.is_truthy((r:header("Content-Type") or ""):find("application/json", 1, true),
      "Content-Type: " .. tostring(r:header("Content-Type")))
    assert.are.equal(tostring(#r.body), r:header("Content-Length"))
  end)

  it("xml-to-json to the backend (XML Content-Type only) and json-to-xml back: an XML document round-trips", function()
    local xml = "<book><title>Dune</title><author>Frank</author><author>Brian</author></book>"
    local r = call({ method = "POST", path = "/x2j/b", body = xml,
      headers = { { "Content-Type", "application/xml" } } }, 200)
    local json = '{"book":{"title":"Dune","author":["Frank","Brian"]}}'
    local ok, got = pcall(h.json_decode, r:header("X-Echo-Body") or "")
    assert.is_true(ok, "the backend did not receive JSON: " .. h.show(r:header("X-Echo-Body")))
    assert.are.same(h.json_decode(json), got, "the JSON body the backend received")
    assert.is_truthy((r:header("X-Echo-Content-Type") or ""):find("application/json", 1, true),
      "Content-Type the backend received: " .. tostring(r:header("X-Echo-Content-Type")))
    assert.are.equal(xml, r.body, "the XML the client got back")
    assert.is_truthy((r:header("Content-Type") or ""):find("application/xml", 1, true),
      "Content-Type: " .. tostring(r:header("Content-Type")))
    -- apply="content-type-xml": a text/plain body reaches the backend unconverted
    local plain = "<book><title>Dune</title></book>"
    r = call({ method = "POST", path = "/x2j/p", body = plain, headers = { { "Content-Type", "text/plain" } } }, 200)
    assert.are.equal(plain, r:header("X-Echo-Body"))
    assert.are.equal(tostring(#plain), r:header("X-Body-Bytes"))
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
