-- retry.lua - <retry condition="..." count="3" interval="1" max-interval="10"
-- delta="1" first-fast-retry="false"> around child policies: runs them once,
-- then again while the condition is true, at most `count` more times.
--
-- The waits between runs are "sleep" yields to C (ENGINE.md), never a blocked
-- loop. A forward-request inside is sent again (another "forward" yield);
-- its compile site carries `replays`, so the compiler marks the request body
-- for buffering (compiler.lua, modules with `forwards`).
--
-- Wait before retry n (1-based), APIM's three schedules (seconds):
--   interval only                  fixed: interval
--   interval + delta               linear: interval + (n - 1) * delta
--   interval + delta + max-interval exponential: interval + (2^(n-1) - 1) *
--                                  random(0.8, 1.2) * delta, at most max-interval
-- first-fast-retry="true": retry 1 goes at once; the others keep their wait.
-- Errors raised by the children are not retried: they go to on-error (APIM).

local context = require "portico.context"

local floor, random = math.floor, math.random
local format = string.format
local ipairs, tostring = ipairs, tostring
local yield = coroutine.yield

local M = {}

local MAX_COUNT = 50

-- The factor applied to delta by the exponential schedule (specs replace it).
M.jitter = function() return 0.8 + 0.4 * random() end

-- milliseconds to wait before retry `n`
local function wait_ms(n, interval, delta, max, fast)
  if fast and n == 1 then return 0 end
  local w = interval
  if delta and max then
    w = interval + (2 ^ (n - 1) - 1) * delta * M.jitter()
  elseif delta then
    w = interval + (n - 1) * delta
  end
  if max and w > max then w = max end
  if w <= 0 then return 0 end
  return floor(w * 1000 + 0.5)
end
M.wait_ms = wait_ms

local function count_ok(n) return n >= 1 and n <= MAX_COUNT end

function M.compile(node, c)
  c:check_attrs(node, { "condition", "count", "interval", "max-interval", "delta",
    "first-fast-retry" })
  local cond = c:attr(node, "condition", { required = true, type = "bool" })
  local get_count, count_const, count = c:attr(node, "count", { required = true, type = "int" })
  local get_interval, _, interval = c:attr(node, "interval", { required = true, type = "number" })
  local get_max, _, max = c:attr(node, "max-interval", { type = "number" })
  local get_delta, _, delta = c:attr(node, "delta", { type = "number" })
  local get_fast = c:attr(node, "first-fast-retry", { type = "bool", default = false })
  local body = c:sequence(node, { replays = true })
  if not (cond and get_count and get_interval and get_max and get_delta and get_fast and body) then
    return nil
  end
  if count_const and not count_ok(count) then
    return c:error(node, "<retry>: count %d is not between 1 and %d", count, MAX_COUNT)
  end
  for _, a in ipairs({ { "interval", interval }, { "max-interval", max }, { "delta", delta } }) do
    if a[2] and a[2] < 0 then
      return c:error(node, "<retry>: %s %s is negative", a[1], tostring(a[2]))
    end
  end
  local where = c:where(node)
  local function number(get, ctx, what)
    local v = get(ctx)
    if v ~= nil and v < 0 then
      context.fail("ExpressionValueEvaluationFailure", format("%s: <retry> %s evaluated to %s, "
        .. "which is negative", where, what, tostring(v)))
    end
    return v
  end
  return function(ctx)
    local me = ctx.current
    body(ctx)
    if ctx.stopped then return end
    ctx.current = me
    local n = count
    if not count_const then
      n = get_count(ctx)
      if not count_ok(n) then
        context.fail("ExpressionValueEvaluationFailure", format("%s: <retry> count evaluated to %d, "
          .. "which is not between 1 and %d", where, n, MAX_COUNT))
      end
    end
    local iv, dl, mx, fast -- evaluated once, at the first retry
    for r = 1, n do
      ctx.current = me
      if not cond(ctx) then return end
      if r == 1 then
        iv = number(get_interval, ctx, "interval")
        dl = number(get_delta, ctx, "delta")
        mx = number(get_max, ctx, "max-interval")
        fast = get_fast(ctx)
      end
      local ms = wait_ms(r, iv, dl, mx, fast)
      if ms > 0 then yield("sleep", ms) end
      body(ctx)
      if ctx.stopped then return end
    end
    ctx.current = me
  end
end

return M
