-- busted spec of policies/check-header.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local cjson = require "cjson"

local function check(attrs, values)
  return h.doc { inbound = '<check-header ' .. attrs .. '>' .. (values or "") .. '</check-header>',
    ["on-error"] = '<set-header name="X-Why" exists-action="override"><value>@(context.LastError.Reason + ": " + context.LastError.Message)</value></set-header>' }
end

local STD = 'name="X-Key" failed-check-httpcode="401" failed-check-error-message="Missing or invalid key"'

describe("check-header", function()
  it("lets a request with an allowed value through", function()
    local resp, fw = h.run_api(check(STD .. ' ignore-case="false"', "<value>a1</value><value>b2</value>"),
      { headers = { { "X-Key", "b2" } } })
    assert.equal(200, resp.status)
    assert.equal(1, #fw)
  end)

  it("fails a request without the header with the given status and message", function()
    local resp, fw = h.run_api(check(STD, "<value>a1</value>"))
    assert.equal(0, #fw)
    assert.equal(401, resp.status)
    assert.same({ statusCode = 401, message = "Missing or invalid key" }, cjson.decode(resp.body))
    assert.equal("HeaderNotFound: Header X-Key was not found in the request. Access denied.",
      h.header(resp.headers, "X-Why"))
  end)

  it("fails a value not in the list; ignore-case compares without case", function()
    local resp = h.run_api(check(STD, "<value>a1</value>"), { headers = { { "x-key", "A1" } } })
    assert.equal(401, resp.status)
    assert.equal("HeaderValueNotAllowed: Header X-Key value of A1 isn't allowed. Access denied.",
      h.header(resp.headers, "X-Why"))
    resp = h.run_api(check(STD .. ' ignore-case="true"', "<value>a1</value>"), { headers = { { "x-key", "A1" } } })
    assert.equal(200, resp.status)
  end)

  it("wants every line of a repeated header to be allowed", function()
    local doc = check(STD, "<value>a1</value><value>b2</value>")
    assert.equal(200, h.run_api(doc, { headers = { { "X-Key", "a1" }, { "X-Key", "b2" } } }).status)
    assert.equal(401, h.run_api(doc, { headers = { { "X-Key", "a1" }, { "X-Key", "zz" } } }).status)
  end)

  it("only checks presence without <value>, and takes expressions and named values", function()
    assert.equal(200, h.run_api(check(STD), { headers = { { "X-Key", "anything" } } }).status)
    local doc = check('name="@(&quot;X-&quot; + &quot;Tenant&quot;)" failed-check-httpcode="@(403)" '
      .. 'failed-check-error-message="@(&quot;no &quot; + context.Request.Method)" ignore-case="@(true)"',
      "<value>{{tenant}}</value><value>@(context.Api.Name)</value>")
    local extra = { named_values = { tenant = { value = "contoso" } } }
    assert.equal(200, h.run_api(doc, { headers = { { "X-Tenant", "CONTOSO" } } }, nil, extra).status)
    assert.equal(200, h.run_api(doc, { headers = { { "X-Tenant", "echo" } } }, nil, extra).status)
    local resp = h.run_api(doc, { headers = { { "X-Tenant", "other" } } }, nil, extra)
    assert.equal(403, resp.status)
    assert.equal("no GET", cjson.decode(resp.body).message)
  end)

  it("checks its attributes at load", function()
    local errs = h.load_errors(h.spec({ api = '<policies><inbound>\n<check-header name="X" failed-check-httpcode="99" ignore-case="maybe"><val/></check-header>\n</inbound></policies>' }))
    assert.same({
      "api.xml:2:1: <check-header>: attribute 'failed-check-error-message' is required",
      "api.xml:2:24: <check-header failed-check-httpcode>: 99 is not an HTTP status",
      "api.xml:2:51: <check-header ignore-case>: 'maybe' is not true or false",
      "api.xml:2:71: <val> is not allowed in <check-header> (expected value)",
    }, errs)
  end)
end)
