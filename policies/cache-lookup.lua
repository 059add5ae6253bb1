-- cache-lookup.lua - <cache-lookup vary-by-developer="false" vary-by-developer-groups="false"
-- downstream-caching-type="none|private|public" must-revalidate="true"
-- allow-private-response-caching="false" caching-type="..."> with <vary-by-header>
-- and <vary-by-query-parameter> children: answers a GET from the gateway's
-- response cache (portico.host) without calling the backend.
--
-- A hit skips the rest of inbound and the backend section; outbound still runs
-- (pipeline.serve), and cache-store there sees the hit and stores nothing. A
-- miss leaves the entry's key in ctx.response_cache for cache-store.
--
-- Owns the response cache's keys and entries (M.encode / M.decode, also used
-- by cache-store.lua). The key: API, operation, the path the client asked
-- for, the chosen query parameters and headers (query parameters not named do
-- not count, as in APIM), and with vary-by-developer the subscription (Portico
-- has no developer accounts), with vary-by-developer-groups the product.
-- There is one cache: caching-type is accepted and every entry is internal.

local pipeline = require "portico.pipeline"
local context = require "portico.context"

local find, sub, upper, match, gmatch, format =
  string.find, string.sub, string.upper, string.match, string.gmatch, string.format
local concat = table.concat
local ipairs, tostring, tonumber, require = ipairs, tostring, tonumber, require

local M = {}

M.sections = { "inbound" }

local DOWNSTREAM = { "none", "private", "public" }
local CACHING_TYPES = { "prefer-external", "external", "internal" }
-- what an entry does not keep: the gateway frames the answer it sends
local NOT_KEPT = { connection = true, ["content-length"] = true, ["keep-alive"] = true,
  ["transfer-encoding"] = true }

------------------------------------------------------------------------------
-- entries: length-prefixed fields "<len>:<bytes>", binary-safe

local function put(out, s)
  out[#out + 1] = #s .. ":" .. s
end

-- response (context.Response), its body text, when it expires (host ms) -> string
function M.encode(resp, body, expires)
  local out = {}
  put(out, tostring(resp.status))
  put(out, resp.reason or "")
  put(out, tostring(expires))
  local kept = {}
  for _, h in ipairs(resp:list()) do
    if not NOT_KEPT[h[1]:lower()] then kept[#kept + 1] = h end
  end
  put(out, tostring(#kept))
  for _, h in ipairs(kept) do put(out, h[1]); put(out, h[2]) end
  put(out, body)
  return concat(out)
end

-- string -> response (a new context.Response), expires; nil when malformed
function M.decode(s)
  local pos = 1
  local function take()
    local colon = find(s, ":", pos, true)
    if not colon then return nil end
    local len = tonumber(sub(s, pos, colon - 1))
    if not len then return nil end
    local v = sub(s, colon + 1, colon + len)
    pos = colon + len + 1
    return v
  end
  local status, reason, expires, nh = tonumber(take()), take(), tonumber(take()), tonumber(take())
  if not (status and reason and expires and nh) then return nil end
  local headers = {}
  for i = 1, nh do
    local n, v = take(), take()
    if not v then return nil end
    headers[i] = { n, v }
  end
  local body = take()
  if not body then return nil end
  return context.response(status, reason, headers, body, false), expires
end

-- Cache-Control for the client when downstream caching is allowed.
function M.downstream(resp, kind, must_revalidate, max_age)
  if kind == "none" then return end
  local v = kind .. ", max-age=" .. (max_age > 0 and max_age or 0)
  if must_revalidate then v = v .. ", must-revalidate" end
  resp.headers:set("Cache-Control", v)
end

------------------------------------------------------------------------------
-- the key

local function part(out, s)
  if s == nil then out[#out + 1] = "-" else out[#out + 1] = #s .. ":" .. s end
end

-- the names the <name> children list (each may hold several, ';'-separated)
local function names_of(c, elements, name)
  local out, ok = {}, true
  for _, el in ipairs(elements) do
    if el.name == name then
      c:check_attrs(el, {})
      local get, _, text = c:text(el, { required = true, expr = false })
      if get then
        for n in gmatch(text, "[^;]+") do
          n = match(n, "^%s*(.-)%s*$")
          if n ~= "" then out[#out + 1] = n end
        end
      else
        ok = false
      end
    end
  end
  return ok and out or nil
end

function M.compile(node, c)
  c:check_attrs(node, { "vary-by-developer", "vary-by-developer-groups", "caching-type",
    "downstream-caching-type", "must-revalidate", "allow-private-response-caching" })
  local get_dev = c:attr(node, "vary-by-developer", { type = "bool", default = false })
  local get_groups = c:attr(node, "vary-by-developer-groups", { type = "bool", default = false })
  local type_ok = c:attr(node, "caching-type", { values = CACHING_TYPES, expr = false })
  local get_down = c:attr(node, "downstream-caching-type", { values = DOWNSTREAM, default = "none" })
  local get_reval = c:attr(node, "must-revalidate", { type = "bool", default = true })
  local get_private = c:attr(node, "allow-private-response-caching", { type = "bool", default = false })
  local elements, children_ok = c:elements(node, { "vary-by-header", "vary-by-query-parameter" })
  local headers = names_of(c, elements, "vary-by-header")
  local params = names_of(c, elements, "vary-by-query-parameter")
  if not (get_dev and get_groups and type_ok and get_down and get_reval and get_private
    and children_ok and headers and params) then
    return nil
  end
  return function(ctx)
    local r = ctx.request
    if upper(r.method) ~= "GET" then return end
    local hs = r.headers
    if not get_private(ctx) and hs:has("Authorization") then return end
    local req = ctx.req
    local k = { "r" }
    part(k, req.api_id or "")
    part(k, req.operation_id or "")
    part(k, (req.url and req.url.path) or req.rest or "")
    if #params > 0 then
      local q = r:query()
      for _, n in ipairs(params) do
        local v = q:values(n)
        part(k, #v > 0 and concat(v, ",") or nil)
      end
    end
    for _, n in ipairs(headers) do part(k, hs:get(n)) end
    if get_dev(ctx) then part(k, req.subscription and req.subscription.id or nil) end
    if get_groups(ctx) then part(k, req.product_id) end
    local entry = { key = concat(k, "|"), downstream = get_down(ctx), must_revalidate = get_reval(ctx) }
    ctx.response_cache = entry
    local host = require("portico.host")
    local text = host.cache_get(entry.key)
    if not text then return end
    local resp, expires = M.decode(text)
    if not resp then return end
    entry.hit = true
    M.downstream(resp, entry.downstream, entry.must_revalidate, (expires - host.now_ms()) // 1000)
    pipeline.serve(ctx, resp)
  end
end

return M
