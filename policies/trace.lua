-- trace.lua - <trace source="x" severity="verbose|information|error">
-- <message>...</message> <metadata name="" value=""/> </trace> (or the older
-- <trace source="x">message text</trace>): one JSON
-- line per trace (pipeline.trace: stderr for now, and the final response's
-- `traces` for C to route to the access log).

local pipeline = require "portico.pipeline"
local compiler = require "portico.compiler"

local to_string = compiler.to_string
local ipairs = ipairs

local M = {}

function M.compile(node, c)
  c:check_attrs(node, { "source", "severity" })
  local get_source, s_const, source = c:attr(node, "source", { required = true })
  local get_sev, _, sev = c:attr(node, "severity", { values = { "verbose", "information", "error" },
    default = "verbose", expr = false })
  if not get_source or not get_sev then return nil end
  local message, ok = nil, true
  local meta_names, meta_values = {}, {}
  -- the older form: the message as the element's own text
  local only_text = #node.children > 0
  for _, ch in ipairs(node.children) do
    if not ch.text then only_text = false end
  end
  if only_text then
    message = c:text(node, { type = "any" })
    if not message then return nil end
  end
  for _, el in ipairs(only_text and {} or (c:elements(node, { "message", "metadata" }))) do
    if el.name == "message" then
      if message then c:error(el, "<trace> has more than one <message>"); ok = false end
      c:check_attrs(el, {})
      message = c:text(el, { type = "any", default = "" }) or false
      if not message then ok = false end
    else
      c:check_attrs(el, { "name", "value" })
      local _, _, n = c:attr(el, "name", { required = true, expr = false })
      local v = c:attr(el, "value", { required = true })
      if n and v then
        meta_names[#meta_names + 1], meta_values[#meta_values + 1] = n, v
      else
        ok = false
      end
    end
  end
  if not ok then return nil end
  if not message then return c:error(node, "<trace>: a <message> is required") end
  return function(ctx)
    local meta
    if #meta_names > 0 then
      meta = {}
      for i = 1, #meta_names do meta[meta_names[i]] = to_string(meta_values[i](ctx)) end
    end
    pipeline.trace(ctx, {
      source = s_const and source or get_source(ctx),
      severity = sev,
      message = to_string(message(ctx)),
      metadata = meta,
    })
  end
end

return M
