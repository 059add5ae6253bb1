-- set-variable.lua - <set-variable name="x" value="..."/>: stores a value in
-- context.Variables (a literal stays a string; an expression keeps its type).

local M = {}

function M.compile(node, c)
  c:check_attrs(node, { "name", "value" })
  local get_name, _, name = c:attr(node, "name", { required = true, expr = false })
  local get, is_const, value = c:attr(node, "value", { required = true, type = "any" })
  if not get_name or not get then return nil end
  if name == "" then return c:error(node, "<set-variable>: name is empty") end
  if is_const then
    return function(ctx) ctx.variables[name] = value end
  end
  return function(ctx) ctx.variables[name] = get(ctx) end
end

return M
