-- csharp/core.lua - the core of the C# run-time library (`rt`): the object model's
-- building blocks every other part of portico/csharp/ uses.
--
-- Owns: the `rt` table itself and its rt.T (statics), rt.E (enumerations) and rt.NEW
-- (constructors) tables; classes (C# types as metatables, rt.CLASSES); exceptions
-- (rt.exception, rt.throw, rt.try, rt.message and `new XxxException(...)`); type
-- names; JSON null (rt.JNULL) and C# ToString (rt.str); strings as values (0-based
-- character indexes over UTF-8) and the member table of strings (rt.String, filled by
-- strings.lua); argument checks; enumerations (rt.E, rt.ENUMS); equality with JSON
-- null (rt.equals); generic member names ("Value<string>"); rt.new.
--
-- Does not own: the object model's documentation (csharp.lua, which assembles
-- portico/csharp/*.lua into `rt`), member access and calls (dispatch.lua), the types
-- themselves (strings.lua, numbers.lua, collections.lua, json.lua, time.lua...).
--
-- Returns the internals the other modules share (`core.rt` is the `rt` table);
-- require "portico.csharp" for the runtime itself.

local find, format, gsub, rep, sub, match =
  string.find, string.format, string.gsub, string.rep, string.sub, string.match
local floor, huge, mtype, tointeger, abs = math.floor, math.huge, math.type, math.tointeger, math.abs
local type, error, ipairs, pairs, tostring, tonumber, setmetatable, getmetatable, pcall =
  type, error, ipairs, pairs, tostring, tonumber, setmetatable, getmetatable, pcall
local utf8len, utf8offset = utf8.len, utf8.offset
local rawequal = rawequal

local M = {}

-- what the translator may emit as static members (rt.T.<Type>.<Member>) and enums
local T = {}
M.T = T
local E = {}
M.E = E
-- constructors: rt.new("T", ...) -> NEW.T(...)
local NEW = {}
M.NEW = NEW

------------------------------------------------------------------------------
-- classes: metatables carrying C# members; `props` are getters, `methods` take the
-- object first, `setters` serve assignments and object initializers

local CLASSES = {}
local function class(name, base)
  local C = { __name = name, __cs = true, props = {}, methods = {}, setters = {}, base = base }
  if base then
    setmetatable(C.props, { __index = base.props })
    setmetatable(C.methods, { __index = base.methods })
    setmetatable(C.setters, { __index = base.setters })
    -- tostring/iter/index/... follow the base even when set later; metamethods are
    -- read raw by Lua, so those are copied
    setmetatable(C, { __index = base })
    C.__tostring = base.__tostring
  end
  CLASSES[name] = C
  return C
end
M.CLASSES = CLASSES

local function cls(v)
  local t = type(v)
  if t ~= "table" and t ~= "userdata" then return nil end
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__cs then return mt end
  return nil
end

------------------------------------------------------------------------------
-- exceptions

local Exception = class("Exception")
Exception.props.Message = function(e) return e.Message end
Exception.props.InnerException = function(e) return e.InnerException end
Exception.props.StackTrace = function() return nil end
Exception.props.Source = function() return "Portico" end
Exception.__tostring = function(e) return e.ClassName .. ": " .. tostring(e.Message) end
Exception.tostring = function(e) return "System." .. e.ClassName .. ": " .. tostring(e.Message) end
Exception.methods.GetType = function(e) return e.ClassName end

local EXC = { Exception = Exception }
M.EXCEPTION_TYPES = { Exception = true }
for _, pair in ipairs({
  { "SystemException", "Exception" }, { "ApplicationException", "Exception" },
  { "ArgumentException", "SystemException" }, { "ArgumentNullException", "ArgumentException" },
  { "ArgumentOutOfRangeException", "ArgumentException" }, { "FormatException", "SystemException" },
  { "InvalidCastException", "SystemException" }, { "InvalidOperationException", "SystemException" },
  { "NullReferenceException", "SystemException" }, { "IndexOutOfRangeException", "SystemException" },
  { "KeyNotFoundException", "SystemException" }, { "OverflowException", "SystemException" },
  { "DivideByZeroException", "SystemException" }, { "NotSupportedException", "SystemException" },
  { "NotImplementedException", "SystemException" }, { "UriFormatException", "FormatException" },
  { "JsonException", "Exception" }, { "JsonReaderException", "JsonException" },
  { "JsonSerializationException", "JsonException" }, { "CryptographicException", "SystemException" },
}) do
  EXC[pair[1]] = class(pair[1], EXC[pair[2]])
  M.EXCEPTION_TYPES[pair[1]] = true
end

local function exception(name, msg, inner)
  return setmetatable({ ClassName = name, Message = msg, InnerException = inner }, EXC[name] or Exception)
end
M.exception = exception

local function throw(name, msg)
  error(exception(name, msg), 0)
end
M.throw_new = throw

function M.throw(e)
  if e == nil then throw("NullReferenceException", "Object reference not set to an instance of an object.") end
  if type(e) == "table" and cls(e) and e.ClassName then error(e, 0) end
  throw("InvalidCastException", "only exceptions can be thrown")
end

local function is_exception_of(e, name)
  local C = cls(e)
  while C do
    if C.__name == name then return true end
    C = C.base
  end
  return false
end

-- Lua error value -> catchable exception, or nil when it must not be caught
local function to_exception(err)
  if type(err) == "table" then
    if cls(err) and err.ClassName then return err end
    return nil
  end
  if type(err) == "string" then
    if find(err, "not enough memory", 1, true) then return nil end
    local msg = gsub(err, "^[^:\n]*:%d+: ", "")
    if find(msg, "attempt to index a nil value", 1, true) or find(msg, "attempt to call a nil value", 1, true) then
      return exception("NullReferenceException", msg)
    end
    return exception("Exception", msg)
  end
  return nil
end

-- The message of any error: an exception's Message, else tostring.
function M.message(err)
  if type(err) == "table" and cls(err) and err.ClassName then return err.Message end
  return tostring(err)
end

-- try/catch/finally: body and handlers return (1, value) for return, 2 for break,
-- 3 for continue, nothing when they end normally.
function M.try(body, catches, finally)
  local ok, r, v = pcall(body)
  if not ok then
    local err = r
    local exc = to_exception(err)
    local handler
    if exc and catches then
      for i = 1, #catches do
        if is_exception_of(exc, catches[i][1]) then handler = catches[i][2]; break end
      end
    end
    if handler then
      ok, r, v = pcall(handler, exc)
      if not ok then err = r end
    end
    if not ok then
      if finally then finally() end
      error(err, 0)
    end
  end
  if finally then finally() end
  return r, v
end

------------------------------------------------------------------------------
-- type names (messages, `is`)

local function type_name(v)
  local t = type(v)
  if t == "string" then return "String" end
  if t == "number" then return mtype(v) == "integer" and "Int32" or "Double" end
  if t == "boolean" then return "Boolean" end
  if t == "nil" then return "null" end
  if t == "function" then return "Func" end
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return "Object"
end
M.type_name = type_name

local function null_ref(what)
  throw("NullReferenceException", "Object reference not set to an instance of an object"
    .. (what and (" (reading '" .. what .. "' of null)") or "") .. ".")
end

local function not_member(o, name)
  throw("InvalidOperationException", format("'%s' is not a member of %s", name, type_name(o)))
end

local function invalid_cast(v, T)
  throw("InvalidCastException", format("Unable to cast object of type '%s' to type '%s'.", type_name(v), T))
end

------------------------------------------------------------------------------
-- JSON null and C# -> string

local JNULL = setmetatable({}, { __name = "JNULL", __tostring = function() return "null" end })
M.JNULL = JNULL

-- shortest round-trip text of a double, as .NET Core writes it
local function double_str(v)
  if v ~= v then return "NaN" end
  if v == huge then return "Infinity" end
  if v == -huge then return "-Infinity" end
  if v == 0 then return (1 / v < 0) and "-0" or "0" end
  local s
  for p = 1, 17 do
    s = format("%." .. (p - 1) .. "e", v)
    if tonumber(s) == v then break end
  end
  local sign, d1, ds, ex = match(s, "^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  local digits = gsub(d1 .. ds, "0+$", "")
  if digits == "" then digits = "0" end
  local e = tonumber(ex)
  if e >= 15 or e < -5 then
    local mant = sub(digits, 1, 1)
    if #digits > 1 then mant = mant .. "." .. sub(digits, 2) end
    return format("%s%sE%s%02d", sign, mant, e < 0 and "-" or "+", abs(e))
  end
  if e < 0 then return sign .. "0." .. rep("0", -e - 1) .. digits end
  if #digits <= e + 1 then return sign .. digits .. rep("0", e + 1 - #digits) end
  return sign .. sub(digits, 1, e + 1) .. "." .. sub(digits, e + 2)
end
M.double_str = double_str

local function num_str(v)
  if mtype(v) == "integer" then return tostring(v) end
  return double_str(v)
end

local str -- forward: C# ToString of any value

local function object_tostring(v)
  local C = cls(v)
  if C then
    if C.tostring then return C.tostring(v) end
    return "System." .. C.__name
  end
  local ok, f = pcall(function() return v.ToString end)
  if ok and type(f) == "function" then return f(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__tostring then return tostring(v) end
  return type_name(v)
end

-- C# string conversion: null -> "", true -> "True", 1.5 -> "1.5", objects -> ToString()
function str(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "nil" then return "" end
  if t == "number" then return num_str(v) end
  if t == "boolean" then return v and "True" or "False" end
  if rawequal(v, JNULL) then return "" end
  if t == "table" or t == "userdata" then return object_tostring(v) end
  return type_name(v)
end
M.str = str
M.tostring = str

------------------------------------------------------------------------------
-- strings as values: C# indexes are 0-based and count characters (UTF-8 code points
-- here, the same as UTF-16 units outside the astral planes)

local function ascii(s) return not find(s, "[\128-\255]") end

local function slen(s)
  if ascii(s) then return #s end
  return utf8len(s) or #s
end

-- byte position (1-based) of the character at 0-based index i (i == length: #s + 1)
local function bpos(s, i, is_ascii)
  if is_ascii then return i + 1 end
  return utf8offset(s, i + 1) or (#s + 1)
end

-- 0-based character index of byte position b
local function cidx(s, b, is_ascii)
  if is_ascii then return b - 1 end
  return utf8len(s, 1, b - 1) or (b - 1)
end

local function need_string(v, what)
  if v == nil then throw("ArgumentNullException", "Value cannot be null. (Parameter '" .. (what or "value") .. "')") end
  if type(v) ~= "string" then return str(v) end
  return v
end

local function need_int(v, what)
  if mtype(v) == "integer" then return v end
  if type(v) == "number" and v == floor(v) then return tointeger(v) end
  throw("ArgumentException", format("'%s' must be an integer, got %s", what or "argument", type_name(v)))
end

local function out_of_range(what, msg)
  throw("ArgumentOutOfRangeException", (msg or "Index and length must refer to a location within the string.")
    .. " (Parameter '" .. what .. "')")
end

-- StringComparison / StringComparer values that ignore case
local function ignore_case(cmp)
  if cmp == true then return true end
  if type(cmp) == "table" and cmp.enum_ignore_case then return true end
  return false
end

-- the members of strings (Lua strings): filled by strings.lua, read by dispatch.lua
local String = { props = {}, methods = {} }
M.String = String

------------------------------------------------------------------------------
-- enumerations: rt.E.<Type>.<Name>, tables compared by identity

local Enum = class("Enum")
Enum.tostring = function(e) return e.name end
Enum.props.value__ = function(e) return e.value end
Enum.methods.HasFlag = function(e, f) return (e.value & f.value) == f.value end

M.ENUMS = {
  StringComparison = { "CurrentCulture", "CurrentCultureIgnoreCase", "InvariantCulture",
    "InvariantCultureIgnoreCase", "Ordinal", "OrdinalIgnoreCase" },
  StringComparer = { "CurrentCulture", "CurrentCultureIgnoreCase", "InvariantCulture",
    "InvariantCultureIgnoreCase", "Ordinal", "OrdinalIgnoreCase" },
  StringSplitOptions = { "None", "RemoveEmptyEntries", "TrimEntries" },
  Formatting = { "None", "Indented" },
  JTokenType = { "None", "Object", "Array", "Constructor", "Property", "Comment", "Integer",
    "Float", "String", "Boolean", "Null", "Undefined", "Date", "Raw", "Bytes", "Guid", "Uri",
    "TimeSpan" },
  DateTimeKind = { "Unspecified", "Utc", "Local" },
  DayOfWeek = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" },
  MidpointRounding = { "ToEven", "AwayFromZero", "ToZero", "ToNegativeInfinity", "ToPositiveInfinity" },
  UriKind = { "RelativeOrAbsolute", "Absolute", "Relative" },
  NumberStyles = { None = 0, Integer = 7, Number = 111, Float = 167, HexNumber = 515, Any = 511,
    AllowHexSpecifier = 512 },
  RegexOptions = { None = 0, IgnoreCase = 1, Multiline = 2, ExplicitCapture = 4, Compiled = 8,
    Singleline = 16, IgnorePatternWhitespace = 32, RightToLeft = 64, ECMAScript = 256,
    CultureInvariant = 512 },
}
for ename, values in pairs(M.ENUMS) do
  local set = {}
  local function add(name, value)
    set[name] = setmetatable({ enum_type = ename, name = name, value = value,
      enum_ignore_case = (find(name, "IgnoreCase$") ~= nil) or nil }, Enum)
  end
  if values[1] then
    for i, name in ipairs(values) do add(name, i - 1) end
  else
    for name, value in pairs(values) do add(name, value) end
  end
  E[ename] = set
end

------------------------------------------------------------------------------
-- equality: == with JSON null equal to null (List.Contains, IndexOf, Equals...)

local function equals(a, b)
  if a == b then return true end
  if rawequal(a, JNULL) then return b == nil end
  if rawequal(b, JNULL) then return a == nil end
  return false
end
M.equals = equals

------------------------------------------------------------------------------
-- generic member names

local GENERIC = {}
-- "Value<string>" -> "Value<>", "string"
local function split_generic(name)
  local g = GENERIC[name]
  if g == nil then
    local base, targ = match(name, "^([%w_]+)<(.*)>$")
    g = base and { base .. "<>", targ, base } or false
    GENERIC[name] = g
  end
  return g
end

------------------------------------------------------------------------------
-- new T(...): rt.new("T", ...) -> NEW.T(...); exceptions and object here, the other
-- types next to their class

local Object = class("Object")
function NEW.object() return setmetatable({}, Object) end
for name in pairs(M.EXCEPTION_TYPES) do
  NEW[name] = function(msg, inner)
    return exception(name, msg == nil and ("Exception of type 'System." .. name .. "' was thrown.") or str(msg), inner)
  end
end

function M.new(T_, ...)
  local f = NEW[T_]
  if not f then throw("NotSupportedException", "new " .. tostring(T_) .. " is not supported") end
  return f(...)
end

return {
  rt = M, T = T, E = E, NEW = NEW,
  CLASSES = CLASSES, class = class, cls = cls,
  exception = exception, throw = throw,
  type_name = type_name, null_ref = null_ref, not_member = not_member, invalid_cast = invalid_cast,
  JNULL = JNULL, double_str = double_str, num_str = num_str, str = str,
  ascii = ascii, slen = slen, bpos = bpos, cidx = cidx,
  need_string = need_string, need_int = need_int, out_of_range = out_of_range, ignore_case = ignore_case,
  String = String, Enum = Enum, equals = equals, split_generic = split_generic,
}
