-- cache-store-value.lua - <cache-store-value key="..." value="..." duration="seconds"
-- caching-type="prefer-external|external|internal"/>: keeps a value in the
-- gateway's cache (portico.host, shared by all workers, LRU-bounded) for
-- `duration` seconds.
--
-- Owns how values are kept (M.encode / M.decode, used by cache-lookup-value):
-- the cache holds strings, so a value carries its C# type with it (string,
-- bool, int, double, JObject/JArray as JSON; anything else as its ToString())
-- and comes back with that type. A null value stores nothing.
-- There is one cache: caching-type is accepted and every value is internal.

local context = require "portico.context"
local compiler = require "portico.compiler"

local byte, sub, format = string.byte, string.sub, string.format
local mtype, tointeger, floor, huge = math.type, math.tointeger, math.floor, math.huge
local type, tonumber, tostring, getmetatable, require = type, tonumber, tostring, getmetatable,
  require

local to_string = compiler.to_string

local M = {}

M.CACHING_TYPES = { "prefer-external", "external", "internal" }

-- the key of a value in the shared cache (response entries use another prefix)
function M.key(k) return "v:" .. k end

local function float_text(v)
  if v ~= v then return "nan" end
  if v == huge then return "inf" end
  if v == -huge then return "-inf" end
  return format("%.17g", v)
end

-- A C# value -> the string kept in the cache, or nil for null.
function M.encode(v)
  local t = type(v)
  if v == nil or v == context.NULL then return nil end
  if t == "string" then return "s" .. v end
  if t == "boolean" then return v and "b1" or "b0" end
  if t == "number" then
    if mtype(v) == "integer" then return "i" .. tostring(v) end
    return "f" .. float_text(v)
  end
  local rt = compiler.runtime()
  if rt and rt.CLASSES and rt.json_text then
    local mt = getmetatable(v)
    if mt ~= nil and (mt == rt.CLASSES.JObject or mt == rt.CLASSES.JArray) then
      return "j" .. rt.json_text(v)
    end
  end
  return "s" .. to_string(v)
end

local FLOATS = { nan = 0 / 0, inf = huge, ["-inf"] = -huge }

-- The string kept in the cache -> the C# value it was.
function M.decode(s)
  local tag, rest = byte(s, 1), sub(s, 2)
  if tag == 115 then return rest end                         -- s
  if tag == 98 then return rest == "1" end                   -- b
  if tag == 105 then return tointeger(tonumber(rest)) end    -- i
  if tag == 102 then return FLOATS[rest] or tonumber(rest) end -- f
  if tag == 106 then                                         -- j
    local rt = compiler.runtime()
    return rt.json_parse(rest, "JToken")
  end
  return nil
end

-- The duration attribute (seconds) as a getter of milliseconds (an integer).
function M.compile_duration(node, c, required)
  local get, is_const, secs = c:attr(node, "duration", { type = "number", required = required })
  if not get then return nil end
  if is_const then
    if secs == nil then return function() return nil end end
    if secs < 0 then return c:error(node, "<%s>: duration %s is negative", node.name, tostring(secs)) end
    local ms = floor(secs * 1000)
    return function() return ms end
  end
  return function(ctx)
    local v = get(ctx)
    if v == nil then return nil end
    return floor(v * 1000)
  end
end

function M.compile(node, c)
  c:check_attrs(node, { "key", "value", "duration", "caching-type" })
  local get_key = c:attr(node, "key", { required = true })
  local get_value = c:attr(node, "value", { required = true, type = "any" })
  local duration = M.compile_duration(node, c, true)
  local ok = c:attr(node, "caching-type", { values = M.CACHING_TYPES, expr = false })
  if not (get_key and get_value and duration and ok) then return nil end
  local encode, key = M.encode, M.key
  return function(ctx)
    local k = get_key(ctx)
    local text = encode(get_value(ctx))
    local ms = duration(ctx)
    if k == nil or text == nil or not ms or ms <= 0 then return end
    require("portico.host").cache_set(key(k), text, ms)
  end
end

return M
