-- rewrite-uri.lua - <rewrite-uri template="/v2/{id}?x=1" copy-unmatched-params="true"/>:
-- the path (relative to the backend's base URL) and query sent to the backend.
--
-- {name} takes the operation's matched template parameter (path or query,
-- `{*rest}` too); copy-unmatched-params keeps the request's query parameters
-- that the operation's URL template did not consume (APIM's rule).

local context = require "portico.context"

local find, gsub, match, gmatch, sub = string.find, string.gsub, string.match, string.gmatch, string.sub

local M = {}

M.sections = { "inbound" }

-- names of the query parameters an operation's URL template consumes
local template_query_cache = {}
local function template_query_names(tpl)
  if not tpl then return {} end
  local names = template_query_cache[tpl]
  if names then return names end
  names = {}
  local q = match(tpl, "%?(.*)$")
  if q then
    for piece in gmatch(q, "[^&]+") do
      local k = match(piece, "^([^=]*)")
      if k and k ~= "" then names[k] = true end
    end
  end
  template_query_cache[tpl] = names
  return names
end

local function fill(s, matched)
  return (gsub(s, "{%*?([^{}]+)}", function(name)
    local v = matched[name]
    if v == nil then return "" end
    return tostring(v)
  end))
end

local function rewrite(ctx, template, copy)
  local req = ctx.request
  local matched = ctx.req.matched or {}
  local path_t, query_t = match(template, "^([^?]*)%??(.*)$")
  local path = fill(path_t, matched)
  if sub(path, 1, 1) ~= "/" then path = "/" .. path end
  local q = context.query("")
  local given = {}
  if query_t ~= "" then
    for piece in gmatch(query_t, "[^&]+") do
      local k, v = match(piece, "^([^=]*)=?(.*)$")
      k, v = fill(k, matched), fill(v, matched)
      given[context.url_decode(k)] = true
      q.list[#q.list + 1] = { context.url_decode(k), context.url_decode(v),
        v ~= "" and (k .. "=" .. v) or k }
    end
  end
  if copy then
    local op = ctx.info.operation
    local consumed = template_query_names(op and op.UrlTemplate)
    local old = req:query().list
    for i = 1, #old do
      local p = old[i]
      if not consumed[p[1]] and not given[p[1]] then q.list[#q.list + 1] = p end
    end
  end
  q.dirty = true
  req.query_obj = q
  req:set_path(path)
end

function M.compile(node, c)
  c:check_attrs(node, { "template", "copy-unmatched-params" })
  local get, is_const, template = c:attr(node, "template", { required = true })
  local _, _, copy = c:attr(node, "copy-unmatched-params", { type = "bool", default = true,
    expr = false })
  if not get or copy == nil then return nil end
  if is_const and find(template, "://", 1, true) then
    return c:error(node, "<rewrite-uri>: the template is a path relative to the backend's base URL, "
      .. "not a URL (use set-backend-service to change the backend)")
  end
  if is_const then
    return function(ctx) rewrite(ctx, template, copy) end
  end
  return function(ctx) rewrite(ctx, get(ctx), copy) end
end

return M
