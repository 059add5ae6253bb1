-- set-header.lua - <set-header name="..." exists-action="override|skip|append|delete">
-- with <value> children: changes the request's headers in inbound/backend,
-- the response's in outbound/on-error, the returned one inside return-response.
--
-- Connection, Content-Length, Keep-Alive and Transfer-Encoding belong to the
-- gateway (APIM: "cannot be modified or deleted"); set-header leaves them alone.

local valuelist = require "portico.valuelist"
local plan = require "portico.plan"

local lower = string.lower

local M = {}

local MANAGED = { connection = true, ["content-length"] = true, ["keep-alive"] = true,
  ["transfer-encoding"] = true }

local function managed(name) return MANAGED[lower(name)] end

local STORES = {
  request = function(ctx) return ctx.request.headers end,
  response = function(ctx) return ctx.response.headers end,
  ["return"] = function(ctx) return ctx.building.headers end,
}

-- The second value is the native plan's ops (plan.lua): request headers only.
function M.compile(node, c)
  local fn, desc = valuelist.compile(node, c, STORES[c.message], managed)
  return fn, c.message == "request" and plan.header_ops(desc) or nil
end

return M
