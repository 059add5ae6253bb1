-- mock-response.lua - <mock-response status-code="200" content-type="application/json"/>:
-- ends the pipeline with a made-up response. The body is the operation's
-- example for that status (and content type) when its OpenAPI spec gives one
-- (spec.apis[..].operations[..].examples, ENGINE.md), else empty.

local pipeline = require "portico.pipeline"
local context = require "portico.context"

local sort = table.sort
local pairs, tostring = pairs, tostring

local M = {}

M.sections = { "inbound", "outbound", "on-error" }

-- example for status and content type: exact type, else JSON first, else
-- the first type in name order
local function pick(examples, status, ctype)
  local by_type = examples and (examples[tostring(status)] or examples[status])
  if not by_type then return nil end
  if ctype then return by_type[ctype] and ctype, by_type[ctype] end
  if by_type["application/json"] then return "application/json", by_type["application/json"] end
  local types = {}
  for t in pairs(by_type) do types[#types + 1] = t end
  sort(types)
  if types[1] then return types[1], by_type[types[1]] end
  return nil
end

function M.compile(node, c)
  c:check_attrs(node, { "status-code", "content-type" })
  local get_status, s_const, status = c:attr(node, "status-code", { type = "int", default = 200 })
  local get_type, t_const, ctype = c:attr(node, "content-type")
  if not get_status or not get_type then return nil end
  if s_const and (status < 100 or status > 599) then
    return c:error(node, "<mock-response>: status-code %d is not an HTTP status", status)
  end
  return function(ctx)
    local st = s_const and status or get_status(ctx)
    local ct = t_const and ctype or get_type(ctx)
    local op = ctx.info.operation
    local found_type, example = pick(op and op.examples, st, ct)
    local headers = {}
    local t = ct or found_type
    if t then headers[1] = { "Content-Type", t } end
    pipeline.finish(ctx, context.response(st, nil, headers, example or "", false))
  end
end

return M
