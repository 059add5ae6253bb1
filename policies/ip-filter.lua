-- ip-filter.lua - <ip-filter action="allow|forbid"> with <address>1.2.3.4</address>
-- and <address-range from="..." to="..."/> children: lets through (allow) or
-- stops (forbid) callers by IP address, IPv4 and IPv6; a stopped caller gets
-- 403 (reasons CallerIpNotAllowed, CallerIpBlocked, FailedToParseCallerIP).
--
-- Literal addresses and ranges are parsed once, at load. An IPv4-mapped IPv6
-- address (::ffff:10.0.0.1) is the IPv4 address: both live in one 128-bit
-- space of eight 16-bit groups, compared group by group.

local context = require "portico.context"
local compiler = require "portico.compiler"

local to_string = compiler.to_string
local find, match, sub, gmatch, format = string.find, string.match, string.sub, string.gmatch, string.format
local tonumber, ipairs = tonumber, ipairs

local M = {}

M.sections = { "inbound" }

local function v4(s)
  local a, b, c, d = match(s, "^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return a * 256 + b, c * 256 + d
end

-- "a:b:c" (an IPv4 tail allowed) -> { a, b, c }, or nil
local function groups(s)
  local out = {}
  if s == "" then return out end
  local last = false
  for g in gmatch(s .. ":", "([^:]*):") do
    if last then return nil end
    if match(g, "^%x%x?%x?%x?$") then
      out[#out + 1] = tonumber(g, 16)
    else
      local hi, lo = v4(g)
      if not hi then return nil end
      out[#out + 1] = hi
      out[#out + 1] = lo
      last = true
    end
  end
  return out
end

-- "10.0.0.1", "2001:db8::1", "[::1]", "fe80::1%eth0" -> eight groups, or nil
local function parse(s)
  s = match(s, "^%s*%[?([^%]%%]*)%%?[^%]]*%]?%s*$") or s
  local hi, lo = v4(s)
  if hi then return { 0, 0, 0, 0, 0, 0xffff, hi, lo } end
  if not find(s, ":", 1, true) then return nil end
  local dbl = find(s, "::", 1, true)
  if not dbl then
    local g = groups(s)
    return g and #g == 8 and g or nil
  end
  local head = sub(s, 1, dbl - 1)
  local left, right = not find(head, ".", 1, true) and groups(head), groups(sub(s, dbl + 2))
  if not left or not right or #left + #right > 7 then return nil end
  for _ = 1, 8 - #left - #right do left[#left + 1] = 0 end
  for _, g in ipairs(right) do left[#left + 1] = g end
  return left
end
M.parse = parse

local function cmp(a, b)
  for i = 1, 8 do
    if a[i] ~= b[i] then return a[i] < b[i] and -1 or 1 end
  end
  return 0
end

local function is_v4(a) return a[1] == 0 and a[2] == 0 and a[3] == 0 and a[4] == 0 and a[5] == 0 and a[6] == 0xffff end

-- One <address> or <address-range>: a matcher, or nil after an error.
local function entry(el, c)
  local function parsed(get, is_const, v, pos, what)
    if not get then return nil end
    if not is_const then
      return function(ctx) return parse(to_string(get(ctx))) end
    end
    local a = parse(v or "")
    if not a then return c:error(pos, "%s: '%s' is not an IPv4 or IPv6 address", what, v or "") end
    return function() return a end, a
  end
  if el.name == "address" then
    c:check_attrs(el, {})
    local get, is_const, v = c:text(el, { required = true })
    local addr = parsed(get, is_const, v, el, "<address>")
    if not addr then return nil end
    return function(ctx, ip) local a = addr(ctx); return a ~= nil and cmp(a, ip) == 0 end
  end
  c:check_attrs(el, { "from", "to" })
  local function bound(name)
    local get, is_const, v = c:attr(el, name, { required = true })
    return parsed(get, is_const, v, c:attr_entry(el, name) or el, "<address-range " .. name .. ">")
  end
  local from, fa = bound("from")
  local to, ta = bound("to")
  if not from or not to then return nil end
  if fa and ta then
    if is_v4(fa) ~= is_v4(ta) then return c:error(el, "<address-range>: from and to are not both IPv4 or both IPv6") end
    if cmp(fa, ta) > 0 then return c:error(el, "<address-range>: from is after to") end
  end
  return function(ctx, ip)
    local f, t = from(ctx), to(ctx)
    return f ~= nil and t ~= nil and cmp(f, ip) <= 0 and cmp(ip, t) <= 0
  end
end

function M.compile(node, c)
  c:check_attrs(node, { "action" })
  local get_action, _, action = c:attr(node, "action", { required = true, expr = false,
    values = { "allow", "forbid" } })
  local elements, ok = c:elements(node, { "address", "address-range" })
  local matchers = {}
  for _, el in ipairs(elements) do
    local m = entry(el, c)
    if m then matchers[#matchers + 1] = m else ok = false end
  end
  if not (get_action and ok) then return nil end
  local allow, n = action == "allow", #matchers
  return function(ctx)
    local raw = ctx.req.ip or ""
    local ip = parse(raw)
    if not ip then
      context.fail("FailedToParseCallerIP", "Failed to establish IP address for the caller. Access denied.", 403)
    end
    local hit = false
    for i = 1, n do
      if matchers[i](ctx, ip) then hit = true; break end
    end
    if allow and not hit then
      context.fail("CallerIpNotAllowed", format("Caller IP address %s is not allowed. Access denied.", raw), 403)
    elseif not allow and hit then
      context.fail("CallerIpBlocked", "Caller IP address is blocked. Access denied.", 403)
    end
  end
end

return M
