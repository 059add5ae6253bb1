-- busted spec of policies/send-request.lua (and the "send" yield, ENGINE.md)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local function answer(status, headers, body, reason)
  return function(calls)
    local out = {}
    for i = 1, #calls do
      out[i] = { status = status, reason = reason or "OK", headers = headers or {}, body = body or "" }
    end
    return out
  end
end

describe("send-request", function()
  it("yields one call built by its children and stores the answer as an IResponse", function()
    local _, fw, log = h.run_api(h.doc { inbound = [[
      <send-request mode="new" response-variable-name="tokenstate" timeout="20" ignore-error="true">
        <set-url>https://auth.example/introspection</set-url>
        <set-method>POST</set-method>
        <set-header name="Content-Type" exists-action="override">
          <value>application/x-www-form-urlencoded</value>
        </set-header>
        <set-body>@($"token={context.Request.Headers.GetValueOrDefault("X-Token", "")}")</set-body>
      </send-request>
      <set-header name="X-Status"><value>@(((IResponse)context.Variables["tokenstate"]).StatusCode.ToString())</value></set-header>
      <set-header name="X-Reason"><value>@(((IResponse)context.Variables["tokenstate"]).StatusReason)</value></set-header>
      <set-header name="X-Active"><value>@(((bool)((IResponse)context.Variables["tokenstate"]).Body.As<JObject>()["active"]).ToString())</value></set-header>
      <set-header name="X-Kid"><value>@(context.Variables.GetValueOrDefault<IResponse>("tokenstate").Headers.GetValueOrDefault("X-Kid", "none"))</value></set-header>
    ]] }, { headers = { { "Host", "gw" }, { "X-Token", "t1" }, { "Content-Length", "0" } } }, nil, nil,
      { send = answer(201, { { "X-Kid", "k7" } }, '{"active":true}', "Created") })
    assert.same({ "send", "forward" }, log.yields)
    local send = log.sends[1]
    assert.is_false(send.opts.any)
    assert.equal(1, #send.calls)
    local call = send.calls[1]
    assert.equal("POST", call.method)
    assert.equal("https://auth.example/introspection", call.url)
    assert.equal(20000, call.timeout)
    assert.equal("token=t1", call.body)
    assert.same({ { "Content-Type", "application/x-www-form-urlencoded" } }, call.headers)
    assert.is_nil(call.one_way)
    local hd = fw[1].headers
    assert.equal("201", h.header(hd, "X-Status"))
    assert.equal("Created", h.header(hd, "X-Reason"))
    assert.equal("True", h.header(hd, "X-Active"))
    assert.equal("k7", h.header(hd, "X-Kid"))
  end)

  it("reads the body as a string, and once unless preserveContent", function()
    local resp = h.run_api(h.doc {
      inbound = [[
        <send-request response-variable-name="r"><set-url>http://svc.example/a</set-url></send-request>
        <set-variable name="first" value="@(((IResponse)context.Variables["r"]).Body.As<string>(preserveContent: true))"/>
        <set-variable name="second" value="@(((IResponse)context.Variables["r"]).Body.As<string>())"/>
      ]],
      outbound = [[<set-body>@((string)context.Variables["first"] + "|" + (string)context.Variables["second"])</set-body>]],
    }, nil, nil, nil, { send = answer(200, {}, "hello") })
    assert.equal("hello|hello", resp.body)
    resp = h.run_api(h.doc { inbound = [[
      <send-request response-variable-name="r"><set-url>http://svc.example/a</set-url></send-request>
      <set-variable name="a" value="@(((IResponse)context.Variables["r"]).Body.As<string>())"/>
      <set-variable name="b" value="@(((IResponse)context.Variables["r"]).Body.As<string>())"/>
    ]] }, nil, nil, nil, { send = answer(200, {}, "hello") })
    assert.equal(500, resp.status)
    assert.matches("already read", resp.error.message)
  end)

  it("copies the request as it stands in mode copy (method, URL, headers, body)", function()
    h.load(h.spec({ api = h.doc { inbound = [[
      <set-header name="X-A" exists-action="override"><value>1</value></set-header>
      <send-request mode="copy" response-variable-name="r">
        <set-header name="X-B" exists-action="override"><value>2</value></set-header>
      </send-request>
    ]] } }))
    assert.is_true(h.engine.flags("echo", "get-order").request_body)
    local _, _, log = h.run(h.req({ method = "POST", body = "payload",
      headers = { { "Host", "gw" }, { "Content-Length", "7" }, { "Accept", "*/*" } } }))
    local call = log.sends[1].calls[1]
    assert.equal("POST", call.method)
    assert.equal("http://127.0.0.1:9001/v1/orders/42?x=1", call.url)
    assert.equal("payload", call.body)
    assert.same({ { "Accept", "*/*" }, { "X-A", "1" }, { "X-B", "2" } }, call.headers)
    assert.equal(60000, call.timeout) -- APIM's default
  end)

  it("does not copy the request body in outbound", function()
    h.load(h.spec({ api = h.doc { outbound = [[
      <send-request mode="copy" response-variable-name="r"><set-url>http://svc.example/log</set-url></send-request>
    ]] } }))
    assert.is_false(h.engine.flags("echo", "get-order").request_body)
    local _, _, log = h.run(h.req({ method = "POST" }))
    assert.is_nil(log.sends[1].calls[1].body)
    assert.equal("http://svc.example/log", log.sends[1].calls[1].url)
  end)

  it("leaves framing to C: copied framing headers go, set-header cannot add them", function()
    local _, _, log = h.run_api(h.doc { inbound = [[
      <send-request mode="copy" response-variable-name="r">
        <set-header name="Transfer-Encoding" exists-action="override"><value>chunked</value></set-header>
        <set-body>new</set-body>
      </send-request>
    ]] }, { method = "POST", body = "old", headers = { { "Content-Length", "3" } } })
    local call = log.sends[1].calls[1]
    assert.equal("new", call.body)
    assert.is_nil(h.header(call.headers, "Content-Length"))
    assert.is_nil(h.header(call.headers, "Transfer-Encoding"))
  end)

  it("turns a failed call into an error, or a null variable with ignore-error", function()
    local failed = function() return { { error = { Reason = "Timeout", Message = "no answer in 5 s" } } } end
    local resp = h.run_api(h.doc { inbound = [[
      <send-request response-variable-name="r" timeout="5"><set-url>http://svc.example/a</set-url></send-request>
    ]] }, nil, nil, nil, { send = failed })
    assert.equal(500, resp.status)
    assert.equal("Timeout", resp.error.reason)
    assert.equal("send-request", resp.error.source)
    assert.matches("GET http://svc.example/a: no answer in 5 s", resp.error.message, 1, true)
    local _, fw = h.run_api(h.doc { inbound = [[
      <send-request response-variable-name="r" ignore-error="true"><set-url>http://svc.example/a</set-url></send-request>
      <set-header name="X-Null"><value>@(context.Variables["r"] == null ? "null" : "set")</value></set-header>
      <set-header name="X-Has"><value>@(context.Variables.ContainsKey("r").ToString())</value></set-header>
    ]] }, nil, nil, nil, { send = failed })
    assert.equal("null", h.header(fw[1].headers, "X-Null"))
    assert.equal("True", h.header(fw[1].headers, "X-Has"))
  end)

  it("evaluates url, method, timeout and variable name expressions per request", function()
    local _, fw, log = h.run_api(h.doc { inbound = [[
      <send-request response-variable-name="@("r-" + context.Request.MatchedParameters["id"])" timeout="@(1 + 1)">
        <set-url>@("http://svc.example/orders/" + context.Request.MatchedParameters["id"])</set-url>
        <set-method>@("de" + "lete")</set-method>
      </send-request>
      <set-header name="X-S"><value>@(((IResponse)context.Variables["r-42"]).StatusCode.ToString())</value></set-header>
    ]] }, nil, nil, nil, { send = answer(204) })
    local call = log.sends[1].calls[1]
    assert.equal("http://svc.example/orders/42", call.url)
    assert.equal("DELETE", call.method)
    assert.equal(2000, call.timeout)
    assert.equal("204", h.header(fw[1].headers, "X-S"))
  end)

  it("fails at run time on a computed URL that is not http(s)", function()
    local resp = h.run_api(h.doc { inbound = [[
      <send-request response-variable-name="r"><set-url>@("ftp://x/" + 1)</set-url></send-request>
    ]] })
    assert.equal(500, resp.status)
    assert.matches("^api.xml:2:57: <set%-url> evaluated to 'ftp://x/1'", resp.error.message)
  end)

  it("checks its attributes and children at load time, with file:line:col", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-request mode="old" response-variable-name="r"><set-url>http://x</set-url></send-request>' } }))
    assert.matches("^api.xml:2:24: <send%-request mode>: 'old' is not one of copy, new", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-request><set-url>http://x</set-url></send-request>' } }))
    assert.matches("^api.xml:2:10: <send%-request>: attribute 'response%-variable%-name' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-request mode="new" response-variable-name="r"><set-method>GET</set-method></send-request>' } }))
    assert.matches("^api.xml:2:10: <send%-request mode=\"new\">: <set%-url> is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-request response-variable-name="r">\n<set-url>/relative</set-url></send-request>' } }))
    assert.matches("^api.xml:3:1: <set%-url>: '/relative' is not an http or https URL", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-request response-variable-name="r" timeout="soon"><set-url>http://x</set-url></send-request>' } }))
    assert.matches("^api.xml:2:51: <send%-request timeout>: 'soon' is not an integer", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-request response-variable-name="r" ignore-error="@(true)"><set-url>http://x</set-url></send-request>' } }))
    assert.matches("policy expressions are not allowed here", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-request response-variable-name="r"><set-url>http://x</set-url><rewrite-uri template="/"/></send-request>' } }))
    assert.matches("<rewrite%-uri> is not allowed in <send%-request> %(expected set%-url, set%-method, set%-header, set%-body%)", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-request response-variable-name="r"><set-url>http://x</set-url><authentication-managed-identity resource="r"/></send-request>' } }))
    assert.matches("policy authentication%-managed%-identity is not supported inside <send%-request>", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound =
      '<send-request response-variable-name="r"><set-url>http://x</set-url><set-method>GE T</set-method></send-request>' } }))
    assert.matches("<set%-method>: 'GE T' is not an HTTP method", errs[1])
  end)
end)
