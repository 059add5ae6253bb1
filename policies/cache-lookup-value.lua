-- cache-lookup-value.lua - <cache-lookup-value key="..." variable-name="v"
-- default-value="..." caching-type="..."/>: reads a value kept by
-- cache-store-value into context.Variables, with the type it was stored with.
-- A miss sets the variable to default-value when there is one, and leaves it
-- alone otherwise (APIM: "if lookup results in a miss, the variable will not
-- be set"), so that ContainsKey tells hit from miss.

local store = require "cache-store-value"

local require = require

local M = {}

function M.compile(node, c)
  c:check_attrs(node, { "key", "variable-name", "default-value", "caching-type" })
  local get_key = c:attr(node, "key", { required = true })
  local get_var, _, var = c:attr(node, "variable-name", { required = true, expr = false })
  local get_default = c:attr(node, "default-value", { type = "any" })
  local ok = c:attr(node, "caching-type", { values = store.CACHING_TYPES, expr = false })
  if not (get_key and get_var and get_default and ok) then return nil end
  if var == "" then return c:error(node, "<cache-lookup-value>: variable-name is empty") end
  local has_default = c:attr_entry(node, "default-value") ~= nil
  local decode, key = store.decode, store.key
  return function(ctx)
    local k = get_key(ctx)
    local text = k ~= nil and require("portico.host").cache_get(key(k)) or nil
    if text ~= nil then
      ctx.variables[var] = decode(text)
    elseif has_default then
      ctx.variables[var] = get_default(ctx)
    end
  end
end

return M
