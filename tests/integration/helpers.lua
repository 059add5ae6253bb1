-- helpers.lua - shared machinery of the integration specs.
--
-- Starts the real `portico` gateway and `pt-test-backend` processes on
-- loopback (without lua-posix: through sh wrappers that record the pid and
-- the exit status in files), talks raw HTTP/1.x to them over luasocket with a
-- timeout on every read, and parses what comes back: responses as the client
-- sees them, and the backend's echo of the exact bytes it received.
--
-- busted loads this module afresh for every spec file (insulate), so the
-- process registry and the temp dir below are per spec file. Every spec calls
-- `h.cleanup()` in its teardown; a __gc sentinel kills anything left over when
-- the Lua state closes, so a failing or erroring spec never leaves processes.

local socket = require "socket"
local assert = require "luassert"

local M = {}

---------------------------------------------------------------------------
-- paths and small utilities
---------------------------------------------------------------------------

local this_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."

local function run_capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  return out
end

local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  return (run_capture("cd " .. M.sq(p) .. " 2>/dev/null && pwd"):gsub("%s+$", ""))
end

-- Shell single-quoting.
function M.sq(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

M.root = abspath(this_dir .. "/../..")
do
  local b = os.getenv("PORTICO_BUILD") or "build-asan"
  if b:sub(1, 1) ~= "/" then b = M.root .. "/" .. b end
  M.build = b
end
M.portico_bin = M.build .. "/portico"
M.backend_bin = M.build .. "/pt-test-backend"

-- The release build, for measurements the sanitizers would distort (RSS).
do
  local b = os.getenv("PORTICO_RELEASE_BUILD") or "build"
  if b:sub(1, 1) ~= "/" then b = M.root .. "/" .. b end
  M.release_build = b
end

function M.now() return socket.gettime() end
function M.sleep(s) socket.sleep(s) end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

function M.file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- Polls fn() every `step` seconds until it returns a truthy value or
-- `timeout` seconds pass; returns fn's last results.
function M.wait_for(fn, timeout, step)
  local deadline = M.now() + (timeout or 5)
  step = step or 0.02
  while true do
    local r = table.pack(fn())
    if r[1] then return table.unpack(r, 1, r.n) end
    if M.now() >= deadline then return table.unpack(r, 1, r.n) end
    M.sleep(step)
  end
end

function M.split_lines(s)
  local t = {}
  for line in (s or ""):gmatch("([^\n]*)\n") do t[#t + 1] = line end
  return t
end

-- Escapes bytes for readable assertion messages.
function M.show(s, max)
  s = tostring(s)
  max = max or 2000
  if #s > max then s = s:sub(1, max) .. ("...(%d bytes more)"):format(#s - max) end
  return (s:gsub("[%c\128-\255]", function(c)
    if c == "\r" then return "\\r" end
    if c == "\n" then return "\\n\n" end
    return ("\\x%02x"):format(c:byte())
  end))
end

function M.tail(s, n)
  s = s or ""
  n = n or 3000
  if #s <= n then return s end
  return "..." .. s:sub(-n)
end

---------------------------------------------------------------------------
-- JSON (decoder only; enough for the access log and backend stats)
---------------------------------------------------------------------------

M.null = setmetatable({}, { __tostring = function() return "null" end })

function M.json_decode(s)
  local pos = 1
  local function err(msg) error(("json: %s at %d in %s"):format(msg, pos, s), 0) end
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value
  local function str()
    pos = pos + 1
    local out = {}
    while true do
      local c = s:sub(pos, pos)
      if c == "" then err("unterminated string") end
      if c == '"' then pos = pos + 1 break end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        local map = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
        if map[e] then
          out[#out + 1] = map[e]
          pos = pos + 2
        elseif e == "u" then
          local hex = s:sub(pos + 2, pos + 5)
          if not hex:match("^%x%x%x%x$") then err("bad \\u escape") end
          out[#out + 1] = utf8.char(tonumber(hex, 16))
          pos = pos + 6
        else
          err("bad escape")
        end
      else
        out[#out + 1] = c
        pos = pos + 1
      end
    end
    return table.concat(out)
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local t = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1 return t end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then err("expected key") end
        local k = str()
        ws()
        if s:sub(pos, pos) ~= ":" then err("expected ':'") end
        pos = pos + 1
        t[k] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return t end
        if d ~= "," then err("expected ',' or '}'") end
      end
    elseif c == "[" then
      local t = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1 return t end
      while true do
        t[#t + 1] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return t end
        if d ~= "," then err("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(pos, pos + 3) == "true" then
      pos = pos + 4 return true
    elseif s:sub(pos, pos + 4) == "false" then
      pos = pos + 5 return false
    elseif s:sub(pos, pos + 3) == "null" then
      pos = pos + 4 return M.null
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" then err("unexpected character") end
      pos = pos + #num
      return tonumber(num)
    end
  end
  local v = value()
  ws()
  if pos <= #s then err("trailing data") end
  return v
end

---------------------------------------------------------------------------
-- temp dir and process registry
---------------------------------------------------------------------------

local state = { tmpdir = nil, procs = {}, clients = {}, seq = 0 }

function M.tmpdir()
  if not state.tmpdir then
    state.tmpdir = (run_capture("mktemp -d /tmp/portico-it.XXXXXX"):gsub("%s+$", ""))
    assert(state.tmpdir ~= "", "mktemp -d failed")
  end
  return state.tmpdir
end

local function next_name(prefix)
  state.seq = state.seq + 1
  return ("%s-%d"):format(prefix, state.seq)
end

local Proc = {}
Proc.__index = Proc

-- Starts argv (a list) in the background; stdout and stderr go to files, the
-- wrapper shell records the pid and, when the process ends, its exit status.
-- `env` is an optional list of "NAME=value" strings.
local function spawn(prefix, argv, env)
  local dir = M.tmpdir()
  local name = next_name(prefix)
  local base = dir .. "/" .. name
  local p = setmetatable({
    name = name,
    out_path = base .. ".out",
    err_path = base .. ".err",
    pid_path = base .. ".pid",
    status_path = base .. ".status",
  }, Proc)
  -- luasocket ignores SIGPIPE in this process and children inherit that; a
  -- service manager starts the gateway with the default action, and so do we
  -- (a crash on EPIPE must show here).
  local cmd = { "env", "--default-signal=PIPE" }
  for _, e in ipairs(env or {}) do cmd[#cmd + 1] = M.sq(e) end
  for _, a in ipairs(argv) do cmd[#cmd + 1] = M.sq(a) end
  local inner = ("%s </dev/null >%s 2>%s & echo $! >%s.tmp && mv %s.tmp %s; wait $!; echo $? >%s.tmp && mv %s.tmp %s")
    :format(table.concat(cmd, " "), M.sq(p.out_path), M.sq(p.err_path),
      M.sq(p.pid_path), M.sq(p.pid_path), M.sq(p.pid_path),
      M.sq(p.status_path), M.sq(p.status_path), M.sq(p.status_path))
  os.execute("sh -c " .. M.sq(inner) .. " >/dev/null 2>&1 </dev/null &")
  local pid = M.wait_for(function()
    local s = M.read_file(p.pid_path)
    return s and tonumber(s:match("^(%d+)\n"))
  end, 10, 0.005)
  assert(pid, "could not start " .. argv[1])
  p.pid = pid
  state.procs[#state.procs + 1] = p
  return p
end

function Proc:exit_status()
  local s = M.read_file(self.status_path)
  return s and tonumber(s:match("^(%d+)"))
end

function Proc:alive() return self:exit_status() == nil end

function Proc:signal(sig)
  if self:alive() then os.execute(("kill -%s %d 2>/dev/null"):format(sig, self.pid)) end
end

-- Waits for the process to exit; returns its status or nil on timeout.
function Proc:wait(timeout)
  return M.wait_for(function() return self:exit_status() end, timeout or 10, 0.01)
end

function Proc:stdout() return M.read_file(self.out_path) or "" end
function Proc:stderr() return M.read_file(self.err_path) or "" end

-- Current resident set size in KiB (nil when the process is gone).
function Proc:rss_kib()
  local s = M.read_file("/proc/" .. self.pid .. "/status")
  return s and tonumber(s:match("VmRSS:%s*(%d+)"))
end

-- Kills without asserting anything: cleanup path.
function Proc:kill()
  if not self:alive() then return end
  self:signal("TERM")
  if not self:wait(3) then
    self:signal("KILL")
    self:wait(3)
  end
end

local sanitizer_patterns = { "ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer", "ERROR: UndefinedBehaviorSanitizer" }

-- Returns the first sanitizer marker found in text, if any.
function M.sanitizer_report(text)
  for _, pat in ipairs(sanitizer_patterns) do
    if text:find(pat, 1, true) then return pat end
  end
  return nil
end

---------------------------------------------------------------------------
-- ports
---------------------------------------------------------------------------

function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- True when something accepts TCP connections on the port.
function M.port_open(port)
  local c = socket.tcp()
  c:settimeout(0.5)
  local ok = c:connect("127.0.0.1", port)
  c:close()
  return ok ~= nil
end

---------------------------------------------------------------------------
-- the test backend
---------------------------------------------------------------------------

function M.start_backend(opts)
  opts = opts or {}
  local bin = opts.bin or M.backend_bin
  assert(M.file_exists(bin), bin .. " not found: run `make build-asan` first")
  local p = spawn("backend-" .. (opts.name or "b"), { bin, "--port", "0", "--name", opts.name or "backend" })
  local port = M.wait_for(function()
    local s = p:stdout()
    return tonumber(s:match("listening (%d+)"))
  end, 10, 0.01)
  if not port then
    p:kill()
    error("pt-test-backend did not report its port; stderr:\n" .. p:stderr())
  end
  local b = { proc = p, pid = p.pid, port = port, name = opts.name or "backend" }
  b.url = "http://127.0.0.1:" .. port
  function b.stop() p:kill() end
  -- GET /__backend/stats straight from the backend (not through the gateway).
  -- The counts include this request and its connection.
  function b.stats()
    local c = M.connect(port)
    c:send("GET /__backend/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    local r = assert(c:read_response())
    c:close()
    assert(r.status == 200, "stats: status " .. tostring(r.status))
    return M.json_decode(r.body)
  end
  return b
end

---------------------------------------------------------------------------
-- the gateway
---------------------------------------------------------------------------

local function is_plain(v)
  return v:match("^%d+m?s$") or v:match("^%d+[mh]$") or v:match("^%d+[KMG]i?B$") or v:match("^[%a][%w%-]*$")
end

local function yaml_scalar(v)
  if type(v) == "number" then return tostring(math.tointeger(v) or v) end
  if type(v) == "boolean" then return tostring(v) end
  v = tostring(v)
  if is_plain(v) and v ~= "null" and v ~= "true" and v ~= "false" then return v end
  return '"' .. v:gsub('[\\"]', "\\%0") .. '"'
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

local function flow_map(t)
  local parts = {}
  for _, k in ipairs(sorted_keys(t)) do parts[#parts + 1] = k .. ": " .. yaml_scalar(t[k]) end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local function merge(base, over)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(over or {}) do t[k] = v end
  return t
end

M.default_limits = { maxHeaderBytes = 16384, maxHeaders = 100, maxUrlBytes = 8192, maxBodyBytes = 104857600 }
M.default_timeouts = { headerRead = "10s", idle = "60s", backendConnect = "5s", backend = "300s", drain = "5s" }
M.default_pool = { maxIdlePerOrigin = 64, idleTimeout = "30s", maxRequestsPerConnection = 1000 }

-- Builds a gateway.yaml text. opts: id, port (default: the {{PORT}}
-- placeholder start_gateway fills), workers, limits/timeouts/pool (merged over
-- the defaults), accessLog, backends = {name = url}, apis = {name = {path=,
-- serviceUrl= | backend=, subscriptionRequired= (default false)}}.
function M.config(opts)
  opts = opts or {}
  local lines = { (M.gateway_yaml(opts):gsub("\n$", "")) }
  if opts.backends and next(opts.backends) then
    lines[#lines + 1] = "backends:"
    for _, name in ipairs(sorted_keys(opts.backends)) do
      lines[#lines + 1] = ("  %s: { url: %s }"):format(name, yaml_scalar(opts.backends[name]))
    end
  end
  lines[#lines + 1] = "apis:"
  for _, name in ipairs(sorted_keys(opts.apis or {})) do
    -- these specs test the data plane, not subscriptions: APIs are open
    -- unless a spec says otherwise (APIM's default is subscriptionRequired: true)
    local a = merge(opts.no_subscription_key and {} or { subscriptionRequired = false }, opts.apis[name])
    lines[#lines + 1] = "  " .. name .. ":"
    for _, k in ipairs(sorted_keys(a)) do
      lines[#lines + 1] = ("    %s: %s"):format(k, yaml_scalar(a[k]))
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Writes yaml_text (with {{PORT}} replaced by a free port) into the temp dir,
-- starts `portico run -c FILE` and waits until the port accepts connections.
-- opts: bin (another portico binary), env (list of NAME=value).
function M.start_gateway(yaml_text, opts)
  opts = opts or {}
  local bin = opts.bin or M.portico_bin
  assert(M.file_exists(bin), bin .. " not found: run `make build-asan` first")
  local port = tonumber(yaml_text:match('listen:%s*%[%s*"?127%.0%.0%.1:(%d+)'))
  if yaml_text:find("{{PORT}}", 1, true) then
    port = M.free_port()
    yaml_text = yaml_text:gsub("{{PORT}}", tostring(port))
  end
  assert(port, "start_gateway: cannot find the listen port in the config")
  local path = M.tmpdir() .. "/" .. next_name("gateway") .. ".yaml"
  M.write_file(path, yaml_text)
  local p = spawn("portico", { bin, "run", "-c", path }, opts.env)
  local ready = M.wait_for(function()
    if not p:alive() then return false end
    return M.port_open(port)
  end, 15, 0.02)
  if not ready then
    local st = p:exit_status()
    p:kill()
    error(("gateway did not start listening on %d (exit status %s); config:\n%s\nstderr:\n%s")
      :format(port, tostring(st), yaml_text, M.tail(p:stderr())))
  end

  local gw = { proc = p, pid = p.pid, port = port, config_path = path, config = yaml_text }

  function gw.stderr_text() return p:stderr() end
  function gw.alive() return p:alive() end
  function gw.rss_kib() return p:rss_kib() end

  -- Access log lines (raw strings) written so far.
  function gw.access_log_lines()
    return M.split_lines(p:stdout())
  end

  -- Access log entries decoded; a line that is not a JSON object fails.
  function gw.access_log()
    local t = {}
    for i, line in ipairs(gw.access_log_lines()) do
      local ok, v = pcall(M.json_decode, line)
      assert.is_true(ok and type(v) == "table", ("access log line %d is not a JSON object: %s (%s)")
        :format(i, line, tostring(v)))
      t[#t + 1] = v
    end
    return t
  end

  -- Waits until the access log has at least n entries; returns them all.
  function gw.wait_access_log(n, timeout)
    M.wait_for(function() return #gw.access_log_lines() >= n end, timeout or 5, 0.02)
    return gw.access_log()
  end

  -- The access log entry for the request whose path is `path` (last match),
  -- waiting for it to be written.
  function gw.log_entry(path, timeout)
    local found
    M.wait_for(function()
      found = nil
      for _, line in ipairs(gw.access_log_lines()) do
        local ok, v = pcall(M.json_decode, line)
        if ok and type(v) == "table" and v.path == path then found = v end
      end
      return found
    end, timeout or 5, 0.02)
    return found
  end

  -- Waits for the gateway to exit by itself (after a signal the test sent);
  -- asserts exit status 0 within `timeout` seconds and no sanitizer report.
  -- Returns the stderr text.
  function gw.wait_exit(timeout)
    local st = p:wait(timeout or 15)
    if st == nil then
      p:signal("KILL")
      p:wait(3)
    end
    local err = p:stderr()
    assert.is_true(st ~= nil, "gateway did not exit within " .. (timeout or 15) .. " s; stderr:\n" .. M.tail(err))
    local san = M.sanitizer_report(err)
    assert.is_true(san == nil, ("gateway stderr has a sanitizer report (%s):\n%s"):format(tostring(san), M.tail(err, 6000)))
    assert.is_true(st == 0, ("gateway exit status %s (expected 0); stderr:\n%s"):format(tostring(st), M.tail(err)))
    return err
  end

  -- Sends a signal (default TERM) to the gateway.
  function gw.signal(sig) p:signal(sig or "TERM") end

  -- SIGTERM; asserts exit status 0 within `timeout` seconds and no sanitizer
  -- report on stderr. Returns the stderr text.
  function gw.stop(timeout)
    local already = p:exit_status()
    assert.is_true(already == nil, ("gateway had already exited (status %s) before stop(); stderr:\n%s")
      :format(tostring(already), M.tail(p:stderr())))
    p:signal("TERM")
    return gw.wait_exit(timeout)
  end

  return gw
end

-- True when `bin` accepts the API key `key` (a build older than the config
-- model it is tested with rejects it as unknown).
function M.accepts_api_key(bin, key)
  local path = M.tmpdir() .. "/" .. next_name("probe") .. ".yaml"
  M.write_file(path, ('gateway:\n  listen: ["127.0.0.1:1"]\napis:\n  a:\n    path: a\n'
    .. '    serviceUrl: "http://127.0.0.1:1"\n    %s: false\n'):format(key))
  local out = run_capture(("%s check -c %s 2>&1"):format(M.sq(bin), M.sq(path)))
  return not out:find("unknown key", 1, true)
end

-- `portico check -c FILE` on a config text; returns exit code, stdout+stderr.
function M.check_config(yaml_text, name)
  local path = M.tmpdir() .. "/" .. (name or next_name("check") .. ".yaml")
  M.write_file(path, yaml_text)
  local out = run_capture(("%s check -c %s 2>&1; echo \"rc=$?\""):format(M.sq(M.portico_bin), M.sq(path)))
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, out:gsub("rc=%d+%s*$", ""), path
end

-- Kills every process this spec file started and closes its clients;
-- removes the temp dir unless PORTICO_KEEP_TMP is set.
function M.cleanup()
  for _, c in ipairs(state.clients) do pcall(c.close, c) end
  state.clients = {}
  for i = #state.procs, 1, -1 do state.procs[i]:kill() end
  state.procs = {}
  if state.tmpdir and not os.getenv("PORTICO_KEEP_TMP") then
    os.execute("rm -rf " .. M.sq(state.tmpdir))
    state.tmpdir = nil
  end
end

-- Safety net: runs when the Lua state closes (busted exits with close=true).
M._sentinel = setmetatable({}, { __gc = function() pcall(M.cleanup) end })

---------------------------------------------------------------------------
-- raw HTTP client
---------------------------------------------------------------------------

local Conn = {}
Conn.__index = Conn

M.default_timeout = 5

function M.connect(port, timeout)
  local sock = socket.tcp()
  sock:settimeout(timeout or M.default_timeout)
  local ok, err = sock:connect("127.0.0.1", port)
  if not ok then
    sock:close()
    return nil, err
  end
  sock:setoption("tcp-nodelay", true)
  local c = setmetatable({ sock = sock, buf = "", eof = false, timeout = timeout or M.default_timeout }, Conn)
  state.clients[#state.clients + 1] = c
  return c
end

-- Like connect, but fails the test when the connection is refused.
function M.must_connect(port, timeout)
  local c, err = M.connect(port, timeout)
  assert.is_true(c ~= nil, "cannot connect to 127.0.0.1:" .. port .. ": " .. tostring(err))
  return c
end

function Conn:close()
  if self.sock then
    self.sock:close()
    self.sock = nil
  end
end

-- Sends all bytes; returns true, or nil and an error ("closed", ...).
function Conn:send(data)
  if not self.sock then return nil, "closed" end
  self.sock:settimeout(self.timeout)
  local i = 1
  while i <= #data do
    local last, err, partial = self.sock:send(data, i)
    if not last then
      if err == "timeout" and partial and partial >= i then
        i = partial + 1
      else
        return nil, err
      end
    else
      i = last + 1
    end
  end
  return true
end

-- Receives whatever is available within `timeout` seconds: returns a
-- non-empty string, or nil and "timeout" / "closed" (reset counts as closed,
-- with self.reset set).
function Conn:recv_some(timeout)
  if self.eof then return nil, "closed" end
  if not self.sock then return nil, "closed" end
  local deadline = M.now() + timeout
  while true do
    local left = deadline - M.now()
    if left < 0 then left = 0 end
    local r = socket.select({ self.sock }, nil, left)
    if #r == 0 then
      if M.now() >= deadline then return nil, "timeout" end
    else
      self.sock:settimeout(0)
      local data, err, partial = self.sock:receive(65536)
      if data then return data end
      if err ~= "timeout" then
        self.eof = true
        if err ~= "closed" then self.reset = err end
      end
      if partial and #partial > 0 then return partial end
      if self.eof then return nil, "closed" end
      if M.now() >= deadline then return nil, "timeout" end
    end
  end
end

-- Appends more input to self.buf; true, or nil and "timeout"/"closed".
function Conn:fill(deadline)
  local left = deadline - M.now()
  if left < 0 then left = 0 end
  local data, err = self:recv_some(left)
  if not data then return nil, err end
  self.buf = self.buf .. data
  return true
end

-- Reads through the first occurrence of `delim`; returns the text before it.
function Conn:read_until(delim, deadline)
  local searched = 1
  while true do
    local i = self.buf:find(delim, searched, true)
    if i then
      local s = self.buf:sub(1, i - 1)
      self.buf = self.buf:sub(i + #delim)
      return s
    end
    searched = math.max(1, #self.buf - #delim + 2)
    local ok, err = self:fill(deadline)
    if not ok then return nil, err end
  end
end

-- Reads exactly n bytes (or fewer if the peer closes / time runs out); with
-- a sink, hands pieces to sink(piece) instead of returning them.
-- Returns data (or "" with a sink), bytes_read, err.
function Conn:read_n(n, deadline, sink)
  local got = 0
  local parts = {}
  local function take(s)
    got = got + #s
    if sink then sink(s) else parts[#parts + 1] = s end
  end
  if #self.buf > 0 then
    local s = self.buf:sub(1, n)
    self.buf = self.buf:sub(#s + 1)
    take(s)
  end
  while got < n do
    local data, err = self:recv_some(math.max(0, deadline - M.now()))
    if not data then return table.concat(parts), got, err end
    local need = n - got
    if #data > need then
      self.buf = data:sub(need + 1) .. self.buf
      data = data:sub(1, need)
    end
    take(data)
  end
  return table.concat(parts), got, nil
end

-- Reads everything until the peer closes (or timeout). Returns data and
-- true if the connection was closed (false on timeout).
function Conn:read_all_until_close(timeout, sink)
  local deadline = M.now() + (timeout or self.timeout)
  local parts = {}
  local total = 0
  if #self.buf > 0 then
    total = #self.buf
    if sink then sink(self.buf) else parts[1] = self.buf end
    self.buf = ""
  end
  while true do
    local data, err = self:recv_some(math.max(0, deadline - M.now()))
    if not data then
      return table.concat(parts), err == "closed", total
    end
    total = total + #data
    if sink then sink(data) else parts[#parts + 1] = data end
  end
end

-- True when the peer closes the connection within `timeout` seconds and
-- sends nothing more; extra bytes that arrive are kept in self.extra.
function Conn:closed(timeout)
  if self.eof and #self.buf == 0 then return true end
  local data, closed = self:read_all_until_close(timeout or 2)
  self.extra = data
  return closed and data == ""
end

-- True when the peer closes within `timeout` (whatever it sent before).
function Conn:closed_eventually(timeout)
  local data, closed = self:read_all_until_close(timeout or 2)
  self.extra = data
  return closed
end

local Response = {}
Response.__index = Response

-- First value of a header (case-insensitive name), or nil.
function Response:header(name)
  name = name:lower()
  for _, h in ipairs(self.headers) do
    if h[1]:lower() == name then return h[2] end
  end
  return nil
end

-- All values of a header, in order.
function Response:header_all(name)
  name = name:lower()
  local t = {}
  for _, h in ipairs(self.headers) do
    if h[1]:lower() == name then t[#t + 1] = h[2] end
  end
  return t
end

function Response:has_token(name, token)
  token = token:lower()
  for _, v in ipairs(self:header_all(name)) do
    for tok in v:gmatch("[^,%s]+") do
      if tok:lower() == token then return true end
    end
  end
  return false
end

-- Fails the test unless the whole body arrived, saying what went wrong.
function Response:assert_complete(what)
  local msg
  if not self.complete then
    msg = ("%sincomplete %s-framed body after %d bytes (%s)%s"):format(what and (what .. ": ") or "",
      self.framing, self.body_bytes or 0, tostring(self.err),
      self.framing == "chunked" and "; the terminating 0-size chunk never came" or "")
  end
  assert.is_true(self.complete == true, msg)
end

M.Response = Response

local function parse_head(head)
  local lines = {}
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do lines[#lines + 1] = line end
  local r = setmetatable({ raw_head = head .. "\r\n\r\n", headers = {} }, Response)
  r.status_line = lines[1] or ""
  local version, status, reason = r.status_line:match("^(HTTP/%d%.%d) (%d%d%d) ?(.*)$")
  r.version, r.status, r.reason = version, tonumber(status), reason
  for i = 2, #lines do
    local name, value = lines[i]:match("^([^:]+):[ \t]*(.-)[ \t]*$")
    if name then
      r.headers[#r.headers + 1] = { name, value }
    else
      r.bad_header_lines = (r.bad_header_lines or 0) + 1
    end
  end
  return r
end

-- Reads one response. opts: head (the request was HEAD: no body), timeout,
-- sink (function(piece): body is streamed to it, not kept).
-- Returns a response, or nil and an error when no complete head arrived.
-- Body fields: body, body_bytes, framing ("length", "chunked", "close",
-- "none"), complete (false when the peer closed or time ran out mid-body),
-- err, chunks (list of chunk sizes), trailers.
function Conn:read_response(opts)
  opts = opts or {}
  local deadline = M.now() + (opts.timeout or self.timeout)
  local head, err = self:read_until("\r\n\r\n", deadline)
  if not head then
    return nil, err, self.buf
  end
  local r = parse_head(head)
  if not r.status then return nil, "bad status line: " .. M.show(r.status_line), head end
  local te = r:header("Transfer-Encoding")
  local cl = r:header("Content-Length")
  local sink = opts.sink
  local parts = {}
  local total = 0
  local function take(s)
    total = total + #s
    if sink then sink(s) else parts[#parts + 1] = s end
  end
  r.complete = true
  if opts.head or (r.status >= 100 and r.status < 200) or r.status == 204 or r.status == 304 then
    r.framing = "none"
  elseif te then
    r.framing = "chunked"
    if not te:lower():match("chunked%s*$") then
      r.framing = "close"
    end
  elseif cl then
    r.framing = "length"
  else
    r.framing = "close"
  end
  if r.framing == "length" then
    local n = tonumber(cl)
    if not n then return nil, "bad Content-Length " .. cl, head end
    local _, got, e = self:read_n(n, deadline, take)
    if got < n then
      r.complete, r.err = false, e
    end
  elseif r.framing == "chunked" then
    r.chunks = {}
    while true do
      local line, e = self:read_until("\r\n", deadline)
      if not line then
        r.complete, r.err = false, e
        break
      end
      local hex = line:match("^(%x+)[ \t]*;?.*$")
      if not hex then
        r.complete, r.err = false, "bad chunk size line: " .. M.show(line)
        break
      end
      local size = tonumber(hex, 16)
      r.chunks[#r.chunks + 1] = size
      if size == 0 then
        r.trailers = {}
        while true do
          local tl, e2 = self:read_until("\r\n", deadline)
          if not tl then
            r.complete, r.err = false, e2
            break
          end
          if tl == "" then break end
          r.trailers[#r.trailers + 1] = tl
        end
        break
      end
      local _, got, e2 = self:read_n(size, deadline, take)
      if got < size then
        r.complete, r.err = false, e2
        break
      end
      local crlf, _, e3 = self:read_n(2, deadline)
      if crlf ~= "\r\n" then
        r.complete, r.err = false, e3 or ("chunk data not followed by CRLF: " .. M.show(crlf))
        break
      end
    end
  elseif r.framing == "close" then
    local data, closed = self:read_all_until_close(math.max(0, deadline - M.now()))
    take(data)
    if not closed then r.complete, r.err = false, "timeout" end
  end
  r.body = table.concat(parts)
  r.body_bytes = total
  return r
end

-- Sends a request and reads its response; fails the test on no response.
function Conn:request(req, opts)
  opts = opts or {}
  if type(req) == "table" then
    if req.method == "HEAD" and opts.head == nil then opts.head = true end
    req = M.request(req)
  end
  local ok, err = self:send(req)
  assert.is_true(ok == true, "send failed: " .. tostring(err))
  local r, e, partial = self:read_response(opts)
  assert.is_true(r ~= nil, ("no response (%s); received: %s"):format(tostring(e), M.show(partial or "")))
  return r
end

---------------------------------------------------------------------------
-- requests
---------------------------------------------------------------------------

-- Builds a raw HTTP/1.x request. t: method (GET), path ("/"), version
-- ("1.1"), host ("localhost"; false: no Host header), headers (list of
-- {name, value} pairs, or a map), body (string), chunks (list of strings:
-- send the body chunked; the terminating 0-chunk is added).
function M.request(t)
  local out = { ("%s %s HTTP/%s\r\n"):format(t.method or "GET", t.path or "/", t.version or "1.1") }
  if t.host ~= false then out[#out + 1] = "Host: " .. (t.host or "localhost") .. "\r\n" end
  local hs = t.headers or {}
  if #hs > 0 or next(hs) == nil then
    for _, h in ipairs(hs) do out[#out + 1] = h[1] .. ": " .. h[2] .. "\r\n" end
  else
    for _, k in ipairs(sorted_keys(hs)) do out[#out + 1] = k .. ": " .. hs[k] .. "\r\n" end
  end
  local body = ""
  if t.chunks then
    out[#out + 1] = "Transfer-Encoding: chunked\r\n"
    local parts = {}
    for _, c in ipairs(t.chunks) do parts[#parts + 1] = ("%x\r\n%s\r\n"):format(#c, c) end
    parts[#parts + 1] = "0\r\n\r\n"
    body = table.concat(parts)
  elseif t.body then
    if t.content_length ~= false then out[#out + 1] = "Content-Length: " .. #t.body .. "\r\n" end
    body = t.body
  end
  out[#out + 1] = "\r\n"
  return table.concat(out) .. body
end

-- Parses the backend's echo (the raw request bytes it received).
local Echo = {}
Echo.__index = Echo
Echo.header = Response.header
Echo.header_all = Response.header_all
Echo.has_token = Response.has_token

function M.parse_echo(body)
  assert.is_true(type(body) == "string", "no echo body")
  local i = body:find("\r\n\r\n", 1, true)
  assert.is_true(i ~= nil, "echo has no complete head: " .. M.show(body))
  local head = body:sub(1, i - 1)
  local e = setmetatable({ raw = body, raw_head = body:sub(1, i + 3), body = body:sub(i + 4), headers = {} }, Echo)
  local first = true
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do
    if first then
      e.request_line = line
      e.method, e.target, e.version = line:match("^(%S+) (%S+) (HTTP/%d%.%d)$")
      first = false
    else
      local name, value = line:match("^([^:]+):[ \t]*(.-)[ \t]*$")
      e.headers[#e.headers + 1] = { name or line, value }
    end
  end
  return e
end

-- The body of 1 MiB-capped pattern the backend generates: "0123456789abcdef" repeated.
function M.pattern(n)
  local block = "0123456789abcdef"
  return block:rep(n // 16) .. block:sub(1, n % 16)
end

---------------------------------------------------------------------------
-- registry specs (11-14): hand-written configs, backends on a given port,
-- one-shot requests, APIM error bodies
---------------------------------------------------------------------------

-- The `gateway:` section M.config starts with (same opts: id, port, workers,
-- limits, timeouts, pool, accessLog), for specs that write the rest of the
-- YAML (namedValues, backends, apis, products, ...) themselves.
function M.gateway_yaml(opts)
  opts = opts or {}
  return table.concat({
    "gateway:",
    "  id: " .. (opts.id or "edge-1"),
    "  hostnames: [localhost]",
    '  listen: ["127.0.0.1:' .. (opts.port or "{{PORT}}") .. '"]',
    "  workers: " .. (opts.workers or 1),
    "  limits: " .. flow_map(merge(M.default_limits, opts.limits)),
    "  timeouts: " .. flow_map(merge(M.default_timeouts, opts.timeouts)),
    "  pool: " .. flow_map(merge(M.default_pool, opts.pool)),
    "  accessLog: " .. (opts.accessLog or "stdout"),
  }, "\n") .. "\n"
end

-- Starts a pt-test-backend on a given port (to bring a killed backend back on
-- the port the gateway knows); same object as M.start_backend returns.
function M.start_backend_at(port, opts)
  opts = opts or {}
  local bin = opts.bin or M.backend_bin
  local name = opts.name or "backend"
  local p = spawn("backend-" .. name, { bin, "--port", tostring(port), "--name", name })
  local ok = M.wait_for(function()
    return p:stdout():match("listening (%d+)") == tostring(port) or not p:alive()
  end, 10, 0.01)
  if not ok or not p:alive() then
    p:kill()
    error(("pt-test-backend could not listen on %d; stderr:\n%s"):format(port, p:stderr()))
  end
  local b = { proc = p, pid = p.pid, port = port, name = name, url = "http://127.0.0.1:" .. port }
  function b.stop() p:kill() end
  function b.stats()
    local c = M.connect(port)
    c:send("GET /__backend/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    local r = assert(c:read_response())
    c:close()
    return M.json_decode(r.body)
  end
  return b
end

-- Starts any program in the background under the process registry (killed by
-- M.cleanup); returns the process object (pid, alive, kill, stdout, ...).
function M.spawn(prefix, argv, env)
  return spawn(prefix, argv, env)
end

-- One request on a fresh connection to `port`; returns the response.
function M.fetch(port, t, opts)
  local c = M.must_connect(port)
  local r = c:request(t, opts)
  c:close()
  return r
end

-- Asserts an APIM error response: status, JSON body {"statusCode": status,
-- "message": ...} (message compared exactly when given), JSON content type.
function M.assert_apim_error(r, status, message)
  assert.are.equal(status, r.status, "status; response:\n" .. M.show(r.raw_head .. (r.body or "")))
  local ok, v = pcall(M.json_decode, r.body)
  assert.is_true(ok and type(v) == "table", "error body is not a JSON object: " .. M.show(r.body))
  assert.are.equal(status, v.statusCode, "statusCode in " .. r.body)
  if message then
    assert.are.equal(message, v.message, "message in " .. r.body)
  else
    assert.is_true(type(v.message) == "string" and #v.message > 0, "no message in " .. r.body)
  end
  assert.is_truthy((r:header("Content-Type") or ""):find("application/json", 1, true),
    "Content-Type: " .. tostring(r:header("Content-Type")))
  return v
end

---------------------------------------------------------------------------
-- hot reload (15): the admin listener, the portico command line, file edits
---------------------------------------------------------------------------

-- One request to the admin listener on `port`: method, path and the whole
-- Authorization value (nil: no Authorization header). Returns the response
-- and its body decoded as JSON (nil when it is not JSON).
function M.admin_request(port, method, path, authorization)
  local headers = { { "Connection", "close" } }
  if authorization then headers[#headers + 1] = { "Authorization", authorization } end
  local t = { method = method, path = path, host = "127.0.0.1:" .. port, headers = headers }
  if method == "POST" or method == "PUT" then t.body = "" end
  local r = M.fetch(port, t)
  local ok, v = pcall(M.json_decode, r.body or "")
  return r, (ok and type(v) == "table") and v or nil
end

-- Runs the portico binary under test (or `bin`) with the argument list `args`
-- to completion; returns its exit status and its stdout+stderr.
function M.portico_command(args, bin)
  local cmd = { M.sq(bin or M.portico_bin) }
  for _, a in ipairs(args) do cmd[#cmd + 1] = M.sq(a) end
  local out = run_capture(table.concat(cmd, " ") .. " </dev/null 2>&1; echo \"rc=$?\"")
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, (out:gsub("rc=%d+%s*$", ""))
end

-- Creates a directory (and its parents) inside the temp dir; returns its path.
function M.subdir(name)
  local path = M.tmpdir() .. "/" .. name
  os.execute("mkdir -p " .. M.sq(path))
  return path
end

-- Replaces a file the way many editors save: writes a new file next to it and
-- renames it over the old one (the old inode goes away).
function M.replace_file(path, data)
  local tmp = ("%s.%d.swp"):format(path, math.random(1, 1e9))
  M.write_file(tmp, data)
  assert(os.rename(tmp, path))
end


---------------------------------------------------------------------------
-- self-chaining (16): own-process resources, loopback TCP state, interfaces
---------------------------------------------------------------------------

-- Number of open file descriptors of process `pid` (nil when it is gone).
function M.fd_count(pid)
  local out = run_capture(("ls /proc/%d/fd 2>/dev/null | wc -l"):format(pid))
  local n = tonumber(out:match("%d+"))
  if not M.file_exists("/proc/" .. pid .. "/status") then return nil end
  return n
end

-- Number of ESTABLISHED TCP sockets (IPv4 and IPv6) whose local port is
-- `port`: the server side of every connection accepted on that port (a
-- client connecting from an ephemeral port never has it as local port).
function M.tcp_established(port)
  local n = 0
  for _, f in ipairs { "/proc/net/tcp", "/proc/net/tcp6" } do
    local s = M.read_file(f) or ""
    for line in s:gmatch("[^\n]+") do
      local lport, st = line:match("^%s*%d+:%s+%x+:(%x+)%s+%x+:%x+%s+(%x%x)")
      if lport and tonumber(lport, 16) == port and st == "01" then n = n + 1 end
    end
  end
  return n
end

-- This machine's first non-loopback IPv4 interface address, or nil.
function M.local_ipv4()
  for a in run_capture("hostname -I 2>/dev/null"):gmatch("%S+") do
    if a:match("^%d+%.%d+%.%d+%.%d+$") and not a:match("^127%.") then return a end
  end
  local trie = M.read_file("/proc/net/fib_trie") or ""
  local last
  for line in trie:gmatch("[^\n]+") do
    local a = line:match("|%-%-%s+(%d+%.%d+%.%d+%.%d+)")
    if a then last = a end
    if line:match("/32 host LOCAL") and last and not last:match("^127%.") then return last end
  end
  return nil
end


---------------------------------------------------------------------------
-- traffic and integration policies (20-22): many requests at once, IPv6
---------------------------------------------------------------------------

-- Fires `total` requests at 127.0.0.1:`port` over opts.conns (16) keep-alive
-- connections, each sending opts.batch (32) pipelined requests and reading
-- their answers before the next batch; all connections are driven at once
-- (select). opts.request: the raw request text, or function(i) -> text (i =
-- 1..total). Answers must be Content-Length framed. opts.on_response(status,
-- head, body, i_conn) is called for every answer. Returns a table of status
-- -> count and the seconds it took; fails the test on a timeout (opts.timeout,
-- 10 s without progress) or a connection closed with answers missing.
function M.blast(port, total, opts)
  opts = opts or {}
  local nconn, batch = opts.conns or 16, opts.batch or 32
  local req = opts.request
  local function request_text(i) return type(req) == "function" and req(i) or req end
  local conns, per, next_i = {}, {}, 1
  for i = 1, nconn do per[i] = total // nconn + (i <= total % nconn and 1 or 0) end
  local t0 = M.now()
  for i = 1, nconn do
    local s = socket.tcp()
    s:settimeout(5)
    local ok, err = s:connect("127.0.0.1", port)
    assert.is_true(ok ~= nil, "blast: cannot connect to " .. port .. ": " .. tostring(err))
    s:setoption("tcp-nodelay", true)
    conns[i] = { sock = s, buf = "", pending = 0, sent = 0 }
  end
  local function send_batch(c, i)
    local n = math.min(batch, per[i] - c.sent)
    if n <= 0 then return end
    local parts = {}
    for k = 1, n do parts[k] = request_text(next_i); next_i = next_i + 1 end
    local data, pos = table.concat(parts), 1
    c.sock:settimeout(5)
    while pos <= #data do
      local last, err, partial = c.sock:send(data, pos)
      if last then pos = last + 1
      elseif err == "timeout" and partial then pos = partial + 1
      else error("blast: send failed: " .. tostring(err)) end
    end
    c.sent, c.pending = c.sent + n, c.pending + n
  end
  for i, c in ipairs(conns) do send_batch(c, i) end
  local counts, done = {}, 0
  while done < total do
    local socks = {}
    for _, c in ipairs(conns) do if c.pending > 0 then socks[#socks + 1] = c.sock end end
    local ready = socket.select(socks, nil, opts.timeout or 10)
    assert.is_true(#ready > 0, ("blast: no answer for %d s; %d of %d answered")
      :format(opts.timeout or 10, done, total))
    for i, c in ipairs(conns) do
      if c.pending > 0 and ready[c.sock] then
        c.sock:settimeout(0)
        local data, err, partial = c.sock:receive(1 << 20)
        data = data or partial or ""
        c.buf = c.buf .. data
        local pos = 1
        while c.pending > 0 do
          local e = c.buf:find("\r\n\r\n", pos, true)
          if not e then break end
          local head = c.buf:sub(pos, e + 1)
          assert.is_nil(head:lower():find("\r\ntransfer%-encoding:"), "blast: chunked answer: " .. M.show(head))
          local cl = tonumber(head:match("\r\n[Cc][Oo][Nn][Tt][Ee][Nn][Tt]%-[Ll][Ee][Nn][Gg][Tt][Hh]:%s*(%d+)")) or 0
          if #c.buf < e + 3 + cl then break end
          local status = tonumber(head:match("^HTTP/1%.%d (%d%d%d)"))
          assert.is_truthy(status, "blast: bad status line: " .. M.show(head))
          counts[status] = (counts[status] or 0) + 1
          if opts.on_response then opts.on_response(status, head, c.buf:sub(e + 4, e + 3 + cl), i) end
          pos = e + 4 + cl
          c.pending = c.pending - 1
          done = done + 1
        end
        c.buf = c.buf:sub(pos)
        if err == "closed" and c.pending > 0 then
          error(("blast: connection %d closed with %d answers missing"):format(i, c.pending))
        end
        if c.pending == 0 then send_batch(c, i) end
      end
    end
  end
  for _, c in ipairs(conns) do c.sock:close() end
  return counts, M.now() - t0
end

-- A header's value in a raw response head (case-insensitive name), or nil.
function M.head_value(head, name)
  local lname = name:lower()
  for line in head:gmatch("[^\r\n]+") do
    local n, v = line:match("^([^:]+):%s*(.-)%s*$")
    if n and n:lower() == lname then return v end
  end
  return nil
end

-- True when this machine can listen and connect on the IPv6 loopback (::1).
function M.ipv6_loopback()
  local s = socket.tcp6 and socket.tcp6()
  if not s then return false end
  local ok = s:bind("::1", 0)
  s:close()
  return ok ~= nil
end

-- One request to [::1]:`port` on a fresh connection; returns the response
-- (the same object Conn:request returns).
function M.fetch6(port, t, opts)
  local sock = socket.tcp6()
  sock:settimeout(M.default_timeout)
  local ok, err = sock:connect("::1", port)
  assert.is_true(ok ~= nil, "cannot connect to [::1]:" .. port .. ": " .. tostring(err))
  local c = setmetatable({ sock = sock, buf = "", eof = false, timeout = M.default_timeout }, Conn)
  state.clients[#state.clients + 1] = c
  local r = c:request(t, opts)
  c:close()
  return r
end

-- All values of a (possibly repeated, comma-joined) header of msg as one list.
function M.header_list(msg, name)
  local t = {}
  for _, v in ipairs(msg:header_all(name)) do
    for item in v:gmatch("[^,]+") do t[#t + 1] = (item:gsub("^%s+", ""):gsub("%s+$", "")) end
  end
  return t
end

-- "/p?a=1&b=2" -> "/p", { "a=1", "b=2" } ({} when there is no query).
function M.split_target(target)
  local path, q = target:match("^([^?]*)%?(.*)$")
  if not path then return target, {} end
  local params = {}
  for p in q:gmatch("[^&]+") do params[#params + 1] = p end
  return path, params
end

return M
