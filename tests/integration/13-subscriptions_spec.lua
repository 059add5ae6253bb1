-- Subscriptions: keys in the header or query parameter (the API's names or
-- APIM's defaults), primary and secondary keys, scopes (all, product, API),
-- suspended subscriptions and unpublished products; APIM's 401 bodies and
-- access log reasons; the key is never forwarded and never logged.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local MISSING = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
local INVALID = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."

local KEYS = {
  alice = "alice-primary-3f9c2b71",      -- product/starter (orders), from a named value (fromEnv)
  alice2 = "alice-secondary-8d41e0a6",
  bob = "bob-key-51c7a9d2",              -- api/billing
  root = "root-key-0b6e3f58",            -- all
  sus = "suspended-key-c29a7e13",        -- all, suspended
  exp = "expired-key-46b0d2f9",          -- all, expired
  hid = "hidden-product-key-7e5d19b4",   -- product/hidden (notPublished)
  gold = "gold-key-a81f6c30",            -- product/gold (orders, billing)
}

describe("13 subscriptions", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "subs" }
    local yaml = h.gateway_yaml {} .. ([[
namedValues:
  alice-key: { fromEnv: PT_IT_ALICE_KEY, secret: true }
apis:
  orders: { path: orders, serviceUrl: "%s/o" }
  billing:
    path: billing
    serviceUrl: "%s/b"
    subscriptionKeyParameterNames: { header: X-Billing-Key, query: bkey }
  open: { path: open, serviceUrl: "%s/open", subscriptionRequired: false }
  withcred: { path: withcred, backend: withcred }
backends:
  withcred:
    url: "%s/c"
    credentials: { query: { code: [c1] } }
products:
  starter: { apis: [orders], state: published }
  hidden: { apis: [orders], state: notPublished }
  gold: { apis: [orders, billing] }
subscriptions:
  alice: { scope: product/starter, primaryKey: "{{alice-key}}", secondaryKey: %s }
  bob: { scope: api/billing, primaryKey: %s }
  root: { scope: all, primaryKey: %s }
  sus: { scope: all, primaryKey: %s, state: suspended }
  exp: { scope: all, primaryKey: %s, state: expired }
  hid: { scope: product/hidden, primaryKey: %s }
  gold: { scope: /products/gold, primaryKey: %s, state: active }
]]):format(be.url, be.url, be.url, be.url, KEYS.alice2, KEYS.bob, KEYS.root, KEYS.sus, KEYS.exp, KEYS.hid, KEYS.gold)
    gw = h.start_gateway(yaml, { env = { "PT_IT_ALICE_KEY=" .. KEYS.alice } })
  end)

  teardown(h.cleanup)

  local function requests_seen() return be.stats().requests end

  -- A request that must be let through; returns the backend's echo.
  local function allowed(t, what)
    local r = h.fetch(gw.port, t)
    assert.are.equal(200, r.status, (what or t.path) .. ": " .. h.show(r.raw_head .. r.body))
    assert.are.equal("subs", r:header("X-Backend-Name"))
    return h.parse_echo(r.body)
  end

  -- A request that must be refused with 401 `message` and `reason` in the
  -- access log, without reaching the backend.
  local function refused(t, message, reason, what)
    local before = requests_seen()
    local r = h.fetch(gw.port, t)
    h.assert_apim_error(r, 401, message)
    assert.is_nil(r:header("X-Backend-Name"), (what or t.path) .. ": the backend answered")
    assert.are.equal(before + 1, requests_seen(), (what or t.path) .. ": the request reached the backend")
    local path = t.path:match("^[^?]*")
    local e = gw.log_entry(path)
    assert.is_truthy(e, "no access log entry for " .. path)
    assert.are.equal(401, e.status)
    assert.are.equal(reason, e.reason, "access log reason for " .. path)
    return r
  end

  local function assert_key_not_forwarded(e, key)
    assert.is_nil(e.raw_head:find(key, 1, true), "the subscription key reached the backend:\n" .. h.show(e.raw_head))
    assert.is_nil(e:header("Ocp-Apim-Subscription-Key"), "Ocp-Apim-Subscription-Key reached the backend")
  end

  it("refuses a request without a key: 401 missing, SubscriptionKeyNotFound", function()
    refused({ path = "/orders/none" }, MISSING, "SubscriptionKeyNotFound")
  end)

  it("refuses an empty key header as missing or invalid, never lets it through", function()
    local r = h.fetch(gw.port, { path = "/orders/empty", headers = { { "Ocp-Apim-Subscription-Key", "" } } })
    assert.are.equal(401, r.status, h.show(r.raw_head .. r.body))
  end)

  it("accepts the primary key in Ocp-Apim-Subscription-Key and does not forward it", function()
    local e = allowed { path = "/orders/hdr?x=1", headers = { { "Ocp-Apim-Subscription-Key", KEYS.alice }, { "X-Other", "kept" } } }
    assert.are.equal("/o/hdr?x=1", e.target)
    assert_key_not_forwarded(e, KEYS.alice)
    assert.are.same({ "kept" }, e:header_all("X-Other"))
  end)

  it("matches the key header name case-insensitively", function()
    local e = allowed { path = "/orders/lower", headers = { { "ocp-apim-subscription-key", KEYS.alice } } }
    assert_key_not_forwarded(e, KEYS.alice)
  end)

  it("accepts the secondary key", function()
    local e = allowed { path = "/orders/second", headers = { { "Ocp-Apim-Subscription-Key", KEYS.alice2 } } }
    assert_key_not_forwarded(e, KEYS.alice2)
  end)

  it("accepts the key in the subscription-key query parameter and removes it from the target", function()
    local e = allowed { path = "/orders/q?subscription-key=" .. KEYS.alice }
    assert.are.equal("/o/q", e.target)
    e = allowed { path = "/orders/q2?a=1&subscription-key=" .. KEYS.alice2 .. "&b=2" }
    assert.are.equal("/o/q2?a=1&b=2", e.target)
    e = allowed { path = "/orders/q3?subscription-key=" .. KEYS.alice .. "&c=3" }
    assert.are.equal("/o/q3?c=3", e.target)
    assert_key_not_forwarded(e, KEYS.alice)
  end)

  it("forwards the key neither in the header nor in the query when both carry it", function()
    local e = allowed { path = "/orders/both?subscription-key=" .. KEYS.alice .. "&k=v",
      headers = { { "Ocp-Apim-Subscription-Key", KEYS.alice } } }
    assert.are.equal("/o/both?k=v", e.target)
    assert_key_not_forwarded(e, KEYS.alice)
  end)

  it("decodes a percent-encoded key in the query", function()
    local encoded = KEYS.alice:gsub("%-", "%%2D")
    local e = allowed { path = "/orders/enc?subscription-key=" .. encoded .. "&k=v" }
    assert.are.equal("/o/enc?k=v", e.target)
  end)

  it("removes a query key and still appends the backend's query credentials correctly", function()
    local e = allowed { path = "/withcred/x?subscription-key=" .. KEYS.root }
    assert.are.equal("/c/x?code=c1", e.target)
    e = allowed { path = "/withcred/y?subscription-key=" .. KEYS.root .. "&k=v" }
    assert.are.equal("/c/y?k=v&code=c1", e.target)
  end)

  it("keeps query parameters whose name only starts like the key's", function()
    local e = allowed { path = "/orders/q4?subscription-keys=x&subscription-key=" .. KEYS.alice .. "&my-subscription-key=y" }
    assert.are.equal("/o/q4?subscription-keys=x&my-subscription-key=y", e.target)
  end)

  it("refuses an unknown key: 401 invalid, SubscriptionKeyInvalid", function()
    refused({ path = "/orders/bad", headers = { { "Ocp-Apim-Subscription-Key", "no-such-key" } } }, INVALID, "SubscriptionKeyInvalid")
    refused({ path = "/orders/badq?subscription-key=no-such-key" }, INVALID, "SubscriptionKeyInvalid")
  end)

  it("refuses a key in the wrong case (keys are compared exactly)", function()
    refused({ path = "/orders/case", headers = { { "Ocp-Apim-Subscription-Key", KEYS.alice:upper() } } },
      INVALID, "SubscriptionKeyInvalid")
  end)

  it("refuses the key of a suspended or expired subscription", function()
    refused({ path = "/orders/sus", headers = { { "Ocp-Apim-Subscription-Key", KEYS.sus } } }, INVALID, "SubscriptionKeyInvalid")
    refused({ path = "/orders/exp", headers = { { "Ocp-Apim-Subscription-Key", KEYS.exp } } }, INVALID, "SubscriptionKeyInvalid")
  end)

  it("refuses a key whose scope does not include the API (API scope, product scope)", function()
    refused({ path = "/orders/bob", headers = { { "Ocp-Apim-Subscription-Key", KEYS.bob } } }, INVALID, "SubscriptionKeyInvalid",
      "api/billing key on orders")
    refused({ path = "/billing/alice", headers = { { "X-Billing-Key", KEYS.alice } } }, INVALID, "SubscriptionKeyInvalid",
      "product/starter key on billing")
  end)

  it("refuses the key of a product that is not published", function()
    refused({ path = "/orders/hid", headers = { { "Ocp-Apim-Subscription-Key", KEYS.hid } } }, INVALID, "SubscriptionKeyInvalid")
  end)

  it("accepts an all-scope key and a product key on every API of the product", function()
    allowed { path = "/orders/root", headers = { { "Ocp-Apim-Subscription-Key", KEYS.root } } }
    allowed { path = "/billing/root", headers = { { "X-Billing-Key", KEYS.root } } }
    allowed { path = "/orders/gold", headers = { { "Ocp-Apim-Subscription-Key", KEYS.gold } } }
    allowed { path = "/billing/gold", headers = { { "X-Billing-Key", KEYS.gold } } }
  end)

  it("reads the key from the API's own header and query names, and does not forward them", function()
    local e = allowed { path = "/billing/h", headers = { { "X-Billing-Key", KEYS.bob } } }
    assert.are.equal("/b/h", e.target)
    assert.is_nil(e:header("X-Billing-Key"), "X-Billing-Key reached the backend")
    assert.is_nil(e.raw_head:find(KEYS.bob, 1, true), "the key reached the backend:\n" .. h.show(e.raw_head))
    e = allowed { path = "/billing/q?z=1&bkey=" .. KEYS.bob }
    assert.are.equal("/b/q?z=1", e.target)
  end)

  it("does not take the default header or query name on an API with its own names", function()
    refused({ path = "/billing/defhdr", headers = { { "Ocp-Apim-Subscription-Key", KEYS.bob } } }, MISSING, "SubscriptionKeyNotFound")
    refused({ path = "/billing/defq?subscription-key=" .. KEYS.bob }, MISSING, "SubscriptionKeyNotFound")
  end)

  it("lets everything through on an API with subscriptionRequired: false", function()
    local e = allowed { path = "/open/x?y=1" }
    assert.are.equal("/open/x?y=1", e.target)
  end)

  it("never writes a key into the access log", function()
    gw.wait_access_log(30)
    local log = table.concat(gw.access_log_lines(), "\n")
    assert.is_true(#gw.access_log_lines() >= 30, "expected at least 30 access log lines:\n" .. log)
    for name, key in pairs(KEYS) do
      assert.is_nil(log:find(key, 1, true), ("key %s in the access log:\n%s"):format(name, log))
      assert.is_nil(log:find(key:upper(), 1, true), ("key %s (upper case) in the access log"):format(name))
    end
    assert.is_nil(log:find("no-such-key", 1, true), "an invalid key in the access log:\n" .. log)
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("13 subscriptionRequired default", function()
  local be, gw_none, gw_subs

  setup(function()
    be = h.start_backend { name = "dflt" }
    gw_none = h.start_gateway(h.gateway_yaml {} .. ("apis:\n  a: { path: a, serviceUrl: \"%s/a\" }\n"):format(be.url))
    gw_subs = h.start_gateway(h.gateway_yaml {} .. ([[
apis:
  a: { path: a, serviceUrl: "%s/a" }
subscriptions:
  s: { scope: all, primaryKey: dflt-key-123 }
]]):format(be.url))
  end)

  teardown(h.cleanup)

  it("is false without a subscriptions section", function()
    local r = h.fetch(gw_none.port, { path = "/a/x" })
    assert.are.equal(200, r.status, h.show(r.raw_head .. r.body))
    assert.are.equal("/a/x", h.parse_echo(r.body).target)
  end)

  it("is true with a subscriptions section", function()
    h.assert_apim_error(h.fetch(gw_subs.port, { path = "/a/x" }), 401, MISSING)
    local r = h.fetch(gw_subs.port, { path = "/a/y", headers = { { "Ocp-Apim-Subscription-Key", "dflt-key-123" } } })
    assert.are.equal(200, r.status, h.show(r.raw_head .. r.body))
  end)

  it("exit 0 on SIGTERM with a clean sanitizer report", function()
    gw_none.stop()
    gw_subs.stop()
  end)
end)
