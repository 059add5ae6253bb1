-- busted spec of lua/portico/plan.lua: which pipelines get a native plan, and
-- that the plan does what the Lua path does. Each document runs through
-- engine.run (the Lua path: what it forwards) and through plan.execute (the
-- Lua model of src/plan.c's executor) for the same requests; the forwarded
-- method, path, query, headers and backend must be the same. C's executor is
-- compared with the Lua path end to end in tests/integration/30-native-plan_spec.lua.

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local plan = require "portico.plan"
local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()

local function plan_of(docs, extra, op, product)
  h.load(h.spec(docs, extra))
  return h.engine.plan("echo", op == nil and "get-order" or op or nil, product)
end

-- What the Lua path forwards, in the shape plan.execute returns.
local function lua_forward(req)
  local _, fw = h.run(req)
  assert.are.equal(1, #fw, "one forward")
  local f = fw[1]
  return { method = f.method, path = f.path, query = f.query, headers = f.headers,
    backend_id = f.backend_id, base_url = f.base_url }
end

-- Runs `docs` both ways for each request (tables for h.req) and compares.
local function same_both_ways(docs, reqs, op)
  local p = assert(plan_of(docs, nil, op), "expected a native plan")
  for i, t in ipairs(reqs) do
    if op then t.operation_id = op end
    local want = lua_forward(h.req(t))
    local got = plan.execute(p, h.req(t))
    assert.are.same(want, got, "request " .. i)
  end
  return p
end

local function hs(...)
  local out = { { "Host", "gw" } }
  for _, kv in ipairs({ ... }) do out[#out + 1] = kv end
  return out
end

local BENCH = io.open("bench/conf/portico-policy.xml"):read("a")
  :gsub("bench%-backend", "orders"):gsub("/v2/items/{id}", "/v2/orders/{id}")

describe("native plan", function()
  describe("is built", function()
    it("for the bench document, as flat ops with the choose lowered to jumps", function()
      local p = plan_of({ api = BENCH })
      assert.is_table(p)
      local kinds = {}
      for i, o in ipairs(p.ops) do kinds[i] = o.op end
      assert.are.same({ "header_set", "rewrite", "query_set", "jump_unless", "header_set", "jump",
        "header_set", "backend_id" }, kinds)
      assert.are.same({ { c = "header_eq", name = "X-Tier", value = "gold", default = "" } }, p.ops[4].cond)
      assert.are.same({}, p.consumed)
    end)

    it("for every scope composed with <base/>, an explicit plain forward-request, literal conditions", function()
      local p = plan_of({
        global = h.doc { inbound = '<set-header name="G" exists-action="override"><value>1</value></set-header>' },
        api = h.doc { inbound = '<base/><choose><when condition="true"><set-method>put</set-method></when></choose>',
          backend = "<forward-request/>" },
        operation = h.doc { inbound = '<base/><set-backend-service base-url="http://x.test/b"/>' },
      })
      assert.is_table(p)
      assert.are.same({ "header_set", "jump_unless", "method", "base_url" },
        { p.ops[1].op, p.ops[2].op, p.ops[3].op, p.ops[4].op })
      assert.are.equal("PUT", p.ops[3].name)
      assert.are.equal(4, p.ops[4].rank)
      -- the Lua path treats that forward-request as the default one too: C answers
      -- from the backend's response without resuming Lua, as the plan does
      local _, fw = h.run(h.req())
      assert.is_true(fw[1].last)
    end)

    it("with the query names the operation's URL template consumes", function()
      local p = plan_of({ api = h.doc { inbound = '<rewrite-uri template="/s"/>' } }, nil, "search")
      assert.are.same({ "status" }, p.consumed)
    end)
  end)

  describe("is not built (the Lua path runs)", function()
    local function none(docs, extra, why)
      local p, reason = plan_of(docs, extra)
      assert.is_nil(p)
      if why then assert.matches(why, reason) end
    end

    it("for expressions in values, names or actions", function()
      none({ api = h.doc { inbound = '<set-header name="A"><value>@(context.RequestId)</value></set-header>' } })
      none({ api = h.doc { inbound = '<set-header name="@("A")"><value>1</value></set-header>' } })
      none({ api = h.doc { inbound = '<set-query-parameter name="a" exists-action="@("skip")"><value>1</value></set-query-parameter>' } })
      none({ api = h.doc { inbound = '<rewrite-uri template="@("/x")"/>' } })
      none({ api = h.doc { inbound = '<set-backend-service backend-id="@("orders")"/>' } })
      none({ api = h.doc { inbound = '<set-method>@("PUT")</set-method>' } })
    end)

    it("for conditions outside the native set", function()
      for _, cond in ipairs({
        'context.Request.Headers.GetValueOrDefault("X", "").Contains("a")',
        'context.Request.Headers["X"] == "a"',
        'context.Request.Headers.GetValueOrDefault("X", "") == context.Request.Method',
        'context.Request.Headers.GetValueOrDefault("X") == "a"',
        'context.Variables.ContainsKey("x")',
        'context.Request.Url.Path == "/a"',
        'context.Request.Method.ToLower() == "get"',
        '(bool)true',
      }) do
        none({ api = h.doc { inbound = '<choose><when condition="@(' .. cond .. ')"><set-header name="A"><value>1</value></set-header></when></choose>' } })
      end
    end)

    it("for elements without a native form, bodies, outbound, on-error, other backends", function()
      none({ api = h.doc { inbound = '<set-variable name="v" value="1"/>' } }, nil, "set%-variable")
      none({ api = h.doc { inbound = '<trace source="t">x</trace>' } })
      none({ api = h.doc { inbound = '<set-body>x</set-body>' } })
      none({ api = h.doc { outbound = '<set-header name="A"><value>1</value></set-header>' } }, nil, "outbound")
      none({ api = h.doc { ["on-error"] = '<set-header name="A"><value>1</value></set-header>' } }, nil, "on%-error")
      none({ api = h.doc { backend = '<forward-request timeout="5"/>' } }, nil, "forward")
      none({ api = h.doc { inbound = '<choose><when condition="true"><set-variable name="v" value="1"/></when></choose>' } })
    end)

    it("for a user module that replaces a built-in element", function()
      local dir = os.tmpname()
      os.remove(dir)
      os.execute("mkdir -p " .. dir)
      local f = io.open(dir .. "/set-header.lua", "w")
      f:write('return { compile = function(node, c) return function(ctx) end, { { op = "header_delete", name = "Host" } } end }')
      f:close()
      none({ api = h.doc { inbound = '<set-header name="A"><value>1</value></set-header>' } },
        { policy_paths = { dir } })
      os.remove(dir .. "/set-header.lua")
      os.remove(dir)
    end)

    it("for a Lua policy document", function()
      local spec = h.spec({})
      spec.documents.apis.echo = { file = "doc.lua", text = "return { inbound = function(context, base) base(context) end }" }
      h.load(spec)
      assert.is_nil(h.engine.plan("echo", "get-order", nil))
    end)

    it("when no scope has a policy", function()
      none({}, nil, "no policies")
    end)
  end)

  describe("forwards what the Lua path forwards", function()
    it("for the bench document", function()
      same_both_ways({ api = BENCH }, {
        { headers = hs({ "X-Tier", "gold" }), query = "color=red&source=client" },
        { headers = hs({ "x-tier", "silver" }, { "X-Bench", "0" }, { "x-bench", "2" }), query = "" },
        { headers = hs({ "X-Tier", "gold" }, { "X-Tier", "gold" }), query = "source=a&source=b&z" },
      })
    end)

    it("for set-header: override, skip, append, delete, several values, separate-line headers, managed names", function()
      same_both_ways({ api = h.doc { inbound = [[
        <set-header name="X-O" exists-action="override"><value>1</value></set-header>
        <set-header name="x-m" exists-action="override"><value>a</value><value>b</value></set-header>
        <set-header name="X-S" exists-action="skip"><value>s</value></set-header>
        <set-header name="X-A" exists-action="append"><value>p</value><value>q</value></set-header>
        <set-header name="Cookie" exists-action="append"><value>c=1</value><value>d=2</value></set-header>
        <set-header name="Set-Cookie" exists-action="override"><value>e=1</value><value>f=2</value></set-header>
        <set-header name="Warning" exists-action="skip"><value>w1</value><value>w2</value></set-header>
        <set-header name="Date" exists-action="append"><value>now</value></set-header>
        <set-header name="X-D" exists-action="delete" />
        <set-header name="X-E" exists-action="override" />
        <set-header name="X-F" exists-action="skip" />
        <set-header name="X-G" exists-action="append" />
        <set-header name="Content-Length" exists-action="override"><value>9</value></set-header>
        <set-header name="connection" exists-action="delete" />
      ]] } }, {
        {},
        { headers = hs({ "x-o", "0" }, { "X-M", "z" }, { "X-O", "00" }, { "x-s", "keep" }, { "X-A", "a1" },
          { "x-a", "a2" }, { "Cookie", "k=v" }, { "set-cookie", "old" }, { "X-D", "1" }, { "x-d", "2" },
          { "Warning", "w0" }, { "DATE", "d0" }, { "x-f", "f" }, { "X-G", "g" }, { "Connection", "close" }) },
      })
    end)

    it("for set-query-parameter: override, skip, append, delete, encoding, decoded names", function()
      same_both_ways({ api = h.doc { inbound = [[
        <set-query-parameter name="source" exists-action="override"><value>edge</value></set-query-parameter>
        <set-query-parameter name="a b" exists-action="append"><value>x&amp;y</value><value>é</value></set-query-parameter>
        <set-query-parameter name="keep" exists-action="skip"><value>k</value></set-query-parameter>
        <set-query-parameter name="drop" exists-action="delete" />
        <set-query-parameter name="empty" exists-action="override" />
      ]] } }, {
        { query = "" },
        { query = "x=1" },
        { query = "dr%6Fp=1&keep=0&&source=1&a+b=0&z=%zz&drop" },
        { query = "drop=1&drop=2&keep" },
      })
    end)

    it("for rewrite-uri: template parameters, template query, copy-unmatched-params, consumed names", function()
      local reqs = {
        { query = "" },
        { query = "x=1&status=open&id=7&from=q" },
        { query = "status=a&status=b", matched = { id = "4%2F2", status = "a" } },
      }
      same_both_ways({ api = h.doc { inbound = '<rewrite-uri template="v2/{id}/x"/>' } }, reqs)
      same_both_ways({ api = h.doc { inbound = '<rewrite-uri template="/v2/{id}?from={id}&amp;f%3D=1&amp;flag" copy-unmatched-params="true"/>' } }, reqs)
      same_both_ways({ api = h.doc { inbound = '<rewrite-uri template="/v2/{id}?from={id}" copy-unmatched-params="false"/>' } }, reqs)
      same_both_ways({ api = h.doc { inbound = '<rewrite-uri template="/s/{status}/{missing}"/>' } }, reqs, "search")
      -- a query changed before the rewrite is the one it copies from
      same_both_ways({ api = h.doc { inbound = [[
        <set-query-parameter name="x" exists-action="skip"><value>s</value></set-query-parameter>
        <set-query-parameter name="b" exists-action="append"><value>1</value></set-query-parameter>
        <rewrite-uri template="/r?a=1"/>
        <set-query-parameter name="c" exists-action="append"><value>2</value></set-query-parameter>
      ]] } }, reqs, "search")
    end)

    it("for choose, set-method and set-backend-service across scopes", function()
      local docs = {
        global = h.doc { inbound = '<set-backend-service backend-id="orders"/>' },
        api = h.doc { inbound = [[<base/>
          <choose>
            <when condition='@(context.Request.Headers.GetValueOrDefault("X-Tier", "none") != "gold" &amp;&amp; !context.Request.Headers.ContainsKey("x-trial"))'>
              <set-header name="X-Class" exists-action="override"><value>standard</value></set-header>
            </when>
            <when condition='@((context.Request.Method == "GET") || "POST" == context.Request.Method)'>
              <set-method>DELETE</set-method>
              <set-backend-service base-url="http://other.test/x"/>
            </when>
            <otherwise>
              <set-header name="X-Class" exists-action="override"><value>other</value></set-header>
              <set-backend-service backend-id="orders-dr"/>
            </otherwise>
          </choose>
          <choose>
            <when condition='@(context.Request.Method == "DELETE" || context.Request.Headers.GetValueOrDefault("X-Tier", null) == "a,b")'>
              <set-header name="X-Deleted" exists-action="override"><value>yes</value></set-header>
            </when>
          </choose>]] },
      }
      same_both_ways(docs, {
        { headers = hs() },
        { headers = hs({ "X-Tier", "gold" }) },
        { headers = hs({ "x-tier", "a" }, { "X-TIER", "b" }) },
        { headers = hs({ "X-Trial", "1" }), method = "PUT" },
        { headers = hs({ "X-Trial", "1" }), method = "POST" },
      })
    end)
  end)
  describe("answers and counts as the Lua path (check-header, rate-limit, rate-limit-by-key)", function()
    -- the Lua path's answer in plan.execute's shape: what it forwards, or its error answer
    local function lua_answer(req)
      local resp, fw = h.run(req)
      if #fw == 1 then
        local f = fw[1]
        return { method = f.method, path = f.path, query = f.query, headers = f.headers,
          backend_id = f.backend_id, base_url = f.base_url }
      end
      return { status = resp.status, headers = resp.headers, body = resp.body,
        error = { reason = resp.error.reason, message = resp.error.message } }
    end

    -- Runs the requests in order through the Lua path, then (counters reset)
    -- through the plan model; t.wait: ms the clock moves after request t.
    local function same_sequence(docs, reqs, op)
      local p = assert(plan_of(docs, nil, op), "expected a native plan")
      local function each(run)
        host.reset()
        local out = {}
        for i, t in ipairs(reqs) do
          local wait = t.wait
          t.wait = nil
          out[i] = run(h.req(t))
          t.wait = wait
          if wait then host.advance(wait) end
        end
        return out
      end
      local want = each(lua_answer)
      local got = each(function(req) return plan.execute(p, req) end)
      for i = 1, #reqs do assert.are.same(want[i], got[i], "request " .. i) end
      return p, want
    end

    local BENCH_RL = io.open("bench/conf/portico-ratelimit.xml"):read("a"):gsub("@CALLS@", "3")

    it("for the bench rate-limit document: missing key, wrong key, the limit reached, a new window", function()
      local key = { headers = hs({ "X-Api-Key", "bench-key" }) }
      local p, want = same_sequence({ api = BENCH_RL }, {
        {}, { headers = hs({ "X-Api-Key", "wrong" }) }, { headers = hs({ "x-api-key", "BENCH-KEY" }) },
        key, key, { headers = hs({ "X-Api-Key", "bench-key" }), wait = 30500 }, key,
        { headers = hs({ "X-Api-Key", "bench-key" }), wait = 29500 }, key,
        { headers = hs({ "X-Api-Key", "bench-key" }, { "X-Api-Key", "other" }) },
        { headers = hs({ "X-Api-Key", "bench-key" }, { "X-Api-Key", "bench-key" }) },
      })
      assert.are.same({ "check_header", "count" }, { p.ops[1].op, p.ops[2].op })
      assert.are.equal(401, want[1].status)
      assert.are.equal('{"statusCode": 401, "message": "Unauthorized"}', want[2].body)
      assert.are.equal(429, want[7].status)
      assert.are.same({ { "Content-Type", "application/json" }, { "Retry-After", "30" } }, want[7].headers)
      assert.is_nil(want[9].status)
      assert.are.equal("HeaderValueNotAllowed", want[10].error.reason)
      assert.is_nil(want[11].status)
    end)

    it("for check-header: ignore-case, several values, no values, odd messages", function()
      same_sequence({ api = h.doc { inbound = [[
        <check-header name="X-A" failed-check-httpcode="403" failed-check-error-message='say "no" \ &#9;now' ignore-case="true">
          <value>One</value><value>tWo</value><value></value>
        </check-header>
        <check-header name="x-b" failed-check-httpcode="400" failed-check-error-message="" />
      ]] } }, {
        {}, { headers = hs({ "X-A", "ONE" }) }, { headers = hs({ "X-A", "one" }, { "X-B", "" }) },
        { headers = hs({ "X-A", "two" }, { "x-a", "" }, { "X-B", "1" }) },
        { headers = hs({ "X-A", "three" }, { "X-B", "1" }) },
      })
    end)

    it("for counter keys: literals, headers with defaults, the client address, concatenation", function()
      for _, key in ipairs({
        'fixed',
        '@("k-" + context.Request.Headers.GetValueOrDefault("X-U", "anon") + "-" + context.Request.IpAddress)',
        '@(context.Request.Headers.GetValueOrDefault("X-U") + context.Request.Headers.GetValueOrDefault("X-V"))',
        '@(context.Request.Headers.GetValueOrDefault("X-U", null))',
        '@(context.Request.IpAddress)',
      }) do
        same_sequence({ api = h.doc { inbound = '<rate-limit-by-key calls="2" renewal-period="10" counter-key=\'' .. key .. '\' retry-after-header-name="X-Retry" remaining-calls-variable-name="left" />' } }, {
          {}, { headers = hs({ "X-U", "a" }) }, { headers = hs({ "X-U", "a" }), ip = "10.0.0.2" },
          { headers = hs({ "x-u", "a" }, { "X-V", "b" }) }, {}, { headers = hs({ "X-U", "a" }) },
          { headers = hs({ "X-U", "a" }, { "X-U", "c" }) }, { wait = 10000 }, {},
        })
      end
    end)

    it("for a counter key with the subscription id: the expression's 500 without a subscription", function()
      local sub = { id = "s1", key = "k1", name = "S1" }
      local _, want = same_sequence({ api = h.doc { inbound = [[
        <rate-limit-by-key calls="2" renewal-period="10" counter-key='@("s:" + context.Subscription.Id)' />]] } }, {
        {}, { subscription = sub }, { subscription = sub }, { subscription = { id = "s2" } }, { subscription = sub }, {},
      })
      assert.are.equal(500, want[1].status)
      assert.are.equal("ExpressionValueEvaluationFailure", want[1].error.reason)
      assert.are.equal(429, want[5].status)
    end)

    it("for increment-count and increment-condition literals", function()
      local reqs = { {}, {}, {}, {}, {} }
      same_sequence({ api = h.doc { inbound = '<rate-limit-by-key calls="5" renewal-period="10" counter-key="k" increment-count="2" />' } }, reqs)
      same_sequence({ api = h.doc { inbound = '<rate-limit-by-key calls="5" renewal-period="10" counter-key="k" increment-count="0" />' } }, reqs)
      same_sequence({ api = h.doc { inbound = '<rate-limit-by-key calls="1" renewal-period="10" counter-key="k" increment-condition="true" />' } }, reqs)
      -- never counted: a peek at a counter another policy fills
      same_sequence({ api = h.doc { inbound = [[
        <rate-limit-by-key calls="2" renewal-period="10" counter-key="k" increment-condition="false" />
        <rate-limit-by-key calls="9" renewal-period="10" counter-key="k" />]] } }, reqs)
    end)

    it("for rate-limit per subscription, without a subscription, across a choose", function()
      local sub = { id = "s1", key = "k1", name = "S1" }
      same_sequence({ api = h.doc { inbound = [[
        <choose><when condition='@(context.Request.Headers.ContainsKey("X-Skip"))'>
          <set-header name="X-Skipped" exists-action="override"><value>1</value></set-header>
        </when><otherwise>
          <rate-limit calls="2" renewal-period="5" />
        </otherwise></choose>]] } }, {
        { subscription = sub }, {}, {}, { subscription = sub }, { subscription = sub, headers = hs({ "X-Skip", "1" }) },
        { subscription = sub }, { subscription = { id = "s2" } }, { subscription = sub, wait = 5000 }, { subscription = sub },
      })
    end)

    it("with the Lua path's counters: a switch of path neither resets nor counts twice", function()
      local docs = { api = h.doc { inbound = '<rate-limit-by-key calls="3" renewal-period="60" counter-key="@(context.Request.IpAddress)" />' } }
      local p = assert(plan_of(docs))
      host.reset()
      assert.is_nil(h.run(h.req()).error)
      assert.is_nil(plan.execute(p, h.req()).status)
      assert.is_nil(h.run(h.req()).error)
      assert.are.equal(429, plan.execute(p, h.req()).status)
      assert.are.equal(429, h.run(h.req()).status)
    end)

    it("is not built for what the plan cannot do the same way", function()
      for _, inbound in ipairs({
        '<rate-limit-by-key calls="3" renewal-period="60" counter-key="@(context.Request.Url.Path)" />',
        '<rate-limit-by-key calls="3" renewal-period="60" counter-key=\'@(context.Request.Headers["X"])\' />',
        '<rate-limit-by-key calls="3" renewal-period="60" counter-key=\'@(context.Request.Headers.GetValueOrDefault("X", "").ToLower())\' />',
        '<rate-limit-by-key calls="3" renewal-period="60" counter-key="@(context.Subscription?.Id)" />',
        '<rate-limit-by-key calls="3" renewal-period="60" counter-key="@(context.Subscription.Name)" />',
        '<rate-limit-by-key calls="3" renewal-period="60" counter-key="k" increment-condition="@(context.Response.StatusCode == 200)" />',
        '<rate-limit-by-key calls="3" renewal-period="60" counter-key="k" increment-count="@(2)" />',
        '<rate-limit-by-key calls="@(3)" renewal-period="60" counter-key="k" />',
        '<rate-limit-by-key calls="3" renewal-period="60" counter-key="k" remaining-calls-header-name="X-Left" />',
        '<rate-limit-by-key calls="3" renewal-period="60" counter-key="k" total-calls-header-name="X-Total" />',
        '<rate-limit calls="3" renewal-period="60"><api name="echo" calls="1" renewal-period="60" /></rate-limit>',
        '<rate-limit calls="3" renewal-period="60" remaining-calls-header-name="X-Left" />',
        '<check-header name="X" failed-check-httpcode="401" failed-check-error-message="@("no")" />',
        '<check-header name="X" failed-check-httpcode="401" failed-check-error-message="no" ignore-case="@(true)" />',
        '<check-header name="X" failed-check-httpcode="401" failed-check-error-message="no"><value>@("a")</value></check-header>',
        '<check-header name="@("X")" failed-check-httpcode="401" failed-check-error-message="no" />',
        '<quota calls="3" renewal-period="60" />',
      }) do
        local p, why = plan_of({ api = h.doc { inbound = inbound } })
        assert.is_nil(p, inbound)
        assert.matches("has no native form", why, 1, true)
      end
    end)
  end)
end)
