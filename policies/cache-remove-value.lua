-- cache-remove-value.lua - <cache-remove-value key="..." caching-type="..."/>:
-- removes a value kept by cache-store-value from the gateway's cache.

local store = require "cache-store-value"

local require = require

local M = {}

function M.compile(node, c)
  c:check_attrs(node, { "key", "caching-type" })
  local get_key = c:attr(node, "key", { required = true })
  local ok = c:attr(node, "caching-type", { values = store.CACHING_TYPES, expr = false })
  if not (get_key and ok) then return nil end
  local key = store.key
  return function(ctx)
    local k = get_key(ctx)
    if k ~= nil then require("portico.host").cache_delete(key(k)) end
  end
end

return M
