-- csharp/random.lua - randomness in the C# run-time library, and Guid.
--
-- Owns: the random source every random value comes from (rt.set_random: a function
-- returning a float in [0, 1); tests may fix it), System.Random (seeded instances
-- use their own xorshift generator), Guid (NewGuid, Parse, formats, byte order).
--
-- Does not own: keys made at random for HMAC (crypto.lua, through random_bytes here),
-- the object model (csharp.lua).

local byte, char, format, gsub, lower, sub, match =
  string.byte, string.char, string.format, string.gsub, string.lower, string.sub, string.match
local concat, unpack = table.concat, table.unpack
local floor = math.floor
local type, tonumber, setmetatable, getmetatable, rawequal = type, tonumber, setmetatable, getmetatable, rawequal

local core = require "portico.csharp.core"
local collections = require "portico.csharp.collections"
local M, T, NEW = core.rt, core.T, core.NEW
local class, cls, throw, need_int, out_of_range = core.class, core.cls, core.throw, core.need_int, core.out_of_range
local SM = core.String.methods -- GetHashCode, from strings.lua
local Bytes, bytes, raw_bytes = collections.Bytes, collections.bytes, collections.raw_bytes

------------------------------------------------------------------------------
-- randomness: a function returning a float in [0, 1); tests may fix it

local random = math.random
function M.set_random(f) random = f end

local function random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = char(floor(random() * 256) & 0xff) end
  return concat(t)
end

------------------------------------------------------------------------------
-- Random

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

function NEW.Random(seed)
  local r = setmetatable({}, Random)
  if seed ~= nil then
    r.state = (need_int(seed, "Seed") * 6364136223846793005 + 1442695040888963407) | 1
  end
  return r
end

------------------------------------------------------------------------------
-- Guid

local Guid = class("Guid")
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

return { random_bytes = random_bytes, Guid = Guid }
