-- helper.lua - shared by the busted specs of the Lua runtime.
--
-- Sets package.path so that `portico.*` and the policy modules load from the
-- checkout (run busted from the repository root), and plays C's part of
-- ENGINE.md: builds `req`, runs engine.run in a coroutine, answers "forward"
-- yields with a canned backend response, and records what was forwarded.

local root = debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/[^/]*$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/policies/?.lua;" .. package.path

local M = { root = root }

M.engine = require "portico.engine"
require("portico.pipeline").trace_sink = false   -- traces are asserted, not printed

-- A spec with one API "echo" (operations get-order, search) and backends
-- "orders" and "orders-dr". `docs`: { global = xml, api = xml, operation = xml,
-- product = xml } (text), merged into spec.documents.
function M.spec(docs, extra)
  docs = docs or {}
  local spec = {
    gateway = { id = "edge-1", region = "edge" },
    documents = { products = {}, apis = {}, operations = {} },
    fragments = {},
    named_values = {},
    policy_paths = {},
    apis = {
      echo = { name = "Echo", path = "echo", service_url = "http://127.0.0.1:9001/v1",
        operations = {
          ["get-order"] = { method = "GET", url_template = "/orders/{id}", name = "Get order",
            examples = { ["200"] = { ["application/json"] = '{"id":42}' } } },
          search = { method = "GET", url_template = "/orders?status={status}", name = "Search" },
        } },
    },
    backends = {
      orders = { url = "http://127.0.0.1:9002/api", title = "Orders" },
      ["orders-dr"] = { url = "http://127.0.0.1:9003/api" },
    },
    products = { starter = { name = "Starter" } },
  }
  local d = spec.documents
  if docs.global then d.global = { file = "global.xml", text = docs.global } end
  if docs.product then d.products.starter = { file = "product.xml", text = docs.product } end
  if docs.api then d.apis.echo = { file = "api.xml", text = docs.api } end
  if docs.operation then
    d.operations.echo = { ["get-order"] = { file = "operation.xml", text = docs.operation } }
  end
  for k, v in pairs(extra or {}) do spec[k] = v end
  return spec
end

-- Loads a spec; fails the test with the errors when there are any.
function M.load(spec)
  local errs = M.engine.load(spec)
  if errs then error("load failed:\n" .. table.concat(errs, "\n"), 2) end
end

-- Loads and returns the errors (nil when the load succeeded).
function M.load_errors(spec)
  return M.engine.load(spec)
end

-- A request as C builds it. `t` overrides the defaults.
function M.req(t)
  local r = {
    id = "0-17", timestamp = 1700000000.5, ip = "127.0.0.1", method = "GET",
    url = { scheme = "http", host = "gw", port = 8080, path = "/echo/orders/42", query = "x=1" },
    rest = "/orders/42", query = "x=1",
    headers = { { "Host", "gw" }, { "Accept", "*/*" } },
    api_id = "echo", operation_id = "get-order", product_id = nil,
    matched = { id = "42" },
    service_url = "http://127.0.0.1:9001/v1",
  }
  for k, v in pairs(t or {}) do r[k] = v end
  -- policies change the header list in place: every run gets its own
  local hs = {}
  for i, hd in ipairs(r.headers) do hs[i] = { hd[1], hd[2] } end
  r.headers = hs
  return r
end

-- The answer to one call of a "send" yield when a spec gives none.
function M.sent(call)
  if call.one_way then return { one_way = true } end
  return { status = 200, reason = "OK", headers = { { "Content-Type", "text/plain" } },
    body = "sent to " .. tostring(call.url) }
end

-- C's answer to a "send" yield: `answer` is a function(calls, opts, n) ->
-- results (n: the number of this send), an array of results, or nil (M.sent
-- for each call).
local function send_results(answer, calls, opts, n)
  if type(answer) == "function" then return answer(calls, opts, n) end
  if type(answer) == "table" then return answer end
  local out = {}
  for i, call in ipairs(calls) do out[i] = M.sent(call) end
  return out
end

-- Runs `req` as C would. `backend`: a response table, a function(fwd, n) ->
-- response, or nil (200 "backend body"). `answers` (optional) answers the other
-- yields of ENGINE.md: { send = see send_results, sleep = function(ms, n) }
-- (sleeps return at once by default). Returns the final response, the list
-- of forwarded requests, and a log { yields = { "forward", "send", "sleep",
-- ... } in order, sends = { { calls, opts }, ... }, sleeps = { ms, ... } }.
function M.run(req, backend, answers)
  answers = answers or {}
  local forwards = {}
  local log = { yields = {}, sends = {}, sleeps = {} }
  local co = coroutine.create(M.engine.run)
  local ok, what, arg, arg2 = coroutine.resume(co, req)
  while true do
    if not ok then error(what, 2) end
    if coroutine.status(co) == "dead" then return what, forwards, log end
    log.yields[#log.yields + 1] = what
    local resp
    if what == "forward" then
      forwards[#forwards + 1] = arg
      if type(backend) == "function" then resp = backend(arg, #forwards)
      elseif backend then resp = backend
      else resp = { status = 200, reason = "OK", headers = { { "Content-Type", "text/plain" } },
        body = "backend body" } end
    elseif what == "send" then
      -- the shape C reads (src/lbridge.c)
      for _, c in ipairs(arg) do
        assert(type(c.method) == "string" and type(c.url) == "string" and type(c.headers) == "table",
          "a send call needs method, url and headers")
        assert(c.timeout == nil or math.type(c.timeout) == "integer", "call timeout must be integer ms")
        assert(c.body == nil or type(c.body) == "string", "call body must be a string or nil")
      end
      log.sends[#log.sends + 1] = { calls = arg, opts = arg2 }
      resp = send_results(answers.send, arg, arg2, #log.sends)
    elseif what == "sleep" then
      assert(math.type(arg) == "integer" and arg >= 0, "sleep wants integer ms, got " .. tostring(arg))
      log.sleeps[#log.sleeps + 1] = arg
      if answers.sleep then answers.sleep(arg, #log.sleeps) end
    else
      error("unexpected yield " .. tostring(what), 2)
    end
    ok, what, arg, arg2 = coroutine.resume(co, resp)
  end
end

-- Header value from a {{n,v},...} list (first match, case-insensitive).
function M.header(list, name)
  for _, h in ipairs(list or {}) do
    if h[1]:lower() == name:lower() then return h[2] end
  end
  return nil
end

function M.headers_named(list, name)
  local out = {}
  for _, h in ipairs(list or {}) do
    if h[1]:lower() == name:lower() then out[#out + 1] = h[2] end
  end
  return out
end

-- A whole policy document around sections: M.doc{ inbound = "...", ... }.
function M.doc(s)
  local out = { "<policies>" }
  for _, name in ipairs({ "inbound", "backend", "outbound", "on-error" }) do
    if s[name] then out[#out + 1] = "<" .. name .. ">" .. s[name] .. "</" .. name .. ">" end
  end
  out[#out + 1] = "</policies>"
  return table.concat(out, "\n")
end

-- Loads one API document (`api` scope) and runs one request through it
-- (`answers`: see M.run).
function M.run_api(doc_text, req_t, backend, extra, answers)
  M.load(M.spec({ api = doc_text }, extra))
  return M.run(M.req(req_t), backend, answers)
end

return M
