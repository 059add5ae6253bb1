-- set-query-parameter.lua - <set-query-parameter name="..." exists-action="...">
-- with <value> children: changes the query string sent to the backend.

local valuelist = require "portico.valuelist"

local M = {}

M.sections = { "inbound", "backend" }

local function store(ctx) return ctx.request:query() end

function M.compile(node, c)
  return valuelist.compile(node, c, store)
end

return M
