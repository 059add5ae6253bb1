-- Strict parsing against request smuggling: ambiguous framing and malformed
-- heads get 400 and a closed connection, and nothing reaches the backend;
-- malformed backend responses get 502 and the upstream connection is dropped.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local SMUGGLED = "GET /echo/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"

describe("07 request smuggling and strict parsing", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "strict" }
    gw = h.start_gateway(h.config {
      apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } },
    })
  end)

  teardown(h.cleanup)

  -- Sends raw bytes; expects 400, then the connection closed with nothing
  -- more, and no request completed at the backend.
  local function rejects(raw, what)
    local before = be.stats().requests
    local c = h.must_connect(gw.port)
    assert.is_true(c:send(raw))
    local r, err, partial = c:read_response()
    assert.is_truthy(r, what .. ": no response (" .. tostring(err) .. ") " .. h.show(partial or ""))
    assert.are.equal(400, r.status, what .. ": " .. h.show(r.raw_head .. (r.body or "")))
    local closed = c:closed_eventually(1)
    local extra = c.extra or ""
    assert.are.equal("", extra, what .. ": more bytes after the 400 (the smuggled request was answered): "
      .. h.show(extra, 300) .. (closed and "" or "\nand the connection stayed open"))
    assert.is_true(closed, what .. ": the connection stayed open after the 400")
    c:close()
    -- the only new completed request is the second stats request
    assert.are.equal(before + 1, be.stats().requests, what .. ": the backend received a request")
    return r
  end

  -- The gateway still works after the rejection, and cleanly.
  local function still_serves()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/ok" }
    c:close()
    assert.are.equal(200, r.status)
    assert.are.equal("GET /v1/ok HTTP/1.1", h.parse_echo(r.body).request_line)
  end

  it("rejects Content-Length together with Transfer-Encoding", function()
    rejects("POST /echo/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "0\r\n\r\n" .. SMUGGLED, "CL+TE")
    rejects("POST /echo/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
      .. "0\r\n\r\n" .. SMUGGLED, "TE+CL")
    still_serves()
  end)

  it("rejects two different Content-Length headers", function()
    rejects("POST /echo/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
      .. SMUGGLED, "two Content-Length")
    rejects("POST /echo/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 6\r\n\r\nhello!" .. SMUGGLED,
      "Content-Length list")
    still_serves()
  end)

  it("rejects a Transfer-Encoding whose final coding is not chunked", function()
    rejects("POST /echo/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"
      .. SMUGGLED, "TE chunked, gzip")
  end)

  it("rejects a bad chunk size", function()
    rejects("POST /echo/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
      .. SMUGGLED, "chunk size zz")
    rejects("POST /echo/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "fffffffffffffffff1\r\nhello\r\n0\r\n\r\n" .. SMUGGLED, "overflowing chunk size")
    still_serves()
  end)

  it("rejects a bad chunk size that arrives after the head was forwarded, and drops that backend connection", function()
    local c = h.must_connect(gw.port)
    assert.is_true(c:send("POST /echo/late HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"))
    h.sleep(0.3)
    assert.is_true(c:send("zz\r\nworld\r\n0\r\n\r\n" .. SMUGGLED))
    local r, err = c:read_response()
    assert.is_truthy(r, "no response: " .. tostring(err))
    assert.are.equal(400, r.status)
    assert.is_true(c:closed_eventually(2), "the connection stayed open after the 400")
    assert.are.equal("", c.extra or "", "bytes after the 400: " .. h.show(c.extra or ""))
    c:close()
    -- the backend connection that carried the broken body must not be reused
    local c2 = h.must_connect(gw.port)
    local r2 = c2:request { path = "/echo/after-late" }
    c2:close()
    assert.are.equal(200, r2.status)
    assert.are.equal("GET /v1/after-late HTTP/1.1", h.parse_echo(r2.body).request_line)
    assert.are.equal("1", r2:header("X-Req-Index"), "a backend connection was reused after a framing error")
  end)

  it("rejects obs-fold (a header line starting with whitespace)", function()
    rejects("GET /echo/x HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n" .. SMUGGLED, "obs-fold (space)")
    rejects("GET /echo/x HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n\tb\r\n\r\n" .. SMUGGLED, "obs-fold (tab)")
  end)

  it("rejects whitespace between a header name and the colon", function()
    rejects("GET /echo/x HTTP/1.1\r\nHost : localhost\r\n\r\n" .. SMUGGLED, "Host : x")
    rejects("POST /echo/x HTTP/1.1\r\nHost: localhost\r\nContent-Length : 5\r\n\r\nhello" .. SMUGGLED,
      "Content-Length : 5")
  end)

  it("rejects an HTTP/1.1 request without Host", function()
    rejects("GET /echo/x HTTP/1.1\r\nX-A: b\r\n\r\n" .. SMUGGLED, "missing Host")
  end)

  it("rejects an HTTP/1.1 request with two Host headers", function()
    rejects("GET /echo/x HTTP/1.1\r\nHost: localhost\r\nHost: other\r\n\r\n" .. SMUGGLED, "two Host headers")
  end)

  it("accepts an HTTP/1.0 request without Host", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/old", version = "1.0", host = false }
    c:close()
    assert.are.equal(200, r.status)
    assert.are.equal("/v1/old", h.parse_echo(r.body).target)
  end)

  it("rejects dot segments", function()
    rejects("GET /echo/../x HTTP/1.1\r\nHost: localhost\r\n\r\n", "/echo/../x")
    rejects("GET /echo/a/../../x HTTP/1.1\r\nHost: localhost\r\n\r\n", "/echo/a/../../x")
    rejects("GET /echo/./x HTTP/1.1\r\nHost: localhost\r\n\r\n", "/echo/./x")
    rejects("GET /echo/a/.. HTTP/1.1\r\nHost: localhost\r\n\r\n", "/echo/a/..")
  end)

  it("rejects percent-encoded dot segments", function()
    rejects("GET /echo/%2e%2e/x HTTP/1.1\r\nHost: localhost\r\n\r\n", "/echo/%2e%2e/x")
    rejects("GET /echo/a/%2E%2E/%2e%2E/x HTTP/1.1\r\nHost: localhost\r\n\r\n", "/echo/a/%2E%2E/%2e%2E/x")
  end)

  for _, mode in ipairs { "1", "cl" } do
    it("answers 502 to a malformed backend response (X-Test-Malformed: " .. mode .. ") and drops that connection", function()
      local c = h.must_connect(gw.port)
      local r1 = c:request { path = "/echo/before" }
      assert.are.equal(200, r1.status)
      local conn_before = r1:header("X-Conn-Id")
      local r = c:request { path = "/echo/malformed", headers = { { "X-Test-Malformed", mode } } }
      assert.are.equal(502, r.status, h.show(r.raw_head .. (r.body or "")))
      c:close()
      local c2 = h.must_connect(gw.port)
      local r2 = c2:request { path = "/echo/after" }
      c2:close()
      assert.are.equal(200, r2.status)
      assert.are.equal("GET /v1/after HTTP/1.1", h.parse_echo(r2.body).request_line)
      assert.are_not.equal(conn_before, r2:header("X-Conn-Id"),
        "the upstream connection that sent the malformed response was reused")
      assert.are.equal("1", r2:header("X-Req-Index"))
    end)
  end

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
