-- Integration policies (issue 6), end to end: APIM policy documents
-- (fixtures/traffic/) run by the real gateway (`workers: 2`) with three real
-- loopback backends that echo the exact request bytes they received: "main"
-- (the APIs' service), "side" and "third" (reached by send-request).
--
--   send-request          the side backend's request (method, URL, headers,
--                         body; mode new and copy), the response object read
--                         by expressions (StatusCode, Headers, Body.As<string>,
--                         Body.As<JObject>), timeout, ignore-error
--   send-one-way-request  the side backend gets the call, the client does not wait
--   wait                  for="all" takes as long as the slower call, for="any"
--                         as the faster one (the calls run side by side)
--   retry                 around forward-request and send-request: attempts
--                         counted by the backend, intervals waited,
--                         first-fast-retry, the body replayed; the waits do not
--                         block the worker
--   cache-*-value         across requests and workers, duration, remove, default
--   cache-lookup/-store   a second identical GET from the cache (the backend's
--                         counter stays), vary-by-query-parameter, expiry
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local FIX = h.root .. "/tests/integration/fixtures/traffic"

local function fix(name) return '"' .. FIX .. "/" .. name .. '"' end

describe("21 integration policies", function()
  local be, side, third, gw

  setup(function()
    be = h.start_backend { name = "main" }
    side = h.start_backend { name = "side" }
    third = h.start_backend { name = "third" }
    local dead = h.free_port() -- nothing listens there
    local function api(id, policy)
      return table.concat({
        "  " .. id .. ":",
        "    path: " .. id,
        '    serviceUrl: "' .. be.url .. "/" .. id .. '"',
        "    subscriptionRequired: false",
        policy and ("    policy: " .. fix(policy)) or nil,
      }, "\n")
    end
    local yaml = h.gateway_yaml { id = "edge-21", workers = 2, timeouts = { backend = "30s" } }
      .. ([[
namedValues:
  side-url: { value: "%s" }
  third-url: { value: "%s" }
  dead-url: { value: "http://127.0.0.1:%d" }
apis:
]]):format(side.url, third.url, dead)
      .. table.concat({
        api("plain"),
        api("sr", "send-request.xml"),
        api("srcopy", "send-request-copy.xml"),
        api("srto", "send-request-timeout.xml"),
        api("srig", "send-request-ignore.xml"),
        api("oneway", "send-one-way.xml"),
        api("waitall", "wait-all.xml"),
        api("waitany", "wait-any.xml"),
        api("retry", "retry.xml"),
        api("retryfast", "retry-fast.xml"),
        api("retrysend", "retry-send.xml"),
        api("cv", "cache-value.xml"),
        api("rc", "cache-response.xml"),
      }, "\n") .. "\n"
    gw = h.start_gateway(yaml)
  end)

  teardown(h.cleanup)

  local function requests_of(b) return b.stats().requests end

  -- One request on a fresh connection; asserts the status (when given);
  -- returns the response and the seconds it took.
  local function call(t, status, timeout)
    local t0 = h.now()
    local r = h.fetch(gw.port, t, { timeout = timeout or 8 })
    local took = h.now() - t0
    if status then
      assert.are.equal(status, r.status, (t.method or "GET") .. " " .. t.path .. ": "
        .. h.show(r.raw_head .. (r.body or "")))
    end
    return r, took
  end

  -- The worker ("0", "1") that served the last request to `path`, from the
  -- access log's requestId ("<worker>-<n>").
  local function worker_of(path)
    local entry = gw.log_entry(path)
    assert.is_truthy(entry, "no access log entry for " .. path)
    return tostring(entry.requestId):match("^(%d+)%-")
  end

  -------------------------------------------------------------------------
  -- send-request
  -------------------------------------------------------------------------

  describe("send-request", function()
    it("calls a second backend and exposes its response (status, headers, body as string and JObject)", function()
      local side_before = requests_of(side)
      local r = call({ path = "/sr/item" }, 200)
      local e = h.parse_echo(r.body)
      assert.are.equal("main", r:header("X-Backend-Name"))
      -- what the side backend received, read from its echo by expressions
      assert.are.same({ "200" }, e:header_all("X-Side-Status"))
      assert.are.same({ "side" }, e:header_all("X-Side-Name"))
      assert.are.same({ "POST /lookup/42?q=1 HTTP/1.1" }, e:header_all("X-Side-Line"))
      assert.are.same({ "GET /sr/item" }, e:header_all("X-Side-Saw"))
      assert.are.same({ "ping-body" }, e:header_all("X-Side-Body"))
      -- Body.As<JObject>() of the side's stats, fetched after the lookup: our
      -- stats request, the lookup and the stats request itself
      assert.are.same({ tostring(side_before + 2) }, e:header_all("X-Side-Requests"))
      -- the two calls and this stats request
      assert.are.equal(side_before + 3, requests_of(side))
    end)

    it("mode=\"copy\" sends the client's request (method, headers, body) to the new URL", function()
      local r = call({ method = "PUT", path = "/srcopy/doc", body = "copied body 21",
        headers = { { "X-Client-Tag", "tag-21" }, { "Content-Type", "text/plain" } } }, 200)
      local e = h.parse_echo(r.body)
      assert.are.same({ "PUT /copied HTTP/1.1" }, e:header_all("X-Copy-Line"))
      assert.are.same({ "copied body 21" }, e:header_all("X-Copy-Body"))
      assert.are.same({ "seen" }, e:header_all("X-Copy-Tag"))
      assert.are.same({ "seen" }, e:header_all("X-Copy-Extra-Seen"))
      -- the children changed the call, not the request going on to the backend
      assert.are.same({}, e:header_all("X-Copy-Extra"))
      assert.are.equal("copied body 21", e.body)
    end)

    it("timeout: a slower call fails after the timeout; on-error sees the send-request error", function()
      local main_before = requests_of(be)
      local r, took = call { path = "/srto/t", headers = { { "X-Side-Delay", "3000" } } }
      assert.are.equal(500, r.status, h.show(r.raw_head .. (r.body or "")))
      assert.is_true(took >= 0.9 and took < 2.5, ("answered after %.2f s (timeout=\"1\" second)"):format(took))
      assert.are.equal("send-request", r:header("X-Err-Source"))
      assert.is_truthy((r:header("X-Err-Reason") or "") ~= "", "no context.LastError.Reason")
      assert.are.equal(main_before + 1, requests_of(be), "the request went on to the backend after the error")
      -- within the timeout the same policy works
      local ok = call({ path = "/srto/fast", headers = { { "X-Side-Delay", "100" } } }, 200)
      assert.are.same({ "200" }, h.parse_echo(ok.body):header_all("X-Side-Status"))
    end)

    it("ignore-error=\"true\": a timed-out or refused call leaves the variable null and the request goes on", function()
      local r, took = call({ path = "/srig/slow", headers = { { "X-Side-Delay", "3000" } } }, 200)
      assert.is_true(took >= 0.9 and took < 2.5, ("answered after %.2f s (timeout=\"1\" second)"):format(took))
      assert.are.same({ "null" }, h.parse_echo(r.body):header_all("X-Side-Result"))
      r = call({ path = "/srig/down", headers = { { "X-Side-Down", "1" } } }, 200)
      assert.are.same({ "null" }, h.parse_echo(r.body):header_all("X-Side-Result"))
      r = call({ path = "/srig/ok" }, 200)
      assert.are.same({ "200" }, h.parse_echo(r.body):header_all("X-Side-Result"))
    end)
  end)

  -------------------------------------------------------------------------
  -- send-one-way-request
  -------------------------------------------------------------------------

  it("send-one-way-request: the side backend gets the call while the client does not wait for it", function()
    local side_before = requests_of(side)
    local r, took = call({ path = "/oneway/o" }, 200)
    assert.are.equal("main", r:header("X-Backend-Name"))
    assert.is_true(took < 1.0, ("the client waited %.2f s (the one-way call takes 1.5 s)"):format(took))
    -- the call completes at the side backend about 1.5 s later; every stats
    -- read counts itself: exactly one more request than our reads
    local reads, n = 0, nil
    h.wait_for(function()
      reads = reads + 1
      n = requests_of(side)
      return n >= side_before + reads + 1
    end, 5, 0.1)
    assert.are.equal(side_before + reads + 1, n, "requests the side backend completed (one-way call + our stats reads)")
  end)

  -------------------------------------------------------------------------
  -- wait
  -------------------------------------------------------------------------

  describe("wait", function()
    it("for=\"all\": both calls run side by side and the request goes on when the slower is done", function()
      local s0, t0 = requests_of(side), requests_of(third)
      local r, took = call({ path = "/waitall/w" }, 200)
      local e = h.parse_echo(r.body)
      assert.are.same({ "side" }, e:header_all("X-Fast"))
      assert.are.same({ "third" }, e:header_all("X-Slow"))
      -- the slower call takes 1.5 s; one after the other they would take 2.1 s
      assert.is_true(took >= 1.5 and took < 1.95, ("for=all took %.2f s (calls of 0.6 s and 1.5 s side by side)"):format(took))
      assert.are.equal(s0 + 2, requests_of(side))
      assert.are.equal(t0 + 2, requests_of(third))
    end)

    it("for=\"any\": the request goes on when the faster call is done", function()
      local r, took = call({ path = "/waitany/w" }, 200)
      local e = h.parse_echo(r.body)
      assert.are.same({ "side" }, e:header_all("X-Fast"))
      assert.are.same({ "missing" }, e:header_all("X-Slow"))
      assert.is_true(took >= 0.6 and took < 1.2, ("for=any took %.2f s (the faster call takes 0.6 s, the slower 1.5 s)"):format(took))
    end)
  end)

  -------------------------------------------------------------------------
  -- retry
  -------------------------------------------------------------------------

  describe("retry", function()
    it("retries while the condition holds: attempts counted by the backend, intervals waited, the body replayed", function()
      local before = requests_of(be)
      -- the retrying request goes out on its own connection; meanwhile quick
      -- requests must be served: the waits yield to the worker's loop
      local c = h.must_connect(gw.port, 15)
      local t0 = h.now()
      assert.is_true(c:send(h.request { method = "POST", path = "/retry/r", body = "replayed-body",
        headers = { { "X-Fail-Times", "2" } } }))
      local quick, slow_quick = {}, {}
      local i = 0
      while h.now() - t0 < 1.6 do
        i = i + 1
        local p = "/plain/q" .. i
        local qr, qt = call({ path = p }, 200)
        quick[#quick + 1] = p
        if qt > 0.5 then slow_quick[#slow_quick + 1] = ("%s took %.2f s"):format(p, qt) end
        h.sleep(0.05)
        assert.is_truthy(qr)
      end
      local r = c:read_response { timeout = 6 }
      local took = h.now() - t0
      c:close()
      assert.is_truthy(r, "no answer to the retried request")
      assert.are.equal(200, r.status, h.show(r.raw_head .. (r.body or "")))
      assert.are.equal("3", r:header("X-Attempts"))
      -- two failed attempts, two waits of interval="1"
      assert.is_true(took >= 2.0, ("answered after %.2f s: the two 1 s intervals were not waited"):format(took))
      assert.is_true(took < 3.5, ("answered after %.2f s (two 1 s intervals)"):format(took))
      -- the backend saw three attempts, the last one with the body
      local e = h.parse_echo(r.body)
      assert.are.same({ "3" }, e:header_all("X-Attempt"))
      assert.are.equal("replayed-body", e.body)
      assert.are.equal(before + 3 + #quick + 1, requests_of(be), "requests the backend received (3 attempts, "
        .. #quick .. " quick requests, 1 stats)")
      -- the quick requests were answered at once, also by the worker that was waiting
      assert.are.same({}, slow_quick, "requests delayed while a retry waited")
      local w = worker_of("/retry/r")
      local same = 0
      for _, p in ipairs(quick) do if worker_of(p) == w then same = same + 1 end end
      assert.is_true(same > 0, ("none of the %d quick requests ran on worker %s (the retrying one)"):format(#quick, tostring(w)))
    end)

    it("wraps send-request too: the side backend counts the attempts, the interval is waited", function()
      local side_before, main_before = requests_of(side), requests_of(be)
      local r, took = call({ path = "/retrysend/s", headers = { { "X-Fail-Times", "1" } } }, 200)
      local e = h.parse_echo(r.body)
      assert.are.same({ "2" }, e:header_all("X-Attempts"))
      assert.are.same({ "200" }, e:header_all("X-Side-Status"))
      assert.is_true(took >= 1.0 and took < 1.9, ("answered after %.2f s (one 1 s interval)"):format(took))
      assert.are.equal(side_before + 2 + 1, requests_of(side), "calls the side backend received (+1 stats)")
      assert.are.equal(main_before + 1 + 1, requests_of(be), "requests the main backend received (+1 stats)")
    end)

    it("gives up after `count` retries with the last response; first-fast-retry sends the first retry at once", function()
      local before = requests_of(be)
      local c = h.must_connect(gw.port, 5)
      local t0 = h.now()
      assert.is_true(c:send(h.request { path = "/retryfast/r", headers = { { "X-Fail-Times", "9" } } }))
      local r = c:read_response { timeout = 4 }
      local took = h.now() - t0
      c:close()
      if not r then
        assert.is_truthy(r, ("no answer within %.1f s (expected the last attempt's 503 after about 1 s; "
          .. "the backend received %d requests since the start)"):format(took, requests_of(be) - before - 1))
      end
      assert.are.equal(503, r.status, h.show(r.raw_head .. (r.body or "")))
      assert.are.equal("3", r:header("X-Attempts"))
      assert.are.equal("main", r:header("X-Backend-Name"))
      -- retry 1 at once, retry 2 after interval="1"
      assert.is_true(took >= 1.0 and took < 1.9, ("answered after %.2f s (0 s + 1 s of intervals)"):format(took))
      assert.are.equal(before + 3 + 1, requests_of(be), "attempts the backend received (+1 stats)")
      -- the condition false at once: no retry
      local before2 = requests_of(be)
      local ok, took2 = call({ path = "/retryfast/ok" }, 200)
      assert.are.equal("1", ok:header("X-Attempts"))
      assert.is_true(took2 < 0.9, ("a first success took %.2f s"):format(took2))
      assert.are.equal(before2 + 1 + 1, requests_of(be))
    end)
  end)

  -------------------------------------------------------------------------
  -- caches
  -------------------------------------------------------------------------

  describe("cache-store-value / cache-lookup-value / cache-remove-value", function()
    local function lookup(k)
      local r = call({ path = "/cv/get?k=" .. k }, 200)
      return r:header("X-Cached"), r:header("X-With-Default")
    end

    it("a stored value is found by later requests on every worker, until removed", function()
      local before = requests_of(be)
      call({ path = "/cv/set?op=store&k=color&v=teal&ttl=60" }, 201)
      local workers = {}
      for i = 1, 24 do -- fresh connections: the chance that all land on one worker is 2^-23
        local p = "/cv/get" .. i
        local r = call({ path = p .. "?k=color" }, 200)
        assert.are.equal("hit:teal", r:header("X-Cached"), "lookup " .. i .. " on a fresh connection")
        assert.are.equal("teal", r:header("X-With-Default"))
        workers[worker_of(p)] = true
      end
      assert.is_truthy(workers["0"] and workers["1"], "the lookups did not reach both workers")
      -- a later store replaces the value
      call({ path = "/cv/set?op=store&k=color&v=olive&ttl=60" }, 201)
      assert.are.equal("hit:olive", (lookup("color")))
      -- removed: a miss (no variable), and the default-value when there is one
      call({ path = "/cv/del?op=remove&k=color" }, 204)
      local hit, def = lookup("color")
      assert.are.equal("miss", hit)
      assert.are.equal("fallback", def)
      -- never stored
      assert.are.equal("miss", (lookup("never")))
      assert.are.equal(before + 1, requests_of(be), "return-response answered without the backend")
    end)

    it("a value expires after its duration", function()
      call({ path = "/cv/set?op=store&k=short&v=brief&ttl=1" }, 201)
      assert.are.equal("hit:brief", (lookup("short")))
      h.sleep(1.2)
      assert.are.equal("miss", (lookup("short")))
    end)
  end)

  describe("cache-lookup / cache-store", function()
    it("serves a second identical GET from the cache on every worker; the backend is not called again", function()
      local before = requests_of(be)
      local first = call({ path = "/rc/item?v=1" }, 200)
      assert.are.equal(before + 1 + 1, requests_of(be), "the first GET reached the backend (+1 stats)")
      local workers = {}
      for i = 1, 24 do -- fresh connections: all on one worker has a 2^-23 chance
        local r = call({ path = "/rc/item?v=1" }, 200)
        assert.are.equal(first.body, r.body, "cached answer " .. i)
        -- the backend's per-connection headers are those of the first answer
        assert.are.equal(first:header("X-Conn-Id"), r:header("X-Conn-Id"))
        assert.are.equal(tostring(#r.body), r:header("Content-Length"))
      end
      -- a query parameter that is not in vary-by-query-parameter does not count
      local other = call({ path = "/rc/item?v=1&unrelated=9" }, 200)
      assert.are.equal(first.body, other.body)
      assert.are.equal(before + 2 + 1, requests_of(be), "cached GETs reached the backend")
      for _, line in ipairs(gw.access_log_lines()) do
        if line:find('"path":"/rc/item"', 1, true) then
          local w = line:match('"requestId":"(%d+)%-')
          if w then workers[w] = true end
        end
      end
      assert.is_truthy(workers["0"] and workers["1"], "the cached answers did not come from both workers")
    end)

    it("keeps a separate entry per value of a vary-by-query-parameter", function()
      local before = requests_of(be)
      local a = call({ path = "/rc/vary?v=a" }, 200)
      local b = call({ path = "/rc/vary?v=b" }, 200)
      assert.are.equal("GET /rc/vary?v=a HTTP/1.1", h.parse_echo(a.body).request_line)
      assert.are.equal("GET /rc/vary?v=b HTTP/1.1", h.parse_echo(b.body).request_line)
      assert.are.equal(before + 2 + 1, requests_of(be))
      assert.are.equal(a.body, call({ path = "/rc/vary?v=a" }, 200).body)
      assert.are.equal(b.body, call({ path = "/rc/vary?v=b" }, 200).body)
      assert.are.equal(before + 2 + 2, requests_of(be), "the second GETs of each were not served from the cache")
      -- POST is never cached
      call({ method = "POST", path = "/rc/vary?v=a", body = "x" }, 200)
      assert.are.equal(before + 3 + 3, requests_of(be))
    end)

    it("an entry expires after its duration: the next GET goes to the backend again", function()
      local before = requests_of(be)
      local first = call({ path = "/rc/expire?v=1" }, 200)
      assert.are.equal(first.body, call({ path = "/rc/expire?v=1" }, 200).body)
      assert.are.equal(before + 1 + 1, requests_of(be))
      h.sleep(2.2)
      call({ path = "/rc/expire?v=1" }, 200)
      assert.are.equal(before + 2 + 2, requests_of(be), "the expired entry was served")
    end)
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
