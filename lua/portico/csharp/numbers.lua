-- csharp/numbers.lua - numbers and booleans in the C# run-time library: parsing and
-- formatting (invariant culture), composite formatting, their members and statics.
--
-- Owns: integer/double parsing (rt.parse_integer, rt.parse_double; the int/long/...
-- ranges), ToString(format) of numbers (rt.format_number: D X F N E G P C R and custom
-- 0 # , . %), the members of numbers and booleans, composite formatting (rt.fmt for
-- interpolation holes, rt.composite for string.Format), the statics Int32, Int64,
-- Int16, Byte, SByte, UInt32, UInt16, UInt64, Double, Boolean and Math.
--
-- Does not own: casts and System.Convert (casts.lua), operators (operators.lua), the
-- object model (csharp.lua).

local find, format, gsub, lower, upper, rep, sub, match, gmatch =
  string.find, string.format, string.gsub, string.lower, string.upper, string.rep,
  string.sub, string.match, string.gmatch
local concat, remove = table.concat, table.remove
local floor, huge, mtype, tointeger, abs = math.floor, math.huge, math.type, math.tointeger, math.abs
local type, tostring, tonumber, select = type, tostring, tonumber, select

local core = require "portico.csharp.core"
local M, T = core.rt, core.T
local cls, throw, type_name, str, num_str = core.cls, core.throw, core.type_name, core.str, core.num_str
local slen, need_string, need_int = core.slen, core.need_string, core.need_int
local SM = core.String.methods -- GetHashCode, from strings.lua

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
-- static classes: numbers, bool, Math

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

-- C# rounds to even when converting doubles to integers
local function round_even(v)
  local f = floor(v)
  local d = v - f
  if d > 0.5 or (d == 0.5 and f % 2 == 1) then f = f + 1 end
  return f
end

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

return {
  INT_RANGE = INT_RANGE, format_error = format_error, parse_integer = parse_integer,
  parse_double = parse_double, format_number = format_number,
  NumberMethods = NumberMethods, BoolMethods = BoolMethods, fmt_value = fmt_value, composite = composite,
  numeric_statics = numeric_statics, round_even = round_even, num_arg = num_arg,
}
