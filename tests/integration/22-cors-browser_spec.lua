-- CORS (issue 6) proven from a real browser: Debian's Chromium, headless,
-- loads a page (fixtures/traffic/cors-page.html) from one loopback origin
-- (a small luasocket static server, fixtures/traffic/static-server.lua) whose
-- script calls the gateway on another origin (another port) and writes what
-- the browser let it see into the DOM (--dump-dom).
--
--   allowed origin     a simple GET gets the response (an exposed header
--                      readable, an unexposed one not); a preflighted PUT with
--                      a custom header goes through; a credentialed GET too;
--                      a method or header the policy does not allow is blocked
--   other origin       everything is blocked by the browser
--   preflights         answered by the gateway: the backend never sees OPTIONS
--                      (its request counter), the access log has them
--
-- Skipped (pending) only when Chromium is not installed (`make test` installs
-- it: PKGS_TEST in the Makefile).
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local FIX = h.root .. "/tests/integration/fixtures/traffic"

local function fix(name) return '"' .. FIX .. "/" .. name .. '"' end

local function chromium_path()
  for _, p in ipairs { "/usr/bin/chromium", "/usr/bin/chromium-browser" } do
    if h.file_exists(p) then return p end
  end
  local p = io.popen("command -v chromium 2>/dev/null")
  local out = p:read("a")
  p:close()
  out = out:gsub("%s+$", "")
  return out ~= "" and out or nil
end

local function html_unescape(s)
  return (s:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"'):gsub("&#39;", "'")
    :gsub("&nbsp;", " "):gsub("&amp;", "&"))
end

describe("22 CORS from a real browser", function()
  local chromium = chromium_path()
  local be, gw, allowed, other, allowed_origin

  -- Starts the static server on a free port serving `root`; returns it with .origin.
  local function start_static(name, root)
    local p = h.spawn("static-" .. name, { "lua5.4", FIX .. "/static-server.lua", "0", root })
    local port = h.wait_for(function() return tonumber(p:stdout():match("listening (%d+)")) end, 10, 0.02)
    assert.is_truthy(port, "the static server did not start: " .. p:stderr())
    return { proc = p, port = port, origin = "http://127.0.0.1:" .. port }
  end

  setup(function()
    if not chromium then return end
    be = h.start_backend { name = "main" }
    local root_ok = h.subdir("www-allowed")
    local root_other = h.subdir("www-other")
    allowed = start_static("allowed", root_ok)
    other = start_static("other", root_other)
    allowed_origin = allowed.origin
    local yaml = h.gateway_yaml { id = "edge-22", workers = 2 }
      .. ([[
namedValues:
  allowed-origin: { value: "%s" }
apis:
  cors:
    path: cors
    serviceUrl: "%s/svc"
    subscriptionRequired: false
    policy: %s
  corscred:
    path: corscred
    serviceUrl: "%s/cred"
    subscriptionRequired: false
    policy: %s
]]):format(allowed_origin, be.url, fix("cors.xml"), be.url, fix("cors-credentials.xml"))
    gw = h.start_gateway(yaml)
    local page = h.read_file(FIX .. "/cors-page.html"):gsub("GATEWAY", "http://127.0.0.1:" .. gw.port)
    h.write_file(root_ok .. "/index.html", page)
    h.write_file(root_other .. "/index.html", page)
  end)

  teardown(h.cleanup)

  local function requests_of(b) return b.stats().requests end

  -- Loads `url` in headless Chromium (a fresh profile) and returns the page's
  -- results (decoded from #result) keyed by name, and the dumped DOM.
  local function browse(url)
    local profile = h.subdir(("chromium-profile-%d"):format(math.random(1, 1e9)))
    local err_path = profile .. ".stderr"
    local cmd = table.concat({
      "timeout 40", h.sq(chromium),
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage", "--user-data-dir=" .. h.sq(profile),
      "--virtual-time-budget=15000", "--dump-dom", h.sq(url),
      "2>" .. h.sq(err_path),
    }, " ")
    local p = assert(io.popen(cmd, "r"))
    local dom = p:read("a")
    p:close()
    local text = dom:match('<pre id="result">(.-)</pre>')
    assert.is_truthy(text and text ~= "pending", ("the page did not finish (result %s); DOM:\n%s\nchromium stderr:\n%s")
      :format(tostring(text), h.show(dom, 3000), h.tail(h.read_file(err_path) or "", 3000)))
    local ok, list = pcall(h.json_decode, html_unescape(text))
    assert.is_true(ok and type(list) == "table", "#result is not JSON: " .. h.show(text))
    local by = {}
    for _, r in ipairs(list) do by[r.name] = r end
    return by, dom
  end

  -- one result of the page, for messages
  local function show(r)
    if not r then return "no result" end
    if not r.ok then return tostring(r.error) end
    return tostring(r.status) .. " " .. h.show(r.body or "", 400)
  end

  it("answers a preflight itself, with the Access-Control-* headers, without calling the backend", function()
    if not chromium then
      pending("chromium is not installed (Debian package 'chromium'; `make test` installs it)")
      return
    end
    local before = requests_of(be)
    local r = h.fetch(gw.port, { method = "OPTIONS", path = "/cors/put", headers = {
      { "Origin", allowed_origin }, { "Access-Control-Request-Method", "PUT" },
      { "Access-Control-Request-Headers", "x-custom,content-type" } } })
    assert.are.equal(200, r.status, h.show(r.raw_head .. (r.body or "")))
    assert.are.equal(allowed_origin, r:header("Access-Control-Allow-Origin"))
    assert.is_true(r:has_token("Access-Control-Allow-Methods", "PUT"), "Access-Control-Allow-Methods: "
      .. tostring(r:header("Access-Control-Allow-Methods")))
    assert.is_true(r:has_token("Access-Control-Allow-Headers", "x-custom"), "Access-Control-Allow-Headers: "
      .. tostring(r:header("Access-Control-Allow-Headers")))
    assert.is_true(r:has_token("Access-Control-Allow-Headers", "content-type"))
    assert.are.equal("300", r:header("Access-Control-Max-Age"))
    assert.is_nil(r:header("X-Backend-Name"), "the backend answered the preflight")
    -- a preflight from another origin gets no Access-Control-Allow-Origin
    local o = h.fetch(gw.port, { method = "OPTIONS", path = "/cors/put", headers = {
      { "Origin", other.origin }, { "Access-Control-Request-Method", "PUT" } } })
    assert.are.equal(200, o.status)
    assert.is_nil(o:header("Access-Control-Allow-Origin"), "a preflight from another origin was allowed")
    assert.are.equal(before + 1, requests_of(be), "a preflight reached the backend (+1: the stats request)")
  end)

  it("lets a page from the allowed origin read the responses (simple GET, preflighted PUT, credentials)", function()
    if not chromium then
      pending("chromium is not installed (Debian package 'chromium'; `make test` installs it)")
      return
    end
    local before = requests_of(be)
    local log_before = #gw.access_log_lines()
    local res = browse(allowed.origin .. "/")

    local get = res["simple-get"]
    assert.is_truthy(get and get.ok, "simple GET: " .. show(get))
    assert.are.equal(200, get.status)
    local e = h.parse_echo(get.body)
    assert.are.equal("GET /svc/simple?x=1 HTTP/1.1", e.request_line)
    assert.are.same({ allowed.origin }, e:header_all("Origin"), "the Origin the browser sent")
    assert.are.equal("main", get.exposed, "an exposed response header was not readable")
    assert.are.equal(h.null, get.hidden, "a header that is not exposed was readable: " .. tostring(get.hidden))

    local put = res["preflighted-put"]
    assert.is_truthy(put and put.ok, "preflighted PUT: " .. show(put))
    assert.are.equal(200, put.status)
    e = h.parse_echo(put.body)
    assert.are.equal("PUT /svc/put HTTP/1.1", e.request_line)
    assert.are.same({ "custom-22" }, e:header_all("X-Custom"))
    assert.are.equal('{"n":22}', e.body)

    local cred = res["credentialed-get"]
    assert.is_truthy(cred and cred.ok, "credentialed GET: " .. show(cred))
    assert.are.equal("GET /cred/c HTTP/1.1", h.parse_echo(cred.body).request_line)

    -- what the policy does not allow stays blocked for the allowed origin too
    local del = res["method-not-allowed"]
    assert.is_truthy(del and del.ok == false, "DELETE (not an allowed method) was let through: " .. show(del))
    local hdr = res["header-not-allowed"]
    assert.is_truthy(hdr and hdr.ok == false, "X-Other (not an allowed header) was let through: " .. show(hdr))

    -- the backend got exactly the three allowed requests: no preflight, no DELETE,
    -- no GET with X-Other (+1: the stats request)
    assert.are.equal(before + 3 + 1, requests_of(be), "requests the backend received")
    -- the gateway answered the preflights itself
    local preflights = 0
    h.wait_for(function()
      preflights = 0
      local lines = gw.access_log_lines()
      for i = log_before + 1, #lines do
        local ok, v = pcall(h.json_decode, lines[i])
        if ok and v.method == "OPTIONS" then
          assert.are.equal(200, v.status, lines[i])
          assert.are.equal(h.null, v.backend, "a preflight went to a backend: " .. lines[i])
          preflights = preflights + 1
        end
      end
      return preflights >= 3
    end, 3, 0.05)
    -- at least one per preflighted request (PUT with X-Custom, DELETE, GET with X-Other);
    -- Chromium may repeat one (its preflight cache is per network partition), and
    -- every one of them was answered by the gateway (checked above, line by line)
    assert.is_true(preflights >= 3, "preflights in the access log: " .. preflights)
  end)

  it("blocks every call from a page on another origin; nothing reaches the backend", function()
    if not chromium then
      pending("chromium is not installed (Debian package 'chromium'; `make test` installs it)")
      return
    end
    local before = requests_of(be)
    local res = browse(other.origin .. "/")
    for _, name in ipairs { "simple-get", "preflighted-put", "credentialed-get", "method-not-allowed", "header-not-allowed" } do
      local r = res[name]
      assert.is_truthy(r, "no result for " .. name)
      assert.is_false(r.ok, name .. " from a disallowed origin was readable: " .. show(r))
      assert.is_truthy(tostring(r.error):find("TypeError", 1, true), name .. ": " .. tostring(r.error))
    end
    -- terminate-unmatched-request (default true): unmatched GETs and preflights
    -- end at the gateway with an empty 200 (+1: the stats request)
    assert.are.equal(before + 1, requests_of(be), "requests from a disallowed origin reached the backend")
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    if not chromium then
      pending("chromium is not installed")
      return
    end
    gw.stop()
  end)
end)
