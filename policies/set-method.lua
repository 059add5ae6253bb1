-- set-method.lua - <set-method>POST</set-method>: the method sent to the backend.

local upper, match = string.upper, string.match

local context = require "portico.context"

local M = {}

M.sections = { "inbound", "backend", "on-error" }

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

function M.compile(node, c)
  c:check_attrs(node, {})
  local get, is_const, method = c:text(node, { required = true })
  if not get then return nil end
  if is_const then
    if not match(method, TOKEN) then
      return c:error(node, "<set-method>: '%s' is not an HTTP method", method)
    end
    method = upper(method)
    return function(ctx) ctx.request.method = method end, { { op = "method", name = method } }
  end
  local where = c:where(node)
  return function(ctx)
    local m = get(ctx)
    if not match(m, TOKEN) then
      context.fail("ExpressionValueEvaluationFailure", where .. ": <set-method>: '" .. m
        .. "' is not an HTTP method")
    end
    ctx.request.method = upper(m)
  end
end

return M
