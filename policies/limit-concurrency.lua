-- limit-concurrency.lua - <limit-concurrency key="@(...)" max-count="N"> with
-- child policies: at most `max-count` requests run the children at once per
-- key, gateway-wide (portico.host); a request over the limit fails at once
-- with 429 and does not run them.
--
-- The slot is a to-be-closed variable: it is given back when the children
-- finish, when they raise (the error goes on to on-error), and when C closes
-- the request's coroutine without resuming it (lua_closethread /
-- lua_resetthread on a client that went away).

local compiler = require "portico.compiler"
local context = require "portico.context"
local throttle = require "portico.throttle"

local to_string = compiler.to_string
local setmetatable = setmetatable

local M = {}

local PREFIX = "limit-concurrency:"

local slot_mt = { __close = function(s)
  if s.key then throttle.host().concurrency(s.key, -1, s.max) end
end }

function M.compile(node, c)
  c:check_attrs(node, { "key", "max-count" })
  local get_key = c:attr(node, "key", { required = true })
  local get_max = throttle.int_attr(node, c, "max-count", { required = true, type = "int",
    expr = false, min = 1 })
  local body = c:sequence(node)
  if not (get_key and get_max and body) then return nil end
  local max = get_max()
  return function(ctx)
    local key = PREFIX .. to_string(get_key(ctx))
    if not throttle.host().concurrency(key, 1, max) then
      context.fail("TooManyRequests", "The number of concurrent requests for key exceeds "
        .. max .. " (limit-concurrency)", 429, nil, "Too many requests")
    end
    local slot <close> = setmetatable({ key = key, max = max }, slot_mt)
    return body(ctx)
  end
end

return M
