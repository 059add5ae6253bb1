-- Backend credentials and named values: header, query and Authorization
-- credentials are added to every request forwarded to that backend (and only
-- to it), with {{named values}} (value, fromEnv, fromFile) substituted; a
-- client header of the same name is replaced, not duplicated; secrets never
-- reach the access log.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local API_KEY = "k-7f3a9c1e"
local ENV_KEY = "env-5b2d8e44"
local BASIC = "dXNlcjpzM2NyZXQ="

local list_of = h.header_list

local split_target = h.split_target

local function sorted(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  return c
end

local CRED_PARAMS = { "code=" .. API_KEY, "multi=a", "multi=b" }

describe("11 credentials", function()
  local be, other, pa, pb, gw

  setup(function()
    be = h.start_backend { name = "creds" }
    other = h.start_backend { name = "other" }
    pa = h.start_backend { name = "pool-a" }
    pb = h.start_backend { name = "pool-b" }
    h.write_file(h.tmpdir() .. "/basic.txt", BASIC .. "\n")
    local yaml = h.gateway_yaml {} .. ([[
namedValues:
  be-host: { value: 127.0.0.1 }
  be-port: { value: "%d" }
  api-key: { value: "%s", secret: true }
  env-key: { fromEnv: PT_IT_CRED_ENV, secret: true }
  file-basic: { fromFile: basic.txt, secret: true }
  nested: { value: "x{{api-key}}y" }
backends:
  creds:
    url: "http://{{be-host}}:{{be-port}}/svc"
    credentials:
      header:
        x-api-key: ["{{api-key}}"]
        x-env-key: "{{env-key}}"
        x-multi: [one, two]
        x-nested: ["{{nested}}"]
      query:
        code: ["{{api-key}}"]
        multi: [a, b]
      authorization: { scheme: Basic, parameter: "{{file-basic}}" }
  plain:
    url: "%s/plain"
  member-a:
    url: "%s/a"
    credentials:
      header: { x-member: [member-a] }
      authorization: { scheme: Bearer, parameter: token-a }
  member-b:
    url: "%s/b"
    credentials:
      header: { x-member: [member-b] }
      query: { member: [b] }
  enc:
    url: "%s/enc"
    credentials:
      query: { sig: ["a%%20b%%26c"] }
  duo:
    type: Pool
    pool:
      services:
        - { id: member-a, priority: 0, weight: 1 }
        - { id: member-b, priority: 0, weight: 1 }
apis:
  creds: { path: creds, backend: creds, subscriptionRequired: false }
  plain: { path: plain, backend: plain, subscriptionRequired: false }
  direct: { path: direct, serviceUrl: "%s/direct", subscriptionRequired: false }
  duo: { path: duo, backend: duo, subscriptionRequired: false }
  enc: { path: enc, backend: enc, subscriptionRequired: false }
]]):format(be.port, API_KEY, other.url, pa.url, pb.url, be.url, be.url)
    gw = h.start_gateway(yaml, { env = { "PT_IT_CRED_ENV=" .. ENV_KEY } })
  end)

  teardown(h.cleanup)

  local function via(t, backend_name)
    local r = h.fetch(gw.port, t)
    assert.are.equal(200, r.status, h.show(r.raw_head .. r.body))
    if backend_name then assert.are.equal(backend_name, r:header("X-Backend-Name")) end
    return r, h.parse_echo(r.body)
  end

  it("reaches the backend at the url built from named values", function()
    local _, e = via({ path = "/creds/hello" }, "creds")
    local path = split_target(e.target)
    assert.are.equal("/svc/hello", path)
    assert.are.same({ "127.0.0.1:" .. be.port }, e:header_all("Host"))
  end)

  it("adds the header credentials with values from named values (value, fromEnv)", function()
    local _, e = via({ path = "/creds/h" }, "creds")
    assert.are.same({ API_KEY }, e:header_all("x-api-key"))
    assert.are.same({ ENV_KEY }, e:header_all("x-env-key"))
  end)

  it("adds every value of a multi-valued header credential", function()
    local _, e = via({ path = "/creds/multi" }, "creds")
    assert.are.same({ "one", "two" }, list_of(e, "x-multi"))
  end)

  it("keeps {{...}} inside a named value literal (no recursive substitution)", function()
    local _, e = via({ path = "/creds/nested" }, "creds")
    assert.are.same({ "x{{api-key}}y" }, e:header_all("x-nested"))
  end)

  it("sets Authorization from scheme and parameter (fromFile, trailing newline dropped)", function()
    local _, e = via({ path = "/creds/auth" }, "creds")
    assert.are.same({ "Basic " .. BASIC }, e:header_all("Authorization"))
  end)

  it("replaces a client's Authorization instead of adding a second one", function()
    local _, e = via({ path = "/creds/auth2", headers = { { "Authorization", "Bearer client-token" } } }, "creds")
    assert.are.same({ "Basic " .. BASIC }, e:header_all("Authorization"))
    assert.is_nil(e.raw_head:find("client-token", 1, true), "the client's Authorization reached the backend:\n" .. h.show(e.raw_head))
  end)

  it("replaces a client header with a credential's name (any case), not duplicating it", function()
    local _, e = via({ path = "/creds/dup", headers = {
      { "X-API-KEY", "client-value" }, { "x-multi", "client-multi" }, { "X-Other", "kept" } } }, "creds")
    assert.are.same({ API_KEY }, e:header_all("x-api-key"))
    assert.are.same({ "one", "two" }, list_of(e, "x-multi"))
    assert.is_nil(e.raw_head:find("client-value", 1, true), "the client's x-api-key reached the backend:\n" .. h.show(e.raw_head))
    assert.is_nil(e.raw_head:find("client-multi", 1, true), "the client's x-multi reached the backend:\n" .. h.show(e.raw_head))
    assert.are.same({ "kept" }, e:header_all("X-Other"))
  end)

  it("appends the query credentials to a target without a query", function()
    local _, e = via({ path = "/creds/q" }, "creds")
    local path, params = split_target(e.target)
    assert.are.equal("/svc/q", path)
    assert.is_truthy(params, "no query string in " .. e.target)
    assert.are.same(sorted(CRED_PARAMS), sorted(params), "target " .. e.target)
  end)

  it("appends the query credentials after the client's query", function()
    local _, e = via({ path = "/creds/q2?x=1&y=two" }, "creds")
    local path, params = split_target(e.target)
    assert.are.equal("/svc/q2", path)
    assert.is_truthy(params, "no query string in " .. e.target)
    assert.are.same({ "x=1", "y=two" }, { params[1], params[2] }, "the client's query must come first: " .. e.target)
    assert.are.same(sorted(CRED_PARAMS), sorted({ table.unpack(params, 3) }), "target " .. e.target)
  end)

  it("forwards a percent-encoded query credential value as written", function()
    local _, e = via({ path = "/enc/e?x=1" }, "creds")
    assert.are.equal("/enc/e?x=1&sig=a%20b%26c", e.target)
  end)

  it("adds the credentials to every request of a keep-alive connection, with bodies too", function()
    local c = h.must_connect(gw.port)
    for i = 1, 3 do
      local r = c:request { method = i == 2 and "POST" or "GET", path = "/creds/ka" .. i, body = i == 2 and "payload" or nil }
      assert.are.equal(200, r.status, h.show(r.raw_head .. r.body))
      local e = h.parse_echo(r.body)
      assert.are.same({ API_KEY }, e:header_all("x-api-key"), "request " .. i)
      assert.are.same({ "Basic " .. BASIC }, e:header_all("Authorization"), "request " .. i)
      local _, params = split_target(e.target)
      assert.are.same(sorted(CRED_PARAMS), sorted(params or {}), "request " .. i .. " target " .. e.target)
      if i == 2 then assert.are.equal("payload", e.body) end
    end
    c:close()
  end)

  it("adds nothing to requests for a backend without credentials", function()
    local _, e = via({ path = "/plain/p?z=9", headers = { { "Authorization", "Bearer mine" } } }, "other")
    assert.are.equal("/plain/p?z=9", e.target)
    assert.are.same({ "Bearer mine" }, e:header_all("Authorization"))
    for _, name in ipairs { "x-api-key", "x-env-key", "x-multi", "x-member" } do
      assert.is_nil(e:header(name), name .. " reached a backend without credentials")
    end
  end)

  it("adds nothing to requests for an API with a serviceUrl", function()
    local _, e = via({ path = "/direct/d" }, "creds")
    assert.are.equal("/direct/d", e.target)
    assert.is_nil(e:header("x-api-key"))
    assert.is_nil(e:header("Authorization"))
    assert.is_nil(e.raw_head:find(API_KEY, 1, true), "a credential reached a serviceUrl API's backend")
  end)

  it("adds each pool member's own credentials to the requests routed to it", function()
    local seen = {}
    for i = 1, 4 do
      local r, e = via { path = "/duo/r" .. i .. "?k=v" }
      local name = r:header("X-Backend-Name")
      seen[name] = (seen[name] or 0) + 1
      if name == "pool-a" then
        assert.are.equal("/a/r" .. i .. "?k=v", e.target)
        assert.are.same({ "member-a" }, e:header_all("x-member"))
        assert.are.same({ "Bearer token-a" }, e:header_all("Authorization"))
      else
        assert.are.equal("pool-b", name)
        assert.are.equal("/b/r" .. i .. "?k=v&member=b", e.target)
        assert.are.same({ "member-b" }, e:header_all("x-member"))
        assert.is_nil(e:header("Authorization"))
      end
    end
    assert.are.same({ ["pool-a"] = 2, ["pool-b"] = 2 }, seen)
  end)

  it("never writes a secret value into the access log or stderr", function()
    gw.wait_access_log(18)
    local out = table.concat(gw.access_log_lines(), "\n")
    local err = gw.stderr_text()
    for _, secret in ipairs { API_KEY, ENV_KEY, BASIC } do
      assert.is_nil(out:find(secret, 1, true), "secret in the access log:\n" .. out)
      assert.is_nil(err:find(secret, 1, true), "secret on stderr:\n" .. err)
    end
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)

describe("11 named value errors", function()
  teardown(h.cleanup)

  it("refuses a reference to an undefined named value, naming file:line", function()
    local yaml = h.gateway_yaml { port = 1 } .. [[
namedValues:
  api-key: { value: abc }
backends:
  b:
    url: "http://127.0.0.1:1/x"
    credentials:
      header: { x-api-key: ["{{api-kee}}"] }
apis:
  a: { path: a, backend: b, subscriptionRequired: false }
]]
    local rc, out = h.check_config(yaml, "undefined-nv.yaml")
    assert.are.equal(1, rc, out)
    -- the reference is on line 16 of the file (9 gateway lines + 7)
    assert.is_truthy(out:find("undefined-nv.yaml:16:", 1, true), "no file:line of the reference in:\n" .. out)
    assert.is_truthy(out:find("api-kee", 1, true), out)
  end)

  it("refuses a fromEnv named value whose variable is not set, without starting", function()
    local yaml = h.gateway_yaml { port = 1 } .. [[
namedValues:
  k: { fromEnv: PT_IT_SURELY_UNSET_VARIABLE_1234, secret: true }
backends:
  b:
    url: "http://127.0.0.1:1/x"
    credentials:
      header: { x-k: ["{{k}}"] }
apis:
  a: { path: a, backend: b, subscriptionRequired: false }
]]
    local rc, out = h.check_config(yaml, "unset-env.yaml")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("PT_IT_SURELY_UNSET_VARIABLE_1234", 1, true), out)
  end)

  it("never prints a secret value in a load error", function()
    local yaml = h.gateway_yaml { port = 1 } .. [[
namedValues:
  k: { value: "s3cr3t-v4lue-99", secret: true }
backends:
  b:
    url: "http://127.0.0.1:1/{{k}}/{{missing}}"
apis:
  a: { path: a, backend: b, subscriptionRequired: false }
]]
    local rc, out = h.check_config(yaml, "secret-err.yaml")
    assert.are.equal(1, rc, out)
    assert.is_nil(out:find("s3cr3t-v4lue-99", 1, true), "secret value in the error output:\n" .. out)
  end)
end)

describe("11 query credential with reserved characters", function()
  teardown(h.cleanup)

  -- Either refused at load (the value must be percent-encoded) or sent so
  -- that it stays one parameter with that value; never split into several
  -- parameters or carrying a raw '#' into the request target.
  it("is refused at load or stays one parameter", function()
    local be = h.start_backend { name = "reserved" }
    local yaml = h.gateway_yaml {} .. ([[
backends:
  b:
    url: "%s/r"
    credentials:
      query: { sig: ["a&c=d#e"] }
apis:
  r: { path: r, backend: b, subscriptionRequired: false }
]]):format(be.url)
    local rc, out = h.check_config(yaml:gsub("{{PORT}}", "1"), "reserved.yaml")
    if rc ~= 0 then
      assert.are.equal(1, rc, out)
      assert.is_truthy(out:find("sig", 1, true), "the refusal does not name the parameter:\n" .. out)
      return
    end
    local gw = h.start_gateway(yaml)
    local r = h.fetch(gw.port, { path = "/r/x?k=v" })
    assert.are.equal(200, r.status, h.show(r.raw_head .. r.body))
    local e = h.parse_echo(r.body)
    local path, params = split_target(e.target)
    assert.are.equal("/r/x", path)
    assert.is_nil(e.target:find("#", 1, true), "a raw '#' in the request target: " .. e.target)
    assert.are.equal(2, #params, "the credential value was split into several parameters: " .. e.target)
    assert.are.equal("k=v", params[1])
    local name, value = params[2]:match("^([^=]*)=(.*)$")
    assert.are.equal("sig", name, e.target)
    local decoded = value:gsub("%%(%x%x)", function(x) return string.char(tonumber(x, 16)) end)
    assert.are.equal("a&c=d#e", decoded, "query credential as sent: " .. e.target)
    gw.stop()
  end)
end)
