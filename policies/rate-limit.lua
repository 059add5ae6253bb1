-- rate-limit.lua - <rate-limit calls="N" renewal-period="seconds" (and the
-- header/variable name attributes of rate-limit-by-key)> with optional
-- <api name|id calls renewal-period> and <operation name|id calls renewal-period>
-- children: at most `calls` calls per subscription and window (and per API,
-- per operation for the children that match the request), counted
-- gateway-wide; past it 429 RateLimitExceeded with Retry-After.
--
-- Values are literals (APIM allows no expressions here). A request without a
-- subscription is not limited: there is nothing to count it against.
-- Counters are per scope of the document holding the policy and per
-- subscription; a call refused by a narrow limit (operation) does not use up
-- the wider ones.

local throttle = require "portico.throttle"

local ipairs = ipairs

local M = {}

M.sections = { "inbound" }

local PREFIX = "rate-limit:"
local PERIOD = { required = true, type = "int", expr = false, min = 1, max = 300,
  why = " seconds (APIM's maximum; quota counts longer periods)" }
local CALLS = { required = true, type = "int", expr = false, min = 0 }

local function limits(el, c)
  local g1, _, calls = throttle.int_attr(el, c, "calls", CALLS)
  local g2, _, period = throttle.int_attr(el, c, "renewal-period", PERIOD)
  if not (g1 and g2) then return nil end
  return { calls = calls, window = period * 1000 }
end

function M.compile(node, c)
  local allowed = { "calls", "renewal-period" }
  for _, a in ipairs(throttle.NAME_ATTRS) do allowed[#allowed + 1] = a end
  c:check_attrs(node, allowed)
  local top = limits(node, c)
  local names = throttle.names(node, c)
  local targets = throttle.targets(node, c, { "calls", "renewal-period" },
    function(el) return limits(el, c) end)
  if not (top and names and targets) then return nil end
  local ordered = throttle.narrowest_first(targets)
  local scope = PREFIX .. throttle.scope_key(c) .. ":"
  -- the native plan's op (plan.lua): no <api>/<operation> limits, no response headers
  local native
  if #ordered == 0 and not names.remaining_header and not names.total_header then
    native = { { op = "count", key = { { text = scope }, { sub = true } }, window = top.window,
      calls = top.calls, inc = 1, peek = false, need_sub = true, name = names.retry_header } }
  end
  return function(ctx)
    local sub = ctx.req.subscription
    if not (sub and sub.id) then return end
    local count = throttle.host().count
    local base = scope .. sub.id
    local remaining = nil
    for _, t in ipairs(ordered) do
      local suffix = throttle.match(ctx, t)
      if suffix then
        local lim = t.limits
        local ok, n, reset = count(base .. ":" .. suffix, lim.window, 1, lim.calls)
        if not ok then throttle.too_many(ctx, names, lim.calls, reset) end
        if not remaining or lim.calls - n < remaining then remaining = lim.calls - n end
      end
    end
    local ok, n, reset = count(base, top.window, 1, top.calls)
    if not ok then throttle.too_many(ctx, names, top.calls, reset) end
    if not remaining or top.calls - n < remaining then remaining = top.calls - n end
    throttle.report(ctx, names, top.calls, { remaining = remaining })
  end, native
end

return M
