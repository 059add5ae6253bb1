-- host_fake.lua - a pure-Lua stand-in of the `portico.host` module that C
-- preloads (ENGINE.md, "Traffic and integration policies"), for the specs.
--
-- Same functions and results as C's module; the clock is controlled by the
-- test instead of being real time:
--
--   local h = require "helper"           -- (the specs' usual first line)
--   local host = dofile(h.root .. "/tests/lua/host_fake.lua").install()
--     -- install(): package.preload["portico.host"] and package.loaded["portico.host"]
--     -- both give this table, so `require "portico.host"` in a policy returns it
--   before_each(host.reset)               -- empty state, clock at 0, default max_bytes
--   host.advance(60000)                   -- move the shared clock forward (ms)
--   host.set_now(ms)                      -- or set it
--   host.max_bytes = 100                  -- gateway.cache.maxBytes for the cache
--                                         -- (an entry counts #key + #value here; C adds
--                                         -- its per-entry overhead)
--
-- Arguments are checked the way C's luaL_check* would (integers must be
-- integral), so a policy that passes a bad value fails here too.

local M = {}

local now                 -- ms
local counters            -- key -> { start, window, count }
local slots               -- key -> current
local cache               -- key -> { value, expires, size, used }
local cache_bytes
local tick                -- LRU order

M.DEFAULT_MAX_BYTES = 1024 * 1024

local function check_string(v, i, fname)
  if type(v) ~= "string" then
    error(("bad argument #%d to '%s' (string expected, got %s)"):format(i, fname, type(v)), 3)
  end
  return v
end

local function check_int(v, i, fname)
  if type(v) ~= "number" then
    error(("bad argument #%d to '%s' (number expected, got %s)"):format(i, fname, type(v)), 3)
  end
  local n = math.tointeger(v)
  if not n then
    error(("bad argument #%d to '%s' (number has no integer representation)"):format(i, fname), 3)
  end
  return n
end

function M.reset()
  now, counters, slots, cache, cache_bytes, tick = 0, {}, {}, {}, 0, 0
  M.max_bytes = M.DEFAULT_MAX_BYTES
end

function M.advance(ms) now = now + ms end
function M.set_now(ms) now = ms end

-- host.now_ms() --> monotonic milliseconds (shared clock)
function M.now_ms() return now end

-- Expired windows are dropped (C evicts them; here on every call).
local function evict_counters()
  for k, c in pairs(counters) do
    if now >= c.start + c.window then counters[k] = nil end
  end
end

-- host.count(key, window_ms, increment, limit) --> allowed, count, reset_in_ms
-- A fixed window per key that starts at the key's first call (as in C's
-- store.c, a read with increment 0 starts one too); the increment is applied
-- only when count + increment <= limit.
function M.count(key, window_ms, increment, limit)
  check_string(key, 1, "count")
  window_ms = check_int(window_ms, 2, "count")
  increment = check_int(increment, 3, "count")
  limit = check_int(limit, 4, "count")
  if window_ms <= 0 then window_ms = 1 end
  evict_counters()
  local c = counters[key]
  if not c then
    c = { start = now, window = window_ms, count = 0 }
    counters[key] = c
  end
  local allowed = c.count + increment <= limit
  if allowed then c.count = c.count + increment end
  return allowed, c.count, c.start + c.window - now
end

-- host.concurrency(key, delta, max) --> ok, current
-- delta +1 takes a slot (ok false when current >= max), -1 gives one back
-- (ok false when none was taken).
function M.concurrency(key, delta, max)
  check_string(key, 1, "concurrency")
  delta = check_int(delta, 2, "concurrency")
  max = check_int(max or 0, 3, "concurrency")
  local cur = slots[key] or 0
  local ok = false
  if delta < 0 and cur > 0 then cur, ok = cur - 1, true
  elseif delta > 0 and cur < max then cur, ok = cur + 1, true end
  slots[key] = cur > 0 and cur or nil
  return ok, cur
end

local function cache_drop(key)
  local e = cache[key]
  if e then
    cache_bytes = cache_bytes - e.size
    cache[key] = nil
  end
end

-- host.cache_get(key) --> string or nil
function M.cache_get(key)
  check_string(key, 1, "cache_get")
  local e = cache[key]
  if not e then return nil end
  if now >= e.expires then cache_drop(key); return nil end
  tick = tick + 1
  e.used = tick
  return e.value
end

-- host.cache_set(key, value, ttl_ms): LRU-evicted past max_bytes
function M.cache_set(key, value, ttl_ms)
  check_string(key, 1, "cache_set")
  check_string(value, 2, "cache_set")
  ttl_ms = check_int(ttl_ms, 3, "cache_set")
  cache_drop(key)
  if ttl_ms <= 0 then return end
  local size = #key + #value
  if size > M.max_bytes then return end
  tick = tick + 1
  cache[key] = { value = value, expires = now + ttl_ms, size = size, used = tick }
  cache_bytes = cache_bytes + size
  while cache_bytes > M.max_bytes do
    local oldest, okey
    for k, e in pairs(cache) do
      if now >= e.expires then okey = k; break end
      if not oldest or e.used < oldest then oldest, okey = e.used, k end
    end
    cache_drop(okey)
  end
end

-- host.cache_delete(key)
function M.cache_delete(key)
  check_string(key, 1, "cache_delete")
  cache_drop(key)
end

-- Makes `require "portico.host"` return this module; returns it.
function M.install()
  package.preload["portico.host"] = function() return M end
  package.loaded["portico.host"] = M
  return M
end

-- Introspection for the specs (not part of C's module).
function M.counter_keys()
  evict_counters()
  local n = 0
  for _ in pairs(counters) do n = n + 1 end
  return n
end
function M.slots(key) return slots[key] or 0 end
function M.cache_bytes() return cache_bytes end

M.reset()

return M
