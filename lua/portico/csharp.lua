-- csharp.lua - the run-time library of translated APIM policy expressions (`rt`).
--
-- Owns: the meaning of C# operations on Lua values (member access, calls, indexers,
-- operators, casts), the BCL subset (string, Convert, int/long/double/bool parsing,
-- Math, Guid, DateTime/DateTimeOffset/TimeSpan, Encoding, Uri, WebUtility,
-- StringBuilder, Random, List/arrays/Dictionary, LINQ, SHA-256/SHA-1/HMAC, JWT) and
-- Newtonsoft's JObject/JArray/JToken (with an order-keeping JSON reader/writer:
-- cjson loses key order, reads every number as a float and writes "/" as "\/").
--
-- Does not own: translation (expr.lua), the `context` objects (context.lua), which
-- follow the convention below.
--
-- ============================ the object model ============================
-- Values:  C# string  = Lua string (UTF-8; indexes count characters, 0-based)
--          C# char    = Lua string of one character
--          int/long   = Lua integer (64-bit; int32 overflow does not wrap)
--          double     = Lua float;  bool = Lua boolean
--          null       = nil.  JSON null inside a JObject/JArray is stored as rt.JNULL
--                       and read back as nil.
--          byte[]     = rt.bytes(s) (a Byte[] object over a Lua string of bytes);
--                       functions that take bytes also accept a plain Lua string
--          arrays     = rt.array(t, n) (0-based for C#, stored 1..n in t)
--          objects    = tables (or userdata) with or without a metatable
-- Generated code calls:
--   rt.get(o, "Name")         o.Name       -> for a table: o.Name (plain field or __index)
--   rt.call(o, "M", a, b)     o.M(a, b)    -> for a table: o.M(o, a, b)
--   rt.call(o, "M<T>", a)     o.M<T>(a)    -> o["M<T>"](o, a) when present, else
--                                             o.M(o, a) converted to T (see generic_result)
--   rt.index(o, k)            o[k]         -> o:get_Item(k) when present; else o[k] for a
--                                             string k; a plain Lua array read 0-based
--   rt.nget / rt.ncall / rt.nindex         the same after ?. / ?[ (nil stays nil)
-- A context object therefore is a table whose PascalCase fields are APIM's
-- properties and whose PascalCase functions are APIM's methods (first parameter:
-- the object). Rules for implementers:
--   * properties holding C# null are nil; ints are Lua integers (StatusCode, Port)
--   * out parameters are not passed: a method returns its result followed by the out
--     values (TryGetValue(self, key) -> found, value)
--   * named arguments are placed by position (As<T>(preserveContent: true) arrives as
--     As<T>(self, true))
--   * string[] values (header values) are rt.array(t); dictionaries (Headers, Query,
--     Variables, MatchedParameters, Jwt claims) are rt.dictionary(get, keys, joined);
--     the request/response time is rt.datetime(unix_seconds), durations rt.timespan(s)
--   * set the metatable __name to APIM's type name (IResponse, IUrl, Jwt...): `is`,
--     `as` and error messages use it; an object may define ToString(self) and
--     GetEnumerator(self) (a Lua iterator triple whose second value is the element)
--   * the member names the translator accepts are rt.MEMBERS (this file's types plus
--     CONTEXT_MEMBERS below); a name outside them fails at load time
--   * expressions cannot assign to context objects (APIM's context is read-only there)
-- Dictionaries made by the context may be rt.dictionary(get, keys, joined) or any object
-- with get_Item (indexer; throw KeyNotFoundException with rt.throw_new), ContainsKey,
-- GetValueOrDefault, TryGetValue, Count/Keys and GetEnumerator yielding rt.kvpair(k, v);
-- LINQ (Select, Where, First...) then works on them too.
-- Policy modules turn an expression's value into text with rt.str(v) (C# ToString:
-- null -> "", true -> "True", a JObject -> indented JSON).
-- Time comes from rt.set_clock(fn -> unix seconds), randomness from rt.set_random(fn).
-- Errors: C# exceptions are tables (rt.exception) with ClassName and Message and a
-- __tostring "FormatException: ..."; rt.message(err) gives the message of any error.
-- catch clauses catch them and plain Lua errors, never "not enough memory" nor
-- non-exception tables (the instruction budget, context.fail): those go through.
-- =========================================================================

local byte, char, find, format, gsub, lower, upper, rep, sub, match, gmatch =
  string.byte, string.char, string.find, string.format, string.gsub, string.lower,
  string.upper, string.rep, string.sub, string.match, string.gmatch
local concat, insert, remove, sort, unpack, pack =
  table.concat, table.insert, table.remove, table.sort, table.unpack, table.pack
local floor, huge, mtype, tointeger, fmod, abs =
  math.floor, math.huge, math.type, math.tointeger, math.fmod, math.abs
local type, error, pairs, ipairs, tostring, tonumber, select, setmetatable, getmetatable, pcall =
  type, error, pairs, ipairs, tostring, tonumber, select, setmetatable, getmetatable, pcall
local utf8len, utf8offset, utf8char, utf8codes = utf8.len, utf8.offset, utf8.char, utf8.codes
local rawequal, rawget, next = rawequal, rawget, next

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
-- strings: C# indexes are 0-based and count characters (UTF-8 code points here,
-- the same as UTF-16 units outside the astral planes)

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

local function char_list(args, first, last)
  -- separators/trim characters given as chars, strings or arrays of them
  local list = {}
  for i = first, last do
    local a = args[i]
    local C = cls(a)
    if type(a) == "string" then list[#list + 1] = a
    elseif C == CLASSES.Array or C == CLASSES.List then
      for j = 1, a.n do list[#list + 1] = a[j] end
    end
  end
  return list
end

local WS = "[ \t\n\r\v\f]"

local function trim_set(s, chars, left, right)
  if not chars or #chars == 0 then
    if left then s = gsub(s, "^[ \t\n\r\v\f\194\160]+", "") end
    if right then s = gsub(s, "[ \t\n\r\v\f]+$", "") end
    return s
  end
  local set = {}
  for _, c in ipairs(chars) do set[c] = true end
  local cps = {}
  for _, cp in utf8codes(s) do cps[#cps + 1] = utf8char(cp) end
  local i, j = 1, #cps
  if left then while i <= j and set[cps[i]] do i = i + 1 end end
  if right then while j >= i and set[cps[j]] do j = j - 1 end end
  return concat(cps, "", i, j)
end

-- plain find, optionally without case
local function sfind(s, v, init, icase)
  if icase then return find(lower(s), lower(v), init, true) end
  return find(s, v, init, true)
end

local Array -- forward (class)
local new_array -- forward

local String = { props = {}, methods = {} }
M.String = String

String.props.Length = function(s) return slen(s) end

local SM = String.methods

function SM.ToString(s) return s end
function SM.Clone(s) return s end
function SM.GetType() return "System.String" end
function SM.GetHashCode(s)
  local h = 5381
  for i = 1, #s do h = (h * 33 + byte(s, i)) & 0x7fffffff end
  return h
end
function SM.Equals(s, v, cmp)
  if type(v) ~= "string" then return false end
  if ignore_case(cmp) then return lower(s) == lower(v) end
  return s == v
end
function SM.CompareTo(s, v)
  if v == nil then return 1 end
  v = need_string(v)
  if s == v then return 0 end
  return s < v and -1 or 1
end
function SM.Contains(s, v, cmp)
  v = need_string(v)
  return sfind(s, v, 1, ignore_case(cmp)) ~= nil
end
function SM.StartsWith(s, v, cmp)
  v = need_string(v)
  local head = sub(s, 1, #v)
  if ignore_case(cmp) then return lower(head) == lower(v) end
  return head == v
end
function SM.EndsWith(s, v, cmp)
  v = need_string(v)
  if #v == 0 then return true end
  local tail = sub(s, -#v)
  if ignore_case(cmp) then return lower(tail) == lower(v) end
  return tail == v
end
function SM.Substring(s, start, len)
  local a = ascii(s)
  local n = a and #s or slen(s)
  start = need_int(start, "startIndex")
  if start < 0 or start > n then out_of_range("startIndex", "startIndex cannot be larger than length of string.") end
  if len == nil then return sub(s, bpos(s, start, a)) end
  len = need_int(len, "length")
  if len < 0 or start + len > n then out_of_range("length") end
  return sub(s, bpos(s, start, a), bpos(s, start + len, a) - 1)
end
function SM.IndexOf(s, v, start, count)
  local icase = false
  if type(start) == "table" then icase = ignore_case(start); start = nil end
  if type(count) == "table" then icase = ignore_case(count); count = nil end
  if mtype(v) == "integer" then v = utf8char(v) end
  v = need_string(v)
  local a = ascii(s)
  local n = a and #s or slen(s)
  start = start and need_int(start, "startIndex") or 0
  if start < 0 or start > n then out_of_range("startIndex") end
  local limit = n
  if count then
    count = need_int(count, "count")
    if count < 0 or start + count > n then out_of_range("count") end
    limit = start + count
  end
  local b = sfind(s, v, bpos(s, start, a), icase)
  if not b then return -1 end
  local i = cidx(s, b, a)
  if i + slen(v) > limit then return -1 end
  return i
end
function SM.IndexOfAny(s, chars, start)
  local best = -1
  for i = 1, chars.n or #chars do
    local r = SM.IndexOf(s, chars[i], start)
    if r >= 0 and (best < 0 or r < best) then best = r end
  end
  return best
end
function SM.LastIndexOf(s, v, start)
  local icase = false
  if type(start) == "table" then icase = ignore_case(start); start = nil end
  if mtype(v) == "integer" then v = utf8char(v) end
  v = need_string(v)
  local a = ascii(s)
  local hay, needle = s, v
  if icase then hay, needle = lower(s), lower(v) end
  local last_b
  local init = 1
  local limit_b = #s + 1
  if start then
    start = need_int(start, "startIndex")
    -- the match must end at or before startIndex (inclusive)
    limit_b = bpos(s, start + 1, a)
  end
  while true do
    local b, e = find(hay, needle, init, true)
    if not b or e >= limit_b then break end
    last_b = b
    init = b + 1
  end
  if #v == 0 then return start or (slen(s) - 0) end
  if not last_b then return -1 end
  return cidx(s, last_b, a)
end
function SM.Replace(s, old, new, cmp)
  old = need_string(old, "oldValue")
  if old == "" then throw("ArgumentException", "String cannot be of zero length. (Parameter 'oldValue')") end
  new = new == nil and "" or need_string(new)
  if ignore_case(cmp) then
    local out, init, ls = {}, 1, lower(s)
    local lo = lower(old)
    while true do
      local b, e = find(ls, lo, init, true)
      if not b then break end
      out[#out + 1] = sub(s, init, b - 1)
      out[#out + 1] = new
      init = e + 1
    end
    out[#out + 1] = sub(s, init)
    return concat(out)
  end
  local out, init = {}, 1
  while true do
    local b, e = find(s, old, init, true)
    if not b then break end
    out[#out + 1] = sub(s, init, b - 1)
    out[#out + 1] = new
    init = e + 1
  end
  if init == 1 then return s end
  out[#out + 1] = sub(s, init)
  return concat(out)
end
function SM.ToLower(s) return lower(s) end
function SM.ToUpper(s) return upper(s) end
SM.ToLowerInvariant = SM.ToLower
SM.ToUpperInvariant = SM.ToUpper
function SM.Trim(s, ...)
  local n = select("#", ...)
  return trim_set(s, n > 0 and char_list({ ... }, 1, n) or nil, true, true)
end
function SM.TrimStart(s, ...)
  local n = select("#", ...)
  return trim_set(s, n > 0 and char_list({ ... }, 1, n) or nil, true, false)
end
function SM.TrimEnd(s, ...)
  local n = select("#", ...)
  return trim_set(s, n > 0 and char_list({ ... }, 1, n) or nil, false, true)
end
function SM.PadLeft(s, total, c)
  total = need_int(total, "totalWidth")
  local n = slen(s)
  if total <= n then return s end
  return rep(c or " ", total - n) .. s
end
function SM.PadRight(s, total, c)
  total = need_int(total, "totalWidth")
  local n = slen(s)
  if total <= n then return s end
  return s .. rep(c or " ", total - n)
end
function SM.Insert(s, i, v)
  local a = ascii(s)
  i = need_int(i, "startIndex")
  if i < 0 or i > slen(s) then out_of_range("startIndex") end
  local b = bpos(s, i, a)
  return sub(s, 1, b - 1) .. need_string(v) .. sub(s, b)
end
function SM.Remove(s, start, count)
  local a = ascii(s)
  local n = slen(s)
  start = need_int(start, "startIndex")
  if start < 0 or start > n then out_of_range("startIndex") end
  if count == nil then return sub(s, 1, bpos(s, start, a) - 1) end
  count = need_int(count, "count")
  if count < 0 or start + count > n then out_of_range("count") end
  return sub(s, 1, bpos(s, start, a) - 1) .. sub(s, bpos(s, start + count, a))
end
function SM.ToCharArray(s)
  local t, n = {}, 0
  if ascii(s) then
    for i = 1, #s do t[i] = sub(s, i, i) end
    n = #s
  else
    for _, cp in utf8codes(s) do n = n + 1; t[n] = utf8char(cp) end
  end
  return new_array(t, n)
end
function SM.Split(s, ...)
  local nargs = select("#", ...)
  local args = { ... }
  local seps, count, opts = {}, nil, nil
  for i = 1, nargs do
    local a = args[i]
    if type(a) == "string" then seps[#seps + 1] = a
    elseif mtype(a) == "integer" then count = a
    elseif type(a) == "table" and a.enum_type == "StringSplitOptions" then opts = a
    elseif cls(a) and (cls(a) == Array or cls(a).__name == "List") then
      for j = 1, a.n do if a[j] ~= nil then seps[#seps + 1] = a[j] end end
    elseif a ~= nil then
      throw("ArgumentException", "Split: unexpected argument " .. type_name(a))
    end
  end
  local remove_empty = opts and (opts.value & 1) == 1
  local trim = opts and (opts.value & 2) == 2
  local parts = {}
  local function add(p)
    if trim then p = trim_set(p, nil, true, true) end
    if not (remove_empty and p == "") then parts[#parts + 1] = p end
  end
  if #seps == 0 then
    -- whitespace separates
    local init = 1
    while true do
      local b, e = find(s, WS, init)
      if not b then break end
      if count and #parts >= count - 1 then break end
      add(sub(s, init, b - 1))
      init = e + 1
    end
    add(sub(s, init))
  else
    local init = 1
    while true do
      if count and #parts >= count - 1 then break end
      local best_b, best_e
      for _, sep in ipairs(seps) do
        if sep ~= "" then
          local b, e = find(s, sep, init, true)
          if b and (not best_b or b < best_b) then best_b, best_e = b, e end
        end
      end
      if not best_b then break end
      add(sub(s, init, best_b - 1))
      init = best_e + 1
    end
    add(sub(s, init))
  end
  if count == 0 then parts = {} end
  return new_array(parts, #parts)
end
function SM.Normalize(s) return s end
function SM.IsNormalized() return true end

local STRING_METHODS = SM

------------------------------------------------------------------------------
-- numbers: parsing and formatting (invariant culture)

local INT_RANGE = {
  int = { -2147483648, 2147483647, "Int32" }, long = { math.mininteger, math.maxinteger, "Int64" },
  short = { -32768, 32767, "Int16" }, byte = { 0, 255, "Byte" }, sbyte = { -128, 127, "SByte" },
  uint = { 0, 4294967295, "UInt32" }, ushort = { 0, 65535, "UInt16" },
  ulong = { 0, math.maxinteger, "UInt64" },
}

local function format_error(s)
  throw("FormatException", format("The input string '%s' was not in a correct format.", tostring(s)))
end

-- integer text -> integer or nil, err ("format" | "overflow")
local function parse_integer(s, kind, hex)
  if type(s) ~= "string" then return nil, "format" end
  local t = match(s, "^%s*(.-)%s*$")
  local r = INT_RANGE[kind or "int"]
  local v
  if hex then
    if not match(t, "^%x+$") then return nil, "format" end
    if #t > 16 then return nil, "overflow" end
    v = tonumber(t, 16)
    -- a 32-bit hex value with the top bit set is negative in C#
    if kind == "int" and v > 0x7fffffff and v <= 0xffffffff then v = v - 0x100000000 end
    if v < r[1] or v > r[2] then return nil, "overflow" end
    return v
  end
  local sign, digits = match(t, "^([+-]?)(%d+)$")
  if not digits then return nil, "format" end
  digits = gsub(digits, "^0+(%d)", "%1")
  if #digits > 19 then return nil, "overflow" end
  v = tonumber(digits)
  if mtype(v) ~= "integer" then
    -- 9223372036854775808 reads as a float
    if sign == "-" and digits == "9223372036854775808" then v = math.mininteger; sign = ""
    else return nil, "overflow" end
  end
  if sign == "-" then v = -v end
  if v < r[1] or v > r[2] then return nil, "overflow" end
  return v
end
M.parse_integer = parse_integer

local function parse_double(s)
  if type(s) ~= "string" then return nil end
  local t = match(s, "^%s*(.-)%s*$")
  if t == "NaN" then return 0.0 / 0.0 end
  if t == "Infinity" or t == "∞" then return huge end
  if t == "-Infinity" or t == "-∞" then return -huge end
  t = gsub(t, ",", "")
  if not (match(t, "^[+-]?%d+%.?%d*[eE][+-]?%d+$") or match(t, "^[+-]?%d+%.?%d*$")
    or match(t, "^[+-]?%.%d+$") or match(t, "^[+-]?%.%d+[eE][+-]?%d+$")) then
    return nil
  end
  local v = tonumber(t)
  if v == nil then return nil end
  return v + 0.0
end
M.parse_double = parse_double

local function group3(int_digits)
  local head = #int_digits % 3
  local out = { sub(int_digits, 1, head) }
  for i = head + 1, #int_digits, 3 do out[#out + 1] = sub(int_digits, i, i + 2) end
  if out[1] == "" then remove(out, 1) end
  return concat(out, ",")
end

-- round half away from zero to n decimals, as text (C# "F"/"N" on doubles in .NET Core
-- round the exact binary value, which %.nf does too)
local function fixed(v, n)
  local s = format("%." .. n .. "f", v)
  if s == "-0" or match(s, "^%-0%.0*$") then s = sub(s, 2) end
  return s
end

local function custom_number(v, spec)
  -- sections: positive;negative;zero
  local sections = {}
  for part in gmatch(spec .. ";", "([^;]*);") do sections[#sections + 1] = part end
  local fmt = sections[1]
  local neg = v < 0
  if neg and sections[2] and sections[2] ~= "" then fmt = sections[2]; v = -v; neg = false end
  if v == 0 and sections[3] and sections[3] ~= "" then fmt = sections[3] end
  -- literal prefix/suffix around the digit placeholders
  local first = find(fmt, "[0#]")
  if not first then return fmt end
  local last = #fmt - (find(fmt:reverse(), "[0#]") or 1) + 1
  local prefix, body, suffix = sub(fmt, 1, first - 1), sub(fmt, first, last), sub(fmt, last + 1)
  local pre_dot = match(prefix, "^(.-)%.$")
  if pre_dot then prefix = pre_dot; body = "." .. body end
  prefix = gsub(prefix, "'([^']*)'", "%1")
  suffix = gsub(suffix, "'([^']*)'", "%1")
  if find(prefix .. suffix, "%", 1, true) then v = v * 100 end
  local ip, dp = match(body, "^([^.]*)%.?(.*)$")
  local grouping = find(ip, ",", 1, true) ~= nil
  local min_int = select(2, gsub(ip, "0", ""))
  local min_dec = select(2, gsub(dp, "0", ""))
  local max_dec = min_dec + select(2, gsub(dp, "#", ""))
  local s = fixed(abs(v), max_dec)
  local int_part, dec_part = match(s, "^(%d+)%.?(%d*)$")
  dec_part = dec_part or ""
  while #dec_part > min_dec and sub(dec_part, -1) == "0" do dec_part = sub(dec_part, 1, -2) end
  int_part = gsub(int_part, "^0+", "")
  if #int_part < min_int then int_part = rep("0", min_int - #int_part) .. int_part end
  if grouping and #int_part > 3 then int_part = group3(int_part) end
  local out = int_part
  if #dec_part > 0 then out = out .. "." .. dec_part end
  if neg and find(out, "[1-9]") then out = "-" .. out end
  return prefix .. out .. suffix
end

local function exp_format(v, n, letter, min_exp_digits)
  local s = format("%." .. n .. "e", v)
  local mant, sign, ex = match(s, "^(.-)e([-+])(%d+)$")
  ex = tostring(tonumber(ex))
  if #ex < min_exp_digits then ex = rep("0", min_exp_digits - #ex) .. ex end
  return mant .. letter .. sign .. ex
end

-- value:ToString(spec): standard specifiers D X F N E G P C R and custom 0 # , . %
local function format_number(v, spec)
  if spec == nil or spec == "" then return num_str(v) end
  local letter, digits = match(spec, "^([A-Za-z])(%d*)$")
  if not letter then return custom_number(v, spec) end
  local n = digits ~= "" and tonumber(digits) or nil
  local L = upper(letter)
  if L == "D" then
    if mtype(v) ~= "integer" then
      if v ~= floor(v) then format_error(spec) end
      v = tointeger(v)
    end
    local s = tostring(abs(v))
    if v == math.mininteger then s = sub(tostring(v), 2) end
    if n and #s < n then s = rep("0", n - #s) .. s end
    return (v < 0 and "-" or "") .. s
  elseif L == "X" then
    if mtype(v) ~= "integer" then format_error(spec) end
    local x
    if v < 0 and v >= -2147483648 then x = format("%x", v & 0xffffffff)
    else x = format("%x", v) end
    if letter == "X" then x = upper(x) end
    if n and #x < n then x = rep("0", n - #x) .. x end
    return x
  elseif L == "F" then
    return fixed(v, n or 2)
  elseif L == "N" then
    local s = fixed(abs(v), n or 2)
    local ip, dp = match(s, "^(%d+)(.*)$")
    s = group3(ip) .. dp
    if v < 0 and find(s, "[1-9]") then s = "-" .. s end
    return s
  elseif L == "E" then
    return exp_format(v, n or 6, letter, 3)
  elseif L == "G" or L == "R" then
    if not n or L == "R" then return num_str(v) end
    local s = format("%." .. n .. "g", v)
    s = gsub(s, "e([-+])(%d+)", function(sg, d) return "E" .. sg .. format("%02d", tonumber(d)) end)
    return s
  elseif L == "P" then
    return fixed(v * 100, n or 2) .. " %"
  elseif L == "C" then
    local s = format_number(abs(v), "N" .. (n or 2))
    return (v < 0 and "-" or "") .. "¤" .. s
  end
  format_error(spec)
end
M.format_number = format_number

local NumberMethods = {}
function NumberMethods.ToString(v, spec)
  if type(spec) ~= "string" then spec = nil end
  return format_number(v, spec)
end
function NumberMethods.Equals(v, o) return type(o) == "number" and v == o end
function NumberMethods.CompareTo(v, o)
  if o == nil then return 1 end
  if v == o then return 0 end
  return v < o and -1 or 1
end
function NumberMethods.GetHashCode(v)
  if mtype(v) == "integer" then return v & 0x7fffffff end
  return SM.GetHashCode(format("%.17g", v))
end
function NumberMethods.GetValueOrDefault(v) return v end
function NumberMethods.GetType(v) return mtype(v) == "integer" and "System.Int32" or "System.Double" end

local BoolMethods = {}
function BoolMethods.ToString(v) return v and "True" or "False" end
function BoolMethods.Equals(v, o) return v == o end
function BoolMethods.CompareTo(v, o)
  if v == o then return 0 end
  return v and 1 or -1
end
function BoolMethods.GetHashCode(v) return v and 1 or 0 end
function BoolMethods.GetValueOrDefault(v) return v end
function BoolMethods.GetType() return "System.Boolean" end

------------------------------------------------------------------------------
-- composite formatting: string.Format and interpolation holes

local fmt_value -- forward

function M.fmt(v, spec, align)
  local s
  if spec then s = fmt_value(v, spec) else s = str(v) end
  if align then
    align = need_int(align, "alignment")
    local n = slen(s)
    if align > 0 and n < align then s = rep(" ", align - n) .. s
    elseif align < 0 and n < -align then s = s .. rep(" ", -align - n) end
  end
  return s
end

function fmt_value(v, spec)
  local t = type(v)
  if t == "number" then return format_number(v, spec) end
  if t == "nil" then return "" end
  local C = cls(v)
  if C and C.format then return C.format(v, spec) end
  return str(v)
end

local function composite(fmt, args, nargs)
  fmt = need_string(fmt, "format")
  local out, i, n = {}, 1, #fmt
  while i <= n do
    local c = sub(fmt, i, i)
    if c == "{" then
      if sub(fmt, i + 1, i + 1) == "{" then out[#out + 1] = "{"; i = i + 2
      else
        local close = find(fmt, "}", i + 1, true)
        if not close then format_error(fmt) end
        local item = sub(fmt, i + 1, close - 1)
        local idx, rest = match(item, "^%s*(%d+)%s*(.*)$")
        if not idx then format_error(fmt) end
        idx = tonumber(idx)
        if idx >= nargs then
          throw("FormatException", "Index (zero based) must be greater than or equal to zero and less than the size of the argument list.")
        end
        local align, spec = nil, nil
        local a = match(rest, "^,%s*(-?%d+)%s*")
        if a then align = tonumber(a); rest = gsub(rest, "^,%s*-?%d+%s*", "") end
        spec = match(rest, "^:(.*)$")
        out[#out + 1] = M.fmt(args[idx + 1], spec, align)
        i = close + 1
      end
    elseif c == "}" then
      if sub(fmt, i + 1, i + 1) == "}" then out[#out + 1] = "}"; i = i + 2
      else format_error(fmt) end
    else
      local j = find(fmt, "[{}]", i) or (n + 1)
      out[#out + 1] = sub(fmt, i, j - 1)
      i = j
    end
  end
  return concat(out)
end
M.composite = composite

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
-- arrays and lists: { n = count, [1..n] = items }, 0-based for C#

Array = class("Array")
local List = class("List", Array)
M.ArrayClass, M.ListClass = Array, List

function new_array(t, n)
  t = t or {}
  t.n = n or #t
  return setmetatable(t, Array)
end
M.array = new_array

local function new_list(t, n)
  t = t or {}
  t.n = n or #t
  return setmetatable(t, List)
end
M.list = new_list

local function is_seq(v)
  local C = cls(v)
  return C == Array or C == List
end

local function check_index(o, i, n)
  if mtype(i) ~= "integer" then
    if type(i) == "number" and i == floor(i) then i = tointeger(i)
    else throw("ArgumentException", "index must be an integer, got " .. type_name(i)) end
  end
  if i < 0 or i >= n then
    if cls(o) == List then
      out_of_range("index", "Index was out of range. Must be non-negative and less than the size of the collection.")
    end
    throw("IndexOutOfRangeException", "Index was outside the bounds of the array.")
  end
  return i
end

Array.props.Length = function(a) return a.n end
Array.props.Count = function(a) return a.n end
Array.props.LongLength = function(a) return a.n end
Array.index = function(a, i) return a[check_index(a, i, a.n) + 1] end
Array.setindex = function(a, i, v) a[check_index(a, i, a.n) + 1] = v end
Array.iter = function(a)
  local i = 0
  return function()
    i = i + 1
    if i <= a.n then return i, a[i] end
  end
end
Array.tostring = function(a) return cls(a) == List and "System.Collections.Generic.List`1[System.Object]" or "System.Object[]" end

local AM = Array.methods
local equals -- forward

function AM.Add(a, v) a.n = a.n + 1; a[a.n] = v end
function AM.AddRange(a, coll)
  for _, v in M.each(coll) do a.n = a.n + 1; a[a.n] = v end
end
function AM.Insert(a, i, v)
  i = need_int(i, "index")
  if i < 0 or i > a.n then out_of_range("index") end
  insert(a, i + 1, v)
  a.n = a.n + 1
end
function AM.IndexOf(a, v)
  for i = 1, a.n do if equals(a[i], v) then return i - 1 end end
  return -1
end
function AM.Remove(a, v)
  for i = 1, a.n do
    if equals(a[i], v) then
      for j = i, a.n - 1 do a[j] = a[j + 1] end
      a[a.n] = nil
      a.n = a.n - 1
      return true
    end
  end
  return false
end
function AM.RemoveAt(a, i)
  i = check_index(a, i, a.n) + 1
  for j = i, a.n - 1 do a[j] = a[j + 1] end
  a[a.n] = nil
  a.n = a.n - 1
end
function AM.RemoveAll(a, pred)
  local j, removed = 0, 0
  local n = a.n
  for i = 1, n do
    local v = a[i]
    a[i] = nil
    if pred(v) then removed = removed + 1 else j = j + 1; a[j] = v end
  end
  a.n = j
  return removed
end
function AM.Clear(a)
  for i = 1, a.n do a[i] = nil end
  a.n = 0
end
function AM.Exists(a, pred)
  for i = 1, a.n do if pred(a[i]) then return true end end
  return false
end
function AM.Find(a, pred)
  for i = 1, a.n do if pred(a[i]) then return a[i] end end
  return nil
end
function AM.FindIndex(a, pred)
  for i = 1, a.n do if pred(a[i]) then return i - 1 end end
  return -1
end
function AM.FindAll(a, pred)
  local t, n = {}, 0
  for i = 1, a.n do if pred(a[i]) then n = n + 1; t[n] = a[i] end end
  return new_list(t, n)
end
function AM.ForEach(a, f) for i = 1, a.n do f(a[i]) end end
function AM.ConvertAll(a, f)
  local t = {}
  for i = 1, a.n do t[i] = f(a[i]) end
  return new_list(t, a.n)
end
function AM.Sort(a, cmp)
  local t = {}
  for i = 1, a.n do t[i] = a[i] end
  local lt
  if cmp then lt = function(x, y) return cmp(x, y) < 0 end
  else lt = function(x, y) return M.compare(x, y) < 0 end end
  sort(t, lt)
  for i = 1, a.n do a[i] = t[i] end
end
function AM.GetValue(a, i) return Array.index(a, i) end
function AM.SetValue(a, v, i) Array.setindex(a, i, v) end
function AM.CopyTo(a, dst, at)
  at = at or 0
  for i = 1, a.n do M.setindex(dst, at + i - 1, a[i]) end
end
function AM.Clone(a)
  local t = { n = a.n }
  for i = 1, a.n do t[i] = a[i] end
  return setmetatable(t, getmetatable(a))
end

------------------------------------------------------------------------------
-- byte[]: a Lua string of bytes

local Bytes = class("Byte[]")
M.BytesClass = Bytes

local function bytes(s) return setmetatable({ s = s }, Bytes) end
M.bytes = bytes

-- bytes or a Lua string -> Lua string
local function raw_bytes(v, what)
  if type(v) == "string" then return v end
  if cls(v) == Bytes then return v.s end
  if is_seq(v) then
    local t = {}
    for i = 1, v.n do t[i] = char(need_int(v[i], "byte") & 0xff) end
    return concat(t)
  end
  if v == nil then throw("ArgumentNullException", "Value cannot be null. (Parameter '" .. (what or "bytes") .. "')") end
  throw("InvalidCastException", "expected byte[], got " .. type_name(v))
end
M.raw_bytes = raw_bytes

Bytes.props.Length = function(b) return #b.s end
Bytes.props.Count = function(b) return #b.s end
Bytes.index = function(b, i) return byte(b.s, check_index(b, i, #b.s) + 1) end
Bytes.setindex = function(b, i, v)
  i = check_index(b, i, #b.s)
  b.s = sub(b.s, 1, i) .. char(need_int(v, "value") & 0xff) .. sub(b.s, i + 2)
end
Bytes.iter = function(b)
  local i, s = 0, b.s
  return function()
    i = i + 1
    if i <= #s then return i, byte(s, i) end
  end
end
Bytes.tostring = function() return "System.Byte[]" end
Bytes.methods.Clone = function(b) return bytes(b.s) end
Bytes.methods.CopyTo = function(b, dst, at) AM.CopyTo(new_array({ byte(b.s, 1, -1) }, #b.s), dst, at) end

------------------------------------------------------------------------------
-- Dictionary: ordered keys; also the read-only views of the context
-- (rt.dictionary(get, keys, joined))

local Dictionary = class("Dictionary")
M.DictionaryClass = Dictionary
local KeyValuePair = class("KeyValuePair")
KeyValuePair.props.Key = function(p) return p.k end
KeyValuePair.props.Value = function(p) return p.v end
KeyValuePair.tostring = function(p) return "[" .. str(p.k) .. ", " .. str(p.v) .. "]" end
local function kvpair(k, v) return setmetatable({ k = k, v = v }, KeyValuePair) end
M.kvpair = kvpair

local function new_dictionary(ci)
  return setmetatable({ keys = {}, map = {}, ci = ci or nil }, Dictionary)
end
M.new_dictionary = new_dictionary

-- A read-only dictionary over functions: get(key) -> value|nil, keys() -> array of
-- names; joined(key) -> string|nil when the values are string[] that
-- GetValueOrDefault(key, default) returns comma-joined (headers, query, claims).
function M.dictionary(get, keys, joined)
  return setmetatable({ get = get, keys_fn = keys, joined = joined, readonly = true }, Dictionary)
end

local function dkey(d, k)
  if k == nil then throw("ArgumentNullException", "Value cannot be null. (Parameter 'key')") end
  if d.ci and type(k) == "string" then return lower(k) end
  return k
end

local function dget(d, k)
  if d.get then
    local v = d.get(k)
    if type(v) == "table" and getmetatable(v) == nil and d.joined then v = new_array(v) end
    return v
  end
  local e = d.map[dkey(d, k)]
  if e then return e.v, true end
  return nil, false
end

local function dhas(d, k)
  if d.get then return d.get(k) ~= nil end
  return d.map[dkey(d, k)] ~= nil
end

local function dkeys(d)
  if d.keys_fn then return d.keys_fn() end
  local out = {}
  for i, e in ipairs(d.keys) do out[i] = e end
  return out
end

local function readonly(d)
  if d.readonly then throw("NotSupportedException", "Collection is read-only.") end
end

local function dset(d, k, v, adding)
  readonly(d)
  local key = dkey(d, k)
  local e = d.map[key]
  if e then
    if adding then throw("ArgumentException", "An item with the same key has already been added. Key: " .. str(k)) end
    e.v = v
  else
    d.map[key] = { k = k, v = v }
    d.keys[#d.keys + 1] = key
  end
end

Dictionary.index = function(d, k)
  local v = dget(d, k)
  if v == nil and not dhas(d, k) then
    throw("KeyNotFoundException", "The given key '" .. str(k) .. "' was not present in the dictionary.")
  end
  return v
end
Dictionary.setindex = function(d, k, v) dset(d, k, v, false) end
Dictionary.iter = function(d)
  local ks = dkeys(d)
  local i = 0
  return function()
    i = i + 1
    local k = ks[i]
    if k == nil then return nil end
    if d.get then return i, kvpair(k, dget(d, k)) end
    local e = d.map[k]
    return i, kvpair(e.k, e.v)
  end
end
Dictionary.tostring = function() return "System.Collections.Generic.Dictionary`2[System.String,System.Object]" end
Dictionary.props.Count = function(d) return #dkeys(d) end
Dictionary.props.Keys = function(d)
  local out = {}
  for i, k in ipairs(dkeys(d)) do out[i] = d.get and k or d.map[k].k end
  return new_list(out, #out)
end
Dictionary.props.Values = function(d)
  local out, n = {}, 0
  for _, kv in Dictionary.iter(d) do n = n + 1; out[n] = kv.v end
  return new_list(out, n)
end

local DM = Dictionary.methods
function DM.ContainsKey(d, k) return dhas(d, k) end
function DM.ContainsValue(d, v)
  for _, kv in Dictionary.iter(d) do if equals(kv.v, v) then return true end end
  return false
end
function DM.TryGetValue(d, k)
  if not dhas(d, k) then return false, nil end
  return true, (dget(d, k))
end
function DM.GetValueOrDefault(d, k, def)
  if d.joined then
    local s = d.joined(k)
    if s == nil then return def end
    return s
  end
  if not dhas(d, k) then return def end
  return (dget(d, k))
end
DM["GetValueOrDefault<>"] = function(d, T, k, def)
  local v
  if d.joined then v = d.joined(k) else v = dhas(d, k) and dget(d, k) or nil end
  if v == nil then
    if def ~= nil then return def end
    return M.default_of(T)
  end
  return M.cast(v, T)
end
function DM.Add(d, k, v) dset(d, k, v, true) end
function DM.TryAdd(d, k, v)
  if dhas(d, k) then return false end
  dset(d, k, v, true)
  return true
end
function DM.Remove(d, k)
  readonly(d)
  local key = dkey(d, k)
  if not d.map[key] then return false end
  d.map[key] = nil
  for i, kk in ipairs(d.keys) do if kk == key then remove(d.keys, i); break end end
  return true
end
function DM.Clear(d)
  readonly(d)
  d.keys, d.map = {}, {}
end

------------------------------------------------------------------------------
-- iteration and LINQ

local function each_plain(t)
  local i, n = 0, #t
  return function()
    i = i + 1
    if i <= n then return i, t[i] end
  end
end

function M.each(coll)
  local t = type(coll)
  if t == "nil" then null_ref("GetEnumerator") end
  if t == "string" then
    local codes, i = {}, 0
    for _, cp in utf8codes(coll) do codes[#codes + 1] = utf8char(cp) end
    return function()
      i = i + 1
      if codes[i] then return i, codes[i] end
    end
  end
  if t == "table" or t == "userdata" then
    local C = cls(coll)
    if C then
      if C.iter then return C.iter(coll) end
      throw("InvalidOperationException", type_name(coll) .. " is not enumerable")
    end
    local ge = coll.GetEnumerator
    if ge then return ge(coll) end
    if t == "table" and getmetatable(coll) == nil then return each_plain(coll) end
  end
  throw("InvalidOperationException", type_name(coll) .. " is not enumerable")
end

local function to_items(coll)
  local t, n = {}, 0
  for _, v in M.each(coll) do n = n + 1; t[n] = v end
  return t, n
end

local function no_elements() throw("InvalidOperationException", "Sequence contains no elements") end

local LINQ = {}
M.LINQ = LINQ
function LINQ.Select(c, f)
  local t, n = to_items(c)
  local out = {}
  for i = 1, n do out[i] = f(t[i], i - 1) end
  return new_array(out, n)
end
function LINQ.SelectMany(c, f)
  local t, n = to_items(c)
  local out, m = {}, 0
  for i = 1, n do
    for _, v in M.each(f(t[i], i - 1)) do m = m + 1; out[m] = v end
  end
  return new_array(out, m)
end
function LINQ.Where(c, f)
  local t, n = to_items(c)
  local out, m = {}, 0
  for i = 1, n do if f(t[i], i - 1) then m = m + 1; out[m] = t[i] end end
  return new_array(out, m)
end
local function first(c, f, or_default)
  for _, v in M.each(c) do
    if not f or f(v) then return v end
  end
  if or_default then return nil end
  if f then throw("InvalidOperationException", "Sequence contains no matching element") end
  no_elements()
end
function LINQ.First(c, f) return first(c, f, false) end
function LINQ.FirstOrDefault(c, f) return first(c, f, true) end
local function last(c, f, or_default)
  local t, n = to_items(c)
  for i = n, 1, -1 do if not f or f(t[i]) then return t[i] end end
  if or_default then return nil end
  no_elements()
end
function LINQ.Last(c, f) return last(c, f, false) end
function LINQ.LastOrDefault(c, f) return last(c, f, true) end
local function single(c, f, or_default)
  local found, value = false, nil
  for _, v in M.each(c) do
    if not f or f(v) then
      if found then
        throw("InvalidOperationException", f and "Sequence contains more than one matching element"
          or "Sequence contains more than one element")
      end
      found, value = true, v
    end
  end
  if not found then
    if or_default then return nil end
    if f then throw("InvalidOperationException", "Sequence contains no matching element") end
    no_elements()
  end
  return value
end
function LINQ.Single(c, f) return single(c, f, false) end
function LINQ.SingleOrDefault(c, f) return single(c, f, true) end
function LINQ.Any(c, f)
  for _, v in M.each(c) do if not f or f(v) then return true end end
  return false
end
function LINQ.All(c, f)
  for _, v in M.each(c) do if not f(v) then return false end end
  return true
end
function LINQ.Count(c, f)
  local n = 0
  for _, v in M.each(c) do if not f or f(v) then n = n + 1 end end
  return n
end
function LINQ.Contains(c, x, cmp)
  local icase = ignore_case(cmp)
  for _, v in M.each(c) do
    if icase and type(v) == "string" and type(x) == "string" then
      if lower(v) == lower(x) then return true end
    elseif equals(v, x) then return true end
  end
  return false
end
function LINQ.ToArray(c) local t, n = to_items(c); return new_array(t, n) end
function LINQ.ToList(c) local t, n = to_items(c); return new_list(t, n) end
function LINQ.AsEnumerable(c) return c end
function LINQ.Skip(c, k)
  local t, n = to_items(c)
  local out, m = {}, 0
  for i = need_int(k, "count") + 1, n do m = m + 1; out[m] = t[i] end
  return new_array(out, m)
end
function LINQ.Take(c, k)
  local t, n = to_items(c)
  local out, m = {}, 0
  for i = 1, math.min(n, need_int(k, "count")) do m = m + 1; out[m] = t[i] end
  return new_array(out, m)
end
local function order(c, f, desc)
  local t, n = to_items(c)
  local idx = {}
  for i = 1, n do idx[i] = i end
  local keys = {}
  for i = 1, n do keys[i] = f and f(t[i]) or t[i] end
  sort(idx, function(a, b)
    local r = M.compare(keys[a], keys[b])
    if r == 0 then return a < b end
    if desc then return r > 0 end
    return r < 0
  end)
  local out = {}
  for i = 1, n do out[i] = t[idx[i]] end
  return new_array(out, n)
end
function LINQ.OrderBy(c, f) return order(c, f, false) end
function LINQ.OrderByDescending(c, f) return order(c, f, true) end
function LINQ.Distinct(c)
  local out, m, seen = {}, 0, {}
  for _, v in M.each(c) do
    local key = v == nil and JNULL or v
    if not seen[key] then seen[key] = true; m = m + 1; out[m] = v end
  end
  return new_array(out, m)
end
function LINQ.Reverse(c)
  local t, n = to_items(c)
  local out = {}
  for i = 1, n do out[i] = t[n + 1 - i] end
  return new_array(out, n)
end
function LINQ.Concat(c, other)
  local t, n = to_items(c)
  for _, v in M.each(other) do n = n + 1; t[n] = v end
  return new_array(t, n)
end
function LINQ.Sum(c, f)
  local s = 0
  for _, v in M.each(c) do s = s + (f and f(v) or v) end
  return s
end
local function extreme(c, f, better)
  local best, found = nil, false
  for _, v in M.each(c) do
    local x = f and f(v) or v
    if not found or better(M.compare(x, best)) then best, found = x, true end
  end
  if not found then no_elements() end
  return best
end
function LINQ.Min(c, f) return extreme(c, f, function(r) return r < 0 end) end
function LINQ.Max(c, f) return extreme(c, f, function(r) return r > 0 end) end
function LINQ.Average(c, f)
  local s, n = 0, 0
  for _, v in M.each(c) do s = s + (f and f(v) or v); n = n + 1 end
  if n == 0 then no_elements() end
  return s / n
end
function LINQ.Aggregate(c, a, b)
  local t, n = to_items(c)
  local acc, f, i0 = a, b, 1
  if b == nil then
    if n == 0 then no_elements() end
    acc, f, i0 = t[1], a, 2
  end
  for i = i0, n do acc = f(acc, t[i]) end
  return acc
end
function LINQ.ElementAt(c, i)
  local t, n = to_items(c)
  i = need_int(i, "index")
  if i < 0 or i >= n then out_of_range("index", "Index was out of range.") end
  return t[i + 1]
end
function LINQ.ElementAtOrDefault(c, i)
  local t = to_items(c)
  return t[need_int(i, "index") + 1]
end
function LINQ.SequenceEqual(c, other)
  local a, n = to_items(c)
  local b, m = to_items(other)
  if n ~= m then return false end
  for i = 1, n do if not equals(a[i], b[i]) then return false end end
  return true
end
function LINQ.ToDictionary(c, kf, vf)
  local d = new_dictionary()
  for _, v in M.each(c) do DM.Add(d, kf(v), vf and vf(v) or v) end
  return d
end
function LINQ.DefaultIfEmpty(c, def)
  local t, n = to_items(c)
  if n == 0 then return new_array({ def }, 1) end
  return new_array(t, n)
end
LINQ["Cast<>"] = function(c, T)
  local t, n = to_items(c)
  for i = 1, n do t[i] = M.cast(t[i], T) end
  return new_array(t, n)
end
LINQ["OfType<>"] = function(c, T)
  local out, m = {}, 0
  for _, v in M.each(c) do if M.is(v, T) then m = m + 1; out[m] = v end end
  return new_array(out, m)
end
LINQ.ToHashSet = LINQ.Distinct

local ENUMERABLE = { [Array] = true, [List] = true, [Bytes] = true, [Dictionary] = true }
M.ENUMERABLE = ENUMERABLE

------------------------------------------------------------------------------
-- member access, calls and indexers

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

local OBJECT_METHODS = {}
function OBJECT_METHODS.ToString(o) return str(o) end
function OBJECT_METHODS.Equals(o, x) return equals(o, x) end
function OBJECT_METHODS.GetHashCode(o) return SM.GetHashCode(tostring(o)) end
function OBJECT_METHODS.GetType(o) return type_name(o) end

local generic_result -- forward

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

local NO = {}

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

local JWT_METHODS -- forward (AsJwt, TryParseJwt on strings)

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

------------------------------------------------------------------------------
-- operators

function equals(a, b)
  if a == b then return true end
  if rawequal(a, JNULL) then return b == nil end
  if rawequal(b, JNULL) then return a == nil end
  return false
end
M.equals = equals

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

------------------------------------------------------------------------------
-- casts, is, as

local JObject, JArray, JProperty -- classes, below
local DateTime, DateTimeOffset, TimeSpan, Guid, Uri -- classes, below
local json_parse -- below

local function invalid_cast(v, T)
  throw("InvalidCastException", format("Unable to cast object of type '%s' to type '%s'.", type_name(v), T))
end

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

-- the result of obj.M(...) used as obj.M<T>(...): JSON text becomes JObject/JArray/JToken
function generic_result(v, T)
  if (T == "JObject" or T == "JArray" or T == "JToken") and type(v) == "string" then
    return json_parse(v, T)
  end
  if T == "byte[]" and type(v) == "string" then return M.bytes(v) end
  if v == nil then return M.default_of(T) end
  return M.cast(v, T)
end
M.generic_result = generic_result

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
-- static classes: string, numbers, bool, char, Convert, Math

local function join_values(sep, ...)
  local n = select("#", ...)
  local parts = {}
  local first = ...
  if n == 1 and type(first) ~= "string" and first ~= nil and (cls(first) and cls(first).iter or (type(first) == "table" and getmetatable(first) == nil)) then
    for _, v in M.each(first) do parts[#parts + 1] = str(v) end
  else
    for i = 1, n do parts[i] = str((select(i, ...))) end
  end
  return concat(parts, sep)
end

T.String = {
  IsNullOrEmpty = function(s) return s == nil or s == "" end,
  IsNullOrWhiteSpace = function(s) return s == nil or not find(s, "[^ \t\n\r\v\f]") end,
  Join = function(sep, ...) return join_values(str(sep), ...) end,
  Concat = function(...) return join_values("", ...) end,
  Equals = function(a, b, cmp)
    if a == nil or b == nil then return a == b end
    if ignore_case(cmp) then return lower(a) == lower(b) end
    return a == b
  end,
  Compare = function(a, b, cmp)
    if a == b then return 0 end
    if a == nil then return -1 end
    if b == nil then return 1 end
    if ignore_case(cmp) then a, b = lower(a), lower(b) end
    if a == b then return 0 end
    return a < b and -1 or 1
  end,
  Format = function(fmt, ...)
    local n = select("#", ...)
    local args = { ... }
    if fmt == nil and type(args[1]) == "string" then
      -- String.Format(provider, format, args...)
      fmt = args[1]
      remove(args, 1)
      n = n - 1
    end
    if n == 1 and cls(args[1]) == Array then
      local a = args[1]
      args = {}
      for i = 1, a.n do args[i] = a[i] end
      n = a.n
    end
    return composite(fmt, args, n)
  end,
}
T.String.CompareOrdinal = T.String.Compare

local function numeric_statics(kind)
  local r = INT_RANGE[kind]
  local function parse(s, style)
    if s == nil then throw("ArgumentNullException", "Value cannot be null. (Parameter 's')") end
    local hex = type(style) == "table" and style.enum_type == "NumberStyles" and (style.value & 512) == 512
    local v, e = parse_integer(s, kind, hex)
    if not v then
      if e == "overflow" then throw("OverflowException", "Value was either too large or too small for an " .. r[3] .. ".") end
      format_error(s)
    end
    return v
  end
  return {
    Parse = parse,
    TryParse = function(s, style)
      if type(s) ~= "string" then return false, 0 end
      local hex = type(style) == "table" and style.enum_type == "NumberStyles" and (style.value & 512) == 512
      local v = parse_integer(s, kind, hex)
      if v then return true, v end
      return false, 0
    end,
  }
end
T.Int32 = numeric_statics("int")
T.Int64 = numeric_statics("long")
T.Int16 = numeric_statics("short")
T.Byte = numeric_statics("byte")
T.SByte = numeric_statics("sbyte")
T.UInt32 = numeric_statics("uint")
T.UInt16 = numeric_statics("ushort")
T.UInt64 = numeric_statics("ulong")
T.Double = {
  Parse = function(s)
    if s == nil then throw("ArgumentNullException", "Value cannot be null. (Parameter 's')") end
    local v = parse_double(s)
    if not v then format_error(s) end
    return v
  end,
  TryParse = function(s)
    local v = parse_double(s)
    if v then return true, v end
    return false, 0.0
  end,
  IsNaN = function(v) return v ~= v end,
}
T.Boolean = {
  Parse = function(s)
    if s == nil then throw("ArgumentNullException", "Value cannot be null. (Parameter 'value')") end
    local l = lower(match(s, "^%s*(.-)%s*$"))
    if l == "true" then return true end
    if l == "false" then return false end
    throw("FormatException", "String '" .. s .. "' was not recognized as a valid Boolean.")
  end,
  TryParse = function(s)
    if type(s) ~= "string" then return false, false end
    local l = lower(match(s, "^%s*(.-)%s*$"))
    if l == "true" then return true, true end
    if l == "false" then return true, false end
    return false, false
  end,
}
T.Char = {
  IsDigit = function(c) return find(c, "^%d$") ~= nil end,
  IsLetter = function(c) return find(c, "^%a$") ~= nil or (#c > 1 and utf8len(c) == 1) end,
  IsLetterOrDigit = function(c) return find(c, "^%w$") ~= nil or (#c > 1 and utf8len(c) == 1) end,
  IsWhiteSpace = function(c) return find(c, "^" .. WS .. "$") ~= nil end,
  IsUpper = function(c) return find(c, "^%u$") ~= nil end,
  IsLower = function(c) return find(c, "^%l$") ~= nil end,
  ToUpper = function(c) return upper(c) end,
  ToLower = function(c) return lower(c) end,
}

-- base64
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64INV = {}
for i = 1, 64 do B64INV[byte(B64, i)] = i - 1 end

local function base64_encode(s)
  local out, n = {}, #s
  for i = 1, n - 2, 3 do
    local a, b, c = byte(s, i, i + 2)
    local v = a << 16 | b << 8 | c
    out[#out + 1] = char(byte(B64, (v >> 18) + 1), byte(B64, (v >> 12 & 63) + 1),
      byte(B64, (v >> 6 & 63) + 1), byte(B64, (v & 63) + 1))
  end
  local rest = n % 3
  if rest == 1 then
    local v = byte(s, n) << 16
    out[#out + 1] = char(byte(B64, (v >> 18) + 1), byte(B64, (v >> 12 & 63) + 1)) .. "=="
  elseif rest == 2 then
    local a, b = byte(s, n - 1, n)
    local v = a << 16 | b << 8
    out[#out + 1] = char(byte(B64, (v >> 18) + 1), byte(B64, (v >> 12 & 63) + 1), byte(B64, (v >> 6 & 63) + 1)) .. "="
  end
  return concat(out)
end
M.base64_encode = base64_encode

-- strict (Convert.FromBase64String) unless `lenient` (base64url, missing padding)
local function base64_decode(s, lenient)
  s = gsub(s, "[ \t\r\n]", "")
  if lenient then
    s = gsub(gsub(s, "-", "+"), "_", "/")
    s = gsub(s, "=+$", "")
    s = s .. rep("=", (4 - #s % 4) % 4)
  end
  if #s % 4 ~= 0 or find(s, "[^%w%+/=]") or find(s, "=[^=]") or find(s, "===$") then
    return nil
  end
  local out = {}
  for i = 1, #s, 4 do
    local a, b, c, d = byte(s, i, i + 3)
    local va, vb = B64INV[a], B64INV[b]
    local vc, vd = B64INV[c], B64INV[d]
    if va == nil or vb == nil then return nil end
    local v = va << 18 | vb << 12 | (vc or 0) << 6 | (vd or 0)
    if c == 61 then out[#out + 1] = char(v >> 16)
    elseif d == 61 then out[#out + 1] = char(v >> 16, v >> 8 & 255)
    else
      if vc == nil or vd == nil then return nil end
      out[#out + 1] = char(v >> 16, v >> 8 & 255, v & 255)
    end
  end
  return concat(out)
end
M.base64_decode = base64_decode

-- C# rounds to even when converting doubles to integers
local function round_even(v)
  local f = floor(v)
  local d = v - f
  if d > 0.5 or (d == 0.5 and f % 2 == 1) then f = f + 1 end
  return f
end

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

local function num_arg(v, what)
  if type(v) ~= "number" then
    throw("ArgumentException", format("'%s' must be a number, got %s", what or "value", type_name(v)))
  end
  return v
end

T.Math = {
  Min = function(a, b) num_arg(a); num_arg(b); if b < a then return b end return a end,
  Max = function(a, b) num_arg(a); num_arg(b); if b > a then return b end return a end,
  Abs = function(a)
    num_arg(a)
    if a == math.mininteger then throw("OverflowException", "Negating the minimum value of a twos complement number is invalid.") end
    return a < 0 and -a or a
  end,
  Floor = function(a) return floor(num_arg(a)) + 0.0 end,
  Ceiling = function(a) return math.ceil(num_arg(a)) + 0.0 end,
  Truncate = function(a) num_arg(a); return (a >= 0 and floor(a) or -floor(-a)) + 0.0 end,
  Round = function(a, digits, mode)
    num_arg(a)
    if type(digits) == "table" then mode, digits = digits, nil end
    local scale = 10 ^ (digits or 0)
    local x = a * scale
    local r
    if mode and mode.name == "AwayFromZero" then
      r = x >= 0 and floor(x + 0.5) or -floor(-x + 0.5)
    elseif mode and mode.name == "ToZero" then r = x >= 0 and floor(x) or -floor(-x)
    elseif mode and mode.name == "ToNegativeInfinity" then r = floor(x)
    elseif mode and mode.name == "ToPositiveInfinity" then r = math.ceil(x)
    else r = round_even(x) end
    return r / scale + 0.0
  end,
  Pow = function(a, b) return num_arg(a) ^ num_arg(b) end,
  Sqrt = function(a) return math.sqrt(num_arg(a)) end,
  Sign = function(a) num_arg(a); return a > 0 and 1 or (a < 0 and -1 or 0) end,
  Log = function(a, b) if b then return math.log(num_arg(a), b) end return math.log(num_arg(a)) end,
  Log10 = function(a) return math.log(num_arg(a), 10) end,
  Exp = function(a) return math.exp(num_arg(a)) end,
}

------------------------------------------------------------------------------
-- JSON: JObject (ordered), JArray, JProperty; primitives are plain Lua values

JObject = class("JObject")
JArray = class("JArray")
JProperty = class("JProperty")
M.JObjectClass, M.JArrayClass, M.JPropertyClass = JObject, JArray, JProperty

local function new_jobject() return setmetatable({ keys = {}, map = {} }, JObject) end
local function new_jarray() return setmetatable({ n = 0 }, JArray) end
M.new_jobject, M.new_jarray = new_jobject, new_jarray

local to_token -- C# value -> JSON token

local function from_token(v)
  if rawequal(v, JNULL) then return nil end
  return v
end

local function jput(o, k, v)
  if not o.map[k] and o.map[k] ~= false then
    if o.map[k] == nil then o.keys[#o.keys + 1] = k end
  end
  o.map[k] = to_token(v)
end

local function jremove(o, k)
  if o.map[k] == nil then return false end
  o.map[k] = nil
  for i, kk in ipairs(o.keys) do if kk == k then remove(o.keys, i); break end end
  return true
end

-- reader ---------------------------------------------------------------------

local function json_error(s, pos, msg)
  local line, col = 1, pos
  local i = 1
  while true do
    local nl = find(s, "\n", i, true)
    if not nl or nl >= pos then break end
    line = line + 1
    col = pos - nl
    i = nl + 1
  end
  throw("JsonReaderException", format("%s Path '', line %d, position %d.", msg, line, col))
end

local ESC = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function read_string(s, pos)
  -- pos: after the opening quote
  local buf, i = {}, pos
  while true do
    local j = find(s, '["\\%c]', i)
    if not j then json_error(s, pos, "Unterminated string. Expected delimiter: \".") end
    local c = sub(s, j, j)
    if c == '"' then
      if #buf == 0 then return sub(s, i, j - 1), j + 1 end
      buf[#buf + 1] = sub(s, i, j - 1)
      return concat(buf), j + 1
    elseif c == "\\" then
      buf[#buf + 1] = sub(s, i, j - 1)
      local e = sub(s, j + 1, j + 1)
      if ESC[e] then buf[#buf + 1] = ESC[e]; i = j + 2
      elseif e == "u" then
        local h = match(s, "^%x%x%x%x", j + 2)
        if not h then json_error(s, j, "Bad JSON escape sequence.") end
        local cp = tonumber(h, 16)
        i = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local lo = match(s, "^\\u(%x%x%x%x)", i)
          lo = lo and tonumber(lo, 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            i = i + 6
          end
        end
        buf[#buf + 1] = utf8char(cp)
      else json_error(s, j, "Bad JSON escape sequence: \\" .. e .. ".") end
    else
      if c == "\n" or c == "\r" then json_error(s, j, "Unterminated string. Expected delimiter: \".") end
      buf[#buf + 1] = sub(s, i, j)
      i = j + 1
    end
  end
end

local read_value

local function skip_ws(s, pos)
  local p = find(s, "[^ \t\r\n]", pos)
  if p and sub(s, p, p) == "/" then
    -- Newtonsoft accepts comments
    if sub(s, p, p + 1) == "//" then
      local nl = find(s, "\n", p, true)
      return skip_ws(s, nl and nl + 1 or #s + 1)
    elseif sub(s, p, p + 1) == "/*" then
      local _, e = find(s, "*/", p + 2, true)
      if not e then json_error(s, p, "Unexpected end while parsing comment.") end
      return skip_ws(s, e + 1)
    end
  end
  return p or (#s + 1)
end

local function read_object(s, pos, depth)
  local o = new_jobject()
  pos = skip_ws(s, pos)
  if sub(s, pos, pos) == "}" then return o, pos + 1 end
  while true do
    local c = sub(s, pos, pos)
    local key
    if c == '"' then key, pos = read_string(s, pos + 1)
    elseif c == "'" then
      local e = find(s, "'", pos + 1, true)
      if not e then json_error(s, pos, "Unterminated string.") end
      key, pos = sub(s, pos + 1, e - 1), e + 1
    else
      local id = match(s, "^[%a_$][%w_$]*", pos)
      if not id then json_error(s, pos, "Invalid property identifier character: " .. (c == "" and "end of input" or c) .. ".") end
      key, pos = id, pos + #id
    end
    pos = skip_ws(s, pos)
    if sub(s, pos, pos) ~= ":" then json_error(s, pos, "Invalid character after parsing property name. Expected ':'.") end
    local v
    v, pos = read_value(s, skip_ws(s, pos + 1), depth + 1)
    if o.map[key] == nil then o.keys[#o.keys + 1] = key end
    o.map[key] = v
    pos = skip_ws(s, pos)
    c = sub(s, pos, pos)
    if c == "}" then return o, pos + 1 end
    if c ~= "," then json_error(s, pos, "After parsing a value an unexpected character was encountered: " .. (c == "" and "end of input" or c) .. ".") end
    pos = skip_ws(s, pos + 1)
    if sub(s, pos, pos) == "}" then return o, pos + 1 end
  end
end

local function read_array(s, pos, depth)
  local a = new_jarray()
  pos = skip_ws(s, pos)
  if sub(s, pos, pos) == "]" then return a, pos + 1 end
  local n = 0
  while true do
    local v
    v, pos = read_value(s, pos, depth + 1)
    n = n + 1
    a[n] = v
    pos = skip_ws(s, pos)
    local c = sub(s, pos, pos)
    if c == "]" then a.n = n; return a, pos + 1 end
    if c ~= "," then json_error(s, pos, "After parsing a value an unexpected character was encountered: " .. (c == "" and "end of input" or c) .. ".") end
    pos = skip_ws(s, pos + 1)
    if sub(s, pos, pos) == "]" then a.n = n; return a, pos + 1 end
  end
end

function read_value(s, pos, depth)
  if depth > 256 then json_error(s, pos, "The reader's MaxDepth of 256 has been exceeded.") end
  local c = sub(s, pos, pos)
  if c == "{" then return read_object(s, pos + 1, depth) end
  if c == "[" then return read_array(s, pos + 1, depth) end
  if c == '"' then return read_string(s, pos + 1) end
  if c == "'" then
    local e = find(s, "'", pos + 1, true)
    if not e then json_error(s, pos, "Unterminated string.") end
    return sub(s, pos + 1, e - 1), e + 1
  end
  local num = match(s, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if num and num ~= "-" then
    local v
    if find(num, "[.eE]") then v = tonumber(num)
    else
      v = tointeger(tonumber(num))
      if v == nil then v = tonumber(num) end
    end
    if v == nil then json_error(s, pos, "Input string '" .. num .. "' is not a valid number.") end
    return v, pos + #num
  end
  if sub(s, pos, pos + 3) == "true" then return true, pos + 4 end
  if sub(s, pos, pos + 4) == "false" then return false, pos + 5 end
  if sub(s, pos, pos + 3) == "null" then return JNULL, pos + 4 end
  if c == "" then json_error(s, pos, "Unexpected end when reading JSON.") end
  json_error(s, pos, "Unexpected character encountered while parsing value: " .. c .. ".")
end

-- JSON text -> JObject | JArray | primitive; `what` ("JObject", "JArray", "JToken")
-- checks the kind, as JObject.Parse and JArray.Parse do
function json_parse(s, what)
  if s == nil then throw("ArgumentNullException", "Value cannot be null. (Parameter 'json')") end
  s = need_string(s)
  local pos = skip_ws(s, 1)
  local v
  v, pos = read_value(s, pos, 0)
  pos = skip_ws(s, pos)
  if pos <= #s then
    json_error(s, pos, "Additional text encountered after finished reading JSON content: " .. sub(s, pos, pos) .. ".")
  end
  if what == "JObject" and cls(v) ~= JObject then
    throw("JsonReaderException", "Error reading JObject from JsonReader. Current JsonReader item is not an object: "
      .. (cls(v) == JArray and "StartArray" or "value") .. ". Path '', line 1, position 1.")
  end
  if what == "JArray" and cls(v) ~= JArray then
    throw("JsonReaderException", "Error reading JArray from JsonReader. Current JsonReader item is not an array: "
      .. (cls(v) == JObject and "StartObject" or "value") .. ". Path '', line 1, position 1.")
  end
  return from_token(v)
end
M.json_parse = json_parse
M.parse_json = json_parse

-- writer ---------------------------------------------------------------------

local JSON_ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
  ["\r"] = "\\r", ["\t"] = "\\t" }
local function json_string(s)
  return '"' .. gsub(s, '[%c"\\]', function(c)
    return JSON_ESC[c] or format("\\u%04x", byte(c))
  end) .. '"'
end
M.json_string = json_string

local function json_number(v)
  if mtype(v) == "integer" then return tostring(v) end
  if v ~= v then return '"NaN"' end
  if v == huge then return '"Infinity"' end
  if v == -huge then return '"-Infinity"' end
  local s = double_str(v)
  if not find(s, "[.E]") then s = s .. ".0" end
  return s
end

local function write(v, out, indent, level)
  local t = type(v)
  if t == "string" then out[#out + 1] = json_string(v); return end
  if t == "number" then out[#out + 1] = json_number(v); return end
  if t == "boolean" then out[#out + 1] = v and "true" or "false"; return end
  if v == nil or rawequal(v, JNULL) then out[#out + 1] = "null"; return end
  local C = cls(v)
  if C == JObject then
    if #v.keys == 0 then out[#out + 1] = "{}"; return end
    out[#out + 1] = "{"
    for i, k in ipairs(v.keys) do
      if i > 1 then out[#out + 1] = "," end
      if indent then out[#out + 1] = "\n" .. rep(indent, level + 1) end
      out[#out + 1] = json_string(k)
      out[#out + 1] = indent and ": " or ":"
      write(v.map[k], out, indent, level + 1)
    end
    if indent then out[#out + 1] = "\n" .. rep(indent, level) end
    out[#out + 1] = "}"
    return
  end
  if C == JArray then
    if v.n == 0 then out[#out + 1] = "[]"; return end
    out[#out + 1] = "["
    for i = 1, v.n do
      if i > 1 then out[#out + 1] = "," end
      if indent then out[#out + 1] = "\n" .. rep(indent, level + 1) end
      write(v[i], out, indent, level + 1)
    end
    if indent then out[#out + 1] = "\n" .. rep(indent, level) end
    out[#out + 1] = "]"
    return
  end
  if C == JProperty then
    out[#out + 1] = json_string(v.name)
    out[#out + 1] = indent and ": " or ":"
    write(v.value, out, indent, level)
    return
  end
  write(to_token(v), out, indent, level)
end

local function json_text(v, indented)
  local out = {}
  write(v, out, indented and "  " or nil, 0)
  return concat(out)
end
M.json_text = json_text

local function formatting_indented(f)
  if f == nil then return true end
  return not (type(f) == "table" and f.name == "None")
end

-- C# value -> JSON token (what JToken.FromObject and JObject.Add do)
function to_token(v)
  local t = type(v)
  if v == nil then return JNULL end
  if t == "string" or t == "number" or t == "boolean" or rawequal(v, JNULL) then return v end
  local C = cls(v)
  if C == JObject or C == JArray then return v end
  if C == JProperty then
    throw("ArgumentException", "Can not add Newtonsoft.Json.Linq.JProperty to Newtonsoft.Json.Linq.JObject.")
  end
  if C == Array or C == List then
    local a = new_jarray()
    for i = 1, v.n do a[i] = to_token(v[i]) end
    a.n = v.n
    return a
  end
  if C == Dictionary then
    local o = new_jobject()
    for _, kv in Dictionary.iter(v) do jput(o, str(kv.k), kv.v) end
    return o
  end
  if C == Bytes then return base64_encode(v.s) end
  if C == Enum then return v.value end
  if C and C.json then return C.json(v) end
  if C and C.tostring then return C.tostring(v) end
  if t == "table" and getmetatable(v) == nil then
    -- a plain Lua table: an array when it has a sequence, else an object
    if #v > 0 or next(v) == nil then
      local a = new_jarray()
      for i = 1, #v do a[i] = to_token(v[i]) end
      a.n = #v
      return a
    end
    local o = new_jobject()
    local ks = {}
    for k in pairs(v) do ks[#ks + 1] = tostring(k) end
    sort(ks)
    for _, k in ipairs(ks) do jput(o, k, v[k]) end
    return o
  end
  throw("JsonSerializationException", "cannot convert " .. type_name(v) .. " to JSON")
end
M.to_token = to_token

-- JObject --------------------------------------------------------------------

local function jtype(v)
  local t = type(v)
  if t == "string" then return E.JTokenType.String end
  if t == "boolean" then return E.JTokenType.Boolean end
  if t == "number" then return mtype(v) == "integer" and E.JTokenType.Integer or E.JTokenType.Float end
  if v == nil or rawequal(v, JNULL) then return E.JTokenType.Null end
  local C = cls(v)
  if C == JObject then return E.JTokenType.Object end
  if C == JArray then return E.JTokenType.Array end
  if C == JProperty then return E.JTokenType.Property end
  return E.JTokenType.None
end
M.jtype = jtype

local function jprop(o, k)
  return setmetatable({ name = k, value = o.map[k], parent = o }, JProperty)
end

JObject.tostring = function(o) return json_text(o, true) end
JArray.tostring = JObject.tostring
JProperty.tostring = function(p) return json_text(p, true) end
JObject.index = function(o, k)
  if type(k) ~= "string" then
    throw("ArgumentException", "Accessed JObject values with invalid key value: " .. str(k) .. ". Object property name expected.")
  end
  return from_token(o.map[k])
end
JObject.setindex = function(o, k, v)
  if type(k) ~= "string" then
    throw("ArgumentException", "Set JObject values with invalid key value: " .. str(k) .. ". Object property name expected.")
  end
  jput(o, k, v)
end
JObject.iter = function(o)
  local i = 0
  return function()
    i = i + 1
    local k = o.keys[i]
    if k ~= nil then return i, jprop(o, k) end
  end
end
JObject.props.Count = function(o) return #o.keys end
JObject.props.HasValues = function(o) return #o.keys > 0 end
JObject.props.Type = function() return E.JTokenType.Object end
JObject.props.First = function(o) return o.keys[1] and jprop(o, o.keys[1]) or nil end
JObject.props.Last = function(o) local k = o.keys[#o.keys]; return k and jprop(o, k) or nil end

local JOM = JObject.methods
function JOM.Add(o, k, v)
  if cls(k) == JProperty and v == nil then k, v = k.name, from_token(k.value) end
  k = need_string(k, "propertyName")
  if o.map[k] ~= nil then
    throw("ArgumentException", "Can not add property " .. k .. " to Newtonsoft.Json.Linq.JObject. Property with the same name already exists on object.")
  end
  jput(o, k, v)
end
function JOM.Remove(o, k) return jremove(o, need_string(k, "propertyName")) end
function JOM.Property(o, k)
  if o.map[k] == nil then return nil end
  return jprop(o, k)
end
function JOM.ContainsKey(o, k) return o.map[k] ~= nil end
function JOM.TryGetValue(o, k)
  local v = o.map[k]
  if v == nil then return false, nil end
  return true, from_token(v)
end
function JOM.GetValue(o, k, cmp)
  if ignore_case(cmp) then
    for _, kk in ipairs(o.keys) do if lower(kk) == lower(k) then return from_token(o.map[kk]) end end
    return nil
  end
  return from_token(o.map[k])
end
JOM["Value<>"] = function(o, T, k) return generic_result(from_token(o.map[k]), T) end
JOM["Values<>"] = function(o, T)
  local out, n = {}, 0
  for _, k in ipairs(o.keys) do n = n + 1; out[n] = generic_result(from_token(o.map[k]), T) end
  return new_array(out, n)
end
function JOM.Properties(o)
  local out = {}
  for i, k in ipairs(o.keys) do out[i] = jprop(o, k) end
  return new_array(out, #o.keys)
end
function JOM.Children(o) return JOM.Properties(o) end
function JOM.ToString(o, f) return json_text(o, formatting_indented(f)) end

local function deep_clone(v)
  local C = cls(v)
  if C == JObject then
    local o = new_jobject()
    for _, k in ipairs(v.keys) do o.keys[#o.keys + 1] = k; o.map[k] = deep_clone(v.map[k]) end
    return o
  elseif C == JArray then
    local a = new_jarray()
    for i = 1, v.n do a[i] = deep_clone(v[i]) end
    a.n = v.n
    return a
  end
  return v
end
function JOM.DeepClone(o) return deep_clone(o) end
function JOM.Merge(o, other)
  for _, k in ipairs(other.keys) do
    local ov, nv = o.map[k], other.map[k]
    if cls(ov) == JObject and cls(nv) == JObject then JOM.Merge(ov, nv)
    else jput(o, k, deep_clone(nv)) end
  end
end

-- SelectToken("a.b[0]['c d']"): the JSONPath subset that names one token
local function select_token(root, path, error_when_none)
  local cur = root
  local i, n = 1, #path
  if sub(path, 1, 1) == "$" then i = 2 end
  local function missing(what)
    if error_when_none == true then throw("JsonException", "Property '" .. what .. "' does not exist on JObject.") end
    cur = nil
  end
  while i <= n and cur ~= nil do
    local c = sub(path, i, i)
    if c == "." then
      if sub(path, i + 1, i + 1) == "." then throw("NotSupportedException", "SelectToken: '..' is not supported") end
      i = i + 1
    elseif c == "[" then
      local q = sub(path, i + 1, i + 1)
      if q == "'" or q == '"' then
        local close = find(path, q .. "]", i + 2, true)
        if not close then throw("JsonException", "Path ended with open indexer.") end
        local name = sub(path, i + 2, close - 1)
        if cls(cur) ~= JObject then missing(name) else
          cur = cur.map[name]
          if cur == nil then missing(name) end
        end
        i = close + 2
      else
        local num, close = match(path, "^%s*(%d+)%s*()%]", i + 1)
        if not num then throw("NotSupportedException", "SelectToken: only [n] and ['name'] indexers are supported") end
        num = tonumber(num)
        if cls(cur) ~= JArray or num >= cur.n then
          if error_when_none == true then throw("JsonException", "Index " .. num .. " outside the bounds of JArray.") end
          cur = nil
        else cur = cur[num + 1] end
        i = close + 1
      end
    else
      local name = match(path, "^[^.%[]+", i)
      if name == "*" then throw("NotSupportedException", "SelectToken: wildcards are not supported") end
      if cls(cur) ~= JObject then missing(name) else
        cur = cur.map[name]
        if cur == nil then missing(name) end
      end
      i = i + #name
    end
  end
  return from_token(cur)
end
function JOM.SelectToken(o, path, err) return select_token(o, need_string(path, "path"), err) end
JOM["ToObject<>"] = function(o, T)
  if T == "JObject" or T == "object" or T == "dynamic" or T == "JToken" then return o end
  if match(T, "^Dictionary<") then
    local d = new_dictionary()
    local vt = match(T, "^Dictionary<%s*string%s*,%s*(.-)%s*>$")
    for _, k in ipairs(o.keys) do
      local v = from_token(o.map[k])
      if vt == "string" and type(v) ~= "string" and v ~= nil then v = str(v) end
      DM.Add(d, k, v)
    end
    return d
  end
  throw("NotSupportedException", "ToObject<" .. T .. "> is not supported")
end

-- JArray ---------------------------------------------------------------------

JArray.index = function(a, i)
  if mtype(i) ~= "integer" then
    throw("ArgumentException", "Accessed JArray values with invalid key value: " .. str(i) .. ". Int32 array index expected.")
  end
  if i < 0 or i >= a.n then out_of_range("index", "Index was out of range. Must be non-negative and less than the size of the collection.") end
  return from_token(a[i + 1])
end
JArray.setindex = function(a, i, v)
  if mtype(i) ~= "integer" or i < 0 or i >= a.n then
    out_of_range("index", "Index was out of range. Must be non-negative and less than the size of the collection.")
  end
  a[i + 1] = to_token(v)
end
JArray.iter = function(a)
  local i = 0
  return function()
    i = i + 1
    if i <= a.n then return i, from_token(a[i]) end
  end
end
JArray.props.Count = function(a) return a.n end
JArray.props.HasValues = function(a) return a.n > 0 end
JArray.props.Type = function() return E.JTokenType.Array end
JArray.props.First = function(a) return from_token(a[1]) end
JArray.props.Last = function(a) return from_token(a[a.n]) end
local JAM = JArray.methods
function JAM.Add(a, v) a.n = a.n + 1; a[a.n] = to_token(v) end
function JAM.Insert(a, i, v)
  i = need_int(i, "index")
  if i < 0 or i > a.n then out_of_range("index") end
  insert(a, i + 1, to_token(v))
  a.n = a.n + 1
end
function JAM.RemoveAt(a, i)
  JArray.index(a, i)
  remove(a, i + 1)
  a.n = a.n - 1
end
function JAM.Remove(a, v)
  for i = 1, a.n do
    if equals(from_token(a[i]), v) then remove(a, i); a.n = a.n - 1; return true end
  end
  return false
end
function JAM.Clear(a) for i = 1, a.n do a[i] = nil end; a.n = 0 end
function JAM.IndexOf(a, v)
  for i = 1, a.n do if equals(from_token(a[i]), v) then return i - 1 end end
  return -1
end
JAM.ToString = JOM.ToString
JAM.DeepClone = JOM.DeepClone
function JAM.SelectToken(a, path, err) return select_token(a, need_string(path, "path"), err) end
function JAM.Children(a) return LINQ.ToArray(a) end
JAM["Values<>"] = function(a, T)
  local out = {}
  for i = 1, a.n do out[i] = generic_result(from_token(a[i]), T) end
  return new_array(out, a.n)
end
JAM["ToObject<>"] = function(a, T)
  if T == "JArray" or T == "object" or T == "dynamic" or T == "JToken" then return a end
  local elem = match(T, "^(.-)%[%]$") or match(T, "^List<(.-)>$")
  if elem then
    local out = {}
    for i = 1, a.n do out[i] = generic_result(from_token(a[i]), elem) end
    if match(T, "^List<") then return new_list(out, a.n) end
    return new_array(out, a.n)
  end
  throw("NotSupportedException", "ToObject<" .. T .. "> is not supported")
end

-- JProperty ------------------------------------------------------------------

JProperty.props.Name = function(p) return p.name end
JProperty.props.Value = function(p) return from_token(p.value) end
JProperty.props.Type = function() return E.JTokenType.Property end
JProperty.setters.Value = function(p, v)
  p.value = to_token(v)
  if p.parent then p.parent.map[p.name] = p.value end
end
JProperty.methods.Remove = function(p)
  if p.parent then jremove(p.parent, p.name); p.parent = nil end
end
JProperty.methods.ToString = function(p, f) return json_text(p, formatting_indented(f)) end

-- primitive JSON values: .Type, .Value<T>() on strings/numbers/bools read from JSON
local PRIMITIVE_JSON = {}
PRIMITIVE_JSON["Value<>"] = function(v, T) return generic_result(v, T) end
PRIMITIVE_JSON["ToObject<>"] = function(v, T) return generic_result(v, T) end

T.JObject = {
  Parse = function(s) return json_parse(s, "JObject") end,
  FromObject = function(v)
    local t = to_token(v)
    if cls(t) ~= JObject then
      throw("ArgumentException", "Object serialized to " .. jtype(t).name .. ". JObject instance expected.")
    end
    return t
  end,
}
T.JArray = {
  Parse = function(s) return json_parse(s, "JArray") end,
  FromObject = function(v)
    local t = to_token(v)
    if cls(t) ~= JArray then
      throw("ArgumentException", "Object serialized to " .. jtype(t).name .. ". JArray instance expected.")
    end
    return t
  end,
}
T.JToken = {
  Parse = function(s) return json_parse(s, "JToken") end,
  FromObject = function(v) return from_token(to_token(v)) end,
}
T.JValue = { CreateNull = function() return nil end }
T.JsonConvert = {
  SerializeObject = function(v, f)
    return json_text(v, type(f) == "table" and f.name == "Indented")
  end,
  -- DeserializeObject<T>(json) arrives as ("T", json), DeserializeObject(json) as (nil, json)
  DeserializeObject = function(T_, s)
    local v = json_parse(s, "JToken")
    if T_ == "JToken" or T_ == "object" or T_ == "dynamic" or T_ == nil then return v end
    if T_ == "JObject" or T_ == "JArray" then return M.cast(v, T_) end
    local C = cls(v)
    if C == JObject then return JOM["ToObject<>"](v, T_) end
    if C == JArray then return JAM["ToObject<>"](v, T_) end
    return generic_result(v, T_)
  end,
}

------------------------------------------------------------------------------
-- randomness: a function returning a float in [0, 1); tests may fix it
--
-- (The sections from here on run inside `(function() ... end)()`: their locals would
-- push the main chunk past Lua's limit of 200 locals per function.)

local random = math.random
function M.set_random(f) random = f end

local function random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = char(floor(random() * 256) & 0xff) end
  return concat(t)
end

------------------------------------------------------------------------------
-- time: DateTime { ticks, kind }, DateTimeOffset { ticks (local clock), off (ticks) },
-- TimeSpan { ticks }; ticks are 100 ns since 0001-01-01, as in .NET. The gateway's
-- local time zone is UTC (DateTime.Now == DateTime.UtcNow, kind Local).
;(function()

local TICKS_PER_MS, TICKS_PER_SEC = 10000, 10000000
local TICKS_PER_MIN, TICKS_PER_HOUR, TICKS_PER_DAY = 600000000, 36000000000, 864000000000
local UNIX_EPOCH = 621355968000000000
local MAX_TICKS = 3155378975999999999

local os_time = os and os.time
local clock = function() return os_time and os_time() or 0 end
-- The clock the runtime reads: a function returning Unix time in seconds (float
-- allowed). The engine sets a precise one; tests set a fixed one.
function M.set_clock(f) clock = f end
function M.now() return clock() end


-- days since 1970-01-01 of a civil date (proleptic Gregorian)
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp + (mp < 10 and 3 or -9)
  return m <= 2 and y + 1 or y, m, d
end

DateTime = class("DateTime")
DateTimeOffset = class("DateTimeOffset")
TimeSpan = class("TimeSpan")
M.DateTimeClass, M.DateTimeOffsetClass, M.TimeSpanClass = DateTime, DateTimeOffset, TimeSpan

local function check_ticks(t)
  if t < 0 or t > MAX_TICKS then
    out_of_range("ticks", "The added or subtracted value results in an un-representable DateTime.")
  end
  return t
end

local function mkdt(ticks, kind) return setmetatable({ ticks = check_ticks(ticks), kind = kind or "Unspecified" }, DateTime) end
local function mkdto(ticks, off) return setmetatable({ ticks = check_ticks(ticks), off = off or 0 }, DateTimeOffset) end
local function mkts(ticks) return setmetatable({ ticks = ticks }, TimeSpan) end

local function ticks_of_seconds(s)
  if mtype(s) == "integer" then return s * TICKS_PER_SEC end
  -- whole seconds apart from the fraction: s * 1e7 does not fit a double's mantissa
  local whole = floor(s)
  return tointeger(whole) * TICKS_PER_SEC + (tointeger(floor((s - whole) * TICKS_PER_SEC + 0.5)) or 0)
end

-- Unix seconds -> DateTime (UTC); for context.lua
function M.datetime(unix_seconds) return mkdt(UNIX_EPOCH + ticks_of_seconds(unix_seconds), "Utc") end
function M.timespan(seconds) return mkts(ticks_of_seconds(seconds)) end

local function parts(ticks)
  local days = ticks // TICKS_PER_DAY
  local rest = ticks % TICKS_PER_DAY
  local y, mo, d = civil_from_days(days - UNIX_EPOCH // TICKS_PER_DAY)
  return y, mo, d, rest // TICKS_PER_HOUR, rest // TICKS_PER_MIN % 60, rest // TICKS_PER_SEC % 60,
    rest % TICKS_PER_SEC, days
end

local function ticks_from(y, mo, d, h, mi, s, ms)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or y < 1 or y > 9999 then
    out_of_range("year/month/day", "Year, Month, and Day parameters describe an un-representable DateTime.")
  end
  local days = days_from_civil(y, mo, d) + UNIX_EPOCH // TICKS_PER_DAY
  local y2, m2 = civil_from_days(days - UNIX_EPOCH // TICKS_PER_DAY)
  if y2 ~= y or m2 ~= mo then
    out_of_range("day", "Year, Month, and Day parameters describe an un-representable DateTime.")
  end
  return days * TICKS_PER_DAY + (h or 0) * TICKS_PER_HOUR + (mi or 0) * TICKS_PER_MIN
    + (s or 0) * TICKS_PER_SEC + (ms or 0) * TICKS_PER_MS
end

local MONTHS = { "January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December" }
local DAYS = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" }

local function weekday(days) return (days + 1) % 7 end -- 0001-01-01 was a Monday

local function offset_text(off, colon, short)
  local sign = off < 0 and "-" or "+"
  local m = abs(off) // TICKS_PER_MIN
  if short == 1 then return sign .. tostring(m // 60) end
  if short == 2 then return sign .. format("%02d", m // 60) end
  return format("%s%02d%s%02d", sign, m // 60, colon and ":" or "", m % 60)
end

local STANDARD_DT = {
  d = "MM/dd/yyyy", D = "dddd, dd MMMM yyyy", f = "dddd, dd MMMM yyyy HH:mm",
  F = "dddd, dd MMMM yyyy HH:mm:ss", g = "MM/dd/yyyy HH:mm", G = "MM/dd/yyyy HH:mm:ss",
  M = "MMMM dd", m = "MMMM dd", t = "HH:mm", T = "HH:mm:ss", Y = "yyyy MMMM", y = "yyyy MMMM",
  s = "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
}

-- ticks: clock ticks to print; kind: "Utc"/"Local"/"Unspecified"; off: offset ticks (DTO) or nil
local function format_date(ticks, kind, off, spec)
  if spec == nil or spec == "" then spec = off and "G zzz" or "G" end
  if #spec == 1 then
    if spec == "o" or spec == "O" then
      spec = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK"
    elseif spec == "R" or spec == "r" then
      if off then ticks = ticks - off end
      spec, kind, off = "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", "Utc", nil
    elseif spec == "u" then
      if off then ticks = ticks - off end
      spec, kind, off = "yyyy'-'MM'-'dd HH':'mm':'ss'Z'", "Utc", nil
    elseif spec == "G" and off then spec = "MM/dd/yyyy HH:mm:ss zzz"
    elseif STANDARD_DT[spec] then spec = STANDARD_DT[spec]
    else throw("FormatException", "Input string was not in a correct format.") end
  end
  local y, mo, d, h, mi, s, frac, days = parts(ticks)
  local out, i, n = {}, 1, #spec
  while i <= n do
    local c = sub(spec, i, i)
    local run = match(spec, "^" .. gsub(c, "%p", "%%%0") .. "+", i)
    local k = #run
    if c == "y" then
      if k <= 2 then out[#out + 1] = format(k == 1 and "%d" or "%02d", y % 100)
      else out[#out + 1] = format("%0" .. k .. "d", y) end
    elseif c == "M" then
      if k == 1 then out[#out + 1] = tostring(mo) elseif k == 2 then out[#out + 1] = format("%02d", mo)
      elseif k == 3 then out[#out + 1] = sub(MONTHS[mo], 1, 3) else out[#out + 1] = MONTHS[mo] end
    elseif c == "d" then
      if k == 1 then out[#out + 1] = tostring(d) elseif k == 2 then out[#out + 1] = format("%02d", d)
      elseif k == 3 then out[#out + 1] = sub(DAYS[weekday(days) + 1], 1, 3)
      else out[#out + 1] = DAYS[weekday(days) + 1] end
    elseif c == "H" then out[#out + 1] = format(k == 1 and "%d" or "%02d", h)
    elseif c == "h" then out[#out + 1] = format(k == 1 and "%d" or "%02d", (h % 12 == 0) and 12 or h % 12)
    elseif c == "m" then out[#out + 1] = format(k == 1 and "%d" or "%02d", mi)
    elseif c == "s" then out[#out + 1] = format(k == 1 and "%d" or "%02d", s)
    elseif c == "f" or c == "F" then
      local digits = sub(format("%07d", frac), 1, math.min(k, 7))
      if c == "F" then digits = gsub(digits, "0+$", "") end
      if c == "F" and digits == "" and sub(out[#out] or "", -1) == "." then out[#out] = sub(out[#out], 1, -2) end
      out[#out + 1] = digits
    elseif c == "t" then out[#out + 1] = sub(h < 12 and "AM" or "PM", 1, k == 1 and 1 or 2)
    elseif c == "z" then
      out[#out + 1] = offset_text(off or 0, true, k < 3 and k or nil)
    elseif c == "K" then
      if off then out[#out + 1] = offset_text(off, true)
      elseif kind == "Utc" then out[#out + 1] = "Z"
      elseif kind == "Local" then out[#out + 1] = "+00:00" end
      k = 1
    elseif c == "'" or c == '"' then
      local close = find(spec, c, i + 1, true)
      if not close then throw("FormatException", "Cannot find a matching quote character for the character '" .. c .. "'.") end
      out[#out + 1] = sub(spec, i + 1, close - 1)
      k = close - i + 1
    elseif c == "\\" then
      out[#out + 1] = sub(spec, i + 1, i + 1)
      k = 2
    elseif c == "%" then
      k = 1
    else
      out[#out + 1] = c
      k = 1
    end
    i = i + k
  end
  return concat(out)
end

local function dt_of(v)
  if cls(v) == DateTime then return v end
  invalid_cast(v, "System.DateTime")
end

local function ts_arg(v)
  if cls(v) == TimeSpan then return v.ticks end
  throw("ArgumentException", "expected a TimeSpan, got " .. type_name(v))
end

local function add_months(ticks, months)
  local y, mo, d = parts(ticks)
  local total = y * 12 + (mo - 1) + need_int(months, "months")
  local ny, nm = total // 12, total % 12 + 1
  local dim = M.T.DateTime.DaysInMonth(ny, nm)
  if d > dim then d = dim end
  return ticks_from(ny, nm, d) + ticks % TICKS_PER_DAY
end

-- members shared by DateTime and DateTimeOffset (both keep clock ticks in .ticks)
local function date_members(C, mk)
  local P, Mth = C.props, C.methods
  P.Year = function(v) return (parts(v.ticks)) end
  P.Month = function(v) return select(2, parts(v.ticks)) end
  P.Day = function(v) return select(3, parts(v.ticks)) end
  P.Hour = function(v) return select(4, parts(v.ticks)) end
  P.Minute = function(v) return select(5, parts(v.ticks)) end
  P.Second = function(v) return select(6, parts(v.ticks)) end
  P.Millisecond = function(v) return select(7, parts(v.ticks)) // TICKS_PER_MS end
  P.Ticks = function(v) return v.ticks end
  P.DayOfWeek = function(v) return E.DayOfWeek[DAYS[weekday(v.ticks // TICKS_PER_DAY) + 1]] end
  P.DayOfYear = function(v)
    local y = parts(v.ticks)
    return (v.ticks - ticks_from(y, 1, 1)) // TICKS_PER_DAY + 1
  end
  P.TimeOfDay = function(v) return mkts(v.ticks % TICKS_PER_DAY) end
  local function adder(unit)
    return function(v, x)
      num_arg(x, "value")
      local t
      if mtype(x) == "integer" then t = x * unit else t = tointeger(floor(x * unit + 0.5)) end
      return mk(v, v.ticks + t)
    end
  end
  Mth.AddTicks = adder(1)
  Mth.AddMilliseconds = adder(TICKS_PER_MS)
  Mth.AddSeconds = adder(TICKS_PER_SEC)
  Mth.AddMinutes = adder(TICKS_PER_MIN)
  Mth.AddHours = adder(TICKS_PER_HOUR)
  Mth.AddDays = adder(TICKS_PER_DAY)
  Mth.AddMonths = function(v, m) return mk(v, add_months(v.ticks, m)) end
  Mth.AddYears = function(v, y) return mk(v, add_months(v.ticks, need_int(y, "years") * 12)) end
  Mth.Add = function(v, ts) return mk(v, v.ticks + ts_arg(ts)) end
  Mth.CompareTo = function(a, b) return M.compare(a, b) end
  Mth.Equals = function(a, b) return a == b end
  Mth.GetHashCode = function(v) return v.ticks & 0x7fffffff end
  local function dated(v)
    local mt = getmetatable(v)
    return rawequal(mt, DateTime) or rawequal(mt, DateTimeOffset)
  end
  C.__lt = function(a, b) return a:utc() < b:utc() end
  C.__le = function(a, b) return a:utc() <= b:utc() end
  -- Lua calls __eq for any two tables: compare only dates
  C.__eq = function(a, b) return dated(a) and dated(b) and a:utc() == b:utc() end
  C.__add = function(a, b) return mk(a, a.ticks + ts_arg(b)) end
end

DateTime.__index = { utc = function(v) return v.ticks end }
DateTimeOffset.__index = { utc = function(v) return v.ticks - v.off end }

date_members(DateTime, function(v, t) return mkdt(t, v.kind) end)
date_members(DateTimeOffset, function(v, t) return mkdto(t, v.off) end)

DateTime.tostring = function(v) return format_date(v.ticks, v.kind, nil, nil) end
DateTime.format = function(v, spec) return format_date(v.ticks, v.kind, nil, spec) end
DateTime.json = function(v) return format_date(v.ticks, v.kind, nil, "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFFK") end
DateTime.props.Date = function(v) return mkdt(v.ticks - v.ticks % TICKS_PER_DAY, v.kind) end
DateTime.props.Kind = function(v) return E.DateTimeKind[v.kind] end
DateTime.methods.ToString = function(v, spec)
  if type(spec) ~= "string" then spec = nil end
  return format_date(v.ticks, v.kind, nil, spec)
end
DateTime.methods.ToUniversalTime = function(v) return mkdt(v.ticks, "Utc") end
DateTime.methods.ToLocalTime = function(v) return mkdt(v.ticks, "Local") end
DateTime.methods.Subtract = function(a, b)
  if cls(b) == TimeSpan then return mkdt(a.ticks - b.ticks, a.kind) end
  return mkts(a.ticks - dt_of(b).ticks)
end
DateTime.methods.ToFileTimeUtc = function(v) return v.ticks - 504911232000000000 end
DateTime.methods.ToUnixTimeSeconds = nil
DateTime.methods.ToShortDateString = function(v) return format_date(v.ticks, v.kind, nil, "d") end
DateTime.methods.ToLongDateString = function(v) return format_date(v.ticks, v.kind, nil, "D") end
DateTime.methods.ToShortTimeString = function(v) return format_date(v.ticks, v.kind, nil, "t") end
DateTime.methods.ToLongTimeString = function(v) return format_date(v.ticks, v.kind, nil, "T") end
DateTime.methods.ToOADate = function(v) return (v.ticks - 599264352000000000) / TICKS_PER_DAY end
DateTime.__sub = function(a, b)
  if cls(b) == TimeSpan then return mkdt(a.ticks - b.ticks, a.kind) end
  return mkts(a.ticks - dt_of(b).ticks)
end

DateTimeOffset.tostring = function(v) return format_date(v.ticks, nil, v.off, nil) end
DateTimeOffset.format = function(v, spec) return format_date(v.ticks, nil, v.off, spec) end
DateTimeOffset.json = function(v) return format_date(v.ticks, nil, v.off, "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFFzzz") end
DateTimeOffset.props.Offset = function(v) return mkts(v.off) end
DateTimeOffset.props.UtcDateTime = function(v) return mkdt(v.ticks - v.off, "Utc") end
DateTimeOffset.props.DateTime = function(v) return mkdt(v.ticks, "Unspecified") end
DateTimeOffset.props.LocalDateTime = function(v) return mkdt(v.ticks - v.off, "Local") end
DateTimeOffset.props.UtcTicks = function(v) return v.ticks - v.off end
DateTimeOffset.props.Date = function(v) return mkdt(v.ticks - v.ticks % TICKS_PER_DAY, "Unspecified") end
DateTimeOffset.methods.ToString = function(v, spec)
  if type(spec) ~= "string" then spec = nil end
  return format_date(v.ticks, nil, v.off, spec)
end
DateTimeOffset.methods.ToUnixTimeSeconds = function(v) return (v.ticks - v.off - UNIX_EPOCH) // TICKS_PER_SEC end
DateTimeOffset.methods.ToUnixTimeMilliseconds = function(v) return (v.ticks - v.off - UNIX_EPOCH) // TICKS_PER_MS end
DateTimeOffset.methods.ToUniversalTime = function(v) return mkdto(v.ticks - v.off, 0) end
DateTimeOffset.methods.ToLocalTime = DateTimeOffset.methods.ToUniversalTime
DateTimeOffset.methods.ToOffset = function(v, ts) return mkdto(v.ticks - v.off + ts_arg(ts), ts_arg(ts)) end
DateTimeOffset.methods.Subtract = function(a, b)
  if cls(b) == TimeSpan then return mkdto(a.ticks - b.ticks, a.off) end
  return mkts((a.ticks - a.off) - (b.ticks - b.off))
end
DateTimeOffset.__sub = function(a, b)
  if cls(b) == TimeSpan then return mkdto(a.ticks - b.ticks, a.off) end
  if cls(b) == DateTime then b = mkdto(b.ticks, 0) end
  return mkts((a.ticks - a.off) - (b.ticks - b.off))
end

local function now_ticks() return UNIX_EPOCH + ticks_of_seconds(clock()) end

local MONTH_NUM = {}
for i, m in ipairs(MONTHS) do MONTH_NUM[lower(sub(m, 1, 3))] = i end

-- ISO 8601 and RFC 1123 text -> clock ticks, offset ticks or nil, has zone
local function parse_date(s)
  if type(s) ~= "string" then return nil end
  local t = match(s, "^%s*(.-)%s*$")
  local y, mo, d, rest = match(t, "^(%d%d%d%d)-(%d%d?)-(%d%d?)(.*)$")
  if not y then
    local mm, dd, yy, rest2 = match(t, "^(%d%d?)/(%d%d?)/(%d%d%d%d)(.*)$")
    if mm then y, mo, d, rest = yy, mm, dd, rest2 end
  end
  if y then
    local h, mi, sec, frac, zone = 0, 0, 0, "", nil
    if rest ~= "" then
      local hh, mm2, tail = match(rest, "^[T ](%d%d?):(%d%d)(.*)$")
      if not hh then return nil end
      h, mi = hh, mm2
      local ss, tail2 = match(tail, "^:(%d%d)(.*)$")
      if ss then sec, tail = ss, tail2 end
      local f, tail3 = match(tail, "^[.,](%d+)(.*)$")
      if f then frac, tail = f, tail3 end
      tail = match(tail, "^%s*(.-)$")
      if tail ~= "" then zone = tail end
    end
    local ok, ticks = pcall(ticks_from, tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec))
    if not ok then return nil end
    if frac ~= "" then ticks = ticks + tonumber(sub(frac .. "000000", 1, 7)) end
    local off
    if zone then
      if zone == "Z" or zone == "z" or zone == "GMT" or zone == "UTC" then off = 0
      else
        local sg, oh, om = match(zone, "^([+-])(%d%d):?(%d%d)$")
        if not sg then return nil end
        off = (tonumber(oh) * 60 + tonumber(om)) * TICKS_PER_MIN
        if sg == "-" then off = -off end
      end
    end
    return ticks, off
  end
  -- RFC 1123: "Tue, 02 Jan 2024 03:04:05 GMT"
  local dd, mon, yy, hh, mm, ss, zone = match(t, "^%a+,%s*(%d%d?)%s+(%a%a%a)%s+(%d%d%d%d)%s+(%d%d):(%d%d):(%d%d)%s*(%a*)$")
  if dd then
    local m = MONTH_NUM[lower(mon)]
    if not m then return nil end
    local ok, ticks = pcall(ticks_from, tonumber(yy), m, tonumber(dd), tonumber(hh), tonumber(mm), tonumber(ss))
    if not ok then return nil end
    return ticks, (zone == "GMT" or zone == "UTC" or zone == "Z") and 0 or nil
  end
  return nil
end

T.DateTime = {
  UtcNow = function() return mkdt(now_ticks(), "Utc") end,
  Now = function() return mkdt(now_ticks(), "Local") end,
  Today = function() local t = now_ticks(); return mkdt(t - t % TICKS_PER_DAY, "Local") end,
  UnixEpoch = function() return mkdt(UNIX_EPOCH, "Utc") end,
  MinValue = function() return mkdt(0) end,
  MaxValue = function() return mkdt(MAX_TICKS) end,
  Parse = function(s)
    local ticks, off = parse_date(s)
    if not ticks then throw("FormatException", "String '" .. str(s) .. "' was not recognized as a valid DateTime.") end
    if off then return mkdt(ticks - off, "Utc") end
    return mkdt(ticks, "Unspecified")
  end,
  TryParse = function(s)
    local ticks, off = parse_date(s)
    if not ticks then return false, mkdt(0) end
    if off then return true, mkdt(ticks - off, "Utc") end
    return true, mkdt(ticks, "Unspecified")
  end,
  SpecifyKind = function(v, kind) return mkdt(dt_of(v).ticks, kind.name) end,
  DaysInMonth = function(y, m)
    local dim = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
    if m == 2 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then return 29 end
    return dim[m]
  end,
  IsLeapYear = function(y) return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) end,
}
-- ParseExact(s, format): the format's fields become a pattern; standard one-letter
-- formats (o, s, u, R) fall back to Parse
local EXACT = { yyyy = "(%d%d%d%d)", MM = "(%d%d)", M = "(%d%d?)", dd = "(%d%d)", d = "(%d%d?)",
  HH = "(%d%d)", H = "(%d%d?)", mm = "(%d%d)", m = "(%d%d?)", ss = "(%d%d)", s = "(%d%d?)",
  yy = "(%d%d)" }
local function parse_exact(s, fmt)
  s, fmt = need_string(s, "s"), need_string(fmt, "format")
  if #fmt == 1 then return T.DateTime.Parse(s) end
  local pat, fields, i = { "^" }, {}, 1
  while i <= #fmt do
    local c = sub(fmt, i, i)
    local run = match(fmt, "^" .. gsub(c, "%p", "%%%0") .. "+", i)
    if EXACT[run] then
      pat[#pat + 1] = EXACT[run]; fields[#fields + 1] = run; i = i + #run
    elseif c == "f" or c == "F" then
      pat[#pat + 1] = c == "f" and ("(" .. rep("%d", #run) .. ")") or "(%d*)"; fields[#fields + 1] = "f"; i = i + #run
    elseif c == "'" or c == '"' then
      local close = find(fmt, c, i + 1, true) or (#fmt + 1)
      pat[#pat + 1] = gsub(sub(fmt, i + 1, close - 1), "%p", "%%%0"); i = close + 1
    elseif c == "\\" then
      pat[#pat + 1] = gsub(sub(fmt, i + 1, i + 1), "%p", "%%%0"); i = i + 2
    elseif c == "K" or run == "zzz" then
      pat[#pat + 1] = "(Z?[+-]?%d?%d?:?%d?%d?)"; fields[#fields + 1] = "zone"; i = i + #run
    elseif find("dfFghHKmMstyz", c, 1, true) then
      throw("FormatException", "ParseExact: format field '" .. run .. "' is not supported")
    else
      pat[#pat + 1] = gsub(c, "%p", "%%%0"); i = i + 1
    end
  end
  pat[#pat + 1] = "$"
  local caps = { match(s, concat(pat)) }
  if #caps == 0 then throw("FormatException", "String '" .. s .. "' was not recognized as a valid DateTime.") end
  local v = { yyyy = 1, MM = 1, dd = 1, HH = 0, mm = 0, ss = 0 }
  local frac, zone = "", nil
  for k, name in ipairs(fields) do
    local x = caps[k]
    if name == "f" then frac = x
    elseif name == "zone" then zone = x ~= "" and x or nil
    elseif name == "yy" then v.yyyy = 2000 + tonumber(x)
    else v[({ M = "MM", d = "dd", H = "HH", m = "mm", s = "ss" })[name] or name] = tonumber(x) end
  end
  local ok, ticks = pcall(ticks_from, v.yyyy, v.MM, v.dd, v.HH, v.mm, v.ss)
  if not ok then throw("FormatException", "String '" .. s .. "' was not recognized as a valid DateTime.") end
  if frac ~= "" then ticks = ticks + tonumber(sub(frac .. "000000", 1, 7)) end
  if zone then
    local _, off = parse_date("2000-01-01T00:00:00" .. zone)
    if off then return mkdt(ticks - off, "Utc") end
  end
  return mkdt(ticks, "Unspecified")
end
T.DateTime.ParseExact = parse_exact
T.DateTimeOffset = {
  UtcNow = function() return mkdto(now_ticks(), 0) end,
  Now = function() return mkdto(now_ticks(), 0) end,
  UnixEpoch = function() return mkdto(UNIX_EPOCH, 0) end,
  MinValue = function() return mkdto(0, 0) end,
  MaxValue = function() return mkdto(MAX_TICKS, 0) end,
  FromUnixTimeSeconds = function(s) return mkdto(UNIX_EPOCH + need_int(s, "seconds") * TICKS_PER_SEC, 0) end,
  FromUnixTimeMilliseconds = function(ms) return mkdto(UNIX_EPOCH + need_int(ms, "milliseconds") * TICKS_PER_MS, 0) end,
  Parse = function(s)
    local ticks, off = parse_date(s)
    if not ticks then throw("FormatException", "String '" .. str(s) .. "' was not recognized as a valid DateTime.") end
    return mkdto(ticks, off or 0)
  end,
  TryParse = function(s)
    local ticks, off = parse_date(s)
    if not ticks then return false, mkdto(0, 0) end
    return true, mkdto(ticks, off or 0)
  end,
}

TimeSpan.tostring = function(v)
  local t = v.ticks
  local sign = t < 0 and "-" or ""
  t = abs(t)
  local days = t // TICKS_PER_DAY
  local s = format("%s%s%02d:%02d:%02d", sign, days > 0 and (days .. ".") or "", t // TICKS_PER_HOUR % 24,
    t // TICKS_PER_MIN % 60, t // TICKS_PER_SEC % 60)
  local frac = t % TICKS_PER_SEC
  if frac > 0 then s = s .. format(".%07d", frac) end
  return s
end
TimeSpan.format = function(v) return TimeSpan.tostring(v) end
local TP = TimeSpan.props
TP.Ticks = function(v) return v.ticks end
TP.TotalDays = function(v) return v.ticks / TICKS_PER_DAY end
TP.TotalHours = function(v) return v.ticks / TICKS_PER_HOUR end
TP.TotalMinutes = function(v) return v.ticks / TICKS_PER_MIN end
TP.TotalSeconds = function(v) return v.ticks / TICKS_PER_SEC end
TP.TotalMilliseconds = function(v) return v.ticks / TICKS_PER_MS end
local function tpart(unit, mod)
  return function(v)
    local t = v.ticks
    local r = (abs(t) // unit) % mod
    return t < 0 and -r or r
  end
end
TP.Days = function(v) local t = v.ticks; return t < 0 and -((-t) // TICKS_PER_DAY) or t // TICKS_PER_DAY end
TP.Hours = tpart(TICKS_PER_HOUR, 24)
TP.Minutes = tpart(TICKS_PER_MIN, 60)
TP.Seconds = tpart(TICKS_PER_SEC, 60)
TP.Milliseconds = tpart(TICKS_PER_MS, 1000)
TimeSpan.methods.Add = function(a, b) return mkts(a.ticks + ts_arg(b)) end
TimeSpan.methods.Subtract = function(a, b) return mkts(a.ticks - ts_arg(b)) end
TimeSpan.methods.Negate = function(a) return mkts(-a.ticks) end
TimeSpan.methods.Duration = function(a) return mkts(abs(a.ticks)) end
TimeSpan.methods.ToString = function(v) return TimeSpan.tostring(v) end
TimeSpan.methods.CompareTo = function(a, b) return M.compare(a, b) end
TimeSpan.methods.Equals = function(a, b) return a == b end
TimeSpan.__add = function(a, b) return mkts(ts_arg(a) + ts_arg(b)) end
TimeSpan.__sub = function(a, b) return mkts(ts_arg(a) - ts_arg(b)) end
TimeSpan.__unm = function(a) return mkts(-a.ticks) end
TimeSpan.__eq = function(a, b)
  return rawequal(getmetatable(a), TimeSpan) and rawequal(getmetatable(b), TimeSpan) and a.ticks == b.ticks
end
TimeSpan.__lt = function(a, b) return a.ticks < b.ticks end
TimeSpan.__le = function(a, b) return a.ticks <= b.ticks end
local function ts_from(unit)
  return function(x)
    num_arg(x, "value")
    if mtype(x) == "integer" then return mkts(x * unit) end
    return mkts(tointeger(floor(x * unit + 0.5)))
  end
end
T.TimeSpan = {
  FromTicks = ts_from(1), FromMilliseconds = ts_from(TICKS_PER_MS), FromSeconds = ts_from(TICKS_PER_SEC),
  FromMinutes = ts_from(TICKS_PER_MIN), FromHours = ts_from(TICKS_PER_HOUR), FromDays = ts_from(TICKS_PER_DAY),
  Zero = function() return mkts(0) end,
  Parse = function(s)
    local sign, d, h, m, sec, f = match(need_string(s), "^%s*(-?)(%d*)%.?(%d%d?):(%d%d):?(%d*)%.?(%d*)%s*$")
    if not h then format_error(s) end
    local t = (tonumber(d) or 0) * TICKS_PER_DAY + tonumber(h) * TICKS_PER_HOUR + tonumber(m) * TICKS_PER_MIN
      + (tonumber(sec) or 0) * TICKS_PER_SEC + (f ~= "" and tonumber(sub(f .. "000000", 1, 7)) or 0)
    return mkts(sign == "-" and -t or t)
  end,
}

function NEW.DateTime(y, mo, d, h, mi, s, ms, kind)
  if type(ms) == "table" then ms, kind = nil, ms end
  if type(h) == "table" then h, kind = nil, h end
  if mo == nil then return mkdt(need_int(y, "ticks")) end
  return mkdt(ticks_from(y, mo, d, h, mi, s, ms), kind and kind.name or "Unspecified")
end
function NEW.DateTimeOffset(a, ...)
  if cls(a) == DateTime then
    local off = ...
    return mkdto(a.ticks, off and ts_arg(off) or 0)
  end
  local mo, d, h, mi, s, off = ...
  if mo == nil then return mkdto(need_int(a, "ticks"), 0) end
  local ms = 0
  if cls(off) ~= TimeSpan then ms, off = off, select(7, ...) end
  return mkdto(ticks_from(a, mo, d, h, mi, s, ms), off and ts_arg(off) or 0)
end
function NEW.TimeSpan(a, b, c, d, e)
  if b == nil then return mkts(need_int(a, "ticks")) end
  if d == nil then return mkts(a * TICKS_PER_HOUR + b * TICKS_PER_MIN + c * TICKS_PER_SEC) end
  return mkts(a * TICKS_PER_DAY + b * TICKS_PER_HOUR + c * TICKS_PER_MIN + d * TICKS_PER_SEC + (e or 0) * TICKS_PER_MS)
end
end)()

------------------------------------------------------------------------------
-- Guid
;(function()

Guid = class("Guid")
M.GuidClass = Guid
local function mkguid(s) return setmetatable({ s = s }, Guid) end


local function guid_from_hex(hex) -- 32 hex digits
  hex = lower(hex)
  return mkguid(format("%s-%s-%s-%s-%s", sub(hex, 1, 8), sub(hex, 9, 12), sub(hex, 13, 16), sub(hex, 17, 20), sub(hex, 21, 32)))
end

local function hex_of(s) return (gsub(s, ".", function(c) return format("%02x", byte(c)) end)) end

Guid.tostring = function(g) return g.s end
Guid.format = function(g, spec)
  if spec == nil or spec == "" or spec == "D" or spec == "d" then return g.s end
  local hex = gsub(g.s, "-", "")
  if spec == "N" or spec == "n" then return hex end
  if spec == "B" or spec == "b" then return "{" .. g.s .. "}" end
  if spec == "P" or spec == "p" then return "(" .. g.s .. ")" end
  throw("FormatException", "Format string can be only \"D\", \"d\", \"N\", \"n\", \"P\", \"p\", \"B\", \"b\", \"X\" or \"x\".")
end
Guid.json = Guid.tostring
Guid.__eq = function(a, b) return rawequal(getmetatable(b), Guid) and rawequal(getmetatable(a), Guid) and a.s == b.s end
Guid.methods.ToString = function(g, spec) return Guid.format(g, spec) end
Guid.methods.Equals = function(a, b) return cls(b) == Guid and a.s == b.s end
Guid.methods.GetHashCode = function(g) return SM.GetHashCode(g.s) end
Guid.methods.CompareTo = function(a, b) return a.s == b.s and 0 or (a.s < b.s and -1 or 1) end
-- .NET's byte order: the first three groups little-endian
Guid.methods.ToByteArray = function(g)
  local hex = gsub(g.s, "-", "")
  local b = gsub(hex, "%x%x", function(h) return char(tonumber(h, 16)) end)
  return bytes(sub(b, 4, 4) .. sub(b, 3, 3) .. sub(b, 2, 2) .. sub(b, 1, 1) .. sub(b, 6, 6) .. sub(b, 5, 5)
    .. sub(b, 8, 8) .. sub(b, 7, 7) .. sub(b, 9))
end
local function guid_from_bytes(b)
  b = raw_bytes(b)
  if #b ~= 16 then throw("ArgumentException", "Byte array for GUID must be exactly 16 bytes long. (Parameter 'b')") end
  local ordered = sub(b, 4, 4) .. sub(b, 3, 3) .. sub(b, 2, 2) .. sub(b, 1, 1) .. sub(b, 6, 6) .. sub(b, 5, 5)
    .. sub(b, 8, 8) .. sub(b, 7, 7) .. sub(b, 9)
  return guid_from_hex(hex_of(ordered))
end
local function guid_parse(s)
  if type(s) ~= "string" then return nil end
  local t = match(s, "^%s*(.-)%s*$")
  t = match(t, "^{(.*)}$") or match(t, "^%((.*)%)$") or t
  local hex
  if #t == 36 and match(t, "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") then
    hex = gsub(t, "-", "")
  elseif #t == 32 and match(t, "^%x+$") then hex = t end
  if not hex then return nil end
  return guid_from_hex(hex)
end
T.Guid = {
  NewGuid = function()
    local b = { byte(random_bytes(16), 1, 16) }
    b[7] = (b[7] & 0x0f) | 0x40
    b[9] = (b[9] & 0x3f) | 0x80
    return guid_from_hex(hex_of(char(unpack(b))))
  end,
  Parse = function(s)
    local g = guid_parse(s)
    if not g then throw("FormatException", "Unrecognized Guid format.") end
    return g
  end,
  TryParse = function(s)
    local g = guid_parse(s)
    if not g then return false, mkguid("00000000-0000-0000-0000-000000000000") end
    return true, g
  end,
  Empty = function() return mkguid("00000000-0000-0000-0000-000000000000") end,
}

function NEW.Guid(v)
  if type(v) == "string" then return T.Guid.Parse(v) end
  return guid_from_bytes(v)
end
end)()

------------------------------------------------------------------------------
-- URLs and encodings
;(function()

local function escape_data(s)
  return (gsub(s, "[^%w%-_%.~]", function(c) return format("%%%02X", byte(c)) end))
end
local function unescape_data(s)
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

Uri = class("Uri")
M.UriClass = Uri
local URI_PORTS = { http = 80, https = 443, ftp = 21, ws = 80, wss = 443 }
local function uri_parse(s)
  local scheme, rest = match(s, "^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil end
  local authority, path = match(rest, "^([^/?#]*)(.*)$")
  local query = match(path, "%?[^#]*") or ""
  local fragment = match(path, "#.*$") or ""
  path = match(path, "^[^?#]*")
  if path == "" then path = "/" end
  local userinfo = match(authority, "^(.*)@")
  local hostport = gsub(authority, "^.*@", "")
  local host, port = match(hostport, "^(%[.-%]):?(%d*)$")
  if not host then host, port = match(hostport, "^([^:]*):?(%d*)$") end
  if not host or host == "" then return nil end
  scheme = lower(scheme)
  return { scheme = scheme, host = lower(host), port = tonumber(port) or URI_PORTS[scheme] or -1,
    explicit_port = port ~= "", path = path, query = query, fragment = fragment, userinfo = userinfo or "" }
end
local function uri_text(u)
  local s = u.scheme .. "://" .. (u.userinfo ~= "" and (u.userinfo .. "@") or "") .. u.host
  if u.port ~= URI_PORTS[u.scheme] and u.port ~= -1 then s = s .. ":" .. u.port end
  return s .. u.path .. u.query .. u.fragment
end
Uri.tostring = function(u) return uri_text(u) end
Uri.json = Uri.tostring
Uri.props.Scheme = function(u) return u.scheme end
Uri.props.Host = function(u) return u.host end
Uri.props.Port = function(u) return u.port end
Uri.props.AbsolutePath = function(u) return u.path end
Uri.props.LocalPath = function(u) return unescape_data(u.path) end
Uri.props.Query = function(u) return u.query end
Uri.props.Fragment = function(u) return u.fragment end
Uri.props.PathAndQuery = function(u) return u.path .. u.query end
Uri.props.AbsoluteUri = function(u) return uri_text(u) end
Uri.props.OriginalString = function(u) return u.original end
Uri.props.Authority = function(u)
  if u.port ~= URI_PORTS[u.scheme] and u.port ~= -1 then return u.host .. ":" .. u.port end
  return u.host
end
Uri.props.IsDefaultPort = function(u) return u.port == URI_PORTS[u.scheme] end
Uri.props.IsAbsoluteUri = function() return true end
Uri.props.UserInfo = function(u) return u.userinfo end
Uri.props.Segments = function(u)
  local segs = {}
  for seg in gmatch(u.path, "[^/]*/?") do if seg ~= "" then segs[#segs + 1] = seg end end
  return new_array(segs, #segs)
end
Uri.props.DnsSafeHost = Uri.props.Host
Uri.props.HostNameType = function() return "Dns" end
Uri.methods.ToString = function(u) return uri_text(u) end
Uri.methods.GetLeftPart = function(u, part)
  local s = u.scheme .. "://" .. Uri.props.Authority(u)
  if part and (part.name == "Path" or part == "Path") then s = s .. u.path end
  return s
end
Uri.__eq = function(a, b)
  return rawequal(getmetatable(a), Uri) and rawequal(getmetatable(b), Uri) and uri_text(a) == uri_text(b)
end

T.Uri = {
  EscapeDataString = function(s) return escape_data(need_string(s, "stringToEscape")) end,
  UnescapeDataString = function(s) return unescape_data(need_string(s, "stringToUnescape")) end,
  EscapeUriString = function(s)
    return (gsub(need_string(s, "stringToEscape"), "[^%w%-_%.~:/%?#%[%]@!%$&'%(%)%*%+,;=%%]", function(c)
      return format("%%%02X", byte(c))
    end))
  end,
  IsWellFormedUriString = function(s) return type(s) == "string" and uri_parse(s) ~= nil end,
  TryCreate = function(s)
    local u = type(s) == "string" and uri_parse(s)
    if not u then return false, nil end
    u.original = s
    return true, setmetatable(u, Uri)
  end,
}

T.WebUtility = {
  UrlEncode = function(s)
    if s == nil then return nil end
    return (gsub(gsub(s, "[^%w%-_%.!%*%(%) ]", function(c) return format("%%%02X", byte(c)) end), " ", "+"))
  end,
  UrlDecode = function(s)
    if s == nil then return nil end
    return unescape_data((gsub(s, "+", " ")))
  end,
  HtmlEncode = function(s)
    if s == nil then return nil end
    return (gsub(s, "[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
  end,
  HtmlDecode = function(s)
    if s == nil then return nil end
    return (gsub(s, "&(#?x?%w+);", function(e)
      local named = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'", nbsp = "\194\160" }
      if named[e] then return named[e] end
      local hx = match(e, "^#[xX](%x+)$")
      if hx then return utf8char(tonumber(hx, 16)) end
      local dec = match(e, "^#(%d+)$")
      if dec then return utf8char(tonumber(dec)) end
      return nil
    end))
  end,
}

local Encoding = class("Encoding")
Encoding.methods.GetBytes = function(enc, s)
  if s == nil then throw("ArgumentNullException", "Value cannot be null. (Parameter 's')") end
  if cls(s) == Array then s = concat(s, "", 1, s.n) end
  s = need_string(s)
  if enc.name == "us-ascii" then s = gsub(s, "[\128-\255]+", function(run) return rep("?", utf8len(run) or #run) end) end
  if enc.name == "utf-16" then
    local out = {}
    for _, cp in utf8codes(s) do
      if cp >= 0x10000 then
        cp = cp - 0x10000
        local hi, lo = 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3ff)
        out[#out + 1] = char(hi & 255, hi >> 8, lo & 255, lo >> 8)
      else
        out[#out + 1] = char(cp & 255, cp >> 8)
      end
    end
    s = concat(out)
  end
  return bytes(s)
end
Encoding.methods.GetString = function(enc, b, index, count)
  local s = raw_bytes(b)
  if index then s = sub(s, index + 1, index + (count or #s)) end
  if enc.name == "utf-16" then
    local out, i = {}, 1
    while i + 1 <= #s do
      local lo, hi = byte(s, i, i + 1)
      out[#out + 1] = utf8char(lo | hi << 8)
      i = i + 2
    end
    return concat(out)
  end
  if not utf8len(s) then
    -- invalid sequences become U+FFFD, as .NET does
    local out, i = {}, 1
    while i <= #s do
      local ch = match(s, "^[%z\1-\127]", i) or match(s, "^[\194-\223][\128-\191]", i)
        or match(s, "^[\224-\239][\128-\191][\128-\191]", i) or match(s, "^[\240-\244][\128-\191][\128-\191][\128-\191]", i)
      if ch and utf8len(ch) then out[#out + 1] = ch; i = i + #ch
      else out[#out + 1] = "\239\191\189"; i = i + 1 end
    end
    return concat(out)
  end
  return s
end
Encoding.methods.GetByteCount = function(enc, s) return #M.raw_bytes(Encoding.methods.GetBytes(enc, s)) end
Encoding.props.WebName = function(enc) return enc.name end
Encoding.tostring = function() return "System.Text.Encoding" end
T.Encoding = {
  UTF8 = setmetatable({ name = "utf-8" }, Encoding),
  ASCII = setmetatable({ name = "us-ascii" }, Encoding),
  Unicode = setmetatable({ name = "utf-16" }, Encoding),
}
T.Encoding.Default = T.Encoding.UTF8

function NEW.Uri(s, rel)
  if cls(s) == Uri and type(rel) == "string" then
    if match(rel, "^%a[%w+.-]*://") then s = rel
    elseif sub(rel, 1, 1) == "/" then s = s.scheme .. "://" .. Uri.props.Authority(s) .. rel
    else s = uri_text(s):gsub("[^/]*$", "") .. rel end
  end
  s = need_string(s, "uriString")
  local u = uri_parse(s)
  if not u then throw("UriFormatException", "Invalid URI: The format of the URI could not be determined.") end
  u.original = s
  return setmetatable(u, Uri)
end
end)()

------------------------------------------------------------------------------
-- StringBuilder, Random
;(function()

local StringBuilder = class("StringBuilder")
StringBuilder.tostring = function(sb) return concat(sb.parts) end
StringBuilder.props.Length = function(sb) return slen(concat(sb.parts)) end
local SBM = StringBuilder.methods
function SBM.Append(sb, v, ...)
  if select("#", ...) > 0 and type(v) == "string" then
    -- Append(char, repeatCount)
    local count = ...
    if mtype(count) == "integer" then v = rep(v, count) end
  end
  sb.parts[#sb.parts + 1] = str(v)
  return sb
end
function SBM.AppendLine(sb, v)
  if v ~= nil then sb.parts[#sb.parts + 1] = str(v) end
  sb.parts[#sb.parts + 1] = "\n"
  return sb
end
function SBM.AppendFormat(sb, fmt, ...)
  sb.parts[#sb.parts + 1] = T.String.Format(fmt, ...)
  return sb
end
function SBM.Insert(sb, i, v)
  local s = SM.Insert(concat(sb.parts), i, str(v))
  sb.parts = { s }
  return sb
end
function SBM.Replace(sb, a, b)
  sb.parts = { SM.Replace(concat(sb.parts), a, b) }
  return sb
end
function SBM.Clear(sb) sb.parts = {}; return sb end
function SBM.ToString(sb) return concat(sb.parts) end

local Random = class("Random")
local function rand_float(r)
  if not r.state then return random() end
  -- xorshift64*, for a seeded instance
  local x = r.state
  x = x ~ (x >> 12); x = x ~ (x << 25); x = x ~ (x >> 27)
  r.state = x
  return ((x * 2685821657736338717) >> 11) / 9007199254740992.0
end
Random.methods.Next = function(r, a, b)
  local lo, hi = 0, 2147483647
  if a ~= nil and b == nil then hi = need_int(a, "maxValue")
  elseif a ~= nil then lo, hi = need_int(a, "minValue"), need_int(b, "maxValue") end
  if lo > hi then out_of_range("minValue", "'minValue' cannot be greater than maxValue.") end
  if hi < 0 then out_of_range("maxValue", "'maxValue' must be greater than or equal to zero.") end
  if lo == hi then return lo end
  return lo + floor(rand_float(r) * (hi - lo))
end
Random.methods.NextDouble = function(r) return rand_float(r) end
Random.methods.NextBytes = function(r, b)
  for i = 0, #b.s - 1 do Bytes.setindex(b, i, floor(rand_float(r) * 256)) end
end

function NEW.StringBuilder(s)
  local sb = setmetatable({ parts = {} }, StringBuilder)
  if type(s) == "string" then sb.parts[1] = s end
  return sb
end
function NEW.Random(seed)
  local r = setmetatable({}, Random)
  if seed ~= nil then
    r.state = (need_int(seed, "Seed") * 6364136223846793005 + 1442695040888963407) | 1
  end
  return r
end
end)()

------------------------------------------------------------------------------
-- hashes: SHA-256, SHA-1, HMAC over them (bytes in, Byte[] out)
;(function()

local K256 = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local M32 = 0xffffffff
local function rotr(x, n) return ((x >> n) | (x << (32 - n))) & M32 end
local function rotl(x, n) return ((x << n) | (x >> (32 - n))) & M32 end

local function md_pad(msg)
  local len = #msg
  local pad = 64 - (len + 9) % 64
  if pad == 64 then pad = 0 end
  return msg .. "\128" .. rep("\0", pad) .. string.pack(">I8", len * 8)
end

local function sha256(msg)
  msg = md_pad(msg)
  local h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do w[i] = string.unpack(">I4", msg, chunk + i * 4) end
    for i = 16, 63 do
      local s0 = rotr(w[i - 15], 7) ~ rotr(w[i - 15], 18) ~ (w[i - 15] >> 3)
      local s1 = rotr(w[i - 2], 17) ~ rotr(w[i - 2], 19) ~ (w[i - 2] >> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & M32
    end
    local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    for i = 0, 63 do
      local S1 = rotr(e, 6) ~ rotr(e, 11) ~ rotr(e, 25)
      local ch = (e & f) ~ ((~e) & g)
      local t1 = (hh + S1 + ch + K256[i + 1] + w[i]) & M32
      local S0 = rotr(a, 2) ~ rotr(a, 13) ~ rotr(a, 22)
      local maj = (a & b) ~ (a & c) ~ (b & c)
      local t2 = (S0 + maj) & M32
      hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + t2) & M32
    end
    h[1] = (h[1] + a) & M32; h[2] = (h[2] + b) & M32; h[3] = (h[3] + c) & M32; h[4] = (h[4] + d) & M32
    h[5] = (h[5] + e) & M32; h[6] = (h[6] + f) & M32; h[7] = (h[7] + g) & M32; h[8] = (h[8] + hh) & M32
  end
  return string.pack(">I4I4I4I4I4I4I4I4", unpack(h))
end
M.sha256 = sha256

local function sha1(msg)
  msg = md_pad(msg)
  local h0, h1, h2, h3, h4 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do w[i] = string.unpack(">I4", msg, chunk + i * 4) end
    for i = 16, 79 do w[i] = rotl(w[i - 3] ~ w[i - 8] ~ w[i - 14] ~ w[i - 16], 1) end
    local a, b, c, d, e = h0, h1, h2, h3, h4
    for i = 0, 79 do
      local f, k
      if i < 20 then f, k = (b & c) | ((~b) & d), 0x5A827999
      elseif i < 40 then f, k = b ~ c ~ d, 0x6ED9EBA1
      elseif i < 60 then f, k = (b & c) | (b & d) | (c & d), 0x8F1BBCDC
      else f, k = b ~ c ~ d, 0xCA62C1D6 end
      local t = (rotl(a, 5) + (f & M32) + e + k + w[i]) & M32
      e, d, c, b, a = d, c, rotl(b, 30), a, t
    end
    h0 = (h0 + a) & M32; h1 = (h1 + b) & M32; h2 = (h2 + c) & M32; h3 = (h3 + d) & M32; h4 = (h4 + e) & M32
  end
  return string.pack(">I4I4I4I4I4", h0, h1, h2, h3, h4)
end
M.sha1 = sha1

local function hmac(hash, key, msg)
  if #key > 64 then key = hash(key) end
  key = key .. rep("\0", 64 - #key)
  local ipad = gsub(key, ".", function(c) return char(byte(c) ~ 0x36) end)
  local opad = gsub(key, ".", function(c) return char(byte(c) ~ 0x5c) end)
  return hash(opad .. hash(ipad .. msg))
end
M.hmac = hmac

local function hash_class(name, hash, keyed)
  local C = class(name)
  C.methods.ComputeHash = function(h, b, offset, count)
    local s = raw_bytes(b, "buffer")
    if offset then s = sub(s, offset + 1, offset + count) end
    if keyed then
      if not h.key then throw("CryptographicException", name .. ": no key") end
      return bytes(hmac(hash, h.key, s))
    end
    return bytes(hash(s))
  end
  C.methods.Dispose = function() end
  C.methods.Clear = function() end
  if keyed then
    C.setters.Key = function(h, k) h.key = raw_bytes(k, "Key") end
    C.props.Key = function(h) return h.key and bytes(h.key) end
  end
  C.props.HashSize = function() return #hash("") * 8 end
  return C
end
local HMACSHA256 = hash_class("HMACSHA256", sha256, true)
local HMACSHA1 = hash_class("HMACSHA1", sha1, true)
local SHA256C = hash_class("SHA256", sha256, false)
local SHA1C = hash_class("SHA1", sha1, false)
-- AES-CBC with PKCS7 padding: APIM's byte[].Encrypt("Aes", key, iv) / Decrypt(...)
local function xtime(b) b = b << 1; if b > 0xff then b = b ~ 0x11b end return b end
local function gmul(a, b)
  local r = 0
  while b > 0 do
    if b & 1 == 1 then r = r ~ a end
    a = xtime(a)
    b = b >> 1
  end
  return r
end
local SBOX, INV_SBOX = {}, {}
do
  local function r8(v, n) return ((v << n) | (v >> (8 - n))) & 0xff end
  for i = 0, 255 do
    local inv = 0
    if i ~= 0 then
      for j = 1, 255 do if gmul(i, j) == 1 then inv = j; break end end
    end
    local x = inv ~ r8(inv, 1) ~ r8(inv, 2) ~ r8(inv, 3) ~ r8(inv, 4) ~ 0x63
    SBOX[i] = x
    INV_SBOX[x] = i
  end
end

local function aes_expand(key)
  local nk = #key // 4
  local nr = nk + 6
  local w = {}
  for i = 0, #key - 1 do w[i] = byte(key, i + 1) end
  local rcon = 1
  for i = nk, 4 * (nr + 1) - 1 do
    local t0, t1, t2, t3 = w[(i - 1) * 4], w[(i - 1) * 4 + 1], w[(i - 1) * 4 + 2], w[(i - 1) * 4 + 3]
    if i % nk == 0 then
      t0, t1, t2, t3 = SBOX[t1] ~ rcon, SBOX[t2], SBOX[t3], SBOX[t0]
      rcon = xtime(rcon)
    elseif nk > 6 and i % nk == 4 then
      t0, t1, t2, t3 = SBOX[t0], SBOX[t1], SBOX[t2], SBOX[t3]
    end
    local b = (i - nk) * 4
    w[i * 4], w[i * 4 + 1], w[i * 4 + 2], w[i * 4 + 3] = w[b] ~ t0, w[b + 1] ~ t1, w[b + 2] ~ t2, w[b + 3] ~ t3
  end
  return w, nr
end

local function add_round_key(st, w, round)
  local o = round * 16
  for i = 0, 15 do st[i] = st[i] ~ w[o + i] end
end

local function aes_block(st, w, nr, decrypt)
  if not decrypt then
    add_round_key(st, w, 0)
    for round = 1, nr do
      for i = 0, 15 do st[i] = SBOX[st[i]] end
      -- shift rows (state is column-major: st[c * 4 + r])
      st[1], st[5], st[9], st[13] = st[5], st[9], st[13], st[1]
      st[2], st[6], st[10], st[14] = st[10], st[14], st[2], st[6]
      st[3], st[7], st[11], st[15] = st[15], st[3], st[7], st[11]
      if round < nr then
        for c = 0, 12, 4 do
          local a0, a1, a2, a3 = st[c], st[c + 1], st[c + 2], st[c + 3]
          local t = a0 ~ a1 ~ a2 ~ a3
          st[c] = a0 ~ t ~ xtime(a0 ~ a1)
          st[c + 1] = a1 ~ t ~ xtime(a1 ~ a2)
          st[c + 2] = a2 ~ t ~ xtime(a2 ~ a3)
          st[c + 3] = a3 ~ t ~ xtime(a3 ~ a0)
        end
      end
      add_round_key(st, w, round)
    end
  else
    add_round_key(st, w, nr)
    for round = nr - 1, 0, -1 do
      st[1], st[5], st[9], st[13] = st[13], st[1], st[5], st[9]
      st[2], st[6], st[10], st[14] = st[10], st[14], st[2], st[6]
      st[3], st[7], st[11], st[15] = st[7], st[11], st[15], st[3]
      for i = 0, 15 do st[i] = INV_SBOX[st[i]] end
      add_round_key(st, w, round)
      if round > 0 then
        for c = 0, 12, 4 do
          local a0, a1, a2, a3 = st[c], st[c + 1], st[c + 2], st[c + 3]
          st[c] = gmul(a0, 14) ~ gmul(a1, 11) ~ gmul(a2, 13) ~ gmul(a3, 9)
          st[c + 1] = gmul(a0, 9) ~ gmul(a1, 14) ~ gmul(a2, 11) ~ gmul(a3, 13)
          st[c + 2] = gmul(a0, 13) ~ gmul(a1, 9) ~ gmul(a2, 14) ~ gmul(a3, 11)
          st[c + 3] = gmul(a0, 11) ~ gmul(a1, 13) ~ gmul(a2, 9) ~ gmul(a3, 14)
        end
      end
    end
  end
end

local AES_NAMES = { aes = true, rijndael = true, ["system.security.cryptography.aes"] = true,
  aesmanaged = true, aescryptoserviceprovider = true }

local function aes_cbc(input, alg, key, iv, decrypt)
  if not AES_NAMES[lower(str(alg))] then
    throw("NotSupportedException", "symmetric algorithm '" .. str(alg) .. "' is not supported (use \"Aes\")")
  end
  key, iv, input = raw_bytes(key, "key"), raw_bytes(iv, "iv"), raw_bytes(input, "input")
  if #key ~= 16 and #key ~= 24 and #key ~= 32 then
    throw("CryptographicException", "Specified key is not a valid size for this algorithm.")
  end
  if #iv ~= 16 then throw("CryptographicException", "Specified initialization vector (IV) does not match the block size for this algorithm.") end
  local w, nr = aes_expand(key)
  if not decrypt then
    local pad = 16 - #input % 16
    input = input .. rep(char(pad), pad)
  elseif #input % 16 ~= 0 or #input == 0 then
    throw("CryptographicException", "The input data is not a complete block.")
  end
  local prev = { byte(iv, 1, 16) }
  local out, st = {}, {}
  for off = 1, #input, 16 do
    local blk = { byte(input, off, off + 15) }
    for i = 0, 15 do st[i] = decrypt and blk[i + 1] or (blk[i + 1] ~ prev[i + 1]) end
    aes_block(st, w, nr, decrypt)
    local ob = {}
    for i = 0, 15 do
      ob[i + 1] = decrypt and (st[i] ~ prev[i + 1]) or st[i]
    end
    prev = decrypt and blk or ob
    out[#out + 1] = char(unpack(ob))
  end
  local res = concat(out)
  if decrypt then
    local pad = byte(res, -1)
    if not pad or pad < 1 or pad > 16 or sub(res, -pad) ~= rep(char(pad), pad) then
      throw("CryptographicException", "Padding is invalid and cannot be removed.")
    end
    res = sub(res, 1, -pad - 1)
  end
  return bytes(res)
end
M.aes_cbc = aes_cbc
Bytes.methods.Encrypt = function(b, alg, key, iv) return aes_cbc(b, alg, key, iv, false) end
Bytes.methods.Decrypt = function(b, alg, key, iv) return aes_cbc(b, alg, key, iv, true) end

T.SHA256 = { Create = function() return setmetatable({}, SHA256C) end,
  HashData = function(b) return bytes(sha256(raw_bytes(b, "source"))) end }
T.SHA1 = { Create = function() return setmetatable({}, SHA1C) end,
  HashData = function(b) return bytes(sha1(raw_bytes(b, "source"))) end }
T.HMACSHA256 = { HashData = function(k, b) return bytes(hmac(sha256, raw_bytes(k, "key"), raw_bytes(b, "source"))) end }
T.HMACSHA1 = { HashData = function(k, b) return bytes(hmac(sha1, raw_bytes(k, "key"), raw_bytes(b, "source"))) end }

function NEW.HMACSHA256(key)
  local h = setmetatable({}, HMACSHA256)
  h.key = key and raw_bytes(key, "key") or random_bytes(64)
  return h
end
function NEW.HMACSHA1(key)
  local h = setmetatable({}, HMACSHA1)
  h.key = key and raw_bytes(key, "key") or random_bytes(64)
  return h
end
end)()

------------------------------------------------------------------------------
-- Regex: a backtracking matcher for the .NET syntax APIM policies use: classes,
-- \d \w \s \b, groups (numbered, named, non-capturing), lookaround, backreferences,
-- greedy and lazy quantifiers, alternation, anchors; options IgnoreCase, Multiline,
-- Singleline, IgnorePatternWhitespace. Indexes count characters.

;(function()
local RegexC = class("Regex")
local MatchC = class("Match")
local GroupC = class("Group")
local MatchCollection = class("MatchCollection")
local GroupCollection = class("GroupCollection")

local OPT = { IgnoreCase = 1, Multiline = 2, ExplicitCapture = 4, Compiled = 8, Singleline = 16,
  IgnorePatternWhitespace = 32, RightToLeft = 64, ECMAScript = 256, CultureInvariant = 512 }

local function regex_error(pattern, msg)
  throw("ArgumentException", format("Invalid pattern '%s': %s", pattern, msg))
end

local function cp_lower(c)
  if c >= 65 and c <= 90 then return c + 32 end
  return c
end

local function is_word(c) return c and (c == 95 or (c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122) or c >= 0xC0) end
local function is_digit(c) return c >= 48 and c <= 57 end
local function is_space(c) return c == 32 or (c >= 9 and c <= 13) or c == 0xA0 or c == 0x2028 or c == 0x2029 end

-- parser ---------------------------------------------------------------------

local function parse(pattern, opts)
  local cps = {}
  for _, c in utf8codes(pattern) do cps[#cps + 1] = c end
  local pos, n = 1, #cps
  local groups = {}      -- in order of '(' : { name = string|nil }
  local xmode = (opts & OPT.IgnorePatternWhitespace) ~= 0
  local explicit = (opts & OPT.ExplicitCapture) ~= 0
  local function peek(k) return cps[pos + (k or 0)] end
  local function err(msg) regex_error(pattern, msg) end

  local parse_alt

  local function class_escape(c)
    -- inside or outside a class: \d \w \s and negations -> predicate
    if c == 100 then return is_digit, false end -- d
    if c == 68 then return is_digit, true end   -- D
    if c == 119 then return is_word, false end  -- w
    if c == 87 then return is_word, true end    -- W
    if c == 115 then return is_space, false end -- s
    if c == 83 then return is_space, true end   -- S
    return nil
  end

  local SIMPLE = { [110] = 10, [114] = 13, [116] = 9, [102] = 12, [118] = 11, [101] = 27, [97] = 7 }

  local function escape_char()
    -- after '\': a literal code point, or nil
    local c = peek()
    pos = pos + 1
    if SIMPLE[c] then return SIMPLE[c] end
    if c == 48 then return 0 end
    if c == 120 then -- \xHH
      local h = utf8char(peek() or 0) .. utf8char(peek(1) or 0)
      if not match(h, "^%x%x$") then err("insufficient hexadecimal digits") end
      pos = pos + 2
      return tonumber(h, 16)
    end
    if c == 117 then -- \uHHHH
      local h = ""
      for k = 0, 3 do h = h .. utf8char(peek(k) or 0) end
      if not match(h, "^%x%x%x%x$") then err("insufficient hexadecimal digits") end
      pos = pos + 4
      return tonumber(h, 16)
    end
    if c == 112 or c == 80 then err("Unicode categories (\\p) are not supported") end
    if c == 99 then err("control characters (\\c) are not supported") end
    if c and ((c >= 65 and c <= 90) or (c >= 97 and c <= 122)) then
      err("unrecognized escape sequence \\" .. utf8char(c))
    end
    return c
  end

  local function parse_class()
    -- after '['
    local negate = false
    if peek() == 94 then negate = true; pos = pos + 1 end
    local items = {}
    local first = true
    while true do
      local c = peek()
      if c == nil then err("unterminated [] set") end
      if c == 93 and not first then pos = pos + 1; break end
      first = false
      local lo
      if c == 92 then
        pos = pos + 1
        local e = peek()
        local pred, neg = class_escape(e)
        if pred then
          pos = pos + 1
          items[#items + 1] = { pred = pred, neg = neg }
        else
          if e == 98 then pos = pos + 1; lo = 8 else lo = escape_char() end
        end
      elseif c == 91 and peek(1) == 58 then
        err("POSIX classes are not supported")
      else
        lo = c
        pos = pos + 1
      end
      if lo then
        if peek() == 45 and peek(1) and peek(1) ~= 93 then
          pos = pos + 1
          local hi = peek()
          if hi == 91 then err("character class subtraction is not supported") end
          if hi == 92 then pos = pos + 1; hi = escape_char() else pos = pos + 1 end
          if hi < lo then err("[x-y] range in reverse order") end
          items[#items + 1] = { lo = lo, hi = hi }
        else
          items[#items + 1] = { lo = lo, hi = lo }
        end
      end
    end
    return { t = "class", items = items, negate = negate }
  end

  local function parse_atom()
    local c = peek()
    if c == 40 then -- (
      pos = pos + 1
      if peek() == 63 then -- (?
        pos = pos + 1
        local k = peek()
        if k == 58 then pos = pos + 1; local node = parse_alt(); if peek() ~= 41 then err("not enough )'s") end; pos = pos + 1; return { t = "group", node = node } end
        if k == 61 or k == 33 then
          pos = pos + 1
          local node = parse_alt()
          if peek() ~= 41 then err("not enough )'s") end
          pos = pos + 1
          return { t = "look", node = node, neg = k == 33, behind = false }
        end
        if k == 60 and (peek(1) == 61 or peek(1) == 33) then
          local neg = peek(1) == 33
          pos = pos + 2
          local node = parse_alt()
          if peek() ~= 41 then err("not enough )'s") end
          pos = pos + 1
          return { t = "look", node = node, neg = neg, behind = true }
        end
        if k == 60 or k == 39 or k == 80 then -- (?<name> (?'name' (?P<name>
          if k == 80 then pos = pos + 1 end
          local close = peek() == 39 and 39 or 62
          pos = pos + 1
          local name = {}
          while peek() and peek() ~= close do name[#name + 1] = utf8char(peek()); pos = pos + 1 end
          if peek() ~= close then err("unterminated group name") end
          pos = pos + 1
          name = concat(name)
          if not match(name, "^[%w_]+$") then err("invalid group name " .. name) end
          local g = { name = name }
          groups[#groups + 1] = g
          local node = parse_alt()
          if peek() ~= 41 then err("not enough )'s") end
          pos = pos + 1
          return { t = "capture", group = g, node = node }
        end
        -- inline options (?imsx) or (?imsx:...)
        local flags = {}
        local on = true
        while peek() and peek() ~= 41 and peek() ~= 58 do
          local f = peek()
          if f == 45 then on = false
          elseif f == 105 or f == 109 or f == 115 or f == 120 or f == 110 then flags[#flags + 1] = { f, on }
          else err("unrecognized grouping construct") end
          pos = pos + 1
        end
        local function apply()
          for _, fl in ipairs(flags) do
            local bit = ({ [105] = OPT.IgnoreCase, [109] = OPT.Multiline, [115] = OPT.Singleline,
              [120] = OPT.IgnorePatternWhitespace, [110] = OPT.ExplicitCapture })[fl[1]]
            if fl[2] then opts = opts | bit else opts = opts & ~bit end
          end
          xmode = (opts & OPT.IgnorePatternWhitespace) ~= 0
          explicit = (opts & OPT.ExplicitCapture) ~= 0
        end
        if peek() == 41 then pos = pos + 1; apply(); return { t = "empty" } end
        pos = pos + 1
        local saved = opts
        apply()
        local node = parse_alt()
        opts = saved
        xmode = (opts & OPT.IgnorePatternWhitespace) ~= 0
        explicit = (opts & OPT.ExplicitCapture) ~= 0
        if peek() ~= 41 then err("not enough )'s") end
        pos = pos + 1
        return { t = "group", node = node }
      end
      local g
      if not explicit then g = {}; groups[#groups + 1] = g end
      local node = parse_alt()
      if peek() ~= 41 then err("not enough )'s") end
      pos = pos + 1
      if g then return { t = "capture", group = g, node = node } end
      return { t = "group", node = node }
    end
    local icase = (opts & OPT.IgnoreCase) ~= 0
    if c == 91 then pos = pos + 1; local cl = parse_class(); cl.icase = icase; return cl end
    if c == 46 then pos = pos + 1; return { t = "any", nl = (opts & OPT.Singleline) ~= 0 } end
    if c == 94 then pos = pos + 1; return { t = "bol", ml = (opts & OPT.Multiline) ~= 0 } end
    if c == 36 then pos = pos + 1; return { t = "eol", ml = (opts & OPT.Multiline) ~= 0 } end
    if c == 92 then
      pos = pos + 1
      local e = peek()
      if e == nil then err("illegal \\ at end of pattern") end
      local pred, neg = class_escape(e)
      if pred then pos = pos + 1; return { t = "class", items = { { pred = pred, neg = neg } }, negate = false } end
      if e == 98 then pos = pos + 1; return { t = "wordb", neg = false } end
      if e == 66 then pos = pos + 1; return { t = "wordb", neg = true } end
      if e == 65 then pos = pos + 1; return { t = "bos" } end
      if e == 122 then pos = pos + 1; return { t = "eos" } end
      if e == 90 then pos = pos + 1; return { t = "eol", ml = false } end
      if e == 71 then err("\\G is not supported") end
      if e == 107 and peek(1) == 60 then
        pos = pos + 2
        local name = {}
        while peek() and peek() ~= 62 do name[#name + 1] = utf8char(peek()); pos = pos + 1 end
        pos = pos + 1
        return { t = "backref", name = concat(name) }
      end
      if e and e >= 49 and e <= 57 then
        local num = 0
        while peek() and is_digit(peek()) do num = num * 10 + peek() - 48; pos = pos + 1 end
        return { t = "backref", num = num }
      end
      return { t = "char", c = escape_char(), icase = icase }
    end
    if c == 41 then err("too many )'s") end
    if c == 42 or c == 43 or c == 63 then err("quantifier following nothing") end
    pos = pos + 1
    return { t = "char", c = c, icase = icase }
  end

  local function parse_quant(atom)
    local c = peek()
    local min, max
    if c == 42 then min, max = 0, huge; pos = pos + 1
    elseif c == 43 then min, max = 1, huge; pos = pos + 1
    elseif c == 63 then min, max = 0, 1; pos = pos + 1
    elseif c == 123 then
      local save = pos
      pos = pos + 1
      local txt = {}
      while peek() and peek() ~= 125 do txt[#txt + 1] = utf8char(peek()); pos = pos + 1 end
      txt = concat(txt)
      local a, comma, b = match(txt, "^(%d+)(,?)(%d*)$")
      if not a or peek() ~= 125 then pos = save; return atom end
      pos = pos + 1
      min = tonumber(a)
      max = comma == "" and min or (b == "" and huge or tonumber(b))
      if max < min then err("illegal {x,y} with x > y") end
    else
      return atom
    end
    local lazy = false
    if peek() == 63 then lazy = true; pos = pos + 1 end
    if atom.t == "bol" or atom.t == "eol" or atom.t == "wordb" or atom.t == "look" then return atom end
    local q = { t = "quant", node = atom, min = min, max = max, lazy = lazy }
    local nc = peek()
    if nc == 42 or nc == 43 or nc == 63 or (nc == 123 and match(utf8char(peek(1) or 0), "%d")) then err("nested quantifier") end
    return q
  end

  local function skip_x()
    while xmode and peek() do
      local c = peek()
      if is_space(c) then pos = pos + 1
      elseif c == 35 then
        while peek() and peek() ~= 10 do pos = pos + 1 end
      else break end
    end
  end

  local function parse_seq()
    local items = {}
    while true do
      skip_x()
      local c = peek()
      if c == nil or c == 124 or c == 41 then break end
      local atom = parse_atom()
      skip_x()
      items[#items + 1] = parse_quant(atom)
    end
    return { t = "seq", items = items }
  end

  function parse_alt()
    local alts = { parse_seq() }
    while peek() == 124 do
      pos = pos + 1
      alts[#alts + 1] = parse_seq()
    end
    if #alts == 1 then return alts[1] end
    return { t = "alt", alts = alts }
  end

  local root = parse_alt()
  if pos <= n then err("too many )'s") end
  -- .NET numbers unnamed groups first, then named ones
  local names, count = {}, 0
  for _, g in ipairs(groups) do if not g.name then count = count + 1; g.num = count end end
  for _, g in ipairs(groups) do
    if g.name then
      if tonumber(g.name) then g.num = tonumber(g.name); if g.num > count then count = g.num end
      elseif names[g.name] then g.num = names[g.name].num
      else count = count + 1; g.num = count end
      names[g.name] = g
    end
  end
  return { root = root, ngroups = count, names = names, groups = groups }
end

-- matcher: continuation passing over code point arrays ------------------------

local function single_ok(node, c)
  local t = node.t
  if c == nil then return false end
  if t == "char" then
    if node.icase then return cp_lower(c) == cp_lower(node.c) end
    return c == node.c
  elseif t == "any" then
    return node.nl or c ~= 10
  elseif t == "class" then
    local hit = false
    local lc = node.icase and cp_lower(c)
    for _, it in ipairs(node.items) do
      if it.pred then
        local r = it.pred(c)
        if it.neg then r = not r end
        if r then hit = true; break end
      else
        if c >= it.lo and c <= it.hi then hit = true; break end
        if lc then
          if (lc >= cp_lower(it.lo) and lc <= cp_lower(it.hi)) or (c >= 97 and c <= 122 and c - 32 >= it.lo and c - 32 <= it.hi) then
            hit = true; break
          end
        end
      end
    end
    if node.negate then return not hit end
    return hit
  end
  return nil
end

local SINGLE = { char = true, any = true, class = true }

local m -- forward

local function m_seq(items, k, s, i, caps, cont)
  if k > #items then return cont(i, caps) end
  return m(items[k], s, i, caps, function(j, c2) return m_seq(items, k + 1, s, j, c2, cont) end)
end

local function with_cap(caps, num, a, b)
  local c2 = setmetatable({}, { __index = caps })
  c2[num] = { a, b }
  return c2
end

function m(node, s, i, caps, cont)
  local t = node.t
  local cps = s.cps
  if t == "char" or t == "any" or t == "class" then
    if single_ok(node, cps[i]) then return cont(i + 1, caps) end
    return nil
  elseif t == "seq" then
    return m_seq(node.items, 1, s, i, caps, cont)
  elseif t == "alt" then
    for _, a in ipairs(node.alts) do
      local r = m(a, s, i, caps, cont)
      if r then return r end
    end
    return nil
  elseif t == "group" then
    return m(node.node, s, i, caps, cont)
  elseif t == "capture" then
    local num = node.group.num
    return m(node.node, s, i, caps, function(j, c2) return cont(j, with_cap(c2, num, i, j)) end)
  elseif t == "quant" then
    local inner, min, max = node.node, node.min, node.max
    if SINGLE[inner.t] then
      -- count how far the single-character node repeats, then back off
      local j, count = i, 0
      while count < max and single_ok(inner, cps[j]) do j = j + 1; count = count + 1 end
      if count < min then return nil end
      if node.lazy then
        for c = min, count do
          local r = cont(i + c, caps)
          if r then return r end
        end
      else
        for c = count, min, -1 do
          local r = cont(i + c, caps)
          if r then return r end
        end
      end
      return nil
    end
    local function try(count, pos_, c2)
      if node.lazy then
        if count >= min then
          local r = cont(pos_, c2)
          if r then return r end
        end
        if count < max then
          return m(inner, s, pos_, c2, function(j, c3)
            if j == pos_ and count >= min then return nil end -- empty iteration
            return try(count + 1, j, c3)
          end)
        end
        return nil
      end
      if count < max then
        local r = m(inner, s, pos_, c2, function(j, c3)
          if j == pos_ then return nil end
          return try(count + 1, j, c3)
        end)
        if r then return r end
      end
      if count >= min then return cont(pos_, c2) end
      return nil
    end
    return try(0, i, caps)
  elseif t == "bol" then
    if i == 1 or (node.ml and cps[i - 1] == 10) then return cont(i, caps) end
    return nil
  elseif t == "eol" then
    local n = #cps
    if i == n + 1 or (i == n and cps[n] == 10) or (node.ml and cps[i] == 10) then return cont(i, caps) end
    return nil
  elseif t == "bos" then
    if i == 1 then return cont(i, caps) end
    return nil
  elseif t == "eos" then
    if i == #cps + 1 then return cont(i, caps) end
    return nil
  elseif t == "wordb" then
    local b = (is_word(cps[i - 1]) or false) ~= (is_word(cps[i]) or false)
    if b ~= node.neg then return cont(i, caps) end
    return nil
  elseif t == "look" then
    local found
    if node.behind then
      for j = i, 1, -1 do
        found = m(node.node, s, j, caps, function(e, c2) if e == i then return c2 end return nil end)
        if found then break end
      end
    else
      found = m(node.node, s, i, caps, function(_, c2) return c2 end)
    end
    if node.neg then
      if found then return nil end
      return cont(i, caps)
    end
    if not found then return nil end
    return cont(i, found)
  elseif t == "backref" then
    local num = node.num
    if node.name then
      local g = s.re.names[node.name]
      if not g then regex_error(s.re.pattern, "reference to undefined group name " .. node.name) end
      num = g.num
    end
    local cap = caps[num]
    if not cap then return nil end
    local len = cap[2] - cap[1]
    for k = 0, len - 1 do
      local a, b = cps[cap[1] + k], cps[i + k]
      if b == nil then return nil end
      if s.icase then a, b = cp_lower(a), cp_lower(b) end
      if a ~= b then return nil end
    end
    return cont(i + len, caps)
  elseif t == "empty" then
    return cont(i, caps)
  end
  error("regex: unknown node " .. tostring(t))
end

-- compiled patterns, cached by text and options
local cache, cache_n = {}, 0
local function compile(pattern, options)
  pattern = need_string(pattern, "pattern")
  local opts = 0
  if type(options) == "table" and options.enum_type == "RegexOptions" then opts = options.value end
  if (opts & OPT.RightToLeft) ~= 0 then throw("NotSupportedException", "RegexOptions.RightToLeft is not supported") end
  local key = opts .. "\0" .. pattern
  local re = cache[key]
  if re then return re end
  re = parse(pattern, opts)
  re.pattern, re.opts = pattern, opts
  if cache_n > 256 then cache, cache_n = {}, 0 end
  cache[key] = re
  cache_n = cache_n + 1
  return re
end

local function subject(input, re)
  input = need_string(input, "input")
  local cps, offs = {}, {}
  local n = 0
  for p, c in utf8codes(input) do n = n + 1; cps[n] = c; offs[n] = p end
  offs[n + 1] = #input + 1
  return { cps = cps, offs = offs, text = input, re = re, icase = (re.opts & OPT.IgnoreCase) ~= 0 }
end

local function slice(s, a, b) return sub(s.text, s.offs[a], s.offs[b] - 1) end

local function mkgroup(s, cap, name)
  if not cap then return setmetatable({ success = false, index = 0, value = "", name = name }, GroupC) end
  return setmetatable({ success = true, index = cap[1] - 1, value = slice(s, cap[1], cap[2]), name = name }, GroupC)
end

-- first match at or after character index `start` (1-based) -> Match
local function exec(re, s, start)
  local n = #s.cps
  for i = start, n + 1 do
    local caps = m(re.root, s, i, {}, function(j, c2)
      local final = setmetatable({}, { __index = c2 })
      final[0] = { i, j }
      return final
    end)
    if caps then
      return setmetatable({ re = re, s = s, caps = caps, success = true,
        index = caps[0][1] - 1, value = slice(s, caps[0][1], caps[0][2]), stop = caps[0][2],
        empty = caps[0][1] == caps[0][2] }, MatchC)
    end
  end
  return setmetatable({ re = re, s = s, caps = {}, success = false, index = 0, value = "" }, MatchC)
end

local function all_matches(re, input)
  local s = subject(input, re)
  local out, start = {}, 1
  while start <= #s.cps + 1 do
    local mt = exec(re, s, start)
    if not mt.success then break end
    out[#out + 1] = mt
    start = mt.empty and mt.stop + 1 or mt.stop
  end
  return out, s
end

GroupC.props.Success = function(g) return g.success end
GroupC.props.Value = function(g) return g.value end
GroupC.props.Index = function(g) return g.index end
GroupC.props.Length = function(g) return slen(g.value) end
GroupC.props.Name = function(g) return g.name end
GroupC.tostring = function(g) return g.value end

MatchC.props.Success = GroupC.props.Success
MatchC.props.Value = GroupC.props.Value
MatchC.props.Index = GroupC.props.Index
MatchC.props.Length = GroupC.props.Length
MatchC.tostring = GroupC.tostring
MatchC.props.Groups = function(mt) return setmetatable({ mt = mt }, GroupCollection) end
MatchC.methods.NextMatch = function(mt)
  if not mt.success then return mt end
  local start = mt.empty and mt.stop + 1 or mt.stop
  if start > #mt.s.cps + 1 then
    return setmetatable({ re = mt.re, s = mt.s, caps = {}, success = false, index = 0, value = "" }, MatchC)
  end
  return exec(mt.re, mt.s, start)
end
MatchC.methods.ToString = function(mt) return mt.value end

GroupCollection.index = function(gc, k)
  local mt = gc.mt
  local num, name = k, nil
  if type(k) == "string" then
    local g = mt.re.names[k]
    name = k
    if g then num = g.num
    elseif tonumber(k) then num = tonumber(k)
    else return mkgroup(mt.s, nil, k) end
  end
  if not mt.success then return mkgroup(mt.s, nil, name) end
  return mkgroup(mt.s, mt.caps[num], name)
end
GroupCollection.props.Count = function(gc) return gc.mt.re.ngroups + 1 end
GroupCollection.iter = function(gc)
  local i = -1
  return function()
    i = i + 1
    if i <= gc.mt.re.ngroups then return i + 1, GroupCollection.index(gc, i) end
  end
end
GroupCollection.methods.ContainsKey = function(gc, k) return gc.mt.re.names[k] ~= nil end
GroupCollection.methods.TryGetValue = function(gc, k)
  if gc.mt.re.names[k] == nil then return false, nil end
  return true, GroupCollection.index(gc, k)
end

MatchCollection.props.Count = function(mc) return #mc.list end
MatchCollection.index = function(mc, i)
  if mtype(i) ~= "integer" or i < 0 or i >= #mc.list then out_of_range("i", "Specified argument was out of the range of valid values.") end
  return mc.list[i + 1]
end
MatchCollection.iter = function(mc)
  local i = 0
  return function()
    i = i + 1
    if mc.list[i] then return i, mc.list[i] end
  end
end

-- replacement text: $1 ${name} $0 $& $$ $` $' $+ $_
local function expand(mt, repl)
  return (gsub(repl, "%$(%b{})", function(b)
    local name = sub(b, 2, -2)
    return "\0G" .. name .. "\0"
  end):gsub("%$(%d+)", "\0G%1\0"):gsub("%$%$", "\0D\0"):gsub("%$&", "\0G0\0")
    :gsub("%$`", "\0B\0"):gsub("%$'", "\0A\0"):gsub("%$_", "\0I\0"):gsub("%z(%a)(.-)%z", function(kind, arg)
      if kind == "D" then return "$" end
      if kind == "B" then return slice(mt.s, 1, mt.index + 1) end
      if kind == "A" then return slice(mt.s, mt.stop, #mt.s.cps + 1) end
      if kind == "I" then return mt.s.text end
      local g = GroupCollection.index(setmetatable({ mt = mt }, GroupCollection), tonumber(arg) or arg)
      return g.value
    end))
end

local function replace(re, input, repl, count)
  local list, s = all_matches(re, input)
  local out, last = {}, 1
  for k, mt in ipairs(list) do
    if count and count >= 0 and k > count then break end
    out[#out + 1] = slice(s, last, mt.index + 1)
    if type(repl) == "function" then out[#out + 1] = str(repl(mt))
    else out[#out + 1] = expand(mt, need_string(repl, "replacement")) end
    last = mt.stop
  end
  out[#out + 1] = slice(s, last, #s.cps + 1)
  return concat(out)
end

local function split(re, input)
  local list, s = all_matches(re, input)
  local out, last = {}, 1
  for _, mt in ipairs(list) do
    if not (mt.empty and (mt.index == 0 or mt.stop > #s.cps)) then
      out[#out + 1] = slice(s, last, mt.index + 1)
      for g = 1, re.ngroups do
        if mt.caps[g] then out[#out + 1] = slice(s, mt.caps[g][1], mt.caps[g][2]) end
      end
      last = mt.stop
    end
  end
  out[#out + 1] = slice(s, last, #s.cps + 1)
  return new_array(out, #out)
end

RegexC.tostring = function(r) return r.re.pattern end
RegexC.methods.IsMatch = function(r, input, start)
  return exec(r.re, subject(input, r.re), (start or 0) + 1).success
end
RegexC.methods.Match = function(r, input, start) return exec(r.re, subject(input, r.re), (start or 0) + 1) end
RegexC.methods.Matches = function(r, input)
  return setmetatable({ list = (all_matches(r.re, input)) }, MatchCollection)
end
RegexC.methods.Replace = function(r, input, repl, count) return replace(r.re, input, repl, count) end
RegexC.methods.Split = function(r, input) return split(r.re, input) end
RegexC.methods.GetGroupNames = function(r)
  local out = { "0" }
  for i = 1, r.re.ngroups do
    local name = tostring(i)
    for nm, g in pairs(r.re.names) do if g.num == i then name = nm end end
    out[#out + 1] = name
  end
  return new_array(out, #out)
end

NEW.Regex = function(pattern, options) return setmetatable({ re = compile(pattern, options) }, RegexC) end

-- for the translator: a literal pattern is checked when the expression loads
M.regex_check = function(pattern, options) compile(pattern, options) end

local REGEX_SPECIAL = "[%\\%*%+%?%|%{%[%(%)%^%$%.%#% \t\n\r\f]"
T.Regex = {
  IsMatch = function(input, pattern, options) return exec(compile(pattern, options), subject(input, compile(pattern, options)), 1).success end,
  Match = function(input, pattern, options)
    local re = compile(pattern, options)
    return exec(re, subject(input, re), 1)
  end,
  Matches = function(input, pattern, options)
    return setmetatable({ list = (all_matches(compile(pattern, options), input)) }, MatchCollection)
  end,
  Replace = function(input, pattern, repl, options) return replace(compile(pattern, options), input, repl) end,
  Split = function(input, pattern, options) return split(compile(pattern, options), input) end,
  Escape = function(s)
    return (gsub(need_string(s, "str"), REGEX_SPECIAL, function(c)
      if c == "\t" then return "\\t" end
      if c == "\n" then return "\\n" end
      if c == "\r" then return "\\r" end
      if c == "\f" then return "\\f" end
      return "\\" .. c
    end))
  end,
  Unescape = function(s)
    return (gsub(need_string(s, "str"), "\\(.)", function(c)
      return ({ t = "\t", n = "\n", r = "\r", f = "\f" })[c] or c
    end))
  end,
}
ENUMERABLE[MatchCollection] = true
ENUMERABLE[GroupCollection] = true
end)()

------------------------------------------------------------------------------
-- JWT (APIM's string.AsJwt() / TryParseJwt()): decoded, not validated

local Jwt = class("Jwt")
local function claim_strings(v)
  local C = cls(v)
  if C == JArray then
    local out = {}
    for i = 1, v.n do
      local x = v[i]
      out[i] = (type(x) == "string") and x or json_text(x, false)
    end
    return out
  end
  if type(v) == "string" then return { v } end
  if rawequal(v, JNULL) then return { "" } end
  return { json_text(v, false) }
end
local function jwt_date(payload, name)
  local v = payload.map[name]
  if type(v) ~= "number" then return nil end
  return M.datetime(v)
end
local function parse_jwt(s)
  if type(s) ~= "string" then return nil end
  s = gsub(s, "^%s*[Bb][Ee][Aa][Rr][Ee][Rr]%s+", "")
  s = match(s, "^%s*(.-)%s*$")
  local h, p, sig = match(s, "^([%w%-_]+)%.([%w%-_]+)%.([%w%-_]*)$")
  if not h then return nil end
  local hj, pj = base64_decode(h, true), base64_decode(p, true)
  if not hj or not pj then return nil end
  local ok1, header = pcall(json_parse, hj, "JObject")
  local ok2, payload = pcall(json_parse, pj, "JObject")
  if not ok1 or not ok2 then return nil end
  return setmetatable({ header = header, payload = payload, raw = s, signature = sig }, Jwt)
end
M.parse_jwt = parse_jwt
Jwt.tostring = function(j) return j.raw end
Jwt.props.Claims = function(j)
  local payload = j.payload
  return M.dictionary(function(k)
    local v = payload.map[k]
    if v == nil then return nil end
    return new_array(claim_strings(v))
  end, function()
    local ks = {}
    for i, k in ipairs(payload.keys) do ks[i] = k end
    return ks
  end, function(k)
    local v = payload.map[k]
    if v == nil then return nil end
    return concat(claim_strings(v), ",")
  end)
end
local function pstr(j, name)
  local v = j.payload.map[name]
  if v == nil or rawequal(v, JNULL) then return nil end
  if type(v) == "string" then return v end
  return json_text(v, false)
end
Jwt.props.Subject = function(j) return pstr(j, "sub") end
Jwt.props.Issuer = function(j) return pstr(j, "iss") end
Jwt.props.Id = function(j) return pstr(j, "jti") end
Jwt.props.Audiences = function(j)
  local v = j.payload.map.aud
  if v == nil then return new_array({}, 0) end
  local list = claim_strings(v)
  return new_array(list, #list)
end
Jwt.props.ExpirationTime = function(j) return jwt_date(j.payload, "exp") end
Jwt.props.NotBefore = function(j) return jwt_date(j.payload, "nbf") end
Jwt.props.IssuedAt = function(j) return jwt_date(j.payload, "iat") end
Jwt.props.Algorithm = function(j) local v = j.header.map.alg; return type(v) == "string" and v or nil end
Jwt.props.Type = function(j) local v = j.header.map.typ; return type(v) == "string" and v or nil end
Jwt.props.Header = function(j) return j.header end
Jwt.props.Payload = function(j) return j.payload end
Jwt.methods.ToString = function(j) return j.raw end

JWT_METHODS = {
  AsJwt = function(s) return parse_jwt(s) end,
  TryParseJwt = function(s)
    local j = parse_jwt(s)
    return j ~= nil, j
  end,
  -- Value<T>() and ToObject<T>() of JSON primitives read from a JObject
  ["Value<>"] = PRIMITIVE_JSON["Value<>"],
}
setmetatable(JWT_METHODS, { __index = function(_, name)
  local g = split_generic(name)
  if g and PRIMITIVE_JSON[g[1]] then
    return function(v, ...) return PRIMITIVE_JSON[g[1]](v, g[2], ...) end
  end
  return nil
end })
local number_index = { __index = function(_, name)
  local g = split_generic(name)
  if g and PRIMITIVE_JSON[g[1]] then
    return function(v, ...) return PRIMITIVE_JSON[g[1]](v, g[2], ...) end
  end
  return nil
end }
setmetatable(NumberMethods, number_index)
setmetatable(BoolMethods, number_index)

------------------------------------------------------------------------------
-- Array, Enumerable and BitConverter statics

T.Array = {
  Exists = function(a, pred) return LINQ.Any(a, pred) end,
  Find = function(a, pred) return LINQ.FirstOrDefault(a, pred) end,
  IndexOf = function(a, v)
    local i = 0
    for _, x in M.each(a) do
      if equals(x, v) then return i end
      i = i + 1
    end
    return -1
  end,
  Copy = function(src, a, b, c, d)
    local si, di, len, dst
    if d == nil then dst, len, si, di = a, b, 0, 0
    else si, dst, di, len = a, b, c, d end
    len = need_int(len, "length")
    local vals = {}
    for i = 0, len - 1 do vals[i] = M.index(src, si + i) end
    for i = 0, len - 1 do M.setindex(dst, di + i, vals[i]) end
  end,
  Reverse = function(a)
    if cls(a) == Bytes then a.s = a.s:reverse(); return end
    local n = a.n
    for i = 1, n // 2 do a[i], a[n + 1 - i] = a[n + 1 - i], a[i] end
  end,
  Sort = function(a, cmp) AM.Sort(a, cmp) end,
  Empty = function() return new_array({}, 0) end,
}
T.Enumerable = {
  Range = function(start, count)
    local t = {}
    for i = 1, need_int(count, "count") do t[i] = start + i - 1 end
    return new_array(t, count)
  end,
  Repeat = function(v, count)
    local t = {}
    for i = 1, need_int(count, "count") do t[i] = v end
    return new_array(t, count)
  end,
  Empty = function() return new_array({}, 0) end,
}
T.BitConverter = {
  ToInt32 = function(b, i)
    local s = raw_bytes(b)
    return string.unpack("<i4", s, (i or 0) + 1)
  end,
  GetBytes = function(v)
    if type(v) == "boolean" then return bytes(v and "\1" or "\0") end
    if mtype(v) == "integer" then
      if v >= -2147483648 and v <= 2147483647 then return bytes(string.pack("<i4", v)) end
      return bytes(string.pack("<i8", v))
    end
    return bytes(string.pack("<d", v))
  end,
  ToString = function(b)
    local s = raw_bytes(b)
    return (gsub(gsub(s, ".", function(c) return format("%02X-", byte(c)) end), "-$", ""))
  end,
}

------------------------------------------------------------------------------
-- new T(...) and arrays

function NEW.JObject(...)
  local o = new_jobject()
  for i = 1, select("#", ...) do
    local a = select(i, ...)
    local C = cls(a)
    if C == JProperty then JOM.Add(o, a.name, from_token(a.value))
    elseif C == JObject then
      for _, k in ipairs(a.keys) do o.keys[#o.keys + 1] = k; o.map[k] = deep_clone(a.map[k]) end
    elseif C and C.iter then
      for _, p in M.each(a) do
        if cls(p) ~= JProperty then throw("ArgumentException", "Can not add " .. type_name(p) .. " to JObject.") end
        JOM.Add(o, p.name, from_token(p.value))
      end
    elseif a ~= nil then
      throw("ArgumentException", "Can not add " .. type_name(a) .. " to Newtonsoft.Json.Linq.JObject.")
    end
  end
  return o
end
function NEW.JArray(...)
  local a = new_jarray()
  local n = select("#", ...)
  local first = ...
  if n == 1 and (is_seq(first) or cls(first) == JArray) then
    for _, v in M.each(first) do JAM.Add(a, v) end
    return a
  end
  for i = 1, n do JAM.Add(a, (select(i, ...))) end
  return a
end
function NEW.JProperty(name, ...)
  local v
  if select("#", ...) > 1 then v = NEW.JArray(...) else v = ... end
  return setmetatable({ name = need_string(name, "name"), value = to_token(v) }, JProperty)
end
function NEW.JValue(v) return v end
function NEW.List(arg)
  local l = new_list({}, 0)
  if arg ~= nil and mtype(arg) ~= "integer" then AM.AddRange(l, arg) end
  return l
end
function NEW.Dictionary(arg)
  local ci = type(arg) == "table" and arg.enum_type == "StringComparer" and ignore_case(arg)
  local d = new_dictionary(ci)
  if cls(arg) == Dictionary then for _, kv in Dictionary.iter(arg) do DM.Add(d, kv.k, kv.v) end end
  return d
end
function NEW.KeyValuePair(k, v) return kvpair(k, v) end
function NEW.string(c, count)
  if cls(c) == Array then return concat(c, "", 1, c.n) end
  return rep(need_string(c), need_int(count, "count"))
end
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

-- new T[] { items } (elem "" for new[] { ... })
function M.array_of(elem, n, ...)
  if elem == "byte" then
    local t = {}
    for i = 1, n do t[i] = char(need_int((select(i, ...)), "byte") & 0xff) end
    return bytes(concat(t))
  end
  return new_array({ ... }, n)
end

-- new T[size]
function M.new_array(elem, size)
  size = need_int(size, "size")
  if size < 0 then throw("OverflowException", "Arithmetic operation resulted in an overflow.") end
  if elem == "byte" then return bytes(rep("\0", size)) end
  local t = {}
  local def = M.default_of(elem)
  if def ~= nil then for i = 1, size do t[i] = def end end
  return new_array(t, size)
end

------------------------------------------------------------------------------
-- the member names the translator accepts (rt.MEMBERS.props / .methods): every
-- member above plus the context object model below

M.CONTEXT_MEMBERS = {
  props = {
    -- context
    "Request", "Response", "Variables", "Api", "Operation", "Product", "Subscription", "User",
    "Deployment", "LastError", "RequestId", "Timestamp", "Elapsed", "Tracing", "Workspace",
    -- IRequest / IResponse / IMessageBody
    "Method", "Url", "OriginalUrl", "OriginalMethod", "Headers", "Body", "IpAddress",
    "MatchedParameters", "Certificate", "HasBody", "StatusCode", "StatusReason",
    -- IUrl
    "Scheme", "Host", "Port", "Path", "Query", "QueryString",
    -- IApi / IOperation / IProduct / ISubscription / IUser / IGroup
    "Id", "Name", "ServiceUrl", "Protocols", "IsCurrentRevision", "Revision", "Version",
    "ApiVersionSet", "UrlTemplate", "Apis", "ApprovalRequired", "Groups", "State",
    "SubscriptionLimit", "SubscriptionRequired", "Key", "PrimaryKey", "SecondaryKey",
    "CreatedDate", "StartDate", "EndDate", "Email", "FirstName", "LastName", "Identities",
    "Note", "RegistrationDate", "Provider",
    -- IDeployment / ILastError
    "ServiceName", "ServiceId", "Region", "Gateway", "InstanceId", "IsManaged", "Certificates",
    "Source", "Reason", "Message", "Scope", "Section", "PolicyId",
    -- X509Certificate2 (read only)
    "Thumbprint", "Subject", "Issuer", "NotAfter", "NotBefore", "SerialNumber",
    -- Nullable<T>
    "HasValue", "Value",
  },
  methods = {
    "As", "AsFormUrlEncodedContent", "AsJwt", "TryParseJwt", "GetValueOrDefault", "ContainsKey",
    "TryGetValue", "ToUri", "ToString", "Equals", "GetHashCode", "Trace", "Verify", "VerifyNoRevocation",
  },
}

local function build_members()
  local props, methods = {}, {}
  local function add_methods(tbl)
    for name in pairs(tbl) do
      local base = match(name, "^(.-)<>$")
      methods[base or name] = true
    end
  end
  for _, C in pairs(CLASSES) do
    local K = C
    while K do
      for name in pairs(rawget(K, "props") or {}) do props[name] = true end
      add_methods(rawget(K, "methods") or {})
      for name in pairs(rawget(K, "setters") or {}) do props[name] = true end
      K = K.base
    end
  end
  add_methods(STRING_METHODS)
  add_methods(NumberMethods)
  add_methods(BoolMethods)
  add_methods(OBJECT_METHODS)
  add_methods(LINQ)
  add_methods(PRIMITIVE_JSON)
  add_methods({ AsJwt = true, TryParseJwt = true, Invoke = true })
  props.Length = true
  for _, n in ipairs(M.CONTEXT_MEMBERS.props) do props[n] = true end
  for _, n in ipairs(M.CONTEXT_MEMBERS.methods) do methods[n] = true end
  return { props = props, methods = methods }
end
M.MEMBERS = build_members()

return M
