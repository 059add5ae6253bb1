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

local M = {}

-- what the translator may emit as static members (rt.T.<Type>.<Member>) and enums
local T = {}
M.T = T
local E = {}
M.E = E

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
    C.tostring = base.tostring
    C.iter = base.iter
    C.index = base.index
    C.setindex = base.setindex
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
  if v == JNULL then return "" end
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
    if type(a) == "string" then list[#list + 1] = a
    elseif cls(a) and a.n and CLASSES.Array == cls(a) or (cls(a) and cls(a).__name == "List") then
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
  local out = gsub(int_digits, "^(%d-)((%d%d%d)+)$", function(head, rest)
    return head .. gsub(rest, "(%d%d%d)", ",%1")
  end)
  return (gsub(out, "^,", ""))
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
function AM.Clone(a) local t = {}; for i = 1, a.n do t[i] = a[i] end; return setmetatable(t, getmetatable(a)) and new_array(t, a.n) end

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
Bytes.__eq = nil

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

local GENERIC = setmetatable({}, { __mode = "k" })
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
    local C = cls(o)
    if C then
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
  local C = cls(o)
  if C then
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
  if a == JNULL then return b == nil end
  if b == JNULL then return a == nil end
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
