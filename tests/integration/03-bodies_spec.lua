-- Bodies both ways: Content-Length and chunked requests, chunked and
-- close-delimited responses re-framed for 1.1 and 1.0 clients, HEAD, 204,
-- 304, Expect: 100-continue.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

-- Decodes a chunked body strictly; returns payload, chunk sizes, or nil+err.
local function dechunk(s)
  local pos, out, sizes = 1, {}, {}
  while true do
    local line_end = s:find("\r\n", pos, true)
    if not line_end then return nil, "no chunk size line at " .. pos end
    local hex = s:sub(pos, line_end - 1):match("^(%x+)$")
    if not hex then return nil, "bad chunk size line " .. h.show(s:sub(pos, line_end - 1)) end
    local n = tonumber(hex, 16)
    sizes[#sizes + 1] = n
    pos = line_end + 2
    if n == 0 then
      if s:sub(pos) ~= "\r\n" then return nil, "bad chunked trailer section: " .. h.show(s:sub(pos)) end
      return table.concat(out), sizes
    end
    out[#out + 1] = s:sub(pos, pos + n - 1)
    if #out[#out] ~= n then return nil, "short chunk" end
    pos = pos + n
    if s:sub(pos, pos + 1) ~= "\r\n" then return nil, "chunk not followed by CRLF" end
    pos = pos + 2
  end
end

-- Every byte value, then a pseudo-random tail.
local function binary_payload(n)
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  local seed = 12345
  for _ = 257, n do
    seed = (seed * 1103515245 + 12345) % 2147483648
    t[#t + 1] = string.char(seed % 256)
  end
  return table.concat(t):sub(1, n)
end

describe("03 bodies", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "echo" }
    gw = h.start_gateway(h.config {
      apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } },
    })
  end)

  teardown(h.cleanup)

  it("forwards a Content-Length body byte-exact", function()
    local body = binary_payload(200 * 1024)
    local c = h.must_connect(gw.port)
    local r = c:request { method = "POST", path = "/echo/upload", body = body,
      headers = { { "Content-Type", "application/octet-stream" } } }
    assert.are.equal(200, r.status)
    assert.are.equal(tostring(#body), r:header("X-Body-Bytes"))
    local e = h.parse_echo(r.body)
    assert.are.equal("POST /v1/upload HTTP/1.1", e.request_line)
    assert.are.same({ tostring(#body) }, e:header_all("Content-Length"))
    assert.is_nil(e:header("Transfer-Encoding"))
    assert.is_true(e.body == body, "the backend received a different body (" .. #e.body .. " bytes)")
    c:close()
  end)

  it("forwards an empty POST with Content-Length: 0", function()
    local c = h.must_connect(gw.port)
    local r = c:request { method = "POST", path = "/echo/empty", body = "" }
    assert.are.equal(200, r.status)
    assert.are.equal("0", r:header("X-Body-Bytes"))
    assert.are.equal("", h.parse_echo(r.body).body)
    -- the connection is still in sync
    r = c:request { path = "/echo/next" }
    assert.are.equal("/v1/next", h.parse_echo(r.body).target)
    c:close()
  end)

  it("forwards a chunked request body with valid chunked framing and the same payload", function()
    local pieces = { "a", "hello world", binary_payload(4096), ("x"):rep(70000), binary_payload(3) }
    local payload = table.concat(pieces)
    local c = h.must_connect(gw.port)
    local r = c:request { method = "POST", path = "/echo/chunked", chunks = pieces }
    assert.are.equal(200, r.status)
    assert.are.equal(tostring(#payload), r:header("X-Body-Bytes"))
    local e = h.parse_echo(r.body)
    assert.are.equal("POST /v1/chunked HTTP/1.1", e.request_line)
    assert.are.same({ "chunked" }, e:header_all("Transfer-Encoding"))
    assert.is_nil(e:header("Content-Length"), "the backend got both Content-Length and chunked")
    local got, sizes = dechunk(e.body)
    assert.is_truthy(got, "backend body is not valid chunked framing: " .. tostring(sizes) .. "\n" .. h.show(e.body, 300))
    assert.is_true(got == payload, "payload differs after chunked forwarding")
    -- the connection is still in sync
    r = c:request { path = "/echo/after-chunked" }
    assert.are.equal("/v1/after-chunked", h.parse_echo(r.body).target)
    c:close()
  end)

  it("accepts chunk extensions and forwards the same payload", function()
    local c = h.must_connect(gw.port)
    local raw = "POST /echo/ext HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    local r = c:request(raw)
    assert.are.equal(200, r.status)
    assert.are.equal("11", r:header("X-Body-Bytes"))
    local got = dechunk((h.parse_echo(r.body).body:gsub(";name=value", "")))
    assert.are.equal("hello world", got)
    c:close()
  end)

  it("sends a chunked backend response to an HTTP/1.1 client chunked", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/chunked-resp",
      headers = { { "X-Test-Chunked", "1" }, { "X-Test-Body-Bytes", "200000" } } }
    assert.are.equal(200, r.status)
    assert.are.equal("chunked", r.framing, h.show(r.raw_head))
    assert.is_nil(r:header("Content-Length"))
    r:assert_complete()
    assert.are.equal(200000, r.body_bytes)
    assert.is_true(r.body == h.pattern(200000), "body differs from the generated pattern")
    r = c:request { path = "/echo/after" }
    assert.are.equal("/v1/after", h.parse_echo(r.body).target)
    c:close()
  end)

  it("sends a chunked backend response to an HTTP/1.0 client close-delimited", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/chunked-old", version = "1.0",
      headers = { { "X-Test-Chunked", "1" }, { "X-Test-Body-Bytes", "150000" } } }
    assert.are.equal(200, r.status)
    assert.is_nil(r:header("Transfer-Encoding"), "chunked sent to an HTTP/1.0 client:\n" .. h.show(r.raw_head))
    r:assert_complete()
    assert.are.equal(150000, r.body_bytes)
    assert.is_true(r.body == h.pattern(150000), "body differs from the generated pattern")
    assert.is_true(c:closed(2), "the connection stayed open after an HTTP/1.0 response")
  end)

  it("sends a close-delimited backend response to an HTTP/1.1 client chunked", function()
    local c = h.must_connect(gw.port)
    local r = c:request { path = "/echo/nolen",
      headers = { { "X-Test-No-Length", "1" }, { "X-Test-Body-Bytes", "100000" } } }
    assert.are.equal(200, r.status)
    assert.are.equal("chunked", r.framing, h.show(r.raw_head))
    r:assert_complete()
    assert.is_true(r.body == h.pattern(100000), "body differs from the generated pattern")
    -- the backend's Connection: close is hop-by-hop: the client connection stays usable
    r = c:request { path = "/echo/after-nolen" }
    assert.are.equal("/v1/after-nolen", h.parse_echo(r.body).target)
    c:close()
  end)

  it("answers HEAD with the headers and no body, and the connection stays in sync", function()
    local c = h.must_connect(gw.port)
    local r = c:request { method = "HEAD", path = "/echo/head", headers = { { "X-Test-Body-Bytes", "5000" } } }
    assert.are.equal(200, r.status)
    assert.are.equal("5000", r:header("Content-Length"))
    assert.are.equal("echo", r:header("X-Backend-Name"))
    r = c:request { method = "HEAD", path = "/echo/head-chunked",
      headers = { { "X-Test-Chunked", "1" }, { "X-Test-Body-Bytes", "5000" } } }
    assert.are.equal(200, r.status)
    -- no body bytes may follow: the next response must start right away
    r = c:request { path = "/echo/after-head" }
    assert.are.equal(200, r.status)
    assert.are.equal("/v1/after-head", h.parse_echo(r.body).target)
    local data = c:read_all_until_close(0.2)
    assert.are.equal("", data, "stray bytes after the responses")
    c:close()
  end)

  for _, status in ipairs { 204, 304 } do
    it("passes a " .. status .. " on without a body and keeps the connection usable", function()
      local c = h.must_connect(gw.port)
      assert.is_true(c:send(h.request { path = "/echo/s" .. status, headers = { { "X-Test-Status", tostring(status) } } }
        .. h.request { path = "/echo/after-" .. status }))
      local r = assert(c:read_response())
      assert.are.equal(status, r.status)
      assert.is_nil(r:header("Transfer-Encoding"), h.show(r.raw_head))
      if status == 204 then
        assert.is_nil(r:header("Content-Length"), "a 204 must not carry Content-Length:\n" .. h.show(r.raw_head))
      end
      local r2, err, partial = c:read_response()
      assert.is_truthy(r2, "no clean response after the " .. status .. ": " .. tostring(err) .. " " .. h.show(partial or ""))
      assert.are.equal(200, r2.status)
      assert.are.equal("/v1/after-" .. status, h.parse_echo(r2.body).target)
      c:close()
    end)
  end

  it("answers Expect: 100-continue with 100 Continue before the body and strips Expect", function()
    local c = h.must_connect(gw.port)
    local body = "hello-continue"
    assert.is_true(c:send("POST /echo/expect HTTP/1.1\r\nHost: localhost\r\nContent-Length: " .. #body
      .. "\r\nExpect: 100-continue\r\n\r\n"))
    local r, err, partial = c:read_response { timeout = 2 }
    assert.is_truthy(r, "no interim response before the body was sent: " .. tostring(err) .. " " .. h.show(partial or ""))
    assert.are.equal("HTTP/1.1 100 Continue", r.status_line)
    assert.is_true(c:send(body))
    r = assert(c:read_response())
    assert.are.equal(200, r.status)
    local e = h.parse_echo(r.body)
    assert.are.equal(body, e.body)
    assert.is_nil(e:header("Expect"), "the backend received the Expect header")
    r = c:request { path = "/echo/after-expect" }
    assert.are.equal("/v1/after-expect", h.parse_echo(r.body).target)
    c:close()
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
