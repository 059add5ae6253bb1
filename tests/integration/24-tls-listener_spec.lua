-- HTTPS listeners: TLS 1.2 with the modern default suites (ECDHE + AEAD),
-- TLS 1.0/1.1 refused, ALPN http/1.1, session resumption with tickets, SNI
-- choosing among gateway.certificates (exact and one-label wildcard names,
-- the listener's default otherwise), the served chain, client certificates
-- (none / optional / required) and what policies see of them
-- (context.Request.Certificate), X-Forwarded-Proto, plain HTTP on a TLS port
-- (400 + close), garbage and failed handshakes (counted in /status, never a
-- crash), the handshake timeout, and certificates renewed by a hot reload
-- while a keep-alive TLS connection opened before it keeps working.
--
-- Every certificate is made at test time with openssl (tls.lua); every TLS
-- client is `openssl s_client`; the echo backend is pt-test-backend.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"
local T = require "tls"

local TOKEN = "pt-admin-tls-4Hq8Zr2Lx"
local AUTH = "Bearer " .. TOKEN

-- The API's policy: what the gateway knows of the client certificate, as
-- request headers the echo backend shows.
local CERT_POLICY = [[<policies>
  <inbound>
    <base />
    <set-header name="X-Client-Thumbprint" exists-action="override">
      <value>@(context.Request.Certificate == null ? "none" : context.Request.Certificate.Thumbprint)</value>
    </set-header>
    <set-header name="X-Client-Subject" exists-action="override">
      <value>@(context.Request.Certificate == null ? "none" : context.Request.Certificate.Subject)</value>
    </set-header>
    <set-header name="X-Client-Issuer" exists-action="override">
      <value>@(context.Request.Certificate == null ? "none" : context.Request.Certificate.Issuer)</value>
    </set-header>
    <set-header name="X-Client-Not-Before" exists-action="override">
      <value>@(context.Request.Certificate == null ? "none" : context.Request.Certificate.NotBefore.ToString("s"))</value>
    </set-header>
    <set-header name="X-Client-Not-After" exists-action="override">
      <value>@(context.Request.Certificate == null ? "none" : context.Request.Certificate.NotAfter.ToString("s"))</value>
    </set-header>
    <set-header name="X-Url-Scheme" exists-action="override">
      <value>@(context.Request.OriginalUrl.Scheme)</value>
    </set-header>
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>
]]

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- openssl's "Nov 26 14:16:51 2026 GMT" as "2026-11-26T14:16:51" (.NET's "s" format).
local function iso(openssl_date)
  local mon, d, hh, mm, ss, y = openssl_date:match("^(%a+)%s+(%d+)%s+(%d+):(%d+):(%d+)%s+(%d+)")
  return ("%04d-%02d-%02dT%02d:%02d:%02d"):format(tonumber(y), MONTHS[mon], tonumber(d), tonumber(hh), tonumber(mm), tonumber(ss))
end

-- gateway_yaml's text with its `listen:` line replaced by `listen` (YAML text).
local function with_listen(yaml, listen)
  local out = yaml:gsub("listen: %[[^\n]*%]\n", function() return listen:gsub("\n?$", "\n") end, 1)
  return out
end

-- A `listen:` line: the plain {{PORT}} (when plain) and one TLS listener.
local function tls_listen(port, cert, key, plain)
  return ('listen: [%s{ address: "127.0.0.1:%d", tls: { certificate: "%s", key: "%s" } }]')
    :format(plain == false and "" or '"127.0.0.1:{{PORT}}", ', port, cert, key)
end

local function get_request(path, extra)
  return ("GET %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n"):format(path, extra or "")
end

-- The gateway's TLS counters summed over workers (/status workers[].tls),
-- or nil when /status does not report them.
local function tls_counters(admin)
  local r, st = h.admin_request(admin, "GET", "/status", AUTH)
  assert.are.equal(200, r.status, "GET /status: " .. h.show(r.raw_head .. (r.body or "")))
  local sum, seen = { handshakes = 0, failures = 0 }, false
  for _, w in ipairs(st.workers or {}) do
    if type(w.tls) == "table" then
      seen = true
      for k, v in pairs(w.tls) do
        if type(v) == "number" then sum[k] = (sum[k] or 0) + v end
      end
    end
  end
  return seen and sum or nil, r.body
end

describe("24 TLS listener", function()
  local root, inter, clients, others
  local default_cert, api_cert, client_a, client_other
  local be, gw, ports, admin, cert_policy_ok

  setup(function()
    root = T.ca { name = "root", cn = "Portico Test Root" }
    inter = T.ca { name = "inter", cn = "Portico Test Intermediate", issuer = root }
    -- the listener's default: ECDSA, served with its intermediate
    default_cert = T.leaf(inter, { name = "default", cn = "default.portico.test", dns = { "localhost", "default.portico.test" } })
    -- chosen by SNI: RSA, for an exact name and a wildcard
    api_cert = T.leaf(root, { name = "api", cn = "api.example.com", key = "rsa", dns = { "api.example.com", "*.example.net" } })
    clients = T.ca { name = "clients", cn = "Portico Client CA" }
    others = T.ca { name = "others", cn = "Some Other CA" }
    client_a = T.leaf(clients, { name = "client-a", cn = "client-a", o = "Portico Tests", usage = "client" })
    client_other = T.leaf(others, { name = "client-other", cn = "client-other", usage = "client" })

    be = h.start_backend { name = "tls-echo" }
    ports = { tls = h.free_port(), required = h.free_port(), optional = h.free_port() }
    admin = h.free_port()
    h.write_file(h.tmpdir() .. "/cert-policy.xml", CERT_POLICY)

    local function config(with_policy)
      local listen = ([[listen: ["127.0.0.1:{{PORT}}",
    { address: "127.0.0.1:%d", tls: { certificate: "%s", key: "%s" } },
    { address: "127.0.0.1:%d", tls: { certificate: "%s", key: "%s", clientCertificate: required, caCertificates: ["%s"] } },
    { address: "127.0.0.1:%d", tls: { certificate: "%s", key: "%s", clientCertificate: optional, caCertificates: ["%s"] } }]
]]):format(ports.tls, default_cert.cert, default_cert.key,
        ports.required, default_cert.cert, default_cert.key, clients.cert,
        ports.optional, default_cert.cert, default_cert.key, clients.cert)
      return with_listen(h.gateway_yaml { workers = 2 }, listen)
        .. ('  admin: { listen: "127.0.0.1:%d", token: "%s" }\n'):format(admin, TOKEN)
        .. ([[
  certificates:
    - hostnames: ["api.example.com", "*.example.net"]
      certificate: "%s"
      key: "%s"
apis:
  echo:
    path: echo
    serviceUrl: "%s/v1"
    subscriptionRequired: false
%s]]):format(api_cert.cert, api_cert.key, be.url, with_policy and "    policy: cert-policy.xml\n" or "")
    end

    -- the certificate policy must load; if this build cannot compile it,
    -- the rest is still tested and the policy tests say why they fail
    local rc, out = h.check_config(config(true):gsub("{{PORT}}", "1"), "probe-policy.yaml")
    cert_policy_ok = rc == 0 or out
    gw = h.start_gateway(config(rc == 0))
    for name, port in pairs(ports) do
      assert(h.wait_for(function() return h.port_open(port) end, 10), "TLS listener " .. name .. " not listening")
    end
  end)

  teardown(h.cleanup)

  local function https(port, path, o)
    o = o or {}
    o.request = get_request(path, o.headers)
    if o.servername == nil then o.servername = "localhost" end
    if o.cafile == nil then o.cafile = root.cert end
    return T.s_client(port, o)
  end

  local function echo_of(r)
    assert.is_true(r.ok, "handshake failed: " .. r.describe())
    assert.is_truthy(r.response, "no HTTP response after the handshake: " .. r.describe())
    assert.are.equal(200, r.response.status, r.describe())
    return h.parse_echo(r.response.body)
  end

  it("the client side can do what the gateway must refuse (control: TLS 1.0/1.1 against nginx)", function()
    local ng = T.start_nginx_https { cert = default_cert.cert, key = default_cert.key, name = "old-protocols",
      protocols = "TLSv1 TLSv1.1 TLSv1.2", ciphers = "DEFAULT:@SECLEVEL=0" }
    for _, v in ipairs { "tls1", "tls1_1" } do
      local r = T.s_client(ng.port, { version = v })
      assert.is_true(r.ok, v .. " against nginx: " .. r.describe())
    end
    ng.stop()
  end)

  it("serves a request over TLS 1.2, verified against the root with the served intermediate", function()
    local r = https(ports.tls, "/echo/hello")
    local e = echo_of(r)
    assert.are.equal("TLSv1.2", r.protocol, r.describe())
    assert.are.equal(0, r.verify_code, "certificate verification: " .. tostring(r.verify_text))
    assert.are.equal("/v1/hello", e.target)
    assert.are.equal(2, #r.certs, "the listener must serve leaf + intermediate: " .. r.describe())
    assert.are.equal(default_cert.thumbprint, r.peer.thumbprint, "served leaf: " .. tostring(r.peer.subject))
    assert.are.equal(inter.info.thumbprint, T.pem_info(r.certs[2]).thumbprint, "second certificate: the intermediate")
  end)

  it("sets X-Forwarded-Proto: https for TLS requests and http for plain ones", function()
    local e = echo_of(https(ports.tls, "/echo/xfp"))
    assert.are.same({ "https" }, e:header_all("X-Forwarded-Proto"))
    local r = h.fetch(gw.port, { path = "/echo/xfp-plain" })
    assert.are.equal(200, r.status)
    assert.are.same({ "http" }, h.parse_echo(r.body):header_all("X-Forwarded-Proto"))
  end)

  it("replaces a client's X-Forwarded-Proto with the real scheme", function()
    local e = echo_of(https(ports.tls, "/echo/xfp2", { headers = "X-Forwarded-Proto: http\r\n" }))
    assert.are.same({ "https" }, e:header_all("X-Forwarded-Proto"))
  end)

  it("shows context.Request.OriginalUrl.Scheme as https over TLS (Url is the backend's, http here)", function()
    assert.is_true(cert_policy_ok == true, "the certificate policy does not load: " .. tostring(cert_policy_ok))
    local e = echo_of(https(ports.tls, "/echo/scheme"))
    assert.are.equal("https", e:header("X-Url-Scheme"))
    local r = h.fetch(gw.port, { path = "/echo/scheme-plain" })
    assert.are.equal("http", h.parse_echo(r.body):header("X-Url-Scheme"))
  end)

  it("negotiates TLS 1.2 with a client that offers up to TLS 1.3", function()
    local r = https(ports.tls, "/echo/v")
    assert.is_true(r.ok, r.describe())
    assert.are.equal("TLSv1.2", r.protocol)
  end)

  for _, v in ipairs { "tls1", "tls1_1" } do
    it("refuses " .. v .. " and keeps serving", function()
      local r = T.s_client(ports.tls, { version = v, servername = "localhost" })
      assert.is_false(r.ok, v .. " handshake succeeded: " .. r.describe())
      echo_of(https(ports.tls, "/echo/after-" .. v))
    end)
  end

  it("offers only ECDHE key exchange with AEAD ciphers by default", function()
    -- each of these is a suite the client offers alone
    local refused = { "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "AES128-GCM-SHA256", "AES256-SHA256" }
    for _, c in ipairs(refused) do
      local r = T.s_client(ports.tls, { servername = "localhost", cipher = c .. ":@SECLEVEL=0" })
      assert.is_false(r.ok, "suite " .. c .. " was accepted: " .. r.describe())
    end
    local accepted = { "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305" }
    for _, c in ipairs(accepted) do
      local r = T.s_client(ports.tls, { servername = "localhost", cipher = c })
      assert.is_true(r.ok, "suite " .. c .. " was refused: " .. r.describe())
      assert.are.equal(c, r.cipher)
    end
    -- the RSA certificate (by SNI) with ECDHE-RSA
    local r = T.s_client(ports.tls, { servername = "api.example.com", cipher = "ECDHE-RSA-AES128-GCM-SHA256" })
    assert.is_true(r.ok, "ECDHE-RSA with the RSA certificate: " .. r.describe())
    local rsa_kx = T.s_client(ports.tls, { servername = "api.example.com", cipher = "AES128-GCM-SHA256" })
    assert.is_false(rsa_kx.ok, "static RSA key exchange was accepted: " .. rsa_kx.describe())
  end)

  it("selects ALPN http/1.1 when offered, and none when not", function()
    local r = T.s_client(ports.tls, { servername = "localhost", alpn = "http/1.1" })
    assert.is_true(r.ok, r.describe())
    assert.are.equal("http/1.1", r.alpn)
    local r2 = T.s_client(ports.tls, { servername = "localhost", alpn = "h2,http/1.1" })
    assert.is_true(r2.ok, r2.describe())
    assert.are.equal("http/1.1", r2.alpn, "h2 must not be selected (HTTP/1.1 only)")
    local r3 = T.s_client(ports.tls, { servername = "localhost" })
    assert.is_true(r3.ok, r3.describe())
    assert.is_nil(r3.alpn)
  end)

  it("resumes sessions with tickets (-reconnect)", function()
    local r = T.s_client(ports.tls, { servername = "localhost", reconnect = true })
    assert.is_true(r.ok, r.describe())
    assert.is_true(r.reused >= 1, ("no reconnect reused the session (%d new, %d reused): %s"):format(r.new, r.reused, r.describe()))
  end)

  it("resumes a saved session (-sess_out / -sess_in) and still serves requests on it", function()
    local sess = h.tmpdir() .. "/session.pem"
    local r1 = https(ports.tls, "/echo/s1", { sess_out = sess })
    echo_of(r1)
    assert.is_truthy((h.read_file(sess) or ""):find("BEGIN SSL SESSION PARAMETERS", 1, true), "no session saved")
    assert.is_truthy(r1.output:find("TLS session ticket:", 1, true), "the gateway sent no session ticket: " .. r1.describe())
    local r2 = https(ports.tls, "/echo/s2", { sess_in = sess })
    local e = echo_of(r2)
    assert.are.equal(1, r2.reused, "the saved session was not resumed: " .. r2.describe())
    assert.are.equal("/v1/s2", e.target)
  end)

  describe("SNI", function()
    local cases = {
      { "api.example.com", "api" },
      { "API.Example.COM", "api" },
      { "x.example.net", "api" },
      { "deep.x.example.net", "default" },
      { "example.net", "default" },
      { "unknown.example.org", "default" },
      { "localhost", "default" },
      { false, "default" },
    }
    for _, c in ipairs(cases) do
      it(("%s gets the %s certificate"):format(c[1] and ("SNI " .. c[1]) or "no SNI", c[2]), function()
        local want = c[2] == "api" and api_cert or default_cert
        local r = T.s_client(ports.tls, { servername = c[1] or nil })
        assert.is_true(r.ok, r.describe())
        assert.is_truthy(r.peer, "no certificate shown: " .. r.describe())
        assert.are.equal(want.thumbprint, r.peer.thumbprint,
          ("served %s (%s), expected %s"):format(tostring(r.peer.subject), table.concat(r.peer.san, " "), want.subject))
      end)
    end

    it("serves requests with the SNI certificate, verified for that name", function()
      local r = T.s_client(ports.tls, { servername = "api.example.com", cafile = root.cert,
        verify_hostname = "api.example.com", request = get_request("/echo/sni") })
      local e = echo_of(r)
      assert.are.equal(0, r.verify_code, tostring(r.verify_text))
      assert.are.equal("/v1/sni", e.target)
    end)
  end)

  describe("client certificates", function()
    it("required: a handshake without a client certificate fails", function()
      local r = https(ports.required, "/echo/req-none")
      assert.is_false(r.ok and r.response ~= nil and r.response.status == 200,
        "served without a client certificate: " .. r.describe())
      assert.is_false(r.ok, "handshake succeeded without a client certificate: " .. r.describe())
    end)

    it("required: a certificate signed by the configured CA works", function()
      local e = echo_of(https(ports.required, "/echo/req-good", { cert = client_a.cert, key = client_a.key }))
      assert.are.equal("/v1/req-good", e.target)
    end)

    it("required: a certificate from another CA fails", function()
      local r = https(ports.required, "/echo/req-other", { cert = client_other.cert, key = client_other.key })
      assert.is_false(r.ok, "handshake succeeded with another CA's certificate: " .. r.describe())
      assert.is_nil(r.response, "got a response: " .. r.describe())
    end)

    it("optional: works without a certificate", function()
      local e = echo_of(https(ports.optional, "/echo/opt-none"))
      assert.are.equal("/v1/opt-none", e.target)
    end)

    it("optional: works with a valid certificate", function()
      local e = echo_of(https(ports.optional, "/echo/opt-good", { cert = client_a.cert, key = client_a.key }))
      assert.are.equal("/v1/opt-good", e.target)
    end)

    it("optional: a certificate from another CA is refused", function()
      local r = https(ports.optional, "/echo/opt-other", { cert = client_other.cert, key = client_other.key })
      assert.is_false(r.ok and r.response ~= nil and r.response.status == 200,
        "served with an untrusted client certificate: " .. r.describe())
    end)

    it("none: does not ask for a client certificate", function()
      local r = https(ports.tls, "/echo/none", { cert = client_a.cert, key = client_a.key })
      echo_of(r)
      assert.is_nil(r.output:find("Acceptable client certificate CA names", 1, true), "the server asked for a certificate")
    end)

    describe("context.Request.Certificate", function()
      local function policy_echo(port, o)
        assert.is_true(cert_policy_ok == true, "the certificate policy does not load: " .. tostring(cert_policy_ok))
        return echo_of(https(port, "/echo/cert", o))
      end

      it("is null without a client certificate", function()
        assert.are.equal("none", policy_echo(ports.optional):header("X-Client-Thumbprint"))
        assert.are.equal("none", policy_echo(ports.tls, { cert = client_a.cert, key = client_a.key }):header("X-Client-Thumbprint"))
      end)

      it("has the verified certificate's Thumbprint (SHA-1, uppercase hex, as openssl computes it)", function()
        for _, port in ipairs { ports.required, ports.optional } do
          local e = policy_echo(port, { cert = client_a.cert, key = client_a.key })
          assert.are.equal(client_a.thumbprint, e:header("X-Client-Thumbprint"), "port " .. port)
        end
      end)

      it("has Subject, Issuer, NotBefore and NotAfter", function()
        local e = policy_echo(ports.required, { cert = client_a.cert, key = client_a.key })
        local subject, issuer = e:header("X-Client-Subject") or "", e:header("X-Client-Issuer") or ""
        assert.is_truthy(subject:find("CN=client-a", 1, true), "Subject: " .. subject)
        assert.is_truthy(subject:find("O=Portico Tests", 1, true), "Subject: " .. subject)
        assert.is_truthy(issuer:find("CN=Portico Client CA", 1, true), "Issuer: " .. issuer)
        assert.are.equal(iso(client_a.info.not_before), e:header("X-Client-Not-Before"))
        assert.are.equal(iso(client_a.info.not_after), e:header("X-Client-Not-After"))
      end)
    end)
  end)

  describe("errors", function()
    it("answers plain HTTP on a TLS port with 400 (JSON saying HTTPS) and closes", function()
      local before = tls_counters(admin)
      local c = h.must_connect(ports.tls)
      local r = c:request { path = "/echo/plain-on-tls" }
      assert.are.equal(400, r.status, h.show(r.raw_head .. (r.body or "")))
      assert.are.equal("HTTP/1.1", r.version)
      local ok, v = pcall(h.json_decode, r.body)
      assert.is_true(ok and type(v) == "table", "body is not JSON: " .. h.show(r.body))
      assert.is_truthy(r.body:lower():find("https", 1, true), "the body does not mention HTTPS: " .. r.body)
      assert.is_true(c:closed_eventually(3), "the connection stayed open after the 400")
      c:close()
      echo_of(https(ports.tls, "/echo/after-plain"))
      local after = tls_counters(admin)
      if before and after and before.plainHttp then
        assert.are.equal(before.plainHttp + 1, after.plainHttp, "plainHttp counter")
      end
    end)

    local garbage = {
      { "random bytes", ("\1\2\3\4\5\6\7\8\9\0"):rep(100) },
      { "a truncated ClientHello record", "\22\3\1\0\200\1\0\0\196\3\3" .. ("\0"):rep(40) },
      { "a record with an absurd length", "\22\3\3\255\255" .. ("A"):rep(64) },
      { "an alert instead of a ClientHello", "\21\3\3\0\2\2\40" },
    }
    for _, g in ipairs(garbage) do
      it("closes a connection that sends " .. g[1] .. " and keeps serving", function()
        local c = h.must_connect(ports.tls)
        c:send(g[2])
        assert.is_true(c:closed_eventually(12), "the connection was not closed")
        c:close()
        assert.is_true(gw.alive(), "the gateway died; stderr:\n" .. h.tail(gw.stderr_text()))
        echo_of(https(ports.tls, "/echo/after-garbage"))
      end)
    end

    it("counts handshakes and failures in /status (workers[].tls)", function()
      local before, body = tls_counters(admin)
      assert.is_truthy(before, "/status has no workers[].tls counters: " .. tostring(body))
      for i = 1, 3 do echo_of(https(ports.tls, "/echo/count-" .. i)) end
      assert.is_false(T.s_client(ports.tls, { version = "tls1", servername = "localhost" }).ok)
      assert.is_false(https(ports.required, "/echo/count-fail").ok)
      local after
      -- the counters are the workers' own: wait for both failures to land
      h.wait_for(function()
        after = tls_counters(admin)
        return after.failures >= before.failures + 2 and after.handshakes >= before.handshakes + 3
      end, 3)
      assert.are.equal(before.handshakes + 3, after.handshakes, "handshakes")
      assert.are.equal(before.failures + 2, after.failures, "failures")
    end)

    it("logs a failed handshake on stderr with its reason", function()
      assert.is_false(https(ports.required, "/echo/log-fail").ok)
      local err = h.wait_for(function()
        local s = gw.stderr_text()
        return s:lower():find("handshake", 1, true) and s
      end, 3)
      assert.is_truthy(err, "no handshake failure on stderr:\n" .. h.tail(gw.stderr_text()))
    end)

    it("never crashes: exits 0 on SIGTERM with a clean sanitizer report", function()
      gw.stop()
    end)
  end)
end)

describe("24 TLS settings", function()
  teardown(h.cleanup)

  local ca, first, second

  setup(function()
    ca = T.ca { name = "settings-ca" }
    first = T.leaf(ca, { name = "first", cn = "first.example.com", dns = { "first.example.com" } })
    second = T.leaf(ca, { name = "second", cn = "second.example.com", dns = { "second.example.com" } })
  end)

  it("a listener without its own certificate serves gateway.certificates: the first one by default", function()
    local tport = h.free_port()
    local yaml = with_listen(h.gateway_yaml {}, ('listen: ["127.0.0.1:{{PORT}}", { address: "127.0.0.1:%d", tls: {} }]'):format(tport))
      .. ([[
  certificates:
    - { hostnames: ["first.example.com"], certificate: "%s", key: "%s" }
    - { hostnames: ["second.example.com"], certificate: "%s", key: "%s" }
apis:
  echo: { path: echo, serviceUrl: "http://127.0.0.1:1/v1", subscriptionRequired: false }
]]):format(first.cert, first.key, second.cert, second.key)
    local gw = h.start_gateway(yaml)
    assert(h.wait_for(function() return h.port_open(tport) end, 10))
    for _, c in ipairs { { nil, first }, { "unknown.example.com", first }, { "second.example.com", second },
        { "first.example.com", first } } do
      local r = T.s_client(tport, { servername = c[1] })
      assert.is_true(r.ok, r.describe())
      assert.are.equal(c[2].thumbprint, r.peer.thumbprint, ("SNI %s: served %s"):format(tostring(c[1]), r.peer.subject))
    end
    gw.stop()
  end)

  it("gateway.tls.ciphers limits the suites; sessionTickets: false turns resumption off", function()
    local tport = h.free_port()
    local yaml = with_listen(h.gateway_yaml {}, tls_listen(tport, first.cert, first.key))
      .. "  tls:\n    ciphers: [TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384]\n    sessionTickets: false\n"
      .. 'apis:\n  echo: { path: echo, serviceUrl: "http://127.0.0.1:1/v1", subscriptionRequired: false }\n'
    local gw = h.start_gateway(yaml)
    assert(h.wait_for(function() return h.port_open(tport) end, 10))
    local r = T.s_client(tport, { servername = "first.example.com" })
    assert.is_true(r.ok, r.describe())
    assert.are.equal("ECDHE-ECDSA-AES256-GCM-SHA384", r.cipher, "the only configured suite")
    for _, c in ipairs { "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305" } do
      local x = T.s_client(tport, { servername = "first.example.com", cipher = c })
      assert.is_false(x.ok, c .. " accepted although not configured: " .. x.describe())
    end
    local rc = T.s_client(tport, { servername = "first.example.com", reconnect = true })
    assert.is_true(rc.ok, rc.describe())
    assert.are.equal(0, rc.reused, "sessions resumed with sessionTickets: false")
    assert.is_nil(rc.output:find("TLS session ticket:", 1, true), "a session ticket was sent")
    gw.stop()
  end)

  it("refuses an unknown cipher suite name at load, naming it", function()
    local yaml = with_listen(h.gateway_yaml { port = 1 }, tls_listen(1, first.cert, first.key, false))
      .. "  tls:\n    ciphers: [TLS-ECDHE-ECDSA-WITH-RC4-9000]\n"
      .. 'apis:\n  echo: { path: echo, serviceUrl: "http://127.0.0.1:1/v1", subscriptionRequired: false }\n'
    local rc, out = h.check_config(yaml, "bad-cipher.yaml")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("TLS-ECDHE-ECDSA-WITH-RC4-9000", 1, true), out)
  end)
end)

describe("24 TLS clients that hang up", function()
  teardown(h.cleanup)

  -- A client that sends a request and closes at once: the gateway writes the
  -- answer (and, over TLS, its close_notify) to a socket the client has
  -- closed: EPIPE, and with SIGPIPE not ignored the process dies (status
  -- 141). luasocket ignores SIGPIPE in this Lua process and children inherit
  -- that, which would hide the crash: the gateway is started with SIGPIPE's
  -- default action, as a service manager or a shell starts it.
  local BIG = "X-Test-Delay: 100\r\nX-Test-Body-Bytes: 4000000\r\n"
  local gw, tport

  local function assert_alive(what)
    assert.is_true(gw.alive(), ("the gateway died after %s (exit status %s; 141 = SIGPIPE); stderr:\n%s")
      :format(what, tostring(gw.proc:exit_status()), h.tail(gw.stderr_text())))
  end

  -- a fresh gateway per test: one that died must not fail the next test
  local ca, cert, be
  local function start()
    ca = ca or T.ca { name = "hang-ca" }
    cert = cert or T.leaf(ca, { name = "hang" })
    be = be or h.start_backend { name = "hang-echo" }
    tport = h.free_port()
    local yaml = with_listen(h.gateway_yaml { accessLog = "off" }, tls_listen(tport, cert.cert, cert.key))
      .. "  tls: { sessionTickets: false }\n"
      .. ('apis:\n  echo: { path: echo, serviceUrl: "%s/v1", subscriptionRequired: false }\n'):format(be.url)
    gw = h.start_gateway(yaml)
    assert(h.wait_for(function() return h.port_open(tport) end, 10))
    -- started with the default action, the gateway must have ignored SIGPIPE itself (gateway.c)
    local st = h.read_file("/proc/" .. gw.pid .. "/status") or ""
    local ign = tonumber(st:match("SigIgn:%s*(%x+)") or "0", 16)
    assert((ign >> 12) & 1 == 1, "the gateway runs with SIGPIPE's default action: a client that hangs up kills it")
  end

  it("over plain HTTP: a large answer to a client that has gone never kills the gateway", function()
    start()
    for i = 1, 5 do
      local c = h.must_connect(gw.port)
      c:send(get_request("/echo/gone-" .. i, BIG):gsub("Connection: close\r\n", ""))
      c:close()
    end
    h.sleep(1)
    assert_alive("plain clients that hung up")
    assert.are.equal(200, h.fetch(gw.port, { path = "/echo/after" }).status)
    gw.stop()
  end)

  it("over TLS: a large answer to a client that has gone never kills the gateway", function()
    start()
    assert.are.equal(10, T.hit_and_run(tport, 10, get_request("/echo/gone-tls", BIG)))
    h.sleep(1)
    assert_alive("TLS clients that hung up")
    gw.stop()
  end)

  it("over TLS: 3 x 200 clients that close right after their request never kill the gateway", function()
    start()
    for round = 1, 3 do
      assert.are.equal(200, T.hit_and_run(tport, 200, get_request("/echo/hit-and-run")))
      assert_alive("round " .. round)
    end
    local r = T.s_client(tport, { servername = "localhost", request = get_request("/echo/after-hit-and-run") })
    assert.is_true(r.ok and r.response and r.response.status == 200, r.describe())
    gw.stop()
  end)
end)

describe("24 TLS handshake timeout", function()
  teardown(h.cleanup)

  it("closes a connection that sends nothing, or half a ClientHello, after timeouts.headerRead", function()
    local ca = T.ca { name = "to-ca" }
    local cert = T.leaf(ca, { name = "to" })
    local be = h.start_backend { name = "to-echo" }
    local tport = h.free_port()
    local yaml = with_listen(h.gateway_yaml { timeouts = { headerRead = "1s" } }, tls_listen(tport, cert.cert, cert.key))
      .. ('apis:\n  echo: { path: echo, serviceUrl: "%s/v1", subscriptionRequired: false }\n'):format(be.url)
    local gw = h.start_gateway(yaml)
    assert(h.wait_for(function() return h.port_open(tport) end, 10))
    local silent = h.must_connect(tport)
    local half = h.must_connect(tport)
    half:send("\22\3\1\0\200\1\0\0\196\3\3")
    assert.is_true(silent:closed_eventually(8), "a silent TLS client was never closed")
    assert.is_true(half:closed_eventually(8), "a client stuck in the handshake was never closed")
    assert.is_truthy(gw.stderr_text():find("timeouts.headerRead", 1, true) or gw.stderr_text():lower():find("timeout", 1, true),
      "the closed handshake is not reported as a timeout:\n" .. h.tail(gw.stderr_text()))
    local r = T.s_client(tport, { servername = "localhost", request = get_request("/echo/after-timeout") })
    assert.is_true(r.ok and r.response and r.response.status == 200, r.describe())
    gw.stop()
  end)
end)

describe("24 TLS certificates and hot reload", function()
  teardown(h.cleanup)

  local SPREAD = 8

  local function admin_status(admin)
    local r, v = h.admin_request(admin, "GET", "/status", AUTH)
    assert.are.equal(200, r.status)
    return v
  end

  -- Starts a 2-worker gateway whose TLS listener serves certs/live.pem.
  local function start(name)
    local ca = T.ca { name = name .. "-ca" }
    local files = { cert = T.certdir() .. "/" .. name .. "-live.pem", key = T.certdir() .. "/" .. name .. "-live.key" }
    local first = T.leaf(ca, { name = name .. "-v1", cn = "v1.portico.test", dns = { "localhost" }, files = files })
    local be = h.start_backend { name = name .. "-echo" }
    local tport, admin = h.free_port(), h.free_port()
    local yaml = with_listen(h.gateway_yaml { workers = 2 }, tls_listen(tport, files.cert, files.key))
      .. ('  admin: { listen: "127.0.0.1:%d", token: "%s" }\n'):format(admin, TOKEN)
      .. ('apis:\n  echo: { path: echo, serviceUrl: "%s/v1", subscriptionRequired: false }\n'):format(be.url)
    local gw = h.start_gateway(yaml)
    assert(h.wait_for(function() return h.port_open(tport) end, 10))
    return { gw = gw, ca = ca, files = files, first = first, port = tport, admin = admin, name = name }
  end

  local function served(port)
    local r = T.s_client(port, { servername = "localhost" })
    return r.ok and r.peer and r.peer.serial, r
  end

  local function request_on(c, path)
    local r = c:request { path = path }
    assert.are.equal(200, r.status, h.show(r.raw_head .. (r.body or "")))
    return h.parse_echo(r.body)
  end

  for _, how in ipairs { "file", "SIGHUP", "POST /reload" } do
    it("a renewed certificate (" .. how .. ") reaches new connections; an open keep-alive TLS connection keeps working", function()
      local s = start("renew-" .. how:gsub("[^%w]", ""))
      assert.are.equal(s.first.serial, (served(s.port)), "before the reload")
      local ka = T.tls_connect(s.port, { servername = "localhost", cafile = s.ca.cert })
      assert.is_truthy(ka, "keep-alive TLS connection")
      assert.are.equal("/v1/before", request_on(ka, "/echo/before").target)
      -- renewal: same CA, new key, new serial and subject, written over the live files
      local second = T.leaf(s.ca, { name = s.name .. "-v2", cn = "v2.portico.test", dns = { "localhost" }, files = s.files })
      assert.are_not.equal(s.first.serial, second.serial)
      if how == "SIGHUP" then
        s.gw.signal("HUP")
      elseif how == "POST /reload" then
        local r = h.admin_request(s.admin, "POST", "/reload", AUTH)
        assert.are.equal(200, r.status, h.show(r.raw_head .. (r.body or "")))
      end
      local got, last = h.wait_for(function()
        local serial, r = served(s.port)
        return serial == second.serial and serial, r
      end, 5, 0.05)
      assert.are.equal(second.serial, got, "the new certificate is not served: " .. (last and last.describe() or "?"))
      for i = 1, SPREAD do
        local serial = served(s.port)
        assert.are.equal(second.serial, serial, "fresh connection " .. i .. " (every worker)")
      end
      assert.is_true(ka:alive(), "the keep-alive TLS connection was dropped by the reload")
      assert.are.equal("/v1/after", request_on(ka, "/echo/after").target)
      assert.are.equal("/v1/after2", request_on(ka, "/echo/after2").target)
      ka:close()
      local st = admin_status(s.admin)
      assert.is_true(st.lastReload and st.lastReload.ok == true, "lastReload: " .. h.show(tostring(st.lastReload and st.lastReload.errors and table.concat(st.lastReload.errors, " | "))))
      s.gw.stop()
    end)
  end

  it("a broken certificate file leaves the previous certificate serving, and the error names the file", function()
    local s = start("broken")
    h.write_file(s.files.cert, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    s.gw.signal("HUP")
    local st = h.wait_for(function()
      local v = admin_status(s.admin)
      return v.lastReload and v.lastReload.ok == false and v
    end, 5, 0.05)
    assert.is_truthy(st, "the broken certificate was not refused")
    local errors = table.concat(st.lastReload.errors or {}, " | ")
    assert.is_truthy(errors:find(s.files.cert:match("[^/]+$"), 1, true), "the error does not name the file: " .. errors)
    for i = 1, SPREAD do
      assert.are.equal(s.first.serial, (served(s.port)), "fresh connection " .. i .. " after the refused reload")
    end
    s.gw.stop()
  end)

  it("a key that does not match the certificate is refused at load with the file named", function()
    local ca = T.ca { name = "mismatch-ca" }
    local a = T.leaf(ca, { name = "mm-a" })
    local b = T.leaf(ca, { name = "mm-b" })
    local yaml = with_listen(h.gateway_yaml { port = 1 }, tls_listen(1, a.cert, b.key, false))
      .. 'apis:\n  echo: { path: echo, serviceUrl: "http://127.0.0.1:1/v1", subscriptionRequired: false }\n'
    local rc, out = h.check_config(yaml, "mismatch.yaml")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("mm-b.key", 1, true) or out:find("mm-a.pem", 1, true), "no file named in:\n" .. out)
  end)

  it("a missing certificate file and clientCertificate without caCertificates are load errors", function()
    local yaml = with_listen(h.gateway_yaml { port = 1 }, tls_listen(1, "no-such.pem", "no-such.key", false))
      .. 'apis:\n  echo: { path: echo, serviceUrl: "http://127.0.0.1:1/v1", subscriptionRequired: false }\n'
    local rc, out = h.check_config(yaml, "missing-cert.yaml")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("no-such.pem", 1, true), out)
    local ca = T.ca { name = "nocas-ca" }
    local c = T.leaf(ca, { name = "nocas" })
    yaml = with_listen(h.gateway_yaml { port = 1 }, ('listen: [{ address: "127.0.0.1:1", tls: { certificate: "%s", '
      .. 'key: "%s", clientCertificate: required } }]'):format(c.cert, c.key))
      .. 'apis:\n  echo: { path: echo, serviceUrl: "http://127.0.0.1:1/v1", subscriptionRequired: false }\n'
    rc, out = h.check_config(yaml, "no-cas.yaml")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("caCertificates", 1, true), out)
  end)
end)

describe("24 TLS and API protocols", function()
  teardown(h.cleanup)

  -- APIM's protocols: an API that lists only https is not there for plain
  -- http requests, and one that lists only http is not there over TLS.
  it("routes by the API's protocols: https-only refuses plain HTTP, http-only refuses TLS", function()
    local ca = T.ca { name = "proto-ca" }
    local cert = T.leaf(ca, { name = "proto", dns = { "localhost" } })
    local be = h.start_backend { name = "proto-echo" }
    local tport = h.free_port()
    local yaml = with_listen(h.gateway_yaml {}, tls_listen(tport, cert.cert, cert.key))
      .. "apis:\n"
      .. ('  secure: { path: secure, serviceUrl: "%s/s", protocols: [https], subscriptionRequired: false }\n'):format(be.url)
      .. ('  plain: { path: plain, serviceUrl: "%s/p", protocols: [http], subscriptionRequired: false }\n'):format(be.url)
      .. ('  both: { path: both, serviceUrl: "%s/b", subscriptionRequired: false }\n'):format(be.url)
    local gw = h.start_gateway(yaml)
    assert(h.wait_for(function() return h.port_open(tport) end, 10))
    local function over_tls(path)
      local r = T.s_client(tport, { servername = "localhost", request = get_request(path) })
      assert.is_truthy(r.response, "no HTTP response over TLS: " .. r.describe())
      return r.response.status
    end
    assert.are.equal(404, h.fetch(gw.port, { path = "/secure/x" }).status)
    assert.are.equal(200, over_tls("/secure/x"))
    assert.are.equal(200, h.fetch(gw.port, { path = "/plain/x" }).status)
    assert.are.equal(404, over_tls("/plain/x"))
    assert.are.equal(200, h.fetch(gw.port, { path = "/both/x" }).status)
    assert.are.equal(200, over_tls("/both/x"))
    gw.stop()
  end)
end)
