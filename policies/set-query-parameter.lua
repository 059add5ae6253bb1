-- set-query-parameter.lua - <set-query-parameter name="..." exists-action="...">
-- with <value> children: changes the query string sent to the backend.

local valuelist = require "portico.valuelist"
local context = require "portico.context"

local url_encode = context.url_encode

local M = {}

M.sections = { "inbound", "backend" }

local query = context.Request.query
local function store(ctx) return query(ctx.request) end

local function encode(name, value) return url_encode(name) .. "=" .. url_encode(value) end

function M.compile(node, c)
  return valuelist.compile(node, c, store, nil, encode)
end

return M
