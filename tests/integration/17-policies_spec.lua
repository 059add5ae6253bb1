-- Policies (issue 5), end to end: APIM policy documents (fixtures/policies/)
-- run by the real gateway in front of real loopback backends that echo the
-- exact request bytes they received. Each test proves one policy by what the
-- backend received and what the client got back: scopes global -> product ->
-- API -> operation with <base/> placement, set-header, set-query-parameter,
-- set-method, set-status, set-body, rewrite-uri, set-backend-service (base-url,
-- expression, backend-id with credentials, Pool), choose, set-variable,
-- return-response and mock-response (no backend call), include-fragment,
-- forward-request timeout with on-error, the context object model, request and
-- response bodies read by expressions, a user policy element from
-- gateway.policyPaths, a policy document written in Lua, and named values
-- (a secret one never in the access log).
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local FIX = h.root .. "/tests/integration/fixtures/policies"
local GATEWAY_ID = "edge-17"
local SECRET = "s3cr3t-Tok-9f2c71"
local API_KEY = "billing-key-5e1a04"
local ALICE_KEY = "alice-key-17"
local BOB_KEY = "bob-key-17"

local list_of = h.header_list

local split_target = h.split_target

local function sorted(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  return c
end

local function fix(name) return '"' .. FIX .. "/" .. name .. '"' end

describe("17 policies", function()
  local be, alt, billing, pa, pb, gw

  setup(function()
    be = h.start_backend { name = "main" }
    alt = h.start_backend { name = "alt" }
    billing = h.start_backend { name = "billing" }
    pa = h.start_backend { name = "pool-a" }
    pb = h.start_backend { name = "pool-b" }
    local function api(id, policy, extra)
      local lines = {
        "  " .. id .. ":",
        "    path: " .. id,
        '    serviceUrl: "' .. be.url .. "/v1" .. '"',
        "    subscriptionRequired: false",
      }
      if policy then lines[#lines + 1] = "    policy: " .. fix(policy) end
      if extra then lines[#lines + 1] = extra end
      return table.concat(lines, "\n")
    end
    local yaml = h.gateway_yaml { id = GATEWAY_ID, timeouts = { backend = "10s" } }
      .. ("  policy: %s\n  policyPaths: [%s]\n"):format(fix("global.xml"), fix("modules"))
      .. ([[
namedValues:
  greeting: { value: hello-17 }
  secret-token: { value: "%s", secret: true }
  api-key: { value: "%s", secret: true }
  main-url: { value: "%s" }
  alt-url: { value: "%s" }
fragments:
  stamp: %s
backends:
  billing:
    url: "%s/billing"
    credentials:
      header: { x-api-key: ["{{api-key}}"] }
      query: { code: [c-17] }
  member-a: { url: "%s/pa" }
  member-b: { url: "%s/pb" }
  duo:
    type: Pool
    pool:
      services:
        - { id: member-a, priority: 0, weight: 1 }
        - { id: member-b, priority: 0, weight: 1 }
products:
  gold:
    displayName: Gold
    apis: [scoped]
    subscriptionRequired: true
    policy: %s
subscriptions:
  alice: { scope: product/gold, primaryKey: %s }
  bob: { scope: api/scoped, primaryKey: %s }
apis:
  scoped:
    displayName: Scoped API
    path: scoped
    serviceUrl: "%s/svc"
    subscriptionRequired: true
    policy: %s
    operations:
      ordered: { method: GET, urlTemplate: /ordered, policy: %s }
      nobase: { method: GET, urlTemplate: /nobase, policy: %s }
      ctx: { method: GET, urlTemplate: "/ctx/{id}", policy: %s }
  shop:
    path: shop
    serviceUrl: "%s/v1"
    subscriptionRequired: false
    operations:
      get-order: { method: GET, urlTemplate: "/orders/{id}", policy: %s }
      get-order-nc: { method: GET, urlTemplate: "/orders-nc/{id}", policy: %s }
      search: { method: GET, urlTemplate: "/search?status={status}", policy: %s }
  pets:
    path: pets
    serviceUrl: "%s/pets"
    subscriptionRequired: false
    openapi: %s
    policy: %s
  jsonout:
    path: jsonout
    serviceUrl: "http://127.0.0.1:{{PORT}}/jsonsrc"
    subscriptionRequired: false
    policy: %s
]]):format(SECRET, API_KEY, be.url, alt.url, fix("fragment-stamp.xml"),
        billing.url, pa.url, pb.url, fix("product-gold.xml"), ALICE_KEY, BOB_KEY,
        be.url, fix("api-scoped.xml"), fix("op-ordered.xml"), fix("op-nobase.xml"), fix("context.xml"),
        be.url, fix("rewrite-copy.xml"), fix("rewrite-nocopy.xml"), fix("rewrite-query.xml"),
        be.url, fix("pets.openapi.yaml"), fix("mock.xml"), fix("json-outbound.xml"))
      .. table.concat({
        api("plain", nil),
        api("hdr", "headers.xml"),
        api("qp", "query.xml"),
        api("meth", "method-status.xml"),
        api("bodyreq", "body-request.xml"),
        api("bodyresp", "body-response.xml"),
        api("sbsurl", "backend-url.xml"),
        api("sbsexpr", "backend-expr.xml"),
        api("sbsid", "backend-id.xml"),
        api("sbspool", "backend-pool.xml"),
        api("choose", "choose.xml"),
        api("vars", "variables.xml"),
        api("ret", "return-response.xml"),
        api("frag", "include.xml"),
        api("slow", "timeout.xml"),
        api("bodyin", "body-inbound.xml"),
        api("bodyout", "body-outbound.xml"),
        api("jsonsrc", "json-source.xml"),
        api("custom", "custom-element.xml"),
        api("luadoc", "document.lua"),
        api("nv", "named-values.xml"),
        api("leak", "secret-error.xml"),
      }, "\n") .. "\n"
    gw = h.start_gateway(yaml)
  end)

  teardown(h.cleanup)

  -- One request; asserts the status; returns the response and, when the
  -- backend answered (X-Backend-Name), its echo of what it received.
  local function call(t, status)
    local r = h.fetch(gw.port, t)
    local what = (t.method or "GET") .. " " .. t.path
    assert.are.equal(status or 200, r.status, what .. ": " .. h.show(r.raw_head .. (r.body or "")))
    r:assert_complete(what)
    local e
    -- the backend's echo starts with the request line it received
    if (r.body or ""):match("^%u+ %S+ HTTP/1%.%d\r\n") and r.body:find("\r\n\r\n", 1, true) then
      e = h.parse_echo(r.body)
    end
    return r, e
  end

  local function requests_of(b) return b.stats().requests end

  -------------------------------------------------------------------------
  -- scopes and <base/>
  -------------------------------------------------------------------------

  describe("scopes", function()
    it("run global -> product -> API -> operation where each <base/> stands", function()
      local r, e = call { path = "/scoped/ordered", headers = { { "Ocp-Apim-Subscription-Key", ALICE_KEY } } }
      assert.is_truthy(e, "no echo")
      -- inbound: the API's set-header comes before its <base/>, the
      -- operation's after its <base/>
      assert.are.same({ "api", "global", "product", "operation" }, list_of(e, "X-Order"))
      -- outbound: the operation's set-header comes before its <base/>
      assert.are.same({ "operation", "global", "product", "api" }, list_of(r, "X-Out-Order"))
    end)

    it("leave the product scope out for a subscription that is not a product's", function()
      local r, e = call { path = "/scoped/ordered", headers = { { "Ocp-Apim-Subscription-Key", BOB_KEY } } }
      assert.are.same({ "api", "global", "operation" }, list_of(e, "X-Order"))
      assert.are.same({ "operation", "global", "api" }, list_of(r, "X-Out-Order"))
    end)

    it("drop the parent scopes' section when a section has no <base/>", function()
      local r, e = call { path = "/scoped/nobase", headers = { { "Ocp-Apim-Subscription-Key", ALICE_KEY } } }
      assert.are.same({ "operation-only" }, list_of(e, "X-Order"))
      assert.are.same({ "operation-only" }, list_of(r, "X-Out-Order"))
    end)

    it("apply the global policy to an API without a policy of its own", function()
      local r, e = call { path = "/plain/x" }
      assert.are.same({ "global" }, list_of(e, "X-Order"))
      assert.are.same({ "global" }, list_of(r, "X-Out-Order"))
      assert.are.equal("GET /v1/x HTTP/1.1", e.request_line)
    end)
  end)

  -------------------------------------------------------------------------
  -- headers, query, method, status, body
  -------------------------------------------------------------------------

  describe("set-header", function()
    it("overrides, skips, appends, deletes and joins several values (request)", function()
      local _, e = call { path = "/hdr/a", headers = {
        { "X-Over", "client" }, { "X-Skip-Present", "client" }, { "X-App", "one" },
        { "X-Del", "gone" }, { "X-Multi", "old" },
      } }
      assert.are.same({ "policy" }, e:header_all("X-Over"))
      assert.are.same({ "client" }, e:header_all("X-Skip-Present"))
      assert.are.same({ "added" }, e:header_all("X-Skip-Absent"))
      assert.are.same({ "one", "two" }, list_of(e, "X-App"))
      assert.are.same({ "first" }, e:header_all("X-App-New"))
      assert.are.same({}, e:header_all("X-Del"))
      assert.is_nil(e.raw_head:find("gone", 1, true), "the deleted header's value reached the backend")
      -- APIM: several values of one header are one comma-separated line
      assert.are.same({ "a,b,c" }, e:header_all("X-Multi"))
      assert.are.same({ "m=get" }, e:header_all("X-From-Expr"))
    end)

    it("overrides, skips, deletes and keeps Set-Cookie values on separate lines (response)", function()
      local r = call { path = "/hdr/b" }
      assert.are.same({ "status-200" }, r:header_all("X-Resp"))
      assert.is_nil(r:header("X-Backend-Name"), "X-Backend-Name was deleted by the outbound policy")
      assert.is_truthy(tonumber(r:header("X-Conn-Id")), "skip replaced the backend's X-Conn-Id: "
        .. tostring(r:header("X-Conn-Id")))
      -- APIM: Set-Cookie (like Date, Cookie, ...) is never comma-joined
      assert.are.same({ "a=1", "b=2" }, r:header_all("Set-Cookie"))
      assert.are.same({ "x,y" }, r:header_all("X-Resp-Multi"))
    end)
  end)

  it("set-query-parameter overrides, skips, appends, deletes and sets several values", function()
    local _, e = call { path = "/qp/q?over=client&skip=client&app=1&del=x&keep=k1&multi=old" }
    local path, params = split_target(e.target)
    assert.are.equal("/v1/q", path)
    local function values(name)
      local t = {}
      for _, p in ipairs(params) do
        local k, v = p:match("^([^=]*)=?(.*)$")
        if k == name then t[#t + 1] = v end
      end
      return t
    end
    assert.are.same({ "policy" }, values("over"))
    assert.are.same({ "client" }, values("skip"))
    local fresh = values("fresh")
    assert.are.equal(1, #fresh, "fresh: " .. e.target)
    assert.is_truthy(fresh[1] == "added%20value" or fresh[1] == "added+value", "fresh=" .. fresh[1])
    assert.are.same({ "1", "2" }, values("app"))
    assert.are.same({}, values("del"))
    assert.are.same({ "x", "y" }, values("multi"))
    assert.are.same({ "k1" }, values("keep"))
    assert.are.same({ "k1" }, values("echo"))
  end)

  it("set-method changes the method the backend receives", function()
    local _, e = call({ method = "GET", path = "/meth/m" }, 202)
    assert.are.equal("PUT /v1/m HTTP/1.1", e.request_line)
  end)

  it("set-status in outbound changes the client's status code and reason phrase", function()
    local r = call({ path = "/meth/s" }, 202)
    assert.are.equal("main", r:header("X-Backend-Name"))
    assert.are.equal("HTTP/1.1 202 Taken", r.status_line)
  end)

  it("set-body replaces the request body the backend receives (framed with Content-Length)", function()
    local _, e = call { method = "POST", path = "/bodyreq/b", headers = { { "X-Tag", "t1" } },
      body = "the client's original body" }
    local want = "replaced:POST:t1"
    assert.are.equal(want, e.body)
    assert.are.same({ tostring(#want) }, e:header_all("Content-Length"))
    assert.are.same({}, e:header_all("Transfer-Encoding"))
  end)

  it("set-body replaces a chunked request's body too", function()
    local _, e = call { method = "PUT", path = "/bodyreq/c", chunks = { "part one,", "part two" } }
    local want = "replaced:PUT:none"
    assert.are.equal(want, e.body)
    assert.are.same({ tostring(#want) }, e:header_all("Content-Length"))
    assert.are.same({}, e:header_all("Transfer-Encoding"))
  end)

  it("set-body replaces the response body the client receives, with the right Content-Length", function()
    local r = call { path = "/bodyresp/r" }
    local want = '{"replaced": true, "note": "caf\xc3\xa9"}'
    assert.are.equal(want, r.body)
    assert.are.equal("length", r.framing)
    assert.are.equal(tostring(#want), r:header("Content-Length"))
  end)

  -------------------------------------------------------------------------
  -- rewrite-uri
  -------------------------------------------------------------------------

  describe("rewrite-uri", function()
    it("fills the template from the matched parameters and copies unmatched query parameters", function()
      local _, e = call { path = "/shop/orders/42?x=1&y=two" }
      local path, params = split_target(e.target)
      assert.are.equal("/v1/items/42/detail", path)
      assert.are.same(sorted { "source=rw", "x=1", "y=two" }, sorted(params))
    end)

    it("drops the request's query with copy-unmatched-params=\"false\"", function()
      local _, e = call { path = "/shop/orders-nc/42?x=1&y=two" }
      assert.are.equal("/v1/items/42/detail?source=rw", e.target)
    end)

    it("does not copy a query parameter the operation's template consumed", function()
      local _, e = call { path = "/shop/search?status=open&page=2" }
      local path, params = split_target(e.target)
      assert.are.equal("/v1/find/open", path)
      assert.are.same({ "page=2" }, params)
    end)
  end)

  -------------------------------------------------------------------------
  -- set-backend-service
  -------------------------------------------------------------------------

  describe("set-backend-service", function()
    it("sends the request to a literal base-url", function()
      local before = requests_of(be)
      local r, e = call { path = "/sbsurl/p/q?z=9" }
      assert.are.equal("alt", r:header("X-Backend-Name"))
      assert.are.equal("/alt/p/q?z=9", e.target)
      assert.are.same({ "127.0.0.1:" .. alt.port }, e:header_all("Host"))
      assert.are.equal(before + 1, requests_of(be), "the API's own serviceUrl was called too")
    end)

    it("evaluates a base-url expression per request", function()
      local r1, e1 = call { path = "/sbsexpr/e", headers = { { "X-Target", "alt" } } }
      assert.are.equal("alt", r1:header("X-Backend-Name"))
      assert.are.equal("/expr-alt/e", e1.target)
      local r2, e2 = call { path = "/sbsexpr/e" }
      assert.are.equal("main", r2:header("X-Backend-Name"))
      assert.are.equal("/expr-main/e", e2.target)
    end)

    it("uses a backend-id's URL and applies that backend's credentials", function()
      local r, e = call { path = "/sbsid/inv?n=1", headers = { { "X-Api-Key", "client-supplied" } } }
      assert.are.equal("billing", r:header("X-Backend-Name"))
      local path, params = split_target(e.target)
      assert.are.equal("/billing/inv", path)
      assert.are.same(sorted { "n=1", "code=c-17" }, sorted(params))
      assert.are.same({ API_KEY }, e:header_all("X-Api-Key"))
      assert.are.same({ "127.0.0.1:" .. billing.port }, e:header_all("Host"))
      -- the secret credential never reaches the access log
      gw.log_entry("/sbsid/inv")
      for _, line in ipairs(gw.access_log_lines()) do
        assert.is_nil(line:find(API_KEY, 1, true), "the secret credential is in the access log: " .. line)
      end
    end)

    it("spreads a Pool backend-id over its members", function()
      local seen = {}
      for i = 1, 12 do
        local r, e = call { path = "/sbspool/n" .. i }
        local name = r:header("X-Backend-Name")
        assert.is_truthy(name == "pool-a" or name == "pool-b", "answered by " .. tostring(name))
        assert.are.equal((name == "pool-a" and "/pa/n" or "/pb/n") .. i, e.target)
        seen[name] = (seen[name] or 0) + 1
      end
      assert.is_truthy(seen["pool-a"] and seen["pool-b"],
        ("12 requests to two equal members: pool-a %d, pool-b %d"):format(seen["pool-a"] or 0, seen["pool-b"] or 0))
    end)
  end)

  -------------------------------------------------------------------------
  -- choose, variables
  -------------------------------------------------------------------------

  it("choose runs the first true <when> (header, query, variable) else <otherwise>", function()
    local function branch(t)
      local _, e = call(t)
      return e:header_all("X-Branch")
    end
    assert.are.same({ "header" }, branch { path = "/choose/a", headers = { { "X-Case", "header" } } })
    assert.are.same({ "query" }, branch { path = "/choose/a?mode=query" })
    assert.are.same({ "variable" }, branch { path = "/choose/a", headers = { { "X-Tier", "gold" } } })
    assert.are.same({ "otherwise" }, branch { path = "/choose/a", headers = { { "X-Tier", "silver" } } })
    assert.are.same({ "otherwise" }, branch { method = "DELETE", path = "/choose/a", headers = { { "X-Tier", "gold" } } })
    -- the first true branch wins when several are true
    assert.are.same({ "header" }, branch { path = "/choose/a?mode=query",
      headers = { { "X-Case", "header" }, { "X-Tier", "gold" } } })
  end)

  it("set-variable stores typed values that later policies (inbound and outbound) read", function()
    local r, e = call { path = "/vars/v", headers = { { "X-Who", "carol" } } }
    assert.are.same({ "who=carol" }, e:header_all("X-Var-Who"))
    assert.are.same({ "43" }, e:header_all("X-Var-N"))
    assert.are.same({ "string" }, e:header_all("X-Var-Lit"))
    assert.are.same({ "True/False" }, e:header_all("X-Var-Has"))
    assert.are.same({ "carol" }, r:header_all("X-Var-Out"))
  end)

  -------------------------------------------------------------------------
  -- answering without the backend
  -------------------------------------------------------------------------

  it("return-response answers without calling the backend and ends the pipeline", function()
    local before = requests_of(be)
    local r = call({ path = "/ret/x" }, 403)
    assert.are.equal("Nope", r.reason)
    assert.are.equal("/ret/x", r:header("X-Returned"))
    assert.are.equal('{"denied": true}', r.body)
    assert.are.equal(tostring(#r.body), r:header("Content-Length"))
    assert.is_truthy((r:header("Content-Type") or ""):find("application/json", 1, true))
    assert.is_nil(r:header("X-After-Return"), "a policy after return-response ran")
    assert.is_nil(r:header("X-Out-Order"), "outbound ran after return-response")
    -- stats: before + this stats request only
    assert.are.equal(before + 1, requests_of(be), "the backend was called")
  end)

  it("mock-response answers the OpenAPI example of the imported operation, without the backend", function()
    local before = requests_of(be)
    local r = call { path = "/pets/pets/7" }
    assert.is_truthy((r:header("Content-Type") or ""):find("application/json", 1, true),
      "Content-Type: " .. tostring(r:header("Content-Type")))
    local ok, v = pcall(h.json_decode, r.body)
    assert.is_true(ok, "mock body is not JSON: " .. h.show(r.body))
    assert.are.same({ id = 7, name = "Rex", tags = { "good", "boy" } }, v)
    assert.are.equal(tostring(#r.body), r:header("Content-Length"))
    assert.are.equal(before + 1, requests_of(be), "the backend was called")
    local entry = gw.log_entry("/pets/pets/7")
    assert.is_truthy(entry, "no access log entry")
    assert.are.equal("getpet", entry.operation)
  end)

  it("include-fragment runs the fragment's policies in place", function()
    local r, e = call { method = "PATCH", path = "/frag/f" }
    assert.are.same({ "stamped:PATCH" }, e:header_all("X-Fragment"))
    assert.are.same({ "yes" }, r:header_all("X-From-Fragment"))
  end)

  it("forward-request timeout: a slower backend fails with Timeout and on-error sees LastError", function()
    local t0 = h.now()
    local r = call({ path = "/slow/s", headers = { { "X-Test-Delay", "2500" } } }, 504)
    local took = h.now() - t0
    assert.is_true(took >= 0.9 and took < 3, ("answered after %.2f s (timeout=\"1\" second)"):format(took))
    assert.are.equal("Timeout", r:header("X-Error-Reason"))
    assert.are.equal("forward-request", r:header("X-Error-Source"))
    assert.are.equal("backend", r:header("X-Error-Section"))
    assert.are.equal("timed out: Timeout", r.body)
    -- within the timeout the same API forwards normally
    local r2, e2 = call { path = "/slow/fast", headers = { { "X-Test-Delay", "50" } } }
    assert.are.equal("main", r2:header("X-Backend-Name"))
    assert.are.equal("/v1/fast", e2.target)
  end)

  -------------------------------------------------------------------------
  -- the context object model
  -------------------------------------------------------------------------

  it("exposes the context members to expressions", function()
    local path = "/scoped/ctx/42"
    local _, e = call { path = path .. "?q=search%20me&z=1", headers = {
      { "Ocp-Apim-Subscription-Key", ALICE_KEY }, { "X-Probe", "probe-value" } } }
    local function one(name) return e:header_all(name)[1] end
    assert.are.equal("GET", one("X-C-Method"))
    -- context.Request.Url is the backend URL (serviceUrl + the rest); the
    -- client's is context.Request.OriginalUrl
    assert.are.equal("/svc/ctx/42", one("X-C-Url-Path"))
    assert.are.equal(path, one("X-C-Original-Path"))
    assert.are.equal("search me", one("X-C-Query"))
    assert.are.equal("probe-value", one("X-C-Header"))
    assert.are.equal("127.0.0.1", one("X-C-Ip"))
    assert.are.equal("42", one("X-C-Matched"))
    assert.are.equal("scoped", one("X-C-Api-Id"))
    assert.are.equal("Scoped API", one("X-C-Api-Name"))
    assert.are.equal("scoped", one("X-C-Api-Path"))
    assert.are.equal("ctx", one("X-C-Operation"))
    assert.are.equal("alice", one("X-C-Subscription"))
    assert.are.equal("gold", one("X-C-Product"))
    assert.are.equal(GATEWAY_ID, one("X-C-Gateway"))
    local entry = gw.log_entry(path)
    assert.is_truthy(entry, "no access log entry for " .. path)
    assert.is_truthy(entry.requestId and entry.requestId ~= "", "no requestId in the access log")
    assert.are.equal(entry.requestId, one("X-C-Request-Id"))
  end)

  -------------------------------------------------------------------------
  -- bodies read by expressions
  -------------------------------------------------------------------------

  describe("Body.As", function()
    local json = '{"name": "widget", "qty": 3}'

    it("reads the request body in inbound (string and JObject) and still forwards it", function()
      local _, e = call { method = "POST", path = "/bodyin/b", body = json,
        headers = { { "Content-Type", "application/json" } } }
      assert.are.same({ tostring(#json) }, e:header_all("X-Body-Len"))
      assert.are.same({ "widget" }, e:header_all("X-Body-Name"))
      assert.are.equal(json, e.body)
      assert.are.same({ tostring(#json) }, e:header_all("Content-Length"))
    end)

    it("reads a chunked request body in inbound and still forwards all of it", function()
      local r, e = call { method = "POST", path = "/bodyin/c", chunks = { '{"name": ', '"gadget"}' } }
      local n = #'{"name": "gadget"}'
      assert.are.same({ tostring(n) }, e:header_all("X-Body-Len"))
      assert.are.same({ "gadget" }, e:header_all("X-Body-Name"))
      assert.are.equal(tostring(n), r:header("X-Body-Bytes"), "body bytes the backend received")
    end)

    it("reads the response body in outbound as a string and replaces it", function()
      local r = call { path = "/bodyout/abc" }
      local want = "first-line:GET /v1/abc HTTP/1.1"
      assert.are.equal(want, r.body)
      assert.are.equal(tostring(#want), r:header("Content-Length"))
      assert.is_truthy(tonumber(r:header("X-Resp-Len")) and tonumber(r:header("X-Resp-Len")) > 40,
        "X-Resp-Len (length of the echo): " .. tostring(r:header("X-Resp-Len")))
    end)

    it("reads a JSON response body in outbound as a JObject", function()
      local r = call { path = "/jsonout/doc" }
      assert.are.equal("widget", r:header("X-Json-Name"))
      assert.are.equal("name=widget;count=3", r.body)
      assert.are.equal(tostring(#r.body), r:header("Content-Length"))
    end)
  end)

  -------------------------------------------------------------------------
  -- Lua
  -------------------------------------------------------------------------

  it("runs a user policy element from gateway.policyPaths (inbound and outbound)", function()
    local r, e = call { method = "POST", path = "/custom/el", body = "" }
    assert.are.same({ "lua:POST /custom/el" }, e:header_all("X-Stamp"))
    assert.are.same({ "lua:200" }, r:header_all("X-Stamp-Out"))
  end)

  it("runs a policy document written in Lua, base() included", function()
    local r, e = call { path = "/luadoc/d", headers = { { "X-Probe", "p1" } } }
    assert.are.same({ "inbound GET" }, e:header_all("X-Lua-Doc"))
    assert.are.same({ "global" }, list_of(e, "X-Order"), "base(context) did not run the global inbound")
    assert.are.equal("200", r:header("X-Lua-Status"))
    assert.are.equal("p1", r:header("X-Lua-Var"))
    assert.are.same({ "global" }, list_of(r, "X-Out-Order"), "base(context) did not run the global outbound")
    local before = requests_of(be)
    local t = call({ path = "/luadoc/d", headers = { { "X-Lua-Teapot", "1" } } }, 418)
    assert.are.equal("short and stout\n", t.body)
    assert.are.equal("teapot", t:header("X-Lua-Doc"))
    assert.are.equal(before + 1, requests_of(be), "policy.respond called the backend")
  end)

  -------------------------------------------------------------------------
  -- named values
  -------------------------------------------------------------------------

  it("substitutes {{named values}} in policy text and expressions", function()
    local _, e = call { path = "/nv/n" }
    assert.are.same({ "hello-17" }, e:header_all("X-Greeting"))
    assert.are.same({ "HELLO-17" }, e:header_all("X-Greeting-Expr"))
    assert.are.same({ SECRET }, e:header_all("X-Token"))
  end)

  it("never writes a secret named value to the access log, not even in an error message", function()
    local r = h.fetch(gw.port, { path = "/leak/l" })
    assert.are.equal(500, r.status, h.show(r.raw_head .. (r.body or "")))
    local entry = gw.log_entry("/leak/l")
    assert.is_truthy(entry, "no access log entry for /leak/l")
    assert.are.equal("ExpressionValueEvaluationFailure", entry.reason)
    assert.is_nil((r.raw_head .. (r.body or "")):find(SECRET, 1, true), "the secret reached the client")
    -- the document has no <on-error>: the global one ran (a missing section inherits)
    assert.are.equal("ExpressionValueEvaluationFailure", r:header("X-Global-On-Error"))
    local leaked = {}
    for _, line in ipairs(gw.access_log_lines()) do
      if line:find(SECRET, 1, true) then leaked[#leaked + 1] = line end
    end
    assert.are.same({}, leaked, "access log lines carrying the secret named value")
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
