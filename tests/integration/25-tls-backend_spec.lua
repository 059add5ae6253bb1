-- HTTPS backends: verification against a backend's own tls.caCertificates,
-- gateway.tls.caCertificates (every backend) and the system store; failures
-- (untrusted chain, name mismatch, expired) are 500 BackendConnectionFailure
-- with the reason in the access log; validateCertificateName /
-- validateCertificateChain: false relax exactly what they say; SNI is the
-- backend host; client certificates (credentials.certificate) for mTLS
-- backends; pool keys: two backends on the same host:port with different
-- client certificates or verification settings never share a connection.
--
-- The HTTPS backends are nginx (tls.lua) answering with what they saw of
-- the TLS connection: client certificate fingerprint and DN, SNI, connection
-- serial, protocol, X-Forwarded-Proto.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"
local T = require "tls"

local kv = T.parse_kv

local function with_listen(yaml, listen)
  local out = yaml:gsub("listen: %[[^\n]*%]\n", function() return listen:gsub("\n?$", "\n") end, 1)
  return out
end

describe("25 TLS backends", function()
  local private, global, clients, stranger
  local ng, ng_mismatch, ng_global, ng_mtls, ng_expired, ng_system
  local client_a, client_b, client_stranger
  local gw, tport, gateway_root, gateway_cert

  setup(function()
    private = T.ca { name = "private", cn = "Private Backend CA" }
    global = T.ca { name = "global", cn = "Global Backend CA" }
    clients = T.ca { name = "backend-clients", cn = "Backend Client CA" }
    stranger = T.ca { name = "stranger", cn = "Stranger CA" }
    local main = T.leaf(private, { name = "backend", dns = { "localhost" } })
    local wrong = T.leaf(private, { name = "wrong-name", cn = "wrong.example", dns = { "wrong.example" } })
    local gcert = T.leaf(global, { name = "global-backend", dns = { "localhost" } })
    local expired = T.leaf(private, { name = "expired", dns = { "localhost" }, days = -1 })
    local self_signed_ca = T.ca { name = "unknown", cn = "Unknown CA" }
    local unknown = T.leaf(self_signed_ca, { name = "unknown-backend", dns = { "localhost" } })
    client_a = T.leaf(clients, { name = "gw-client-a", cn = "gateway-client-a", usage = "client" })
    client_b = T.leaf(clients, { name = "gw-client-b", cn = "gateway-client-b", key = "rsa", usage = "client" })
    client_stranger = T.leaf(stranger, { name = "gw-client-s", cn = "gateway-client-stranger", usage = "client" })

    -- reports the client certificate it saw without requiring one
    ng = T.start_nginx_https { name = "private", cert = main.cert, key = main.key, verify_client = "optional_no_ca" }
    ng_mismatch = T.start_nginx_https { name = "mismatch", cert = wrong.cert, key = wrong.key }
    ng_global = T.start_nginx_https { name = "global", cert = gcert.cert, key = gcert.key }
    ng_expired = T.start_nginx_https { name = "expired", cert = expired.cert, key = expired.key }
    ng_system = T.start_nginx_https { name = "unknown", cert = unknown.cert, key = unknown.key }
    ng_mtls = T.start_nginx_https { name = "mtls", cert = main.cert, key = main.key, verify_client = "on",
      client_ca = clients.cert }

    -- a TLS listener too, for TLS on both sides
    gateway_root = T.ca { name = "gateway-root" }
    gateway_cert = T.leaf(gateway_root, { name = "gateway", dns = { "localhost" } })
    tport = h.free_port()

    local function cert(c) return ('[{ certificate: "%s", key: "%s" }]'):format(c.cert, c.key) end
    local P = private.cert
    local yaml = with_listen(h.gateway_yaml {},
      ('listen: ["127.0.0.1:{{PORT}}", { address: "127.0.0.1:%d", tls: { certificate: "%s", key: "%s" } }]')
        :format(tport, gateway_cert.cert, gateway_cert.key))
      .. ('  tls:\n    caCertificates: ["%s"]\n'):format(global.cert)
      .. "backends:\n"
      .. table.concat({
        ('  trusted: { url: "%s/svc", tls: { caCertificates: ["%s"] } }'):format(ng.url(), P),
        ('  untrusted: { url: "%s/svc" }'):format(ng.url()),
        ('  untrusted-unknown: { url: "%s/svc" }'):format(ng_system.url()),
        ('  mismatch: { url: "%s/svc", tls: { caCertificates: ["%s"] } }'):format(ng_mismatch.url(), P),
        ('  mismatch-allowed: { url: "%s/svc", tls: { caCertificates: ["%s"], validateCertificateName: false } }')
          :format(ng_mismatch.url(), P),
        ('  mismatch-chain-off: { url: "%s/svc", tls: { caCertificates: ["%s"], validateCertificateChain: false } }')
          :format(ng_mismatch.url(), P),
        ('  chain-off: { url: "%s/svc", tls: { validateCertificateChain: false } }'):format(ng_system.url()),
        ('  both-off: { url: "%s/svc", tls: { validateCertificateChain: false, validateCertificateName: false } }')
          :format(ng_mismatch.url()),
        ('  name-off-untrusted: { url: "%s/svc", tls: { validateCertificateName: false } }'):format(ng_system.url()),
        ('  expired: { url: "%s/svc", tls: { caCertificates: ["%s"] } }'):format(ng_expired.url(), P),
        ('  global: { url: "%s/svc" }'):format(ng_global.url()),
        ('  mtls-a: { url: "%s/svc", tls: { caCertificates: ["%s"] }, credentials: { certificate: %s } }')
          :format(ng_mtls.url(), P, cert(client_a)),
        ('  mtls-none: { url: "%s/svc", tls: { caCertificates: ["%s"] } }'):format(ng_mtls.url(), P),
        ('  mtls-stranger: { url: "%s/svc", tls: { caCertificates: ["%s"] }, credentials: { certificate: %s } }')
          :format(ng_mtls.url(), P, cert(client_stranger)),
        -- the same host:port four ways: pool keys must keep them apart
        ('  iso-a: { url: "%s/a", tls: { caCertificates: ["%s"] }, credentials: { certificate: %s } }')
          :format(ng.url(), P, cert(client_a)),
        ('  iso-b: { url: "%s/b", tls: { caCertificates: ["%s"] }, credentials: { certificate: %s } }')
          :format(ng.url(), P, cert(client_b)),
        ('  iso-none: { url: "%s/n", tls: { caCertificates: ["%s"] } }'):format(ng.url(), P),
        ('  iso-unverified: { url: "%s/u", tls: { validateCertificateChain: false } }'):format(ng.url()),
      }, "\n") .. "\n"
      .. "apis:\n"
      .. table.concat({
        "  trusted: { path: trusted, backend: trusted, subscriptionRequired: false }",
        "  untrusted: { path: untrusted, backend: untrusted, subscriptionRequired: false }",
        "  untrusted-unknown: { path: untrusted-unknown, backend: untrusted-unknown, subscriptionRequired: false }",
        "  mismatch: { path: mismatch, backend: mismatch, subscriptionRequired: false }",
        "  mismatch-allowed: { path: mismatch-allowed, backend: mismatch-allowed, subscriptionRequired: false }",
        "  mismatch-chain-off: { path: mismatch-chain-off, backend: mismatch-chain-off, subscriptionRequired: false }",
        "  chain-off: { path: chain-off, backend: chain-off, subscriptionRequired: false }",
        "  both-off: { path: both-off, backend: both-off, subscriptionRequired: false }",
        "  name-off-untrusted: { path: name-off-untrusted, backend: name-off-untrusted, subscriptionRequired: false }",
        "  expired: { path: expired, backend: expired, subscriptionRequired: false }",
        "  global: { path: global, backend: global, subscriptionRequired: false }",
        ('  global-url: { path: global-url, serviceUrl: "%s/direct", subscriptionRequired: false }'):format(ng_global.url()),
        "  mtls-a: { path: mtls-a, backend: mtls-a, subscriptionRequired: false }",
        "  mtls-none: { path: mtls-none, backend: mtls-none, subscriptionRequired: false }",
        "  mtls-stranger: { path: mtls-stranger, backend: mtls-stranger, subscriptionRequired: false }",
        "  iso-a: { path: iso-a, backend: iso-a, subscriptionRequired: false }",
        "  iso-b: { path: iso-b, backend: iso-b, subscriptionRequired: false }",
        "  iso-none: { path: iso-none, backend: iso-none, subscriptionRequired: false }",
        "  iso-unverified: { path: iso-unverified, backend: iso-unverified, subscriptionRequired: false }",
      }, "\n") .. "\n"
    gw = h.start_gateway(yaml)
    assert(h.wait_for(function() return h.port_open(tport) end, 10), "TLS listener not listening")
  end)

  teardown(h.cleanup)

  local function ok200(r, what)
    assert.are.equal(200, r.status, (what or "") .. "\n" .. h.show(r.raw_head .. (r.body or "")))
    return kv(r.body), r
  end

  local function get(path, c)
    if c then return c:request { path = path } end
    return h.fetch(gw.port, { path = path })
  end

  -- Asserts 500 BackendConnectionFailure (APIM's JSON) and returns the
  -- access log entry, whose message must say why.
  local function assert_refused(path, why_pattern, what)
    local r = get(path)
    assert.are.equal(500, r.status, (what or path) .. ": " .. h.show(r.raw_head .. (r.body or "")))
    h.assert_apim_error(r, 500)
    assert.is_nil(r.body:find("name=", 1, true), "the backend's answer reached the client")
    local e = gw.log_entry(path:match("^[^?]*"))
    assert.is_truthy(e, "no access log entry for " .. path)
    assert.are.equal("BackendConnectionFailure", e.reason, "reason in the access log")
    local msg = tostring(e.message or "")
    assert.is_truthy(msg:lower():find(why_pattern),
      ("%s: the access log message does not say why (%s): %s"):format(what or path, why_pattern, msg))
    return e, r
  end

  describe("verification", function()
    it("reaches a backend signed by a CA from its tls.caCertificates, with SNI = the backend host", function()
      local b = ok200(get("/trusted/hello?x=1"))
      assert.are.equal("private", b.name)
      assert.are.equal("GET /svc/hello?x=1 HTTP/1.1", b.request)
      assert.are.equal("localhost", b.sni)
      assert.are.equal("TLSv1.2", b.protocol)
      assert.are.equal("localhost", b.host)
      assert.are.equal("http", b.x_forwarded_proto, "the client came over plain HTTP")
    end)

    it("refuses a backend whose CA is trusted only by another backend (500, reason in the log)", function()
      assert_refused("/untrusted/x", "certif", "private CA not trusted here")
    end)

    it("refuses a backend whose CA nobody trusts (system store only)", function()
      assert_refused("/untrusted-unknown/x", "certif", "unknown CA")
    end)

    it("refuses a certificate for another name", function()
      local e = assert_refused("/mismatch/x", "certif", "name mismatch")
      local msg = tostring(e.message):lower()
      assert.is_truthy(msg:find("name", 1, true) or msg:find("cn", 1, true) or msg:find("mismatch", 1, true),
        "the message does not say the name is wrong: " .. tostring(e.message))
    end)

    it("accepts the name mismatch with validateCertificateName: false (the chain still verified)", function()
      local b = ok200(get("/mismatch-allowed/x"))
      assert.are.equal("mismatch", b.name)
    end)

    it("still checks the name with validateCertificateChain: false", function()
      assert_refused("/mismatch-chain-off/x", "certif", "chain off, name on")
    end)

    it("accepts an untrusted chain with validateCertificateChain: false", function()
      local b = ok200(get("/chain-off/x"))
      assert.are.equal("unknown", b.name)
    end)

    it("accepts anything with both checks off", function()
      local b = ok200(get("/both-off/x"))
      assert.are.equal("mismatch", b.name)
    end)

    it("still checks the chain with validateCertificateName: false", function()
      assert_refused("/name-off-untrusted/x", "certif", "name off, chain on")
    end)

    it("refuses an expired certificate", function()
      local e = assert_refused("/expired/x", "certif", "expired")
      assert.is_truthy(tostring(e.message):lower():find("expired", 1, true), "the message does not say expired: " .. tostring(e.message))
    end)

    it("trusts gateway.tls.caCertificates for every backend and service URL", function()
      assert.are.equal("global", (ok200(get("/global/x"))).name)
      local b = ok200(get("/global-url/y"))
      assert.are.equal("GET /direct/y HTTP/1.1", b.request)
    end)

    it("keeps serving after refused backends, over a keep-alive client connection", function()
      local c = h.must_connect(gw.port)
      for i = 1, 3 do
        local r = get("/untrusted/ka" .. i, c)
        assert.are.equal(500, r.status)
        ok200(get("/trusted/ka" .. i, c), "trusted after untrusted")
      end
      c:close()
    end)
  end)

  describe("client certificates", function()
    it("presents credentials.certificate to a backend that requires one", function()
      local b = ok200(get("/mtls-a/x"))
      assert.are.equal("SUCCESS", b.client_verify)
      assert.are.equal("CN=gateway-client-a", b.client_s_dn)
      assert.are.equal(client_a.thumbprint:lower(), b.client_fingerprint)
    end)

    it("does not get through to it without a client certificate", function()
      local r = get("/mtls-none/x")
      assert.are_not.equal(200, r.status, "served without a client certificate: " .. h.show(r.body))
      assert.is_nil(r.body:find("client_verify=SUCCESS", 1, true))
    end)

    it("does not get through with a certificate the backend does not trust", function()
      local r = get("/mtls-stranger/x")
      assert.are_not.equal(200, r.status, "served with an untrusted client certificate: " .. h.show(r.body))
    end)
  end)

  describe("pool keys", function()
    it("keeps connections with different client certificates apart on the same host:port (interleaved keep-alive)", function()
      local want = { a = client_a.thumbprint:lower(), b = client_b.thumbprint:lower(), none = "" }
      local conns = { a = {}, b = {}, none = {} }
      local c = h.must_connect(gw.port)
      for i = 1, 12 do
        for _, which in ipairs { "a", "b", "none" } do
          local b = ok200(get(("/iso-%s/r%d"):format(which, i), c), which .. " " .. i)
          assert.are.equal(want[which], b.client_fingerprint,
            ("request %d for iso-%s arrived with client certificate %q"):format(i, which, b.client_fingerprint))
          assert.are.equal(("GET /%s/r%d HTTP/1.1"):format(which == "none" and "n" or which, i), b.request)
          conns[which][b.connection] = true
        end
      end
      c:close()
      -- and the pools were used: each backend kept its one connection
      for which, set in pairs(conns) do
        local n = 0
        for _ in pairs(set) do n = n + 1 end
        assert.are.equal(1, n, "iso-" .. which .. " used " .. n .. " backend connections (keep-alive to a TLS backend)")
      end
      for _, x in ipairs { { "a", "b" }, { "a", "none" }, { "b", "none" } } do
        for id in pairs(conns[x[1]]) do
          assert.is_nil(conns[x[2]][id], ("iso-%s and iso-%s shared nginx connection %s"):format(x[1], x[2], id))
        end
      end
    end)

    it("never reuses a connection made without verification for a backend that verifies", function()
      -- a connection to host:port made with validateCertificateChain: false...
      ok200(get("/iso-unverified/warm"))
      ok200(get("/iso-unverified/warm2"))
      -- ...must not serve the backend on the same host:port that verifies (and fails)
      for i = 1, 3 do
        local r = get("/untrusted/after-unverified-" .. i)
        assert.are.equal(500, r.status, "an unverified pooled connection was reused: " .. h.show(r.body))
      end
    end)
  end)

  it("TLS on both sides: a client over TLS reaches an HTTPS backend, X-Forwarded-Proto: https", function()
    local r = T.s_client(tport, { servername = "localhost", cafile = gateway_root.cert,
      request = "GET /trusted/both HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" })
    assert.is_true(r.ok, r.describe())
    assert.is_truthy(r.response, r.describe())
    local b = ok200(r.response)
    assert.are.equal("https", b.x_forwarded_proto)
    assert.are.equal("GET /svc/both HTTP/1.1", b.request)
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("25 TLS backend configuration errors", function()
  teardown(h.cleanup)

  local function check(backend_yaml, name)
    local yaml = h.gateway_yaml { port = 1 } .. "backends:\n" .. backend_yaml
      .. "apis:\n  a: { path: a, backend: b, subscriptionRequired: false }\n"
    return h.check_config(yaml, name)
  end

  it("names a missing CA file", function()
    local rc, out = check('  b: { url: "https://localhost:1/x", tls: { caCertificates: ["no-such-ca.pem"] } }\n', "no-ca.yaml")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("no-such-ca.pem", 1, true), out)
  end)

  it("names a missing client certificate file", function()
    local rc, out = check('  b: { url: "https://localhost:1/x", credentials: { certificate: [{ certificate: "nope.pem", key: "nope.key" }] } }\n',
      "no-client-cert.yaml")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("nope.pem", 1, true) or out:find("nope.key", 1, true), out)
  end)

  it("refuses a client key that does not match its certificate", function()
    local ca = T.ca { name = "cfg-ca" }
    local a = T.leaf(ca, { name = "cfg-a", usage = "client" })
    local b = T.leaf(ca, { name = "cfg-b", usage = "client" })
    local rc, out = check(('  b: { url: "https://localhost:1/x", credentials: { certificate: [{ certificate: "%s", key: "%s" }] } }\n')
      :format(a.cert, b.key), "mismatch-key.yaml")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("cfg-a.pem", 1, true) or out:find("cfg-b.key", 1, true), out)
  end)
end)

describe("25 TLS backend session resumption", function()
  teardown(h.cleanup)

  -- One request per backend connection (maxRequestsPerConnection: 1), so every
  -- request is a new TLS connection: after the first, each resumes the session
  -- the worker kept for that pool key; another key (another client
  -- certificate) never offers it.
  it("resumes the TLS session on reconnects to the same backend, never across pool keys", function()
    local ca = T.ca { name = "resume-ca" }
    local leaf = T.leaf(ca, { name = "resume-backend", dns = { "localhost" } })
    local clients = T.ca { name = "resume-clients" }
    local client = T.leaf(clients, { name = "resume-client", usage = "client" })
    local ng = T.start_nginx_https { name = "resume", cert = leaf.cert, key = leaf.key, verify_client = "optional_no_ca" }
    local yaml = h.gateway_yaml { pool = { maxRequestsPerConnection = 1 } }
      .. "backends:\n"
      .. ('  plain: { url: "%s/p", tls: { caCertificates: ["%s"] } }\n'):format(ng.url(), ca.cert)
      .. ('  client: { url: "%s/c", tls: { caCertificates: ["%s"] }, credentials: { certificate: [{ certificate: "%s", key: "%s" }] } }\n')
        :format(ng.url(), ca.cert, client.cert, client.key)
      .. "apis:\n"
      .. "  plain: { path: plain, backend: plain, subscriptionRequired: false }\n"
      .. "  client: { path: client, backend: client, subscriptionRequired: false }\n"
    local gw = h.start_gateway(yaml)
    local function hit(api)
      local r = h.fetch(gw.port, { path = "/" .. api .. "/x" })
      assert.are.equal(200, r.status, r.body)
      return kv(r.body)
    end
    local seen = {}
    local first = hit("plain")
    assert.are.equal(".", first.session_reused, "the first connection cannot resume")
    seen[first.connection] = true
    for i = 1, 3 do
      local e = hit("plain")
      assert.is_nil(seen[e.connection], "request " .. i .. " reused a backend connection")
      seen[e.connection] = true
      assert.are.equal("r", e.session_reused, "reconnect " .. i .. " did not resume the session")
    end
    local other = hit("client")
    assert.are.equal(".", other.session_reused, "a session was offered under another pool key")
    assert.are_not.equal("", other.client_fingerprint or "", "the client certificate was not presented")
    assert.are.equal("r", hit("client").session_reused)
    gw.stop()
  end)
end)
