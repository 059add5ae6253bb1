-- The authentication-certificate policy: the client certificate presented to
-- an https backend chosen per request, by certificate-id or thumbprint of a
-- certificate declared under `certificates:` (APIM's certificate entities),
-- instead of the backend's credentials.certificate; requests choosing
-- different certificates for the same backend, interleaved on one client
-- connection, each arrive with their own (pool keys include the client
-- certificate); unknown ids and inline PFX bodies are load errors.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"
local T = require "tls"

local kv = T.parse_kv

local function policy(inbound)
  return ([[<policies>
  <inbound>
    <base />
    %s
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>
]]):format(inbound)
end

describe("26 authentication-certificate", function()
  local private, clients, ng, gw
  local cert_a, cert_b, cert_c

  setup(function()
    private = T.ca { name = "ac-private" }
    clients = T.ca { name = "ac-clients" }
    local server = T.leaf(private, { name = "ac-backend", dns = { "localhost" } })
    cert_a = T.leaf(clients, { name = "ac-a", cn = "policy-client-a", usage = "client" })
    cert_b = T.leaf(clients, { name = "ac-b", cn = "policy-client-b", key = "rsa", usage = "client" })
    cert_c = T.leaf(clients, { name = "ac-c", cn = "credentials-client-c", usage = "client" })
    ng = T.start_nginx_https { name = "ac", cert = server.cert, key = server.key, verify_client = "optional_no_ca" }

    local d = h.tmpdir()
    h.write_file(d .. "/by-id.xml", policy('<authentication-certificate certificate-id="cert-a" />'))
    -- thumbprints compare without regard to case, as in APIM
    h.write_file(d .. "/by-thumbprint.xml", policy(('<authentication-certificate thumbprint="%s" />'):format(cert_b.thumbprint:lower())))
    h.write_file(d .. "/choose.xml", policy([[<choose>
      <when condition="@(context.Request.Headers.GetValueOrDefault(&quot;X-Who&quot;, &quot;&quot;) == &quot;a&quot;)">
        <authentication-certificate certificate-id="cert-a" />
      </when>
      <when condition="@(context.Request.Headers.GetValueOrDefault(&quot;X-Who&quot;, &quot;&quot;) == &quot;b&quot;)">
        <authentication-certificate certificate-id="cert-b" />
      </when>
    </choose>]]))
    local yaml = h.gateway_yaml {} .. ([[
certificates:
  cert-a: { certificate: "%s", key: "%s" }
  cert-b: { certificate: "%s", key: "%s" }
backends:
  shared:
    url: "%s/svc"
    tls: { caCertificates: ["%s"] }
    credentials:
      certificate: [{ certificate: "%s", key: "%s" }]
  bare:
    url: "%s/bare"
    tls: { caCertificates: ["%s"] }
apis:
  by-id: { path: by-id, backend: shared, policy: by-id.xml, subscriptionRequired: false }
  by-thumbprint: { path: by-thumbprint, backend: shared, policy: by-thumbprint.xml, subscriptionRequired: false }
  default: { path: default, backend: shared, subscriptionRequired: false }
  choose: { path: choose, backend: shared, policy: choose.xml, subscriptionRequired: false }
  bare-by-id: { path: bare-by-id, backend: bare, policy: by-id.xml, subscriptionRequired: false }
  bare: { path: bare, backend: bare, subscriptionRequired: false }
]]):format(cert_a.cert, cert_a.key, cert_b.cert, cert_b.key, ng.url(), private.cert, cert_c.cert, cert_c.key,
      ng.url(), private.cert)
    gw = h.start_gateway(yaml)
  end)

  teardown(h.cleanup)

  local function fp(c) return c and c.thumbprint:lower() or "" end

  local function seen(r, what)
    assert.are.equal(200, r.status, what .. ": " .. h.show(r.raw_head .. (r.body or "")))
    return kv(r.body)
  end

  it("presents the certificate named by certificate-id instead of credentials.certificate", function()
    local b = seen(h.fetch(gw.port, { path = "/by-id/x" }), "by-id")
    assert.are.equal(fp(cert_a), b.client_fingerprint, "client certificate " .. tostring(b.client_s_dn))
    assert.are.equal("GET /svc/x HTTP/1.1", b.request)
  end)

  it("presents the certificate found by thumbprint (any case)", function()
    local b = seen(h.fetch(gw.port, { path = "/by-thumbprint/x" }), "by-thumbprint")
    assert.are.equal(fp(cert_b), b.client_fingerprint, "client certificate " .. tostring(b.client_s_dn))
  end)

  it("presents credentials.certificate without the policy, and nothing for a backend without one", function()
    assert.are.equal(fp(cert_c), seen(h.fetch(gw.port, { path = "/default/x" }), "default").client_fingerprint)
    assert.are.equal("", seen(h.fetch(gw.port, { path = "/bare/x" }), "bare").client_fingerprint)
    assert.are.equal(fp(cert_a), seen(h.fetch(gw.port, { path = "/bare-by-id/x" }), "bare-by-id").client_fingerprint)
  end)

  it("chooses per request; interleaved on one keep-alive connection, each request has its own certificate", function()
    local cases = {
      { "/by-id/i", nil, cert_a }, { "/choose/i", "b", cert_b }, { "/default/i", nil, cert_c },
      { "/choose/i", "a", cert_a }, { "/by-thumbprint/i", nil, cert_b }, { "/choose/i", nil, cert_c },
      { "/bare/i", nil, nil }, { "/bare-by-id/i", nil, cert_a },
    }
    local c = h.must_connect(gw.port)
    local conns = {}
    for round = 1, 6 do
      for i, k in ipairs(cases) do
        local headers = k[2] and { { "X-Who", k[2] } } or nil
        local what = ("round %d, %s X-Who=%s"):format(round, k[1], tostring(k[2]))
        local b = seen(c:request { path = k[1] .. i, headers = headers }, what)
        assert.are.equal(fp(k[3]), b.client_fingerprint,
          ("%s: arrived with client certificate %q (%s)"):format(what, b.client_fingerprint, b.client_s_dn))
        local key = fp(k[3])
        conns[key] = conns[key] or {}
        conns[key][b.connection] = true
      end
    end
    c:close()
    -- connections are per certificate: none carries two
    local owner = {}
    for key, set in pairs(conns) do
      for id in pairs(set) do
        assert.is_nil(owner[id], ("nginx connection %s carried two client certificates"):format(id))
        owner[id] = key
      end
    end
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("26 authentication-certificate load errors", function()
  teardown(h.cleanup)

  local function check(inbound, name)
    h.write_file(h.tmpdir() .. "/" .. name .. ".xml", policy(inbound))
    local yaml = h.gateway_yaml { port = 1 } .. ([[
backends:
  b: { url: "https://localhost:1/x" }
apis:
  a: { path: a, backend: b, policy: %s.xml, subscriptionRequired: false }
]]):format(name)
    return h.check_config(yaml, name .. ".yaml")
  end

  it("refuses an unknown certificate-id, naming it", function()
    local rc, out = check('<authentication-certificate certificate-id="no-such-cert" />', "unknown-id")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("no-such-cert", 1, true), out)
  end)

  it("refuses an inline body with the way out", function()
    local rc, out = check('<authentication-certificate body="MIIB" password="x" />', "inline-body")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("certificates", 1, true), out)
  end)
end)
