-- rate-limit-by-key.lua - <rate-limit-by-key calls="N" renewal-period="seconds"
-- counter-key="@(...)" increment-condition="@(...)" increment-count="1"
-- retry-after-header-name retry-after-variable-name remaining-calls-header-name
-- remaining-calls-variable-name total-calls-header-name/>: at most `calls` calls
-- per key and window, counted gateway-wide (portico.host); past it 429
-- RateLimitExceeded with Retry-After.
--
-- One counter per key value for every scope using it (APIM). The window is
-- fixed and starts at the key's first call (ENGINE.md). When
-- increment-condition or increment-count is an expression, the request is only
-- checked in inbound and the increment happens when the request is done, as
-- APIM defers it "to the end of the outbound pipeline".

local throttle = require "portico.throttle"
local pipeline = require "portico.pipeline"
local compiler = require "portico.compiler"
local plan = require "portico.plan"

local to_string = compiler.to_string
local ipairs = ipairs

local M = {}

M.sections = { "inbound" }

local PREFIX = "rate-limit-by-key:"
local MAX_PERIOD = 300

function M.compile(node, c)
  local allowed = { "calls", "renewal-period", "counter-key", "increment-condition", "increment-count" }
  for _, a in ipairs(throttle.NAME_ATTRS) do allowed[#allowed + 1] = a end
  c:check_attrs(node, allowed)
  local get_calls, calls_const, calls_v = throttle.int_attr(node, c, "calls", { required = true, type = "int", min = 0 })
  local get_period, period_const, period_v = throttle.int_attr(node, c, "renewal-period", { required = true,
    type = "int", min = 1, max = MAX_PERIOD, why = " seconds (APIM's maximum; quota-by-key counts longer periods)" })
  local get_key, key_const, key_v = c:attr(node, "counter-key", { required = true })
  local get_cond, cond_const, cond = c:attr(node, "increment-condition", { type = "bool" })
  local get_inc, inc_const, inc_v = throttle.int_attr(node, c, "increment-count", { type = "int",
    default = 1, min = 0 })
  local names = throttle.names(node, c)
  if not (get_calls and get_period and get_key and get_cond and get_inc and names) then return nil end
  local never = cond_const and cond == false
  local deferred = not never and (not cond_const or not inc_const)
  local MAX = throttle.MAX
  -- the native plan's op (plan.lua): literal limits, a key C can make, no
  -- deferred increment, no response headers (they are set at the end)
  local native
  local entry = c:attr_entry(node, "counter-key")
  local pieces = plan.value(key_const, key_v, entry and entry.value)
  if pieces and calls_const and calls_v and period_const and period_v and not deferred
    and (never or (inc_const and inc_v)) and not names.remaining_header and not names.total_header then
    table.insert(pieces, 1, { text = PREFIX })
    native = { { op = "count", key = pieces, window = period_v * 1000, calls = calls_v,
      inc = never and 0 or inc_v, peek = never, name = names.retry_header } }
  end
  return function(ctx)
    local count = throttle.host().count
    local calls, window = get_calls(ctx), get_period(ctx) * 1000
    local key = PREFIX .. to_string(get_key(ctx))
    local st = {}
    if deferred or never then
      local _, n, reset = count(key, window, 0, calls)
      if n >= calls then throttle.too_many(ctx, names, calls, reset) end
      st.remaining = calls - n
      if deferred then
        pipeline.at_end(ctx, function()
          if not cond_const and not get_cond(ctx) then return end
          local inc = get_inc(ctx)
          if inc and inc > 0 then
            local _, now_n = count(key, window, inc, MAX)
            st.remaining = calls - now_n < 0 and 0 or calls - now_n
          end
        end)
      end
    else
      local ok, n, reset = count(key, window, get_inc(ctx), calls)
      if not ok then throttle.too_many(ctx, names, calls, reset) end
      st.remaining = calls - n
    end
    throttle.report(ctx, names, calls, st)
  end, native
end

return M
