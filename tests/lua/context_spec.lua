-- busted spec of lua/portico/context.lua: headers, query, URLs, bodies and the
-- APIM object model (the members C# expressions read).

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local context = require "portico.context"

local function new_ctx(t)
  h.load(h.spec({}))
  local info = {
    api = context.api("echo", { name = "Echo", path = "echo", service_url = "http://127.0.0.1:9001/v1" }),
    operation = context.operation("get-order", { method = "GET", url_template = "/orders/{id}", name = "Get order" }),
    product = context.product("starter", { name = "Starter" }),
    deployment = context.deployment({ id = "edge-1", region = "edge" }),
    backends = { orders = { url = "https://orders.internal:8443/api" } },
  }
  return context.new(h.req(t), info)
end

describe("headers", function()
  it("compare names without case, keep order and duplicates", function()
    local hd = context.headers({ { "Accept", "a" }, { "X-A", "1" }, { "x-a", "2" } })
    assert.equal("1,2", hd:get("X-A"))
    assert.same({ "1", "2" }, hd:values("X-a"))
    assert.is_true(hd:has("ACCEPT"))
    assert.is_nil(hd:get("nope"))
    hd:remove("X-A")
    assert.same({ { "Accept", "a" } }, hd.list)
  end)

  it("join several values with commas, except headers that keep lines", function()
    local hd = context.headers({})
    hd:set("X-List", { "a", "b" })
    hd:add("X-List", "c")
    assert.same({ { "X-List", "a,b,c" } }, hd.list)
    hd:set("Set-Cookie", { "a=1", "b=2" })
    assert.same({ "a=1", "b=2" }, hd:values("set-cookie"))
  end)
end)

describe("query", function()
  it("parses, decodes, and forwards untouched parameters byte for byte", function()
    local q = context.query("a=1&b=x%20y&a=2&flag&c=%2Fp+q")
    assert.equal("1,2", q:get("a"))
    assert.equal("x y", q:get("b"))
    assert.equal("", q:get("flag"))
    assert.equal("/p q", q:get("c"))
    assert.equal("a=1&b=x%20y&a=2&flag&c=%2Fp+q", q:encode())
    q:set("b", "new value")
    assert.equal("a=1&a=2&flag&c=%2Fp+q&b=new%20value", q:encode())
  end)
end)

describe("URLs", function()
  it("joins base and relative paths with one slash", function()
    assert.equal("/v1/a", context.join_path("/v1", "/a"))
    assert.equal("/v1/a", context.join_path("/v1/", "/a"))
    assert.equal("/v1/a", context.join_path("/v1", "a"))
    assert.equal("/a", context.join_path("", "/a"))
    assert.equal("/v1", context.join_path("/v1", ""))
    assert.equal("/", context.join_path("", ""))
  end)

  it("parses base URLs once", function()
    local u = context.parse_url("HTTPS://Example.com/base")
    assert.same({ scheme = "https", host = "Example.com", port = 443, path = "/base" }, u)
    assert.same({ scheme = "http", host = "[::1]", port = 81, path = "" }, context.parse_url("http://[::1]:81"))
    assert.is_nil(context.parse_url("not a url"))
  end)

  it("Request.Url is the backend URL, OriginalUrl what the client sent", function()
    local ctx = new_ctx()
    local u = ctx.Request.Url
    assert.equal("http", u.Scheme)
    assert.equal("127.0.0.1", u.Host)
    assert.equal(9001, u.Port)
    assert.equal("/v1/orders/42", u.Path)
    assert.equal("?x=1", u.QueryString)
    assert.equal("http://127.0.0.1:9001/v1/orders/42?x=1", u:ToString())
    local o = ctx.Request.OriginalUrl
    assert.equal("gw", o.Host)
    assert.equal(8080, o.Port)
    assert.equal("/echo/orders/42", o.Path)
    assert.equal("http://gw:8080/echo/orders/42?x=1", tostring(o))
    ctx.request:set_backend_id("orders", 1)
    ctx.request:set_path("/x")
    assert.equal("https://orders.internal:8443/api/x?x=1", u:ToString())
  end)
end)

describe("bodies", function()
  it("are consumed by a read without preserveContent", function()
    local ctx = new_ctx({ method = "POST", body = "hello" })
    local b = ctx.Request.Body
    assert.equal("hello", b:read(true))
    assert.equal("hello", b["As<string>"](b, true))
    assert.equal("hello", b["As<string>"](b))
    local ok, err = pcall(b.read, b)
    assert.is_false(ok)
    assert.matches("already read", err.message)
  end)

  it("are absent when empty or not sent", function()
    assert.is_nil(new_ctx({ body = "" }).Request.Body)
    assert.is_false(new_ctx({ body = "" }).Request.HasBody)
  end)

  it("refuse to read a body C did not buffer", function()
    local ctx = new_ctx()
    local ok, err = pcall(ctx.request.body.read, ctx.request.body)
    assert.is_false(ok)
    assert.matches("not buffered", err.message)
  end)
end)

describe("the context object", function()
  it("exposes APIM's members", function()
    local ctx = new_ctx({ subscription = { id = "alice", key = "k1", name = "Alice" } })
    assert.equal("0-17", ctx.RequestId)
    assert.equal("GET", ctx.Request.Method)
    assert.equal("127.0.0.1", ctx.Request.IpAddress)
    assert.equal("echo", ctx.Api.Id)
    assert.equal("Echo", ctx.Api.Name)
    assert.equal("/v1", ctx.Api.ServiceUrl.Path)
    assert.equal("get-order", ctx.Operation.Id)
    assert.equal("/orders/{id}", ctx.Operation.UrlTemplate)
    assert.equal("Starter", ctx.Product.Name)
    assert.equal("alice", ctx.Subscription.Id)
    assert.equal("k1", ctx.Subscription.Key)
    assert.equal("edge-1", ctx.Deployment.ServiceName)
    assert.equal("edge", ctx.Deployment.Region)
    assert.equal("edge-1", ctx.Deployment.Gateway.Id)
    assert.equal(200, ctx.Response.StatusCode)
    assert.is_nil(ctx.LastError)
    assert.is_nil(ctx.User)
    assert.is_nil(new_ctx().Subscription)
  end)

  it("reads the same through C# expressions", function()
    local resp, fw = h.run_api(h.doc {
      inbound = [[
        <set-header name="X-Accept"><value>@(context.Request.Headers["Accept"][0])</value></set-header>
        <set-header name="X-Count"><value>@(context.Request.Headers.Count.ToString())</value></set-header>
        <set-header name="X-Each"><value>@{ var s = ""; foreach (var hd in context.Request.Headers) { s += hd.Key + "=" + string.Join(",", hd.Value) + ";"; } return s; }</value></set-header>
        <set-header name="X-Ip"><value>@(context.Request.IpAddress)</value></set-header>
        <set-header name="X-Sub"><value>@(context.Subscription?.Name ?? "anonymous")</value></set-header>
        <set-header name="X-Product"><value>@(context.Product == null ? "none" : context.Product.Name)</value></set-header>
        <set-header name="X-Gw"><value>@(context.Deployment.Gateway.Id)</value></set-header>
        <set-header name="X-Svc"><value>@(context.Api.ServiceUrl.Host + ":" + context.Api.ServiceUrl.Port)</value></set-header>
        <set-header name="X-Tmpl"><value>@(context.Operation.UrlTemplate)</value></set-header>
        <set-header name="X-Id"><value>@(context.RequestId)</value></set-header>
        <set-header name="X-Elapsed"><value>@((context.Elapsed.TotalSeconds >= 0).ToString())</value></set-header>]],
      outbound = '<set-header name="X-Status"><value>@(context.Response.StatusCode + " " + context.Response.StatusReason)</value></set-header>'
        .. '<set-header name="X-CT"><value>@(context.Response.Headers.GetValueOrDefault("content-type", "?"))</value></set-header>',
    }, { headers = { { "Host", "gw" }, { "Accept", "a/b" }, { "X-L", "1" }, { "x-l", "2" } } })
    local hd = fw[1].headers
    assert.equal("a/b", h.header(hd, "X-Accept"))
    -- each set-header sees the ones before it
    assert.equal("4", h.header(hd, "X-Count"))
    assert.equal("Host=gw;Accept=a/b;X-L=1,2;X-Accept=a/b;X-Count=4;", h.header(hd, "X-Each"))
    assert.equal("127.0.0.1", h.header(hd, "X-Ip"))
    assert.equal("anonymous", h.header(hd, "X-Sub"))
    assert.equal("none", h.header(hd, "X-Product"))
    assert.equal("edge-1", h.header(hd, "X-Gw"))
    assert.equal("127.0.0.1:9001", h.header(hd, "X-Svc"))
    assert.equal("/orders/{id}", h.header(hd, "X-Tmpl"))
    assert.equal("0-17", h.header(hd, "X-Id"))
    assert.equal("True", h.header(hd, "X-Elapsed"))
    assert.equal("200 OK", h.header(resp.headers, "X-Status"))
    assert.equal("text/plain", h.header(resp.headers, "X-CT"))
  end)
end)
