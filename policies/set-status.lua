-- set-status.lua - <set-status code="401" reason="Unauthorized"/>: the status
-- of the response (the one being returned inside return-response).

local context = require "portico.context"

local M = {}

local function valid(code) return code >= 100 and code <= 599 end

function M.compile(node, c)
  c:check_attrs(node, { "code", "reason" })
  local get_code, code_const, code = c:attr(node, "code", { required = true, type = "int" })
  local get_reason, reason_const, reason = c:attr(node, "reason")
  if not get_code or not get_reason then return nil end
  if code_const and not valid(code) then
    return c:error(node, "<set-status>: code %d is not an HTTP status (100-599)", code)
  end
  local building = c.message == "return"
  local where = c:where(node)
  return function(ctx)
    local st = code
    if not code_const then
      st = get_code(ctx)
      if not valid(st) then
        context.fail("ExpressionValueEvaluationFailure", where .. ": <set-status>: code " .. st
          .. " is not an HTTP status (100-599)")
      end
    end
    local rs = reason
    if not reason_const then rs = get_reason(ctx) end
    local resp = building and ctx.building or ctx.response
    resp:set_status(st, rs)
  end
end

return M
