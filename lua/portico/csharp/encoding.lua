-- csharp/encoding.lua - URLs and text encodings in the C# run-time library.
--
-- Owns: base64 (rt.base64_encode, rt.base64_decode: strict, or lenient for base64url),
-- Uri (new Uri, its members and statics), WebUtility/HttpUtility (URL and HTML
-- encoding), Encoding (UTF8, ASCII, Unicode: GetBytes/GetString).
--
-- Does not own: byte[] (collections.lua), System.Convert's base64 methods (casts.lua),
-- the object model (csharp.lua).

local byte, char, find, format, gsub, lower, rep, sub, match, gmatch =
  string.byte, string.char, string.find, string.format, string.gsub, string.lower,
  string.rep, string.sub, string.match, string.gmatch
local concat = table.concat
local type, tonumber, setmetatable, getmetatable, rawequal = type, tonumber, setmetatable, getmetatable, rawequal
local utf8len, utf8char, utf8codes = utf8.len, utf8.char, utf8.codes

local core = require "portico.csharp.core"
local collections = require "portico.csharp.collections"
local M, T, NEW = core.rt, core.T, core.NEW
local class, cls, throw, need_string = core.class, core.cls, core.throw, core.need_string
local Array, new_array, bytes, raw_bytes = collections.Array, collections.new_array, collections.bytes, collections.raw_bytes

------------------------------------------------------------------------------
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

------------------------------------------------------------------------------
-- URLs and encodings

local function escape_data(s)
  return (gsub(s, "[^%w%-_%.~]", function(c) return format("%%%02X", byte(c)) end))
end
local function unescape_data(s)
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

local Uri = class("Uri")
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

return { base64_encode = base64_encode, base64_decode = base64_decode, Uri = Uri }
