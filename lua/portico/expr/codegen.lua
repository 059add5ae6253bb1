-- expr/codegen.lua - the code generator of the expression translator: syntax tree ->
-- Lua source, for expressions; statements.lua adds the statements to the same
-- generator (G).
--
-- Owns: the generator's state (output lines, indentation, temporaries, scopes of C#
-- locals and their Lua names), Lua literals (lua_string, exported as expr.lua_string;
-- numbers), precedence-aware results { code, prec, type, nonnil }, static types where
-- C# makes them obvious, and every expression: literals, interpolated strings, names,
-- static members (Type.Member), member access, calls (named and out arguments, generic
-- methods), indexers, unary and binary operators (string `..`, native arithmetic on
-- known numbers, rt.add/rt.idiv/rt.div... otherwise), ?:, ??, casts, is/as, new,
-- arrays and lambdas. What the code calls at run time is `rt` (portico.csharp).
--
-- Does not own: statements (statements.lua), whether names and types are in the subset
-- (checks.lua), the tables of types (types.lua), syntax (parser.lua).

local byte, find, format, gsub, rep =
  string.byte, string.find, string.format, string.gsub, string.rep
local concat = table.concat
local type, ipairs, tostring, tonumber, setmetatable = type, ipairs, tostring, tonumber, setmetatable

local rt = require "portico.csharp"
local errors = require "portico.expr.errors"
local types = require "portico.expr.types"
local parser = require "portico.expr.parser"
local checks = require "portico.expr.checks"
local fail, unsupported = errors.fail, errors.unsupported
local T, NEW, OPAQUE, KEYWORD_TYPES, NUMERIC, INTEGRAL, canon_name =
  types.TYPES, types.NEW, types.OPAQUE, types.KEYWORD_TYPES, types.NUMERIC, types.INTEGRAL, types.canon_name
local type_text = parser.type_text
local chain_start, check_chain, check_prop, check_method = checks.chain_start, checks.check_chain, checks.check_prop, checks.check_method
local check_type_known, check_pattern = checks.check_type_known, checks.check_pattern

local M = {}

------------------------------------------------------------------------------
-- code generation

local LUA_KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do LUA_KEYWORDS[w] = true end

local function lua_string(s)
  return '"' .. gsub(s, '[%c"\\\128-\255]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    if c == "\t" then return "\\t" end
    if byte(c) >= 128 then return c end
    return format("\\%03d", byte(c))
  end) .. '"'
end
M.lua_string = lua_string

local function lua_number(v, int)
  if int then
    if v == math.mininteger then return "math.mininteger" end
    return tostring(v)
  end
  if v ~= v then return "(0.0/0.0)" end
  if v == math.huge then return "(1.0/0.0)" end
  if v == -math.huge then return "(-1.0/0.0)" end
  local s = format("%.17g", v)
  for prec = 1, 17 do
    local c = format("%." .. prec .. "g", v)
    if tonumber(c) == v then s = c; break end
  end
  if not find(s, "[%.eEn]") then s = s .. ".0" end
  return s
end

-- Lua precedences: or 1, and 2, comparison 3, | 4, ~ 5, & 6, shift 7, .. 8, + - 9,
-- * / // % 10, unary 11, ^ 12, primary 14
local PREC_ATOM = 14

local G = {}
G.__index = G

-- what As<T>() may read a message body as (XML types are not supported)
local AS_TYPES = { string = true, ["byte[]"] = true, JObject = true, JArray = true, JToken = true }

local function new_gen(src, kind)
  return setmetatable({
    src = src, kind = kind, out = {}, depth = 1, tmp = 0,
    scope = { vars = {}, parent = nil },
    fn = { kind = "top", loops = 0 },
    pre = nil,
  }, G)
end

function G:line(s) self.out[#self.out + 1] = rep("  ", self.depth) .. s end

function G:temp(base)
  self.tmp = self.tmp + 1
  return "__" .. (base or "t") .. self.tmp
end

function G:push_scope() self.scope = { vars = {}, parent = self.scope } end
function G:pop_scope() self.scope = self.scope.parent end

function G:lookup(name)
  local s = self.scope
  while s do
    local v = s.vars[name]
    if v then return v end
    s = s.parent
  end
  return nil
end

local function lua_name(name)
  if LUA_KEYWORDS[name] or name == "rt" or name == "context" or name == "self"
    or find(name, "^__") or name == "_ENV" then
    return name .. "_"
  end
  return name
end

function G:declare(name, p, ty, kind)
  if self.scope.vars[name] then fail(p, "C# error: a local named '" .. name .. "' is already declared here") end
  local info = { lua = lua_name(name), type = ty, kind = kind or "local" }
  if name == "context" then
    fail(p, "C# error: a local named 'context' would hide the context parameter")
  end
  self.scope.vars[name] = info
  return info
end

-- static type of a declared C# type
local function static_of(ty)
  if not ty then return nil end
  if ty.rank > 0 or ty.nullable then return nil end
  local n = ty.name
  if n == "string" or n == "bool" or n == "char" then return n end
  if NUMERIC[n] then return n end
  return nil
end

local function wrap(code, prec, need)
  if prec < need then return "(" .. code .. ")" end
  return code
end

-- result: { code, prec, type (static, may be nil), nonnil (never nil/false), pieces (string concat) }
local function R(code, prec, ty, nonnil)
  return { code = code, prec = prec or PREC_ATOM, type = ty, nonnil = nonnil }
end

-- a value known never to be nil or false (safe for `c and a or b`)
local function truthy(r)
  return r.nonnil == true
end

-- Expressions whose evaluation is cheap and without effects (may be evaluated eagerly)
local function simple(node)
  local k = node.k
  return k == "str" or k == "num" or k == "bool" or k == "null" or k == "chr"
    or (k == "name" and not node.targs)
end

function G:expr(node)
  local f = self["e_" .. node.k]
  if not f then fail(node.p, "internal: no generator for " .. node.k) end
  return f(self, node)
end

function G:code(node, need)
  local r = self:expr(node)
  return wrap(r.code, r.prec, need or 0)
end

function G:e_num(n)
  if n.v < 0 then return R(lua_number(n.v, n.int), 11, n.int and "int" or "double", true) end
  return R(lua_number(n.v, n.int), PREC_ATOM, n.int and "int" or "double", true)
end
function G:e_str(n) return R(lua_string(n.v), PREC_ATOM, "string", true) end
function G:e_chr(n) return R(lua_string(n.v), PREC_ATOM, "char", true) end
function G:e_bool(n) return R(n.v and "true" or "false", PREC_ATOM, "bool", n.v) end
function G:e_null() return R("nil", PREC_ATOM) end
function G:e_paren(n) return self:expr(n.e) end

function G:e_default(n)
  local st = n.type.rank == 0 and not n.type.nullable and n.type.name
  if st == "bool" then return R("false", PREC_ATOM, "bool") end
  if NUMERIC[st] then
    return R(INTEGRAL[st] and "0" or "0.0", PREC_ATOM, st, true)
  end
  if st == "char" then return R('"\\0"', PREC_ATOM, "char", true) end
  return R("nil", PREC_ATOM)
end

-- string concatenation pieces: a string-typed operand, converted with rt.str
-- unless it is known never to be nil
function G:piece(node)
  if node.k == "num" or node.k == "bool" then return { lua_string(rt.str(node.v)) } end
  if node.k == "null" then return {} end
  local r = self:expr(node)
  if r.pieces then return r.pieces end
  if r.type == "string" and r.nonnil then return { wrap(r.code, r.prec, 9) } end
  return { "rt.str(" .. r.code .. ")" }
end

local function concat_result(pieces)
  local code
  if #pieces > 60 then
    -- Lua needs a register per operand of one `..` chain: concatenate in groups
    local groups = {}
    for i = 1, #pieces, 50 do groups[#groups + 1] = "(" .. concat(pieces, " .. ", i, math.min(i + 49, #pieces)) .. ")" end
    code = concat(groups, " .. ")
  else
    code = concat(pieces, " .. ")
  end
  return { code = code, prec = 8, type = "string", nonnil = true, pieces = pieces }
end

function G:e_istr(n)
  local pieces = {}
  for _, part in ipairs(n.parts) do
    if type(part) == "string" then
      pieces[#pieces + 1] = lua_string(part)
    else
      if part.fmt or part.align then
        local args = { self:code(part.e), part.fmt and lua_string(part.fmt) or "nil" }
        if part.align then args[3] = self:code(part.align) end
        pieces[#pieces + 1] = "rt.fmt(" .. concat(args, ", ") .. ")"
      else
        local sp = self:piece(part.e)
        for _, s in ipairs(sp) do pieces[#pieces + 1] = s end
      end
    end
  end
  if #pieces == 0 then return R('""', PREC_ATOM, "string", true) end
  if #pieces == 1 then
    local only = pieces[1]
    if find(only, '^"') or find(only, "^rt%.") then return R(only, PREC_ATOM, "string", true) end
  end
  return concat_result(pieces)
end

-- names: locals, parameters, local functions, `context`; anything else must be a type
function G:e_name(n)
  local v = self:lookup(n.v)
  if v then
    if n.targs then unsupported(n.p, n.v .. "<...>", "generic local functions are not supported") end
    return R(v.lua, PREC_ATOM, v.type, v.nonnil)
  end
  if n.v == "context" then return R("context", PREC_ATOM) end
  if n.v == "_" then fail(n.p, "C# error: '_' is a discard, not a value") end
  local ty = T[canon_name(n.v)]
  if ty then
    unsupported(n.p, n.v, "a type name is not a value here")
  end
  fail(n.p, format("unknown name '%s' (not a local variable, a parameter, 'context' or a supported type)", n.v))
end

-- The dotted text of a member chain rooted at a name that is not a local.
function G:chain_text(node)
  if node.k == "name" then
    if node.targs or self:lookup(node.v) or node.v == "context" then return nil end
    return node.v
  end
  if node.k == "member" and not node.nc and not node.targs then
    local base = self:chain_text(node.obj)
    if base then return base .. "." .. node.name end
  end
  return nil
end

-- the static type a chain names, or nil
function G:static_type(node)
  local text = self:chain_text(node)
  if not text then return nil end
  local name = canon_name(text)
  local info = T[name]
  if info then return info, name, text end
  return nil, nil, text
end

-- Type.Member (property or value)
function G:static_member(info, tname, member, p, text)
  local m = info.static and info.static[member]
  if not m then
    unsupported(p, text .. "." .. member, "member not in Portico's C# subset")
  end
  if m.m then fail(p, format("C# error: '%s.%s' is a method; call it with ( )", text, member)) end
  if m.enum then
    return R("rt.E." .. info.enum .. "." .. member, PREC_ATOM, nil, true)
  end
  if m.lua then
    local prec = find(m.lua, "^%-") and 11 or PREC_ATOM
    return R(m.lua, prec, m.type, m.lua ~= "nil" and m.lua ~= "false")
  end
  if m.v then return R("rt.T." .. info.rt .. "." .. member, PREC_ATOM, m.type, true) end
  return R("rt.T." .. info.rt .. "." .. member .. "()", PREC_ATOM, m.type, m.nonnil)
end

function G:e_member(n)
  if n.targs then fail(n.p, "C# syntax error: generic arguments without a call") end
  local info, tname, text = self:static_type(n.obj)
  if info then return self:static_member(info, tname, n.name, n.p, text) end
  if text then
    local full = text .. "." .. n.name
    if T[canon_name(full)] then unsupported(n.p, full, "a type name is not a value here") end
    check_chain(text, full, chain_start(n.obj))
  end
  check_prop(n.name, n.p)
  local obj = self:expr(n.obj)
  local fn = (n.nc or obj.nullprop) and "rt.nget" or "rt.get"
  local r = R(fn .. "(" .. obj.code .. ", " .. lua_string(n.name) .. ")", PREC_ATOM)
  r.nullprop = n.nc or obj.nullprop
  if n.name == "Length" or n.name == "Count" then r.type = "int" end
  return r
end

-- named arguments: placed by the parameter names of the few methods that have them
local PARAMS = {
  As = { "preserveContent" }, AsFormUrlEncodedContent = { "preserveContent" },
  GetValueOrDefault = { "key", "defaultValue" },
  Equals = { "value", "comparisonType" }, StartsWith = { "value", "comparisonType" },
  EndsWith = { "value", "comparisonType" }, Contains = { "value", "comparisonType" },
  IndexOf = { "value", "startIndex", "comparisonType" }, ToString = { "format" },
  Split = { "separator", "count", "options" }, Substring = { "startIndex", "length" },
  Replace = { "oldValue", "newValue" }, Round = { "value", "digits", "mode" },
  Parse = { "s" }, ToBase64String = { "inArray" },
}

-- arguments -> list of code strings; out arguments become results collected by a setter
function G:arglist(args, method, p)
  local codes, outs, named = {}, nil, nil
  for _, a in ipairs(args) do
    if a.name then
      named = named or {}
      named[#named + 1] = a
    elseif named then
      fail(a.p, "C# error: positional arguments cannot follow named arguments")
    elseif a.out then
      outs = outs or {}
      outs[#outs + 1] = a.out
    else
      if outs then unsupported(a.p, "argument after out", "out arguments must come last") end
      codes[#codes + 1] = self:code(a.e)
    end
  end
  if named then
    local params = PARAMS[method or ""]
    if not params then
      unsupported(named[1].p, named[1].name .. ":", "named arguments of '" .. tostring(method) .. "' are not supported")
    end
    for _, a in ipairs(named) do
      local pos
      for i, pn in ipairs(params) do if pn == a.name then pos = i end end
      if not pos then
        unsupported(a.p, a.name .. ":", "unknown parameter name of '" .. method .. "'")
      end
      if a.out then unsupported(a.p, "out", "named out arguments are not supported") end
      for i = #codes + 1, pos - 1 do codes[i] = "nil" end
      codes[pos] = self:code(a.e)
    end
  end
  local _ = p
  return codes, outs
end

-- `f(args, out x)`: the callee returns its result then the out values;
-- a setter local function (declared before the statement) stores them.
function G:with_outs(call, outs, p)
  if not outs then return call end
  if not self.pre then unsupported(p, "out", "out arguments are not supported here") end
  local names = {}
  for i, o in ipairs(outs) do
    if o.discard or o.name == "_" then
      names[i] = "_"
    else
      local v
      if o.decl then
        v = self:declare(o.name, o.p, static_of(o.type))
        self.pre[#self.pre + 1] = "local " .. v.lua
      else
        v = self:lookup(o.name)
        if not v then fail(o.p, "unknown name '" .. o.name .. "'") end
        if v.kind ~= "local" then fail(o.p, "C# error: '" .. o.name .. "' cannot be an out argument") end
      end
      names[i] = v.lua
    end
  end
  local setter = self:temp("out")
  local params, assigns = {}, {}
  for i, name in ipairs(names) do
    params[i] = "v" .. i
    if name ~= "_" then assigns[#assigns + 1] = name .. " = v" .. i end
  end
  self.pre[#self.pre + 1] = format("local function %s(r, %s) %s return r end", setter,
    concat(params, ", "), concat(assigns, "; ") .. (#assigns > 0 and ";" or ""))
  return setter .. "(" .. call .. ")"
end

local function join_args(first, codes)
  local all = {}
  if first then all[1] = first end
  for _, c in ipairs(codes) do all[#all + 1] = c end
  return concat(all, ", ")
end

function G:e_call(n)
  local fn = n.fn
  if fn.k == "name" then
    local v = self:lookup(fn.v)
    if not v then
      if fn.v == "nameof" then fail(fn.p, "C# syntax error: bad nameof") end
      fail(fn.p, format("unknown name '%s' (not a local function or a delegate)", fn.v))
    end
    if fn.targs then unsupported(fn.p, fn.v .. "<...>", "generic local functions are not supported") end
    local codes, outs = self:arglist(n.args, nil, n.p)
    if outs then unsupported(n.p, "out", "out arguments to local functions are not supported") end
    return R(v.lua .. "(" .. concat(codes, ", ") .. ")", PREC_ATOM, v.ret)
  end
  -- fn is a member
  local info, tname, text = self:static_type(fn.obj)
  if info then
    local m = info.static and info.static[fn.name]
    if not m then unsupported(fn.p, text .. "." .. fn.name, "member not in Portico's C# subset") end
    if not m.m then fail(fn.p, format("C# error: '%s.%s' is not a method", text, fn.name)) end
    local codes, outs = self:arglist(n.args, fn.name, n.p)
    local first
    if fn.targs then
      if not m.generic then unsupported(fn.p, text .. "." .. fn.name .. "<...>", "generic form not supported") end
      first = lua_string(type_text(fn.targs[1]))
    elseif m.generic then
      first = "nil"
    end
    if info.rt == "Regex" then check_pattern(n.args[2], fn.name) end
    local call = "rt.T." .. info.rt .. "." .. fn.name .. "(" .. join_args(first, codes) .. ")"
    return R(self:with_outs(call, outs, n.p), PREC_ATOM, m.type, m.nonnil)
  end
  if text then check_chain(text, text .. "." .. fn.name, chain_start(fn.obj)) end
  check_method(fn.name, fn.p)
  local name = fn.name
  if fn.targs then
    local ts = {}
    for i, ty in ipairs(fn.targs) do ts[i] = type_text(ty) end
    if fn.name == "As" and not AS_TYPES[ts[1]] then
      unsupported(fn.targs[1].p, "As<" .. ts[1] .. ">", "message bodies are read as string, byte[], JObject, JArray or JToken")
    end
    for _, ty in ipairs(fn.targs) do check_type_known(ty) end
    name = name .. "<" .. concat(ts, ",") .. ">"
  end
  local obj = self:expr(fn.obj)
  local codes, outs = self:arglist(n.args, fn.name, n.p)
  local nullprop = fn.nc or obj.nullprop
  local call = (nullprop and "rt.ncall(" or "rt.call(") .. join_args(obj.code, { lua_string(name) })
  if #codes > 0 then call = call .. ", " .. concat(codes, ", ") end
  call = call .. ")"
  local r = R(self:with_outs(call, outs, n.p), PREC_ATOM)
  r.nullprop = nullprop
  local mname = fn.name
  if mname == "ToString" or mname == "Substring" or mname == "ToLower" or mname == "ToUpper"
    or mname == "Trim" or mname == "Replace" or mname == "ToLowerInvariant"
    or mname == "ToUpperInvariant" or mname == "TrimStart" or mname == "TrimEnd"
    or mname == "PadLeft" or mname == "PadRight" then
    r.type = "string"
    r.nonnil = not nullprop
  elseif mname == "IndexOf" or mname == "LastIndexOf" then
    r.type = "int"
  end
  if fn.targs and #fn.targs == 1 and (mname == "GetValueOrDefault" or mname == "Value") then
    r.type = static_of(fn.targs[1])
  end
  return r
end

local LITERAL = { num = true, str = true, chr = true, bool = true, null = true, istr = true,
  new = true, newarray = true, newsized = true }

function G:e_invoke(n)
  if LITERAL[n.fn.k] then fail(n.p, "C# error: only methods and delegates can be invoked") end
  local f = self:expr(n.fn)
  local codes, outs = self:arglist(n.args, nil, n.p)
  if outs then unsupported(n.p, "out", "out arguments to delegates are not supported") end
  return R("(" .. f.code .. ")(" .. concat(codes, ", ") .. ")", PREC_ATOM)
end

function G:e_index(n)
  local obj = self:expr(n.obj)
  local codes, outs = self:arglist(n.args, nil, n.p)
  if outs then fail(n.p, "C# syntax error: out in an indexer") end
  local nullprop = n.nc or obj.nullprop
  local r = R((nullprop and "rt.nindex(" or "rt.index(") .. obj.code .. ", " .. concat(codes, ", ") .. ")", PREC_ATOM)
  r.nullprop = nullprop
  return r
end

local UNOPS = { ["!"] = "not ", ["-"] = "-", ["~"] = "~", ["+"] = "" }
function G:e_un(n)
  local e = self:expr(n.e)
  if n.op == "!" then
    return R("not " .. wrap(e.code, e.prec, 11), 11, "bool")
  elseif n.op == "~" then
    return R("rt.bnot(" .. e.code .. ")", PREC_ATOM, e.type)
  elseif n.op == "+" then
    return e
  end
  local code = wrap(e.code, e.prec, 11)
  if find(code, "^%-") then code = "(" .. code .. ")" end
  return R("-" .. code, 11, NUMERIC[e.type] and e.type or nil, NUMERIC[e.type] and true or nil)
end

local function numeric_result(a, b)
  if a == "double" or a == "float" or a == "decimal" or b == "double" or b == "float" or b == "decimal" then
    return "double"
  end
  if a == "long" or b == "long" then return "long" end
  return "int"
end

local CMP = { ["=="] = "==", ["!="] = "~=", ["<"] = "<", [">"] = ">", ["<="] = "<=", [">="] = ">=" }
local BITS = { ["&"] = "rt.band", ["|"] = "rt.bor", ["^"] = "rt.bxor", ["<<"] = "rt.shl", [">>"] = "rt.shr" }

function G:e_bin(n)
  local op = n.op
  if op == "&&" or op == "||" then
    local a, b = self:expr(n.a), self:expr(n.b)
    local lp = op == "&&" and 2 or 1
    return R(wrap(a.code, a.prec, lp) .. (op == "&&" and " and " or " or ") .. wrap(b.code, b.prec, lp + 1),
      lp, "bool")
  end
  if op == "+" then
    local a, b = self:expr(n.a), self:expr(n.b)
    if a.type == "string" or b.type == "string" then
      local pieces = {}
      local function add(r, node)
        if node.k == "num" or node.k == "bool" then pieces[#pieces + 1] = lua_string(rt.str(node.v))
        elseif node.k == "null" then return
        elseif r.pieces then for _, s in ipairs(r.pieces) do pieces[#pieces + 1] = s end
        elseif r.type == "string" and r.nonnil then pieces[#pieces + 1] = wrap(r.code, r.prec, 9)
        else pieces[#pieces + 1] = "rt.str(" .. r.code .. ")" end
      end
      add(a, n.a); add(b, n.b)
      return concat_result(pieces)
    end
    if NUMERIC[a.type] and NUMERIC[b.type] then
      return R(wrap(a.code, a.prec, 9) .. " + " .. wrap(b.code, b.prec, 10), 9, numeric_result(a.type, b.type), true)
    end
    return R("rt.add(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM)
  end
  local a, b = self:expr(n.a), self:expr(n.b)
  if CMP[op] then
    return R(wrap(a.code, a.prec, 4) .. " " .. CMP[op] .. " " .. wrap(b.code, b.prec, 4), 3, "bool")
  end
  if op == "-" or op == "*" then
    local ty = (NUMERIC[a.type] and NUMERIC[b.type]) and numeric_result(a.type, b.type) or nil
    if op == "-" and not ty then
      -- DateTime - TimeSpan and friends go through metamethods; numbers stay numbers
      return R("rt.sub(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM)
    end
    local bcode = wrap(b.code, b.prec, 11)
    if op == "-" and find(bcode, "^%-") then bcode = "(" .. bcode .. ")" end
    return R(wrap(a.code, a.prec, 10) .. " " .. op .. " " .. (op == "-" and wrap(b.code, b.prec, 10) or bcode), 10, ty, ty and true)
  end
  if op == "/" then
    if INTEGRAL[a.type] and INTEGRAL[b.type] then
      return R("rt.idiv(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM, numeric_result(a.type, b.type), true)
    end
    local ty = (NUMERIC[a.type] and NUMERIC[b.type]) and "double" or nil
    if ty == "double" then
      return R(wrap(a.code, a.prec, 10) .. " / " .. wrap(b.code, b.prec, 11), 10, "double", true)
    end
    return R("rt.div(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM)
  end
  if op == "%" then
    local ty = (NUMERIC[a.type] and NUMERIC[b.type]) and numeric_result(a.type, b.type) or nil
    return R("rt.mod(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM, ty, ty and true)
  end
  if BITS[op] then
    local ty = a.type
    if op == "&" or op == "|" or op == "^" then
      if a.type == "bool" or b.type == "bool" then ty = "bool" end
    end
    return R(BITS[op] .. "(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM, ty)
  end
  fail(n.p, "internal: operator " .. op)
end

-- `c ? a : b`: `c and a or b` when a can never be nil/false, else a small closure
function G:e_cond(n)
  local c, a, b = self:expr(n.c), self:expr(n.a), self:expr(n.b)
  local ty = (a.type == b.type) and a.type or nil
  if a.type == "string" and b.type == "string" then ty = "string" end
  if truthy(a) then
    return R(wrap(c.code, c.prec, 3) .. " and " .. wrap(a.code, a.prec, 3) .. " or " .. wrap(b.code, b.prec, 2),
      1, ty, truthy(b))
  end
  return R("(function() if " .. c.code .. " then return " .. a.code .. " end return " .. b.code .. " end)()",
    PREC_ATOM, ty, truthy(a) and truthy(b))
end

function G:e_coalesce(n)
  local a, b = self:expr(n.a), self:expr(n.b)
  if simple(n.b) or find(b.code, '^"[^"\\]*"$') or find(b.code, "^%-?[%d.]+$")
    or find(b.code, "^[%a_][%w_]*$") or find(b.code, "^rt%.E%.[%w_.]+$") then
    return R("rt.coalesce(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM, b.type, truthy(b))
  end
  return R("(function() local v = " .. a.code .. " if v == nil then return " .. b.code .. " end return v end)()",
    PREC_ATOM, (a.type == b.type) and a.type or nil, truthy(b))
end

-- how a cast to a type translates: convert (rt.cast), check (rt.cast, type check only),
-- none (the value passes through)
local function cast_kind(ty)
  if ty.rank > 0 then
    local n = ty.name
    if KEYWORD_TYPES[n] or T[n] or OPAQUE[n] then return "none" end
    return nil
  end
  local info = T[ty.name]
  if info and info.cast then return info.cast end
  if info and info.enum then return "none" end
  if OPAQUE[ty.name] then return "none" end
  return nil
end

function G:e_cast(n)
  local e = self:expr(n.e)
  local kind = cast_kind(n.type)
  if not kind then
    unsupported(n.type.p, "(" .. type_text(n.type) .. ")", "type not in Portico's C# subset")
  end
  if kind == "none" then return e end
  local st = static_of(n.type)
  local tt = type_text(n.type)
  if n.type.nullable then
    tt = n.type.name
    return R("rt.cast(" .. e.code .. ", " .. lua_string(tt) .. ", true)", PREC_ATOM)
  end
  if st and e.type == st and st ~= "string" then return R(e.code, e.prec, st, e.nonnil) end
  if st == "string" and e.type == "string" then return e end
  local r = R("rt.cast(" .. e.code .. ", " .. lua_string(tt) .. ")", PREC_ATOM, st)
  if NUMERIC[st] or st == "bool" then r.nonnil = st ~= "bool" end
  return r
end

function G:e_as(n)
  check_type_known(n.type)
  local e = self:expr(n.e)
  return R("rt.as(" .. e.code .. ", " .. lua_string(type_text(n.type)) .. ")", PREC_ATOM, static_of(n.type))
end

function G:e_isnull(n)
  local e = self:expr(n.e)
  return R(wrap(e.code, e.prec, 4) .. " == nil", 3, "bool")
end

function G:e_is(n)
  check_type_known(n.type)
  local e = self:expr(n.e)
  local tt = lua_string(type_text(n.type))
  if not n.bind then
    return R("rt.is(" .. e.code .. ", " .. tt .. ")", PREC_ATOM, "bool")
  end
  if not self.pre then unsupported(n.p, "is T x", "declaration patterns are not supported here") end
  local v = self:declare(n.bind, n.bind_p, static_of(n.type))
  local fname = self:temp("is")
  self.pre[#self.pre + 1] = "local " .. v.lua
  self.pre[#self.pre + 1] = format("local function %s(v) if rt.is(v, %s) then %s = v return true end return false end",
    fname, tt, v.lua)
  return R(fname .. "(" .. e.code .. ")", PREC_ATOM, "bool")
end

function G:e_new(n)
  local ty = n.type
  local name = ty.name
  if name == "Regex" then check_pattern(n.args[1], "new") end
  if not NEW[name] then
    unsupported(ty.p, "new " .. ty.dotted, "type not in Portico's C# subset")
  end
  if ty.nullable then unsupported(ty.p, "new " .. type_text(ty), "not supported") end
  local codes, outs = self:arglist(n.args, nil, n.p)
  if outs then unsupported(n.p, "out", "out arguments to constructors are not supported") end
  local code = "rt.new(" .. join_args(lua_string(name), codes) .. ")"
  if n.init then
    local items = {}
    for _, it in ipairs(n.init) do
      if it.kind == "set" then
        check_prop(it.name, it.p)
        items[#items + 1] = format('{ "set", %s, %s }', lua_string(it.name), self:code(it.value))
      elseif it.kind == "index" then
        items[#items + 1] = format('{ "index", %s, %s }', self:code(it.key), self:code(it.value))
      else
        local args = {}
        for i, a in ipairs(it.args) do args[i] = self:code(a) end
        items[#items + 1] = format('{ "add", %d, %s }', #args, concat(args, ", "))
      end
    end
    code = "rt.init(" .. code .. ", " .. concat(items, ", ") .. ")"
  end
  return R(code, PREC_ATOM, name == "string" and "string" or nil, true)
end

local function elem_name(ty)
  if not ty then return "" end
  if ty.rank > 0 then return "object" end
  return ty.name
end

function G:e_newarray(n)
  if n.type then check_type_known(n.type) end
  local items = {}
  for i, it in ipairs(n.items) do
    if it.k == "newarray" and not it.type then it.type = n.type and { k = "type", name = n.type.name, rank = 0, p = it.p } end
    items[i] = self:code(it)
  end
  local args = { lua_string(elem_name(n.type)), tostring(#items) }
  for _, c in ipairs(items) do args[#args + 1] = c end
  return R("rt.array_of(" .. concat(args, ", ") .. ")", PREC_ATOM, nil, true)
end

function G:e_newsized(n)
  check_type_known(n.type)
  if n.rank > 0 then unsupported(n.p, "jagged array", "not supported") end
  return R("rt.new_array(" .. lua_string(n.type.name) .. ", " .. self:code(n.size) .. ")", PREC_ATOM, nil, true)
end

-- lambdas become Lua functions; their parameters are untyped
function G:e_lambda(n)
  local saved_fn, saved_out, saved_depth, saved_pre = self.fn, self.out, self.depth, self.pre
  self.fn = { kind = "lambda", loops = 0 }
  self.out = {}
  self.depth = 1
  self:push_scope()
  local params = {}
  for i, prm in ipairs(n.params) do
    if prm.name == "_" then params[i] = "_"
    else
      local v = self:declare(prm.name, prm.p, static_of(prm.type))
      params[i] = v.lua
    end
  end
  local body = n.body.body
  local code
  if #body == 1 and body[1].k == "return" and body[1].e then
    self.pre = {}
    local r = self:expr(body[1].e)
    if #self.pre > 0 then
      code = "function(" .. concat(params, ", ") .. ") " .. concat(self.pre, " ") .. " return " .. r.code .. " end"
    else
      code = "function(" .. concat(params, ", ") .. ") return " .. r.code .. " end"
    end
  else
    self:stmts(body)
    local lines = self.out
    local ind = rep("  ", saved_depth)
    for i, l in ipairs(lines) do lines[i] = ind .. l end
    code = "function(" .. concat(params, ", ") .. ")\n" .. concat(lines, "\n") .. "\n" .. ind .. "end"
  end
  self:pop_scope()
  self.fn, self.out, self.depth, self.pre = saved_fn, saved_out, saved_depth, saved_pre
  return R(code, PREC_ATOM, nil, true)
end

function G:e_incdec(n)
  unsupported(n.p, n.op, "increment and decrement are only supported as statements")
end

function G:e_assign(n)
  unsupported(n.p, n.op, "assignment is only supported as a statement")
end

function G:e_type(n)
  unsupported(n.p, n.dotted, "a type name is not a value here")
end

M.G, M.new_gen, M.lua_string, M.wrap, M.static_of, M.simple = G, new_gen, lua_string, wrap, static_of, simple

return M
