-- authentication-basic.lua - <authentication-basic username="..." password="..."/>:
-- the request goes to the backend with "Authorization: Basic base64(user:password)",
-- replacing any Authorization the client sent.

local compiler = require "portico.compiler"

local to_string = compiler.to_string

local M = {}

M.sections = { "inbound" }

local function encode(s)
  local rt = compiler.runtime()
  return rt.base64_encode(s)
end

function M.compile(node, c)
  c:check_attrs(node, { "username", "password" })
  local get_user, u_const, user = c:attr(node, "username", { required = true })
  local get_pass, p_const, pass = c:attr(node, "password", { required = true })
  if not (get_user and get_pass) then return nil end
  if u_const and p_const then
    local value = "Basic " .. encode(user .. ":" .. pass)
    return function(ctx) ctx.request.headers:set("Authorization", value) end
  end
  return function(ctx)
    local v = "Basic " .. encode(to_string(get_user(ctx)) .. ":" .. to_string(get_pass(ctx)))
    ctx.request.headers:set("Authorization", v)
  end
end

return M
