-- Upstream keep-alive pools: reuse, stale connections retried once, no replay
-- of a request the backend may have processed, max requests per connection,
-- idle timeout, max idle per origin.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

describe("05 upstream pool", function()
  teardown(h.cleanup)

  -- A fresh backend and gateway for each test, so the backend's counters
  -- count only that test's traffic.
  local function fresh(pool)
    local be = h.start_backend { name = "pool" }
    local gw = h.start_gateway(h.config {
      pool = pool,
      apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } },
    })
    return be, gw
  end

  local function ok200(r, what)
    assert.are.equal(200, r.status, (what or "") .. "\n" .. h.show(r.raw_head .. (r.body or "")))
    return r
  end

  it("reuses one backend connection for 20 sequential requests on one client connection", function()
    local be, gw = fresh()
    local c = h.must_connect(gw.port)
    local ids = {}
    for i = 1, 20 do
      local r = ok200(c:request { path = "/echo/seq/" .. i })
      ids[r:header("X-Conn-Id")] = true
      assert.are.equal(tostring(i), r:header("X-Req-Index"), "request " .. i .. " did not reuse the connection")
    end
    c:close()
    local n = 0
    for _ in pairs(ids) do n = n + 1 end
    assert.are.equal(1, n, "backend connections used")
    -- the gateway's one connection plus this stats request's own
    assert.are.equal(2, be.stats().connections)
    gw.stop()
  end)

  it("reuses one backend connection across 20 client connections", function()
    local be, gw = fresh()
    local first
    for i = 1, 20 do
      local c = h.must_connect(gw.port)
      local r = ok200(c:request { path = "/echo/sep/" .. i })
      c:close()
      first = first or r:header("X-Conn-Id")
      assert.are.equal(first, r:header("X-Conn-Id"), "request " .. i .. " used another backend connection")
    end
    assert.are.equal(2, be.stats().connections)
    gw.stop()
  end)

  it("still answers a GET after the backend closed the pooled connection (right away)", function()
    local be, gw = fresh()
    local c = h.must_connect(gw.port)
    for i = 1, 5 do
      local r1 = ok200(c:request { path = "/echo/drop/" .. i, headers = { { "X-Test-Close", "after" } } })
      -- sent at once: the gateway may not have seen the FIN yet
      local r2 = ok200(c:request { path = "/echo/next/" .. i }, "GET after the backend dropped the pooled connection")
      assert.are_not.equal(r1:header("X-Conn-Id"), r2:header("X-Conn-Id"))
      assert.are.equal("/v1/next/" .. i, h.parse_echo(r2.body).target)
    end
    c:close()
    -- each of the 10 requests completed once at the backend, plus this stats request
    assert.are.equal(11, be.stats().requests)
    gw.stop()
  end)

  it("still answers a GET after the backend closed the pooled connection (a moment later)", function()
    local _, gw = fresh()
    local c = h.must_connect(gw.port)
    local r1 = ok200(c:request { path = "/echo/drop", headers = { { "X-Test-Close", "after" } } })
    h.sleep(0.2)
    local r2 = ok200(c:request { path = "/echo/later" })
    assert.are_not.equal(r1:header("X-Conn-Id"), r2:header("X-Conn-Id"))
    c:close()
    gw.stop()
  end)

  it("never delivers a POST twice after the backend dropped the pooled connection", function()
    local be, gw = fresh()
    local c = h.must_connect(gw.port)
    local posts = 0
    for i = 1, 5 do
      ok200(c:request { path = "/echo/warm/" .. i, headers = { { "X-Test-Close", "after" } } })
      local r = c:request { method = "POST", path = "/echo/post/" .. i, body = "payload-" .. i }
      if r.status == 200 then
        posts = posts + 1
        assert.are.equal("payload-" .. i, h.parse_echo(r.body).body)
      else
        assert.is_true(r.status == 500 or r.status == 502, "unexpected status " .. r.status)
        -- the client connection may be closed after an error: reconnect
        c:close()
        c = h.must_connect(gw.port)
      end
    end
    c:close()
    -- completed requests: 5 warm-ups, the POSTs that succeeded, this stats request
    assert.are.equal(5 + posts + 1, be.stats().requests, "the backend saw a POST more than once")
    gw.stop()
  end)

  for _, mode in ipairs { "before", "reset" } do
    it("does not replay a POST the backend read and then dropped (X-Test-Close: " .. mode .. ", pooled connection)", function()
      local be, gw = fresh()
      local c = h.must_connect(gw.port)
      local warm = ok200(c:request { path = "/echo/warm" })
      local r = c:request { method = "POST", path = "/echo/once", body = "do-not-replay",
        headers = { { "X-Test-Close", mode } } }
      assert.is_true(r.status == 500 or r.status == 502, "status " .. r.status)
      c:close()
      local st = be.stats()
      -- one backend connection for warm-up and POST, one for the stats request:
      -- a second gateway connection would be the POST replayed
      assert.are.equal(2, st.connections, "the gateway replayed the POST on a new connection")
      assert.are.equal("1", warm:header("X-Conn-Id"))
      gw.stop()
    end)
  end

  it("does not replay a POST on a fresh connection the backend dropped", function()
    local be, gw = fresh()
    local c = h.must_connect(gw.port)
    local r = c:request { method = "POST", path = "/echo/once", body = "x", headers = { { "X-Test-Close", "before" } } }
    assert.is_true(r.status == 500 or r.status == 502, "status " .. r.status)
    c:close()
    assert.are.equal(2, be.stats().connections, "the gateway replayed the POST on a new connection")
    gw.stop()
  end)

  it("opens a new backend connection after maxRequestsPerConnection: 3", function()
    local be, gw = fresh { maxRequestsPerConnection = 3 }
    local c = h.must_connect(gw.port)
    local conns, idx = {}, {}
    for i = 1, 7 do
      local r = ok200(c:request { path = "/echo/max/" .. i })
      conns[i], idx[i] = r:header("X-Conn-Id"), r:header("X-Req-Index")
    end
    c:close()
    assert.are.same({ "1", "2", "3", "1", "2", "3", "1" }, idx)
    assert.is_true(conns[1] == conns[3] and conns[4] == conns[6], table.concat(conns, ","))
    assert.is_true(conns[1] ~= conns[4] and conns[4] ~= conns[7] and conns[1] ~= conns[7], table.concat(conns, ","))
    -- retired connections are closed, not leaked: open = the third one + the stats request's
    local st = h.wait_for(function()
      local s = be.stats()
      return s.open == 2 and s, s
    end, 3, 0.05)
    assert.are.equal(2, st.open, "backend connections still open")
    assert.are.equal(4, st.connections)
    gw.stop()
  end)

  it("closes idle backend connections after pool.idleTimeout", function()
    local be, gw = fresh { idleTimeout = "300ms" }
    local c = h.must_connect(gw.port)
    local r1 = ok200(c:request { path = "/echo/idle1" })
    -- the gateway closes its idle connection: only the stats request's stays open
    local closed = h.wait_for(function() return be.stats().open == 1 end, 3, 0.1)
    assert.is_true(closed == true, "the idle backend connection was not closed after 300ms")
    local r2 = ok200(c:request { path = "/echo/idle2" })
    assert.are_not.equal(r1:header("X-Conn-Id"), r2:header("X-Conn-Id"))
    c:close()
    gw.stop()
  end)

  it("keeps at most maxIdlePerOrigin idle connections", function()
    local be, gw = fresh { maxIdlePerOrigin = 1 }
    local cs = {}
    for i = 1, 3 do
      cs[i] = h.must_connect(gw.port)
      assert.is_true(cs[i]:send(h.request { path = "/echo/par/" .. i, headers = { { "X-Test-Delay", "300" } } }))
    end
    local ids = {}
    for i = 1, 3 do
      local r = assert(cs[i]:read_response())
      ok200(r)
      ids[r:header("X-Conn-Id")] = true
      cs[i]:close()
    end
    local n = 0
    for _ in pairs(ids) do n = n + 1 end
    assert.are.equal(3, n, "three concurrent requests need three backend connections")
    -- two of them are closed: one idle connection + the stats request's stay open
    local st = h.wait_for(function()
      local s = be.stats()
      return s.open == 2 and s, s
    end, 3, 0.05)
    assert.are.equal(2, st.open, "idle backend connections kept beyond maxIdlePerOrigin: 1")
    gw.stop()
  end)
end)
