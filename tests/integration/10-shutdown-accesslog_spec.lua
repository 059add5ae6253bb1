-- Graceful shutdown (SIGTERM/SIGINT: stop accepting, finish in-flight
-- requests within the drain time, exit 0) and the JSON access log (one object
-- per request, the documented fields, no secrets).
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local function start(be, over)
  over = over or {}
  over.apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } }
  return h.start_gateway(h.config(over))
end

-- True once a connect to the port is refused (polls up to `timeout`).
local function refused_within(port, timeout)
  return h.wait_for(function()
    local c = h.connect(port, 0.5)
    if c then
      c:close()
      return false
    end
    return true
  end, timeout, 0.02)
end

describe("10 graceful shutdown", function()
  local be

  setup(function()
    be = h.start_backend { name = "drain" }
  end)

  teardown(h.cleanup)

  it("finishes an in-flight request after SIGTERM, refuses new connections, exits 0", function()
    local gw = start(be, { timeouts = { drain = "10s" } })
    local c = h.must_connect(gw.port)
    local t0 = h.now()
    assert.is_true(c:send(h.request { path = "/echo/in-flight", headers = { { "X-Test-Delay", "1500" } } }))
    -- let the request reach the backend
    h.wait_for(function() return be.stats().open >= 2 end, 2, 0.02)
    h.sleep(0.1)
    gw.signal("TERM")
    local refused = refused_within(gw.port, 1)
    local refused_at = h.now() - t0
    local r, err = c:read_response { timeout = 5 }
    local answered_at = h.now() - t0
    assert.is_truthy(r, "the in-flight request got no response: " .. tostring(err))
    assert.are.equal(200, r.status)
    r:assert_complete()
    assert.are.equal("/v1/in-flight", h.parse_echo(r.body).target)
    assert.is_true(refused, "new connections were still accepted 1 s after SIGTERM")
    assert.is_true(refused_at < answered_at, "connections were refused only after the in-flight request ended")
    assert.is_true(c:closed_eventually(3), "the client connection stayed open after the drain")
    c:close()
    gw.wait_exit(10)
    assert.is_true(h.now() - t0 >= 1.4, "the gateway exited before the in-flight request could finish")
  end)

  it("closes idle keep-alive connections at once on SIGTERM and exits promptly", function()
    local gw = start(be, { timeouts = { drain = "10s" } })
    local c = h.must_connect(gw.port)
    assert.are.equal(200, c:request({ path = "/echo/idle" }).status)
    local t0 = h.now()
    gw.signal("TERM")
    assert.is_true(c:closed_eventually(2), "the idle connection was not closed on SIGTERM")
    c:close()
    gw.wait_exit(10)
    assert.is_true(h.now() - t0 < 2, ("took %.2f s to exit with only an idle connection (drain 10s)"):format(h.now() - t0))
  end)

  it("bounds the drain: a request longer than timeouts.drain is cut and the gateway exits 0", function()
    local gw = start(be, { timeouts = { drain = "1s" } })
    local c = h.must_connect(gw.port)
    assert.is_true(c:send(h.request { path = "/echo/too-slow", headers = { { "X-Test-Delay", "6000" } } }))
    h.sleep(0.2)
    local t0 = h.now()
    gw.signal("TERM")
    gw.wait_exit(6)
    local took = h.now() - t0
    assert.is_true(took >= 0.8 and took < 3, ("exited %.2f s after SIGTERM (drain 1s)"):format(took))
    assert.is_true(c:closed_eventually(2), "the client connection survived the gateway")
    c:close()
  end)

  it("drains on SIGINT as on SIGTERM", function()
    local gw = start(be)
    local c = h.must_connect(gw.port)
    assert.are.equal(200, c:request({ path = "/echo/int" }).status)
    c:close()
    gw.signal("INT")
    gw.wait_exit(10)
  end)
end)

describe("10 access log", function()
  local be

  setup(function()
    be = h.start_backend { name = "log" }
  end)

  teardown(h.cleanup)

  local FIELDS = { "time", "requestId", "method", "path", "clientIp", "api", "status", "bytesIn", "bytesOut",
    "backend", "reason", "durationMs" }

  it("writes one JSON object per request with the documented fields", function()
    local gw = start(be)
    local c = h.must_connect(gw.port)
    local body = ("p"):rep(3000)
    local reqs = {
      { path = "/echo/one" },
      { method = "POST", path = "/echo/two", body = body },
      { path = "/nothing-here" },
      { method = "HEAD", path = "/echo/three" },
      { path = "/echo/four", headers = { { "X-Test-Body-Bytes", "50000" } } },
    }
    local responses = {}
    for i, t in ipairs(reqs) do responses[i] = c:request(t) end
    c:close()
    local log = gw.wait_access_log(#reqs)
    gw.stop()
    log = gw.access_log()
    assert.are.equal(#reqs, #log, "access log lines:\n" .. table.concat(gw.access_log_lines(), "\n"))
    local ids = {}
    for i, e in ipairs(log) do
      local line = gw.access_log_lines()[i]
      for _, f in ipairs(FIELDS) do
        assert.is_true(e[f] ~= nil, "field " .. f .. " missing in " .. line)
      end
      assert.is_truthy(tostring(e.time):match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d"), "time: " .. line)
      assert.are.equal("string", type(e.requestId), line)
      assert.is_nil(ids[e.requestId], "duplicate requestId in " .. line)
      ids[e.requestId] = true
      assert.are.equal(reqs[i].method or "GET", e.method, line)
      assert.are.equal(reqs[i].path, e.path, line)
      assert.are.equal("127.0.0.1", e.clientIp, line)
      assert.are.equal(responses[i].status, e.status, line)
      assert.are.equal("number", type(e.bytesIn), line)
      assert.are.equal("number", type(e.bytesOut), line)
      assert.are.equal("number", type(e.durationMs), line)
      assert.is_true(e.durationMs >= 0, line)
      assert.is_true(e.bytesIn >= #h.request(reqs[i]), "bytesIn below the request size: " .. line)
      assert.is_true(e.bytesOut >= #responses[i].raw_head + #(responses[i].body or ""),
        "bytesOut below the response size: " .. line)
      if reqs[i].path:match("^/echo") then
        assert.are.equal("echo", e.api, line)
        assert.are.equal("string", type(e.backend), line)
        assert.are.equal(h.null, e.reason, line)
        assert.are.equal("number", type(e.backendMs), "backendMs in " .. line)
      else
        assert.are.equal(h.null, e.api, line)
        assert.are.equal("OperationNotFound", e.reason, line)
      end
    end
  end)

  it("logs each of several pipelined requests", function()
    local gw = start(be)
    local c = h.must_connect(gw.port)
    local raw = {}
    for i = 1, 6 do raw[i] = h.request { path = "/echo/p" .. i } end
    assert.is_true(c:send(table.concat(raw)))
    for _ = 1, 6 do assert.are.equal(200, assert(c:read_response()).status) end
    c:close()
    local log = gw.wait_access_log(6)
    gw.stop()
    assert.are.equal(6, #gw.access_log())
    for i, e in ipairs(log) do assert.are.equal("/echo/p" .. i, e.path) end
  end)

  it("writes to a file when accessLog is a path, and nothing to stdout", function()
    local path = h.tmpdir() .. "/access.jsonl"
    local gw = start(be, { accessLog = path })
    local c = h.must_connect(gw.port)
    assert.are.equal(200, c:request({ path = "/echo/to-file" }).status)
    c:close()
    local lines = h.wait_for(function()
      local l = h.split_lines(h.read_file(path) or "")
      return #l >= 1 and l
    end, 5)
    gw.stop()
    assert.is_truthy(lines, "nothing written to " .. path)
    assert.are.equal(1, #lines)
    assert.are.equal("/echo/to-file", h.json_decode(lines[1]).path)
    assert.are.equal(0, #gw.access_log_lines(), "access log lines on stdout too")
  end)

  it("writes nothing with accessLog: off", function()
    local gw = start(be, { accessLog = "off" })
    local c = h.must_connect(gw.port)
    assert.are.equal(200, c:request({ path = "/echo/quiet" }).status)
    c:close()
    h.sleep(0.2)
    gw.stop()
    assert.are.equal(0, #gw.access_log_lines())
  end)

  it("never writes Authorization values or subscription keys to the access log or stderr", function()
    local gw = start(be)
    local c = h.must_connect(gw.port)
    -- proxied: the Authorization header goes through the whole logging path
    local r = c:request { path = "/echo/secret?x=1", headers = { { "Authorization", "Bearer SECRET123" } } }
    assert.are.equal(200, r.status)
    -- subscription keys on an open API: proxied, or refused as an unknown key
    r = c:request { path = "/echo/secret2?subscription-key=SECRET456&x=1", headers = {
      { "Authorization", "Bearer SECRET123" },
      { "Ocp-Apim-Subscription-Key", "SECRET789" },
    } }
    assert.is_true(r.status == 200 or r.status == 401, "status " .. r.status)
    r = c:request { path = "/missing?subscription-key=SECRET456", headers = { { "Authorization", "Bearer SECRET123" } } }
    assert.are.equal(404, r.status)
    r = c:request { method = "POST", path = "/echo/x?subscription-key=SECRET456",
      headers = { { "Authorization", "Bearer SECRET123" }, { "Content-Length", "5" }, { "Content-Length", "6" } },
      body = "hello!", content_length = false }
    assert.are.equal(400, r.status)
    c:close()
    gw.wait_access_log(4)
    local err = gw.stop()
    local out = table.concat(gw.access_log_lines(), "\n")
    assert.is_true(#gw.access_log_lines() >= 3, "the requests were not logged:\n" .. out)
    for _, secret in ipairs { "SECRET123", "SECRET456", "SECRET789" } do
      assert.is_nil(out:find(secret, 1, true), secret .. " appears in the access log:\n" .. out)
      assert.is_nil(err:find(secret, 1, true), secret .. " appears on stderr:\n" .. err)
    end
  end)
end)
