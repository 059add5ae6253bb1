-- quota-by-key.lua - <quota-by-key calls="N" bandwidth="KB" renewal-period="seconds"
-- counter-key="@(...)" increment-condition="@(...)" first-period-start="2014-01-01T00:00:00Z"/>:
-- at most `calls` calls and/or `bandwidth` kilobytes per key and period,
-- counted gateway-wide; past it 403 QuotaExceeded.
--
-- Periods are fixed and aligned on first-period-start (renewal-period 0: the
-- quota never renews). With an increment-condition the call is counted when
-- the request is done, if the condition is then true. Bandwidth is the size
-- of the request and response bodies (their text, or Content-Length when they
-- stream through), counted when the request is done.

local throttle = require "portico.throttle"
local compiler = require "portico.compiler"
local context = require "portico.context"

local to_string = compiler.to_string

local M = {}

M.sections = { "inbound" }

local PREFIX = "quota-by-key:"

function M.compile(node, c)
  c:check_attrs(node, { "calls", "bandwidth", "renewal-period", "counter-key",
    "increment-condition", "first-period-start" })
  local get_calls, _, calls = throttle.int_attr(node, c, "calls", { type = "int", min = 0 })
  local get_bw, _, bw = throttle.int_attr(node, c, "bandwidth", { type = "int", min = 0 })
  local get_period = throttle.int_attr(node, c, "renewal-period", { required = true, type = "int", min = 0 })
  local get_key = c:attr(node, "counter-key", { required = true })
  local get_cond, cond_const, cond = c:attr(node, "increment-condition", { type = "bool" })
  local _, _, first = c:attr(node, "first-period-start", { expr = false })
  if not (get_calls and get_bw and get_period and get_key and get_cond) then return nil end
  local has_calls, has_bw = c:attr_entry(node, "calls"), c:attr_entry(node, "bandwidth")
  if not has_calls and not has_bw then
    return c:error(node, "<quota-by-key>: attribute 'calls' or 'bandwidth' (or both) is required")
  end
  local start = throttle.EPOCH_2014
  if first then
    start = throttle.parse_time(first)
    if not start then
      return c:error(c:attr_entry(node, "first-period-start"), "<quota-by-key first-period-start>: "
        .. "'%s' is not a date like 2014-01-01T00:00:00Z", first)
    end
  end
  local when = nil
  if not cond_const then when = get_cond
  elseif cond == false then when = false end
  return function(ctx)
    local lim = { start = start, period = get_period(ctx),
      calls = has_calls and get_calls(ctx) or nil,
      bytes = has_bw and get_bw(ctx) * 1024 or nil }
    local now = ctx.req.timestamp or context.now()
    throttle.quota(ctx, PREFIX .. to_string(get_key(ctx)), lim, now, when)
  end
end

return M
