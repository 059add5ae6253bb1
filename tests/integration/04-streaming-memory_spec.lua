-- Streaming with backpressure: 1 GiB down and 1 GiB up through the gateway,
-- byte counts exact; with the release build, the gateway's RSS stays under
-- 32 MiB during the transfers (the sanitizers inflate RSS, so the ASan build
-- only proves correctness and a clean exit).
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local GIB = 1024 * 1024 * 1024
local PIECE = 64 * 1024
local RSS_LIMIT_KIB = 32 * 1024

-- A sink that counts bytes, checks them against the backend's 16-byte
-- pattern, and samples the gateway's RSS every `every` pieces.
local function pattern_sink(gw, every)
  local block = h.pattern(PIECE + 32)
  local s = { bytes = 0, bad = 0, first_bad = nil, max_rss = 0, pieces = 0 }
  function s.sample()
    local v = gw.rss_kib()
    if v and v > s.max_rss then s.max_rss = v end
  end
  function s.fn(piece)
    local off = s.bytes % 16
    local n = #piece
    local i = 1
    while i <= n do
      local len = math.min(PIECE, n - i + 1)
      if piece:sub(i, i + len - 1) ~= block:sub(off + 1, off + len) then
        s.bad = s.bad + 1
        s.first_bad = s.first_bad or (s.bytes + i - 1)
      end
      off = (off + len) % 16
      i = i + len
    end
    s.bytes = s.bytes + n
    s.pieces = s.pieces + 1
    if s.pieces % every == 0 then s.sample() end
  end
  return s
end

local function download(gw, c, bytes, sink, timeout)
  local r = c:request({ path = "/echo/download", headers = { { "X-Test-Body-Bytes", tostring(bytes) } } },
    { timeout = timeout or 120, sink = sink.fn })
  return r
end

-- Streams a `bytes`-long upload in 64 KiB pieces, sampling RSS as it goes.
local function upload(gw, c, bytes, every)
  local piece = ("u"):rep(PIECE)
  local max_rss = 0
  assert.is_true(c:send("POST /echo/upload HTTP/1.1\r\nHost: localhost\r\nX-Test-Drain: 1\r\nContent-Length: "
    .. bytes .. "\r\n\r\n"))
  local sent = 0
  local n = 0
  while sent < bytes do
    local len = math.min(PIECE, bytes - sent)
    local ok, err = c:send(len == PIECE and piece or piece:sub(1, len))
    assert.is_true(ok == true, ("upload send failed after %d bytes: %s"):format(sent, tostring(err)))
    sent = sent + len
    n = n + 1
    if n % every == 0 then
      local v = gw.rss_kib()
      if v and v > max_rss then max_rss = v end
    end
  end
  local r, err = c:read_response { timeout = 60 }
  assert.is_truthy(r, "no response to the upload: " .. tostring(err))
  return r, max_rss
end

local function config(be, bin)
  return h.config {
    -- the release build may lag behind the source (it is built by `make build`)
    no_subscription_key = bin and not h.accepts_api_key(bin, "subscriptionRequired"),
    limits = { maxBodyBytes = 4 * GIB },
    apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } },
  }
end

describe("04 streaming (" .. h.build .. ")", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "stream" }
    gw = h.start_gateway(config(be))
  end)

  teardown(h.cleanup)

  it("streams a 1 GiB download intact", function()
    local c = h.must_connect(gw.port)
    local s = pattern_sink(gw, 1024)
    local r = download(gw, c, GIB, s)
    assert.are.equal(200, r.status)
    assert.is_true(r.complete, "download incomplete after " .. s.bytes .. " bytes: " .. tostring(r.err))
    assert.are.equal(GIB, s.bytes)
    assert.are.equal(0, s.bad, "corrupted pieces, first at byte " .. tostring(s.first_bad))
    -- the connection is still usable
    r = c:request { path = "/echo/after" }
    assert.are.equal(200, r.status)
    c:close()
  end)

  it("streams a 1 GiB upload and the backend counts every byte", function()
    local c = h.must_connect(gw.port)
    local r = upload(gw, c, GIB, 4096)
    assert.are.equal(200, r.status)
    assert.are.equal(tostring(GIB), r:header("X-Body-Bytes"))
    local e = h.parse_echo(r.body)
    assert.are.equal("POST /v1/upload HTTP/1.1", e.request_line)
    c:close()
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("04 gateway RSS during 1 GiB transfers (release build)", function()
  local rel_portico = h.release_build .. "/portico"
  local rel_backend = h.release_build .. "/pt-test-backend"
  local have_release = h.file_exists(rel_portico) and h.file_exists(rel_backend)

  if not have_release then
    pending("RSS bound not measured: no release build at " .. h.release_build
      .. " (run `make build` or set PORTICO_RELEASE_BUILD); the ASan build inflates RSS")
    return
  end

  local be, gw

  setup(function()
    be = h.start_backend { name = "stream-rel", bin = rel_backend }
    gw = h.start_gateway(config(be, rel_portico), { bin = rel_portico })
  end)

  teardown(h.cleanup)

  it("keeps RSS under 32 MiB during a 1 GiB download", function()
    local c = h.must_connect(gw.port)
    local s = pattern_sink(gw, 64)
    s.sample()
    local r = download(gw, c, GIB, s)
    s.sample()
    assert.are.equal(200, r.status)
    assert.are.equal(GIB, s.bytes)
    assert.are.equal(0, s.bad, "corrupted pieces, first at byte " .. tostring(s.first_bad))
    assert.is_true(s.max_rss > 0, "RSS was never sampled")
    assert.is_true(s.max_rss < RSS_LIMIT_KIB, ("gateway RSS reached %d KiB (limit %d KiB)"):format(s.max_rss, RSS_LIMIT_KIB))
    c:close()
  end)

  it("keeps RSS under 32 MiB while a client stops reading a 1 GiB download (backpressure)", function()
    local c = h.must_connect(gw.port)
    assert.is_true(c:send(h.request { path = "/echo/stall", headers = { { "X-Test-Body-Bytes", tostring(GIB) } } }))
    local r = assert(c:read_response { timeout = 10, sink = function() end, head = true })
    assert.are.equal(200, r.status)
    local body_len = tonumber(r:header("Content-Length"))
    assert.are.equal(GIB, body_len)
    -- read 4 MiB, then stop reading: without backpressure the gateway would
    -- buffer what the backend keeps sending at loopback speed
    local s = pattern_sink(gw, 1 << 30)
    local _, got = c:read_n(4 * 1024 * 1024, h.now() + 10, s.fn)
    assert.are.equal(4 * 1024 * 1024, got)
    local deadline = h.now() + 1.5
    while h.now() < deadline do
      s.sample()
      h.sleep(0.1)
    end
    local stalled_max = s.max_rss
    local _, rest, err = c:read_n(GIB - got, h.now() + 120, s.fn)
    assert.are.equal(GIB - got, rest, "the rest of the download: " .. tostring(err))
    assert.are.equal(0, s.bad, "corrupted pieces, first at byte " .. tostring(s.first_bad))
    assert.is_true(stalled_max < RSS_LIMIT_KIB,
      ("gateway RSS reached %d KiB while the client was not reading (limit %d KiB)"):format(stalled_max, RSS_LIMIT_KIB))
    c:close()
  end)

  it("keeps RSS under 32 MiB during a 1 GiB upload", function()
    local c = h.must_connect(gw.port)
    local before = gw.rss_kib()
    local r, max_rss = upload(gw, c, GIB, 64)
    assert.are.equal(200, r.status)
    assert.are.equal(tostring(GIB), r:header("X-Body-Bytes"))
    max_rss = math.max(max_rss, before or 0, gw.rss_kib() or 0)
    assert.is_true(max_rss < RSS_LIMIT_KIB, ("gateway RSS reached %d KiB (limit %d KiB)"):format(max_rss, RSS_LIMIT_KIB))
    c:close()
  end)

  it("exits 0 on SIGTERM", function()
    gw.stop()
  end)
end)
