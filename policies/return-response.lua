-- return-response.lua - <return-response response-variable-name="v"> with
-- <set-status>, <set-header>, <set-body> children: ends the pipeline and
-- answers with that response (default 200 OK, no body; or a copy of the
-- response held in the variable, changed by the children).

local pipeline = require "portico.pipeline"
local context = require "portico.context"

local type, getmetatable, ipairs = type, getmetatable, ipairs

local M = {}

local function copy_of(v)
  local headers = {}
  for i, h in ipairs(v.headers.list) do headers[i] = { h[1], h[2] } end
  local b = v.body
  local text = b and b.text
  return context.response(v.status, v.reason, headers, text or "", false)
end

function M.compile(node, c)
  c:check_attrs(node, { "response-variable-name" })
  local _, _, var = c:attr(node, "response-variable-name", { expr = false })
  local _, ok = c:elements(node, { "set-status", "set-header", "set-body" })
  if not ok then return nil end
  local body = c:sequence(node, { message = "return" })
  if not body then return nil end
  local where = c:where(node)
  return function(ctx)
    local resp
    if var then
      local v = ctx.variables[var]
      if type(v) ~= "table" or getmetatable(v) == nil or v.status == nil or v.headers == nil then
        context.fail("ExpressionValueEvaluationFailure", where .. ": variable '" .. var
          .. "' does not hold a response")
      end
      resp = copy_of(v)
    else
      resp = context.response(200, "OK", {}, "", false)
    end
    local saved = ctx.building
    ctx.building = resp
    body(ctx)
    ctx.building = saved
    pipeline.finish(ctx, resp)
  end
end

return M
