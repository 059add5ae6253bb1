-- set-body.lua - <set-body>text or @(expression)</set-body>: replaces the body
-- of the request (inbound, backend), the response (outbound, on-error) or the
-- response being returned (inside return-response).
--
-- Liquid templates (template="liquid") are not supported: a load error says so.

local compiler = require "portico.compiler"

local to_string = compiler.to_string

local M = {}

local TARGET = {
  request = function(ctx) return ctx.request end,
  response = function(ctx) return ctx.response end,
  ["return"] = function(ctx) return ctx.building end,
}

function M.compile(node, c)
  c:check_attrs(node, { "template", "xsi-nil", "parse-date" })
  local template = c:attr_entry(node, "template")
  if template then
    return c:error(template, "<set-body template=\"%s\">: templates (Liquid) are not supported; "
      .. "use a policy expression @{ ... } instead", template.value)
  end
  local ok = c:attr(node, "xsi-nil", { values = { "blank", "null" }, expr = false })
    and c:attr(node, "parse-date", { type = "bool", expr = false })
  local get, is_const, text = c:text(node, { type = "any", default = "" })
  if not get or not ok then return nil end
  local target = TARGET[c.message]
  if is_const then
    text = to_string(text)
    return function(ctx) target(ctx):set_body(text) end
  end
  return function(ctx)
    local v = get(ctx)
    target(ctx):set_body(v == nil and "" or to_string(v))
  end
end

return M
