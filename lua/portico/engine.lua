-- engine.lua - the entry points C calls (ENGINE.md): load, flags, run.
--
-- Owns: one generation's compiled state inside this Lua state (documents,
-- the per-request chains composed from them, the static context objects) and
-- the `policy` table user modules and Lua documents see.
--
-- Does not own: compiling (compiler.lua), running a request (pipeline.lua),
-- the coroutine and the forward yield's other side (C, src/lbridge.c).

local compiler = require "portico.compiler"
local pipeline = require "portico.pipeline"
local context = require "portico.context"
local planner = require "portico.plan"

local pairs, ipairs, type, tostring, tonumber = pairs, ipairs, type, tostring, tonumber
local match = string.match
local sort = table.sort

local M = {}

local state = nil

------------------------------------------------------------------------------
-- the policy API (user modules and Lua documents: a global `policy`)

do
  local api = compiler.policy_api
  local ok, cjson = pcall(require, "cjson")
  -- policy.fail(reason, message[, status]): stop with an APIM error (on-error runs)
  api.fail = function(reason, message, status, client_message)
    return context.fail(reason, message, status, nil, client_message)
  end
  -- policy.forward(context[, { timeout = ms }]): forward-request
  api.forward = pipeline.forward
  -- policy.respond(context, status[, headers[, body]]): return-response
  api.respond = function(ctx, status, headers, body, reason)
    local list = {}
    for k, v in pairs(headers or {}) do
      if type(k) == "number" then list[#list + 1] = { v[1], v[2] }
      else list[#list + 1] = { k, tostring(v) } end
    end
    pipeline.finish(ctx, context.response(status or 200, reason, list, body or "", false))
  end
  -- policy.trace(context, source, message[, severity])
  api.trace = function(ctx, source, message, severity)
    pipeline.trace(ctx, { source = source, message = tostring(message),
      severity = severity or "information" })
  end
  api.json = ok and { encode = cjson.encode, decode = cjson.decode, null = cjson.null } or nil
  api.url_encode = context.url_encode
  api.url_decode = context.url_decode
  api.now = context.now
  api.version = 1
  -- for compile(node, c): the value helpers are methods of `c`
  -- (c:attr, c:text, c:elements, c:sequence, c:error, c:check_attrs, c:needs_body)
end

------------------------------------------------------------------------------
-- load

local function parse_loc(e)
  local f, l, c = match(e, "^(.-):(%d+):(%d+):")
  if f then return f, tonumber(l), tonumber(c) end
  return e, 0, 0
end

local function sorted_errors(list)
  local seen, out = {}, {}
  for _, e in ipairs(list) do
    if not seen[e] then seen[e] = true; out[#out + 1] = e end
  end
  sort(out, function(a, b)
    local fa, la, ca = parse_loc(a)
    local fb, lb, cb = parse_loc(b)
    if fa ~= fb then return fa < fb end
    if la ~= lb then return la < lb end
    if ca ~= cb then return ca < cb end
    return a < b
  end)
  return out
end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t or {}) do out[#out + 1] = k end
  sort(out)
  return out
end

-- Compiles everything in `spec` (ENGINE.md). Returns nil, or an array of
-- "file:line:col: message". On errors the previous generation (if any) stays.
function M.load(spec)
  spec = spec or {}
  compiler.runtime() -- binds csharp.lua to context.lua's JSON and dates, when present
  local k = compiler.new(spec)
  local docs = spec.documents or {}
  local out = { products = {}, apis = {}, operations = {} }
  if docs.global then out.global = k:document(docs.global, "global", {}) end
  for _, id in ipairs(sorted_keys(docs.products)) do
    out.products[id] = k:document(docs.products[id], "product", { product_id = id })
  end
  for _, id in ipairs(sorted_keys(docs.apis)) do
    out.apis[id] = k:document(docs.apis[id], "api", { api_id = id })
  end
  for _, api in ipairs(sorted_keys(docs.operations)) do
    out.operations[api] = {}
    for _, op in ipairs(sorted_keys(docs.operations[api])) do
      out.operations[api][op] = k:document(docs.operations[api][op], "operation",
        { api_id = api, operation_id = op })
    end
  end
  -- fragments nobody includes are still read, so their mistakes show now
  for _, id in ipairs(k:fragment_ids()) do k:fragment(id) end
  local root = k:root_sections()
  if #k.errors > 0 then return sorted_errors(k.errors) end
  state = {
    spec = spec, docs = out, root = root, chains = {},
    deployment = context.deployment(spec.gateway),
    apis = {}, operations = {}, products = {}, base_urls = k.base_urls or {},
  }
  return nil
end

-- The literal base-url values of set-backend-service: { { url, where }, ... }.
function M.base_urls()
  return state and state.base_urls or {}
end

------------------------------------------------------------------------------
-- chains: composed on first use per (api, operation, product), then reused

local function api_object(api_id)
  local a = state.apis[api_id]
  if a == nil then
    a = context.api(api_id, (state.spec.apis or {})[api_id]) or false
    state.apis[api_id] = a
  end
  return a or nil
end

local function operation_object(api_id, op_id)
  local key = api_id .. "\0" .. op_id
  local o = state.operations[key]
  if o == nil then
    local a = (state.spec.apis or {})[api_id]
    local spec_op = a and a.operations and a.operations[op_id]
    o = context.operation(op_id, spec_op or {}) or false
    if o and spec_op then o.examples = spec_op.examples end
    state.operations[key] = o
  end
  return o or nil
end

local function product_object(id)
  local p = state.products[id]
  if p == nil then
    p = context.product(id, (state.spec.products or {})[id]) or false
    state.products[id] = p
  end
  return p or nil
end

-- chains[api][operation][product], "" standing for none (no string building
-- per request)
local function chain_for(api_id, op_id, product_id)
  local a, o, p = api_id or "", op_id or "", product_id or ""
  local by_api = state.chains[a]
  if not by_api then by_api = {}; state.chains[a] = by_api end
  local by_op = by_api[o]
  if not by_op then by_op = {}; by_api[o] = by_op end
  local chain = by_op[p]
  if chain then return chain end
  local d = state.docs
  local ops = api_id and d.operations[api_id]
  chain = compiler.compose(state.root, {
    d.global or false,
    product_id and d.products[product_id] or false,
    api_id and d.apis[api_id] or false,
    ops and op_id and ops[op_id] or false,
  })
  chain.info = {
    api = api_id and api_object(api_id) or nil,
    operation = api_id and op_id and operation_object(api_id, op_id) or nil,
    product = product_id and product_object(product_id) or nil,
    deployment = state.deployment,
    backends = state.spec.backends or {},
  }
  by_op[p] = chain
  return chain
end

------------------------------------------------------------------------------
-- flags and run

local NO_POLICIES = { policies = false, request_body = false, response_body = false }

function M.flags(api_id, operation_id, product_id)
  if not state then return NO_POLICIES end
  return chain_for(api_id, operation_id, product_id).flags
end

-- The native plan of a request kind (plan.lua, ENGINE.md), or nil: then
-- engine.run runs it. Built on first use per chain.
function M.plan(api_id, operation_id, product_id)
  if not state then return nil end
  local chain = chain_for(api_id, operation_id, product_id)
  if chain.plan == nil then
    chain.plan, chain.no_plan = planner.build(chain, state.root, chain.info)
    chain.plan = chain.plan or false
  end
  return chain.plan or nil, chain.no_plan
end

-- Runs one request (inside the coroutine C created); returns the final response.
function M.run(req)
  if not state then
    return pipeline.error_response(500, "ConfigurationError", "Internal server error")
  end
  local chain = chain_for(req.api_id, req.operation_id, req.product_id)
  return (pipeline.run(chain, req, chain.info))
end

-- C may give a precise clock: a function returning unix seconds as a float.
function M.set_clock(f) context.set_clock(f) end

-- For tests and `portico check`: the loaded state (nil before a good load).
function M.state() return state end

return M
