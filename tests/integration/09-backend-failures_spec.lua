-- Backend failures the APIM way: refused / reset / DNS failure -> 500
-- BackendConnectionFailure; no response head within timeouts.backend -> 500
-- Timeout; a backend that dies mid-body cuts the client connection.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

-- Asserts an APIM error body {"statusCode": N, "message": "..."}.
local function apim_error(r, status)
  local ok, v = pcall(h.json_decode, r.body)
  assert.is_true(ok and type(v) == "table", "error body is not a JSON object: " .. h.show(r.body))
  assert.are.equal(status, v.statusCode, "statusCode in " .. r.body)
  assert.are.equal("string", type(v.message), "message in " .. r.body)
  assert.is_true(#v.message > 0, "empty message")
  assert.is_truthy((r:header("Content-Type") or ""):find("application/json", 1, true),
    "Content-Type: " .. tostring(r:header("Content-Type")))
end

describe("09 backend failures", function()
  local be, gw, dead_port

  setup(function()
    be = h.start_backend { name = "flaky" }
    dead_port = h.free_port()
    gw = h.start_gateway(h.config {
      timeouts = { backendConnect = "3s" },
      apis = {
        echo = { path = "echo", serviceUrl = be.url .. "/v1" },
        refused = { path = "refused", serviceUrl = "http://127.0.0.1:" .. dead_port .. "/x" },
        nodns = { path = "nodns", serviceUrl = "http://no-such-host.invalid:80/x" },
      },
    })
  end)

  teardown(h.cleanup)

  local function one(t, opts)
    local c = h.must_connect(gw.port)
    local t0 = h.now()
    local r = c:request(t, opts)
    r.elapsed = h.now() - t0
    c:close()
    return r
  end

  local function reason_of(path)
    local e = gw.log_entry(path)
    assert.is_truthy(e, "no access log entry for " .. path .. ":\n" .. table.concat(gw.access_log_lines(), "\n"))
    return e.reason, e
  end

  it("answers 500 BackendConnectionFailure when the backend refuses the connection", function()
    assert.is_false(h.port_open(dead_port), "something listens on the 'dead' port")
    local r = one { path = "/refused/a" }
    assert.are.equal(500, r.status)
    apim_error(r, 500)
    local reason, e = reason_of("/refused/a")
    assert.are.equal("BackendConnectionFailure", reason)
    assert.are.equal(500, e.status)
    assert.are.equal("refused", e.api)
  end)

  it("answers 500 BackendConnectionFailure when the backend host does not resolve", function()
    local r = one({ path = "/nodns/a" }, { timeout = 15 })
    assert.are.equal(500, r.status)
    apim_error(r, 500)
    assert.are.equal("BackendConnectionFailure", (reason_of("/nodns/a")))
  end)

  for _, mode in ipairs { "before", "reset" } do
    it("answers 500/502 BackendConnectionFailure when the backend closes without answering (" .. mode .. ")", function()
      local path = "/echo/close-" .. mode
      local r = one { method = "POST", path = path, body = "data", headers = { { "X-Test-Close", mode } } }
      assert.is_true(r.status == 500 or r.status == 502, "status " .. r.status)
      apim_error(r, r.status)
      assert.are.equal("BackendConnectionFailure", (reason_of(path)))
    end)
  end

  it("cuts the client connection when the backend dies mid-body", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/mid", headers = { { "X-Test-Close", "mid" } } }
    assert.are.equal(200, r.status)
    assert.are.equal("100000", r:header("Content-Length"))
    assert.is_false(r.complete, "the client got a complete body from a backend that died mid-body")
    assert.is_true(r.body_bytes < 100000)
    assert.are.equal("closed", r.err, "the client connection was not cut (read ended with " .. tostring(r.err) .. ")")
    c:close()
  end)

  it("still serves after the failures", function()
    local r = one { path = "/echo/fine" }
    assert.are.equal(200, r.status)
    assert.are.equal("/v1/fine", h.parse_echo(r.body).target)
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("09 backend timeout", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "slow" }
    gw = h.start_gateway(h.config {
      timeouts = { backend = "500ms" },
      apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } },
    })
  end)

  teardown(h.cleanup)

  it("answers 500 Timeout well before a 3 s backend answers", function()
    local c = h.must_connect(gw.port)
    local t0 = h.now()
    local r = c:request({ path = "/echo/delayed", headers = { { "X-Test-Delay", "3000" } } }, { timeout = 6 })
    local took = h.now() - t0
    c:close()
    assert.are.equal(500, r.status)
    apim_error(r, 500)
    assert.is_true(took >= 0.4 and took < 1.5, ("answered after %.2f s (timeout 500ms)"):format(took))
    local e = gw.log_entry("/echo/delayed")
    assert.is_truthy(e, "no access log entry:\n" .. table.concat(gw.access_log_lines(), "\n"))
    assert.are.equal("Timeout", e.reason)
    assert.are.equal(500, e.status)
  end)

  it("never hands the late response of a timed-out request to the next request", function()
    local c = h.must_connect(gw.port)
    local r = c:request({ path = "/echo/late", headers = { { "X-Test-Delay", "1000" } } }, { timeout = 6 })
    assert.are.equal(500, r.status)
    -- the backend answers /late at ~1 s: a reused connection would deliver it now
    h.sleep(0.7)
    local c2 = h.must_connect(gw.port)
    for i = 1, 3 do
      local r2 = c2:request { path = "/echo/next/" .. i }
      assert.are.equal(200, r2.status)
      assert.are.equal("/v1/next/" .. i, h.parse_echo(r2.body).target)
    end
    c2:close()
    c:close()
  end)

  it("lets a backend that answers within the timeout through", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/quick", headers = { { "X-Test-Delay", "100" } } }
    c:close()
    assert.are.equal(200, r.status)
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
