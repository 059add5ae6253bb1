-- choose.lua - <choose> with <when condition="..."> branches and an optional
-- <otherwise>: runs the first branch whose condition is true.

local ipairs = ipairs

local M = {}

function M.compile(node, c)
  c:check_attrs(node, {})
  local elements, ok = c:elements(node, { "when", "otherwise" })
  local conds, bodies, otherwise = {}, {}, nil
  for i, el in ipairs(elements) do
    local path = c.path .. "/" .. el.name .. "[" .. i .. "]"
    if el.name == "when" then
      if otherwise then
        c:error(el, "<when> after <otherwise>: <otherwise> comes last")
        ok = false
      end
      c:check_attrs(el, { "condition" })
      local cond = c:attr(el, "condition", { required = true, type = "bool" })
      local body = c:sequence(el, { path = path })
      if cond and body then
        conds[#conds + 1], bodies[#bodies + 1] = cond, body
      else
        ok = false
      end
    else
      if otherwise then
        c:error(el, "<choose> has more than one <otherwise>")
        ok = false
      end
      c:check_attrs(el, {})
      otherwise = c:sequence(el, { path = path }) or false
      if not otherwise then ok = false end
    end
  end
  if not ok then return nil end
  if #conds == 0 and not otherwise then
    return c:error(node, "<choose> needs at least one <when condition=\"...\">")
  end
  local n = #conds
  return function(ctx)
    for i = 1, n do
      if conds[i](ctx) then return bodies[i](ctx) end
    end
    if otherwise then return otherwise(ctx) end
  end
end

return M
