-- rewrite-uri.lua - <rewrite-uri template="/v2/{id}?x=1" copy-unmatched-params="true"/>:
-- the path (relative to the backend's base URL) and query sent to the backend.
--
-- {name} takes the operation's matched template parameter (path or query,
-- `{*rest}` too); copy-unmatched-params keeps the request's query parameters
-- that the operation's URL template did not consume (APIM's rule).

local context = require "portico.context"
local plan = require "portico.plan"

local find, match, gmatch, sub = string.find, string.match, string.gmatch, string.sub
local concat = table.concat
local type, tostring, next, ipairs = type, tostring, next, ipairs

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

-- A template, split once: path pieces (strings, or { name } for a parameter)
-- and query pairs (each side the same).
local function pieces(s)
  local out, p = {}, 1
  while true do
    local a, b, name = find(s, "{%*?([^{}]+)}", p)
    if not a then break end
    if a > p then out[#out + 1] = sub(s, p, a - 1) end
    out[#out + 1] = { name }
    p = b + 1
  end
  if p <= #s then out[#out + 1] = sub(s, p) end
  return out
end

local function fill(ps, matched)
  if #ps == 1 and type(ps[1]) == "string" then return ps[1] end
  local out = {}
  for i = 1, #ps do
    local x = ps[i]
    if type(x) == "string" then out[i] = x
    else
      local v = matched[x[1]]
      out[i] = v == nil and "" or tostring(v)
    end
  end
  return concat(out)
end

local function parse_template(template)
  local path_t, query_t = match(template, "^([^?]*)%??(.*)$")
  if sub(path_t, 1, 1) ~= "/" then path_t = "/" .. path_t end
  local t = { path = pieces(path_t), query = {} }
  if query_t ~= "" then
    for piece in gmatch(query_t, "[^&]+") do
      local k, eq, v = match(piece, "^([^=]*)(=?)(.*)$")
      t.query[#t.query + 1] = { pieces(k), pieces(v), eq == "=" }
    end
  end
  return t
end

local function rewrite(ctx, t, copy)
  local req = ctx.request
  local matched = req.matched
  req:set_path(fill(t.path, matched))
  local op = ctx.info.operation
  local consumed = template_query_names(op and op.UrlTemplate)
  -- nothing to add, nothing consumed: the query goes on untouched
  if copy and #t.query == 0 and next(consumed) == nil then return end
  local q = context.query("")
  local list, given = q.list, {}
  for _, kv in ipairs(t.query) do
    local k, v = fill(kv[1], matched), fill(kv[2], matched)
    local dk = context.url_decode(k)
    given[dk] = true
    list[#list + 1] = { dk, context.url_decode(v), kv[3] and (k .. "=" .. v) or k }
  end
  if copy then
    local old = req:query().list
    for i = 1, #old do
      local p = old[i]
      if not consumed[p[1]] and not given[p[1]] then list[#list + 1] = p end
    end
  end
  q.dirty = true
  req.query_obj = q
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
    local t = parse_template(template)
    return function(ctx) rewrite(ctx, t, copy) end, plan.rewrite_ops(t, copy)
  end
  return function(ctx) rewrite(ctx, parse_template(get(ctx)), copy) end
end

return M
