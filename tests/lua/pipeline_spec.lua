-- busted spec of lua/portico/pipeline.lua: section order, errors, LastError,
-- on-error, APIM's default error answers, the final response table.

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

-- An API whose operation policy is a Lua document: lets a spec observe the
-- context without depending on C# expressions.
local function with_lua(api_xml, lua_text, extra)
  local spec = h.spec({ api = api_xml }, extra)
  spec.documents.operations.echo = { ["get-order"] = { file = "op.lua", text = lua_text } }
  h.load(spec)
end

local RECORD_ERROR = [[
return {
  inbound = function(context, base) base(context) end,
  ["on-error"] = function(context, base)
    local e = context.LastError
    for _, k in ipairs({ "Source", "Reason", "Message", "Scope", "Section", "Path", "PolicyId" }) do
      context.response.headers:set("X-Error-" .. k, tostring(e[k]))
    end
    context.response.headers:set("X-Error-Status", tostring(context.Response.StatusCode))
    base(context)
  end,
}
]]

describe("pipeline", function()
  it("runs inbound, backend and outbound in order", function()
    local spec = h.spec({ api = h.doc {
      inbound = '<set-header name="X-Seen" exists-action="append"><value>in</value></set-header>',
      outbound = '<set-header name="X-Out"><value>out</value></set-header>',
    } })
    h.load(spec)
    local resp, fw = h.run(h.req())
    assert.equal("in", h.header(fw[1].headers, "X-Seen"))
    assert.equal("out", h.header(resp.headers, "X-Out"))
  end)

  it("answers APIM's 500 and JSON body for a policy error without on-error", function()
    with_lua(h.doc { inbound = "<base/>" }, 'return { inbound = function() error("boom") end }')
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    assert.equal(500, resp.status)
    assert.equal('{"statusCode": 500, "message": "Internal server error"}', resp.body)
    assert.equal("application/json", h.header(resp.headers, "Content-Type"))
    assert.equal("ExpressionValueEvaluationFailure", resp.error.reason)
    assert.matches("boom", resp.error.message)
  end)

  it("fills LastError for on-error with the failing policy's place", function()
    local spec = h.spec({ api = h.doc {
      inbound = '<choose><when condition="true"><set-backend-service id="pick" backend-id="orders"/><forward-request/></when></choose>',
    } })
    -- forward-request is not allowed in inbound: use a user module that fails instead
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local f = assert(io.open(dir .. "/x-fail.lua", "w"))
    f:write([[return { compile = function(node, c)
      return function(ctx) policy.fail("HeaderNotFound", "Header X was not found", 401) end
    end }]])
    f:close()
    spec = h.spec({ api = h.doc {
      inbound = '<choose><when condition="true"><set-header name="a"><value>1</value></set-header><x-fail id="check-x"/></when></choose>',
    } }, { policy_paths = { dir } })
    spec.documents.operations.echo = { ["get-order"] = { file = "op.lua", text = RECORD_ERROR } }
    h.load(spec)
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    assert.equal(401, resp.status)
    assert.equal("x-fail", h.header(resp.headers, "X-Error-Source"))
    assert.equal("HeaderNotFound", h.header(resp.headers, "X-Error-Reason"))
    assert.equal("Header X was not found", h.header(resp.headers, "X-Error-Message"))
    assert.equal("api", h.header(resp.headers, "X-Error-Scope"))
    assert.equal("inbound", h.header(resp.headers, "X-Error-Section"))
    assert.equal("choose[1]/when[1]/x-fail[2]", h.header(resp.headers, "X-Error-Path"))
    assert.equal("check-x", h.header(resp.headers, "X-Error-PolicyId"))
    assert.equal("401", h.header(resp.headers, "X-Error-Status"))
    assert.equal('{"statusCode": 401, "message": "Header X was not found"}', resp.body)
  end)

  it("gives on-error the backend failure", function()
    with_lua(h.doc { inbound = "<base/>" }, RECORD_ERROR)
    local resp = h.run(h.req(), { error = { Source = "forward-request", Reason = "Timeout", Message = "no head in 30s" } })
    assert.equal(500, resp.status)
    assert.equal("forward-request", h.header(resp.headers, "X-Error-Source"))
    assert.equal("Timeout", h.header(resp.headers, "X-Error-Reason"))
    assert.equal("backend", h.header(resp.headers, "X-Error-Section"))
    assert.equal('{"statusCode": 500, "message": "Backend did not respond in time"}', resp.body)
  end)

  it("lets on-error answer with return-response", function()
    h.load(h.spec({ api = h.doc {
      ["on-error"] = '<return-response><set-status code="503" reason="Try later"/><set-body>sorry</set-body></return-response>',
    } }))
    local resp = h.run(h.req(), { error = { Reason = "BackendConnectionFailure", Message = "refused" } })
    assert.equal(503, resp.status)
    assert.equal("sorry", resp.body)
    assert.equal("BackendConnectionFailure", resp.error.reason)
  end)

  it("answers the default error when on-error itself fails", function()
    with_lua(h.doc { inbound = "<base/>" }, [[return {
      inbound = function() error("first") end,
      ["on-error"] = function() error("second") end,
    }]])
    local resp = h.run(h.req())
    assert.equal(500, resp.status)
    assert.equal("on-error", resp.error.section)
    assert.matches("second", resp.error.message)
  end)

  it("runs outbound after an error-free backend, not after return-response", function()
    h.load(h.spec({ api = h.doc {
      backend = '<return-response><set-status code="202"/></return-response>',
      outbound = '<set-header name="X-Out"><value>1</value></set-header>',
    } }))
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    assert.equal(202, resp.status)
    assert.is_nil(h.header(resp.headers, "X-Out"))
  end)

  it("reports which bodies must be buffered", function()
    h.load(h.spec({ api = h.doc { inbound = "<base/>" } }))
    local f = h.engine.flags("echo", "get-order")
    assert.is_false(f.request_body)
    assert.is_false(f.response_body)
    with_lua(h.doc { inbound = "<base/>" }, "return { outbound = function(context) local b = context.Response.Body end }")
    f = h.engine.flags("echo", "get-order")
    assert.is_true(f.response_body)
    assert.is_false(f.request_body)
  end)

  it("caches one chain per api, operation and product", function()
    h.load(h.spec({ api = h.doc { inbound = "<base/>" } }))
    assert.equal(h.engine.flags("echo", "get-order"), h.engine.flags("echo", "get-order"))
  end)

  it("gives XML on-error policies context.LastError (APIM's example)", function()
    h.load(h.spec({ api = h.doc {
      inbound = '<set-variable id="bad" name="x" value="@(int.Parse(&quot;nope&quot;))"/>',
      ["on-error"] = [[
        <set-header name="ErrorSource" exists-action="override"><value>@(context.LastError.Source)</value></set-header>
        <set-header name="ErrorReason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>
        <set-header name="ErrorMessage" exists-action="override"><value>@(context.LastError.Message)</value></set-header>
        <set-header name="ErrorScope" exists-action="override"><value>@(context.LastError.Scope)</value></set-header>
        <set-header name="ErrorSection" exists-action="override"><value>@(context.LastError.Section)</value></set-header>
        <set-header name="ErrorPath" exists-action="override"><value>@(context.LastError.Path)</value></set-header>
        <set-header name="ErrorPolicyId" exists-action="override"><value>@(context.LastError.PolicyId)</value></set-header>
        <set-header name="ErrorStatusCode" exists-action="override"><value>@(context.Response.StatusCode.ToString())</value></set-header>
        <set-body>@("failed: " + context.LastError.Reason)</set-body>]],
    } }))
    local resp, fw = h.run(h.req())
    assert.equal(0, #fw)
    local hd = resp.headers
    assert.equal("set-variable", h.header(hd, "ErrorSource"))
    assert.equal("ExpressionValueEvaluationFailure", h.header(hd, "ErrorReason"))
    assert.matches("^Expression evaluation failed%. ", h.header(hd, "ErrorMessage"))
    assert.equal("api", h.header(hd, "ErrorScope"))
    assert.equal("inbound", h.header(hd, "ErrorSection"))
    assert.equal("set-variable[1]", h.header(hd, "ErrorPath"))
    assert.equal("bad", h.header(hd, "ErrorPolicyId"))
    assert.equal("500", h.header(hd, "ErrorStatusCode"))
    assert.equal(500, resp.status)
    assert.equal("failed: ExpressionValueEvaluationFailure", resp.body)
  end)

  it("sends no body after a read without preserveContent (APIM)", function()
    local _, fw = h.run_api(h.doc { inbound = '<set-variable name="b" value="@(context.Request.Body.As<string>())"/>' },
      { method = "POST", body = "payload", headers = { { "Host", "gw" }, { "Content-Length", "7" } } })
    assert.equal("", fw[1].body)
    assert.is_nil(h.header(fw[1].headers, "Content-Length"))
    _, fw = h.run_api(h.doc { inbound = '<set-variable name="b" value="@(context.Request.Body.As<string>(preserveContent: true))"/>' },
      { method = "POST", body = "payload" })
    assert.equal("payload", fw[1].body)
  end)
end)
