-- check-header.lua - <check-header name="X" failed-check-httpcode="401"
-- failed-check-error-message="..." ignore-case="true|false"> with optional
-- <value> children: the request must carry the header, and when values are
-- listed every line of it must be one of them; else the request fails with
-- that status and message (reasons HeaderNotFound, HeaderValueNotAllowed).

local compiler = require "portico.compiler"
local context = require "portico.context"
local pipeline = require "portico.pipeline"

local to_string = compiler.to_string
local lower, format = string.lower, string.format
local ipairs, type = ipairs, type

local M = {}

M.sections = { "inbound" }

function M.compile(node, c)
  c:check_attrs(node, { "name", "failed-check-httpcode", "failed-check-error-message", "ignore-case" })
  local get_name, _, name = c:attr(node, "name", { required = true })
  local get_status, s_const, status = c:attr(node, "failed-check-httpcode", { required = true, type = "int" })
  local get_msg, msg_const, msg = c:attr(node, "failed-check-error-message", { required = true })
  local get_ic, ic_const, ic = c:attr(node, "ignore-case", { type = "bool", default = false })
  local ok = get_name and get_status and get_msg and get_ic
  if get_name and name == "" then ok = c:error(node, "<check-header>: name is empty") end
  if s_const and status and (status < 100 or status > 599) then
    ok = c:error(c:attr_entry(node, "failed-check-httpcode"),
      "<check-header failed-check-httpcode>: %d is not an HTTP status", status)
  end
  local values, consts, all_const = {}, {}, true
  local elements, eok = c:elements(node, { "value" })
  for i, v in ipairs(elements) do
    c:check_attrs(v, {})
    local get, is_const, value = c:text(v, { default = "" })
    if not get then ok = false end
    values[i], consts[i] = get, value
    all_const = all_const and is_const
  end
  if not (ok and eok) then return nil end
  local n = #values
  -- all literal and a literal ignore-case: one set, made now
  local set
  if ic_const and all_const then
    set = {}
    for _, v in ipairs(consts) do set[ic and lower(v) or v] = true end
  end
  -- the native plan's op (plan.lua): everything literal
  local native
  if name and s_const and status and msg_const and type(msg) == "string" and ic_const and set then
    local vals = {}
    for i, v in ipairs(consts) do vals[i] = ic and lower(v) or v end
    native = { { op = "check_header", name = name, values = vals, icase = ic or false, status = status,
      body = pipeline.error_body(status, msg) } }
  end
  return function(ctx)
    local hname = name or to_string(get_name(ctx))
    local st = status or get_status(ctx)
    local lines = ctx.request.headers:values(hname)
    if #lines == 0 then
      context.fail("HeaderNotFound", format("Header %s was not found in the request. Access denied.",
        hname), st, nil, to_string(get_msg(ctx)))
    end
    if n == 0 then return end
    local icase = ic
    if not ic_const then icase = get_ic(ctx) end
    local allowed = set
    if not allowed then
      allowed = {}
      for i = 1, n do
        local v = to_string(values[i](ctx))
        allowed[icase and lower(v) or v] = true
      end
    end
    for _, line in ipairs(lines) do
      if not allowed[icase and lower(line) or line] then
        context.fail("HeaderValueNotAllowed", format("Header %s value of %s isn't allowed. "
          .. "Access denied.", hname, line), st, nil, to_string(get_msg(ctx)))
      end
    end
  end, native
end

return M
