-- throttle.lua - what rate-limit, rate-limit-by-key, quota and quota-by-key share:
-- the gateway-wide counters (`portico.host`, ENGINE.md), APIM's 429 and 403
-- answers, the remaining-calls headers and variables, quota periods, and the
-- <api>/<operation> limits of the per-subscription policies.
--
-- Does not own: the counters themselves (C's store.c, or tests/lua/host_fake.lua).

local context = require "portico.context"
local pipeline = require "portico.pipeline"

local ceil, floor, format, lower = math.ceil, math.floor, string.format, string.lower
local tostring, tonumber, ipairs, rawget, require = tostring, tonumber, ipairs, rawget, require

local M = {}

M.MAX = math.maxinteger -- the limit of an increment that must always apply

-- C preloads the module; looked up per call so that a state without it can
-- still load documents (portico check, the corpus).
function M.host() return require "portico.host" end

------------------------------------------------------------------------------
-- compile helpers

M.NAME_ATTRS = { "retry-after-header-name", "retry-after-variable-name",
  "remaining-calls-header-name", "remaining-calls-variable-name", "total-calls-header-name" }

-- The header and variable names of rate-limit(-by-key) (literals only, APIM).
function M.names(node, c)
  local n, ok = {}, true
  for _, a in ipairs(M.NAME_ATTRS) do
    local get, _, v = c:attr(node, a, { expr = false })
    if not get then ok = false elseif v == "" then v = nil end
    n[a] = v
  end
  if not ok then return nil end
  return { retry_header = n["retry-after-header-name"] or "Retry-After",
    retry_var = n["retry-after-variable-name"], remaining_header = n["remaining-calls-header-name"],
    remaining_var = n["remaining-calls-variable-name"], total_header = n["total-calls-header-name"] }
end

-- An integer attribute checked against [min, max] when it is a literal.
-- Returns get, is_const, value (nil after an error).
function M.int_attr(node, c, name, opts)
  local get, is_const, v = c:attr(node, name, opts)
  if not get then return nil end
  if is_const and v ~= nil then
    local pos = c:attr_entry(node, name) or node
    if opts.min and v < opts.min then
      return c:error(pos, "<%s %s>: %d is less than %d", node.name, name, v, opts.min)
    end
    if opts.max and v > opts.max then
      return c:error(pos, "<%s %s>: %d is more than %d%s", node.name, name, v, opts.max, opts.why or "")
    end
  end
  return get, is_const, v
end

-- <api name|id ...> with <operation name|id .../> children; `limits(el)` reads
-- the limit attributes of one element (a table, nil after an error). Returns
-- { { api_id, api_name, op_id, op_name, limits }, ... } or nil.
function M.targets(node, c, limit_attrs, limits)
  local out, ok = {}, true
  local function one(el, allowed)
    c:check_attrs(el, allowed)
    local _, _, name = c:attr(el, "name", { expr = false })
    local _, _, id = c:attr(el, "id", { expr = false })
    if not name and not id then
      c:error(el, "<%s>: attribute 'name' or 'id' is required", el.name)
      return nil
    end
    local lim = limits(el)
    if not lim then return nil end
    return name, id, lim
  end
  local allowed = { "name", "id" }
  for _, a in ipairs(limit_attrs) do allowed[#allowed + 1] = a end
  local apis, eok = c:elements(node, { "api" })
  ok = eok
  for _, api in ipairs(apis) do
    local name, id, lim = one(api, allowed)
    if name or id then
      out[#out + 1] = { api_name = name, api_id = id, limits = lim }
    else
      ok = false
    end
    local ops, ook = c:elements(api, { "operation" })
    ok = ok and ook
    for _, op in ipairs(ops) do
      local oname, oid, olim = one(op, allowed)
      if oname or oid then
        out[#out + 1] = { api_name = name, api_id = id, op_name = oname, op_id = oid, limits = olim }
      else
        ok = false
      end
    end
  end
  return ok and out or nil
end

-- The targets with operations before APIs: a call refused by a narrow limit
-- does not use up the wider ones.
function M.narrowest_first(targets)
  local out = {}
  for _, t in ipairs(targets) do if t.op_id or t.op_name then out[#out + 1] = t end end
  for _, t in ipairs(targets) do if not (t.op_id or t.op_name) then out[#out + 1] = t end end
  return out
end

-- Whether target `t` applies to this request; returns its counter key suffix.
function M.match(ctx, t)
  local req, info = ctx.req, ctx.info
  local api = info.api
  if not (t.api_id == req.api_id or (api and t.api_name and t.api_name == api.Name)) then
    return nil
  end
  if not (t.op_id or t.op_name) then return "api:" .. tostring(req.api_id) end
  local op = info.operation
  if t.op_id == req.operation_id or (op and t.op_name and t.op_name == op.Name) then
    return "op:" .. tostring(req.api_id) .. "/" .. tostring(req.operation_id)
  end
  return nil
end

-- A stable name for the scope a per-subscription policy sits in (counters
-- survive reloads, so no file positions).
function M.scope_key(c)
  local ids = c.ids or {}
  return (c.scope or "") .. "/" .. (ids.product_id or ids.api_id or "") .. "/" .. (ids.operation_id or "")
end

------------------------------------------------------------------------------
-- answers

local function retry_seconds(reset_ms)
  local s = ceil(reset_ms / 1000)
  return s < 1 and 1 or s
end

-- 429 RateLimitExceeded with Retry-After (or its custom name) and the
-- remaining/total headers; the retry variable is set for on-error.
function M.too_many(ctx, names, calls, reset_ms)
  local secs = retry_seconds(reset_ms)
  local vars = ctx.variables
  if names.retry_var then vars[names.retry_var] = secs end
  if names.remaining_var then vars[names.remaining_var] = 0 end
  local headers = { { names.retry_header, tostring(secs) } }
  if names.remaining_header then headers[#headers + 1] = { names.remaining_header, "0" } end
  if names.total_header then headers[#headers + 1] = { names.total_header, tostring(calls) } end
  context.fail("RateLimitExceeded", "Rate limit is exceeded", 429, nil,
    format("Rate limit is exceeded. Try again in %d seconds.", secs), headers)
end

-- After an allowed call: the remaining-calls variable now, the headers on the
-- response when the request is done. `st.remaining` may change until then
-- (deferred increments).
function M.report(ctx, names, calls, st)
  if names.remaining_var then ctx.variables[names.remaining_var] = st.remaining end
  local rh, th = names.remaining_header, names.total_header
  if rh or th then
    pipeline.at_end(ctx, function(_, resp)
      local h = resp.headers
      if rh then h:set(rh, tostring(st.remaining)) end
      if th then h:set(th, tostring(calls)) end
    end)
  end
end

-- "d.hh:mm:ss" (C#'s TimeSpan), for quota messages.
local function timespan(ms)
  local s = ceil(ms / 1000)
  local d, h, m = s // 86400, (s % 86400) // 3600, (s % 3600) // 60
  local t = format("%02d:%02d:%02d", h, m, s % 60)
  if d > 0 then t = d .. "." .. t end
  return t
end
M.timespan = timespan

-- 403 QuotaExceeded ("calls" or "bandwidth").
function M.quota_exceeded(kind, reset_ms)
  local msg = format("Out of %s quota. Quota will be replenished in %s.",
    kind == "bandwidth" and "bandwidth" or "call volume", timespan(reset_ms))
  context.fail("QuotaExceeded", msg, 403, nil, msg)
end

------------------------------------------------------------------------------
-- quota periods: fixed, aligned on first-period-start (APIM's default
-- 2014-01-01T00:00:00Z); renewal-period 0 never renews

M.EPOCH_2014 = 1388534400
local FOREVER_MS = 100 * 365 * 86400 * 1000

-- The period holding `now` (unix seconds): its key suffix and the ms left.
function M.period(now, start, period_s)
  if period_s <= 0 then return "0", FOREVER_MS end
  local idx = floor((now - start) / period_s)
  local left = ceil((start + (idx + 1) * period_s - now) * 1000)
  return period_s .. ":" .. idx, left < 1 and 1 or left
end

-- Parses first-period-start ("yyyy-MM-ddTHH:mm:ssZ") to unix seconds, or nil.
function M.parse_time(s)
  local y, mo, d, h, mi, sec = s:match("^%s*(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)%.?%d*[Zz]?%s*$")
  if not y then
    y, mo, d = s:match("^%s*(%d%d%d%d)%-(%d%d)%-(%d%d)%s*$")
    h, mi, sec = 0, 0, 0
  end
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  h, mi, sec = tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 59 then return nil end
  -- days from civil (Howard Hinnant's algorithm)
  local yy = mo <= 2 and y - 1 or y
  local era = yy // 400
  local yoe = yy - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return (era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60 + sec
end

-- Checks one call against a quota `lim` = { calls, bytes, period, start } kept
-- under `key`, and counts it: the call now, or at the end when `when` is a
-- function (increment-condition) that is then true; never when `when` is
-- false. Bandwidth is always counted at the end (the response must be known).
function M.quota(ctx, key, lim, now, when)
  local count = M.host().count
  local suffix, left = M.period(now, lim.start, lim.period)
  local ck, bk = key .. ":" .. suffix .. ":calls", key .. ":" .. suffix .. ":bytes"
  local bytes, calls = lim.bytes, lim.calls
  if bytes then
    local _, n = count(bk, left, 0, bytes)
    if n >= bytes then M.quota_exceeded("bandwidth", left) end
  end
  if calls then
    local ok, n = count(ck, left, when == nil and 1 or 0, calls)
    if not ok or (when ~= nil and n >= calls) then M.quota_exceeded("calls", left) end
  end
  if when == false or not (bytes or (calls and when)) then return end
  pipeline.at_end(ctx, function(_, resp)
    if when and not when(ctx) then return end
    if calls and when then count(ck, left, 1, M.MAX) end
    if bytes then count(bk, left, M.bytes(ctx, resp), M.MAX) end
  end)
end

-- Bytes a request moved (request and response bodies, by their text or
-- Content-Length: streamed bodies are not seen by Lua).
local function size_of(msg, resp)
  local b = rawget(msg, "body")
  local text = b and b.text
  if text == nil and not b then
    if resp then text = msg.body_text else text = msg.ctx.req.body end
  end
  if text then return #text end
  local list = resp and msg:list() or msg:header_list()
  for _, h in ipairs(list) do
    if lower(h[1]) == "content-length" then return tonumber(h[2]) or 0 end
  end
  return 0
end

function M.bytes(ctx, resp)
  return size_of(ctx.request, false) + (resp and size_of(resp, true) or 0)
end

return M
