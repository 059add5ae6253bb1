-- Hot reload: policy documents, the configuration and custom Lua policy
-- modules change on a running gateway (same process) within 2 s; a broken edit
-- (XML, YAML, Lua) leaves the previous generation serving and is reported with
-- its location in stderr, /status and `portico reload`; SIGHUP, POST /reload
-- and `portico reload -c` trigger reloads; the admin listener wants its bearer
-- token; a request in flight finishes on the generation it started on; keep-alive
-- connections move to the new generation at their next request; listener
-- changes keep established connections; the admin token never leaks.
--
-- Every gateway here has 2 workers: each worker has its own per-generation
-- state, and "the old generation keeps serving" must hold on all of them, so
-- checks are made over many fresh connections (spread over the workers by
-- SO_REUSEPORT), not one.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local TOKEN = "pt-admin-Q7rT2w9Kp4vX8mNz" -- the admin token: must never be shown
local AUTH = "Bearer " .. TOKEN
local VISIBLE = 2.0 -- seconds within which an edit must be visible
local SPREAD = 12 -- fresh connections used to reach every worker

local seq = 0
local function testdir()
  seq = seq + 1
  return "t" .. seq, h.subdir("t" .. seq)
end

-- A policy document that sets X-Version on the request (the backend echoes it).
local function policy(version)
  return ([[<policies>
  <inbound>
    <base />
    <set-header name="X-Version" exists-action="override">
      <value>%s</value>
    </set-header>
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>
]]):format(version)
end

-- The same with an XML syntax error on line 4 (the tag is never closed).
local BROKEN_XML = [[<policies>
  <inbound>
    <base />
    <set-header name="X-Version" exists-action="override"
      <value>broken</value>
    </set-header>
  </inbound>
</policies>
]]

-- A whole configuration. o: port (data listener; nil = {{PORT}}), ports (a
-- list: several listeners), admin (admin port), apis (YAML text under
-- `apis:`), gateway_extra (more lines under `gateway:`), named (more lines
-- under `namedValues:`), token_line (replaces the admin-token named value).
local function config(o)
  local head = h.gateway_yaml { port = o.port, workers = 2 }
  if o.ports then
    local quoted = {}
    for i, p in ipairs(o.ports) do quoted[i] = '"127.0.0.1:' .. p .. '"' end
    head = head:gsub('listen: %[[^\n]*%]', "listen: [" .. table.concat(quoted, ", ") .. "]")
  end
  return head
    .. ('  admin: { listen: "127.0.0.1:%d", token: "{{admin-token}}" }\n'):format(o.admin)
    .. (o.gateway_extra or "")
    .. "namedValues:\n"
    .. (o.token_line or ('  admin-token: { value: "%s", secret: true }\n'):format(TOKEN))
    .. (o.named or "")
    .. "apis:\n" .. o.apis
end

-- The `apis:` entry for one open API.
local function api(id, path, url, extra)
  return ("  %s:\n    path: %s\n    serviceUrl: \"%s\"\n    subscriptionRequired: false\n%s")
    :format(id, path, url, extra or "")
end

local function status(admin)
  local r, v = h.admin_request(admin, "GET", "/status", AUTH)
  assert.are.equal(200, r.status, "GET /status: " .. h.show(r.raw_head .. (r.body or "")))
  assert.is_truthy(v, "/status is not a JSON object: " .. h.show(r.body))
  return v, r.body
end

-- Waits until /status satisfies pred(status); returns the last status seen.
local function wait_status(admin, pred, timeout)
  local st
  h.wait_for(function()
    st = status(admin)
    return pred(st)
  end, timeout or VISIBLE, 0.03)
  return st
end

local function describe_status(st)
  local lr = st.lastReload or {}
  return ("generation %s, lastReload ok=%s trigger=%s errors=[%s]"):format(tostring(st.generation),
    tostring(lr.ok), tostring(lr.trigger), table.concat(lr.errors or {}, " | "))
end

-- One request on a fresh connection; returns the response and, when the
-- backend answered, its echo of what it received.
local function get(port, path, headers)
  local r = h.fetch(port, { path = path, headers = headers })
  local echo = (r.status == 200 and r:header("X-Backend-Name")) and h.parse_echo(r.body) or nil
  return r, echo
end

-- The X-Version the backend received for one fresh request (nil if none).
local function version(port, path)
  local r, echo = get(port, path or "/echo/v")
  if r.status ~= 200 or not echo then return nil, r end
  return echo:header("X-Version"), r
end

-- Waits (at most VISIBLE seconds) until a fresh request carries X-Version
-- `want`; asserts it did and returns how long it took.
local function wait_version(port, want, what)
  local t0 = h.now()
  local got, r
  h.wait_for(function()
    got, r = version(port)
    return got == want
  end, VISIBLE + 0.5, 0.02)
  local took = h.now() - t0
  assert.are.equal(want, got, ("%s: X-Version still %s after %.2f s (last response %s)")
    :format(what, tostring(got), took, r and h.show(r.status_line) or "?"))
  assert.is_true(took <= VISIBLE, ("%s: visible only after %.2f s (expected within %.1f s)"):format(what, took, VISIBLE))
  return took
end

-- Asserts that SPREAD fresh connections all see X-Version `want` (every
-- worker serves the same generation).
local function assert_all(port, want, what)
  local seen = {}
  for i = 1, SPREAD do
    local got, r = version(port)
    seen[#seen + 1] = ("%s(%s)"):format(tostring(got), r and r.status or "?")
    if got ~= want then
      assert.are.equal(want, got, ("%s: request %d of %d on a fresh connection saw X-Version %s (status %s); all so far: %s")
        :format(what, i, SPREAD, tostring(got), r and tostring(r.status) or "?", table.concat(seen, " ")))
    end
  end
end

-- Asserts a reload error names `file` with line and column: "...file:L:C: message".
local function assert_located(err, file, what)
  local pat = "^[^%s]*" .. file:gsub("%p", "%%%0") .. ":%d+:%d+: %S"
  assert.is_truthy(tostring(err):match(pat),
    ("%s: error does not start with %s:line:col: %s"):format(what, file, h.show(err)))
end

local function assert_no_token(text, what)
  local i = tostring(text):find(TOKEN, 1, true)
  assert.is_true(i == nil, ("%s shows the admin token: ...%s..."):format(what,
    h.show(tostring(text):sub(math.max(1, (i or 1) - 200), (i or 1) + 60))))
end

describe("15 hot reload", function()
  local A, B

  setup(function()
    A = h.start_backend { name = "a" }
    B = h.start_backend { name = "b" }
  end)

  teardown(h.cleanup)

  -- Starts a gateway with one API `echo` on A whose policy is dir/policy.xml.
  local function start_policy_gateway(name, first)
    local pfile = name .. "/policy.xml"
    h.write_file(h.tmpdir() .. "/" .. pfile, policy(first))
    local o = { admin = h.free_port(), port = h.free_port() }
    o.apis = api("echo", "echo", A.url .. "/v1", "    policy: " .. pfile .. "\n")
    local gw = h.start_gateway(config(o))
    gw.admin, gw.o, gw.policy_path = o.admin, o, h.tmpdir() .. "/" .. pfile
    return gw
  end

  it("a policy edit is visible within 2 s in the same process; keep-alive connections move at their next request", function()
    local name = testdir()
    local gw = start_policy_gateway(name, "one")
    assert_all(gw.port, "one", "at start")
    local st0 = status(gw.admin)
    assert.are.equal("start", st0.lastReload and st0.lastReload.trigger, describe_status(st0))
    assert.is_true(st0.lastReload.ok == true, describe_status(st0))
    assert.are.equal(2, #(st0.workers or {}), "/status workers: expected 2")

    local ka = h.must_connect(gw.port)
    local r = ka:request { path = "/echo/ka-1" }
    assert.are.equal(200, r.status)
    assert.are.equal("one", h.parse_echo(r.body):header("X-Version"))

    h.write_file(gw.policy_path, policy("two"))
    wait_version(gw.port, "two", "policy edit one -> two")
    assert_all(gw.port, "two", "after the edit")

    r = ka:request { path = "/echo/ka-2" }
    assert.are.equal(200, r.status, "the keep-alive connection after the reload")
    assert.are.equal("two", h.parse_echo(r.body):header("X-Version"),
      "a keep-alive connection opened before the reload still runs the old generation")
    ka:close()

    assert.is_true(gw.alive(), "the gateway process is gone")
    local st = wait_status(gw.admin, function(s) return s.generation == st0.generation + 1 end, 1)
    assert.are.equal(st0.generation + 1, st.generation, describe_status(st))
    assert.are.equal("file", st.lastReload.trigger, describe_status(st))
    assert.is_true(st.lastReload.ok == true, describe_status(st))
    assert.are.equal(gw.pid, gw.proc.pid)
    gw.stop()
  end)

  it("a broken policy (XML) leaves the previous generation serving on every worker; /status and stderr locate the error", function()
    local name = testdir()
    local gw = start_policy_gateway(name, "one")
    h.write_file(gw.policy_path, policy("two"))
    wait_version(gw.port, "two", "policy edit one -> two")
    local good = status(gw.admin)

    h.write_file(gw.policy_path, BROKEN_XML)
    local st = wait_status(gw.admin, function(s) return s.lastReload and s.lastReload.ok == false end)
    assert.is_true(st.lastReload.ok == false, "no failed reload reported after the broken XML: " .. describe_status(st))
    assert.are.equal(good.generation, st.generation, "a broken policy produced a generation: " .. describe_status(st))
    assert.are.equal("file", st.lastReload.trigger)
    assert.is_true(#st.lastReload.errors >= 1, "no errors in /status")
    assert.is_truthy(gw.stderr_text():find("policy.xml:5:7:", 1, true),
      "stderr does not locate the XML error at policy.xml:5:7:\n" .. h.tail(gw.stderr_text()))
    -- give every worker time to have met the broken file, then check all of them
    h.sleep(0.3)
    assert_all(gw.port, "two", "while the policy file is broken")
    assert_located(st.lastReload.errors[1], "policy.xml", "/status after the broken XML")

    -- repaired: the next version goes live
    h.write_file(gw.policy_path, policy("three"))
    wait_version(gw.port, "three", "policy repaired (three)")
    st = wait_status(gw.admin, function(s) return s.lastReload.ok == true end)
    assert.is_true(st.lastReload.ok == true, describe_status(st))
    assert.are.equal(good.generation + 1, st.generation, describe_status(st))
    assert.are.equal(gw.pid, gw.proc.pid)
    gw.stop()
  end)

  it("a broken configuration (YAML) leaves the previous generation serving; /status and stderr locate the error", function()
    local name = testdir()
    local gw = start_policy_gateway(name, "one")
    h.write_file(gw.policy_path, policy("two"))
    wait_version(gw.port, "two", "policy edit one -> two")
    local good = status(gw.admin)

    local base = gw.config_path:match("([^/]+)$")
    local yaml_ok = h.read_file(gw.config_path)
    local yaml_bad = yaml_ok:gsub("\n    path: echo\n", "\n    path: [echo\n", 1)
    assert.are_not.equal(yaml_ok, yaml_bad)
    h.write_file(gw.config_path, yaml_bad)
    local st = wait_status(gw.admin, function(s) return s.lastReload.ok == false end)
    assert.is_true(st.lastReload.ok == false, "no failed reload reported after the broken YAML: " .. describe_status(st))
    assert.are.equal(good.generation, st.generation, describe_status(st))
    assert.is_true(#st.lastReload.errors >= 1, "no errors in /status")
    assert.is_truthy(gw.stderr_text():find(base:gsub("%p", "%%%0") .. ":%d+:%d+:"),
      "stderr does not locate the YAML error:\n" .. h.tail(gw.stderr_text()))
    h.sleep(0.3)
    assert_all(gw.port, "two", "while the configuration is broken")
    assert_located(st.lastReload.errors[1], base, "/status after the broken YAML")

    h.write_file(gw.config_path, yaml_ok)
    st = wait_status(gw.admin, function(s) return s.lastReload.ok == true end)
    assert.is_true(st.lastReload.ok == true, "the repaired configuration did not load: " .. describe_status(st))
    assert.are.equal(good.generation + 1, st.generation, describe_status(st))
    assert_all(gw.port, "two", "after the configuration was repaired")
    assert.are.equal(gw.pid, gw.proc.pid)
    gw.stop()
  end)

  it("`portico reload -c` exits 1 printing the errors for a broken file, 0 once it is good", function()
    local name = testdir()
    local gw = start_policy_gateway(name, "one")
    local st0 = status(gw.admin)

    h.write_file(gw.policy_path, BROKEN_XML)
    local rc, out = h.portico_command { "reload", "-c", gw.config_path }
    assert.are.equal(1, rc, "portico reload with a broken policy; output:\n" .. out)
    assert.is_truthy(out:find("policy.xml:%d+:%d+:"), "portico reload does not print the located error:\n" .. out)
    assert.is_truthy(out:find('"ok"%s*:%s*false'), "portico reload does not print the answer (ok: false):\n" .. out)
    assert_no_token(out, "portico reload (broken XML)")
    assert_all(gw.port, "one", "after a failed portico reload")

    h.write_file(gw.policy_path, policy("two"))
    local yaml_ok = h.read_file(gw.config_path)
    h.write_file(gw.config_path, (yaml_ok:gsub("\nnamedValues:\n", "\nnamedValues\n", 1)))
    rc, out = h.portico_command { "reload", "-c", gw.config_path }
    assert.are.equal(1, rc, "portico reload with a broken YAML file; output:\n" .. out)
    local base = gw.config_path:match("([^/]+)$")
    assert.is_truthy(out:find(base:gsub("%p", "%%%0") .. ":%d+:%d+:"), "portico reload does not locate the YAML error:\n" .. out)
    assert_no_token(out, "portico reload (broken YAML)")

    h.write_file(gw.config_path, yaml_ok)
    rc, out = h.portico_command { "reload", "-c", gw.config_path }
    assert.are.equal(0, rc, "portico reload with good files; output:\n" .. out)
    assert.is_truthy(out:find('"ok"%s*:%s*true'), "portico reload does not print the answer (ok: true):\n" .. out)
    assert_no_token(out, "portico reload (good)")
    local st = status(gw.admin)
    assert.are.equal("admin", st.lastReload.trigger, describe_status(st))
    assert.is_true(st.lastReload.ok == true, describe_status(st))
    assert.is_true(st.generation > st0.generation, describe_status(st))
    -- the answer came after the reload took effect: no waiting here
    assert_all(gw.port, "two", "right after portico reload exited 0")
    gw.stop()
  end)

  it("SIGHUP and POST /reload reload the running process", function()
    local name = testdir()
    local gw = start_policy_gateway(name, "one")
    local st0 = status(gw.admin)
    gw.signal("HUP")
    local st = wait_status(gw.admin, function(s) return s.generation == st0.generation + 1 end)
    assert.are.equal(st0.generation + 1, st.generation, "no new generation after SIGHUP: " .. describe_status(st))
    assert.are.equal("SIGHUP", st.lastReload.trigger, describe_status(st))
    assert.is_true(st.lastReload.ok == true, describe_status(st))
    assert.is_true(gw.alive(), "the gateway died on SIGHUP")
    assert_all(gw.port, "one", "after SIGHUP")

    local r, v = h.admin_request(gw.admin, "POST", "/reload", AUTH)
    assert.are.equal(200, r.status, "POST /reload: " .. h.show(r.raw_head .. (r.body or "")))
    assert.is_truthy(v, "POST /reload answer is not JSON: " .. h.show(r.body))
    assert.are.equal(st0.generation + 2, v.generation, r.body)
    assert.is_true(v.lastReload and v.lastReload.ok == true, r.body)
    assert.are.equal("admin", v.lastReload.trigger, r.body)

    h.write_file(gw.policy_path, BROKEN_XML)
    wait_status(gw.admin, function(s) return s.lastReload.ok == false end)
    r, v = h.admin_request(gw.admin, "POST", "/reload", AUTH)
    assert.are.equal(422, r.status, "POST /reload with a broken policy: " .. h.show(r.raw_head .. (r.body or "")))
    assert.is_truthy(v and v.lastReload, "422 answer without lastReload: " .. h.show(r.body))
    assert.is_true(v.lastReload.ok == false, r.body)
    assert.is_truthy(table.concat(v.lastReload.errors or {}, "\n"):find("policy.xml:5:7:", 1, true),
      "POST /reload 422 answer does not locate the error at policy.xml:5:7: " .. r.body)
    assert_all(gw.port, "one", "after the refused POST /reload")
    assert_located((v.lastReload.errors or {})[1], "policy.xml", "POST /reload 422 answer")
    gw.stop()
  end)

  it("the admin listener answers 401 without the bearer token or with a wrong one", function()
    local name = testdir()
    local gw = start_policy_gateway(name, "one")
    local st0 = status(gw.admin)
    local cases = {
      { "GET", "/status", nil },
      { "GET", "/status", "Bearer wrong-token-0123456789" },
      { "GET", "/status", "Bearer " .. TOKEN .. "x" },
      { "GET", "/status", "Bearer " .. TOKEN:sub(1, -2) },
      { "GET", "/status", "Basic " .. TOKEN },
      { "GET", "/status", TOKEN },
      { "POST", "/reload", nil },
      { "POST", "/reload", "Bearer wrong-token-0123456789" },
    }
    for _, c in ipairs(cases) do
      local r = h.admin_request(gw.admin, c[1], c[2], c[3])
      local what = ("%s %s with Authorization %s"):format(c[1], c[2], c[3] and ("'" .. c[3] .. "'") or "absent")
      assert.are.equal(401, r.status, what .. ": " .. h.show(r.raw_head .. (r.body or "")))
      assert_no_token(r.raw_head .. (r.body or ""), "the 401 answer")
    end
    local st = status(gw.admin)
    assert.are.equal(st0.generation, st.generation, "an unauthenticated POST /reload reloaded: " .. describe_status(st))
    assert.are.equal("start", st.lastReload.trigger, describe_status(st))
    gw.stop()
  end)

  it("a request in flight across a reload completes on its old generation; API edits (serviceUrl, path) apply within 2 s", function()
    local o = { admin = h.free_port(), port = h.free_port() }
    o.apis = api("echo", "echo", A.url .. "/v1")
    local gw = h.start_gateway(config(o))
    gw.admin = o.admin
    local r = get(gw.port, "/echo/warm")
    assert.are.equal("a", r:header("X-Backend-Name"))
    local st0 = status(gw.admin)

    local c = h.must_connect(gw.port)
    local t0 = h.now()
    assert.is_true(c:send(h.request { path = "/echo/slow", headers = { { "X-Test-Delay", "1500" } } }))
    h.sleep(0.15) -- the request reaches backend a (it answers after 1.5 s)

    o.apis = api("echo", "echo", B.url .. "/v2")
    h.replace_file(gw.config_path, config(o))
    local moved = h.wait_for(function()
      local rr = get(gw.port, "/echo/probe")
      return rr.status == 200 and rr:header("X-Backend-Name") == "b"
    end, VISIBLE, 0.02)
    local took = h.now() - t0
    assert.is_truthy(moved, ("serviceUrl edit a -> b not visible after %.2f s"):format(took))
    local r2, echo2 = get(gw.port, "/echo/new")
    assert.are.equal("/v2/new", echo2 and echo2.target, "a new request after the serviceUrl edit")

    -- while the slow request runs, /status counts it on the old generation
    local st = status(gw.admin)
    local old_in_flight, current
    for _, g in ipairs(st.generations or {}) do
      if g.current == true then current = g.generation
      elseif g.generation == st0.generation then old_in_flight = g.inFlight end
    end
    assert.are.equal(st0.generation + 1, current, "current generation in /status: " .. describe_status(st))
    assert.is_true(old_in_flight ~= nil and old_in_flight >= 1,
      ("/status does not show the old generation %d with the request in flight: generations = %s")
        :format(st0.generation, h.show(select(2, status(gw.admin)))))
    assert.is_true(h.now() - t0 < 1.4, "the reload took too long to test the in-flight request")

    local slow, err = c:read_response { timeout = 5 }
    assert.is_truthy(slow, "the in-flight request got no response: " .. tostring(err))
    assert.are.equal(200, slow.status)
    slow:assert_complete("in-flight response")
    assert.are.equal("a", slow:header("X-Backend-Name"), "the in-flight request did not finish on its old backend")
    assert.are.equal("/v1/slow", h.parse_echo(slow.body).target)
    assert.is_true(h.now() - t0 >= 1.4, "the in-flight response came before the backend's delay")

    -- the same keep-alive connection: its next request runs on the new generation
    r = c:request { path = "/echo/after" }
    assert.are.equal(200, r.status)
    assert.are.equal("b", r:header("X-Backend-Name"), "the keep-alive connection's next request used the old generation")
    c:close()

    -- the old generation goes away once its last request ended
    st = wait_status(gw.admin, function(s) return #(s.generations or {}) == 1 end)
    assert.are.equal(1, #st.generations, "old generations still listed after their requests ended: "
      .. h.show(select(2, status(gw.admin))))

    -- a path edit: /echo2 routes, /echo no longer does
    o.apis = api("echo", "echo2", B.url .. "/v2")
    h.write_file(gw.config_path, config(o))
    assert.is_truthy(h.wait_for(function() return get(gw.port, "/echo2/x").status == 200 end, VISIBLE, 0.02),
      "path edit echo -> echo2 not visible within 2 s")
    local gone = get(gw.port, "/echo/x")
    h.assert_apim_error(gone, 404)
    local _, e = get(gw.port, "/echo2/x")
    assert.are.equal("/v2/x", e.target)
    assert.are.equal(gw.pid, gw.proc.pid)
    gw.stop()
  end)

  it("an edit to a custom Lua policy module takes effect; a broken one leaves the previous module serving", function()
    local name, path = testdir()
    h.subdir(name .. "/mods")
    local mod_path = path .. "/mods/x-stamp.lua"
    local function module(value)
      return ([[
local M = {}
M.sections = { "inbound" }
function M.compile(node, c)
  return function(ctx)
    ctx.request.headers:set("X-Stamp", %q)
  end
end
return M
]]):format(value)
    end
    h.write_file(mod_path, module("alpha"))
    h.write_file(path .. "/policy.xml", [[<policies>
  <inbound><base /><x-stamp /></inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>
]])
    local o = { admin = h.free_port(), port = h.free_port() }
    o.gateway_extra = "  policyPaths: [" .. name .. "/mods]\n"
    o.apis = api("echo", "echo", A.url .. "/v1", "    policy: " .. name .. "/policy.xml\n")
    local gw = h.start_gateway(config(o))
    gw.admin = o.admin

    local function stamp()
      local r, echo = get(gw.port, "/echo/s")
      return echo and echo:header("X-Stamp"), r
    end
    local function assert_stamp_all(want, what)
      for i = 1, SPREAD do
        local got, r = stamp()
        assert.are.equal(want, got, ("%s: fresh request %d saw X-Stamp %s (status %s, body %s)")
          :format(what, i, tostring(got), tostring(r.status), h.show(r.body, 300)))
      end
    end
    assert_stamp_all("alpha", "at start")

    local t0 = h.now()
    h.replace_file(mod_path, module("beta"))
    local got = h.wait_for(function() return stamp() == "beta" end, VISIBLE + 0.5, 0.02)
    local took = h.now() - t0
    assert.is_truthy(got, ("module edit alpha -> beta not visible after %.2f s; status: %s")
      :format(took, describe_status(status(gw.admin))))
    assert.is_true(took <= VISIBLE, ("module edit visible only after %.2f s"):format(took))
    assert_stamp_all("beta", "after the module edit")

    -- a Lua syntax error on line 5
    h.write_file(mod_path, "local M = {}\nfunction M.compile(node, c)\n  return function(ctx)\n"
      .. "    ctx.request.headers:set('X-Stamp', 'gamma'\n  end\nend\nreturn M\n")
    local st = wait_status(gw.admin, function(s) return s.lastReload.ok == false end)
    assert.is_true(st.lastReload.ok == false, "the broken module was not reported: " .. describe_status(st))
    local errs = table.concat(st.lastReload.errors or {}, "\n")
    assert.is_truthy(errs:find("x%-stamp%.lua:%d+"), "/status does not name the module and line: " .. errs)
    h.sleep(0.3)
    assert_stamp_all("beta", "while the module is broken")
    gw.stop()
  end)

  it("a listener change keeps an established keep-alive connection; the new address accepts, the removed one stops", function()
    local p1, p2 = h.free_port(), h.free_port()
    local o = { admin = h.free_port(), port = p1, apis = api("echo", "echo", A.url .. "/v1") }
    local gw = h.start_gateway(config(o))
    local ka = h.must_connect(p1)
    assert.are.equal(200, ka:request({ path = "/echo/k1" }).status)
    assert.is_false(h.port_open(p2), "port " .. p2 .. " already taken")

    o.port = p2
    h.write_file(gw.config_path, config(o))
    assert.is_truthy(h.wait_for(function() return h.port_open(p2) end, VISIBLE, 0.02),
      "the new listen address does not accept within 2 s")
    local r = get(p2, "/echo/new")
    assert.are.equal(200, r.status, "request on the new address")
    assert.is_truthy(h.wait_for(function() return not h.port_open(p1) end, VISIBLE, 0.02),
      "the removed listen address still accepts connections 2 s after the reload")

    for i = 2, 4 do
      local rr = ka:request { path = "/echo/k" .. i }
      assert.are.equal(200, rr.status, "request " .. i .. " on the keep-alive connection established before the change")
      assert.are.equal("/v1/k" .. i, h.parse_echo(rr.body).target)
    end
    ka:close()

    -- two listeners at once, then back to one
    o.port, o.ports = nil, { p1, p2 }
    h.write_file(gw.config_path, config(o))
    assert.is_truthy(h.wait_for(function() return h.port_open(p1) end, VISIBLE, 0.02),
      "the re-added address does not accept within 2 s")
    assert.are.equal(200, get(p1, "/echo/both").status)
    assert.are.equal(200, get(p2, "/echo/both").status)
    gw.stop()
  end)

  it("the admin token appears nowhere: stderr, the access log, /status, reload answers", function()
    local name = testdir()
    local gw = start_policy_gateway(name, "one")
    local texts = {}
    local r, v = h.admin_request(gw.admin, "POST", "/reload", AUTH)
    assert.are.equal(200, r.status)
    texts[#texts + 1] = { "POST /reload", r.body }

    -- errors on the very lines that hold the token
    local o = gw.o
    o.token_line = ('  admin-token: { value: "%s", secret: true, secrte: true }\n'):format(TOKEN)
    h.write_file(gw.config_path, config(o))
    local st, raw = wait_status(gw.admin, function(s) return s.lastReload.ok == false end)
    assert.is_true(st.lastReload.ok == false, "an unknown key next to the token was accepted: " .. describe_status(st))
    texts[#texts + 1] = { "/status (unknown key beside the token)", raw }
    local rc, out = h.portico_command { "reload", "-c", gw.config_path }
    assert.are.equal(1, rc, out)
    texts[#texts + 1] = { "portico reload (unknown key beside the token)", out }
    rc, out = h.portico_command { "check", "-c", gw.config_path }
    texts[#texts + 1] = { "portico check", out }

    o.token_line = ('  admin-token: { value: "%s", secret: true }\n'):format(TOKEN)
    local cfg = config(o):gsub('token: "{{admin%-token}}"', 'token: "{{admin-tokn}}"')
    h.write_file(gw.config_path, cfg)
    st = wait_status(gw.admin, function(s) return s.lastReload.ok == false
      and table.concat(s.lastReload.errors, " "):find("admin%-tokn") end)
    assert.is_truthy(table.concat(st.lastReload.errors, " "):find("admin%-tokn"), describe_status(st))
    texts[#texts + 1] = { "/status (undefined name for the token)", select(2, status(gw.admin)) }

    h.write_file(gw.config_path, config(o))
    st, raw = wait_status(gw.admin, function(s) return s.lastReload.ok == true end)
    assert.is_true(st.lastReload.ok == true, describe_status(st))
    texts[#texts + 1] = { "/status (good again)", raw }
    r = h.admin_request(gw.admin, "GET", "/status", "Bearer nope-nope-nope-nope")
    texts[#texts + 1] = { "401 answer", r.raw_head .. r.body }

    assert_all(gw.port, "one", "after the token edits")
    local err = gw.stop()
    texts[#texts + 1] = { "stderr", err }
    texts[#texts + 1] = { "access log (stdout)", table.concat(gw.access_log_lines(), "\n") }
    for _, t in ipairs(texts) do assert_no_token(t[2], t[1]) end
  end)
end)
