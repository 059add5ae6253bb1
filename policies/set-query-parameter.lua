-- set-query-parameter.lua - <set-query-parameter name="..." exists-action="...">
-- with <value> children: changes the query string sent to the backend.

local valuelist = require "portico.valuelist"
local context = require "portico.context"
local plan = require "portico.plan"

local url_encode = context.url_encode

local M = {}

M.sections = { "inbound", "backend" }

local query = context.Request.query
local function store(ctx) return query(ctx.request) end

local function encode(name, value) return url_encode(name) .. "=" .. url_encode(value) end

-- The second value is the native plan's ops (plan.lua).
function M.compile(node, c)
  local fn, desc = valuelist.compile(node, c, store, nil, encode)
  return fn, plan.query_ops(desc)
end

return M
