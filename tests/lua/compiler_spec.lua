-- busted spec of lua/portico/compiler.lua: documents, scopes and <base/>,
-- named values, fragments, module lookup, Lua documents, load errors.
-- Run from the repository root: busted --lua=lua5.4 tests/lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local function set_header(name, value)
  return ('<set-header name="%s" exists-action="override"><value>%s</value></set-header>')
    :format(name, value)
end

local function forwarded_header(spec, name, req)
  h.load(spec)
  local _, fw = h.run(h.req(req))
  return fw[1] and h.header(fw[1].headers, name), fw
end

describe("scopes and <base/>", function()
  it("runs global, product, API and operation in order where <base/> stands", function()
    local spec = h.spec({
      global = h.doc { inbound = '<set-header name="X-Order" exists-action="append"><value>global</value></set-header>' },
      product = h.doc { inbound = '<base/><set-header name="X-Order" exists-action="append"><value>product</value></set-header>' },
      api = h.doc { inbound = '<base/><set-header name="X-Order" exists-action="append"><value>api</value></set-header>' },
      operation = h.doc { inbound = '<set-header name="X-Order" exists-action="append"><value>op-before</value></set-header><base/><set-header name="X-Order" exists-action="append"><value>op</value></set-header>' },
    })
    local v = forwarded_header(spec, "X-Order", { product_id = "starter" })
    assert.equal("op-before,global,product,api,op", v)
  end)

  it("drops the parent section when <base/> is missing", function()
    local spec = h.spec({
      global = h.doc { inbound = set_header("X-Global", "1") },
      api = h.doc { inbound = set_header("X-Api", "1") },
    })
    h.load(spec)
    local _, fw = h.run(h.req())
    assert.is_nil(h.header(fw[1].headers, "X-Global"))
    assert.equal("1", h.header(fw[1].headers, "X-Api"))
  end)

  it("inherits a section that is missing altogether", function()
    local spec = h.spec({
      global = h.doc { inbound = set_header("X-Global", "1") },
      api = "<policies><outbound><base/></outbound></policies>",
    })
    assert.equal("1", (forwarded_header(spec, "X-Global")))
  end)

  it("skips the product scope without a product", function()
    local spec = h.spec({
      product = h.doc { inbound = set_header("X-Product", "1") },
    })
    assert.is_nil((forwarded_header(spec, "X-Product")))
    assert.equal("1", (forwarded_header(spec, "X-Product", { product_id = "starter" })))
  end)

  it("forwards by default (the global backend section is <forward-request/>)", function()
    h.load(h.spec({ api = h.doc { inbound = "<base/>" } }))
    local resp, fw = h.run(h.req())
    assert.equal(1, #fw)
    assert.equal("backend body", resp.body)
  end)

  it("does not forward when a backend section without <base/> is empty", function()
    h.load(h.spec({ api = h.doc { backend = "" } }))
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    assert.equal(200, resp.status)
    assert.equal("", resp.body)
  end)

  it("reports no policies when every scope only inherits", function()
    h.load(h.spec({ api = h.doc { inbound = "<base/>", backend = "<base/>", outbound = "<base/>" } }))
    assert.is_false(h.engine.flags("echo", "get-order").policies)
    h.load(h.spec({ api = h.doc { inbound = "<base/>" .. set_header("X", "1") } }))
    assert.is_true(h.engine.flags("echo", "get-order").policies)
    h.load(h.spec({}))
    assert.is_false(h.engine.flags("echo", nil, nil).policies)
  end)
end)

describe("named values", function()
  it("are substituted as text before reading, in attributes and text", function()
    local spec = h.spec({ api = h.doc { inbound = '<set-header name="{{hdr}}" exists-action="override"><value>{{val}}-x</value></set-header>' } },
      { named_values = { hdr = { value = "X-Named" }, val = { value = "v1", secret = true } } })
    assert.equal("v1-x", (forwarded_header(spec, "X-Named")))
  end)

  it("fail the load with file:line:col and a suggestion when missing", function()
    local errs = h.load_errors(h.spec({ api = '<policies>\n  <inbound>\n    <set-header name="a"><value>{{orders-kye}}</value></set-header>\n  </inbound>\n</policies>' },
      { named_values = { ["orders-key"] = { value = "k" } } }))
    assert.same({ "api.xml:3:33: named value 'orders-kye' is not defined (did you mean 'orders-key'?)" }, errs)
  end)

  it("keep error positions in the file as written", function()
    local errs = h.load_errors(h.spec({ api = '<policies><inbound><set-header name="{{long}}" exists-action="bad"/></inbound></policies>' },
      { named_values = { long = { value = "a-much-longer-value-than-the-reference" } } }))
    assert.equal(1, #errs)
    assert.matches("^api.xml:1:48: <set%-header exists%-action>: 'bad' is not one of", errs[1])
  end)

  it("never show a secret value in a message", function()
    local errs = h.load_errors(h.spec({ api = '<policies><inbound><set-status code="{{code}}"/></inbound></policies>' },
      { named_values = { code = { value = "s3cr3t-value", secret = true } } }))
    assert.equal(1, #errs)
    assert.not_matches("s3cr3t", errs[1])
    assert.matches("{{code}}", errs[1], 1, true)
  end)
end)

describe("load errors", function()
  it("name unsupported policies with their location", function()
    local errs = h.load_errors(h.spec({ api = '<policies>\n<inbound>\n  <validate-jwt header-name="Authorization"/>\n  <frobnicate/>\n</inbound>\n</policies>' }))
    assert.same({
      "api.xml:3:3: policy validate-jwt is not supported (planned: traffic and integration policies)",
      "api.xml:4:3: policy frobnicate is not supported",
    }, errs)
  end)

  it("reject unknown sections, a wrong root, duplicate sections and nested <base/>", function()
    local errs = h.load_errors(h.spec({ api = '<policies><inbund/><inbound/><inbound/></policies>' }))
    assert.matches("unknown section <inbund> %(did you mean <inbound>%?%)", errs[1])
    assert.matches("section <inbound> appears twice", errs[2])
    errs = h.load_errors(h.spec({ api = '<fragment/>' }))
    assert.matches("root element of a policy document is <policies>", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<choose><when condition="true"><base/></when></choose>' } }))
    assert.matches("<base/> belongs directly inside a section", errs[1])
  end)

  it("reject unknown attributes with a suggestion", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-header name="a" exist-action="skip"/>' } }))
    assert.matches("unknown attribute 'exist%-action' %(did you mean 'exists%-action'%?%)", errs[1])
  end)

  it("reject a policy in a section it does not belong to", function()
    local errs = h.load_errors(h.spec({ api = h.doc { outbound = '<rewrite-uri template="/a"/>' } }))
    assert.matches("<rewrite%-uri> is not allowed in <outbound> %(allowed in inbound%)", errs[1])
  end)

  it("pass reader errors through", function()
    local errs = h.load_errors(h.spec({ api = '<policies>\n<inbound>\n</policies>' }))
    assert.equal(1, #errs)
    assert.matches("^api.xml:3:1: close tag </policies> does not match <inbound>", errs[1])
  end)

  it("keep the previous generation when a load fails", function()
    h.load(h.spec({ api = h.doc { inbound = set_header("X-Gen", "1") } }))
    assert.is_not_nil(h.load_errors(h.spec({ api = "<policies><inbound><nope/></inbound></policies>" })))
    local _, fw = h.run(h.req())
    assert.equal("1", h.header(fw[1].headers, "X-Gen"))
  end)
end)

describe("fragments", function()
  it("are compiled in place with include-fragment", function()
    local spec = h.spec({ api = h.doc { inbound = '<include-fragment fragment-id="hdrs"/>' } },
      { fragments = { hdrs = { file = "hdrs.xml", text = "<fragment>" .. set_header("X-Frag", "1") .. "</fragment>" } } })
    assert.equal("1", (forwarded_header(spec, "X-Frag")))
  end)

  it("report unknown fragments, wrong roots and cycles", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<include-fragment fragment-id="hdr"/>' } },
      { fragments = { hdrs = { file = "hdrs.xml", text = "<fragment/>" } } }))
    assert.matches("fragment 'hdr' is not defined %(did you mean 'hdrs'%?%)", errs[1])
    errs = h.load_errors(h.spec({}, { fragments = { bad = { file = "bad.xml", text = "<policies/>" } } }))
    assert.matches("^bad.xml:1:1: a fragment's root element is <fragment>", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<include-fragment fragment-id="a"/>' } },
      { fragments = { a = { file = "a.xml", text = '<fragment><include-fragment fragment-id="a"/></fragment>' } } }))
    assert.matches("^a.xml:1:11: <include%-fragment>: fragment 'a' includes itself", errs[1])
  end)

  it("name the fragment file in errors inside it", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<include-fragment fragment-id="f"/>' } },
      { fragments = { f = { file = "f.xml", text = "<fragment>\n  <nope/>\n</fragment>" } } }))
    assert.same({ "f.xml:2:3: policy nope is not supported" }, errs)
  end)
end)

describe("user policy modules", function()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(text)
    f:close()
  end
  write("x-stamp.lua", [[
local M = {}
function M.compile(node, c)
  c:check_attrs(node, { "name" })
  local get = c:attr(node, "name", { required = true })
  if not get then return nil end
  return function(ctx) ctx.request.headers:set(get(ctx), "stamped") end
end
return M
]])
  write("x-global.lua", "leak = 1\nreturn { compile = function() end }")
  write("x-io.lua", "local f = io.open('/etc/passwd')\nreturn { compile = function() end }")

  it("are loaded from policy_paths with the same contract", function()
    local spec = h.spec({ api = h.doc { inbound = '<x-stamp name="X-Stamp"/>' } }, { policy_paths = { dir } })
    assert.equal("stamped", (forwarded_header(spec, "X-Stamp")))
  end)

  it("run in the sandbox: no globals, no io", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<x-global/>' } }, { policy_paths = { dir } }))
    assert.matches("policy x%-global failed to load: .*assignment to global 'leak'", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<x-io/>' } }, { policy_paths = { dir } }))
    assert.matches("unknown global 'io'", errs[1])
  end)

  it("cannot escape the folder through the element name", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<a..b/>' } }, { policy_paths = { dir } }))
    assert.matches("policy a..b is not supported", errs[1], 1, true)
  end)
end)

describe("Lua policy documents", function()
  it("run section functions with the context and a base function", function()
    local spec = h.spec({ global = h.doc { inbound = set_header("X-Global", "1") } })
    spec.documents.apis.echo = { file = "api.lua", text = [[
return {
  inbound = function(context, base)
    base(context)
    context.request.headers:set("X-Lua", context.Request.Method .. " " .. context.request.path)
  end,
  outbound = function(context)
    context.response.headers:set("X-Out", tostring(context.Response.StatusCode))
  end,
}
]] }
    h.load(spec)
    local resp, fw = h.run(h.req())
    assert.equal("1", h.header(fw[1].headers, "X-Global"))
    assert.equal("GET /orders/42", h.header(fw[1].headers, "X-Lua"))
    assert.equal("200", h.header(resp.headers, "X-Out"))
  end)

  it("can answer without the backend through policy.respond", function()
    local spec = h.spec({})
    spec.documents.apis.echo = { file = "api.lua", text = [[
return { inbound = function(context) policy.respond(context, 418, { ["X-Tea"] = "yes" }, "short and stout") end }
]] }
    h.load(spec)
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    assert.equal(418, resp.status)
    assert.equal("short and stout", resp.body)
    assert.equal("yes", h.header(resp.headers, "X-Tea"))
  end)

  it("report bad documents", function()
    local spec = h.spec({})
    spec.documents.apis.echo = { file = "api.lua", text = "return { inbund = function() end }" }
    assert.matches("api.lua: unknown section 'inbund'", h.load_errors(spec)[1])
    spec.documents.apis.echo = { file = "api.lua", text = "return 1" }
    assert.matches("returns a table of section functions", h.load_errors(spec)[1])
    spec.documents.apis.echo = { file = "api.lua", text = "return {" }
    assert.matches("^api.lua:1:", h.load_errors(spec)[1])
  end)
end)

describe("user modules from the generation's snapshot", function()
  it("come from spec.policy_module_texts, never from the disk", function()
    local spec = h.spec({ api = h.doc { inbound = '<x-snap/>' } }, {
      policy_paths = { "/nonexistent" },
      policy_module_texts = { ["/nonexistent/x-snap.lua"] = [[
return { compile = function(node, c) return function(ctx) ctx.request.headers:set("X-Snap", "1") end end }
]] },
    })
    h.load(spec)
    local _, fw = h.run(h.req())
    assert.equal("1", h.header(fw[1].headers, "X-Snap"))
    spec.policy_module_texts = {}
    assert.matches("policy x%-snap is not supported", h.load_errors(spec)[1])
  end)
end)
