-- quota.lua - <quota calls="N" bandwidth="KB" renewal-period="seconds"> with
-- optional <api name|id calls bandwidth renewal-period> and
-- <operation name|id .../> children: at most `calls` calls and/or `bandwidth`
-- kilobytes per subscription and period (and per API, per operation for the
-- children that match the request), counted gateway-wide; past it 403
-- QuotaExceeded.
--
-- Values are literals (APIM allows no expressions here). Periods are fixed,
-- aligned on 2014-01-01T00:00:00Z (renewal-period 0: never renews). A request
-- without a subscription is not limited. Bandwidth: see quota-by-key.lua.

local throttle = require "portico.throttle"
local context = require "portico.context"

local ipairs = ipairs

local M = {}

M.sections = { "inbound" }

local PREFIX = "quota:"

local function limits(el, c)
  local g1, _, calls = throttle.int_attr(el, c, "calls", { type = "int", expr = false, min = 0 })
  local g2, _, bw = throttle.int_attr(el, c, "bandwidth", { type = "int", expr = false, min = 0 })
  local g3, _, period = throttle.int_attr(el, c, "renewal-period",
    { required = true, type = "int", expr = false, min = 0 })
  if not (g1 and g2 and g3) then return nil end
  if calls == nil and bw == nil then
    return c:error(el, "<%s>: attribute 'calls' or 'bandwidth' (or both) is required", el.name)
  end
  return { calls = calls, bytes = bw and bw * 1024, period = period, start = throttle.EPOCH_2014 }
end

function M.compile(node, c)
  c:check_attrs(node, { "calls", "bandwidth", "renewal-period" })
  local top = limits(node, c)
  local targets = throttle.targets(node, c, { "calls", "bandwidth", "renewal-period" },
    function(el) return limits(el, c) end)
  if not (top and targets) then return nil end
  targets = throttle.narrowest_first(targets)
  local scope = PREFIX .. throttle.scope_key(c) .. ":"
  return function(ctx)
    local sub = ctx.req.subscription
    if not (sub and sub.id) then return end
    local base = scope .. sub.id
    local now = ctx.req.timestamp or context.now()
    for _, t in ipairs(targets) do
      local suffix = throttle.match(ctx, t)
      if suffix then throttle.quota(ctx, base .. ":" .. suffix, t.limits, now) end
    end
    throttle.quota(ctx, base, top, now)
  end
end

return M
