-- plan.lua - the native plan: a policy pipeline lowered, once per (api, operation,
-- product), to a flat list of simple ops that C runs per request without Lua
-- (src/plan.c; the contract is in ENGINE.md, "The native plan").
--
-- Owns: the lowering of the declarative built-in elements (each element's
-- compile returns its ops as a second value, made from the same constants its
-- closure uses), the recogniser of the conditions C can evaluate, and the
-- assembly of a composed chain into one plan, or nil when any part of it is
-- not provably the same as the Lua path.
--
-- Does not own: what an element means (policies/*.lua: the Lua closures stay
-- the reference), running ops (C; `M.execute` below is a Lua model of C's
-- executor for the specs).
--
-- Ops (tables with string fields, read by src/lbridge.c):
--   { op = "header_set", name, values = { v }, if_absent }  replace the first line of
--       `name` (no case) with v and drop the others, or add a line; if_absent: only
--       when there is none
--   { op = "header_delete", name }
--   { op = "header_lines", name, values, if_absent }        one new line per value
--   { op = "header_join", name, values = { v } }            ",v" onto the last line
--       of `name`, or a new line
--   { op = "query_set", name, values = { raw, ... }, if_absent }  drop every parameter
--       whose decoded name is `name`, then add the raw "k=v" pieces
--   { op = "query_delete", name }, { op = "query_add", name, values = { raw, ... } }
--   { op = "rewrite", path = { piece, ... }, query = { { k = {...}, v = {...}, eq }, ... },
--       copy }  (piece: { text = s } or { param = name })
--   { op = "backend_id", name, rank }, { op = "base_url", name, rank }, { op = "method", name }
--   { op = "jump_unless", cond = { item, ... }, skip = n }  skip n ops when cond is false
--   { op = "jump", skip = n }
--   { op = "check_header", name, values, icase, status, body }  check-header: fail with
--       status and body (APIM's JSON, made here) unless `name` is present and (values
--       given) every line of it is one of them (icase: values lowered, lines compared lowered)
--   { op = "count", key = { vpiece, ... }, window, calls, inc, peek, need_sub, name }
--       rate-limit(-by-key): host.count(concat(key), window, peek and 0 or inc, calls);
--       refused (peek: count >= calls) -> 429 with Retry-After (`name`); need_sub: only
--       for a request with a subscription
-- vpiece (a native value): { text = s }, { header = name, default = s or nil (C# null) },
--   { ip = true }, { sub = true, required } (the subscription id; none: "", or when
--   required the 500 of an expression reading context.Subscription.Id); nil pieces are ""
-- cond is in postfix order: { c = "header_eq", name, value, default (nil: C# null) },
--   { c = "has", name }, { c = "method_eq", value }, { c = "const", value = bool },
--   { c = "not" }, { c = "and" }, { c = "or" }.

local context = require "portico.context"

local lower, match, gmatch, format = string.lower, string.match, string.gmatch, string.format
local concat = table.concat
local ipairs, type, pcall = ipairs, type, pcall

local M = {}

local SEPARATE = context.SEPARATE_HEADERS

------------------------------------------------------------------------------
-- element lowerings (called by the elements' compile functions)

-- set-header on the request: `d` from valuelist ({ name, action, values }) or
-- nil (not all literal). Returns the ops or nil.
function M.header_ops(d)
  if not d then return nil end
  if d.noop then return {} end
  local name, action, values, n = d.name, d.action, d.values, #d.values
  if action == "delete" then return { { op = "header_delete", name = name } } end
  local skip = action == "skip"
  if n == 0 then
    if action == "append" then return {} end
    return { { op = "header_set", name = name, values = { "" }, if_absent = skip } }
  end
  local sep = SEPARATE[lower(name)]
  if action == "append" then
    if sep then return { { op = "header_lines", name = name, values = values } } end
    return { { op = "header_join", name = name, values = { concat(values, ",") } } }
  end
  if sep and n > 1 then -- Headers:set of an array on a separate-lines header
    if skip then return { { op = "header_lines", name = name, values = values, if_absent = true } } end
    return { { op = "header_delete", name = name }, { op = "header_lines", name = name, values = values } }
  end
  return { { op = "header_set", name = name, values = { concat(values, ",") }, if_absent = skip } }
end

-- set-query-parameter: `d` as for header_ops, with d.raw the encoded pieces.
function M.query_ops(d)
  if not d then return nil end
  if d.noop then return {} end
  local name, action, n = d.name, d.action, #d.values
  if action == "delete" then return { { op = "query_delete", name = name } } end
  local raw = d.raw
  if n == 0 then
    if action == "append" then return {} end
    raw = { context.url_encode(name) .. "=" }
  end
  if action == "append" then return { { op = "query_add", name = name, values = raw } } end
  return { { op = "query_set", name = name, values = raw, if_absent = action == "skip" } }
end

local function plan_pieces(ps)
  local out = {}
  for i, x in ipairs(ps) do
    out[i] = type(x) == "string" and { text = x } or { param = x[1] }
  end
  return out
end

-- rewrite-uri with a literal template, parsed by rewrite-uri.lua.
function M.rewrite_ops(t, copy)
  local q = {}
  for i, kv in ipairs(t.query) do
    q[i] = { k = plan_pieces(kv[1]), v = plan_pieces(kv[2]), eq = kv[3] }
  end
  return { { op = "rewrite", path = plan_pieces(t.path), query = q, copy = copy } }
end

------------------------------------------------------------------------------
-- conditions: the shapes C evaluates, recognised on the translator's syntax
-- tree; anything else is nil (the request kind stays on the Lua path)

local function strip(e)
  while e and e.k == "paren" do e = e.e end
  return e
end

-- context.Request.<name>
local function is_request_member(e, name)
  e = strip(e)
  if not e or e.k ~= "member" or e.nc or e.targs or e.name ~= name then return false end
  local r = strip(e.obj)
  if not r or r.k ~= "member" or r.nc or r.name ~= "Request" then return false end
  local ctx = strip(r.obj)
  return ctx and ctx.k == "name" and ctx.v == "context" and not ctx.targs
end

-- context.Request.Headers.<method>(string literals...) -> the literal args
local function headers_call(e, method)
  e = strip(e)
  if not e or e.k ~= "call" then return nil end
  local fn = e.fn
  if fn.k ~= "member" or fn.nc or fn.targs or fn.name ~= method then return nil end
  if not is_request_member(fn.obj, "Headers") then return nil end
  local args = {}
  for i, a in ipairs(e.args) do
    if a.name or a.out or not a.e then return nil end
    local v = strip(a.e)
    if v.k == "str" then args[i] = { v.v }
    elseif v.k == "null" then args[i] = { nil }
    else return nil end
  end
  return args
end

local function str_literal(e)
  e = strip(e)
  return e and e.k == "str" and e.v or nil
end

local cond_items

-- `a == "lit"` / `"lit" == a` with a a header read or Request.Method
local function comparison(e, out)
  local a, lit = e.a, str_literal(e.b)
  if not lit then a, lit = e.b, str_literal(e.a) end
  if not lit then return false end
  local args = headers_call(a, "GetValueOrDefault")
  if args then
    if #args ~= 2 or args[1][1] == nil then return false end
    out[#out + 1] = { c = "header_eq", name = args[1][1], value = lit, default = args[2][1] }
  elseif is_request_member(a, "Method") then
    out[#out + 1] = { c = "method_eq", value = lit }
  else
    return false
  end
  if e.op == "!=" then out[#out + 1] = { c = "not" } end
  return true
end

cond_items = function(e, out)
  e = strip(e)
  if not e then return false end
  if e.k == "bool" then out[#out + 1] = { c = "const", value = e.v }; return true end
  if e.k == "un" and e.op == "!" then
    if not cond_items(e.e, out) then return false end
    out[#out + 1] = { c = "not" }
    return true
  end
  if e.k == "bin" and (e.op == "&&" or e.op == "||") then
    if not (cond_items(e.a, out) and cond_items(e.b, out)) then return false end
    out[#out + 1] = { c = e.op == "&&" and "and" or "or" }
    return true
  end
  if e.k == "bin" and (e.op == "==" or e.op == "!=") then return comparison(e, out) end
  local args = headers_call(e, "ContainsKey")
  if args and #args == 1 and args[1][1] ~= nil then
    out[#out + 1] = { c = "has", name = args[1][1] }
    return true
  end
  return false
end

-- The syntax tree of an "@(...)" value, or nil (not an expression, or not parsed whole).
local function parse_expr(code)
  local lexer = require "portico.expr.lexer"
  local parser = require "portico.expr.parser"
  local ok, tree, rest = pcall(function()
    local ps = parser.parser(lexer.lex(code), code)
    local e = ps:expr()
    return e, ps:peek().t
  end)
  if not ok or rest ~= "eof" then return nil end
  return tree
end

-- The postfix condition of a <when condition="..."> value (`raw` as written:
-- "@(...)" or a literal true/false), or nil.
function M.condition(raw)
  if type(raw) ~= "string" then return nil end
  local reader = require "portico.reader"
  local kind, code = reader.is_expression(raw)
  if not kind then
    local l = lower(match(raw, "^%s*(.-)%s*$"))
    if l == "true" or l == "false" then return { { c = "const", value = l == "true" } } end
    return nil
  end
  local tree = kind == "expr" and parse_expr(code)
  if not tree then return nil end
  local out = {}
  if not cond_items(tree, out) then return nil end
  return out
end

-- values: the string expressions C evaluates (rate-limit-by-key's counter-key)


-- string literals, header reads, the client address and `+` of those: every
-- piece is a string or null, and `+` of strings and nulls (rt.str / rt.add)
-- is the concatenation with null as ""
local function value_items(e, out)
  e = strip(e)
  if not e then return false end
  if e.k == "str" and type(e.v) == "string" then out[#out + 1] = { text = e.v }; return true end
  if e.k == "bin" and e.op == "+" then return value_items(e.a, out) and value_items(e.b, out) end
  local args = headers_call(e, "GetValueOrDefault")
  if args then
    if (#args ~= 1 and #args ~= 2) or args[1][1] == nil then return false end
    out[#out + 1] = { header = args[1][1], default = args[2] and args[2][1] }
    return true
  end
  if is_request_member(e, "IpAddress") then out[#out + 1] = { ip = true }; return true end
  -- context.Subscription.Id: null without a subscription, so reading Id fails the request
  if e.k == "member" and not e.nc and not e.targs and e.name == "Id" then
    local sub = strip(e.obj)
    local ctx = sub and sub.k == "member" and not sub.nc and not sub.targs and sub.name == "Subscription"
      and strip(sub.obj)
    if ctx and ctx.k == "name" and ctx.v == "context" and not ctx.targs then
      out[#out + 1] = { sub = true, required = true }
      return true
    end
  end
  return false
end

-- The pieces of a string attribute: `is_const, v` as c:attr returned them,
-- `raw` the attribute as written (after named values). nil: not native.
function M.value(is_const, v, raw)
  if is_const then
    if type(v) ~= "string" then return nil end
    return { { text = v } }
  end
  if type(raw) ~= "string" then return nil end
  local kind, code = require("portico.reader").is_expression(raw)
  local tree = kind == "expr" and parse_expr(code)
  local out = {}
  if not tree or not value_items(tree, out) then return nil end
  return out
end

-- choose: `branches` = { { cond = items, ops = ops }, ... }, `otherwise` ops
-- or nil; lowered to jumps over the branches' ops.
function M.choose_ops(branches, otherwise)
  local out = otherwise or {}
  for i = #branches, 1, -1 do
    local b, block = branches[i], {}
    block[1] = { op = "jump_unless", cond = b.cond, skip = #b.ops + (#out > 0 and 1 or 0) }
    for _, o in ipairs(b.ops) do block[#block + 1] = o end
    if #out > 0 then block[#block + 1] = { op = "jump", skip = #out } end
    for _, o in ipairs(out) do block[#block + 1] = o end
    out = block
  end
  return out
end

-- The forward-request marker (no attributes: the default forward).
M.FORWARD = { { op = "forward" } }

------------------------------------------------------------------------------
-- assembly of a composed chain (compiler.compose)

-- the query parameter names an operation's URL template consumes (as rewrite-uri)
local function consumed_names(tpl)
  local out = {}
  local q = tpl and match(tpl, "%?(.*)$")
  if q then
    for piece in gmatch(q, "[^&]+") do
      local k = match(piece, "^([^=]*)")
      if k and k ~= "" then out[#out + 1] = k end
    end
  end
  return out
end

local function append_ops(out, ops)
  for _, o in ipairs(ops) do out[#out + 1] = o end
end

-- The plan of `chain` (root: the compiler's root sections; info: the chain's
-- api/operation objects), or nil with the reason it has none.
function M.build(chain, root, info)
  local f, s = chain.flags, chain.sections
  if not f.policies then return nil, "no policies" end
  if f.request_body or f.response_body then return nil, "reads a body" end
  if #s.outbound.steps > 0 then return nil, "outbound is not empty" end
  if #s["on-error"].steps > 0 then return nil, "on-error is not empty" end
  if s.backend ~= root.backend then
    local m = s.backend.metas
    if #m ~= 1 or m[1].plan ~= M.FORWARD then return nil, "backend is not a plain forward-request" end
  end
  local ops = {}
  for i, m in ipairs(s.inbound.metas) do
    local p = m.plan
    if type(p) ~= "table" then
      return nil, (m.where or "?") .. ": <" .. tostring(m.source) .. "> has no native form"
    end
    if p == M.FORWARD then return nil, "forward-request in inbound" end
    append_ops(ops, p)
    if i > 256 then return nil, "too long" end
  end
  local op = info and info.operation
  return { ops = ops, consumed = consumed_names(op and op.UrlTemplate) }
end

------------------------------------------------------------------------------
-- a Lua model of C's executor (src/plan.c), for the specs: runs `plan` on a
-- request as C builds it (ENGINE.md `req`) and returns what C would forward
-- { method, path, query, headers, backend_id, base_url }, or the answer of a
-- failed request { status, headers, body, error = { reason, message } }
-- (counters: portico.host, as the Lua path).

local url_decode = context.url_decode

local function same(a, b) return lower(a) == lower(b) end

local function fill(pieces, matched)
  local out = {}
  for i, p in ipairs(pieces) do out[i] = p.text or matched[p.param] or "" end
  return concat(out)
end

local function parse_query(raw)
  local list = {}
  for piece in gmatch(raw, "[^&]+") do
    local k = match(piece, "^([^=]*)")
    list[#list + 1] = { url_decode(k), piece }
  end
  return list
end

local function header_has(hs, name)
  for _, h in ipairs(hs) do if same(h[1], name) then return true end end
  return false
end

local function header_delete(hs, name)
  local j = 0
  local n = #hs
  for i = 1, n do
    local h = hs[i]
    hs[i] = nil
    if not same(h[1], name) then j = j + 1; hs[j] = h end
  end
end

local function header_value(hs, name)
  local vals = {}
  for _, h in ipairs(hs) do if same(h[1], name) then vals[#vals + 1] = h[2] end end
  if #vals == 0 then return nil end
  return concat(vals, ",")
end

local function eval(cond, st)
  local stack = {}
  for _, c in ipairs(cond) do
    local k = c.c
    if k == "const" then stack[#stack + 1] = c.value
    elseif k == "has" then stack[#stack + 1] = header_has(st.headers, c.name)
    elseif k == "method_eq" then stack[#stack + 1] = st.method == c.value
    elseif k == "header_eq" then
      local v = header_value(st.headers, c.name)
      if v == nil then v = c.default end
      stack[#stack + 1] = v == c.value
    elseif k == "not" then stack[#stack] = not stack[#stack]
    else
      local b = table.remove(stack)
      local a = table.remove(stack)
      if k == "and" then stack[#stack + 1] = a and b else stack[#stack + 1] = a or b end
    end
  end
  return stack[1]
end

local function rewrite(o, st, plan, matched)
  st.path = fill(o.path, matched)
  if o.copy and #o.query == 0 and #plan.consumed == 0 then return end
  local list, given = {}, {}
  for _, kv in ipairs(o.query) do
    local k, v = fill(kv.k, matched), fill(kv.v, matched)
    local dk = url_decode(k)
    given[dk] = true
    list[#list + 1] = { dk, kv.eq and (k .. "=" .. v) or k }
  end
  if o.copy then
    local consumed = {}
    for _, n in ipairs(plan.consumed) do consumed[n] = true end
    for _, p in ipairs(st.query or parse_query(st.query_raw)) do
      if not consumed[p[1]] and not given[p[1]] then list[#list + 1] = p end
    end
  end
  st.query = list
  st.dirty = true
end

-- A failed request as pipeline.lua answers it without on-error.
local function failure(status, extra, body, reason, message)
  local headers = { { "Content-Type", "application/json" } }
  for _, x in ipairs(extra) do headers[#headers + 1] = x end
  return { status = status, headers = headers, body = body, error = { reason = reason, message = message } }
end

-- what the Lua path logs when an expression reads context.Subscription.Id without one
M.NO_SUBSCRIPTION = "Expression evaluation failed. NullReferenceException: Object reference not set "
  .. "to an instance of an object (reading 'Id' of null)."

-- The value, or nil and the failure.
local function value_of(pieces, st, req)
  local out = {}
  for i, p in ipairs(pieces) do
    local v
    if p.text then v = p.text
    elseif p.header then
      v = header_value(st.headers, p.header)
      if v == nil then v = p.default end
    elseif p.ip then v = req.ip
    elseif p.sub then
      v = req.subscription and req.subscription.id
      if v == nil and p.required then
        return nil, failure(500, {}, require("portico.pipeline").error_body(500, "Internal server error"),
          "ExpressionValueEvaluationFailure", M.NO_SUBSCRIPTION)
      end
    end
    out[i] = v or ""
  end
  return concat(out)
end

local function check_header(o, st)
  local lines = {}
  for _, hd in ipairs(st.headers) do if same(hd[1], o.name) then lines[#lines + 1] = hd[2] end end
  if #lines == 0 then
    return failure(o.status, {}, o.body, "HeaderNotFound",
      format("Header %s was not found in the request. Access denied.", o.name))
  end
  if #o.values == 0 then return nil end
  local allowed = {}
  for _, v in ipairs(o.values) do allowed[v] = true end
  for _, line in ipairs(lines) do
    if not allowed[o.icase and lower(line) or line] then
      return failure(o.status, {}, o.body, "HeaderValueNotAllowed",
        format("Header %s value of %s isn't allowed. Access denied.", o.name, line))
    end
  end
end

local function count(o, st, req)
  if o.need_sub and not (req.subscription and req.subscription.id) then return nil end
  local key, failed = value_of(o.key, st, req)
  if not key then return failed end
  local ok, n, reset = require("portico.host").count(key, o.window, o.inc, o.calls)
  if o.peek then ok = n < o.calls end
  if ok then return nil end
  local secs = math.ceil(reset / 1000)
  if secs < 1 then secs = 1 end
  local pipeline = require "portico.pipeline"
  return failure(429, { { o.name, tostring(secs) } },
    pipeline.error_body(429, format("Rate limit is exceeded. Try again in %d seconds.", secs)),
    "RateLimitExceeded", "Rate limit is exceeded")
end

local function run_op(o, st, plan, req)
  local k, hs = o.op, st.headers
  if k == "check_header" then return check_header(o, st)
  elseif k == "count" then return count(o, st, req)
  elseif k == "header_set" then
    if o.if_absent and header_has(hs, o.name) then return end
    for i, h in ipairs(hs) do
      if same(h[1], o.name) then
        h[2] = o.values[1]
        local rest = {}
        for j = i + 1, #hs do if not same(hs[j][1], o.name) then rest[#rest + 1] = hs[j] end end
        for j = i + 1, #hs do hs[j] = nil end
        for _, x in ipairs(rest) do hs[#hs + 1] = x end
        return
      end
    end
    hs[#hs + 1] = { o.name, o.values[1] }
  elseif k == "header_delete" then header_delete(hs, o.name)
  elseif k == "header_lines" then
    if o.if_absent and header_has(hs, o.name) then return end
    for _, v in ipairs(o.values) do hs[#hs + 1] = { o.name, v } end
  elseif k == "header_join" then
    for i = #hs, 1, -1 do
      if same(hs[i][1], o.name) then hs[i][2] = hs[i][2] .. "," .. o.values[1]; return end
    end
    hs[#hs + 1] = { o.name, o.values[1] }
  elseif k == "query_set" or k == "query_delete" or k == "query_add" then
    local q = st.query or parse_query(st.query_raw)
    st.query = q
    local present = false
    for _, p in ipairs(q) do if p[1] == o.name then present = true end end
    if k == "query_set" and o.if_absent and present then return end
    if k ~= "query_add" then
      local j, n = 0, #q
      for i = 1, n do
        local p = q[i]
        q[i] = nil
        if p[1] ~= o.name then j = j + 1; q[j] = p end
      end
      if present then st.dirty = true end
    end
    if k ~= "query_delete" then
      for _, raw in ipairs(o.values) do q[#q + 1] = { o.name, raw } end
      st.dirty = true
    end
  elseif k == "rewrite" then
    rewrite(o, st, plan, req.matched or {})
  elseif k == "backend_id" then st.backend_id, st.base_url, st.rank = o.name, nil, o.rank
  elseif k == "base_url" then
    if not (st.backend_id and st.rank < o.rank) then st.base_url, st.backend_id, st.rank = o.name, nil, o.rank end
  elseif k == "method" then st.method = o.name
  end
end

function M.execute(plan, req)
  local hs = {}
  for i, h in ipairs(req.headers) do hs[i] = { h[1], h[2] } end
  local st = { headers = hs, method = req.method, path = req.rest, query_raw = req.query or "" }
  local i, ops = 1, plan.ops
  while i <= #ops do
    local o = ops[i]
    if o.op == "jump" then i = i + o.skip
    elseif o.op == "jump_unless" and not eval(o.cond, st) then i = i + o.skip
    elseif o.op ~= "jump_unless" then
      local failed = run_op(o, st, plan, req)
      if failed then return failed end
    end
    i = i + 1
  end
  local query = st.query_raw
  if st.dirty then
    local raws = {}
    for j, p in ipairs(st.query) do raws[j] = p[2] end
    query = concat(raws, "&")
  end
  return { method = st.method, path = st.path, query = query, headers = hs,
    backend_id = st.backend_id, base_url = st.base_url }
end

return M
