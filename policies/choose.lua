-- choose.lua - <choose> with <when condition="..."> branches and an optional
-- <otherwise>: runs the first branch whose condition is true.
--
-- Its native plan (plan.lua): every branch's children have one and every
-- condition is one C evaluates; else none.

local compiler = require "portico.compiler"
local plan = require "portico.plan"

local ipairs, type = ipairs, type

local M = {}

function M.compile(node, c)
  c:check_attrs(node, {})
  local elements, ok = c:elements(node, { "when", "otherwise" })
  local conds, bodies, otherwise = {}, {}, nil
  local native, branches, native_otherwise = true, {}, nil
  -- a branch's children compiled once: the step and the ops of each
  local function body_of(el, path)
    local steps, metas = c:steps(el, { path = path })
    if not steps then return nil end
    local ops = {}
    for _, m in ipairs(metas) do
      if type(m.plan) ~= "table" or m.plan == plan.FORWARD then native = false
      else for _, o in ipairs(m.plan) do ops[#ops + 1] = o end end
    end
    return compiler.runner(steps, metas), ops
  end
  for i, el in ipairs(elements) do
    local path = c.path .. "/" .. el.name .. "[" .. i .. "]"
    if el.name == "when" then
      if otherwise then
        c:error(el, "<when> after <otherwise>: <otherwise> comes last")
        ok = false
      end
      c:check_attrs(el, { "condition" })
      local cond = c:attr(el, "condition", { required = true, type = "bool" })
      local body, ops = body_of(el, path)
      if cond and body then
        conds[#conds + 1], bodies[#bodies + 1] = cond, body
        local entry = c:attr_entry(el, "condition")
        local items = entry and plan.condition(entry.value)
        if not items then native = false end
        branches[#branches + 1] = { cond = items, ops = ops }
      else
        ok = false
      end
    else
      if otherwise then
        c:error(el, "<choose> has more than one <otherwise>")
        ok = false
      end
      c:check_attrs(el, {})
      local ops
      otherwise, ops = body_of(el, path)
      otherwise = otherwise or false
      native_otherwise = ops
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
  end, native and plan.choose_ops(branches, native_otherwise) or nil
end

return M
