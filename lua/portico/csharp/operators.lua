-- csharp/operators.lua - C# operators whose meaning depends on the operands' run-time
-- types (the translator emits plain Lua operators when the static types are known).
--
-- Owns: ordering (rt.compare: Sort, OrderBy, Min, Max), + (string concatenation or
-- addition, DateTime + TimeSpan through metamethods), -, integer division truncating
-- toward zero (rt.idiv) and rt.div/rt.mod, int32 wrapping (rt.int32), & | ^ ~ on
-- booleans, integers and flag enumerations, << >> with C#'s 32/64-bit rules, ??.
--
-- Does not own: == (plain Lua ==, and rt.equals in core.lua), casts, is, as
-- (casts.lua), the object model (csharp.lua).

local floor, mtype, tointeger, fmod = math.floor, math.type, math.tointeger, math.fmod
local type, pairs, tostring, setmetatable, pcall = type, pairs, tostring, setmetatable, pcall

local core = require "portico.csharp.core"
local M, E = core.rt, core.E
local cls, throw, type_name, str, need_int, Enum = core.cls, core.throw, core.type_name, core.str, core.need_int, core.Enum

------------------------------------------------------------------------------
-- operators

-- ordering for Sort/OrderBy/Min/Max: numbers, strings (ordinal), booleans, DateTime...
function M.compare(a, b)
  if a == b then return 0 end
  if a == nil then return -1 end
  if b == nil then return 1 end
  local ta, tb = type(a), type(b)
  if ta == "boolean" and tb == "boolean" then return a and 1 or -1 end
  if ta == tb and (ta == "number" or ta == "string") then return a < b and -1 or 1 end
  local ok, lt = pcall(function() return a < b end)
  if ok then return lt and -1 or 1 end
  throw("InvalidOperationException", "cannot compare " .. type_name(a) .. " with " .. type_name(b))
end

function M.add(a, b)
  local ta, tb = type(a), type(b)
  if ta == "string" or tb == "string" then return str(a) .. str(b) end
  if ta == "number" and tb == "number" then return a + b end
  if a == nil or b == nil then return nil end
  local ca, cb = cls(a), cls(b)
  if (ca and ca.__add) or (cb and cb.__add) then return a + b end
  throw("InvalidOperationException", "operator '+' cannot be applied to " .. type_name(a) .. " and " .. type_name(b))
end

function M.sub(a, b)
  if type(a) == "number" and type(b) == "number" then return a - b end
  if a == nil or b == nil then return nil end
  local ca = cls(a)
  if ca and ca.__sub then return a - b end
  throw("InvalidOperationException", "operator '-' cannot be applied to " .. type_name(a) .. " and " .. type_name(b))
end

-- C# integer division truncates toward zero and throws on zero
function M.idiv(a, b)
  if a == nil or b == nil then return nil end
  if b == 0 then throw("DivideByZeroException", "Attempted to divide by zero.") end
  if mtype(a) == "integer" and mtype(b) == "integer" then
    local q = a // b
    if q < 0 and q * b ~= a then q = q + 1 end
    return q
  end
  local q = a / b
  q = q >= 0 and floor(q) or -floor(-q)
  return tointeger(q) or q
end

function M.div(a, b)
  if a == nil or b == nil then return nil end
  if mtype(a) == "integer" and mtype(b) == "integer" then return M.idiv(a, b) end
  if type(a) ~= "number" or type(b) ~= "number" then
    throw("InvalidOperationException", "operator '/' cannot be applied to " .. type_name(a) .. " and " .. type_name(b))
  end
  return a / b
end

function M.mod(a, b)
  if a == nil or b == nil then return nil end
  if mtype(a) == "integer" and mtype(b) == "integer" then
    if b == 0 then throw("DivideByZeroException", "Attempted to divide by zero.") end
    return fmod(a, b)
  end
  return fmod(a, b)
end

local function int32(v)
  v = v & 0xffffffff
  if v >= 0x80000000 then v = v - 0x100000000 end
  return v
end
M.int32 = int32

local function bool_or_int(a, b, what)
  if type(a) == "boolean" and type(b) == "boolean" then return "bool" end
  if mtype(a) == "integer" and mtype(b) == "integer" then return "int" end
  if type(a) == "table" and type(b) == "table" and a.enum_type and a.enum_type == b.enum_type then return "enum" end
  throw("InvalidOperationException", "operator '" .. what .. "' cannot be applied to " .. type_name(a) .. " and " .. type_name(b))
end
local function enum_of(proto, value)
  for _, e in pairs(E[proto.enum_type]) do if e.value == value then return e end end
  return setmetatable({ enum_type = proto.enum_type, name = tostring(value), value = value }, Enum)
end
function M.band(a, b)
  local k = bool_or_int(a, b, "&")
  if k == "bool" then return a and b end
  if k == "enum" then return enum_of(a, a.value & b.value) end
  return a & b
end
function M.bor(a, b)
  local k = bool_or_int(a, b, "|")
  if k == "bool" then return a or b end
  if k == "enum" then return enum_of(a, a.value | b.value) end
  return a | b
end
function M.bxor(a, b)
  local k = bool_or_int(a, b, "^")
  if k == "bool" then return a ~= b end
  return a ~ b
end
function M.bnot(a)
  if mtype(a) ~= "integer" then throw("InvalidOperationException", "operator '~' needs an integer") end
  return ~a
end
local function in32(a) return a >= -2147483648 and a <= 4294967295 end
-- shifts: 32-bit semantics (count masked by 31, result wrapped) when the value fits
-- in 32 bits, 64-bit otherwise (C# would know from the static type)
function M.shl(a, n)
  a, n = need_int(a, "value"), need_int(n, "count")
  if in32(a) then return int32(a << (n & 31)) end
  return a << (n & 63)
end
function M.shr(a, n)
  a, n = need_int(a, "value"), need_int(n, "count")
  if in32(a) then
    a = int32(a)
    n = n & 31
  else
    n = n & 63
  end
  if n == 0 then return a end
  if a >= 0 then return a >> n end
  return (a >> n) | ~(-1 >> n)
end

function M.coalesce(a, b)
  if a == nil then return b end
  return a
end

return { int32 = int32 }
