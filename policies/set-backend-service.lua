-- set-backend-service.lua - <set-backend-service base-url="..."/> or
-- <set-backend-service backend-id="..."/>: the backend the request goes to.
--
-- APIM's inheritance quirk, kept on purpose: once a broader scope (reached
-- through <base/>) chose a backend by backend-id, a narrower scope can replace
-- it only with another backend-id; its base-url is ignored.
-- Service Fabric (sf-* attributes) is not supported: a load error says so.
-- A backend's credentials, pools and circuit breaker are applied by C when
-- the request is forwarded to it by id.

local context = require "portico.context"
local compiler = require "portico.compiler"
local plan = require "portico.plan"

local find, match, lower = string.find, string.match, string.lower
local pairs, ipairs = pairs, ipairs

local M = {}

M.sections = { "inbound", "backend" }

local function valid_url(u)
  local scheme = match(u, "^(%a[%w+.-]*)://[^/?#]+")
  return scheme and (lower(scheme) == "http" or lower(scheme) == "https")
end

function M.compile(node, c)
  for _, a in ipairs(node.attrs) do
    if find(a.name, "^sf%-") then
      return c:error(a, "<set-backend-service %s>: Service Fabric is not supported (use base-url or "
        .. "backend-id)", a.name)
    end
  end
  c:check_attrs(node, { "base-url", "backend-id" })
  local has_url, has_id = c:attr_entry(node, "base-url"), c:attr_entry(node, "backend-id")
  if has_url and has_id then
    return c:error(node, "<set-backend-service>: give base-url or backend-id, not both")
  end
  if not has_url and not has_id then
    return c:error(node, "<set-backend-service>: base-url or backend-id is required")
  end
  local rank = c.rank or 1
  local where = c:where(node)
  if has_id then
    local get, is_const, id = c:attr(node, "backend-id")
    if not get then return nil end
    local backends = c.spec.backends or {}
    if is_const then
      if not backends[id] then
        local names = {}
        for k in pairs(backends) do names[#names + 1] = k end
        local hint = compiler.closest(id, names)
        return c:error(has_id, "<set-backend-service>: backend '%s' is not defined%s", id,
          hint and (" (did you mean '" .. hint .. "'?)") or " (add it under backends)")
      end
      return function(ctx) ctx.request:set_backend_id(id, rank) end,
        { { op = "backend_id", name = id, rank = rank } }
    end
    return function(ctx)
      local v = get(ctx)
      if not ctx.backends[v] then
        context.fail("ExpressionValueEvaluationFailure", where .. ": backend '" .. v
          .. "' is not defined")
      end
      ctx.request:set_backend_id(v, rank)
    end
  end
  local get, is_const, url = c:attr(node, "base-url")
  if not get then return nil end
  if is_const and not valid_url(url) then
    return c:error(has_url, "<set-backend-service>: base-url '%s' is not an http or https URL", url)
  end
  if is_const then c:note_base_url(has_url, url) end
  local ops = is_const and { { op = "base_url", name = url, rank = rank } } or nil
  return function(ctx)
    local r = ctx.request
    -- the quirk: a backend-id from a broader scope wins over a base-url
    if r.backend_id and r.backend_rank and r.backend_rank < rank then return end
    local u = url
    if not is_const then
      u = get(ctx)
      if not valid_url(u) then
        context.fail("ExpressionValueEvaluationFailure", where .. ": base-url '" .. u
          .. "' is not an http or https URL")
      end
    end
    r:set_backend_url(u, rank)
  end, ops
end

return M
