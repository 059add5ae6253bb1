-- context.lua - the per-request state and APIM's `context` object model.
--
-- Owns: one table per request (`ctx`) holding the message being built (request,
-- response), variables and the error state, and the object model that policy
-- expressions read (`context.Request.Headers`, `context.Variables`, ...).
--
-- Two faces on the same state, told apart by case:
--   * PascalCase members are APIM's model, read by C# expressions through
--     csharp.lua (`rt.get(obj, "Name")` reads obj.Name, `rt.call(obj, "M", ...)`
--     calls obj.M(obj, ...)); dictionaries (Headers, Query, Variables,
--     MatchedParameters) are separate read-only views.
--   * lowercase fields and methods are the Lua API used by policies/*.lua, user
--     policy modules and Lua policy documents: `ctx.request.headers:set(n, v)`,
--     `ctx.variables[name] = v`, `ctx.response:set_status(404)`.
--
-- Does not own: running sections (pipeline.lua), the C# runtime (csharp.lua),
-- parsing bodies as JSON (csharp.lua's JObject).

local byte, char, find, format, gsub, lower, sub, upper, match =
  string.byte, string.char, string.find, string.format, string.gsub, string.lower,
  string.sub, string.upper, string.match
local concat, tonumber, tostring, type, setmetatable, getmetatable, pairs, ipairs, error, pcall =
  table.concat, tonumber, tostring, type, setmetatable, getmetatable, pairs, ipairs, error, pcall
local rawget, rawset = rawget, rawset

local EMPTY = {}

local M = {}

-- csharp.lua (`rt`): its dictionary, array, JSON and date types are what C#
-- expressions expect; bound on first use (M.runtime may also be set).
local function runtime()
  local rt = M.runtime
  if rt == nil then
    local ok, m = pcall(require, "portico.csharp")
    rt = ok and type(m) == "table" and m or false
    M.runtime = rt
  end
  return rt or nil
end

------------------------------------------------------------------------------
-- errors policies raise (turned into on-error by pipeline.lua)

local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(e) return (e.reason or "Error") .. ": " .. (e.message or "") end
M.Failure = Failure

-- Raises an APIM error: `reason` (LastError.Reason), `message`, the status the
-- client gets without on-error (default 500), and `source` (default: the
-- policy that is running). `headers` ({{n,v},...}, optional) go on the error
-- response (rate limits' Retry-After).
function M.fail(reason, message, status, source, client_message, headers)
  error(setmetatable({ reason = reason, message = message, status = status or 500,
    source = source, client_message = client_message, headers = headers }, Failure), 0)
end

function M.is_failure(e)
  return getmetatable(e) == Failure
end

------------------------------------------------------------------------------
-- URL pieces

local function url_decode(s)
  if not find(s, "[%%+]") then return s end
  s = gsub(s, "+", " ")
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end
M.url_decode = url_decode

local function url_encode(s)
  return (gsub(s, "[^%w%-%._~]", function(c) return format("%%%02X", byte(c)) end))
end
M.url_encode = url_encode

local DEFAULT_PORT = { http = 80, https = 443 }

-- "http://h:8080/base" -> { scheme, host, port, path }; parsed once per string.
local url_cache = {}
local url_cache_n = 0
local function parse_url(url)
  local u = url_cache[url]
  if u then return u end
  local scheme, rest = match(url, "^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil end
  local authority, path = match(rest, "^([^/?#]*)(.*)$")
  path = match(path, "^[^?#]*") or ""
  local host, port = match(authority, "^%[(.-)%]:?(%d*)$")
  if host then host = "[" .. host .. "]" else
    host, port = match(authority, "^([^:]*):?(%d*)$")
  end
  scheme = lower(scheme)
  u = { scheme = scheme, host = host or authority, path = path,
    port = tonumber(port) or DEFAULT_PORT[scheme] or 80 }
  -- the set of base URLs is small (backends, literals); expression-made ones
  -- could grow it without bound, so start over past a size
  if url_cache_n > 1024 then url_cache, url_cache_n = {}, 0 end
  url_cache[url] = u
  url_cache_n = url_cache_n + 1
  return u
end
M.parse_url = parse_url

-- base path + relative path, with exactly one slash between them
local function join_path(base, rel)
  if rel == nil or rel == "" then return base ~= "" and base or "/" end
  if base == "" or base == "/" then
    return byte(rel, 1) == 47 and rel or "/" .. rel
  end
  local b_slash = byte(base, -1) == 47
  local r_slash = byte(rel, 1) == 47
  if b_slash and r_slash then return base .. sub(rel, 2) end
  if b_slash or r_slash then return base .. rel end
  return base .. "/" .. rel
end
M.join_path = join_path

------------------------------------------------------------------------------
-- Headers: an ordered list of { name, value } pairs, duplicates kept;
-- names compare without case.

local Headers = {}
Headers.__index = Headers
M.Headers = Headers

-- Headers whose values may hold commas or dates: several values stay several
-- lines instead of one comma-joined line (APIM's set-header rule).
local SEPARATE = {
  ["user-agent"] = true, ["www-authenticate"] = true, ["proxy-authenticate"] = true,
  ["cookie"] = true, ["set-cookie"] = true, ["warning"] = true, ["date"] = true,
  ["expires"] = true, ["if-modified-since"] = true, ["if-unmodified-since"] = true,
  ["last-modified"] = true, ["retry-after"] = true,
}
M.SEPARATE_HEADERS = SEPARATE

function M.headers(list)
  return setmetatable({ list = list or {}, dirty = false }, Headers)
end

-- Names compare without case; comparing lengths first spares most lower()
-- calls, and the names policies ask for are few, so their lower case is kept
-- (a hot path: every set-header and GetValueOrDefault scans the list).
local lowered, lowered_n = {}, 0
local function low(name)
  local l = lowered[name]
  if l then return l end
  l = lower(name)
  if lowered_n > 4096 then lowered, lowered_n = {}, 0 end
  lowered[name] = l
  lowered_n = lowered_n + 1
  return l
end

local function same(n, l, len)
  return #n == len and (n == l or lower(n) == l)
end
M.same_name = same

-- All values of `name` (an array, empty when absent).
function Headers:values(name)
  local l, len, out, k = low(name), #name, {}, 0
  local list = self.list
  for i = 1, #list do
    local h = list[i]
    local n = h[1]
    if #n == len and (n == name or n == l or lower(n) == l) then k = k + 1; out[k] = h[2] end
  end
  return out
end

-- The value of `name`, several lines joined with ",", or nil when absent.
function Headers:get(name)
  local l, len, first, rest = low(name), #name, nil, nil
  local list = self.list
  for i = 1, #list do
    local h = list[i]
    local n = h[1]
    if #n == len and (n == name or n == l or lower(n) == l) then
      if first == nil then first = h[2]
      else rest = rest or { first }; rest[#rest + 1] = h[2] end
    end
  end
  if rest then return concat(rest, ",") end
  return first
end

function Headers:has(name)
  local l, len, list = low(name), #name, self.list
  for i = 1, #list do
    local n = list[i][1]
    if #n == len and (n == name or n == l or lower(n) == l) then return true end
  end
  return false
end

-- Removes every line of `name`; returns the index the first one had.
function Headers:remove(name)
  local l, len, list, j, at = low(name), #name, self.list, 0, nil
  local n = #list
  for i = 1, n do
    local h = list[i]
    if same(h[1], l, len) then
      at = at or i
    else
      j = j + 1
      list[j] = h
    end
  end
  for i = j + 1, n do list[i] = nil end
  self.dirty = true
  return at
end

-- Replaces every line of `name` with `value` (a string or an array of
-- strings), where the first one stood; an array becomes one comma-joined
-- line, or several lines for the SEPARATE headers.
function Headers:set(name, value)
  local l = low(name)
  if type(value) == "table" then
    if SEPARATE[l] then
      self:remove(name)
      return self:add(name, value)
    end
    value = concat(value, ",")
  end
  value = tostring(value)
  local list, len = self.list, #name
  local first
  for i = 1, #list do
    local h = list[i]
    if same(h[1], l, len) then first = i; break end
  end
  self.dirty = true
  if not first then
    list[#list + 1] = { name, value }
    return
  end
  list[first][2] = value
  -- later duplicates go
  local j, n = first, #list
  for i = first + 1, n do
    local h = list[i]
    if not same(h[1], l, len) then j = j + 1; list[j] = h end
  end
  for i = j + 1, n do list[i] = nil end
end

-- Adds `value` (string or array) to `name`: joined to the existing line with
-- "," unless the header keeps separate lines.
function Headers:add(name, value)
  local list = self.list
  local l, len = low(name), #name
  if type(value) == "table" then
    if #value == 0 then return end
    if SEPARATE[l] then
      for i = 1, #value do list[#list + 1] = { name, tostring(value[i]) } end
      self.dirty = true
      return
    end
    value = concat(value, ",")
  end
  value = tostring(value)
  self.dirty = true
  if not SEPARATE[l] then
    for i = #list, 1, -1 do
      local h = list[i]
      if same(h[1], l, len) then
        h[2] = h[2] .. "," .. value
        return
      end
    end
  end
  list[#list + 1] = { name, value }
end

-- The read-only dictionary C# expressions see (one per Headers object).
function Headers:view()
  local v = self.view_obj
  if not v then
    v = M.view("headers", self)
    self.view_obj = v
  end
  return v
end

-- The distinct names, in first-seen order, with their values (for views).
function Headers:names()
  local seen, out = {}, {}
  local list = self.list
  for i = 1, #list do
    local l = lower(list[i][1])
    if not seen[l] then seen[l] = true; out[#out + 1] = list[i][1] end
  end
  return out
end

------------------------------------------------------------------------------
-- Query parameters: ordered { name, value } (decoded) with the raw text kept,
-- so parameters no policy touched are forwarded byte for byte.

local Query = {}
Query.__index = Query
M.Query = Query

function M.query(raw)
  raw = raw or ""
  local list, n, p, len = {}, 0, 1, #raw
  while p <= len do
    local amp = find(raw, "&", p, true) or (len + 1)
    if amp > p then
      local piece = sub(raw, p, amp - 1)
      local eq = find(piece, "=", 1, true)
      local k, v = piece, ""
      if eq then k, v = sub(piece, 1, eq - 1), sub(piece, eq + 1) end
      n = n + 1
      list[n] = { url_decode(k), url_decode(v), piece }
    end
    p = amp + 1
  end
  return setmetatable({ list = list, raw = raw, dirty = false }, Query)
end

function Query:values(name)
  local out, list = {}, self.list
  for i = 1, #list do
    if list[i][1] == name then out[#out + 1] = list[i][2] end
  end
  return out
end

function Query:get(name)
  local v = self:values(name)
  if #v == 0 then return nil end
  return concat(v, ",")
end

function Query:has(name)
  local list = self.list
  for i = 1, #list do
    if list[i][1] == name then return true end
  end
  return false
end

function Query:remove(name)
  local list, j, n = self.list, 0, #self.list
  for i = 1, n do
    local p = list[i]
    if p[1] ~= name then j = j + 1; list[j] = p end
  end
  for i = j + 1, n do list[i] = nil end
  if j < n then self.dirty = true end
end

-- `raw`: the encoded "name=value" when the caller has it (a literal policy
-- value is encoded once, at load).
function Query:add(name, value, raw)
  local list = self.list
  if type(value) == "table" then
    for i = 1, #value do list[#list + 1] = { name, tostring(value[i]), raw and raw[i] } end
  else
    list[#list + 1] = { name, tostring(value), raw }
  end
  self.dirty = true
end

function Query:set(name, value, raw)
  self:remove(name)
  self:add(name, value, raw)
end

function Query:names()
  local seen, out, list = {}, {}, self.list
  for i = 1, #list do
    local n = list[i][1]
    if not seen[n] then seen[n] = true; out[#out + 1] = n end
  end
  return out
end

-- The query string without '?' (raw when nothing changed).
function Query:encode()
  if not self.dirty then return self.raw end
  local out, list = {}, self.list
  for i = 1, #list do
    local p = list[i]
    out[i] = p[3] or (url_encode(p[1]) .. "=" .. url_encode(p[2]))
  end
  return concat(out, "&")
end

------------------------------------------------------------------------------
-- Body: text that may be read once (APIM's As<T>() consumes the body unless
-- preserveContent is true), or a streamed body C did not buffer.

local Body = {}
M.Body = Body
local body_mt = { __name = "IMessageBody" }

-- `set`: the text came from a policy (set-body), not from the client or backend.
function M.body(text, streamed, which, set)
  return setmetatable({ text = text, streamed = streamed or false, consumed = false,
    which = which or "request", set = set or false }, body_mt)
end

function Body:read(preserve)
  if self.consumed then
    M.fail("ExpressionValueEvaluationFailure", "the " .. self.which .. " body was already read "
      .. "without preserveContent: true (read it with As<T>(preserveContent: true) to read it again)")
  end
  local text = self.text
  if text == nil then
    if self.streamed then
      M.fail("ExpressionValueEvaluationFailure", "the " .. self.which .. " body was not buffered")
    end
    text = ""
  end
  if not preserve then self.consumed = true end
  return text
end

-- APIM's As<T>(preserveContent): string, JObject, JArray, JToken via the
-- runtime's JSON types (M.runtime, set by the engine to csharp.lua).
local AS = {}
function AS.string(text) return text end
local function as_json(text, what)
  local rt = runtime()
  local parse = rt and (rt.json_parse or rt.parse_json)
  if not parse then
    M.fail("ExpressionValueEvaluationFailure", "As<" .. what .. ">: no JSON support in this runtime")
  end
  local ok, v = pcall(parse, text, what)
  if not ok then
    M.fail("ExpressionValueEvaluationFailure", "body is not valid JSON for As<" .. what .. ">: "
      .. tostring(v))
  end
  return v
end
AS.JObject = as_json
AS.JArray = as_json
AS.JToken = as_json

local as_methods = {}
for t, conv in pairs(AS) do
  as_methods["As<" .. t .. ">"] = function(self, preserve)
    return conv(self:read(preserve == true), t)
  end
end

body_mt.__index = function(self, k)
  local m = Body[k] or as_methods[k]
  if m then return m end
  return nil
end

-- The metatable of the objects below: methods first, then properties (read
-- per access), then fields made on first use (`lazy`, which store themselves).
local function object_mt(name, methods, props, lazy)
  return { __name = name, __index = function(self, k)
    local m = methods[k]
    if m then return m end
    local p = props[k]
    if p then return p(self) end
    local l = lazy and lazy[k]
    if l then return l(self) end
    return nil
  end }
end

------------------------------------------------------------------------------
-- Url: the view of a URL APIM gives (Scheme, Host, Port, Path, Query,
-- QueryString, ToString()).

local Url = {}
local url_props = {}
local url_mt = object_mt("IUrl", Url, url_props)
M.Url = Url

-- `get` returns scheme, host, port, path, query (raw, without '?'), and, if
-- available, a Query object; evaluated on each read so the view follows the
-- request as policies change it.
function M.url(get)
  return setmetatable({ get = get }, url_mt)
end

function url_props.Scheme(self) local s = self.get(); return s end
function url_props.Host(self) local _, h = self.get(); return h end
function url_props.Port(self) local _, _, p = self.get(); return p end
function url_props.Path(self) local _, _, _, p = self.get(); return p end
function url_props.QueryString(self)
  local _, _, _, _, q = self.get()
  if q == nil or q == "" then return "" end
  return "?" .. q
end
function url_props.Query(self)
  local _, _, _, _, raw, qobj = self.get()
  return M.query_view(qobj or M.query(raw))
end

local function url_string(self)
  local scheme, host, port, path, q = self.get()
  local s = scheme .. "://" .. host
  if port and port ~= DEFAULT_PORT[scheme] then s = s .. ":" .. port end
  s = s .. path
  if q and q ~= "" then s = s .. "?" .. q end
  return s
end
Url.ToString = url_string
Url.ToUri = url_string
url_mt.__tostring = url_string

function M.query_view(q) return M.view("query", q) end

------------------------------------------------------------------------------
-- Request

local Request = {}
M.Request = Request
local request_props = {}
-- fields made on first use (most requests never need them)
local request_lazy = {}
local request_mt = object_mt("IRequest", Request, request_props, request_lazy)

-- the header list C gave, as a Headers object
function request_lazy.headers(self)
  local h = M.headers(self.ctx.req.headers or {})
  rawset(self, "headers", h)
  return h
end

-- the body C gave (nil: not buffered, it streams)
function request_lazy.body(self)
  local text = self.ctx.req.body
  local b = M.body(text, text == nil, "request")
  rawset(self, "body", b)
  return b
end

function Request:set_method(m) self.method = upper(m) end

-- The backend: a base URL, or a backend id; `rank` is the scope rank of the
-- policy that chose it (set-backend-service's inheritance rule needs it).
function Request:set_backend_url(url, rank)
  self.base_url, self.backend_id, self.backend_rank = url, false, rank
end
function Request:set_backend_id(id, rank)
  self.backend_id, self.base_url, self.backend_rank = id, false, rank
end

-- The path relative to the backend's base URL.
function Request:set_path(p) self.path = p end

-- The Query object (parsed on first use).
function Request:query()
  local q = self.query_obj
  if not q then
    q = M.query(self.query_raw)
    self.query_obj = q
  end
  return q
end

function Request:query_string()
  local q = self.query_obj
  if q then return q:encode() end
  return self.query_raw
end

function Request:set_body(text)
  self.body = M.body(text, false, "request", true)
end

-- The header list as it stands (without making a Headers object).
function Request:header_list()
  local h = rawget(self, "headers")
  if h then return h.list end
  return self.ctx.req.headers or {}
end

-- The base URL currently in effect (backend ids resolved through the spec).
function Request:base()
  local id = self.backend_id
  if id then
    local b = self.ctx.backends[id]
    return b and b.url or ("http://" .. id)
  end
  return self.base_url or ""
end

local NO_URL = { scheme = "http", host = "", port = 80, path = "" }

function Request:url_parts()
  local u = parse_url(Request.base(self)) or NO_URL
  return u.scheme, u.host, u.port, join_path(u.path, self.path), Request.query_string(self),
    self.query_obj
end

function request_props.Method(self) return self.method end

-- Views that stay the same object for the whole request become raw fields
-- once made, so later reads never reach __index.
function request_props.Url(self)
  local v = M.url(function() return Request.url_parts(self) end)
  rawset(self, "Url", v)
  return v
end
function request_props.OriginalUrl(self)
  local o = self.ctx.req.url or EMPTY
  local scheme = o.scheme or "http"
  local u = { scheme, o.host or "", o.port or DEFAULT_PORT[scheme], o.path or "/", o.query or "" }
  local v = M.url(function() return u[1], u[2], u[3], u[4], u[5] end)
  rawset(self, "OriginalUrl", v)
  return v
end
function request_props.OriginalMethod(self) return self.ctx.req.method end
function request_props.Headers(self)
  local v = self.headers:view()
  rawset(self, "Headers", v)
  return v
end
function request_props.IpAddress(self) return self.ctx.req.ip end
function request_props.MatchedParameters(self)
  local v = M.view("dict", self.matched)
  rawset(self, "MatchedParameters", v)
  return v
end
function request_props.Body(self)
  local b = self.body
  if b.text == "" and not b.set then return nil end
  if b.text == nil and not b.streamed then return nil end
  return b
end
function request_props.HasBody(self) return request_props.Body(self) ~= nil end
-- The client's verified TLS certificate (X509Certificate2's names), or null.
function request_props.Certificate(self)
  local c = self.ctx.req.certificate
  if not c then return nil end
  local rt = runtime()
  local function time(ts) return rt and rt.datetime and rt.datetime(ts) or ts end
  local v = { Subject = c.subject, Issuer = c.issuer, Thumbprint = c.thumbprint, SerialNumber = c.serial,
              NotBefore = time(c.not_before), NotAfter = time(c.not_after) }
  rawset(self, "Certificate", v)
  return v
end

------------------------------------------------------------------------------
-- Response

local Response = {}
M.Response = Response
local response_props = {}
local response_lazy = {}
local response_mt = object_mt("IResponse", Response, response_props, response_lazy)

function response_lazy.headers(self)
  local h = M.headers(self.header_list)
  rawset(self, "headers", h)
  return h
end

function response_lazy.body(self)
  local text = self.body_text
  local b = M.body(text, text == nil and self.streamed, "response")
  rawset(self, "body", b)
  return b
end

local REASONS = {
  [100] = "Continue", [101] = "Switching Protocols", [200] = "OK", [201] = "Created",
  [202] = "Accepted", [203] = "Non-Authoritative Information", [204] = "No Content",
  [205] = "Reset Content", [206] = "Partial Content", [300] = "Multiple Choices",
  [301] = "Moved Permanently", [302] = "Found", [303] = "See Other", [304] = "Not Modified",
  [307] = "Temporary Redirect", [308] = "Permanent Redirect", [400] = "Bad Request",
  [401] = "Unauthorized", [402] = "Payment Required", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [406] = "Not Acceptable", [408] = "Request Timeout",
  [409] = "Conflict", [410] = "Gone", [411] = "Length Required", [412] = "Precondition Failed",
  [413] = "Payload Too Large", [414] = "URI Too Long", [415] = "Unsupported Media Type",
  [417] = "Expectation Failed", [418] = "I'm a teapot", [421] = "Misdirected Request",
  [423] = "Locked", [424] = "Failed Dependency", [425] = "Too Early", [426] = "Upgrade Required",
  [428] = "Precondition Required", [451] = "Unavailable For Legal Reasons",
  [422] = "Unprocessable Entity", [429] = "Too Many Requests", [431] = "Request Header Fields Too Large",
  [500] = "Internal Server Error", [501] = "Not Implemented", [502] = "Bad Gateway",
  [503] = "Service Unavailable", [504] = "Gateway Timeout", [508] = "Loop Detected",
}
M.REASONS = REASONS

-- A response: status, reason, header list, body text (nil + streamed: the
-- backend's body passes through unread). The Headers and Body objects are
-- made on first use (`resp.headers`, `resp.body`).
function M.response(status, reason, headers, body, streamed)
  status = status or 200
  return setmetatable({
    status = status, reason = reason or REASONS[status] or "",
    header_list = headers or {}, body_text = body, streamed = streamed or false,
  }, response_mt)
end

function Response:set_status(code, reason)
  self.status = code
  self.reason = reason or REASONS[code] or ""
end

function Response:set_body(text)
  self.body = M.body(text, false, "response", true)
end

-- The header list as it stands (without making a Headers object).
function Response:list()
  local h = rawget(self, "headers")
  if h then return h.list end
  return self.header_list
end

-- What to send: body text (nil: stream the backend's), and whether a policy
-- changed it (then the old framing headers are stale).
function Response:outgoing()
  local b = rawget(self, "body")
  if not b then
    if self.body_text == nil then
      if self.streamed then return nil, false end
      return "", false
    end
    return self.body_text, false
  end
  if b.consumed then return "", true end
  if b.text == nil then
    if b.streamed then return nil, false end
    return "", b.set
  end
  return b.text, b.set
end

function response_props.StatusCode(self) return self.status end
function response_props.StatusReason(self) return self.reason end
function response_props.Headers(self) return self.headers:view() end
function response_props.Body(self)
  local b = self.body
  if b.text == nil and not b.streamed then return nil end
  return b
end

------------------------------------------------------------------------------
-- the context

local Context = {}
M.Context = Context
local context_props = {}
local context_lazy = {}
local context_mt = object_mt("IProxyRequestContext", Context, context_props, context_lazy)

function context_lazy.variables(self)
  local v = {}
  rawset(self, "variables", v)
  return v
end

-- the default response (200 OK, no body) until the backend answers
function context_lazy.response(self)
  local r = M.response(200, "OK", {}, nil, false)
  rawset(self, "response", r)
  return r
end

local clock = os and os.time or function() return 0 end
function M.set_clock(f) clock = f end
function M.now() return clock() end

-- `info`: per-request facts prepared by the engine at load time:
-- { api = <Api object>, operation = <Operation object>, product = ..., deployment = ...,
--   backends = spec.backends }. Fields that are false stay raw fields so that
-- reading them never reaches __index (a hot path).
function M.new(req, info)
  local ctx = setmetatable({
    req = req, info = info, backends = info.backends or EMPTY,
    stopped = false, section = "inbound", current = false, returned = false,
    building = false, error = false, traces = false, last_error = false,
    forwarded = false, request = false, Request = false,
  }, context_mt)
  local request = setmetatable({
    ctx = ctx, method = req.method or "GET",
    base_url = req.service_url or (info.api and info.api.service_url) or "",
    backend_id = false, backend_rank = false,
    path = req.rest or "", query_raw = req.query or "", query_obj = false,
    matched = req.matched or EMPTY,
  }, request_mt)
  ctx.request = request
  ctx.Request = request
  return ctx
end

function context_props.Response(self) return self.response end
function context_props.Variables(self)
  local v = M.view("variables", self.variables)
  rawset(self, "Variables", v)
  return v
end
function context_props.Api(self) return self.info.api end
function context_props.Operation(self) return self.info.operation end
function context_props.Product(self) return self.info.product end
function context_props.Subscription(self)
  local s = rawget(self, "subscription")
  if s == nil then
    s = M.subscription(self.req.subscription) or false
    rawset(self, "subscription", s)
  end
  return s or nil
end
function context_props.Deployment(self) return self.info.deployment end
function context_props.User() return nil end
function context_props.Tracing() return false end
function context_props.LastError(self) return self.last_error or nil end
function context_props.RequestId(self) return self.req.id end
function context_props.Timestamp(self)
  local rt = runtime()
  local ts = self.req.timestamp or clock()
  if rt and rt.datetime then return rt.datetime(ts) end
  return ts
end
function context_props.Elapsed(self)
  local rt = runtime()
  local d = clock() - (self.req.timestamp or clock())
  if rt and rt.timespan then return rt.timespan(d) end
  return d
end

------------------------------------------------------------------------------
-- static objects built once per load (Api, Operation, Product, Deployment)

local function typed(name, t) return setmetatable(t, { __name = name }) end

function M.api(id, a)
  if not a then return nil end
  local su = a.service_url or ""
  local u = parse_url(su) or NO_URL
  return typed("IApi", {
    Id = id, Name = a.name or id, Path = a.path or "", Version = a.version,
    ServiceUrl = M.url(function() return u.scheme, u.host, u.port, u.path, "" end),
    IsCurrentRevision = true, Revision = "1",
    service_url = su,
  })
end

function M.operation(id, o)
  if not o then return nil end
  return typed("IOperation", { Id = id, Name = o.name or id, Method = o.method,
    UrlTemplate = o.url_template })
end

function M.product(id, p)
  if not id then return nil end
  p = p or {}
  return typed("IProduct", { Id = id, Name = p.name or id })
end

function M.subscription(s)
  if not s then return nil end
  return typed("ISubscription", { Id = s.id, Key = s.key, Name = s.name or s.id, PrimaryKey = s.key })
end

function M.deployment(gw)
  gw = gw or {}
  local id = gw.id or "portico"
  return typed("IDeployment", { ServiceName = id, ServiceId = id, Region = gw.region or "",
    Gateway = typed("IGateway", { Id = id, InstanceId = id, IsManaged = false }) })
end

function M.last_error(e)
  return typed("ILastError", {
    Source = e.source, Reason = e.reason, Message = e.message, Scope = e.scope,
    Section = e.section, Path = e.path, PolicyId = e.policy_id,
  })
end

------------------------------------------------------------------------------
-- dictionary views: the read-only IReadOnlyDictionary objects C# expressions
-- see (Headers, Url.Query, Variables, MatchedParameters), following csharp.lua's
-- object convention: methods take the object first, `get_Item` is the indexer,
-- GetEnumerator yields KeyValuePairs. One small table per view, no closures.

local function rt_array(t)
  local rt = runtime()
  if rt and rt.array then return rt.array(t, #t) end
  return t
end

local function kvpair(k, v)
  local rt = runtime()
  if rt and rt.kvpair then return rt.kvpair(k, v) end
  return { Key = k, Value = v }
end

local function not_found(k)
  local rt = runtime()
  local msg = "The given key '" .. tostring(k) .. "' was not present in the dictionary."
  if rt and rt.throw_new then rt.throw_new("KeyNotFoundException", msg) end
  error(msg, 0)
end

local function view_class(name, methods, props)
  return { __name = name, __index = function(self, k)
    local m = methods[k]
    if m then return m end
    local p = props[k]
    if p then return p(self) end
    return nil
  end }
end

-- name -> string[] over a Headers or Query object (`s`)
local MV, MP = {}, {}
function MV.get_Item(d, k)
  local v = d.s:values(k)
  if #v == 0 then not_found(k) end
  return rt_array(v)
end
function MV.GetValueOrDefault(d, k, def)
  local v = d.s:get(k)
  if v == nil then return def end
  return v
end
function MV.ContainsKey(d, k) return d.s:has(k) end
function MV.TryGetValue(d, k)
  local v = d.s:values(k)
  if #v == 0 then return false, nil end
  return true, rt_array(v)
end
function MV.GetEnumerator(d)
  local names, s, i = d.s:names(), d.s, 0
  return function()
    i = i + 1
    local n = names[i]
    if n == nil then return nil end
    return i, kvpair(n, rt_array(s:values(n)))
  end
end
function MV.ToString() return "System.Collections.Generic.Dictionary`2[System.String,System.String[]]" end
function MP.Count(d) return #d.s:names() end
function MP.Keys(d) return rt_array(d.s:names()) end
function MP.Values(d)
  local out = {}
  for i, n in ipairs(d.s:names()) do out[i] = rt_array(d.s:values(n)) end
  return rt_array(out)
end
local multi_mt = view_class("IReadOnlyDictionary`2", MV, MP)

-- A variable that holds C# null (send-request ignore-error="true" after a failed
-- call): ContainsKey is true, reading it gives null. A Lua table cannot hold nil.
local NULL = setmetatable({}, { __name = "null", __tostring = function() return "null" end })
M.NULL = NULL
local function unnull(v) if v == NULL then return nil end return v end

-- name -> value over a plain table (`t`)
local DV, DP = {}, {}
local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end
function DV.get_Item(d, k)
  local v = d.t[k]
  if v == nil then not_found(k) end
  return unnull(v)
end
function DV.GetValueOrDefault(d, k, def)
  local v = d.t[k]
  if v == nil then return def end
  return unnull(v)
end
function DV.ContainsKey(d, k) return d.t[k] ~= nil end
function DV.TryGetValue(d, k)
  local v = d.t[k]
  return v ~= nil, unnull(v)
end
function DV.GetEnumerator(d)
  local ks, t, i = sorted_keys(d.t), d.t, 0
  return function()
    i = i + 1
    local k = ks[i]
    if k == nil then return nil end
    return i, kvpair(k, unnull(t[k]))
  end
end
function DV.ToString() return "System.Collections.Generic.Dictionary`2[System.String,System.Object]" end
function DP.Count(d) return #sorted_keys(d.t) end
function DP.Keys(d) return rt_array(sorted_keys(d.t)) end
function DP.Values(d)
  local out = {}
  for i, k in ipairs(sorted_keys(d.t)) do out[i] = unnull(d.t[k]) end
  return rt_array(out)
end
local dict_mt = view_class("IReadOnlyDictionary`2", DV, DP)

-- kind: "headers" | "query" (name -> string[]) or "dict" | "variables" (name -> value)
function M.view(kind, store)
  if kind == "headers" or kind == "query" then
    return setmetatable({ s = store }, multi_mt)
  end
  return setmetatable({ t = store }, dict_mt)
end

return M
