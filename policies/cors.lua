-- cors.lua - <cors allow-credentials="false" terminate-unmatched-request="true">
-- with <allowed-origins><origin>...</origin></allowed-origins>,
-- <allowed-methods preflight-result-max-age="N"><method>...</method></allowed-methods>,
-- <allowed-headers><header>...</header></allowed-headers> and
-- <expose-headers><header>...</header></expose-headers>: CORS for browsers.
--
-- A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
-- answered here, without the backend: 200 with the Access-Control-* headers
-- when it matches, an empty 200 when it does not (terminate-unmatched-request,
-- default true; false lets the request go on, to a later cors policy). An
-- actual request from an allowed origin goes on, and its response gets
-- Access-Control-Allow-Origin (and -Credentials, -Expose-Headers) when the
-- request is done; an unmatched GET or HEAD ends with an empty 200 unless
-- terminate-unmatched-request is false.
--
-- APIM evaluates only cors on a preflight; here the inbound policies before it
-- run too, so put cors first in inbound.

local pipeline = require "portico.pipeline"
local context = require "portico.context"

local lower, upper, match, gmatch, concat = string.lower, string.upper, string.match, string.gmatch, table.concat
local ipairs, tostring = ipairs, tostring

local M = {}

M.sections = { "inbound" }

local DEFAULT_PORT = { http = "80", https = "443" }

-- "HTTPS://Example.com:443/" -> "https://example.com"
local function origin_key(o)
  o = lower(match(o, "^%s*(.-)/*%s*$"))
  local scheme, host, port = match(o, "^(%a[%w+.-]*)://([^/:]+):?(%d*)$")
  if not scheme then return o end
  if port == "" or port == DEFAULT_PORT[scheme] then return scheme .. "://" .. host end
  return scheme .. "://" .. host .. ":" .. port
end

-- The <x><item>v</item>...</x> list as a set (and "*"); nil after an error.
local function list(c, parent, item, norm)
  local set, order, any = {}, {}, false
  local elements, ok = c:elements(parent, { item })
  for _, el in ipairs(elements) do
    c:check_attrs(el, {})
    local get, _, v = c:text(el, { required = true, expr = false })
    if not get then ok = false
    elseif v == "*" then any = true
    else set[norm(v)] = true; order[#order + 1] = v end
  end
  return ok and { set = set, any = any, order = order } or nil
end

local function ident(v) return v end

function M.compile(node, c)
  c:check_attrs(node, { "allow-credentials", "terminate-unmatched-request" })
  local get_cred, cred_const, cred = c:attr(node, "allow-credentials", { type = "bool", default = false })
  local get_term = c:attr(node, "terminate-unmatched-request", { type = "bool", default = true })
  local parts, ok = {}, get_cred and get_term
  local elements, eok = c:elements(node, { "allowed-origins", "allowed-methods", "allowed-headers",
    "expose-headers" })
  local ITEM = { ["allowed-origins"] = "origin", ["allowed-methods"] = "method",
    ["allowed-headers"] = "header", ["expose-headers"] = "header" }
  local NORM = { origin = origin_key, method = upper, header = lower }
  local max_age
  for _, el in ipairs(elements) do
    if parts[el.name] ~= nil then ok = c:error(el, "<cors>: <%s> appears twice", el.name) end
    if el.name == "allowed-methods" then
      c:check_attrs(el, { "preflight-result-max-age" })
      local get, _, v = c:attr(el, "preflight-result-max-age", { type = "int", expr = false })
      if not get then ok = false end
      max_age = v
    else
      c:check_attrs(el, {})
    end
    local item = ITEM[el.name]
    parts[el.name] = list(c, el, item, NORM[item] or ident) or false
    if not parts[el.name] then ok = false end
  end
  local origins = parts["allowed-origins"]
  if origins == nil or (origins and not origins.any and #origins.order == 0) then
    ok = c:error(node, "<cors>: <allowed-origins> with at least one <origin> is required")
  end
  if not (ok and eok) then return nil end
  if cred_const and cred and origins.any then
    return c:error(node, "<cors allow-credentials=\"true\">: the origin '*' cannot be used with credentials "
      .. "(list the origins)")
  end
  local methods = parts["allowed-methods"] or { set = { GET = true, POST = true }, any = false }
  local headers = parts["allowed-headers"] or { set = {}, any = false }
  local expose = parts["expose-headers"]
  expose = expose and #expose.order > 0 and concat(expose.order, ", ") or nil
  local empty = function(ctx) pipeline.finish(ctx, context.response(200, "OK", {}, "", false)) end

  return function(ctx)
    local rh = ctx.request.headers
    local origin = rh:get("Origin")
    if not origin then return end
    local allow_cred = get_cred(ctx)
    local origin_ok = origins.any or origins.set[origin_key(origin)]
    local allow_origin = (origins.any and not allow_cred) and "*" or origin
    local method = upper(ctx.request.method)
    local wanted = rh:get("Access-Control-Request-Method")
    if method == "OPTIONS" and wanted then
      local hs_ok, asked = true, {}
      for h in gmatch(rh:get("Access-Control-Request-Headers") or "", "[^,%s]+") do
        asked[#asked + 1] = h
        if not headers.any and not headers.set[lower(h)] then hs_ok = false end
      end
      if origin_ok and hs_ok and (methods.any or methods.set[upper(wanted)]) then
        local out = { { "Access-Control-Allow-Origin", allow_origin } }
        if allow_cred then out[#out + 1] = { "Access-Control-Allow-Credentials", "true" } end
        out[#out + 1] = { "Access-Control-Allow-Methods", wanted }
        if #asked > 0 then out[#out + 1] = { "Access-Control-Allow-Headers", concat(asked, ",") } end
        if max_age and max_age > 0 then out[#out + 1] = { "Access-Control-Max-Age", tostring(max_age) } end
        if allow_origin ~= "*" then out[#out + 1] = { "Vary", "Origin" } end
        return pipeline.finish(ctx, context.response(200, "OK", out, "", false))
      end
      if get_term(ctx) then return empty(ctx) end
      return
    end
    if not origin_ok then
      if (method == "GET" or method == "HEAD") and get_term(ctx) then return empty(ctx) end
      return
    end
    pipeline.at_end(ctx, function(_, resp)
      local h = resp.headers
      h:set("Access-Control-Allow-Origin", allow_origin)
      if allow_cred then h:set("Access-Control-Allow-Credentials", "true") end
      if expose then h:set("Access-Control-Expose-Headers", expose) end
      if allow_origin ~= "*" then h:add("Vary", "Origin") end
    end)
  end
end

return M
