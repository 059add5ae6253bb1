-- Policy errors (issue 5). Load time: a policy document with an unknown
-- element, a C# construct outside the subset, an undefined named value,
-- Service Fabric attributes on set-backend-service or malformed XML makes
-- `portico check` exit 1 and `portico run` refuse to start, both naming
-- file:line:col; a user policy module that reaches for io or require cannot
-- load. Run time: an expression that throws is a 500 with APIM's JSON body and
-- the reason ExpressionValueEvaluationFailure in the access log, or on-error
-- runs with context.LastError; a refused backend reaches on-error as
-- BackendConnectionFailure; a runaway or memory-hungry expression fails its
-- request while the same gateway process keeps serving; a user policy that
-- tries os.execute or io.open fails its request and never runs the command.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local FIX = h.root .. "/tests/integration/fixtures/policies"
local IO_LOAD_MARKER = "/tmp/portico-18-io-open-marker" -- written by sandbox-load/x-io-open.lua if io worked

-- A gateway.yaml with one API `a` whose policy is fixtures/policies/<doc>.
local function one_api_config(doc, port)
  return h.gateway_yaml { id = "edge-18", port = port or h.free_port() } .. ([[
  policyPaths: ["%s/sandbox-load"]
namedValues:
  defined-value: { value: ok }
apis:
  a:
    path: a
    serviceUrl: "http://127.0.0.1:9/x"
    subscriptionRequired: false
    policy: "%s/%s"
]]):format(FIX, FIX, doc)
end

-- `portico run` on a config: asserts it exits non-zero without ever
-- listening; returns its exit status and stderr.
local function run_refused(yaml_text)
  local port = h.free_port()
  yaml_text = yaml_text:gsub("{{PORT}}", tostring(port))
  local path = h.tmpdir() .. "/run-" .. math.random(1, 1e9) .. ".yaml"
  h.write_file(path, yaml_text)
  local p = h.spawn("portico-refused", { h.portico_bin, "run", "-c", path })
  local st = p:wait(15)
  if st == nil then p:kill() end
  assert.is_truthy(st ~= nil, "portico run kept running with a broken policy; stderr:\n" .. h.tail(p:stderr()))
  assert.are_not.equal(0, st, "portico run exited 0 with a broken policy")
  assert.is_false(h.port_open(port), "something listens on the gateway's port")
  local err = p:stderr() .. p:stdout()
  assert.is_nil(h.sanitizer_report(err), "sanitizer report:\n" .. h.tail(err, 6000))
  return st, err
end

describe("18 policy errors", function()
  teardown(h.cleanup)

  -------------------------------------------------------------------------
  -- load time
  -------------------------------------------------------------------------

  describe("at load time", function()
    local function check(doc)
      local rc, out = h.check_config(one_api_config(doc))
      return rc, out, FIX .. "/" .. doc
    end

    -- `check` and `run` both refuse the document, naming file:line:col and
    -- the message (plain-text pieces, in order).
    local function refused(doc, line, col, ...)
      local rc, out, file = check(doc)
      assert.are.equal(1, rc, "portico check exit status; output:\n" .. out)
      local at = ("%s:%d:%d: "):format(file, line, col)
      local i = out:find(at, 1, true)
      assert.is_truthy(i, ("output does not name %s; output:\n%s"):format(at, out))
      local msg_line = out:sub(i):match("^[^\n]*")
      local from = 1
      for _, piece in ipairs { ... } do
        local j = msg_line:find(piece, from, true)
        assert.is_truthy(j, ("'%s' not in the message: %s"):format(piece, msg_line))
        from = j + #piece
      end
      local _, err = run_refused(one_api_config(doc, "{{PORT}}"))
      assert.is_truthy(err:find(at, 1, true), ("portico run does not name %s; output:\n%s"):format(at, err))
      return msg_line
    end

    it("accepts the valid control document (same configuration shape)", function()
      local rc, out = check("err-valid.xml")
      assert.are.equal(0, rc, "portico check on a valid policy; output:\n" .. out)
    end)

    it("refuses an unknown element: policy <name> is not supported", function()
      refused("err-unknown-element.xml", 5, 9, "policy frobnicate-header is not supported")
    end)

    it("refuses a C# construct outside the supported subset, naming it", function()
      local msg = refused("err-csharp.xml", 6, 22, "System.IO.File")
      assert.is_truthy(msg:lower():find("not supported", 1, true) or msg:lower():find("unsupported", 1, true),
        "the message does not say the construct is unsupported: " .. msg)
    end)

    it("refuses an undefined named value at its {{reference}}", function()
      refused("err-named-value.xml", 6, 20, "no-such-value", "not defined")
    end)

    it("refuses sf-* attributes on set-backend-service: Service Fabric is not supported", function()
      refused("err-service-fabric.xml", 5, 30, "sf-service-instance-name", "Service Fabric is not supported")
    end)

    it("refuses malformed XML at the mismatched end tag", function()
      refused("err-malformed.xml", 7, 9, "set-heade")
    end)

    it("refuses a user policy module that uses io when it loads; the file is never written", function()
      os.remove(IO_LOAD_MARKER)
      local msg = refused("err-sandbox-io-load.xml", 5, 9, "x-io-open")
      assert.is_truthy(msg:find("x-io-open.lua", 1, true), "the message does not name the module file: " .. msg)
      assert.is_truthy(msg:gsub("x%-io%-open", ""):find("%f[%a]io%f[%A]"), "the message does not name io: " .. msg)
      assert.is_false(h.file_exists(IO_LOAD_MARKER), "io.open ran inside the sandbox: " .. IO_LOAD_MARKER .. " exists")
    end)

    it("refuses a user policy module that calls require when it compiles", function()
      local msg = refused("err-sandbox-require.xml", 5, 9, "x-require")
      assert.is_truthy(msg:find("x-require.lua", 1, true), "the message does not name the module file: " .. msg)
      assert.is_truthy(msg:gsub("x%-require", ""):find("%f[%a]require%f[%A]"),
        "the message does not name require: " .. msg)
    end)
  end)

  -------------------------------------------------------------------------
  -- run time
  -------------------------------------------------------------------------

  describe("at run time", function()
    local be, gw, down_port, os_marker, io_marker

    setup(function()
      be = h.start_backend { name = "err" }
      down_port = h.free_port() -- nothing listens there
      os_marker = h.tmpdir() .. "/os-execute-ran"
      io_marker = h.tmpdir() .. "/io-open-ran"
      local function api(id, doc, url)
        return ([[
  %s:
    path: %s
    serviceUrl: "%s"
    subscriptionRequired: false
%s]]):format(id, id, url or (be.url .. "/v1"), doc and ('    policy: "' .. FIX .. "/" .. doc .. '"\n') or "")
      end
      local yaml = h.gateway_yaml { id = "edge-18", workers = 1 } .. ([[
  policyPaths: ["%s/sandbox-run"]
namedValues:
  os-marker: { value: "%s" }
  io-marker: { value: "%s" }
apis:
]]):format(FIX, os_marker, io_marker)
        .. api("ok", nil)
        .. api("throw", "err-throw.xml")
        .. api("handled", "err-throw-handled.xml")
        .. api("down", "err-backend-down.xml", "http://127.0.0.1:" .. down_port .. "/v1")
        .. api("runaway", "err-runaway.xml")
        .. api("memory", "err-memory.xml")
        .. api("sbos", "err-sandbox-os.xml")
        .. api("sbio", "err-sandbox-io-request.xml")
      gw = h.start_gateway(yaml)
    end)

    local function entry_for(path)
      local e = gw.log_entry(path)
      assert.is_truthy(e, "no access log entry for " .. path)
      return e
    end

    -- the same gateway process, same single worker, still serves
    local function still_serving(tag)
      assert.is_true(gw.alive(), "the gateway exited")
      local r = h.fetch(gw.port, { path = "/ok/after-" .. tag })
      assert.are.equal(200, r.status, "normal request after " .. tag .. ": " .. h.show(r.raw_head .. (r.body or "")))
      assert.are.equal("GET /v1/after-" .. tag .. " HTTP/1.1", h.parse_echo(r.body).request_line)
    end

    it("an expression that throws: 500 with APIM's JSON body, reason in the access log", function()
      local before = be.stats().requests
      local r = h.fetch(gw.port, { path = "/throw/t" })
      h.assert_apim_error(r, 500)
      local e = entry_for("/throw/t")
      assert.are.equal(500, e.status)
      assert.are.equal("ExpressionValueEvaluationFailure", e.reason)
      assert.is_truthy(type(e.message) == "string" and e.message:find("Expression evaluation failed", 1, true),
        "the access log message is not APIM's 'Expression evaluation failed. ...': " .. tostring(e.message))
      assert.are.equal(before + 1, be.stats().requests, "the backend was called")
      -- a valid value takes the same path through
      local ok = h.fetch(gw.port, { path = "/throw/fine", headers = { { "X-Num", "41" } } })
      assert.are.equal(200, ok.status, h.show(ok.raw_head .. (ok.body or "")))
      assert.are.same({ "41" }, h.parse_echo(ok.body):header_all("X-Num"))
    end)

    it("an expression that throws: on-error answers with context.LastError", function()
      local r = h.fetch(gw.port, { path = "/handled/h" })
      assert.are.equal(422, r.status, h.show(r.raw_head .. (r.body or "")))
      assert.are.equal("Handled", r.reason)
      local ok, v = pcall(h.json_decode, r.body)
      assert.is_true(ok and type(v) == "table", "on-error body is not JSON: " .. h.show(r.body))
      assert.are.equal("ExpressionValueEvaluationFailure", v.reason)
      assert.are.equal("inbound", v.section)
      assert.are.equal("set-variable", v.source)
      assert.is_truthy(type(v.message) == "string" and #v.message > 0, "LastError.Message is empty")
      assert.are.equal("ExpressionValueEvaluationFailure", entry_for("/handled/h").reason)
    end)

    it("a refused backend: on-error sees BackendConnectionFailure and shapes the answer", function()
      local r = h.fetch(gw.port, { path = "/down/d" })
      assert.are.equal(503, r.status, h.show(r.raw_head .. (r.body or "")))
      assert.are.equal("Backend Down", r.reason)
      assert.are.equal("BackendConnectionFailure", r:header("X-Error-Reason"))
      assert.are.equal("forward-request", r:header("X-Error-Source"))
      assert.are.equal("backend", r:header("X-Error-Section"))
      assert.are.equal("on-error: BackendConnectionFailure", r.body)
      assert.are.equal(tostring(#r.body), r:header("Content-Length"))
      assert.are.equal("BackendConnectionFailure", entry_for("/down/d").reason)
    end)

    it("a runaway loop fails its request with 500; the same gateway keeps serving", function()
      local pid = gw.pid
      local t0 = h.now()
      local c = h.must_connect(gw.port, 20)
      local r = c:request({ path = "/runaway/r" }, { timeout = 20 })
      c:close()
      local took = h.now() - t0
      h.assert_apim_error(r, 500)
      assert.is_true(took < 10, ("the runaway request took %.1f s"):format(took))
      assert.are.equal("ExpressionValueEvaluationFailure", entry_for("/runaway/r").reason)
      assert.are.equal(pid, gw.pid)
      still_serving("runaway")
      -- and the runaway expression is stopped again on the next request
      local r2 = h.fetch(gw.port, { path = "/runaway/r2" }, { timeout = 20 })
      h.assert_apim_error(r2, 500)
      still_serving("runaway-2")
    end)

    it("an expression that allocates without bound fails its request; the gateway keeps serving", function()
      local r = h.fetch(gw.port, { path = "/memory/m" }, { timeout = 20 })
      h.assert_apim_error(r, 500)
      assert.are.equal("ExpressionValueEvaluationFailure", entry_for("/memory/m").reason)
      still_serving("memory")
    end)

    it("a user policy calling os.execute fails its request and never runs the command", function()
      local before = be.stats().requests
      local r = h.fetch(gw.port, { path = "/sbos/x" })
      h.assert_apim_error(r, 500)
      h.sleep(0.1)
      assert.is_false(h.file_exists(os_marker), "os.execute ran: " .. os_marker .. " exists")
      assert.are.equal(before + 1, be.stats().requests, "the backend was called")
      local e = entry_for("/sbos/x")
      assert.is_truthy(e.reason and e.reason ~= h.null, "no reason in the access log")
      assert.is_truthy(type(e.message) == "string" and e.message:find("x-os-execute.lua", 1, true)
        and e.message:gsub("x%-os%-execute", ""):find("%f[%a]os%f[%A]"),
        "the access log message does not say what failed: " .. tostring(e.message))
      still_serving("os-execute")
    end)

    it("a user policy calling io.open fails its request and never writes the file", function()
      local r = h.fetch(gw.port, { path = "/sbio/x" })
      h.assert_apim_error(r, 500)
      assert.is_false(h.file_exists(io_marker), "io.open ran: " .. io_marker .. " exists")
      local e = entry_for("/sbio/x")
      assert.is_truthy(type(e.message) == "string" and e.message:find("x-io-request.lua", 1, true)
        and e.message:gsub("x%-io%-request", ""):find("%f[%a]io%f[%A]"),
        "the access log message does not say what failed: " .. tostring(e.message))
      still_serving("io-open")
    end)

    it("exits 0 on SIGTERM with a clean sanitizer report", function()
      gw.stop()
    end)
  end)
end)
