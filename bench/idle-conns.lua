-- Opens N keep-alive client connections to HOST:PORT, sends one complete
-- GET on each, reads the whole response, then keeps every connection open
-- and idle until the process is killed. Used by bench/run to measure what an
-- idle connection costs a proxy in resident memory.
--
--   lua5.4 bench/idle-conns.lua HOST PORT N [PATH]
--
-- Prints progress to stderr and, once all connections are parked, one line
-- "READY ok=<n> failed=<m>" to stdout (bench/run waits for it).

local socket = require("socket")

local host = arg[1] or "127.0.0.1"
local port = tonumber(arg[2])
local count = tonumber(arg[3] or "10000")
local path = arg[4] or "/"
if not port or not count then
  io.stderr:write("usage: idle-conns.lua HOST PORT N [PATH]\n")
  os.exit(2)
end

local request = "GET " .. path .. " HTTP/1.1\r\nHost: " .. host .. ":" .. port ..
  "\r\nUser-Agent: portico-bench-idle\r\nAccept: */*\r\n\r\n"

-- Reads one HTTP/1.1 response (head plus a Content-Length or chunked body).
-- Returns the status code, or nil and a reason.
local function read_response(s)
  local status_line, err = s:receive("*l")
  if not status_line then return nil, "status line: " .. tostring(err) end
  local status = tonumber(status_line:match("^HTTP/1%.%d (%d%d%d)"))
  if not status then return nil, "bad status line: " .. status_line end
  local length, chunked, close = nil, false, false
  while true do
    local line
    line, err = s:receive("*l")
    if not line then return nil, "header: " .. tostring(err) end
    if line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      name = name:lower()
      if name == "content-length" then
        length = tonumber(value)
      elseif name == "transfer-encoding" and value:lower():find("chunked", 1, true) then
        chunked = true
      elseif name == "connection" and value:lower():find("close", 1, true) then
        close = true
      end
    end
  end
  if chunked then
    while true do
      local size_line
      size_line, err = s:receive("*l")
      if not size_line then return nil, "chunk size: " .. tostring(err) end
      local size = tonumber(size_line:match("^%x+"), 16)
      if not size then return nil, "bad chunk size: " .. size_line end
      if size == 0 then
        -- trailers, up to the empty line
        repeat
          local t
          t, err = s:receive("*l")
          if not t then return nil, "trailer: " .. tostring(err) end
        until t == ""
        break
      end
      local _, e = s:receive(size + 2)
      if e then return nil, "chunk body: " .. tostring(e) end
    end
  elseif length and length > 0 then
    local _, e = s:receive(length)
    if e then return nil, "body: " .. tostring(e) end
  end
  if close then return nil, "server answered Connection: close" end
  return status
end

local open = {}
local ok, failed = 0, 0
local first_error
for i = 1, count do
  local s = socket.tcp()
  s:settimeout(10)
  local good, err = s:connect(host, port)
  if good then
    local _, serr = s:send(request)
    if serr then
      good, err = nil, "send: " .. serr
    else
      local status, rerr = read_response(s)
      if not status then
        good, err = nil, rerr
      elseif status ~= 200 then
        good, err = nil, "status " .. status
      end
    end
  end
  if good then
    ok = ok + 1
    open[#open + 1] = s
  else
    failed = failed + 1
    first_error = first_error or err
    s:close()
  end
  if i % 2000 == 0 then
    io.stderr:write(string.format("idle-conns: %d/%d (failed %d)\n", i, count, failed))
  end
end
if first_error then
  io.stderr:write("idle-conns: first error: " .. tostring(first_error) .. "\n")
end

io.stdout:write(string.format("READY ok=%d failed=%d\n", ok, failed))
io.stdout:flush()

-- Park: the connections stay open (and referenced) until we are killed.
while true do
  socket.sleep(3600)
end
