-- csharp/strings.lua - C# strings in the run-time library: their members, the string
-- and char statics, StringBuilder.
--
-- Owns: the members of strings (rt.String: Length, Substring, IndexOf, Split, Trim,
-- Replace, StartsWith...; 0-based character indexes over UTF-8, see core.lua), the
-- statics String (IsNullOrEmpty, Join, Concat, Format, Compare...) and Char,
-- StringBuilder, new string(c, n).
--
-- Does not own: number formatting and string.Format's holes (numbers.lua), regular
-- expressions (regex.lua), string.AsJwt() (jwt.lua), the object model (csharp.lua).

local byte, find, gsub, lower, upper, rep, sub =
  string.byte, string.find, string.gsub, string.lower, string.upper, string.rep, string.sub
local concat, remove = table.concat, table.remove
local mtype = math.type
local type, ipairs, select, setmetatable, getmetatable = type, ipairs, select, setmetatable, getmetatable
local utf8len, utf8char, utf8codes = utf8.len, utf8.char, utf8.codes

local core = require "portico.csharp.core"
local collections = require "portico.csharp.collections"
local numbers = require "portico.csharp.numbers"
local M, T, NEW = core.rt, core.T, core.NEW
local CLASSES, class, cls, throw, type_name, str = core.CLASSES, core.class, core.cls, core.throw, core.type_name, core.str
local ascii, slen, bpos, cidx = core.ascii, core.slen, core.bpos, core.cidx
local need_string, need_int, out_of_range, ignore_case = core.need_string, core.need_int, core.out_of_range, core.ignore_case
local Array, new_array = collections.Array, collections.new_array
local composite = numbers.composite
local String = core.String

------------------------------------------------------------------------------
-- strings: members

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

------------------------------------------------------------------------------
-- static classes: string, char

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

------------------------------------------------------------------------------
-- StringBuilder

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

function NEW.StringBuilder(s)
  local sb = setmetatable({ parts = {} }, StringBuilder)
  if type(s) == "string" then sb.parts[1] = s end
  return sb
end
function NEW.string(c, count)
  if cls(c) == Array then return concat(c, "", 1, c.n) end
  return rep(need_string(c), need_int(count, "count"))
end

return { SM = SM }
