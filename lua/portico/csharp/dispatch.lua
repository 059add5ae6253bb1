-- csharp/dispatch.lua - member access, calls and indexers: the entry points of the
-- generated code (the convention is documented at the top of csharp.lua).
--
-- Owns: rt.get / rt.nget (o.Name, o?.Name), rt.call / rt.ncall (o.M(...), with
-- generic names "M<T>"), rt.index / rt.nindex (o[k]), rt.set / rt.setindex
-- (assignments), rt.init (object and collection initializers), and where a member is
-- looked up: C# classes (props/methods of the metatable, then LINQ for enumerables,
-- then the members of every object), strings (rt.String, then jwt.lua's extension
-- methods), numbers and booleans (numbers.lua), functions (Invoke), and plain context
-- objects (PascalCase fields and functions).
--
-- Does not own: the members themselves (the type modules of portico/csharp/), the
-- object model's documentation (csharp.lua).

local format, sub = string.format, string.sub
local mtype = math.type
local type, tostring, select, getmetatable, rawget = type, tostring, select, getmetatable, rawget
local unpack = table.unpack

local core = require "portico.csharp.core"
local numbers = require "portico.csharp.numbers"
local collections = require "portico.csharp.collections"
local json = require "portico.csharp.json"
local jwt = require "portico.csharp.jwt"
local M = core.rt
local cls, throw, type_name, null_ref, not_member = core.cls, core.throw, core.type_name, core.null_ref, core.not_member
local str, equals, split_generic = core.str, core.equals, core.split_generic
local ascii, slen, bpos = core.ascii, core.slen, core.bpos
local SM = core.String.methods
local STRING_METHODS = SM
local NumberMethods, BoolMethods = numbers.NumberMethods, numbers.BoolMethods
local LINQ = collections.LINQ
local generic_result = json.generic_result
local JWT_METHODS = jwt.JWT_METHODS -- AsJwt, TryParseJwt on strings

------------------------------------------------------------------------------
-- member access, calls and indexers

local OBJECT_METHODS = {}
function OBJECT_METHODS.ToString(o) return str(o) end
function OBJECT_METHODS.Equals(o, x) return equals(o, x) end
function OBJECT_METHODS.GetHashCode(o) return SM.GetHashCode(tostring(o)) end
function OBJECT_METHODS.GetType(o) return type_name(o) end

function M.get(o, name)
  local t = type(o)
  if t == "table" or t == "userdata" then
    local C = getmetatable(o)
    if C ~= nil and type(C) == "table" and rawget(C, "__cs") then
      local g = C.props[name]
      if g then return g(o) end
      if name == "HasValue" then return true end
      if name == "Value" and C.props.Value == nil then return o end
      not_member(o, name)
    end
    return o[name]
  elseif t == "string" then
    if name == "Length" then return slen(o) end
  elseif t == "nil" then
    if name == "HasValue" then return false end
    if name == "Value" then throw("InvalidOperationException", "Nullable object must have a value.") end
    null_ref(name)
  end
  if name == "HasValue" then return true end
  if name == "Value" then return o end
  not_member(o, name)
end

function M.nget(o, name)
  if o == nil then return nil end
  return M.get(o, name)
end

local function call_linq(o, name, g, ...)
  local f = LINQ[name]
  if f then return f(o, ...) end
  if g then
    f = LINQ[g[1]]
    if f then return f(o, g[2], ...) end
  end
  return nil
end

local function call_table(o, name, ...)
  local C = getmetatable(o)
  if C ~= nil and type(C) == "table" and rawget(C, "__cs") then
    local f = C.methods[name]
    if f then return f(o, ...) end
    local g = split_generic(name)
    if g then
      f = C.methods[g[1]]
      if f then return f(o, g[2], ...) end
    end
    if C.iter and (LINQ[name] or (g and LINQ[g[1]])) then return call_linq(o, name, g, ...) end
    f = OBJECT_METHODS[name]
    if f then return f(o, ...) end
    not_member(o, name)
  end
  local f = o[name]
  if f ~= nil then return f(o, ...) end
  local g = split_generic(name)
  if g then
    f = o[g[3]]
    if f ~= nil then return generic_result(f(o, ...), g[2]) end
  end
  if (LINQ[name] or (g and LINQ[g[1]])) and (o.GetEnumerator or (type(o) == "table" and getmetatable(o) == nil)) then
    return call_linq(o, name, g, ...)
  end
  f = OBJECT_METHODS[name]
  if f then return f(o, ...) end
  not_member(o, name)
end


function M.call(o, name, ...)
  local t = type(o)
  if t == "table" or t == "userdata" then return call_table(o, name, ...) end
  if t == "string" then
    local f = STRING_METHODS[name] or JWT_METHODS[name]
    if f then return f(o, ...) end
    local g = split_generic(name)
    if LINQ[name] or (g and LINQ[g[1]]) then return call_linq(o, name, g, ...) end
    not_member(o, name)
  elseif t == "number" then
    local f = NumberMethods[name]
    if f then return f(o, ...) end
    not_member(o, name)
  elseif t == "boolean" then
    local f = BoolMethods[name]
    if f then return f(o, ...) end
    not_member(o, name)
  elseif t == "nil" then
    if name == "GetValueOrDefault" then return ... end
    null_ref(name)
  elseif t == "function" and name == "Invoke" then
    return o(...)
  end
  not_member(o, name)
end

function M.ncall(o, name, ...)
  if o == nil then return nil end
  return M.call(o, name, ...)
end

function M.index(o, k)
  local t = type(o)
  if t == "string" then
    local a = ascii(o)
    local n = a and #o or slen(o)
    if mtype(k) ~= "integer" then throw("ArgumentException", "string index must be an integer") end
    if k < 0 or k >= n then throw("IndexOutOfRangeException", "Index was outside the bounds of the array.") end
    if a then return sub(o, k + 1, k + 1) end
    local b = bpos(o, k, false)
    return sub(o, b, bpos(o, k + 1, false) - 1)
  end
  if t == "table" or t == "userdata" then
    local C = cls(o)
    if C then
      if C.index then return C.index(o, k) end
      throw("InvalidOperationException", "cannot apply indexing with [] to " .. type_name(o))
    end
    local gi = o.get_Item
    if gi then return gi(o, k) end
    if mtype(k) == "integer" and t == "table" and getmetatable(o) == nil then return o[k + 1] end
    return o[k]
  end
  if t == "nil" then null_ref("[" .. str(k) .. "]") end
  throw("InvalidOperationException", "cannot apply indexing with [] to " .. type_name(o))
end

function M.nindex(o, k)
  if o == nil then return nil end
  return M.index(o, k)
end

function M.set(o, name, v)
  local C = cls(o)
  if C then
    local s = C.setters[name]
    if s then s(o, v); return end
    throw("InvalidOperationException", format("'%s' of %s cannot be assigned", name, type_name(o)))
  end
  if o == nil then null_ref(name) end
  throw("InvalidOperationException", format("'%s' of %s cannot be assigned (the context is read-only in expressions)",
    name, type_name(o)))
end

function M.setindex(o, k, v)
  local C = cls(o)
  if C and C.setindex then C.setindex(o, k, v); return end
  if o == nil then null_ref("[" .. str(k) .. "]") end
  if type(o) == "table" or type(o) == "userdata" then
    local si = o.set_Item
    if si then si(o, k, v); return end
  end
  throw("InvalidOperationException", type_name(o) .. " cannot be assigned through an indexer (the context is read-only in expressions)")
end

-- collection and object initializers: { "add", n, args... } | { "set", name, v } | { "index", k, v }
function M.init(o, ...)
  for i = 1, select("#", ...) do
    local it = select(i, ...)
    local kind = it[1]
    if kind == "add" then M.call(o, "Add", unpack(it, 3, 2 + it[2]))
    elseif kind == "set" then M.set(o, it[2], it[3])
    else M.setindex(o, it[2], it[3]) end
  end
  return o
end

return { OBJECT_METHODS = OBJECT_METHODS }
