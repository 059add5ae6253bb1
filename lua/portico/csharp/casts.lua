-- csharp/casts.lua - conversions in the C# run-time library: (T)v, is, as,
-- default(T) and System.Convert.
--
-- Owns: rt.cast (numeric conversions truncate and wrap as C# does, JSON strings
-- convert like Newtonsoft's explicit operators, null to a value type throws), the
-- per-type casts (rt.CASTS), rt.default_of, rt.is / rt.as (type tests by class,
-- base classes, arrays, List/Dictionary/IEnumerable), and the Convert statics
-- (ToInt32 rounding to even, ToBase64String, ToString(v, base), ToHexString...).
--
-- Does not own: parsing numbers (numbers.lua), obj.M<T>() results (rt.generic_result,
-- json.lua), operators (operators.lua), the object model (csharp.lua).

local byte, char, find, format, gsub, lower, sub, match =
  string.byte, string.char, string.find, string.format, string.gsub, string.lower,
  string.sub, string.match
local concat = table.concat
local floor, mtype, tointeger = math.floor, math.type, math.tointeger
local type, pairs, tostring, tonumber = type, pairs, tostring, tonumber
local utf8char = utf8.char
local rawequal = rawequal

local core = require "portico.csharp.core"
local collections = require "portico.csharp.collections"
local numbers = require "portico.csharp.numbers"
local encoding = require "portico.csharp.encoding"
local json = require "portico.csharp.json"
local time = require "portico.csharp.time"
local random = require "portico.csharp.random"
local operators = require "portico.csharp.operators"
local M, T = core.rt, core.T
local cls, throw, type_name, invalid_cast, str = core.cls, core.throw, core.type_name, core.invalid_cast, core.str
local JNULL, Enum, slen = core.JNULL, core.Enum, core.slen
local Array, List, Bytes, Dictionary = collections.Array, collections.List, collections.Bytes, collections.Dictionary
local bytes, raw_bytes = collections.bytes, collections.raw_bytes
local INT_RANGE, parse_integer, parse_double = numbers.INT_RANGE, numbers.parse_integer, numbers.parse_double
local format_error, fmt_value = numbers.format_error, numbers.fmt_value
local numeric_statics, round_even = numbers.numeric_statics, numbers.round_even
local base64_encode, base64_decode, Uri = encoding.base64_encode, encoding.base64_decode, encoding.Uri
local JObject, JArray = json.JObject, json.JArray
local DateTime, DateTimeOffset, TimeSpan = time.DateTime, time.DateTimeOffset, time.TimeSpan
local Guid = random.Guid
local int32 = operators.int32

------------------------------------------------------------------------------
-- casts, is, as

local function to_integer(v, T)
  local t = type(v)
  local r = INT_RANGE[T]
  local x
  if mtype(v) == "integer" then x = v
  elseif t == "number" then
    if v ~= v then return r[1] end
    x = v >= 0 and floor(v) or -floor(-v)
    x = tointeger(x) or (v > 0 and r[2] or r[1])
  elseif t == "string" then
    -- a JSON string value converts (Newtonsoft's explicit conversion)
    local e
    x, e = parse_integer(v, "long")
    if not x then
      if e == "overflow" then throw("OverflowException", "Value was either too large or too small for an " .. r[3] .. ".") end
      format_error(v)
    end
  elseif t == "boolean" then x = v and 1 or 0
  elseif t == "table" and v.enum_type then x = v.value
  else invalid_cast(v, r[3]) end
  if T == "int" then return int32(x) end
  if T == "long" or T == "ulong" then return x end
  local span = r[2] - r[1] + 1
  x = (x - r[1]) % span + r[1]
  return x
end

local CASTS = {}
M.CASTS = CASTS
for name in pairs(INT_RANGE) do CASTS[name] = function(v) return to_integer(v, name) end end
local function to_double(v)
  local t = type(v)
  if t == "number" then return v + 0.0 end
  if t == "string" then
    local d = parse_double(v)
    if not d then format_error(v) end
    return d
  end
  if t == "boolean" then return v and 1.0 or 0.0 end
  invalid_cast(v, "Double")
end
CASTS.double, CASTS.float, CASTS.decimal = to_double, to_double, to_double
CASTS.string = function(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" or t == "boolean" then return str(v) end
  local C = cls(v)
  if C == Guid or C == Uri or C == DateTime or C == DateTimeOffset or C == TimeSpan or C == Enum then
    return str(v)
  end
  invalid_cast(v, "System.String")
end
CASTS.bool = function(v)
  local t = type(v)
  if t == "boolean" then return v end
  if t == "string" then
    local l = lower(match(v, "^%s*(.-)%s*$"))
    if l == "true" then return true end
    if l == "false" then return false end
    format_error(v)
  end
  if t == "number" then return v ~= 0 end
  invalid_cast(v, "System.Boolean")
end
CASTS.char = function(v)
  if type(v) == "string" and slen(v) == 1 then return v end
  if mtype(v) == "integer" then return utf8char(v) end
  invalid_cast(v, "System.Char")
end
CASTS.JObject = function(v)
  if cls(v) == JObject then return v end
  if cls(v) == Dictionary then return M.T.JObject.FromObject(v) end
  invalid_cast(v, "Newtonsoft.Json.Linq.JObject")
end
CASTS.JArray = function(v)
  if cls(v) == JArray then return v end
  invalid_cast(v, "Newtonsoft.Json.Linq.JArray")
end
local function is_json(v)
  local t = type(v)
  return t == "string" or t == "number" or t == "boolean" or cls(v) == JObject or cls(v) == JArray
end
CASTS.JToken = function(v)
  if is_json(v) then return v end
  invalid_cast(v, "Newtonsoft.Json.Linq.JToken")
end
CASTS.JValue = function(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return v end
  invalid_cast(v, "Newtonsoft.Json.Linq.JValue")
end
CASTS.DateTime = function(v)
  local C = cls(v)
  if C == DateTime then return v end
  if C == DateTimeOffset then return M.get(v, "DateTime") end
  if type(v) == "string" then return M.T.DateTime.Parse(v) end
  invalid_cast(v, "System.DateTime")
end
CASTS.DateTimeOffset = function(v)
  local C = cls(v)
  if C == DateTimeOffset then return v end
  if C == DateTime then return M.new("DateTimeOffset", v) end
  if type(v) == "string" then return M.T.DateTimeOffset.Parse(v) end
  invalid_cast(v, "System.DateTimeOffset")
end
CASTS.TimeSpan = function(v)
  if cls(v) == TimeSpan then return v end
  if type(v) == "string" then return M.T.TimeSpan.Parse(v) end
  invalid_cast(v, "System.TimeSpan")
end
CASTS.Guid = function(v)
  if cls(v) == Guid then return v end
  if type(v) == "string" then return M.T.Guid.Parse(v) end
  invalid_cast(v, "System.Guid")
end
CASTS.Uri = function(v)
  if cls(v) == Uri then return v end
  if type(v) == "string" then return M.new("Uri", v) end
  invalid_cast(v, "System.Uri")
end

local VALUE_TYPES = { bool = true, char = true, double = true, float = true, decimal = true,
  DateTime = true, DateTimeOffset = true, TimeSpan = true, Guid = true }
for name in pairs(INT_RANGE) do VALUE_TYPES[name] = true end

-- (T)v; `nullable` for (T?)v
function M.cast(v, T, nullable)
  if v == nil or rawequal(v, JNULL) then
    if VALUE_TYPES[T] and not nullable then
      throw("NullReferenceException", "Object reference not set to an instance of an object (cast of null to " .. T .. ").")
    end
    return nil
  end
  local f = CASTS[T]
  if f then return f(v) end
  return v
end

function M.default_of(T)
  if T == "bool" then return false end
  if INT_RANGE[T] then return 0 end
  if T == "double" or T == "float" or T == "decimal" then return 0.0 end
  if T == "char" then return "\0" end
  return nil
end

local IS = {
  string = function(v) return type(v) == "string" end,
  char = function(v) return type(v) == "string" and slen(v) == 1 end,
  bool = function(v) return type(v) == "boolean" end,
  object = function(v) return v ~= nil end,
  dynamic = function(v) return v ~= nil end,
  JToken = is_json,
  JValue = function(v) local t = type(v); return t == "string" or t == "number" or t == "boolean" end,
}
for name in pairs(INT_RANGE) do IS[name] = function(v) return mtype(v) == "integer" end end
IS.double = function(v) return mtype(v) == "float" end
IS.float, IS.decimal = IS.double, IS.double

function M.is(v, T)
  if v == nil or rawequal(v, JNULL) then return false end
  local f = IS[T]
  if f then return f(v) end
  local base, rank = match(T, "^(.-)(%[%]+)$")
  if base then
    if base == "byte" then return cls(v) == Bytes end
    return cls(v) == Array
  end
  local gbase = match(T, "^([%w_]+)<")
  local name = gbase or T
  local C = cls(v)
  if C then
    if name == "List" then return C == List end
    if name == "Dictionary" or name == "IDictionary" or name == "IReadOnlyDictionary" then return C == Dictionary end
    if name == "IEnumerable" then return C.iter ~= nil end
    local K = C
    while K do
      if K.__name == name then return true end
      K = K.base
    end
    return false
  end
  if name == "IEnumerable" then return type(v) == "string" or (type(v) == "table" and v.GetEnumerator ~= nil) end
  local _ = rank
  return type_name(v) == name
end

function M.as(v, T)
  if M.is(v, T) then return v end
  return nil
end

------------------------------------------------------------------------------
-- static class Convert

local function convert_int(kind)
  local r = INT_RANGE[kind]
  return function(v, base)
    if v == nil then return 0 end
    local t = type(v)
    if t == "string" then
      if base and base ~= 10 then
        local txt = lower(match(v, "^%s*(.-)%s*$"))
        if base == 16 then txt = gsub(txt, "^0x", "") end
        local x = tonumber(txt, base)
        if not x then format_error(v) end
        if kind == "int" and x > 0x7fffffff and x <= 0xffffffff then x = x - 0x100000000 end
        return x
      end
      return numeric_statics(kind).Parse(v)
    end
    if t == "boolean" then return v and 1 or 0 end
    if mtype(v) == "float" then
      if v ~= v or v >= r[2] + 0.5 or v <= r[1] - 0.5 then
        throw("OverflowException", "Value was either too large or too small for an " .. r[3] .. ".")
      end
      return tointeger(round_even(v))
    end
    if mtype(v) == "integer" then
      if v < r[1] or v > r[2] then throw("OverflowException", "Value was either too large or too small for an " .. r[3] .. ".") end
      return v
    end
    if t == "table" and v.enum_type then return v.value end
    invalid_cast(v, r[3])
  end
end

T.Convert = {
  ToBase64String = function(b, offset, length)
    local s = raw_bytes(b, "inArray")
    if offset then s = sub(s, offset + 1, offset + (length or #s)) end
    return base64_encode(s)
  end,
  FromBase64String = function(s)
    if s == nil then throw("ArgumentNullException", "Value cannot be null. (Parameter 's')") end
    local r = base64_decode(s)
    if not r then
      throw("FormatException", "The input is not a valid Base-64 string as it contains a non-base 64 character, "
        .. "more than two padding characters, or an illegal character among the padding characters.")
    end
    return bytes(r)
  end,
  ToInt32 = convert_int("int"), ToInt64 = convert_int("long"), ToInt16 = convert_int("short"),
  ToByte = convert_int("byte"),
  ToDouble = function(v)
    if v == nil then return 0.0 end
    return to_double(v)
  end,
  ToBoolean = function(v)
    if v == nil then return false end
    return CASTS.bool(v)
  end,
  ToString = function(v, base)
    if mtype(base) == "integer" and mtype(v) == "integer" then
      if base == 16 then return format("%x", v < 0 and v >= -2147483648 and (v & 0xffffffff) or v) end
      if base == 2 then
        local bits = {}
        local x = v < 0 and (v & 0xffffffff) or v
        repeat bits[#bits + 1] = tostring(x & 1); x = x >> 1 until x == 0
        return concat(bits):reverse()
      end
      if base == 8 then return format("%o", v) end
    end
    if type(base) == "string" then return fmt_value(v, base) end
    return str(v)
  end,
  ToChar = function(v)
    if mtype(v) == "integer" then return utf8char(v) end
    return CASTS.char(v)
  end,
  ToHexString = function(b)
    return (gsub(raw_bytes(b), ".", function(c) return format("%02X", byte(c)) end))
  end,
  FromHexString = function(s)
    if #s % 2 == 1 or find(s, "%X") then format_error(s) end
    return bytes((gsub(s, "%x%x", function(h) return char(tonumber(h, 16)) end)))
  end,
  ToDateTime = function(v) return CASTS.DateTime(v) end,
}
T.Convert.ToDecimal = T.Convert.ToDouble
T.Convert.ToSingle = T.Convert.ToDouble

return { CASTS = CASTS }
