-- Downstream connection management: HTTP/1.1 keep-alive, pipelining in
-- order, HTTP/1.0 with and without keep-alive, Connection: close.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

describe("02 keep-alive and pipelining", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "echo" }
    gw = h.start_gateway(h.config {
      apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } },
    })
  end)

  teardown(h.cleanup)

  local function echo_of(r)
    assert.are.equal(200, r.status, h.show(r.raw_head .. (r.body or "")))
    return h.parse_echo(r.body)
  end

  it("serves 50 HTTP/1.1 requests on one client connection", function()
    local c = h.must_connect(gw.port)
    for i = 1, 50 do
      local r = c:request { path = "/echo/ka/" .. i }
      assert.are.equal("GET /v1/ka/" .. i .. " HTTP/1.1", echo_of(r).request_line)
      r:assert_complete("request " .. i)
      assert.is_false(r:has_token("Connection", "close"), "request " .. i .. " got Connection: close")
    end
    -- still open: nothing arrives and the peer has not closed
    local data, closed = c:read_all_until_close(0.2)
    assert.are.equal("", data)
    assert.is_false(closed, "the gateway closed a keep-alive connection")
    c:close()
  end)

  it("answers 10 pipelined requests sent in one write, in order", function()
    local c = h.must_connect(gw.port)
    local reqs = {}
    for i = 1, 10 do
      local t = { path = "/echo/pipe/" .. i }
      if i % 3 == 0 then
        t.method, t.body = "POST", ("body-%d-"):format(i):rep(i)
      end
      reqs[#reqs + 1] = h.request(t)
    end
    assert.is_true(c:send(table.concat(reqs)))
    for i = 1, 10 do
      local r, err = c:read_response()
      assert.is_truthy(r, "response " .. i .. ": " .. tostring(err))
      local e = echo_of(r)
      local method = i % 3 == 0 and "POST" or "GET"
      assert.are.equal(method .. " /v1/pipe/" .. i .. " HTTP/1.1", e.request_line)
      if i % 3 == 0 then
        assert.are.equal(("body-%d-"):format(i):rep(i), e.body)
      end
    end
    c:close()
  end)

  it("keeps pipelined answers in order when the first one is slow", function()
    local c = h.must_connect(gw.port)
    local data = h.request { path = "/echo/slow", headers = { { "X-Test-Delay", "300" } } }
      .. h.request { path = "/echo/fast1" }
      .. h.request { path = "/echo/fast2" }
    assert.is_true(c:send(data))
    for _, p in ipairs { "/v1/slow", "/v1/fast1", "/v1/fast2" } do
      local r, err = c:read_response()
      assert.is_truthy(r, p .. ": " .. tostring(err))
      assert.are.equal("GET " .. p .. " HTTP/1.1", echo_of(r).request_line)
    end
    c:close()
  end)

  it("closes an HTTP/1.0 connection without keep-alive after the response", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/old", version = "1.0" }
    assert.are.equal("/v1/old", echo_of(r).target)
    r:assert_complete()
    assert.is_nil(r:header("Transfer-Encoding"), "chunked response to an HTTP/1.0 client")
    assert.is_true(c:closed(2), "the gateway did not close the HTTP/1.0 connection")
  end)

  it("keeps an HTTP/1.0 connection with Connection: keep-alive open", function()
    local c = h.must_connect(gw.port)
    for i = 1, 3 do
      local r = c:request { path = "/echo/old-ka/" .. i, version = "1.0", headers = { { "Connection", "keep-alive" } } }
      assert.are.equal("/v1/old-ka/" .. i, echo_of(r).target)
      assert.is_true(r:has_token("Connection", "keep-alive"),
        "an HTTP/1.0 keep-alive response must say Connection: keep-alive:\n" .. h.show(r.raw_head))
      assert.is_not_nil(r:header("Content-Length"), "a persistent HTTP/1.0 response needs a Content-Length")
    end
    local data, closed = c:read_all_until_close(0.2)
    assert.are.equal("", data)
    assert.is_false(closed, "the gateway closed an HTTP/1.0 keep-alive connection")
    c:close()
  end)

  it("honours Connection: close (announces it and closes)", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/bye", headers = { { "Connection", "close" } } }
    assert.are.equal("/v1/bye", echo_of(r).target)
    assert.is_true(r:has_token("Connection", "close"), "response lacks Connection: close:\n" .. h.show(r.raw_head))
    assert.is_true(c:closed(2), "the gateway did not close after Connection: close")
  end)

  it("does not answer a request pipelined after Connection: close", function()
    local c = h.must_connect(gw.port)
    local before = be.stats().requests
    assert.is_true(c:send(h.request { path = "/echo/last", headers = { { "Connection", "close" } } }
      .. h.request { path = "/echo/after-close" }))
    local r = assert(c:read_response())
    assert.are.equal("/v1/last", echo_of(r).target)
    assert.is_true(c:closed(2), "expected the connection to close after the Connection: close request; got:\n"
      .. h.show(c.extra or ""))
    -- one proxied request plus the second stats request
    assert.are.equal(before + 2, be.stats().requests, "the backend saw the request sent after Connection: close")
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("02 two workers", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "echo2" }
    gw = h.start_gateway(h.config {
      workers = 2,
      apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } },
    })
  end)

  teardown(h.cleanup)

  it("serves 20 concurrent keep-alive connections, each in order", function()
    local cs = {}
    for i = 1, 20 do cs[i] = h.must_connect(gw.port) end
    for round = 1, 5 do
      for i, c in ipairs(cs) do
        assert.is_true(c:send(h.request { path = ("/echo/w/%d/%d"):format(i, round) }))
      end
      for i, c in ipairs(cs) do
        local r, err = c:read_response()
        assert.is_truthy(r, ("connection %d round %d: %s"):format(i, round, tostring(err)))
        assert.are.equal(200, r.status)
        assert.are.equal(("/v1/w/%d/%d"):format(i, round), h.parse_echo(r.body).target)
      end
    end
    for _, c in ipairs(cs) do c:close() end
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
