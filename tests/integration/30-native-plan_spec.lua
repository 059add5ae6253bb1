-- The native policy plan (src/plan.c, lua/portico/plan.lua), end to end. Two
-- APIs run the same policy document: `native` as written (every element
-- declarative: it runs as a plan, in C), `lua` with one more element that has
-- no native form (set-variable), so its requests run in Lua. Every request is
-- sent to both; the backend echoes the exact bytes it received, and the two
-- heads must be identical (method, path, query, headers in order): C's
-- executor against the Lua path, for many inputs. The access log says how
-- each request ran ("policy": "plan" | "lua"), so neither side is vacuous.
-- A backend that refuses connections gives both the same error answer, and a
-- document with an expression the plan cannot express still works (on Lua).
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local DOC = [[
<policies>
  <inbound>
    <base />
    <set-header name="X-Bench" exists-action="override"><value>1</value></set-header>
    <set-header name="x-multi" exists-action="override"><value>a</value><value>b</value></set-header>
    <set-header name="X-Keep" exists-action="skip"><value>kept</value></set-header>
    <set-header name="X-App" exists-action="append"><value>p1</value></set-header>
    <set-header name="Cookie" exists-action="append"><value>c=1</value><value>d=2</value></set-header>
    <set-header name="X-Remove" exists-action="delete" />
    <set-header name="X-Empty" exists-action="override" />
    <rewrite-uri template="/v2/{id}?from={id}&amp;fixed=1" copy-unmatched-params="true" />
    <set-query-parameter name="source" exists-action="override"><value>edge</value></set-query-parameter>
    <set-query-parameter name="tag" exists-action="append"><value>a b</value><value>c&amp;d</value></set-query-parameter>
    <set-query-parameter name="keep" exists-action="skip"><value>k</value></set-query-parameter>
    <set-query-parameter name="drop" exists-action="delete" />
    <choose>
      <when condition="@(context.Request.Headers.GetValueOrDefault("X-Tier", "") == "gold")">
        <set-header name="X-Tier-Class" exists-action="override"><value>premium</value></set-header>
      </when>
      <when condition="@(context.Request.Headers.ContainsKey("X-Trial") &amp;&amp; context.Request.Method != "POST")">
        <set-header name="X-Tier-Class" exists-action="override"><value>trial</value></set-header>
        <set-method>PATCH</set-method>
      </when>
      <otherwise>
        <set-header name="X-Tier-Class" exists-action="override"><value>standard</value></set-header>
      </otherwise>
    </choose>
    <choose>
      <when condition="@(context.Request.Headers.GetValueOrDefault("X-Down", "no") == "yes")">
        <set-backend-service backend-id="down" />
      </when>
      <when condition="@(!context.Request.Headers.ContainsKey("X-Alt") || context.Request.Method == "DELETE")">
        <set-backend-service backend-id="main-b" />
      </when>
      <otherwise>
        <set-backend-service base-url="@@ALT@@" />
      </otherwise>
    </choose>
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>
]]

-- the same, forced to the Lua path by an element without a native form
local function lua_doc(doc)
  return (doc:gsub("<base />", '<base />\n    <set-variable name="force-lua" value="1" />', 1))
end

-- an expression in a value: no plan, and it must still work
local FALLBACK = [[
<policies>
  <inbound>
    <base />
    <set-header name="X-Upper" exists-action="override">
      <value>@(context.Request.Headers.GetValueOrDefault("X-Tier", "none").ToUpper())</value>
    </set-header>
  </inbound>
</policies>
]]

local OPERATIONS = [[
    operations:
      get-item: { method: GET, urlTemplate: "/items/{id}" }
      other-item: { method: "*", urlTemplate: "/items/{id}" }
      search: { method: GET, urlTemplate: "/search?status={status}" }
]]

describe("30 native plan", function()
  local be, gw

  setup(function()
    be = h.start_backend { name = "main" }
    local tmp = h.tmpdir()
    local alt = be.url .. "/alt"
    local doc = DOC:gsub("@@ALT@@", alt)
    h.write_file(tmp .. "/native.xml", doc)
    h.write_file(tmp .. "/lua.xml", lua_doc(doc))
    h.write_file(tmp .. "/fallback.xml", FALLBACK)
    local function api(id, file, ops)
      return ("  %s:\n    path: %s\n    serviceUrl: \"%s/default\"\n    subscriptionRequired: false\n"
        .. "    policy: \"%s/%s\"\n%s"):format(id, id, be.url, tmp, file, ops or "")
    end
    local yaml = h.gateway_yaml { id = "edge-30" } .. ([[
backends:
  main-b: { url: "%s/main" }
  down: { url: "http://127.0.0.1:%d/down" }
apis:
]]):format(be.url, h.free_port())
      .. api("native", "native.xml", OPERATIONS) .. api("lua", "lua.xml", OPERATIONS)
      .. api("fallback", "fallback.xml")
    gw = h.start_gateway(yaml)
  end)

  teardown(h.cleanup)

  local function send(api, t)
    local r = h.fetch(gw.port, {
      method = t.method, path = "/" .. api .. t.path, headers = t.headers, body = t.body,
    })
    r:assert_complete(api .. t.path)
    return r
  end

  local function policy_of(api, path)
    path = path:match("^[^?]*") -- the access log has no query
    local entry = gw.log_entry("/" .. api .. path)
    assert.is_truthy(entry, "no access log entry for /" .. api .. path)
    return entry.policy
  end

  local INPUTS = {
    { path = "/items/42?color=red", headers = { { "X-Tier", "gold" } } },
    { path = "/items/42?color=red&source=client&tag=z&keep=1&drop=x&drop=y",
      headers = { { "X-Tier", "silver" }, { "x-bench", "0" }, { "X-BENCH", "00" }, { "X-Keep", "mine" },
        { "X-App", "a1" }, { "x-app", "a2" }, { "Cookie", "k=v" }, { "X-Remove", "1" }, { "x-remove", "2" },
        { "X-Multi", "m" } } },
    { path = "/items/7?dr%6Fp=1&a+b=2&&%zz=1&keep", headers = { { "X-Trial", "1" } } },
    { path = "/items/7", method = "POST", body = "hello plan", headers = { { "X-Trial", "1" }, { "X-Alt", "1" } } },
    { path = "/items/9?x=1", method = "DELETE", headers = { { "X-Alt", "yes" } } },
    { path = "/items/9", headers = { { "X-Alt", "yes" }, { "X-Tier", "gold" }, { "X-Tier", "gold" } } },
    { path = "/search?status=open&from=me&x=1", headers = {} },
    { path = "/search?status=a&status=b", headers = { { "X-Empty", "was-here" } } },
  }

  it("gives the backend the same request from the plan as from the Lua path", function()
    for i, t in ipairs(INPUTS) do
      local rn, rl = send("native", t), send("lua", t)
      local what = ("input %d (%s %s)"):format(i, t.method or "GET", t.path)
      assert.are.equal(200, rn.status, what .. " native: " .. h.show(rn.raw_head .. (rn.body or "")))
      assert.are.equal(200, rl.status, what .. " lua: " .. h.show(rl.raw_head .. (rl.body or "")))
      local en, el = h.parse_echo(rn.body), h.parse_echo(rl.body)
      assert.are.equal(el.raw_head, en.raw_head, what .. ": the heads differ")
      assert.are.equal(el.body, en.body, what .. ": the bodies differ")
      assert.are.equal("plan", policy_of("native", t.path), what)
      assert.are.equal("lua", policy_of("lua", t.path), what)
    end
  end)

  it("did the work the document asks for (the comparison is not between two no-ops)", function()
    local e = h.parse_echo(send("native", INPUTS[1]).body)
    assert.are.equal("GET /main/v2/42?from=42&fixed=1&color=red&source=edge&tag=a%20b&tag=c%26d&keep=k HTTP/1.1",
      e.request_line)
    assert.are.same({ "1" }, e:header_all("X-Bench"))
    assert.are.same({ "premium" }, e:header_all("X-Tier-Class"))
    assert.are.same({ "a,b" }, e:header_all("x-multi"))
    e = h.parse_echo(send("native", INPUTS[3]).body)
    assert.are.equal("PATCH", e.method)
    e = h.parse_echo(send("native", INPUTS[4]).body)
    assert.matches("^POST /alt/v2/7%?", e.request_line)
    assert.are.equal("hello plan", e.body)
  end)

  it("answers a failed forward as the Lua path does", function()
    local t = { path = "/items/1", headers = { { "X-Down", "yes" } } }
    local rn, rl = send("native", t), send("lua", t)
    assert.are.equal(500, rn.status)
    assert.are.equal(rl.status_line, rn.status_line)
    assert.are.equal(rl.body, rn.body)
    assert.are.same(rl.headers, rn.headers)
    assert.are.equal("BackendConnectionFailure", gw.log_entry("/native/items/1").reason)
    assert.are.equal("plan", policy_of("native", "/items/1"))
  end)

  it("keeps a document with an expression the plan cannot express on the Lua path, working", function()
    local r = send("fallback", { path = "/x?y=1", headers = { { "X-Tier", "gold" } } })
    assert.are.equal(200, r.status)
    assert.are.same({ "GOLD" }, h.parse_echo(r.body):header_all("X-Upper"))
    assert.are.equal("lua", policy_of("fallback", "/x"))
  end)

  it("rejects an unknown operation before any policy runs", function()
    local r = send("native", { path = "/nothing" })
    h.assert_apim_error(r, 404)
  end)

  it("exits 0 on SIGTERM with a clean sanitizer report", function()
    gw.stop()
  end)
end)
