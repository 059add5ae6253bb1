-- csharp/jwt.lua - APIM's Jwt in the C# run-time library: string.AsJwt() and
-- TryParseJwt() decode a token (they do not validate it; validate-jwt does).
--
-- Owns: parsing "header.payload.signature" (also after "Bearer "; rt.parse_jwt), the
-- Jwt class (Claims as a read-only dictionary of string[], Subject, Audiences,
-- ExpirationTime...), and the extension methods dispatch.lua looks up on strings:
-- AsJwt, TryParseJwt and Value<T>()/ToObject<T>() of JSON string values.
--
-- Does not own: JSON (json.lua), base64url (encoding.lua), the object model
-- (csharp.lua).

local gsub, match = string.gsub, string.match
local concat = table.concat
local type, ipairs, pcall, setmetatable = type, ipairs, pcall, setmetatable
local rawequal = rawequal

local core = require "portico.csharp.core"
local collections = require "portico.csharp.collections"
local encoding = require "portico.csharp.encoding"
local json = require "portico.csharp.json"
local M = core.rt
local class, cls, JNULL, split_generic = core.class, core.cls, core.JNULL, core.split_generic
local new_array = collections.new_array
local base64_decode = encoding.base64_decode
local JArray, json_text, json_parse, PRIMITIVE_JSON = json.JArray, json.json_text, json.json_parse, json.PRIMITIVE_JSON

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

local JWT_METHODS = {
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

return { JWT_METHODS = JWT_METHODS }
