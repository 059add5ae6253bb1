-- busted spec of policies/wait.lua (children in coroutines, one batched "send" yield)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()

local function send(var, url)
  return '<send-request mode="new" response-variable-name="' .. var .. '"><set-url>' .. url
    .. '</set-url></send-request>'
end

local STATUS = [[<set-header name="X-%s" exists-action="override"><value>@(context.Variables.ContainsKey("%s") ? ((IResponse)context.Variables["%s"]).Body.As<string>() : "-")</value></set-header>]]
local function show(var) return STATUS:format(var, var, var) end

-- answers each call with its URL as body, or Canceled for URLs in `cancel`
local function by_url(cancel)
  return function(calls)
    local out = {}
    for i, c in ipairs(calls) do
      if cancel and cancel[c.url] then
        out[i] = { error = { Reason = "Canceled", Message = "another call finished first" } }
      else
        out[i] = { status = 200, headers = {}, body = c.url }
      end
    end
    return out
  end
end

describe("wait", function()
  before_each(host.reset)

  it("for=all gathers the children's calls into one send yield", function()
    local _, fw, log = h.run_api(h.doc { inbound = [[<wait for="all">]]
      .. send("a", "http://a.example/") .. send("b", "http://b.example/") .. [[</wait>]]
      .. show("a") .. show("b") }, nil, nil, nil, { send = by_url() })
    assert.same({ "send", "forward" }, log.yields)
    local s = log.sends[1]
    assert.is_false(s.opts.any)
    assert.equal(2, #s.calls)
    assert.equal("http://a.example/", s.calls[1].url)
    assert.equal("http://b.example/", s.calls[2].url)
    assert.equal("http://a.example/", h.header(fw[1].headers, "X-a"))
    assert.equal("http://b.example/", h.header(fw[1].headers, "X-b"))
  end)

  it("for=any ends with the first child done; children whose calls C canceled stop", function()
    local _, fw, log = h.run_api(h.doc { inbound = [[<wait for="any">]]
      .. send("a", "http://a.example/") .. send("b", "http://b.example/") .. [[</wait>]]
      .. show("a") .. show("b") }, nil, nil, nil,
      { send = by_url({ ["http://a.example/"] = true }) })
    assert.equal(1, #log.sends)
    assert.is_true(log.sends[1].opts.any)
    assert.equal("-", h.header(fw[1].headers, "X-a"))
    assert.equal("http://b.example/", h.header(fw[1].headers, "X-b"))
  end)

  it("runs children that do not send to their end (cache hit, APIM's example)", function()
    host.cache_set("v:key-one", "scached one", 60000)
    local doc = h.doc { inbound = [[
      <set-variable name="execute-branch-one" value="@(true)"/>
      <set-variable name="execute-branch-two" value="@(true)"/>
      <wait for="all">
        <choose>
          <when condition="@((bool)context.Variables["execute-branch-one"])">
            <cache-lookup-value key="key-one" variable-name="value-one"/>
            <choose>
              <when condition="@(!context.Variables.ContainsKey("value-one"))">
                <send-request mode="new" response-variable-name="value-one"><set-url>https://backend-one</set-url></send-request>
              </when>
            </choose>
          </when>
        </choose>
        <choose>
          <when condition="@((bool)context.Variables["execute-branch-two"])">
            <cache-lookup-value key="key-two" variable-name="value-two"/>
            <choose>
              <when condition="@(!context.Variables.ContainsKey("value-two"))">
                <send-request mode="new" response-variable-name="value-two"><set-url>https://backend-two</set-url></send-request>
              </when>
            </choose>
          </when>
        </choose>
      </wait>
      <set-header name="X-One"><value>@((string)context.Variables["value-one"])</value></set-header>
      <set-header name="X-Two"><value>@(((IResponse)context.Variables["value-two"]).Body.As<string>())</value></set-header>
    ]] }
    local _, fw, log = h.run_api(doc, nil, nil, nil, { send = by_url() })
    assert.equal(1, #log.sends)
    assert.equal(1, #log.sends[1].calls)
    assert.equal("https://backend-two", log.sends[1].calls[1].url)
    assert.equal("cached one", h.header(fw[1].headers, "X-One"))
    assert.equal("https://backend-two", h.header(fw[1].headers, "X-Two"))
    -- for=any: the child that finished without sending ends the wait, nothing is sent
    local any = doc:gsub('<wait for="all">', '<wait for="any">'):gsub("<set%-header name=\"X%-Two\".-</set%-header>", "")
    _, fw, log = h.run_api(any, nil, nil, nil, { send = by_url() })
    assert.equal(0, #log.sends)
    assert.equal("cached one", h.header(fw[1].headers, "X-One"))
  end)

  it("batches again when a child sends a second time", function()
    local _, fw, log = h.run_api(h.doc { inbound = [[<wait>]]
      .. [[<choose><when condition="true">]] .. send("a1", "http://a.example/1") .. send("a2", "http://a.example/2")
      .. [[</when></choose>]] .. send("b", "http://b.example/") .. [[</wait>]]
      .. show("a1") .. show("a2") .. show("b") }, nil, nil, nil, { send = by_url() })
    assert.equal(2, #log.sends)
    assert.equal(2, #log.sends[1].calls)
    assert.equal("http://a.example/1", log.sends[1].calls[1].url)
    assert.equal("http://b.example/", log.sends[1].calls[2].url)
    assert.equal(1, #log.sends[2].calls)
    assert.equal("http://a.example/2", log.sends[2].calls[1].url)
    assert.equal("http://a.example/2", h.header(fw[1].headers, "X-a2"))
  end)

  it("passes a yield that cannot join the batch (a retry's sleep) to C alone", function()
    local _, _, log = h.run_api(h.doc { inbound = [[<wait for="all">]] .. send("a", "http://a.example/")
      .. [[<choose><when condition="true"><retry condition="@(((IResponse)context.Variables["b"]).StatusCode == 503)" count="1" interval="2">]]
      .. send("b", "http://b.example/") .. [[</retry></when></choose></wait>]] }, nil, nil, nil,
      { send = function(calls, _, n)
        local out = by_url()(calls)
        if n == 1 then out[2].status = 503 end
        return out
      end })
    assert.same({ "send", "sleep", "send", "forward" }, log.yields)
    assert.same({ 2000 }, log.sleeps)
    assert.equal(2, #log.sends[1].calls)
    assert.equal("http://b.example/", log.sends[2].calls[1].url)
  end)

  it("sends a nested wait of the other kind, and one-way calls, on their own", function()
    local _, fw, log = h.run_api(h.doc { inbound = [[<wait for="all">]]
      .. [[<choose><when condition="true"><wait for="any">]] .. send("x", "http://x.example/")
      .. send("y", "http://y.example/") .. [[</wait></when></choose>]]
      .. [[<choose><when condition="true"><send-one-way-request><set-url>http://log.example/</set-url></send-one-way-request></when></choose>]]
      .. send("b", "http://b.example/") .. [[</wait>]] .. show("x") .. show("y") .. show("b") },
      nil, nil, nil, { send = function(calls, opts)
        if opts.any then return by_url({ ["http://y.example/"] = true })(calls) end
        return by_url()(calls)
      end })
    assert.same({ "send", "send", "send", "forward" }, log.yields)
    assert.is_true(log.sends[1].opts.any)
    assert.equal(2, #log.sends[1].calls)
    assert.is_true(log.sends[2].calls[1].one_way)
    assert.is_false(log.sends[3].opts.any)
    assert.equal("http://b.example/", log.sends[3].calls[1].url)
    assert.equal("http://x.example/", h.header(fw[1].headers, "X-x"))
    assert.equal("-", h.header(fw[1].headers, "X-y"))
    assert.equal("http://b.example/", h.header(fw[1].headers, "X-b"))
  end)

  it("raises a child's error with that child as LastError's policy", function()
    local resp = h.run_api(h.doc {
      inbound = [[<wait>]] .. send("a", "http://a.example/") .. send("b", "http://b.example/") .. [[</wait>]],
      ["on-error"] = [[<set-header name="X-Path" exists-action="override"><value>@(context.LastError.Path + " " + context.LastError.Reason)</value></set-header>]],
    }, nil, nil, nil, { send = function()
      return { { status = 200, headers = {}, body = "" }, { error = { Reason = "Timeout", Message = "slow" } } }
    end })
    assert.equal(500, resp.status)
    assert.equal("wait[1]/send-request[2] Timeout", h.header(resp.headers, "X-Path"))
  end)

  it("stops when a child returns a response", function()
    local resp, fw, log = h.run_api(h.doc { inbound = [[<wait>]] .. send("a", "http://a.example/")
      .. [[<choose><when condition="true"><return-response><set-status code="202"/></return-response></when></choose></wait>]] })
    assert.equal(202, resp.status)
    assert.equal(0, #fw)
    assert.equal(0, #log.sends)
  end)

  it("checks its attributes and children at load time, with file:line:col", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<wait for="some">' .. send("a", "http://a/") .. '</wait>' } }))
    assert.matches("^api.xml:2:16: <wait for>: 'some' is not one of all, any", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<wait><set-header name="a"><value>1</value></set-header></wait>' } }))
    assert.matches("^api.xml:2:16: <set%-header> is not allowed in <wait> %(expected send%-request, cache%-lookup%-value, choose%)", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { ["on-error"] = '<wait>' .. send("a", "http://a/") .. '</wait>' } }))
    assert.matches("<wait> is not allowed in <on%-error> %(allowed in inbound, backend, outbound%)", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<wait/>' } }))
    assert.matches("<wait> needs at least one child", errs[1])
  end)
end)
