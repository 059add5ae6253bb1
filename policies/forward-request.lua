-- forward-request.lua - <forward-request timeout="60" follow-redirects="false"
-- buffer-request-body="false" buffer-response="true" fail-on-error-status-code="false"/>:
-- sends the request to the backend (a yield to C, see ENGINE.md) and makes
-- the answer context.Response.
--
-- follow-redirects="true" follows up to MAX_REDIRECTS 301/302/303/307/308
-- answers itself (303, and 301/302 after a POST, become a GET without body);
-- it buffers the request body so that it can be sent again.

local pipeline = require "portico.pipeline"
local context = require "portico.context"
local plan = require "portico.plan"

local match, upper = string.match, string.upper

local M = {}

M.sections = { "backend" }
-- sends the client's request: a policy that replays its children (retry) makes
-- the compiler buffer the request body (compiler.lua, Site:element)
M.forwards = true

local MAX_REDIRECTS = 10
local REDIRECT = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }

-- Location -> base_url (origin), path, query; relative locations resolve
-- against the URL just requested.
local function resolve(location, cur_origin, cur_path)
  local origin, rest = match(location, "^(%a[%w+.-]*://[^/?#]*)(.*)$")
  if not origin then
    origin = cur_origin
    rest = location
    if rest:sub(1, 1) ~= "/" then
      rest = (match(cur_path, "^(.*/)") or "/") .. rest
    end
  end
  rest = match(rest, "^[^#]*")
  local path, query = match(rest, "^([^?]*)%??(.*)$")
  if path == "" then path = "/" end
  return origin, path, query
end

local DEFAULT_PORT = { http = 80, https = 443 }

local function origin_of(scheme, host, port)
  if port == DEFAULT_PORT[scheme] then return scheme .. "://" .. host end
  return scheme .. "://" .. host .. ":" .. port
end

local function follow(ctx, resp, timeout)
  local r = ctx.request
  local scheme, host, port, path = r:url_parts()
  local origin = origin_of(scheme, host, port)
  local method = r.method
  local body
  for _ = 1, MAX_REDIRECTS do
    local location = REDIRECT[resp.status] and resp.headers:get("Location")
    if not location then return resp end
    local base, p, q = resolve(location, origin, path)
    if resp.status == 303 or ((resp.status == 301 or resp.status == 302) and upper(method) == "POST") then
      method, body = "GET", ""
    end
    local u = context.parse_url(base)
    if not u then return resp end
    origin, path = origin_of(u.scheme, u.host, u.port), p
    resp = pipeline.forward(ctx, { base_url = base, path = p, query = q, method = method,
      body = body, timeout = timeout })
  end
  return resp
end

function M.compile(node, c)
  c:check_attrs(node, { "timeout", "follow-redirects", "buffer-request-body", "buffer-response",
    "fail-on-error-status-code", "http-version" })
  local get_timeout, t_const, t = c:attr(node, "timeout", { type = "int" })
  local get_follow, f_const, f = c:attr(node, "follow-redirects", { type = "bool", default = false })
  local _, _, buffer = c:attr(node, "buffer-request-body", { type = "bool", default = false })
  local resp_ok = c:attr(node, "buffer-response", { type = "bool", default = true })
  local get_fail, fail_const, fail = c:attr(node, "fail-on-error-status-code",
    { type = "bool", default = false })
  local version_ok, _, version = c:attr(node, "http-version", { values = { "1", "2", "2or1" },
    expr = false, default = "1" })
  if not (get_timeout and get_follow and resp_ok and get_fail and version_ok) then return nil end
  if version == "2" then
    return c:error(node, "<forward-request http-version=\"2\">: HTTP/2 to backends is not supported "
      .. "(use 1 or 2or1)")
  end
  if t_const and t and t < 0 then
    return c:error(node, "<forward-request>: timeout %d is negative", t)
  end
  -- a body sent twice (redirects) or kept for retry must be buffered
  if buffer ~= false or f ~= false then c:needs_body("request") end
  local where = c:where(node)
  local forward = pipeline.forward
  -- the options of a literal timeout are made once
  local const_opts = t_const and { timeout = (t and t > 0) and t * 1000 or nil }
  -- without attributes it is the default forward: the native plan's marker
  local native = #(node.attrs or {}) == 0 and plan.FORWARD or nil
  return function(ctx)
    local opts, timeout = const_opts, nil
    if opts then
      timeout = opts.timeout
    else
      local secs = get_timeout(ctx)
      timeout = (secs and secs > 0) and secs * 1000 or nil
      opts = { timeout = timeout }
    end
    local resp = forward(ctx, opts)
    local fol = f
    if not f_const then fol = get_follow(ctx) end
    if fol then resp = follow(ctx, resp, timeout) end
    local fl = fail
    if not fail_const then fl = get_fail(ctx) end
    if fl and resp.status >= 400 and resp.status <= 599 then
      context.fail("BackendError", where .. ": backend answered " .. resp.status
        .. " (fail-on-error-status-code)", resp.status, "forward-request",
        "Backend returned an error status")
    end
  end, native
end

return M
