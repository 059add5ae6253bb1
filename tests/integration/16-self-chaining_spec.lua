-- Self-chaining (issue 4): a backend URL or an API serviceUrl that points back
-- at the gateway itself -- by listener IP, by a configured gateway.hostnames
-- name, by `localhost`, by a wildcard listener's interface address, or by a
-- host name that resolves to one of those -- is found when the configuration
-- loads (`portico check` warns with file:line:col and exits 0). At run time
-- (`gateway.selfChaining: dispatch`, the default) such a request never goes
-- over the network: it is handed to the gateway's own routing in-process, and
-- the inner API's response comes back as a backend's would; `reject` answers
-- 500 BackendConnectionFailure at once. Every forwarded request carries
-- `Via: 1.1 <gateway.id>`; a request that already passed through this gateway
-- gateway.maxHops times gets 508 LoopDetected, so an API whose serviceUrl is
-- itself, or two gateways pointing at each other, end in 508 without
-- exhausting file descriptors or memory.
--
-- "No network call" is observed from outside: while a self-chained request
-- is in flight (the inner backend holds it with X-Test-Delay), the kernel's
-- TCP table (/proc/net/tcp) has exactly one established connection on the
-- gateway's port -- the test client's -- where a network self-call would add
-- a second one; and a configured host name under .invalid (which can never
-- resolve) is reached without DNS.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"
local socket = require "socket"

local NAME = "gw.self.invalid" -- a configured gateway host name that never resolves

---------------------------------------------------------------------------
-- configuration text
---------------------------------------------------------------------------

-- A whole gateway.yaml. o: id, listen (list; default 127.0.0.1:{{PORT}}),
-- hostnames (list), selfChaining, maxHops, maxIdle (pool.maxIdlePerOrigin), backends = list of {id, url},
-- apis = list of {id, path, serviceUrl | backend, policy}.
local function yaml(o)
  local q = function(s) return '"' .. s .. '"' end
  local listen = {}
  for i, l in ipairs(o.listen or { "127.0.0.1:{{PORT}}" }) do listen[i] = q(l) end
  local L = {
    "gateway:",
    "  id: " .. (o.id or "edge-1"),
    "  hostnames: [" .. table.concat(o.hostnames or { NAME }, ", ") .. "]",
    "  listen: [" .. table.concat(listen, ", ") .. "]",
    "  workers: " .. (o.workers or 1),
    "  timeouts: { headerRead: 10s, idle: 60s, backendConnect: 2s, backend: 10s, drain: 2s }",
    "  accessLog: stdout",
  }
  if o.selfChaining then L[#L + 1] = "  selfChaining: " .. o.selfChaining end
  if o.maxHops then L[#L + 1] = "  maxHops: " .. o.maxHops end
  if o.maxIdle then L[#L + 1] = "  pool: { maxIdlePerOrigin: " .. o.maxIdle .. " }" end
  if o.backends and #o.backends > 0 then
    L[#L + 1] = "backends:"
    for _, b in ipairs(o.backends) do L[#L + 1] = ("  %s: { url: %s }"):format(b[1], q(b[2])) end
  end
  L[#L + 1] = "apis:"
  for _, a in ipairs(o.apis or {}) do
    L[#L + 1] = "  " .. a.id .. ":"
    L[#L + 1] = "    path: " .. a.path
    if a.serviceUrl then L[#L + 1] = "    serviceUrl: " .. q(a.serviceUrl) end
    if a.backend then L[#L + 1] = "    backend: " .. a.backend end
    L[#L + 1] = "    subscriptionRequired: false"
    if a.policy then L[#L + 1] = "    policy: " .. a.policy end
  end
  return table.concat(L, "\n") .. "\n"
end

-- A policy document whose inbound section sets the backend's base URL.
local function base_url_policy(url)
  return ([[<policies>
  <inbound>
    <base />
    <set-backend-service base-url="%s" />
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>
]]):format(url)
end

-- 1-based line and column of the first line that is exactly `indent .. key .. ":"...`.
local function where(text, key, indent)
  local n = 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    if line:sub(1, #indent + #key + 1) == indent .. key .. ":" then return n, #indent + 1 end
  end
  error("key " .. key .. " not found in the config")
end

---------------------------------------------------------------------------
-- requests and checks
---------------------------------------------------------------------------

-- One request on a fresh connection; r.elapsed is the time to the whole response.
local function one(port, t, opts)
  local c = h.must_connect(port, 10)
  local t0 = h.now()
  local r = c:request(t, opts)
  r.elapsed = h.now() - t0
  c:close()
  return r
end

-- Every Via entry (repeated headers and comma lists) of a message.
local function via_entries(msg)
  local t = {}
  for _, v in ipairs(msg:header_all("Via")) do
    for item in v:gmatch("[^,]+") do t[#t + 1] = (item:gsub("^%s+", ""):gsub("%s+$", "")) end
  end
  return t
end

local function count_of(list, value)
  local n = 0
  for _, v in ipairs(list) do n = n + (v == value and 1 or 0) end
  return n
end

-- Access log entries whose path is `path`, once at least `n` are there.
local function entries_for(gw, path, n, timeout)
  local found = {}
  h.wait_for(function()
    found = {}
    for _, line in ipairs(gw.access_log_lines()) do
      local ok, v = pcall(h.json_decode, line)
      if ok and type(v) == "table" and v.path == path then found[#found + 1] = v end
    end
    return #found >= (n or 1)
  end, timeout or 3, 0.02)
  return found
end

local function log_text(gw) return table.concat(gw.access_log_lines(), "\n") end

-- Asserts that the response is the inner backend's echo of a request that
-- went client -> gateway (outer API) -> gateway (inner API) -> backend.
local function assert_chained(r, target, via_id, forwarded_host)
  assert.are.equal(200, r.status, "status; response:\n" .. h.show(r.raw_head .. (r.body or "")))
  r:assert_complete("self-chained response")
  assert.are.equal("inner", r:header("X-Backend-Name"), "the response did not come from the inner API's backend")
  local e = h.parse_echo(r.body)
  assert.are.equal(target, e.target, "path and query as the inner backend received them")
  local vias = via_entries(e)
  assert.are.equal(2, count_of(vias, "1.1 " .. via_id),
    "Via entries the inner backend received (one per pass through the gateway): " .. h.show(e.raw_head))
  if forwarded_host then
    -- the inner pass saw Host = the self-chained URL's host (it sets X-Forwarded-Host from it)
    assert.are.equal(forwarded_host, e:header("X-Forwarded-Host"),
      "Host of the in-process request (echoed as X-Forwarded-Host): " .. h.show(e.raw_head))
  end
  return e
end

-- Sends `t` on a fresh connection whose backend holds the answer ~600 ms,
-- and counts the established TCP connections on the gateway's port while it
-- is in flight; returns the count and the response.
local function connections_while_in_flight(gw, t)
  local c = h.must_connect(gw.port, 10)
  t.headers = t.headers or {}
  t.headers[#t.headers + 1] = { "X-Test-Delay", "600" }
  assert.is_true(c:send(h.request(t)) == true)
  h.sleep(0.3)
  local n = h.tcp_established(gw.port)
  local r = c:read_response { timeout = 10 }
  c:close()
  return n, r
end

---------------------------------------------------------------------------
-- portico check
---------------------------------------------------------------------------

describe("16 self-chaining: portico check", function()
  teardown(h.cleanup)

  local iface = h.local_ipv4()

  -- p1 on loopback, p2 on the wildcard address, p3 nobody's.
  local p1, p2, p3 = 18101, 18102, 18103
  local function cfg(mode)
    local backends = {
      { "by-ip", "http://127.0.0.1:" .. p1 .. "/inner" },
      { "by-name", "http://GW.Self.Invalid:" .. p1 .. "/inner" },
      { "by-name-wild", "http://" .. NAME .. ":" .. p2 .. "/x" },
      { "by-localhost", "http://localhost:" .. p1 },
      { "by-loopback-wild", "http://127.0.0.2:" .. p2 .. "/x" },
      { "other-port", "http://127.0.0.1:" .. p3 .. "/x" },
    }
    if iface then backends[#backends + 1] = { "by-iface", "http://" .. iface .. ":" .. p2 .. "/x" } end
    return yaml {
      listen = { "127.0.0.1:" .. p1, "0.0.0.0:" .. p2 },
      selfChaining = mode,
      backends = backends,
      apis = {
        { id = "svc-self", path = "svc", serviceUrl = "http://127.0.0.1:" .. p1 .. "/svc/deeper" },
        { id = "svc-other", path = "other", serviceUrl = "http://127.0.0.1:" .. p3 .. "/v1" },
        { id = "facade", path = "facade", backend = "by-ip" },
      },
    }
  end

  -- The warning line for one entity, as `portico check` must print it.
  local function expect_warning(out, text, file, section, id, field, url, listener, consequence)
    local line, col = where(text, id, "  ")
    local want = ("%s:%d:%d: warning: %s.%s: %s %s points back at this gateway (listener %s): self-chained; %s")
      :format(file, line, col, section, id, field, url, listener, consequence)
    assert.is_truthy(out:find(want, 1, true), ("missing warning line\n  %s\nin the output of portico check:\n%s")
      :format(want, out))
  end

  it("warns once per self-chained backend and API with file:line:col, URL and listener, and exits 0", function()
    local text = cfg(nil)
    local rc, out, path = h.check_config(text, "selfchain.yaml")
    assert.are.equal(0, rc, "portico check exit status; output:\n" .. out)
    local file = path -- check prints the path it was given
    local d = "requests to it are dispatched in-process, without a network call"
    local L1, L2 = "127.0.0.1:" .. p1, "0.0.0.0:" .. p2
    expect_warning(out, text, file, "backends", "by-ip", "url", "http://127.0.0.1:" .. p1 .. "/inner", L1, d)
    expect_warning(out, text, file, "backends", "by-name", "url", "http://GW.Self.Invalid:" .. p1 .. "/inner", L1, d)
    expect_warning(out, text, file, "backends", "by-name-wild", "url", "http://" .. NAME .. ":" .. p2 .. "/x", L2, d)
    expect_warning(out, text, file, "backends", "by-localhost", "url", "http://localhost:" .. p1, L1, d)
    expect_warning(out, text, file, "backends", "by-loopback-wild", "url", "http://127.0.0.2:" .. p2 .. "/x", L2, d)
    if iface then
      expect_warning(out, text, file, "backends", "by-iface", "url", "http://" .. iface .. ":" .. p2 .. "/x", L2, d)
    end
    expect_warning(out, text, file, "apis", "svc-self", "serviceUrl", "http://127.0.0.1:" .. p1 .. "/svc/deeper", L1, d)
    local warnings = select(2, out:gsub(": warning: ", ""))
    assert.are.equal(iface and 7 or 6, warnings, "one warning per self-chained entity, none for others:\n" .. out)
    assert.is_falsy(out:find("other-port", 1, true), "a backend on another port was flagged:\n" .. out)
    assert.is_falsy(out:find("svc-other", 1, true), "an API on another port was flagged:\n" .. out)
  end)

  it("says that requests are refused in reject mode", function()
    local text = cfg("reject")
    local rc, out, path = h.check_config(text, "selfchain-reject.yaml")
    assert.are.equal(0, rc, "portico check exit status; output:\n" .. out)
    expect_warning(out, text, path, "backends", "by-ip", "url", "http://127.0.0.1:" .. p1 .. "/inner",
      "127.0.0.1:" .. p1, "requests to it are refused (gateway.selfChaining: reject)")
    expect_warning(out, text, path, "apis", "svc-self", "serviceUrl", "http://127.0.0.1:" .. p1 .. "/svc/deeper",
      "127.0.0.1:" .. p1, "requests to it are refused (gateway.selfChaining: reject)")
  end)

  it("resolves a host name that is not in gateway.hostnames and compares addresses", function()
    local name = socket.dns.gethostname()
    local ip = name and socket.dns.toip(name)
    if not ip or not (ip:match("^127%.") or ip == iface) or name:lower() == "localhost" then
      pending(("this machine's host name (%s) does not resolve to a local address (%s)"):format(tostring(name), tostring(ip)))
      return
    end
    local text = yaml {
      listen = { "0.0.0.0:" .. p2 },
      hostnames = { "localhost" },
      backends = { { "by-hostname", "http://" .. name .. ":" .. p2 .. "/x" } },
      apis = { { id = "a", path = "a", backend = "by-hostname" } },
    }
    local t0 = h.now()
    local rc, out, path = h.check_config(text, "selfchain-dns.yaml")
    assert.are.equal(0, rc, "portico check exit status; output:\n" .. out)
    expect_warning(out, text, path, "backends", "by-hostname", "url", "http://" .. name .. ":" .. p2 .. "/x",
      "0.0.0.0:" .. p2, "requests to it are dispatched in-process, without a network call")
    assert.is_true(h.now() - t0 < 3, "the lookup is bounded (2 s)")
  end)

  it("warns about a literal set-backend-service base-url that points back at the gateway", function()
    h.write_file(h.tmpdir() .. "/self-base-url.xml", base_url_policy("http://127.0.0.1:" .. p1 .. "/inner"))
    local text = yaml {
      listen = { "127.0.0.1:" .. p1 },
      apis = { { id = "lit", path = "lit", serviceUrl = "http://127.0.0.1:" .. p3 .. "/v1", policy = "self-base-url.xml" } },
    }
    local rc, out = h.check_config(text, "selfchain-policy.yaml")
    assert.are.equal(0, rc, "portico check exit status; output:\n" .. out)
    local found
    for line in out:gmatch("[^\n]+") do
      if line:find(":%d+:%d+: warning: ") and line:find("http://127.0.0.1:" .. p1 .. "/inner", 1, true)
          and line:find("self-chained", 1, true) then
        found = line
      end
    end
    assert.is_truthy(found, "no self-chaining warning (file:line:col, URL) for the literal base-url of "
      .. "<set-backend-service> in self-base-url.xml; portico check printed:\n" .. out)
  end)

  it("passes on examples/self-chaining/gateway.yaml and warns about its facade backend", function()
    local path = h.root .. "/examples/self-chaining/gateway.yaml"
    assert.is_true(h.file_exists(path), path .. " is missing")
    local rc, out = h.portico_command { "check", "-c", path }
    assert.are.equal(0, rc, "portico check exit status; output:\n" .. out)
    -- (its URL is shown as "(with a secret)": the backend's credentials use a secret named value)
    assert.is_truthy(out:find("gateway.yaml:%d+:%d+: warning: backends%.orders%-internal: url .- points back at this "
      .. "gateway %(listener 127%.0%.0%.1:8080%): self%-chained"), "the example's facade backend is not reported as self-chained:\n" .. out)
    assert.is_truthy(out:find("gateway.yaml:%d+:%d+: warning: apis%.mistake: serviceUrl http://localhost:8080/mistake "
      .. "points back at this gateway"), "the example's self-calling API is not reported:\n" .. out)
  end)
end)

---------------------------------------------------------------------------
-- examples/self-chaining, on free ports
---------------------------------------------------------------------------

describe("16 self-chaining: the example", function()
  local be, gw

  setup(function()
    local text = h.read_file(h.root .. "/examples/self-chaining/gateway.yaml")
    assert.is_truthy(text, "examples/self-chaining/gateway.yaml is missing")
    be = h.start_backend { name = "orders-backend" }
    local port = h.free_port()
    text = text:gsub(":8080", ":" .. port):gsub(":9101", ":" .. be.port)
    gw = h.start_gateway(text)
  end)

  teardown(h.cleanup)

  it("serves the facade through the internal API (with its subscription key) in-process", function()
    local n, r = connections_while_in_flight(gw, { path = "/orders/42?expand=lines" })
    assert.is_truthy(r, "no response")
    assert.are.equal(200, r.status, h.show(r.raw_head .. (r.body or "")))
    assert.are.equal("orders-backend", r:header("X-Backend-Name"))
    local e = h.parse_echo(r.body)
    assert.are.equal("/orders/42?expand=lines", e.target)
    assert.are.equal(2, count_of(via_entries(e), "1.1 self-chaining-demo"), h.show(e.raw_head))
    assert.is_nil(e:header("Ocp-Apim-Subscription-Key"), "the internal API's key reached the backend")
    assert.are.equal(1, n, "established TCP connections on the gateway's port while the self-chained request was "
      .. "in flight (1 = the test client; 2 = the gateway called itself over TCP)")
    local inner = gw.log_entry("/internal/orders/42")
    assert.is_truthy(inner, "no access log entry for the internal API:\n" .. log_text(gw))
    assert.are.equal("orders-internal", inner.api)
  end)

  it("keeps the internal API closed to callers without a key, and ends the mistake in 508", function()
    local r = one(gw.port, { path = "/internal/orders/42" })
    h.assert_apim_error(r, 401)
    local m = one(gw.port, { path = "/mistake" })
    h.assert_apim_error(m, 508)
    gw.stop()
  end)
end)

---------------------------------------------------------------------------
-- dispatch (the default)
---------------------------------------------------------------------------

-- In-process connections are upstream connections like any other: idle ones
-- stay in the keep-alive pool (both ends open) up to pool.maxIdlePerOrigin.
-- The dispatch gateway keeps at most MAX_IDLE, so that "descriptors stay
-- bounded" can be asserted tightly.
local MAX_IDLE = 4

describe("16 self-chaining: in-process dispatch", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "inner" }
    local port = h.free_port()
    h.write_file(h.tmpdir() .. "/dispatch-base-url.xml", base_url_policy("http://127.0.0.1:" .. port .. "/inner"))
    gw = h.start_gateway(((yaml {
      listen = { "127.0.0.1:" .. port },
      maxIdle = MAX_IDLE,
      backends = {
        { "by-ip", "http://127.0.0.1:{{PORT}}/inner" },
        { "by-name", "http://" .. NAME .. ":{{PORT}}/inner" },
        { "by-localhost", "http://localhost:{{PORT}}/inner/" },
      },
      apis = {
        { id = "inner", path = "inner", serviceUrl = be.url .. "/v1" },
        { id = "via-ip", path = "via-ip", backend = "by-ip" },
        { id = "via-name", path = "via-name", backend = "by-name" },
        { id = "via-localhost", path = "via-localhost", backend = "by-localhost" },
        { id = "via-service-url", path = "via-service-url", serviceUrl = "http://127.0.0.1:{{PORT}}/inner/sub" },
        { id = "loop", path = "loop", serviceUrl = "http://127.0.0.1:{{PORT}}/loop" },
        { id = "to-nowhere", path = "to-nowhere", serviceUrl = "http://127.0.0.1:{{PORT}}/nowhere" },
        { id = "policy-url", path = "policy-url", serviceUrl = be.url .. "/not-this", policy = "dispatch-base-url.xml" },
      },
    }):gsub("{{PORT}}", tostring(port))))
  end)

  teardown(h.cleanup)

  it("answers with the inner API's response when a backend is the gateway's listener IP", function()
    local r = one(gw.port, { path = "/via-ip/a/b?x=1&y=2" })
    assert_chained(r, "/v1/a/b?x=1&y=2", "edge-1", "127.0.0.1:" .. gw.port)
    local outer = gw.log_entry("/via-ip/a/b")
    local inner = gw.log_entry("/inner/a/b")
    assert.is_truthy(outer, "no access log entry for the outer request:\n" .. log_text(gw))
    assert.is_truthy(inner, "no access log entry for the in-process inner request:\n" .. log_text(gw))
    assert.are.equal("via-ip", outer.api)
    assert.are.equal(200, outer.status)
    assert.are.equal("inner", inner.api)
    assert.are.equal(200, inner.status)
    assert.are_not.equal(outer.requestId, inner.requestId, "the inner pass is a request of its own")
  end)

  it("reaches the gateway by a configured host name without DNS (the name cannot resolve)", function()
    local r = one(gw.port, { path = "/via-name/n?q=1" })
    assert_chained(r, "/v1/n?q=1", "edge-1", NAME .. ":" .. gw.port)
    local outer = gw.log_entry("/via-name/n")
    assert.is_truthy(outer, "no access log entry:\n" .. log_text(gw))
    assert.are.equal(200, outer.status)
    assert.are.equal(h.null, outer.reason)
  end)

  it("reaches the gateway by localhost (a trailing slash in the URL composes as for a network call)", function()
    local r = one(gw.port, { path = "/via-localhost/l" })
    assert_chained(r, "/v1/l", "edge-1", "localhost:" .. gw.port)
  end)

  it("reaches the gateway through an API serviceUrl, with the service path prefix kept", function()
    local r = one(gw.port, { path = "/via-service-url/s?z=9" })
    assert_chained(r, "/v1/sub/s?z=9", "edge-1", "127.0.0.1:" .. gw.port)
  end)

  it("makes no network connection to itself: one TCP connection on its port while a chained request is in flight", function()
    local n, r = connections_while_in_flight(gw, { path = "/via-ip/in-flight" })
    assert.is_truthy(r, "no response")
    assert_chained(r, "/v1/in-flight", "edge-1")
    assert.are.equal(1, n, "established TCP connections on the gateway's port while the self-chained request was "
      .. "in flight (1 = the test client; 2 = the gateway called itself over TCP)")
  end)

  it("dispatches a literal set-backend-service base-url that points back at it in-process too", function()
    local n, r = connections_while_in_flight(gw, { path = "/policy-url/p?k=1" })
    assert.is_truthy(r, "no response")
    assert_chained(r, "/v1/p?k=1", "edge-1", "127.0.0.1:" .. gw.port)
    assert.are.equal(1, n, "established TCP connections on the gateway's port while the self-chained request was "
      .. "in flight (1 = the test client; 2 = the gateway called itself over TCP)")
  end)

  it("carries request bodies in and large responses out, on a keep-alive client connection", function()
    local c = h.must_connect(gw.port, 10)
    local body = h.pattern(100000)
    local r1 = c:request { method = "POST", path = "/via-ip/upload", body = body,
      headers = { { "X-Test-Drain", "1" }, { "Content-Type", "application/octet-stream" } } }
    assert.are.equal(200, r1.status, h.show(r1.raw_head))
    assert.are.equal("100000", r1:header("X-Body-Bytes"), "request body bytes the inner backend received")
    local e1 = h.parse_echo(r1.body)
    assert.are.equal("POST", e1.method)
    assert.are.equal("/v1/upload", e1.target)
    local r2 = c:request { method = "POST", path = "/via-name/chunked", chunks = { "abc", ("x"):rep(5000), "yz" } }
    assert.are.equal(200, r2.status, h.show(r2.raw_head))
    assert.are.equal(tostring(3 + 5000 + 2), r2:header("X-Body-Bytes"), "chunked body bytes the inner backend received")
    local r3 = c:request({ path = "/via-localhost/big", headers = { { "X-Test-Body-Bytes", tostring(3 * 1024 * 1024) } } },
      { timeout = 10 })
    assert.are.equal(200, r3.status)
    r3:assert_complete("3 MiB response through the self-chain")
    assert.are.equal(3 * 1024 * 1024, r3.body_bytes)
    assert.is_true(r3.body == h.pattern(3 * 1024 * 1024), "the 3 MiB body came back altered")
    local r4 = c:request { path = "/via-ip/after" }
    assert_chained(r4, "/v1/after", "edge-1")
    c:close()
  end)

  it("passes the inner API's errors through as the response", function()
    local r = one(gw.port, { path = "/via-ip/teapot", headers = { { "X-Test-Status", "418" } } })
    assert.are.equal(418, r.status)
    assert.are.equal("inner", r:header("X-Backend-Name"))
    -- a self-chained URL that no API on the gateway routes: the inner pass's 404 comes back
    local r2 = one(gw.port, { path = "/to-nowhere/x" })
    h.assert_apim_error(r2, 404, "Resource not found")
    local inner = gw.log_entry("/nowhere/x")
    assert.is_truthy(inner, "no access log entry for the inner pass:\n" .. log_text(gw))
    assert.are.equal("OperationNotFound", inner.reason)
  end)

  it("ends an API whose serviceUrl is itself in 508 LoopDetected after maxHops (10) passes", function()
    local r = one(gw.port, { path = "/loop/z" })
    h.assert_apim_error(r, 508)
    assert.is_true(r.elapsed < 1, ("the loop took %.2f s to end"):format(r.elapsed))
    local es = entries_for(gw, "/loop/z", 11)
    assert.are.equal(11, #es, "passes through the gateway (the client's request + 10 in-process dispatches):\n"
      .. log_text(gw))
    local detected = 0
    for _, e in ipairs(es) do
      assert.are.equal(508, e.status)
      if e.reason == "LoopDetected" then detected = detected + 1 end
    end
    assert.are.equal(1, detected, "exactly one pass refuses with reason LoopDetected:\n" .. log_text(gw))
  end)

  it("keeps file descriptors bounded over 50 self-loops, sequential and concurrent", function()
    one(gw.port, { path = "/loop/warm" })
    h.sleep(0.1)
    local before = h.fd_count(gw.pid)
    assert.is_truthy(before, "cannot read /proc/" .. gw.pid .. "/fd")
    local max_fds = before
    for i = 1, 30 do
      local r = one(gw.port, { path = "/loop/seq" .. i })
      assert.are.equal(508, r.status, "self-loop " .. i)
      max_fds = math.max(max_fds, h.fd_count(gw.pid) or 0)
    end
    -- 20 at once: each holds up to 10 in-process passes while it unwinds
    local conns = {}
    for i = 1, 20 do
      conns[i] = h.must_connect(gw.port, 10)
      assert.is_true(conns[i]:send(h.request { path = "/loop/par" .. i }) == true)
    end
    for i = 1, 20 do
      local r = conns[i]:read_response { timeout = 10 }
      assert.is_truthy(r, "no response to concurrent self-loop " .. i)
      assert.are.equal(508, r.status, "concurrent self-loop " .. i)
      max_fds = math.max(max_fds, h.fd_count(gw.pid) or 0)
      conns[i]:close()
    end
    local after = h.wait_for(function()
      local n = h.fd_count(gw.pid)
      return n and n <= before + 2 * MAX_IDLE + 2 and n, n
    end, 3, 0.05)
    local now = h.fd_count(gw.pid)
    assert.is_truthy(after, ("open fds after 50 self-loops: %s (before: %d, peak: %d; the pool may keep %d idle "
      .. "in-process pairs = %d fds)"):format(tostring(now), before, max_fds, MAX_IDLE, 2 * MAX_IDLE))
    assert.is_true(max_fds < before + 20 * 2 * 11 + 64, ("fd peak %d (before %d)"):format(max_fds, before))
    assert.is_true(gw.alive(), "the gateway died")
    local r = one(gw.port, { path = "/via-ip/still" })
    assert_chained(r, "/v1/still", "edge-1")
  end)

  it("counts Via entries the client sent, in lists and repeated headers, and only its own id", function()
    local nine = {}
    for i = 1, 9 do nine[i] = { "Via", "1.1 edge-1" } end
    local r = one(gw.port, { path = "/inner/nine", headers = nine })
    assert.are.equal(200, r.status, "9 of its own Via entries (< maxHops 10) must pass")
    local ten = { { "Via", "1.1 edge-1, 1.1 other-proxy, 1.1 edge-1" } }
    for i = 1, 8 do ten[#ten + 1] = { "Via", "1.1 edge-1" } end
    local r2 = one(gw.port, { path = "/inner/ten", headers = ten })
    h.assert_apim_error(r2, 508)
    local e = gw.log_entry("/inner/ten")
    assert.is_truthy(e, "no access log entry:\n" .. log_text(gw))
    assert.are.equal("LoopDetected", e.reason)
    local foreign = {}
    for i = 1, 12 do foreign[i] = { "Via", "1.1 other-gateway" } end
    local r3 = one(gw.port, { path = "/inner/foreign", headers = foreign })
    assert.are.equal(200, r3.status, "other proxies' Via entries do not count")
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

---------------------------------------------------------------------------
-- a wildcard listener, reached by an interface address
---------------------------------------------------------------------------

describe("16 self-chaining: wildcard listener", function()
  local be, gw
  local iface = h.local_ipv4()

  setup(function()
    if not iface then return end
    be = h.start_backend { name = "inner" }
    gw = h.start_gateway(yaml {
      listen = { "0.0.0.0:{{PORT}}" },
      hostnames = { "localhost" },
      backends = {
        { "by-iface", "http://" .. iface .. ":{{PORT}}/inner" },
        { "by-loopback", "http://127.0.0.2:{{PORT}}/inner" },
      },
      apis = {
        { id = "inner", path = "inner", serviceUrl = be.url .. "/v1" },
        { id = "via-iface", path = "via-iface", backend = "by-iface" },
        { id = "via-loopback", path = "via-loopback", backend = "by-loopback" },
      },
    })
  end)

  teardown(h.cleanup)

  it("dispatches in-process to a backend at an interface address of a 0.0.0.0 listener", function()
    if not iface then
      pending("this machine has no non-loopback IPv4 interface address (hostname -I, /proc/net/fib_trie)")
      return
    end
    local r = one(gw.port, { path = "/via-iface/w?k=v" })
    assert_chained(r, "/v1/w?k=v", "edge-1", iface .. ":" .. gw.port)
    local n, r2 = connections_while_in_flight(gw, { path = "/via-iface/in-flight" })
    assert.is_truthy(r2, "no response")
    assert_chained(r2, "/v1/in-flight", "edge-1")
    assert.are.equal(1, n, "established TCP connections on the gateway's port while the self-chained request "
      .. "was in flight (1 = the test client; 2 = the gateway called itself over TCP)")
  end)

  it("dispatches in-process to another loopback address of a 0.0.0.0 listener", function()
    if not iface then
      pending("no wildcard gateway started (no non-loopback IPv4 interface address)")
      return
    end
    local r = one(gw.port, { path = "/via-loopback/w" })
    assert_chained(r, "/v1/w", "edge-1", "127.0.0.2:" .. gw.port)
    gw.stop()
  end)
end)

---------------------------------------------------------------------------
-- reject mode
---------------------------------------------------------------------------

describe("16 self-chaining: gateway.selfChaining: reject", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "inner" }
    local text = yaml {
      selfChaining = "reject",
      backends = {
        { "by-ip", "http://127.0.0.1:{{PORT}}/inner" },
        { "by-name", "http://" .. NAME .. ":{{PORT}}/inner" },
        { "by-localhost", "http://localhost:{{PORT}}/inner" },
      },
      apis = {
        { id = "inner", path = "inner", serviceUrl = be.url .. "/v1" },
        { id = "via-ip", path = "via-ip", backend = "by-ip" },
        { id = "via-name", path = "via-name", backend = "by-name" },
        { id = "via-localhost", path = "via-localhost", backend = "by-localhost" },
        { id = "loop", path = "loop", serviceUrl = "http://127.0.0.1:{{PORT}}/loop" },
        { id = "policy-url", path = "policy-url", serviceUrl = be.url .. "/not-this", policy = "POLICY" },
      },
    }
    -- the policy file needs the port too: pick it here
    local port = h.free_port()
    text = text:gsub("{{PORT}}", tostring(port))
    h.write_file(h.tmpdir() .. "/reject-base-url.xml", base_url_policy("http://127.0.0.1:" .. port .. "/inner"))
    text = text:gsub("policy: POLICY", "policy: reject-base-url.xml")
    gw = h.start_gateway(text)
  end)

  teardown(h.cleanup)

  local function assert_rejected(path)
    local r = one(gw.port, { path = path })
    local v = h.assert_apim_error(r, 500)
    assert.is_true(r.elapsed < 0.25, ("answered after %.3f s (expected well under a second)"):format(r.elapsed))
    local e = gw.log_entry(path)
    assert.is_truthy(e, "no access log entry for " .. path .. ":\n" .. log_text(gw))
    assert.are.equal("BackendConnectionFailure", e.reason)
    assert.are.equal(500, e.status)
    local messages = (v.message or "") .. "\n" .. (type(e.message) == "string" and e.message or "")
    assert.is_truthy(messages:lower():find("self%-chain"), "no message names self-chaining: " .. h.show(messages))
    -- no second request reached the gateway: nothing was sent anywhere
    local inner = gw.log_entry("/inner" .. path:match("^/[^/]+(.*)$"), 0.2)
    assert.is_falsy(inner, "the rejected request reached the inner API:\n" .. log_text(gw))
    return messages, e
  end

  it("answers 500 BackendConnectionFailure at once for a backend at its listener IP", function()
    assert_rejected("/via-ip/r1")
  end)

  it("answers 500 BackendConnectionFailure at once for a backend at a configured host name", function()
    assert_rejected("/via-name/r2")
  end)

  it("answers 500 BackendConnectionFailure at once for a backend at localhost", function()
    assert_rejected("/via-localhost/r3")
  end)

  it("answers 500 BackendConnectionFailure at once for an API whose serviceUrl is itself (no loop)", function()
    assert_rejected("/loop/r4")
    local es = entries_for(gw, "/loop/r4", 1)
    assert.are.equal(1, #es, "one pass only:\n" .. log_text(gw))
  end)

  it("names the self-chained backend in the refusal message (client body or access log)", function()
    local messages, e = assert_rejected("/via-ip/r5")
    local named = messages:find("by-ip", 1, true) or messages:find("http://127.0.0.1:" .. gw.port, 1, true)
    assert.is_truthy(named, ("no message names the backend (by-ip / its URL); client body + access log message: %s"
      .. "\n(access log entry: backend=%s)"):format(h.show(messages), tostring(e.backend)))
  end)

  it("refuses a set-backend-service base-url that points back at it (run-time check)", function()
    local r = one(gw.port, { path = "/policy-url/p" })
    if r.status == 200 and r:header("X-Backend-Name") == "inner" then
      local e = h.parse_echo(r.body)
      assert.are_not.equal("/v1/p", e.target, "the policy's self-chained base-url was not checked (the request "
        .. "went through the gateway again)")
    end
    local v = h.assert_apim_error(r, 500)
    assert.is_true(r.elapsed < 0.25, ("answered after %.3f s (expected well under a second)"):format(r.elapsed))
    assert.is_falsy(gw.log_entry("/inner/p", 0.2), "the rejected request reached the inner API:\n" .. log_text(gw))
    local e = gw.log_entry("/policy-url/p")
    assert.is_truthy(e, "no access log entry:\n" .. log_text(gw))
    assert.are.equal("BackendConnectionFailure", e.reason, "access log reason; entry: " .. h.show(gw.access_log_lines()[#gw.access_log_lines()] or ""))
    local messages = v.message .. "\n" .. (type(e.message) == "string" and e.message or "")
    assert.is_truthy(messages:lower():find("self%-chain"), "no message names self-chaining: " .. h.show(messages))
  end)

  it("still forwards to backends that are not itself", function()
    local r = one(gw.port, { path = "/inner/direct" })
    assert.are.equal(200, r.status)
    assert.are.equal("/v1/direct", h.parse_echo(r.body).target)
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

---------------------------------------------------------------------------
-- expressions: a base-url computed per request
---------------------------------------------------------------------------

describe("16 self-chaining: set-backend-service base-url from an expression", function()
  local be, gw, skip

  setup(function()
    be = h.start_backend { name = "inner" }
    local ports = { dispatch = h.free_port(), reject = h.free_port() }
    h.write_file(h.tmpdir() .. "/dyn.xml", base_url_policy(
      '@(context.Request.Headers.GetValueOrDefault(&quot;X-Target&quot;, &quot;' .. be.url .. '/v1&quot;))'))
    for _, mode in ipairs { "dispatch", "reject" } do
      local text = yaml {
        listen = { "127.0.0.1:" .. ports[mode] },
        selfChaining = mode,
        apis = {
          { id = "inner", path = "inner", serviceUrl = be.url .. "/v1" },
          { id = "dyn", path = "dyn", serviceUrl = be.url .. "/unused", policy = "dyn.xml" },
        },
      }
      local rc, out = h.check_config(text, "dyn-" .. mode .. ".yaml")
      if rc ~= 0 and out:find("policy expressions are not available", 1, true) then
        skip = "policy expressions are not available in this build (" .. out:gsub("%s+$", "") .. ")"
        return
      end
      assert.are.equal(0, rc, "portico check on the expression policy:\n" .. out)
    end
  end)

  teardown(h.cleanup)

  for _, mode in ipairs { "dispatch", "reject" } do
    it("checks the URL an expression produced, per request (" .. mode .. ")", function()
      if skip then pending(skip) return end
      gw = h.start_gateway(h.read_file(h.tmpdir() .. "/dyn-" .. mode .. ".yaml"))
      local ok = one(gw.port, { path = "/dyn/plain" })
      assert.are.equal(200, ok.status, "the expression's default URL (the real backend)")
      assert.are.equal("/v1/plain", h.parse_echo(ok.body).target)
      local target = "http://127.0.0.1:" .. gw.port .. "/inner"
      if mode == "dispatch" then
        local n, r = connections_while_in_flight(gw, { path = "/dyn/self", headers = { { "X-Target", target } } })
        assert.is_truthy(r, "no response")
        assert_chained(r, "/v1/self", "edge-1", "127.0.0.1:" .. gw.port)
        assert.are.equal(1, n, "established TCP connections on the gateway's port while the self-chained request "
          .. "was in flight (1 = the test client; 2 = the gateway called itself over TCP)")
        local loop = one(gw.port, { path = "/dyn/loop", headers = { { "X-Target", "http://127.0.0.1:" .. gw.port .. "/dyn" } } })
        h.assert_apim_error(loop, 508)
      else
        local r = one(gw.port, { path = "/dyn/self", headers = { { "X-Target", target } } })
        h.assert_apim_error(r, 500)
        assert.is_true(r.elapsed < 0.25, ("answered after %.3f s"):format(r.elapsed))
        local e = gw.log_entry("/dyn/self")
        assert.is_truthy(e, "no access log entry:\n" .. log_text(gw))
        assert.are.equal("BackendConnectionFailure", e.reason)
        assert.is_falsy(gw.log_entry("/inner/self", 0.2), "the rejected request reached the inner API")
      end
      gw.stop()
    end)
  end
end)

---------------------------------------------------------------------------
-- maxHops: 3
---------------------------------------------------------------------------

describe("16 self-chaining: gateway.maxHops: 3", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "inner" }
    local self = "http://127.0.0.1:{{PORT}}"
    gw = h.start_gateway(yaml {
      maxHops = 3,
      apis = {
        { id = "c1", path = "c1", serviceUrl = self .. "/c2" },
        { id = "c2", path = "c2", serviceUrl = self .. "/c3" },
        { id = "c3", path = "c3", serviceUrl = be.url .. "/v1" },
        { id = "d1", path = "d1", serviceUrl = self .. "/d2" },
        { id = "d2", path = "d2", serviceUrl = self .. "/d3" },
        { id = "d3", path = "d3", serviceUrl = self .. "/d4" },
        { id = "d4", path = "d4", serviceUrl = be.url .. "/v1" },
        { id = "loop", path = "loop", serviceUrl = self .. "/loop" },
      },
    })
  end)

  teardown(h.cleanup)

  it("lets a chain of three passes through", function()
    local r = one(gw.port, { path = "/c1/x?y=1" })
    assert.are.equal(200, r.status, h.show(r.raw_head .. (r.body or "")))
    local e = h.parse_echo(r.body)
    assert.are.equal("/v1/x?y=1", e.target)
    assert.are.equal(3, count_of(via_entries(e), "1.1 edge-1"), "Via entries at the backend: " .. h.show(e.raw_head))
  end)

  it("refuses the fourth pass with 508 LoopDetected", function()
    local r = one(gw.port, { path = "/d1/x" })
    h.assert_apim_error(r, 508)
    local e = gw.log_entry("/d4/x")
    assert.is_truthy(e, "no access log entry for the fourth pass:\n" .. log_text(gw))
    assert.are.equal("LoopDetected", e.reason)
    assert.are.equal(508, e.status)
  end)

  it("ends a self-loop after exactly 3 dispatches", function()
    local r = one(gw.port, { path = "/loop/q" })
    h.assert_apim_error(r, 508)
    local es = entries_for(gw, "/loop/q", 4)
    h.sleep(0.1) -- any pass beyond the fourth would be logged by now
    es = entries_for(gw, "/loop/q", 4)
    assert.are.equal(4, #es, "passes (client request + 3 dispatches):\n" .. log_text(gw))
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

---------------------------------------------------------------------------
-- two gateways pointing at each other
---------------------------------------------------------------------------

describe("16 self-chaining: two gateways A -> B -> A", function()
  local ga, gb

  setup(function()
    local pa, pb = h.free_port(), h.free_port()
    while pb == pa do pb = h.free_port() end
    local function side(id, own, other)
      return yaml {
        id = id,
        hostnames = { "localhost" },
        listen = { "127.0.0.1:" .. own },
        apis = { { id = "ping", path = "ping", serviceUrl = "http://127.0.0.1:" .. other .. "/ping" } },
      }
    end
    ga = h.start_gateway(side("gw-a", pa, pb))
    gb = h.start_gateway(side("gw-b", pb, pa))
  end)

  teardown(h.cleanup)

  it("ends in 508 LoopDetected, refused by the gateway that sees itself maxHops times", function()
    local r = one(ga.port, { path = "/ping/pong" }, { timeout = 10 })
    h.assert_apim_error(r, 508)
    assert.is_true(r.elapsed < 3, ("took %.2f s"):format(r.elapsed))
    local ea = entries_for(ga, "/ping/pong", 11)
    local eb = entries_for(gb, "/ping/pong", 10)
    assert.are.equal(11, #ea, "passes through A (the client's + 10 from B):\n" .. log_text(ga))
    assert.are.equal(10, #eb, "passes through B:\n" .. log_text(gb))
    local detected
    for _, e in ipairs(ea) do if e.reason == "LoopDetected" then detected = e end end
    assert.is_truthy(detected, "A has no LoopDetected entry:\n" .. log_text(ga))
    for _, e in ipairs(eb) do assert.are_not.equal("LoopDetected", e.reason) end
  end)

  it("still has both gateways serving, and both exit 0", function()
    local r = one(gb.port, { path = "/ping/again" }, { timeout = 10 })
    h.assert_apim_error(r, 508)
    local e = gb.log_entry("/ping/again")
    assert.is_truthy(e)
    -- started at B this time: B refuses
    local found
    for _, x in ipairs(entries_for(gb, "/ping/again", 11)) do if x.reason == "LoopDetected" then found = true end end
    assert.is_true(found == true, "B has no LoopDetected entry:\n" .. log_text(gb))
    ga.stop()
    gb.stop()
  end)
end)

---------------------------------------------------------------------------
-- memory and descriptors, release build (ASan inflates RSS)
---------------------------------------------------------------------------

describe("16 self-chaining: RSS and fds over 50 self-loops (release build)", function()
  local rel_portico = h.release_build .. "/portico"
  local have_release = h.file_exists(rel_portico)
  local gw

  setup(function()
    if not have_release then return end
    gw = h.start_gateway(yaml {
      apis = { { id = "loop", path = "loop", serviceUrl = "http://127.0.0.1:{{PORT}}/loop" } },
    }, { bin = rel_portico })
  end)

  teardown(h.cleanup)

  it("keeps RSS and open descriptors flat", function()
    if not have_release then
      pending("no release build at " .. h.release_build .. " (make build)")
      return
    end
    for i = 1, 5 do one(gw.port, { path = "/loop/warm" .. i }) end
    h.sleep(0.1)
    local rss0, fd0 = gw.rss_kib(), h.fd_count(gw.pid)
    local rss_max = rss0
    for i = 1, 50 do
      local r = one(gw.port, { path = "/loop/n" .. i })
      assert.are.equal(508, r.status, "self-loop " .. i)
      rss_max = math.max(rss_max, gw.rss_kib() or 0)
    end
    local fd1 = h.wait_for(function()
      local n = h.fd_count(gw.pid)
      return n and n <= fd0 + 2 and n
    end, 3, 0.05)
    local rss1 = gw.rss_kib()
    assert.is_truthy(fd1, ("open fds: %s after 50 self-loops, %d before"):format(tostring(h.fd_count(gw.pid)), fd0))
    assert.is_true(rss_max - rss0 < 2048, ("RSS grew from %d KiB to a peak of %d KiB (now %d KiB) over 50 self-loops")
      :format(rss0, rss_max, rss1))
    gw.stop()
  end)
end)
