-- csharp/json.lua - Newtonsoft.Json in the C# run-time library: JObject, JArray,
-- JProperty and JToken with an order-keeping JSON reader and writer (cjson loses key
-- order, reads every number as a float and writes "/" as "\/").
--
-- Owns: the JSON classes and their members (JSON primitives are plain Lua values,
-- JSON null inside objects and arrays is rt.JNULL), the reader (rt.json_parse, with
-- Newtonsoft's messages, comments, single quotes and unquoted names), the writer
-- (rt.json_text, rt.json_string), C# values to JSON (rt.to_token), SelectToken, the
-- statics JObject/JArray/JToken/JValue/JsonConvert, new JObject/JArray/JProperty,
-- Value<T>()/ToObject<T>() on JSON primitives, and rt.generic_result (obj.M<T>()
-- results: JSON text becomes JObject/JArray/JToken, anything else is cast).
--
-- Does not own: how bodies are read as JSON (context.lua calls rt.json_parse), casts
-- to JSON types (casts.lua), the object model (csharp.lua).

local byte, find, format, gsub, lower, rep, sub, match =
  string.byte, string.find, string.format, string.gsub, string.lower, string.rep,
  string.sub, string.match
local concat, insert, remove, sort = table.concat, table.insert, table.remove, table.sort
local huge, mtype, tointeger = math.huge, math.type, math.tointeger
local type, ipairs, pairs, tostring, tonumber, select, setmetatable, getmetatable, next =
  type, ipairs, pairs, tostring, tonumber, select, setmetatable, getmetatable, next
local utf8char = utf8.char
local rawequal = rawequal

local core = require "portico.csharp.core"
local collections = require "portico.csharp.collections"
local numbers = require "portico.csharp.numbers"
local encoding = require "portico.csharp.encoding"
local M, T, E, NEW = core.rt, core.T, core.E, core.NEW
local class, cls, throw, type_name, str, JNULL = core.class, core.cls, core.throw, core.type_name, core.str, core.JNULL
local double_str, equals, split_generic, Enum = core.double_str, core.equals, core.split_generic, core.Enum
local need_string, need_int, out_of_range, ignore_case = core.need_string, core.need_int, core.out_of_range, core.ignore_case
local Array, List, Bytes, Dictionary = collections.Array, collections.List, collections.Bytes, collections.Dictionary
local new_array, new_list, new_dictionary, is_seq = collections.new_array, collections.new_list, collections.new_dictionary, collections.is_seq
local DM, LINQ = collections.DM, collections.LINQ
local NumberMethods, BoolMethods = numbers.NumberMethods, numbers.BoolMethods
local base64_encode = encoding.base64_encode

local json_parse -- below

-- the result of obj.M(...) used as obj.M<T>(...): JSON text becomes JObject/JArray/JToken
local function generic_result(v, T)
  if (T == "JObject" or T == "JArray" or T == "JToken") and type(v) == "string" then
    return json_parse(v, T)
  end
  if T == "byte[]" and type(v) == "string" then return M.bytes(v) end
  if v == nil then return M.default_of(T) end
  return M.cast(v, T)
end
M.generic_result = generic_result

------------------------------------------------------------------------------
-- JSON: JObject (ordered), JArray, JProperty; primitives are plain Lua values

local JObject = class("JObject")
local JArray = class("JArray")
local JProperty = class("JProperty")
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
-- numbers and booleans have them too (their other members: numbers.lua; strings: jwt.lua)
local number_index = { __index = function(_, name)
  local g = split_generic(name)
  if g and PRIMITIVE_JSON[g[1]] then
    return function(v, ...) return PRIMITIVE_JSON[g[1]](v, g[2], ...) end
  end
  return nil
end }
setmetatable(NumberMethods, number_index)
setmetatable(BoolMethods, number_index)

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
-- new JObject/JArray/JProperty/JValue(...)

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

return {
  JObject = JObject, JArray = JArray, JProperty = JProperty, JOM = JOM, JAM = JAM,
  json_parse = json_parse, json_text = json_text, to_token = to_token, generic_result = generic_result,
  PRIMITIVE_JSON = PRIMITIVE_JSON,
}
