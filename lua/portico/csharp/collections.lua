-- csharp/collections.lua - C# collections on Lua tables, and LINQ over anything
-- enumerable.
--
-- Owns: arrays and List<T> ({ n = count, [1..n] = items }, 0-based for C#; rt.array,
-- rt.list), byte[] (rt.bytes over a Lua string of bytes, rt.raw_bytes), Dictionary
-- and KeyValuePair (rt.new_dictionary; rt.dictionary, the read-only views the
-- context hands out), iteration (rt.each, what foreach and LINQ walk), LINQ
-- (rt.LINQ), the Array/Enumerable/BitConverter statics, new List/Dictionary/
-- KeyValuePair, and array creation (rt.array_of, rt.new_array).
--
-- Does not own: how a collection's members are found (dispatch.lua calls LINQ for
-- any enumerable object), the object model (csharp.lua), JSON arrays (json.lua).

local byte, char, format, gsub, lower, rep, sub =
  string.byte, string.char, string.format, string.gsub, string.lower, string.rep, string.sub
local concat, insert, remove, sort = table.concat, table.insert, table.remove, table.sort
local floor, mtype, tointeger = math.floor, math.type, math.tointeger
local type, ipairs, select, setmetatable, getmetatable = type, ipairs, select, setmetatable, getmetatable
local utf8char, utf8codes = utf8.char, utf8.codes

local core = require "portico.csharp.core"
local M, T, NEW = core.rt, core.T, core.NEW
local class, cls, throw, type_name, null_ref = core.class, core.cls, core.throw, core.type_name, core.null_ref
local str, JNULL, equals = core.str, core.JNULL, core.equals
local need_int, out_of_range, ignore_case = core.need_int, core.out_of_range, core.ignore_case

------------------------------------------------------------------------------
-- arrays and lists: { n = count, [1..n] = items }, 0-based for C#

local Array = class("Array")
local List = class("List", Array)
M.ArrayClass, M.ListClass = Array, List

local function new_array(t, n)
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
-- new List/Dictionary/KeyValuePair(...) and arrays

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


return {
  Array = Array, List = List, new_array = new_array, new_list = new_list, is_seq = is_seq,
  AM = AM, Bytes = Bytes, bytes = bytes, raw_bytes = raw_bytes,
  Dictionary = Dictionary, DM = DM, new_dictionary = new_dictionary, kvpair = kvpair,
  LINQ = LINQ, ENUMERABLE = ENUMERABLE,
}
