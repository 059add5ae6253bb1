-- valuelist.lua - the shape set-header and set-query-parameter share:
-- `name`, `exists-action` (override | skip | append | delete) and any number of
-- <value> children, each text or an expression.
--
-- Owns: checking that shape once and the runtime that applies it to a store
-- with values/has/set/add/remove (context.Headers, context.Query). Does not
-- own which store: the caller passes `store(ctx)`.

local compiler = require "portico.compiler"

local to_string = compiler.to_string
local ipairs = ipairs

local M = {}

local ACTIONS = { "override", "skip", "append", "delete" }

-- Compiles `node`; `store(ctx)` returns the store to change, `ignore(name)`
-- (optional) says which names the gateway manages and policies may not touch.
-- `encode(name, value)` (optional): the raw form a store keeps for a literal
-- value (query parameters are encoded once, here).
-- Returns the step, and when everything is literal a description for the
-- native plan (plan.lua): { name, action, values, raw } or { noop = true }.
function M.compile(node, c, store, ignore, encode)
  c:check_attrs(node, { "name", "exists-action" })
  local get_name, name_const, name = c:attr(node, "name", { required = true })
  local get_action, action_const, action = c:attr(node, "exists-action",
    { values = ACTIONS, default = "override" })
  if not get_name or not get_action then return nil end
  if name_const and name == "" then return c:error(node, "<%s>: name is empty", node.name) end
  local values, consts, ok, all_const = {}, {}, true, true
  for _, v in ipairs((c:elements(node, { "value" }))) do
    c:check_attrs(v, {})
    local get, is_const, value = c:text(v, { type = "any", default = "" })
    if get then
      values[#values + 1] = get
      if is_const then consts[#values] = to_string(value) else all_const = false end
    else
      ok = false
    end
  end
  if not ok then return nil end
  if name_const and ignore and ignore(name) then return compiler.noop, { noop = true } end
  if action_const and action == "delete" and #values > 0 then
    return c:error(node, "<%s exists-action=\"delete\">: remove the <value> elements (delete "
      .. "takes none)", node.name)
  end
  local n = #values

  -- the common case, all literal: one precomputed value, no per-request work
  if name_const and action_const and all_const then
    local desc = { name = name, action = action, values = consts }
    if action == "delete" then
      return function(ctx) store(ctx):remove(name) end, desc
    end
    if n == 0 then
      if action == "append" then return compiler.noop, desc end
      return function(ctx)
        local s = store(ctx)
        if action == "skip" and s:has(name) then return end
        s:set(name, "")
      end, desc
    end
    local value = n == 1 and consts[1] or consts
    local raw
    if encode then
      desc.raw = {}
      for i = 1, n do desc.raw[i] = encode(name, consts[i]) end
      raw = n == 1 and desc.raw[1] or desc.raw
    end
    if action == "append" then return function(ctx) store(ctx):add(name, value, raw) end, desc end
    if action == "skip" then
      return function(ctx)
        local s = store(ctx)
        if not s:has(name) then s:set(name, value, raw) end
      end, desc
    end
    return function(ctx) store(ctx):set(name, value, raw) end, desc
  end

  local function eval(ctx)
    local out, m = {}, 0
    for i = 1, n do
      local v = values[i](ctx)
      if v ~= nil then m = m + 1; out[m] = to_string(v) end
    end
    return out, m
  end

  return function(ctx)
    local nm = name_const and name or to_string(get_name(ctx))
    if not name_const and (nm == "" or (ignore and ignore(nm))) then return end
    local act = action_const and action or get_action(ctx)
    local s = store(ctx)
    if act == "delete" then return s:remove(nm) end
    if act == "skip" and s:has(nm) then return end
    local out, m = eval(ctx)
    if act == "append" then
      if m > 0 then s:add(nm, out) end
      return
    end
    -- override (and skip when absent)
    if n == 0 then return s:set(nm, "") end
    if m == 0 then return s:remove(nm) end
    s:set(nm, out)
  end
end

return M
