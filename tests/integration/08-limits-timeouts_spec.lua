-- Limits (414, 431, 413) and downstream timeouts (slowloris at headerRead,
-- idle keep-alive connections at idle).
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

describe("08 limits", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "limits" }
    gw = h.start_gateway(h.config {
      limits = { maxUrlBytes = 8192, maxHeaderBytes = 16384, maxHeaders = 100, maxBodyBytes = 1000 },
      apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } },
    })
  end)

  teardown(h.cleanup)

  -- Sends one raw request on a new connection; returns the response and how
  -- many requests the backend completed meanwhile (stats requests excluded).
  local function exchange(raw)
    local before = be.stats().requests
    local c = h.must_connect(gw.port)
    local ok, err = c:send(raw)
    local r, rerr, partial = c:read_response()
    c:close()
    assert.is_truthy(r, ("no response (send: %s, read: %s) %s"):format(tostring(ok or err), tostring(rerr),
      h.show(partial or "")))
    return r, be.stats().requests - before - 1
  end

  local function headers(n, size)
    local t = {}
    for i = 1, n do t[#t + 1] = { ("X-H%03d"):format(i), ("v"):rep(size or 8) } end
    return t
  end

  it("answers 414 for a URL over maxUrlBytes, without calling the backend", function()
    local r, reached = exchange(h.request { path = "/echo/" .. ("a"):rep(9000) })
    assert.are.equal(414, r.status)
    assert.are.equal(0, reached)
  end)

  it("accepts a URL under maxUrlBytes", function()
    local path = "/echo/" .. ("b"):rep(8000)
    local r = exchange(h.request { path = path })
    assert.are.equal(200, r.status)
    assert.are.equal("/v1/" .. ("b"):rep(8000), h.parse_echo(r.body).target)
  end)

  it("answers 431 for a head over maxHeaderBytes (one big header)", function()
    local r, reached = exchange(h.request { path = "/echo/big-header", headers = { { "X-Big", ("x"):rep(20000) } } })
    assert.are.equal(431, r.status)
    assert.are.equal(0, reached)
  end)

  it("answers 431 for a head over maxHeaderBytes (many headers under maxHeaders)", function()
    local r, reached = exchange(h.request { path = "/echo/many-bytes", headers = headers(50, 400) })
    assert.are.equal(431, r.status)
    assert.are.equal(0, reached)
  end)

  it("accepts a head under maxHeaderBytes", function()
    local r = exchange(h.request { path = "/echo/ok-header", headers = { { "X-Big", ("x"):rep(12000) } } })
    assert.are.equal(200, r.status)
    assert.are.equal(("x"):rep(12000), h.parse_echo(r.body):header("X-Big"))
  end)

  it("answers 431 for more than maxHeaders headers", function()
    -- Host + 100 = 101 headers
    local r, reached = exchange(h.request { path = "/echo/many", headers = headers(100) })
    assert.are.equal(431, r.status)
    assert.are.equal(0, reached)
  end)

  it("accepts exactly maxHeaders headers", function()
    -- Host + 99 = 100 headers
    local r = exchange(h.request { path = "/echo/hundred", headers = headers(99) })
    assert.are.equal(200, r.status)
    assert.are.equal("vvvvvvvv", h.parse_echo(r.body):header("X-H099"))
  end)

  it("answers 413 for a Content-Length over maxBodyBytes, without calling the backend", function()
    local r, reached = exchange("POST /echo/too-big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1001\r\n\r\n")
    assert.are.equal(413, r.status)
    assert.are.equal(0, reached)
  end)

  it("answers 413 instead of 100 Continue when the announced body is over maxBodyBytes", function()
    local c = h.must_connect(gw.port)
    assert.is_true(c:send("POST /echo/expect-big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n"
      .. "Expect: 100-continue\r\n\r\n"))
    local r, err = c:read_response { timeout = 2 }
    c:close()
    assert.is_truthy(r, "no answer before the body was sent: " .. tostring(err))
    assert.are.equal(413, r.status, h.show(r.raw_head))
  end)

  it("accepts a body of exactly maxBodyBytes", function()
    local body = ("k"):rep(1000)
    local r = exchange(h.request { method = "POST", path = "/echo/just-fits", body = body })
    assert.are.equal(200, r.status)
    assert.are.equal(body, h.parse_echo(r.body).body)
  end)

  it("answers 413 for a chunked body that grows over maxBodyBytes", function()
    local r, reached = exchange(h.request { method = "POST", path = "/echo/chunked-too-big",
      chunks = { ("a"):rep(600), ("b"):rep(600) } })
    assert.are.equal(413, r.status)
    assert.are.equal(0, reached, "the backend completed a request whose body was over the limit")
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("08 timeouts", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "timeouts" }
    gw = h.start_gateway(h.config {
      timeouts = { headerRead = "1s", idle = "1s" },
      apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } },
    })
  end)

  teardown(h.cleanup)

  -- Trickles `rest` one byte every 200 ms until the gateway closes the
  -- connection; returns seconds from `t0` to the close, or nil after `limit`.
  local function trickle(c, rest, t0, limit)
    local i = 1
    while h.now() - t0 < limit do
      if i <= #rest then
        local ok = c:send(rest:sub(i, i))
        i = i + 1
        if not ok then return h.now() - t0 end
      end
      local data, err = c:recv_some(0.2)
      if err == "closed" then return h.now() - t0 end
      if data then
        -- a 408 (or any answer) is fine; keep waiting for the close
        c.got = (c.got or "") .. data
      end
    end
    return nil
  end

  local slow_head = "GET /echo/slow HTTP/1.1\r\nHost: localhost\r\nX-Slow: " .. ("z"):rep(200) .. "\r\n\r\n"

  it("cuts a client that trickles its head at headerRead (1s)", function()
    local c = h.must_connect(gw.port)
    local t0 = h.now()
    local took = trickle(c, slow_head, t0, 5)
    c:close()
    assert.is_truthy(took, "the trickling client was still connected after 5 s")
    assert.is_true(took >= 0.8 and took <= 3, ("closed after %.2f s (expected ~1-3 s)"):format(took))
  end)

  it("cuts a client that trickles the head of its second request on a keep-alive connection", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/first" }
    assert.are.equal(200, r.status)
    local t0 = h.now()
    local took = trickle(c, slow_head, t0, 5)
    c:close()
    assert.is_truthy(took, "the trickling client was still connected after 5 s")
    assert.is_true(took >= 0.8 and took <= 3, ("closed after %.2f s (expected ~1-3 s)"):format(took))
  end)

  it("closes an idle keep-alive connection after idle (1s)", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/then-idle" }
    assert.are.equal(200, r.status)
    local t0 = h.now()
    local data, closed = c:read_all_until_close(4)
    local took = h.now() - t0
    c:close()
    assert.are.equal("", data)
    assert.is_true(closed, "the idle connection was still open after 4 s")
    assert.is_true(took >= 0.8 and took <= 2.5, ("closed after %.2f s (expected ~1 s)"):format(took))
  end)

  it("closes a connection that never sends a request", function()
    local c = h.must_connect(gw.port)
    local t0 = h.now()
    local _, closed = c:read_all_until_close(4)
    local took = h.now() - t0
    c:close()
    assert.is_true(closed, "a silent connection was still open after 4 s")
    assert.is_true(took >= 0.8 and took <= 3, ("closed after %.2f s"):format(took))
  end)

  it("does not apply the idle timeout to a request in flight", function()
    local c = h.must_connect(gw.port)
    local t0 = h.now()
    local r = c:request({ path = "/echo/slow-backend", headers = { { "X-Test-Delay", "1500" } } }, { timeout = 5 })
    assert.are.equal(200, r.status)
    assert.is_true(h.now() - t0 >= 1.4)
    assert.are.equal("/v1/slow-backend", h.parse_echo(r.body).target)
    c:close()
  end)

  it("does not apply the idle timeout while a response streams to a slow reader", function()
    local c = h.must_connect(gw.port)
    assert.is_true(c:send(h.request { path = "/echo/slow-reader", headers = { { "X-Test-Body-Bytes", tostring(64 << 20) } } }))
    local r = assert(c:read_response { head = true })
    assert.are.equal(200, r.status)
    -- read 64 MiB over ~2.5 s: the connection is busy, not idle
    local got, want = 0, 64 << 20
    local t0 = h.now()
    while got < want and h.now() - t0 < 10 do
      local _, n, err = c:read_n(math.min(want - got, 4 << 20), h.now() + 5, function() end)
      got = got + n
      if err then break end
      h.sleep(0.15)
    end
    c:close()
    assert.are.equal(want, got, "the download was cut")
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
