-- Header handling: hop-by-hop fields removed both ways, Via both ways,
-- X-Forwarded-For/-Proto/-Host, end-to-end headers kept.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local list_of = h.header_list

local function names_of(msg)
  local t = {}
  for _, hd in ipairs(msg.headers) do t[#t + 1] = hd[1] end
  return table.concat(t, ", ")
end

describe("06 headers", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "hdr" }
    gw = h.start_gateway(h.config {
      id = "edge-1",
      apis = { echo = { path = "echo", serviceUrl = be.url .. "/v1" } },
    })
  end)

  teardown(h.cleanup)

  local function via_gateway(t)
    local c = h.must_connect(gw.port)
    local r = c:request(t)
    c:close()
    assert.are.equal(200, r.status, h.show(r.raw_head .. r.body))
    return r, h.parse_echo(r.body)
  end

  it("removes hop-by-hop request headers, including those Connection lists", function()
    local _, e = via_gateway { path = "/echo/hop", headers = {
      { "Connection", "X-Foo, keep-alive" },
      { "X-Foo", "secret" },
      { "Keep-Alive", "timeout=5" },
      { "TE", "trailers" },
      { "Upgrade", "websocket" },
      { "Proxy-Connection", "keep-alive" },
      { "Trailer", "X-T" },
      { "X-Keep", "kept" },
    } }
    for _, name in ipairs { "X-Foo", "Keep-Alive", "TE", "Upgrade", "Proxy-Connection", "Trailer" } do
      assert.is_nil(e:header(name), name .. " reached the backend (headers: " .. names_of(e) .. ")")
    end
    assert.is_nil(e.raw_head:find("secret", 1, true), "the value of a Connection-listed header reached the backend")
    for _, tok in ipairs(list_of(e, "Connection")) do
      assert.are_not.equal("x-foo", tok:lower(), "the client's Connection header reached the backend")
    end
    assert.are.same({ "kept" }, e:header_all("X-Keep"))
  end)

  it("keeps repeated end-to-end request headers in order", function()
    local _, e = via_gateway { path = "/echo/dup", headers = {
      { "X-Dup", "one" }, { "X-Other", "o" }, { "X-Dup", "two" },
    } }
    assert.are.same({ "one", "two" }, list_of(e, "X-Dup"))
    assert.are.same({ "o" }, e:header_all("X-Other"))
  end)

  it("removes hop-by-hop response headers, including those Connection lists", function()
    local r = via_gateway { path = "/echo/hop-resp", headers = { { "X-Test-Hop", "1" } } }
    for _, name in ipairs { "X-Hop-Secret", "Keep-Alive", "Proxy-Connection", "Trailer", "Upgrade" } do
      assert.is_nil(r:header(name), name .. " reached the client:\n" .. h.show(r.raw_head))
    end
    for _, tok in ipairs(list_of(r, "Connection")) do
      assert.are_not.equal("x-hop-secret", tok:lower(), "the backend's Connection header reached the client")
    end
    assert.are.equal("hdr", r:header("X-Backend-Name"))
  end)

  it("adds Via: 1.1 edge-1 to the request and the response", function()
    local r, e = via_gateway { path = "/echo/via" }
    assert.are.same({ "1.1 edge-1" }, list_of(e, "Via"))
    assert.are.same({ "1.1 edge-1" }, list_of(r, "Via"))
  end)

  it("appends to an existing Via", function()
    local _, e = via_gateway { path = "/echo/via2", headers = { { "Via", "1.0 proxy-a" } } }
    assert.are.same({ "1.0 proxy-a", "1.1 edge-1" }, list_of(e, "Via"))
  end)

  it("sets X-Forwarded-For to the client address", function()
    local _, e = via_gateway { path = "/echo/xff" }
    assert.are.same({ "127.0.0.1" }, list_of(e, "X-Forwarded-For"))
  end)

  it("appends the client address to X-Forwarded-For", function()
    local _, e = via_gateway { path = "/echo/xff2", headers = { { "X-Forwarded-For", "10.0.0.1" } } }
    assert.are.same({ "10.0.0.1, 127.0.0.1" }, e:header_all("X-Forwarded-For"))
  end)

  it("appends to repeated X-Forwarded-For headers in order", function()
    local _, e = via_gateway { path = "/echo/xff3", headers = {
      { "X-Forwarded-For", "10.0.0.1" }, { "X-Forwarded-For", "10.0.0.2" } } }
    assert.are.same({ "10.0.0.1", "10.0.0.2", "127.0.0.1" }, list_of(e, "X-Forwarded-For"))
  end)

  it("sets X-Forwarded-Proto: http and X-Forwarded-Host to the client's Host", function()
    local _, e = via_gateway { path = "/echo/xfp", host = "client.example:8080" }
    assert.are.same({ "http" }, e:header_all("X-Forwarded-Proto"))
    assert.are.same({ "client.example:8080" }, e:header_all("X-Forwarded-Host"))
    assert.are.same({ "127.0.0.1:" .. be.port }, e:header_all("Host"))
  end)

  it("replaces a client-supplied X-Forwarded-Proto", function()
    local _, e = via_gateway { path = "/echo/xfp2", headers = { { "X-Forwarded-Proto", "https" } } }
    assert.are.same({ "http" }, e:header_all("X-Forwarded-Proto"))
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
