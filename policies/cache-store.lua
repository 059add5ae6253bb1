-- cache-store.lua - <cache-store duration="seconds" cache-response="false"/>:
-- keeps the response (status, headers, body) in the gateway's response cache
-- under the key cache-lookup made for this request, for `duration` seconds.
--
-- Stores nothing without a cache-lookup miss before it (no key: not a GET, a
-- private request, no cache-lookup, or the answer came from the cache), and
-- only 200 answers unless cache-response is true. The response is kept as it
-- stands where cache-store runs. It reads the response body, so the engine
-- asks C to buffer it (flags.response_body).

local lookup = require "cache-lookup"
local store = require "cache-store-value"

local rawget, require = rawget, require

local M = {}

M.sections = { "outbound" }

function M.compile(node, c)
  c:check_attrs(node, { "duration", "cache-response" })
  local duration = store.compile_duration(node, c, true)
  local get_all = c:attr(node, "cache-response", { type = "bool", default = false })
  if not (duration and get_all) then return nil end
  c:needs_body("response")
  return function(ctx)
    local entry = rawget(ctx, "response_cache")
    if not entry or entry.hit then return end
    local resp = ctx.response
    if resp.status ~= 200 and not get_all(ctx) then return end
    local body = resp:outgoing()
    local ms = duration(ctx)
    if body == nil or not ms or ms <= 0 then return end
    local host = require("portico.host")
    host.cache_set(entry.key, lookup.encode(resp, body, host.now_ms() + ms), ms)
    lookup.downstream(resp, entry.downstream, entry.must_revalidate, ms // 1000)
  end
end

return M
