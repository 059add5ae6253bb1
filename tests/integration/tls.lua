-- tls.lua - TLS machinery of the integration specs (24-26).
--
-- Everything here drives Debian's own tools, so that the gateway's TLS is
-- checked by an independent implementation (OpenSSL) and nothing is mocked:
--
--   * certificates made at test time with `openssl` (CAs, intermediates,
--     server and client leaves with SANs, ECDSA P-256 or RSA) into the spec's
--     temp dir, with what `openssl x509` says about them (subject, serial,
--     SHA-1 thumbprint as .NET writes it);
--   * `openssl s_client` runs with options (SNI, ALPN, versions, ciphers,
--     client certificate, sessions, reconnect, a request to send), its output
--     parsed: handshake result, protocol, cipher, ALPN, reuse, the served
--     chain, the HTTP response that followed;
--   * a persistent TLS client connection (s_client fed through a FIFO) with
--     the same request/read_response methods as helpers' raw connections, for
--     keep-alive checks across a reload;
--   * an nginx HTTPS backend (Debian nginx-light has the ssl module) that
--     answers every request with what it saw of the TLS connection: client
--     certificate DN and fingerprint, SNI, connection serial, protocol, the
--     request line and X-Forwarded-Proto.
--
-- Processes are started through helpers (h.spawn) so that h.cleanup stops
-- them; files go to h.tmpdir().
local socket = require "socket"
local h = require "helpers"

local T = { h = h }

local sq = h.sq

---------------------------------------------------------------------------
-- commands
---------------------------------------------------------------------------

-- Runs a shell command to completion; returns its exit status and its
-- stdout+stderr (stderr merged unless the command redirects it itself).
function T.run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"rc=$?\"", "r"))
  local out = p:read("a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, (out:gsub("rc=%d+%s*$", ""))
end

-- Runs a command that must succeed; fails with its output otherwise.
local function must(cmd)
  local rc, out = T.run(cmd)
  if rc ~= 0 then error(("command failed (exit %s): %s\n%s"):format(tostring(rc), cmd, out), 2) end
  return out
end
T.must = must

local seq = 0
local function uniq(prefix)
  seq = seq + 1
  return ("%s-%d"):format(prefix, seq)
end

-- The directory certificates are written to (inside the spec's temp dir).
function T.certdir()
  return h.subdir("certs")
end

---------------------------------------------------------------------------
-- certificates
---------------------------------------------------------------------------

local function genkey(path, kind)
  if kind == "rsa" then
    must(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s"):format(sq(path)))
  else
    must(("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s"):format(sq(path)))
  end
end

local function random_serial()
  local t = {}
  for i = 1, 8 do t[i] = ("%02X"):format(math.random(i == 1 and 0x10 or 0, i == 1 and 0x7f or 0xff)) end
  return table.concat(t)
end

-- What openssl says about a PEM certificate (the first one of `path`):
-- subject and issuer (openssl's one-line form, "CN = x, O = y"), cn, serial
-- (uppercase hex), thumbprint (SHA-1, uppercase hex without colons, as .NET's
-- X509Certificate2.Thumbprint), sha256 (same form), san (list of "DNS:x" /
-- "IP Address:x"), not_before / not_after (openssl's text), pem.
function T.cert_info(path)
  local out = must(("openssl x509 -in %s -noout -subject -issuer -serial -fingerprint -sha1 -dates -ext subjectAltName")
    :format(sq(path)))
  local info = {
    subject = out:match("subject=([^\n]*)"),
    issuer = out:match("issuer=([^\n]*)"),
    serial = (out:match("serial=(%x+)") or ""):upper(),
    thumbprint = (out:match("[Ff]ingerprint=([%x:]+)") or ""):gsub(":", ""):upper(),
    not_before = out:match("notBefore=([^\n]*)"),
    not_after = out:match("notAfter=([^\n]*)"),
    san = {},
  }
  info.cn = info.subject and info.subject:match("CN%s*=%s*([^,/]+)")
  if info.cn then info.cn = info.cn:gsub("%s+$", "") end
  local sans = out:match("Subject Alternative Name:[^\n]*\n%s*([^\n]*)")
  for item in (sans or ""):gmatch("[^,]+") do info.san[#info.san + 1] = (item:gsub("^%s+", ""):gsub("%s+$", "")) end
  local fp256 = must(("openssl x509 -in %s -noout -fingerprint -sha256"):format(sq(path)))
  info.sha256 = (fp256:match("=([%x:]+)") or ""):gsub(":", ""):upper()
  info.pem = h.read_file(path):match("%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-.-%-%-%-%-%-END CERTIFICATE%-%-%-%-%-\n?")
  return info
end

-- The same for a PEM certificate given as text.
function T.pem_info(pem)
  local path = T.certdir() .. "/" .. uniq("peer") .. ".pem"
  h.write_file(path, pem)
  return T.cert_info(path)
end

local function subject_of(o, default_cn)
  if o.subject then return o.subject end
  return "/CN=" .. (o.cn or default_cn) .. (o.o and ("/O=" .. o.o) or "")
end

-- A certificate authority. o: name (file stem), cn, key ("ec" default |
-- "rsa"), issuer (another CA from T.ca: an intermediate signed by it), days.
-- Returns { cert, key, name, subject, chain (PEM files from this CA up to,
-- not including, the root), root, info }.
function T.ca(o)
  o = o or {}
  local dir = T.certdir()
  local name = o.name or uniq("ca")
  local ca = { name = name, cert = dir .. "/" .. name .. ".pem", key = dir .. "/" .. name .. ".key" }
  genkey(ca.key, o.key)
  local subj = subject_of(o, "Portico Test CA " .. name)
  local ext = dir .. "/" .. name .. ".ext"
  h.write_file(ext, "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
    .. "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n")
  if o.issuer then
    local csr = dir .. "/" .. name .. ".csr"
    must(("openssl req -new -key %s -subj %s -out %s"):format(sq(ca.key), sq(subj), sq(csr)))
    must(("openssl x509 -req -in %s -CA %s -CAkey %s -set_serial 0x%s -days %d -sha256 -extfile %s -out %s")
      :format(sq(csr), sq(o.issuer.cert), sq(o.issuer.key), random_serial(), o.days or 60, sq(ext), sq(ca.cert)))
    ca.root = o.issuer.root or o.issuer
    ca.chain = { ca.cert }
    for _, c in ipairs(o.issuer.chain or {}) do ca.chain[#ca.chain + 1] = c end
  else
    must(("openssl req -x509 -new -key %s -subj %s -days %d -sha256 -set_serial 0x%s "
      .. "-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' -out %s")
      :format(sq(ca.key), sq(subj), o.days or 60, random_serial(), sq(ca.cert)))
    ca.root = ca
    ca.chain = {}
  end
  ca.info = T.cert_info(ca.cert)
  ca.subject = ca.info.subject
  return ca
end

-- A leaf certificate signed by `ca`. o: name (file stem), cn, o
-- (organisation), dns (list of DNS SANs), ip (list of IP SANs), key ("ec" |
-- "rsa"), usage ("server" default | "client" | "both"), serial (hex),
-- days, files ({cert=, key=}: write there instead, e.g. to replace the files
-- a running gateway uses). The cert file holds the leaf followed by the
-- intermediates of `ca` (not the root). Returns { cert, key, leaf (the leaf
-- alone), info (T.cert_info of the leaf), thumbprint, serial, ca }.
function T.leaf(ca, o)
  o = o or {}
  local dir = T.certdir()
  local name = o.name or uniq("leaf")
  local stem = dir .. "/" .. name
  local c = { name = name, ca = ca, leaf = stem .. ".leaf.pem" }
  c.cert = o.files and o.files.cert or (stem .. ".pem")
  c.key = o.files and o.files.key or (stem .. ".key")
  local keytmp = stem .. ".key.new"
  genkey(keytmp, o.key)
  local usage = o.usage or "server"
  local eku = usage == "client" and "clientAuth" or usage == "both" and "serverAuth,clientAuth" or "serverAuth"
  local sans = {}
  for _, d in ipairs(o.dns or (usage ~= "client" and { o.cn or "localhost" } or {})) do sans[#sans + 1] = "DNS:" .. d end
  for _, a in ipairs(o.ip or {}) do sans[#sans + 1] = "IP:" .. a end
  local ext = { "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature" .. (o.key == "rsa" and ",keyEncipherment" or ""),
    "extendedKeyUsage=" .. eku, "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid,issuer" }
  if #sans > 0 then ext[#ext + 1] = "subjectAltName=" .. table.concat(sans, ",") end
  h.write_file(stem .. ".ext", table.concat(ext, "\n") .. "\n")
  local csr = stem .. ".csr"
  local subj = subject_of(o, usage == "client" and ("client " .. name) or "localhost")
  must(("openssl req -new -key %s -subj %s -out %s"):format(sq(keytmp), sq(subj), sq(csr)))
  must(("openssl x509 -req -in %s -CA %s -CAkey %s -set_serial 0x%s -days %d -sha256 -extfile %s -out %s")
    :format(sq(csr), sq(ca.cert), sq(ca.key), o.serial or random_serial(), o.days or 30, sq(stem .. ".ext"), sq(c.leaf)))
  local parts = { h.read_file(c.leaf) }
  for _, f in ipairs(ca.chain or {}) do parts[#parts + 1] = h.read_file(f) end
  -- written whole and renamed into place: a watcher never sees half a file
  h.replace_file(c.cert, table.concat(parts))
  h.replace_file(c.key, h.read_file(keytmp))
  os.remove(keytmp)
  c.info = T.cert_info(c.leaf)
  c.thumbprint, c.serial, c.subject = c.info.thumbprint, c.info.serial, c.info.subject
  return c
end

-- A PEM file holding the certificates of every CA given (a CA bundle).
function T.bundle(cas, name)
  local parts = {}
  for _, ca in ipairs(cas) do parts[#parts + 1] = h.read_file(ca.cert) end
  local path = T.certdir() .. "/" .. (name or uniq("bundle")) .. ".pem"
  h.write_file(path, table.concat(parts))
  return path
end

---------------------------------------------------------------------------
-- openssl s_client, one shot
---------------------------------------------------------------------------

local VERSION_FLAG = { tls1 = "-tls1", tls1_1 = "-tls1_1", tls1_2 = "-tls1_2", tls1_3 = "-tls1_3" }

local function sclient_args(port, o)
  local a = { "openssl", "s_client", "-connect", "127.0.0.1:" .. port, "-showcerts" }
  local function add(...) for _, x in ipairs { ... } do a[#a + 1] = x end end
  if o.servername then add("-servername", o.servername) else add("-noservername") end
  if o.version then
    local flag = VERSION_FLAG[o.version]
    assert(flag, "unknown version " .. tostring(o.version))
    add(flag)
  end
  -- TLS 1.0/1.1 need OpenSSL's security level 0 on the client side, so that
  -- a refusal is the server's and not this client's
  if o.version == "tls1" or o.version == "tls1_1" then
    add("-cipher", o.cipher or "DEFAULT:@SECLEVEL=0")
  elseif o.cipher then
    add("-cipher", o.cipher)
  end
  if o.ciphersuites then add("-ciphersuites", o.ciphersuites) end
  if o.alpn then add("-alpn", o.alpn) end
  if o.cert then add("-cert", o.cert) end
  if o.key then add("-key", o.key) end
  if o.cafile then add("-CAfile", o.cafile, "-verify_return_error") end
  if o.verify_hostname then add("-verify_hostname", o.verify_hostname) end
  if o.sess_out then add("-sess_out", o.sess_out) end
  if o.sess_in then add("-sess_in", o.sess_in) end
  if o.no_ticket then add("-no_ticket") end
  if o.reconnect then add("-reconnect") end
  if o.sigalgs then add("-sigalgs", o.sigalgs) end
  if o.curves then add("-curves", o.curves) end
  add("-nocommands")
  for _, x in ipairs(o.extra or {}) do add(x) end
  return a
end

-- Splits s_client's output into the handshake report and the application
-- data that followed it (what the server sent).
local function split_output(out)
  -- the report's last block ends with "Verify return code: ..." (and, in
  -- TLS 1.2, "Extended master secret: ...") and a "---" line
  local s = out:find("Verify return code:", 1, true)
  if not s then return out, "" end
  local e = out:find("\n---\n", s, true)
  if not e then return out, "" end
  local data = out:sub(e + 5)
  -- TLS 1.3 (the nginx backend, never the gateway): tickets arrive after the handshake
  data = data:gsub("%-%-%-\nPost%-Handshake New Session Ticket arrived:\n.-\n%-%-%-\n", "")
  data = data:gsub("read R BLOCK\n", "")
  return out:sub(1, e + 4), data
end

-- Parses an HTTP/1.x response from text (Content-Length, chunked or close
-- framing). Returns a response with helpers' Response methods (header,
-- header_all, has_token), or nil.
function T.parse_response(text)
  local i = text and text:find("\r\n\r\n", 1, true)
  if not i then return nil end
  local head = text:sub(1, i - 1)
  local r = setmetatable({ raw_head = head .. "\r\n\r\n", headers = {} }, h.Response)
  local first = true
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do
    if first then
      r.status_line = line
      r.version, r.status, r.reason = line:match("^(HTTP/%d%.%d) (%d%d%d) ?(.*)$")
      r.status = tonumber(r.status)
      first = false
    else
      local n, v = line:match("^([^:]+):[ \t]*(.-)[ \t]*$")
      if n then r.headers[#r.headers + 1] = { n, v } end
    end
  end
  local rest = text:sub(i + 4)
  local cl = tonumber(r:header("Content-Length") or "")
  if cl then
    r.body = rest:sub(1, cl)
    r.complete = #r.body == cl
    r.rest = rest:sub(cl + 1)
  elseif (r:header("Transfer-Encoding") or ""):lower():find("chunked", 1, true) then
    local parts, pos = {}, 1
    r.complete = false
    while true do
      local le = rest:find("\r\n", pos, true)
      if not le then break end
      local size = tonumber(rest:sub(pos, le - 1):match("^(%x+)") or "", 16)
      if not size then break end
      if size == 0 then
        r.complete = true
        local te = rest:find("\r\n\r\n", le, true)
        r.rest = te and rest:sub(te + 4) or ""
        break
      end
      parts[#parts + 1] = rest:sub(le + 2, le + 1 + size)
      pos = le + 4 + size
    end
    r.body = table.concat(parts)
  else
    r.body = rest
    r.complete = true
  end
  return r
end

-- True when s_client's -msg trace shows the server's Finished arriving: the
-- handshake completed (s_client prints its session report even after a
-- handshake the server broke off).
function T.finished(msg)
  return msg:find("<<< [^\n]*Handshake %[length %x+%], Finished") ~= nil
end

-- The alert the server sent ("fatal handshake_failure", ...), if any.
function T.alert(msg)
  return msg:match("<<< [^\n]*Alert %[length %x+%], ([^\n]+)")
end

-- The -msg trace without its hex dumps: one line per message.
function T.msg_summary(msg)
  local t = {}
  for line in msg:gmatch("[^\n]+") do
    if line:match("^[<>][<>][<>]") then t[#t + 1] = line end
  end
  return table.concat(t, "\n")
end

-- Runs `openssl s_client` against 127.0.0.1:port once. o: servername (SNI;
-- nil/false: none), version ("tls1" | "tls1_1" | "tls1_2" | "tls1_3"),
-- cipher, ciphersuites, alpn ("http/1.1"), cert + key (client certificate),
-- cafile (verify the server against it, failing the handshake otherwise),
-- verify_hostname, sess_out / sess_in (session files), no_ticket,
-- reconnect, request (text sent after the handshake; the connection stays
-- open until the server closes it or `timeout` passes), timeout (s, default
-- 10), extra (more arguments).
-- Returns { ok (handshake done: the server's Finished arrived), alert (the
-- server's alert, e.g. "fatal handshake_failure"), msg (the -msg trace), protocol, cipher, alpn, reused (count of
-- "Reused" lines), new (count of "New" lines), certs (PEM texts, as served),
-- peer (T.pem_info of the first one, or nil), verify_code, verify_text,
-- data (what the server sent after the handshake), response (parsed from
-- data), output, stderr, rc, cmd }.
function T.s_client(port, o)
  o = o or {}
  local dir = h.subdir("sclient")
  local base = dir .. "/" .. uniq("run")
  local input = "/dev/null"
  if o.request then
    input = base .. ".in"
    h.write_file(input, o.request)
  end
  local args = sclient_args(port, o)
  if o.request then args[#args + 1] = "-ign_eof" end
  -- the handshake messages, to tell a finished handshake (the server's
  -- Finished arrived) from one s_client reports after a failure
  local msgfile = base .. ".msg"
  for _, x in ipairs { "-msg", "-msgfile", msgfile } do args[#args + 1] = x end
  local q = {}
  for i, x in ipairs(args) do q[i] = sq(x) end
  local cmd = ("timeout %d %s <%s >%s 2>%s"):format(o.timeout or 10, table.concat(q, " "), sq(input),
    sq(base .. ".out"), sq(base .. ".err"))
  local rc = T.run(cmd)
  local out = h.read_file(base .. ".out") or ""
  local err = h.read_file(base .. ".err") or ""
  local report, data = split_output(out)
  data = data:gsub("closed\n$", "")
  local msg = h.read_file(msgfile) or ""
  local r = { output = out, stderr = err, rc = rc, cmd = cmd, data = data, certs = {}, msg = msg }
  local _, proto, cipher = report:match("\n(%a+), ([^,]+), Cipher is ([^\n]+)")
  r.ok = T.finished(msg) and proto ~= nil and proto ~= "(NONE)" and cipher ~= "(NONE)"
  r.alert = T.alert(msg)
  r.protocol = report:match("Protocol%s*:%s*(%S+)")
  r.cipher = report:match("\n%s*Cipher%s*:%s*(%S+)")
  if not r.ok then r.protocol, r.cipher = nil, nil end
  r.alpn = report:match("ALPN protocol: ([^\n]+)")
  r.verify_code = tonumber(report:match("Verify return code: (%d+)") or "")
  r.verify_text = report:match("Verify return code: %d+ %(([^)]*)%)")
  r.new, r.reused = 0, 0
  for _ in out:gmatch("\nNew, TLS") do r.new = r.new + 1 end
  for _ in out:gmatch("\nReused, TLS") do r.reused = r.reused + 1 end
  local chain = report:match("Certificate chain\n(.-)\n%-%-%-\n") or ""
  for pem in chain:gmatch("%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-.-%-%-%-%-%-END CERTIFICATE%-%-%-%-%-\n?") do
    r.certs[#r.certs + 1] = pem
  end
  if #r.certs > 0 then r.peer = T.pem_info(r.certs[1]) end
  if #data > 0 then r.response = T.parse_response(data) end
  function r.describe()
    local shown = out:gsub("\n    %x%x%x%x %- [^\n]*", ""):gsub("\n[%w+/=]+\n%-%-%-%-%-END", "\n...\n-----END")
    return ("%s\n-- s_client stdout:\n%s\n-- stderr:\n%s\n-- handshake messages:\n%s"):format(cmd,
      h.show(h.tail(shown, 2500)), h.show(h.tail(err, 1500)), T.msg_summary(msg))
  end
  return r
end

-- Runs n `openssl s_client` at once against 127.0.0.1:port, each sending
-- `request` and closing as soon as it has sent it (stdin EOF, no -ign_eof):
-- the server then writes its answer, and its close_notify, to a socket the
-- client has closed. Waits for all of them; returns the number that ran.
function T.hit_and_run(port, n, request)
  local dir = h.subdir("sclient")
  local input = dir .. "/" .. uniq("burst") .. ".in"
  h.write_file(input, request)
  local cmd = ("i=0; while [ $i -lt %d ]; do timeout 10 openssl s_client -connect 127.0.0.1:%d -noservername -quiet "
    .. "<%s >/dev/null 2>&1 & i=$((i+1)); done; wait; echo ran=$i"):format(n, port, sq(input))
  local _, out = T.run(cmd)
  return tonumber(out:match("ran=(%d+)"))
end

---------------------------------------------------------------------------
-- a persistent TLS connection (s_client through a FIFO)
---------------------------------------------------------------------------

-- helpers' raw connection class (not exported): taken from a connection
-- to a throwaway local listener.
local Conn
do
  local srv = assert(socket.bind("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local c = assert(h.connect(tonumber(port)))
  Conn = getmetatable(c)
  c:close()
  srv:close()
end

-- Opens a TLS connection to 127.0.0.1:port with `openssl s_client` kept
-- running; returns an object with helpers' connection methods (send,
-- request, read_response, closed, closed_eventually, ...) on top of it, or
-- nil and the s_client output when the handshake failed. o: as T.s_client
-- (servername, cert, key, cafile, alpn, version, cipher), timeout. Meant for
-- TLS 1.2 (the gateway): with TLS 1.3, s_client prints the tickets that
-- arrive after the handshake among the data.
function T.tls_connect(port, o)
  o = o or {}
  local dir = h.subdir("sclient")
  local base = dir .. "/" .. uniq("conn")
  local fifo = base .. ".fifo"
  must("mkfifo " .. sq(fifo))
  -- opened read-write: never blocks, and s_client's open for reading does not either
  local w = assert(io.open(fifo, "r+b"))
  local args = sclient_args(port, o)
  local msgfile = base .. ".msg"
  for _, x in ipairs { "-ign_eof", "-msg", "-msgfile", msgfile } do args[#args + 1] = x end
  local q = {}
  for i, x in ipairs(args) do q[i] = sq(x) end
  local p = h.spawn("sclient", { "sh", "-c", "exec " .. table.concat(q, " ") .. " <" .. sq(fifo) })
  local c = setmetatable({ buf = "", eof = false, timeout = o.timeout or h.default_timeout,
    proc = p, fifo = w, offset = nil, sock = true }, Conn)
  -- the handshake report ends with the session block; data follows it
  local ok = h.wait_for(function()
    local out = p:stdout()
    local report, _ = split_output(out)
    if #report < #out or out:find("Verify return code:.-\n%-%-%-\n") then
      c.offset = #report
      return true
    end
    return not p:alive()
  end, 10, 0.01)
  local out = p:stdout()
  local proto = out:match("\nNew, ([^,]+), Cipher is")
  if not ok or not c.offset or proto == nil or proto == "(NONE)" or not T.finished(h.read_file(msgfile) or "") then
    local text = out .. "\n-- stderr:\n" .. p:stderr()
    p:kill()
    w:close()
    return nil, text
  end
  c.protocol = out:match("Protocol%s*:%s*(%S+)")
  c.cipher = out:match("\n%s*Cipher%s*:%s*(%S+)")
  local pem = out:match("%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-.-%-%-%-%-%-END CERTIFICATE%-%-%-%-%-\n?")
  c.peer_pem = pem

  function c:send(data)
    if not self.fifo then return nil, "closed" end
    if not self.proc:alive() then return nil, "closed" end
    self.fifo:write(data)
    self.fifo:flush()
    return true
  end

  -- Data that arrived since the last call, by polling s_client's stdout.
  function c:recv_some(timeout)
    if self.eof then return nil, "closed" end
    local deadline = h.now() + timeout
    while true do
      local alive = self.proc:alive()
      local out = self.proc:stdout()
      if #out > self.offset then
        local data = out:sub(self.offset + 1)
        -- s_client writes "closed" when the server closed, then exits: held
        -- back while it runs, dropped once it has exited
        if data:sub(-7) == "closed\n" then
          data = data:sub(1, -8)
          if not alive then self.offset = #out else self.offset = #out - 7 end
        else
          self.offset = #out
        end
        if #data > 0 then return data end
      end
      if not alive then
        self.eof = true
        return nil, "closed"
      end
      if h.now() >= deadline then return nil, "timeout" end
      socket.sleep(0.005)
    end
  end

  function c:close()
    if self.fifo then
      self.fifo:close()
      self.fifo = nil
    end
    self.proc:kill()
  end

  -- True while s_client (and so the TLS connection) is alive.
  function c:alive() return self.proc:alive() end

  return c
end

---------------------------------------------------------------------------
-- nginx as an HTTPS backend
---------------------------------------------------------------------------

-- The body the nginx backend answers with: one "name=value" line each.
T.NGINX_ECHO = table.concat({
  "request=$request",
  "host=$host",
  "sni=$ssl_server_name",
  "protocol=$ssl_protocol",
  "cipher=$ssl_cipher",
  "connection=$connection",
  "connection_requests=$connection_requests",
  "session_reused=$ssl_session_reused",
  "client_verify=$ssl_client_verify",
  "client_s_dn=$ssl_client_s_dn",
  "client_i_dn=$ssl_client_i_dn",
  "client_fingerprint=$ssl_client_fingerprint",
  "client_serial=$ssl_client_serial",
  "x_forwarded_proto=$http_x_forwarded_proto",
  "x_client_thumbprint=$http_x_client_thumbprint",
  "via=$http_via",
  "name=@NAME@",
}, "\\n") .. "\\n"

-- Parses the nginx backend's body into a table (name -> value).
function T.parse_kv(body)
  local t = {}
  for line in (body or ""):gmatch("[^\n]+") do
    local k, v = line:match("^([%w_]+)=(.*)$")
    if k then t[k] = v end
  end
  return t
end

-- Starts nginx (one process, no master) serving HTTPS on a free port of
-- 127.0.0.1 (and [::1] when it exists). o: cert, key (files; the cert file
-- may hold the chain), name (echoed as name=), verify_client ("off" default
-- | "optional_no_ca" | "optional" | "on"), client_ca (file, for optional/on),
-- protocols (nginx's ssl_protocols, default "TLSv1.2 TLSv1.3"), ciphers,
-- session_tickets (default on).
-- Returns { port, proc, url(host) -> "https://host:port", stop, error_log() }.
function T.start_nginx_https(o)
  assert(o and o.cert and o.key, "start_nginx_https: cert and key are required")
  local name = o.name or uniq("nginx")
  local dir = h.subdir("nginx-" .. name)
  local port = h.free_port()
  local listens = { ("listen 127.0.0.1:%d ssl;"):format(port) }
  if h.ipv6_loopback() then listens[#listens + 1] = ("listen [::1]:%d ssl;"):format(port) end
  local verify = o.verify_client or "off"
  local lines = {
    "daemon off;",
    "master_process off;",
    "worker_processes 1;",
    "pid " .. dir .. "/nginx.pid;",
    "error_log " .. dir .. "/error.log info;",
    "events { worker_connections 1024; }",
    "http {",
    "  access_log " .. dir .. "/access.log;",
    "  client_body_temp_path " .. dir .. "/body;",
    "  proxy_temp_path " .. dir .. "/proxy;",
    "  fastcgi_temp_path " .. dir .. "/fastcgi;",
    "  uwsgi_temp_path " .. dir .. "/uwsgi;",
    "  scgi_temp_path " .. dir .. "/scgi;",
    "  keepalive_timeout 60s;",
    "  keepalive_requests 10000;",
    "  server {",
    "    " .. table.concat(listens, "\n    "),
    "    server_name _;",
    "    ssl_certificate " .. o.cert .. ";",
    "    ssl_certificate_key " .. o.key .. ";",
    "    ssl_protocols " .. (o.protocols or "TLSv1.2 TLSv1.3") .. ";",
    "    ssl_session_tickets " .. (o.session_tickets == false and "off" or "on") .. ";",
    "    ssl_verify_client " .. verify .. ";",
    "    ssl_verify_depth 4;",
  }
  if o.ciphers then lines[#lines + 1] = "    ssl_ciphers " .. o.ciphers .. ";" end
  if o.client_ca then lines[#lines + 1] = "    ssl_client_certificate " .. o.client_ca .. ";" end
  local echo = T.NGINX_ECHO:gsub("@NAME@", name)
  for _, l in ipairs {
    "    location / {",
    "      default_type text/plain;",
    "      add_header X-Backend-Name " .. name .. " always;",
    "      add_header X-Nginx-Connection $connection always;",
    '      return 200 "' .. echo .. '";',
    "    }",
    "  }",
    "}",
  } do lines[#lines + 1] = l end
  local conf = dir .. "/nginx.conf"
  h.write_file(conf, table.concat(lines, "\n") .. "\n")
  local p = h.spawn("nginx-" .. name, { "nginx", "-p", dir, "-e", dir .. "/error.log", "-c", conf })
  local up = h.wait_for(function() return not p:alive() or h.port_open(port) end, 10, 0.02)
  if not up or not p:alive() then
    local err = (h.read_file(dir .. "/error.log") or "") .. p:stderr()
    p:kill()
    error(("nginx HTTPS backend did not start on %d:\n%s\nconfig:\n%s"):format(port, err, h.read_file(conf)))
  end
  local b = { port = port, proc = p, name = name, dir = dir, conf = conf }
  function b.url(host) return ("https://%s:%d"):format(host or "localhost", port) end
  function b.stop() p:kill() end
  function b.error_log() return h.read_file(dir .. "/error.log") or "" end
  return b
end

return T
